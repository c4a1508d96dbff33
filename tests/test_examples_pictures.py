"""The pictures the examples write, on the small generated CIFAR-10 archive (tests/fake_cifar.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from examples_support import load_example
from fake_cifar import make_fake_cifar_archive

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert not list(path.parent.glob(".*.tmp")), "a temporary file was left behind"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_fake_cifar_archive(tmp_path_factory.mktemp("fake_cifar"), n_per_batch=20)


@pytest.fixture
def data(archive, tmp_path) -> list[str]:
    return ["--archive", str(archive), "--checksum", "skip"]


def test_knn_example_writes_neighbours_and_confusion(data, tmp_path):
    out = tmp_path / "results"
    load_example("knn_cifar10").main([*data, "--root", str(tmp_path / "d"), "--k-max", "3",
                                      "--out-dir", str(out)])  # fmt: skip
    for name in ("knn.png", "knn_neighbours.png", "knn_confusion.png"):
        assert_png(out / name)


def test_mlp_example_draws_the_weights_only_on_scaled_pixels(data, tmp_path):
    example = load_example("mlp_cifar10")
    common = [*data, "--data-root", str(tmp_path / "d"), "--d-h", "8", "--epochs", "2"]
    example.main([*common, "--out", str(tmp_path / "raw" / "mlp.png")])
    assert not (tmp_path / "raw" / "mlp_weights.png").exists()
    example.main([*common, "--scale", "--out", str(tmp_path / "scaled" / "mlp_scaled.png")])
    assert_png(tmp_path / "scaled" / "mlp_weights.png")


def test_train_example_writes_confusion_and_mistakes(data, tmp_path):
    out = tmp_path / "results"
    load_example("train_cifar10").main(
        [*data, "--data-root", str(tmp_path / "d"), "--hidden", "16", "--pca-dims", "8",
         "--batch-size", "20", "--epochs", "1", "--results", str(out)]
    )  # fmt: skip
    for name in ("train_cifar10_confusion.png", "train_cifar10_mistakes.png"):
        assert_png(out / name)


def test_show_example_writes_samples_and_graph_and_refreshes_docs(data, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no graphviz: the matplotlib drawings
    example = load_example("show_cifar10")
    out, docs = tmp_path / "results", tmp_path / "docs"
    example.main([*data, "--data-root", str(tmp_path / "d"), "--results", str(out)])
    for name in ("cifar10_samples.png", "graph.png"):
        assert_png(out / name)
    assert "<svg" in (out / "graph.svg").read_text()
    dot = (out / "graph.dot").read_text()
    for name in ("x (32 images)", "labels", "w1", "b1", "w2", "b2", "CrossEntropy", "grad norm"):
        assert name in dot

    example.main([*data, "--data-root", str(tmp_path / "d"), "--results", str(out), "--docs",
                  "--docs-dir", str(docs)])  # fmt: skip
    assert sorted(p.name for p in docs.iterdir()) == sorted(example.DOCS_PICTURES)
    for name in example.DOCS_PICTURES:
        assert (docs / name).read_bytes() == (out / name).read_bytes()
