"""Memory-bound numpy work spread over the CPU cores, one slice of the batch per thread.

BLAS already runs a GEMM on every core, but numpy's copies and elementwise ops run on one. In a
convolutional network those (im2col copies, col2im additions, pooling) cost a third of a training
step, so while one core works the others idle. numpy releases the GIL inside such loops on large
arrays, so plain Python threads, each handed its own slice of samples, run them side by side:

>>> out = np.empty_like(x)
>>> over_batch(len(x), lambda start, stop: np.maximum(x[start:stop], 0, out=out[start:stop]))

Each call of `work(start, stop)` must write only its own rows [start, stop) of the results, so the
threads never touch the same memory and the result is exactly the sequential one, whatever the
number of threads (`set_num_threads(1)` turns the threads off).

Host only: on a GPU (CuPy arrays, see `backend.py`) each kernel already runs on every GPU core and
Python threads would only add launch overhead, so callers pass `host=False` there and the work is
done in one call over the whole batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["get_num_threads", "over_batch", "set_num_threads"]

_num_threads = os.cpu_count() or 1
_pool: ThreadPoolExecutor | None = None

# Below this many bytes of work a thread's start-up costs more than it saves.
MIN_BYTES_PER_THREAD = 1 << 20


def set_num_threads(count: int) -> None:
    """Use `count` threads (1: everything in the calling thread)."""
    global _num_threads, _pool
    if int(count) != count or count < 1:
        raise ValueError(f"set_num_threads: count must be a positive integer, got {count!r}")
    _num_threads = int(count)
    if _pool is not None:
        _pool.shutdown()
        _pool = None


def get_num_threads() -> int:
    return _num_threads


def over_batch(
    n: int, work: Callable[[int, int], object], bytes_total: int | None = None, host: bool = True
) -> None:
    """Call work(start, stop) on consecutive slices covering range(n), in parallel threads.

    `bytes_total` (the memory the whole job touches) decides how many threads are worth it: one
    per `MIN_BYTES_PER_THREAD` at most. Exceptions raised in a thread are re-raised here.
    `host=False` (GPU arrays): a single call work(0, n).
    """
    global _pool
    threads = min(_num_threads, n) if host else 1
    if bytes_total is not None:
        threads = min(threads, bytes_total // MIN_BYTES_PER_THREAD)
    if threads <= 1:
        work(0, n)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(_num_threads, thread_name_prefix="tinygrad_be")
    bounds = [n * i // threads for i in range(threads + 1)]
    futures = [_pool.submit(work, bounds[i], bounds[i + 1]) for i in range(1, threads)]
    work(bounds[0], bounds[1])  # the calling thread takes the first slice
    for future in futures:
        future.result()
