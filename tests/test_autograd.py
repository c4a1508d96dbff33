"""tinygrad_be.autograd (the torch-style custom Function, grad, gradcheck) and the engine's torch
semantics that torch code relies on: backward(gradient=), grad_fn.next_functions, item
assignment recorded in the graph. Expected values were computed with torch 2.13 and pasted here.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_be as torch
from tinygrad_be import Function, Tensor, autograd, gradcheck
from tinygrad_be.autograd import Variable


class Legendre3(autograd.Function):
    """P3(x) = scale * (5x^3 - 3x) / 2, written as torch's tutorial-style custom op."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return scale * 0.5 * (5 * x**3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * ctx.scale * 1.5 * (5 * x**2 - 1), None


def test_torch_style_function_matches_torch() -> None:
    x = torch.tensor([0.5, -1.25, 2.0], requires_grad=True)
    y = Legendre3.apply(x, 2.0)
    np.testing.assert_allclose(y.detach().numpy(), [-0.8750, -6.015625, 34.0])
    assert repr(y.grad_fn).startswith("<Legendre3Backward") and y.grad_fn.name() == "Legendre3Backward"
    (y * torch.tensor([1.0, -2.0, 0.5])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.75, -40.875, 28.5])


def test_gradcheck_works_on_both_kinds_of_custom_op() -> None:
    class Square(Function):  # the engine's array-level op
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, grad):
            return (2 * grad * self.x,)

    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    assert gradcheck(lambda t: Square.apply(t), x)
    assert gradcheck(lambda t: Legendre3.apply(t, 1.5), x, grad_output=rng.normal(size=(3, 4)))
    assert autograd.gradcheck(lambda t: Legendre3.apply(t, 1.5), (x,))


def test_needs_input_grad_and_no_graph_without_grad() -> None:
    seen = {}

    class Scale(autograd.Function):
        @staticmethod
        def forward(ctx, a, b, factor):
            seen["needs"] = ctx.needs_input_grad
            return a * b * factor

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    a, b = torch.ones(2, requires_grad=True), torch.ones(2)
    out = Scale.apply(a, b, 3.0)
    assert seen["needs"] == (True, False, False) and out.requires_grad
    assert not Scale.apply(b, b, 1.0).requires_grad
    with torch.no_grad():
        assert Scale.apply(a, b, 1.0).grad_fn is None


def test_wrong_number_of_gradients_names_the_function() -> None:
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g  # one gradient for two arguments

    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Bad.backward returned 1 gradients; forward took 2"):
        Bad.apply(x, 2.0).sum().backward()


def test_saved_tensor_changed_in_place_is_refused() -> None:
    x = torch.ones(2, requires_grad=True)
    z = x * 1
    out = Legendre3.apply(z, 1.0)
    with torch.no_grad():
        z.mul_(2)
    with pytest.raises(RuntimeError, match="modified in place after save_for_backward"):
        out.sum().backward()


def test_engine_function_returning_a_bare_scalar_names_itself() -> None:
    class Half(Function):
        saves_inputs = saves_output = False

        def forward(self, x):
            return x / 2

        def backward(self, grad):
            return grad.sum() * 0.5  # of a 0-d input: a bare numpy scalar, not a tuple

    class Broken(Function):
        def forward(self, x):
            return x

        def backward(self, grad):
            return "oops"

    x = torch.tensor(3.0, requires_grad=True)
    Half.apply(x).backward()
    assert x.grad.item() == 0.5
    with pytest.raises(RuntimeError, match="Broken.backward returned a str"):
        Broken.apply(x).sum().backward()


def test_backward_takes_torchs_gradient_keyword() -> None:
    x = torch.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    (x * x).backward(gradient=torch.tensor([[1.0, 0.1], [0.01, 2.0]]))
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, -0.4], [0.06, 2.0]], rtol=1e-6)
    with pytest.raises(NotImplementedError, match="create_graph"):
        (x * x).sum().backward(create_graph=True)


def test_next_functions_as_torch() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    z = (x.exp() + x).sum()
    (exp_node, _), = z.grad_fn.next_functions
    assert exp_node.name() == "AddBackward0"  # torch: AddBackward0
    (first, k), (second, _) = exp_node.next_functions
    assert first.name() == "ExpBackward0" and k == 0  # torch: ExpBackward0, AccumulateGrad
    assert second.name() == "AccumulateGrad" and second.variable is x
    assert (x * torch.ones(2)).grad_fn.next_functions[1] == (None, 0)


def test_item_assignment_without_grad_is_in_place() -> None:
    t = torch.zeros(2, 3)
    array = t.numpy()
    t[:, 1] = 5
    assert t.tolist() == [[0.0, 5.0, 0.0], [0.0, 5.0, 0.0]] and array[0, 1] == 5.0  # torch prints the same
    t[0] = torch.tensor([1, 2, 3])  # cast to the tensor's dtype, as torch
    assert t[0].tolist() == [1.0, 2.0, 3.0] and t.dtype == np.float32
    with pytest.raises(ValueError, match=r"setitem: .*tensor shape \(2, 3\), value shape \(2,\)"):
        t[0] = torch.tensor([1.0, 2.0])


