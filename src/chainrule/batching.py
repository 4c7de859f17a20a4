"""Batching rules for ``cr.vmap``: how each primitive runs on a whole batch of examples at
once, derived from its ``kind`` where that is enough and written out where it is not.

A rule gets the primitive's inputs with the batch axis in front (the unbatched ones as they
are) and returns its output for the whole batch, batch axis in front. Rules are written with
chainrule primitives, like the VJP rules, so one rule serves plain arrays and Tensors: the
batched program records, differentiates and traces again (``grad(vmap(f))``, ``vmap(vmap(f))``).
They branch only on static things (which inputs are batched, shapes, params), never on values.

Registered with ``primitives.defbatch(prim, rule)``; a primitive without one gets a rule
derived from its ``kind`` (``rule_for``), and where no rule applies ``cr.vmap`` runs the
primitive once per example, with a one-time ``BatchingWarning`` naming it.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import rules as P
from . import rules_linalg as RL
from . import rules_nn as RN
from . import rules_special  # noqa: F401  (its primitives are registered before the table)
from .primitives import BATCH, REGISTRY, Primitive, defbatch, defjvp, deflower, defvjp

__all__ = [
    "AXIS_PARAMS",
    "Basis",
    "BatchContext",
    "BatchingError",
    "BatchingWarning",
    "NEUTRAL_PARAMS",
    "NotBatchable",
    "SHAPE_PARAMS",
    "by_params",
    "elementwise",
    "fallbacks",
    "reduction",
    "rule_for",
]

#: Parameters that name axes of an input (an int, a tuple of ints, or None): derived rules
#: shift them past the batch axis (non-negative ones by one; negative ones count from the
#: end, which the batch axis does not change).
AXIS_PARAMS = ("axis", "axis1", "axis2", "source", "destination")
#: Parameters that hold one example's shape (of an input or the output): derived rules put
#: the batch size in front.
SHAPE_PARAMS = ("shape", "in_shape", "out_shape")
#: Parameters that do not depend on where the batch axis is: passed on unchanged.
NEUTRAL_PARAMS = (
    "keepdims",
    "dtype",
    "ddof",
    "decimals",
    "k",
    "offset",
    "ord",
    "kind",
    "side",
    "mode",
    "stable",
    "descending",
    "reverse",  # running sums and products: which end they start from
    "step",  # shift: how far along its axis
    "fill",
    "kth",  # partition / argpartition: positions along the (shifted) axis
)


class BatchingError(ValueError):
    """``cr.vmap`` cannot batch this function as written (the message says why and what to
    change): a value read outside chainrule's operations, a boolean mask computed from the
    arguments, random numbers drawn inside the function, ...

    >>> issubclass(BatchingError, ValueError)
    True
    """


class BatchingWarning(UserWarning):
    """A primitive has no batching rule, so ``cr.vmap`` runs it once per example (a Python
    loop over the batch): right, but slower. Issued once per primitive.

    >>> issubclass(BatchingWarning, UserWarning)
    True
    """


class NotBatchable(Exception):
    """Raised by a rule that cannot batch this application (an unknown parameter, an
    unsupported combination); ``cr.vmap`` then falls back to the loop.

    >>> str(NotBatchable("parameter 'reps'"))
    "parameter 'reps'"
    """


class BatchContext:
    """What a rule knows besides its inputs: the primitive, the batch size and, for one
    example, each input's shape and the output's shape and dtype.

    >>> import numpy as np
    >>> ctx = BatchContext(P.exp, 4, ((3,),), (3,), np.dtype(np.float64))
    >>> ctx.size, ctx.batched_shape(0)
    (4, (4, 3))
    """

    __slots__ = ("prim", "size", "shapes", "out_shape", "out_dtype")

    def __init__(
        self, prim: Primitive, size: int, shapes: tuple, out_shape: tuple, out_dtype: Any
    ) -> None:
        self.prim = prim
        self.size = size
        self.shapes = shapes
        self.out_shape = tuple(out_shape)
        self.out_dtype = out_dtype

    def batched_shape(self, i: int) -> tuple:
        """The batched shape of input ``i``: the batch size, then one example's shape."""
        return (self.size, *self.shapes[i])

    @property
    def out_batched(self) -> tuple:
        return (self.size, *self.out_shape)


def _shape(x: Any) -> tuple:
    return tuple(getattr(x, "shape", np.shape(x)))


# --------------------------------------------------------------------------- helpers


def to_front(x: Any, axis: int, ndim: int) -> Any:
    """``x`` (``ndim`` axes) with ``axis`` moved to the front (a transpose view)."""
    axis = axis % ndim
    if axis == 0:
        return x
    axes = (axis, *[a for a in range(ndim) if a != axis])
    return P.transpose(x, axes=axes)


def from_front(x: Any, axis: int, ndim: int) -> Any:
    """``x`` (``ndim`` axes) with its first axis moved to position ``axis``."""
    axis = axis % ndim
    if axis == 0:
        return x
    axes = [*range(1, ndim)]
    axes.insert(axis, 0)
    return P.transpose(x, axes=tuple(axes))


def expand(x: Any, size: int, shape: tuple, ndim: int) -> Any:
    """A batched ``x`` (one example of ``shape``) with 1s inserted after the batch axis, so
    one example has ``ndim`` axes and it broadcasts against unbatched values as one example
    would."""
    missing = ndim - len(shape)
    if missing <= 0:
        return x
    return P.reshape_to(x, (size, *(1,) * missing, *shape))


def broadcast_batch(x: Any, size: int, shape: tuple) -> Any:
    """An unbatched ``x`` (one example of ``shape``) as a batch of identical copies (a
    broadcast view, no copy)."""
    if not shape and not hasattr(x, "shape"):
        x = np.asarray(x)
    return P.broadcast_to(P.reshape_to(x, (1, *shape)), shape=(size, *shape))


