"""The training loop of the CIFAR-10 recipes: epochs of optimizer steps, a test after each epoch,
a checkpoint after each epoch, and an exact resume from that checkpoint.

>>> history = fit(model, loader, optimizer, loss_fn, epochs=12, seed=0,
...               evaluate=lambda: test_accuracy(model),   # a float, after every epoch
...               prepare=lambda images, rng: augment(images, rng),
...               scheduler=schedule, state_path="results/state.npz", config=vars(args),
...               resume=args.resume)
>>> history["test_acc"][-1]                                 # the final epoch's test accuracy

Reproducible by construction: everything random in epoch e comes from (seed, e) alone. The
loader's order is its seeded order of epoch e (`DataLoader(..., seed=seed)`), `prepare` gets the
generator `epoch_generator(seed, e, 1)`, and the library's default generator (dropout masks) is
reseeded from (seed, e, 2). So a run resumed after epoch e from its checkpoint (model, optimizer,
scheduler, history) continues bit for bit as the uninterrupted run would have.

In a plain PyTorch script these lines are written out by hand; here two recipes share them
(`examples/cnn_cifar10.py`, `examples/train_cifar10.py`). `train_epoch` is the inner loop alone.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tinygrad_be import backend as _backend
from tinygrad_be import rng as _rng
from tinygrad_be.nn.checkpoint import load, save
from tinygrad_be.progress import progress_bar
from tinygrad_be.tensor import Tensor

__all__ = ["fit", "train_epoch"]

History = dict[str, list[float]]
HISTORY_KEYS = ("train_loss", "train_acc", "test_acc")


def _array(x: Any) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def train_epoch(
    model: Callable[[Any], Tensor],
    loader: Any,
    optimizer: Any,
    loss_fn: Callable[[Tensor, Any], Tensor],
    scheduler: Any = None,
    prepare: Callable[[np.ndarray], Any] | None = None,
    desc: str | None = None,
) -> tuple[float, float]:
    """One pass over `loader`'s (images, labels) batches: forward, loss, backward, step.

    prepare(images) turns a batch's images (a numpy array) into the model's input (default: the
    batch as it comes); `scheduler.step()` runs after every optimizer step. Returns the mean loss
    and the accuracy (argmax of the logits) over the samples seen.
    """
    total_loss, correct, seen = 0.0, 0, 0
    bar = progress_bar(loader, desc=desc, summary=False)  # the caller prints the epoch's line
    for images, labels in bar:
        x = images if prepare is None else prepare(_array(images))
        logits = model(x)
        loss = loss_fn(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        count = len(labels)
        total_loss += loss.item() * count
        predicted = _backend.to_host(logits._data.argmax(axis=1))  # from the GPU if there
        correct += int((predicted == _array(labels)).sum())
        seen += count
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    bar.close()
    return total_loss / seen, correct / seen


def _restore(path: str | os.PathLike, config: str, model: Any, optimizer: Any,
             scheduler: Any) -> History:  # fmt: skip
    """Load a checkpoint written by `fit` into model, optimizer and scheduler; refuse it if it
    was made with other options (mixing two runs would be silently wrong). Returns its history."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--resume: no saved state at {path}")
    state = load(path)
    saved, given = json.loads(str(state["config"])), json.loads(config)
    changed = {k: (saved.get(k), v) for k, v in given.items() if saved.get(k) != v}
    if changed:
        raise ValueError(
            "--resume: these options differ from the saved run's (saved, given): "
            + ", ".join(f"{k} {a!r} != {b!r}" for k, (a, b) in changed.items())
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["schedule"])
    return {key: [float(v) for v in np.atleast_1d(state["history"][key])] for key in HISTORY_KEYS}


def fit(
    model: Any,
    loader: Any,
    optimizer: Any,
    loss_fn: Callable[[Tensor, Any], Tensor],
    *,
    epochs: int,
    evaluate: Callable[[], float],
    seed: int = 0,
    prepare: Callable[[np.ndarray, np.random.Generator], Any] | None = None,
    scheduler: Any = None,
    state_path: str | os.PathLike | None = None,
    config: Mapping[str, Any] | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    on_epoch_end: Callable[[int, History], None] | None = None,
) -> History:
    """Train for `epochs` epochs (from the checkpoint's next epoch with `resume`); return the
    history {"train_loss", "train_acc", "test_acc"}: one value per finished epoch.

    loader: a DataLoader of (images, labels), seeded with `seed` (its `epoch` is set to each
    epoch). evaluate(): the test accuracy, called after every epoch. prepare(images, rng): the
    model's input from a batch's images (numpy) and the epoch's generator (augmentation).
    scheduler: stepped after every optimizer step. state_path: the checkpoint written after every
    epoch (atomically): model, optimizer, scheduler, history and `config` (the options that
    define the run, JSON-able; a resume with other options is refused). stop_after: end after
    that epoch (to continue later with `resume`). on_epoch_end(epoch, history): e.g. keep the best
    weights. Prints one line per epoch.
    """
    config_text = json.dumps(dict(config or {}))
    history: History = {key: [] for key in HISTORY_KEYS}
    if resume:
        if state_path is None:
            raise ValueError("fit: resume=True needs the state_path of the saved run")
        history = _restore(state_path, config_text, model, optimizer, scheduler)
        print(f"resumed after epoch {len(history['test_acc'])} "
              f"(test accuracy {history['test_acc'][-1]:.4f})")  # fmt: skip
    start = time.perf_counter()
    for epoch in range(len(history["test_acc"]), epochs):
        loader.epoch = epoch  # the data order of this epoch, whatever ran before
        epoch_rng = _rng.epoch_generator(seed, epoch, 1)
        _rng.manual_seed(int(np.random.SeedSequence([seed, epoch, 2]).generate_state(1)[0]))
        # This epoch's generator, bound now (a default argument), for every batch of the epoch.
        step_input = None if prepare is None else (lambda x, rng=epoch_rng: prepare(x, rng))
        train_loss, train_acc = train_epoch(model, loader, optimizer, loss_fn, scheduler,
                                            step_input, desc=f"epoch {epoch + 1}/{epochs}")  # fmt: skip
        test_acc = float(evaluate())
        for key, value in zip(HISTORY_KEYS, (train_loss, train_acc, test_acc), strict=True):
            history[key].append(value)
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
        if state_path is not None:
            save({
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                **({"schedule": scheduler.state_dict()} if scheduler is not None else {}),
                "config": config_text,
                "history": {key: np.array(values) for key, values in history.items()},
            }, state_path)  # fmt: skip
        lr = scheduler.get_last_lr()[0] if scheduler is not None else optimizer.param_groups[0]["lr"]
        print(f"epoch {epoch + 1:3d}  loss {train_loss:.4f}  train acc {train_acc:.4f}  "
              f"test acc {test_acc:.4f}  lr {lr:.4f}  {time.perf_counter() - start:.0f} s",
              flush=True)  # fmt: skip
        if stop_after is not None and epoch + 1 >= stop_after < epochs:
            print(f"stopped after epoch {epoch + 1} of {epochs}; continue with --resume")
            break
    return history
