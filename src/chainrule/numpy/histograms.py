"""NumPy's histograms on Tensors: ``histogram``, ``histogram_bin_edges``, ``histogram2d``,
``histogramdd`` and ``digitize``.

Which bin a value falls in is an integer (no gradient), computed by primitives with NumPy's
own arithmetic, so the counts are NumPy's and a traced program recomputes them. What is
differentiable: the sums of the ``weights`` per bin, the bin edges NumPy computes from the
data's minimum and maximum (``edges = lo + (hi - lo) k / bins``, through ``min`` and
``max``), and the ``density`` normalization (through the weights and the bin widths).
"""

from __future__ import annotations

import builtins
import operator
import warnings
from typing import Any

import numpy as np

from .. import ops
from .. import rules_numpy as R
from ..tensor import Tensor, _wrap, apply
from ._common import decided_by, integer_cast, tensor, value_of
from .creation import linspace
from .indexing import searchsorted
from .reductions import max as _max
from .reductions import min as _min

__all__ = ["digitize", "histogram", "histogram2d", "histogram_bin_edges", "histogramdd"]


def _values(x: Any) -> np.ndarray:
    """The values, for checks of the arguments (never for what is computed)."""
    return np.asarray(value_of(x))


def digitize(x: Any, bins: Any, right: bool = False) -> Tensor:
    """The index of the bin of each value of ``x`` among the monotonic 1-d ``bins``
    (NumPy's: ``searchsorted`` on the bins; integer, not differentiable). The bins'
    direction is read from their values.

    >>> import chainrule.numpy as cnp
    >>> cnp.digitize(cnp.array([0.2, 1.0, 6.4]), [0.0, 1.0, 2.5, 4.0])
    tensor([1, 2, 4])
    """
    xs = tensor(x)
    if xs.dtype.kind == "c":
        raise TypeError("digitize: x may not be complex")
    edges = bins if isinstance(bins, Tensor) else np.asarray(bins)
    b = decided_by(edges, "digitize: the bins' direction") if isinstance(edges, Tensor) else edges
    if b.ndim != 1:
        raise ValueError(f"digitize: bins must be 1-dimensional, got shape {b.shape}")
    steps = np.diff(b)
    side = "left" if right else "right"  # (the arguments are swapped, as in NumPy)
    if b.size > 1 and np.all(steps <= 0) and not np.all(steps == 0):
        # decreasing: search the reversed bins and count from the other end
        return b.shape[0] - searchsorted(edges[::-1], xs, side=side)
    if not np.all(steps >= 0):
        raise ValueError("digitize: bins must be monotonically increasing or decreasing")
    return searchsorted(edges, xs, side=side)


# --------------------------------------------------------------------------- bin edges


def _ravel(name: str, a: Any, weights: Any) -> tuple[Tensor, Any]:
    x = tensor(a)
    if x.dtype == np.bool_:
        warnings.warn(
            f"{name}: converting input from bool to <class 'numpy.uint8'> for compatibility.",
            RuntimeWarning,
            stacklevel=3,
        )
        x = x.astype(np.uint8)
    w = None
    if weights is not None:
        w = tensor(weights)
        if w.shape != x.shape:
            raise ValueError(
                f"{name}: weights should have the same shape as a, got {w.shape} and {x.shape}"
            )
        w = ops.reshape(w, -1)
    return ops.reshape(x, -1), w


def _outer_edges(name: str, a: Tensor, range: Any) -> tuple[Any, Any, bool]:
    """NumPy's outer edges (first, last) before widening, and whether they were given
    (``range``, Python values or Tensors) rather than found (the minimum and maximum of
    ``a``, differentiable Tensors; 0 and 1 for an empty ``a``)."""
    if range is not None:
        first, last = range
        lo, hi = _values(first), _values(last)
        if lo > hi:
            raise ValueError(f"{name}: max must be larger than min in range parameter.")
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"{name}: supplied range of [{lo}, {hi}] is not finite")
        return first, last, True
    if a.shape[0] == 0:
        return 0, 1, True
    first, last = _min(a), _max(a)
    lo, hi = _values(first), _values(last)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name}: autodetected range of [{lo}, {hi}] is not finite")
    return first, last, False


