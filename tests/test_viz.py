"""tinygrad_be.viz: the graph of ops (DOT text and pictures), confusion matrices, image grids."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_be import Tensor, viz

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NODE = re.compile(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$')
EDGE = re.compile(r"^  (\w+) -> (\w+);$")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def parse_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Check the DOT text's structure and return its nodes (id -> label) and edges.

    Balanced: one `digraph {` ... `}` block, quotes and brackets closed on every line; every line
    inside is a graph attribute, a node declaration or an edge; every edge's ends are declared.
    """
    lines = text.splitlines()
    assert lines[0] == "digraph tinygrad_be {" and lines[-1] == "}"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)  # strings removed: brackets balance
        assert unquoted.count('"') % 2 == 0 and unquoted.count("[") == unquoted.count("]")
        assert "{" not in unquoted and "}" not in unquoted
        if node := NODE.match(line):
            assert node.group(1) not in nodes, f"node {node.group(1)} declared twice"
            nodes[node.group(1)] = node.group(2)
        elif edge := EDGE.match(line):
            edges.append((edge.group(1), edge.group(2)))
        else:
            assert re.match(r"^  (rankdir=(LR|TB)|node \[.*\]);$", line), line
    for a, b in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} has an undeclared end"
    return nodes, edges


@pytest.fixture
def expression(rng):
    """out = sum(h * h + h), h = a @ b: 6 tensors (a, b, h, h*h, h*h+h, out), 4 ops (MatMul, Mul,
    Add, Sum) and 11 edges (each op: one per input, h*h counting h twice, plus one to its output);
    h is used three times."""
    a = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    b = Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    h = a @ b
    out = (h * h + h).sum()
    return a, b, h, out


def test_draw_graph_counts_ops_tensors_and_edges(expression):
    a, b, h, out = expression
    nodes, edges = parse_dot(viz.draw_graph(out))
    tensors = [n for n in nodes if n.startswith("t")]
    ops = [n for n in nodes if n.startswith("op")]
    assert len(tensors) == 6 and len(ops) == 4  # h, used three times, appears once
    assert len(edges) == 11
    assert sorted(nodes[o] for o in ops) == ["Add", "MatMul", "Mul", "Sum"]
    # Edges run input -> op -> output: every op has edges in from tensors and one out to a tensor.
    for op in ops:
        assert sum(1 for x, y in edges if x == op) == 1
        assert all(x.startswith("t") for x, y in edges if y == op)
    # h (the MatMul's output) feeds the Mul twice and the Add once.
    (matmul,) = [o for o in ops if nodes[o] == "MatMul"]
    (h_id,) = [y for x, y in edges if x == matmul]
    assert sorted(nodes[y] for x, y in edges if x == h_id) == ["Add", "Mul", "Mul"]


def test_draw_graph_names_shapes_values_and_gradient_norms(expression):
    a, b, h, out = expression
    before = viz.draw_graph(out, params={"a": a, "weight b": b})
    nodes, _ = parse_dot(before)
    labels = list(nodes.values())
    assert "a\\n(2, 3) float64" in labels and "weight b\\n(3, 4) float64" in labels
    assert "grad norm" not in before
    assert f"() float64\\nvalue {out.item():.4g}" in labels  # one-element tensors show their value

    out.backward(retain_graph=True)
    after = viz.draw_graph(out, params={"a": a, "weight b": b})
    assert f"a\\n(2, 3) float64\\ngrad norm {np.linalg.norm(a.grad):.3g}" in after
    assert f"grad norm {np.linalg.norm(b.grad):.3g}" in after


def test_draw_graph_after_a_freeing_backward_says_what_to_do(expression):
    _, _, _, out = expression
    out.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        viz.draw_graph(out)


def test_draw_graph_of_a_leaf_and_of_a_deep_chain():
    leaf = Tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = parse_dot(viz.draw_graph(leaf, params={"x": leaf}))
    assert list(nodes.values()) == ["x\\n(2,) float32"] and edges == []
    x = leaf
    for _ in range(3000):  # deeper than Python's recursion limit
        x = x * 1.0
    nodes, edges = parse_dot(viz.draw_graph(x))
    assert len([n for n in nodes if n.startswith("op")]) == 3000
    with pytest.raises(TypeError, match="Tensor"):
        viz.draw_graph(np.ones(3))


