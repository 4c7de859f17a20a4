"""Passes on programs: small functions from a program to a program (JAX's jaxpr passes).

Each pass returns a new Program (equations are shared, never mutated) and is tested on its
own: dead-code elimination, algebraic simplification.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .program import Eqn, Literal, Program, Var

__all__ = ["dce", "simplify"]


def _copy(program: Program, eqns: list[Eqn], outputs: list | None = None) -> Program:
    out = Program()
    out.inputs = list(program.inputs)
    out.roles = dict(program.roles)
    out.eqns = eqns
    out.outputs = list(program.outputs if outputs is None else outputs)
    out.constants = dict(program.constants)
    out.values = program.values
    return out


def dce(program: Program, keep: set[Var] | None = None) -> Program:
    """Drop equations whose results no output (nor ``keep``) needs: a gradient nobody
    asked for is never computed.

    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (x.exp(), x * 2)[1], cr.tensor(1.0))
    >>> [e.prim.name for e in dce(p).eqns]
    ['mul']
    """
    live: set[Var] = {o for o in program.outputs if isinstance(o, Var)} | (keep or set())
    kept: list[Eqn] = []
    for e in reversed(program.eqns):
        if e.out in live:
            kept.append(e)
            live.update(v for v in e.inputs if isinstance(v, Var))
    kept.reverse()
    return _copy(program, kept)


def _is_one(v: Any) -> bool:
    if not isinstance(v, Literal):
        return False
    value = v.value
    if isinstance(value, (bool, np.bool_)):
        return False
    return np.ndim(value) == 0 and not isinstance(value, complex) and value == 1


def simplify(program: Program, where: Any = None) -> tuple[Program, dict[Var, Var]]:
    """Algebraic simplification: ``x * 1`` and ``1 * x`` are ``x`` (where that changes
    neither the shape nor the dtype). ``where(eqn)`` (optional) limits it to some
    equations. Returns the program and the replaced Vars (old -> the Var that stands for
    it now).

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
