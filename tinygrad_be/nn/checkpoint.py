"""Checkpoints: `save(obj, f)` and `load(f)`, atomic `.npz` archives of plain arrays (never pickles).

torch's order and names: `save(model.state_dict(), "model.npz")`, `load("model.npz",
map_location="cpu", weights_only=True)`. What differs from torch, and why:

- `obj` is a dict (nested dicts allowed) of Tensors, arrays, numbers, bools and strings: no whole
  Modules, no Python objects, because those need pickle, and unpickling a file runs its code.
- `load` gives numpy arrays where torch gives Tensors (`load_state_dict`, `Tensor(...)` and numpy
  all take them); numbers, bools and strings saved as Python values come back as Python values.

Every file `save` writes carries a format marker. A file without one was written by an older
tinygrad_be (or by `np.savez`): its dicts come back as `OldFormatState`, and
`Module.load_state_dict` transposes the `nn.Linear` weights in it from the old (in_features,
out_features) layout to torch's (out_features, in_features).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from tinygrad_be.backend import to_host
from tinygrad_be.tensor import Tensor

__all__ = ["OldFormatState", "load", "save"]

FORMAT = 2  # 1: no marker (nn.Linear weights (in, out)); 2: torch's layout, marker, Python values
_MARKER = "__tinygrad_be_format__"  # top-level entry holding FORMAT
_PYTHON_VALUES = "__tinygrad_be_python_values__"  # names of entries saved from Python scalars
_RESERVED_KEYS = ("file", "allow_pickle", _MARKER, _PYTHON_VALUES)  # np.savez's own names + ours


class OldFormatState(dict):
    """A dict read from a checkpoint without the format marker (tinygrad_be before format 2).

    Its `nn.Linear` weights are (in_features, out_features); `Module.load_state_dict` knows and
    transposes them. `dict(state)` drops the mark (to load such a file as torch's layout).
    """


def _flatten(
    state: Mapping[str, Any], prefix: str, out: dict[str, np.ndarray], python: list[str]
) -> None:
    """Nested dicts -> flat {"outer/inner": array}; Tensors and numbers become arrays."""
    for key, value in state.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"save: keys must be non-empty strings without '/', got {key!r}")
        name = prefix + key
        if isinstance(value, OldFormatState):
            raise ValueError(
                f"save: entry {name!r} was read from an old-format checkpoint (nn.Linear weights "
                "(in, out)); load it into its model first (load_state_dict converts it), then save "
                "model.state_dict()"
            )
        if isinstance(value, Mapping):
            _flatten(value, name + "/", out, python)
            continue
        if isinstance(value, (bool, int, float, str)):
            python.append(name)  # loaded back as a Python value, as torch
        array = to_host(value._data if isinstance(value, Tensor) else value)  # GPU -> numpy
        if array.dtype.hasobject:
            raise TypeError(
                f"save: entry {name!r} ({type(value).__name__}) is not an array of numbers, bools "
                "or strings; checkpoints hold no Python objects"
            )
        if name in _RESERVED_KEYS:
            raise ValueError(f"save: {name!r} cannot be a top-level key (it is reserved)")
        out[name] = array


def _unflatten(flat: Mapping[str, np.ndarray], where: str, kind: type) -> dict[str, Any]:
    nested: dict[str, Any] = kind()
    for name, array in flat.items():
        *outer, last = name.split("/")
        node = nested
        for key in outer:
            node = node.setdefault(key, kind())
            if not isinstance(node, dict):
                raise ValueError(f"load: {where}: entry {name!r} clashes with entry {key!r}")
        if last in node:
            raise ValueError(f"load: {where}: entry {name!r} clashes with a nested entry")
        node[last] = array
    return nested


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def save(obj: Mapping[str, Any], f: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write the dict `obj` to `f` (a path, or a binary file object), as torch.save(obj, f).

    `obj` maps names to Tensors, arrays, numbers, bools or strings, or to nested dicts of them
    (stored as "outer/inner" entries), e.g. `{"net": model.state_dict(), "acc": 93.1, "epoch":
    7}`. To a path, the archive is written to a temporary file in the same directory, flushed to
    disk, then renamed over `f` with `os.replace`: readers see the old file or the new one, never
    half of one.
    """
    if isinstance(obj, (str, os.PathLike)) and isinstance(f, Mapping):
        raise TypeError(
            "save: the arguments are save(obj, f), torch's order: the dict first, then the path "
            f"(got the path {os.fspath(obj)!r} first; write save(state, path))"
        )
    if hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict"):
        raise TypeError(
            f"save: cannot save a whole {type(obj).__name__} (torch pickles it; a pickle runs "
            "code when loaded, so checkpoints here hold only arrays): save obj.state_dict(), and "
            "load it into a new instance with load_state_dict(load(f))"
        )
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"save: expected a dict of Tensors, arrays and numbers, got {type(obj).__name__} "
            "(save {'name': value} to store one tensor)"
        )
    arrays: dict[str, np.ndarray] = {}
    python: list[str] = []
    _flatten({"the state": obj} if isinstance(obj, OldFormatState) else obj, "", arrays, python)
    arrays[_MARKER] = np.asarray(FORMAT)
    arrays[_PYTHON_VALUES] = np.array(python, dtype=str)
    if not isinstance(f, (str, os.PathLike)):  # a file object: written as it is (no rename)
        np.savez(f, allow_pickle=False, **arrays)
        return
    path = os.fspath(f)
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


