"""The traced graph: ``trace(f, *args)`` records a computation into a ``Graph`` of ``Var``s.
A Graph is the lectures' ComputationalGraph: forward() in topological order, backward() reversed.

A Graph is a view of a program (``chainrule.ir``): tracing runs ``f`` on fresh leaf tensors
(floating ones require grad) and records every primitive it applies, comparisons included,
so ``forward()`` on new inputs is right everywhere. It also notes the local variable names
``f`` binds its tensors to (so ``q = x + y`` shows up as ``q``). ``backward()`` runs the
engine's own backward walk and keeps each step for the table (``explain``).
"""

from __future__ import annotations

import contextlib
import inspect
import keyword
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import engine
from ..engine import Node
from ..ir import Program, evaluate, run_on_tensors
from ..ir import Var as PVar
from ..ir.passes import dce, simplify
from ..ir.trace import Tracer
from ..primitives import REGISTRY, Primitive
from ..tensor import Tensor
from . import scope as _scope

__all__ = ["Graph", "Step", "Var", "name", "trace"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Names the generated code needs for itself: never given to a variable.
RESERVED = frozenset({"np", "CONST", "slice", "None", "True", "False"})


@dataclass(eq=False)
class Var:
    """One value of the traced computation: an input, a constant, or an operation's output.

    Attributes
    ----------
    name:
        A valid Python identifier, unique in its graph (used by pictures, tables and code).
    op:
        ``"input"`` (an argument of the traced function), ``"param"`` (another tensor that
        requires grad, e.g. a weight from a closure), ``"const"``, or a primitive's name.
    inputs:
        The Vars this operation consumed, in argument order.
    value, grad:
        Forward value (an ndarray, or a Python number for constants) and, after
        ``Graph.backward()``, the total gradient of the output with respect to this value.
    scope:
        The ``nn.Module`` calls in progress when this operation ran, outermost first
        (:class:`chainrule.tracing.scope.ScopeFrame`: qualified name, class, call number);
        ``()`` outside any module. Pictures group a layer's operations by it.

    Examples
    --------
    >>> import chainrule as cr
    >>> g = cr.trace(lambda x, y: x * y + x, 3.0, 4.0)
    >>> v = g.ops[0]
    >>> v.op, [i.name for i in v.inputs], float(v.value)
    ('mul', ['x', 'y'], 12.0)
    """

    name: str
    op: str
    inputs: tuple[Var, ...] = ()
    shape: tuple = ()
    dtype: Any = None
    value: Any = None
    grad: Any = None
    params: dict = field(default_factory=dict)
    prim: Primitive | None = None
    requires_grad: bool = False
    #: Bytes the engine keeps alive for this node's backward rule (see ``Graph.explain``).
    saved_nbytes: int = 0
    index: int = 0
    scope: tuple = ()

    @property
    def is_op(self) -> bool:
        return self.prim is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self) -> str:
        args = ", ".join(v.name for v in self.inputs)
        head = f"{self.name} = {self.op}({args})" if self.is_op else f"{self.name}: {self.op}"
        return f"<Var {head} shape={self.shape}>"


@dataclass
class Step:
    """One node's piece of the backward pass: upstream x local = downstream, per input.

    Examples
    --------
    >>> import chainrule as cr
    >>> g = cr.trace(lambda x, y: x * y, 3.0, 4.0)
    >>> _ = g.backward()
    >>> step = g.steps[0]
    >>> float(step.upstream), [(inp.name, local) for inp, local, _down in step.contributions]
    (1.0, [('x', 4.0), ('y', 3.0)])
    """

    var: Var
    upstream: Any
    #: (input Var, local gradient or None when it is not a number, downstream gradient)
    contributions: list[tuple[Var, Any, Any]]


_EXAMPLES_FILE = os.path.join(_PACKAGE_DIR, "tracing", "examples.py")


