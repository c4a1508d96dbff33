"""The same ops on every device: "cpu" (numpy), "fake-cuda" (tests/fake_cupy.py: a CuPy stand-in that,
as CuPy, refuses implicit conversion to numpy and mixing with numpy arrays) and "cuda" (real CuPy
on a GPU; skipped with the reason where there is none).

For every op: the forward values and the gradients on the device equal the CPU's, stay on the
device (an op that computed with numpy on device data fails here: the fake refuses it, as CuPy
would on a GPU), and pass `gradcheck` on the device. Then modules, optimizers and checkpoints
through the same parametrisation, and the errors of the device API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fake_cupy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_be as tb
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, backend, gradcheck


def _real_cuda_reason() -> str | None:
    """Why the real "cuda" cases cannot run here (None when they can)."""
    try:
        backend.cuda_module("test")
    except RuntimeError as error:
        return str(error)
    return None


@pytest.fixture(params=["cpu", "fake-cuda", "cuda"])
def device(request: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The device name the test computes on; "fake-cuda" computes on "cuda" backed by the fake."""
    if request.param == "fake-cuda":
        fake_cupy.install(monkeypatch)
        return "cuda"
    if request.param == "cuda":
        fake_cupy.use_real_cupy(monkeypatch)  # tests/conftest.py hides it from the other tests
        reason = _real_cuda_reason()
        if reason is not None:
            pytest.skip(f"no real GPU backend here: {reason}")
    return request.param


def _on(device: str, array: Any) -> bool:
    """True when `array` lives on `device` (a numpy array for "cpu", a device array else)."""
    return (type(array) is np.ndarray) == (device == "cpu")


# --------------------------------------------------------------------------------------------------
# The op table: name -> (function of (device, *tensors), input shapes). Inputs are float64 normal
# draws; functions that need a domain (log, sqrt) or constants (indices) build them inside.
def _const(device: str, values: Any, dtype: Any = None) -> Tensor:
    return tb.tensor(np.asarray(values), dtype=dtype, device=device)


