"""Small fake CIFAR-10 archives in the official "python version" layout, for tests.

    from fake_cifar import make_fake_cifar_archive
    archive = make_fake_cifar_archive(tmp_path)          # tmp_path / "cifar-10-python.tar.gz"
    x_train, y_train, x_test, y_test = load_cifar10(root=tmp_path / "data", archive=archive,
                                                    checksum="skip")
    # x_train: (5 * n_per_batch, 3072) float32, x_test: (n_per_batch, 3072) float32

The archive holds `cifar-10-batches-py/` with `data_batch_1` … `data_batch_5`, `test_batch` and
`batches.meta`, each a protocol-2 pickle of a dict with bytes keys: b"data" (uint8, (n, 3072): 1024
red, 1024 green, then 1024 blue values per row), b"labels" (list of ints in 0..9), b"batch_label"
and b"filenames". It is deterministic: the same arguments give byte-identical files.

The images carry class signal, so k-NN and MLP tests can expect above-chance accuracy: every image
of class c is a flat colour `CLASS_COLOURS[c]` plus independent Gaussian noise (std `NOISE_STD`)
on each value, rounded and clipped to 0..255. Measured with the default n_per_batch=20, seeds 0..3:
a nearest-class-mean classifier gets 100% of the test batch right and 1-NN on raw pixels 90-100%
(chance is 10%), so an assertion like "accuracy > 0.5" is safe yet still fails for a broken model.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

CLASS_NAMES = (
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

# Ten well separated colours (R, G, B); each class's mean colour is its colour pulled towards
# mid-grey by CONTRAST, so that the noise makes the task learnable but not trivial.
_PALETTE = np.array(
    [
        [200, 60, 60],
        [60, 200, 60],
        [60, 60, 200],
        [200, 200, 60],
        [200, 60, 200],
        [60, 200, 200],
        [130, 130, 130],
        [240, 150, 90],
        [90, 150, 240],
        [150, 90, 20],
    ],
    dtype=np.float64,
)
CONTRAST = 0.25
CLASS_COLOURS = 128.0 + CONTRAST * (_PALETTE - 128.0)  # (10, 3) mean R, G, B per class
NOISE_STD = 40.0
PIXELS_PER_CHANNEL = 32 * 32


def fake_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Images for `labels` (n,): uint8 (n, 3072), class colour plus noise, channel-planar rows."""
    means = np.repeat(CLASS_COLOURS[labels], PIXELS_PER_CHANNEL, axis=1)  # (n, 3072)
    noisy = means + rng.normal(0.0, NOISE_STD, size=means.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def fake_labels(n: int, rng: np.random.Generator) -> list[int]:
    """n labels in 0..9, every class present when n >= 10 (a shuffled repeat of 0..9)."""
    return [int(label) for label in rng.permutation(np.arange(n) % 10)]


class _Python2StylePickler(pickle._Pickler):
    """Writes bytes and str the way Python 2 pickled its `str` (BINSTRING opcodes).

    The official archive was written by Python 2, so its strings (keys, filenames, the raw array
    bytes, even numpy's dtype code "u1") are Python 2 `str`; loading with encoding="bytes" turns
    them all into `bytes`. Python 3 at protocol 2 would instead write `_codecs.encode(...)` calls.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes | str) -> None:
        raw = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def _rename_reconstruct(blob: bytes, numpy_core_name: str) -> bytes:
    """Point the pickle's GLOBAL for numpy's `_reconstruct` at `{numpy_core_name}.multiarray`
    (protocol 2 spells the module as a newline-terminated text line: a byte replacement is exact)."""
    wanted = b"c" + numpy_core_name.encode("ascii") + b".multiarray\n_reconstruct\n"
    for written in (b"numpy._core", b"numpy.core"):
        opcode = b"c" + written + b".multiarray\n_reconstruct\n"
        if opcode in blob:
            return blob.replace(opcode, wanted)
    raise AssertionError("no numpy _reconstruct global found in the pickle")


def fake_batch_bytes(
    batch: dict,
    numpy_core_name: str = "numpy.core",
) -> bytes:
    """Pickle a batch dict at protocol 2, as the official archive or the shared copy does.

    numpy_core_name "numpy.core": Python 2 + numpy 1 style, like the official archive.
    numpy_core_name "numpy._core": Python 3 + numpy 2 style (`pickle.dump(protocol=2)`), like the
    copy in ../shared/data. Any other module name gives a batch the loader must refuse.
    """
    if numpy_core_name == "numpy.core":
        buffer = io.BytesIO()
        _Python2StylePickler(buffer, protocol=2).dump(batch)
        blob = buffer.getvalue()
    else:
        blob = pickle.dumps(batch, protocol=2)
    if any(isinstance(value, np.ndarray) for value in batch.values()):
        blob = _rename_reconstruct(blob, numpy_core_name)
    return blob


def fake_batch(n: int, rng: np.random.Generator, batch_label: str) -> dict:
    """One batch dict in the official layout with n images."""
    labels = fake_labels(n, rng)
    return {
        b"batch_label": batch_label.encode(),
        b"labels": labels,
        b"data": fake_images(np.array(labels, dtype=np.int64), rng),
        b"filenames": [f"fake_{i:05d}.png".encode() for i in range(n)],
    }


def make_fake_cifar_batches(
    n_per_batch: int = 20, seed: int = 0, numpy_core_name: str = "numpy.core"
) -> dict[str, bytes]:
    """The pickled files of a fake `cifar-10-batches-py/`, by file name."""
    rng = np.random.default_rng(seed)
    files = {}
    for i in range(1, 6):
        batch = fake_batch(n_per_batch, rng, f"training batch {i} of 5")
        files[f"data_batch_{i}"] = fake_batch_bytes(batch, numpy_core_name)
    files["test_batch"] = fake_batch_bytes(
        fake_batch(n_per_batch, rng, "testing batch 1 of 1"), numpy_core_name
    )
    meta = {
        b"num_cases_per_batch": n_per_batch,
        b"label_names": [name.encode() for name in CLASS_NAMES],
        b"num_vis": 3 * PIXELS_PER_CHANNEL,
    }
    files["batches.meta"] = fake_batch_bytes(meta, numpy_core_name)
    return files


def write_tar_gz(path: Path, files: dict[str, bytes]) -> Path:
    """Write a .tar.gz holding regular files {member name: content}, deterministically."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    # mtime=0 in the gzip header too, so the same files give the same bytes (and checksum).
    Path(path).write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return Path(path)


def make_fake_cifar_archive(
    directory: str | Path,
    n_per_batch: int = 20,
    seed: int = 0,
    numpy_core_name: str = "numpy.core",
) -> Path:
    """Write `directory/cifar-10-python.tar.gz`, a small fake CIFAR-10 archive; return its path.

    directory: created if missing. n_per_batch: images in each of the six batches (the archive
    then gives 5 * n_per_batch training and n_per_batch test images; all 10 classes appear in
    every batch when n_per_batch >= 10). seed: same seed, same bytes. numpy_core_name: see
    `fake_batch_bytes` ("numpy.core" = like the official archive, "numpy._core" = like the
    shared copy). Use checksum="skip" when loading it, or hash the returned file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = make_fake_cifar_batches(n_per_batch, seed, numpy_core_name)
    members = {f"cifar-10-batches-py/{name}": content for name, content in files.items()}
    return write_tar_gz(directory / "cifar-10-python.tar.gz", members)
