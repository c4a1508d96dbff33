"""k-NN on CIFAR-10: accuracy for k = 1..20 from one neighbour search, and the best k.

The first half of the lab. Reads all 60,000 images, splits them 90/10 with `split_dataset(split=0.9,
seed=0)` (or uses the official 50,000/10,000 split with `--official`), finds every test image's 20
nearest training images once, votes for every k, and writes

    results/knn.png             accuracy against k, best k marked
    results/knn.csv             columns k,accuracy (accuracy as a fraction)
    results/knn_neighbours.png  the first test images, each followed by its nearest training
                                images at the best k (green frame: same class, red: another)
    results/knn_confusion.png   the confusion matrix at the best k

    python examples/knn_cifar10.py                      # lab split, L2, k = 1..20
    python examples/knn_cifar10.py --official --metric cosine --k-max 30
    python examples/knn_cifar10.py --features results/train_cifar10_features.npz  # MLP features
    python examples/knn_cifar10.py --official --features results/cnn_cifar10_features.npz  # CNN

Data comes from `tinygrad_be.datasets`: `--data-dir` names an extracted `cifar-10-batches-py`
directory; otherwise `cifar10_directory` finds it in its cache, extracts `--archive` /
`$CIFAR10_ARCHIVE` into the cache once, or downloads it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import tinygrad_be
from models.cnn import load_cnn_features
from models.knn import DEFAULT_MEMORY_BUDGET, KNN, METRICS
from models.mlp import load_hidden_features
from tinygrad_be import viz
from tinygrad_be.datasets import CLASSES, cifar10_directory, read_cifar, split_dataset

NEIGHBOUR_ROWS = 6  # test images in knn_neighbours.png


def load_split(args: argparse.Namespace) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test): float32 pixels 0..255 and int64 labels, split as asked."""
    directory = args.data_dir or cifar10_directory(
        args.root, archive=args.archive, checksum=args.checksum
    )
    data, labels = read_cifar(directory)
    if args.official:
        # read_cifar returns data_batch_1..5 (the official training set) first: 5 of the 6
        # equal batches, 50,000 of 60,000 rows.
        n_train = len(data) * 5 // 6
        return data[:n_train], labels[:n_train], data[n_train:], labels[n_train:]
    return split_dataset(data, labels, split=args.split, seed=args.seed)


def hidden_features(checkpoint: Path, *arrays: np.ndarray) -> list[np.ndarray]:
    """The last hidden layer's activations of a saved network for each array of images.

    `checkpoint` is a features file written by a recipe, holding the network with its own input
    preprocessing: `train_cifar10_features.npz` (the MLP, with its pixel scale and PCA whitening)
    or `cnn_cifar10_features.npz` (the CNN, with its per-channel standardisation).
    """
    is_cnn = "standardizer" in tinygrad_be.load(checkpoint)
    extract = (load_cnn_features if is_cnn else load_hidden_features)(checkpoint)
    return [np.asarray(extract(x), dtype=np.float32) for x in arrays]


