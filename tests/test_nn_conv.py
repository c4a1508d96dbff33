"""The convolutional modules of `tinygrad_be.nn` and buffers (batch norm's running statistics).

Conv2d's initialisation, the modules' reprs (torch's), BatchNorm's train/eval switch, buffers in
state_dict under torch's key names but never among the parameters, astype, checkpoints of a CNN
with batch norm, and a small CNN that learns.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import tinygrad_be
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, nn, no_grad, optim

BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def small_cnn(seed: int = 0, dtype: type = np.float32) -> nn.Sequential:
    """conv -> batch norm -> ReLU -> max-pool -> conv -> global average pool -> flatten -> linear."""
    tinygrad_be.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, dtype=dtype),
        nn.BatchNorm2d(8, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, dtype=dtype),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 2, dtype=dtype),
    )


def bar_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3, 8, 8) noisy images of a horizontal (label 0) or a vertical (label 1) bright bar."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.normal(0.0, 0.3, (n, 3, 8, 8)).astype(np.float32)
    where = rng.integers(1, 7, n)
    for i in range(n):  # building test data, not the code under test
        if labels[i] == 0:
            x[i, :, where[i], :] += 1.0
        else:
            x[i, :, :, where[i]] += 1.0
    return x, labels


# --------------------------------------------------------------------------------------------------
# Conv2d
@pytest.mark.parametrize("kernel_size", [3, (2, 5)])
def test_conv2d_init_shapes_and_bounds(kernel_size: int | tuple[int, int]) -> None:
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    layer = nn.Conv2d(6, 32, kernel_size, rng=np.random.default_rng(0))
    bound = 1 / math.sqrt(6 * kh * kw)
    assert layer.weight.shape == (32, 6, kh, kw) and layer.bias.shape == (32,)
    assert layer.weight.dtype == layer.bias.dtype == np.float32
    assert layer.weight.requires_grad and layer.bias.requires_grad
    for values in (layer.weight.detach().numpy(), layer.bias.detach().numpy()):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.8 * bound  # spread over the whole interval
    assert abs(layer.weight.detach().numpy().mean()) < 0.1 * bound
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]

    no_bias = nn.Conv2d(6, 32, kernel_size, bias=False, dtype=np.float64)
    assert no_bias.bias is None and no_bias.parameters() == [no_bias.weight]
    assert no_bias.weight.dtype == np.float64


def test_conv2d_init_is_seeded() -> None:
    tinygrad_be.manual_seed(5)
    a = nn.Conv2d(3, 4, 3)
    tinygrad_be.manual_seed(5)
    nn.Conv2d(3, 4, 3, rng=np.random.default_rng(1))  # its own generator: the default is untouched
    b = nn.Conv2d(3, 4, 3)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    np.testing.assert_array_equal(a.bias.detach().numpy(), b.bias.detach().numpy())
    c = nn.Conv2d(3, 4, 3, rng=np.random.default_rng(1))
    d = nn.Conv2d(3, 4, 3, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(c.weight.detach().numpy(), d.weight.detach().numpy())
    assert not np.array_equal(a.weight.detach().numpy(), c.weight.detach().numpy())


def test_conv2d_forward_is_f_conv2d() -> None:
    layer = nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=1, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7)).astype(np.float32)
    out = layer(x)
    assert out.shape == (2, 4, 4, 8) and out.dtype == np.float32
    expected = F.conv2d(Tensor(x), layer.weight, layer.bias, stride=(2, 1), padding=1)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())


def test_conv2d_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="Conv2d: in_channels and out_channels must be positive"):
        nn.Conv2d(0, 4, 3)
    with pytest.raises(ValueError, match="Conv2d: kernel size must be positive"):
        nn.Conv2d(3, 4, (3, 0))
    with pytest.raises(TypeError, match="Conv2d: dtype must be floating point"):
        nn.Conv2d(3, 4, 3, dtype=np.int32)


def test_reprs_are_torchs() -> None:
    """As printed by torch 2.13 (batch norm has no `bias=` argument here, so that part is left
    out). MaxPool2d always shows dilation and ceil_mode, never return_indices; AvgPool2d shows
    kernel_size, stride and padding only, whatever its other arguments."""
    model = nn.Sequential(
        nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.BatchNorm1d(4, momentum=None),
        nn.AvgPool2d(3, stride=2),
        nn.AdaptiveAvgPool2d(1),
        nn.AdaptiveMaxPool2d((2, 2)),
        nn.MaxPool2d(2),
        nn.MaxPool2d((2, 3), (1, 2), (1, 0), (2, 1), return_indices=True, ceil_mode=True),
        nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=5),
    )
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), bias=False)\n"
        "  (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (2): BatchNorm1d(4, eps=1e-05, momentum=None, affine=True, track_running_stats=True)\n"
        "  (3): AvgPool2d(kernel_size=3, stride=2, padding=0)\n"
        "  (4): AdaptiveAvgPool2d(output_size=1)\n"
        "  (5): AdaptiveMaxPool2d(output_size=(2, 2))\n"
        "  (6): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (7): MaxPool2d(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 1), "
        "ceil_mode=True)\n"
        "  (8): AvgPool2d(kernel_size=3, stride=2, padding=1)\n"
        ")"
    )


def test_conv2d_repr_shows_the_default_stride_as_torch() -> None:
    # torch 2.13: "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))": stride is always shown.
    assert repr(nn.Conv2d(3, 8, 3)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))"


@pytest.mark.parametrize(
    "options, weight_shape, fan_in",
    [
        (dict(groups=4, padding=1), (16, 2, 3, 3), 2 * 9),  # grouped (ResNeXt)
        (dict(groups=8, dilation=2, padding=2), (16, 1, 3, 3), 9),  # depthwise, multiplier 2
        (dict(padding="same", dilation=(1, 2)), (16, 8, 3, 3), 8 * 9),
    ],
    ids=["groups 4", "depthwise", "same"],
)
def test_conv2d_groups_and_dilation(options: dict, weight_shape: tuple, fan_in: int) -> None:
    """torch's weight shape (out, in / groups, kh, kw) and bound 1/sqrt(in / groups · kh · kw)."""
    layer = nn.Conv2d(8, 16, 3, rng=np.random.default_rng(0), **options)
    assert layer.weight.shape == weight_shape and layer.bias.shape == (16,)
    bound = 1 / math.sqrt(fan_in)
    for values in (layer.weight.detach().numpy(), layer.bias.detach().numpy()):
        assert 0.8 * bound < np.abs(values).max() <= bound
    assert layer.groups == options.get("groups", 1) and layer.padding_mode == "zeros"
    x = np.random.default_rng(1).standard_normal((2, 8, 6, 6)).astype(np.float32)
    out = layer(x)
    expected = F.conv2d(
        Tensor(x),
        layer.weight,
        layer.bias,
        padding=options.get("padding", 0),
        dilation=options.get("dilation", 1),
        groups=options.get("groups", 1),
    )
    assert out.shape == (2, 16, 6, 6) and out.dtype == np.float32
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())