OPS: dict[str, tuple[Callable[..., Tensor], list[tuple[int, ...]]]] = {
    "add_broadcast": (lambda d, a, b: a + b, [(3, 4), (4,)]),
    "add_reused": (lambda d, a: a + a * a, [(2, 3)]),
    "sub_scalar": (lambda d, a, b: 2.0 - a - b, [(2, 3), (2, 1)]),
    "mul": (lambda d, a, b: a * b * 3, [(2, 3), (1, 3)]),
    "div": (lambda d, a, b: a / (b * b + 1), [(2, 3), (3,)]),
    "neg": (lambda d, a: -a, [(4,)]),
    "pow_number": (lambda d, a: a**3 + (a * a + 1) ** 0.5, [(2, 3)]),
    "pow_tensor": (lambda d, a, b: (a * a + 0.5) ** b, [(2, 3), (3,)]),
    "rpow": (lambda d, a: 2.0**a, [(3,)]),
    "matmul_2d": (lambda d, a, b: a @ b, [(2, 3), (3, 4)]),
    "matmul_batched": (lambda d, a, b: a @ b, [(2, 2, 3), (3, 2)]),
    "matmul_1d": (lambda d, a, b: a @ b, [(3,), (3, 2)]),
    "transpose_permute": (lambda d, a: a.transpose(0, 2).permute(2, 0, 1) * 1, [(2, 3, 2)]),
    "reshape_view": (lambda d, a: a.reshape(3, 2).view(-1) * 1, [(2, 3)]),
    "index_slice": (lambda d, a: a[1:, ::2], [(3, 4)]),
    "index_fancy_repeats": (lambda d, a: a[[0, 2, 0]], [(3, 2)]),
    "index_tensor": (lambda d, a: a[_const(d, [1, 1, 0])], [(3, 2)]),
    "index_mask": (lambda d, a: a[a > 0], [(3, 4)]),
    "setitem": (lambda d, a, b: _setitem(a, b), [(3, 4), (4,)]),
    "sum_mean": (lambda d, a: a.sum(0) + a.mean(1, keepdim=True), [(3, 3)]),
    "sum_all": (lambda d, a: a.sum() * a.mean(), [(2, 3)]),
    "amax_amin": (lambda d, a: a.amax(1) - a.amin(0), [(3, 3)]),
    "max_dim": (lambda d, a: a.max(1).values + a.min(dim=0)[0], [(3, 3)]),
    "exp_log": (lambda d, a: (a.exp() + 1).log(), [(2, 3)]),
    "sqrt_abs": (lambda d, a: (a.abs() + 0.1).sqrt(), [(2, 3)]),
    "log1p": (lambda d, a: (a * a).log1p(), [(5,)]),
    "sigmoid_tanh_relu": (lambda d, a: a.sigmoid() + a.tanh() + (a + 0.05).relu(), [(2, 3)]),
    "sin_cos": (lambda d, a: a.sin() * a.cos(), [(4,)]),
    "clamp": (lambda d, a: a.clamp(-0.5, 0.5) + a.clamp(min=0.1), [(2, 4)]),
    "clone_cast": (lambda d, a: (a.clone() * 2).double().to(d), [(3,)]),
    "softmax": (lambda d, a: a.softmax(1), [(2, 4)]),
    "log_softmax": (lambda d, a: a.log_softmax(-1), [(2, 4)]),
    "cross_entropy_index": (
        lambda d, a: F.cross_entropy(a, _const(d, [2, 0, 3])),
        [(3, 4)],
    ),
    "cross_entropy_probs": (
        lambda d, a, b: F.cross_entropy(a, b.softmax(1), reduction="sum"),
        [(3, 4), (3, 4)],
    ),
    "nll_loss_weight": (
        lambda d, a: F.nll_loss(
            a.log_softmax(1), _const(d, [1, 0, 1]), weight=_const(d, [0.5, 2.0], "float64")
        ),
        [(3, 2)],
    ),
    "mse_l1": (lambda d, a, b: F.mse_loss(a, b) + F.l1_loss(a, b), [(2, 3), (2, 3)]),
    "bce": (lambda d, a, b: F.binary_cross_entropy(a.sigmoid(), b.sigmoid()), [(2, 3), (2, 3)]),
    "bce_logits": (
        lambda d, a, b: F.binary_cross_entropy_with_logits(
            a, b.sigmoid(), pos_weight=_const(d, [1.0, 2.0, 0.5], "float64")
        ),
        [(2, 3), (2, 3)],
    ),
    "expand": (lambda d, a: a.expand(3, -1) * 1, [(1, 4)]),
    "cat_stack": (
        lambda d, a, b: (
            tb.cat([a, b], 1) + tb.stack([a, b], 1).sum(1, keepdim=False).sum(1, keepdim=True)
        ),
        [(2, 2), (2, 2)],
    ),
    "where": (lambda d, a, b: tb.where(a > 0, a, b), [(2, 3), (2, 3)]),
    "gather": (lambda d, a: a.gather(1, _const(d, [[0, 0], [2, 1]])), [(2, 3)]),
    "maximum_minimum": (lambda d, a, b: tb.maximum(a, b) + tb.minimum(a, 0.1), [(2, 3), (3,)]),
    "leaky_relu_gelu": (
        lambda d, a: F.leaky_relu(a, 0.1) + F.gelu(a) + F.gelu(a, approximate="tanh"),
        [(2, 3)],
    ),
    "var_std": (lambda d, a: a.var(0) + a.std(1, keepdim=True).sum(), [(3, 4)]),
    "autograd_function": (lambda d, a: _Cube.apply(a) + a, [(2, 3)]),
    "embedding": (
        lambda d, w: F.embedding(_const(d, [[0, 2], [2, 2]]), w),
        [(3, 2)],
    ),
    "linear": (lambda d, x, w, b: F.linear(x, w, b), [(2, 3), (4, 3), (4,)]),
    "conv2d_padded_strided_bias": (
        lambda d, x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        [(2, 2, 5, 5), (3, 2, 3, 3), (3,)],
    ),
    "conv2d_groups_dilation": (
        lambda d, x, w: F.conv2d(x, w, groups=2, dilation=2, padding="same"),
        [(1, 4, 5, 5), (2, 2, 2, 2)],
    ),
    "conv2d_depthwise": (
        lambda d, x, w: F.conv2d(x, w, groups=2, padding=1),
        [(2, 2, 4, 4), (4, 1, 3, 3)],
    ),
    "max_pool": (
        lambda d, x: F.max_pool2d(x, 2) + F.max_pool2d(x, 3, 1, 1)[..., :2, :2],
        [(2, 2, 4, 4)],
    ),
    "avg_pool_adaptive": (
        lambda d, x: (
            F.avg_pool2d(x, 2, padding=1).sum()
            + F.adaptive_avg_pool2d(x, 1).sum()
            + F.adaptive_max_pool2d(x, 2).sum()
        ),
        [(2, 2, 4, 4)],
    ),
    "batch_norm_train": (
        lambda d, x, w, b: _batch_norm(d, x, w, b, True),
        [(4, 2, 2, 2), (2,), (2,)],
    ),
    "batch_norm_eval": (lambda d, x, w, b: _batch_norm(d, x, w, b, False), [(3, 2), (2,), (2,)]),
}


