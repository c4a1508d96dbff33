"""A grid of images, and saving it as a picture (torchvision.utils' `make_grid` and `save_image`).

>>> from tinygrad_be.vision.utils import make_grid, save_image
>>> grid = make_grid(images, nrow=8, padding=2)       # images (B, C, H, W) -> Tensor (3, H', W')
>>> save_image(images, "batch.png", normalize=True)    # the same grid, as a PNG file

`tile_images` is the numpy step both use, and so does `tinygrad_be.viz.image_grid`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_be.tensor import Tensor, from_numpy

__all__ = ["make_grid", "save_image", "tile_images"]


def tile_images(images: np.ndarray, nrow: int, padding: int, pad_value: float) -> np.ndarray:
    """Images (B, C, H, W) -> one array (C, rows * (H + padding) + padding, ncols * (W + padding)
    + padding), `nrow` images per row, `padding` pixels of `pad_value` around each image; cells
    left over in the last row are `pad_value` too. No loop over images: pad, reshape, transpose.
    """
    n, c, h, w = images.shape
    ncols = min(nrow, n)
    nrows = math.ceil(n / ncols)
    cells = np.full((nrows * ncols, c, h + padding, w + padding), pad_value, dtype=images.dtype)
    cells[:n, :, padding:, padding:] = images  # each cell: padding on its top and left
    grid = cells.reshape(nrows, ncols, c, h + padding, w + padding).transpose(2, 0, 3, 1, 4)
    grid = grid.reshape(c, nrows * (h + padding), ncols * (w + padding))
    return np.pad(grid, ((0, 0), (0, padding), (0, padding)), constant_values=pad_value)


def make_grid(
    tensor: Tensor | list[Tensor],
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Tensor:
    """A grid of images, as torchvision.utils.make_grid.

    tensor: (B, C, H, W), a list of (C, H, W), or one image (C, H, W) or (H, W); one channel is
    repeated to three. nrow: images per row. normalize: map value_range (default each grid's, or
    with scale_each each image's, min..max) to [0, 1], clamping outside it. Returns a Tensor
    (3 or C, H', W'); a single image comes back as it is (after normalize).
    """
    if isinstance(tensor, list):
        if not all(isinstance(t, Tensor) for t in tensor):
            raise TypeError(f"tensor or list of tensors expected, got a list of "
                            f"{sorted({type(t).__name__ for t in tensor})}")  # fmt: skip
        images = np.stack([t._data for t in tensor])
    elif isinstance(tensor, Tensor):
        images = tensor._data
    else:
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if images.ndim == 2:  # one image (H, W)
        images = images[None]
    if images.ndim == 3:  # one image (C, H, W)
        if images.shape[0] == 1:
            images = np.concatenate([images] * 3)
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"make_grid: expected (B, C, H, W) images, got shape {images.shape}")
    if images.shape[1] == 1:  # one channel: grey in all three
        images = np.concatenate([images] * 3, axis=1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max "
                            "are numbers")  # fmt: skip
        images = images.astype(images.dtype if images.dtype.kind == "f" else np.float32)
        axes = (1, 2, 3) if scale_each else None
        if value_range is not None:
            low = np.asarray(value_range[0], images.dtype)
            high = np.asarray(value_range[1], images.dtype)
        else:
            low = images.min(axis=axes, keepdims=True)
            high = images.max(axis=axes, keepdims=True)
        images = (np.clip(images, low, high) - low) / np.maximum(high - low, 1e-5)
    if len(images) == 1:
        return from_numpy(np.ascontiguousarray(images[0]))
    return from_numpy(tile_images(images, int(nrow), int(padding), pad_value))


def to_uint8_image(grid: np.ndarray) -> np.ndarray:
    """(C, H, W) values in [0, 1] -> (H, W, C) uint8, rounded as torchvision (x * 255 + 0.5,
    clamped, truncated)."""
    scaled = np.clip(grid * np.float32(255) + np.float32(0.5), 0, 255)
    return scaled.transpose(1, 2, 0).astype(np.uint8)


def save_image(
    tensor: Tensor | list[Tensor], fp: str | os.PathLike, format: str | None = None, **kwargs: Any
) -> None:
    """Save `make_grid(tensor, **kwargs)` as a picture (values in [0, 1]), as torchvision's.

    format: e.g. "png" (default: from the file name's suffix). The file is written to a
    temporary name beside `fp` and renamed into place when complete.
    """
    from PIL import Image  # pillow comes with matplotlib

    from tinygrad_be.viz import _write_atomically

    pixels = to_uint8_image(make_grid(tensor, **kwargs)._data)
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if format is None:
        suffix = Path(fp).suffix.lower()
        format = Image.registered_extensions().get(suffix)
        if format is None:
            raise ValueError(f"save_image: unknown image format {suffix!r} of {fp}; pass format=")
    image = Image.fromarray(pixels)
    _write_atomically(fp, lambda name: image.save(name, format=format))
