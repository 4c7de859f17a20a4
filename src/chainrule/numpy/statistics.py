"""NumPy's order statistics and moments of several variables on Tensors: quantile,
percentile (and their nan- variants, nanmedian), cov, corrcoef and trapezoid, differentiable.

Quantiles are gathers from the sorted values: the gradient goes to the one or two order
statistics the quantile interpolates between, weighted as the interpolation weighs them
(the positions come from ``q`` and the count, never from a derivative). ``q`` is data
about positions, not a differentiable input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .. import rules as P
from .. import rules_numpy as R
from ..tensor import Tensor, apply
from ._common import cast, finish, nondifferentiable_result, reduction_axis, tensor
from .reductions import _float, _kept_shape, _sum, _to_last
from .shapes import moveaxis

__all__ = [
    "bincount",
    "corrcoef",
    "cov",
    "nanmedian",
    "nanpercentile",
    "nanquantile",
    "percentile",
    "quantile",
    "trapezoid",
]

#: The interpolation methods of np.quantile that are implemented (NumPy's names).
METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _positions(name: str, q: Any, scale: float) -> tuple[np.ndarray, Any]:
    """``q`` as float64 fractions in [0, 1] (``scale`` is 100 for percentiles), and what
    it contributes to the result's dtype (a Python number is weakly typed)."""
    if isinstance(q, Tensor):
        if q.requires_grad:
            raise TypeError(
                f"{name}: q is a position, not a differentiable input (got a Tensor that "
                f"requires grad); pass q.detach()"
            )
        q = q.numpy()
    fractions = np.asarray(q, dtype=np.float64) / scale
    if fractions.size and not ((fractions >= 0) & (fractions <= 1)).all():
        bound = "[0, 100]" if scale == 100 else "[0, 1]"
        raise ValueError(f"{name}: q must be in the range {bound}, got {q!r}")
    weak = isinstance(q, (int, float)) and not isinstance(q, bool)
    return fractions, (q if weak else np.asarray(q).dtype)


