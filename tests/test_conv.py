"""The convolutional ops (`F.conv2d`, pools, `F.batch_norm`): values, gradients, rules, bad input.

Every gradient is checked against central finite differences (`tinygrad_be.gradcheck`, float64)
with a random output weighting, on shapes drawn by hypothesis: batch sizes, channels, kernel sizes
1, 2, 3, 5 and kernel = input size, strides that do and do not divide the input, paddings,
non-square kernels and strides, with and without bias. Values come from a numpy generator seeded by
a hypothesis-drawn integer (fast, and as reproducible as the rest under the `ci` profile).

Forward values are compared with plain reference implementations written here with a loop over
output pixels (fine for these tiny shapes, and independent of the im2col code under test). What
finite differences cannot see is tested exactly: max-pool's first-maximum tie rule (expected values
computed once with torch 2.13 and pasted as literals), the running statistics of batch norm
(recomputed here with numpy), the dtype (float32 stays float32), the chunked path under a small
memory budget, and inputs in any memory layout.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import fake_cupy
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_be.conv
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, gradcheck, no_grad

Pair = tuple[int, int]


# --------------------------------------------------------------------------------------------------
# Helpers
def generator(data: st.DataObject) -> np.random.Generator:
    """A numpy generator seeded by hypothesis (values for arrays bigger than hypothesis likes)."""
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def check(fn: Callable[..., Tensor], *inputs: Any, rng: np.random.Generator) -> None:
    """gradcheck `fn` at `inputs` (Tensors requiring grad, others passed as they are) with a random
    output weighting (a plain sum hides mistakes)."""
    with no_grad():
        out_shape = fn(*inputs).shape
    assert gradcheck(fn, *inputs, grad_output=rng.standard_normal(out_shape))


def leaf(array: np.ndarray) -> Tensor:
    return Tensor(array, requires_grad=True)


def distinct(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Distinct float64 values 0.01 apart in random order: no finite-difference step (1e-6)
    crosses a tie of max-pool."""
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) - size / 2) * 0.01


@st.composite
def window(draw: Any, size: int, max_padding: int = 2, padding_limit: bool = False) -> tuple:
    """(kernel, stride, padding) along one axis of length `size`: kernel 1, 2, 3, 5, the input size
    or the padded input size (whichever fit), stride 1-3 (often not dividing), padding 0-2.

    `padding_limit`: pools accept at most half the kernel as padding (as torch)."""
    padding = draw(st.integers(0, max_padding))
    padded = size + 2 * padding
    kernel = draw(
        st.sampled_from(sorted({k for k in (1, 2, 3, 5) if k <= padded} | {size, padded}))
    )
    if padding_limit:
        padding = min(padding, kernel // 2)
        kernel = min(kernel, size + 2 * padding)
    return kernel, draw(st.integers(1, 3)), padding


@st.composite
def windows_2d(draw: Any, h: int, w: int, padding_limit: bool = False) -> tuple[Pair, Pair, Pair]:
    """Independent windows along height and width (so kernels and strides are often non-square)."""
    (kh, sh, ph), (kw, sw, pw) = (
        draw(window(h, padding_limit=padding_limit)),
        draw(window(w, padding_limit=padding_limit)),
    )
    return (kh, kw), (sh, sw), (ph, pw)


def as_argument(pair: Pair, data: st.DataObject, label: str) -> int | Pair:
    """A square pair sometimes as a plain int, as users write it."""
    if pair[0] == pair[1] and data.draw(st.booleans(), label=f"{label} as int"):
        return pair[0]
    return pair


# --------------------------------------------------------------------------------------------------
# Reference implementations (a loop over output pixels; tiny shapes only)
def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def conv_reference(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Pair, padding: Pair
) -> np.ndarray:
    (sh, sw), (ph, pw) = stride, padding
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = output_size(x.shape[2], kh, sh, ph), output_size(x.shape[3], kw, sw, pw)
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, w)
    return out if b is None else out + b[:, None, None]


def pool_reference(
    x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, kind: str
) -> np.ndarray:
    """Max (padding -inf) or mean (padding zeros counted, torch's count_include_pad) per window."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    ho, wo = output_size(x.shape[2], kh, sh, ph), output_size(x.shape[3], kw, sw, pw)
    out = np.zeros((*x.shape[:2], ho, wo))
    reduce = np.max if kind == "max" else np.mean
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = reduce(xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw], (2, 3))
    return out


def batch_norm_reference(
    x: np.ndarray, mean: np.ndarray, var: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float
) -> np.ndarray:
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * w.reshape(
        shape
    ) + b.reshape(shape)


# --------------------------------------------------------------------------------------------------
# conv2d
@given(data=st.data())
def test_conv2d_values_and_gradients(data: st.DataObject) -> None:
    n, c_in, c_out = (data.draw(st.integers(1, 2), label=name) for name in ("N", "C_in", "C_out"))
    h, w = data.draw(st.integers(1, 5), label="H"), data.draw(st.integers(1, 5), label="W")
    kernel, stride, padding = data.draw(windows_2d(h, w), label="kernel, stride, padding")
    with_bias = data.draw(st.booleans(), label="bias")
    rng = generator(data)
    x = rng.standard_normal((n, c_in, h, w))
    weight = rng.standard_normal((c_out, c_in, *kernel))
    bias = rng.standard_normal(c_out) if with_bias else None
    s, p = as_argument(stride, data, "stride"), as_argument(padding, data, "padding")

    out = F.conv2d(Tensor(x), Tensor(weight), None if bias is None else Tensor(bias), s, p)
    np.testing.assert_allclose(
        out.detach().numpy(), conv_reference(x, weight, bias, stride, padding), atol=1e-12
    )

    if bias is None:
        check(lambda x, w: F.conv2d(x, w, None, s, p), leaf(x), leaf(weight), rng=rng)
    else:
        check(lambda x, w, b: F.conv2d(x, w, b, s, p), leaf(x), leaf(weight), leaf(bias), rng=rng)


@given(data=st.data())
def test_conv2d_first_layer_input_without_grad(data: st.DataObject) -> None:
    """The input of a first layer needs no gradient: it gets none, and the weights' are right."""
    n, c_in, c_out = (data.draw(st.integers(1, 3)) for _ in range(3))
    h, w = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5))
    kernel, stride, padding = data.draw(windows_2d(h, w))
    rng = generator(data)
    x = Tensor(rng.standard_normal((n, c_in, h, w)))  # requires_grad=False
    weight = leaf(rng.standard_normal((c_out, c_in, *kernel)))
    bias = leaf(rng.standard_normal(c_out))
    check(lambda x, w, b: F.conv2d(x, w, b, stride, padding), x, weight, bias, rng=rng)
    out = F.conv2d(x, weight, bias, stride, padding)
    out.backward(np.ones(out.shape))
    assert x.grad is None
    assert weight.grad is not None and bias.grad is not None


def test_conv2d_accepts_a_numpy_input() -> None:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    out = F.conv2d(x, leaf(w), padding=1)
    np.testing.assert_allclose(
        out.detach().numpy(), conv_reference(x, w, None, (1, 1), (1, 1)), atol=1e-12
    )


