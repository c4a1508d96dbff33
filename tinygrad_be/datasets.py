"""CIFAR-10: a safe reader for the official batches, a random split, and a cached loader.

    from tinygrad_be.datasets import CLASSES, load_cifar10
    x_train, y_train, x_test, y_test = load_cifar10()
    # x_train (50000, 3072) float32, raw 0..255 values; y_train (50000,) int64 in 0..9
    # x_test  (10000, 3072) float32;                    y_test  (10000,) int64
    # each row: 1024 red, then 1024 green, then 1024 blue values of a 32x32 image, row-major

Where `load_cifar10` gets the data (first rule that applies wins):

1. A local archive named by the `archive=` argument, else by the `CIFAR10_ARCHIVE` environment
   variable. It is checked against the `checksum=` argument, else the `CIFAR10_ARCHIVE_CHECKSUM`
   environment variable, holding an md5 (32 hex digits) or sha256 (64 hex digits) digest, or the
   word "skip" to use the archive unverified; with neither, against the official archive's md5
   (so a copy of the official download just works; another copy, such as a re-encoding, is
   refused with both digests until its own checksum is given). The archive is
   verified and extracted into `root` once (replacing any other `cifar-10-batches-py/` there); a
   marker file in the extracted directory records which archive it came from, so later calls
   read the batches directly.
2. An existing `root/cifar-10-batches-py/` with all six batches: used as it is.
3. `root/cifar-10-python.tar.gz`: verified (`checksum=`, by default the official md5) and extracted.
4. If `download` is true: downloaded from `CIFAR10_URL` into `root` with a progress bar, verified,
   then extracted.

`root` is the argument, else `$TINYGRAD_BE_DATA`, else `~/.cache/tinygrad_be`.

Safety: batches are pickles, and `pickle.load` would run whatever a hostile file asks for. They are
read with `_BatchUnpickler`, which maps the few names a CIFAR batch uses to small checking
functions of this module and refuses every other name, so no code named by a file ever runs; the
arrays are built from their raw bytes with `np.frombuffer`. Downloads and extractions go to
temporary names first and are moved into place only once complete and verified; extraction
refuses links, special files and paths that would leave the target directory.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import pickle
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from tinygrad_be.progress import progress_bar

CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"  # of the official archive at CIFAR10_URL
ARCHIVE_NAME = "cifar-10-python.tar.gz"
BATCHES_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"

ARCHIVE_ENV = "CIFAR10_ARCHIVE"
CHECKSUM_ENV = "CIFAR10_ARCHIVE_CHECKSUM"
DATA_ENV = "TINYGRAD_BE_DATA"

IMAGE_SIZE = 3 * 32 * 32
NUM_CLASSES = len(CLASSES)

_MARKER = ".tinygrad_be_source.json"  # in an extracted directory: the archive it came from
_CHUNK = 1 << 20  # bytes per read when hashing, downloading and extracting
_TIMEOUT_S = 60  # a stalled connection fails instead of hanging forever

_HOW_TO_GET = (
    "Call tinygrad_be.datasets.load_cifar10() to download it, or set "
    f"{ARCHIVE_ENV} to a local {ARCHIVE_NAME} (and {CHECKSUM_ENV} to its md5 if it is not the "
    "official archive)."
)


# --- Reading batches -------------------------------------------------------------------------


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch file of the official "python version" layout.

    Returns data (n, 3072) float32 with the raw 0..255 values and labels (n,) int64 in 0..9.
    Raises FileNotFoundError if the file is missing, ValueError naming the file if it is
    corrupt, hostile, or has the wrong keys, shapes or label range.
    """
    data, labels = _read_batch_uint8(Path(path))
    return data.astype(np.float32), labels


