"""Activation layers: each applies one function of `nn.functional` elementwise or along a dim.

`inplace=True` (ReLU, LeakyReLU, Hardtanh, ReLU6, as torch) writes the result into the input and
returns that same Tensor; the rules (a leaf that requires grad is refused, a producer that kept
its output raises in backward) are those of `F.relu_`.
"""

from __future__ import annotations

from typing import Any

import tinygrad_be.nn.functional as F
from tinygrad_be.nn.module import Module
from tinygrad_be.tensor import Tensor

__all__ = [
    "GELU",
    "Hardtanh",
    "LeakyReLU",
    "LogSoftmax",
    "ReLU",
    "SiLU",
    "ReLU6",
    "Sigmoid",
    "Softmax",
    "Tanh",
]


class ReLU(Module):
    """max(x, 0), elementwise."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, input: Any) -> Tensor:  # noqa: A002  (torch's name)
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise and overflow-free."""

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.sigmoid(input)


class SiLU(Module):
    """x * sigmoid(x), elementwise (swish; EfficientNet's activation)."""

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.silu(input)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.tanh(input)


class Softmax(Module):
    """exp(x) / sum(exp(x)) along `dim`; without one, torch's legacy choice and warning (see
    `F.softmax`). `axis=` is accepted as an alias of `dim`."""

    def __init__(self, dim: int | None = None, *, axis: int | None = None) -> None:
        super().__init__()
        self.dim = dim if axis is None else axis

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along `dim`, computed stably (no dim: as `Softmax`)."""

    def __init__(self, dim: int | None = None, *, axis: int | None = None) -> None:
        super().__init__()
        self.dim = dim if axis is None else axis

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GELU(Module):
    """x * Phi(x), Phi the standard normal CDF; `approximate="tanh"` uses torch's tanh formula."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)
        self.inplace = bool(inplace)

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    """x clamped to [min_val, max_val] (gradient 1 strictly inside, else 0)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} is greater than max_val {max_val}")
        self.min_val, self.max_val, self.inplace = float(min_val), float(max_val), bool(inplace)

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        extra = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{extra}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6) (MobileNet's activation)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""