@given(data=st.data())
def test_conv2d_reused_nodes(data: st.DataObject) -> None:
    """A tensor used several times collects every use's gradient: x into two convolutions and a
    residual connection conv(x) + x, and one weight in two layers."""
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5))
    rng = generator(data)
    x = leaf(rng.standard_normal((n, c, h, w)))
    w1 = leaf(rng.standard_normal((c, c, 3, 3)))
    w2 = leaf(rng.standard_normal((c, c, 1, 3)))

    def network(x: Tensor, w1: Tensor, w2: Tensor) -> Tensor:
        residual = F.conv2d(x, w1, padding=1) + x  # 'same' size: the shapes add up
        other = F.conv2d(x, w2, padding=(0, 1))
        return F.conv2d(residual * other, w1, padding=1)  # w1 used twice

    check(network, x, w1, w2, rng=rng)


def test_conv2d_output_is_nchw_whatever_the_input_memory_layout() -> None:
    """Inside, convolution works channels-last; outside, every layout gives the same NCHW values."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 7, 6))
    w, b = rng.standard_normal((5, 4, 3, 2)), rng.standard_normal(5)
    expected = conv_reference(x, w, b, (2, 1), (1, 0))
    bigger = np.zeros((3, 4, 14, 12))
    bigger[:, :, ::2, ::2] = x
    layouts = {
        "C (NCHW)": x,
        "channels-last (NHWC memory)": np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(
            0, 3, 1, 2
        ),
        "Fortran": np.asfortranarray(x),
        "strided slice": bigger[:, :, ::2, ::2],
        "reversed": np.ascontiguousarray(x[:, :, ::-1])[:, :, ::-1],
    }
    grads = []
    for name, array in layouts.items():
        np.testing.assert_array_equal(array, x)
        xt, wt = leaf(array), leaf(w)
        out = F.conv2d(xt, wt, Tensor(b), stride=(2, 1), padding=(1, 0))
        assert out.shape == expected.shape == (3, 5, 4, 5), name
        np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(np.ascontiguousarray(out.detach().numpy()), expected, atol=1e-12)
        out.backward(np.arange(out.detach().numpy().size, dtype=np.float64).reshape(out.shape))
        assert xt.grad.shape == x.shape and wt.grad.shape == w.shape, name
        grads.append((xt.grad, wt.grad))
    for grad_x, grad_w in grads[1:]:
        np.testing.assert_allclose(grad_x, grads[0][0], rtol=1e-12)
        np.testing.assert_allclose(grad_w, grads[0][1], rtol=1e-12)


def test_chain_conv_batch_norm_relu_pool_conv_gradients() -> None:
    """conv -> batch norm (training) -> ReLU -> max-pool -> conv: the layouts the ops pass each
    other (channels-last views) give the right values and gradients."""
    rng = np.random.default_rng(2)
    x = leaf(rng.standard_normal((2, 2, 6, 6)))
    w1, b1 = leaf(rng.standard_normal((3, 2, 3, 3))), leaf(rng.standard_normal(3))
    gamma, beta = leaf(rng.uniform(0.5, 1.5, 3)), leaf(rng.standard_normal(3))
    w2 = leaf(rng.standard_normal((2, 3, 2, 2)))

    def network(
        x: Tensor, w1: Tensor, b1: Tensor, gamma: Tensor, beta: Tensor, w2: Tensor
    ) -> Tensor:
        h = F.conv2d(x, w1, b1, padding=1)
        h = F.batch_norm(h, None, None, gamma, beta, training=True)
        h = F.max_pool2d(h.relu(), 2)
        return F.conv2d(h, w2, stride=(1, 2))

    # The forward values, step by step in plain numpy.
    h = conv_reference(x.detach().numpy(), w1.detach().numpy(), b1.detach().numpy(), (1, 1), (1, 1))
    h = batch_norm_reference(
        h, h.mean((0, 2, 3)), h.var((0, 2, 3)), gamma.detach().numpy(), beta.detach().numpy(), 1e-5
    )
    h = pool_reference(np.maximum(h, 0), (2, 2), (2, 2), (0, 0), "max")
    np.testing.assert_allclose(
        network(x, w1, b1, gamma, beta, w2).detach().numpy(),
        conv_reference(h, w2.detach().numpy(), None, (1, 2), (0, 0)),
        atol=1e-10,
    )
    check(network, x, w1, b1, gamma, beta, w2, rng=rng)


def test_conv2d_chunked_under_a_small_memory_budget_matches_unchunked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a tiny budget the batch goes through in chunks: same values and gradients, and the
    memory used stays far below the whole batch's column matrix."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((37, 6, 8, 8))  # 37: the last chunk is a partial one
    w, b = rng.standard_normal((4, 6, 3, 3)), rng.standard_normal(4)
    g = rng.standard_normal((37, 4, 8, 8))
    cols_bytes = 37 * 8 * 8 * (6 * 3 * 3) * 8  # the whole column matrix: 1.4 MB

    def run() -> tuple[np.ndarray, ...]:
        xt, wt, bt = leaf(x), leaf(w), leaf(b)
        tracemalloc.start()
        try:
            out = F.conv2d(xt, wt, bt, padding=1)
            out.backward(g)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return out.detach().numpy(), xt.grad, wt.grad, bt.grad, peak

    *unchunked, peak_unchunked = run()
    for budget in (1, 8 * 8 * 54 * 8 * 5):  # one sample per chunk; 5 samples per chunk
        monkeypatch.setattr(tinygrad_be.conv, "MEMORY_BUDGET_BYTES", budget)
        *chunked, peak_chunked = run()
        for a, e in zip(chunked, unchunked, strict=True):
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
        assert peak_chunked < cols_bytes < peak_unchunked
    np.testing.assert_allclose(unchunked[0], conv_reference(x, w, b, (1, 1), (1, 1)), atol=1e-12)


# --------------------------------------------------------------------------------------------------
# Pooling
@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_pool_values_and_gradients(kind: str, data: st.DataObject) -> None:
    n, c = data.draw(st.integers(1, 2), label="N"), data.draw(st.integers(1, 3), label="C")
    h, w = data.draw(st.integers(1, 6), label="H"), data.draw(st.integers(1, 6), label="W")
    kernel, stride, padding = data.draw(windows_2d(h, w, padding_limit=True))
    default_stride = data.draw(st.booleans(), label="default stride")
    rng = generator(data)
    x = distinct((n, c, h, w), rng)  # away from max-pool's ties
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    k = as_argument(kernel, data, "kernel")
    s = None if default_stride else as_argument(stride, data, "stride")
    p = as_argument(padding, data, "padding")

    expected = pool_reference(x, kernel, kernel if default_stride else stride, padding, kind)
    np.testing.assert_allclose(pool(Tensor(x), k, s, p).detach().numpy(), expected, atol=1e-12)
    check(lambda x: pool(x, k, s, p), leaf(x), rng=rng)


def test_max_pool_gives_a_tied_window_gradient_to_its_first_maximum() -> None:
    """Finite differences cannot see a tie, so the rule is checked exactly: the gradient of a
    window goes to its first maximum in row-major order, and overlapping windows add up.
    Expected values from torch 2.13 (`F.max_pool2d`, grad_output = 1, 2, 3, ...)."""
    cases = [
        (  # 2x2 / stride 2: a tie in every window
            [[1, 1, 0, 2], [1, 0, 2, 2], [3, 0, 5, 5], [0, 3, 5, 5]],
            dict(kernel_size=2),
            [[1, 2], [3, 5]],
            [[1, 0, 0, 2], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]],
        ),
        (  # 3x3 / stride 1 / padding 1: overlapping windows share a first maximum
            [[2, 2, 1, 2], [2, 0, 2, 1], [1, 2, 2, 0], [2, 1, 0, 2]],
            dict(kernel_size=3, stride=1, padding=1),
            [[2] * 4] * 4,
            [[14, 10, 0, 12], [19, 0, 23, 0], [0, 42, 16, 0], [0, 0, 0, 0]],
        ),
        (  # non-square: 2x3 / stride (1, 2)
            [[0, 4, 4, 1, 4], [4, 0, 4, 4, 2], [1, 4, 3, 4, 4]],
            dict(kernel_size=(2, 3), stride=(1, 2)),
            [[4, 4], [4, 4]],
            [[0, 1, 2, 0, 0], [3, 0, 4, 0, 0], [0, 0, 0, 0, 0]],
        ),
    ]
    for x, options, expected_out, expected_grad in cases:
        for dtype in (np.float64, np.float32):
            xt = leaf(np.array(x, dtype)[None, None])
            out = F.max_pool2d(xt, **options)
            np.testing.assert_array_equal(out.detach().numpy()[0, 0], expected_out)
            out.backward(
                np.arange(1, out.detach().numpy().size + 1, dtype=dtype).reshape(out.shape)
            )
            np.testing.assert_array_equal(xt.grad[0, 0], expected_grad)


def test_adaptive_max_pool_tie_rule_is_max_pools() -> None:
    xt = leaf(np.array([[1.0, 1.0, 0.0, 2.0], [1.0, 0.0, 2.0, 2.0]])[None, None])
    out = F.adaptive_max_pool2d(xt, (1, 2))
    out.backward(np.array([[[[1.0, 2.0]]]]))
    np.testing.assert_array_equal(xt.grad[0, 0], [[1, 0, 0, 2], [0, 0, 0, 0]])


def test_max_pool_propagates_nan_like_torch_and_tensor_max() -> None:
    """A NaN in a window makes the window's maximum NaN (torch, numpy and `Tensor.max` agree), so a
    diverged network cannot hide behind a pooling layer."""
    for x in ([[1.0, np.nan], [0.0, 2.0]], [[np.nan, 1.0], [0.0, 2.0]]):
        assert np.isnan(Tensor(np.array(x)).max().item())
        assert np.isnan(F.max_pool2d(Tensor(np.array(x)[None, None]), 2).item()), x


# --------------------------------------------------------------------------------------------------
# Pooling: dilation, ceil_mode, return_indices, count_include_pad, divisor_override
def torch_pool_size(
    size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool
) -> int:
    """torch's pooling output length: floor or ceil of the strides; in ceil mode the last window
    must start inside the input or its top/left padding."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil else 0)) // stride
    out += 1
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def torch_pool_reference(
    x: np.ndarray,
    kind: str,
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair = (1, 1),
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """torch's CPU kernels, one output pixel at a time: (values, flat indices of the maxima) for
    max, (values, None) for avg. Max looks at the taps inside the input only (first maximum in
    row-major order; no NaN here); avg sums the input pixels of the window and divides by the
    window's size clipped to the padded input, or its input pixels, or the override."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = x.shape
    ho = torch_pool_size(h, kh, sh, ph, dh, ceil_mode)
    wo = torch_pool_size(w, kw, sw, pw, dw, ceil_mode)
    out, indices = np.zeros((n, c, ho, wo)), np.zeros((n, c, ho, wo), dtype=np.int64)
    for y in range(ho):
        for z in range(wo):
            top, left = y * sh - ph, z * sw - pw
            if kind == "max":
                taps = [
                    (top + i * dh, left + j * dw)
                    for i in range(kh)
                    for j in range(kw)
                    if 0 <= top + i * dh < h and 0 <= left + j * dw < w
                ]
                values = np.stack([x[:, :, r, q] for r, q in taps], axis=-1)
                first = values.argmax(axis=-1)
                out[:, :, y, z] = values.max(axis=-1)
                indices[:, :, y, z] = np.array([r * w + q for r, q in taps])[first]
            else:
                bottom, right = min(top + kh, h + ph), min(left + kw, w + pw)
                inside = x[:, :, max(top, 0) : min(bottom, h), max(left, 0) : min(right, w)]
                divisor = (bottom - top) * (right - left)
                if not count_include_pad:
                    divisor = inside.shape[2] * inside.shape[3]
                if divisor_override is not None:
                    divisor = divisor_override
                out[:, :, y, z] = inside.sum(axis=(2, 3)) / divisor
    return out, indices if kind == "max" else None


def hollow(size: int, kernel: int, stride: int, padding: int, dilation: int, out: int) -> bool:
    """Whether a dilated window skips over the whole input (all its taps on padding): torch gives
    it -inf and an index outside the window, and its backward writes out of bounds."""
    return any(
        not any(0 <= y * stride - padding + t * dilation < size for t in range(kernel))
        for y in range(out)
    )


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_pool_options_values_and_gradients(kind: str, data: st.DataObject) -> None:
    """dilation, ceil_mode (kernels up to stride - 1 longer than the padded input: ceil mode
    still gives them a window), return_indices, count_include_pad and divisor_override against
    `torch_pool_reference`, and the gradient against finite differences."""
    n, c = data.draw(st.integers(1, 2), label="N"), data.draw(st.integers(1, 2), label="C")
    kernel = (data.draw(st.integers(1, 3), label="kh"), data.draw(st.integers(1, 3), label="kw"))
    stride = (data.draw(st.integers(1, 3), label="sh"), data.draw(st.integers(1, 3), label="sw"))
    padding = tuple(data.draw(st.integers(0, k // 2), label="padding") for k in kernel)
    dilation = (1, 1)
    if kind == "max":
        dilation = tuple(data.draw(st.integers(1, 3), label="dilation") for _ in range(2))
    ceil_mode = data.draw(st.booleans(), label="ceil_mode")
    sizes = []
    for k, s, p, d in zip(kernel, stride, padding, dilation, strict=True):
        least = d * (k - 1) + 1 - 2 * p - (s - 1 if ceil_mode else 0)  # one window at least
        sizes.append(data.draw(st.integers(max(1, least), max(1, least) + 4), label="size"))
    h, w = sizes
    rng = generator(data)
    x = distinct((n, c, h, w), rng)  # away from max-pool's ties
    options = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)
    if kind == "max":
        return_indices = data.draw(st.booleans(), label="return_indices")
        options |= dict(dilation=dilation, return_indices=return_indices)
        reference_options: dict[str, Any] = dict(dilation=dilation)
        pool: Callable[..., Any] = F.max_pool2d
    else:
        return_indices = False
        count_include_pad = data.draw(st.booleans(), label="count_include_pad")
        divisor_override = data.draw(st.sampled_from([None, None, 1, 3, -2]), label="divisor")
        reference_options = dict(
            count_include_pad=count_include_pad, divisor_override=divisor_override
        )
        options |= reference_options
        pool = F.avg_pool2d
    for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation, strict=True):
        assume(not hollow(size, k, s, p, d, torch_pool_size(size, k, s, p, d, ceil_mode)))
    expected, expected_indices = torch_pool_reference(
        x, kind, kernel, stride, padding, ceil_mode=ceil_mode, **reference_options
    )

    def fn(x: Tensor) -> Tensor:
        out = pool(x, kernel, **options)
        return out[0] if return_indices else out

    result = pool(Tensor(x), kernel, **options)
    if return_indices:
        result, indices = result
        assert indices.dtype == np.int64 and not indices.requires_grad
        np.testing.assert_array_equal(indices.numpy(), expected_indices)
    np.testing.assert_allclose(result.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    check(fn, leaf(x), rng=rng)


def test_pool_options_match_torch() -> None:
    """Values, indices and gradients of the new arguments, computed with torch 2.13 and pasted:
    x = sin(arange(H·W)) as (1, 1, H, W), output weighting cos(arange(output size)); rounded to
    8 decimals. Ceil mode keeps a last window that hangs over the end and drops one that would
    start in the bottom/right padding (torch's rule)."""
    cases = [
        (  # ceil: the last windows hang over the end (floor mode: 2x2)
            "max",
            (5, 5),
            dict(kernel_size=2, ceil_mode=True),
            [
                [0.84147098, 0.98935825, 0.41211849],
                [0.65028784, 0.42016704, 0.99060736],
                [0.91294525, -0.00885131, -0.90557836],
            ],
            [
                [1, 8, 9],
                [15, 13, 14],
                [20, 22, 24],
            ],
            [
                [0.0, 1.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 0.54030231, -0.41614684],
                [0.0, 0.0, 0.0, -0.65364362, 0.28366219],
                [-0.9899925, 0.0, 0.0, 0.0, 0.0],
                [0.96017029, 0.0, 0.75390225, 0.0, -0.14550003],
            ],
        ),
        (  # ceil: the 4th row of windows would start in the padding: dropped
            "max",
            (5, 6),
            dict(kernel_size=2, padding=1, ceil_mode=True),
            [
                [0.0, 0.90929743, 0.14112001, -0.95892427],
                [-0.2794155, 0.99060736, 0.65028784, -0.96139749],
                [-0.75098725, 0.91294525, 0.95637593, -0.66363388],
            ],
            [
                [0, 2, 3, 5],
                [6, 14, 15, 17],
                [18, 20, 27, 29],
            ],
            [
                [1.0, 0.0, 0.54030231, -0.41614684, 0.0, -0.9899925],
                [-0.65364362, 0.0, 0.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.28366219, 0.96017029, 0.0, 0.75390225],
                [-0.14550003, 0.0, -0.91113026, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, -0.83907153, 0.0, 0.0044257],
            ],
        ),
        (  # dilation with padding
            "max",
            (5, 6),
            dict(kernel_size=3, stride=1, padding=1, dilation=2),
            [
                [0.83665564, 0.98935825, 0.83665564, 0.98935825],
                [0.95637593, 0.99060736, 0.95637593, 0.99060736],
                [0.83665564, 0.98935825, 0.83665564, 0.98935825],
            ],
            [
                [21, 8, 21, 8],
                [27, 14, 27, 14],
                [21, 8, 21, 8],
            ],
            [
                [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, -1.35639475, 0.0, 0.0, 0.0],
                [0.0, 0.0, 1.03756444, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, -0.4007184, 0.0, 0.0],
                [0.0, 0.0, 0.0, 0.30652667, 0.0, 0.0],
            ],
        ),
        (  # non-square dilation, ceil (floor mode: 3x4)
            "max",
            (6, 7),
            dict(kernel_size=(2, 3), stride=2, padding=1, dilation=(2, 1), ceil_mode=True),
            [
                [0.98935825, 0.98935825, -0.53657292, 0.42016704],
                [0.98935825, 0.98935825, 0.76255845, 0.95637593],
                [0.83665564, 0.29636858, 0.96379539, 0.95637593],
                [-0.42818267, 0.29636858, 0.96379539, 0.74511316],
            ],
            [
                [8, 8, 12, 13],
                [8, 8, 26, 27],
                [21, 38, 39, 27],
                [35, 38, 39, 40],
            ],
            [
                [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                [0.0, 1.17032087, 0.0, 0.0, 0.0, -0.41614684, -0.9899925],
                [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                [-0.14550003, 0.0, 0.0, 0.0, 0.0, 0.96017029, 0.75832795],
                [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                [0.84385396, 0.0, 0.0, -0.00368348, -0.70233431, -0.75968791, 0.0],
            ],
        ),
        (  # ceil: a hanging window's divisor stops at the padded input (floor mode: 3x3)
            "avg",
            (6, 6),
            dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
            [
                [0.13544912, 0.43892797, -0.30072218, -0.32648575],
                [-0.03777165, 0.66877818, -0.1943691, -0.46793468],
                [-0.33678994, 0.51481796, 0.18289374, -0.32300616],
                [-0.23201154, 0.19121682, 0.18346865, -0.10704567],
            ],
            None,
            [
                [0.11111111, 0.1711447, 0.06003359, 0.01379505, -0.04623854, -0.21123729],
                [0.03848404, 0.13003565, 0.09155161, 0.15199866, 0.06044705, 0.02109868],
                [-0.07262707, -0.04110905, 0.03151802, 0.13820361, 0.10668559, 0.23233596],
                [-0.08879374, -0.15851241, -0.06971868, -0.05626326, 0.01345542, 0.13984341],
                [-0.01616667, -0.11740337, -0.1012367, -0.19446687, -0.09323017, -0.09249255],
                [0.12447566, 0.17448009, 0.05000443, -0.0204362, -0.07044063, -0.259625],
            ],
        ),
        (  # ceil, count_include_pad=False
            "avg",
            (6, 6),
            dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
            [
                [0.30476052, 0.65839196, -0.45108327, -0.97945724],
                [-0.05665747, 0.66877818, -0.1943691, -0.93586937],
                [-0.5051849, 0.51481796, 0.18289374, -0.64601232],
                [-0.69603463, 0.38243363, 0.36693729, -0.42818267],
            ],
            None,
            [
                [0.25, 0.34005038, 0.09005038, 0.02069258, -0.06935781, -0.56435405],
                [0.1410594, 0.2626278, 0.1215684, 0.15889619, 0.03732778, -0.20636772],
                [-0.1089406, -0.07742258, 0.03151802, 0.13820361, 0.10668559, 0.35798634],
                [-0.13319061, -0.20290928, -0.06971868, -0.05626326, 0.01345542, 0.2662314],
                [-0.02425001, -0.1254867, -0.1012367, -0.19446687, -0.09323017, -0.09175494],
                [0.39767697, 0.59892254, 0.20124556, 0.15359447, -0.0476511, -0.80586378],
            ],
        ),
        (  # count_include_pad=False
            "avg",
            (4, 5),
            dict(kernel_size=2, padding=1, count_include_pad=False),
            [
                [0.0, 0.87538421, -0.30784124],
                [-0.75147269, -0.28974801, 0.70306278],
                [0.65028784, -0.6246504, -0.30055502],
            ],
            None,
            [
                [1.0, 0.27015115, 0.27015115, -0.20807342, -0.20807342],
                [-0.49499625, -0.16341091, -0.16341091, 0.07091555, 0.07091555],
                [-0.49499625, -0.16341091, -0.16341091, 0.07091555, 0.07091555],
                [0.96017029, 0.37695113, 0.37695113, -0.07275002, -0.07275002],
            ],
        ),
        (  # ceil: the 4th row of windows would start in the padding: dropped
            "avg",
            (5, 6),
            dict(kernel_size=2, padding=1, ceil_mode=True),
            [
                [0.0, 0.4376921, -0.15392062, -0.23973107],
                [-0.2039971, 0.76427981, 0.05762047, -0.49034692],
                [-0.4141414, 0.42325729, 0.51377151, -0.37746357],
            ],
            None,
            [
                [0.25, 0.13507558, 0.13507558, -0.10403671, -0.10403671, -0.24749812],
                [-0.16341091, 0.07091555, 0.07091555, 0.24004257, 0.24004257, 0.18847556],
                [-0.16341091, 0.07091555, 0.07091555, 0.24004257, 0.24004257, 0.18847556],
                [-0.03637501, -0.22778257, -0.22778257, -0.20976788, -0.20976788, 0.00110642],
                [-0.03637501, -0.22778257, -0.22778257, -0.20976788, -0.20976788, 0.00110642],
            ],
        ),
        (  # divisor_override, even for hanging windows (floor mode: 3x3)
            "avg",
            (6, 5),
            dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=3),
            [
                [-0.1322896, 1.08627259, 0.26193141],
                [-0.80665552, -0.5832516, 0.73704703],
                [0.91406404, -0.00962132, -0.9152123],
                [0.2100689, 0.66328006, -0.13090937],
            ],
            None,
            [
                [0.33333333, 0.5134341, 0.18010077, 0.04138516, -0.13871561],
                [0.00333583, -0.0344446, -0.03778044, -0.08194199, -0.04416155],
                [-0.3299975, -0.54787871, -0.21788121, -0.12332715, 0.09455406],
                [-0.00994074, 0.02347881, 0.03341954, 0.0794736, 0.04605405],
                [0.32005676, 0.57135751, 0.25130075, 0.20280074, -0.04850001],
                [0.01634667, -0.01204308, -0.02838976, -0.07541454, -0.04702478],
            ],
        ),
    ]
    for kind, (h, w), options, expected, expected_indices, expected_grad in cases:
        x = leaf(np.sin(np.arange(h * w, dtype=np.float64)).reshape(1, 1, h, w))
        if kind == "max":
            out, indices = F.max_pool2d(x, **options, return_indices=True)
            np.testing.assert_array_equal(indices.numpy()[0, 0], expected_indices)
        else:
            out = F.avg_pool2d(x, **options)
        np.testing.assert_allclose(out.detach().numpy()[0, 0], expected, atol=1e-8, err_msg=kind)
        out.backward(np.cos(np.arange(out.numel(), dtype=np.float64)).reshape(out.shape))
        np.testing.assert_allclose(x.grad[0, 0], expected_grad, atol=1e-8, err_msg=str(options))
        if kind == "max":  # without indices: the same values, the same gradient
            x.grad = None
            out = F.max_pool2d(x, **options)
            np.testing.assert_allclose(out.detach().numpy()[0, 0], expected, atol=1e-8)
            out.backward(np.cos(np.arange(out.numel(), dtype=np.float64)).reshape(out.shape))
            np.testing.assert_allclose(x.grad[0, 0], expected_grad, atol=1e-8)


def test_max_pool_indices_follow_torchs_rule() -> None:
    """return_indices at ties, windows of -inf and NaN, as torch 2.13 (grad_output 1, 2, 3, ...):
    the first maximum in row-major order; a window whose input pixels are all -inf takes its first
    tap inside the input (never the padding); a NaN takes over from anything, a later NaN from an
    earlier one. The gradient goes where the indices say."""
    inf, nan = np.inf, np.nan
    cases = [
        (
            [[1, 1, 0, 2], [1, 0, 2, 2], [3, 0, 5, 5], [0, 3, 5, 5]],
            dict(kernel_size=2),
            [[0, 3], [8, 10]],
            [[1, 0, 0, 2], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]],
        ),
        (  # overlapping windows share a first maximum
            [[2, 2, 1, 2], [2, 0, 2, 1], [1, 2, 2, 0], [2, 1, 0, 2]],
            dict(kernel_size=3, stride=1, padding=1),
            [[0, 0, 1, 3], [0, 0, 1, 3], [4, 4, 6, 6], [9, 9, 9, 10]],
            [[14, 10, 0, 12], [19, 0, 23, 0], [0, 42, 16, 0], [0, 0, 0, 0]],
        ),
        (  # all -inf, padding around: never the padding
            [[-inf, -inf], [-inf, -inf]],
            dict(kernel_size=2, stride=1, padding=1),
            [[0, 0, 1], [0, 0, 1], [2, 2, 3]],
            [[12, 9], [15, 9]],
        ),
        (  # a dilated window whose only tap inside the input is -inf
            [[-inf, 1, -inf], [-inf, -inf, -inf], [2, -inf, -inf]],
            dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
            [[4]],
            [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
        ),
        (  # NaN: the last one in the window
            [[1, nan, 3], [nan, 0, 4]],
            dict(kernel_size=2, stride=1),
            [[3, 1]],
            [[0, 2, 0], [1, 0, 0]],
        ),
    ]
    for x, options, expected_indices, expected_grad in cases:
        for dtype in (np.float64, np.float32):
            xt = leaf(np.array(x, dtype)[None, None])
            out, indices = F.max_pool2d(xt, **options, return_indices=True)
            assert out.dtype == dtype and indices.dtype == np.int64
            np.testing.assert_array_equal(indices.numpy()[0, 0], expected_indices)
            out.backward(np.arange(1, out.numel() + 1, dtype=dtype).reshape(out.shape))
            np.testing.assert_array_equal(xt.grad[0, 0], expected_grad)


def test_pool_options_keep_float32_and_work_on_the_fake_gpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """float32 stays float32 (indices int64), and the new paths compute with the input's array
    library: on the fake CuPy of the tests (strict as CuPy about numpy) as on the CPU."""
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6)).astype(np.float32)
    calls = [
        lambda x: F.max_pool2d(x, 3, 2, 1, dilation=2, ceil_mode=True, return_indices=True),
        lambda x: F.max_pool2d(x, (2, 3), 2, (1, 0), ceil_mode=True),
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
        lambda x: F.avg_pool2d(x, 2, 2, 1, count_include_pad=False),
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, divisor_override=4),
    ]

    def run(call: Callable[[Tensor], Any], device: str) -> list[np.ndarray]:
        xt = tinygrad_be.tensor(x, device=device, requires_grad=True)
        result = call(xt)
        out, indices = result if isinstance(result, tuple) else (result, None)
        assert out.dtype == np.float32 and out.device.type == device
        out.backward(tinygrad_be.ones(*out.shape, dtype=np.float32, device=device))
        assert xt.grad.dtype == np.float32 and xt.grad.device.type == device
        arrays = [out.cpu().detach().numpy(), xt.grad.cpu().numpy()]
        if indices is not None:
            assert indices.dtype == np.int64 and indices.device.type == device
            arrays.append(indices.cpu().numpy())
        return arrays

    on_cpu = [run(call, "cpu") for call in calls]
    fake_cupy.install(monkeypatch)
    for call, expected in zip(calls, on_cpu, strict=True):
        for array, wanted in zip(run(call, "cuda"), expected, strict=True):
            np.testing.assert_array_equal(array, wanted)


@pytest.mark.parametrize("kind", ["avg", "max"])
@given(data=st.data())
def test_adaptive_pools_with_sizes_that_divide_the_input(kind: str, data: st.DataObject) -> None:
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))
    out_h, out_w = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    rng = generator(data)
    x = distinct((n, c, out_h * kh, out_w * kw), rng)
    size: int | tuple[int, int] = (
        out_h if out_h == out_w and data.draw(st.booleans()) else (out_h, out_w)
    )
    pool = F.adaptive_avg_pool2d if kind == "avg" else F.adaptive_max_pool2d
    out = pool(Tensor(x), size)
    np.testing.assert_allclose(
        out.detach().numpy(), pool_reference(x, (kh, kw), (kh, kw), (0, 0), kind), atol=1e-12
    )
    check(lambda x: pool(x, size), leaf(x), rng=rng)