def test_conv2d_reprs_with_groups_dilation_and_padding_strings() -> None:
    # As printed by torch 2.13.
    cases = {
        "Conv2d(8, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=4, bias=False)": (
            nn.Conv2d(8, 16, 3, padding=1, groups=4, bias=False)
        ),
        "Conv2d(8, 16, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 2), groups=8)": nn.Conv2d(
            8, 16, 3, dilation=2, groups=8
        ),
        "Conv2d(8, 16, kernel_size=(3, 2), stride=(1, 1), padding=same)": nn.Conv2d(
            8, 16, (3, 2), padding="same"
        ),
        "Conv2d(8, 16, kernel_size=(3, 3), stride=(1, 1), padding=valid, dilation=(1, 2))": (
            nn.Conv2d(8, 16, 3, padding="valid", dilation=(1, 2))
        ),
    }
    for text, layer in cases.items():
        assert repr(layer) == text


@pytest.mark.parametrize(
    "options, error, message",
    [
        (
            dict(in_channels=5, groups=2),
            ValueError,
            r"Conv2d: in_channels=5 must be divisible by groups=2",
        ),
        (
            dict(out_channels=5, groups=2),
            ValueError,
            r"Conv2d: out_channels=5 must be divisible by groups=2",
        ),
        (dict(groups=0), ValueError, r"Conv2d: groups must be a positive integer, got 0"),
        (dict(dilation=0), ValueError, r"Conv2d: dilation must be positive, got 0"),
        (
            dict(padding="same", stride=2),
            ValueError,
            r"Conv2d: padding='same' is not supported for strided convolutions",
        ),
        (dict(padding="full"), ValueError, r"Conv2d: invalid padding string 'full'"),
        (
            dict(padding_mode="reflect"),
            NotImplementedError,
            r"Conv2d: padding_mode='reflect' is not supported; only 'zeros'",
        ),
        (
            dict(padding_mode="mirror"),
            ValueError,
            r"Conv2d: padding_mode must be one of .*got 'mirror'",
        ),
        (dict(device="cuda"), RuntimeError, r"Conv2d"),
    ],
)
def test_conv2d_refuses_bad_groups_and_padding(options: dict, error: type, message: str) -> None:
    arguments = dict(in_channels=4, out_channels=4, kernel_size=3) | options
    with pytest.raises(error, match=message):
        nn.Conv2d(**arguments)


