"""`tinygrad_be.vision`: torchvision's datasets, transforms and image grids, on numpy.

>>> import tinygrad_be.vision as torchvision
>>> import tinygrad_be.vision.transforms as transforms
>>> transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
>>> trainset = torchvision.datasets.CIFAR10(root="./data", train=True, download=True, transform=transform)

- `datasets`: CIFAR10, MNIST, FashionMNIST (downloaded with checksums into a cache, read safely).
- `transforms`: per-image ToTensor, Normalize, Compose, Lambda, flips, crops and padding.
- `utils`: make_grid and save_image.
- `models`: the VGG and ResNet (ResNeXt, wide ResNet) constructors, untrained (`weights=None`).
- `io`: read_image, decode_image, write_png and the other image file functions (Pillow inside).
"""

from tinygrad_be.vision import datasets, io, models, transforms, utils

__all__ = ["datasets", "io", "models", "transforms", "utils"]
