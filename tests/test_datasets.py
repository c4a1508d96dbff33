"""Tests for tinygrad_be.datasets.

Everything runs on small batches and archives written here in the official format (protocol-2
pickles, bytes keys, uint8 data), plus a local HTTP server on 127.0.0.1 for the download path. The
real archive is tested only when CIFAR10_ARCHIVE is set (with CIFAR10_ARCHIVE_CHECKSUM).
"""

from __future__ import annotations

import codecs
import hashlib
import http.server
import io
import os
import pickle
import shutil
import tarfile
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from fake_cifar import (
    CLASS_NAMES,
    fake_batch_bytes,
    make_fake_cifar_archive,
    make_fake_cifar_batches,
    write_tar_gz,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from tinygrad_be import datasets
from tinygrad_be.datasets import (
    ARCHIVE_ENV,
    CHECKSUM_ENV,
    CLASSES,
    DATA_ENV,
    load_cifar10,
    read_cifar,
    read_cifar_batch,
    split_dataset,
)

# Read before the autouse fixture below hides them from every other test.
REAL_ARCHIVE = os.environ.get(ARCHIVE_ENV) or None
REAL_CHECKSUM = os.environ.get(CHECKSUM_ENV) or None

N = 12  # images per batch of the fake archives (>= 10, so every class is present)
CORE_NAMES = ["numpy.core", "numpy._core"]  # official archive (Python 2), shared copy (numpy 2)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the caller's archive or data root, or writes to the real ~/.cache."""
    for name in (ARCHIVE_ENV, CHECKSUM_ENV, DATA_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fake_cifar_archive(tmp_path_factory.mktemp("archive"), n_per_batch=N, seed=0)


@pytest.fixture(scope="module")
def fake_batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An extracted fake `cifar-10-batches-py/` (no marker: as a user would unpack it)."""
    directory = tmp_path_factory.mktemp("batches") / datasets.BATCHES_DIR
    directory.mkdir()
    for name, content in make_fake_cifar_batches(N, seed=0).items():
        (directory / name).write_bytes(content)
    return directory


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_batch(path: Path, batch: object, numpy_core_name: str = "numpy.core") -> Path:
    path.write_bytes(fake_batch_bytes(batch, numpy_core_name))
    return path


def valid_batch(n: int = 4, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch 1 of 5",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def entries(directory: Path) -> list[str]:
    """Names in `directory` (empty if it does not exist): to check nothing was left behind."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- Reading batches ---------------------------------------------------------------------------


@pytest.mark.parametrize("core", CORE_NAMES)
def test_read_cifar_batch_returns_float32_data_and_int64_labels(tmp_path: Path, core: str) -> None:
    batch = valid_batch(n=5)
    data, labels = read_cifar_batch(write_batch(tmp_path / "data_batch_1", batch, core))
    assert data.dtype == np.float32 and data.shape == (5, 3072)
    assert labels.dtype == np.int64 and labels.shape == (5,)
    np.testing.assert_array_equal(data, batch[b"data"].astype(np.float32))
    np.testing.assert_array_equal(labels, batch[b"labels"])


@given(n=st.integers(0, 6), seed=st.integers(0, 2**16), core=st.sampled_from(CORE_NAMES))
def test_read_cifar_batch_round_trips_any_small_batch(n: int, seed: int, core: str) -> None:
    batch = valid_batch(n, seed)
    with tempfile.TemporaryDirectory() as directory:
        data, labels = read_cifar_batch(write_batch(Path(directory) / "b", batch, core))
    assert data.shape == (n, 3072) and labels.shape == (n,)
    np.testing.assert_array_equal(data, batch[b"data"])
    np.testing.assert_array_equal(labels, np.array(batch[b"labels"], dtype=np.int64))


def test_read_cifar_batch_accepts_str_keys_and_label_arrays(tmp_path: Path) -> None:
    batch = valid_batch(n=3)
    resaved = {"data": batch[b"data"], "labels": np.array(batch[b"labels"], dtype=np.int32)}
    data, labels = read_cifar_batch(write_batch(tmp_path / "b", resaved, "numpy._core"))
    np.testing.assert_array_equal(data, batch[b"data"])
    assert labels.dtype == np.int64 and labels.tolist() == batch[b"labels"]


def test_read_cifar_concatenates_train_batches_then_test_batch(fake_batches: Path) -> None:
    data, labels = read_cifar(fake_batches)
    assert data.shape == (6 * N, 3072) and data.dtype == np.float32
    assert labels.shape == (6 * N,) and labels.dtype == np.int64
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        batch_data, batch_labels = read_cifar_batch(fake_batches / name)
        np.testing.assert_array_equal(data[k * N : (k + 1) * N], batch_data)
        np.testing.assert_array_equal(labels[k * N : (k + 1) * N], batch_labels)


def test_classes_are_the_ten_cifar_names_in_label_order() -> None:
    assert CLASSES == CLASS_NAMES
    assert len(CLASSES) == 10 and CLASSES[0] == "airplane" and CLASSES[9] == "truck"


# --- The fake archive helper (shared with other test files) ------------------------------------


def test_fake_archive_has_the_official_layout(fake_archive: Path) -> None:
    with tarfile.open(fake_archive) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    expected = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    assert sorted(files) == sorted(f"cifar-10-batches-py/{name}" for name in expected)
    for name, blob in files.items():
        assert blob[:2] == b"\x80\x02", f"{name} is not a protocol-2 pickle"
    # Our own files, so plain pickle is fine here.
    batch = pickle.loads(files["cifar-10-batches-py/data_batch_1"], encoding="bytes")
    assert set(batch) == {b"data", b"labels", b"batch_label", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (N, 3072)
    assert sorted(set(batch[b"labels"])) == list(range(10))
    meta = pickle.loads(files["cifar-10-batches-py/batches.meta"], encoding="bytes")
    assert [name.decode() for name in meta[b"label_names"]] == list(CLASSES)


def test_fake_archive_is_deterministic(tmp_path: Path, fake_archive: Path) -> None:
    again = make_fake_cifar_archive(tmp_path, n_per_batch=N, seed=0)
    assert md5(again) == md5(fake_archive)
    assert md5(make_fake_cifar_archive(tmp_path / "other", n_per_batch=N, seed=1)) != md5(again)


def test_fake_archive_carries_class_signal(tmp_path: Path) -> None:
    archive = make_fake_cifar_archive(tmp_path, n_per_batch=20, seed=0)
    x_train, y_train, x_test, y_test = load_cifar10(
        tmp_path / "root", archive=archive, checksum="skip"
    )
    distances = ((x_test[:, None, :] - x_train[None, :, :]) ** 2).sum(axis=-1)
    nearest_neighbour_accuracy = (y_train[distances.argmin(axis=1)] == y_test).mean()
    assert nearest_neighbour_accuracy > 0.5  # chance is 0.1


# --- Safety: hostile and corrupt batches -------------------------------------------------------


class Hostile:
    """Pickles as a call chosen by the test; unpickling it would run that call."""

    def __init__(self, call: tuple) -> None:
        self.call = call

    def __reduce__(self) -> tuple:
        return self.call


def hostile_calls(target: Path) -> dict[str, tuple]:
    return {
        "open": (open, (str(target), "w")),
        "os.system": (os.system, (f"touch {target}",)),
        "eval": (eval, (f"open({str(target)!r}, 'w')",)),
        "numpy.save": (np.save, (str(target), np.zeros(1))),
    }


@pytest.mark.parametrize("kind", ["open", "os.system", "eval", "numpy.save"])
@pytest.mark.parametrize("where", ["whole file", "inside a valid batch"])
def test_hostile_batch_is_refused_and_runs_nothing(tmp_path: Path, kind: str, where: str) -> None:
    target = tmp_path / "pwned"
    hostile = Hostile(hostile_calls(target)[kind])
    batch = hostile if where == "whole file" else {**valid_batch(), b"labels": hostile}
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(ValueError, match="refusing") as error:
        read_cifar_batch(path)
    assert str(path) in str(error.value)
    assert not target.exists() and not Path(f"{target}.npy").exists()


def test_refuses_object_arrays_numpy_scalars_and_unknown_array_modules(tmp_path: Path) -> None:
    cases = {
        "object array": {**valid_batch(), b"labels": np.array([1, None], dtype=object)},
        "numpy scalar": {**valid_batch(n=1), b"labels": [np.int64(3)]},
    }
    for name, batch in cases.items():
        path = write_batch(tmp_path / name, batch, "numpy._core")
        with pytest.raises(ValueError, match="refusing"):
            read_cifar_batch(path)
    # The array-reconstruction name must be exactly numpy(._)core.multiarray._reconstruct.
    path = write_batch(tmp_path / "renamed", valid_batch(), "numpy.evil")
    with pytest.raises(ValueError, match="refusing to load numpy.evil.multiarray._reconstruct"):
        read_cifar_batch(path)


def test_refuses_codecs_encode_with_another_codec(tmp_path: Path) -> None:
    path = tmp_path / "b"
    path.write_bytes(pickle.dumps(Hostile((codecs.encode, ("x", "rot13"))), protocol=2))
    with pytest.raises(ValueError, match="latin1"):
        read_cifar_batch(path)


def corrupt_batches() -> dict[str, bytes]:
    good = fake_batch_bytes(valid_batch())
    batch = valid_batch()

    def variant(**changes: object) -> bytes:
        return fake_batch_bytes({**batch, **{k.encode(): v for k, v in changes.items()}})

    reconstruct = np.ndarray.__reduce__(np.zeros(1, np.uint8))[0]
    short_array = Hostile(
        (reconstruct, (np.ndarray, (0,), b"b"), (1, (4, 3072), np.dtype("u1"), False, b"\0" * 10))
    )
    return {
        "truncated": good[: len(good) // 2],
        "garbage": b"\x80\x02this is not a pickle at all",
        "empty file": b"",
        "not a dict": pickle.dumps([1, 2, 3], protocol=2),
        "missing labels": fake_batch_bytes({b"data": batch[b"data"]}),
        "missing data": fake_batch_bytes({b"labels": batch[b"labels"]}),
        "data 3071 wide": variant(data=batch[b"data"][:, :3071].copy()),
        "data 1-d": variant(data=batch[b"data"].ravel()),
        "data float": variant(data=batch[b"data"].astype(np.float32)),
        "data a list": variant(data=[[1, 2, 3]]),
        "too few labels": variant(labels=batch[b"labels"][:-1]),
        "label 10": variant(labels=[10, 0, 0, 0]),
        "label -1": variant(labels=[-1, 0, 0, 0]),
        "labels text": variant(labels=[b"cat", b"dog", b"cat", b"dog"]),
        "bytes do not fill the shape": pickle.dumps({b"data": short_array}, protocol=2),
    }


@pytest.mark.parametrize("case", list(corrupt_batches()))
def test_corrupt_batch_raises_value_error_naming_the_file(tmp_path: Path, case: str) -> None:
    path = tmp_path / "data_batch_3"
    path.write_bytes(corrupt_batches()[case])
    with pytest.raises(ValueError) as error:
        read_cifar_batch(path)
    assert str(path) in str(error.value)


def test_missing_batch_file_or_directory_says_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="load_cifar10") as error:
        read_cifar_batch(tmp_path / "data_batch_1")
    assert str(tmp_path / "data_batch_1") in str(error.value)
    with pytest.raises(FileNotFoundError, match=ARCHIVE_ENV) as error:
        read_cifar(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(error.value)


def test_read_cifar_names_a_missing_batch(tmp_path: Path, fake_batches: Path) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(fake_batches, partial)
    (partial / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="test_batch"):
        read_cifar(partial)


# --- split_dataset -----------------------------------------------------------------------------


@given(n=st.integers(2, 300), split=st.floats(0.01, 0.99), seed=st.integers(0, 2**32 - 1))
def test_split_sizes_alignment_and_reproducibility(n: int, split: float, seed: int) -> None:
    n_train = round(split * n)
    assume(0 < n_train < n)  # an empty part is refused: test_split_refuses_an_empty_part
    labels = np.arange(n)
    data = np.stack([labels * 10.0, labels * 10.0 + 1.0], axis=1)  # row i encodes label i
    x_train, y_train, x_test, y_test = split_dataset(data, labels, split, seed=seed)
    assert x_train.shape == (n_train, 2) and y_train.shape == (n_train,)
    assert x_test.shape == (n - n_train, 2) and y_test.shape == (n - n_train,)
    np.testing.assert_array_equal(x_train[:, 0], y_train * 10.0)  # rows still match labels
    np.testing.assert_array_equal(x_test[:, 1], y_test * 10.0 + 1.0)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(n))  # a partition
    again = split_dataset(data, labels, split, seed=seed)
    for first, second in zip((x_train, y_train, x_test, y_test), again, strict=True):
        np.testing.assert_array_equal(first, second)


def test_split_shuffles_and_depends_on_the_seed() -> None:
    data, labels = np.arange(200.0).reshape(100, 2), np.arange(100)
    _, y0, _, _ = split_dataset(data, labels, 0.8, seed=0)
    _, y1, _, _ = split_dataset(data, labels, 0.8, seed=1)
    _, y_none, _, _ = split_dataset(data, labels, 0.8)
    assert y0.shape == y1.shape == y_none.shape == (80,)
    assert not np.array_equal(y0, y1)
    assert not np.array_equal(y0, np.arange(80))  # shuffled, not the first 80 rows
    np.testing.assert_array_equal(labels, np.arange(100))  # inputs untouched


def test_split_accepts_a_generator_and_uses_python_rounding() -> None:
    data, labels = np.zeros((10, 3)), np.arange(10)
    x_train, _, x_test, _ = split_dataset(data, labels, 0.25, seed=np.random.default_rng(0))
    assert (len(x_train), len(x_test)) == (round(2.5), 10 - round(2.5)) == (2, 8)


@pytest.mark.parametrize("split", [0, 1, -0.5, 1.5, float("nan"), float("inf")])
def test_split_outside_open_unit_interval_is_refused(split: float) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        split_dataset(np.zeros((10, 3)), np.zeros(10), split)


def test_split_refuses_an_empty_part() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        split_dataset(np.zeros((3, 2)), np.zeros(3), 0.1)


def test_split_refuses_misaligned_inputs_naming_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(10, 3\).*\(9,\)"):
        split_dataset(np.zeros((10, 3)), np.zeros(9), 0.5)


# --- load_cifar10 from a local archive ---------------------------------------------------------


@pytest.mark.parametrize("core", CORE_NAMES)
def test_load_local_archive_gives_the_official_split(tmp_path: Path, core: str) -> None:
    archive = make_fake_cifar_archive(tmp_path / "src", n_per_batch=N, numpy_core_name=core)
    root = tmp_path / "root"
    x_train, y_train, x_test, y_test = load_cifar10(root, archive=archive, checksum=md5(archive))
    assert x_train.shape == (5 * N, 3072) and x_test.shape == (N, 3072)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.shape == (5 * N,) and y_test.shape == (N,)
    assert y_train.dtype == y_test.dtype == np.int64
    data, labels = read_cifar(root / "cifar-10-batches-py")
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), data)
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), labels)
    assert entries(root) == ["cifar-10-batches-py"]  # no temporary directory left behind


