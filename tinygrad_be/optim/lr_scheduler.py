"""Learning-rate schedules, as torch.optim.lr_scheduler: each sets the groups' lr from a formula."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_be.optim.optimizer import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "MultiStepLR",
    "OneCycleLR",
    "StepLR",
    "WarmupCosineLR",
]


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
            setattr(self, name, _setting(state[name]))
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
    """lr = base_lr * lr_lambda(t) for any function (torch.optim.lr_scheduler.LambdaLR); a list
    of functions gives one per parameter group.

    The functions are not part of `state_dict()`: recreate the scheduler with them, then load.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
    ) -> None:
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(f"LambdaLR: expected {groups} lr_lambdas, got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        self.lr_lambda = self.lr_lambdas[0]
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        return base * float(self.lr_lambda(t))

    def _apply(self) -> None:
        self._last_lrs = [
            base * float(fn(self.last_epoch))
            for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]
        for group, lr in zip(self.optimizer.param_groups, self._last_lrs, strict=True):
            group["lr"] = lr


class MultiStepLR(LRScheduler):
    """lr = base_lr * gamma ** (number of milestones <= t) (torch.optim.lr_scheduler.MultiStepLR;
    a milestone listed twice counts twice, as torch)."""

    settings = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1) -> None:
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        return base * self.gamma ** bisect.bisect_right(self.milestones, t)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** t (torch.optim.lr_scheduler.ExponentialLR)."""

    settings = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        return base * self.gamma**t


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), as torch.optim.lr_scheduler.OneCycleLR: call `step()`
    after every batch, `total_steps` times in all (or epochs * steps_per_epoch).

    The lr rises from max_lr / div_factor to max_lr over the first pct_start of the steps, then
    falls to max_lr / div_factor / final_div_factor, along a cosine (anneal_strategy="cos") or a
    line ("linear"). With cycle_momentum, the momentum (SGD's momentum, Adam's beta1) moves the
    other way, between max_momentum and base_momentum, as torch (an SGD made without momentum
    gets one). three_phase=True: up, back down to the initial lr symmetrically, then to the
    minimum. The optimizer's own lr is ignored, as in torch.
    """

    settings = ("total_steps", "pct_start", "anneal_strategy", "cycle_momentum",
                "base_momentum", "max_momentum", "div_factor", "final_div_factor",
                "three_phase", "max_lrs")  # fmt: skip

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError(
                    "OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)"
                )
            if int(epochs) <= 0 or int(steps_per_epoch) <= 0:
                raise ValueError(
                    f"OneCycleLR: epochs and steps_per_epoch must be positive, got {epochs}, "
                    f"{steps_per_epoch}"
                )
            total_steps = int(epochs) * int(steps_per_epoch)
        if int(total_steps) <= 0:
            raise ValueError(f"OneCycleLR: expected a positive total_steps, got {total_steps}")
        if not 0.0 <= pct_start <= 1.0:
            raise ValueError(f"OneCycleLR: expected pct_start in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        groups = optimizer.param_groups
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * len(groups)
        if len(max_lrs) != len(groups):
            raise ValueError(
                f"OneCycleLR: expected {len(groups)} max_lr values, got {len(max_lrs)}"
            )
        self.total_steps, self.pct_start = int(total_steps), float(pct_start)
        self.anneal_strategy, self.cycle_momentum = anneal_strategy, bool(cycle_momentum)
        self.base_momentum, self.max_momentum = float(base_momentum), float(max_momentum)
        self.div_factor, self.final_div_factor = float(div_factor), float(final_div_factor)
        self.three_phase = bool(three_phase)
        self.max_lrs = [float(v) for v in max_lrs]
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    "OneCycleLR: optimizer must support momentum or beta1 with `cycle_momentum` "
                    "option enabled"
                )
            self.optimizer = optimizer
            self._set_momentum(self.max_momentum)
        for group, top in zip(groups, self.max_lrs, strict=True):
            group["lr"] = top / self.div_factor  # the base lr the cycle starts from
        super().__init__(optimizer)

    def _phases(self) -> list[tuple[float, str, str]]:
        """(last step of the phase, lr it starts from, lr it ends at) for each phase, with the
        lrs named "initial", "max", "min"; the momentum mirrors the lr."""
        up = self.pct_start * self.total_steps - 1
        if self.three_phase:
            return [(up, "initial", "max"), (2 * self.pct_start * self.total_steps - 2, "max",
                    "initial"), (self.total_steps - 1, "initial", "min")]  # fmt: skip
        return [(up, "initial", "max"), (self.total_steps - 1, "max", "min")]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _at(self, t: int, max_lr: float) -> tuple[float, float]:
        """(lr, momentum) after t steps, for a group whose peak lr is max_lr."""
        if t > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {t} times; the specified number of total steps is "
                f"{self.total_steps}"
            )
        initial = max_lr / self.div_factor
        lrs = {"initial": initial, "max": max_lr, "min": initial / self.final_div_factor}
        momenta = {"initial": self.max_momentum, "max": self.base_momentum,
                   "min": self.max_momentum}  # fmt: skip
        phases = self._phases()
        start_step = 0.0
        for i, (end_step, start, end) in enumerate(phases):
            if t <= end_step or i == len(phases) - 1:
                pct = (t - start_step) / (end_step - start_step)
                return (
                    self._anneal(lrs[start], lrs[end], pct),
                    self._anneal(momenta[start], momenta[end], pct),
                )
            start_step = end_step
        raise AssertionError("unreachable")

    def lr_at(self, t: int, base_lr: float | None = None) -> float:
        """The lr after t steps (base_lr: the group's initial lr, max_lr / div_factor)."""
        top = self.max_lrs[0] if base_lr is None else base_lr * self.div_factor
        return self._at(t, top)[0]

    def _set_momentum(self, values: float | list[float]) -> None:
        groups = self.optimizer.param_groups
        values = values if isinstance(values, list) else [values] * len(groups)
        for group, momentum in zip(groups, values, strict=True):
            if "betas" in self.optimizer.defaults:
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum

    def _apply(self) -> None:
        results = [self._at(self.last_epoch, top) for top in self.max_lrs]
        self._last_lrs = [lr for lr, _ in results]
        for group, lr in zip(self.optimizer.param_groups, self._last_lrs, strict=True):
            group["lr"] = lr
        if self.cycle_momentum:
            self._set_momentum([momentum for _, momentum in results])


def _setting(value: Any) -> Any:
    """A saved scheduler setting as the Python value the scheduler uses."""
    array = np.asarray(value)
    if array.ndim == 1:
        return [_setting(v) for v in array]
    if array.dtype.kind == "b":
        return bool(array)
    if array.dtype.kind in "iu":
        return int(array)
    if array.dtype.kind == "U":
        return str(array)
    return float(array)
