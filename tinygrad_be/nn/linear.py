"""Linear maps: `Linear`, `Identity`, and `Embedding` (a lookup table)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tinygrad_be.nn.functional as F
from tinygrad_be import rng as _rng
from tinygrad_be.nn.module import Module
from tinygrad_be.nn.parameter import Parameter
from tinygrad_be.tensor import Tensor, get_default_dtype

__all__ = ["Embedding", "Identity", "Linear"]


class Linear(Module):
    """y = x @ weight.T + bias, for x of shape (..., in_features) -> y of shape (..., out_features).

    As torch: `weight` is (out_features, in_features) and `bias` is (out_features,), both
    Parameters starting uniform in +-1/sqrt(in_features), drawn from `rng` (keyword only, not a
    torch argument) or else the library's default generator (`tinygrad_be.manual_seed`): the same
    distribution as torch's, not its numbers. dtype defaults to `get_default_dtype()` (float32).
    The forward pass is one op, `F.linear`.
    """

    # Checkpoints written before the format marker (see nn.checkpoint) hold this weight as
    # (in_features, out_features); Module.load_state_dict transposes it when loading one.
    _transposed_in_old_checkpoints = ("weight",)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if int(in_features) < 0 or int(out_features) < 0:
            raise ValueError(
                f"Linear: in_features and out_features must be >= 0, got {in_features}, "
                f"{out_features}"
            )
        dtype = np.dtype(get_default_dtype() if dtype is None else dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"Linear: dtype must be floating point, not {dtype}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        generator = _rng.resolve(rng)
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
        shape = (self.out_features, self.in_features)
        self.weight = Parameter(generator.uniform(-bound, bound, shape).astype(dtype))
        self.bias: Parameter | None = None
        if bias:
            values = generator.uniform(-bound, bound, self.out_features).astype(dtype)
            self.bias = Parameter(values)
        if device is not None:
            self.to(device)  # drawn on the CPU (the same numbers everywhere), then moved

    def forward(self, input: Any) -> Tensor:  # noqa: A002  (torch's name)
        if not isinstance(input, (Tensor, np.ndarray)):
            input = Tensor(input)
        weight = self.weight
        # One cheap test on the hot path; the detailed message only when it fails.
        if input.ndim == 0 or input.shape[-1] != self.in_features or input.dtype != weight.dtype:
            self._refuse(input)
        return F.linear(input, weight, self.bias)

    def _refuse(self, x: Tensor | np.ndarray) -> None:
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}): input shape {tuple(x.shape)} "
                f"does not end in in_features={self.in_features} (weight shape {self.weight.shape}"
                ", torch's (out_features, in_features))"
            )
        raise TypeError(
            f"Linear({self.in_features}, {self.out_features}): input dtype {x.dtype} differs from "
            f"the weight dtype {self.weight.dtype}; convert the input (x.to({self.weight.dtype}))"
            " or the model (model.to(...))"
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder layer); takes and ignores any arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:  # noqa: A002
        return input


class Embedding(Module):
    """A lookup table: integer indices of any shape (*) -> rows of `weight` (*, embedding_dim).

    `weight` (num_embeddings, embedding_dim) starts standard normal, as in torch; the row
    `padding_idx` (if given) starts at zero and gets no gradient.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype: Any = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        if int(num_embeddings) <= 0 or int(embedding_dim) <= 0:
            raise ValueError(
                f"Embedding: num_embeddings and embedding_dim must be positive, got "
                f"{num_embeddings}, {embedding_dim}"
            )
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} is out of range for "
                    f"{self.num_embeddings} embeddings"
                )
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        shape = (self.num_embeddings, self.embedding_dim)
        values = _rng.resolve(rng).standard_normal(shape).astype(dtype)
        if padding_idx is not None:
            values[padding_idx] = 0
        self.weight = Parameter(values)

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight, padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
