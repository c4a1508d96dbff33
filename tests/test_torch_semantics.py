"""torch semantics, checked against values computed by PyTorch 2.13 in float64 (pasted below as
literals: torch is not a dependency). Also the silent traps and corner cases of issue 13."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinygrad_be
import tinygrad_be.nn.functional as F
from tinygrad_be import Function, Tensor, gradcheck, nn, no_grad, optim

INF = np.inf

# fmt: off
CE = {
    ('weight', 'mean'): (0.334752193230304, [[0.046342290452422, 0.008465972932524, -0.054808263384946], [-0.025531046061377, 0.018664690244567, 0.006866355816809], [0.0, 0.0, 0.0], [0.085654964869179, -0.117165665478812, 0.031510700609633]]),
    ('weight', 'sum'): (1.339008772921215, [[0.18536916180969, 0.033863891730096, -0.219233053539785], [-0.102124184245507, 0.074658760978269, 0.027465423267238], [0.0, 0.0, 0.0], [0.342619859476717, -0.468662661915249, 0.126042802438533]]),
    ('weight', 'none'): ([0.351294205703697, 0.172502638328757, 0.0, 0.815211928888761], [[0.079443926489867, 0.014513096455755, -0.093957022945622], [0.145891691779295, -0.106655372826098, -0.039236318953197], [0.0, 0.0, 0.0], [0.244728471054798, -0.334759044225178, 0.09003057317038]]),
    ('ignore', 'mean'): (0.328935792745898, [[0.04119314706882, 0.007525309273355, -0.048718456342175], [-0.068082789497004, 0.049772507318846, 0.018310282178159], [0.0, 0.0, 0.0], [0.057103309912786, -0.078110443652542, 0.021007133739755]]),
    ('ignore', 'sum'): (0.986807378237693, [[0.12357944120646, 0.022575927820064, -0.146155369026524], [-0.204248368491013, 0.149317521956538, 0.054930846534476], [0.0, 0.0, 0.0], [0.171309929738358, -0.234331330957625, 0.063021401219266]]),
    ('ignore', 'none'): ([0.234196137135798, 0.345005276657514, 0.0, 0.40760596444438], [[0.052962617659911, 0.00967539763717, -0.062638015297082], [0.29178338355859, -0.213310745652197, -0.078472637906394], [0.0, 0.0, 0.0], [0.122364235527399, -0.167379522112589, 0.04501528658519]]),
    ('smooth', 'mean'): (0.575602459412564, [[0.025637591513264, -0.008030246282201, -0.017607345231063], [-0.036971678385893, 0.03421695176329, 0.002754726622603], [0.0, 0.0, 0.0], [0.041547754357231, -0.04699933254143, 0.0054515781842]]),
    ('smooth', 'sum'): (1.726807378237693, [[0.076912774539793, -0.024090738846603, -0.05282203569319], [-0.11091503515768, 0.102650855289871, 0.008264179867809], [0.0, 0.0, 0.0], [0.124643263071692, -0.140997997624291, 0.0163547345526]]),
    ('smooth', 'none'): ([0.547529470469132, 0.571671943324181, 0.0, 0.60760596444438], [[0.032962617659911, -0.01032460236283, -0.022638015297082], [0.158450050225257, -0.14664407898553, -0.011805971239727], [0.0, 0.0, 0.0], [0.089030902194065, -0.100712855445922, 0.011681953251857]]),
    ('all', 'mean'): (0.470420553181863, [[0.042910709447396, -0.00329476010006, -0.039615949347336], [-0.009369553738273, 0.010108805285328, -0.000739251547056], [0.0, 0.0, 0.0], [0.079883132706873, -0.101593476629519, 0.021710343922645]]),
    ('all', 'sum'): (1.881682212727452, [[0.171642837789582, -0.013179040400239, -0.158463797389343], [-0.037478214953091, 0.040435221141314, -0.002957006188223], [0.0, 0.0, 0.0], [0.319532530827493, -0.406373906518075, 0.086841375690582]]),
    ('all', 'none'): ([0.585724270084767, 0.391253078050217, 0.0, 0.904704864592469], [[0.073561216195535, -0.005648160171531, -0.067913056024004], [0.053540307075844, -0.057764601630448, 0.004224294554604], [0.0, 0.0, 0.0], [0.228237522019638, -0.290267076084339, 0.062029554064701]]),
}
CE_PROB = (2.158089296476995, [[0.036814915334033, -0.140069627554336, 0.103254712220304], [0.295018283540151, -0.28316545648912, -0.011852827051031], [-0.109443385079665, 0.042319878099108, 0.067123506980557], [0.044577222118055, 0.072574972175763, -0.117152194293818]])
NLL = (0.334752193230304, [[0.066203272074889, 0.012094247046463, -0.078297519121352], [-0.036472922944824, 0.026663843206525, 0.009809079738299], [0.0, 0.0, 0.0], [0.122364235527399, -0.167379522112589, 0.04501528658519]])
BCE = (0.712428925038543, [0.185185185185185, -0.37037037037037, 0.066666666666667, 0.0, 0.0, -1.666666666666667], [0.366204096222703, -0.732408192445406, -0.0, INF, -INF, 0.423648930193602])
BCEL = (3.002931769164532, [[-0.755081337596291, 1.87e-13, 0.315398538988941], [-0.25, 0.0, 0.165906113915917]], [[-0.025923015819893, 29.999999999999904, -1.0], [0.693147180559945, -80.0, 0.35]])
GELU_NONE = ([-5e-15, -0.00404969409489, -0.158655253931457, -0.046017216272297, 0.0, 0.345731230637007, 1.954499736103642, 3.999873315032668], [-4e-14, -0.011945647204184, -0.083315470587686, 0.42047690797527, 0.5, 0.867495124656163, 1.085231801078197, 1.000503649661226])
GELU_TANH = ([-0.0, -0.003637392081773, -0.158808009391723, -0.046017248954565, 0.0, 0.345714009825144, 1.954597694087775, 3.999929754051808], [0.0, -0.01158416663097, -0.082964083845783, 0.420478210728243, 0.5, 0.867369903534642, 1.086099256623618, 1.000335123197122])
VAR_0 = ([5.25, 2.296875], [[-1.25, -0.75, 0.25, 1.75], [0.625, 2.125, -1.875, -0.875]])
VAR_1 = ([7.0, 3.0625], [[-1.666666666666666, -1.0, 0.333333333333333, 2.333333333333333], [0.833333333333333, 2.833333333333333, -2.5, -1.166666666666666]])
VAR_2 = ([10.5, 4.593750000000001], [[-2.5, -1.5, 0.5, 3.5], [1.25, 4.25, -3.75, -1.75]])
STD = (2.43394887843955, [[-0.077035307380905, -0.018341739852596, 0.099045395204021, 0.275126097788947], [-0.106382091145059, -0.194422442437522, 0.040351827675712, -0.018341739852596]])
LN = ([[-0.991088412048636, -0.127326523614591, 0.081782317590273, 3.45504755373618], [-0.312392151697726, -0.501066657886135, -0.937176455093179, 1.554698024753634]], [[0.841694548302144, 0.37408611953545, -2.306872197275756, 1.09109152943816], [-1.034628086965846, 0.177298183527752, -1.020037256079726, 1.877367159517821]], [-0.67869626035091, -2.010372752344498, 0.654653047229182, 7.264793132225996], [0.0, 2.5, 3.0, 6.0])
POW = ([1.0, 0.0, 1.0, 0.0, 0.333333333333333], [0.0, 0.0, 0.0, INF, -0.111111111111111], [0.0, 0.0, 0.693147180559945, 0.0, 0.366204096222703])
RPOW = ([1.0, 2.82842712474619, 0.25], [0.693147180559945, 1.960516286937094, 0.173286795139986])
POW0 = [0.0, 0.0, 0.0]
MAXIMUM = ([0.5, 0.0, 1.0], [0.5, 1.0, 0.0])
CLAMP = [0.0, 1.0, 1.0, 1.0, 0.0]
ABS = [-1.0, 0.0, 1.0, 1.0, 1.0]
LEAKY = [0.1, 0.1, 1.0, 1.0, 1.0]
AMSGRAD = [0.242323342039913, -0.776493996127776, 2.019679142667624]
AMSGRAD_W = [0.241793116994121, -0.774644236684194, 2.014522502548927]
CLIP = (5.830951894845301, [0.514495667192248, 0.0, -0.685994222922997], [[0.171498555730749, 0.342997111461498], [0.0, -0.342997111461498]])
CLIP_INF = (4.0, [1.499999625000094, 0.0, -1.999999500000125], [[0.499999875000031, 0.999999750000062], [0.0, -0.999999750000062]])
GROUPS = ([0.73725, 2.26275], [2.965], [0.0125, 0.00125])
MAXDIM = ([3.0, 2.0], [1, 0], [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
MAXALL = [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]]
GATHER1 = ([[0.0, 0.0], [6.0, 5.0]], [[2.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
GATHER0 = ([[0.0, 1.0], [8.0, 5.0]], [[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
EMB_GRAD = [[0.0, 0.0], [0.0, 0.0], [2.0, 2.0], [1.0, 1.0]]
# fmt: on

X = np.array([[0.5, -1.2, 2.0], [1.5, 0.3, -0.7], [-2.0, 0.1, 0.4], [0.0, 1.0, -1.0]])
Y = np.array([2, 0, -100, 1])
W = np.array([0.5, 2.0, 1.5])


def close(actual, expected, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=1e-9, atol=atol)


# --------------------------------------------------------------------------------------------------
# Comparisons and conversions
def test_comparisons_are_elementwise_bool_tensors_without_grad() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = Tensor([1.0, 0.0, 3.0])
    for result, expected in [
        (x == y, [True, False, True]), (x != y, [False, True, False]),
        (x < 2, [True, False, False]), (x <= 2, [True, True, False]),
        (x > y, [False, True, False]), (x >= 3.0, [False, False, True]),
    ]:  # fmt: skip
        assert isinstance(result, Tensor) and result.dtype == np.bool_
        assert not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)


def test_accuracy_the_torch_way_and_the_numpy_way() -> None:
    """Before: `==` compared identity, so np.mean(pred == y) silently gave 0.0."""
    logits = Tensor([[0.1, 2.0], [3.0, 0.5], [0.2, 0.1], [0.0, 1.0]])
    y = np.array([1, 0, 1, 1])
    assert (logits.argmax(dim=1) == y).float().mean().item() == pytest.approx(0.75)
    assert float((logits.argmax(dim=1) == y).mean()) == pytest.approx(0.75)
    assert float(np.mean(logits.argmax(axis=1) == y)) == pytest.approx(0.75)
    assert int((logits.argmax(1) == Tensor(y)).sum()) == 3


def test_tensors_still_hash_by_identity() -> None:
    a, b = Tensor([1.0]), Tensor([1.0])
    seen = {a: "a", b: "b"}
    assert seen[a] == "a" and seen[b] == "b" and len({a, b, a}) == 2


def test_bool_float_int_format_and_tolist() -> None:
    assert bool(Tensor(1.0)) and not bool(Tensor([0.0]))
    with pytest.raises(RuntimeError, match=r"ambiguous.*\(2,\)|\(2,\).*ambiguous"):
        bool(Tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError):
        bool(Tensor(np.zeros(0)))
    assert float(Tensor([[2.5]])) == 2.5 and int(Tensor(7)) == 7 and int(Tensor(2.9)) == 2
    with pytest.raises(RuntimeError, match="one-element"):
        float(Tensor([1.0, 2.0]))
    assert format(Tensor(np.float64(0.123456)), ".4f") == "0.1235"
    assert f"{Tensor(3.0).sum():.2f}" == "3.00"
    assert Tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert Tensor(1.5).tolist() == 1.5
    assert [10, 20, 30][Tensor(1)] == 20  # an integer tensor is an index


# --------------------------------------------------------------------------------------------------
# Construction and dtypes
def test_tensor_copies_and_from_numpy_shares() -> None:
    array = np.zeros(3, np.float32)
    copied, shared = Tensor(array), tinygrad_be.from_numpy(array)
    array[0] = 5.0
    assert copied.data[0] == 0.0 and shared.data[0] == 5.0


def test_optimizer_step_leaves_the_users_array_alone() -> None:
    """Before: Tensor(ndarray) shared memory, so optimizer.step() changed the user's array."""
    initial = np.ones(3, np.float32)
    w = Tensor(initial, requires_grad=True)
    (w * 2).sum().backward()
    optim.SGD([w], lr=0.1).step()
    np.testing.assert_array_equal(initial, [1, 1, 1])
    np.testing.assert_allclose(w.data, [0.8, 0.8, 0.8])


