"""NumPy's functions that write into an array in place, on Tensors: ``put``,
``put_along_axis``, ``place``, ``putmask``, ``copyto`` and ``fill_diagonal``.

The Tensor changes in place and the change is recorded (PyTorch's rules, as
``np.add.at``: ``Tensor._inplace``; not on a leaf that requires grad, except under
``no_grad``). The new value is differentiable in the values written (each gets the
gradient of the entry it ends up in) and in the old value where it was not overwritten.
Where NumPy writes one position more than once, the last write stays (NumPy's order) and
the earlier values get no gradient. Like NumPy, they return None.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .. import rules_numpy as R
from ..tensor import Tensor, _wrap, apply
from ._common import integer_cast, normalize_axis, tensor, value_of

__all__ = ["copyto", "fill_diagonal", "place", "put", "put_along_axis", "putmask"]


def _is_tensor_target(name: str, a: Any, *given: Any) -> bool:
    """Whether ``a`` is a Tensor (written through the graph); an ndarray is written by
    NumPy when nothing that needs a gradient would be written into it."""
    if isinstance(a, Tensor):
        return True
    if any(isinstance(v, Tensor) and v.requires_grad for v in given):
        raise TypeError(
            f"{name}: the array changed in place is not a Tensor ({type(a).__name__}) but "
            f"the values are: writing them into it would drop the gradient; make it a "
            f"Tensor (cr.tensor(a)), or pass values.numpy() to leave the graph"
        )
    return False


def _last_writes(positions: Any) -> Any:
    """Which entries of the 1-d ``positions`` are the last write to their position (the
    write that stays when NumPy assigns them in order)."""
    n = positions.shape[0]
    if isinstance(positions, np.ndarray):
        keep = np.zeros(n, dtype=bool)
        _, first_from_end = np.unique(positions[::-1], return_index=True)
        keep[n - 1 - first_from_end] = True
        return keep
    # staged: after a stable sort, an entry is the last of its run when the next differs
    order = apply(R.argsort, (positions,), {"axis": 0, "kind": "stable"})
    ranked = ops.getitem(positions, order)
    last = ops.concatenate([ranked[1:] != ranked[:-1], _wrap(np.ones(1, dtype=bool))], axis=0)
    return ops.index_put(_wrap(np.zeros(n, dtype=bool)), order, last)


def _write_flat(old: Tensor, positions: Any, values: Any) -> Tensor:
    """``old`` with ``values`` (1-d) written at the flat ``positions`` (1-d, in range), in
    order: the last write to a position stays."""
    if positions.shape[0] == 0:
        return old
    values = tensor(values)
    if values.dtype != old.dtype:
        values = values.astype(old.dtype)
    keep = _last_writes(positions)
    if isinstance(keep, np.ndarray) and keep.all():
        where, what = positions, values
    else:
        from .indexing import mask_positions

        kept = mask_positions(keep)  # (positions and keep are both Tensors or both arrays)
        where = positions[kept] if isinstance(kept, np.ndarray) else ops.getitem(positions, kept)
        what = ops.getitem(values, kept)
    flat = ops.index_put(ops.reshape(old, -1), where, what)
    return ops.reshape(flat, old.shape)


def _cyclic(values: Tensor, count: Any) -> Tensor:
    """The first ``count`` entries of ``values`` repeated (NumPy's rule for too few values:
    ``values[i % len(values)]``); ``count`` is an int or an integer Tensor of positions."""
    if isinstance(count, (int, np.integer)):
        if values.shape[0] == count:
            return values
        return ops.getitem(values, np.arange(count) % values.shape[0])
    return ops.getitem(values, count % values.shape[0])


def _flat_positions(name: str, index: Any, size: int, mode: str) -> Any:
    """Flat indices into ``size`` elements, brought into range by ``mode``."""
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"{name}: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    pos = ops.reshape(index, -1) if isinstance(index, Tensor) else np.asarray(index).reshape(-1)
    if pos.dtype.kind not in "iu":
        if pos.shape[0] or pos.dtype.kind == "b":
            raise TypeError(f"{name}: indices must be integers, got dtype {pos.dtype}")
        pos = pos.astype(np.intp)
    if mode == "wrap":
        return pos % size if size else pos
    if mode == "clip":
        return ops.clip(pos, 0, size - 1) if isinstance(pos, Tensor) else np.clip(pos, 0, size - 1)
    values = np.asarray(value_of(pos))
    bad = (values < -size) | (values >= size)
    if bad.any():
        raise IndexError(
            f"{name}: index {int(values[bad][0])} is out of bounds for axis 0 with size {size}"
        )
    return pos % size if size else pos


def put(a: Any, ind: Any, v: Any, mode: str = "raise") -> None:
    """``a.flat[ind] = v`` in place (``v`` repeated when shorter; ``mode`` for indices out
    of range), recorded: the gradient reaches the written values and ``a``'s other entries.

    >>> import chainrule.numpy as cnp
    >>> a = cnp.zeros(4)
    >>> cnp.put(a, [0, 2], cnp.array([5.0, 6.0]))
    >>> a
    tensor([5., 0., 6., 0.])
    """
    if not _is_tensor_target("put", a, v):
        np.put(a, value_of(ind), value_of(v), mode=mode)
        return None
    positions = _flat_positions("put", ind, a.size, mode)
    values = ops.reshape(tensor(v), -1)
    n = positions.shape[0]
    if n and values.shape[0] == 0:
        return None  # NumPy writes nothing from an empty v
    others = (v,) if isinstance(v, Tensor) else ()
    a._inplace("put", lambda old: _write_flat(old, positions, _cyclic(values, n)), others)
    return None


def put_along_axis(arr: Any, indices: Any, values: Any, axis: Any) -> None:
    """Write ``values`` at ``indices`` along ``axis`` in place (the inverse of
    ``take_along_axis``; ``axis=None``: into the flattened array), recorded: the gradient
    reaches the written values and the entries left as they were.

    >>> import chainrule.numpy as cnp
    >>> a = cnp.zeros((2, 3))
    >>> cnp.put_along_axis(a, cnp.array([[2], [0]]), 1.0, axis=1)
    >>> a
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    name = "put_along_axis"
    if not _is_tensor_target(name, arr, values):
        np.put_along_axis(arr, value_of(indices), value_of(values), axis)
        return None
    idx = indices if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"{name}: `indices` must be an integer array, got dtype {idx.dtype}")
    shape = arr.shape
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f"{name}: when axis=None, `indices` must have a single dimension.")
        shape, ax = (arr.size,), 0
    else:
        ax = normalize_axis(name, axis, arr.shape)
        if idx.ndim != arr.ndim:
            raise ValueError(
                f"{name}: `indices` and `arr` must have the same number of dimensions, got "
                f"{idx.ndim} and {arr.ndim}"
            )
    n = shape[ax]
    v = np.asarray(value_of(idx))
    bad = (v < -n) | (v >= n)
    if bad.any():
        raise IndexError(
            f"{name}: index {int(v[bad][0])} is out of bounds for axis {ax} with size {n}"
        )
    # NumPy's fancy index: aranges along the other axes, broadcast with the indices
    grid = np.broadcast_shapes(
        idx.shape,
        *((1,) * d + (m,) + (1,) * (len(shape) - d - 1) for d, m in enumerate(shape) if d != ax),
    )
    strides = np.cumprod((1,) + shape[:0:-1])[::-1]
    flat: Any = (idx % n) * int(strides[ax])
    for d, m in enumerate(shape):
        if d != ax:
            step = np.arange(m).reshape((1,) * d + (m,) + (1,) * (len(shape) - d - 1))
            flat = flat + step * int(strides[d])
    if isinstance(flat, Tensor):
        flat = ops.reshape(ops.broadcast_to(flat, grid), -1)
    else:
        flat = np.broadcast_to(flat, grid).reshape(-1)
    vals = ops.reshape(ops.broadcast_to(tensor(values), grid), -1)
    others = (values,) if isinstance(values, Tensor) else ()
    arr._inplace(name, lambda old: _write_flat(old, flat, vals), others)
    return None


