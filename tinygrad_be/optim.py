"""Optimizers with torch.optim's exact update rules, and learning-rate schedules.

>>> optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> scheduler = WarmupCosineLR(optimizer, warmup_steps=100, total_steps=5000)
>>> for x, y in loader:
...     optimizer.zero_grad()
...     F.cross_entropy(model(x), y).backward()
...     optimizer.step()
...     scheduler.step()

Steps update each parameter's array in place with numpy ops into preallocated scratch arrays, so a
step allocates nothing after the first one and never leaves the parameters' dtype (Python floats
combine with float32 arrays as float32). Optimizer state (momentum buffers, Adam moments) has the
parameters' dtype. `state_dict()` / `load_state_dict()` hold plain arrays and numbers, so they go
into a checkpoint with `tinygrad_be.save` next to the model's.

Unlike torch there are no parameter groups: one set of hyperparameters, read and written as
attributes (`optimizer.lr = 0.01`; the schedulers do exactly that).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_be.tensor import Tensor

__all__ = [
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


class Optimizer:
    """Base class: holds the parameters, per-parameter state and scratch arrays.

    Subclasses list their hyperparameters in `hyperparameters` (attributes of the same names), the
    names of their per-parameter state arrays in `state_arrays` (and integer counters in
    `state_counters`), and write `step()`.
    """

    hyperparameters: tuple[str, ...] = ("lr",)
    state_arrays: tuple[str, ...] = ()
    state_counters: tuple[str, ...] = ()  # integer per-parameter state, e.g. Adam's "step"
    lr: float

    def __init__(self, params: Iterable[Tensor]) -> None:
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        seen: set[Tensor] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} is a {type(p).__name__}, not a Tensor"
                )
            if not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"{type(self).__name__}: parameter {i} has dtype {p.dtype}")
            if not p.is_leaf:
                raise ValueError(
                    f"{type(self).__name__}: parameter {i} is not a leaf (it was computed by an "
                    "op); optimize the tensors you created instead"
                )
            if p in seen:
                raise ValueError(f"{type(self).__name__}: parameter {i} appears more than once")
            seen.add(p)
        # state[i]: the named arrays (and step count) of parameter i, created on its first step.
        self.state: dict[int, dict[str, Any]] = {}
        self._scratch: dict[tuple[int, int], np.ndarray] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients (None, torch's default; or zeros in place with set_to_none=False)."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.fill(0)

    def step(self) -> None:
        """Update every parameter that has a gradient (parameters whose grad is None are skipped)."""
        raise NotImplementedError

    def _scratch_like(self, i: int, slot: int, array: np.ndarray) -> np.ndarray:
        """A reusable work array shaped like `array`, allocated once per (parameter, slot)."""
        buffer = self._scratch.get((i, slot))
        if buffer is None or buffer.shape != array.shape or buffer.dtype != array.dtype:
            buffer = self._scratch[(i, slot)] = np.empty_like(array)
        return buffer

    # ----------------------------------------------------------------------------------------------
    # State for checkpoints
    def state_dict(self) -> dict[str, Any]:
        """{"hyperparameters": {name: value}, "num_params": n, "state": {"i": {name: array}}}.

        Arrays are copies; keys are strings, so it can be saved with `tinygrad_be.save`.
        """
        return {
            "hyperparameters": {name: getattr(self, name) for name in self.hyperparameters},
            "num_params": len(self.params),
            "state": {
                str(i): {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                for i, s in self.state.items()
            },
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by `state_dict`.

        Everything is checked first (parameter count, hyperparameter names, every array's shape);
        on any mismatch a ValueError names it and the optimizer is left unchanged. As in torch,
        the saved hyperparameters (e.g. lr) replace the current ones, and state arrays are cast to
        their parameter's dtype.
        """
        name = type(self).__name__
        if not isinstance(state, Mapping):
            raise TypeError(f"{name}.load_state_dict: expected a dict, got {type(state).__name__}")
        problems: list[str] = []
        num_params = int(np.asarray(state.get("num_params", -1)))
        if num_params != len(self.params):
            problems.append(
                f"the state is for {num_params} parameters, this optimizer has {len(self.params)}"
            )
        saved_hyper = state.get("hyperparameters", {})
        hyper: dict[str, Any] = {}
        for key in self.hyperparameters:
            if key not in saved_hyper:
                problems.append(f"missing hyperparameter {key!r}")
            else:
                hyper[key] = self._hyperparameter(key, saved_hyper[key])
        for key in saved_hyper:
            if key not in self.hyperparameters:
                problems.append(f"unexpected hyperparameter {key!r}")
        new_state: dict[int, dict[str, Any]] = {}
        for key, arrays in state.get("state", {}).items():
            if not str(key).isdigit() or int(key) >= len(self.params):
                problems.append(f"state for unknown parameter {key!r}")
                continue
            if not isinstance(arrays, Mapping):
                problems.append(f"state for parameter {key} is a {type(arrays).__name__}")
                continue
            p = self.params[int(key)]
            entry: dict[str, Any] = {}
            for array_name, value in arrays.items():
                if array_name in self.state_counters:
                    entry[array_name] = int(np.asarray(value))
                elif array_name not in self.state_arrays:
                    problems.append(f"parameter {key}: unexpected state {array_name!r}")
                elif np.shape(value) != p.shape:
                    problems.append(
                        f"parameter {key}: {array_name!r} has shape "
                        f"{np.shape(value)}, the parameter {p.shape}"
                    )
                else:
                    entry[array_name] = np.array(value, dtype=p.dtype, copy=True)
            absent = [k for k in (*self.state_counters, *self.state_arrays) if k not in arrays]
            if absent:
                problems.append(f"parameter {key}: state lacks {absent}")
            new_state[int(key)] = entry
        if problems:
            raise ValueError(
                f"{name}.load_state_dict: refused, nothing was changed:\n  " + "\n  ".join(problems)
            )
        for key, value in hyper.items():
            setattr(self, key, value)
        self.state = new_state

    def _hyperparameter(self, key: str, value: Any) -> Any:
        """A saved hyperparameter as the Python type the optimizer uses (0-d arrays -> numbers)."""
        array = np.asarray(value)
        if array.dtype == bool:
            return bool(array)
        if array.ndim == 1:
            return tuple(float(v) for v in array)
        return float(array)

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"


