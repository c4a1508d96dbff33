"""How much does the autograd framework cost against hand-written numpy? Three comparisons.

1. The lab's full-batch step: a 3072-64-10 sigmoid MLP, MSE on one-hot targets, one gradient
   step on 54,000 images (`models.mlp.learn_once_mse` against the handout's hand-derived
   backward pass).
2. The framework's fixed cost per op: forward and backward of `(a @ b).sigmoid().sum()` on 4x4
   float32 tensors, in microseconds (target: at most 4x the hand-written time).
3. One epoch of mini-batch training of a 3072-512-10 ReLU MLP (batch 256, float32, plain SGD,
   softmax cross-entropy) on 50,000 images: `models.mlp.MLP` + `tinygrad_be.optim.SGD` against
   the same network written out in numpy (target: within 10%).

The data are random (seeded) rows of the shape of CIFAR-10 images scaled to [0, 1]: the speed of a
step does not depend on the pixel values (except through subnormal floats, which scaled inputs
avoid; see README). Each comparison alternates the two sides several times and keeps the best
time of each, so another process briefly taking a core does not bias one side. The last line is
the ratio of comparison 3 (framework / hand-written), e.g. `ratio 1.04`.

    python benchmarks/mlp_bench.py            # about a minute on 2 cores
    python benchmarks/mlp_bench.py --quick    # smaller sizes, a few seconds
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

import tinygrad_be
import tinygrad_be.nn.functional as F
from models.mlp import MLP, init_weights, learn_once_mse, one_hot
from tinygrad_be import Tensor, optim


def best_of(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Run each function `repeats` times, alternating between them; the best seconds of each."""
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def report(title: str, times: dict[str, float], unit: str = "ms", target: str = "") -> float:
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    ratio = times["tinygrad_be"] / times["numpy"]
    print(f"{title}")
    print(f"  hand-written numpy {times['numpy'] * scale:10.2f} {unit}")
    print(f"  tinygrad_be        {times['tinygrad_be'] * scale:10.2f} {unit}")
    print(f"  framework / hand-written: {ratio:.2f}{target}")
    return ratio


# --------------------------------------------------------------------------------------------------
# 1. The lab's full-batch step
def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def lab_step_by_hand(w1, b1, w2, b2, data, targets, learning_rate):
    """The handout's step, every derivative written out (the reference the framework replaces)."""
    a1 = sigmoid(data @ w1 + b1)
    a2 = sigmoid(a1 @ w2 + b2)
    loss = np.mean(np.square(a2 - targets))
    d_a2 = 2 * (a2 - targets) / a2.size
    d_z2 = d_a2 * a2 * (1 - a2)
    d_w2 = a1.T @ d_z2
    d_b2 = d_z2.sum(axis=0, keepdims=True)
    d_a1 = d_z2 @ w2.T
    d_z1 = d_a1 * a1 * (1 - a1)
    d_w1 = data.T @ d_z1
    d_b1 = d_z1.sum(axis=0, keepdims=True)
    return (w1 - learning_rate * d_w1, b1 - learning_rate * d_b1,
            w2 - learning_rate * d_w2, b2 - learning_rate * d_b2, float(loss))


def bench_lab_step(n: int, repeats: int, rng: np.random.Generator) -> float:
    data = rng.random((n, 3072), dtype=np.float32)
    targets = one_hot(rng.integers(0, 10, n), 10)
    weights = init_weights(3072, 64, 10, seed=0)
    # Same numbers on both sides, or the comparison would not be of the same computation.
    ours, theirs = learn_once_mse(*weights, data, targets, 0.1), lab_step_by_hand(
        *weights, data, targets, 0.1)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6)
    times = best_of({
        "numpy": lambda: lab_step_by_hand(*weights, data, targets, 0.1),
        "tinygrad_be": lambda: learn_once_mse(*weights, data, targets, 0.1),
    }, repeats)
    return report(f"1. lab step: 3072-64-10 sigmoid MLP, MSE, full batch of {n:,} images",
                  times, "ms")


