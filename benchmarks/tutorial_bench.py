"""PyTorch's CIFAR-10 tutorial's training epoch, on tinygrad_be and on PyTorch's CPU, in one run.

The tutorial ("Training a Classifier", the 60-minute blitz) trains a small CNN (conv 3->6 5x5,
max-pool 2, conv 6->16 5x5, max-pool 2, linear 400-120-84-10, ReLUs) with cross-entropy and SGD
(lr 0.001, momentum 0.9) on batches of 4 images, each image made a tensor and normalised on its
own (`ToTensor()` then `Normalize((0.5,) * 3, (0.5,) * 3)`) as the DataLoader fetches it.

Ours runs the tutorial's code with `torch` -> `tinygrad_be` and `torchvision` -> `tinygrad_be.vision`.
PyTorch runs the same loop; torchvision is not needed: its per-image transform is written with
torch ops on the same uint8 arrays (what torchvision's ToTensor and Normalize compute on a numpy
image; from a PIL image, as in the tutorial, torchvision has the extra PIL-to-bytes step).

Images: the real CIFAR-10 training set when it is found (`$CIFAR10_ARCHIVE` or the data cache),
else generated uint8 images of CIFAR-10's shape (the time does not depend on the pixels).
A subset of the 50,000-image epoch (`--images`, default 1,024: 256 steps at batch 4) is timed and
the epoch time extrapolated linearly (per-step costs are constant); the output says so. Each time
is the best of `--repeats` runs, ours and torch's alternating, so a busy machine slows both alike.

For each batch size (4, the tutorial's, and 64) three measures are printed, each as wall time and
as this process's CPU time (less disturbed by other work on a busy machine; with more than one
thread it adds the threads up):
- `epoch`: the tutorial's loop, data loading included (num_workers=0 on both sides);
- `epoch nw2`: the same with `num_workers=2`, as the tutorial (our threads, torch's processes);
- `step`: the training step alone, on batches made beforehand.
The last line gives ours/torch for the tutorial's epoch at batch 4 (`ratio 0.93`); without torch
(`import torch` fails) only our times are printed.

    PYTHONPATH=. /work/torchenv/bin/python benchmarks/tutorial_bench.py
    python benchmarks/tutorial_bench.py --profile       # where our time goes (cProfile)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_be
from tinygrad_be.utils.data import Dataset
from tinygrad_be.vision import transforms

try:  # a reference only, never a dependency
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

EPOCH_IMAGES = 50_000


# --------------------------------------------------------------------------------------------------
# The data: uint8 images (N, 32, 32, 3) and labels, real or generated
def training_images(limit: int) -> tuple[np.ndarray, list[int], str]:
    """The first `limit` training images and labels, and where they come from."""
    try:
        from tinygrad_be.vision.datasets import CIFAR10

        dataset = CIFAR10(None, train=True)
        return dataset.data[:limit], dataset.targets[:limit], "the real CIFAR-10"
    except (RuntimeError, FileNotFoundError, ValueError):
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (limit, 32, 32, 3), dtype=np.uint8)
        return images, rng.integers(0, 10, limit).tolist(), "generated images (no CIFAR-10 found)"


class Images(Dataset):
    """(transform(image), label) items of uint8 images: what `CIFAR10(transform=...)` gives."""

    def __init__(self, images: np.ndarray, labels: list[int], transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        return self.transform(self.images[i]), self.labels[i]


# --------------------------------------------------------------------------------------------------
# The tutorial's model and loop, written once against `lib`: tinygrad_be (the tutorial with its
# imports redirected) or torch. Both have these names, so one text serves both sides.
def tutorial(lib: Any, trainset: Any) -> dict[str, Callable[..., float]]:
    """The tutorial's CNN, loss, optimizer and loops on `lib`, training on `trainset`."""
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = lib.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    lib.manual_seed(0)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = lib.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    DataLoader = lib.utils.data.DataLoader  # noqa: N806  (the class, under its usual name)

    def step(inputs, targets) -> float:
        optimizer.zero_grad()
        loss = criterion(net(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    def epoch(batch_size: int, num_workers: int = 0) -> float:
        loader = DataLoader(trainset, batch_size=batch_size, shuffle=True, num_workers=num_workers)
        running_loss = 0.0
        for inputs, targets in loader:
            running_loss += step(inputs, targets)
        return running_loss

    def steps(batches: list) -> float:
        return sum(step(x, y) for x, y in batches)

    def batches(batch_size: int) -> list:
        return list(DataLoader(trainset, batch_size=batch_size))

    return {"epoch": epoch, "steps": steps, "batches": batches}


def ours(images: np.ndarray, labels: list[int]) -> dict[str, Callable[..., float]]:
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])  # fmt: skip
    return tutorial(tinygrad_be, Images(images, labels, transform))


