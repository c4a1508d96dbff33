"""models.knn against a brute-force reference written plainly here, plus the lab's hand cases.

Most data is small integers stored as float32: then every squared distance, L1 distance and dot
product is computed exactly, so exact ties are common (the interesting case for the ordering and
vote rules) and results can be compared bit for bit with the reference.
"""

from __future__ import annotations

import importlib.util
import math
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from models.knn import (
    KNN,
    distance_matrix,
    evaluate_knn,
    evaluate_knn_sweep,
    k_nearest,
    knn_predict,
)
from tinygrad_be import Tensor

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "knn_cifar10.py"

# --------------------------------------------------------------------------------------------------
# The reference: one pair, one row, one vote at a time, in float64.


def reference_distance(u: np.ndarray, v: np.ndarray, metric: str) -> float:
    u = [float(t) for t in u]
    v = [float(t) for t in v]
    if metric == "l2":
        return math.sqrt(sum((p - q) ** 2 for p, q in zip(u, v, strict=True)))
    if metric == "l1":
        return sum(abs(p - q) for p, q in zip(u, v, strict=True))
    norm_u = math.sqrt(sum(p * p for p in u)) or 1.0  # a zero vector counts as norm 1
    norm_v = math.sqrt(sum(q * q for q in v)) or 1.0
    cosine = sum(p * q for p, q in zip(u, v, strict=True)) / (norm_u * norm_v)
    return min(max(1.0 - cosine, 0.0), 2.0)


def reference_distances(test: np.ndarray, train: np.ndarray, metric: str) -> np.ndarray:
    return np.array([[reference_distance(u, v, metric) for v in train] for u in test])


def reference_neighbours(dists: np.ndarray, k: int) -> list[list[int]]:
    """Per row, the k smallest by (distance, index)."""
    return [sorted(range(len(row)), key=lambda j: (row[j], j))[:k] for row in dists]


def reference_vote(neighbour_labels: list[int]) -> int:
    """Most votes; among tied labels, the one met first in the neighbour order."""
    counts = Counter(neighbour_labels)
    best = max(counts.values())
    return next(label for label in neighbour_labels if counts[label] == best)


