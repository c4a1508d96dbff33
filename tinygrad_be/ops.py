"""Every differentiable op: one `Function` each, forward beside backward.

Conventions (the engine in `tensor.py` relies on them):
- `forward` takes numpy arrays and returns a numpy array; it keeps on `self` what backward needs.
- `backward(grad)` returns one gradient per input. A gradient may have the output's broadcast shape;
  the engine sums it back to the input's shape, so no op handles broadcasting in its backward.
- Gradients keep the dtype of the arrays they are computed from: a float32 graph stays float32.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_be import backend
from tinygrad_be.backend import array_module, scatter_add
from tinygrad_be.tensor import Function

Array = np.ndarray  # or a CuPy array: every op computes with its inputs' library (`xp`)


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
    operands; dropping them changes nothing a float32 computation could resolve. Only float32 and
    float64: float16 has no BLAS to slow down, and its subnormals (< 6.1e-5) are real values.
    """
    tiny = _SMALLEST_NORMAL.get(x.dtype)
    if tiny is not None:
        if type(x) is not np.ndarray:  # numpy ufuncs turn a 0-d array into a scalar (read-only)
            x = backend.as_array(x)
        x[np.abs(x) < tiny] = 0
    return x


# Looked up per dtype, not with np.finfo, which is slow on the hot path.
_SMALLEST_NORMAL = {
    np.dtype(np.float32): np.finfo(np.float32).tiny,
    np.dtype(np.float64): np.finfo(np.float64).tiny,
}


# --------------------------------------------------------------------------------------------------
# Binary arithmetic
class Add(Function):
    saves_inputs, saves_output = False, False

    def forward(self, a: Array, b: Array) -> Array:
        try:
            return a + b
        except ValueError:
            raise _broadcast_error("add", a, b) from None

    def backward(self, grad: Array) -> tuple[Array, Array]:
        return grad, grad


class Sub(Function):
    saves_inputs, saves_output = False, False

    def forward(self, a: Array, b: Array) -> Array:
        try:
            return a - b
        except ValueError:
            raise _broadcast_error("sub", a, b) from None

    def backward(self, grad: Array) -> tuple[Array, Array]:
        return grad, -grad


class Mul(Function):
    saves_inputs, saves_output = True, False

    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        try:
            return a * b
        except ValueError:
            raise _broadcast_error("mul", a, b) from None

    def backward(self, grad: Array) -> tuple[Array | None, Array | None]:
        need_a, need_b = self.needs_input_grad
        return (grad * self.b if need_a else None), (grad * self.a if need_b else None)

    def uses_saved_input(self, k: int) -> bool:
        return self.needs_input_grad[1 - k]  # a's gradient reads b, b's reads a


class Div(Function):
    saves_inputs, saves_output = True, False

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

    def uses_saved_input(self, k: int) -> bool:
        return k == 1 or self.needs_input_grad[1]  # a is read only for b's gradient


class Neg(Function):
    saves_inputs, saves_output = False, False

    def forward(self, x: Array) -> Array:
        return -x

    def backward(self, grad: Array) -> tuple[Array]:
        return (-grad,)


class Pow(Function):
    """x ** p for a constant Python number p."""

    saves_inputs, saves_output = True, False

    def forward(self, x: Array, exponent: float) -> Array:
        self.x, self.exponent = x, exponent
        return x**exponent

    def backward(self, grad: Array) -> tuple[Array]:
        p = self.exponent
        if p == 0:  # x**0 is constant; p * x**(p-1) would be 0 * inf = NaN at x = 0
            return (np.zeros_like(grad),)
        return (grad * p * self.x ** (p - 1),)


class PowTensor(Function):
    """a ** b for two tensors, differentiable in both (torch's conventions at the edges):
    d/da = b * a**(b-1), taken as 0 where b = 0; d/db = a**b * log(a), taken as 0 where a = 0 and
    b >= 0 (NaN for a negative base, as its log is undefined)."""

    saves_inputs, saves_output = True, True

    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                self.out = a**b
        except ValueError:
            raise _broadcast_error("pow", a, b) from None
        return self.out

    def backward(self, grad: Array) -> tuple[Array | None, Array | None]:
        a, b = self.a, self.b
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if need_a:
                grad_a = np.where(b == 0, 0, grad * b * a ** (b - 1)).astype(grad.dtype, copy=False)
            if need_b:
                log_a = np.where((a == 0) & (b >= 0), 0, np.log(a))
                grad_b = (grad * self.out * log_a).astype(grad.dtype, copy=False)
        return grad_a, grad_b


