"""The lectures' worked examples (shared/seeds), with the lectures' numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr


def test_add_mul_circuit():
    # f(x, y, z) = (x + y) z at x = -2, y = 5, z = -4: q = 3, f = -12,
    # df/dx = df/dy = z = -4 (add distributes), df/dz = q = 3.
    x, y, z = (cr.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    q = x + y
    f = q * z
    q.retain_grad()
    f.backward()
    assert q.item() == 3 and f.item() == -12
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)
    assert q.grad.item() == -4.0  # the upstream gradient the add gate distributes


def _flat_staged_sigmoid(x, y):
    """The lecture's hand-written forward and backward pass, verbatim in structure."""
    sigy = 1.0 / (1 + math.exp(-y))  # (1)
    num = x + sigy  # (2)
    sigx = 1.0 / (1 + math.exp(-x))  # (3)
    xpy = x + y  # (4)
    xpysqr = xpy**2  # (5)
    den = sigx + xpysqr  # (6)
    invden = 1.0 / den  # (7)
    f = num * invden  # (8)
    dnum = invden
    dinvden = num
    dden = (-1.0 / (den**2)) * dinvden
    dsigx = (1) * dden
    dxpysqr = (1) * dden
    dxpy = (2 * xpy) * dxpysqr
    dx = (1) * dxpy
    dy = (1) * dxpy
    dx += ((1 - sigx) * sigx) * dsigx  # gradients add up at forks
    dx += (1) * dnum
    dsigy = (1) * dnum
    dy += ((1 - sigy) * sigy) * dsigy
    return f, dx, dy


def test_staged_sigmoid_with_forks():
    # f(x, y) = (x + sigmoid(y)) / (sigmoid(x) + (x + y)^2) at x = 3, y = -4
    x = cr.tensor(3.0, requires_grad=True)
    y = cr.tensor(-4.0, requires_grad=True)
    f = (x + cr.sigmoid(y)) / (cr.sigmoid(x) + (x + y) ** 2)
    f.backward()
    f_ref, dx_ref, dy_ref = _flat_staged_sigmoid(3.0, -4.0)
    assert f.item() == pytest.approx(f_ref, rel=1e-12)
    assert x.grad.item() == pytest.approx(dx_ref, rel=1e-12)
    assert y.grad.item() == pytest.approx(dy_ref, rel=1e-12)
    assert (round(f.item(), 4), round(x.grad.item(), 4), round(y.grad.item(), 4)) == (
        1.5456,
        2.0596,
        1.5922,
    )


def test_sigmoid_neuron():
    # f(w, x) = sigmoid(w0 x0 + w1 x1 + w2) with w = (2, -3, -3), x = (-1, -2): the
    # circuit's output is 0.73 and (1 - L) L = 0.2 flows back through the sigmoid gate.
    w = cr.tensor([2.0, -3.0, -3.0], requires_grad=True)
    x = cr.tensor([-1.0, -2.0], requires_grad=True)
    s3 = w[0] * x[0] + w[1] * x[1] + w[2]
    L = cr.sigmoid(s3)
    L.backward()
    assert round(L.item(), 2) == 0.73
    local = (1 - L.item()) * L.item()
    np.testing.assert_allclose(w.grad.numpy(), [-local, -2 * local, local], rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), [2 * local, -3 * local], rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy().round(2), [-0.2, -0.39, 0.2])
    np.testing.assert_allclose(x.grad.numpy().round(2), [0.39, -0.59])


def test_matrix_multiply_gradient_slices():
    # y = x w with the lecture's numbers; dL/dx = (dL/dy) w^T and dL/dw = x^T (dL/dy).
    x = cr.tensor([[2.0, 1, -3], [-3, 4, 2]], requires_grad=True)
    w = cr.tensor([[3.0, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]], requires_grad=True)
    dy = np.array([[2.0, 3, -3, 9], [-8, 1, 4, 6]])
    y = x @ w
    np.testing.assert_array_equal(y.numpy(), [[-1, -1, 2, 6], [5, 2, 11, 7]])
    y.backward(dy)
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 16, -9], [-24, 9, -30]])
    assert x.grad.numpy()[0, 0] == 3 * 2 + 2 * 3 + 1 * (-3) + (-1) * 9  # the slide's slice
    np.testing.assert_array_equal(w.grad.numpy(), x.numpy().T @ dy)


