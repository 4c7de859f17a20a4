"""Function transforms (JAX style): ``grad``, ``value_and_grad``, ``vjp``, ``jvp``,
``jacobian``, ``hessian``, ``hvp`` and ``checkpoint``, all thin layers over the engine.

Each transform gives every differentiated argument a fresh node of its own (an alias), so
gradients are taken with respect to exactly that use of the argument, and nested
transforms (``grad(grad(f))``) never confuse the inner and the outer variable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, state
from . import rules as P
from .engine import Node
from .primitives import Primitive
from .tensor import (
    Tensor,
    _from_node,
    _to_array,
    _wrap,
    enable_grad,
    no_grad,
    notify_node,
)

alias = Primitive(
    "alias",
    lambda x: x,
    vjps=(lambda g, ans, x: g,),
    jvps=(lambda t, ans, x: t,),
    save_inputs=False,
    linear=True,
)


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else _wrap(_to_array(x))


def _make_alias(x: Any, op: str, position: int) -> Tensor:
    """A new node standing for argument ``position``, connected to ``x``'s graph if any."""
    x = _as_tensor(x)
    if x.dtype.kind not in "fc":
        raise TypeError(
            f"{op}: argument {position} has dtype {x.dtype}; only floating-point (or complex) "
            f"arguments can be differentiated"
        )
    edge = (x._node or x) if x.requires_grad else None
    node = Node.new(alias, (edge,), (None,), None, x.shape, x.dtype)
    if state.ctx.observers:
        notify_node(node, (x.data,), x.data)
    return _from_node(x.data, node)