class MatMul(Function):
    """a @ b with numpy's rules: 2-D, batched (leading axes broadcast) and 1-D operands."""

    saves_inputs, saves_output = True, False

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

    def uses_saved_input(self, k: int) -> bool:
        return self.needs_input_grad[1 - k]  # a's gradient reads b, b's reads a


# --------------------------------------------------------------------------------------------------
# Shape
class Transpose(Function):
    saves_inputs, saves_output = False, False

    def forward(self, x: Array, axes: tuple[int, ...] | None) -> Array:
        if axes is not None and sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ValueError(
                f"permute: dims {axes} are not a permutation of the {x.ndim} dims of {x.shape}"
            )
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, grad: Array) -> tuple[Array]:
        inverse = None if self.axes is None else tuple(
            int(i) for i in np.argsort([a % grad.ndim for a in self.axes])
        )
        return (np.transpose(grad, inverse),)


class Reshape(Function):
    saves_inputs, saves_output = False, False

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

    saves_inputs, saves_output = False, False

    def forward(self, x: Array, index: Any) -> Array:
        index = _plain_index(index, x)
        self.input_shape, self.dtype, self.index = x.shape, x.dtype, index
        try:
            return x[index]
        except IndexError as error:
            raise IndexError(f"index: {error} (tensor shape {x.shape})") from None

    def backward(self, grad: Array) -> tuple[Array]:
        full = array_module(grad).zeros(self.input_shape, dtype=grad.dtype)
        if _has_integer_array(self.index):
            # An index may pick the same element twice; a scatter-add adds every pick.
            scatter_add(full, self.index, grad)
        else:
            full[self.index] = grad
        return (full,)


def _assign(x: Array, index: Any, value: Array) -> None:
    """x[index] = value, with errors naming both shapes."""
    try:
        x[index] = value
    except (IndexError, ValueError) as error:
        raise type(error)(
            f"setitem: {error} (tensor shape {x.shape}, value shape {np.shape(value)})"
        ) from None


def _plain_index(index: Any, x: Any = None) -> Any:
    """Tensors and lists inside an index become arrays, on the device of the array `x` they
    index (as torch, a CPU index tensor may index a CUDA tensor)."""
    from tinygrad_be.tensor import Tensor

    xp = array_module(x)

    def convert(item: Any) -> Any:
        if isinstance(item, Tensor):
            item = item._data
        if isinstance(item, list):
            item = np.asarray(item)
        if xp is not np and isinstance(item, np.ndarray):
            item = xp.asarray(item)
        return item

    return tuple(convert(i) for i in index) if isinstance(index, tuple) else convert(index)