def _check_map_location(map_location: Any) -> None:
    if map_location is None or str(map_location) == "cpu":
        return
    raise ValueError(
        f"load: map_location={map_location!r}: tinygrad_be runs on the CPU only for now, so the "
        "only location is 'cpu' (or None)"
    )


def _refuse_foreign_archive(archive: Any, where: str) -> None:
    """A zip that is not an archive of .npy arrays (PyTorch's `.pt` files are zips of pickles)."""
    names = archive.zip.namelist()
    foreign = [name for name in names if not name.endswith(".npy")]
    if foreign:
        torch_file = any(name.endswith("data.pkl") for name in foreign)
        hint = (
            "it is a PyTorch checkpoint (a pickle inside a zip), and tinygrad_be never unpickles; "
            "convert it in PyTorch: np.savez('model.npz', **{k: v.numpy() for k, v in "
            "torch.load(f).items()})"
            if torch_file
            else "it holds entries that are not .npy arrays"
        )
        raise ValueError(f"load: refused {where}: {hint} (entries such as {foreign[:3]})")


def load(
    f: str | os.PathLike[str] | IO[bytes],
    map_location: Any = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = True,
    mmap: bool | None = None,
) -> dict[str, Any]:
    """Read a checkpoint written by `save` (or by `np.savez`) into a dict of numpy arrays.

    Nested dicts come back nested; values saved as Python numbers, bools or strings come back as
    them, arrays and Tensors as numpy arrays. The file is read with `allow_pickle=False` whatever
    `weights_only` says: an object array (which could run code when unpickled) is refused with a
    ValueError, as is anything that is not a valid `.npz` archive. `map_location` may be None or
    "cpu"; `pickle_module` must be None (nothing is unpickled); `mmap` is accepted and ignored.
    """
    _check_map_location(map_location)
    if pickle_module is not None:
        raise ValueError("load: pickle_module: checkpoints here are never unpickled; pass None")
    where = os.fspath(f) if isinstance(f, (str, os.PathLike)) else repr(f)
    try:
        archive = np.load(f, allow_pickle=False)
    except ValueError as error:  # numpy refuses pickled files when allow_pickle=False
        raise ValueError(f"load: {where} is not a .npz checkpoint ({error})") from None
    except (zipfile.BadZipFile, EOFError) as error:
        raise ValueError(
            f"load: {where} is a truncated or corrupt .npz archive ({error})"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {where} holds a single .npy array, not a .npz checkpoint")
    flat: dict[str, np.ndarray] = {}
    with archive:
        _refuse_foreign_archive(archive, where)
        for name in archive.files:
            try:
                flat[name] = archive[name]
            except ValueError as error:
                raise ValueError(
                    f"load: refused {where}: entry {name!r} cannot be read safely ({error}); "
                    "checkpoints must hold only numeric arrays"
                ) from None
            except (zipfile.BadZipFile, EOFError, OSError) as error:
                raise ValueError(f"load: {where}: entry {name!r} is corrupt ({error})") from None
    marker = flat.pop(_MARKER, None)
    python = flat.pop(_PYTHON_VALUES, np.array([], dtype=str))
    if marker is not None and int(marker) > FORMAT:
        raise ValueError(
            f"load: {where} has format {int(marker)}, newer than this tinygrad_be reads "
            f"({FORMAT}); upgrade tinygrad_be"
        )
    for name in python.tolist():
        if name in flat and flat[name].ndim == 0:
            flat[name] = flat[name].item()
    return _unflatten(flat, where, dict if marker is not None else OldFormatState)
