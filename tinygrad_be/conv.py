"""Convolution and pooling: the ops of a convolutional network, each a `Function`.

The API is torch's: tensors are NCHW (batch, channels, height, width) and a convolution weight is
(out_channels, in_channels, kh, kw). Inside, the ops work channels-last (NHWC), because then

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

When the column matrix of a batch would exceed `MEMORY_BUDGET_BYTES`, the batch is processed in
chunks of samples, and backward rebuilds each chunk's columns instead of keeping them all.

Pooling slides a window over each channel. Both kinds loop over the kh·kw offsets *inside* the
window (4 for 2×2), each step one vectorised operation on a strided slice of the whole batch; never
a loop over windows, pixels or samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_be.parallel import over_batch
from tinygrad_be.tensor import Function, Tensor

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

# Largest im2col matrix (bytes) built at once; a larger batch is processed in chunks of samples.
MEMORY_BUDGET_BYTES = 512 * 2**20


# --------------------------------------------------------------------------------------------------
# Arguments
def _pair(name: str, what: str, value: Any) -> tuple[int, int]:
    """An int or a pair of ints -> a pair of ints (torch accepts both)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{name}: {what} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """torch's output length of a window sliding over `size` (windows that do not fit are dropped)."""
    return (size + 2 * padding - kernel) // stride + 1


def _window_shape(
    name: str,
    x_shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> tuple[int, int]:
    """Check the window arguments against an NCHW input; return the output's (height, width)."""
    if min(kernel) <= 0:
        raise ValueError(f"{name}: kernel size must be positive, got {kernel} (input {x_shape})")
    if min(stride) <= 0:
        raise ValueError(f"{name}: stride must be positive, got {stride} (input {x_shape})")
    if min(padding) < 0:
        raise ValueError(f"{name}: padding must be >= 0, got {padding} (input {x_shape})")
    height, width = x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]
    if kernel[0] > height or kernel[1] > width:
        raise ValueError(
            f"{name}: kernel {kernel} is larger than the padded input ({height}, {width}) "
            f"(input shape {tuple(x_shape)}, padding {padding})"
        )
    return (
        conv_output_size(x_shape[2], kernel[0], stride[0], padding[0]),
        conv_output_size(x_shape[3], kernel[1], stride[1], padding[1]),
    )


def _check_4d(name: str, x_shape: tuple[int, ...]) -> None:
    if len(x_shape) != 4:
        raise ValueError(f"{name}: input must be (N, C, H, W), got shape {tuple(x_shape)}")


