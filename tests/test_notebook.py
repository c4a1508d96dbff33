"""The lab notebook (docs/lab.ipynb): stored without outputs, and runs end to end.

It runs in a real Jupyter kernel (nbclient + ipykernel, from the `docs` extra) on the small
generated CIFAR-10 archive (tests/fake_cifar.py), in a temporary working directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_cifar import make_fake_cifar_archive

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "lab.ipynb"


def test_notebook_is_stored_without_outputs():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {number} has stored outputs: clear them"
            assert cell["execution_count"] is None, f"cell {number} has an execution count"


def test_notebook_runs_on_the_generated_archive(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason='pip install -e ".[docs]"')
    nbclient = pytest.importorskip("nbclient", reason='pip install -e ".[docs]"')
    pytest.importorskip("ipykernel", reason='pip install -e ".[docs]"')
    # The kernel is a child process: it inherits these.
    monkeypatch.setenv("CIFAR10_ARCHIVE", str(make_fake_cifar_archive(tmp_path, n_per_batch=20)))
    monkeypatch.setenv("CIFAR10_ARCHIVE_CHECKSUM", "skip")
    monkeypatch.setenv("TINYGRAD_BE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # The cell tagged "parameters" holds the lab's settings: fewer MLP steps here (seconds, not
    # minutes; the generated images are learned in a few steps anyway).
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1, "the notebook needs one cell tagged 'parameters'"
    parameters[0].source += "\nNUM_EPOCH = 5  # tests/test_notebook.py"
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the cell and the error
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    text = "".join(output.get("text", "") for output in outputs)
    assert "best k = " in text and "test accuracy: MSE" in text
    assert (tmp_path / "knn_neighbours.png").is_file()