# --------------------------------------------------------------------------------------------------
# 2. The fixed cost of the framework
def bench_fixed_cost(repeats: int, rng: np.random.Generator) -> float:
    a_np = rng.standard_normal((4, 4), dtype=np.float32)
    b_np = rng.standard_normal((4, 4), dtype=np.float32)
    a = Tensor(a_np, requires_grad=True)
    b = Tensor(b_np, requires_grad=True)

    def by_hand():
        s = 1 / (1 + np.exp(-(a_np @ b_np)))
        s.sum()
        g = s * (1 - s)  # d sum(sigmoid(z)) / dz
        return g @ b_np.T, a_np.T @ g

    def framework():
        a.grad = b.grad = None
        (a @ b).sigmoid().sum().backward()

    framework()
    grad_a, grad_b = by_hand()
    np.testing.assert_allclose(a.grad, grad_a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.grad, grad_b, rtol=1e-5, atol=1e-6)

    calls = 2000
    times = best_of({
        "numpy": lambda: [by_hand() for _ in range(calls)],
        "tinygrad_be": lambda: [framework() for _ in range(calls)],
    }, repeats)
    times = {name: t / calls for name, t in times.items()}
    return report("2. fixed cost: forward + backward of (a @ b).sigmoid().sum(), 4x4 float32",
                  times, "us", target=" (target <= 4)")


# --------------------------------------------------------------------------------------------------
# 3. One epoch of mini-batch training
class HandWrittenMLP:
    """3072-512-10 ReLU MLP in numpy: y = relu(x @ w1 + b1) @ w2 + b2, plain SGD."""

    def __init__(self, model) -> None:
        # Start from copies of the framework model's weights: both sides then compute the same
        # numbers. Linear stores weight as (out, in) (torch's layout); by hand it is (in, out).
        first, second = model[0], model[2]
        self.w1 = np.ascontiguousarray(first.weight.detach().numpy().T)
        self.w2 = np.ascontiguousarray(second.weight.detach().numpy().T)
        self.b1, self.b2 = first.bias.detach().numpy().copy(), second.bias.detach().numpy().copy()

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float:
        n = len(y)
        z1 = x @ self.w1 + self.b1
        h = np.maximum(z1, 0)
        logits = h @ self.w2 + self.b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), y].mean()
        d_logits = np.exp(log_probs)
        d_logits[np.arange(n), y] -= 1
        d_logits /= n
        d_w2 = h.T @ d_logits
        d_b2 = d_logits.sum(axis=0)
        d_z1 = (d_logits @ self.w2.T) * (z1 > 0)
        d_w1 = x.T @ d_z1
        d_b1 = d_z1.sum(axis=0)
        self.w1 -= lr * d_w1
        self.b1 -= lr * d_b1
        self.w2 -= lr * d_w2
        self.b2 -= lr * d_b2
        return float(loss)


def bench_epoch(n: int, repeats: int, rng: np.random.Generator) -> float:
    x = rng.random((n, 3072), dtype=np.float32)
    y = rng.integers(0, 10, n)
    batch, lr = 256, 0.01
    tinygrad_be.manual_seed(0)
    model = MLP(3072, 512, 10, activation="relu")
    optimizer = optim.SGD(model.parameters(), lr=lr)
    by_hand = HandWrittenMLP(model)

    def batches(epoch: int):
        # The same shuffled batches for both sides: the gather is part of an epoch's cost.
        order = np.random.default_rng(epoch).permutation(n)
        for start in range(0, n - batch + 1, batch):
            index = order[start : start + batch]
            yield x[index], y[index]

    def epoch_by_hand(epoch: int = 0) -> float:
        return sum(by_hand.step(xb, yb, lr) for xb, yb in batches(epoch))

    def epoch_framework(epoch: int = 0) -> float:
        total = 0.0
        for xb, yb in batches(epoch):
            loss = F.cross_entropy(model(xb), yb)  # arrays go in without a copy
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        return total

    # One epoch each, checked to give the same losses (to float32 precision) before timing.
    np.testing.assert_allclose(epoch_framework(), epoch_by_hand(), rtol=1e-4)
    times = best_of({"numpy": epoch_by_hand, "tinygrad_be": epoch_framework}, repeats)
    return report(f"3. one epoch: 3072-512-10 ReLU MLP, batch {batch}, float32 SGD, "
                  f"{n:,} images", times, "s", target=" (target <= 1.10)")


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of each side")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    rng = np.random.default_rng(0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs, load average {load:.2f}")
    bench_lab_step(5_400 if args.quick else 54_000, repeats, rng)
    bench_fixed_cost(repeats, rng)
    ratio = bench_epoch(5_120 if args.quick else 50_000, max(repeats // 2, 2), rng)
    print(f"ratio {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    main()
