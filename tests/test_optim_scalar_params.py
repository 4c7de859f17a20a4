"""Optimizers on 0-d parameters (a learnable scale, a temperature).

A 0-d tensor holds its value as a NumPy scalar, which cannot be changed in place: SGD's
update used to be lost silently (the parameter never moved) and Adam, Adagrad and RMSprop
raised. Each optimizer must move a 0-d parameter exactly as it moves the same value held
in a one-element vector, and as PyTorch moves it.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

CASES = [
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"momentum": 0.5, "dampening": 0.3}),
    ("Adam", {}),
    ("Adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {}),
    ("Adagrad", {"weight_decay": 0.1}),
    ("RMSprop", {}),
    ("RMSprop", {"centered": True, "momentum": 0.9}),
    ("RMSprop", {"centered": True}),
]


def _loss(params):
    # a cubic: the gradient changes from step to step, so every state term matters
    return sum((w * w * w).sum() + (w * 0.5).sum() for w in params)


def _run(name, kw, values, steps=5):
    params = [cr.tensor(v, requires_grad=True) for v in values]
    opt = getattr(cr.optim, name)(params, lr=0.1, **kw)
    for _ in range(steps):
        opt.zero_grad()
        _loss(params).backward()
        opt.step()
    return params, opt


@pytest.mark.parametrize("name,kw", CASES)
def test_a_0d_parameter_moves_as_a_one_element_vector(name, kw):
    start = [np.float64(0.7), np.array([[0.3, -1.2]])]
    scalar, opt = _run(name, kw, [np.array(start[0]), start[1]])
    vector, _ = _run(name, kw, [np.array([start[0]]), start[1]])
    assert scalar[0].shape == ()
    assert scalar[0].item() != 0.7  # it moved
    np.testing.assert_allclose(scalar[0].item(), vector[0].item(), rtol=1e-13)
    np.testing.assert_allclose(scalar[1].numpy(), vector[1].numpy(), rtol=1e-13)
    # and it still computes and differentiates as a 0-d tensor
    w = scalar[0]
    g = cr.grad(lambda t: t * t)(w.detach())
    np.testing.assert_allclose(float(g), 2 * w.item())
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, np.ndarray) and value.size == 1:
                assert value.shape in ((), (1,))


@pytest.mark.parametrize("name,kw", CASES)
def test_a_0d_parameter_against_pytorch(name, kw):
    torch = pytest.importorskip("torch")
    values = [np.array(0.7), np.array([[0.3, -1.2]])]
    ours, _ = _run(name, kw, values)
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    opt = getattr(torch.optim, name)(theirs, lr=0.1, **kw)
    for _ in range(5):
        opt.zero_grad()
        _loss(theirs).backward()
        opt.step()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a.numpy()), b.detach().numpy(), rtol=1e-10)


def test_a_0d_parameter_in_a_model_trained_with_a_compiled_step():
    class Scaled(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = cr.nn.Linear(4, 3, seed=0)
            self.scale = cr.nn.Parameter(cr.tensor(1.5))

        def forward(self, x):
            return self.lin(x) * self.scale

    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 4))
    y = rng.integers(0, 3, 8)
    eager, compiled = Scaled(), Scaled()
    opt_e = cr.optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    opt_c = cr.optim.SGD(compiled.parameters(), lr=0.1, momentum=0.9)
    step = cr.nn.CompiledLoss(compiled, optimizer=opt_c)
    for _ in range(4):
        opt_e.zero_grad()
        loss_e = cr.nn.functional.cross_entropy(eager(X), y)
        loss_e.backward()
        opt_e.step()
        loss_c = step(X, y)
        np.testing.assert_allclose(float(loss_c), loss_e.item(), rtol=1e-12)
    assert eager.scale.item() != 1.5
    np.testing.assert_allclose(compiled.scale.item(), eager.scale.item(), rtol=1e-12)