def _widened(first: Any, last: Any) -> tuple[Any, Any]:
    """An empty range [v, v] widened to [v - 0.5, v + 0.5], as NumPy does (staged for
    Tensors: the edges stay differentiable in v, with derivative 1 for both ends)."""
    if not isinstance(first, Tensor) and not isinstance(last, Tensor):
        return (first - 0.5, last + 0.5) if first == last else (first, last)
    first, last = tensor(first), tensor(last)
    same = first == last
    return ops.where(same, first - 0.5, first), ops.where(same, last + 0.5, last)


def _dtype_of(v: Any) -> Any:
    return v.dtype if isinstance(v, Tensor) else v


def _equal_bins(name: str, a: Tensor, n: int, range: Any) -> tuple[Tensor, tuple, Any]:
    """Edges of ``n`` equal bins (NumPy's linspace between the outer edges), and what the
    bin assignment needs: the outer edges as inputs or as the static ``range``."""
    first, last, given = _outer_edges(name, a, range)
    bin_type = np.result_type(_dtype_of(first), _dtype_of(last), a.dtype)
    if np.issubdtype(bin_type, np.integer):
        bin_type = np.result_type(bin_type, float)
    lo, hi = _widened(first, last)
    tensors = isinstance(lo, Tensor) or isinstance(hi, Tensor)
    if tensors:
        edges = linspace(tensor(lo), tensor(hi), n + 1, endpoint=True, dtype=bin_type)
    else:
        edges = _wrap(np.linspace(lo, hi, n + 1, endpoint=True, dtype=bin_type))
    e = _values(edges)
    if np.any(e[:-1] >= e[1:]):
        raise ValueError(
            f"{name}: too many bins for data range. Cannot create {n} finite-sized bins."
        )
    if given and not tensors:
        return edges, (), (first, last)
    return edges, (tensor(first), tensor(last)), None


def _bin_count(name: str, a: Tensor, bins: Any, range: Any, weights: Any) -> Any:
    """The number of equal bins that ``bins`` asks for, or None when it is the edges."""
    if isinstance(bins, str):
        if weights is not None:
            raise TypeError(
                f"{name}: automated estimation of the number of bins is not supported for "
                f"weighted data"
            )
        # NumPy's estimator decides how many bins (read from the values); the edges are then
        # equal bins between the outer edges, differentiable like those of an int ``bins``
        return (
            len(np.histogram_bin_edges(decided_by(a, f"{name}: the number of bins"), bins, range))
            - 1
        )
    if np.ndim(_values(bins)) == 0:
        try:
            n = operator.index(bins._data.item() if isinstance(bins, Tensor) else bins)
        except TypeError:
            raise TypeError(f"{name}: `bins` must be an integer, a string, or an array") from None
        if n < 1:
            raise ValueError(f"{name}: `bins` must be positive, when an integer")
        return n
    return None


def _given_edges(name: str, bins: Any, what: str = "`bins`") -> Tensor:
    edges = tensor(bins)
    e = _values(edges)
    if e.ndim != 1:
        raise ValueError(f"{name}: {what} must be 1d, when an array")
    if np.any(e[:-1] > e[1:]):
        raise ValueError(f"{name}: {what} must increase monotonically, when an array")
    return edges


def _edges(name: str, a: Tensor, bins: Any, range: Any, weights: Any) -> tuple:
    n = _bin_count(name, a, bins, range, weights)
    if n is None:
        return _given_edges(name, bins), False, (), None
    edges, extremes, static = _equal_bins(name, a, n, range)
    return edges, True, extremes, static


