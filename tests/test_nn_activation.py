"""tinygrad_be.nn activations, Flatten/Unflatten and Dropout: torch's arguments, reprs and values,
and `inplace=True` with torch's rules. Expected values come from torch 2.13, pasted as literals.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import tinygrad_be
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, gradcheck, nn, no_grad

X = [[-1.0, 2.0, 0.5], [3.0, -0.25, -2.0]]


def leaf() -> Tensor:
    return Tensor(np.array(X), requires_grad=True)


# --------------------------------------------------------------------------------------------------
# Constructors and reprs as torch's
def test_reprs_and_arguments_are_torchs():
    # torch 2.13: repr of each module below
    assert repr(nn.ReLU(True)) == "ReLU(inplace=True)" and repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.LeakyReLU(0.2, True)) == "LeakyReLU(negative_slope=0.2, inplace=True)"
    assert repr(nn.Hardtanh(-2.0, 5.0, True)) == "Hardtanh(min_val=-2.0, max_val=5.0, inplace=True)"
    assert repr(nn.ReLU6()) == "ReLU6()"
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"
    assert repr(nn.Dropout(0.1, True)) == "Dropout(p=0.1, inplace=True)"
    assert (
        repr(nn.Softmax()) == "Softmax(dim=None)" and repr(nn.LogSoftmax(1)) == "LogSoftmax(dim=1)"
    )
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Unflatten(1, (2, 3))) == "Unflatten(dim=1, unflattened_size=(2, 3))"
    assert repr(nn.Identity(3, a=2)) == "Identity()"  # takes and ignores any arguments
    x = Tensor(np.ones(3))
    assert nn.Identity(54, unused="argument")(x) is x


def test_softmax_without_dim_warns_like_torch():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = nn.Softmax()(Tensor(np.ones((2, 3))))
    np.testing.assert_allclose(out.numpy().sum(1), [1.0, 1.0])  # torch: dim 1 for a 2-D input
    np.testing.assert_allclose(nn.Softmax(dim=0)(Tensor(np.ones((2, 3)))).numpy(), 0.5)


def test_flatten_and_unflatten_shapes_as_torch():
    # torch 2.13: Unflatten(1, (2, -1)) of (4, 6) -> (4, 2, 3); Flatten(0, 1) of (2, 3, 4) ->
    # (6, 4); Flatten(1, 2) of (2, 3, 4, 5) -> (2, 12, 5)
    assert nn.Unflatten(1, (2, -1))(Tensor(np.zeros((4, 6)))).shape == (4, 2, 3)
    assert nn.Flatten(0, 1)(Tensor(np.zeros((2, 3, 4)))).shape == (6, 4)
    assert nn.Flatten(1, 2)(Tensor(np.zeros((2, 3, 4, 5)))).shape == (2, 12, 5)
    with pytest.raises(
        RuntimeError, match=r"sizes \[4, 4\] don't multiply up to the size of dim 1"
    ):
        nn.Unflatten(1, (4, 4))(Tensor(np.zeros((2, 6))))
    x = Tensor(np.arange(12.0).reshape(2, 6), requires_grad=True)
    model = nn.Sequential(nn.Unflatten(1, (2, 3)), nn.Flatten())
    assert gradcheck(lambda t: model(t), x)


# --------------------------------------------------------------------------------------------------
# In place: the output is the input, the version counter moves, gradients are torch's
def test_relu_in_place_returns_its_input_and_routes_earlier_uses_around_it():
    x = leaf()
    a = x * 2
    y = a + 1  # uses a before the change, keeps no copy of it
    b = F.relu(a, inplace=True)
    assert b is a and a._version == 1
    (y * Tensor(np.arange(1.0, 7.0).reshape(2, 3)) + b * 10).sum().backward()
    # torch 2.13: value [[0, 4, 1], [6, 0, 0]], x.grad [[2, 24, 26], [28, 10, 12]]
    assert b.tolist() == [[0.0, 4.0, 1.0], [6.0, 0.0, 0.0]]
    assert not np.signbit(b.detach().numpy()).any()  # zeros, not -0.0
    assert x.grad.tolist() == [[2.0, 24.0, 26.0], [28.0, 10.0, 12.0]]


def test_in_place_leaky_relu_and_hardtanh_values_and_gradients_match_torch():
    x = leaf()
    b = F.leaky_relu(x * 1.0, 0.2, inplace=True)
    (b * b).sum().backward()
    np.testing.assert_allclose(b.detach().numpy(), [[-0.2, 2.0, 0.5], [3.0, -0.05, -0.4]])
    np.testing.assert_allclose(x.grad.numpy(), [[-0.08, 4.0, 1.0], [6.0, -0.02, -0.16]], rtol=1e-12)
    x = leaf()
    b = nn.Hardtanh(-2.0, 5.0, inplace=True)(x * 3.0)
    (b * Tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    assert b.tolist() == [[-2.0, 5.0, 1.5], [5.0, -0.75, -2.0]]
    assert x.grad.tolist() == [[0.0, 0.0, 6.0], [0.0, 12.0, 0.0]]
    x = leaf()
    b = nn.ReLU6()((x - 1.0) * 4)
    b.sum().backward()
    assert b.tolist() == [[0.0, 4.0, 0.0], [6.0, 0.0, 0.0]]
    assert x.grad.tolist() == [[0.0, 4.0, 0.0], [0.0, 0.0, 0.0]]  # 0 at the bound 6, as torch


def test_in_place_refusals_are_torchs():
    with pytest.raises(
        RuntimeError, match="a leaf Variable that requires grad is being used in an"
    ):
        F.relu(leaf(), inplace=True)
    s = leaf().sigmoid()
    F.relu_(s)  # sigmoid kept its output for backward: torch raises there, so do we
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*Sigmoid"):
        s.sum().backward()
    a = leaf() * 1.0
    kept = a * a  # Mul kept a
    F.relu_(a)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*Mul"):
        (kept.sum() + a.sum()).backward()
    with pytest.raises(TypeError, match="inplace=True needs a Tensor"):
        F.relu(np.zeros(3), inplace=True)


def test_in_place_outside_a_graph_just_writes():
    x = leaf()
    with no_grad():
        out = nn.ReLU(inplace=True)(x)
    assert out is x and x._version == 1 and x.tolist() == [[0.0, 2.0, 0.5], [3.0, 0.0, 0.0]]
    plain = Tensor(np.array([-1.0, 1.0]))
    array = plain.numpy()
    nn.LeakyReLU(0.5, inplace=True)(plain)
    assert array.tolist() == [-0.5, 1.0]  # the same memory


def test_dropout_in_place_scales_its_input_and_gradient():
    tinygrad_be.manual_seed(0)
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    a = x * 1.0
    out = nn.Dropout(0.25, inplace=True)(a)
    assert out is a
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())  # grad = the scaled mask
    assert set(np.unique(out.detach().numpy())) == {0.0, 1 / 0.75}
    assert nn.Dropout(0.25, inplace=True).eval()(a) is a  # eval: the identity
    y = F.dropout(Tensor(np.ones(10)), p=0.5, training=False)
    assert y.tolist() == [1.0] * 10


def test_a_network_with_in_place_relu_trains_like_the_plain_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    grads = []
    for inplace in (False, True):
        tinygrad_be.manual_seed(3)
        model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(inplace), nn.Linear(8, 3),
                              nn.LeakyReLU(0.1, inplace), nn.Linear(3, 2))  # fmt: skip
        F.cross_entropy(model(x), np.arange(16) % 2).backward()
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a, b)


@given(
    data=arrays(np.float64, (3, 4), elements=st.floats(-3, 3).filter(lambda v: abs(v) > 1e-3)),
    which=st.sampled_from(["relu", "leaky_relu", "hardtanh", "dropout"]),
)
def test_in_place_ops_gradients_match_finite_differences(data, which):
    # kinks kept away from the sample points (|x| > 1e-3; hardtanh's bounds at +-1 too)
    data = np.where(np.abs(np.abs(data) - 1) < 1e-3, data + 0.01, data)
    ops = {
        "relu": lambda t: F.relu(t, inplace=True),
        "leaky_relu": lambda t: F.leaky_relu(t, 0.3, inplace=True),
        "hardtanh": lambda t: F.hardtanh(t, inplace=True),
        "dropout": lambda t: F.dropout(t, 0.5, inplace=True, generator=np.random.default_rng(1)),
    }
    x = Tensor(data, requires_grad=True)
    # a node reused: the op's input also feeds the sum directly, and its output is used twice
    assert gradcheck(lambda t: (lambda a: a * a + a)(ops[which](t * 1.0)) + t, x)


def test_in_place_relu_after_conv_and_batch_norm_gives_the_plain_gradients():
    # the torchvision pattern: conv -> batch norm -> ReLU(inplace=True), and VGG's conv -> ReLU
    x = np.random.default_rng(0).normal(size=(2, 3, 6, 6)).astype(np.float32)
    grads = []
    for inplace in (False, True):
        tinygrad_be.manual_seed(1)
        model = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace),
            nn.Conv2d(4, 4, 3), nn.ReLU(inplace=inplace), nn.AvgPool2d(2), nn.ReLU(inplace),
            nn.Flatten(), nn.Linear(16, 2),
        )  # fmt: skip
        F.cross_entropy(model(x), np.array([0, 1])).backward()
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_in_place_nodes_print_torchs_names():
    # torch 2.13: ReluBackward0, LeakyReluBackward1, HardtanhBackward0, MulBackward0
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    names = [
        F.relu(x * 2, inplace=True).grad_fn.name(),
        F.leaky_relu(x * 2, 0.1, inplace=True).grad_fn.name(),
        F.hardtanh(x * 2, inplace=True).grad_fn.name(),
        F.dropout(x * 2, 0.5, inplace=True).grad_fn.name(),
    ]
    assert names == ["ReluBackward0", "LeakyReluBackward1", "HardtanhBackward0", "MulBackward0"]


@given(
    whole=arrays(np.int64, (2, 5), elements=st.integers(-8, 7)),
    part=arrays(np.float64, (2, 5), elements=st.floats(0.05, 0.95)),
    shift=arrays(np.int64, (5,), elements=st.integers(-2, 2)),
)
def test_hardtanh_and_relu6_gradients_match_finite_differences(whole, part, shift):
    # the kinks (-1, 1, 0, 6) are integers: values with a fractional part in [0.05, 0.95], and
    # whole shifts of them, stay away from where the gradient jumps
    data, bias = whole + part, shift.astype(np.float64)
    x = Tensor(data, requires_grad=True)
    b = Tensor(bias, requires_grad=True)  # broadcast over the rows
    assert gradcheck(lambda t, c: F.hardtanh(t) * F.hardtanh(t) + t, x, b)
    assert gradcheck(lambda t, c: F.relu6(t + c) + F.relu6(t), x, b)


def test_silu_matches_torch() -> None:
    x = Tensor(np.array([-2.0, 0.5, 3.0]), requires_grad=True)
    y = nn.SiLU()(x)
    y.sum().backward()
    # torch 2.13, float64
    np.testing.assert_allclose(y.detach().numpy(), [-0.2384058440442351, 0.3112296656009273, 2.8577223804672998], rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), [-0.09078424878489547, 0.7399611873026519, 1.0881041060151693], rtol=1e-12)
    assert repr(nn.SiLU()) == "SiLU()"
    assert gradcheck(lambda t: F.silu(t), Tensor(np.array([[0.3, -1.2], [2.0, -0.4]]), requires_grad=True))
