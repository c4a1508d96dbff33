"""Optimizers with torch.optim's exact update rules (`optimizer.py`) and learning-rate schedules
(`lr_scheduler.py`, also reachable as `tinygrad_be.optim.lr_scheduler`, as in torch)."""

from tinygrad_be.optim import lr_scheduler
from tinygrad_be.optim.lr_scheduler import (
    CosineAnnealingLR,
    LambdaLR,
    LRScheduler,
    StepLR,
    WarmupCosineLR,
)
from tinygrad_be.optim.optimizer import SGD, Adam, AdamW, Optimizer

__all__ = [
    "lr_scheduler",
    "SGD",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "LRScheduler",
    "LambdaLR",
    "Optimizer",
    "StepLR",
    "WarmupCosineLR",
]