def _is_library_code(filename: str) -> bool:
    """chainrule's own frames (not the user's); the lecture examples count as user code."""
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE_DIR + os.sep) and path != _EXAMPLES_FILE


class _LocalNames:
    """Watch the user's frames (``sys.settrace``) and remember which local variable name
    each recorded tensor was first bound to. Names from the outermost user frame win."""

    def __init__(self) -> None:
        self.names: dict[Node, tuple[int, int, str]] = {}
        self.constants: dict[int, str] = {}
        self.leaves: dict[int, str] = {}
        #: Tensors without a node (a mask x > 0) bound to a name, and those names.
        self.tensors: list[Tensor] = []
        self.tensor_names: list[str] = []
        self._seen_tensors: set[int] = set()
        self._order = 0
        self._root: Any = None

    def _depth(self, frame: Any) -> int:
        depth = 0
        while frame is not None and frame is not self._root:
            if not _is_library_code(frame.f_code.co_filename):
                depth += 1
            frame = frame.f_back
        return depth

    def _scan(self, frame: Any, depth: int) -> None:
        for name, value in list(frame.f_locals.items()):
            if not isinstance(value, Tensor) or not name.isidentifier() or name in ("self", "_"):
                continue
            node = value._node
            if node is None:
                if value._rg:
                    self.leaves.setdefault(id(value), name)
                else:
                    self.constants.setdefault(id(value._data), name)
                    if id(value) not in self._seen_tensors:
                        self._seen_tensors.add(id(value))
                        self.tensors.append(value)
                        self.tensor_names.append(name)
                continue
            known = self.names.get(node)
            if known is None or known[0] > depth:
                self._order += 1
                self.names[node] = (depth, self._order, name)

    def _global(self, frame: Any, event: str, arg: Any) -> Any:
        if event != "call" or _is_library_code(frame.f_code.co_filename):
            return None
        depth = self._depth(frame)

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event in ("line", "return"):
                self._scan(frame, depth)
            return local

        return local

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        previous = sys.gettrace()
        self._root = sys._getframe(0)
        sys.settrace(self._global)
        try:
            yield
        finally:
            sys.settrace(previous)


def name(t: Tensor, label: str) -> Tensor:
    """Give a recorded tensor a name for pictures, tables and generated code.

    Returns ``t`` itself, so it can wrap an expression.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.tracing import name
    >>> g = cr.trace(lambda x: name(x * 2, "twice") + 1, 3.0)
    >>> [v.name for v in g.ops]
    ['twice', 'out']
    """
    if isinstance(t, Tensor) and t._node is not None:
        t._node.name = label
    return t


# --------------------------------------------------------------------------- trace


def _as_input(value: Any) -> Any:
    """A traced function's argument as a fresh leaf (floats require grad) or as given."""
    if isinstance(value, Tensor):
        data = value.data
    elif isinstance(value, (bool, np.bool_)):
        return value
    elif isinstance(value, (int, float, np.number, list, tuple)):
        data = np.asarray(value)
        if data.dtype.kind in "iu" and not isinstance(value, np.integer):
            data = data.astype(np.float64)  # the lectures' x = -2: a number to differentiate
    elif isinstance(value, np.ndarray):
        data = value
    else:
        return value  # not an array: passed through untouched (a callable, a string, ...)
    leaf = Tensor(np.array(data, copy=True))
    if leaf.dtype.kind in "fc":
        leaf.requires_grad = True
    return leaf


def _function_name(f: Callable) -> tuple[str, bool]:
    """(name for the output, whether ``f`` is a chainrule transform such as ``grad(g)``)."""
    code = getattr(f, "__code__", None)
    if (
        code is not None
        and os.path.basename(code.co_filename) == "transforms.py"
        and _is_library_code(code.co_filename)
    ):
        qual = getattr(code, "co_qualname", code.co_name)
        return qual.split(".")[0], True
    fname = getattr(f, "__name__", "")
    if fname.isidentifier() and not fname.startswith("_"):
        return fname, False
    return "out", False


