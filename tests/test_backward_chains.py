"""Backward through chains: graphs in which every node has at most one node input (the
walk follows them without the heap, each latest-made input in hand). The object API
(.backward()) and the functional transforms (cr.grad) must agree on them leaf for leaf,
with central differences, and keep the errors and hooks."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

UNARY = [cr.tanh, cr.exp, lambda t: t * 0.5, lambda t: t.sum(axis=0, keepdims=True), cr.relu]
BINARY = [lambda t, w: t * w, lambda t, w: t + w, lambda t, w: t @ w, lambda t, w: w - t]


def _random_chain(seed):
    """A chain: each step applies a unary op, or a binary op with a leaf (a new one, or
    one used before: its gradient adds up from two nodes)."""
    rng = np.random.default_rng(seed)
    n = 3
    x0 = rng.standard_normal((n, n))
    leaves = [rng.standard_normal((n, n)) for _ in range(3)]
    plan = []
    for _ in range(rng.integers(2, 9)):
        if rng.random() < 0.4:
            plan.append(("u", int(rng.integers(len(UNARY)))))
        else:
            plan.append(("b", int(rng.integers(len(BINARY))), int(rng.integers(len(leaves)))))
    return x0, leaves, plan


def _build(x0, leaves, plan):
    x = cr.tensor(x0, requires_grad=True)
    ws = [cr.tensor(w, requires_grad=True) for w in leaves]
    return _build_from([x, *ws], plan), x, ws


def _build_from(values, plan):
    x, ws = values[0], list(values[1:])
    h = x
    for step in plan:
        if step[0] == "u":
            h = UNARY[step[1]](h)
            if h.shape != (3, 3):
                h = h * cr.tensor(np.ones((3, 3)))  # back to (3, 3): a node and a constant
        else:
            h = BINARY[step[1]](h, ws[step[2]])
    return (h**2).sum()


@pytest.mark.parametrize("seed", range(40))
def test_backward_and_grad_agree_on_random_chains(seed):
    x0, leaves, plan = _random_chain(seed)
    loss, x, ws = _build(x0, leaves, plan)
    loss.backward()

    def f(*values):
        return _build_from(values, plan)

    grads = cr.grad(f, argnums=tuple(range(1 + len(leaves))))(x0, *leaves)
    for t, g in zip([x, *ws], grads):
        if t.grad is None:
            np.testing.assert_array_equal(g.numpy(), 0.0)
        else:
            np.testing.assert_allclose(t.grad.numpy(), g.numpy(), rtol=1e-13, atol=1e-15)


def test_a_chain_against_central_differences():
    x0, leaves, plan = _random_chain(3)

    def f(v):
        loss, _, _ = _build(v, leaves, plan)
        return loss.item()

    loss, x, _ = _build(x0, leaves, plan)
    loss.backward()
    eps = 1e-6
    num = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        e = np.zeros_like(x0)
        e[i] = eps
        num[i] = (f(x0 + e) - f(x0 - e)) / (2 * eps)
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-6, atol=1e-8)


def test_a_fork():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.tanh()
    loss = (y * y.exp()).sum()  # y feeds two nodes
    loss.backward()
    t = np.tanh([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), (1 + t) * np.exp(t) * (1 - t * t))


def test_a_chain_keeps_hooks_retained_grads_and_the_freed_graph_error():
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    h = x * 3.0
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 2.0)  # a leaf hook replaces the gradient
    loss = (h**2).sum()
    loss.backward()
    np.testing.assert_allclose(seen[0], 2 * 3.0 * np.array([1.0, -2.0]))
    np.testing.assert_allclose(h.grad.numpy(), seen[0])
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * 18.0 * np.array([1.0, -2.0]))
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_a_chain_raises_on_a_value_changed_in_place():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([3.0, 4.0])
    loss = (w * c).sum()
    with cr.no_grad():
        c.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_the_object_api_step_matches_eager():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    model = cr.nn.Sequential(cr.nn.Linear(4, 5, seed=1), cr.nn.ReLU(), cr.nn.Linear(5, 3, seed=2))
    loss = cr.nn.functional.cross_entropy(cr.jit(model)(X), y)
    loss.backward()
    jitted = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    cr.nn.functional.cross_entropy(model(X), y).backward()
    for a, p in zip(jitted, model.parameters()):
        np.testing.assert_allclose(a, p.grad.numpy(), rtol=1e-5, atol=1e-6)