def _has_integer_array(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(getattr(i, "ndim", 0) > 0 and i.dtype != bool for i in items)


# --------------------------------------------------------------------------------------------------
# Reductions
def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of a reduction over `axes` with keepdims=True."""
    if len(axes) == len(shape):
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(grad: Array, kept_shape: tuple[int, ...], input_shape: tuple[int, ...]) -> Array:
    """Copy the gradient of a reduction to every element that was reduced."""
    full = array_module(grad).empty(input_shape, dtype=grad.dtype)
    full[...] = grad.reshape(kept_shape)
    return full


class Sum(Function):
    saves_inputs, saves_output = False, False

    def forward(self, x: Array, axis: Any, keepdims: bool) -> Array:
        self.input_shape = x.shape
        self.kept_shape = _kept_shape(x.shape, _normalize_axes(axis, x.ndim))
        return x.sum(axis=axis, keepdims=keepdims)  # Function.apply makes a numpy scalar 0-d

    def backward(self, grad: Array) -> tuple[Array]:
        return (_spread(grad, self.kept_shape, self.input_shape),)


class Mean(Function):
    saves_inputs, saves_output = False, False

    def forward(self, x: Array, axis: Any, keepdims: bool) -> Array:
        self.input_shape = x.shape
        self.kept_shape = _kept_shape(x.shape, _normalize_axes(axis, x.ndim))
        self.count = x.size // max(int(np.prod(self.kept_shape)), 1) if x.size else 0
        return x.mean(axis=axis, keepdims=keepdims)

    def backward(self, grad: Array) -> tuple[Array]:
        # Divide in at least float32: in float16 a count over 65,504 is inf, and grad / inf = 0.
        scaled = np.divide(grad, self.count, dtype=np.promote_types(grad.dtype, np.float32))
        return (_spread(scaled.astype(grad.dtype, copy=False), self.kept_shape, self.input_shape),)


class Max(Function):
    """Maximum (torch's amax); the gradient is split equally among tied maxima."""

    saves_inputs, saves_output = True, True
    name, reduce = "max", staticmethod(np.max)

    def forward(self, x: Array, axis: Any, keepdims: bool) -> Array:
        axes = _normalize_axes(axis, x.ndim)
        if x.size == 0:
            raise ValueError(
                f"{self.name}: cannot take the {self.name} of an empty tensor of shape {x.shape}"
            )
        self.x, self.axes = x, axes
        self.out = backend.as_array(self.reduce(x, axis=axes, keepdims=True))
        if keepdims:
            return self.out
        return self.out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(self, grad: Array) -> tuple[Array]:
        is_max = self.x == self.out
        ties = is_max.sum(axis=self.axes, keepdims=True).astype(grad.dtype)
        return (is_max * grad.reshape(self.out.shape) / ties,)


class Min(Max):
    """Minimum (torch's amin); the gradient is split equally among tied minima."""

    name, reduce = "min", staticmethod(np.min)


# --------------------------------------------------------------------------------------------------
# Elementwise functions
class Exp(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x: Array) -> Array:
        self.out = np.exp(x)
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad * self.out,)


class Log(Function):
    saves_inputs, saves_output = True, False

    def forward(self, x: Array) -> Array:
        self.x = x
        return np.log(x)

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad / self.x,)


class Sqrt(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x: Array) -> Array:
        self.out = np.sqrt(x)
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad / (2 * self.out),)


class Sigmoid(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x: Array) -> Array:
        # exp(-|x|) never overflows; the two branches give exact 0 and 1 in the limits.
        e = np.exp(-np.abs(x))
        self.out = _flush_subnormals(np.maximum(e, x >= 0) / (1 + e))  # numerator: 1 or e
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        s = self.out
        return (_flush_subnormals(grad * s * (1 - s)),)


class ReLU(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x: Array) -> Array:
        self.out = np.maximum(x, 0)
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad * (self.out > 0),)


class Tanh(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x: Array) -> Array:
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad * (1 - self.out * self.out),)


class Sin(Function):
    saves_inputs, saves_output = True, False

    def forward(self, x: Array) -> Array:
        self.x = x
        return np.sin(x)

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad * np.cos(self.x),)


class Cos(Function):
    saves_inputs, saves_output = True, False

    def forward(self, x: Array) -> Array:
        self.x = x
        return np.cos(x)

    def backward(self, grad: Array) -> tuple[Array]:
        return (-grad * np.sin(self.x),)


class Clone(Function):
    """A copy with its own memory; the gradient passes through unchanged."""

    saves_inputs, saves_output = False, False

    def forward(self, x: Array) -> Array:
        return x.copy()

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad,)


class SetItem(Function):
    """`x[index] = value` out of place: a copy of x with `value` written at `index`.

    `Tensor.__setitem__` writes the result back into x's own memory (x keeps its array, as in
    torch). Backward: the overwritten elements of x get no gradient; `value` gets the gradient of
    the elements it was written to, summed back to its shape by the engine (it was broadcast).
    """

    saves_inputs, saves_output = False, False

    def forward(self, x: Array, value: Array, index: Any) -> Array:
        self.index = _plain_index(index, x)
        out = x.copy()
        _assign(out, self.index, value)
        return out

    def backward(self, grad: Array) -> tuple[Array | None, Array | None]:
        need_x, need_value = self.needs_input_grad
        grad_value = grad[self.index] if need_value else None
        grad_x = None
        if need_x:
            grad_x = grad.copy()
            grad_x[self.index] = 0
        return grad_x, grad_value


