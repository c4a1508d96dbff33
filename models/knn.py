"""k-nearest-neighbour classification: the lab's functions and a fast, memory-bounded `KNN`.

A test image gets the label most common among the `k` training images nearest to it. Everything
here follows two rules, whatever the chunk size and however numpy partitions:

- **Neighbour order.** Neighbours are sorted by distance, nearest first; neighbours at exactly the
  same distance are ordered by their index in the training set (lower index first).
- **Vote.** The label with the most votes among the `k` nearest wins. If several labels have the
  same number of votes, the one whose nearest member comes first in the neighbour order wins (the
  tied label with the closest neighbour; at equal distance, the lower training index).

The work happens in chunks of test rows. For one chunk of `m` rows against `n` training rows we hold
an (m, n) distance matrix and the index arrays that `argpartition` needs, so the chunk size is chosen
from a memory budget (`DEFAULT_MEMORY_BUDGET`, settable) and the extra memory stays bounded however
large the data is. L2 distances use ||a||^2 + ||b||^2 - 2 a.b^T: one BLAS matmul per chunk.

Precision: `KNN` computes in float32, like the data. BLAS may round a dot product differently for
different matrix shapes, so a distance can change in its last bit with the chunk size; that can
only swap two neighbours whose distances agree to about 1e-7 (relative). On CIFAR-10 the float32
predictions match a float64 computation in all but a handful of cases (see the benchmark).

The lab's functions take and return numpy arrays:

>>> dists = distance_matrix(data_test, data_train)          # (n_test, n_train) L2 distances
>>> predictions = knn_predict(dists, labels_train, k=5)      # (n_test,) int64
>>> accuracy = evaluate_knn(data_train, labels_train, data_test, labels_test, k=5)

The class works like scikit-learn's `KNeighborsClassifier`, and sweeps many `k` in one pass; with
`device="cuda"` (CuPy and a GPU) the distances and the neighbour selection run on the GPU, chunk by
chunk within a GPU memory budget, and only the (n_test, k) neighbours come back to the host:

>>> model = KNN(k=5).fit(data_train, labels_train)
>>> model.score(data_test, labels_test)                      # accuracy in [0, 1]
>>> model.score_sweep(data_test, labels_test, ks=range(1, 21))   # 20 accuracies, ~ cost of k=20
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_be import Tensor, backend, from_numpy
from tinygrad_be.device import resolve as resolve_device
from tinygrad_be.progress import progress_bar

__all__ = [
    "DEFAULT_GPU_MEMORY_BUDGET",
    "DEFAULT_MEMORY_BUDGET",
    "KNN",
    "METRICS",
    "distance_matrix",
    "evaluate_knn",
    "evaluate_knn_sweep",
    "k_nearest",
    "knn_predict",
]

DEFAULT_MEMORY_BUDGET = 256 * 2**20  # bytes of scratch memory per chunk (256 MiB)
# On a GPU: chunks as large as 2 GiB (fewer, larger kernels), at most half the free GPU memory.
DEFAULT_GPU_MEMORY_BUDGET = 2 * 2**30
METRICS = ("l2", "l1", "cosine")

# Scratch bytes per (test row, training row) pair while a chunk is processed: the float32 distance
# (4), argpartition's int64 index array (8), and a few boolean masks (1 each). Rows whose k-th
# distance is tied need a little more (a copy of the row and an int32 running count), so 17 covers
# the worst case.
_BYTES_PER_PAIR = 17
# L1 has no matmul form: it subtracts a block of training rows from a block of test rows, (m, t, d)
# floats at a time. A buffer that stays in cache is faster than a large one.
_L1_BUFFER_BYTES = 4 * 2**20

InputData = ArrayLike | Tensor


# --------------------------------------------------------------------------------------------------
# Input checks: every public function goes through these, so bad input fails early and clearly.


def _as_matrix(x: InputData, name: str) -> np.ndarray:
    """A non-empty 2-D numeric numpy array without NaN or infinity (no copy when possible)."""
    array = x._data if isinstance(x, Tensor) else np.asarray(x)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {array.shape}")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    _check_finite(array, name)
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    """Refuse NaN and infinity, without allocating a boolean array as large as the data."""
    if not np.issubdtype(array.dtype, np.floating):
        return
    # A NaN or an infinity makes the sum non-finite; a float64 sum of finite data only overflows for
    # values near 1e300, and then the exact check below finds nothing and we carry on.
    if np.isfinite(array.sum(dtype=np.float64)):
        return
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=tuple(range(1, array.ndim))))
    if bad_rows.size:
        shown = ", ".join(str(i) for i in bad_rows[:5]) + (", ..." if bad_rows.size > 5 else "")
        raise ValueError(
            f"{name} contains NaN or infinite values in {bad_rows.size} row(s) (rows {shown})"
        )


def _as_labels(y: InputData, n: int, name: str, data_name: str) -> np.ndarray:
    """Integer class labels as an int64 array of length `n`."""
    labels = backend.to_host(y._data) if isinstance(y, Tensor) else np.asarray(y)  # small: host
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,), got shape {labels.shape}")
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} labels but {data_name} has {n} rows")
    if np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool:
        return labels.astype(np.int64, copy=False)
    if np.issubdtype(labels.dtype, np.floating):
        # Labels read from a float array (e.g. 3.0) are fine; 2.5 or NaN is not a class.
        if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
            raise ValueError(f"{name} must be integer class labels, got non-integer values")
        return labels.astype(np.int64)
    raise ValueError(f"{name} must be integer class labels, got dtype {labels.dtype}")


def _check_k(k: object, n_train: int, name: str = "k") -> int:
    """`k` as an int in 1..n_train."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {k!r}")
    k = int(k)
    if k < 1:
        raise ValueError(f"{name} must be at least 1, got {k}")
    if k > n_train:
        raise ValueError(f"{name}={k} is larger than the number of training samples ({n_train})")
    return k


