"""Normalisation layers: batch norm (the op is in `tinygrad_be.norm`) and layer norm."""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_be.nn.functional as F
from tinygrad_be.nn.module import Module, _as_tensor, _floating_dtype
from tinygrad_be.nn.parameter import Parameter
from tinygrad_be.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    """Batch normalisation over `num_features` channels (see `F.batch_norm`).

    Training mode normalises with the batch's statistics and updates the running statistics
    (buffers `running_mean`, `running_var`, `num_batches_tracked`, torch's names; `momentum=None`
    makes them a cumulative average); eval mode normalises with the running statistics. With
    `affine=True` a per-channel `weight` (ones) and `bias` (zeros) are learned.
    """

    expected_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        if int(num_features) <= 0:
            raise ValueError(
                f"{type(self).__name__}: num_features must be positive, got {num_features}"
            )
        dtype = _floating_dtype(type(self).__name__, dtype)
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight: Tensor | None = None
        self.bias: Tensor | None = None
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype))
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def forward(self, x: Any) -> Tensor:
        x = _as_tensor(x)
        if x.ndim not in self.expected_dims:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): expected a {' or '.join(f'{d}-D' for d in self.expected_dims)} "
                f"input, got shape {x.shape}"
            )
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): input has {x.shape[1]} channels "
                f"(shape {x.shape})"
            )
        track = self.training and self.track_running_stats
        momentum = self.momentum
        if track:
            self.num_batches_tracked._data += 1  # a 0-d int64 Tensor, as torch
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or not self.track_running_stats
        # The op updates the running statistics in place: it gets the buffers' arrays.
        return F.batch_norm(
            x,
            self.running_mean._data if self.track_running_stats else None,
            self.running_var._data if self.track_running_stats else None,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=0.0 if momentum is None else momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of x (N, C) per feature."""

    expected_dims = (2,)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of x (N, C, H, W) per channel."""

    expected_dims = (4,)


class LayerNorm(Module):
    """Normalise over the last dims `normalized_shape` to mean 0 and variance 1 (biased), then
    scale by `weight` (ones) and shift by `bias` (zeros), as torch.nn.LayerNorm."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        self.weight: Tensor | None = None
        self.bias: Tensor | None = None
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype))

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
