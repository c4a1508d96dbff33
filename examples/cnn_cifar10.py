"""A convolutional network on CIFAR-10 in minutes on 2 CPU cores, with only this framework.

The recipe (each part measured; see README):

1. **Input**: pixels standardised per channel (fitted on the training images), then the network's
   frozen first layer whitens 2×2 patches (also fitted on the training images).
2. **Network** (`models.cnn.CifarNet`, widths `--width`): three groups of conv → max-pool → batch
   norm → ReLU → conv → batch norm → ReLU, a global max-pool, a linear layer, logits × 1/8.
3. **Augmentation** (`tinygrad_be.transforms.augment`, vectorised over the batch, seeded): random
   horizontal flips and translations by up to `--crop-pad` pixels.
4. **Training** (the loop: `tinygrad_be.training.fit`): SGD with Nesterov momentum, weight decay,
   label smoothing, a linear warmup of the learning rate then a cosine decay to 0, per step.
5. **Test-time augmentation**: the test logits average each image and its mirror image (always,
   also for the accuracy printed after every epoch).

Everything runs in float32. The same `--seed` gives the same run on the same machine: every random
draw comes from a generator seeded by (seed, epoch), so a run resumed from its saved state
(`--resume`) continues exactly as the uninterrupted run would have.

The headline is the *final* epoch's test accuracy: nothing is chosen on the test set. Outputs,
under `--results` (default results/): `cnn_cifar10.png` (learning curves), `cnn_cifar10.npz`
(the final model, `Module.save`), `cnn_cifar10_features.npz` (the network with its input
standardisation, for `knn_cifar10.py --features`), `cnn_cifar10_state.npz` (model, optimizer,
schedule and history after the last finished epoch, for `--resume`), and the pictures
`cnn_confusion.png` and `cnn_mistakes.png`.

    python examples/cnn_cifar10.py                    # about 13.5 minutes on 2 idle cores, 86%
    python examples/cnn_cifar10.py --resume           # continue an interrupted run
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import tinygrad_be
import tinygrad_be.nn.functional as F
from models.cnn import IMAGE_SHAPE, CifarNet, count_flops
from tinygrad_be import no_grad, optim, viz
from tinygrad_be.datasets import CLASSES, load_cifar10
from tinygrad_be.memory import retain_freed_memory
from tinygrad_be.training import fit
from tinygrad_be.transforms import ChannelStandardizer, augment
from tinygrad_be.utils.data import DataLoader, TensorDataset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--epochs", type=int, default=12, help="passes over the 50,000 training images")
    add("--seed", type=int, default=0, help="seed of every random draw (same seed, same run)")
    add("--width", default="32,64,128", help="channels of the three conv groups, comma-separated")
    add("--lr", type=float, default=0.4, help="peak learning rate")
    add("--batch-size", type=int, default=512)
    add("--momentum", type=float, default=0.9, help="Nesterov momentum")
    add("--weight-decay", type=float, default=5e-4)
    add("--warmup-epochs", type=float, default=1.5, help="linear warmup before the cosine decay")
    add("--label-smoothing", type=float, default=0.2)
    add("--logit-scale", type=float, default=1 / 8, help="factor on the network's logits")
    add("--crop-pad", type=int, default=2, help="random translation of up to this many pixels")
    add("--no-flip", action="store_true", help="no random horizontal flips")
    add("--no-tta", action="store_true", help="no test-time flip augmentation")
    add("--no-whiten", action="store_true", help="leave the first layer random (ablation)")
    add("--limit-train", type=int, default=None, help="use only the first N training images")
    add("--limit-test", type=int, default=None, help="use only the first N test images")
    add("--results", type=Path, default=Path("results"), help="directory for the outputs")
    add("--resume", action="store_true", help="continue from the state saved in --results")
    add("--stop-after", type=int, default=None,
        help="end this session after that epoch (continue later with --resume)")
    add("--data-root", type=Path, default=None, help="data directory (see load_cifar10)")
    add("--archive", type=Path, default=None, help="local archive (default $CIFAR10_ARCHIVE)")
    add("--checksum", default=None, help="md5/sha256 of --archive or 'skip'")
    add("--device", default="cpu",
        help='"cpu", or "cuda": train on the GPU (needs CuPy: pip install -e ".[cuda12]")')
    args = parser.parse_args(argv)
    try:
        args.width = tuple(int(w) for w in args.width.split(","))
    except ValueError:
        parser.error(f"--width must be three comma-separated integers, got {args.width!r}")
    if len(args.width) != 3 or min(args.width) <= 0:
        parser.error(f"--width must be three positive integers, got {args.width}")
    if args.epochs <= 0 or args.batch_size <= 0:
        parser.error("--epochs and --batch-size must be positive")
    return args


# The options that define a run: a resumed run must use the same ones.
RUN_OPTIONS = ("epochs", "seed", "width", "lr", "batch_size", "momentum", "weight_decay",
               "warmup_epochs", "label_smoothing", "logit_scale", "crop_pad", "no_flip", "no_tta", "no_whiten",
               "limit_train", "limit_test")


def run_config(args: argparse.Namespace) -> dict:
    return {name: getattr(args, name) for name in RUN_OPTIONS}


@no_grad()
def predict_logits(model: CifarNet, images: np.ndarray, tta: bool, batch: int = 1000) -> np.ndarray:
    """Logits (n, 10) of `model` in eval mode for standardised images (n, 3, 32, 32); with `tta`,
    the mean of the logits of each image and of its mirror image."""
    model.eval()
    out = []
    for start in range(0, len(images), batch):
        x = images[start : start + batch]
        logits = model(on_model_device(model, x)).cpu().numpy()
        if tta:
            mirrored = on_model_device(model, np.ascontiguousarray(x[..., ::-1]))
            logits = (logits + model(mirrored).cpu().numpy()) / 2
        out.append(logits)
    model.train()
    return np.concatenate(out)


def on_model_device(model: CifarNet, images: np.ndarray) -> tinygrad_be.Tensor:
    """A batch of images as a tensor on the model's device (on the CPU: the array, not a copy)."""
    return tinygrad_be.as_tensor(images, device=model.head.weight.device)


