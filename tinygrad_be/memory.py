"""Make large numpy allocations cheap in training loops, by keeping freed memory in the process.

A training step allocates the same large arrays every time (im2col matrices, activations,
gradients) and frees them again. glibc's malloc hands every block above 32 MiB (and, adaptively,
smaller ones) straight back to the kernel with `munmap`, so the next step's array of the same size
starts as fresh pages: the first write to each 4 KiB page traps into the kernel, which zeroes it.
For a convolutional network that page-fault work costs about as much again as the copy that
triggered it (measured: filling a fresh 400 MB array took 39 ms, refilling a reused one 21 ms).

`retain_freed_memory()` tells glibc to serve every block from its heap and not to give freed
memory back, so later steps reuse warm pages. The process keeps its peak memory reserved, which
is what a training script wants (PyTorch's CPU allocator makes the same trade). It is opt-in,
process-wide, and does nothing where the C library is not glibc (macOS, Windows, musl).

Host only: arrays on a GPU (device="cuda") come from CuPy's memory pool, which already keeps freed
GPU memory for reuse, so nothing is needed there.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["retain_freed_memory"]

# mallopt parameters, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def retain_freed_memory() -> bool:
    """Serve large allocations from the heap and keep freed memory for reuse (glibc only).

    Returns True if the C library accepted the settings, False where they do not apply.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # No mmap'ed blocks (they are always returned on free), and never trim the heap's top.
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
