"""Image preprocessing fitted on training data, and batch augmentation, vectorised over the batch.

Fitted on the training images only, then applied to any images:
- `ChannelStandardizer`: per-channel mean and standard deviation (for convolutional networks).
- `PCAWhitening`: flat rows projected onto their top principal components, each scaled to unit
  variance (for fully connected networks, which have no notion of neighbouring pixels).
- `patch_whitening`: the weights of a convolution that whitens k×k patches (a CNN's frozen first
  layer).

Augmentation of a batch (N, C, H, W), seeded by the `np.random.Generator` given, so the same seed
gives the same batch; each function is a few whole-batch numpy operations, never a loop over images:
- `random_flip`: mirror each image left-right with probability 1/2.
- `random_translate`: shift each image by up to `pad` pixels in each direction (a random crop of
  the zero-padded image, as torchvision's `RandomCrop(size, padding=pad)`).
- `augment`: both.

Per-image transforms with torchvision's names (`ToTensor`, `Normalize`, `RandomCrop`, ...) are in
`tinygrad_be.vision.transforms`; these whole-batch versions are what the fast recipes use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "ChannelStandardizer",
    "PCAWhitening",
    "augment",
    "patch_whitening",
    "random_flip",
    "random_translate",
]


def _check_images(name: str, images: np.ndarray) -> None:
    if images.ndim != 4:
        raise ValueError(f"{name}: images must be (N, C, H, W), got shape {images.shape}")


# --------------------------------------------------------------------------------------------------
# Augmentation
def random_flip(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image of (N, C, H, W) mirrored left-right with probability 1/2 (a new array)."""
    _check_images("random_flip", images)
    flipped = rng.random(len(images)) < 0.5
    return np.where(flipped[:, None, None, None], images[..., ::-1], images)


def random_translate(images: np.ndarray, pad: int, rng: np.random.Generator) -> np.ndarray:
    """Each image of (N, C, H, W) shifted by (dy, dx), each uniform in [-pad, pad]; the uncovered
    border is 0 (the mean, for standardised images). Returns a new (N, C, H, W) array.

    A random crop of the zero-padded batch: every crop position of every image is a strided view
    (no copy), and one fancy index picks each image's crop.
    """
    _check_images("random_translate", images)
    if int(pad) != pad or pad < 0:
        raise ValueError(f"random_translate: pad must be a non-negative integer, got {pad}")
    n, c, h, w = images.shape
    if pad == 0:
        return images.copy()
    padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=images.dtype)
    padded[:, :, pad : pad + h, pad : pad + w] = images
    crops = sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, 2pad+1, 2pad+1, H, W)
    offsets = rng.integers(0, 2 * pad + 1, size=(n, 2))  # (dy, dx) + pad, one row per image
    # The advanced indices (N,) come first in the result: (N, C, H, W), one gather.
    return crops[np.arange(n), :, offsets[:, 0], offsets[:, 1]]


def augment(
    images: np.ndarray, rng: np.random.Generator, pad: int = 2, flip: bool = True
) -> np.ndarray:
    """Random flips (if `flip`) then random translations by up to `pad` pixels of (N, C, H, W)."""
    if flip:
        images = random_flip(images, rng)
    return random_translate(images, pad, rng)


# --------------------------------------------------------------------------------------------------
# Preprocessing fitted on training data
class ChannelStandardizer:
    """x -> (x - mean[c]) / std[c] per channel c of images (N, C, H, W), fitted on training images.

    >>> standardize = ChannelStandardizer().fit(x_train)      # x_train (N, 3, 32, 32)
    >>> x = standardize(x_batch)                               # float32, mean 0 and std 1 per channel
    """

    mean: np.ndarray
    std: np.ndarray

    def fit(self, images: np.ndarray, chunk: int = 10_000) -> ChannelStandardizer:
        """Per-channel mean and standard deviation, accumulated in float64 over chunks of images."""
        _check_images("ChannelStandardizer.fit", images)
        total = np.zeros(images.shape[1])
        total_sq = np.zeros(images.shape[1])
        for start in range(0, len(images), chunk):
            part = images[start : start + chunk].astype(np.float64)
            total += part.sum(axis=(0, 2, 3))
            total_sq += np.einsum("nchw,nchw->c", part, part)
        count = images.size // images.shape[1]
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        self.mean, self.std = mean.astype(np.float32), np.maximum(std, 1e-8).astype(np.float32)
        return self

    def __call__(self, images: np.ndarray) -> np.ndarray:
        _check_images("ChannelStandardizer", images)
        if images.shape[1] != len(self.mean):
            raise ValueError(
                f"ChannelStandardizer: fitted on {len(self.mean)} channels, got images "
                f"{images.shape}"
            )
        scale = (1.0 / self.std)[:, None, None]
        return ((images - self.mean[:, None, None]) * scale).astype(np.float32, copy=False)

    def state(self) -> dict[str, np.ndarray]:
        """The fitted arrays, for a checkpoint (`tinygrad_be.save`)."""
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ChannelStandardizer:
        standardizer = cls()
        standardizer.mean = np.asarray(state["mean"], np.float32)
        standardizer.std = np.asarray(state["std"], np.float32)
        return standardizer


