"""Per-image transforms with torchvision's names and semantics (`torchvision.transforms`).

>>> from tinygrad_be.vision import transforms
>>> transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
>>> x = transform(image)          # image: (32, 32, 3) uint8 array -> Tensor (3, 32, 32) float32

Images come in two forms, as in torchvision:
- an *image* as our datasets give it: a numpy array (H, W, C) or (H, W), uint8 — where
  torchvision gives a PIL image (a PIL image is accepted too and read with `np.asarray`);
- a *tensor image*: a Tensor (..., C, H, W), what `ToTensor` returns.
Geometric transforms (`RandomHorizontalFlip`, `RandomCrop`, `CenterCrop`, `Pad`) take either and
return the same form. Random transforms draw from the library's default generator, so
`tinygrad_be.manual_seed(s)` repeats them (torchvision draws from torch's global generator).
They work on the data (numpy), not on the autograd graph. `Resize` is not here: matching PIL's
antialiased resampling exactly is not cheap.

For whole batches at once (the fast CIFAR-10 recipes), see `tinygrad_be.transforms`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_be import rng as _rng
from tinygrad_be.tensor import Tensor, from_numpy

__all__ = [
    "CenterCrop",
    "Compose",
    "Lambda",
    "Normalize",
    "Pad",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "ToTensor",
]


class Compose:
    """Apply `transforms` one after the other."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for transform in self.transforms:
            img = transform(img)
        return img

    def __repr__(self) -> str:
        lines = "".join(f"\n    {transform}" for transform in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class Lambda:
    """A transform made of any function `lambd(img)`."""

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# --------------------------------------------------------------------------------------------------
# Images as arrays
def _as_image(img: Any, name: str) -> np.ndarray:
    """An image (H, W) or (H, W, C) as a numpy array; PIL images are read with np.asarray."""
    if hasattr(img, "getbands") and hasattr(img, "mode"):  # a PIL image
        img = np.asarray(img)
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name}: img should be a numpy image (H, W, C) or a Tensor image "
                        f"(..., C, H, W). Got {type(img)}")  # fmt: skip
    if img.ndim not in (2, 3):
        raise ValueError(f"{name}: a numpy image should be 2/3 dimensional (H, W[, C]). Got "
                         f"{img.ndim} dimensions, shape {img.shape}.")  # fmt: skip
    return img


def _planes(img: Any, name: str) -> tuple[np.ndarray, bool]:
    """(array, channels_last): the image's pixels and whether H, W are axes 0, 1 (a numpy image)
    or the last two axes (a Tensor image)."""
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise ValueError(f"{name}: a tensor image needs at least 2 dimensions (..., H, W), got "
                             f"shape {tuple(img.shape)}")  # fmt: skip
        return img._data, False
    return _as_image(img, name), True


def _same_form(array: np.ndarray, like: Any) -> Any:
    return from_numpy(array) if isinstance(like, Tensor) else array


def _size(array: np.ndarray, channels_last: bool) -> tuple[int, int]:
    return array.shape[:2] if channels_last else array.shape[-2:]


