"""The arrays a jitted backward computes gradients into are reused from step to step
(jitting._GradBuffers), but only once nothing else refers to them: a gradient anybody
still holds is never written into."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import jitting

F = cr.nn.functional
pytestmark = pytest.mark.skipif(not jitting._REFCOUNTS, reason="reuse needs CPython's refcounts")

rng = np.random.default_rng(0)
X1 = rng.standard_normal((6, 4))
X2 = rng.standard_normal((6, 4))
Y = np.array([0, 1, 2, 0, 1, 2])


def _model():
    return cr.nn.Sequential(
        cr.nn.Linear(4, 5, seed=1, dtype=np.float64),
        cr.nn.Tanh(),
        cr.nn.Linear(5, 3, seed=2, dtype=np.float64),
    )


def _eager_grads(X, y=Y):
    m = _model()
    F.cross_entropy(m(X), y).backward()
    return [p.grad.numpy().copy() for p in m.parameters()]


def test_after_zero_grad_the_next_backward_writes_into_the_same_arrays():
    m = _model()
    f = cr.jit(m)
    seen = []
    for X in (X1, X2, X1):
        m.zero_grad()
        F.cross_entropy(f(X), Y).backward()
        seen.append([id(p.grad._data) for p in m.parameters()])
        for p, want in zip(m.parameters(), _eager_grads(X)):
            np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-12)
    assert seen[1] == seen[2]


@pytest.mark.parametrize("hold", ["tensor", "array", "view"])
def test_a_gradient_still_held_is_not_written_into(hold):
    m = _model()
    f = cr.jit(m)
    F.cross_entropy(f(X1), Y).backward()
    w = m[0].weight
    kept = {"tensor": w.grad, "array": w.grad.numpy(), "view": w.grad.numpy()[1:]}[hold]
    before = np.array(kept.numpy() if hold == "tensor" else kept, copy=True)
    m.zero_grad()
    F.cross_entropy(f(X2), Y).backward()
    now = kept.numpy() if hold == "tensor" else kept
    np.testing.assert_array_equal(now, before)
    np.testing.assert_allclose(w.grad.numpy(), _eager_grads(X2)[0], rtol=1e-12)


def test_gradients_accumulate_without_zero_grad():
    m = _model()
    f = cr.jit(m)
    for X in (X1, X2, X1):
        F.cross_entropy(f(X), Y).backward()
    want = [a + b + c for a, b, c in zip(_eager_grads(X1), _eager_grads(X2), _eager_grads(X1))]
    for p, w in zip(m.parameters(), want):
        np.testing.assert_allclose(p.grad.numpy(), w, rtol=1e-12)


def test_two_calls_in_one_graph_and_a_second_backward():
    m = _model()
    f = cr.jit(m)
    loss = F.cross_entropy(f(X1), Y) + F.cross_entropy(f(X2), Y)
    loss.backward(retain_graph=True)
    loss.backward()
    want = [2 * (a + b) for a, b in zip(_eager_grads(X1), _eager_grads(X2))]
    for p, w in zip(m.parameters(), want):
        np.testing.assert_allclose(p.grad.numpy(), w, rtol=1e-12)


def test_gradients_returned_by_a_transform_are_kept():
    m = _model()
    f = cr.jit(m)
    W = m[0].weight
    dx = cr.grad(lambda x: (f(x) ** 2).sum())
    g1 = dx(cr.tensor(X1))  # computed by the jitted backward, held by the caller
    kept = g1.numpy().copy()
    g2 = dx(cr.tensor(X2))
    np.testing.assert_array_equal(g1.numpy(), kept)
    assert not np.allclose(g2.numpy(), kept)
    x = cr.tensor(X2, requires_grad=True)
    (m(x) ** 2).sum().backward()
    np.testing.assert_allclose(g2.numpy(), x.grad.numpy(), rtol=1e-12)
    # and the object API after it still fills .grad correctly
    m.zero_grad()
    F.cross_entropy(f(X2), Y).backward()
    np.testing.assert_allclose(W.grad.numpy(), _eager_grads(X2)[0], rtol=1e-12)


def test_a_model_trained_with_reused_gradients_equals_eager_training():
    a, b = _model(), _model()
    f = cr.jit(b)
    oa = cr.optim.SGD(a.parameters(), lr=0.2, momentum=0.9)
    ob = cr.optim.SGD(b.parameters(), lr=0.2, momentum=0.9)
    for step in range(6):
        X = X1 if step % 2 else X2
        for fwd, opt in ((a, oa), (f, ob)):
            opt.zero_grad()
            F.cross_entropy(fwd(X), Y).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=1e-11)


def test_the_pool_stays_one_backward_large():
    m = _model()
    f = cr.jit(m)
    held = []
    for _ in range(5):  # every step's gradients kept: each backward needs new arrays
        m.zero_grad()
        F.cross_entropy(f(X1), Y).backward()
        held.append([p.grad for p in m.parameters()])
    assert all(len(pool) == 1 for pool in f._buffers.pools.values())
    ids = {id(g._data) for grads in held for g in grads}
    assert len(ids) == 5 * 4  # all distinct: none was written into again
