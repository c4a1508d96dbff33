"""`Dropout`: random zeroing in training, the identity in eval mode."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_be import rng as _rng
from tinygrad_be.nn.module import Module, _as_tensor
from tinygrad_be.tensor import Tensor

__all__ = ["Dropout"]


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability `p` and scale the rest by
    1 / (1 - p), so the expected output equals the input; in eval mode, the identity.

    Masks are drawn from `rng`, or else from the library's default generator at call time.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = rng

    def forward(self, x: Any) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        x = _as_tensor(x)
        if self.p == 1.0:
            return x * 0.0
        draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        keep = _rng.resolve(self.rng).random(x.shape, dtype=draw_dtype) >= self.p
        mask = np.multiply(keep, 1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * Tensor._wrap(mask)

    def extra_repr(self) -> str:
        return f"p={self.p}"
