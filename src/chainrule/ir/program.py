"""Programs: variables, literals and equations, and the two interpreters (on arrays, and on
Tensors, recording, for differentiating a program).

A program is pure: inputs (arguments and parameters), a list of equations ``out =
prim(inputs..., **params)`` in an order where every input is defined before it is used, and
outputs. Constants are literals; a few named constants (a backward pass's seed) are
``Program.constants``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..primitives import Primitive

__all__ = [
    "VALUE_SHAPED",
    "Eqn",
    "LengthChanged",
    "Literal",
    "Program",
    "Var",
    "check_length",
    "evaluate",
    "run_on_tensors",
]

#: Primitives whose result's length depends on the values (the positions ``argwhere``
#: finds, the values ``unique`` keeps). A program is made for the lengths it was traced
#: with: Python code that ran then may have decided on them (``piecewise`` skips a piece
#: that selects nothing, a shape is read to size a buffer), so every replay checks them.
VALUE_SHAPED = frozenset({"argwhere", "unique_part"})


class LengthChanged(RuntimeError):
    """A replayed program met a length other than the one it was traced with (see
    ``VALUE_SHAPED``): ``cr.jit`` and ``cr.vmap`` trace again when their code raises it.

    Examples
    --------
    >>> str(LengthChanged("argwhere", (3, 1), (2, 1)))[:52]
    'argwhere gave shape (2, 1) where the program was tra'
    """

    def __init__(self, prim: str, traced: tuple, now: tuple) -> None:
        super().__init__(
            f"{prim} gave shape {tuple(now)} where the program was traced with "
            f"{tuple(traced)}: the code is made for the lengths it was traced with (trace "
            f"it again at these inputs)"
        )
        self.prim = prim


def check_length(eqn: Eqn, value: Any) -> None:
    """Raise ``LengthChanged`` if ``value`` (the result of a ``VALUE_SHAPED`` equation)
    does not have the shape the program was traced with.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: cr.numpy.argwhere(x > 0), np.array([1.0, -1.0]))
    >>> check_length(p.eqns[-1], np.zeros((1, 1)))  # one position, as traced: holds
    >>> try:
    ...     check_length(p.eqns[-1], np.zeros((2, 1)))
    ... except LengthChanged as e:
    ...     print(str(e)[:51])
    argwhere gave shape (2, 1) where the program was tr
    """
    if np.shape(value) != eqn.out.shape:
        raise LengthChanged(eqn.prim.name, eqn.out.shape, np.shape(value))


_ids = itertools.count()


class Var:
    """One value of a program (defined once: by an input, a constant or an equation).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> program, _ = trace_program(lambda x: (x * 2.0).exp(), cr.tensor(0.5))
    >>> v = program.eqns[0].out
    >>> v.shape, v.dtype
    ((), dtype('float64'))
    """

    __slots__ = ("shape", "dtype", "hint", "id", "grad_of")

    def __init__(self, shape: tuple, dtype: Any, hint: str | None = None) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.hint = hint
        self.id = next(_ids)
        #: the forward Var whose total upstream gradient this is (generated code names it
        #: ``d`` + that Var's name, as the lectures do)
        self.grad_of: Var | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self) -> str:
        return f"%{self.hint or self.id}"


class Literal:
    """A constant input of an equation.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> program, _ = trace_program(lambda x: (x * 2.0).exp(), cr.tensor(0.5))
    >>> program.eqns[0].inputs[1]
    2.0
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    def __repr__(self) -> str:
        arr = np.asarray(self.value)
        return repr(self.value) if arr.size <= 4 else f"<const {arr.dtype}{list(arr.shape)}>"


class Eqn:
    """``out = prim(*inputs, **params)``; ``meta`` carries what views use (names, which
    forward value a backward equation belongs to).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> program, _ = trace_program(lambda x: (x * 2.0).exp(), cr.tensor(0.5))
    >>> e = program.eqns[0]
    >>> e.prim.name, len(e.inputs)
    ('mul', 2)
    """

    __slots__ = ("prim", "inputs", "out", "params", "meta")

    def __init__(
        self, prim: Primitive, inputs: tuple, out: Var, params: dict, meta: dict | None = None
    ) -> None:
        self.prim = prim
        self.inputs = inputs
        self.out = out
        self.params = params
        self.meta = meta if meta is not None else {}

    def __repr__(self) -> str:
        args = ", ".join(repr(v) for v in self.inputs)
        params = "".join(f", {k}={_short(v)}" for k, v in self.params.items())
        return f"{self.out!r} = {self.prim.name}({args}{params})"


