"""Convolution and pooling: the ops of a convolutional network, each a `Function`.

The API is torch's: tensors are NCHW (batch, channels, height, width) and a convolution weight is
(out_channels, in_channels / groups, kh, kw). Inside, the ops work channels-last (NHWC), because then

- the im2col matrix of a convolution is a gather of contiguous runs of `kw * C` values, and its
  product with the weight is one BLAS GEMM whose result *is* the NHWC output: no transpose;
- an op returns its NHWC result as an NCHW-shaped *view* (`transpose(0, 3, 1, 2)`, no copy), and
  numpy's elementwise ops keep the memory order of their input, so batch norm, ReLU and pooling
  pass channels-last memory on to the next convolution, whose `transpose(0, 2, 3, 1)` is free.

Convolution (`Conv2d`), for x (N, C, H, W) and weight (F, C, kh, kw):

    forward   cols (N·Ho·Wo, kh·kw·C) = windows of the padded input     (im2col: a strided view, copied)
              out  (N·Ho·Wo, F)       = cols @ W                        (GEMM 1; W = weight as (kh·kw·C, F))
    backward  dW                      = colsᵀ @ dout                    (GEMM 2)
              dcols                   = dout @ Wᵀ                       (GEMM 3, only if x needs a gradient)
              dx                      = col2im(dcols): for each of the kh·kw kernel offsets, one strided
                                        slice addition into the padded input's gradient
    (GEMM 3 runs one kernel offset at a time, so each offset's columns are one contiguous block
    that is added at once: see `_col2im_add`.)

With `groups = g`, input and output channels are split into g groups and group k's outputs see only
group k's inputs: the columns are built group by group, (g, N·Ho·Wo, kh·kw·C/g), and each GEMM above
becomes one *batched* GEMM over the groups (`np.matmul` on stacks of matrices). `dilation` spaces the
kernel's taps apart: it only changes the strides of the windows view and where col2im adds.

When the column matrix of a batch would exceed `MEMORY_BUDGET_BYTES`, the batch is processed in
chunks of samples, and backward rebuilds each chunk's columns instead of keeping them all.

Depthwise convolution (`DepthwiseConv2d`, groups = C: each output channel sees one input channel)
has no GEMM worth the name (its batched GEMMs would have an inner dimension of kh·kw), so it is a
sum over the kh·kw shifted windows, written as one `np.einsum` over the windows view, vectorised
over batch, pixels and channels; see the class for its backward.

Every op computes with its input's array library (`xp`: numpy, or CuPy on a GPU; see
`backend.py`); the thread splitting of `over_batch` is for the CPU only.

Pooling slides a window over each channel. Both kinds loop over the kh·kw offsets *inside* the
window (4 for 2×2), each step one vectorised operation on a strided slice of the whole batch; never
a loop over windows, pixels or samples. torch's other pooling arguments keep that shape: dilation
moves the slices' starts, ceil mode pads the input's end further (-inf or zeros) so that the last
windows' slices exist, a mean's divisor that differs between windows is one (Ho, Wo) array, and
max-pool's indices come from recording which offset each window took.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_be.backend import array_module, as_strided, ascontiguousarray, einsum, is_host
from tinygrad_be.parallel import over_batch
from tinygrad_be.tensor import Function, Tensor, _as_tensor

__all__ = [
    "MEMORY_BUDGET_BYTES",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "conv2d",
    "conv_output_size",
    "max_pool2d",
]

Array = np.ndarray
Pair = tuple[int, int]
# Padding of an image: (ph, pw) on both sides, or ((top, bottom), (left, right)) (padding='same'
# with an even kernel pads one more row/column after than before, as torch does).
Padding = Pair | tuple[Pair, Pair]

# Largest im2col matrix (bytes) built at once; a larger batch is processed in chunks of samples.
MEMORY_BUDGET_BYTES = 512 * 2**20


# --------------------------------------------------------------------------------------------------
# Arguments
def _pair(name: str, what: str, value: Any) -> Pair:
    """An int or a pair of ints -> a pair of ints (torch accepts both)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{name}: {what} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _sides(padding: Padding) -> tuple[Pair, Pair]:
    """Either form of `Padding` -> ((top, bottom), (left, right))."""
    if isinstance(padding[0], tuple):
        return padding  # type: ignore[return-value]
    return (padding[0], padding[0]), (padding[1], padding[1])  # type: ignore[return-value]


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """torch's output length of a window sliding over `size` (windows that do not fit are dropped).

    A dilated kernel spans dilation·(kernel - 1) + 1 input values.
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _window_shape(
    name: str,
    x_shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: Pair,
    padding: Padding,
    dilation: Pair = (1, 1),
) -> Pair:
    """Check the window arguments against an NCHW input; return the output's (height, width)."""
    _check_window_arguments(name, x_shape, kernel, stride, padding, dilation)
    sides = _sides(padding)
    height, width = x_shape[2] + sum(sides[0]), x_shape[3] + sum(sides[1])
    span = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
    if span[0] > height or span[1] > width:
        dilated = f" with dilation {dilation} (spanning {span})" if dilation != (1, 1) else ""
        raise ValueError(
            f"{name}: kernel {kernel}{dilated} is larger than the padded input ({height}, {width}) "
            f"(input shape {tuple(x_shape)}, padding {padding})"
        )
    return (height - span[0]) // stride[0] + 1, (width - span[1]) // stride[1] + 1


def _check_window_arguments(
    name: str,
    x_shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: Pair,
    padding: Padding,
    dilation: Pair,
) -> None:
    """Kernel size, stride and dilation must be positive, padding at least 0."""
    for what, values in (("kernel size", kernel), ("stride", stride), ("dilation", dilation)):
        if min(values) <= 0:
            raise ValueError(f"{name}: {what} must be positive, got {values} (input {x_shape})")
    sides = _sides(padding)
    if min(sides[0] + sides[1]) < 0:
        raise ValueError(f"{name}: padding must be >= 0, got {padding} (input {x_shape})")


