"""Second-order optimization: Newton (exact Hessian) lands on a quadratic's minimum in one
step; Newton-CG (cr.hvp only) converges in the stated steps, beats SGD on digits logistic
regression in fewer passes, and never allocates an n x n matrix."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import transforms
from chainrule.optim import Newton, NewtonCG, minimize

F = cr.nn.functional
ROOT = Path(__file__).resolve().parents[1]


def quadratic(n=12, seed=0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    A = M @ M.T + n * np.eye(n)  # symmetric positive definite
    b = rng.standard_normal(n)
    At, bt = cr.tensor(A), cr.tensor(b)

    def f(x):
        return 0.5 * (x @ (At @ x)) - (bt * x).sum() + 3.0

    return f, A, b


@pytest.mark.parametrize("method", ["newton", "newton-cg"])
def test_one_step_lands_on_the_minimum_of_a_quadratic(method):
    f, A, b = quadratic()
    x_star = np.linalg.solve(A, b)
    res = minimize(f, np.ones(12), method=method, cg_tol=1e-13, tol=1e-9)
    assert res.converged and res.n_iter == 1
    np.testing.assert_allclose(res.x, x_star, rtol=1e-10, atol=1e-10)
    assert res.history[1][1] == pytest.approx(3.0 - 0.5 * b @ x_star, rel=1e-12)
    # The full step (length 1) passed the Armijo test at once: one line-search evaluation.
    assert res.n_fev == 2  # the initial loss + one line-search trial


def test_newton_optimizer_step_uses_the_exact_hessian(monkeypatch):
    f, A, b = quadratic()
    calls = []
    real = transforms.hessian
    monkeypatch.setattr(transforms, "hessian", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = cr.tensor(np.zeros(12), requires_grad=True)
    opt = Newton([x])
    loss = opt.step(lambda: f(x))
    assert loss.item() == pytest.approx(3.0)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(A, b), rtol=1e-10)
    assert calls == [1]
    assert x.is_leaf and x.requires_grad and x.grad is None


def test_newton_handles_indefinite_hessians_rosenbrock():
    def rosen(z):
        return (1 - z[0]) ** 2 + 100 * (z[1] - z[0] ** 2) ** 2

    res = minimize(rosen, np.array([-1.2, 1.0]), method="newton", tol=1e-10, max_iter=100)
    assert res.converged and res.n_iter <= 30
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-8)
    res_cg = minimize(rosen, np.array([-1.2, 1.0]), method="newton-cg", tol=1e-10, max_iter=100)
    assert res_cg.converged and res_cg.n_iter <= 80
    np.testing.assert_allclose(res_cg.x, [1.0, 1.0], atol=1e-7)


def digits_logistic(l2=1e-3):
    pytest.importorskip("sklearn")  # scikit-learn's digits
    split = cr.data.load_dataset("digits", seed=0, test_size=0.2, dtype=np.float64)
    X = split.X_train
    X = (X - X.mean(0)) / (X.std(0) + 1e-2)
    y = split.y_train
    Xt = cr.tensor(X)

    def f(wb):
        W, b = wb[:640].reshape(64, 10), wb[640:]
        return F.cross_entropy(Xt @ W + b, y) + l2 * (W * W).sum()

    return f, X, y, l2


def test_newton_cg_converges_on_digits_logistic_regression_in_10_steps():
    f, *_ = digits_logistic()
    res = minimize(f, np.zeros(650), method="newton-cg", tol=1e-6, max_iter=10)
    assert res.converged, res.message
    assert res.n_iter <= 10
    assert res.grad_norm <= 1e-6
    assert res.n_hess == 0  # Hessian-free
    losses = [v for _, v in res.history]
    assert all(b < a for a, b in zip(losses, losses[1:]))  # monotone (line search)


def test_newton_cg_reaches_a_lower_loss_than_sgd_in_fewer_passes():
    f, X, y, l2 = digits_logistic()
    epochs = 60
    W = cr.zeros(64, 10, dtype=np.float64).requires_grad_(True)
    b = cr.zeros(10, dtype=np.float64).requires_grad_(True)
    opt = cr.optim.SGD([W, b], lr=0.1, momentum=0.9)
    loader = cr.data.DataLoader((X, y), batch_size=64, shuffle=True, seed=0)
    Xt = cr.tensor(X)
    sgd_losses = []
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(xb @ W + b, yb) + l2 * (W * W).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with cr.no_grad():
            sgd_losses.append((F.cross_entropy(Xt @ W + b, y) + l2 * (W * W).sum()).item())
    sgd_best = min(sgd_losses)
    res = minimize(f, np.zeros(650), method="newton-cg", tol=1e-8, max_iter=30)
    passes_needed = next(p for p, v in res.history if v < sgd_best)
    assert passes_needed < epochs
    assert res.fun < sgd_best - 1e-4


def logistic_problem(n, m=200, seed=0):
    rng = np.random.default_rng(seed)
    X = cr.tensor(rng.standard_normal((m, n)) / np.sqrt(n))
    y = cr.tensor(np.sign(rng.standard_normal(m)))

    def f(w):
        z = y * (X @ w)
        # log(1 + exp(-z)), stably.
        return (cr.maximum(-z, 0.0) + cr.log(1 + cr.exp(-cr.abs(z)))).mean() + 5e-3 * (w * w).sum()

    return f


def test_newton_cg_memory_stays_linear_in_the_parameters(monkeypatch):
    n = 3000  # an n x n float64 matrix would be 72 MB
    f = logistic_problem(n)

    def forbidden(*args, **kwargs):
        raise AssertionError("Newton-CG must not build a Hessian or a Jacobian")

    for name in ("hessian", "jacobian"):
        monkeypatch.setattr(transforms, name, forbidden)
        monkeypatch.setattr(cr, name, forbidden)
    largest = []

    def watch(node, inputs, out):
        largest.append(np.size(out))

    tracemalloc.start()
    try:
        with cr.observe_nodes(watch):
            res = minimize(f, np.zeros(n), method="newton-cg", tol=1e-9, max_iter=20)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.converged and res.n_iter <= 6 and res.n_hvp > 0
    assert peak < 0.05 * n * n * 8, f"peak {peak / 1e6:.1f} MB"
    assert max(largest) < n * n / 10  # no recorded value anywhere near n x n


def test_newton_cg_optimizer_on_a_model_with_a_closure():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3 * rng.standard_normal(120) > 0).astype(int)
    model = cr.nn.Linear(4, 2, dtype=np.float64, seed=0)
    opt = NewtonCG(model.parameters())

    def closure():
        return F.cross_entropy(model(X), y) + 1e-2 * F.l2_penalty([model.weight])

    losses = [opt.step(closure).item() for _ in range(8)]
    assert all(b < a for a, b in zip(losses, losses[1:]) if a - b > 1e-12)
    assert losses[-1] < 0.5 * losses[0]
    # At the minimum: the gradient (object API) vanishes.
    closure().backward()
    assert np.abs(model.weight.grad.numpy()).max() < 1e-6
    assert all(p.is_leaf for p in model.parameters())
    assert opt.n_passes > 0 and opt.last_step_size == 1.0


def test_errors_are_clear():
    w = cr.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(TypeError, match="NewtonCG.step: needs a closure"):
        NewtonCG([w]).step()
    with pytest.raises(ValueError, match="one-element loss"):
        NewtonCG([w]).step(lambda: w * 2)
    big = cr.tensor(np.zeros(30), requires_grad=True)
    with pytest.raises(ValueError, match=r"30 x 30 Hessian.*NewtonCG"):
        Newton([big], max_params=20).step(lambda: (big * big).sum())
    with pytest.raises(ValueError, match="per-group options are not supported"):
        Newton([{"params": [w]}, {"params": [big]}])
    with pytest.raises(ValueError, match="minimize: method must be one of"):
        minimize(lambda x: (x * x).sum(), np.ones(2), method="bfgs")
    with pytest.raises(ValueError, match="invalid damping"):
        NewtonCG([w], damping=-1.0)


def test_bench_writes_one_png_with_both_curves(tmp_path):
    pytest.importorskip("sklearn")  # the bench fits scikit-learn's digits
    pytest.importorskip("matplotlib")  # and draws one PNG
    out = tmp_path / "second_order.png"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_second_order.py"),
            "--epochs",
            "5",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Newton-CG" in proc.stdout and "SGD" in proc.stdout
    image = pytest.importorskip("matplotlib.image").imread(out)
    assert image.ndim == 3 and image.shape[0] > 100