def _check_nonnegative(owner: str, **values: float) -> None:
    for key, value in values.items():
        if not value >= 0.0:  # also catches NaN
            raise ValueError(f"{owner}: {key} must be >= 0, got {value}")


class SGD(Optimizer):
    """Stochastic gradient descent, with torch.optim.SGD's update for each parameter p:

        g = p.grad + weight_decay * p
        if momentum:  buf = g on the first step, else buf = momentum * buf + (1 - dampening) * g
                      g = g + momentum * buf if nesterov else buf
        p = p - lr * g

    Parameters whose grad is None are skipped, as in torch.
    """

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    state_arrays = ("momentum_buffer",)

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params)
        _check_nonnegative("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")
        self.lr, self.momentum, self.dampening = float(lr), float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)

    def step(self) -> None:
        # Python floats: numpy treats them as weak, so float32 arrays stay float32.
        lr, momentum, dampening = float(self.lr), float(self.momentum), float(self.dampening)
        weight_decay, nesterov = float(self.weight_decay), self.nesterov
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:
                continue
            w = p.data
            d_p = grad
            if weight_decay != 0.0:  # L2 penalty folded into the gradient: g + wd * p
                d_p = np.multiply(w, weight_decay, out=self._scratch_like(i, 0, w))
                d_p += grad
            if momentum != 0.0:
                state = self.state.setdefault(i, {})
                buf = state.get("momentum_buffer")
                if buf is None:  # torch starts the buffer at the first gradient, undamped
                    buf = state["momentum_buffer"] = np.array(d_p, dtype=w.dtype, copy=True)
                else:
                    buf *= momentum
                    if dampening != 0.0:
                        buf += np.multiply(d_p, 1.0 - dampening, out=self._scratch_like(i, 1, w))
                    else:
                        buf += d_p
                if nesterov:  # look ahead: g + momentum * buf
                    ahead = np.multiply(buf, momentum, out=self._scratch_like(i, 1, w))
                    ahead += d_p
                    d_p = ahead
                else:
                    d_p = buf
            step = np.multiply(d_p, lr, out=self._scratch_like(i, 1, w))
            w -= step


