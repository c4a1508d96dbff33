"""tinygrad_be.data.DataLoader: batch count, order, pairing, reproducibility, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_be
from tinygrad_be.utils.data import DataLoader


def indexed(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples whose content names their index: x[i] = [i, -i, 2i], y[i] = i."""
    i = np.arange(n)
    return np.stack([i, -i, 2 * i], axis=1).astype(np.float32), i


def epoch_indices(loader: DataLoader) -> list[np.ndarray]:
    """The y batches of one epoch (y[i] = i, so they are the sample indices)."""
    return [y.copy() for _, y in loader]


@given(n=st.integers(1, 200), batch_size=st.integers(1, 64), drop_last=st.booleans(),
       shuffle=st.booleans())  # fmt: skip
def test_len_and_batches_cover_every_sample_once_in_pairs(n, batch_size, drop_last, shuffle):
    x, y = indexed(n)
    loader = DataLoader(x, y, batch_size, shuffle=shuffle, drop_last=drop_last, seed=0)
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
    seen = np.concatenate([yb for _, yb in batches])
    assert len(np.unique(seen)) == len(seen) == (n if not drop_last else expected_len * batch_size)
    for xb, yb in batches:  # every row still sits next to its own label
        np.testing.assert_array_equal(xb, x[yb])
        assert xb.dtype == np.float32


def test_unshuffled_batches_are_views_in_order():
    x, y = indexed(10)
    loader = DataLoader(x, y, 4, shuffle=False)
    batches = list(loader)
    np.testing.assert_array_equal(np.concatenate([b for _, b in batches]), np.arange(10))
    assert all(np.shares_memory(xb, x) for xb, _ in batches)


def test_each_epoch_is_a_new_order_and_the_same_seed_gives_the_same_orders():
    x, y = indexed(100)
    a = DataLoader(x, y, 16, seed=7)
    b = DataLoader(x, y, 16, seed=7)
    epochs_a = [np.concatenate(epoch_indices(a)) for _ in range(3)]
    epochs_b = [np.concatenate(epoch_indices(b)) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b, strict=True):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(epochs_a[0], np.arange(100))
    other_seed = np.concatenate(epoch_indices(DataLoader(x, y, 16, seed=8)))
    assert not np.array_equal(other_seed, epochs_a[0])
    assert a.epoch == 3


def test_resuming_at_an_epoch_gives_that_epochs_order():
    x, y = indexed(50)
    run_a = DataLoader(x, y, 8, seed=3)
    orders = [epoch_indices(run_a) for _ in range(4)]
    run_b = DataLoader(x, y, 8, seed=3)
    run_b.epoch = 2  # e.g. restored from a checkpoint
    for expected, got in zip(orders[2:], [epoch_indices(run_b) for _ in range(2)], strict=True):
        for e, g in zip(expected, got, strict=True):
            np.testing.assert_array_equal(e, g)


def test_an_abandoned_epoch_still_counts():
    """The order is fixed when iteration starts, so breaking out early does not shift later epochs."""
    x, y = indexed(40)
    full = DataLoader(x, y, 8, seed=1)
    [epoch_indices(full) for _ in range(2)]
    second = np.concatenate(epoch_indices(full))
    partial = DataLoader(x, y, 8, seed=1)
    next(iter(partial))
    iter(partial)  # started but never consumed
    np.testing.assert_array_equal(np.concatenate(epoch_indices(partial)), second)


def test_unseeded_order_follows_manual_seed():
    x, y = indexed(30)
    tinygrad_be.manual_seed(11)
    first = np.concatenate(epoch_indices(DataLoader(x, y, 7)))
    tinygrad_be.manual_seed(11)
    again = np.concatenate(epoch_indices(DataLoader(x, y, 7)))
    np.testing.assert_array_equal(first, again)


def test_transform_applies_to_each_x_batch():
    x = np.arange(12, dtype=np.uint8).reshape(6, 2)
    y = np.arange(6)
    loader = DataLoader(x, y, 4, shuffle=False, transform=lambda b: b.astype(np.float32) / 255)
    xb, yb = next(iter(loader))
    assert xb.dtype == np.float32 and xb.shape == (4, 2)
    np.testing.assert_allclose(xb, x[:4] / 255, rtol=1e-6)
    assert x.dtype == np.uint8  # the stored data is untouched


def test_bad_arguments_are_refused_with_both_shapes():
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(4,\)"):
        DataLoader(np.zeros((5, 3)), np.zeros(4), 2)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((5, 3)), np.zeros(5), 0)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((5, 3)), np.zeros(5), 2.5)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(np.zeros((5, 3)), np.zeros(5), 2, seed=-1)
    with pytest.raises(ValueError, match="first"):
        DataLoader(np.float32(1.0), np.zeros(5), 2)