def test_integer_tensors_times_floats_are_float32() -> None:
    i = Tensor([1, 2, 3])
    assert i.dtype == np.int64 and (i * 2).dtype == np.int64
    assert (i * 0.5).dtype == np.float32 and (0.5 * i).dtype == np.float32
    assert (i / 2).dtype == np.float32 and (i / Tensor([2, 2, 2])).dtype == np.float32
    assert (i + Tensor([0.5], dtype=np.float64)).dtype == np.float64
    assert (i**0.5).dtype == np.float32


def test_a_cast_to_an_integer_dtype_does_not_require_grad() -> None:
    x = Tensor([1.7, -2.2], requires_grad=True)
    for y in (x.astype(np.int64), x.long(), x.astype(bool)):
        assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(x.long().data, [1, -2])


# --------------------------------------------------------------------------------------------------
# Shapes and reductions with torch's names
def test_transpose_on_a_matrix_swaps_its_dims() -> None:
    """Before: x.transpose(0, 1) on a 2-D tensor silently did nothing."""
    x = Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.transpose(0, 1).data, x.data.T)
    np.testing.assert_array_equal(x.transpose(1, 0).data, x.data.T)
    with pytest.raises(TypeError):
        x.transpose()  # torch needs the two dims; .T or permute() reorder all