def save_feature_extractor(path: Path, model: CifarNet, standardizer: ChannelStandardizer) -> None:
    """What `models.cnn.load_cnn_features` needs to map raw pixels to the penultimate features."""
    tinygrad_be.save({
        "model": model.state_dict(), "standardizer": standardizer.state(),
        "widths": np.array(model.widths), "scale": model.scale,
    }, path)


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    start_time = time.perf_counter()
    retain_freed_memory()  # each step allocates the same large arrays: keep their pages warm
    args.results.mkdir(parents=True, exist_ok=True)
    state_path = args.results / "cnn_cifar10_state.npz"

    x_train, y_train, x_test, y_test = load_cifar10(
        args.data_root, archive=args.archive, checksum=args.checksum
    )
    x_train, y_train = x_train[: args.limit_train], y_train[: args.limit_train]
    x_test, y_test = x_test[: args.limit_test], y_test[: args.limit_test]
    x_train = x_train.reshape(-1, *IMAGE_SHAPE)
    x_test = x_test.reshape(-1, *IMAGE_SHAPE)
    standardizer = ChannelStandardizer().fit(x_train)
    x_train, x_test = standardizer(x_train), standardizer(x_test)
    print(f"data: {len(x_train)} train / {len(x_test)} test images, standardised per channel "
          f"({time.perf_counter() - start_time:.1f} s)")

    tinygrad_be.manual_seed(args.seed)  # the initial weights
    model = CifarNet(args.width, scale=args.logit_scale)
    if not args.no_whiten:
        model.fit_whitening(x_train)
    model.to(args.device)  # after the whitening, which is fitted on the host
    loader = DataLoader(TensorDataset(x_train, y_train), args.batch_size, shuffle=True,
                        drop_last=True, seed=args.seed)  # fmt: skip
    optimizer = optim.SGD(model.trainable_parameters(), lr=args.lr, momentum=args.momentum,
                          nesterov=True, weight_decay=args.weight_decay)
    total_steps = args.epochs * len(loader)
    warmup_steps = min(int(args.warmup_epochs * len(loader)), total_steps - 1)
    schedule = optim.WarmupCosineLR(optimizer, warmup_steps, total_steps)
    print(model)
    print(f"{model.num_parameters():,} parameters, {count_flops(model) / 1e6:.1f} MFLOP per image "
          f"forward; {len(loader)} batches of {args.batch_size} per epoch, {args.epochs} epochs")

    tta = not args.no_tta
    last = {}  # the final epoch's test logits, reused for the pictures

    def test_accuracy() -> float:
        last["logits"] = predict_logits(model, x_test, tta)
        return float((last["logits"].argmax(axis=1) == y_test).mean())

    history = fit(
        model, loader, optimizer,
        lambda logits, labels: F.cross_entropy(  # the labels on the logits' device
            logits, tinygrad_be.as_tensor(labels, device=args.device),
            label_smoothing=args.label_smoothing),
        epochs=args.epochs, evaluate=test_accuracy, seed=args.seed, scheduler=schedule,
        prepare=lambda images, rng: on_model_device(
            model, augment(images, rng, pad=args.crop_pad, flip=not args.no_flip)),
        state_path=state_path, config=run_config(args), resume=args.resume,
        stop_after=args.stop_after,
    )  # fmt: skip
    if len(history["test_acc"]) < args.epochs:  # stopped early: continue later with --resume
        return history["test_acc"][-1]

    model.save(args.results / "cnn_cifar10.npz")
    save_feature_extractor(args.results / "cnn_cifar10_features.npz", model, standardizer)
    width = "-".join(str(w) for w in args.width)
    viz.plot_training_curves(history, args.results / "cnn_cifar10.png",
                f"CIFAR-10 CNN, widths {width}, seed {args.seed}")
    test_logits = last["logits"] if "logits" in last else predict_logits(model, x_test, tta)
    predictions = test_logits.argmax(axis=1)
    viz.plot_confusion(viz.confusion_matrix(y_test, predictions, len(CLASSES)), CLASSES,
                       args.results / "cnn_confusion.png", title="CNN on CIFAR-10: test confusion")
    viz.plot_mistakes(x_test_pixels(x_test, standardizer), y_test, F.softmax(test_logits, 1).numpy(),
                      CLASSES, args.results / "cnn_mistakes.png")
    if tta:  # what the test-time flips gained, for the record (the headline keeps them)
        plain = predict_logits(model, x_test, tta=False).argmax(axis=1)
        print(f"without test-time flips: test accuracy {(plain == y_test).mean():.4f}")
    final = history["test_acc"][-1]
    best_epoch = int(np.argmax(history["test_acc"]))
    print(f"test accuracy {final:.4f} (best {history['test_acc'][best_epoch]:.4f} at epoch "
          f"{best_epoch + 1}) in {time.perf_counter() - start_time:.0f} s")
    return final


def x_test_pixels(images: np.ndarray, standardizer: ChannelStandardizer) -> np.ndarray:
    """Standardised images back to pixels 0..255, for pictures."""
    return images * standardizer.std[:, None, None] + standardizer.mean[:, None, None]


if __name__ == "__main__":
    main()