class _Cube(tb.autograd.Function):
    """A torch-style custom op: its forward and backward compute with Tensor methods only."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


def _setitem(a: Tensor, b: Tensor) -> Tensor:
    c = a * 1
    c[1] = b
    c[:, 0] = 0.5
    return c


def _batch_norm(device: str, x: Tensor, w: Tensor, b: Tensor, training: bool) -> Tensor:
    channels = x.shape[1]
    mean = _const(device, np.linspace(-0.5, 0.5, channels))._data
    var = _const(device, np.linspace(0.5, 1.5, channels))._data
    return F.batch_norm(x, mean, var, w, b, training=training)


def _inputs(device: str, shapes: list[tuple[int, ...]], seed: int) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    return [
        tb.tensor(rng.standard_normal(shape), device=device, requires_grad=True) for shape in shapes
    ]


def _host(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("name", sorted(OPS))
@settings(
    max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_op_on_device_matches_cpu_and_gradcheck(device: str, name: str, seed: int) -> None:
    fn, shapes = OPS[name]
    expected_inputs = _inputs("cpu", shapes, seed)
    expected = fn("cpu", *expected_inputs)
    weights = np.random.default_rng(seed + 1).standard_normal(expected.shape)
    expected.backward(tb.tensor(weights))

    inputs = _inputs(device, shapes, seed)
    out = fn(device, *inputs)
    assert out.device.type == device and _on(device, out._data), f"{name}: output left {device}"
    np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-12, atol=1e-12)
    out.backward(tb.tensor(weights, device=device))
    for k, (x, x_cpu) in enumerate(zip(inputs, expected_inputs, strict=True)):
        assert _on(device, x.grad._data), f"{name}: the gradient of input {k} left {device}"
        np.testing.assert_allclose(_host(x.grad), _host(x_cpu.grad), rtol=1e-10, atol=1e-12)
    gradcheck(lambda *xs: fn(device, *xs), *_inputs(device, shapes, seed), grad_output=weights)


# --------------------------------------------------------------------------------------------------
# Tensors: the device API
def test_tensor_device_round_trip(device: str) -> None:
    x = tb.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x.to(device)
    assert y.device.type == device and y.is_cuda == (device == "cuda")
    assert (y is x) == (device == "cpu")
    z = (y * y).sum()
    assert z.item() == 30.0 and isinstance(z.item(), float)
    assert y.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 4.0], [6.0, 8.0]])  # back on the host
    back = y.detach().cpu()
    assert back.device == tb.device("cpu") and type(back._data) is np.ndarray
    np.testing.assert_array_equal(back.numpy(), x.detach().numpy())
    assert y.cuda().device.type == "cuda" if device == "cuda" else True


def test_factories_and_like_forms_on_device(device: str) -> None:
    tb.manual_seed(0)
    a = tb.randn(2, 3, device=device)
    tb.manual_seed(0)
    b = tb.randn(2, 3)
    np.testing.assert_array_equal(_host(a), _host(b))  # one generator: the same draws everywhere
    for t in (
        tb.zeros(2, device=device),
        tb.ones(2, 2, device=device),
        tb.full((2,), 7, device=device),
        tb.arange(5, device=device),
        tb.eye(2, device=device),
        tb.linspace(0, 1, 3, device=device),
        tb.zeros_like(a),
        tb.randn_like(a),
        a.new_zeros(3),
        a.new_tensor([1.0]),
        tb.as_tensor(np.ones(2), device=device),
    ):
        assert t.device.type == device and _on(device, t._data)


def test_scalars_and_comparisons_stay_on_device(device: str) -> None:
    x = tb.tensor([-1.0, 0.5, 2.0], device=device)
    for t in (x * 2, 1 - x, x / 4, x > 0, x == 0.5, (x > 0).any(), x.argmax(), x.max(0).indices):
        assert _on(device, t._data)
    assert (x > 0).tolist() == [False, True, True] and x.argmax().item() == 2
    assert x.allclose(tb.tensor([-1.0, 0.5, 2.0], device=device)) and x.equal(x)
    x.add_(1).mul_(2)
    assert x.tolist() == [0.0, 3.0, 6.0] and _on(device, x._data)
    x[0] = 5.0
    assert x.tolist() == [5.0, 3.0, 6.0]


def test_repr_names_the_device(device: str) -> None:
    text = repr(tb.tensor([1.0, 2.0], device=device))
    assert text == ("tensor([1., 2.])" if device == "cpu" else "tensor([1., 2.], device='cuda:0')")


def test_numpy_of_a_cuda_tensor_raises_as_torch(device: str) -> None:
    if device == "cpu":
        pytest.skip("the CPU tensor's numpy() shares memory (tests/test_torch_semantics.py)")
    x = tb.ones(2, device=device)
    with pytest.raises(
        TypeError, match=r"can't convert cuda:0 device type tensor to numpy\. Use Tensor\.cpu\(\)"
    ):
        x.numpy()
    with pytest.raises(TypeError, match="Tensor.cpu()"):
        np.asarray(x)
    np.testing.assert_array_equal(x.cpu().numpy(), [1.0, 1.0])


def test_an_op_on_two_devices_names_the_op_and_both(device: str) -> None:
    if device == "cpu":
        pytest.skip("needs a second device")
    a, b = tb.ones(2, device=device), tb.ones(2)
    with pytest.raises(
        RuntimeError, match=r"Mul: expected all tensors to be on the same device.*cuda:0 and cpu"
    ):
        _ = a * b
    with pytest.raises(RuntimeError, match=r"MatMul: .*cuda:0 and cpu"):
        _ = b.reshape(1, 2) @ a.reshape(2, 1)
    assert (a * tb.tensor(3.0)).tolist() == [3.0, 3.0]  # a 0-d CPU tensor joins, as in torch


def test_fake_device_catches_numpy_on_device_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard itself: computing with numpy on a device array fails, as on CuPy."""
    cupy = fake_cupy.install(monkeypatch)
    x = cupy.asarray(np.arange(3.0))
    for stray in (lambda: np.asarray(x), lambda: np.zeros(3) + x, lambda: np.add.at(x, [0], 1.0)):
        with pytest.raises(TypeError):
            stray()

    class HostOp(tb.Function):  # an op written with numpy only
        def forward(self, a: Any) -> Any:
            return np.asarray(a) * 2

        def backward(self, grad: Any) -> Any:
            return grad * 2

    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        HostOp.apply(tb.tensor([1.0], device="cuda"))