def _check_ks(ks: Iterable[int], n_train: int) -> list[int]:
    """A non-empty list of valid k values (duplicates and any order allowed)."""
    checked = [_check_k(k, n_train, name="every k in ks") for k in ks]
    if not checked:
        raise ValueError("ks is empty: give at least one k")
    return checked


def _check_same_width(a: np.ndarray, b: np.ndarray, a_name: str, b_name: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{a_name} has {a.shape[1]} features per row but {b_name} has {b.shape[1]} "
            f"(shapes {a.shape} and {b.shape})"
        )


# --------------------------------------------------------------------------------------------------
# Distances. Each function returns a fresh (m, n) array and creates no other array of that size.


def _squared_norms(x: np.ndarray, dtype: type, rows_per_chunk: int = 4096) -> np.ndarray:
    """(n,) squared row norms, accumulated in float64 for accuracy, returned as `dtype` (on x's
    device)."""
    out = backend.array_module(x).empty(len(x), dtype=np.float64)
    for start in range(0, len(x), rows_per_chunk):  # chunks bound the float64 copy
        rows = x[start : start + rows_per_chunk].astype(np.float64, copy=False)
        out[start : start + len(rows)] = backend.einsum("ij,ij->i", rows, rows)
    return out.astype(dtype, copy=False)


