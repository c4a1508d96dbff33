"""`Module`, the base class of every layer and model, and `Parameter`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_be.nn.checkpoint import load, save
from tinygrad_be.tensor import Tensor

__all__ = ["IncompatibleKeys", "Module", "Parameter"]


def Parameter(data: Any, dtype: Any = None) -> Tensor:  # noqa: N802  (named like torch.nn.Parameter)
    """A Tensor that requires grad: what a custom Module stores as a trainable weight.

    Unlike torch, there is no Parameter class: every Tensor attribute of a Module is one of its
    parameters, and this helper only saves typing `requires_grad=True`.
    """
    return Tensor(data, requires_grad=True, dtype=dtype)


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _members(value: Any, name: str) -> Iterator[tuple[str, Tensor | Module]]:
    """(dotted name, object) for each Tensor or Module in `value`, looking inside lists and dicts."""
    if isinstance(value, (Tensor, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _members(item, f"{name}.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _members(item, f"{name}.{key}")


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` skipped: keys the model has but the state lacks, and
    keys the state has but the model lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model: subclass it, store layers and weights as attributes in
    `__init__`, and compute in `forward`.

    >>> class MLP(Module):
    ...     def __init__(self):
    ...         self.hidden = Linear(784, 128)
    ...         self.out = Linear(128, 10)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())

    Calling `super().__init__()` is allowed but not needed. Every `Tensor` attribute is a
    parameter (give trainable ones `requires_grad=True`, or create them with `Parameter`), so keep
    intermediate results such as activations in local variables, not on `self`.
    """

    training: bool = True  # class default, so subclasses need not call super().__init__()
    # Names of attributes holding buffers: numpy arrays that are state but not parameters (batch
    # norm's running statistics). Saved and loaded with the model, converted by astype, never
    # handed to an optimizer. Set by `register_buffer`.
    _buffer_names: tuple[str, ...] = ()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ----------------------------------------------------------------------------------------------
    # Finding parameters and sub-modules
    def _attributes(self) -> Iterable[tuple[str, Any]]:
        """(name, value) pairs searched for parameters and sub-modules; Sequential overrides it."""
        return vars(self).items()

    def _own_members(self) -> Iterator[tuple[str, Tensor | Module]]:
        for name, value in self._attributes():
            yield from _members(value, name)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules, each once, with their attribute names ("layers.0" in a list)."""
        seen: set[int] = set()
        for name, member in self._own_members():
            if isinstance(member, Module) and id(member) not in seen:
                seen.add(id(member))
                yield name, member

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named `prefix`) and every sub-module below it, each once, parents first."""
        seen: set[int] = set()  # a module shared (or referring back to a parent) is visited once
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(children))  # reversed: pop them in definition order

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, Tensor) for every parameter, in a stable order: each module's own Tensors
        (in attribute order), then its sub-modules'. A Tensor shared by several modules comes once,
        under its first name (the same order and names as `state_dict`)."""
        seen: set[Tensor] = set()  # Tensors hash by identity
        for module_name, module in self.named_modules():
            for name, member in module._own_members():
                if isinstance(member, Tensor) and member not in seen:
                    seen.add(member)
                    yield (f"{module_name}.{name}" if module_name else name), member

    def parameters(self) -> list[Tensor]:
        """Every parameter Tensor, each once, in `named_parameters` order (a list, not a generator,
        so it can be iterated more than once)."""
        return [tensor for _, tensor in self.named_parameters()]

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Store `array` as the buffer `name` (an attribute): state that is not trained."""
        if not isinstance(array, np.ndarray):
            raise TypeError(f"register_buffer: {name!r} must be a numpy array, got {type(array)}")
        setattr(self, name, array)
        if name not in self._buffer_names:
            self._buffer_names = (*self._buffer_names, name)

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        """(dotted name, array) for every buffer of this module and its sub-modules."""
        for module_name, module in self.named_modules():
            for name in module._buffer_names:
                yield (f"{module_name}.{name}" if module_name else name), getattr(module, name)

    def buffers(self) -> list[np.ndarray]:
        return [array for _, array in self.named_buffers()]

    def _buffer_owners(self) -> dict[str, tuple[Module, str]]:
        """dotted buffer name -> (the module holding it, its attribute name)."""
        return {
            (f"{module_name}.{name}" if module_name else name): (module, name)
            for module_name, module in self.named_modules()
            for name in module._buffer_names
        }

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalars in the parameters (only those that require grad if asked)."""
        return sum(t.numel() for t in self.parameters() if t.requires_grad or not trainable_only)

    # ----------------------------------------------------------------------------------------------
    # Training helpers
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's `.grad` before the next backward (gradients accumulate).

        `set_to_none=True` (torch's default) drops the arrays; False fills them with zeros in place.
        """
        for tensor in self.parameters():
            if set_to_none:
                tensor.grad = None
            elif tensor.grad is not None:
                tensor.grad.fill(0)

    def train(self, mode: bool = True) -> Module:
        """Set the `training` flag of this module and all below it (Dropout reads it)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: `train(False)`. Dropout becomes the identity."""
        return self.train(False)

    def astype(self, dtype: Any) -> Module:
        """Convert every parameter (and its gradient) and every floating buffer to the floating
        dtype `dtype`, in place.

        float64 for gradient checks, float32 for speed. Create optimizers after converting: their
        state keeps the dtype the parameters had when it was created.
        """
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"astype: parameters must stay floating point, not {dtype}")
        for tensor in self.parameters():
            tensor.data = tensor.data.astype(dtype, copy=False)
            if tensor.grad is not None:
                tensor.grad = tensor.grad.astype(dtype, copy=False)
        for module, name in self._buffer_owners().values():
            array = getattr(module, name)
            if np.issubdtype(array.dtype, np.floating):  # counters stay integers
                setattr(module, name, array.astype(dtype, copy=False))
        return self

    def double(self) -> Module:
        return self.astype(np.float64)

    def float(self) -> Module:
        return self.astype(np.float32)

    # ----------------------------------------------------------------------------------------------
    # State
    def state_dict(self) -> dict[str, np.ndarray]:
        """name -> copy of the array, for every parameter (in `named_parameters` order), then
        every buffer (e.g. "1.running_mean", "1.num_batches_tracked", torch's names)."""
        state = {name: tensor.data.copy() for name, tensor in self.named_parameters()}
        state.update((name, array.copy()) for name, array in self.named_buffers())
        return state

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy the arrays of `state` (as made by `state_dict`) into the parameters and buffers.

        Everything is checked before anything is changed: a key the model lacks or lacks in the
        state (when `strict`), a shape or a dtype that differs (always) raises a ValueError naming
        every offending key, and the model is left exactly as it was. Returns the keys skipped
        with `strict=False`.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict: expected a dict of arrays, got {type(state).__name__}"
            )
        params: dict[str, Any] = dict(self.named_parameters())
        buffer_owners = self._buffer_owners()
        params.update((name, getattr(module, attr)) for name, (module, attr) in buffer_owners.items())
        missing = [name for name in params if name not in state]
        unexpected = [key for key in state if key not in params]
        problems: list[str] = []
        if strict:
            for name in missing:
                tensor = params[name]
                problems.append(
                    f"missing key {name!r} (shape {tensor.shape}, dtype {tensor.dtype})"
                )
            for key in unexpected:
                hint = (
                    " (a nested dict: pass that entry instead)"
                    if isinstance(state[key], Mapping)
                    else ""
                )
                problems.append(f"unexpected key {key!r}{hint}")
        arrays: dict[str, np.ndarray] = {}
        for name, tensor in params.items():
            if name not in state:
                continue
            value = state[name]
            if isinstance(value, Tensor):
                value = value.data
            if not isinstance(value, (np.ndarray, np.generic)):
                problems.append(f"key {name!r}: expected a numpy array, got {type(value).__name__}")
            elif value.shape != tensor.shape:
                problems.append(
                    f"key {name!r}: shape {value.shape} in the state, {tensor.shape} in the model"
                )
            elif value.dtype != tensor.dtype:
                problems.append(
                    f"key {name!r}: dtype {value.dtype} in the state, {tensor.dtype} in the model "
                    f"(convert the model with .astype({value.dtype.name}) first, or the arrays)"
                )
            else:
                arrays[name] = value
        if problems:
            raise ValueError(
                f"load_state_dict: refused for {type(self).__name__}, nothing was changed:\n  "
                + "\n  ".join(problems)
            )
        for name, value in arrays.items():  # every check passed: now it cannot fail half way
            if name in buffer_owners:
                module, attr = buffer_owners[name]
                setattr(module, attr, np.array(value, order="C", copy=True))
            else:
                params[name].data = np.array(value, order="C", copy=True)
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict()` to the `.npz` file `path`, atomically (see `nn.save`)."""
        save(path, self.state_dict())

    def load(self, path: str | os.PathLike[str], strict: bool = True) -> Module:
        """Load parameters saved by `save(path)` into this model (see `load_state_dict`)."""
        self.load_state_dict(load(path), strict=strict)
        return self

    # ----------------------------------------------------------------------------------------------
    # Printing
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  {self.extra_repr()}"] if self.extra_repr() else []
        for name, child in children:
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def _floating_dtype(owner: str, dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{owner}: dtype must be floating point, not {dtype}")
    return dtype