# --------------------------------------------------------------------------------------------------
# Errors on a machine without CuPy or without a GPU
def test_cuda_without_cupy_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise ImportError("No module named 'cupy'")

    monkeypatch.setattr(backend, "_import_cupy", missing)
    monkeypatch.setattr(backend, "_cuda", None)
    monkeypatch.setattr(backend, "device_types", ())
    assert not tb.cuda.is_available() and tb.cuda.device_count() == 0
    with pytest.raises(
        RuntimeError, match=r"to: device 'cuda' is not available: it needs CuPy.*\.\[cuda12\]"
    ):
        tb.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match=r"zeros: .*CuPy"):
        tb.zeros(2, device="cuda")


def test_cuda_without_gpu_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    no_gpu = type(fake_cupy)("cupy_without_gpu")
    no_gpu.cuda = type(
        "cuda", (), {"runtime": type("rt", (), {"getDeviceCount": staticmethod(lambda: 0)})}
    )
    monkeypatch.setattr(backend, "_import_cupy", lambda: (no_gpu, None))
    monkeypatch.setattr(backend, "_cuda", None)
    monkeypatch.setattr(backend, "device_types", ())
    assert not tb.cuda.is_available()
    with pytest.raises(RuntimeError, match="finds no NVIDIA GPU"):
        tb.ones(2).cuda()


