"""Safe expressions for ``chainrule explain``: parsed with ``ast`` against an allow-list of
names and operators, then evaluated on Tensors by walking the tree (never ``eval``).

``"(x + y) * z"`` or ``"q = x + y; f = q * z"``; functions such as ``sigmoid(y)``. Intermediate
values get the lectures' kind of names (``xpy`` for x + y, ``sigy``, ``num``/``den``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor

__all__ = ["ExpressionError", "Program", "parse", "parse_value"]

MAX_LENGTH = 2000
MAX_DEPTH = 60

#: The functions an expression may call.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sigmoid": ops.sigmoid,
    "exp": ops.exp,
    "log": ops.log,
    "sqrt": ops.sqrt,
    "tanh": ops.tanh,
    "relu": ops.relu,
    "abs": ops.abs,
    "sin": ops.sin,
    "cos": ops.cos,
    "square": ops.square,
    "maximum": ops.maximum,
    "minimum": ops.minimum,
    "max": ops.max,
    "min": ops.min,
    "sum": ops.sum,
    "mean": ops.mean,
    "logsumexp": ops.logsumexp,
    "softmax": ops.softmax,
    "log_softmax": ops.log_softmax,
}
KEYWORDS = frozenset({"axis", "keepdims"})
CONSTANTS = {"pi": float(np.pi), "e": float(np.e)}

_BINOPS: dict[type, tuple[Callable[[Any, Any], Any], str]] = {
    ast.Add: (lambda a, b: a + b, "p"),
    ast.Sub: (lambda a, b: a - b, "m"),
    ast.Mult: (lambda a, b: a * b, "t"),
    ast.Div: (lambda a, b: a / b, "d"),
    ast.Pow: (lambda a, b: a**b, "pow"),
    ast.MatMult: (lambda a, b: a @ b, "mm"),
}


class ExpressionError(ValueError):
    """An expression that is not allowed or cannot be evaluated; the message says why.

    Examples
    --------
    >>> from chainrule.tracing.expr import ExpressionError, parse
    >>> try:
    ...     parse("open('/etc/passwd')")
    ... except ExpressionError as e:
    ...     print(str(e)[:30])
    ...
    function 'open' is not allowed
    """


def _reject(node: ast.AST) -> ExpressionError:
    kind = type(node).__name__
    if isinstance(node, ast.Attribute):
        return ExpressionError(f"attribute access ('.{node.attr}') is not allowed")
    if isinstance(node, ast.Lambda):
        return ExpressionError("lambda is not allowed")
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return ExpressionError("comprehensions are not allowed")
    if isinstance(node, ast.Subscript):
        return ExpressionError("indexing ([...]) is not allowed")
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return ExpressionError("import is not allowed")
    if isinstance(node, ast.Compare):
        return ExpressionError("comparisons are not allowed")
    return ExpressionError(f"{kind} is not allowed in an expression")


def _short(text: str, limit: int = 40) -> str:
    """``text`` for an error message: long inputs are cut, not echoed in full."""
    text = str(text)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _check_number(value: Any, shown: str) -> None:
    """Refuse an integer no float64 can hold (the computation would raise OverflowError
    deep inside NumPy)."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            raise ExpressionError(
                f"the number {_short(shown)} is too large for a float64"
            ) from None


def _functions_text() -> str:
    return ", ".join(sorted(FUNCTIONS))


@dataclass
class Program:
    """A parsed, validated expression: statements and the free variables in order of use.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.tracing.expr import parse
    >>> program = parse('q = x + y; f = q * z')
    >>> program.variables
    ['x', 'y', 'z']
    >>> program.evaluate({'x': -2.0, 'y': 5.0, 'z': -4.0})
    tensor(-12.)
    """

    source: str
    statements: list[ast.stmt]
    variables: list[str]

    def function(self) -> Callable[..., Tensor]:
        """A Python function of the variables (by keyword) that evaluates the program."""

        def f(**values: Any) -> Tensor:
            return self.evaluate(values)

        return f

    def evaluate(self, values: dict[str, Any]) -> Tensor:
        """Run the program on ``values`` (Tensors or numbers), naming intermediate nodes."""
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise ExpressionError(
                f"missing value for {', '.join(missing)} (give {missing[0]}=NUMBER)"
            )
        return _Evaluator(values).run(self.statements)


