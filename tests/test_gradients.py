"""Every differentiable op's gradient against central finite differences (`tinygrad_be.gradcheck`).

Shapes (1-4 dims, sizes 1-5) and values are drawn by hypothesis, in float64. Every check weights
the output with a hypothesis-drawn `grad_output`: a plain `.sum()` hides mistakes (the sum of a
softmax is constant, so its gradient is zero whatever backward returns).

Inputs are kept where finite differences mean something: away from 0 for log, sqrt and division,
away from the kink of relu and from ties of max (whose tie rule is tested exactly, further down).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import tinygrad_be
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, gradcheck, no_grad

SHAPES = array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)


# --------------------------------------------------------------------------------------------------
# Strategies
def values(shape: tuple[int, ...], elements: st.SearchStrategy[float] | None = None):
    """A float64 array of `shape`, every element drawn on its own (default: in [-3, 3]).

    `fill=st.nothing()` stops hypothesis from filling most of the array with one repeated value.
    """
    elements = st.floats(-3.0, 3.0) if elements is None else elements
    return arrays(np.float64, shape, elements=elements, fill=st.nothing())


def magnitudes(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats with |x| in [low, high], either sign: away from a singular point or kink at 0."""
    return st.floats(low, high) | st.floats(-high, -low)


def distinct_values(shape: tuple[int, ...]):
    """Distinct values at least 2e-3 apart, so no finite-difference step (1e-6) crosses a tie."""
    return arrays(
        np.float64, shape, elements=st.integers(-1500, 1500).map(lambda k: k * 2e-3), unique=True
    )


@st.composite
def broadcastable_pair(draw: Any, min_dims: int = 1, max_dims: int = 4):
    """Two shapes that broadcast together: each drops some leading axes and shrinks some to 1.

    Either may lose every axis (a 0-d operand); the pair's broadcast shape has at most `max_dims`.
    """
    full = draw(array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=5))

    def operand() -> tuple[int, ...]:
        kept = full[draw(st.integers(0, len(full))) :]
        ones = draw(st.lists(st.booleans(), min_size=len(kept), max_size=len(kept)))
        return tuple(1 if one else n for n, one in zip(kept, ones, strict=True))

    return operand(), operand()