def test_pool_modules_are_the_functions() -> None:
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6))
    cases = [
        (nn.MaxPool2d(2), F.max_pool2d(Tensor(x), 2)),
        (nn.MaxPool2d(3, stride=1, padding=1), F.max_pool2d(Tensor(x), 3, 1, 1)),
        (  # torch's order: return_indices before ceil_mode (F.max_pool2d has them the other way)
            nn.MaxPool2d(3, 2, 1, 2, False, True),
            F.max_pool2d(Tensor(x), 3, 2, 1, dilation=2, ceil_mode=True),
        ),
        (nn.AvgPool2d((2, 3)), F.avg_pool2d(Tensor(x), (2, 3))),
        (
            nn.AvgPool2d(3, 2, 1, True, False, None),
            F.avg_pool2d(Tensor(x), 3, 2, 1, ceil_mode=True, count_include_pad=False),
        ),
        (
            nn.AvgPool2d(2, 1, 1, divisor_override=3),
            F.avg_pool2d(Tensor(x), 2, 1, 1, divisor_override=3),
        ),
        (nn.AdaptiveAvgPool2d(1), F.adaptive_avg_pool2d(Tensor(x), 1)),
        (nn.AdaptiveMaxPool2d((3, 2)), F.adaptive_max_pool2d(Tensor(x), (3, 2))),
    ]
    for module, expected in cases:
        assert module.parameters() == [] and list(module.named_buffers()) == []
        np.testing.assert_array_equal(
            module(x).detach().numpy(), expected.detach().numpy(), err_msg=repr(module)
        )


def test_max_pool_module_returns_indices_as_torch() -> None:
    """nn.MaxPool2d(..., return_indices=True) returns (output, indices) as F.max_pool2d."""
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 5))
    out, indices = nn.MaxPool2d(2, ceil_mode=True, return_indices=True)(Tensor(x))
    expected, expected_indices = F.max_pool2d(Tensor(x), 2, ceil_mode=True, return_indices=True)
    assert out.shape == (2, 3, 3, 3) and indices.dtype == np.int64
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())


