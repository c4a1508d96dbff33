"""The Tensor and its engine: dtypes, construction, requires_grad, no_grad, backward, errors."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

import tinygrad_be.nn.functional as F
from tinygrad_be import Function, Tensor, is_grad_enabled, no_grad
from tinygrad_be.tensor import unbroadcast


# --------------------------------------------------------------------------------------------------
# dtype rules
@pytest.mark.parametrize(
    ("data", "dtype"),
    [(3, np.int64), (2.5, np.float32), ([1, 2], np.int64), ([[1.0, 2.0]], np.float32)]
    + [([1, 2.5], np.float32), ([True, False], np.bool_), (True, np.bool_)],
)
def test_python_numbers_and_lists_take_torchs_default_dtypes(data: object, dtype: type) -> None:
    """As torch.tensor: Python floats float32, ints int64, bools bool."""
    assert Tensor(data).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_floating_numpy_arrays_keep_their_dtype(dtype: type) -> None:
    assert Tensor(np.zeros(3, dtype=dtype)).dtype == dtype
    assert Tensor(np.zeros(3, dtype=dtype), requires_grad=True).requires_grad


def test_dtype_argument_converts() -> None:
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.zeros(2, dtype=np.float32), dtype=np.float64).dtype == np.float64


def test_integer_arrays_stay_integer_and_cannot_require_grad() -> None:
    labels = Tensor(np.array([0, 2, 1]))
    assert labels.dtype == np.int64
    with pytest.raises(TypeError, match="only floating-point tensors can require grad, not int64"):
        Tensor(np.array([0, 2, 1]), requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        labels.requires_grad = True


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "op",
    [
        lambda x: x + 1,
        lambda x: 1.5 + x,
        lambda x: x - 2.5,
        lambda x: 3 - x,
        lambda x: x * 0.1,
        lambda x: 0.1 * x,
        lambda x: x / 3,
        lambda x: 1 / x,
        lambda x: x**2,
        lambda x: x**0.5,
        lambda x: x * np.float64(0.1),  # numpy scalars act like Python scalars (as in torch)
        lambda x: np.float64(0.1) * x,
        lambda x: x / np.int64(3),
        lambda x: x ** np.float64(2.0),
        lambda x: F.mse_loss(x, x.detach() + 1.0),
    ],
)
def test_a_scalar_takes_the_tensors_dtype(op: object, dtype: type) -> None:
    """A float32 graph never silently turns float64 because of a scalar in it."""
    x = Tensor(np.array([1.0, 2.0, 4.0], dtype=dtype), requires_grad=True)
    y = op(x)  # type: ignore[operator]
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype


# --------------------------------------------------------------------------------------------------
# Construction and attributes
def test_attributes() -> None:
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert (x.shape, x.dtype, x.ndim, x.numel(), len(x)) == ((2, 3), np.float32, 2, 6, 2)
    assert (x.size(), x.size(1), x.size(-2), x.dim()) == ((2, 3), 3, 2, 2)
    assert x.grad is None and not x.requires_grad and x.is_leaf
    assert Tensor(x).shape == (2, 3)  # a Tensor from a Tensor
    assert [row.shape for row in x] == [(3,), (3,)]
    # torch prints the dtype only when it is not the default for its kind
    assert repr(x) == "tensor([[0., 1., 2.],\n        [3., 4., 5.]])"
    assert repr(x.double()) == "tensor([[0., 1., 2.],\n        [3., 4., 5.]], dtype=float64)"


def test_repr_reads_like_torchs() -> None:
    # torch 2.13 prints exactly these
    assert repr(Tensor(3.0)) == "tensor(3.)"
    assert repr(Tensor([1.5, 2.25])) == "tensor([1.5000, 2.2500])"
    assert repr(Tensor([1, 2])) == "tensor([1, 2])"
    assert repr(Tensor([0.1, 0.2], requires_grad=True)) == "tensor([0.1000, 0.2000], requires_grad=True)"
    y = Tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], grad_fn=<MulBackward0>)"


def test_numpy_shares_memory_as_torchs_bridge() -> None:
    x = Tensor([1.0, 2.0])
    n = x.numpy()
    x.add_(1)
    assert n.tolist() == [2.0, 3.0]  # torch: the array follows the tensor
    n[0] = 100.0
    assert x[0].item() == 100.0
    w = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        w.numpy()
    assert w.detach().numpy() is w.numpy(force=True)


def test_data_and_grad_are_tensors_sharing_memory() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    assert isinstance(w.data, Tensor) and isinstance(w.grad, Tensor)
    assert not w.data.requires_grad
    w.data.sub_(0.5 * w.grad)  # torch's old-style update: in place, through .data
    assert w.tolist() == [0.0, 0.0]
    w.grad.zero_()
    assert w.grad.tolist() == [0.0, 0.0]
    with pytest.raises(TypeError, match="Tensor or None"):
        w.grad = np.zeros(2)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        w.grad = Tensor([1.0, 2.0, 3.0])


def test_item() -> None:
    assert Tensor([[2.5]]).item() == 2.5
    assert isinstance(Tensor(3.0).item(), float)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        Tensor([1.0, 2.0]).item()


def test_detach_shares_data_but_not_the_graph() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.numpy(), y.detach().numpy())


def test_astype_is_differentiable_and_casts_the_gradient_back() -> None:
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    assert x.double().float().dtype == np.float32


def test_flatten_and_argmax() -> None:
    x = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    assert x.flatten().shape == (24,)
    assert x.flatten(1).shape == (2, 12)
    np.testing.assert_array_equal(x.argmax(axis=-1).data, np.full((2, 3), 3))


def test_transpose_swaps_two_dims_and_permute_reorders_all() -> None:
    x = Tensor(np.zeros((2, 3, 4)))
    assert x.T.shape == (4, 3, 2)
    assert x.transpose(0, 2).shape == x.transpose(-1, 0).shape == (4, 3, 2)
    assert x.transpose(1, 2).shape == (2, 4, 3)
    assert x.permute(1, 0, 2).shape == x.permute((1, 0, 2)).shape == (3, 2, 4)
    assert x.permute(-1, 0, 1).shape == (4, 2, 3)


# --------------------------------------------------------------------------------------------------
# The .data setter (how optimizers and loaders write weights)
def test_data_setter_accepts_the_same_shape() -> None:
    w = Tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    new = np.ones((2, 3), dtype=np.float32)
    w.data = new
    assert w.detach().numpy() is new and w.requires_grad


def test_data_setter_refuses_another_shape_naming_both() -> None:
    w = Tensor(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(
        ValueError, match=re.escape("new shape (3, 2)") + ".*" + re.escape("(2, 3)")
    ):
        w.data = np.zeros((3, 2), dtype=np.float32)


def test_data_setter_refuses_integer_data_on_a_tensor_that_requires_grad() -> None:
    w = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        w.data = np.array([1, 2, 3])


# --------------------------------------------------------------------------------------------------
# requires_grad and no_grad
def test_requires_grad_propagates_iff_an_input_requires_it() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0])
    assert (a + b).requires_grad and (b * a).requires_grad and a.exp().requires_grad
    assert not (b + b).requires_grad and not b.exp().requires_grad
    assert (b + b).is_leaf  # no graph recorded
    y = a * b
    assert not y.is_leaf
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.requires_grad = False


def test_only_inputs_that_require_grad_get_one() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0])
    (a * b).sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    assert b.grad is None


def test_no_grad_builds_no_graph() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2).exp().sum()
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_nests_restores_after_an_exception_and_decorates() -> None:
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()
    with pytest.raises(ZeroDivisionError), no_grad():
        1 / 0  # noqa: B018
    assert is_grad_enabled()

    @no_grad()
    def evaluate(x: Tensor) -> Tensor:
        """Doc kept."""
        return x * 2

    assert not evaluate(Tensor([1.0], requires_grad=True)).requires_grad
    assert evaluate.__name__ == "evaluate" and evaluate.__doc__ == "Doc kept."
    assert is_grad_enabled()


# --------------------------------------------------------------------------------------------------
# backward
def test_backward_of_a_scalar_defaults_to_one() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    assert x.grad.shape == x.shape


def test_backward_of_a_non_scalar_requires_grad() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match=r"grad must be given.*shape \(2,\)"):
        y.backward()
    with pytest.raises(ValueError, match=re.escape("grad of shape (3,)") + ".*" + r"\(2,\)"):
        y.backward(np.ones(3))
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad, [3.0, 30.0])


def test_gradients_accumulate_across_backward_calls() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0 + 2.0, 2.0 + 4.0])


def test_leaf_gradients_are_their_own_arrays() -> None:
    """Add passes one gradient array to both inputs; accumulating into one must not touch the other
    (nor the array given to backward)."""
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    given = np.array([1.0, 1.0])
    (a + b).backward(given)
    (a * 2).sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    np.testing.assert_array_equal(given, [1.0, 1.0])
    c = Tensor([5.0, 6.0], requires_grad=True)
    c.backward(given)  # a leaf's own backward
    c.grad[0] = 100.0
    np.testing.assert_array_equal(given, [1.0, 1.0])


def test_node_reused_gets_the_summed_gradient() -> None:
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 2  # a non-leaf node used three times below
    (y * y + y + y.exp()).sum().backward()
    # d/dx of (4x^2 + 2x + exp(2x)) = 8x + 2 + 2 exp(2x)
    np.testing.assert_allclose(x.grad, 8 * x.data + 2 + 2 * np.exp(2 * x.data), rtol=1e-6)

    z = Tensor([5.0], requires_grad=True)
    (z + z + z).backward()
    np.testing.assert_array_equal(z.grad, [3.0])


def test_broadcast_gradients_are_summed_back_to_the_input_shape() -> None:
    a = Tensor(np.ones((2, 1, 3)), requires_grad=True)
    b = Tensor(np.ones(4)[:, None], requires_grad=True)  # (4, 1)
    c = Tensor(np.float64(2.0), requires_grad=True)  # 0-d
    (a * b * c).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((2, 1, 3), 8.0))
    np.testing.assert_array_equal(b.grad, np.full((4, 1), 12.0))
    assert c.grad.shape == () and c.grad == 24.0


def test_unbroadcast() -> None:
    grad = np.ones((2, 3, 4))
    assert unbroadcast(grad, (2, 3, 4)) is grad
    np.testing.assert_array_equal(unbroadcast(grad, (3, 1)), np.full((3, 1), 8.0))
    np.testing.assert_array_equal(unbroadcast(grad, (4,)), np.full(4, 6.0))
    np.testing.assert_array_equal(unbroadcast(grad, (1, 1, 1)), np.full((1, 1, 1), 24.0))
    assert unbroadcast(grad, ()) == 24.0


class Probe(Function):
    """Identity whose backward records the dtype of the gradient flowing through it."""

    def forward(self, x: np.ndarray, seen: list[np.dtype]) -> np.ndarray:
        self.seen = seen
        return x

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray]:
        self.seen.append(grad.dtype)
        return (grad,)


def test_float32_graph_gives_float32_values_and_gradients() -> None:
    """Every op, and the gradients flowing between them (not only at the leaves), stay float32."""
    seen: list[np.dtype] = []

    def probe(t: Tensor) -> Tensor:
        return Probe.apply(t, seen=seen)

    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(4, 3)).astype(np.float32))
    w = Tensor(rng.normal(size=(3, 5)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(5, dtype=np.float32), requires_grad=True)
    h = probe((x @ w + b).relu())
    h = probe(h / h.shape[1] + h.sigmoid() * 0.5 - h.tanh() ** 2 + (h + 1).sqrt().log())
    h = probe(h.softmax(axis=0) + h.log_softmax() + h.amax(axis=1, keepdims=True) + h.mean(0))
    h = h[np.array([0, 0, 3]), 1:].reshape(-1, 2).T.exp()
    h = (probe(h).double() * np.float64(1.5)).float()  # a float64 detour, its gradient cast back
    loss = F.cross_entropy(h.T, np.array([0, 1, 1, 0, 1, 0])) + F.mse_loss(h, np.ones_like(h.data))
    assert h.dtype == np.float32 and loss.dtype == np.float32
    loss.backward()
    assert seen == [np.float32] * 4
    assert w.grad.dtype == np.float32 and b.grad.dtype == np.float32
    assert np.isfinite(w.grad).all() and np.abs(w.grad).sum() > 0


def test_a_100000_op_chain_backpropagates() -> None:
    """The iterative topological sort never recurses, whatever the depth of the graph."""
    limit = sys.getrecursionlimit()
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y * 1.0 + 0.5  # two ops per step
    y.sum().backward()
    np.testing.assert_array_equal(y.data, [25_001.0, 25_002.0])
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    assert sys.getrecursionlimit() == limit


def test_the_graph_is_freed_after_backward_and_a_second_backward_raises() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])  # unchanged by the failed call


def test_retain_graph_allows_a_second_backward() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    y = (h * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad, 2 * first)
    # Another output sharing the retained part of the graph can still backward.
    x.grad = None
    h.sum().backward()
    np.testing.assert_allclose(x.grad, np.exp(x.data))


def test_backward_needs_a_tensor_that_requires_grad() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


# --------------------------------------------------------------------------------------------------
# Errors name the op and both shapes
@pytest.mark.parametrize(
    ("op", "name"),
    [(lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"), (lambda a, b: a * b, "mul")]
    + [(lambda a, b: a / b, "div")],
)
def test_broadcast_errors_name_the_op_and_both_shapes(op: object, name: str) -> None:
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4,)))
    with pytest.raises(ValueError, match=re.escape(f"{name}: shapes (2, 3) and (4,)")):
        op(a, b)  # type: ignore[operator]


def test_matmul_errors_name_both_shapes() -> None:
    a, b = Tensor(np.zeros((32, 3072))), Tensor(np.zeros((64, 10)))
    with pytest.raises(
        ValueError, match=re.escape("matmul: shapes (32, 3072) and (64, 10) are not aligned")
    ):
        a @ b
    with pytest.raises(ValueError, match=re.escape("matmul: shapes (2, 3, 4) and (5, 4, 2)")):
        Tensor(np.zeros((2, 3, 4))) @ Tensor(np.zeros((5, 4, 2)))
    with pytest.raises(ValueError, match=re.escape("matmul: shapes () and (3,)")):
        Tensor(1.0) @ Tensor(np.zeros(3))


def test_shape_errors_name_the_op_and_the_shapes() -> None:
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=re.escape("reshape: cannot reshape (2, 3) into (4, 2)")):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=re.escape("permute: dims (0, 0)")):
        x.permute(0, 0)
    with pytest.raises(ValueError, match=re.escape("transpose: dims (0, 2) out of range")):
        x.transpose(0, 2)
    with pytest.raises(IndexError, match=re.escape("index:") + ".*" + re.escape("shape (2, 3)")):
        x[5]
    with pytest.raises(
        ValueError, match=re.escape("max: cannot take the max of an empty tensor of shape (0,)")
    ):
        Tensor(np.zeros(0)).max()
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        x.sum(axis=2)


# --------------------------------------------------------------------------------------------------
# numpy interop
def test_ndarray_on_the_left_gives_a_tensor_and_a_gradient() -> None:
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    a = np.array([3.0, 4.0], dtype=np.float32)
    for y in (a + x, a - x, a * x, a / x):
        assert isinstance(y, Tensor) and y.requires_grad and y.dtype == np.float32
    y = a * x - a / x
    y.sum().backward()
    np.testing.assert_allclose(x.grad, a + a / x.data**2)

    w = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    out = a @ w
    assert isinstance(out, Tensor) and out.shape == (3,)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad, np.repeat(a[:, None], 3, axis=1))


def test_index_with_a_tensor_of_indices() -> None:
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[Tensor(np.array([3, 3, 0]))].sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 0.0, 2.0])


def test_repr_wraps_rows_as_torch() -> None:
    x = Tensor(np.linspace(-1.5, 2.0, 20, dtype=np.float32).reshape(2, 10))
    # torch 2.13 prints exactly this
    assert repr(x) == (
        "tensor([[-1.5000, -1.3158, -1.1316, -0.9474, -0.7632, -0.5789, -0.3947, -0.2105,\n"
        "         -0.0263,  0.1579],\n"
        "        [ 0.3421,  0.5263,  0.7105,  0.8947,  1.0789,  1.2632,  1.4474,  1.6316,\n"
        "          1.8158,  2.0000]])"
    )
    assert repr(Tensor([True, True])) == "tensor([True, True])"
    assert repr(Tensor([[True, False]])) == "tensor([[ True, False]])"
    assert x.shape == x.size() == (2, 10)  # a plain tuple (torch: torch.Size, a tuple subclass)