def batch_all(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> list:
    """Every input batched: the unbatched ones broadcast to the batch (views)."""
    return [
        a if b else broadcast_batch(a, ctx.size, ctx.shapes[i])
        for i, (a, b) in enumerate(zip(args, batched))
    ]


def shift_axis(axis: Any, ndim: int | None = None) -> Any:
    """An axis parameter for the batched value: non-negative axes move up by one, negative
    ones are unchanged; ``None`` (every axis of a reduction) becomes all of one example's
    axes (``ndim`` of them).

    >>> shift_axis(0), shift_axis(-1), shift_axis((0, 2)), shift_axis(None, 2)
    (1, -1, (1, 3), (1, 2))
    """
    if axis is None:
        if ndim is None:
            raise NotBatchable("an axis parameter of None")
        return tuple(range(1, ndim + 1))
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return int(axis) + 1 if axis >= 0 else int(axis)
    if isinstance(axis, (tuple, list)):
        return tuple(shift_axis(a) for a in axis)
    raise NotBatchable(f"an axis parameter of {axis!r}")


def _normalize(axis: int, ndim: int) -> int:
    return int(axis) % builtins.max(ndim, 1)


# --------------------------------------------------------------------------- derived rules


def elementwise(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], **params: Any):
    """The rule of every elementwise primitive: batched inputs get 1s after the batch axis
    up to the output's rank, so they broadcast against the unbatched ones exactly as one
    example does; then the primitive runs once.

    >>> import numpy as np
    >>> ctx = BatchContext(P.add, 2, ((3,), ()), (3,), np.dtype(float))
    >>> elementwise(ctx, [np.ones((2, 3)), 1.0], [True, False])
    array([[2., 2., 2.],
           [2., 2., 2.]])
    """
    nd = len(ctx.out_shape)
    new = [
        expand(a, ctx.size, ctx.shapes[i], nd) if b else a
        for i, (a, b) in enumerate(zip(args, batched))
    ]
    return ctx.prim(*new, **params)


def _params_for_batch(ctx: BatchContext, params: dict, ndim: int, none_means_all: bool) -> dict:
    new = {}
    for key, value in params.items():
        if key in AXIS_PARAMS:
            if value is None and not none_means_all:
                raise NotBatchable(f"parameter {key}=None")
            new[key] = shift_axis(value, ndim)
        elif key in SHAPE_PARAMS:
            if not isinstance(value, (tuple, list)):
                raise NotBatchable(f"parameter {key}={value!r} (not a shape)")
            new[key] = (ctx.size, *value)
        elif key == "axes" and isinstance(value, (tuple, list)):
            perm = sorted(_normalize(a, ndim) for a in value)
            if ctx.prim.kind == "shape" and perm == list(range(ndim)):
                # a permutation of one example's axes (transpose): the batch axis stays first
                new[key] = (0, *(_normalize(a, ndim) + 1 for a in value))
            else:
                new[key] = shift_axis(tuple(value))
        elif key in NEUTRAL_PARAMS:
            new[key] = value
        else:
            raise NotBatchable(
                f"parameter {key!r}: vmap does not know how it depends on the axes (declare "
                f"a rule with primitives.defbatch)"
            )
    return new


def reduction(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], **params: Any):
    """The derived rule of a reduction: axis parameters (``AXIS_PARAMS``; ``None`` means
    every axis of one example) are shifted past the batch axis, shape parameters
    (``SHAPE_PARAMS``) get the batch size in front, ``NEUTRAL_PARAMS`` pass unchanged;
    any other parameter makes it fall back to the loop.

    >>> import numpy as np
    >>> ctx = BatchContext(P.max, 2, ((3,),), (), np.dtype(float))
    >>> reduction(ctx, [np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]])], [True],
    ...           axis=None, keepdims=False)
    array([5., 7.])
    """
    ndim = len(ctx.shapes[0])
    new = _params_for_batch(ctx, params, ndim, none_means_all=True)
    return ctx.prim(*batch_all(ctx, args, batched), **new)


def by_params(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], **params: Any):
    """The derived rule of shape and index primitives (and of reductions that take several
    inputs): every input is batched (unbatched ones broadcast, a view), axis parameters
    are shifted, shape parameters get the batch size in front, a permutation ``axes`` of
    one example's axes keeps the batch axis first. An axis of ``None``, or a parameter
    vmap does not know, makes it fall back to the loop.

    >>> import numpy as np
    >>> ctx = BatchContext(P.transpose, 2, ((2, 3),), (3, 2), np.dtype(float))
    >>> by_params(ctx, [np.zeros((2, 2, 3))], [True], axes=(1, 0)).shape
    (2, 3, 2)
    """
    ndim = len(ctx.shapes[0]) if ctx.shapes else 0
    new = _params_for_batch(ctx, params, ndim, none_means_all=ctx.prim.kind == "reduction")
    return ctx.prim(*batch_all(ctx, args, batched), **new)


_DERIVED: dict[str, Callable[..., Any]] = {
    "elementwise": elementwise,
    "compare": elementwise,
    "reduction": reduction,
    "shape": by_params,
    "index": by_params,
}


def rule_for(prim: Primitive) -> Callable[..., Any] | None:
    """``prim``'s batching rule: the registered one (``defbatch``), else the one derived
    from its kind (elementwise and comparisons: broadcasting; reductions, shape and index
    primitives: shifted axis parameters), else None (``cr.vmap`` loops over the batch).

    >>> rule_for(P.exp) is elementwise, rule_for(P.matmul) is not None
    (True, True)
    """
    rule = prim.batch
    if rule is not None:
        return rule
    if REGISTRY.get(prim.name) is not prim:
        return None
    # a primitive registered after this module was imported: its explicit rule, or its kind's
    rule = _EXPLICIT.get(prim.name) or _DERIVED.get(prim.kind)
    if rule is not None:
        defbatch(prim, rule)
    return rule


def fallbacks() -> list[str]:
    """The registered primitives that have neither a batching rule nor a kind to derive one
    from: ``cr.vmap`` runs them once per example.

    >>> isinstance(fallbacks(), list)  # empty for the built-in primitives
    True
    """
    return sorted(name for name, prim in REGISTRY.items() if rule_for(prim) is None)


_WARNED: set[str] = set()


def warn_fallback(name: str, reason: str) -> None:
    """The one-time warning that ``name`` runs once per example."""
    if name in _WARNED:
        return
    _WARNED.add(name)
    warnings.warn(
        f"vmap: primitive {name!r} has no batching rule ({reason}); it runs once per example "
        f"(a Python loop over the batch). Register one with "
        f"chainrule.primitives.defbatch(prim, rule) to make it fast.",
        BatchingWarning,
        stacklevel=4,
    )


# --------------------------------------------------------------------------- structured batches
# Two kinds of batched values are kept in a structured form while rules allow it, because
# Jacobians and Hessians are built from them:
# - a ``Basis``, the unit vectors (example i is e_i): W @ e_i is column i of W, a transpose
#   view, instead of a matrix product with the identity;
# - a ``Scaled`` batch, ``base * factor`` with the factor unbatched: forward mode pushes a
#   batch of tangents through a chain of linear steps (t * f'(x), t / y, -t, t1 + t2 of
#   one base), and each step then costs an operation on one example's factor instead of
#   one on the whole batch. Only the last use multiplies the batch, once.
# Every other rule sees the dense values (``dense``).


