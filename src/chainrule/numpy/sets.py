"""NumPy's set routines on Tensors: ``unique`` and its array-API forms, ``isin``, and the set
operations on 1-d arrays. Values are gathers of the input (the gradient goes back to the
element each value was taken from); indices, counts and memberships are integer or boolean
results, computed by primitives so that a traced program recomputes them at new inputs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import ops
from .. import rules_numpy as R
from ..tensor import Tensor, apply
from ._common import AxisError, nondifferentiable_result, normalize_axis, tensor
from .indexing import mask_positions, searchsorted, sort

__all__ = [
    "intersect1d",
    "isin",
    "setdiff1d",
    "setxor1d",
    "union1d",
    "unique",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
]


class UniqueAllResult(NamedTuple):
    """``unique_all``'s answer (NumPy's fields).

    >>> import chainrule.numpy as cnp
    >>> cnp.unique_all(cnp.array([2.0, 1.0, 2.0])).counts
    tensor([1, 2])
    """

    values: Tensor
    indices: Tensor
    inverse_indices: Tensor
    counts: Tensor


class UniqueCountsResult(NamedTuple):
    """``unique_counts``'s answer (NumPy's fields).

    >>> import chainrule.numpy as cnp
    >>> cnp.unique_counts(cnp.array([2.0, 1.0, 2.0])).values
    tensor([1., 2.])
    """

    values: Tensor
    counts: Tensor


class UniqueInverseResult(NamedTuple):
    """``unique_inverse``'s answer (NumPy's fields).

    >>> import chainrule.numpy as cnp
    >>> cnp.unique_inverse(cnp.array([2.0, 1.0, 2.0])).inverse_indices
    tensor([1, 0, 1])
    """

    values: Tensor
    inverse_indices: Tensor


def _part(x: Tensor, part: str, axis: Any, equal_nan: bool, hashed: bool = False) -> Tensor:
    params = {"part": part, "axis": axis, "equal_nan": bool(equal_nan), "hashed": hashed}
    return apply(R.unique_part, (x,), params)


def unique(
    ar: Any,
    return_index: bool = False,
    return_inverse: bool = False,
    return_counts: bool = False,
    axis: Any = None,
    *,
    equal_nan: bool = True,
    sorted: bool = True,
) -> Any:
    """The unique values (or slices along ``axis``), sorted, as NumPy finds them, with
    optionally the index of each one's first occurrence, the inverse (the unique value of
    each element) and the counts. The values are the input gathered at the first
    occurrences: the gradient of a value goes to the element where it first occurs (its
    repeats get 0, a choice: the value does not depend on which copy it is read from), and
    the indices, inverse and counts are integers (no gradient).

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([3.0, 1.0, 3.0], requires_grad=True)
    >>> values, counts = cnp.unique(x, return_counts=True)
    >>> values, counts
    (tensor([1., 3.], grad_fn=<getitem>), tensor([1, 2]))
    >>> values.sum().backward()
    >>> x.grad  # the first 3.0 gets the gradient of its value
    tensor([1., 1., 0.])
    """
    x = tensor(ar)
    if x.dtype.kind not in "biufc":
        raise TypeError(f"unique: not supported for dtype {x.dtype}")
    if axis is None or x.ndim == 1:
        if axis is not None:
            normalize_axis("unique", axis, x.shape)
        extras = return_index or return_inverse or return_counts
        # NumPy's unsorted (hash-based) order applies only when nothing else is asked for
        index = _part(x, "index", None, equal_nan, hashed=not sorted and not extras)
        values = ops.getitem(ops.reshape(x, -1), index)
        ax = None
    else:
        try:
            ax = normalize_axis("unique", axis, x.shape)
        except AxisError:
            raise AxisError(f"unique: axis {axis} is out of bounds for shape {x.shape}") from None
        index = _part(x, "index", ax, equal_nan)
        values = ops.getitem(x, (slice(None),) * ax + (index,))
    out = [values]
    if return_index:
        out.append(index)
    if return_inverse:
        out.append(_part(x, "inverse", ax, equal_nan))
    if return_counts:
        out.append(_part(x, "counts", ax, equal_nan))
    return out[0] if len(out) == 1 else tuple(out)


def unique_values(x: Any) -> Tensor:
    """The unique values in the order NumPy's ``unique_values`` gives them (NaNs each
    kept), gathered from each one's first occurrence (the gradient goes there).

    >>> import chainrule.numpy as cnp
    >>> cnp.unique_values(cnp.array([2.0, 1.0, 2.0]))
    tensor([1., 2.])
    """
    return unique(x, equal_nan=False, sorted=False)


def unique_counts(x: Any) -> UniqueCountsResult:
    """(values, counts): the sorted unique values (differentiable as in ``unique``) and how
    often each occurs (integer, no gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.unique_counts(cnp.array([2.0, 1.0, 2.0]))
    UniqueCountsResult(values=tensor([1., 2.]), counts=tensor([1, 2]))
    """
    return UniqueCountsResult(*unique(x, return_counts=True, equal_nan=False))


def unique_inverse(x: Any) -> UniqueInverseResult:
    """(values, inverse_indices): the sorted unique values (differentiable as in
    ``unique``) and, in ``x``'s shape, the place of each element's value among them
    (integer, no gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.unique_inverse(cnp.array([[2.0, 1.0], [2.0, 2.0]])).inverse_indices
    tensor([[1, 0],
            [1, 1]])
    """
    return UniqueInverseResult(*unique(x, return_inverse=True, equal_nan=False))


def unique_all(x: Any) -> UniqueAllResult:
    """(values, indices, inverse_indices, counts): ``unique`` with every answer, NaNs each
    kept; the values are differentiable (from each one's first occurrence), the rest are
    integers (no gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.unique_all(cnp.array([2.0, 1.0, 2.0])).indices
    tensor([1, 0])
    """
    result = unique(x, return_index=True, return_inverse=True, return_counts=True, equal_nan=False)
    return UniqueAllResult(*result)


def isin(
    element: Any,
    test_elements: Any,
    assume_unique: bool = False,
    invert: bool = False,
    *,
    kind: Any = None,
) -> Tensor:
    """Elementwise: whether each element of ``element`` is among ``test_elements``
    (boolean: not differentiable; NaN is never found, as ``==`` says). Found by sorting
    the test elements and searching them, so a traced program recomputes it.

    >>> import chainrule.numpy as cnp
    >>> cnp.isin(cnp.array([1.0, 2.0, 5.0]), [5.0, 1.0])
    tensor([ True, False,  True])
    """
    if kind not in (None, "sort", "table"):
        raise ValueError(f"isin: invalid kind: {kind!r}. Please use None, 'sort' or 'table'.")
    e = tensor(element)
    t = ops.reshape(tensor(test_elements), -1)
    if kind == "table" and (e.dtype.kind not in "biu" or t.dtype.kind not in "biu"):
        raise ValueError(
            "isin: the 'table' method is only supported for boolean or integer arrays; "
            "select 'sort' or None for kind"
        )
    if t.shape[0] == 0:
        found = nondifferentiable_result(np.zeros(e.shape, dtype=bool))
    else:
        s = sort(t)
        place = ops.minimum(searchsorted(s, e), t.shape[0] - 1)
        found = ops.getitem(s, place) == e
    return ~found if invert else found


def _argsort_stable(x: Tensor) -> Tensor:
    return apply(R.argsort, (x,), {"axis": 0, "kind": "stable"})


def _raveled(a: Any) -> Tensor:
    return ops.reshape(tensor(a), -1)


def union1d(ar1: Any, ar2: Any) -> Tensor:
    """The sorted unique values of both inputs: ``unique`` of their concatenation (each
    value's gradient goes to its first occurrence, ``ar1`` before ``ar2``).

    >>> import chainrule.numpy as cnp
    >>> cnp.union1d(cnp.array([3.0, 1.0]), [2.0, 1.0])
    tensor([1., 2., 3.])
    """
    return unique(ops.concatenate([_raveled(ar1), _raveled(ar2)], axis=0))


def intersect1d(
    ar1: Any, ar2: Any, assume_unique: bool = False, return_indices: bool = False
) -> Any:
    """The sorted values found in both inputs (NumPy's algorithm: of the two copies side by
    side after a stable sort, the first, which is ``ar1``'s: the gradient goes to ``ar1``'s
    first occurrence, ``ar2`` only decides membership), and with ``return_indices`` where
    each occurs first in either (integers, no gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.intersect1d(cnp.array([3.0, 1.0, 2.0]), [2.0, 3.0, 4.0])
    tensor([2., 3.])
    """
    if assume_unique:
        a, b = _raveled(ar1), _raveled(ar2)
    elif return_indices:
        a, first_a = unique(ar1, return_index=True)
        b, first_b = unique(ar2, return_index=True)
    else:
        a, b = unique(ar1), unique(ar2)
    aux = ops.concatenate([a, b], axis=0)
    order = _argsort_stable(aux)
    ordered = ops.getitem(aux, order)
    both = ordered[1:] == ordered[:-1]
    both = mask_positions(both)
    common = ops.getitem(ordered[:-1], both)
    if not return_indices:
        return common
    in_a = ops.getitem(order[:-1], both)
    in_b = ops.getitem(order[1:], both) - a.shape[0]
    if not assume_unique:
        in_a, in_b = ops.getitem(first_a, in_a), ops.getitem(first_b, in_b)
    return common, in_a, in_b


def setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Tensor:
    """The unique values of ``ar1`` not in ``ar2`` (sorted unless ``assume_unique``),
    gathered from ``ar1`` (the gradient goes there; ``ar2`` only decides membership).

    >>> import chainrule.numpy as cnp
    >>> cnp.setdiff1d(cnp.array([3.0, 1.0, 2.0, 1.0]), [2.0])
    tensor([1., 3.])
    """
    a = _raveled(ar1) if assume_unique else unique(ar1)
    return ops.getitem(a, mask_positions(isin(a, ar2, invert=True)))


def setxor1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Tensor:
    """The sorted values in exactly one of the inputs, each gathered from where it occurs
    (the gradient goes there).

    >>> import chainrule.numpy as cnp
    >>> cnp.setxor1d(cnp.array([3.0, 1.0]), [2.0, 1.0])
    tensor([2., 3.])
    """
    a = _raveled(ar1) if assume_unique else unique(ar1)
    b = _raveled(ar2) if assume_unique else unique(ar2)
    aux = ops.concatenate([a, b], axis=0)
    if aux.shape[0] == 0:
        return aux
    ordered = ops.getitem(aux, _argsort_stable(aux))
    edge = nondifferentiable_result(np.ones(1, dtype=bool))
    flag = ops.concatenate([edge, ordered[1:] != ordered[:-1], edge], axis=0)
    return ops.getitem(ordered, mask_positions(flag[1:] & flag[:-1]))