class PCAWhitening:
    """x (n, d) -> ((x - mean) @ components) / sqrt(variances + eps), shape (n, dims).

    Fitted on training rows: the covariance is accumulated over chunks of rows (memory bounded),
    its eigenvectors give the components. The projection is stored pre-divided, so applying it is
    one float32 matmul.
    """

    def __init__(self, dims: int, eps: float) -> None:
        self.dims, self.eps = dims, eps

    def fit(self, x: np.ndarray, chunk: int = 10_000) -> PCAWhitening:
        n, d = x.shape
        if self.dims > min(n, d):
            raise ValueError(f"PCA: cannot keep {self.dims} components of {n} rows of {d} values")
        self.mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
        if n < d:  # few rows (e.g. a test's tiny data set): the SVD of the data is cheaper
            _, singular, rows = np.linalg.svd(x - self.mean, full_matrices=False)
            variances, vectors = singular**2 / n, rows.T
        else:
            covariance = np.zeros((d, d))
            for start in range(0, n, chunk):
                centred = x[start : start + chunk] - self.mean
                covariance += centred.T @ centred  # float32 BLAS, summed in float64
            covariance /= n
            variances, vectors = np.linalg.eigh(covariance)
        top = np.argsort(variances)[::-1][: self.dims]  # largest variances first
        self.variances = variances[top]
        scale = 1.0 / np.sqrt(np.maximum(self.variances, 0.0) + self.eps)
        self.projection = (vectors[:, top] * scale).astype(np.float32)  # (d, dims)
        return self

    def centre(self, x: np.ndarray) -> np.ndarray:
        return x - self.mean

    def project(self, centred: np.ndarray) -> np.ndarray:
        """Centred rows (n, d) -> whitened rows (n, dims)."""
        return centred @ self.projection

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.project(self.centre(x))


def patch_whitening(
    images: np.ndarray, patch_size: int = 2, eps: float = 5e-4, max_images: int = 10_000
) -> tuple[np.ndarray, np.ndarray]:
    """The weight (2·C·k·k, C, k, k) and bias of a k×k convolution that whitens image patches.

    Every k×k patch of the first `max_images` images (N, C, H, W) is a vector of d = C·k·k values;
    with the eigen-decomposition of their covariance, filter i projects a patch onto eigenvector
    v_i, divided by sqrt(λ_i + eps), after subtracting the mean patch (the bias). Each filter comes
    twice, as v_i and -v_i, so a ReLU after it keeps both signs (as in the fast CIFAR-10 recipes).
    """
    _check_images("patch_whitening", images)
    k = int(patch_size)
    subset = np.asarray(images[:max_images], dtype=np.float32)
    c = subset.shape[1]
    patches = sliding_window_view(subset, (k, k), axis=(2, 3))  # (N, C, H', W', k, k)
    patches = patches.transpose(0, 2, 3, 1, 4, 5).reshape(-1, c * k * k)  # rows in (C, k, k) order
    mean = patches.mean(axis=0, dtype=np.float64)
    centred = patches - mean.astype(np.float32)
    covariance = (centred.T @ centred).astype(np.float64) / len(patches)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    filters = (eigenvectors / np.sqrt(np.maximum(eigenvalues, 0.0) + eps)).T  # (d, d), a row each
    weight = np.concatenate([filters, -filters]).reshape(2 * c * k * k, c, k, k)
    bias = -weight.reshape(len(weight), -1) @ mean
    return weight.astype(np.float32), bias.astype(np.float32)
