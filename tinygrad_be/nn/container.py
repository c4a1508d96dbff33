"""Containers: `Sequential`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tinygrad_be.nn.module import Module

__all__ = ["Sequential"]


class Sequential(Module):
    """Modules applied one after the other: `Sequential(a, b, c)(x) == c(b(a(x)))`.

    Indexable (`model[0]`, `model[1:]` is a Sequential), has a length, iterates over its layers.
    Parameter names start with the layer's position: "0.weight", "2.bias".
    """

    def __init__(self, *modules: Module) -> None:
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: argument {i} is a {type(module).__name__}, not a Module"
                )
        self._layers: list[Module] = list(modules)

    def _attributes(self) -> Iterable[tuple[str, Any]]:
        return [(str(i), layer) for i, layer in enumerate(self._layers)]

    def forward(self, x: Any) -> Any:
        for layer in self._layers:
            x = layer(x)
        return x

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self._layers.append(module)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)
