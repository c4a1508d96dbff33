"""tinygrad_be.vision.transforms against values computed by hand (torchvision's semantics)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_be
from tinygrad_be import Tensor
from tinygrad_be.vision import transforms as T


def image_2x3() -> np.ndarray:
    """(H=2, W=3, C=3) uint8: channel c of pixel (h, w) is 51 * ((h * 3 + w + c) % 6)."""
    h, w, c = np.meshgrid(np.arange(2), np.arange(3), np.arange(3), indexing="ij")
    return (51 * ((h * 3 + w + c) % 6)).astype(np.uint8)


def test_to_tensor_moves_channels_first_and_scales_uint8():
    x = T.ToTensor()(image_2x3())
    assert isinstance(x, Tensor) and x.shape == (3, 2, 3) and x.dtype == np.float32
    assert x.numpy().flags.c_contiguous
    # channel 0: (h * 3 + w) % 6 / 5, i.e. 51 k / 255 = k / 5
    np.testing.assert_array_equal(x.numpy()[0], np.float32([[0, 0.2, 0.4], [0.6, 0.8, 1.0]]))
    np.testing.assert_array_equal(x.numpy()[2], np.float32([[0.4, 0.6, 0.8], [1.0, 0, 0.2]]))
    grey = T.ToTensor()(np.array([[0, 255]], np.uint8))  # (H, W) gets one channel
    assert grey.shape == (1, 1, 2) and grey.numpy().tolist() == [[[0.0, 1.0]]]
    other = T.ToTensor()(np.full((2, 2, 1), 3.5))  # not uint8: same values, same dtype
    assert other.dtype == np.float64 and other.numpy().tolist() == [[[3.5, 3.5], [3.5, 3.5]]]
    with pytest.raises(TypeError, match="ndarray"):
        T.ToTensor()(Tensor([1.0]))
    with pytest.raises(ValueError, match="2/3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 2, 3), np.uint8))


def test_normalize_per_channel():
    x = T.ToTensor()(image_2x3())
    out = T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))(x)
    # (k / 5 - 0.5) / 0.5 for k = 0..5: -1, -0.6, -0.2, 0.2, 0.6, 1
    np.testing.assert_allclose(out.numpy()[0], [[-1, -0.6, -0.2], [0.2, 0.6, 1]], atol=1e-6)
    assert out.dtype == np.float32 and out is not x
    np.testing.assert_array_equal(x.numpy()[0, 0], np.float32([0, 0.2, 0.4]))  # input unchanged
    per_channel = T.Normalize((0.0, 0.2, 0.4), (1.0, 0.5, 0.25))(x).numpy()
    # pixel (0, 0): channels hold 0, 0.2, 0.4 -> (0 - 0) / 1, (0.2 - 0.2) / 0.5, (0.4 - 0.4) / 0.25
    np.testing.assert_allclose(per_channel[:, 0, 0], [0, 0, 0], atol=1e-7)
    # pixel (0, 1): 0.2, 0.4, 0.6 -> 0.2, 0.4, 0.8
    np.testing.assert_allclose(per_channel[:, 0, 1], [0.2, 0.4, 0.8], atol=1e-6)
    same = T.Normalize((0.5,) * 3, (0.5,) * 3, inplace=True)(x)
    assert same is x
    np.testing.assert_allclose(x.numpy()[0, 0], [-1, -0.6, -0.2], atol=1e-6)


def test_normalize_refuses_what_torchvision_refuses():
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.5,), (0.5,))(Tensor(np.zeros((1, 2, 2), np.uint8)))
    with pytest.raises(ValueError, match=r"size \(\.\.\., C, H, W\)"):
        T.Normalize((0.5,), (0.5,))(Tensor(np.zeros((2, 2), np.float32)))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.5,), (0.0,))(Tensor(np.zeros((1, 2, 2), np.float32)))


def test_compose_lambda_and_repr():
    transform = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2)])
    assert transform(np.array([[255]], np.uint8)).numpy().tolist() == [[[2.0]]]
    assert repr(T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))\n)"
    )
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)


def test_flips_on_numpy_and_tensor_images():
    image = image_2x3()
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(image), image[:, ::-1])
    assert T.RandomHorizontalFlip(p=0.0)(image) is image
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(image), image[::-1])
    chw = Tensor(np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    assert T.RandomHorizontalFlip(p=1.0)(chw).numpy().tolist() == [[[2, 1, 0], [5, 4, 3]]]
    tinygrad_be.manual_seed(3)
    flips = [T.RandomHorizontalFlip()(image)[0, 0, 0] != image[0, 0, 0] for _ in range(200)]
    tinygrad_be.manual_seed(3)
    again = [T.RandomHorizontalFlip()(image)[0, 0, 0] != image[0, 0, 0] for _ in range(200)]
    assert flips == again and 70 < sum(flips) < 130


def test_padding_modes_by_hand():
    x = np.array([[1, 2], [3, 4]], np.uint8)
    assert T.pad(x, 1, padding_mode="reflect").tolist() == [
        [4, 3, 4, 3], [2, 1, 2, 1], [4, 3, 4, 3], [2, 1, 2, 1]]  # fmt: skip
    assert T.pad(x, 1, padding_mode="symmetric").tolist() == [
        [1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]  # fmt: skip
    assert T.pad(x, 1, padding_mode="edge").tolist() == T.pad(x, 1, padding_mode="symmetric").tolist()
    assert T.pad(x, (1, 0), fill=9).tolist() == [[9, 1, 2, 9], [9, 3, 4, 9]]  # (left/right, top/bottom)
    assert T.pad(x, (0, 1, 2, 0)).tolist() == [[0, 0, 0, 0], [1, 2, 0, 0], [3, 4, 0, 0]]
    rgb = T.pad(np.zeros((1, 1, 3), np.uint8), 1, fill=(10, 20, 30))  # a fill per channel
    assert rgb.shape == (3, 3, 3) and rgb[0, 0].tolist() == [10, 20, 30] and rgb[1, 1].tolist() == [0, 0, 0]
    chw = T.pad(Tensor(np.ones((2, 1, 1), np.float32)), 1)  # tensor images pad their last two axes
    assert chw.shape == (2, 3, 3) and float(chw.numpy().sum()) == 2.0
    with pytest.raises(ValueError, match="Padding mode"):
        T.pad(x, 1, padding_mode="wrap")


def test_random_crop_windows_and_seeding():
    image = np.arange(9, dtype=np.uint8).reshape(3, 3, 1)
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)))
    crop = T.RandomCrop(3, padding=1)
    tinygrad_be.manual_seed(0)
    seen = set()
    for _ in range(200):
        out = crop(image)
        assert out.shape == (3, 3, 1)
        windows = [(i, j) for i in range(3) for j in range(3)
                   if np.array_equal(out, padded[i : i + 3, j : j + 3])]  # fmt: skip
        assert len(windows) >= 1
        seen.update(windows)
    assert len(seen) == 9  # every position of the window occurs
    tinygrad_be.manual_seed(5)
    first = [crop(image) for _ in range(5)]
    tinygrad_be.manual_seed(5)
    np.testing.assert_array_equal(first, [crop(image) for _ in range(5)])
    assert T.RandomCrop(3)(image) is not image and np.array_equal(T.RandomCrop(3)(image), image)
    with pytest.raises(ValueError, match=r"Required crop size \(4, 4\) is larger"):
        T.RandomCrop(4)(image)


def test_random_crop_pad_if_needed_pads_both_sides_as_torchvision():
    image = np.ones((2, 2), np.uint8)
    tinygrad_be.manual_seed(0)
    crops = [T.RandomCrop((2, 4), pad_if_needed=True)(image) for _ in range(30)]
    # width 2 < 4: 2 columns on the left AND the right (width 6: 0 0 1 1 0 0), so the 4-wide
    # window has 3 positions, and the image's first column lands at 2, 1 or 0 in it
    assert all(c.shape == (2, 4) and int(c.sum()) == 4 for c in crops)
    assert {int(c[0].argmax()) for c in crops} == {0, 1, 2}


def test_center_crop_rounds_as_torchvision():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    assert T.CenterCrop(2)(image).tolist() == [[5, 6], [9, 10]]  # top = round(1.0) = 1
    three = np.arange(9, dtype=np.uint8).reshape(3, 3)
    assert T.CenterCrop(2)(three).tolist() == [[0, 1], [3, 4]]  # round(0.5) = 0
    assert T.CenterCrop(4)(np.ones((2, 2), np.uint8)).tolist() == [
        [0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]  # fmt: skip
