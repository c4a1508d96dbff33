"""Losses and activations as functions of Tensors (import as `F`, like torch.nn.functional)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_be import backend as _backend
from tinygrad_be import ops
from tinygrad_be import rng as _rng
from tinygrad_be.tensor import Function, Tensor, _as_tensor, is_grad_enabled

__all__ = [
    "silu",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "hardtanh",
    "hardtanh_",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "leaky_relu_",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "relu6",
    "relu_",
    "sigmoid",
    "softmax",
    "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduction(
    name: str, size_average: Any, reduce: Any, reduction: str, stacklevel: int = 3
) -> str:
    """The reduction, from torch's deprecated `size_average` / `reduce` when either is given
    (reduce=False -> "none", else size_average=False -> "sum", else "mean"). `stacklevel` points
    the warning at the caller's code (3: the caller of a function calling this one)."""
    if size_average is not None or reduce is not None:
        reduction = "none" if reduce is False else ("sum" if size_average is False else "mean")
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use reduction='{reduction}' "
            "instead.",
            UserWarning,
            stacklevel=stacklevel,
        )
    _check_reduction(name, reduction)
    return reduction


def _pair_like(name: str, pred: Any, target: Any) -> tuple[Tensor, Tensor]:
    """The prediction and a target of the same shape (a non-Tensor target takes pred's dtype).

    No broadcasting: an (N, 1) prediction against an (N,) target would silently compare every
    prediction with every target (torch only warns), so differing shapes are refused.
    """
    pred = _as_tensor(pred)
    if not isinstance(target, Tensor):
        target = Tensor(_backend.like(target, pred._data), dtype=pred.dtype)
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: input shape {pred.shape} and target shape {target.shape} differ "
            "(no broadcasting; reshape one of them)"
        )
    return pred, target


