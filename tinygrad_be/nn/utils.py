"""`nn.utils`: helpers for training loops, as torch.nn.utils."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinygrad_be.tensor import Tensor

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale the gradients in place so that their joint norm is at most `max_norm` (torch's rule:
    factor max_norm / (norm + 1e-6) when below 1). Returns the norm before clipping, a 0-d Tensor.

    The norm is over all gradients together, as if they were one vector; parameters without a
    gradient are skipped. `norm_type` may be any p >= 1 or `inf`.
    """
    if callable(parameters) and not isinstance(parameters, Iterable):
        raise TypeError("clip_grad_norm_: parameters is a method; call it: model.parameters()")
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad._data for p in params if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    dtype = np.result_type(*grads)
    if norm_type == math.inf:
        total = max(float(np.abs(g).max()) if g.size else 0.0 for g in grads)
    else:  # per-tensor norms in float64, then their p-norm: one pass per gradient, no concatenation
        norms = [float(np.linalg.norm(g.reshape(-1).astype(np.float64), norm_type)) for g in grads]
        total = float(np.linalg.norm(np.array(norms), norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
            "pass error_if_nonfinite=False to clip anyway"
        )
    factor = float(max_norm) / (total + 1e-6)
    if factor < 1.0:
        for g in grads:
            g *= factor  # a Python float keeps each gradient's dtype
    return Tensor(np.asarray(total, dtype=dtype)).to(params[0].device)
