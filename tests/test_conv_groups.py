"""Grouped, depthwise and dilated convolution (`F.conv2d`'s `groups`, `dilation`, padding strings).

Two paths compute them (tinygrad_be/conv.py): grouped convolution is im2col and one batched GEMM
over the groups (groups=1 is the ordinary convolution), depthwise convolution (one input channel
per group) an einsum over the shifted windows. Both are checked

- against torch 2.13: small integer inputs, so outputs and gradients are exact integers, computed
  once with torch and pasted below;
- against a plain reference written here (a loop over output pixels and groups) on shapes drawn by
  hypothesis (groups 1, 2, 3, C; channel multipliers; strides, paddings, dilations, bias on/off),
  with gradients against central finite differences in float64 (`tinygrad_be.gradcheck`),
  including a tensor used by both paths and a weight used twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_be.conv
import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, gradcheck, no_grad

Pair = tuple[int, int]


# --------------------------------------------------------------------------------------------------
# Helpers
def generator(data: st.DataObject) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def leaf(array: np.ndarray) -> Tensor:
    return Tensor(array, requires_grad=True)


def values(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


def check(fn: Callable[..., Tensor], *inputs: Any, rng: np.random.Generator) -> None:
    """gradcheck with a random output weighting (a plain sum hides mistakes)."""
    with no_grad():
        out_shape = fn(*inputs).shape
    assert gradcheck(fn, *inputs, grad_output=rng.standard_normal(out_shape))


def same_padding(kernel: Pair, dilation: Pair) -> tuple[Pair, Pair]:
    """torch's padding='same': the reach d·(k - 1) split in two, the odd one out after."""
    reach = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    return (reach[0] // 2, reach[0] - reach[0] // 2), (reach[1] // 2, reach[1] - reach[1] // 2)


def conv_reference(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    stride: Pair = (1, 1),
    padding: Pair | tuple[Pair, Pair] = (0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
) -> np.ndarray:
    """Grouped, dilated cross-correlation by a loop over output pixels and groups (tiny shapes)."""
    (sh, sw), (dh, dw) = stride, dilation
    sides = padding if isinstance(padding[0], tuple) else ((padding[0],) * 2, (padding[1],) * 2)
    xp = np.pad(x, ((0, 0), (0, 0), *sides))
    kh, kw = w.shape[2:]
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    c_group, f_group = x.shape[1] // groups, w.shape[0] // groups
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for g in range(groups):
        inputs, filters = (
            slice(g * c_group, (g + 1) * c_group),
            slice(g * f_group, (g + 1) * f_group),
        )
        for i in range(ho):
            for j in range(wo):
                patch = xp[
                    :,
                    inputs,
                    i * sh : i * sh + dh * (kh - 1) + 1 : dh,
                    j * sw : j * sw + dw * (kw - 1) + 1 : dw,
                ]
                out[:, filters, i, j] = np.einsum("nchw,fchw->nf", patch, w[filters])
    return out if b is None else out + b[:, None, None]


@st.composite
def conv_window(draw: Any, size: int) -> tuple[int, int, int, int]:
    """(kernel, stride, padding, dilation) along one axis of length `size` that fit it."""
    padding, dilation = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    fitting = [k for k in (1, 2, 3) if dilation * (k - 1) + 1 <= size + 2 * padding]
    return draw(st.sampled_from(fitting)), draw(st.integers(1, 3)), padding, dilation


@st.composite
def conv_case(draw: Any, depthwise: bool) -> dict[str, Any]:
    """Shapes and options of a grouped (or depthwise) convolution, values from a seeded generator."""
    groups = draw(st.integers(1, 4), label="groups")
    c_group = 1 if depthwise else draw(st.integers(1, 2), label="in channels per group")
    f_group = draw(st.integers(1, 2), label="out channels per group (multiplier)")
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    (kh, sh, ph, dh), (kw, sw, pw, dw) = draw(conv_window(h)), draw(conv_window(w))
    rng = generator(draw(st.data()))
    return dict(
        x=rng.standard_normal((n, groups * c_group, h, w)),
        weight=rng.standard_normal((groups * f_group, c_group, kh, kw)),
        bias=rng.standard_normal(groups * f_group) if draw(st.booleans(), label="bias") else None,
        options=dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups),
        rng=rng,
    )


# --------------------------------------------------------------------------------------------------
# Against torch: integer inputs in [-3, 3] (generator seeds 10·i, 10·i + 1, ...), exact results
def integers(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).integers(-3, 4, shape).astype(np.float64)


# name: (x shape, weight shape, options, output, input gradient, weight gradient), computed with
# torch 2.13: out = F.conv2d(x, w, b, **options); out.backward(g) (the bias is integers(10·i + 2),
# the output gradient g integers(10·i + 3)).
TORCH_CASES = {
    "groups 2": (
        (1, 4, 3, 4),
        (4, 2, 2, 2),
        dict(groups=2),
        [[[[-9, -22, -17], [3, 16, 0]], [[-7, -6, -11], [-5, 7, 14]], [[-29, -21, -11], [-16, -14, -7]], [[11, 21, 8], [22, 4, 17]]]],
        [[[[-6, -5, 5, 3], [19, 5, -22, -3], [-13, -10, -1, 6]], [[-12, 9, 20, -2], [10, 1, -12, -7], [2, -5, -1, 6]], [[-5, -3, 1, 0], [-7, -1, -1, 6], [6, 1, -3, -6]], [[12, 14, -3, -4], [8, 0, 1, 4], [-1, -7, 4, 0]]]],
        [[[[3, 12], [15, 9]], [[-11, -5], [4, -18]]], [[[13, 21], [7, -10]], [[-11, 0], [7, -16]]], [[[1, 3], [1, -3]], [[-10, -2], [12, 3]]], [[[-2, -5], [0, -24]], [[4, -3], [18, 17]]]],
    ),
    "depthwise, multiplier 2, stride 2, padding 1": (
        (1, 2, 4, 4),
        (4, 1, 3, 3),
        dict(stride=2, padding=1, groups=2),
        [[[[0, -1], [4, -10]], [[2, -8], [-3, -5]], [[13, -2], [12, 2]], [[-1, 0], [-5, -1]]]],
        [[[[12, 3, -3, 3], [-24, -1, -9, 4], [-7, 2, 8, 2], [0, 17, -10, -6]], [[6, 0, 8, -2], [4, 10, -6, 9], [0, -4, -12, 6], [2, 3, 3, 9]]]],
        [[[[4, 4, 0], [9, 0, -3], [8, 2, 6]]], [[[-4, 6, 10], [6, 0, -7], [2, -7, -11]]], [[[6, -13, 1], [6, 19, 1], [0, 10, 12]]], [[[-6, 5, 7], [-4, -8, -2], [-4, 10, -4]]]],
    ),
    "dilation 2, padding 1": (
        (1, 2, 4, 4),
        (2, 2, 2, 2),
        dict(padding=1, dilation=2),
        [[[[-4, 0, 10, 5], [1, -2, 12, 5], [3, -3, 6, 2], [-1, 2, -6, 3]], [[-13, -1, 5, -6], [-4, -17, -5, -6], [-5, -14, -7, 7], [-1, -2, 2, 0]]]],
        [[[[4, -6, -3, 4], [3, -14, 3, 5], [5, 5, -6, 0], [-4, -6, -10, -5]], [[2, -7, 0, -1], [11, 26, -6, 0], [2, 16, 13, -8], [-10, 2, 4, 3]]]],
        [[[[-1, 25], [8, 22]], [[-18, -11], [-9, 9]]], [[[-2, 18], [16, -10]], [[-4, 16], [11, -23]]]],
    ),
    "depthwise, dilation (2, 1), padding same": (
        (1, 3, 4, 4),
        (3, 1, 2, 2),
        dict(padding='same', dilation=(2, 1), groups=3),
        [[[[12, 0, 0, 3], [-9, 15, -6, 3], [-3, 0, 15, 3], [9, -3, 12, 3]], [[4, 4, 4, -5], [-11, -11, -3, 2], [0, -6, 0, -7], [3, 2, -2, -3]], [[1, -3, -4, 6], [9, -2, 4, 2], [14, 5, -6, 3], [0, 5, 4, 2]]]],
        [[[[0, 6, 9, -3], [0, -9, 3, -3], [0, 3, -3, 9], [0, 0, -3, 6]], [[-1, -3, -2, -3], [0, 0, -3, 2], [0, 0, 0, 14], [9, 9, -9, 3]], [[3, -3, -1, 1], [0, 7, -8, -1], [-4, 7, 3, -1], [-2, 5, 5, -9]]]],
        [[[[-26, 9], [-8, -7]]], [[[-8, -1], [0, 11]]], [[[-15, 2], [-14, 27]]]],
    ),
    "groups 2, stride (2, 1), padding (0, 1), dilation (1, 2)": (
        (2, 4, 4, 4),
        (2, 2, 2, 2),
        dict(stride=(2, 1), padding=(0, 1), dilation=(1, 2), groups=2),
        [[[[0, -21, -3, -16], [-9, -7, 19, -18]], [[-5, 19, -1, 20], [-5, -2, 4, 5]]], [[[-17, -1, -12, -2], [-10, -25, -2, -4]], [[6, 7, 10, -4], [1, -1, -4, -1]]]],
        [[[[1, -1, 0, -3], [2, -2, -4, -2], [-3, 1, -7, -6], [-6, -2, -2, -4]], [[1, -1, -6, 3], [-2, 2, 8, -2], [-3, -5, 11, 6], [6, 6, -10, -4]], [[-1, -3, 4, 6], [-2, -6, 3, -3], [-2, 5, 6, -2], [-4, 0, 2, 1]], [[3, 9, -6, 0], [2, 6, -3, 3], [6, -3, -6, 0], [4, 0, -2, -1]]], [[[-1, -5, -3, 3], [-2, -2, -2, 2], [3, -7, 12, -3], [6, -6, 12, -2]], [[-1, 7, 3, -3], [2, -6, -2, 2], [3, 5, -6, 3], [-6, -2, 0, -2]], [[2, -6, -2, 4], [4, -2, 6, -2], [1, 6, 1, 0], [2, -3, 7, 0]], [[-6, 6, -6, 0], [-4, 2, -6, 2], [-3, 0, -9, 0], [-2, 3, -7, 0]]]],
        [[[[1, 1], [-14, 6]], [[-7, 19], [8, 3]]], [[[14, -7], [12, -12]], [[5, 8], [-8, 2]]]],
    ),
}  # fmt: skip


@pytest.mark.parametrize("index, name", list(enumerate(TORCH_CASES)))
def test_against_torch(index: int, name: str) -> None:
    x_shape, w_shape, options, out_expected, dx_expected, dw_expected = TORCH_CASES[name]
    x, w = leaf(integers(10 * index, x_shape)), leaf(integers(10 * index + 1, w_shape))
    b = leaf(integers(10 * index + 2, w_shape[0]))
    out = F.conv2d(x, w, b, **options)
    np.testing.assert_array_equal(values(out), out_expected)
    out.backward(Tensor(integers(10 * index + 3, out.shape)))
    np.testing.assert_array_equal(values(x.grad), dx_expected)
    np.testing.assert_array_equal(values(w.grad), dw_expected)
    np.testing.assert_array_equal(
        values(b.grad), integers(10 * index + 3, out.shape).sum((0, 2, 3))
    )


# --------------------------------------------------------------------------------------------------
# Against the reference, with gradients against finite differences
@pytest.mark.parametrize("depthwise", [False, True], ids=["grouped", "depthwise"])
@given(case=st.data())
def test_values_and_gradients(depthwise: bool, case: st.DataObject) -> None:
    c = case.draw(conv_case(depthwise))
    x, weight, bias, options, rng = c["x"], c["weight"], c["bias"], c["options"], c["rng"]
    out = F.conv2d(Tensor(x), Tensor(weight), None if bias is None else Tensor(bias), **options)
    np.testing.assert_allclose(
        values(out), conv_reference(x, weight, bias, **options), rtol=1e-12, atol=1e-12
    )
    if bias is None:
        check(lambda x, w: F.conv2d(x, w, None, **options), leaf(x), leaf(weight), rng=rng)
    else:
        check(
            lambda x, w, b: F.conv2d(x, w, b, **options), leaf(x), leaf(weight), leaf(bias), rng=rng
        )


@given(data=st.data())
def test_padding_same_and_valid(data: st.DataObject) -> None:
    """'same' keeps the size (even kernels pad one more after, as torch); 'valid' is no padding."""
    groups = data.draw(st.sampled_from([1, 2]), label="groups")
    kernel = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4)), label="kernel")
    dilation = data.draw(st.tuples(st.integers(1, 2), st.integers(1, 2)), label="dilation")
    rng = generator(data)
    x = rng.standard_normal((1, 2, data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))))
    w = rng.standard_normal((2, 2 // groups, *kernel))
    same = F.conv2d(Tensor(x), Tensor(w), padding="same", dilation=dilation, groups=groups)
    assert same.shape == (1, 2, *x.shape[2:])
    sides = same_padding(kernel, dilation)
    expected = conv_reference(x, w, None, padding=sides, dilation=dilation, groups=groups)
    np.testing.assert_allclose(values(same), expected, atol=1e-12)
    check(
        lambda x, w: F.conv2d(x, w, padding="same", dilation=dilation, groups=groups),
        leaf(x),
        leaf(w),
        rng=rng,
    )
    if all(d * (k - 1) < s for k, d, s in zip(kernel, dilation, x.shape[2:], strict=True)):
        valid = F.conv2d(Tensor(x), Tensor(w), padding="valid", dilation=dilation, groups=groups)
        np.testing.assert_array_equal(
            values(valid), values(F.conv2d(Tensor(x), Tensor(w), dilation=dilation, groups=groups))
        )


@given(data=st.data())
def test_reused_nodes_across_both_paths(data: st.DataObject) -> None:
    """x feeds a grouped and a depthwise convolution and a residual sum; a weight is used twice."""
    n, c = data.draw(st.integers(1, 2)), 2 * data.draw(st.integers(1, 2))
    h, w = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5))
    rng = generator(data)
    x = leaf(rng.standard_normal((n, c, h, w)))
    w_grouped = leaf(rng.standard_normal((c, c // 2, 3, 3)))
    w_depthwise = leaf(rng.standard_normal((c, 1, 3, 1)))

    def network(x: Tensor, w_grouped: Tensor, w_depthwise: Tensor) -> Tensor:
        grouped = F.conv2d(x, w_grouped, padding=1, groups=2)
        depthwise = F.conv2d(x, w_depthwise, padding=(2, 0), dilation=(2, 1), groups=c)
        return F.conv2d(grouped * depthwise + x, w_grouped, padding="same", groups=2)

    check(network, x, w_grouped, w_depthwise, rng=rng)


# --------------------------------------------------------------------------------------------------
# The paths, dtypes and layouts
def test_depthwise_takes_its_own_path_and_groups_one_the_dense_one() -> None:
    rng = np.random.default_rng(0)
    x = leaf(rng.standard_normal((2, 4, 5, 5)))
    depthwise = F.conv2d(x, leaf(rng.standard_normal((8, 1, 3, 3))), groups=4)
    grouped = F.conv2d(x, leaf(rng.standard_normal((4, 2, 3, 3))), groups=2)
    dense = F.conv2d(x, leaf(rng.standard_normal((4, 4, 3, 3))))
    assert type(depthwise.grad_fn).__name__ == "DepthwiseConv2d"
    assert type(grouped.grad_fn).__name__ == type(dense.grad_fn).__name__ == "Conv2d"


@pytest.mark.parametrize("groups", [2, 4], ids=["grouped", "depthwise"])
def test_float32_stays_float32_and_any_memory_layout_works(groups: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 4 // groups, 3, 2)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    options = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=groups)
    expected = conv_reference(x.astype(np.float64), w, b, **options)
    grads = []
    for layout in (
        x,
        np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
        x[..., ::-1].copy()[..., ::-1],
    ):
        xt, wt, bt = leaf(layout), leaf(w), leaf(b)
        out = F.conv2d(xt, wt, bt, **options)
        assert out.dtype == np.float32
        np.testing.assert_allclose(values(out), expected, rtol=1e-5, atol=1e-5)
        out.backward(Tensor(np.ones(out.shape, np.float32)))
        assert xt.grad.dtype == wt.grad.dtype == bt.grad.dtype == np.float32
        grads.append((values(xt.grad), values(wt.grad)))
    for grad_x, grad_w in grads[1:]:
        np.testing.assert_allclose(grad_x, grads[0][0], rtol=1e-6)
        np.testing.assert_allclose(grad_w, grads[0][1], rtol=1e-6)


def test_grouped_chunks_under_a_small_memory_budget_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a tiny budget the batch goes through in chunks (one sample per chunk): same numbers."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((5, 6, 6, 6)), rng.standard_normal((9, 2, 3, 3))
    b, g = rng.standard_normal(9), rng.standard_normal((5, 9, 3, 6))

    def run() -> list[np.ndarray]:
        xt, wt, bt = leaf(x), leaf(w), leaf(b)
        out = F.conv2d(xt, wt, bt, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=3)
        out.backward(Tensor(g))
        return [values(out), values(xt.grad), values(wt.grad), values(bt.grad)]

    whole = run()
    monkeypatch.setattr(tinygrad_be.conv, "MEMORY_BUDGET_BYTES", 1)
    for chunked, expected in zip(run(), whole, strict=True):
        np.testing.assert_allclose(chunked, expected, rtol=1e-12, atol=1e-12)
    options = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=3)
    np.testing.assert_allclose(whole[0], conv_reference(x, w, b, **options), atol=1e-12)


def test_unbatched_input_as_torch() -> None:
    """torch accepts an unbatched (C, H, W) input: a batch of one, returned without the batch."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((4, 5, 5)), rng.standard_normal((4, 2, 3, 3))
    xt = leaf(x)
    out = F.conv2d(xt, leaf(w), padding=1, groups=2)
    assert out.shape == (4, 5, 5)
    np.testing.assert_allclose(
        values(out), conv_reference(x[None], w, None, padding=(1, 1), groups=2)[0]
    )
    out.sum().backward()
    assert xt.grad.shape == (4, 5, 5)


# --------------------------------------------------------------------------------------------------
# Bad input: ValueErrors naming the op and the shapes
def conv(x_shape: tuple, w_shape: tuple, **options: Any) -> Callable[[], Tensor]:
    return lambda: F.conv2d(Tensor(np.zeros(x_shape)), Tensor(np.zeros(w_shape)), **options)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            conv((2, 5, 8, 8), (4, 3, 3, 3), groups=2),
            r"conv2d: input has 5 channels \(shape \(2, 5, 8, 8\)\) but the weight expects 6 = "
            r"groups 2 x 3 \(shape \(4, 3, 3, 3\)\)",
        ),
        (
            conv((2, 4, 8, 8), (3, 2, 3, 3), groups=2),
            r"conv2d: the weight's 3 output channels \(weight shape \(3, 2, 3, 3\)\) are not "
            r"divisible by groups=2",
        ),
        (
            conv((2, 4, 8, 8), (4, 4, 3, 3), groups=0),
            r"conv2d: groups must be a positive integer, got 0",
        ),
        (
            conv((2, 4, 8, 8), (4, 4, 3, 3), groups=1.5),
            r"conv2d: groups must be a positive integer",
        ),
        (
            conv((2, 4, 8, 8), (4, 4, 3, 3), dilation=0),
            r"conv2d: dilation must be positive, got \(0, 0\)",
        ),
        (
            conv((2, 4, 8, 8), (4, 4, 3, 3), dilation=(1, 2, 3)),
            r"conv2d: dilation must be an int or a pair",
        ),
        (
            conv((2, 4, 4, 4), (4, 4, 3, 3), dilation=3),
            r"conv2d: kernel \(3, 3\) with dilation \(3, 3\) \(spanning \(7, 7\)\) is larger than the "
            r"padded input \(4, 4\) \(input shape \(2, 4, 4, 4\)",
        ),
        (
            conv((2, 4, 8, 8), (4, 1, 3, 3), groups=4, padding="same", stride=2),
            r"conv2d: padding='same' is not supported for strided convolutions \(stride \(2, 2\)\)",
        ),
        (
            conv((2, 4, 8, 8), (4, 4, 3, 3), padding="full"),
            r"conv2d: padding must be an int, a pair of ints, 'same' or 'valid', got 'full'",
        ),
        (
            conv((2, 4, 8, 8), (4, 1, 3, 3), groups=4, padding=-1),
            r"conv2d: padding must be >= 0, got \(-1, -1\)",
        ),
        (
            conv((2, 4, 8), (4, 4, 3)),
            r"conv2d: input must be \(N, C, H, W\) or \(C, H, W\).*\(2, 4, 8\).*\(4, 4, 3\)",
        ),
    ],
)
def test_bad_input(call: Callable[[], Tensor], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
