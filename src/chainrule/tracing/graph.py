"""The traced graph: ``trace(f, *args)`` records a computation into a ``Graph`` of ``Var``s.
A Graph is the lectures' ComputationalGraph: forward() in topological order, backward() reversed.

Tracing runs ``f`` on fresh leaf tensors (``requires_grad=True``) and reads the graph the engine
records. Two things the engine normally drops are kept while tracing: every primitive saves its
input and output values (so constants and intermediate values can be shown and re-run), and the
local variable names ``f`` binds its tensors to (so ``q = x + y`` shows up as ``q``).
"""

from __future__ import annotations

import contextlib
import inspect
import keyword
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import engine
from ..engine import Node
from ..primitives import REGISTRY, Primitive
from ..tensor import Tensor, enable_grad, observe_nodes
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


# --------------------------------------------------------------------------- recording

_record_lock = threading.RLock()
_record_depth = 0
#: node -> (input values, output value) of binary operators, filled while tracing.
_captured: dict[Node, tuple[tuple, Any]] = {}
#: node -> the module calls in progress when it was recorded (see ``tracing.scope``).
_captured_scope: dict[Node, tuple] = {}


def _capture(node: Node, inputs: tuple, out: Any) -> None:
    where = _scope.current()
    with _record_lock:
        _captured.setdefault(node, (tuple(inputs), out))
        if where:
            _captured_scope.setdefault(node, where)


@contextlib.contextmanager
def _keep_everything() -> Iterator[None]:
    """While tracing, note every recorded node's input and output values.

    The engine keeps only what each rule needs, so a node of ``x + 2`` forgets the 2 and its
    own result; the picture, the table and the generated code need all of them. The core's
    node observer (``cr.observe_nodes``) reports them as the nodes are made.
    """
    global _record_depth
    with _record_lock:
        _record_depth += 1
    try:
        with observe_nodes(_capture), _scope.recording():
            yield
    finally:
        with _record_lock:
            _record_depth -= 1


def _take_captured(nodes: list[Node]) -> dict[Node, tuple[tuple, Any]]:
    with _record_lock:
        found = {n: _captured.pop(n) for n in nodes if n in _captured}
        if _record_depth == 0:
            _captured.clear()
        return found


def _take_scopes(nodes: list[Node]) -> dict[Node, tuple]:
    with _record_lock:
        found = {n: _captured_scope.pop(n) for n in nodes if n in _captured_scope}
        if _record_depth == 0:
            _captured_scope.clear()
        return found


def _original_flags(prim: Primitive) -> tuple[bool, bool]:
    return prim.save_inputs, prim.save_output


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
        self.values: dict[Node, Any] = {}
        self.constants: dict[int, str] = {}
        self.leaves: dict[int, str] = {}
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
                    self.constants.setdefault(id(value.data), name)
                continue
            self.values.setdefault(node, value.data)
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

    recorder = _LocalNames()
    with _keep_everything(), enable_grad(), recorder.watching():
        out = f(*call_args, **call_kwargs)
    outputs = list(out) if isinstance(out, (tuple, list)) else [out]
    if not outputs or not all(isinstance(o, Tensor) for o in outputs):
        raise TypeError(
            f"trace: the function must return a Tensor or a tuple of Tensors, got "
            f"{type(out).__name__}"
        )
    out_name, transformed = _function_name(f)
    inputs = {k: v for k, v in names.items() if isinstance(v, Tensor)}
    _names_from_scope(f, recorder)
    graph = _build(outputs, inputs, recorder, out_name)
    graph.name = out_name if out_name != "out" else "f"
    if transformed and hasattr(f, "__wrapped__"):
        # grad(f) is named grad_f: the function that computes f's gradient.
        graph.name = f"{out_name}_{_function_name(f.__wrapped__)[0]}"
    return graph


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

    def claim(self, wanted: str | None, op: str) -> str:
        if wanted:
            base = _identifier(wanted)
            candidate, k = base, 1
            while candidate in self.taken:
                candidate = f"{base}_{k}"
                k += 1
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


def _saved_bytes(node: Node, in_values: list[Any], out_value: Any) -> int:
    """What the engine would keep for this node's rule outside tracing."""
    params = node.params or {}
    ctx = params.get("ctx")
    if ctx is not None:  # a custom Function keeps what it chose to save
        return _nbytes(list(getattr(ctx, "saved_tensors", ())))
    if node.prim.name not in REGISTRY:
        return _nbytes(list(node.inputs or ()))
    save_inputs, save_output = _original_flags(node.prim)
    kept = list(in_values) if save_inputs else []
    if save_output:
        kept.append(out_value)
    elif node.prim.residual is not None and node.out is not None:
        kept.append(node.out)  # the forward intermediate kept for the VJP (a residual)
    return _nbytes(kept)


