"""grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp and checkpoint."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from checker import numeric_directional


def f3(x, y):
    return (cr.tanh(x) * y).sum() + (x**2).sum() * y.sum()


def test_grad_argnums_int_and_tuple():
    x, y = np.array([0.3, -0.7]), np.array([1.5, 2.0])
    gx = cr.grad(f3)(x, y)
    gxy = cr.grad(f3, argnums=(0, 1))(x, y)
    assert isinstance(gxy, tuple) and len(gxy) == 2
    np.testing.assert_allclose(gx.numpy(), gxy[0].numpy())
    np.testing.assert_allclose(gx.numpy(), (1 - np.tanh(x) ** 2) * y + 2 * x * y.sum())
    np.testing.assert_allclose(gxy[1].numpy(), np.tanh(x) + (x**2).sum())
    value, g = cr.value_and_grad(f3, argnums=1)(x, y)
    assert value.item() == pytest.approx(f3(cr.tensor(x), cr.tensor(y)).item())
    assert not value.requires_grad


def test_grad_composes_to_any_order():
    f = lambda x: x**5  # noqa: E731
    d = f
    expected = [5 * 2.0**4, 20 * 2.0**3, 60 * 2.0**2, 120 * 2.0]
    for want in expected:
        d = cr.grad(d)
        assert d(2.0).item() == pytest.approx(want)


def test_nested_grad_keeps_inner_and_outer_variables_apart():
    # d/dx [x * d/dy (x y)] = d/dx [x * x] = 2x: no perturbation confusion
    assert cr.grad(lambda x: x * cr.grad(lambda y: x * y)(x))(3.0).item() == 6.0
    # the inner function closes over the outer variable
    assert cr.grad(lambda x: cr.grad(lambda y: y * x * x)(cr.tensor(1.0)))(3.0).item() == 6.0


def test_transforms_do_not_touch_grad_of_closed_over_leaves():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    g = cr.grad(lambda x: (x * w).sum())(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g.numpy(), [1.0, 2.0])
    assert w.grad is None


def test_grad_of_function_not_depending_on_argument_is_zero():
    assert cr.grad(lambda x: cr.tensor(3.0))(np.ones(2)).numpy().tolist() == [0.0, 0.0]


def test_vjp_is_differentiable_and_gives_forward_mode_from_two_reverse_passes():
    f = lambda x: cr.tanh(x) * x[::-1]  # noqa: E731
    x = np.array([0.2, -0.5, 1.1])
    v = np.array([1.0, 0.5, -2.0])
    _, jv = cr.jvp(f, (x,), (v,))

    def vjp_of_f(u):
        _, vjp_fn = cr.vjp(f, x)
        return vjp_fn(u)[0]  # J^T u, linear in u

    # the VJP of (u -> J^T u) with cotangent v is J v
    _, back = cr.vjp(vjp_of_f, np.zeros(3))
    (jv_twice_reverse,) = back(v)
    np.testing.assert_allclose(jv_twice_reverse.numpy(), jv.numpy(), rtol=1e-12)
    np.testing.assert_allclose(jv.numpy(), numeric_directional(f, [x], [v]), rtol=1e-6)


def test_vjp_fn_is_differentiable_in_the_primals():
    # d/dx of (J(x)^T u) . w, checked numerically
    u, w = np.array([1.0, -2.0]), np.array([0.5, 3.0])

    def h(x):
        _, vjp_fn = cr.vjp(lambda t: cr.sin(t) * t, x)
        return (vjp_fn(cr.tensor(u))[0] * w).sum()

    x = np.array([0.4, -1.3])
    g = cr.grad(h)(x)
    (num,) = cr.numerical_grad(h, x)
    np.testing.assert_allclose(g.numpy(), num, rtol=1e-6)


def test_vjp_with_several_outputs_and_repeated_calls():
    out, vjp_fn = cr.vjp(lambda a, b: (a * b, a + b), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert isinstance(out, tuple)
    ga, gb = vjp_fn((np.ones(2), np.zeros(2)))
    np.testing.assert_allclose(ga.numpy(), [3.0, 4.0])
    ga2, _ = vjp_fn((np.ones(2), np.zeros(2)))  # the graph is kept for vjp_fn
    np.testing.assert_allclose(ga2.numpy(), ga.numpy())


def test_jvp_is_true_forward_mode_and_matches_numerics():
    f = lambda a, b: (a @ b).tanh().sum(axis=0)  # noqa: E731
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    ta, tb = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    out, tan = cr.jvp(f, (a, b), (ta, tb))
    np.testing.assert_allclose(out.numpy(), f(cr.tensor(a), cr.tensor(b)).numpy())
    np.testing.assert_allclose(tan.numpy(), numeric_directional(f, [a, b], [ta, tb]), rtol=1e-6)


def test_jvp_does_not_run_reverse_rules(monkeypatch):
    # forward mode is its own pass: make every VJP rule fail and jvp still works
    from chainrule.primitives import REGISTRY

    def boom(*a, **k):
        raise AssertionError("a VJP rule ran during jvp")

    for prim in REGISTRY.values():
        if isinstance(prim.vjps, tuple):
            monkeypatch.setattr(prim, "vjps", tuple(boom for _ in prim.vjps))
    _, t = cr.jvp(lambda x: cr.exp(x).sum() * x, (np.array([0.1, 0.2]),), (np.ones(2),))
    assert t.shape == (2,)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_shape_and_values(mode):
    f = lambda x: cr.tanh(x[:, None] * x[None, :])  # noqa: E731  (3,) -> (3, 3)
    x = np.array([0.3, -0.2, 0.7])
    J = cr.jacobian(f, mode=mode)(x)
    assert J.shape == (3, 3, 3)
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1
        col = numeric_directional(f, [x], [e]).reshape(3, 3)
        np.testing.assert_allclose(J.numpy()[..., j], col, rtol=1e-6, atol=1e-9)


def test_jacobian_modes_agree_with_several_arguments():
    f = lambda a, b: cr.sin(a) * b.sum()  # noqa: E731
    a, b = np.array([0.1, 0.2]), np.array([1.0, 2.0, 3.0])
    rev = cr.jacobian(f, argnums=(0, 1))(a, b)
    fwd = cr.jacobian(f, argnums=(0, 1), mode="fwd")(a, b)
    for r, w in zip(rev, fwd):
        np.testing.assert_allclose(r.numpy(), w.numpy(), rtol=1e-12)
    assert rev[1].shape == (2, 3)


def test_hessian_of_a_quadratic_form():
    A = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, -1.0], [4.0, 0.0, 1.0]])
    H = cr.hessian(lambda x: x @ (cr.tensor(A) @ x))(np.array([1.0, -1.0, 2.0]))
    np.testing.assert_allclose(H.numpy(), A + A.T)


def test_hvp_equals_hessian_times_vector():
    f = lambda w: (cr.tanh(cr.tensor(X) @ w) ** 2).sum()  # noqa: E731
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5, 4))
    w, v = rng.standard_normal(4), rng.standard_normal(4)
    value, hv = cr.hvp(f, (w,), (v,))
    H = cr.hessian(f)(w)
    np.testing.assert_allclose(hv.numpy(), H.numpy() @ v, rtol=1e-10)
    assert value.item() == pytest.approx(f(cr.tensor(w)).item())
    # and numerically: H v is the directional derivative of the gradient
    num = numeric_directional(cr.grad(f), [w], [v])
    np.testing.assert_allclose(hv.numpy(), num, rtol=1e-6)


def _deep(x, w):
    h = x
    for _ in range(8):
        h = cr.tanh(h @ w)
    return (h * h).sum()


def test_checkpoint_gives_the_same_values_and_gradients():
    rng = np.random.default_rng(3)
    x0, w0 = rng.standard_normal((4, 6)), rng.standard_normal((6, 6)) * 0.5
    x, w = cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)
    _deep(x, w).backward()
    xc, wc = cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)
    out = cr.checkpoint(_deep, xc, wc)
    assert out.item() == pytest.approx(_deep(cr.tensor(x0), cr.tensor(w0)).item())
    out.backward()
    np.testing.assert_allclose(xc.grad.numpy(), x.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(wc.grad.numpy(), w.grad.numpy(), rtol=1e-12)
    # and to second order, through the recomputation
    g2 = cr.grad(lambda t: cr.grad(lambda s: cr.checkpoint(_deep, s, cr.tensor(w0)))(t).sum())
    g2_plain = cr.grad(lambda t: cr.grad(lambda s: _deep(s, cr.tensor(w0)))(t).sum())
    np.testing.assert_allclose(g2(x0).numpy(), g2_plain(x0).numpy(), rtol=1e-10)


def test_checkpoint_saves_memory_between_forward_and_backward():
    rng = np.random.default_rng(4)
    x0 = rng.standard_normal((1000, 100))
    w0 = rng.standard_normal((100, 100)) * 0.1

    def held_between_forward_and_backward(use_checkpoint):
        gc.collect()
        x, w = cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)
        tracemalloc.start()
        try:
            loss = cr.checkpoint(_deep, x, w) if use_checkpoint else _deep(x, w)
            held = tracemalloc.get_traced_memory()[0]
            loss.backward()
        finally:
            tracemalloc.stop()
        return held, x.grad.numpy()

    plain, g_plain = held_between_forward_and_backward(False)
    ckpt, g_ckpt = held_between_forward_and_backward(True)
    activation = x0.nbytes
    assert plain >= 8 * activation  # every tanh output is kept
    assert ckpt <= 1 * activation, (plain, ckpt)  # only the inputs (already owned) + output
    np.testing.assert_allclose(g_ckpt, g_plain, rtol=1e-12)


def test_substitute_lets_transforms_differentiate_closures_over_tensors():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = lambda: (w * w).sum() + w[0]  # noqa: E731  (a closure over w)

    def loss_at(v):
        with cr.substitute([(w, v)]):
            return loss()

    np.testing.assert_allclose(cr.grad(loss_at)(np.array([3.0, 4.0])).numpy(), [7.0, 8.0])
    H = cr.hessian(loss_at)(np.array([3.0, 4.0]))
    np.testing.assert_allclose(H.numpy(), 2 * np.eye(2))
    # restored afterwards: w is the same leaf with its own value
    assert w.is_leaf and w.requires_grad and w.numpy().tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"substitute: replacement of shape \(3,\)"):
        with cr.substitute([(w, np.zeros(3))]):
            pass
    assert w.numpy().tolist() == [1.0, 2.0]


def test_substitute_with_leaf_replacements_sends_gradients_to_them():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    v = cr.tensor([3.0, 4.0], requires_grad=True)
    with cr.substitute([(w, v)]):
        loss = (w * w).sum()
    loss.backward()
    np.testing.assert_allclose(v.grad.numpy(), [6.0, 8.0])
    assert w.grad is None
