"""`Module`, the base class of every layer and model.

As in torch, a module's parameters are the `Parameter`s assigned to it as attributes, its buffers
are the Tensors given to `register_buffer`, and its sub-modules are the `Module`s assigned to it.
Unlike torch, Parameters and Modules inside a plain list, tuple or dict attribute are found too
(torch needs `ModuleList` / `ModuleDict` there; both exist here as well).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_be import backend
from tinygrad_be.device import device as _device_class
from tinygrad_be.device import resolve as _resolve_device
from tinygrad_be.nn.checkpoint import OldFormatState, load, save
from tinygrad_be.nn.parameter import Parameter
from tinygrad_be.tensor import Tensor, _clear_grads

__all__ = ["IncompatibleKeys", "Module", "Parameter"]


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _members(value: Any, name: str) -> Iterator[tuple[str, Parameter | Module]]:
    """(dotted name, object) for each Parameter or Module in `value`, looking in lists and dicts."""
    if isinstance(value, (Parameter, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _members(item, f"{name}.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _members(item, f"{name}.{key}")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` skipped: keys the model has but the state lacks, and
    keys the state has but the model lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model: subclass it, assign layers and `Parameter`s as
    attributes in `__init__`, and compute in `forward`.

    >>> class MLP(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = Linear(784, 128)
    ...         self.out = Linear(128, 10)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())

    Calling `super().__init__()` is good manners (torch needs it) but not needed here. Only
    `Parameter`s are parameters: a plain Tensor attribute (even one with requires_grad=True) is
    ordinary state, as in torch. State that is not trained but saved with the model (batch norm's
    running statistics) goes in `register_buffer`.
    """

    training: bool = True  # class defaults, so subclasses need not call super().__init__()
    _buffer_names: tuple[str, ...] = ()  # attributes holding buffers (Tensors), in order
    _non_persistent: frozenset[str] = frozenset()  # buffers left out of state_dict

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments (Module takes none)"
            )

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ----------------------------------------------------------------------------------------------
    # Attributes: torch's checks on assignment, and `self.__getattr__(name)` called explicitly
    def __getattr__(self, name: str) -> Any:
        # Python calls this only when normal lookup fails; torch code also calls it directly.
        attributes = self.__dict__
        if name in attributes:
            return attributes[name]
        if not name.startswith("_"):
            for key, value in self._attributes():  # Sequential's "0", "1", ...
                if key == name:
                    return value
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        current = self.__dict__.get(name)
        if (
            isinstance(current, Parameter)
            and value is not None
            and not isinstance(value, Parameter)
        ):
            raise TypeError(
                f"cannot assign '{type(value).__name__}' as parameter '{name}' (Parameter or None "
                "expected); to change its values use `with no_grad(): p.copy_(x)` or p.data = x"
            )
        if name in self._buffer_names and value is not None and not isinstance(value, Tensor):
            raise TypeError(
                f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None "
                "expected)"
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        if name in self._buffer_names:
            self._buffer_names = tuple(n for n in self._buffer_names if n != name)

    # ----------------------------------------------------------------------------------------------
    # Registering
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Store `param` as the parameter `name` (the same as assigning it as an attribute)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' (Parameter "
                "or None required)"
            )
        self._check_name("register_parameter", name)
        setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        """Store `module` as the sub-module `name` (the same as assigning it as an attribute)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        self._check_name("add_module", name)
        setattr(self, name, module)

    register_module = add_module

    def _check_name(self, what: str, name: str) -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{what}: name must be a non-empty string without '.', got {name!r}")

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Store `tensor` as the buffer `name` (an attribute): state that is not trained but is
        saved with the model (unless persistent=False), converted by `.to(dtype)`, never handed
        to an optimizer. A numpy array is wrapped in a Tensor sharing its memory; None is allowed
        (the name is kept, nothing is saved)."""
        self._check_name("register_buffer", name)
        if isinstance(tensor, np.ndarray):
            tensor = Tensor._wrap(tensor)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: cannot assign '{type(tensor).__name__}' object to buffer "
                f"'{name}' (Tensor or None required)"
            )
        if name not in self._buffer_names:
            self._buffer_names = (*self._buffer_names, name)
        object.__setattr__(self, name, tensor)
        if persistent:
            self._non_persistent = self._non_persistent - {name}
        else:
            self._non_persistent = self._non_persistent | {name}

    # ----------------------------------------------------------------------------------------------
    # Finding parameters, buffers and sub-modules
    def _attributes(self) -> Iterable[tuple[str, Any]]:
        """(name, value) pairs searched for parameters and sub-modules; Sequential overrides it."""
        return vars(self).items()

    def _own_members(self) -> Iterator[tuple[str, Parameter | Module]]:
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

    def _walk(self, prefix: str, path: frozenset[int]) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every one below it, depth first in definition
        order; a module shared under two names comes under both, a cycle is cut."""
        yield prefix, self
        for name, child in self.named_children():
            if id(child) not in path:
                yield from child._walk(_join(prefix, name), path | {id(child)})

    def named_modules(
        self, memo: set[Module] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module (named `prefix`) and every sub-module below it, parents first (depth
        first, in definition order); a module reached twice comes once unless remove_duplicate
        is False."""
        seen: set[int] = {id(m) for m in memo} if memo else set()
        for name, module in self._walk(prefix, frozenset({id(self)})):
            if remove_duplicate:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            yield name, module

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) for every parameter, in a stable order: each module's own (in
        attribute order), then its sub-modules'. A Parameter shared by several modules comes
        once, under its first name (the same order and names as `state_dict`)."""
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, member in module._own_members():
                if isinstance(member, Parameter) and id(member) not in seen:
                    if remove_duplicate:
                        seen.add(id(member))
                    yield _join(module_name, name), member

    def parameters(self, recurse: bool = True) -> list[Parameter]:
        """Every Parameter, each once, in `named_parameters` order (a list, where torch gives a
        generator: it can be iterated more than once, and `list(...)` of it still works)."""
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, Tensor) for every buffer that is not None, this module's first."""
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name in module._buffer_names:
                value = module.__dict__.get(name)
                if value is not None:
                    yield _join(module_name, name), value

    def buffers(self, recurse: bool = True) -> list[Tensor]:
        return [tensor for _, tensor in self.named_buffers(recurse=recurse)]

    def get_submodule(self, target: str) -> Module:
        """The sub-module at the dotted path `target` ("" is self), as torch."""
        module: Module = self
        for part in target.split(".") if target else []:
            child = dict(module.named_children()).get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no attribute `{part}`")
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        param = dict(self.get_submodule(path).named_parameters(recurse=False)).get(name)
        if param is None:
            raise AttributeError(f"`{target}` is not a parameter")
        return param

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalars in the parameters (only those that require grad if asked)."""
        return sum(t.numel() for t in self.parameters() if t.requires_grad or not trainable_only)

    # ----------------------------------------------------------------------------------------------
    # Training helpers
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's `.grad` before the next backward (gradients accumulate).

        `set_to_none=True` (torch's default) drops them; False zeroes them in place.
        """
        _clear_grads(self.parameters(), set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set requires_grad on every parameter (False freezes the module); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def train(self, mode: bool = True) -> Module:
        """Set the `training` flag of this module and all below it (Dropout and BatchNorm read
        it); returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: `train(False)`. Dropout becomes the identity, BatchNorm uses its
        running statistics. Returns self."""
        return self.train(False)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every sub-module (children first, recursively) and then on self, as
        torch (e.g. to initialise weights); returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ----------------------------------------------------------------------------------------------
    # dtype and device
    def astype(self, dtype: Any) -> Module:
        """Convert every parameter (and its gradient) and every floating buffer to the floating
        dtype `dtype`, in place (the Tensors stay the same objects).

        float64 for gradient checks, float32 for speed. Create optimizers after converting: their
        state keeps the dtype the parameters had when it was created.
        """
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(
                f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}"
            )
        for p in self.parameters():
            if p.dtype != dtype:
                p.data = p._data.astype(dtype)
                if p.grad is not None:
                    p.grad = Tensor._wrap(p.grad._data.astype(dtype))
        for buffer in self.buffers():
            if np.issubdtype(buffer.dtype, np.floating) and buffer.dtype != dtype:
                buffer.data = buffer._data.astype(dtype)  # counters stay integers
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """`to(device)`, `to(dtype)`, `to(device, dtype)`, `to(tensor)` as torch, in place;
        returns self. A device moves every parameter, gradient and buffer there (the Tensors stay
        the same objects; "cuda" needs CuPy and a GPU, else a clear error); a dtype converts the
        floating parameters and buffers (see `astype`)."""
        dtype, where = kwargs.pop("dtype", None), kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, (str, _device_class)):
                where = arg
            else:
                dtype = arg
        if where is not None:
            self._move(_resolve_device(where, f"{type(self).__name__}.to"))
        return self if dtype is None else self.astype(dtype)

    def _move(self, target: Any) -> None:
        """Put every parameter (and its gradient) and buffer on device `target`, in place."""
        op = f"{type(self).__name__}.to"
        for tensor in [*self.parameters(), *self.buffers()]:
            if tensor.device != target:
                tensor._data = backend.to_device(tensor._data, target, op)
                tensor._mark_written()
            grad = tensor.grad
            if grad is not None and grad.device != target:
                grad._data = backend.to_device(grad._data, target, op)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        return self.to("cuda" if device is None else device)

    def double(self) -> Module:
        return self.astype(np.float64)

    def float(self) -> Module:
        return self.astype(np.float32)

    def half(self) -> Module:
        return self.astype(np.float16)

    def type(self, dst_type: Any) -> Module:
        return self.astype(dst_type)

    # ----------------------------------------------------------------------------------------------
    # State
    def state_dict(
        self, *args: Any, destination: dict[str, Any] | None = None, prefix: str = "",
        keep_vars: bool = False,
    ) -> dict[str, Tensor]:  # fmt: skip
        """name -> Tensor, in torch's order: each module's parameters, then its persistent buffers
        (e.g. "1.running_mean", "1.num_batches_tracked"), then its sub-modules'. A Parameter
        shared by two modules is listed under both names, as torch.

        As torch, the Tensors share memory with the model (detached unless keep_vars): copy them
        (`{k: v.clone() ...}`) to keep a snapshot while training goes on. `save` takes the dict.
        """
        state = {} if destination is None else destination
        for name, (_, _, tensor) in self._state_targets(prefix).items():
            state[name] = tensor if keep_vars else tensor.detach()
        return state

    def _state_targets(self, prefix: str = "") -> dict[str, tuple[Module, str, Tensor]]:
        """state_dict name -> (owning module, attribute, Tensor), in state_dict order."""
        targets: dict[str, tuple[Module, str, Tensor]] = {}
        for module_name, module in self._walk(prefix, frozenset({id(self)})):
            for name, member in module._own_members():
                if isinstance(member, Parameter):
                    targets[_join(module_name, name)] = (module, name, member)
            for name in module._buffer_names:
                value = module.__dict__.get(name)
                if value is not None and name not in module._non_persistent:
                    targets[_join(module_name, name)] = (module, name, value)
        return targets

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> IncompatibleKeys:
        """Copy the values of `state_dict` (as made by `state_dict`, Tensors or arrays) into the
        parameters and buffers, in place.

        Everything is checked before anything is changed: a key the model lacks or lacks in the
        state (when `strict`), a shape or a dtype that differs (always) raises a ValueError naming
        every offending key, and the model is left exactly as it was. Returns the keys skipped
        with `strict=False`. A state read from an old-format checkpoint (nn.Linear weights (in,
        out), see `nn.checkpoint`) has its Linear weights transposed to torch's layout.
        """
        state = state_dict
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict: expected a dict of arrays, got {type(state).__name__}"
            )
        targets = self._state_targets()
        transposed = self._old_layout_keys() if isinstance(state, OldFormatState) else set()
        missing = [name for name in targets if name not in state]
        unexpected = [key for key in state if key not in targets]
        problems: list[str] = []
        if strict:
            for name in missing:
                tensor = targets[name][2]
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
        for name, (_, _, tensor) in targets.items():
            if name not in state:
                continue
            value = state[name]
            if isinstance(value, Tensor):
                value = backend.to_host(value._data)  # checked and copied from host memory
            if not isinstance(value, (np.ndarray, np.generic)):
                problems.append(f"key {name!r}: expected a numpy array, got {type(value).__name__}")
                continue
            if name in transposed and value.ndim == 2:
                value = value.T  # the old (in, out) layout -> torch's (out, in)
            if value.shape != tensor.shape:
                problems.append(
                    f"key {name!r}: shape {value.shape} in the state, {tensor.shape} in the model"
                    + self._layout_hint(name, value.shape, tensor.shape, transposed)
                )
            elif value.dtype != tensor.dtype:
                problems.append(
                    f"key {name!r}: dtype {value.dtype} in the state, {tensor.dtype} in the model "
                    f"(convert the model with .to({value.dtype.name}) first, or the arrays)"
                )
            else:
                arrays[name] = value
        if problems:
            raise ValueError(
                f"load_state_dict: refused for {type(self).__name__}, nothing was changed:\n  "
                + "\n  ".join(problems)
            )
        for name, value in arrays.items():  # every check passed: now it cannot fail half way
            module, attr, tensor = targets[name]
            if assign and "." not in attr:  # torch's assign=True: the state's values become the
                if isinstance(tensor, Parameter):  # tensors (copied here: checkpoint arrays)
                    fresh = Parameter(np.array(value, order="C"), tensor.requires_grad)
                else:
                    fresh = Tensor._wrap(np.array(value, order="C"))
                fresh._data = backend.to_device(fresh._data, tensor.device)
                object.__setattr__(module, attr, fresh)
            else:  # in place, as torch's copy_: the Tensors and their arrays stay the same
                if type(tensor._data) is np.ndarray:
                    np.copyto(tensor._data, value)
                else:  # on a GPU
                    tensor._data[...] = backend.to_device(value, tensor.device)
                tensor._mark_written()
        return IncompatibleKeys(missing, unexpected)

    def _old_layout_keys(self) -> set[str]:
        """state_dict names of the weights the old checkpoint format stored transposed."""
        return {
            _join(name, attr)
            for name, module in self.named_modules()
            for attr in getattr(type(module), "_transposed_in_old_checkpoints", ())
        }

    @staticmethod
    def _layout_hint(
        name: str, saved: tuple[int, ...], wanted: tuple[int, ...], transposed: set[str]
    ) -> str:
        if len(saved) == 2 and saved == wanted[::-1]:
            if name in transposed:
                return (" (an old-format checkpoint should hold nn.Linear weights (in, out); "
                        "this one does not: if it holds torch's layout, pass dict(state))")  # fmt: skip
            return (" (nn.Linear.weight is (out_features, in_features), torch's layout; this looks "
                    "like the old (in, out) layout: transpose it with .T)")  # fmt: skip
        return ""

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict()` to the `.npz` file `path`, atomically (`nn.save(state, path)`)."""
        save(self.state_dict(), path)

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
