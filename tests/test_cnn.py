"""The CIFAR-10 convolutional network (`models.cnn`) and its recipe (`examples/cnn_cifar10.py`)."""

from __future__ import annotations

import numpy as np
import pytest
from examples_support import load_example

import tinygrad_be
import tinygrad_be.nn.functional as F
from models.cnn import CifarNet, count_flops, load_cnn_features
from tinygrad_be import nn, optim


def _expected_flops(a: int, b: int, c: int) -> int:
    """Multiply-adds × 2 of each layer, written out: (output pixels) × (out ch) × (in ch · k²)."""
    return 2 * (
        31 * 31 * 24 * 3 * 4  # whitening 2×2, 32 -> 31
        + 31 * 31 * a * 24 * 9 + 15 * 15 * a * a * 9  # group 1: conv at 31×31, pool, conv at 15×15
        + 15 * 15 * b * a * 9 + 7 * 7 * b * b * 9  # group 2
        + 7 * 7 * c * b * 9 + 3 * 3 * c * c * 9  # group 3
        + c * 10  # head
    )


def _expected_parameters(a: int, b: int, c: int) -> int:
    whiten = 24 * 3 * 4 + 24
    groups = sum(i * o * 9 + 2 * o + o * o * 9 + 2 * o for i, o in ((24, a), (a, b), (b, c)))
    return whiten + groups + c * 10


@pytest.mark.parametrize("widths", [(32, 64, 128), (8, 16, 24)])
def test_builder_shapes_flops_and_parameters(widths):
    tinygrad_be.manual_seed(0)
    model = CifarNet(widths)
    x = np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype(np.float32)
    assert model(x).shape == (2, 10) and model(x).dtype == np.float32
    assert model.features(x).shape == (2, widths[-1])
    assert count_flops(model) == _expected_flops(*widths)
    assert model.num_parameters() == _expected_parameters(*widths)
    if widths == (32, 64, 128):  # the figures the module's docstring gives
        assert count_flops(model) == 39_774_784 and model.num_parameters() == 295_096
    assert model.training  # count_flops leaves the mode as it was
    with pytest.raises(ValueError, match="widths must be three positive ints"):
        CifarNet((8, 16))


def test_whitening_layer_is_fitted_and_frozen(rng):
    tinygrad_be.manual_seed(0)
    model = CifarNet((4, 8, 8))
    images = rng.normal(size=(20, 3, 32, 32)).astype(np.float32)
    model.fit_whitening(images)
    frozen = model.whiten.weight.detach().clone()
    trainable = model.trainable_parameters()
    assert all(p is not model.whiten.weight and p is not model.whiten.bias for p in trainable)
    optimizer = optim.SGD(trainable, lr=0.1, momentum=0.9)
    labels = rng.integers(0, 10, 20)
    losses = []
    for _ in range(8):
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    np.testing.assert_array_equal(model.whiten.weight.data, frozen)
    assert model.whiten.weight.grad is None
    assert losses[-1] < losses[0]  # it learns (memorises 20 images)


def test_state_dict_round_trip_with_buffers(tmp_path, rng):
    tinygrad_be.manual_seed(0)
    model = CifarNet((4, 8, 8))
    model(rng.normal(size=(4, 3, 32, 32)).astype(np.float32))  # moves the running statistics
    model.save(tmp_path / "cnn.npz")
    state = model.state_dict()
    assert "groups.0.norm1.running_mean" in state and "groups.2.norm2.num_batches_tracked" in state
    copy = CifarNet((4, 8, 8)).load(tmp_path / "cnn.npz")
    x = rng.normal(size=(3, 3, 32, 32)).astype(np.float32)
    model.eval()
    copy.eval()
    np.testing.assert_array_equal(model(x).data, copy(x).data)


# --------------------------------------------------------------------------------------------------
# The recipe, end to end on a small generated archive
def test_cnn_example_resume_and_knn_features(fake_archive, tmp_path, capsys):
    example = load_example("cnn_cifar10")
    tiny = [*fake_archive, "--width", "4,8,8", "--batch-size", "10", "--lr", "0.2"]

    straight = tmp_path / "straight"
    final = example.main([*tiny, "--epochs", "3", "--results", str(straight)])
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line.startswith(f"test accuracy {final:.4f} (best ") and last_line.endswith(" s")
    for name in ("cnn_cifar10.png", "cnn_confusion.png", "cnn_mistakes.png"):
        assert (straight / name).stat().st_size > 10_000, name  # real figures
    model = CifarNet((4, 8, 8)).load(straight / "cnn_cifar10.npz")
    assert model.num_parameters() == _expected_parameters(4, 8, 8)
    losses = tinygrad_be.load(straight / "cnn_cifar10_state.npz")["history"]["train_loss"]
    assert losses[-1] < losses[0]  # it learns (30 tiny steps are too few to judge accuracy)

    # Interrupted after epoch 1, then resumed: bit for bit the uninterrupted run.
    resumed = tmp_path / "resumed"
    example.main([*tiny, "--epochs", "3", "--results", str(resumed), "--stop-after", "1"])
    assert "continue with --resume" in capsys.readouterr().out
    example.main([*tiny, "--epochs", "3", "--results", str(resumed), "--resume"])
    a = tinygrad_be.load(straight / "cnn_cifar10_state.npz")
    b = tinygrad_be.load(resumed / "cnn_cifar10_state.npz")
    for key in a["model"]:
        np.testing.assert_array_equal(a["model"][key], b["model"][key], err_msg=key)
    np.testing.assert_array_equal(a["history"]["test_acc"], b["history"]["test_acc"])
    with pytest.raises(ValueError, match="lr"):
        example.main([*tiny, "--epochs", "3", "--lr", "0.3", "--results", str(resumed), "--resume"])

    # The features file maps raw pixels to the penultimate layer, and k-NN runs on it.
    extract = load_cnn_features(straight / "cnn_cifar10_features.npz")
    pixels = np.random.default_rng(0).uniform(0, 255, size=(7, 3072)).astype(np.float32)
    features = extract(pixels)
    assert features.shape == (7, 8) and features.dtype == np.float32
    assert np.all(features >= 0)  # after ReLU and max-pool
    knn_example = load_example("knn_cifar10")
    data_options = ["--root" if option == "--data-root" else option for option in fake_archive]
    knn_example.main([*data_options, "--official", "--k-max", "3", "--out-dir", str(tmp_path / "knn"),
                      "--features", str(straight / "cnn_cifar10_features.npz")])
    printed = capsys.readouterr().out
    assert "cnn_cifar10_features.npz" in printed
    with pytest.raises(ValueError, match="not a feature checkpoint of examples/cnn_cifar10.py"):
        load_cnn_features(straight / "cnn_cifar10.npz")


def test_module_buffers_never_reach_the_optimizer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    names = [name for name, _ in model.named_parameters()]
    assert "1.running_mean" not in names and "1.running_mean" in model.state_dict()