def _l2_distances(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """(m, n) L2 distances from ||a||^2 + ||b||^2 - 2 a.b^T, in the dtype of `a` and `b`."""
    a_sq = _squared_norms(a, a.dtype)
    # Scaling the small operand by -2 (exact: a power of two) saves a pass over the large result.
    d = (-2 * a) @ b.T  # the one BLAS matmul
    d += b_sq
    d += a_sq[:, None]
    # Round-off can leave a tiny negative number where the true value is 0: clamp before the root.
    np.maximum(d, 0, out=d)
    return np.sqrt(d, out=d)


def _cosine_distances(a: np.ndarray, b: np.ndarray, b_inverse_norm: np.ndarray) -> np.ndarray:
    """(m, n) cosine distances 1 - a.b / (||a|| ||b||), in [0, 2].

    A zero vector has no direction; as in scikit-learn its norm is taken as 1, so its distance to
    every vector is 1.
    """
    a_norm = _safe_norms(_squared_norms(a, a.dtype))
    d = (a / a_norm[:, None]) @ b.T  # the one BLAS matmul
    d *= b_inverse_norm
    np.subtract(1, d, out=d)
    return np.clip(d, 0, 2, out=d)


def _safe_norms(squared: np.ndarray) -> np.ndarray:
    norms = np.sqrt(squared)
    norms[norms == 0] = 1
    return norms


def _l1_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m, n) L1 distances sum |a - b|, a block of training rows at a time.

    There is no matmul form of L1, so this costs m * n * d subtractions: it is much slower than L2
    or cosine on large data.
    """
    m, d = a.shape
    block = max(1, _L1_BUFFER_BYTES // (m * d * a.itemsize))
    xp = backend.array_module(a)
    out = xp.empty((m, len(b)), dtype=a.dtype)
    buffer = xp.empty((m, min(block, len(b)), d), dtype=a.dtype)
    for start in range(0, len(b), block):
        rows = b[start : start + block]
        diff = buffer[:, : len(rows)]
        np.subtract(a[:, None, :], rows[None, :, :], out=diff)
        np.abs(diff, out=diff)
        diff.sum(axis=2, out=out[:, start : start + len(rows)])
    return out


def distance_matrix(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """L2 distances between every row of `a` and every row of `b`.

    a: (n_a, d), b: (n_b, d). Returns (n_a, n_b): float64 if both inputs are float64, else
    float32. Computed as sqrt(||a||^2 + ||b||^2 - 2 a.b^T) with one matmul, negative round-off
    clamped to 0.
    """
    a = _as_matrix(a, "a")
    b = _as_matrix(b, "b")
    _check_same_width(a, b, "a", "b")
    dtype = np.float64 if a.dtype == np.float64 and b.dtype == np.float64 else np.float32
    a = a.astype(dtype, copy=False)
    b = b.astype(dtype, copy=False)
    return _l2_distances(a, b, _squared_norms(b, dtype))


# --------------------------------------------------------------------------------------------------
# Neighbours and votes.


def _rows_per_chunk(n_rows: int, n_train: int, extra_per_row: int, budget: int) -> int:
    """How many test rows fit in `budget` bytes of scratch memory (at least one)."""
    per_row = n_train * _BYTES_PER_PAIR + extra_per_row
    return int(min(n_rows, max(1, budget // per_row)))


def k_nearest(dists: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` smallest entries of each row of `dists`, nearest first, ties by column index.

    dists: (m, n) array without NaN (numpy, or CuPy: then the selection runs on the GPU and only
    the (m, k) result comes back). Returns numpy (distances, indices), both (m, k); indices are
    int64. Costs O(n) per row (`argpartition`; k argmin passes on a GPU), not a full sort.
    """
    n = dists.shape[1]
    k = _check_k(k, n)
    if not backend.is_host(dists):
        return _k_nearest_on_device(dists, k)
    # `argpartition` puts *some* k smallest entries first, in no particular order. The copy lets the
    # full (m, n) index array go at once instead of living on behind a view.
    index = np.argpartition(dists, k - 1, axis=1)[:, :k].copy()
    value = np.take_along_axis(dists, index, axis=1)
    kth = value.max(axis=1, keepdims=True)
    # If more entries equal the k-th distance than fit in the k slots, argpartition picked among them
    # arbitrarily. Count them; in those rows (rare on real data) take the lowest indices instead.
    tied_rows = np.flatnonzero(np.count_nonzero(dists <= kth, axis=1) > k)
    if tied_rows.size:
        rows = dists[tied_rows]
        threshold = kth[tied_rows]
        below = rows < threshold
        at = rows == threshold
        # How many of the tied entries we still need, then the first that many in index order.
        needed = k - np.count_nonzero(below, axis=1, keepdims=True)
        keep = below | (at & (np.cumsum(at, axis=1, dtype=np.int32) <= needed))
        columns = np.nonzero(keep)[1].reshape(len(tied_rows), k)  # exactly k per row, ascending
        index[tied_rows] = columns
        value[tied_rows] = np.take_along_axis(rows, columns, axis=1)
    order = np.lexsort((index, value), axis=1)  # by distance, then by training index
    return np.take_along_axis(value, order, axis=1), np.take_along_axis(index, order, axis=1)


