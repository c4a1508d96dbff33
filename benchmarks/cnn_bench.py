"""The CNN recipe's training step: how fast against its GEMMs, and against PyTorch's CPU step.

One training step of `models.cnn.CifarNet` (the network of `examples/cnn_cifar10.py`): forward,
label-smoothed cross-entropy, backward, SGD with Nesterov momentum, on a batch of random float32
images. Measured in the same run:

1. our step, in images per second;
2. the GEMMs alone that the step's convolutions need (for each convolution: the forward GEMM, the
   weight-gradient GEMM and, where the input needs a gradient, the input-gradient GEMM, on the
   shapes the network uses): the floor of the im2col method, so `ours / GEMMs` is the overhead of
   everything else (im2col copies, col2im, batch norm, pooling, ReLU, the graph);
3. if PyTorch is importable (it is not a dependency: install it in a scratch environment), its
   CPU step for the same network, in its default NCHW memory format and in channels-last.

Times are the median of `--steps` steps after a warm-up step, the sides alternating. The last line
is our step time over PyTorch's default (NCHW) step, e.g. `ratio 1.52`, or over the GEMMs when
PyTorch is absent.

    python benchmarks/cnn_bench.py                 # batch 512, widths 32,64,128: about a minute
    python benchmarks/cnn_bench.py --quick         # a smoke test in seconds
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

import tinygrad_be
import tinygrad_be.nn.functional as F
from models.cnn import CifarNet, count_flops
from tinygrad_be import nn, optim
from tinygrad_be.memory import retain_freed_memory

try:  # a reference only, never a dependency
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None


def median_times(functions: dict[str, Callable[[], object]], steps: int) -> dict[str, float]:
    """Warm each function up once, then time `steps` calls of each, alternating; the medians."""
    for fn in functions.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(steps):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def our_step(model: CifarNet, batch: int, rng: np.random.Generator) -> Callable[[], object]:
    x = rng.normal(size=(batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    model.fit_whitening(x)
    optimizer = optim.SGD(model.trainable_parameters(), lr=0.05, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)

    def step() -> None:
        loss = F.cross_entropy(model(x), y, label_smoothing=0.2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def conv_output_sizes(model: CifarNet) -> dict[nn.Conv2d, tuple[int, int]]:
    """Each convolution's output (height, width) for 32×32 input, from one forward pass."""
    sizes: dict[nn.Conv2d, tuple[int, int]] = {}
    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d)]

    def recording(layer: nn.Conv2d) -> Callable[[object], object]:
        def forward(x: object) -> object:
            out = type(layer).forward(layer, x)
            sizes[layer] = tuple(out.shape[2:])
            return out

        return forward

    for layer in layers:
        layer.forward = recording(layer)  # type: ignore[method-assign]
    try:
        model(np.zeros((1, 3, 32, 32), np.float32))
    finally:
        for layer in layers:
            del layer.forward
    return sizes


def gemm_step(model: CifarNet, batch: int, rng: np.random.Generator) -> Callable[[], object]:
    """The BLAS GEMMs of every convolution of one training step, on the network's shapes."""
    arrays = []
    for layer, (height, width) in conv_output_sizes(model).items():
        kh, kw = layer.kernel_size
        rows, inner, filters = batch * height * width, kh * kw * layer.in_channels, layer.out_channels
        trained = layer.weight.requires_grad
        # The first group's input comes from the frozen whitening layer: it needs no gradient.
        needs_input = trained and layer is not model.groups[0].conv1
        arrays.append((rng.normal(size=(rows, inner)).astype(np.float32),
                       rng.normal(size=(inner, filters)).astype(np.float32),
                       rng.normal(size=(rows, filters)).astype(np.float32), trained, needs_input))

    def step() -> None:
        for cols, weight, grad, trained, needs_input in arrays:
            cols @ weight
            if trained:
                cols.T @ grad
            if needs_input:
                grad @ weight.T

    return step


def torch_step(
    widths: tuple[int, ...], batch: int, channels_last: bool, device: str = "cpu"
) -> Callable[[], object]:
    """The same network and step in PyTorch on `device` (random weights: only the time matters;
    benchmarks/gpu_bench.py times it on "cuda")."""
    tnn = torch.nn

    def group(a: int, b: int) -> torch.nn.Module:
        return tnn.Sequential(
            tnn.Conv2d(a, b, 3, padding=1, bias=False), tnn.MaxPool2d(2), tnn.BatchNorm2d(b),
            tnn.ReLU(), tnn.Conv2d(b, b, 3, padding=1, bias=False), tnn.BatchNorm2d(b), tnn.ReLU(),
        )  # fmt: skip

    whiten = tnn.Conv2d(3, 24, 2)
    whiten.requires_grad_(False)
    net = tnn.Sequential(whiten, tnn.ReLU(), group(24, widths[0]), group(widths[0], widths[1]),
                         group(widths[1], widths[2]), tnn.AdaptiveMaxPool2d(1), tnn.Flatten(),
                         tnn.Linear(widths[2], 10, bias=False)).to(device)  # fmt: skip
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.05,
                                momentum=0.9, nesterov=True, weight_decay=5e-4)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(net(x) / 8, y, label_smoothing=0.2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--width", default="32,64,128", help="the three group widths")
    parser.add_argument("--steps", type=int, default=7, help="timed steps per side")
    parser.add_argument("--quick", action="store_true", help="batch 32, widths 8,16,16, 2 steps")
    args = parser.parse_args(argv)
    widths = tuple(int(w) for w in args.width.split(","))
    batch, steps = args.batch, args.steps
    if args.quick:
        widths, batch, steps = (8, 16, 16), 32, 2
    retain_freed_memory()  # as the recipe does
    rng = np.random.default_rng(0)
    tinygrad_be.manual_seed(0)
    model = CifarNet(widths)
    functions = {"tinygrad_be": our_step(model, batch, rng), "GEMMs": gemm_step(model, batch, rng)}
    if torch is not None:
        torch.manual_seed(0)
        torch.set_num_threads(os.cpu_count() or 1)
        functions["torch NCHW"] = torch_step(widths, batch, channels_last=False)
        functions["torch channels-last"] = torch_step(widths, batch, channels_last=True)
    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}" + (f", torch {torch.__version__}" if torch else ""))
    print(f"CifarNet widths {widths}: {count_flops(model) / 1e6:.1f} MFLOP per image forward, "
          f"batch {batch}, median of {steps} steps")
    times = median_times(functions, steps)
    ours = times["tinygrad_be"]
    for name, seconds in times.items():
        print(f"  {name:<22} {seconds * 1e3:8.1f} ms per step  {batch / seconds:8.0f} images/s  "
              f"{seconds / ours:5.2f} x ours")
    print(f"  one epoch of 50,000 images at this speed: {50_000 / batch * ours:.0f} s (ours)")
    ratio = ours / times["torch NCHW"] if torch is not None else ours / times["GEMMs"]
    if torch is not None:
        print(f"ours / torch channels-last: {ours / times['torch channels-last']:.2f}; "
              f"ours / GEMMs alone: {ours / times['GEMMs']:.2f}")
        print(f"ratio {ratio:.2f}  (ours / torch's default NCHW step)")
    else:
        print(f"ratio {ratio:.2f}  (ours / the GEMMs alone; PyTorch not installed)")
    return ratio


if __name__ == "__main__":
    main()
