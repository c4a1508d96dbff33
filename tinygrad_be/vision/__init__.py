"""`tinygrad_be.vision`: torchvision's datasets, transforms and image grids, on numpy.

>>> import tinygrad_be.vision as torchvision
>>> import tinygrad_be.vision.transforms as transforms
>>> transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
>>> trainset = torchvision.datasets.CIFAR10(root="./data", train=True, download=True, transform=transform)

- `datasets`: CIFAR10, MNIST, FashionMNIST (downloaded with checksums into a cache, read safely).
- `transforms`: per-image ToTensor, Normalize, Compose, Lambda, flips, crops and padding.
- `utils`: make_grid and save_image.
"""

from tinygrad_be.vision import datasets, transforms, utils

__all__ = ["datasets", "transforms", "utils"]