def trace(f: Callable, *args: Any, **kwargs: Any) -> Graph:
    """Run ``f(*args, **kwargs)`` and record its computation as a :class:`Graph`.

    Numbers, lists, arrays and Tensors become fresh leaves (floating ones require grad);
    variable names come from ``f``'s parameters and from the local variables it binds
    its intermediate results to. ``f`` may be a transformed function: tracing
    ``cr.grad(f)`` shows the graph that autodiff builds for the gradient.

    Examples
    --------
    >>> import chainrule as cr
    >>> def f(x, y, z):
    ...     q = x + y
    ...     return q * z
    >>> g = cr.trace(f, -2, 5, -4)
    >>> g.value
    array(-12.)
    >>> grads = g.backward()
    >>> [float(grads[k]) for k in "xyz"]
    [-4.0, -4.0, 3.0]
    """
    try:
        # A Module's own call takes (*args, **kwargs): its forward's parameters name inputs.
        sig = inspect.signature(f.forward if _is_module(f) else f)
        bound = sig.bind(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"trace: cannot call {getattr(f, '__name__', f)!r} with these arguments: {e}"
        ) from None
    names: dict[str, Any] = {}
    call_args: list[Any] = []
    call_kwargs: dict[str, Any] = {}
    for pname, value in bound.arguments.items():
        kind = sig.parameters[pname].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            converted = [_as_input(v) for v in value]
            for i, v in enumerate(converted):
                names[f"{pname}{i}"] = v
            call_args.extend(converted)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            for k, v in value.items():
                names[k] = _as_input(v)
                call_kwargs[k] = names[k]
        elif kind is inspect.Parameter.KEYWORD_ONLY:
            names[pname] = call_kwargs[pname] = _as_input(value)
        else:
            names[pname] = _as_input(value)
            call_args.append(names[pname])

    tracer = _ScopedTracer()
    for pname, value in names.items():
        if isinstance(value, Tensor):
            tracer.input(value, "arg", pname)
    recorder = _LocalNames()
    with tracer.active(), _scope.recording(), recorder.watching():
        out = f(*call_args, **call_kwargs)
    outputs = list(out) if isinstance(out, (tuple, list)) else [out]
    if not outputs or not all(isinstance(o, Tensor) for o in outputs):
        raise TypeError(
            f"trace: the function must return a Tensor or a tuple of Tensors, got "
            f"{type(out).__name__}"
        )
    tracer.program.outputs = [tracer.output(o) for o in outputs]
    out_name, transformed = _function_name(f)
    _names_from_scope(f, recorder)
    graph = _build(tracer, recorder, out_name, outputs)
    graph.name = out_name if out_name != "out" else "f"
    if transformed and hasattr(f, "__wrapped__"):
        # grad(f) is named grad_f: the function that computes f's gradient.
        graph.name = f"{out_name}_{_function_name(f.__wrapped__)[0]}"
    return graph


class _ScopedTracer(Tracer):
    """A tracer that also notes which ``nn.Module`` call made each operation (the pictures
    group a layer's operations into one box with it)."""

    def applied(self, prim: Any, args: tuple, params: dict, result: Tensor) -> None:
        n = len(self.program.eqns)
        super().applied(prim, args, params, result)
        if len(self.program.eqns) > n:
            where = _scope.current()
            if where:
                self.program.eqns[-1].meta["scope"] = where


