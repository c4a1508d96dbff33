"""The `*_Weights` enums of torchvision's model builders, and the check of `weights=`.

torchvision's pretrained weights are PyTorch pickle files (`.pth`), and tinygrad_be never
unpickles (a pickle can run arbitrary code when it is read). So every builder here builds an
untrained model (`weights=None`), and asking for weights raises a RuntimeError that says so. The
enums exist so that torchvision code naming them imports and reads as it does there:

>>> from tinygrad_be.vision.models import ResNet18_Weights, resnet18
>>> ResNet18_Weights.DEFAULT
ResNet18_Weights.IMAGENET1K_V1
>>> ResNet18_Weights.DEFAULT.meta["num_params"]
11689512
>>> model = resnet18()                    # untrained; resnet18(weights="DEFAULT") raises

Each member keeps torchvision's download address (`url`) and parameter count
(`meta["num_params"]`); torchvision's other metadata (categories, accuracies, preprocessing
transforms) is not kept.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "ResNet18_Weights",
    "ResNet34_Weights",
    "ResNet50_Weights",
    "ResNet101_Weights",
    "ResNet152_Weights",
    "ResNeXt50_32X4D_Weights",
    "ResNeXt101_32X8D_Weights",
    "ResNeXt101_64X4D_Weights",
    "VGG11_BN_Weights",
    "VGG11_Weights",
    "VGG13_BN_Weights",
    "VGG13_Weights",
    "VGG16_BN_Weights",
    "VGG16_Weights",
    "VGG19_BN_Weights",
    "VGG19_Weights",
    "Weights",
    "WeightsEnum",
    "Wide_ResNet50_2_Weights",
    "Wide_ResNet101_2_Weights",
]

_DOWNLOADS = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class Weights:
    """Where torchvision downloads one set of pretrained weights, and how many parameters the
    model has (the value of each `*_Weights` member)."""

    url: str
    num_params: int


class WeightsEnum(Enum):
    """Base of the `*_Weights` enums: `ResNet18_Weights.IMAGENET1K_V1`, `.DEFAULT`, ...

    `get_state_dict` (torchvision downloads and unpickles the file) raises the RuntimeError that
    explains why tinygrad_be does not.
    """

    @classmethod
    def verify(cls, obj: Any) -> WeightsEnum | None:
        """`obj` as a member of this enum: None stays None; a name ("DEFAULT",
        "ResNet18_Weights.IMAGENET1K_V1") is looked up; another enum's member is a TypeError."""
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            name = obj.removeprefix(cls.__name__ + ".")
            if name not in cls.__members__:
                raise KeyError(
                    f"{cls.__name__} has no member {obj!r}; its members are "
                    f"{', '.join(cls.__members__)}"
                )
            return cls[name]
        raise TypeError(
            f"Invalid Weight class provided; expected {cls.__name__} but received "
            f"{type(obj).__name__}."
        )

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def meta(self) -> dict[str, Any]:
        return {"num_params": self.value.num_params}

    def get_state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise _refusal(f"{self!r}.get_state_dict()", self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


def _refusal(what: str, weights: WeightsEnum) -> RuntimeError:
    return RuntimeError(
        f"{what}: tinygrad_be cannot load torchvision's pretrained weights: they are a PyTorch "
        f"pickle file ({weights.url}), and tinygrad_be never unpickles (reading a pickle can run "
        "arbitrary code). Build the model untrained with weights=None, and load a state dict "
        "saved by tinygrad_be: model.load_state_dict(nn.load(path))."
    )


def check_weights(
    builder: str, enum: type[WeightsEnum], weights: Any, kwargs: dict[str, Any]
) -> None:
    """Accept only `weights=None` for the builder `builder` (e.g. "resnet18"); any member of
    `enum` or name of one raises the RuntimeError that explains why.

    torchvision's legacy forms are read as torchvision reads them, with its warnings:
    `pretrained=False` (removed from `kwargs`) or `weights=False` build an untrained model;
    `pretrained=True` or `weights=True` ask for the IMAGENET1K_V1 weights.
    """
    if isinstance(weights, bool) or (weights is None and "pretrained" in kwargs):
        if not isinstance(weights, bool):
            weights = kwargs.pop("pretrained")
            warnings.warn(
                "The parameter 'pretrained' is deprecated since 0.13 and may be removed in the "
                "future, please use 'weights' instead.",
                stacklevel=4,
            )
        legacy = enum["IMAGENET1K_V1"] if weights else None
        message = (
            "Arguments other than a weight enum or `None` for 'weights' are deprecated since "
            "0.13 and may be removed in the future. The current behavior is equivalent to "
            f"passing `weights={legacy!r}`."
        )
        if legacy is not None:
            message += (
                f" You can also use `weights={enum.__name__}.DEFAULT` to get the most up-to-date "
                "weights."
            )
        warnings.warn(message, stacklevel=4)
        weights = legacy
    member = enum.verify(weights)
    if member is not None:
        raise _refusal(f"{builder}(weights={member!r})", member)


# --------------------------------------------------------------------------------------------------
# One enum per builder, as torchvision 0.28 (members, DEFAULT, download names, parameter counts)
class VGG11_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "vgg11-8a719046.pth", 132863336)
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "vgg11_bn-6002323d.pth", 132868840)
    DEFAULT = IMAGENET1K_V1


