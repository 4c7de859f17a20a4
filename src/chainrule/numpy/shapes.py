"""NumPy's shape functions on Tensors: reshaping, transposing, joining, splitting, tiling,
padding, rolling, flipping, differences. Each is an exact composition of chainrule's shape
and indexing primitives (views, gathers and scatters), so gradients route values back to
where they came from and every order is exact.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import ops
from .. import rules as P
from .. import rules_numpy as R
from ..tensor import Tensor, apply
from ._common import (
    NOVALUE,
    AxisError,
    cast,
    decided_by,
    finish,
    normalize_axes,
    normalize_axis,
    shape_tuple,
    tensor,
    tensors,
)

__all__ = [
    "c_",
    "delete",
    "insert",
    "r_",
    "resize",
    "unwrap",
    "append",
    "apply_along_axis",
    "apply_over_axes",
    "block",
    "array_split",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_arrays",
    "broadcast_to",
    "column_stack",
    "concat",
    "concatenate",
    "diff",
    "dsplit",
    "dstack",
    "ediff1d",
    "expand_dims",
    "flatten",
    "flip",
    "fliplr",
    "flipud",
    "gradient",
    "hsplit",
    "hstack",
    "matrix_transpose",
    "meshgrid",
    "moveaxis",
    "pad",
    "permute_dims",
    "ravel",
    "repeat",
    "reshape",
    "roll",
    "rollaxis",
    "rot90",
    "row_stack",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "tile",
    "transpose",
    "trim_zeros",
    "unstack",
    "vsplit",
    "vstack",
]


def _along(axis: int, index: Any) -> tuple:
    """An index that applies ``index`` to ``axis`` and takes everything elsewhere."""
    return (slice(None),) * axis + (index,)


def _holds_tensor(v: Any) -> bool:
    if isinstance(v, Tensor):
        return True
    return isinstance(v, (list, tuple)) and builtins.any(_holds_tensor(e) for e in v)


def _permute(x: Tensor, order: Sequence[int]) -> Tensor:
    order = tuple(order)
    if order == tuple(range(x.ndim)):
        return x
    return apply(P.transpose, (x,), {"axes": order})


# --------------------------------------------------------------------------- reshaping


def reshape(
    a: Any, /, shape: Any = None, order: str = "C", *, newshape: Any = None, copy: Any = None
) -> Tensor:
    """Same elements, new shape (one -1 allowed); ``order="F"`` reads and writes in
    Fortran order. Linear: the gradient is reshaped back.

    >>> import chainrule.numpy as cnp
    >>> cnp.reshape(cnp.arange(6.0), (2, 3)).shape
    (2, 3)
    """
    if newshape is not None:
        if shape is not None:
            raise TypeError("reshape: pass shape= or newshape=, not both")
        shape = newshape
    if shape is None:
        raise TypeError("reshape: missing required argument 'shape'")
    x = tensor(a)
    new = shape_tuple("reshape", shape)
    if order == "F":
        return _reverse_axes(ops.reshape(_reverse_axes(x), new[::-1]))
    if order not in ("C", "A"):
        raise ValueError(f"reshape: order must be 'C', 'F' or 'A', got {order!r}")
    return ops.reshape(x, new)


def _reverse_axes(x: Tensor) -> Tensor:
    return _permute(x, tuple(range(x.ndim))[::-1])


def ravel(a: Any, order: str = "C") -> Tensor:
    """The elements as a 1-D tensor (row-major; ``order="F"`` column-major).

    >>> import chainrule.numpy as cnp
    >>> cnp.ravel(cnp.array([[1.0, 2.0], [3.0, 4.0]]))
    tensor([1., 2., 3., 4.])
    """
    x = tensor(a)
    if order == "F":
        x = _reverse_axes(x)
    elif order not in ("C", "A", "K"):
        raise ValueError(f"ravel: order must be 'C', 'F', 'A' or 'K', got {order!r}")
    return ops.reshape(x, -1)


def flatten(a: Any, order: str = "C") -> Tensor:
    """``ravel`` (NumPy has it as the method ``ndarray.flatten``).

    >>> import chainrule.numpy as cnp
    >>> cnp.flatten(cnp.ones((2, 2))).shape
    (4,)
    """
    return ravel(a, order)


def transpose(a: Any, axes: Any = None) -> Tensor:
    """Permute the axes (reverse them when ``axes`` is None); negative axes count from
    the end. The gradient is transposed back.

    >>> import chainrule.numpy as cnp
    >>> cnp.transpose(cnp.ones((2, 3, 4)), (1, 0, 2)).shape
    (3, 2, 4)
    """
    x = tensor(a)
    if axes is None:
        return _reverse_axes(x)
    order = tuple(normalize_axis("transpose", ax, x.shape) for ax in axes)
    if sorted(order) != list(range(x.ndim)):
        raise ValueError(
            f"transpose: axes {tuple(axes)} are not a permutation of the axes of shape {x.shape}"
        )
    return _permute(x, order)


permute_dims = transpose


def matrix_transpose(x: Any, /) -> Tensor:
    """Swap the last two axes (a stack of matrices transposed).

    >>> import chainrule.numpy as cnp
    >>> cnp.matrix_transpose(cnp.ones((5, 2, 3))).shape
    (5, 3, 2)
    """
    t = tensor(x)
    if t.ndim < 2:
        raise ValueError(f"matrix_transpose: needs at least 2 dimensions, got shape {t.shape}")
    return swapaxes(t, -1, -2)


def moveaxis(a: Any, source: Any, destination: Any) -> Tensor:
    """Move axes to new places, keeping the others in order.

    >>> import chainrule.numpy as cnp
    >>> cnp.moveaxis(cnp.ones((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    x = tensor(a)
    src = normalize_axes("moveaxis", source, x.shape)
    dst = normalize_axes("moveaxis", destination, x.shape)
    if len(src) != len(dst):
        raise ValueError(
            "moveaxis: `source` and `destination` arguments must have the same number of elements"
        )
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _permute(x, order)


def swapaxes(a: Any, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes.

    >>> import chainrule.numpy as cnp
    >>> cnp.swapaxes(cnp.ones((2, 3, 4)), 0, 2).shape
    (4, 3, 2)
    """
    x = tensor(a)
    i = normalize_axis("swapaxes", axis1, x.shape)
    j = normalize_axis("swapaxes", axis2, x.shape)
    order = list(range(x.ndim))
    order[i], order[j] = order[j], order[i]
    return _permute(x, order)


def rollaxis(a: Any, axis: int, start: int = 0) -> Tensor:
    """Move ``axis`` to stand before ``start`` (NumPy's older ``moveaxis``).

    >>> import chainrule.numpy as cnp
    >>> cnp.rollaxis(cnp.ones((2, 3, 4)), 2).shape
    (4, 2, 3)
    """
    x = tensor(a)
    n = x.ndim
    axis = normalize_axis("rollaxis", axis, n)
    if not -n <= start <= n:
        raise AxisError(f"rollaxis: start {start} is out of bounds for a tensor of dimension {n}")
    if start < 0:
        start += n
    if axis < start:
        start -= 1
    if axis == start:
        return x
    order = list(range(n))
    order.remove(axis)
    order.insert(start, axis)
    return _permute(x, order)


def expand_dims(a: Any, axis: Any) -> Tensor:
    """Insert length-1 axes at ``axis`` (an int or a tuple, counted in the result).

    >>> import chainrule.numpy as cnp
    >>> cnp.expand_dims(cnp.ones(3), (0, 2)).shape
    (1, 3, 1)
    """
    x = tensor(a)
    count = 1 if isinstance(axis, (int, np.integer)) else len(axis)
    axes = normalize_axes("expand_dims", axis, x.ndim + count)
    rest = iter(x.shape)
    shape = tuple(1 if i in axes else next(rest) for i in range(x.ndim + count))
    return ops.reshape(x, shape)


def squeeze(a: Any, axis: Any = None) -> Tensor:
    """Remove length-1 axes (all of them, or those in ``axis``).

    >>> import chainrule.numpy as cnp
    >>> cnp.squeeze(cnp.ones((1, 3, 1))).shape
    (3,)
    """
    x = tensor(a)
    if axis is None:
        return ops.reshape(x, tuple(n for n in x.shape if n != 1))
    axes = normalize_axes("squeeze", axis, x.shape)
    for ax in axes:
        if x.shape[ax] != 1:
            raise ValueError(
                f"squeeze: axis {ax} has size {x.shape[ax]}, not 1 (shape {x.shape}): cannot "
                f"squeeze it out"
            )
    return ops.reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def broadcast_to(array: Any, shape: Any, subok: bool = False) -> Tensor:
    """View ``array`` broadcast to ``shape``; the gradient is summed back.

    >>> import chainrule.numpy as cnp
    >>> cnp.broadcast_to(cnp.array([1.0, 2.0]), (3, 2)).shape
    (3, 2)
    """
    return ops.broadcast_to(tensor(array), shape_tuple("broadcast_to", shape))


def broadcast_arrays(*args: Any, subok: bool = False) -> tuple:
    """Every argument broadcast to their common shape.

    Examples
    --------
    >>> import chainrule.numpy as cnp
    >>> [t.shape for t in cnp.broadcast_arrays(cnp.ones(3), cnp.ones((2, 1)))]
    [(2, 3), (2, 3)]
    """
    ts = tensors(args)
    try:
        shape = np.broadcast_shapes(*(t.shape for t in ts))
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(
            f"broadcast_arrays: shapes {shapes} cannot be broadcast together"
        ) from None
    return tuple(ops.broadcast_to(t, shape) for t in ts)


def _atleast(name: str, arys: tuple, fix: Any) -> Any:
    out = [fix(tensor(a)) for a in arys]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys: Any) -> Any:
    """Each input with at least one dimension (a tuple for several inputs).

    >>> import chainrule.numpy as cnp
    >>> cnp.atleast_1d(2.0).shape
    (1,)
    """
    return _atleast("atleast_1d", arys, lambda t: ops.reshape(t, 1) if t.ndim == 0 else t)


def _to_2d(t: Tensor) -> Tensor:
    if t.ndim == 0:
        return ops.reshape(t, (1, 1))
    if t.ndim == 1:
        return ops.reshape(t, (1, t.shape[0]))
    return t


def atleast_2d(*arys: Any) -> Any:
    """Each input with at least two dimensions: (n,) becomes (1, n).

    >>> import chainrule.numpy as cnp
    >>> cnp.atleast_2d(cnp.ones(3)).shape
    (1, 3)
    """
    return _atleast("atleast_2d", arys, _to_2d)


def _to_3d(t: Tensor) -> Tensor:
    if t.ndim == 0:
        return ops.reshape(t, (1, 1, 1))
    if t.ndim == 1:
        return ops.reshape(t, (1, t.shape[0], 1))
    if t.ndim == 2:
        return ops.reshape(t, t.shape + (1,))
    return t


def atleast_3d(*arys: Any) -> Any:
    """Each input with at least three dimensions: (n,) -> (1, n, 1), (m, n) -> (m, n, 1).

    >>> import chainrule.numpy as cnp
    >>> cnp.atleast_3d(cnp.ones((2, 3))).shape
    (2, 3, 1)
    """
    return _atleast("atleast_3d", arys, _to_3d)


# --------------------------------------------------------------------------- joining


def _sequence(name: str, arrays: Any, dtype: Any) -> list[Tensor]:
    if isinstance(arrays, Tensor):  # NumPy iterates over the first axis
        arrays = list(arrays)
    ts = tensors(arrays)
    if not ts:
        raise ValueError(f"{name}: need at least one array to concatenate")
    return [cast(t, dtype) for t in ts]


def concatenate(
    arrays: Any, /, axis: Any = 0, out: Any = None, *, dtype: Any = None, casting: str = "same_kind"
) -> Any:
    """Join along an existing axis (None: flatten first); dtypes promote as NumPy's. The
    gradient is cut back into the pieces.

    >>> import chainrule.numpy as cnp
    >>> cnp.concatenate([cnp.ones(2), cnp.zeros(1)])
    tensor([1., 1., 0.])
    """
    ts = _sequence("concatenate", arrays, dtype)
    if axis is None:
        ts = [ops.reshape(t, -1) for t in ts]
        axis = 0
    if ts[0].ndim == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis("concatenate", axis, ts[0].shape)
    return finish("concatenate", ops.concatenate(ts, axis), out)


concat = concatenate


def _block_depth(arrays: Any, index: list) -> tuple[list, int]:
    """(the index path of the first innermost element, the largest array ndim) of a nested
    list of blocks, checking that every element sits at the same depth."""
    if isinstance(arrays, tuple):
        where = "".join(f"[{i}]" for i in index) or "arrays"
        raise TypeError(
            f"block: {where} is a tuple. Only lists can be used to arrange blocks, and "
            f"np.block does not allow implicit conversion from tuple to ndarray."
        )
    if isinstance(arrays, list):
        if not arrays:
            return index + [None], 0
        first, ndim = _block_depth(arrays[0], index + [0])
        for i, item in enumerate(arrays[1:], 1):
            path, n = _block_depth(item, index + [i])
            ndim = builtins.max(ndim, n)
            if len(path) != len(first):
                raise ValueError(
                    f"block: list depths are mismatched. First element was at depth "
                    f"{len(first)}, but there is an element at depth {len(path)} "
                    f"({''.join(f'[{j}]' for j in path)})"
                )
            if path[-1] is None:
                first = path
        return first, ndim
    return index, tensor(arrays).ndim


def block(arrays: Any) -> Tensor:
    """An array assembled from nested lists of blocks, NumPy's way: the innermost lists
    are joined along the last axis, the next ones along the one before, each block first
    given leading axes of length 1 up to the result's dimension. The gradient is cut back
    into the blocks.

    >>> import chainrule.numpy as cnp
    >>> a = cnp.ones((2, 2))
    >>> cnp.block([[a, cnp.zeros((2, 1))], [cnp.full((1, 3), 2.0)]])
    tensor([[1., 1., 0.],
            [1., 1., 0.],
            [2., 2., 2.]])
    """
    path, ndim = _block_depth(arrays, [])
    depth = len(path)
    if path and path[-1] is None:
        raise ValueError(f"block: list at {''.join(f'[{j}]' for j in path[:-1])} cannot be empty")
    result_ndim = builtins.max(ndim, depth)

    def assemble(item: Any, level: int) -> Tensor:
        if level < depth:
            parts = [assemble(a, level + 1) for a in item]
            try:
                return ops.concatenate(parts, -(depth - level))
            except ValueError:
                raise ValueError(
                    f"block: mismatched array shapes in block along axis {-(depth - level)}: "
                    f"{[p.shape for p in parts]}"
                ) from None
        t = tensor(item)
        return (
            ops.reshape(t, (1,) * (result_ndim - t.ndim) + t.shape) if t.ndim < result_ndim else t
        )

    out = assemble(arrays, 0)
    return apply(P.copy, (out,)) if depth == 0 else out


def stack(
    arrays: Any, axis: int = 0, out: Any = None, *, dtype: Any = None, casting: str = "same_kind"
) -> Any:
    """Join tensors of one shape along a new axis.

    >>> import chainrule.numpy as cnp
    >>> cnp.stack([cnp.ones(2), cnp.zeros(2)], axis=1).shape
    (2, 2)
    """
    ts = _sequence("stack", arrays, dtype)
    axis = normalize_axis("stack", axis, ts[0].ndim + 1)
    return finish("stack", ops.stack(ts, axis), out)


def unstack(x: Any, /, *, axis: int = 0) -> tuple:
    """The slices along ``axis``, as a tuple (``stack``'s inverse).

    >>> import chainrule.numpy as cnp
    >>> len(cnp.unstack(cnp.ones((3, 2))))
    3
    """
    t = tensor(x)
    ax = normalize_axis("unstack", axis, t.shape)
    return tuple(ops.getitem(t, _along(ax, i)) for i in range(t.shape[ax]))


def vstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Tensor:
    """Join along the first axis, after making inputs at least 2-D.

    >>> import chainrule.numpy as cnp
    >>> cnp.vstack([cnp.ones(2), cnp.zeros(2)]).shape
    (2, 2)
    """
    ts = [_to_2d(t) for t in _sequence("vstack", tup, dtype)]
    return ops.concatenate(ts, 0)


row_stack = vstack


def hstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Tensor:
    """Join along the second axis (the first for 1-D inputs).

    >>> import chainrule.numpy as cnp
    >>> cnp.hstack([cnp.ones(2), cnp.zeros(3)]).shape
    (5,)
    """
    ts = [ops.reshape(t, 1) if t.ndim == 0 else t for t in _sequence("hstack", tup, dtype)]
    return ops.concatenate(ts, 0 if ts[0].ndim == 1 else 1)


def dstack(tup: Any) -> Tensor:
    """Join along the third axis, after making inputs at least 3-D.

    >>> import chainrule.numpy as cnp
    >>> cnp.dstack([cnp.ones((2, 2)), cnp.zeros((2, 2))]).shape
    (2, 2, 2)
    """
    return ops.concatenate([_to_3d(t) for t in _sequence("dstack", tup, None)], 2)


def column_stack(tup: Any) -> Tensor:
    """1-D inputs as columns, joined with 2-D inputs along the second axis.

    >>> import chainrule.numpy as cnp
    >>> cnp.column_stack([cnp.ones(2), cnp.zeros(2)]).shape
    (2, 2)
    """
    cols = []
    for t in _sequence("column_stack", tup, None):
        if t.ndim < 2:
            t = ops.reshape(t, (-1, 1))
        cols.append(t)
    return ops.concatenate(cols, 1)


def append(arr: Any, values: Any, axis: Any = None) -> Tensor:
    """``values`` joined after ``arr`` (both flattened when ``axis`` is None).

    >>> import chainrule.numpy as cnp
    >>> cnp.append(cnp.array([1.0, 2.0]), 3.0)
    tensor([1., 2., 3.])
    """
    a, v = tensor(arr), tensor(values)
    if axis is None:
        return ops.concatenate([ops.reshape(a, -1), ops.reshape(v, -1)], 0)
    axis = normalize_axis("append", axis, a.shape)
    return ops.concatenate([a, v], axis)


# --------------------------------------------------------------------------- splitting


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Split into pieces: ``n`` nearly equal sections (the first ones one longer), or at
    the given indices. Each piece is a slice, so gradients go back to its place.

    Examples
    --------
    >>> import chainrule.numpy as cnp
    >>> [p.shape for p in cnp.array_split(cnp.ones(5), 2)]
    [(3,), (2,)]
    """
    x = tensor(ary)
    axis = normalize_axis("array_split", axis, x.shape)
    total = x.shape[axis]
    try:
        points = [0, *(int(i) for i in indices_or_sections), total]
    except TypeError:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("array_split: number sections must be larger than 0") from None
        each, extra = divmod(total, sections)
        sizes = [0] + extra * [each + 1] + (sections - extra) * [each]
        points = [int(p) for p in np.cumsum(sizes)]
    return [
        ops.getitem(x, _along(axis, slice(points[i], points[i + 1])))
        for i in range(len(points) - 1)
    ]


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Split into ``n`` equal sections (it must divide the axis) or at the given indices.

    Examples
    --------
    >>> import chainrule.numpy as cnp
    >>> [p.shape for p in cnp.split(cnp.ones((4, 2)), 2)]
    [(2, 2), (2, 2)]
    """
    x = tensor(ary)
    try:
        len(indices_or_sections)
    except TypeError:
        axis_n = normalize_axis("split", axis, x.shape)
        if x.shape[axis_n] % int(indices_or_sections):
            raise ValueError("split: array split does not result in an equal division") from None
    return array_split(x, indices_or_sections, axis)


def vsplit(ary: Any, indices_or_sections: Any) -> list:
    """``split`` along the first axis (2-D and up).

    >>> import chainrule.numpy as cnp
    >>> len(cnp.vsplit(cnp.ones((4, 2)), 2))
    2
    """
    x = tensor(ary)
    if x.ndim < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(x, indices_or_sections, 0)


def hsplit(ary: Any, indices_or_sections: Any) -> list:
    """``split`` along the second axis (the first for 1-D).

    >>> import chainrule.numpy as cnp
    >>> len(cnp.hsplit(cnp.ones((2, 4)), 2))
    2
    """
    x = tensor(ary)
    if x.ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(x, indices_or_sections, 1 if x.ndim > 1 else 0)


def dsplit(ary: Any, indices_or_sections: Any) -> list:
    """``split`` along the third axis (3-D and up).

    >>> import chainrule.numpy as cnp
    >>> len(cnp.dsplit(cnp.ones((2, 2, 4)), [1]))
    2
    """
    x = tensor(ary)
    if x.ndim < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(x, indices_or_sections, 2)


# --------------------------------------------------------------------------- copies


def tile(A: Any, reps: Any) -> Tensor:
    """``A`` repeated ``reps`` times along each axis, as a broadcast (so the gradient sums
    the copies back).

    >>> import chainrule.numpy as cnp
    >>> cnp.tile(cnp.array([1.0, 2.0]), 2)
    tensor([1., 2., 1., 2.])
    """
    x = tensor(A)
    try:
        tup = tuple(int(r) for r in reps)
    except TypeError:
        tup = (int(reps),)
    d = len(tup)
    shape = (1,) * (d - x.ndim) + x.shape
    tup = (1,) * (x.ndim - d) + tup
    if builtins.any(r < 0 for r in tup):
        raise ValueError(f"tile: negative repetitions in {tup}")
    interleaved = []
    target = []
    for r, n in zip(tup, shape):
        interleaved += [1, n]
        target += [r, n]
    y = ops.reshape(x, tuple(interleaved))
    y = ops.broadcast_to(y, tuple(target))
    out = ops.reshape(y, tuple(r * n for r, n in zip(tup, shape)))
    return apply(P.copy, (out,)) if out is x else out


def repeat(a: Any, repeats: Any, axis: Any = None) -> Tensor:
    """Each element repeated ``repeats`` times along ``axis`` (None: flattened), as a gather:
    the gradient sums each element's copies.

    >>> import chainrule.numpy as cnp
    >>> cnp.repeat(cnp.array([1.0, 2.0]), 2)
    tensor([1., 1., 2., 2.])
    """
    x = tensor(a)
    if axis is None:
        x = ops.reshape(x, -1)
        axis = 0
    else:
        axis = normalize_axis("repeat", axis, x.shape)
    n = x.shape[axis]
    reps = np.asarray(
        decided_by(repeats, "repeat: the counts") if isinstance(repeats, Tensor) else repeats
    )
    if reps.size == 0:
        reps = reps.astype(np.int64)  # an empty list of counts
    if reps.dtype.kind not in "iu" and not (reps.dtype.kind == "b"):
        raise TypeError(f"repeat: repeats must be integers, got dtype {reps.dtype}")
    if reps.size == 1:
        reps = np.full(n, int(reps.reshape(())), dtype=np.int64)
    elif reps.shape != (n,):
        raise ValueError(
            f"repeat: operands could not be broadcast together with shape ({n},) {reps.shape}"
        )
    if np.any(reps < 0):
        raise ValueError("repeat: repeats may not contain negative values")
    index = np.repeat(np.arange(n), reps)
    return ops.getitem(x, _along(axis, index))


def roll(a: Any, shift: Any, axis: Any = None) -> Tensor:
    """Elements moved ``shift`` places along ``axis`` (wrapping around; None: flattened),
    as a gather (the gradient rolls back).

    >>> import chainrule.numpy as cnp
    >>> cnp.roll(cnp.array([1.0, 2.0, 3.0]), 1)
    tensor([3., 1., 2.])
    """
    x = tensor(a)
    if axis is None:
        return ops.reshape(roll(ops.reshape(x, -1), shift, 0), x.shape)
    pairs = np.broadcast(np.asarray(shift), np.asarray(axis))
    if pairs.ndim > 1:
        raise ValueError("roll: 'shift' and 'axis' should be scalars or 1D sequences")
    moves: dict[int, int] = {}
    for s, ax in pairs:
        ax = normalize_axis("roll", int(ax), x.shape)
        moves[ax] = moves.get(ax, 0) + int(s)
    for ax, s in moves.items():
        n = x.shape[ax]
        if n == 0 or s % n == 0:
            continue
        x = ops.getitem(x, _along(ax, (np.arange(n) - s) % n))
    return x


def flip(m: Any, axis: Any = None) -> Tensor:
    """The order of elements reversed along ``axis`` (None: all axes); a view with a
    reversed slice, whose gradient is flipped back.

    >>> import chainrule.numpy as cnp
    >>> cnp.flip(cnp.array([1.0, 2.0, 3.0]))
    tensor([3., 2., 1.])
    """
    x = tensor(m)
    axes = tuple(range(x.ndim)) if axis is None else normalize_axes("flip", axis, x.shape)
    if not axes:
        return x
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))
    return ops.getitem(x, index)


def flipud(m: Any) -> Tensor:
    """Flip along the first axis (up/down).

    >>> import chainrule.numpy as cnp
    >>> cnp.flipud(cnp.array([[1.0], [2.0]]))
    tensor([[2.],
            [1.]])
    """
    x = tensor(m)
    if x.ndim < 1:
        raise ValueError("flipud: input must be >= 1-d")
    return flip(x, 0)


def fliplr(m: Any) -> Tensor:
    """Flip along the second axis (left/right).

    >>> import chainrule.numpy as cnp
    >>> cnp.fliplr(cnp.array([[1.0, 2.0]]))
    tensor([[2., 1.]])
    """
    x = tensor(m)
    if x.ndim < 2:
        raise ValueError("fliplr: input must be >= 2-d")
    return flip(x, 1)


def rot90(m: Any, k: int = 1, axes: Any = (0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (flips and a transpose).

    >>> import chainrule.numpy as cnp
    >>> cnp.rot90(cnp.array([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[2., 4.],
            [1., 3.]])
    """
    x = tensor(m)
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError("rot90: len(axes) must be 2")
    if axes[0] == axes[1] or builtins.abs(axes[0] - axes[1]) == x.ndim:
        raise ValueError("rot90: axes must be different")
    if not (-x.ndim <= axes[0] < x.ndim and -x.ndim <= axes[1] < x.ndim):
        raise ValueError(f"rot90: axes={axes} out of range for array of ndim={x.ndim}")
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, axes[0]), axes[1])
    order = list(range(x.ndim))
    i, j = axes[0] % x.ndim, axes[1] % x.ndim
    order[i], order[j] = order[j], order[i]
    if k == 1:
        return _permute(flip(x, axes[1]), order)
    return flip(_permute(x, order), axes[1])


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Tensor:
    """``array`` padded by ``pad_width`` (NumPy's forms: an int, (before, after), one pair
    per axis). Modes "constant" (with ``constant_values``) and "empty" scatter the input
    into the padded shape (gradient: the inner slice); "edge", "reflect", "symmetric" and
    "wrap" gather with an index map (gradient: the copies summed back).

    >>> import chainrule.numpy as cnp
    >>> cnp.pad(cnp.array([1.0, 2.0]), 1, mode="edge")
    tensor([1., 1., 2., 2.])
    """
    x = tensor(array)
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise TypeError("pad: `pad_width` must be of integral type")
    try:
        pairs = np.broadcast_to(widths, (x.ndim, 2)).tolist()
    except ValueError:
        raise ValueError(
            f"pad: pad_width {pad_width!r} does not fit a tensor of {x.ndim} dimensions"
        ) from None
    if builtins.any(w < 0 for pair in pairs for w in pair):
        raise ValueError("pad: index can't contain negative values")
    if callable(mode):
        raise TypeError("pad: a callable mode is not supported on chainrule Tensors")
    if mode in ("constant", "empty"):
        values = kwargs.pop("constant_values", 0) if mode == "constant" else 0
        if kwargs:
            raise TypeError(
                f"pad: unsupported keyword arguments for mode {mode!r}: {sorted(kwargs)}"
            )
        if _holds_tensor(values):
            raise TypeError("pad: constant_values must be numbers (they are not differentiated)")
        shape = tuple(n + b + e for n, (b, e) in zip(x.shape, pairs))
        if shape == x.shape:
            return apply(P.copy, (x,))
        inner = tuple(slice(b, b + n) for n, (b, _) in zip(x.shape, pairs))
        out = apply(P.index_add, (x,), {"index": inner, "shape": shape})
        border = np.pad(
            np.zeros(x.shape, dtype=x.dtype), pairs, mode="constant", constant_values=values
        )
        return out + border if np.any(border) else out
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise ValueError(
            f"pad: mode {mode!r} is not supported on chainrule Tensors (supported: "
            f"constant, empty, edge, reflect, symmetric, wrap)"
        )
    reflect_type = kwargs.pop("reflect_type", "even")
    if kwargs:
        raise TypeError(f"pad: unsupported keyword arguments for mode {mode!r}: {sorted(kwargs)}")
    if reflect_type != "even":
        raise ValueError("pad: reflect_type='odd' is not supported on chainrule Tensors")
    for ax, (b, e) in enumerate(pairs):
        if b == 0 and e == 0:
            continue
        index = np.pad(np.arange(x.shape[ax]), (b, e), mode=mode)
        x = ops.getitem(x, _along(ax, index))
    return x


# --------------------------------------------------------------------------- differences


def diff(
    a: Any, n: int = 1, axis: int = -1, prepend: Any = NOVALUE, append: Any = NOVALUE
) -> Tensor:
    """The ``n``-th discrete difference along ``axis`` (with values put before / after
    first); linear, so the gradient is the matching combination of slices.

    >>> import chainrule.numpy as cnp
    >>> cnp.diff(cnp.array([1.0, 4.0, 9.0]))
    tensor([3., 5.])
    """
    if n == 0:
        return tensor(a)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n!r}")
    x = tensor(a)
    if x.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = normalize_axis("diff", axis, x.shape)
    parts = [] if prepend is NOVALUE else [_edge_values(prepend, x, axis)]
    parts.append(x)
    if append is not NOVALUE:
        parts.append(_edge_values(append, x, axis))
    if len(parts) > 1:
        x = ops.concatenate(parts, axis)
    for _ in range(n):
        hi = ops.getitem(x, _along(axis, slice(1, None)))
        lo = ops.getitem(x, _along(axis, slice(None, -1)))
        x = (hi != lo) if x.dtype.kind == "b" else hi - lo
    return x


def _edge_values(v: Any, x: Tensor, axis: int) -> Tensor:
    t = tensor(v)
    if t.ndim == 0:
        shape = list(x.shape)
        shape[axis] = 1
        t = ops.broadcast_to(t, tuple(shape))
    return t


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Tensor:
    """Differences of the flattened input, with optional values before and after.

    >>> import chainrule.numpy as cnp
    >>> cnp.ediff1d(cnp.array([1.0, 2.0, 4.0]), to_begin=0.0)
    tensor([0., 1., 2.])
    """
    x = ops.reshape(tensor(ary), -1)
    # the values put around keep the input's dtype, as NumPy's do
    parts = [] if to_begin is None else [cast(ops.reshape(tensor(to_begin), -1), x.dtype)]
    parts.append(diff(x))
    if to_end is not None:
        parts.append(cast(ops.reshape(tensor(to_end), -1), x.dtype))
    return ops.concatenate(parts, 0) if len(parts) > 1 else parts[0]


def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """NumPy's finite-difference gradient: central differences inside, one-sided (first or
    second order) at the edges, with a scalar spacing per axis. Linear in ``f``.

    >>> import chainrule.numpy as cnp
    >>> cnp.gradient(cnp.array([1.0, 4.0, 9.0, 16.0]))
    tensor([3., 4., 6., 7.])
    """
    x = tensor(f)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)
    axes = tuple(range(x.ndim)) if axis is None else normalize_axes("gradient", axis, x.shape)
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError("gradient: invalid number of spacing arguments")
    for h in spacing:
        if np.ndim(h) != 0 or isinstance(h, Tensor):
            raise TypeError(
                "gradient: only scalar (uniform) spacings are supported on chainrule Tensors"
            )
    if edge_order not in (1, 2):
        raise ValueError("gradient: 'edge_order' greater than 2 not supported")
    out = []
    for ax, h in zip(axes, spacing):
        n = x.shape[ax]
        if n < edge_order + 1:
            raise ValueError(
                "gradient: shape of array too small to calculate a numerical gradient, at "
                "least (edge_order + 1) elements are required"
            )

        def part(s: Any, ax: int = ax) -> Tensor:
            return ops.getitem(x, _along(ax, s))

        inner = (part(slice(2, None)) - part(slice(None, -2))) / (2.0 * h)
        if edge_order == 1:
            first = (part(slice(1, 2)) - part(slice(0, 1))) / h
            last = (part(slice(-1, None)) - part(slice(-2, -1))) / h
        else:
            first = (
                (-1.5 / h) * part(slice(0, 1))
                + (2.0 / h) * part(slice(1, 2))
                + (-0.5 / h) * part(slice(2, 3))
            )
            last = (
                (0.5 / h) * part(slice(-3, -2))
                + (-2.0 / h) * part(slice(-2, -1))
                + (1.5 / h) * part(slice(-1, None))
            )
        out.append(ops.concatenate([first, inner, last], ax))
    return out[0] if len(out) == 1 else tuple(out)


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> tuple:
    """Coordinate tensors from 1-D coordinate vectors (``indexing="xy"``: the first two axes
    swapped, as for plotting; ``"ij"``: matrix indexing). Broadcasts of the inputs, so
    gradients sum back.

    Examples
    --------
    >>> import chainrule.numpy as cnp
    >>> [g.shape for g in cnp.meshgrid(cnp.ones(3), cnp.ones(2))]
    [(2, 3), (2, 3)]
    """
    if indexing not in ("xy", "ij"):
        raise ValueError("meshgrid: valid values for `indexing` are 'xy' and 'ij'")
    ndim = len(xi)
    ones = (1,) * ndim
    grids = [
        ops.reshape(ops.reshape(tensor(x), -1), ones[:i] + (-1,) + ones[i + 1 :])
        for i, x in enumerate(xi)
    ]
    if indexing == "xy" and ndim > 1:
        grids[0] = ops.reshape(grids[0], (1, -1) + ones[2:])
        grids[1] = ops.reshape(grids[1], (-1, 1) + ones[2:])
    if not sparse:
        grids = list(broadcast_arrays(*grids))
        if copy:
            grids = [apply(P.copy, (g,)) for g in grids]
    return tuple(grids)


class AxisConcatenator:
    """NumPy's ``r_`` and ``c_``: ``r_[a, b, 0:3]`` joins Tensors, arrays, numbers and
    slices (``start:stop:step``, a complex step meaning a number of points as in
    ``linspace``) into one Tensor along an axis; the gradient is cut back into the pieces.
    A leading string sets the axis, the minimum number of dimensions and where 1-d pieces
    go (``"0,2,0"``), as NumPy reads it; the matrix directives ``"r"`` and ``"c"`` are
    refused.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([1.0, 2.0], requires_grad=True)
    >>> cnp.r_[x, 0.0, 5:7]
    tensor([1., 2., 0., 5., 6.], grad_fn=<concatenate>)
    >>> cnp.c_[x, x * 2].shape
    (2, 2)
    """

    def __init__(self, name: str, axis: int = 0, ndmin: int = 1, trans1d: int = -1) -> None:
        self.name = name
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key: Any) -> Tensor:
        items = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        pieces: list[Tensor] = []
        values: dict[int, Any] = {}  # the number pieces' own values, by position
        numbers: list[int] = []
        for k, item in enumerate(items):
            if isinstance(item, str):
                if k != 0:
                    raise ValueError(f"{self.name}: a string directive must come first")
                if item in ("r", "c"):
                    raise TypeError(
                        f"{self.name}: the matrix directive {item!r} is not supported on "
                        f"chainrule Tensors"
                    )
                try:
                    fields = [int(v) for v in item.split(",")]
                except ValueError:
                    raise ValueError(f"{self.name}: unknown special directive {item!r}") from None
                axis = fields[0]
                if len(fields) > 1:
                    ndmin = fields[1]
                if len(fields) > 2:
                    trans1d = fields[2]
                continue
            if isinstance(item, slice):
                piece = tensor(_slice_values(self.name, item))
                if ndmin > 1:
                    piece = ops.reshape(piece, (1,) * (ndmin - 1) + piece.shape)
                    if trans1d != -1:
                        piece = swapaxes(piece, -1, trans1d)
                pieces.append(piece)
                continue
            piece = tensor(item)
            if isinstance(item, (int, float, complex, bool, np.generic)):
                numbers.append(len(pieces))
                values[len(pieces)] = item  # kept as given: a traced piece cannot be read
            ndim = piece.ndim
            if ndim < ndmin:
                piece = ops.reshape(piece, (1,) * (ndmin - ndim) + piece.shape)
                if trans1d != -1:
                    # NumPy's placement of the piece's own axes among the new ones
                    k2 = ndmin - ndim
                    k1 = trans1d + k2 + 1 if trans1d < 0 else trans1d
                    order = list(range(ndmin))
                    order = order[:k1] + order[k2:] + order[k1:k2]
                    if order != list(range(ndmin)):
                        piece = ops.transpose(piece, tuple(order))
            pieces.append(piece)
        if not pieces:
            raise ValueError(f"{self.name}: nothing to join")
        # numbers are weakly typed, as NumPy types them: [float32 tensor, 1.0] stays float32
        arrays = [p.dtype for i, p in enumerate(pieces) if i not in numbers]
        if arrays and numbers:
            target = np.result_type(*arrays, *[values[i] for i in numbers])
            pieces = [cast(p, target) if i in numbers else p for i, p in enumerate(pieces)]
        return concatenate(pieces, axis=axis)

    def __len__(self) -> int:
        return 0


def _slice_values(name: str, item: slice) -> np.ndarray:
    start = 0 if item.start is None else item.start
    step = 1 if item.step is None else item.step
    if isinstance(step, complex) or isinstance(step, np.complexfloating):
        return np.linspace(start, item.stop, num=int(abs(step)))
    if item.stop is None:
        raise ValueError(f"{name}: a slice needs a stop value")
    return np.arange(start, item.stop, step)


r_ = AxisConcatenator("r_")
c_ = AxisConcatenator("c_", axis=-1, ndmin=2, trans1d=0)


def apply_along_axis(func1d: Any, axis: int, arr: Any, *args: Any, **kwargs: Any) -> Tensor:
    """``func1d`` applied to each 1-d slice of ``arr`` along ``axis``; its results (numbers
    or arrays, one shape for all) take that axis's place, as in NumPy. Differentiable
    through whatever ``func1d`` computes with chainrule's functions (one call per slice).

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    >>> y = cnp.apply_along_axis(lambda v: cnp.sort(v)[1:], 1, x)
    >>> y
    tensor([[2., 3.],
            [4., 5.]], grad_fn=<concatenate>)
    """
    x = tensor(arr)
    ax = normalize_axis("apply_along_axis", axis, x.shape)
    outer = x.shape[:ax] + x.shape[ax + 1 :]
    if builtins.any(n == 0 for n in outer):
        raise ValueError("apply_along_axis: cannot apply when any iteration dimensions are 0")
    rows = ops.reshape(moveaxis(x, ax, -1), (-1, x.shape[ax]))
    results = [tensor(func1d(rows[i], *args, **kwargs)) for i in range(rows.shape[0])]
    shape = results[0].shape
    for r in results[1:]:
        if r.shape != shape:
            raise ValueError(
                f"apply_along_axis: func1d returned shapes {shape} and {r.shape} for different "
                f"slices; every slice must give the same shape"
            )
    stacked = ops.reshape(ops.stack(results, 0), outer + shape)
    # the result's own axes go where the applied axis was
    k = len(shape)
    order = list(range(ax)) + list(range(len(outer), len(outer) + k)) + list(range(ax, len(outer)))
    return _permute(stacked, order) if order != list(range(len(order))) else stacked


# ------------------------------------------------------------- delete, insert, resize
# NumPy's own function run on an array of element ids (ids of x >= 0, of the inserted
# values < 0) gives the result's layout exactly, in every form of its arguments; the result
# is then one gather from x (and the values), so the gradient goes back to where each
# element came from, summed where one was repeated.


def _ids(x: Tensor) -> np.ndarray:
    return np.arange(x.size, dtype=np.intp).reshape(x.shape)


def _gather_ids(sources: Tensor, ids: np.ndarray) -> Tensor:
    return ops.getitem(sources, ids) if ids.size else ops.reshape(sources[:0], ids.shape)


def apply_over_axes(func: Any, a: Any, axes: Any) -> Tensor:
    """``func(a, axis)`` applied for each axis in turn, each result kept with the reduced
    axis (NumPy's rule: a result one dimension short gets it back as length 1);
    differentiable through ``func``.

    >>> import chainrule.numpy as cnp
    >>> cnp.apply_over_axes(cnp.sum, cnp.ones((2, 3)), [0, 1])
    tensor([[6.]])
    """
    val = tensor(a)
    n = val.ndim
    if np.ndim(axes) == 0:
        axes = (axes,)
    for axis in axes:
        if axis < 0:
            axis = n + axis
        res = tensor(func(val, axis))
        if res.ndim == val.ndim:
            val = res
        else:
            res = ops.expand_dims(res, axis)
            if res.ndim != val.ndim:
                raise ValueError(
                    "apply_over_axes: function is not returning an array of the correct shape"
                )
            val = res
    return val


def trim_zeros(filt: Any, trim: str = "fb", axis: Any = None) -> Tensor:
    """``filt`` without its leading (``"f"``) and trailing (``"b"``) zeros along each axis
    (of ``axis``; all by default): a slice, so the gradient passes to the entries kept.
    Where the zeros end is read from the values.

    >>> import chainrule.numpy as cnp
    >>> cnp.trim_zeros(cnp.array([0.0, 0.0, 1.0, 2.0, 0.0]))
    tensor([1., 2.])
    """
    t = tensor(filt)
    trim = trim.lower()
    if trim not in {"fb", "bf", "f", "b"}:
        raise ValueError(f"trim_zeros: unexpected character(s) in `trim`: {trim!r}")
    axes = tuple(range(t.ndim)) if axis is None else normalize_axes("trim_zeros", axis, t.shape)
    if not axes:
        return t
    nonzero = np.argwhere(decided_by(t, "trim_zeros: the zeros") != 0)
    if nonzero.shape[0] == 0:
        start = stop = np.zeros(t.ndim, dtype=np.intp)
    else:
        start, stop = nonzero.min(axis=0), nonzero.max(axis=0) + 1
        if "f" not in trim:
            start = (None,) * t.ndim
        if "b" not in trim:
            stop = (None,) * t.ndim
    index = tuple(
        slice(
            None if start[a] is None else int(start[a]), None if stop[a] is None else int(stop[a])
        )
        if a in axes
        else slice(None)
        for a in range(t.ndim)
    )
    return ops.getitem(t, index)


def delete(arr: Any, obj: Any, axis: Any = None) -> Tensor:
    """``arr`` without the entries ``obj`` (an index, a slice, indices or a boolean mask)
    along ``axis`` (None: of the flattened array); the kept entries get their gradients.

    >>> import chainrule.numpy as cnp
    >>> cnp.delete(cnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 1, axis=1)
    tensor([[1., 3.],
            [4., 6.]])
    """
    x = tensor(arr)
    if isinstance(obj, Tensor):
        obj = obj.numpy()
    ids = np.delete(_ids(x), obj, axis=axis)
    return _gather_ids(ops.reshape(x, -1), ids)


def insert(arr: Any, obj: Any, values: Any, axis: Any = None) -> Tensor:
    """``values`` inserted before the index or indices ``obj`` along ``axis`` (None: into the
    flattened array), broadcast as NumPy broadcasts them and cast to ``arr``'s dtype.
    Differentiable in ``arr`` and in ``values`` (a broadcast value gets the sum of its
    copies' gradients).

    >>> import chainrule.numpy as cnp
    >>> cnp.insert(cnp.array([1.0, 2.0, 3.0]), [1, 3], cnp.array([9.0, 8.0]))
    tensor([1., 9., 2., 3., 8.])
    """
    x = tensor(arr)
    v = cast(tensor(values), x.dtype)
    if isinstance(obj, Tensor):
        obj = obj.numpy()
    value_ids = -1 - np.arange(v.size, dtype=np.intp).reshape(v.shape)
    ids = np.insert(_ids(x), obj, value_ids, axis=axis)
    ids = np.where(ids >= 0, ids, x.size + (-1 - ids))
    sources = ops.concatenate([ops.reshape(x, -1), ops.reshape(v, -1)], 0)
    return _gather_ids(sources, ids)


def resize(a: Any, new_shape: Any) -> Tensor:
    """A tensor of ``new_shape`` filled with ``a``'s elements in order, repeated from the
    start as often as needed (NumPy's ``np.resize``; each element's gradient sums its
    copies').

    >>> import chainrule.numpy as cnp
    >>> cnp.resize(cnp.array([1.0, 2.0, 3.0]), (2, 2))
    tensor([[1., 2.],
            [3., 1.]])
    """
    x = tensor(a)
    ids = np.resize(_ids(x), new_shape)
    return _gather_ids(ops.reshape(x, -1), ids)


def unwrap(p: Any, discont: Any = None, axis: int = -1, *, period: float = 2 * np.pi) -> Tensor:
    """Phases with jumps larger than ``discont`` (default ``period / 2``) between neighbours
    along ``axis`` replaced by their ``period`` complements, as NumPy computes them. The
    corrections are multiples of ``period`` (piecewise constant), so the derivative is the
    identity; at NumPy's boundary case (a jump of exactly -period/2 turned into +period/2)
    the value is moved by ``period`` rather than replaced, keeping that derivative.

    >>> import chainrule.numpy as cnp
    >>> cnp.unwrap(cnp.array([0.0, 3.0, 6.5, 0.5]))
    tensor([0.    , 3.    , 0.2168, 0.5   ])
    """
    x = tensor(p)
    if x.dtype.kind == "c":
        raise TypeError("unwrap: p must be real")
    ax = normalize_axis("unwrap", axis, x.shape)
    dtype = np.result_type(x.dtype, period)
    if dtype.kind in "biu":
        raise TypeError("unwrap: integer phases with an integer period are not supported")
    x = cast(x, dtype)
    dd = diff(x, axis=ax)
    if discont is None:
        discont = period / 2
    high = period / 2
    low = -high
    ddmod = apply(R.remainder, (dd - low, tensor(np.asarray(period, dtype)))) + low
    ddmod = ops.where((ddmod == low) & (dd > 0), ddmod + period, ddmod)
    correction = ops.where(ops.abs(dd) < discont, 0.0, ddmod - dd)
    head = ops.getitem(x, _along(ax, slice(0, 1)))
    from .reductions import cumsum

    tail = ops.getitem(x, _along(ax, slice(1, None))) + cumsum(correction, axis=ax)
    return ops.concatenate([head, tail], ax)
