"""Flat code: a traced Graph as readable NumPy source, the forward pass one line per value and
the backward pass the forward pass reversed, one line per local gradient (``+=`` at forks).

``CODE`` is the table: for every primitive, its forward expression and, per input, the
downstream-gradient expression in the lectures' style (``dx = dq * z``,
``ds3 = dL * (1 - L) * L``). A test fails when a registered primitive has no entry.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .graph import Graph, Var

# --------------------------------------------------------------------------- helpers

#: Helper functions the generated module defines when it uses them (name -> source).
HELPERS: dict[str, str] = {
    "_unbroadcast": '''
def _unbroadcast(g, shape):
    """Sum a broadcast gradient back to the input's shape."""
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g
''',
    "_index_add": '''
def _index_add(g, index, shape):
    """The gradient of x[index]: g put back into zeros (repeated indices add up)."""
    out = np.zeros(shape, dtype=np.result_type(g))
    parts = index if isinstance(index, tuple) else (index,)
    if all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out
''',
    "_scatter_along_axis": '''
def _scatter_along_axis(g, indices, axis, shape):
    """The gradient of np.take_along_axis: g added back at indices."""
    out = np.zeros(shape, dtype=np.result_type(g))
    full = list(np.indices(indices.shape, sparse=True))
    full[axis] = indices
    np.add.at(out, tuple(full), g)
    return out
''',
    "_route_extreme": '''
def _route_extreme(g, x, out, axis, keepdims):
    """max/min gradient: routed to the arg-extreme, split evenly among ties."""
    if axis is not None and not keepdims:
        g, out = np.expand_dims(g, axis), np.expand_dims(out, axis)
    hits = x == out
    return g * hits / hits.sum(axis=axis, keepdims=True)
''',
    "_logsumexp": '''
