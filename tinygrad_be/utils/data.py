"""Mini-batches over numpy arrays.

>>> loader = DataLoader(x_train, y_train, batch_size=256, shuffle=True, seed=0)
>>> len(loader)                      # batches per epoch
>>> for epoch in range(10):
...     for x, y in loader:          # x: (<=256, ...) rows of x_train, y: matching labels
...         ...

Each epoch draws a fresh permutation of the sample indices and takes every batch with one fancy
index (`x[order[i:i + batch_size]]`): no Python loop over samples, and only one batch is copied at a
time, so the memory used is bounded by the batch however large the data set is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tinygrad_be import rng as _rng

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over (x_batch, y_batch) pairs of numpy arrays, rows `x[i]` paired with `y[i]`.

    - `x`: (N, ...) array of samples, `y`: (N, ...) array of targets (same first dimension).
    - `batch_size`: rows per batch; the last batch is smaller unless `drop_last=True` drops it.
    - `shuffle=False`: batches are views (slices) in the arrays' order. `shuffle=True`: each epoch
      is a new random order and each batch is a copy.
    - `seed`: if given, epoch e's order is `default_rng([seed, e]).permutation(N)`, the same in
      every run, whatever happened before; set `loader.epoch` to resume at a given epoch. If None,
      orders come from the library's default generator (`tinygrad_be.manual_seed`).
    - `transform`: optional function applied to each x batch (e.g. uint8 pixels -> scaled
      float32), so the whole data set never needs converting at once.

    `len(loader)` is the number of batches per epoch. `loader.epoch` counts the epochs started.
    """

    def __init__(
        self,
        x: Any,
        y: Any,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int | None = None,
        transform: Callable[[np.ndarray], Any] | None = None,
    ) -> None:
        self.x, self.y = np.asarray(x), np.asarray(y)
        if self.x.ndim == 0 or self.y.ndim == 0:
            raise ValueError(
                f"DataLoader: x and y need a first (sample) dimension, got shapes {self.x.shape} "
                f"and {self.y.shape}"
            )
        if len(self.x) != len(self.y):
            raise ValueError(
                f"DataLoader: x has {len(self.x)} samples (shape {self.x.shape}) but y has "
                f"{len(self.y)} (shape {self.y.shape})"
            )
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size}")
        if seed is not None and (int(seed) != seed or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative integer or None, got {seed}")
        self.batch_size = int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.seed = None if seed is None else int(seed)
        self.transform = transform
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return len(self.x)

    def __len__(self) -> int:
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def order(self, epoch: int) -> np.ndarray:
        """The sample indices (N,) in the order epoch `epoch` visits them."""
        n = len(self.x)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is None:
            return _rng.default_generator().permutation(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray]]:
        # Not a generator function: the epoch's order is fixed (and the counter advanced) at the
        # moment iteration starts, not at the first next().
        order = self.order(self.epoch) if self.shuffle else None
        self.epoch += 1
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[Any, np.ndarray]]:
        x, y, size, transform = self.x, self.y, self.batch_size, self.transform
        for b in range(len(self)):
            if order is None:
                batch_x, batch_y = x[b * size : (b + 1) * size], y[b * size : (b + 1) * size]
            else:
                index = order[b * size : (b + 1) * size]
                batch_x, batch_y = x[index], y[index]
            yield (batch_x if transform is None else transform(batch_x)), batch_y

    def __repr__(self) -> str:
        return (
            f"DataLoader({len(self.x)} samples, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed}, "
            f"{len(self)} batches)"
        )
