"""tinygrad_be.progress: a live tqdm bar in a terminal, one line per bar in a log."""

from __future__ import annotations

import io
import re

import numpy as np
from tqdm import tqdm

from models.mlp import run_mlp
from tinygrad_be.progress import LineProgress, progress_bar, wants_live_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_bar_with_the_last_postfix():
    log = io.StringIO()
    bar = progress_bar(range(5), desc="epoch 1/3", file=log)
    assert isinstance(bar, LineProgress)
    seen = []
    for i in bar:
        seen.append(i)
        bar.set_postfix(loss=f"{1 / (i + 1):.3f}", acc="0.5")
    bar.close()  # a second close prints nothing more
    assert seen == [0, 1, 2, 3, 4]
    lines = log.getvalue().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"epoch 1/3: 5 it in \d+\.\d s, loss=0\.200, acc=0\.5", lines[0])


def test_a_terminal_gets_tqdm():
    terminal = Terminal()
    assert wants_live_bar(terminal) and not wants_live_bar(io.StringIO())
    bar = progress_bar(range(3), desc="x", file=terminal)
    assert isinstance(bar, tqdm)
    assert list(bar) == [0, 1, 2]
    assert "\r" in terminal.getvalue()  # tqdm's live updates


def test_counting_bytes_with_update_and_a_context_manager():
    log = io.StringIO()
    with progress_bar(total=3 * 2**20, desc="download", unit="B", unit_scale=True,
                      unit_divisor=1024, file=log) as bar:  # fmt: skip
        for _ in range(2):
            bar.update(2**20)
    assert re.fullmatch(r"download: 2\.00M/3\.00MB in \d+\.\d s\n", log.getvalue())


def test_disabled_and_summary_free_bars_print_nothing():
    log = io.StringIO()
    assert list(progress_bar(range(4), desc="quiet", disable=True, file=log)) == [0, 1, 2, 3]
    assert list(progress_bar(iter("ab"), desc="own lines", summary=False, file=log)) == ["a", "b"]
    assert log.getvalue() == ""


def test_an_iterable_without_length_and_an_early_close():
    log = io.StringIO()
    bar = progress_bar((x for x in range(10)), file=log)
    for i in bar:
        if i == 3:
            break
    bar.close()
    assert re.fullmatch(r"3 it in \d+\.\d s\n", log.getvalue())  # no desc, no total known


def test_lab_training_writes_one_line_per_run_to_a_log(capsys):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 12)).astype(np.float32), rng.integers(0, 3, 40)
    run_mlp(x, y, x, y, d_h=4, learning_rate=0.1, num_epoch=30, d_out=3, progress=True,
            desc="cross-entropy")  # fmt: skip
    err = capsys.readouterr().err  # pytest's capture is not a terminal
    assert err.count("\n") == 1 and "\r" not in err
    assert re.fullmatch(r"cross-entropy: 30 it in \d+\.\d s, loss=\d\.\d{4}, acc=\d\.\d{3}\n", err)
