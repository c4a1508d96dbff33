"""tinygrad_be.nn: modules, their gradients, state dicts and checkpoints (files and their failures).

Gradients of Linear and of a small Sequential are checked against finite differences in float64
with hypothesis-drawn shapes and values. The checkpoint tests cover the failure modes a training
run meets: a bad state dict (the model must stay unchanged), a save that dies half way (the old
checkpoint must survive), and hostile files (object arrays, pickles: refused, never run).
"""

from __future__ import annotations

import io
import os
import pickle
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import tinygrad_be
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, gradcheck, nn, no_grad, optim
from tinygrad_be.utils.data import DataLoader, TensorDataset

SIZES = st.integers(1, 5)


def values(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """A float64 array of `shape` with every element drawn on its own, in [-2, 2]."""
    return arrays(np.float64, shape, elements=st.floats(-2.0, 2.0), fill=st.nothing())


def snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: t.detach().clone() for name, t in model.named_parameters()}


def assert_unchanged(model: nn.Module, before: dict[str, np.ndarray]) -> None:
    after = snapshot(model)
    assert list(after) == list(before)
    for name in before:
        assert after[name].dtype == before[name].dtype
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def mlp(seed: int = 0, hidden: int = 8) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(4, hidden, rng=rng), nn.ReLU(), nn.Linear(hidden, 3, rng=rng))


# --------------------------------------------------------------------------------------------------
# Gradients (float64, finite differences)
@given(data=st.data(), n=SIZES, n_in=SIZES, n_out=SIZES, bias=st.booleans())
def test_linear_gradients_match_finite_differences(data, n, n_in, n_out, bias):
    layer = nn.Linear(n_in, n_out, bias=bias, dtype=np.float64)
    layer.weight.data = data.draw(values((n_out, n_in)), label="weight")  # torch's (out, in)
    if bias:
        layer.bias.data = data.draw(values((n_out,)), label="bias")
    x = Tensor(data.draw(values((n, n_in)), label="x"), requires_grad=True)
    weighting = data.draw(values((n, n_out)), label="grad_output")

    w = layer.weight.detach().numpy()
    expected = x.detach().numpy() @ w.T + (layer.bias.detach().numpy() if bias else 0.0)
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    inputs = [x, layer.weight] + ([layer.bias] if bias else [])
    assert gradcheck(lambda x, *params: layer(x), *inputs, grad_output=weighting)


@given(data=st.data(), n=SIZES, n_in=SIZES, hidden=SIZES, n_out=st.integers(2, 5))
def test_sequential_gradients_match_finite_differences(data, n, n_in, hidden, n_out):
    seed = data.draw(st.integers(0, 2**32 - 1), label="init seed")
    rng = np.random.default_rng(seed)
    model = nn.Sequential(
        nn.Linear(n_in, hidden, rng=rng), nn.Tanh(), nn.Linear(hidden, n_out, rng=rng), nn.Sigmoid()
    ).astype(np.float64)
    x = Tensor(data.draw(values((n, n_in)), label="x"), requires_grad=True)
    weighting = data.draw(values((n, n_out)), label="grad_output")
    assert gradcheck(lambda x, *params: model(x), x, *model.parameters(), grad_output=weighting)

    # The same model under a softmax cross-entropy loss, gradients with respect to every weight.
    labels = data.draw(arrays(np.int64, (n,), elements=st.integers(0, n_out - 1)), label="labels")
    head = model[:3]
    assert gradcheck(lambda *params: F.cross_entropy(head(x), labels), *head.parameters())