def parse(source: str) -> Program:
    """Parse and validate ``source``; raises :class:`ExpressionError` on anything unsafe.

    Examples
    --------
    >>> from chainrule.tracing.expr import parse
    >>> parse("(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)").variables
    ['x', 'y']
    >>> parse("__import__('os')")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    chainrule.tracing.expr.ExpressionError: function '__import__' is not allowed (allowed: ...)
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("the expression is empty")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source.strip(), mode="exec")
    except SyntaxError as e:
        raise ExpressionError(f"invalid syntax: {e.msg} (column {e.offset})") from None
    if not tree.body:
        raise ExpressionError("the expression is empty")
    assigned: set[str] = set()
    variables: list[str] = []
    for k, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise ExpressionError("only simple assignments (name = expression) are allowed")
            target = stmt.targets[0].id
            _check_name(target)
            if target in FUNCTIONS or target in CONSTANTS:
                raise ExpressionError(f"cannot assign to {target!r}: it is a built-in name")
            _check_expr(stmt.value, assigned, variables, 0)
            assigned.add(target)
        elif isinstance(stmt, ast.Expr):
            if k != len(tree.body) - 1:
                raise ExpressionError(
                    "only the last statement may be a bare expression (name the others: q = ...)"
                )
            _check_expr(stmt.value, assigned, variables, 0)
        else:
            raise _reject(stmt)
    return Program(source, list(tree.body), variables)


def _check_name(name: str) -> None:
    if name.startswith("_"):
        raise ExpressionError(f"names starting with '_' are not allowed ({name!r})")


def _check_expr(node: ast.AST, assigned: set[str], variables: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ExpressionError(f"the expression is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
        _check_expr(node.left, assigned, variables, depth + 1)
        _check_expr(node.right, assigned, variables, depth + 1)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
        _check_expr(node.operand, assigned, variables, depth + 1)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ExpressionError(
                "only allowed functions can be called, by name (e.g. sigmoid(x))"
                if not isinstance(node.func, ast.Attribute)
                else f"attribute access ('.{node.func.attr}') is not allowed"
            )
        fname = node.func.id
        if fname not in FUNCTIONS:
            raise ExpressionError(
                f"function {fname!r} is not allowed (allowed: {_functions_text()})"
            )
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise ExpressionError("*args is not allowed")
            _check_expr(arg, assigned, variables, depth + 1)
        for kw in node.keywords:
            if kw.arg not in KEYWORDS:
                raise ExpressionError(
                    f"keyword {kw.arg!r} is not allowed (allowed: {', '.join(sorted(KEYWORDS))})"
                )
            _literal(kw.value)
    elif isinstance(node, ast.Name):
        _check_name(node.id)
        if node.id in FUNCTIONS:
            raise ExpressionError(f"{node.id!r} is a function: call it, e.g. {node.id}(x)")
        if node.id not in assigned and node.id not in CONSTANTS and node.id not in variables:
            variables.append(node.id)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(
                f"only numbers are allowed as constants, got {_short(repr(node.value))}"
            )
        _check_number(node.value, str(node.value))
    else:
        raise _reject(node)


def _literal(node: ast.AST) -> Any:
    """A keyword argument's value: a number, True/False, or a tuple of ints."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal(node.operand)
        if isinstance(inner, int) and not isinstance(inner, bool):
            return -inner
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e) for e in node.elts)
    raise ExpressionError("keyword values must be integers, tuples of integers or True/False")


def parse_value(text: str) -> np.ndarray:
    """A command-line value: a number or a (nested) list of numbers, as float64.

    Examples
    --------
    >>> from chainrule.tracing.expr import parse_value
    >>> parse_value('[1, -2.5]'), parse_value('pi').round(4)
    (array([ 1. , -2.5]), np.float64(3.1416))
    """
    shown = _short(repr(text))
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # SyntaxError also for brackets nested too deep or integers of over 4300 digits
        raise ExpressionError(f"not a number or a list of numbers: {shown}") from None

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            if not isinstance(node.value, bool):
                _check_number(node.value, str(node.value))
                return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = walk(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, (ast.List, ast.Tuple)):
            return [walk(e) for e in node.elts]
        if isinstance(node, ast.Name) and node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ExpressionError(f"not a number or a list of numbers: {shown}")

    try:
        nested = walk(tree)
    except RecursionError:
        raise ExpressionError(f"not a number or a list of numbers: {shown}") from None
    try:
        return np.asarray(nested, dtype=np.float64)
    except (ValueError, OverflowError) as e:
        raise ExpressionError(f"bad array value {shown}: {_short(str(e), 120)}") from None