def _build(
    outputs: list[Tensor], inputs: dict[str, Tensor], recorder: _LocalNames, out_name: str
) -> Graph:
    # Collect every node the outputs depend on (iteratively: graphs may be deep).
    nodes: dict[Node, None] = {}
    leaves: dict[int, Tensor] = {}
    stack = [o._node for o in outputs if o._node is not None]
    for o in outputs:
        if o._node is None and o._rg:
            leaves[id(o)] = o
    while stack:
        node = stack.pop()
        if node in nodes:
            continue
        nodes[node] = None
        for edge in node.edges:
            if type(edge) is Node:
                if edge not in nodes:
                    stack.append(edge)
            elif edge is not None:
                leaves[id(edge)] = edge
    order = sorted(nodes, key=lambda n: n.seq)
    captured = _take_captured(order)
    scopes = _take_scopes(order)

    # Values of nodes that did not keep their output: read them where a consumer saved them
    # (and, failing that, recompute them below from their inputs).
    values: dict[Node, Any] = dict(recorder.values)
    saved_inputs: dict[Node, tuple] = {}
    for node in order:
        saved = tuple(node.inputs or (None,) * len(node.edges))
        if node in captured:
            pair, out_value = captured[node]
            saved = tuple(p if s is None else s for s, p in zip(saved, pair))
            values.setdefault(node, out_value)
        saved_inputs[node] = saved
        if node.out is not None and node.prim.residual is None:  # not a residual
            values[node] = node.out
        for edge, sv in zip(node.edges, saved):
            if type(edge) is Node and sv is not None:
                values.setdefault(edge, sv)
    for o in outputs:
        if o._node is not None:
            values.setdefault(o._node, o.data)

    namer = _Namer()
    graph = Graph()
    by_leaf: dict[int, Var] = {}
    by_data: dict[int, Var] = {}
    for pname, leaf in inputs.items():
        var = Var(
            namer.claim(pname, "x"),
            "input",
            shape=leaf.shape,
            dtype=leaf.dtype,
            value=leaf.data,
            requires_grad=leaf.requires_grad,
        )
        graph._add(var)
        graph.inputs[var.name] = var
        by_leaf[id(leaf)] = var
        by_data[id(leaf.data)] = var
    # Other leaves that require grad (weights from a closure, a module's parameters).
    for leaf in leaves.values():
        if id(leaf) in by_leaf:
            continue
        wanted = recorder.leaves.get(id(leaf))
        var = Var(
            namer.claim(wanted, "p"),
            "param",
            shape=leaf.shape,
            dtype=leaf.dtype,
            value=leaf.data,
            requires_grad=True,
        )
        graph._add(var)
        graph.inputs[var.name] = var
        by_leaf[id(leaf)] = var

    # Names: explicit node.name first, then local variable names, outputs, generated.
    wanted_names: dict[Node, str] = {}
    for node in order:
        if node.name:
            wanted_names[node] = node.name
    for node, (_d, _o, local) in sorted(recorder.names.items(), key=lambda kv: kv[1][:2]):
        wanted_names.setdefault(node, local)
    for i, o in enumerate(outputs):
        if o._node is not None and o._node not in wanted_names:
            wanted_names[o._node] = out_name if len(outputs) == 1 else f"{out_name}{i}"
    claimed: dict[Node, str] = {}
    for node in order:  # wanted names are claimed before generated ones can take them
        if node in wanted_names and node.prim.name != "alias":
            claimed[node] = namer.claim(wanted_names[node], node.prim.name)

    by_node: dict[Node, Var] = {}
    n_const = 0
    for node in order:
        ins: list[Var] = []
        in_values: list[Any] = []
        for edge, sv in zip(node.edges, saved_inputs[node]):
            if type(edge) is Node:
                src = by_node[edge]
            elif edge is not None:
                src = by_leaf[id(edge)]
            elif id(sv) in by_data:
                src = by_data[id(sv)]  # an integer input (indices) that needs no gradient
            else:
                cname = recorder.constants.get(id(sv)) if sv is not None else None
                src = Var(
                    namer.claim(cname, "c") if cname else f"c{n_const}",
                    "const",
                    shape=np.shape(sv),
                    dtype=getattr(sv, "dtype", None),
                    value=sv,
                )
                if cname is None:
                    n_const += 1
                graph._add(src)
                if cname:
                    by_data[id(sv)] = src
            ins.append(src)
            in_values.append(src.value)
        if node.prim.name == "alias":
            # Transforms give each argument an identity node of their own: show the argument.
            by_node[node] = ins[0]
            continue
        value = values.get(node)
        if value is None and node.prim.vjp_all is None and all(v is not None for v in in_values):
            # Same primitive, same inputs: exactly the value the forward pass computed.
            params = node.params or {}
            value = node.prim.impl(*in_values, **params)
        if value is not None:
            value = np.asarray(value)
        var = Var(
            claimed.get(node) or namer.claim(None, node.prim.name),
            node.prim.name,
            inputs=tuple(ins),
            shape=tuple(node.shape),
            dtype=node.dtype,
            value=value,
            params=dict(node.params or {}),
            prim=node.prim,
            requires_grad=any(v.requires_grad for v in ins),
            saved_nbytes=_saved_bytes(node, in_values, value),
            scope=scopes.get(node, ()),
        )
        graph._add(var)
        by_node[node] = var
    for o in outputs:
        if o._node is not None:
            graph.outputs.append(by_node[o._node])
        elif id(o) in by_leaf:
            graph.outputs.append(by_leaf[id(o)])
        else:
            const = Var(f"c{n_const}", "const", shape=o.shape, dtype=o.dtype, value=o.data)
            n_const += 1
            graph._add(const)
            graph.outputs.append(const)
    # Constants get their names last so that user names keep priority; make them unique.
    for var in graph.nodes:
        if var.op == "const" and var.name not in namer.taken:
            var.name = namer.claim(var.name, "c")
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
        for var in self.nodes:
            var.grad = None
            if var.is_op:
                var.value = np.asarray(_run_forward(var))
        self.steps = []
        return self.value

    def backward(self, grad: Any = None) -> dict[str, Any]:
        """Send ``grad`` (default: ones, the lectures' ``grad_L = 1.0``) back from the
        output(s); every node multiplies its upstream gradient by its local gradient.

        Sets ``var.grad`` on every node, records the steps (see :meth:`explain`) and
        returns the inputs' gradients by name.
        """
        grads: dict[int, Any] = {}
        seeds = grad if isinstance(grad, (tuple, list)) else [grad] * len(self.outputs)
        if len(seeds) != len(self.outputs):
            raise ValueError(f"backward: {len(self.outputs)} outputs but {len(seeds)} seeds")
        for out, seed in zip(self.outputs, seeds):
            if seed is None:
                seed = np.ones(out.shape, dtype=out.dtype or np.float64)
            else:
                seed = np.asarray(seed.data if isinstance(seed, Tensor) else seed, dtype=out.dtype)
                if seed.shape != out.shape:
                    raise ValueError(
                        f"backward: grad has shape {seed.shape}, output "
                        f"{out.name!r} has shape {out.shape}"
                    )
            _accumulate(grads, out, seed)
        self.steps = []
        for var in self.nodes:
            var.grad = None
        for var in reversed(self.nodes):
            g = grads.pop(var.index, None)
            if g is None:
                continue
            var.grad = g
            if not var.is_op:
                continue
            step = Step(var, g, [])
            for inp, local, down in _backward_step(var, g):
                step.contributions.append((inp, local, down))
                _accumulate(grads, inp, down)
            self.steps.append(step)
        for var in self.inputs.values():
            if var.requires_grad and var.grad is None:
                var.grad = np.zeros(var.shape, dtype=var.dtype)
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