def place(arr: Any, mask: Any, vals: Any) -> None:
    """Write the first values of ``vals`` (repeated when too few) in order at the places
    where ``mask`` holds, in place and recorded (differentiable in ``vals`` and in the
    entries left as they were).

    >>> import chainrule.numpy as cnp
    >>> a = cnp.zeros(4)
    >>> cnp.place(a, [True, False, True, True], cnp.array([1.0, 2.0]))
    >>> a
    tensor([1., 0., 2., 1.])
    """
    name = "place"
    if not _is_tensor_target(name, arr, vals):
        np.place(arr, value_of(mask), value_of(vals))
        return None
    m = mask if isinstance(mask, Tensor) else np.asarray(mask)
    if m.size != arr.size:
        raise ValueError(
            f"{name}: mask and data must be the same size, got {m.size} and {arr.size}"
        )
    flat_mask = ops.reshape(m, -1) if isinstance(m, Tensor) else m.reshape(-1).astype(bool)
    values = ops.reshape(tensor(vals), -1)
    if isinstance(flat_mask, Tensor):
        from .indexing import flatnonzero

        positions = flatnonzero(flat_mask)
        # the k-th place takes value k: the running count of the mask
        rank = ops.getitem(ops.cumsum(integer_cast(flat_mask, np.intp), axis=0) - 1, positions)
    else:
        positions = np.flatnonzero(flat_mask)
        rank = positions.shape[0]
    if positions.shape[0] and values.shape[0] == 0:
        raise ValueError(f"{name}: cannot insert from an empty array!")
    if positions.shape[0] == 0:
        return None
    others = (vals,) if isinstance(vals, Tensor) else ()
    arr._inplace(name, lambda old: _write_flat(old, positions, _cyclic(values, rank)), others)
    return None


