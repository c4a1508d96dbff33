"""`tinygrad_be.autograd`, as torch.autograd: the torch-style custom op, `grad`, `gradcheck`.

The engine's own op is the array-level `tinygrad_be.Function` (numpy arrays in and out, state on
`self`): that is what every op in `ops.py` is, and what to read to learn how autograd works. The
torch-style `autograd.Function` below is a thin layer over it for code written against torch:

>>> class Cube(autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x**3
...     @staticmethod
...     def backward(ctx, grad_output):
...         (x,) = ctx.saved_tensors
...         return grad_output * 3 * x**2
>>> y = Cube.apply(tinygrad_be.randn(3, requires_grad=True))

`forward` and `backward` see Tensors and run with gradient recording off; `backward` returns one
gradient per argument of `forward` (None for non-tensors and inputs that need none).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_be.backend import as_array
from tinygrad_be.gradcheck import GradcheckError
from tinygrad_be.gradcheck import gradcheck as _gradcheck
from tinygrad_be.tensor import Function as _EngineFunction
from tinygrad_be.tensor import Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["Function", "FunctionCtx", "Variable", "enable_grad", "grad", "gradcheck", "no_grad", "set_grad_enabled"]


class _VariableMeta(type):
    # As torch: every Tensor is a Variable (old model files test isinstance(x, Variable)).
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """torch.autograd.Variable, kept as torch keeps it since 0.4 so that old model files import:
    `Variable(t)` is a new Tensor sharing t's memory, detached, requiring grad only when asked."""

    def __new__(cls, data: Tensor, requires_grad: bool = False, volatile: bool = False) -> Tensor:  # type: ignore[misc]
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if volatile:
            warnings.warn(
                "volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                UserWarning,
                stacklevel=2,
            )
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out


class FunctionCtx:
    """What `forward` leaves for `backward`: saved tensors, `needs_input_grad`, any attribute."""

    needs_input_grad: tuple[bool, ...]

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep tensors (or None) for backward, read back as `ctx.saved_tensors`."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward: expects Tensors or None, got {type(t).__name__} (store "
                    "other values as attributes of ctx)"
                )
        self._saved = tuple(tensors)
        self._saved_versions = tuple(None if t is None else t._version for t in tensors)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        saved = getattr(self, "_saved", ())
        for k, (t, version) in enumerate(zip(saved, self._saved_versions, strict=True)):
            if t is not None and t._version != version:
                raise RuntimeError(
                    f"saved_tensors: saved tensor {k} (shape {t.shape}) was modified in place "
                    f"after save_for_backward (version {version} -> {t._version})"
                )
        return saved

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """Accepted for compatibility: outputs of a custom op are differentiable or not by their
        inputs here."""

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted for compatibility: gradients reaching backward are always arrays here."""


class _TorchStyleNode(_EngineFunction):
    """The engine node of a torch-style Function: calls its static `backward` with Tensors."""

    # The custom op saves what it chooses (checked by saved_tensors), not the inputs' arrays.
    saves_inputs, saves_output = False, False

    def name(self) -> str:
        return f"{self.op.__name__}Backward"

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        with no_grad():
            grads = self.op.backward(self.ctx, Tensor._wrap(grad))
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != self.argument_count:
            raise RuntimeError(
                f"{self.op.__name__}.backward returned {len(grads)} gradients; forward took "
                f"{self.argument_count} arguments: return one per argument (None for non-tensors)"
            )
        out = []
        for position in self.positions:
            g = grads[position]
            out.append(g._data if isinstance(g, Tensor) else None if g is None else as_array(g))
        return tuple(out)

    def free(self) -> None:
        self.parents = None
        self.ctx = None


class Function:
    """Base class of a torch-style custom op: write `forward(ctx, *args)` and
    `backward(ctx, *grad_outputs)` as static methods, call `apply(*args)`."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a torch-style Function must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("a torch-style Function must define a static backward(ctx, ...)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            output = cls.forward(ctx, *args, **kwargs)
        if not isinstance(output, Tensor):
            raise TypeError(
                f"{cls.__name__}.forward returned {type(output).__name__}; torch-style Functions "
                "here return one Tensor"
            )
        if not (is_grad_enabled() and any(ctx.needs_input_grad)):
            return output
        if any(output is a for a in args):  # forward returned an input: give the graph a new node
            output = Tensor._wrap(output._data)
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        node = _TorchStyleNode()
        node.op, node.ctx, node.positions, node.argument_count = cls, ctx, positions, len(args)
        parents = tuple(args[i] for i in positions)
        node.link(parents, tuple(t.requires_grad for t in parents))
        output._ctx, output._requires_grad = node, True
        return output


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of `outputs` with respect to `inputs`, returned rather than accumulated
    into the inputs' `.grad` (left as they were). Unlike torch, other leaves of the graph that
    require grad still accumulate into their `.grad` (this runs an ordinary backward)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    kept = [t._grad for t in inputs]
    retained = [t._retains_grad for t in inputs]
    try:
        for t in inputs:
            t._grad = None
            t._retains_grad = t._ctx is not None
        for out, g in zip(outputs, grad_outputs, strict=True):
            out.backward(g, retain_graph=retain_graph, create_graph=create_graph)
        found = tuple(t._grad for t in inputs)
    finally:
        for t, g, r in zip(inputs, kept, retained, strict=True):
            t._grad, t._retains_grad = g, r
    if not allow_unused and any(g is None for g in found):
        raise RuntimeError("grad: one of the inputs was not used in the graph (allow_unused=True)")
    return found


def gradcheck(
    func: Any,
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **ignored: Any,
) -> bool:
    """torch.autograd.gradcheck's signature (inputs as one tuple) over `tinygrad_be.gradcheck`."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    try:
        return _gradcheck(func, *inputs, eps=eps, atol=atol, rtol=rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False
