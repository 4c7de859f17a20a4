"""Passes on programs: small functions from a program to a program (JAX's jaxpr passes).

Each pass returns a new Program (equations are shared, never mutated) and is tested on its
own: dead-code elimination, common-subexpression elimination, constant folding, algebraic
simplification, and the liveness analysis and memory plan compiled code is built on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .program import VALUE_SHAPED, Eqn, Literal, Program, Var

__all__ = ["cse", "dce", "fold", "last_uses", "memory_plan", "simplify", "simplify_more"]


def _copy(program: Program, eqns: list[Eqn], outputs: list | None = None) -> Program:
    out = Program()
    out.inputs = list(program.inputs)
    out.roles = dict(program.roles)
    out.eqns = eqns
    out.outputs = list(program.outputs if outputs is None else outputs)
    out.constants = dict(program.constants)
    out.values = program.values
    return out


def dce(program: Program, keep: set[Var] | None = None, lengths: bool = True) -> Program:
    """Drop equations whose results no output (nor ``keep``) needs: a gradient nobody
    asked for is never computed. ``lengths``: keep those whose result's length the values
    decide (``VALUE_SHAPED``), needed or not: the trace may have read that length, and the
    compiled code checks it at every call.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (x.exp(), x * 2)[1], cr.tensor(1.0))
    >>> [e.prim.name for e in dce(p).eqns]
    ['mul']
    """
    live: set[Var] = {o for o in program.outputs if isinstance(o, Var)} | (keep or set())
    kept: list[Eqn] = []
    for e in reversed(program.eqns):
        if e.out in live or (lengths and e.prim.name in VALUE_SHAPED):
            kept.append(e)
            live.update(v for v in e.inputs if isinstance(v, Var))
    kept.reverse()
    return _copy(program, kept)


def _is_one(v: Any) -> bool:
    """A constant that is 1 (or an array of ones: x * ones is x where the shapes allow)."""
    if not isinstance(v, Literal):
        return False
    value = v.value
    if isinstance(value, (bool, np.bool_, complex)):
        return False
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        return False
    return bool(arr.size <= 1 << 16 and np.all(arr == 1))


def simplify(program: Program, where: Any = None) -> tuple[Program, dict[Var, Var]]:
    """Algebraic simplification: ``x * 1`` and ``1 * x`` are ``x`` (where that changes
    neither the shape nor the dtype). ``where(eqn)`` (optional) limits it to some
    equations. Returns the program and the replaced Vars (old -> the Var that stands for
    it now).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (x * 1.0).exp(), cr.tensor(2.0))
    >>> [e.prim.name for e in simplify(p)[0].eqns]
    ['exp']
    """
    replaced: dict[Var, Var] = {}

    def sub(v: Any) -> Any:
        while isinstance(v, Var) and v in replaced:
            v = replaced[v]
        return v

    eqns: list[Eqn] = []
    for e in program.eqns:
        ins = tuple(sub(v) for v in e.inputs)
        if e.prim.name == "mul" and len(ins) == 2 and (where is None or where(e)):
            for keep, other in ((ins[0], ins[1]), (ins[1], ins[0])):
                if (
                    isinstance(keep, Var)
                    and _is_one(other)
                    and keep.shape == e.out.shape
                    and keep.dtype == e.out.dtype
                ):
                    replaced[e.out] = keep
                    break
            if e.out in replaced:
                continue
        if ins != e.inputs:
            e = Eqn(e.prim, ins, e.out, e.params, e.meta)
        eqns.append(e)
    outputs = [sub(o) for o in program.outputs]
    return _copy(program, eqns, outputs), replaced


# --------------------------------------------------------------------------- cse, folding


def _param_key(value: Any) -> Any:
    """A hashable stand-in for a param (arrays and index templates by identity of content)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_param_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _param_key(v)) for k, v in value.items()))
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


def _input_key(v: Any) -> Any:
    if isinstance(v, Var):
        return ("var", v.id)
    value = v.value
    if isinstance(value, np.ndarray):
        return ("lit", value.dtype.str, value.shape, value.tobytes())
    return ("lit", type(value).__name__, value)


