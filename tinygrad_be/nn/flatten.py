"""Shape layers: `Flatten` and `Unflatten`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinygrad_be.nn.module import Module, _as_tensor
from tinygrad_be.tensor import Tensor

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge the dims from `start_dim` to `end_dim` (inclusive) into one: (N, 3, 32, 32) ->
    (N, 3072) with the defaults start_dim=1, end_dim=-1 (torch's; the batch dim stays)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, input: Any) -> Tensor:  # noqa: A002  (torch's name)
        return _as_tensor(input).flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim `dim` into `unflattened_size` (one entry may be -1): (N, 12) -> (N, 3, 4) with
    Unflatten(1, (3, 4))."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if isinstance(unflattened_size, int) or not all(
            isinstance(s, int) for s in unflattened_size
        ):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}"
            )
        self.dim, self.unflattened_size = int(dim), tuple(unflattened_size)

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        x = _as_tensor(input)
        if not -x.ndim <= self.dim < x.ndim:
            raise IndexError(f"Unflatten: dim {self.dim} is out of range for input {x.shape}")
        dim = self.dim % x.ndim
        size = x.shape[dim]
        known = 1
        for s in self.unflattened_size:
            known *= s if s != -1 else 1
        fits = size % known == 0 if -1 in self.unflattened_size else known == size
        if not fits or self.unflattened_size.count(-1) > 1:
            raise RuntimeError(
                f"unflatten: provided sizes {list(self.unflattened_size)} don't multiply up to the "
                f"size of dim {self.dim} ({size}) in the input tensor {x.shape}"
            )
        return x.reshape(*x.shape[:dim], *self.unflattened_size, *x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
