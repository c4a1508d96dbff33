"""Progress bars that behave in a terminal and in a log file.

In a terminal (or a Jupyter notebook) `progress_bar` is tqdm's live bar. When its output goes to a
file or a pipe (a CI log, `python train.py 2> log`), a live bar would write hundreds of
carriage-return updates; there it prints instead ONE line when the bar closes:

    epoch 3/40: 195 it in 10.4 s, loss=1.234, acc=0.567

>>> from tinygrad_be.progress import progress_bar
>>> for batch in (bar := progress_bar(loader, desc="epoch 1/10")):
...     loss = train_step(batch)
...     bar.set_postfix(loss=f"{loss:.3f}")        # shown live, or in the final line
>>> with progress_bar(total=n_bytes, desc="download", unit="B", unit_scale=True) as bar:
...     bar.update(len(chunk))                     # manual counting, as tqdm

Both kinds of bar offer the same interface: iteration (the bar closes itself at the end), `update`,
`set_postfix`, `set_description`, `close`, and use as a context manager.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from tqdm import tqdm as plain_tqdm
from tqdm.auto import tqdm as auto_tqdm
from tqdm.autonotebook import tqdm as notebook_or_plain_tqdm

__all__ = ["LineProgress", "progress_bar", "wants_live_bar"]


def wants_live_bar(file: TextIO | None = None) -> bool:
    """True when a live bar is readable: `file` (default stderr, where tqdm writes) is a terminal,
    or we run in a notebook (where `tqdm.auto` picks the widget bar)."""
    file = sys.stderr if file is None else file
    is_terminal = getattr(file, "isatty", lambda: False)()
    in_notebook = notebook_or_plain_tqdm is not plain_tqdm
    return bool(is_terminal) or in_notebook


def progress_bar(
    iterable: Iterable[Any] | None = None,
    desc: str | None = None,
    total: float | None = None,
    *,
    leave: bool = False,
    unit: str = "it",
    unit_scale: bool = False,
    unit_divisor: int = 1000,
    disable: bool = False,
    summary: bool = True,
    file: TextIO | None = None,
) -> Any:
    """A progress bar over `iterable` (or counted with `update` when `iterable` is None).

    desc: the label. total: the number of steps (default len(iterable) when it has one).
    leave: keep the finished live bar on screen (default: erase it). unit, unit_scale,
    unit_divisor: as in tqdm (e.g. unit="B", unit_scale=True, unit_divisor=1024 for bytes).
    disable: show nothing at all (an iterable is still iterated). summary: when the output is not a
    terminal, print the one closing line (False: print nothing, for loops that print their own
    line per epoch anyway). file: where to write (default stderr, as tqdm).

    Returns a `tqdm.auto.tqdm` when `wants_live_bar(file)`, else a `LineProgress`.
    """
    if disable or wants_live_bar(file):
        return auto_tqdm(
            iterable, desc=desc, total=total, leave=leave, unit=unit, unit_scale=unit_scale,
            unit_divisor=unit_divisor, disable=disable, file=file,
        )  # fmt: skip
    return LineProgress(
        iterable, desc=desc, total=total, unit=unit, unit_scale=unit_scale,
        unit_divisor=unit_divisor, summary=summary, file=file,
    )  # fmt: skip


class LineProgress:
    """The progress bar for logs: counts silently, prints one line when closed.

    It has the part of tqdm's interface the project uses: iteration, `update(n)`,
    `set_postfix(**values)`, `set_description(desc)`, `close()`, `with`, and the attributes `n`
    (steps done), `total` and `desc`.
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        desc: str | None = None,
        total: float | None = None,
        *,
        unit: str = "it",
        unit_scale: bool = False,
        unit_divisor: int = 1000,
        summary: bool = True,
        file: TextIO | None = None,
    ) -> None:
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):
                total = None
        self.iterable, self.desc, self.total = iterable, desc or "", total
        self.unit, self.unit_scale, self.unit_divisor = unit, unit_scale, unit_divisor
        self.summary, self.file = summary, file
        self.n: float = 0
        self.postfix = ""
        self.start = time.perf_counter()
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("this progress bar has no iterable: count with update() instead")
        try:
            for item in self.iterable:
                yield item
                self.n += 1
        finally:
            self.close()

    def __len__(self) -> int:
        return int(self.total or 0)

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        """Count `n` more steps (or bytes, ...)."""
        self.n += n

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True,
                    **values: Any) -> None:
        """Values shown after the count, e.g. set_postfix(loss="0.123"): the last ones are printed."""
        values = {**(ordered_dict or {}), **values}
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        """Nothing to redraw: the line is printed by `close`."""

    def close(self) -> None:
        """Print the line (once): `desc: n[/total] unit in seconds, postfix`."""
        if self.closed:
            return
        self.closed = True
        if not self.summary:
            return
        seconds = time.perf_counter() - self.start
        count = self._format(self.n)
        if self.total is not None and self.total != self.n:
            count += f"/{self._format(self.total)}"
        line = f"{self.desc}: " if self.desc else ""
        separator = "" if self.unit_scale else " "  # "163MB" as tqdm writes it, but "195 it"
        line += f"{count}{separator}{self.unit} in {seconds:.1f} s"
        if self.postfix:
            line += f", {self.postfix}"
        sys.stdout.flush()  # keep the order of lines when stdout and stderr share one log
        file = sys.stderr if self.file is None else self.file
        print(line, file=file, flush=True)

    def _format(self, number: float) -> str:
        if self.unit_scale:
            return plain_tqdm.format_sizeof(number, divisor=self.unit_divisor)
        return f"{number:g}" if isinstance(number, float) else str(number)