class Basis:
    """The batch of unit vectors of one example's ``shape``: example ``i`` is 1 at flat
    position ``i`` and 0 elsewhere (the identity, ``size`` = the number of elements).

    >>> b = Basis((2,), np.float64)
    >>> b.size, b.dense()
    (2, array([[1., 0.],
           [0., 1.]]))
    """

    __slots__ = ("shape", "dtype", "size")

    def __init__(self, shape: tuple, dtype: Any) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.size = int(np.prod(self.shape, dtype=np.int64))

    def dense(self) -> np.ndarray:
        return np.eye(self.size, dtype=self.dtype).reshape((self.size, *self.shape))

    def example(self, i: int) -> np.ndarray:
        e = np.zeros(self.size, dtype=self.dtype)
        e[i] = 1
        return e.reshape(self.shape)

    def __repr__(self) -> str:
        return f"Basis({self.shape}, {self.dtype})"


class Scaled:
    """The batch ``base * factor``: ``base`` batched (a ``Basis`` or a dense batch, batch
    axis in front), ``factor`` unbatched and no larger than one example of the base."""

    __slots__ = ("base", "factor", "dtype", "_dense")

    def __init__(self, base: Any, factor: Any, dtype: Any) -> None:
        self.base = base
        self.factor = factor
        self.dtype = np.dtype(dtype)
        self._dense = None

    def dense(self) -> Any:
        if self._dense is None:  # computed once, however many rules read it
            base = self.base.dense() if isinstance(self.base, Basis) else self.base
            out = P.mul(base, self.factor)
            if out.dtype != self.dtype:
                out = P.astype(out, dtype=self.dtype)
            self._dense = out
        return self._dense

    def __repr__(self) -> str:
        return f"Scaled({self.base!r})"


STRUCTURED = (Basis, Scaled)


def dense(x: Any) -> Any:
    """The plain batched value of ``x`` (a structured batch becomes its array)."""
    return x.dense() if isinstance(x, STRUCTURED) else x


class NotStructured(Exception):
    """The structured rule does not apply: use the dense values."""


def _unit_vectors(x: Any) -> tuple[bool, Any]:
    """(True, per-position scale or None) when ``x`` is a 1-d basis, possibly scaled by an
    n-vector or a scalar; (False, None) otherwise."""
    if isinstance(x, Basis):
        return len(x.shape) == 1, None
    if isinstance(x, Scaled) and isinstance(x.base, Basis) and len(x.base.shape) == 1:
        return True, x.factor
    return False, None


def _scaled(base: Any, factor: Any, dtype: Any) -> Scaled:
    if isinstance(base, Scaled):
        return Scaled(base.base, P.mul(base.factor, factor), dtype)
    return Scaled(base, factor, dtype)


def _structured_mul(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    if batched[0] and batched[1]:
        raise NotStructured
    i = 0 if batched[0] else 1
    if tuple(ctx.shapes[i]) != ctx.out_shape:
        raise NotStructured  # the unbatched factor would make the result larger
    return _scaled(args[i], args[1 - i], ctx.out_dtype)


def _structured_div(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    if not batched[0] or batched[1] or tuple(ctx.shapes[0]) != ctx.out_shape:
        raise NotStructured
    if ctx.out_dtype.kind not in "fc":
        raise NotStructured
    # t / y = t * (1 / y): one reciprocal of the example-sized y
    return _scaled(args[0], P.div(1.0, args[1]), ctx.out_dtype)


def _structured_neg(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    return _scaled(args[0], -1, ctx.out_dtype)


def _same_base(a: Any, b: Any) -> tuple[Any, Any, Any] | None:
    """(base, factor of a, factor of b) when both are the same base, scaled or not."""
    base_a, fa = (a.base, a.factor) if isinstance(a, Scaled) else (a, 1)
    base_b, fb = (b.base, b.factor) if isinstance(b, Scaled) else (b, 1)
    if base_a is base_b and (isinstance(a, Scaled) or isinstance(b, Scaled)):
        return base_a, fa, fb
    return None


def _structured_add(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    # b f1 + b f2 = b (f1 + f2): gradients of a forked value add up in the factor
    if not (batched[0] and batched[1]) or tuple(ctx.shapes[0]) != tuple(ctx.shapes[1]):
        raise NotStructured
    same = _same_base(args[0], args[1])
    if same is None or tuple(ctx.shapes[0]) != ctx.out_shape:
        raise NotStructured
    base, fa, fb = same
    combine = P.add if ctx.prim.name == "add" else P.sub
    return Scaled(base, combine(fa, fb), ctx.out_dtype)


def _structured_same(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], **p: Any):
    # alias, copy, reshape of a basis: a basis of the new shape (the flat order of the
    # elements is unchanged); alias and copy of a scaled batch: the same value
    x = args[0]
    if isinstance(x, Basis) and ctx.prim.name != "astype":
        return Basis(ctx.out_shape, ctx.out_dtype)
    if isinstance(x, Scaled) and ctx.prim.name in ("alias", "copy"):
        return x
    raise NotStructured


def _structured_matmul(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    a, b = args
    if batched[0] == batched[1]:
        raise NotStructured
    if batched[1]:
        unit, v = _unit_vectors(b)
        if not unit or len(_shape(a)) < 1:
            raise NotStructured
        # A @ (e_i v_i) = A[..., :, i] v_i: the last axis of A (scaled) becomes the batch
        m = a if v is None else P.mul(a, v)
        return to_front(m, -1, len(_shape(a)))
    unit, v = _unit_vectors(a)
    if not unit or len(_shape(b)) < 1:
        raise NotStructured
    nb = len(_shape(b))
    if nb == 1:  # (e_i v_i) . u = v_i u_i
        return b if v is None else P.mul(b, v)
    # (e_i v_i) @ B = v_i B[..., i, :]: the second-to-last axis of B becomes the batch
    m = b if v is None else P.mul(b, _column(v))
    return to_front(m, -2, nb)


def _column(v: Any) -> Any:
    """An (n,)-vector as an (n, 1) column (a scalar stays a scalar)."""
    return P.reshape_to(v, (*_shape(v), 1)) if _shape(v) else v


def _structured_linear(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    x, w, b = args
    unit, v = _unit_vectors(x)
    if not batched[0] or batched[1] or batched[2] or not unit:
        raise NotStructured
    # (e_i v_i) @ W.T + b = v_i W[:, i] + b: W.T's rows, scaled, plus the bias
    wt = P.transpose(w, axes=(1, 0))
    rows = wt if v is None else P.mul(wt, _column(v))
    return P.add(rows, b)


_STRUCTURED_RULES: dict[str, Callable[..., Any]] = {
    "mul": _structured_mul,
    "div": _structured_div,
    "neg": _structured_neg,
    "add": _structured_add,
    "sub": _structured_add,
    "alias": _structured_same,
    "copy": _structured_same,
    "reshape": _structured_same,
    "matmul": _structured_matmul,
    "linear": _structured_linear,
}
#: Primitives that make a dense batch lazy (``Scaled``) when their other inputs are not
#: batched: the linear steps of a forward-mode chain.
LAZY = frozenset({"mul", "div", "neg"})


def structured_rule(name: str) -> Callable[..., Any] | None:
    """The rule that keeps a structured batch structured, for primitive ``name`` (or None)."""
    return _STRUCTURED_RULES.get(name)


# --------------------------------------------------------------------------- explicit rules


def _argextreme(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], axis: Any):
    (x,) = args
    if axis is None:
        # the index into one example's flattened values: flatten each example
        flat = P.reshape_to(x, (ctx.size, -1))
        return ctx.prim(flat, axis=1)
    return ctx.prim(x, axis=_normalize(axis, len(ctx.shapes[0])) + 1)


def _sum_to(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], shape, in_shape):
    (x,) = args
    lead = len(in_shape) - len(shape)
    # Sum the leading axes with keepdims (so the batch axis stays aligned), then drop them.
    kept = (ctx.size, *(1,) * lead, *shape)
    out = P.sum_to(x, shape=kept, in_shape=(ctx.size, *in_shape))
    return P.reshape_to(out, (ctx.size, *shape)) if lead else out


def _broadcast_to(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], shape):
    x = expand(args[0], ctx.size, ctx.shapes[0], len(shape))
    return P.broadcast_to(x, shape=(ctx.size, *shape))


def _reshape(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], shape, in_shape):
    return P.reshape(args[0], shape=(ctx.size, *shape), in_shape=(ctx.size, *in_shape))


def _transpose(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], axes):
    nd = len(ctx.shapes[0])
    return P.transpose(args[0], axes=(0, *(_normalize(a, nd) + 1 for a in axes)))


