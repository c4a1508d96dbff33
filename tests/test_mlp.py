"""Tests of models.mlp: the lab's functions, the MLP builder, and both CIFAR-10 examples end to end."""

from __future__ import annotations

import numpy as np
import pytest
from examples_support import load_example

from models.mlp import (
    MLP,
    init_weights,
    learn_once_cross_entropy,
    learn_once_mse,
    one_hot,
    run_mlp,
    test_mlp,
    train_mlp,
)
from tinygrad_be import Tensor


def _tiny_problem(rng: np.random.Generator, dtype=np.float64, n=12, d_in=5, d_h=4, d_out=3):
    """Small random weights, data and labels (every class present)."""
    w1, b1, w2, b2 = init_weights(d_in, d_h, d_out, seed=1, dtype=dtype)
    # Non-zero biases, so their gradients are checked for real.
    b1 = rng.normal(0, 0.5, b1.shape).astype(dtype)
    b2 = rng.normal(0, 0.5, b2.shape).astype(dtype)
    data = rng.normal(size=(n, d_in)).astype(dtype)
    labels = np.arange(n) % d_out
    return (w1, b1, w2, b2), data, labels


# --------------------------------------------------------------------------------------------------
# Losses written out in numpy, independently of the framework, for finite differences.
def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _mse_loss(w1, b1, w2, b2, data, targets):
    a2 = _sigmoid(_sigmoid(data @ w1 + b1) @ w2 + b2)
    return np.mean((a2 - targets) ** 2)


def _cross_entropy_loss(w1, b1, w2, b2, data, labels):
    z2 = _sigmoid(data @ w1 + b1) @ w2 + b2
    z2 = z2 - z2.max(axis=1, keepdims=True)
    log_probs = z2 - np.log(np.exp(z2).sum(axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(labels)), labels])


def _finite_difference_gradients(loss_fn, weights, eps=1e-6):
    """Central differences of loss_fn(*weights) with respect to every element of every weight."""
    grads = []
    for i, w in enumerate(weights):
        grad = np.zeros_like(w)
        for index in np.ndindex(w.shape):
            plus = [v.copy() for v in weights]
            minus = [v.copy() for v in weights]
            plus[i][index] += eps
            minus[i][index] -= eps
            grad[index] = (loss_fn(*plus) - loss_fn(*minus)) / (2 * eps)
        grads.append(grad)
    return grads


LEARN_ONCE = {
    "mse": (learn_once_mse, _mse_loss),
    "cross_entropy": (learn_once_cross_entropy, _cross_entropy_loss),
}


def _targets(kind, labels, d_out):
    return one_hot(labels, d_out) if kind == "mse" else labels


