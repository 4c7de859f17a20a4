"""engine._loss_over_leaves: the object API's backward, loss(cr.jit(model)(X)).backward(),
done without the walks' bookkeeping. It must give the walks' answers and keep everything
they check: versions, freed graphs, hooks, retained gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import engine

F = cr.nn.functional
rng = np.random.default_rng(1)
X = rng.standard_normal((7, 4))
Y = np.array([0, 1, 2, 0, 1, 2, 2])


def _model():
    return cr.nn.Sequential(
        cr.nn.Linear(4, 6, seed=3, dtype=np.float64),
        cr.nn.ReLU(),
        cr.nn.Linear(6, 3, seed=4, dtype=np.float64),
    )


def _eager(loss_of=lambda s: F.cross_entropy(s, Y)):
    m = _model()
    loss_of(m(X)).backward()
    return [p.grad.numpy().copy() for p in m.parameters()]


@pytest.fixture
def taken(monkeypatch):
    """Which backward calls took the direct path."""
    seen = []
    real = engine._loss_over_leaves

    def spy(*args):
        done = real(*args)
        seen.append(done)
        return done

    monkeypatch.setattr(engine, "_loss_over_leaves", spy)
    return seen


@pytest.mark.parametrize(
    "loss_of, direct",
    [
        (lambda s: F.cross_entropy(s, Y), True),
        (lambda s: F.cross_entropy(s, Y, reduction="sum"), True),
        (lambda s: s.sum(), True),
        (lambda s: s.tanh().sum(), False),  # two nodes over the jitted one: the walk
        (lambda s: (s**2).mean(), False),
    ],
)
def test_it_is_taken_where_it_applies_and_equals_eager(taken, loss_of, direct):
    m = _model()
    loss_of(cr.jit(m)(X)).backward()
    assert taken == [direct]
    for p, want in zip(m.parameters(), _eager(loss_of)):
        np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-12)


def test_an_adopted_input_written_into_raises_on_the_direct_path(taken):
    m = _model()
    x = np.array(X)
    cr.as_tensor(x)  # the caller holds this memory: the jitted node fingerprints it
    loss = F.cross_entropy(cr.jit(m)(x), Y)
    x[0, 0] += 1.0
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_a_second_backward_needs_retain_graph(taken):
    m = _model()
    loss = F.cross_entropy(cr.jit(m)(X), Y)
    loss.backward(retain_graph=True)
    loss.backward()
    for p, want in zip(m.parameters(), _eager()):
        np.testing.assert_allclose(p.grad.numpy(), 2 * want, rtol=1e-12)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    assert taken[:2] == [True, True]


def test_a_parameter_updated_before_backward_raises():
    m = _model()
    opt = cr.optim.SGD(m.parameters(), lr=0.1)
    loss = F.cross_entropy(cr.jit(m)(X), Y)
    loss.backward(retain_graph=True)
    opt.step()  # changes the weights the compiled backward reads
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_hooks_and_retained_gradients_take_the_walk(taken):
    m = _model()
    s = cr.jit(m)(X)
    s.retain_grad()
    s.register_hook(lambda g: g * 2.0)
    m[0].bias.register_hook(lambda g: g + 1.0)
    F.cross_entropy(s, Y).backward()
    assert taken == [False]
    eager = _eager()
    for k, (p, want) in enumerate(zip(m.parameters(), eager)):
        want = 2 * want + (1.0 if k == 1 else 0.0)
        np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-12)
    assert s.grad is not None


def test_a_hook_on_the_loss_takes_the_walk(taken):
    m = _model()
    loss = F.cross_entropy(cr.jit(m)(X), Y)
    s = loss * 1.0  # a root over the loss: not the two-node shape
    s.backward()
    assert taken == [False]
    for p, want in zip(m.parameters(), _eager()):
        np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-12)


def test_gradients_accumulate_into_existing_grads():
    m = _model()
    f = cr.jit(m)
    F.cross_entropy(f(X), Y).backward()
    F.cross_entropy(f(X), Y).backward()
    for p, want in zip(m.parameters(), _eager()):
        np.testing.assert_allclose(p.grad.numpy(), 2 * want, rtol=1e-12)


def test_a_frozen_parameter_gets_no_gradient(taken):
    m = _model()
    m[0].weight.requires_grad = False
    F.cross_entropy(cr.jit(m)(X), Y).backward()
    assert taken == [True]
    assert m[0].weight.grad is None
    np.testing.assert_allclose(m[2].weight.grad.numpy(), _eager()[2], rtol=1e-12)