def _argnums_tuple(op: str, argnums: Any, nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError(f"{op}: argnums must name at least one argument")
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(
                f"{op}: argnums {argnums!r} out of range for a call with {nargs} positional "
                f"argument(s)"
            )
    return tuple(n % nargs for n in nums)


def _alias_args(op: str, args: tuple, argnums: Any) -> tuple[list, list[Tensor], bool]:
    """The call's arguments with those named by ``argnums`` replaced by aliases; also
    the aliases and whether the derivative must be recorded."""
    nums = _argnums_tuple(op, argnums, len(args))
    recorded = _recorded(*(args[i] for i in nums))
    args = list(args)
    aliases = []
    for i in nums:
        args[i] = _make_alias(args[i], op, i)
        aliases.append(args[i])
    return args, aliases, recorded


def _outputs(op: str, out: Any) -> tuple[list[Tensor], bool]:
    """Normalise f's result to a list of Tensors (and whether it was a single one)."""
    if isinstance(out, Tensor):
        return [out], True
    if isinstance(out, (tuple, list)) and out and all(isinstance(o, Tensor) for o in out):
        return list(out), False
    if isinstance(out, (np.ndarray, np.generic, float, int)):
        return [_as_tensor(out)], True
    raise TypeError(
        f"{op}: the function must return a Tensor or a tuple of Tensors, got {type(out).__name__}"
    )


def _recorded(*values: Any) -> bool:
    """Record the derivative computation itself? Inside another transform, or when an
    argument is part of a user's graph (so the result can be differentiated again)."""
    # Inside another transform (this thread's depth > 0), results are recorded
    # (differentiable again), because an outer transform may differentiate them.
    if state.ctx.depth > 0:
        return True
    return any(isinstance(v, Tensor) and v.requires_grad for v in values)


def _call(f: Callable, args: Sequence[Any], kwargs: dict) -> Any:
    c = state.ctx
    c.depth += 1
    try:
        with enable_grad():
            return f(*args, **kwargs)
    finally:
        c.depth -= 1


def _finish(value: Any, recorded: bool) -> Tensor:
    """A result Tensor: graph-connected when recorded, a plain leaf otherwise."""
    if isinstance(value, Tensor):
        return value if recorded else value.detach()
    return _wrap(value)


def _zeros_for(t: Tensor) -> Tensor:
    return _wrap(np.zeros(t.shape, dtype=t.dtype))


def _seed(op: str, value: Any, like: Tensor, recorded: bool) -> Any:
    """Validate a cotangent/tangent against ``like`` and convert it for the engine."""
    if isinstance(value, Tensor):
        arr_shape, dtype = value.shape, value.dtype
    else:
        value = _to_array(value)
        arr_shape, dtype = value.shape, value.dtype
    if tuple(arr_shape) != like.shape:
        raise ValueError(f"{op}: got shape {tuple(arr_shape)}, expected {like.shape}")
    if recorded:
        t = value if isinstance(value, Tensor) else _wrap(value)
        return t if dtype == like.dtype else P.astype(t, dtype=like.dtype)
    arr = value.data if isinstance(value, Tensor) else value
    return arr if dtype == like.dtype else arr.astype(like.dtype)


# --------------------------------------------------------------------------- reverse mode


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Transform ``f`` into a function returning ``(f(*args), gradient)``.

    ``f`` must return a one-element Tensor. With a tuple ``argnums`` the gradient is a
    tuple, one per named argument.

    >>> import chainrule as cr
    >>> value, g = cr.value_and_grad(lambda x: (x ** 2).sum())(cr.tensor([1.0, 2.0]))
    >>> value, g
    (tensor(5.), tensor([2., 4.]))
    """

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> tuple[Tensor, Any]:
        args, aliases, recorded = _alias_args("grad", args, argnums)
        out = _call(f, args, kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(
                f"grad: the function must return a one-element Tensor, got {type(out).__name__}"
            )
        if out.size != 1:
            raise ValueError(
                f"grad: the function must return a one-element tensor, got shape {out.shape}; "
                f"use vjp or jacobian for non-scalar outputs"
            )
        if out.dtype.kind not in "fc":
            raise TypeError(
                f"grad: the function's output has dtype {out.dtype}; it must be "
                f"floating-point to be differentiated"
            )
        grads = _reverse([out], [None], aliases, recorded, retain=recorded)
        value = _finish(out, recorded)
        if isinstance(argnums, int):
            return value, grads[0]
        return value, tuple(grads)

    return wrapper


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Transform ``f`` (returning a one-element Tensor) into its gradient function.

    Composable: ``grad(grad(f))`` is the second derivative.

    >>> import chainrule as cr
    >>> d2 = cr.grad(cr.grad(lambda x: x ** 3))
    >>> d2(2.0)
    tensor(12.)
    """
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]

    return wrapper


def _reverse(
    outs: list[Tensor],
    cotangents: list[Any],
    aliases: list[Tensor],
    recorded: bool,
    retain: bool,
) -> list[Tensor]:
    """Gradients of ``outs`` (seeded with ``cotangents``; None = ones) at ``aliases``."""
    roots, seeds = [], []
    for out, ct in zip(outs, cotangents):
        if out._node is None:
            continue  # does not depend on any argument
        if ct is None:
            ct = np.ones(out.shape, dtype=out.dtype)
            if recorded:
                ct = _wrap(ct)
        roots.append(out)
        seeds.append(ct)
    targets = [a._node for a in aliases]
    found: dict = {}
    if roots:
        found = (
            engine.backward(
                roots, seeds, retain_graph=retain, create_graph=recorded, targets=targets
            )
            or {}
        )
    grads = []
    for a in aliases:
        g = found.get(a._node)
        if g is None:
            grads.append(_zeros_for(a))
        else:
            grads.append(_finish(g, recorded))
    return grads


