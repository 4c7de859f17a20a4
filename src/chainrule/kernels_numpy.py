"""Array kernels of the NumPy-family primitives (``rules_numpy``): scans along an axis, the
integer parts of ``np.unique``, histogram bins and the Bessel function I1.

Re-exported by ``chainrule.kernels`` (and listed in its ``__all__``), so generated code
imports them from there, by name, exactly as the engine runs them.
"""

from __future__ import annotations

from typing import Any

from .backend import xp

__all__ = [
    "bessel_i1",
    "cumprod_along",
    "cumsum_along",
    "histogram_index",
    "linrec",
    "shift_along",
    "unique_part",
]


def _reversed(x: Any, axis: int) -> Any:
    """``x`` read backwards along ``axis`` (a view: ``np.flip`` without its argument
    normalization, which costs more than the flip on small arrays)."""
    if axis == 0:
        return x[::-1]
    return x[(slice(None),) * (axis % x.ndim) + (slice(None, None, -1),)]


def cumsum_along(x: Any, axis: int, reverse: bool) -> Any:
    """Running sums along ``axis``, from the end when ``reverse``.

    >>> cumsum_along(xp.array([1.0, 2.0, 3.0]), 0, True)
    array([6., 5., 3.])
    """
    if not reverse:
        return xp.cumsum(x, axis=axis)
    x = xp.asarray(x)
    return _reversed(xp.cumsum(_reversed(x, axis), axis=axis), axis)


def cumprod_along(x: Any, axis: int, reverse: bool) -> Any:
    """Running products along ``axis``, from the end when ``reverse``.

    >>> cumprod_along(xp.array([1.0, 2.0, 3.0]), 0, True)
    array([6., 6., 3.])
    """
    if not reverse:
        return xp.cumprod(x, axis=axis)
    x = xp.asarray(x)
    return _reversed(xp.cumprod(_reversed(x, axis), axis=axis), axis)


def shift_along(x: Any, axis: int, step: int, fill: Any) -> Any:
    """``x`` moved one place along ``axis``: ``out[i] = x[i - 1]`` for ``step=1``,
    ``out[i] = x[i + 1]`` for ``step=-1``; the place left empty holds ``fill``.

    >>> shift_along(xp.array([1.0, 2.0, 3.0]), 0, 1, 0.0)
    array([0., 1., 2.])
    """
    x = xp.asarray(x)
    out = xp.empty_like(x)
    n = x.shape[axis]
    if n == 0:
        return out
    dst = [slice(None)] * x.ndim
    src = [slice(None)] * x.ndim
    edge = [slice(None)] * x.ndim
    if step == 1:
        dst[axis], src[axis], edge[axis] = slice(1, None), slice(None, n - 1), 0
    else:
        dst[axis], src[axis], edge[axis] = slice(None, n - 1), slice(1, None), n - 1
    out[tuple(dst)] = x[tuple(src)]
    out[tuple(edge)] = fill
    return out


def linrec(a: Any, b: Any, axis: int, reverse: bool) -> Any:
    """The first-order linear recurrence ``s[i] = a[i] * s[i - 1] + b[i]`` along ``axis``
    (``s[-1] = 0``); with ``reverse``, ``s[i] = a[i] * s[i + 1] + b[i]`` (``s[n] = 0``).

    The gradients of running products are recurrences of this kind; no division is
    involved, so zeros are exact.

    >>> linrec(xp.array([9.0, 2.0, 3.0]), xp.array([1.0, 1.0, 1.0]), 0, False)
    array([ 1.,  3., 10.])
    """
    a, b = xp.asarray(a), xp.asarray(b)
    if a.shape != b.shape:
        a, b = xp.broadcast_arrays(a, b)
    dtype = a.dtype if a.dtype == b.dtype else xp.result_type(a, b)
    n = b.shape[axis]
    if n == 0:
        return xp.empty(b.shape, dtype=dtype)
    if axis != 0:  # the scanned axis first (swapaxes is its own inverse)
        a, b = xp.swapaxes(a, axis, 0), xp.swapaxes(b, axis, 0)
    if reverse:
        a, b = a[::-1], b[::-1]
    # A parallel (Hillis-Steele) scan: after the step with offset d, position i holds the
    # recurrence over its last 2d positions as s[i] = A[i] s[i - 2d] + B[i]; composing
    # (A2, B2) after (A1, B1) gives (A2 A1, A2 B1 + B2). log2(n) vectorized steps instead
    # of n, products only (no division: zeros stay exact).
    coef = a.astype(dtype)
    acc = b.astype(dtype)
    d = 1
    while d < n:
        acc[d:] += coef[d:] * acc[:-d]
        if 2 * d < n:
            coef[d:] *= coef[:-d]
        d *= 2
    if reverse:
        acc = acc[::-1]
    if axis != 0:
        acc = xp.swapaxes(acc, axis, 0)
    return xp.ascontiguousarray(acc)


# --------------------------------------------------------------------------- unique


def unique_part(x: Any, part: str, axis: Any, equal_nan: bool, hashed: bool) -> Any:
    """One integer part of ``np.unique(x, axis=axis, equal_nan=equal_nan)``: "index" (where
    each unique value, or slice along ``axis``, occurs first: the values are ``x`` there),
    "inverse" or "counts". ``hashed``: the values come in the order NumPy's unsorted
    (hash-based) ``unique`` gives them (``sorted=False``, values only); the first
    occurrences are then listed in that order.

    >>> unique_part(xp.array([3.0, 1.0, 3.0, 2.0]), "index", None, True, False)
    array([1, 3, 0])
    >>> unique_part(xp.array([3.0, 1.0, 3.0, 2.0]), "counts", None, True, False)
    array([1, 1, 2])
    """
    x = xp.asarray(x)
    if part == "inverse":
        return xp.unique(x, return_inverse=True, axis=axis, equal_nan=equal_nan)[1]
    if part == "counts":
        return xp.unique(x, return_counts=True, axis=axis, equal_nan=equal_nan)[1]
    first = xp.unique(x, return_index=True, axis=axis, equal_nan=equal_nan)[1]
    if not hashed:
        return first
    order = xp.unique(x, sorted=False, equal_nan=equal_nan)
    ref = x.reshape(-1)[first]  # the sorted unique values
    if order.shape != ref.shape or xp.isnan(ref).any():
        return first  # (NaNs have no place to search for: the sorted order is kept)
    return first[xp.searchsorted(ref, order)]