def theirs(images: np.ndarray, labels: list[int]) -> dict[str, Callable[..., float]]:
    """The same on PyTorch; torchvision's per-image transform written with torch ops."""
    mean = torch.tensor([0.5, 0.5, 0.5]).view(-1, 1, 1)
    std = torch.tensor([0.5, 0.5, 0.5]).view(-1, 1, 1)

    def transform(image: np.ndarray):  # torchvision's ToTensor + Normalize on a numpy image
        x = torch.from_numpy(image.transpose(2, 0, 1)).contiguous().to(torch.float32).div(255)
        return x.sub_(mean).div_(std)

    return tutorial(torch, Images(images, labels, transform))


# --------------------------------------------------------------------------------------------------
def best_times(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds of each run: the best of `repeats` calls, the sides alternating so
    that both see the same load of the machine (the best: other work only ever adds time). CPU
    time is this process's (all its threads; not torch's worker processes)."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: (min(w for w, _ in t), min(c for _, c in t)) for name, t in times.items()}


def run(measure: str, side: dict, batch_size: int, made: list) -> Callable[[], object]:
    """What one measure times: the tutorial's epoch (with or without workers), or the steps alone
    on the batches `made` beforehand."""
    if measure == "step":
        return lambda: side["steps"](made)
    workers = 2 if measure == "epoch nw2" else 0
    return lambda: side["epoch"](batch_size, num_workers=workers)


def profile_ours(side: dict, batch_size: int, top: int = 25) -> None:
    """cProfile of our epoch loop: the functions with the most time of their own."""
    profiler = cProfile.Profile()
    profiler.enable()
    side["epoch"](batch_size)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(out.getvalue())


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024, help="images per timed run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each measure")
    parser.add_argument("--batch-sizes", default="4,64")
    parser.add_argument("--no-workers", action="store_true", help="skip the num_workers=2 runs")
    parser.add_argument("--profile", action="store_true", help="profile our batch-4 epoch")
    args = parser.parse_args(argv)
    images, labels, source = training_images(args.images)
    scale = EPOCH_IMAGES / len(images)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(images):,} images of {source}; epoch times extrapolated x{scale:g} to 50,000 "
          f"images; numpy {np.__version__}, {os.cpu_count()} CPUs, load {load:.2f}"
          + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else
             ", torch not importable: ours only"))  # fmt: skip
    sides = {"ours": ours(images, labels)}
    if torch is not None:
        sides["torch"] = theirs(images, labels)
    if args.profile:
        profile_ours(sides["ours"], 4)
        return float("nan")

    ratio = float("nan")
    for b in (int(size) for size in args.batch_sizes.split(",")):
        made = {name: side["batches"](b) for name, side in sides.items()}
        measures = ["epoch", "step"] if args.no_workers else ["epoch", "epoch nw2", "step"]
        for measure in measures:
            runs = {name: run(measure, side, b, made[name]) for name, side in sides.items()}
            best = best_times(runs, args.repeats)
            for kind, k in (("wall", 0), ("cpu", 1)):
                if kind == "cpu" and measure == "epoch nw2":
                    continue  # torch's workers are other processes: their CPU time is not seen
                seconds = {name: times[k] * scale for name, times in best.items()}
                line = "  ".join(f"{name} {s:7.1f} s" for name, s in seconds.items())
                if "torch" in seconds:
                    line += f"  ours/torch {seconds['ours'] / seconds['torch']:.2f}"
                    if b == 4 and measure == "epoch" and kind == "wall":
                        ratio = seconds["ours"] / seconds["torch"]
                print(f"batch {b:3d}  {measure:9s} {kind:4s}  per 50,000-image epoch: {line}",
                      flush=True)  # fmt: skip
    print(f"ratio {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    main()
