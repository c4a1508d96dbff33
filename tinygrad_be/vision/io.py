"""Reading and writing image files as uint8 Tensors (torchvision.io's image functions).

>>> from tinygrad_be.vision.io import read_image, write_png, ImageReadMode
>>> image = read_image("cat.jpg")                     # Tensor (3, H, W) uint8
>>> gray = read_image("cat.jpg", ImageReadMode.GRAY)  # Tensor (1, H, W) uint8 (or mode="GRAY")
>>> write_png(image, "cat.png")                       # and back: read_image("cat.png")

Images are Tensors (C, H, W) uint8, as torchvision returns them: C = 1 (gray), 2 (gray, alpha),
3 (RGB) or 4 (RGB, alpha). Encoded files are Tensors (N,) uint8 of their bytes (`read_file`).

Formats, as torchvision: `decode_image` and `read_image` read PNG, JPEG, GIF and WebP, told apart
by their first bytes. Any other file (BMP, EPS, ...) is refused before Pillow sees it, so none of
Pillow's other decoders runs on it. Decoding is Pillow's (imported only when an image is read or
written), with its decompression-bomb limit left on; numpy then arranges and converts the pixels
to give torchvision's values:
- PNG: UNCHANGED gives the channels stored (a palette PNG gives its palette *indices*, (1, H, W));
  GRAY from colour uses libpng's weights (as torchvision does), RGB repeats a gray channel, and an
  added alpha channel is opaque (255; torchvision 0.28 gives 1, 3 or 15 for 1, 2 or 4-bit gray,
  and scrambled values for a palette without transparency). 16-bit grayscale PNGs give uint16
  tensors, as torchvision; 16-bit colour PNGs are refused (Pillow reads them as 8-bit).
- JPEG: GRAY is the file's own luma (libjpeg decodes only it); GRAY_ALPHA and RGB_ALPHA are
  refused, as torchvision. A CMYK JPEG gives 4 channels with UNCHANGED, as libjpeg stores them.
- GIF: always RGB, mode ignored: (3, H, W), or (N, 3, H, W) for N frames of an animation.
- WebP: RGB or RGBA; GRAY modes warn and give the image's own channels, as torchvision.
Errors are RuntimeError, torchvision's type, naming the function and the file; a missing file
raises `ImageFileNotFoundError`, both a RuntimeError and a FileNotFoundError.

Files are written to a temporary name beside the target and renamed into place when complete.
"""

from __future__ import annotations

import errno
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_be.backend import to_host
from tinygrad_be.tensor import Tensor, from_numpy

__all__ = [
    "ImageReadMode",
    "decode_image",
    "decode_jpeg",
    "decode_png",
    "encode_jpeg",
    "encode_png",
    "read_file",
    "read_image",
    "write_file",
    "write_jpeg",
    "write_png",
]

PathLike = str | os.PathLike


class ImageReadMode(Enum):
    """The channels to decode to; every `mode=` also takes the name as a string, e.g. "RGB".

    UNCHANGED: as stored. GRAY: (1, H, W). GRAY_ALPHA: (2, H, W). RGB: (3, H, W).
    RGB_ALPHA (alias RGBA): (4, H, W).
    """

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = RGB_ALPHA  # an alias: ImageReadMode.RGBA is ImageReadMode.RGB_ALPHA


class ImageFileNotFoundError(FileNotFoundError, RuntimeError):
    """A missing file: caught by `except FileNotFoundError` and, as torchvision's error, by
    `except RuntimeError`."""


# libpng's rgb -> gray weights as torchvision sets them (0.2989, 0.587, and 1 minus both), in
# units of 1/32768: gray = (9794 r + 19234 g + 3740 b) >> 15, truncated.
_LIBPNG_GRAY_WEIGHTS = np.array([9794, 19234, 3740], dtype=np.uint32)
_EXIF_ORIENTATION = 0x0112  # the EXIF tag: 1 is upright, 2..8 are flips and quarter turns


# --------------------------------------------------------------------------------------------------
# Checking arguments
def _read_mode(mode: ImageReadMode | str, op: str) -> ImageReadMode:
    """`mode` as an ImageReadMode; a string is its name, in any case ("rgb", "RGBA")."""
    if isinstance(mode, ImageReadMode):
        return mode
    if isinstance(mode, str):
        try:
            return ImageReadMode[mode.upper()]
        except KeyError:  # torchvision's type for an unknown name
            names = ", ".join(ImageReadMode.__members__)
            raise KeyError(f"{op}: unknown mode {mode!r}; expected one of {names}") from None
    raise TypeError(f"{op}: mode must be an ImageReadMode or its name, got {type(mode).__name__}")


