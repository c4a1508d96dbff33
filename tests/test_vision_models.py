"""tinygrad_be.vision.models against torchvision 0.28 (torch 2.13).

The expected values were computed once with torch and torchvision and pasted here; these tests
never import either. They check, for the builders:
- state_dict keys, their order and shapes (a hash of the "key:shape" lines, the count and a few
  keys spelled out) and the parameter counts;
- forward (and, for ResNet-18, train mode and backward) on the same deterministic weights and
  inputs as torch's (`pattern` below, computed by the same numpy code in the torch script);
- torchvision's initialisation, `weights=` refusal, keyword arguments and errors.

A real VGG holds 0.5 GB and takes seconds to build: one is built (vgg11_bn, a module fixture);
the other VGG builders are checked with `VGG` replaced by a stand-in that returns `features`.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from typing import Any

import numpy as np
import pytest

import tinygrad_be as tg
import tinygrad_be.nn.functional as F
from tinygrad_be import nn
from tinygrad_be.vision import models
from tinygrad_be.vision.models import resnet as resnet_module
from tinygrad_be.vision.models import vgg as vgg_module


# --------------------------------------------------------------------------------------------------
# Helpers (the torch script computed the same `pattern`, `image` and `key_hash` with numpy)
def key_hash(items: list[tuple[str, tuple[int, ...]]]) -> str:
    """The first 16 hex digits of sha256 of the lines "key:shape" (shape as a Python tuple)."""
    text = "\n".join(f"{key}:{tuple(int(s) for s in shape)}" for key, shape in items)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def keys_and_shapes(model: nn.Module, prefix: str = "") -> list[tuple[str, tuple[int, ...]]]:
    return [(prefix + key, tuple(value.shape)) for key, value in model.state_dict().items()]


def uniform_table(j: int, n: int) -> np.ndarray:
    """u(i) = ((7 i^2 + (2j + 1) i + j) mod 65521) / 65521 * 2 - 1, in [-1, 1), for the flat
    indices i < min(n, 65521): u repeats after that, so big arrays tile this table."""
    p = 65521
    i = np.arange(min(n, p))
    return ((7 * i * i + (2 * j + 1) * i + j) % p) / p * 2 - 1


def tile(table: np.ndarray, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.resize(table.astype(dtype), math.prod(shape)).reshape(shape)


def pattern(j: int, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """The deterministic value of state_dict entry number j, `name`, of shape `shape`."""
    u = uniform_table(j, math.prod(shape))
    last = name.rsplit(".", 1)[-1]
    if last == "running_var":
        values = 1 + 0.5 * u
    elif len(shape) >= 2:  # conv and linear weights: He-scaled
        values = u * math.sqrt(6 / math.prod(shape[1:]))
    elif last == "weight":  # batch norm
        values = 1 + 0.2 * u
    else:  # biases, running_mean
        values = 0.2 * u
    return tile(values, shape, dtype)


def fill(model: nn.Module) -> None:
    """Load `pattern` into every floating state_dict entry (num_batches_tracked: 0)."""
    state = {}
    for j, (name, value) in enumerate(model.state_dict().items()):
        if name.endswith("num_batches_tracked"):
            state[name] = np.zeros((), np.int64)
        else:
            state[name] = pattern(j, name, value.shape, value.dtype)
    model.load_state_dict(state)


def image(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    return tile(uniform_table(1000, math.prod(shape)), shape, dtype)


def array(tensor: Any) -> np.ndarray:
    """A Tensor's values as a numpy array (detached from the graph)."""
    return tensor.detach().numpy()


def close(actual: Any, expected: Any, rtol: float) -> None:
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=0)


