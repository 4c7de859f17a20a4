"""Function transforms (JAX style): ``grad``, ``value_and_grad``, ``vjp``, ``jvp``,
``jacobian``, ``hessian``, ``hvp`` and ``checkpoint``, all thin layers over the engine.

Each transform gives every differentiated argument a fresh node of its own (an alias), so
gradients are taken with respect to exactly that use of the argument, and nested
transforms (``grad(grad(f))``) never confuse the inner and the outer variable. Arguments and
results may be pytrees (nested tuples, lists and dicts of tensors); results keep their
structure, as in JAX.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, state
from . import rules as P
from .engine import Node
from .primitives import ALL_INPUTS, Primitive
from .pytree import TreeDef, flatten, unflatten
from .tensor import (
    Tensor,
    _from_node,
    _make_alias,
    _to_array,
    _wrap,
    enable_grad,
    no_grad,
    notify_node,
)

alias = P.alias


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else _wrap(_to_array(x))


def _alias_tree(op: str, tree: Any, position: Any) -> tuple[Any, list[Tensor], TreeDef]:
    """``tree`` with every leaf replaced by an alias; also the aliases and the structure."""
    leaves, treedef = flatten(tree)
    if not leaves:
        raise TypeError(f"{op}: argument {position} holds no arrays to differentiate")
    aliases = [
        _make_alias(leaf, op, position if treedef.is_leaf else f"{position} (leaf {k})")
        for k, leaf in enumerate(leaves)
    ]
    return unflatten(treedef, aliases), aliases, treedef


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


def _alias_args(op: str, args: tuple, argnums: Any) -> tuple[list, list, bool]:
    """The call's arguments with those named by ``argnums`` replaced by aliases; also,
    per named argument, (its aliases, its structure), and whether the derivative must be
    recorded."""
    nums = _argnums_tuple(op, argnums, len(args))
    recorded = _recorded(*(args[i] for i in nums))
    args = list(args)
    groups = []
    for i in nums:
        args[i], aliases, treedef = _alias_tree(op, args[i], i)
        groups.append((aliases, treedef))
    return args, groups, recorded


def _flat_aliases(groups: list) -> list[Tensor]:
    return [a for aliases, _ in groups for a in aliases]


def _regroup(values: list, groups: list, argnums: Any) -> Any:
    """Flat per-alias results back into the arguments' structures (a tuple for a tuple
    ``argnums``)."""
    out, k = [], 0
    for aliases, treedef in groups:
        out.append(unflatten(treedef, values[k : k + len(aliases)]))
        k += len(aliases)
    return out[0] if isinstance(argnums, int) else tuple(out)


def _output_leaves(op: str, out: Any) -> tuple[list[Tensor], TreeDef]:
    """f's result as a flat list of Tensors and its structure."""
    leaves, treedef = flatten(out)
    if not leaves:
        raise TypeError(f"{op}: the function must return Tensors, got {type(out).__name__}")
    tensors = []
    for leaf in leaves:
        if isinstance(leaf, Tensor):
            tensors.append(leaf)
        elif isinstance(leaf, (np.ndarray, np.generic, float, int, complex)):
            tensors.append(_as_tensor(leaf))
        else:
            raise TypeError(
                f"{op}: the function must return Tensors (or tuples, lists and dicts of them),"
                f" got {type(leaf).__name__}"
            )
    return tensors, treedef


def _tree_leaves(values: Sequence[Any]) -> list:
    found = []
    for v in values:
        found.extend(flatten(v)[0])
    return found


def _recorded(*values: Any) -> bool:
    """Record the derivative computation itself? Inside another transform, or when an
    argument is part of a user's graph (so the result can be differentiated again)."""
    # Inside another transform (this thread's depth > 0), results are recorded
    # (differentiable again), because an outer transform may differentiate them; so they
    # are while a program is traced (cr.jit, cr.vmap): the program must hold the
    # derivative's own operations, not its numbers.
    c = state.ctx
    if c.depth > 0 or (c.observers and any(hasattr(o, "applied") for o in c.observers)):
        return True
    return any(isinstance(v, Tensor) and v._rg for v in _tree_leaves(values))


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
    arr = value._data if isinstance(value, Tensor) else value
    return arr if dtype == like.dtype else arr.astype(like.dtype)