# --------------------------------------------------------------------------------------------------
# BatchNorm: train / eval
@pytest.mark.parametrize(
    "module, shape",
    [(nn.BatchNorm1d, (16, 3)), (nn.BatchNorm2d, (4, 3, 2, 2))],
    ids=["BatchNorm1d", "BatchNorm2d"],
)
def test_batch_norm_train_and_eval(module: type, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(3)
    bn = module(3, momentum=0.2, dtype=np.float64)
    assert bn.weight.detach().numpy().tolist() == [
        1,
        1,
        1,
    ] and bn.bias.detach().numpy().tolist() == [0, 0, 0]
    assert bn.running_mean.tolist() == [0, 0, 0] and bn.running_var.tolist() == [1, 1, 1]
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    axes = tuple(a for a in range(len(shape)) if a != 1)
    m = int(np.prod(shape)) // 3
    expected_mean, expected_var = np.zeros(3), np.ones(3)
    for step in range(3):  # training: batch statistics, running statistics updated
        x = rng.normal(2.0, 3.0, shape)
        out = bn(x)
        np.testing.assert_allclose(out.detach().numpy().mean(axes), 0, atol=1e-12)
        np.testing.assert_allclose(out.detach().numpy().var(axes), 1, rtol=1e-4)
        expected_mean = 0.8 * expected_mean + 0.2 * x.mean(axes)
        expected_var = 0.8 * expected_var + 0.2 * x.var(axes) * m / (m - 1)
        assert int(bn.num_batches_tracked) == step + 1
    np.testing.assert_allclose(bn.running_mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, expected_var, rtol=1e-12)

    bn.eval()  # eval: the running statistics, which stay as they are
    x = rng.normal(2.0, 3.0, shape)
    view = (1, 3) + (1,) * (len(shape) - 2)
    expected = (x - expected_mean.reshape(view)) / np.sqrt(expected_var.reshape(view) + 1e-5)
    np.testing.assert_allclose(bn(x).detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean, expected_mean, rtol=1e-12)
    assert int(bn.num_batches_tracked) == 3

    bn.train()  # and back
    bn(x)
    assert int(bn.num_batches_tracked) == 4


def test_batch_norm_momentum_none_is_a_cumulative_average() -> None:
    bn = nn.BatchNorm1d(2, momentum=None, dtype=np.float64)
    batches = [np.random.default_rng(i).normal(i, 1.0, (5, 2)) for i in range(4)]
    for x in batches:
        bn(x)
    np.testing.assert_allclose(
        bn.running_mean, np.mean([x.mean(0) for x in batches], 0), rtol=1e-12
    )
    np.testing.assert_allclose(
        bn.running_var, np.mean([x.var(0, ddof=1) for x in batches], 0), rtol=1e-12
    )


def test_batch_norm_without_affine_or_tracking() -> None:
    bn = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert bn.parameters() == [] and bn.state_dict() == {}
    x = np.random.default_rng(4).normal(5.0, 2.0, (4, 3, 2, 2)).astype(np.float32)
    for mode in (bn.train, bn.eval):  # no running statistics: batch statistics in both modes
        mode()
        out = bn(x)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.detach().numpy().mean((0, 2, 3)), 0, atol=1e-5)


def test_batch_norm_refuses_the_wrong_input() -> None:
    with pytest.raises(
        ValueError, match=r"BatchNorm2d\(3\): expected a 4-D input, got shape \(4, 3\)"
    ):
        nn.BatchNorm2d(3)(np.zeros((4, 3), np.float32))
    with pytest.raises(
        ValueError, match=r"BatchNorm1d\(3\): input has 4 channels \(shape \(2, 4\)\)"
    ):
        nn.BatchNorm1d(3)(np.zeros((2, 4), np.float32))
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than one value per channel"):
        bn(np.zeros((1, 3), np.float32))
    np.testing.assert_array_equal(bn.running_mean, 0)


# --------------------------------------------------------------------------------------------------
# Buffers
def test_buffers_are_in_the_state_dict_but_never_parameters() -> None:
    model = small_cnn()
    names = [name for name, _ in model.named_parameters()]
    assert names == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "4.weight",
        "4.bias",
        "7.weight",
        "7.bias",
    ]
    assert [name for name, _ in model.named_buffers()] == [f"1.{b}" for b in BUFFERS]
    assert len(model.buffers()) == 3
    buffer_ids = {id(b) for b in model.buffers()}
    assert not buffer_ids & {id(p.detach().numpy()) for p in model.parameters()}
    state = model.state_dict()
    assert set(state) == set(names) | {f"1.{b}" for b in BUFFERS}
    assert state["1.num_batches_tracked"].dtype == np.int64
    state["1.running_mean"][:] = 7  # as torch: the state shares memory with the model
    assert (model[1].running_mean == 7).all()
    assert model.num_parameters() == sum(p.detach().numpy().size for p in model.parameters())

    # An optimizer gets the parameters only: its steps never touch the running statistics.
    optimizer = optim.SGD(model.parameters(), lr=1.0, momentum=0.9, weight_decay=0.1)
    x, y = bar_images(8)
    model.eval()
    before = {name: array.clone() for name, array in model.named_buffers()}
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    for name, array in model.named_buffers():
        np.testing.assert_array_equal(array, before[name], err_msg=name)


def test_register_buffer() -> None:
    class Counter(nn.Module):
        def __init__(self) -> None:
            self.scale = Tensor(np.ones(2, np.float32), requires_grad=True)
            self.register_buffer("seen", np.zeros(2, np.float32))

    outer = nn.Sequential(Counter(), nn.Linear(2, 2))
    assert [name for name, _ in outer.named_buffers()] == ["0.seen"]
    assert "0.seen" in outer.state_dict() and "0.seen" not in dict(outer.named_parameters())
    with pytest.raises(
        TypeError, match="register_buffer: cannot assign 'list' object to buffer 'x'"
    ):
        outer[0].register_buffer("x", [1.0])


