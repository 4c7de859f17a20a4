"""cr.special's gamma and beta family (gamma, rgamma, gammasgn, beta, betaln, loggamma,
multigammaln), erfcinv, scipy's weighted logsumexp and the complex erf and erfc: values
against scipy.special (skipped without SciPy) and mpmath where SciPy loses digits, edge
values and dtypes as SciPy gives them, and derivatives of every order against closed
forms, central differences and PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from checker import check_grads, check_grads_complex

SP = cr.special
rng = np.random.default_rng(7)
EULER = 0.5772156649015329


def rel_err(got, ref, floor=1e-290):
    got, ref = np.asarray(got), np.asarray(ref)
    with np.errstate(all="ignore"):
        err = np.abs(got - ref) / np.abs(ref)
    err[(got == ref) | (np.abs(ref) < floor)] = 0  # equal infinities; subnormal results
    return float(np.nanmax(err)) if err.size else 0.0


def scipy_special():
    return pytest.importorskip("scipy.special")


POSITIVE = np.concatenate([np.linspace(0.001, 171.6, 20000), np.logspace(-300, 2.2, 500)])
NEGATIVE = -np.concatenate([np.linspace(0.0013, 170.3, 5000), np.logspace(-300, 0, 200)])
NEGATIVE = NEGATIVE[NEGATIVE != np.floor(NEGATIVE)]


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("name", ["gamma", "rgamma"])
def test_gamma_and_rgamma_match_scipy(name):
    special = scipy_special()
    ours, theirs = getattr(SP, name), getattr(special, name)
    assert rel_err(ours(POSITIVE).numpy(), theirs(POSITIVE)) < 2e-15
    assert rel_err(ours(NEGATIVE).numpy(), theirs(NEGATIVE)) < 2e-15


def test_gamma_matches_mpmath_where_scipy_underflows():
    # Gamma(x) for x < -170.6 and 1/Gamma(x) for x > 171.6 are subnormal: SciPy gives 0
    mpmath = pytest.importorskip("mpmath")
    x = np.array([-170.9, -171.5, -172.25])
    ref = np.array([float(mpmath.gamma(v)) for v in x])
    np.testing.assert_allclose(SP.gamma(x).numpy(), ref, rtol=1e-6)  # (subnormal digits)
    assert np.all(SP.gamma(x).numpy() != 0)
    np.testing.assert_allclose(SP.rgamma(np.array([171.7])).numpy(), 3.77039886193425e-309)


def test_gamma_edges_as_scipy():
    inf, nan = np.inf, np.nan
    x = np.array([0.0, -0.0, -1.0, -2.0, inf, -inf, nan, 171.7, 1e-310])
    g = SP.gamma(x).numpy()
    np.testing.assert_array_equal(g[[0, 1, 4, 7, 8]], [inf, -inf, inf, inf, inf])
    assert np.isnan(g[[2, 3, 5, 6]]).all()
    r = SP.rgamma(x).numpy()
    np.testing.assert_array_equal(r[[0, 2, 3, 4, 5, 8]], [0.0, 0.0, 0.0, 0.0, 0.0, 1e-310])
    assert np.signbit(r[1]) and np.isnan(r[6])
    s = SP.gammasgn(x).numpy()
    np.testing.assert_array_equal(s[[0, 1, 4]], [1.0, -1.0, 1.0])
    assert np.isnan(s[[2, 3, 5, 6]]).all()
    np.testing.assert_array_equal(SP.rgamma(-np.array([171.5, 180.5])).numpy(), [inf, -inf])


def test_gamma_exact_values():
    np.testing.assert_array_equal(
        SP.gamma(np.arange(1.0, 12.0)).numpy(), [math.factorial(n) for n in range(11)]
    )
    np.testing.assert_allclose(SP.gamma(0.5).item() ** 2, math.pi, rtol=2e-16)
    np.testing.assert_allclose(SP.gamma(-0.5).item(), -2 * math.sqrt(math.pi), rtol=2e-16)


def test_gammasgn_matches_scipy():
    special = scipy_special()
    x = np.concatenate([POSITIVE, NEGATIVE, [0.0, -0.0, -1.0, -3.0, np.inf, -np.inf, np.nan]])
    np.testing.assert_array_equal(SP.gammasgn(x).numpy(), special.gammasgn(x))


def test_gammasgn_carries_no_gradient():
    x = cr.tensor([2.5, -0.5], requires_grad=True)
    assert not SP.gammasgn(x).requires_grad
    g = cr.grad(lambda t: (SP.gammasgn(t) * t).sum())(x)  # d(sgn x)/dx = 0 -> grad = sgn
    np.testing.assert_array_equal(g.numpy(), [1.0, -1.0])


BETA_SETS = {
    "small": (rng.uniform(0.01, 10, 3000), rng.uniform(0.01, 10, 3000)),
    "mixed": (10 ** rng.uniform(-3, 6, 3000), 10 ** rng.uniform(-3, 6, 3000)),
    "to-170": (rng.uniform(1, 170, 3000), rng.uniform(1, 170, 3000)),
    "negative": (rng.uniform(-20, 20, 3000), rng.uniform(-20, 20, 3000)),
}


@pytest.mark.parametrize("name", list(BETA_SETS))
def test_beta_and_betaln_match_mpmath(name):
    # (SciPy's own beta loses up to 9 digits on "mixed" and 12 on "negative": mpmath is the
    # reference; its values are checked against SciPy's on the easy set below)
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    a, b = BETA_SETS[name]
    a, b = a[:400], b[:400]
    exact = [mpmath.beta(mpmath.mpf(x), mpmath.mpf(y)) for x, y in zip(a, b)]
    ref = np.array([float(v) for v in exact])
    ref_log = np.array([float(mpmath.log(abs(v))) for v in exact])
    tol = {"small": 2e-15, "mixed": 2e-13, "to-170": 1e-13, "negative": 1e-14}[name]
    assert rel_err(SP.beta(a, b).numpy(), ref) < tol
    # log |B| crosses 0: its error relative to max(1, |log B|)
    err = np.abs(SP.betaln(a, b).numpy() - ref_log) / np.maximum(1.0, np.abs(ref_log))
    assert err.max() < 5e-15


def test_beta_and_betaln_match_scipy():
    special = scipy_special()
    a, b = BETA_SETS["small"]
    assert rel_err(SP.beta(a, b).numpy(), special.beta(a, b)) < 1e-14
    want = special.betaln(a, b)  # (log B crosses 0: error relative to max(1, |log B|))
    assert np.max(np.abs(SP.betaln(a, b).numpy() - want) / np.maximum(1, np.abs(want))) < 1e-14
    # the poles, infinities and NaNs: SciPy's (Cephes') values, inf, -inf and nan included
    v = np.array([-np.inf, -3, -2.5, -1, -0.5, -0.0, 0, 0.5, 1, 2, 3, np.inf, np.nan])
    A, B = np.meshgrid(v, v)
    for ours, theirs in [(SP.beta, special.beta), (SP.betaln, special.betaln)]:
        got, want = ours(A, B).numpy(), theirs(A, B)
        np.testing.assert_allclose(got, want, rtol=1e-15, equal_nan=True)


def test_beta_limits_at_poles():
    # a = -n with an integer b, 1 - a - b > 0: (-1)^b B(1 - a - b, b); inf otherwise
    np.testing.assert_allclose(SP.beta(-3.0, 2.0).item(), 1 / 6, rtol=1e-15)
    np.testing.assert_allclose(SP.beta(-3.0, 3.0).item(), -1 / 3, rtol=1e-15)
    np.testing.assert_allclose(SP.beta(2.0, -3.0).item(), 1 / 6, rtol=1e-15)
    np.testing.assert_array_equal(SP.beta(np.array([-1.0, 0.0, -0.0]), 2.0).numpy(), np.inf)
    np.testing.assert_array_equal(SP.beta(-1.0, 2.5).numpy(), np.inf)
    np.testing.assert_array_equal(SP.beta(-2.0, 2.0).numpy(), 0.5)  # B(1, 2), as SciPy
    np.testing.assert_allclose(SP.betaln(-3.0, 2.0).item(), math.log(1 / 6), rtol=1e-15)


def test_betaln_keeps_its_digits_for_large_arguments():
    # log B(a, 1) = -log a exactly; log B(a, 2) = -log(a (a + 1))
    a = np.logspace(1, 12, 50)
    np.testing.assert_allclose(SP.betaln(a, 1.0).numpy(), -np.log(a), rtol=4e-16)
    np.testing.assert_allclose(SP.betaln(2.0, a).numpy(), -np.log(a) - np.log1p(a), rtol=4e-16)
    # (B itself, exp(log B) there, is good to |log B| ulps: 4e-15 at a = 1e8)
    np.testing.assert_allclose(SP.beta(a, 1.0).numpy(), 1 / a, rtol=1e-14)


def test_loggamma_is_gammaln_for_nonnegative_x_and_nan_below():
    special = scipy_special()
    x = np.concatenate([POSITIVE[::10], [0.0, -0.0, np.inf], NEGATIVE[::50]])
    x = x[(x < 0.9) | (x > 2.1)]  # (near gammaln's zeros SciPy's own loses digits)
    np.testing.assert_allclose(
        SP.loggamma(x).numpy(), special.loggamma(x), rtol=2e-15, equal_nan=True
    )


def test_multigammaln_matches_scipy_and_raises_as_it_does():
    special = scipy_special()
    a = rng.uniform(4.0, 30.0, (3, 4))
    for d in (1, 2, 3, 7):
        np.testing.assert_allclose(
            SP.multigammaln(a, d).numpy(), special.multigammaln(a, d), rtol=1e-14
        )
    with pytest.raises(ValueError, match=r"multigammaln: condition a \(0.2\) > 0.5 \* \(d-1\)"):
        SP.multigammaln(np.array([3.0, 0.2]), 2)
    for d in (2.5, 0, -1, "2", None):
        with pytest.raises(ValueError, match="d should be a positive integer"):
            SP.multigammaln(3.0, d)


def test_multigammaln_traced_at_other_inputs_is_nan_outside_the_domain():
    from chainrule.ir import trace_program

    program, _ = trace_program(lambda a: SP.multigammaln(a, 3), np.array([4.0, 5.0]))
    out = program(np.array([0.7, 5.0]))
    assert np.isnan(out[0]) and np.isfinite(out[1])


def test_erfcinv_matches_mpmath_and_scipy():
    mpmath = pytest.importorskip("mpmath")
    for y, digits in [
        (np.logspace(-320, -1, 40), 340),  # 1 - y must be exact for y down to 1e-320
        (np.concatenate([np.linspace(0.001, 1.999, 301), 2 - np.logspace(-16, -1, 20)]), 40),
    ]:
        mpmath.mp.dps = digits
        ref = np.array([float(mpmath.erfinv(1 - mpmath.mpf(v))) if v != 1 else 0.0 for v in y])
        assert rel_err(SP.erfcinv(y).numpy(), ref) < 1e-15
    special = scipy_special()
    y = np.linspace(0.0, 2.0, 4001)
    assert rel_err(SP.erfcinv(y).numpy(), special.erfcinv(y)) < 2e-15
    edges = np.array([0.0, 2.0, -1.0, 3.0, 1.0, np.nan])
    np.testing.assert_array_equal(SP.erfcinv(edges).numpy(), special.erfcinv(edges))


def test_dtypes_and_shapes():
    x32 = np.array([0.5, 2.5], dtype=np.float32)
    for f in (
        SP.gamma,
        SP.rgamma,
        SP.gammasgn,
        SP.loggamma,
        SP.erfcinv,
        lambda x: SP.multigammaln(x + 1, 2),
        lambda x: SP.beta(x, x),
        lambda x: SP.betaln(x, 2.0),
        lambda x: SP.beta(2.0, x),
        SP.logsumexp,
        lambda x: SP.logsumexp(x, b=x),
        lambda x: SP.logsumexp(x, return_sign=True)[1],
    ):
        assert f(x32).dtype == np.float32
    assert SP.gamma(np.array([1, 2])).dtype == np.float64  # integers compute in float64
    assert SP.beta(2, 3).dtype == np.float64 and SP.beta(2, 3).shape == ()
    assert SP.beta(np.ones((2, 1)), np.ones(3)).shape == (2, 3)
    z64 = np.array([1 + 1j], dtype=np.complex64)
    assert SP.erf(z64).dtype == np.complex64 and SP.erfc(z64).dtype == np.complex64


# --------------------------------------------------------------------------- logsumexp


def test_logsumexp_without_weights_is_the_core_primitive():
    x = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    out = SP.logsumexp(x, axis=1)
    assert out._node.prim.name == "logsumexp"
    np.testing.assert_array_equal(out.numpy(), cr.logsumexp(x, axis=1).numpy())


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_matches_scipy(axis, keepdims):
    special = scipy_special()
    a = rng.standard_normal((3, 4, 2)) * 10
    b = rng.uniform(0.1, 2.0, (4, 1))
    bneg = rng.standard_normal((3, 4, 2))
    for kw in ({}, {"b": b}, {"b": b, "return_sign": True}, {"b": bneg, "return_sign": True}):
        ours = SP.logsumexp(a, axis=axis, keepdims=keepdims, **kw)
        theirs = special.logsumexp(a, axis=axis, keepdims=keepdims, **kw)
        if kw.get("return_sign"):
            np.testing.assert_allclose(ours[0].numpy(), theirs[0], rtol=1e-13)
            np.testing.assert_array_equal(ours[1].numpy(), theirs[1])
        else:
            np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-14)
            assert ours.shape == np.shape(theirs)


def test_logsumexp_weights_edges_as_scipy():
    special = scipy_special()
    cases = [
        ([1000.0, 1.0], [0.0, 1.0]),  # the largest a has weight 0: shifted by the next
        ([1.0, 2.0], [1.0, -1.0]),  # a negative sum: nan (or its sign, below)
        ([1.0, 2.0], [0.0, 0.0]),  # no weight: -inf, sign 0
        ([-np.inf, -np.inf], [1.0, 1.0]),
        ([np.inf, 1.0], [1.0, 1.0]),
        ([np.nan, 1.0], [1.0, 1.0]),
    ]
    for a, b in cases:
        a, b = np.array(a), np.array(b)
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(SP.logsumexp(a, b=b).numpy(), special.logsumexp(a, b=b))
            out, sign = SP.logsumexp(a, b=b, return_sign=True)
            want, want_sign = special.logsumexp(a, b=b, return_sign=True)
        np.testing.assert_array_equal([out.item(), sign.item()], [want, want_sign])
    with pytest.raises(ValueError, match=r"logsumexp: a of shape \(2, 3\) and b of shape \(2,\)"):
        SP.logsumexp(np.ones((2, 3)), b=np.ones(2))


def test_logsumexp_gradients_in_a_and_b():
    # d/da = b e^(a - out) / sign, d/db = e^(a - out) / sign; exact at zero weights too
    a = cr.tensor([0.5, 1.5, -1.0], requires_grad=True)
    b = cr.tensor([2.0, 0.0, -0.5], requires_grad=True)
    out, sign = SP.logsumexp(a, b=b, return_sign=True)
    out.backward()
    total = float(np.sum(b.numpy() * np.exp(a.numpy())))
    np.testing.assert_allclose(a.grad.numpy(), b.numpy() * np.exp(a.numpy()) / total, rtol=1e-15)
    np.testing.assert_allclose(b.grad.numpy(), np.exp(a.numpy()) / total, rtol=1e-15)
    assert a.grad.numpy()[1] == 0.0  # (exactly: no rounding through the shift)
    assert sign.item() == 1.0 and not sign.requires_grad


def test_logsumexp_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 5)) * 3
    t = cr.tensor(x, requires_grad=True)
    (SP.logsumexp(t, axis=1) ** 2).sum().backward()
    q = torch.tensor(x, requires_grad=True)
    (torch.logsumexp(q, dim=1) ** 2).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    # with weights: log sum b e^a = logsumexp(a + log b) for b > 0
    b = rng.uniform(0.5, 2.0, 5)
    t.grad = None
    (SP.logsumexp(t, axis=1, b=b) ** 2).sum().backward()
    q.grad = None
    (torch.logsumexp(q + torch.log(torch.tensor(b)), dim=1) ** 2).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def test_logsumexp_traced_program_recomputes_the_shift():
    # the shift is computed in the program (not frozen at the traced input): far larger
    # inputs later neither overflow nor lose the weights
    from chainrule.ir import trace_program

    b = np.array([1.0, 0.5, 2.0])
    program, _ = trace_program(lambda a: SP.logsumexp(a, b=b), np.array([0.0, 1.0, 2.0]))
    big = np.array([1000.0, 1001.0, 999.0])
    np.testing.assert_allclose(
        program(big), 1001.0 + np.log(np.sum(b * np.exp(big - 1001.0))), rtol=1e-15
    )


# --------------------------------------------------------------------------- complex erf


def _grid(xs, ys):
    x, y = np.meshgrid(xs, ys)
    return (x + 1j * y).ravel()


COMPLEX_SETS = {
    "square-6": _grid(np.linspace(-6, 6, 97), np.linspace(-6, 6, 97)),
    "near-imaginary-axis": _grid([0.0, 1e-300, 1e-12, -1e-6, 1e-3], np.linspace(-26, 26, 105)),
    "large-im": _grid(np.linspace(0, 40, 21), np.linspace(20, 40, 21)),
    "near-real-axis": _grid(np.linspace(-8, 8, 81), [0.0, 1e-10, -1e-3]),
    "small": rng.standard_normal(100) * 1e-3 + 1j * rng.standard_normal(100) * 1e-3,
}


@pytest.mark.parametrize("name", list(COMPLEX_SETS))
@pytest.mark.parametrize("fn", ["erf", "erfc"])
def test_complex_erf_matches_scipy(fn, name):
    special = scipy_special()
    z = COMPLEX_SETS[name]
    with np.errstate(all="ignore"):
        ours, theirs = getattr(SP, fn)(z).numpy(), getattr(special, fn)(z)
    # finite wherever SciPy's is (SciPy overflows a little early: erf(4 + 27j) = 7e307)
    assert not np.any(np.isfinite(theirs) & ~np.isfinite(ours))
    both = np.isfinite(ours) & np.isfinite(theirs)
    limit = {"large-im": 2e-12}.get(name, 1e-13)
    assert rel_err(ours[both], theirs[both]) < limit


@pytest.mark.parametrize("name", ["square-6", "near-imaginary-axis", "small"])
def test_complex_erf_matches_mpmath_part_by_part(name):
    # relative error of the modulus, and of the real and imaginary parts on their own
    # (near the imaginary axis the real part is tiny beside |erf|: it keeps its digits)
    mpmath = pytest.importorskip("mpmath")
    # (near the axis the real part of erf(1e-300 + 26j) is 1e-299 |erf|: 330 digits)
    mpmath.mp.dps = 330 if name == "near-imaginary-axis" else 30
    z = COMPLEX_SETS[name][:: {"square-6": 7, "near-imaginary-axis": 3}.get(name, 1)]
    for fn in ("erf", "erfc"):
        ref = np.array([complex(getattr(mpmath, fn)(mpmath.mpc(c.real, c.imag))) for c in z])
        got = getattr(SP, fn)(z).numpy()
        assert rel_err(got, ref) < 5e-14, fn
        if name != "square-6":  # (at erf's zeros a part may be 0 to every digit)
            assert rel_err(got.real, ref.real) < 5e-14, fn
            assert rel_err(got.imag, ref.imag) < 5e-14, fn


def test_complex_erf_edges():
    inf = np.inf
    z = np.array([complex(inf, 1.0), complex(-inf, 1.0), complex(0.0, inf), complex(0.0, -inf)])
    np.testing.assert_array_equal(SP.erf(z).numpy(), [1, -1, complex(0, inf), complex(0, -inf)])
    np.testing.assert_array_equal(SP.erfc(z[:2]).numpy(), [0, 2])
    assert np.isnan(SP.erf(np.array([complex(np.nan, 0.0), complex(1.0, inf)])).numpy()).all()
    # real inputs through the complex path: Cody's real erf, to the last place
    x = np.linspace(-8, 8, 161)
    np.testing.assert_array_equal(SP.erf(x + 0j).numpy().real, SP.erf(x).numpy())
    assert np.all(SP.erf(x + 0j).numpy().imag == 0)
    # overflow: infinities with the signs of -e^(-z^2) / z, as SciPy's
    special = pytest.importorskip("scipy.special")
    big = np.array([1 + 30j, 30j, 0.5 + 27j, -1 - 30j])
    np.testing.assert_array_equal(SP.erf(big).numpy(), special.erf(big))


def test_complex_erf_gradient_is_pytorch_convention():
    # holomorphic: for the real loss Re(sum(erf(z))), z.grad = conj(erf'(z)), as for exp
    z0 = np.array([0.3 + 0.4j, -1.2 + 2.0j, 2.5 - 0.7j])
    z = cr.tensor(z0, requires_grad=True)
    cr.real(SP.erf(z)).sum().backward()
    np.testing.assert_allclose(
        z.grad.numpy(), np.conj(2 / np.sqrt(np.pi) * np.exp(-(z0**2))), rtol=1e-14
    )
    z.grad = None
    cr.real(SP.erfc(z)).sum().backward()
    np.testing.assert_allclose(
        z.grad.numpy(), -np.conj(2 / np.sqrt(np.pi) * np.exp(-(z0**2))), rtol=1e-14
    )


def test_complex_erf_gradients_match_pytorch():
    # PyTorch has no complex erf: its Taylor series (exact to rounding for |z| < 1.5 in 60
    # terms) differentiated by torch's complex autograd is the reference
    torch = pytest.importorskip("torch")
    z0 = np.array([0.3 + 0.4j, -0.9 + 0.8j, 1.1 - 0.2j])
    u = np.array([1.0 - 0.5j, 0.25 + 2.0j, -1.0 + 1.0j])

    def taylor(q):
        total, term = torch.zeros_like(q), q.clone()
        for n in range(60):
            total = total + term / (2 * n + 1)
            term = -term * q * q / (n + 1)
        return total * (2 / math.sqrt(math.pi))

    q = torch.tensor(z0, requires_grad=True)
    (torch.conj(torch.tensor(u)) * taylor(q)).real.sum().backward()
    z = cr.tensor(z0, requires_grad=True)
    cr.real(cr.conj(cr.tensor(u)) * SP.erf(z)).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), q.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(SP.erf(z0).numpy(), taylor(torch.tensor(z0)).numpy(), rtol=1e-14)


def test_complex_erf_higher_orders():
    z = [rng.standard_normal(4) * 2 + 1j * rng.standard_normal(4) * 2]
    check_grads_complex(SP.erf, z, order=3)
    check_grads_complex(SP.erfc, z, order=2)


# --------------------------------------------------------------------------- derivatives


def test_known_derivatives():
    one = cr.tensor(1.0)
    # gamma'(1) = -euler, gamma''(1) = euler^2 + pi^2 / 6
    g1, g2 = cr.grad(SP.gamma), cr.grad(cr.grad(SP.gamma))
    np.testing.assert_allclose(g1(one).item(), -EULER, rtol=1e-14)
    np.testing.assert_allclose(g2(one).item(), EULER**2 + math.pi**2 / 6, rtol=1e-14)
    # 1/Gamma at its zeros -n: first derivative (-1)^n n!; 1/Gamma(x) = x + euler x^2 + ...
    x = cr.tensor([0.0, -1.0, -2.0, -3.0, -4.0])
    d1 = cr.grad(lambda t: SP.rgamma(t).sum())(x)
    np.testing.assert_array_equal(d1.numpy(), [1.0, -1.0, 2.0, -6.0, 24.0])
    d2 = cr.grad(lambda t: cr.grad(lambda s: SP.rgamma(s).sum())(t).sum())(x)
    np.testing.assert_allclose(d2.numpy()[0], 2 * EULER, rtol=1e-14)
    _, tangent = cr.jvp(SP.rgamma, (x,), (cr.ones_like(x),))
    np.testing.assert_array_equal(tangent.numpy(), [1.0, -1.0, 2.0, -6.0, 24.0])
    # d/da B(a, b) = B (psi(a) - psi(a + b)): at (2, 3), (1/12) (-1/2 - 1/3 - 1/4)
    a = cr.tensor(2.0)
    np.testing.assert_allclose(cr.grad(lambda t: SP.beta(t, 3.0))(a).item(), -13 / 144, rtol=1e-14)
    np.testing.assert_allclose(cr.grad(lambda t: SP.betaln(t, 3.0))(a).item(), -13 / 12, rtol=1e-14)
    # erfcinv' = -sqrt(pi)/2 exp(erfcinv^2)
    y = 0.3
    r = SP.erfcinv(y).item()
    np.testing.assert_allclose(
        cr.grad(SP.erfcinv)(cr.tensor(y)).item(),
        -math.sqrt(math.pi) / 2 * math.exp(r * r),
        rtol=1e-14,
    )


def test_rgamma_second_derivatives_at_its_zeros_match_mpmath():
    mpmath = pytest.importorskip("mpmath")
    x = cr.tensor([0.0, -1.0, -2.0, -3.0])
    d2 = cr.grad(lambda t: cr.grad(lambda s: SP.rgamma(s).sum())(t).sum())(x)
    ref = [float(mpmath.diff(mpmath.rgamma, v, 2)) for v in (0, -1, -2, -3)]
    np.testing.assert_allclose(d2.numpy(), ref, rtol=1e-13)


def test_high_order_checks():
    x = np.abs(rng.standard_normal(3)) + 0.5
    for f in (SP.gamma, SP.rgamma, SP.erfcinv, lambda t: SP.rgamma(-2.5 * t)):
        check_grads(f, [x * 0.6], order=3)
    check_grads(SP.beta, [x, x[::-1]], order=3)
    check_grads(SP.betaln, [x, x[::-1] * 20], order=3)
    check_grads(lambda t: SP.multigammaln(t, 4), [x + 2], order=3)
    a = rng.standard_normal((3, 2))
    check_grads(lambda a, b: SP.logsumexp(a, axis=0, b=b), [a, x[:2]], order=3)


torch_cases = [
    ("multigammaln", lambda x: SP.multigammaln(x, 3), lambda t, x: t.special.multigammaln(x, 3)),
    ("loggamma", SP.loggamma, lambda t, x: t.special.gammaln(x)),
    ("gamma", SP.gamma, lambda t, x: t.exp(t.special.gammaln(x))),
    ("erfcinv", lambda x: SP.erfcinv(x / 10), lambda t, x: t.special.erfinv(1 - x / 10)),
]


@pytest.mark.parametrize("name, ours, theirs", torch_cases, ids=[c[0] for c in torch_cases])
def test_gradients_match_pytorch(name, ours, theirs):
    torch = pytest.importorskip("torch")
    x = np.linspace(1.05, 9.5, 41)
    t = cr.tensor(x, requires_grad=True)
    ours(t).sum().backward()
    q = torch.tensor(x, requires_grad=True)
    theirs(torch, q).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), q.grad.numpy(), rtol=1e-9)
