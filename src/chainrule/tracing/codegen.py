"""Flat code: a traced Graph as readable NumPy source, the forward pass one line per value and
the backward pass the forward pass reversed, one line per local gradient (``+=`` at forks).

There is no second table of derivative templates: the backward code is the gradient
program (the VJP rules, traced while the engine walks the graph) lowered with each
primitive's one forward lowering (``chainrule.ir.lower``). Naming and simplification give
it the lectures' look: ``dx`` is the gradient of ``x``, a value that forks gets ``dx = ...``
then ``dx += ...``, one-use temporaries are written inline (``dx += dsigx * (1 - sigx) *
sigx``), and a gradient array that nothing else holds is updated in place (``dh *= h >
0``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import Literal, Program, run_on_tensors
from ..ir import Var as PVar
from ..ir.lower import (
    KERNELS,
    CodegenError,
    Constants,
    Writer,
    compile_module,
    fresh,
    literal,
    module_header,
)
from ..ir.passes import simplify
from ..ir.trace import Tracer
from ..tensor import Tensor
from .graph import Graph, Var

__all__ = [
    "CodegenError",
    "FlatFunction",
    "backward_code",
    "compile_flat",
    "flat_code",
    "forward_code",
    "literal",
]

_INPLACE = {"mul": "*=", "add": "+=", "sub": "-=", "div": "/="}


def _dtype_name(dtype: Any) -> str:
    return f"np.{np.dtype(dtype).name}"


def _grad_names(graph: Graph, prefix: str) -> dict[int, str]:
    """``d`` + name for every value; switch to ``grad_`` if that would clash."""
    names = {v.name for v in graph.nodes}
    for p in (prefix, "grad_", "grad_" + prefix):
        mapping = {v.index: p + v.name for v in graph.nodes}
        if not names & set(mapping.values()):
            return mapping
    return {v.index: f"grad__{v.name}" for v in graph.nodes}


def _seed_text(value: Any) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return literal(arr) if arr.dtype != np.float64 else repr(float(arr))
    return f"np.ones({arr.shape!r}, dtype={_dtype_name(arr.dtype)})"


class _Code:
    """The gradient program of a graph, named and written out."""

    def __init__(self, graph: Graph, prefix: str = "d") -> None:
        if graph.program is None:
            raise CodegenError("this graph has no program to write out")
        for var in graph.ops:
            eqn = graph.eqn_of.get(var.index)
            if eqn is not None and (eqn.meta.get("call") is not None or eqn.prim.lower is None):
                raise CodegenError(
                    f"no flat-code rule for operation {var.op!r} (node {var.name!r}); custom "
                    f"Functions and checkpoint cannot be written out as NumPy code"
                )
        self.graph = graph
        self.consts = Constants()
        self.dname = _grad_names(graph, prefix)
        # A value the graph calls like a kernel the code imports (gamma, sigmoid, softmax)
        # is written under another name in the code (gamma_): the graph keeps its name.
        # (every name the code has so far: the new ones made here and below avoid them)
        self.taken = {v.name for v in graph.nodes} | set(self.dname.values())
        self.code_name: dict[str, str] = {}
        for v in graph.nodes:
            if v.name in KERNELS:
                new = v.name + "_"
                while new in self.taken:
                    new += "_"
                self.taken.add(new)
                self.code_name[v.name] = new
        self._trace()
        self._name_everything()

    # ------------------------------------------------------------------ tracing
    def _trace(self) -> None:
        """Run the graph's program on fresh leaves under a tracer and differentiate it: the
        joint forward + backward program, with the engine's walk tagged onto it."""
        from ..transforms import _make_alias, _reverse

        graph = self.graph
        program = graph.program
        tracer = Tracer()
        leaves, aliases, names = [], [], {}
        for pv in program.inputs:
            view = graph.view[pv]
            leaf = Tensor(np.array(view.value, dtype=view.dtype, copy=True))
            if view.requires_grad:
                leaf.requires_grad = True
            names[tracer.input(leaf, program.roles[pv], self.named(view.name))] = view
            leaves.append(leaf)
        self.forward_of: dict[PVar, Var] = dict(names)  # new program Var -> graph Var
        with tracer.active():
            args = []
            for leaf in leaves:
                if leaf._rg:
                    a = _make_alias(leaf, "flat_code", len(aliases))
                    aliases.append(a)
                    args.append(a)
                else:
                    args.append(leaf)
            marks = {}

            def note(eqn: Any, tensor: Tensor) -> None:
                v = tracer.var_of(tensor)
                view = graph.view.get(eqn.out)
                if v is not None and view is not None:
                    marks[v] = view

            env = run_on_tensors(program, args, hook=note)
            self.forward_of.update(marks)
            self.n_forward = len(tracer.program.eqns)
            outs = [env[o] if isinstance(o, PVar) else Tensor(o.value) for o in program.outputs]
            roots = [o for o in outs if o._rg]
            self.grads = _reverse(roots, [None] * len(roots), aliases, True, retain=True)
        self.tracer = tracer
        forward = {e.out for e in tracer.program.eqns[: self.n_forward]}
        program, replaced = simplify(tracer.program)
        # (simplify drops equations, a forward ``x * 1`` among them: the forward is the
        # equations left of those the trace made before the backward)
        self.n_forward = sum(1 for e in program.eqns if e.out in forward)
        self.program: Program = program
        self.replaced = replaced

        def sub(v: Any) -> Any:
            while isinstance(v, PVar) and v in replaced:
                v = replaced[v]
            return v

        self.sub = sub
        self.outputs = [sub(tracer.output(o)) for o in outs]
        self.grad_vars = [
            sub(tracer.var_of(g)) if isinstance(g, Tensor) else None for g in self.grads
        ]
        # Bookkeeping of the walk, in terms of the simplified program.
        self.upstream = {fv: sub(uv) for fv, uv in tracer.upstream.items()}
        self.contributions = {
            tv: [(pos, sub(gv), owner) for pos, gv, owner in items]
            for tv, items in tracer.contributions.items()
        }
        # The aliases made above for the inputs stand for them: their gradient is the
        # input's (dx). An alias of the function's own (an inner cr.grad's argument) is a
        # value of its own, with a gradient of its own added to its input's at its rule.
        own_aliases = {tracer.var_of(a) for a in aliases}
        self.alias_of: dict[PVar, PVar] = {}
        self.inner_aliases: set[PVar] = set()
        for e in self.program.eqns[: self.n_forward]:
            if e.prim.name == "alias":
                self.forward_of[e.out] = self.forward_of[e.inputs[0]]
                if e.out in own_aliases:
                    self.alias_of[e.out] = e.inputs[0]
                else:
                    self.inner_aliases.add(e.out)

    # ------------------------------------------------------------------ naming
    def _name_everything(self) -> None:
        prog, tracer = self.program, self.tracer
        names = {v: self.named(view.name) for v, view in self.forward_of.items()}
        self.uses = _uses(prog, self.outputs, self.grad_vars)
        grad_name = {}  # forward Var -> its gradient's name
        for fv in list(self.upstream) + list(self.contributions):
            view = self.forward_of.get(fv)
            if view is not None and fv not in grad_name:
                name = self.dname[view.index]
                if fv in self.inner_aliases:
                    # shown by its input's name (x), but a value of its own: its gradient
                    # is added to dx by its rule, so it needs a name apart (dx_1)
                    k = 1
                    while f"{name}_{k}" in self.taken:
                        k += 1
                    name = f"{name}_{k}"
                    self.taken.add(name)
                grad_name[fv] = name
        self.grad_name = grad_name
        # The seeds: named after the output they start from.
        for fv, sv in tracer.seeds.items():
            names[sv] = grad_name.get(fv, "seed")
        # Each value's total gradient takes the gradient's name; contributions that are
        # made for it alone take it too (the statement assigns dx directly).
        # events are placed before the equation that came next in the traced program
        position = {}
        kept = {id(e.out): k for k, e in enumerate(prog.eqns)}
        nxt = len(prog.eqns)
        for k in range(len(tracer.program.eqns), -1, -1):
            if k < len(tracer.program.eqns) and id(tracer.program.eqns[k].out) in kept:
                nxt = kept[id(tracer.program.eqns[k].out)]
            position[k] = nxt
        self.events: dict[int, list[tuple[PVar, int, PVar | Literal, Any]]] = {}
        self.acc_of: dict[PVar, PVar] = {}
        first_of: dict[PVar, PVar | Literal] = {}
        times_contributed: dict[PVar, int] = {}
        for tv, contribs in self.contributions.items():
            if tv not in grad_name:
                continue
            for k, (pos, gv, group) in enumerate(contribs):
                self.events.setdefault(position[pos], []).append((tv, k, gv, group))
                if isinstance(gv, PVar):
                    times_contributed[gv] = times_contributed.get(gv, 0) + 1
            first_of[tv] = contribs[0][1]
        for e in prog.eqns[self.n_forward :]:
            tv = e.meta.get("accumulates")
            if tv is not None and tv in grad_name:
                names[e.out] = grad_name[tv]
                self.acc_of[e.out] = tv
        eqn_of = {e.out: e for e in prog.eqns[self.n_forward :]}
        self.own: set[PVar] = set()  # contributions named after their target directly
        for tv, gv in first_of.items():
            if not isinstance(gv, PVar) or gv in names or gv not in eqn_of:
                continue
            if times_contributed.get(gv, 0) != 1:
                continue
            forks = len(self.contributions[tv]) > 1
            if forks and (not fresh(eqn_of[gv]) or self.uses.get(gv, 0) != 1):
                continue  # dx += ... below needs an array of dx's own
            names[gv] = grad_name[tv]
            self.own.add(gv)
        for fv, uv in self.upstream.items():
            if fv in grad_name and isinstance(uv, PVar) and uv not in names:
                names[uv] = grad_name[fv]
        self.names = names

    # ------------------------------------------------------------------ writing
    def forward_statements(self) -> list[tuple[PVar, list[str], str]]:
        """Each operation with its lines and a one-line summary (for ``# backprop``)."""
        writer = Writer(self.names, self.consts)
        out = []
        for e in self.program.eqns[: self.n_forward]:
            if e.prim.name == "alias":
                continue
            name = self.names[e.out]
            note = f"  # shape {e.out.shape}" if e.out.shape else ""
            if e.prim.name == "linear" and _bias_in_place(e):
                # hand-written style: the product, then the bias added in place
                x, w, b = (writer.text(writer.atom(v)) for v in e.inputs)
                main = f"{name} = {x} @ {w}.T"
                lines = [main + note, f"{name} += {b}"]
                out.append((e.out, lines, f"{main} + {b}"))
                continue
            main = f"{name} = {writer.text(writer.tree(e))}"
            out.append((e.out, [main + note], main))
        return out

    def backward_lines(self, comments: bool = True) -> tuple[list[str], list[str]]:
        """(seed lines, backward lines)."""
        prog, tracer = self.program, self.tracer
        names = dict(self.names)
        writer = Writer(names, self.consts)
        seeds = [f"{names[sv]} = {_seed_text(prog.constants[sv])}" for sv in tracer.seeds.values()]
        summary = {v: main for v, _lines, main in self.forward_statements()}
        lines: list[str] = []
        header = [None]
        fresh_vars: set[PVar] = set()
        remaining = dict(self.uses)

        def group(fv: Any) -> None:
            if fv is None or fv == header[0]:
                return
            header[0] = fv
            # inside a node's backward, its upstream gradient goes by that node's name
            # (dsigx = dden, then dsigx in sigx's rule), as the lectures write it
            uv = self.upstream.get(fv)
            if (
                isinstance(uv, PVar)
                and fv in self.grad_name
                and len(self.contributions.get(fv, ())) == 1
            ):
                names[uv] = self.grad_name[fv]
            if comments and fv in summary:
                lines.append(f"# backprop {summary[fv]}")

        def use(v: Any) -> None:
            if isinstance(v, PVar):
                remaining[v] = remaining.get(v, 0) - 1

        formulas: dict[tuple[int, int], str] = {}
        self.formulas = formulas
        target_of_own = {}
        for tv, items in self.contributions.items():
            if items and items[0][1] in self.own:
                target_of_own[items[0][1]] = (tv, items[0][2])

        def note(owner: Any, tv: Any, text: str) -> None:
            o, t = self.forward_of.get(owner), self.forward_of.get(tv)
            if o is not None and t is not None:
                formulas.setdefault((o.index, t.index), text)

        n = len(prog.eqns)
        inline: set[PVar] = set()
        for e in prog.eqns[self.n_forward :]:
            v = e.out
            if v not in names and self.uses.get(v, 0) == 1:
                inline.add(v)
        temps = 0
        for pos in range(self.n_forward, n + 1):
            for tv, k, gv, owner in self.events.get(pos, ()):
                if gv in self.own or k > 0:
                    continue  # assigned by its own statement, or added by a += below
                group(owner)
                target = self.grad_name[tv]
                if isinstance(gv, PVar) and gv not in names and gv not in writer._inline_expr:
                    continue  # not computed (a symbolic zero)
                src = writer.text(writer.atom(gv)) if gv not in names else names[gv]
                if src == target:
                    continue
                note(owner, tv, src)
                if len(self.contributions[tv]) > 1:
                    # more is added to this gradient below (+=): it needs an array of its own
                    copy = f"(1) * {src}" if src.isidentifier() else f"np.copy({src})"
                    lines.append(f"{target} = {copy}")
                    fresh_vars.add(tv)
                else:
                    lines.append(f"{target} = {src}")
            if pos == n:
                break
            e = prog.eqns[pos]
            group(e.meta.get("vjp_of"))
            v = e.out
            for x in e.inputs:
                use(x)
            if e.out in self.acc_of:
                tv = self.acc_of[e.out]
                rhs = writer.text(writer.atom(e.inputs[1]))
                lines.append(f"{names[v]} += {rhs}")
                if tv in fresh_vars or e.inputs[0] in fresh_vars:
                    fresh_vars.add(v)  # the gradient's own array, added to in place
                note(e.meta.get("vjp_of"), tv, rhs)
                continue
            if v in inline:
                writer.hold(e)
                continue
            if v not in names:
                names[v] = f"t{temps}"
                temps += 1
            op = _INPLACE.get(e.prim.name)
            first = e.inputs[0] if e.inputs else None
            if (
                op is not None
                and isinstance(first, PVar)
                and first in fresh_vars
                and remaining.get(first, 0) <= 0
                and first.shape == v.shape
                and first.dtype == v.dtype
            ):
                # the upstream array is this code's own and dies here: update it in place
                rest = writer.text(writer.atom(e.inputs[1]))
                lines.append(f"{names[first]} {op} {rest}")
                lines.append(f"{names[v]} = {names[first]}")
                if v in target_of_own:
                    note(target_of_own[v][1], target_of_own[v][0], f"{names[first]} {op[0]} {rest}")
                fresh_vars.add(v)
                continue
            rhs = writer.text(writer.tree(e))
            lines.append(f"{names[v]} = {rhs}")
            if v in target_of_own:
                note(target_of_own[v][1], target_of_own[v][0], rhs)
            if fresh(e):
                fresh_vars.add(v)
        self.final_names = names
        return seeds, lines

    def named(self, name: str) -> str:
        """The name the code gives the graph's value ``name``."""
        return self.code_name.get(name, name)

    def input_names(self) -> list[str]:
        return [self.named(k) for k in self.graph.inputs]

    def gradient_names(self) -> list[str]:
        """The names of the inputs' gradients (zeros when no gradient reached one)."""
        out = []
        for view in self.graph.inputs.values():
            if view.requires_grad:
                out.append(self.dname[view.index])
        return out

    def zero_lines(self) -> list[str]:
        reached = set(self.grad_name.values())
        lines = []
        for view in self.graph.inputs.values():
            name = self.dname[view.index]
            if view.requires_grad and name not in reached:
                lines.append(f"{name} = np.zeros({view.shape!r}, dtype={_dtype_name(view.dtype)})")
        return lines

    def output_names(self) -> list[str]:
        writer = Writer(self.names, self.consts)
        return [writer.text(writer.atom(o)) for o in self.outputs]