# --------------------------------------------------------------------------- reverse mode


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Transform ``f`` into a function returning ``(f(*args), gradient)``.

    ``f`` must return a one-element Tensor. With a tuple ``argnums`` the gradient is a
    tuple, one per named argument; an argument that is a pytree (a dict of parameters, a
    list of arrays) gets a gradient of the same structure.

    Examples
    --------
    >>> import chainrule as cr
    >>> value, g = cr.value_and_grad(lambda x: (x ** 2).sum())(cr.tensor([1.0, 2.0]))
    >>> value, g
    (tensor(5.), tensor([2., 4.]))
    >>> cr.grad(lambda p: (p["w"] * p["b"]).sum())({"w": 2.0, "b": 3.0})
    {'w': tensor(3.), 'b': tensor(2.)}
    """

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> tuple[Tensor, Any]:
        args, groups, recorded = _alias_args("grad", args, argnums)
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
        grads = _reverse([out], [None], _flat_aliases(groups), recorded, retain=recorded)
        value = _finish(out, recorded)
        return value, _regroup(grads, groups, argnums)

    return wrapper


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Transform ``f`` (returning a one-element Tensor) into its gradient function.

    Composable: ``grad(grad(f))`` is the second derivative.

    Examples
    --------
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
    observers = state.ctx.observers
    if observers:  # a traced program names each gradient after its input (dW for W)
        for o in observers:
            name = getattr(o, "name_gradient", None)
            if name is not None:
                for a, g in zip(aliases, grads):
                    name(a, g)
    return grads


def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """Evaluate ``f(*primals)`` and return ``(out, vjp_fn)``.

    ``vjp_fn(cotangent)`` returns a tuple with one gradient per primal: the
    vector-Jacobian product. It can be called many times, and it is differentiable in the
    cotangent and in the primals (so forward mode can also be had from two reverse passes).
    Primals, the output and the cotangent may be pytrees.

    Examples
    --------
    >>> import chainrule as cr
    >>> out, vjp_fn = cr.vjp(lambda x: x * 3, cr.tensor([1.0, 2.0]))
    >>> vjp_fn(cr.tensor([1.0, 10.0]))
    (tensor([ 3., 30.]),)
    """
    if not primals:
        raise ValueError("vjp: needs at least one primal")
    recorded_primals = _recorded(*primals)
    groups = []
    call_args = []
    for i, p in enumerate(primals):
        tree, aliases, treedef = _alias_tree("vjp", p, i)
        call_args.append(tree)
        groups.append((aliases, treedef))
    outs, out_def = _output_leaves("vjp", _call(f, call_args, {}))
    aliases = _flat_aliases(groups)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        cts, ct_def = flatten(cotangent)
        if len(cts) != len(outs):
            raise ValueError(
                f"vjp_fn: expected a cotangent of the output's structure {out_def!r} "
                f"({len(outs)} arrays), got {ct_def!r}"
            )
        recorded = recorded_primals or _recorded(*cts)
        seeds = [_seed("vjp_fn: cotangent", c, o, recorded) for c, o in zip(cts, outs)]
        grads = _reverse(outs, seeds, aliases, recorded, retain=True)
        return tuple(_regroup(grads, groups, tuple(range(len(groups)))))

    results = [_finish(o, recorded_primals) for o in outs]
    return unflatten(out_def, results), vjp_fn


# --------------------------------------------------------------------------- forward mode


def _primals_and_tangents(
    op: str, primals: tuple, tangents: tuple, recorded: bool
) -> tuple[list, list[Tensor], list[Any]]:
    """The primals as aliased pytrees, the flat aliases, and the tangents checked against
    them (one pytree per primal, of the same structure)."""
    if len(primals) != len(tangents):
        raise ValueError(
            f"{op}: got {len(primals)} primals but {len(tangents)} tangents; give one "
            f"tangent per primal"
        )
    trees, aliases, seeds = [], [], []
    for i, (p, t) in enumerate(zip(primals, tangents)):
        tree, leaves, treedef = _alias_tree(op, p, i)
        t_leaves, t_def = flatten(t)
        if t_def != treedef:
            raise ValueError(
                f"{op}: tangent {i} has structure {t_def!r}, but primal {i} has {treedef!r}"
            )
        trees.append(tree)
        aliases.extend(leaves)
        seeds.extend(
            _seed(f"{op}: tangent {i}", tl, a, recorded) for tl, a in zip(t_leaves, leaves)
        )
    return trees, aliases, seeds


def _forward(
    outs: list[Tensor], aliases: list[Tensor], tangents: list[Any], recorded: bool
) -> list[Tensor]:
    seeds = {a._node: t for a, t in zip(aliases, tangents)}
    result = engine.forward_tangents([o._node for o in outs], seeds, recorded)
    return [_zeros_for(o) if t is None else _finish(t, recorded) for o, t in zip(outs, result)]


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J @ tangents)``, tangents pushed through each
    primitive's JVP rule. Primals and tangents are tuples (of pytrees).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.jvp(lambda x: x ** 2, (cr.tensor(3.0),), (cr.tensor(1.0),))
    (tensor(9.), tensor(6.))
    """
    primals, tangents = tuple(primals), tuple(tangents)
    recorded = _recorded(*primals, *tangents)
    trees, aliases, seeds = _primals_and_tangents("jvp", primals, tangents, recorded)
    outs, out_def = _output_leaves("jvp", _call(f, trees, {}))
    tangent_out = _forward(outs, aliases, seeds, recorded)
    results = [_finish(o, recorded) for o in outs]
    return unflatten(out_def, results), unflatten(out_def, tangent_out)


