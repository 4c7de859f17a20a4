"""Array kernels: the forward computations of primitives that are more than one NumPy call.

The engine runs them as the primitives' implementations and generated code imports and
calls the same functions (``from chainrule.kernels import log_softmax``), so the two can
never compute differently. Everything here takes and returns plain arrays.
"""

from __future__ import annotations

from typing import Any

from .backend import add_at, reduce_max, reduce_sum, xp
from .broadcast import sum_to_shape

__all__ = [
    "cross_entropy_vjp",
    "index_add",
    "index_put",
    "log_softmax",
    "logsumexp",
    "nll",
    "one_hot",
    "per_row",
    "relu",
    "scatter_along_axis",
    "sigmoid",
    "soft_cross_entropy",
    "softmax",
    "sum_to",
    "sum_to_shape",
]


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)): the lectures' formula. Where exp(-x) overflows (x < -709 in
    float64) the result is the exact limit 0.0, so the overflow warning is silenced.

    >>> sigmoid(xp.array([0.0, -800.0]))
    array([0.5, 0. ])
    """
    with xp.errstate(over="ignore"):
        return 1.0 / (1 + xp.exp(-x))


def relu(x: Any) -> Any:
    """max(x, 0); a 0-d value stays a NumPy scalar (0 for negatives, not -0.0).

    >>> relu(xp.array([-1.0, 2.0]))
    array([0., 2.])
    """
    if type(x) is xp.ndarray:
        return xp.maximum(x, 0)
    return x if x > 0 else x - x  # a scalar: 0 (not -0.0), and NaN stays NaN


def logsumexp(x: Any, axis: Any, keepdims: bool) -> Any:
    """log(sum(exp(x))) over ``axis`` without overflow: shift by the max first.

    >>> round(float(logsumexp(xp.array([1000.0, 1000.0]), None, False)) - 1000.0, 6)  # no overflow
    0.693147
    """
    m = reduce_max(x, axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or inf) slices: no shift
    out = xp.log(reduce_sum(xp.exp(x - m), axis, keepdims=True)) + m
    if keepdims:
        return out
    return out.reshape(()) if axis is None else xp.squeeze(out, axis=axis)


def log_softmax(x: Any, axis: int) -> Any:
    """x - logsumexp(x) along ``axis``, stable.

    >>> log_softmax(xp.array([[0.0, 0.0]]), 1)
    array([[-0.69314718, -0.69314718]])
    """
    shifted = x - reduce_max(x, axis, keepdims=True)
    return shifted - xp.log(reduce_sum(xp.exp(shifted), axis, keepdims=True))


def softmax(x: Any, axis: int) -> Any:
    """exp(x) / sum(exp(x)) along ``axis``, stable.

    >>> softmax(xp.array([[0.0, xp.log(3.0)]]), 1)
    array([[0.25, 0.75]])
    """
    e = xp.exp(x - reduce_max(x, axis, keepdims=True))
    e /= reduce_sum(e, axis, keepdims=True)
    return e


def nll(logp: Any, labels: Any, reduction: str) -> Any:
    """Minus each sample's log-probability of its label, reduced ("mean", "sum", "none").

    >>> nll(xp.log(xp.array([[0.5, 0.5], [0.25, 0.75]])), xp.array([0, 1]), 'sum').round(4)
    np.float64(0.9808)
    """
    picked = logp[xp.arange(len(labels)), labels]
    if reduction == "none":
        return -picked
    total = -reduce_sum(picked, None)
    return total if reduction == "sum" else total / len(labels)


def per_row(g: Any, reduction: str, n: int) -> Any:
    """Each sample's share of the upstream gradient ``g``: an (N, 1) column for "none".

    >>> per_row(xp.array([1.0, 2.0]), 'none', 2)
    array([[1.],
           [2.]])
    """
    if reduction == "none":
        return xp.reshape(g, (n, 1))
    return g / n if reduction == "mean" else g


def cross_entropy_vjp(g: Any, logp: Any, labels: Any, reduction: str) -> Any:
    """Softmax cross-entropy's gradient from its log-softmax: (softmax - onehot) times each
    sample's upstream gradient, in place on one fresh array (as hand-written code does).

    >>> logp = xp.log(xp.array([[0.25, 0.75]]))
    >>> cross_entropy_vjp(1.0, logp, xp.array([1]), 'mean')
    array([[ 0.25, -0.25]])
    """
    p = xp.exp(logp)
    p[xp.arange(len(labels)), labels] -= 1
    p *= per_row(g, reduction, len(labels))
    return p


def soft_cross_entropy(x: Any, t: Any, reduction: str) -> Any:
    """Cross-entropy of (N, C) scores against (N, C) target probabilities.

    >>> x = xp.zeros((1, 2))
    >>> soft_cross_entropy(x, xp.array([[0.5, 0.5]]), 'mean').round(4)
    np.float64(0.6931)
    """
    losses = -reduce_sum(t * log_softmax(x, 1), 1)
    if reduction == "none":
        return losses
    total = reduce_sum(losses, None)
    return total if reduction == "sum" else total / len(losses)


def one_hot(labels: Any, n: int, dtype: Any) -> Any:
    """(N, n) rows with a 1 at each label.

    >>> one_hot(xp.array([2, 0]), 3, xp.float32)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    out = xp.zeros((len(labels), n), dtype=dtype)
    out[xp.arange(len(labels)), labels] = 1
    return out


def _is_basic(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if not (p is None or p is Ellipsis or isinstance(p, (slice, int, xp.integer))):
            return False
    return True


def index_add(g: Any, index: Any, shape: tuple) -> Any:
    """The gradient of ``x[index]``: ``g`` put back into zeros of ``shape`` (repeated
    indices add up).

    >>> index_add(xp.array([1.0, 2.0]), xp.array([0, 0]), (3,))
    array([3., 0., 0.])
    """
    out = xp.zeros(shape, dtype=xp.result_type(g))
    if _is_basic(index):
        out[index] = g
    else:
        add_at(out, index, g)
    return out


def index_put(x: Any, v: Any, index: Any) -> Any:
    """A copy of ``x`` with ``v`` written at ``index``.

    >>> index_put(xp.zeros(3), 5.0, 1)
    array([0., 5., 0.])
    """
    out = xp.array(x, copy=True)
    out[index] = v
    return out


def scatter_along_axis(g: Any, indices: Any, axis: int, shape: tuple) -> Any:
    """The gradient of ``take_along_axis``: ``g`` added back at ``indices``.

    >>> scatter_along_axis(xp.array([[1.0], [2.0]]), xp.array([[2], [0]]), 1, (2, 3))
    array([[0., 0., 1.],
           [2., 0., 0.]])
    """
    out = xp.zeros(shape, dtype=xp.result_type(g))
    if indices.shape[axis] == 1:
        xp.put_along_axis(out, indices, g, axis=axis)  # one index per slice: no repeats
    else:
        full = list(xp.indices(indices.shape, sparse=True))
        full[axis] = indices
        add_at(out, tuple(full), g)  # repeated indices accumulate
    return out


def sum_to(x: Any, shape: tuple) -> Any:
    """``x`` summed back to ``shape`` (undoing broadcasting).

    >>> sum_to(xp.ones((2, 3)), (1, 3))
    array([[2., 2., 2.]])
    """
    return sum_to_shape(x, shape)


# The NumPy family's kernels (rules_numpy) live in their own module; generated code imports
# them from here like every other kernel.
from .kernels_numpy import cumprod_along, cumsum_along, linrec, shift_along  # noqa: E402

__all__ += ["cumprod_along", "cumsum_along", "linrec", "shift_along"]
