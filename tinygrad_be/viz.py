"""Pictures for learning: the graph of ops behind a tensor, confusion matrices, grids of images.

    from tinygrad_be import viz
    dot_text = viz.draw_graph(loss, "graph.png", params={"w1": w1, "b1": b1})  # DOT text + picture
    matrix = viz.confusion_matrix(y_true, y_pred, num_classes=10)  # (10, 10) int64, rows: true
    viz.plot_confusion(matrix, CLASSES, "confusion.png")
    viz.image_grid(x[:20], "samples.png", labels=[CLASSES[c] for c in y[:20]])
    viz.plot_mistakes(x_test, y_test, probabilities, CLASSES, "mistakes.png", count=24)
    viz.plot_training_curves(history, "curves.png", title="my run")  # loss and accuracy per epoch

Images are CIFAR rows (n, 3072): 1024 red, then 1024 green, then 1024 blue values of a 32x32
image, as the batches store them, or arrays (n, 3, height, width). Every picture is written to a
temporary file beside `path` and moved into place when complete. Matplotlib is used through its
object-oriented API (no pyplot, no window, no change to the global backend) and imported only when
a picture is drawn, so `draw_graph` without a path needs nothing but numpy.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_be.tensor import Function, Tensor

__all__ = [
    "confusion_matrix",
    "draw_graph",
    "graph_dot",
    "image_grid",
    "plot_confusion",
    "plot_mistakes",
    "plot_training_curves",
    "save_figure",
]

PathLike = str | os.PathLike


# --------------------------------------------------------------------------------------------------
# Writing files atomically
def _write_atomically(path: PathLike, write: Callable[[str], object]) -> Path:
    """Call write(temporary_name) beside `path`, then rename it to `path`: an interrupted run never
    leaves a half-written picture."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(str(temporary))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def save_figure(figure: Any, path: PathLike, **savefig_options: Any) -> Path:
    """Save a matplotlib Figure to `path` (format from the suffix: .png, .svg, .pdf), atomically:
    to a temporary file beside it, renamed into place when complete. Returns the path."""
    suffix = Path(path).suffix.lower().lstrip(".") or "png"
    return _write_atomically(
        path, lambda name: figure.savefig(name, format=suffix, **savefig_options)
    )


# --------------------------------------------------------------------------------------------------
# The graph of ops
#
# The engine records the graph in two attributes: a tensor made by an op keeps that op's `Function`
# in `_ctx`, and the Function keeps its inputs in `parents`. Tensors compare elementwise, so the
# walk below keys everything by id(), never by `==`.
class _Graph:
    """The tensors and ops that produced `output`, in topological order (inputs first).

    tensors: every tensor once. ops: (function, input tensors, output tensor), one per tensor made
    by an op. The number of edges is sum(len(inputs) + 1) over the ops.
    """

    def __init__(self, output: Tensor) -> None:
        if not isinstance(output, Tensor):
            raise TypeError(f"draw_graph: expected a Tensor, got {type(output).__name__}")
        self.tensors: list[Tensor] = []
        self.ops: list[tuple[Function, tuple[Tensor, ...], Tensor]] = []
        seen: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(output, False)]
        while stack:  # iterative depth-first search: deep graphs do not hit the recursion limit
            tensor, inputs_done = stack.pop()
            if inputs_done:
                self.tensors.append(tensor)
                if tensor._ctx is not None:
                    self.ops.append((tensor._ctx, tuple(tensor._ctx.parents), tensor))
                continue
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            stack.append((tensor, True))
            fn = tensor._ctx
            if fn is None:
                continue
            if fn.parents is None:
                raise RuntimeError(
                    "draw_graph: the graph was freed by backward(); call "
                    "backward(retain_graph=True) to draw it after backward, or draw it before"
                )
            for parent in reversed(fn.parents):  # reversed: the first input is visited first
                if id(parent) not in seen:
                    stack.append((parent, False))
        self.output = output


