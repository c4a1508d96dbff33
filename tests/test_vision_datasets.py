"""tinygrad_be.vision.datasets: CIFAR10 on a generated archive (and the real one when CI has it),
MNIST and FashionMNIST on generated idx files, downloads through file:// URLs (no network)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from fake_cifar import make_fake_cifar_archive

import tinygrad_be
from tinygrad_be import Tensor
from tinygrad_be.datasets import load_cifar10
from tinygrad_be.vision import datasets, transforms
from tinygrad_be.vision.idx import write_idx

REAL_ARCHIVE = os.environ.get("CIFAR10_ARCHIVE")
if REAL_ARCHIVE and not Path(REAL_ARCHIVE).is_file():
    REAL_ARCHIVE = None


@pytest.fixture
def fake_cifar(tmp_path, monkeypatch) -> Path:
    """A generated archive named by $CIFAR10_ARCHIVE (5 x 4 training and 4 test images)."""
    archive = make_fake_cifar_archive(tmp_path / "archive", n_per_batch=4)
    monkeypatch.setenv("CIFAR10_ARCHIVE", str(archive))
    monkeypatch.setenv("CIFAR10_ARCHIVE_CHECKSUM", "skip")
    return tmp_path / "data"


def test_cifar10_items_are_hwc_uint8_images_and_int_labels(fake_cifar):
    train = datasets.CIFAR10(fake_cifar, train=True, download=True)
    test = datasets.CIFAR10(fake_cifar, train=False)
    assert len(train) == 20 and len(test) == 4
    assert train.data.shape == (20, 32, 32, 3) and train.data.dtype == np.uint8
    assert isinstance(train.targets, list) and all(type(t) is int for t in train.targets)
    assert train.classes[0] == "airplane" and train.class_to_idx["truck"] == 9
    x_train, y_train, _, _ = load_cifar10(fake_cifar)
    image, label = train[7]
    assert isinstance(image, np.ndarray) and image.shape == (32, 32, 3) and type(label) is int
    # the rows store 1024 red, 1024 green, 1024 blue values: pixel (h, w) channel c
    np.testing.assert_array_equal(image[5, 9], x_train[7].reshape(3, 32, 32)[:, 5, 9])
    assert label == y_train[7]
    assert "Number of datapoints: 20" in repr(train) and "Split: Test" in repr(test)


def test_cifar10_transforms_apply_per_item(fake_cifar):
    dataset = datasets.CIFAR10(fake_cifar, transform=transforms.ToTensor(),
                               target_transform=lambda y: y + 100)  # fmt: skip
    image, label = dataset[0]
    assert isinstance(image, Tensor) and image.shape == (3, 32, 32) and image.dtype == np.float32
    assert label == dataset.targets[0] + 100
    np.testing.assert_array_equal(image.numpy(), dataset.data[0].transpose(2, 0, 1) / np.float32(255))


def test_cifar10_not_found_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAR10_ARCHIVE", raising=False)
    with pytest.raises(RuntimeError, match="download=True"):
        datasets.CIFAR10(tmp_path / "empty", download=False)


def test_the_cifar10_tutorials_data_part_runs_with_its_imports_redirected(fake_cifar):
    """The data lines of PyTorch's CIFAR-10 tutorial, with torch -> tinygrad_be and torchvision ->
    tinygrad_be.vision (our code in the tutorial's shape)."""
    torch, torchvision = tinygrad_be, tinygrad_be.vision
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    )
    batch_size = 4
    trainset = torchvision.datasets.CIFAR10(root=str(fake_cifar), train=True, download=True,
                                            transform=transform)  # fmt: skip
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size, shuffle=True,
                                              num_workers=2)  # fmt: skip
    testset = torchvision.datasets.CIFAR10(root=str(fake_cifar), train=False, download=True,
                                           transform=transform)  # fmt: skip
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size, shuffle=False,
                                             num_workers=2)  # fmt: skip
    classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    images, labels = next(iter(trainloader))
    assert images.shape == (4, 3, 32, 32) and images.dtype == np.float32
    assert labels.shape == (4,) and labels.dtype == np.int64
    assert -1.0 <= float(images.min()) and float(images.max()) <= 1.0
    img = torchvision.utils.make_grid(images) / 2 + 0.5
    assert np.transpose(img.numpy(), (1, 2, 0)).shape == (36, 138, 3)
    names = " ".join(f"{classes[labels[j]]:5s}" for j in range(batch_size))
    assert len(names.split()) == 4
    assert len(trainloader) == 5 and len(testloader) == 1
    assert sum(len(y) for _, y in testloader) == 4