def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """Evaluate ``f(*primals)`` and return ``(out, vjp_fn)``.

    ``vjp_fn(cotangent)`` returns a tuple with one gradient per primal: the
    vector-Jacobian product. It can be called many times, and it is differentiable in the
    cotangent and in the primals (so forward mode can be had from two reverse passes).

    >>> import chainrule as cr
    >>> out, vjp_fn = cr.vjp(lambda x: x * 3, cr.tensor([1.0, 2.0]))
    >>> vjp_fn(cr.tensor([1.0, 10.0]))
    (tensor([ 3., 30.]),)
    """
    if not primals:
        raise ValueError("vjp: needs at least one primal")
    recorded_primals = _recorded(*primals)
    aliases = [_make_alias(p, "vjp", i) for i, p in enumerate(primals)]
    outs, single = _outputs("vjp", _call(f, aliases, {}))

    def vjp_fn(cotangent: Any) -> tuple[Tensor, ...]:
        cts = [cotangent] if single else list(cotangent)
        if len(cts) != len(outs):
            raise ValueError(f"vjp_fn: expected {len(outs)} cotangents, got {len(cts)}")
        recorded = recorded_primals or _recorded(*cts)
        seeds = [_seed("vjp_fn: cotangent", c, o, recorded) for c, o in zip(cts, outs)]
        return tuple(_reverse(outs, seeds, aliases, recorded, retain=True))

    results = [_finish(o, recorded_primals) for o in outs]
    return (results[0] if single else tuple(results)), vjp_fn


# --------------------------------------------------------------------------- forward mode


def _primals_and_tangents(
    op: str, primals: tuple, tangents: tuple, recorded: bool
) -> tuple[list[Tensor], list[Any]]:
    """Aliases for the primals and the tangents checked against them (one per primal)."""
    if len(primals) != len(tangents):
        raise ValueError(
            f"{op}: got {len(primals)} primals but {len(tangents)} tangents; give one "
            f"tangent per primal"
        )
    aliases = [_make_alias(p, op, i) for i, p in enumerate(primals)]
    seeds = [
        _seed(f"{op}: tangent {i}", t, a, recorded)
        for i, (t, a) in enumerate(zip(tangents, aliases))
    ]
    return aliases, seeds


