"""tinygrad_be.nn.init: torch's formulas (gains, fans, bounds), in place, seeded; the draws are
checked by their range and spread (torch's random numbers are not reproduced)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_be
from tinygrad_be import nn
from tinygrad_be.nn import init


def test_gains_match_torch():
    # torch 2.13: calculate_gain of relu, tanh, leaky_relu(0.2), selu, sigmoid
    assert init.calculate_gain("relu") == 1.4142135623730951
    assert init.calculate_gain("tanh") == 1.6666666666666667
    assert init.calculate_gain("leaky_relu", 0.2) == 1.3867504905630728
    assert init.calculate_gain("selu") == 0.75 and init.calculate_gain("sigmoid") == 1
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_fills_are_in_place_seeded_and_follow_torchs_bounds():
    conv = nn.Conv2d(16, 64, 3)
    weight = conv.weight
    array = weight.detach().numpy()
    tinygrad_be.manual_seed(0)
    assert init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu") is weight
    assert weight.detach().numpy() is array and weight._version == 1
    std = math.sqrt(2) / math.sqrt(64 * 9)  # gain / sqrt(fan_out)
    assert abs(array.std() / std - 1) < 0.05
    first = array.copy()
    tinygrad_be.manual_seed(0)
    init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu")
    np.testing.assert_array_equal(array, first)
    init.kaiming_uniform_(weight, a=math.sqrt(5))  # torch's own default for Conv2d/Linear
    bound = init.calculate_gain("leaky_relu", math.sqrt(5)) * math.sqrt(3 / (16 * 9))
    assert np.abs(array).max() <= bound and np.abs(array).max() > 0.95 * bound
    linear = nn.Linear(30, 20)
    init.xavier_uniform_(linear.weight)
    assert np.abs(linear.weight.detach().numpy()).max() <= math.sqrt(6 / 50)
    init.zeros_(linear.bias)
    init.constant_(conv.bias, 0.5)
    assert not linear.bias.detach().numpy().any() and (conv.bias.detach().numpy() == 0.5).all()
    init.ones_(linear.bias)
    init.trunc_normal_(linear.weight, std=1.0, a=-0.5, b=0.5)
    assert np.abs(linear.weight.detach().numpy()).max() <= 0.5
    with pytest.raises(ValueError, match="at least 2 dims"):
        init.xavier_normal_(linear.bias)
