"""Losses and activations as functions of Tensors (import as `F`, like torch.nn.functional)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_be import ops
from tinygrad_be.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "embedding",
    "gelu",
    "layer_norm",
    "leaky_relu",
    "log_softmax",
    "mse_loss",
    "nll_loss",
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
    if isinstance(x, Tensor):
        return x
    return Tensor._wrap(x) if isinstance(x, np.ndarray) else Tensor(x)  # ops never write inputs


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


def cross_entropy(
    logits: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of `logits` (N, C) against class indices (N,) or probabilities (N, C).

    As torch.nn.functional.cross_entropy: `weight` (C,) weighs each class (with class indices,
    "mean" divides by the summed weights of the rows); rows whose class is `ignore_index` count for
    nothing; `label_smoothing` mixes the target with the uniform distribution over the C classes.
    Without these options it is one fused, numerically stable op: log-softmax via the max-shifted
    log-sum-exp, gradient `softmax(logits) - onehot(target)`. Integer targets pick the class;
    floating targets are probabilities (and get a gradient too if they require it).
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    logits = _tensor(logits)
    if isinstance(target, Tensor):
        target_tensor = target
    else:
        array = np.asarray(target)
        if not np.issubdtype(array.dtype, np.integer):
            array = array.astype(logits.dtype, copy=False)
        target_tensor = Tensor._wrap(array)
    by_index = np.issubdtype(target_tensor.dtype, np.integer)
    plain = weight is None and label_smoothing == 0.0
    if plain and (not by_index or not (target_tensor.data == ignore_index).any()):
        return ops.CrossEntropy.apply(logits, target_tensor, reduction=reduction)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got shape {logits.shape}")
    log_probs = logits.log_softmax(dim=1)
    num_classes = logits.shape[1]
    class_weight = None if weight is None else _constant_array(weight, logits.dtype)
    if not by_index:  # probabilities: smooth them, weigh each class, average over the rows
        probs = target_tensor
        if label_smoothing:
            probs = probs * (1.0 - label_smoothing) + label_smoothing / num_classes
        weighted = log_probs if class_weight is None else log_probs * class_weight
        return _reduce(-(probs * weighted).sum(dim=1), reduction)
    loss = nll_loss(log_probs, target_tensor, class_weight, ignore_index, reduction)
    if not label_smoothing:
        return loss
    # torch: (1 - eps) * nll + eps / C * sum_c -w_c log p_c, on the same rows and denominator
    counted = (target_tensor.data != ignore_index).astype(logits.dtype)
    weighted = log_probs if class_weight is None else log_probs * class_weight
    smooth = -(weighted.sum(dim=1) * counted)
    if reduction == "mean":
        safe = np.where(counted > 0, target_tensor.data, 0)
        rows = counted if class_weight is None else counted * class_weight[safe]
        smooth = smooth.sum() / rows.sum()
    else:
        smooth = _reduce(smooth, reduction)
    return loss * (1.0 - label_smoothing) + smooth * (label_smoothing / num_classes)


def nll_loss(
    log_probs: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C) at integer classes (N,), as torch:
    `weight` (C,) per class, rows at `ignore_index` skipped, "mean" over the rows' summed weights."""
    _check_reduction("nll_loss", reduction)
    target = target if isinstance(target, Tensor) else Tensor._wrap(np.asarray(target))
    log_probs = _tensor(log_probs)
    class_weight = None if weight is None else _constant_array(weight, log_probs.dtype)
    return ops.NLLLoss.apply(
        log_probs, target, weight=class_weight, ignore_index=ignore_index, reduction=reduction
    )


def binary_cross_entropy(
    probs: Tensor, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p and targets t of one shape; `weight`
    broadcasts to it. Logs are clamped at -100, as torch (prefer the `_with_logits` form)."""
    _check_reduction("binary_cross_entropy", reduction)
    probs = _tensor(probs)
    target = _target_like(target, probs)
    w = None if weight is None else _constant_array(weight, probs.dtype)
    return ops.BinaryCrossEntropy.apply(probs, target, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(
    logits: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Binary cross-entropy of sigmoid(logits), computed stably from the logits (as torch);
    `pos_weight` weighs the positive term (per class, broadcast along the last dim)."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    logits = _tensor(logits)
    target = _target_like(target, logits)
    w = None if weight is None else _constant_array(weight, logits.dtype)
    pw = None if pos_weight is None else _constant_array(pos_weight, logits.dtype)
    return ops.BinaryCrossEntropyWithLogits.apply(
        logits, target, weight=w, pos_weight=pw, reduction=reduction
    )


def _constant_array(value: Any, dtype: Any) -> np.ndarray:
    """A weight given as a Tensor, array or list, as an array of the input's dtype (no gradient)."""
    return np.asarray(value.data if isinstance(value, Tensor) else value, dtype=dtype)


def _target_like(target: Any, pred: Tensor) -> Tensor:
    """A non-Tensor target as a Tensor of the prediction's dtype."""
    if isinstance(target, Tensor):
        return target
    return Tensor._wrap(np.asarray(target, dtype=pred.dtype))


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


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


def softmax(x: Tensor, dim: int = -1, *, axis: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim` (`axis=` is an alias)."""
    return _tensor(x).softmax(dim, axis=axis)


def log_softmax(x: Tensor, dim: int = -1, *, axis: int | None = None) -> Tensor:
    """log(softmax(x)) along `dim` (`axis=` is an alias), computed stably."""
    return _tensor(x).log_softmax(dim, axis=axis)


def sigmoid(x: Tensor) -> Tensor:
    return _tensor(x).sigmoid()


def relu(x: Tensor) -> Tensor:
    return _tensor(x).relu()


def tanh(x: Tensor) -> Tensor:
    return _tensor(x).tanh()


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi the standard normal CDF), or torch's tanh approximation with "tanh"."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return ops.GELU.apply(_tensor(x), approximate=approximate)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    return ops.LeakyReLU.apply(_tensor(x), slope=float(negative_slope))


def embedding(indices: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) at integer `indices` (any shape): (*indices, dim)."""
    indices = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    return ops.Embedding.apply(weight, indices=indices, padding_idx=padding_idx)


def layer_norm(
    x: Tensor,
    normalized_shape: int | tuple[int, ...],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last dims `normalized_shape`
    (the biased variance, as torch), built from differentiable ops."""
    x = _tensor(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(
            f"layer_norm: normalized_shape {shape} must be the last dims of the input {x.shape}"
        )
    dims = tuple(range(-len(shape), 0))
    centered = x - x.mean(dim=dims, keepdim=True)
    variance = (centered * centered).mean(dim=dims, keepdim=True)
    out = centered / (variance + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# Convolutional-network ops live in modules of their own; F offers them under torch's names.
from tinygrad_be.conv import (  # noqa: E402
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    conv2d,
    max_pool2d,
)
from tinygrad_be.norm import batch_norm  # noqa: E402

__all__ += [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "max_pool2d",
]