class ToDevice(Function):
    """A copy to another device (torch's `.to("cuda")`); the gradient is copied back."""

    saves_inputs, saves_output = False, False

    def forward(self, x: Array, device: Any) -> Array:
        self.source = backend.device_of(x)
        return backend.to_device(x, device)

    def backward(self, grad: Array) -> tuple[Array]:
        return (backend.to_device(grad, self.source),)


class Cast(Function):
    saves_inputs, saves_output = False, False

    def forward(self, x: Array, dtype: np.dtype) -> Array:
        self.input_dtype = x.dtype
        return x.astype(dtype, copy=False)

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad.astype(self.input_dtype, copy=False),)


# --------------------------------------------------------------------------------------------------
# Softmax family: shift by the max so exp never overflows
def _row_max(x: Array, axis: int) -> Array:
    """The max along `axis`, kept as a size-1 axis; an empty tensor (empty batch) gets zeros."""
    if x.size == 0:
        return array_module(x).zeros(_kept_shape(x.shape, _normalize_axes(axis, x.ndim)), x.dtype)
    return x.max(axis=axis, keepdims=True)


def _log_softmax(x: Array, axis: int) -> Array:
    if x.size == 0:  # an empty batch: nothing to normalise (and no log(0) warning)
        return np.empty_like(x)
    shifted = x - _row_max(x, axis)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x: Array, axis: int) -> Array:
        shifted = np.exp(x - _row_max(x, axis))
        self.out = shifted / shifted.sum(axis=axis, keepdims=True)
        self.axis = axis
        return self.out

    def backward(self, grad: Array) -> tuple[Array]:
        s = self.out
        return (s * (grad - (grad * s).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    saves_inputs, saves_output = False, True

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

    saves_inputs, saves_output = True, False

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
            losses = -self.log_probs[array_module(logits).arange(n), target]
        else:
            if target.shape == (n,):
                raise TypeError(
                    f"cross_entropy: the target {target.shape} holds class indices as "
                    f"{target.dtype}; pass integers (y.astype(np.int64)), or probabilities of "
                    f"the logits' shape {logits.shape}"
                )
            if target.shape != logits.shape:
                raise ValueError(
                    f"cross_entropy: probability target must have the logits' shape "
                    f"{logits.shape}, got {target.shape}"
                )
            self.target_index, self.target = None, target
            losses = -(target * self.log_probs).sum(axis=1)
        if reduction == "mean":
            return losses.mean()
        if reduction == "sum":
            return losses.sum()
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
            probs[array_module(probs).arange(self.n), self.target_index] -= 1
            return probs * scale, None
        target = self.target
        grad_logits = (probs * target.sum(axis=1, keepdims=True) - target) * scale
        grad_target = -self.log_probs * scale if self.needs_input_grad[1] else None
        return grad_logits, grad_target


# --------------------------------------------------------------------------------------------------
# Shape: expand, join, select
class Expand(Function):
    """Broadcast x to `sizes` (-1 keeps a dim) as a read-only view; the engine's unbroadcast sums
    the gradient back, so backward passes it through."""

    saves_inputs, saves_output = False, False

    def forward(self, x: Array, sizes: tuple[int, ...]) -> Array:
        lead = len(sizes) - x.ndim
        if lead < 0:
            raise ValueError(f"expand: cannot expand shape {x.shape} to fewer dims {sizes}")
        target = tuple(
            x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes)
        )
        try:
            return np.broadcast_to(x, target)
        except ValueError:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {sizes}") from None

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad,)


class Cat(Function):
    """Concatenation along `axis`; each input's gradient is its slice of the output's."""

    saves_inputs, saves_output = False, False

    def forward(self, *arrays: Array, axis: int) -> Array:
        ndim = arrays[0].ndim
        if ndim == 0 or any(a.ndim != ndim for a in arrays):
            raise ValueError(
                f"cat: tensors need the same number (>= 1) of dims, got shapes "
                f"{[a.shape for a in arrays]}"
            )
        (self.axis,) = _normalize_axes(axis, ndim)
        try:
            out = np.concatenate(arrays, axis=self.axis)
        except ValueError:
            raise ValueError(
                f"cat: shapes {[a.shape for a in arrays]} differ outside dim {axis}"
            ) from None
        self.ends = np.cumsum([a.shape[self.axis] for a in arrays])[:-1].tolist()
        return out

    def backward(self, grad: Array) -> tuple[Array, ...]:
        return tuple(np.split(grad, self.ends, axis=self.axis))


