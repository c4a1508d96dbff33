"""torch's top-level names: factories (creation.py), dtype names (dtypes.py), devices (device.py,
cuda.py, backends), and the function forms of Tensor methods (tensor.FUNCTION_FORMS).

Expected values were computed with torch 2.13 (CPU) and pasted here.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_be as torch  # the redirect a learner uses
from tinygrad_be import Tensor


def test_factories_take_torchs_default_dtypes() -> None:
    assert torch.tensor([1.0, 2.0]).dtype == torch.float32
    assert torch.tensor([1, 2]).dtype == torch.int64
    assert torch.tensor([True]).dtype == torch.bool
    assert torch.zeros(2, 3).dtype == torch.float32 and torch.zeros(2, 3).shape == (2, 3)
    assert torch.ones((2, 3)).shape == (2, 3)
    assert torch.full((2,), 3).dtype == torch.int64  # torch: tensor([3, 3])
    assert torch.full((2,), 1.5).dtype == torch.float32
    assert torch.full((2,), True).dtype == torch.bool
    assert torch.eye(3).tolist() == np.eye(3).tolist() and torch.eye(2, 3).shape == (2, 3)
    assert torch.empty(4).shape == (4,)
    assert torch.randn(2, 3).dtype == torch.float32 and torch.rand((4,)).shape == (4,)
    assert torch.randint(0, 10, (3,)).dtype == torch.int64
    assert torch.randint(5, (2, 2)).shape == (2, 2)
    assert sorted(torch.randperm(5).tolist()) == [0, 1, 2, 3, 4]


def test_arange_and_linspace_as_torch() -> None:
    assert torch.arange(5).tolist() == [0, 1, 2, 3, 4] and torch.arange(5).dtype == torch.int64
    assert torch.arange(1, 2.5, 0.5).tolist() == [1.0, 1.5, 2.0]
    assert torch.arange(1, 2.5, 0.5).dtype == torch.float32
    assert torch.arange(0, 1, 0.1).shape == (10,)  # torch: torch.Size([10])
    np.testing.assert_allclose(torch.linspace(-1, 1, 5).numpy(), [-1.0, -0.5, 0.0, 0.5, 1.0])
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        torch.arange(0, 1, 0)


def test_factory_options_dtype_requires_grad_device() -> None:
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True, device="cpu")
    assert x.dtype == np.float64 and x.requires_grad and x.device == torch.device("cpu")
    with pytest.raises(TypeError, match="floating"):
        torch.zeros(2, dtype=torch.long, requires_grad=True)
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        torch.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="negative dimension"):
        torch.zeros(-1)


def test_like_factories_keep_shape_and_dtype() -> None:
    x = torch.tensor([[1, 2], [3, 4]])
    assert torch.ones_like(x).tolist() == [[1, 1], [1, 1]] and torch.ones_like(x).dtype == np.int64
    assert torch.zeros_like(x, dtype=torch.float).dtype == np.float32
    assert torch.rand_like(x, dtype=torch.float).shape == (2, 2)
    assert torch.full_like(x, 7).tolist() == [[7, 7], [7, 7]]
    assert torch.randn_like(torch.zeros(3)).shape == (3,)


def test_seeded_factories_repeat() -> None:
    torch.manual_seed(3)
    a = torch.randn(4)
    torch.manual_seed(3)
    assert torch.randn(4).equal(a)


def test_default_dtype_can_be_changed() -> None:
    assert torch.get_default_dtype() == np.float32
    try:
        torch.set_default_dtype(torch.float64)
        assert torch.tensor([1.5]).dtype == np.float64
        assert torch.zeros(2).dtype == np.float64 and torch.arange(0.0, 1.0, 0.5).dtype == np.float64
    finally:
        torch.set_default_dtype(torch.float32)
    with pytest.raises(TypeError, match="floating"):
        torch.set_default_dtype(torch.int64)


def test_dtype_names() -> None:
    assert torch.float is torch.float32 and torch.double is torch.float64
    assert torch.long is torch.int64 and torch.int is torch.int32 and torch.half is torch.float16
    assert torch.tensor([1.0]).to(torch.double).dtype == np.float64
    # torch: torch.FloatTensor, torch.LongTensor, torch.DoubleTensor
    assert torch.tensor([1.0]).type() == "tinygrad_be.FloatTensor"
    assert torch.tensor([1]).type() == "tinygrad_be.LongTensor"
    assert torch.tensor([1.0]).type(torch.float64).dtype == np.float64


def test_devices() -> None:
    assert repr(torch.device("cpu")) == "device(type='cpu')"
    assert str(torch.device("cuda:1")) == "cuda:1" and torch.device("cuda", 0).index == 0
    assert torch.device("cpu") == "cpu"
    assert not torch.cuda.is_available() and torch.cuda.device_count() == 0
    assert not torch.backends.mps.is_available()
    torch.backends.cudnn.benchmark = True  # accepted: no effect on the CPU
    x = torch.tensor([1.0])
    assert x.to("cpu") is x and x.cpu() is x and x.device.type == "cpu"
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        x.to("cuda")
    with pytest.raises(RuntimeError, match="expected one of"):
        torch.device("tpu")
    torch.set_default_device("cpu")
    assert torch.get_default_device() == "cpu"
    with pytest.raises(RuntimeError, match="set_default_device: device 'cuda' is not available"):
        torch.set_default_device("cuda")


def test_function_forms_come_from_the_table() -> None:
    x = torch.tensor([[1.0, 4.0], [9.0, 16.0]])
    assert torch.sqrt(x).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert torch.sum(x, 1).tolist() == [5.0, 25.0] and torch.mean(x).item() == 7.5
    values, indices = torch.max(x, 1)
    assert values.tolist() == [4.0, 16.0] and indices.tolist() == [1, 1]
    assert torch.matmul(x, torch.eye(2)).equal(x) and torch.mm(x, x).shape == (2, 2)
    assert torch.flatten(x).shape == (4,) and torch.transpose(x, 0, 1)[0, 1].item() == 9.0
    assert torch.add(x, 1, alpha=2)[0, 0].item() == 3.0
    assert torch.pow(2, torch.tensor([1.0, 2.0])).tolist() == [2.0, 4.0]
    assert torch.exp.__name__ == "exp" and "input.exp(" in torch.exp.__doc__
    for name in torch._tensor_module.FUNCTION_FORMS:
        assert callable(getattr(torch, name)) and hasattr(Tensor, name)


def test_out_writes_into_the_given_tensor() -> None:
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    out = torch.empty(2)
    result = torch.add(a, b, out=out)
    assert result is out and out.tolist() == [4.0, 6.0]
    resized = torch.zeros(5)
    torch.mul(a, b, out=resized)
    assert resized.tolist() == [3.0, 8.0]
    w = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="out=.*automatic differentiation"):
        torch.mul(w, 2, out=torch.zeros(1))


def test_bmm_mm_dot_refuse_other_ranks() -> None:
    with pytest.raises(RuntimeError, match=r"mm: both must be 2-D, got shapes \(3,\) and \(3, 2\)"):
        torch.mm(torch.ones(3), torch.ones(3, 2))
    with pytest.raises(RuntimeError, match="bmm: expected two 3-D"):
        torch.bmm(torch.ones(2, 3, 4), torch.ones(3, 4, 5))
    assert torch.bmm(torch.ones(2, 3, 4), torch.ones(2, 4, 5)).shape == (2, 3, 5)
    assert torch.dot(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])).item() == 11.0


def test_is_tensor_as_tensor_allclose() -> None:
    array = np.arange(3.0)
    shared = torch.as_tensor(array)
    array[0] = 7
    assert shared[0].item() == 7 and torch.is_tensor(shared) and not torch.is_tensor(array)
    assert torch.allclose(torch.tensor([1.0]), torch.tensor([1.0 + 1e-9]))
    assert torch.concat([torch.ones(1), torch.zeros(1)]).tolist() == [1.0, 0.0]


def test_split_chunk_and_bernoulli_as_torch() -> None:
    x = torch.arange(10.0).reshape(5, 2)
    # torch: [2, 2], [2, 2], [1, 2] / [1, 2], [4, 2] / [5, 1], [5, 1] / [2], [2], [2]
    assert [c.shape for c in torch.chunk(x, 3)] == [(2, 2), (2, 2), (1, 2)]
    assert [c.shape for c in x.split(2)] == [(2, 2), (2, 2), (1, 2)]
    assert [c.shape for c in torch.split(x, [1, 4])] == [(1, 2), (4, 2)]
    assert [c.shape for c in x.chunk(2, dim=1)] == [(5, 1), (5, 1)]
    assert [c.shape for c in torch.chunk(torch.arange(6), 4)] == [(2,), (2,), (2,)]
    with pytest.raises(ValueError, match=r"split: sizes \[1, 2\] add up to 3, not dim 0's length 5"):
        x.split([1, 2])
    w = torch.ones(4, requires_grad=True)
    a, b = w.split(2)
    (a * 2 + b.sum()).sum().backward()
    assert w.grad.tolist() == [2.0, 2.0, 2.0, 2.0]
    torch.manual_seed(0)
    drawn = torch.empty(1000).bernoulli_(0.3)
    assert set(drawn.tolist()) <= {0.0, 1.0} and abs(drawn.mean().item() - 0.3) < 0.05


def test_div_rounding_modes_as_torch() -> None:
    # torch: tensor([-4, 3]), tensor([-3, 3]), tensor([-3., 3.])
    assert torch.div(torch.tensor([-7, 7]), 2, rounding_mode="floor").tolist() == [-4, 3]
    trunc = torch.div(torch.tensor([-7, 7]), 2, rounding_mode="trunc")
    assert trunc.tolist() == [-3, 3] and trunc.dtype == torch.int64
    assert torch.tensor([-7.0, 7.0]).div(2, rounding_mode="trunc").tolist() == [-3.0, 3.0]
    with pytest.raises(ValueError, match="rounding_mode must be None, 'trunc' or 'floor'"):
        torch.tensor([1.0]).div(2, rounding_mode="round")