def _tensor_label(tensor: Tensor, name: str | None) -> list[str]:
    """Lines describing a tensor: its name, shape and dtype, value (one element), gradient norm."""
    lines = [name] if name else []
    lines.append(f"{tuple(tensor.shape)} {tensor.dtype}")
    if math.prod(tensor.shape) == 1 and np.issubdtype(tensor.dtype, np.number):
        lines.append(f"value {np.asarray(tensor._data).item():.4g}")
    if tensor.grad is not None:
        norm = float(np.linalg.norm(np.asarray(tensor.grad._data, dtype=np.float64)))
        lines.append(f"grad norm {norm:.3g}")
    return lines


# Colours of the node kinds (fill), shared by the DOT text and the matplotlib drawing.
_COLOURS = {
    "parameter": "#cfe2f3",  # a leaf that requires grad (a weight)
    "input": "#eeeeee",  # a leaf that does not (data, labels, constants)
    "tensor": "#ffffff",  # made by an op
    "output": "#d9ead3",  # the tensor drawn
    "op": "#fce5cd",  # a Function
}


def _tensor_kind(tensor: Tensor, output: Tensor) -> str:
    if tensor is output:
        return "output"
    if tensor._ctx is not None:
        return "tensor"
    return "parameter" if tensor.requires_grad else "input"


def _nodes_and_edges(
    graph: _Graph, params: dict[str, Tensor] | None
) -> tuple[list[tuple[str, list[str], str]], list[tuple[str, str]]]:
    """Nodes (id, label lines, kind) and edges (from id, to id): tensors are t0, t1, ..., ops
    op0, op1, ..., numbered in topological order so that the text is the same in every run."""
    names = {id(tensor): name for name, tensor in (params or {}).items()}
    tensor_ids = {id(t): f"t{i}" for i, t in enumerate(graph.tensors)}
    nodes = [
        (tensor_ids[id(t)], _tensor_label(t, names.get(id(t))), _tensor_kind(t, graph.output))
        for t in graph.tensors
    ]
    edges = []
    for i, (fn, inputs, out) in enumerate(graph.ops):
        nodes.append((f"op{i}", [type(fn).__name__], "op"))
        edges += [(tensor_ids[id(t)], f"op{i}") for t in inputs]
        edges.append((f"op{i}", tensor_ids[id(out)]))
    return nodes, edges


