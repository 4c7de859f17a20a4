"""Array kernels of the NumPy-family primitives (``rules_numpy``): scans along an axis.

Re-exported by ``chainrule.kernels`` (and listed in its ``__all__``), so generated code
imports them from there, by name, exactly as the engine runs them.
"""

from __future__ import annotations

from typing import Any

from .backend import xp

__all__ = ["cumprod_along", "cumsum_along", "linrec", "shift_along"]


def cumsum_along(x: Any, axis: int, reverse: bool) -> Any:
    """Running sums along ``axis``, from the end when ``reverse``.

    >>> cumsum_along(xp.array([1.0, 2.0, 3.0]), 0, True)
    array([6., 5., 3.])
    """
    if not reverse:
        return xp.cumsum(x, axis=axis)
    return xp.flip(xp.cumsum(xp.flip(x, axis), axis=axis), axis)


def cumprod_along(x: Any, axis: int, reverse: bool) -> Any:
    """Running products along ``axis``, from the end when ``reverse``.

    >>> cumprod_along(xp.array([1.0, 2.0, 3.0]), 0, True)
    array([6., 6., 3.])
    """
    if not reverse:
        return xp.cumprod(x, axis=axis)
    return xp.flip(xp.cumprod(xp.flip(x, axis), axis=axis), axis)


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

    One vectorized step per position along the axis: the gradients of running products
    are recurrences of this kind, and no division is involved, so zeros are exact.

    >>> linrec(xp.array([9.0, 2.0, 3.0]), xp.array([1.0, 1.0, 1.0]), 0, False)
    array([ 1.,  3., 10.])
    """
    a, b = xp.broadcast_arrays(xp.asarray(a), xp.asarray(b))
    out = xp.empty(b.shape, dtype=xp.result_type(a, b))
    n = b.shape[axis]
    if n == 0:
        return out
    am, bm, om = (xp.moveaxis(v, axis, 0) for v in (a, b, out))
    order = range(n - 1, -1, -1) if reverse else range(n)
    prev = None
    for i in order:
        if prev is None:
            om[i] = bm[i]
        else:
            om[i] = am[i] * om[prev] + bm[i]
        prev = i
    return out