def _check_4d(name: str, x_shape: tuple[int, ...]) -> None:
    if len(x_shape) != 4:
        raise ValueError(f"{name}: input must be (N, C, H, W), got shape {tuple(x_shape)}")


# --------------------------------------------------------------------------------------------------
# im2col / col2im on channels-last arrays
def _pad_nhwc(x_nchw: Array, padding: Padding, fill: float = 0.0) -> Array:
    """NCHW input -> NHWC array with `padding` rows/columns of `fill` around each image.

    One copy does both the layout change and the padding (and is free of any copy when the input
    is already channels-last memory and needs no padding).
    """
    x = x_nchw.transpose(0, 2, 3, 1)
    (top, bottom), (left, right) = _sides(padding)
    padded_at_all = top or bottom or left or right
    if x.flags.c_contiguous and not padded_at_all:
        return x
    n, h, w, c = x.shape
    xp = array_module(x)
    padded = xp.empty((n, h + top + bottom, w + left + right, c), dtype=x.dtype)

    def pad(start: int, stop: int) -> None:
        block = padded[start:stop]
        if padded_at_all:  # only the border: the copy below writes the inside
            block[:, :top].fill(fill)
            block[:, top + h :].fill(fill)
            block[:, top : top + h, :left].fill(fill)
            block[:, top : top + h, left + w :].fill(fill)
        block[:, top : top + h, left : left + w] = x[start:stop]

    over_batch(n, pad, padded.nbytes, host=xp is np)
    return padded


def _windows(
    padded: Array,
    kernel: tuple[int, int],
    stride: Pair,
    out_hw: Pair,
    dilation: Pair = (1, 1),
) -> Array:
    """A read-only strided view (N, Ho, Wo, kh, kw, C...) of every window of an NHWC array.

    Window (y, x) starts at pixel (y·stride, x·stride); its tap (i, j) is pixel
    (y·stride + i·dilation, x·stride + j·dilation). Trailing axes after H, W are kept as they are.
    """
    sn, sh, sw, *rest = padded.strides
    return as_strided(
        padded,
        shape=(padded.shape[0], *out_hw, *kernel, *padded.shape[3:]),
        strides=(sn, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1], *rest),
    )


