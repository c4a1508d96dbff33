"""Shape layers: `Flatten`."""

from __future__ import annotations

from typing import Any

from tinygrad_be.nn.module import Module, _as_tensor
from tinygrad_be.tensor import Tensor

__all__ = ["Flatten"]


class Flatten(Module):
    """Merge the axes from `start_dim` on: (N, 3, 32, 32) -> (N, 3072) with the default 1."""

    def __init__(self, start_dim: int = 1) -> None:
        self.start_dim = start_dim

    def forward(self, x: Any) -> Tensor:
        return _as_tensor(x).flatten(self.start_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"