@pytest.mark.parametrize("kind", ["avg", "max"])
def test_adaptive_pool_to_one_is_global_pooling(kind: str) -> None:
    x = np.random.default_rng(4).standard_normal((3, 4, 5, 7))
    pool = F.adaptive_avg_pool2d if kind == "avg" else F.adaptive_max_pool2d
    reduce = np.mean if kind == "avg" else np.max
    out = pool(Tensor(x), 1)
    assert out.shape == (3, 4, 1, 1)
    np.testing.assert_allclose(
        out.detach().numpy(), reduce(x, axis=(2, 3), keepdims=True), atol=1e-12
    )


def test_adaptive_max_pool_refuses_sizes_that_do_not_divide_the_input() -> None:
    x = Tensor(np.zeros((2, 3, 5, 4)))
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: .*\(2, 2\).*\(5, 4\).*uneven bins"):
        F.adaptive_max_pool2d(x, 2)
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: .*\(5, 3\).*\(5, 4\)"):
        F.adaptive_max_pool2d(x, (5, 3))


def test_adaptive_avg_pool_over_uneven_bins_is_torchs() -> None:
    x = Tensor(np.sin(np.arange(2 * 3 * 5 * 3, dtype=np.float64)).reshape(2, 3, 5, 3), requires_grad=True)
    out = F.adaptive_avg_pool2d(x, (3, 7))  # 5 rows into 3 overlapping bins, 3 columns into 7
    assert out.shape == (2, 3, 3, 7) and out.dtype == np.float64
    # torch 2.13: F.adaptive_avg_pool2d(x, (3, 7)), then backward of the weighting cos(arange)
    np.testing.assert_allclose(out.detach().numpy()[0, 0, 0], [
        0.0705600040299336, 0.0705600040299336, 0.056447124389958886, 0.04233424474998415,
        0.00876041041562789, -0.024813423918728372, -0.024813423918728372], rtol=1e-12)
    np.testing.assert_allclose(out.detach().numpy()[1, 2, 1], [
        0.20576026059545785, 0.20576026059545785, 0.05172021259389389, -0.10231983540767009,
        -0.20932369100837667, -0.3163275466090832, -0.3163275466090832], rtol=1e-12)
    out.backward(np.cos(np.arange(2 * 3 * 3 * 7, dtype=np.float64)).reshape(2, 3, 3, 7))
    np.testing.assert_allclose(x.grad.numpy()[0, 0, :2], [
        [0.6661144437972842, -0.7624438626529113, 0.4585053308408931],
        [0.7170601403280684, -1.1932517996611665, 1.0430098605664644]], rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy()[1, 2, 4], [
        0.8591602433327806, -0.6675416744989924, 0.12547692710032293], rtol=1e-12)
    small = F.adaptive_avg_pool2d(Tensor(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)), 7)
    assert small.dtype == np.float32  # torchvision's VGG on 32x32 images: 1x1 (here 2x2) to 7x7
    np.testing.assert_array_equal(small.numpy()[0, 1, 2:4], [  # torch 2.13
        [4.0, 4.0, 4.0, 4.5, 5.0, 5.0, 5.0], [5.0, 5.0, 5.0, 5.5, 6.0, 6.0, 6.0]])