def _names_from_scope(f: Callable, recorder: _LocalNames) -> None:
    """Names for tensors ``f`` reads from its closure or module (weights, biases)."""
    seen: set[int] = set()
    if _is_module(f):
        _module_parameter_names(f, "", recorder)
    while f is not None and id(f) not in seen:
        seen.add(id(f))
        scopes: list[dict[str, Any]] = []
        closure = getattr(f, "__closure__", None) or ()
        code = getattr(f, "__code__", None)
        if code is not None and closure:
            cells = {}
            for cname, cell in zip(code.co_freevars, closure):
                try:
                    cells[cname] = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
            scopes.append(cells)
        if code is not None and not _is_library_code(code.co_filename):
            scopes.append(getattr(f, "__globals__", {}))
        for scope in scopes:
            for sname, value in list(scope.items()):
                if isinstance(value, Tensor) and value._node is None and sname.isidentifier():
                    if value._rg:
                        recorder.leaves.setdefault(id(value), sname)
                    else:
                        recorder.constants.setdefault(id(value.data), sname)
                elif _is_module(value) and sname.isidentifier():
                    _module_parameter_names(value, sname, recorder)
        f = getattr(f, "__wrapped__", None)


def _is_module(value: Any) -> bool:
    """An ``nn.Module`` (tested by its methods, so tracing does not import nn)."""
    if isinstance(value, type):
        return False
    return callable(getattr(value, "forward", None)) and hasattr(value, "named_parameters")


def _module_parameter_names(module: Any, prefix: str, recorder: _LocalNames) -> None:
    """``model.0.weight`` is named ``model_0_weight`` (``p0_weight`` for the traced module)."""
    for qual, p in module.named_parameters():
        text = f"{prefix}_{qual}" if prefix else qual
        text = text.replace(".", "_")
        recorder.leaves.setdefault(id(p), "p" + text if text[:1].isdigit() else text)


# --------------------------------------------------------------------------- building


class _Namer:
    """Unique, valid Python identifiers; wanted names first, generated ones ``{op}{k}``."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.counts: dict[str, int] = {}
        #: base -> the next suffix worth trying: names are never released, so every
        #: ``base_k`` below it is still taken (a loop rebinding ``x`` 20,000 times would
        #: otherwise try x, x_1, ..., x_{k-1} for its k-th node: quadratic).
        self.suffixes: dict[str, int] = {}

    def claim(self, wanted: str | None, op: str) -> str:
        if wanted:
            base = _identifier(wanted)
            candidate = base
            if candidate in self.taken:
                k = self.suffixes.get(base, 1)
                while f"{base}_{k}" in self.taken:
                    k += 1
                candidate = f"{base}_{k}"
                self.suffixes[base] = k + 1
            self.taken.add(candidate)
            return candidate
        stem = _identifier(op)
        while True:
            k = self.counts.get(stem, 0)
            self.counts[stem] = k + 1
            candidate = f"{stem}{k}"
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate


def _identifier(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_") or "v"
    if cleaned[0].isdigit():
        cleaned = "v" + cleaned
    if keyword.iskeyword(cleaned) or cleaned in RESERVED:
        cleaned += "_"
    return cleaned


def _nbytes(values: list[Any]) -> int:
    total, seen = 0, set()
    for v in values:
        if isinstance(v, (np.ndarray, np.generic)) and id(v) not in seen:
            seen.add(id(v))
            total += v.nbytes
    return total


def _saved_bytes(eqn: Any, in_values: list[Any], out_value: Any) -> int:
    """What the engine keeps for this operation's rule (outside tracing)."""
    params = eqn.params or {}
    ctx = params.get("ctx")
    prim = eqn.prim
    if ctx is not None:  # a custom Function keeps what it chose to save
        return _nbytes(list(getattr(ctx, "_saved", ())))
    if prim.name not in REGISTRY:
        return _nbytes(list(in_values))
    which = prim.save_inputs
    kept = list(in_values) if which is True else list(in_values[1:]) if which else []
    if prim.save_output:
        kept.append(out_value)
    return _nbytes(kept)