def test_dropout_gradient_is_the_mask_it_applied():
    drop = nn.Dropout(0.5, rng=np.random.default_rng(0))
    x = Tensor(np.ones((50, 40)), requires_grad=True)
    y = drop(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # the output of ones IS the scaled mask
    assert set(np.unique(y.data)) == {0.0, 2.0}


# --------------------------------------------------------------------------------------------------
# Module: finding parameters, modes, dtype, repr
class Block(nn.Module):
    def __init__(self, shared: nn.Linear) -> None:  # no super().__init__(): allowed
        self.scale = nn.Parameter(np.ones(3, np.float32))
        self.layers = [shared, nn.Linear(3, 3, rng=np.random.default_rng(1))]
        self.heads = {"a": nn.Linear(3, 2, rng=np.random.default_rng(2)), "b": shared}
        self.constant = 7  # not a Tensor or Module: ignored

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).relu()
        return self.heads["a"](x * self.scale)


def test_parameters_are_found_in_attributes_lists_and_dicts_each_once_in_stable_order():
    shared = nn.Linear(3, 3, rng=np.random.default_rng(0))
    model = Block(shared)
    names = [name for name, _ in model.named_parameters()]
    assert names == [
        "scale",  # a module's own Tensors first, then its sub-modules', in attribute order
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
        "heads.a.weight",
        "heads.a.bias",
    ]  # the shared Linear appears once, under its first name
    assert [n for n, _ in model.named_parameters()] == names  # stable
    params = model.parameters()
    assert len({id(p) for p in params}) == len(params) == 7
    assert params[1] is shared.weight
    assert list(model.state_dict()) == names
    assert model.num_parameters() == 3 + 12 + 12 + 8


def test_a_tensor_tied_between_two_modules_is_one_parameter():
    encoder, decoder = nn.Linear(4, 4), nn.Linear(4, 4)
    decoder.weight = encoder.weight  # weight tying: one Tensor, two modules
    model = nn.Sequential(encoder, nn.Tanh(), decoder)
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.bias"]  # listed once, under its first name
    assert len(model.parameters()) == 3 and model.num_parameters() == 16 + 4 + 4
    state = model.state_dict()
    # torch 2.13 lists a tied weight under both names in the state dict
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert state["2.weight"].numpy() is state["0.weight"].numpy()  # one memory
    model.load_state_dict(state)  # and the state loads back


def test_named_modules_and_children():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Tanh(), nn.Linear(3, 1)))
    assert [name for name, _ in model.named_modules()] == ["", "0", "1", "1.0", "1.1"]
    assert [name for name, _ in model.named_children()] == ["0", "1"]
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight",
        "0.bias",
        "1.1.weight",
        "1.1.bias",
    ]


def test_a_module_referring_to_itself_does_not_loop():
    model = mlp()
    model[0].owner = model  # a back-reference: visited once
    assert len(list(model.modules())) == 4
    assert len(model.parameters()) == 4


def test_train_and_eval_reach_every_submodule_and_dropout_obeys():
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.Dropout(0.5)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    x = np.ones((8, 4), np.float32)
    np.testing.assert_array_equal(model[1](x), x)  # identity in eval
    model.train()
    assert all(m.training for m in model.modules())


def test_dropout_is_inverted_and_seeded_by_manual_seed():
    x = np.ones((400, 250), np.float32)
    drop = nn.Dropout(0.3)
    tinygrad_be.manual_seed(5)
    a = drop(x).data
    tinygrad_be.manual_seed(5)
    b = drop(x).data
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    kept = a != 0
    assert abs(kept.mean() - 0.7) < 0.01  # 100,000 draws: 4 standard deviations is 0.006
    np.testing.assert_allclose(a[kept], 1 / 0.7, rtol=1e-6)  # the survivors are scaled up
    assert abs(a.mean() - 1.0) < 0.02  # so the expected output is the input
    np.testing.assert_array_equal(nn.Dropout(0.0)(x), x)
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, 0 * x)
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.5)