def putmask(a: Any, mask: Any, values: Any) -> None:
    """Where ``mask`` holds, ``a.flat[n] = values.flat[n % values.size]`` (the value of the
    same flat position, ``values`` repeated), in place and recorded (differentiable in
    ``values`` and in the entries left as they were).

    >>> import chainrule.numpy as cnp
    >>> a = cnp.zeros(4)
    >>> cnp.putmask(a, [True, False, True, True], cnp.array([1.0, 2.0]))
    >>> a
    tensor([1., 0., 1., 2.])
    """
    name = "putmask"
    if not _is_tensor_target(name, a, values):
        np.putmask(a, value_of(mask), value_of(values))
        return None
    m = mask if isinstance(mask, Tensor) else np.asarray(mask, dtype=bool)
    if m.size != a.size:
        raise ValueError(f"{name}: mask and data must be the same size, got {m.size} and {a.size}")
    m = ops.reshape(m, a.shape) if isinstance(m, Tensor) else m.reshape(a.shape)
    flat = ops.reshape(tensor(values), -1)
    if flat.shape[0] == 0:
        return None
    full = ops.reshape(_cyclic(flat, a.size), a.shape)
    others = (values,) if isinstance(values, Tensor) else ()
    a._inplace(name, lambda old: ops.where(m, full.astype(old.dtype), old), others)
    return None


def copyto(dst: Any, src: Any, casting: str = "same_kind", where: Any = True) -> None:
    """Copy ``src`` (broadcast) into ``dst`` in place where ``where`` holds, under NumPy's
    ``casting`` rule; recorded: differentiable in ``src`` and in the entries of ``dst``
    left as they were.

    >>> import chainrule.numpy as cnp
    >>> a = cnp.zeros(3)
    >>> cnp.copyto(a, cnp.array([1.0, 2.0, 3.0]), where=[True, False, True])
    >>> a
    tensor([1., 0., 3.])
    """
    name = "copyto"
    if not _is_tensor_target(name, dst, src):
        np.copyto(dst, value_of(src), casting=casting, where=value_of(where))
        return None
    # NumPy decides whether the cast and the broadcast are allowed (with its own message)
    try:
        np.copyto(
            np.empty(dst.shape, dst.dtype), value_of(src), casting=casting, where=value_of(where)
        )
    except (TypeError, ValueError) as e:
        raise type(e)(f"{name}: {e}") from None
    value = ops.broadcast_to(tensor(src), dst.shape)
    masked = where is not True
    if masked and not isinstance(where, Tensor):
        where = np.asarray(where, dtype=bool)
    others = (src,) if isinstance(src, Tensor) else ()

    def compute(old: Tensor) -> Tensor:
        v = value.astype(old.dtype) if value.dtype != old.dtype else value
        return ops.where(where, v, old) if masked else v

    dst._inplace(name, compute, others)
    return None


def fill_diagonal(a: Any, val: Any, wrap: bool = False) -> None:
    """Write ``val`` (repeated when shorter) on the main diagonal of the at least 2-d ``a``
    in place (for tall matrices, ``wrap=True`` continues below, as NumPy's flat stride
    does); recorded: differentiable in ``val`` and in the entries off the diagonal.

    >>> import chainrule.numpy as cnp
    >>> a = cnp.zeros((2, 2))
    >>> cnp.fill_diagonal(a, cnp.array([3.0, 4.0]))
    >>> a
    tensor([[3., 0.],
            [0., 4.]])
    """
    name = "fill_diagonal"
    if not _is_tensor_target(name, a, val):
        np.fill_diagonal(a, value_of(val), wrap)
        return None
    if a.ndim < 2:
        raise ValueError(f"{name}: array must be at least 2-d, got shape {a.shape}")
    end = None
    if a.ndim == 2:
        step = a.shape[1] + 1
        if not wrap:
            end = a.shape[1] * a.shape[1]
    else:
        if len(set(a.shape)) != 1:
            raise ValueError(
                f"{name}: all dimensions of input must be of equal length, got {a.shape}"
            )
        step = 1 + int(np.cumprod(a.shape[:-1]).sum())
    positions = np.arange(a.size)[:end:step]
    values = ops.reshape(tensor(val), -1)
    if values.shape[0] == 0:
        return None
    n = positions.shape[0]
    others = (val,) if isinstance(val, Tensor) else ()
    a._inplace(name, lambda old: _write_flat(old, positions, _cyclic(values, n)), others)
    return None
