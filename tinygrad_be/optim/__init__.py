"""Optimizers with torch.optim's exact update rules (`optimizer.py`) and learning-rate schedules
(`lr_scheduler.py`, also reachable as `tinygrad_be.optim.lr_scheduler`, as in torch)."""

from tinygrad_be.optim import lr_scheduler
from tinygrad_be.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    StepLR,
    WarmupCosineLR,
)
from tinygrad_be.optim.optimizer import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = [
    "lr_scheduler",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "MultiStepLR",
    "OneCycleLR",
    "Optimizer",
    "RMSprop",
    "StepLR",
    "WarmupCosineLR",
]