def _im2col(
    padded: Array,
    kernel: tuple[int, int],
    stride: Pair,
    out_hw: Pair,
    dilation: Pair,
    groups: int,
) -> Array:
    """The column matrices (groups, N·Ho·Wo, kh·kw·C/groups): row = one output pixel, its window
    flattened, one matrix per group of channels (with one group: runs of kw·C contiguous values)."""
    windows = _windows(padded, kernel, stride, out_hw, dilation)  # (N, Ho, Wo, kh, kw, C)
    n, c = padded.shape[0], padded.shape[3]
    # Split the channels into groups, the group axis first (views, nothing copied yet).
    by_group = np.moveaxis(windows.reshape(*windows.shape[:5], groups, c // groups), 5, 0)
    xp = array_module(padded)
    cols = xp.empty(by_group.shape, dtype=padded.dtype)

    def copy(start: int, stop: int) -> None:  # the one real copy
        np.copyto(cols[:, start:stop], by_group[:, start:stop])

    over_batch(n, copy, cols.nbytes, host=xp is np)
    return cols.reshape(groups, n * out_hw[0] * out_hw[1], -1)


def _col2im_add(
    target: Array,
    grad_out: Array,
    w_matrix: Array,
    kernel: tuple[int, int],
    stride: Pair,
    out_hw: Pair,
    dilation: Pair,
) -> None:
    """Add the input gradient of a convolution into `target`, the padded NHWC input's gradient.

    `grad_out` (groups, n·Ho·Wo, F/groups) is the output's gradient and `w_matrix`
    (groups, kh·kw·C/groups, F/groups) the weight. The columns' gradient is grad_out @ w_matrixᵀ;
    it is computed one kernel offset (i, j) at a time, a (n·Ho·Wo, C) block, because window (y, x)
    covers pixel (y·stride + i·dilation, x·stride + j·dilation): so the block is added to one
    strided slice of `target`, with long contiguous runs on both sides. (All offsets in one GEMM
    would interleave them, and the additions would crawl through runs of C.)
    """
    n, _, _, c = target.shape
    groups, rows, _ = grad_out.shape
    per_group = c // groups
    (ho, wo), (sh, sw) = out_hw, stride
    xp = array_module(target)
    block = xp.empty((rows, c), dtype=target.dtype)
    block_groups = block.reshape(rows, groups, per_group).transpose(1, 0, 2)  # a view of block
    block_nhwc = block.reshape(n, ho, wo, c)
    for offset, (i, j) in enumerate(np.ndindex(*kernel)):
        w_offset = w_matrix[:, offset * per_group : (offset + 1) * per_group]
        np.matmul(grad_out, w_offset.transpose(0, 2, 1), out=block_groups)
        top, left = i * dilation[0], j * dilation[1]
        covered = target[
            :, top : top + sh * (ho - 1) + 1 : sh, left : left + sw * (wo - 1) + 1 : sw
        ]

        def add(start: int, stop: int, covered: Array = covered) -> None:
            covered[start:stop] += block_nhwc[start:stop]

        over_batch(n, add, block.nbytes, host=xp is np)


def _chunks(n: int, bytes_per_sample: int) -> list[Pair]:
    """[start, stop) ranges of samples whose column matrices fit `MEMORY_BUDGET_BYTES`."""
    per_chunk = max(1, MEMORY_BUDGET_BYTES // max(bytes_per_sample, 1))
    return [(start, min(start + per_chunk, n)) for start in range(0, n, per_chunk)]


def _crop(padded: Array, padding: Padding, input_shape: tuple[int, ...]) -> Array:
    """The gradient of a padded NHWC input, cropped to the input and viewed as NCHW."""
    ((top, _), (left, _)), (h, w) = _sides(padding), input_shape[2:]
    return padded[:, top : top + h, left : left + w].transpose(0, 3, 1, 2)


# --------------------------------------------------------------------------------------------------
# Convolution
class Conv2d(Function):
    """2-D cross-correlation (torch's conv2d): im2col + one (batched) GEMM forward, two backward.

    Shapes are checked by `conv2d`; `groups` splits the channels (1: an ordinary convolution).
    """

    saves_inputs, saves_output = True, False  # backward never reads the output

    def forward(
        self,
        x: Array,
        weight: Array,
        *bias: Array,
        stride: Pair,
        padding: Padding,
        dilation: Pair,
        groups: int,
    ) -> Array:
        kernel = (weight.shape[2], weight.shape[3])
        out_hw = _window_shape("conv2d", x.shape, kernel, stride, padding, dilation)
        n, c = x.shape[:2]
        filters = weight.shape[0]
        padded = _pad_nhwc(x, padding)
        # W as one matrix (kh·kw·C/g, F/g) per group, rows in the order of the columns' windows.
        w_groups = weight.reshape(groups, filters // groups, c // groups, *kernel)
        w_matrix = ascontiguousarray(w_groups.transpose(0, 3, 4, 2, 1))
        w_matrix = w_matrix.reshape(groups, -1, filters // groups)
        rows = out_hw[0] * out_hw[1]  # output pixels (column rows) per sample
        chunks = _chunks(n, rows * w_matrix.shape[1] * groups * x.itemsize)
        out = array_module(x).empty((n * rows, filters), dtype=np.result_type(x.dtype, weight.dtype))
        out_groups = out.reshape(n * rows, groups, -1).transpose(1, 0, 2)  # a view of out
        self.cols = None
        for start, stop in chunks:
            cols = _im2col(padded[start:stop], kernel, stride, out_hw, dilation, groups)
            np.matmul(cols, w_matrix, out=out_groups[:, start * rows : stop * rows])
            if len(chunks) == 1:
                self.cols = cols  # fits the budget: keep it for the weight gradient
        if bias:
            out += bias[0]
        self.padded, self.w_matrix, self.chunks = padded, w_matrix, chunks
        self.kernel, self.stride, self.padding, self.out_hw = kernel, stride, padding, out_hw
        self.dilation, self.groups = dilation, groups
        self.input_shape, self.weight_shape = x.shape, weight.shape
        return out.reshape(n, *out_hw, filters).transpose(0, 3, 1, 2)

    def backward(self, grad: Array) -> tuple[Array | None, ...]:
        need_x, need_w, *need_b = self.needs_input_grad
        filters, per_group, kh, kw = self.weight_shape
        groups, rows = self.groups, self.out_hw[0] * self.out_hw[1]
        g = _pad_nhwc(grad, (0, 0)).reshape(-1, filters)  # free when grad is channels-last
        # (groups, N·Ho·Wo, F/g), contiguous: BLAS crawls through a strided operand (a copy with
        # more than one group, a view with one).
        g_groups = ascontiguousarray(g.reshape(len(g), groups, -1).transpose(1, 0, 2))
        grad_w_matrix = None
        grad_padded = np.zeros_like(self.padded) if need_x else None
        for start, stop in self.chunks:
            g_chunk = g_groups[:, start * rows : stop * rows]
            if need_w:
                cols = self.cols
                if cols is None:
                    cols = _im2col(
                        self.padded[start:stop],
                        self.kernel,
                        self.stride,
                        self.out_hw,
                        self.dilation,
                        groups,
                    )
                product = np.matmul(cols.transpose(0, 2, 1), g_chunk)
                if grad_w_matrix is None:
                    grad_w_matrix = product
                else:
                    grad_w_matrix += product
            if need_x:
                _col2im_add(
                    grad_padded[start:stop],
                    g_chunk,
                    self.w_matrix,
                    self.kernel,
                    self.stride,
                    self.out_hw,
                    self.dilation,
                )
        grad_x = grad_w = None
        if need_x:
            grad_x = _crop(grad_padded, self.padding, self.input_shape)
        if need_w:  # (groups, kh·kw·C/g, F/g) -> (F, C/g, kh, kw)
            grad_w = grad_w_matrix.reshape(groups, kh, kw, per_group, -1).transpose(0, 4, 3, 1, 2)
            grad_w = grad_w.reshape(self.weight_shape)
        if need_b:
            grad_b = g.sum(axis=0) if need_b[0] else None
            return grad_x, grad_w, grad_b
        return grad_x, grad_w


class DepthwiseConv2d(Function):
    """Depthwise convolution: groups = C, weight (m·C, 1, kh, kw), output channel c·m + k sees only
    input channel c (m, the channel multiplier, is usually 1).

    With the multiplier folded in (each input channel repeated m times, so that channel f of the
    repeated input feeds output channel f), every output channel is the sum over the kh·kw taps:

        forward   out[n, y, x, f] = Σ_ij  xp[n, y·s + i·d, x·s + j·d, f] · w[i, j, f]
        backward  dw[i, j, f]     = Σ_nyx xp[n, y·s + i·d, x·s + j·d, f] · dout[n, y, x, f]
                  dxp             = the same sum as forward, over the output gradient spread out
                                    (dout[y] at row y·s, zeros between, d·(k - 1) zeros before)
                                    with the kernel flipped: a transposed convolution (`_spread`)

    (xp: the padded NHWC input, s: stride, d: dilation.) Each line is one `np.einsum` on a strided
    windows view, vectorised over batch, pixels and channels (and run on every core, a slice of the
    batch each: einsum releases the GIL); no column matrix is built, and no GEMM multiplies zeros.
    """

    saves_inputs, saves_output = True, False  # backward never reads the output

    def forward(
        self,
        x: Array,
        weight: Array,
        *bias: Array,
        stride: Pair,
        padding: Padding,
        dilation: Pair,
    ) -> Array:
        kernel = (weight.shape[2], weight.shape[3])
        out_hw = _window_shape("conv2d", x.shape, kernel, stride, padding, dilation)
        filters, channels = weight.shape[0], x.shape[1]
        padded = _pad_nhwc(x, padding)
        if filters > channels:  # a multiplier m > 1: channel c is read by m output channels
            padded = np.repeat(padded, filters // channels, axis=3)
        taps = ascontiguousarray(weight.reshape(filters, *kernel).transpose(1, 2, 0))
        windows = _windows(padded, kernel, stride, out_hw, dilation)  # (N, Ho, Wo, kh, kw, F)
        out = _taps_sum(windows, taps)
        if bias:
            out += bias[0]
        self.padded, self.windows, self.taps = padded, windows, taps
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.input_shape, self.weight_shape = x.shape, weight.shape
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad: Array) -> tuple[Array | None, ...]:
        need_x, need_w, *need_b = self.needs_input_grad
        if need_x:  # g (N, Ho, Wo, F) is a view of the input gradient's spread-out array
            spread, g = self._spread(grad)
        else:
            g = _pad_nhwc(grad, (0, 0))  # free when grad is channels-last
        grad_x = grad_w = None
        if need_w:
            taps_grad = _taps_grad(self.windows, g)  # (kh, kw, F)
            grad_w = taps_grad.transpose(2, 0, 1).reshape(self.weight_shape)
        if need_x:
            grad_x = self._input_grad(spread)
        if need_b:
            return grad_x, grad_w, g.sum(axis=(0, 1, 2)) if need_b[0] else None
        return grad_x, grad_w

    def _spread(self, grad: Array) -> tuple[Array, Array]:
        """The output gradient spread out for the transposed convolution, and the NHWC view of it
        that is the output gradient: spread[r] = g[y] at r = d·(k - 1) + y·s, zeros elsewhere.

        Then padded pixel t gets Σ_i g[y]·w[i] over y·s + i·d = t, which is
        Σ_i' spread[t + i'·d]·w[k-1-i'] (i' = k-1-i): a convolution with the flipped kernel.
        """
        kh, kw, filters = self.taps.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        reach_h, reach_w = dh * (kh - 1), dw * (kw - 1)  # how far a window spans beyond its start
        ho, wo = grad.shape[2:]
        if (sh, sw) == (1, 1):  # no zeros between: the gradient with a border of `reach` zeros
            spread = _pad_nhwc(grad, (reach_h, reach_w))
            return spread, spread[:, reach_h : reach_h + ho, reach_w : reach_w + wo]
        n, height, width, _ = self.padded.shape
        xp = array_module(grad)
        spread = xp.empty((n, height + reach_h, width + reach_w, filters), dtype=grad.dtype)
        g = spread[
            :,
            reach_h : reach_h + sh * (ho - 1) + 1 : sh,
            reach_w : reach_w + sw * (wo - 1) + 1 : sw,
        ]
        grad_nhwc = grad.transpose(0, 2, 3, 1)

        def fill(start: int, stop: int) -> None:  # the layout change and the spreading at once
            spread[start:stop].fill(0)
            np.copyto(g[start:stop], grad_nhwc[start:stop])

        over_batch(n, fill, spread.nbytes, host=xp is np)
        return spread, g

    def _input_grad(self, spread: Array) -> Array:
        """The transposed convolution: the flipped kernel over the spread-out output gradient."""
        n, c, h, w = self.input_shape
        kh, kw, filters = self.taps.shape
        # Only the pixels inside the padding are wanted: windows from (top, left), (h, w) of them.
        (top, _), (left, _) = _sides(self.padding)
        windows = _windows(spread[:, top:, left:], (kh, kw), (1, 1), (h, w), self.dilation)
        flipped = ascontiguousarray(self.taps[::-1, ::-1])
        xp = array_module(spread)
        # An (N, C, H, W) array with NHWC memory that owns it (not a transposed view of one): the
        # engine keeps it as a leaf's .grad as it is, where it would copy a view.
        grad = xp.empty_like(xp.empty((n, h, w, c), dtype=spread.dtype).transpose(0, 3, 1, 2))
        if filters == c:
            _taps_sum(windows, flipped, out=grad.transpose(0, 2, 3, 1))
        else:  # undo the repetition: the m copies of an input channel add up
            repeated = _taps_sum(windows, flipped).reshape(n, h, w, c, filters // c)
            repeated.sum(axis=4, out=grad.transpose(0, 2, 3, 1))
        return grad


def _taps_sum(windows: Array, taps: Array, out: Array | None = None) -> Array:
    """out[n, y, x, f] = Σ_ij windows[n, y, x, i, j, f] · taps[i, j, f]: (N, Ho, Wo, F), into
    `out` if given (a contiguous array).

    numpy's einsum loops in C over the last axis, F values a loop, so at F = 128 the loops' own
    cost outweighs the arithmetic. When the windows step one pixel at a time along the width (stride
    1), a tap's values for a whole output row, (x, f), are one contiguous run of Wo·F values in
    the padded input, so the sum runs over those merged rows instead, with the taps repeated along
    x: loops Wo times longer, the same arithmetic (1.5 times faster at 16×16×128).
    """
    n, ho, wo, kh, kw, f = windows.shape
    sn, sy, sx, si, sj, sf = windows.strides
    xp = array_module(windows)
    if out is None:
        out = xp.empty((n, ho, wo, f), dtype=np.result_type(windows.dtype, taps.dtype))
    if sx == f * sf == f * windows.itemsize:  # merge (x, f) into one axis of Wo·F values
        windows = as_strided(windows, (n, ho, kh, kw, wo * f), (sn, sy, si, sj, sf))
        taps = ascontiguousarray(np.broadcast_to(taps[:, :, None, :], (kh, kw, wo, f)))
        subscripts, taps, target = "nyijm,ijm->nym", taps.reshape(kh, kw, wo * f), out.reshape(n, ho, wo * f)
    else:
        subscripts, target = "nyxijf,ijf->nyxf", out

    def work(start: int, stop: int) -> None:
        einsum(subscripts, windows[start:stop], taps, out=target[start:stop])

    over_batch(n, work, out.nbytes * kh * kw, host=xp is np)
    return out


def _taps_grad(windows: Array, g: Array) -> Array:
    """Σ_nyx windows[n, y, x, i, j, f] · g[n, y, x, f]: (kh, kw, F), a partial sum per thread."""
    n, _, _, kh, kw, _ = windows.shape
    partial: dict[int, Array] = {}

    def work(start: int, stop: int) -> None:
        partial[start] = einsum("nyxijf,nyxf->ijf", windows[start:stop], g[start:stop])

    over_batch(n, work, g.nbytes * kh * kw, host=is_host(g))
    return sum(partial[start] for start in sorted(partial))  # in a fixed order: deterministic


def _conv_padding(padding: Any, kernel: tuple[int, int], stride: Pair, dilation: Pair) -> Padding:
    """conv2d's `padding` argument (an int, a pair, 'valid' or 'same') as a `Padding`."""
    if not isinstance(padding, str):
        return _pair("conv2d", "padding", padding)
    if padding == "valid":
        return (0, 0)
    if padding != "same":
        raise ValueError(
            f"conv2d: padding must be an int, a pair of ints, 'same' or 'valid', got {padding!r}"
        )
    if stride != (1, 1):
        raise ValueError(
            f"conv2d: padding='same' is not supported for strided convolutions (stride {stride}),"
            " as in torch"
        )
    # torch: the window's reach d·(k - 1) split in two, the odd one out after.
    reach = (dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1))
    sides = ((reach[0] // 2, reach[0] - reach[0] // 2), (reach[1] // 2, reach[1] - reach[1] // 2))
    if sides[0][0] == sides[0][1] and sides[1][0] == sides[1][1]:
        return sides[0][0], sides[1][0]
    return sides


def _check_conv_shapes(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], bias: Tensor | None, groups: Any
) -> None:
    """ValueErrors naming the shapes, before any work is done."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(
            f"conv2d: input must be (N, C, H, W) or (C, H, W) and weight "
            f"(F, C / groups, kh, kw), got shapes {x_shape} and {w_shape}"
        )
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive integer, got {groups!r}")
    if w_shape[0] % groups:
        raise ValueError(
            f"conv2d: the weight's {w_shape[0]} output channels (weight shape {w_shape}) are not "
            f"divisible by groups={groups}"
        )
    if x_shape[1] != w_shape[1] * groups:
        grouped = f" = groups {groups} x {w_shape[1]}" if groups > 1 else ""
        raise ValueError(
            f"conv2d: input has {x_shape[1]} channels (shape {x_shape}) but the weight expects "
            f"{w_shape[1] * groups}{grouped} (shape {w_shape})"
        )
    if bias is not None and tuple(bias.shape) != (w_shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({w_shape[0]},), got {tuple(bias.shape)}")


def conv2d(
    input: Tensor | Array,  # noqa: A002  (torch's name)
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Pair = 1,
    padding: int | Pair | str = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as torch's `F.conv2d`).

    input (N, C_in, H, W) or unbatched (C_in, H, W), weight (C_out, C_in / groups, kh, kw), bias
    (C_out,) or None -> (N, C_out, Ho, Wo) with Ho = (H + 2·padding - dilation·(kh - 1) - 1) //
    stride + 1 (likewise Wo). `stride`, `padding` and `dilation` are an int or a (height, width)
    pair; padding adds zeros; `padding='valid'` is 0 and `padding='same'` (stride 1 only) keeps
    the size. `groups` splits the channels into groups convolved separately: C_in and C_out must
    be divisible by it; groups = C_in is a depthwise convolution (each output channel sees one
    input channel), which has a path of its own.
    """
    x, weight = _as_tensor(input), _as_tensor(weight)
    if x.ndim == 3 and weight.ndim == 4:  # unbatched, as torch accepts: a batch of one
        out = conv2d(x.reshape(1, *x.shape), weight, bias, stride, padding, dilation, groups)
        return out.reshape(out.shape[1:])
    _check_conv_shapes(tuple(x.shape), tuple(weight.shape), bias, groups)
    stride_pair = _pair("conv2d", "stride", stride)
    dilation_pair = _pair("conv2d", "dilation", dilation)
    kernel = (weight.shape[2], weight.shape[3])
    padding_arg = _conv_padding(padding, kernel, stride_pair, dilation_pair)
    inputs = [x, weight] + ([] if bias is None else [_as_tensor(bias)])
    options = dict(stride=stride_pair, padding=padding_arg, dilation=dilation_pair)
    if groups > 1 and weight.shape[1] == 1:  # one input channel per group: depthwise
        return DepthwiseConv2d.apply(*inputs, **options)
    return Conv2d.apply(*inputs, **options, groups=int(groups))


# --------------------------------------------------------------------------------------------------
# Pooling
class MaxPool2d(Function):
    """Max over each window; the gradient goes to the window's first maximum (as torch).

    x (N, C, H, W) -> (N, C, Ho, Wo). Padding is -inf, so it never wins; in ceil mode the windows
    hanging over the end see more of it (`_pool_input`). `dilation` spaces a window's taps apart.

    With `indices` (a list: `return_indices=True`) the forward also records which offset each
    window took, by torch's rule (`_take_maxima`), appends torch's flat indices of the maxima
    (`_flat_indices`), and backward routes by that record, so the gradient goes where the indices
    say. (Without it, backward finds the first tap equal to the maximum: the same tap, except
    that a NaN maximum gets no gradient and a window of -inf may give its gradient to padding.)
    """

    def forward(
        self,
        x: Array,
        kernel: Pair,
        stride: Pair,
        padding: Pair,
        dilation: Pair = (1, 1),
        ceil_mode: bool = False,
        indices: list[Array] | None = None,
    ) -> Array:
        fill = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
        padded, out_hw = _pool_input(
            "max_pool2d", x, kernel, stride, padding, fill, dilation, ceil_mode
        )
        windows = _offset_slices(padded, kernel, stride, out_hw, dilation)
        xp = array_module(x)
        out = xp.empty(windows[0].shape, dtype=x.dtype)
        self.winner = None  # (N, Ho, Wo, C): the offset each window took (only with `indices`)
        if indices is None:

            def pool(start: int, stop: int) -> None:
                np.copyto(out[start:stop], windows[0][start:stop])
                for window in windows[1:]:
                    np.maximum(out[start:stop], window[start:stop], out=out[start:stop])

            over_batch(len(out), pool, padded.nbytes, host=xp is np)
        else:
            self.winner = _take_maxima(windows, out, padded.nbytes)
            # A window of -inf (fill) only: torch takes its first tap inside the input, which
            # is the first tap unless the window starts on padding.
            empty = out == fill if any(padding) else None
            if empty is not None and empty.any():
                first = _first_taps_inside(out_hw, kernel, stride, padding, dilation)
                first = xp.asarray(first, dtype=self.winner.dtype)[:, :, None]
                np.copyto(self.winner, first, where=empty)
            flat = _flat_indices(self.winner, x.shape, kernel, stride, padding, dilation)
            indices.append(flat.transpose(0, 3, 1, 2))
        self.padded, self.out = padded, out
        self.kernel, self.stride, self.padding, self.out_hw = kernel, stride, padding, out_hw
        self.dilation, self.input_shape = dilation, x.shape
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad: Array) -> tuple[Array]:
        # Route each window's gradient to the first offset (row-major) holding its maximum:
        # `unrouted` is still 1 where no earlier offset has taken the window. (With a record of
        # the offsets taken, to the recorded one.)
        g = grad.transpose(0, 2, 3, 1)
        xp = array_module(grad)
        grad_padded = xp.zeros(self.padded.shape, dtype=grad.dtype)
        (kh, kw), (dh, dw), winner = self.kernel, self.dilation, self.winner
        spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        # Windows closer than their span may share pixels (a dilated window may skip its
        # neighbour's, but += is right either way).
        overlapping = self.stride[0] < spans[0] or self.stride[1] < spans[1]
        sources = _offset_slices(self.padded, self.kernel, self.stride, self.out_hw, self.dilation)
        targets = _offset_slices(grad_padded, self.kernel, self.stride, self.out_hw, self.dilation)

        def route(start: int, stop: int) -> None:
            out, g_part = self.out[start:stop], g[start:stop]
            unrouted = xp.ones(out.shape, dtype=bool) if winner is None else None
            for k, (source, target) in enumerate(zip(sources, targets, strict=True)):
                if unrouted is None:
                    hit = np.equal(winner[start:stop], k)
                else:
                    hit = np.equal(source[start:stop], out)
                    hit &= unrouted
                    unrouted ^= hit
                if overlapping:  # windows share pixels: gradients add up
                    target[start:stop] += g_part * hit
                else:
                    np.multiply(g_part, hit, out=target[start:stop])

        over_batch(len(g), route, grad_padded.nbytes, host=xp is np)
        return (_crop(grad_padded, self.padding, self.input_shape),)


def _take_maxima(windows: list[Array], out: Array, bytes_total: int) -> Array:
    """Fill `out` with the maxima of the windows as torch's kernel finds them, tap by tap in
    row-major order: a tap takes over when it is greater than the maximum so far, or NaN. Return
    which offset each window took last, (N, Ho, Wo, C) small integers."""
    xp = array_module(out)
    winner = xp.zeros(out.shape, dtype=np.min_scalar_type(len(windows) - 1))
    floating = np.issubdtype(out.dtype, np.floating)

    def pool(start: int, stop: int) -> None:
        best, taken_by = out[start:stop], winner[start:stop]
        np.copyto(best, windows[0][start:stop])
        for k, window in enumerate(windows[1:], 1):
            tap = window[start:stop]
            taken = np.greater(tap, best)
            if floating:  # torch: a later NaN takes over from an earlier one
                taken |= np.isnan(tap)
            # Masked writes (copyto where=) crawl; these are the same: np.maximum keeps a NaN as
            # torch's maximum does, and offsets only grow, so k·taken is the new winner or less.
            np.maximum(best, tap, out=best)
            np.maximum(taken_by, np.multiply(taken, k, dtype=taken_by.dtype), out=taken_by)

    over_batch(len(out), pool, bytes_total, host=xp is np)
    return winner


def _first_taps_inside(
    out_hw: Pair, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
) -> Array:
    """(Ho, Wo): the offset (row-major) of each window's first tap inside the input (not on the
    padding): torch's index of a window whose values are all -inf."""
    firsts = []
    for out, s, p, d in zip(out_hw, stride, padding, dilation, strict=True):
        before = np.maximum(p - np.arange(out) * s, 0)  # the window's rows/columns of padding
        firsts.append(-(-before // d))  # the first tap past them
    return firsts[0][:, None] * kernel[1] + firsts[1][None, :]


def _flat_indices(
    winner: Array,
    x_shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
) -> Array:
    """torch's indices of the maxima, (N, Ho, Wo, C) int64: row·W + column in the input plane
    of the tap each window took. Window (y, x) starts at (y·sh - ph, x·sw - pw); its offset
    (i, j) is i·dh rows and j·dw columns further."""
    xp, width = array_module(winner), x_shape[3]
    (ho, wo), (kh, kw) = winner.shape[1:3], kernel
    rows = np.arange(ho) * stride[0] - padding[0]
    columns = np.arange(wo) * stride[1] - padding[1]
    starts = rows[:, None] * width + columns[None, :]  # (Ho, Wo)
    steps = np.arange(kh)[:, None] * dilation[0] * width + np.arange(kw)[None, :] * dilation[1]
    flat = xp.asarray(steps.reshape(-1), dtype=np.int64)[winner]
    flat += xp.asarray(starts, dtype=np.int64)[:, :, None]
    return flat


class AvgPool2d(Function):
    """Mean over each window: its sum times 1 / torch's divisor.

    x (N, C, H, W) -> (N, C, Ho, Wo). The divisor is kh·kw (padding zeros count in the mean:
    torch's count_include_pad=True) unless a window hangs over the padded input's end in ceil
    mode: then only its taps inside the padded input count. With count_include_pad=False only its
    taps inside the input count; `divisor_override` replaces all that. The divisor of window
    (y, x) is a product of one count per axis, so the scale is a scalar or (Ho, Wo, 1).
    """

    saves_inputs, saves_output = True, False  # backward never reads the output

    def forward(
        self,
        x: Array,
        kernel: Pair,
        stride: Pair,
        padding: Pair,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> Array:
        padded, out_hw = _pool_input(
            "avg_pool2d", x, kernel, stride, padding, 0.0, ceil_mode=ceil_mode
        )
        out = None
        for window in _offset_slices(padded, kernel, stride, out_hw):
            out = window.copy() if out is None else np.add(out, window, out=out)
        if ceil_mode or not count_include_pad or divisor_override is not None:
            self.scale = _average_scale(
                x.shape, kernel, stride, padding, out_hw, count_include_pad, divisor_override, out
            )
        else:
            self.scale = out.dtype.type(1.0 / (kernel[0] * kernel[1]))
        out *= self.scale
        self.padded_shape, self.kernel, self.stride = padded.shape, kernel, stride
        self.padding, self.out_hw, self.input_shape = padding, out_hw, x.shape
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad: Array) -> tuple[Array]:
        share = grad.transpose(0, 2, 3, 1) * self.scale
        grad_padded = array_module(grad).zeros(self.padded_shape, dtype=grad.dtype)
        for target in _offset_slices(grad_padded, self.kernel, self.stride, self.out_hw):
            target += share
        return (_crop(grad_padded, self.padding, self.input_shape),)


def _average_scale(
    x_shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    out_hw: Pair,
    count_include_pad: bool,
    divisor_override: int | None,
    out: Array,
) -> Any:
    """1 / torch's divisor of each window, in `out`'s dtype: a scalar when it is the same for every
    window, else (Ho, Wo, 1) (broadcast over the batch and channels of NHWC)."""
    dtype = out.dtype.type
    if divisor_override is not None:
        return dtype(1.0 / divisor_override)
    counts = []  # per axis: how many of each window's taps count
    for size, k, s, p, n in zip(x_shape[2:], kernel, stride, padding, out_hw, strict=True):
        start = np.arange(n) * s - p
        stop = np.minimum(start + k, size + p)  # torch: up to the padded input's end, not beyond
        if not count_include_pad:  # the taps inside the input only
            start, stop = np.maximum(start, 0), np.minimum(stop, size)
        counts.append(stop - start)
    divisor = counts[0][:, None] * counts[1][None, :]
    if (divisor == kernel[0] * kernel[1]).all():
        return dtype(1.0 / (kernel[0] * kernel[1]))
    return array_module(out).asarray((1.0 / divisor)[:, :, None], dtype=out.dtype)


def _pool_input(
    name: str,
    x: Array,
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    fill: float,
    dilation: Pair = (1, 1),
    ceil_mode: bool = False,
) -> tuple[Array, Pair]:
    """Check a pooling's arguments; return x as NHWC padded with `fill`, and the output size.

    In ceil mode the last windows may hang over the padded input's end: the array gets rows and
    columns of `fill` there as well (bottom/right), so that every window's taps exist.
    """
    _check_4d(name, x.shape)
    if ceil_mode:
        out_hw, sides = _ceil_mode_shape(name, x.shape, kernel, stride, padding, dilation)
    else:
        out_hw, sides = _window_shape(name, x.shape, kernel, stride, padding, dilation), padding
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        # torch's rule: half the kernel size, not of its dilated span
        raise ValueError(
            f"{name}: padding {padding} must be at most half the kernel size {kernel}"
            + (f" (whatever the dilation {dilation}, as torch)" if dilation != (1, 1) else "")
            + f" (input {x.shape})"
        )
    padded = _pad_nhwc(x, sides, fill) if sides != (0, 0) else x.transpose(0, 2, 3, 1)
    return padded, out_hw


def _ceil_mode_shape(
    name: str,
    x_shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
) -> tuple[Pair, Padding]:
    """torch's output size in ceil mode, and the padding that holds all its windows.

    The number of strides is rounded up, so the last window may hang over the padded input's end
    (even a kernel longer than the padded input gets one window), but torch drops it when it would
    start past the input and its top/left padding. The padding returned is `padding`, or
    ((top, bottom), (left, right)) with the rows/columns the last windows need at the end.
    """
    _check_window_arguments(name, x_shape, kernel, stride, padding, dilation)
    sizes, sides = [], []
    for size, k, s, p, d in zip(x_shape[2:], kernel, stride, padding, dilation, strict=True):
        span = d * (k - 1) + 1
        out = (size + 2 * p - span + s - 1) // s + 1  # rounded up
        if (out - 1) * s >= size + p:  # the last window would start in the bottom/right padding
            out -= 1
        sizes.append(out)
        sides.append((p, max(p, (out - 1) * s + span - size - p)))
    if min(sizes) < 1:
        raise ValueError(
            f"{name}: kernel {kernel} (dilation {dilation}, stride {stride}) leaves no window "
            f"over the padded input {tuple(x_shape[2 + a] + 2 * padding[a] for a in (0, 1))} "
            f"even in ceil mode (input shape {tuple(x_shape)}, padding {padding})"
        )
    if sides[0][1] == padding[0] and sides[1][1] == padding[1]:  # no window hangs over
        return (sizes[0], sizes[1]), padding
    return (sizes[0], sizes[1]), (sides[0], sides[1])


def _offset_slices(
    nhwc: Array,
    kernel: Pair,
    stride: Pair,
    out_hw: Pair,
    dilation: Pair = (1, 1),
) -> list[Array]:
    """For each kernel offset (i, j), the strided slice (N, Ho, Wo, C) of the pixels it covers:
    window (y, x) starts at (y·sh, x·sw) and its tap (i, j) is i·dh rows, j·dw columns further."""
    (ho, wo), (sh, sw), (dh, dw) = out_hw, stride, dilation
    return [
        nhwc[:, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw]
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]


def _pool_arguments(
    name: str, kernel_size: Any, stride: Any, padding: Any
) -> tuple[Pair, Pair, Pair]:
    kernel = _pair(name, "kernel_size", kernel_size)
    return (
        kernel,
        kernel if stride is None else _pair(name, "stride", stride),
        _pair(name, "padding", padding),
    )


def max_pool2d(
    input: Tensor | Array,  # noqa: A002  (torch's name)
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max over kh×kw windows of input (N, C, H, W) -> (N, C, Ho, Wo).

    stride defaults to the kernel size; `dilation` spaces a window's taps apart. Ho = (H +
    2·padding - dilation·(kh - 1) - 1) / stride + 1 (likewise Wo), rounded down: windows that do
    not fit are dropped; with `ceil_mode`, rounded up: the last window may hang over the end, if it
    starts inside the input or its top (left) padding. Padding is -inf and at most half the kernel
    (its size, whatever the dilation, as torch). The gradient of each window goes to its first
    maximum in row-major order, as torch's.

    `return_indices=True` returns (output, indices), indices int64 (N, C, Ho, Wo): each maximum's
    flat index row·W + column in its input plane, as torch's.
    """
    kernel, stride_pair, padding_pair = _pool_arguments("max_pool2d", kernel_size, stride, padding)
    options = dict(
        kernel=kernel,
        stride=stride_pair,
        padding=padding_pair,
        dilation=_pair("max_pool2d", "dilation", dilation),
        ceil_mode=bool(ceil_mode),
    )
    if not return_indices:
        return MaxPool2d.apply(_as_tensor(input), **options)
    indices: list[Array] = []
    out = MaxPool2d.apply(_as_tensor(input), **options, indices=indices)
    return out, Tensor._wrap(indices[0])


def avg_pool2d(
    input: Tensor | Array,  # noqa: A002  (torch's name)
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over kh×kw windows of input (N, C, H, W) -> (N, C, Ho, Wo).

    stride defaults to the kernel size. Output size and `ceil_mode` as `max_pool2d`'s (without
    dilation); padding is zeros, at most half the kernel. torch's divisor: kh·kw, so padding zeros
    count in the mean, except that a window hanging over the padded input's end in ceil mode
    counts only its taps inside the padded input; `count_include_pad=False`: only the window's
    pixels inside the input; `divisor_override` (a nonzero int): that number for every window.
    """
    kernel, stride_pair, padding_pair = _pool_arguments("avg_pool2d", kernel_size, stride, padding)
    if divisor_override is not None:
        integer = isinstance(divisor_override, (int, np.integer))
        if not integer or isinstance(divisor_override, bool):
            raise TypeError(
                f"avg_pool2d: divisor_override must be an int or None, got {divisor_override!r}"
            )
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must not be zero")
        divisor_override = int(divisor_override)
    return AvgPool2d.apply(
        _as_tensor(input),
        kernel=kernel,
        stride=stride_pair,
        padding=padding_pair,
        ceil_mode=bool(ceil_mode),
        count_include_pad=bool(count_include_pad),
        divisor_override=divisor_override,
    )


def _adaptive_sizes(name: str, x: Tensor, output_size: Any) -> tuple[int, int]:
    """The output (height, width) that `output_size` asks for (None keeps that input size)."""
    _check_4d(name, x.shape)
    out_h, out_w = (
        (output_size, output_size) if isinstance(output_size, (int, np.integer)) else output_size
    )
    out_h = x.shape[2] if out_h is None else int(out_h)
    out_w = x.shape[3] if out_w is None else int(out_w)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"{name}: output_size must be positive, got {output_size!r}")
    return out_h, out_w


def _bin_averages(size: int, out: int, xp: Any, dtype: Any) -> Array:
    """(out, size) matrix whose row i averages torch's bin i of `size` values: the values from
    floor(i·size/out) to ceil((i+1)·size/out); bins overlap or repeat values when out > size."""
    i = np.arange(out)
    start, stop = (i * size) // out, -((-(i + 1) * size) // out)
    k = np.arange(size)
    inside = (k >= start[:, None]) & (k < stop[:, None])
    return xp.asarray(inside / (stop - start)[:, None], dtype=dtype)


def adaptive_avg_pool2d(x: Tensor | Array, output_size: int | tuple[int, int]) -> Tensor:
    """Average-pool x (N, C, H, W) to (N, C, *output_size) over torch's bins.

    `output_size=1` is global average pooling (one mean per channel). An output size that divides
    the input is an ordinary average pool; any other (7×7 from 1×1 in torchvision's VGG on small
    images) is the product P_h · x · P_wᵀ with the bins' averaging matrices (`_bin_averages`),
    so its gradient is that of two matmuls.
    """
    x = _as_tensor(x)
    (height, width), (out_h, out_w) = x.shape[2:], _adaptive_sizes("adaptive_avg_pool2d", x, output_size)
    if (out_h, out_w) == (1, 1):
        return x.mean(axis=(2, 3), keepdims=True)
    if height % out_h == 0 and width % out_w == 0:
        return avg_pool2d(x, (height // out_h, width // out_w))
    xp = array_module(x._data)
    rows = Tensor._wrap(_bin_averages(height, out_h, xp, x.dtype))
    columns = Tensor._wrap(_bin_averages(width, out_w, xp, x.dtype).T)
    return rows @ x @ columns


def adaptive_max_pool2d(x: Tensor | Array, output_size: int | tuple[int, int]) -> Tensor:
    """Max-pool x (N, C, H, W) to (N, C, *output_size); output_size must divide (H, W)."""
    x = _as_tensor(x)
    (height, width), (out_h, out_w) = x.shape[2:], _adaptive_sizes("adaptive_max_pool2d", x, output_size)
    if height % out_h or width % out_w:
        raise ValueError(
            f"adaptive_max_pool2d: output size ({out_h}, {out_w}) must divide the input size "
            f"({height}, {width}) (input shape {tuple(x.shape)}); torch's uneven bins are "
            "supported by adaptive_avg_pool2d only"
        )
    return max_pool2d(x, (height // out_h, width // out_w))
