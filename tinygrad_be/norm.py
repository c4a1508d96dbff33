"""Batch normalisation as one fused `Function` (torch's `F.batch_norm`).

For x (N, C) or (N, C, H, W), each channel c is normalised over every other axis:

    training:  mean, var = the batch's mean and *biased* variance of channel c
               y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]
               running_mean = (1 - momentum) * running_mean + momentum * mean
               running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)
                              (the unbiased variance, m values per channel; exactly torch's rule)
    eval:      y = (x - running_mean) / sqrt(running_var + eps) * weight[c] + bias[c]

The work is done on a 3-D view of x in the memory order it comes in: (m, C, 1) rows for the
channels-last memory that the convolutions pass along (see `conv.py`), (N, C, H·W) for NCHW
memory; either view is free, and every statistic is a sum over its axes 0 and 2. Backward uses the fused formula (x̂ the normalised input, g the output's gradient):

    dbias   = Σ g          dweight = Σ g·x̂
    dx      = weight / sqrt(var + eps) · (g - dbias/m - x̂ · dweight/m)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_be import backend
from tinygrad_be.backend import array_module, einsum
from tinygrad_be.tensor import Function, Tensor

__all__ = ["batch_norm"]

Array = np.ndarray


def _channel_view(x: Array, channels_last: bool) -> Array:
    """x (N, C) or (N, C, H, W) -> a 3-D view (A, C, B) with the channel in the middle, so each
    statistic is a reduction over axes (0, 2): (m, C, 1) rows for channels-last memory, (N, C, H·W)
    for NCHW memory. A view without a copy when the memory is in the order asked for."""
    if x.ndim == 2:
        return x[:, :, None]
    if channels_last:
        return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1], 1)
    return x.reshape(x.shape[0], x.shape[1], -1)


def _is_channels_last(x: Array) -> bool:
    return x.ndim == 4 and np.moveaxis(x, 1, -1).flags.c_contiguous and not x.flags.c_contiguous


def _like_input(view: Array, shape: tuple[int, ...], channels_last: bool) -> Array:
    """The (A, C, B) view back in x's NCHW shape (a view of the same memory)."""
    if len(shape) == 2:
        return view[:, :, 0]
    if channels_last:
        n, c, h, w = shape
        return view.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return view.reshape(shape)


class BatchNorm(Function):
    # backward reads its own normalised copy, never the output: an in-place op after batch norm
    # (ReLU(inplace=True), as torch models do) is safe
    saves_inputs, saves_output = True, False

    def forward(
        self,
        x: Array,
        weight: Array,
        bias: Array,
        running_mean: Array | None,
        running_var: Array | None,
        training: bool,
        momentum: float,
        eps: float,
    ) -> Array:
        # Work in the memory order x comes in (channels-last inside a CNN): no layout copy.
        channels_last = _is_channels_last(x)
        v = _channel_view(x, channels_last)
        m = v.shape[0] * v.shape[2]
        dtype = x.dtype
        if training:
            mean = v.mean(axis=(0, 2))
            centred = v - mean[:, None]
            var = einsum("acb,acb->c", centred, centred) / m  # biased, one pass, no temporary
            inv_std = 1.0 / np.sqrt(var + dtype.type(eps))
            if running_mean is not None:
                unbiased = var * (m / (m - 1)) if m > 1 else np.full_like(var, np.nan)
                running_mean *= 1 - momentum
                running_mean += momentum * mean.astype(running_mean.dtype, copy=False)
                running_var *= 1 - momentum
                running_var += momentum * unbiased.astype(running_var.dtype, copy=False)
            normalised = np.multiply(centred, inv_std[:, None], out=centred)
        else:
            inv_std = (1.0 / np.sqrt(running_var + eps)).astype(dtype, copy=False)
            shift = running_mean.astype(dtype, copy=False)[:, None]
            normalised = (v - shift) * inv_std[:, None]
        out = normalised * weight[:, None]
        out += bias[:, None]
        self.normalised, self.inv_std, self.weight = normalised, inv_std, weight
        self.training, self.input_shape, self.channels_last = training, x.shape, channels_last
        return _like_input(out, x.shape, channels_last)

    def backward(self, grad: Array) -> tuple[Array | None, Array | None, Array | None]:
        need_x, need_weight, need_bias = self.needs_input_grad
        g = _channel_view(grad, self.channels_last)  # in the forward pass's memory order
        m = g.shape[0] * g.shape[2]
        grad_bias = g.sum(axis=(0, 2))
        grad_weight = einsum("acb,acb->c", g, self.normalised)
        grad_x = None
        if need_x:
            scale = (self.weight * self.inv_std)[:, None]
            if self.training:  # the batch statistics depend on x too
                grad_x = self.normalised * (grad_weight / m)[:, None]
                np.subtract(g, grad_x, out=grad_x)
                grad_x -= (grad_bias / m)[:, None]
                grad_x *= scale
            else:
                grad_x = g * scale
            grad_x = _like_input(grad_x, self.input_shape, self.channels_last)
        return (
            grad_x,
            grad_weight if need_weight else None,
            grad_bias if need_bias else None,
        )


def batch_norm(
    x: Tensor | Array,
    running_mean: Array | None,
    running_var: Array | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation of x (N, C) or (N, C, H, W) per channel, as torch's `F.batch_norm`.

    `running_mean`/`running_var` are arrays (C,) on x's device, updated in place in training (they may be
    None in training, then nothing is tracked); `weight`/`bias` (C,) default to 1 and 0.
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim not in (2, 4):
        raise ValueError(f"batch_norm: input must be (N, C) or (N, C, H, W), got shape {x.shape}")
    channels = x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is None:
            if not training:
                raise ValueError(f"batch_norm: {name} is needed in eval mode (training=False)")
        elif not hasattr(value, "shape") or value.shape != (channels,):
            raise ValueError(
                f"batch_norm: {name} must be an array of shape ({channels},) for input "
                f"{x.shape}, got {getattr(value, 'shape', type(value).__name__)}"
            )
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if training and int(np.prod(x.shape)) // channels < 2:
        raise ValueError(
            f"batch_norm: training needs more than one value per channel, got input {x.shape}"
        )
    weight = _parameter_or(weight, 1.0, "weight", channels, x)
    bias = _parameter_or(bias, 0.0, "bias", channels, x)
    return BatchNorm.apply(
        x,
        weight,
        bias,
        running_mean=running_mean,
        running_var=running_var,
        training=bool(training),
        momentum=float(momentum),
        eps=float(eps),
    )


def _parameter_or(value: Any, default: float, name: str, channels: int, x: Tensor) -> Tensor:
    if value is None:  # on x's device, in x's dtype
        return Tensor._wrap(array_module(x._data).full(channels, default, dtype=x.dtype))
    value = value if isinstance(value, Tensor) else Tensor(backend.like(value, x._data), dtype=x.dtype)
    if value.shape != (channels,):
        raise ValueError(
            f"batch_norm: {name} must have shape ({channels},) for {channels} channels, "
            f"got {value.shape}"
        )
    return value
