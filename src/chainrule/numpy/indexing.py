"""NumPy's selection and ordering functions on Tensors: where, select, take, diagonals and
triangles, sorting and partitioning. Values are gathered (gradients scatter back to where
they came from); indices and masks are integer or boolean results, not differentiable,
computed by primitives so that traced programs recompute them at new inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .. import rules as P
from .. import rules_numpy as R
from ..tensor import Tensor, _is_traced, apply
from ._common import finish, integer_cast, normalize_axis, tensor

__all__ = [
    "argpartition",
    "argsort",
    "argwhere",
    "choose",
    "compress",
    "diag",
    "diagflat",
    "diagonal",
    "extract",
    "flatnonzero",
    "interp",
    "lexsort",
    "nonzero",
    "partition",
    "piecewise",
    "searchsorted",
    "select",
    "sort",
    "sort_complex",
    "take",
    "take_along_axis",
    "trace",
    "tril",
    "triu",
    "where",
]

_NOVALUE: Any = np._NoValue


def _along(axis: int, index: Any) -> tuple:
    return (slice(None),) * axis + (index,)


def _flat_or_axis(name: str, x: Tensor, axis: Any) -> tuple[Tensor, int]:
    if axis is None:
        return ops.reshape(x, -1), 0
    return x, normalize_axis(name, axis, x.shape)


# --------------------------------------------------------------------------- where


def where(condition: Any, x: Any = _NOVALUE, y: Any = _NOVALUE, /) -> Any:
    """``x`` where ``condition`` holds, else ``y`` (broadcast); the gradient goes to the
    chosen side (the condition is not differentiated, but a traced program recomputes it).
    With only ``condition``: ``nonzero(condition)``.

    >>> import chainrule.numpy as cnp
    >>> t = cnp.array([-1.0, 2.0])
    >>> cnp.where(t > 0, t, 0.0)
    tensor([0., 2.])
    """
    if x is _NOVALUE and y is _NOVALUE:
        return nonzero(condition)
    if x is _NOVALUE or y is _NOVALUE:
        raise ValueError("where: either both or neither of x and y should be given")
    if not isinstance(condition, Tensor):
        condition = np.asarray(condition)
    return ops.where(condition, x, y)


def nonzero(a: Any) -> tuple:
    """The indices of the non-zero elements, one integer tensor per axis (not
    differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.nonzero(cnp.array([0.0, 3.0, 4.0]))
    (tensor([1, 2]),)
    """
    x = tensor(a)
    if x.ndim == 0:
        raise ValueError(
            "nonzero: calling nonzero on 0d arrays is not allowed; use "
            "atleast_1d(scalar).nonzero() instead"
        )
    places = apply(R.argwhere, (x,))
    return tuple(places[:, i] for i in range(x.ndim))


def argwhere(a: Any) -> Tensor:
    """The indices of the non-zero elements as rows (integer: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.argwhere(cnp.array([[0.0, 1.0], [2.0, 0.0]]))
    tensor([[0, 1],
            [1, 0]])
    """
    return apply(R.argwhere, (tensor(a),))


def flatnonzero(a: Any) -> Tensor:
    """The indices of the non-zero elements of the flattened input (not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.flatnonzero(cnp.array([[0.0, 1.0], [2.0, 0.0]]))
    tensor([1, 2])
    """
    return nonzero(ops.reshape(tensor(a), -1))[0]


def select(condlist: Any, choicelist: Any, default: Any = 0) -> Tensor:
    """For each element, the first choice whose condition holds (else ``default``): nested
    ``where``s, so the gradient goes to the chosen values.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([-1.0, 0.5, 2.0])
    >>> cnp.select([x < 0, x < 1], [-x, x * 10], default=x)
    tensor([1., 5., 2.])
    """
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError("select: list of cases must be same length as list of conditions")
    if not condlist:
        raise ValueError("select: select with an empty condition list is not possible")
    result = default
    for i in range(len(condlist) - 1, -1, -1):
        cond = condlist[i]
        dtype = cond.dtype if isinstance(cond, Tensor) else np.asarray(cond).dtype
        if dtype.kind != "b":
            raise TypeError(f"select: invalid entry {i} in condlist: should be boolean")
        result = where(cond, choicelist[i], result)
    return result if isinstance(result, Tensor) else tensor(result)


def piecewise(x: Any, condlist: Any, funclist: Any, *args: Any, **kw: Any) -> Tensor:
    """``funclist[k]`` applied where ``condlist[k]`` holds, zeros (in x's dtype) elsewhere,
    later conditions overriding earlier ones; one function more than conditions is the
    "otherwise" function, for where none holds (NumPy's rules). Each function is called
    on the elements its condition selects (``x[cond]``, 1-d) and the results are written
    there: the gradient goes through each function on its own elements; a constant in
    ``funclist`` has derivative 0 in x (and, if a Tensor, gets the gradient of its places).

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([-2.0, 0.5, 3.0], requires_grad=True)
    >>> y = cnp.piecewise(x, [x < 0, x > 1], [lambda v: v * v, lambda v: 2 * v, 0.25])
    >>> y
    tensor([4.  , 0.25, 6.  ], grad_fn=<where>)
    >>> y.sum().backward()
    >>> x.grad
    tensor([-4.,  0.,  2.])
    """
    t = tensor(x)
    funcs = list(funclist)
    # NumPy's reading of condlist: one condition (a bool, or one mask for an x of at least
    # one dimension) is a list of one; a Tensor counts as the array it holds
    scalar = np.isscalar(condlist) or (isinstance(condlist, Tensor) and condlist.ndim == 0)
    if scalar or (t.ndim != 0 and not _array_like(condlist[0])):
        condlist = [condlist]
    masks = []
    for k, c in enumerate(condlist):
        m = c if isinstance(c, Tensor) else np.asarray(c, dtype=bool)
        if m.dtype != np.bool_:
            m = m.astype(bool)
        if m.shape != t.shape:
            if m.ndim or t.ndim:
                raise IndexError(
                    f"piecewise: condition {k} has shape {m.shape}, but x has shape {t.shape}"
                )
        masks.append(m)
    n = len(masks)
    if n == len(funcs) - 1:
        held = masks[0]
        for m in masks[1:]:
            held = held | m
        masks.append(~held)
    elif n != len(funcs):
        raise ValueError(
            f"piecewise: with {n} condition(s), either {n} or {n + 1} functions are expected"
        )
    y = _zeros_like(t)
    for mask, func in zip(masks, funcs):
        if not callable(func):
            y = ops.where(mask, cast_to(func, t.dtype), y)
            continue
        # the selected elements in order, by position (no boolean indexing: cr.jit can
        # compile the positions' data-dependent length)
        places = mask_positions(mask)
        if places.shape[0] == 0 and not _is_traced(places, strict=False):
            # NumPy calls no function on no elements; a trace (cr.jit, cr.vmap) calls it
            # on none, so that its program holds where the piece selects some
            continue
        out = tensor(func(ops.getitem(ops.reshape(t, -1), places), *args, **kw))
        if out.dtype != t.dtype:
            out = out.astype(t.dtype)
        y = ops.reshape(ops.index_put(ops.reshape(y, -1), places, out), t.shape)
    return y


def mask_positions(mask: Any) -> Any:
    """The flat positions where a boolean mask holds: a traced integer Tensor for a Tensor
    mask (``x[positions]`` rather than ``x[mask]``, which cr.jit refuses), an ndarray
    otherwise."""
    if isinstance(mask, Tensor):
        return flatnonzero(mask)
    return np.flatnonzero(mask)


def _array_like(c: Any) -> bool:
    return isinstance(c, (list, np.ndarray)) or (isinstance(c, Tensor) and c.ndim > 0)


def _zeros_like(t: Tensor) -> Tensor:
    from ..tensor import _wrap

    return _wrap(np.zeros(t.shape, dtype=t.dtype))


def cast_to(value: Any, dtype: Any) -> Any:
    if isinstance(value, Tensor):
        return value if value.dtype == dtype else value.astype(dtype)
    return np.asarray(value).astype(dtype)


# --------------------------------------------------------------------------- gathers


def take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Any:
    """Elements at ``indices`` along ``axis`` (None: of the flattened input); ``mode``
    "wrap" or "clip" brings indices into range. The gradient adds up at repeated indices.

    >>> import chainrule.numpy as cnp
    >>> cnp.take(cnp.array([[1.0, 2.0], [3.0, 4.0]]), [0, 0], axis=1)
    tensor([[1., 1.],
            [3., 3.]])
    """
    x, ax = _flat_or_axis("take", tensor(a), axis)
    idx = indices if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"take: indices must be integers, got dtype {idx.dtype}")
    n = x.shape[ax]
    if mode == "wrap":
        idx = idx % n
    elif mode == "clip":
        idx = ops.clip(idx, 0, n - 1) if isinstance(idx, Tensor) else np.clip(idx, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if isinstance(idx, np.ndarray) and idx.ndim == 0:
        idx = int(idx)
    return finish("take", ops.getitem(x, _along(ax, idx)), out)


def choose(a: Any, choices: Any, out: Any = None, mode: str = "raise") -> Any:
    """For each position, the value of the choice that the integer ``a`` names there
    (``a`` and the choices broadcast; ``mode`` "wrap" or "clip" brings ``a`` into range):
    a gather from the stacked choices, so the gradient goes to the chosen values.

    >>> import chainrule.numpy as cnp
    >>> cnp.choose(cnp.array([0, 1, 0]), [cnp.array([1.0, 2.0, 3.0]), -1.0])
    tensor([ 1., -1.,  3.])
    """
    idx = a if isinstance(a, Tensor) else np.asarray(a)
    if idx.dtype.kind not in "iub":
        raise TypeError(f"choose: a must be integers, got dtype {idx.dtype}")
    options = list(choices) if not isinstance(choices, Tensor) else list(choices)
    if not options:
        raise ValueError("choose: needs at least one choice")
    n = len(options)
    if mode == "wrap":
        idx = idx % n
    elif mode == "clip":
        idx = ops.clip(idx, 0, n - 1) if isinstance(idx, Tensor) else np.clip(idx, 0, n - 1)
    elif mode == "raise":
        values = np.asarray(idx._data if isinstance(idx, Tensor) else idx)
        if values.size and (values.min() < 0 or values.max() >= n):
            raise ValueError("choose: invalid entry in choice array")
    else:
        raise ValueError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    from .shapes import broadcast_arrays

    parts = broadcast_arrays(tensor(idx), *[tensor(c) for c in options])
    where, picked = parts[0], parts[1:]
    # NumPy's promotion of the choices (a Python number stays weakly typed)
    dtype = np.result_type(
        *(c.dtype if isinstance(c, (Tensor, np.ndarray)) else c for c in options)
    )
    stacked = ops.stack([p.astype(dtype) if p.dtype != dtype else p for p in picked], 0)
    index = ops.reshape(integer_cast(where, np.intp), (1,) + where.shape)
    return finish("choose", ops.reshape(ops.take_along_axis(stacked, index, 0), where.shape), out)


def take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Tensor:
    """Pick values along ``axis`` at ``indices`` (of ``arr``'s dimensions); the gradient
    scatters back, adding up at repeated indices.

    >>> import chainrule.numpy as cnp
    >>> cnp.take_along_axis(cnp.array([[1.0, 2.0], [3.0, 4.0]]), [[1], [0]], axis=1)
    tensor([[2.],
            [3.]])
    """
    x = tensor(arr)
    idx = indices if isinstance(indices, Tensor) else np.asarray(indices)
    if axis is None:
        x, axis = ops.reshape(x, -1), 0
    return ops.take_along_axis(x, idx, normalize_axis("take_along_axis", axis, x.shape))


def compress(condition: Any, a: Any, axis: Any = None, out: Any = None) -> Any:
    """The slices along ``axis`` where ``condition`` (1-D boolean) holds.

    >>> import chainrule.numpy as cnp
    >>> cnp.compress([True, False, True], cnp.array([1.0, 2.0, 3.0]))
    tensor([1., 3.])
    """
    x, ax = _flat_or_axis("compress", tensor(a), axis)
    if isinstance(condition, Tensor) and condition.shape == (x.shape[ax],):
        return finish("compress", ops.getitem(x, _along(ax, condition)), out)
    cond = np.asarray(condition, dtype=bool).reshape(-1)
    if cond.size > x.shape[ax]:
        raise IndexError(
            f"compress: condition of length {cond.size} is longer than axis {ax} of shape {x.shape}"
        )
    return finish("compress", ops.getitem(x, _along(ax, np.flatnonzero(cond))), out)


def extract(condition: Any, arr: Any) -> Tensor:
    """The elements of ``arr`` where ``condition`` holds, flattened.

    >>> import chainrule.numpy as cnp
    >>> cnp.extract([[True, False], [False, True]], cnp.array([[1.0, 2.0], [3.0, 4.0]]))
    tensor([1., 4.])
    """
    flat = condition.reshape(-1) if isinstance(condition, Tensor) else np.ravel(condition)
    return compress(flat, ops.reshape(tensor(arr), -1))


# --------------------------------------------------------------------------- diagonals


def _diagonal_index(n1: int, n2: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    if offset >= 0:
        k = max(min(n1, n2 - offset), 0)
        rows = np.arange(k)
        return rows, rows + offset
    k = max(min(n1 + offset, n2), 0)
    cols = np.arange(k)
    return cols - offset, cols


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The diagonal of the (axis1, axis2) planes, ``offset`` above the main one, as the last
    axis (a gather: the gradient goes back onto the diagonal).

    >>> import chainrule.numpy as cnp
    >>> cnp.diagonal(cnp.array([[1.0, 2.0], [3.0, 4.0]]))
    tensor([1., 4.])
    """
    x = tensor(a)
    if x.ndim < 2:
        raise ValueError("diagonal: diag requires an array of at least two dimensions")
    i = normalize_axis("diagonal", axis1, x.shape)
    j = normalize_axis("diagonal", axis2, x.shape)
    if i == j:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    rest = [k for k in range(x.ndim) if k not in (i, j)]
    order = tuple(rest) + (i, j)
    moved = ops.transpose(x, order) if order != tuple(range(x.ndim)) else x
    rows, cols = _diagonal_index(x.shape[i], x.shape[j], int(offset))
    return ops.getitem(moved, (Ellipsis, rows, cols))


def trace(
    a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None
) -> Any:
    """The sum along a diagonal (of each plane for stacks); the gradient is the upstream
    gradient placed on that diagonal.

    >>> import chainrule.numpy as cnp
    >>> cnp.trace(cnp.array([[1.0, 2.0], [3.0, 4.0]]))
    tensor(5.)
    """
    d = diagonal(a, offset, axis1, axis2)
    if dtype is not None:
        d = d.astype(dtype)
    return finish("trace", ops.sum(d, axis=-1), out)


def diag(v: Any, k: int = 0) -> Tensor:
    """From a 1-D input, the square matrix with it on diagonal ``k`` (a scatter); from a 2-D
    input, its diagonal ``k`` (a gather).

    >>> import chainrule.numpy as cnp
    >>> cnp.diag(cnp.array([1.0, 2.0]))
    tensor([[1., 0.],
            [0., 2.]])
    """
    x = tensor(v)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ValueError(f"diag: input must be 1- or 2-d, got shape {x.shape}")
    n = x.shape[0] + abs(int(k))
    rows = np.arange(x.shape[0]) + max(-int(k), 0)
    cols = np.arange(x.shape[0]) + max(int(k), 0)
    return apply(P.index_add, (x,), {"index": (rows, cols), "shape": (n, n)})


def diagflat(v: Any, k: int = 0) -> Tensor:
    """``diag`` of the flattened input.

    >>> import chainrule.numpy as cnp
    >>> cnp.diagflat(cnp.array([[1.0, 2.0]])).shape
    (2, 2)
    """
    return diag(ops.reshape(tensor(v), -1), k)


def _triangle(name: str, m: Any, mask_of: Any) -> Tensor:
    x = tensor(m)
    if x.ndim == 0:
        raise ValueError(f"{name}: input must be at least 1-d")
    rows, cols = (x.shape[-2], x.shape[-1]) if x.ndim >= 2 else (x.shape[-1], x.shape[-1])
    return ops.where(mask_of(rows, cols), x, 0)


def tril(m: Any, k: int = 0) -> Tensor:
    """The lower triangle (on and below diagonal ``k``) of the last two axes, zeros above;
    the gradient passes only inside the triangle.

    >>> import chainrule.numpy as cnp
    >>> cnp.tril(cnp.ones((2, 2)))
    tensor([[1., 0.],
            [1., 1.]])
    """
    return _triangle("tril", m, lambda r, c: np.tri(r, c, k, dtype=bool))


def triu(m: Any, k: int = 0) -> Tensor:
    """The upper triangle (on and above diagonal ``k``), zeros below.

    >>> import chainrule.numpy as cnp
    >>> cnp.triu(cnp.ones((2, 2)))
    tensor([[1., 1.],
            [0., 1.]])
    """
    return _triangle("triu", m, lambda r, c: ~np.tri(r, c, k - 1, dtype=bool))


# --------------------------------------------------------------------------- ordering


def argsort(
    a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None
) -> Tensor:
    """The indices that sort along ``axis`` (integer: not differentiable; a traced program
    recomputes them).

    >>> import chainrule.numpy as cnp
    >>> cnp.argsort(cnp.array([3.0, 1.0, 2.0]))
    tensor([1, 2, 0])
    """
    if order is not None:
        raise TypeError("argsort: order= (structured arrays) is not supported on chainrule Tensors")
    x, ax = _flat_or_axis("argsort", tensor(a), axis)
    if stable:
        kind = "stable"
    return apply(R.argsort, (x,), {"axis": ax, "kind": kind})


def sort(
    a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None
) -> Tensor:
    """The values sorted along ``axis`` (None: flattened). The gradient goes back through
    the sorting permutation. Ties: a stable sort decides, so tied values keep their order
    and each gets the gradient of the place it was sorted to.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([3.0, 1.0, 2.0], requires_grad=True)
    >>> (cnp.sort(x) * cnp.array([1.0, 2.0, 3.0])).sum().backward()
    >>> x.grad
    tensor([3., 1., 2.])
    """
    if order is not None:
        raise TypeError("sort: order= (structured arrays) is not supported on chainrule Tensors")
    x, ax = _flat_or_axis("sort", tensor(a), axis)
    index = apply(R.argsort, (x,), {"axis": ax, "kind": "stable"})
    return ops.take_along_axis(x, index, ax)


def _kth(kth: Any) -> Any:
    if isinstance(kth, (int, np.integer)):
        return int(kth)
    return tuple(int(k) for k in kth)


def argpartition(
    a: Any, kth: Any, axis: Any = -1, kind: str = "introselect", order: Any = None
) -> Tensor:
    """Indices that partition along ``axis`` around the ``kth`` element(s) (not
    differentiable).

    >>> import chainrule.numpy as cnp
    >>> int(cnp.argpartition(cnp.array([3.0, 1.0, 2.0]), 0)[0])
    1
    """
    if order is not None:
        raise TypeError("argpartition: order= is not supported on chainrule Tensors")
    x, ax = _flat_or_axis("argpartition", tensor(a), axis)
    return apply(R.argpartition, (x,), {"kth": _kth(kth), "axis": ax})


def partition(
    a: Any, kth: Any, axis: Any = -1, kind: str = "introselect", order: Any = None
) -> Tensor:
    """The values rearranged so the ``kth`` element is in its sorted place, smaller ones
    before and larger ones after (NumPy's arrangement); the gradient goes back through
    that permutation.

    >>> import chainrule.numpy as cnp
    >>> cnp.partition(cnp.array([3.0, 1.0, 2.0]), 1)[1]
    tensor(2.)
    """
    if order is not None:
        raise TypeError("partition: order= is not supported on chainrule Tensors")
    x, ax = _flat_or_axis("partition", tensor(a), axis)
    index = apply(R.argpartition, (x,), {"kth": _kth(kth), "axis": ax})
    return ops.take_along_axis(x, index, ax)


def lexsort(keys: Any, axis: int = -1) -> Tensor:
    """The indices that sort by several keys along ``axis``, the last key first (ties
    broken by the one before, and so on): stable sorts by each key in turn, from the
    first key to the last (integer: not differentiable; a traced program recomputes it).

    >>> import chainrule.numpy as cnp
    >>> surnames = cnp.array([2.0, 1.0, 2.0, 1.0])
    >>> first = cnp.array([0.5, 3.0, 0.1, 2.0])
    >>> cnp.lexsort((first, surnames))
    tensor([3, 1, 2, 0])
    """
    if isinstance(keys, (Tensor, np.ndarray)):
        k = tensor(keys)
        if k.ndim == 0:
            raise TypeError("lexsort: need sequence of keys with len > 0")
        parts = [k[i] for i in range(k.shape[0])]
    else:
        parts = [tensor(k) for k in keys]
    if not parts:
        raise TypeError("lexsort: need sequence of keys with len > 0")
    shapes = {p.shape for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"lexsort: all keys need to be the same shape, got {sorted(shapes)}")
    if parts[0].ndim == 0:
        from ..tensor import _wrap

        return _wrap(np.intp(0))
    ax = normalize_axis("lexsort", axis, parts[0].shape)
    index = apply(R.argsort, (parts[0],), {"axis": ax, "kind": "stable"})
    for key in parts[1:]:
        ranked = ops.take_along_axis(key, index, ax)
        order = apply(R.argsort, (ranked,), {"axis": ax, "kind": "stable"})
        index = ops.take_along_axis(index, order, ax)
    return index


def sort_complex(a: Any) -> Tensor:
    """The values sorted along the last axis (real part first, then imaginary part), as
    complex (complex64 for small integer types, else complex128, complex input as it is);
    differentiable as ``sort``.

    >>> import chainrule.numpy as cnp
    >>> cnp.sort_complex(cnp.array([3.0, 1.0, 2.0]))
    tensor([1.+0.j, 2.+0.j, 3.+0.j], dtype=complex128)
    """
    x = tensor(a)
    b = sort(x) if x.ndim else x
    if b.dtype.kind == "c":
        return b
    if b.dtype.char in "bhBH":
        return b.astype(np.complex64)
    if b.dtype.char == "g":
        return b.astype(np.clongdouble)
    return b.astype(np.complex128)


# --------------------------------------------------------------------------- sorted positions


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Tensor:
    """Indices where ``v``'s values would be inserted into the sorted 1-d ``a`` to keep it
    sorted (integer: not differentiable; a traced program recomputes them).

    >>> import chainrule.numpy as cnp
    >>> cnp.searchsorted(cnp.array([1.0, 2.0, 3.0]), cnp.array([2.0, 0.5]), side="right")
    tensor([2, 0])
    """
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    x = tensor(a)
    if x.ndim != 1:
        raise ValueError(f"searchsorted: a must be 1-d, got shape {x.shape}")
    if sorter is not None:
        x = take(x, sorter)
    return apply(R.searchsorted, (x, tensor(v)), {"side": side})


def interp(
    x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None
) -> Tensor:
    """The piecewise-linear interpolant through (``xp``, ``fp``) at ``x`` (``xp``
    increasing), ``left``/``right`` outside (default ``fp[0]``/``fp[-1]``), in float64 or
    complex128 as NumPy computes it. Differentiable in ``x`` (the slope of the segment; at a
    knot, the segment to its right; 0 outside), in ``fp`` and ``xp`` (through the segment's
    end points) and in ``left``/``right``.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([0.5, 2.5], requires_grad=True)
    >>> y = cnp.interp(x, [0.0, 1.0, 3.0], [0.0, 2.0, 3.0])
    >>> y
    tensor([1.  , 2.75], grad_fn=<where>)
    >>> y.sum().backward()
    >>> x.grad
    tensor([2. , 0.5])
    """
    if period is not None:
        raise TypeError("interp: period= is not supported on chainrule Tensors")
    xs, knots, values = tensor(x), tensor(xp), tensor(fp)
    if knots.ndim != 1 or values.ndim != 1:
        raise ValueError(
            f"interp: xp and fp must be 1-d, got shapes {knots.shape} and {values.shape}"
        )
    if knots.shape != values.shape:
        raise ValueError(
            f"interp: fp and xp are not of the same length ({values.shape[0]} and {knots.shape[0]})"
        )
    if knots.shape[0] == 0:
        raise ValueError("interp: array of sample points is empty")
    if xs.dtype.kind == "c" or knots.dtype.kind == "c":
        raise TypeError("interp: x and xp must be real (fp may be complex)")
    wide = np.complex128 if values.dtype.kind == "c" else np.float64
    xs, knots, values = xs.astype(np.float64), knots.astype(np.float64), values.astype(wide)
    n = knots.shape[0]
    lo_value = values[0] if left is None else tensor(left).astype(wide)
    hi_value = values[-1] if right is None else tensor(right).astype(wide)
    if n == 1:
        inside = ops.broadcast_to(values[0], xs.shape)
    else:
        # the segment [xp[j], xp[j + 1]] holding x (the one to the right at a knot)
        j = ops.clip(apply(R.searchsorted, (knots, xs), {"side": "right"}) - 1, 0, n - 2)
        x0, x1 = ops.getitem(knots, j), ops.getitem(knots, j + 1)
        y0, y1 = ops.getitem(values, j), ops.getitem(values, j + 1)
        slope = (y1 - y0) / (x1 - x0)
        inside = slope * (xs - x0) + y0
        # NumPy returns fp[-1] itself at x == xp[-1] (not the last segment's end value)
        inside = ops.where(xs == knots[-1], values[-1], inside)
    out = ops.where(xs < knots[0], lo_value, inside)
    return ops.where(xs > knots[-1], hi_value, out)