class Where(Function):
    """x where `condition` (a bool array, not differentiable) else y, all three broadcast."""

    saves_inputs, saves_output = False, False

    def forward(self, x: Array, y: Array, condition: Array) -> Array:
        try:
            out = np.where(condition, x, y)
        except ValueError:
            raise ValueError(
                f"where: shapes {condition.shape} (condition), {x.shape} and {y.shape} cannot be "
                "broadcast together"
            ) from None
        self.condition = condition
        return out

    def backward(self, grad: Array) -> tuple[Array | None, Array | None]:
        need_x, need_y = self.needs_input_grad
        zero = grad.dtype.type(0)
        grad_x = np.where(self.condition, grad, zero) if need_x else None
        grad_y = np.where(self.condition, zero, grad) if need_y else None
        return grad_x, grad_y


class Gather(Function):
    """torch.gather: out[i][j] = x[index[i][j]][j] for dim=0 (and likewise for any dim)."""

    saves_inputs, saves_output = False, False

    def forward(self, x: Array, dim: int, index: Any) -> Array:
        index = backend.like(index, x)
        if not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"gather: index must be an integer array, not {index.dtype}")
        (dim,) = _normalize_axes(dim, max(x.ndim, 1))
        if index.ndim != x.ndim or any(
            n > m for i, (n, m) in enumerate(zip(index.shape, x.shape, strict=False)) if i != dim
        ):
            raise ValueError(
                f"gather: index of shape {index.shape} does not fit the input {x.shape} along "
                f"dim {dim} (same number of dims, no other dim longer than the input's)"
            )
        if index.size and (index.min() < -x.shape[dim] or index.max() >= x.shape[dim]):
            raise IndexError(
                f"gather: index values in [{index.min()}, {index.max()}] are out of range for "
                f"dim {dim} of size {x.shape[dim]}"
            )
        # Open grids for every other dim, the index itself along `dim`: one fancy-index gather.
        xp = array_module(x)
        grids = [  # np.indices(index.shape, sparse=True), written out (CuPy has no sparse=)
            xp.arange(n).reshape([n if i == axis else 1 for i in range(index.ndim)])
            for axis, n in enumerate(index.shape)
        ]
        grids[dim] = index
        self.where, self.input_shape = tuple(grids), x.shape
        return x[self.where]

    def backward(self, grad: Array) -> tuple[Array]:
        full = array_module(grad).zeros(self.input_shape, dtype=grad.dtype)
        scatter_add(full, self.where, grad)  # an index may pick the same element more than once
        return (full,)


# --------------------------------------------------------------------------------------------------
# Elementwise, continued
class Maximum(Function):
    """Elementwise maximum; at a tie each input gets half the gradient (as torch)."""

    saves_inputs, saves_output = True, False

    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        try:
            return np.maximum(a, b)
        except ValueError:
            raise _broadcast_error(type(self).__name__.lower(), a, b) from None

    def _share_of_a(self) -> Array:
        """1 where a wins, 0.5 at ties, 0 where b wins."""
        return (self.a > self.b) + 0.5 * (self.a == self.b)

    def backward(self, grad: Array) -> tuple[Array, Array]:
        share = self._share_of_a().astype(grad.dtype, copy=False)
        return grad * share, grad * (1 - share)


class Minimum(Maximum):
    """Elementwise minimum; at a tie each input gets half the gradient (as torch)."""

    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        try:
            return np.minimum(a, b)
        except ValueError:
            raise _broadcast_error("minimum", a, b) from None

    def _share_of_a(self) -> Array:
        return (self.a < self.b) + 0.5 * (self.a == self.b)


