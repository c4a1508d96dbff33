"""`tinygrad_be.vision.models`: torchvision's classic image classifiers, untrained.

>>> import tinygrad_be.vision.models as models
>>> model = models.resnet18(num_classes=10)          # or models.vgg16(), models.resnet50(), ...
>>> logits = model(images)                           # images (N, 3, H, W) -> logits (N, 10)

- `vgg`: VGG, vgg11 ... vgg19_bn.
- `resnet`: ResNet, BasicBlock, Bottleneck, resnet18 ... resnet152, resnext*, wide_resnet*.

Module names, state_dict keys and shapes, forward and initialisation are torchvision's. Only
`weights=None` is accepted: torchvision's pretrained weights are PyTorch pickle files, which
tinygrad_be never loads (see `_weights`); the `*_Weights` enums are here so code naming them runs.
"""

from tinygrad_be.vision.models import resnet, vgg
from tinygrad_be.vision.models._weights import Weights, WeightsEnum
from tinygrad_be.vision.models.resnet import *  # noqa: F403
from tinygrad_be.vision.models.resnet import __all__ as _resnet_names
from tinygrad_be.vision.models.vgg import *  # noqa: F403
from tinygrad_be.vision.models.vgg import __all__ as _vgg_names

__all__ = ["Weights", "WeightsEnum", "resnet", "vgg", *_resnet_names, *_vgg_names]
