"""Train a small classifier with raw Tensors on data this script generates.

Three interleaved spirals in 2-D, a 2 -> 64 -> 3 network written out by hand (weights are plain
Tensors), softmax cross-entropy, full-batch gradient descent. Prints the loss as it falls and the
final accuracy. Runs in a few seconds:

    python examples/quickstart.py
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, no_grad


def make_spirals(n_per_class: int, n_classes: int, rng: np.random.Generator):
    """Points on `n_classes` noisy spiral arms: x (n, 2) float32, y (n,) int64."""
    radius = np.tile(np.linspace(0.05, 1.0, n_per_class), n_classes)
    arm = np.repeat(np.arange(n_classes), n_per_class)
    angle = arm * 2 * np.pi / n_classes + radius * 4.0 + rng.normal(0, 0.15, radius.shape)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)
    return x, arm.astype(np.int64)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    x, y = make_spirals(200, 3, rng)
    inputs = Tensor(x)

    def uniform(fan_in: int, shape: tuple[int, ...]) -> Tensor:
        bound = 1 / np.sqrt(fan_in)
        return Tensor(rng.uniform(-bound, bound, shape).astype(np.float32), requires_grad=True)

    w1, b1 = uniform(2, (2, args.hidden)), uniform(2, (args.hidden,))
    w2, b2 = uniform(args.hidden, (args.hidden, 3)), uniform(args.hidden, (3,))
    params = [w1, b1, w2, b2]

    for step in range(args.steps + 1):
        logits = (inputs @ w1 + b1).tanh() @ w2 + b2
        loss = F.cross_entropy(logits, y)
        for p in params:
            p.grad = None
        loss.backward()
        with no_grad():
            for p in params:
                p -= args.lr * p.grad
        if step % (args.steps // 10 or 1) == 0:
            print(f"step {step:5d}  loss {loss.item():.4f}")

    with no_grad():
        predictions = ((inputs @ w1 + b1).tanh() @ w2 + b2).argmax(axis=1).numpy()
    accuracy = float((predictions == y).mean())
    print(f"final accuracy {accuracy:.3f} on {len(y)} points (chance 0.333)")
    return accuracy


if __name__ == "__main__":
    main()
