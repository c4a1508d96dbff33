"""tinygrad_be.vision.utils: make_grid and save_image (torchvision's layout and rounding)."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_be import Tensor
from tinygrad_be.vision.utils import make_grid, save_image, tile_images


def test_grid_layout_by_hand():
    images = Tensor(np.array([[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]]], np.float32))  # (2, 1, 2, 2)
    grid = make_grid(images, padding=1, pad_value=0.5)
    # one channel becomes three; width 2 * (2 + 1) + 1, height (2 + 1) + 1
    assert grid.shape == (3, 4, 7) and grid.dtype == np.float32
    p = 0.5
    assert grid.numpy()[0].tolist() == [
        [p, p, p, p, p, p, p],
        [p, 1, 2, p, 5, 6, p],
        [p, 3, 4, p, 7, 8, p],
        [p, p, p, p, p, p, p],
    ]
    np.testing.assert_array_equal(grid.numpy()[0], grid.numpy()[2])
    tall = make_grid(images, nrow=1, padding=0)  # one image per row
    assert tall.numpy()[1].tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]


def test_grid_shape_as_torchvision_and_left_over_cells():
    batch = Tensor(np.zeros((4, 3, 32, 32), np.float32))
    assert make_grid(batch).shape == (3, 36, 138)  # torchvision: 4 images, nrow=8, padding=2
    five = Tensor(np.ones((5, 3, 2, 2), np.float32))
    grid = make_grid(five, nrow=2, padding=1).numpy()
    assert grid.shape == (3, 10, 7)
    assert grid[:, 7:9, 4:6].sum() == 0  # the sixth cell is empty (pad_value 0)
    single = make_grid(Tensor(np.ones((3, 5, 4), np.float32)))
    assert single.shape == (3, 5, 4)  # one image comes back as it is
    assert make_grid([Tensor(np.ones((3, 2, 2), np.float32))] * 2, padding=0).shape == (3, 2, 4)
    with pytest.raises(TypeError, match="tensor or list of tensors"):
        make_grid(np.zeros((2, 3, 4, 4)))


def test_normalize_value_range_and_scale_each():
    images = Tensor(np.array([[[[0, 2], [4, 8]]], [[[10, 10], [10, 20]]]], np.float32))
    whole = make_grid(images, padding=0, normalize=True).numpy()[0]  # min 0, max 20 over all
    np.testing.assert_allclose(whole, [[0, 0.1, 0.5, 0.5], [0.2, 0.4, 0.5, 1.0]], rtol=1e-6)
    each = make_grid(images, padding=0, normalize=True, scale_each=True).numpy()[0]
    assert each.tolist() == [[0, 0.25, 0, 0], [0.5, 1, 0, 1]]  # 0..8 and 10..20 each
    clamped = make_grid(images, padding=0, normalize=True, value_range=(2, 10)).numpy()[0]
    assert clamped.tolist() == [[0, 0, 1, 1], [0.25, 0.75, 1, 1]]
    with pytest.raises(TypeError, match="value_range"):
        make_grid(images, normalize=True, value_range=[0, 1])


def test_tile_images_is_the_shared_step():
    cells = tile_images(np.ones((3, 2, 1, 1)), nrow=3, padding=1, pad_value=0.0)
    assert cells.shape == (2, 3, 7) and cells.sum() == 6


def test_save_image_writes_a_png_with_torchvisions_rounding(tmp_path):
    from PIL import Image

    values = np.array([0.0, 0.5, 1 / 255, 0.998, 1.2, -0.1], np.float32).reshape(1, 1, 2, 3)
    path = tmp_path / "out" / "grid.png"
    path.parent.mkdir()
    save_image(Tensor(np.repeat(values, 3, axis=1)), path, padding=0)
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (2, 3, 3) and pixels.dtype == np.uint8
    # int(x * 255 + 0.5) clamped to 0..255: 0, 128, 1, 254, 255, 0
    assert pixels[..., 0].tolist() == [[0, 128, 1], [254, 255, 0]]
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]  # no temporary left behind
    with pytest.raises(ValueError, match="unknown image format"):
        save_image(Tensor(np.zeros((1, 2, 2), np.float32)), tmp_path / "grid.nope")