@pytest.mark.parametrize("kind", sorted(LEARN_ONCE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_learn_once_keeps_shapes_and_dtypes(kind, dtype, rng):
    learn_once, _ = LEARN_ONCE[kind]
    weights, data, labels = _tiny_problem(rng, dtype)
    *new_weights, loss = learn_once(*weights, data, _targets(kind, labels, 3), 0.1)
    for old, new in zip(weights, new_weights, strict=True):
        assert new.shape == old.shape
        assert new.dtype == dtype
        assert not np.array_equal(new, old)  # every weight moved
    assert type(loss) is float and loss > 0


@pytest.mark.parametrize("kind", sorted(LEARN_ONCE))
def test_learn_once_returns_loss_before_the_step_and_lowers_it(kind, rng):
    learn_once, loss_fn = LEARN_ONCE[kind]
    weights, data, labels = _tiny_problem(rng)
    targets = _targets(kind, labels, 3)
    *new_weights, loss = learn_once(*weights, data, targets, 0.01)
    assert loss == pytest.approx(loss_fn(*weights, data, targets), rel=1e-12)
    assert loss_fn(*new_weights, data, targets) < loss
    # The inputs are left untouched (the lab's functions return new arrays).
    again = learn_once(*weights, data, targets, 0.01)
    assert again[-1] == loss


@pytest.mark.parametrize("kind", sorted(LEARN_ONCE))
def test_learn_once_applies_the_finite_difference_gradient(kind, rng):
    learn_once, loss_fn = LEARN_ONCE[kind]
    weights, data, labels = _tiny_problem(rng, np.float64)
    targets = _targets(kind, labels, 3)
    lr = 0.5
    *new_weights, _ = learn_once(*weights, data, targets, lr)
    expected = _finite_difference_gradients(lambda *w: loss_fn(*w, data, targets), list(weights))
    for old, new, grad in zip(weights, new_weights, expected, strict=True):
        applied = (old - new) / lr
        np.testing.assert_allclose(applied, grad, rtol=1e-5, atol=1e-9)


def test_learn_once_cross_entropy_takes_the_class_count_from_w2(rng):
    weights, data, _ = _tiny_problem(rng, d_out=5)
    labels = np.zeros(len(data), dtype=np.int64)  # only class 0 present; still 5 classes
    *new_weights, loss = learn_once_cross_entropy(*weights, data, labels, 0.1)
    assert new_weights[2].shape == (4, 5)
    # Zero biases and near-uniform outputs at the start would give log(5); check it is a 5-way loss.
    assert loss == pytest.approx(_cross_entropy_loss(*weights, data, labels))


def test_bad_shapes_name_both_shapes(rng):
    (w1, b1, w2, b2), data, labels = _tiny_problem(rng)
    with pytest.raises(ValueError, match=r"\(12, 4\).*\(5, 4\)"):
        learn_once_cross_entropy(w1, b1, w2, b2, data[:, :4], labels, 0.1)
    with pytest.raises(ValueError, match="targets must have shape"):
        learn_once_mse(w1, b1, w2, b2, data, one_hot(labels, 4), 0.1)
    with pytest.raises(ValueError, match="labels_train must lie in"):
        learn_once_cross_entropy(w1, b1, w2, b2, data, labels + 1, 0.1)
    with pytest.raises(ValueError, match="b1 must have shape"):
        learn_once_mse(w1, b1.T, w2, b2, data, one_hot(labels, 3), 0.1)


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([1, 0, 2])), np.eye(3)[[1, 0, 2]])
    encoded = one_hot(np.array([0, 1]), num_classes=4)
    assert encoded.shape == (2, 4) and encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, [[1, 0, 0, 0], [0, 1, 0, 0]])
    assert one_hot(np.array([], dtype=np.int64), 3).shape == (0, 3)
    assert one_hot(np.array([3, 3])).shape == (2, 4)  # C = max + 1, even if classes are missing
    with pytest.raises(ValueError):
        one_hot(np.array([0, 3]), num_classes=3)
    with pytest.raises(ValueError):
        one_hot(np.array([-1, 0]))
    with pytest.raises(ValueError):
        one_hot(np.array([0.5, 1.0]))


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_train_mlp_records_one_accuracy_per_epoch(loss, rng):
    weights, data, labels = _tiny_problem(rng, np.float32)
    *new_weights, accuracies = train_mlp(*weights, data, labels, 0.1, 7, loss=loss)
    assert len(accuracies) == 7
    assert all(type(a) is float and 0 <= a <= 1 for a in accuracies)
    assert all(w.dtype == np.float32 for w in new_weights)
    # The first accuracy is that of the initial weights (each epoch records its forward pass).
    assert accuracies[0] == test_mlp(*weights, data, labels)
    # Seven single steps give the same weights as train_mlp's seven epochs.
    learn_once = learn_once_mse if loss == "mse" else learn_once_cross_entropy
    stepped = weights
    for _ in range(7):
        *stepped, _ = learn_once(*stepped, data, _targets(loss, labels, 3), 0.1)
    for a, b in zip(stepped, new_weights, strict=True):
        np.testing.assert_array_equal(a, b)


def _separable_blobs(rng, n_per_class=60, d=20, classes=3, dtype=np.float32):
    """Gaussian blobs around far-apart centres: a linearly separable problem."""
    centres = rng.normal(0, 4, size=(classes, d))
    labels = np.repeat(np.arange(classes), n_per_class)
    data = centres[labels] + rng.normal(0, 1, size=(len(labels), d))
    order = rng.permutation(len(labels))
    return data[order].astype(dtype), labels[order]


def test_run_mlp_learns_a_separable_problem(rng):
    data, labels = _separable_blobs(rng)
    train_acc, test_acc = run_mlp(
        data[:150], labels[:150], data[150:], labels[150:], d_h=16, learning_rate=1.0,
        num_epoch=60, d_out=3, seed=0,
    )
    assert len(train_acc) == 60
    assert train_acc[-1] > 0.95 and test_acc > 0.9
    # Same seed, same run.
    assert run_mlp(
        data[:150], labels[:150], data[150:], labels[150:], d_h=16, learning_rate=1.0,
        num_epoch=60, d_out=3, seed=0,
    ) == (train_acc, test_acc)


def test_run_mlp_lab_init_and_dtype(rng):
    data, labels = _separable_blobs(rng, dtype=np.float64)
    w1, _, w2, _ = init_weights(20, 8, 3, seed=0, init="lab", dtype=np.float64)
    assert w1.dtype == np.float64 and np.abs(w1).max() > 0.9 and np.abs(w2).max() <= 1
    train_acc, test_acc = run_mlp(data, labels, data, labels, 8, 0.5, 3, d_out=3, init="lab")
    assert len(train_acc) == 3 and 0 <= test_acc <= 1
    with pytest.raises(ValueError, match="init"):
        run_mlp(data, labels, data, labels, 8, 0.5, 3, d_out=3, init="normal")


