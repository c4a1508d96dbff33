"""tinygrad_be.optim.lr_scheduler against torch.optim.lr_scheduler: the lr (and for OneCycleLR the
momentum) after each step, from torch 2.13 (SGD lr=0.1, momentum=0.9 unless noted), pasted here.

The sequences start with the value at creation (t = 0) and add one per `scheduler.step()`.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_be
from tinygrad_be import Tensor, optim
from tinygrad_be.optim import lr_scheduler as L

# torch 2.13, e.g. [s.get_last_lr()[0]] + [(opt.step(), s.step(), s.get_last_lr()[0])[-1] ...]
STEP_LR = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125]
MULTISTEP_LR = [0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002,
                0.00010000000000000005, 0.00010000000000000005, 0.00010000000000000005,
                1.0000000000000006e-05, 1.0000000000000006e-05, 1.0000000000000006e-05]  # fmt: skip
COSINE_LR = [0.1, 0.08681980515339464, 0.05500000000000001, 0.023180194846605363, 0.01,
             0.023180194846605363, 0.05500000000000002, 0.08681980515339469, 0.10000000000000006,
             0.0868198051533947, 0.05500000000000005, 0.023180194846605412]  # fmt: skip
LAMBDA_LR = [0.1, 0.09100000000000001, 0.08300000000000002, 0.07590000000000002, 0.06961,
             0.06404900000000001, 0.05914410000000001]  # fmt: skip
EXPONENTIAL_LR = [0.1, 0.08000000000000002, 0.06400000000000002, 0.051200000000000016,
                  0.04096000000000002, 0.03276800000000001]  # fmt: skip
ONECYCLE_SGD = (
    [0.040000000000000036, 0.52, 1.0, 0.9504846320134737, 0.8117456539497631, 0.6112620219362893,
     0.38874197806371075, 0.18825834605023697, 0.049519367986526286, 4e-06],
    [0.95, 0.8999999999999999, 0.85, 0.854951556604879, 0.8688255099070633, 0.8888739533021842,
     0.9111260466978157, 0.9311744900929366, 0.945048443395121, 0.95],
)  # fmt: skip
ONECYCLE_ADAM_LINEAR = (
    [0.05, 0.35, 0.4667, 0.4001, 0.3335, 0.2669, 0.20030000000000003, 0.13370000000000004,
     0.06709999999999999, 0.0005000000000000004],
    [0.95, 0.8833333333333333, 0.8566666666666667, 0.87, 0.8833333333333333, 0.8966666666666666,
     0.9099999999999999, 0.9233333333333333, 0.9366666666666666, 0.95],
)  # fmt: skip
ONECYCLE_THREE_PHASE = (
    [0.008000000000000007, 0.0699579308439166, 0.17585703182442575, 0.18900377846270816,
     0.09242847869548892, 0.010789585527098997, 0.007630338648515958, 0.006244923786623384,
     0.004216933978778235, 0.0021269536005771184, 0.0005733140382001108, 8e-07],
    [0.9, 0.8677302443521268, 0.812574462591445, 0.8057271987173396, 0.8560268340127662,
     0.8985470908713026, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9],
)  # fmt: skip


def make_optimizer(kind: str = "sgd", lr: float = 0.1, groups: int = 1) -> optim.Optimizer:
    params = [{"params": [Tensor(np.zeros(2), requires_grad=True)]} for _ in range(groups)]
    if kind == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9)
    return optim.Adam(params, lr=lr)


def trace(scheduler: L.LRScheduler, steps: int) -> tuple[list[float], list[float]]:
    """The lr and the momentum (SGD's momentum or Adam's beta1) at creation and after each step."""
    group = scheduler.optimizer.param_groups[0]

    def momentum() -> float:
        return group["momentum"] if "momentum" in group else group["betas"][0]

    lrs, momenta = [scheduler.get_last_lr()[0]], [momentum()]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
        momenta.append(momentum())
    return lrs, momenta


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda o: L.StepLR(o, 3, gamma=0.5), STEP_LR),
        (lambda o: L.MultiStepLR(o, [2, 5, 5, 8], gamma=0.1), MULTISTEP_LR),  # 5 twice: twice
        (lambda o: L.CosineAnnealingLR(o, T_max=4, eta_min=0.01), COSINE_LR),  # rises after T_max
        (lambda o: L.LambdaLR(o, lambda t: 0.9**t + 0.01 * t), LAMBDA_LR),
        (lambda o: L.ExponentialLR(o, 0.8), EXPONENTIAL_LR),
    ],
    ids=["StepLR", "MultiStepLR", "CosineAnnealingLR", "LambdaLR", "ExponentialLR"],
)
def test_schedules_match_torch(make, expected):
    optimizer = make_optimizer()
    scheduler = make(optimizer)
    lrs, _ = trace(scheduler, len(expected) - 1)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert optimizer.param_groups[0]["lr"] == lrs[-1]


@pytest.mark.parametrize(
    "kind, make, expected",
    [
        ("sgd", lambda o: L.OneCycleLR(o, max_lr=1.0, total_steps=10), ONECYCLE_SGD),
        (
            "adam",
            lambda o: L.OneCycleLR(
                o,
                max_lr=0.5,
                epochs=2,
                steps_per_epoch=5,
                pct_start=0.25,
                anneal_strategy="linear",
                div_factor=10,
                final_div_factor=100,
            ),
            ONECYCLE_ADAM_LINEAR,
        ),  # fmt: skip
        (
            "sgd",
            lambda o: L.OneCycleLR(
                o, max_lr=0.2, total_steps=12, three_phase=True, base_momentum=0.8, max_momentum=0.9
            ),
            ONECYCLE_THREE_PHASE,
        ),  # fmt: skip
    ],
    ids=["cos-sgd", "linear-adam-beta1", "three-phase"],
)
def test_one_cycle_lr_and_momentum_match_torch(kind, make, expected):
    optimizer = make_optimizer(kind)
    lrs, momenta = trace(make(optimizer), len(expected[0]) - 1)
    np.testing.assert_allclose(lrs, expected[0], rtol=1e-12)
    np.testing.assert_allclose(momenta, expected[1], rtol=1e-12)
    if kind == "adam":
        assert optimizer.param_groups[0]["betas"][1] == 0.999  # only beta1 cycles


def test_one_cycle_refuses_a_step_past_the_end_and_takes_one_max_lr_per_group():
    scheduler = L.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=3)
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="step 4 times.*total steps is 3"):
        scheduler.step()
    groups = L.OneCycleLR(make_optimizer(groups=2), max_lr=[1.0, 0.1], total_steps=5)
    groups.step()
    # torch: [0.9504846320134737, 0.09504846320134738]
    np.testing.assert_allclose(groups.get_last_lr(), [0.9504846320134737, 0.09504846320134738])
    with pytest.raises(ValueError, match="total_steps OR"):
        L.OneCycleLR(make_optimizer(), max_lr=1.0)
    bare = optim.Adagrad([Tensor(np.zeros(1), requires_grad=True)])
    with pytest.raises(ValueError, match="momentum or beta1"):
        L.OneCycleLR(bare, max_lr=1.0, total_steps=4)
    L.OneCycleLR(bare, max_lr=1.0, total_steps=4, cycle_momentum=False)  # fine without momentum


def test_lambda_lr_takes_one_function_per_group():
    optimizer = make_optimizer(groups=2)
    scheduler = L.LambdaLR(optimizer, [lambda t: 1.0, lambda t: 0.5**t])
    scheduler.step()
    assert scheduler.get_last_lr() == [0.1, 0.05]
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        L.LambdaLR(optimizer, [lambda t: 1.0])


def test_scheduler_is_reachable_as_torch_spells_it():
    assert tinygrad_be.optim.lr_scheduler.OneCycleLR is L.OneCycleLR
    assert optim.MultiStepLR is L.MultiStepLR


@pytest.mark.parametrize(
    "make",
    [
        lambda o: L.MultiStepLR(o, [2, 4], gamma=0.5),
        lambda o: L.OneCycleLR(o, max_lr=1.0, total_steps=8, anneal_strategy="linear"),
    ],
    ids=["MultiStepLR", "OneCycleLR"],
)
def test_state_dict_through_a_file_resumes_the_same_curve(make, tmp_path):
    first = make(make_optimizer())
    for _ in range(3):
        first.step()
    tinygrad_be.save({"scheduler": first.state_dict()}, tmp_path / "s.npz")
    first.step()
    resumed_optimizer = make_optimizer()
    resumed = make(resumed_optimizer)
    resumed.load_state_dict(tinygrad_be.load(tmp_path / "s.npz")["scheduler"])
    resumed.step()
    assert resumed.get_last_lr() == first.get_last_lr()
    assert (
        resumed_optimizer.param_groups[0]["momentum"] == first.optimizer.param_groups[0]["momentum"]
    )