class Abs(Function):
    saves_inputs, saves_output = True, False

    def forward(self, x: Array) -> Array:
        self.x = x
        return np.abs(x)

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad * np.sign(self.x),)  # sign(0) = 0: the gradient at the kink is 0, as torch


class Log1p(Function):
    saves_inputs, saves_output = True, False

    def forward(self, x: Array) -> Array:
        self.x = x
        return np.log1p(x)

    def backward(self, grad: Array) -> tuple[Array]:
        return (grad / (1 + self.x),)


class Clamp(Function):
    """Limit x to [low, high] (either None); the gradient passes where low <= x <= high (torch)."""

    saves_inputs, saves_output = True, False

    def forward(self, x: Array, low: float | None, high: float | None) -> Array:
        self.x, self.low, self.high = x, low, high
        return np.clip(x, low, high).astype(x.dtype, copy=False)

    def backward(self, grad: Array) -> tuple[Array]:
        inside = array_module(self.x).ones(self.x.shape, dtype=bool)
        if self.low is not None:
            inside &= self.x >= self.low
        if self.high is not None:
            inside &= self.x <= self.high
        return (grad * inside,)


class LeakyReLU(Function):
    """x where x > 0, else slope * x; the gradient at 0 is the slope (as torch)."""

    saves_inputs, saves_output = True, False

    def forward(self, x: Array, slope: float) -> Array:
        self.positive, self.slope = x > 0, slope
        return np.where(self.positive, x, x * x.dtype.type(slope))

    def backward(self, grad: Array) -> tuple[Array]:
        return (np.where(self.positive, grad, grad * grad.dtype.type(self.slope)),)


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _erfc(z: Array) -> Array:
    """erfc(z) in float64 to ~1e-11 relative, without scipy: the Taylor series of erf for |z| < 2.5
    (45 terms), the continued fraction erfc(z) = exp(-z²)/sqrt(pi) / (z + 1/2/(z + 1/(z + ...))) for
    |z| >= 2.5 (40 levels; relative accuracy in the far tail, where 1 - erf would round to 0)."""
    z = backend.as_array(z).astype(np.float64)
    out = np.empty_like(z)
    near = np.abs(z) < 2.5
    s = z[near]
    square, term, total = s * s, s.copy(), s.copy()
    for n in range(1, 45):  # erf(s) = 2/sqrt(pi) * sum (-1)^n s^(2n+1) / (n! (2n+1))
        term *= -square / n
        total += term / (2 * n + 1)
    out[near] = 1 - total * (2 / math.sqrt(math.pi))
    far = np.abs(z[~near])
    fraction = far.copy()
    for k in range(40, 0, -1):  # evaluated from the bottom up
        fraction = far + (k / 2) / fraction
    tail = np.exp(-far * far) / (math.sqrt(math.pi) * fraction)
    out[~near] = np.where(z[~near] > 0, tail, 2 - tail)
    return out


class GELU(Function):
    """x * Phi(x), Phi the standard normal CDF ("none"), or torch's tanh approximation ("tanh")."""

    saves_inputs, saves_output = True, False

    def forward(self, x: Array, approximate: str) -> Array:
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            self.t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
            return 0.5 * x * (1 + self.t)
        self.cdf = (0.5 * _erfc(-x * _SQRT_HALF)).astype(x.dtype)  # computed in float64
        return x * self.cdf

    def backward(self, grad: Array) -> tuple[Array]:
        x = self.x
        if self.approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return (grad * (0.5 * (1 + self.t) + 0.5 * x * (1 - self.t * self.t) * inner),)
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (grad * (self.cdf + x * pdf),)


class Var(Function):
    """sum((x - mean)**2) / max(N - correction, 0) over `axis`; gradient 2 (x - mean) / divisor."""

    saves_inputs, saves_output = True, False

    def forward(self, x: Array, axis: Any, correction: float, keepdims: bool) -> Array:
        axes = _normalize_axes(axis, x.ndim)
        self.kept_shape = _kept_shape(x.shape, axes)
        count = x.size // max(int(np.prod(self.kept_shape)), 1) if x.size else 0
        self.divisor = max(count - correction, 0)
        self.centered = x - x.mean(axis=axes, keepdims=True)
        with np.errstate(
            divide="ignore", invalid="ignore"
        ):  # N <= correction: inf or NaN, as torch
            out = (self.centered * self.centered).sum(
                axis=axes, keepdims=keepdims
            ) / x.dtype.type(self.divisor)
        return backend.as_array(out).astype(x.dtype, copy=False)

    def backward(self, grad: Array) -> tuple[Array]:
        with np.errstate(divide="ignore", invalid="ignore"):  # divisor 0: inf, as the forward
            two_over_divisor = grad.dtype.type(np.float64(2) / self.divisor)
            return (grad.reshape(self.kept_shape) * two_over_divisor * self.centered,)


