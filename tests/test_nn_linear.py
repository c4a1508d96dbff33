"""nn.Linear in torch's layout and F.linear (one op, x @ weight.T + bias): values and gradients
from torch 2.13, finite-difference checks, and checkpoints from before the layout change."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import tinygrad_be
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, gradcheck, nn


def test_f_linear_matches_torch_on_batched_input():
    x = Tensor(np.array([[[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]]), requires_grad=True)
    w = Tensor(np.array([[0.2, -0.4, 1.0], [0.7, 0.1, -0.3]]), requires_grad=True)
    b = Tensor(np.array([0.05, -0.5]), requires_grad=True)
    y = F.linear(x, w, b)
    (y * Tensor(np.array([[[1.0, -2.0], [3.0, 0.5]]]))).sum().backward()
    # torch 2.13: F.linear and the gradients of sum(y * weights)
    np.testing.assert_allclose(y.detach().numpy(), [[[2.55, -0.85], [-0.5, 0.8]]], rtol=1e-12)
    np.testing.assert_allclose(
        x.grad.numpy(), [[[-1.2, -0.6, 1.6], [0.95, -1.15, 2.85]]], rtol=1e-12
    )
    np.testing.assert_allclose(
        w.grad.numpy(), [[5.0, -0.25, -0.25], [-0.25, 2.125, -4.375]], rtol=1e-12
    )
    np.testing.assert_allclose(b.grad.numpy(), [4.0, -1.5], rtol=1e-12)
    assert type(y.grad_fn).__name__ == "Addmm"  # one op (torch's name), not a matmul and an add
    assert F.linear(x, w).shape == (1, 2, 2)


def test_linear_uses_torchs_layout_and_keeps_float32():
    layer = nn.Linear(3, 2)
    assert layer.weight.shape == (2, 3) and layer.weight[:, 0].shape == (2,)  # torch: (2, 3), (2,)
    assert isinstance(layer.weight, nn.Parameter) and isinstance(layer.bias, nn.Parameter)
    out = layer(np.ones((4, 3), np.float32))
    assert out.dtype == np.float32
    expected = np.ones((4, 3)) @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-6)
    assert nn.Linear(3, 2, dtype=tinygrad_be.float64, device="cpu").weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="cuda"):
        nn.Linear(3, 2, device="cuda")


def test_f_linear_refuses_bad_shapes_and_mixed_dtypes():
    w = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"linear: input shape \(4, 2\) and weight shape \(2, 3\)"):
        F.linear(Tensor(np.zeros((4, 2))), w)
    with pytest.raises(ValueError, match=r"bias shape \(3,\) must be \(2,\)"):
        F.linear(Tensor(np.zeros((4, 3))), w, Tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="float32, weight dtype float64"):
        F.linear(Tensor(np.zeros((4, 3), np.float32)), w)


@given(
    data=st.data(),
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 4),
    bias=st.booleans(),
)
def test_f_linear_gradients_match_finite_differences(data, lead, n_in, n_out, bias):
    def values(shape):
        return data.draw(arrays(np.float64, tuple(shape), elements=st.floats(-2, 2)))

    x = Tensor(values([*lead, n_in]), requires_grad=True)
    w = Tensor(values([n_out, n_in]), requires_grad=True)
    inputs = [x, w] + ([Tensor(values([n_out]), requires_grad=True)] if bias else [])
    assert gradcheck(lambda *t: F.linear(*t), *inputs)
    # a node reused: x feeds the layer twice, once through itself
    assert gradcheck(lambda x, w, *b: F.linear(F.linear(x, w, *b).sum() * x, w, *b), *inputs)


# --------------------------------------------------------------------------------------------------
# Checkpoints written before the layout change (no format marker): weights were (in, out)
def old_checkpoint(path, state):
    """What tinygrad_be wrote before: np.savez of the arrays, no format marker."""
    np.savez(path, **{k: np.asarray(v) for k, v in state.items()})


def test_old_checkpoints_load_with_their_linear_weights_transposed(tmp_path):
    tinygrad_be.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))  # a square layer too
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    expected = model(x).detach().numpy()
    old = {k: v.numpy() for k, v in model.state_dict().items()}
    old = {k: (v.T.copy() if k.endswith("weight") else v) for k, v in old.items()}  # (in, out)
    old_checkpoint(tmp_path / "old.npz", old)
    state = tinygrad_be.load(tmp_path / "old.npz")
    assert isinstance(state, nn.checkpoint.OldFormatState)
    fresh = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), expected)
    # saved again, it carries the marker and loads as it is
    fresh.save(tmp_path / "new.npz")
    assert type(tinygrad_be.load(tmp_path / "new.npz")) is dict
    np.testing.assert_array_equal(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
                                  .load(tmp_path / "new.npz")(x).detach().numpy(), expected)  # fmt: skip


def test_layout_mistakes_are_explained(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(ValueError, match=r"looks like the old \(in, out\) layout: transpose"):
        model.load_state_dict(
            {"0.weight": np.zeros((4, 3), np.float32), "0.bias": np.zeros(3, np.float32)}
        )
    old_checkpoint(tmp_path / "torch_layout.npz",
                   {"0.weight": np.zeros((3, 4), np.float32), "0.bias": np.zeros(3, np.float32)})  # fmt: skip
    state = tinygrad_be.load(tmp_path / "torch_layout.npz")
    with pytest.raises(ValueError, match=r"old-format checkpoint.*pass dict\(state\)"):
        model.load_state_dict(state)
    model.load_state_dict(dict(state))  # taken as torch's layout


def test_old_optimizer_state_for_matrices_is_refused(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    optimizer = tinygrad_be.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(np.ones((1, 2), np.float32)).sum().backward()
    optimizer.step()
    state = nn.checkpoint.OldFormatState(optimizer.state_dict())  # as load() marks an old file
    with pytest.raises(ValueError, match=r"old layout.*fresh optimizer"):
        optimizer.load_state_dict(state)
    optimizer.load_state_dict(optimizer.state_dict())  # a current state loads