def _build(tracer: Tracer, recorder: _LocalNames, out_name: str, outputs: list[Tensor]) -> Graph:
    """The view of the traced program: one Var per input, constant use and operation.

    Only what the outputs need is shown (dead code is dropped), and the equations autodiff
    generated (a traced ``cr.grad``) are simplified (``g * 1`` is ``g``); what the user
    wrote is shown as written."""
    program, _ = simplify(dce(tracer.program), where=lambda e: "vjp_of" in e.meta)
    program = dce(program)
    node_of: dict[PVar, Node] = {v: n for n, v in tracer._node_var.items()}
    namer = _Namer()
    graph = Graph()
    graph.program = program
    view: dict[PVar, Var] = {}
    for pv in program.inputs:
        tensor = next(t for t in tracer._alive if tracer._var_of.get(id(t)) is pv)
        role = program.roles[pv]
        wanted = pv.hint if role == "arg" else recorder.leaves.get(id(tensor))
        var = Var(
            namer.claim(wanted, "x" if role == "arg" else "p"),
            "input" if role == "arg" else "param",
            shape=pv.shape,
            dtype=pv.dtype,
            value=program.values[pv],
            requires_grad=tensor._rg,
        )
        graph._add(var)
        graph.inputs[var.name] = var
        view[pv] = var
    for pv, value in program.constants.items():
        const = Var(
            f"c_{pv.id}", "const", shape=np.shape(value), dtype=np.asarray(value).dtype, value=value
        )
        graph._add(const)
        view[pv] = const

    # Names: explicit node names first, then local variable names, outputs, generated.
    wanted_names: dict[PVar, str] = {}
    for e in program.eqns:
        node = node_of.get(e.out)
        if node is not None and node.name:
            wanted_names[e.out] = node.name
    for node, (_d, _o, local) in sorted(recorder.names.items(), key=lambda kv: kv[1][:2]):
        pv = tracer._node_var.get(node)
        if pv is not None:
            wanted_names.setdefault(pv, local)
    for k, t in enumerate(recorder.tensors):
        pv = tracer.var_of(t)
        if pv is not None:
            wanted_names.setdefault(pv, recorder.tensor_names[k])
    for i, o in enumerate(program.outputs):
        if isinstance(o, PVar):
            wanted_names.setdefault(o, out_name if len(program.outputs) == 1 else f"{out_name}{i}")
    for e in program.eqns:
        # a cross-entropy's kept log-softmax is named after the loss: out_logp
        logp = e.inputs[1] if e.prim.name == "cross_entropy" else None
        if isinstance(logp, PVar) and logp not in wanted_names and e.out in wanted_names:
            wanted_names[logp] = f"{wanted_names[e.out]}_logp"
    claimed: dict[PVar, str] = {}
    for e in program.eqns:  # wanted names are claimed before generated ones can take them
        if e.out in wanted_names and e.prim.name != "alias":
            claimed[e.out] = namer.claim(wanted_names[e.out], e.prim.name)

    n_const = 0
    graph.eqn_of = {}
    for e in program.eqns:
        ins: list[Var] = []
        for v in e.inputs:
            if isinstance(v, PVar):
                ins.append(view[v])
                continue
            cname = recorder.constants.get(id(v.value))
            const = Var(
                namer.claim(cname, "c") if cname else f"c{n_const}",
                "const",
                shape=np.shape(v.value),
                dtype=getattr(v.value, "dtype", None),
                value=v.value,
            )
            if cname is None:
                n_const += 1
            graph._add(const)
            ins.append(const)
        if e.prim.name == "alias":
            # Transforms give each argument an identity node of their own: show the argument.
            view[e.out] = ins[0]
            continue
        value = program.values.get(e.out)
        var = Var(
            claimed.get(e.out) or namer.claim(None, e.prim.name),
            e.prim.name,
            inputs=tuple(ins),
            shape=tuple(e.out.shape),
            dtype=e.out.dtype,
            value=None if value is None else np.asarray(value),
            params=dict(e.params),
            prim=e.prim,
            requires_grad=e.prim.differentiable and any(v.requires_grad for v in ins),
            saved_nbytes=_saved_bytes(e, [v.value for v in ins], value),
            scope=e.meta.get("scope", ()),
        )
        graph._add(var)
        view[e.out] = var
        graph.eqn_of[var.index] = e
    for o in program.outputs:
        if isinstance(o, PVar):
            graph.outputs.append(view[o])
        else:
            const = Var(f"c{n_const}", "const", shape=np.shape(o.value), value=o.value)
            n_const += 1
            graph._add(const)
            graph.outputs.append(const)
    # Constants get their names last so that user names keep priority; make them unique.
    for var in graph.nodes:
        if var.op == "const" and var.name not in namer.taken:
            var.name = namer.claim(var.name, "c")
    graph.view = view
    return graph


