"""Every ```python block of the documentation site (docs/**/*.md) and of README.md runs.

A page's blocks run in order in one namespace, as a reader would paste them, in a fresh temporary
directory, with CIFAR-10 pointed at the small generated archive (tests/fake_cifar.py): the pages say
`load_cifar10()` and get 100 training and 20 test images here. A block is skipped only when the line
before its opening fence is `<!-- no-test: reason -->` (training runs of minutes); the reason is
required, and the test checks it is there.

A block whose fence is titled with a file of the repository (```python title="tinygrad_be/ops.py")
is an excerpt of that file: it is not run, it must appear in the file word for word, so the pages
that quote the engine cannot drift from it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from fake_cifar import make_fake_cifar_archive

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]

# An opening fence ```python (with optional attributes such as title="..."), its body, the closing
# fence; the line before the fence may carry the no-test marker.
BLOCK = re.compile(
    r"(?:^<!--\s*no-test(?P<why>[^>]*)-->\n)?^```python(?P<options>[^\n]*)\n(?P<code>.*?)^```\s*$",
    re.MULTILINE | re.DOTALL,
)


TITLE = re.compile(r'title="(?P<title>[^"]+)"')


def python_blocks(page: Path) -> list[tuple[int, str, str | None]]:
    """(line number, code, skip reason or None) of each ```python block of a page that runs."""
    return [(line, code, why) for line, code, why, source in _blocks(page) if source is None]


def excerpts(page: Path) -> list[tuple[int, str, Path]]:
    """(line number, code, quoted file) of each block titled with a file of the repository."""
    return [(line, code, source) for line, code, _, source in _blocks(page) if source is not None]


def _blocks(page: Path) -> list[tuple[int, str, str | None, Path | None]]:
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code"))
        why = match.group("why")
        title = TITLE.search(match.group("options"))
        source = ROOT / title.group("title") if title else None
        source = source if source is not None and source.is_file() else None
        why = None if why is None else why.strip(" :")
        blocks.append((line, match.group("code"), why, source))
    return blocks


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.fixture(scope="module")
def cifar_archive(tmp_path_factory) -> Path:
    return make_fake_cifar_archive(tmp_path_factory.mktemp("fake_cifar"), n_per_batch=20)


@pytest.fixture
def docs_environment(cifar_archive, tmp_path, monkeypatch) -> Path:
    """A temporary working directory; CIFAR-10 from the generated archive into a fresh cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CIFAR10_ARCHIVE", str(cifar_archive))
    monkeypatch.setenv("CIFAR10_ARCHIVE_CHECKSUM", "skip")
    monkeypatch.setenv("TINYGRAD_BE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.syspath_prepend(str(ROOT))  # `import models` from any directory, as after install
    return tmp_path


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=page_id)
def test_code_blocks_run(page, docs_environment):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": f"docs_{page.stem}"}
    modules_before = set(sys.modules)
    try:
        for line, code, skip in python_blocks(page):
            if skip is not None:
                continue
            try:
                exec(compile(code, f"{page_id(page)}:{line + 1}", "exec"), namespace)
            except Exception as error:
                raise AssertionError(
                    f"the code block at {page_id(page)} line {line + 1} failed: "
                    f"{type(error).__name__}: {error}"
                ) from error
    finally:
        plt.close("all")
        # "Coming from PyTorch" makes `import torch` find tinygrad_be: undo that for other tests.
        for name in set(sys.modules) - modules_before:
            if name.split(".")[0] in ("torch", "torchvision"):
                del sys.modules[name]


@pytest.mark.parametrize("page", [p for p in PAGES if excerpts(p)], ids=page_id)
def test_excerpts_are_the_code_as_it_is(page):
    for line, code, source in excerpts(page):
        assert code in source.read_text(encoding="utf-8"), (
            f"the excerpt at {page_id(page)} line {line + 1} is no longer in "
            f"{source.relative_to(ROOT)}: copy the current code into the page"
        )


def test_skipped_blocks_say_why():
    for page in PAGES:
        for line, _, skip in python_blocks(page):
            assert skip != "", f"{page_id(page)} line {line}: a no-test marker needs a reason"


def test_every_page_is_in_the_navigation():
    """mkdocs --strict warns on pages missing from nav only as INFO, so check it here."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    docs = ROOT / "docs"
    for page in [*docs.rglob("*.md"), *docs.rglob("*.ipynb")]:
        if ".ipynb_checkpoints" in page.parts:
            continue
        assert str(page.relative_to(docs)) in config, f"{page} is not in mkdocs.yml's nav"


def test_readme_is_short_and_links_into_the_site():
    """The README is the two-minute read (about 10 KB); everything else lives in docs/."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    size = len(text.encode("utf-8"))
    assert size <= 10_240, f"README.md is {size} bytes: move the details to a page in docs/"
    targets = re.findall(r"\]\(([^)#\s]+)", text) + re.findall(r'src="([^"]+)"', text)
    assert any(target.startswith("docs/learn/") for target in targets)
    for target in targets:
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"
