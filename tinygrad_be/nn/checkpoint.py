"""Checkpoints: `save` and `load`, atomic `.npz` archives of plain arrays (never pickles)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_be.tensor import Tensor

__all__ = ["load", "save"]

# Checkpoints
_RESERVED_KEYS = ("file", "allow_pickle")  # np.savez's own argument names


def _flatten(state: Mapping[str, Any], prefix: str, out: dict[str, np.ndarray]) -> None:
    """Nested dicts -> flat {"outer/inner": array}; Tensors and numbers become arrays."""
    for key, value in state.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"save: keys must be non-empty strings without '/', got {key!r}")
        name = prefix + key
        if isinstance(value, Mapping):
            _flatten(value, name + "/", out)
            continue
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype.hasobject:
            raise TypeError(
                f"save: entry {name!r} ({type(value).__name__}) is not an array of numbers, bools "
                "or strings; checkpoints hold no Python objects"
            )
        if name in _RESERVED_KEYS:
            raise ValueError(f"save: {name!r} cannot be a top-level key (np.savez reserves it)")
        out[name] = array


def _unflatten(flat: Mapping[str, np.ndarray], path: str) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for name, array in flat.items():
        *outer, last = name.split("/")
        node = nested
        for key in outer:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"load: {path}: entry {name!r} clashes with entry {key!r}")
        if last in node:
            raise ValueError(f"load: {path}: entry {name!r} clashes with a nested entry")
        node[last] = array
    return nested


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def save(path: str | os.PathLike[str], state: Mapping[str, Any]) -> None:
    """Write `state` to the `.npz` file `path`, atomically.

    `state` maps names to arrays, Tensors, numbers, bools or strings, or to nested dicts of them
    (stored as "outer/inner" entries), e.g. `{"model": model.state_dict(), "optimizer":
    optimizer.state_dict(), "epoch": 7}`. Python objects are refused. The archive is written to a
    temporary file in the same directory, flushed to disk, then renamed over `path` with
    `os.replace`: readers see the old file or the new one, never half of one.
    """
    arrays: dict[str, np.ndarray] = {}
    _flatten(state, "", arrays)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: directory {directory!r} does not exist")
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, allow_pickle=False, **arrays)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.chmod(temp, 0o666 & ~_current_umask())  # mkstemp makes 0600; a saved file is ordinary
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by `save` (or by `np.savez`) into a dict of numpy arrays.

    Nested dicts come back nested; numbers come back as 0-d arrays (use `int(...)`, `float(...)`).
    The file is read with `allow_pickle=False`: an object array (which could run code when
    unpickled) is refused with a ValueError, as is anything that is not a valid `.npz` archive.
    """
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as error:  # numpy refuses pickled files when allow_pickle=False
        raise ValueError(f"load: {path} is not a .npz checkpoint ({error})") from None
    except (zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"load: {path} is a truncated or corrupt .npz archive ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {path} holds a single .npy array, not a .npz checkpoint")
    flat: dict[str, np.ndarray] = {}
    with archive:
        for name in archive.files:
            try:
                flat[name] = archive[name]
            except ValueError as error:
                raise ValueError(
                    f"load: refused {path}: entry {name!r} cannot be read safely ({error}); "
                    "checkpoints must hold only numeric arrays"
                ) from None
            except (zipfile.BadZipFile, EOFError, OSError) as error:
                raise ValueError(f"load: {path}: entry {name!r} is corrupt ({error})") from None
    return _unflatten(flat, path)