def test_linear_initialisation_shape_bounds_and_seeding():
    tinygrad_be.manual_seed(123)
    a = nn.Linear(300, 20)
    tinygrad_be.manual_seed(123)
    b = nn.Linear(300, 20)
    c = nn.Linear(300, 20)  # the generator moved on
    assert a.weight.shape == (20, 300) and a.bias.shape == (20,)  # torch's (out, in)
    assert a.weight.dtype == np.float32 and a.weight.requires_grad and a.bias.requires_grad
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert not np.array_equal(a.weight.data, c.weight.data)
    bound = 1 / np.sqrt(300)
    for t in (a.weight, a.bias):
        assert np.abs(t.data).max() <= bound
    assert a.weight.data.max() > 0.9 * bound and a.weight.data.min() < -0.9 * bound
    # An explicit generator overrides the default one.
    d = nn.Linear(300, 20, rng=np.random.default_rng(9))
    e = nn.Linear(300, 20, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(d.weight.data, e.weight.data)
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_refuses_bad_input_with_both_shapes_or_dtypes():
    layer = nn.Linear(5, 3)
    with pytest.raises(ValueError, match=r"\(8, 4\).*in_features=5.*\(3, 5\)"):
        layer(np.zeros((8, 4), np.float32))
    with pytest.raises(TypeError, match="float64.*float32"):
        layer(np.zeros((8, 5)))
    assert layer(np.zeros((2, 7, 5), np.float32)).shape == (2, 7, 3)  # leading axes broadcast
    with pytest.raises(TypeError, match="Module"):
        nn.Sequential(nn.ReLU(), "not a layer")


def test_astype_converts_parameters_and_gradients():
    model = mlp()
    model(np.ones((2, 4), np.float32)).sum().backward()
    assert model.astype(np.float64) is model
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in model.parameters())
    assert model(np.ones((2, 4))).dtype == np.float64
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())
    with pytest.raises(TypeError, match="floating"):
        model.astype(np.int32)


def test_zero_grad_clears_or_zeroes():
    model = mlp()
    model(np.ones((2, 4), np.float32)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_repr_reads_like_torch():
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(3072, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10)
    )
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Flatten(start_dim=1, end_dim=-1)\n"
        "  (1): Linear(in_features=3072, out_features=512, bias=True)\n"
        "  (2): ReLU()\n"
        "  (3): Dropout(p=0.2, inplace=False)\n"
        "  (4): Linear(in_features=512, out_features=10, bias=True)\n"
        ")"
    )
    assert model.num_parameters() == 3072 * 512 + 512 + 512 * 10 + 10
    nested = repr(nn.Sequential(nn.Sequential(nn.Tanh())))
    assert nested == "Sequential(\n  (0): Sequential(\n    (0): Tanh()\n  )\n)"


def test_sequential_indexing_and_activation_layers():
    model = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Identity(), nn.Softmax(dim=-1))
    assert len(model) == 4 and isinstance(model[1], nn.Sigmoid)
    assert isinstance(model[1:], nn.Sequential) and len(model[1:]) == 3
    assert [type(m).__name__ for m in model] == ["Linear", "Sigmoid", "Identity", "Softmax"]
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    out = model(x).data
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    assert nn.Flatten()(np.zeros((2, 3, 4, 5), np.float32)).shape == (2, 60)
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(nn.ReLU()(x).data, np.maximum(x, 0))
    np.testing.assert_allclose(
        np.exp(nn.LogSoftmax(dim=1)(x).data), nn.Softmax(dim=1)(x).data, rtol=1e-5
    )