# --------------------------------------------------------------------------------------------------
# Losses and lookups beyond cross-entropy
def _reduce_loss(losses: Array, reduction: str, denominator: Any = None) -> Array:
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    count = losses.dtype.type(losses.size) if denominator is None else denominator
    with np.errstate(divide="ignore", invalid="ignore"):  # an empty batch gives NaN, as torch
        return backend.as_array(total / count).astype(losses.dtype, copy=False)


def _loss_grad_scale(grad: Array, reduction: str, denominator: Any) -> Array:
    """d(reduced loss)/d(per-element loss), broadcastable to the per-element losses."""
    if reduction == "none":
        return grad
    if reduction == "sum":
        return grad
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(denominator, (int, float)):
            denominator = grad.dtype.type(denominator)
        return (grad / denominator).astype(grad.dtype, copy=False)


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities (N, C) at integer classes (N,), with torch's
    `weight` (C,) per class and `ignore_index`. "mean" divides by the summed weights of the rows
    that count (their number without weights)."""

    saves_inputs, saves_output = False, False

    def forward(
        self,
        log_probs: Array,
        target: Array,
        weight: Array | None,
        ignore_index: int,
        reduction: str,
    ) -> Array:
        if log_probs.ndim != 2:
            raise ValueError(f"nll_loss: input must be (N, C), got shape {log_probs.shape}")
        n, num_classes = log_probs.shape
        if not np.issubdtype(target.dtype, np.integer):
            raise TypeError(
                f"nll_loss: target must hold integer class indices, not {target.dtype} "
                "(pass y.astype(np.int64))"
            )
        if target.shape != (n,):
            raise ValueError(
                f"nll_loss: target must have shape ({n},) for input {log_probs.shape}, got "
                f"{target.shape}"
            )
        counted = target != ignore_index
        safe = np.where(counted, target, 0)
        if n and (safe.min() < 0 or safe.max() >= num_classes):
            raise ValueError(
                f"nll_loss: target classes must lie in [0, {num_classes}) or equal ignore_index "
                f"{ignore_index}, got values in [{target.min()}, {target.max()}]"
            )
        row_weight = counted.astype(log_probs.dtype)
        if weight is not None:
            if weight.shape != (num_classes,):
                raise ValueError(
                    f"nll_loss: weight must have shape ({num_classes},), got {weight.shape}"
                )
            row_weight = row_weight * weight.astype(log_probs.dtype)[safe]
        self.rows, self.safe, self.row_weight, self.reduction = (
            array_module(log_probs).arange(n),
            safe,
            row_weight,
            reduction,
        )
        self.shape, self.denominator = log_probs.shape, row_weight.sum()
        losses = -log_probs[self.rows, safe] * row_weight
        return _reduce_loss(losses, reduction, self.denominator)

    def backward(self, grad: Array) -> tuple[Array, None]:
        scale = _loss_grad_scale(grad, self.reduction, self.denominator)
        grad_input = array_module(grad).zeros(self.shape, dtype=grad.dtype)
        grad_input[self.rows, self.safe] = -self.row_weight * scale
        return grad_input, None


class BinaryCrossEntropy(Function):
    """-(t log p + (1 - t) log(1 - p)) * weight, logs clamped at -100 (as torch, so p = 0 or 1 gives
    a finite loss); differentiable in p and t."""

    saves_inputs, saves_output = True, False

    def forward(self, p: Array, t: Array, weight: Array | None, reduction: str) -> Array:
        if p.shape != t.shape:
            raise ValueError(
                f"binary_cross_entropy: input shape {p.shape} and target shape {t.shape} differ"
            )
        if p.size and (p.min() < 0 or p.max() > 1):
            raise ValueError(
                "binary_cross_entropy: input must be probabilities in [0, 1] (apply sigmoid "
                "first, or use binary_cross_entropy_with_logits)"
            )
        self.p, self.t, self.weight, self.reduction = p, t, weight, reduction
        with np.errstate(divide="ignore"):
            self.log_p = np.maximum(np.log(p), -100)
            self.log_q = np.maximum(np.log1p(-p), -100)
        losses = -(t * self.log_p + (1 - t) * self.log_q)
        if weight is not None:
            losses = losses * weight
        return _reduce_loss(losses.astype(p.dtype, copy=False), reduction)

    def backward(self, grad: Array) -> tuple[Array | None, Array | None]:
        scale = _loss_grad_scale(grad, self.reduction, self.p.size)
        if self.weight is not None:
            scale = scale * self.weight
        need_p, need_t = self.needs_input_grad
        grad_p = grad_t = None
        if need_p:  # torch's 1e-12 floor keeps p = 0 or 1 finite
            grad_p = scale * (self.p - self.t) / np.maximum(self.p * (1 - self.p), 1e-12)
        if need_t:  # unclamped, as torch: +-inf where p is exactly 0 or 1
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_t = scale * (np.log1p(-self.p) - np.log(self.p))
        return grad_p, grad_t


def _softplus(x: Array) -> Array:
    """log(1 + exp(x)) without overflow."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class BinaryCrossEntropyWithLogits(Function):
    """-w [pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], computed stably from the
    logits x; differentiable in x and t (weight and pos_weight are constants)."""

    saves_inputs, saves_output = True, False

    def forward(
        self, x: Array, t: Array, weight: Array | None, pos_weight: Array | None, reduction: str
    ) -> Array:
        if x.shape != t.shape:
            raise ValueError(
                f"binary_cross_entropy_with_logits: input shape {x.shape} and target shape "
                f"{t.shape} differ"
            )
        self.x, self.t, self.weight, self.reduction = x, t, weight, reduction
        self.pos_weight = 1.0 if pos_weight is None else pos_weight
        # log sigmoid(x) = -softplus(-x), log(1 - sigmoid(x)) = -softplus(x)
        self.sp_neg, self.sp_pos = _softplus(-x), _softplus(x)
        losses = self.pos_weight * t * self.sp_neg + (1 - t) * self.sp_pos
        if weight is not None:
            losses = losses * weight
        return _reduce_loss(backend.as_array(losses).astype(x.dtype, copy=False), reduction)

    def backward(self, grad: Array) -> tuple[Array | None, Array | None]:
        scale = _loss_grad_scale(grad, self.reduction, self.x.size)
        if self.weight is not None:
            scale = scale * self.weight
        need_x, need_t = self.needs_input_grad
        pw, t = self.pos_weight, self.t
        grad_x = grad_t = None
        if need_x:
            sigmoid = np.exp(-self.sp_neg)  # exp(log sigmoid(x))
            grad_x = scale * (sigmoid * (1 - t + pw * t) - pw * t)
        if need_t:
            grad_t = scale * (pw * self.sp_neg - self.sp_pos)
        return grad_x, grad_t


class Embedding(Function):
    """Rows of `weight` (num_embeddings, dim) picked by integer `indices` of any shape; the row
    `padding_idx` gets no gradient (as torch)."""

    saves_inputs, saves_output = False, False

    def forward(self, weight: Array, indices: Array, padding_idx: int | None) -> Array:
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(
                f"embedding: indices must be integers, not {indices.dtype} (pass "
                "x.astype(np.int64))"
            )
        n = weight.shape[0]
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError(
                f"embedding: indices in [{indices.min()}, {indices.max()}] are out of range for "
                f"{n} embeddings"
            )
        self.indices, self.shape, self.padding_idx = indices, weight.shape, padding_idx
        return weight[indices]

    def backward(self, grad: Array) -> tuple[Array]:
        full = array_module(grad).zeros(self.shape, dtype=grad.dtype)
        scatter_add(full, self.indices, grad)  # a row used several times sums its gradients
        if self.padding_idx is not None:
            full[self.padding_idx] = 0
        return (full,)