def _concatenate(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], axis, sizes):
    nd = len(ctx.shapes[0])
    parts = batch_all(ctx, args, batched)
    return P.concatenate(*parts, axis=_normalize(axis, nd) + 1, sizes=sizes)


def _along_axis(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], axis, shape):
    # take_along_axis / scatter_along_axis: both operands batched (a broadcast view for the
    # unbatched one), the axis shifted, one example's shape with the batch in front
    nd = len(shape)
    x, idx = batch_all(ctx, args, batched)
    return ctx.prim(x, idx, axis=_normalize(axis, nd) + 1, shape=(ctx.size, *shape))


def _one_hot(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], n, dtype):
    # the kernel takes a flat vector of labels: flatten the batch, then shape it back
    flat = P.reshape_to(args[0], (-1,))
    return P.reshape_to(P.one_hot(flat, n=n, dtype=dtype), ctx.out_batched)


def _label_check(
    ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], shape, op="cross_entropy"
):
    # a check of every label against the class count: the batch is more labels
    n = int(np.prod(ctx.shapes[0])) * ctx.size
    return ctx.prim(args[0], shape=(n, shape[1]), op=op)


def _dropout_mask(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], p, seed=None):
    # an int seed gives every example the same mask (a fresh generator each); a Generator
    # draws the examples' masks one after another, which one draw of the batch's shape is
    if isinstance(seed, (int, np.integer)):
        one = ctx.prim(np.zeros(ctx.shapes[0], dtype=ctx.out_dtype), p=p, seed=seed)
        return broadcast_batch(one, ctx.size, ctx.shapes[0])
    return ctx.prim(args[0], p=p, seed=seed)


def _axis_op(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], axis):
    # softmax, log_softmax: along one axis of one example
    return ctx.prim(args[0], axis=_normalize(axis, len(ctx.shapes[0])) + 1)


# matmul ----------------------------------------------------------------------------------


def _mm(size: int, a: Any, ab: bool, sa: tuple, b: Any, bb: bool, sb: tuple, out: tuple):
    """``a @ b`` for one example (shapes ``sa``, ``sb``, result ``out``), either or both
    batched (batch axis in front), as few matrix products as NumPy allows."""
    na, nb = len(sa), len(sb)
    full = (size, *out)
    if ab and not bb:
        if nb == 1 or (na == 1 and nb == 2):
            return P.matmul(a, b)  # (B, ..., k) @ (k,) and (B, k) @ (k, m)
        if na == 1:  # (k,) @ (..., k, m): a row vector per example
            a = P.reshape_to(a, (size, *(1,) * (nb - 2), 1, sa[0]))
            return P.reshape_to(P.matmul(a, b), full)
        if nb == 2:
            # One matrix product for the whole batch: (B * ..., k) @ (k, m).
            flat = P.reshape_to(a, (-1, sa[-1]))
            return P.reshape_to(P.matmul(flat, b), full)
        return P.matmul(expand(a, size, sa, builtins.max(na, nb)), b)
    if bb and not ab:
        if nb == 1:
            if na == 1:  # (k,) . (B, k)
                return P.matmul(b, a)
            # A @ x_i for every i: A @ X.T is (..., n, B), the batch axis last
            out_t = P.matmul(a, P.transpose(b, axes=(1, 0)))
            return to_front(out_t, -1, na)
        if na == 1:
            return P.matmul(a, b)  # (k,) @ (B, ..., k, m) -> (B, ..., m)
        return P.matmul(a, expand(b, size, sb, builtins.max(na, nb)))
    # both batched
    if na == 1 and nb == 1:
        return P.sum(P.mul(a, b), axis=1, keepdims=False, shape=(size, *sa))
    if na == 1:
        a = P.reshape_to(a, (size, *(1,) * (nb - 2), 1, sa[0]))
        return P.reshape_to(_matmul_pair(a, b), full)
    if nb == 1:
        b = P.reshape_to(b, (size, *(1,) * (na - 2), sb[0], 1))
        return P.reshape_to(_matmul_pair(a, b), full)
    nd = builtins.max(na, nb)
    return _matmul_pair(expand(a, size, sa, nd), expand(b, size, sb, nd))


def _matmul_pair(a: Any, b: Any) -> Any:
    # A contraction over one element is an outer product: much faster as one einsum than
    # as a stack of tiny matrix products (per-example weight gradients g x^T).
    sa, sb = _shape(a), _shape(b)
    if sa[-1] == 1 and sa[:-2] == sb[:-2]:
        return outer(P.reshape_to(a, sa[:-1]), P.reshape_to(b, (*sb[:-2], sb[-1])))
    return P.matmul(a, b)