# --------------------------------------------------------------------------------------------------
# ResNet: structure
RESNET_STATE = {  # builder: (number of keys, key_hash, parameters), from torchvision
    "resnet18": (122, "3e58b0798c806a0c", 11689512),
    "resnet50": (320, "781bb16f43b8f96f", 25557032),
    "resnext50_32x4d": (320, "7140c3dbddac5382", 25028904),
}
WEIGHTS_ENUMS = {"resnet18": models.ResNet18_Weights, "resnet50": models.ResNet50_Weights,
                 "resnext50_32x4d": models.ResNeXt50_32X4D_Weights}  # fmt: skip


@pytest.mark.parametrize("name", list(RESNET_STATE))
def test_resnet_state_dict_matches_torchvision(name: str) -> None:
    tg.manual_seed(0)
    model = getattr(models, name)()
    items = keys_and_shapes(model)
    n_keys, digest, n_params = RESNET_STATE[name]
    assert (len(items), key_hash(items), model.num_parameters()) == (n_keys, digest, n_params)
    assert n_params == WEIGHTS_ENUMS[name].DEFAULT.meta["num_params"]
    assert items[:3] == [
        ("conv1.weight", (64, 3, 7, 7)),
        ("bn1.weight", (64,)),
        ("bn1.bias", (64,)),
    ]
    expansion = 1 if name == "resnet18" else 4
    assert items[-2:] == [("fc.weight", (1000, 512 * expansion)), ("fc.bias", (1000,))]
    shapes = dict(items)
    assert shapes["bn1.num_batches_tracked"] == ()
    assert model.state_dict()["bn1.num_batches_tracked"].dtype == np.int64
    assert model.state_dict()["conv1.weight"].dtype == np.float32
    if name != "resnet18":
        assert shapes["layer1.0.conv2.weight"] == (
            (128, 4, 3, 3) if name == "resnext50_32x4d" else (64, 64, 3, 3)
        )
        assert shapes["layer1.0.downsample.0.weight"] == (256, 64, 1, 1)
        assert shapes["layer1.0.downsample.1.running_var"] == (256,)
    assert model.relu.inplace and model.layer1[0].relu.inplace
    assert (model.maxpool.kernel_size, model.maxpool.stride, model.maxpool.padding) == (3, 2, 1)


RESNET_CONFIGS = {  # builder: (block, layers, extra ResNet kwargs), from torchvision
    "resnet18": ("BasicBlock", [2, 2, 2, 2], {}),
    "resnet34": ("BasicBlock", [3, 4, 6, 3], {}),
    "resnet50": ("Bottleneck", [3, 4, 6, 3], {}),
    "resnet101": ("Bottleneck", [3, 4, 23, 3], {}),
    "resnet152": ("Bottleneck", [3, 8, 36, 3], {}),
    "resnext50_32x4d": ("Bottleneck", [3, 4, 6, 3], {"groups": 32, "width_per_group": 4}),
    "resnext101_32x8d": ("Bottleneck", [3, 4, 23, 3], {"groups": 32, "width_per_group": 8}),
    "resnext101_64x4d": ("Bottleneck", [3, 4, 23, 3], {"groups": 64, "width_per_group": 4}),
    "wide_resnet50_2": ("Bottleneck", [3, 4, 6, 3], {"width_per_group": 128}),
    "wide_resnet101_2": ("Bottleneck", [3, 4, 23, 3], {"width_per_group": 128}),
}


def test_resnet_builders_pass_torchvisions_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    def stand_in(block: type, layers: list[int], **kwargs: Any) -> tuple:
        return block.__name__, layers, kwargs

    monkeypatch.setattr(resnet_module, "ResNet", stand_in)
    for name, expected in RESNET_CONFIGS.items():
        assert getattr(models, name)() == expected, name
    block, layers, kwargs = models.resnet50(num_classes=10, progress=False)
    assert kwargs == {"num_classes": 10}