def _dot_string(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_dot(output: Tensor, params: dict[str, Tensor] | None = None, rankdir: str = "LR") -> str:
    """The graph of ops that produced `output`, as DOT text (see `draw_graph`)."""
    return _dot_text(*_nodes_and_edges(_Graph(output), params), rankdir)


def _dot_text(
    nodes: list[tuple[str, list[str], str]], edges: list[tuple[str, str]], rankdir: str
) -> str:
    lines = [
        "digraph tinygrad_be {",
        f"  rankdir={rankdir};",
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    for node_id, label, kind in nodes:
        shape = 'shape=ellipse, style=filled' if kind == "op" else 'shape=box, style="rounded,filled"'
        label_text = _dot_string("\n".join(label)).replace("\n", "\\n")
        lines.append(f'  {node_id} [label={label_text}, {shape}, fillcolor="{_COLOURS[kind]}"];')
    lines += [f"  {a} -> {b};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_graph(
    output: Tensor,
    path: PathLike | None = None,
    params: dict[str, Tensor] | None = None,
    *,
    rankdir: str = "LR",
    engine: str = "auto",
) -> str:
    """The graph of ops that produced `output` (a Tensor), as DOT text; with `path`, also a picture.

    Tensor nodes (boxes) show the shape and dtype, the name `params` gives the tensor (a dict
    name -> Tensor, e.g. `dict(model.named_parameters())`; it may name any tensor of the graph,
    such as the input batch), the value of a one-element tensor, and the gradient's norm once
    `backward` has run (call `backward(retain_graph=True)` to draw after backward: by default
    backward frees the graph). Op nodes show the `Function`'s name. Edges run input -> op ->
    output; a tensor used twice appears once. Colours: blue parameters (leaves that require grad),
    grey other inputs, green the output, orange the ops.

    path: .svg, .png or .pdf (or .dot: the text). rankdir: "LR" draws inputs left of outputs,
    "TB" above them. engine: "dot" draws with graphviz's `dot` program, "matplotlib" lays the
    graph out in layers by topological depth, "auto" (default) uses `dot` when it is installed
    and matplotlib otherwise, so every user gets a picture.
    Returns the DOT text, which needs no dependency at all (paste it into any graphviz viewer).
    """
    if engine not in ("auto", "dot", "matplotlib"):
        raise ValueError(f"draw_graph: engine must be 'auto', 'dot' or 'matplotlib', not {engine!r}")
    if rankdir not in ("LR", "TB"):
        raise ValueError(f"draw_graph: rankdir must be 'LR' or 'TB', not {rankdir!r}")
    nodes, edges = _nodes_and_edges(_Graph(output), params)
    text = _dot_text(nodes, edges, rankdir)
    if path is None:
        return text
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix == "dot":
        _write_atomically(path, lambda name: Path(name).write_text(text))
        return text
    if suffix not in ("png", "svg", "pdf"):
        raise ValueError(f"draw_graph: path must end in .png, .svg, .pdf or .dot, got {path.name}")
    dot = shutil.which("dot")
    if engine == "dot" and dot is None:
        raise FileNotFoundError("draw_graph: engine='dot' needs graphviz's `dot` program on PATH")
    if dot is not None and engine != "matplotlib":
        _write_atomically(path, lambda name: subprocess.run(
            [dot, f"-T{suffix}", "-o", name], input=text, text=True, check=True,
            capture_output=True,
        ))  # fmt: skip
    else:
        save_figure(_graph_figure(nodes, edges, rankdir), path)
    return text


def _graph_figure(
    nodes: list[tuple[str, list[str], str]], edges: list[tuple[str, str]], rankdir: str
) -> Any:
    """A matplotlib Figure of the graph, drawn in layers by topological depth.

    An op sits one layer after its deepest input, its output one layer after the op, and a leaf
    (a weight, the data) one layer before the op it feeds first, so a weight used late is drawn
    beside its use. Within a layer, slots: a node made by an op takes the mean slot of its inputs
    made by ops (so a chain of ops stays on one straight line), a leaf the slot of the op it feeds;
    when that slot is taken in its layer, the nearest free one (first towards the top or left).
    Layers run left to right ("LR") or top to bottom ("TB").
    """
    from matplotlib.figure import Figure

    kinds = {node_id: kind for node_id, _, kind in nodes}
    labels = {node_id: "\n".join(label) for node_id, label, _ in nodes}
    inputs_of: dict[str, list[str]] = {node_id: [] for node_id in kinds}
    users_of: dict[str, list[str]] = {node_id: [] for node_id in kinds}
    for a, b in edges:
        inputs_of[b].append(a)
        users_of[a].append(b)
    order = _topological(list(kinds), inputs_of)
    is_leaf = {n: not inputs_of[n] for n in order}

    layer: dict[str, int] = {}
    for n in order:
        layer[n] = max((layer[p] + 1 for p in inputs_of[n]), default=0)
    for n in order:
        if is_leaf[n] and users_of[n]:
            layer[n] = min(layer[user] for user in users_of[n]) - 1

    taken: set[tuple[int, int]] = set()  # (layer, slot)
    slot: dict[str, int] = {}

    def place(n: str, wanted: float) -> None:
        for k in range(2 * len(order) + 1):  # offsets 0, +1, -1, +2, -2, ...
            s = round(wanted) + (k + 1) // 2 * (1 if k % 2 else -1)
            if (layer[n], s) not in taken:
                taken.add((layer[n], s))
                slot[n] = s
                return

    for n in order:  # nodes made by ops, inputs first
        if not is_leaf[n]:
            from_ops = [slot[p] for p in inputs_of[n] if not is_leaf[p]]
            place(n, float(np.mean(from_ops)) if from_ops else 0.0)
    for n in order:  # then the leaves, beside the op they feed
        if is_leaf[n]:
            place(n, slot[users_of[n][0]] if users_of[n] else 0.0)

    # Sizes in inches: a box is about (longest line) characters wide and (lines) lines high.
    fontsize = 8
    box_width = {n: max(map(len, labels[n].split("\n"))) * fontsize / 72 * 0.62 + 0.35
                 for n in order}  # fmt: skip
    box_height = {n: (labels[n].count("\n") + 1) * fontsize / 72 * 1.3 + 0.3 for n in order}
    n_layers = max(layer.values()) + 1
    low, high = min(slot.values()), max(slot.values())
    if rankdir == "LR":  # layers are columns of their widest box; slots are rows, up first
        sizes = [max((box_width[n] for n in order if layer[n] == i), default=0.5)
                 for i in range(n_layers)]  # fmt: skip
        step = max(box_height.values()) + 0.05
        starts = np.concatenate([[0.0], np.cumsum(sizes)])
        centre = {n: (starts[layer[n]] + sizes[layer[n]] / 2, (slot[n] - low) * step + step / 2)
                  for n in order}  # fmt: skip
        width, height = starts[-1], (high - low + 1) * step
    else:  # "TB": layers are rows of their highest box, top first; slots are columns, left first
        sizes = [max((box_height[n] for n in order if layer[n] == i), default=0.3) + 0.12
                 for i in range(n_layers)]  # fmt: skip
        step = max(box_width.values()) + 0.1
        starts = np.concatenate([[0.0], np.cumsum(sizes)])
        total = starts[-1]
        centre = {n: ((high - slot[n]) * step + step / 2, total - starts[layer[n]] - sizes[layer[n]] / 2)
                  for n in order}  # fmt: skip
        width, height = (high - low + 1) * step, total
    margin = 0.05
    figure = Figure(figsize=(width + 2 * margin, height + 2 * margin), dpi=100)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(-margin, width + margin)
    axes.set_ylim(-margin, height + margin)
    axes.set_axis_off()

    boxes = {}
    for n in order:
        boxes[n] = axes.text(
            *centre[n], labels[n], ha="center", va="center", fontsize=fontsize, zorder=2,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": _COLOURS[kinds[n]],
                  "edgecolor": "#888888" if kinds[n] == "op" else "#444444"},
        )  # fmt: skip
    repeats: dict[tuple[str, str], int] = {}
    for a, b in edges:
        repeat = repeats.get((a, b), 0)  # x * x: a second edge between the same nodes bends
        repeats[(a, b)] = repeat + 1
        # Drawn after the boxes (zorder 3), so that the boxes' outlines are known and each arrow
        # runs from the edge of one box to the edge of the other.
        axes.annotate(
            "", xy=centre[b], xytext=centre[a], zorder=3,
            arrowprops={
                "arrowstyle": "-|>", "mutation_scale": 10, "color": "#555555",
                "shrinkA": 1, "shrinkB": 1,
                "patchA": boxes[a].get_bbox_patch(), "patchB": boxes[b].get_bbox_patch(),
                "connectionstyle": f"arc3,rad={0.4 * repeat}",
            },
        )  # fmt: skip
    return figure


def _topological(node_ids: list[str], inputs_of: dict[str, list[str]]) -> list[str]:
    """The node ids with every node after its inputs (Kahn's algorithm), ties in the given order."""
    waiting = {n: len(inputs_of[n]) for n in node_ids}
    users: dict[str, list[str]] = {n: [] for n in node_ids}
    for n in node_ids:
        for source in inputs_of[n]:
            users[source].append(n)
    ready = [n for n in node_ids if waiting[n] == 0]
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for user in users[n]:
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    return order


# --------------------------------------------------------------------------------------------------
# Confusion matrices
def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts (num_classes, num_classes) int64: entry [i, j] is how many samples of true class i
    were predicted as class j (rows true, columns predicted).

    y_true, y_pred: integer class indices (n,) in [0, num_classes); num_classes defaults to the
    largest label in either plus one. One `np.bincount` of the pair codes true * C + predicted, no
    loop over samples.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(
            f"confusion_matrix: y_true and y_pred must be 1-D of the same length, got shapes "
            f"{y_true.shape} and {y_pred.shape}"
        )
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"confusion_matrix: {name} must hold integer classes, not {y.dtype}")
    y_true, y_pred = y_true.astype(np.int64), y_pred.astype(np.int64)
    largest = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)))
    if num_classes is None:
        num_classes = largest + 1
    if min(y_true.min(initial=0), y_pred.min(initial=0)) < 0 or largest >= num_classes:
        raise ValueError(
            f"confusion_matrix: classes must lie in [0, {num_classes}), got values in "
            f"[{min(y_true.min(initial=0), y_pred.min(initial=0))}, {largest}]"
        )
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def plot_confusion(
    matrix: np.ndarray,
    class_names: Sequence[str],
    path: PathLike,
    title: str | None = None,
) -> Path:
    """Draw a confusion matrix (C, C) (rows true classes, columns predicted) to `path`.

    Each cell shows its count; its colour is the count divided by its row's total (the fraction of
    that true class), so rare and common classes read alike. Each row label ends with the class's
    accuracy (the diagonal's fraction). The heading is `title` (if given) above the line
    "N of M test images right (accuracy)". Returns the path written.
    """
    from matplotlib.figure import Figure

    matrix = np.asarray(matrix)
    n = len(class_names)
    if matrix.shape != (n, n):
        raise ValueError(
            f"plot_confusion: matrix must be ({n}, {n}) for {n} class names, got {matrix.shape}"
        )
    totals = matrix.sum(axis=1, keepdims=True)
    fractions = matrix / np.maximum(totals, 1)
    correct, total = int(np.trace(matrix)), int(matrix.sum())
    heading = f"{correct:,} of {total:,} test images right ({correct / max(total, 1):.2%})"
    if title:
        heading = f"{title}\n{heading}"

    size = 1.6 + 0.55 * n
    figure = Figure(figsize=(size + 1.4, size), dpi=100)
    axes = figure.add_subplot()
    image = axes.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for i, j in np.ndindex(n, n):  # one label per cell (C * C of them, not one per sample)
        colour = "white" if fractions[i, j] > 0.55 else "black"
        axes.text(j, i, f"{matrix[i, j]:,}", ha="center", va="center", fontsize=8, color=colour)
    axes.set_xticks(range(n), class_names, rotation=45, ha="right", fontsize=9)
    row_accuracy = np.diag(fractions)
    axes.set_yticks(
        range(n), [f"{name} {a:.0%}" for name, a in zip(class_names, row_accuracy, strict=True)],
        fontsize=9,
    )  # fmt: skip
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class (and its accuracy)")
    axes.set_title(heading, fontsize=10)
    colourbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    colourbar.set_label("fraction of the true class (row)", fontsize=9)
    figure.tight_layout()
    return save_figure(figure, path)