def _bias_in_place(e: Any) -> bool:
    x, w, b = e.inputs
    return isinstance(b, PVar) or np.ndim(getattr(b, "value", 0)) <= 1


def _uses(prog: Program, outputs: list, grads: list) -> dict[PVar, int]:
    counts: dict[PVar, int] = {}
    for e in prog.eqns:
        for v in e.inputs:
            if isinstance(v, PVar):
                counts[v] = counts.get(v, 0) + 1
    for v in list(outputs) + list(grads):
        if isinstance(v, PVar):
            counts[v] = counts.get(v, 0) + 1
    return counts


# --------------------------------------------------------------------------- functions


def _indent(lines: list[str]) -> str:
    return "".join(f"    {line}\n" for line in lines)


def _fn_name(graph: Graph, name: str | None, suffix: str = "") -> str:
    """The generated function's name: ``name``, or the graph's with ``suffix``; never one
    the module's imports use (a function ``softmax`` calling the kernel ``softmax``)."""
    if not name:
        base = graph.name if graph.name and graph.name.isidentifier() else "f"
        name = base + suffix
    return name + "_" if name in KERNELS else name


def _returns(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names)


def _forward_function(code: _Code, name: str) -> tuple[str, list[str]]:
    body = [line for _, lines, _ in code.forward_statements() for line in lines]
    body.append(f"return {_returns(code.output_names())}")
    params = ", ".join(code.input_names())
    return f"def {name}({params}):\n" + _indent(body), body


