"""tinygrad_be.utils.data: datasets, samplers, default_collate and the DataLoader (torch's semantics).

Expected dtypes and structures of `default_collate` and the split sizes of `random_split` are
torch 2's, computed with torch and pasted here.
"""

from __future__ import annotations

import threading
from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_be
from tinygrad_be import Tensor
from tinygrad_be.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    random_split,
)


def indexed(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples whose content names their index: x[i] = [i, -i, 2i], y[i] = i."""
    i = np.arange(n)
    return np.stack([i, -i, 2 * i], axis=1).astype(np.float32), i


def loader_of(n: int, batch_size: int, **options) -> DataLoader:
    return DataLoader(TensorDataset(*indexed(n)), batch_size, **options)


def epoch_indices(loader: DataLoader) -> list[np.ndarray]:
    """The y batches of one epoch (y[i] = i, so they are the sample indices)."""
    return [y.numpy().copy() for _, y in loader]


class PairDataset(Dataset):
    """A map-style dataset read one sample at a time (the general, non-fast path)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], int(self.y[i])


# --------------------------------------------------------------------------------------------------
# default_collate
def test_collate_numbers_get_torchs_dtypes():
    assert default_collate([1.0, 2.0]).dtype == np.float64  # torch: float64
    assert default_collate([1, 2]).dtype == np.int64
    assert default_collate([True, False]).dtype == np.bool_
    assert default_collate([np.float32(1), np.float32(2)]).dtype == np.float32
    assert default_collate([np.int32(1), np.int32(2)]).dtype == np.int32
    assert default_collate([np.float64(1.5)]).dtype == np.float64
    out = default_collate([np.zeros(2, np.uint8), np.ones(2, np.uint8)])
    assert isinstance(out, Tensor) and out.dtype == np.uint8
    np.testing.assert_array_equal(out.numpy(), [[0, 0], [1, 1]])


def test_collate_recurses_through_tuples_lists_dicts_and_named_tuples():
    labels, names = default_collate([(1, "a"), (2, "b")])  # torch: [tensor([1, 2]), ('a', 'b')]
    np.testing.assert_array_equal(labels.numpy(), [1, 2])
    assert list(names) == ["a", "b"]
    out = default_collate([{"x": 1, "y": [1.0, 2.0]}, {"x": 2, "y": [3.0, 4.0]}])
    assert set(out) == {"x", "y"}
    np.testing.assert_array_equal(out["x"].numpy(), [1, 2])
    assert [t.numpy().tolist() for t in out["y"]] == [[1.0, 3.0], [2.0, 4.0]]
    assert out["y"][0].dtype == np.float64
    lists = default_collate([[1, 2], [3, 4]])  # torch: a list of tensors, column by column
    assert isinstance(lists, list) and [t.numpy().tolist() for t in lists] == [[1, 3], [2, 4]]
    Point = namedtuple("Point", "x y")
    point = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(point, Point) and point.x.numpy().tolist() == [1, 3]
    tensors = default_collate([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])])
    assert tensors.shape == (2, 2) and tensors.dtype == np.float32