@st.composite
def axis_and_keepdims(draw: Any, ndim: int):
    """An `axis` argument (None, an int or a tuple, possibly negative) and a `keepdims` flag."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in chosen)
    return axis, draw(st.booleans())


def check(data: st.DataObject, fn: Callable[..., Tensor], *arrays: np.ndarray) -> None:
    """gradcheck `fn` at `arrays` (all made to require grad) with a drawn output weighting."""
    inputs = [Tensor(a, requires_grad=True) for a in arrays]
    assert all(x.dtype == np.float64 for x in inputs)
    with no_grad():
        out_shape = fn(*inputs).shape
    grad_output = data.draw(values(out_shape), label="grad_output")
    assert gradcheck(fn, *inputs, grad_output=grad_output)


# --------------------------------------------------------------------------------------------------
# Arithmetic
ARITHMETIC = [operator.add, operator.sub, operator.mul, operator.truediv]


@pytest.mark.parametrize("op", ARITHMETIC, ids=lambda op: op.__name__)
@given(data=st.data())
def test_binary_op_between_tensors_that_broadcast(op: Callable, data: st.DataObject) -> None:
    shape_a, shape_b = data.draw(broadcastable_pair(), label="shapes")
    a = data.draw(values(shape_a), label="a")
    b = data.draw(values(shape_b, magnitudes(0.5, 3.0) if op is operator.truediv else None))
    check(data, op, a, b)


@pytest.mark.parametrize(
    "scalar_first", [False, True], ids=["tensor_op_scalar", "scalar_op_tensor"]
)
@pytest.mark.parametrize("op", ARITHMETIC, ids=lambda op: op.__name__)
@given(data=st.data())
def test_binary_op_with_a_python_scalar(
    op: Callable, scalar_first: bool, data: st.DataObject
) -> None:
    scalar = data.draw(magnitudes(0.5, 3.0), label="scalar")
    divides_by_x = op is operator.truediv and scalar_first
    x = data.draw(values(data.draw(SHAPES), magnitudes(0.5, 3.0) if divides_by_x else None))
    if scalar_first:
        check(data, lambda x: op(scalar, x), x)
    else:
        check(data, lambda x: op(x, scalar), x)


@given(data=st.data())
def test_neg(data: st.DataObject) -> None:
    check(data, operator.neg, data.draw(values(data.draw(SHAPES))))


@given(data=st.data())
def test_pow_of_a_positive_base_with_any_exponent(data: st.DataObject) -> None:
    exponent = data.draw(st.floats(-3.0, 3.0), label="exponent")
    x = data.draw(values(data.draw(SHAPES), st.floats(0.5, 3.0)))
    check(data, lambda x: x**exponent, x)


@given(data=st.data())
def test_pow_of_a_signed_base_with_an_integer_exponent(data: st.DataObject) -> None:
    exponent = data.draw(st.integers(-3, 4), label="exponent")
    x = data.draw(values(data.draw(SHAPES), magnitudes(0.5, 2.0)))
    check(data, lambda x: x**exponent, x)


# --------------------------------------------------------------------------------------------------
# Matrix product
@given(data=st.data())
def test_matmul_2d(data: st.DataObject) -> None:
    m, k, n = (data.draw(st.integers(1, 5)) for _ in range(3))
    check(data, operator.matmul, data.draw(values((m, k))), data.draw(values((k, n))))


@given(data=st.data())
def test_matmul_batched_with_broadcast_batch_dims(data: st.DataObject) -> None:
    batch_a, batch_b = data.draw(broadcastable_pair(min_dims=1, max_dims=2), label="batch dims")
    m, k, n = (data.draw(st.integers(1, 5)) for _ in range(3))
    a = data.draw(values((*batch_a, m, k)), label="a")
    b = data.draw(values((*batch_b, k, n)), label="b")
    check(data, operator.matmul, a, b)


@given(data=st.data())
def test_matmul_with_1d_operands(data: st.DataObject) -> None:
    a_is_vector, b_is_vector = data.draw(
        st.sampled_from([(True, False), (False, True), (True, True)]), label="1-D a, 1-D b"
    )
    batch = data.draw(array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4), label="batch")
    m, k, n = (data.draw(st.integers(1, 5)) for _ in range(3))
    a = data.draw(values((k,) if a_is_vector else (*batch, m, k)), label="a")
    b = data.draw(values((k,) if b_is_vector else (*batch, k, n)), label="b")
    check(data, operator.matmul, a, b)


# --------------------------------------------------------------------------------------------------
# Shape
@given(data=st.data())
def test_T(data: st.DataObject) -> None:
    check(data, lambda x: x.T, data.draw(values(data.draw(SHAPES))))


@given(data=st.data())
def test_permute(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    ndim = len(shape)
    permutation = data.draw(st.permutations(range(ndim)), label="permutation")
    axes = [a - ndim if data.draw(st.booleans()) else a for a in permutation]  # some negative
    as_tuple = data.draw(st.booleans(), label="axes as one tuple")
    x = data.draw(values(shape))
    if as_tuple:
        check(data, lambda x: x.permute(tuple(axes)), x)
    else:
        check(data, lambda x: x.permute(*axes), x)


@given(data=st.data())
def test_transpose_of_two_dims(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    ndim = len(shape)
    dim0, dim1 = (data.draw(st.integers(-ndim, ndim - 1), label="dim") for _ in range(2))
    check(data, lambda x: x.transpose(dim0, dim1), data.draw(values(shape)))


@st.composite
def reshaped(draw: Any, shape: tuple[int, ...]):
    """A shape of the same size: the sides shuffled, neighbours merged, maybe a -1 or a new 1."""
    sides = draw(st.permutations(shape))
    target = [sides[0]]
    for side in sides[1:]:
        if draw(st.booleans()):
            target[-1] *= side
        else:
            target.append(side)
    if draw(st.booleans()):
        target.insert(draw(st.integers(0, len(target))), 1)
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


@given(data=st.data())
def test_reshape(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    target = data.draw(reshaped(shape), label="target shape")
    x = data.draw(values(shape))
    if data.draw(st.booleans(), label="shape as varargs"):
        check(data, lambda x: x.reshape(*target), x)
    else:
        check(data, lambda x: x.reshape(target), x)


# --------------------------------------------------------------------------------------------------
# Reductions
@pytest.mark.parametrize("name", ["sum", "mean"])
@given(data=st.data())
def test_sum_and_mean(name: str, data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    axis, keepdims = data.draw(axis_and_keepdims(len(shape)), label="axis, keepdims")
    x = data.draw(values(shape))
    check(data, lambda x: getattr(x, name)(axis=axis, keepdims=keepdims), x)


@given(data=st.data())
def test_max_without_ties(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    axis, keepdims = data.draw(axis_and_keepdims(len(shape)), label="axis, keepdims")
    x = data.draw(distinct_values(shape))
    check(data, lambda x: x.amax(axis=axis, keepdims=keepdims), x)


@given(data=st.data())
def test_amin_without_ties(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    dim, keepdim = data.draw(axis_and_keepdims(len(shape)), label="dim, keepdim")
    check(data, lambda x: x.amin(dim=dim, keepdim=keepdim), data.draw(distinct_values(shape)))


@pytest.mark.parametrize("name", ["max", "min"])
@given(data=st.data())
def test_max_and_min_along_a_dim_return_values_and_indices(name: str, data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    x = data.draw(distinct_values(shape))
    check(data, lambda x: getattr(x, name)(dim, keepdim=keepdim).values, x)


def test_max_shares_the_gradient_equally_among_tied_maxima() -> None:
    """Finite differences cannot see a tie (it is a kink), so the rule is checked exactly."""
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, 5.0, -1.0]])

    x = Tensor(data, requires_grad=True)
    x.amax(axis=1).backward(np.array([1.0, 6.0, 2.0]))
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [2, 2, 2], [0, 2, 0]])

    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 3.0, 3.0], [2.0, 0.0, -1.0]]), requires_grad=True)
    x.amax(dim=-2, keepdim=True).backward(np.array([[4.0, 1.0, 9.0]]))
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 4.5], [2, 0.5, 4.5], [2, 0, 0]])

    x = Tensor(np.array([[3.0, 1.0], [3.0, 3.0]]), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [[1 / 3, 0], [1 / 3, 1 / 3]])

    # Over several axes at once, and in float32: four tied maxima per slice, a quarter each.
    x = Tensor(np.ones((2, 2, 3), dtype=np.float32), requires_grad=True)
    x.amax(axis=(0, -2)).backward(np.array([4.0, 8.0, 12.0], dtype=np.float32))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, np.broadcast_to([1.0, 2.0, 3.0], (2, 2, 3)))


# --------------------------------------------------------------------------------------------------
# Elementwise functions (method and functional forms)
ELEMENTWISE = {
    "exp": (lambda x: x.exp(), st.floats(-3.0, 3.0)),
    "log": (lambda x: x.log(), st.floats(0.5, 3.0)),
    "sqrt": (lambda x: x.sqrt(), st.floats(0.5, 3.0)),
    "sigmoid": (lambda x: x.sigmoid(), st.floats(-8.0, 8.0)),
    "relu": (lambda x: x.relu(), magnitudes(0.01, 3.0)),  # away from the kink at 0
    "tanh": (lambda x: x.tanh(), st.floats(-3.0, 3.0)),
    "F.sigmoid": (F.sigmoid, st.floats(-8.0, 8.0)),
    "F.relu": (F.relu, magnitudes(0.01, 3.0)),
    "F.tanh": (F.tanh, st.floats(-3.0, 3.0)),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(data=st.data())
def test_elementwise(name: str, data: st.DataObject) -> None:
    fn, elements = ELEMENTWISE[name]
    check(data, fn, data.draw(values(data.draw(SHAPES), elements)))


SOFTMAXES = {
    "softmax": lambda x, axis: x.softmax(axis),
    "log_softmax": lambda x, axis: x.log_softmax(axis=axis),
    "F.softmax": F.softmax,
    "F.log_softmax": F.log_softmax,
}


@pytest.mark.parametrize("name", SOFTMAXES)
@given(data=st.data())
def test_softmax_and_log_softmax(name: str, data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = data.draw(values(shape, st.floats(-5.0, 5.0)))
    check(data, lambda x: SOFTMAXES[name](x, axis), x)


# --------------------------------------------------------------------------------------------------
# Indexing
@st.composite
def basic_index(draw: Any, shape: tuple[int, ...]):
    """Ints (possibly negative) and slices (any start/stop, steps of either sign), plus `...`."""
    parts: list[Any] = []
    for n in shape[: draw(st.integers(0, len(shape)))]:
        if draw(st.booleans()):
            parts.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.none() | st.integers(-n - 1, n + 1)
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            parts.append(slice(draw(bound), draw(bound), step))
    if len(parts) < len(shape) and draw(st.booleans()):
        parts.append(Ellipsis)
    return tuple(parts)


@st.composite
def integer_array(draw: Any, n: int, shape: tuple[int, ...] | None = None):
    """Indices into an axis of size n, possibly negative, with at least one repeated."""
    if shape is None:
        shape = draw(array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))
    index = draw(arrays(np.int64, shape, elements=st.integers(-n, n - 1), fill=st.nothing()))
    index.flat[-1] = index.flat[0] % n - n * draw(st.booleans())  # a repeat, maybe as negative
    return index


@given(data=st.data())
def test_index_basic(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    index = data.draw(basic_index(shape), label="index")
    check(data, lambda x: x[index], data.draw(values(shape)))


@given(data=st.data())
def test_index_integer_array_with_repeated_indices(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    index = data.draw(integer_array(shape[0]), label="index")
    as_list = data.draw(st.booleans(), label="index as a list")
    x = data.draw(values(shape))
    check(data, lambda x: x[index.tolist() if as_list else index], x)


@given(data=st.data())
def test_index_mixed_ints_slices_and_integer_arrays(data: st.DataObject) -> None:
    """Integer arrays on some axes (all of one shape, so they broadcast), ints or slices elsewhere."""
    shape = data.draw(SHAPES)
    array_shape = data.draw(array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=3))
    index: list[Any] = []
    for n in shape[: data.draw(st.integers(1, len(shape)))]:
        kind = data.draw(st.sampled_from(["array", "int", "slice"]))
        if kind == "array":
            index.append(data.draw(integer_array(n, array_shape)))
        elif kind == "int":
            index.append(data.draw(st.integers(-n, n - 1)))
        else:
            index.append(slice(data.draw(st.integers(0, n - 1)), None))
    if not any(isinstance(i, np.ndarray) for i in index):
        index[-1] = data.draw(integer_array(shape[len(index) - 1], array_shape))
    index_tuple = tuple(index)
    check(data, lambda x: x[index_tuple], data.draw(values(shape)))


@given(data=st.data())
def test_index_boolean_mask(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    mask = data.draw(arrays(np.bool_, shape, fill=st.nothing()), label="mask")
    check(data, lambda x: x[mask], data.draw(values(shape)))


# --------------------------------------------------------------------------------------------------
# Losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data())
def test_mse_loss(reduction: str, data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    pred, target = data.draw(values(shape), label="pred"), data.draw(values(shape), label="target")
    check(data, lambda p, t: F.mse_loss(p, t, reduction=reduction), pred, target)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data())
def test_cross_entropy_with_class_index_target(reduction: str, data: st.DataObject) -> None:
    n, c = data.draw(st.integers(1, 5), label="N"), data.draw(st.integers(1, 5), label="C")
    logits = data.draw(values((n, c), st.floats(-5.0, 5.0)), label="logits")
    labels = data.draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)), label="labels")
    check(data, lambda z: F.cross_entropy(z, labels, reduction=reduction), logits)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data())
def test_cross_entropy_with_probability_target(reduction: str, data: st.DataObject) -> None:
    """Gradients with respect to both the logits and the target (not normalised: the general case)."""
    n, c = data.draw(st.integers(1, 5), label="N"), data.draw(st.integers(1, 5), label="C")
    logits = data.draw(values((n, c), st.floats(-5.0, 5.0)), label="logits")
    target = data.draw(values((n, c), st.floats(0.0, 1.0)), label="target")
    check(data, lambda z, t: F.cross_entropy(z, t, reduction=reduction), logits, target)


# --------------------------------------------------------------------------------------------------
# Graphs
@given(data=st.data())
def test_node_reused_several_times(data: st.DataObject) -> None:
    """`y` feeds five ops (one of them twice): its gradient is the sum over all its uses."""
    shape = data.draw(SHAPES)

    def fn(x: Tensor) -> Tensor:
        y = x.tanh()
        return y * y + (y * x).exp() - y / (y * y + 1.0) + y.sum(axis=0, keepdims=True)

    check(data, fn, data.draw(values(shape, st.floats(-2.0, 2.0))))


@given(data=st.data())
def test_two_layer_network_with_cross_entropy(data: st.DataObject) -> None:
    """A whole MLP forward pass (matmul, broadcast bias, tanh, cross-entropy), every parameter."""
    n, d, h, c = (data.draw(st.integers(1, 5)) for _ in range(4))
    labels = data.draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)), label="labels")

    def fn(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
        return F.cross_entropy((x @ w1 + b1).tanh() @ w2 + b2, labels)

    shapes = [(n, d), (d, h), (h,), (h, c), (c,)]
    check(data, fn, *(data.draw(values(s, st.floats(-2.0, 2.0))) for s in shapes))


# --------------------------------------------------------------------------------------------------
# Ops added for torch parity (issue 13): each against finite differences, with broadcasting
@given(data=st.data())
def test_pow_with_a_tensor_exponent_that_broadcasts(data: st.DataObject) -> None:
    shape_a, shape_b = data.draw(broadcastable_pair(), label="shapes")
    base = data.draw(values(shape_a, st.floats(0.5, 3.0)), label="base")
    check(data, operator.pow, base, data.draw(values(shape_b), label="exponent"))


@given(data=st.data())
def test_rpow_of_a_number(data: st.DataObject) -> None:
    base = data.draw(st.floats(0.5, 3.0), label="base")
    check(data, lambda x: base**x, data.draw(values(data.draw(SHAPES))))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@given(data=st.data())
def test_maximum_and_minimum_that_broadcast(name: str, data: st.DataObject) -> None:
    shape_a, shape_b = data.draw(broadcastable_pair(), label="shapes")
    # Distinct grids, offset by 1e-3: no finite-difference step crosses a tie.
    a = data.draw(distinct_values(shape_a), label="a")
    b = data.draw(distinct_values(shape_b), label="b") + 1e-3
    check(data, getattr(tinygrad_be, name), a, b)


@given(data=st.data())
def test_where_that_broadcasts(data: st.DataObject) -> None:
    shape_a, shape_b = data.draw(broadcastable_pair(), label="shapes")
    condition = data.draw(arrays(np.bool_, shape_a, fill=st.nothing()), label="condition")
    a, b = data.draw(values(shape_a), label="x"), data.draw(values(shape_b), label="y")
    check(data, lambda x, y: tinygrad_be.where(condition, x, y), a, b)


@given(data=st.data())
def test_cat_and_stack(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    other = list(shape)
    other[dim] = data.draw(st.integers(1, 4), label="other size")
    a, b = data.draw(values(shape), label="a"), data.draw(values(tuple(other)), label="b")
    check(data, lambda a, b: tinygrad_be.cat([a, b], dim=dim), a, b)
    c = data.draw(values(shape), label="c")
    new_dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="stack dim")
    check(data, lambda a, c: tinygrad_be.stack([a, c, a], dim=new_dim), a, c)


ELEMENTWISE_NEW = {
    "abs": (lambda x: x.abs(), magnitudes(0.01, 3.0)),
    "log1p": (lambda x: x.log1p(), st.floats(-0.5, 3.0)),
    "clamp": (
        lambda x: x.clamp(-1.0, 1.5),
        st.floats(-3.0, -1.01) | st.floats(-0.99, 1.49) | st.floats(1.51, 3.0),
    ),  # fmt: skip
    "clamp_min": (lambda x: x.clip(min=0.5), st.floats(-3.0, 0.49) | st.floats(0.51, 3.0)),
    "gelu": (F.gelu, st.floats(-6.0, 6.0)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), st.floats(-6.0, 6.0)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), magnitudes(0.01, 3.0)),
}


@pytest.mark.parametrize("name", ELEMENTWISE_NEW)
@given(data=st.data())
def test_new_elementwise_ops(name: str, data: st.DataObject) -> None:
    fn, elements = ELEMENTWISE_NEW[name]
    check(data, fn, data.draw(values(data.draw(SHAPES), elements)))


@pytest.mark.parametrize("name", ["var", "std"])
@given(data=st.data())
def test_var_and_std(name: str, data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    dim, keepdim = data.draw(axis_and_keepdims(len(shape)), label="dim, keepdim")
    x = data.draw(distinct_values(shape))  # distinct: std is not differentiable at 0
    count = x.size if dim is None else int(np.prod([shape[d] for d in np.atleast_1d(dim)]))
    correction = data.draw(st.integers(0, max(count - 1, 0)), label="correction")
    if name == "std" and count == 1:
        return  # a single value: std = 0, not differentiable
    check(data, lambda x: getattr(x, name)(dim, keepdim=keepdim, correction=correction), x)


@given(data=st.data())
def test_shape_ops(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    ndim = len(shape)
    start = data.draw(st.integers(-ndim, ndim - 1), label="start")
    end = data.draw(st.integers(start % ndim, ndim - 1), label="end")
    expanded = tuple(data.draw(st.sampled_from([n, -1])) if n != 1 else data.draw(
        st.integers(1, 3)) for n in shape)  # fmt: skip
    lead = data.draw(st.integers(0, 2), label="new leading dims")
    where = data.draw(st.integers(-ndim - 1, ndim), label="unsqueeze at")

    def fn(x: Tensor) -> Tensor:
        y = x.unsqueeze(where).squeeze().view(-1).reshape(shape)
        return y.flatten(start, end).sum() + x.expand(*(2,) * lead, *expanded) * 0.5

    check(data, fn, data.draw(values(shape)))


@given(data=st.data())
def test_gather(data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    index_shape = tuple(
        data.draw(st.integers(1, 4)) if i == dim % len(shape) else data.draw(st.integers(1, n))
        for i, n in enumerate(shape)
    )
    n = shape[dim]
    index = data.draw(arrays(np.int64, index_shape, elements=st.integers(0, n - 1)), label="index")
    check(data, lambda x: x.gather(dim, index), data.draw(values(shape)))


# Losses added for torch parity
@st.composite
def logits_and_labels(draw: Any):
    n, c = draw(st.integers(1, 5), label="N"), draw(st.integers(1, 5), label="C")
    logits = draw(values((n, c), st.floats(-5.0, 5.0)), label="logits")
    labels = draw(arrays(np.int64, (n,), elements=st.integers(-1, c - 1)), label="labels")
    weight = draw(values((c,), st.floats(0.1, 2.0)), label="class weights")
    return logits, labels, weight


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data())
def test_cross_entropy_with_weight_ignore_index_and_smoothing(reduction: str, data) -> None:
    logits, labels, weight = data.draw(logits_and_labels())
    labels[0] = max(labels[0], 0)  # at least one row counts (an all-ignored mean is NaN, as torch)
    smoothing = data.draw(st.sampled_from([0.0, 0.1, 0.5]), label="label_smoothing")
    use_weight = data.draw(st.booleans(), label="weight")
    check(
        data,
        lambda z: F.cross_entropy(
            z,
            labels,
            weight=weight if use_weight else None,
            ignore_index=-1,
            reduction=reduction,
            label_smoothing=smoothing,
        ),  # fmt: skip
        logits,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data())
def test_nll_loss_with_weight_and_ignore_index(reduction: str, data: st.DataObject) -> None:
    logits, labels, weight = data.draw(logits_and_labels())
    labels[0] = max(labels[0], 0)
    check(data, lambda z: F.nll_loss(z, labels, weight, ignore_index=-1, reduction=reduction), logits)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data())
def test_binary_cross_entropy_in_both_inputs(reduction: str, data: st.DataObject) -> None:
    shape = data.draw(SHAPES)
    p = data.draw(values(shape, st.floats(0.05, 0.95)), label="p")
    t = data.draw(values(shape, st.floats(0.0, 1.0)), label="t")
    weight = data.draw(values(shape[-1:], st.floats(0.1, 2.0)), label="weight")
    check(data, lambda p, t: F.binary_cross_entropy(p, t, weight, reduction=reduction), p, t)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data())
def test_binary_cross_entropy_with_logits_in_both_inputs(reduction: str, data) -> None:
    shape = data.draw(SHAPES)
    x = data.draw(values(shape, st.floats(-8.0, 8.0)), label="logits")
    t = data.draw(values(shape, st.floats(0.0, 1.0)), label="t")
    pos_weight = data.draw(values(shape[-1:], st.floats(0.1, 3.0)), label="pos_weight")
    check(
        data,
        lambda x, t: F.binary_cross_entropy_with_logits(
            x, t, reduction=reduction, pos_weight=pos_weight
        ),  # fmt: skip
        x,
        t,
    )


@given(data=st.data())
def test_layer_norm_and_embedding(data: st.DataObject) -> None:
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=5))
    k = data.draw(st.integers(1, len(shape)), label="normalized dims")
    normalized = shape[-k:]
    x = data.draw(distinct_values(shape), label="x")
    w, b = (
        data.draw(values(normalized), label="weight"),
        data.draw(values(normalized), label="bias"),
    )
    check(data, lambda x, w, b: F.layer_norm(x, normalized, w, b), x, w, b)
    table = data.draw(values((5, 3)), label="table")
    indices = data.draw(integer_array(5), label="indices")
    check(data, lambda t: F.embedding(indices, t), table)


@given(data=st.data())
def test_a_node_reused_by_the_new_ops(data: st.DataObject) -> None:
    """`y` feeds several of the new ops; its gradient is the sum over all its uses."""
    shape = data.draw(SHAPES)

    def fn(x: Tensor) -> Tensor:
        y = x.tanh()
        joined = tinygrad_be.cat([y, y.abs().log1p(), F.gelu(y)], dim=0)
        return (
            joined.sum(dim=0) * tinygrad_be.where(y > 0, y, 2.0**y)
            + y.var(correction=0)
            + F.leaky_relu(y)
        )

    check(data, fn, data.draw(values(shape, magnitudes(0.05, 2.0))))


# --------------------------------------------------------------------------------------------------
# torch's names: sin, cos, clone, item assignment (recorded in the graph)
TORCH_ELEMENTWISE = {
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "clone": lambda x: x.clone(),
    "tinygrad_be.sin": lambda x: tinygrad_be.sin(x),
    "square": lambda x: x.square(),
}


@pytest.mark.parametrize("name", TORCH_ELEMENTWISE)
@given(data=st.data())
def test_torch_named_elementwise(name: str, data: st.DataObject) -> None:
    check(data, TORCH_ELEMENTWISE[name], data.draw(values(data.draw(SHAPES))))


@given(data=st.data())
def test_item_assignment_of_a_broadcast_value(data: st.DataObject) -> None:
    """`y[index] = value` with a value broadcast into the slice: both y's earlier graph (the
    elements not overwritten) and the value get their gradients."""
    shape = data.draw(array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=4))
    row = data.draw(st.integers(0, shape[0] - 1), label="row")
    value_shape = data.draw(st.sampled_from([(), (shape[-1],), (1,) * (len(shape) - 1)]), label="value")

    def fn(x: Tensor, v: Tensor) -> Tensor:
        y = x.sin() * 2
        y[row] = v.exp()
        return y * y

    check(data, fn, data.draw(values(shape)), data.draw(values(value_shape)))


@given(data=st.data())
def test_a_node_reused_across_an_item_assignment(data: st.DataObject) -> None:
    """`y` is used before and after `y[0] = ...`: the earlier uses see y as it was."""
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))

    def fn(x: Tensor) -> Tensor:
        y = x.cos() + x
        before = y.sum() + y.reshape(-1)[0]  # ops that saved nothing of y
        y[0] = x[0].sin() * y[1]
        return before + (y * x).sum() + y.clone().sum()

    check(data, fn, data.draw(values(shape)))