def _short(v: Any) -> str:
    if isinstance(v, np.ndarray) and v.size > 4:
        return f"<{v.dtype}{list(v.shape)}>"
    text = repr(v)
    return text if len(text) < 40 else text[:37] + "..."


class Program:
    """A traced computation: ``inputs``, ``eqns``, ``outputs``.

    ``roles[var]`` says how an input entered: ``"arg"`` (an argument of the traced
    function) or ``"param"`` (a tensor that requires grad read from elsewhere: a weight in
    a closure). ``constants`` maps named constant Vars to their values, and ``values`` (when
    the program was traced) the value every Var had then.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> program, _ = trace_program(lambda x: (x * 2.0).exp(), cr.tensor(0.5))
    >>> [e.prim.name for e in program.eqns]
    ['mul', 'exp']
    >>> float(program(0.0))
    1.0
    """

    def __init__(self) -> None:
        self.inputs: list[Var] = []
        self.roles: dict[Var, str] = {}
        self.eqns: list[Eqn] = []
        self.outputs: list[Var | Literal] = []
        self.constants: dict[Var, Any] = {}
        self.values: dict[Var, Any] = {}

    def __repr__(self) -> str:
        lines = [f"program({', '.join(repr(v) for v in self.inputs)}):"]
        for v, value in self.constants.items():
            lines.append(f"  {v!r} = const {_short(value)}")
        lines += [f"  {e!r}" for e in self.eqns]
        lines.append(f"  return {', '.join(repr(o) for o in self.outputs)}")
        return "\n".join(lines)

    def consumers(self) -> dict[Var, list[Eqn]]:
        """For each Var, the equations that read it (in order)."""
        users: dict[Var, list[Eqn]] = {}
        for e in self.eqns:
            for v in e.inputs:
                if isinstance(v, Var):
                    users.setdefault(v, []).append(e)
        return users

    def __call__(self, *args: Any) -> Any:
        """Evaluate on arrays; returns the output (a tuple for several)."""
        outs = evaluate(self, args)
        return outs[0] if len(outs) == 1 else tuple(outs)


# --------------------------------------------------------------------------- interpreters


def _value(v: Any, env: dict) -> Any:
    return v.value if isinstance(v, Literal) else env[v]


def _call_on_arrays(eqn: Eqn, args: list) -> Any:
    params = eqn.params
    special = eqn.meta.get("call")
    if special is not None:
        return special(args, params, tensors=False)
    return eqn.prim.impl(*args, **params) if params else eqn.prim.impl(*args)


def evaluate(program: Program, args: Any, keep: bool = False) -> Any:
    """Run ``program`` on input arrays (one per input Var, in order). Returns the outputs,
    or with ``keep`` the value of every Var.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> program, _ = trace_program(lambda x: (x * 2.0).exp(), cr.tensor(0.5))
    >>> [float(v) for v in evaluate(program, [1.0])]
    [7.38905609893065]
    """
    if len(args) != len(program.inputs):
        raise TypeError(f"program takes {len(program.inputs)} inputs, got {len(args)}")
    env: dict = dict(program.constants)
    for v, a in zip(program.inputs, args):
        env[v] = a
    for e in program.eqns:
        env[e.out] = _call_on_arrays(e, [_value(v, env) for v in e.inputs])
    if keep:
        return env
    return [_value(o, env) for o in program.outputs]


def run_on_tensors(
    program: Program, tensors: list, hook: Callable | None = None, lengths: bool = False
) -> dict:
    """Run ``program`` with chainrule operations on Tensors (recording, so the result can
    be differentiated, or traced again); returns Var -> Tensor. ``hook(eqn, tensor)`` is
    told about each result. ``lengths``: raise ``LengthChanged`` where a length the values
    decide differs from the traced one (for a caller that can trace again).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> program, _ = trace_program(lambda x: (x * 2.0).exp(), cr.tensor(0.5))
    >>> x = cr.tensor(0.0, requires_grad=True)
    >>> out = run_on_tensors(program, [x])[program.outputs[0]]
    >>> out.backward(); x.grad
    tensor(2.)
    """
    from ..tensor import as_tensor

    env: dict = {v: as_tensor(value) for v, value in program.constants.items()}
    for v, t in zip(program.inputs, tensors):
        env[v] = t
    for e in program.eqns:
        args = [_value(v, env) for v in e.inputs]
        special = e.meta.get("call")
        if special is not None:
            out = special(args, e.params, tensors=True)
        else:
            out = e.prim(*args, **e.params)
        if not hasattr(out, "_node"):  # every input was a constant: still a Tensor here
            out = as_tensor(out)
        if lengths and e.prim.name in VALUE_SHAPED:
            check_length(e, out)
        env[e.out] = out
        if hook is not None:
            hook(e, out)
    return env
