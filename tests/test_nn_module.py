"""tinygrad_be.nn.Module, Parameter and the containers against torch.nn's behaviour: what is
registered, the names and their order, apply/to/zero_grad/requires_grad_, attribute access and
assignment rules, Sequential/ModuleList/ModuleDict. Names and messages below are torch 2.13's.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_be
from tinygrad_be import Tensor, nn, no_grad


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(tinygrad_be.ones(()))
        self.plain = tinygrad_be.ones(2, requires_grad=True)  # not a Parameter: not registered
        self.body = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3)))
        self.heads = nn.ModuleList([nn.Linear(3, 1), nn.Linear(3, 2)])
        self.extra = nn.ModuleDict({"b": nn.Linear(1, 1), "a": nn.Identity()})
        self.register_buffer("count", tinygrad_be.zeros((), dtype=tinygrad_be.long))
        self.register_buffer("tmp", tinygrad_be.zeros(1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return x


def test_registration_names_and_order_are_torchs():
    net = Net()
    # torch 2.13, the same class
    assert [k for k, _ in net.named_parameters()] == [
        "scale", "body.0.weight", "body.0.bias", "body.2.0.weight", "body.2.0.bias",
        "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias", "extra.b.weight",
        "extra.b.bias"]  # fmt: skip
    assert [k for k, _ in net.named_modules()] == [
        "", "body", "body.0", "body.1", "body.2", "body.2.0", "heads", "heads.0", "heads.1",
        "extra", "extra.b", "extra.a"]  # fmt: skip
    assert [k for k, _ in net.named_children()] == ["body", "heads", "extra"]
    assert [k for k, _ in net.named_buffers()] == ["count", "tmp"]
    assert list(net.state_dict()) == [
        "scale", "count", "body.0.weight", "body.0.bias", "body.2.0.weight", "body.2.0.bias",
        "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias", "extra.b.weight",
        "extra.b.bias"]  # fmt: skip
    assert [k for k, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert len(list(net.children())) == 3 and len(list(net.modules())) == 12


def test_apply_visits_children_first_then_self():
    order: list[str] = []
    net = Net()
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    assert order == ["Linear", "ReLU", "Linear", "Sequential", "Sequential", "Linear", "Linear",
                     "ModuleList", "Linear", "Identity", "ModuleDict", "Net"]  # fmt: skip


def test_parameter_is_a_tensor_subclass_with_torchs_repr():
    p = nn.Parameter(Tensor([1.0, 2.0]))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert type(p * 2) is Tensor  # ops give plain Tensors, as torch
    assert not nn.Parameter(tinygrad_be.ones(1), requires_grad=False).requires_grad
    source = Tensor([1.0, 2.0])
    shared = nn.Parameter(source)
    with no_grad():
        shared.add_(1)
    assert source.tolist() == [2.0, 3.0]  # Parameter(tensor) shares its memory, as torch
    assert nn.Parameter().shape == (0,)


def test_assignment_rules_are_torchs():
    net = Net()
    with pytest.raises(TypeError, match=r"cannot assign 'Tensor' as parameter 'scale' \(Parameter"):
        net.scale = tinygrad_be.ones(())
    net.scale = None  # allowed: the parameter is gone
    assert "scale" not in dict(net.named_parameters())
    with pytest.raises(TypeError, match="cannot assign 'ndarray' as buffer 'count'"):
        net.count = np.zeros(())
    net.count = tinygrad_be.ones((), dtype=tinygrad_be.long)  # a Tensor replaces the buffer
    assert int(net.state_dict()["count"]) == 1
    del net.count
    assert "count" not in net.state_dict()
    net.register_parameter("bias", nn.Parameter(tinygrad_be.zeros(2)))
    net.add_module("tail", nn.Tanh())
    assert "bias" in dict(net.named_parameters()) and net.get_submodule("tail") is net.tail
    assert net.get_parameter("body.0.weight") is net.body[0].weight
    with pytest.raises(TypeError, match="Parameter or None required"):
        net.register_parameter("w", tinygrad_be.ones(1))


def test_getattr_can_be_called_explicitly_as_torch_model_files_do():
    net = Net()
    assert net.__getattr__("body") is net.body
    assert net.body.__getattr__("0") is net.body[0]
    assert net.__getattr__("scale") is net.scale and net.__getattr__("count") is net.count
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        net.__getattr__("missing")

    class Blocks(nn.Module):  # the pattern of many CIFAR-10 model files
        def __init__(self) -> None:
            super().__init__()
            for i in range(3):
                setattr(self, "layer_%d" % i, nn.Linear(2, 2))  # noqa: UP031  (as model files write it)

        def forward(self, x):
            for i in range(3):
                x = self.__getattr__("layer_%d" % i)(x)  # noqa: UP031
            return x

    assert Blocks()(tinygrad_be.ones(4, 2)).shape == (4, 2)


def test_train_eval_requires_grad_and_zero_grad_return_and_act_as_torch():
    net = Net()
    assert net.train() is net and net.eval() is net and not net.body[0].training
    assert net.requires_grad_(False) is net and not net.scale.requires_grad
    net.requires_grad_()
    p = nn.Parameter(Tensor(2.0))
    holder = nn.Module()
    holder.p = p
    (p * p).backward()
    holder.zero_grad(set_to_none=False)  # a 0-d gradient is zeroed too (torch: tensor(0.))
    assert p.grad.item() == 0.0
    holder.zero_grad()
    assert p.grad is None


def test_to_float_double_and_devices():
    net = Net()
    assert net.to(tinygrad_be.float64) is net
    assert net.scale.dtype == np.float64 and net.count.dtype == np.int64  # counters stay ints
    assert net.float().scale.dtype == np.float32
    assert net.to("cpu", dtype=tinygrad_be.float64).body[0].weight.dtype == np.float64
    assert net.double().half().scale.dtype == np.float16
    with pytest.raises(TypeError, match="only accepts floating point"):
        net.to(tinygrad_be.int32)
    with pytest.raises(RuntimeError, match="cuda"):
        net.to("cuda")
    with pytest.raises(RuntimeError, match="cuda"):
        net.cuda()
    assert net.cpu() is net


def test_buffers_are_tensors_sharing_memory_and_load_in_place():
    bn = nn.BatchNorm1d(3)
    assert isinstance(bn.running_mean, Tensor) and bn.num_batches_tracked.shape == ()
    before = bn.running_mean
    bn(Tensor(np.arange(12.0, dtype=np.float32).reshape(4, 3)))
    assert bn.running_mean is before and int(bn.num_batches_tracked) == 1
    np.testing.assert_allclose(bn.running_mean.numpy(), [0.45, 0.55, 0.65], rtol=1e-6)
    state = bn.state_dict()
    other = nn.BatchNorm1d(3)
    array = other.running_mean.numpy()
    other.load_state_dict(state)
    assert other.running_mean.numpy() is array  # copied in place, as torch's copy_
    np.testing.assert_array_equal(array, bn.running_mean.numpy())
    assert nn.Module().register_buffer("b", None) is None


def test_sequential_indexing_slicing_and_editing_as_torch():
    seq = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Sequential(nn.Linear(1, 1)))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Sequential)
    tail = seq[1:]
    assert list(tail.state_dict()) == ["2.0.weight", "2.0.bias"]  # names kept, as torch
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Linear", "Sequential"]
    assert list(seq.state_dict())[-1] == "1.0.bias"  # renumbered, as torch
    seq.insert(0, nn.Sigmoid())
    seq.append(nn.ReLU())
    assert len(seq) == 4 and isinstance(seq[0], nn.Sigmoid)
    seq[3] = nn.Tanh()
    assert isinstance(seq[3], nn.Tanh)
    named = nn.Sequential({"conv": nn.Linear(2, 2), "act": nn.ReLU()})
    assert [k for k, _ in named.named_children()] == ["conv", "act"] and named.conv is named[0]
    with pytest.raises(IndexError):
        seq[7]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), "not a layer")


def test_module_list_and_dict_behave_like_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.ReLU())
    layers += [nn.Tanh()]
    assert len(layers) == 5 and isinstance(layers[-1], nn.Tanh)
    del layers[0]
    assert [k for k, _ in layers.named_children()] == ["0", "1", "2", "3"]
    assert len(layers.parameters()) == 4
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    assert list(heads) == ["a", "b"] and "b" in heads and len(heads) == 2
    assert [k for k, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    with pytest.raises(NotImplementedError):
        layers(Tensor(1.0))


def test_to_cuda_moves_parameters_buffers_and_state_in_place(monkeypatch, tmp_path):
    """On the "fake-cuda" device (tests/fake_cupy.py, a strict CuPy stand-in): the module trains
    there with every optimizer, checkpoints through host memory, and comes back with .cpu()."""
    import fake_cupy

    fake_cupy.install(monkeypatch)
    optimizers = (
        lambda p: tinygrad_be.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3),
        lambda p: tinygrad_be.optim.Adam(p),
        lambda p: tinygrad_be.optim.RMSprop(p, momentum=0.5, centered=True),
        lambda p: tinygrad_be.optim.Adagrad(p, weight_decay=0.1),
    )
    for make in optimizers:
        tinygrad_be.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(True),
                              nn.Dropout(0.2, True), nn.Linear(8, 3))  # fmt: skip
        weight = model[0].weight
        assert model.to("cuda") is model and model[0].weight is weight
        assert str(weight.device) == "cuda:0" and str(model[1].running_mean.device) == "cuda:0"
        optimizer = make(model.parameters())
        x, y = tinygrad_be.randn(5, 4).to("cuda"), tinygrad_be.tensor([0, 1, 2, 0, 1]).to("cuda")
        for _ in range(2):
            loss = nn.CrossEntropyLoss()(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        tinygrad_be.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()},
                         tmp_path / "gpu.npz")  # fmt: skip
        checkpoint = tinygrad_be.load(tmp_path / "gpu.npz")
        model.load_state_dict(checkpoint["model"])  # host arrays into device tensors
        assert model.cpu() is model and str(weight.device) == "cpu"
        assert str(weight.grad.device) == "cpu"
        np.testing.assert_array_equal(weight.detach().numpy(), checkpoint["model"]["0.weight"])
