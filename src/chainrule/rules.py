"""THE rule table: every primitive with its forward computation, VJP and JVP side by side.

Rules are written with operators and other primitives, so one definition serves the fast
first-order path (ndarrays in, ndarrays out) and the recorded path (Tensors in, Tensors
out, for higher-order derivatives). Rules never undo broadcasting; the engine does that.
Each subgradient choice at a kink is commented where it is made.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .engine import sum_to_shape
from .primitives import PerInput, Primitive
from .tensor import Tensor


def _raw(x: Any) -> Any:
    """The array under a Tensor (for masks and weights, which are never differentiated)."""
    return x.data if isinstance(x, Tensor) else x


def def_elementwise(name: str, impl: Any, local_grad: Any, *, save: str) -> Primitive:
    """A unary elementwise primitive from f'(x) alone: VJP = g * f', JVP = t * f'.

    ``local_grad(ans, x)`` may use the output (``save="output"``) or the input
    (``save="input"``).
    """

    def vjp(g: Any, ans: Any, x: Any) -> Any:
        return g * local_grad(ans, x)

    def jvp(t: Any, ans: Any, x: Any) -> Any:
        return t * local_grad(ans, x)

    return _elementwise(name, impl, vjp, jvp, save)


def _elementwise(name: str, impl: Any, vjp: Any, jvp: Any, save: str) -> Primitive:
    return Primitive(
        name,
        impl,
        (vjp,),
        (jvp,),
        save_inputs=save == "input",
        save_output=save == "output",
    )


def _reduced_keepdims(v: Any, axis: Any, ndim: int, keepdims: bool) -> Any:
    """``v`` (a reduction's result or its gradient) with the reduced axes put back as 1s."""
    if keepdims or axis is None and np.ndim(_raw(v)) == ndim:
        return v
    if axis is None:
        return reshape_to(v, (1,) * ndim)
    axes = (axis,) if np.isscalar(axis) else tuple(axis)
    axes = sorted(a % ndim for a in axes)
    shape = list(v.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape_to(v, tuple(shape))


# --------------------------------------------------------------------------- arithmetic
# The arithmetic primitives compute with Python's operators rather than calling the ufuncs:
# the same ufunc runs for arrays, and 0-d values take NumPy's fast scalar path.

add = Primitive(
    "add",
    operator.add,
    vjps=(lambda g, ans, x, y: g, lambda g, ans, x, y: g),
    jvps=(lambda t, ans, x, y: t, lambda t, ans, x, y: t),
    save_inputs=False,
    linear=True,
)

sub = Primitive(
    "sub",
    operator.sub,
    vjps=(lambda g, ans, x, y: g, lambda g, ans, x, y: -g),
    jvps=(lambda t, ans, x, y: t, lambda t, ans, x, y: -t),
    save_inputs=False,
    linear=True,
)

neg = Primitive(
    "neg",
    operator.neg,
    vjps=(lambda g, ans, x: -g,),
    jvps=(lambda t, ans, x: -t,),
    save_inputs=False,
    linear=True,
)

mul = Primitive(
    "mul",
    operator.mul,
    vjps=(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x),
    jvps=(lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t),
)

div = Primitive(
    "div",
    operator.truediv,
    vjps=(lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y),
    jvps=(lambda t, ans, x, y: t / y, lambda t, ans, x, y: -t * ans / y),
    save_output=True,
)


def _log_base(x: Any) -> Any:
    # d(x**y)/dy = x**y log x. At x == 0 the term is taken as 0 (as JAX does): there
    # x**y is 0 for y > 0, and log(0) = -inf would turn 0 * -inf into NaN.
    xr = _raw(x)
    if np.any(xr == 0):
        return log(where(xr == 0, 1.0, x))
    return log(x)


def _power_local_grad(x: Any, y: Any) -> Any:
    """d(x**y)/dx = y x**(y-1); for the common constant exponents 2 and 1 without calling
    power (np.power is several times slower than a multiply)."""
    if type(y) is int or type(y) is float:
        if y == 2:
            return 2 * x
        if y == 1:
            return 1.0
    return y * x ** (y - 1)


pow = Primitive(
    "pow",
    operator.pow,
    vjps=(
        lambda g, ans, x, y: g * _power_local_grad(x, y),
        lambda g, ans, x, y: g * ans * _log_base(x),
    ),
    jvps=(
        lambda t, ans, x, y: t * _power_local_grad(x, y),
        lambda t, ans, x, y: t * ans * _log_base(x),
    ),
    save_output=True,
)


def _split_ties(g: Any, wins: np.ndarray, ties: np.ndarray) -> Any:
    # maximum/minimum: the gradient goes to the winning argument; where both are equal it
    # is split evenly (half each), so the two halves add back up to g.
    if ties.any():
        return g * (wins + 0.5 * ties).astype(_raw(g).dtype)
    return g * wins  # a mask product: much faster than np.where with a scalar


maximum = Primitive(
    "maximum",
    np.maximum,
    vjps=(
        lambda g, ans, x, y: _split_ties(g, _raw(x) > _raw(y), _raw(x) == _raw(y)),
        lambda g, ans, x, y: _split_ties(g, _raw(y) > _raw(x), _raw(x) == _raw(y)),
    ),
    jvps=(
        lambda t, ans, x, y: _split_ties(t, _raw(x) > _raw(y), _raw(x) == _raw(y)),
        lambda t, ans, x, y: _split_ties(t, _raw(y) > _raw(x), _raw(x) == _raw(y)),
    ),
)

minimum = Primitive(
    "minimum",
    np.minimum,
    vjps=(
        lambda g, ans, x, y: _split_ties(g, _raw(x) < _raw(y), _raw(x) == _raw(y)),
        lambda g, ans, x, y: _split_ties(g, _raw(y) < _raw(x), _raw(x) == _raw(y)),
    ),
    jvps=(
        lambda t, ans, x, y: _split_ties(t, _raw(x) < _raw(y), _raw(x) == _raw(y)),
        lambda t, ans, x, y: _split_ties(t, _raw(y) < _raw(x), _raw(x) == _raw(y)),
    ),
)


def _where_impl(cond: Any, x: Any, y: Any) -> Any:
    return np.where(cond, x, y)


where = Primitive(
    "where",
    _where_impl,
    # The condition is not differentiable.
    vjps=(
        None,
        lambda g, ans, c, x, y: where(c, g, 0),
        lambda g, ans, c, x, y: where(c, 0, g),
    ),
    jvps=(
        None,
        lambda t, ans, c, x, y: where(c, t, 0),
        lambda t, ans, c, x, y: where(c, 0, t),
    ),
)


def _clip_impl(x: Any, lo: Any, hi: Any) -> Any:
    return np.clip(x, lo, hi)


def _clip_pass(g: Any, x: Any, lo: Any, hi: Any) -> Any:
    # The gradient passes where lo <= x <= hi, bounds included (x exactly at a bound
    # counts as inside), and is 0 where x was clipped.
    xr = _raw(x)
    inside = np.ones(np.shape(xr), dtype=bool)
    if lo is not None:
        inside &= xr >= lo
    if hi is not None:
        inside &= xr <= hi
    return g * inside


clip = Primitive(
    "clip",
    _clip_impl,
    vjps=(lambda g, ans, x, lo, hi: _clip_pass(g, x, lo, hi),),
    jvps=(lambda t, ans, x, lo, hi: _clip_pass(t, x, lo, hi),),
)

# --------------------------------------------------------------------------- elementwise

exp = def_elementwise("exp", np.exp, lambda ans, x: ans, save="output")
log = Primitive(
    "log",
    np.log,
    vjps=(lambda g, ans, x: g / x,),
    jvps=(lambda t, ans, x: t / x,),
)
sqrt = Primitive(
    "sqrt",
    np.sqrt,
    vjps=(lambda g, ans, x: g / (2 * ans),),
    jvps=(lambda t, ans, x: t / (2 * ans),),
    save_inputs=False,
    save_output=True,
)
# tanh is on the hottest paths, so its rules skip def_elementwise's extra call level;
# they are the same g * f' and t * f' with f' = 1 - tanh^2.
tanh = _elementwise(
    "tanh",
    np.tanh,
    lambda g, ans, x: g * (1 - ans * ans),
    lambda t, ans, x: t * (1 - ans * ans),
    save="output",
)


def _sigmoid_impl(x: Any) -> Any:
    # exp(-|x|) never overflows; the two branches agree with 1 / (1 + exp(-x)).
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


sigmoid = def_elementwise("sigmoid", _sigmoid_impl, lambda ans, x: ans * (1 - ans), save="output")
sin = def_elementwise("sin", np.sin, lambda ans, x: cos(x), save="input")
cos = def_elementwise("cos", np.cos, lambda ans, x: -sin(x), save="input")


def _relu_impl(x: Any) -> Any:
    if type(x) is np.ndarray:
        return np.maximum(x, 0)
    return x if x > 0 else x - x  # a scalar: 0 (not -0.0), and NaN stays NaN


def _relu_pass(g: Any, ans: Any) -> Any:
    # relu'(0) is taken as 0: the gradient passes only where the output is positive.
    # Multiplying by the mask is ~8x faster than np.where with a scalar 0 (the
    # hand-written backward does the same); only an Inf/NaN upstream gradient at a
    # blocked position differs (NaN instead of 0).
    positive = _raw(ans) > 0
    if type(positive) is np.ndarray:
        return g * positive
    return g if positive else g * 0


relu = Primitive(
    "relu",
    _relu_impl,
    vjps=(lambda g, ans, x: _relu_pass(g, ans),),
    jvps=(lambda t, ans, x: _relu_pass(t, ans),),
    save_inputs=False,
    save_output=True,
)

abs = def_elementwise(
    "abs",
    np.abs,
    # sign(0) = 0, so abs'(0) is taken as 0. The sign is a constant (never differentiated).
    lambda ans, x: np.sign(_raw(x)),
    save="input",
)

# --------------------------------------------------------------------------- reductions


def _sum_impl(x: Any, axis: Any, keepdims: bool, shape: tuple) -> Any:
    return x.sum(axis=axis, keepdims=keepdims)  # the method: no Python-level wrapper


def _sum_vjp(g: Any, ans: Any, x: Any, axis: Any, keepdims: bool, shape: tuple) -> Any:
    # Every summed element gets the upstream gradient: put the reduced axes back and
    # broadcast. A full reduction's gradient is 0-d and broadcasts as it is.
    if axis is not None:
        g = _reduced_keepdims(g, axis, len(shape), keepdims)
    if isinstance(g, Tensor):
        return broadcast_to(g, shape=shape)
    if axis is None and len(shape) < 3 and _small(shape):
        return np.full(shape, g)  # small: filling is cheaper than np.broadcast_to's view
    return np.broadcast_to(g, shape)


def _small(shape: tuple) -> bool:
    size = 1
    for n in shape:
        size *= n
    return size <= 65536


sum = Primitive(
    "sum",
    _sum_impl,
    vjps=(_sum_vjp,),
    jvps=(
        lambda t, ans, x, axis, keepdims, shape: sum(t, axis=axis, keepdims=keepdims, shape=shape),
    ),
    save_inputs=False,
    linear=True,
)


def _extreme_weights(x: Any, ans: Any, axis: Any, keepdims: bool) -> np.ndarray:
    # max/min route the gradient to the arg-extreme; when several elements tie for the
    # extreme, it is split evenly among them (weights 1/count), as JAX and PyTorch's
    # amax do, so the weights of each reduced slice add up to 1.
    xr = _raw(x)
    ansk = _raw(_reduced_keepdims(_raw(ans), axis, xr.ndim, keepdims))
    hits = xr == ansk
    count = hits.sum(axis=axis, keepdims=True)
    return hits / count.astype(xr.dtype)


def _max_impl(x: Any, axis: Any, keepdims: bool) -> Any:
    return x.max(axis=axis, keepdims=keepdims)


def _min_impl(x: Any, axis: Any, keepdims: bool) -> Any:
    return x.min(axis=axis, keepdims=keepdims)


def _extreme_vjp(g: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    gk = _reduced_keepdims(g, axis, np.ndim(_raw(x)), keepdims)
    return gk * _extreme_weights(x, ans, axis, keepdims)


def _extreme_jvp(t: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    w = _extreme_weights(x, ans, axis, keepdims)
    return sum(t * w, axis=axis, keepdims=keepdims, shape=np.shape(_raw(x)))


max = Primitive("max", _max_impl, (_extreme_vjp,), (_extreme_jvp,), save_output=True)
min = Primitive("min", _min_impl, (_extreme_vjp,), (_extreme_jvp,), save_output=True)


def _logsumexp_impl(x: Any, axis: Any, keepdims: bool) -> Any:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # all -inf (or inf) slices: no shift
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else _squeeze_axes(out, axis)


def _squeeze_axes(v: np.ndarray, axis: Any) -> np.ndarray:
    if axis is None:
        return v.reshape(())
    return np.squeeze(v, axis=axis)


def _softmax_of(x: Any, ans: Any, axis: Any, keepdims: bool) -> Any:
    return exp(x - _reduced_keepdims(ans, axis, np.ndim(_raw(x)), keepdims))


logsumexp = Primitive(
    "logsumexp",
    _logsumexp_impl,
    vjps=(
        lambda g, ans, x, axis, keepdims: (
            _reduced_keepdims(g, axis, np.ndim(_raw(x)), keepdims)
            * _softmax_of(x, ans, axis, keepdims)
        ),
    ),
    jvps=(
        lambda t, ans, x, axis, keepdims: sum(
            t * _softmax_of(x, ans, axis, keepdims),
            axis=axis,
            keepdims=keepdims,
            shape=np.shape(_raw(x)),
        ),
    ),
    save_output=True,
)


def _log_softmax_impl(x: Any, axis: int) -> Any:
    shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


def _sum_keep(v: Any, axis: int) -> Any:
    return sum(v, axis=axis, keepdims=True, shape=v.shape)


log_softmax = Primitive(
    "log_softmax",
    _log_softmax_impl,
    vjps=(lambda g, ans, x, axis: g - exp(ans) * _sum_keep(g, axis),),
    jvps=(lambda t, ans, x, axis: t - _sum_keep(exp(ans) * t, axis),),
    save_inputs=False,
    save_output=True,
)


def _softmax_impl(x: Any, axis: int) -> Any:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


softmax = Primitive(
    "softmax",
    _softmax_impl,
    vjps=(lambda g, ans, x, axis: ans * (g - _sum_keep(g * ans, axis)),),
    jvps=(lambda t, ans, x, axis: ans * (t - _sum_keep(t * ans, axis)),),
    save_inputs=False,
    save_output=True,
)


def _cross_entropy_and_logp(x: Any, labels: np.ndarray, reduction: str) -> tuple:
    """The loss, and the log-softmax it was computed from (the VJP's residual)."""
    logp = _log_softmax_impl(x, 1)
    picked = logp[np.arange(len(labels)), labels]
    if reduction == "none":
        return -picked, logp
    total = -np.add.reduce(picked)
    return (total if reduction == "sum" else total / len(labels)), logp


def _cross_entropy_impl(x: Any, labels: np.ndarray, reduction: str) -> Any:
    return _cross_entropy_and_logp(x, labels, reduction)[0]


def _onehot(labels: np.ndarray, n_classes: int, dtype: Any) -> np.ndarray:
    out = np.zeros((len(labels), n_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def _per_row(v: Any, reduction: str, n: int) -> Any:
    """The upstream gradient (or tangent weight) of each sample, as an (N, 1) column."""
    if reduction == "none":
        return reshape_to(v, (n, 1))
    return v / n if reduction == "mean" else v


def _cross_entropy_vjp(g: Any, ans: Any, x: Any, labels: np.ndarray, reduction: str) -> Any:
    # d loss_i / d x_ij = softmax(x)_ij - [j == label_i]
    if not isinstance(x, Tensor) and not isinstance(g, Tensor):
        # arrays (first order): in place on a fresh softmax, as a hand-written backward
        # does; ``ans`` is the forward's log-softmax when the node kept it (the residual)
        p = np.exp(ans) if ans is not None else _softmax_impl(x, 1)
        p[np.arange(len(labels)), labels] -= 1
        p *= _per_row(g, reduction, len(labels))
        return p
    residual = softmax(x, axis=1) - _onehot(labels, x.shape[1], _raw(x).dtype)
    return _per_row(g, reduction, len(labels)) * residual


def _cross_entropy_jvp(t: Any, ans: Any, x: Any, labels: np.ndarray, reduction: str) -> Any:
    residual = softmax(x, axis=1) - _onehot(labels, x.shape[1], _raw(x).dtype)
    return _ce_jvp(t, residual, reduction, len(labels))


def _soft_cross_entropy_impl(x: Any, t: Any, reduction: str) -> Any:
    losses = -(t * _log_softmax_impl(x, 1)).sum(axis=1)
    if reduction == "none":
        return losses
    total = losses.sum()
    return total if reduction == "sum" else total / len(losses)


def _soft_ce_vjp_x(g: Any, ans: Any, x: Any, t: Any, reduction: str) -> Any:
    # d/dx_ij of -sum_k t_ik log softmax(x_i)_k = softmax(x)_ij * sum_k t_ik - t_ij
    n = x.shape[0]
    if not isinstance(x, Tensor) and not isinstance(t, Tensor) and not isinstance(g, Tensor):
        p = _softmax_impl(x, 1)  # fresh: updated in place, as a hand-written backward does
        p *= t.sum(axis=1, keepdims=True)
        p -= t
        p *= _per_row(g, reduction, n)
        return p
    residual = softmax(x, axis=1) * _sum_keep(t, 1) - t
    return _per_row(g, reduction, n) * residual


def _ce_jvp(t_dir: Any, weights: Any, reduction: str, n: int) -> Any:
    """A cross-entropy's tangent: each sample's sum of tangent x weights, then reduced."""
    per_sample = sum(t_dir * weights, axis=1, keepdims=False, shape=t_dir.shape)
    if reduction == "none":
        return per_sample
    total = sum(per_sample, axis=None, keepdims=False, shape=per_sample.shape)
    return total / n if reduction == "mean" else total


soft_cross_entropy = Primitive(
    "soft_cross_entropy",
    _soft_cross_entropy_impl,
    # Cross-entropy of (N, C) logits against (N, C) target probabilities (one-hot rows
    # give the usual loss), differentiable in both: one node, gradient
    # (softmax(x) * rowsum(t) - t) g for the logits and -log_softmax(x) g for the targets.
    vjps=(
        _soft_ce_vjp_x,
        lambda g, ans, x, t, reduction: (
            _per_row(g, reduction, x.shape[0]) * -log_softmax(x, axis=1)
        ),
    ),
    jvps=(
        lambda tx, ans, x, t, reduction: _ce_jvp(
            tx, softmax(x, axis=1) * _sum_keep(t, 1) - t, reduction, x.shape[0]
        ),
        lambda tt, ans, x, t, reduction: _ce_jvp(
            tt, -log_softmax(x, axis=1), reduction, x.shape[0]
        ),
    ),
)

cross_entropy = Primitive(
    "cross_entropy",
    _cross_entropy_impl,
    # Softmax cross-entropy of (N, C) logits against integer labels, fused: one node whose
    # gradient is (softmax - onehot) g, instead of log_softmax + pick + mean. The node
    # keeps the forward's log-softmax, so the gradient needs one exp, not a new softmax.
    vjps=(_cross_entropy_vjp,),
    jvps=(_cross_entropy_jvp,),
    residual=_cross_entropy_and_logp,
)

# --------------------------------------------------------------------------- shapes


def _reshape_impl(x: Any, shape: tuple, in_shape: tuple) -> Any:
    return np.reshape(x, shape)


def reshape_to(v: Any, shape: tuple) -> Any:
    """Reshape an array or Tensor (recorded for Tensors)."""
    return reshape(v, shape=shape, in_shape=v.shape)


reshape = Primitive(
    "reshape",
    _reshape_impl,
    vjps=(lambda g, ans, x, shape, in_shape: reshape(g, shape=in_shape, in_shape=shape),),
    jvps=(lambda t, ans, x, shape, in_shape: reshape(t, shape=shape, in_shape=in_shape),),
    save_inputs=False,
    linear=True,
)


def _transpose_impl(x: Any, axes: tuple) -> Any:
    return np.transpose(x, axes)


transpose = Primitive(
    "transpose",
    _transpose_impl,
    vjps=(lambda g, ans, x, axes: transpose(g, axes=tuple(np.argsort(axes))),),
    jvps=(lambda t, ans, x, axes: transpose(t, axes=axes),),
    save_inputs=False,
    linear=True,
)


def _broadcast_to_impl(x: Any, shape: tuple) -> Any:
    return np.broadcast_to(x, shape)


broadcast_to = Primitive(
    "broadcast_to",
    _broadcast_to_impl,
    # The engine sums the gradient back to the input's shape: nothing to do here.
    vjps=(lambda g, ans, x, shape: g,),
    jvps=(lambda t, ans, x, shape: broadcast_to(t, shape=shape),),
    save_inputs=False,
    linear=True,
)


def _sum_to_impl(x: Any, shape: tuple, in_shape: tuple) -> Any:
    return sum_to_shape(x, shape, sum_to, 0)


sum_to = Primitive(
    "sum_to",
    _sum_to_impl,
    # sum_to is how the engine undoes broadcasting in recorded backward passes; its own
    # gradient broadcasts back up.
    vjps=(lambda g, ans, x, shape, in_shape: broadcast_to(g, shape=in_shape),),
    jvps=(lambda t, ans, x, shape, in_shape: sum_to(t, shape=shape, in_shape=in_shape),),
    save_inputs=False,
    linear=True,
)


def _astype_impl(x: Any, dtype: Any) -> Any:
    return x.astype(dtype)


astype = Primitive(
    "astype",
    _astype_impl,
    # The engine casts every gradient to its input's dtype: the rule itself is identity.
    vjps=(lambda g, ans, x, dtype: g,),
    jvps=(lambda t, ans, x, dtype: t,),
    save_inputs=False,
    linear=True,
)

copy = Primitive(
    "copy",
    np.array,
    vjps=(lambda g, ans, x: g,),
    jvps=(lambda t, ans, x: t,),
    save_inputs=False,
    linear=True,
)

# --------------------------------------------------------------------------- indexing


def _is_basic(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if not (p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer))):
            return False
    return True


def _getitem_impl(x: Any, index: Any, shape: tuple) -> Any:
    return x[index]


def _index_add_impl(g: Any, index: Any, shape: tuple) -> Any:
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)  # repeated indices accumulate
    return out


getitem = Primitive(
    "getitem",
    _getitem_impl,
    vjps=(lambda g, ans, x, index, shape: index_add(g, index=index, shape=shape),),
    jvps=(lambda t, ans, x, index, shape: getitem(t, index=index, shape=shape),),
    save_inputs=False,
    linear=True,
)

index_add = Primitive(
    "index_add",
    _index_add_impl,
    vjps=(lambda g, ans, x, index, shape: getitem(g, index=index, shape=shape),),
    jvps=(lambda t, ans, x, index, shape: index_add(t, index=index, shape=shape),),
    save_inputs=False,
    linear=True,
)


def _take_impl(x: Any, indices: np.ndarray, axis: int) -> Any:
    return np.take_along_axis(x, indices, axis=axis)


def _scatter_impl(g: Any, indices: np.ndarray, axis: int, shape: tuple) -> Any:
    out = np.zeros(shape, dtype=g.dtype)
    if indices.shape[axis] == 1:
        np.put_along_axis(out, indices, g, axis=axis)  # one index per slice: no repeats
    else:
        full = list(np.indices(indices.shape, sparse=True))
        full[axis] = indices
        np.add.at(out, tuple(full), g)  # repeated indices accumulate
    return out


take_along_axis = Primitive(
    "take_along_axis",
    lambda x, indices, axis, shape: _take_impl(x, indices, axis),
    vjps=(
        lambda g, ans, x, indices, axis, shape: scatter_along_axis(
            g, indices=indices, axis=axis, shape=shape
        ),
    ),
    jvps=(
        lambda t, ans, x, indices, axis, shape: take_along_axis(
            t, indices=indices, axis=axis, shape=shape
        ),
    ),
    save_inputs=False,
    linear=True,
)

scatter_along_axis = Primitive(
    "scatter_along_axis",
    _scatter_impl,
    vjps=(
        lambda g, ans, x, indices, axis, shape: take_along_axis(
            g, indices=indices, axis=axis, shape=shape
        ),
    ),
    jvps=(
        lambda t, ans, x, indices, axis, shape: scatter_along_axis(
            t, indices=indices, axis=axis, shape=shape
        ),
    ),
    save_inputs=False,
    linear=True,
)


def _concat_impl(*xs: Any, axis: int, sizes: tuple) -> Any:
    return np.concatenate(xs, axis=axis)


def _concat_slice(index: int, axis: int, sizes: tuple, ndim: int) -> tuple:
    start = int(np.sum(sizes[:index]))
    sl = [slice(None)] * ndim
    sl[axis] = slice(start, start + sizes[index])
    return tuple(sl)


def _concat_vjp(g: Any, ans: Any, *xs: Any, index: int, axis: int, sizes: tuple) -> Any:
    return getitem(g, index=_concat_slice(index, axis, sizes, g.ndim), shape=g.shape)


def _concat_jvp(t: Any, ans: Any, *xs: Any, index: int, axis: int, sizes: tuple) -> Any:
    shape = list(t.shape)
    shape[axis] = int(np.sum(sizes))
    sl = _concat_slice(index, axis, sizes, t.ndim)
    return index_add(t, index=sl, shape=tuple(shape))


concatenate = Primitive(
    "concatenate",
    _concat_impl,
    vjps=PerInput(_concat_vjp),
    jvps=PerInput(_concat_jvp),
    save_inputs=False,
    linear=True,
)

# --------------------------------------------------------------------------- linear algebra


def _swap(x: Any) -> Any:
    """Transpose of the last two axes, for arrays and Tensors alike."""
    if x.ndim == 2:
        return x.T
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(x, axes=tuple(axes))


def _matmul_grads(g: Any, a: Any, b: Any, which: int) -> Any:
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if a_vec and b_vec:  # inner product: g is a scalar
        return g * b if which == 0 else g * a
    # matrix @ vector and vector @ matrix, directly (matrix-vector products, no reshapes)
    if b_vec and a.ndim == 2:
        return expand(g, -1) * b if which == 0 else matmul(a.T, g)
    if a_vec and b.ndim == 2:
        return matmul(b, g) if which == 0 else expand(a, -1) * g
    # Promote vectors to matrices the way matmul does, then drop the added axis again.
    g2 = g
    if a_vec:
        a = reshape_to(a, (1, a.shape[0]))
        g2 = expand(g2, -2)
    if b_vec:
        b = reshape_to(b, (b.shape[0], 1))
        g2 = expand(g2, -1)
    if which == 0:
        grad = matmul(g2, _swap(b))
        return squeeze_axis(grad, -2) if a_vec else grad
    grad = matmul(_swap(a), g2)
    return squeeze_axis(grad, -1) if b_vec else grad


def expand(v: Any, axis: int) -> Any:
    shape = list(v.shape)
    shape.insert(axis % (len(shape) + 1), 1)
    return reshape_to(v, tuple(shape))


def squeeze_axis(v: Any, axis: int) -> Any:
    shape = list(v.shape)
    del shape[axis]
    return reshape_to(v, tuple(shape))


matmul = Primitive(
    "matmul",
    np.matmul,
    vjps=(
        lambda g, ans, a, b: _matmul_grads(g, a, b, 0),
        lambda g, ans, a, b: _matmul_grads(g, a, b, 1),
    ),
    jvps=(
        lambda t, ans, a, b: matmul(t, b),
        lambda t, ans, a, b: matmul(a, t),
    ),
)


def _linear_impl(x: Any, w: Any, b: Any) -> Any:
    out = x @ w.T
    out += b
    return out


def _linear_weight_grad(g: Any, x: Any) -> Any:
    if x.ndim == 1:
        return reshape_to(g, (g.shape[0], 1)) * reshape_to(x, (1, x.shape[0]))
    if x.ndim > 2:
        x = reshape_to(x, (-1, x.shape[-1]))
        g = reshape_to(g, (-1, g.shape[-1]))
    return matmul(g.T, x)


linear = Primitive(
    "linear",
    _linear_impl,
    # y = x @ W.T + b with W of shape (out, in), as nn.Linear stores it.
    vjps=(
        lambda g, ans, x, w, b: matmul(g, w),
        lambda g, ans, x, w, b: _linear_weight_grad(g, x),
        lambda g, ans, x, w, b: g,
    ),
    jvps=(
        lambda t, ans, x, w, b: matmul(t, w.T),
        lambda t, ans, x, w, b: matmul(x, t.T),
        lambda t, ans, x, w, b: t,
    ),
)
