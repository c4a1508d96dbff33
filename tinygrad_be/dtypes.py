"""torch's dtype names, as numpy's scalar types: `t.dtype == tinygrad_be.float32` holds, and any
`dtype=` argument takes them (or numpy's own names).

A tensor's `.dtype` is a numpy dtype, so it prints as `float32`, not `torch.float32`.
"""

import numpy as np

__all__ = [
    "bool",
    "double",
    "float",
    "float16",
    "float32",
    "float64",
    "half",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "long",
    "short",
    "uint8",
]

float32 = float = np.float32  # noqa: A001
float64 = double = np.float64
float16 = half = np.float16
int64 = long = np.int64
int32 = int = np.int32  # noqa: A001
int16 = short = np.int16
int8 = np.int8
uint8 = np.uint8
bool = np.bool_  # noqa: A001
