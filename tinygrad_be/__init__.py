"""tinygrad_be: a small, fast, readable reverse-mode autograd framework on numpy.

>>> import tinygrad_be
>>> from tinygrad_be import Tensor, no_grad
>>> import tinygrad_be.nn.functional as F

torch's top-level names are here too (`tinygrad_be.tensor`, `zeros`, `randn`, `float32`,
`exp`, `matmul`, ...), so torch code runs with `import tinygrad_be as torch`. The function forms
of Tensor methods come from the one table `tensor.FUNCTION_FORMS`.
"""

from tinygrad_be import tensor as _tensor_module
from tinygrad_be.creation import (
    arange,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from tinygrad_be.device import device, get_default_device, set_default_device
from tinygrad_be.dtypes import (
    bool,
    double,
    float,
    float16,
    float32,
    float64,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from tinygrad_be.gradcheck import GradcheckError, gradcheck
from tinygrad_be.tensor import (
    Function,
    Tensor,
    as_tensor,
    cat,
    enable_grad,
    from_numpy,
    get_default_dtype,
    is_grad_enabled,
    is_tensor,
    maximum,
    minimum,
    no_grad,
    set_default_dtype,
    set_grad_enabled,
    stack,
    where,
)

from tinygrad_be import autograd, backends, cuda, nn, optim, utils  # isort: skip  (built on the above)
from tinygrad_be.nn import load, save  # isort: skip
from tinygrad_be.rng import manual_seed  # isort: skip

# The function forms of Tensor methods (tinygrad_be.exp(x) is x.exp()), from one table.
for _name in _tensor_module.FUNCTION_FORMS:
    globals()[_name] = _tensor_module.function_form(_name)
concat, concatenate = cat, cat  # torch's aliases

__all__ = [
    "Function",
    "GradcheckError",
    "Tensor",
    "arange",
    "as_tensor",
    "autograd",
    "backends",
    "bool",
    "cat",
    "concat",
    "concatenate",
    "cuda",
    "device",
    "double",
    "empty",
    "empty_like",
    "enable_grad",
    "eye",
    "float",
    "float16",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "full_like",
    "get_default_device",
    "get_default_dtype",
    "gradcheck",
    "half",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_grad_enabled",
    "is_tensor",
    "linspace",
    "load",
    "long",
    "manual_seed",
    "maximum",
    "minimum",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
    "save",
    "set_default_device",
    "set_default_dtype",
    "set_grad_enabled",
    "short",
    "stack",
    "tensor",
    "uint8",
    "utils",
    "where",
    "zeros",
    "zeros_like",
    *_tensor_module.FUNCTION_FORMS,
]
__version__ = "0.1.0"