def mse_loss(
    input: Any,  # noqa: A002  (torch's argument names, so keyword calls work unchanged)
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Mean squared error (input - target)² over elements of one shape ("sum", "none" too)."""
    reduction = _reduction("mse_loss", size_average, reduce, reduction)
    pred, target = _pair_like("mse_loss", input, target)
    return _reduce((pred - target) ** 2, reduction)


def l1_loss(
    input: Any,  # noqa: A002
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Mean absolute error |input - target| over elements of one shape ("sum", "none" too)."""
    reduction = _reduction("l1_loss", size_average, reduce, reduction)
    pred, target = _pair_like("l1_loss", input, target)
    return _reduce((pred - target).abs(), reduction)


def _classes_last(
    name: str, logits: Tensor, target: Tensor
) -> tuple[Tensor, Tensor, tuple[int, ...] | None]:
    """torch's other input shapes as the (N, C) rows the losses compute on.

    (C,) with a 0-d target is one row; (N, C, d1, ..., dk) with a target (N, d1, ..., dk) (or
    probabilities of the input's shape) is N * d1 * ... * dk rows. Returns the rows, the target and
    the shape a reduction="none" result takes (None: keep it as it is).
    """
    if logits.ndim == 1:
        return logits.reshape(1, -1), target.reshape(1, *target.shape), ()
    if logits.ndim <= 2:
        return logits, target, None
    n, c, *spatial = logits.shape
    order = (0, *range(2, logits.ndim), 1)  # classes last, then one row per position
    rows = logits.permute(order).reshape(-1, c)
    if np.issubdtype(target.dtype, np.integer):
        if target.shape != (n, *spatial):
            raise ValueError(
                f"{name}: target must have shape {(n, *spatial)} for input {logits.shape}, got "
                f"{target.shape}"
            )
        return rows, target.reshape(-1), (n, *spatial)
    if target.shape != logits.shape:
        raise ValueError(
            f"{name}: probability target must have the input's shape {logits.shape}, got "
            f"{target.shape}"
        )
    return rows, target.permute(order).reshape(-1, c), (n, *spatial)


def cross_entropy(
    input: Any,  # noqa: A002
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits (N, C) against class indices (N,) or probabilities (N, C).

    Also (C,) against a 0-d class, and (N, C, d1, ...) against (N, d1, ...) (per position, e.g.
    per pixel). As torch.nn.functional.cross_entropy: `weight` (C,) weighs each class (with class
    indices, "mean" divides by the summed weights of the rows); rows whose class is `ignore_index`
    count for nothing; `label_smoothing` mixes the target with the uniform distribution over the C
    classes. Without these options it is one fused, numerically stable op: log-softmax via the
    max-shifted log-sum-exp, gradient `softmax(logits) - onehot(target)`. Integer targets pick the
    class; floating targets are probabilities (and get a gradient too if they require it).
    """
    reduction = _reduction("cross_entropy", size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    logits = _as_tensor(input)
    if isinstance(target, Tensor):
        target_tensor = target
    else:
        array = _backend.like(target, logits._data)  # on the logits' device
        if not np.issubdtype(array.dtype, np.integer):
            array = array.astype(logits.dtype, copy=False)
        target_tensor = Tensor._wrap(array)
    logits, target_tensor, shape = _classes_last("cross_entropy", logits, target_tensor)
    loss = _cross_entropy_rows(
        logits, target_tensor, weight, ignore_index, reduction, label_smoothing
    )
    return loss if shape is None or reduction != "none" else loss.reshape(shape)


def _cross_entropy_rows(
    logits: Tensor,
    target_tensor: Tensor,
    weight: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    by_index = np.issubdtype(target_tensor.dtype, np.integer)
    plain = weight is None and label_smoothing == 0.0
    if plain and (not by_index or not (target_tensor._data == ignore_index).any()):
        return ops.CrossEntropy.apply(logits, target_tensor, reduction=reduction)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got shape {logits.shape}")
    log_probs = logits.log_softmax(dim=1)
    num_classes = logits.shape[1]
    class_weight = None if weight is None else _constant_array(weight, logits)
    if not by_index:  # probabilities: smooth them, weigh each class, average over the rows
        probs = target_tensor
        if label_smoothing:
            probs = probs * (1.0 - label_smoothing) + label_smoothing / num_classes
        weighted = log_probs if class_weight is None else log_probs * class_weight
        return _reduce(-(probs * weighted).sum(dim=1), reduction)
    loss = nll_loss(log_probs, target_tensor, class_weight, None, ignore_index, None, reduction)
    if not label_smoothing:
        return loss
    # torch: (1 - eps) * nll + eps / C * sum_c -w_c log p_c, on the same rows and denominator
    counted = (target_tensor._data != ignore_index).astype(logits.dtype)
    weighted = log_probs if class_weight is None else log_probs * class_weight
    smooth = -(weighted.sum(dim=1) * counted)
    if reduction == "mean":
        safe = np.where(counted > 0, target_tensor._data, 0)
        rows = counted if class_weight is None else counted * class_weight[safe]
        smooth = smooth.sum() / rows.sum()
    else:
        smooth = _reduce(smooth, reduction)
    return loss * (1.0 - label_smoothing) + smooth * (label_smoothing / num_classes)


def nll_loss(
    input: Any,  # noqa: A002
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C) at integer classes (N,), as torch:
    `weight` (C,) per class, rows at `ignore_index` skipped, "mean" over the rows' summed weights.
    Also (C,) with a 0-d class and (N, C, d1, ...) with classes (N, d1, ...)."""
    reduction = _reduction("nll_loss", size_average, reduce, reduction)
    input = _as_tensor(input)  # noqa: A001
    target = (
        target if isinstance(target, Tensor) else Tensor._wrap(_backend.like(target, input._data))
    )
    log_probs, target, shape = _classes_last("nll_loss", input, target)
    class_weight = None if weight is None else _constant_array(weight, log_probs)
    loss = ops.NLLLoss.apply(
        log_probs, target, weight=class_weight, ignore_index=ignore_index, reduction=reduction
    )
    return loss if shape is None or reduction != "none" else loss.reshape(shape)


def binary_cross_entropy(
    input: Any,  # noqa: A002
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p and targets t of one shape; `weight`
    broadcasts to it. Logs are clamped at -100, as torch (prefer the `_with_logits` form)."""
    reduction = _reduction("binary_cross_entropy", size_average, reduce, reduction)
    probs = _as_tensor(input)
    target = _target_like(target, probs)
    w = None if weight is None else _constant_array(weight, probs)
    return ops.BinaryCrossEntropy.apply(probs, target, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Any,  # noqa: A002
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Binary cross-entropy of sigmoid(logits), computed stably from the logits (as torch);
    `pos_weight` weighs the positive term (per class, broadcast along the last dim)."""
    reduction = _reduction("binary_cross_entropy_with_logits", size_average, reduce, reduction)
    logits = _as_tensor(input)
    target = _target_like(target, logits)
    w = None if weight is None else _constant_array(weight, logits)
    pw = None if pos_weight is None else _constant_array(pos_weight, logits)
    return ops.BinaryCrossEntropyWithLogits.apply(
        logits, target, weight=w, pos_weight=pw, reduction=reduction
    )


def _constant_array(value: Any, input: Tensor) -> np.ndarray:  # noqa: A002
    """A weight given as a Tensor, array or list, as an array of the input's dtype and device
    (no gradient)."""
    return _backend.like(
        value._data if isinstance(value, Tensor) else value, input._data, input.dtype
    )


def _target_like(target: Any, pred: Tensor) -> Tensor:
    """A non-Tensor target as a Tensor of the prediction's dtype."""
    if isinstance(target, Tensor):
        return target
    return Tensor._wrap(_backend.like(target, pred._data, pred.dtype))


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
    labels = _backend.as_array(labels._data if isinstance(labels, Tensor) else labels)
    xp = _backend.array_module(labels)
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
    encoded = xp.zeros((labels.shape[0], num_classes), dtype=dtype)
    encoded[xp.arange(labels.shape[0]), labels] = 1
    return Tensor(encoded)


def _softmax_dim(name: str, ndim: int, dim: int | None, axis: int | None) -> int:
    if axis is not None:  # numpy's name, kept as an alias
        if dim is not None and dim != axis:
            raise TypeError(f"{name}: got both dim={dim!r} and axis={axis!r}; pass one")
        return axis
    if dim is not None:
        return dim
    # torch's legacy choice when no dim is given, with torch's warning
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(
    input: Any,  # noqa: A002
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: Any = None,
    *,
    axis: int | None = None,
) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim` (`axis=` is an alias). Without a dim, torch's legacy
    choice (dim 0 for 0-, 1- and 3-D inputs, else 1) with torch's deprecation warning. `dtype`
    casts the input first, as torch."""
    x = _as_tensor(input) if dtype is None else _as_tensor(input).astype(dtype)
    return x.softmax(_softmax_dim("softmax", x.ndim, dim, axis))


def log_softmax(
    input: Any,  # noqa: A002
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: Any = None,
    *,
    axis: int | None = None,
) -> Tensor:
    """log(softmax(x)) along `dim` (`axis=` is an alias), computed stably; no dim as `softmax`."""
    x = _as_tensor(input) if dtype is None else _as_tensor(input).astype(dtype)
    return x.log_softmax(_softmax_dim("log_softmax", x.ndim, dim, axis))


def sigmoid(input: Any) -> Tensor:  # noqa: A002
    return _as_tensor(input).sigmoid()


def tanh(input: Any) -> Tensor:  # noqa: A002
    return _as_tensor(input).tanh()


def silu(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * sigmoid(x) (also called swish). `inplace=True` is refused: the op reads its input."""
    if inplace:
        raise NotImplementedError("silu: inplace=True is not supported; use the default")
    x = _as_tensor(input)
    return x * x.sigmoid()


def gelu(input: Any, approximate: str = "none") -> Tensor:  # noqa: A002
    """x * Phi(x) (Phi the standard normal CDF), or torch's tanh approximation with "tanh"."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return ops.GELU.apply(_as_tensor(input), approximate=approximate)


# --------------------------------------------------------------------------------------------------
# In place (inplace=True): torch's relu_, leaky_relu_, hardtanh_, dropout(inplace=True)
class _InPlace(Function):
    """The graph node an in-place elementwise op leaves: its backward multiplies the gradient by
    the local derivative the op computed (the op's own array, so later writes to the tensor do not
    change it)."""

    saves_inputs, saves_output = False, False

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:
        raise TypeError("_InPlace is made by _in_place, not applied")

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray]:
        return (grad * self.derivative,)

    def name(self) -> str:
        return self.op  # torch's name for the node, e.g. ReluBackward0


# The names torch 2.13 gives these nodes (what `y.grad_fn` prints)
_GRAPH_NAMES = {
    "relu_": "ReluBackward0",
    "leaky_relu_": "LeakyReluBackward1",
    "hardtanh_": "HardtanhBackward0",
    "dropout_": "MulBackward0",
}


def _in_place(name: str, x: Any, compute: Callable[[np.ndarray], np.ndarray]) -> Tensor:
    """Write `compute(array)`'s result into x's array and return x itself, as torch's inplace ops.

    `compute` overwrites the array it is given and returns the local derivative (an array that
    broadcasts to x). Outside a recorded graph that is all, plus the version bump. Inside one, as
    torch (and as `Tensor.__setitem__`): a leaf that requires grad is refused; otherwise x becomes
    the output of the in-place op in the graph (`Tensor._record_in_place`). Ops that kept x's array
    (x * y, and x's producer if it saved its output, like sigmoid or exp) raise torch's "modified
    by an inplace operation" in backward.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: inplace=True needs a Tensor, got {type(x).__name__}")
    if not (x._requires_grad and is_grad_enabled()):
        compute(x._data)
        x._mark_written()
        return x
    if x._ctx is None:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place operation."
        )
    fn = _InPlace()
    fn.op = _GRAPH_NAMES[name]
    fn.link((x,), (True,))
    x._record_in_place(fn)
    array = x._data
    flags = array.flags  # CuPy's have no `writeable`: its arrays always are
    if not (flags.owndata and getattr(flags, "writeable", True)):
        # a view of memory other tensors may have saved: write the result to a copy instead
        array = x._data = array.copy()
    fn.derivative = compute(array)
    return x


def _relu_in_place(array: np.ndarray) -> np.ndarray:
    positive = array > 0
    np.maximum(array, 0, out=array)  # not array * mask: that turns -1 into -0.0
    return positive


def relu(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(x, 0); `inplace=True` writes the result into x and returns x (see `relu_`)."""
    if inplace:
        return relu_(input)
    return _as_tensor(input).relu()


def relu_(input: Tensor) -> Tensor:  # noqa: A002
    """max(x, 0) written into x, which is returned (torch's in-place rules, see `_in_place`)."""
    return _in_place("relu_", input, _relu_in_place)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, negative_slope * x otherwise (`inplace=True`: written into x)."""
    if inplace:
        return leaky_relu_(input, negative_slope)
    return ops.LeakyReLU.apply(_as_tensor(input), slope=float(negative_slope))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    slope = float(negative_slope)

    def compute(array: np.ndarray) -> np.ndarray:
        derivative = np.where(array > 0, 1.0, slope).astype(array.dtype, copy=False)
        array *= derivative
        return derivative

    return _in_place("leaky_relu_", input, compute)


def hardtanh(
    input: Any,  # noqa: A002
    min_val: float = -1.0,
    max_val: float = 1.0,
    inplace: bool = False,
) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient is 1 strictly inside, 0 outside (torch)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} cannot be greater than max_val {max_val}")
    if inplace:
        return hardtanh_(input, min_val, max_val)
    return _Hardtanh.apply(_as_tensor(input), low=float(min_val), high=float(max_val))


class _Hardtanh(Function):
    """x clamped to [low, high]; gradient 1 strictly inside, 0 at and beyond the bounds (torch)."""

    saves_inputs, saves_output = False, False

    def forward(self, x: np.ndarray, low: float, high: float) -> np.ndarray:
        self.inside = (x > low) & (x < high)
        return np.clip(x, low, high)

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray]:
        return (grad * self.inside,)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:  # noqa: A002
    def compute(array: np.ndarray) -> np.ndarray:
        inside = (array > min_val) & (array < max_val)
        np.clip(array, min_val, max_val, out=array)
        return inside

    return _in_place("hardtanh_", input, compute)


def relu6(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def dropout(
    input: Any,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Inverted dropout: in training, zero each element with probability `p` and scale the rest by
    1 / (1 - p); with training=False, x unchanged. Masks come from `generator` (a numpy Generator)
    or the library's default one (`tinygrad_be.manual_seed`), so they are not torch's numbers."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input if isinstance(input, Tensor) else _as_tensor(input)
    x = input if inplace else _as_tensor(input)
    if p == 1.0:
        scaled = np.zeros((), x.dtype)
    else:
        draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        keep = _rng.resolve(generator).random(x.shape, dtype=draw_dtype) >= p
        scaled = np.multiply(keep, 1.0 / (1.0 - p), dtype=x.dtype)
    scaled = _backend.like(scaled, x._data)  # drawn on the host (one generator), used on x's device
    if not inplace:
        return x * Tensor._wrap(scaled)

    def compute(array: np.ndarray) -> np.ndarray:
        array *= scaled
        return scaled

    return _in_place("dropout_", x, compute)


# --------------------------------------------------------------------------------------------------
# Linear maps
class Addmm(Function):
    """x @ weight.T + bias, one op: x (..., in), weight (out, in) (torch's layout), bias (out,).
    Named after the op torch's Linear records (its grad_fn prints as AddmmBackward0 too).

    Forward is one GEMM (BLAS reads weight.T without copying) plus an in-place bias add; backward
    is two GEMMs and a column sum, each only if that input wants a gradient.
    """

    saves_inputs, saves_output = True, False

    def forward(self, x: np.ndarray, weight: np.ndarray, *bias: np.ndarray) -> np.ndarray:
        self.x, self.weight = x, weight
        out = x @ weight.T
        if bias:
            out += bias[0]
        return out

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        need_x, need_weight, *need_bias = self.needs_input_grad
        x, weight = self.x, self.weight
        rows = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad  # (n, out)
        grad_x = grad @ weight if need_x else None
        grad_weight = None
        if need_weight:
            grad_weight = rows.T @ (x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x)
        if not need_bias:
            return grad_x, grad_weight
        return grad_x, grad_weight, (rows.sum(axis=0) if need_bias[0] else None)


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:  # noqa: A002
    """y = x @ weight.T + bias: x (..., in_features), weight (out_features, in_features), bias
    (out_features,) -> y (..., out_features), as torch.nn.functional.linear. Operands must share
    one floating dtype (as torch)."""
    x, w = _as_tensor(input), _as_tensor(weight)
    b = None if bias is None else _as_tensor(bias)
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"linear: input shape {x.shape} and weight shape {w.shape} do not fit: the input's "
            f"last dim must be in_features = weight.shape[1] (weight is (out_features, "
            "in_features))"
        )
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(
            f"linear: bias shape {b.shape} must be ({w.shape[0]},) for weight {w.shape}"
        )
    if x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
        raise TypeError(
            f"linear: input dtype {x.dtype}, weight dtype {w.dtype}"
            + ("" if b is None else f", bias dtype {b.dtype}")
            + " must be the same (convert with .float() / .double())"
        )
    return Addmm.apply(x, w) if b is None else Addmm.apply(x, w, b)


def embedding(indices: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) at integer `indices` (any shape): (*indices, dim)."""
    indices = _backend.like(indices._data if isinstance(indices, Tensor) else indices, weight._data)
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
    x = _as_tensor(x)
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