def test_small_dilated_resnet_matches_torchvision() -> None:
    """replace_stride_with_dilation: strides, paddings, dilations, keys and logits as torch's."""
    tg.manual_seed(0)
    model = models.ResNet(
        models.Bottleneck,
        [1, 1, 2, 2],
        num_classes=10,
        replace_stride_with_dilation=[False, True, True],
    )
    items = keys_and_shapes(model)
    assert (len(items), key_hash(items), model.num_parameters()) == (
        140, "2282919ce801d59b", 13616202
    )  # fmt: skip
    convs = {  # name: (stride, padding, dilation)
        "layer2.0.conv2": ((2, 2), (1, 1), (1, 1)),
        "layer3.0.conv2": ((1, 1), (1, 1), (1, 1)),
        "layer3.0.downsample.0": ((1, 1), (0, 0), (1, 1)),
        "layer3.1.conv2": ((1, 1), (2, 2), (2, 2)),
        "layer4.0.conv2": ((1, 1), (2, 2), (2, 2)),
        "layer4.1.conv2": ((1, 1), (4, 4), (4, 4)),
    }
    for name, expected in convs.items():
        conv = model.get_submodule(name)
        assert (conv.stride, conv.padding, conv.dilation) == expected, name
    model.double()
    fill(model)
    model.eval()
    with tg.no_grad():
        y = model(image((2, 3, 32, 32))).numpy()
    close(y[0, :4], [-12.3297586281435, 6.837260558728794, 1.0191421051532423,
                     0.5176602624818869], 1e-9)  # fmt: skip
    close(y[1, -3:], [5.6854737554291, 6.896458963617913, 4.338604224480804], 1e-9)
    close(y.sum(), -7.1424769323541994, 1e-9)
    close(np.abs(y).sum(), 103.89265358092604, 1e-9)


# --------------------------------------------------------------------------------------------------
# ResNet: forward, train mode and backward against torch (float64)
@pytest.fixture(scope="module")
def resnet18_double() -> nn.Module:
    """resnet18 in float64, built once; each test loads `pattern` into it first (fill)."""
    return models.resnet18().double()


def test_resnet18_eval_forward_matches_torch(resnet18_double: nn.Module) -> None:
    model = resnet18_double
    fill(model)
    assert model.eval() is model
    with tg.no_grad():
        y = model(image((2, 3, 32, 32)))
    assert y.shape == (2, 1000) and y.dtype == np.float64
    y = y.numpy()
    close(y[0, :4], [-20.072140069307395, 11.81561036841046, -7.444411854062951,
                     2.6630510580735427], 1e-9)  # fmt: skip
    close(y[1, -3:], [9.412751829794535, 8.859627613344573, -6.791799384870882], 1e-9)
    close(y.sum(), -1138.5751801368285, 1e-9)
    close(np.abs(y).sum(), 16496.667939317533, 1e-9)


def test_resnet18_train_forward_and_backward_match_torch(resnet18_double: nn.Module) -> None:
    model = resnet18_double
    fill(model)
    model.zero_grad()
    model.train()
    y = model(image((2, 3, 64, 64)))
    logits = array(y)
    close(logits[0, :4], [1.8303127700626913, -0.13461787147518434, -1.4489273289207272,
                          -1.2300188473669007], 1e-8)  # fmt: skip
    close(logits[1, -3:], [-0.4138542831755224, -0.09578185113943571, -0.259400039243342], 1e-8)
    close(logits.sum(), -250.15362452372094, 1e-8)
    close(np.abs(logits).sum(), 1854.365985192757, 1e-8)
    # the batch statistics went into the running ones (momentum 0.1), as torch's
    close(array(model.bn1.running_mean)[:3], [-0.17840245753238312, -0.18030719861171468,
                                               -0.18019665448115713], 1e-8)  # fmt: skip
    close(array(model.layer4[1].bn2.running_var).sum(), 472.0326114351937, 1e-8)
    assert int(model.bn1.num_batches_tracked) == 1

    loss = F.cross_entropy(y, np.array([3, 7]))
    close(loss.item(), 8.120870546686714, 1e-8)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.shape == param.shape, name
    close(array(model.conv1.weight.grad)[0, 0, 0, :3],
          [-0.8575675120634765, 0.3838946466994091, -0.15840692435818024], 1e-7)  # fmt: skip
    close((array(model.conv1.weight.grad) ** 2).sum(), 1299.2389923106873, 1e-7)
    close(array(model.fc.bias.grad)[[3, 7]], [-0.4989172115783234, -0.49867554347717347], 1e-8)
    close(array(model.layer1[0].bn1.weight.grad)[:3],
          [-0.0537083780023031, 0.20620597376574568, -0.21774696064298102], 1e-7)  # fmt: skip
    close((array(model.layer3[0].downsample[0].weight.grad) ** 2).sum(), 35.64060689306669, 1e-7)


