"""tinygrad_be.save / load in torch's shape: save(obj, f), load(f, map_location, weights_only),
nested checkpoints, file objects, and the refusals (the old argument order, whole modules, pickles,
unknown devices, files from a newer format). No pickle is ever read."""

from __future__ import annotations

import io

import numpy as np
import pytest

import tinygrad_be
from tinygrad_be import Tensor, nn


def net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_nested_checkpoint_round_trips_with_python_values(tmp_path):
    model = net()
    path = tmp_path / "ckpt.pth"
    tinygrad_be.save({"net": model.state_dict(), "acc": 93.1, "epoch": 7, "best": True,
                      "arch": "mlp", "lrs": [0.1, 0.01]}, path)  # fmt: skip
    checkpoint = tinygrad_be.load(path)
    assert checkpoint["acc"] == 93.1 and type(checkpoint["acc"]) is float  # as torch.load
    assert checkpoint["epoch"] == 7 and type(checkpoint["epoch"]) is int
    assert checkpoint["best"] is True and checkpoint["arch"] == "mlp"
    np.testing.assert_array_equal(checkpoint["lrs"], [0.1, 0.01])  # a list comes back an array
    assert list(checkpoint["net"]) == list(model.state_dict())
    assert checkpoint["net"]["1.num_batches_tracked"].dtype == np.int64
    copy = net()
    copy.load_state_dict(checkpoint["net"])
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(copy.eval()(x).detach().numpy(), model.eval()(x).detach().numpy())
    assert set(checkpoint) == {"net", "acc", "epoch", "best", "arch", "lrs"}  # no marker entry


def test_torch_style_save_and_load_of_a_state_dict(tmp_path):
    model = net()
    tinygrad_be.save(model.state_dict(), tmp_path / "model_weights.pth")
    fresh = net()
    result = fresh.load_state_dict(
        tinygrad_be.load(tmp_path / "model_weights.pth", weights_only=True)
    )
    assert result.missing_keys == [] and result.unexpected_keys == []
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[name], value, err_msg=name)
    cpu = tinygrad_be.device("cpu")
    for where in (None, "cpu", cpu):
        tinygrad_be.load(tmp_path / "model_weights.pth", map_location=where)
    tinygrad_be.load(tmp_path / "model_weights.pth", weights_only=False)  # still no pickle


def test_file_objects_work_like_paths():
    buffer = io.BytesIO()
    tinygrad_be.save({"w": Tensor([1.0, 2.0]), "step": 3}, buffer)
    buffer.seek(0)
    loaded = tinygrad_be.load(buffer)
    assert loaded["w"].tolist() == [1.0, 2.0] and loaded["step"] == 3


def test_the_wrong_calls_get_messages_that_say_what_to_do(tmp_path):
    model = net()
    with pytest.raises(TypeError, match=r"save\(obj, f\), torch's order.*save\(state, path\)"):
        tinygrad_be.save(tmp_path / "m.npz", model.state_dict())
    with pytest.raises(TypeError, match=r"cannot save a whole Sequential.*state_dict\(\)"):
        tinygrad_be.save(model, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="expected a dict"):
        tinygrad_be.save([1, 2], tmp_path / "m.npz")
    with pytest.raises(ValueError, match="reserved"):
        tinygrad_be.save({"__tinygrad_be_format__": 1}, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    tinygrad_be.save({"a": 1}, tmp_path / "m.npz")
    with pytest.raises(ValueError, match="map_location='cuda'.*CPU only"):
        tinygrad_be.load(tmp_path / "m.npz", map_location="cuda")
    with pytest.raises(ValueError, match="never unpickled"):
        tinygrad_be.load(tmp_path / "m.npz", pickle_module=object())


def test_newer_formats_and_re_saving_old_states_are_refused(tmp_path):
    np.savez(tmp_path / "future.npz", __tinygrad_be_format__=99, a=np.zeros(1))
    with pytest.raises(ValueError, match="format 99, newer"):
        tinygrad_be.load(tmp_path / "future.npz")
    np.savez(tmp_path / "old.npz", **{"model/0.weight": np.zeros((3, 4), np.float32)})
    old = tinygrad_be.load(tmp_path / "old.npz")
    with pytest.raises(ValueError, match="old-format checkpoint.*load it into its model first"):
        tinygrad_be.save({"model": old["model"]}, tmp_path / "again.npz")
    with pytest.raises(ValueError, match="old-format checkpoint"):
        tinygrad_be.save(old, tmp_path / "again.npz")


def test_a_pytorch_pt_file_is_refused_without_unpickling(tmp_path):
    import zipfile

    path = tmp_path / "model.pt"  # the layout of torch.save's zip: a pickle and raw storages
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02cos\nsystem\nq\x00.")  # never run
        archive.writestr("archive/data/0", b"\x00" * 16)
        archive.writestr("archive/version", b"3\n")
    with pytest.raises(ValueError, match="PyTorch checkpoint .* never unpickles"):
        tinygrad_be.load(path)
    other = tmp_path / "other.npz"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("notes.txt", b"hello")
    with pytest.raises(ValueError, match="not .npy arrays"):
        tinygrad_be.load(other)