class _Evaluator:
    """Walks the validated tree on Tensors and names nodes as a person would."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.env: dict[str, Any] = dict(values)
        self.used: set[str] = set(values) | set(CONSTANTS)
        self.user_named: set[int] = set()

    def run(self, statements: list[ast.stmt]) -> Tensor:
        result: Any = None
        for stmt in statements:
            if isinstance(stmt, ast.Assign):
                name = stmt.targets[0].id  # type: ignore[attr-defined]
                value, _label = self.expr(stmt.value)
                self._name(value, name, force=True)
                self.env[name] = value
                result = value
            else:
                result, _label = self.expr(stmt.value)  # type: ignore[attr-defined]
        if not isinstance(result, Tensor):
            result = ops.mul(Tensor(np.asarray(result, dtype=np.float64)), 1.0)
        if isinstance(statements[-1], ast.Expr):
            self._name(result, "f", override=True)
        return result

    def _name(self, t: Any, name: str, force: bool = False, override: bool = False) -> None:
        node = getattr(t, "_node", None)
        if node is None or (id(node) in self.user_named and not force):
            return
        if name in self.used:
            if not force:
                return
        if node.name and not (force or override):
            return
        if node.name and node.name != name:
            self.used.discard(node.name)
        node.name = name
        self.used.add(name)
        if force:
            self.user_named.add(id(node))

    def expr(self, node: ast.AST) -> tuple[Any, str | None]:
        """(value, short label usable to build names such as 'xpy', or None)."""
        if isinstance(node, ast.Constant):
            label = str(node.value) if isinstance(node.value, int) and node.value >= 0 else None
            return node.value, label
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id], node.id
            value = self.env[node.id]
            return value, node.id
        if isinstance(node, ast.UnaryOp):
            value, label = self.expr(node.operand)
            if isinstance(node.op, ast.UAdd):
                return value, label
            out = -value
            return out, self._suggest(out, f"neg{label}" if label else None)
        if isinstance(node, ast.BinOp):
            left, llabel = self.expr(node.left)
            right, rlabel = self.expr(node.right)
            fn, sym = _BINOPS[type(node.op)]
            if not isinstance(left, Tensor) and not isinstance(right, Tensor):
                # two constants: floats, so 9**9**9 overflows instead of running for ever
                left, right = float(left), float(right)
            try:
                out = fn(left, right)
            except (OverflowError, ZeroDivisionError) as e:
                raise ExpressionError(f"cannot compute {ast.unparse(node)}: {e}") from None
            except (ValueError, TypeError) as e:
                raise ExpressionError(str(e)) from None
            if isinstance(node.op, ast.Div):
                # the lectures' staged example: numerator and denominator get names
                self._name(left, "num", override=True)
                self._name(right, "den", override=True)
            label = None
            if isinstance(node.op, ast.Pow) and llabel and isinstance(node.right, ast.Constant):
                power = {2: "sqr", 3: "cube"}.get(node.right.value)  # type: ignore[arg-type]
                label = f"{llabel}{power}" if power else None
            elif llabel and rlabel and sym not in ("pow", "mm"):
                label = f"{llabel}{sym}{rlabel}"
            return out, self._suggest(out, label)
        if isinstance(node, ast.Call):
            fname = node.func.id  # type: ignore[attr-defined]
            args = [self.expr(a) for a in node.args]
            kwargs = {kw.arg: _literal(kw.value) for kw in node.keywords}
            values = [
                a if isinstance(a, Tensor) else Tensor(np.asarray(a, dtype=np.float64))
                for a, _ in args
            ]
            try:
                out = FUNCTIONS[fname](*values, **kwargs)
            except (ValueError, TypeError, OverflowError) as e:
                raise ExpressionError(f"{fname}: {e}") from None
            label = None
            if len(args) == 1 and args[0][1]:
                stem = "sig" if fname == "sigmoid" else fname
                label = f"{stem}{args[0][1]}"
            return out, self._suggest(out, label)
        raise _reject(node)  # pragma: no cover - parse() already rejected it

    def _suggest(self, t: Any, label: str | None) -> str | None:
        """Give ``t`` the derived name if it is short and free; return its label."""
        node = getattr(t, "_node", None)
        if node is None:
            return None
        if label and len(label) <= 8 and label.isidentifier() and label not in self.used:
            if not node.name:
                node.name = label
                self.used.add(label)
            return label
        return node.name if node.name and len(node.name) <= 4 else None
