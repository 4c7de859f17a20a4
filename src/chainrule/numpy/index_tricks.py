"""NumPy's index helpers for Tensors: the indices of diagonals and triangles, index grids,
open meshes (``ix_``) and conversions between flat and multi-dimensional indices. The
results are integer Tensors (as ``nonzero`` gives), never differentiable; those computed
from Tensors (``unravel_index`` of computed indices) are computed by primitives, so a
traced program recomputes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor, _wrap
from ._common import integer_cast, shape_tuple, tensor

__all__ = [
    "diag_indices",
    "diag_indices_from",
    "indices",
    "ix_",
    "mask_indices",
    "ravel_multi_index",
    "tril_indices",
    "tril_indices_from",
    "triu_indices",
    "triu_indices_from",
    "unravel_index",
]


def _wrapped(arrays: tuple) -> tuple:
    return tuple(_wrap(np.asarray(a)) for a in arrays)


def diag_indices(n: int, ndim: int = 2) -> tuple:
    """The indices of the main diagonal of an n x ... x n array: ``ndim`` copies of
    ``arange(n)`` (integer Tensors, no gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.diag_indices(2)
    (tensor([0, 1]), tensor([0, 1]))
    """
    return _wrapped(np.diag_indices(n, ndim))


def _shape_of(a: Any) -> tuple:
    return a.shape if isinstance(a, Tensor) else np.shape(a)


def diag_indices_from(arr: Any) -> tuple:
    """``diag_indices`` for ``arr``'s shape (at least 2-d, all dimensions equal).

    >>> import chainrule.numpy as cnp
    >>> cnp.diag_indices_from(cnp.ones((2, 2)))
    (tensor([0, 1]), tensor([0, 1]))
    """
    shape = _shape_of(arr)
    if len(shape) < 2:
        raise ValueError(f"diag_indices_from: input array must be at least 2-d, got shape {shape}")
    if len(set(shape)) != 1:
        raise ValueError(
            f"diag_indices_from: all dimensions of input must be of equal length, got {shape}"
        )
    return diag_indices(shape[0], len(shape))


def tril_indices(n: int, k: int = 0, m: Any = None) -> tuple:
    """The (row, column) indices of the lower triangle (on and below diagonal ``k``) of an
    n x m array (integer Tensors).

    >>> import chainrule.numpy as cnp
    >>> cnp.tril_indices(2)
    (tensor([0, 1, 1]), tensor([0, 0, 1]))
    """
    return _wrapped(np.tril_indices(n, k, m))


def triu_indices(n: int, k: int = 0, m: Any = None) -> tuple:
    """The (row, column) indices of the upper triangle (on and above diagonal ``k``) of an
    n x m array (integer Tensors).

    >>> import chainrule.numpy as cnp
    >>> cnp.triu_indices(2)
    (tensor([0, 0, 1]), tensor([0, 1, 1]))
    """
    return _wrapped(np.triu_indices(n, k, m))


def _matrix_shape(name: str, arr: Any) -> tuple:
    shape = _shape_of(arr)
    if len(shape) != 2:
        raise ValueError(f"{name}: input array must be 2-d, got shape {shape}")
    return shape


def tril_indices_from(arr: Any, k: int = 0) -> tuple:
    """``tril_indices`` for the 2-d ``arr``'s shape.

    >>> import chainrule.numpy as cnp
    >>> cnp.tril_indices_from(cnp.ones((2, 3)), 1)
    (tensor([0, 0, 1, 1, 1]), tensor([0, 1, 0, 1, 2]))
    """
    rows, cols = _matrix_shape("tril_indices_from", arr)
    return tril_indices(rows, k, cols)


def triu_indices_from(arr: Any, k: int = 0) -> tuple:
    """``triu_indices`` for the 2-d ``arr``'s shape.

    >>> import chainrule.numpy as cnp
    >>> cnp.triu_indices_from(cnp.ones((2, 3)), 1)
    (tensor([0, 0, 1]), tensor([1, 2, 2]))
    """
    rows, cols = _matrix_shape("triu_indices_from", arr)
    return triu_indices(rows, k, cols)


def mask_indices(n: int, mask_func: Any, k: Any = 0) -> tuple:
    """The indices where ``mask_func(ones((n, n)), k)`` is non-zero (``triu``, ``tril``...):
    integer Tensors.

    >>> import chainrule.numpy as cnp
    >>> cnp.mask_indices(2, cnp.triu)
    (tensor([0, 0, 1]), tensor([0, 1, 1]))
    """
    mask = mask_func(np.ones((n, n), dtype=int), k)
    values = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    return _wrapped(np.nonzero(values != 0))


def indices(dimensions: Any, dtype: Any = int, sparse: bool = False) -> Any:
    """The index grid of an array of shape ``dimensions``: one integer Tensor of shape
    ``(len(dimensions),) + dimensions``, or with ``sparse`` a tuple of broadcastable ones.

    >>> import chainrule.numpy as cnp
    >>> cnp.indices((2, 2))[1]
    tensor([[0, 1],
            [0, 1]])
    """
    out = np.indices(shape_tuple("indices", dimensions), dtype=dtype, sparse=sparse)
    return _wrapped(out) if sparse else _wrap(out)


def ix_(*args: Any) -> tuple:
    """An open mesh from 1-d sequences: the k-th reshaped to lie along axis k (boolean ones
    replaced by their nonzero positions), so ``x[ix_(rows, cols)]`` picks the cross
    product. Tensors are reshaped through the graph (computed index Tensors stay
    recomputed by a traced program).

    >>> import chainrule.numpy as cnp
    >>> rows, cols = cnp.ix_([0, 1], cnp.array([2, 0]))
    >>> rows.shape, cols.shape
    ((2, 1), (1, 2))
    """
    from .indexing import nonzero

    out = []
    n = len(args)
    for k, new in enumerate(args):
        if isinstance(new, Tensor):
            v = new
        else:
            arr = np.asarray(new)
            if arr.size == 0 and not isinstance(new, np.ndarray):
                arr = arr.astype(np.intp)  # an empty list: integer, not float
            v = _wrap(arr)
        if v.ndim != 1:
            raise ValueError(f"ix_: cross index must be 1 dimensional, got shape {v.shape}")
        if v.dtype == np.bool_:
            (v,) = nonzero(v)
        out.append(ops.reshape(v, (1,) * k + (v.shape[0],) + (1,) * (n - k - 1)))
    return tuple(out)


def _integer_indices(name: str, x: Any) -> Tensor:
    t = tensor(x)
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "b" or t.size:
            raise TypeError(f"{name}: only int indices permitted, got dtype {t.dtype}")
        t = t.astype(np.intp)
    return t


def _strides(dims: tuple, order: str) -> list[int]:
    """Element strides of a C- or Fortran-ordered array of shape ``dims``."""
    out = [1] * len(dims)
    axes = range(len(dims) - 2, -1, -1) if order == "C" else range(1, len(dims))
    for i in axes:
        j = i + 1 if order == "C" else i - 1
        out[i] = out[j] * dims[j]
    return out


def _order(name: str, order: str) -> str:
    if order not in ("C", "F"):
        raise ValueError(f"{name}: only 'C' or 'F' order is permitted, got {order!r}")
    return order


def unravel_index(indices: Any, shape: Any, order: str = "C") -> tuple:
    """The multi-dimensional indices, one integer Tensor per dimension of ``shape``, of
    flat ``indices`` into an array of that shape (no gradient; computed with ``//`` and
    ``%`` on the indices, so a traced program recomputes them).

    >>> import chainrule.numpy as cnp
    >>> cnp.unravel_index(cnp.array([5, 3]), (2, 3))
    (tensor([1, 1]), tensor([2, 0]))
    """
    dims = shape_tuple("unravel_index", shape)
    order = _order("unravel_index", order)
    flat = _integer_indices("unravel_index", indices)
    size = int(np.prod(dims, dtype=np.int64))
    values = np.asarray(flat._data)
    bad = (values < 0) | (values >= size)
    if bad.any():
        raise ValueError(
            f"unravel_index: index {int(values[bad].flat[0])} is out of bounds for array "
            f"with size {size}"
        )
    flat = integer_cast(flat, np.intp)
    strides = _strides(dims, order)
    return tuple((flat // strides[i]) % dims[i] for i in range(len(dims)))


def ravel_multi_index(multi_index: Any, dims: Any, mode: Any = "raise", order: str = "C") -> Tensor:
    """The flat indices, into an array of shape ``dims``, of the index arrays
    ``multi_index`` (one per dimension, broadcast): an integer Tensor (no gradient).
    ``mode`` ("raise", "wrap" or "clip", or one per dimension) handles indices out of
    range as NumPy does.

    >>> import chainrule.numpy as cnp
    >>> cnp.ravel_multi_index((cnp.array([1, 0]), cnp.array([2, 1])), (2, 3))
    tensor([5, 1])
    """
    dims = shape_tuple("ravel_multi_index", dims)
    order = _order("ravel_multi_index", order)
    parts = [_integer_indices("ravel_multi_index", i) for i in multi_index]
    if len(parts) != len(dims):
        raise ValueError(
            f"ravel_multi_index: parameter multi_index must be a sequence of length {len(dims)}"
        )
    modes = (mode,) * len(dims) if isinstance(mode, str) else tuple(mode)
    if len(modes) != len(dims):
        raise ValueError(f"ravel_multi_index: mode must have {len(dims)} entries, got {mode!r}")
    shape = np.broadcast_shapes(*(p.shape for p in parts))
    strides = _strides(dims, order)
    total: Any = None
    for p, d, m, s in zip(parts, dims, modes, strides):
        p = integer_cast(p, np.intp)
        if m == "wrap":
            p = p % d
        elif m == "clip":
            p = ops.clip(p, 0, d - 1)
        elif m == "raise":
            values = np.asarray(p._data)
            if ((values < 0) | (values >= d)).any():
                raise ValueError("ravel_multi_index: invalid entry in coordinates array")
        else:
            raise ValueError(
                f"ravel_multi_index: clipmode must be one of 'clip', 'raise', or 'wrap', got {m!r}"
            )
        term = p * s
        total = term if total is None else total + term
    if total is None:
        return _wrap(np.zeros(shape, np.intp))
    return ops.broadcast_to(total, shape) if total.shape != shape else total
