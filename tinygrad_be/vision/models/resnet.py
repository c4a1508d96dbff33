"""ResNet (He et al., 2015), ResNeXt and Wide ResNet, as torchvision builds them.

A ResNet is a stem, four stages of residual blocks, a global average pool and a linear layer:

    x (N, 3, H, W) -> conv1 (7x7, stride 2) -> bn1 -> relu -> maxpool (3x3, stride 2)
      -> layer1 (64 * e channels, H/4) -> layer2 (128 * e, H/8) -> layer3 (256 * e, H/16)
      -> layer4 (512 * e, H/32) -> avgpool (to 1 x 1) -> flatten -> fc -> logits (N, num_classes)

Each block computes relu(branch(x) + shortcut(x)): the shortcut is x itself, or `downsample`
(a strided 1x1 convolution and a batch norm) where the block changes the size or the channels.
`BasicBlock` (ResNet-18/34) has two 3x3 convolutions and expansion e = 1; `Bottleneck`
(ResNet-50 and up) has 1x1, 3x3, 1x1 convolutions, its output e = 4 times wider than its
`planes`, and the stride on the 3x3 convolution (torchvision's "ResNet v1.5"). ResNeXt splits
the 3x3 convolution into `groups`; Wide ResNet doubles its width.

Module names, parameter names and shapes (so state_dict keys), ReLU(inplace=True) and the
initialisation are torchvision's: a state dict saved from one loads into the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinygrad_be import nn
from tinygrad_be.tensor import Tensor
from tinygrad_be.vision.models._weights import (
    ResNet18_Weights,
    ResNet34_Weights,
    ResNet50_Weights,
    ResNet101_Weights,
    ResNet152_Weights,
    ResNeXt50_32X4D_Weights,
    ResNeXt101_32X8D_Weights,
    ResNeXt101_64X4D_Weights,
    WeightsEnum,
    Wide_ResNet50_2_Weights,
    Wide_ResNet101_2_Weights,
    check_weights,
)

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "ResNet18_Weights",
    "ResNet34_Weights",
    "ResNet50_Weights",
    "ResNet101_Weights",
    "ResNet152_Weights",
    "ResNeXt50_32X4D_Weights",
    "ResNeXt101_32X8D_Weights",
    "ResNeXt101_64X4D_Weights",
    "Wide_ResNet50_2_Weights",
    "Wide_ResNet101_2_Weights",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet50_2",
    "wide_resnet101_2",
]

NormLayer = Callable[[int], nn.Module]  # channels -> a normalisation layer (nn.BatchNorm2d)


def conv3x3(
    in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1
) -> nn.Conv2d:
    """3x3 convolution without bias, padded to keep the size (divided by `stride`)."""
    return nn.Conv2d(
        in_planes,
        out_planes,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        groups=groups,
        bias=False,
        dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias (mixes channels; `stride` subsamples)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut: (N, inplanes, H, W) -> (N, planes, H / stride,
    W / stride). `downsample` must map the input to that shape when it differs."""

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 (narrow to `width`), 3x3 (stride, groups), 1x1 (widen) and a shortcut:
    (N, inplanes, H, W) -> (N, planes * 4, H / stride, W / stride), with width =
    planes * base_width / 64 * groups."""

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """A ResNet of `block`s, `layers[i]` of them in stage i + 1: (N, 3, H, W) -> (N, num_classes).

    `groups` and `width_per_group` set the 3x3 convolutions of Bottleneck blocks (ResNeXt, Wide
    ResNet). `replace_stride_with_dilation` (three bools, for layer2..layer4) keeps the size in
    those stages and dilates the convolutions instead. `norm_layer(channels)` makes each
    normalisation layer (default nn.BatchNorm2d). Initialisation as torchvision: convolutions
    kaiming-normal (fan_out, relu), batch norms weight 1 and bias 0, `fc` nn.Linear's default;
    `zero_init_residual` zeroes the last batch norm weight of each block, so that every block
    starts as the identity.
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: list[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        replace_stride_with_dilation: list[bool] | None = None,
        norm_layer: NormLayer | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.inplanes = 64  # channels entering the next block (`_make_layer` updates it)
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(
                "replace_stride_with_dilation should be None or a 3-element tuple, got "
                f"{replace_stride_with_dilation}"
            )
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        dilate = replace_stride_with_dilation
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=dilate[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=dilate[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=dilate[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, (BasicBlock, Bottleneck)):
                    last_norm = module.bn3 if isinstance(module, Bottleneck) else module.bn2
                    if last_norm.weight is not None:
                        nn.init.zeros_(last_norm.weight)

    def _make_layer(
        self,
        block: type[BasicBlock | Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
        dilate: bool = False,
    ) -> nn.Sequential:
        """One stage: `blocks` blocks, the first with `stride` (or dilation, if `dilate`) and a
        `downsample` shortcut when the size or the channel count changes."""
        norm_layer = self._norm_layer
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        first = block(
            self.inplanes,
            planes,
            stride,
            downsample,
            self.groups,
            self.base_width,
            previous_dilation,
            norm_layer,
        )
        self.inplanes = planes * block.expansion
        rest = [
            block(
                self.inplanes,
                planes,
                groups=self.groups,
                base_width=self.base_width,
                dilation=self.dilation,
                norm_layer=norm_layer,
            )
            for _ in range(1, blocks)
        ]
        return nn.Sequential(first, *rest)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)  # (N, 512 * expansion, H/32, W/32)
        x = self.avgpool(x).flatten(1)  # (N, 512 * expansion)
        return self.fc(x)

    def forward(self, x: Any) -> Tensor:
        """x (N, 3, H, W) -> logits (N, num_classes)."""
        return self._forward_impl(x)


def _overwrite_named_param(kwargs: dict[str, Any], name: str, value: Any) -> None:
    """Set kwargs[name] = value, refusing a different value the caller gave (as torchvision)."""
    if name in kwargs and kwargs[name] != value:
        raise ValueError(
            f"The parameter '{name}' expected value {value} but got {kwargs[name]} instead."
        )
    kwargs[name] = value


def _resnet(
    name: str,
    enum: type[WeightsEnum],
    block: type[BasicBlock | Bottleneck],
    layers: list[int],
    weights: Any,
    kwargs: dict[str, Any],
) -> ResNet:
    """Check `weights` (None only), then build ResNet(block, layers, **kwargs)."""
    check_weights(name, enum, weights, kwargs)
    return ResNet(block, layers, **kwargs)


# --------------------------------------------------------------------------------------------------
# The builders. `weights` must be None (see `_weights`); `progress` is accepted and ignored;
# `kwargs` go to ResNet (num_classes, zero_init_residual, groups, width_per_group,
# replace_stride_with_dilation, norm_layer).
def resnet18(
    *, weights: ResNet18_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2], 11,689,512 parameters."""
    return _resnet("resnet18", ResNet18_Weights, BasicBlock, [2, 2, 2, 2], weights, kwargs)


def resnet34(
    *, weights: ResNet34_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3], 21,797,672 parameters."""
    return _resnet("resnet34", ResNet34_Weights, BasicBlock, [3, 4, 6, 3], weights, kwargs)


def resnet50(
    *, weights: ResNet50_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNet-50: Bottlenecks [3, 4, 6, 3], 25,557,032 parameters."""
    return _resnet("resnet50", ResNet50_Weights, Bottleneck, [3, 4, 6, 3], weights, kwargs)


def resnet101(
    *, weights: ResNet101_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNet-101: Bottlenecks [3, 4, 23, 3], 44,549,160 parameters."""
    return _resnet("resnet101", ResNet101_Weights, Bottleneck, [3, 4, 23, 3], weights, kwargs)


def resnet152(
    *, weights: ResNet152_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNet-152: Bottlenecks [3, 8, 36, 3], 60,192,808 parameters."""
    return _resnet("resnet152", ResNet152_Weights, Bottleneck, [3, 8, 36, 3], weights, kwargs)


def resnext50_32x4d(
    *, weights: ResNeXt50_32X4D_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNeXt-50 32x4d: ResNet-50 with 32 groups of 4 channels per stage-1 block, 25,028,904
    parameters."""
    _overwrite_named_param(kwargs, "groups", 32)
    _overwrite_named_param(kwargs, "width_per_group", 4)
    return _resnet(
        "resnext50_32x4d", ResNeXt50_32X4D_Weights, Bottleneck, [3, 4, 6, 3], weights, kwargs
    )


def resnext101_32x8d(
    *, weights: ResNeXt101_32X8D_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNeXt-101 32x8d: ResNet-101 with 32 groups of 8, 88,791,336 parameters."""
    _overwrite_named_param(kwargs, "groups", 32)
    _overwrite_named_param(kwargs, "width_per_group", 8)
    return _resnet(
        "resnext101_32x8d", ResNeXt101_32X8D_Weights, Bottleneck, [3, 4, 23, 3], weights, kwargs
    )


def resnext101_64x4d(
    *, weights: ResNeXt101_64X4D_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNeXt-101 64x4d: ResNet-101 with 64 groups of 4, 83,455,272 parameters."""
    _overwrite_named_param(kwargs, "groups", 64)
    _overwrite_named_param(kwargs, "width_per_group", 4)
    return _resnet(
        "resnext101_64x4d", ResNeXt101_64X4D_Weights, Bottleneck, [3, 4, 23, 3], weights, kwargs
    )


def wide_resnet50_2(
    *, weights: Wide_ResNet50_2_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """Wide ResNet-50-2: ResNet-50 with the 3x3 convolutions twice as wide, 68,883,240
    parameters."""
    _overwrite_named_param(kwargs, "width_per_group", 64 * 2)
    return _resnet(
        "wide_resnet50_2", Wide_ResNet50_2_Weights, Bottleneck, [3, 4, 6, 3], weights, kwargs
    )


def wide_resnet101_2(
    *, weights: Wide_ResNet101_2_Weights | str | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """Wide ResNet-101-2: ResNet-101 with the 3x3 convolutions twice as wide, 126,886,696
    parameters."""
    _overwrite_named_param(kwargs, "width_per_group", 64 * 2)
    return _resnet(
        "wide_resnet101_2", Wide_ResNet101_2_Weights, Bottleneck, [3, 4, 23, 3], weights, kwargs
    )