def test_item_assignment_is_differentiable_as_torch() -> None:
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a * 2
    b[1] = a[0] * 10
    (b * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [22.0, 0.0, 6.0]  # torch: tensor([22., 0., 6.])

    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = w * 1
    h[0] = torch.tensor([5.0, 6.0]) * w[1]
    h.pow(2).sum().backward()
    assert w.grad.tolist() == [[0.0, 0.0], [156.0, 296.0]]  # torch

    v = torch.tensor([0.5, 1.5], requires_grad=True)
    t = torch.zeros(3)
    t[1:] = v * 3  # a tensor that needed no grad now does, as torch
    assert t.requires_grad and not t.is_leaf
    (t * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert v.grad.tolist() == [6.0, 9.0]  # torch


def test_item_assignment_keeps_earlier_uses_of_the_tensor_right() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    total = y.sum()  # Sum saved nothing: its gradient must go to y as it was
    y[0] = 0.0
    (total + y.sum()).backward()
    assert x.grad.tolist() == [3.0, 6.0]
    z = x * 2
    e = z.exp()  # Exp saved its output, not z; z changes: fine. Its output changing is not.
    z[0] = 1.0
    e.sum().backward()
    leaf = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        leaf[0] = 2.0
    m = x * 1
    product = m * m  # Mul saved m's array, which the assignment changes
    m[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        product.sum().backward()


def test_autograd_grad_returns_without_accumulating() -> None:
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (g,) = autograd.grad((w * w).sum(), w)
    assert g.tolist() == [[2.0, 4.0], [6.0, 8.0]] and w.grad is None  # torch


def test_operands_refuse_containers_as_torch() -> None:
    x = torch.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="unsupported operand type.*tuple"):
        x + (1.0, 2.0)
    with pytest.raises(TypeError, match="list"):
        x * [1.0, 2.0]


def test_in_place_methods_on_graph_tensors_are_recorded_as_torch() -> None:
    w = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    h = w * 2
    memory = h.numpy(force=True)
    h.add_(torch.ones(3), alpha=-2)
    h.relu_()
    assert h.tolist() == [0.0, 0.0, 2.0] and h.grad_fn.name() == "ReLUBackward0"  # torch: Relu...
    assert h.numpy(force=True) is memory  # the same memory throughout
    (h * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert w.grad.tolist() == [0.0, 0.0, 6.0]  # torch

    a, b = torch.zeros(3), torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a.add_(b * b)  # a needed no grad; now it is part of the graph, as torch
    assert a.requires_grad and a.grad_fn.name() == "AddBackward0"
    a.sum().backward()
    assert b.grad.tolist() == [2.0, 4.0, 6.0]  # torch

    r = w * 1
    r.relu_()
    r.add_(1.0)  # changes ReLU's saved output: torch raises at backward too
    with pytest.raises(RuntimeError, match="output of ReLU"):
        r.sum().backward()


def test_in_place_methods_write_into_the_same_array() -> None:
    t = torch.tensor([1.0, -2.0, 3.0])
    array = t.numpy()
    t.mul_(2).clamp_(min=0).sub_(1, alpha=2)
    assert array.tolist() == [0.0, -2.0, 4.0] and t._version == 3
    with pytest.raises(TypeError, match=r"add_: .* \(tensor \(3,\) int64"):
        torch.tensor([1, 2, 3]).add_(0.5)
    with pytest.raises(ValueError, match=r"add_: .*result \(2, 3\)"):
        t.add_(torch.ones(2, 3))
    torch.manual_seed(0)
    u = torch.empty(1000).uniform_(-1, 1)
    assert -1 <= u.min().item() and u.max().item() < 1 and abs(u.mean().item()) < 0.1
    n = torch.empty(1000).normal_(2.0, 0.5)
    assert abs(n.mean().item() - 2.0) < 0.1 and abs(n.std().item() - 0.5) < 0.05


def test_in_place_after_an_op_that_does_not_need_the_array() -> None:
    # torch: mul by a number keeps only the number, so changing x in place afterwards is fine
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    a = x * 1
    a.mul_(2.0)
    a.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    p = torch.tensor(3.0, requires_grad=True)
    (p * p).backward()
    (p * p).backward()
    assert type(p.grad._data) is np.ndarray and p.grad.item() == 12.0  # a 0-d array, not a scalar


# --------------------------------------------------------------------------------------------------
# Variable: old model files (the CIFAR-10 ones projects copy) import it; it acts as torch's
def test_variable_is_a_detached_alias_as_torch() -> None:
    t = torch.ones(3, requires_grad=True)
    v = Variable(t)
    assert v is not t and v.requires_grad is False and v.is_leaf
    with torch.no_grad():
        v[0] = 5.0
    np.testing.assert_array_equal(t.detach().numpy(), [5.0, 1.0, 1.0])  # torch: tensor([5., 1., 1.])
    assert isinstance(torch.ones(1), Variable)  # torch: True


def test_variable_requires_grad_makes_a_leaf_as_torch() -> None:
    v = Variable(torch.ones(2), requires_grad=True)
    assert v.requires_grad and v.is_leaf and v.dtype == torch.float32
    v2 = Variable(torch.ones(2), True)  # positional, as torch
    assert v2.requires_grad


def test_variable_refuses_what_torch_refuses() -> None:
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        Variable([1.0, 2.0])
    # torch raises RuntimeError "Only Tensors of floating point and complex dtype can require
    # gradients"; our requires_grad_ raises TypeError for the same case (an existing difference)
    with pytest.raises((RuntimeError, TypeError), match="(?i)floating"):
        Variable(torch.ones(2, dtype=torch.long), requires_grad=True)


def test_variable_volatile_warns_and_is_ignored_as_torch() -> None:
    with pytest.warns(UserWarning, match="volatile was removed"):
        v = Variable(torch.ones(2), volatile=True)
    assert v.requires_grad is False


def test_a_model_file_in_the_old_style_trains_with_variable() -> None:
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(True))
    x = Variable(torch.randn(2, 3, 8, 8))
    out = F.avg_pool2d(net(x), 8)
    out = out.view(out.size(0), -1)
    F.cross_entropy(out, Variable(torch.tensor([0, 3]))).backward()
    assert net[0].weight.grad is not None and x.grad is None