# --------------------------------------------------------------------------- Graph


class Graph:
    """A recorded computation: the lectures' ``ComputationalGraph`` object.

    ``nodes`` lists every :class:`Var` in topological order (inputs and constants, then
    operations in the order they ran). ``forward(**inputs)`` re-runs the gates in that
    order, ``backward()`` walks them in reverse, each applying its little piece of the
    chain rule (upstream gradient x local gradient = downstream gradient).

    Examples
    --------
    >>> import chainrule as cr
    >>> g = cr.trace(lambda x, y: x * y + x, 3.0, 4.0)
    >>> g.forward(x=2.0, y=5.0)
    array(12.)
    >>> {k: float(v) for k, v in g.backward().items()}
    {'x': 6.0, 'y': 2.0}
    """

    def __init__(self) -> None:
        self.nodes: list[Var] = []
        self.inputs: dict[str, Var] = {}
        self.outputs: list[Var] = []
        self.steps: list[Step] = []
        self.name = "f"
        #: The program this graph shows (``chainrule.ir.Program``), and program Var -> Var.
        self.program: Program | None = None
        self.view: dict[PVar, Var] = {}
        #: Var.index of an operation -> its equation in the program.
        self.eqn_of: dict[int, Any] = {}

    def _add(self, var: Var) -> None:
        var.index = len(self.nodes)
        self.nodes.append(var)

    # ------------------------------------------------------------------ access
    @property
    def ops(self) -> list[Var]:
        """The operation nodes (gates), in topological order."""
        return [v for v in self.nodes if v.is_op]

    @property
    def output(self) -> Var:
        if len(self.outputs) != 1:
            raise ValueError(f"graph has {len(self.outputs)} outputs; use graph.outputs")
        return self.outputs[0]

    @property
    def value(self) -> Any:
        """The output's value (a tuple for several outputs)."""
        vals = tuple(o.value for o in self.outputs)
        return vals[0] if len(vals) == 1 else vals

    @property
    def grads(self) -> dict[str, Any]:
        """Gradients of the inputs after ``backward()`` (name -> array)."""
        return {k: v.grad for k, v in self.inputs.items() if v.requires_grad}

    def __getitem__(self, key: str) -> Var:
        for v in self.nodes:
            if v.name == key:
                return v
        raise KeyError(f"graph has no variable named {key!r}")

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        outs = ", ".join(f"{o.name}{list(o.shape) if o.shape else ''}" for o in self.outputs)
        return (
            f"<Graph {self.name}({', '.join(self.inputs)}) -> {outs}: "
            f"{len(self.ops)} ops, {len(self.nodes)} nodes>"
        )

    def rename(self, **new_names: str) -> Graph:
        """Rename variables (``graph.rename(add0="q")``); returns the graph."""
        taken = {v.name for v in self.nodes}
        for old, new in new_names.items():
            var = self[old]
            if new in taken or not new.isidentifier() or keyword.iskeyword(new) or new in RESERVED:
                raise ValueError(f"rename: {new!r} is not a free, valid variable name")
            taken.discard(old)
            taken.add(new)
            var.name = new
            if old in self.inputs:
                self.inputs = {(new if k == old else k): v for k, v in self.inputs.items()}
        return self

    # ------------------------------------------------------------------ forward / backward
    def forward(self, *args: Any, **inputs: Any) -> Any:
        """Re-run the graph on new input values (positional in input order, or by name);
        inputs not given keep their values. Returns the output value.

        Each gate computes its output from its inputs' values, in topological order.
        """
        names = list(self.inputs)
        if len(args) > len(names):
            raise TypeError(
                f"forward: got {len(args)} positional inputs, the graph has "
                f"{len(names)} ({', '.join(names)})"
            )
        given = dict(zip(names, args))
        for k, v in inputs.items():
            if k not in self.inputs:
                raise TypeError(f"forward: unknown input {k!r}; inputs are {', '.join(names)}")
            given[k] = v
        for k, v in given.items():
            var = self.inputs[k]
            arr = np.asarray(v.data if isinstance(v, Tensor) else v, dtype=var.dtype)
            if arr.shape != var.shape:
                raise ValueError(
                    f"forward: input {k!r} has shape {arr.shape}, but the graph "
                    f"was traced with shape {var.shape}"
                )
            var.value = arr
        program = self.program
        inputs_by_pvar = {pv: v for pv, v in self.view.items() if v.op in ("input", "param")}
        env = evaluate(program, [inputs_by_pvar[pv].value for pv in program.inputs], keep=True)
        for pv, var in self.view.items():
            if var.is_op and pv in env:
                var.value = np.asarray(env[pv])
        for var in self.nodes:
            var.grad = None
        self.steps = []
        return self.value

    def backward(self, grad: Any = None) -> dict[str, Any]:
        """Send ``grad`` (default: ones, the lectures' ``grad_L = 1.0``) back from the
        output(s); every node multiplies its upstream gradient by its local gradient.

        This is the engine's backward walk, run on the graph's program; it sets
        ``var.grad`` on every node, records the steps (see :meth:`explain`) and returns the
        inputs' gradients by name.
        """
        seeds = grad if isinstance(grad, (tuple, list)) else [grad] * len(self.outputs)
        if len(seeds) != len(self.outputs):
            raise ValueError(f"backward: {len(self.outputs)} outputs but {len(seeds)} seeds")
        program = self.program
        leaves = []
        for pv in program.inputs:
            var = self.view[pv]
            leaf = Tensor(np.array(var.value, dtype=var.dtype, copy=True))
            if var.requires_grad:
                leaf.requires_grad = True
            leaves.append(leaf)
        env = run_on_tensors(program, leaves)
        by_node: dict[Node, Var] = {}
        for e in program.eqns:
            t = env[e.out]
            var = self.view.get(e.out)
            if t._node is not None and var is not None and var.is_op:
                by_node[t._node] = var
        roots, root_seeds = [], []
        for out, seed, po in zip(self.outputs, seeds, program.outputs):
            if seed is None:
                seed = np.ones(out.shape, dtype=out.dtype or np.float64)
            else:
                seed = np.asarray(seed.data if isinstance(seed, Tensor) else seed, dtype=out.dtype)
                if seed.shape != out.shape:
                    raise ValueError(
                        f"backward: grad has shape {seed.shape}, output "
                        f"{out.name!r} has shape {out.shape}"
                    )
            if not isinstance(po, PVar) or not env[po]._rg:
                continue
            roots.append(env[po])
            root_seeds.append(seed.astype(out.dtype) if out.dtype is not None else seed)
        for var in self.nodes:
            var.grad = None
        observer = _Steps(by_node, self)
        if roots:
            engine.backward(
                roots, root_seeds, retain_graph=False, create_graph=False, observer=observer
            )
        self.steps = observer.steps
        for pv, leaf in zip(program.inputs, leaves):
            var = self.view[pv]
            if var.requires_grad:
                var.grad = (
                    np.asarray(leaf.grad.data)
                    if leaf.grad is not None
                    else np.zeros(var.shape, dtype=var.dtype)
                )
        return self.grads

    # ------------------------------------------------------------------ views
    def explain(self, show: bool = False) -> Any:
        """The backward-pass table: per node the upstream gradient, the local gradient(s)
        and the downstream gradients, plus the bytes each node saves for backward.

        Runs ``backward()`` first if it has not run. ``show=True`` also prints it (with
        ``rich`` when installed).
        """
        from .explain import explain

        table = explain(self)
        if show:
            table.print()
        return table

    def memory_report(self) -> dict[str, int]:
        """Bytes each operation keeps alive for the backward pass, and the ``total``."""
        report = {v.name: v.saved_nbytes for v in self.ops}
        report["total"] = sum(report.values())
        return report

    def forward_code(self, name: str | None = None) -> str:
        """Python source (NumPy) of the forward pass in the lectures' flat style."""
        from .codegen import forward_code

        return forward_code(self, name)

    def backward_code(self, name: str | None = None, prefix: str = "d") -> str:
        """Python source of the backward pass: the forward pass reversed, one line per
        local gradient, ``+=`` where a value forks. Takes the cached forward values."""
        from .codegen import backward_code

        return backward_code(self, name, prefix=prefix)

    def flat_code(self, name: str | None = None, prefix: str = "d") -> str:
        """One function with both passes, returning ``(output, (d_input, ...))``."""
        from .codegen import flat_code

        return flat_code(self, name, prefix=prefix)

    def compile_flat(self, prefix: str = "d") -> Any:
        """Compile the generated code; see :class:`chainrule.tracing.codegen.FlatFunction`."""
        from .codegen import compile_flat

        return compile_flat(self, prefix=prefix)

    def render(self, path: str | os.PathLike | None = None, **options: Any) -> Any:
        """Draw the circuit (values in green, gradients in red) with matplotlib.

        ``path`` ending in ``.png``, ``.svg`` or ``.pdf`` writes that file and returns the
        path; without it the matplotlib ``Figure`` is returned. Large graphs are collapsed
        (see :func:`chainrule.tracing.render.render`).
        """
        from .render import render

        return render(self, path, **options)

    def _repr_svg_(self) -> str:
        from .render import to_svg

        return to_svg(self)

    def to_dot(self) -> str:
        """Graphviz DOT text (for users who have Graphviz's ``dot``)."""
        from .render import to_dot

        return to_dot(self)


