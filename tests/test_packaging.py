"""The install: every package of the source tree is in what `pip install .` (a wheel) ships."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
setuptools = pytest.importorskip("setuptools", reason="setuptools builds the project")


def test_every_package_directory_is_shipped() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = set(setuptools.find_packages(where=str(ROOT), include=include))
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("tinygrad_be", "models")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert {"tinygrad_be.nn", "tinygrad_be.optim", "tinygrad_be.utils", "tinygrad_be.vision"} <= on_disk
    assert on_disk - shipped == set(), "packages a wheel would leave out"
    assert shipped - on_disk == set(), "the include patterns pick up directories outside the project"