def histogram_bin_edges(a: Any, bins: Any = 10, range: Any = None, weights: Any = None) -> Tensor:
    """The bin edges ``histogram`` uses. For an int ``bins`` (or a string: NumPy's estimator
    picks the number of bins from the values) without ``range``, equal bins between the
    minimum and maximum of ``a``, differentiable in those two (d edge_k / d min = 1 - k /
    bins, d edge_k / d max = k / bins; the gradient of a tied extreme is split as ``min``
    and ``max`` split it); with ``range`` the edges are constants (or differentiable in
    Tensor range ends); array ``bins`` are the edges themselves.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([1.0, 3.0, 2.0], requires_grad=True)
    >>> edges = cnp.histogram_bin_edges(x, bins=4)
    >>> edges
    tensor([1. , 1.5, 2. , 2.5, 3. ], grad_fn=<concatenate>)
    >>> edges[1].backward()
    >>> x.grad  # edge 1 = 0.75 min + 0.25 max
    tensor([0.75, 0.25, 0.  ])
    """
    x, w = _ravel("histogram_bin_edges", a, weights)
    return _edges("histogram_bin_edges", x, bins, range, w)[0]


def histogram(
    a: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[Tensor, Tensor]:
    """(hist, bin_edges) as NumPy computes them: each value's bin is NumPy's (equal bins by
    NumPy's arithmetic, the last bin closed; values outside the range are not counted), a
    count (integer, no gradient) or, with ``weights``, the sum of the weights in the bin
    (differentiable in the weights: each bin's gradient goes to the weights counted in it).
    The edges are those of ``histogram_bin_edges`` (differentiable in the data's minimum
    and maximum when ``bins`` is a number and ``range`` is None). ``density=True`` divides
    by the total and the bin widths, differentiable in both. The counts do not change
    with the values between bin boundaries: their derivative in ``a`` is 0.

    >>> import chainrule.numpy as cnp
    >>> w = cnp.array([0.5, 1.0, 2.0, 4.0], requires_grad=True)
    >>> hist, edges = cnp.histogram(cnp.array([0.1, 0.4, 0.5, 0.9]), bins=2, weights=w)
    >>> hist
    tensor([1.5, 6. ], grad_fn=<getitem>)
    >>> hist[1].backward()
    >>> w.grad
    tensor([0., 0., 1., 1.])
    """
    x, w = _ravel("histogram", a, weights)
    edges, uniform, extremes, static = _edges("histogram", x, bins, range, w)
    index = apply(R.histogram_index, (x, edges, *extremes), {"uniform": uniform, "range": static})
    n = edges.shape[0] - 1
    if w is None:
        hist = ops.add_at(_wrap(np.zeros(n + 1, np.intp)), index, 1)[:n]
    else:
        # NumPy sums in float64 (complex128 for complex weights) and casts to the weights'
        # dtype
        wide = np.complex128 if w.dtype.kind == "c" else np.float64
        sums = ops.add_at(_wrap(np.zeros(n + 1, wide)), index, w.astype(wide))
        hist = sums[:n].astype(w.dtype)
    if density:
        widths = (edges[1:] - edges[:-1]).astype(np.float64)
        return hist / widths / ops.sum(hist), edges
    return hist, edges


def _sample(name: str, sample: Any) -> Tensor:
    if isinstance(sample, (Tensor, np.ndarray)) and np.ndim(_values(sample)) == 2:
        return tensor(sample)
    from .creation import asarray
    from .shapes import atleast_2d

    return ops.transpose(atleast_2d(asarray(sample)), (1, 0))


def histogramdd(
    sample: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[Tensor, list]:
    """(hist, edges): the D-dimensional histogram of N points (an (N, D) array or D
    arrays), NumPy's bins (each axis searched with the last bin closed), float64 counts or
    weight sums, differentiable in the ``weights``; the edges of an axis with a number of
    bins and no range are differentiable in that column's minimum and maximum, and
    ``density=True`` in the bin widths.

    >>> import chainrule.numpy as cnp
    >>> hist, edges = cnp.histogramdd(cnp.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), bins=2)
    >>> hist
    tensor([[0., 1.],
            [1., 1.]])
    """
    name = "histogramdd"
    s = _sample(name, sample)
    n_points, dims = s.shape
    try:
        if len(bins) != dims:
            raise ValueError(
                f"{name}: the dimension of bins must be equal to the dimension of the sample x"
            )
    except TypeError:
        bins = dims * [bins]
    if range is None:
        range = (None,) * dims
    elif len(range) != dims:
        raise ValueError(f"{name}: range argument must have one entry per dimension")
    edges: list = []
    places = []
    for i in builtins.range(dims):
        column = s[:, i]
        if np.ndim(_values(bins[i])) == 0:
            if _values(bins[i]) < 1:
                raise ValueError(f"{name}: `bins[{i}]` must be positive, when an integer")
            first, last, _ = _outer_edges(name, column, range[i])
            try:
                n = operator.index(bins[i])
            except TypeError:
                raise TypeError(f"{name}: `bins[{i}]` must be an integer, when a scalar") from None
            lo, hi = _widened(first, last)
            if isinstance(lo, Tensor) or isinstance(hi, Tensor):
                e = linspace(tensor(lo), tensor(hi), n + 1)
            else:
                e = _wrap(np.linspace(lo, hi, n + 1))
        elif np.ndim(_values(bins[i])) == 1:
            e = tensor(bins[i])
            if np.any(_values(e)[:-1] > _values(e)[1:]):
                raise ValueError(
                    f"{name}: `bins[{i}]` must be monotonically increasing, when an array"
                )
        else:
            raise ValueError(f"{name}: `bins[{i}]` must be a scalar or 1d array")
        edges.append(e)
        # the bin of each point along this axis (0 and len(e) are the outliers' places),
        # the points on the last edge moved into the last bin
        place = searchsorted(e, column, side="right")
        places.append(place - integer_cast(column == e[-1], place.dtype))
    nbin = [e.shape[0] + 1 for e in edges]
    flat = places[0]
    for i in builtins.range(1, dims):
        flat = flat * nbin[i] + places[i]
    size = int(np.prod(nbin))
    if weights is None:
        counts = ops.add_at(_wrap(np.zeros(size, np.float64)), flat, 1.0)
    else:
        w = tensor(weights)
        if w.dtype.kind == "c":
            raise TypeError(f"{name}: weights must be real (NumPy counts in float64)")
        counts = ops.add_at(_wrap(np.zeros(size, np.float64)), flat, w.astype(np.float64))
    hist = ops.reshape(counts, tuple(nbin))[(slice(1, -1),) * dims]
    if density:
        total = ops.sum(hist)
        for i, e in enumerate(edges):
            shape = [1] * dims
            shape[i] = nbin[i] - 2
            hist = hist / ops.reshape(e[1:] - e[:-1], tuple(shape))
        hist = hist / total
    return hist, edges


def histogram2d(
    x: Any, y: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[Tensor, Tensor, Tensor]:
    """(hist, xedges, yedges): ``histogramdd`` of the points (x, y), NumPy's way of reading
    ``bins`` (a number, two numbers, one array for both axes or two).

    >>> import chainrule.numpy as cnp
    >>> hist, xe, ye = cnp.histogram2d(cnp.array([0.0, 1.0, 1.0]), cnp.array([1.0, 0.0, 1.0]), 2)
    >>> hist
    tensor([[0., 1.],
            [1., 1.]])
    """
    if len(x) != len(y):
        raise ValueError("histogram2d: x and y must have the same length.")
    try:
        n = len(bins)
    except TypeError:
        n = 1
    if n not in (1, 2):
        bins = [bins, bins]
    hist, edges = histogramdd([x, y], bins, range, density, weights)
    return hist, edges[0], edges[1]