def _used(lines: list[str]) -> set[str]:
    import ast

    tree = ast.parse("\n".join(line.strip() for line in lines) or "pass")
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _backward_function(code: _Code, name: str) -> tuple[str, list[str]]:
    seeds, lines = code.backward_lines()
    lines = lines + code.zero_lines()
    grads = code.gradient_names()
    used = _used(lines)
    forward_names = [code.named(v.name) for v in code.graph.nodes if v.op != "const"]
    cached = [n for n in forward_names if n in used]
    seed_params, seed_fixes = [], []
    for line in seeds:
        target, _, default = line.partition(" = ")
        if default == "1.0":
            seed_params.append(f"{target}=1.0")
        else:
            seed_params.append(f"{target}=None")
            seed_fixes += [f"if {target} is None:", f"    {target} = {default}"]
    params = ", ".join(cached + seed_params)
    body = seed_fixes + lines
    body.append(f"return ({grads[0]},)" if len(grads) == 1 else f"return {_returns(grads) or '()'}")
    doc = '    """The backward pass: takes the forward values it needs (the cache)."""\n'
    return f"def {name}({params}):\n" + doc + _indent(body), body


def _flat_function(code: _Code, name: str) -> tuple[str, list[str]]:
    forward = [line for _, lines, _ in code.forward_statements() for line in lines]
    seeds, lines = code.backward_lines()
    lines = lines + code.zero_lines()
    grads = code.gradient_names()
    body = ["# forward pass"] + forward + ["# backward pass"] + seeds + lines
    outs = _returns(code.output_names())
    if len(code.outputs) > 1:
        outs = f"({outs})"
    grads_text = f"({grads[0]},)" if len(grads) == 1 else f"({', '.join(grads)})"
    body.append(f"return {outs}, {grads_text}")
    return f"def {name}({', '.join(code.input_names())}):\n" + _indent(body), body


