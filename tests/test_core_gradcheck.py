"""numerical_grad, gradcheck and gradgradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_numerical_grad_central_differences():
    gx, gy = cr.numerical_grad(
        lambda x, y: (x * y**2).sum(), np.array([1.0, 2.0]), np.array([3.0, -1.0])
    )
    np.testing.assert_allclose(gx, [9.0, 1.0], rtol=1e-8)
    np.testing.assert_allclose(gy, [6.0, -4.0], rtol=1e-8)


def test_gradcheck_passes_on_correct_gradients_of_any_output_shape():
    rng = np.random.default_rng(0)
    assert cr.gradcheck(
        lambda a, b: (a @ b).tanh(), [rng.standard_normal((2, 3)), rng.standard_normal((3, 2))]
    )
    assert cr.gradcheck(lambda a: (a.sin(), a.exp().sum()), [rng.standard_normal(3)])


class WrongSquare(cr.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x  # should be 2 x g


def test_gradcheck_reports_input_index_values_and_error():
    x = np.array([1.0, 3.0])
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(lambda t: WrongSquare.apply(t).sum(), [x])
    msg = str(info.value)
    assert "input 0" in msg and "index (1,)" in msg
    assert "analytic 3" in msg and "numerical 6" in msg and "error 3" in msg
    assert cr.gradcheck(lambda t: WrongSquare.apply(t).sum(), [x], raise_exception=False) is False


class FirstOrderOnlySquare(cr.Function):
    """Correct first derivative, but its backward leaves chainrule (it computes with the
    saved value's NumPy array), so the dependence of the gradient on x is lost:
    gradgradcheck must notice."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        x = x.numpy() if isinstance(x, cr.Tensor) else x
        return 2 * x * g


def test_gradgradcheck():
    x = [np.array([0.5, -1.2])]
    assert cr.gradcheck(lambda t: FirstOrderOnlySquare.apply(t).sum(), x)
    assert cr.gradgradcheck(lambda t: (t.tanh() * t).sum(), x)
    with pytest.raises(cr.GradcheckError):
        cr.gradgradcheck(lambda t: FirstOrderOnlySquare.apply(t).sum(), x)


def test_gradcheck_converts_inputs_to_float64():
    seen = []

    def f(t):
        seen.append(t.dtype)
        return (t * t).sum()

    assert cr.gradcheck(f, [np.array([1.0, 2.0], dtype=np.float32)])
    assert set(seen) == {np.dtype(np.float64)}
