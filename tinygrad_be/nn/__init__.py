"""Building blocks for models, in the shape of `torch.nn`, and safe checkpoints.

A model is a `Module`: it computes in `forward`; the `Parameter`s and sub-`Module`s assigned to it
as attributes (also inside a list, tuple or dict) are found automatically, and `register_buffer`
adds state that is saved but not trained. That gives, as in torch, `parameters()`,
`named_parameters()`, `zero_grad()`, `train()` / `eval()`, `to()`, `apply()`, `state_dict()`,
`load_state_dict()` and a readable `repr`.

>>> import numpy as np
>>> from tinygrad_be import nn
>>> model = nn.Sequential(nn.Linear(3072, 512), nn.ReLU(), nn.Linear(512, 10))
>>> logits = model(np.zeros((32, 3072), np.float32))      # Tensor (32, 10)
>>> nn.save(model.state_dict(), "model.npz")               # atomic; nn.load("model.npz")

Checkpoints are `.npz` archives of plain numeric arrays, written atomically (a temporary file
renamed into place) and read with `allow_pickle=False`: a file carrying a pickled object is
refused instead of run (see `nn.checkpoint`).
"""

from __future__ import annotations

from tinygrad_be.nn import functional, init, utils
from tinygrad_be.nn.activation import (
    GELU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from tinygrad_be.nn.checkpoint import load, save
from tinygrad_be.nn.container import ModuleDict, ModuleList, Sequential
from tinygrad_be.nn.conv import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, Conv2d, MaxPool2d
from tinygrad_be.nn.dropout import Dropout
from tinygrad_be.nn.flatten import Flatten, Unflatten
from tinygrad_be.nn.linear import Embedding, Identity, Linear
from tinygrad_be.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from tinygrad_be.nn.module import IncompatibleKeys, Module
from tinygrad_be.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from tinygrad_be.nn.parameter import Parameter

__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GELU",
    "Hardtanh",
    "Identity",
    "IncompatibleKeys",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "ReLU6",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "SiLU",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
    "load",
    "save",
    "utils",
]