def reference_predict(dists: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    rows = reference_neighbours(dists, k)
    return np.array([reference_vote([int(labels[j]) for j in row]) for row in rows])


# --------------------------------------------------------------------------------------------------
# Hypothesis data.

small_ints = st.integers(-3, 3)


@st.composite
def problems(draw: st.DrawFn, n_labels: int = 3) -> tuple:
    """(train, labels, test, k): small-integer float32 data, labels in 0..n_labels-1."""
    d = draw(st.integers(1, 4))
    n_train = draw(st.integers(1, 12))
    n_test = draw(st.integers(1, 5))
    train = draw(arrays(np.int8, (n_train, d), elements=small_ints)).astype(np.float32)
    test = draw(arrays(np.int8, (n_test, d), elements=small_ints)).astype(np.float32)
    labels = draw(arrays(np.int64, n_train, elements=st.integers(0, n_labels - 1)))
    k = draw(st.integers(1, n_train))
    return train, labels, test, k


@st.composite
def float_problems(draw: st.DrawFn) -> tuple:
    """(train, labels, test, k) with continuous data, for cosine and chunking.

    At least 2 features: in 1-D every cosine distance is exactly 0 or 2, all ties.
    """
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    d = draw(st.integers(2, 6))
    n_train = draw(st.integers(1, 40))
    n_test = draw(st.integers(1, 12))
    train = rng.normal(size=(n_train, d)).astype(np.float32)
    test = rng.normal(size=(n_test, d)).astype(np.float32)
    labels = rng.integers(0, 3, n_train)
    k = draw(st.integers(1, n_train))
    return train, labels, test, k


# --------------------------------------------------------------------------------------------------
# Distances, neighbours, predictions against the reference.


@given(problems(), st.sampled_from(["l2", "l1"]))
def test_exact_metrics_match_reference(problem, metric):
    train, labels, test, k = problem
    reference = reference_distances(test, train, metric)
    model = KNN(k=k, metric=metric).fit(train, labels)
    distances, indices = model.kneighbors(test)
    assert distances.dtype == np.float32 and indices.dtype == np.int64
    assert indices.tolist() == reference_neighbours(reference, k)
    np.testing.assert_allclose(distances, np.sort(reference, axis=1)[:, :k], rtol=1e-6)
    assert model.predict(test).tolist() == reference_predict(reference, labels, k).tolist()


@given(problems())
def test_cosine_matches_reference(problem):
    train, labels, test, k = problem
    train[0] = 0  # a zero vector: distance 1 to everything
    reference = reference_distances(test, train, "cosine")
    distances, indices = KNN(k=k, metric="cosine").fit(train, labels).kneighbors(test)
    np.testing.assert_allclose(distances, np.sort(reference, axis=1)[:, :k], atol=1e-6)
    # Round-off may order truly tied cosines either way, so check the neighbours are *a* correct
    # set: their reference distances are the k smallest.
    np.testing.assert_allclose(
        np.take_along_axis(reference, indices, axis=1), np.sort(reference, axis=1)[:, :k], atol=1e-6
    )
    assert np.all(np.diff(distances, axis=1) >= 0)


@given(float_problems())
def test_cosine_neighbours_and_predictions_without_ties(problem):
    train, labels, test, k = problem
    reference = reference_distances(test, train, "cosine")
    # Distinct coordinates can still give cosines closer than float32 resolves (nearly parallel
    # vectors): such near-ties may be ordered either way, so they are not this test's cases.
    nearest = np.sort(reference, axis=1)[:, : k + 1]
    assume(np.all(np.diff(nearest, axis=1) > 1e-5))
    model = KNN(k=k, metric="cosine").fit(train, labels)
    assert model.kneighbors(test)[1].tolist() == reference_neighbours(reference, k)
    assert model.predict(test).tolist() == reference_predict(reference, labels, k).tolist()


@given(problems())
def test_distance_matrix_matches_reference(problem):
    train, _, test, _ = problem
    reference = reference_distances(test, train, "l2")
    result = distance_matrix(test, train)
    assert result.shape == (len(test), len(train)) and result.dtype == np.float32
    np.testing.assert_allclose(result, reference, rtol=1e-6)
    result64 = distance_matrix(test.astype(np.float64), train.astype(np.float64))
    assert result64.dtype == np.float64
    np.testing.assert_allclose(result64, reference, rtol=1e-12)


@given(
    arrays(np.int8, st.tuples(st.integers(1, 6), st.integers(1, 30)), elements=st.integers(0, 3)),
    st.data(),
)
def test_knn_predict_matches_reference_with_many_ties(dists, data):
    labels = data.draw(arrays(np.int64, dists.shape[1], elements=st.integers(0, 3)))
    k = data.draw(st.integers(1, dists.shape[1]))
    dists = dists.astype(np.float64)
    expected = reference_predict(dists, labels, k)
    assert knn_predict(dists, labels, k).tolist() == expected.tolist()
    values, indices = k_nearest(dists, k)
    assert indices.tolist() == reference_neighbours(dists, k)
    assert values.tolist() == np.sort(dists, axis=1)[:, :k].tolist()


def test_ties_beyond_the_partition_go_to_the_lowest_index():
    # 998 entries tie at the k-th distance; argpartition alone picks some of them at random
    # (with numpy 2.x: indices near the end). The rule wants the lowest indices.
    dists = np.full((3, 1000), 5.0, dtype=np.float32)
    dists[:, [700, 900]] = 1.0
    dists[2, 950] = 0.5
    values, indices = k_nearest(dists, 5)
    assert indices[0].tolist() == [700, 900, 0, 1, 2]
    assert indices[2].tolist() == [950, 700, 900, 0, 1]
    assert values[0].tolist() == [1.0, 1.0, 5.0, 5.0, 5.0]


# --------------------------------------------------------------------------------------------------
# Chunking and the sweep.


@given(problems(), st.sampled_from(["l2", "l1"]), st.integers(1, 4))
def test_chunked_equals_unchunked_exactly(problem, metric, batch_size):
    # Exact arithmetic: any difference would come from the chunk bookkeeping itself.
    train, labels, test, k = problem
    whole = KNN(k=k, metric=metric).fit(train, labels)
    chunked = KNN(k=k, metric=metric, batch_size=batch_size).fit(train, labels)
    tiny_budget = KNN(k=k, metric=metric, memory_budget=1).fit(train, labels)  # 1 row per chunk
    expected = whole.kneighbors(test)
    for model in (chunked, tiny_budget):
        result = model.kneighbors(test)
        assert np.array_equal(result[0], expected[0]) and np.array_equal(result[1], expected[1])
        assert np.array_equal(model.predict(test), whole.predict(test))


@given(float_problems(), st.sampled_from(["l2", "cosine", "l1"]), st.integers(1, 5))
def test_chunked_equals_unchunked_on_continuous_data(problem, metric, batch_size):
    # BLAS picks different kernels for different matrix shapes (a 1-row chunk is a matrix-vector
    # product), so float32 distances may differ in the last bit; neighbours and votes may not.
    train, labels, test, k = problem
    whole = KNN(k=k, metric=metric).fit(train, labels)
    chunked = KNN(k=k, metric=metric, batch_size=batch_size).fit(train, labels)
    d_whole, i_whole = whole.kneighbors(test)
    d_chunk, i_chunk = chunked.kneighbors(test)
    assert np.array_equal(i_whole, i_chunk)
    np.testing.assert_allclose(d_chunk, d_whole, rtol=1e-5, atol=1e-5)
    assert np.array_equal(whole.predict(test), chunked.predict(test))


@given(problems(n_labels=2), st.sampled_from(["l2", "l1"]), st.data())
def test_sweep_equals_separate_runs(problem, metric, data):
    train, labels, test, _ = problem
    ks = data.draw(st.lists(st.integers(1, len(train)), min_size=1, max_size=6))
    test_labels = data.draw(arrays(np.int64, len(test), elements=st.integers(0, 1)))
    model = KNN(metric=metric).fit(train, labels)
    sweep = model.predict_sweep(test, ks)
    assert sweep.shape == (len(ks), len(test))
    scores = model.score_sweep(test, test_labels, ks)
    for i, k in enumerate(ks):
        alone = KNN(k=k, metric=metric).fit(train, labels)
        assert sweep[i].tolist() == alone.predict(test).tolist()
        assert scores[i] == alone.score(test, test_labels)
    if metric == "l2":
        expected = [evaluate_knn(train, labels, test, test_labels, k) for k in ks]
        assert evaluate_knn_sweep(train, labels, test, test_labels, ks).tolist() == expected


def test_sweep_does_one_neighbour_search(rng, monkeypatch):
    # k = 1..20 must cost what k = 20 costs: one distance pass and one k-nearest search per chunk,
    # with k = 20, then only votes. Count the calls instead of timing them (deterministic).
    import models.knn as knn

    calls = []
    original_nearest, original_distances = knn.k_nearest, knn.KNN._distances

    def counting_nearest(dists, k):
        calls.append(("nearest", k))
        return original_nearest(dists, k)

    def counting_distances(self, a):
        calls.append(("distances", len(a)))
        return original_distances(self, a)

    monkeypatch.setattr(knn, "k_nearest", counting_nearest)
    monkeypatch.setattr(knn.KNN, "_distances", counting_distances)
    train = rng.normal(size=(200, 8)).astype(np.float32)
    test = rng.normal(size=(50, 8)).astype(np.float32)
    model = KNN(batch_size=20).fit(train, rng.integers(0, 4, 200))
    model.score_sweep(test, rng.integers(0, 4, 50), range(1, 21))
    assert calls == [("distances", 20), ("nearest", 20)] * 2 + [("distances", 10), ("nearest", 20)]


# --------------------------------------------------------------------------------------------------
# The lab's hand cases and the vote rule.


def test_lab_hand_cases():
    dists = [[0, 10, 10], [10, 0, 0.8], [10, 0.8, 0]]
    assert knn_predict(dists, [0, 1, 1], 2).tolist() == [0, 1, 1]
    assert knn_predict(dists, [0, 1, 1], 1).tolist() == [0, 1, 1]
    assert knn_predict(dists, [0, 1, 1], 3).tolist() == [1, 1, 1]
    assert knn_predict(np.array(dists), np.array([0, 1, 1]), 2).dtype == np.int64

    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    b = np.array([[0.0, 0.0], [6.0, 8.0], [3.0, 0.0]])
    expected = [[0, 10, 3], [5, 5, 4]]
    assert distance_matrix(a, b).tolist() == expected
    assert distance_matrix(a, b).dtype == np.float64
    assert distance_matrix(a.astype(np.float32), b).dtype == np.float32
    assert distance_matrix(a.astype(int), b.astype(int)).dtype == np.float32
    assert distance_matrix(a.astype(np.float32), b.astype(np.float32)).tolist() == expected

    data_train = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    labels_train = np.array([0, 0, 1, 1, 1])
    data_test = np.array([[0.4], [10.6], [5.6]])  # 5.6: nearest is 10.0
    assert evaluate_knn(data_train, labels_train, data_test, np.array([0, 1, 1]), 1) == 1.0
    assert evaluate_knn(data_train, labels_train, data_test, np.array([0, 1, 0]), 1) == 2 / 3
    assert evaluate_knn(data_train, labels_train, data_test, np.array([1, 1, 1]), 5) == 1.0


def test_vote_tie_goes_to_the_label_with_the_closest_member():
    train = np.array([[1.0], [2.0], [3.0], [4.0]])
    # Nearest first: 1 (label 7), 2 (label 3), 3 (label 3), 4 (label 7): 2 votes each at k=4.
    model = KNN(k=4).fit(train, [7, 3, 3, 7])
    assert model.predict([[0.0]]).tolist() == [7]  # label 7 has the nearest member
    assert model.predict([[5.0]]).tolist() == [7]  # from the other side, 4.0 is label 7
    assert model.predict([[2.6]]).tolist() == [3]  # nearest 3.0: label 3
    # Both members at exactly the same distance: the lower training index is the nearer one.
    equal = KNN(k=2).fit([[-1.0], [1.0]], [5, 2])
    assert equal.predict([[0.0]]).tolist() == [5]
    assert KNN(k=2).fit([[-1.0], [1.0]], [2, 5]).predict([[0.0]]).tolist() == [2]
    # Three-way tie at k=3 with labels -1, 4, 0: the nearest one wins; more votes beat nearer.
    three = KNN(k=3).fit([[3.0], [1.0], [2.0], [9.0], [9.5]], [-1, 4, 0, 0, 0])
    assert three.predict([[0.0]]).tolist() == [4]
    assert three.predict_sweep([[0.0]], [1, 3, 5]).tolist() == [[4], [4], [0]]


def test_fit_accepts_tensors_and_stores_float32(rng):
    x = rng.normal(size=(20, 5))  # float64
    y = rng.integers(0, 3, 20)
    model = KNN(k=3).fit(Tensor(x), Tensor(y.astype(np.float32)))
    assert isinstance(model.x_train, Tensor) and model.x_train.dtype == np.float32
    assert model.y_train.dtype == np.int64
    from_numpy = KNN(k=3).fit(x, y)
    assert np.array_equal(model.predict(Tensor(x[:7])), from_numpy.predict(x[:7]))
    assert model.predict(x[:7]).dtype == np.int64
    assert 0.0 <= model.score(x, y) <= 1.0 and isinstance(model.score(x, y), float)
    uint8 = rng.integers(0, 256, size=(30, 8)).astype(np.uint8)
    as_float = uint8.astype(np.float32)
    labels = rng.integers(0, 2, 30)
    assert np.array_equal(
        KNN(k=5).fit(uint8, labels).kneighbors(uint8)[1],
        KNN(k=5).fit(as_float, labels).kneighbors(as_float)[1],
    )


def test_kneighbors_k_overrides_model_k(rng):
    train = rng.normal(size=(10, 3)).astype(np.float32)
    model = KNN(k=2).fit(train, np.arange(10))
    assert model.kneighbors(train[:4])[1].shape == (4, 2)
    distances, indices = model.kneighbors(train[:4], k=10)
    assert indices.shape == (4, 10) and np.all(np.diff(distances, axis=1) >= 0)
    assert indices[:, 0].tolist() == [0, 1, 2, 3]  # each point is its own nearest neighbour
    np.testing.assert_allclose(distances[:, 0], 0, atol=1e-3)


def test_memory_stays_within_the_budget(rng):
    train = rng.normal(size=(3000, 64)).astype(np.float32)
    test = rng.normal(size=(600, 64)).astype(np.float32)
    budget = 2 * 2**20
    model = KNN(k=10, memory_budget=budget).fit(train, rng.integers(0, 10, 3000))
    tracemalloc.start()
    try:
        model.predict_sweep(test, range(1, 11))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    outputs = 600 * 10 * (4 + 8) * 3  # neighbour distances, indices and their labels/votes
    assert peak <= budget + outputs, peak
    # The same sweep with the whole test set in one chunk does need more: the test can fail.
    tracemalloc.start()
    try:
        KNN(k=10, batch_size=600).fit(train, np.zeros(3000, int)).predict_sweep(test, [10])
        _, peak_whole = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_whole > budget + outputs


# --------------------------------------------------------------------------------------------------
# Bad input.


def test_bad_k():
    train = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="at least 1"):
        KNN(k=0)
    with pytest.raises(TypeError, match="integer"):
        KNN(k=1.5)
    with pytest.raises(ValueError, match="k=4 is larger than the number of training samples"):
        KNN(k=4).fit(train, [0, 1, 2])
    model = KNN(k=1).fit(train, [0, 1, 2])
    with pytest.raises(ValueError, match="larger than the number of training samples"):
        model.kneighbors(train, k=4)
    with pytest.raises(ValueError, match="at least 1"):
        model.kneighbors(train, k=0)
    with pytest.raises(ValueError, match="larger than the number of training samples"):
        model.score_sweep(train, [0, 1, 2], [1, 2, 5])
    with pytest.raises(ValueError, match="ks is empty"):
        model.predict_sweep(train, [])
    with pytest.raises(ValueError, match="at least 1"):
        knn_predict([[1.0, 2.0]], [0, 1], 0)
    with pytest.raises(ValueError, match="k=3 is larger"):
        knn_predict([[1.0, 2.0]], [0, 1], 3)
    with pytest.raises(ValueError, match="k=3 is larger"):
        evaluate_knn(train[:2], [0, 1], train, [0, 0, 0], 3)