def _quantile(
    name: str,
    a: Any,
    positions: tuple[np.ndarray, Any],
    axis: Any,
    out: Any,
    method: str,
    keepdims: bool,
    skip_nan: bool,
    kwargs: dict,
) -> Any:
    if kwargs:
        raise TypeError(f"{name}: {sorted(kwargs)} not supported on chainrule Tensors")
    if method not in METHODS and method != "median":  # "median": nanmedian's own
        raise TypeError(
            f"{name}: method={method!r} is not supported on chainrule Tensors (supported: "
            f"{', '.join(METHODS)})"
        )
    from .indexing import sort

    fractions, q_kind = positions
    x = _float(tensor(a))
    if x.dtype.kind == "c" and method != "median":  # NumPy's quantiles refuse complex too
        raise TypeError(f"{name}: a must be real, got {x.dtype}")
    if method in ("linear", "midpoint"):  # interpolated in q's precision, as NumPy does
        x = cast(x, np.result_type(x.dtype, q_kind))  # float32 data, float64 q: float64
    ax = reduction_axis(name, axis, x.shape)
    axes = tuple(range(x.ndim)) if ax is None else ((ax,) if isinstance(ax, int) else ax)
    flat = _to_last(x, axes) if x.ndim else ops.reshape(x, 1)
    n = flat.shape[-1]
    if n == 0:
        raise ValueError(f"{name}: cannot take a quantile of an empty slice")
    s = sort(flat, axis=-1)  # NaNs sort last, so the valid values come first
    nq = fractions.size
    real = np.empty(0, x.dtype).real.dtype  # positions are real, also for complex values
    q = fractions.reshape(-1).astype(real)
    lead = s.shape[:-1]
    if skip_nan:
        # the count of valid values differs per slice: positions are computed as tensors
        # (from a boolean count, carrying no gradient) so traced programs recompute them
        count = _sum(~P.isnan(s), -1, True).astype(real)
        last = ops.maximum(count - 1, 0)
    else:
        count, last = n, n - 1
    virtual = q * last if skip_nan else ops.broadcast_to(tensor(q * last), lead + (nq,))
    below = apply(R.floor, (virtual,))
    if method == "lower":
        lo, hi, gamma = below, below, None
    elif method == "higher":
        lo = hi = apply(R.ceil, (virtual,))
        gamma = None
    elif method == "nearest":
        lo = hi = apply(R.rint, (virtual,))  # NumPy rounds half to even (np.around)
        gamma = None
    else:
        lo = below
        hi = ops.minimum(below + 1, last)
        # midpoint: halfway unless the position is an order statistic itself
        gamma = virtual - below
        if method == "midpoint":
            gamma = ops.where(gamma == 0, gamma, 0.5)
    lo_i, hi_i = lo.astype(np.intp), hi.astype(np.intp)
    a_lo = ops.take_along_axis(s, lo_i, -1)
    if gamma is None:
        value = a_lo
    else:
        # NumPy's lerp: from the nearer end, so gamma = 0 and gamma = 1 are exact
        b_hi = ops.take_along_axis(s, hi_i, -1)
        if method == "median":  # the mean of the two middle values, as NumPy's median
            value = ops.where(gamma == 0, a_lo, (a_lo + b_hi) / 2)
        else:
            d = b_hi - a_lo
            value = ops.where(gamma >= 0.5, b_hi - d * (1 - gamma), a_lo + d * gamma)
    if skip_nan:
        value = ops.where(count == 0, np.nan, value)  # an all-NaN slice
    elif x.dtype.kind == "f":
        has_nan = apply(R.any, (P.isnan(s),), {"axis": -1, "keepdims": True})
        value = ops.where(has_nan, np.nan, value)
    # (..., nq) -> q's shape first, then the reduced shape (NumPy's layout)
    value = moveaxis(value, -1, 0) if value.ndim > 1 else value
    shape = fractions.shape + _kept_shape(x.shape, ax, keepdims)
    return finish(name, ops.reshape(value, shape), out)


def quantile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    **kwargs: Any,
) -> Any:
    """The ``q``-th quantiles (``q`` in [0, 1]) over ``axis``, with NumPy's ``method``
    (linear, lower, higher, nearest, midpoint). The gradient goes to the order statistics
    interpolated between (weights 1 - gamma and gamma; at ties, to the ones the stable sort
    put there); NaN where a slice holds a NaN. ``q`` is not differentiable.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([4.0, 1.0, 3.0, 2.0], requires_grad=True)
    >>> cnp.quantile(x, 0.5).backward()
    >>> x.grad
    tensor([0. , 0. , 0.5, 0.5])
    """
    positions = _positions("quantile", q, 1.0)
    return _quantile("quantile", a, positions, axis, out, method, keepdims, False, kwargs)


def percentile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    **kwargs: Any,
) -> Any:
    """``quantile(a, q / 100)``: the ``q``-th percentiles (``q`` in [0, 100]).

    >>> import chainrule.numpy as cnp
    >>> cnp.percentile(cnp.array([1.0, 2.0, 3.0, 4.0]), [25, 50])
    tensor([1.75, 2.5 ])
    """
    positions = _positions("percentile", q, 100.0)
    return _quantile("percentile", a, positions, axis, out, method, keepdims, False, kwargs)


def nanquantile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    **kwargs: Any,
) -> Any:
    """``quantile`` of the non-NaN values of each slice (NaN for a slice of NaNs only).

    >>> import chainrule.numpy as cnp
    >>> cnp.nanquantile(cnp.array([1.0, float("nan"), 3.0]), 0.5)
    tensor(2.)
    """
    positions = _positions("nanquantile", q, 1.0)
    return _quantile("nanquantile", a, positions, axis, out, method, keepdims, True, kwargs)


