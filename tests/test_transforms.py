"""Preprocessing fitted on training data and batch augmentation (`tinygrad_be.transforms`)."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

from tinygrad_be import transforms
from tinygrad_be.transforms import (
    ChannelStandardizer,
    PCAWhitening,
    augment,
    patch_whitening,
    random_flip,
    random_translate,
)


def _images(rng: np.random.Generator, n: int = 40) -> np.ndarray:
    return rng.normal(size=(n, 3, 8, 9)).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# Augmentation
def test_flip_is_an_involution_and_flips_whole_images(rng):
    images = _images(rng)
    once = random_flip(images, np.random.default_rng(5))
    twice = random_flip(once, np.random.default_rng(5))  # the same draws flip the same images back
    np.testing.assert_array_equal(twice, images)
    mirrored = np.array([np.array_equal(o, i[..., ::-1]) for o, i in zip(once, images, strict=True)])
    unchanged = np.array([np.array_equal(o, i) for o, i in zip(once, images, strict=True)])
    assert np.all(mirrored ^ unchanged)  # each image is either mirrored or left alone
    assert 5 < mirrored.sum() < 35  # about half of them are mirrored
    assert once.dtype == np.float32 and once.shape == images.shape


def test_translate_keeps_shape_and_moves_whole_images_within_bounds(rng):
    images = _images(rng) + 10.0  # no zeros inside the images, so a zero is the padding
    out = random_translate(images, pad=2, rng=np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == np.float32
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    moves = set()
    for i in range(len(images)):
        found = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if np.array_equal(out[i], padded[i, :, dy : dy + 8, dx : dx + 9])
        ]
        assert len(found) == 1  # exactly one shift by at most 2 pixels explains the output
        moves.add(found[0])
    assert len(moves) > 10  # the shifts differ from image to image
    np.testing.assert_array_equal(random_translate(images, 0, rng), images)


def test_augment_matches_the_flat_version_of_the_mlp_recipe(rng):
    """The library's draws are the MLP recipe's before the move: the same seed, the same batch."""
    images = _images(rng)
    out = augment(images, np.random.default_rng(3), pad=2, flip=True)
    draws = np.random.default_rng(3)
    flipped = draws.random(len(images)) < 0.5
    offsets = draws.integers(0, 5, size=(len(images), 2))
    expected = np.where(flipped[:, None, None, None], images[..., ::-1], images)
    expected = np.pad(expected, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for i, (dy, dx) in enumerate(offsets):
        np.testing.assert_array_equal(out[i], expected[i, :, dy : dy + 8, dx : dx + 9])


def test_same_seed_same_batch(rng):
    images = _images(rng)
    a = augment(images, np.random.default_rng(7))
    b = augment(images, np.random.default_rng(7))
    c = augment(images, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(augment(images, rng, pad=0, flip=False), images)


def test_augmentation_has_no_python_loop():
    """Vectorised over the batch: the augmentation functions contain no for/while loop at all."""
    for function in (random_flip, random_translate, augment):
        tree = ast.parse(inspect.getsource(function))
        loops = [node for node in ast.walk(tree) if isinstance(node, (ast.For, ast.While))]
        assert not loops, f"{function.__name__} loops in Python"


def test_augmentation_refuses_bad_input(rng):
    with pytest.raises(ValueError, match=r"random_flip: images must be \(N, C, H, W\)"):
        random_flip(np.zeros((4, 3072)), rng)
    with pytest.raises(ValueError, match="pad must be a non-negative integer"):
        random_translate(_images(rng), -1, rng)


# --------------------------------------------------------------------------------------------------
# Preprocessing fitted on training data
def test_channel_standardizer(rng):
    images = (rng.normal(size=(300, 3, 4, 4)) * [[[3.0]], [[0.5]], [[10.0]]] + [[[1]], [[2]], [[3]]])
    standardize = ChannelStandardizer().fit(images.astype(np.float32), chunk=70)
    np.testing.assert_allclose(standardize.mean, images.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(standardize.std, images.std(axis=(0, 2, 3)), rtol=1e-4)
    out = standardize(images.astype(np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, rtol=1e-4)
    restored = ChannelStandardizer.from_state(standardize.state())
    np.testing.assert_array_equal(restored(images.astype(np.float32)), out)
    with pytest.raises(ValueError, match="fitted on 3 channels"):
        standardize(np.zeros((2, 4, 4, 4), np.float32))


def test_patch_whitening_whitens_patches(rng):
    # Correlated channels: every patch's 12 values are strongly correlated.
    base = rng.normal(size=(200, 1, 9, 9))
    images = np.concatenate([base, base * 0.5 + 0.1 * rng.normal(size=base.shape), -base], axis=1)
    images = images + 0.05 * rng.normal(size=images.shape)
    weight, bias = patch_whitening(images.astype(np.float32), patch_size=2, eps=1e-6)
    assert weight.shape == (24, 3, 2, 2) and bias.shape == (24,)
    assert weight.dtype == np.float32
    np.testing.assert_array_equal(weight[12:], -weight[:12])  # each filter and its negative
    # The layer's outputs on the images' patches have zero mean and unit covariance.
    windows = np.lib.stride_tricks.sliding_window_view(images, (2, 2), axis=(2, 3))
    patches = windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, 12)
    outputs = patches @ weight[:12].reshape(12, 12).T.astype(np.float64) + bias[:12]
    np.testing.assert_allclose(outputs.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(np.cov(outputs.T, bias=True), np.eye(12), atol=2e-3)


def test_pca_whitening(rng):
    # Correlated data: 6 dims mixed from independent sources of very different scales.
    sources = rng.normal(size=(4000, 6)) * np.array([10, 5, 2, 1, 0.5, 0.1])
    x = (sources @ rng.normal(size=(6, 6)) + 3).astype(np.float32)
    white = PCAWhitening(dims=4, eps=1e-6).fit(x, chunk=1000)
    z = white(x)
    assert z.shape == (4000, 4) and z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(np.cov(z.T, bias=True), np.eye(4), atol=1e-3)
    assert np.all(np.diff(white.variances) <= 0)  # largest components kept, in order
    # Fewer rows than values (the SVD path): the same components as the covariance's eigenvectors.
    few = rng.normal(size=(5, 10)).astype(np.float32)
    small = PCAWhitening(dims=3, eps=0.01).fit(few)
    variances, vectors = np.linalg.eigh(np.cov(few.T.astype(np.float64), bias=True))
    np.testing.assert_allclose(small.variances, variances[::-1][:3], rtol=1e-4)
    expected = vectors[:, ::-1][:, :3] / np.sqrt(variances[::-1][:3] + 0.01)
    signs = np.sign((small.projection * expected).sum(axis=0))  # eigenvectors are up to sign
    np.testing.assert_allclose(small.projection * signs, expected, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="cannot keep"):
        PCAWhitening(dims=7, eps=0.1).fit(x)


def test_the_examples_share_the_library_code():
    """No copy of the augmentation or whitening stays in an example."""
    from pathlib import Path

    examples = Path(__file__).resolve().parent.parent / "examples"
    for path in examples.glob("*.py"):
        tree = ast.parse(path.read_text())
        defined = {
            node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        }
        copies = defined & {*transforms.__all__, "flip_and_translate"}
        assert not copies, f"{path.name} defines its own {sorted(copies)}"