def _matmul(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    a, b = args
    sa, sb = ctx.shapes
    return _mm(ctx.size, a, batched[0], sa, b, batched[1], sb, ctx.out_shape)


def _linear(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    x, w, b = args
    sx, sw, sb = ctx.shapes
    if batched[0] and not batched[1] and not batched[2]:
        if len(sx) == 1:
            return P.linear(x, w, b)  # (B, in) @ W.T + b: one matrix product
        flat = P.reshape_to(x, (-1, sx[-1]))
        return P.reshape_to(P.linear(flat, w, b), ctx.out_batched)
    # Weights or bias batched: x @ W.T with the matmul rule, then the bias added.
    wt = P.transpose(w, axes=(0, 2, 1) if batched[1] else (1, 0))
    if batched[0] or batched[1]:
        y = _mm(ctx.size, x, batched[0], sx, wt, batched[1], (sw[1], sw[0]), ctx.out_shape)
    else:
        y = P.matmul(x, wt)  # only the bias is batched: it broadcasts against x @ W.T
    if batched[2]:
        b = expand(b, ctx.size, sb, len(ctx.out_shape))
    return P.add(y, b)


# losses ----------------------------------------------------------------------------------


def _fold_one(ctx: BatchContext, a: Any, batched: bool, shape: tuple) -> Any:
    """One input batched (a view when it is not) with the batch folded into its sample
    axis: (B, N, ...) -> (B * N, ...)."""
    if not batched:
        a = broadcast_batch(a, ctx.size, shape)
    return P.reshape_to(a, (ctx.size * shape[0], *shape[1:]))


def _fold(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> list:
    return [_fold_one(ctx, a, b, ctx.shapes[i]) for i, (a, b) in enumerate(zip(args, batched))]


def _reduce_samples(ctx: BatchContext, per_sample: Any, n: int, reduction: str) -> Any:
    """Per-sample values of the folded batch, reduced per example as ``reduction`` says."""
    per = P.reshape_to(per_sample, (ctx.size, n))
    if reduction == "none":
        return per
    total = P.sum(per, axis=1, keepdims=False, shape=(ctx.size, n))
    return total if reduction == "sum" else P.mul(total, 1.0 / n)


def _cross_entropy(ctx, args, batched, reduction):
    n = ctx.shapes[0][0]
    x, logp, labels = _fold(ctx, args, batched)
    per = P.cross_entropy(x, logp, labels, reduction="none")
    return _reduce_samples(ctx, per, n, reduction)


def _soft_cross_entropy(ctx, args, batched, reduction):
    n = ctx.shapes[0][0]
    x, t = _fold(ctx, args, batched)
    return _reduce_samples(ctx, P.soft_cross_entropy(x, t, reduction="none"), n, reduction)


def _cross_entropy_vjp(ctx, args, batched, reduction):
    g, logp, labels = args
    n, c = ctx.shapes[1]
    size = ctx.size
    logp = _fold_one(ctx, logp, batched[1], (n, c))
    labels = _fold_one(ctx, labels, batched[2], ctx.shapes[2])
    if not batched[0] and reduction != "none":
        # one upstream value for every example: the folded batch is one big "sum"
        scale = g if reduction == "sum" else P.mul(g, 1.0 / n)
        out = P.cross_entropy_vjp(scale, logp, labels, reduction="sum")
    else:
        if reduction == "none":
            rows = g if batched[0] else broadcast_batch(g, size, (n,))
        else:  # each example's upstream value, spread over its n rows (divided for "mean")
            per = g if reduction == "sum" else P.mul(g, 1.0 / n)
            rows = P.broadcast_to(P.reshape_to(per, (size, 1)), shape=(size, n))
        rows = P.reshape_to(rows, (size * n,))
        out = P.cross_entropy_vjp(rows, logp, labels, reduction="none")
    return P.reshape_to(out, (size, n, c))


# indexing --------------------------------------------------------------------------------


def _is_int(p: Any) -> bool:
    return isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_))


def _index_plan(
    ctx: BatchContext,
    x_batched: bool,
    index: Any,
    arrays: Sequence[Any],
    flags: Sequence[bool],
    nd: int,
    out_nd: int,
) -> tuple[tuple, list, Any]:
    """How to index a batch: (template, arrays, perm) such that ``x_b[template filled with
    arrays]`` transposed by ``perm`` is the batch of one example's ``x[index]`` (``x`` has
    ``nd`` axes, the result ``out_nd``).

    NumPy's rule decides where the dimensions of advanced indices go: together, where the
    first of them stood, when they are adjacent; in front when a slice, None or ``...``
    separates them (integers count as advanced indices when any array is present).
    """
    size = ctx.size
    entries = list(index) if isinstance(index, tuple) else [index]
    # Resolve Slots (program values) and constant boolean masks (-> integer arrays).
    resolved: list[tuple[str, Any, bool]] = []  # (kind, value, batched)
    for p in entries:
        if type(p) is P.Slot:
            value, b = arrays[p.k], flags[p.k]
            dtype = getattr(value, "dtype", None)
            if dtype is not None and dtype.kind == "b":
                raise BatchingError(
                    "vmap: indexing with a boolean mask computed from the arguments gives a "
                    "shape that depends on the values; use cr.where(mask, x, 0) instead"
                )
            resolved.append(("array", value, b))
        elif isinstance(p, np.ndarray) and p.dtype.kind == "b":
            for part in np.nonzero(p):
                resolved.append(("array", part, False))
        elif isinstance(p, np.ndarray):
            resolved.append(("array", p, False))
        elif isinstance(p, (bool, np.bool_)):
            raise NotBatchable("a boolean scalar index")
        elif _is_int(p):
            resolved.append(("int", int(p), False))
        elif p is None:
            resolved.append(("none", None, False))
        elif p is Ellipsis:
            resolved.append(("ellipsis", None, False))
        elif isinstance(p, slice):
            resolved.append(("slice", p, False))
        else:
            raise NotBatchable(f"index entry {p!r}")
    has_array = any(k == "array" for k, _, _ in resolved)
    consumed = sum(1 for k, _, _ in resolved if k in ("array", "int", "slice"))
    n_ellipsis = nd - consumed

    def result_dims(kind: str) -> int:
        return {"slice": 1, "none": 1, "ellipsis": n_ellipsis}.get(kind, 0)

    if not has_array:
        # Basic indexing keeps the order of the axes: a leading full slice keeps the batch.
        template = (slice(None), *(v if k != "ellipsis" else Ellipsis for k, v, _ in resolved))
        return template, [], None
    adv = [i for i, (k, _, _) in enumerate(resolved) if k in ("array", "int")]
    adjacent = adv == list(range(adv[0], adv[-1] + 1))
    before = sum(result_dims(resolved[i][0]) for i in range(adv[0]))
    # the broadcast rank of one example's advanced indices (a batched array has the batch
    # axis in front of its example's shape)
    a_nd = builtins.max(
        (len(_shape(v)) - (1 if b else 0) for k, v, b in resolved if k == "array"),
        default=0,
    )
    new_arrays: list[Any] = []
    template: list[Any] = []

    def add_array(value: Any, batched: bool, traced: bool) -> Any:
        if batched:
            value = expand(value, size, _shape(value)[1:], a_nd)
        if traced or batched:
            new_arrays.append(value)
            return P.Slot(len(new_arrays) - 1)
        return value

    for entry, (k, v, b) in zip(entries_or_resolved(entries, resolved), resolved):
        if k == "array":
            template.append(add_array(v, b, traced=type(entry) is P.Slot))
        elif k == "ellipsis":
            template.append(Ellipsis)
        else:
            template.append(v)
    perm = None
    if x_batched:
        rows = np.arange(size).reshape((size, *(1,) * a_nd))
        template.insert(0, rows)
        if not (adjacent and adv[0] == 0):
            # The batch rows and the example's advanced indices are now apart: their
            # dimensions come first, (B, *A, rest). One example had them at `before`.
            if adjacent and before:
                rest = out_nd - a_nd - before
                perm = (
                    0,
                    *range(1 + a_nd, 1 + a_nd + before),
                    *range(1, 1 + a_nd),
                    *range(1 + a_nd + before, 1 + a_nd + before + rest),
                )
    else:
        # x is shared; the batch is a dimension of the broadcast advanced indices, in front
        # of theirs: where the advanced dimensions go, the batch goes.
        if adjacent and before:
            perm = ("front", before)
    return tuple(template), new_arrays, perm


def entries_or_resolved(entries: list, resolved: list) -> list:
    """The original entry for each resolved entry (a boolean mask resolves to several)."""
    out = []
    for p in entries:
        if isinstance(p, np.ndarray) and p.dtype.kind == "b":
            out.extend([p] * p.ndim)
        else:
            out.append(p)
    return out


def _apply_perm(x: Any, perm: Any, ndim: int) -> Any:
    if perm is None:
        return x
    if perm[0] == "front":
        return to_front(x, perm[1], ndim)
    return P.transpose(x, axes=perm)


def _undo_perm(x: Any, perm: Any, ndim: int) -> Any:
    """The inverse of ``_apply_perm``: a batch laid out as the results are, back to the
    order in which the batched index produces them."""
    if perm is None:
        return x
    if perm[0] == "front":
        return from_front(x, perm[1], ndim)
    return P.transpose(x, axes=tuple(int(a) for a in np.argsort(perm)))


def _getitem(ctx, args, batched, index, shape):
    x, arrays = args[0], args[1:]
    template, new_arrays, perm = _index_plan(
        ctx, batched[0], index, arrays, batched[1:], len(shape), len(ctx.out_shape)
    )
    if batched[0]:
        out = P.getitem(x, *new_arrays, index=template, shape=(ctx.size, *shape))
    else:
        out = P.getitem(x, *new_arrays, index=template, shape=shape)
    return _apply_perm(out, perm, len(ctx.out_shape) + 1)


def _indexed_shape(shape: tuple, index: Any, array_shapes: Sequence[tuple]) -> tuple:
    """The shape of one example's ``x[index]`` for an ``x`` of ``shape`` (index arrays of
    ``array_shapes``)."""
    probe = np.broadcast_to(np.zeros((), dtype=np.int8), shape)
    values = [np.zeros(s, dtype=np.intp) for s in array_shapes]
    filled = P.fill_index(index, tuple(values))
    return probe[filled].shape


def _batched_values(ctx, v: Any, v_batched: bool, v_shape: tuple, target: tuple, perm: Any):
    """Values written through an index (index_add's g, index_put's v) as a batch laid out
    the way the batched index reads: broadcast to one example's indexed shape ``target``."""
    if v_batched:
        v = expand(v, ctx.size, v_shape, len(target))
    else:
        v = P.reshape_to(v, (1, *(1,) * (len(target) - len(v_shape)), *v_shape))
    if _shape(v) != (ctx.size, *target):
        v = P.broadcast_to(v, shape=(ctx.size, *target))
    return _undo_perm(v, perm, len(target) + 1)


def _index_add(ctx, args, batched, index, shape):
    g, arrays = args[0], args[1:]
    target = _indexed_shape(shape, index, ctx.shapes[1:])
    template, new_arrays, perm = _index_plan(
        ctx, True, index, arrays, batched[1:], len(shape), len(target)
    )
    g = _batched_values(ctx, g, batched[0], ctx.shapes[0], target, perm)
    return P.index_add(g, *new_arrays, index=template, shape=(ctx.size, *shape))


def _index_put(ctx, args, batched, index, shape):
    x, v, arrays = args[0], args[1], args[2:]
    target = _indexed_shape(shape, index, ctx.shapes[2:])
    template, new_arrays, perm = _index_plan(
        ctx, True, index, arrays, batched[2:], len(shape), len(target)
    )
    x = x if batched[0] else broadcast_batch(x, ctx.size, ctx.shapes[0])
    v = _batched_values(ctx, v, batched[1], ctx.shapes[1], target, perm)
    return P.index_put(x, v, *new_arrays, index=template, shape=(ctx.size, *shape))


# --------------------------------------------------------------------------- outer products
# Per-example weight gradients are batched outer products g_b x_b^T. NumPy's broadcasting
# multiply (B, n, 1) * (B, 1, m) runs its inner loop once per row, about twice as slow as
# einsum's; this private primitive computes them with einsum. (When a registered einsum
# primitive exists, this rule should use it and the private one can go.)


def _outer_impl(a: Any, b: Any) -> Any:
    return np.einsum("...i,...j->...ij", a, b)


outer = Primitive("batched_outer", _outer_impl, kind="contraction", nin=2, register=False)


def _outer_vjp_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    # d/da_i sum_ij g_ij a_i b_j = sum_j g_ij b_j: a matrix-vector product per example
    col = P.reshape_to(b, (*_shape(b), 1))
    return P.reshape_to(P.matmul(g, col), _shape(g)[:-1])


def _outer_vjp_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    row = P.reshape_to(a, (*_shape(a)[:-1], 1, _shape(a)[-1]))
    out = P.matmul(row, g)
    return P.reshape_to(out, (*_shape(out)[:-2], _shape(out)[-1]))


defvjp(
    outer,
    _outer_vjp_a,
    _outer_vjp_b,
    complex_rules=(
        lambda g, ans, a, b: _outer_vjp_a(g, ans, a, P.conj(b)),
        lambda g, ans, a, b: _outer_vjp_b(g, ans, P.conj(a), b),
    ),
)
# bilinear: each input's tangent contribution is the product with the other input
defjvp(outer, lambda t, ans, a, b: outer(t, b), lambda t, ans, a, b: outer(a, t))
deflower(outer, "np.einsum('...i,...j->...ij', {0}, {1})")


def _outer_rule(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    a, b = batch_all(ctx, args, batched)
    return outer(a, b)


defbatch(outer, _outer_rule)
BATCH.pop("batched_outer", None)  # not a registered primitive: kept out of the table


def _mul(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    """mul, with the batched outer product (n, 1) * (1, m) as one einsum."""
    if batched[0] and batched[1]:
        sa, sb = ctx.shapes
        if len(sa) >= 2 and len(sa) == len(sb) and sa[:-2] == sb[:-2]:
            if sa[-1] == 1 and sb[-2] == 1:
                left, right, n, m = args[0], args[1], sa[-2], sb[-1]
            elif sa[-2] == 1 and sb[-1] == 1:
                left, right, n, m = args[1], args[0], sb[-2], sa[-1]
            else:
                left = None
            if left is not None and n * m >= 256:
                lead = (ctx.size, *sa[:-2])
                out = outer(P.reshape_to(left, (*lead, n)), P.reshape_to(right, (*lead, m)))
                return out
    return elementwise(ctx, args, batched)


# linear algebra (rules_linalg) ------------------------------------------------------------
# NumPy's linalg functions (and the kernels built on them) treat leading axes as a stack of
# matrices, so a batch is one more stack axis: the batched inputs get 1s after the batch
# axis until every input has as many stack axes, and the unbatched ones broadcast.


def _stacked(cores: tuple) -> Callable[..., Any]:
    """The rule of a primitive that works on the last ``cores[i]`` axes of input ``i`` and
    broadcasts the axes before them (a stack of matrices)."""

    def rule(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], **p: Any):
        stack = builtins.max(len(s) - c for s, c in zip(ctx.shapes, cores))
        new = []
        for a, b, s, c in zip(args, batched, ctx.shapes, cores):
            if b and len(s) - c < stack:
                a = P.reshape_to(a, (ctx.size, *(1,) * (stack - len(s) + c), *s))
            new.append(a)
        return ctx.prim(*new, **p)

    return rule


def _phase_check(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], op: str):
    """The identity on its first input with a check over all of it (and the scale of the
    whole cotangent): the examples are checked together."""
    k, partner, ref = args
    if not batched[0]:
        k = broadcast_batch(k, ctx.size, ctx.shapes[0])
    return ctx.prim(k, partner, ref, op=op)


def _solve(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    a, b = args
    sa, sb = ctx.shapes
    if len(sb) != 1:  # b a stack of matrices, like a
        return _stacked((2, 2))(ctx, args, batched)
    # a 1-d b is one vector for every matrix of a; batched it would read as a stack of
    # matrices, so it goes in as a column, and the column comes out again
    size = ctx.size
    if batched[1]:
        b = P.reshape_to(b, (size, *(1,) * (len(sa) - 2), sb[0], 1))
    else:
        b = P.reshape_to(b, (sb[0], 1))
    if not batched[0]:
        a = broadcast_batch(a, size, sa)
    return P.reshape_to(ctx.prim(a, b), ctx.out_batched)


def _einsum(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], spec, plan):
    # one more label, the batch's, in front of every batched operand and of the output;
    # unbatched operands keep theirs (einsum_apply plans for the new shapes)
    ins, out = RL._split_spec(spec)
    label = next(c for c in RL.SYMBOLS if c not in spec)
    new_ins = tuple(label + s if b else s for s, b in zip(ins, batched))
    return RL.einsum_apply(new_ins, label + out, list(args))


# network primitives (rules_nn) ------------------------------------------------------------
# Convolutions and pooling are built from ``windows`` (im2col) and ``window_sum`` (col2im),
# whose first axis is already a sample axis: the batch folds into it. The fused recurrences
# run N sequences side by side, so a batch of them with shared weights is B * N sequences
# in one scan; per-example weights (an ensemble, or vmap over every argument) cannot share
# a scan, and the rule runs the kernel once per example (a loop over the batch inside the
# rule, each step still the fused kernel).


def _pad(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], pads, value):
    # the batch axis is padded by nothing
    return RN.pad(args[0], pads=(((0, 0), ctx.size), *pads), value=value)


