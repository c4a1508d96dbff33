"""`benchmarks/conv_bench.py --quick` runs its five comparisons, checks their sides agree, and ends
with `ratio X.XX`."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "conv_bench.py"


def test_conv_bench_quick_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("conv_bench", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ratio = bench.main(["--quick", "--repeats", "1"])  # asserts equal numbers before timing
    lines = capsys.readouterr().out.strip().splitlines()
    assert ratio > 0
    assert re.fullmatch(r"ratio \d+\.\d\d", lines[-1]) and lines[-1] == f"ratio {ratio:.2f}"
    assert [line[:2] for line in lines if line[:1].isdigit()] == ["1.", "2.", "3.", "4.", "5."]