def cse(program: Program) -> Program:
    """Common-subexpression elimination: an equation that repeats an earlier one (same
    primitive, same inputs, same params) reuses its result.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: x.exp() + x.exp(), cr.tensor(1.0))
    >>> [e.prim.name for e in cse(p).eqns]
    ['exp', 'add']
    """
    seen: dict[Any, Var] = {}
    replaced: dict[Var, Var] = {}
    eqns: list[Eqn] = []

    def sub(v: Any) -> Any:
        return replaced.get(v, v) if isinstance(v, Var) else v

    for e in program.eqns:
        ins = tuple(sub(v) for v in e.inputs)
        if ins != e.inputs:
            e = Eqn(e.prim, ins, e.out, e.params, e.meta)
        pure = e.meta.get("call") is None and e.prim.name not in _IMPURE
        if pure:
            try:
                key = (e.prim.name, tuple(_input_key(v) for v in ins), _param_key(e.params))
            except Exception:  # an unhashable param: leave the equation alone
                key = None
            if key is not None:
                old = seen.get(key)
                if old is not None and old.shape == e.out.shape and old.dtype == e.out.dtype:
                    replaced[e.out] = old
                    continue
                seen[key] = e.out
        eqns.append(e)
    return _copy(program, eqns, [sub(o) for o in program.outputs])


#: Primitives whose result is not a function of their inputs alone (dropout's random mask;
#: custom Functions and checkpoint are excluded through their "call" meta).
_IMPURE: frozenset = frozenset({"dropout_mask"})


def fold(program: Program, constants: bool = True) -> Program:
    """Constant folding: an equation whose inputs are all constants is computed now and
    its result becomes a constant.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule import rules as P
    >>> from chainrule.ir import Program, Var, Eqn, Literal
    >>> p = Program(); x = Var((), np.float64); p.inputs = [x]
    >>> c = Var((), np.float64); y = Var((), np.float64)
    >>> p.eqns = [Eqn(P.mul, (Literal(2.0), Literal(3.0)), c, {}), Eqn(P.add, (x, c), y, {})]
    >>> p.outputs = [y]
    >>> [(e.prim.name, e.inputs[1]) for e in fold(p).eqns]
    [('add', 6.0)]
    """
    known: dict[Var, Any] = dict(program.constants)
    eqns: list[Eqn] = []

    def sub(v: Any) -> Any:
        # named constants (a backward pass's seed) are folded too unless ``constants`` is off
        if isinstance(v, Var) and v in known and (constants or v not in program.constants):
            return Literal(known[v])
        return v

    # A scalar broadcast to a shape (the seed of a mean's backward, 1/n everywhere) stays a
    # scalar where an elementwise equation reads it and another input already has the shape:
    # ``g * 0.03125`` rather than a constant array of n equal values.
    scalars: dict[Var, Any] = {}

    def sub_in(e: Eqn) -> tuple:
        ins = tuple(sub(v) for v in e.inputs)
        if e.prim.kind != "elementwise" or not any(v in scalars for v in ins):
            return ins
        shaped = [
            v for v in ins if isinstance(v, Var) and v not in scalars and v.shape == e.out.shape
        ]
        if not shaped:
            return ins
        return tuple(Literal(scalars[v]) if isinstance(v, Var) and v in scalars else v for v in ins)

    for e in program.eqns:
        ins = sub_in(e)
        if (
            e.prim.name == "broadcast_to"
            and isinstance(ins[0], Literal)
            and np.ndim(ins[0].value) == 0
            and np.asarray(ins[0].value).dtype == e.out.dtype
        ):
            scalars[e.out] = ins[0].value
            eqns.append(Eqn(e.prim, ins, e.out, e.params, e.meta))  # dce drops it if unread
            continue
        if ins and all(isinstance(v, Literal) for v in ins) and e.meta.get("call") is None:
            try:
                value = e.prim.impl(*[v.value for v in ins], **e.params)
            except Exception:  # leave it to run time, where it raises with context
                value = None
            if value is not None and np.size(value) <= 1 << 16:
                known[e.out] = value
                continue
        if ins != e.inputs:
            e = Eqn(e.prim, ins, e.out, e.params, e.meta)
        eqns.append(e)
    return _copy(program, eqns, [sub(o) for o in program.outputs])


