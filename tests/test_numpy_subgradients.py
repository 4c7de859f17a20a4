"""The choices chainrule.numpy makes where a derivative does not exist or is special, pinned
by known answers: ties in sorts and extremes, piecewise-constant functions, the jumps of
mod, NaNs in fmax/fmin and nan_to_num, the origin of hypot/arctan2, zeros in products, sinc
and std at 0."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import kernels as K
from checker import check_grads


def grad_of(f, x):
    return cr.grad(lambda t: f(t).sum())(x).numpy()


def test_sort_ties_keep_their_order_and_route_the_gradient_by_position():
    # stable sort: the tied 1.0s keep their order, so the first goes to place 0, the second
    # to place 1, and each gets the gradient of its place
    x = np.array([1.0, 3.0, 1.0, 2.0])
    w = np.array([10.0, 20.0, 30.0, 40.0])
    g = cr.grad(lambda t: (cnp.sort(t) * w).sum())(x).numpy()
    np.testing.assert_array_equal(g, [10.0, 40.0, 20.0, 30.0])


def test_max_and_min_split_the_gradient_among_ties():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_allclose(
        grad_of(lambda t: cnp.max(t, axis=1), x), [[0, 0.5, 0.5], [1 / 3] * 3]
    )
    np.testing.assert_allclose(grad_of(lambda t: cnp.min(t, axis=1), x), [[1, 0, 0], [1 / 3] * 3])
    # complex values: the first maximum in NumPy's order (real part, then imaginary part)
    z = np.array([1 + 1j, 2 + 0j, 2 + 0j])
    np.testing.assert_allclose(grad_of(lambda t: cr.real(cnp.max(t)), z), [0, 1, 0])


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "rint", "round", "fix"])
def test_piecewise_constant_functions_have_zero_derivative_even_at_jumps(name):
    x = np.array([-1.5, -1.0, 0.0, 0.5, 2.0, 2.7])  # jumps included
    fn = getattr(cnp, name)
    np.testing.assert_array_equal(grad_of(fn, x), np.zeros(6))
    _, tangent = cr.jvp(fn, (x,), (np.ones(6),))
    np.testing.assert_array_equal(tangent.numpy(), np.zeros(6))
    # integers keep NumPy's dtype (int64 for floor, float64 for rint) and carry no gradient
    out = fn(cr.tensor(np.array([1, 2])))
    assert out.dtype == getattr(np, name)(np.array([1, 2])).dtype and not out.requires_grad


def test_floor_divide_has_zero_derivative():
    g = cr.grad(lambda a, b: (a // b).sum(), argnums=(0, 1))(
        np.array([5.0, 7.0]), np.array([2.0, 3.5])
    )
    np.testing.assert_array_equal(g[0].numpy(), [0, 0])
    np.testing.assert_array_equal(g[1].numpy(), [0, 0])


def test_mod_at_and_away_from_the_jumps():
    x, y = np.array([5.0, -5.0, 6.0, 0.0]), np.array([3.0, 3.0, 3.0, 2.0])
    gx, gy = cr.grad(lambda a, b: cnp.remainder(a, b).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx.numpy(), [1, 1, 1, 1])
    # d/dy = -floor(x / y): at the jumps x = 6, y = 3 and x = 0 the quotient NumPy used
    np.testing.assert_array_equal(gy.numpy(), [-1, 2, -2, 0])
    gx, gy = cr.grad(lambda a, b: cnp.fmod(a, b).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx.numpy(), [1, 1, 1, 1])
    np.testing.assert_array_equal(gy.numpy(), [-1, 1, -2, 0])  # -trunc(x / y)
    # % on tensors is remainder, reflected too
    t = cr.tensor(np.array([5.0, -5.0]), requires_grad=True)
    ((t % 3.0) + (7.0 % t)).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [1 - np.floor(7 / 5), 1 - np.floor(7 / -5)])


def test_fmax_and_fmin_ties_and_nans():
    nan = np.nan
    x = np.array([1.0, 2.0, nan, 3.0, nan])
    y = np.array([1.0, 1.0, 4.0, nan, nan])
    gx, gy = cr.grad(lambda a, b: cnp.fmax(a, b).sum(), argnums=(0, 1))(x, y)
    # tie: split; x wins; NaN loses to the number; number beats NaN; both NaN: split
    np.testing.assert_array_equal(gx.numpy(), [0.5, 1.0, 0.0, 1.0, 0.5])
    np.testing.assert_array_equal(gy.numpy(), [0.5, 0.0, 1.0, 0.0, 0.5])
    gx, gy = cr.grad(lambda a, b: cnp.fmin(a, b).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx.numpy(), [0.5, 0.0, 0.0, 1.0, 0.5])
    np.testing.assert_array_equal(gy.numpy(), [0.5, 1.0, 1.0, 0.0, 0.5])
    # maximum propagates NaN (and splits ties)
    np.testing.assert_array_equal(cnp.maximum(x, y).numpy(), np.maximum(x, y))


def test_nan_to_num_passes_the_gradient_only_where_finite():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    np.testing.assert_array_equal(grad_of(lambda t: cnp.nan_to_num(t) * 2, x), [2, 0, 0, 0, 2])
    out = cnp.nan_to_num(cr.tensor(x), nan=9.0, posinf=8.0, neginf=-8.0)
    np.testing.assert_array_equal(out.numpy(), np.nan_to_num(x, nan=9.0, posinf=8.0, neginf=-8.0))
    z = np.array([np.nan + 1j, 2 + np.inf * 1j])
    np.testing.assert_array_equal(cnp.nan_to_num(cr.tensor(z)).numpy(), np.nan_to_num(z))


def test_hypot_and_arctan2_at_the_origin():
    zero = np.array([0.0])
    g = cr.grad(lambda a, b: cnp.hypot(a, b).sum(), argnums=(0, 1))(zero, zero)
    np.testing.assert_array_equal([g[0].numpy(), g[1].numpy()], [[0.0], [0.0]])
    g = cr.grad(lambda a, b: cnp.arctan2(a, b).sum(), argnums=(0, 1))(zero, zero)
    np.testing.assert_array_equal([g[0].numpy(), g[1].numpy()], [[0.0], [0.0]])
    # away from it: the known derivatives
    g = cr.grad(lambda a, b: cnp.arctan2(a, b).sum(), argnums=(0, 1))(
        np.array([1.0]), np.array([1.0])
    )
    np.testing.assert_allclose([g[0].item(), g[1].item()], [0.5, -0.5])


def test_copysign_uses_the_sign_bits_at_zero():
    x = np.array([0.0, -0.0, 2.0, -2.0])
    y = np.array([-1.0, -1.0, 1.0, -0.0])
    gx, gy = cr.grad(lambda a, b: cnp.copysign(a, b).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx.numpy(), [-1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(gy.numpy(), [0.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("zeros", [[1], [0, 2], [0, 1, 2, 3]])
def test_prod_is_exact_with_zeros_at_first_and_second_order(zeros):
    x = np.array([2.0, 3.0, 0.5, 4.0])
    x[zeros] = 0.0
    g = grad_of(cnp.prod, x)
    expected = [np.prod(np.delete(x, i)) for i in range(4)]
    np.testing.assert_array_equal(g, expected)
    H = cr.hessian(lambda t: cnp.prod(t))(x).numpy()
    expected_h = [
        [0.0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(4)] for i in range(4)
    ]
    np.testing.assert_array_equal(H, expected_h)
    check_grads(lambda t: cnp.prod(t, axis=0), [np.stack([x, x + 1])], order=3)


def test_cumprod_is_exact_with_zeros_at_every_order():
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    J = cr.jacobian(cnp.cumprod)(x).numpy()
    for j in range(5):
        for i in range(5):
            expected = np.prod(np.delete(x[: j + 1], i)) if i <= j else 0.0
            assert J[j, i] == expected, (j, i)
    check_grads(lambda t: cnp.cumprod(t), [x], order=3)
    check_grads(
        lambda t: cnp.cumprod(t * t, axis=1), [np.array([[1.5, 0.0, -2.0], [0.0, 0.0, 1.0]])]
    )


def test_sinc_at_zero_to_the_fourth_derivative():
    d = cr.grad
    f = cnp.sinc
    assert f(cr.tensor(0.0)).item() == 1.0
    assert d(f)(0.0).item() == 0.0
    np.testing.assert_allclose(d(d(f))(0.0).item(), -(np.pi**2) / 3, rtol=1e-12)
    np.testing.assert_allclose(d(d(d(f)))(0.0).item(), 0.0, atol=1e-12)
    np.testing.assert_allclose(d(d(d(d(f))))(0.0).item(), np.pi**4 / 5, rtol=1e-6)
    # both sides of the switch to the series agree
    for x in (0.0099, 0.0101):
        check_grads(f, [np.array([x, -x])], order=2)


def test_std_at_zero_variance_has_a_zero_subgradient():
    for x in (np.array(3.0), np.array([2.0, 2.0, 2.0]), np.array([[1.0, 1.0], [0.0, 2.0]])):
        g = grad_of(lambda t: cnp.std(t, axis=-1 if t.ndim else None), x)
        assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(grad_of(cnp.std, np.array([2.0, 2.0])), [0.0, 0.0])
    check_grads(lambda t: cnp.std(t), [np.array(1.5)], order=2)


def test_abs_and_clip_choices_match_the_core():
    np.testing.assert_array_equal(grad_of(cnp.abs, np.array([0.0, -1.0])), [0.0, -1.0])
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(grad_of(lambda t: cnp.clip(t, 0.0, 1.0), x), [0, 1, 1, 1, 0])
    # NumPy's clip with lo > hi gives hi everywhere (gradient 0)
    np.testing.assert_array_equal(cnp.clip(cr.tensor(x), 1.0, 0.0).numpy(), np.clip(x, 1.0, 0.0))
    np.testing.assert_array_equal(grad_of(lambda t: cnp.clip(t, 1.0, 0.0), x), np.zeros(5))


def test_median_ties_and_nan():
    x = np.array([1.0, 2.0, 2.0, 5.0])
    np.testing.assert_array_equal(grad_of(cnp.median, x), [0, 0.5, 0.5, 0])
    assert np.isnan(cnp.median(cr.tensor(np.array([1.0, np.nan, 2.0]))).item())


def _linrec_loop(a, b, axis, reverse):
    """s[i] = a[i] s[i -/+ 1] + b[i], one position at a time (the definition)."""
    a, b = np.broadcast_arrays(a, b)
    out = np.empty(b.shape, np.result_type(a, b))
    am, bm, om = (np.moveaxis(v, axis, 0) for v in (a, b, out))
    prev = None
    for i in range(b.shape[axis] - 1, -1, -1) if reverse else range(b.shape[axis]):
        om[i] = bm[i] if prev is None else am[i] * om[prev] + bm[i]
        prev = i
    return out


@pytest.mark.parametrize("shape", [(1,), (2,), (5,), (16,), (17,), (4, 7), (3, 9, 2)])
@pytest.mark.parametrize("reverse", [False, True])
def test_linrec_scan_equals_the_recurrence_step_by_step(shape, reverse):
    # the kernel behind cumprod's gradients is a log-depth parallel scan; it must give the
    # sequential recurrence, with exact zeros, along every axis, broadcast and in any dtype
    rng = np.random.default_rng(len(shape) * 10 + shape[-1])
    for axis in range(len(shape)):
        a = rng.standard_normal(shape)
        a[rng.random(shape) < 0.25] = 0.0
        b = rng.standard_normal(shape)
        got = K.linrec(a, b, axis, reverse)
        assert got.flags.c_contiguous and got.dtype == np.float64
        np.testing.assert_allclose(got, _linrec_loop(a, b, axis, reverse), rtol=1e-12, atol=1e-14)
        first = a[(slice(None),) * axis + (slice(0, 1),)]  # broadcast along the scan axis
        np.testing.assert_allclose(
            K.linrec(first, b, axis, reverse), _linrec_loop(first, b, axis, reverse), rtol=1e-12
        )
    c = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    f = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(K.linrec(c, f, 0, reverse), _linrec_loop(c, f, 0, reverse))
    assert K.linrec(f, f, 0, reverse).dtype == np.float32


def test_elementwise_fast_paths_match_the_general_path():
    # cnp.tan(t) / cnp.multiply(t, a) take the core's one-frame methods; the result, the
    # recorded graph and the gradients must equal what the general path (apply) gives
    from chainrule import rules as P
    from chainrule import rules_numpy as RN
    from chainrule.tensor import apply

    x = np.array([0.3, -1.2, 2.0])
    for fast, general in [
        (lambda t: cnp.tan(t), lambda t: apply(RN.tan, (t,))),
        (lambda t: cnp.multiply(t, x), lambda t: apply(P.mul, (t, x))),
        (lambda t: cnp.multiply(2.0, t), lambda t: apply(P.mul, (2.0, t))),
        (lambda t: cnp.subtract(x, t), lambda t: apply(P.sub, (x, t))),
        (lambda t: cnp.logaddexp(t, 1), lambda t: apply(RN.logaddexp, (t, 1))),
    ]:
        grads = []
        for f in (fast, general):
            t = cr.tensor(x, requires_grad=True)
            y = f(t)
            (y * y).sum().backward()
            grads.append((y.numpy(), y.dtype, t.grad.numpy()))
        np.testing.assert_array_equal(grads[0][0], grads[1][0])
        assert grads[0][1] == grads[1][1]
        np.testing.assert_array_equal(grads[0][2], grads[1][2])
    with cr.no_grad():
        assert cnp.tan(cr.tensor(x, requires_grad=True)).grad_fn is None
    with pytest.raises(TypeError, match="casting"):
        cnp.tan(cr.tensor(x), casting="unsafe")


# --------------------------------------------------------------------------- sets, histograms,
# floats taken apart and writes in place (the choices of sets.py, histograms.py, writers.py)


def test_unique_values_take_the_gradient_of_their_first_occurrence():
    x = np.array([3.0, 1.0, 3.0, 1.0, 2.0])
    w = np.array([10.0, 20.0, 30.0])  # one weight per unique value 1, 2, 3
    g = cr.grad(lambda t: (cnp.unique(t) * w).sum())(x).numpy()
    np.testing.assert_array_equal(g, [30.0, 10.0, 0.0, 0.0, 20.0])
    # the same along an axis: the first row of each unique row; and unique_all's values
    m = np.array([[1.0, 2.0], [0.0, 5.0], [1.0, 2.0]])
    g = cr.grad(lambda t: cnp.unique(t, axis=0).sum())(m).numpy()
    np.testing.assert_array_equal(g, [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    g = cr.grad(lambda t: cnp.unique_all(t).values.sum())(x).numpy()
    np.testing.assert_array_equal(g, [1.0, 1.0, 0.0, 0.0, 1.0])


def test_histogram_edges_split_a_tied_extreme_and_move_with_a_widened_range():
    # the edges are lo + (hi - lo) k / bins: edge k's gradient is (1 - k/bins) on the
    # minimum and k/bins on the maximum, split evenly between tied extremes (as min/max)
    x = np.array([0.0, 4.0, 0.0, 2.0])
    g = cr.grad(lambda t: cnp.histogram_bin_edges(t, 4)[1])(x).numpy()
    np.testing.assert_allclose(g, [0.375, 0.25, 0.375, 0.0])
    # all values equal: NumPy widens the range to v -+ 0.5, every edge moves with v
    same = np.array([2.0, 2.0])
    edges = cnp.histogram_bin_edges(cr.tensor(same), 2)
    np.testing.assert_array_equal(edges.numpy(), np.histogram_bin_edges(same, 2))
    g = cr.jacobian(lambda t: cnp.histogram_bin_edges(t, 2))(same).numpy()
    np.testing.assert_allclose(g.sum(axis=1), [1.0, 1.0, 1.0])
    # the counts do not move with the values (derivative 0), the weights' sums do
    gw = cr.grad(lambda w: cnp.histogram(x, 2, weights=w)[0][1])(np.ones(4)).numpy()
    np.testing.assert_array_equal(gw, [0.0, 1.0, 0.0, 1.0])  # the last bin holds its edge


def test_frexp_mantissa_has_the_derivative_of_the_side_it_lies_on():
    # x = m 2^e with 0.5 <= |m| < 1: at a power of two x = 2, m = 0.5 and e = 2, so the
    # derivative is 2^-2 (the right side's); just below, e = 1 and it is 2^-1
    x = np.array([2.0, np.nextafter(2.0, 0.0), -3.0, 0.0])
    g = grad_of(lambda t: cnp.frexp(t)[0], x)
    np.testing.assert_array_equal(g, [0.25, 0.5, 0.25, 1.0])
    e = cnp.frexp(cr.tensor(x, requires_grad=True))[1]
    assert e.dtype == np.int32 and not e.requires_grad
    check_grads(lambda t: cnp.frexp(t)[0], [np.array([0.3, -5.0, 7.5])])


def test_spacing_has_derivative_zero_and_nextafter_no_gradient():
    x = np.array([1.0, 2.0, -3.5])
    np.testing.assert_array_equal(grad_of(cnp.spacing, x), [0.0, 0.0, 0.0])
    # nextafter: JAX defines no derivative for it; chainrule's result carries no gradient
    out = cnp.nextafter(cr.tensor(x, requires_grad=True), 0.0)
    assert not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), np.nextafter(x, 0.0))


def test_i0_derivatives_at_zero_come_from_the_series():
    # I0(x) = 1 + x^2/4 + x^4/64 + ...: derivatives 0, 1/2, 0, 3/8 at 0, through I1 and
    # I1' = I0 - I1 / x (whose 1/2 at 0 is the series' value, not a patch)
    f = lambda t: cnp.i0(t)  # noqa: E731
    d = [f]
    for _ in range(4):
        d.append(cr.grad(lambda t, g=d[-1]: g(t).sum()))
    got = [float(g(cr.tensor(0.0)).numpy()) for g in d[1:]]
    np.testing.assert_allclose(got, [0.0, 0.5, 0.0, 0.375], atol=1e-14)


def test_repeated_writes_give_the_gradient_to_the_value_that_stays():
    # NumPy writes in order, the last write stays: only it gets the gradient
    def f(x, v):
        y = x * 1.0
        cnp.put(y, [1, 1, 0], v)
        return (y * np.array([1.0, 10.0, 100.0])).sum()

    gx, gv = cr.grad(f, argnums=(0, 1))(np.zeros(3), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(gx.numpy(), [0.0, 0.0, 100.0])
    np.testing.assert_array_equal(gv.numpy(), [0.0, 10.0, 1.0])

    def g(x, v):  # put_along_axis with a repeated index along the axis
        y = x * 1.0
        cnp.put_along_axis(y, np.array([[0, 0]]), v, axis=1)
        return (y * np.array([[1.0, 10.0]])).sum()

    gx, gv = cr.grad(g, argnums=(0, 1))(np.zeros((1, 2)), np.array([[1.0, 2.0]]))
    np.testing.assert_array_equal(gx.numpy(), [[0.0, 10.0]])
    np.testing.assert_array_equal(gv.numpy(), [[0.0, 1.0]])


def test_piecewise_constants_have_derivative_zero_and_later_conditions_win():
    x = np.array([-2.0, 0.5, 3.0])
    f = lambda t: cnp.piecewise(t, [t < 1, t > 0], [lambda v: v * v, 0.25])  # noqa: E731
    np.testing.assert_array_equal(
        f(cr.tensor(x)).numpy(), np.piecewise(x, [x < 1, x > 0], [lambda v: v * v, 0.25])
    )
    np.testing.assert_array_equal(grad_of(f, x), [-4.0, 0.0, 0.0])  # 0.5 is overridden