def test_collate_refuses_what_torch_refuses():
    with pytest.raises(RuntimeError, match=r"entry 0 has shape \(3,\) and entry 1 has shape \(4,\)"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found <class 'object'>"):
        default_collate([object()])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"])])


def test_a_bad_item_in_a_batch_is_named_by_its_dataset_index_and_shape():
    class Ragged(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return np.zeros((3, 4 if i == 5 else 5), np.float32), i

    with pytest.raises(RuntimeError, match=r"dataset index 4 has shape \(3, 5\) and dataset "
                                           r"index 5 has shape \(3, 4\)"):  # fmt: skip
        list(DataLoader(Ragged(), batch_size=4))

    class Mixed(Ragged):
        def __getitem__(self, i):
            return ("text" if i == 2 else np.zeros(2)), i

    with pytest.raises(TypeError, match=r"dataset index 0 is ndarray of shape \(2,\).*dataset "
                                        r"index 2 is str"):  # fmt: skip
        list(DataLoader(Mixed(), batch_size=4))


# --------------------------------------------------------------------------------------------------
# Datasets
def test_tensor_dataset_items_and_batches_are_tensors():
    x, y = indexed(5)
    dataset = TensorDataset(x, Tensor(y))
    assert len(dataset) == 5 and all(isinstance(t, Tensor) for t in dataset.tensors)
    xi, yi = dataset[3]
    assert isinstance(xi, Tensor) and xi.numpy().tolist() == [3.0, -3.0, 6.0] and int(yi) == 3
    with pytest.raises(ValueError, match=r"size mismatch.*\(5, 3\), \(4,\)"):
        TensorDataset(x, y[:4])


def test_subset_concat_and_add():
    x, y = indexed(10)
    a, b = TensorDataset(x[:4], y[:4]), TensorDataset(x[4:], y[4:])
    both = a + b
    assert isinstance(both, ConcatDataset) and len(both) == 10 and both.cumulative_sizes == [4, 10]
    assert [int(both[i][1]) for i in (0, 3, 4, 9, -1)] == [0, 3, 4, 9, 9]
    sub = Subset(TensorDataset(x, y), [7, 2, 5])
    assert len(sub) == 3 and int(sub[0][1]) == 7
    _, labels = next(iter(DataLoader(sub, batch_size=3)))  # the fast path through the Subset
    assert labels.numpy().tolist() == [7, 2, 5]


def test_random_split_sizes_match_torch():
    assert [len(s) for s in random_split(range(10), [0.33, 0.33, 0.34])] == [4, 3, 3]
    assert [len(s) for s in random_split(range(11), [0.5, 0.5])] == [6, 5]
    parts = random_split(range(20), [5, 15], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [5, 15]
    together = sorted(parts[0].indices + parts[1].indices)
    assert together == list(range(20))  # disjoint and complete
    again = random_split(range(20), [5, 15], generator=np.random.default_rng(0))
    assert again[0].indices == parts[0].indices
    for bad in ([3, 3], [0.5, 0.6]):
        with pytest.raises(ValueError, match="does not equal the length"):
            random_split(range(10), bad)


def test_iterable_dataset_is_batched_in_order():
    class Count(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    batches = [b.numpy().tolist() for b in DataLoader(Count(), batch_size=3)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.numpy().tolist() for b in DataLoader(Count(), batch_size=3, drop_last=True)] == [
        [0, 1, 2], [3, 4, 5]]  # fmt: skip
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Count(), shuffle=True)


# --------------------------------------------------------------------------------------------------
# The DataLoader
@given(n=st.integers(1, 200), batch_size=st.integers(1, 64), drop_last=st.booleans(),
       shuffle=st.booleans())  # fmt: skip
def test_len_and_batches_cover_every_sample_once_in_pairs(n, batch_size, drop_last, shuffle):
    x, y = indexed(n)
    loader = DataLoader(TensorDataset(x, y), batch_size, shuffle=shuffle, drop_last=drop_last,
                        seed=0)  # fmt: skip
    expected_len = n // batch_size if drop_last else -(-n // batch_size)
    assert len(loader) == expected_len
    batches = list(loader)
    assert len(batches) == expected_len
    sizes = [len(yb) for _, yb in batches]
    if drop_last:
        assert all(size == batch_size for size in sizes)
    else:
        assert all(size == batch_size for size in sizes[:-1]) and 1 <= sizes[-1] <= batch_size
    if not batches:
        return
    seen = np.concatenate([yb.numpy() for _, yb in batches])
    assert len(np.unique(seen)) == len(seen) == (n if not drop_last else expected_len * batch_size)
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(len(seen)))
    for xb, yb in batches:  # every row still sits next to its own label
        assert isinstance(xb, Tensor) and xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])


def test_fast_path_equals_the_sample_by_sample_path():
    x, y = indexed(23)
    fast = list(DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, seed=4))
    slow = list(DataLoader(PairDataset(x, y), batch_size=5, shuffle=True, seed=4))
    assert len(fast) == len(slow) == 5
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        assert xf.dtype == xs.dtype and yf.dtype == ys.dtype
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())
    array_batches = [b.numpy() for b in DataLoader(x, batch_size=5, shuffle=True, seed=4)]
    for a, (xf, _) in zip(array_batches, fast, strict=True):  # an array as the dataset
        np.testing.assert_array_equal(a, xf.numpy())


def test_the_seeded_order_is_the_documented_permutation_per_epoch():
    loader = loader_of(100, 16, shuffle=True, seed=7)
    for epoch in range(3):
        expected = np.random.default_rng([7, epoch]).permutation(100)
        np.testing.assert_array_equal(np.concatenate(epoch_indices(loader)), expected)
    assert loader.epoch == 3
    other_seed = np.concatenate(epoch_indices(loader_of(100, 16, shuffle=True, seed=8)))
    assert not np.array_equal(other_seed, np.random.default_rng([7, 0]).permutation(100))


