"""Array kernels of the NumPy-family primitives (``rules_numpy``): scans along an axis.

Re-exported by ``chainrule.kernels`` (and listed in its ``__all__``), so generated code
imports them from there, by name, exactly as the engine runs them.
"""

from __future__ import annotations

from typing import Any

from .backend import xp

__all__ = ["cumprod_along", "cumsum_along", "linrec", "shift_along"]


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