def test_max_and_min_follow_torch() -> None:
    values, indices = MAXDIM[0], MAXDIM[1]
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]), requires_grad=True)
    out = x.max(dim=1)
    close(out.values.data, values)
    assert out.indices.tolist() == indices and out.indices.dtype == np.int64
    out.values.sum().backward()
    close(x.grad, MAXDIM[2])  # only the index returned gets the gradient
    x.grad = None
    top = x.max()
    assert top.shape == () and top.item() == 3.0
    top.backward()
    close(x.grad, MAXALL)  # ties share it
    v, i = x.min(1, keepdim=True)
    assert v.shape == (2, 1) and i.tolist() == [[0], [1]]
    assert x.max(axis=0).values.tolist() == [2.0, 3.0, 3.0]  # axis= is an alias
    np.testing.assert_array_equal(x.max(Tensor(np.full((2, 3), 2.5))).data, np.maximum(x.data, 2.5))
    assert x.amax(dim=(0, 1)).item() == 3.0 and x.amin().item() == 0.0
    assert x.argmax().item() == 1 and x.argmin(dim=1, keepdim=True).shape == (2, 1)
    assert x.argmax(dim=0).tolist() == [1, 0, 0]


def test_dim_and_keepdim_everywhere_with_axis_aliases() -> None:
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.sum(dim=1, keepdim=True).shape == x.sum(axis=1, keepdims=True).shape == (2, 1, 4)
    assert x.mean(1).shape == (2, 4) and x.mean(dim=(0, 2)).shape == (3,)
    np.testing.assert_allclose(F.softmax(x, dim=1).data, F.softmax(x, axis=1).data)
    np.testing.assert_allclose(x.log_softmax(dim=0).data, x.log_softmax(axis=0).data)
    assert np.allclose(F.softmax(x, dim=1).data.sum(axis=1), 1)
    with pytest.raises(TypeError, match="both dim"):
        x.sum(dim=0, axis=1)