def test_resnext50_eval_forward_matches_torch() -> None:
    """Grouped 3x3 convolutions and Bottleneck blocks."""
    model = models.resnext50_32x4d().double()
    fill(model)
    model.eval()
    with tg.no_grad():
        y = model(image((2, 3, 32, 32))).numpy()
    close(y[0, :4], [-149.51745616022095, 67.3482908202848, 83.42534130251445,
                     13.063906231766651], 1e-9)  # fmt: skip
    close(y[1, -3:], [312.44495599784506, 76.3160192968282, -388.75765253070654], 1e-9)
    close(y.sum(), 506.8774831198316, 1e-9)
    close(np.abs(y).sum(), 191543.96727937597, 1e-9)


# --------------------------------------------------------------------------------------------------
# ResNet: initialisation and keyword arguments
def test_resnet_initialisation_is_torchvisions() -> None:
    tg.manual_seed(0)
    model = models.resnet18()
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):  # kaiming normal, fan_out, relu: std sqrt(2 / fan_out)
            w = array(module.weight)
            fan_out = w.shape[0] * w.shape[2] * w.shape[3]
            assert abs(w.std() / math.sqrt(2 / fan_out) - 1) < 0.05, name
            assert abs(w.mean()) < 0.05 * math.sqrt(2 / fan_out), name
            assert module.bias is None
        elif isinstance(module, nn.BatchNorm2d):
            assert (array(module.weight) == 1).all() and (array(module.bias) == 0).all()
            assert (array(module.running_mean) == 0).all()
            assert (array(module.running_var) == 1).all()
    # fc keeps nn.Linear's default: uniform in +-1/sqrt(512)
    bound = 1 / math.sqrt(512)
    fc = array(model.fc.weight)
    assert np.abs(fc).max() <= bound and abs(fc.std() / (bound / math.sqrt(3)) - 1) < 0.02
    assert np.abs(array(model.fc.bias)).max() <= bound
    # seeded: the same weights again
    tg.manual_seed(0)
    again = models.resnet18()
    np.testing.assert_array_equal(array(again.layer3[1].conv2.weight),
                                  array(model.layer3[1].conv2.weight))  # fmt: skip


def test_zero_init_residual_zeroes_the_last_batch_norm_of_each_block() -> None:
    tg.manual_seed(0)
    basic = models.resnet18(zero_init_residual=True)
    bottleneck = models.ResNet(models.Bottleneck, [1, 2, 1, 1], zero_init_residual=True)
    for model, last in ((basic, "bn2"), (bottleneck, "bn3")):
        blocks = [
            m for m in model.modules() if isinstance(m, (models.BasicBlock, models.Bottleneck))
        ]
        assert len(blocks) == sum(len(stage) for stage in
                                  (model.layer1, model.layer2, model.layer3, model.layer4))  # fmt: skip
        for block in blocks:
            assert (array(getattr(block, last).weight) == 0).all()
            assert (array(block.bn1.weight) == 1).all()
        assert (array(model.bn1.weight) == 1).all()
    assert (array(models.resnet18().layer1[0].bn2.weight) == 1).all()  # off by default