def write_atomically(path: Path, write: Callable[[str], object]) -> None:
    """Call write(temporary_name) beside `path`, then move the file into place, so an interrupted
    run never leaves a half-written result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(str(temporary))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_csv(path: Path, ks: list[int], accuracies: np.ndarray) -> None:
    lines = ["k,accuracy"] + [f"{k},{a:.6f}" for k, a in zip(ks, accuracies, strict=True)]
    write_atomically(path, lambda name: Path(name).write_text("\n".join(lines) + "\n"))


def write_plot(path: Path, ks: list[int], accuracies: np.ndarray, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    best = int(np.argmax(accuracies))  # the first (smallest) k among equally good ones
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.plot(ks, accuracies * 100, marker="o", markersize=4, label="test accuracy")
    axes.plot(
        ks[best], accuracies[best] * 100, marker="*", markersize=16, color="tab:red",
        linestyle="none", label=f"best k = {ks[best]}: {accuracies[best]:.2%}",
    )  # fmt: skip
    axes.set_xlabel("k (number of neighbours that vote)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_xticks(ks if len(ks) <= 30 else ks[:: len(ks) // 15 + 1])
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    write_atomically(path, lambda name: figure.savefig(name, dpi=120, format="png"))
    plt.close(figure)


def write_neighbours(
    path: Path,
    model: KNN,
    k: int,
    queries: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    voted: np.ndarray,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    title: str,
) -> None:
    """A grid with one row per test image: the image (black frame), then its k nearest training
    images, framed green when of the test image's class and red otherwise.

    queries: the test rows as the model sees them (pixels or features), test_images the pixels
    (rows, 3072) shown; voted: the predicted label of each test row at this k.
    """
    _, nearest = model.kneighbors(queries, k=k)  # (rows, k) indices into the training set
    rows = len(queries)
    images = np.concatenate([test_images[:, None], train_images[nearest]], axis=1)
    neighbour_labels = train_labels[nearest]  # (rows, k)
    captions, frames = [], []
    for r in range(rows):  # one row of captions per test image (a handful, for the picture)
        captions.append(f"test: {CLASSES[test_labels[r]]}\nvote: {CLASSES[voted[r]]}")
        captions += [CLASSES[label] for label in neighbour_labels[r]]
        frames.append("black")
        frames += ["tab:green" if label == test_labels[r] else "tab:red"
                   for label in neighbour_labels[r]]  # fmt: skip
    viz.image_grid(images.reshape(rows * (k + 1), -1), path, captions, ncols=k + 1,
                   colors=frames, title=title, zoom=2)  # fmt: skip


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k-max", type=int, default=20, help="evaluate k = 1..K (default 20)")
    parser.add_argument("--metric", choices=METRICS, default="l2")
    parser.add_argument("--official", action="store_true", help="official 50,000/10,000 split")
    parser.add_argument("--split", type=float, default=0.9, help="training fraction (lab split)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the lab split")
    parser.add_argument("--features", type=Path, help="features file of a recipe (train_cifar10 / cnn_cifar10): use its features")
    parser.add_argument("--data-dir", type=Path, help="an extracted cifar-10-batches-py directory")
    parser.add_argument("--root", type=Path, help="data cache directory (see tinygrad_be.datasets)")
    parser.add_argument("--archive", type=Path, help="local archive (default $CIFAR10_ARCHIVE)")
    parser.add_argument("--checksum", help="md5/sha256 of --archive, or 'skip'")
    parser.add_argument(
        "--memory-mb", type=float, default=None,
        help=f"scratch memory per chunk of test rows, MiB (default {DEFAULT_MEMORY_BUDGET // 2**20}"
        " on the CPU, 2048 on a GPU)",
    )  # fmt: skip
    parser.add_argument(
        "--device", default="cpu",
        help='"cpu", or "cuda": distances and neighbours on the GPU (needs CuPy: pip install -e '
        '".[cuda12]")',
    )  # fmt: skip
    parser.add_argument("--out-dir", type=Path, default=Path("results"))
    args = parser.parse_args(argv)
    if args.k_max < 1:
        parser.error(f"--k-max must be at least 1, got {args.k_max}")

    start = time.perf_counter()
    x_train, y_train, x_test, y_test = load_split(args)
    if args.official:
        split_name = f"official split ({len(x_train):,} train / {len(x_test):,} test)"
    else:
        split_name = (
            f"lab split {args.split:g}, seed {args.seed} "
            f"({len(x_train):,} train / {len(x_test):,} test)"
        )
    inputs = "raw pixels"
    pixels_train, pixels_test = x_train, x_test  # the images themselves, for the pictures
    if args.features is not None:
        x_train, x_test = hidden_features(args.features, x_train, x_test)
        inputs = f"hidden features of {args.features.name} ({x_train.shape[1]} per image)"
    loaded = time.perf_counter()
    print(f"k-NN on CIFAR-10 {inputs}, {split_name}, metric {args.metric}")
    print(f"data ready in {loaded - start:.1f} s")

    ks = list(range(1, args.k_max + 1))
    budget = None if args.memory_mb is None else int(args.memory_mb * 2**20)
    model = KNN(k=1, metric=args.metric, memory_budget=budget, device=args.device)
    model.fit(x_train, y_train)
    predictions = model.predict_sweep(x_test, ks, progress=True)  # (len(ks), n_test) labels
    accuracies = (predictions == y_test).mean(axis=1)
    searched = time.perf_counter()

    print("   k  accuracy")
    for k, accuracy in zip(ks, accuracies, strict=True):
        print(f"{k:4d}  {accuracy:.4f}")
    best = int(np.argmax(accuracies))
    print(f"best k = {ks[best]}: accuracy {accuracies[best]:.4f}")
    print(f"neighbour search and votes for {len(ks)} values of k: {searched - loaded:.1f} s")

    title = f"k-NN on CIFAR-10 {'features' if args.features else 'pixels'}: {split_name}\n"
    title += f"metric {args.metric}"
    write_plot(args.out_dir / "knn.png", ks, accuracies, title)
    write_csv(args.out_dir / "knn.csv", ks, accuracies)
    print(f"wrote {args.out_dir / 'knn.png'} and {args.out_dir / 'knn.csv'}")

    k, voted = ks[best], predictions[best]
    rows = min(NEIGHBOUR_ROWS, len(x_test))
    space = "hidden features" if args.features else f"raw pixels, {args.metric}"
    write_neighbours(
        args.out_dir / "knn_neighbours.png", model, k, x_test[:rows], pixels_test[:rows],
        y_test[:rows], voted[:rows], pixels_train, y_train,
        f"k-NN ({space}), k = {k}: the first {rows} test images (black frame) and their {k} "
        f"nearest training images\ngreen frame: same class as the test image, red: another class",
    )  # fmt: skip
    matrix = viz.confusion_matrix(y_test, voted, num_classes=len(CLASSES))
    viz.plot_confusion(
        matrix, CLASSES, args.out_dir / "knn_confusion.png",
        title=f"k-NN ({space}), k = {k}, {split_name}",
    )  # fmt: skip
    print(f"wrote {args.out_dir / 'knn_neighbours.png'} and {args.out_dir / 'knn_confusion.png'}")
    print(f"total {time.perf_counter() - start:.1f} s")
    return accuracies


if __name__ == "__main__":
    main(sys.argv[1:])
