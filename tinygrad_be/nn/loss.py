"""Loss modules, as torch.nn: each one holds its options and calls its function in `nn.functional`.

>>> criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
>>> loss = criterion(model(x), labels)            # a 0-d Tensor; reduction="none" keeps one per row

Every loss takes `reduction="mean" | "sum" | "none"`. torch's deprecated `size_average` and `reduce`
arguments are accepted in the same positions and mapped to a reduction the way torch maps them.
Class weights (`weight`, `pos_weight`) are buffers, as in torch: they appear in `state_dict()`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_be.nn.functional as F
from tinygrad_be.nn.module import Module
from tinygrad_be.tensor import Tensor

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
]


def _weight_buffer(value: Any) -> Tensor | None:
    """A class weight as a Tensor (a buffer: saved with the module, never trained)."""
    if value is None or isinstance(value, Tensor):
        return value
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    return Tensor._wrap(array)


class _Loss(Module):
    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.reduction = F._reduction(
            type(self).__name__, size_average, reduce, reduction, stacklevel=4
        )


class _WeightedLoss(_Loss):
    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _weight_buffer(weight))


class L1Loss(_Loss):
    """mean |input - target| (or the sum, or each |difference| with reduction="none")."""

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002  (torch's name)
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """mean (input - target)² (or the sum, or each squared difference with reduction="none")."""

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (N, C) (or (N, C, d1, ...), or (C,)) against class indices
    (N,) or class probabilities (N, C); see `F.cross_entropy` for weight, ignore_index and
    label_smoothing."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C) at class indices (N,) (pair it with
    `LogSoftmax(dim=1)`; `CrossEntropyLoss` is the two in one)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = int(ignore_index)

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.nll_loss(
            input, target, weight=self.weight, ignore_index=self.ignore_index,
            reduction=self.reduction,
        )  # fmt: skip


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1] against targets of the same shape."""

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(logits), computed stably from the logits; `pos_weight`
    weighs the positive term of each class (broadcast along the last dim)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: Any = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _weight_buffer(weight))
        self.register_buffer("pos_weight", _weight_buffer(pos_weight))

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=self.reduction,
            pos_weight=self.pos_weight,
        )  # fmt: skip
