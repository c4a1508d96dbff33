"""A convolutional network for CIFAR-10, built from `tinygrad_be.nn` layers.

The shape follows the fast CIFAR-10 recipes (D. Page's "How to train your ResNet", Keller Jordan's
airbench): a frozen first layer that whitens 2×2 patches, then three groups of

    conv 3×3 → max-pool 2×2 → batch norm → ReLU → conv 3×3 → batch norm → ReLU

(pooling straight after the first convolution makes the batch norms and ReLUs 4× cheaper), then a
global max-pool, a linear layer without bias and a fixed scale on the logits (a small scale keeps
early logits small, which suits label-smoothed cross-entropy with a large learning rate).

    input (N, 3, 32, 32)                                         pixels standardised per channel
    whiten   conv 2×2, 3 → 24, frozen, + ReLU       (N, 24, 31, 31)
    group 1  widths[0]                              (N, w0, 15, 15)
    group 2  widths[1]                              (N, w1, 7, 7)
    group 3  widths[2]                              (N, w2, 3, 3)
    global max-pool, flatten                        (N, w2)        <- the features k-NN uses
    linear w2 → 10 (no bias), × scale               (N, 10)        logits

`count_flops(model)` gives the multiply-adds ×2 of one image's forward pass; with the default
widths (32, 64, 128) that is 39.8 MFLOP and the model has 295,096 parameters (312 of them in the
frozen whitening layer).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tinygrad_be
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, nn, no_grad
from tinygrad_be.transforms import ChannelStandardizer, patch_whitening

__all__ = ["CifarNet", "ConvGroup", "count_flops", "load_cnn_features"]

IMAGE_SHAPE = (3, 32, 32)


class ConvGroup(nn.Module):
    """conv 3×3 → max-pool 2×2 → batch norm → ReLU → conv 3×3 → batch norm → ReLU.

    (N, in_channels, H, W) -> (N, out_channels, H // 2, W // 2). The convolutions have no bias (the
    batch norm that follows each one would cancel it).
    """

    def __init__(self, in_channels: int, out_channels: int, bn_momentum: float = 0.1) -> None:
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = nn.BatchNorm2d(out_channels, momentum=bn_momentum)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels, momentum=bn_momentum)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm1(self.pool(self.conv1(x))).relu()
        return self.norm2(self.conv2(x)).relu()


class CifarNet(nn.Module):
    """The network above. `widths`: channels of the three groups; `scale`: factor on the logits.

    The whitening layer starts as an identity-like random layer; call `fit_whitening(images)` with
    training images (N, 3, H, W) before training to set it (it stays frozen: no gradient).
    Input (N, 3, 32, 32) float32, standardised -> logits (N, num_classes).
    """

    def __init__(
        self,
        widths: Sequence[int] = (32, 64, 128),
        num_classes: int = 10,
        scale: float = 1 / 8,
        whiten_patch: int = 2,
        bn_momentum: float = 0.1,
    ) -> None:
        if len(widths) != 3 or min(widths) <= 0:
            raise ValueError(f"CifarNet: widths must be three positive ints, got {tuple(widths)}")
        self.widths = tuple(int(w) for w in widths)
        self.num_classes, self.scale = int(num_classes), float(scale)
        whiten_channels = 2 * 3 * whiten_patch**2  # each principal direction and its negative
        self.whiten = nn.Conv2d(3, whiten_channels, whiten_patch)
        self.whiten.weight.requires_grad = False
        self.whiten.bias.requires_grad = False
        channels = [whiten_channels, *self.widths]
        self.groups = [ConvGroup(a, b, bn_momentum) for a, b in zip(channels[:-1], channels[1:], strict=True)]
        self.head = nn.Linear(self.widths[-1], self.num_classes, bias=False)

    def fit_whitening(self, images: np.ndarray, eps: float = 5e-4) -> CifarNet:
        """Set the frozen first layer to whiten the patches of `images` (N, 3, H, W)."""
        weight, bias = patch_whitening(images, self.whiten.kernel_size[0], eps)
        for parameter, value in ((self.whiten.weight, weight), (self.whiten.bias, bias)):
            # On the parameter's device: the model may already be on the GPU.
            parameter.data = tinygrad_be.as_tensor(value.astype(parameter.dtype), device=parameter.device)
        return self

    def features(self, x: Tensor | np.ndarray) -> Tensor:
        """The penultimate layer: (N, 3, 32, 32) -> (N, widths[-1]), after the global max-pool."""
        x = self.whiten(x).relu()
        for group in self.groups:
            x = group(x)
        return F.adaptive_max_pool2d(x, 1).flatten(1)

    def forward(self, x: Tensor | np.ndarray) -> Tensor:
        return self.head(self.features(x)) * self.scale

    def trainable_parameters(self) -> list[Tensor]:
        return [p for p in self.parameters() if p.requires_grad]

    def extra_repr(self) -> str:
        return f"widths={self.widths}, scale={self.scale}"


def count_flops(model: nn.Module, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> int:
    """Floating-point operations (2 per multiply-add) of one image's forward pass through the
    convolutions and linear layers of `model` (batch norm, ReLU and pooling are not counted).

    Found by running one zero image through the model and reading each layer's output size.
    """
    flops = 0
    hooks: list[tuple[nn.Module, Callable[..., Any]]] = []

    def counting(layer: nn.Module, forward: Callable[..., Any]) -> Callable[..., Any]:
        def run(x: Any) -> Any:
            nonlocal flops
            out = forward(x)
            if isinstance(layer, nn.Conv2d):
                kh, kw = layer.kernel_size
                flops += 2 * int(np.prod(out.shape)) * layer.in_channels * kh * kw
            else:
                flops += 2 * int(np.prod(out.shape)) * layer.in_features
            return out

        return run

    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            hooks.append((layer, layer.forward))
            layer.forward = counting(layer, layer.forward)  # type: ignore[method-assign]
    training = model.training
    try:
        model.eval()
        with no_grad():
            device = next(iter(model.parameters())).device  # a zero image on the model's device
            model(tinygrad_be.zeros(1, *input_shape, device=device))
    finally:
        for layer, _ in hooks:
            del layer.forward  # back to the class's method
        model.train(training)
    return flops


def load_cnn_features(path: str | os.PathLike) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping raw CIFAR-10 pixels (n, 3072), 0..255, to a trained CifarNet's
    penultimate features (n, widths[-1]) float32, from the `cnn_cifar10_features.npz` written by
    `examples/cnn_cifar10.py` (the network with its input standardisation), in eval mode.
    Rows are processed in chunks.
    """
    checkpoint = tinygrad_be.load(path)
    needed = ("model", "standardizer", "widths", "scale")
    missing = [key for key in needed if key not in checkpoint]
    if missing:
        raise ValueError(
            f"{path} is not a feature checkpoint of examples/cnn_cifar10.py (missing "
            f"{', '.join(missing)})"
        )
    model = CifarNet(tuple(int(w) for w in checkpoint["widths"]), scale=float(checkpoint["scale"]))
    model.load_state_dict(checkpoint["model"])
    model.eval()
    standardizer = ChannelStandardizer.from_state(checkpoint["standardizer"])
    width = model.widths[-1]

    def extract(pixels: np.ndarray, chunk: int = 1000) -> np.ndarray:
        pixels = np.asarray(pixels, dtype=np.float32)
        if pixels.ndim != 2 or pixels.shape[1] != int(np.prod(IMAGE_SHAPE)):
            raise ValueError(f"features: expected pixels (n, 3072), got {pixels.shape}")
        out = []
        with no_grad():
            for start in range(0, len(pixels), chunk):
                images = standardizer(pixels[start : start + chunk].reshape(-1, *IMAGE_SHAPE))
                out.append(model.features(images)._data)
        return np.concatenate(out) if out else np.zeros((0, width), np.float32)

    return extract