# --------------------------------------------------------------------------------------------------
# Grids of images
def _as_images(images: Any) -> np.ndarray:
    """CIFAR rows (n, 3072) or arrays (n, 3, h, w) -> float64 (n, h, w, 3) for display."""
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == 3 * 32 * 32:
        images = images.reshape(len(images), 3, 32, 32)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            "image_grid: images must be CIFAR rows (n, 3072) or arrays (n, 3, height, width), "
            f"got shape {images.shape}"
        )
    return images.transpose(0, 2, 3, 1).astype(np.float64)


def _to_unit_range(
    images: np.ndarray, value_range: tuple[float, float] | None, per_image_scaling: bool
) -> np.ndarray:
    """Values in [0, 1]: per image min..max, else value_range, else 0..255 or 0..1 by the data."""
    if per_image_scaling:
        low = images.min(axis=(1, 2, 3), keepdims=True)
        span = images.max(axis=(1, 2, 3), keepdims=True) - low
        return np.where(span > 0, (images - low) / np.where(span > 0, span, 1), 0.5)
    if value_range is None:
        value_range = (0.0, 255.0) if images.size and images.max() > 1 else (0.0, 1.0)
    low, high = value_range
    return np.clip((images - low) / (high - low), 0, 1)


def image_grid(
    images: Any,
    path: PathLike,
    labels: Sequence[str] | None = None,
    ncols: int = 10,
    *,
    colors: Sequence[str | None] | None = None,
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
    value_range: tuple[float, float] | None = None,
    per_image_scaling: bool = False,
    zoom: int = 3,
    fontsize: float = 8,
) -> Path:
    """Show images in a grid of `ncols` columns and write it to `path` (PNG).

    images: CIFAR rows (n, 3072), channel-major as the batches store them, or (n, 3, h, w).
    labels: a caption under each image (may have several lines). colors: a frame colour per image
    (a matplotlib colour name, or None for no frame), e.g. green for right and red for wrong.
    row_labels: text left of each row. title: text above the grid.
    Values: `per_image_scaling` maps each image's own min..max to black..white (for weights);
    otherwise `value_range` (low, high) maps to black..white, by default (0, 255) when any value
    exceeds 1 (raw pixels) and (0, 1) otherwise.
    zoom: screen pixels per image pixel (nearest-neighbour, so pixels stay sharp).

    The picture is built pixel for pixel (no resampling), so its size is exact. Without captions,
    row labels or title it is 6 + ncols * ((w + 2 * frame) * zoom + 6) pixels wide and
    6 + nrows * ((h + 2 * frame) * zoom + 6) high (frame = 1, or 2 with `colors`; 6: the gap);
    captions add a band under each row (and widen the cells when they are long), row labels a
    band on the left, the title one on top. Returns the path written.
    """
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure

    pixels = _to_unit_range(_as_images(images), value_range, per_image_scaling)
    n, h, w, _ = pixels.shape
    if n == 0:
        raise ValueError("image_grid: no images to show")
    for name, values in (("labels", labels), ("colors", colors)):
        if values is not None and len(values) != n:
            raise ValueError(f"image_grid: {len(values)} {name} for {n} images")
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(f"image_grid: {len(row_labels)} row_labels for {nrows} rows")

    # Each image, enlarged, inside its frame (white when no colour is given): tiles (n, T, T, 3).
    frame = 2 if colors is not None else 1
    big = pixels.repeat(zoom, axis=1).repeat(zoom, axis=2)
    frame_px = frame * zoom
    frame_rgb = np.array([to_rgb(c) if c else (1.0, 1.0, 1.0) for c in (colors or [None] * n)])
    tiles = np.broadcast_to(
        frame_rgb[:, None, None, :], (n, h * zoom + 2 * frame_px, w * zoom + 2 * frame_px, 3)
    ).copy()
    tiles[:, frame_px : frame_px + h * zoom, frame_px : frame_px + w * zoom] = big
    tile_h, tile_w = tiles.shape[1:3]

    # Bands in screen pixels: gap between cells, captions under each row, labels, title.
    gap = 6
    line_px = int(np.ceil(fontsize * 100 / 72 * 1.25))  # at 100 dpi
    caption_lines = max((label.count("\n") + 1 for label in labels), default=0) if labels else 0
    caption_px = caption_lines * line_px + (4 if caption_lines else 0)
    char_px = fontsize * 100 / 72 * 0.6  # a rough average width of a character
    row_label_px = int(max(len(label) for label in row_labels) * char_px) + 10 if row_labels else 0
    caption_chars = max((len(line) for label in labels or [] for line in label.split("\n")),
                        default=0)  # fmt: skip
    extra = max(0, int(caption_chars * char_px) - tile_w)  # cells widen for long captions
    title_px = (title.count("\n") + 1) * int(np.ceil(11 * 100 / 72 * 1.3)) + 8 if title else 0

    # The mosaic: each cell is a tile with its caption band below and its extra width; cells are
    # laid out with a white gap around each by `vision.utils.tile_images` (make_grid's step); the
    # title and the row labels get bands on top and on the left.
    from tinygrad_be.vision.utils import tile_images

    cells = np.pad(tiles, ((0, 0), (0, caption_px), (extra // 2, extra - extra // 2), (0, 0)),
                   constant_values=1.0)  # fmt: skip
    mosaic = tile_images(cells.transpose(0, 3, 1, 2), ncols, gap, 1.0).transpose(1, 2, 0)
    cell_h, cell_w = tile_h + caption_px + gap, tile_w + extra + gap
    mosaic = np.pad(mosaic, ((title_px, 0), (row_label_px, 0), (0, 0)), constant_values=1.0)
    height, width = mosaic.shape[:2]

    # Draw the mosaic pixel for pixel (figimage: no resampling) and the text in pixel positions.
    dpi = 100
    figure = Figure(figsize=(width / dpi + 1e-6, height / dpi + 1e-6), dpi=dpi)
    figure.figimage(mosaic, xo=0, yo=0, origin="upper")

    def put(x: float, y: float, text: str, **options: Any) -> None:  # (x, y) from the top left
        figure.text(x / width, 1 - y / height, text, **{"fontsize": fontsize, **options})

    top, left = title_px + gap, row_label_px + gap + extra // 2  # left: of the first image
    if title:
        put(width / 2, 4, title, ha="center", va="top", fontsize=11)
    for r, label in enumerate(row_labels or []):
        put(row_label_px, top + r * cell_h + tile_h / 2, label, ha="right", va="center")
    for i, label in enumerate(labels or []):
        r, c = divmod(i, ncols)
        put(left + c * cell_w + tile_w / 2, top + r * cell_h + tile_h + 2, label,
            ha="center", va="top", linespacing=1.1)  # fmt: skip
    return save_figure(figure, path)


def plot_mistakes(
    images: Any,
    y_true: Any,
    probabilities: Any,
    class_names: Sequence[str],
    path: PathLike,
    count: int = 24,
    ncols: int = 8,
    title: str | None = None,
) -> Path:
    """The `count` most confidently wrong predictions, as an image grid written to `path`.

    images: (n, 3072) or (n, 3, h, w) pixels; y_true: (n,) true classes; probabilities: (n, C)
    the model's class probabilities (e.g. softmax of the logits). A prediction is the class of
    largest probability; the wrong ones are sorted by that probability, largest first. Captions:
    the true class, then "-> predicted class probability". With no mistake at all, the picture
    says so. Returns the path written.
    """
    probabilities = np.asarray(probabilities)
    y_true = np.asarray(y_true)
    if probabilities.ndim != 2 or len(probabilities) != len(y_true):
        raise ValueError(
            f"plot_mistakes: probabilities must be (n, classes) with n = {len(y_true)} labels, "
            f"got shape {probabilities.shape}"
        )
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(predicted)), predicted]
    wrong = np.flatnonzero(predicted != y_true)
    chosen = wrong[np.argsort(-confidence[wrong], kind="stable")[:count]]
    if len(chosen) == 0:  # nothing to show: say so in the picture rather than fail
        from matplotlib.figure import Figure

        figure = Figure(figsize=(4, 1), dpi=100)
        figure.text(0.5, 0.5, f"No mistakes: all {len(y_true):,} predictions are right",
                    ha="center", va="center")  # fmt: skip
        return save_figure(figure, path)
    labels = [
        f"{class_names[t]}\n\u2192 {class_names[p]} {c:.0%}"
        for t, p, c in zip(y_true[chosen], predicted[chosen], confidence[chosen], strict=True)
    ]
    if title is None:
        title = (
            f"The {len(chosen)} most confident mistakes of {len(wrong):,} "
            f"(true class \u2192 predicted class, probability)"
        )
    return image_grid(np.asarray(images)[chosen], path, labels, ncols=ncols, title=title)


