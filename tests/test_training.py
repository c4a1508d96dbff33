"""tinygrad_be.training: the recipes' loop, its checkpoints and an exact resume."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_be
import tinygrad_be.nn.functional as F
from tinygrad_be import nn, optim
from tinygrad_be.training import fit, train_epoch
from tinygrad_be.utils.data import DataLoader, TensorDataset


def problem():
    """Two noisy blobs in 6 dimensions, and a small network with dropout (random every step)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    x = (rng.normal(size=(120, 6)) + 2.0 * y[:, None]).astype(np.float32)
    tinygrad_be.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, drop_last=True, seed=3)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = optim.WarmupCosineLR(optimizer, 2, 4 * len(loader))
    return model, loader, optimizer, schedule, (x, y)


def accuracy(model, x, y) -> float:
    model.eval()
    with tinygrad_be.no_grad():
        predicted = model(x).detach().numpy().argmax(axis=1)
    model.train()
    return float((predicted == y).mean())


def run(tmp_path, epochs=4, **options):
    tmp_path.mkdir(exist_ok=True)
    model, loader, optimizer, schedule, (x, y) = problem()
    history = fit(
        model, loader, optimizer, F.cross_entropy, epochs=epochs, seed=5,
        evaluate=lambda: accuracy(model, x, y), scheduler=schedule,
        prepare=lambda images, rng: images + rng.normal(0, 0.1, images.shape).astype(np.float32),
        state_path=tmp_path / "state.npz", config={"lr": 0.1, "width": [16]}, **options,
    )  # fmt: skip
    return model, history


def test_train_epoch_returns_mean_loss_and_accuracy():
    model, loader, optimizer, _, _ = problem()
    loss, acc = train_epoch(model, loader, optimizer, F.cross_entropy)
    assert 0 < loss < 5 and 0 <= acc <= 1


def test_fit_learns_and_a_resumed_run_is_the_same_run_bit_for_bit(tmp_path, capsys):
    straight, history = run(tmp_path / "a")
    assert len(history["test_acc"]) == 4 and history["test_acc"][-1] > 0.9
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert capsys.readouterr().out.count("epoch ") == 4  # one line per epoch

    _, first = run(tmp_path / "b", stop_after=2)
    assert len(first["test_acc"]) == 2
    assert "continue with --resume" in capsys.readouterr().out
    resumed, history_b = run(tmp_path / "b", resume=True)
    assert "resumed after epoch 2" in capsys.readouterr().out
    assert history_b == history
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(),
                                 strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b, err_msg=name)
    saved = tinygrad_be.load(tmp_path / "b" / "state.npz")
    assert set(saved) == {"model", "optimizer", "schedule", "config", "history"}


def test_resume_refuses_other_options_or_a_missing_checkpoint(tmp_path):
    run(tmp_path, epochs=1)
    model, loader, optimizer, _, _ = problem()
    with pytest.raises(ValueError, match=r"lr 0.1 != 0.2"):
        fit(model, loader, optimizer, F.cross_entropy, epochs=2, evaluate=lambda: 0.0,
            state_path=tmp_path / "state.npz", config={"lr": 0.2, "width": [16]}, resume=True)  # fmt: skip
    with pytest.raises(FileNotFoundError, match="no saved state"):
        fit(model, loader, optimizer, F.cross_entropy, epochs=2, evaluate=lambda: 0.0,
            state_path=tmp_path / "missing.npz", resume=True)  # fmt: skip


def test_on_epoch_end_sees_the_history(tmp_path):
    seen = []
    run(tmp_path, epochs=2, on_epoch_end=lambda epoch, h: seen.append((epoch, len(h["test_acc"]))))
    assert seen == [(0, 1), (1, 2)]