class Adam(Optimizer):
    """Adam (Kingma & Ba), with torch.optim.Adam's update for each parameter p at step t = 1, 2, ...:

        g = p.grad + weight_decay * p            (L2 penalty in the gradient, as torch.optim.Adam)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    m and v start at zero; t counts each parameter's own steps (as torch's per-parameter "step").
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    state_arrays = ("exp_avg", "exp_avg_sq")
    state_counters = ("step",)
    decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        name = type(self).__name__
        _check_nonnegative(name, lr=lr, eps=eps, weight_decay=weight_decay)
        beta1, beta2 = (float(b) for b in betas)
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"{name}: betas must lie in [0, 1), got {tuple(betas)}")
        self.lr, self.betas, self.eps = float(lr), (beta1, beta2), float(eps)
        self.weight_decay = float(weight_decay)

    def step(self) -> None:
        lr, eps, weight_decay = float(self.lr), float(self.eps), float(self.weight_decay)
        beta1, beta2 = (float(b) for b in self.betas)
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:
                continue
            w = p.data
            state = self.state.get(i)
            if state is None:
                state = self.state[i] = {
                    "step": 0,
                    "exp_avg": np.zeros_like(w),
                    "exp_avg_sq": np.zeros_like(w),
                }
            state["step"] += 1
            t = state["step"]
            m, v = state["exp_avg"], state["exp_avg_sq"]
            if weight_decay != 0.0:
                if self.decoupled_weight_decay:  # AdamW: shrink the weights directly
                    w *= 1.0 - lr * weight_decay
                else:  # Adam: L2 penalty folded into the gradient
                    grad = np.multiply(w, weight_decay, out=self._scratch_like(i, 0, w))
                    grad += p.grad
            work = self._scratch_like(i, 1, w)
            m *= beta1
            m += np.multiply(grad, 1.0 - beta1, out=work)
            v *= beta2
            np.multiply(grad, grad, out=work)
            work *= 1.0 - beta2
            v += work
            step_size = lr / (1.0 - beta1**t)
            denominator = np.sqrt(v, out=work)
            denominator /= math.sqrt(1.0 - beta2**t)
            denominator += eps
            update = np.divide(m, denominator, out=work)
            update *= step_size
            w -= update


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW:

        p = p * (1 - lr * weight_decay)

    then the Adam update with g = p.grad (no L2 term). Its default weight_decay is 0.01.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


# --------------------------------------------------------------------------------------------------
# Learning-rate schedules
class LRScheduler:
    """Sets `optimizer.lr` to `base_lr * schedule(t)` where t counts the calls to `step()`.

    As in torch, creating a scheduler applies the lr of t = 0; call `step()` once per epoch or once
    per batch (whichever t means in your schedule). `get_last_lr()` returns `[lr]` (a list, like
    torch's, one entry per parameter group, and here there is one). `state_dict()` holds t, the base
    lr and the schedule's settings, so a resumed run continues the same curve.
    """

    settings: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = -1
        self.step()

    def lr_at(self, t: int) -> float:
        """The learning rate after `t` calls to step() (t = 0 at creation)."""
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self._last_lr = float(self.lr_at(self.last_epoch))
        self.optimizer.lr = self._last_lr

    def get_last_lr(self) -> list[float]:
        return [self._last_lr]

    def state_dict(self) -> dict[str, Any]:
        state = {"last_epoch": self.last_epoch, "base_lr": self.base_lr}
        state.update({name: getattr(self, name) for name in self.settings})
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore t, the base lr and the settings, and set the optimizer's lr to match."""
        missing = [k for k in ("last_epoch", "base_lr", *self.settings) if k not in state]
        if missing:
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {missing}")
        for name in self.settings:
            value = np.asarray(state[name])
            setattr(self, name, int(value) if value.dtype.kind in "iu" else float(value))
        self.base_lr = float(np.asarray(state["base_lr"]))
        self.last_epoch = int(np.asarray(state["last_epoch"]))
        self._last_lr = float(self.lr_at(self.last_epoch))
        self.optimizer.lr = self._last_lr

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

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2
    (torch.optim.lr_scheduler.CosineAnnealingLR; like it, the curve rises again after T_max)."""

    settings = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        if int(T_max) <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return (
            self.eta_min
            + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
        )


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

    def lr_at(self, t: int) -> float:
        if t < self.warmup_steps:
            return self.base_lr * (t + 1) / (self.warmup_steps + 1)
        if t > self.total_steps:
            return self.min_lr
        progress = (t - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(t) for any function (torch.optim.lr_scheduler.LambdaLR).

    The function itself is not part of `state_dict()`: recreate the scheduler with it, then load.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return self.base_lr * float(self.lr_lambda(t))
