"""Tensor contractions with NumPy's names and semantics: einsum (every subscript form NumPy
accepts), tensordot, inner, outer, kron and cross, differentiable in both modes.

``einsum`` parses the subscripts once per (subscripts, shapes), expands ``...`` and NumPy's
size-1 broadcasting into explicit labels, and applies one ``einsum`` primitive that runs
the contraction order ``np.einsum(optimize=True)`` would choose (``rules_linalg``).
"""

from __future__ import annotations

import builtins
import operator
import warnings
from typing import Any

import numpy as np

from . import ops
from . import rules as P
from . import rules_linalg as L
from .tensor import Tensor, apply, as_tensor

__all__ = ["NUMPY_FUNCTIONS", "cross", "einsum", "inner", "kron", "outer", "tensordot"]

outer = ops.outer


def _as(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


# --------------------------------------------------------------------------- einsum parsing

_PARSED: dict = {}


def _sublist_to_str(sub: Any, op: str, position: str) -> str:
    out = []
    for s in sub:
        if s is Ellipsis:
            out.append("...")
            continue
        try:
            s = operator.index(s)
        except TypeError:
            raise TypeError(
                f"{op}: {position} sublist entries must be ints or Ellipsis, got {s!r}"
            ) from None
        if not 0 <= s < len(L.SYMBOLS):
            raise ValueError(f"{op}: subscript {s} in the {position} is not in [0, 52)")
        out.append(L.SYMBOLS[s])
    return "".join(out)


def _interleaved(args: tuple) -> tuple[str, list]:
    """np.einsum(op0, sublist0, op1, sublist1, ..., [sublistout]) as a subscripts string."""
    operands = list(args[0::2])
    subs = list(args[1::2])
    output = None
    if len(args) % 2 == 1:  # a trailing output sublist
        output = operands.pop()
    text = ",".join(_sublist_to_str(s, "einsum", f"operand {i}'s") for i, s in enumerate(subs))
    if output is not None:
        text += "->" + _sublist_to_str(output, "einsum", "output")
    return text, operands


def _parse(subscripts: str, shapes: tuple) -> tuple:
    """(input labels, output labels, sizes, axes to squeeze per operand) for NumPy's
    subscripts at these shapes: ``...`` becomes fresh labels (aligned right, broadcast),
    and an axis of size 1 against a larger size of its label is squeezed (it broadcasts)."""
    text = subscripts.replace(" ", "")
    n = len(shapes)
    if set(text) - set(L.SYMBOLS) - set(",.->"):
        bad = sorted(set(text) - set(L.SYMBOLS) - set(",.->"))
        raise ValueError(
            f"einsum: invalid subscript character(s) {''.join(bad)!r} in {subscripts!r}"
        )
    if text.count("->") > 1 or ("-" in text.replace("->", "")) or (">" in text.replace("->", "")):
        raise ValueError(f"einsum: subscripts {subscripts!r} must have at most one '->'")
    explicit = "->" in text
    lhs, out = text.split("->") if explicit else (text, None)
    ins = lhs.split(",")
    if len(ins) != n:
        raise ValueError(
            f"einsum: subscripts {subscripts!r} name {len(ins)} operand(s), but {n} were given"
        )
    if out is not None and "," in out:
        raise ValueError(f"einsum: the output subscripts of {subscripts!r} cannot hold ','")

    def split_ellipsis(s: str, where: str) -> tuple[str, str] | tuple[str, None]:
        if "." not in s:
            return s, None
        if s.count("...") != 1 or s.replace("...", "").count("."):
            raise ValueError(f"einsum: {where} {s!r} has a '.' that is not part of one '...'")
        left, right = s.split("...")
        return left, right

    parts = []
    used = set(text) & set(L.SYMBOLS)
    ell_ndims = []
    for i, (s, shape) in enumerate(zip(ins, shapes)):
        left, right = split_ellipsis(s, f"operand {i}'s subscripts")
        nd = len(shape)
        if right is None:
            if len(left) != nd:
                raise ValueError(
                    f"einsum: operand {i} has {nd} dimension(s) (shape {shape}) but its "
                    f"subscripts {s!r} name {len(left)}"
                )
            parts.append((left, None))
            ell_ndims.append(0)
        else:
            ne = nd - len(left) - len(right)
            if ne < 0:
                raise ValueError(
                    f"einsum: operand {i} has {nd} dimension(s) (shape {shape}), fewer than "
                    f"its subscripts {s!r} name"
                )
            parts.append((left, right))
            ell_ndims.append(ne)
    n_ell = builtins.max(ell_ndims, default=0)
    fresh = [c for c in L.SYMBOLS if c not in used]
    if n_ell > len(fresh):
        raise ValueError(f"einsum: {subscripts!r} needs more than NumPy's 52 labels")
    ell = "".join(fresh[:n_ell])
    labels = []
    for (left, right), ne in zip(parts, ell_ndims):
        labels.append(left if right is None else left + ell[n_ell - ne :] + right)
    if out is None:
        counts: dict[str, int] = {}
        for s in labels:
            for c in s:
                if c not in ell:
                    counts[c] = counts.get(c, 0) + 1
        out_labels = ell + "".join(sorted(c for c, k in counts.items() if k == 1))
    else:
        left, right = split_ellipsis(out, "the output subscripts")
        if right is None:
            if any(ne for ne in ell_ndims):
                raise ValueError(
                    f"einsum: the inputs of {subscripts!r} have '...' dimensions but the "
                    f"output does not say where they go (add '...' to the output)"
                )
            out_labels = left
        else:
            out_labels = left + ell + right
    if len(set(out_labels)) != len(out_labels):
        raise ValueError(f"einsum: output subscripts of {subscripts!r} repeat a label")
    # a label's size: the same in every operand, or 1 there (it broadcasts, as in NumPy)
    sizes: dict[str, int] = {}
    where: dict[str, int] = {}
    for i, (s, shape) in enumerate(zip(labels, shapes)):
        mine: dict[str, int] = {}
        for c, d in zip(s, shape):
            if mine.get(c, d) != d:
                raise ValueError(
                    f"einsum: operand {i} (shape {shape}) repeats label {c!r} on axes of "
                    f"sizes {mine[c]} and {d}"
                )
            mine[c] = d
            if c not in sizes or (sizes[c] == 1 and d != 1):
                sizes[c], where[c] = d, i
            elif d not in (1, sizes[c]):
                raise ValueError(
                    f"einsum: label {c!r} has size {sizes[c]} in operand {where[c]} "
                    f"(shape {shapes[where[c]]}) but size {d} in operand {i} (shape {shape})"
                )
    for c in out_labels:
        if c not in sizes:
            raise ValueError(
                f"einsum: output label {c!r} of {subscripts!r} does not appear in the inputs"
            )
    squeeze = []
    final = []
    for s, shape in zip(labels, shapes):
        drop = tuple(k for k, (c, d) in enumerate(zip(s, shape)) if d == 1 and sizes[c] != 1)
        squeeze.append(drop)
        final.append("".join(c for k, c in enumerate(s) if k not in drop))
    return tuple(final), out_labels, tuple(squeeze)


def _path_option(optimize: Any) -> Any:
    if optimize is True or optimize is False or optimize is None or optimize == "greedy":
        return "greedy"
    if optimize == "optimal":
        return "optimal"
    if isinstance(optimize, (list, tuple)) and optimize and optimize[0] == "einsum_path":
        return tuple(tuple(int(i) for i in step) for step in optimize[1:])
    raise ValueError(
        f"einsum: optimize must be True, False, 'greedy', 'optimal' or a path from "
        f"np.einsum_path, got {optimize!r}"
    )


def einsum(
    *operands: Any,
    out: Any = None,
    optimize: Any = True,
    dtype: Any = None,
    order: str = "K",
    casting: str = "safe",
) -> Tensor:
    """Einstein summation with NumPy's subscripts: explicit (``"ij,jk->ik"``) and implicit
    (``"ij,jk"``) output, ``...`` broadcasting, repeated labels for diagonals and traces
    (``"ii->i"``, ``"ii"``), an empty output (``"i,i->"``) and the interleaved form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``. The contraction order is the one
    ``np.einsum(optimize=True)`` chooses (``optimize="optimal"`` or a path from
    ``np.einsum_path`` are honoured; ``optimize=False`` gives the same values). Each
    operand's gradient is another einsum.

    Parameters
    ----------
    *operands:
        The subscripts string followed by the operands, or the interleaved form.
    out:
        Not supported (results are new tensors); must be None.
    optimize:
        The contraction order (see above).
    dtype:
        Cast the operands to this dtype first (``casting`` as NumPy checks it).
    order:
        Accepted for NumPy compatibility (memory layout does not change values).

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> cr.einsum("ii", a)
    tensor(5., grad_fn=<einsum>)
    >>> cr.einsum("ij,jk->ik", a, a).sum().backward()
    >>> a.grad
    tensor([[ 7., 11.],
            [ 9., 13.]])
    """
    if out is not None:
        raise TypeError("einsum: out= is not supported for tensors (the result is a new tensor)")
    if not operands:
        raise TypeError("einsum: needs the subscripts and at least one operand")
    if type(operands[0]) is str:
        subscripts, args = operands[0], operands[1:]
    else:
        subscripts, args = _interleaved(operands)
    if not args:
        raise ValueError("einsum: needs at least one operand")
    tensors = [a if type(a) is Tensor else _as(a) for a in args]
    if dtype is not None or order != "K":
        tensors = _cast(tensors, dtype, order, casting)
    path = "greedy" if optimize is True or optimize is False else _path_option(optimize)
    key = (subscripts, path, *[t._data.shape for t in tensors])
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = _prepare(subscripts, tuple(t._data.shape for t in tensors), path, key)
    spec, plan, squeeze, direct = parsed
    if direct:  # exactly one matrix product: the core's matmul primitive (cheaper rules)
        return apply(P.matmul, (tensors[0], tensors[1]))
    if squeeze is not None:
        for i, shape in squeeze:
            tensors[i] = ops.reshape(tensors[i], shape)
    return apply(L.einsum, tuple(tensors), {"spec": spec, "plan": plan})


def _cast(tensors: list, dtype: Any, order: str, casting: str) -> list:
    if order not in ("K", "A", "C", "F"):
        raise ValueError(f"einsum: order must be one of 'K', 'A', 'C', 'F', got {order!r}")
    if dtype is None:
        return tensors
    dtype = np.dtype(dtype)
    for i, t in enumerate(tensors):
        if not np.can_cast(t.dtype, dtype, casting=casting):
            raise TypeError(
                f"einsum: cannot cast operand {i} from {t.dtype} to {dtype} under "
                f"casting={casting!r}"
            )
    return [t if t.dtype == dtype else t.astype(dtype) for t in tensors]


def _prepare(subscripts: str, shapes: tuple, path: Any, key: tuple) -> tuple:
    """Parse and plan once per (subscripts, path, shapes): (spec, plan, squeezes, whether
    it is one plain matrix product)."""
    ins, outs, squeeze = _parse(subscripts, shapes)
    squeezed = tuple(
        tuple(d for k, d in enumerate(shape) if k not in drop)
        for shape, drop in zip(shapes, squeeze)
    )
    plan = L.einsum_plan(ins, outs, squeezed, path)
    reshapes = tuple((i, squeezed[i]) for i, drop in enumerate(squeeze) if drop)
    # a plan that is one matmul of the operands as they are ((m, k) @ (k, n), a stack of
    # them, or a matrix and a vector) is the matmul primitive itself
    direct = len(ins) == 2 and not reshapes and plan == (("m", (0, 1)) + (None,) * 6,)
    parsed = (",".join(ins) + "->" + outs, plan, reshapes or None, direct)
    if len(_PARSED) > 4096:
        _PARSED.clear()
    _PARSED[key] = parsed
    return parsed


# --------------------------------------------------------------------------- tensordot & co


def _axes_list(op: str, axes: Any, name: str) -> tuple:
    if isinstance(axes, (int, np.integer)):
        return (int(axes),)
    try:
        return tuple(operator.index(a) for a in axes)
    except TypeError:
        raise TypeError(
            f"{op}: {name} must be an int or a sequence of ints, got {axes!r}"
        ) from None


def tensordot(a: Any, b: Any, axes: Any = 2) -> Tensor:
    """Sum products over ``axes``: an int N (a's last N axes with b's first N) or a pair
    of axis lists, as ``np.tensordot``; the result has a's free axes, then b's.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tensordot(cr.ones(2, 3, 4), cr.ones(3, 4, 5)).shape
    (2, 5)
    >>> cr.tensordot(cr.ones(2, 3), cr.ones(2, 3), axes=([0, 1], [0, 1]))
    tensor(6.)
    """
    a = a if type(a) is Tensor else _as(a)
    b = b if type(b) is Tensor else _as(b)
    try:  # (the checked spec and plan, cached per shapes and axes: no per-call parsing)
        key = (a._data.shape, b._data.shape, axes if type(axes) is int else _axes_key(axes))
        params = _TENSORDOT.get(key)
    except TypeError:  # unhashable or malformed axes: the checks below name the problem
        key, params = None, None
    if params is not None:
        return apply(L.einsum, (a, b), params)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ValueError(
                f"tensordot: axes={n} is out of range for shapes {a.shape} and {b.shape}"
            )
        ax_a, ax_b = tuple(range(a.ndim - n, a.ndim)), tuple(range(n))
    else:
        try:
            first, second = axes
        except (TypeError, ValueError):
            raise TypeError(
                f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}"
            ) from None
        ax_a, ax_b = (
            _axes_list("tensordot", first, "axes[0]"),
            _axes_list("tensordot", second, "axes[1]"),
        )
        if len(ax_a) != len(ax_b):
            raise ValueError(
                f"tensordot: axes {axes!r} pair {len(ax_a)} axes of a with {len(ax_b)} of b"
            )
    for ax, t, name in ((ax_a, a, "a"), (ax_b, b, "b")):
        for k in ax:
            if not -t.ndim <= k < t.ndim:
                raise ValueError(
                    f"tensordot: axis {k} is out of range for {name} of shape {t.shape}"
                )
    ax_a = tuple(k % a.ndim for k in ax_a)
    ax_b = tuple(k % b.ndim for k in ax_b)
    if len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b):
        raise ValueError(f"tensordot: repeated axes in {axes!r}")
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(
                f"tensordot: shape mismatch: axis {i} of a (shape {a.shape}) has size "
                f"{a.shape[i]} but axis {j} of b (shape {b.shape}) has size {b.shape[j]}"
            )
    if a.ndim + b.ndim - len(ax_a) > len(L.SYMBOLS):
        raise ValueError("tensordot: too many dimensions")
    la = L.SYMBOLS[: a.ndim]
    lb = list(L.SYMBOLS[a.ndim : a.ndim + b.ndim])
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    lb = "".join(lb)
    out = "".join(c for k, c in enumerate(la) if k not in ax_a) + "".join(
        c for k, c in enumerate(lb) if k not in ax_b
    )
    params = {
        "spec": f"{la},{lb}->{out}",
        "plan": L.einsum_plan((la, lb), out, (a.shape, b.shape)),
    }
    if key is not None:
        if len(_TENSORDOT) > 4096:
            _TENSORDOT.clear()
        _TENSORDOT[key] = params
    return apply(L.einsum, (a, b), params)


