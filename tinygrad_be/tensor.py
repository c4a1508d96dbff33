"""The Tensor and the reverse-mode autograd engine.

A `Tensor` wraps a numpy array. Every differentiable op is a `Function` (see `ops.py`) whose
`forward` computes on numpy arrays and whose `backward` maps the gradient of the output to one
gradient per input. When any input requires grad, the op's output remembers the `Function` that made
it (`grad_fn`), and the `Function` remembers its inputs (`parents`): that is the graph.

`Tensor.backward` walks the graph once, output to leaves, in reverse topological order, and does the
work shared by all ops in one place:
- it sums each incoming gradient back to its input's shape (`unbroadcast`), so ops may ignore
  broadcasting in their backward, and checks that every gradient fits its input;
- it adds up the gradients of a node used more than once;
- it accumulates into `.grad` of the leaves (tensors made by the user with `requires_grad=True`),
  in the leaf's dtype, and of the non-leaf tensors that asked for it with `retain_grad()`;
- it refuses to use arrays changed in place since the forward pass (the version counter);
- it frees the saved arrays afterwards unless `retain_graph=True`.

Semantics follow PyTorch wherever a name is PyTorch's: comparisons are elementwise, `transpose`
swaps two dimensions, `max(dim)` returns `(values, indices)`, `Tensor(array)` copies while
`from_numpy(array)` shares memory.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

import numpy as np

from tinygrad_be import backend as _backend
from tinygrad_be import rng as _rng

__all__ = [
    "Function",
    "Tensor",
    "cat",
    "enable_grad",
    "from_numpy",
    "is_grad_enabled",
    "maximum",
    "minimum",
    "no_grad",
    "set_grad_enabled",
    "stack",
    "unbroadcast",
    "where",
]

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------------------------------
# Grad mode (per thread, as in torch: a no_grad block in one thread leaves the others alone)
class _GradMode(threading.local):
    enabled = True  # the class attribute is every thread's starting value


_grad_mode = _GradMode()


# --------------------------------------------------------------------------------------------------
# In-place changes: one clock for the whole process
# Each in-place change of a tensor's values (`t.add_(1)`, `t[i] = v`, an optimizer step, `.data = `)
# ticks this clock and stamps the tensor with the tick (`_written_at`); each recorded op stamps
# itself with the clock when it runs (`Function.clock`). An input stamped later than the op was
# changed after the op used it. Backward looks at a node's inputs only if the clock moved since the
# node's op ran, so a graph built after the last in-place change pays one comparison per node.
_write_clock = 0
_write_clock_lock = threading.Lock()  # ticks from several threads must not be lost or reordered


def is_grad_enabled() -> bool:
    """True unless inside a `no_grad()` block (of this thread)."""
    return _grad_mode.enabled


class no_grad:
    """Context manager (and decorator) inside which ops build no graph.

    >>> with no_grad():
    ...     y = model(x)      # y.requires_grad is False; nothing is kept for backward

    Grad mode is per thread. As a decorator it keeps the function's name, docstring and
    `__wrapped__`.
    """

    _mode = False

    def __enter__(self) -> None:
        self._previous = _grad_mode.enabled
        _grad_mode.enabled = self._mode

    def __exit__(self, *exc_info: object) -> None:
        _grad_mode.enabled = self._previous

    def _fresh(self) -> no_grad:
        """A new context of the same mode for each call of a decorated function (re-entrant)."""
        return type(self)()

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class enable_grad(no_grad):
    """Context manager (and decorator) that turns graph building back on inside a `no_grad` block."""

    _mode = True


class set_grad_enabled(no_grad):
    """Turn graph building on or off: at once when called, or for a block as a context manager.

    >>> set_grad_enabled(False)          # off from here on (in this thread)
    >>> with set_grad_enabled(True):     # on inside the block, restored after it
    ...     ...
    """

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._previous = _grad_mode.enabled
        _grad_mode.enabled = self._mode  # as torch: calling it is enough, no `with` needed

    def __enter__(self) -> None:
        pass  # already set by __init__; __exit__ restores the mode from before

    def _fresh(self) -> no_grad:
        context = no_grad() if not self._mode else enable_grad()
        return context

    def __call__(self, fn: F) -> F:
        _grad_mode.enabled = self._previous  # used as a decorator: only the calls change the mode
        return super().__call__(fn)


# --------------------------------------------------------------------------------------------------
# Broadcasting
def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, so it has `shape`.

    If `x` of shape (3, 1) was broadcast to (2, 3, 4) in the forward pass, each element of `x` was
    used 2*4 times, so its gradient is the sum over those uses. A `grad` that `shape` could not have
    been broadcast to raises a ValueError (a backward that returned a wrong shape).
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    if extra >= 0:
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if stretched:
            grad = grad.sum(axis=stretched, keepdims=True)
    if grad.shape != shape:
        raise ValueError(f"a gradient of shape {grad.shape} cannot be reduced to shape {shape}")
    return _backend.as_array(grad)  # a full sum gives a numpy scalar; gradients are arrays


# --------------------------------------------------------------------------------------------------
# Function: one differentiable op
class Function:
    """One differentiable op. Subclasses write `forward` and `backward` side by side.

    `forward(*arrays, **options)` gets the inputs' numpy arrays and returns the output array; it may
    keep on `self` what backward needs. `backward(grad)` gets the gradient of the output (same shape as
    the output) and returns one gradient per input (a tuple; a single array for a one-input op), in
    the output's broadcast shape or the input's own shape (the engine reduces it), or None for an
    input that gets no gradient. `self.needs_input_grad` tells which inputs want one, so costly
    gradients can be skipped.

    Call it with `MyFunction.apply(x, y, option=value)`; Tensors, numpy arrays and Python numbers
    are accepted as inputs. Two class flags tell the engine what backward reads: `saves_inputs`
    (the inputs' arrays) and `saves_output` (the output's array). Both default to True (safe):
    after such an op, changing those arrays in place makes `backward` raise, and the saved state is
    freed after the first backward. An op that saves neither can run backward again.

    >>> class Cube(Function):
    ...     saves_output = False
    ...     def forward(self, x):
    ...         self.x = x
    ...         return x**3
    ...     def backward(self, grad):
    ...         return (grad * 3 * self.x**2,)
    >>> y = Cube.apply(Tensor([2.0], requires_grad=True))
    """

    parents: tuple[Tensor, ...] | None
    needs_input_grad: tuple[bool, ...]
    clock: int  # the in-place write clock when the op ran
    saves_inputs: bool = True
    saves_output: bool = True
    # Set for an op recorded in place (`Tensor._record_in_place`): the clock when it wrote its
    # output into its input's memory, and that input as it was before (its earlier self).
    wrote_at: int = 0
    earlier_self: Tensor | None = None

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:
        raise NotImplementedError

    def uses_saved_input(self, k: int) -> bool:
        """Whether backward reads the saved array of input k (so changing it in place since the
        forward must make backward refuse). Ops whose gradients need only some of their saved
        inputs, given `needs_input_grad`, narrow it (Mul: x's array only for y's gradient)."""
        return True

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        """Run the op on Tensors; record it in the graph if any input requires grad."""
        fn = cls()
        try:
            arrays = [t._data for t in inputs]
        except AttributeError:  # numpy arrays or Python numbers among the inputs
            inputs = tuple(t if isinstance(t, Tensor) else _constant(t) for t in inputs)
            arrays = [t._data for t in inputs]
        if _backend.device_types:  # a GPU library is loaded: the inputs must share one device
            arrays = _backend.same_device(cls.__name__, arrays)
        out = fn.forward(*arrays, **options)
        if type(out) is not np.ndarray:  # numpy ufuncs turn 0-d arrays into numpy scalars
            out = np.asarray(out) if isinstance(out, np.generic) else _backend.as_array(out)
        out = Tensor._wrap(out)
        if _grad_mode.enabled:
            needs = tuple([t._requires_grad for t in inputs])
            if True in needs:
                fn.parents = inputs
                fn.needs_input_grad = needs
                fn.clock = _write_clock  # so backward can tell if an input changed in place since
                out._requires_grad = True
                out._ctx = fn
        return out

    def link(self, parents: tuple[Tensor, ...], needs_input_grad: tuple[bool, ...]) -> None:
        """Record this op's inputs in the graph, as `apply` does (for nodes made by hand)."""
        self.parents, self.needs_input_grad, self.clock = parents, needs_input_grad, _write_clock

    def name(self) -> str:
        """torch's name for this node of the graph: "MulBackward0" for `Mul`."""
        return f"{type(self).__name__}Backward0"

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """For each input: the node its gradient goes to next (its `grad_fn`; an
        `AccumulateGrad` for a leaf that requires grad; None otherwise) and 0, as torch."""
        nodes = []
        for parent in self.parents or ():
            if parent._ctx is not None:
                nodes.append((parent._ctx, 0))
            else:
                nodes.append((AccumulateGrad(parent) if parent._requires_grad else None, 0))
        return tuple(nodes)

    def free(self) -> None:
        """Drop the saved arrays and the links to the inputs (after backward).

        An op that saved nothing keeps its (small) state, so a second backward through it works.
        """
        if self.saves_inputs or self.saves_output:
            vars(self).clear()
            self.parents = None


