"""VGG (Simonyan & Zisserman, 2014), as torchvision builds it: `vgg11` ... `vgg19_bn`.

A VGG is a stack of 3x3 convolutions (`features`), then a fixed-size average pool to 512 x 7 x 7
(`avgpool`) and three linear layers (`classifier`):

    x (N, 3, H, W) -> features -> (N, 512, H/32, W/32) -> avgpool -> (N, 512, 7, 7)
      -> flatten -> (N, 25088) -> classifier -> logits (N, num_classes)

The four depths differ only in the list of layers `features` is made from (`cfgs`: "A" is
VGG-11, "B" VGG-13, "D" VGG-16, "E" VGG-19); the `_bn` variants put a BatchNorm2d after each
convolution. Module names, parameter names and shapes (so state_dict keys), ReLU(inplace=True)
and the initialisation are torchvision's: a state dict saved from one loads into the other.

The models are big: the classifier alone holds about 124 million parameters (0.5 GB in
float32), whatever the depth.

One difference: here `nn.AdaptiveAvgPool2d` pools only to sizes that divide its input, so the
feature map must be a multiple of 7 on each side (224 x 224 images give 7 x 7); torchvision's also
takes smaller images, e.g. CIFAR-10's 32 x 32, whose 1 x 1 map it repeats to 7 x 7. Here they
raise a ValueError naming the shapes.
"""

from __future__ import annotations

from typing import Any

from tinygrad_be import nn
from tinygrad_be.tensor import Tensor
from tinygrad_be.vision.models._weights import (
    VGG11_BN_Weights,
    VGG11_Weights,
    VGG13_BN_Weights,
    VGG13_Weights,
    VGG16_BN_Weights,
    VGG16_Weights,
    VGG19_BN_Weights,
    VGG19_Weights,
    WeightsEnum,
    check_weights,
)

__all__ = [
    "VGG",
    "VGG11_BN_Weights",
    "VGG11_Weights",
    "VGG13_BN_Weights",
    "VGG13_Weights",
    "VGG16_BN_Weights",
    "VGG16_Weights",
    "VGG19_BN_Weights",
    "VGG19_Weights",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]

# The layers of `features`: a number is a 3x3 convolution with that many output channels (padding
# 1, so the size stays), "M" a 2x2 max pool (halving the size). Each has five pools: H -> H / 32.
# fmt: off
cfgs: dict[str, list[str | int]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
          512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
# fmt: on


def make_layers(cfg: list[str | int], batch_norm: bool = False) -> nn.Sequential:
    """The `features` stack for the layer list `cfg` (see `cfgs`), on 3-channel images:
    (N, 3, H, W) -> (N, 512, H / 32, W / 32) for the configurations in `cfgs`.

    Each convolution is followed by ReLU(inplace=True), with a BatchNorm2d in between when
    `batch_norm`; the layers are numbered in order ("0", "1", ...), as torchvision's.
    """
    layers: list[nn.Module] = []
    channels = 3
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        out_channels = int(item)
        layers.append(nn.Conv2d(channels, out_channels, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
        channels = out_channels
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """A VGG network: `features` (any module giving (N, 512, h, w)), avgpool to 7 x 7, classifier.

    `classifier` is Linear(25088, 4096), ReLU, Dropout(dropout), Linear(4096, 4096), ReLU,
    Dropout(dropout), Linear(4096, num_classes). With `init_weights` (the default) the weights
    start as torchvision's: convolutions kaiming-normal (fan_out, relu) with zero bias, batch
    norms weight 1 and bias 0, linear layers normal(0, 0.01) with zero bias.
    """

    def __init__(
        self,
        features: nn.Module,
        num_classes: int = 1000,
        init_weights: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for module in self.modules():
                _initialise(module)

    def forward(self, x: Any) -> Tensor:
        """x (N, 3, H, W) -> logits (N, num_classes)."""
        x = self.features(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.classifier(x)


def _initialise(module: nn.Module) -> None:
    """torchvision's VGG initialisation of one layer (other modules are left as they are)."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.01)
        nn.init.zeros_(module.bias)


def _vgg(
    name: str,
    enum: type[WeightsEnum],
    cfg: str,
    batch_norm: bool,
    weights: Any,
    kwargs: dict[str, Any],
) -> VGG:
    """Check `weights` (None only), then build VGG(make_layers(cfgs[cfg], batch_norm), **kwargs)."""
    check_weights(name, enum, weights, kwargs)
    return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)


# --------------------------------------------------------------------------------------------------
# The builders. `weights` must be None (see `_weights`); `progress` is accepted and ignored;
# `kwargs` go to VGG (num_classes, init_weights, dropout).
def vgg11(
    *, weights: VGG11_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> VGG:
    """VGG-11 (configuration "A": 8 convolutions): 132,863,336 parameters."""
    return _vgg("vgg11", VGG11_Weights, "A", False, weights, kwargs)


def vgg11_bn(
    *, weights: VGG11_BN_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> VGG:
    """VGG-11 with batch normalisation: 132,868,840 parameters."""
    return _vgg("vgg11_bn", VGG11_BN_Weights, "A", True, weights, kwargs)


def vgg13(
    *, weights: VGG13_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> VGG:
    """VGG-13 (configuration "B": 10 convolutions): 133,047,848 parameters."""
    return _vgg("vgg13", VGG13_Weights, "B", False, weights, kwargs)


def vgg13_bn(
    *, weights: VGG13_BN_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> VGG:
    """VGG-13 with batch normalisation: 133,053,736 parameters."""
    return _vgg("vgg13_bn", VGG13_BN_Weights, "B", True, weights, kwargs)


def vgg16(
    *, weights: VGG16_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> VGG:
    """VGG-16 (configuration "D": 13 convolutions): 138,357,544 parameters."""
    return _vgg("vgg16", VGG16_Weights, "D", False, weights, kwargs)


def vgg16_bn(
    *, weights: VGG16_BN_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> VGG:
    """VGG-16 with batch normalisation: 138,365,992 parameters."""
    return _vgg("vgg16_bn", VGG16_BN_Weights, "D", True, weights, kwargs)


def vgg19(
    *, weights: VGG19_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> VGG:
    """VGG-19 (configuration "E": 16 convolutions): 143,667,240 parameters."""
    return _vgg("vgg19", VGG19_Weights, "E", False, weights, kwargs)


def vgg19_bn(
    *, weights: VGG19_BN_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> VGG:
    """VGG-19 with batch normalisation: 143,678,248 parameters."""
    return _vgg("vgg19_bn", VGG19_BN_Weights, "E", True, weights, kwargs)
