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

Parameter groups work as in torch (a list of dicts, each with "params" and its own options);
`optimizer.lr = 0.01` sets every group's lr, and reading it gives the value they share.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_be import backend as _backend
from tinygrad_be.nn.checkpoint import OldFormatState
from tinygrad_be.tensor import Tensor, _clear_grads

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop"]


class Optimizer:
    """Base class: holds the parameter groups, per-parameter state and scratch arrays.

    `params` is an iterable of Tensors, or (as torch) a list of dicts, each with "params" and any
    hyperparameters that differ for that group: `SGD([{"params": body}, {"params": head, "lr":
    0.01}], lr=0.1)`. `optimizer.param_groups` lists them. Reading `optimizer.lr` gives the value
    all groups share; setting it sets every group's (the schedulers set each group's own).

    Subclasses list their hyperparameters in `hyperparameters`, the names of their per-parameter
    state arrays in `state_arrays` (and integer counters in `state_counters`), and write
    `_update(i, p, group)`.
    """

    hyperparameters: tuple[str, ...] = ("lr",)
    state_arrays: tuple[str, ...] = ()
    state_counters: tuple[str, ...] = ()  # integer per-parameter state, e.g. Adam's "step"
    added_later: tuple[str, ...] = ()  # options older checkpoints lack: they keep their value

    def __init__(self, params: Iterable[Any], defaults: Mapping[str, Any]) -> None:
        name = type(self).__name__
        if callable(params) and not isinstance(params, Iterable):
            raise TypeError(f"{name}: params is a method; call it: {name}(model.parameters(), ...)")
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors; wrap it in a list")
        items = list(params)
        if not items:
            raise ValueError(f"{name}: got an empty parameter list")
        groups = items if isinstance(items[0], Mapping) else [{"params": items}]
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.params: list[Tensor] = []  # every parameter, in group order: state is keyed by index
        seen: set[Tensor] = set()  # Tensors hash by identity
        for g, group in enumerate(groups):
            if not isinstance(group, Mapping) or "params" not in group:
                raise TypeError(f"{name}: parameter group {g} must be a dict with a 'params' key")
            unknown = [k for k in group if k != "params" and k not in self.hyperparameters]
            if unknown:
                raise ValueError(f"{name}: parameter group {g} has unknown options {unknown}")
            group_params = group["params"]
            group_params = (
                [group_params] if isinstance(group_params, Tensor) else list(group_params)
            )
            for p in group_params:
                i = len(self.params)
                if not isinstance(p, Tensor):
                    raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
                if not np.issubdtype(p.dtype, np.floating):
                    raise TypeError(f"{name}: parameter {i} has dtype {p.dtype}")
                if not p.is_leaf:
                    raise ValueError(
                        f"{name}: parameter {i} is not a leaf (it was computed by an op); "
                        "optimize the tensors you created instead"
                    )
                if p in seen:
                    raise ValueError(f"{name}: parameter {i} appears more than once")
                seen.add(p)
                self.params.append(p)
            settings = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
            self._check_group(settings)
            self.param_groups.append({"params": group_params, **settings})
        # state[i]: the named arrays (and step count) of parameter i, created on its first step.
        self.state: dict[int, dict[str, Any]] = {}
        self._scratch: dict[tuple[int, int], np.ndarray] = {}

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate (and normalise in place) one group's hyperparameters."""

    # `optimizer.lr` (any hyperparameter) reads the value shared by all groups and sets every group's.
    def __getattr__(self, name: str) -> Any:
        groups = self.__dict__.get("param_groups")
        if groups is None or name not in type(self).hyperparameters:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        values = [group[name] for group in groups]
        if any(v != values[0] for v in values):
            raise AttributeError(
                f"{type(self).__name__}.{name}: the parameter groups differ ({values}); read "
                f"optimizer.param_groups[i][{name!r}]"
            )
        return values[0]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self).hyperparameters and "param_groups" in self.__dict__:
            for group in self.param_groups:
                group[name] = value
        else:
            object.__setattr__(self, name, value)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients (None, torch's default; or zeros in place with set_to_none=False)."""
        _clear_grads(self.params, set_to_none)

    def step(self) -> None:
        """Update every parameter that has a gradient (parameters whose grad is None are skipped).

        The updates are in place: each updated Tensor's version goes up, so a graph computed before
        the step refuses to backward through the old values.
        """
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(i, p, group)
                    p._mark_written()
                i += 1

    def _update(self, i: int, p: Tensor, group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _scratch_like(self, i: int, slot: int, array: np.ndarray) -> np.ndarray:
        """A reusable work array shaped like `array`, allocated once per (parameter, slot)."""
        buffer = self._scratch.get((i, slot))
        if buffer is None or buffer.shape != array.shape or buffer.dtype != array.dtype:
            buffer = self._scratch[(i, slot)] = np.empty_like(array)
        return buffer

    def _state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        """The state arrays a parameter of `group` has (Adam adds one with amsgrad)."""
        return self.state_arrays

    # ----------------------------------------------------------------------------------------------
    # State for checkpoints
    def state_dict(self) -> dict[str, Any]:
        """{"param_groups": {"g": {name: value, "params": indices}}, "num_params": n,
        "state": {"i": {name: array}}}.

        Arrays are copies; keys are strings, so it can be saved with `tinygrad_be.save`.
        """
        groups: dict[str, Any] = {}
        start = 0
        for g, group in enumerate(self.param_groups):
            count = len(group["params"])
            settings = {name: group[name] for name in self.hyperparameters}
            groups[str(g)] = {**settings, "params": np.arange(start, start + count)}
            start += count
        return {
            "param_groups": groups,
            "num_params": len(self.params),
            "state": {
                str(i): {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                for i, s in self.state.items()
            },
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by `state_dict`.

        Everything is checked first (parameter count, group sizes, hyperparameter names, every
        array's shape); on any mismatch a ValueError names it and the optimizer is left unchanged.
        As in torch, the saved hyperparameters (e.g. lr) replace the current ones, and state arrays
        are cast to their parameter's dtype. A state saved before parameter groups existed (one
        "hyperparameters" dict) applies to every group.
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
        if "param_groups" in state:
            saved_groups = [
                state["param_groups"][k] for k in sorted(state["param_groups"], key=int)
            ]
            if len(saved_groups) != len(self.param_groups):
                problems.append(
                    f"the state has {len(saved_groups)} parameter groups, this optimizer "
                    f"{len(self.param_groups)}"
                )
        else:
            saved_groups = [state.get("hyperparameters", {})] * len(self.param_groups)
        new_settings: list[dict[str, Any]] = []
        for g, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=False)):
            where = f"group {g}: " if len(self.param_groups) > 1 else ""
            if "params" in saved and np.size(saved["params"]) != len(group["params"]):
                problems.append(
                    f"{where}the state's group has {np.size(saved['params'])} parameters, this "
                    f"one {len(group['params'])}"
                )
            settings: dict[str, Any] = {}
            for key in self.hyperparameters:
                if key not in saved and key in self.added_later:
                    settings[key] = group[key]  # a checkpoint from before the option existed
                elif key not in saved:
                    problems.append(f"{where}missing hyperparameter {key!r}")
                else:
                    settings[key] = self._hyperparameter(key, saved[key])
            for key in saved:
                if key != "params" and key not in self.hyperparameters:
                    problems.append(f"{where}unexpected hyperparameter {key!r}")
            new_settings.append(settings)
        if isinstance(state, OldFormatState):
            matrices = [
                key for key, arrays in state.get("state", {}).items()
                if str(key).isdigit() and int(key) < len(self.params)
                and self.params[int(key)].ndim == 2 and arrays
            ]  # fmt: skip
            if matrices:
                problems.append(
                    f"the state comes from a checkpoint written before nn.Linear took torch's "
                    f"(out, in) layout (it has no format marker): the state of the 2-D "
                    f"parameters {matrices} is in the old layout; resume with a fresh optimizer "
                    "(skip optimizer.load_state_dict)"
                )
        group_of = [group for group in self.param_groups for _ in group["params"]]
        new_state: dict[int, dict[str, Any]] = {}
        for key, arrays in state.get("state", {}).items():
            if not str(key).isdigit() or int(key) >= len(self.params):
                problems.append(f"state for unknown parameter {key!r}")
                continue
            if not isinstance(arrays, Mapping):
                problems.append(f"state for parameter {key} is a {type(arrays).__name__}")
                continue
            p = self.params[int(key)]
            expected = self._state_names(group_of[int(key)])
            entry: dict[str, Any] = {}
            for array_name, value in arrays.items():
                if array_name in self.state_counters:
                    entry[array_name] = int(np.asarray(value))
                elif array_name not in self.state_arrays:
                    problems.append(f"parameter {key}: unexpected state {array_name!r}")
                elif np.shape(_backend.to_host(value)) != p.shape:
                    problems.append(
                        f"parameter {key}: {array_name!r} has shape "
                        f"{np.shape(_backend.to_host(value))}, the parameter {p.shape}"
                    )
                else:  # a copy on the parameter's device
                    entry[array_name] = _backend.like(value, p._data, p.dtype).copy()
            absent = [k for k in (*self.state_counters, *expected) if k not in arrays]
            if absent:
                problems.append(f"parameter {key}: state lacks {absent}")
            new_state[int(key)] = entry
        if problems:
            raise ValueError(
                f"{name}.load_state_dict: refused, nothing was changed:\n  " + "\n  ".join(problems)
            )
        for group, settings in zip(self.param_groups, new_settings, strict=True):
            group.update(settings)
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
        groups = []
        for group in self.param_groups:
            settings = ", ".join(f"{k}={group[k]!r}" for k in self.hyperparameters)
            groups.append(f"{len(group['params'])} parameters, {settings}")
        return f"{type(self).__name__}(" + "; ".join(groups) + ")"


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
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov}  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative(
            "SGD", lr=group["lr"], momentum=group["momentum"], weight_decay=group["weight_decay"]
        )
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")
        for key in ("lr", "momentum", "dampening", "weight_decay"):
            group[key] = float(group[key])
        group["nesterov"] = bool(group["nesterov"])

    def _update(self, i: int, p: Tensor, group: dict[str, Any]) -> None:
        # Python floats: numpy treats them as weak, so float32 arrays stay float32.
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])
        grad = p.grad._data
        w = p._data
        d_p = grad
        if weight_decay != 0.0:  # L2 penalty folded into the gradient: g + wd * p
            d_p = np.multiply(w, weight_decay, out=self._scratch_like(i, 0, w))
            d_p += grad
        if momentum != 0.0:
            state = self.state.setdefault(i, {})
            buf = state.get("momentum_buffer")
            if buf is None:  # torch starts the buffer at the first gradient, undamped
                buf = state["momentum_buffer"] = d_p.astype(w.dtype, copy=True)  # any device
            else:
                buf *= momentum
                if dampening != 0.0:
                    buf += np.multiply(d_p, 1.0 - dampening, out=self._scratch_like(i, 1, w))
                else:
                    buf += d_p
            if group["nesterov"]:  # look ahead: g + momentum * buf
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
        v_max = max(v_max, v)                    (amsgrad only; then v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    m and v start at zero; t counts each parameter's own steps (as torch's per-parameter "step").
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    state_arrays = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    state_counters = ("step",)
    added_later = ("amsgrad",)
    decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad}  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        _check_nonnegative(
            name, lr=group["lr"], eps=group["eps"], weight_decay=group["weight_decay"]
        )
        beta1, beta2 = (float(b) for b in group["betas"])
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"{name}: betas must lie in [0, 1), got {tuple(group['betas'])}")
        group["betas"] = (beta1, beta2)
        for key in ("lr", "eps", "weight_decay"):
            group[key] = float(group[key])
        group["amsgrad"] = bool(group["amsgrad"])

    def _state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        return self.state_arrays if group["amsgrad"] else self.state_arrays[:2]

    def _update(self, i: int, p: Tensor, group: dict[str, Any]) -> None:
        lr, eps, weight_decay = (
            float(group["lr"]),
            float(group["eps"]),
            float(group["weight_decay"]),
        )
        beta1, beta2 = (float(b) for b in group["betas"])
        grad = p.grad._data
        w = p._data
        state = self.state.get(i)
        if state is None:
            state = self.state[i] = {"step": 0}
            for name in self._state_names(group):
                state[name] = np.zeros_like(w)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if weight_decay != 0.0:
            if self.decoupled_weight_decay:  # AdamW: shrink the weights directly
                w *= 1.0 - lr * weight_decay
            else:  # Adam: L2 penalty folded into the gradient
                grad = np.multiply(w, weight_decay, out=self._scratch_like(i, 0, w))
                grad += p.grad._data
        work = self._scratch_like(i, 1, w)
        m *= beta1
        m += np.multiply(grad, 1.0 - beta1, out=work)
        v *= beta2
        np.multiply(grad, grad, out=work)
        work *= 1.0 - beta2
        v += work
        if group["amsgrad"]:  # the largest second moment so far keeps the step size from growing
            v = state.setdefault("max_exp_avg_sq", np.zeros_like(w))
            np.maximum(v, state["exp_avg_sq"], out=v)
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
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )


