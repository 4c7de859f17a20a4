"""The generated flat code reads like the lectures' hand-written code on their examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.tracing.codegen import literal
from chainrule.tracing.examples import EXAMPLES


def _lines(code: str) -> list[str]:
    return [ln.strip() for ln in code.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_neuron_code_is_the_lectures_flat_code():
    code = EXAMPLES["neuron"].trace().flat_code(prefix="grad_")
    lines = _lines(code)
    forward = ["s0 = w0 * x0", "s1 = w1 * x1", "s2 = s0 + s1", "s3 = s2 + w2"]
    backward = [
        "grad_L = 1.0",
        "grad_s3 = grad_L * (1 - L) * L",
        "grad_w2 = grad_s3",
        "grad_s2 = grad_s3",
        "grad_s0 = grad_s2",
        "grad_s1 = grad_s2",
        "grad_w1 = grad_s1 * x1",
        "grad_x1 = grad_s1 * w1",
        "grad_w0 = grad_s0 * x0",
        "grad_x0 = grad_s0 * w0",
    ]
    for line in forward + backward:
        assert line in lines, line
    # the backward pass is the forward pass reversed: s1's gradients before s0's
    assert lines.index("grad_w1 = grad_s1 * x1") < lines.index("grad_w0 = grad_s0 * x0")
    assert lines.index("grad_s3 = grad_L * (1 - L) * L") < lines.index("grad_s2 = grad_s3")


def test_staged_code_is_the_lectures_code_with_plus_equals_at_forks():
    g = EXAMPLES["staged"].trace()
    code = g.flat_code()
    comments = [ln.strip()[len("# backprop ") :] for ln in code.splitlines() if "# backprop" in ln]
    assert [c.split(" = ")[0] for c in comments] == [
        "f",
        "invden",
        "den",
        "xpysqr",
        "xpy",
        "sigx",
        "num",
        "sigy",
    ]  # exactly the lecture's order (8), (7), ..., (1)
    lines = _lines(code)
    for line in [
        "sigy = 1.0 / (1 + np.exp(-y))",
        "invden = 1.0 / den",
        "xpysqr = xpy**2",
        "dnum = df * invden",
        "dinvden = df * num",
        "dden = -dinvden / den**2",
        "dxpy = dxpysqr * (2 * xpy)",
        "dx = (1) * dxpy",
        "dx += dsigx * (1 - sigx) * sigx",
        "dx += dnum",
        "dsigy = dnum",
        "dy += dsigy * (1 - sigy) * sigy",
    ]:
        assert line in lines, line
    assert sum(" += " in ln for ln in lines) == 3  # x forks three ways, y two ways
    value, (dx, dy) = g.compile_flat()(3.0, -4.0)
    sigy, sigx = 1 / (1 + math.exp(4)), 1 / (1 + math.exp(-3))
    assert value == pytest.approx((3 + sigy) / (sigx + 1), rel=1e-12)
    assert float(dx) == pytest.approx(2.0595697955721652, rel=1e-12)
    assert float(dy) == pytest.approx(1.5922327514838093, rel=1e-12)


def test_backward_function_takes_the_cache_it_needs():
    g = EXAMPLES["circuit"].trace()
    code = g.backward_code()
    assert "def circuit_backward(z, q, df=1.0):" in code
    fn = g.compile_flat()
    assert fn.backward(-4.0, 3.0) == (-4.0, -4.0, 3.0)
    assert float(fn.forward(-2.0, 5.0, -4.0)) == -12.0


def test_forks_on_arrays_do_not_alias():
    """dx = dq then dx += ... must not change dq in place (arrays are mutable)."""

    def f(x):
        q = x + x
        return (q * x).sum()

    x = np.array([1.0, 2.0, 3.0])
    g = cr.trace(f, x)
    _, (dx,) = g.compile_flat()(x)
    np.testing.assert_allclose(dx, 4 * x)


def test_code_for_a_graph_that_uses_a_big_constant_and_grad_names_that_clash():
    big = np.arange(20.0)

    def f(x, dx):  # an input named dx: gradient names switch to grad_
        return (x * big + dx).sum()

    g = cr.trace(f, np.ones(20), np.ones(20))
    code = g.flat_code()
    assert "grad_x" in code and 'CONST["' in code
    value, (gx, gdx) = g.compile_flat()(np.ones(20), np.zeros(20))
    assert value == big.sum()
    np.testing.assert_allclose(gx, big)
    np.testing.assert_allclose(gdx, np.ones(20))


def test_literals_round_trip():
    for v in [2, -3, 0.1, -2.5, np.float32(1.5), np.array([1.0, -2.0]), True, np.inf]:
        text = literal(v)
        assert text is not None
        back = eval(text, {"np": np})  # generated text only, from our own values
        np.testing.assert_array_equal(np.asarray(back), np.asarray(v))
    assert literal(np.zeros(100)) is None


def test_custom_functions_are_drawn_but_not_written_as_code():
    class Cube(cr.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x**2 * g

    g = cr.trace(lambda x: Cube.apply(x) * 2.0, 2.0)
    assert float(g.value) == 16.0
    assert float(g.backward()["x"]) == 24.0
    assert g.memory_report()["total"] > 0
    with pytest.raises(NotImplementedError, match="Cube"):
        g.flat_code()