def _forward(
    outs: list[Tensor], aliases: list[Tensor], tangents: list[Any], recorded: bool
) -> list[Tensor]:
    seeds = {a._node: t for a, t in zip(aliases, tangents)}
    result = engine.forward_tangents([o._node for o in outs], seeds, recorded)
    return [_zeros_for(o) if t is None else _finish(t, recorded) for o, t in zip(outs, result)]


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J @ tangents)``, tangents pushed through each
    primitive's JVP rule.

    >>> import chainrule as cr
    >>> cr.jvp(lambda x: x ** 2, (cr.tensor(3.0),), (cr.tensor(1.0),))
    (tensor(9.), tensor(6.))
    """
    primals, tangents = tuple(primals), tuple(tangents)
    recorded = _recorded(*primals, *tangents)
    aliases, seeds = _primals_and_tangents("jvp", primals, tangents, recorded)
    outs, single = _outputs("jvp", _call(f, aliases, {}))
    tangent_out = _forward(outs, aliases, seeds, recorded)
    results = [_finish(o, recorded) for o in outs]
    if single:
        return results[0], tangent_out[0]
    return tuple(results), tuple(tangent_out)


# --------------------------------------------------------------------------- jacobians


def jacobian(f: Callable, argnums: int | Sequence[int] = 0, mode: str = "rev") -> Callable:
    """Transform ``f`` into a function returning its Jacobian, of shape
    ``out.shape + in.shape`` (a tuple of them for a tuple ``argnums``).

    ``mode="rev"`` builds it row by row with reverse mode (one VJP per output element),
    ``mode="fwd"`` column by column with forward mode (one JVP per input element).

    >>> import chainrule as cr
    >>> cr.jacobian(lambda x: x ** 2)(cr.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args, aliases, recorded = _alias_args("jacobian", args, argnums)
        out = _call(f, args, kwargs)
        if not isinstance(out, Tensor):
            out = _as_tensor(out)
        if mode == "rev":
            jacs = _jacobian_rev(out, aliases, recorded)
        else:
            jacs = _jacobian_fwd(out, aliases, recorded)
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    return wrapper


def _stack_rows(rows: list[Tensor], shape: tuple, recorded: bool) -> Tensor:
    from .ops import reshape, stack

    if recorded:
        return reshape(stack(rows, axis=0), shape)
    return _wrap(np.stack([r.data for r in rows], axis=0).reshape(shape))


def _jacobian_rev(out: Tensor, aliases: list[Tensor], recorded: bool) -> list[Tensor]:
    rows: list[list[Tensor]] = [[] for _ in aliases]
    for k in range(out.size):
        seed = np.zeros(out.size, dtype=out.dtype)
        seed[k] = 1
        seed = seed.reshape(out.shape)
        grads = _reverse([out], [_wrap(seed) if recorded else seed], aliases, recorded, retain=True)
        for r, g in zip(rows, grads):
            r.append(g)
    return [
        _stack_rows(r, out.shape + a.shape, recorded)
        if r
        else _wrap(np.zeros(out.shape + a.shape, dtype=out.dtype))
        for r, a in zip(rows, aliases)
    ]


def _jacobian_fwd(out: Tensor, aliases: list[Tensor], recorded: bool) -> list[Tensor]:
    from .ops import moveaxis_front

    jacs = []
    for j, a in enumerate(aliases):
        cols = []
        for k in range(a.size):
            tan = np.zeros(a.size, dtype=a.dtype)
            tan[k] = 1
            tan = tan.reshape(a.shape)
            tangents = [np.zeros(b.shape, dtype=b.dtype) for b in aliases]
            tangents[j] = tan
            if recorded:
                tangents = [_wrap(t) for t in tangents]
            cols.append(_forward([out], aliases, tangents, recorded)[0])
        if not cols:
            jacs.append(_wrap(np.zeros(out.shape + a.shape, dtype=out.dtype)))
            continue
        # Columns are stacked in front (in.shape + out.shape), then moved behind.
        stacked = _stack_rows(cols, a.shape + out.shape, recorded)
        jacs.append(moveaxis_front(stacked, a.ndim, out.ndim))
    return jacs


def hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Transform ``f`` (one-element output) into its Hessian, of shape
    ``in.shape + in.shape``: forward mode over reverse mode.

    >>> import chainrule as cr
    >>> cr.hessian(lambda x: (x ** 3).sum())(cr.tensor([1.0, 2.0]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    return jacobian(grad(f, argnums), argnums, mode="fwd")


def hvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Hessian-vector product without forming the Hessian: returns ``(f(*primals), H v)``
    (``H v`` is a tuple for several primals).

    Reverse mode over forward mode: ``H v`` is the gradient of the directional
    derivative ``v . grad f(w)``, so the tangents ``v`` are pushed forward through ``f``
    with the JVP rules while being recorded, and one reverse pass through that record
    gives ``H v``. (Products with the constant ``v``, such as ``X @ v``, need no reverse
    step at all: three matrix-vector products for ``sum(tanh(X @ w)**2)``, as written by
    hand.)

    >>> import chainrule as cr
    >>> cr.hvp(lambda x: (x ** 3).sum(), (cr.tensor([1.0, 2.0]),), (cr.tensor([1.0, 0.0]),))
    (tensor(9.), tensor([6., 0.]))
    """
    primals, tangents = tuple(primals), tuple(tangents)
    outer = _recorded(*primals, *tangents)
    # The tangents enter the recorded forward-mode pass as Tensors.
    aliases, seeds = _primals_and_tangents("hvp", primals, tangents, True)
    out = _call(f, aliases, {})
    if not isinstance(out, Tensor) or out.size != 1:
        raise ValueError(
            "hvp: the function must return a one-element tensor, got "
            + (f"shape {out.shape}" if isinstance(out, Tensor) else type(out).__name__)
        )
    (directional,) = _forward([out], aliases, seeds, recorded=True)
    hv = _reverse([directional], [None], aliases, recorded=outer, retain=outer)
    value = out if outer else out.detach()
    return value, (hv[0] if len(primals) == 1 else tuple(hv))


# --------------------------------------------------------------------------- checkpoint


def _checkpoint_vjp(g: Any, ans: Any, inputs: tuple, params: dict, needed: tuple) -> tuple:
    """Recompute the function's inside (recording it), then backpropagate through it."""
    fn, values = params["fn"], params["values"]
    recorded = isinstance(g, Tensor)
    aliases = []
    args = []
    for v, saved, need in zip(values, inputs, needed):
        if need:
            # Recorded: start from the graph-connected input, so the gradient can be
            # differentiated again with respect to it.
            base = saved if recorded and isinstance(saved, Tensor) else _wrap(v)
            a = _make_alias(base, "checkpoint", len(args))
            aliases.append(a)
            args.append(a)
        else:
            args.append(_wrap(v) if isinstance(v, np.ndarray) else v)
    with enable_grad():
        out = fn(*args)
    grads = iter(_reverse([out], [g], aliases, recorded, retain=recorded))
    return tuple(
        (next(grads) if recorded else next(grads).data) if need else None for need in needed
    )


def _checkpoint_jvp(tangents: tuple, ans: Any, inputs: tuple, params: dict) -> Any:
    fn, values = params["fn"], params["values"]
    recorded = any(isinstance(t, Tensor) for t in tangents)
    aliases, seeds, args = [], [], []
    for i, (v, saved, t) in enumerate(zip(values, inputs, tangents)):
        if t is not None:
            base = saved if recorded and isinstance(saved, Tensor) else _wrap(v)
            a = _make_alias(base, "checkpoint", i)
            aliases.append(a)
            seeds.append(t)
            args.append(a)
        else:
            args.append(_wrap(v) if isinstance(v, np.ndarray) else v)
    with enable_grad():
        out = fn(*args)
    result = _forward([out], aliases, seeds, recorded)[0]
    return result if recorded else result.data


def _checkpoint_impl(*args: Any, fn: Callable, values: list) -> Any:
    return fn(*values).data


# A higher-order primitive (it wraps a whole function), so it lives outside the table of
# primitives; tests/test_transforms.py checks it against the unwrapped function.
checkpoint_prim = Primitive(
    "checkpoint",
    _checkpoint_impl,
    vjps=(),
    jvps=(),
    save_inputs=True,
    vjp_all=_checkpoint_vjp,
    jvp_all=_checkpoint_jvp,
    register=False,
)


def checkpoint(f: Callable, *args: Any) -> Tensor:
    """``f(*args)`` with the same value and gradients, but only the inputs are kept for
    backward: the inside of ``f`` is run again during the backward pass.

    Trades compute for memory on deep stacks (gradient checkpointing).

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cr.checkpoint(lambda t: (t.tanh() ** 2).sum(), x).backward()
    >>> x.grad.shape
    (2,)
    """
    values = [a.data if isinstance(a, Tensor) else a for a in args]
    with no_grad():
        out = f(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"checkpoint: the function must return a Tensor, got {type(out).__name__}")
    needs = [isinstance(a, Tensor) and a.requires_grad for a in args]
    from .tensor import is_grad_enabled

    if not (any(needs) and is_grad_enabled()):
        return out
    edges = tuple((a._node or a) if n else None for a, n in zip(args, needs))
    saved = tuple(v if isinstance(v, (np.ndarray, np.generic)) else None for v in values)
    node = Node.new(
        checkpoint_prim,
        edges,
        saved,
        None,
        out.shape,
        out.dtype,
        {"fn": f, "values": values},
    )
    if state.ctx.observers:
        notify_node(node, tuple(values), out.data)
    return _from_node(out.data, node)
