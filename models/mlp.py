"""The multilayer perceptron: the lab's functions (numpy in, numpy out) and an `MLP` builder.

The lab's network has one hidden layer of `d_h` sigmoid units. Its weights are plain numpy arrays:
`w1` (d_in, d_h), `b1` (1, d_h), `w2` (d_h, d_out), `b2` (1, d_out), and a row of `data` is one
image. Two versions are trained, differing only in the output layer and the loss:

- MSE:            a2 = sigmoid(sigmoid(x @ w1 + b1) @ w2 + b2), loss mean((a2 - one_hot) ** 2)
- cross-entropy:  a2 = softmax(sigmoid(x @ w1 + b1) @ w2 + b2), loss mean(-log a2[label])

No gradient is derived by hand here: each step builds the forward pass with `Tensor`s, calls
`backward()`, and moves every weight against its `.grad`. The functions return new arrays (the
inputs are never modified) in the dtype they were given: float64 weights give float64 results.

>>> w1, b1, w2, b2, loss = learn_once_cross_entropy(w1, b1, w2, b2, x, labels, learning_rate=0.1)
>>> train_accuracies, test_accuracy = run_mlp(x_train, y_train, x_test, y_test, d_h=64,
...                                           learning_rate=0.1, num_epoch=100)

`MLP(...)` builds the same kind of network (any depth, any activation) as a `tinygrad_be.nn`
`Sequential`, for training with mini-batches and the optimizers of `tinygrad_be.optim`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tinygrad_be
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, nn, no_grad
from tinygrad_be.progress import progress_bar

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "MLP",
    "init_weights",
    "learn_once_cross_entropy",
    "learn_once_mse",
    "one_hot",
    "run_mlp",
    "test_mlp",
    "train_mlp",
]

LOSSES = ("cross_entropy", "mse")
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh, "identity": nn.Identity}
OUTPUT_ACTIVATIONS = {
    None: None,
    "sigmoid": nn.Sigmoid,
    "softmax": functools.partial(nn.Softmax, dim=-1),
}
Weights = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


# --------------------------------------------------------------------------------------------------
# Checks shared by the lab's functions
def _check_weights(w1: Any, b1: Any, w2: Any, b2: Any) -> Weights:
    """The four weight arrays as floating numpy arrays, with consistent shapes (else ValueError)."""
    w1, b1, w2, b2 = (np.asarray(w) for w in (w1, b1, w2, b2))
    for name, w in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)):
        if w.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {w.shape}")
        if not np.issubdtype(w.dtype, np.floating):
            raise TypeError(f"{name} must be a floating array, got {w.dtype}")
    d_in, d_h = w1.shape
    if b1.shape != (1, d_h):
        raise ValueError(f"b1 must have shape (1, {d_h}) to match w1 {w1.shape}, got {b1.shape}")
    if w2.shape[0] != d_h:
        raise ValueError(f"w2 {w2.shape} must have {d_h} rows to match w1 {w1.shape}")
    if b2.shape != (1, w2.shape[1]):
        raise ValueError(
            f"b2 must have shape (1, {w2.shape[1]}) to match w2 {w2.shape}, got {b2.shape}"
        )
    return w1, b1, w2, b2


def _check_data(data: Any, w1: np.ndarray, name: str = "data") -> np.ndarray:
    """`data` as a 2-D floating array with w1's number of rows as columns.

    Integer data (e.g. uint8 pixels) is converted to w1's dtype once, here, so the matmul runs
    in BLAS rather than in numpy's slow mixed-type loop.
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d_in), got shape {data.shape}")
    if data.shape[1] != w1.shape[0]:
        raise ValueError(
            f"{name} {data.shape} and w1 {w1.shape}: {name} has {data.shape[1]} columns, "
            f"w1 expects {w1.shape[0]}"
        )
    if not np.issubdtype(data.dtype, np.floating):
        data = data.astype(w1.dtype)
    return data


def _check_labels(
    labels: Any, n: int, num_classes: int, name: str = "labels", data_name: str = "data"
) -> np.ndarray:
    """`labels` as an int array of shape (n,) with values in [0, num_classes)."""
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{name} must be an integer array of shape ({n},) (one per {data_name} row), "
            f"got {labels.dtype} {labels.shape}"
        )
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{name} must lie in [0, {num_classes}) (w2 has {num_classes} outputs), "
            f"got values in [{labels.min()}, {labels.max()}]"
        )
    return labels