@given(data=st.data())
def test_adaptive_avg_pool_over_any_bins_gradchecks(data: st.DataObject) -> None:
    height, width = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    out_h, out_w = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8))
    rng = generator(data)
    x = leaf(rng.standard_normal((2, 2, height, width)))
    out = F.adaptive_avg_pool2d(x, (out_h, out_w))
    # each output is the mean of its bin: torch's floor(i·H/out) .. ceil((i+1)·H/out)
    i, j = rng.integers(out_h), rng.integers(out_w)
    rows = slice(i * height // out_h, -(-(i + 1) * height // out_h))
    cols = slice(j * width // out_w, -(-(j + 1) * width // out_w))
    np.testing.assert_allclose(
        out.detach().numpy()[:, :, i, j], x.detach().numpy()[:, :, rows, cols].mean(axis=(2, 3))
    )
    check(lambda x: F.adaptive_avg_pool2d(x, (out_h, out_w)) * 2, x, rng=rng)
    check(lambda x: F.adaptive_avg_pool2d(x * x, (out_h, out_w)), x, rng=rng)  # x used twice


# --------------------------------------------------------------------------------------------------
# Batch norm
@st.composite
def batch_norm_shape(draw: Any) -> tuple[int, ...]:
    """(N, C) or (N, C, H, W) with at least two values per channel."""
    c = draw(st.integers(1, 3))
    if draw(st.booleans()):
        return (draw(st.integers(2, 6)), c)
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (max(n, 2) if h * w == 1 else n, c, h, w)


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@given(data=st.data())
def test_batch_norm_values_and_gradients(training: bool, data: st.DataObject) -> None:
    shape = data.draw(batch_norm_shape(), label="shape")
    affine = data.draw(
        st.sampled_from(["weight and bias", "weight", "bias", "none"]), label="affine"
    )
    rng = generator(data)
    c = shape[1]
    x = distinct(shape, rng) * 10  # values 0.1 apart: the variance of a channel is never tiny
    weight = rng.uniform(0.5, 2.0, c) * rng.choice([-1, 1], c) if "weight" in affine else None
    bias = rng.standard_normal(c) if "bias" in affine else None
    running_mean, running_var = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    eps = 1e-5

    axes = tuple(a for a in range(len(shape)) if a != 1)
    mean, var = (x.mean(axes), x.var(axes)) if training else (running_mean, running_var)
    expected = batch_norm_reference(
        x,
        mean,
        var,
        np.ones(c) if weight is None else weight,
        np.zeros(c) if bias is None else bias,
        eps,
    )
    out = F.batch_norm(
        Tensor(x),
        running_mean.copy(),
        running_var.copy(),
        None if weight is None else Tensor(weight),
        None if bias is None else Tensor(bias),
        training=training,
        eps=eps,
    )
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-12)

    # Fresh copies of the running statistics on every call: training updates them in place.
    stats = (
        (lambda: (None, None))
        if training and data.draw(st.booleans(), label="untracked")
        else (lambda: (running_mean.copy(), running_var.copy()))
    )
    inputs = [leaf(x)] + [leaf(a) for a in (weight, bias) if a is not None]

    def fn(x: Tensor, *params: Tensor) -> Tensor:
        given_params = iter(params)
        w = next(given_params) if weight is not None else None
        b = next(given_params) if bias is not None else None
        return F.batch_norm(x, *stats(), w, b, training=training, eps=eps)

    check(fn, *inputs, rng=rng)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4, 3)], ids=["(N, C)", "(N, C, H, W)"])