def test_astype_converts_float_buffers_and_keeps_the_counter_int64() -> None:
    model = small_cnn()
    model.train()
    model(bar_images(4)[0])
    model.astype(np.float64)
    bn = model[1]
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64 and int(bn.num_batches_tracked) == 1
    assert all(p.dtype == np.float64 for p in model.parameters())
    out = model(bar_images(4)[0].astype(np.float64))
    assert out.dtype == np.float64
    model.astype(np.float32)
    assert bn.running_var.dtype == np.float32 and bn.num_batches_tracked.dtype == np.int64


def test_checkpoint_round_trip_of_a_cnn_with_batch_norm(tmp_path) -> None:
    source = small_cnn(seed=0)
    x, _ = bar_images(16)
    for _ in range(3):  # move the running statistics away from their start
        source(x + np.float32(1))
    source.eval()
    path = tmp_path / "cnn.npz"
    source.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["cnn.npz"]  # no temporary file left

    target = small_cnn(seed=1).eval()
    assert not np.array_equal(source(x).detach().numpy(), target(x).detach().numpy())
    target.load(path)
    for name, array in source.state_dict().items():
        loaded = target.state_dict()[name]
        assert loaded.dtype == array.dtype and loaded.shape == array.shape, name
        np.testing.assert_array_equal(loaded, array, err_msg=name)
    assert int(target[1].num_batches_tracked) == 3
    np.testing.assert_array_equal(
        source(x).detach().numpy(), target(x).detach().numpy()
    )  # eval uses the buffers

    # Keys are torch's, and the file holds plain arrays.
    with np.load(path, allow_pickle=False) as saved:
        assert {f"1.{b}" for b in BUFFERS} <= set(saved.files)


@pytest.mark.parametrize(
    "key, value, message",
    [
        (
            "1.running_mean",
            np.zeros(9, np.float32),
            r"'1.running_mean': shape \(9,\) in the state, \(8,\)",
        ),
        (
            "1.running_var",
            np.ones(8, np.float64),
            r"'1.running_var': dtype float64 in the state, float32",
        ),
        (
            "1.num_batches_tracked",
            np.zeros(1, np.int64),
            r"'1.num_batches_tracked': shape \(1,\) in the state, \(\)",
        ),
    ],
)
def test_load_state_dict_refuses_bad_buffers_and_changes_nothing(
    key: str, value: np.ndarray, message: str
) -> None:
    model = small_cnn(seed=0)
    model(bar_images(4)[0])
    before = model.state_dict()
    state = small_cnn(seed=1).state_dict()
    state[key] = value
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(state)
    after = model.state_dict()
    for name, array in before.items():
        np.testing.assert_array_equal(after[name], array, err_msg=name)
    missing = small_cnn(seed=1).state_dict()
    del missing["1.running_var"]
    with pytest.raises(ValueError, match="missing key '1.running_var'"):
        model.load_state_dict(missing)


# --------------------------------------------------------------------------------------------------
# A small CNN learns
def test_small_cnn_trains_with_sgd() -> None:
    start = time.perf_counter()
    model = small_cnn(seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = bar_images(64, seed=1)
    losses = []
    for step in range(15):
        batch = slice((step % 2) * 32, (step % 2) * 32 + 32)
        loss = F.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4]), losses
    model.eval()
    x_test, y_test = bar_images(64, seed=2)
    with no_grad():
        accuracy = (model(x_test).detach().numpy().argmax(axis=1) == y_test).mean()
    assert accuracy >= 0.9, accuracy
    assert int(model[1].num_batches_tracked) == 15
    assert time.perf_counter() - start < 3.0

    # Deterministic: the same seed gives the same run.
    again = small_cnn(seed=0)
    optimizer = optim.SGD(again.parameters(), lr=0.1, momentum=0.9)
    loss = F.cross_entropy(again(x[:32]), y[:32])
    assert loss.item() == losses[0]