@pytest.mark.skipif(REAL_ARCHIVE is None, reason="CIFAR10_ARCHIVE is not set (no real CIFAR-10)")
def test_real_cifar10_test_split():
    test = datasets.CIFAR10(None, train=False)  # the library's data directory, as CI sets it
    assert test.data.shape == (10000, 32, 32, 3)
    np.testing.assert_array_equal(np.bincount(test.targets, minlength=10), [1000] * 10)


# --------------------------------------------------------------------------------------------------
# MNIST and FashionMNIST
def fake_mnist_files(directory: Path, n_train: int = 12, n_test: int = 5) -> dict[str, bytes]:
    """The four gzip idx files of a small MNIST-shaped data set, written to `directory`."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))  # fmt: skip
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)
    return {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.mark.parametrize("cls", [datasets.MNIST, datasets.FashionMNIST])
def test_mnist_reads_the_raw_folder(tmp_path, cls):
    fake_mnist_files(tmp_path / cls.__name__ / "raw")
    train, test = cls(tmp_path), cls(tmp_path, train=False)
    assert len(train) == 12 and len(test) == 5
    assert isinstance(train.data, Tensor) and train.data.shape == (12, 28, 28)
    assert train.data.dtype == np.uint8 and train.targets.dtype == np.int64
    image, label = train[3]
    assert isinstance(image, np.ndarray) and image.shape == (28, 28) and image.dtype == np.uint8
    assert label == 3 and type(label) is int
    np.testing.assert_array_equal(image, train.data.numpy()[3])
    tensor_image, _ = cls(tmp_path, transform=transforms.ToTensor())[3]
    assert tensor_image.shape == (1, 28, 28)  # as torchvision's ToTensor of an "L" image
    assert len(cls.classes) == 10


def test_mnist_refuses_mismatched_files_and_says_what_is_missing(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    fake_mnist_files(raw)
    write_idx(raw / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))  # 11 labels, 12 images
    with pytest.raises(ValueError, match=r"one per image"):
        datasets.MNIST(tmp_path)
    write_idx(raw / "train-labels-idx1-ubyte.gz", np.full(12, 10, np.uint8))
    with pytest.raises(ValueError, match=r"labels must be in 0..9"):
        datasets.MNIST(tmp_path)
    (raw / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(RuntimeError, match="download=True"):
        datasets.MNIST(tmp_path, train=False)


def test_mnist_download_checks_md5_and_tries_the_next_mirror(tmp_path, monkeypatch):
    files = fake_mnist_files(tmp_path / "mirror")
    resources = [(name, hashlib.md5(content).hexdigest()) for name, content in sorted(files.items())]
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    missing_mirror = (tmp_path / "nowhere").as_uri() + "/"
    monkeypatch.setattr(datasets.MNIST, "mirrors", [missing_mirror, (tmp_path / "mirror").as_uri() + "/"])
    root = tmp_path / "root"
    train = datasets.MNIST(root, download=True)
    assert len(train) == 12
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == sorted(files)


def test_a_corrupt_download_leaves_nothing_in_the_cache(tmp_path, monkeypatch):
    files = fake_mnist_files(tmp_path / "mirror")
    resources = [(name, hashlib.md5(content).hexdigest()) for name, content in sorted(files.items())]
    resources[0] = (resources[0][0], "0" * 32)  # the expected md5 of the first file differs
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    monkeypatch.setattr(datasets.MNIST, "mirrors", [(tmp_path / "mirror").as_uri() + "/"])
    root = tmp_path / "root"
    with pytest.raises(ValueError, match="md5 is .* expected 0{32}"):
        datasets.MNIST(root, download=True)
    assert list((root / "MNIST" / "raw").iterdir()) == []


def test_a_truncated_file_in_the_cache_is_refused(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    fake_mnist_files(raw)
    images = raw / "train-images-idx3-ubyte.gz"
    import gzip

    images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[:-10]))
    with pytest.raises(ValueError, match="truncated"):
        datasets.MNIST(tmp_path)
