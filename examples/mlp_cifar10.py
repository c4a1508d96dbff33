"""The lab's study: why cross-entropy beats mean squared error for classification, on CIFAR-10.

The lab's network, 3072 -> d_h sigmoid units -> 10 outputs, is trained twice by full-batch gradient
descent (one step per epoch on all training images):

- MSE:            sigmoid outputs, mean squared error against one-hot targets;
- cross-entropy:  softmax outputs, mean negative log-likelihood of the true class.

All 60,000 images are split 90% / 10% (`split_dataset(split=0.9, seed=0)`, as the lab does).
By default the pixels are fed as the lab reads them (raw values 0..255); `--scale` divides them by
255 first. The script prints a table of final train and test accuracy and plots the training
accuracy of every epoch (`results/mlp.png`, or `results/mlp_scaled.png` with `--scale`). With
`--scale` it also draws what the cross-entropy network's hidden units learned,
`results/mlp_weights.png`: the change of each unit's 3072 input weights during training, as a
32x32 colour image scaled to its own min..max (see `write_weights`). (On raw pixels the saturated
first layer hardly learns, so nothing is drawn.)

    python examples/mlp_cifar10.py            # raw pixels, d_h=64, lr=0.1, 100 epochs
    python examples/mlp_cifar10.py --scale    # pixels in [0, 1]

Data: `read_cifar(cifar10_directory())` from `tinygrad_be.datasets` (downloads to ~/.cache/tinygrad_be unless the
CIFAR10_ARCHIVE environment variable or --archive names a local archive).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from models.mlp import init_weights, test_mlp, train_mlp  # noqa: E402
from tinygrad_be import viz  # noqa: E402
from tinygrad_be.datasets import cifar10_directory, read_cifar, split_dataset  # noqa: E402

RUNS = (("mse", "MSE (sigmoid output)"), ("cross_entropy", "cross-entropy (softmax output)"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d-h", type=int, default=64, help="hidden units (default 64)")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--epochs", type=int, default=100, help="full-batch steps (default 100)")
    parser.add_argument("--split", type=float, default=0.9, help="training fraction (default 0.9)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the weights")
    parser.add_argument("--init", choices=("uniform", "lab"), default="uniform",
                        help="weights uniform in +-1/sqrt(fan_in) (default) or the lab's +-1")
    parser.add_argument("--scale", action="store_true", help="divide pixels by 255")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="directory for the data (default ~/.cache/tinygrad_be)")
    parser.add_argument("--archive", type=Path, default=None,
                        help="a local cifar-10-python.tar.gz (default $CIFAR10_ARCHIVE)")
    parser.add_argument("--checksum", default=None,
                        help="md5/sha256 of --archive, or 'skip' (default $CIFAR10_ARCHIVE_CHECKSUM)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the figure (default results/mlp.png, results/mlp_scaled.png)")
    return parser.parse_args(argv)


def load_lab_split(args: argparse.Namespace):
    """All 60,000 images (training batches then test batch, as the lab reads them), split."""
    directory = cifar10_directory(args.data_root, archive=args.archive, checksum=args.checksum)
    data, labels = read_cifar(directory)
    if args.scale:
        data /= 255  # in place: float32 stays float32
    return split_dataset(data, labels, split=args.split, seed=args.seed)


def plot(curves: dict[str, list[float]], tests: dict[str, float], args, path: Path) -> None:
    """Training accuracy per epoch for each run; final test accuracies in the legend."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    epochs = np.arange(1, args.epochs + 1)
    for (loss, label), colour in zip(RUNS, ("tab:red", "tab:blue"), strict=True):
        ax.plot(epochs, curves[loss], color=colour, label=f"{label}: test {tests[loss]:.3f}")
    ax.axhline(0.1, color="grey", linestyle=":", linewidth=1, label="chance (0.100)")
    pixels = "pixels scaled to [0, 1]" if args.scale else "raw pixels (0..255)"
    ax.set_title(f"CIFAR-10, 3072-{args.d_h}-10 sigmoid MLP, full batch, lr={args.lr}, {pixels}")
    ax.set_xlabel("epoch (one full-batch gradient step)")
    ax.set_ylabel("training accuracy")
    ax.set_ylim(0, max(0.5, max(max(c) for c in curves.values()) + 0.05))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    viz.save_figure(fig, path, dpi=120)  # atomically: no half-written file if interrupted
    plt.close(fig)


def write_weights(path: Path, w1_start: np.ndarray, w1: np.ndarray, args) -> None:
    """What each hidden unit learned: the change of its 3072 input weights, w1 - w1_start (a
    column of these (3072, d_h) arrays), as a 32x32 colour image scaled to its own min..max.

    The change, not the weights: in 100 small steps the weights move by about a fifth of their
    random initial size, so the weights themselves still look like noise, while their change,
    the sum of the gradient steps, shows the colour and shape templates the units learned.
    """
    change = w1 - w1_start
    ratio = np.abs(change).mean() / np.abs(w1_start).mean()
    viz.image_grid(
        change.T, path, ncols=min(16, args.d_h), per_image_scaling=True,
        title=f"What the {args.d_h} hidden units learned in {args.epochs} steps (cross-entropy, "
              f"scaled pixels): each unit's change of input weights, w1 - w1 at the start,\n"
              f"scaled to its own min..max (bright: grew, dark: shrank); mean |change| = "
              f"{ratio:.2f} x mean |initial weight|",
    )  # fmt: skip
    print(f"wrote {path} (mean |change| / mean |initial weight| = {ratio:.2f})")


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    args = parse_args(argv)
    out = args.out or Path("results") / ("mlp_scaled.png" if args.scale else "mlp.png")
    start = time.perf_counter()
    x_train, y_train, x_test, y_test = load_lab_split(args)
    print(f"data: {len(x_train)} train / {len(x_test)} test images, "
          f"pixels in [{x_train.min():g}, {x_train.max():g}] ({time.perf_counter() - start:.1f} s)")

    # What run_mlp does, keeping the weights for the picture. Both runs start from the same
    # weights (train_mlp returns new arrays and leaves its inputs as they are).
    start_weights = init_weights(x_train.shape[1], args.d_h, seed=args.seed, init=args.init,
                                 dtype=x_train.dtype)  # fmt: skip
    curves, tests, weights = {}, {}, {}
    for loss, label in RUNS:
        *weights[loss], curves[loss] = train_mlp(
            *start_weights, x_train, y_train, args.lr, args.epochs, loss=loss, progress=True,
            desc=label,
        )
        tests[loss] = test_mlp(*weights[loss], x_test, y_test)

    pixels = "scaled [0, 1]" if args.scale else "raw 0..255"
    print(f"\n{'loss':<32}{'pixels':<16}{'train acc':>10}{'test acc':>10}")
    for loss, label in RUNS:
        print(f"{label:<32}{pixels:<16}{curves[loss][-1]:>10.4f}{tests[loss]:>10.4f}")
    plot(curves, tests, args, out)
    print(f"wrote {out} in {time.perf_counter() - start:.0f} s")
    if args.scale:
        write_weights(out.with_name("mlp_weights.png"), start_weights[0],
                      weights["cross_entropy"][0], args)  # fmt: skip
    return {loss: (curves[loss][-1], tests[loss]) for loss, _ in RUNS}


if __name__ == "__main__":
    main()
