"""Devices, as torch's: `device("cpu")`, `device("cuda:0")`, and where a tensor may live.

Tensors live on the CPU (numpy arrays). "cuda" and "mps" are names torch code uses; asking for them
here raises an error that says so, instead of silently computing somewhere else.
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
            raise TypeError(f"device: expected a string or a device, got {builtin_type(type).__name__}")
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


def resolve(where: Any, op: str) -> device:
    """`where` (None, a string or a device) as a device on which tensors can live now, or a clear
    RuntimeError naming `op` (tensors are numpy arrays: only "cpu" is available)."""
    if where is None:
        return CPU
    found = device(where)
    if found.type != "cpu":
        raise RuntimeError(
            f"{op}: device {str(found)!r} is not available: tinygrad_be computes on the CPU with "
            "numpy (cuda.is_available() is False); use device='cpu'"
        )
    return CPU


def set_default_device(where: Any) -> None:
    """As torch's: the device new tensors go to. Only "cpu" (or None) exists here; others raise."""
    resolve(where, "set_default_device")


def get_default_device() -> device:
    return CPU
