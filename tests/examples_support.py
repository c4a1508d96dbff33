"""Loading the scripts of examples/ as modules, for the tests that run them end to end."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_example(name: str) -> ModuleType:
    """examples/<name>.py as a module (its `main(argv)` runs the example)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses/pickling inside need the module registered
    spec.loader.exec_module(module)
    return module