def _check_uint8(tensor: Any, op: str, what: str) -> np.ndarray:
    """The numpy array (on the host) of a uint8 Tensor, else an error naming `op`."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor ({what}), got {type(tensor).__name__}")
    if tensor.dtype != np.uint8:
        raise RuntimeError(f"{op}: expected a uint8 tensor ({what}), got dtype {tensor.dtype}")
    return to_host(tensor._data)


def _encoded_bytes(input: Any, op: str) -> bytes:
    """The bytes of an encoded file given as a Tensor (N,) uint8, N > 0."""
    array = _check_uint8(input, op, "the bytes of an encoded image")
    if array.ndim != 1 or array.size == 0:
        raise RuntimeError(
            f"{op}: expected a non-empty 1-D tensor of encoded bytes, got shape "
            f"{tuple(array.shape)}"
        )
    return array.tobytes()


def _image_pixels(input: Any, op: str) -> np.ndarray:
    """A Tensor (C, H, W) uint8 with C = 1 or 3 as the (H, W) or (H, W, 3) array Pillow takes."""
    array = _check_uint8(input, op, "an image (C, H, W)")
    if array.ndim != 3:
        raise RuntimeError(f"{op}: expected a 3-D tensor (C, H, W), got shape {tuple(array.shape)}")
    channels, height, width = array.shape
    if channels not in (1, 3):
        raise RuntimeError(f"{op}: the number of channels should be 1 or 3, got {channels}")
    if height == 0 or width == 0:
        raise RuntimeError(
            f"{op}: expected an image of at least 1 x 1 pixels, got {height} x {width}"
        )
    pixels = array.transpose(1, 2, 0)
    return np.ascontiguousarray(pixels[:, :, 0] if channels == 1 else pixels)


# --------------------------------------------------------------------------------------------------
# Reading and writing bytes
def _os_error(op: str, path: PathLike, error: OSError) -> RuntimeError:
    """An OSError from reading or writing `path` as torchvision's RuntimeError, naming both."""
    name = os.fspath(path)
    if isinstance(error, FileNotFoundError):
        return ImageFileNotFoundError(errno.ENOENT, f"{op}: no such file or directory", name)
    return RuntimeError(f"{op}: cannot access {name!r}: {error.strerror or error}")


def _read_bytes(path: PathLike, op: str) -> bytes:
    """The whole file at `path` (not empty), or an error naming `op` and the file."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{op}: expected a path (str or pathlib.Path), got {type(path).__name__}")
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise _os_error(op, path, error) from error
    if not data:
        raise RuntimeError(f"{op}: the file {os.fspath(path)!r} is empty")
    return data


def read_file(path: PathLike) -> Tensor:
    """The bytes of the file at `path`: a Tensor (N,) uint8, N > 0 (an empty file is an error)."""
    data = _read_bytes(path, "read_file")
    return from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def _write_bytes(filename: PathLike, data: bytes, op: str) -> None:
    """Write `data` to `filename` atomically; its directory must exist, as for torchvision."""
    from tinygrad_be.viz import _write_atomically

    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(
            f"{op}: expected a path (str or pathlib.Path), got {type(filename).__name__}"
        )
    directory = Path(filename).absolute().parent
    if not directory.is_dir():  # torchvision does not create it; nor do we
        message = f"{op}: the directory {str(directory)!r} does not exist"
        raise ImageFileNotFoundError(errno.ENOENT, message, os.fspath(filename))
    try:
        _write_atomically(filename, lambda name: Path(name).write_bytes(data))
    except OSError as error:
        raise _os_error(op, filename, error) from error


def write_file(filename: PathLike, data: Tensor) -> None:
    """Write a Tensor (N,) uint8 of bytes (e.g. from `encode_png`) to the file `filename`."""
    array = _check_uint8(data, "write_file", "the bytes to write")
    if array.ndim != 1:
        raise RuntimeError(f"write_file: expected a 1-D tensor, got shape {tuple(array.shape)}")
    _write_bytes(filename, array.tobytes(), "write_file")


# --------------------------------------------------------------------------------------------------
# Decoding
def _image_format(data: bytes) -> str | None:
    """The format from the first bytes, by Pillow's name: PNG, JPEG, GIF or WEBP; else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP"
    return None