def _k_nearest_on_device(dists: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`k_nearest` on a GPU: k passes of argmin, each taking the nearest remaining column of every
    row and masking it with infinity. argmin returns the first of equal minima, so the neighbours
    come out in the module's order (distance, then training index) with no sort at all: for the
    small k of a sweep, k passes over the chunk are much cheaper on a GPU than CuPy's
    `argpartition` (which sorts whole rows). Returns numpy arrays."""
    xp = backend.array_module(dists)
    work = dists.copy()  # the caller's distances stay as they were
    rows = xp.arange(len(dists))
    value = xp.empty((len(dists), k), dtype=dists.dtype)
    index = xp.empty((len(dists), k), dtype=np.int64)
    for j in range(k):
        nearest = work.argmin(axis=1)
        index[:, j] = nearest
        value[:, j] = work[rows, nearest]
        work[rows, nearest] = np.inf
    return backend.to_host(value), backend.to_host(index)


def _vote_sweep(neighbour_classes: np.ndarray, ks: list[int], n_classes: int) -> np.ndarray:
    """Majority vote for every k in `ks` from one (n, max(ks)) table of neighbour classes.

    neighbour_classes: (n, K) ints in [0, n_classes), nearest first. Returns (len(ks), n) classes.
    Votes are counted one neighbour column at a time, so all k cost what the largest one does.
    """
    n, width = neighbour_classes.shape
    counts = np.zeros((n, n_classes), dtype=np.int64)
    # Column of each class's nearest member; `width` means "no member yet".
    first = np.full((n, n_classes), width, dtype=np.int64)
    rows = np.arange(n)
    out = np.empty((len(ks), n), dtype=np.int64)
    for column in range(max(ks)):
        classes = neighbour_classes[:, column]
        counts[rows, classes] += 1  # one entry per row, so no repeated-index problem
        first[rows, classes] = np.minimum(first[rows, classes], column)
        wanted = [i for i, k in enumerate(ks) if k == column + 1]
        if wanted:
            # More votes wins; among equal votes the earlier nearest member wins. `first` < width+1,
            # so one vote always outweighs any difference in `first`.
            score = counts * (width + 1) - first
            out[wanted] = score.argmax(axis=1)
    return out


def knn_predict(dists: ArrayLike, labels_train: ArrayLike, k: int) -> np.ndarray:
    """Predictions from a precomputed distance matrix.

    dists: (n_test, n_train) distances; labels_train: (n_train,) integer labels. Returns (n_test,)
    int64 labels, by the module's neighbour-order and vote rules.
    """
    dists = _as_matrix(dists, "dists")
    labels = _as_labels(labels_train, dists.shape[1], "labels_train", "the columns of dists")
    k = _check_k(k, dists.shape[1])
    classes, label_class = np.unique(labels, return_inverse=True)
    step = _rows_per_chunk(len(dists), dists.shape[1], 0, DEFAULT_MEMORY_BUDGET)
    out = np.empty(len(dists), dtype=np.int64)
    for start in range(0, len(dists), step):
        _, index = k_nearest(dists[start : start + step], k)
        out[start : start + len(index)] = _vote_sweep(label_class[index], [k], len(classes))[0]
    return classes[out]


# --------------------------------------------------------------------------------------------------
# The model.


class KNN:
    """k-nearest-neighbour classifier on float32 data.

    k: neighbours that vote (default for `kneighbors`/`predict`/`score`).
    metric: "l2" (Euclidean), "l1" (Manhattan, no matmul form: much slower) or "cosine"
        (1 - cosine similarity, zero vectors at distance 1 from everything).
    batch_size: test rows per chunk; by default as many as fit in `memory_budget`.
    memory_budget: bytes of scratch memory a chunk may use (default 256 MiB on the CPU; on a GPU
        2 GiB, at most half the free GPU memory). The model also keeps the training set as float32
        (no copy if it already is on the CPU: do not modify it in place after `fit`).
    device: "cpu", or "cuda" (CuPy and a GPU): where the training set is kept and the distances
        and neighbours are computed. Inputs and results stay numpy arrays either way.
    """

    def __init__(
        self,
        k: int = 1,
        metric: str = "l2",
        batch_size: int | None = None,
        memory_budget: int | None = None,
        device: str = "cpu",
    ) -> None:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"k must be an integer, got {k!r}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        if batch_size is not None and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, numbers.Integral)
            or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        self.device = resolve_device(device, "KNN")
        if memory_budget is None:
            memory_budget = DEFAULT_MEMORY_BUDGET if self.device.type == "cpu" else _gpu_budget()
        if isinstance(memory_budget, bool) or not isinstance(memory_budget, numbers.Integral):
            raise TypeError(
                f"memory_budget must be an integer number of bytes, got {memory_budget!r}"
            )
        if memory_budget < 1:
            raise ValueError(f"memory_budget must be positive, got {memory_budget}")
        self.k = int(k)
        self.metric = metric
        self.batch_size = batch_size
        self.memory_budget = int(memory_budget)
        self.x_train: Tensor | None = None  # (n_train, d) float32
        self.y_train: np.ndarray | None = None  # (n_train,) int64
        self.classes_: np.ndarray | None = None  # sorted distinct labels
        self._y_class: np.ndarray | None = None  # (n_train,) index of each label in classes_
        self._train_term: np.ndarray | None = None  # per-training-row term of the metric

    def __repr__(self) -> str:
        where = "" if self.device.type == "cpu" else f", device='{self.device}'"
        return f"KNN(k={self.k}, metric={self.metric!r}, batch_size={self.batch_size}{where})"

    def fit(self, x: InputData, y: InputData) -> KNN:
        """Remember the training set. x: (n_train, d) Tensor or array; y: (n_train,) int labels."""
        data = _as_matrix(x, "x")
        labels = _as_labels(y, len(data), "y", "x")
        _check_k(self.k, len(data))
        train = np.ascontiguousarray(data, dtype=np.float32)
        if self.device.type == "cpu":
            self.x_train = from_numpy(train)  # shares: a Tensor(...) would copy the training set
        else:
            train = backend.to_device(train, self.device, "KNN.fit")
            self.x_train = Tensor._wrap(train)
        self.y_train = labels
        self.classes_, self._y_class = np.unique(labels, return_inverse=True)
        # Per-training-row terms of the distance formulas, computed once here.
        if self.metric == "l2":
            self._train_term = _squared_norms(train, np.float32)
        elif self.metric == "cosine":
            self._train_term = 1 / _safe_norms(_squared_norms(train, np.float32))
        else:
            self._train_term = None
        return self

    # -- distances and neighbours ------------------------------------------------------------------

    def _train(self) -> np.ndarray:
        if self.x_train is None:
            raise RuntimeError("this KNN is not fitted yet: call fit(x, y) first")
        return self.x_train._data

    def _distances(self, a: np.ndarray) -> np.ndarray:
        """(m, n_train) distances from a float32 chunk of test rows."""
        b = self._train()
        if self.metric == "l2":
            return _l2_distances(a, b, self._train_term)
        if self.metric == "cosine":
            return _cosine_distances(a, b, self._train_term)
        return _l1_distances(a, b)

    def kneighbors(
        self, x: InputData, k: int | None = None, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest training rows of every row of `x`, nearest first.

        x: (n_test, d). Returns (distances, indices), both (n_test, k): float32 distances and int64
        training-set indices. progress: show a progress bar over the chunks.
        """
        train = self._train()
        k = self.k if k is None else _check_k(k, len(train))
        data = _as_matrix(x, "x")
        _check_same_width(data, train, "x", "the training data")
        n, d = data.shape
        # Per test row, besides its distances: the float32 row, a float64 copy for its norm and the
        # scaled copy that goes into the matmul.
        step = self.batch_size or _rows_per_chunk(n, len(train), 16 * d, self.memory_budget)
        distances = np.empty((n, k), dtype=np.float32)
        indices = np.empty((n, k), dtype=np.int64)
        bar = progress_bar(
            range(0, n, step), desc=f"k-NN {self.metric}", unit="chunk", disable=not progress
        )
        for start in bar:
            # Convert chunk by chunk: uint8 or float64 test data is never copied whole.
            chunk = np.ascontiguousarray(data[start : start + step], dtype=np.float32)
            if self.device.type != "cpu":
                chunk = backend.to_device(chunk, self.device, "KNN.kneighbors")
            stop = start + len(chunk)
            distances[start:stop], indices[start:stop] = k_nearest(self._distances(chunk), k)
        return distances, indices

    # -- predictions -------------------------------------------------------------------------------

    def predict_sweep(self, x: InputData, ks: Iterable[int], progress: bool = False) -> np.ndarray:
        """Predictions for every k in `ks` from one neighbour search with max(ks).

        x: (n_test, d). Returns (len(ks), n_test) int64 labels, row i for ks[i].
        """
        ks = _check_ks(ks, len(self._train()))
        _, indices = self.kneighbors(x, k=max(ks), progress=progress)
        votes = _vote_sweep(self._y_class[indices], ks, len(self.classes_))
        return self.classes_[votes]

    def predict(self, x: InputData, progress: bool = False) -> np.ndarray:
        """(n_test,) int64 predicted labels with this model's k."""
        return self.predict_sweep(x, [self.k], progress=progress)[0]

    def score_sweep(
        self, x: InputData, y: InputData, ks: Iterable[int], progress: bool = False
    ) -> np.ndarray:
        """Accuracy for every k in `ks`, from one neighbour search: (len(ks),) floats in [0, 1]."""
        data = _as_matrix(x, "x")
        labels = _as_labels(y, len(data), "y", "x")  # before the search, not after
        predictions = self.predict_sweep(data, ks, progress=progress)
        return (predictions == labels).mean(axis=1)

    def score(self, x: InputData, y: InputData, progress: bool = False) -> float:
        """Accuracy with this model's k: the fraction of rows of `x` whose label is predicted."""
        return float(self.score_sweep(x, y, [self.k], progress=progress)[0])


def _gpu_budget() -> int:
    """The default scratch budget on the GPU: 2 GiB, at most half the free GPU memory."""
    free, _ = backend.cuda_module("KNN").cuda.Device().mem_info
    return int(min(DEFAULT_GPU_MEMORY_BUDGET, free // 2))


# --------------------------------------------------------------------------------------------------
# The lab's evaluation functions.


def evaluate_knn(
    data_train: InputData,
    labels_train: InputData,
    data_test: InputData,
    labels_test: InputData,
    k: int,
) -> float:
    """Accuracy of k-NN (L2, float32, chunked) trained on the first pair, tested on the second."""
    data_train, labels_train, data_test, labels_test = _lab_arguments(
        data_train, labels_train, data_test, labels_test
    )
    return KNN(k=k).fit(data_train, labels_train).score(data_test, labels_test)


def _lab_arguments(
    data_train: InputData, labels_train: InputData, data_test: InputData, labels_test: InputData
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The lab functions' inputs, checked under the lab's own argument names."""
    train = _as_matrix(data_train, "data_train")
    test = _as_matrix(data_test, "data_test")
    _check_same_width(train, test, "data_train", "data_test")
    return (
        train,
        _as_labels(labels_train, len(train), "labels_train", "data_train"),
        test,
        _as_labels(labels_test, len(test), "labels_test", "data_test"),
    )


def evaluate_knn_sweep(
    data_train: InputData,
    labels_train: InputData,
    data_test: InputData,
    labels_test: InputData,
    ks: Iterable[int],
    metric: str = "l2",
    progress: bool = False,
) -> np.ndarray:
    """Accuracy for every k in `ks` from one neighbour search: (len(ks),) floats in [0, 1]."""
    data_train, labels_train, data_test, labels_test = _lab_arguments(
        data_train, labels_train, data_test, labels_test
    )
    model = KNN(k=1, metric=metric).fit(data_train, labels_train)
    return model.score_sweep(data_test, labels_test, ks, progress=progress)
