"""`Dropout`: random zeroing in training, the identity in eval mode."""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_be.nn.functional as F
from tinygrad_be.nn.module import Module
from tinygrad_be.tensor import Tensor

__all__ = ["Dropout"]


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability `p` and scale the rest by
    1 / (1 - p), so the expected output equals the input; in eval mode, the identity.

    `inplace=True` multiplies the input in place (see `F.dropout`). Masks are drawn from `rng`
    (keyword only; not a torch argument), or else from the library's default generator at call
    time: the same seed does not give torch's masks.
    """

    def __init__(
        self, p: float = 0.5, inplace: bool = False, *, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p, self.inplace, self.rng = float(p), bool(inplace), rng

    def forward(self, input: Any) -> Tensor:  # noqa: A002  (torch's name)
        return F.dropout(input, self.p, self.training, self.inplace, generator=self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
