"""tinygrad_be.functional: values and properties of the losses and activations (gradients are in
test_gradients.py), their stability at extreme inputs, and their errors."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor

REDUCTIONS = ["mean", "sum", "none"]


@contextmanager
def no_overflow() -> Iterator[None]:
    """Turn every numpy floating-point warning that signals a wrong result into an error.

    Underflow stays allowed: exp(-2e4) rounding to 0 is the correct answer, not a fault.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            yield


@st.composite
def logits_and_labels(draw: object, low: float = -10.0, high: float = 10.0):
    """Logits (N, C) in float64 and class indices (N,), N and C in 1..5."""
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 5))  # type: ignore[operator]
    logits = draw(arrays(np.float64, (n, c), elements=st.floats(low, high), fill=st.nothing()))  # type: ignore[operator]
    labels = draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)))  # type: ignore[operator]
    return logits, labels


def reference_log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------------------------------
# softmax and log_softmax
@given(data=st.data())
def test_softmax_is_a_distribution_along_its_axis(data: st.DataObject) -> None:
    shape = data.draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = data.draw(arrays(np.float64, shape, elements=st.floats(-50, 50), fill=st.nothing()))
    p = F.softmax(Tensor(x), axis=axis).data
    assert p.shape == shape
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-12)
    # log_softmax is its logarithm (computed without forming p, so it also holds where p underflows)
    np.testing.assert_allclose(
        F.log_softmax(Tensor(x), axis=axis).data, reference_log_softmax(x, axis)
    )
    np.testing.assert_allclose(np.exp(F.log_softmax(Tensor(x), axis).data), p, atol=1e-15)


