"""The GPU targets in one run (issue 18), for a machine with an NVIDIA GPU and CuPy: about 10 minutes.

    python benchmarks/gpu_bench.py                     # everything below
    python benchmarks/gpu_bench.py --archive cifar-10-python.tar.gz   # the recipe on real data
    python benchmarks/gpu_bench.py --fake --quick      # smoke test of this script on a CPU

1. tests: tests/test_backend.py with its real "cuda" cases (they must run, not skip), then the
   whole suite;
2. the CNN recipe's training step (CifarNet 32,64,128, batch 512, SGD Nesterov, label smoothing)
   on "cuda" against PyTorch's eager float32 step of the same network on the same GPU, TF32 off
   (target: ours <= 3 x torch);
3. the k-NN sweep k = 1..20 of 10,000 test rows against 50,000 training rows of 3,072 features
   (CIFAR-10's size, generated data) on "cuda" (target: <= 1 s), and its agreement with the CPU;
4. `examples/cnn_cifar10.py --device cuda` on CIFAR-10 when an archive is given (target: the CPU
   recipe's accuracy, about 86%, in <= 2 minutes).

Each part prints its figures and the ratio to its target; a missing piece (CuPy, PyTorch with
CUDA, the data) is reported and that part skipped. `--fake` runs on tests/fake_cupy.py (numpy
behind CuPy's rules) to check the script itself: its times mean nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from cnn_bench import torch_step  # noqa: E402

import tinygrad_be  # noqa: E402
import tinygrad_be.nn.functional as F  # noqa: E402
from models.cnn import CifarNet  # noqa: E402
from models.knn import KNN  # noqa: E402
from tinygrad_be import backend, optim  # noqa: E402


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def synchronize() -> None:
    backend.cuda_module("gpu_bench").cuda.Device().synchronize()


def median_seconds(fn: Callable[[], object], steps: int, sync: Callable[[], None]) -> float:
    """Median wall time of `steps` calls after two warm-up calls, waiting for the GPU each time."""
    for _ in range(2):
        fn()
    sync()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def load_torch() -> object | None:
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: no comparison")
        return None
    if not torch.cuda.is_available():
        print(f"PyTorch {torch.__version__} sees no GPU: no comparison")
        return None
    torch.backends.cuda.matmul.allow_tf32 = False  # plain float32, as ours
    torch.backends.cudnn.allow_tf32 = False
    return torch


def environment(fake: bool) -> None:
    section("environment")
    cupy = backend.cuda_module("gpu_bench")
    if fake:
        print("fake CuPy (tests/fake_cupy.py): checks the script only, times mean nothing")
        return
    props = cupy.cuda.runtime.getDeviceProperties(0)
    free, total = cupy.cuda.Device().mem_info
    print(
        f"CuPy {cupy.__version__}, GPU {props['name'].decode()}, {total / 2**30:.0f} GiB "
        f"({free / 2**30:.0f} free), numpy {np.__version__}, {os.cpu_count()} CPUs"
    )


def run_tests(timeout: int) -> None:
    section("1. tests")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
               "tests/test_backend.py"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    lines = result.stdout.strip().splitlines()
    skipped_cuda = [line for line in lines if "SKIPPED" in line and "[cuda" in line]
    print("\n".join(lines[-3:]))
    print(
        f"tests/test_backend.py: exit {result.returncode}; real-cuda cases skipped: "
        f"{len(skipped_cuda)} (target 0)"
    )
    for line in skipped_cuda[:3]:
        print("  " + line)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"],
                            cwd=ROOT, capture_output=True, text=True, timeout=timeout)  # fmt: skip
    print(
        "whole suite: "
        + (result.stdout.strip().splitlines() or ["(no output)"])[-1]
        + f" (exit {result.returncode})"
    )


def cnn_step(batch: int, widths: tuple[int, int, int], steps: int, fake: bool) -> None:
    section(f"2. CNN training step, batch {batch}, widths {widths}")
    rng = np.random.default_rng(0)
    x_host = rng.normal(size=(batch, 3, 32, 32)).astype(np.float32)
    y_host = rng.integers(0, 10, batch)
    tinygrad_be.manual_seed(0)
    model = CifarNet(widths)
    model.fit_whitening(x_host)
    model.to("cuda")
    x, y = tinygrad_be.tensor(x_host, device="cuda"), tinygrad_be.tensor(y_host, device="cuda")
    optimizer = optim.SGD(model.trainable_parameters(), lr=0.05, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)  # fmt: skip

    def ours() -> None:
        loss = F.cross_entropy(model(x), y, label_smoothing=0.2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    seconds = median_seconds(ours, steps, synchronize)
    print(
        f"  tinygrad_be (cuda)   {seconds * 1e3:8.1f} ms per step  {batch / seconds:8.0f} images/s"
    )
    torch = None if fake else load_torch()
    if torch is None:
        return
    step = torch_step(widths, batch, channels_last=False, device="cuda")  # cnn_bench's network
    torch_seconds = median_seconds(step, steps, torch.cuda.synchronize)
    print(
        f"  torch eager fp32     {torch_seconds * 1e3:8.1f} ms per step  "
        f"{batch / torch_seconds:8.0f} images/s"
    )
    print(f"ratio {seconds / torch_seconds:.2f} (ours / torch; target <= 3)")


def knn_sweep(n_train: int, n_test: int, dim: int) -> None:
    section(f"3. k-NN sweep k = 1..20, {n_test:,} test x {n_train:,} train x {dim} features")
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (n_train, dim)).astype(np.float32)  # pixel-like values
    test = rng.integers(0, 256, (n_test, dim)).astype(np.float32)
    labels = rng.integers(0, 10, n_train)
    ks = range(1, 21)
    model = KNN(device="cuda").fit(train, labels)
    model.predict_sweep(test[:256], ks)  # warm-up: CuPy compiles its kernels once
    synchronize()
    start = time.perf_counter()
    predictions = model.predict_sweep(test, ks)
    seconds = time.perf_counter() - start
    print(f"  cuda: {seconds:.3f} s for the sweep (target <= 1 s; ratio {seconds / 1.0:.2f})")
    check = min(200, n_test)
    cpu = KNN().fit(train, labels).predict_sweep(test[:check], ks)
    agree = float((cpu == predictions[:, :check]).mean())
    print(
        f"  agreement with the CPU on the first {check} test rows: {agree:.4f} (float32 "
        "matmuls may round near-ties differently)"
    )


def cnn_recipe(archive: str | None, timeout: int) -> None:
    section("4. examples/cnn_cifar10.py --device cuda")
    if archive is None and not os.environ.get("CIFAR10_ARCHIVE"):
        print("no CIFAR-10 archive (--archive or $CIFAR10_ARCHIVE): skipped")
        return
    command = [sys.executable, "examples/cnn_cifar10.py", "--device", "cuda", "--results",
               "/tmp/gpu_bench_results"]  # fmt: skip
    if archive is not None:
        command += ["--archive", archive, "--checksum", "skip"]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    print("\n".join((result.stdout + result.stderr).strip().splitlines()[-6:]))
    print(f"wall time {seconds:.0f} s, exit {result.returncode} (target: ~86% in <= 120 s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--fake", action="store_true", help="run on tests/fake_cupy.py (no GPU)")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--archive", default=None, help="CIFAR-10 archive for the recipe")
    parser.add_argument("--timeout", type=int, default=240, help="seconds per subprocess")
    args = parser.parse_args(argv)
    if args.fake:
        import fake_cupy

        backend._import_cupy = lambda: (fake_cupy, fake_cupy.cupyx)
    try:
        environment(args.fake)
    except RuntimeError as error:
        sys.exit(f"gpu_bench: {error}")
    if not args.skip_tests:
        run_tests(args.timeout)
    if args.quick:
        cnn_step(32, (8, 16, 16), 2, args.fake)
        knn_sweep(2_000, 300, 64)
    else:
        cnn_step(512, (32, 64, 128), 10, args.fake)
        knn_sweep(50_000, 10_000, 3072)
    cnn_recipe(args.archive, args.timeout)


if __name__ == "__main__":
    main()
