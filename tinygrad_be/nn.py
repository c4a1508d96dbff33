"""Building blocks for models, in the shape of `torch.nn`, and safe checkpoints.

A model is a `Module`: it computes in `forward`, and every `Tensor` or sub-`Module` stored on it as
an attribute (also inside a list, tuple or dict) is found automatically. That gives, for free,
`parameters()`, `named_parameters()`, `zero_grad()`, `train()` / `eval()`, `state_dict()`,
`load_state_dict()`, `save()` / `load()`, `astype()` and a readable `repr`.

>>> import numpy as np
>>> from tinygrad_be import nn
>>> model = nn.Sequential(nn.Linear(3072, 512), nn.ReLU(), nn.Linear(512, 10))
>>> logits = model(np.zeros((32, 3072), np.float32))      # Tensor (32, 10)
>>> model.save("model.npz")                                # atomic; read back with model.load()

Checkpoints are `.npz` archives of plain numeric arrays. `save(path, state)` writes a dict (nested
dicts allowed) to a temporary file in the target directory and renames it into place with
`os.replace`, so a crash half way through never leaves a truncated checkpoint; `load(path)` reads
with `allow_pickle=False`, so a file carrying a pickled object is refused instead of run.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

import tinygrad_be.functional as F
from tinygrad_be import conv as _conv
from tinygrad_be import rng as _rng
from tinygrad_be.tensor import Tensor

__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "MaxPool2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "GELU",
    "Identity",
    "IncompatibleKeys",
    "Linear",
    "LayerNorm",
    "LeakyReLU",
    "LogSoftmax",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "load",
    "save",
    "utils",
]


def Parameter(data: Any, dtype: Any = None) -> Tensor:  # noqa: N802  (named like torch.nn.Parameter)
    """A Tensor that requires grad: what a custom Module stores as a trainable weight.

    Unlike torch, there is no Parameter class: every Tensor attribute of a Module is one of its
    parameters, and this helper only saves typing `requires_grad=True`.
    """
    return Tensor(data, requires_grad=True, dtype=dtype)


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _members(value: Any, name: str) -> Iterator[tuple[str, Tensor | Module]]:
    """(dotted name, object) for each Tensor or Module in `value`, looking inside lists and dicts."""
    if isinstance(value, (Tensor, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _members(item, f"{name}.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _members(item, f"{name}.{key}")


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` skipped: keys the model has but the state lacks, and
    keys the state has but the model lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model: subclass it, store layers and weights as attributes in
    `__init__`, and compute in `forward`.

    >>> class MLP(Module):
    ...     def __init__(self):
    ...         self.hidden = Linear(784, 128)
    ...         self.out = Linear(128, 10)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())

    Calling `super().__init__()` is allowed but not needed. Every `Tensor` attribute is a
    parameter (give trainable ones `requires_grad=True`, or create them with `Parameter`), so keep
    intermediate results such as activations in local variables, not on `self`.
    """

    training: bool = True  # class default, so subclasses need not call super().__init__()
    # Names of attributes holding buffers: numpy arrays that are state but not parameters (batch
    # norm's running statistics). Saved and loaded with the model, converted by astype, never
    # handed to an optimizer. Set by `register_buffer`.
    _buffer_names: tuple[str, ...] = ()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ----------------------------------------------------------------------------------------------
    # Finding parameters and sub-modules
    def _attributes(self) -> Iterable[tuple[str, Any]]:
        """(name, value) pairs searched for parameters and sub-modules; Sequential overrides it."""
        return vars(self).items()

    def _own_members(self) -> Iterator[tuple[str, Tensor | Module]]:
        for name, value in self._attributes():
            yield from _members(value, name)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules, each once, with their attribute names ("layers.0" in a list)."""
        seen: set[int] = set()
        for name, member in self._own_members():
            if isinstance(member, Module) and id(member) not in seen:
                seen.add(id(member))
                yield name, member

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named `prefix`) and every sub-module below it, each once, parents first."""
        seen: set[int] = set()  # a module shared (or referring back to a parent) is visited once
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(children))  # reversed: pop them in definition order

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, Tensor) for every parameter, in a stable order: each module's own Tensors
        (in attribute order), then its sub-modules'. A Tensor shared by several modules comes once,
        under its first name (the same order and names as `state_dict`)."""
        seen: set[Tensor] = set()  # Tensors hash by identity
        for module_name, module in self.named_modules():
            for name, member in module._own_members():
                if isinstance(member, Tensor) and member not in seen:
                    seen.add(member)
                    yield (f"{module_name}.{name}" if module_name else name), member

    def parameters(self) -> list[Tensor]:
        """Every parameter Tensor, each once, in `named_parameters` order (a list, not a generator,
        so it can be iterated more than once)."""
        return [tensor for _, tensor in self.named_parameters()]

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Store `array` as the buffer `name` (an attribute): state that is not trained."""
        if not isinstance(array, np.ndarray):
            raise TypeError(f"register_buffer: {name!r} must be a numpy array, got {type(array)}")
        setattr(self, name, array)
        if name not in self._buffer_names:
            self._buffer_names = (*self._buffer_names, name)

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        """(dotted name, array) for every buffer of this module and its sub-modules."""
        for module_name, module in self.named_modules():
            for name in module._buffer_names:
                yield (f"{module_name}.{name}" if module_name else name), getattr(module, name)

    def buffers(self) -> list[np.ndarray]:
        return [array for _, array in self.named_buffers()]

    def _buffer_owners(self) -> dict[str, tuple[Module, str]]:
        """dotted buffer name -> (the module holding it, its attribute name)."""
        return {
            (f"{module_name}.{name}" if module_name else name): (module, name)
            for module_name, module in self.named_modules()
            for name in module._buffer_names
        }

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalars in the parameters (only those that require grad if asked)."""
        return sum(t.numel() for t in self.parameters() if t.requires_grad or not trainable_only)

    # ----------------------------------------------------------------------------------------------
    # Training helpers
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's `.grad` before the next backward (gradients accumulate).

        `set_to_none=True` (torch's default) drops the arrays; False fills them with zeros in place.
        """
        for tensor in self.parameters():
            if set_to_none:
                tensor.grad = None
            elif tensor.grad is not None:
                tensor.grad.fill(0)

    def train(self, mode: bool = True) -> Module:
        """Set the `training` flag of this module and all below it (Dropout reads it)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: `train(False)`. Dropout becomes the identity."""
        return self.train(False)

    def astype(self, dtype: Any) -> Module:
        """Convert every parameter (and its gradient) and every floating buffer to the floating
        dtype `dtype`, in place.

        float64 for gradient checks, float32 for speed. Create optimizers after converting: their
        state keeps the dtype the parameters had when it was created.
        """
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"astype: parameters must stay floating point, not {dtype}")
        for tensor in self.parameters():
            tensor.data = tensor.data.astype(dtype, copy=False)
            if tensor.grad is not None:
                tensor.grad = tensor.grad.astype(dtype, copy=False)
        for module, name in self._buffer_owners().values():
            array = getattr(module, name)
            if np.issubdtype(array.dtype, np.floating):  # counters stay integers
                setattr(module, name, array.astype(dtype, copy=False))
        return self

    def double(self) -> Module:
        return self.astype(np.float64)

    def float(self) -> Module:
        return self.astype(np.float32)

    # ----------------------------------------------------------------------------------------------
    # State
    def state_dict(self) -> dict[str, np.ndarray]:
        """name -> copy of the array, for every parameter (in `named_parameters` order), then
        every buffer (e.g. "1.running_mean", "1.num_batches_tracked", torch's names)."""
        state = {name: tensor.data.copy() for name, tensor in self.named_parameters()}
        state.update((name, array.copy()) for name, array in self.named_buffers())
        return state

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy the arrays of `state` (as made by `state_dict`) into the parameters and buffers.

        Everything is checked before anything is changed: a key the model lacks or lacks in the
        state (when `strict`), a shape or a dtype that differs (always) raises a ValueError naming
        every offending key, and the model is left exactly as it was. Returns the keys skipped
        with `strict=False`.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict: expected a dict of arrays, got {type(state).__name__}"
            )
        params: dict[str, Any] = dict(self.named_parameters())
        buffer_owners = self._buffer_owners()
        params.update((name, getattr(module, attr)) for name, (module, attr) in buffer_owners.items())
        missing = [name for name in params if name not in state]
        unexpected = [key for key in state if key not in params]
        problems: list[str] = []
        if strict:
            for name in missing:
                tensor = params[name]
                problems.append(
                    f"missing key {name!r} (shape {tensor.shape}, dtype {tensor.dtype})"
                )
            for key in unexpected:
                hint = (
                    " (a nested dict: pass that entry instead)"
                    if isinstance(state[key], Mapping)
                    else ""
                )
                problems.append(f"unexpected key {key!r}{hint}")
        arrays: dict[str, np.ndarray] = {}
        for name, tensor in params.items():
            if name not in state:
                continue
            value = state[name]
            if isinstance(value, Tensor):
                value = value.data
            if not isinstance(value, (np.ndarray, np.generic)):
                problems.append(f"key {name!r}: expected a numpy array, got {type(value).__name__}")
            elif value.shape != tensor.shape:
                problems.append(
                    f"key {name!r}: shape {value.shape} in the state, {tensor.shape} in the model"
                )
            elif value.dtype != tensor.dtype:
                problems.append(
                    f"key {name!r}: dtype {value.dtype} in the state, {tensor.dtype} in the model "
                    f"(convert the model with .astype({value.dtype.name}) first, or the arrays)"
                )
            else:
                arrays[name] = value
        if problems:
            raise ValueError(
                f"load_state_dict: refused for {type(self).__name__}, nothing was changed:\n  "
                + "\n  ".join(problems)
            )
        for name, value in arrays.items():  # every check passed: now it cannot fail half way
            if name in buffer_owners:
                module, attr = buffer_owners[name]
                setattr(module, attr, np.array(value, order="C", copy=True))
            else:
                params[name].data = np.array(value, order="C", copy=True)
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict()` to the `.npz` file `path`, atomically (see `nn.save`)."""
        save(path, self.state_dict())

    def load(self, path: str | os.PathLike[str], strict: bool = True) -> Module:
        """Load parameters saved by `save(path)` into this model (see `load_state_dict`)."""
        self.load_state_dict(load(path), strict=strict)
        return self

    # ----------------------------------------------------------------------------------------------
    # Printing
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  {self.extra_repr()}"] if self.extra_repr() else []
        for name, child in children:
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


# --------------------------------------------------------------------------------------------------
# Layers
class Linear(Module):
    """y = x @ weight + bias, for x of shape (..., in_features) -> y of shape (..., out_features).

    `weight` is (in_features, out_features) (the lab's convention; torch stores its transpose) and
    `bias` is (out_features,). Both start uniform in +-1/sqrt(in_features), as in torch, drawn from
    `rng` or else the library's default generator (`tinygrad_be.manual_seed`).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        if int(in_features) <= 0 or int(out_features) <= 0:
            raise ValueError(
                f"Linear: in_features and out_features must be positive, got {in_features}, "
                f"{out_features}"
            )
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"Linear: dtype must be floating point, not {dtype}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        generator = _rng.resolve(rng)
        bound = 1.0 / math.sqrt(self.in_features)
        shape = (self.in_features, self.out_features)
        self.weight = Tensor(
            generator.uniform(-bound, bound, shape).astype(dtype), requires_grad=True
        )
        self.bias: Tensor | None = None
        if bias:
            values = generator.uniform(-bound, bound, self.out_features).astype(dtype)
            self.bias = Tensor(values, requires_grad=True)

    def forward(self, x: Tensor | np.ndarray) -> Tensor:
        if not isinstance(x, (Tensor, np.ndarray)):
            x = Tensor(x)
        weight = self.weight
        # One cheap test on the hot path; the detailed message only when it fails.
        if x.ndim == 0 or x.shape[-1] != self.in_features or x.dtype != weight.dtype:
            self._refuse(x)
        out = x @ weight
        return out if self.bias is None else out + self.bias

    def _refuse(self, x: Tensor | np.ndarray) -> None:
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}): input shape {tuple(x.shape)} "
                f"does not end in in_features={self.in_features} (weight shape {self.weight.shape})"
            )
        raise TypeError(
            f"Linear({self.in_features}, {self.out_features}): input dtype {x.dtype} differs from "
            f"the weight dtype {self.weight.dtype}; convert the input (x.astype(np."
            f"{self.weight.dtype.name})) or the model (model.astype(...))"
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Sequential(Module):
    """Modules applied one after the other: `Sequential(a, b, c)(x) == c(b(a(x)))`.

    Indexable (`model[0]`, `model[1:]` is a Sequential), has a length, iterates over its layers.
    Parameter names start with the layer's position: "0.weight", "2.bias".
    """

    def __init__(self, *modules: Module) -> None:
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: argument {i} is a {type(module).__name__}, not a Module"
                )
        self._layers: list[Module] = list(modules)

    def _attributes(self) -> Iterable[tuple[str, Any]]:
        return [(str(i), layer) for i, layer in enumerate(self._layers)]

    def forward(self, x: Any) -> Any:
        for layer in self._layers:
            x = layer(x)
        return x

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self._layers.append(module)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def forward(self, x: Any) -> Any:
        return x


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise and overflow-free."""

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class Softmax(Module):
    """exp(x) / sum(exp(x)) along `axis` (torch calls it `dim`)."""

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """log(softmax(x)) along `axis`, computed stably."""

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Flatten(Module):
    """Merge the axes from `start_dim` on: (N, 3, 32, 32) -> (N, 3072) with the default 1."""

    def __init__(self, start_dim: int = 1) -> None:
        self.start_dim = start_dim

    def forward(self, x: Any) -> Tensor:
        return _as_tensor(x).flatten(self.start_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability `p` and scale the rest by
    1 / (1 - p), so the expected output equals the input; in eval mode, the identity.

    Masks are drawn from `rng`, or else from the library's default generator at call time.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = rng

    def forward(self, x: Any) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        x = _as_tensor(x)
        if self.p == 1.0:
            return x * 0.0
        draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        keep = _rng.resolve(self.rng).random(x.shape, dtype=draw_dtype) >= self.p
        mask = np.multiply(keep, 1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * Tensor._wrap(mask)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# --------------------------------------------------------------------------------------------------
# Convolutional networks (the ops are in conv.py and norm.py)
class Conv2d(Module):
    """2-D convolution of x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo) (see `F.conv2d`).

    `weight` is (out_channels, in_channels, kh, kw) (torch's layout) and `bias` (out_channels,); both
    start uniform in +-1/sqrt(in_channels·kh·kw), torch's default initialisation, drawn from `rng`
    or else the library's default generator.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        dtype: Any = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        if int(in_channels) <= 0 or int(out_channels) <= 0:
            raise ValueError(
                f"Conv2d: in_channels and out_channels must be positive, got {in_channels}, "
                f"{out_channels}"
            )
        kh, kw = _conv._pair("Conv2d", "kernel_size", kernel_size)
        if kh <= 0 or kw <= 0:
            raise ValueError(f"Conv2d: kernel size must be positive, got {kernel_size!r}")
        dtype = _floating_dtype("Conv2d", dtype)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = (kh, kw)
        self.stride = _conv._pair("Conv2d", "stride", stride)
        self.padding = _conv._pair("Conv2d", "padding", padding)
        generator = _rng.resolve(rng)
        bound = 1.0 / math.sqrt(self.in_channels * kh * kw)
        shape = (self.out_channels, self.in_channels, kh, kw)
        self.weight = Tensor(
            generator.uniform(-bound, bound, shape).astype(dtype), requires_grad=True
        )
        self.bias: Tensor | None = None
        if bias:
            values = generator.uniform(-bound, bound, self.out_channels).astype(dtype)
            self.bias = Tensor(values, requires_grad=True)

    def forward(self, x: Any) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"  # always, as torch prints it
        text += f", padding={self.padding}" if self.padding != (0, 0) else ""
        return text + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    """Max over kernel_size windows (see `F.max_pool2d`); stride defaults to kernel_size."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def forward(self, x: Any) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    """Mean over kernel_size windows (see `F.avg_pool2d`); stride defaults to kernel_size."""

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    """Average-pool to `output_size` (which must divide the input size); 1 is global pooling."""

    def __init__(self, output_size: int | tuple[int, int]) -> None:
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """Max-pool to `output_size` (which must divide the input size); 1 is global pooling."""

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_max_pool2d(x, self.output_size)


class _BatchNorm(Module):
    """Batch normalisation over `num_features` channels (see `F.batch_norm`).

    Training mode normalises with the batch's statistics and updates the running statistics
    (buffers `running_mean`, `running_var`, `num_batches_tracked`, torch's names; `momentum=None`
    makes them a cumulative average); eval mode normalises with the running statistics. With
    `affine=True` a per-channel `weight` (ones) and `bias` (zeros) are learned.
    """

    expected_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        if int(num_features) <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, got {num_features}")
        dtype = _floating_dtype(type(self).__name__, dtype)
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight: Tensor | None = None
        self.bias: Tensor | None = None
        if affine:
            self.weight = Tensor(np.ones(self.num_features, dtype), requires_grad=True)
            self.bias = Tensor(np.zeros(self.num_features, dtype), requires_grad=True)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def forward(self, x: Any) -> Tensor:
        x = _as_tensor(x)
        if x.ndim not in self.expected_dims:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): expected a {' or '.join(f'{d}-D' for d in self.expected_dims)} "
                f"input, got shape {x.shape}"
            )
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): input has {x.shape[1]} channels "
                f"(shape {x.shape})"
            )
        track = self.training and self.track_running_stats
        momentum = self.momentum
        if track:
            self.num_batches_tracked += 1
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean if self.track_running_stats else None,
            self.running_var if self.track_running_stats else None,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=0.0 if momentum is None else momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of x (N, C) per feature."""

    expected_dims = (2,)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of x (N, C, H, W) per channel."""

    expected_dims = (4,)


def _floating_dtype(owner: str, dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{owner}: dtype must be floating point, not {dtype}")
    return dtype


# --------------------------------------------------------------------------------------------------
# Embeddings, layer norm, more activations
class Embedding(Module):
    """A lookup table: integer indices of any shape (*) -> rows of `weight` (*, embedding_dim).

    `weight` (num_embeddings, embedding_dim) starts standard normal, as in torch; the row
    `padding_idx` (if given) starts at zero and gets no gradient.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype: Any = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        if int(num_embeddings) <= 0 or int(embedding_dim) <= 0:
            raise ValueError(
                f"Embedding: num_embeddings and embedding_dim must be positive, got "
                f"{num_embeddings}, {embedding_dim}"
            )
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} is out of range for "
                    f"{self.num_embeddings} embeddings"
                )
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        shape = (self.num_embeddings, self.embedding_dim)
        values = _rng.resolve(rng).standard_normal(shape).astype(dtype)
        if padding_idx is not None:
            values[padding_idx] = 0
        self.weight = Tensor(values, requires_grad=True)

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight, padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class LayerNorm(Module):
    """Normalise over the last dims `normalized_shape` to mean 0 and variance 1 (biased), then
    scale by `weight` (ones) and shift by `bias` (zeros), as torch.nn.LayerNorm."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        self.weight: Tensor | None = None
        self.bias: Tensor | None = None
        if elementwise_affine:
            self.weight = Tensor(np.ones(self.normalized_shape, dtype), requires_grad=True)
            if bias:
                self.bias = Tensor(np.zeros(self.normalized_shape, dtype), requires_grad=True)

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}"
        )


class GELU(Module):
    """x * Phi(x), Phi the standard normal CDF; `approximate="tanh"` uses torch's tanh formula."""

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


from tinygrad_be import nn_utils as utils  # noqa: E402  (nn.utils.clip_grad_norm_, as torch)

# --------------------------------------------------------------------------------------------------
# Checkpoints
_RESERVED_KEYS = ("file", "allow_pickle")  # np.savez's own argument names


def _flatten(state: Mapping[str, Any], prefix: str, out: dict[str, np.ndarray]) -> None:
    """Nested dicts -> flat {"outer/inner": array}; Tensors and numbers become arrays."""
    for key, value in state.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"save: keys must be non-empty strings without '/', got {key!r}")
        name = prefix + key
        if isinstance(value, Mapping):
            _flatten(value, name + "/", out)
            continue
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype.hasobject:
            raise TypeError(
                f"save: entry {name!r} ({type(value).__name__}) is not an array of numbers, bools "
                "or strings; checkpoints hold no Python objects"
            )
        if name in _RESERVED_KEYS:
            raise ValueError(f"save: {name!r} cannot be a top-level key (np.savez reserves it)")
        out[name] = array


def _unflatten(flat: Mapping[str, np.ndarray], path: str) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for name, array in flat.items():
        *outer, last = name.split("/")
        node = nested
        for key in outer:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"load: {path}: entry {name!r} clashes with entry {key!r}")
        if last in node:
            raise ValueError(f"load: {path}: entry {name!r} clashes with a nested entry")
        node[last] = array
    return nested


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def save(path: str | os.PathLike[str], state: Mapping[str, Any]) -> None:
    """Write `state` to the `.npz` file `path`, atomically.

    `state` maps names to arrays, Tensors, numbers, bools or strings, or to nested dicts of them
    (stored as "outer/inner" entries), e.g. `{"model": model.state_dict(), "optimizer":
    optimizer.state_dict(), "epoch": 7}`. Python objects are refused. The archive is written to a
    temporary file in the same directory, flushed to disk, then renamed over `path` with
    `os.replace`: readers see the old file or the new one, never half of one.
    """
    arrays: dict[str, np.ndarray] = {}
    _flatten(state, "", arrays)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: directory {directory!r} does not exist")
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, allow_pickle=False, **arrays)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.chmod(temp, 0o666 & ~_current_umask())  # mkstemp makes 0600; a saved file is ordinary
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by `save` (or by `np.savez`) into a dict of numpy arrays.

    Nested dicts come back nested; numbers come back as 0-d arrays (use `int(...)`, `float(...)`).
    The file is read with `allow_pickle=False`: an object array (which could run code when
    unpickled) is refused with a ValueError, as is anything that is not a valid `.npz` archive.
    """
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as error:  # numpy refuses pickled files when allow_pickle=False
        raise ValueError(f"load: {path} is not a .npz checkpoint ({error})") from None
    except (zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"load: {path} is a truncated or corrupt .npz archive ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {path} holds a single .npy array, not a .npz checkpoint")
    flat: dict[str, np.ndarray] = {}
    with archive:
        for name in archive.files:
            try:
                flat[name] = archive[name]
            except ValueError as error:
                raise ValueError(
                    f"load: refused {path}: entry {name!r} cannot be read safely ({error}); "
                    "checkpoints must hold only numeric arrays"
                ) from None
            except (zipfile.BadZipFile, EOFError, OSError) as error:
                raise ValueError(f"load: {path}: entry {name!r} is corrupt ({error})") from None
    return _unflatten(flat, path)