def test_size_numel_and_shape_helpers() -> None:
    x = Tensor(np.zeros((2, 1, 3)))
    assert x.size() == (2, 1, 3) and x.size(-1) == 3 and x.numel() == 6
    assert (
        x.squeeze().shape == (2, 3)
        and x.squeeze(1).shape == (2, 3)
        and x.squeeze(0).shape == (2, 1, 3)
    )
    assert x.unsqueeze(0).shape == (1, 2, 1, 3) and x.unsqueeze(-1).shape == (2, 1, 3, 1)
    assert x.view(3, 2).shape == (3, 2) and x.view(-1).shape == (6,)
    assert x.flatten().shape == (6,) and x.flatten(1).shape == (2, 3)
    assert Tensor(np.zeros((2, 3, 4, 5))).flatten(1, 2).shape == (2, 12, 5)
    assert x.expand(4, 2, 5, 3).shape == (4, 2, 5, 3) and x.expand(-1, 4, -1).shape == (2, 4, 3)
    assert Tensor(1.0).flatten().shape == (1,)
    with pytest.raises(ValueError, match="expand"):
        x.expand(3, 1, 3)


def test_gather_matches_torch() -> None:
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    index = np.array([[0, 0], [2, 1]])
    out = x.gather(1, index)
    close(out.data, GATHER1[0])
    out.sum().backward()
    close(x.grad, GATHER1[1])
    x.grad = None
    out = x.gather(0, Tensor(index))
    close(out.data, GATHER0[0])
    out.sum().backward()
    close(x.grad, GATHER0[1])
    with pytest.raises(IndexError, match="out of range"):
        x.gather(1, np.array([[4]]))
    with pytest.raises(ValueError, match=r"index of shape \(2,\)"):
        x.gather(1, np.array([0, 1]))