def test_num_classes() -> None:
    tg.manual_seed(0)
    model = models.resnet18(num_classes=10)
    assert model.fc.weight.shape == (10, 512) and model.fc.bias.shape == (10,)
    assert model(image((2, 3, 32, 32), np.float32)).shape == (2, 10)


def test_bad_keyword_arguments() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        models.resnet18(colour="red")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        models.vgg11(colour="red")  # refused before the classifier is allocated
    with pytest.raises(ValueError, match="'groups' expected value 32 but got 8"):
        models.resnext50_32x4d(groups=8)
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1 and base_width=64"):
        models.resnet18(groups=2)
    with pytest.raises(NotImplementedError, match="Dilation > 1 not supported in BasicBlock"):
        models.resnet18(replace_stride_with_dilation=[False, False, True])
    with pytest.raises(ValueError, match="3-element tuple"):
        models.resnet50(replace_stride_with_dilation=[True])
    with pytest.raises(TypeError):  # keyword only, as torchvision's signature
        models.resnet18(None)


def test_bad_input_names_the_shapes() -> None:
    model = models.resnet18()
    with pytest.raises(ValueError, match=r"expected a 4-D input, got shape \(64, 16, 16\)"):
        model(np.zeros((3, 32, 32), np.float32))  # no batch dim: the batch norm refuses it
    with pytest.raises(ValueError, match=r"input has 1 channels \(shape \(2, 1, 32, 32\)\)"):
        model(np.zeros((2, 1, 32, 32), np.float32))


# --------------------------------------------------------------------------------------------------
# weights=: only None
REFUSED = [
    (models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1, "ResNet18_Weights.IMAGENET1K_V1"),
    (models.resnet18, "DEFAULT", "ResNet18_Weights.IMAGENET1K_V1"),
    (models.resnet50, "ResNet50_Weights.IMAGENET1K_V1", "ResNet50_Weights.IMAGENET1K_V1"),
    (models.resnet50, models.ResNet50_Weights.DEFAULT, "ResNet50_Weights.IMAGENET1K_V2"),
    (models.wide_resnet101_2, "IMAGENET1K_V2", "Wide_ResNet101_2_Weights.IMAGENET1K_V2"),
    (models.vgg16, models.VGG16_Weights.IMAGENET1K_FEATURES, "VGG16_Weights.IMAGENET1K_FEATURES"),
    (models.vgg19_bn, "DEFAULT", "VGG19_BN_Weights.IMAGENET1K_V1"),
]


@pytest.mark.parametrize(("builder", "weights", "member"), REFUSED)
def test_pretrained_weights_are_refused(builder: Any, weights: Any, member: str) -> None:
    with pytest.raises(RuntimeError) as error:
        builder(weights=weights)  # refused before anything is built
    message = str(error.value)
    assert message.startswith(f"{builder.__name__}(weights={member}): ")
    assert "pickle" in message and "weights=None" in message and ".pth" in message


def test_weights_enums_read_as_torchvisions() -> None:
    weights = models.ResNet50_Weights
    assert weights.DEFAULT is weights.IMAGENET1K_V2
    assert repr(weights.DEFAULT) == "ResNet50_Weights.IMAGENET1K_V2"
    assert [member.name for member in weights] == ["IMAGENET1K_V1", "IMAGENET1K_V2"]
    assert weights.IMAGENET1K_V1.url == "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    assert weights.DEFAULT.meta["num_params"] == 25557032
    assert models.VGG16_Weights.DEFAULT is models.VGG16_Weights.IMAGENET1K_V1
    assert models.ResNet18_Weights.verify("ResNet18_Weights.DEFAULT").name == "IMAGENET1K_V1"
    assert models.ResNet18_Weights.verify(None) is None
    with pytest.raises(TypeError, match="expected ResNet18_Weights but received ResNet50_Weights"):
        models.resnet18(weights=weights.DEFAULT)
    with pytest.raises(KeyError, match="IMAGENET1K_V9"):
        models.resnet18(weights="IMAGENET1K_V9")
    with pytest.raises(RuntimeError, match="pickle"):
        models.ResNet18_Weights.DEFAULT.get_state_dict(progress=False)