# --------------------------------------------------------------------------------------------------
# Training end to end
def test_small_mlp_learns_generated_data_quickly():
    """Two interleaved half-moons (not linearly separable): a linear classifier gets ~88%; the MLP
    must reach 97% on held-out points, within 2 seconds."""
    rng = np.random.default_rng(0)

    def moons(n: int) -> tuple[np.ndarray, np.ndarray]:
        label = rng.integers(0, 2, n)
        angle = rng.uniform(0, np.pi, n)
        x = np.stack([np.cos(angle), np.sin(angle)], axis=1)
        x[label == 1] = 1 - x[label == 1] - [0, 0.5]  # the second moon, flipped and shifted
        return (x + rng.normal(0, 0.1, x.shape)).astype(np.float32), label

    x_train, y_train = moons(2000)
    x_test, y_test = moons(1000)
    model = nn.Sequential(
        nn.Linear(2, 32, rng=rng), nn.Tanh(), nn.Linear(32, 32, rng=rng), nn.Tanh(),
        nn.Linear(32, 2, rng=rng),
    )  # fmt: skip
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True, seed=0)
    start = time.perf_counter()
    epoch_losses = []
    for _ in range(15):
        losses = []
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        epoch_losses.append(np.mean(losses))
    elapsed = time.perf_counter() - start
    with no_grad():
        accuracy = (model(x_test).data.argmax(axis=1) == y_test).mean()
    assert epoch_losses[-1] < 0.25 * epoch_losses[0]
    assert accuracy >= 0.97, f"test accuracy {accuracy:.3f}"
    assert elapsed < 2.0, f"training took {elapsed:.2f} s"


# --------------------------------------------------------------------------------------------------
# State dicts
def test_state_dict_round_trip_gives_identical_outputs(tmp_path):
    source, target = mlp(seed=0), mlp(seed=1)
    x = np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32)
    assert not np.array_equal(source(x).data, target(x).data)
    state = source.state_dict()
    result = target.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(source(x).data, target(x).data)

    # As torch: the state shares memory with the source; loading copied it into the target.
    with no_grad():
        state["0.weight"][:] = 0
    assert not source[0].weight.detach().numpy().any()
    assert target[0].weight.detach().numpy().any()

    # Through a file.
    path = tmp_path / "model.npz"
    source.save(path)
    third = mlp(seed=3).load(path)
    np.testing.assert_array_equal(source(x).data, third(x).data)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda s: s.update({"0.weight": np.zeros((4, 9), np.float32)}), r"'0.weight'.*\(4, 9\)"),
        (lambda s: s.pop("2.bias"), "missing key '2.bias'"),
        (lambda s: s.update({"3.weight": np.zeros(2, np.float32)}), "unexpected key '3.weight'"),
        (lambda s: s.update({"2.bias": np.zeros(3)}), "'2.bias'.*float64.*float32"),
        (lambda s: s.update({"2.bias": [0.0, 0.0, 0.0]}), "'2.bias'.*numpy array"),
    ],
    ids=["wrong shape", "missing key", "extra key", "wrong dtype", "not an array"],
)
def test_bad_state_dict_raises_and_leaves_the_model_unchanged(corrupt, message):
    model = mlp(seed=0)
    before = snapshot(model)
    state = mlp(seed=1).state_dict()  # valid values, different from the model's
    corrupt(state)
    with pytest.raises(ValueError, match=message) as error:
        model.load_state_dict(state)
    assert "nothing was changed" in str(error.value)
    assert_unchanged(model, before)


def test_every_offending_key_is_named():
    model = mlp()
    state = model.state_dict()
    state["0.weight"] = np.zeros((1, 1), np.float32)
    del state["2.bias"]
    state["extra"] = np.zeros(1)
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    text = str(error.value)
    assert "'0.weight'" in text and "'2.bias'" in text and "'extra'" in text


def test_non_strict_load_reports_skipped_keys_but_checks_shapes():
    model = mlp(seed=0)
    state = mlp(seed=1).state_dict()
    del state["2.bias"]
    state["extra"] = np.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[0].weight.data, state["0.weight"])
    state["0.weight"] = np.zeros((2, 2), np.float32)
    before = snapshot(model)
    with pytest.raises(ValueError, match="0.weight"):
        model.load_state_dict(state, strict=False)
    assert_unchanged(model, before)