# --------------------------------------------------------------------------- histograms


def _unsigned_subtract(a: Any, b: Any) -> Any:
    """a - b as NumPy's histogram takes it: signed integers subtract as their unsigned
    twins (no overflow for a range wider than half the integer type)."""
    dt = xp.result_type(a, b)
    unsigned = {
        xp.byte: xp.ubyte,
        xp.short: xp.ushort,
        xp.intc: xp.uintc,
        xp.int_: xp.uint,
        xp.longlong: xp.ulonglong,
    }.get(dt.type)
    if unsigned is None:
        return xp.subtract(a, b, dtype=dt)
    return xp.subtract(
        xp.asarray(a, dtype=dt), xp.asarray(b, dtype=dt), casting="unsafe", dtype=unsigned
    )


def histogram_index(a: Any, edges: Any, *extremes: Any, uniform: bool, range: Any) -> Any:
    """The bin of each value of the 1-d ``a`` in ``np.histogram``'s assignment (``len(edges)
    - 1``, one past the last bin, for the values it does not count): for ``uniform`` bins
    NumPy's own arithmetic (the position from the outer edges, corrected against
    ``edges``), between the outer edges ``range`` or, when that is None, the extremes
    ``(min, max)`` of ``a`` given as inputs (widened by 0.5 when equal); otherwise the
    edges searched, the last bin closed.

    >>> histogram_index(xp.array([0.0, 0.5, 1.0, 2.0]), xp.array([0.0, 0.5, 1.0]),
    ...                 uniform=True, range=(0.0, 1.0))
    array([0, 1, 1, 2])
    """
    a, edges = xp.asarray(a), xp.asarray(edges)
    n = edges.shape[0] - 1
    out = xp.full(a.shape, n, dtype=xp.intp)
    if not uniform:
        keep = (a >= edges[0]) & (a <= edges[-1])
        inside = xp.searchsorted(edges, a[keep], side="right") - 1
        inside[inside == n] = n - 1  # the last bin holds its right edge
        out[keep] = inside
        return out
    if range is not None:
        first, last = range
    elif a.size == 0:
        first, last = 0, 1
    else:
        first, last = xp.asarray(extremes[0])[()], xp.asarray(extremes[1])[()]
    if first == last:
        first, last = first - 0.5, last + 0.5
    keep = a >= first
    keep &= a <= last
    t = a[keep].astype(edges.dtype, copy=False)
    index = ((_unsigned_subtract(t, first) / _unsigned_subtract(last, first)) * n).astype(xp.intp)
    index[index == n] -= 1
    # the position is good to about an ulp: corrected against the edges themselves
    index[t < edges[index]] -= 1
    index[(t >= edges[index + 1]) & (index != n - 1)] += 1
    out[keep] = index
    return out


# --------------------------------------------------------------------------- Bessel I1

_SERIES_TO = 25.0  # |x| up to here: the power series; beyond: the asymptotic expansion


def bessel_i1(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 1, I1(x) (odd in x), the
    derivative of ``np.i0``; float16/32 inputs give their dtype, integers float64.

    For |x| <= 25 the power series sum_k (x/2)^(2k+1) / (k! (k+1)!), whose terms are all of
    one sign (no cancellation; 60 terms reach below an ulp); beyond, the asymptotic
    expansion e^x / sqrt(2 pi x) sum_k (-1)^k a_k(1) / x^k, a_k(1) = prod_{j<=k} (4 - (2j -
    1)^2) / (k! 8^k), whose smallest term there is under 1e-20. Within 3e-15 relative in
    float64; overflows to inf beyond about x = 713.9, as I1 does.

    >>> float(bessel_i1(xp.float64(1.0)))  # doctest: +ELLIPSIS
    0.565159103992485...
    """
    x = xp.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else xp.dtype(xp.float64)
    if x.dtype.kind == "c":
        raise TypeError("i1: complex input is not supported")
    a = xp.abs(x.astype(xp.float64))
    out = xp.empty(a.shape, dtype=xp.float64)
    small = a <= _SERIES_TO
    h = a[small] / 2.0
    h2 = h * h
    term = h.copy()
    total = h.copy()
    for k in range(1, 60):
        term *= h2 / (k * (k + 1))
        total += term
    out[small] = total
    big = a[~small]
    if big.size:
        with xp.errstate(over="ignore", invalid="ignore"):
            series = xp.ones_like(big)
            term = xp.ones_like(big)
            for k in range(1, 30):
                term *= -(4.0 - (2 * k - 1) ** 2) / (8.0 * k * big)
                series += term
            half = xp.exp(big / 2.0)  # e^x as two halves: finite up to where I1 is
            value = half * (half * series / xp.sqrt(2.0 * xp.pi * big))
        out[~small] = xp.where(big == xp.inf, xp.inf, value)
    out = xp.where(xp.signbit(x), -out, out)
    return out.astype(dtype, copy=False)[()] if x.ndim == 0 else out.astype(dtype, copy=False)