class _Steps:
    """Told about every step of the engine's walk (see ``engine.backward``): keeps, per
    operation, the upstream gradient and what it sends to each input."""

    def __init__(self, by_node: dict[Node, Var], graph: Graph) -> None:
        self.by_node = by_node
        self.graph = graph
        self.steps: list[Step] = []
        self._step: Step | None = None

    def walk_node(self, node: Node, g: Any) -> None:
        var = self.by_node.get(node)
        if var is None:  # an alias: the argument itself
            self._step = None
            return
        var.grad = np.asarray(g)
        self._step = Step(var, var.grad, [])
        self.steps.append(self._step)
        self._node = node

    def walk_grad(self, node: Node, i: int, edge: Any, gi: Any) -> None:
        step = self._step
        if step is None or self.by_node.get(node) is not step.var:
            return
        var = step.var
        inp = var.inputs[i]
        local = None
        if var.size == 1 and inp.size == 1:
            local = _local_gradient(node, i)
        step.contributions.append((inp, local, np.asarray(gi)))

    def walk_accumulate(self, edge: Any) -> None:
        return None


def _local_gradient(node: Node, i: int) -> float | None:
    """d(out)/d(input i) as a number: the node's rule applied to an upstream gradient of 1."""
    prim = node.prim
    if prim.vjp_all is not None:
        return None
    one = np.ones(node.shape, dtype=node.dtype)
    rule = prim.vjps[i] if node.dtype.kind != "c" else prim.cvjps[i]
    try:
        out = rule(one, node.out, *node.inputs, **(node.params or {}))
    except Exception:  # a display courtesy: the table shows the formula instead
        return None
    return float(np.real(np.asarray(out)).sum())