# --------------------------------------------------------------------------------------------------
# Blocks of real model files: the same weights give torch's training steps
# The classes are as in the CIFAR-10 model files (kuangliu/pytorch-cifar's ResNeXt and MobileNet
# blocks), written against `nn` and `F`: the literals below come from running this same code with
# `import torch.nn as nn, torch.nn.functional as F` (torch 2.13, float64, the same weights).
class ResNeXtBlock(nn.Module):
    """kuangliu/pytorch-cifar's ResNeXt block: 1x1 conv, grouped 3x3 conv, 1x1 conv, residual."""

    def __init__(self, in_planes, cardinality=4, bottleneck_width=2, stride=1):
        super().__init__()
        group_width = cardinality * bottleneck_width
        self.conv1 = nn.Conv2d(in_planes, group_width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(group_width)
        self.conv2 = nn.Conv2d(
            group_width,
            group_width,
            kernel_size=3,
            stride=stride,
            padding=1,
            groups=cardinality,
            bias=False,
        )
        self.bn2 = nn.BatchNorm2d(group_width)
        self.conv3 = nn.Conv2d(group_width, 2 * group_width, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(2 * group_width)
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_planes, 2 * group_width, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(2 * group_width),
        )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class SeparableBlock(nn.Module):
    """kuangliu/pytorch-cifar's MobileNet block: depthwise 3x3 conv, then pointwise 1x1 conv."""

    def __init__(self, in_planes, out_planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_planes,
            in_planes,
            kernel_size=3,
            stride=stride,
            padding=1,
            groups=in_planes,
            bias=False,
        )
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv2 = nn.Conv2d(in_planes, out_planes, kernel_size=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)))


