"""Every differentiable op: one `Function` each, forward beside backward.

Conventions (the engine in `tensor.py` relies on them):
- `forward` takes numpy arrays and returns a numpy array; it keeps on `self` what backward needs.
- `backward(grad)` returns one gradient per input. A gradient may have the output's broadcast shape;
  the engine sums it back to the input's shape, so no op handles broadcasting in its backward.
- Gradients keep the dtype of the arrays they are computed from: a float32 graph stays float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_be.tensor import Function

Array = np.ndarray


def _broadcast_error(name: str, a: Array, b: Array) -> ValueError:
    return ValueError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together")


def _normalize_axes(axis: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """Positive axis indices; None means all axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {axis} is out of range for a tensor with {ndim} dims")
    return tuple(sorted({int(a) % ndim for a in axes}))


def _flush_subnormals(x: Array) -> Array:
    """Zero, in place, the values too small to be normal numbers of x's dtype (< 1.2e-38 in float32).

    A saturated sigmoid produces such values, and BLAS matmuls slow down about 30x on subnormal
    operands; dropping them changes nothing a float32 computation could resolve.
    """
    tiny = _SMALLEST_NORMAL.get(x.dtype)
    if tiny is None:
        tiny = _SMALLEST_NORMAL[x.dtype] = np.finfo(x.dtype).tiny
    x[np.abs(x) < tiny] = 0
    return x


_SMALLEST_NORMAL: dict[np.dtype, float] = {}  # per dtype: np.finfo is slow on the hot path


# --------------------------------------------------------------------------------------------------
# Binary arithmetic
class Add(Function):
    def forward(self, a: Array, b: Array) -> Array:
        try:
            return a + b
        except ValueError:
            raise _broadcast_error("add", a, b) from None

    def backward(self, grad: Array) -> tuple[Array, Array]:
        return grad, grad


class Sub(Function):
    def forward(self, a: Array, b: Array) -> Array:
        try:
            return a - b
        except ValueError:
            raise _broadcast_error("sub", a, b) from None

    def backward(self, grad: Array) -> tuple[Array, Array]:
        return grad, -grad


class Mul(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        try:
            return a * b
        except ValueError:
            raise _broadcast_error("mul", a, b) from None

    def backward(self, grad: Array) -> tuple[Array | None, Array | None]:
        need_a, need_b = self.needs_input_grad
        return (grad * self.b if need_a else None), (grad * self.a if need_b else None)


class Div(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        try:
            return a / b
        except ValueError:
            raise _broadcast_error("div", a, b) from None

    def backward(self, grad: Array) -> tuple[Array | None, Array | None]:
        need_a, need_b = self.needs_input_grad
        grad_a = grad / self.b
        grad_b = -grad_a * self.a / self.b if need_b else None
        return (grad_a if need_a else None), grad_b


class Neg(Function):
    def forward(self, x: Array) -> Array:
        return -x

    def backward(self, grad: Array) -> tuple[Array]:
        return (-grad,)


class Pow(Function):
    """x ** p for a constant Python number p."""

    def forward(self, x: Array, exponent: float) -> Array:
        self.x, self.exponent = x, exponent
        return x**exponent

    def backward(self, grad: Array) -> tuple[Array]:
        p = self.exponent
        return (grad * p * self.x ** (p - 1),)


class MatMul(Function):
    """a @ b with numpy's rules: 2-D, batched (leading axes broadcast) and 1-D operands."""

    def forward(self, a: Array, b: Array) -> Array:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape}: both operands need >= 1 dim")
        inner_a = a.shape[-1]
        inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if inner_a != inner_b:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                f"{inner_a} (last dim of a) != {inner_b} (dim {max(b.ndim - 2, 0)} of b)"
            )
        self.a, self.b = a, b
        try:
            return a @ b
        except ValueError:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape}: batch dims cannot be broadcast"
            ) from None

    def backward(self, grad: Array) -> tuple[Array | None, Array | None]:
        a, b = self.a, self.b
        need_a, need_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case, kept free of Python overhead
            return (grad @ b.T if need_a else None), (a.T @ grad if need_b else None)
        # View 1-D operands as matrices (a row, b a column) so one formula serves every case.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad
        if b.ndim == 1:  # first, so that 1-D @ 1-D (a 0-d grad) becomes (1,) and then (1, 1)
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        grad_a = grad_b = None
        if need_a:
            grad_a = g @ np.swapaxes(b2, -1, -2)
            if a.ndim == 1:  # (..., 1, k) -> (k,)
                grad_a = grad_a.reshape(-1, a.shape[0]).sum(axis=0)
        if need_b:
            grad_b = np.swapaxes(a2, -1, -2) @ g
            if b.ndim == 1:  # (..., k, 1) -> (k,)
                grad_b = grad_b.reshape(-1, b.shape[0]).sum(axis=0)
        return grad_a, grad_b


