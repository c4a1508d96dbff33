"""`tinygrad_be.cuda`, as torch.cuda: tells that no GPU backend is available (so torch code that
checks `cuda.is_available()` takes its CPU branch)."""

from __future__ import annotations

__all__ = ["device_count", "is_available", "manual_seed", "manual_seed_all", "synchronize"]


def is_available() -> bool:
    """False: tensors are numpy arrays on the CPU."""
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """Accepted and ignored (there is no GPU generator), as torch does without a GPU."""


manual_seed_all = manual_seed


def synchronize(device: object = None) -> None:
    raise RuntimeError("cuda.synchronize: no GPU is available (cuda.is_available() is False)")
