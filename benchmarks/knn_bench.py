"""k-NN sweep over k = 1..20: the naive numpy version a student writes against `models.knn.KNN`.

Both run in this process on the same data (the lab split of CIFAR-10 by default):

(a) naive: float64 copies of the data, the whole (n_test, n_train) distance matrix, a full argsort,
    then a vote for every k from the sorted neighbours;
(b) `KNN(...).score_sweep(...)`: float32, test rows in chunks under a memory budget, one BLAS matmul
    and one argpartition per chunk, max(k) neighbours found once, every k voted from them.

It prints each one's wall time and peak memory (tracemalloc: the numpy arrays allocated while it
ran, not counting the data both start from), checks the two agree, and ends with `ratio b/a` of the
times. Both use the same neighbour-order and vote rules, so predictions differ only where float32
round-off reorders two nearly equal distances.

    python benchmarks/knn_bench.py                           # full lab split: 54,000 x 6,000
    python benchmarks/knn_bench.py --n-train 10000 --n-test 1000
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.knn import DEFAULT_MEMORY_BUDGET, KNN
from tinygrad_be.datasets import cifar10_directory, read_cifar, split_dataset


def naive_predict_sweep(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, ks: list[int]
) -> np.ndarray:
    """(len(ks), n_test) predictions the way the lab's handout suggests, kept vectorised."""
    a = x_test.astype(np.float64)
    b = x_train.astype(np.float64)
    squared = np.sum(a**2, axis=1)[:, None] + np.sum(b**2, axis=1)[None, :] - 2 * a @ b.T
    dists = np.sqrt(np.maximum(squared, 0))
    del squared
    order = np.argsort(dists, axis=1, kind="stable")  # a full sort; stable: ties by index
    n_classes = int(y_train.max()) + 1
    predictions = []
    for k in ks:
        labels = y_train[order[:, :k]]  # (n_test, k), nearest first
        members = [labels == c for c in range(n_classes)]
        counts = np.stack([m.sum(axis=1) for m in members], axis=1)
        # Position of each class's nearest member (k if absent): ties go to the nearest.
        first = np.stack([np.where(m.any(axis=1), m.argmax(axis=1), k) for m in members], axis=1)
        predictions.append(np.argmax(counts * (k + 1) - first, axis=1))
    return np.array(predictions)


def measure(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float, int]:
    """(result, seconds, peak bytes allocated while fn ran)."""
    tracemalloc.start()
    try:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, seconds, peak


def load_lab_split(args: argparse.Namespace) -> tuple[np.ndarray, ...]:
    """The lab split (split=0.9, seed=0) of all 60,000 images, as the example uses it."""
    directory = args.data_dir or cifar10_directory(
        args.root, archive=args.archive, checksum=args.checksum
    )
    data, labels = read_cifar(directory)
    x_train, y_train, x_test, y_test = split_dataset(data, labels, split=0.9, seed=0)
    n_train = args.n_train or len(x_train)
    n_test = args.n_test or len(x_test)
    return x_train[:n_train], y_train[:n_train], x_test[:n_test], y_test[:n_test]


def gigabytes(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, help="first N training rows (default all 54,000)")
    parser.add_argument("--n-test", type=int, help="first N test rows (default all 6,000)")
    parser.add_argument("--k-max", type=int, default=20)
    parser.add_argument("--memory-mb", type=float, default=DEFAULT_MEMORY_BUDGET / 2**20)
    parser.add_argument("--data-dir", type=Path, help="an extracted cifar-10-batches-py directory")
    parser.add_argument("--root", type=Path, help="data cache directory (see tinygrad_be.datasets)")
    parser.add_argument("--archive", type=Path, help="local archive (default $CIFAR10_ARCHIVE)")
    parser.add_argument("--checksum", help="md5/sha256 of --archive, or 'skip'")
    args = parser.parse_args(argv)

    x_train, y_train, x_test, y_test = load_lab_split(args)
    ks = list(range(1, args.k_max + 1))
    budget = int(args.memory_mb * 2**20)
    print(
        f"CIFAR-10 lab split: {len(x_train):,} train x {len(x_test):,} test x {x_train.shape[1]} "
        f"features ({x_train.dtype}), k = 1..{args.k_max}"
    )

    naive, naive_s, naive_peak = measure(lambda: naive_predict_sweep(x_train, y_train, x_test, ks))
    print(
        f"(a) naive numpy, float64, full matrix + full sort: {naive_s:7.2f} s, "
        f"peak {gigabytes(naive_peak)}"
    )

    def sweep() -> np.ndarray:
        return KNN(k=1, memory_budget=budget).fit(x_train, y_train).predict_sweep(x_test, ks)

    fast, fast_s, fast_peak = measure(sweep)
    bound = len(x_train) * x_train.shape[1] * 4 + budget
    print(
        f"(b) KNN sweep, float32, chunked + argpartition:     {fast_s:7.2f} s, "
        f"peak {gigabytes(fast_peak)} (bound: float32 training data + budget = {gigabytes(bound)})"
    )

    accuracy_a = (naive == y_test).mean(axis=1)
    accuracy_b = (fast == y_test).mean(axis=1)
    best_a, best_b = int(np.argmax(accuracy_a)), int(np.argmax(accuracy_b))
    print(f"best k: (a) {ks[best_a]} at {accuracy_a[best_a]:.4f}, (b) {ks[best_b]} at "
          f"{accuracy_b[best_b]:.4f}; largest accuracy difference over all k "
          f"{np.abs(accuracy_a - accuracy_b).max():.4f}")  # fmt: skip
    print(f"predictions that differ: {int((naive != fast).sum())} of {naive.size} (k, image) pairs")
    print(f"speed-up a/b {naive_s / fast_s:.1f}x; memory a/b {naive_peak / max(fast_peak, 1):.1f}x")
    ratio = fast_s / naive_s
    print(f"ratio {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1:])
