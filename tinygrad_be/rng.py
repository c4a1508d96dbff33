"""The library's default random generator, and `manual_seed` to make a run reproducible.

Everything random in tinygrad_be (Linear's initial weights, Dropout's masks, the order of an
unseeded DataLoader) draws from one numpy `Generator`, unless an explicit `rng=` argument is given:

>>> import tinygrad_be
>>> tinygrad_be.manual_seed(0)        # same seed, same initial weights, same dropout masks
>>> layer = tinygrad_be.nn.Linear(4, 2)

Code inside the library calls `default_generator()` each time it needs randomness (never keeps the
generator), so a `manual_seed` call takes effect everywhere at once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["default_generator", "epoch_generator", "manual_seed", "resolve"]

_generator: np.random.Generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Replace the default generator by a fresh one seeded with `seed`; return it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used where no `rng=` argument is given (reseeded by `manual_seed`)."""
    return _generator


def resolve(rng: np.random.Generator | None) -> np.random.Generator:
    """`rng` itself if given, otherwise the current default generator."""
    return _generator if rng is None else rng


def epoch_generator(seed: int, epoch: int, stream: int) -> np.random.Generator:
    """A generator for one purpose (`stream`: augmentation, dropout, ...) in one epoch of a run.

    Seeded by (seed, epoch, stream) alone, so a run resumed at any epoch draws exactly what the
    uninterrupted run would have, whatever happened before.
    """
    return np.random.default_rng([seed, epoch, stream])