def read_cifar(directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read `data_batch_1` … `data_batch_5` then `test_batch` of an extracted directory.

    Returns data (60000, 3072) float32 (raw 0..255) and labels (60000,) int64, in that order.
    """
    directory = _existing_directory(directory)
    return _read_batches([directory / name for name in (*TRAIN_BATCHES, TEST_BATCH)])


def _existing_directory(directory: str | os.PathLike) -> Path:
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"CIFAR-10 batch directory not found: {directory.resolve()}. {_HOW_TO_GET}"
        )
    return directory


def _read_batches(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Read several batches into one float32 array, allocated once (no concatenate copies)."""
    batches = [_read_batch_uint8(path) for path in paths]
    n = sum(len(labels) for _, labels in batches)
    data = np.empty((n, IMAGE_SIZE), dtype=np.float32)
    labels = np.empty(n, dtype=np.int64)
    start = 0
    for batch_data, batch_labels in batches:
        stop = start + len(batch_labels)
        data[start:stop] = batch_data  # uint8 -> float32 conversion happens in this copy
        labels[start:stop] = batch_labels
        start = stop
    return data, labels


def _read_batch_uint8(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load and validate one batch: data (n, 3072) uint8, labels (n,) int64."""
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch not found: {path.resolve()}. {_HOW_TO_GET}")
    try:
        with open(path, "rb") as file:
            # encoding="bytes": the official batches were pickled by Python 2, whose str
            # (keys, raw array bytes) must come back as bytes, not be decoded as text.
            batch = _BatchUnpickler(file, encoding="bytes").load()
    except Exception as error:  # anything going wrong while parsing means a bad file
        raise ValueError(
            f"{path}: not a valid CIFAR-10 batch ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: a CIFAR-10 batch is a dict, got {type(batch).__name__}")
    # Keys are bytes in the official files; accept str keys too (a batch re-saved by Python 3).
    batch = {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    missing = {"data", "labels"} - batch.keys()
    if missing:
        raise ValueError(
            f"{path}: missing keys {sorted(missing)} (found {sorted(map(str, batch))})"
        )

    data = _built_array(batch["data"], path)
    if not (
        isinstance(data, np.ndarray)
        and data.dtype == np.uint8
        and data.ndim == 2
        and data.shape[1] == IMAGE_SIZE
    ):
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data)
        raise ValueError(f"{path}: data must be uint8 of shape (n, {IMAGE_SIZE}), got {found}")

    raw_labels = _built_array(batch["labels"], path)
    if isinstance(raw_labels, list) and not raw_labels:
        raw_labels = np.zeros(0, dtype=np.int64)  # np.asarray([]) would be float64
    try:
        labels = np.asarray(raw_labels)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{path}: labels must be a list of ints ({error})") from error
    if labels.dtype.kind not in "iu" or labels.shape != (len(data),):
        raise ValueError(
            f"{path}: labels must be {len(data)} integers (one per row of data {data.shape}), "
            f"got {labels.dtype} {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(
            f"{path}: labels must be in 0..{NUM_CLASSES - 1}, "
            f"got values from {labels.min()} to {labels.max()}"
        )
    return data, labels.astype(np.int64)


# --- The restricted unpickler ------------------------------------------------------------------
#
# A CIFAR batch pickle names only these globals:
#   numpy.core.multiarray._reconstruct (Python 2 + numpy 1, the official archive) or
#   numpy._core.multiarray._reconstruct (numpy 2), numpy.ndarray, numpy.dtype, and, in files
#   written by Python 3 at protocol 2, _codecs.encode (how it spells bytes) and builtins.bytes
#   (how it spells b"").
# Each is mapped to a small function of ours that checks its arguments and builds a plain object;
# numpy's own reconstruction code never sees the file's contents. Functions rather than classes,
# because a pickle may set attributes on any global it names and classes would let it replace
# methods.


class _DtypeSpec:
    """What `numpy.dtype(code, align, copy)` plus its `__setstate__` describe: a plain number."""

    def __init__(self, code: str | bytes) -> None:
        if isinstance(code, bytes):  # Python 2 pickles spell the code as str -> bytes
            code = code.decode("ascii")
        if not isinstance(code, str):
            raise pickle.UnpicklingError(f"dtype code must be a string, got {type(code).__name__}")
        dtype = np.dtype(code)
        if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
            raise pickle.UnpicklingError(f"refusing dtype {dtype}: only plain numbers are allowed")
        self.dtype = dtype

    def __setstate__(self, state: tuple) -> None:
        # numpy's dtype state: (version, byteorder, subarray, names, fields, elsize, align, flags)
        if (
            not isinstance(state, tuple)
            or len(state) < 5
            or any(part is not None for part in state[2:5])
        ):
            raise pickle.UnpicklingError(f"refusing dtype state {state!r:.80}")
        byteorder = state[1].decode("ascii") if isinstance(state[1], bytes) else state[1]
        if byteorder not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError(f"bad dtype byte order {byteorder!r:.20}")
        if byteorder in "<>":
            self.dtype = self.dtype.newbyteorder(byteorder)


class _ArrayBuilder:
    """What `_reconstruct(ndarray, ...)` plus `ndarray.__setstate__` describe; builds the array
    itself with `np.frombuffer`, after checking the byte count matches the shape."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: tuple) -> None:
        # numpy's array state: (version, shape, dtype, is_fortran, raw bytes)
        if not isinstance(state, tuple) or len(state) != 5:
            raise pickle.UnpicklingError(f"refusing array state {state!r:.80}")
        _, shape, dtype, is_fortran, raw = state
        if not (isinstance(shape, tuple) and all(type(d) is int and d >= 0 for d in shape)):
            raise pickle.UnpicklingError(f"bad array shape {shape!r:.80}")
        if not isinstance(dtype, _DtypeSpec) or not isinstance(raw, bytes):
            raise pickle.UnpicklingError("array state must hold a dtype and raw bytes")
        expected = math.prod(shape) * dtype.dtype.itemsize
        if len(raw) != expected:
            raise pickle.UnpicklingError(
                f"array of shape {shape} and dtype {dtype.dtype} needs {expected} bytes, "
                f"the file holds {len(raw)}"
            )
        order = "F" if is_fortran else "C"
        self.array = np.frombuffer(raw, dtype=dtype.dtype).reshape(shape, order=order)


def _reconstruct(subtype: object, shape: object, typecode: object) -> _ArrayBuilder:
    if subtype is not _ndarray:
        raise pickle.UnpicklingError("only plain numpy arrays are allowed")
    return _ArrayBuilder()


def _ndarray(*args: object) -> None:
    """Stands for numpy.ndarray, which a batch names only as `_reconstruct`'s first argument."""
    raise pickle.UnpicklingError("refusing to call numpy.ndarray")


def _dtype(code: object, align: object = False, copy: object = True) -> _DtypeSpec:
    return _DtypeSpec(code)


def _latin1_encode(text: object, encoding: object) -> bytes:
    """Python 3 pickles bytes at protocol 2 as `_codecs.encode(text, "latin1")`."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is allowed only for latin1 text")
    return text.encode("latin-1")


def _empty_bytes(*args: object) -> bytes:
    if args:
        raise pickle.UnpicklingError("builtins.bytes is allowed only without arguments")
    return b""


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _ndarray,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _latin1_encode,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of `_ALLOWED_GLOBALS` and refuses the rest."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR-10 batch holds only dicts, lists, "
                "bytes, ints and numpy arrays"
            ) from None


def _built_array(value: object, path: Path) -> object:
    """The numpy array an `_ArrayBuilder` built, or `value` unchanged if it is not one."""
    if isinstance(value, _ArrayBuilder):
        if value.array is None:
            raise ValueError(f"{path}: an array in the batch has no data")
        return value.array
    return value


# --- Splitting ---------------------------------------------------------------------------------


def split_dataset(
    data: np.ndarray,
    labels: np.ndarray,
    split: float,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle rows, then put the first `round(split * n)` in training and the rest in test.

    data (n, ...) and labels (n, ...) are shuffled together, so they stay aligned.
    split: fraction of rows for training, strictly between 0 and 1, leaving both parts non-empty.
    seed: int, Generator or None; the same int gives the same split, None a fresh random one.
    Returns (data_train, labels_train, data_test, labels_test), copies of the selected rows.
    """
    data, labels = np.asarray(data), np.asarray(labels)
    if data.ndim == 0 or labels.ndim == 0 or len(data) != len(labels):
        raise ValueError(
            "data and labels must have the same number of rows, "
            f"got data {data.shape} and labels {labels.shape}"
        )
    split = float(split)
    if not 0.0 < split < 1.0:  # also false for nan
        raise ValueError(f"split must be strictly between 0 and 1, got {split}")
    n = len(data)
    n_train = round(split * n)
    if not 0 < n_train < n:
        raise ValueError(
            f"split={split} of {n} rows gives {n_train} training and {n - n_train} test rows; "
            "both must be non-empty"
        )
    order = np.random.default_rng(seed).permutation(n)
    train, test = order[:n_train], order[n_train:]
    return data[train], labels[train], data[test], labels[test]


# --- Loading with cache, local archive or download --------------------------------------------


def load_cifar10(
    root: str | os.PathLike | None = None,
    download: bool = True,
    *,
    archive: str | os.PathLike | None = None,
    checksum: str | None = None,
    url: str = CIFAR10_URL,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The official split: x_train (50000, 3072) float32, y_train (50000,) int64, x_test
    (10000, 3072) float32, y_test (10000,) int64; pixel values are the raw 0..255.

    root: directory holding `cifar-10-batches-py/` or the archive (see the module docstring for
    the defaults and the order in which sources are tried). download: fetch the archive from
    `url` if nothing is found. archive: a local archive to use (default `$CIFAR10_ARCHIVE`).
    checksum: md5 or sha256 hex digest of the archive used, or "skip"; for a local archive it
    defaults to `$CIFAR10_ARCHIVE_CHECKSUM`; otherwise, and for a downloaded archive or one found
    in root, to the official md5.
    """
    batches = cifar10_directory(root, download, archive=archive, checksum=checksum, url=url)
    x_train, y_train = _read_batches([batches / name for name in TRAIN_BATCHES])
    x_test, y_test = _read_batches([batches / TEST_BATCH])
    return x_train, y_train, x_test, y_test


def cifar10_directory(
    root: str | os.PathLike | None = None,
    download: bool = True,
    *,
    archive: str | os.PathLike | None = None,
    checksum: str | None = None,
    url: str = CIFAR10_URL,
) -> Path:
    """The extracted `cifar-10-batches-py/` directory, fetched and extracted first if needed.

    Takes the same arguments as `load_cifar10` and finds the data the same way; this is what the
    lab's `read_cifar(directory)` reads: `read_cifar(cifar10_directory())`.
    """
    return _prepare(_data_root(root), download, archive, checksum, url)


def _data_root(root: str | os.PathLike | None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return Path.home() / ".cache" / "tinygrad_be"


def _prepare(
    root: Path,
    download: bool,
    archive: str | os.PathLike | None,
    checksum: str | None,
    url: str,
) -> Path:
    """Make sure `root/cifar-10-batches-py` holds the requested data; return that directory."""
    batches = root / BATCHES_DIR
    if archive is None:
        archive = os.environ.get(ARCHIVE_ENV) or None
    if archive is not None:  # rule 1: a named local archive
        archive = Path(archive).expanduser()
        checksum = checksum if checksum is not None else os.environ.get(CHECKSUM_ENV)
        # Not stated: the official archive's md5, so a copy of the official download just works.
        expected = _parse_checksum(checksum) if checksum else ("md5", CIFAR10_MD5)
        if not archive.is_file():
            raise FileNotFoundError(
                f"CIFAR-10 archive not found: {archive.resolve()} (from archive= or "
                f"${ARCHIVE_ENV}). Point it at a {ARCHIVE_NAME}, or unset it to download."
            )
        if not _extracted_from(batches, archive, expected):
            _extract(archive, root, expected)
        return batches

    if _is_complete(batches):  # rule 2
        return batches
    expected = _parse_checksum(checksum) if checksum is not None else ("md5", CIFAR10_MD5)
    local_archive = root / ARCHIVE_NAME
    if not local_archive.is_file():  # rule 4 (else rule 3)
        if not download:
            raise FileNotFoundError(
                f"CIFAR-10 not found: looked for {batches.resolve()} and "
                f"{local_archive.resolve()}. {_HOW_TO_GET}"
            )
        _download(url, local_archive, expected)
    _extract(local_archive, root, expected)
    return batches


def _parse_checksum(text: str) -> tuple[str, str] | None:
    """'skip' -> None; 32 hex digits -> ('md5', hex); 64 -> ('sha256', hex)."""
    text = text.strip().lower()
    if text == "skip":
        return None
    if re.fullmatch(r"[0-9a-f]{32}", text):
        return "md5", text
    if re.fullmatch(r"[0-9a-f]{64}", text):
        return "sha256", text
    raise ValueError(
        f"checksum must be an md5 (32 hex digits) or sha256 (64 hex digits) digest, "
        f"or 'skip'; got {text!r}"
    )


def _is_complete(batches: Path) -> bool:
    return all((batches / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH))


def _extracted_from(batches: Path, archive: Path, expected: tuple[str, str] | None) -> bool:
    """Whether `batches` is a complete extraction of `archive` (per the marker written by
    `_extract`): same digest if one is expected, else the same file, size and modification time."""
    if not _is_complete(batches):
        return False
    try:
        marker = json.loads((batches / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    if expected is not None:
        algorithm, digest = expected
        return marker.get(algorithm) == digest
    stat = archive.stat()
    return marker.get("archive") == str(archive.resolve()) and [
        marker.get("size"),
        marker.get("mtime_ns"),
    ] == [stat.st_size, stat.st_mtime_ns]


def _digests(path: Path) -> dict[str, str]:
    """md5 and sha256 of a file, computed in one pass."""
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def _check(source: object, actual: str, expected: tuple[str, str] | None) -> None:
    """ValueError giving both digests if `actual` is not the expected one (None: no check)."""
    if expected is None or actual == expected[1]:
        return
    algorithm, digest = expected
    official = " (the official archive's)" if (algorithm, digest) == ("md5", CIFAR10_MD5) else ""
    message = (
        f"{source}: {algorithm} is {actual}, expected {digest}{official}: the file is corrupt, "
        "incomplete or not the archive expected."
    )
    if isinstance(source, Path):  # a local file: say how to accept a different copy
        message += (
            f" If you trust this copy (e.g. a re-encoded CIFAR-10), accept it with "
            f"checksum=\"{actual}\" or {CHECKSUM_ENV}={actual}, or skip the check with 'skip'."
        )
    raise ValueError(message)


def _download(
    url: str,
    destination: Path,
    expected: tuple[str, str] | None,
    hint: str = f"Set {ARCHIVE_ENV} to a local {ARCHIVE_NAME} instead.",
) -> None:
    """Download `url` to `destination` via a temporary file in the same directory, verifying the
    length and checksum before `os.replace` moves it into place; on any failure nothing remains.
    `hint`: what the error says to do when the download fails (also used by tinygrad_be.vision)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.new(expected[0] if expected else "md5")
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            try:
                response = urllib.request.urlopen(url, timeout=_TIMEOUT_S)
            except urllib.error.URLError as error:
                raise ConnectionError(f"could not download {url} ({error}). {hint}") from error
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length is not None else None
                received = 0
                with progress_bar(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=f"Downloading {destination.name}",
                ) as bar:
                    while chunk := response.read(_CHUNK):
                        file.write(chunk)
                        hasher.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            if total is not None and received != total:
                raise ConnectionError(
                    f"download of {url} interrupted: received {received} of {total} bytes"
                )
            file.flush()
            os.fsync(file.fileno())
        _check(url, hasher.hexdigest(), expected)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _extract(archive: Path, root: Path, expected: tuple[str, str] | None) -> None:
    """Verify `archive`, extract it into a temporary directory inside `root`, write the marker,
    then move `cifar-10-batches-py` into place (replacing a stale or incomplete copy)."""
    digests = _digests(archive)
    if expected is not None:
        _check(archive, digests[expected[0]], expected)
    try:
        root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=".cifar-10-extract-", dir=root))
    except PermissionError as error:
        raise PermissionError(
            f"cannot extract {archive} into {root} ({error}): pass a writable root= or set "
            f"{DATA_ENV}, and name the archive with archive= or ${ARCHIVE_ENV}"
        ) from error
    try:
        _safe_extract(archive, workdir)
        extracted = workdir / BATCHES_DIR
        if not _is_complete(extracted):
            raise ValueError(
                f"{archive}: not a CIFAR-10 python archive (needs {BATCHES_DIR}/ with "
                f"{', '.join(TRAIN_BATCHES)} and {TEST_BATCH})"
            )
        stat = archive.stat()
        marker = {
            "archive": str(archive.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            **digests,
        }
        (extracted / _MARKER).write_text(json.dumps(marker, indent=1))
        target = root / BATCHES_DIR
        if target.exists() or target.is_symlink():
            os.replace(target, workdir / "previous")  # removed with workdir below
        try:
            os.replace(extracted, target)
        except OSError:
            if not _is_complete(target):  # else another process extracted it meanwhile: use it
                raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _safe_extract(archive: Path, destination: Path) -> None:
    """Extract only directories and regular files whose paths stay inside `destination`.

    Files are written by this function (not `tarfile.extract`), so permissions, owners and
    links in the archive have no effect; anything else is refused with a ValueError.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                target = _member_target(archive, member, destination)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                with source, open(target, "xb") as file:  # "x": refuse duplicate members
                    shutil.copyfileobj(source, file, _CHUNK)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ValueError(f"{archive}: corrupt archive ({error})") from error
    except (FileExistsError, IsADirectoryError, NotADirectoryError) as error:
        raise ValueError(f"{archive}: members clash with each other ({error})") from error


def _member_target(archive: Path, member: tarfile.TarInfo, destination: Path) -> Path:
    """Where `member` goes under `destination`; ValueError if it is not a plain file or
    directory, or its path is absolute or climbs out with '..'."""
    if not (member.isfile() or member.isdir()):
        raise ValueError(
            f"{archive}: refusing member {member.name!r}: links and special files are not allowed"
        )
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise ValueError(f"{archive}: refusing member {member.name!r}: path leaves the target")
    target = destination.joinpath(*name.parts)  # "." or "./" (no parts) is destination itself
    if not target.resolve().is_relative_to(destination.resolve()):
        raise ValueError(f"{archive}: refusing member {member.name!r}: path leaves the target")
    return target
