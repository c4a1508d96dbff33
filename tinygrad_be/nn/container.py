"""Containers: `Sequential`, `ModuleList` and `ModuleDict`, as torch.nn's.

Each keeps its modules in one ordered dict, name -> module; the names are the keys of the
parameters ("0.weight", "blocks.2.bias", "heads.cls.weight").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tinygrad_be.nn.module import Module

__all__ = ["ModuleDict", "ModuleList", "Sequential"]


def _check_module(owner: str, module: Any, where: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: {where} is a {type(module).__name__}, not a Module")
    return module


class _Container(Module):
    """Holds `_children`, name -> Module, searched instead of the attributes."""

    def __init__(self) -> None:
        super().__init__()
        self._children: dict[str, Module] = {}

    def _attributes(self) -> Iterable[tuple[str, Any]]:
        return self._children.items()

    def add_module(self, name: str, module: Module | None) -> None:
        self._check_name("add_module", name)
        if module is not None:
            _check_module(f"{type(self).__name__}.add_module", module, repr(name))
        self._children[name] = module  # type: ignore[assignment]

    register_module = add_module

    def __len__(self) -> int:
        return len(self._children)

    def _index(self, index: int) -> int:
        """A position in the container (negative counts from the end), or IndexError."""
        n = len(self._children)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of {n}")
        return index % n


class Sequential(_Container):
    """Modules applied one after the other: `Sequential(a, b, c)(x) == c(b(a(x)))`.

    `Sequential(OrderedDict(name=module, ...))` names the layers; otherwise they are "0", "1",
    .... Indexable (`model[0]`, `model[-1]`; a slice is a Sequential keeping the names, as
    torch), has a length, iterates over its layers; `append`, `insert`, `extend`, `add_module`.
    """

    def __init__(self, *args: Module | Mapping[str, Module]) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for name, module in args[0].items():
                self.add_module(name, module)
            return
        for i, module in enumerate(args):
            _check_module("Sequential", module, f"argument {i}")
            self._children[str(i)] = module

    def forward(self, input: Any) -> Any:  # noqa: A002  (torch's name)
        for module in self._children.values():
            input = module(input)
        return input

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._children.items())
        if isinstance(index, slice):
            return Sequential(dict(items[index]))
        return items[self._index(int(index))][1]

    def __setitem__(self, index: int, module: Module) -> None:
        name = list(self._children)[self._index(int(index))]
        self._children[name] = _check_module("Sequential", module, "the new layer")

    def __delitem__(self, index: int | slice) -> None:
        names = list(self._children)
        for name in names[index] if isinstance(index, slice) else [names[self._index(index)]]:
            del self._children[name]
        if all(name.isdigit() for name in self._children):  # renumber, as torch
            self._children = {str(i): m for i, m in enumerate(self._children.values())}

    def __iter__(self) -> Iterator[Module]:
        return iter(self._children.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        _check_module("Sequential.insert", module, "the layer")
        modules = list(self._children.values())
        n = len(modules)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} layers")
        modules.insert(index % (n + 1) if index < 0 else index, module)
        self._children = {str(i): m for i, m in enumerate(modules)}
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for module in modules:
            self.append(module)
        return self


class ModuleList(_Container):
    """A list of modules whose parameters belong to the owner (it has no forward of its own)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._children.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[self._index(int(index))]

    def __setitem__(self, index: int, module: Module) -> None:
        _check_module("ModuleList", module, "the new module")
        self._children[str(self._index(int(index)))] = module

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._children.values())
        del modules[index if isinstance(index, slice) else self._index(int(index))]
        self._children = {str(i): m for i, m in enumerate(modules)}

    def __iter__(self) -> Iterator[Module]:
        return iter(self._children.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        _check_module("ModuleList.insert", module, "the module")
        modules = list(self._children.values())
        modules.insert(index, module)
        self._children = {str(i): m for i, m in enumerate(modules)}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward: iterate over it in your forward")


class ModuleDict(_Container):
    """A dict of modules (string keys, insertion order) whose parameters belong to the owner."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._children[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._children[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._children)

    def __contains__(self, key: object) -> bool:
        return key in self._children

    def keys(self) -> Iterable[str]:
        return self._children.keys()

    def values(self) -> Iterable[Module]:
        return self._children.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._children.items()

    def pop(self, key: str) -> Module:
        return self._children.pop(key)

    def clear(self) -> None:
        self._children.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward: index it in your forward")