class VGG13_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "vgg13-19584684.pth", 133047848)
    DEFAULT = IMAGENET1K_V1


class VGG13_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "vgg13_bn-abd245e5.pth", 133053736)
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "vgg16-397923af.pth", 138357544)
    IMAGENET1K_FEATURES = Weights(_DOWNLOADS + "vgg16_features-amdegroot-88682ab5.pth", 138357544)
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "vgg16_bn-6c64b313.pth", 138365992)
    DEFAULT = IMAGENET1K_V1


class VGG19_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "vgg19-dcbb9e9d.pth", 143667240)
    DEFAULT = IMAGENET1K_V1


class VGG19_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "vgg19_bn-c79401a0.pth", 143678248)
    DEFAULT = IMAGENET1K_V1


class ResNet18_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "resnet18-f37072fd.pth", 11689512)
    DEFAULT = IMAGENET1K_V1


class ResNet34_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "resnet34-b627a593.pth", 21797672)
    DEFAULT = IMAGENET1K_V1


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "resnet50-0676ba61.pth", 25557032)
    IMAGENET1K_V2 = Weights(_DOWNLOADS + "resnet50-11ad3fa6.pth", 25557032)
    DEFAULT = IMAGENET1K_V2


class ResNet101_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "resnet101-63fe2227.pth", 44549160)
    IMAGENET1K_V2 = Weights(_DOWNLOADS + "resnet101-cd907fc2.pth", 44549160)
    DEFAULT = IMAGENET1K_V2


class ResNet152_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "resnet152-394f9c45.pth", 60192808)
    IMAGENET1K_V2 = Weights(_DOWNLOADS + "resnet152-f82ba261.pth", 60192808)
    DEFAULT = IMAGENET1K_V2


class ResNeXt50_32X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "resnext50_32x4d-7cdf4587.pth", 25028904)
    IMAGENET1K_V2 = Weights(_DOWNLOADS + "resnext50_32x4d-1a0047aa.pth", 25028904)
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_32X8D_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "resnext101_32x8d-8ba56ff5.pth", 88791336)
    IMAGENET1K_V2 = Weights(_DOWNLOADS + "resnext101_32x8d-110c445d.pth", 88791336)
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_64X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "resnext101_64x4d-173b62eb.pth", 83455272)
    DEFAULT = IMAGENET1K_V1


class Wide_ResNet50_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "wide_resnet50_2-95faca4d.pth", 68883240)
    IMAGENET1K_V2 = Weights(_DOWNLOADS + "wide_resnet50_2-9ba9bcbe.pth", 68883240)
    DEFAULT = IMAGENET1K_V2


class Wide_ResNet101_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_DOWNLOADS + "wide_resnet101_2-32ee1156.pth", 126886696)
    IMAGENET1K_V2 = Weights(_DOWNLOADS + "wide_resnet101_2-d733dc28.pth", 126886696)
    DEFAULT = IMAGENET1K_V2
