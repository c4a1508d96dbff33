"""Shared test configuration: hypothesis profiles and seeded randomness."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# `ci` is derandomized so a CI run is reproducible; `dev` explores new examples each run.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=30,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=30,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, fresh for every test."""
    return np.random.default_rng(0)