def _identity_of(e: Eqn) -> Any:
    """The input an equation returns unchanged (a no-op reshape, transpose, cast, ...)."""
    name = e.prim.name
    x = e.inputs[0] if e.inputs else None
    if not isinstance(x, Var):
        return None
    same = x.shape == e.out.shape and x.dtype == e.out.dtype
    if not same:
        return None
    if name in ("alias", "reshape", "broadcast_to", "sum_to", "astype", "copy"):
        return x if name != "copy" else None
    if name == "transpose" and tuple(e.params["axes"]) == tuple(range(len(x.shape))):
        return x
    if name == "sum" and e.params.get("axis") is None and x.shape == ():
        return x
    return None


def simplify_more(program: Program) -> Program:
    """The simplifications compiled code wants on top of ``simplify``: aliases and no-op
    shape operations (reshape to the same shape, sum_to or broadcast_to the same shape, a
    cast to the same dtype) disappear, a transpose of a transpose is one transpose (or
    none), and ``x * 1`` is ``x``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: x.T.T * 1.0, cr.tensor([[1.0, 2.0]]))
    >>> [e.prim.name for e in simplify_more(p).eqns]
    []
    """
    from .. import rules as P

    program, replaced = simplify(program)
    sub_of: dict[Var, Var] = dict(replaced)
    producer: dict[Var, Eqn] = {}
    eqns: list[Eqn] = []

    def sub(v: Any) -> Any:
        while isinstance(v, Var) and v in sub_of:
            v = sub_of[v]
        return v

    for e in program.eqns:
        ins = tuple(sub(v) for v in e.inputs)
        if ins != e.inputs:
            e = Eqn(e.prim, ins, e.out, e.params, e.meta)
        same = _identity_of(e)
        if same is not None:
            sub_of[e.out] = same
            continue
        if e.prim.name == "transpose" and isinstance(ins[0], Var) and ins[0] in producer:
            inner = producer[ins[0]]
            if inner.prim.name == "transpose":
                outer_axes, inner_axes = e.params["axes"], inner.params["axes"]
                axes = tuple(inner_axes[a] for a in outer_axes)
                if axes == tuple(range(len(axes))):
                    sub_of[e.out] = inner.inputs[0]
                    continue
                e = Eqn(P.transpose, (inner.inputs[0],), e.out, {"axes": axes}, e.meta)
        producer[e.out] = e
        eqns.append(e)
    return dce(_copy(program, eqns, [sub(o) for o in program.outputs]))


# --------------------------------------------------------------------------- liveness


def last_uses(program: Program) -> dict[Var, int]:
    """For each Var, the index of the last equation that reads it (len(eqns) for the
    program's outputs, -1 for a Var nobody reads).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (x * 2.0).exp(), cr.tensor(1.0))
    >>> [last_uses(p)[v] for v in (p.inputs[0], p.eqns[0].out, p.eqns[1].out)]
    [0, 1, 2]
    """
    last: dict[Var, int] = {v: -1 for v in program.inputs}
    for k, e in enumerate(program.eqns):
        last.setdefault(e.out, -1)
        for v in e.inputs:
            if isinstance(v, Var):
                last[v] = k
    for o in program.outputs:
        if isinstance(o, Var):
            last[o] = len(program.eqns)
    return last


def _nbytes(v: Var) -> int:
    return v.size * (v.dtype.itemsize if v.dtype is not None else 8)


def memory_plan(program: Program, views: dict[Var, Var] | None = None) -> dict[str, Any]:
    """Peak bytes of the values a program holds at once, when each value is freed right
    after its last use (``views`` maps a view's Var to the Var that owns its memory).
    Inputs are not counted (the caller holds them).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (x * 2.0).exp().sum(), cr.tensor([1.0, 2.0]))
    >>> memory_plan(p)["peak_bytes"]  # x * 2 and its exp are alive together: 2 x 16 bytes
    32
    """
    views = views or {}
    last = last_uses(program)
    owner_last: dict[Var, int] = {}
    for v, k in last.items():
        root = views.get(v, v)
        owner_last[root] = max(owner_last.get(root, -1), k)
    inputs = set(program.inputs)
    live: dict[Var, int] = {}
    peak = current = 0
    for k, e in enumerate(program.eqns):
        v = e.out
        if v not in views and v not in inputs:
            live[v] = _nbytes(v)
            current += live[v]
            peak = max(peak, current)
        for root in [r for r in live if owner_last.get(r, -1) <= k]:
            current -= live.pop(root)
    return {"peak_bytes": peak, "statements": len(program.eqns)}
