"""The public operations (``cr.exp``, ``cr.sum``, ``cr.matmul``, ...): argument checks
with clear errors, then a primitive application; plus the ops composed from primitives.

Every function accepts Tensors, ndarrays or Python numbers and returns a Tensor.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import rules as P
from .rules import Slot
from .tensor import Tensor, _is_traced, _unary, apply, as_tensor


def _as(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _is_number(x: Any) -> bool:
    return type(x) in (bool, int, float, complex)


def _binary(prim: Any, a: Any, b: Any) -> Tensor:
    """``prim(a, b)`` on Tensors, arrays or numbers. Python numbers stay weakly typed
    (NumPy 2's rule): ``cr.add(1.0, x32)`` is float32, as ``1.0 + x32`` is; dtypes are
    decided in one place, by the primitive's implementation on the operands as given."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        if _is_number(a) and not _is_number(b):
            b = as_tensor(b)
        else:
            a = as_tensor(a)
    return apply(prim, (a, b))


def _norm_axis(op: str, axis: Any, shape: tuple) -> Any:
    """Validate ``axis`` (None, int or tuple of ints) against ``shape``; returns it with
    negative axes kept as given (NumPy accepts them) but duplicates rejected."""
    if axis is None:
        return None
    ndim = len(shape)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    seen = set()
    for a in axes:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of shape {shape}")
        if ndim and a % ndim in seen:
            raise ValueError(f"{op}: axis {a} is repeated in {axis!r}")
        seen.add(a % ndim if ndim else a)
    if ndim == 0:
        return None
    return int(axis) if isinstance(axis, (int, np.integer)) else tuple(int(a) for a in axes)


# --------------------------------------------------------------------------- elementwise


def add(a: Any, b: Any) -> Tensor:
    """Elementwise a + b, broadcast like NumPy (gradients summed back to each shape).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.add(cr.tensor([1.0, 2.0]), 3.0)
    tensor([4., 5.])
    """
    return _binary(P.add, a, b)


def sub(a: Any, b: Any) -> Tensor:
    """Elementwise a - b, broadcast like NumPy.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.sub(cr.tensor([1.0, 2.0]), cr.tensor([0.5, 0.5]))
    tensor([0.5, 1.5])
    """
    return _binary(P.sub, a, b)


def mul(a: Any, b: Any) -> Tensor:
    """Elementwise a * b: the multiply gate swaps its inputs on the way back.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor(3.0, requires_grad=True)
    >>> y = cr.mul(x, -4.0)
    >>> y.backward()
    >>> x.grad
    tensor(-4.)
    """
    return _binary(P.mul, a, b)


def div(a: Any, b: Any) -> Tensor:
    """Elementwise a / b, broadcast like NumPy.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.div(cr.tensor([1.0, 3.0]), 2.0)
    tensor([0.5, 1.5])
    """
    return _binary(P.div, a, b)


def pow(a: Any, b: Any) -> Tensor:
    """Elementwise a ** b (differentiable in both; d/db needs a > 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> cr.pow(x, 3).backward()
    >>> x.grad
    tensor(12.)
    """
    return _binary(P.pow, a, b)


def neg(x: Any) -> Tensor:
    """Elementwise -x.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.neg(cr.tensor([1.0, -2.0]))
    tensor([-1.,  2.])
    """
    return _unary(P.neg, _as(x))


def exp(x: Any) -> Tensor:
    """Elementwise e**x.

    >>> import chainrule as cr
    >>> cr.exp(cr.tensor(0.0))
    tensor(1.)
    """
    return _unary(P.exp, _as(x))


def log(x: Any) -> Tensor:
    """Natural logarithm (x > 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.log(cr.tensor([1.0, 2.718281828459045]))
    tensor([0., 1.])
    """
    return _unary(P.log, _as(x))


def sqrt(x: Any) -> Tensor:
    """Elementwise square root (x >= 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.sqrt(cr.tensor([4.0, 9.0]))
    tensor([2., 3.])
    """
    return _unary(P.sqrt, _as(x))


def tanh(x: Any) -> Tensor:
    """Elementwise hyperbolic tangent; its derivative is 1 - tanh(x)**2.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tanh(cr.tensor([0.0]))
    tensor([0.])
    """
    return _unary(P.tanh, _as(x))


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.sigmoid(cr.tensor([0.0, 1000.0, -1000.0]))
    tensor([0.5, 1. , 0. ])
    """
    return _unary(P.sigmoid, _as(x))


def relu(x: Any) -> Tensor:
    """max(x, 0); its gradient at 0 is 0.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    >>> cr.relu(x).sum().backward()
    >>> x.grad
    tensor([0., 0., 1.])
    """
    return _unary(P.relu, _as(x))


def abs(x: Any) -> Tensor:
    """|x|; its gradient at 0 is 0.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    >>> cr.abs(x).sum().backward()
    >>> x.grad
    tensor([-1.,  0.,  1.])
    """
    return _unary(P.abs, _as(x))


def sin(x: Any) -> Tensor:
    """Elementwise sine.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.sin(cr.tensor([0.0]))
    tensor([0.])
    """
    return _unary(P.sin, _as(x))


def cos(x: Any) -> Tensor:
    """Elementwise cosine.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.cos(cr.tensor([0.0]))
    tensor([1.])
    """
    return _unary(P.cos, _as(x))


def square(x: Any) -> Tensor:
    """Elementwise x**2.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.square(cr.tensor([1.0, -3.0]))
    tensor([1., 9.])
    """
    x = _as(x)
    return _binary(P.mul, x, x)


def _bound(v: Any) -> Any:
    """A clip bound: Python numbers stay as they are (weakly typed, so float32 stays
    float32), arrays and tensors become their values (bounds are not differentiated)."""
    if v is None or _is_number(v):
        return v
    return np.asarray(v._data if isinstance(v, Tensor) else v)


def clip(x: Any, lo: Any = None, hi: Any = None) -> Tensor:
    """Limit values to [lo, hi] (either may be None); the gradient passes where
    lo <= x <= hi, bounds included.

    >>> import numpy as np, chainrule as cr
    >>> cr.clip(cr.tensor(np.array([-1.0, 0.5, 2.0], dtype=np.float32)), 0.0, 1.0)
    tensor([0. , 0.5, 1. ], dtype=float32)
    """
    x = _as(x)
    lo, hi = _bound(lo), _bound(hi)
    if lo is not None and hi is not None and np.any(np.asarray(lo) > np.asarray(hi)):
        raise ValueError(f"clip: lo must not exceed hi (got lo={lo}, hi={hi})")
    return apply(P.clip, (x,), {"lo": lo, "hi": hi})


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise larger value; the gradient goes to the larger argument, split evenly
    at ties.

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([1.0, 5.0, 2.0], requires_grad=True)
    >>> cr.maximum(a, 2.0).sum().backward()
    >>> a.grad
    tensor([0. , 1. , 0.5])
    """
    return _binary(P.maximum, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise smaller value; the gradient goes to the smaller argument, split evenly
    at ties.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.minimum(cr.tensor([1.0, 5.0]), cr.tensor([3.0, 4.0]))
    tensor([1., 4.])
    """
    return _binary(P.minimum, a, b)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcast together); not differentiable
    in ``cond``, which may be computed from the inputs (``cr.where(x > 0, x, 0)``): it is
    an input of the primitive, so a traced program recomputes it.

    >>> import chainrule as cr
    >>> x = cr.tensor([-1.0, 2.0], requires_grad=True)
    >>> cr.where(x > 0, x, 0.0)
    tensor([0., 2.], grad_fn=<where>)
    """
    if isinstance(cond, Tensor):
        c = cond if cond.dtype == bool else apply(P.not_equal, (cond, 0))
    else:
        c = np.asarray(cond)
        if c.dtype != bool:
            c = c.astype(bool)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        if _is_number(a) and not _is_number(b):
            b = as_tensor(b)
        else:
            a = as_tensor(a)
    return apply(P.where, (c, a, b))


# --------------------------------------------------------------------------- reductions


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: all axes).

    >>> import chainrule as cr
    >>> cr.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0)
    tensor([4., 6.])
    """
    x = _as(x)
    axis = _norm_axis("sum", axis, x.shape)
    return apply(P.sum, (x,), {"axis": axis, "keepdims": bool(keepdims), "shape": x.shape})


def _count(shape: tuple, axis: Any) -> int:
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis`` (None: all axes).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.mean(cr.tensor([[1.0, 2.0], [3.0, 6.0]]), axis=0)
    tensor([2., 4.])
    """
    x = _as(x)
    axis = _norm_axis("mean", axis, x.shape)
    n = _count(x.shape, axis)
    if n == 0:
        raise ValueError(f"mean: no elements to average over (shape {x.shape}, axis {axis})")
    return sum(x, axis, keepdims) / n


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis`` (``ddof=1`` for the unbiased estimate).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.var(cr.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor(1.25)
    """
    x = _as(x)
    axis = _norm_axis("var", axis, x.shape)
    n = _count(x.shape, axis)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} elements are too few for ddof={ddof}")
    centered = x - mean(x, axis, keepdims=True)
    if x.dtype.kind == "c":  # |x - m|^2, real, as NumPy's var
        squares = real(centered * conj(centered))
    else:
        squares = centered * centered
    return sum(squares, axis, keepdims) / (n - ddof)


def _reduce_extreme(prim: Any, name: str, x: Any, axis: Any, keepdims: bool) -> Tensor:
    x = _as(x)
    axis = _norm_axis(name, axis, x.shape)
    if x.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor (shape {x.shape})")
    return apply(prim, (x,), {"axis": axis, "keepdims": bool(keepdims)})


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Largest value over ``axis``; the gradient goes to the arg-max (split evenly among
    tied maxima).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 3.0, 3.0], requires_grad=True)
    >>> cr.max(x).backward()
    >>> x.grad
    tensor([0. , 0.5, 0.5])
    """
    return _reduce_extreme(P.max, "max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Smallest value over ``axis``; the gradient goes to the arg-min (split evenly among
    tied minima).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.min(cr.tensor([[1.0, -2.0], [0.5, 4.0]]), axis=1)
    tensor([-2. ,  0.5])
    """
    return _reduce_extreme(P.min, "min", x, axis, keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, computed without overflow.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.logsumexp(cr.tensor([1000.0, 1000.0]))
    tensor(1000.6931)
    """
    return _reduce_extreme(P.logsumexp, "logsumexp", x, axis, keepdims)


def _single_axis(op: str, axis: Any, shape: tuple) -> int:
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if len(shape) == 0:
        raise ValueError(f"{op}: needs at least one dimension, got a 0-d tensor")
    _norm_axis(op, axis, shape)
    return int(axis)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis`` (stable).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.softmax(cr.tensor([0.0, 0.0, 0.0, 0.0]))
    tensor([0.25, 0.25, 0.25, 0.25])
    """
    x = _as(x)
    return apply(P.softmax, (x,), {"axis": _single_axis("softmax", axis, x.shape)})


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis`` (stable).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.log_softmax(cr.tensor([0.0, 0.0]))
    tensor([-0.6931, -0.6931])
    """
    x = _as(x)
    return apply(P.log_softmax, (x,), {"axis": _single_axis("log_softmax", axis, x.shape)})


# --------------------------------------------------------------------------- shapes


def _shape_arg(op: str, shape: Sequence[Any]) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if not isinstance(s, (int, np.integer)):
            raise TypeError(f"{op}: shape entries must be ints, got {shape!r}")
        out.append(int(s))
    return tuple(out)


def reshape(x: Any, *shape: Any) -> Tensor:
    """Same data, new shape: separate ints or one tuple, with at most one -1.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.reshape(cr.arange(6.0), 2, -1).shape
    (2, 3)
    """
    x = _as(x)
    new = _shape_arg("reshape", shape)
    if builtins.sum(1 for s in new if s == -1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {new}")
    if builtins.any(s < -1 for s in new):
        raise ValueError(f"reshape: negative dimension in {new}")
    known = int(np.prod([s for s in new if s != -1], dtype=np.int64))
    if -1 in new:
        if known == 0 or x.size % known:
            raise ValueError(
                f"reshape: cannot reshape tensor of shape {x.shape} ({x.size} elements) "
                f"into shape {new}"
            )
        new = tuple(x.size // known if s == -1 else s for s in new)
    elif known != x.size:
        raise ValueError(
            f"reshape: cannot reshape tensor of shape {x.shape} ({x.size} elements) into "
            f"shape {new} ({known} elements)"
        )
    if new == x.shape:
        return x
    return apply(P.reshape, (x,), {"shape": new, "in_shape": x.shape})


def transpose(x: Any, *axes: Any) -> Tensor:
    """Permute axes (reverse them when none are given).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.transpose(cr.ones(2, 3, 4)).shape, cr.transpose(cr.ones(2, 3, 4), 1, 0, 2).shape
    ((4, 3, 2), (3, 2, 4))
    """
    x = _as(x)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        axes = tuple(range(x.ndim))[::-1]
    axes = tuple(int(a) % builtins.max(x.ndim, 1) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation for shape {x.shape}")
    if axes == tuple(range(x.ndim)):
        return x
    return apply(P.transpose, (x,), {"axes": axes})


def expand_dims(x: Any, axis: int) -> Tensor:
    """Insert a length-1 axis at ``axis``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.expand_dims(cr.ones(3), 0).shape
    (1, 3)
    """
    x = _as(x)
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"expand_dims: axis {axis} is out of range for shape {x.shape}")
    shape = list(x.shape)
    shape.insert(axis % nd, 1)
    return reshape(x, tuple(shape))


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Remove length-1 axes (all of them, or those in ``axis``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.squeeze(cr.ones(1, 3, 1)).shape
    (3,)
    """
    x = _as(x)
    if axis is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axis = _norm_axis("squeeze", axis, x.shape)
    axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {x.shape})")
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


def broadcast_to(x: Any, shape: Any) -> Tensor:
    """View ``x`` with NumPy broadcasting to ``shape``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cr.broadcast_to(x, (3, 2)).sum().backward()
    >>> x.grad
    tensor([3., 3.])
    """
    x = _as(x)
    shape = _shape_arg("broadcast_to", (shape,) if isinstance(shape, int) else tuple(shape))
    try:
        np.broadcast_shapes(x.shape, shape)
        if len(shape) < x.ndim or np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    if shape == x.shape:
        return x
    return apply(P.broadcast_to, (x,), {"shape": shape})


def concatenate(ts: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.concatenate([cr.ones(2), cr.zeros(1)])
    tensor([1., 1., 0.])
    """
    ts = [_as(t) for t in ts]
    if not ts:
        raise ValueError("concatenate: needs at least one tensor")
    nd = ts[0].ndim
    if nd == 0:
        raise ValueError("concatenate: 0-d tensors cannot be concatenated (use stack)")
    _norm_axis("concatenate", axis, ts[0].shape)
    axis = axis % nd
    for i, t in enumerate(ts):
        same = t.ndim == nd and builtins.all(
            a == b for k, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if k != axis
        )
        if not same:
            raise ValueError(
                f"concatenate: tensor {i} has shape {t.shape}, which does not match shape "
                f"{ts[0].shape} of tensor 0 outside axis {axis}"
            )
    sizes = tuple(t.shape[axis] for t in ts)
    return apply(P.concatenate, tuple(ts), {"axis": axis, "sizes": sizes})


def stack(ts: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.stack([cr.ones(2), cr.zeros(2)]).shape
    (2, 2)
    """
    ts = [_as(t) for t in ts]
    if not ts:
        raise ValueError("stack: needs at least one tensor")
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError(
                f"stack: tensor {i} has shape {t.shape}, but tensor 0 has shape {ts[0].shape}"
            )
    nd = ts[0].ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"stack: axis {axis} is out of range for {nd}-d result")
    return concatenate([expand_dims(t, axis) for t in ts], axis=axis % nd)


# --------------------------------------------------------------------------- indexing


def _index_part(p: Any, op: str, tensors: list) -> Any:
    """One part of an index: Tensors become inputs of the primitive (a ``Slot`` in the
    template), lists become arrays, everything else stays as given."""
    if isinstance(p, Tensor):
        if p.dtype.kind not in "biu":
            raise IndexError(f"{op}: index arrays must be integer or boolean, got {p.dtype}")
        tensors.append(p)
        return Slot(len(tensors) - 1)
    if isinstance(p, list):
        p = np.asarray(p)
    if isinstance(p, np.ndarray) and p.dtype.kind not in "biu":
        raise IndexError(f"{op}: index arrays must be integer or boolean, got {p.dtype}")
    return p


def index_template(index: Any, op: str = "getitem") -> tuple[Any, list]:
    """(template, index tensors) for an index: see ``rules.fill_index``."""
    tensors: list = []
    if isinstance(index, tuple):
        return tuple(_index_part(p, op, tensors) for p in index), tensors
    return _index_part(index, op, tensors), tensors


def _index_arrays(index: Any) -> Any:
    """An index with Tensors and lists replaced by ndarrays."""
    template, tensors = index_template(index)
    return P.fill_index(template, tuple(t._data for t in tensors))


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with ints, slices, None, ..., integer arrays and boolean masks; the
    gradient scatters back (repeated indices accumulate). Index arrays that are Tensors
    (``x[x.argmax()]``, ``x[x > 0]``) are inputs of the primitive, so a traced program
    recomputes them.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> cr.getitem(x, [0, 0, 2]).sum().backward()
    >>> x.grad
    tensor([2., 0., 1.])
    """
    x = _as(x)
    template, tensors = index_template(index)
    try:
        return apply(P.getitem, (x, *tensors), {"index": template, "shape": x.shape})
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None


def index_put(x: Any, index: Any, value: Any) -> Tensor:
    """A copy of ``x`` with ``x[index] = value`` (value broadcast as NumPy does); the
    gradient reaches ``x`` where it was not overwritten and ``value`` where it was read.

    >>> import chainrule as cr
    >>> cr.index_put(cr.zeros(3), 1, 5.0)
    tensor([0., 5., 0.])
    """
    x = _as(x)
    template, tensors = index_template(index, "setitem")
    value = value if isinstance(value, Tensor) else as_tensor(value)
    try:
        return apply(P.index_put, (x, value, *tensors), {"index": template, "shape": x.shape})
    except (IndexError, ValueError) as e:
        raise type(e)(f"setitem: {e} (tensor shape {x.shape})") from None


def add_at(x: Any, index: Any, value: Any, op: str = "add.at") -> Tensor:
    """A copy of ``x`` with ``value`` added at ``index``, repeated indices adding up
    (``np.add.at`` without the in-place write; JAX's ``x.at[index].add(value)``). Linear:
    the gradient reaches ``x`` whole and ``value`` as ``g[index]`` (summed back to its
    broadcast shape).

    >>> import chainrule as cr
    >>> from chainrule.ops import add_at
    >>> add_at(cr.zeros(3), [0, 0, 2], 1.0)
    tensor([2., 0., 1.])
    """
    x = _as(x)
    template, tensors = index_template(index, op)
    # the shape x[index] has, read off a zero-byte view of x's shape
    probe = np.broadcast_to(np.zeros((), np.int8), x.shape)
    try:
        picked = probe[P.fill_index(template, tuple(t._data for t in tensors))].shape
    except IndexError as e:
        raise IndexError(f"{op}: {e} (tensor shape {x.shape})") from None
    value = _as(value)
    if value.shape != picked:
        try:
            np.broadcast_shapes(value.shape, picked)
        except ValueError:
            raise ValueError(
                f"{op}: values of shape {value.shape} cannot be broadcast to the shape "
                f"{picked} that index selects in a tensor of shape {x.shape}"
            ) from None
        value = broadcast_to(value, picked)
    spread = apply(P.index_add, (value, *tensors), {"index": template, "shape": x.shape})
    return add(x, spread)


def take_along_axis(x: Any, indices: Any, axis: int) -> Tensor:
    """Pick values along ``axis`` at ``indices`` (like ``np.take_along_axis``).

    Examples
    --------
    >>> import chainrule as cr
    >>> import numpy as np
    >>> scores = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> cr.take_along_axis(scores, np.array([[1], [0]]), axis=1)
    tensor([[2.],
            [3.]])
    """
    x = _as(x)
    idx = indices if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"take_along_axis: indices must be integers, got {idx.dtype}")
    axis = _single_axis("take_along_axis", axis, x.shape)
    if idx.ndim != x.ndim:
        raise ValueError(
            f"take_along_axis: indices (shape {idx.shape}) need as many dimensions as x "
            f"(shape {x.shape})"
        )
    try:
        return apply(P.take_along_axis, (x, idx), {"axis": axis, "shape": x.shape})
    except IndexError as e:  # NumPy's message names the index, the axis and its size
        raise IndexError(f"take_along_axis: {e} (tensor shape {x.shape})") from None


# --------------------------------------------------------------------------- linear algebra


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules (1-D operands, batched stacks, broadcasting).

    Examples
    --------
    >>> import chainrule as cr
    >>> W = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> x = cr.tensor([1.0, 1.0])
    >>> y = cr.matmul(W, x)
    >>> y
    tensor([3., 7.], grad_fn=<matmul>)
    >>> y.sum().backward()
    >>> W.grad
    tensor([[1., 1.],
            [1., 1.]])
    """
    a, b = _as(a), _as(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: operands must have at least one dimension, got shapes {a.shape} and "
            f"{b.shape} (use * for scalars)"
        )
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last axis of a "
            f"({ka}) must equal the {'only' if b.ndim == 1 else 'second-to-last'} axis of "
            f"b ({kb})"
        )
    if a.ndim > 2 or b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions of shapes {a.shape} and {b.shape} do not broadcast"
            ) from None
    return apply(P.matmul, (a, b))


def dot(a: Any, b: Any) -> Tensor:
    """``np.dot`` for 0-, 1- and 2-D operands (scalar product, inner product, matmul).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.dot(cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0]))
    tensor(11.)
    """
    a, b = _as(a), _as(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim > 2 or b.ndim > 2:
        raise ValueError(
            f"dot: operands of shapes {a.shape} and {b.shape}: only 0-, 1- and 2-D operands "
            f"are supported; use matmul for stacks of matrices"
        )
    return matmul(a, b)


def outer(a: Any, b: Any) -> Tensor:
    """Outer product of the flattened operands.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.outer(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 0.0, -1.0]))
    tensor([[ 1.,  0., -1.],
            [ 2.,  0., -2.]])
    """
    a, b = reshape(_as(a), -1), reshape(_as(b), -1)
    return reshape(a, -1, 1) * reshape(b, 1, -1)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias`` with ``weight`` of shape (out, in), in one primitive.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.ones(4, 3)
    >>> W = cr.ones(2, 3)
    >>> cr.linear(x, W, cr.tensor([0.5, -0.5])).shape
    (4, 2)
    """
    x, weight = _as(x), _as(weight)
    xshape, wshape = x._data.shape, weight._data.shape  # read once: a layer's hot path
    if len(wshape) != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {wshape}")
    if not xshape or xshape[-1] != wshape[1]:
        raise ValueError(
            f"linear: input of shape {xshape} does not match weight of shape "
            f"{wshape}: the last axis of the input must be {wshape[1]}"
        )
    if bias is None:
        return matmul(x, weight.T)
    bias = _as(bias)
    if bias._data.shape != wshape[:1]:
        raise ValueError(
            f"linear: bias must have shape ({wshape[0]},) to match weight "
            f"{wshape}, got {bias._data.shape}"
        )
    return apply(P.linear, (x, weight, bias))