# --------------------------------------------------------------------------------------------------
# im2col / col2im on channels-last arrays
def _pad_nhwc(x_nchw: Array, padding: tuple[int, int], fill: float = 0.0) -> Array:
    """NCHW input -> NHWC array with `padding` rows/columns of `fill` around each image.

    One copy does both the layout change and the padding (and is free of any copy when the input
    is already channels-last memory and needs no padding).
    """
    x = x_nchw.transpose(0, 2, 3, 1)
    if x.flags.c_contiguous and padding == (0, 0):
        return x
    (ph, pw), (n, h, w, c) = padding, x.shape
    padded = np.empty((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)

    def pad(start: int, stop: int) -> None:
        if ph or pw:
            padded[start:stop].fill(fill)
        padded[start:stop, ph : ph + h, pw : pw + w] = x[start:stop]

    over_batch(n, pad, padded.nbytes)
    return padded


def _windows(
    padded: Array, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> Array:
    """A read-only strided view (N, Ho, Wo, kh, kw, C) of every window of an NHWC array."""
    sn, sh, sw, sc = padded.strides
    n, _, _, c = padded.shape
    return as_strided(
        padded,
        shape=(n, *out_hw, *kernel, c),
        strides=(sn, sh * stride[0], sw * stride[1], sh, sw, sc),
        writeable=False,
    )


def _im2col(
    padded: Array, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> Array:
    """The column matrix (N·Ho·Wo, kh·kw·C): row = one output pixel, its window flattened."""
    windows = _windows(padded, kernel, stride, out_hw)
    n = padded.shape[0]
    cols = np.empty((n, *out_hw, *kernel, padded.shape[3]), dtype=padded.dtype)
    # The one real copy: runs of kw·C contiguous values.
    over_batch(n, lambda start, stop: np.copyto(cols[start:stop], windows[start:stop]), cols.nbytes)
    return cols.reshape(n * out_hw[0] * out_hw[1], -1)


def _col2im_add(
    target: Array,
    grad_out: Array,
    w_matrix: Array,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_hw: tuple[int, int],
) -> None:
    """Add the input gradient of a convolution into `target`, the padded NHWC input's gradient.

    `grad_out` (n·Ho·Wo, F) is the output's gradient and `w_matrix` (kh·kw·C, F) the weight. The
    columns' gradient is grad_out @ w_matrixᵀ; it is computed one kernel offset (i, j) at a time,
    a (n·Ho·Wo, C) block, because window (y, x) covers pixel (y·stride + i, x·stride + j): so the
    block is added to one strided slice of `target`, with long contiguous runs on both sides. (All
    offsets in one GEMM would interleave them, and the additions would crawl through runs of C.)
    """
    n, _, _, c = target.shape
    (ho, wo), (sh, sw) = out_hw, stride
    block = np.empty((grad_out.shape[0], c), dtype=target.dtype)
    block_nhwc = block.reshape(n, ho, wo, c)
    for offset, (i, j) in enumerate(np.ndindex(*kernel)):
        np.matmul(grad_out, w_matrix[offset * c : (offset + 1) * c].T, out=block)
        covered = target[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]

        def add(start: int, stop: int, covered: Array = covered) -> None:
            covered[start:stop] += block_nhwc[start:stop]

        over_batch(n, add, block.nbytes)


def _chunks(n: int, bytes_per_sample: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of samples whose column matrices fit `MEMORY_BUDGET_BYTES`."""
    per_chunk = max(1, MEMORY_BUDGET_BYTES // max(bytes_per_sample, 1))
    return [(start, min(start + per_chunk, n)) for start in range(0, n, per_chunk)]


# --------------------------------------------------------------------------------------------------
# Convolution
class Conv2d(Function):
    """2-D cross-correlation (torch's conv2d): im2col + one GEMM forward, two GEMMs backward."""

    def forward(
        self,
        x: Array,
        weight: Array,
        *bias: Array,
        stride: tuple[int, int],
        padding: tuple[int, int],
    ) -> Array:
        if x.ndim != 4 or weight.ndim != 4:
            raise ValueError(
                f"conv2d: input must be (N, C, H, W) and weight (F, C, kh, kw), got shapes "
                f"{x.shape} and {weight.shape}"
            )
        if x.shape[1] != weight.shape[1]:
            raise ValueError(
                f"conv2d: input has {x.shape[1]} channels (shape {x.shape}) but the weight expects "
                f"{weight.shape[1]} (shape {weight.shape})"
            )
        if bias and bias[0].shape != (weight.shape[0],):
            raise ValueError(
                f"conv2d: bias must have shape ({weight.shape[0]},), got {bias[0].shape}"
            )
        kernel = (weight.shape[2], weight.shape[3])
        out_hw = _window_shape("conv2d", x.shape, kernel, stride, padding)
        n, c = x.shape[:2]
        filters = weight.shape[0]
        padded = _pad_nhwc(x, padding)
        # W as (kh·kw·C, F), the row order of the columns' (kh, kw, C) windows.
        w_matrix = np.ascontiguousarray(weight.transpose(2, 3, 1, 0)).reshape(-1, filters)
        rows_per_sample = out_hw[0] * out_hw[1]
        chunks = _chunks(n, rows_per_sample * w_matrix.shape[0] * x.itemsize)
        out = np.empty((n * rows_per_sample, filters), dtype=np.result_type(x, weight))
        self.cols = None
        for start, stop in chunks:
            cols = _im2col(padded[start:stop], kernel, stride, out_hw)
            np.matmul(cols, w_matrix, out=out[start * rows_per_sample : stop * rows_per_sample])
            if len(chunks) == 1:
                self.cols = cols  # fits the budget: keep it for the weight gradient
        if bias:
            out += bias[0]
        self.padded, self.w_matrix, self.chunks = padded, w_matrix, chunks
        self.kernel, self.stride, self.padding, self.out_hw = kernel, stride, padding, out_hw
        self.input_shape, self.weight_shape = x.shape, weight.shape
        return out.reshape(n, *out_hw, filters).transpose(0, 3, 1, 2)

    def backward(self, grad: Array) -> tuple[Array | None, ...]:
        need_x, need_w, *need_b = self.needs_input_grad
        n, c, h, w = self.input_shape
        filters, _, kh, kw = self.weight_shape
        ho, wo = self.out_hw
        g = _pad_nhwc(grad, (0, 0)).reshape(-1, filters)  # free when grad is channels-last
        grad_w_matrix = np.zeros_like(self.w_matrix) if need_w else None
        grad_padded = np.zeros_like(self.padded) if need_x else None
        rows = ho * wo
        for start, stop in self.chunks:
            g_chunk = g[start * rows : stop * rows]
            if need_w:
                cols = self.cols
                if cols is None:
                    cols = _im2col(self.padded[start:stop], self.kernel, self.stride, self.out_hw)
                grad_w_matrix += cols.T @ g_chunk
            if need_x:
                _col2im_add(
                    grad_padded[start:stop],
                    g_chunk,
                    self.w_matrix,
                    self.kernel,
                    self.stride,
                    self.out_hw,
                )
        grad_x = grad_w = None
        if need_x:
            ph, pw = self.padding
            grad_x = grad_padded[:, ph : ph + h, pw : pw + w].transpose(0, 3, 1, 2)
        if need_w:
            grad_w = grad_w_matrix.reshape(kh, kw, c, filters).transpose(3, 2, 0, 1)
        if need_b:
            grad_b = g.sum(axis=0) if need_b[0] else None
            return grad_x, grad_w, grad_b
        return grad_x, grad_w


def conv2d(
    x: Tensor | Array,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """2-D convolution (cross-correlation, as torch's `F.conv2d`).

    x (N, C_in, H, W), weight (C_out, C_in, kh, kw), bias (C_out,) or None -> (N, C_out, Ho, Wo) with
    Ho = (H + 2·padding - kh) // stride + 1 (likewise Wo). `stride` and `padding` are an int or a
    (height, width) pair; padding adds zeros.
    """
    stride_pair = _pair("conv2d", "stride", stride)
    padding_pair = _pair("conv2d", "padding", padding)
    inputs = [_tensor(x), _tensor(weight)] + ([] if bias is None else [_tensor(bias)])
    return Conv2d.apply(*inputs, stride=stride_pair, padding=padding_pair)


# --------------------------------------------------------------------------------------------------
# Pooling
class MaxPool2d(Function):
    """Max over each window; the gradient goes to the window's first maximum (as torch)."""

    def forward(
        self,
        x: Array,
        kernel: tuple[int, int],
        stride: tuple[int, int],
        padding: tuple[int, int],
    ) -> Array:
        fill = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
        padded, out_hw = _pool_input("max_pool2d", x, kernel, stride, padding, fill)
        windows = _offset_slices(padded, kernel, stride, out_hw)
        out = np.empty(windows[0].shape, dtype=x.dtype)

        def pool(start: int, stop: int) -> None:
            np.copyto(out[start:stop], windows[0][start:stop])
            for window in windows[1:]:
                np.maximum(out[start:stop], window[start:stop], out=out[start:stop])

        over_batch(len(out), pool, padded.nbytes)
        self.padded, self.out = padded, out
        self.kernel, self.stride, self.padding, self.out_hw = kernel, stride, padding, out_hw
        self.input_shape = x.shape
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad: Array) -> tuple[Array]:
        # Route each window's gradient to the first offset (row-major) holding its maximum:
        # `unrouted` is still 1 where no earlier offset has taken the window.
        g = grad.transpose(0, 2, 3, 1)
        grad_padded = np.zeros(self.padded.shape, dtype=grad.dtype)
        overlapping = self.stride[0] < self.kernel[0] or self.stride[1] < self.kernel[1]
        sources = _offset_slices(self.padded, self.kernel, self.stride, self.out_hw)
        targets = _offset_slices(grad_padded, self.kernel, self.stride, self.out_hw)

        def route(start: int, stop: int) -> None:
            out, g_part = self.out[start:stop], g[start:stop]
            unrouted = np.ones(out.shape, dtype=bool)
            for source, target in zip(sources, targets, strict=True):
                hit = np.equal(source[start:stop], out)
                hit &= unrouted
                unrouted ^= hit
                if overlapping:  # windows share pixels: gradients add up
                    target[start:stop] += g_part * hit
                else:
                    np.multiply(g_part, hit, out=target[start:stop])

        over_batch(len(g), route, grad_padded.nbytes)
        return (_crop_nchw(grad_padded, self.padding, self.input_shape),)


class AvgPool2d(Function):
    """Mean over each window; padding zeros count in the mean (torch's count_include_pad=True)."""

    def forward(
        self,
        x: Array,
        kernel: tuple[int, int],
        stride: tuple[int, int],
        padding: tuple[int, int],
    ) -> Array:
        padded, out_hw = _pool_input("avg_pool2d", x, kernel, stride, padding, 0.0)
        out = None
        for window in _offset_slices(padded, kernel, stride, out_hw):
            out = window.copy() if out is None else np.add(out, window, out=out)
        out *= np.asarray(1.0 / (kernel[0] * kernel[1]), dtype=out.dtype)
        self.padded_shape, self.kernel, self.stride = padded.shape, kernel, stride
        self.padding, self.out_hw, self.input_shape = padding, out_hw, x.shape
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad: Array) -> tuple[Array]:
        share = grad.transpose(0, 2, 3, 1) * np.asarray(
            1.0 / (self.kernel[0] * self.kernel[1]), dtype=grad.dtype
        )
        grad_padded = np.zeros(self.padded_shape, dtype=grad.dtype)
        for target in _offset_slices(grad_padded, self.kernel, self.stride, self.out_hw):
            target += share
        return (_crop_nchw(grad_padded, self.padding, self.input_shape),)


def _pool_input(
    name: str,
    x: Array,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    fill: float,
) -> tuple[Array, tuple[int, int]]:
    """Check a pooling's arguments; return x as NHWC padded with `fill`, and the output size."""
    _check_4d(name, x.shape)
    out_hw = _window_shape(name, x.shape, kernel, stride, padding)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{name}: padding {padding} must be at most half the kernel size {kernel} "
            f"(input {x.shape})"
        )
    padded = _pad_nhwc(x, padding, fill) if any(padding) else x.transpose(0, 2, 3, 1)
    return padded, out_hw


def _offset_slices(
    nhwc: Array, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> list[Array]:
    """For each kernel offset (i, j), the strided slice (N, Ho, Wo, C) of the pixels it covers."""
    (ho, wo), (sh, sw) = out_hw, stride
    return [
        nhwc[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]


def _crop_nchw(padded: Array, padding: tuple[int, int], input_shape: tuple[int, ...]) -> Array:
    """The NHWC gradient of a padded input, cropped to the input and viewed as NCHW."""
    (ph, pw), (h, w) = padding, input_shape[2:]
    return padded[:, ph : ph + h, pw : pw + w].transpose(0, 3, 1, 2)


def _pool_arguments(
    name: str, kernel_size: Any, stride: Any, padding: Any
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    kernel = _pair(name, "kernel_size", kernel_size)
    return (
        kernel,
        kernel if stride is None else _pair(name, "stride", stride),
        _pair(name, "padding", padding),
    )


def max_pool2d(
    x: Tensor | Array,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """Max over kh×kw windows of x (N, C, H, W) -> (N, C, Ho, Wo); stride defaults to the kernel.

    Windows that do not fit are dropped (torch's floor mode); padding is -inf and at most half the
    kernel. The gradient of each window goes to its first maximum in row-major order, as torch's.
    """
    kernel, stride_pair, padding_pair = _pool_arguments("max_pool2d", kernel_size, stride, padding)
    return MaxPool2d.apply(_tensor(x), kernel=kernel, stride=stride_pair, padding=padding_pair)


def avg_pool2d(
    x: Tensor | Array,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """Mean over kh×kw windows of x (N, C, H, W) -> (N, C, Ho, Wo); stride defaults to the kernel.

    Zero padding counts in the mean (torch's default `count_include_pad=True`).
    """
    kernel, stride_pair, padding_pair = _pool_arguments("avg_pool2d", kernel_size, stride, padding)
    return AvgPool2d.apply(_tensor(x), kernel=kernel, stride=stride_pair, padding=padding_pair)


def _adaptive_kernel(name: str, x: Tensor, output_size: Any) -> tuple[int, int] | None:
    """The window that maps x's (H, W) onto `output_size`; None for global pooling to 1×1."""
    _check_4d(name, x.shape)
    height, width = x.shape[2:]
    out_h, out_w = (
        (output_size, output_size) if isinstance(output_size, (int, np.integer)) else output_size
    )
    out_h = height if out_h is None else int(out_h)
    out_w = width if out_w is None else int(out_w)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"{name}: output_size must be positive, got {output_size!r}")
    if height % out_h or width % out_w:
        raise ValueError(
            f"{name}: output size ({out_h}, {out_w}) must divide the input size ({height}, {width}) "
            f"(input shape {tuple(x.shape)}); other sizes are not supported"
        )
    return (height // out_h, width // out_w)


def adaptive_avg_pool2d(x: Tensor | Array, output_size: int | tuple[int, int]) -> Tensor:
    """Average-pool x (N, C, H, W) to (N, C, *output_size); output_size must divide (H, W).

    `output_size=1` is global average pooling (one mean per channel).
    """
    x = _tensor(x)
    kernel = _adaptive_kernel("adaptive_avg_pool2d", x, output_size)
    if kernel == tuple(x.shape[2:]):
        return x.mean(axis=(2, 3), keepdims=True)
    return avg_pool2d(x, kernel)


def adaptive_max_pool2d(x: Tensor | Array, output_size: int | tuple[int, int]) -> Tensor:
    """Max-pool x (N, C, H, W) to (N, C, *output_size); output_size must divide (H, W)."""
    x = _tensor(x)
    return max_pool2d(x, _adaptive_kernel("adaptive_max_pool2d", x, output_size))


def _tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return Tensor._wrap(x) if isinstance(x, np.ndarray) else Tensor(x)
