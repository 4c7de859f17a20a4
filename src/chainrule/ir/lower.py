"""Lowering: a program's equations as Python (NumPy) source, one forward lowering per
primitive.

Each primitive's lowering (``primitives.deflower``) is a template such as ``"{0} + {1}"``
or a function of a ``LowerCtx``; primitives without one are called through their
implementation. Expressions are built as Python syntax trees, so an input can be inlined
into its consumer (``dsigx * (1 - sigx) * sigx``) and ``ast.unparse`` decides the
parentheses. Kernels (``chainrule.kernels``) are imported by name, never copied: generated
code computes exactly what the engine computes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import kernels
from ..rules import Slot
from .program import Eqn, Literal, Var

KERNELS = frozenset(kernels.__all__)
_PLACEHOLDER = "__in{}__"

__all__ = [
    "CodegenError",
    "Constants",
    "LowerCtx",
    "Writer",
    "compile_module",
    "expression",
    "fresh",
    "literal",
    "module_header",
    "tidy",
    "used_kernels",
]


class CodegenError(NotImplementedError):
    """A program holds something generated code cannot write (a custom Function).

    Examples
    --------
    >>> import chainrule as cr
    >>> class Sq(cr.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         return g
    >>> cr.trace(Sq.apply, 1.0).flat_code()  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    CodegenError: no flat-code rule for operation 'Sq' ...
    """


def _number(x: Any) -> str:
    if isinstance(x, float) and not np.isfinite(x):
        return "np.nan" if np.isnan(x) else ("np.inf" if x > 0 else "(-np.inf)")
    text = repr(x)
    return f"({text})" if text.startswith("-") else text


def _dtype_name(dtype: Any) -> str:
    return f"np.{np.dtype(dtype).name}"


def literal(value: Any) -> str | None:
    """Python source for a small constant, or None when it is too big to inline.

    Examples
    --------
    >>> literal(2.5), literal(np.float32(1.0)), literal(np.zeros(100))
    ('2.5', 'np.float32(1.0)', None)
    """
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(value)
    if isinstance(value, complex):
        return repr(value)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        return None
    if arr.ndim == 0:
        item = arr.item()
        text = _number(item) if not isinstance(item, complex) else repr(item)
        if arr.dtype in (np.float64, np.int64, np.complex128) or arr.dtype.kind == "b":
            return text
        return f"{_dtype_name(arr.dtype)}({text.strip('()')})"
    if arr.size > 8 or arr.ndim > 2 or arr.dtype.kind == "c":
        return None
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return None
    body = repr(arr.tolist())
    if arr.dtype in (np.float64, np.int64, np.bool_):
        return f"np.array({body})"
    return f"np.array({body}, dtype={_dtype_name(arr.dtype)})"


class Constants:
    """Constants of a generated module that are too big to inline: ``CONST["k0"]``.

    Examples
    --------
    >>> import numpy as np
    >>> c = Constants()
    >>> c.source(2.5), c.source(np.arange(20.0))
    ('2.5', 'CONST["k0"]')
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._keys: dict[int, str] = {}
        self.names: dict[int, str] = {}  # id(array) -> an input's name (labels, indices)

    def source(self, value: Any) -> str:
        name = self.names.get(id(value))
        if name is not None:
            return name
        text = literal(value)
        if text is not None:
            return text
        key = self._keys.get(id(value))
        if key is None:
            key = f"k{len(self.values)}"
            self._keys[id(value)] = key
            self.values[key] = value
        return f'CONST["{key}"]'


class LowerCtx:
    """What a lowering function sees: the input expressions, the params, the constants.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: cr.clip(x, 0.0, 1.0), cr.tensor([0.5]))
    >>> ctx = LowerCtx(p.eqns[0], ['x'], Constants())
    >>> ctx.array(ctx.p['hi']), ctx.shape(0)
    ('1.0', (1,))
    """

    def __init__(self, eqn: Eqn, ins: list[str], consts: Constants) -> None:
        self.eqn = eqn
        self.ins = ins
        self.p = eqn.params
        self._consts = consts

    def array(self, value: Any) -> str:
        """Source for a constant value (a literal, an input's name or ``CONST[...]``)."""
        return self._consts.source(value)

    def shape(self, i: int) -> tuple:
        v = self.eqn.inputs[i]
        return v.shape if isinstance(v, Var) else np.shape(v.value)

    def index(self, template: Any, slots: list[str]) -> str:
        """An index template (see ``rules.fill_index``) as subscript source."""
        parts = template if isinstance(template, tuple) else (template,)
        out = []
        for p in parts:
            if p is None:
                out.append("None")
            elif p is Ellipsis:
                out.append("...")
            elif isinstance(p, slice):
                text = ":".join("" if v is None else str(v) for v in (p.start, p.stop))
                out.append(text + (f":{p.step}" if p.step is not None else ""))
            elif isinstance(p, (int, np.integer)):
                out.append(str(int(p)))
            elif isinstance(p, Slot):
                out.append(slots[p.k])
            else:
                out.append(self.array(p))
        if not isinstance(template, tuple):
            return out[0]
        if not out:
            return "()"
        return ", ".join(out) + ("," if len(out) == 1 else "")


def _format_params(params: dict, consts: Constants) -> dict:
    out = {}
    for k, v in params.items():
        out[k] = (
            v
            if isinstance(v, (str, tuple, int, float, bool, type(None), np.dtype))
            else (_Raw(consts.source(v)))
        )
    return out


class _Raw:
    """A param rendered as source text by ``{name!r}``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def expression(eqn: Eqn, ins: list[str], consts: Constants) -> str:
    """The source of ``eqn``'s result, with its inputs written as ``ins``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: cr.tanh(x), cr.tensor(0.5))
    >>> expression(p.eqns[0], ['h'], Constants())
    'np.tanh(h)'
    """
    low = eqn.prim.lower
    if eqn.meta.get("call") is not None or low is None:
        raise CodegenError(
            f"no generated code for operation {eqn.prim.name!r}: custom Functions and "
            f"checkpoint run eagerly (they cannot be written out as NumPy code)"
        )
    if isinstance(low, str):
        return low.format(*ins, **_format_params(eqn.params, consts))
    return low(LowerCtx(eqn, ins, consts))


def fresh(eqn: Eqn) -> bool:
    """Whether the generated expression makes a new array (not a view or an input).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (x * 2).reshape(2, 1), cr.tensor([1.0, 2.0]))
    >>> [fresh(e) for e in p.eqns]  # a product is a new array, a reshape a view
    [True, False]
    """
    prim = eqn.prim
    if prim.kind == "shape" and prim.name not in ("concatenate",):
        return False
    if prim.name == "getitem":
        return False
    return True


# --------------------------------------------------------------------------- statements


class Writer:
    """Turns equations into statements, inlining the inputs it is told to inline.

    ``names[var]`` is the identifier of every materialized Var; a Var in ``inline`` is
    written into its (single) consumer instead.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (1 - x) * x, cr.tensor(0.5))
    >>> w = Writer({p.inputs[0]: 'x'}, Constants())
    >>> w.hold(p.eqns[0])  # (1 - x) is written into its consumer
    >>> w.text(w.tree(p.eqns[1]))
    '(1 - x) * x'
    """

    def __init__(self, names: dict[Var, str], consts: Constants) -> None:
        self.names = names
        self.consts = consts
        self._inline_expr: dict[Var, ast.expr] = {}

    def atom(self, v: Var | Literal) -> ast.expr:
        if isinstance(v, Literal):
            return _parse(self.consts.source(v.value))
        inlined = self._inline_expr.pop(v, None)
        if inlined is not None:
            return inlined
        name = self.names.get(v)
        if name is None:
            raise CodegenError(f"internal: value {v!r} has no name in the generated code")
        return ast.Name(id=name, ctx=ast.Load())

    def tree(self, eqn: Eqn) -> ast.expr:
        placeholders = [_PLACEHOLDER.format(i) for i in range(len(eqn.inputs))]
        template = _parse(expression(eqn, placeholders, self.consts))
        atoms = [self.atom(v) for v in eqn.inputs]
        return _Substitute(atoms).visit(template)

    def hold(self, eqn: Eqn) -> None:
        """Keep ``eqn``'s expression to inline it where its result is used."""
        self._inline_expr[eqn.out] = self.tree(eqn)

    def text(self, node: ast.expr) -> str:
        return tidy(ast.unparse(node))