def softmax_cross_entropy(logits: Any, labels: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) ``logits`` against N integer ``labels`` (or, as
    PyTorch allows, (N, C) class probabilities) in one primitive, stable through
    log-softmax; ``reduction`` is ``"mean"``, ``"sum"`` or ``"none"``.

    >>> import chainrule as cr
    >>> round(cr.softmax_cross_entropy(cr.tensor([[2.0, 1.0, 0.1]]), [0]).item(), 4)
    0.417
    """
    logits = _as(logits)
    if logits.ndim != 2:
        raise ValueError(f"softmax_cross_entropy: logits must be (N, C), got shape {logits.shape}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(
            f"softmax_cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )
    raw = labels._data if isinstance(labels, Tensor) else labels
    if np.asarray(raw).dtype.kind in "fc":  # class probabilities, one row per sample
        if np.shape(raw) != logits.shape:
            raise ValueError(
                f"softmax_cross_entropy: probability targets must have the logits' shape "
                f"{logits.shape}, got {np.shape(raw)}"
            )
        if reduction == "mean" and logits.shape[0] == 0:
            raise ValueError("softmax_cross_entropy: reduction='mean' over an empty batch")
        return apply(P.soft_cross_entropy, (logits, labels), {"reduction": reduction})
    label_input = labels if isinstance(labels, Tensor) else np.asarray(raw)
    labels = np.asarray(raw)
    if labels.shape != (logits.shape[0],) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"softmax_cross_entropy: labels must be {logits.shape[0]} integers (one per row "
            f"of logits {logits.shape}), got shape {labels.shape} dtype {labels.dtype}"
        )
    first_bad_label("softmax_cross_entropy", labels, logits.shape[1], logits.shape)
    if reduction == "mean" and labels.size == 0:
        raise ValueError("softmax_cross_entropy: reduction='mean' over an empty batch")
    if _is_traced(label_input):  # an input of a traced program: checked at every call
        label_input = apply(
            P.label_check, (label_input,), {"shape": logits.shape, "op": "softmax_cross_entropy"}
        )
    # logp is its own node (kept for the gradient, as hand-written code keeps it)
    logp = apply(P.log_softmax, (logits,), {"axis": 1})
    return apply(P.cross_entropy, (logits, logp, label_input), {"reduction": reduction})


_UNSIGNED: dict[np.dtype, np.dtype] = {}  # label dtype -> its unsigned twin


def first_bad_label(op: str, labels: np.ndarray, n_classes: int, scores_shape: tuple) -> None:
    """Raise IndexError naming ``op``, the first label outside [0, n_classes) and its
    sample. ``labels`` is a 1-d integer array. The check is one pass: seen as unsigned
    integers of the same width, negative labels are huge, so the largest catches both
    ends (found with ``argmax``, a plain loop that costs a third of a ``max`` reduction;
    this runs on every training step)."""
    if not labels.size:
        return
    as_unsigned = _UNSIGNED.get(labels.dtype)
    if as_unsigned is None:  # same width and byte order, unsigned: '>i4' -> '>u4'
        as_unsigned = _UNSIGNED[labels.dtype] = np.dtype(labels.dtype.str.replace("i", "u"))
    unsigned = labels.view(as_unsigned)
    if unsigned[unsigned.argmax()] < n_classes:
        return
    where = int(np.argmax((labels < 0) | (labels >= n_classes)))
    raise IndexError(
        f"{op}: label {int(labels[where])} is out of range for {n_classes} classes (sample "
        f"{where}, scores shape {tuple(scores_shape)}); labels must be in [0, {n_classes - 1}]"
    )


def sign(x: Any) -> Tensor:
    """Elementwise sign (not differentiable: piecewise constant).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.sign(cr.tensor([-2.0, 0.0, 3.0]))
    tensor([-1.,  0.,  1.])
    """
    return apply(P.sign, (_as(x),))


def conj(x: Any) -> Tensor:
    """Complex conjugate (the tensor itself when it is real).

    >>> import chainrule as cr, numpy as np
    >>> cr.conj(cr.tensor(np.array([1 + 2j])))
    tensor([1.-2.j], dtype=complex128)
    """
    x = _as(x)
    return x if x.dtype.kind != "c" else apply(P.conj, (x,))


def real(x: Any) -> Tensor:
    """Real part (the tensor itself when it is real).

    >>> import chainrule as cr, numpy as np
    >>> cr.real(cr.tensor(np.array([1 + 2j])))
    tensor([1.])
    """
    x = _as(x)
    return x if x.dtype.kind != "c" else apply(P.real, (x,))


def imag(x: Any) -> Tensor:
    """Imaginary part (zeros of the same dtype when the tensor is real).

    >>> import chainrule as cr, numpy as np
    >>> cr.imag(cr.tensor(np.array([1 + 2j])))
    tensor([2.])
    """
    return apply(P.imag, (_as(x),))


def moveaxis_front(x: Tensor, n_front: int, n_back: int) -> Tensor:
    """Move the first ``n_front`` axes of ``x`` behind the remaining ``n_back`` ones."""
    axes = tuple(range(n_front, n_front + n_back)) + tuple(range(n_front))
    return transpose(x, axes) if axes else x