_TENSORDOT: dict = {}


def _axes_key(axes: Any) -> tuple:
    first, second = axes
    as_tuple = lambda v: (v,) if isinstance(v, (int, np.integer)) else tuple(v)
    return (as_tuple(first), as_tuple(second))


def inner(a: Any, b: Any) -> Tensor:
    """Inner product over the last axes (``np.inner``); a 0-d operand multiplies.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.inner(cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0]))
    tensor(11.)
    >>> cr.inner(cr.ones(2, 3), cr.ones(4, 3)).shape
    (2, 4)
    """
    a, b = _as(a), _as(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"inner: the last axes of shapes {a.shape} and {b.shape} differ "
            f"({a.shape[-1]} != {b.shape[-1]})"
        )
    return tensordot(a, b, axes=([-1], [-1]))


def kron(a: Any, b: Any) -> Tensor:
    """Kronecker product (``np.kron``): blocks ``a[i, j] * b``; operands of different
    ndim get leading 1s.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.kron(cr.tensor([1.0, 10.0]), cr.tensor([1.0, 2.0, 3.0]))
    tensor([ 1.,  2.,  3., 10., 20., 30.])
    """
    a, b = _as(a), _as(b)
    nd = builtins.max(a.ndim, b.ndim)
    if nd == 0:
        return a * b
    if 2 * nd > len(L.SYMBOLS):
        raise ValueError(f"kron: too many dimensions (shapes {a.shape}, {b.shape})")
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    if sa != a.shape:
        a = ops.reshape(a, sa)
    if sb != b.shape:
        b = ops.reshape(b, sb)
    la, lb = L.SYMBOLS[:nd], L.SYMBOLS[nd : 2 * nd]
    out = "".join(x + y for x, y in zip(la, lb))
    blocks = L.einsum_apply((la, lb), out, [a, b])
    return ops.reshape(blocks, tuple(x * y for x, y in zip(sa, sb)))


