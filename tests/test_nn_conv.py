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
    for values in (layer.weight.data, layer.bias.data):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.8 * bound  # spread over the whole interval
    assert abs(layer.weight.data.mean()) < 0.1 * bound
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
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    c = nn.Conv2d(3, 4, 3, rng=np.random.default_rng(1))
    d = nn.Conv2d(3, 4, 3, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(c.weight.data, d.weight.data)
    assert not np.array_equal(a.weight.data, c.weight.data)


def test_conv2d_forward_is_f_conv2d() -> None:
    layer = nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=1, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7)).astype(np.float32)
    out = layer(x)
    assert out.shape == (2, 4, 4, 8) and out.dtype == np.float32
    expected = F.conv2d(Tensor(x), layer.weight, layer.bias, stride=(2, 1), padding=1)
    np.testing.assert_array_equal(out.data, expected.data)


def test_conv2d_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="Conv2d: in_channels and out_channels must be positive"):
        nn.Conv2d(0, 4, 3)
    with pytest.raises(ValueError, match="Conv2d: kernel size must be positive"):
        nn.Conv2d(3, 4, (3, 0))
    with pytest.raises(TypeError, match="Conv2d: dtype must be floating point"):
        nn.Conv2d(3, 4, 3, dtype=np.int32)


def test_reprs_are_torchs() -> None:
    """As printed by torch 2.13 (our pools have no dilation/ceil_mode arguments, batch norm no
    `bias=` argument, so those parts are left out)."""
    model = nn.Sequential(
        nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.BatchNorm1d(4, momentum=None),
        nn.AvgPool2d(3, stride=2),
        nn.AdaptiveAvgPool2d(1),
        nn.AdaptiveMaxPool2d((2, 2)),
    )
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), bias=False)\n"
        "  (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (2): BatchNorm1d(4, eps=1e-05, momentum=None, affine=True, track_running_stats=True)\n"
        "  (3): AvgPool2d(kernel_size=3, stride=2, padding=0)\n"
        "  (4): AdaptiveAvgPool2d(output_size=1)\n"
        "  (5): AdaptiveMaxPool2d(output_size=(2, 2))\n"
        ")"
    )


def test_conv2d_repr_shows_the_default_stride_as_torch() -> None:
    # torch 2.13: "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))": stride is always shown.
    assert repr(nn.Conv2d(3, 8, 3)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))"


def test_pool_modules_are_the_functions() -> None:
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6))
    cases = [
        (nn.MaxPool2d(2), F.max_pool2d(Tensor(x), 2)),
        (nn.MaxPool2d(3, stride=1, padding=1), F.max_pool2d(Tensor(x), 3, 1, 1)),
        (nn.AvgPool2d((2, 3)), F.avg_pool2d(Tensor(x), (2, 3))),
        (nn.AdaptiveAvgPool2d(1), F.adaptive_avg_pool2d(Tensor(x), 1)),
        (nn.AdaptiveMaxPool2d((3, 2)), F.adaptive_max_pool2d(Tensor(x), (3, 2))),
    ]
    for module, expected in cases:
        assert module.parameters() == [] and list(module.named_buffers()) == []
        np.testing.assert_array_equal(module(x).data, expected.data, err_msg=repr(module))


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
    assert bn.weight.data.tolist() == [1, 1, 1] and bn.bias.data.tolist() == [0, 0, 0]
    assert bn.running_mean.tolist() == [0, 0, 0] and bn.running_var.tolist() == [1, 1, 1]
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    axes = tuple(a for a in range(len(shape)) if a != 1)
    m = int(np.prod(shape)) // 3
    expected_mean, expected_var = np.zeros(3), np.ones(3)
    for step in range(3):  # training: batch statistics, running statistics updated
        x = rng.normal(2.0, 3.0, shape)
        out = bn(x)
        np.testing.assert_allclose(out.data.mean(axes), 0, atol=1e-12)
        np.testing.assert_allclose(out.data.var(axes), 1, rtol=1e-4)
        expected_mean = 0.8 * expected_mean + 0.2 * x.mean(axes)
        expected_var = 0.8 * expected_var + 0.2 * x.var(axes) * m / (m - 1)
        assert int(bn.num_batches_tracked) == step + 1
    np.testing.assert_allclose(bn.running_mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, expected_var, rtol=1e-12)

    bn.eval()  # eval: the running statistics, which stay as they are
    x = rng.normal(2.0, 3.0, shape)
    view = (1, 3) + (1,) * (len(shape) - 2)
    expected = (x - expected_mean.reshape(view)) / np.sqrt(expected_var.reshape(view) + 1e-5)
    np.testing.assert_allclose(bn(x).data, expected, rtol=1e-12)
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
        np.testing.assert_allclose(out.data.mean((0, 2, 3)), 0, atol=1e-5)


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
    assert not buffer_ids & {id(p.data) for p in model.parameters()}
    state = model.state_dict()
    assert set(state) == set(names) | {f"1.{b}" for b in BUFFERS}
    assert state["1.num_batches_tracked"].dtype == np.int64
    state["1.running_mean"][:] = 7  # a copy
    assert not model[1].running_mean.any()
    assert model.num_parameters() == sum(p.data.size for p in model.parameters())

    # An optimizer gets the parameters only: its steps never touch the running statistics.
    optimizer = optim.SGD(model.parameters(), lr=1.0, momentum=0.9, weight_decay=0.1)
    x, y = bar_images(8)
    model.eval()
    before = {name: array.copy() for name, array in model.named_buffers()}
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
    with pytest.raises(TypeError, match="register_buffer: 'x' must be a numpy array"):
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
    assert not np.array_equal(source(x).data, target(x).data)
    target.load(path)
    for name, array in source.state_dict().items():
        loaded = target.state_dict()[name]
        assert loaded.dtype == array.dtype and loaded.shape == array.shape, name
        np.testing.assert_array_equal(loaded, array, err_msg=name)
    assert int(target[1].num_batches_tracked) == 3
    np.testing.assert_array_equal(source(x).data, target(x).data)  # eval uses the buffers

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
        accuracy = (model(x_test).data.argmax(axis=1) == y_test).mean()
    assert accuracy >= 0.9, accuracy
    assert int(model[1].num_batches_tracked) == 15
    assert time.perf_counter() - start < 3.0

    # Deterministic: the same seed gives the same run.
    again = small_cnn(seed=0)
    optimizer = optim.SGD(again.parameters(), lr=0.1, momentum=0.9)
    loss = F.cross_entropy(again(x[:32]), y[:32])
    assert loss.item() == losses[0]
