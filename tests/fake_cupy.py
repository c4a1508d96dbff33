"""A stand-in for CuPy on the CPU, strict where CuPy is strict: the "fake-cuda" device of the tests.

Its array type wraps a numpy array and behaves as a CuPy array does toward numpy:
- numpy's ufuncs and functions called on it (`np.exp(a)`, `np.where(c, a, b)`) dispatch to this
  module (NEP 13/18), as they dispatch to CuPy, when CuPy has a function of that name;
- it refuses implicit conversion to numpy (`np.asarray(a)`, `np.array(a)`, `float(...)` on a
  many-element array) with CuPy's error: use `.get()` or `cupy.asnumpy`;
- it refuses to be mixed with numpy arrays in one op (`a + np.zeros(3)`, `np_array[i] = a`), as
  CuPy does; numpy scalars and Python numbers mix fine;
- reductions return 0-d arrays, never numpy scalars.

So code that computes with numpy on device data (a stray `np.asarray`, `np.zeros` mixed with
device arrays, `np.add.at` on a device array) fails here as it would on a GPU, and the tests find
it on a CPU-only machine. `install(monkeypatch)` registers it as the "cuda" library of
`tinygrad_be.backend`.
"""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from tinygrad_be import backend as _backend

REAL_IMPORT = _backend._import_cupy  # the real loader, before any test replaces it

IMPLICIT = (
    "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a "
    "NumPy array explicitly."
)

# Functions CuPy provides under numpy's names (the ones numpy dispatch may ask for here); a numpy
# function not in this list called on a fake array fails, as on CuPy.
CUPY_FUNCTIONS = frozenset(
    """
    abs absolute add all allclose amax amin any arange argmax argmin argsort around array_equal
    asarray ascontiguousarray astype atleast_1d atleast_2d bitwise_and bitwise_or broadcast_arrays
    broadcast_to ceil clip concatenate copy copyto cos count_nonzero cumsum diag divide dot einsum
    empty empty_like equal exp expand_dims eye floor floor_divide full full_like greater
    greater_equal indices isfinite isinf isnan linspace log log1p logical_and logical_not
    logical_or matmul max maximum mean min minimum moveaxis multiply nanargmax negative not_equal
    ones ones_like pad partition power prod ravel repeat reshape result_type round sign sin sort
    split sqrt square squeeze stack std subtract sum swapaxes take take_along_axis tanh tile
    transpose tril triu true_divide trunc unique unravel_index var where zeros zeros_like
    argpartition cumprod flip linalg less less_equal norm flatnonzero nonzero
    """.split()
)


