"""NumPy's reductions and running reductions on Tensors (sum, prod, mean, var, std, max,
cumsum, the nan- variants, average, median, ...), differentiable, with NumPy's signatures:
``axis`` (None, an int or a tuple; negative from the end), ``keepdims``, ``dtype``,
``ddof``, ``out=`` and ``where=`` where NumPy has them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .. import rules as P
from .. import rules_numpy as R
from ..tensor import Tensor, apply
from ._common import (
    NOVALUE,
    cast,
    finish,
    normalize_axis,
    reduced_count,
    reduction_axis,
    tensor,
)

__all__ = [
    "all",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
    "average",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "cumulative_prod",
    "cumulative_sum",
    "max",
    "mean",
    "median",
    "min",
    "nanargmax",
    "nanargmin",
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmean",
    "nanmin",
    "nanprod",
    "nanstd",
    "nansum",
    "nanvar",
    "prod",
    "ptp",
    "std",
    "sum",
    "var",
]


def _masked(x: Tensor, where: Any, fill: Any) -> Tensor:
    """``x`` with ``fill`` where the ``where=`` mask is False (the mask broadcast to x)."""
    if where is True or where is NOVALUE:
        return x
    mask = where if isinstance(where, Tensor) else np.asarray(where, dtype=bool)
    return ops.where(ops.broadcast_to(tensor(mask), x.shape), x, fill)


def _has_mask(where: Any) -> bool:
    return not (where is True or where is NOVALUE)


def _mask_count(x: Tensor, where: Any, axis: Any, keepdims: bool) -> Tensor:
    mask = where if isinstance(where, Tensor) else tensor(np.asarray(where, dtype=bool))
    full = ops.broadcast_to(mask, x.shape)
    count = apply(P.sum, (full,), {"axis": axis, "keepdims": keepdims, "shape": x.shape})
    # counted in x's (real) precision, so dividing by it keeps float32 float32
    real = np.finfo(x.dtype).dtype if x.dtype.kind in "fc" else np.dtype(np.float64)
    return count.astype(real)


def _sum(x: Tensor, axis: Any, keepdims: bool) -> Tensor:
    return apply(P.sum, (x,), {"axis": axis, "keepdims": bool(keepdims), "shape": x.shape})


def _float(x: Tensor) -> Tensor:
    """Integers and booleans are averaged in float64, as NumPy does."""
    return x.astype(np.float64) if x.dtype.kind in "biu" else x


def _keep(keepdims: Any) -> bool:
    return False if keepdims is NOVALUE else bool(keepdims)


def sum(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: Any = False,
    initial: Any = NOVALUE,
    where: Any = True,
) -> Any:
    """Sum over ``axis`` (None: all). Every summed element gets the upstream gradient.

    >>> import chainrule.numpy as cnp
    >>> cnp.sum(cnp.array([[1.0, 2.0], [3.0, 4.0]]), axis=0)
    tensor([4., 6.])
    """
    x = _masked(cast(tensor(a), dtype), where, 0)
    result = _sum(x, reduction_axis("sum", axis, x.shape), _keep(keepdims))
    if initial is not NOVALUE:
        result = result + initial
    return finish("sum", cast(result, dtype), out)


def prod(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: Any = False,
    initial: Any = NOVALUE,
    where: Any = True,
) -> Any:
    """Product over ``axis``. The gradient of each element is the product of the others,
    computed from running products before and after it (no division), so it is exact where
    elements are 0, at every order.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([2.0, 0.0, 3.0], requires_grad=True)
    >>> cnp.prod(x).backward()
    >>> x.grad
    tensor([0., 6., 0.])
    """
    x = _masked(cast(tensor(a), dtype), where, 1)
    ax = reduction_axis("prod", axis, x.shape)
    result = apply(R.prod, (x,), {"axis": ax, "keepdims": _keep(keepdims)})
    if initial is not NOVALUE:
        result = result * initial
    return finish("prod", cast(result, dtype), out)


def mean(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: Any = False,
    *,
    where: Any = True,
) -> Any:
    """Arithmetic mean over ``axis`` (integers averaged in float64; an empty slice gives NaN
    with NumPy's warning). Each element gets 1/n of the upstream gradient.

    >>> import chainrule.numpy as cnp
    >>> cnp.mean(cnp.array([[1.0, 2.0], [3.0, 6.0]]), axis=0)
    tensor([2., 4.])
    """
    x = cast(tensor(a), dtype) if dtype is not None else _float(tensor(a))
    ax = reduction_axis("mean", axis, x.shape)
    keep = _keep(keepdims)
    if _has_mask(where):
        total = _sum(_masked(x, where, 0), ax, keep)
        return finish("mean", total / _mask_count(x, where, ax, keep), out)
    n = reduced_count(x.shape, ax)
    if n:
        result = _sum(x, ax, keep) / n
    else:  # NumPy's answer for an empty slice: NaN, with its warning
        import warnings

        warnings.warn("Mean of empty slice.", RuntimeWarning, stacklevel=2)
        with np.errstate(invalid="ignore"):
            result = _sum(x, ax, keep) * np.nan
    return finish("mean", result, out)


def _ddof(ddof: Any, correction: Any) -> Any:
    if correction is NOVALUE:
        return ddof
    if ddof != 0:
        raise ValueError("var: ddof and correction can't be provided simultaneously")
    return correction


def _var(x: Tensor, ax: Any, ddof: Any, keep: bool, where: Any, given_mean: Any) -> Tensor:
    if given_mean is NOVALUE:
        m = mean(x, ax, keepdims=True, where=where)
    else:
        m = tensor(given_mean)
    centered = x - m
    if centered.dtype.kind == "c":  # |x - m|^2, real, as NumPy's var
        squares = ops.real(centered * ops.conj(centered))
    else:
        squares = centered * centered
    if _has_mask(where):
        n = _mask_count(x, where, ax, keep)
        return _sum(_masked(squares, where, 0), ax, keep) / ops.maximum(n - ddof, 0)
    n = reduced_count(x.shape, ax)
    if n - ddof > 0:
        return _sum(squares, ax, keep) / (n - ddof)
    import warnings  # NumPy's answer: inf or NaN, with its warning

    warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=3)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _sum(squares, ax, keep) / 0.0


def var(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: Any = 0,
    keepdims: Any = False,
    *,
    where: Any = True,
    mean: Any = NOVALUE,
    correction: Any = NOVALUE,
) -> Any:
    """Variance over ``axis``: mean(|x - x.mean()|**2) * n / (n - ddof) (``ddof=0``, as
    NumPy; NumPy 2's ``correction=`` is the same). Differentiable through the mean.

    >>> import chainrule.numpy as cnp
    >>> cnp.var(cnp.array([1.0, 2.0, 3.0, 4.0]))
    tensor(1.25)
    """
    x = cast(tensor(a), dtype) if dtype is not None else _float(tensor(a))
    ax = reduction_axis("var", axis, x.shape)
    result = _var(x, ax, _ddof(ddof, correction), _keep(keepdims), where, mean)
    return finish("var", result, out)


def std(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: Any = 0,
    keepdims: Any = False,
    *,
    where: Any = True,
    mean: Any = NOVALUE,
    correction: Any = NOVALUE,
) -> Any:
    """Standard deviation: sqrt(var) (``ddof=0``). Where the variance is 0 (constant
    input, a single element) std is not differentiable; its gradient there is taken as 0,
    a subgradient (not the NaN that sqrt'(0) * 0 would give).

    >>> import chainrule.numpy as cnp
    >>> cnp.std(cnp.array([1.0, 3.0]))
    tensor(1.)
    """
    x = cast(tensor(a), dtype) if dtype is not None else _float(tensor(a))
    ax = reduction_axis("std", axis, x.shape)
    return finish(
        "std", _sqrt0(_var(x, ax, _ddof(ddof, correction), _keep(keepdims), where, mean)), out
    )


def _sqrt0(v: Tensor) -> Tensor:
    """sqrt(v) whose derivative is taken as 0 where v == 0. There std is the tip of a cone
    (constant inputs, or a single element, where it is 0 whatever the input): 0 is a
    subgradient, and it is the derivative along every direction that central differences
    see; sqrt'(0) would give inf * 0 = NaN instead. (The double where keeps the unused
    branch finite at every order.)"""
    zero = v == 0
    return ops.where(zero, 0.0, ops.sqrt(ops.where(zero, 1.0, v)))


def _to_last(x: Tensor, axes: tuple) -> Tensor:
    """``x`` with ``axes`` moved to the end and merged into one."""
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    order = rest + tuple(axes)
    moved = ops.transpose(x, order) if order != tuple(range(x.ndim)) else x
    return ops.reshape(moved, tuple(x.shape[i] for i in rest) + (-1,))


def _kept_shape(shape: tuple, ax: Any, keepdims: bool) -> tuple:
    if ax is None:
        return (1,) * len(shape) if keepdims else ()
    axes = (ax,) if isinstance(ax, int) else ax
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _gather_extreme(x: Tensor, ax: Any, keepdims: bool, fn: str) -> Tensor:
    """The value at the arg-max/arg-min (the first one at ties): for complex inputs, which
    NumPy orders by real part, then imaginary part. The gradient goes to that element."""
    if ax is None or not isinstance(ax, int):
        axes = tuple(range(x.ndim)) if ax is None else ax
        flat = _to_last(x, axes) if x.ndim else ops.reshape(x, 1)
        idx = apply(R.argextreme, (flat,), {"fn": fn, "axis": -1, "keepdims": True})
        picked = ops.take_along_axis(flat, idx, axis=-1)
    else:
        idx = apply(R.argextreme, (x,), {"fn": fn, "axis": ax, "keepdims": True})
        picked = ops.take_along_axis(x, idx, axis=ax)
    return ops.reshape(picked, _kept_shape(x.shape, ax, keepdims))


def _extreme(
    name: str,
    prim: Any,
    fn: str,
    a: Any,
    axis: Any,
    out: Any,
    keepdims: Any,
    initial: Any,
    where: Any,
) -> Any:
    x = tensor(a)
    ax = reduction_axis(name, axis, x.shape)
    keep = _keep(keepdims)
    ufunc = "maximum" if fn == "argmax" else "minimum"
    if _has_mask(where):
        if initial is NOVALUE:
            raise ValueError(
                f"{name}: reduction operation '{ufunc}' does not have an identity, so to use "
                f"a where mask one has to specify 'initial'"
            )
        x = _masked(x, where, initial)
    if x.size == 0:
        if initial is NOVALUE:
            raise ValueError(
                f"{name}: zero-size array to reduction operation {ufunc} which has no identity"
            )
        value = np.max if fn == "argmax" else np.min
        return finish(
            name, Tensor._wrap(value(x._data, axis=ax, keepdims=keep, initial=initial)), out
        )
    if x.dtype.kind == "c":
        result = _gather_extreme(x, ax, keep, fn)
    else:
        result = apply(prim, (x,), {"axis": ax, "keepdims": keep})
    if initial is not NOVALUE:
        result = (ops.maximum if fn == "argmax" else ops.minimum)(result, initial)
    return finish(name, result, out)


def max(
    a: Any,
    axis: Any = None,
    out: Any = None,
    keepdims: Any = False,
    initial: Any = NOVALUE,
    where: Any = True,
) -> Any:
    """Largest value over ``axis``. The gradient goes to the maximum, split evenly among
    tied maxima (complex inputs: to the first maximum in NumPy's order).

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([1.0, 3.0, 3.0], requires_grad=True)
    >>> cnp.max(x).backward()
    >>> x.grad
    tensor([0. , 0.5, 0.5])
    """
    return _extreme("max", P.max, "argmax", a, axis, out, keepdims, initial, where)


def min(
    a: Any,
    axis: Any = None,
    out: Any = None,
    keepdims: Any = False,
    initial: Any = NOVALUE,
    where: Any = True,
) -> Any:
    """Smallest value over ``axis``; the gradient goes to the minimum, split evenly among
    ties.

    >>> import chainrule.numpy as cnp
    >>> cnp.min(cnp.array([[1.0, -2.0], [0.5, 4.0]]), axis=1)
    tensor([-2. ,  0.5])
    """
    return _extreme("min", P.min, "argmin", a, axis, out, keepdims, initial, where)


def amax(
    a: Any,
    axis: Any = None,
    out: Any = None,
    keepdims: Any = False,
    initial: Any = NOVALUE,
    where: Any = True,
) -> Any:
    """``max`` under its other name.

    >>> import chainrule.numpy as cnp
    >>> cnp.amax(cnp.array([1.0, 3.0]))
    tensor(3.)
    """
    return _extreme("amax", P.max, "argmax", a, axis, out, keepdims, initial, where)


def amin(
    a: Any,
    axis: Any = None,
    out: Any = None,
    keepdims: Any = False,
    initial: Any = NOVALUE,
    where: Any = True,
) -> Any:
    """``min`` under its other name.

    >>> import chainrule.numpy as cnp
    >>> cnp.amin(cnp.array([1.0, 3.0]))
    tensor(1.)
    """
    return _extreme("amin", P.min, "argmin", a, axis, out, keepdims, initial, where)


def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: Any = False) -> Any:
    """max - min over ``axis`` (gradients as theirs).

    >>> import chainrule.numpy as cnp
    >>> cnp.ptp(cnp.array([1.0, 5.0, 2.0]))
    tensor(4.)
    """
    return finish("ptp", max(a, axis, keepdims=keepdims) - min(a, axis, keepdims=keepdims), out)


def _arg(name: str, fn: str, a: Any, axis: Any, out: Any, keepdims: Any) -> Any:
    x = tensor(a)
    ax = None
    if x.ndim == 0:
        if axis not in (None, 0, -1):
            raise np.exceptions.AxisError(axis, 0, name)
    elif axis is not None:
        ax = normalize_axis(name, axis, x.shape)
    if x.size == 0:
        raise ValueError(f"{name}: attempt to get {fn} of an empty sequence")
    keep = _keep(keepdims)
    if not keep and x.dtype.kind != "c":  # the core's primitive (no keepdims, real)
        prim = P.argmax if fn == "argmax" else P.argmin
        return finish(name, apply(prim, (x,), {"axis": ax}), out)
    result = apply(R.argextreme, (x,), {"fn": fn, "axis": ax, "keepdims": keep})
    return finish(name, result, out)


def argmax(a: Any, axis: Any = None, out: Any = None, *, keepdims: Any = False) -> Any:
    """Index of the largest value (integer: not differentiable; recomputed by traced
    programs). Complex values are ordered as NumPy orders them.

    >>> import chainrule.numpy as cnp
    >>> cnp.argmax(cnp.array([[1.0, 5.0], [7.0, 2.0]]), axis=1)
    tensor([1, 0])
    """
    return _arg("argmax", "argmax", a, axis, out, keepdims)


def argmin(a: Any, axis: Any = None, out: Any = None, *, keepdims: Any = False) -> Any:
    """Index of the smallest value (integer: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.argmin(cnp.array([3.0, 1.0, 2.0]))
    tensor(1)
    """
    return _arg("argmin", "argmin", a, axis, out, keepdims)


def _scan(name: str, prim: Any, a: Any, axis: Any, dtype: Any, out: Any) -> Any:
    x = cast(tensor(a), dtype)
    if axis is None or x.ndim == 0:
        if x.ndim == 0 and axis not in (None, 0, -1):
            raise np.exceptions.AxisError(axis, 0, name)
        if x.ndim != 1:  # a vector is its own flattening (no reshape node, no copy)
            x = ops.reshape(x, -1)
        ax = 0
    else:
        ax = normalize_axis(name, axis, x.shape)
    return finish(name, cast(apply(prim, (x,), {"axis": ax, "reverse": False}), dtype), out)


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Running sums along ``axis`` (None: of the flattened input). Linear: the gradient is
    the upstream gradient summed from the end.

    >>> import chainrule.numpy as cnp
    >>> cnp.cumsum(cnp.array([[1.0, 2.0], [3.0, 4.0]]), axis=1)
    tensor([[1., 3.],
            [3., 7.]])
    """
    return _scan("cumsum", R.cumsum, a, axis, dtype, out)


def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Running products along ``axis`` (None: flattened). The gradient is a product of the
    other elements, computed by a linear recurrence without division: exact where an
    element is 0, at every order.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([2.0, 0.0, 3.0], requires_grad=True)
    >>> cnp.cumprod(x).sum().backward()
    >>> x.grad
    tensor([1., 8., 0.])
    """
    return _scan("cumprod", R.cumprod, a, axis, dtype, out)


def _cumulative(
    name: str,
    prim: Any,
    x: Any,
    axis: Any,
    dtype: Any,
    out: Any,
    initial: float,
    include_initial: bool,
) -> Any:
    t = cast(tensor(x), dtype)
    if axis is None:
        if t.ndim > 1:
            raise ValueError(f"{name}: axis= is required for arrays with more than one dimension")
        t = ops.reshape(t, -1)
        ax = 0
    else:
        ax = normalize_axis(name, axis, t.shape)
    result = apply(prim, (t,), {"axis": ax, "reverse": False})
    if include_initial:
        shape = list(result.shape)
        shape[ax] = 1
        result = ops.concatenate([np.full(shape, initial, dtype=result.dtype), result], axis=ax)
    return finish(name, result, out)


def cumulative_sum(
    x: Any,
    /,
    *,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    include_initial: bool = False,
) -> Any:
    """NumPy 2's running sums (``include_initial`` puts a 0 first).

    >>> import chainrule.numpy as cnp
    >>> cnp.cumulative_sum(cnp.array([1.0, 2.0]), include_initial=True)
    tensor([0., 1., 3.])
    """
    return _cumulative("cumulative_sum", R.cumsum, x, axis, dtype, out, 0, include_initial)


def cumulative_prod(
    x: Any,
    /,
    *,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    include_initial: bool = False,
) -> Any:
    """NumPy 2's running products (``include_initial`` puts a 1 first).

    >>> import chainrule.numpy as cnp
    >>> cnp.cumulative_prod(cnp.array([2.0, 3.0]), include_initial=True)
    tensor([1., 2., 6.])
    """
    return _cumulative("cumulative_prod", R.cumprod, x, axis, dtype, out, 1, include_initial)


# --------------------------------------------------------------------------- nan-aware


def _nan_filled(a: Any, fill: Any, dtype: Any = None) -> Tensor:
    """``a`` with its NaNs replaced by ``fill`` (those entries get no gradient)."""
    x = cast(tensor(a), dtype)
    if x.dtype.kind not in "fc":
        return x
    return ops.where(P.isnan(x), fill, x)


def nansum(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: Any = False,
    initial: Any = NOVALUE,
    where: Any = True,
) -> Any:
    """Sum treating NaNs as 0 (they get a zero gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.nansum(cnp.array([1.0, float("nan"), 2.0]))
    tensor(3.)
    """
    return sum(_nan_filled(a, 0, dtype), axis, None, out, keepdims, initial, where)


def nanprod(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: Any = False,
    initial: Any = NOVALUE,
    where: Any = True,
) -> Any:
    """Product treating NaNs as 1 (they get a zero gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.nanprod(cnp.array([2.0, float("nan"), 3.0]))
    tensor(6.)
    """
    return prod(_nan_filled(a, 1, dtype), axis, None, out, keepdims, initial, where)


def nanmean(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: Any = False,
    *,
    where: Any = True,
) -> Any:
    """Mean of the non-NaN values (NaNs get a zero gradient; an all-NaN slice is NaN).

    >>> import chainrule.numpy as cnp
    >>> cnp.nanmean(cnp.array([1.0, float("nan"), 3.0]))
    tensor(2.)
    """
    x = cast(tensor(a), dtype) if dtype is not None else _float(tensor(a))
    valid = ~P.isnan(x)
    if _has_mask(where):
        valid = valid & ops.broadcast_to(tensor(where), x.shape)
    return mean(x, axis, None, out, keepdims, where=valid)


def _no_dof_is_nan(
    result: Tensor, valid: Tensor, axis: Any, keepdims: Any, ddof: Any, correction: Any
) -> Tensor:
    """NumPy's nanvar/nanstd: NaN where the valid count leaves no degrees of freedom
    (var and std divide by max(count - ddof, 0) instead, giving inf)."""
    dof = correction if correction is not NOVALUE else ddof
    count = _sum(valid, reduction_axis("nanvar", axis, valid.shape), _keep(keepdims))
    return ops.where(count <= dof, np.nan, result)


def _nan_spread(name, fn, a, axis, dtype, out, ddof, keepdims, where, mean, correction) -> Any:
    """nanvar / nanstd: ``fn`` (var or std) over the non-NaN values (and ``where``)."""
    x = cast(tensor(a), dtype) if dtype is not None else _float(tensor(a))
    valid = ~P.isnan(x)
    if _has_mask(where):
        valid = valid & ops.broadcast_to(tensor(where), x.shape)
    result = fn(x, axis, None, None, ddof, keepdims, where=valid, mean=mean, correction=correction)
    return finish(name, _no_dof_is_nan(result, valid, axis, keepdims, ddof, correction), out)


def nanvar(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: Any = 0,
    keepdims: Any = False,
    *,
    where: Any = True,
    mean: Any = NOVALUE,
    correction: Any = NOVALUE,
) -> Any:
    """Variance of the non-NaN values (NaNs get a zero gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.nanvar(cnp.array([1.0, float("nan"), 3.0]))
    tensor(1.)
    """
    return _nan_spread("nanvar", var, a, axis, dtype, out, ddof, keepdims, where, mean, correction)


def nanstd(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: Any = 0,
    keepdims: Any = False,
    *,
    where: Any = True,
    mean: Any = NOVALUE,
    correction: Any = NOVALUE,
) -> Any:
    """Standard deviation of the non-NaN values.

    >>> import chainrule.numpy as cnp
    >>> cnp.nanstd(cnp.array([1.0, float("nan"), 3.0]))
    tensor(1.)
    """
    return _nan_spread("nanstd", std, a, axis, dtype, out, ddof, keepdims, where, mean, correction)


def _nan_extreme(
    name: str,
    fn: Any,
    fill: float,
    a: Any,
    axis: Any,
    out: Any,
    keepdims: Any,
    initial: Any,
    where: Any,
) -> Any:
    x = tensor(a)
    if x.dtype.kind != "f":
        return fn(x, axis, out, keepdims, initial, where)
    result = fn(_nan_filled(x, fill), axis, None, keepdims, initial, where)
    ax = reduction_axis(name, axis, x.shape)
    all_nan = apply(R.all, (P.isnan(x),), {"axis": ax, "keepdims": _keep(keepdims)})
    return finish(name, ops.where(all_nan, np.nan, result), out)


def nanmax(
    a: Any,
    axis: Any = None,
    out: Any = None,
    keepdims: Any = False,
    initial: Any = NOVALUE,
    where: Any = True,
) -> Any:
    """Largest non-NaN value (gradient to it, split at ties); an all-NaN slice is NaN.

    >>> import chainrule.numpy as cnp
    >>> cnp.nanmax(cnp.array([1.0, float("nan"), 3.0]))
    tensor(3.)
    """
    return _nan_extreme("nanmax", max, -np.inf, a, axis, out, keepdims, initial, where)


def nanmin(
    a: Any,
    axis: Any = None,
    out: Any = None,
    keepdims: Any = False,
    initial: Any = NOVALUE,
    where: Any = True,
) -> Any:
    """Smallest non-NaN value; an all-NaN slice is NaN.

    >>> import chainrule.numpy as cnp
    >>> cnp.nanmin(cnp.array([1.0, float("nan"), 3.0]))
    tensor(1.)
    """
    return _nan_extreme("nanmin", min, np.inf, a, axis, out, keepdims, initial, where)


def _nan_arg(name: str, fn: str, fill: float, a: Any, axis: Any, out: Any, keepdims: Any) -> Any:
    x = tensor(a)
    if x.dtype.kind == "f":
        if np.any(np.all(np.isnan(x._data), axis=axis)):
            raise ValueError(f"{name}: All-NaN slice encountered")
        x = _nan_filled(x, fill)
    return _arg(name, fn, x, axis, out, keepdims)


def nanargmax(a: Any, axis: Any = None, out: Any = None, *, keepdims: Any = False) -> Any:
    """Index of the largest non-NaN value (integer: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.nanargmax(cnp.array([1.0, float("nan"), 3.0]))
    tensor(2)
    """
    return _nan_arg("nanargmax", "argmax", -np.inf, a, axis, out, keepdims)


def nanargmin(a: Any, axis: Any = None, out: Any = None, *, keepdims: Any = False) -> Any:
    """Index of the smallest non-NaN value (integer: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.nanargmin(cnp.array([1.0, float("nan"), 0.5]))
    tensor(2)
    """
    return _nan_arg("nanargmin", "argmin", np.inf, a, axis, out, keepdims)


def nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Running sums treating NaNs as 0.

    >>> import chainrule.numpy as cnp
    >>> cnp.nancumsum(cnp.array([1.0, float("nan"), 2.0]))
    tensor([1., 1., 3.])
    """
    return cumsum(_nan_filled(a, 0, dtype), axis, None, out)


def nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Running products treating NaNs as 1.

    >>> import chainrule.numpy as cnp
    >>> cnp.nancumprod(cnp.array([2.0, float("nan"), 3.0]))
    tensor([2., 2., 6.])
    """
    return cumprod(_nan_filled(a, 1, dtype), axis, None, out)


# --------------------------------------------------------------------------- statistics


def average(
    a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *, keepdims: Any = False
) -> Any:
    """Weighted mean sum(a w) / sum(w) over ``axis``, differentiable in ``a`` and in the
    weights; ``returned`` also gives the sum of the weights.

    >>> import chainrule.numpy as cnp
    >>> cnp.average(cnp.array([1.0, 3.0]), weights=[3.0, 1.0])
    tensor(1.5)
    """
    x = tensor(a)
    keep = _keep(keepdims)
    ax = reduction_axis("average", axis, x.shape)
    if weights is None:
        avg = mean(x, ax, keepdims=keep)
        count = reduced_count(x.shape, ax)
        scl = ops.broadcast_to(tensor(np.asarray(count, dtype=avg.dtype)), avg.shape)
        return (avg, scl) if returned else avg
    w = tensor(weights)
    if w.shape != x.shape:
        if ax is None:
            raise TypeError("average: axis must be specified when shapes of a and weights differ")
        axes = (ax,) if isinstance(ax, int) else ax
        if w.shape != tuple(x.shape[i] for i in axes):
            raise ValueError(
                f"average: shape of weights {w.shape} must match the shape of a {x.shape} "
                f"along axis {axis}"
            )
        full = [1] * x.ndim
        for i, n in zip(axes, w.shape):
            full[i] = n
        order = sorted(range(len(axes)), key=lambda k: axes[k])
        if order != list(range(len(axes))):
            w = ops.transpose(w, tuple(order))
        w = ops.reshape(w, tuple(full))
    if x.dtype.kind in "biu":
        dtype = np.result_type(x.dtype, w.dtype, np.float64)
    else:
        dtype = np.result_type(x.dtype, w.dtype)
    x, w = cast(x, dtype), cast(w, dtype)
    scl = _sum(ops.broadcast_to(w, np.broadcast_shapes(w.shape, x.shape)), ax, keep)
    if np.any(np.asarray(scl._data) == 0.0):
        raise ZeroDivisionError("average: weights sum to zero, can't be normalized")
    avg = _sum(x * w, ax, keep) / scl
    if returned:
        return avg, ops.broadcast_to(scl, avg.shape) if scl.shape != avg.shape else scl
    return avg


def median(
    a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False, keepdims: bool = False
) -> Any:
    """The middle value (mean of the two middle values for an even count) over ``axis``;
    differentiable through the sort: the gradient goes to the middle element(s) (at ties,
    to the ones the stable sort put in the middle). NaN if the slice holds a NaN.

    >>> import chainrule.numpy as cnp
    >>> cnp.median(cnp.array([3.0, 1.0, 4.0, 2.0]))
    tensor(2.5)
    """
    from .indexing import sort

    x = _float(tensor(a))
    ax = reduction_axis("median", axis, x.shape)
    axes = tuple(range(x.ndim)) if ax is None else ((ax,) if isinstance(ax, int) else ax)
    flat = _to_last(x, axes) if x.ndim else ops.reshape(x, 1)
    s = sort(flat, axis=-1)
    n = s.shape[-1]
    if n == 0:
        raise ValueError("median: cannot take the median of an empty slice")
    if n % 2:
        middle = s[..., n // 2]
    else:
        middle = (s[..., n // 2 - 1] + s[..., n // 2]) / 2
    if x.dtype.kind == "f":
        has_nan = apply(R.any, (P.isnan(s),), {"axis": -1, "keepdims": False})
        middle = ops.where(has_nan, np.nan, middle)
    return finish("median", ops.reshape(middle, _kept_shape(x.shape, ax, keepdims)), out)


# --------------------------------------------------------------------------- logic


def _logic(
    name: str, prim: Any, a: Any, axis: Any, out: Any, keepdims: Any, where: Any, fill: bool
) -> Any:
    x = tensor(a)
    if _has_mask(where):
        x = _masked(P.not_equal(x, 0) if x.dtype.kind != "b" else x, where, fill)
    ax = reduction_axis(name, axis, x.shape)
    return finish(name, apply(prim, (x,), {"axis": ax, "keepdims": _keep(keepdims)}), out)


def any(
    a: Any, axis: Any = None, out: Any = None, keepdims: Any = False, *, where: Any = True
) -> Any:
    """Whether any element is true (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.any(cnp.array([0.0, 2.0]))
    tensor(True)
    """
    return _logic("any", R.any, a, axis, out, keepdims, where, False)


def all(
    a: Any, axis: Any = None, out: Any = None, keepdims: Any = False, *, where: Any = True
) -> Any:
    """Whether every element is true (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.all(cnp.array([0.0, 2.0]))
    tensor(False)
    """
    return _logic("all", R.all, a, axis, out, keepdims, where, True)


def count_nonzero(a: Any, axis: Any = None, *, keepdims: bool = False) -> Tensor:
    """How many elements are not 0 (integer: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.count_nonzero(cnp.array([0.0, 2.0, 3.0]))
    tensor(2)
    """
    x = tensor(a)
    nz = P.not_equal(x, 0) if x.dtype.kind != "b" else x
    return _sum(nz, reduction_axis("count_nonzero", axis, x.shape), keepdims)