def nanpercentile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    **kwargs: Any,
) -> Any:
    """``percentile`` of the non-NaN values of each slice.

    >>> import chainrule.numpy as cnp
    >>> cnp.nanpercentile(cnp.array([1.0, float("nan"), 3.0]), 100)
    tensor(3.)
    """
    positions = _positions("nanpercentile", q, 100.0)
    return _quantile("nanpercentile", a, positions, axis, out, method, keepdims, True, kwargs)


def nanmedian(
    a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False, keepdims: bool = False
) -> Any:
    """The median of the non-NaN values of each slice (the gradient goes to the middle
    valid element, or splits between the two middle ones).

    >>> import chainrule.numpy as cnp
    >>> cnp.nanmedian(cnp.array([[1.0, float("nan"), 4.0], [2.0, 3.0, 9.0]]), axis=1)
    tensor([2.5, 3. ])
    """
    positions = (np.asarray(0.5), 0.5)
    return _quantile("nanmedian", a, positions, axis, out, "median", keepdims, True, {})


def _rows(name: str, m: Any, rowvar: bool, dtype: Any) -> Tensor:
    """``m`` as a 2-d Tensor of variables (rows) by observations (columns)."""
    x = tensor(m)
    if x.ndim > 2:
        raise ValueError(f"{name}: m has more than 2 dimensions ({x.shape})")
    x = ops.reshape(x, (1, -1)) if x.ndim < 2 else x
    if not rowvar and x.shape[0] != 1:
        x = ops.transpose(x, (1, 0))
    # NumPy computes covariances in at least float64 (np.result_type(m, np.float64))
    return cast(x, dtype if dtype is not None else np.result_type(x.dtype, np.float64))