class ToTensor:
    """Image (H, W, C) or (H, W) -> Tensor (C, H, W); uint8 values 0..255 become float32 in [0, 1].

    As torchvision's ToTensor on a numpy array: other dtypes keep their dtype and values (only
    the axes move); a 2-D image gets one channel. (torchvision mostly sees PIL images, which are
    uint8; here our datasets give numpy images.)
    """

    def __call__(self, pic: Any) -> Tensor:
        if isinstance(pic, Tensor):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
        pic = _as_image(pic, "ToTensor")
        if pic.ndim == 2:
            pic = pic[:, :, None]
        chw = pic.transpose(2, 0, 1)
        if pic.dtype == np.uint8:  # pixel / 255 in float32, written straight into (C, H, W) order
            return from_numpy(np.divide(chw, np.float32(255), out=np.empty(chw.shape, np.float32)))
        return from_numpy(np.ascontiguousarray(chw))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normalize:
    """Tensor image (..., C, H, W) -> (x - mean[c]) / std[c] per channel c, in the tensor's dtype.

    mean, std: one value per channel (sequences of C numbers). inplace: write into the input's
    array instead of a new one. As torchvision: float tensors only, std must not be 0.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace
        self._arrays: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}  # by the images' dtype

    def _mean_std(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """mean and std as (C, 1, 1) arrays of `dtype`, checked and made once per dtype."""
        if dtype not in self._arrays:
            mean = np.asarray(self.mean, dtype=dtype).reshape(-1, 1, 1)
            std = np.asarray(self.std, dtype=dtype).reshape(-1, 1, 1)
            if (std == 0).any():
                raise ValueError(f"std evaluated to zero after conversion to {dtype}, leading to "
                                 "division by zero.")  # fmt: skip
            self._arrays[dtype] = mean, std
        return self._arrays[dtype]

    def __call__(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
        x = tensor._data
        if x.dtype.kind != "f":
            raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
        if x.ndim < 3:
            raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got "
                             f"tensor.size() = {tuple(x.shape)}")  # fmt: skip
        mean, std = self._mean_std(x.dtype)
        if len(mean) not in (1, x.shape[-3]) or len(std) not in (1, x.shape[-3]):
            raise ValueError(f"Normalize: {len(mean)} means and {len(std)} stds for a tensor "
                             f"image of {x.shape[-3]} channels, shape {tuple(x.shape)}")  # fmt: skip
        if self.inplace:
            np.subtract(x, mean, out=x)
            np.divide(x, std, out=x)
            tensor._mark_written()
            return tensor
        return from_numpy((x - mean) / std)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


# --------------------------------------------------------------------------------------------------
# Flips
class RandomHorizontalFlip:
    """Mirror the image left-right with probability p (for a numpy image: axis 1, the width)."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        if _rng.default_generator().random() < self.p:
            array, channels_last = _planes(img, type(self).__name__)
            flipped = array[:, ::-1] if channels_last else array[..., ::-1]
            return _same_form(np.ascontiguousarray(flipped), img)
        return img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror the image upside down with probability p."""

    def __call__(self, img: Any) -> Any:
        if _rng.default_generator().random() < self.p:
            array, channels_last = _planes(img, type(self).__name__)
            flipped = array[::-1] if channels_last else array[..., ::-1, :]
            return _same_form(np.ascontiguousarray(flipped), img)
        return img


# --------------------------------------------------------------------------------------------------
# Padding and crops
def _pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    """An int s -> (s, s); a sequence (s,) -> (s, s); (h, w) -> (h, w)."""
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{name}: please provide only two dimensions (h, w) for size, got {size!r}")


def _padding(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """torchvision's padding forms -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Number):
        p = int(padding)
        return p, p, p, p
    padding = [int(p) for p in padding]
    if len(padding) == 1:
        return (padding[0],) * 4
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    if len(padding) == 4:
        return padding[0], padding[1], padding[2], padding[3]
    raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a "
                     f"{len(padding)} element tuple")  # fmt: skip


_PADDING_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
                  "symmetric": "symmetric"}  # fmt: skip


