"""The one small module that knows the array libraries: numpy on "cpu", CuPy on "cuda".

Every op computes with the array module of its inputs, `xp = array_module(x)`, so each op is
written once: `xp` is numpy for arrays in host memory and CuPy for arrays on a GPU (CuPy mirrors
numpy's API). Operators, methods and numpy's ufuncs (`np.exp(x)`) already work on both, because
CuPy arrays take part in numpy's dispatch (NEP 13/18); what needs `xp` is the rest: making new
arrays (`xp.zeros`, `xp.arange`; `np.asarray` and `np.ascontiguousarray` do not dispatch, they
would convert to numpy) and the few numpy-only tools, one helper each below:

    as_strided         numpy.lib.stride_tricks.as_strided   cupy.lib.stride_tricks.as_strided
    ascontiguousarray  numpy.ascontiguousarray              cupy.ascontiguousarray
    scatter_add        numpy.add.at                         cupyx.scatter_add
    einsum             numpy.einsum(optimize=...)           cupy.einsum
    to_host            the array itself                     cupy.asnumpy (a copy to host memory)
    to_device          the array itself                     cupy.asarray (a copy to GPU memory)

Two CPU tools stay on the CPU on purpose: `parallel.over_batch` splits numpy's single-threaded
loops over CPU cores (a GPU kernel already runs on every core: on "cuda" it is called once for the
whole batch), and `memory.retain_freed_memory` tunes glibc's malloc (CuPy keeps its own memory
pool on the GPU, so nothing is needed there).

CuPy is an optional extra (`pip install -e ".[cuda12]"`), imported the first time "cuda" is asked
for; a CPU-only install never imports it. Until then `array_module` costs one test of an empty
tuple, so the CPU's hot paths do not slow down.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "array_module",
    "as_array",
    "as_strided",
    "ascontiguousarray",
    "cuda_available",
    "cuda_module",
    "device_of",
    "einsum",
    "is_host",
    "like",
    "same_device",
    "scatter_add",
    "to_device",
    "to_host",
]

INSTALL_HINT = 'pip install -e ".[cuda12]" (CUDA 12) or pip install -e ".[cuda13]" (CUDA 13)'

# The GPU library once loaded (CuPy, or a stand-in that tests register), and its array types.
_cuda: ModuleType | None = None
_cupyx: Any = None
device_types: tuple[type, ...] = ()


def _import_cupy() -> tuple[ModuleType, Any]:
    """CuPy and cupyx (its scatter_add lives there). Tests replace this function with a fake."""
    cupy = importlib.import_module("cupy")
    return cupy, importlib.import_module("cupyx")


def _gpu_count(cupy: ModuleType) -> int:
    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # CuPy raises its own CUDARuntimeError when there is no driver or no GPU
        return 0


def cuda_module(op: str = "cuda") -> ModuleType:
    """The GPU array library (CuPy), loading it on first use; a RuntimeError naming `op` and
    saying what is missing (CuPy, or a GPU) and how to install the extra otherwise."""
    global _cuda, _cupyx, device_types
    if _cuda is not None:
        return _cuda
    try:
        cupy, cupyx = _import_cupy()
    except ImportError as error:
        raise RuntimeError(
            f"{op}: device 'cuda' is not available: it needs CuPy, which is not installed "
            f"({error}); install the extra: {INSTALL_HINT}"
        ) from None
    if _gpu_count(cupy) == 0:
        raise RuntimeError(
            f"{op}: device 'cuda' is not available: CuPy is installed but finds no NVIDIA GPU "
            "(or no CUDA driver); use device='cpu'"
        )
    _cuda, _cupyx, device_types = cupy, cupyx, (cupy.ndarray,)
    return cupy


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU (loads CuPy if it is installed)."""
    try:
        cuda_module()
    except RuntimeError:
        return False
    return True


def _reset() -> None:
    """Forget the loaded GPU library (tests that swap in a fake one call this)."""
    global _cuda, _cupyx, device_types
    _cuda, _cupyx, device_types = None, None, ()


# --------------------------------------------------------------------------------------------------
# Which library an array belongs to
def array_module(*arrays: Any) -> ModuleType:
    """numpy, or CuPy if any of `arrays` is a GPU array (numbers and numpy arrays count as host).

    >>> xp = array_module(x)
    >>> full = xp.zeros(x.shape, x.dtype)     # on x's device
    """
    if device_types:  # empty until a GPU library is loaded: the CPU pays one test
        for a in arrays:
            if type(a) in device_types:
                return _cuda  # type: ignore[return-value]
    return np