def test_array_module_is_numpy_until_a_gpu_library_loads() -> None:
    assert backend.array_module(np.ones(2), 3.0) is np
    assert backend.is_host(np.ones(2)) and backend.device_of(np.ones(2)) == tb.device("cpu")


# --------------------------------------------------------------------------------------------------
# k-NN on the device: the same neighbours and votes as on the CPU
@pytest.mark.parametrize("metric", ["l2", "cosine", "l1"])
def test_knn_on_device_matches_cpu(device: str, metric: str) -> None:
    from models.knn import KNN

    rng = np.random.default_rng(7)
    train, test = rng.standard_normal((60, 5)), rng.standard_normal((25, 5))
    train[10] = train[3]  # exact ties in distance: broken by training index on every device
    labels = rng.integers(0, 4, 60)
    cpu = KNN(k=3, metric=metric).fit(train, labels)
    model = KNN(k=3, metric=metric, device=device, memory_budget=4096).fit(train, labels)
    assert model.x_train.device.type == device
    distances, indices = model.kneighbors(test)
    assert type(distances) is np.ndarray and type(indices) is np.ndarray  # results on the host
    expected_distances, expected_indices = cpu.kneighbors(test)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        model.predict_sweep(test, range(1, 8)), cpu.predict_sweep(test, range(1, 8))
    )
    assert model.score(test, rng.integers(0, 4, 25)) >= 0.0


def test_k_nearest_on_device_breaks_ties_by_index(device: str) -> None:
    from models.knn import k_nearest

    dists = np.random.default_rng(1).integers(0, 3, (6, 9)).astype(np.float32)  # many ties
    values, indices = k_nearest(tb.tensor(dists, device=device)._data, 5)
    expected_values, expected_indices = k_nearest(dists, 5)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(values, expected_values)


def test_cuda_is_available_with_the_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cupy.install(monkeypatch)
    assert tb.cuda.is_available() and tb.cuda.device_count() == 1
    assert tb.cuda.current_device() == 0 and tb.cuda.get_device_name() == "Fake GPU"
    tb.cuda.synchronize()