def test_archive_and_checksum_from_environment(
    tmp_path: Path, fake_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ARCHIVE_ENV, str(fake_archive))
    monkeypatch.setenv(CHECKSUM_ENV, sha256(fake_archive).upper())  # sha256, any case
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    x_train, _, x_test, _ = load_cifar10()
    assert x_train.shape == (5 * N, 3072) and x_test.shape == (N, 3072)
    assert (tmp_path / "data" / "cifar-10-batches-py" / "test_batch").is_file()


def test_default_root_is_the_home_cache(tmp_path: Path, fake_archive: Path) -> None:
    load_cifar10(archive=fake_archive, checksum="skip")
    cache = tmp_path / "home" / ".cache" / "tinygrad_be" / "cifar-10-batches-py"
    assert (cache / "data_batch_1").is_file()


def test_local_archive_without_checksum_is_checked_against_the_official_md5(
    tmp_path: Path, fake_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend the fake archive is the official one: a user's copy of the official download
    # is accepted with no checksum stated, by argument or by environment.
    monkeypatch.setattr(datasets, "CIFAR10_MD5", md5(fake_archive))
    x_train, _, x_test, _ = load_cifar10(tmp_path / "root", archive=fake_archive)
    assert x_train.shape == (5 * N, 3072) and x_test.shape == (N, 3072)
    monkeypatch.setenv(ARCHIVE_ENV, str(fake_archive))
    assert load_cifar10(tmp_path / "other")[0].shape == (5 * N, 3072)


def test_local_archive_of_another_copy_is_refused_with_both_digests(
    tmp_path: Path, fake_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    monkeypatch.setenv(ARCHIVE_ENV, str(fake_archive))
    with pytest.raises(ValueError) as refused:
        load_cifar10(root)
    message = str(refused.value)
    assert md5(fake_archive) in message and datasets.CIFAR10_MD5 in message  # both digests
    assert CHECKSUM_ENV in message and "checksum=" in message and "skip" in message  # how to
    assert entries(root) == []
    # Accepted once its own checksum is stated (environment or argument), or the check skipped.
    monkeypatch.setenv(CHECKSUM_ENV, md5(fake_archive))
    assert load_cifar10(root)[0].shape == (5 * N, 3072)
    monkeypatch.delenv(CHECKSUM_ENV)
    assert load_cifar10(tmp_path / "b", archive=fake_archive, checksum=sha256(fake_archive))[0].size
    assert load_cifar10(tmp_path / "c", archive=fake_archive, checksum="skip")[0].size


def test_malformed_checksum_is_refused(tmp_path: Path, fake_archive: Path) -> None:
    with pytest.raises(ValueError, match="32 hex digits"):
        load_cifar10(tmp_path / "root", archive=fake_archive, checksum="md5:1234")
    assert entries(tmp_path / "root") == []


def test_wrong_checksum_is_refused_and_leaves_nothing(tmp_path: Path, fake_archive: Path) -> None:
    root = tmp_path / "root"
    with pytest.raises(ValueError, match="md5 is .*expected 0{32}"):
        load_cifar10(root, archive=fake_archive, checksum="0" * 32)
    assert entries(root) == []


def test_missing_local_archive_says_where(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not-there.tar.gz"):
        load_cifar10(tmp_path, archive=tmp_path / "not-there.tar.gz", checksum="skip")


def test_archive_is_extracted_once_then_reused(
    tmp_path: Path, fake_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    first = load_cifar10(root, archive=fake_archive, checksum=md5(fake_archive))

    def no_extraction(*args: object) -> None:
        raise AssertionError("extracted again")

    with monkeypatch.context() as patch:
        patch.setattr(datasets, "_extract", no_extraction)
        patch.setattr(datasets, "_digests", no_extraction)  # not even re-hashed
        for checksum in (md5(fake_archive), sha256(fake_archive)):
            again = load_cifar10(root, archive=fake_archive, checksum=checksum)
            for a, b in zip(first, again, strict=True):
                np.testing.assert_array_equal(a, b)

    # A different archive replaces the extraction.
    other = make_fake_cifar_archive(tmp_path / "other", n_per_batch=N, seed=1)
    x_other = load_cifar10(root, archive=other, checksum=md5(other))[0]
    assert not np.array_equal(x_other, first[0])
    assert entries(root) == ["cifar-10-batches-py"]


def test_skipped_checksum_reuses_extraction_of_the_same_file(
    tmp_path: Path, fake_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    load_cifar10(root, archive=fake_archive, checksum="skip")
    monkeypatch.setattr(datasets, "_extract", lambda *args: pytest.fail("extracted again"))
    load_cifar10(root, archive=fake_archive, checksum="skip")


def test_existing_batches_directory_is_used_as_is(tmp_path: Path, fake_batches: Path) -> None:
    shutil.copytree(fake_batches, tmp_path / "cifar-10-batches-py")
    x_train, _, x_test, _ = load_cifar10(tmp_path, download=False)
    assert x_train.shape == (5 * N, 3072) and x_test.shape == (N, 3072)


def test_archive_in_root_is_extracted_with_its_checksum(tmp_path: Path, fake_archive: Path) -> None:
    shutil.copy(fake_archive, tmp_path / "cifar-10-python.tar.gz")
    # By default an archive found in root must be the official one: the fake is refused...
    with pytest.raises(ValueError, match=datasets.CIFAR10_MD5):
        load_cifar10(tmp_path, download=False)
    assert entries(tmp_path) == ["cifar-10-python.tar.gz"]
    # ...and accepted with its own checksum.
    x_train, _, _, _ = load_cifar10(tmp_path, download=False, checksum=md5(fake_archive))
    assert x_train.shape == (5 * N, 3072)


def test_nothing_found_without_download_says_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=ARCHIVE_ENV) as error:
        load_cifar10(tmp_path / "empty", download=False)
    assert str(tmp_path / "empty" / "cifar-10-batches-py") in str(error.value)
    assert not (tmp_path / "empty").exists()


# --- Safe extraction ---------------------------------------------------------------------------


def hostile_member(kind: str, outside: Path) -> tarfile.TarInfo:
    info = tarfile.TarInfo()
    info.name, info.size = "cifar-10-batches-py/evil", 0
    if kind == "parent":
        info.name = "../evil"
    elif kind == "nested parent":
        info.name = "cifar-10-batches-py/../../evil"
    elif kind == "absolute":
        info.name = str(outside)
    elif kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, str(outside)
    elif kind == "hardlink":
        info.type, info.linkname = tarfile.LNKTYPE, "cifar-10-batches-py/data_batch_1"
    elif kind == "device":
        info.type = tarfile.CHRTYPE
    elif kind == "fifo":
        info.type = tarfile.FIFOTYPE
    return info


@pytest.mark.parametrize(
    "kind", ["parent", "nested parent", "absolute", "symlink", "hardlink", "device", "fifo"]
)
def test_extraction_refuses_unsafe_members(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "evil"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in make_fake_cifar_batches(2).items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        tar.addfile(hostile_member(kind, outside), io.BytesIO(b""))
    archive = tmp_path / "hostile.tar.gz"
    archive.write_bytes(buffer.getvalue())
    root = tmp_path / "root"  # extraction goes to a temporary directory inside root
    with pytest.raises(ValueError, match="refusing member"):
        load_cifar10(root, archive=archive, checksum="skip")
    assert not outside.exists()
    assert entries(root) == []  # where '../evil' from the temporary directory would land


def test_extraction_refuses_corrupt_and_incomplete_archives(tmp_path: Path) -> None:
    files = make_fake_cifar_batches(2)
    del files["test_batch"]
    incomplete = write_tar_gz(
        tmp_path / "incomplete.tar.gz", {f"cifar-10-batches-py/{k}": v for k, v in files.items()}
    )
    truncated = tmp_path / "truncated.tar.gz"
    full = make_fake_cifar_archive(tmp_path / "full", n_per_batch=N).read_bytes()
    truncated.write_bytes(full[: len(full) // 2])
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive" * 100)
    for archive, message in [
        (incomplete, "not a CIFAR-10 python archive"),
        (truncated, "corrupt"),
        (garbage, "corrupt"),
    ]:
        root = tmp_path / f"root-{archive.name}"
        with pytest.raises(ValueError, match=message):
            load_cifar10(root, archive=archive, checksum="skip")
        assert entries(root) == []


# --- Download against a local HTTP server ------------------------------------------------------


class ArchiveHandler(http.server.BaseHTTPRequestHandler):
    """Serves `server.routes[path] = (body, bytes_to_send)`; fewer bytes than the announced
    Content-Length, then closing the connection, simulates an interrupted download."""

    timeout = 5  # a stuck client cannot hold a server thread forever

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, bytes_to_send = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:bytes_to_send])

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, fake_archive: Path):
    """A local HTTP server on 127.0.0.1 in a thread, stopped (and joined) after the test.

    Routes: /good.tar.gz (the fake archive), /truncated.tar.gz (only half of it)."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # talk to 127.0.0.1 directly
    body = fake_archive.read_bytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ArchiveHandler)
    httpd.routes = {"/good.tar.gz": (body, len(body)), "/truncated.tar.gz": (body, len(body) // 2)}
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_download_with_good_checksum_verifies_and_extracts(
    tmp_path: Path, server: str, fake_archive: Path, capsys: pytest.CaptureFixture
) -> None:
    root = tmp_path / "root"
    x_train, y_train, x_test, y_test = load_cifar10(
        root, url=f"{server}/good.tar.gz", checksum=md5(fake_archive)
    )
    assert x_train.shape == (5 * N, 3072) and x_test.shape == (N, 3072)
    assert y_train.shape == (5 * N,) and y_test.shape == (N,)
    assert entries(root) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    assert (root / "cifar-10-python.tar.gz").read_bytes() == fake_archive.read_bytes()
    assert "Downloading cifar-10-python.tar.gz" in capsys.readouterr().err  # the progress bar
    # Second call: already there, no network needed.
    load_cifar10(root, url=f"{server}/missing.tar.gz", checksum=md5(fake_archive))


@pytest.mark.parametrize("checksum", [None, "0" * 64])  # None: the official md5
def test_download_with_bad_checksum_leaves_nothing(
    tmp_path: Path, server: str, checksum: str | None
) -> None:
    root = tmp_path / "root"
    with pytest.raises(ValueError, match="expected"):
        load_cifar10(root, url=f"{server}/good.tar.gz", checksum=checksum)
    assert entries(root) == []


def test_interrupted_download_leaves_nothing(tmp_path: Path, server: str) -> None:
    root = tmp_path / "root"
    with pytest.raises(ConnectionError, match="interrupted"):
        load_cifar10(root, url=f"{server}/truncated.tar.gz", checksum="skip")
    assert entries(root) == []


def test_failed_request_leaves_nothing(tmp_path: Path, server: str) -> None:
    root = tmp_path / "root"
    with pytest.raises(ConnectionError, match="404"):
        load_cifar10(root, url=f"{server}/missing.tar.gz")
    assert entries(root) == []


# --- The real archive --------------------------------------------------------------------------


@pytest.mark.skipif(REAL_ARCHIVE is None, reason=f"{ARCHIVE_ENV} is not set (no real CIFAR-10)")
def test_real_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "real"
    try:
        x_train, y_train, x_test, y_test = load_cifar10(
            root, archive=REAL_ARCHIVE, checksum=REAL_CHECKSUM
        )
        assert x_train.shape == (50000, 3072) and x_test.shape == (10000, 3072)
        assert x_train.dtype == x_test.dtype == np.float32
        assert y_train.dtype == y_test.dtype == np.int64
        np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [5000] * 10)
        np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [1000] * 10)
        for x in (x_train, x_test):
            assert x.min() == 0.0 and x.max() == 255.0
            sample = x[::97]
            np.testing.assert_array_equal(sample, np.round(sample))  # whole numbers
        with open(root / "cifar-10-batches-py" / "batches.meta", "rb") as file:
            meta = datasets._BatchUnpickler(file, encoding="bytes").load()
        assert [name.decode() for name in meta[b"label_names"]] == list(CLASSES)

        train_sample, test_sample = x_train[::101].copy(), x_test[::101].copy()
        del x_train, x_test  # 737 MB: keep at most two copies in memory

        data, labels = read_cifar(root / "cifar-10-batches-py")  # all 60,000 in official order
        assert data.shape == (60000, 3072) and labels.shape == (60000,)
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), [6000] * 10)
        np.testing.assert_array_equal(labels, np.concatenate([y_train, y_test]))
        np.testing.assert_array_equal(data[:50000][::101], train_sample)
        np.testing.assert_array_equal(data[50000:][::101], test_sample)
        del data

        # A second load finds the extraction (by its marker) instead of extracting again;
        # reading is stubbed out, the 60,000 images were read just above.
        monkeypatch.setattr(datasets, "_extract", lambda *args: pytest.fail("extracted again"))
        monkeypatch.setattr(datasets, "_read_batches", lambda paths: (paths, None))
        train_paths, _, test_paths, _ = load_cifar10(
            root, archive=REAL_ARCHIVE, checksum=REAL_CHECKSUM
        )
        assert test_paths == [root / "cifar-10-batches-py" / "test_batch"]
        assert len(train_paths) == 5
    finally:
        shutil.rmtree(root, ignore_errors=True)  # 270 MB of batches: do not keep them in /tmp