def _logsumexp(x, axis, keepdims):
    """log(sum(exp(x))) without overflow: shift by the max first."""
    m = np.maximum.reduce(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.add.reduce(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)
''',
    "_softmax": """
def _softmax(x, axis):
    e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))
    return e / np.add.reduce(e, axis=axis, keepdims=True)
""",
    "_log_softmax": """
def _log_softmax(x, axis):
    shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))
""",
    "_nll": '''
def _nll(logp, labels, reduction):
    """Minus the log-probability of each sample's label, reduced."""
    picked = logp[np.arange(len(labels)), labels]
    if reduction == "none":
        return -picked
    total = -np.add.reduce(picked)
    return total if reduction == "sum" else total / len(labels)
''',
    "_cross_entropy_vjp": '''
def _cross_entropy_vjp(g, logp, labels, reduction):
    """Softmax cross-entropy's gradient from the saved log-softmax: (softmax - onehot)
    times each sample's upstream gradient, in place on one fresh array."""
    p = np.exp(logp)
    p[np.arange(len(labels)), labels] -= 1
    if reduction == "none":
        p *= np.reshape(g, (-1, 1))
    else:
        p *= g / len(labels) if reduction == "mean" else g
    return p
''',
    "_soft_cross_entropy": '''
def _soft_cross_entropy(scores, targets, reduction):
    """Cross-entropy of (N, C) scores against (N, C) target probabilities."""
    losses = -np.add.reduce(targets * _log_softmax(scores, 1), axis=1)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
''',
    "_soft_cross_entropy_vjp": '''
def _soft_cross_entropy_vjp(g, scores, targets, reduction, which):
    """Its gradient: (softmax(scores) * rowsum(targets) - targets) for the scores,
    -log softmax(scores) for the targets, times each sample's upstream gradient."""
    if which == 0:
        grad = _softmax(scores, 1)
        grad *= np.add.reduce(targets, axis=1, keepdims=True)
        grad -= targets
    else:
        grad = -_log_softmax(scores, 1)
    if reduction == "none":
        return grad * np.reshape(g, (-1, 1))
    return grad * (g / len(scores) if reduction == "mean" else g)
''',
    "_safe_log": '''
def _safe_log(x):
    """log x, taken as 0 where x == 0 (there x**y is 0 and its y-gradient too)."""
    return np.log(np.where(x == 0, 1, x))
''',
    "_matmul_vjp": '''
def _matmul_vjp(g, a, b, which):
    """Gradient of a @ b for any operand ranks (vectors promoted like np.matmul does)."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = np.expand_dims(g2, -2)
    if b.ndim == 1:
        g2 = np.expand_dims(g2, -1)
    if which == 0:
        grad = g2 @ np.swapaxes(b2, -1, -2)
        return _unbroadcast(grad[..., 0, :] if a.ndim == 1 else grad, a.shape)
    grad = np.swapaxes(a2, -1, -2) @ g2
    return _unbroadcast(grad[..., 0] if b.ndim == 1 else grad, b.shape)
''',
    "_linear_weight_grad": '''
def _linear_weight_grad(g, x):
    """Gradient of W in x @ W.T + b, for inputs of any rank."""
    return g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])
''',
}

#: Helpers that call other helpers.
_HELPER_DEPS = {
    "_matmul_vjp": ("_unbroadcast",),
    "_soft_cross_entropy": ("_log_softmax",),
    "_soft_cross_entropy_vjp": ("_softmax", "_log_softmax"),
}


# --------------------------------------------------------------------------- literals


def _dtype_name(dtype: Any) -> str:
    return f"np.{np.dtype(dtype).name}"


def literal(value: Any) -> str | None:
    """Python source for a small constant, or None when it is too big to inline."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(value)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        return None
    if arr.ndim == 0:
        text = _number(arr.item())
        if arr.dtype in (np.float64, np.int64) or arr.dtype.kind == "b":
            return text
        return f"{_dtype_name(arr.dtype)}({text.strip('()')})"
    if arr.size > 8 or arr.ndim > 2 or not np.isfinite(arr.astype(float)).all():
        return None
    body = repr(arr.tolist())
    if arr.dtype in (np.float64, np.int64, np.bool_):
        return f"np.array({body})"
    return f"np.array({body}, dtype={_dtype_name(arr.dtype)})"


def _number(x: Any) -> str:
    if isinstance(x, float) and not np.isfinite(x):
        return "np.nan" if np.isnan(x) else ("np.inf" if x > 0 else "(-np.inf)")
    text = repr(x)
    return f"({text})" if text.startswith("-") else text


def _format_index(index: Any, gen: _Gen) -> str:
    """An index as subscript source: ``1:3, None``."""
    parts = index if isinstance(index, tuple) else (index,)
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
        else:
            out.append(gen.array(p))
    if not isinstance(index, tuple):
        return out[0]
    if not out:
        return "()"
    return ", ".join(out) + ("," if len(out) == 1 else "")


# --------------------------------------------------------------------------- the table


@dataclass
class _Ctx:
    """What a rule's template sees: input expressions, output and upstream names."""

    var: Var
    ins: list[str]
    out: str
    g: str
    gen: _Gen

    @property
    def p(self) -> dict:
        return self.var.params

    def use(self, helper: str) -> str:
        self.gen.helpers.add(helper)
        for dep in _HELPER_DEPS.get(helper, ()):
            self.gen.helpers.add(dep)
        return helper

    def shape(self, i: int | None = None) -> tuple:
        return self.var.shape if i is None else self.var.inputs[i].shape

    @property
    def saved(self) -> str:
        """The name of this node's saved intermediate value (see ``CodeRule.saved``)."""
        return self.gen.saved_name(self.var)


# A backward template returns (expression, fresh, result shape kind):
#   fresh: the expression makes a new array (safe to accumulate into with +=);
#   kind "out": it has the output's (broadcast) shape, "in": exactly the input's shape.
Back = Callable[[_Ctx, int], "tuple[str, bool, str] | None"]


@dataclass
class CodeRule:
    """How one primitive is written: its forward expression, its backward templates, and
    optionally ``saved = (suffix, expression)``: an intermediate value computed on its own
    line before the output (named ``{output}_{suffix}``, read as ``c.saved``) that the
    forward expression and the gradient both use, as a hand-written cache would keep it
    (the log-softmax of a cross-entropy). ``then`` is an optional statement that finishes
    the output in place (a bias added with ``+=``, as hand-written code does), and
    ``backward_inplace`` an optional statement that turns the upstream gradient into the
    input's in place, used when that array is the code's own and nothing else reads it
    (relu's ``dh *= h > 0``)."""

    forward: Callable[[_Ctx], str]
    backward: Back
    helpers: tuple[str, ...] = field(default_factory=tuple)
    saved: tuple[str, Callable[[_Ctx], str]] | None = None
    then: Callable[[_Ctx], str] | None = None
    backward_inplace: Callable[[_Ctx], str] | None = None


def _per_input(*rules: Callable[[_Ctx], tuple[str, bool, str]] | None) -> Back:
    def back(c: _Ctx, i: int) -> tuple[str, bool, str] | None:
        rule = rules[i] if i < len(rules) else None
        return None if rule is None else rule(c)

    return back


def _pow_base(c: _Ctx) -> tuple[str, bool, str]:
    a, b = c.ins
    exponent = c.var.inputs[1]
    if exponent.op == "const" and np.ndim(exponent.value) == 0:
        e = float(np.asarray(exponent.value))
        if e == 2:
            return f"{c.g} * (2 * {a})", True, "out"
        if e == 1:
            return f"(1) * {c.g}", True, "out"
        if e == 0.5:
            return f"{c.g} * 0.5 / {c.out}", True, "out"
        minus_one = _number(int(e - 1) if e.is_integer() else e - 1)
        return f"{c.g} * ({b} * {a}**{minus_one})", True, "out"
    return f"{c.g} * {b} * {a}**({b} - 1)", True, "out"


def _div_den(c: _Ctx) -> tuple[str, bool, str]:
    a, b = c.ins
    if a in ("1.0", "1"):
        return f"-{c.g} / {b}**2", True, "out"  # the lectures' invden = 1.0 / den
    return f"-{c.g} * {a} / {b}**2", True, "out"


def _expand(c: _Ctx, name: str) -> str:
    """A reduction's result with the reduced axes put back (as length 1)."""
    axis, keepdims = c.p.get("axis"), c.p.get("keepdims")
    if axis is None or keepdims:
        return name
    return f"np.expand_dims({name}, {axis!r})"


def _keep_arg(c: _Ctx) -> str:
    return ", keepdims=True" if c.p.get("keepdims") else ""


def _extreme_rule(name: str) -> CodeRule:
    """max/min: the gradient is routed to the arg-extreme, split evenly among ties."""
    return CodeRule(
        lambda c: f"np.{name}({c.ins[0]}{_reduce_args(c)})",
        _per_input(
            lambda c: (
                f"{c.use('_route_extreme')}({c.g}, {c.ins[0]}, {c.out}, "
                f"{c.p.get('axis')!r}, {c.p.get('keepdims')!r})",
                True,
                "in",
            )
        ),
    )


def _reduce_args(c: _Ctx) -> str:
    axis, keepdims = c.p.get("axis"), c.p.get("keepdims")
    args = []
    if axis is not None:
        args.append(f"axis={axis!r}")
    if keepdims:
        args.append("keepdims=True")
    return "".join(", " + a for a in args)


def _sum_back(c: _Ctx) -> tuple[str, bool, str]:
    shape = c.shape(0)
    if shape == c.shape():  # nothing was reduced (a 0-d sum)
        return c.g, False, "in"
    if c.p.get("axis") is None:  # a full reduction: every element gets the same value
        return f"np.full({shape!r}, {c.g})", True, "in"
    return f"np.broadcast_to({_expand(c, c.g)}, {shape!r})", False, "in"


def _matmul_back(c: _Ctx, i: int) -> tuple[str, bool, str]:
    a, b = c.ins
    na, nb = len(c.shape(0)), len(c.shape(1))
    g = c.g
    if na == 2 and nb == 2:
        return (f"{g} @ {b}.T", True, "in") if i == 0 else (f"{a}.T @ {g}", True, "in")
    if na == 1 and nb == 1:
        return (f"{g} * {b}", True, "in") if i == 0 else (f"{g} * {a}", True, "in")
    if na == 2 and nb == 1:
        return (f"np.outer({g}, {b})", True, "in") if i == 0 else (f"{a}.T @ {g}", True, "in")
    if na == 1 and nb == 2:
        return (f"{b} @ {g}", True, "in") if i == 0 else (f"np.outer({a}, {g})", True, "in")
    return f"{c.use('_matmul_vjp')}({g}, {a}, {b}, {i})", True, "in"


def _linear_back(c: _Ctx, i: int) -> tuple[str, bool, str]:
    x, w, _b = c.ins
    if i == 0:
        return f"{c.g} @ {w}", True, "in"
    if i == 1:
        nx = len(c.shape(0))
        if nx == 1:
            return f"np.outer({c.g}, {x})", True, "in"
        if nx == 2:
            return f"{c.g}.T @ {x}", True, "in"
        return f"{c.use('_linear_weight_grad')}({c.g}, {x})", True, "in"
    return c.g, False, "out"


def _clip_mask(c: _Ctx) -> str:
    x = c.ins[0]
    lo, hi = c.p.get("lo"), c.p.get("hi")
    tests = []
    if lo is not None:
        tests.append(f"({x} >= {c.gen.array(lo)})")
    if hi is not None:
        tests.append(f"({x} <= {c.gen.array(hi)})")
    return " & ".join(tests) if tests else "True"


def _concat_back(c: _Ctx, i: int) -> tuple[str, bool, str]:
    axis, sizes = c.p["axis"], c.p["sizes"]
    start = int(sum(sizes[:i]))
    index = [":"] * len(c.shape())
    index[axis] = f"{start}:{start + sizes[i]}"
    return f"{c.g}[{', '.join(index)}]", False, "in"


def _ewise(name: str) -> Callable[[_Ctx], str]:
    return lambda c: f"np.{name}({c.ins[0]})"


def _transpose_back(c: _Ctx) -> tuple[str, bool, str]:
    axes = tuple(int(a) for a in np.argsort(c.p["axes"]))
    if len(axes) == 2:
        return f"{c.g}.T", False, "in"
    return f"np.transpose({c.g}, {axes!r})", False, "in"


def _transpose_fwd(c: _Ctx) -> str:
    if len(c.p["axes"]) == 2:
        return f"{c.ins[0]}.T"
    return f"np.transpose({c.ins[0]}, {tuple(c.p['axes'])!r})"


CODE: dict[str, CodeRule] = {
    "add": CodeRule(
        lambda c: f"{c.ins[0]} + {c.ins[1]}",
        _per_input(lambda c: (c.g, False, "out"), lambda c: (c.g, False, "out")),
    ),
    "sub": CodeRule(
        lambda c: f"{c.ins[0]} - {c.ins[1]}",
        _per_input(lambda c: (c.g, False, "out"), lambda c: (f"-{c.g}", True, "out")),
    ),
    "neg": CodeRule(lambda c: f"-{c.ins[0]}", _per_input(lambda c: (f"-{c.g}", True, "in"))),
    "mul": CodeRule(
        lambda c: f"{c.ins[0]} * {c.ins[1]}",
        _per_input(
            lambda c: (f"{c.g} * {c.ins[1]}", True, "out"),
            lambda c: (f"{c.g} * {c.ins[0]}", True, "out"),
        ),
    ),
    "div": CodeRule(
        lambda c: f"{c.ins[0]} / {c.ins[1]}",
        _per_input(lambda c: (f"{c.g} / {c.ins[1]}", True, "out"), _div_den),
    ),
    "pow": CodeRule(
        lambda c: f"{c.ins[0]}**{c.ins[1]}",
        _per_input(
            _pow_base,
            lambda c: (f"{c.g} * {c.out} * {c.use('_safe_log')}({c.ins[0]})", True, "out"),
        ),
    ),
    "maximum": CodeRule(
        lambda c: f"np.maximum({c.ins[0]}, {c.ins[1]})",
        # the larger input takes the gradient; ties split it half and half
        _per_input(
            lambda c: (
                f"{c.g} * (({c.ins[0]} > {c.ins[1]}) + 0.5 * ({c.ins[0]} == {c.ins[1]}))",
                True,
                "out",
            ),
            lambda c: (
                f"{c.g} * (({c.ins[1]} > {c.ins[0]}) + 0.5 * ({c.ins[0]} == {c.ins[1]}))",
                True,
                "out",
            ),
        ),
    ),
    "minimum": CodeRule(
        lambda c: f"np.minimum({c.ins[0]}, {c.ins[1]})",
        _per_input(
            lambda c: (
                f"{c.g} * (({c.ins[0]} < {c.ins[1]}) + 0.5 * ({c.ins[0]} == {c.ins[1]}))",
                True,
                "out",
            ),
            lambda c: (
                f"{c.g} * (({c.ins[1]} < {c.ins[0]}) + 0.5 * ({c.ins[0]} == {c.ins[1]}))",
                True,
                "out",
            ),
        ),
    ),
    "where": CodeRule(
        lambda c: f"np.where({c.ins[0]}, {c.ins[1]}, {c.ins[2]})",
        _per_input(
            None,
            lambda c: (f"np.where({c.ins[0]}, {c.g}, 0)", True, "out"),
            lambda c: (f"np.where({c.ins[0]}, 0, {c.g})", True, "out"),
        ),
    ),
    "clip": CodeRule(
        lambda c: (
            f"np.clip({c.ins[0]}, {c.gen.array(c.p.get('lo'))}, {c.gen.array(c.p.get('hi'))})"
        ),
        # the gradient passes where lo <= x <= hi (bounds included)
        _per_input(lambda c: (f"{c.g} * ({_clip_mask(c)})", True, "out")),
    ),
    "exp": CodeRule(_ewise("exp"), _per_input(lambda c: (f"{c.g} * {c.out}", True, "in"))),
    "log": CodeRule(_ewise("log"), _per_input(lambda c: (f"{c.g} / {c.ins[0]}", True, "in"))),
    "sqrt": CodeRule(_ewise("sqrt"), _per_input(lambda c: (f"{c.g} / (2 * {c.out})", True, "in"))),
    "tanh": CodeRule(
        _ewise("tanh"), _per_input(lambda c: (f"{c.g} * (1 - {c.out}**2)", True, "in"))
    ),
    "sigmoid": CodeRule(
        lambda c: f"1.0 / (1 + np.exp(-{c.ins[0]}))",
        _per_input(lambda c: (f"{c.g} * (1 - {c.out}) * {c.out}", True, "in")),
    ),
    "sin": CodeRule(
        _ewise("sin"), _per_input(lambda c: (f"{c.g} * np.cos({c.ins[0]})", True, "in"))
    ),
    "cos": CodeRule(
        _ewise("cos"), _per_input(lambda c: (f"-{c.g} * np.sin({c.ins[0]})", True, "in"))
    ),
    "relu": CodeRule(
        lambda c: f"np.maximum({c.ins[0]}, 0)",
        # relu'(0) = 0: the gradient passes only where the output is positive
        _per_input(lambda c: (f"{c.g} * ({c.out} > 0)", True, "in")),
        backward_inplace=lambda c: f"{c.g} *= {c.out} > 0",
    ),
    "abs": CodeRule(
        _ewise("abs"), _per_input(lambda c: (f"{c.g} * np.sign({c.ins[0]})", True, "in"))
    ),
    "sum": CodeRule(
        lambda c: f"np.add.reduce({c.ins[0]}, axis={c.p.get('axis')!r}{_keep_arg(c)})",
        _per_input(_sum_back),
    ),
    "max": _extreme_rule("max"),
    "min": _extreme_rule("min"),
    "logsumexp": CodeRule(
        lambda c: (
            f"{c.use('_logsumexp')}({c.ins[0]}, {c.p.get('axis')!r}, {c.p.get('keepdims')!r})"
        ),
        _per_input(
            lambda c: (f"{_expand(c, c.g)} * np.exp({c.ins[0]} - {_expand(c, c.out)})", True, "in")
        ),
    ),
    "softmax": CodeRule(
        lambda c: f"{c.use('_softmax')}({c.ins[0]}, {c.p['axis']!r})",
        _per_input(
            lambda c: (
                f"{c.out} * ({c.g} - np.add.reduce({c.g} * {c.out}, "
                f"axis={c.p['axis']!r}, keepdims=True))",
                True,
                "in",
            )
        ),
    ),
    "log_softmax": CodeRule(
        lambda c: f"{c.use('_log_softmax')}({c.ins[0]}, {c.p['axis']!r})",
        _per_input(
            lambda c: (
                f"{c.g} - np.exp({c.out}) * "
                f"np.add.reduce({c.g}, axis={c.p['axis']!r}, keepdims=True)",
                True,
                "in",
            )
        ),
    ),
    "reshape": CodeRule(
        lambda c: f"np.reshape({c.ins[0]}, {tuple(c.p['shape'])!r})",
        _per_input(lambda c: (f"np.reshape({c.g}, {c.shape(0)!r})", False, "in")),
    ),
    "transpose": CodeRule(_transpose_fwd, _per_input(_transpose_back)),
    "broadcast_to": CodeRule(
        lambda c: f"np.broadcast_to({c.ins[0]}, {tuple(c.p['shape'])!r})",
        _per_input(lambda c: (c.g, False, "out")),
    ),
    "sum_to": CodeRule(
        lambda c: f"{c.use('_unbroadcast')}({c.ins[0]}, {tuple(c.p['shape'])!r})",
        _per_input(lambda c: (f"np.broadcast_to({c.g}, {c.shape(0)!r})", False, "in")),
    ),
    "astype": CodeRule(
        lambda c: f"np.asarray({c.ins[0]}, dtype={_dtype_name(c.p['dtype'])})",
        _per_input(lambda c: (c.g, False, "in")),
    ),
    "copy": CodeRule(lambda c: f"np.array({c.ins[0]})", _per_input(lambda c: (c.g, False, "in"))),
    "alias": CodeRule(lambda c: c.ins[0], _per_input(lambda c: (c.g, False, "in"))),
    "getitem": CodeRule(
        lambda c: f"{c.ins[0]}[{_format_index(c.p['index'], c.gen)}]",
        _per_input(
            lambda c: (
                f"{c.use('_index_add')}({c.g}, "
                f"np.s_[{_format_index(c.p['index'], c.gen)}], {c.shape(0)!r})",
                True,
                "in",
            )
        ),
    ),
    "index_add": CodeRule(
        lambda c: (
            f"{c.use('_index_add')}({c.ins[0]}, np.s_[{_format_index(c.p['index'], c.gen)}]"
            f", {tuple(c.p['shape'])!r})"
        ),
        _per_input(lambda c: (f"{c.g}[{_format_index(c.p['index'], c.gen)}]", False, "in")),
    ),
    "soft_cross_entropy": CodeRule(
        lambda c: f"{c.use('_soft_cross_entropy')}({c.ins[0]}, {c.ins[1]}, {c.p['reduction']!r})",
        lambda c, i: (
            f"{c.use('_soft_cross_entropy_vjp')}({c.g}, {c.ins[0]}, {c.ins[1]}, "
            f"{c.p['reduction']!r}, {i})",
            True,
            "in",
        ),
    ),
    "cross_entropy": CodeRule(
        lambda c: f"{c.use('_nll')}({c.saved}, {c.gen.array(c.p['labels'])}, {c.p['reduction']!r})",
        _per_input(
            lambda c: (
                f"{c.use('_cross_entropy_vjp')}({c.g}, {c.saved}, "
                f"{c.gen.array(c.p['labels'])}, {c.p['reduction']!r})",
                True,
                "in",
            )
        ),
        saved=("logp", lambda c: f"{c.use('_log_softmax')}({c.ins[0]}, 1)"),
    ),
    "take_along_axis": CodeRule(
        lambda c: (
            f"np.take_along_axis({c.ins[0]}, {c.gen.array(c.p['indices'])}, axis={c.p['axis']!r})"
        ),
        _per_input(
            lambda c: (
                f"{c.use('_scatter_along_axis')}({c.g}, "
                f"{c.gen.array(c.p['indices'])}, {c.p['axis']!r}, "
                f"{c.shape(0)!r})",
                True,
                "in",
            )
        ),
    ),
    "scatter_along_axis": CodeRule(
        lambda c: (
            f"{c.use('_scatter_along_axis')}({c.ins[0]}, {c.gen.array(c.p['indices'])}, "
            f"{c.p['axis']!r}, {tuple(c.p['shape'])!r})"
        ),
        _per_input(
            lambda c: (
                f"np.take_along_axis({c.g}, {c.gen.array(c.p['indices'])}, axis={c.p['axis']!r})",
                False,
                "in",
            )
        ),
    ),
    "concatenate": CodeRule(
        lambda c: f"np.concatenate([{', '.join(c.ins)}], axis={c.p['axis']!r})",
        _concat_back,
    ),
    "matmul": CodeRule(lambda c: f"{c.ins[0]} @ {c.ins[1]}", _matmul_back),
    "linear": CodeRule(
        lambda c: f"{c.ins[0]} @ {c.ins[1]}.T",
        _linear_back,
        then=lambda c: f"{c.out} += {c.ins[2]}",
    ),
}


# The network primitives (rules_nn.py) keep their flat-code rules beside their layers.
from ..nn.flatcode import CODE_NN  # noqa: E402

CODE.update(CODE_NN)


# --------------------------------------------------------------------------- generation


class CodegenError(NotImplementedError):
    """The graph holds an operation that has no flat-code rule (e.g. a custom Function)."""


class _Gen:
    """State of one generation: helpers used, constants that must be passed in."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.helpers: set[str] = set()
        self.consts: dict[str, Any] = {}
        self._arrays: dict[int, str] = {}
        # An array parameter that is the value of an input (labels, indices passed in)
        # is written as that input, so the code does not bake in this run's values.
        self._inputs: dict[int, str] = {
            id(v.value): v.name for v in graph.inputs.values() if isinstance(v.value, np.ndarray)
        }
        self._saved: dict[int, str] = {}
        self._taken = {v.name for v in graph.nodes}

    def saved_name(self, var: Var) -> str:
        """A unique name for ``var``'s saved intermediate value."""
        name = self._saved.get(var.index)
        if name is None:
            name = f"{var.name}_{self.rule(var).saved[0]}"
            while name in self._taken:
                name += "_"
            self._taken.add(name)
            self._saved[var.index] = name
        return name

    def array(self, value: Any) -> str:
        """A parameter array (labels, indices) as the input it came from, a literal, or
        ``CONST[...]``."""
        name = self._inputs.get(id(value))
        if name is not None:
            return name
        text = literal(value)
        if text is not None:
            return text
        key = self._arrays.get(id(value))
        if key is None:
            key = f"k{len(self._arrays)}"
            self._arrays[id(value)] = key
            self.consts[key] = value
        return f'CONST["{key}"]'

    def atom(self, var: Var) -> str:
        if var.op != "const":
            return var.name
        text = literal(var.value)
        if text is None:
            self.consts[var.name] = var.value
            return f'CONST["{var.name}"]'
        return text

    def rule(self, var: Var) -> CodeRule:
        rule = CODE.get(var.op)
        if rule is None:
            raise CodegenError(
                f"no flat-code rule for operation {var.op!r} (node {var.name!r}); custom "
                f"Functions and checkpoint cannot be written out as NumPy code"
            )
        return rule

    def ctx(self, var: Var, g: str = "") -> _Ctx:
        return _Ctx(var, [self.atom(v) for v in var.inputs], var.name, g, self)


def _sum_back_to(expr: str, out_shape: tuple, in_shape: tuple, c: _Ctx) -> str:
    """Undo broadcasting with the axes worked out now (shapes are static): e.g.
    ``dz.sum(axis=0)`` for a bias, rather than a generic helper call at run time."""
    lead = len(out_shape) - len(in_shape)
    if lead < 0:
        return f"{c.use('_unbroadcast')}({expr}, {in_shape!r})"
    kept = tuple(lead + i for i, n in enumerate(in_shape) if n == 1 and out_shape[lead + i] != 1)
    axes = tuple(range(lead)) + kept
    if not axes:
        return expr
    axis = axes[0] if len(axes) == 1 else axes
    if not kept:
        return f"np.add.reduce({expr}, axis={axis!r})"
    return f"np.add.reduce({expr}, axis={axis!r}, keepdims=True).reshape({in_shape!r})"


def _grad_names(graph: Graph, prefix: str) -> dict[int, str]:
    """``d`` + name for every value; switch to ``grad_`` if that would clash."""
    names = {v.name for v in graph.nodes}
    for p in (prefix, "grad_", "grad_" + prefix):
        mapping = {v.index: p + v.name for v in graph.nodes}
        if not names & set(mapping.values()):
            return mapping
    return {v.index: f"grad__{v.name}" for v in graph.nodes}


def _forward_statements(graph: Graph, gen: _Gen) -> list[tuple[Var, list[str], str]]:
    """Each operation with its lines (its saved value's line, its own line, the in-place
    finish) and a one-line summary of what it computes (for ``# backprop`` comments)."""
    out = []
    for var in graph.ops:
        rule = gen.rule(var)
        c = gen.ctx(var)
        lines = []
        if rule.saved is not None:
            lines.append(f"{c.saved} = {rule.saved[1](c)}")
        note = f"  # shape {var.shape}" if var.shape else ""
        main = f"{var.name} = {rule.forward(c)}"
        lines.append(main + note)
        if rule.then is not None:
            finish = rule.then(c)
            lines.append(finish)
            target, op, rest = finish.partition(" += ")
            main += f" + {rest}" if op and target == var.name else f"; {finish}"
        out.append((var, lines, main))
    return out


def _forward_lines(graph: Graph, gen: _Gen) -> list[str]:
    return [line for _, lines, _ in _forward_statements(graph, gen) for line in lines]


def _seed(var: Var) -> str:
    if var.shape == () and np.dtype(var.dtype) == np.float64:
        return "1.0"
    if var.shape == ():
        return f"{_dtype_name(var.dtype)}(1.0)"
    return f"np.ones({var.shape!r}, dtype={_dtype_name(var.dtype)})"


def _backward_lines(
    graph: Graph, gen: _Gen, prefix: str, comments: bool = True
) -> tuple[list[str], list[str], dict[int, str]]:
    """(seed lines, backward lines, grad names)."""
    dname = _grad_names(graph, prefix)
    # How many gradients flow into each value: more than one means += (a fork).
    flows: dict[int, int] = {o.index: 1 for o in graph.outputs}
    for var in graph.ops:
        if not var.requires_grad:
            continue
        for inp in var.inputs:
            if inp.requires_grad:
                flows[inp.index] = flows.get(inp.index, 0) + 1
    assigned: set[int] = set()
    # Values whose gradient array was made by this code and has no other name (a fresh
    # expression, or a copy): a one-input rule may update it in place.
    owned: set[int] = set()
    seeds = []
    for o in graph.outputs:
        if o.requires_grad and o.index not in assigned:
            seeds.append(f"{dname[o.index]} = {_seed(o)}")
            assigned.add(o.index)
    lines: list[str] = []
    forward_text = {var.index: main for var, _, main in _forward_statements(graph, gen)}
    for var in reversed(graph.ops):
        if not var.requires_grad or var.index not in assigned:
            continue
        rule = gen.rule(var)
        c = gen.ctx(var, dname[var.index])
        block = []
        differentiable = [inp for inp in var.inputs if inp.requires_grad]
        in_place = (
            rule.backward_inplace is not None and var.index in owned and len(differentiable) == 1
        )
        for i, inp in enumerate(var.inputs):
            if not inp.requires_grad:
                continue
            if in_place:  # the upstream array becomes this input's gradient
                block.append(rule.backward_inplace(c))
                made: tuple[str, bool, str] | None = (c.g, True, "in")
            else:
                made = rule.backward(c, i)
            if made is None:
                continue
            expr, fresh, kind = made
            if kind == "out" and inp.shape != var.shape:
                expr = _sum_back_to(expr, tuple(var.shape), tuple(inp.shape), c)
                fresh = True
            if (
                inp.dtype is not None
                and var.dtype is not None
                and np.dtype(inp.dtype) != np.dtype(var.dtype)
            ):
                expr = f"np.asarray({expr}, dtype={_dtype_name(inp.dtype)})"
            target = dname[inp.index]
            if inp.index in assigned:
                block.append(f"{target} += {expr}")
                continue
            if flows.get(inp.index, 0) > 1 and not fresh:
                # more gradient is added to this one below (+=): it needs its own array
                expr = f"(1) * {expr}" if expr.isidentifier() else f"np.copy({expr})"
                fresh = True
            block.append(f"{target} = {expr}")
            assigned.add(inp.index)
            if fresh:
                owned.add(inp.index)
        if block:
            if comments:
                lines.append(f"# backprop {forward_text[var.index]}")
            lines.extend(block)
    # Inputs no gradient reached (the output does not depend on them): zeros.
    for var in graph.inputs.values():
        if var.requires_grad and var.index not in assigned:
            lines.append(
                f"{dname[var.index]} = np.zeros({var.shape!r}, dtype={_dtype_name(var.dtype)})"
            )
            assigned.add(var.index)
    return seeds, lines, dname


def _module(gen: _Gen, functions: list[str]) -> str:
    needed = sorted(gen.helpers)
    parts = ["import numpy as np\n"]
    parts.extend(HELPERS[h].strip("\n") + "\n" for h in needed)
    parts.extend(functions)
    return "\n\n".join(parts).rstrip("\n") + "\n"


def _indent(lines: list[str]) -> str:
    return "".join(f"    {line}\n" for line in lines)


def _fn_name(graph: Graph, name: str | None, suffix: str = "") -> str:
    if name:
        return name
    base = graph.name if graph.name and graph.name.isidentifier() else "f"
    return base + suffix


def _returns(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names)


def _forward_function(graph: Graph, gen: _Gen, name: str) -> str:
    params = ", ".join(graph.inputs)
    body = _forward_lines(graph, gen)
    body.append(f"return {_returns([gen.atom(o) for o in graph.outputs])}")
    return f"def {name}({params}):\n" + _indent(body)


def _used_names(lines: list[str]) -> set[str]:
    tree = ast.parse("\n".join(lines) or "pass")
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _grad_inputs(graph: Graph) -> list[Var]:
    return [v for v in graph.inputs.values() if v.requires_grad]


def _backward_function(graph: Graph, gen: _Gen, name: str, prefix: str) -> str:
    seeds, lines, dname = _backward_lines(graph, gen, prefix)
    grads = [dname[v.index] for v in _grad_inputs(graph)]
    kept = []  # every value the forward pass computes, with saved intermediates
    for v in graph.nodes:
        if v.op != "const":
            kept.append(v.name)
            if v.is_op and gen.rule(v).saved is not None:
                kept.append(gen.saved_name(v))
    used = _used_names(lines)
    cached = [name for name in kept if name in used]
    seed_params = []
    seed_fixes = []
    for o in graph.outputs:
        if not o.requires_grad:
            continue
        default = _seed(o)
        if default == "1.0":
            seed_params.append(f"{dname[o.index]}=1.0")
        else:
            seed_params.append(f"{dname[o.index]}=None")
            seed_fixes.append(f"if {dname[o.index]} is None:")
            seed_fixes.append(f"    {dname[o.index]} = {default}")
    params = ", ".join(cached + seed_params)
    body = seed_fixes + lines + [f"return {_returns(grads) if grads else '()'}"]
    if len(grads) == 1:
        body[-1] = f"return ({grads[0]},)"
    header = f"def {name}({params}):\n"
    doc = '    """The backward pass: takes the forward values it needs (the cache)."""\n'
    return header + doc + _indent(body)


def _flat_function(graph: Graph, gen: _Gen, name: str, prefix: str) -> str:
    seeds, lines, dname = _backward_lines(graph, gen, prefix)
    grads = [dname[v.index] for v in _grad_inputs(graph)]
    body = ["# forward pass"] + _forward_lines(graph, gen)
    body += ["# backward pass"] + seeds + lines
    outs = _returns([gen.atom(o) for o in graph.outputs])
    if len(graph.outputs) > 1:
        outs = f"({outs})"
    grads_text = f"({grads[0]},)" if len(grads) == 1 else f"({', '.join(grads)})"
    body.append(f"return {outs}, {grads_text}")
    return f"def {name}({', '.join(graph.inputs)}):\n" + _indent(body)


def forward_code(graph: Graph, name: str | None = None) -> str:
    """Source of a module with the forward pass as one flat function.

    >>> import chainrule as cr
    >>> def f(x, y, z):
    ...     q = x + y
    ...     return q * z
    >>> print(cr.trace(f, -2, 5, -4).forward_code())
    import numpy as np
    <BLANKLINE>
    <BLANKLINE>
    def f(x, y, z):
        q = x + y
        f = q * z
        return f
    <BLANKLINE>
    """
    gen = _Gen(graph)
    fn = _forward_function(graph, gen, _fn_name(graph, name))
    return _module(gen, [fn])


def backward_code(graph: Graph, name: str | None = None, prefix: str = "d") -> str:
    """Source of a module with the backward pass: the forward pass reversed.

    >>> import chainrule as cr
    >>> def f(x, y, z):
    ...     q = x + y
    ...     return q * z
    >>> print(cr.trace(f, -2, 5, -4).backward_code())  # doctest: +NORMALIZE_WHITESPACE
    import numpy as np
    <BLANKLINE>
    def f_backward(z, q, df=1.0):
        \"\"\"The backward pass: takes the forward values it needs (the cache).\"\"\"
        # backprop f = q * z
        dq = df * z
        dz = df * q
        # backprop q = x + y
        dx = dq
        dy = dq
        return dx, dy, dz
    <BLANKLINE>
    """
    gen = _Gen(graph)
    fn = _backward_function(graph, gen, _fn_name(graph, name, "_backward"), prefix)
    return _module(gen, [fn])


def flat_code(graph: Graph, name: str | None = None, prefix: str = "d") -> str:
    """Source of a module with one function doing both passes, as in the lectures: it
    returns ``(output, (gradient of each input, ...))``."""
    gen = _Gen(graph)
    fn = _flat_function(graph, gen, _fn_name(graph, name, "_and_grad"), prefix)
    return _module(gen, [fn])


class FlatFunction:
    """The generated code, compiled: ``forward``, ``backward`` and ``flat`` functions.

    Calling it runs the flat function (both passes) on NumPy values and returns
    ``(output, grads)`` with one gradient per differentiable input.

    Examples
    --------
    >>> import chainrule as cr
    >>> fn = cr.trace(lambda x, y: x * y, 3.0, 4.0).compile_flat()
    >>> value, (dx, dy) = fn(2.0, 5.0)
    >>> float(value), float(dx), float(dy)
    (10.0, 5.0, 2.0)
    """

    def __init__(self, graph: Graph, prefix: str = "d") -> None:
        gen = _Gen(graph)
        functions = [
            _forward_function(graph, gen, "forward"),
            _backward_function(graph, gen, "backward", prefix),
            _flat_function(graph, gen, "flat", prefix),
        ]
        self.source = _module(gen, functions)
        namespace: dict[str, Any] = {"CONST": dict(gen.consts), "__name__": "chainrule_flat"}
        exec(compile(self.source, f"<flat code of {graph.name}>", "exec"), namespace)
        self.forward: Callable[..., Any] = namespace["forward"]
        self.backward: Callable[..., Any] = namespace["backward"]
        self.flat: Callable[..., Any] = namespace["flat"]
        self._inputs = [(k, v.dtype) for k, v in graph.inputs.items()]

    def _args(self, args: tuple, kwargs: dict) -> list[Any]:
        values = dict(zip((k for k, _ in self._inputs), args))
        values.update(kwargs)
        missing = [k for k, _ in self._inputs if k not in values]
        if missing:
            raise TypeError(f"missing inputs: {', '.join(missing)}")
        return [
            np.asarray(getattr(values[k], "data", values[k]), dtype=dt) for k, dt in self._inputs
        ]

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[Any, tuple]:
        return self.flat(*self._args(args, kwargs))

    def __repr__(self) -> str:
        return f"<FlatFunction inputs=({', '.join(k for k, _ in self._inputs)})>"


def compile_flat(graph: Graph, prefix: str = "d") -> FlatFunction:
    """Compile the graph's generated flat code (see :class:`FlatFunction`)."""
    return FlatFunction(graph, prefix)