@contextmanager
def _pillow_errors(op: str, source: str, kind: str) -> Iterator[None]:
    """Turn whatever Pillow raises on bad data (OSError, SyntaxError, ValueError, ...) into a
    RuntimeError naming `op` and `source`."""
    from PIL import Image

    try:
        yield
    except Image.DecompressionBombError as error:
        raise RuntimeError(f"{op}: refused {source}: {error}") from error
    except MemoryError:
        raise
    except Exception as error:
        if isinstance(error, Image.UnidentifiedImageError):  # its text names a BytesIO object
            detail = "Pillow could not identify it"
        else:
            detail = f"{type(error).__name__}: {error}"
        raise RuntimeError(
            f"{op}: cannot decode {source} as {kind}: the file is truncated or corrupt ({detail})"
        ) from error


def _with_alpha(pixels: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """(H, W, C) pixels with an alpha channel after them: `alpha` (H, W, 1), or opaque."""
    if alpha is None:
        alpha = np.full(pixels.shape[:2] + (1,), np.iinfo(pixels.dtype).max, pixels.dtype)
    return np.concatenate([pixels, alpha], axis=2)


def _convert(pixels: np.ndarray, mode: ImageReadMode) -> np.ndarray:
    """Pixels (H, W, C) as stored (C = 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA) in `mode`, as
    libpng converts them for torchvision: gray from RGB with libpng's weights, an alpha channel
    dropped or added (opaque), gray repeated into R, G and B."""
    channels = pixels.shape[2]
    if mode is ImageReadMode.UNCHANGED:
        return pixels
    alpha = pixels[:, :, -1:] if channels in (2, 4) else None
    if mode in (ImageReadMode.GRAY, ImageReadMode.GRAY_ALPHA):
        if channels >= 3:
            weighted = pixels[:, :, :3].astype(np.uint32) @ _LIBPNG_GRAY_WEIGHTS
            gray = (weighted >> 15).astype(pixels.dtype)[:, :, None]
        else:
            gray = pixels[:, :, :1]
        return gray if mode is ImageReadMode.GRAY else _with_alpha(gray, alpha)
    rgb = pixels[:, :, :3] if channels >= 3 else np.repeat(pixels[:, :, :1], 3, axis=2)
    return rgb if mode is ImageReadMode.RGB else _with_alpha(rgb, alpha)


def _as_hwc(image: Any) -> np.ndarray:
    """A loaded Pillow image as an array (H, W, C)."""
    pixels = np.asarray(image)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def _png_pixels(image: Any, mode: ImageReadMode) -> np.ndarray:
    """A loaded PNG (Pillow modes 1, L, LA, P, RGB, RGBA, I;16) as (H, W, C) in `mode`."""
    if image.mode == "P":
        if mode is ImageReadMode.UNCHANGED:
            return _as_hwc(image)  # the palette indices, (H, W, 1), as torchvision gives them
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "1":
        image = image.convert("L")  # 1-bit: 0 and 255
    pixels = _as_hwc(image)
    if image.mode.startswith("I"):  # 16-bit gray: "I;16" ("I" in old Pillow)
        pixels = pixels.astype(np.uint16)
    return _convert(pixels, mode)


def _jpeg_pixels(image: Any, mode: ImageReadMode) -> np.ndarray:
    """A loaded JPEG (Pillow modes L, RGB, CMYK) as (H, W, C) in UNCHANGED, GRAY or RGB."""
    if image.mode == "CMYK":
        if mode is ImageReadMode.UNCHANGED:
            return 255 - _as_hwc(image)  # Pillow inverts Adobe CMYK; libjpeg gives it as stored
        image = image.convert("RGB")
    if mode is ImageReadMode.GRAY and image.mode != "L":
        image = image.convert("L")  # CMYK, or an RGB file that could not be decoded as luma
    pixels = _as_hwc(image)
    return _convert(pixels, mode)


def _webp_pixels(image: Any, mode: ImageReadMode, op: str) -> np.ndarray:
    """A loaded WebP (RGB or RGBA) as (H, W, C): GRAY modes give it unchanged, as torchvision."""
    pixels = _as_hwc(image.convert("RGBA" if "A" in image.mode else "RGB"))
    if mode in (ImageReadMode.GRAY, ImageReadMode.GRAY_ALPHA):
        warnings.warn(
            f"{op}: WebP has no grayscale conversion; the image keeps its own channels "
            "(as torchvision)",
            stacklevel=4,  # the caller of read_image / decode_image
        )
        return pixels
    return _convert(pixels, mode)


def _gif_frames(image: Any, op: str, source: str) -> np.ndarray:
    """Every frame of a GIF, RGB: (3, H, W) for one frame, (N, 3, H, W) for N."""
    frames = []
    with _pillow_errors(op, source, "GIF"):
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB")))
    if len(frames) == 1:
        return frames[0].transpose(2, 0, 1).copy()
    return np.stack(frames).transpose(0, 3, 1, 2).copy()


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Pixels (H, W, C) turned upright by the EXIF orientation (1 to 8; others: unchanged)."""
    if orientation in (5, 6, 7, 8):
        pixels = pixels.transpose(1, 0, 2)  # a quarter turn is a transpose and a flip
    if orientation in (2, 3, 6, 7):
        pixels = pixels[:, ::-1]  # flip left-right
    if orientation in (3, 4, 7, 8):
        pixels = pixels[::-1]  # flip top-bottom
    return pixels


def _is_16_bit_colour_png(data: bytes) -> bool:
    """A PNG's first chunk, IHDR, has its bit depth at byte 24 and colour type at 25 (0: gray)."""
    return data[12:16] == b"IHDR" and len(data) > 25 and data[24] == 16 and data[25] != 0


def _decode(
    data: bytes,
    mode: ImageReadMode | str,
    apply_exif_orientation: bool,
    op: str,
    source: str,
    expect: str | None = None,
) -> Tensor:
    """Decode the encoded image `data`: a Tensor (C, H, W) uint8 (uint16 for a 16-bit gray PNG;
    a GIF animation: (N, 3, H, W)). `source` names the file in errors; `expect` is the only
    format accepted ("PNG", "JPEG"), or None for any of the four."""
    from PIL import Image

    mode = _read_mode(mode, op)
    kind = _image_format(data)
    if kind is None or (expect is not None and kind != expect):
        wanted = f"a {expect} file" if expect else "a PNG, JPEG, GIF or WebP image"
        raise RuntimeError(f"{op}: {source} is not {wanted} (it starts with {data[:8]!r})")
    if kind == "JPEG" and mode in (ImageReadMode.GRAY_ALPHA, ImageReadMode.RGB_ALPHA):
        raise RuntimeError(f"{op}: mode {mode.name} is not supported for JPEG files ({source})")
    if kind == "PNG" and _is_16_bit_colour_png(data):
        raise RuntimeError(
            f"{op}: {source} is a 16-bit colour PNG; only 16-bit grayscale PNGs are supported"
        )
    with _pillow_errors(op, source, kind):
        image = Image.open(BytesIO(data), formats=[kind])  # no other decoder sees the data
        if kind == "JPEG" and mode is ImageReadMode.GRAY and image.mode == "RGB":
            image.draft("L", None)  # libjpeg decodes only the luma, as for torchvision
        image.load()
    if kind == "GIF":
        return from_numpy(_gif_frames(image, op, source))
    if kind == "PNG":
        pixels = _png_pixels(image, mode)
    elif kind == "JPEG":
        pixels = _jpeg_pixels(image, mode)
    else:
        pixels = _webp_pixels(image, mode, op)
    if apply_exif_orientation and kind in ("PNG", "JPEG"):
        with _pillow_errors(op, source, kind):
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        pixels = _orient(pixels, orientation)
    return from_numpy(pixels.transpose(2, 0, 1).copy())


def _tensor_source(data: bytes) -> str:
    """How errors name encoded bytes that came as a Tensor, not from a file."""
    return f"the given tensor of {len(data)} bytes"


def decode_image(
    input: Tensor | PathLike,
    mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
    apply_exif_orientation: bool = False,
) -> Tensor:
    """Decode a PNG, JPEG, GIF or WebP image: a Tensor (C, H, W) uint8 (see the module's notes).

    input: the encoded bytes, a Tensor (N,) uint8 (e.g. from `read_file`), or a path to read.
    mode: the channels to return (an ImageReadMode or its name). apply_exif_orientation: turn a
    JPEG or PNG upright by its EXIF orientation tag (H and W swap for a quarter turn).
    """
    if isinstance(input, Tensor):
        data = _encoded_bytes(input, "decode_image")
        source = _tensor_source(data)
    elif isinstance(input, (str, os.PathLike)):
        data, source = _read_bytes(input, "decode_image"), repr(os.fspath(input))
    else:
        raise TypeError(
            f"decode_image: expected a uint8 Tensor of encoded bytes or a path, got "
            f"{type(input).__name__}"
        )
    return _decode(data, mode, apply_exif_orientation, "decode_image", source)


def read_image(
    path: PathLike,
    mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
    apply_exif_orientation: bool = False,
) -> Tensor:
    """Read the image file at `path`: a Tensor (C, H, W) uint8, as `decode_image(path, ...)`."""
    data = _read_bytes(path, "read_image")
    return _decode(data, mode, apply_exif_orientation, "read_image", repr(os.fspath(path)))


def decode_png(
    input: Tensor,
    mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
    apply_exif_orientation: bool = False,
) -> Tensor:
    """Decode a PNG from its bytes (a Tensor (N,) uint8): a Tensor (C, H, W), uint8, or uint16
    for a 16-bit grayscale PNG. Anything but a PNG is refused."""
    data = _encoded_bytes(input, "decode_png")
    return _decode(data, mode, apply_exif_orientation, "decode_png", _tensor_source(data), "PNG")


def decode_jpeg(
    input: Tensor | list[Tensor],
    mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
    device: Any = "cpu",
    apply_exif_orientation: bool = False,
) -> Tensor | list[Tensor]:
    """Decode a JPEG from its bytes (a Tensor (N,) uint8): a Tensor (C, H, W) uint8, C = 1 or 3
    (4 for CMYK with UNCHANGED); a list of byte tensors gives a list. The decoding is on the CPU;
    `device` is where the result goes. Modes: UNCHANGED, GRAY or RGB."""
    if isinstance(input, list):
        if not input:
            raise ValueError("decode_jpeg: the input list must contain at least one element")
        return [_decode_one_jpeg(one, mode, device, apply_exif_orientation) for one in input]
    return _decode_one_jpeg(input, mode, device, apply_exif_orientation)


def _decode_one_jpeg(
    input: Tensor, mode: ImageReadMode | str, device: Any, apply_exif_orientation: bool
) -> Tensor:
    data = _encoded_bytes(input, "decode_jpeg")
    image = _decode(data, mode, apply_exif_orientation, "decode_jpeg", _tensor_source(data), "JPEG")
    return image.to(device)


# --------------------------------------------------------------------------------------------------
# Encoding
def _encode(pixels: np.ndarray, format: str, **options: Any) -> Tensor:
    """Pixels (H, W) or (H, W, 3) uint8 encoded by Pillow: the file's bytes, Tensor (N,) uint8."""
    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(pixels).save(buffer, format=format, **options)
    return from_numpy(np.frombuffer(buffer.getvalue(), dtype=np.uint8).copy())


def _png(input: Tensor, compression_level: int, op: str) -> Tensor:
    pixels = _image_pixels(input, op)
    if not isinstance(compression_level, int) or not 0 <= compression_level <= 9:
        raise RuntimeError(
            f"{op}: compression level should be between 0 and 9, got {compression_level!r}"
        )
    return _encode(pixels, "PNG", compress_level=compression_level)


def _jpeg(input: Tensor, quality: int, op: str) -> Tensor:
    if not isinstance(quality, int) or not 1 <= quality <= 100:  # torchvision's ValueError
        raise ValueError(
            f"{op}: image quality should be a number between 1 and 100, got {quality!r}"
        )
    return _encode(_image_pixels(input, op), "JPEG", quality=quality)


def encode_png(input: Tensor, compression_level: int = 6) -> Tensor:
    """A Tensor (C, H, W) uint8, C = 1 or 3, as PNG file bytes: a Tensor (N,) uint8.
    compression_level: zlib's, 0 (none) to 9 (smallest); the pixels are the same."""
    return _png(input, compression_level, "encode_png")


def write_png(input: Tensor, filename: PathLike, compression_level: int = 6) -> None:
    """Save a Tensor (C, H, W) uint8, C = 1 or 3, as the PNG file `filename` (see encode_png)."""
    op = f"write_png({os.fspath(filename)!r})"
    _write_bytes(filename, _png(input, compression_level, op).numpy().tobytes(), op)


def encode_jpeg(input: Tensor | list[Tensor], quality: int = 75) -> Tensor | list[Tensor]:
    """A Tensor (C, H, W) uint8, C = 1 or 3, as JPEG file bytes: a Tensor (N,) uint8 (a list of
    images gives a list). quality: 1 to 100; JPEG is lossy, so decoding gives close values."""
    if isinstance(input, list):
        if not input:
            raise ValueError("encode_jpeg: the input list must contain at least one image")
        return [_jpeg(image, quality, "encode_jpeg") for image in input]
    return _jpeg(input, quality, "encode_jpeg")


def write_jpeg(input: Tensor, filename: PathLike, quality: int = 75) -> None:
    """Save a Tensor (C, H, W) uint8, C = 1 or 3, as the JPEG file `filename` (see encode_jpeg)."""
    op = f"write_jpeg({os.fspath(filename)!r})"
    _write_bytes(filename, _jpeg(input, quality, op).numpy().tobytes(), op)
