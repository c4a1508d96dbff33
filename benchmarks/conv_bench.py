"""How close do the convolutional ops come to their limits? Five comparisons, float32, one run.

1. A 3x3 convolution 64 -> 128 channels on 16x16 maps (padding 1), batch 256, forward + backward
   (input and weight gradients) against the three BLAS GEMMs it needs, timed alone on the same
   shapes: out = cols @ W, dW = colsᵀ @ dout, dcols = dout @ Wᵀ, with cols the (N·16·16, 9·64)
   im2col matrix. That is the limit of the im2col method (target: at most 1.3x).
2. The same for a 3 -> 32 first layer on 32x32 maps: no input gradient, so two GEMMs.
3. max_pool2d 2x2 forward + backward on (256, 64, 32, 32) against a hand-written numpy version
   (reshape into 2x2 windows, argmax, scatter the gradient to the argmax; target: at most 1.2x).
4. batch_norm in training mode, forward + backward, on (256, 64, 32, 32) against the textbook
   numpy version (target: at most 1.2x).
5. A depthwise 3x3 convolution (groups = 128 channels, padding 1) on 16x16 maps, batch 128, forward
   + backward (input and weight gradients) against the same sum over the 9 shifted windows written
   by hand in numpy, and above all against PyTorch's CPU time for the same layer on the same NCHW
   arrays (target: at most 2x PyTorch). The next line times both again on channels-last arrays
   (input and output gradient in NHWC memory, as they arrive inside a network): there our layout
   changes are free and PyTorch runs a kernel of its own.

The framework gets plain C-contiguous NCHW arrays, as a user would hand them over (inside a network
the arrays arrive channels-last and the layout changes are free; here they are paid for), and an
NCHW output gradient. Each side is checked to compute the same numbers before timing; the sides
alternate and the best of `--repeats` runs of each is kept, so a brief load spike does not favour
either; each timed run starts after a 10 ms pause, so that no side pays for the threads another
left spinning. If PyTorch is importable (it is not a dependency), its CPU time for the same layer is
printed as a reference. Large arrays are served from warm memory for every side alike
(`tinygrad_be.memory.retain_freed_memory`, as the CNN recipe does). The last line is the ratio of
comparison 1, e.g. `ratio 1.18`.

    python benchmarks/conv_bench.py              # about 15 seconds on 2 cores
    python benchmarks/conv_bench.py --quick      # smaller batches, a few seconds (a smoke test)

Comparison 5's target is against PyTorch, so run it where torch imports, e.g. a PyTorch venv's python
with this repository on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor
from tinygrad_be.memory import retain_freed_memory

try:  # a reference only, never a dependency
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

EPS = 1e-5
MOMENTUM = 0.1


# Pause before each timed call: PyTorch's OpenMP worker threads keep spinning for milliseconds
# after a call returns, and would otherwise take the cores from whichever side runs next (measured:
# our depthwise layer 17.7 ms after a 10 ms pause, 23.8 ms straight after PyTorch's).
SETTLE_SECONDS = 0.01


def best_of(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Run each function `repeats` times, alternating between them; the best seconds of each."""
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):
        for name, fn in functions.items():
            time.sleep(SETTLE_SECONDS)
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def report(title: str, baseline: str, times: dict[str, float]) -> float:
    """Print one comparison (ms, and the framework / baseline ratio); return the ratio."""
    ratio = times["tinygrad_be"] / times["baseline"]
    torch_ms = f"{times['torch'] * 1e3:9.1f} ms" if "torch" in times else f"{'-':>12}"
    print(
        f"{title:<53} {baseline:<14} {times['baseline'] * 1e3:9.1f} ms "
        f"{times['tinygrad_be'] * 1e3:9.1f} ms {ratio:6.2f} {torch_ms}"
    )
    return ratio


def im2col(x: np.ndarray, kernel: int, padding: int) -> np.ndarray:
    """(N·Ho·Wo, kernel²·C) columns of an NCHW array (stride 1), rows in NHWC order."""
    padded = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (padding,) * 2, (padding,) * 2, (0, 0)))
    windows = sliding_window_view(padded, (kernel, kernel), axis=(1, 2))  # (N, Ho, Wo, C, k, k)
    n, ho, wo = windows.shape[:3]
    return np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(n * ho * wo, -1)