# --------------------------------------------------------------------------------------------------
# One step of gradient descent, with autograd
def _logits(params: Sequence[Tensor], data: np.ndarray) -> Tensor:
    """z2 = sigmoid(x @ w1 + b1) @ w2 + b2, shape (n, d_out): the network before its output."""
    w1, b1, w2, b2 = params
    hidden = (tinygrad_be.from_numpy(data) @ w1 + b1).sigmoid()  # shares data: no copy per step
    return hidden @ w2 + b2


def _step(
    weights: Weights, data: np.ndarray, targets: np.ndarray, learning_rate: float, loss_name: str
) -> tuple[Weights, float, np.ndarray]:
    """One gradient-descent step; returns (new weights, loss before the step, logits (n, d_out)).

    `targets` are one-hot rows for "mse" and class indices for "cross_entropy".
    """
    params = [tinygrad_be.from_numpy(w).requires_grad_() for w in weights]
    logits = _logits(params, data)
    if loss_name == "mse":
        loss = F.mse_loss(logits.sigmoid(), targets)
    else:
        # The fused loss = softmax followed by the mean negative log-likelihood, computed stably.
        loss = F.cross_entropy(logits, targets)
    loss.backward()
    # `w - lr * grad` with a Python float keeps w's dtype (numpy's rules for scalars).
    new_weights = tuple(w - learning_rate * p.grad._data for w, p in zip(weights, params, strict=True))
    return new_weights, float(loss.item()), logits._data  # type: ignore[return-value]