# --------------------------------------------------------------------------------------------------
# Shape
class Transpose(Function):
    def forward(self, x: Array, axes: tuple[int, ...] | None) -> Array:
        if axes is not None and sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of {x.ndim} dims")
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, grad: Array) -> tuple[Array]:
        inverse = None if self.axes is None else np.argsort([a % grad.ndim for a in self.axes])
        return (np.transpose(grad, inverse),)


class Reshape(Function):
    def forward(self, x: Array, shape: tuple[int, ...]) -> Array:
        self.input_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape {x.shape} into {tuple(shape)}") from None

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad.reshape(self.input_shape),)


class Index(Function):
    """x[index]: basic slicing and integer-array (fancy) indexing."""

    def forward(self, x: Array, index: Any) -> Array:
        index = _plain_index(index)
        self.input_shape, self.dtype, self.index = x.shape, x.dtype, index
        try:
            return x[index]
        except IndexError as error:
            raise IndexError(f"index: {error} (tensor shape {x.shape})") from None

    def backward(self, grad: Array) -> tuple[Array]:
        full = np.zeros(self.input_shape, dtype=grad.dtype)
        if _has_integer_array(self.index):
            # An index may pick the same element twice; np.add.at adds every pick.
            np.add.at(full, self.index, grad)
        else:
            full[self.index] = grad
        return (full,)


def _plain_index(index: Any) -> Any:
    """Tensors and lists inside an index become numpy arrays."""
    from tinygrad_be.tensor import Tensor

    def convert(item: Any) -> Any:
        if isinstance(item, Tensor):
            return item.data
        if isinstance(item, list):
            return np.asarray(item)
        return item

    return tuple(convert(i) for i in index) if isinstance(index, tuple) else convert(index)


def _has_integer_array(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype != bool for i in items)