def test_resuming_at_an_epoch_gives_that_epochs_order():
    run_a = loader_of(50, 8, shuffle=True, seed=3)
    orders = [epoch_indices(run_a) for _ in range(4)]
    run_b = loader_of(50, 8, shuffle=True, seed=3)
    run_b.epoch = 2  # e.g. restored from a checkpoint
    for expected, got in zip(orders[2:], [epoch_indices(run_b) for _ in range(2)], strict=True):
        for e, g in zip(expected, got, strict=True):
            np.testing.assert_array_equal(e, g)


def test_an_abandoned_epoch_still_counts():
    """The order is fixed when iteration starts, so breaking out early does not shift later epochs."""
    full = loader_of(40, 8, shuffle=True, seed=1)
    [epoch_indices(full) for _ in range(2)]
    second = np.concatenate(epoch_indices(full))
    partial = loader_of(40, 8, shuffle=True, seed=1)
    next(iter(partial))
    iter(partial)  # started but never consumed
    np.testing.assert_array_equal(np.concatenate(epoch_indices(partial)), second)


def test_unseeded_order_follows_manual_seed_and_a_generator_repeats():
    tinygrad_be.manual_seed(11)
    first = np.concatenate(epoch_indices(loader_of(30, 7, shuffle=True)))
    tinygrad_be.manual_seed(11)
    again = np.concatenate(epoch_indices(loader_of(30, 7, shuffle=True)))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, np.arange(30))
    runs = []
    for _ in range(2):
        loader = loader_of(30, 7, shuffle=True, generator=np.random.default_rng(5))
        runs.append([np.concatenate(epoch_indices(loader)) for _ in range(2)])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0][0], runs[0][1])  # a new order each epoch


@pytest.mark.parametrize("fast", [True, False])
def test_workers_give_the_same_batches_in_the_same_order(fast):
    x, y = indexed(97)
    dataset = TensorDataset(x, y) if fast else PairDataset(x, y)
    started = []
    plain = list(DataLoader(dataset, batch_size=6, shuffle=True, seed=2))
    threaded = list(DataLoader(dataset, batch_size=6, shuffle=True, seed=2, num_workers=3,
                               worker_init_fn=started.append))  # fmt: skip
    assert len(plain) == len(threaded) == 17
    for (xa, ya), (xb, yb) in zip(plain, threaded, strict=True):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert sorted(started) == list(range(len(started))) and 1 <= len(started) <= 3


def test_an_error_in_a_worker_reaches_the_caller_with_the_sample_index():
    class Broken(PairDataset):
        def __getitem__(self, i):
            if i == 13:
                raise ValueError("bad image file")
            assert threading.current_thread() is not threading.main_thread()
            return super().__getitem__(i)

    loader = DataLoader(Broken(*indexed(20)), batch_size=4, num_workers=2)
    with pytest.raises(ValueError, match="bad image file") as caught:
        list(loader)
    assert "while loading sample 13" in "".join(caught.value.__notes__)


def test_samplers_and_batch_size_none():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    assert list(BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    drawn = list(RandomSampler(range(5), replacement=True, num_samples=12,
                               generator=np.random.default_rng(0)))  # fmt: skip
    assert len(drawn) == 12 and set(drawn) <= set(range(5))
    more = list(RandomSampler(range(5), num_samples=7, generator=np.random.default_rng(0)))
    assert sorted(more[:5]) == list(range(5)) and len(more) == 7
    assert sorted(SubsetRandomSampler([3, 8, 9])) == [3, 8, 9]
    batches = [b.numpy().tolist() for b in DataLoader(range(5), batch_sampler=[[4, 0], [2]])]
    assert batches == [[4, 0], [2]]
    single = list(DataLoader(TensorDataset(*indexed(3)), batch_size=None))
    assert len(single) == 3 and single[2][0].shape == (3,)  # samples, not batches
    assert int(next(iter(DataLoader(range(10), batch_size=None)))) == 0


def test_bad_arguments_are_refused_as_torch_does():
    x, y = indexed(5)
    with pytest.raises(TypeError, match=r"DataLoader\(TensorDataset\(x, y\)"):
        DataLoader(x, y, 2)  # the old form
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(x, 0)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(x, 2.5)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(x, 2, shuffle=True, seed=-1)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(x, shuffle=True, sampler=[1, 2])
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(x, batch_size=2, batch_sampler=[[1, 2]])
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(x, num_workers=-1)
    with pytest.raises(TypeError, match="np.random.default_rng"):
        DataLoader(x, shuffle=True, generator=42)