# --------------------------------------------------------------------------------------------------
# 1 and 2. Convolution against its GEMMs
def bench_conv(
    title: str,
    batch: int,
    c_in: int,
    c_out: int,
    size: int,
    input_grad: bool,
    repeats: int,
    rng: np.random.Generator,
) -> float:
    x = rng.standard_normal((batch, c_in, size, size), dtype=np.float32)
    w = rng.standard_normal((c_out, c_in, 3, 3), dtype=np.float32) / np.float32(np.sqrt(9 * c_in))
    g = rng.standard_normal((batch, c_out, size, size), dtype=np.float32)

    # The GEMMs alone, on matrices of exactly the conv's shapes (cols: the real im2col of x).
    cols = im2col(x, 3, 1)  # (N·H·W, 9·C_in)
    w_matrix = np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(-1, c_out)  # (9·C_in, C_out)
    g_rows = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).reshape(-1, c_out)  # (N·H·W, C_out)

    def gemms() -> None:
        cols @ w_matrix
        cols.T @ g_rows
        if input_grad:
            g_rows @ w_matrix.T

    x_tensor = Tensor(x, requires_grad=input_grad)
    w_tensor = Tensor(w, requires_grad=True)

    def framework() -> Tensor:
        x_tensor.grad = w_tensor.grad = None
        out = F.conv2d(x_tensor, w_tensor, padding=1)
        out.backward(g)
        return out

    # Same numbers: the conv's output and weight gradient are those GEMMs' products.
    out = framework()
    expected = (cols @ w_matrix).reshape(batch, size, size, c_out).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-3, atol=1e-3)
    grad_w = (cols.T @ g_rows).reshape(3, 3, c_in, c_out).transpose(3, 2, 0, 1)
    np.testing.assert_allclose(w_tensor.grad, grad_w, rtol=1e-3, atol=1e-2)
    assert (x_tensor.grad is not None) == input_grad

    sides: dict[str, Callable[[], object]] = {"baseline": gemms, "tinygrad_be": framework}
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(input_grad)
        tw = torch.from_numpy(w).requires_grad_(True)
        tg = torch.from_numpy(g)

        def by_torch() -> None:
            tx.grad = tw.grad = None
            torch.nn.functional.conv2d(tx, tw, padding=1).backward(tg)

        by_torch()
        np.testing.assert_allclose(tw.grad.numpy(), w_tensor.grad, rtol=1e-3, atol=1e-2)
        if input_grad:
            np.testing.assert_allclose(tx.grad.numpy(), x_tensor.grad, rtol=1e-3, atol=1e-3)
        sides["torch"] = by_torch
    times = best_of(sides, repeats)
    return report(title, f"{2 + input_grad} GEMMs alone", times)