class AccumulateGrad:
    """The graph's end for a leaf that requires grad: backward adds into `variable.grad`."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"

    next_functions: tuple[()] = ()


def _constant(value: Any) -> Tensor:
    """A non-Tensor op input as a Tensor without copying (ops never write to their inputs)."""
    if isinstance(value, np.ndarray) or not _backend.is_host(value):
        return Tensor._wrap(value)
    return Tensor(value)


# --------------------------------------------------------------------------------------------------
# Construction
_default_dtype = [np.dtype(np.float32)]  # a list, so set_default_dtype changes it in place


def set_default_dtype(dtype: Any) -> None:
    """The dtype of floating tensors made from Python floats and by the factories (float32 unless
    changed; as torch, only float32 and float64 are accepted here, and float16)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are supported, not {dtype}")
    _default_dtype[0] = dtype


def get_default_dtype() -> np.dtype:
    """The dtype floats become by default (float32 unless `set_default_dtype` changed it)."""
    return _default_dtype[0]


def _new_array(data: Any, dtype: Any = None) -> np.ndarray:
    """The array of a new Tensor: always a copy, as torch.tensor.

    numpy arrays (and numpy scalars) keep their dtype. Python floats (and lists of them) become
    float32, Python ints int64, bools bool, as torch's defaults.
    """
    if isinstance(data, Tensor):
        data = data._data
    if not _backend.is_host(data):  # a GPU array: copied on its device
        return data.astype(data.dtype if dtype is None else dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data, dtype=dtype, copy=True)
    array = np.array(data, dtype=dtype)
    if dtype is None:
        if array.dtype.kind == "f":
            array = array.astype(_default_dtype[0])
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64, copy=False)
        elif array.dtype.hasobject or array.dtype.kind not in "bc":
            raise TypeError(
                f"Tensor: cannot make a tensor from {type(data).__name__} (numpy made {array.dtype})"
            )
    return array


