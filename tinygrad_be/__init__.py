"""tinygrad_be: a small, fast, readable reverse-mode autograd framework on numpy.

>>> from tinygrad_be import Tensor, no_grad
>>> import tinygrad_be.nn.functional as F
"""

from tinygrad_be.gradcheck import GradcheckError, gradcheck
from tinygrad_be.tensor import (
    Function,
    Tensor,
    cat,
    enable_grad,
    from_numpy,
    is_grad_enabled,
    maximum,
    minimum,
    no_grad,
    set_grad_enabled,
    stack,
    where,
)

from tinygrad_be import nn, optim, utils  # isort: skip  (they build on the engine above)
from tinygrad_be.nn import load, save
from tinygrad_be.rng import manual_seed

__all__ = [
    "Function",
    "GradcheckError",
    "Tensor",
    "cat",
    "enable_grad",
    "from_numpy",
    "maximum",
    "minimum",
    "set_grad_enabled",
    "stack",
    "where",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "utils",
    "load",
    "manual_seed",
    "nn",
    "optim",
    "save",
]
__version__ = "0.1.0"
