"""The same ops on every device: "cpu" (numpy), "fake-cuda" (tests/fake_cupy.py: a CuPy stand-in that,
as CuPy, refuses implicit conversion to numpy and mixing with numpy arrays) and "cuda" (real CuPy
on a GPU; skipped with the reason where there is none).

For every op: the forward values and the gradients on the device equal the CPU's, stay on the
device (an op that computed with numpy on device data fails here: the fake refuses it, as CuPy
would on a GPU), and pass `gradcheck` on the device. Then modules, optimizers and checkpoints
through the same parametrisation, and the errors of the device API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fake_cupy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_be as tb
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, backend, gradcheck


def _real_cuda_reason() -> str | None:
    """Why the real "cuda" cases cannot run here (None when they can)."""
    try:
        backend.cuda_module("test")
    except RuntimeError as error:
        return str(error)
    finally:
        if backend._cuda is not None and backend._cuda is fake_cupy:  # pragma: no cover
            backend._reset()
    return None


@pytest.fixture(params=["cpu", "fake-cuda", "cuda"])
def device(request: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The device name the test computes on; "fake-cuda" computes on "cuda" backed by the fake."""
    if request.param == "fake-cuda":
        fake_cupy.install(monkeypatch)
        return "cuda"
    if request.param == "cuda":
        reason = _real_cuda_reason()
        if reason is not None:
            pytest.skip(f"no real GPU backend here: {reason}")
    return request.param


def _on(device: str, array: Any) -> bool:
    """True when `array` lives on `device` (a numpy array for "cpu", a device array else)."""
    return (type(array) is np.ndarray) == (device == "cpu")




# --------------------------------------------------------------------------------------------------
# Modules, optimizers, schedulers and checkpoints on the device
OPTIMIZERS: dict[str, Callable[[Any], Any]] = {
    "sgd_nesterov": lambda p: tb.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam_amsgrad": lambda p: tb.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=1e-3),
    "adamw": lambda p: tb.optim.AdamW(p, lr=0.01),
    "rmsprop_centered": lambda p: tb.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: tb.optim.Adagrad(p, lr=0.1),
}


def _small_net() -> Any:
    tb.manual_seed(3)
    return tb.nn.Sequential(
        tb.nn.Conv2d(2, 3, 3, padding=1), tb.nn.BatchNorm2d(3), tb.nn.ReLU(), tb.nn.MaxPool2d(2),
        tb.nn.Flatten(), tb.nn.Linear(12, 6), tb.nn.LayerNorm(6), tb.nn.Tanh(), tb.nn.Linear(6, 4),
    )


def _train(model: Any, optimizer: Any, device: str, steps: int = 3) -> list[float]:
    rng = np.random.default_rng(5)
    scheduler = tb.optim.StepLR(optimizer, step_size=1, gamma=0.5)
    losses = []
    for _ in range(steps):
        x = tb.tensor(rng.standard_normal((5, 2, 4, 4)), dtype=tb.float32, device=device)
        y = tb.tensor(rng.integers(0, 4, 5), device=device)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        tb.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_on_device_matches_cpu(device: str, name: str) -> None:
    expected_model = _small_net()
    expected = _train(expected_model, OPTIMIZERS[name](expected_model.parameters()), "cpu")
    model = _small_net()
    optimizer = OPTIMIZERS[name](model.parameters())  # made before .to: the parameters stay
    assert model.to(device) is model
    losses = _train(model, optimizer, device)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    for (key, value), (_, expected_value) in zip(
        model.state_dict().items(), expected_model.state_dict().items(), strict=True
    ):
        assert _on(device, value._data), f"{key} left {device}"
        np.testing.assert_allclose(_host(value), _host(expected_value), rtol=1e-4, atol=1e-6, err_msg=key)
    for p in model.parameters():
        assert _on(device, p.grad._data) and _on(device, p._data)
    for state in optimizer.state.values():
        for value in state.values():
            assert not hasattr(value, "shape") or _on(device, value)


def test_checkpoints_are_host_arrays_and_load_onto_the_models_device(device: str, tmp_path: Any) -> None:
    model = _small_net().to(device)
    optimizer = tb.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    _train(model, optimizer, device, steps=1)
    path = tmp_path / "state.npz"
    tb.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    state = tb.load(path)
    assert all(type(v._data if isinstance(v, Tensor) else v) is np.ndarray for v in state["model"].values())
    on_cpu = _small_net()
    on_cpu.load_state_dict(state["model"])  # a GPU model's checkpoint loads on the CPU
    fresh = _small_net().to(device)
    fresh.load_state_dict(state["model"])  # and onto the device of the model it goes into
    fresh_optimizer = tb.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    fresh_optimizer.load_state_dict(state["optimizer"])
    for (key, value), (_, saved) in zip(fresh.state_dict().items(), model.state_dict().items(), strict=True):
        assert _on(device, value._data), key
        np.testing.assert_array_equal(_host(value), _host(saved), err_msg=key)
    assert all(_on(device, v) for s in fresh_optimizer.state.values() for v in s.values() if hasattr(v, "shape"))
    np.testing.assert_array_equal(_host(on_cpu[0].weight), _host(model[0].weight))
    model.cpu()
    assert all(type(p._data) is np.ndarray for p in model.parameters())