def from_numpy(array: np.ndarray) -> Tensor:
    """A Tensor sharing memory with `array` (as torch.from_numpy): writes to either show in both.

    Changes made by writing into the numpy array directly are not seen by the version counter.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy array, got {type(array).__name__}")
    return Tensor._wrap(array)


class ValuesIndices(NamedTuple):
    """What `max(dim)` / `min(dim)` return, as torch: the values and where they are (int64)."""

    values: Tensor
    indices: Tensor


def _pick(name: str, dim: Any, axis: Any, default: Any = None) -> Any:
    """torch's `dim=` or numpy's `axis=` (an alias): at most one of them."""
    if axis is not None:
        if dim is not None and dim is not default:
            raise TypeError(f"{name}: got both dim={dim!r} and axis={axis!r}; pass one")
        return axis
    return default if dim is None else dim


def _keep(keepdim: bool, keepdims: bool | None) -> bool:
    return bool(keepdim if keepdims is None else keepdims)


def _one_element(t: Tensor, what: str) -> Any:
    if t._data.size != 1:
        raise RuntimeError(
            f"{what}: only one-element tensors can be converted to a Python scalar, not shape "
            f"{t.shape}"
        )
    return t._data.item()


_INPLACE_METHODS = "add_, sub_, mul_, div_, clamp_, fill_, zero_, copy_, relu_, ..., t[i] = v"


class Tensor:
    """An n-dimensional array that can record the ops applied to it and backpropagate through them.

    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)   # float32
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad                                         # array([[2., 4.]], dtype=float32)

    Gradients accumulate into `.grad` over backward calls until `zero_grad()` (or `x.grad = None`).
    """

    __slots__ = (
        "_data",
        "_grad",
        "_requires_grad",
        "_ctx",
        "_version",
        "_retains_grad",
        "_written_at",
        "__weakref__",
    )
    # As torch: `ndarray + Tensor` defers to Tensor.__radd__ (a Tensor), while a numpy function
    # called on a Tensor (`np.exp(t)`) reads it through __array__ and returns an array.
    __array_priority__ = 1000
    # Defining __eq__ removes the inherited hash; tensors hash by identity (they key dicts and sets).
    __hash__ = object.__hash__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = _new_array(data, dtype)
        self._grad: Tensor | None = None
        self._ctx: Function | None = None
        self._requires_grad = False
        self._version = 0
        self._retains_grad = False
        self._written_at = 0  # the write clock's tick at the last in-place change (0: none)
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """Fast path for op outputs: no conversion, no copy, no checks."""
        t = cls.__new__(cls)
        t._data = array
        t._grad = None
        t._ctx = None
        t._requires_grad = False
        t._version = 0
        t._retains_grad = False
        t._written_at = 0
        return t

    # ----------------------------------------------------------------------------------------------
    # Attributes
    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's memory, cut off from the graph (as torch's `.data`).

        In-place changes through it (`p.data.sub_(...)`) change this tensor without raising its
        version counter, so a graph that saved the array cannot notice: prefer `with no_grad():`.
        """
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value: Any) -> None:
        array = value._data if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray) and _backend.is_host(array):
            array = _new_array(array)
        if array.shape != self._data.shape:
            raise ValueError(
                f"data: new shape {array.shape} does not match the tensor's shape {self._data.shape}"
            )
        if self._requires_grad and not np.issubdtype(array.dtype, np.floating):
            raise TypeError(
                f"data: a tensor that requires grad needs floating data, not {array.dtype}"
            )
        self._data = array
        self._mark_written()  # a graph that saved the old array must not use this one

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient, a Tensor of this tensor's shape (None until a backward).

        Inside the library the array is `t.grad._data`; hot loops (optimizer steps) use it directly.
        """
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is None:
            self._grad = None
            return
        if not isinstance(value, Tensor):
            raise TypeError(
                f"grad: assigned grad expected to be a Tensor or None, got "
                f"{type(value).__name__} (wrap an array with tinygrad_be.from_numpy)"
            )
        if value.shape != self._data.shape:
            raise ValueError(
                f"grad: assigned grad has shape {value.shape}, the tensor has shape "
                f"{self._data.shape}"
            )
        self._grad = value

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

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place and return self (as torch)."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad_fn(self) -> Function | None:
        """The `Function` that made this tensor (None for leaves and outside the graph)."""
        return self._ctx

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor during backward (leaves always keep theirs)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        self._retains_grad = self._ctx is not None

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

    def dim(self) -> int:
        """The number of dimensions (torch's name for `ndim`)."""
        return self._data.ndim

    def size(self, dim: int | None = None) -> Any:
        """The shape (a tuple), or the length of dimension `dim` (as torch's `size()`)."""
        if dim is None:
            return self._data.shape
        return self._data.shape[dim]

    def numel(self) -> int:
        """The number of elements."""
        return self._data.size

    def __len__(self) -> int:
        return len(self._data)

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a numpy array sharing memory with the tensor (as torch's bridge).

        As torch, a tensor that requires grad refuses (its array may be saved by a graph): call
        `t.detach().numpy()`; `force=True` does that for you.
        """
        if self._requires_grad and not force:
            raise RuntimeError(
                "numpy: can't call numpy() on a tensor that requires grad; use "
                "tensor.detach().numpy() instead"
            )
        if type(self._data) is not np.ndarray:
            self._refuse_host_view("numpy")
        return self._data

    def _refuse_host_view(self, name: str) -> None:
        if not _backend.is_host(self._data):  # torch's error and advice
            raise TypeError(
                f"{name}: can't convert {self.device} device type tensor to numpy. Use "
                "Tensor.cpu() to copy the tensor to host memory first."
            )

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if type(self._data) is not np.ndarray:
            self._refuse_host_view("numpy")
        array = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors have an item, not shape {self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        """The data as (nested) Python lists of Python numbers; a 0-d tensor gives a number."""
        return self._data.tolist()

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"bool: the truth value of a tensor of shape {self.shape} is ambiguous (it has "
                f"{self._data.size} values); use .any() or .all()"
            )
        return bool(self._data.item())

    def __float__(self) -> float:
        return float(_one_element(self, "float"))

    def __int__(self) -> int:
        return int(_one_element(self, "int"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype}")
        return int(_one_element(self, "index"))

    def __format__(self, format_spec: str) -> str:
        if self._data.ndim == 0:  # as torch: a 0-d tensor formats like its number
            return format(self._data.item(), format_spec)
        return super().__format__(format_spec)

    def detach(self) -> Tensor:
        """A tensor sharing the same data, cut off from the graph."""
        return Tensor._wrap(self._data)

    def astype(self, dtype: Any) -> Tensor:
        """A cast to `dtype`: differentiable between floating dtypes (the gradient is cast back);
        a cast to an integer or bool dtype gives a tensor that does not require grad."""
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            return Tensor._wrap(self._data.astype(dtype))
        return ops.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def long(self) -> Tensor:
        return self.astype(np.int64)

    def __repr__(self) -> str:
        """As torch prints a tensor: `tensor([[0.1000, 2.0000]], requires_grad=True)`; the dtype
        is named when it is not the default one for its kind (float32, int64, bool), the device
        when it is not the CPU."""
        data = _backend.to_host(self._data)
        # 81 characters wraps rows where torch's printer does (checked on 1-, 2- and 3-d tensors).
        options: dict[str, Any] = {"separator": ", ", "prefix": "tensor(", "max_line_width": 81}
        if data.dtype.kind == "b":  # torch pads to the widest value present, numpy always to 5
            width = 5 if data.size and not data.all() else 4
            options["formatter"] = {"bool": lambda b: str(b).rjust(width)}
        if data.dtype.kind == "f" and data.size:
            finite = data[np.isfinite(data)]
            integral = finite.size == 0 or bool(np.all(finite == np.round(finite)))
            options.update(precision=4, floatmode="maxprec" if integral else "fixed")
        body = np.array2string(data, **options)
        extra = "" if _backend.is_host(self._data) else f", device='{self.device}'"
        if data.dtype not in _DEFAULT_PRINTED_DTYPES and data.dtype != _default_dtype[0]:
            extra += f", dtype={data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{self._ctx.name()}>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    # ----------------------------------------------------------------------------------------------
    # Backward
    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Any = None,
        *,
        grad: Any = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        `gradient` (torch's name; `grad=` is accepted too) is the gradient of some final scalar with
        respect to `self` (same shape); it defaults to 1 when `self` has a single element and is
        required otherwise. Gradients add up over calls until they are cleared
        (`optimizer.zero_grad()`, `model.zero_grad()`). `create_graph=True` (higher-order
        gradients) and `inputs=` are not supported and raise.
        """
        if create_graph or inputs is not None or grad is not None:
            gradient = _backward_options(create_graph, inputs, gradient, grad)
        grad = gradient
        retain_graph = bool(retain_graph)
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
            grad = _backend.like(grad._data if isinstance(grad, Tensor) else grad, self._data, self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward: grad of shape {grad.shape} does not match the output's shape "
                    f"{self.shape}"
                )

        # Sorting first also checks the graph (freed parts, in-place changes) before any .grad
        # changes. Tensors hash by identity, so they key the dict of pending gradients directly.
        order = self._topological_order()
        grads: dict[Tensor, np.ndarray] = {self: grad}
        given_to_leaves: set[int] = set()  # ids of the arrays that leaves now own as .grad
        for node in reversed(order):
            node_grad = grads.pop(node, None)
            if node_grad is None:
                continue
            fn = node._ctx
            if fn is None or node._retains_grad:  # a leaf: accumulate in its own dtype
                if type(node_grad) is not np.ndarray and isinstance(node_grad, np.generic):
                    node_grad = np.asarray(node_grad)  # numpy's sum of two 0-d arrays
                if node._grad is None:
                    # Keep a fresh array as it is; copy one that someone else may hold (the
                    # caller's `grad`, a view, or the same array handed to two inputs by Add).
                    fresh = (
                        fn is None
                        and node_grad is not grad
                        and node_grad.base is None
                        and node_grad.dtype == node._data.dtype
                        and id(node_grad) not in given_to_leaves
                    )
                    array = node_grad if fresh else node_grad.astype(node._data.dtype)
                    node._grad = Tensor._wrap(array)
                    given_to_leaves.add(id(array))
                else:
                    np.add(node._grad._data, node_grad, out=node._grad._data, casting="unsafe")
                if fn is None:
                    continue
            input_grads = fn.backward(node_grad)
            self._send(fn, input_grads, grads)
            if not retain_graph:
                fn.free()

    @staticmethod
    def _send(fn: Function, input_grads: Any, grads: dict[Tensor, np.ndarray]) -> None:
        """Add the gradients `fn.backward` returned to its inputs' pending gradients."""
        parents = fn.parents
        if type(input_grads) is not tuple:
            if isinstance(input_grads, list):
                input_grads = tuple(input_grads)
            elif isinstance(input_grads, (np.generic, int, float)) or hasattr(input_grads, "shape"):
                input_grads = (input_grads,)  # a one-input op may return its gradient alone
            else:
                raise RuntimeError(
                    f"{type(fn).__name__}.backward returned a {type(input_grads).__name__}; it "
                    f"must return one gradient per input ({len(parents)}) as a tuple"
                )
        if len(input_grads) != len(parents):
            raise RuntimeError(
                f"{type(fn).__name__}.backward returned {len(input_grads)} gradients for "
                f"{len(parents)} inputs (one per input, None where there is none)"
            )
        for k, parent_grad in enumerate(input_grads):
            parent = parents[k]
            if parent_grad is None or not parent._requires_grad:
                continue
            if type(parent_grad) is not np.ndarray:
                parent_grad = _backend.as_array(parent_grad)
            if parent_grad.shape != parent._data.shape:
                try:
                    parent_grad = unbroadcast(parent_grad, parent._data.shape)
                except ValueError:
                    raise RuntimeError(
                        f"{type(fn).__name__}.backward returned a gradient of shape "
                        f"{parent_grad.shape} for input {k} of shape {parent._data.shape} (it "
                        "must have the input's shape, or a shape the input broadcasts to)"
                    ) from None
            previous = grads.get(parent)
            grads[parent] = parent_grad if previous is None else previous + parent_grad

    def _topological_order(self) -> list[Tensor]:
        """Every tensor that requires grad and leads to self, inputs before outputs.

        Iterative depth-first search, so a graph 100,000 ops deep does not hit the recursion limit.
        Checks on the way that no op's saved arrays were freed or changed in place.
        """
        order: list[Tensor] = []
        visited: set[Tensor] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        clock = _write_clock
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
            if fn.clock != clock:  # something was changed in place since fn ran
                _check_in_place_changes(fn, node)
            for parent in fn.parents:
                if parent._requires_grad and parent not in visited:
                    stack.append((parent, False))
        return order

    # ----------------------------------------------------------------------------------------------
    # Arithmetic (numpy broadcasting; dtypes promote as in torch)
    def _operands(self, other: Any, reflected: bool = False) -> tuple[Tensor, Tensor]:
        """(self, other) as Tensors of compatible dtypes, in the order of the operation.

        As torch: a Python (or numpy) number takes a floating tensor's dtype (a float32 graph stays
        float32); an integer tensor meeting a float number becomes float32; an integer or bool
        tensor meeting a floating tensor takes that tensor's dtype.
        """
        a = self
        if isinstance(other, Tensor):
            b = other
        elif isinstance(other, (int, float, np.integer, np.floating, bool, np.bool_)):
            kind = self._data.dtype.kind
            if kind == "f":
                b = Tensor._wrap(np.asarray(other, dtype=self._data.dtype))
            elif isinstance(other, (float, np.floating)):
                a = a.astype(np.float32)
                b = Tensor._wrap(np.asarray(other, dtype=np.float32))
            elif kind in "iu" and not isinstance(other, (bool, np.bool_)):
                b = Tensor._wrap(np.asarray(other, dtype=self._data.dtype))
            else:
                b = Tensor._wrap(np.asarray(other))
        elif isinstance(other, np.ndarray) or not _backend.is_host(other):
            b = Tensor._wrap(other)
        else:  # as torch: `t + (1, 2)` or `t + [1, 2]` is a TypeError, not an implicit tensor
            raise TypeError(
                f"unsupported operand type for a Tensor op: {type(other).__name__} (make it a "
                "tensor first: tinygrad_be.tensor(...))"
            )
        if a._data.dtype != b._data.dtype:
            a_float, b_float = a._data.dtype.kind == "f", b._data.dtype.kind == "f"
            if a_float and not b_float:
                b = b.astype(a._data.dtype)
            elif b_float and not a_float:
                a = a.astype(b._data.dtype)
        return (b, a) if reflected else (a, b)

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(*self._operands(other))

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(*self._operands(other, reflected=True))

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(*self._operands(other))

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(*self._operands(other, reflected=True))

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(*self._operands(other))

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(*self._operands(other, reflected=True))

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(*_true_division(*self._operands(other)))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(*_true_division(*self._operands(other, reflected=True)))

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pow__(self, exponent: Any) -> Tensor:
        """x ** p: a Python number p keeps x's dtype; a Tensor (or array) p is differentiable too."""
        if isinstance(exponent, (int, float, np.integer, np.floating)) and not isinstance(
            exponent, bool
        ):
            if isinstance(exponent, np.generic):  # a Python number keeps x's dtype, np.float64 not
                exponent = exponent.item()
            if self._data.dtype.kind != "f" and isinstance(exponent, float):
                return ops.Pow.apply(self.astype(np.float32), exponent=exponent)
            return ops.Pow.apply(self, exponent=exponent)
        return ops.PowTensor.apply(*self._operands(exponent))

    def __rpow__(self, base: Any) -> Tensor:
        """base ** x for a number or array `base`: differentiable in x."""
        return ops.PowTensor.apply(*self._operands(base, reflected=True))

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(*self._operands(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(*self._operands(other, reflected=True))

    # ----------------------------------------------------------------------------------------------
    # Comparisons: elementwise, bool tensors that never require grad (hashing stays by identity)
    def _compare(self, other: Any, compare: Callable[..., np.ndarray], symbol: str) -> Tensor:
        other_data = other._data if isinstance(other, Tensor) else other
        try:
            return Tensor._wrap(_backend.as_array(compare(self._data, other_data)))
        except ValueError:
            raise ValueError(
                f"{symbol}: shapes {self.shape} and {np.shape(other_data)} cannot be broadcast "
                "together"
            ) from None

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal, "==")

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal, "!=")

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less, "<")

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal, "<=")

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater, ">")

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal, ">=")

    def eq(self, other: Any) -> Tensor:
        return self == other

    def logical_not(self) -> Tensor:
        return Tensor._wrap(np.logical_not(self._data))

    def __invert__(self) -> Tensor:
        if self._data.dtype.kind not in "iub":
            raise TypeError(f"~: only integer and bool tensors, not {self.dtype}")
        return Tensor._wrap(~self._data)

    def __and__(self, other: Any) -> Tensor:
        return self._compare(other, np.bitwise_and, "&")

    def __or__(self, other: Any) -> Tensor:
        return self._compare(other, np.bitwise_or, "|")

    def any(
        self, dim: int | None = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: bool | None = None, out: None = None,
    ) -> Tensor:
        """True where any element (along `dim`, or of all) is nonzero; a bool tensor."""
        _no_out("any", out)
        axis = _pick("any", dim, axis)
        return Tensor._wrap(_backend.as_array(self._data.any(axis=axis, keepdims=_keep(keepdim, keepdims))))

    def all(
        self, dim: int | None = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: bool | None = None, out: None = None,
    ) -> Tensor:
        """True where every element (along `dim`, or of all) is nonzero; a bool tensor."""
        _no_out("all", out)
        axis = _pick("all", dim, axis)
        return Tensor._wrap(_backend.as_array(self._data.all(axis=axis, keepdims=_keep(keepdim, keepdims))))

    # ----------------------------------------------------------------------------------------------
    # In place, as torch: the tensor keeps its memory. Under no_grad (weight updates) or on tensors
    # outside any graph this is a plain write; on a tensor in a recorded graph the op is recorded too
    # and the tensor takes the result's place in the graph (see `_take_over`).
    def _inplace(self, name: str, compute: Callable[[], Any]) -> Tensor:
        """Write `compute()` (the out-of-place result) into this tensor's own array."""
        recording = _grad_mode.enabled
        if recording and self._requires_grad and self._ctx is None:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad (shape {self.shape}) cannot be changed "
                "in place while the graph is recorded; wrap the update in `with no_grad():` (a "
                "weight update) or use the out-of-place form"
            )
        result = compute()
        if not isinstance(result, Tensor):
            result = Tensor._wrap(_backend.like(result, self._data))
        if recording and result._ctx is not None:
            return self._take_over(result, name)
        self._write(result._data, name)
        if recording and self._ctx is not None:  # overwritten without a graph: no gradient flows
            self._ctx, self._requires_grad = None, False
        self._mark_written()  # graphs that saved this array now refuse to use it
        return self

    def _write(self, values: np.ndarray, name: str) -> None:
        try:
            np.copyto(self._data, values, casting="same_kind")
        except (TypeError, ValueError) as error:
            raise type(error)(
                f"{name}: {error} (tensor {self.shape} {self.dtype}, result "
                f"{np.shape(values)} {_backend.as_array(values).dtype})"
            ) from None

    def _take_over(self, result: Tensor, name: str) -> Tensor:
        """Write `result`'s values into this tensor and make it the output of `result`'s node."""
        self._write(result._data, name)
        self._record_in_place(result._ctx)
        return self

    def _record_in_place(self, fn: Function) -> None:
        """Make this tensor, just changed in place by `fn`, the output of `fn` in the graph.

        The tensor as it was keeps its place in the graph as `fn.earlier_self`: `fn` and the ops
        that used the tensor earlier send their gradients there (see `_as_it_was`). Ops that saved
        its array refuse to backward, since the array has changed.
        """
        before = Tensor._wrap(self._data)
        before._ctx, before._requires_grad = self._ctx, self._requires_grad
        fn.parents = tuple([before if parent is self else parent for parent in fn.parents])
        self._mark_written()
        before._version, before._written_at = self._version, self._written_at  # same memory
        fn.wrote_at, fn.earlier_self = self._written_at, before
        self._ctx, self._requires_grad = fn, True

    def _mark_written(self) -> None:
        """Count an in-place change of this tensor's values: its version and the write clock."""
        global _write_clock
        with _write_clock_lock:
            _write_clock += 1
            self._version += 1
            self._written_at = _write_clock

    def add_(self, other: Any, *, alpha: float = 1) -> Tensor:
        return self._inplace("add_", lambda: self.add(other, alpha=alpha))

    def sub_(self, other: Any, *, alpha: float = 1) -> Tensor:
        return self._inplace("sub_", lambda: self.sub(other, alpha=alpha))

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", lambda: self * other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", lambda: self / other)

    def pow_(self, exponent: Any) -> Tensor:
        return self._inplace("pow_", lambda: self**exponent)

    def neg_(self) -> Tensor:
        return self._inplace("neg_", lambda: -self)

    def abs_(self) -> Tensor:
        return self._inplace("abs_", lambda: self.abs())

    def exp_(self) -> Tensor:
        return self._inplace("exp_", lambda: self.exp())

    def sqrt_(self) -> Tensor:
        return self._inplace("sqrt_", lambda: self.sqrt())

    def relu_(self) -> Tensor:
        return self._inplace("relu_", lambda: self.relu())

    def sigmoid_(self) -> Tensor:
        return self._inplace("sigmoid_", lambda: self.sigmoid())

    def tanh_(self) -> Tensor:
        return self._inplace("tanh_", lambda: self.tanh())

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return self._inplace("clamp_", lambda: self.clamp(min, max))

    clip_ = clamp_

    def fill_(self, value: Any) -> Tensor:
        return self._inplace("fill_", lambda: np.full(self.shape, _data_of(value), self.dtype))

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def copy_(self, src: Any) -> Tensor:
        """Copy `src` (broadcast to this shape, cast to this dtype) into this tensor."""
        if isinstance(src, Tensor) and src._requires_grad and _grad_mode.enabled:
            return self._inplace("copy_", lambda: src.to(self.dtype).expand(self.shape))
        return self._inplace("copy_", lambda: np.broadcast_to(_data_of(src), self.shape))

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with values uniform in [a, b) from the default generator (or `generator`)."""
        return self._inplace("uniform_", lambda: _rng.resolve(generator).uniform(a, b, self.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with normal values of mean `mean` and standard deviation `std`."""
        return self._inplace("normal_", lambda: _rng.resolve(generator).normal(mean, std, self.shape))

    # `x += y` is in place, as torch (and refused on a leaf that requires grad outside no_grad).
    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)

    # ----------------------------------------------------------------------------------------------
    # Shape
    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed (numpy's and torch's `.T`)."""
        return ops.Transpose.apply(self, axes=None)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap dimensions `dim0` and `dim1` (torch's `transpose`; `permute` reorders all)."""
        ndim = max(self.ndim, 1)
        for d in (dim0, dim1):
            if not isinstance(d, (int, np.integer)) or not -ndim <= d < ndim:
                raise ValueError(
                    f"transpose: dims ({dim0}, {dim1}) out of range for a tensor of shape "
                    f"{self.shape} (transpose swaps two dims; use permute(*dims) to reorder all)"
                )
        axes = list(range(self.ndim))
        if self.ndim:
            axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return ops.Transpose.apply(self, axes=tuple(axes))

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        """Reorder the dimensions: output dim i is input dim dims[i] (numpy's `transpose(axes)`)."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return ops.Transpose.apply(self, axes=tuple(dims))

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        """`reshape` (numpy arrays have no contiguity rule to enforce here)."""
        return self.reshape(*shape)

    def expand(self, *sizes: int | Sequence[int]) -> Tensor:
        """Broadcast to `sizes` (-1 keeps a dimension) without copying; the gradient is summed."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        return ops.Expand.apply(self, sizes=tuple(sizes))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dimensions `start_dim`..`end_dim` (inclusive) into one; a 0-d tensor becomes (1,)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _dims((start_dim, end_dim), self.ndim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(*self.shape[:start], -1, *self.shape[end + 1 :])

    def squeeze(self, dim: int | tuple[int, ...] | None = None) -> Tensor:
        """Drop dimensions of size 1 (all, or those among `dim`; others are left alone, as torch)."""
        if dim is None:
            dims = tuple(i for i, n in enumerate(self.shape) if n == 1)
        else:
            dims = _dims(dim if isinstance(dim, tuple) else (dim,), self.ndim, "squeeze")
        return self.reshape(*(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a dimension of size 1 at `dim` (-1 appends one)."""
        (position,) = _dims((dim,), self.ndim + 1, "unsqueeze")
        return self.reshape(*self.shape[:position], 1, *self.shape[position:])

    def __getitem__(self, index: Any) -> Tensor:
        return ops.Index.apply(self, index=index)

    def gather(self, dim: int, index: Any) -> Tensor:
        """`out[i][j][k] = self[index[i][j][k]][j][k]` for dim=0 (torch.gather); `index` has self's
        number of dims and no dimension longer than self's, except along `dim`."""
        return ops.Gather.apply(self, dim=dim, index=_data_of(index))

    # ----------------------------------------------------------------------------------------------
    # Reductions: torch's dim= / keepdim=, with numpy's axis= / keepdims= as aliases
    def sum(
        self,
        dim: int | tuple[int, ...] | None = None,
        keepdim: bool = False,
        *,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool | None = None,
        dtype: Any = None,
        out: None = None,
    ) -> Tensor:
        _no_out("sum", out)
        x = self if dtype is None else self.astype(dtype)
        return ops.Sum.apply(x, axis=_pick("sum", dim, axis), keepdims=_keep(keepdim, keepdims))

    def mean(
        self,
        dim: int | tuple[int, ...] | None = None,
        keepdim: bool = False,
        *,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool | None = None,
        dtype: Any = None,
        out: None = None,
    ) -> Tensor:
        """The mean; of a bool or integer tensor (accuracy: `(pred == y).mean()`) it is float32."""
        _no_out("mean", out)
        x = self
        if dtype is not None:
            x = x.astype(dtype)
        elif x._data.dtype.kind != "f":
            x = x.astype(np.float32)
        return ops.Mean.apply(x, axis=_pick("mean", dim, axis), keepdims=_keep(keepdim, keepdims))

    def amax(
        self,
        dim: int | tuple[int, ...] | None = None,
        keepdim: bool = False,
        *,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Maximum over `dim` (any number of dims); tied maxima share the gradient equally."""
        return ops.Max.apply(self, axis=_pick("amax", dim, axis), keepdims=_keep(keepdim, keepdims))

    def amin(
        self,
        dim: int | tuple[int, ...] | None = None,
        keepdim: bool = False,
        *,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Minimum over `dim` (any number of dims); tied minima share the gradient equally."""
        return ops.Min.apply(self, axis=_pick("amin", dim, axis), keepdims=_keep(keepdim, keepdims))

    def max(
        self,
        dim: Any = None,
        keepdim: bool = False,
        *,
        axis: int | None = None,
        keepdims: bool | None = None,
    ) -> Any:
        """As torch: `max()` is the 0-d maximum (ties share the gradient); `max(dim)` returns
        `(values, indices)` (the gradient goes to the index returned, the first maximum);
        `max(other_tensor)` is `maximum(self, other)`."""
        return self._extremum("max", dim, keepdim, axis, keepdims)

    def min(
        self,
        dim: Any = None,
        keepdim: bool = False,
        *,
        axis: int | None = None,
        keepdims: bool | None = None,
    ) -> Any:
        """As `max`, for the minimum."""
        return self._extremum("min", dim, keepdim, axis, keepdims)

    def _extremum(
        self, name: str, dim: Any, keepdim: bool, axis: Any, keepdims: bool | None
    ) -> Any:
        if isinstance(dim, Tensor):
            return maximum(self, dim) if name == "max" else minimum(self, dim)
        dim = _pick(name, dim, axis)
        if dim is None:
            return self.amax() if name == "max" else self.amin()
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(
                f"{name}: dim must be one int (it returns values and indices); use "
                f"a{name}(dim=...) to reduce over several dims"
            )
        keep = _keep(keepdim, keepdims)
        indices = (
            self.argmax(dim, keepdim=True) if name == "max" else self.argmin(dim, keepdim=True)
        )
        values = self.gather(dim, indices)
        if not keep:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return ValuesIndices(values, indices)

    def argmax(
        self,
        dim: int | None = None,
        keepdim: bool = False,
        *,
        axis: int | None = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Indices of the maxima (int64, not differentiable); of the flattened tensor if no dim."""
        return _arg_extremum(np.argmax, self, _pick("argmax", dim, axis), _keep(keepdim, keepdims))

    def argmin(
        self,
        dim: int | None = None,
        keepdim: bool = False,
        *,
        axis: int | None = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Indices of the minima (int64, not differentiable); of the flattened tensor if no dim."""
        return _arg_extremum(np.argmin, self, _pick("argmin", dim, axis), _keep(keepdim, keepdims))

    def var(
        self,
        dim: int | tuple[int, ...] | None = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: float | None = None,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Variance: sum((x - mean)**2) / (N - correction), torch's default correction=1
        (`unbiased=False` means correction=0)."""
        if correction is None:
            correction = 0 if unbiased is False else 1
        elif unbiased is not None:
            raise TypeError("var: pass correction or unbiased, not both")
        return ops.Var.apply(
            self,
            axis=_pick("var", dim, axis),
            correction=correction,
            keepdims=_keep(keepdim, keepdims),
        )

    def std(
        self,
        dim: int | tuple[int, ...] | None = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: float | None = None,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Standard deviation: sqrt of `var` with the same arguments."""
        return self.var(
            dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims
        ).sqrt()

    # ----------------------------------------------------------------------------------------------
    # Elementwise functions
    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def log1p(self) -> Tensor:
        """log(1 + x), accurate for small x."""
        return ops.Log1p.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        """|x|; the gradient at 0 is 0 (as torch)."""
        return ops.Abs.apply(self)

    def __abs__(self) -> Tensor:
        return self.abs()

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        """Limit to [min, max] (either may be None); the gradient passes where min <= x <= max."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            raise TypeError(
                "clamp: min and max must be numbers; use maximum()/minimum() for tensors"
            )
        return ops.Clamp.apply(self, low=min, high=max)

    clip = clamp

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def softmax(self, dim: int = -1, *, axis: int | None = None) -> Tensor:
        return ops.Softmax.apply(self, axis=_pick("softmax", dim, axis, default=-1))

    def log_softmax(self, dim: int = -1, *, axis: int | None = None) -> Tensor:
        return ops.LogSoftmax.apply(self, axis=_pick("log_softmax", dim, axis, default=-1))

    # ----------------------------------------------------------------------------------------------
    # torch's other names for the ops above, and the rest of torch's Tensor API
    def sin(self) -> Tensor:
        return ops.Sin.apply(self)

    def cos(self) -> Tensor:
        return ops.Cos.apply(self)

    def square(self) -> Tensor:
        return self * self

    def neg(self) -> Tensor:
        return ops.Neg.apply(self)

    negative = neg

    def clone(self) -> Tensor:
        """A copy with its own memory; differentiable (the gradient passes through)."""
        return ops.Clone.apply(self)

    def add(self, other: Any, *, alpha: float = 1) -> Tensor:
        """self + alpha * other."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other: Any, *, alpha: float = 1) -> Tensor:
        """self - alpha * other."""
        return self - (other if alpha == 1 else other * alpha)

    subtract = sub

    def mul(self, other: Any) -> Tensor:
        return self * other

    multiply = mul

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        """self / other: true division, or rounded ("trunc", "floor") as torch, not differentiable."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', not {rounding_mode!r}")
        a, b = self._operands(other)
        if rounding_mode == "floor":
            rounded = np.floor_divide(a._data, b._data)
        else:  # trunc: round the true quotient towards zero, in the operands' dtype
            dtype = np.result_type(a._data.dtype, b._data.dtype)
            rounded = np.trunc(np.true_divide(a._data, b._data)).astype(dtype, copy=False)
        return Tensor._wrap(_backend.as_array(rounded))

    divide = div
    true_divide = __truediv__

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    def mm(self, other: Any) -> Tensor:
        """Matrix product of two 2-D tensors (torch.mm refuses other ranks; use matmul)."""
        other = other if isinstance(other, Tensor) else _constant(other)
        if self.ndim != 2 or other.ndim != 2:
            raise RuntimeError(f"mm: both must be 2-D, got shapes {self.shape} and {other.shape}")
        return self @ other

    def bmm(self, other: Any) -> Tensor:
        """Batched matrix product of (b, n, m) and (b, m, p) tensors."""
        other = other if isinstance(other, Tensor) else _constant(other)
        if self.ndim != 3 or other.ndim != 3 or self.shape[0] != other.shape[0]:
            raise RuntimeError(
                f"bmm: expected two 3-D tensors with the same batch size, got shapes "
                f"{self.shape} and {other.shape}"
            )
        return self @ other

    def dot(self, other: Any) -> Tensor:
        other = other if isinstance(other, Tensor) else _constant(other)
        if self.ndim != 1 or other.ndim != 1:
            raise RuntimeError(f"dot: both must be 1-D, got shapes {self.shape} and {other.shape}")
        return self @ other

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces along `dim`: of `split_size` each (the last may be smaller), or of the sizes in a
        list; each is differentiable (a slice of this tensor)."""
        (axis,) = _dims((dim,), self.ndim, "split")
        length = self.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            step = int(split_size_or_sections)
            if step <= 0:
                raise ValueError(f"split: split_size must be positive, got {step}")
            sizes = [min(step, length - start) for start in range(0, length, step)] or [0]
        else:
            sizes = [int(n) for n in split_size_or_sections]
            if sum(sizes) != length:
                raise ValueError(
                    f"split: sizes {sizes} add up to {sum(sizes)}, not dim {dim}'s length {length} "
                    f"(shape {self.shape})"
                )
        lead = (slice(None),) * axis
        starts = np.cumsum([0, *sizes[:-1]])
        return tuple(self[(*lead, slice(int(a), int(a) + n))] for a, n in zip(starts, sizes, strict=True))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """At most `chunks` pieces along `dim`, each ceil(length / chunks) long but the last."""
        if int(chunks) <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        (axis,) = _dims((dim,), self.ndim, "chunk")
        return self.split(max(1, -(-self.shape[axis] // int(chunks))), dim)

    def bernoulli_(self, p: float = 0.5, *, generator: Any = None) -> Tensor:
        """Fill with 1 with probability `p`, else 0 (from the default generator)."""
        return self._inplace("bernoulli_", lambda: _rng.resolve(generator).random(self.shape) < _data_of(p))

    def t(self) -> Tensor:
        """Transpose of a tensor of at most 2 dims (torch's `t()`)."""
        if self.ndim > 2:
            raise RuntimeError(f"t: expects a tensor of at most 2 dims, got shape {self.shape}; use transpose(dim0, dim1)")
        return self if self.ndim < 2 else self.transpose(0, 1)

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    reshape_as = view_as

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def contiguous(self) -> Tensor:
        """Self if its array is C-contiguous, else a contiguous copy (differentiable)."""
        return self if self._data.flags.c_contiguous else self.clone()

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        """True when |self - other| <= atol + rtol * |other| everywhere (a Python bool, as torch)."""
        return bool(np.allclose(self._data, _data_of(other), rtol=rtol, atol=atol, equal_nan=equal_nan))

    def equal(self, other: Any) -> bool:
        """True when both have the same shape and the same values (a Python bool)."""
        other = _data_of(other)
        shape = other.shape if hasattr(other, "shape") else np.shape(other)
        return self._data.shape == shape and bool(np.array_equal(self._data, other))

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def element_size(self) -> int:
        return self._data.dtype.itemsize

    nelement = numel

    # Factories that take this tensor's dtype (and device) unless told otherwise
    def new_tensor(self, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        from tinygrad_be.creation import tensor

        device = self.device if device is None else device  # as torch: self's device by default
        return tensor(data, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)

    def new_full(self, size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        from tinygrad_be.creation import full

        device = self.device if device is None else device
        return full(size, fill_value, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_size(size), 0, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_size(size), 1, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    # Devices and dtypes
    @property
    def device(self) -> Any:
        """Where the data lives: `device(type='cpu')` for numpy arrays, `device(type='cuda',
        index=0)` for CuPy arrays on the GPU."""
        if type(self._data) is np.ndarray:
            return _device.CPU
        return _backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return not _backend.is_host(self._data)

    def cpu(self) -> Tensor:
        """This tensor in host memory: self if it is there, else a copy (differentiable)."""
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Tensor:
        """This tensor on the GPU: self if it is there, else a copy (differentiable); needs CuPy
        and a GPU (`cuda.is_available()`)."""
        return self.to(_device.device("cuda" if device is None else device))

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """`to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other_tensor)`, as torch: self when
        nothing changes (`copy=True` forces a copy), otherwise a converted tensor (differentiable
        between floating dtypes, and between devices: "cpu", and "cuda" with CuPy and a GPU)."""
        dtype, copy = kwargs.pop("dtype", None), kwargs.pop("copy", False)
        where = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):  # as torch: the other tensor's dtype and device
                dtype, where = arg.dtype, arg.device
            elif isinstance(arg, (str, _device.device)):
                where = arg
            else:
                dtype = arg
        out = self
        if where is not None:
            target = _device.resolve(where, "to")
            if target != self.device:
                out = ops.ToDevice.apply(self, device=target)
        if dtype is not None and np.dtype(dtype) != out.dtype:
            out = out.astype(dtype)
        return out.clone() if copy and out is self else out

    def type(self, dtype: Any = None) -> Any:
        """Without an argument, the type's name ("tinygrad_be.FloatTensor", as torch's
        "torch.FloatTensor"); with a dtype, the tensor converted to it."""
        if dtype is None:
            return f"tinygrad_be.{_TENSOR_TYPE_NAMES.get(self._data.dtype, 'Tensor')}"
        return self.to(dtype)

    def int(self) -> Tensor:
        return self.astype(np.int32)

    def half(self) -> Tensor:
        return self.astype(np.float16)

    def bool(self) -> Tensor:
        return self.astype(np.bool_)

    # Item assignment: in place, as torch, and recorded in the graph when gradients flow
    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(value, Tensor):  # as torch: the value takes the tensor's dtype
            value_tensor = value if value.dtype == self.dtype else value.to(self.dtype)
        else:
            value_tensor = Tensor._wrap(_backend.like(value, self._data, self.dtype))
        if _grad_mode.enabled and (self._requires_grad or value_tensor._requires_grad):
            self._inplace("setitem", lambda: ops.SetItem.apply(self, value_tensor, index=index))
        else:  # no graph: write the slice directly, no copy of the whole tensor
            ops._assign(self._data, ops._plain_index(index, self._data), value_tensor._data)
            self._mark_written()


_DEFAULT_PRINTED_DTYPES = (np.dtype(np.int64), np.dtype(np.bool_))

_TENSOR_TYPE_NAMES = {
    np.dtype(np.float32): "FloatTensor",
    np.dtype(np.float64): "DoubleTensor",
    np.dtype(np.float16): "HalfTensor",
    np.dtype(np.int64): "LongTensor",
    np.dtype(np.int32): "IntTensor",
    np.dtype(np.int16): "ShortTensor",
    np.dtype(np.int8): "CharTensor",
    np.dtype(np.uint8): "ByteTensor",
    np.dtype(np.bool_): "BoolTensor",
}


def _size(size: tuple[Any, ...]) -> tuple[int, ...]:
    """Sizes given as `f(2, 3)` or `f((2, 3))` (torch accepts both) as one tuple of ints."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(n) for n in size)


def _into(out: Any, result: Tensor, op: str) -> Tensor:
    """torch's `out=`: write `result` into the tensor `out` (resized if its shape differs) and
    return `out`. As torch, refused when the result is part of a graph."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: out must be a Tensor, not {type(out).__name__}")
    if result._requires_grad and _grad_mode.enabled or out._requires_grad:
        raise RuntimeError(
            f"{op}: functions with out=... arguments don't support automatic differentiation; "
            "call it without out= (or under no_grad())"
        )
    if out.shape == result.shape:
        np.copyto(out._data, result._data, casting="unsafe")
    else:
        out._data = result._data.astype(out.dtype, copy=True)
    out._mark_written()
    return out


# torch's function forms of Tensor methods: `tinygrad_be.exp(x)` is `x.exp()`, with `out=`.
# tinygrad_be/__init__.py makes one module-level function per name here, so the methods above are
# the only code: a name added to the class and to this table is a torch function too.
FUNCTION_FORMS = (
    "abs", "add", "allclose", "amax", "amin", "argmax", "argmin", "bmm", "chunk", "clamp", "clip",
    "clone", "cos", "detach", "div", "dot", "equal", "exp", "expand_as", "flatten", "gather",
    "log", "log1p", "log_softmax", "matmul", "max", "mean", "min", "mm", "mul", "neg",
    "numel", "permute", "pow", "relu", "reshape", "sigmoid", "sin", "softmax", "sqrt", "square",
    "split", "squeeze", "std", "sub", "sum", "t", "tanh", "transpose", "true_divide", "unsqueeze", "var",
)  # fmt: skip


def function_form(name: str) -> Callable[..., Any]:
    """The module-level function `name(input, *args, out=None, **kwargs)` for `Tensor.name`."""
    method = getattr(Tensor, name)

    def function(input: Any, *args: Any, out: Tensor | None = None, **kwargs: Any) -> Any:  # noqa: A002
        if not isinstance(input, Tensor):
            if name == "pow" and args and isinstance(args[0], Tensor):  # pow(2, x): a number base
                return _into(out, args[0].__rpow__(input), name)
            input = _constant(input)
        result = method(input, *args, **kwargs)
        if out is not None and not isinstance(result, Tensor):
            raise TypeError(f"{name}: out= is supported only where the result is one tensor")
        return _into(out, result, name) if out is not None else result

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"`{name}(input, ...)` is `input.{name}(...)`; `out=` writes the result into a tensor.\n\n{method.__doc__ or ''}"
    return function


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor sharing memory with a numpy array (or tensor) when no conversion is needed,
    else a copy (as torch.as_tensor); on `device` if given (a copy when it is another one)."""
    target = None if device is None else _device.resolve(device, "as_tensor")
    if isinstance(data, Tensor):
        out = data if dtype is None or np.dtype(dtype) == data.dtype else data.to(dtype)
    elif (isinstance(data, np.ndarray) or not _backend.is_host(data)) and (
        dtype is None or np.dtype(dtype) == data.dtype
    ):
        out = Tensor._wrap(data)
    else:
        out = Tensor(data, dtype=dtype)
    return out if target is None else out.to(target)


def _data_of(value: Any) -> Any:
    return value._data if isinstance(value, Tensor) else value


def _no_out(name: str, out: Any) -> None:
    if out is not None:  # numpy's np.sum(t)/np.mean(t) pass out=None; anything else is refused
        raise TypeError(f"{name}: out= is not supported")


def _dims(dims: Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    """Non-negative dims, each checked against `ndim`."""
    checked = []
    for d in dims:
        if not isinstance(d, (int, np.integer)) or not -max(ndim, 1) <= d < max(ndim, 1):
            raise ValueError(f"{name}: dim {d} is out of range for a tensor with {ndim} dims")
        checked.append(int(d) % max(ndim, 1))
    return tuple(checked)


def _arg_extremum(fn: Callable[..., Any], x: Tensor, dim: int | None, keepdim: bool) -> Tensor:
    if x._data.size == 0:
        raise ValueError(f"{fn.__name__}: the tensor of shape {x.shape} is empty")
    if dim is not None:
        _dims((dim,), x.ndim, fn.__name__)
    return Tensor._wrap(_backend.as_array(fn(x._data, axis=dim, keepdims=keepdim)))


def _true_division(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """`/` of two integer tensors is true division in float32, as torch (numpy would give float64)."""
    if a._data.dtype.kind != "f" and b._data.dtype.kind != "f":
        return a.astype(np.float32), b.astype(np.float32)
    return a, b


def _backward_options(create_graph: bool, inputs: Any, gradient: Any, grad: Any) -> Any:
    """The rarely used options of `backward`: refuse the unsupported ones, merge `grad=`."""
    if create_graph:
        raise NotImplementedError(
            "backward: create_graph=True (gradients of gradients) is not supported: backward "
            "computes on arrays, outside the graph"
        )
    if inputs is not None:
        raise NotImplementedError("backward: inputs= is not supported; gradients go to every leaf")
    if gradient is not None:
        raise TypeError("backward: pass gradient= or grad=, not both")
    return grad


def _check_in_place_changes(fn: Function, output: Tensor) -> None:
    """Refuse to backward through `fn` if an array its backward reads changed in place since it ran.

    An input changed since by an in-place op recorded in the graph (`t[i] = v`, `t.relu_()`) is
    still fine for an op that did not save its array: its gradient goes to the tensor as it was.
    """
    for k, parent in enumerate(fn.parents):
        if parent._written_at <= fn.clock:
            continue
        if not (fn.saves_inputs and fn.uses_saved_input(k)):
            earlier = _as_it_was(parent, fn.clock)
            if earlier is not parent:
                fn.parents = (*fn.parents[:k], earlier, *fn.parents[k + 1 :])
            continue
        raise RuntimeError(
            "backward: one of the variables needed for gradient computation has been "
            f"modified by an inplace operation: input {k} of {type(fn).__name__} (shape "
            f"{parent.shape}, {parent.dtype}, now at version {parent._version}) was changed in "
            f"place after {type(fn).__name__} saved it. Optimizer steps, .data assignment and "
            f"in-place methods ({_INPLACE_METHODS}) count: compute the output again after "
            "changing its inputs"
        )
    if fn.saves_output and output._written_at > max(fn.clock, fn.wrote_at):
        raise RuntimeError(
            "backward: one of the variables needed for gradient computation has been modified "
            f"by an inplace operation: the output of {type(fn).__name__} (shape {output.shape}, "
            f"now at version {output._version}) was changed in place after "
            f"{type(fn).__name__} saved it"
        )


def _as_it_was(tensor: Tensor, clock: int) -> Tensor:
    """`tensor` as an op that ran at `clock` used it: before the in-place ops recorded since."""
    while tensor._ctx is not None and tensor._ctx.wrote_at > clock:
        tensor = tensor._ctx.earlier_self
    return tensor


def _clear_grads(tensors: Iterable[Tensor], set_to_none: bool) -> None:
    """`zero_grad` of modules and optimizers: drop each tensor's `.grad` (torch's default), or
    with set_to_none=False zero it in place (a 0-d one included)."""
    for t in tensors:
        if set_to_none:
            t.grad = None
        elif t.grad is not None:
            if type(t.grad._data) is np.ndarray:
                t.grad._data[...] = 0
            else:  # a numpy scalar (the engine can leave one as a 0-d gradient): not writable
                t.grad._data = np.zeros_like(t.grad._data)


# --------------------------------------------------------------------------------------------------
# Functions of several tensors (tinygrad_be.cat, ... as torch.cat, ...)
def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else _constant(x)


def cat(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dimension `dim`; all other dimensions must match."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    return ops.Cat.apply(*tensors, axis=_pick("cat", dim, axis, default=0))


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors of one shape along a new dimension `dim`."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have one shape, got {sorted(shapes)}")
    dim = _pick("stack", dim, axis, default=0)
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where `condition` is true, else y (broadcasting all three); differentiable in x and y."""
    condition = _backend.as_array(_data_of(condition))
    if condition.dtype != bool:
        raise TypeError(f"where: condition must be a bool tensor, not {condition.dtype}")
    if not isinstance(x, Tensor):
        if not isinstance(y, Tensor):
            x = Tensor(x)
        else:
            y, x = y._operands(x)
    x, y = x._operands(y)
    return ops.Where.apply(x, y, condition=condition)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; at ties each input gets half the gradient (as torch)."""
    a, b = a._operands(b) if isinstance(a, Tensor) else _as_tensor(b)._operands(a, reflected=True)
    return ops.Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; at ties each input gets half the gradient (as torch)."""
    a, b = a._operands(b) if isinstance(a, Tensor) else _as_tensor(b)._operands(a, reflected=True)
    return ops.Minimum.apply(a, b)


from tinygrad_be import device as _device  # noqa: E402
from tinygrad_be import ops  # noqa: E402  (ops needs Tensor and Function defined first)
