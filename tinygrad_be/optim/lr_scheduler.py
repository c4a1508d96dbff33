"""Learning-rate schedules, as torch.optim.lr_scheduler: each sets the groups' lr from a formula."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tinygrad_be.optim.optimizer import Optimizer

__all__ = ["CosineAnnealingLR", "LRScheduler", "LambdaLR", "StepLR", "WarmupCosineLR"]

# Learning-rate schedules
class LRScheduler:
    """Sets each parameter group's lr to `schedule(t)` from that group's base lr, where t counts the
    calls to `step()`.

    As in torch, creating a scheduler applies the lr of t = 0; call `step()` once per epoch or once
    per batch (whichever t means in your schedule). `get_last_lr()` returns one lr per parameter
    group. `state_dict()` holds t, the base lrs and the schedule's settings, so a resumed run
    continues the same curve.
    """

    settings: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    @property
    def base_lr(self) -> float:
        """The first group's base lr (the only one for an optimizer without groups)."""
        return self.base_lrs[0]

    def lr_at(self, t: int, base_lr: float | None = None) -> float:
        """The learning rate after `t` calls to step() (t = 0 at creation), from `base_lr`
        (default: the first group's)."""
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def _apply(self) -> None:
        self._last_lrs = [float(self.lr_at(self.last_epoch, base)) for base in self.base_lrs]
        for group, lr in zip(self.optimizer.param_groups, self._last_lrs, strict=True):
            group["lr"] = lr

    def get_last_lr(self) -> list[float]:
        return list(self._last_lrs)

    def state_dict(self) -> dict[str, Any]:
        state = {"last_epoch": self.last_epoch, "base_lr": self.base_lr,
                 "base_lrs": np.array(self.base_lrs)}  # fmt: skip
        state.update({name: getattr(self, name) for name in self.settings})
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore t, the base lrs and the settings, and set the optimizer's lrs to match."""
        missing = [k for k in ("last_epoch", "base_lr", *self.settings) if k not in state]
        if missing:
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {missing}")
        base_lrs = np.atleast_1d(np.asarray(state.get("base_lrs", state["base_lr"]), np.float64))
        if len(base_lrs) != len(self.optimizer.param_groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: {len(base_lrs)} base lrs for "
                f"{len(self.optimizer.param_groups)} parameter groups"
            )
        for name in self.settings:
            value = np.asarray(state[name])
            setattr(self, name, int(value) if value.dtype.kind in "iu" else float(value))
        self.base_lrs = [float(v) for v in base_lrs]
        self.last_epoch = int(np.asarray(state["last_epoch"]))
        self._apply()

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.settings)
        return f"{type(self).__name__}({settings}, base_lr={self.base_lr}, t={self.last_epoch})"


class StepLR(LRScheduler):
    """Step decay: lr = base_lr * gamma ** (t // step_size) (torch.optim.lr_scheduler.StepLR)."""

    settings = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if int(step_size) <= 0:
            raise ValueError(f"StepLR: step_size must be positive, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        return base * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2
    (torch.optim.lr_scheduler.CosineAnnealingLR; like it, the curve rises again after T_max)."""

    settings = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        if int(T_max) <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class WarmupCosineLR(LRScheduler):
    """Linear warmup, then cosine annealing to `min_lr`, then constant:

        t <  warmup_steps:            lr = base_lr * (t + 1) / (warmup_steps + 1)
        warmup_steps <= t <= total:   lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * s)) / 2,
                                      s = (t - warmup_steps) / (total_steps - warmup_steps)
        t > total_steps:              lr = min_lr

    The warmup never uses lr = 0 and reaches base_lr exactly at t = warmup_steps.
    """

    settings = ("warmup_steps", "total_steps", "min_lr")

    def __init__(
        self, optimizer: Optimizer, warmup_steps: int, total_steps: int, min_lr: float = 0.0
    ) -> None:
        if not 0 <= int(warmup_steps) < int(total_steps):
            raise ValueError(
                f"WarmupCosineLR: need 0 <= warmup_steps < total_steps, got {warmup_steps}, "
                f"{total_steps}"
            )
        self.warmup_steps, self.total_steps = int(warmup_steps), int(total_steps)
        self.min_lr = float(min_lr)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        if t < self.warmup_steps:
            return base * (t + 1) / (self.warmup_steps + 1)
        if t > self.total_steps:
            return self.min_lr
        progress = (t - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return self.min_lr + (base - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(t) for any function (torch.optim.lr_scheduler.LambdaLR).

    The function itself is not part of `state_dict()`: recreate the scheduler with it, then load.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        return base * float(self.lr_lambda(t))
