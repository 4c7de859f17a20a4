"""A recorded backward through a jitted node (``backward(create_graph=True)``, second
order) runs the program again: it must draw the Dropout masks the forward drew. It drew
new ones before, so even the first-order gradient of ``create_graph=True`` was wrong,
silently (a gradient penalty through a jitted model with Dropout)."""

from __future__ import annotations

import numpy as np

import chainrule as cr

nn = cr.nn


def _model(functional: bool):
    lin1, lin2 = nn.Linear(4, 8, seed=0), nn.Linear(8, 1, seed=1)
    if not functional:
        return nn.Sequential(lin1, nn.Tanh(), nn.Dropout(0.5, seed=3), lin2), None
    rng = np.random.default_rng(5)

    def f(x):
        return lin2(nn.functional.dropout(cr.tanh(lin1(x)), 0.5, seed=rng))

    return f, rng


def _first_and_second(f, x):
    x.grad = None
    f(x).sum().backward(create_graph=True)
    g = x.grad
    x.grad = None
    (g**2).sum().backward()
    return g.numpy(), x.grad.numpy()


def _generator(f, rng):
    return rng if rng is not None else f[2]._rng


def test_create_graph_and_second_order_draw_the_forwards_masks():
    for functional in (False, True):
        f, rng = _model(functional)
        gen = _generator(f, rng)
        x = cr.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
        jf = cr.jit(f)
        for _ in range(3):  # compiled at the first call, then the cached code
            start = gen.bit_generator.state
            g_jit, h_jit = _first_and_second(jf, x)
            after_jit = gen.bit_generator.state
            gen.bit_generator.state = start
            g_eager, h_eager = _first_and_second(f, x)
            assert np.allclose(g_jit, g_eager, rtol=1e-12, atol=1e-12)
            assert np.allclose(h_jit, h_eager, rtol=1e-12, atol=1e-12)
            # the generator is where the eager forward left it: the next step's mask is new
            assert gen.bit_generator.state == after_jit
        assert jf.cache_info().misses == 1


def test_first_order_backward_is_unchanged_and_masks_differ_between_steps():
    f, _ = _model(False)
    jf = cr.jit(f)
    x = cr.tensor(np.ones((2, 4)), requires_grad=True)
    grads = []
    for _ in range(2):
        x.grad = None
        jf(x).sum().backward()
        grads.append(x.grad.numpy())
    assert not np.allclose(grads[0], grads[1])  # a new mask at each call