class Net(nn.Module):
    """stem conv -> ResNeXt block -> separable block (stride 2) -> 1x1 conv head -> global mean."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.block1 = ResNeXtBlock(8)
        self.block2 = SeparableBlock(16, 24, stride=2)
        self.head = nn.Conv2d(24, 10, kernel_size=1)

    def forward(self, x):
        out = self.block2(self.block1(F.relu(self.stem(x))))
        return F.adaptive_avg_pool2d(self.head(out), 1).flatten(1)


def block_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2026)
    return rng.standard_normal((4, 3, 8, 8)), rng.integers(0, 10, 4)


def fixed_weights(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """name -> weights, drawn in sorted name order: convolutions scaled by 1/sqrt(fan_in), batch
    norm weights near 1 and biases near 0."""
    rng = np.random.default_rng(20)
    out = {}
    for name in sorted(shapes):
        shape = shapes[name]
        values = rng.standard_normal(shape)
        if name.startswith(("stem", "head")) or ".conv" in name or "shortcut.0" in name:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            values = values / np.sqrt(fan_in)
        if "bn" in name or "shortcut.1" in name:
            values = (1.0 + 0.1 * values) if name.endswith("weight") else 0.1 * values
        out[name] = values
    return out


def summary(array: np.ndarray) -> list[float]:
    """Sum, norm and a cosine-weighted sum: three numbers that change with any value or order."""
    a = np.asarray(array, dtype=np.float64)
    probe = np.cos(np.arange(a.size)).reshape(a.shape)
    return [float(a.sum()), float(np.sqrt((a * a).sum())), float((a * probe).sum())]


# Two steps of SGD(lr=0.1, momentum=0.9) on cross-entropy, computed with torch 2.13: the losses,
# the logits of both steps, the gradients of step 1, the weights and running statistics after.
LOSSES = [3.299105482141586, 3.013371428346317]
LOGITS = [
    [
        1.30998967935,
        -0.035507304878,
        -1.868270283769,
        -1.18543791233,
        -0.138770316777,
        -0.816994803195,
        -1.161438250894,
        1.363847068971,
        0.864829977423,
        -0.076054331465,
    ],
    [
        1.462432306453,
        -0.103425187934,
        -1.859523253136,
        -1.102084916099,
        0.040813245682,
        -1.00441560211,
        -1.177463290685,
        1.76846575899,
        1.126708542739,
        0.142823589706,
    ],
    [
        1.320301775014,
        -0.153841865002,
        -1.68583865177,
        -1.109587619722,
        0.159845601339,
        -0.51953537337,
        -1.160473760103,
        1.794705545331,
        0.933114938134,
        0.139326882483,
    ],
    [
        1.692199189964,
        0.02823931222,
        -1.727546336076,
        -1.031269265552,
        0.167786395956,
        -0.649784011755,
        -1.086574266856,
        1.748249559242,
        1.337900318518,
        -0.033922521834,
    ],
]
LOGITS2 = [
    [
        1.225009206198,
        0.052371758292,
        -1.733497154897,
        -1.033938807585,
        -0.174856994969,
        -1.004138557176,
        -1.183439858273,
        1.206777461416,
        1.09428852681,
        -0.126340108743,
    ],
    [
        1.25275837946,
        -0.017210329065,
        -1.731148871277,
        -0.901931978403,
        -0.026279192282,
        -0.97251730023,
        -1.189349180145,
        1.566768666003,
        1.157298023182,
        0.107419122817,
    ],
    [
        1.173557239466,
        -0.129163106972,
        -1.438292221712,
        -1.013107126292,
        0.161857791592,
        -0.520482385305,
        -1.164486820436,
        1.573325018717,
        0.971842922877,
        0.118434083958,
    ],
    [
        1.554598639638,
        0.193458583892,
        -1.725291786667,
        -0.899029289026,
        0.098553636209,
        -0.610660452248,
        -1.060153850321,
        1.54170656529,
        1.356197100276,
        -0.11621785154,
    ],
]
GRADS = {
    "block1.bn1.bias": [-0.0373334183388143, 0.106625769478028, 0.0033205125192156],
    "block1.bn1.weight": [0.0090907226349357, 0.106179029193188, -0.0552692735357766],
    "block1.bn2.bias": [-0.0914924553398369, 0.0878898773031273, -0.0963948449077036],
    "block1.bn2.weight": [-0.0134941983103879, 0.0498239967372843, -0.04860889660328],
    "block1.bn3.bias": [-0.0250366134608876, 0.0312156996669948, 0.00474618892239019],
    "block1.bn3.weight": [-0.0481188170255647, 0.0352858274249835, -0.0101422529723507],
    "block1.conv1.weight": [0.548360121931941, 0.278696134432471, -0.344935694441345],
    "block1.conv2.weight": [0.817688713324072, 0.507162384926537, -0.113338182195984],
    "block1.conv3.weight": [0.15469010736603, 0.19338096684053, 0.247451404151089],
    "block1.shortcut.0.weight": [0.0740802503380525, 0.302182221652893, -0.0203953454421592],
    "block1.shortcut.1.bias": [-0.0250366134608876, 0.0312156996669948, 0.00474618892239019],
    "block1.shortcut.1.weight": [0.0337459048771372, 0.0384512695727118, 0.0109173522892931],
    "block2.bn1.bias": [-0.0772420638260022, 0.0425110523912229, 0.026866579629908],
    "block2.bn1.weight": [-0.00361685814254645, 0.0609100892693252, 0.0538439827074284],
    "block2.bn2.bias": [-0.131131731854592, 0.289644597332304, 0.152031059795299],
    "block2.bn2.weight": [-0.154196337689325, 0.245641553107379, 0.147994376580989],
    "block2.conv1.weight": [0.4083549449247, 0.209019037570361, 0.0252994004552648],
    "block2.conv2.weight": [-0.297486697549265, 0.26010416862335, 0.181730486948922],
    "head.bias": [-5.55111512312578e-17, 0.571869820656582, 0.65361320045323],
    "head.weight": [0.0, 1.17552447198554, 0.209664345973717],
    "stem.bias": [0.085515716351115, 0.0478450305092274, 0.0105482327293777],
    "stem.weight": [-0.743066033500675, 0.85132050879739, -0.201730895569061],
}
AFTER = {
    "block1.bn1.bias": [0.0769305694859879, 0.253695713202087, -0.261581903444077],
    "block1.bn1.weight": [7.62096713480721, 2.70115593043593, 1.26525977962833],
    "block1.bn2.bias": [-0.114333769580742, 0.227508853668879, 0.142592499578692],
    "block1.bn2.weight": [7.56258979218754, 2.69998537802778, 1.61208851161831],
    "block1.bn3.bias": [-0.379503776840642, 0.545073609249189, -0.933997737908638],
    "block1.bn3.weight": [16.3531489839202, 4.10836693895373, 0.775915547838912],
    "block1.conv1.weight": [-4.57051577062369, 3.32679331387754, 0.321356161201006],
    "block1.conv2.weight": [-5.01486277963616, 2.60071960222856, 1.00551014219638],
    "block1.conv3.weight": [-3.61102679005358, 4.48031122246741, -1.82115299535685],
    "block1.shortcut.0.weight": [1.34644834923038, 3.74869618387334, -1.12105005036596],
    "block1.shortcut.1.bias": [-0.97876452894213, 0.457506117584751, 0.0165532107771912],
    "block1.shortcut.1.weight": [15.4332843569849, 3.87403071603953, 1.20876509123541],
    "block2.bn1.bias": [-0.289653807702257, 0.343111965198849, -0.433319054575324],
    "block2.bn1.weight": [16.1059054775263, 4.04819060717484, 0.469336154828901],
    "block2.bn2.bias": [0.27108486892275, 0.385773458808665, 0.0475048588739731],
    "block2.bn2.weight": [24.7502196648371, 5.06604538878615, -0.434262767931684],
    "block2.conv1.weight": [1.03580669995887, 4.01220069302919, 0.0142105038838897],
    "block2.conv2.weight": [-10.8428450963033, 5.11235603562409, 5.82560422714443],
    "head.bias": [0.490444464245523, 3.57690551107924, 3.47756971123934],
    "head.weight": [-2.79002220220013, 3.1105933025055, -0.732891777331898],
    "stem.bias": [-0.484620260551908, 3.05851285124465, 0.484086377962364],
    "stem.weight": [-4.08228099138608, 2.82263373230883, 2.75395908773848],
}
STATS = {
    "block1.bn1.running_mean": [-0.627709991629114, 0.526681402250666, -0.7241940944712],
    "block1.bn1.running_var": [7.41359147389088, 2.62543377553889, 1.2390694718106],
    "block1.bn2.running_mean": [-0.292849137751584, 0.169593606422899, -0.0506958425396148],
    "block1.bn2.running_var": [6.74720499083682, 2.38584130511686, 1.18514288667332],
    "block1.bn3.running_mean": [-0.293632115847735, 0.301803499850866, 0.237348273723245],
    "block1.bn3.running_var": [14.0874492657145, 3.52597136357877, 0.328581397637161],
    "block1.shortcut.1.running_mean": [-0.0969904134576455, 0.683047662996702, -0.398673951727624],
    "block1.shortcut.1.running_var": [14.0878095668905, 3.52658260025266, 0.611656202899511],
    "block2.bn1.running_mean": [0.0753981340778448, 0.246194703192183, 0.183363382622931],
    "block2.bn1.running_var": [14.9546545842967, 3.75206143777446, 0.25613194939884],
    "block2.bn2.running_mean": [-0.792246652373325, 0.382878782588278, 0.679059575162399],
    "block2.bn2.running_var": [21.1707688649854, 4.32327908221127, -0.493528037493882],
}


def test_resnext_and_separable_blocks_train_as_torch() -> None:
    net = Net().double()
    params = dict(net.named_parameters())
    assert sorted(params) == sorted(GRADS)
    weights = fixed_weights({name: tuple(p.shape) for name, p in params.items()})
    with no_grad():
        for name, p in params.items():
            p.copy_(Tensor(weights[name]))
    x, y = block_inputs()
    optimizer = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for step, expected_logits in enumerate((LOGITS, LOGITS2)):
        logits = net(Tensor(x))
        loss = F.cross_entropy(logits, Tensor(y))
        optimizer.zero_grad()
        loss.backward()
        np.testing.assert_allclose(loss.item(), LOSSES[step], rtol=1e-12)
        np.testing.assert_allclose(logits.detach().numpy(), expected_logits, rtol=0, atol=1e-11)
        if step == 0:
            for name, p in params.items():
                ours = summary(p.grad.numpy())
                np.testing.assert_allclose(ours, GRADS[name], rtol=1e-10, atol=1e-13, err_msg=name)
        optimizer.step()
    for name, p in params.items():
        ours = summary(p.detach().numpy())
        np.testing.assert_allclose(ours, AFTER[name], rtol=1e-10, atol=1e-13, err_msg=name)
    buffers = {name: b for name, b in net.named_buffers() if "running" in name}
    assert sorted(buffers) == sorted(STATS)
    for name, b in buffers.items():
        ours = summary(np.asarray(b))
        np.testing.assert_allclose(ours, STATS[name], rtol=1e-10, atol=1e-13, err_msg=name)