def test_bad_widths():
    model = KNN().fit(np.zeros((3, 4)), [0, 1, 2])
    with pytest.raises(ValueError, match=r"x has 5 features.*training data has 4.*\(2, 5\)"):
        model.predict(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"a has 2 features per row but b has 3"):
        distance_matrix(np.zeros((1, 2)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="2-D"):
        model.predict(np.zeros(4))
    with pytest.raises(ValueError, match="2-D"):
        distance_matrix(np.zeros((2, 2, 2)), np.zeros((2, 2)))


def test_bad_label_lengths():
    with pytest.raises(ValueError, match="y has 2 labels but x has 3 rows"):
        KNN().fit(np.zeros((3, 4)), [0, 1])
    model = KNN().fit(np.zeros((3, 4)), [0, 1, 2])
    with pytest.raises(ValueError, match="y has 4 labels but x has 3 rows"):
        model.score(np.zeros((3, 4)), [0, 1, 2, 0])
    with pytest.raises(ValueError, match="labels_train has 2 labels but the columns of dists"):
        knn_predict([[1.0, 2.0, 3.0]], [0, 1], 1)
    with pytest.raises(ValueError, match="1-D"):
        KNN().fit(np.zeros((3, 4)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="integer class labels"):
        KNN().fit(np.zeros((3, 4)), [0.5, 1, 2])


def test_empty_sets():
    with pytest.raises(ValueError, match=r"x is empty: shape \(0, 4\)"):
        KNN().fit(np.zeros((0, 4)), [])
    model = KNN().fit(np.zeros((3, 4)), [0, 1, 2])
    with pytest.raises(ValueError, match="x is empty"):
        model.predict(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="b is empty"):
        distance_matrix(np.zeros((2, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="dists is empty"):
        knn_predict(np.zeros((2, 0)), [], 1)


def test_nan_and_inf_in_data():
    x = np.zeros((6, 4), dtype=np.float32)
    x[4, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"x contains NaN or infinite values in 1 row\(s\) \(rows 4\)"
    ):
        KNN().fit(x, np.zeros(6, int))
    model = KNN().fit(np.zeros((3, 4)), [0, 1, 2])
    x[1, 0] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinite values in 2 row\(s\) \(rows 1, 4\)"):
        model.predict(x)
    with pytest.raises(ValueError, match="a contains NaN"):
        distance_matrix(x, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="dists contains NaN"):
        knn_predict([[0.0, np.nan]], [0, 1], 1)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="metric must be one of"):
        KNN(metric="l3")
    with pytest.raises(ValueError, match="batch_size"):
        KNN(batch_size=0)
    with pytest.raises(ValueError, match="memory_budget"):
        KNN(memory_budget=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        KNN().predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="real numbers"):
        KNN().fit(np.array([["a", "b"]]), [0])


# --------------------------------------------------------------------------------------------------
# The example, end to end on a generated archive.


def load_example():
    spec = importlib.util.spec_from_file_location("knn_cifar10", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_runs_end_to_end_on_a_generated_archive(tmp_path, capsys):
    from fake_cifar import make_fake_cifar_archive

    archive = make_fake_cifar_archive(tmp_path, n_per_batch=20)  # 108 train / 12 test images
    results = tmp_path / "results"
    common = ["--archive", str(archive), "--checksum", "skip", "--root", str(tmp_path / "data")]
    accuracies = load_example().main([*common, "--k-max", "5", "--out-dir", str(results)])
    out = capsys.readouterr().out
    assert "lab split 0.9, seed 0 (108 train / 12 test)" in out and "best k = " in out

    assert (results / "knn.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = (results / "knn.csv").read_text().splitlines()
    assert lines[0] == "k,accuracy" and len(lines) == 6
    rows = [line.split(",") for line in lines[1:]]
    assert [int(k) for k, _ in rows] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose([float(a) for _, a in rows], accuracies, atol=1e-6)
    assert accuracies.min() > 0.5  # the generated classes are separable; chance is 0.1
    assert not list(results.glob(".*"))  # no temporary files left behind

    # The extracted directory through read_cifar, the official split, another metric.
    batches = tmp_path / "data" / "cifar-10-batches-py"
    official = load_example().main(
        ["--data-dir", str(batches), "--official", "--metric", "cosine", "--k-max", "3",
         "--out-dir", str(tmp_path / "official")]
    )  # fmt: skip
    assert "official split (100 train / 20 test)" in capsys.readouterr().out
    assert official.shape == (3,) and official.min() > 0.5
