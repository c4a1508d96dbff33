"""tinygrad_be.vision.io: images read as torchvision.io reads them, written and read back, and bad
files refused.

The images are made here, with Pillow, from seeded arrays. The expected values of conversions (the
literals below) are what torchvision 0.28 returned for the same files.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tinygrad_be
from tinygrad_be import Tensor
from tinygrad_be.vision.io import (
    ImageFileNotFoundError,
    ImageReadMode,
    decode_image,
    decode_jpeg,
    decode_png,
    encode_jpeg,
    encode_png,
    read_file,
    read_image,
    write_file,
    write_jpeg,
    write_png,
)

# --------------------------------------------------------------------------------------------------
# The test images (H, W, C) and their files
RGB = np.random.default_rng(1).integers(0, 256, (3, 4, 3), dtype=np.uint8)
RGBA = np.random.default_rng(2).integers(0, 256, (3, 4, 4), dtype=np.uint8)
GRAY16 = np.random.default_rng(3).integers(0, 65536, (3, 4)).astype(np.uint16)
INDICES = np.array([[0, 1, 2, 3], [3, 2, 1, 0], [1, 1, 2, 19]], np.uint8)
# 20 colours, so the PNG is an 8-bit palette: red, green, blue, (10, 20, 30), then 16 grays of 40
PALETTE = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30] + [40] * 3 * 16
PALETTE_ALPHA = bytes([255, 128, 0, 64] + [200] * 16)  # tRNS: an alpha for each colour
# a smooth picture for JPEG (lossy): red grows to the right, green downwards
_Y, _X = np.mgrid[0:16, 0:16]
SMOOTH = np.stack([_X * 16, _Y * 16, 255 - (_X + _Y) * 8], axis=-1).astype(np.uint8)


def make_images(directory: Path) -> dict[str, Path]:
    """Write the test files into `directory`; their names -> paths."""
    paths = {
        name: directory / name
        for name in ["rgb.png", "rgba.png", "gray.png", "la.png", "bits.png", "gray16.png",
                     "palette.png", "palette_alpha.png", "smooth.jpg", "gray.jpg"]
    }  # fmt: skip
    Image.fromarray(RGB).save(paths["rgb.png"])
    Image.fromarray(RGBA).save(paths["rgba.png"])
    Image.fromarray(RGB[:, :, 0]).save(paths["gray.png"])
    Image.fromarray(RGBA[:, :, :2].copy(), "LA").save(paths["la.png"])
    Image.fromarray(RGB[:, :, 0] > 127).save(paths["bits.png"])  # 1 bit per pixel
    Image.fromarray(GRAY16).save(paths["gray16.png"])
    palette = Image.fromarray(INDICES, "P")
    palette.putpalette(bytes(PALETTE))
    palette.save(paths["palette.png"])
    palette.save(paths["palette_alpha.png"], transparency=PALETTE_ALPHA)
    Image.fromarray(SMOOTH).save(paths["smooth.jpg"], quality=90)
    Image.fromarray(SMOOTH[:, :, 0]).save(paths["gray.jpg"], quality=90)
    return paths


@pytest.fixture
def images(tmp_path) -> dict[str, Path]:
    return make_images(tmp_path)


def chw(array: np.ndarray) -> np.ndarray:
    """(H, W, C) or (H, W) -> (C, H, W)."""
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


# --------------------------------------------------------------------------------------------------
# PNG: lossless, so every value is exact
def test_rgb_png_in_every_mode(images):
    image = read_image(images["rgb.png"])
    assert isinstance(image, Tensor) and image.dtype == np.uint8 and image.shape == (3, 3, 4)
    np.testing.assert_array_equal(image.numpy(), chw(RGB))
    gray = read_image(images["rgb.png"], ImageReadMode.GRAY)
    # torchvision: libpng's weights 0.2989, 0.587, 0.1141 in 15-bit fixed point, truncated
    assert gray.shape == (1, 3, 4)
    assert gray.numpy()[0].tolist() == [[213, 200, 90, 120], [153, 195, 103, 188], [147, 184, 226, 161]]  # fmt: skip
    gray_alpha = read_image(images["rgb.png"], ImageReadMode.GRAY_ALPHA).numpy()
    assert gray_alpha.shape == (2, 3, 4) and (gray_alpha[1] == 255).all()
    np.testing.assert_array_equal(gray_alpha[:1], gray.numpy())
    rgba = read_image(images["rgb.png"], ImageReadMode.RGB_ALPHA).numpy()
    np.testing.assert_array_equal(rgba, np.concatenate([chw(RGB), np.full((1, 3, 4), 255)]))
    np.testing.assert_array_equal(
        read_image(images["rgb.png"], ImageReadMode.RGB).numpy(), chw(RGB)
    )


def test_rgba_png_keeps_or_drops_its_alpha(images):
    np.testing.assert_array_equal(read_image(images["rgba.png"]).numpy(), chw(RGBA))
    np.testing.assert_array_equal(
        read_image(images["rgba.png"], "RGB").numpy(), chw(RGBA[:, :, :3])
    )
    gray_alpha = read_image(images["rgba.png"], "GRAY_ALPHA").numpy()
    assert gray_alpha[0].tolist() == [[121, 51, 124, 178], [140, 36, 156, 182], [218, 57, 62, 181]]  # fmt: skip
    np.testing.assert_array_equal(gray_alpha[1], RGBA[:, :, 3])  # the alpha, not premultiplied
    np.testing.assert_array_equal(read_image(images["rgba.png"], "GRAY").numpy(), gray_alpha[:1])


def test_grayscale_pngs(images):
    gray = read_image(images["gray.png"])
    assert gray.shape == (1, 3, 4) and gray.dtype == np.uint8
    np.testing.assert_array_equal(gray.numpy()[0], RGB[:, :, 0])
    np.testing.assert_array_equal(read_image(images["gray.png"], "RGB").numpy(), [RGB[:, :, 0]] * 3)
    rgba = read_image(images["gray.png"], "RGBA").numpy()
    assert rgba.shape == (4, 3, 4) and (rgba[3] == 255).all()
    la = read_image(images["la.png"]).numpy()
    np.testing.assert_array_equal(la, chw(RGBA[:, :, :2]))
    np.testing.assert_array_equal(read_image(images["la.png"], "GRAY").numpy(), la[:1])
    bits = read_image(images["bits.png"]).numpy()  # 1-bit: 0 and 255
    np.testing.assert_array_equal(bits[0], np.where(RGB[:, :, 0] > 127, 255, 0))


def test_sixteen_bit_grayscale_png_is_uint16(images):
    image = read_image(images["gray16.png"])
    assert image.dtype == np.uint16 and image.shape == (1, 3, 4)  # as torchvision >= 0.21
    np.testing.assert_array_equal(image.numpy()[0], GRAY16)
    gray_alpha = read_image(images["gray16.png"], "GRAY_ALPHA").numpy()
    assert gray_alpha.dtype == np.uint16 and (gray_alpha[1] == 65535).all()
    assert read_image(images["gray16.png"], "RGB").numpy().tolist() == [GRAY16.tolist()] * 3


def test_palette_png(images):
    indices = read_image(images["palette.png"])  # UNCHANGED: the palette indices, as torchvision
    assert indices.shape == (1, 3, 4)
    assert indices.numpy()[0].tolist() == [[0, 1, 2, 3], [3, 2, 1, 0], [1, 1, 2, 19]]
    colours = np.array(PALETTE, np.uint8).reshape(-1, 3)
    rgb = read_image(images["palette.png"], "RGB").numpy()
    np.testing.assert_array_equal(rgb, chw(colours[INDICES]))
    gray = read_image(images["palette.png"], "GRAY").numpy()
    assert gray[0].tolist() == [[76, 149, 29, 18], [18, 29, 149, 76], [149, 149, 29, 40]]
    # with a tRNS chunk, its alpha (torchvision's values)
    rgba = read_image(images["palette_alpha.png"], "RGBA").numpy()
    np.testing.assert_array_equal(rgba[:3], rgb)
    assert rgba[3].tolist() == [[255, 128, 0, 64], [64, 0, 128, 255], [128, 128, 0, 200]]
    gray_alpha = read_image(images["palette_alpha.png"], "GRAY_ALPHA").numpy()
    np.testing.assert_array_equal(gray_alpha, np.concatenate([gray, rgba[3:]]))
    # without one, opaque (torchvision 0.28 returns scrambled values here)
    assert (read_image(images["palette.png"], "RGBA").numpy()[3] == 255).all()


# --------------------------------------------------------------------------------------------------
# JPEG: lossy; the values are torchvision's within a tolerance (they depend on libjpeg)
def test_jpeg_rgb_and_gray(images):
    image = read_image(images["smooth.jpg"])
    assert image.shape == (3, 16, 16) and image.dtype == np.uint8
    torchvision_every_fifth = [
        [[0, 76, 155, 232], [2, 77, 158, 235], [6, 81, 161, 237], [9, 84, 164, 241]],
        [[3, 3, 4, 5], [79, 80, 81, 82], [159, 159, 160, 159], [235, 236, 236, 237]],
        [[242, 206, 171, 136], [209, 173, 137, 103], [167, 133, 96, 59], [135, 99, 64, 28]],
    ]
    np.testing.assert_allclose(image.numpy()[:, ::5, ::5], torchvision_every_fifth, atol=3)
    assert np.abs(image.numpy().astype(int) - chw(SMOOTH)).mean() < 3
    gray = read_image(images["smooth.jpg"], ImageReadMode.GRAY)  # the file's luma
    assert gray.shape == (1, 16, 16)
    torchvision_gray = [[29, 48, 68, 88], [71, 90, 110, 130], [114, 133, 153, 171], [156, 175, 195, 214]]  # fmt: skip
    np.testing.assert_allclose(gray.numpy()[0, ::5, ::5], torchvision_gray, atol=3)
    one = read_image(images["gray.jpg"])
    assert one.shape == (1, 16, 16)
    assert read_image(images["gray.jpg"], "RGB").numpy().tolist() == [one.numpy()[0].tolist()] * 3
    with pytest.raises(RuntimeError, match="GRAY_ALPHA is not supported for JPEG"):
        read_image(images["smooth.jpg"], ImageReadMode.GRAY_ALPHA)
    with pytest.raises(RuntimeError, match="RGB_ALPHA is not supported for JPEG"):
        read_image(images["smooth.jpg"], "RGBA")


def test_decode_from_bytes_and_paths(images):
    data = read_file(images["smooth.jpg"])
    assert data.dtype == np.uint8 and data.shape == (images["smooth.jpg"].stat().st_size,)
    assert data.numpy().tobytes() == images["smooth.jpg"].read_bytes()
    expected = read_image(images["smooth.jpg"]).numpy()
    np.testing.assert_array_equal(decode_image(data).numpy(), expected)
    np.testing.assert_array_equal(decode_image(images["smooth.jpg"]).numpy(), expected)  # a path
    np.testing.assert_array_equal(decode_image(str(images["smooth.jpg"])).numpy(), expected)
    np.testing.assert_array_equal(decode_jpeg(data).numpy(), expected)
    assert [t.shape for t in decode_jpeg([data, data], mode="GRAY")] == [(1, 16, 16)] * 2
    png = read_file(images["rgb.png"])
    np.testing.assert_array_equal(
        decode_png(png, "GRAY").numpy(), read_image(images["rgb.png"], "GRAY").numpy()
    )
    with pytest.raises(RuntimeError, match="decode_png: .* is not a PNG file"):
        decode_png(data)
    with pytest.raises(RuntimeError, match="decode_jpeg: .* is not a JPEG file"):
        decode_jpeg(png)


def test_modes_by_name():
    assert ImageReadMode.RGBA is ImageReadMode.RGB_ALPHA
    png = encode_png(Tensor(chw(RGB)))
    for name, channels in [
        ("rgb", 3),
        ("RGBA", 4),
        ("RGB_ALPHA", 4),
        ("gray", 1),
        ("Gray_Alpha", 2),
    ]:
        assert decode_image(png, name).shape == (channels, 3, 4)
    with pytest.raises(KeyError, match="unknown mode 'CMYK'"):
        decode_image(png, "CMYK")
    with pytest.raises(TypeError, match="mode must be an ImageReadMode"):
        decode_image(png, 3)


def test_exif_orientation_turns_the_image_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(RGB).save(tmp_path / "turned.png", exif=exif)
    assert read_image(tmp_path / "turned.png").shape == (3, 3, 4)  # by default: as stored
    upright = read_image(tmp_path / "turned.png", apply_exif_orientation=True)
    np.testing.assert_array_equal(upright.numpy(), chw(np.rot90(RGB, -1)))
    exif[0x0112] = 8  # a quarter turn the other way, on a JPEG
    Image.fromarray(SMOOTH).save(tmp_path / "turned.jpg", exif=exif, quality=90)
    stored = read_image(tmp_path / "turned.jpg").numpy()
    upright = read_image(tmp_path / "turned.jpg", apply_exif_orientation=True).numpy()
    np.testing.assert_array_equal(upright, chw(np.rot90(stored.transpose(1, 2, 0), 1)))


def test_gif_and_webp(tmp_path):
    colours = np.array(PALETTE, np.uint8).reshape(-1, 3)
    frames = []
    for k in range(2):
        frame = Image.fromarray((INDICES + k) % 4, "P")  # frames of the first 4 colours
        frame.putpalette(bytes(PALETTE))
        frames.append(frame)
    frames[0].save(tmp_path / "one.gif")
    frames[0].save(tmp_path / "two.gif", save_all=True, append_images=frames[1:])
    one = read_image(tmp_path / "one.gif", ImageReadMode.GRAY)  # GIF: always RGB, as torchvision
    np.testing.assert_array_equal(one.numpy(), chw(colours[INDICES % 4]))
    two = read_image(tmp_path / "two.gif")
    assert two.shape == (2, 3, 3, 4)  # (N, C, H, W)
    np.testing.assert_array_equal(two.numpy()[1], chw(colours[(INDICES + 1) % 4]))
    Image.fromarray(RGBA).save(tmp_path / "a.webp", lossless=True)
    np.testing.assert_array_equal(read_image(tmp_path / "a.webp").numpy(), chw(RGBA))
    np.testing.assert_array_equal(
        read_image(tmp_path / "a.webp", "RGB").numpy(), chw(RGBA[:, :, :3])
    )
    with pytest.warns(UserWarning, match="WebP has no grayscale"):
        assert read_image(tmp_path / "a.webp", "GRAY").shape == (4, 3, 4)


# --------------------------------------------------------------------------------------------------
# Writing
def test_png_round_trip_and_atomic_writes(tmp_path):
    for image in [chw(RGB), chw(RGB[:, :, 0])]:
        for level in (0, 6, 9):
            write_png(Tensor(image), tmp_path / "out.png", compression_level=level)
            back = read_image(tmp_path / "out.png")
            assert back.dtype == np.uint8
            np.testing.assert_array_equal(back.numpy(), image)
    encoded = encode_png(Tensor(chw(RGB)))
    assert encoded.dtype == np.uint8 and encoded.ndim == 1
    assert encoded.numpy()[:8].tobytes() == b"\x89PNG\r\n\x1a\n"
    write_file(tmp_path / "copy.png", encoded)
    assert (tmp_path / "copy.png").read_bytes() == encoded.numpy().tobytes()
    with pytest.raises(RuntimeError, match="expected a uint8 tensor"):
        write_png(Tensor(chw(RGB).astype(np.float32)), tmp_path / "bad.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.png", "out.png"]  # no leftovers


def test_jpeg_round_trip(tmp_path):
    write_jpeg(Tensor(chw(SMOOTH)), tmp_path / "out.jpg", quality=95)
    back = read_image(tmp_path / "out.jpg").numpy()
    assert back.shape == (3, 16, 16) and np.abs(back.astype(int) - chw(SMOOTH)).mean() < 3
    low, high = encode_jpeg(Tensor(chw(SMOOTH)), 10), encode_jpeg(Tensor(chw(SMOOTH)), 95)
    assert low.numpy()[:3].tobytes() == b"\xff\xd8\xff" and low.shape[0] < high.shape[0]
    gray = encode_jpeg([Tensor(chw(SMOOTH[:, :, 0]))])[0]
    assert decode_jpeg(gray).shape == (1, 16, 16)
    with pytest.raises(ValueError, match="quality should be a number between 1 and 100"):
        encode_jpeg(Tensor(chw(SMOOTH)), 0)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (chw(RGB).astype(np.float32), "encode_png: expected a uint8 tensor .*got dtype float32"),
        (chw(RGB).astype(np.int64), "expected a uint8 tensor"),
        (RGB[:, :, 0], r"expected a 3-D tensor \(C, H, W\), got shape \(3, 4\)"),
        (chw(RGBA), "number of channels should be 1 or 3, got 4"),
        (np.zeros((3, 0, 4), np.uint8), "at least 1 x 1 pixels"),
    ],
)
def test_encode_refuses_what_is_not_a_uint8_image(image, message):
    with pytest.raises(RuntimeError, match=message):
        encode_png(Tensor(image))


def test_write_errors(tmp_path):
    data = Tensor(np.arange(4, dtype=np.uint8))
    with pytest.raises(RuntimeError, match="write_file: expected a uint8 tensor"):
        write_file(tmp_path / "x.bin", Tensor(np.arange(4, dtype=np.float32)))
    with pytest.raises(RuntimeError, match="write_file: expected a 1-D tensor"):
        write_file(tmp_path / "x.bin", Tensor(np.zeros((2, 2), np.uint8)))
    with pytest.raises(RuntimeError, match="compression level should be between 0 and 9"):
        encode_png(Tensor(chw(RGB)), compression_level=10)
    with pytest.raises(FileNotFoundError, match="does not exist") as missing:
        write_png(Tensor(chw(RGB)), tmp_path / "no" / "such" / "x.png")
    assert isinstance(missing.value, RuntimeError)  # torchvision's type too
    assert not (tmp_path / "no").exists()
    write_file(tmp_path / "x.bin", data)
    assert list(tmp_path.iterdir()) == [tmp_path / "x.bin"]


# --------------------------------------------------------------------------------------------------
# Reading errors: a clear RuntimeError naming the function and the file
def png_16_bit_rgb() -> bytes:
    """A 1 x 1 PNG with 16-bit RGB samples (Pillow cannot write one)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 16, 2, 0, 0, 0)  # 16 bits, colour type 2 (RGB)
    pixels = zlib.compress(b"\x00" + bytes(6))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_missing_and_empty_files(tmp_path):
    missing = tmp_path / "missing.png"
    for read in (read_image, read_file, decode_image):
        with pytest.raises(RuntimeError, match=f"{read.__name__}: no such file") as error:
            read(missing)
        assert isinstance(error.value, ImageFileNotFoundError)
        assert isinstance(error.value, FileNotFoundError) and error.value.filename == str(missing)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(RuntimeError, match="read_image: the file .*empty.png' is empty"):
        read_image(tmp_path / "empty.png")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("text.png", b"hello, this is not an image", "is not a PNG, JPEG, GIF or WebP image"),
        ("picture.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n", "is not a PNG, JPEG, GIF or WebP image"),
        ("picture.bmp", b"BM" + bytes(60), "is not a PNG, JPEG, GIF or WebP image"),
        ("half.png", "rgb.png", "truncated or corrupt"),
        ("half.jpg", "smooth.jpg", "truncated or corrupt"),
        ("header.png", "rgb.png[:30]", "truncated or corrupt"),
        ("crc.png", "rgb.png with a bad IHDR", "truncated or corrupt"),
        ("deep.png", png_16_bit_rgb(), "16-bit colour PNG"),
    ],
)
def test_bad_files_are_refused(images, tmp_path, name, content, message):
    if content in ("rgb.png", "smooth.jpg"):
        whole = images[content].read_bytes()
        content = whole[: len(whole) // 2]
    elif content == "rgb.png[:30]":
        content = images["rgb.png"].read_bytes()[:30]
    elif content == "rgb.png with a bad IHDR":
        content = bytearray(images["rgb.png"].read_bytes())
        content[17] ^= 0xFF  # the width: the chunk's checksum no longer matches
        content = bytes(content)
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RuntimeError, match=f"read_image: .*{name}.*{message}"):
        read_image(path)
    with pytest.raises(RuntimeError, match=f"decode_image: .*the given tensor of .*{message}"):
        decode_image(read_file(path))


def test_decode_checks_its_input(monkeypatch, images):
    data = read_file(images["rgb.png"])
    with pytest.raises(RuntimeError, match="decode_image: expected a uint8 tensor"):
        decode_image(data.float())
    with pytest.raises(RuntimeError, match="non-empty 1-D tensor"):
        decode_image(data.reshape(1, -1))
    with pytest.raises(TypeError, match="a uint8 Tensor of encoded bytes or a path, got bytes"):
        decode_image(images["rgb.png"].read_bytes())
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5)  # Pillow's decompression-bomb limit
    with pytest.raises(RuntimeError, match="read_image: refused .*rgb.png.* exceeds limit"):
        read_image(images["rgb.png"])


def test_importing_does_not_load_pillow():
    code = "import sys, tinygrad_be.vision.io; sys.exit('PIL' in sys.modules)"
    root = Path(tinygrad_be.__file__).parent.parent
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
