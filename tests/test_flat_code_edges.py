"""The flat code of a traced graph (``graph.flat_code()``, ``compile_flat()``) where the
program is simplified before it is written, and where the function computes a gradient
itself: the code runs, and its value and gradients equal the engine's at new inputs."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

W = np.array([2.0, -1.0, 0.5])


def times_one(x):  # simplify drops the forward's x * 1.0
    return ((x * 1.0) * W).sum() + (x * x).sum()


def inner_grad(x):  # the gradient of an inner function, differentiated again
    g = cr.grad(lambda y: (y * y * x).sum())(x)
    return (g * W).sum() + (x * 7.0).sum()


def inner_grad_twice(x):
    g = cr.grad(lambda y: (cr.sin(y) * x).sum())(x)
    h = cr.grad(lambda y: (y * g * y).sum())(x)
    return (h * W).sum() + (g * g).sum()


def vander(x):
    return (cnp.vander(x, 3) * np.arange(9.0).reshape(3, 3)).sum()


@pytest.mark.parametrize("f", [times_one, inner_grad, inner_grad_twice, vander])
def test_flat_code_runs_and_equals_the_engine(f):
    x0 = np.array([0.3, -1.2, 2.0])
    graph = cr.trace(f, cr.tensor(x0, requires_grad=True))
    flat = graph.compile_flat()
    for x in (x0, np.array([-0.7, 0.4, 1.1])):
        t = cr.tensor(x, requires_grad=True)
        want = f(t)
        want.backward()
        value, (dx,) = flat(x)
        np.testing.assert_allclose(value, want.numpy(), rtol=1e-12)
        np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-12, atol=1e-14)
    source = graph.flat_code()
    backward = source.split("# backward pass")[1]
    forward = source.split("# backward pass")[0]
    assert "np.broadcast_to(d" not in forward  # no gradient is computed before its seed
    assert "dx += dx" not in [line.strip() for line in backward.splitlines()]


def test_an_inner_alias_has_a_gradient_of_its_own():
    graph = cr.trace(inner_grad, cr.tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True))
    source = graph.flat_code()
    assert "dx_1 = " in source and "dx += dx_1" in source