def cov(
    m: Any,
    y: Any = None,
    rowvar: bool = True,
    bias: bool = False,
    ddof: Any = None,
    fweights: Any = None,
    aweights: Any = None,
    *,
    dtype: Any = None,
) -> Tensor:
    """The covariance matrix of the variables (rows of ``m``, or columns if ``rowvar`` is
    False, and those of ``y``), with NumPy's ``bias``, ``ddof``, ``fweights`` and
    ``aweights``. Differentiable in the data and in the weights: it is
    ``(X - mean) @ conj(X - mean).T * w / (sum(w) - ddof * ...)`` written with
    chainrule's operations.

    >>> import chainrule.numpy as cnp
    >>> cnp.cov(cnp.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    if ddof is not None and ddof != int(ddof):
        raise ValueError("cov: ddof must be an integer")
    x = _rows("cov", m, rowvar, dtype)
    if y is not None:
        yy = _rows("cov", y, rowvar, dtype)
        if yy.shape[1] != x.shape[1]:
            raise ValueError(
                f"cov: m and y must have the same number of observations, got {x.shape[1]} "
                f"and {yy.shape[1]}"
            )
        from .shapes import concatenate

        x = concatenate([x, yy], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = x.shape[1]
    w = None
    for label, weights in (("fweights", fweights), ("aweights", aweights)):
        if weights is None:
            continue
        wt = tensor(weights)
        if wt.ndim != 1 or wt.shape[0] != n:
            raise ValueError(f"cov: {label} must be 1-d of length {n}, got shape {wt.shape}")
        if label == "fweights" and wt.dtype.kind not in "biu":
            raise TypeError("cov: fweights must be integers")
        w = wt if w is None else w * wt
    if w is None:
        mean = ops.mean(x, axis=1, keepdims=True)
        fact: Any = n - ddof
    else:
        w = w.astype(x.dtype) if w.dtype.kind in "biu" else w
        total = ops.sum(w)
        mean = ops.sum(x * w, axis=1, keepdims=True) / total
        if ddof == 0:
            fact = total
        elif aweights is None:
            fact = total - ddof
        else:
            fact = total - ddof * ops.sum(w * tensor(aweights)) / total
    centred = x - mean
    weighted = centred if w is None else centred * w
    c = ops.matmul(weighted, ops.transpose(ops.conj(centred), (1, 0))) / fact
    return ops.reshape(c, ()) if c.shape == (1, 1) else c


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Tensor:
    """Pearson correlation coefficients: ``cov`` divided by the outer product of the
    standard deviations, the real part clipped to [-1, 1] as NumPy does (the diagonal is 1,
    so its derivative is 0; off the diagonal the clip is inactive).

    >>> import chainrule.numpy as cnp
    >>> cnp.corrcoef(cnp.array([1.0, 2.0, 4.0]), cnp.array([2.0, 4.0, 8.0]))
    tensor([[1., 1.],
            [1., 1.]])
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    from .indexing import diagonal

    d = diagonal(c)
    std = ops.sqrt(ops.real(d)) if c.dtype.kind == "c" else ops.sqrt(d)
    c = c / ops.reshape(std, (-1, 1)) / ops.reshape(std, (1, -1))
    if c.dtype.kind == "c":
        re = ops.clip(ops.real(c), -1, 1)
        return re + 1j * ops.clip(ops.imag(c), -1, 1)
    return ops.clip(c, -1, 1)


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Tensor:
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, with sample points
    ``x`` (or spacing ``dx``); differentiable in ``y``, ``x`` and ``dx``.

    >>> import chainrule.numpy as cnp
    >>> cnp.trapezoid(cnp.array([1.0, 2.0, 3.0]), dx=0.5)
    tensor(2.)
    """
    from ._common import normalize_axis
    from .shapes import diff

    yy = tensor(y)
    ax = normalize_axis("trapezoid", axis, yy.ndim)
    if x is None:
        d: Any = dx
    else:
        xx = tensor(x)
        if xx.ndim == 1:
            d = diff(xx)
            shape = [1] * yy.ndim
            shape[ax] = d.shape[0]
            d = ops.reshape(d, tuple(shape))
        else:
            d = diff(xx, axis=ax)
    yy = moveaxis(yy, ax, -1)
    if isinstance(d, Tensor) and d.ndim == yy.ndim:
        d = moveaxis(d, ax, -1)
    return ops.sum(d * (yy[..., 1:] + yy[..., :-1]) / 2.0, axis=-1)


def bincount(x: Any, /, weights: Any = None, minlength: int = 0) -> Tensor:
    """How often each value 0, 1, ... occurs in the non-negative integers ``x`` (integer:
    not differentiable), or the sums of ``weights`` per value, differentiable in the
    weights (each bin's gradient goes to the weights counted in it). The bins depend on the
    values of ``x``, so ``x`` is read as data (a strict tracer such as cr.jit refuses a
    traced ``x``).

    >>> import chainrule.numpy as cnp
    >>> cnp.bincount([0, 2, 2, 3], weights=cnp.array([0.5, 1.0, 2.0, 4.0]))
    tensor([0.5, 0. , 3. , 4. ])
    """
    idx = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if idx.ndim != 1:
        raise ValueError(f"bincount: x must be 1-d, got shape {idx.shape}")
    if idx.size and idx.dtype.kind not in "biu":
        raise TypeError(f"bincount: x must be integers, got {idx.dtype}")
    if idx.size and idx.min() < 0:
        raise ValueError("bincount: x must be non-negative")
    if minlength < 0:
        raise ValueError("bincount: minlength must be non-negative")
    if weights is None:
        return nondifferentiable_result(np.bincount(idx, minlength=minlength))
    w = tensor(weights)
    if w.shape != idx.shape:
        raise ValueError(
            f"bincount: the weights and x must have the same length, got {w.shape} and {idx.shape}"
        )
    n = max(int(idx.max()) + 1 if idx.size else 0, minlength)
    one_hot = (idx[:, None] == np.arange(n)[None, :]).astype(np.float64)
    if w.dtype.kind == "c":
        raise TypeError("bincount: weights must be real (NumPy casts them to float64)")
    return ops.matmul(w.astype(np.float64), one_hot)