def pad(img: Any, padding: int | Sequence[int], fill: float | Sequence[float] = 0,
        padding_mode: str = "constant") -> Any:  # fmt: skip
    """The image with `padding` pixels added around it, as torchvision.transforms.functional.pad.

    padding: int (all sides), (left/right, top/bottom) or (left, top, right, bottom).
    padding_mode: "constant" (the value `fill`, a number or one per channel), "edge" (the last
    value repeated), "reflect" (mirrored without repeating the edge), "symmetric" (with it).
    """
    if padding_mode not in _PADDING_MODES:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric, "
                         f"got {padding_mode!r}")  # fmt: skip
    array, channels_last = _planes(img, "pad")
    left, top, right, bottom = _padding(padding)
    if min(left, top, right, bottom) < 0:
        raise ValueError(f"pad: negative padding {padding} is not supported")
    widths = [(0, 0)] * array.ndim
    h_axis = 0 if channels_last else array.ndim - 2
    widths[h_axis], widths[h_axis + 1] = (top, bottom), (left, right)
    if padding_mode != "constant":
        return _same_form(np.pad(array, widths, mode=_PADDING_MODES[padding_mode]), img)
    fill_values = np.asarray(fill, dtype=array.dtype)
    if fill_values.ndim == 0:
        return _same_form(np.pad(array, widths, constant_values=fill_values), img)
    # One fill value per channel: start from the fill everywhere, then place the image.
    channel_axis = 2 if channels_last else array.ndim - 3
    shape = [n + a + b for n, (a, b) in zip(array.shape, widths, strict=True)]
    view = [1] * array.ndim
    view[channel_axis] = -1
    padded = np.empty(shape, dtype=array.dtype)
    padded[...] = fill_values.reshape(view)
    inside = tuple(slice(a, a + n) for n, (a, _) in zip(array.shape, widths, strict=True))
    padded[inside] = array
    return _same_form(padded, img)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The (height, width) window of the image whose top-left pixel is (top, left)."""
    array, channels_last = _planes(img, "crop")
    rows, cols = slice(top, top + height), slice(left, left + width)
    window = array[rows, cols] if channels_last else array[..., rows, cols]
    return _same_form(np.ascontiguousarray(window), img)


class Pad:
    """Pad the image on all sides (see `pad`)."""

    def __init__(self, padding: int | Sequence[int], fill: float | Sequence[float] = 0,
                 padding_mode: str = "constant") -> None:  # fmt: skip
        _padding(padding)
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img: Any) -> Any:
        return pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(padding={self.padding}, fill={self.fill}, "
                f"padding_mode={self.padding_mode})")  # fmt: skip


class CenterCrop:
    """The central (h, w) window (rounded as torchvision: top = round((H - h) / 2))."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _pair(size, "CenterCrop")

    def __call__(self, img: Any) -> Any:
        array, channels_last = _planes(img, "CenterCrop")
        height, width = _size(array, channels_last)
        th, tw = self.size
        if th > height or tw > width:  # torchvision pads with zeros first
            padding = [(tw - width) // 2 if tw > width else 0, (th - height) // 2 if th > height else 0,
                       (tw - width + 1) // 2 if tw > width else 0,
                       (th - height + 1) // 2 if th > height else 0]  # fmt: skip
            img = pad(img, padding)
            array, channels_last = _planes(img, "CenterCrop")
            height, width = _size(array, channels_last)
            if th == height and tw == width:
                return img
        top, left = int(round((height - th) / 2.0)), int(round((width - tw) / 2.0))
        return crop(img, top, left, th, tw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class RandomCrop:
    """A random (h, w) window of the image, after optional padding (torchvision's RandomCrop).

    size: int or (h, w). padding: added first (see `pad`); pad_if_needed: pad an image smaller
    than `size` (as torchvision, by size - width on the left AND right, size - height on top and
    bottom). fill, padding_mode: as `pad`. The window's top row then its left column are drawn
    uniformly from the default generator.
    """

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, fill: float | Sequence[float] = 0,
                 padding_mode: str = "constant") -> None:  # fmt: skip
        self.size = _pair(size, "RandomCrop")
        if padding is not None:
            _padding(padding)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(top, left, height, width) of a random window of `output_size`."""
        array, channels_last = _planes(img, "RandomCrop")
        h, w = _size(array, channels_last)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")  # fmt: skip
        if w == tw and h == th:
            return 0, 0, h, w
        generator = _rng.default_generator()
        top = int(generator.integers(0, h - th + 1))
        left = int(generator.integers(0, w - tw + 1))
        return top, left, th, tw

    def __call__(self, img: Any) -> Any:
        if self.padding is not None:
            img = pad(img, self.padding, self.fill, self.padding_mode)
        array, channels_last = _planes(img, "RandomCrop")
        height, width = _size(array, channels_last)
        if self.pad_if_needed and width < self.size[1]:
            img = pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        return crop(img, *self.get_params(img, self.size))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"