def test_cat_stack_where_maximum_minimum() -> None:
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.zeros((1, 3)), requires_grad=True)
    c = tinygrad_be.cat([a, b], dim=0)
    assert c.shape == (3, 3)
    (c * Tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
    np.testing.assert_array_equal(a.grad, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(b.grad, [[6, 7, 8]])
    assert tinygrad_be.stack([a, a], dim=1).shape == (2, 2, 3)
    with pytest.raises(ValueError, match="cat: shapes"):
        tinygrad_be.cat([a, Tensor(np.zeros((2, 2)))])
    with pytest.raises(ValueError, match="one shape"):
        tinygrad_be.stack([a, b])
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = tinygrad_be.where(x > 0, x, 0.0)
    np.testing.assert_array_equal(y.data, [1.0, 0.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0])
    m1 = Tensor([1.0, 2.0, 3.0], dtype=np.float64, requires_grad=True)
    m2 = Tensor([1.0, 5.0, 0.0], dtype=np.float64, requires_grad=True)
    tinygrad_be.maximum(m1, m2).sum().backward()
    close(m1.grad, MAXIMUM[0])
    close(m2.grad, MAXIMUM[1])
    np.testing.assert_array_equal(tinygrad_be.minimum(m1, 2.0).data, [1.0, 2.0, 2.0])


def test_elementwise_kinks_follow_torch() -> None:
    values = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    for fn, expected in [
        (lambda c: c.clamp(0.0, 1.0), CLAMP), (lambda c: c.clip(0.0, 1.0), CLAMP),
        (lambda c: c.abs(), ABS), (lambda c: F.leaky_relu(c, 0.1), LEAKY),
    ]:  # fmt: skip
        c = Tensor(values, requires_grad=True)
        fn(c).sum().backward()
        close(c.grad, expected)
    np.testing.assert_array_equal(Tensor(values).clamp(min=0.5).data, [0.5, 0.5, 0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match="at least one"):
        Tensor(values).clamp()


def test_var_and_std_with_corrections() -> None:
    a_data = np.array([[1.0, 2.0, 4.0, 7.0], [0.5, -1.0, 3.0, 2.0]])
    for correction, (value, grad) in enumerate([VAR_0, VAR_1, VAR_2]):
        a = Tensor(a_data, requires_grad=True)
        out = a.var(dim=1, correction=correction)
        close(out.data, value)
        (out * Tensor(np.array([1.0, -2.0]))).sum().backward()
        close(a.grad, grad)
    a = Tensor(a_data, requires_grad=True)
    a.std().backward()
    close(a.std().data, STD[0])
    close(a.grad, STD[1])
    close(Tensor(a_data).var(1, unbiased=False).data, VAR_0[0])


# --------------------------------------------------------------------------------------------------
# Powers
def test_pow_corner_cases() -> None:
    """Before: x ** 0 had a NaN gradient at 0; tensor exponents and 2.0 ** x were missing."""
    x = Tensor(np.array([0.0, 1.5, -2.0]), requires_grad=True)
    (x**0).sum().backward()
    close(x.grad, POW0)
    x.grad = None
    out = 2.0**x
    close(out.data, RPOW[0])
    out.sum().backward()
    close(x.grad, RPOW[1])
    base = Tensor(np.array([0.0, 0.0, 2.0, 0.0, 3.0]), requires_grad=True)
    exponent = Tensor(np.array([0.0, 2.0, 0.0, 0.5, -1.0]), requires_grad=True)
    out = base**exponent
    close(out.data, POW[0])
    out.sum().backward()
    close(base.grad, POW[1])
    close(exponent.grad, POW[2])


# --------------------------------------------------------------------------------------------------
# 0-d tensors and other corner cases
def test_zero_dim_tensors() -> None:
    """Before: Tensor(0.5).sigmoid() raised, a 0-d leaf did not accumulate, zero_grad(False) left
    a 0-d grad alone, and a broadcast 0-d tensor got a numpy scalar as its gradient."""
    s = Tensor(0.5).sigmoid()
    assert isinstance(s.data, Tensor) and s.data.shape == ()
    x = Tensor(2.0, requires_grad=True)
    (x * 3.0).backward()
    (x * 3.0).backward()
    assert isinstance(x.grad._data, np.ndarray) and x.grad == 6.0
    optimizer = optim.SGD([x], lr=0.1)
    optimizer.zero_grad(set_to_none=False)
    assert x.grad == 0.0
    x.grad = None
    (x * Tensor(np.ones((2, 3), np.float32))).sum().backward()
    assert isinstance(x.grad._data, np.ndarray) and x.grad.shape == () and x.grad == 6.0
    for op in (lambda t: t.exp(), lambda t: t.tanh(), lambda t: t.relu(), lambda t: -t, abs):
        assert isinstance(op(Tensor(0.5))._data, np.ndarray)


def test_a_second_backward_through_ops_that_saved_nothing_works() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_softmax_over_an_empty_batch() -> None:
    for shape, dim in [((0,), 0), ((0, 10), 0), ((0, 10), 1), ((3, 0), 1)]:
        x = Tensor(np.zeros(shape, np.float32), requires_grad=True)
        for out in (x.softmax(dim), x.log_softmax(dim), F.softmax(x, dim=dim)):
            assert out.shape == shape
            out.sum().backward()
        assert x.grad.shape == shape


def test_float16_mean_over_many_elements_and_sigmoid() -> None:
    x = Tensor(np.ones(70_000, np.float16), requires_grad=True)
    x.mean().backward()
    assert x.grad.dtype == np.float16 and np.all(x.grad > 0)
    np.testing.assert_allclose(x.grad.astype(np.float64), 1 / 70_000, rtol=1e-2)
    s = Tensor(np.array([-10.0, -11.0], np.float16)).sigmoid()  # 4.5e-5, 1.7e-5: subnormal halves
    assert np.all(s.data > 0)


# --------------------------------------------------------------------------------------------------
# The version counter
def test_backward_refuses_a_weight_changed_by_an_optimizer_step() -> None:
    w = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    x = Tensor(np.ones((3, 2), np.float32))
    loss = (x @ w).sum()
    first = (w * w).sum()
    loss.backward()
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*Mul"):
        first.backward()


@pytest.mark.parametrize(
    "change",
    [
        lambda t: setattr(t, "data", np.zeros(2, np.float32)),
        lambda t: t.add_(1.0),
        lambda t: t.mul_(2.0),
        lambda t: t.zero_(),
        lambda t: t.copy_(np.ones(2, np.float32)),
    ],
    ids=["data", "add_", "mul_", "zero_", "copy_"],
)
def test_in_place_changes_make_backward_raise(change) -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with no_grad():
        change(w)
    with pytest.raises(RuntimeError, match="inplace operation: input 0 of Mul"):
        y.backward()
    assert w.grad is None  # checked before any gradient is written


def test_only_changes_made_after_an_op_ran_count() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        w.mul_(3.0)  # before the op ran: the op saw the new values
    y = (w * w).sum()
    Tensor([0.0, 0.0]).add_(1.0)  # another tensor changed since: it is not an input
    y.backward(retain_graph=True)
    assert w.grad.tolist() == [6.0, 12.0]  # torch
    with no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="inplace operation: input 0 of Mul"):
        y.backward()


def test_earlier_uses_of_a_tensor_changed_twice_in_place_get_their_gradients() -> None:
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * 2
    a = h + 1  # uses h as it was before both in-place ops
    h.mul_(3)
    b = h * 1  # uses h between them
    h.relu_()
    (a.sum() + b.sum() + h.sum()).backward()
    assert x.grad.tolist() == [14.0, 8.0, 14.0]  # torch


def test_a_saved_output_changed_in_place_makes_backward_raise() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    y = h.sum()
    with no_grad():
        h.mul_(3)
    with pytest.raises(RuntimeError, match="output of Exp"):
        y.backward()


def test_ops_that_saved_nothing_do_not_care_and_in_place_needs_no_grad() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = (w + 1).sum()
    with no_grad():
        w -= 0.5  # in place, as torch: the same Tensor object
    y.backward()
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w += 1.0  # torch: "a leaf Variable that requires grad is being used in an in-place operation"
    v = w * 1
    v += 1.0  # a non-leaf: in place, recorded in the graph, as torch
    v.relu_()
    w.grad = None
    (v * v).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * (w.detach().numpy() + 1.0))


# --------------------------------------------------------------------------------------------------
# Losses
@pytest.mark.parametrize("key", list(CE))
def test_cross_entropy_options_match_torch(key) -> None:
    name, reduction = key
    options = {"weight": {"weight": W}, "ignore": {}, "smooth": {"label_smoothing": 0.2},
               "all": {"weight": W, "label_smoothing": 0.1}}[name]  # fmt: skip
    x = Tensor(X, requires_grad=True)
    loss = F.cross_entropy(x, Y, reduction=reduction, **options)
    close(loss.data, CE[key][0])
    weighting = 0.7 if reduction != "none" else np.array([0.3, -1.0, 2.0, 0.5])
    loss.backward(np.broadcast_to(weighting, loss.shape).copy())
    close(x.grad, CE[key][1])


def test_cross_entropy_with_probabilities_weight_and_smoothing() -> None:
    probs = np.array([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [1.0, 0.0, 0.0], [0.3, 0.3, 0.4]])
    x = Tensor(X, requires_grad=True)
    loss = F.cross_entropy(x, probs, weight=W, label_smoothing=0.1)
    close(loss.data, CE_PROB[0])
    loss.backward()
    close(x.grad, CE_PROB[1])


def test_cross_entropy_with_float_class_labels_says_to_pass_integers() -> None:
    with pytest.raises(TypeError, match=r"astype\(np.int64\)"):
        F.cross_entropy(Tensor(X), np.array([2.0, 0.0, 1.0, 1.0]))


def test_nll_loss() -> None:
    x = Tensor(X, requires_grad=True)
    loss = F.nll_loss(x.log_softmax(dim=1), Y, weight=W)
    close(loss.data, NLL[0])
    loss.backward()
    close(x.grad, NLL[1])


def test_binary_cross_entropies() -> None:
    p = Tensor(np.array([0.1, 0.9, 0.5, 0.0, 1.0, 0.3]), requires_grad=True)
    t = Tensor(np.array([0.0, 1.0, 0.3, 0.0, 1.0, 1.0]), requires_grad=True)
    loss = F.binary_cross_entropy(p, t, weight=np.array([1.0, 2.0, 0.5, 1.0, 1.0, 3.0]))
    close(loss.data, BCE[0])
    loss.backward()
    close(p.grad, BCE[1])
    close(t.grad, BCE[2])
    z = Tensor(np.array([[0.5, -30.0, 2.0], [0.0, 40.0, -0.7]]), requires_grad=True)
    t = Tensor(np.array([[1.0, 0.0, 0.25], [0.5, 1.0, 0.0]]), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(
        z, t, weight=[1.0, 2.0, 0.5], pos_weight=np.array([2.0, 0.5, 1.0]), reduction="sum"
    )
    close(loss.data, BCEL[0])
    loss.backward()
    close(z.grad, BCEL[1])
    close(t.grad, BCEL[2], atol=1e-9)
    with pytest.raises(ValueError, match="probabilities"):
        F.binary_cross_entropy(Tensor([1.5]), [1.0])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(approximate: str) -> None:
    expected = GELU_NONE if approximate == "none" else GELU_TANH
    v = Tensor(np.array([-8.0, -3.0, -1.0, -0.1, 0.0, 0.5, 2.0, 4.0]), requires_grad=True)
    out = nn.GELU(approximate)(v)
    close(out.data, expected[0], atol=1e-14)
    out.sum().backward()
    close(v.grad, expected[1], atol=1e-13)


def test_layer_norm_matches_torch() -> None:
    a = Tensor(np.array([[1.0, 2.0, 4.0, 7.0], [0.5, -1.0, 3.0, 2.0]]), requires_grad=True)
    layer = nn.LayerNorm(4).double()
    layer.weight.data = np.array([1.0, 0.5, -1.0, 2.0])
    layer.bias.data = np.array([0.1, 0.2, 0.3, 0.4])
    out = layer(a)
    close(out.data, LN[0])
    out.backward(np.array([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 0.0, 2.0]]))
    close(a.grad, LN[1])
    close(layer.weight.grad, LN[2])
    close(layer.bias.grad, LN[3])


def test_embedding_padding_row_gets_no_gradient() -> None:
    emb = nn.Embedding(4, 2, padding_idx=1).double()
    np.testing.assert_array_equal(emb.weight.data[1], [0.0, 0.0])
    out = emb(np.array([[1, 2], [2, 3]]))
    assert out.shape == (2, 2, 2)
    out.sum().backward()
    close(emb.weight.grad, EMB_GRAD)
    with pytest.raises(IndexError, match="out of range for 4 embeddings"):
        emb(np.array([4]))
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([1.0]))