class RMSprop(Optimizer):
    """RMSprop (Hinton), with torch.optim.RMSprop's update for each parameter p:

        g = p.grad + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g                  (v starts at zero)
        centered:  m = alpha * m + (1 - alpha) * g;  s = sqrt(v - m * m) + eps
        else:                                         s = sqrt(v) + eps
        momentum > 0:  buf = momentum * buf + g / s;  p = p - lr * buf      (buf starts at zero)
        else:          p = p - lr * g / s

    Note eps is added outside the square root (as torch; Adam's eps sits in the same place).
    """

    hyperparameters = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")
    state_arrays = ("square_avg", "momentum_buffer", "grad_avg")
    state_counters = ("step",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                    "momentum": momentum, "centered": centered}  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative(
            "RMSprop", lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=group["momentum"],
        )  # fmt: skip
        for key in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            group[key] = float(group[key])
        group["centered"] = bool(group["centered"])

    def _state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        names = ["square_avg"]
        if group["momentum"] > 0:
            names.append("momentum_buffer")
        if group["centered"]:
            names.append("grad_avg")
        return tuple(names)

    def _update(self, i: int, p: Tensor, group: dict[str, Any]) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        grad = p.grad._data
        w = p._data
        state = self.state.get(i)
        if state is None:
            state = self.state[i] = {"step": 0}
            for name in self._state_names(group):
                state[name] = np.zeros_like(w)
        state["step"] += 1
        if weight_decay != 0.0:
            grad = np.multiply(w, weight_decay, out=self._scratch_like(i, 0, w))
            grad += p.grad._data
        work = self._scratch_like(i, 1, w)
        square_avg = state["square_avg"]
        square_avg *= alpha
        np.multiply(grad, grad, out=work)
        work *= 1.0 - alpha
        square_avg += work
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += np.multiply(grad, 1.0 - alpha, out=work)
            np.multiply(grad_avg, grad_avg, out=work)
            np.subtract(square_avg, work, out=work)
            avg = np.sqrt(work, out=work)
        else:
            avg = np.sqrt(square_avg, out=work)
        avg += eps
        if momentum > 0.0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += np.divide(grad, avg, out=work)
            w -= np.multiply(buf, lr, out=work)
        else:
            update = np.divide(grad, avg, out=work)
            update *= lr
            w -= update


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), with torch.optim.Adagrad's update for each parameter p at step
    t = 1, 2, ...:

        g = p.grad + weight_decay * p
        sum = sum + g * g                         (sum starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)
    """

    hyperparameters = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
    state_arrays = ("sum",)
    state_counters = ("step",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        defaults = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "eps": eps}  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative(
            "Adagrad", lr=group["lr"], lr_decay=group["lr_decay"], eps=group["eps"],
            weight_decay=group["weight_decay"],
            initial_accumulator_value=group["initial_accumulator_value"],
        )  # fmt: skip
        for key in self.hyperparameters:
            group[key] = float(group[key])

    def _update(self, i: int, p: Tensor, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        grad = p.grad._data
        w = p._data
        state = self.state.get(i)
        if state is None:
            initial = float(group["initial_accumulator_value"])
            state = self.state[i] = {"step": 0, "sum": np.full_like(w, initial)}
        state["step"] += 1
        if weight_decay != 0.0:
            grad = np.multiply(w, weight_decay, out=self._scratch_like(i, 0, w))
            grad += p.grad._data
        clr = lr / (1.0 + (state["step"] - 1) * lr_decay)
        work = self._scratch_like(i, 1, w)
        state["sum"] += np.multiply(grad, grad, out=work)
        std = np.sqrt(state["sum"], out=work)
        std += eps
        update = np.divide(grad, std, out=work)
        update *= clr
        w -= update
