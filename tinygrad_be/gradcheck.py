"""Check analytic gradients against central finite differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_be.backend import to_host
from tinygrad_be.tensor import Tensor, no_grad

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the finite-difference estimate."""


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    grad_output: Any = None,
) -> bool:
    """Compare the gradient of `sum(fn(*inputs) * grad_output)` with central finite differences.

    Every element of every input Tensor that requires grad is checked: element i is moved by +eps
    and -eps and (f(+) - f(-)) / (2 eps) is compared with the analytic gradient, which must lie within
    `atol + rtol * |numerical|`. `grad_output` (the output weighting, the output's shape) defaults to
    ones, i.e. `fn(*inputs).sum()`; a random weighting catches more mistakes (the sum of a softmax
    is constant, so its plain sum has zero gradient).

    Returns True, or raises `GradcheckError` naming the input, the worst element and both values.
    Inputs must be float64: float32 finite differences are too noisy to mean anything.
    """
    checked = [(i, x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input is a Tensor with requires_grad=True")
    for i, x in checked:
        if x.dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {x.dtype}; finite differences need float64 inputs "
                "(float32 differences are too noisy to mean anything)"
            )

    saved = [(x, x.grad, x._data) for _, x in checked]
    try:
        for _, x in checked:
            x.grad = None
            x._data = x._data.copy()  # perturbed in place below; the caller's array stays intact
        out = fn(*inputs)
        weights = np.ones(out.shape) if grad_output is None else np.asarray(grad_output, np.float64)
        if weights.shape != out.shape:
            raise ValueError(
                f"gradcheck: grad_output shape {weights.shape} does not match output {out.shape}"
            )
        out.backward(weights)

        def weighted_output() -> float:
            with no_grad():
                return float((to_host(fn(*inputs)._data).astype(np.float64) * weights).sum())

        for position, x in checked:
            analytic = np.zeros(x.shape) if x.grad is None else to_host(x.grad._data)
            numerical = np.empty(x.shape)
            flat = x._data.reshape(-1)
            for k in range(flat.size):
                original = flat[k]
                flat[k] = original + eps
                plus = weighted_output()
                flat[k] = original - eps
                minus = weighted_output()
                flat[k] = original
                numerical.flat[k] = (plus - minus) / (2 * eps)
            excess = np.abs(analytic - numerical) - (atol + rtol * np.abs(numerical))
            # A non-finite value on either side fails too: NaN compares false with everything, so
            # a NaN finite difference (a step across a singular point) would otherwise pass.
            if (excess > 0).any() or not np.isfinite(excess).all():
                worst = np.unravel_index(
                    int(np.nanargmax(np.where(np.isfinite(excess), excess, np.inf))), x.shape
                )
                raise GradcheckError(
                    f"gradcheck: input {position} (shape {x.shape}), element {tuple(map(int, worst))}: "
                    f"analytic {float(analytic[worst])!r} vs numerical {float(numerical[worst])!r} "
                    f"(|difference| {abs(analytic[worst] - numerical[worst]):.3g} > "
                    f"atol {atol} + rtol {rtol} * |numerical|)"
                )
    finally:
        for x, grad, data in saved:
            x.grad, x._data = grad, data
    return True