def test_two_layer_tanh_network_one_sgd_step():
    # Inputs (1.0, 0.1), target 0.5, W0 = [[1, -3], [0.2, 1]], W1 = [1, -1], Euclidean
    # loss, one step with learning rate 0.2 (the lecture's "backpropagation example").
    W0 = cr.tensor([[1.0, -3.0], [0.2, 1.0]], requires_grad=True)
    W1 = cr.tensor([1.0, -1.0], requires_grad=True)
    x0 = cr.tensor([1.0, 0.1])
    x1 = W0 @ x0
    x2 = cr.tanh(x1)
    x3 = W1 @ x2
    loss = 0.5 * (x3 - 0.5) ** 2
    for t in (x1, x2, x3):
        t.retain_grad()
    loss.backward()
    np.testing.assert_allclose(x1.numpy(), [0.7, 0.3])
    np.testing.assert_allclose(x2.numpy().round(3), [0.604, 0.291])
    assert round(x3.item(), 3) == 0.313 and round(loss.item(), 3) == 0.017
    assert round(x3.grad.item(), 4) == -0.1869
    # the slide rounds tanh to 3 digits first, hence -0.1186/0.171 vs -0.11865/0.17106
    np.testing.assert_allclose(x1.grad.numpy(), [-0.1186, 0.1710], atol=2e-4)
    with cr.no_grad():
        W0_new = W0 - 0.2 * W0.grad
        W1_new = W1 - 0.2 * W1.grad
    np.testing.assert_allclose(W0_new.numpy().round(2), [[1.02, -3.0], [0.17, 1.0]])
    np.testing.assert_allclose(W1_new.numpy().round(3), [1.023, -0.989])


def test_logistic_least_squares_with_l2():
    # z = w x + b, y = sigmoid(z), L = (y - t)^2 / 2, R = w^2 / 2, Lreg = L + lambda R.
    # The lecture's bar notation: ybar = y - t, zbar = ybar sigmoid'(z),
    # wbar = zbar x + Rbar w with Rbar = lambda, bbar = zbar.
    w0, b0, x, t, lam = 0.5, -0.3, 2.0, 1.0, 0.1
    w = cr.tensor(w0, requires_grad=True)
    b = cr.tensor(b0, requires_grad=True)
    z = w * x + b
    y = cr.sigmoid(z)
    L = 0.5 * (y - t) ** 2
    R = 0.5 * w**2
    Lreg = L + lam * R
    Lreg.backward()
    s = 1 / (1 + math.exp(-(w0 * x + b0)))
    ybar = s - t
    zbar = ybar * s * (1 - s)
    assert w.grad.item() == pytest.approx(zbar * x + lam * w0, rel=1e-12)
    assert b.grad.item() == pytest.approx(zbar, rel=1e-12)


def test_svm_loss_gradient_via_autodiff_matches_hand_derivation():
    # The lecture's multiclass SVM with L2: the hand-derived gradient of
    # sum_j!=y max(0, s_j - s_y + 1) w.r.t. W (s = W x) is x on each violating row j and
    # -count * x on row y.
    rng = np.random.default_rng(0)
    W = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    xv = rng.standard_normal(3)
    label = 2
    s = W @ cr.tensor(xv)
    margins = cr.maximum(s - s[label] + 1.0, 0.0)
    loss = margins.sum() - margins[label]  # drop j == y
    loss.backward()
    sv = W.numpy() @ xv
    violating = (sv - sv[label] + 1 > 0) & (np.arange(4) != label)
    expected = np.zeros((4, 3))
    expected[violating] = xv
    expected[label] = -violating.sum() * xv
    np.testing.assert_allclose(W.grad.numpy(), expected, rtol=1e-12)