# --------------------------------------------------------------------------------------------------
# The examples with --device: the same results on the fake GPU as on the CPU
def test_knn_example_on_device(
    fake_archive: list[str], tmp_path: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from examples_support import load_example

    example = load_example("knn_cifar10")
    options = ["--root" if option == "--data-root" else option for option in fake_archive]
    options += ["--official", "--k-max", "3"]
    on_cpu = example.main([*options, "--out-dir", str(tmp_path / "cpu")])
    fake_cupy.install(monkeypatch)
    on_gpu = example.main([*options, "--out-dir", str(tmp_path / "gpu"), "--device", "cuda"])
    np.testing.assert_array_equal(on_gpu, on_cpu)
    capsys.readouterr()


def test_mlp_recipe_runs_on_device(
    fake_archive: list[str], tmp_path: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from examples_support import load_example

    fake_cupy.install(monkeypatch)
    example = load_example("train_cifar10")
    accuracy = example.main([*fake_archive, "--hidden", "16,16", "--pca-dims", "8", "--epochs", "1",
                             "--batch-size", "10", "--results", str(tmp_path), "--device", "cuda"])  # fmt: skip
    assert 0.0 <= accuracy <= 1.0
    state = tb.load(tmp_path / "train_cifar10_state.npz")["model"]
    assert all(type(value) is np.ndarray for value in state.values())
    capsys.readouterr()


# --------------------------------------------------------------------------------------------------
# Modules, optimizers, schedulers and checkpoints on the device
OPTIMIZERS: dict[str, Callable[[Any], Any]] = {
    "sgd_nesterov": lambda p: tb.optim.SGD(
        p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3
    ),
    "adam_amsgrad": lambda p: tb.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=1e-3),
    "adamw": lambda p: tb.optim.AdamW(p, lr=0.01),
    "rmsprop_centered": lambda p: tb.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: tb.optim.Adagrad(p, lr=0.1),
}


def _small_net() -> Any:
    tb.manual_seed(3)
    return tb.nn.Sequential(
        tb.nn.Conv2d(2, 3, 3, padding=1),
        tb.nn.BatchNorm2d(3),
        tb.nn.ReLU(),
        tb.nn.MaxPool2d(2),
        tb.nn.Flatten(),
        tb.nn.Linear(12, 6),
        tb.nn.LayerNorm(6),
        tb.nn.Tanh(),
        tb.nn.Linear(6, 4),
    )


def _train(model: Any, optimizer: Any, device: str, steps: int = 3) -> list[float]:
    rng = np.random.default_rng(5)
    scheduler = tb.optim.StepLR(optimizer, step_size=1, gamma=0.5)
    losses = []
    for _ in range(steps):
        x = tb.tensor(rng.standard_normal((5, 2, 4, 4)), dtype=tb.float32, device=device)
        y = tb.tensor(rng.integers(0, 4, 5), device=device)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        tb.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_on_device_matches_cpu(device: str, name: str) -> None:
    expected_model = _small_net()
    expected = _train(expected_model, OPTIMIZERS[name](expected_model.parameters()), "cpu")
    model = _small_net()
    optimizer = OPTIMIZERS[name](model.parameters())  # made before .to: the parameters stay
    assert model.to(device) is model
    losses = _train(model, optimizer, device)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    for (key, value), (_, expected_value) in zip(
        model.state_dict().items(), expected_model.state_dict().items(), strict=True
    ):
        assert _on(device, value._data), f"{key} left {device}"
        np.testing.assert_allclose(
            _host(value), _host(expected_value), rtol=1e-4, atol=1e-6, err_msg=key
        )
    for p in model.parameters():
        assert _on(device, p.grad._data) and _on(device, p._data)
    for state in optimizer.state.values():
        for value in state.values():
            assert not hasattr(value, "shape") or _on(device, value)


def test_checkpoints_are_host_arrays_and_load_onto_the_models_device(
    device: str, tmp_path: Any
) -> None:
    model = _small_net().to(device)
    optimizer = tb.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    _train(model, optimizer, device, steps=1)
    path = tmp_path / "state.npz"
    tb.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    state = tb.load(path)
    assert all(
        type(v._data if isinstance(v, Tensor) else v) is np.ndarray for v in state["model"].values()
    )
    on_cpu = _small_net()
    on_cpu.load_state_dict(state["model"])  # a GPU model's checkpoint loads on the CPU
    fresh = _small_net().to(device)
    fresh.load_state_dict(state["model"])  # and onto the device of the model it goes into
    fresh_optimizer = tb.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    fresh_optimizer.load_state_dict(state["optimizer"])
    for (key, value), (_, saved) in zip(
        fresh.state_dict().items(), model.state_dict().items(), strict=True
    ):
        assert _on(device, value._data), key
        np.testing.assert_array_equal(_host(value), _host(saved), err_msg=key)
    assert all(
        _on(device, v)
        for s in fresh_optimizer.state.values()
        for v in s.values()
        if hasattr(v, "shape")
    )
    np.testing.assert_array_equal(_host(on_cpu[0].weight), _host(model[0].weight))
    model.cpu()
    assert all(type(p._data) is np.ndarray for p in model.parameters())


def test_init_functions_keep_the_device(device: str) -> None:
    layer = tb.nn.Linear(3, 2).to(device)
    tb.nn.init.kaiming_uniform_(layer.weight)
    tb.nn.init.zeros_(layer.bias)
    assert _on(device, layer.weight._data) and _on(device, layer.bias._data)
    assert layer.bias.tolist() == [0.0, 0.0]


def test_cnn_recipe_on_device_trains_as_on_the_cpu(
    fake_archive: list[str], tmp_path: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from examples_support import load_example

    example = load_example("cnn_cifar10")
    run = [*fake_archive, "--width", "4,8,8", "--batch-size", "10", "--lr", "0.2", "--epochs", "1"]
    on_cpu = example.main([*run, "--results", str(tmp_path / "cpu")])
    fake_cupy.install(monkeypatch)
    on_gpu = example.main([*run, "--results", str(tmp_path / "gpu"), "--device", "cuda"])
    assert on_gpu == pytest.approx(on_cpu)
    a = tb.load(tmp_path / "cpu" / "cnn_cifar10_state.npz")["model"]
    b = tb.load(tmp_path / "gpu" / "cnn_cifar10_state.npz")["model"]
    for key in a:  # plain host arrays in the checkpoint, the same weights
        assert type(b[key]) is np.ndarray
        np.testing.assert_allclose(b[key], a[key], rtol=1e-4, atol=1e-5, err_msg=key)
    capsys.readouterr()