# --------------------------------------------------------------------------------------------------
# Optimizers and nn.utils
def test_adam_and_adamw_amsgrad_match_torch() -> None:
    grads = [[1.0, -2.0, 0.5], [0.1, 0.1, -3.0], [-0.5, 0.0, 0.2], [2.0, 1.0, 1.0]]
    for make, expected in [
        (lambda p: optim.Adam([p], lr=0.1, amsgrad=True, weight_decay=0.01), AMSGRAD),
        (lambda p: optim.AdamW([p], lr=0.1, amsgrad=True), AMSGRAD_W),
    ]:  # fmt: skip
        p = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
        optimizer = make(p)
        for g in grads:
            p.grad = tinygrad_be.from_numpy(np.array(g))
            optimizer.step()
        close(p.data, expected)
        restored = make(Tensor(np.zeros(3), requires_grad=True))
        restored.load_state_dict(optimizer.state_dict())
        assert "max_exp_avg_sq" in restored.state[0]


def test_parameter_groups_and_a_schedule_match_torch() -> None:
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0]), requires_grad=True)
    optimizer = optim.SGD(
        [{"params": [a]}, {"params": [b], "lr": 0.01, "momentum": 0.0}], lr=0.1, momentum=0.9
    )
    scheduler = optim.StepLR(optimizer, step_size=1, gamma=0.5)
    for _ in range(3):
        a.grad, b.grad = tinygrad_be.tensor([1.0, -1.0], dtype=np.float64), tinygrad_be.tensor([2.0], dtype=np.float64)
        optimizer.step()
        scheduler.step()
    close(a.data, GROUPS[0])
    close(b.data, GROUPS[1])
    close(scheduler.get_last_lr(), GROUPS[2])
    assert [g["momentum"] for g in optimizer.param_groups] == [0.9, 0.0]
    with pytest.raises(AttributeError, match="groups differ"):
        optimizer.lr  # noqa: B018
    optimizer.lr = 0.5
    assert optimizer.lr == 0.5
    again = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.9)
    again.load_state_dict(optimizer.state_dict())
    assert [g["lr"] for g in again.param_groups] == [0.5, 0.5]
    with pytest.raises(ValueError, match="unknown options"):
        optim.SGD([{"params": [a], "betas": (0.9, 0.9)}], lr=0.1)


