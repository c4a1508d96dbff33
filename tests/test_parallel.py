"""Batch-parallel numpy work (`tinygrad_be.parallel`) and warm allocations (`tinygrad_be.memory`)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, parallel
from tinygrad_be.memory import retain_freed_memory


@pytest.fixture
def two_threads():
    previous = parallel.get_num_threads()
    parallel.set_num_threads(2)
    yield
    parallel.set_num_threads(previous)


def test_over_batch_covers_every_row_once(two_threads):
    seen = np.zeros(1001, dtype=int)
    threads = set()

    def work(start: int, stop: int) -> None:
        seen[start:stop] += 1
        threads.add(threading.get_ident())

    parallel.over_batch(1001, work, bytes_total=1 << 30)
    np.testing.assert_array_equal(seen, 1)
    assert len(threads) == 2  # the calling thread and one helper

    threads.clear()
    parallel.over_batch(1001, work, bytes_total=1000)  # too little work to split
    assert len(threads) == 1 and seen.max() == 2


def test_over_batch_reraises_errors(two_threads):
    def work(start: int, stop: int) -> None:
        if start > 0:
            raise RuntimeError("boom in a helper thread")

    with pytest.raises(RuntimeError, match="boom"):
        parallel.over_batch(10, work, bytes_total=1 << 30)
    with pytest.raises(ValueError, match="positive integer"):
        parallel.set_num_threads(0)


def test_threads_do_not_change_results(rng):
    """Convolution and pooling give bit-identical outputs and gradients with 1 and 2 threads."""
    x = rng.normal(size=(64, 8, 12, 12)).astype(np.float32)
    w = rng.normal(size=(16, 8, 3, 3)).astype(np.float32)
    results = []
    previous = parallel.get_num_threads()
    old_minimum = parallel.MIN_BYTES_PER_THREAD
    try:
        parallel.MIN_BYTES_PER_THREAD = 1  # split even these small arrays
        for threads in (1, 2):
            parallel.set_num_threads(threads)
            xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
            out = F.max_pool2d(F.conv2d(xt, wt, padding=1), 2)
            out.backward(np.ones(out.shape, np.float32))
            results.append((out.detach().numpy(), xt.grad.clone(), wt.grad.clone()))
    finally:
        parallel.set_num_threads(previous)
        parallel.MIN_BYTES_PER_THREAD = old_minimum
    for one, two in zip(*results, strict=True):
        np.testing.assert_array_equal(one, two)


def test_retain_freed_memory_is_harmless():
    assert retain_freed_memory() in (True, False)  # True with glibc, False elsewhere
    a = np.ones(10_000_000, np.float32)  # 40 MB: served from the heap, still correct
    del a
    b = np.zeros(10_000_000, np.float32)
    assert not b.any()
