"""tinygrad_be.optim: update rules against the formulas written out here, state, schedules.

The expected values are computed in plain numpy from torch.optim's documented update rules, step by
step, on float64 copies: a different order of operations would pass, a different rule would not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_be
from tinygrad_be import Tensor, optim


def make_params(rng: np.random.Generator, dtype=np.float64) -> list[Tensor]:
    return [
        Tensor(rng.normal(size=(4, 3)).astype(dtype), requires_grad=True),
        Tensor(rng.normal(size=(3,)).astype(dtype), requires_grad=True),
    ]


def make_grads(rng: np.random.Generator, steps: int) -> list[list[np.ndarray]]:
    """Gradients for each step and each parameter (shapes of `make_params`)."""
    return [[rng.normal(size=(4, 3)), rng.normal(size=(3,))] for _ in range(steps)]


def run(optimizer: optim.Optimizer, params: list[Tensor], grads: list[list[np.ndarray]]) -> None:
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = tinygrad_be.from_numpy(g.astype(p.dtype))
        optimizer.step()


# --------------------------------------------------------------------------------------------------
# SGD
SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.05, weight_decay=0.01),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, dampening=0.5),
    dict(lr=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.03, momentum=0.8, weight_decay=0.1, nesterov=True),
]


@pytest.mark.parametrize(
    "config", SGD_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items())
)
def test_sgd_matches_the_torch_update_written_out(config, rng):
    params = make_params(rng)
    start = [p.detach().numpy().copy() for p in params]
    grads = make_grads(rng, steps=3)
    run(optim.SGD(params, **config), params, grads)

    lr = config["lr"]
    momentum = config.get("momentum", 0.0)
    dampening = config.get("dampening", 0.0)
    weight_decay = config.get("weight_decay", 0.0)
    nesterov = config.get("nesterov", False)
    for i, p in enumerate(params):
        w, buf = start[i].copy(), None
        for step_grads in grads:
            g = step_grads[i] + weight_decay * w
            if momentum:
                buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
                g = g + momentum * buf if nesterov else buf
            w = w - lr * g
        np.testing.assert_allclose(p.data, w, rtol=1e-13, atol=1e-15)


def test_one_plain_sgd_step_by_hand():
    p = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    p.grad = tinygrad_be.from_numpy(np.array([0.5, 0.25]))
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.05, -2.0 - 0.025], rtol=1e-15)


# --------------------------------------------------------------------------------------------------
# Adam / AdamW
ADAM_CASES = [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
]


@pytest.mark.parametrize(
    "config", ADAM_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "defaults"
)
@pytest.mark.parametrize("decoupled", [False, True], ids=["Adam", "AdamW"])
def test_adam_matches_the_torch_update_written_out(config, decoupled, rng):
    params = make_params(rng)
    start = [p.detach().numpy().copy() for p in params]
    grads = make_grads(rng, steps=4)
    if decoupled:
        config = {"weight_decay": 0.01, **config}  # AdamW's default decay, unless the case sets one
    optimizer = (optim.AdamW if decoupled else optim.Adam)(params, **config)
    run(optimizer, params, grads)

    lr = config.get("lr", 1e-3)
    beta1, beta2 = config.get("betas", (0.9, 0.999))
    eps = config.get("eps", 1e-8)
    weight_decay = config.get("weight_decay", 0.0)
    for i, p in enumerate(params):
        w = start[i].copy()
        m = np.zeros_like(w)
        v = np.zeros_like(w)
        for t, step_grads in enumerate(grads, start=1):
            g = step_grads[i]
            if decoupled:
                w = w * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * w
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            m_hat = m / (1 - beta1**t)
            v_hat = v / (1 - beta2**t)
            w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(p.data, w, rtol=1e-12, atol=1e-14)
        assert optimizer.state[i]["step"] == len(grads)


def test_first_adam_step_moves_each_weight_by_about_lr():
    """At t = 1 bias correction makes m_hat = g and v_hat = g*g, so each step is lr * sign(g)."""
    p = Tensor(np.array([1.0, 1.0, 1.0]), requires_grad=True)
    p.grad = tinygrad_be.from_numpy(np.array([3.0, -1e-3, 20.0]))
    optim.Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.9, 1.1, 0.9], rtol=1e-6)


def test_defaults_match_torch():
    p = [Tensor(np.zeros(2), requires_grad=True)]
    adam, adamw, sgd = optim.Adam(p), optim.AdamW(p), optim.SGD(p, lr=0.1)
    assert (adam.lr, adam.betas, adam.eps, adam.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    assert adamw.weight_decay == 1e-2
    assert (sgd.momentum, sgd.dampening, sgd.weight_decay, sgd.nesterov) == (0.0, 0.0, 0.0, False)


# --------------------------------------------------------------------------------------------------
# dtype, skipping, zero_grad, argument checks
@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1),
        lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1),
        lambda p: optim.AdamW(p, lr=0.01),
    ],
    ids=["sgd-nesterov-wd", "sgd-dampening", "adam-wd", "adamw"],
)
def test_float32_stays_float32_and_agrees_with_float64(make, rng):
    params32 = make_params(rng, np.float32)
    params64 = [Tensor(p.data.astype(np.float64), requires_grad=True) for p in params32]
    grads = [[g.astype(np.float32) for g in step] for step in make_grads(rng, steps=3)]
    opt32, opt64 = make(params32), make(params64)
    arrays_before = [p.detach().numpy() for p in params32]
    run(opt32, params32, grads)
    run(opt64, params64, grads)
    for p32, p64, array in zip(params32, params64, arrays_before, strict=True):
        assert p32.dtype == np.float32
        assert p32.detach().numpy() is array  # updated in place, not replaced
        np.testing.assert_allclose(p32.data, p64.data, rtol=1e-5, atol=1e-6)
    for state in opt32.state.values():
        for value in state.values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32


def test_parameters_without_gradient_are_skipped(rng):
    params = make_params(rng)
    frozen = params[1].detach().clone()
    optimizer = optim.Adam(params, lr=0.1)
    params[0].grad = tinygrad_be.ones(4, 3, dtype=params[0].dtype)
    optimizer.step()
    np.testing.assert_array_equal(params[1].data, frozen)
    assert 1 not in optimizer.state  # and its step count has not started


def test_zero_grad(rng):
    params = make_params(rng)
    optimizer = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = tinygrad_be.ones(p.shape, dtype=p.dtype)
    optimizer.zero_grad(set_to_none=False)
    assert all(not p.grad.any() for p in params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


def test_bad_arguments_are_refused(rng):
    params = make_params(rng)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.SGD(params, lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(params, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([params[0], params[0]], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([params[0] * 2], lr=0.1)
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([np.zeros(3)], lr=0.1)


# --------------------------------------------------------------------------------------------------
# Optimizer state: resuming gives the same trajectory
@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.9), weight_decay=0.01),
        lambda p: optim.AdamW(p, lr=0.01),
    ],
    ids=["sgd", "adam", "adamw"],
)
def test_state_dict_through_a_file_resumes_exactly(make, rng, tmp_path):
    params = make_params(rng, np.float32)
    grads = make_grads(rng, steps=5)
    optimizer = make(params)
    run(optimizer, params, grads[:3])
    path = tmp_path / "checkpoint.npz"
    tinygrad_be.save({"params": {str(i): p for i, p in enumerate(params)},
                      "optimizer": optimizer.state_dict()}, path)  # fmt: skip
    run(optimizer, params, grads[3:])  # the uninterrupted run

    checkpoint = tinygrad_be.load(path)
    resumed = [Tensor(checkpoint["params"][str(i)], requires_grad=True) for i in range(2)]
    fresh = make(resumed)
    fresh.lr = 123.0  # replaced by the saved value, as torch does
    fresh.load_state_dict(checkpoint["optimizer"])
    assert fresh.lr == optimizer.lr
    run(fresh, resumed, grads[3:])
    for a, b in zip(params, resumed, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_loaded_state_takes_each_parameters_dtype(rng):
    """As torch does: state saved from a float64 run, loaded for float32 parameters, is float32."""
    params64 = make_params(rng)
    optimizer64 = optim.Adam(params64)
    run(optimizer64, params64, make_grads(rng, 2))
    params32 = [Tensor(p.data.astype(np.float32), requires_grad=True) for p in params64]
    optimizer32 = optim.Adam(params32)
    optimizer32.load_state_dict(optimizer64.state_dict())
    for i in range(len(params32)):
        for name in ("exp_avg", "exp_avg_sq"):
            assert optimizer32.state[i][name].dtype == np.float32
            np.testing.assert_allclose(
                optimizer32.state[i][name], optimizer64.state[i][name], rtol=1e-6
            )
        assert optimizer32.state[i]["step"] == 2
    run(optimizer32, params32, make_grads(rng, 1))
    assert all(p.dtype == np.float32 for p in params32)


def test_bad_optimizer_state_is_refused_and_changes_nothing(rng):
    params = make_params(rng)
    optimizer = optim.SGD(params, lr=0.1, momentum=0.9)
    run(optimizer, params, make_grads(rng, 1))
    state = optimizer.state_dict()
    state["param_groups"]["0"]["lr"] = 0.5
    state["state"]["1"]["momentum_buffer"] = np.zeros(7)
    buffer_before = optimizer.state[1]["momentum_buffer"].copy()
    with pytest.raises(ValueError, match=r"parameter 1: 'momentum_buffer' has shape \(7,\)"):
        optimizer.load_state_dict(state)
    assert optimizer.lr == 0.1
    np.testing.assert_array_equal(optimizer.state[1]["momentum_buffer"], buffer_before)

    with pytest.raises(ValueError, match="for 2 parameters, this optimizer has 1"):
        optim.SGD(params[:1], lr=0.1, momentum=0.9).load_state_dict(optimizer.state_dict())
    with pytest.raises(ValueError, match="missing hyperparameter 'betas'"):
        optim.Adam(params).load_state_dict(optimizer.state_dict())


# --------------------------------------------------------------------------------------------------
# Learning-rate schedules
def lrs(scheduler: optim.LRScheduler, steps: int) -> list[float]:
    """The lr at t = 0 (set on creation) and after each of `steps` calls to step()."""
    values = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        scheduler.step()
        values.append(scheduler.get_last_lr()[0])
        assert scheduler.optimizer.lr == values[-1]
    return values


def optimizer_with_lr(lr: float) -> optim.SGD:
    return optim.SGD([Tensor(np.zeros(1), requires_grad=True)], lr=lr)


def test_step_lr():
    values = lrs(optim.StepLR(optimizer_with_lr(1.0), step_size=3, gamma=0.5), 8)
    np.testing.assert_allclose(values, [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25])


def test_cosine_annealing_lr():
    values = lrs(optim.CosineAnnealingLR(optimizer_with_lr(0.1), T_max=10, eta_min=0.01), 10)
    expected = [0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    assert values[0] == 0.1 and abs(values[10] - 0.01) < 1e-15


def test_warmup_cosine_lr():
    values = lrs(optim.WarmupCosineLR(optimizer_with_lr(0.4), 3, 11, min_lr=0.04), 14)
    np.testing.assert_allclose(values[:4], [0.1, 0.2, 0.3, 0.4])  # base * (t+1) / (warmup+1)
    cosine = [0.04 + 0.36 * (1 + math.cos(math.pi * (t - 3) / 8)) / 2 for t in range(3, 12)]
    np.testing.assert_allclose(values[3:12], cosine, rtol=1e-12)
    np.testing.assert_allclose(values[11:], 0.04)  # constant after total_steps
    assert all(a < b for a, b in zip(values[:3], values[1:4], strict=True))
    assert all(a >= b for a, b in zip(values[3:], values[4:], strict=False))
    with pytest.raises(ValueError, match="warmup_steps < total_steps"):
        optim.WarmupCosineLR(optimizer_with_lr(0.1), 5, 5)


def test_lambda_lr():
    values = lrs(optim.LambdaLR(optimizer_with_lr(2.0), lambda t: 1 / (t + 1)), 3)
    np.testing.assert_allclose(values, [2.0, 1.0, 2 / 3, 0.5])


def test_scheduler_state_dict_resumes_the_same_curve(tmp_path):
    first = optim.WarmupCosineLR(optimizer_with_lr(0.4), 3, 20, min_lr=0.01)
    lrs(first, 6)
    tinygrad_be.save({"scheduler": first.state_dict()}, tmp_path / "s.npz")
    later = lrs(first, 5)

    # A resumed run builds its scheduler with the optimizer's current lr, then loads the state.
    optimizer = optimizer_with_lr(0.123)
    resumed = optim.WarmupCosineLR(optimizer, 1, 2)
    resumed.load_state_dict(tinygrad_be.load(tmp_path / "s.npz")["scheduler"])
    assert (resumed.warmup_steps, resumed.total_steps, resumed.min_lr) == (3, 20, 0.01)
    assert optimizer.lr == later[0]
    assert lrs(resumed, 5) == later


def test_an_adam_checkpoint_from_before_amsgrad_still_loads():
    p = Tensor(np.ones(2), requires_grad=True)
    old_format = {"hyperparameters": {"lr": 0.01, "betas": np.array([0.9, 0.999]), "eps": 1e-8,
                                      "weight_decay": 0.0}, "num_params": 1, "state": {}}  # fmt: skip
    optimizer = optim.Adam([p])
    optimizer.load_state_dict(old_format)
    assert optimizer.lr == 0.01 and optimizer.amsgrad is False


# --------------------------------------------------------------------------------------------------
# RMSprop and Adagrad against torch: four steps from the same start with the same gradients
W0 = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]
B0 = [0.1, -0.2]
TORCH_GRADS = [
    ([[0.3, -0.2, 0.1], [0.05, 0.4, -0.6]], [0.2, -0.1]),
    ([[-0.1, 0.5, 0.2], [0.3, -0.3, 0.0]], [0.0, 0.3]),
    ([[0.7, 0.1, -0.4], [-0.2, 0.2, 0.9]], [-0.5, 0.1]),
    ([[0.0, -0.6, 0.3], [0.1, 0.1, -0.1]], [0.4, -0.4]),
]
# (options, (weight, bias) after the four steps): torch 2.13, float64
RMSPROP_TORCH = [
    ({}, ([[0.3404874490844615, -0.9370625237680916, 1.842859985628799], [1.329785962651971, 0.1543171453937464, -0.7241810128064228]], [0.03310106053067803, -0.1479249088104735])),
    ({'lr': 0.05, 'alpha': 0.9, 'eps': 1e-06}, ([[0.24794694243213675, -0.8978855804132211, 1.748359663622261], [1.2303746256142527, 0.09419661602214556, -0.7116681115081614]], [-0.007620072052243521, -0.11617558098438932])),
    ({'lr': 0.02, 'weight_decay': 0.1}, ([[0.1552898370321684, -0.8031175793030624, 1.5979737886046153], [1.0729322170767772, 0.04818935615598966, -0.6593829682345257]], [-0.02514214702344114, -0.07715339665850007])),
    ({'lr': 0.01, 'momentum': 0.9}, ([[0.06875669437548725, -0.868564428980982, 1.524530774399274], [0.9668183206830442, -0.020315939125595026, -0.5553958930812434]], [-0.12712101139024684, -0.09360371242264356])),
    ({'lr': 0.01, 'centered': True}, ([[0.3394179625723521, -0.9367309742332762, 1.8415298496885435], [1.3286117167225482, 0.15371882129770315, -0.7237104306851297]], [0.03273958633310047, -0.14772317264411253])),
    ({'lr': 0.03, 'momentum': 0.5, 'centered': True, 'weight_decay': 0.05, 'alpha': 0.8}, ([[0.28040960910498897, -0.920606538074232, 1.7555574749747163], [1.2306061513241957, 0.11866516816830466, -0.6801966570344024]], [0.015521322003939325, -0.15295542258278694])),
]  # fmt: skip
ADAGRAD_TORCH = [
    ({}, ([[0.4840490538950305, -0.9937250193122948, 1.9843072181374841], [1.4829814186279318, 0.24046035138043137, -0.7473999283264623]], [0.09332191897301792, -0.19480394284466016])),
    ({'lr': 0.1, 'lr_decay': 0.5}, ([[0.3755157322570998, -0.9414851975562057, 1.8621061964681402], [1.351116259227956, 0.16412749877067417, -0.6879202162584583]], [0.02257244282920006, -0.1475291061568562])),
    ({'lr': 0.05, 'weight_decay': 0.2}, ([[0.4020701368577794, -0.9293479338681105, 1.8799125831795], [1.3769965066134258, 0.19179749451623956, -0.715065376924372]], [0.06262183357326226, -0.163348591923608])),
    ({'lr': 0.1, 'initial_accumulator_value': 0.3, 'eps': 0.001}, ([[0.39370349852633607, -0.9824873177221257, 1.9655755300027682], [1.458471596756721, 0.19261033850636838, -0.7421922794430627]], [0.08463407599110265, -0.19211276563528162])),
]  # fmt: skip


def _run_torch_case(make, dtype=np.float64) -> list[Tensor]:
    params = [Tensor(np.array(W0, dtype), requires_grad=True),
              Tensor(np.array(B0, dtype), requires_grad=True)]  # fmt: skip
    optimizer = make(params)
    for grads in TORCH_GRADS:
        for p, g in zip(params, grads, strict=True):
            p.grad = Tensor(np.array(g, dtype))
        optimizer.step()
    return params


@pytest.mark.parametrize("config, expected", RMSPROP_TORCH, ids=lambda c: str(c))
def test_rmsprop_matches_torch(config, expected):
    params = _run_torch_case(lambda p: optim.RMSprop(p, **config))
    for p, want in zip(params, expected, strict=True):
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("config, expected", ADAGRAD_TORCH, ids=lambda c: str(c))
def test_adagrad_matches_torch(config, expected):
    params = _run_torch_case(lambda p: optim.Adagrad(p, **config))
    for p, want in zip(params, expected, strict=True):
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-12, atol=1e-15)


def test_rmsprop_and_adagrad_defaults_state_and_float32():
    params = [Tensor(np.zeros(2), requires_grad=True)]
    rms = optim.RMSprop(params)
    assert (rms.lr, rms.alpha, rms.eps, rms.weight_decay, rms.momentum, rms.centered) == (
        0.01, 0.99, 1e-8, 0.0, 0.0, False)  # fmt: skip
    ada = optim.Adagrad(params)
    assert (ada.lr, ada.lr_decay, ada.weight_decay, ada.initial_accumulator_value, ada.eps) == (
        0.01, 0.0, 0.0, 0.0, 1e-10)  # fmt: skip
    for make in (lambda p: optim.RMSprop(p, momentum=0.9, centered=True),
                 lambda p: optim.Adagrad(p, lr=0.1)):  # fmt: skip
        p32 = _run_torch_case(make, np.float32)
        p64 = _run_torch_case(make)
        for a, b in zip(p32, p64, strict=True):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        optim.RMSprop(params, alpha=-0.1)
    with pytest.raises(ValueError, match="lr_decay must be >= 0"):
        optim.Adagrad(params, lr_decay=-1)


@pytest.mark.parametrize(
    "make",
    [lambda p: optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True),
     lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.1)],
    ids=["RMSprop", "Adagrad"],
)  # fmt: skip
def test_rmsprop_and_adagrad_resume_from_a_checkpoint(make, tmp_path):
    params = _run_torch_case(make)
    optimizer = make(params)
    for p, g in zip(params, TORCH_GRADS[0], strict=True):
        p.grad = Tensor(np.array(g))
    optimizer.step()
    tinygrad_be.save({"optimizer": optimizer.state_dict()}, tmp_path / "o.npz")
    copies = [Tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    resumed = make(copies)
    resumed.load_state_dict(tinygrad_be.load(tmp_path / "o.npz")["optimizer"])
    for opt, ps in ((optimizer, params), (resumed, copies)):
        for p, g in zip(ps, TORCH_GRADS[1], strict=True):
            p.grad = Tensor(np.array(g))
        opt.step()
    for a, b in zip(params, copies, strict=True):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