def test_draw_graph_escapes_names_in_dot(expression):
    a, b, _, out = expression
    text = viz.draw_graph(out, params={'say "hi"\\': a})
    nodes, _ = parse_dot(text)
    assert 'say \\"hi\\"\\\\' in text


@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_draw_graph_writes_a_png_without_dot(expression, tmp_path, monkeypatch, rankdir):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no graphviz `dot` to be found
    assert shutil.which("dot") is None
    a, b, _, out = expression
    out.backward(retain_graph=True)
    text = viz.draw_graph(out, tmp_path / "graph.png", params={"a": a, "b": b}, rankdir=rankdir)
    width, height = png_size(tmp_path / "graph.png")
    assert width > 200 and height > 100
    assert (width > height) == (rankdir == "LR")  # 7 layers long, at most 2 nodes wide
    assert f"rankdir={rankdir}" in text
    viz.draw_graph(out, tmp_path / "graph.svg")
    assert "<svg" in (tmp_path / "graph.svg").read_text()
    viz.draw_graph(out, tmp_path / "graph.dot")
    assert (tmp_path / "graph.dot").read_text() == viz.draw_graph(out)
    with pytest.raises(FileNotFoundError, match="dot"):
        viz.draw_graph(out, tmp_path / "forced.png", engine="dot")
    with pytest.raises(ValueError, match=".png"):
        viz.draw_graph(out, tmp_path / "graph.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "graph.dot", "graph.png", "graph.svg",
    ]  # fmt: skip  (no temporary files left behind)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` is not installed")
def test_draw_graph_with_dot(expression, tmp_path):
    _, _, _, out = expression
    text = viz.draw_graph(out, tmp_path / "graph.svg")
    assert "<svg" in (tmp_path / "graph.svg").read_text()
    viz.draw_graph(out, tmp_path / "graph.png", engine="dot")
    assert png_size(tmp_path / "graph.png")[0] > 100
    # dot itself accepts the text.
    subprocess.run(["dot", "-Tsvg"], input=text, text=True, check=True, capture_output=True)


# --------------------------------------------------------------------------------------------------
# Confusion matrices
@given(
    num_classes=st.integers(1, 12),
    pairs=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=200),
)
def test_confusion_matrix_equals_a_brute_force_count(num_classes, pairs):
    pairs = [(t % num_classes, p % num_classes) for t, p in pairs]
    y_true = np.array([t for t, _ in pairs], dtype=np.int64)
    y_pred = np.array([p for _, p in pairs], dtype=np.int32)
    expected = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in pairs:
        expected[t, p] += 1
    matrix = viz.confusion_matrix(y_true, y_pred, num_classes)
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, expected)
    if pairs:  # the default size: the largest class seen, plus one
        size = max(max(t, p) for t, p in pairs) + 1
        np.testing.assert_array_equal(viz.confusion_matrix(y_true, y_pred), expected[:size, :size])


def test_confusion_matrix_refuses_bad_input():
    with pytest.raises(ValueError, match="same length"):
        viz.confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        viz.confusion_matrix([0, 3], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="classes must lie"):
        viz.confusion_matrix([0, -1], [0, 1])
    with pytest.raises(TypeError, match="integer"):
        viz.confusion_matrix([0.0, 1.0], [0, 1])
    assert viz.confusion_matrix([], [], num_classes=2).tolist() == [[0, 0], [0, 0]]


def test_plot_confusion_writes_a_png(tmp_path):
    matrix = viz.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    path = viz.plot_confusion(matrix, ["cat", "dog", "ship"], tmp_path / "c.png", title="test")
    assert path == tmp_path / "c.png" and png_size(path)[0] > 200
    with pytest.raises(ValueError, match="2 class names"):
        viz.plot_confusion(matrix, ["cat", "dog"], tmp_path / "bad.png")
    assert [p.name for p in tmp_path.iterdir()] == ["c.png"]