def learn_once_mse(
    w1: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    b2: np.ndarray,
    data: np.ndarray,
    targets: np.ndarray,
    learning_rate: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """One gradient-descent step on mean((a2 - targets) ** 2), a2 = sigmoid(sigmoid(x@w1+b1)@w2+b2).

    data (n, d_in); targets (n, d_out), e.g. `one_hot(labels, d_out)`. The mean runs over all
    n * d_out entries. Returns the updated (w1, b1, w2, b2) and the loss of this forward pass
    (before the update) as a Python float.
    """
    w1, b1, w2, b2 = _check_weights(w1, b1, w2, b2)
    data = _check_data(data, w1)
    targets = np.asarray(targets)
    if targets.shape != (data.shape[0], w2.shape[1]):
        raise ValueError(
            f"targets must have shape {(data.shape[0], w2.shape[1])} (n rows of data, d_out "
            f"columns of w2), got {targets.shape}"
        )
    if not np.issubdtype(targets.dtype, np.floating):
        targets = targets.astype(w2.dtype)
    weights, loss, _ = _step((w1, b1, w2, b2), data, targets, learning_rate, "mse")
    return (*weights, loss)


def one_hot(labels: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Class indices (n,) -> one-hot matrix (n, C) float32, C = num_classes or max(labels) + 1.

    Row i is all zeros except a one in column labels[i]. Labels must be non-negative integers
    below num_classes (ValueError otherwise).
    """
    return F.one_hot(labels, num_classes)._data


def learn_once_cross_entropy(
    w1: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    b2: np.ndarray,
    data: np.ndarray,
    labels_train: np.ndarray,
    learning_rate: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """One gradient-descent step on the mean cross-entropy of a2 = softmax(sigmoid(x@w1+b1)@w2+b2).

    data (n, d_in); labels_train int (n,). The number of classes is w2's number of columns (not
    the largest label seen). Returns the updated (w1, b1, w2, b2) and the loss of this forward pass
    (before the update) as a Python float.
    """
    w1, b1, w2, b2 = _check_weights(w1, b1, w2, b2)
    data = _check_data(data, w1)
    labels = _check_labels(labels_train, data.shape[0], w2.shape[1], "labels_train")
    weights, loss, _ = _step((w1, b1, w2, b2), data, labels, learning_rate, "cross_entropy")
    return (*weights, loss)


# --------------------------------------------------------------------------------------------------
# Training and testing
def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest output is the label (sigmoid and softmax keep the argmax)."""
    return float(np.mean(logits.argmax(axis=1) == labels)) if len(labels) else float("nan")


def train_mlp(
    w1: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    b2: np.ndarray,
    data_train: np.ndarray,
    labels_train: np.ndarray,
    learning_rate: float,
    num_epoch: int,
    *,
    loss: str = "cross_entropy",
    progress: bool = False,
    desc: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """Full-batch gradient descent: one step per epoch on all of data_train (n, d_in).

    loss: "cross_entropy" (the lab's `train_mlp`: softmax output) or "mse" (sigmoid output against
    one-hot targets, as `learn_once_mse`). Records the training accuracy of each epoch's forward
    pass, i.e. of the weights before that epoch's update. progress: show a progress bar with the
    current loss (desc: its label).
    Returns the final (w1, b1, w2, b2) and the list of `num_epoch` training accuracies.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if int(num_epoch) != num_epoch or num_epoch < 0:
        raise ValueError(f"num_epoch must be a non-negative integer, got {num_epoch!r}")
    weights = _check_weights(w1, b1, w2, b2)
    data = _check_data(data_train, weights[0], "data_train")
    d_out = weights[2].shape[1]
    labels = _check_labels(labels_train, data.shape[0], d_out, "labels_train", "data_train")
    # Built once, not every epoch: one-hot rows in the weights' dtype, so MSE stays in that dtype.
    targets = one_hot(labels, d_out).astype(weights[2].dtype) if loss == "mse" else labels

    accuracies: list[float] = []
    bar = progress_bar(range(int(num_epoch)), desc=desc or loss, disable=not progress)
    for _ in bar:
        weights, loss_value, logits = _step(weights, data, targets, learning_rate, loss)
        accuracies.append(_accuracy(logits, labels))
        bar.set_postfix(loss=f"{loss_value:.4f}", acc=f"{accuracies[-1]:.3f}")
    bar.close()
    return (*weights, accuracies)


def test_mlp(
    w1: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    b2: np.ndarray,
    data_test: np.ndarray,
    labels_test: np.ndarray,
) -> float:
    """Accuracy (fraction in [0, 1]) of the network on data_test (n, d_in) with labels (n,).

    The prediction is the output with the largest value; it is the same for the sigmoid (MSE) and
    the softmax (cross-entropy) output layers, which both keep the order of their inputs.
    """
    weights = _check_weights(w1, b1, w2, b2)
    data = _check_data(data_test, weights[0], "data_test")
    labels = _check_labels(labels_test, data.shape[0], weights[2].shape[1], "labels_test", "data_test")
    with no_grad():
        logits = _logits([tinygrad_be.from_numpy(w) for w in weights], data)
    return _accuracy(logits._data, labels)


# The function above is the lab's API, not a pytest test.
test_mlp.__test__ = False  # type: ignore[attr-defined]


def init_weights(
    d_in: int,
    d_h: int,
    d_out: int = 10,
    seed: int | np.random.Generator | None = 0,
    init: str = "uniform",
    dtype: Any = np.float32,
) -> Weights:
    """Fresh (w1, b1, w2, b2) with zero biases.

    init "uniform": weights uniform in +-1/sqrt(fan_in) (fan_in = d_in for w1, d_h for w2), the
    default of `tinygrad_be.nn.Linear` and of torch. init "lab": the handout's `2 * rand - 1`,
    uniform in +-1 whatever the layer's width.
    """
    rng = np.random.default_rng(seed)
    if init == "uniform":
        bound1, bound2 = 1 / np.sqrt(d_in), 1 / np.sqrt(d_h)
    elif init == "lab":
        bound1 = bound2 = 1.0
    else:
        raise ValueError(f"init must be 'uniform' or 'lab', got {init!r}")
    w1 = rng.uniform(-bound1, bound1, size=(d_in, d_h)).astype(dtype)
    w2 = rng.uniform(-bound2, bound2, size=(d_h, d_out)).astype(dtype)
    return w1, np.zeros((1, d_h), dtype), w2, np.zeros((1, d_out), dtype)


def run_mlp(
    data_train: np.ndarray,
    labels_train: np.ndarray,
    data_test: np.ndarray,
    labels_test: np.ndarray,
    d_h: int,
    learning_rate: float,
    num_epoch: int,
    d_out: int = 10,
    seed: int | np.random.Generator | None = 0,
    init: str = "uniform",
    *,
    loss: str = "cross_entropy",
    progress: bool = False,
    desc: str | None = None,
) -> tuple[list[float], float]:
    """Initialise a fresh network (see `init_weights`), train it with `train_mlp`, test it.

    The weights take the dtype of data_train when it is floating (float32 otherwise). loss,
    progress and desc are passed to `train_mlp`.
    Returns (train_accuracies: list of num_epoch floats, test_accuracy: float).
    """
    data_train = np.asarray(data_train)
    if data_train.ndim != 2:
        raise ValueError(f"data_train must be 2-D (n, d_in), got shape {data_train.shape}")
    dtype = data_train.dtype if np.issubdtype(data_train.dtype, np.floating) else np.float32
    weights = init_weights(data_train.shape[1], d_h, d_out, seed=seed, init=init, dtype=dtype)
    *weights, train_accuracies = train_mlp(
        *weights, data_train, labels_train, learning_rate, num_epoch,
        loss=loss, progress=progress, desc=desc,
    )
    return train_accuracies, test_mlp(*weights, data_test, labels_test)


# --------------------------------------------------------------------------------------------------
# The same network as a tinygrad_be.nn model, any depth
def MLP(  # noqa: N802  (named like the class it stands for: it builds a model)
    d_in: int = 3072,
    d_h: int = 64,
    d_out: int = 10,
    hidden: Sequence[int] = (),
    activation: str = "sigmoid",
    output_activation: str | None = None,
    *,
    dropout: float = 0.0,
    dtype: Any = np.float32,
    rng: np.random.Generator | None = None,
) -> nn.Sequential:
    """A multilayer perceptron as an `nn.Sequential` of `Linear` layers and activations.

    Layer widths: d_in -> d_h -> hidden[0] -> hidden[1] -> ... -> d_out, so `hidden` adds extra
    hidden layers after the first: `MLP(3072, 1024, 10, hidden=(512,), activation="relu")` is
    3072-1024-512-10. Each hidden layer is followed by `activation` ("sigmoid", "relu", "tanh" or
    "identity") and, if `dropout` > 0, by `Dropout(dropout)`. The output layer is followed by
    `output_activation` (None: raw logits, the input `F.cross_entropy` wants; "softmax";
    "sigmoid"). `MLP()` with its defaults is the lab's 3072-64-10 network before its output
    activation. Weights are drawn from `rng` (else the default generator, see
    `tinygrad_be.manual_seed`) as `nn.Linear` draws them, in `dtype`.

    Input (n, d_in) -> output (n, d_out).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(
            f"output_activation must be None, 'softmax' or 'sigmoid', got {output_activation!r}"
        )
    widths = [int(d_in), int(d_h), *(int(h) for h in hidden), int(d_out)]
    if min(widths) <= 0:
        raise ValueError(f"every layer width must be positive, got {widths}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out, dtype=dtype, rng=rng))
        if i < len(widths) - 2:  # a hidden layer
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout, rng=rng))
    output = OUTPUT_ACTIVATIONS[output_activation]
    if output is not None:
        layers.append(output())
    return nn.Sequential(*layers)


def load_hidden_features(path: str | os.PathLike) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping raw CIFAR-10 pixels (n, 3072), 0..255, to a trained MLP's last hidden
    activations (n, h) float32, from a `train_cifar10_features.npz` written by
    `examples/train_cifar10.py`: the pixel scaling, the PCA whitening, then every layer of the
    network but the output one, in eval mode (no dropout). Rows are processed in chunks.
    """
    checkpoint = tinygrad_be.load(path)
    needed = ("model", "whitening", "pixel_scale", "hidden", "dropout", "activation")
    missing = [key for key in needed if key not in checkpoint]
    if missing:
        raise ValueError(
            f"{path} is not a feature checkpoint of examples/train_cifar10.py (missing "
            f"{', '.join(missing)}); use its train_cifar10_features.npz"
        )
    mean = checkpoint["whitening"]["mean"]
    projection = checkpoint["whitening"]["projection"]
    scale = float(checkpoint["pixel_scale"])
    hidden = [int(h) for h in checkpoint["hidden"]]
    weights = [key for key in checkpoint["model"] if key.endswith(".weight")]
    last = checkpoint["model"][max(weights, key=lambda k: int(k.split(".")[0]))]
    # (out, in) as torch; a file from before the format marker holds Linear weights as (in, out)
    d_out = last.shape[1] if isinstance(checkpoint, nn.checkpoint.OldFormatState) else last.shape[0]
    model = MLP(projection.shape[1], hidden[0], d_out, hidden=hidden[1:],
                activation=str(checkpoint["activation"]), dropout=float(checkpoint["dropout"]))
    model.load_state_dict(checkpoint["model"])
    model.eval()
    features = model[:-1]  # drop the output layer: what is left ends with the last activation

    def extract(pixels: np.ndarray, chunk: int = 5000) -> np.ndarray:
        pixels = np.asarray(pixels, dtype=np.float32)
        if pixels.ndim != 2 or pixels.shape[1] != mean.shape[0]:
            raise ValueError(f"features: expected pixels (n, {mean.shape[0]}), got {pixels.shape}")
        out = []
        with no_grad():
            for start in range(0, len(pixels), chunk):
                whitened = (pixels[start : start + chunk] * scale - mean) @ projection
                out.append(features(whitened)._data)
        return np.concatenate(out) if out else np.zeros((0, hidden[-1]), np.float32)

    return extract
