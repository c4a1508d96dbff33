"""Devices, as torch's: `device("cpu")`, `device("cuda:0")`, and where a tensor may live.

Tensors live on the CPU (numpy arrays) or, with the optional CuPy extra and an NVIDIA GPU, on
"cuda" (CuPy arrays; see `backend.py`). "mps" and "meta" are names torch code uses; asking for them
raises an error that says so, instead of silently computing somewhere else.
"""

from __future__ import annotations

from typing import Any

__all__ = ["device", "get_default_device", "resolve", "set_default_device"]

_TYPES = ("cpu", "cuda", "mps", "meta")


class device:  # noqa: N801  (named like torch.device)
    """A device name: `type` ("cpu", "cuda", ...) and an optional `index` ("cuda:1" -> 1).

    >>> device("cpu"), device("cuda", 0), str(device("cuda:1"))
    (device(type='cpu'), device(type='cuda', index=0), 'cuda:1')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if isinstance(type, int) and index is None:  # torch.device(0) means cuda:0
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(
                f"device: expected a string or a device, got {builtin_type(type).__name__}"
            )
        text = type
        if ":" in text:
            text, _, number = text.partition(":")
            if index is not None or not number.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}")
            index = int(number)
        if text not in _TYPES:
            raise RuntimeError(
                f"device: expected one of {', '.join(_TYPES)} at the start of the device string, "
                f"got {type!r}"
            )
        self.type, self.index = text, None if index is None else int(index)

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


builtin_type = type
CPU = device("cpu")
CUDA = device("cuda", 0)
_default = [CPU]  # a list, so set_default_device changes it in place


def resolve(where: Any, op: str) -> device:
    """`where` (None, a string or a device) as a device on which tensors can live now, or a clear
    RuntimeError naming `op`: "cpu" always; "cuda" (cuda:0) with CuPy and a GPU, else an error
    that says which is missing and how to install the extra."""
    if where is None:
        return _default[0]
    found = where if isinstance(where, device) else device(where)
    if found.type == "cpu":
        return CPU
    if found.type == "cuda":
        from tinygrad_be import backend

        backend.cuda_module(op)  # raises if CuPy or the GPU is missing
        if found.index not in (None, 0):
            raise RuntimeError(
                f"{op}: device {str(found)!r}: tinygrad_be computes on one GPU, cuda:0"
            )
        return CUDA
    raise RuntimeError(
        f"{op}: device {str(found)!r} is not available: tinygrad_be computes on the CPU with "
        "numpy, or on an NVIDIA GPU with CuPy (device='cuda'); use device='cpu'"
    )


def set_default_device(where: Any) -> None:
    """As torch's: the device the factories (`zeros`, `randn`, `tensor`, ...) put new tensors on
    when no `device=` is given; None means "cpu"."""
    _default[0] = CPU if where is None else resolve(where, "set_default_device")


def get_default_device() -> device:
    """The device new tensors go to (`set_default_device`); "cpu" unless changed."""
    return _default[0]