def test_softmax_without_dim_warns_and_picks_torchs_legacy_dim() -> None:
    # torch: no dim -> dim 0 for 0-, 1- and 3-D inputs, else 1, with a deprecation warning
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        p = F.softmax(Tensor(x))
    np.testing.assert_allclose(p.data.sum(axis=1), [1.0, 1.0])
    np.testing.assert_allclose(p.data[1], [1 / 3] * 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        assert np.allclose(np.exp(F.log_softmax(Tensor(np.zeros((2, 3, 4))))).sum(axis=0), 1)
    np.testing.assert_allclose(Tensor(x).softmax(-1).data, F.softmax(x, dim=1).data)  # arrays too
    assert F.softmax(x, dim=1, dtype=np.float32).dtype == np.float32  # torch's dtype=: cast first


def test_softmax_keeps_float32() -> None:
    x = Tensor(np.array([[1.0, 2.0]], dtype=np.float32))
    assert F.softmax(x, 1).dtype == np.float32 and F.log_softmax(x, 1).dtype == np.float32


# --------------------------------------------------------------------------------------------------
# cross_entropy
@given(logits_and_labels())
def test_cross_entropy_equals_the_mean_negative_log_softmax_of_the_labels(
    case: tuple[np.ndarray, np.ndarray],
) -> None:
    logits, labels = case
    n = len(labels)
    expected = -(F.log_softmax(Tensor(logits), dim=1).data[range(n), labels]).mean()
    np.testing.assert_allclose(F.cross_entropy(Tensor(logits), labels).item(), expected, rtol=1e-12)
    # The same through Tensor ops (the composed, unfused form):
    composed = -(F.log_softmax(Tensor(logits), dim=1)[np.arange(n), labels]).mean()
    np.testing.assert_allclose(F.cross_entropy(logits, labels).item(), composed.item(), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=logits_and_labels(), data=st.data())
def test_cross_entropy_index_and_probability_targets_agree_with_the_reference(
    reduction: str, case: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    logits, labels = case
    n, c = logits.shape
    per_row = -reference_log_softmax(logits)[np.arange(n), labels]
    expected = {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]

    by_index = F.cross_entropy(Tensor(logits), labels, reduction=reduction)
    assert by_index.shape == np.shape(expected)
    np.testing.assert_allclose(by_index.data, expected, rtol=1e-12)

    # A one-hot probability target is the same loss, with the same gradient softmax - onehot.
    logits_a, logits_b = Tensor(logits, requires_grad=True), Tensor(logits, requires_grad=True)
    weights = data.draw(arrays(np.float64, np.shape(expected), elements=st.floats(-2, 2)))
    F.cross_entropy(logits_a, labels, reduction=reduction).backward(weights)
    by_probs = F.cross_entropy(
        logits_b, F.one_hot(labels, c, dtype=np.float64), reduction=reduction
    )
    np.testing.assert_allclose(by_probs.data, expected, rtol=1e-12)
    by_probs.backward(weights)
    np.testing.assert_allclose(logits_a.grad, logits_b.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=logits_and_labels(), data=st.data())
def test_cross_entropy_with_soft_targets(
    reduction: str, case: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    logits, _ = case
    raw = data.draw(arrays(np.float64, logits.shape, elements=st.floats(0.01, 1.0)))
    target = raw / raw.sum(axis=1, keepdims=True)
    per_row = -(target * reference_log_softmax(logits)).sum(axis=1)
    expected = {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]
    np.testing.assert_allclose(
        F.cross_entropy(Tensor(logits), target, reduction=reduction).data, expected, rtol=1e-12
    )


def test_cross_entropy_keeps_float32_and_casts_array_targets() -> None:
    logits = Tensor(np.array([[1.0, 2.0, 0.5]], dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([[0.2, 0.3, 0.5]]))  # a float64 target array
    assert loss.dtype == np.float32
    loss.backward()
    assert logits.grad.dtype == np.float32


def test_cross_entropy_refuses_bad_input() -> None:
    logits = Tensor(np.zeros((4, 3)))
    # (N, C, d1) logits take (N, d1) targets, as torch
    with pytest.raises(
        ValueError, match=re.escape("target must have shape (4, 1) for input (4, 3, 1)")
    ):
        F.cross_entropy(Tensor(np.zeros((4, 3, 1))), np.zeros(4, dtype=np.int64))
    with pytest.raises(
        ValueError, match=re.escape("must have shape (4,)") + ".*" + re.escape("(4, 1)")
    ):
        F.cross_entropy(logits, np.zeros((4, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=re.escape("[0, 3)")):
        F.cross_entropy(logits, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=re.escape("[0, 3)")):
        F.cross_entropy(logits, np.array([0, -1, 2, 1]))
    with pytest.raises(ValueError, match=re.escape("logits' shape (4, 3), got (4, 2)")):
        F.cross_entropy(logits, np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(logits, np.zeros(4, dtype=np.int64), reduction="avg")


# --------------------------------------------------------------------------------------------------
# mse_loss
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_values(reduction: str) -> None:
    pred = np.array([[1.0, 2.0], [3.0, -1.0]], dtype=np.float32)
    target = np.array([[0.0, 2.0], [1.0, 1.0]], dtype=np.float32)
    squared = (pred - target) ** 2
    expected = {"mean": squared.mean(), "sum": squared.sum(), "none": squared}[reduction]
    for tgt in (target, Tensor(target), target.tolist()):
        loss = F.mse_loss(Tensor(pred), tgt, reduction=reduction)
        assert loss.dtype == np.float32
        np.testing.assert_allclose(loss.data, expected)


def test_mse_loss_refuses_differing_shapes() -> None:
    """(N, 1) against (N,) would broadcast to (N, N): a silent, classic bug."""
    pred = Tensor(np.zeros((5, 1)), requires_grad=True)
    with pytest.raises(
        ValueError, match=re.escape("input shape (5, 1) and target shape (5,) differ")
    ):
        F.mse_loss(pred, np.zeros(5))
    with pytest.raises(ValueError, match=re.escape("(5, 1)") + ".*" + re.escape("(1, 5)")):
        F.mse_loss(pred, Tensor(np.zeros((1, 5))))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(pred, np.zeros((5, 1)), reduction="batchmean")


# --------------------------------------------------------------------------------------------------
# Stability at extreme inputs: finite results, exact limits, no floating-point warning
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_and_exact_at_the_limits(dtype: type) -> None:
    x = Tensor(np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=dtype), requires_grad=True)
    with no_overflow():
        y = F.sigmoid(x)
        y.sum().backward()
    assert y.dtype == dtype
    assert y.data[0] == 0.0 and y.data[-1] == 1.0 and y.data[2] == 0.5
    assert np.isfinite(x.grad).all() and x.grad[0] == 0.0 and x.grad[-1] == 0.0
    assert x.grad[2] == 0.25


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_are_stable_at_1e4(dtype: type) -> None:
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    x = Tensor(logits, requires_grad=True)
    weights = np.arange(9, dtype=dtype).reshape(3, 3)
    with no_overflow():
        p = F.softmax(x, dim=1)
        log_p = F.log_softmax(x, dim=1)
        p.backward(weights)
        log_p.backward(weights)
    assert p.dtype == log_p.dtype == dtype
    np.testing.assert_allclose(p.data, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]], rtol=1e-6)
    expected_log_p = [[0, -1e4, -2e4], [-np.log(3)] * 3, [-np.log(2), -np.log(2), -2e4 - np.log(2)]]
    np.testing.assert_allclose(log_p.data, expected_log_p, rtol=1e-6)
    assert np.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_is_stable_at_1e4(dtype: type, reduction: str) -> None:
    logits = np.array([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    labels = np.array([0, 2, 1])
    per_row = np.array([0.0, 2e4, np.log(3)])
    for target in (labels, F.one_hot(labels, 3, dtype=dtype)):
        x = Tensor(logits, requires_grad=True)
        with no_overflow():
            loss = F.cross_entropy(x, target, reduction=reduction)
            loss.backward(np.ones(loss.shape, dtype=dtype))
        expected = {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]
        np.testing.assert_allclose(loss.data, expected, rtol=1e-6)
        assert loss.dtype == dtype and np.isfinite(x.grad).all()
        scale = 1 / 3 if reduction == "mean" else 1.0
        softmax_minus_onehot = [[0, 0, 0], [1, 0, -1], [1 / 3, -2 / 3, 1 / 3]]
        np.testing.assert_allclose(x.grad, np.multiply(softmax_minus_onehot, scale), atol=1e-6)


# --------------------------------------------------------------------------------------------------
# Activations
def test_relu_tanh_sigmoid_values() -> None:
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(F.relu(Tensor(x)).data, np.maximum(x, 0))
    np.testing.assert_allclose(F.tanh(Tensor(x)).data, np.tanh(x))
    np.testing.assert_allclose(F.sigmoid(Tensor(x)).data, 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_array_equal(F.relu(x.tolist()).data, np.maximum(x, 0))  # lists accepted


def test_relu_gradient_at_zero_is_zero() -> None:
    """The subgradient convention of torch: relu'(0) = 0."""
    x = Tensor(np.array([-1.0, 0.0, 1.0]), requires_grad=True)
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


# --------------------------------------------------------------------------------------------------
# one_hot
def test_one_hot() -> None:
    encoded = F.one_hot(np.array([2, 0, 1, 2]))
    assert encoded.dtype == np.float32 and not encoded.requires_grad
    np.testing.assert_array_equal(encoded.data, np.eye(3)[[2, 0, 1, 2]])
    np.testing.assert_array_equal(
        F.one_hot([1, 0], num_classes=4).data, [[0, 1, 0, 0], [1, 0, 0, 0]]
    )
    np.testing.assert_array_equal(F.one_hot(Tensor(np.array([1]))).data, [[0, 1]])
    assert F.one_hot(np.array([0, 1]), dtype=np.float64).dtype == np.float64
    assert F.one_hot(np.zeros(0, dtype=np.int64), num_classes=3).shape == (0, 3)


@given(st.lists(st.integers(0, 9), min_size=1, max_size=20), st.integers(0, 5))
def test_one_hot_rows_pick_their_label(labels: list[int], extra_classes: int) -> None:
    num_classes = max(labels) + 1 + extra_classes
    encoded = F.one_hot(np.array(labels), num_classes).data
    assert encoded.shape == (len(labels), num_classes)
    np.testing.assert_array_equal(encoded.sum(axis=1), 1.0)
    np.testing.assert_array_equal(encoded.argmax(axis=1), labels)


def test_one_hot_refuses_bad_labels() -> None:
    with pytest.raises(ValueError, match="label 3 does not fit num_classes=3"):
        F.one_hot(np.array([0, 3]), num_classes=3)
    with pytest.raises(ValueError, match="must be >= 0"):
        F.one_hot(np.array([0, -1]))
    with pytest.raises(ValueError, match="1-D integer array"):
        F.one_hot(np.array([[0, 1]]))
    with pytest.raises(ValueError, match="1-D integer array"):
        F.one_hot(np.array([0.0, 1.0]))