def _fold_window_params(ctx: BatchContext, shape: tuple, p: dict) -> dict:
    return {**p, "shape": (ctx.size * shape[0], *shape[1:])}


def _windows(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], **p: Any):
    shape = p["shape"]
    x = P.reshape_to(args[0], (ctx.size * shape[0], *shape[1:]))
    out = RN.windows(x, **_fold_window_params(ctx, shape, p))
    return P.reshape_to(out, ctx.out_batched)


def _window_sum(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], **p: Any):
    shape = p["shape"]  # the output's, (N, C, *S)
    g = _fold_one(ctx, args[0], True, ctx.shapes[0])
    out = RN.window_sum(g, **_fold_window_params(ctx, shape, p))
    return P.reshape_to(out, ctx.out_batched)


def _argextreme_numpy(ctx: BatchContext, args, batched, fn: str, axis: Any, keepdims: bool):
    """chainrule.numpy's argmax/argmin: along the shifted axis; over all of one example's
    axes (axis=None) as along one axis of the example flattened."""
    x = batch_all(ctx, args, batched)[0]
    ndim = len(ctx.shapes[0])
    if axis is not None:
        return ctx.prim(x, fn=fn, axis=_normalize(axis, ndim) + 1, keepdims=keepdims)
    out = ctx.prim(P.reshape_to(x, (ctx.size, -1)), fn=fn, axis=1, keepdims=False)
    return P.reshape_to(out, (ctx.size,) + (1,) * ndim) if keepdims else out