# --------------------------------------------------------------------------------------------------
# Image grids
def test_image_grid_writes_the_expected_pixel_size(tmp_path, rng):
    rows = rng.uniform(0, 255, (12, 3072)).astype(np.float32)  # CIFAR rows
    viz.image_grid(rows, tmp_path / "a.png", ncols=5, zoom=2)
    # 6 + ncols * ((32 + 2 * 1) * zoom + 6) wide, the same with 3 rows high
    assert png_size(tmp_path / "a.png") == (6 + 5 * 74, 6 + 3 * 74)

    small = rng.uniform(0, 1, (4, 3, 8, 8))  # (n, 3, h, w), values in [0, 1]
    viz.image_grid(small, tmp_path / "b.png", zoom=1, colors=["red", None, "green", "blue"])
    assert png_size(tmp_path / "b.png") == (6 + 4 * (8 + 4 + 6), 6 + 1 * (8 + 4 + 6))

    viz.image_grid(rows, tmp_path / "c.png", ncols=5, zoom=2, labels=[f"#{i}" for i in range(12)],
                   row_labels=["one", "two", "three"], title="a grid")  # fmt: skip
    width, height = png_size(tmp_path / "c.png")
    assert width > 6 + 5 * 74 and height > 6 + 3 * 74  # bands for labels, captions and title


def test_image_grid_shows_cifar_rows_channel_major(tmp_path, monkeypatch):
    # A row whose red plane is 255 and the rest 0 is a red image.
    row = np.zeros((1, 3072), np.float32)
    row[0, :1024] = 255
    shown = viz._to_unit_range(viz._as_images(row), None, False)
    assert shown.shape == (1, 32, 32, 3)
    np.testing.assert_array_equal(shown[0, 5, 7], [1.0, 0.0, 0.0])
    # Per-image scaling maps each image to [0, 1]; a constant image becomes mid-grey, not NaN.
    images = np.stack([np.full((3, 2, 2), 7.0), np.arange(12.0).reshape(3, 2, 2) - 5])
    scaled = viz._to_unit_range(viz._as_images(images), None, True)
    assert np.all(scaled[0] == 0.5) and scaled[1].min() == 0 and scaled[1].max() == 1


def test_image_grid_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="3072"):
        viz.image_grid(np.zeros((2, 100)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="2 labels for 3 images"):
        viz.image_grid(np.zeros((3, 3072)), tmp_path / "x.png", labels=["a", "b"])
    with pytest.raises(ValueError, match="no images"):
        viz.image_grid(np.zeros((0, 3072)), tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_plot_mistakes_shows_the_most_confident_wrong_predictions(tmp_path, monkeypatch):
    shown = {}

    def fake_grid(images, path, labels, **options):
        shown.update(images=images, labels=labels)
        return Path(path)

    monkeypatch.setattr(viz, "image_grid", fake_grid)
    images = np.arange(5)[:, None] * np.ones((5, 3072))  # image i is filled with the value i
    y_true = np.array([0, 1, 1, 0, 2])
    probabilities = np.array([
        [0.9, 0.1, 0.0],  # right
        [0.6, 0.4, 0.0],  # wrong, 0.6 sure of class 0
        [0.1, 0.1, 0.8],  # wrong, 0.8 sure of class 2
        [0.3, 0.7, 0.0],  # wrong, 0.7 sure of class 1
        [0.0, 0.0, 1.0],  # right
    ])  # fmt: skip
    viz.plot_mistakes(images, y_true, probabilities, ["a", "b", "c"], tmp_path / "m.png", count=2)
    assert shown["images"][:, 0].tolist() == [2, 3]  # the two most confident mistakes, in order
    assert shown["labels"] == ["b\n\u2192 c 80%", "a\n\u2192 b 70%"]


def test_plot_mistakes_without_mistakes_still_writes_a_picture(tmp_path):
    path = viz.plot_mistakes(np.zeros((2, 3072)), [0, 1], np.eye(2), ["a", "b"], tmp_path / "m.png")
    assert png_size(path)[0] > 100