def test_legacy_pretrained_argument() -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model = models.resnet18(pretrained=False)  # torchvision's two warnings, then a model
    messages = [str(w.message) for w in record]
    assert len(messages) == 2 and "'pretrained' is deprecated" in messages[0]
    assert "equivalent to passing `weights=None`" in messages[1]
    assert all(w.filename == __file__ for w in record)  # they point at the caller
    assert isinstance(model, models.ResNet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            RuntimeError, match=r"resnet18\(weights=ResNet18_Weights.IMAGENET1K_V1\)"
        ):
            models.resnet18(pretrained=True)
        with pytest.raises(RuntimeError, match=r"vgg16\(weights=VGG16_Weights.IMAGENET1K_V1\)"):
            models.vgg16(weights=True)


# --------------------------------------------------------------------------------------------------
# VGG
VGG_FEATURES = {  # builder: (keys under "features.", key_hash, features parameters), torchvision
    "vgg11": (16, "ccafb5b5d7a5f33c", 9220480),
    "vgg11_bn": (56, "ed5b4b13deeec9de", 9225984),
    "vgg13": (20, "2c4aa18ce7b06ced", 9404992),
    "vgg13_bn": (70, "d75bd33aeac6d55d", 9410880),
    "vgg16": (26, "d2469bc95b84299e", 14714688),
    "vgg16_bn": (91, "b33898f44f1468bc", 14723136),
    "vgg19": (32, "9be0684c97a45c22", 20024384),
    "vgg19_bn": (112, "26399e2027bcf27d", 20035392),
}
VGG_CLASSIFIER = [  # the same for every depth (num_classes=1000)
    ("classifier.0.weight", (4096, 25088)),
    ("classifier.0.bias", (4096,)),
    ("classifier.3.weight", (4096, 4096)),
    ("classifier.3.bias", (4096,)),
    ("classifier.6.weight", (1000, 4096)),
    ("classifier.6.bias", (1000,)),
]
VGG_CLASSIFIER_PARAMETERS = 123642856
VGG_FULL = {"vgg11": (22, "5e6ee14c22dc415d"), "vgg11_bn": (62, "96ee5d41fde5cc7f"),
            "vgg16_bn": (97, "a463166a74dc0850")}  # fmt: skip


@pytest.fixture(scope="module")
def vgg11_bn() -> nn.Module:
    """vgg11_bn built once, with the `pattern` weights, in eval mode; tests only read it.

    init_weights=False: torchvision's initialisation of 124 million classifier weights costs
    seconds here, so it is tested on small layers (test_vgg_initialisation_is_torchvisions)."""
    model = models.vgg11_bn(init_weights=False)
    fill(model)
    return model.eval()