# --------------------------------------------------------------------------- jacobians


def jacobian(f: Callable, argnums: int | Sequence[int] = 0, mode: str = "rev") -> Callable:
    """Transform ``f`` into a function returning its Jacobian, of shape
    ``out.shape + in.shape``.

    Structures follow JAX: for a tuple ``argnums`` one Jacobian per argument (a tuple);
    for a function returning a tuple (or any pytree), one entry per output. ``mode="rev"``
    builds it row by row with reverse mode (one VJP per output element), ``mode="fwd"``
    column by column with forward mode (one JVP per input element).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.jacobian(lambda x: x ** 2)(cr.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    >>> cr.jacobian(lambda x: (x * 2, x.sum()))(cr.tensor([1.0, 2.0]))
    (tensor([[2., 0.],
            [0., 2.]]), tensor([1., 1.]))
    """
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args, groups, recorded = _alias_args("jacobian", args, argnums)
        outs, out_def = _output_leaves("jacobian", _call(f, args, kwargs))
        aliases = _flat_aliases(groups)
        if mode == "rev":
            table = _jacobian_rev(outs, aliases, recorded)
        else:
            table = _jacobian_fwd(outs, aliases, recorded)
        # table[o][a]: d out_o / d alias_a; each output leaf gets the arguments' structure
        per_out = [_regroup(row, groups, argnums) for row in table]
        return unflatten(out_def, per_out)

    return wrapper


def _stack_rows(rows: list[Tensor], shape: tuple, recorded: bool) -> Tensor:
    from .ops import reshape, stack

    if recorded:
        return reshape(stack(rows, axis=0), shape)
    return _wrap(np.stack([r._data for r in rows], axis=0).reshape(shape))


def _jacobian_rev(outs: list[Tensor], aliases: list[Tensor], recorded: bool) -> list[list]:
    table = []
    for out in outs:
        rows: list[list[Tensor]] = [[] for _ in aliases]
        for k in range(out.size):
            seed = np.zeros(out.size, dtype=out.dtype)
            seed[k] = 1
            seed = seed.reshape(out.shape)
            grads = _reverse(
                [out], [_wrap(seed) if recorded else seed], aliases, recorded, retain=True
            )
            for r, g in zip(rows, grads):
                r.append(g)
        table.append(
            [
                _stack_rows(r, out.shape + a.shape, recorded)
                if r
                else _wrap(np.zeros(out.shape + a.shape, dtype=out.dtype))
                for r, a in zip(rows, aliases)
            ]
        )
    return table


def _jacobian_fwd(outs: list[Tensor], aliases: list[Tensor], recorded: bool) -> list[list]:
    from .ops import moveaxis_front

    table: list[list] = [[None] * len(aliases) for _ in outs]
    for j, a in enumerate(aliases):
        cols: list[list[Tensor]] = [[] for _ in outs]
        for k in range(a.size):
            tan = np.zeros(a.size, dtype=a.dtype)
            tan[k] = 1
            tan = tan.reshape(a.shape)
            tangents = [np.zeros(b.shape, dtype=b.dtype) for b in aliases]
            tangents[j] = tan
            if recorded:
                tangents = [_wrap(t) for t in tangents]
            for col, t in zip(cols, _forward(outs, aliases, tangents, recorded)):
                col.append(t)
        for o, (out, col) in enumerate(zip(outs, cols)):
            if not col:
                table[o][j] = _wrap(np.zeros(out.shape + a.shape, dtype=out.dtype))
                continue
            # Columns are stacked in front (in.shape + out.shape), then moved behind.
            stacked = _stack_rows(col, a.shape + out.shape, recorded)
            table[o][j] = moveaxis_front(stacked, a.ndim, out.ndim)
    return table


def hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Transform ``f`` (one-element output) into its Hessian, of shape
    ``in.shape + in.shape``: forward mode over reverse mode. With a tuple ``argnums`` the
    result is nested as in JAX: ``H[i][j] = d2f / d arg_i d arg_j``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.hessian(lambda x: (x ** 3).sum())(cr.tensor([1.0, 2.0]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    >>> H = cr.hessian(lambda x, y: x * x * y, argnums=(0, 1))(2.0, 3.0)
    >>> [[float(h) for h in row] for row in H]
    [[6.0, 4.0], [4.0, 0.0]]
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

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.hvp(lambda x: (x ** 3).sum(), (cr.tensor([1.0, 2.0]),), (cr.tensor([1.0, 0.0]),))
    (tensor(9.), tensor([6., 0.]))
    """
    primals, tangents = tuple(primals), tuple(tangents)
    outer = _recorded(*primals, *tangents)
    # The tangents enter the recorded forward-mode pass as Tensors.
    trees, aliases, seeds = _primals_and_tangents("hvp", primals, tangents, True)
    out = _call(f, trees, {})
    if not isinstance(out, Tensor) or out.size != 1:
        raise ValueError(
            "hvp: the function must return a one-element tensor, got "
            + (f"shape {out.shape}" if isinstance(out, Tensor) else type(out).__name__)
        )
    (directional,) = _forward([out], aliases, seeds, recorded=True)
    hv = _reverse([directional], [None], aliases, recorded=outer, retain=outer)
    value = out if outer else out.detach()
    groups, k = [], 0
    for p in primals:
        n = len(flatten(p)[0])
        groups.append((aliases[k : k + n], flatten(p)[1]))
        k += n
    result = _regroup(hv, groups, 0 if len(primals) == 1 else tuple(range(len(primals))))
    return value, result


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
        (next(grads) if recorded else next(grads)._data) if need else None for need in needed
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
    return result if recorded else result._data


def _checkpoint_impl(*args: Any, fn: Callable, values: list) -> Any:
    return fn(*values)._data


# A higher-order primitive (it wraps a whole function), so it lives outside the table of
# primitives; tests/test_transforms.py checks it against the unwrapped function.
checkpoint_prim = Primitive("checkpoint", _checkpoint_impl, nin=None, register=False)
checkpoint_prim.vjp_all = _checkpoint_vjp
checkpoint_prim.jvp_all = _checkpoint_jvp
checkpoint_prim.vjps = checkpoint_prim.cvjps = ALL_INPUTS


def _checkpoint_replay(args: list, params: dict, tensors: bool) -> Any:
    """How a traced program runs a checkpoint again: the same function on new values."""
    fn = params["fn"]
    if tensors:
        return checkpoint(fn, *args)
    return fn(*[_wrap(a) if isinstance(a, (np.ndarray, np.generic)) else a for a in args])._data


def _register_replay() -> None:
    from .ir.trace import register_replay

    register_replay(checkpoint_prim, _checkpoint_replay)


def checkpoint(f: Callable, *args: Any) -> Tensor:
    """``f(*args)`` with the same value and gradients, but only the inputs are kept for
    backward: the inside of ``f`` is run again during the backward pass.

    Trades compute for memory on deep stacks (gradient checkpointing).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cr.checkpoint(lambda t: (t.tanh() ** 2).sum(), x).backward()
    >>> x.grad.shape
    (2,)
    """
    values = [a._data if isinstance(a, Tensor) else a for a in args]
    with no_grad():
        out = f(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"checkpoint: the function must return a Tensor, got {type(out).__name__}")
    needs = [isinstance(a, Tensor) and a.requires_grad for a in args]
    from .tensor import is_grad_enabled

    if not (any(needs) and is_grad_enabled()):
        if state.ctx.observers:
            from .tensor import _notify_applied

            _notify_applied(checkpoint_prim, args, {"fn": f, "values": values}, out)
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
    result = _from_node(out._data, node)
    if state.ctx.observers:
        from .tensor import _notify_applied

        node.extra = {"tensors": tuple(a if isinstance(a, Tensor) else None for a in args)}
        notify_node(node, tuple(values), out._data)
        _notify_applied(checkpoint_prim, args, node.params, result)
    return result


_register_replay()
