"""Generated code and the names in it.

The code's module imports kernels (``softmax``, ``nll``, ...) and binds NumPy's ufuncs;
the function and its values are named after the user's function and arguments. A function
named like a kernel called itself; an argument named like one shadowed it; a parameter
``t0`` of a scalar program met the code's own ``t0`` temporary and was read as it (a wrong
value, silently).
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from jit_support import BACKENDS, eager_grads, jit_grads

# --------------------------------------------------------------------------- names


def test_a_scalar_parameter_named_like_a_temporary_is_read_as_itself():
    def f(t0, x):
        a = t0 * x
        return a * t0  # t0**2 x

    jitted = cr.jit(f)
    for t0, x in ((3.0, 2.0), (1.5, -4.0)):
        got = jitted(np.float64(t0), np.float64(x))
        assert float(got) == t0 * t0 * x
    dt0, dx = cr.jit(cr.grad(f, argnums=(0, 1)))(np.float64(3.0), np.float64(2.0))
    assert (float(dt0), float(dx)) == (12.0, 9.0)


def softmax(t):  # a user function named like the kernel its code calls
    return cr.softmax(t, axis=1)


def log_softmax(t):
    return cr.log_softmax(t, axis=1) * 2.0


def scores(nll, softmax, labels):  # arguments named like kernels
    return cr.softmax_cross_entropy(nll, labels) + cr.log_softmax(softmax, axis=1).sum()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_functions_and_arguments_named_like_the_codes_own_names(backend, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(dtype)
    z = rng.standard_normal((3, 4)).astype(dtype)
    labels = np.array([0, 3, 1])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    renamed = {"np": lambda t: cr.relu(t) * 2.0, "CALL": cr.tanh, "_maximum": cr.relu}
    cases = [softmax, log_softmax, lambda t: cr.special.erfc(t)]
    for name, fn in renamed.items():
        fn = (lambda g: lambda t: g(t))(fn)
        fn.__name__ = name
        cases.append(fn)
    for f in cases:
        jitted = cr.jit(f, backend=backend)
        for a in (x, z):  # the first call traces, the second runs the code
            np.testing.assert_allclose(jitted(a).numpy(), f(cr.tensor(a)).numpy(), rtol=tol)
        want, (g_want,) = eager_grads(f, [x])
        got, (g_got,) = jit_grads(f, [x], backend)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
        np.testing.assert_allclose(g_got, g_want, rtol=tol, atol=tol)
    f = cr.jit(lambda a, b: scores(a, b, labels), backend=backend)
    np.testing.assert_allclose(
        f(x, z).numpy(), scores(cr.tensor(x), cr.tensor(z), labels).numpy(), rtol=tol
    )
    grads = cr.jit(cr.grad(lambda a, b: scores(a, b, labels), argnums=(0, 1)), backend=backend)
    eager = cr.grad(lambda a, b: scores(a, b, labels), argnums=(0, 1))(x, z)
    for g, e in zip(grads(x, z), eager):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=tol, atol=tol)


def test_the_source_names_a_clashing_function_apart_from_its_kernel():
    source = cr.jit(softmax).source(np.ones((2, 3)))
    assert "from chainrule.kernels import softmax" in source
    assert "def softmax_(t):" in source
    assert "softmax0 = softmax(t, 1)" in source


def test_flat_code_of_functions_and_arguments_named_like_kernels():
    rng = np.random.default_rng(1)
    x, z = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    labels = np.array([0, 1, 2])

    def total(t):
        return cr.softmax(t, axis=1).sum() * 3.0

    total.__name__ = "softmax"
    for f, args in ((total, (x,)), (lambda nll, softmax: scores(nll, softmax, labels), (x, z))):
        graph = cr.trace(f, *[cr.tensor(a, requires_grad=True) for a in args])
        value, grads = graph.compile_flat()(*args)
        want, want_grads = eager_grads(f, args)
        np.testing.assert_allclose(value, want, rtol=1e-12)
        for g, w in zip(grads, want_grads):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
        for source in (graph.forward_code(), graph.flat_code()):
            namespace: dict = {}
            exec(source, namespace)  # the module as printed runs
    source = cr.trace(total, cr.tensor(x, requires_grad=True)).forward_code()
    assert "def softmax_(t):" in source and "softmax(t, 1)" in source


def test_a_parameter_named_like_the_optimizers_code_trains_like_eager():
    nn = cr.nn

    class Odd(nn.Module):  # parameters named like the fused SGD update's arguments
        def __init__(self):
            super().__init__()
            rng = np.random.default_rng(0)
            self.lr = nn.Parameter(rng.standard_normal((4, 3)).astype(np.float32))
            self.B = nn.Parameter(np.zeros(3, np.float32))
            self.G = nn.Parameter(rng.standard_normal((3, 3)).astype(np.float32))

        def forward(self, x):
            return (x @ self.lr + self.B) @ self.G

    X = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0])
    fused, eager = Odd(), Odd()
    opt_f = cr.optim.SGD(fused.parameters(), lr=0.1, momentum=0.9)
    opt_e = cr.optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    step = nn.CompiledLoss(fused, optimizer=opt_f)
    for _ in range(4):
        loss = step(X, y)
        opt_e.zero_grad()
        want = nn.functional.cross_entropy(eager(cr.tensor(X)), y)
        want.backward()
        opt_e.step()
        assert abs(loss - want.item()) < 1e-5
    for p, q in zip(fused.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-5, atol=1e-6)


def test_the_graph_keeps_names_like_kernels_and_only_the_code_renames_them():
    def f(x, beta):
        gamma = cr.special.gamma(x) * beta
        sigmoid = 1 / (1 + cr.exp(-gamma))
        return sigmoid.sum()

    x, b = np.array([0.7, 1.3, 2.1]), np.array([0.5, -1.0, 2.0])
    graph = cr.trace(f, cr.tensor(x, requires_grad=True), cr.tensor(b, requires_grad=True))
    names = [v.name for v in graph.nodes]
    assert {"beta", "gamma", "sigmoid"} <= set(names)  # the pictures' names, as written
    source = graph.flat_code()
    assert "gamma0 = gamma(x)" in source and "gamma_ = gamma0 * beta_" in source
    value, (dx, db) = graph.compile_flat()(x=x, beta=b)  # called by the graph's names
    want, (wx, wb) = eager_grads(f, [x, b])
    np.testing.assert_allclose(value, want, rtol=1e-12)
    np.testing.assert_allclose(dx, wx, rtol=1e-12)
    np.testing.assert_allclose(db, wb, rtol=1e-12)