@pytest.mark.parametrize("name", list(VGG_FEATURES))
def test_vgg_builders_features_match_torchvision(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each builder gives VGG torchvision's `features` (and passes its keyword arguments on)."""
    calls = []

    def stand_in(features: nn.Sequential, **kwargs: Any) -> nn.Sequential:
        calls.append(kwargs)
        return features

    monkeypatch.setattr(vgg_module, "VGG", stand_in)
    features = getattr(models, name)(num_classes=10, dropout=0.25)
    assert calls == [{"num_classes": 10, "dropout": 0.25}]
    items = keys_and_shapes(features, "features.")
    n_keys, digest, n_params = VGG_FEATURES[name]
    assert (len(items), key_hash(items), features.num_parameters()) == (n_keys, digest, n_params)
    weights = getattr(models, name.upper() + "_Weights")  # vgg11_bn -> VGG11_BN_Weights
    assert n_params + VGG_CLASSIFIER_PARAMETERS == weights.DEFAULT.meta["num_params"]
    if name in VGG_FULL:  # the whole model's keys: features, then the classifier
        assert (len(items) + 6, key_hash(items + VGG_CLASSIFIER)) == VGG_FULL[name]
    relus = [m for m in features if isinstance(m, nn.ReLU)]
    assert relus and all(relu.inplace for relu in relus)


def test_vgg11_bn_state_dict_matches_torchvision(vgg11_bn: nn.Module) -> None:
    model = vgg11_bn
    items = keys_and_shapes(model)
    assert (len(items), key_hash(items)) == VGG_FULL["vgg11_bn"]
    assert model.num_parameters() == 132868840
    assert items[:6] == [("features.0.weight", (64, 3, 3, 3)), ("features.0.bias", (64,)),
                         ("features.1.weight", (64,)), ("features.1.bias", (64,)),
                         ("features.1.running_mean", (64,)), ("features.1.running_var", (64,))]  # fmt: skip
    assert items[-6:] == VGG_CLASSIFIER
    assert model.avgpool.output_size == (7, 7)
    layers = list(model.classifier)
    assert [type(layer).__name__ for layer in layers] == [
        "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"
    ]  # fmt: skip
    assert layers[1].inplace and layers[4].inplace and layers[2].p == 0.5


def test_vgg_initialisation_is_torchvisions() -> None:
    """What VGG(init_weights=True) does to each of its layers (vgg_module._initialise)."""
    tg.manual_seed(0)
    conv, norm, linear = nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.Linear(512, 1024)
    nn.init.constant_(norm.weight, 2.0)
    nn.init.constant_(norm.bias, 3.0)
    for layer in (conv, norm, linear, nn.ReLU(), nn.MaxPool2d(2)):
        vgg_module._initialise(layer)
    w = array(conv.weight)  # kaiming normal, fan_out, relu: std sqrt(2 / (128 * 9))
    assert abs(w.std() / math.sqrt(2 / (128 * 9)) - 1) < 0.02 and abs(w.mean()) < 0.02 * w.std()
    w = array(linear.weight)  # normal(0, 0.01)
    assert abs(w.std() / 0.01 - 1) < 0.02 and abs(w.mean()) < 2e-4
    for bias in (conv.bias, norm.bias, linear.bias):
        assert (array(bias) == 0).all()
    assert (array(norm.weight) == 1).all()


def test_vgg11_bn_forward_matches_torch(vgg11_bn: nn.Module) -> None:
    """float32 on a 224 x 224 image, against torch's float64 logits."""
    with tg.no_grad():
        y = vgg11_bn(image((1, 3, 224, 224), np.float32))
    assert y.shape == (1, 1000) and y.dtype == np.float32
    y = y.numpy().astype(np.float64)
    close(y[0, :4], [1.759336646585066, 3.9768595676348597, -1.194747425501696,
                     0.9131354608838204], 1e-4)  # fmt: skip
    close(y[0, -3:], [0.6246365323742762, 2.5427498905279573, 1.1756645106571315], 1e-4)
    close(y.sum(), 483.6397802392766, 1e-4)
    close(np.abs(y).sum(), 1745.0305405329327, 1e-4)


def test_vgg11_bn_on_cifar_sized_images_matches_torch(vgg11_bn: nn.Module) -> None:
    # the features give 1 x 1 maps; adaptive_avg_pool2d spreads each over 7 x 7, as torch's
    with tg.no_grad():
        y = vgg11_bn(image((2, 3, 32, 32), np.float32)).numpy().astype(np.float64)
    close(y[0, :4], [2.7852365305284508, 2.6339035247174407, -1.1843984315753602,
                     1.554706336087961], 1e-4)  # fmt: skip
    close(y[1, -3:], [1.9711118495082427, -1.216066590902789, 0.9719405064066113], 1e-4)
    close(y.sum(), 575.5063830778274, 1e-4)
