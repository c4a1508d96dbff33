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

from tinygrad_be.nn import functional, init, utils
from tinygrad_be.nn.activation import (
    GELU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    ReLU6,
    Sigmoid,
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
    "Tanh",
    "Unflatten",
    "functional",
    "init",
    "load",
    "save",
    "utils",
]
