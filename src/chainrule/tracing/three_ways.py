"""The three ways to differentiate, side by side on one function (the last lecture's table):
numerical (forward and central differences), symbolic (the sum, product and chain rules applied
to the expression tree, without sharing) and automatic (the backward pass of the traced graph).

``three_ways(f, *args)`` returns a :class:`ThreeWays` table: each method's derivative, its error
against the exact answer, its cost in operations and the memory it keeps; ``swell(f, x)`` shows
expression swell, the symbolic derivative of f(f(...f(x))) against autodiff's graph.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..tensor import Tensor, no_grad
from .explain import fmt_number
from .graph import Graph, trace

__all__ = [
    "Expr",
    "SwellTable",
    "SymbolicError",
    "ThreeWays",
    "derivative",
    "expression",
    "swell",
    "three_ways",
]

#: The lecture's step for differences ("usually use h = 1e-6").
H_LECTURE = 1e-6


class SymbolicError(ValueError):
    """The function cannot be written as a scalar expression tree (tensors, an operation
    without a symbolic rule, or a tree too deep); the message says which.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.tracing.three_ways import SymbolicError, expression
    >>> try:
    ...     expression(cr.trace(lambda v: (v * v).sum(), [1.0, 2.0]))
    ... except SymbolicError as e:
    ...     print(str(e)[:34])
    ...
    symbolic: input 'v' has shape (2,)
    """


# --------------------------------------------------------------------------- expressions

# Precedence for printing with the fewest parentheses, as Python reads it.
_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4}
#: Functions the trees know, with their Python/NumPy spelling.
FUNCTIONS = ("exp", "log", "sin", "cos", "tanh", "sqrt", "abs", "sign", "step")


class Expr:
    """A node of a symbolic expression tree: a variable, a number, an operator
    (``add sub mul div neg pow``) or a function call (``exp log sin cos tanh sqrt abs sign
    step``).

    Trees are immutable; Python objects may be reused inside one tree, but the tree means
    every copy, and :attr:`size` counts every node of every copy, as a written-out formula
    would (what "expression swell" measures).

    Examples
    --------
    >>> x = Expr.var("x")
    >>> e = (x + 1) * (x + 1)
    >>> str(e), e.size, str(derivative(e, "x"))
    ('(x + 1) * (x + 1)', 7, 'x + 1 + (x + 1)')
    """

    __slots__ = ("op", "args", "value", "_size", "_ops", "__weakref__")

    def __init__(self, op: str, args: tuple[Expr, ...] = (), value: Any = None) -> None:
        self.op = op
        self.args = args
        self.value = value
        self._size: int | None = None
        self._ops: int | None = None

    # ------------------------------------------------------------------ building
    @staticmethod
    def var(name: str) -> Expr:
        return Expr("var", (), name)

    @staticmethod
    def const(value: float) -> Expr:
        return Expr("const", (), float(value))

    def is_const(self, value: float | None = None) -> bool:
        return self.op == "const" and (value is None or self.value == value)

    def __add__(self, other: Any) -> Expr:
        return add(self, _lift(other))

    def __radd__(self, other: Any) -> Expr:
        return add(_lift(other), self)

    def __sub__(self, other: Any) -> Expr:
        return sub(self, _lift(other))

    def __rsub__(self, other: Any) -> Expr:
        return sub(_lift(other), self)

    def __mul__(self, other: Any) -> Expr:
        return mul(self, _lift(other))

    def __rmul__(self, other: Any) -> Expr:
        return mul(_lift(other), self)

    def __truediv__(self, other: Any) -> Expr:
        return div(self, _lift(other))

    def __rtruediv__(self, other: Any) -> Expr:
        return div(_lift(other), self)

    def __neg__(self) -> Expr:
        return neg(self)

    def __pow__(self, other: Any) -> Expr:
        return power(self, _lift(other))

    # ------------------------------------------------------------------ measuring
    @property
    def size(self) -> int:
        """Nodes of the written-out tree: variables, numbers and operations, every copy."""
        return _count(self, "_size", lambda e: 1)

    @property
    def n_ops(self) -> int:
        """Operations of the written-out tree: the cost of evaluating it as it stands."""
        return _count(self, "_ops", lambda e: 0 if e.op in ("var", "const") else 1)

    @property
    def distinct(self) -> int:
        """Distinct subexpressions: the size if equal subtrees were shared (as autodiff's
        graph shares a value used twice)."""
        return _distinct(self)

    def variables(self) -> list[str]:
        found: dict[str, None] = {}
        for e in _postorder(self):
            if e.op == "var":
                found[e.value] = None
        return list(found)

    # ------------------------------------------------------------------ evaluating
    def evaluate(self, env: dict[str, Any], dtype: Any = np.float64) -> Any:
        """The value at ``env`` (name -> number), computed in ``dtype`` (e.g. ``np.longdouble``
        for a reference answer). Equal objects are computed once; :attr:`n_ops` is what
        evaluating the formula as written costs."""
        values: dict[int, Any] = {}
        with np.errstate(all="ignore"):
            for e in _postorder(self):
                values[id(e)] = _apply(e, [values[id(a)] for a in e.args], env, dtype)
        return values[id(self)]

    def registers(self) -> int:
        """Values alive at once when the tree is evaluated by a stack machine, the larger
        subtree first (Ershov's number): the memory symbolic evaluation needs."""
        need: dict[int, int] = {}
        for e in _postorder(self):
            kids = sorted((need[id(a)] for a in e.args), reverse=True)
            need[id(e)] = max([1] + [k + i for i, k in enumerate(kids)])
        return need[id(self)]

    # ------------------------------------------------------------------ printing
    def __str__(self) -> str:
        return _format(self, 0)

    def __repr__(self) -> str:
        text = str(self)
        return f"Expr({text if len(text) < 80 else text[:77] + '...'})"


def _lift(x: Any) -> Expr:
    return x if isinstance(x, Expr) else Expr.const(x)


def _postorder(root: Expr) -> list[Expr]:
    """Each distinct object once, children first (iterative: trees may be deep)."""
    order: list[Expr] = []
    seen: set[int] = set()
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        e, done = stack.pop()
        if done:
            order.append(e)
            continue
        if id(e) in seen:
            continue
        seen.add(id(e))
        stack.append((e, True))
        for a in reversed(e.args):
            if id(a) not in seen:
                stack.append((a, False))
    return order


def _count(root: Expr, slot: str, own: Callable[[Expr], int]) -> int:
    for e in _postorder(root):
        if getattr(e, slot) is None:
            setattr(e, slot, own(e) + sum(getattr(a, slot) for a in e.args))
    return getattr(root, slot)


def _number(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _format(e: Expr, parent: int, right: bool = False) -> str:
    op = e.op
    if op == "var":
        return e.value
    if op == "const":
        text = _number(e.value)
        return f"({text})" if e.value < 0 and parent >= _PREC["neg"] else text
    if op in FUNCTIONS:
        return f"{op}({_format(e.args[0], 0)})"
    prec = _PREC[op]
    if op == "neg":
        text = f"-{_format(e.args[0], prec)}"
    elif op == "pow":
        # ** binds right to left and tighter than unary minus: (-x)**2, x**(-1), (a**b)**c
        base = _format(e.args[0], prec + 1)
        text = f"{base}**{_format(e.args[1], prec)}"
    else:
        symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[op]
        left = _format(e.args[0], prec)
        if op in ("sub", "div"):  # a - (b + c), a / (b * c); a - b * c needs none
            right_text = _format(e.args[1], prec + 1)
        else:  # a + (b + c) keeps the tree's shape visible
            right_text = _format(e.args[1], prec, right=True)
        text = f"{left} {symbol} {right_text}"
    return f"({text})" if prec < parent or (right and prec == parent and op != "pow") else text


def _apply(e: Expr, args: list[Any], env: dict[str, Any], dtype: Any) -> Any:
    op = e.op
    if op == "var":
        return dtype(env[e.value])
    if op == "const":
        return dtype(e.value)
    if op == "add":
        return args[0] + args[1]
    if op == "sub":
        return args[0] - args[1]
    if op == "mul":
        return args[0] * args[1]
    if op == "div":
        return args[0] / args[1]
    if op == "neg":
        return -args[0]
    if op == "pow":
        return args[0] ** args[1]
    if op == "step":
        return dtype(1.0) if args[0] > 0 else dtype(0.0)
    return getattr(np, op)(args[0])


# Building with the simplifications a person would make by hand (0 + a = a, 1 * a = a,
# -(-a) = a, ...): without them the lecture's formula would be buried in "* 1" and "+ 0".


def add(a: Expr, b: Expr) -> Expr:
    if a.is_const() and b.is_const():
        return Expr.const(a.value + b.value)
    if a.is_const(0.0):
        return b
    if b.is_const(0.0):
        return a
    if b.op == "neg":
        return sub(a, b.args[0])
    if a.op == "neg":
        return sub(b, a.args[0])
    return Expr("add", (a, b))


def sub(a: Expr, b: Expr) -> Expr:
    if a.is_const() and b.is_const():
        return Expr.const(a.value - b.value)
    if b.is_const(0.0):
        return a
    if a.is_const(0.0):
        return neg(b)
    if b.op == "neg":
        return add(a, b.args[0])
    return Expr("sub", (a, b))


def mul(a: Expr, b: Expr) -> Expr:
    if a.is_const() and b.is_const():
        return Expr.const(a.value * b.value)
    if a.is_const(0.0) or b.is_const(0.0):
        return Expr.const(0.0)
    if a.is_const(1.0):
        return b
    if b.is_const(1.0):
        return a
    if a.is_const(-1.0):
        return neg(b)
    if b.is_const(-1.0):
        return neg(a)
    if a.op == "neg":
        return neg(mul(a.args[0], b))
    if b.op == "neg":
        return neg(mul(a, b.args[0]))
    if b.is_const():  # numbers in front: 2 * (x + y)
        return mul(b, a)
    if b.op == "div":  # a * (b / c) = a * b / c
        return div(mul(a, b.args[0]), b.args[1])
    return Expr("mul", (a, b))


def div(a: Expr, b: Expr) -> Expr:
    if a.is_const() and b.is_const() and b.value != 0:
        return Expr.const(a.value / b.value)
    if a.is_const(0.0):
        return Expr.const(0.0)
    if b.is_const(1.0):
        return a
    if a.op == "neg":
        return neg(div(a.args[0], b))
    if b.op == "neg":
        return neg(div(a, b.args[0]))
    return Expr("div", (a, b))


def neg(a: Expr) -> Expr:
    if a.is_const():
        return Expr.const(-a.value)
    if a.op == "neg":
        return a.args[0]
    return Expr("neg", (a,))


def power(a: Expr, b: Expr) -> Expr:
    if a.is_const() and b.is_const():
        return Expr.const(a.value**b.value)
    if b.is_const(1.0):
        return a
    if b.is_const(0.0):
        return Expr.const(1.0)
    return Expr("pow", (a, b))


def call(name: str, a: Expr) -> Expr:
    if name not in FUNCTIONS:
        raise SymbolicError(f"symbolic: no function {name!r}")
    if a.is_const():
        return Expr.const(float(_apply(Expr(name, (a,)), [a.value], {}, np.float64)))
    return Expr(name, (a,))


def sigmoid(a: Expr) -> Expr:
    """The lectures' definition written out, as a symbolic differentiator sees it."""
    return div(Expr.const(1.0), add(call("exp", neg(a)), Expr.const(1.0)))


# --------------------------------------------------------------------------- rules


def derivative(e: Expr, x: str) -> Expr:
    """d e / d x by the sum, product, quotient and chain rules, applied to the tree as it is
    written: a subexpression used twice is differentiated twice, and nothing is shared in
    the result (its :attr:`Expr.size` counts every copy).

    Equal objects give equal derivatives, so each is worked out once and reused: the tree
    this returns is exactly the one differentiating every copy would write.

    Examples
    --------
    >>> x = Expr.var("x")
    >>> str(derivative(sigmoid(x), "x"))
    'exp(-x) / (exp(-x) + 1)**2'
    >>> str(derivative(x ** 3, "x"))
    '3 * x**2'
    """
    done: dict[int, Expr] = {}
    for node in _postorder(e):
        done[id(node)] = _rule(node, [done[id(a)] for a in node.args], x)
    return done[id(e)]


def _rule(e: Expr, d: list[Expr], x: str) -> Expr:
    op, args = e.op, e.args
    zero, one = Expr.const(0.0), Expr.const(1.0)
    if op == "var":
        return one if e.value == x else zero
    if op == "const":
        return zero
    if op == "add":  # sum rule
        return add(d[0], d[1])
    if op == "sub":
        return sub(d[0], d[1])
    if op == "neg":
        return neg(d[0])
    if op == "mul":  # product rule: (u v)' = u' v + u v'
        return add(mul(d[0], args[1]), mul(args[0], d[1]))
    if op == "div":  # quotient rule, as the lecture writes it: u'/v - u v'/v^2
        u, v = args
        return sub(div(d[0], v), div(mul(u, d[1]), power(v, Expr.const(2.0))))
    if op == "pow":
        u, c = args
        if c.is_const():  # power rule with the chain rule: c u^(c-1) u'
            return mul(mul(c, power(u, Expr.const(c.value - 1.0))), d[0])
        # u^v = exp(v log u): (u^v)' = u^v (v' log u + v u' / u)
        return mul(e, add(mul(d[1], call("log", u)), div(mul(c, d[0]), u)))
    u = args[0]
    du = d[0]
    # chain rule: f(u)' = f'(u) u'
    if op == "exp":
        return mul(e, du)
    if op == "log":
        return div(du, u)
    if op == "sin":
        return mul(call("cos", u), du)
    if op == "cos":
        return neg(mul(call("sin", u), du))
    if op == "tanh":
        return mul(sub(one, power(e, Expr.const(2.0))), du)
    if op == "sqrt":
        return div(du, mul(Expr.const(2.0), e))
    if op == "abs":
        return mul(call("sign", u), du)
    if op in ("sign", "step"):  # flat almost everywhere (their subgradient choice: 0)
        return zero
    raise SymbolicError(f"symbolic: no rule for {op!r}")  # pragma: no cover


def substitute(e: Expr, name: str, replacement: Expr) -> Expr:
    """``e`` with every ``name`` replaced by ``replacement`` (the tree written out)."""
    done: dict[int, Expr] = {}
    for node in _postorder(e):
        if node.op == "var" and node.value == name:
            done[id(node)] = replacement
        elif not node.args:
            done[id(node)] = node
        else:
            done[id(node)] = _rebuild(node, [done[id(a)] for a in node.args])
    return done[id(e)]


def _rebuild(e: Expr, args: list[Expr]) -> Expr:
    builders: dict[str, Callable[..., Expr]] = {
        "add": add,
        "sub": sub,
        "mul": mul,
        "div": div,
        "neg": neg,
        "pow": power,
    }
    if e.op in builders:
        return builders[e.op](*args)
    return call(e.op, args[0])


# --------------------------------------------------------------------------- from a graph

_UNARY = {
    "exp": "exp",
    "log": "log",
    "sin": "sin",
    "cos": "cos",
    "tanh": "tanh",
    "sqrt": "sqrt",
    "abs": "abs",
    "sign": "sign",
}


def expression(graph: Graph) -> Expr:
    """The traced computation as one expression tree in its inputs (scalars only): every
    intermediate value is written out where it is used, so a value used twice appears
    twice, the way a formula on paper has it.

    Examples
    --------
    >>> import chainrule as cr
    >>> def f(x, y):
    ...     q = x + y
    ...     return q * q
    >>> str(expression(cr.trace(f, 1.0, 2.0)))
    '(x + y) * (x + y)'
    """
    if len(graph.outputs) != 1:
        raise SymbolicError(f"symbolic: the function has {len(graph.outputs)} outputs, not one")
    built: dict[int, Expr] = {}
    for v in graph.nodes:
        if v.op in ("input", "param"):
            if v.size != 1:
                raise SymbolicError(
                    f"symbolic: input {v.name!r} has shape {v.shape}; symbolic "
                    f"differentiation here works on scalar expressions"
                )
            built[v.index] = Expr.var(v.name) if v.op == "input" else Expr.const(float(v.value))
            continue
        if v.op == "const":
            if np.size(v.value) != 1:
                raise SymbolicError(f"symbolic: constant {v.name!r} is not a scalar")
            built[v.index] = Expr.const(float(np.asarray(v.value).reshape(())))
            continue
        if v.size != 1:
            raise SymbolicError(f"symbolic: {v.name} = {v.op}(...) has shape {v.shape}")
        args = [built[i.index] for i in v.inputs]
        built[v.index] = _from_op(v.op, args, v.params)
    out = built[graph.outputs[0].index]
    if _depth(out) > 400:
        raise SymbolicError("symbolic: the expression is nested too deeply to write out")
    return out


def _depth(e: Expr) -> int:
    depth: dict[int, int] = {}
    for node in _postorder(e):
        depth[id(node)] = 1 + max((depth[id(a)] for a in node.args), default=0)
    return depth[id(e)]


def _from_op(op: str, args: list[Expr], params: dict) -> Expr:
    if op == "add":
        return add(args[0], args[1])
    if op == "sub":
        return sub(args[0], args[1])
    if op == "mul":
        return mul(args[0], args[1])
    if op == "div":
        return div(args[0], args[1])
    if op == "neg":
        return neg(args[0])
    if op == "pow":
        return power(args[0], args[1])
    if op == "square":
        return power(args[0], Expr.const(2.0))
    if op == "sigmoid":
        return sigmoid(args[0])
    if op == "relu":
        return mul(call("step", args[0]), args[0])
    if op in _UNARY:
        return call(_UNARY[op], args[0])
    if op in ("sum", "mean", "reshape", "squeeze", "expand_dims", "broadcast_to", "sum_to"):
        return args[0]  # on a scalar these change nothing
    raise SymbolicError(f"symbolic: no rule for the operation {op!r}")


# --------------------------------------------------------------------------- three ways


@dataclass
class Method:
    """One row of the table: a way to differentiate and what it cost."""

    name: str
    gradient: dict[str, Any]
    error: float | None
    ops: int | None
    memory: int | None
    note: str = ""


@dataclass
class ThreeWays:
    """The derivative of one function computed three ways (four rows: two for numerical).

    ``str()`` gives the table; ``rows`` the :class:`Method` rows; ``symbolic`` the derivative
    expressions (input name -> :class:`Expr`, empty when the function is not a scalar
    expression); ``exact`` the reference answer; ``errors_vs_h()`` and ``plot(path)`` the
    numerical error against the step h.

    Examples
    --------
    >>> import chainrule as cr
    >>> table = cr.three_ways(lambda x: x ** 3, 2.0)
    >>> [row.name for row in table.rows]  # doctest: +NORMALIZE_WHITESPACE
    ['numerical (forward, h=1e-06)', 'numerical (central, h=1e-06)', 'symbolic',
     'automatic (reverse mode)']
    >>> [round(float(row.gradient["x"]), 3) for row in table.rows]
    [12.0, 12.0, 12.0, 12.0]
    """

    name: str
    inputs: dict[str, Any]
    value: Any
    rows: list[Method]
    exact: dict[str, Any]
    reference: str
    function: Expr | None = None
    symbolic: dict[str, Expr] = field(default_factory=dict)
    forward_ops: int = 0
    _evaluate: Callable[[dict[str, Any]], float] | None = field(default=None, repr=False)
    h: float = H_LECTURE

    def __getitem__(self, name: str) -> Method:
        for row in self.rows:
            if row.name.startswith(name):
                return row
        raise KeyError(name)

    def __str__(self) -> str:
        names = list(self.exact)
        head = ["method", *[f"d{self.name}/d{n}" for n in names], "error", "cost (ops)", "memory"]
        lines = []
        for row in self.rows:
            cells = [row.name]
            for n in names:
                g = row.gradient.get(n)
                cells.append("n/a" if g is None else _show(g))
            if row.error is None:
                cells.append("reference" if row.gradient else "n/a")
            else:
                cells.append(f"{row.error:.1e}")
            cells.append("n/a" if row.ops is None else f"{row.ops:,}")
            cells.append("n/a" if row.memory is None else _bytes(row.memory))
            lines.append(cells)
        widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]

        def fmt(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            ).rstrip()

        at = ", ".join(f"{k}={_show(v)}" for k, v in self.inputs.items())
        out = [
            f"the three ways to differentiate {self.name} at {at} (value {_show(self.value)})",
            "",
            fmt(head),
            "  ".join("-" * w for w in widths),
        ]
        out += [fmt(c) for c in lines]
        out.append("")
        out.append(f"error: largest |difference| from the exact answer ({self.reference})")
        out.append(
            f"cost: operations to get the gradient (f itself: {self.forward_ops} ops); "
            "memory: values kept at once"
        )
        for row in self.rows:
            if row.note:
                out.append(f"{row.name}: {row.note}")
        if self.symbolic:
            out.append("")
            for n, e in self.symbolic.items():
                text = str(e)
                shown = text if len(text) <= 1500 else text[:1500] + " ..."
                out.append(f"symbolic d{self.name}/d{n} ({e.size} nodes, {e.n_ops} ops):")
                out.append(f"  {shown}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def errors_vs_h(self, hs: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(h, forward-difference error, central-difference error): the largest error over
        the inputs for each step h (default 1e-16 ... 1)."""
        if self._evaluate is None:
            raise ValueError("three_ways: no function to evaluate")
        hs = np.logspace(-16, 0, 65) if hs is None else np.asarray(hs, dtype=np.float64)
        fwd, cen = [], []
        for h in hs:
            f_err = c_err = 0.0
            base = self._evaluate({})
            for name, exact in self.exact.items():
                x = np.asarray(self.inputs[name], dtype=np.float64)
                g = np.asarray(exact, dtype=np.float64)
                for i in range(x.size):
                    up = _bump(x, i, h)
                    down = _bump(x, i, -h)
                    fu = self._evaluate({name: up})
                    fd = self._evaluate({name: down})
                    f_err = max(f_err, abs((fu - base) / h - g.flat[i]))
                    c_err = max(c_err, abs((fu - fd) / (2 * h) - g.flat[i]))
            fwd.append(f_err)
            cen.append(c_err)
        return hs, np.array(fwd), np.array(cen)

    def figure(self) -> Any:
        """The error of forward and central differences against h: the U-curve (rounding
        error left, truncation error right), the lecture's h = 1e-6 marked."""
        from matplotlib.figure import Figure

        from .._plots import CLASS_COLORS

        hs, fwd, cen = self.errors_vs_h()
        tiny = np.finfo(np.float64).tiny
        fig = Figure(figsize=(7.0, 4.6), layout="constrained")
        ax = fig.subplots()
        ax.loglog(
            hs,
            np.maximum(fwd, tiny),
            "o-",
            ms=3,
            color=CLASS_COLORS[0],
            label="forward difference (f(x+h) - f(x)) / h",
        )
        ax.loglog(
            hs,
            np.maximum(cen, tiny),
            "s--",
            ms=3,
            color=CLASS_COLORS[1],
            label="central difference (f(x+h) - f(x-h)) / 2h",
        )
        ax.axvline(H_LECTURE, color="#555555", lw=1, ls=":", label="h = 1e-6, the lecture's choice")
        ax.set_xlabel("step h")
        ax.set_ylabel("largest |error| of the gradient")
        ax.set_title(
            f"numerical derivative of {self.name}: rounding (left) vs truncation (right)",
            fontsize=10,
        )
        ax.grid(alpha=0.3, which="major")
        ax.legend(fontsize=8, loc="upper center")
        return fig

    def plot(self, path: str | os.PathLike) -> str:
        """Write :meth:`figure` to ``path`` (png, svg or pdf); returns the path."""
        path = os.fspath(path)
        self.figure().savefig(path, dpi=110)
        return path


def _bump(x: np.ndarray, i: int, h: float) -> np.ndarray:
    out = np.array(x, dtype=np.float64, copy=True)
    out.flat[i] += h
    return out


def _show(v: Any) -> str:
    arr = np.asarray(v)
    if arr.size == 1 and arr.ndim == 0:
        return fmt_number(float(arr.real))
    if arr.size <= 6:
        return str(np.vectorize(lambda a: fmt_number(float(a)))(arr).tolist()).replace("'", "")
    return f"[{'x'.join(map(str, arr.shape))} array]"


def _bytes(n: int) -> str:
    return f"{n} B" if n < 10_000 else f"{n / 1024:.1f} KiB"


def _rebinder(f: Callable, args: tuple, kwargs: dict) -> Callable[[dict[str, Any]], tuple]:
    """A function {input name: value} -> (args, kwargs) for calling ``f`` with those inputs
    replaced; names as ``trace`` gives them (parameters, ``args0``... for ``*args``)."""
    from .graph import _is_module

    sig = inspect.signature(f.forward if _is_module(f) else f)
    bound = sig.bind(*args, **kwargs)
    where: dict[str, tuple[str, Any]] = {}
    for pname, value in bound.arguments.items():
        kind = sig.parameters[pname].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            for i in range(len(value)):
                where[f"{pname}{i}"] = (pname, i)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            for k in value:
                where[k] = (pname, k)
        else:
            where[pname] = (pname, None)

    def rebind(changes: dict[str, Any]) -> tuple[tuple, dict]:
        arguments = dict(bound.arguments)
        for name, value in changes.items():
            pname, slot = where[name]
            if slot is None:
                arguments[pname] = value
            elif isinstance(slot, int):
                items = list(arguments[pname])
                items[slot] = value
                arguments[pname] = tuple(items)
            else:
                arguments[pname] = dict(arguments[pname], **{slot: value})
        new = inspect.BoundArguments(sig, arguments)  # type: ignore[arg-type]
        return new.args, new.kwargs

    return rebind


def _call_with(
    f: Callable, rebind: Callable[[dict[str, Any]], tuple], point: dict[str, np.ndarray]
) -> Callable[[dict[str, Any]], float]:
    """f as a function of {input name: new value} (the others at ``point``), under no_grad;
    inputs go in as Tensors, as tracing passed them."""

    def evaluate(changes: dict[str, Any]) -> float:
        values = {
            n: Tensor(np.array(changes.get(n, v), dtype=np.float64)) for n, v in point.items()
        }
        call_args, call_kwargs = rebind(values)
        with no_grad():
            out = f(*call_args, **call_kwargs)
        data = out.data if isinstance(out, Tensor) else out
        return float(np.asarray(data, dtype=np.float64).reshape(()))

    return evaluate


def three_ways(f: Callable[..., Any], *args: Any, h: float = H_LECTURE, **kwargs: Any) -> ThreeWays:
    """Differentiate ``f`` at ``args`` three ways and compare them (the lecture's table).

    * numerical: forward and central differences with step ``h`` (the lecture's 1e-6), one
      or two evaluations of ``f`` per input element;
    * symbolic: ``f``'s expression tree (scalar inputs) differentiated by the sum, product,
      quotient and chain rules, without sharing, then evaluated;
    * automatic: reverse mode on the traced graph (``Graph.backward``); its cost is the
      size of the graph ``cr.grad(f)`` builds.

    The exact answer is the symbolic derivative evaluated in extended precision
    (``np.longdouble``), or autodiff's own when there is no scalar expression.

    Examples
    --------
    >>> import chainrule as cr
    >>> def f(x, y):
    ...     return (x + cr.sigmoid(y)) / (cr.sigmoid(x) + (x + y) ** 2)
    >>> table = cr.three_ways(f, 3.0, -4.0)
    >>> round(float(table["automatic"].gradient["x"]), 4)
    2.0596
    >>> table["numerical (central"].error < 1e-8 < table["numerical (forward"].error
    True
    """
    return _three_ways(f, args, kwargs, h)


def _three_ways(f: Callable[..., Any], args: tuple, kwargs: dict, h: float) -> ThreeWays:
    """``three_ways`` with the inputs given as a tuple and a dict (so an input may be
    called ``h``)."""
    if not (isinstance(h, (int, float)) and 0 < h < 1):
        raise ValueError(f"three_ways: the step h must be a number in (0, 1), got {h!r}")
    graph = trace(f, *args, **kwargs)
    if len(graph.outputs) != 1 or graph.outputs[0].size != 1:
        raise ValueError(
            f"three_ways: {graph.name} must return one number, got shape "
            f"{graph.outputs[0].shape if graph.outputs else '()'}"
        )
    names = [n for n, v in graph.inputs.items() if v.op == "input"]
    differentiable = [n for n in names if graph.inputs[n].requires_grad]
    if not differentiable:
        raise ValueError("three_ways: no floating-point input to differentiate")
    point = {n: np.array(graph.inputs[n].value, dtype=np.float64) for n in differentiable}
    rebind = _rebinder(f, args, kwargs)
    evaluate = _call_with(f, rebind, point)
    forward_ops = len(graph.ops)
    in_bytes = sum(point[n].nbytes for n in differentiable)
    n_elems = sum(point[n].size for n in differentiable)

    # automatic: the backward pass of the traced graph
    auto = graph.backward()
    auto = {n: np.asarray(auto[n], dtype=np.float64) for n in differentiable}
    auto_ops = _gradient_graph_ops(f, rebind, point)
    auto_memory = graph.memory_report()["total"] + sum(a.nbytes for a in auto.values())

    # symbolic
    function: Expr | None = None
    symbolic: dict[str, Expr] = {}
    symbolic_note = ""
    try:
        function = expression(graph)
        symbolic = {n: derivative(function, n) for n in differentiable}
    except SymbolicError as e:
        symbolic_note = str(e).removeprefix("symbolic: ")
    env = {n: float(point[n]) for n in differentiable if point[n].size == 1}
    if symbolic:
        exact = {n: np.longdouble(e.evaluate(env, np.longdouble)) for n, e in symbolic.items()}
        sym_values = {n: np.float64(e.evaluate(env)) for n, e in symbolic.items()}
        reference = "the symbolic derivative in extended precision"
    else:
        exact = {n: auto[n].astype(np.longdouble) for n in differentiable}
        sym_values = {}
        reference = "autodiff, as no scalar expression exists"

    def error(grads: dict[str, Any]) -> float:
        worst = 0.0
        for n in differentiable:
            diff = np.abs(np.asarray(grads[n], dtype=np.longdouble) - exact[n])
            worst = max(worst, float(np.max(diff)))
        return worst

    base = evaluate({})
    fwd: dict[str, Any] = {}
    cen: dict[str, Any] = {}
    for n in differentiable:
        x = point[n]
        gf = np.empty(x.shape)
        gc = np.empty(x.shape)
        for i in range(x.size):
            up, down = evaluate({n: _bump(x, i, h)}), evaluate({n: _bump(x, i, -h)})
            gf.flat[i] = (up - base) / h
            gc.flat[i] = (up - down) / (2 * h)
        fwd[n], cen[n] = (gf if gf.ndim else gf[()]), (gc if gc.ndim else gc[()])

    rows = [
        Method(
            f"numerical (forward, h={h:g})",
            fwd,
            error(fwd),
            (1 + n_elems) * forward_ops,
            in_bytes + 16,
            f"{1 + n_elems} evaluations of {graph.name}, error ~ h (truncation) + eps/h",
        ),
        Method(
            f"numerical (central, h={h:g})",
            cen,
            error(cen),
            2 * n_elems * forward_ops,
            in_bytes + 16,
            f"{2 * n_elems} evaluations of {graph.name}, error ~ h^2 + eps/h",
        ),
    ]
    if symbolic:
        sizes = " and ".join(f"{e.size}" for e in symbolic.values())
        rows.append(
            Method(
                "symbolic",
                sym_values,
                error(sym_values),
                sum(e.n_ops for e in symbolic.values()),
                8 * max(e.registers() for e in symbolic.values()),
                f"the written-out derivatives ({sizes} nodes), evaluated as written",
            )
        )
    else:
        rows.append(Method("symbolic", {}, None, None, None, symbolic_note))
    rows.append(
        Method(
            "automatic (reverse mode)",
            auto,
            error(auto) if symbolic else None,
            auto_ops,
            auto_memory,
            "one forward and one backward pass; memory: what the forward pass keeps for it",
        )
    )
    value = graph.outputs[0].value
    return ThreeWays(
        name=graph.outputs[0].name if graph.outputs[0].is_op else graph.name,
        inputs={n: point[n] if point[n].ndim else float(point[n]) for n in differentiable},
        value=value,
        rows=rows,
        exact=exact,
        reference=reference,
        function=function,
        symbolic=symbolic,
        forward_ops=forward_ops,
        _evaluate=evaluate,
        h=h,
    )


def _gradient_graph_ops(
    f: Callable, rebind: Callable[[dict[str, Any]], tuple], point: dict[str, np.ndarray]
) -> int:
    """Operations of the graph that ``cr.grad(f)`` builds: autodiff's cost, forward and
    backward together."""
    from ..transforms import grad

    names = list(point)

    def positional(*vals: Any) -> Any:
        call_args, call_kwargs = rebind(dict(zip(names, vals)))
        return f(*call_args, **call_kwargs)

    g = trace(grad(positional, argnums=tuple(range(len(names)))), *point.values())
    return len(g.ops)


# --------------------------------------------------------------------------- swell


@dataclass
class SwellRow:
    n: int
    expression_size: int
    derivative_size: int
    derivative_distinct: int
    autodiff_ops: int


@dataclass
class SwellTable:
    """Expression swell: f nested n times, the symbolic derivative's size against the size
    of the graph autodiff builds, for n = 1, 2, ...

    ``str()`` gives the table, ``figure()``/``plot(path)`` the sizes against n.

    Examples
    --------
    >>> from chainrule.tracing.three_ways import swell
    >>> table = swell(lambda x: x * x, 0.5, levels=3)
    >>> [(r.n, r.derivative_size, r.autodiff_ops) for r in table.rows]
    [(1, 3, 3), (2, 15, 7), (3, 47, 11)]
    """

    name: str
    rows: list[SwellRow]
    formula: str

    def __str__(self) -> str:
        head = [
            "n",
            "f nested (nodes)",
            "symbolic d/dx (nodes)",
            "shared (distinct)",
            "autodiff graph (ops)",
        ]
        cells = [
            [
                str(r.n),
                f"{r.expression_size:,}",
                f"{r.derivative_size:,}",
                f"{r.derivative_distinct:,}",
                f"{r.autodiff_ops:,}",
            ]
            for r in self.rows
        ]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
        lines = [
            f"expression swell: {self.formula} nested n times, f(f(...f(x)))",
            "",
            "  ".join(h.rjust(w) for h, w in zip(head, widths)),
            "  ".join("-" * w for w in widths),
        ]
        lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
        lines.append("")
        lines.append(
            "symbolic: the derivative written out by the rules (every copy counted); shared: "
            "the same with equal subexpressions shared; autodiff: ops of the graph cr.grad builds"
        )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def figure(self) -> Any:
        from matplotlib.figure import Figure

        from .._plots import CLASS_COLORS

        n = [r.n for r in self.rows]
        fig = Figure(figsize=(6.5, 4.4), layout="constrained")
        ax = fig.subplots()
        ax.semilogy(
            n,
            [r.derivative_size for r in self.rows],
            "o-",
            color=CLASS_COLORS[4],
            label="symbolic derivative, written out (nodes)",
        )
        ax.semilogy(
            n,
            [r.expression_size for r in self.rows],
            "^:",
            color=CLASS_COLORS[3],
            label="the nested expression itself (nodes)",
        )
        ax.semilogy(
            n,
            [r.derivative_distinct for r in self.rows],
            "d-.",
            color=CLASS_COLORS[2],
            label="symbolic derivative, equal parts shared (nodes)",
        )
        ax.semilogy(
            n,
            [r.autodiff_ops for r in self.rows],
            "s--",
            color=CLASS_COLORS[0],
            label="autodiff's gradient graph (ops)",
        )
        ax.set_xlabel("n, the nesting depth of f(f(...f(x)))")
        ax.set_ylabel("size")
        ax.set_xticks(n)
        ax.set_title(f"expression swell: {self.formula}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        return fig

    def plot(self, path: str | os.PathLike) -> str:
        path = os.fspath(path)
        self.figure().savefig(path, dpi=110)
        return path


def swell(
    f: Callable[[Any], Any], x: float, levels: int = 10, name: str | None = None
) -> SwellTable:
    """Nest the one-variable function ``f`` n = 1 ... ``levels`` times and measure, for each
    n, the written-out symbolic derivative of f(f(...f(x))) and the graph autodiff builds.

    Symbolic differentiation writes each level's expression into the next and differentiates
    the whole formula, so the derivative grows faster than linearly in n (exponentially when
    f uses its argument more than once); autodiff computes each level once and its gradient
    graph grows by the same number of operations per level.

    Examples
    --------
    >>> table = swell(lambda x: 4 * x * (1 - x), 0.3, levels=4)
    >>> [r.derivative_size for r in table.rows]
    [9, 41, 129, 353]
    >>> [r.autodiff_ops for r in table.rows]
    [7, 15, 23, 31]
    """
    from ..transforms import grad

    try:
        graph = trace(f, x)
    except TypeError as e:
        raise ValueError(f"swell: f must take one variable ({e})") from None
    names = [n for n, v in graph.inputs.items() if v.op == "input"]
    if len(names) != 1:
        raise ValueError(f"swell: f must take one variable, it takes {len(names)}")
    var = names[0]
    one = expression(graph)
    formula = name or str(one)
    rows = []
    nested = Expr.var(var)
    for n in range(1, levels + 1):
        nested = substitute(one, var, nested)
        d = derivative(nested, var)

        def deep(t: Any, n: int = n) -> Any:
            for _ in range(n):
                t = f(t)
            return t

        ops = len(trace(grad(deep), x).ops)
        rows.append(SwellRow(n, nested.size, d.size, _distinct(d), ops))
    return SwellTable(formula if len(formula) < 60 else formula[:57] + "...", rows, formula)


def _distinct(e: Expr) -> int:
    """Distinct subtrees by structure (hash-consing), without printing huge trees."""
    ids: dict[tuple, int] = {}
    of: dict[int, int] = {}
    for node in _postorder(e):
        key = (node.op, node.value, tuple(of[id(a)] for a in node.args))
        of[id(node)] = ids.setdefault(key, len(ids))
    return len(ids)
