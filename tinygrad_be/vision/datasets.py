"""CIFAR-10, MNIST and Fashion-MNIST as map-style datasets, as torchvision.datasets gives them.

>>> from tinygrad_be.vision import datasets, transforms
>>> trainset = datasets.CIFAR10(root="./data", train=True, download=True,
...                             transform=transforms.ToTensor())
>>> image, label = trainset[0]         # Tensor (3, 32, 32) float32 in [0, 1], int in 0..9

Before transforms, an image is what torchvision gives as a PIL image, here a numpy array: CIFAR-10
(32, 32, 3) uint8 (height, width, RGB), MNIST (28, 28) uint8. The label is an int. `.data`,
`.targets`, `.classes` and `.class_to_idx` are torchvision's: for CIFAR10 `.data` is a uint8
array (N, 32, 32, 3) and `.targets` a list of ints; for MNIST both are Tensors, uint8
(N, 28, 28) and int64 (N,).

Where the files come from:
- CIFAR10 uses `tinygrad_be.datasets`: `root/cifar-10-batches-py/`, else the local archive named by
  `$CIFAR10_ARCHIVE`, else (with `download=True`) the official archive, checked against its md5,
  extracted safely and read without unpickling anything (see that module).
- MNIST and FashionMNIST read `root/<class name>/raw/*-ubyte.gz` (or the uncompressed files), as
  torchvision lays them out; with `download=True`, missing files are downloaded from `mirrors` and
  checked against their md5 before they are moved into place. Files are read with
  `tinygrad_be.vision.idx.read_idx`, which checks every size.
`root=None` means the library's data directory (`$TINYGRAD_BE_DATA`, else ~/.cache/tinygrad_be).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_be import datasets as _cifar
from tinygrad_be.tensor import from_numpy
from tinygrad_be.utils.data import Dataset
from tinygrad_be.vision.idx import read_idx

__all__ = ["CIFAR10", "MNIST", "FashionMNIST", "VisionDataset"]


class VisionDataset(Dataset):
    """What the image datasets share: root, transform, target_transform, and `(image, label)`
    items from `self.data` and `self.targets`."""

    data: Any
    targets: Any
    classes: list[str]

    def __init__(
        self,
        root: str | os.PathLike | None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.root = _cifar._data_root(root)
        self.transform, self.target_transform = transform, target_transform

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def _image(self, index: int) -> np.ndarray:
        return self.data[index]

    def _target(self, index: int) -> int:
        return int(self.targets[index])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, target = self._image(index), self._target(index)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {self._split}"]  # fmt: skip
        for name in ("transform", "target_transform"):
            value = getattr(self, name)
            if value is not None:
                lines.append(f"    {name}: " + repr(value).replace("\n", "\n    "))
        return "\n".join(lines)

    @property
    def _split(self) -> str:
        return "Train" if self.train else "Test"


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training or 10,000 test images (32, 32, 3) uint8 with labels 0..9.

    root: directory of `cifar-10-batches-py/` (and of the archive when it is fetched). download:
    fetch and extract the archive if it is not there (a local `$CIFAR10_ARCHIVE` is used first).
    transform / target_transform: applied to each image / label.
    """

    classes = list(_cifar.CLASSES)

    def __init__(
        self,
        root: str | os.PathLike | None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        try:
            directory = _cifar.cifar10_directory(self.root, download)
        except FileNotFoundError as error:
            raise RuntimeError(f"Dataset not found or corrupted. You can use download=True to "
                               f"download it ({error})") from error  # fmt: skip
        names = _cifar.TRAIN_BATCHES if train else (_cifar.TEST_BATCH,)
        # The checked uint8 reader of tinygrad_be.datasets (no pickle code ever runs).
        batches = [_cifar._read_batch_uint8(directory / name) for name in names]
        rows = np.concatenate([data for data, _ in batches])  # (N, 3072): R, G, B planes
        self.data = np.ascontiguousarray(rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self.targets = np.concatenate([labels for _, labels in batches]).tolist()


class MNIST(VisionDataset):
    """MNIST: 60,000 training or 10,000 test digits (28, 28) uint8 with labels 0..9.

    root: the directory holding `MNIST/raw/` (the class name, as torchvision). download: fetch
    the missing files from `mirrors`, checking each against its md5 before moving it into place.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]  # fmt: skip
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]  # fmt: skip

    def __init__(
        self,
        root: str | os.PathLike | None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        prefix = "train" if train else "t10k"
        if download:
            self.download()
        images = read_idx(self._find(f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(self._find(f"{prefix}-labels-idx1-ubyte"))
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"{type(self).__name__}: images must be uint8 (N, 28, 28), got "
                             f"{images.dtype} {images.shape}")  # fmt: skip
        if labels.dtype != np.uint8 or labels.shape != (len(images),):
            raise ValueError(f"{type(self).__name__}: labels must be uint8 ({len(images)},), one "
                             f"per image, got {labels.dtype} {labels.shape}")  # fmt: skip
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(f"{type(self).__name__}: labels must be in 0..{len(self.classes) - 1}"
                             f", got up to {labels.max()}")  # fmt: skip
        self.data = from_numpy(images)
        self.targets = from_numpy(labels.astype(np.int64))

    @property
    def raw_folder(self) -> Path:
        return self.root / type(self).__name__ / "raw"

    def _find(self, name: str) -> Path:
        """The raw file `name`, uncompressed (as torchvision leaves it) or `name.gz`."""
        for candidate in (self.raw_folder / name, self.raw_folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        raise RuntimeError(f"Dataset not found: no {name}(.gz) in {self.raw_folder}. You can use "
                           "download=True to download it")  # fmt: skip

    def _image(self, index: int) -> np.ndarray:  # the arrays, not Tensor indexing, per item
        return self.data._data[index]

    def _target(self, index: int) -> int:
        return int(self.targets._data[index])

    def download(self) -> None:
        """Fetch the files of `resources` not yet in `raw_folder`, each from the first mirror
        that answers, md5-checked before it is moved into place (nothing is left on failure)."""
        for filename, md5 in self.resources:
            destination = self.raw_folder / filename
            if destination.is_file() or destination.with_suffix("").is_file():
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    _cifar._download(f"{mirror}{filename}", destination, ("md5", md5),
                                     hint="Put the file there yourself to use it offline.")  # fmt: skip
                    break
                except ConnectionError as error:
                    errors.append(str(error))
            else:
                raise RuntimeError(f"Error downloading {filename}: " + "; ".join(errors))


class FashionMNIST(MNIST):
    """Fashion-MNIST: 60,000 training or 10,000 test photos of clothes (28, 28) uint8, labels
    0..9 (`classes`); the same format and layout as MNIST, under `root/FashionMNIST/raw/`."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
