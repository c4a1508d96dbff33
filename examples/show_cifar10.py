"""Look at the data and at the lab's network: CIFAR-10 samples and the graph of the MLP's loss.

    python examples/show_cifar10.py          # results/cifar10_samples.png, results/graph.{png,svg,dot}
    python examples/show_cifar10.py --docs   # and regenerate the README's pictures in docs/images/

- `cifar10_samples.png`: the first ten training images of each class, one class per row.
- `graph.png`, `graph.svg`, `graph.dot`: the graph of ops behind the loss of the lab's 3072-64-10
  sigmoid network on a batch of 32 training images (pixels scaled to [0, 1], cross-entropy),
  drawn by `tinygrad_be.viz.draw_graph` after `backward(retain_graph=True)`, so the weights
  w1, b1, w2, b2 show their gradient norms. Drawn with graphviz's `dot` when it is installed,
  else with matplotlib; `graph.dot` is the text, for any graphviz viewer.

`--docs` also runs, in this process, `knn_cifar10.py` (lab split, L2: about half a minute) and
`mlp_cifar10.py --scale` (about 1-3 minutes), with their outputs under `--results`, then copies the
pictures the README shows into `docs/images/`: graph.png (drawn with matplotlib there, so the
picture does not depend on whether graphviz is installed), knn_neighbours.png, knn_confusion.png
and mlp_weights.png. (The samples grid is left out: 100 photographs make a 300 KiB PNG.)

Data: as the other examples (`$CIFAR10_ARCHIVE`, `--archive`, `--checksum`, `--data-root`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np

import tinygrad_be.nn.functional as F
from models.mlp import init_weights
from tinygrad_be import Tensor, viz
from tinygrad_be.datasets import CLASSES, cifar10_directory, read_cifar

EXAMPLES = Path(__file__).resolve().parent
DOCS_IMAGES = EXAMPLES.parent / "docs" / "images"
# The pictures the README shows, all written under --results by this script and the examples.
DOCS_PICTURES = (
    "graph.png",
    "knn_neighbours.png",
    "knn_confusion.png",
    "mlp_weights.png",
)
PER_CLASS = 10  # sample images per class
BATCH = 32  # images in the batch whose loss graph is drawn


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"), help="output directory")
    parser.add_argument("--docs", action="store_true",
                        help="also run the k-NN and MLP examples and refresh docs/images/")
    parser.add_argument("--docs-dir", type=Path, default=DOCS_IMAGES, help=argparse.SUPPRESS)
    parser.add_argument("--data-root", type=Path, default=None,
                        help="directory for the data (default ~/.cache/tinygrad_be)")
    parser.add_argument("--archive", type=Path, default=None,
                        help="a local cifar-10-python.tar.gz (default $CIFAR10_ARCHIVE)")
    parser.add_argument("--checksum", default=None,
                        help="md5/sha256 of --archive, or 'skip' (default $CIFAR10_ARCHIVE_CHECKSUM)")
    return parser.parse_args(argv)


def first_of_each_class(labels: np.ndarray, count: int) -> np.ndarray:
    """Indices of the first `count` images of each class, class by class: (10 * count,)."""
    return np.concatenate([np.flatnonzero(labels == c)[:count] for c in range(len(CLASSES))])


def draw_mlp_graph(images: np.ndarray, labels: np.ndarray, results: Path, engine: str) -> str:
    """The lab's network, loss and backward on one batch, drawn to results/graph.{png,svg,dot}.

    images (n, 3072) pixels 0..255, labels (n,). Returns the DOT text.
    """
    w1, b1, w2, b2 = (Tensor(w, requires_grad=True) for w in init_weights(3072, 64, 10, seed=0))
    x = Tensor(images / np.float32(255))  # pixels scaled to [0, 1]
    y = Tensor(labels)
    hidden = (x @ w1 + b1).sigmoid()  # the lab's network, as models.mlp builds it
    loss = F.cross_entropy(hidden @ w2 + b2, y)  # softmax + mean negative log-likelihood
    loss.backward(retain_graph=True)  # keep the graph to draw it, with the gradients
    names = {f"x ({len(images)} images)": x, "labels": y, "w1": w1, "b1": b1, "w2": w2, "b2": b2}
    # Top to bottom (rankdir="TB"): a long chain of ops stays readable at its natural size.
    for suffix in ("png", "svg", "dot"):
        text = viz.draw_graph(loss, results / f"graph.{suffix}", names, rankdir="TB", engine=engine)
    return text


def load_example(name: str):
    """Import examples/<name>.py as a module, to run its main() in this process."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def data_options(args: argparse.Namespace, root_option: str) -> list[str]:
    """The data arguments of this script, spelled for another example (its --root option)."""
    options = []
    if args.data_root is not None:
        options += [root_option, str(args.data_root)]
    if args.archive is not None:
        options += ["--archive", str(args.archive)]
    if args.checksum is not None:
        options += ["--checksum", args.checksum]
    return options


def copy_to_docs(results: Path, docs: Path) -> int:
    """Copy the README's pictures from results/ into docs (atomically); returns the total bytes."""
    docs.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in DOCS_PICTURES:
        temporary = docs / f".{name}.{os.getpid()}.tmp"
        try:
            shutil.copyfile(results / name, temporary)
            os.replace(temporary, docs / name)
        finally:
            temporary.unlink(missing_ok=True)
        size = (docs / name).stat().st_size
        total += size
        print(f"  {docs / name}  {size / 1024:.0f} KiB")
    print(f"docs pictures: {total / 1024:.0f} KiB in all")
    return total


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    directory = cifar10_directory(args.data_root, archive=args.archive, checksum=args.checksum)
    data, labels = read_cifar(directory)  # training batches first: the first images are training

    chosen = first_of_each_class(labels, PER_CLASS)
    viz.image_grid(data[chosen], args.results / "cifar10_samples.png", ncols=PER_CLASS,
                   row_labels=list(CLASSES), zoom=2,
                   title=f"CIFAR-10: the first {PER_CLASS} training images of each class")  # fmt: skip
    print(f"wrote {args.results / 'cifar10_samples.png'}")

    engine = "matplotlib" if args.docs else "auto"
    draw_mlp_graph(data[:BATCH], labels[:BATCH], args.results, engine)
    print(f"wrote {args.results / 'graph.png'}, graph.svg and graph.dot")

    if args.docs:
        del data  # the examples read their own copy
        load_example("knn_cifar10").main([*data_options(args, "--root"),
                                          "--out-dir", str(args.results)])  # fmt: skip
        load_example("mlp_cifar10").main([*data_options(args, "--data-root"), "--scale",
                                          "--out", str(args.results / "mlp_scaled.png")])  # fmt: skip
        copy_to_docs(args.results, args.docs_dir)


if __name__ == "__main__":
    main(sys.argv[1:])