def cross(
    a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None
) -> Tensor:
    """Cross product of 3-vectors (``np.cross``): the vectors lie along ``axisa`` of ``a``
    and ``axisb`` of ``b`` (``axis`` sets all three), the other axes broadcast, and the
    result's vectors lie along ``axisc``. A 2-vector is taken as having z = 0; two
    2-vectors give the z component alone (deprecated in NumPy 2.0, which warns: so does
    this).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.cross(cr.tensor([1.0, 0.0, 0.0]), cr.tensor([0.0, 1.0, 0.0]))
    tensor([0., 0., 1.])
    """
    a, b = _as(a), _as(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"cross: operands must be vectors, got shapes {a.shape} and {b.shape}")
    for t, ax, name in ((a, axisa, "axisa"), (b, axisb, "axisb")):
        if not -t.ndim <= ax < t.ndim:
            raise ValueError(f"cross: {name}={ax} is out of range for shape {t.shape}")
    a = _move_to_end(a, axisa % a.ndim)
    b = _move_to_end(b, axisb % b.ndim)
    na, nb = a.shape[-1], b.shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(
            f"cross: incompatible dimensions for cross product (dimension must be 2 or 3), "
            f"got {na} and {nb}"
        )
    try:
        np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    except ValueError:
        raise ValueError(
            f"cross: the vector stacks of shapes {a.shape[:-1]} and {b.shape[:-1]} do not broadcast"
        ) from None
    if na == 2 or nb == 2:
        warnings.warn(
            "Arrays of 2-dimensional vectors are deprecated. Use arrays of 3-dimensional "
            "vectors instead. (deprecated in NumPy 2.0)",
            DeprecationWarning,
            stacklevel=2,
        )
    if na == 2 and nb == 2:
        a0, a1 = a[..., 0], a[..., 1]
        b0, b1 = b[..., 0], b[..., 1]
        return a0 * b1 - a1 * b0
    a = _pad3(a) if na == 2 else a
    b = _pad3(b) if nb == 2 else b
    c = apply(L.cross, (a, b))
    nd = c.ndim
    if not -nd <= axisc < nd:
        raise ValueError(f"cross: axisc={axisc} is out of range for the result's {nd} axes")
    axisc %= nd
    if axisc == nd - 1:
        return c
    axes = list(range(nd - 1))
    axes.insert(axisc, nd - 1)
    return ops.transpose(c, tuple(axes))


def _move_to_end(t: Tensor, axis: int) -> Tensor:
    if axis == t.ndim - 1:
        return t
    axes = [k for k in range(t.ndim) if k != axis] + [axis]
    return ops.transpose(t, tuple(axes))


def _pad3(t: Tensor) -> Tensor:
    zeros = np.zeros(t.shape[:-1] + (1,), dtype=t.dtype)
    return ops.concatenate([t, zeros], axis=-1)


#: The NumPy functions this module implements (collected by ``Tensor.__array_function__``).
NUMPY_FUNCTIONS = {
    np.einsum: einsum,
    np.tensordot: tensordot,
    np.inner: inner,
    np.outer: outer,
    np.kron: kron,
    np.cross: cross,
}
