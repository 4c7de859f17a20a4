"""NumPy 2's set, histogram, float-bits, integer, index-helper, in-place and polynomial
functions on Tensors (the gradient rows are in tests/ops_table.py): values and dtypes of
the non-differentiable ones against NumPy, NumPy's own functions dispatching to them,
Bessel's I1 against SciPy, the in-place rules, traced programs, and clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.batching import BatchingError
from chainrule.ir import trace_program
from chainrule.kernels import bessel_i1
from checker import check_grads

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4)).round(1)
INTS = np.array([[12, -18, 7], [0, 5, 64]])


def leaf(values):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def same(ours, theirs):
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert isinstance(o, cr.Tensor), type(o)
        t = np.asarray(t)
        assert o.dtype == t.dtype and o.shape == t.shape, (o.dtype, t.dtype, o.shape, t.shape)
        np.testing.assert_array_equal(o.numpy(), t)
        assert not o.requires_grad


# (call(xp, x) for x = X or INTS: chainrule.numpy on a Tensor, NumPy on the array, and
# NumPy's own function on the Tensor, which must dispatch)
INTEGER_RESULTS = [
    ("isin", lambda xp, x: xp.isin(x, [0.1, -0.5, 2.0])),
    ("isin-invert", lambda xp, x: xp.isin(x, x[0], invert=True)),
    ("isin-empty", lambda xp, x: xp.isin(x, [])),
    ("isin-nan", lambda xp, x: xp.isin(x * np.nan, [np.nan])),
    ("digitize", lambda xp, x: xp.digitize(x, [-1.0, 0.0, 0.5])),
    ("digitize-right", lambda xp, x: xp.digitize(x, [-1.0, 0.0, 0.5], right=True)),
    ("digitize-decreasing", lambda xp, x: xp.digitize(x, [0.5, 0.0, -1.0])),
    ("lexsort", lambda xp, x: xp.lexsort(x)),
    ("lexsort-axis", lambda xp, x: xp.lexsort((x, xp.round(x)), axis=0)),
    ("unique-counts", lambda xp, x: xp.unique(xp.round(x), return_counts=True)[1]),
    ("unique-inverse", lambda xp, x: xp.unique(xp.round(x), return_inverse=True)[1]),
    ("unique-axis", lambda xp, x: xp.unique(xp.round(x), return_index=True, axis=1)[1]),
    ("nextafter", lambda xp, x: xp.nextafter(x, 1.0)),
    ("frexp-exponent", lambda xp, x: xp.frexp(x)[1]),
    ("diag_indices_from", lambda xp, x: xp.diag_indices_from(x[:, :3])),
    ("tril_indices_from", lambda xp, x: xp.tril_indices_from(x, -1)),
    ("triu_indices_from", lambda xp, x: xp.triu_indices_from(x, 2)),
    ("ix_", lambda xp, x: xp.ix_(x[0] > 0, [2, 0])),
    ("unravel_index", lambda xp, x: xp.unravel_index(xp.argsort(x, axis=None), (4, 3), "F")),
    ("ravel_multi_index", lambda xp, x: xp.ravel_multi_index(xp.nonzero(x > 0), (3, 4))),
]
INT_INPUTS = [
    ("gcd", lambda xp, n: xp.gcd(n, 8)),
    ("lcm", lambda xp, n: xp.lcm(n, np.int8(3))),
    ("left_shift", lambda xp, n: xp.left_shift(n, 2)),
    ("right_shift", lambda xp, n: xp.right_shift(n, 1)),
    ("bitwise_left_shift", lambda xp, n: xp.bitwise_left_shift(n, 1)),
    ("bitwise_right_shift", lambda xp, n: xp.bitwise_right_shift(n, 1)),
    ("bitwise_invert", lambda xp, n: xp.bitwise_invert(n)),
    ("bitwise_count", lambda xp, n: xp.bitwise_count(n)),
    ("ravel_multi_index-clip", lambda xp, n: xp.ravel_multi_index((n, n), (5, 9), mode="clip")),
    ("ravel_multi_index-wrap", lambda xp, n: xp.ravel_multi_index((n, n), (5, 9), mode="wrap")),
]


@pytest.mark.parametrize("name, call", INTEGER_RESULTS, ids=[n for n, _ in INTEGER_RESULTS])
def test_integer_and_boolean_results_are_numpys(name, call):
    same(call(cnp, leaf(X)), call(np, X))
    same(call(np, leaf(X)), call(np, X))  # NumPy's own function dispatches


@pytest.mark.parametrize("name, call", INT_INPUTS, ids=[n for n, _ in INT_INPUTS])
def test_integer_functions_are_numpys(name, call):
    same(call(cnp, cr.tensor(INTS)), call(np, INTS))
    same(call(np, cr.tensor(INTS)), call(np, INTS))


def test_index_helpers_made_from_shapes_are_numpys():
    same(cnp.diag_indices(3, 3), np.diag_indices(3, 3))
    same(cnp.tril_indices(3, 1, 4), np.tril_indices(3, 1, 4))
    same(cnp.triu_indices(4), np.triu_indices(4))
    same(cnp.indices((2, 3)), np.indices((2, 3)))
    same(cnp.indices((2, 3), dtype=np.int32, sparse=True), np.indices((2, 3), np.int32, True))
    same(cnp.mask_indices(3, cnp.triu, 1), np.mask_indices(3, np.triu, 1))
    same(cnp.unravel_index(7, (3, 4)), tuple(np.asarray(i) for i in np.unravel_index(7, (3, 4))))
    same(cnp.ix_([], [1]), np.ix_([], [1]))
    for name in ("bartlett", "blackman", "hamming", "hanning"):
        np.testing.assert_array_equal(getattr(cnp, name)(7).numpy(), getattr(np, name)(7))
    np.testing.assert_allclose(cnp.kaiser(7, cr.tensor(2.5)).numpy(), np.kaiser(7, 2.5))
    np.testing.assert_array_equal(cnp.kaiser(1, cr.tensor(2.5)).numpy(), np.kaiser(1, 2.5))


def test_index_helpers_index_tensors():
    t = leaf(np.arange(16.0).reshape(4, 4))
    t[cnp.diag_indices(4)].sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.eye(4))
    picked = t[cnp.ix_([0, 2], cr.tensor(np.array([True, False, False, True])))]
    np.testing.assert_array_equal(picked.numpy(), [[0.0, 3.0], [8.0, 11.0]])


def test_unique_values_in_numpys_unsorted_order():
    # NumPy 2.3+ finds unique integers (and complex numbers) by hashing: not sorted
    ints = np.array([3, 1, 2, 1, 7, 5])
    same(cnp.unique_values(cr.tensor(ints)), np.unique_values(ints))
    z = np.array([3 + 1j, 1, 2, 1, 3 + 1j])
    ours = cnp.unique_values(leaf(z.real) + 1j * leaf(z.imag))
    np.testing.assert_array_equal(ours.numpy(), np.unique_values(z))
    # NaNs: unique keeps one (equal_nan), unique_values each
    x = np.array([np.nan, 1.0, np.nan])
    np.testing.assert_array_equal(cnp.unique(cr.tensor(x)).numpy(), np.unique(x))
    np.testing.assert_array_equal(cnp.unique_values(cr.tensor(x)).numpy(), np.unique_values(x))
    assert type(cnp.unique_all(cr.tensor(x))).__name__ == "UniqueAllResult"


def test_bessel_i1_against_scipy_and_i0s_gradient():
    special = pytest.importorskip("scipy.special")
    x = np.concatenate([np.linspace(-30, 30, 4001), np.geomspace(1e-300, 700, 2000)])
    np.testing.assert_allclose(bessel_i1(x), special.i1(x), rtol=3e-15, atol=0)
    np.testing.assert_array_equal(bessel_i1(np.array([0.0, np.inf, -np.inf])), [0, np.inf, -np.inf])
    assert np.isnan(bessel_i1(np.array([np.nan])))[0]
    assert bessel_i1(np.float32(2.0)).dtype == np.float32
    # d/dx i0 = I1, d2/dx2 i0 = I0 - I1 / x
    pts = np.array([-7.5, -0.3, 1e-5, 0.8, 4.0, 26.0])
    g1 = cr.grad(lambda t: cnp.i0(t).sum())(pts).numpy()
    np.testing.assert_allclose(g1, special.i1(pts), rtol=1e-14)
    g2 = cr.grad(lambda t: cr.grad(lambda s: cnp.i0(s).sum())(t).sum())(pts).numpy()
    np.testing.assert_allclose(g2, special.i0(pts) - special.i1(pts) / pts, rtol=1e-13)
    g32 = cr.grad(lambda t: cnp.i0(t).sum())(pts.astype(np.float32))
    assert g32.dtype == np.float32


def test_i0_keeps_numpys_dtypes_and_refuses_complex():
    for dtype in (np.float16, np.float32, np.float64, np.int64):
        x = np.array([0.5, 2.0]).astype(dtype)
        out = cnp.i0(cr.tensor(x))
        assert out.dtype == np.i0(x).dtype
        np.testing.assert_array_equal(out.numpy(), np.i0(x))
    with pytest.raises(TypeError, match="i0: not supported for complex"):
        cnp.i0(cr.tensor([1j]))


def test_histograms_match_numpys_bins_and_edges():
    a = RNG.standard_normal(200)
    cases = [
        {},
        {"bins": 7},
        {"bins": np.array([-2.0, -0.5, 0.0, 0.0, 1.0, 3.0])},
        {"range": (-1.0, 1.0)},
        {"bins": 3, "range": (-1.0, 1.0), "density": True},
        {"bins": "auto"},
        {"bins": "fd", "range": (-1.0, 2.0)},
        {"weights": a * a},
        {"weights": (a * 3).astype(np.int64)},
        {"weights": a + 1j * a, "bins": 4},
    ]
    for kw in cases:
        ours = cnp.histogram(cr.tensor(a), **kw)
        theirs = np.histogram(a, **kw)
        for o, t in zip(ours, theirs):
            assert o.dtype == t.dtype, kw
            np.testing.assert_allclose(o.numpy(), t, rtol=1e-13, err_msg=str(kw))
    # float32 data: float32 edges, NumPy's arithmetic in float32 (a value on an edge)
    b = np.array([0.1, 0.2, 0.3, 0.30000001, 0.7], dtype=np.float32)
    for kw in ({"bins": 3}, {"bins": 5, "range": (0.1, 0.3)}, {"bins": 2, "range": (0, 0.7)}):
        same(cnp.histogram(cr.tensor(b), **kw)[0], np.histogram(b, **kw)[0])
    # integers, bools (NumPy warns and counts them as uint8), empty input
    same(cnp.histogram(cr.tensor(INTS), 4)[0], np.histogram(INTS, 4)[0])
    with pytest.warns(RuntimeWarning, match="bool"):
        out = cnp.histogram(cr.tensor(INTS > 5), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(out[0].numpy(), np.histogram(INTS > 5, 2)[0])
    empty = np.zeros(0, np.float32)
    for o, t in zip(cnp.histogram(cr.tensor(empty), 3), np.histogram(empty, 3)):
        assert o.dtype == t.dtype
        np.testing.assert_array_equal(o.numpy(), t)
    # the estimator's number of bins, the edges then differentiable in min and max
    x = leaf(a[:50])
    edges = cnp.histogram_bin_edges(x, "sturges")
    np.testing.assert_allclose(edges.numpy(), np.histogram_bin_edges(a[:50], "sturges"))
    assert edges.requires_grad
    # 2-d and n-d
    h, xe, ye = cnp.histogram2d(cr.tensor(a[:100]), cr.tensor(a[100:]), bins=[3, 5])
    h2, xe2, ye2 = np.histogram2d(a[:100], a[100:], bins=[3, 5])
    np.testing.assert_array_equal(h.numpy(), h2)
    np.testing.assert_allclose(xe.numpy(), xe2)
    np.testing.assert_allclose(ye.numpy(), ye2)
    s = a.reshape(50, 4)
    hd, ed = cnp.histogramdd(cr.tensor(s), bins=2, range=[(-1, 1)] * 4, density=True)
    hd2, ed2 = np.histogramdd(s, bins=2, range=[(-1, 1)] * 4, density=True)
    np.testing.assert_allclose(hd.numpy(), hd2)
    assert hd.dtype == hd2.dtype and len(ed) == 4


def test_histograms_dispatch_and_trace():
    a = RNG.standard_normal(30)
    w = leaf(np.abs(a))
    hist, edges = np.histogram(leaf(a), bins=4, weights=w)  # NumPy's own function
    assert isinstance(hist, cr.Tensor) and hist.requires_grad and edges.requires_grad
    b = RNG.standard_normal(30)

    def f(x, v):
        h, e = cnp.histogram(x, 5, weights=v, density=True)
        return h * e[1:]

    program, _ = trace_program(f, a, np.abs(a))
    np.testing.assert_allclose(program(b, np.abs(b)), f(cr.tensor(b), cr.tensor(np.abs(b))).numpy())
    compiled = cr.jit(f)
    compiled(cr.tensor(a), cr.tensor(np.abs(a)))
    np.testing.assert_allclose(
        compiled(cr.tensor(b), cr.tensor(np.abs(b))).numpy(),
        f(cr.tensor(b), cr.tensor(np.abs(b))).numpy(),
    )
    batch = cr.vmap(lambda x: cnp.histogram(x, 3)[0])(np.stack([a, b]))
    np.testing.assert_array_equal(batch.numpy(), [np.histogram(a, 3)[0], np.histogram(b, 3)[0]])
    check_grads(lambda x, v: f(x, v), [a, np.abs(a) + 0.1])


def test_unique_traces_and_refuses_ragged_batches():
    a = np.array([1.0, 2.0, 2.0, 5.0])
    b = np.array([3.0, 3.0, 4.0, 4.0])
    program, _ = trace_program(lambda x: cnp.unique(x) * 2.0, a)
    np.testing.assert_array_equal(program(b), [6.0, 8.0])  # recomputed at the new input
    with pytest.raises(BatchingError, match="unique"):
        cr.vmap(cnp.unique)(np.stack([a, b]))  # 3 and 2 unique values


def test_in_place_writers_follow_pytorchs_rules():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="put: a leaf tensor that requires grad"):
        cnp.put(x, [0], 5.0)
    with cr.no_grad():  # an optimizer-style update of a leaf
        cnp.fill_diagonal(w := leaf(np.zeros((2, 2))), 1.0)
    np.testing.assert_array_equal(w.numpy(), np.eye(2))
    # a value saved for backward and changed in place afterwards: backward refuses
    y = x * 1.0
    z = (y * y).sum()
    cnp.put(y, [0], 5.0)
    with pytest.raises(RuntimeError):
        z.backward()
    # an ndarray target: NumPy writes it unless that would drop a gradient
    a = np.zeros(3)
    cnp.put(a, cr.tensor(np.array([1])), cr.tensor(4.0))
    np.testing.assert_array_equal(a, [0.0, 4.0, 0.0])
    with pytest.raises(
        TypeError, match="put_along_axis: the array changed in place is not a Tensor"
    ):
        np.put_along_axis(np.zeros((1, 2)), np.array([[0]]), leaf([[1.0]]), 1)
    # integer tensors are written too (no gradient)
    n = cr.tensor(np.arange(4))
    np.put(n, [1, 2], [9, 8])
    np.copyto(n, 7, where=np.array([True, False, False, False]))
    np.testing.assert_array_equal(n.numpy(), [7, 9, 8, 3])


def test_in_place_writers_dispatch_and_return_none():
    for call, graph in (
        (lambda t: np.put(t, [0], 1.0), True),
        (lambda t: np.place(t, np.array([True, False, True]), [2.0]), True),
        (lambda t: np.putmask(t, np.array([True, False, True]), [2.0, 3.0]), True),
        (lambda t: np.put_along_axis(t, np.array([1]), 2.0, None), True),
        (lambda t: np.copyto(t, 4.0), False),  # a constant everywhere: nothing to record
    ):
        t = leaf([0.0, 0.0, 0.0]) * 1.0
        assert call(t) is None and t.requires_grad is graph


@pytest.mark.parametrize(
    "call, err, pattern",
    [
        (lambda: cnp.put(cr.zeros(3), [5], 1.0), IndexError, r"put: index 5 is out of bounds"),
        (lambda: cnp.put(cr.zeros(3), [0.5], 1.0), TypeError, "put: indices must be integers"),
        (lambda: cnp.put(cr.zeros(3), [0], 1.0, mode="x"), ValueError, "put: mode must be"),
        (
            lambda: cnp.put_along_axis(cr.zeros((2, 2)), np.array([0]), 1.0, 1),
            ValueError,
            "same number of dimensions",
        ),
        (
            lambda: cnp.put_along_axis(cr.zeros((2, 2)), np.array([[3]]), 1.0, 1),
            IndexError,
            "out of bounds for axis 1",
        ),
        (lambda: cnp.place(cr.zeros(3), [True, False], [1.0]), ValueError, "same size"),
        (lambda: cnp.place(cr.zeros(2), [True, False], []), ValueError, "empty array"),
        (lambda: cnp.putmask(cr.zeros(3), [True], [1.0]), ValueError, "same size"),
        (
            lambda: cnp.copyto(cr.zeros(3, dtype=np.int64), cr.tensor([1.5, 2.0, 3.0])),
            TypeError,
            "copyto: Cannot cast",
        ),
        (lambda: cnp.copyto(cr.zeros(3), cr.zeros(2)), ValueError, "copyto:"),
        (lambda: cnp.fill_diagonal(cr.zeros(3), 1.0), ValueError, "at least 2-d"),
        (lambda: cnp.fill_diagonal(cr.zeros((2, 3, 2)), 1.0), ValueError, "equal length"),
        (lambda: cnp.isin(cr.zeros(2), [0.0], kind="x"), ValueError, "isin: invalid kind"),
        (lambda: cnp.isin(cr.zeros(2), [0.0], kind="table"), ValueError, "'table'"),
        (lambda: cnp.digitize(cr.zeros(2), [0.0, 2.0, 1.0]), ValueError, "monotonically"),
        (lambda: cnp.digitize(cr.zeros(2), [[0.0]]), ValueError, "bins must be 1-dimensional"),
        (lambda: cnp.digitize(cr.tensor([1j]), [0.0]), TypeError, "x may not be complex"),
        (lambda: cnp.lexsort([cr.zeros(2), cr.zeros(3)]), ValueError, "same shape"),
        (lambda: cnp.lexsort([]), TypeError, "need sequence of keys"),
        (lambda: cnp.unique(cr.zeros((2, 2)), axis=2), np.exceptions.AxisError, "unique"),
        (lambda: cnp.gcd(cr.zeros(2), 2), TypeError, "gcd: needs integer"),
        (lambda: cnp.bitwise_count(cr.zeros(2)), TypeError, "bitwise_count: needs integer"),
        (lambda: cnp.frexp(cr.tensor([1j])), TypeError, "frexp: not supported for complex"),
        (lambda: cnp.frexp(cr.zeros(2), out=cr.zeros(2)), TypeError, "frexp: out="),
        (lambda: cnp.histogram(cr.tensor([np.nan, 1.0])), ValueError, "histogram: autodetected"),
        (lambda: cnp.histogram(cr.zeros(3), -1), ValueError, "histogram: `bins` must be positive"),
        (lambda: cnp.histogram(cr.zeros(3), 2.5), TypeError, "`bins` must be an integer"),
        (lambda: cnp.histogram(cr.zeros(3), [[1.0]]), ValueError, "`bins` must be 1d"),
        (lambda: cnp.histogram(cr.zeros(3), [2.0, 1.0]), ValueError, "increase monotonically"),
        (lambda: cnp.histogram(cr.zeros(3), range=(2, 1)), ValueError, "max must be larger"),
        (
            lambda: cnp.histogram(cr.zeros(3), weights=cr.zeros(2)),
            ValueError,
            r"histogram: weights should have the same shape as a, got \(2,\) and \(3,\)",
        ),
        (
            lambda: cnp.histogram(cr.zeros(3), "auto", weights=cr.zeros(3)),
            TypeError,
            "not supported for weighted data",
        ),
        (lambda: cnp.histogramdd(cr.zeros((3, 2)), bins=[2]), ValueError, "dimension of bins"),
        (lambda: cnp.histogram2d(cr.zeros(3), cr.zeros(2)), ValueError, "same length"),
        (lambda: cnp.unravel_index(cr.tensor([6]), (2, 3)), ValueError, "out of bounds"),
        (lambda: cnp.unravel_index(cr.tensor([0.5]), (2, 3)), TypeError, "only int indices"),
        (lambda: cnp.ravel_multi_index(([3], [0]), (2, 3)), ValueError, "invalid entry"),
        (lambda: cnp.ix_(cr.zeros((2, 2))), ValueError, "ix_: cross index must be 1"),
        (lambda: cnp.diag_indices_from(cr.zeros((2, 3))), ValueError, "equal length"),
        (lambda: cnp.tril_indices_from(cr.zeros(3)), ValueError, "must be 2-d"),
        (
            lambda: cnp.piecewise(cr.zeros(3), [cr.zeros(3) > 0], [1.0, 2.0, 3.0]),
            ValueError,
            "with 1 condition",
        ),
        (lambda: cnp.piecewise(cr.zeros(3), [[True, False]], [1.0]), IndexError, "piecewise"),
        (lambda: cnp.geomspace(cr.tensor(0.0), 1.0), ValueError, "cannot include zero"),
        (lambda: cnp.block((cr.zeros(2),)), TypeError, "block: arrays is a tuple"),
        (lambda: cnp.block([cr.zeros(2), [cr.zeros(2)]]), ValueError, "depths are mismatched"),
        (lambda: cnp.block([[]]), ValueError, "cannot be empty"),
        (lambda: cnp.polyfit(cr.zeros((2, 2)), cr.zeros(2), 1), TypeError, "1D vector for x"),
        (lambda: cnp.poly(cr.zeros((2, 3))), ValueError, "poly: input must be"),
        (lambda: cnp.roots(cr.zeros((2, 2))), ValueError, "roots: input must be a rank-1"),
        (lambda: cnp.choose(cr.tensor([0, 2]), [cr.zeros(2)]), ValueError, "invalid entry"),
        (lambda: cnp.astype(cr.zeros(2), float, device="gpu"), ValueError, "device"),
        (lambda: cnp.asarray_chkfinite([np.inf]), ValueError, "infs or NaNs"),
        (lambda: cnp.trim_zeros(cr.zeros(2), "x"), ValueError, "unexpected character"),
        (lambda: cnp.i0(cr.tensor([1j])), TypeError, "i0"),
        (lambda: cnp.matvec(cr.zeros(2), cr.zeros(2)), ValueError, "matvec: needs a matrix"),
    ],
)
def test_bad_input_raises_naming_the_function(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


def test_polynomials_match_numpy():
    r = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(cnp.poly(cr.tensor(r)).numpy(), np.poly(r))
    z = np.array([1 + 2j, 1 - 2j])  # conjugate pairs: real coefficients, as NumPy
    out = cnp.poly(cr.tensor(z))
    assert out.dtype == np.poly(z).dtype == np.float64
    assert cnp.poly(cr.tensor(np.zeros(0))) == np.poly(np.zeros(0)) == 1.0
    for p in ([1.0, -6.0, 11.0, -6.0], [0.0, 1.0, 0.0, 1.0, 0.0, 0.0], [2.0], [0.0, 0.0]):
        ours, theirs = cnp.roots(cr.tensor(p)), np.roots(p)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_allclose(np.sort_complex(ours.numpy()), np.sort_complex(theirs))
    x, y = np.arange(5.0), np.array([1.0, 2.0, 0.5, 4.0, 3.0])
    with pytest.warns(np.exceptions.RankWarning):
        cnp.polyfit(cr.tensor(x[:2]), cr.tensor(y[:2]), 3)
    ours = cnp.polyfit(cr.tensor(x), cr.tensor(y), 2, cov="unscaled")
    theirs = np.polyfit(x, y, 2, cov="unscaled")
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), t, rtol=1e-10, atol=1e-12)
    # the fit's gradient in x too (through lstsq), both modes, second order
    check_grads(lambda a, b: cnp.polyfit(a, b, 2), [x + 0.1 * RNG.standard_normal(5), y])


def test_geomspace_and_block_and_astype():
    for args in [(1.0, 1000.0, 4), (-1.0, -16.0, 5), (2j, 32j, 3), (1.0, 8.0, 3, False)]:
        ours = cnp.geomspace(cr.tensor(args[0]), *args[1:])
        theirs = np.geomspace(*args)
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-14)
    two = cnp.geomspace(cr.tensor([1.0, 2.0]), 100.0, 3, axis=1, dtype=np.float32)
    assert two.dtype == np.float32 and two.shape == (2, 3)
    a = np.ones((2, 2))
    same_value = cnp.block([[cr.tensor(a), np.zeros((2, 1))], [np.full((1, 3), 2.0)]])
    np.testing.assert_array_equal(
        same_value.numpy(), np.block([[a, np.zeros((2, 1))], [np.full((1, 3), 2.0)]])
    )
    np.testing.assert_array_equal(cnp.block(cr.tensor(a)).numpy(), a)
    x = leaf([1.5, -2.5])
    assert cnp.astype(x, x.dtype, copy=False) is x
    assert cnp.astype(x, x.dtype) is not x
    i = cnp.astype(x, np.int32)
    assert i.dtype == np.int32 and not i.requires_grad
    np.testing.assert_array_equal(i.numpy(), np.astype(np.array([1.5, -2.5]), np.int32))