def _input_values(var: Var) -> list[Any]:
    return [v.value for v in var.inputs]


def _run_forward(var: Var) -> Any:
    prim = var.prim
    assert prim is not None
    vals = _input_values(var)
    params = var.params
    if "ctx" in params:  # a custom Function: a fresh context for the new values
        from ..function import Context

        ctx = Context(tuple(v.requires_grad for v in var.inputs))
        var.params = dict(params, ctx=ctx)
        return np.asarray(prim.impl(ctx, *vals))
    if "fn" in params and "values" in params:  # checkpoint: the inner function, re-run
        var.params = dict(params, values=list(vals))
        return prim.impl(*vals, **var.params)
    return prim.impl(*vals, **params) if params else prim.impl(*vals)


def _accumulate(grads: dict[int, Any], var: Var, g: Any) -> None:
    prev = grads.get(var.index)
    grads[var.index] = g if prev is None else prev + g


def _backward_step(var: Var, g: Any) -> list[tuple[Var, Any, Any]]:
    """Downstream gradients of one gate: its primitive's VJP rules on plain arrays."""
    prim = var.prim
    assert prim is not None
    vals = _input_values(var)
    params = var.params
    # A primitive with a residual reads its VJP's ``ans`` as that residual, which the graph
    # does not keep: it gets None and recomputes (as the engine's recorded rules do).
    ans = None if prim.residual is not None else var.value
    out: list[tuple[Var, Any, Any]] = []
    if prim.vjp_all is not None:
        needed = tuple(v.requires_grad for v in var.inputs)
        whole = prim.vjp_all(g, ans, tuple(vals), params, needed)
        for i, inp in enumerate(var.inputs):
            if needed[i] and whole[i] is not None:
                out.append((inp, None, _fit(np.asarray(whole[i]), inp, prim, i)))
        return out
    for i, inp in enumerate(var.inputs):
        if not inp.requires_grad:
            continue
        rule = prim.vjps[i]
        down = _fit(np.asarray(rule(g, ans, *vals, **params)), inp, prim, i)
        local = None
        if var.size == 1 and inp.size == 1:
            # A number: d(out)/d(input), the rule applied to an upstream gradient of 1.
            one = np.ones(var.shape, dtype=var.dtype)
            local = float(np.asarray(rule(one, ans, *vals, **params)).sum())
        out.append((inp, local, down))
    return out


def _fit(g: np.ndarray, inp: Var, prim: Primitive, i: int) -> np.ndarray:
    """Undo broadcasting and match the input's dtype, as the engine does."""
    if g.shape != inp.shape:
        g = engine.sum_to_shape(g, inp.shape, prim, i)
    if inp.dtype is not None and g.dtype != inp.dtype:
        g = g.astype(inp.dtype)
    return g
