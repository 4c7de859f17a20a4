"""cr.special: values against scipy.special (and mpmath in the tails, where SciPy itself
is less accurate), dtypes, edge values, derivatives of every order against known
closed forms and PyTorch, and the erf primitive as the one definition. The gamma and beta
family, erfcinv, logsumexp with weights and the complex erf are in test_special_more.py."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from checker import check_grads

SP = cr.special
rng = np.random.default_rng(3)

GRID = np.concatenate(
    [np.linspace(-30, 30, 6001), np.logspace(-300, 2, 400), -np.logspace(-300, 2, 400)]
)
POSITIVE = np.concatenate([np.linspace(0.01, 40, 4000), np.logspace(-8, 5, 400)])
NEGATIVE = -np.concatenate([np.linspace(0.05, 20.05, 401), [0.5, 1.5, 2.25]])
UNIT = np.concatenate([np.linspace(0.001, 0.999, 999), np.logspace(-300, -1, 100)])


def rel_err(got, ref, floor=1e-290):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    with np.errstate(all="ignore"):
        err = np.abs(got - ref) / np.abs(ref)
    err[(got == ref) | (np.abs(ref) < floor)] = 0  # equal infinities; subnormal results
    return float(np.nanmax(err)) if err.size else 0.0


CASES = [
    ("erf", SP.erf, "erf", GRID, 1e-15),
    # (SciPy's own erfc and erfcx are good to ~3e-14 in the tails: see the mpmath test)
    ("erfc", SP.erfc, "erfc", GRID[GRID < 20], 5e-14),
    ("erfcx", SP.erfcx, "erfcx", GRID[(GRID > -20) & (GRID < 20)], 5e-14),
    ("erfinv", SP.erfinv, "erfinv", np.concatenate([np.linspace(-0.999, 0.999, 2001)]), 1e-14),
    ("gammaln", SP.gammaln, "gammaln", POSITIVE[(POSITIVE < 0.9) | (POSITIVE > 2.1)], 1e-14),
    ("gammaln-neg", SP.gammaln, "gammaln", NEGATIVE[NEGATIVE > -2.3], 1e-14),
    ("digamma", SP.digamma, "digamma", POSITIVE[(POSITIVE < 1.3) | (POSITIVE > 1.6)], 1e-14),
    ("digamma-neg", SP.digamma, "digamma", NEGATIVE, 1e-13),
    ("expit", SP.expit, "expit", GRID, 1e-15),
    ("logit", SP.logit, "logit", UNIT, 1e-14),
    ("log_ndtr", SP.log_ndtr, "log_ndtr", GRID[GRID < 8], 1e-14),
]


@pytest.mark.parametrize("name, ours, theirs, x, tol", CASES, ids=[c[0] for c in CASES])
def test_values_match_scipy(name, ours, theirs, x, tol):
    special = pytest.importorskip("scipy.special")
    with np.errstate(all="ignore"):
        assert rel_err(ours(x).numpy(), getattr(special, theirs)(x)) < tol


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_polygamma_matches_scipy(n):
    special = pytest.importorskip("scipy.special")
    assert rel_err(SP.polygamma(n, POSITIVE).numpy(), special.polygamma(n, POSITIVE)) < 1e-14
    odd = NEGATIVE[np.abs(NEGATIVE - np.round(NEGATIVE)) > 0.1]  # off cot's zeros (see below)
    assert rel_err(SP.polygamma(n, odd).numpy(), special.polygamma(n, odd)) < 1e-12


def test_binary_functions_match_scipy():
    special = pytest.importorskip("scipy.special")
    x = rng.standard_normal(200) * 3
    y = np.abs(rng.standard_normal(200)) * 5
    assert rel_err(SP.xlogy(x, y).numpy(), special.xlogy(x, y)) < 1e-15
    assert rel_err(SP.xlog1py(x, y - 0.9).numpy(), special.xlog1py(x, y - 0.9)) < 1e-15
    assert rel_err(SP.softplus(GRID).numpy(), special.softplus(GRID)) < 1e-15
    edge = np.array([0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(
        SP.xlogy(edge, np.array([0.0, 2.0, np.nan, 0.0])).numpy(),
        special.xlogy(edge, np.array([0.0, 2.0, np.nan, 0.0])),
    )


# Near zeros of the functions (lgamma at 1 and 2, digamma at 1.4616, lgamma's negative
# zeros) and in the far tails SciPy's own values lose digits; mpmath is the reference there.
MP_CASES = [
    (
        "gammaln~1,2",
        SP.gammaln,
        lambda mp, v: mp.log(abs(mp.gamma(v))),
        np.r_[0.9:1.1:201j, 1.9:2.1:201j],
    ),
    ("digamma~root", SP.digamma, lambda mp, v: mp.digamma(v), np.linspace(1.3, 1.6, 301)),
    ("erfc-tail", SP.erfc, lambda mp, v: mp.erfc(v), np.linspace(20, 26, 61)),
    ("erfcx-neg", SP.erfcx, lambda mp, v: mp.exp(v * v) * mp.erfc(v), np.linspace(-26, -5, 43)),
    ("erfinv-tail", SP.erfinv, lambda mp, v: mp.erfinv(v), 1 - np.logspace(-16, -3, 60)),
    ("log_ndtr-tail", SP.log_ndtr, lambda mp, v: mp.log(mp.ncdf(v)), np.linspace(-1e3, -8, 60)),
    (
        "polygamma2-neg",
        lambda x: SP.polygamma(2, x),
        lambda mp, v: mp.polygamma(2, v),
        np.array([-19.500000000000004, -15.500000000000002, -2.3, -7.77]),
    ),
]


@pytest.mark.parametrize("name, ours, exact, x", MP_CASES, ids=[c[0] for c in MP_CASES])
def test_values_match_mpmath_where_scipy_loses_digits(name, ours, exact, x):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    ref = np.array([float(exact(mpmath, mpmath.mpf(float(v)))) for v in x])
    assert rel_err(ours(x).numpy(), ref) < 3e-15


def test_dtypes_scalars_and_edges():
    x32 = np.array([0.5, -1.0], dtype=np.float32)
    for f in (SP.erf, SP.erfc, SP.erfcx, SP.gammaln, SP.digamma, SP.log_ndtr, SP.softplus):
        assert f(x32).dtype == np.float32
    assert SP.erfinv(x32 * 0.5).dtype == np.float32
    assert SP.erf(np.array([1, 2])).dtype == np.float64  # integers compute in float64
    assert SP.erf(0.5).shape == ()
    inf, nan = np.inf, np.nan
    np.testing.assert_array_equal(SP.erf(np.array([inf, -inf])).numpy(), [1.0, -1.0])
    np.testing.assert_array_equal(SP.erfc(np.array([inf, -inf])).numpy(), [0.0, 2.0])
    np.testing.assert_array_equal(SP.erfinv(np.array([1.0, -1.0])).numpy(), [inf, -inf])
    assert np.isnan(SP.erfinv(np.array([1.5, nan])).numpy()).all()
    np.testing.assert_array_equal(SP.gammaln(np.array([0.0, -1.0, inf])).numpy(), [inf] * 3)
    got = SP.digamma(np.array([0.0, -2.0, inf])).numpy()
    assert got[0] == -inf and np.isnan(got[1]) and got[2] == inf
    np.testing.assert_array_equal(SP.logit(np.array([0.0, 1.0])).numpy(), [-inf, inf])
    assert np.isnan(SP.erf(np.array([nan])).numpy()).all()


def test_known_derivatives_of_every_order():
    # d/dx gammaln = digamma, d^2 = trigamma, d^3 = polygamma(2): at 1, -gamma, pi^2/6,
    # -2 zeta(3)
    g1 = cr.grad(SP.gammaln)
    g2 = cr.grad(g1)
    g3 = cr.grad(g2)
    one = cr.tensor(1.0)
    np.testing.assert_allclose(g1(one).item(), -0.5772156649015329, rtol=1e-14)
    np.testing.assert_allclose(g2(one).item(), np.pi**2 / 6, rtol=1e-14)
    np.testing.assert_allclose(g3(one).item(), -2 * 1.2020569031595942, rtol=1e-14)
    # erf'' = -2x erf'; erfinv' = sqrt(pi)/2 exp(erfinv^2)
    x = cr.tensor(0.7)
    d2 = cr.grad(cr.grad(SP.erf))(x).item()
    np.testing.assert_allclose(d2, -2 * 0.7 * 2 / np.sqrt(np.pi) * np.exp(-0.49), rtol=1e-14)
    y = SP.erfinv(cr.tensor(0.3)).item()
    np.testing.assert_allclose(
        cr.grad(SP.erfinv)(cr.tensor(0.3)).item(), np.sqrt(np.pi) / 2 * np.exp(y * y), rtol=1e-14
    )
    # log_ndtr' = phi / Phi stays finite far in the left tail (about -x)
    d = cr.grad(SP.log_ndtr)(cr.tensor(-100.0)).item()
    np.testing.assert_allclose(d, 100.0099980004, rtol=1e-10)
    assert cr.grad(SP.log_ndtr)(cr.tensor(60.0)).item() == 0.0


def test_high_order_checks():
    x = np.abs(rng.standard_normal(4)) + 0.5
    for f in (SP.gammaln, SP.digamma, SP.erf, SP.erfcx, SP.log_ndtr):
        check_grads(f, [x], order=3)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_xlogy_at_zero():
    # 0 log 0 = 0; d/dy is 0 at x = 0, d/dx is log y
    x = cr.tensor(np.array([0.0, 0.0]), requires_grad=True)
    y = cr.tensor(np.array([0.0, 2.0]), requires_grad=True)
    out = SP.xlogy(x, y)
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0])
    out.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0])
    np.testing.assert_allclose(x.grad.numpy(), [-np.inf, np.log(2.0)])


torch_cases = [
    ("erf", SP.erf, "special.erf", GRID[np.abs(GRID) < 5]),
    ("erfc", SP.erfc, "special.erfc", GRID[np.abs(GRID) < 5]),
    ("erfcx", SP.erfcx, "special.erfcx", GRID[np.abs(GRID) < 5]),
    ("erfinv", SP.erfinv, "special.erfinv", np.linspace(-0.99, 0.99, 199)),
    ("gammaln", SP.gammaln, "special.gammaln", POSITIVE[POSITIVE < 50]),
    ("digamma", SP.digamma, "special.digamma", POSITIVE[POSITIVE < 50]),
    ("expit", SP.expit, "special.expit", GRID[np.abs(GRID) < 20]),
    ("logit", SP.logit, "special.logit", UNIT[UNIT > 1e-6]),
    ("log_ndtr", SP.log_ndtr, "special.log_ndtr", np.linspace(-20, 5, 251)),
    ("softplus", SP.softplus, "nn.functional.softplus", GRID[np.abs(GRID) < 15]),
]


@pytest.mark.parametrize("name, ours, theirs, x", torch_cases, ids=[c[0] for c in torch_cases])
def test_gradients_match_pytorch(name, ours, theirs, x):
    torch = pytest.importorskip("torch")
    fn = torch
    for part in theirs.split("."):
        fn = getattr(fn, part)
    t = cr.tensor(x, requires_grad=True)
    ours(t).sum().backward()
    q = torch.tensor(x, requires_grad=True)
    fn(q).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_binary_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    x, y = rng.standard_normal(20), np.abs(rng.standard_normal(20)) + 0.1
    tx, ty = cr.tensor(x, requires_grad=True), cr.tensor(y, requires_grad=True)
    SP.xlogy(tx, ty).sum().backward()
    qx, qy = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    torch.special.xlogy(qx, qy).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), qx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ty.grad.numpy(), qy.grad.numpy(), rtol=1e-12)
    tx, ty = cr.tensor(x, requires_grad=True), cr.tensor(y, requires_grad=True)
    SP.xlog1py(tx, ty).sum().backward()
    qx, qy = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    torch.special.xlog1py(qx, qy).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), qx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ty.grad.numpy(), qy.grad.numpy(), rtol=1e-12)


def test_erf_is_one_primitive():
    from chainrule import rules_special
    from chainrule.primitives import REGISTRY

    assert REGISTRY["erf"] is rules_special.erf
    x = cr.tensor([0.3], requires_grad=True)
    assert SP.erf(x)._node.prim is rules_special.erf


def test_complex_input_is_refused_by_the_real_functions():
    z = cr.tensor(np.array([1 + 1j]))
    for f, name in [
        (SP.erfinv, "erfinv"),
        (SP.gammaln, "gammaln"),
        (SP.gamma, "gamma"),
        (SP.rgamma, "rgamma"),
        (SP.erfcinv, "erfcinv"),
        (SP.loggamma, "loggamma"),
        (lambda v: SP.beta(v, 1.0), "beta"),
        (lambda v: SP.betaln(1.0, v), "betaln"),
        (lambda v: SP.multigammaln(v, 2), "multigammaln"),
        (SP.logsumexp, "logsumexp"),
    ]:
        with pytest.raises(TypeError, match=f"{name}: does not support complex"):
            f(z)


def test_no_scipy_needed_at_import():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "import chainrule as cr\n"
        "print(round(cr.special.erf(cr.tensor(0.5)).item(), 6))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0.5205"