# --------------------------------------------------------------------------------------------------
# MLP: the same network as an nn.Sequential
def test_mlp_layers():
    from tinygrad_be import nn

    model = MLP()
    assert isinstance(model, nn.Sequential)
    assert [type(m) for m in model] == [nn.Linear, nn.Sigmoid, nn.Linear]
    assert model[0].weight.shape == (64, 3072) and model[2].weight.shape == (10, 64)  # torch's

    deep = MLP(20, 16, 3, hidden=(8, 4), activation="relu", dropout=0.25,
               output_activation="softmax")
    linears = [m for m in deep if isinstance(m, nn.Linear)]
    assert [lin.weight.shape for lin in linears] == [(16, 20), (8, 16), (4, 8), (3, 4)]
    assert sum(isinstance(m, nn.ReLU) for m in deep) == 3
    assert sum(isinstance(m, nn.Dropout) for m in deep) == 3
    assert isinstance(deep[-1], nn.Softmax)
    out = deep.eval()(Tensor(np.ones((5, 20), np.float32)))
    np.testing.assert_allclose(out.data.sum(axis=1), 1, rtol=1e-6)

    assert MLP(4, 3, 2, dtype=np.float64)[0].weight.dtype == np.float64
    with pytest.raises(ValueError, match="activation"):
        MLP(activation="gelu")
    with pytest.raises(ValueError, match="output_activation"):
        MLP(output_activation="relu")
    with pytest.raises(ValueError, match="width"):
        MLP(4, 0, 2)


def test_mlp_trains_on_a_separable_problem(rng):
    import tinygrad_be.nn.functional as F
    from tinygrad_be import optim

    data, labels = _separable_blobs(rng, n_per_class=100)
    model = MLP(20, 32, 3, hidden=(16,), activation="relu", rng=np.random.default_rng(0))
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(15):
        for start in range(0, 240, 32):
            loss = F.cross_entropy(model(Tensor(data[start:start + 32])), labels[start:start + 32])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    predictions = model(Tensor(data[240:])).data.argmax(axis=1)
    assert np.mean(predictions == labels[240:]) > 0.95


# --------------------------------------------------------------------------------------------------
# The examples, end to end on a small generated archive
@pytest.mark.parametrize("scale", [False, True])
def test_mlp_cifar10_example(fake_archive, tmp_path, scale, capsys):
    example = load_example("mlp_cifar10")
    out = tmp_path / "mlp.png"
    argv = [*fake_archive, "--d-h", "8", "--epochs", "3", "--out", str(out)]
    results = example.main(argv + (["--scale"] if scale else []))
    assert out.stat().st_size > 10_000  # a real figure, not an empty file
    assert set(results) == {"mse", "cross_entropy"}
    assert all(0 <= acc <= 1 for pair in results.values() for acc in pair)
    printed = capsys.readouterr().out
    assert "cross-entropy" in printed and "108 train / 12 test" in printed


def test_train_cifar10_example_and_resume(fake_archive, tmp_path, capsys):
    example = load_example("train_cifar10")
    tiny = [*fake_archive, "--hidden", "32,32", "--pca-dims", "24", "--batch-size", "10",
            "--lr", "0.2", "--dropout", "0.1"]

    straight = tmp_path / "straight"
    final = example.main([*tiny, "--epochs", "4", "--results", str(straight)])
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line.startswith(f"test accuracy {final:.4f} (best ")
    assert (straight / "train_cifar10.png").stat().st_size > 10_000
    assert (straight / "train_cifar10_best.npz").is_file()
    # The fake classes are flat colours: even 4 tiny epochs get well above chance (0.1).
    assert final >= 0.5

    # Same seed, interrupted after 2 epochs and resumed: the same run, bit for bit. (The first
    # part runs with --epochs 4 too, stopped by --stop-after, so the schedule is the same.)
    resumed = tmp_path / "resumed"
    example.main([*tiny, "--epochs", "4", "--stop-after", "2", "--results", str(resumed)])
    assert example.main([*tiny, "--epochs", "4", "--results", str(resumed), "--resume"]) == final
    from tinygrad_be import nn

    a = nn.load(straight / "train_cifar10_state.npz")["model"]
    b = nn.load(resumed / "train_cifar10_state.npz")["model"]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])

    # The best checkpoint loads into the model the script builds.
    model = MLP(24, 32, 10, hidden=(32,), activation="relu", dropout=0.1)
    model.load(straight / "train_cifar10_best.npz")

    # The feature checkpoint maps raw pixels to the last hidden layer, and k-NN runs on it.
    from models.mlp import load_hidden_features

    extract = load_hidden_features(straight / "train_cifar10_features.npz")
    pixels = np.random.default_rng(0).uniform(0, 255, (7, 3072)).astype(np.float32)
    features = extract(pixels)
    assert features.shape == (7, 32) and features.dtype == np.float32
    assert (features >= 0).all()  # ReLU outputs
    knn_example = load_example("knn_cifar10")
    knn_results = tmp_path / "knn_features"
    data_options = ["--root" if option == "--data-root" else option for option in fake_archive]
    knn_example.main([*data_options, "--features", str(straight / "train_cifar10_features.npz"),
                      "--k-max", "3", "--out-dir", str(knn_results)])
    assert (knn_results / "knn.csv").read_text().startswith("k,accuracy")
    with pytest.raises(ValueError, match="not a feature checkpoint"):
        load_hidden_features(straight / "train_cifar10_best.npz")

    # Resuming with different options is refused rather than silently mixing two runs.
    with pytest.raises(ValueError, match="lr"):
        example.main([*tiny, "--epochs", "4", "--lr", "0.3", "--results", str(resumed),
                      "--resume"])