# --------------------------------------------------------------------------------------------------
# 3. Max-pool 2x2
def max_pool_by_hand(x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 / stride 2 max-pool forward and backward in numpy: windows by reshape, argmax mask."""
    n, c, h, w = x.shape
    windows = (
        x.reshape(n, c, h // 2, 2, w // 2, 2)
        .transpose(0, 1, 2, 4, 3, 5)
        .reshape(n, c, h // 2, w // 2, 4)
    )
    index = windows.argmax(axis=-1)[..., None]  # the first maximum of each window
    out = np.take_along_axis(windows, index, axis=-1)[..., 0]
    grad_windows = np.zeros_like(windows)
    np.put_along_axis(grad_windows, index, g[..., None], axis=-1)
    grad_x = grad_windows.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return out, grad_x.reshape(n, c, h, w)


def bench_max_pool(shape: tuple[int, ...], repeats: int, rng: np.random.Generator) -> float:
    x = rng.standard_normal(shape, dtype=np.float32)
    n, c, h, w = shape
    g = rng.standard_normal((n, c, h // 2, w // 2), dtype=np.float32)
    x_tensor = Tensor(x, requires_grad=True)

    def framework() -> Tensor:
        x_tensor.grad = None
        out = F.max_pool2d(x_tensor, 2)
        out.backward(g)
        return out

    out, grad_x = max_pool_by_hand(x, g)
    np.testing.assert_array_equal(framework().detach().numpy(), out)
    np.testing.assert_array_equal(x_tensor.grad, grad_x)
    sides: dict[str, Callable[[], object]] = {
        "baseline": lambda: max_pool_by_hand(x, g),
        "tinygrad_be": framework,
    }
    if torch is not None:
        tx, tg = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(g)

        def by_torch() -> None:
            tx.grad = None
            torch.nn.functional.max_pool2d(tx, 2).backward(tg)

        sides["torch"] = by_torch
    times = best_of(sides, repeats)
    return report(f"3. max_pool2d 2x2, {shape}, fwd+bwd", "numpy by hand", times)


# --------------------------------------------------------------------------------------------------
# 4. Batch norm (training)
def batch_norm_by_hand(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    g: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Textbook batch norm over (N, H, W) per channel, forward and backward, NCHW throughout."""
    axes = (0, 2, 3)
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(var + np.float32(EPS))
    x_hat = centred * inv_std
    out = gamma[:, None, None] * x_hat + beta[:, None, None]
    running_mean *= 1 - MOMENTUM
    running_mean += MOMENTUM * mean.ravel()
    running_var *= 1 - MOMENTUM
    running_var += MOMENTUM * var.ravel() * (m / (m - 1))
    grad_beta = g.sum(axis=axes)
    grad_gamma = (g * x_hat).sum(axis=axes)
    grad_x = (gamma[:, None, None] * inv_std / m) * (
        m * g - grad_beta[:, None, None] - x_hat * grad_gamma[:, None, None]
    )
    return out, grad_x, grad_gamma, grad_beta


def bench_batch_norm(shape: tuple[int, ...], repeats: int, rng: np.random.Generator) -> float:
    c = shape[1]
    x = rng.normal(1.0, 2.0, shape).astype(np.float32)
    g = rng.standard_normal(shape, dtype=np.float32)
    gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
    beta = rng.standard_normal(c, dtype=np.float32)
    stats = {side: (np.zeros(c, np.float32), np.ones(c, np.float32)) for side in ("hand", "ours")}
    x_tensor = Tensor(x, requires_grad=True)
    gamma_tensor, beta_tensor = Tensor(gamma, requires_grad=True), Tensor(beta, requires_grad=True)

    def framework() -> Tensor:
        x_tensor.grad = gamma_tensor.grad = beta_tensor.grad = None
        out = F.batch_norm(
            x_tensor,
            *stats["ours"],
            gamma_tensor,
            beta_tensor,
            training=True,
            momentum=MOMENTUM,
            eps=EPS,
        )
        out.backward(g)
        return out

    def by_hand() -> tuple[np.ndarray, ...]:
        return batch_norm_by_hand(x, gamma, beta, *stats["hand"], g)

    out, grad_x, grad_gamma, grad_beta = by_hand()
    np.testing.assert_allclose(framework().detach().numpy(), out, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x_tensor.grad, grad_x, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(gamma_tensor.grad, grad_gamma, rtol=1e-3, atol=1e-1)
    np.testing.assert_allclose(beta_tensor.grad, grad_beta, rtol=1e-3, atol=1e-1)
    for ours, hand in zip(stats["ours"], stats["hand"], strict=True):
        np.testing.assert_allclose(ours, hand, rtol=1e-4, atol=1e-5)
    sides: dict[str, Callable[[], object]] = {"baseline": by_hand, "tinygrad_be": framework}
    if torch is not None:
        tx, tg = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(g)
        tgamma = torch.from_numpy(gamma).requires_grad_(True)
        tbeta = torch.from_numpy(beta).requires_grad_(True)
        tmean, tvar = torch.zeros(c), torch.ones(c)

        def by_torch() -> None:
            tx.grad = tgamma.grad = tbeta.grad = None
            out = torch.nn.functional.batch_norm(
                tx, tmean, tvar, tgamma, tbeta, training=True, momentum=MOMENTUM, eps=EPS
            )
            out.backward(tg)

        sides["torch"] = by_torch
    times = best_of(sides, repeats)
    return report(f"4. batch_norm (training), {shape}, fwd+bwd", "numpy by hand", times)


# --------------------------------------------------------------------------------------------------
# 5. Depthwise convolution
def depthwise_by_hand(
    x: np.ndarray, w: np.ndarray, g: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3x3 depthwise convolution (padding 1) forward and backward in numpy, NCHW throughout: a sum
    over the 9 shifted windows of the padded input, each a vectorised multiply-add."""
    n, c, h, width = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    taps = w[:, 0, :, :, None, None]  # (C, 3, 3, 1, 1): broadcasts over (N, C, H, W)
    out = np.zeros_like(x)
    grad_padded = np.zeros_like(padded)
    grad_w = np.empty_like(w)
    for i in range(3):
        for j in range(3):
            window = padded[:, :, i : i + h, j : j + width]
            out += window * taps[:, i, j]
            grad_padded[:, :, i : i + h, j : j + width] += g * taps[:, i, j]
            grad_w[:, 0, i, j] = np.einsum("nchw,nchw->c", window, g)
    return out, grad_padded[:, :, 1:-1, 1:-1], grad_w


def bench_depthwise(
    batch: int, channels: int, size: int, repeats: int, rng: np.random.Generator
) -> float:
    x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
    w = rng.standard_normal((channels, 1, 3, 3), dtype=np.float32) / np.float32(3)
    g = rng.standard_normal((batch, channels, size, size), dtype=np.float32)

    def channels_last(a: np.ndarray) -> np.ndarray:  # the same values, NHWC memory
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)

    def ours(x: np.ndarray, g: np.ndarray) -> Callable[[], Tensor]:
        x_tensor, w_tensor = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)

        def step() -> Tensor:
            x_tensor.grad = w_tensor.grad = None
            out = F.conv2d(x_tensor, w_tensor, padding=1, groups=channels)
            out.backward(g)
            return out

        out, grad_x, grad_w = depthwise_by_hand(x, w, g)
        np.testing.assert_allclose(step().detach().numpy(), out, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(x_tensor.grad, grad_x, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(w_tensor.grad, grad_w, rtol=1e-3, atol=1e-2)
        return step

    x_last, g_last = channels_last(x), channels_last(g)
    sides: dict[str, Callable[[], object]] = {
        "baseline": lambda: depthwise_by_hand(x, w, g),
        "tinygrad_be": ours(x, g),
        "tinygrad_be channels-last": ours(x_last, g_last),
    }
    if torch is not None:
        _, grad_x, grad_w = depthwise_by_hand(x, w, g)

        def theirs(x: np.ndarray, g: np.ndarray) -> Callable[[], None]:
            tx, tw = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(w).requires_grad_(True)
            tg = torch.from_numpy(g)

            def step() -> None:
                tx.grad = tw.grad = None
                torch.nn.functional.conv2d(tx, tw, padding=1, groups=channels).backward(tg)

            step()
            np.testing.assert_allclose(tx.grad.numpy(), grad_x, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(tw.grad.numpy(), grad_w, rtol=1e-3, atol=1e-2)
            return step

        # torch.from_numpy keeps the strides: the channels-last arrays are channels_last tensors
        sides["torch"] = theirs(x, g)
        sides["torch channels-last"] = theirs(x_last, g_last)
    times = best_of(sides, repeats)
    title = f"5. depthwise 3x3, {channels} ch, {size}x{size}, batch {batch} (dx, dW)"
    report(title, "numpy by hand", times)
    if torch is None:
        print(f"   depthwise on channels-last arrays: {times['tinygrad_be channels-last'] * 1e3:.1f} ms")
        return float("nan")
    ratio = times["tinygrad_be"] / times["torch"]
    last = times["tinygrad_be channels-last"] / times["torch channels-last"]
    print(
        f"   depthwise: tinygrad_be / torch = {ratio:.2f} (target <= 2) on NCHW arrays; on "
        f"channels-last arrays {times['tinygrad_be channels-last'] * 1e3:.1f} ms / "
        f"{times['torch channels-last'] * 1e3:.1f} ms = {last:.2f}"
    )
    return ratio


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches (a smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of each side")
    args = parser.parse_args(argv)
    retain_freed_memory()  # as in a training loop (examples/cnn_cifar10.py); for every side alike
    repeats = args.repeats or (2 if args.quick else 5)
    batch = 16 if args.quick else 256
    rng = np.random.default_rng(0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    reference = (
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else "no torch"
    )
    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs, load average {load:.2f}, {reference}")
    print(
        f"{'float32, forward + backward':<53} {'baseline':<14} {'its time':>12} "
        f"{'tinygrad_be':>12} {'ratio':>6} {'torch':>12}"
    )
    ratio = bench_conv(
        f"1. conv 3x3 64->128, 16x16, batch {batch} (dx, dW)",
        batch,
        64,
        128,
        16,
        True,
        repeats,
        rng,
    )
    bench_conv(
        f"2. conv 3x3 3->32, 32x32, batch {batch} (dW only)", batch, 3, 32, 32, False, repeats, rng
    )
    bench_max_pool((batch, 64, 32, 32), repeats, rng)
    bench_batch_norm((batch, 64, 32, 32), repeats, rng)
    bench_depthwise(batch // 2, 128, 16, repeats, rng)
    print(
        "targets: conv (1) <= 1.3 x its GEMMs; max-pool and batch norm <= 1.2 x numpy by hand; "
        "depthwise (5) <= 2 x torch"
    )
    print(f"ratio {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    main()