# --------------------------------------------------------------------------------------------------
# Learning curves
def plot_training_curves(
    history: dict[str, Sequence[float]],
    path: PathLike,
    title: str,
    loss_label: str = "training loss (label-smoothed cross-entropy)",
) -> Path:
    """Learning curves of a training run, one point per epoch, written to `path`.

    `history` holds "train_loss", "train_acc" (on the augmented training batches) and "test_acc",
    lists of equal length. Left: the training loss; right: both accuracies, the final test accuracy
    in the legend. Returns the path written.
    """
    from matplotlib.figure import Figure

    epochs = np.arange(1, len(history["test_acc"]) + 1)
    figure = Figure(figsize=(11, 4))
    ax_loss, ax_acc = figure.subplots(1, 2)
    ax_loss.plot(epochs, history["train_loss"], color="tab:blue")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel(loss_label)
    ax_loss.grid(alpha=0.3)
    ax_acc.plot(epochs, history["train_acc"], color="tab:blue", label="train (augmented batches)")
    final = history["test_acc"][-1]
    ax_acc.plot(epochs, history["test_acc"], color="tab:red", label=f"test (final {final:.4f})")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.grid(alpha=0.3)
    ax_acc.legend(loc="lower right")
    figure.suptitle(title)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return save_figure(figure, path, dpi=120)
