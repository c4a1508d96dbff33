"""Making tensors, as torch does: `tensor`, `zeros`, `ones`, `full`, `empty`, `eye`, `arange`,
`linspace`, `rand`, `randn`, `randint`, `randperm` and the `*_like` forms (dtype names: `dtypes.py`).

Defaults are torch's: floats in the default dtype (float32, see `set_default_dtype`), integers
int64. Every factory takes `dtype=`, `device=` ("cpu", or "cuda" with CuPy and a GPU; default:
`set_default_device`) and `requires_grad=`.
Random factories draw from the library's default generator (`tinygrad_be.manual_seed`), or from
`generator=` (a numpy Generator).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_be import backend as _backend
from tinygrad_be import device as _device
from tinygrad_be import rng as _rng
from tinygrad_be.tensor import Tensor, _into, _new_array, _size, get_default_dtype

__all__ = [
    "arange",
    "empty",
    "empty_like",
    "eye",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
    "tensor",
    "zeros",
    "zeros_like",
]

def _finish(array: np.ndarray, device: Any, requires_grad: Any, op: str) -> Tensor:
    """The host array made by a factory as a tensor on `device` (copied to a GPU for "cuda":
    random factories draw on the host, so a seed gives the same values on every device)."""
    where = _device.resolve(device, op)
    if where.type != "cpu":
        array = _backend.to_device(array, where, op)
    out = Tensor._wrap(array)
    if requires_grad:
        out.requires_grad = True  # refuses integer tensors with a clear message
    return out


def _float_dtype(dtype: Any) -> np.dtype:
    return get_default_dtype() if dtype is None else np.dtype(dtype)


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    """A new tensor holding a copy of `data` (numbers, nested lists, arrays or a Tensor): floats
    become the default dtype, ints int64, bools bool, numpy arrays keep theirs."""
    return _finish(_new_array(data, dtype), device, requires_grad, "tensor")


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: Any = False, out: Any = None) -> Tensor:
    return _fill(_size(size), 0, _float_dtype(dtype), device, requires_grad, out, "zeros")


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: Any = False, out: Any = None) -> Tensor:
    return _fill(_size(size), 1, _float_dtype(dtype), device, requires_grad, out, "ones")


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: Any = False, out: Any = None) -> Tensor:
    """Zeros: numpy's uninitialised memory would make runs differ for no gain."""
    return _fill(_size(size), 0, _float_dtype(dtype), device, requires_grad, out, "empty")


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: Any = False, out: Any = None) -> Tensor:
    """`size` filled with `fill_value`; the dtype follows the value as torch (bool, int64, or
    the default floating dtype) unless given."""
    if dtype is None:
        value = fill_value._data if isinstance(fill_value, Tensor) else fill_value
        kind = np.asarray(value).dtype.kind
        dtype = np.bool_ if kind == "b" else np.int64 if kind in "iu" else get_default_dtype()
    return _fill(_size((size,)), fill_value, np.dtype(dtype), device, requires_grad, out, "full")


def _fill(size: tuple[int, ...], value: Any, dtype: np.dtype, device: Any, requires_grad: Any, out: Any, op: str) -> Tensor:
    if any(n < 0 for n in size):
        raise RuntimeError(f"{op}: negative dimension in size {size}")
    array = np.full(size, value, dtype=dtype)
    result = _finish(array, device, requires_grad, op)
    return _into(out, result, op)


def eye(n: Any, m: Any = None, *, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    array = np.eye(n, n if m is None else m, dtype=_float_dtype(dtype))
    return _finish(array, device, requires_grad, "eye")


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    """[start, end) in steps of `step`; int64 when all three are integers, else the default
    floating dtype (torch's rule)."""
    if end is None:
        start, end = 0, start
    values = [v._data.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values)
        dtype = np.int64 if integral else get_default_dtype()
    start, end, step = values
    # Count in float64 (torch's ceil((end - start) / step)), then compute in float64 and cast.
    count = max(0, int(np.ceil((end - start) / step)))
    array = (start + step * np.arange(count, dtype=np.float64)).astype(dtype)
    if np.dtype(dtype).kind in "iu":
        array = start + step * np.arange(count, dtype=np.int64)
        array = array.astype(dtype, copy=False)
    return _finish(array, device, requires_grad, "arange")


def linspace(start: Any, end: Any, steps: Any, *, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    """`steps` evenly spaced values from start to end, both included."""
    if int(steps) < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    array = np.linspace(start, end, int(steps), dtype=np.float64).astype(_float_dtype(dtype))
    return _finish(array, device, requires_grad, "linspace")


def rand(*size: Any, generator: np.random.Generator | None = None, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    """Uniform in [0, 1)."""
    dtype = _float_dtype(dtype)
    draw = dtype if dtype in (np.float32, np.float64) else np.float64
    array = _rng.resolve(generator).random(_size(size), dtype=draw).astype(dtype, copy=False)
    return _finish(array, device, requires_grad, "rand")


def randn(*size: Any, generator: np.random.Generator | None = None, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    """Standard normal."""
    dtype = _float_dtype(dtype)
    draw = dtype if dtype in (np.float32, np.float64) else np.float64
    array = _rng.resolve(generator).standard_normal(_size(size), dtype=draw).astype(dtype, copy=False)
    return _finish(array, device, requires_grad, "randn")


def randint(low: Any, high: Any = None, size: Any = None, *, generator: np.random.Generator | None = None, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    """Integers in [low, high) (`randint(high, size)` means low = 0), int64 unless told."""
    if size is None:  # randint(high, size)
        if high is None:
            raise TypeError("randint: missing the size argument")
        low, high, size = 0, low, high
    array = _rng.resolve(generator).integers(low, high, _size((size,)), dtype=np.int64)
    return _finish(array.astype(np.int64 if dtype is None else dtype, copy=False), device, requires_grad, "randint")


def randperm(n: Any, *, generator: np.random.Generator | None = None, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    array = _rng.resolve(generator).permutation(int(n)).astype(np.int64 if dtype is None else dtype)
    return _finish(array, device, requires_grad, "randperm")


# The *_like forms: the shape (and, unless told, the dtype) of `input`
def _like(factory: Any, name: str) -> Any:
    def like(input: Any, *args: Any, dtype: Any = None, **kwargs: Any) -> Any:  # noqa: A002
        data = input._data if isinstance(input, Tensor) else input
        shape = tuple(data.shape) if hasattr(data, "shape") else tuple(np.shape(data))
        dtype = _backend.as_array(data).dtype if dtype is None else dtype
        if isinstance(input, Tensor):  # as torch: on the input's device unless told
            kwargs.setdefault("device", input.device)
        if factory is full:
            return full(shape, *args, dtype=dtype, **kwargs)
        if factory is randint:
            return randint(*args, size=shape, dtype=dtype, **kwargs)
        return factory(shape, dtype=dtype, **kwargs)

    like.__name__ = like.__qualname__ = name
    like.__doc__ = f"`{factory.__name__}` with the shape (and by default the dtype) of `input`."
    return like


zeros_like = _like(zeros, "zeros_like")
ones_like = _like(ones, "ones_like")
empty_like = _like(empty, "empty_like")
full_like = _like(full, "full_like")
rand_like = _like(rand, "rand_like")
randn_like = _like(randn, "randn_like")
randint_like = _like(randint, "randint_like")