# --------------------------------------------------------------------------------------------------
# Checkpoint files
def test_save_and_load_nested_checkpoint_round_trip(tmp_path):
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(np.ones((2, 4), np.float32)).sum().backward()
    optimizer.step()
    path = tmp_path / "checkpoint.npz"
    tinygrad_be.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": 7,
            "best_accuracy": 0.5,
            "note": "best so far",
            "tensor": Tensor([1.0, 2.0]),
        },
        path,
    )
    loaded = tinygrad_be.load(path)
    assert set(loaded) == {"model", "optimizer", "epoch", "best_accuracy", "note", "tensor"}
    assert int(loaded["epoch"]) == 7 and float(loaded["best_accuracy"]) == 0.5
    assert str(loaded["note"]) == "best so far"
    assert loaded["tensor"].dtype == np.float32
    assert list(loaded["model"]) == list(model.state_dict())
    for name, array in model.state_dict().items():
        assert loaded["model"][name].dtype == array.dtype
        np.testing.assert_array_equal(loaded["model"][name], array)
    buffer = loaded["optimizer"]["state"]["0"]["momentum_buffer"]
    np.testing.assert_array_equal(buffer, optimizer.state[0]["momentum_buffer"])
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]  # no temporary file left


def test_save_refuses_python_objects_and_bad_keys(tmp_path):
    path = tmp_path / "c.npz"
    with pytest.raises(TypeError, match="'a/b'.*no Python objects"):
        tinygrad_be.save({"a": {"b": None}}, path)
    with pytest.raises(ValueError, match="without '/'"):
        tinygrad_be.save({"a/b": np.zeros(1)}, path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tinygrad_be.save({"a": np.zeros(1)}, tmp_path / "missing" / "c.npz")
    assert not path.exists()


def test_interrupted_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    first = mlp(seed=0)
    first.save(path)
    saved_bytes = path.read_bytes()

    real_savez = np.savez

    def savez_dying_half_way(file, *args, **kwargs):
        """Write the first half of what np.savez would write, then fail (e.g. a full disk)."""
        complete = io.BytesIO()
        real_savez(complete, *args, **kwargs)
        file.write(complete.getvalue()[: len(complete.getvalue()) // 2])
        file.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_dying_half_way)
    with pytest.raises(OSError, match="No space left"):
        mlp(seed=1).save(path)
    monkeypatch.undo()

    assert path.read_bytes() == saved_bytes
    restored = mlp(seed=2).load(path)
    for (name, a), b in zip(
        first.state_dict().items(), restored.state_dict().values(), strict=True
    ):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # the partial temp file is gone


class Hostile:
    """Unpickling this creates a marker file: proof that code from the checkpoint ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_object_array_in_npz_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "hostile.npz"
    model = mlp(seed=0)
    state = model.state_dict()
    state["0.bias"] = np.array([Hostile(str(marker))] * 8, dtype=object)
    np.savez(path, allow_pickle=True, **state)
    before = snapshot(model)
    with pytest.raises(ValueError, match="'0.bias'.*Object arrays cannot be loaded"):
        model.load(path)
    with pytest.raises(ValueError, match="Object arrays"):
        tinygrad_be.load(path)
    assert not marker.exists()
    assert_unchanged(model, before)


def test_pickle_npy_and_corrupt_files_are_refused(tmp_path):
    marker = tmp_path / "code-ran"
    pickled = tmp_path / "model.npz"
    pickled.write_bytes(pickle.dumps({"0.weight": Hostile(str(marker))}))
    with pytest.raises(ValueError, match="not a .npz checkpoint"):
        tinygrad_be.load(pickled)
    assert not marker.exists()

    single = tmp_path / "array.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="single .npy array"):
        tinygrad_be.load(single)

    truncated = tmp_path / "truncated.npz"
    mlp().save(truncated)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        tinygrad_be.load(truncated)


def test_save_replaces_atomically_with_os_replace(tmp_path, monkeypatch):
    """The final file appears through one os.replace of a temporary file in the same directory."""
    path = tmp_path / "model.npz"
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        calls.append((os.path.dirname(src), os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    mlp().save(path)
    assert calls == [(str(tmp_path), str(path))]
