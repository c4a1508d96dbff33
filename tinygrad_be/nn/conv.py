"""Convolution and pooling layers (the ops, forward beside backward, are in `tinygrad_be.conv`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tinygrad_be.nn.functional as F
from tinygrad_be import conv as _conv
from tinygrad_be import rng as _rng
from tinygrad_be.device import resolve as _resolve_device
from tinygrad_be.nn.module import Module, _floating_dtype
from tinygrad_be.nn.parameter import Parameter
from tinygrad_be.tensor import Tensor, get_default_dtype

__all__ = ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "Conv2d", "MaxPool2d"]


class Conv2d(Module):
    """2-D convolution of x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo) (see `F.conv2d`).

    `weight` is (out_channels, in_channels / groups, kh, kw) (torch's layout) and `bias`
    (out_channels,); both start uniform in +-1/sqrt(in_channels / groups · kh · kw), torch's default
    initialisation (the same distribution as torch's, not its numbers), drawn from `rng` (keyword
    only, not a torch argument) or else the library's default generator; dtype defaults to
    `get_default_dtype()` (float32). `groups` splits the channels into groups convolved separately
    (groups = in_channels: depthwise); `padding` is an int, a pair, 'valid' or 'same'. Only
    `padding_mode='zeros'` is supported.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if int(in_channels) <= 0 or int(out_channels) <= 0:
            raise ValueError(
                f"Conv2d: in_channels and out_channels must be positive, got {in_channels}, "
                f"{out_channels}"
            )
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups <= 0:
            raise ValueError(f"Conv2d: groups must be a positive integer, got {groups!r}")
        for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise ValueError(f"Conv2d: {name}={channels} must be divisible by groups={groups}")
        kh, kw = _conv._pair("Conv2d", "kernel_size", kernel_size)
        if kh <= 0 or kw <= 0:
            raise ValueError(f"Conv2d: kernel size must be positive, got {kernel_size!r}")
        self.stride = _conv._pair("Conv2d", "stride", stride)
        self.dilation = _conv._pair("Conv2d", "dilation", dilation)
        if min(self.dilation) <= 0:
            raise ValueError(f"Conv2d: dilation must be positive, got {dilation!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"Conv2d: invalid padding string {padding!r}, should be one of "
                    "{'same', 'valid'}"
                )
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(
                    f"Conv2d: padding='same' is not supported for strided convolutions "
                    f"(stride {self.stride}), as in torch"
                )
            self.padding: tuple[int, int] | str = padding
        else:
            self.padding = _conv._pair("Conv2d", "padding", padding)
        if padding_mode != "zeros":
            if padding_mode in ("reflect", "replicate", "circular"):
                raise NotImplementedError(
                    f"Conv2d: padding_mode={padding_mode!r} is not supported; only 'zeros' "
                    "(torch also has 'reflect', 'replicate' and 'circular')"
                )
            raise ValueError(
                "Conv2d: padding_mode must be one of {'zeros', 'reflect', 'replicate', "
                f"'circular'}}, got {padding_mode!r}"
            )
        _resolve_device(device, "Conv2d")
        dtype = _floating_dtype("Conv2d", get_default_dtype() if dtype is None else dtype)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = (kh, kw)
        self.groups, self.padding_mode = int(groups), padding_mode
        generator = _rng.resolve(rng)
        fan_in = self.in_channels // self.groups * kh * kw
        bound = 1.0 / math.sqrt(fan_in)
        shape = (self.out_channels, self.in_channels // self.groups, kh, kw)
        self.weight = Parameter(generator.uniform(-bound, bound, shape).astype(dtype))
        self.bias: Parameter | None = None
        if bias:
            values = generator.uniform(-bound, bound, self.out_channels).astype(dtype)
            self.bias = Parameter(values)

    def forward(self, input: Any) -> Tensor:  # noqa: A002  (torch's name)
        return F.conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        # torch's format: stride always, the others only when not their default.
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class MaxPool2d(Module):
    """Max over kernel_size windows (see `F.max_pool2d`); stride defaults to kernel_size.

    The arguments are torch's, in torch's order (return_indices before ceil_mode, unlike
    `F.max_pool2d`); with return_indices=True, calling it returns (output, indices).
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        self.kernel_size, self.padding, self.dilation = kernel_size, padding, dilation
        self.stride = kernel_size if stride is None else stride
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Any) -> Any:
        return F.max_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        # torch's format: dilation and ceil_mode always, return_indices never.
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """Mean over kernel_size windows (see `F.avg_pool2d`); stride defaults to kernel_size."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        # torch's format: only these three, whatever the other arguments.
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


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
