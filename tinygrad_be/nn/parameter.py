"""`Parameter`: the Tensor subclass that marks a trainable weight of a Module (torch.nn.Parameter)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_be.tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A Tensor that is a module's trainable weight: assigned as an attribute of a `Module`, it is
    one of the module's `parameters()` (a plain Tensor attribute is not, as in torch).

    `Parameter(tensor)` shares the tensor's memory (as torch); any other data (a numpy array, a
    list) is copied, as `Tensor(...)`. `requires_grad` is True unless told otherwise. Ops on a
    Parameter give ordinary Tensors.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True, *, dtype: Any = None) -> None:
        if data is None:
            data = np.empty(0, np.float32)
        if isinstance(data, Tensor) and dtype is None:
            super().__init__(np.empty(0, data.dtype))
            self._data = data._data  # shares memory, as torch.nn.Parameter(tensor)
        else:
            super().__init__(data, dtype=dtype)
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
