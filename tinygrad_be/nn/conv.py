"""Convolution and pooling layers (the ops, forward beside backward, are in `tinygrad_be.conv`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tinygrad_be.nn.functional as F
from tinygrad_be import conv as _conv
from tinygrad_be import rng as _rng
from tinygrad_be.nn.module import Module, _floating_dtype
from tinygrad_be.tensor import Tensor

__all__ = ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "Conv2d", "MaxPool2d"]


class Conv2d(Module):
    """2-D convolution of x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo) (see `F.conv2d`).

    `weight` is (out_channels, in_channels, kh, kw) (torch's layout) and `bias` (out_channels,); both
    start uniform in +-1/sqrt(in_channels·kh·kw), torch's default initialisation, drawn from `rng`
    or else the library's default generator.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        dtype: Any = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        if int(in_channels) <= 0 or int(out_channels) <= 0:
            raise ValueError(
                f"Conv2d: in_channels and out_channels must be positive, got {in_channels}, "
                f"{out_channels}"
            )
        kh, kw = _conv._pair("Conv2d", "kernel_size", kernel_size)
        if kh <= 0 or kw <= 0:
            raise ValueError(f"Conv2d: kernel size must be positive, got {kernel_size!r}")
        dtype = _floating_dtype("Conv2d", dtype)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = (kh, kw)
        self.stride = _conv._pair("Conv2d", "stride", stride)
        self.padding = _conv._pair("Conv2d", "padding", padding)
        generator = _rng.resolve(rng)
        bound = 1.0 / math.sqrt(self.in_channels * kh * kw)
        shape = (self.out_channels, self.in_channels, kh, kw)
        self.weight = Tensor(
            generator.uniform(-bound, bound, shape).astype(dtype), requires_grad=True
        )
        self.bias: Tensor | None = None
        if bias:
            values = generator.uniform(-bound, bound, self.out_channels).astype(dtype)
            self.bias = Tensor(values, requires_grad=True)

    def forward(self, x: Any) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"  # always, as torch prints it
        text += f", padding={self.padding}" if self.padding != (0, 0) else ""
        return text + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    """Max over kernel_size windows (see `F.max_pool2d`); stride defaults to kernel_size."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def forward(self, x: Any) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    """Mean over kernel_size windows (see `F.avg_pool2d`); stride defaults to kernel_size."""

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    """Average-pool to `output_size` (which must divide the input size); 1 is global pooling."""

    def __init__(self, output_size: int | tuple[int, int]) -> None:
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """Max-pool to `output_size` (which must divide the input size); 1 is global pooling."""

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_max_pool2d(x, self.output_size)
