"""tinygrad_be.gradcheck: it accepts right gradients, catches wrong ones (naming where), refuses
float32, and leaves its inputs as they were."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad_be import Function, GradcheckError, Tensor, from_numpy, gradcheck


class SquareWrongAt(Function):
    """x * x whose backward is wrong by `error` (times the incoming gradient) at one element."""

    def forward(self, x: np.ndarray, element: tuple[int, ...], error: float) -> np.ndarray:
        self.x, self.element, self.error = x, element, error
        return x * x

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray]:
        grad_x = 2 * self.x * grad
        grad_x[self.element] += self.error * grad[self.element]
        return (grad_x,)


class CenterWithZeroGradient(Function):
    """x - mean(x), with a backward that returns zeros: wrong, but its plain sum is constant."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x - x.mean()

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray]:
        return (np.zeros_like(grad),)


def values_in(message: str) -> tuple[float, float]:
    """The analytic and numerical values a GradcheckError message reports."""
    number = r"(?:np\.float64\()?([-+\d.e]+|nan|inf)\)?"
    found = re.search(f"analytic {number} vs numerical {number}", message)
    assert found, message
    return float(found.group(1)), float(found.group(2))


def test_accepts_correct_gradients() -> None:
    rng = np.random.default_rng(0)
    a = Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    b = Tensor(rng.normal(size=(4,)), requires_grad=True)
    constant = Tensor(rng.normal(size=(3, 1)))  # does not require grad: not checked, still used
    assert gradcheck(lambda a, b, c: (a * b + c).tanh() @ b, a, b, constant) is True
    assert gradcheck(lambda a: a.softmax(), a, grad_output=rng.normal(size=(3, 4))) is True
    assert gradcheck(lambda a, scale: a.exp().sum() * scale, a, 3.0) is True  # plain numbers pass


def test_catches_a_wrong_gradient_and_names_input_element_and_values() -> None:
    rng = np.random.default_rng(1)
    data = rng.uniform(0.5, 2.0, size=(2, 3, 4))
    x = Tensor(data, requires_grad=True)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: SquareWrongAt.apply(x, element=(1, 2, 3), error=0.5), x)
    message = str(caught.value)
    assert "input 0 (shape (2, 3, 4)), element (1, 2, 3)" in message
    analytic, numerical = values_in(message)
    np.testing.assert_allclose(analytic, 2 * data[1, 2, 3] + 0.5, rtol=1e-12)
    np.testing.assert_allclose(numerical, 2 * data[1, 2, 3], rtol=1e-6)


def test_checks_every_input_that_requires_grad() -> None:
    a = Tensor(np.linspace(0.5, 1.5, 6).reshape(2, 3), requires_grad=True)
    b = Tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3), requires_grad=True)
    with pytest.raises(GradcheckError, match=re.escape("input 1 (shape (2, 3)), element (0, 1)")):
        gradcheck(lambda a, b: a * SquareWrongAt.apply(b, element=(0, 1), error=0.1), a, b)


def test_the_output_weighting_catches_what_a_plain_sum_hides() -> None:
    x = Tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    # The sum of x - mean(x) is always 0, so its true gradient is 0 and the wrong backward passes.
    assert gradcheck(CenterWithZeroGradient.apply, x)
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(CenterWithZeroGradient.apply, x, grad_output=np.array([1.0, -2.0, 0.5]))


def test_tolerances_are_respected() -> None:
    x = Tensor(np.array([1e-3, 1.0]), requires_grad=True)
    fn = lambda x: SquareWrongAt.apply(x, element=(0,), error=1e-4)  # noqa: E731
    with pytest.raises(GradcheckError, match=re.escape("element (0,)")):
        gradcheck(fn, x)  # |error| 1e-4 > atol 1e-5 + rtol 1e-3 * |2e-3|
    assert gradcheck(fn, x, atol=1e-3)


def test_non_finite_gradients_fail() -> None:
    # The step -1e-6 from 1e-7 leaves log's domain: a NaN finite difference is not a pass.
    with np.errstate(invalid="ignore"):
        with pytest.raises(GradcheckError, match=re.escape("element (0,)")):
            gradcheck(lambda x: x.log(), Tensor(np.array([1e-7, 1.0]), requires_grad=True))
    # An infinite analytic gradient (sqrt at 0) fails too.
    with np.errstate(invalid="ignore", divide="ignore"):
        with pytest.raises(GradcheckError, match=re.escape("element (1,)")):
            gradcheck(lambda x: x.sqrt(), Tensor(np.array([1.0, 0.0]), requires_grad=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_refuses_inputs_that_are_not_float64(dtype: type) -> None:
    ok = Tensor(np.ones(2), requires_grad=True)
    low = Tensor(np.ones(2, dtype=dtype), requires_grad=True)
    with pytest.raises(TypeError, match=f"input 1 is {np.dtype(dtype).name}.*float64"):
        gradcheck(lambda a, b: a * b, ok, low)


def test_refuses_nothing_to_check_and_a_misshapen_weighting() -> None:
    with pytest.raises(ValueError, match="no input is a Tensor with requires_grad=True"):
        gradcheck(lambda x: x * 2, Tensor(np.ones(2)))
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(
        ValueError, match=re.escape("grad_output shape (3, 2)") + ".*" + re.escape("(2, 3)")
    ):
        gradcheck(lambda x: x * 2, x, grad_output=np.ones((3, 2)))


def test_leaves_the_inputs_as_they_were() -> None:
    data = np.array([0.5, 1.5, -2.0])
    x = from_numpy(data).requires_grad_()
    previous_grad = from_numpy(np.array([7.0, 8.0, 9.0]))
    x.grad = previous_grad
    gradcheck(lambda x: (x * x).sum(), x)
    assert x.detach().numpy() is data and x.grad is previous_grad
    np.testing.assert_array_equal(data, [0.5, 1.5, -2.0])
    np.testing.assert_array_equal(previous_grad, [7.0, 8.0, 9.0])
    # ... also when it fails.
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: SquareWrongAt.apply(x, element=(2,), error=1.0), x)
    assert x.detach().numpy() is data and x.grad is previous_grad
    np.testing.assert_array_equal(data, [0.5, 1.5, -2.0])


def test_gradcheck_error_is_an_assertion_error() -> None:
    assert issubclass(GradcheckError, AssertionError)
