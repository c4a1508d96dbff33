"""The idx file format of MNIST and Fashion-MNIST, read safely.

An idx file is a 4-byte magic number, then one 4-byte size per dimension, then the values:

    bytes 0-1  zero
    byte  2    the type of the values: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
               0x0D float32, 0x0E float64 (multi-byte values are big-endian)
    byte  3    the number of dimensions d
    then       d sizes, each a big-endian uint32, then prod(sizes) values, row-major

>>> images = read_idx("train-images-idx3-ubyte.gz")    # uint8 (60000, 28, 28)

Everything is checked before an array is made: the magic number, the type, the sizes against a
limit, and that the file holds exactly the values its sizes announce (a truncated file or one
with bytes left over is refused). Gzip files (`.gz`) are decompressed as a stream, chunk by chunk,
so a file claiming huge sizes is refused without allocating them.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["IDX_DTYPES", "read_idx", "write_idx"]

IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_BYTES = 1 << 31  # far above MNIST's 47 MB: a bigger claim is a corrupt or hostile header
_CHUNK = 1 << 20


def _read_exactly(file: BinaryIO, count: int) -> bytes:
    """`count` bytes, read chunk by chunk (fewer if the file ends first)."""
    parts, remaining = [], count
    while remaining > 0:
        chunk = file.read(min(remaining, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def read_idx(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """The array stored in the idx file `path` (gzip-compressed if its name ends in .gz), in its
    own dtype (native byte order) and shape. ValueError naming the file if it is not a valid idx
    file: bad magic number, unknown type, sizes over `max_bytes`, truncated or too long."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            magic = _read_exactly(file, 4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
                raise ValueError(f"bad magic number {magic.hex()!r}: an idx file starts with two "
                                 "zero bytes, a type byte and a dimension count")  # fmt: skip
            code, ndim = magic[2], magic[3]
            if code not in IDX_DTYPES:
                raise ValueError(f"unknown value type 0x{code:02X} (known: "
                                 f"{', '.join(f'0x{c:02X}' for c in IDX_DTYPES)})")  # fmt: skip
            header = _read_exactly(file, 4 * ndim)
            if len(header) < 4 * ndim:
                raise ValueError(f"truncated header: {ndim} sizes announced, file ends after "
                                 f"{len(header) // 4}")  # fmt: skip
            shape = tuple(int(s) for s in np.frombuffer(header, dtype=">u4"))
            dtype = IDX_DTYPES[code]
            size = math.prod(shape) * dtype.itemsize
            if size > max_bytes:
                raise ValueError(f"sizes {shape} of {dtype} need {size:,} bytes, over the limit "
                                 f"of {max_bytes:,}")  # fmt: skip
            body = _read_exactly(file, size)
            if len(body) < size:
                raise ValueError(f"truncated: sizes {shape} of {dtype} need {size:,} bytes of "
                                 f"values, the file holds {len(body):,}")  # fmt: skip
            if file.read(1):
                raise ValueError(f"{shape} of {dtype} take {size:,} bytes, but more follow")
    except (OSError, EOFError, zlib.error) as error:  # e.g. gzip.BadGzipFile, a cut-off stream
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable idx file ({type(error).__name__}: {error})") \
            from error  # fmt: skip
    except ValueError as error:
        raise ValueError(f"{path}: not a valid idx file: {error}") from None
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write `array` as an idx file (gzip-compressed if the name ends in .gz); for tests and for
    making small data sets in MNIST's format."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("=").str: code for code, dtype in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("=").str)
    if code is None or array.ndim > 255:
        raise ValueError(f"write_idx: cannot store {array.dtype} arrays of {array.ndim} dims")
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    data = header + array.astype(IDX_DTYPES[code], copy=False).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path
