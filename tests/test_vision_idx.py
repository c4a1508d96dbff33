"""tinygrad_be.vision.idx: the idx format on generated files, and corrupt files refused."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from tinygrad_be.vision.idx import read_idx, write_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(24) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / f"a-idx3-ubyte{suffix}", array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 1  # a writable array of its own


def test_the_bytes_are_the_documented_layout(tmp_path):
    path = write_idx(tmp_path / "labels-idx1-ubyte", np.array([7, 2, 1], np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])
    big = write_idx(tmp_path / "i32", np.array([1, -2], np.int32))
    assert big.read_bytes()[8:] == bytes([0, 0, 0, 1, 255, 255, 255, 254])  # big-endian


def header(code: int, *shape: int) -> bytes:
    return bytes([0, 0, code, len(shape)]) + np.array(shape, ">u4").tobytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "bad magic number"),
        (bytes([1, 0, 8, 1]) + bytes(7), "bad magic number"),
        (bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 5]), "unknown value type 0x42"),
        (header(8, 2, 3)[:10], "truncated header"),
        (header(8, 2, 3) + bytes(5), "truncated: sizes \\(2, 3\\)"),
        (header(8, 2, 3) + bytes(7), "more follow"),
        (header(8, 65535, 65535, 65535), "over the limit"),
    ],
)
@pytest.mark.parametrize("compressed", [False, True])
def test_corrupt_files_are_refused_naming_the_file(tmp_path, content, message, compressed):
    path = tmp_path / ("bad.gz" if compressed else "bad")
    path.write_bytes(gzip.compress(content) if compressed else content)
    with pytest.raises(ValueError, match=message) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_a_cut_off_gzip_stream_is_refused(tmp_path):
    whole = gzip.compress(header(8, 100) + bytes(range(100)))
    path = tmp_path / "cut.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="cut.gz"):
        read_idx(path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="not a readable idx file"):
        read_idx(path)
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing.gz")