# --------------------------------------------------------------------------------------------------
# Reductions
def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of a reduction over `axes` with keepdims=True."""
    if len(axes) == len(shape):
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(grad: Array, kept_shape: tuple[int, ...], input_shape: tuple[int, ...]) -> Array:
    """Copy the gradient of a reduction to every element that was reduced."""
    full = np.empty(input_shape, dtype=grad.dtype)
    full[...] = grad.reshape(kept_shape)
    return full


class Sum(Function):
    def forward(self, x: Array, axis: Any, keepdims: bool) -> Array:
        self.input_shape = x.shape
        self.kept_shape = _kept_shape(x.shape, _normalize_axes(axis, x.ndim))
        return np.asarray(x.sum(axis=axis, keepdims=keepdims))

    def backward(self, grad: Array) -> tuple[Array]:
        return (_spread(grad, self.kept_shape, self.input_shape),)


class Mean(Function):
    def forward(self, x: Array, axis: Any, keepdims: bool) -> Array:
        self.input_shape = x.shape
        self.kept_shape = _kept_shape(x.shape, _normalize_axes(axis, x.ndim))
        self.count = x.size // max(int(np.prod(self.kept_shape)), 1) if x.size else 0
        return np.asarray(x.mean(axis=axis, keepdims=keepdims))

    def backward(self, grad: Array) -> tuple[Array]:
        return (_spread(grad / self.count, self.kept_shape, self.input_shape),)


class Max(Function):
    """Maximum; the gradient is split equally among tied maxima."""

    def forward(self, x: Array, axis: Any, keepdims: bool) -> Array:
        axes = _normalize_axes(axis, x.ndim)
        if x.size == 0:
            raise ValueError(f"max: cannot take the max of an empty tensor of shape {x.shape}")
        self.x, self.axes = x, axes
        self.out = x.max(axis=axes, keepdims=True)
        if keepdims:
            return self.out
        return self.out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(self, grad: Array) -> tuple[Array]:
        is_max = self.x == self.out
        ties = is_max.sum(axis=self.axes, keepdims=True).astype(grad.dtype)
        return (is_max * grad.reshape(self.out.shape) / ties,)


# --------------------------------------------------------------------------------------------------
# Elementwise functions
class Exp(Function):
    def forward(self, x: Array) -> Array:
        self.out = np.exp(x)
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad * self.out,)


class Log(Function):
    def forward(self, x: Array) -> Array:
        self.x = x
        return np.log(x)

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad / self.x,)


class Sqrt(Function):
    def forward(self, x: Array) -> Array:
        self.out = np.sqrt(x)
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad / (2 * self.out),)


class Sigmoid(Function):
    def forward(self, x: Array) -> Array:
        # exp(-|x|) never overflows; the two branches give exact 0 and 1 in the limits.
        e = np.exp(-np.abs(x))
        self.out = _flush_subnormals(np.maximum(e, x >= 0) / (1 + e))  # numerator: 1 or e
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        s = self.out
        return (_flush_subnormals(grad * s * (1 - s)),)


class ReLU(Function):
    def forward(self, x: Array) -> Array:
        self.out = np.maximum(x, 0)
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad * (self.out > 0),)


class Tanh(Function):
    def forward(self, x: Array) -> Array:
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad * (1 - self.out * self.out),)


class Cast(Function):
    def forward(self, x: Array, dtype: np.dtype) -> Array:
        self.input_dtype = x.dtype
        return x.astype(dtype, copy=False)

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad.astype(self.input_dtype, copy=False),)


# --------------------------------------------------------------------------------------------------
# Softmax family: shift by the max so exp never overflows
def _log_softmax(x: Array, axis: int) -> Array:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    def forward(self, x: Array, axis: int) -> Array:
        shifted = np.exp(x - x.max(axis=axis, keepdims=True))
        self.out = shifted / shifted.sum(axis=axis, keepdims=True)
        self.axis = axis
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        s = self.out
        return (s * (grad - (grad * s).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    def forward(self, x: Array, axis: int) -> Array:
        self.out = _log_softmax(x, axis)
        self.axis = axis
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad - np.exp(self.out) * grad.sum(axis=self.axis, keepdims=True),)


class CrossEntropy(Function):
    """Mean/sum/per-row softmax cross-entropy of logits (N, C), fused for stability and speed.

    The target is either class indices (N,) of an integer dtype, or probabilities (N, C).
    Gradient with respect to the logits: softmax(logits) * sum(target) - target, i.e. softmax - onehot.
    """

    def forward(self, logits: Array, target: Array, reduction: str) -> Array:
        if logits.ndim != 2:
            raise ValueError(f"cross_entropy: logits must be (N, C), got shape {logits.shape}")
        n, num_classes = logits.shape
        self.log_probs = _log_softmax(logits, axis=1)
        self.reduction, self.n = reduction, n
        if np.issubdtype(target.dtype, np.integer):
            if target.shape != (n,):
                raise ValueError(
                    f"cross_entropy: class-index target must have shape ({n},) for logits "
                    f"{logits.shape}, got {target.shape}"
                )
            if n and (target.min() < 0 or target.max() >= num_classes):
                raise ValueError(
                    f"cross_entropy: target classes must lie in [0, {num_classes}), "
                    f"got values in [{target.min()}, {target.max()}]"
                )
            self.target_index = target
            losses = -self.log_probs[np.arange(n), target]
        else:
            if target.shape != logits.shape:
                raise ValueError(
                    f"cross_entropy: probability target must have the logits' shape "
                    f"{logits.shape}, got {target.shape}"
                )
            self.target_index, self.target = None, target
            losses = -(target * self.log_probs).sum(axis=1)
        if reduction == "mean":
            return np.asarray(losses.mean())
        if reduction == "sum":
            return np.asarray(losses.sum())
        return losses

    def backward(self, grad: Array) -> tuple[Array, Array | None]:
        if self.reduction == "mean":
            scale = grad / self.n
        elif self.reduction == "sum":
            scale = grad
        else:
            scale = grad[:, None]
        probs = np.exp(self.log_probs)
        if self.target_index is not None:
            probs[np.arange(self.n), self.target_index] -= 1
            return probs * scale, None
        target = self.target
        grad_logits = (probs * target.sum(axis=1, keepdims=True) - target) * scale
        grad_target = -self.log_probs * scale if self.needs_input_grad[1] else None
        return grad_logits, grad_target