def test_batch_norm_running_statistics_update(shape: tuple[int, ...]) -> None:
    """Training: running = (1 - momentum)·running + momentum·batch statistic, with the unbiased
    variance; eval: unchanged. Recomputed here in plain numpy, step by step."""
    rng = np.random.default_rng(5)
    running_mean, running_var = np.zeros(3), np.ones(3)
    expected_mean, expected_var = running_mean.copy(), running_var.copy()
    axes = tuple(a for a in range(len(shape)) if a != 1)
    m = int(np.prod(shape)) // 3
    for step, momentum in enumerate((0.1, 0.5, 1.0, 0.0, 0.3)):
        x = rng.normal(step, 2.0, shape)
        F.batch_norm(Tensor(x), running_mean, running_var, training=True, momentum=momentum)
        batch_mean = x.sum(axes) / m
        unbiased_var = ((x - batch_mean.reshape((1, -1) + (1,) * (len(shape) - 2))) ** 2).sum(
            axes
        ) / (m - 1)
        expected_mean = (1 - momentum) * expected_mean + momentum * batch_mean
        expected_var = (1 - momentum) * expected_var + momentum * unbiased_var
        np.testing.assert_allclose(running_mean, expected_mean, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(running_var, expected_var, rtol=1e-12, atol=1e-14)
    before = running_mean.copy(), running_var.copy()
    F.batch_norm(Tensor(rng.standard_normal(shape)), running_mean, running_var, training=False)
    np.testing.assert_array_equal(running_mean, before[0])
    np.testing.assert_array_equal(running_var, before[1])


def test_batch_norm_float32_running_statistics_stay_float32() -> None:
    x = np.random.default_rng(6).standard_normal((8, 4)).astype(np.float32)
    mean, var = np.zeros(4, np.float32), np.ones(4, np.float32)
    F.batch_norm(Tensor(x), mean, var, training=True)
    assert mean.dtype == var.dtype == np.float32
    np.testing.assert_allclose(mean, 0.1 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(var, 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-5)


# --------------------------------------------------------------------------------------------------
# float32 stays float32
def test_float32_stays_float32_through_every_op() -> None:
    rng = np.random.default_rng(7)
    f32 = np.float32
    x = leaf(rng.standard_normal((2, 3, 6, 6)).astype(f32))
    w, b = (
        leaf(rng.standard_normal((4, 3, 3, 3)).astype(f32)),
        leaf(rng.standard_normal(4).astype(f32)),
    )
    gamma, beta = leaf(np.ones(4, f32)), leaf(np.zeros(4, f32))
    mean, var = np.zeros(4, f32), np.ones(4, f32)
    outputs = []
    h = F.conv2d(x, w, b, stride=(1, 2), padding=1)
    outputs.append(h)
    for training in (True, False):
        outputs.append(F.batch_norm(h, mean, var, gamma, beta, training=training))
    h = outputs[-2].relu()
    outputs += [
        F.max_pool2d(h, 2),
        F.max_pool2d(h, 3, stride=1, padding=1),
        F.avg_pool2d(h, (2, 3), padding=(1, 0)),
        F.adaptive_avg_pool2d(h, 1),
        F.adaptive_avg_pool2d(h, (2, 3)),
        F.adaptive_max_pool2d(h, (3, 1)),
        F.batch_norm(h.reshape(2, -1), None, None, training=True),
    ]
    loss = outputs[0].sum() * 0
    for out in outputs:
        assert out.dtype == f32, out
        loss = loss + (out * out).mean()
    assert loss.dtype == f32
    loss.backward()
    for tensor in (x, w, b, gamma, beta):
        assert tensor.grad is not None and tensor.grad.dtype == f32
    assert mean.dtype == var.dtype == f32


# --------------------------------------------------------------------------------------------------
# Bad input: a ValueError naming the op and the shapes, before any work is done
def conv_error(x_shape: tuple, w_shape: tuple, **options: Any) -> Callable[[], Tensor]:
    return lambda: F.conv2d(Tensor(np.zeros(x_shape)), Tensor(np.zeros(w_shape)), **options)


@pytest.mark.parametrize(
    "call, message",
    [
        (conv_error((8, 8), (4, 3, 3, 3)), r"conv2d: .*\(8, 8\).*\(4, 3, 3, 3\)"),
        (conv_error((2, 3, 8, 8), (3, 3, 3)), r"conv2d: .*\(2, 3, 8, 8\).*\(3, 3, 3\)"),
        (
            conv_error((2, 3, 8, 8), (4, 2, 3, 3)),
            r"conv2d: input has 3 channels .*\(2, 3, 8, 8\).*\(4, 2, 3, 3\)",
        ),
        (
            conv_error((2, 3, 4, 4), (4, 3, 5, 5)),
            r"conv2d: kernel \(5, 5\) is larger than the padded input \(4, 4\).*\(2, 3, 4, 4\)",
        ),
        (
            conv_error((2, 3, 4, 4), (4, 3, 7, 3), padding=1),
            r"conv2d: kernel \(7, 3\) .*padded input \(6, 6\)",
        ),
        (conv_error((2, 3, 4, 4), (4, 3, 0, 3)), r"conv2d: kernel size must be positive.*\(0, 3\)"),
        (
            conv_error((2, 3, 4, 4), (4, 3, 3, 3), stride=0),
            r"conv2d: stride must be positive.*\(0, 0\)",
        ),
        (
            conv_error((2, 3, 4, 4), (4, 3, 3, 3), stride=(1, -2)),
            r"conv2d: stride must be positive.*\(1, -2\)",
        ),
        (
            conv_error((2, 3, 4, 4), (4, 3, 3, 3), padding=(-1, 0)),
            r"conv2d: padding must be >= 0.*\(-1, 0\)",
        ),
        (
            conv_error((2, 3, 4, 4), (4, 3, 3, 3), stride=(1, 2, 3)),
            r"conv2d: stride must be an int or a pair",
        ),
        (
            lambda: F.conv2d(
                Tensor(np.zeros((2, 3, 4, 4))), Tensor(np.zeros((4, 3, 3, 3))), Tensor(np.zeros(3))
            ),
            r"conv2d: bias must have shape \(4,\).*\(3,\)",
        ),
    ],
)
def test_conv2d_bad_input(call: Callable, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d], ids=["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize(
    "shape, options, message",
    [
        ((3, 8, 8), dict(kernel_size=2), r"input must be \(N, C, H, W\), got shape \(3, 8, 8\)"),
        (
            (2, 3, 4, 4),
            dict(kernel_size=5),
            r"kernel \(5, 5\) is larger than the padded input \(4, 4\).*\(2, 3, 4, 4\)",
        ),
        ((2, 3, 4, 4), dict(kernel_size=(0, 2)), r"kernel size must be positive.*\(0, 2\)"),
        ((2, 3, 4, 4), dict(kernel_size=2, stride=0), r"stride must be positive.*\(0, 0\)"),
        ((2, 3, 4, 4), dict(kernel_size=2, padding=-1), r"padding must be >= 0.*\(-1, -1\)"),
        (
            (2, 3, 4, 4),
            dict(kernel_size=2, padding=2),
            r"padding \(2, 2\) must be at most half the kernel size \(2, 2\)",
        ),
    ],
)
def test_pool_bad_input(pool: Callable, shape: tuple, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=f"{pool.__name__}: {message}"):
        pool(Tensor(np.zeros(shape)), **options)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda x: F.max_pool2d(x, 2, dilation=0),
            ValueError,
            r"max_pool2d: dilation must be positive, got \(0, 0\).*\(2, 3, 5, 5\)",
        ),
        (
            lambda x: F.max_pool2d(x, 2, dilation=(1, -1), ceil_mode=True),
            ValueError,
            r"max_pool2d: dilation must be positive, got \(1, -1\)",
        ),
        (  # torch's rule: half the kernel size, not of its dilated span
            lambda x: F.max_pool2d(x, 3, padding=2, dilation=2),
            ValueError,
            r"max_pool2d: padding \(2, 2\) must be at most half the kernel size \(3, 3\) "
            r"\(whatever the dilation \(2, 2\), as torch\) \(input \(2, 3, 5, 5\)\)",
        ),
        (
            lambda x: F.max_pool2d(x, 3, dilation=3),
            ValueError,
            r"max_pool2d: kernel \(3, 3\) with dilation \(3, 3\) \(spanning \(7, 7\)\) is larger "
            r"than the padded input \(5, 5\)",
        ),
        (  # ceil mode gives a window to a kernel up to stride - 1 longer than the input, no more
            lambda x: F.avg_pool2d(x, (3, 8), stride=(1, 3), ceil_mode=True),
            ValueError,
            r"avg_pool2d: kernel \(3, 8\) \(dilation \(1, 1\), stride \(1, 3\)\) leaves no window "
            r"over the padded input \(5, 5\) even in ceil mode \(input shape \(2, 3, 5, 5\)",
        ),
        (
            lambda x: F.max_pool2d(x, 2, stride=(0, 1), ceil_mode=True),
            ValueError,
            r"max_pool2d: stride must be positive, got \(0, 1\)",
        ),
        (
            lambda x: F.avg_pool2d(x, 2, padding=(0, -1), ceil_mode=True),
            ValueError,
            r"avg_pool2d: padding must be >= 0, got \(0, -1\)",
        ),
        (
            lambda x: F.avg_pool2d(x, 2, divisor_override=0),
            ValueError,
            "avg_pool2d: divisor_override must not be zero",
        ),
        (
            lambda x: F.avg_pool2d(x, 2, divisor_override=2.5),
            TypeError,
            "avg_pool2d: divisor_override must be an int or None, got 2.5",
        ),
        (
            lambda x: F.max_pool2d(x, 2, dilation=(1, 2, 3)),
            ValueError,
            r"max_pool2d: dilation must be an int or a pair of ints, got \(1, 2, 3\)",
        ),
    ],
)
def test_pool_options_bad_input(call: Callable, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call(Tensor(np.zeros((2, 3, 5, 5))))


@pytest.mark.parametrize("pool", [F.adaptive_avg_pool2d, F.adaptive_max_pool2d])
def test_adaptive_pool_bad_input(pool: Callable) -> None:
    with pytest.raises(
        ValueError, match=rf"{pool.__name__}: input must be \(N, C, H, W\), got shape \(4, 4\)"
    ):
        pool(Tensor(np.zeros((4, 4))), 1)
    with pytest.raises(ValueError, match=rf"{pool.__name__}: output_size must be positive"):
        pool(Tensor(np.zeros((1, 1, 4, 4))), 0)


def test_batch_norm_bad_input_changes_nothing() -> None:
    x = Tensor(np.random.default_rng(8).standard_normal((4, 3, 2, 2)))
    mean, var = np.zeros(3), np.ones(3)

    def refused(message: str, *args: Any, **options: Any) -> None:
        with pytest.raises(ValueError, match=message):
            F.batch_norm(*args, **options)
        np.testing.assert_array_equal(mean, 0)  # checked before any work: nothing updated
        np.testing.assert_array_equal(var, 1)

    refused(
        r"batch_norm: .*\(N, C\) or \(N, C, H, W\), got shape \(4, 3, 2\)",
        Tensor(np.zeros((4, 3, 2))),
        mean,
        var,
        training=True,
    )
    refused(
        r"batch_norm: running_mean .*shape \(3,\) for input \(4, 3, 2, 2\), got \(4,\)",
        x,
        np.zeros(4),
        var,
        training=True,
    )
    refused(
        r"batch_norm: running_var .*shape \(3,\) for input \(4, 3, 2, 2\), got \(3, 1\)",
        x,
        mean,
        np.ones((3, 1)),
        training=True,
    )
    refused(r"batch_norm: running_mean is needed in eval mode", x, None, None, training=False)
    refused(
        r"batch_norm: weight must have shape \(3,\).*got \(2,\)",
        x,
        mean,
        var,
        Tensor(np.ones(2)),
        training=True,
    )
    refused(
        r"batch_norm: bias must have shape \(3,\).*got \(3, 1\)",
        x,
        mean,
        var,
        None,
        Tensor(np.ones((3, 1))),
        training=True,
    )
    refused(
        r"batch_norm: training needs more than one value per channel.*\(1, 3\)",
        Tensor(np.zeros((1, 3))),
        np.zeros(3),
        np.ones(3),
        training=True,
    )