class _Substitute(ast.NodeTransformer):
    def __init__(self, atoms: list[ast.expr]) -> None:
        self.atoms = atoms

    def visit_Name(self, node: ast.Name) -> Any:
        m = re.fullmatch(r"__in(\d+)__", node.id)
        if m:
            return self.atoms[int(m.group(1))]
        return node


def _parse(source: str) -> ast.expr:
    return ast.parse(source, mode="eval").body


_SIMPLE = r"(?:[A-Za-z_][\w.]*|\d+(?:\.\d+)?)"
_POW = re.compile(rf"(?<![\w.])({_SIMPLE}) \*\* (-?{_SIMPLE})(?![\w(.\[])")


_CONST = re.compile(r"CONST\['(k\d+)'\]")


def tidy(text: str) -> str:
    """Source as people write it: ``x**2`` for simple operands (as black formats it), and
    ``CONST["k0"]`` with the double quotes the rest of the project uses.

    Examples
    --------
    >>> tidy("y = x ** 2 + CONST['k0']")
    'y = x**2 + CONST["k0"]'
    """
    return _CONST.sub(r'CONST["\1"]', _POW.sub(r"\1**\2", text))


def used_kernels(lines: list[str]) -> list[str]:
    """The kernels (``chainrule.kernels``) that the given source lines call.

    Examples
    --------
    >>> used_kernels(['out = nll(logp, y, "mean")', 'z = np.exp(x)'])
    ['nll']
    """
    names: set[str] = set()
    for line in lines:
        try:
            tree = ast.parse(line.strip())
        except SyntaxError:
            continue
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return sorted(names & KERNELS)


def module_header(lines: list[str]) -> str:
    """``import numpy as np`` and the kernel imports the code needs.

    Examples
    --------
    >>> print(module_header(['p = softmax(x, 1)']))
    import numpy as np
    from chainrule.kernels import softmax
    <BLANKLINE>
    """
    head = "import numpy as np\n"
    needed = used_kernels(lines)
    if needed:
        head += f"from chainrule.kernels import {', '.join(needed)}\n"
    return head


def compile_module(source: str, consts: dict, label: str) -> dict:
    """Execute generated source in a fresh namespace; returns it.

    Examples
    --------
    >>> ns = compile_module("f = lambda x: x + CONST['k0']", {'k0': 2}, '<example>')
    >>> ns['f'](1)
    3
    """
    namespace: dict[str, Any] = {"CONST": dict(consts), "__name__": "chainrule_generated"}
    exec(compile(source, label, "exec"), namespace)
    return namespace


Lowering = Callable[[LowerCtx], str]
