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


@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory) -> list[str]:
    """Data options of the examples for a small generated CIFAR-10 archive (tests/fake_cifar.py):
    5 x 20 training and 20 test images, in a fresh cache directory."""
    from fake_cifar import make_fake_cifar_archive

    directory = tmp_path_factory.mktemp("fake_cifar")
    return ["--archive", str(make_fake_cifar_archive(directory, n_per_batch=20)),
            "--checksum", "skip", "--data-root", str(directory / "data")]  # fmt: skip


@pytest.fixture(autouse=True)
def cpu_only_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees a CPU-only install (CuPy hidden), so "cuda is not available" tests pass on
    a GPU machine too; tests/test_backend.py's "cuda" cases bring the real CuPy back."""
    from fake_cupy import hide_cupy

    hide_cupy(monkeypatch)
