"""The Tensor and the reverse-mode autograd engine.

A `Tensor` wraps a numpy array. Every differentiable op is a `Function` (see `ops.py`) whose
`forward` computes on numpy arrays and whose `backward` maps the gradient of the output to one
gradient per input. When any input requires grad, the op's output remembers the `Function` that made
it (`_ctx`), and the `Function` remembers its inputs (`parents`): that is the graph.

`Tensor.backward` walks the graph once, output to leaves, in reverse topological order, and does the
work shared by all ops in one place:
- it sums each incoming gradient back to its input's shape (`unbroadcast`), so ops may ignore
  broadcasting in their backward;
- it adds up the gradients of a node used more than once;
- it accumulates into `.grad` of the leaves (tensors made by the user with `requires_grad=True`),
  in the leaf's dtype;
- it frees the graph afterwards unless `retain_graph=True`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

__all__ = ["Function", "Tensor", "is_grad_enabled", "no_grad", "unbroadcast"]

_grad_enabled = True

F = TypeVar("F", bound=Callable[..., Any])


def is_grad_enabled() -> bool:
    """True unless inside a `no_grad()` block."""
    return _grad_enabled


class no_grad:
    """Context manager (and decorator) inside which ops build no graph.

    >>> with no_grad():
    ...     y = model(x)      # y.requires_grad is False; nothing is kept for backward
    """

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False

    def __exit__(self, *exc_info: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, fn: F) -> F:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = fn.__doc__
        return wrapper  # type: ignore[return-value]


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, so it has `shape`.

    If `x` of shape (3, 1) was broadcast to (2, 3, 4) in the forward pass, each element of `x` was
    used 2*4 times, so its gradient is the sum over those uses.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


class Function:
    """One differentiable op. Subclasses write `forward` and `backward` side by side.

    `forward(*arrays, **options)` gets the inputs' numpy arrays and returns the output array; it may
    keep on `self` what backward needs. `backward(grad)` gets the gradient of the output (same shape as
    the output) and returns one gradient per input, in the output's broadcast shape or the input's
    own shape (the engine reduces it), or None for an input that gets no gradient.
    `self.needs_input_grad` tells which inputs want one, so costly gradients can be skipped.
    """

    parents: tuple[Tensor, ...] | None
    needs_input_grad: tuple[bool, ...]

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **options: Any) -> Tensor:
        """Run the op on Tensors; record it in the graph if any input requires grad."""
        fn = cls()
        out = Tensor._wrap(fn.forward(*[t._data for t in inputs], **options))
        if _grad_enabled:
            needs = tuple([t._requires_grad for t in inputs])
            if True in needs:
                fn.parents = inputs
                fn.needs_input_grad = needs
                out._requires_grad = True
                out._ctx = fn
        return out

    def free(self) -> None:
        """Drop the saved arrays and the links to the inputs (after backward)."""
        vars(self).clear()
        self.parents = None


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Python numbers and lists become float32; numpy arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
        return array if dtype is None else array.astype(dtype, copy=False)
    return np.asarray(data, dtype=np.float32 if dtype is None else dtype)


class Tensor:
    """An n-dimensional array that can record the ops applied to it and backpropagate through them.

    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)   # float32
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad                                         # array([[2., 4.]], dtype=float32)
    """

    __slots__ = ("_data", "grad", "_requires_grad", "_ctx", "__weakref__")
    # Make numpy defer to Tensor's reflected operators: `ndarray + Tensor` calls Tensor.__radd__.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = _as_array(data, dtype)
        self.grad: np.ndarray | None = None
        self._ctx: Function | None = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """Fast path for op outputs: no conversion, no checks."""
        t = cls.__new__(cls)
        t._data = array
        t.grad = None
        t._ctx = None
        t._requires_grad = False
        return t

    # ----------------------------------------------------------------------------------------------
    # Attributes
    @property
    def data(self) -> np.ndarray:
        """The numpy array (not a copy: writing to it changes the tensor)."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        array = _as_array(value)
        if array.shape != self._data.shape:
            raise ValueError(
                f"data: new shape {array.shape} does not match the tensor's shape {self._data.shape}"
            )
        if self._requires_grad and not np.issubdtype(array.dtype, np.floating):
            raise TypeError(
                f"data: a tensor that requires grad needs floating data, not {array.dtype}"
            )
        self._data = array

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and not np.issubdtype(self._data.dtype, np.floating):
            raise TypeError(
                f"only floating-point tensors can require grad, not {self._data.dtype} "
                "(convert with dtype=np.float32 first)"
            )
        if not value and self._ctx is not None:
            raise RuntimeError(
                "requires_grad: cannot turn it off on a non-leaf tensor; use detach()"
            )
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op that recorded a graph."""
        return self._ctx is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        return len(self._data)

    def numpy(self) -> np.ndarray:
        """A copy of the data as a numpy array."""
        return self._data.copy()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self) -> float | int:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors have an item, not shape {self.shape}")
        return self._data.item()

    def detach(self) -> Tensor:
        """A tensor sharing the same data, cut off from the graph."""
        return Tensor._wrap(self._data)

    def astype(self, dtype: Any) -> Tensor:
        """A differentiable cast to `dtype` (its gradient is cast back)."""
        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
        extra = f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={type(self._ctx).__name__}"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    # ----------------------------------------------------------------------------------------------
    # Backward
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        `grad` is the gradient of some final scalar with respect to `self` (same shape); it defaults
        to 1 when `self` has a single element and is required otherwise.
        """
        if not self._requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad (no input of the ops that made it "
                "had requires_grad=True, or it was computed under no_grad())"
            )
        if grad is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward: grad must be given for a non-scalar output (shape {self.shape}); "
                    "call .sum().backward() or pass a gradient of that shape"
                )
            grad = np.ones_like(self._data)
        else:
            grad = _as_array(grad, self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward: grad of shape {grad.shape} does not match the output's shape "
                    f"{self.shape}"
                )

        # Tensors hash by identity, so they key the dict of pending gradients directly.
        grads: dict[Tensor, np.ndarray] = {self: grad}
        given_to_leaves: set[int] = set()  # ids of the arrays that leaves now own as .grad
        for node in reversed(self._topological_order()):
            node_grad = grads.pop(node, None)
            if node_grad is None:
                continue
            fn = node._ctx
            if fn is None:  # a leaf: accumulate in its own dtype
                if node.grad is None:
                    # Keep a fresh array as it is; copy one that someone else may hold (the
                    # caller's `grad`, a view, or the same array handed to two inputs by Add).
                    fresh = (
                        node_grad is not grad
                        and node_grad.base is None
                        and node_grad.dtype == node._data.dtype
                        and id(node_grad) not in given_to_leaves
                    )
                    node.grad = node_grad if fresh else np.array(node_grad, node._data.dtype)
                    given_to_leaves.add(id(node.grad))
                else:
                    np.add(node.grad, node_grad, out=node.grad, casting="unsafe")
                continue
            input_grads = fn.backward(node_grad)
            for parent, parent_grad in zip(fn.parents, input_grads, strict=True):
                if parent_grad is None or not parent._requires_grad:
                    continue
                parent_grad = unbroadcast(parent_grad, parent._data.shape)
                previous = grads.get(parent)
                grads[parent] = parent_grad if previous is None else previous + parent_grad
            if not retain_graph:
                fn.free()

    def _topological_order(self) -> list[Tensor]:
        """Every tensor that requires grad and leads to self, inputs before outputs.

        Iterative depth-first search, so a graph 100,000 ops deep does not hit the recursion limit.
        """
        order: list[Tensor] = []
        visited: set[Tensor] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
                continue
            if node in visited:
                continue
            visited.add(node)
            stack.append((node, True))
            fn = node._ctx
            if fn is None:
                continue
            if fn.parents is None:
                raise RuntimeError(
                    "backward: trying to backward through the graph a second time (its saved "
                    "values were freed after the first backward); pass retain_graph=True to the "
                    "first backward call if you need to backward twice"
                )
            for parent in fn.parents:
                if parent._requires_grad and parent not in visited:
                    stack.append((parent, False))
        return order

    # ----------------------------------------------------------------------------------------------
    # Arithmetic (numpy broadcasting; Python scalars take the tensor's dtype)
    def _operand(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            return other
        # numpy scalars too (np.int64 from a shape product, np.float64 from a reduction), as torch:
        # numpy would otherwise promote a float32 array combined with them to float64.
        scalar = (int, float, np.integer, np.floating)
        if isinstance(other, scalar) and np.issubdtype(self._data.dtype, np.floating):
            return Tensor._wrap(np.asarray(other, dtype=self._data.dtype))
        return Tensor(other)

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, self._operand(other))

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(self._operand(other), self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, self._operand(other))

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self._operand(other), self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, self._operand(other))

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self._operand(other), self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, self._operand(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self._operand(other), self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor) or not np.isscalar(exponent):
            raise TypeError(
                f"pow: the exponent must be a Python number, not {type(exponent).__name__}"
            )
        if isinstance(exponent, np.generic):  # a Python number keeps x's dtype, np.float64 not
            exponent = exponent.item()
        return ops.Pow.apply(self, exponent=exponent)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, self._operand(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self._operand(other), self)

    # ----------------------------------------------------------------------------------------------
    # Shape
    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed (numpy's `.T`)."""
        return ops.Transpose.apply(self, axes=None)

    def transpose(self, *axes: int) -> Tensor:
        """Permute the axes (numpy's `transpose`); no axes reverses them."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return ops.Transpose.apply(self, axes=axes or None)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def flatten(self, start_dim: int = 0) -> Tensor:
        """Merge the axes from `start_dim` on into one."""
        start_dim = start_dim % max(self.ndim, 1)
        return self.reshape(*self.shape[:start_dim], -1)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.Index.apply(self, index=index)

    # ----------------------------------------------------------------------------------------------
    # Reductions
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum along `axis`; tied maxima share the gradient equally (as torch.amax)."""
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: int | None = None) -> Tensor:
        """Indices of the maxima (int64, not differentiable)."""
        return Tensor._wrap(np.argmax(self._data, axis=axis))

    # ----------------------------------------------------------------------------------------------
    # Elementwise functions
    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def softmax(self, axis: int = -1) -> Tensor:
        return ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return ops.LogSoftmax.apply(self, axis=axis)


from tinygrad_be import ops  # noqa: E402  (ops needs Tensor and Function defined first)