def _module(functions: list[tuple[str, list[str]]]) -> str:
    lines = [line for _, body in functions for line in body]
    parts = [module_header(lines)] + [text for text, _ in functions]
    return "\n\n".join(parts).rstrip("\n") + "\n"


def forward_code(graph: Graph, name: str | None = None) -> str:
    """Source of a module with the forward pass as one flat function.

    Examples
    --------
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
    code = _Code(graph)
    return _module([_forward_function(code, _fn_name(graph, name))])


def backward_code(graph: Graph, name: str | None = None, prefix: str = "d") -> str:
    """Source of a module with the backward pass: the forward pass reversed.

    Examples
    --------
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
    code = _Code(graph, prefix)
    return _module([_backward_function(code, _fn_name(graph, name, "_backward"))])


def flat_code(graph: Graph, name: str | None = None, prefix: str = "d") -> str:
    """Source of a module with one function doing both passes, as in the lectures: it
    returns ``(output, (gradient of each input, ...))``.

    Examples
    --------
    >>> import chainrule as cr
    >>> print(cr.trace(lambda x, y: x * y, 3.0, 4.0).flat_code())  # doctest: +NORMALIZE_WHITESPACE
    import numpy as np
    <BLANKLINE>
    <BLANKLINE>
    def f_and_grad(x, y):
        # forward pass
        out = x * y
        # backward pass
        dout = 1.0
        # backprop out = x * y
        dx = dout * y
        dy = dout * x
        return out, (dx, dy)
    <BLANKLINE>
    """
    code = _Code(graph, prefix)
    return _module([_flat_function(code, _fn_name(graph, name, "_and_grad"))])


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
        code = _Code(graph, prefix)
        functions = [
            _forward_function(code, "forward"),
            _backward_function(code, "backward"),
            _flat_function(code, "flat"),
        ]
        self.source = _module(functions)
        namespace = compile_module(self.source, code.consts.values, f"<flat code of {graph.name}>")
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
    """Compile the graph's generated flat code (see :class:`FlatFunction`).

    Examples
    --------
    >>> import chainrule as cr
    >>> fn = cr.trace(lambda x: x ** 2, 3.0).compile_flat()
    >>> [float(v) for v in (fn(2.0)[0], fn(2.0)[1][0])]
    [4.0, 4.0]
    """
    return FlatFunction(graph, prefix)


def formulas(graph: Graph, prefix: str = "d") -> tuple[dict[tuple[int, int], str], dict[int, str]]:
    """(the downstream gradient each operation sends each input, as generated code writes
    it, by (operation index, input index); each operation's forward line by index)."""
    code = _Code(graph, prefix)
    code.backward_lines(comments=False)
    forward = {}
    for v, _lines, main in code.forward_statements():
        view = code.forward_of.get(v)
        if view is not None:
            forward[view.index] = main
    return code.formulas, forward