def test_an_optimizer_given_the_parameters_method_says_to_call_it() -> None:
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"call it: SGD\(model.parameters\(\)"):
        optim.SGD(model.parameters, lr=0.1)


def test_clip_grad_norm_matches_torch() -> None:
    for max_norm, norm_type, expected in [(1.0, 2.0, CLIP), (2.0, np.inf, CLIP_INF)]:
        q1 = Tensor(np.zeros(3), requires_grad=True)
        q2 = Tensor(np.zeros((2, 2)), requires_grad=True)
        q1.grad = tinygrad_be.tensor([3.0, 0.0, -4.0], dtype=np.float64)
        q2.grad = tinygrad_be.tensor([[1.0, 2.0], [0.0, -2.0]], dtype=np.float64)
        total = nn.utils.clip_grad_norm_([q1, q2], max_norm, norm_type=norm_type)
        close(total.data, expected[0])
        close(q1.grad, expected[1])
        close(q2.grad, expected[2])
    model = nn.Linear(3, 2)
    model(np.ones((4, 3), np.float32)).sum().backward()
    assert float(nn.utils.clip_grad_norm_(model.parameters(), 1e9)) > 0


# --------------------------------------------------------------------------------------------------
# Engine surfaces
def test_grad_fn_retain_grad_and_requires_grad_() -> None:
    x = Tensor([1.0, 2.0]).requires_grad_()
    assert x.requires_grad and x.grad_fn is None
    h = x * 3
    assert type(h.grad_fn).__name__ == "Mul"
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, [6.0, 12.0])
    np.testing.assert_array_equal(x.grad, [18.0, 36.0])


