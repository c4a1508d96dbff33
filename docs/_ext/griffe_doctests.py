"""A griffe extension for the reference pages: show `>>>` examples in docstrings as code.

The docstrings of this project are plain text with doctest-style examples (`>>> x[0][1]`). Read as
Markdown, a `>>>` line is a quote and `x[0][1]` a link reference, so mkdocstrings would mangle the
example and `mkdocs build --strict` would fail on the "link". This fences every run of `>>>` and
`...` lines as a `pycon` code block before the docstring is rendered; nothing else changes.
"""

from __future__ import annotations

import textwrap
from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """Wrap each run of lines starting with `>>>` (and its `...` continuations) in a code fence."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].lstrip()
        if not stripped.startswith(">>>"):
            out.append(lines[i])
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(stripped)]
        block = []
        while i < len(lines) and lines[i].lstrip().startswith((">>>", "...")):
            block.append(lines[i])
            i += 1
        out += ["", f"{indent}```pycon", *textwrap.dedent("\n".join(block)).split("\n")]
        out[-len(block) :] = [indent + line for line in out[-len(block) :]]
        out += [f"{indent}```", ""]
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