class ndarray(NDArrayOperatorsMixin):  # noqa: N801  (CuPy's name)
    """A "device" array: numpy values behind CuPy's rules (see the module's docstring)."""

    __slots__ = ("_a",)

    def __init__(self, array: np.ndarray) -> None:
        if not isinstance(array, np.ndarray):
            raise TypeError(f"fake cupy: wraps numpy arrays, not {type(array).__name__}")
        self._a = array

    # Conversions CuPy refuses or offers explicitly
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(IMPLICIT)

    def get(self) -> np.ndarray:
        """A numpy copy in host memory (CuPy's explicit transfer)."""
        return self._a.copy()

    @property
    def device(self) -> Any:
        return SimpleNamespace(id=0)

    def __repr__(self) -> str:
        return f"fake_cupy.{np.array_repr(self._a)}"

    # numpy dispatch
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method not in ("__call__", "reduce", "accumulate", "outer"):
            return NotImplemented  # e.g. np.add.at: CuPy wants cupyx.scatter_add
        args = [_unwrap(x) for x in inputs]
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_unwrap(o, allow_scalars=False) for o in out)
        if "where" in kwargs:
            kwargs["where"] = _unwrap(kwargs["where"])
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func.__name__ not in CUPY_FUNCTIONS:
            return NotImplemented
        return _wrap(func(*_unwrap_tree(args), **_unwrap_tree(kwargs)))

    # Attributes and methods: numpy's, with arrays wrapped on the way in and out
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))
    base = property(lambda self: None if self._a.base is None else _wrap(self._a.base))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        attribute = getattr(self._a, name)
        if not callable(attribute):
            return _wrap(attribute)

        def method(*args: Any, **kwargs: Any) -> Any:
            return _wrap(attribute(*_unwrap_tree(args), **_unwrap_tree(kwargs)))

        return method

    def item(self) -> Any:
        return self._a.item()

    def tolist(self) -> Any:
        return self._a.tolist()

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        return (ndarray(np.asarray(row)) for row in self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __index__(self) -> int:
        return self._a.__index__()

    def __getitem__(self, index: Any) -> Any:
        return _wrap(self._a[_unwrap_index(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        self._a[_unwrap_index(index)] = _unwrap(value)


def _unwrap(x: Any, allow_scalars: bool = True) -> Any:
    if type(x) is ndarray:
        return x._a
    if isinstance(x, np.ndarray):
        raise TypeError(f"Unsupported type {type(x)}")  # CuPy's words for a numpy array operand
    if allow_scalars and (x is None or isinstance(x, (np.generic, int, float, bool, complex))):
        return x
    raise TypeError(f"fake cupy: unsupported operand {type(x).__name__}")


def _unwrap_tree(x: Any) -> Any:
    if type(x) is ndarray:
        return x._a
    if isinstance(x, np.ndarray):
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap_tree(item) for item in x)
    if isinstance(x, dict):
        return {key: _unwrap_tree(value) for key, value in x.items()}
    return x


def _unwrap_index(index: Any) -> Any:
    """Indices may hold device arrays (and slices, ints, None, Ellipsis); numpy arrays are refused
    as in any other op."""
    if isinstance(index, tuple):
        return tuple(_unwrap_tree(i) for i in index)
    return _unwrap_tree(index)


def _wrap(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return ndarray(x)
    if isinstance(x, np.generic):  # CuPy's reductions give 0-d arrays
        return ndarray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(i) for i in x)
    if isinstance(x, list):
        return [_wrap(i) for i in x]
    return x


# --------------------------------------------------------------------------------------------------
# The module's namespace: cupy.zeros, cupy.exp, ... and the transfers
def asarray(x: Any, dtype: Any = None) -> ndarray:
    """Host values (numpy arrays, numbers, lists) copied "to the device"; device arrays as they are."""
    if type(x) is ndarray:
        return x if dtype is None else ndarray(x._a.astype(dtype, copy=False))
    return ndarray(np.array(x, dtype=dtype, copy=True))


array = asarray


def asnumpy(x: Any) -> np.ndarray:
    if type(x) is ndarray:
        return x._a.copy()
    return np.asarray(x)


def get_array_module(*arrays: Any) -> ModuleType:
    return _this if any(type(a) is ndarray for a in arrays) else np


def _namespace_function(name: str) -> Any:
    function = getattr(np, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return _wrap(function(*_unwrap_tree(args), **_unwrap_tree(kwargs)))

    wrapped.__name__ = name
    return wrapped


def __getattr__(name: str) -> Any:
    if name in CUPY_FUNCTIONS and hasattr(np, name) and callable(getattr(np, name)):
        if isinstance(getattr(np, name), np.ufunc):
            return getattr(np, name)  # ufuncs dispatch through __array_ufunc__
        return _namespace_function(name)
    raise AttributeError(f"fake cupy has no {name!r}")


for _dtype in (
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool_",
):
    globals()[_dtype] = getattr(np, _dtype)
dtype = np.dtype
newaxis = None


def _as_strided(x: ndarray, shape: Any = None, strides: Any = None) -> ndarray:
    view = np.lib.stride_tricks.as_strided(x._a, shape, strides, writeable=False)
    return ndarray(view)


lib = SimpleNamespace(stride_tricks=SimpleNamespace(as_strided=_as_strided))


class _Device:
    def __init__(self, index: int = 0) -> None:
        self.id = index

    def synchronize(self) -> None:
        pass

    @property
    def mem_info(self) -> tuple[int, int]:
        return 8 << 30, 16 << 30  # (free, total) bytes, as cupy.cuda.Device().mem_info


cuda = SimpleNamespace(
    runtime=SimpleNamespace(
        getDeviceCount=lambda: 1, getDeviceProperties=lambda index: {"name": b"Fake GPU"}
    ),
    Device=_Device,
    Stream=SimpleNamespace(null=SimpleNamespace(synchronize=lambda: None)),
)


def _scatter_add(target: ndarray, index: Any, values: Any) -> None:
    np.add.at(target._a, _unwrap_index(index), _unwrap(values))


cupyx = SimpleNamespace(scatter_add=_scatter_add)

_this = sys.modules[__name__]


def _no_cupy() -> Any:
    raise ImportError("No module named 'cupy' (hidden by the tests: a CPU-only install)")


def hide_cupy(monkeypatch: Any) -> None:
    """Make tinygrad_be see a CPU-only install (no CuPy), whatever this machine has: tests of the
    "cuda is not available" behaviour then pass on a GPU machine too (tests/conftest.py)."""
    monkeypatch.setattr(_backend, "_import_cupy", _no_cupy)
    monkeypatch.setattr(_backend, "_cuda", None)
    monkeypatch.setattr(_backend, "_cupyx", None)
    monkeypatch.setattr(_backend, "device_types", ())


def use_real_cupy(monkeypatch: Any) -> None:
    """Undo `hide_cupy` for one test: the real CuPy, if this machine has it."""
    monkeypatch.setattr(_backend, "_import_cupy", REAL_IMPORT)


def install(monkeypatch: Any) -> ModuleType:
    """Register this module as the "cuda" array library of tinygrad_be.backend (undone by the
    monkeypatch at the end of the test)."""
    monkeypatch.setattr(_backend, "_import_cupy", lambda: (_this, cupyx))
    monkeypatch.setattr(_backend, "_cuda", None)  # the monkeypatch restores these afterwards
    monkeypatch.setattr(_backend, "_cupyx", None)
    monkeypatch.setattr(_backend, "device_types", ())
    _backend.cuda_module("fake cupy")
    return _this