def test_grad_modes() -> None:
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        assert not (x * 2).requires_grad
        with tinygrad_be.enable_grad():
            assert (x * 2).requires_grad
    with tinygrad_be.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    tinygrad_be.set_grad_enabled(False)
    try:
        assert not tinygrad_be.is_grad_enabled()
    finally:
        tinygrad_be.set_grad_enabled(True)
    assert tinygrad_be.is_grad_enabled()


def test_no_grad_is_per_thread_and_keeps_the_function_identity() -> None:
    @no_grad()
    def predict(t: Tensor) -> Tensor:
        """Doc."""
        return t * 2

    assert predict.__name__ == "predict" and predict.__doc__ == "Doc."
    assert predict.__wrapped__.__name__ == "predict"
    seen = []
    inside, release = threading.Event(), threading.Event()

    def other_thread() -> None:
        inside.wait()
        seen.append(tinygrad_be.is_grad_enabled())
        release.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with no_grad():
        inside.set()
        release.wait(5)
    thread.join()
    assert seen == [True]


class Cube(Function):
    saves_output = False

    def forward(self, x: np.ndarray, scale: float = 1.0) -> np.ndarray:
        self.x, self.scale = x, scale
        return scale * x**3

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * 3 * self.scale * self.x**2


class WrongCount(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return grad, grad


class WrongShape(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray]:
        return (grad.T,)


def test_custom_function() -> None:
    x = Tensor(np.array([[1.0, -2.0, 0.5]]), requires_grad=True)
    assert gradcheck(lambda x: Cube.apply(x, scale=2.0), x)
    assert Cube.apply(np.array([2.0]), scale=1.0).tolist() == [8.0]  # numpy input
    assert Cube.apply(2.0).item() == 8.0  # a Python number
    with pytest.raises(RuntimeError, match=r"WrongCount.backward returned 2 gradients for 1 input"):
        WrongCount.apply(x).sum().backward()
    with pytest.raises(
        RuntimeError,
        match=r"WrongShape.backward returned a gradient of shape \(3, 1\) for input 0 of shape \(1, 3\)",
    ):
        WrongShape.apply(x).sum().backward()


def test_the_lab_functions_name_their_own_arguments_in_errors() -> None:
    from models.knn import evaluate_knn
    from models.mlp import init_weights, train_mlp

    w1, b1, w2, b2 = init_weights(4, 3, 2, seed=0)
    data = np.zeros((5, 4), np.float32)
    with pytest.raises(ValueError, match="labels_train must lie in"):
        train_mlp(w1, b1, w2, b2, data, np.full(5, 7), 0.1, 1)
    with pytest.raises(ValueError, match="data_train must be 2-D"):
        train_mlp(w1, b1, w2, b2, np.zeros(4, np.float32), np.zeros(5, np.int64), 0.1, 1)
    with pytest.raises(ValueError, match="labels_train"):
        evaluate_knn(data, np.zeros(3, np.int64), data, np.zeros(5, np.int64), k=1)
