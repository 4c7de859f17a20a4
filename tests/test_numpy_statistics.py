"""chainrule.numpy's quantiles, covariances, convolutions, heaviside, modf, ldexp, r_ and c_
beyond the table's rows: NumPy's values over every method, axis and NaN layout, the pinned
derivative choices, and clear errors for what is refused."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

METHODS = ["linear", "lower", "higher", "nearest", "midpoint"]


@pytest.mark.parametrize("method", METHODS)
def test_quantiles_equal_numpys_for_every_axis_and_q(method):
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    for q, axis, keepdims in itertools.product(
        [0.0, 0.3, 0.5, 1.0, [0.1, 0.9], [[0.25], [0.75]]], [None, 0, -1, (0, 2)], [False, True]
    ):
        ours = cnp.quantile(x, q, axis=axis, method=method, keepdims=keepdims).numpy()
        theirs = np.quantile(x, q, axis=axis, method=method, keepdims=keepdims)
        assert ours.shape == theirs.shape, (q, axis, keepdims)
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_nanquantiles_skip_nans_and_quantiles_propagate_them(method):
    x = np.random.default_rng(1).standard_normal((3, 4, 5))
    x[0, 1, :3] = np.nan
    x[1, 2, :] = np.nan  # an all-NaN slice: NaN (NumPy warns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for q, axis in itertools.product([0.3, [0.1, 0.5, 1.0]], [None, -1, (1, 2)]):
            for ours_fn, np_fn in [(cnp.nanquantile, np.nanquantile), (cnp.quantile, np.quantile)]:
                ours = ours_fn(x, q, axis=axis, method=method).numpy()
                theirs = np_fn(x, q, axis=axis, method=method)
                np.testing.assert_allclose(ours, theirs, equal_nan=True, err_msg=str((q, axis)))
        np.testing.assert_allclose(
            cnp.nanmedian(x, axis=2).numpy(), np.nanmedian(x, axis=2), equal_nan=True
        )


def test_quantile_gradient_splits_between_the_two_order_statistics():
    # q = 0.3 of 5 values: position 1.2 between the 2nd and 3rd smallest, weights 0.8 / 0.2
    x = cr.tensor([5.0, 1.0, 4.0, 2.0, 3.0], requires_grad=True)
    cnp.quantile(x, 0.3).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 0.0, 0.8, 0.2])
    # at ties the stable sort decides: the first of two equal values is the lower statistic
    t = cr.tensor([1.0, 2.0, 2.0, 3.0], requires_grad=True)
    cnp.quantile(t, 1 / 3, method="lower").backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0.0, 1.0, 0.0, 0.0])


def test_quantile_refuses_what_it_does_not_do():
    x = cr.tensor([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="quantile: method='hazen' is not supported"):
        cnp.quantile(x, 0.5, method="hazen")
    with pytest.raises(TypeError, match="quantile: q is a position"):
        cnp.quantile(x, cr.tensor(0.5, requires_grad=True))
    with pytest.raises(ValueError, match=r"percentile: q must be in the range \[0, 100\]"):
        cnp.percentile(x, 120)
    with pytest.raises(TypeError, match="quantile: a must be real"):
        cnp.quantile(x + 1j, 0.5)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"bias": True}, {"ddof": 0}, {"ddof": 2}, {"fw": True}, {"aw": True}, {"fw": 1, "aw": 1}],
)
def test_cov_equals_numpys(kwargs):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((3, 6)), rng.standard_normal((2, 6))
    kw = {k: v for k, v in kwargs.items() if k in ("bias", "ddof")}
    if "fw" in kwargs:
        kw["fweights"] = rng.integers(1, 4, 6)
    if "aw" in kwargs:
        kw["aweights"] = rng.random(6)
    np.testing.assert_allclose(cnp.cov(x, **kw).numpy(), np.cov(x, **kw))
    np.testing.assert_allclose(cnp.cov(x, y, **kw).numpy(), np.cov(x, y, **kw))
    np.testing.assert_allclose(
        cnp.cov(x.T, rowvar=False, **kw).numpy(), np.cov(x.T, rowvar=False, **kw)
    )
    np.testing.assert_allclose(cnp.corrcoef(x, y).numpy(), np.corrcoef(x, y))


def test_cov_errors_name_the_argument():
    with pytest.raises(ValueError, match="cov: m and y must have the same number of observations"):
        cnp.cov(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="cov: aweights must be 1-d of length 3"):
        cnp.cov(np.ones((2, 3)), aweights=np.ones(4))


@pytest.mark.parametrize("n,m", [(5, 3), (3, 5), (4, 4), (1, 3), (3, 1), (1, 1)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_and_correlate_equal_numpys(n, m, mode):
    rng = np.random.default_rng(n * 10 + m)
    a = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    v = rng.standard_normal(m) + 1j * rng.standard_normal(m)
    for name in ("convolve", "correlate"):
        ours = getattr(cnp, name)(a, v, mode).numpy()
        theirs = getattr(np, name)(a, v, mode)
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-13, err_msg=name)
    with pytest.raises(ValueError, match="convolve: a and v must be 1-d"):
        cnp.convolve(np.ones((2, 2)), v)


def test_heaviside_derivative_is_zero_in_x1_and_the_mask_in_x2():
    x1 = cr.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x2 = cr.tensor([0.3, 0.4, 0.5], requires_grad=True)
    cnp.heaviside(x1, x2).sum().backward()
    np.testing.assert_array_equal(x1.grad.numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(x2.grad.numpy(), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(
        cnp.heaviside(np.float32([-1, 0, np.nan]), 0.5).numpy(),
        np.heaviside(np.float32([-1, 0, np.nan]), 0.5),
    )


def test_modf_keeps_numpys_signs_and_has_derivatives_one_and_zero():
    x = np.array([2.5, -1.25, np.inf, -np.inf, np.nan, 0.0, -0.0, -3.0])
    for ours, theirs in zip(cnp.modf(x), np.modf(x)):
        np.testing.assert_array_equal(ours.numpy(), theirs)
        np.testing.assert_array_equal(np.signbit(ours.numpy()), np.signbit(theirs))
    t = cr.tensor([2.5, -1.25, -3.0], requires_grad=True)
    frac, whole = cnp.modf(t)
    (frac + 10 * whole).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [1.0, 1.0, 1.0])


def test_ldexp_is_exact_and_wants_integer_exponents():
    x = np.array([1.5, -3.0, 0.1])
    np.testing.assert_array_equal(
        cnp.ldexp(x, np.array([2, -3, 10])).numpy(), np.ldexp(x, [2, -3, 10])
    )
    with pytest.raises(TypeError, match="ldexp: the exponent x2 must be integers"):
        cnp.ldexp(x, 2.0)


def test_r_and_c_follow_numpys_directives_and_record():
    a = np.array([1.0, 2.0])
    b = np.array([[1.0, 2.0], [3.0, 4.0]])
    for build in [
        lambda m: m.r_[a, 0.0, 5:7],
        lambda m: m.r_[-1:1:5j, a],
        lambda m: m.r_["0,2", a, a],
        lambda m: m.r_["1,2,0", a, a],
        lambda m: m.r_["0,2,1", a, b],
        lambda m: m.c_[b, a],
        lambda m: m.c_[1, 2],
        lambda m: m.r_[np.float32([1, 2]), 1.0],
    ]:
        ours, theirs = build(cnp), build(np)
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours.numpy(), theirs)
    x = cr.tensor(a, requires_grad=True)
    (cnp.c_[x, x * 2] * np.arange(4.0).reshape(2, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 8.0])
    with pytest.raises(TypeError, match="r_: the matrix directive 'r' is not supported"):
        cnp.r_["r", a]


def test_numpys_own_functions_dispatch_to_the_new_ones():
    x = cr.tensor([3.0, 1.0, 2.0, 5.0], requires_grad=True)
    total = np.quantile(x, 0.5) + np.cov(x) + np.trapezoid(x) + np.polyval(x, 2.0)
    total = total + np.convolve(x, np.ones(2)).sum() + np.heaviside(x, 0.5).sum()
    total.backward()
    assert isinstance(total, cr.Tensor) and x.grad is not None


def test_interp_equals_numpys_exactly_and_its_slope_is_the_right_segments():
    rng = np.random.default_rng(4)
    xp = np.sort(rng.standard_normal(6))
    fp = rng.standard_normal(6)
    x = np.concatenate([2 * rng.standard_normal(20), xp, [xp[0] - 1, xp[-1] + 1]])
    for kw in [{}, {"left": -5.0}, {"left": 1.0, "right": 7.0}]:
        np.testing.assert_array_equal(
            cnp.interp(x, xp, fp, **kw).numpy(), np.interp(x, xp, fp, **kw)
        )
    fc = fp + 1j * rng.standard_normal(6)
    np.testing.assert_allclose(cnp.interp(x, xp, fc).numpy(), np.interp(x, xp, fc), rtol=1e-14)
    # at a knot the derivative is the slope of the segment to its right; 0 outside
    t = cr.tensor([1.0, -1.0, 4.0], requires_grad=True)
    cnp.interp(t, [0.0, 1.0, 3.0], [0.0, 2.0, 3.0]).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0.5, 0.0, 0.0])
    with pytest.raises(ValueError, match="interp: fp and xp are not of the same length"):
        cnp.interp(0.5, [0.0, 1.0], [1.0])
    with pytest.raises(TypeError, match="interp: period= is not supported"):
        cnp.interp(0.5, [0.0, 1.0], [1.0, 2.0], period=1.0)


def test_searchsorted_is_numpys_and_records_no_gradient():
    a = np.array([1.0, 2.0, 2.0, 3.0])
    v = cr.tensor([2.0, 0.5, 9.0], requires_grad=True)
    for side in ("left", "right"):
        out = cnp.searchsorted(a, v, side=side)
        np.testing.assert_array_equal(out.numpy(), np.searchsorted(a, v.numpy(), side=side))
        assert not out.requires_grad
    with pytest.raises(ValueError, match="searchsorted: side must be"):
        cnp.searchsorted(a, v, side="middle")


def test_delete_insert_resize_follow_numpy_in_every_form():
    x = np.arange(12.0).reshape(3, 4)
    for build in [
        lambda m: m.delete(x, 1),
        lambda m: m.delete(x, slice(0, 3, 2), axis=1),
        lambda m: m.delete(x, np.array([True, False, True, False]), axis=1),
        lambda m: m.insert(x, 1, [[1.0], [2.0], [3.0]], axis=1),
        lambda m: m.insert(x, [1], [[1.0], [2.0], [3.0]], axis=1),
        lambda m: m.insert(x, slice(1, 3), [9.0, 8.0]),
        lambda m: m.insert(x, 2, np.array([1, 2, 3, 4]), axis=0),
        lambda m: m.resize(x, (2, 7)),
        lambda m: m.resize(x, 5),
    ]:
        ours, theirs = build(cnp), build(np)
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours.numpy(), theirs)
    # a broadcast value gets the sum of its copies' gradients
    v = cr.tensor(7.0, requires_grad=True)
    cnp.insert(cr.tensor(x), 1, v, axis=1).sum().backward()
    assert v.grad.item() == 3.0


def test_bincount_counts_without_gradient_and_sums_weights_with_one():
    i = np.array([0, 2, 2, 5])
    counts = cnp.bincount(i, minlength=8)
    np.testing.assert_array_equal(counts.numpy(), np.bincount(i, minlength=8))
    assert not counts.requires_grad
    w = cr.tensor([0.5, 1.0, 2.0, 4.0], requires_grad=True)
    (cnp.bincount(i, weights=w) * np.arange(6.0)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 2.0, 2.0, 5.0])
    with pytest.raises(ValueError, match="bincount: x must be non-negative"):
        cnp.bincount(np.array([1, -1]))
