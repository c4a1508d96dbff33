"""Losses and activations as functions of Tensors (import as `F`, like torch.nn.functional)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_be import ops
from tinygrad_be.tensor import Tensor

__all__ = [
    "cross_entropy",
    "log_softmax",
    "mse_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def mse_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error between `pred` and `target`, which must have the same shape.

    No broadcasting: an (N, 1) prediction against an (N,) target would silently compare every
    prediction with every target, so differing shapes are refused.
    """
    _check_reduction("mse_loss", reduction)
    pred = _tensor(pred)
    if not isinstance(target, Tensor):  # an array target takes the prediction's dtype
        target = Tensor(np.asarray(target), dtype=pred.dtype)
    if pred.shape != target.shape:
        raise ValueError(
            f"mse_loss: pred shape {pred.shape} and target shape {target.shape} differ "
            "(no broadcasting; reshape one of them)"
        )
    squared = (pred - target) ** 2
    if reduction == "mean":
        return squared.mean()
    if reduction == "sum":
        return squared.sum()
    return squared


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of `logits` (N, C) against class indices (N,) or probabilities (N, C).

    Fused and numerically stable: log-softmax via the max-shifted log-sum-exp, gradient
    `softmax(logits) - onehot(target)`. Integer targets pick the class; floating targets are
    probabilities (and get a gradient too if they require it).
    """
    _check_reduction("cross_entropy", reduction)
    logits = _tensor(logits)
    if isinstance(target, Tensor):
        target_tensor = target
    else:
        array = np.asarray(target)
        if not np.issubdtype(array.dtype, np.integer):
            array = array.astype(logits.dtype, copy=False)
        target_tensor = Tensor._wrap(array)
    return ops.CrossEntropy.apply(logits, target_tensor, reduction=reduction)


def one_hot(labels: Any, num_classes: int | None = None, dtype: Any = np.float32) -> Tensor:
    """Class indices (N,) -> one-hot rows (N, C), C = num_classes or max(labels) + 1.

    Unlike torch (int64), the result is float32 by default, ready to be a regression target.
    """
    labels = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"one_hot: labels must be a 1-D integer array, got {labels.dtype} {labels.shape}"
        )
    if labels.size and labels.min() < 0:
        raise ValueError(f"one_hot: labels must be >= 0, got {labels.min()}")
    needed = int(labels.max()) + 1 if labels.size else 0
    num_classes = needed if num_classes is None else int(num_classes)
    if needed > num_classes:
        raise ValueError(f"one_hot: label {needed - 1} does not fit num_classes={num_classes}")
    encoded = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    encoded[np.arange(labels.shape[0]), labels] = 1
    return Tensor(encoded)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return _tensor(x).softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return _tensor(x).log_softmax(axis)


def sigmoid(x: Tensor) -> Tensor:
    return _tensor(x).sigmoid()


def relu(x: Tensor) -> Tensor:
    return _tensor(x).relu()


def tanh(x: Tensor) -> Tensor:
    return _tensor(x).tanh()