def is_host(array: Any) -> bool:
    """True unless `array` is a GPU array."""
    return not device_types or type(array) not in device_types


def device_of(array: Any) -> Any:
    """The `tinygrad_be.device` an array lives on: cpu, or cuda:<its GPU's number>."""
    from tinygrad_be.device import CPU, device

    if is_host(array):
        return CPU
    return device("cuda", int(array.device.id))


def as_array(x: Any) -> Any:
    """x as an array of its own library: numpy scalars and Python numbers become 0-d numpy
    arrays (numpy's ufuncs return scalars for 0-d inputs), arrays are returned as they are."""
    if type(x) is np.ndarray or (device_types and type(x) in device_types):
        return x
    return np.asarray(x)


def same_device(op: str, arrays: list[Any]) -> list[Any]:
    """The inputs of `op`, checked to sit on one device (called by `Function.apply` once a GPU
    library is loaded). As torch, a 0-d host array (a Python number made a tensor: `x * 2`) may
    join GPU arrays: it is passed as a numpy scalar. Any other mix raises a RuntimeError naming
    the op and both devices."""
    on_gpu = [type(a) in device_types for a in arrays]
    if all(on_gpu) or not any(on_gpu):
        return arrays
    checked = []
    for a, gpu in zip(arrays, on_gpu, strict=True):
        if not gpu and getattr(a, "ndim", 0) == 0:
            a = a[()] if isinstance(a, np.ndarray) else a
        elif not gpu:
            gpu_array = arrays[on_gpu.index(True)]
            raise RuntimeError(
                f"{op}: expected all tensors to be on the same device, but found at least two "
                f"devices, {device_of(gpu_array)} and cpu (shapes "
                f"{[tuple(getattr(x, 'shape', ())) for x in arrays]}); move them with "
                ".to(device) first"
            )
        checked.append(a)
    return checked


# --------------------------------------------------------------------------------------------------
# Copies between host and device
def to_host(array: Any) -> np.ndarray:
    """A numpy array with `array`'s values: the array itself if it is one, else a copy to host
    memory (waits for the GPU)."""
    if is_host(array):
        return np.asarray(array)
    return _cuda.asnumpy(array)  # type: ignore[union-attr]


def to_device(array: Any, where: Any, op: str = "to") -> Any:
    """`array` on device `where` ("cpu" or "cuda"): itself when it is there already, else a copy."""
    kind = where if isinstance(where, str) else where.type
    if kind.startswith("cpu"):
        return to_host(array)
    cupy = cuda_module(op)
    if not is_host(array):
        return array
    return cupy.asarray(array)


def like(value: Any, array: Any, dtype: Any = None) -> Any:
    """`value` (a number, list or array) as an array on `array`'s device, in `dtype`."""
    xp = array_module(array)
    if xp is np:
        return np.asarray(value, dtype)
    if not is_host(value):
        return value if dtype is None else value.astype(dtype, copy=False)
    return xp.asarray(np.asarray(value, dtype))


# --------------------------------------------------------------------------------------------------
# The numpy-only tools, with the CuPy equivalent beside each
def as_strided(x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A view of x's memory with the given shape and strides (in bytes), no copy: im2col's
    sliding windows. Read-only use only: overlapping windows share memory."""
    xp = array_module(x)
    if xp is np:
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def ascontiguousarray(x: Any) -> Any:
    """x in C order (a copy only if it is not already), on its device: numpy's own
    `np.ascontiguousarray` would try to convert a GPU array to numpy."""
    return array_module(x).ascontiguousarray(x)


def scatter_add(target: Any, index: Any, values: Any) -> None:
    """target[index] += values, adding every occurrence of a repeated index (numpy's
    `np.add.at`; cupyx.scatter_add on the GPU), in place."""
    if is_host(target):
        np.add.at(target, index, values)
    else:
        _cupyx.scatter_add(target, index, values)


def einsum(subscripts: str, *operands: Any, optimize: Any = False, out: Any = None) -> Any:
    """Einstein summation of the operands' library, into `out` if given. `optimize` (numpy's
    contraction-order search) applies on the CPU; CuPy picks its own order (and has no `out=`:
    the result is copied into it)."""
    xp = array_module(*operands)
    if xp is np:
        return np.einsum(subscripts, *operands, optimize=optimize, out=out)
    result = xp.einsum(subscripts, *operands)
    if out is None:
        return result
    out[...] = result
    return out