def _argwhere(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool]) -> Any:
    outs = [ctx.prim(a) for a in (args[0][i] for i in range(ctx.size))]
    lengths = sorted({np.shape(o)[0] for o in outs})
    if len(lengths) > 1:
        raise BatchingError(
            f"vmap: argwhere (nonzero) finds {', '.join(map(str, lengths))} positions in "
            f"different examples, and a batch holds results of one shape; compute a mask "
            f"(x != 0) and use cr.where instead"
        )
    return RN._stack(outs, axis=0)


def _ragged(name: str, what: str) -> Callable[..., Any]:
    """The rule of a primitive whose result's length depends on the values: one example at
    a time, stacked when the examples agree (as a loop would), else a BatchingError."""

    def rule(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], **p: Any) -> Any:
        outs = [
            ctx.prim(*[a[i] if b else a for a, b in zip(args, batched)], **p)
            for i in range(ctx.size)
        ]
        shapes = sorted({np.shape(o) for o in outs})
        if len(shapes) > 1:
            raise BatchingError(
                f"vmap: {name} finds {what} of shapes {', '.join(map(str, shapes))} in "
                f"different examples, and a batch holds results of one shape"
            )
        return RN._stack(outs, axis=0)

    return rule


def _histogram_index(ctx: BatchContext, args, batched, uniform: bool, range: Any) -> Any:
    # the bin of each value: elementwise in the values when the edges are shared
    if not any(batched[1:]):
        return ctx.prim(*args, uniform=uniform, range=range)
    return _per_example(ctx, args, batched, {"uniform": uniform, "range": range})


def _per_example(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], p: dict):
    """The primitive once per example, stacked: for the recurrences with per-example
    weights, which no single scan can run."""
    outs = [
        ctx.prim(*[a[i] if b else a for a, b in zip(args, batched)], **p) for i in range(ctx.size)
    ]
    return RN._stack(outs, axis=0)


def _scan(n_seq: int, n_state: int, n_out: int) -> Callable[..., Any]:
    """The rule of a fused recurrence whose first ``n_seq`` inputs are (T, N, G) sequences,
    the next ``n_state`` (N, H) states and the rest weights; its output has ``n_out``
    leading block axes before (T, N, H) (0 for the Elman RNN, whose output is (T, N, H))."""

    def rule(ctx: BatchContext, args: Sequence[Any], batched: Sequence[bool], **p: Any):
        if any(batched[n_seq + n_state :]):
            return _per_example(ctx, args, batched, p)
        size = ctx.size
        new = []
        for i in range(n_seq):  # (B, T, N, G) -> (T, B * N, G): the batch joins the N axis
            T, N, G = ctx.shapes[i]
            x = args[i] if batched[i] else broadcast_batch(args[i], size, (T, N, G))
            new.append(P.reshape_to(to_front(x, 1, 4), (T, size * N, G)))
        for i in range(n_seq, n_seq + n_state):
            new.append(_fold_one(ctx, args[i], batched[i], ctx.shapes[i]))
        new.extend(args[n_seq + n_state :])
        out = ctx.prim(*new, **p)
        lead, (T, N, H) = ctx.out_shape[:n_out], ctx.out_shape[n_out:]
        out = P.reshape_to(out, (*lead, T, size, N, H))
        return to_front(out, n_out + 1, len(lead) + 4)

    return rule


# --------------------------------------------------------------------------- the table

#: A primitive vmap adds to programs: a value read around the graph (``t.detach()``, an
#: array taken from ``t.data``) is this identity, so the program still computes it from the
#: arguments (while no gradient flows through it).
stop_gradient = Primitive(
    "stop_gradient",
    lambda x: x,
    kind="elementwise",
    save_inputs=False,
    differentiable=False,
    register=False,
)
deflower(stop_gradient, "{0}")
defbatch(stop_gradient, elementwise)
BATCH.pop("stop_gradient", None)  # not a registered primitive: kept out of the table

_EXPLICIT: dict[str, Callable[..., Any]] = {
    "argmax": _argextreme,
    "argmin": _argextreme,
    "sum_to": _sum_to,
    "broadcast_to": _broadcast_to,
    "reshape": _reshape,
    "transpose": _transpose,
    "concatenate": _concatenate,
    "take_along_axis": _along_axis,
    "scatter_along_axis": _along_axis,
    "one_hot": _one_hot,
    "label_check": _label_check,
    "dropout_mask": _dropout_mask,
    "softmax": _axis_op,
    "log_softmax": _axis_op,
    "matmul": _matmul,
    "linear": _linear,
    "cross_entropy": _cross_entropy,
    "cross_entropy_vjp": _cross_entropy_vjp,
    "soft_cross_entropy": _soft_cross_entropy,
    "getitem": _getitem,
    "index_add": _index_add,
    "index_put": _index_put,
    "alias": elementwise,
    "mul": _mul,
    "sum": reduction,
    "max": reduction,
    "min": reduction,
    "logsumexp": reduction,
    "pad": _pad,
    "windows": _windows,
    "window_sum": _window_sum,
    "rnn_scan": _scan(1, 1, 0),
    "lstm_scan": _scan(1, 2, 1),
    "gru_scan": _scan(1, 1, 1),
    "inv": _stacked((2,)),
    "det": _stacked((2,)),
    "slogdet": _stacked((2,)),
    "adjugate": _stacked((2,)),
    "cholesky": _stacked((2,)),
    "qr": _stacked((2,)),
    "pinv": _stacked((2,)),
    "eigh": _stacked((2,)),
    "eigvalsh": _stacked((2,)),
    "eig": _stacked((2,)),
    "eigvals": _stacked((2,)),
    "svd": _stacked((2,)),
    "svdvals": _stacked((2,)),
    "eig_ratio": _stacked((2, 1)),
    "phase_check": _phase_check,
    "cross": _stacked((1, 1)),
    "solve": _solve,
    "einsum": _einsum,
    # NumPy's lstsq takes one matrix: each example's problem is solved in turn (a loop
    # over the batch inside the rule, no warning: there is no batched LAPACK call for it)
    "lstsq": lambda ctx, args, batched, **p: _per_example(ctx, args, batched, p),
    # chainrule.numpy's running sums, products and first-order recurrences along one axis
    "argextreme": lambda ctx, args, batched, fn, axis, keepdims: _argextreme_numpy(
        ctx, args, batched, fn, axis, keepdims
    ),
    "searchsorted": lambda ctx, args, batched, side: (
        ctx.prim(args[0], args[1], side=side)
        if not batched[0]
        # NumPy searches one sorted array: a batch of them is searched one by one
        else _per_example(ctx, args, batched, {"side": side})
    ),
    # the result's length depends on the values: one example at a time (and stacked when
    # the examples agree, as a loop would)
    "argwhere": lambda ctx, args, batched: _argwhere(ctx, args, batched),
    "cumsum": by_params,
    "cumprod": by_params,
    "linrec": by_params,
    # np.unique's integer answers: their length depends on the values
    "unique_part": _ragged("unique", "unique values"),
    "histogram_index": _histogram_index,
}


def _register() -> None:
    """Every built-in primitive gets its rule in the registry: the explicit ones above,
    and the derived one of its kind for the rest (elementwise and comparisons)."""
    for name, prim in REGISTRY.items():
        if prim.batch is not None:
            continue
        rule = _EXPLICIT.get(name) or _DERIVED.get(prim.kind)
        if rule is not None:
            defbatch(prim, rule)


_register()
