"""``cr.vmap``: run a function written for one example over a whole batch at once, with
JAX's semantics (``in_axes``, ``out_axes``, ``axis_size``, pytrees).

How: the function is traced once per call signature, on one example, by a strict tracer
(converting a traced value to a Python bool or float raises ``ConcretizationError``, so
Python control flow cannot quietly pick one branch for the whole batch). Each equation of
that program is then batched by its primitive's rule (``chainrule.batching``), which gives a
program on the whole batch; that program is cached and run on the arguments at every call,
with chainrule operations when a gradient may be needed (so ``grad(vmap(f))`` and
``backward()`` through it just work) and on plain arrays otherwise. The first call for a
signature also checks the batched program: each rule against its primitive at the first and
last example, and the traced program against ``f`` itself at the last example.
"""

from __future__ import annotations

import contextlib
import functools
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import batching, state
from . import rules as P
from .backend import stored
from .batching import STRUCTURED, Basis, BatchContext, BatchingError, NotBatchable
from .ir.passes import dce
from .ir.program import Eqn, Literal, Program, Var, evaluate, run_on_tensors
from .ir.trace import _REPLAY, Tracer
from .pytree import TreeDef, flatten, unflatten
from .tensor import Tensor, _wrap, as_tensor
from .versions import version_of

__all__ = ["vmap"]

#: How many signatures one vmapped function keeps (least recently used ones are dropped).
CACHE_SIZE = 64


# --------------------------------------------------------------------------- the tracer


class _VmapTracer(Tracer):
    """The strict tracer of ``cr.vmap``. Besides what ``Tracer`` records, it makes every
    Tensor the function reads from outside (a weight in a closure, a tensor the engine made
    for a saved value) an input read at call time, and it follows values that leave the
    graph and come back: ``t.detach()`` and an array taken from ``t.data`` are still
    computed from the arguments (through ``stop_gradient``), never frozen as constants."""

    def __init__(self) -> None:
        super().__init__(strict="cr.vmap")
        self.captured: list[Tensor] = []
        self._by_data: dict[int, Var] = {}
        self._stopped: dict[int, Var] = {}
        self._versions: dict[int, int] = {}

    def _register(self, tensor: Tensor, v: Var) -> None:
        super()._register(tensor, v)
        self._by_data[id(tensor._data)] = v
        if isinstance(tensor._data, np.ndarray):
            self._versions[id(tensor)] = version_of(tensor._data)

    def _changed(self, t: Tensor) -> bool:
        """Was ``t``'s memory changed in place since it was traced?"""
        seen = self._versions.get(id(t))
        return seen is not None and version_of(t._data) != seen

    def _data_var(self, arr: Any) -> Var | None:
        """The Var whose value is this very array (read through ``.data``/``detach``)."""
        v = self._by_data.get(id(arr))
        if v is not None and self.program.values.get(v) is arr:
            return v
        if isinstance(arr, np.ndarray) and arr.ndim == 0:
            # detach() of a 0-d tensor swaps its NumPy scalar for a 0-d array it shares
            for t in self._alive:
                if t._data is arr:
                    return self._var_of.get(id(t))
        return None

    def _stop(self, source: Var, holder: Tensor) -> Var:
        """A ``stop_gradient`` equation reading ``source``; ``holder`` stands for it."""
        out = Var(source.shape, source.dtype)
        self.program.eqns.append(Eqn(batching.stop_gradient, (source,), out, {}, {}))
        self._register(holder, out)
        return out

    def _from_outside(self, arr: Any) -> None:
        """Refuse an array that is a view of a traced value (taken through ``.data``)."""
        base = getattr(arr, "base", None)
        while base is not None:
            if self._data_var(base) is not None:
                raise BatchingError(
                    "vmap: an array computed from a traced value outside chainrule's "
                    "operations (a view of t.data or t.numpy()) reached an operation; vmap "
                    "cannot batch it. Compute it with chainrule operations on the tensor."
                )
            base = getattr(base, "base", None)

    def var_of(self, tensor: Any) -> Var | None:
        v = super().var_of(tensor)
        if v is None and isinstance(tensor, Tensor):
            v = self._data_var(tensor._data)
        return v

    def _operand(self, a: Any) -> tuple[Var | Literal, bool]:
        if isinstance(a, Tensor):
            # The node first: a tensor changed in place (y[1] = v) keeps its identity but
            # stands for the node of its new value.
            if a._node is not None:
                v = self._node_var.get(a._node)
                if v is not None:
                    return v, True
            v = self._var_of.get(id(a))
            if v is not None:
                if self._changed(a):
                    raise BatchingError(
                        f"vmap: a traced tensor of dtype {a.dtype} was changed in place "
                        f"(outside the graph); vmap cannot follow that. Compute the new value "
                        f"instead (cr.where, cr.index_put)."
                    )
                return v, True
            source = self._data_var(a._data)
            if source is not None:  # t.detach() of a traced value
                return self._stop(source, a), True
            # read from outside the function: an input, read at every call
            self.captured.append(a)
            return self.input(a, "captured"), True
        if isinstance(a, (np.ndarray, np.generic)):
            source = self._data_var(a)
            if source is not None:  # an array taken from a traced tensor's .data
                v = self._stopped.get(id(a))
                if v is None:
                    v = self._stopped[id(a)] = self._stop(source, _wrap(a))
                return v, True
            self._from_outside(a)
        return Literal(a), False

    def applied(self, prim: Any, args: tuple, params: dict, result: Tensor) -> None:
        # (a primitive with a replay, a custom Function or checkpoint, keeps its inputs'
        # values in its params as well; the replay reads the inputs)
        if params and self._by_data and prim not in _REPLAY:
            args, params = self._traced_params(prim, args, params)
        super().applied(prim, args, params, result)

    def _traced_params(self, prim: Any, args: tuple, params: dict) -> tuple[tuple, dict]:
        """An index array taken from a traced tensor's ``.data`` becomes an input of the
        indexing primitive (a ``Slot``); any other traced array in a parameter is refused."""
        if prim.name in ("getitem", "index_add", "index_put") and "index" in params:
            index = params["index"]
            entries = index if isinstance(index, tuple) else (index,)
            fixed = 2 if prim.name == "index_put" else 1
            new_args = list(args)
            new_entries = []
            changed = False
            for p in entries:
                if isinstance(p, np.ndarray) and self._data_var(p) is not None:
                    new_args.append(p)
                    new_entries.append(P.Slot(len(new_args) - 1 - fixed))
                    changed = True
                else:
                    if isinstance(p, np.ndarray):
                        self._from_outside(p)
                    new_entries.append(p)
            if changed:
                params = dict(params)
                params["index"] = tuple(new_entries) if isinstance(index, tuple) else new_entries[0]
                return tuple(new_args), params
            return args, params
        for key, value in params.items():
            for leaf in flatten(value)[0]:
                if isinstance(leaf, np.ndarray) and (
                    self._data_var(leaf) is not None or _is_view_of(self, leaf)
                ):
                    raise BatchingError(
                        f"vmap: parameter {key!r} of {prim.name} holds an array taken from a "
                        f"traced value (through .data); vmap cannot batch it. Pass the "
                        f"tensor itself."
                    )
        return args, params


def _is_view_of(tracer: _VmapTracer, arr: np.ndarray) -> bool:
    try:
        tracer._from_outside(arr)
    except BatchingError:
        return True
    return False


@contextlib.contextmanager
def _isolated() -> Iterator[None]:
    """No observer of this thread (an outer trace: jit, vmap, a picture) sees the inside:
    vmap's own tracing and checking is not part of the computation."""
    c = state.ctx
    saved = list(c.observers)
    c.observers.clear()
    state.refresh()
    try:
        yield
    finally:
        c.observers[:] = saved
        state.refresh()


@contextlib.contextmanager
def _inside_transform() -> Iterator[None]:
    # Transforms the function calls record their derivatives (as inside cr.grad), so they
    # are part of the traced program.
    c = state.ctx
    c.depth += 1
    try:
        yield
    finally:
        c.depth -= 1


# --------------------------------------------------------------------------- arguments


def _is_axis(a: Any) -> bool:
    return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))


def _check_axes_spec(spec: Any, name: str, where: str = "") -> None:
    if spec is None or _is_axis(spec):
        return
    if isinstance(spec, (tuple, list)):
        for i, s in enumerate(spec):
            _check_axes_spec(s, name, f"{where}[{i}]")
        return
    if isinstance(spec, dict):
        for k, s in spec.items():
            _check_axes_spec(s, name, f"{where}[{k!r}]")
        return
    raise TypeError(
        f"vmap: {name}{where} must be an int, None, or a tuple, list or dict of them; got {spec!r}"
    )


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return f"a dict with keys {list(value)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        return f"an array of shape {tuple(np.shape(_data(value)))}"
    return f"a {type(value).__name__}"


def _prefix_axes(spec: Any, value: Any, name: str, path: str, out: list) -> None:
    """Broadcast the prefix tree ``spec`` of axes over ``value``'s leaves (JAX's rule: an
    int or None applies to the whole subtree below it)."""
    if spec is None or _is_axis(spec):
        out.extend([spec] * len(flatten(value)[0]))
        return
    if isinstance(spec, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(spec):
            raise ValueError(
                f"vmap: {name} for {path} is a {type(spec).__name__} of {len(spec)} entries, "
                f"but {path} is {_describe(value)}; {name} must match the structure"
            )
        for i, (s, v) in enumerate(zip(spec, value)):
            _prefix_axes(s, v, name, f"{path}[{i}]", out)
        return
    if not isinstance(value, dict) or set(value) != set(spec):
        raise ValueError(
            f"vmap: {name} for {path} is a dict with keys {list(spec)}, but {path} is "
            f"{_describe(value)}; {name} must match the structure"
        )
    for k in value:
        _prefix_axes(spec[k], value[k], name, f"{path}[{k!r}]", out)


def _leaf_paths(value: Any, path: str, out: list) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for k in value:
            _leaf_paths(value[k], f"{path}[{k!r}]", out)
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            _leaf_paths(v, f"{path}[{i}]", out)
    else:
        out.append(path)


def _arg_axes(in_axes: Any, args: tuple, kwargs: dict) -> tuple[list, list[str]]:
    """One axis (or None) and one name per leaf of ``(args, kwargs)``, in flatten order.
    Keyword arguments are mapped over their first axis (JAX's rule)."""
    if in_axes is None or _is_axis(in_axes):
        specs = [in_axes] * len(args)
    elif isinstance(in_axes, (tuple, list)):
        if len(in_axes) != len(args):
            raise ValueError(
                f"vmap: in_axes has {len(in_axes)} entries, but the function was called with "
                f"{len(args)} positional argument(s); give one entry per argument"
            )
        specs = list(in_axes)
    else:  # a dict: the structure of the one positional argument
        if len(args) != 1:
            raise ValueError(
                f"vmap: in_axes is a dict, which describes one argument, but the function was "
                f"called with {len(args)} positional arguments; use a tuple with one entry "
                f"per argument"
            )
        specs = [in_axes]
    axes: list = []
    paths: list[str] = []
    for i, (s, a) in enumerate(zip(specs, args)):
        _prefix_axes(s, a, "in_axes", f"argument {i}", axes)
        _leaf_paths(a, f"argument {i}", paths)
    for k, v in kwargs.items():
        leaves = flatten(v)[0]
        axes.extend(0 if _is_array(leaf) else None for leaf in leaves)
        _leaf_paths(v, f"keyword argument {k!r}", paths)
    return axes, paths


def _is_array(x: Any) -> bool:
    return isinstance(x, (Tensor, np.ndarray, np.generic))


def _data(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _leaf_key(x: Any) -> Any:
    t = type(x)
    if t is Tensor:
        d = x._data
        return (0, d.shape, d.dtype)
    if t is np.ndarray or isinstance(x, (np.ndarray, np.generic)):
        return (0, x.shape, x.dtype)
    if isinstance(x, Tensor):
        return (0, x._data.shape, x._data.dtype)
    if t is Basis:
        return (3, x.shape, x.dtype)
    try:
        hash(x)
    except TypeError:
        return (2, id(x))
    return (1, t, x)


def _walk(x: Any, leaves: list) -> Any:
    """The cache key of one argument, appending its leaves in ``pytree.flatten``'s order
    (one pass, and a key of plain tuples that hashes fast: this runs at every call)."""
    t = type(x)
    if t is Tensor:
        leaves.append(x)
        d = x._data
        return (d.shape, d.dtype)
    if t is np.ndarray:
        leaves.append(x)
        return (x.shape, x.dtype)
    if t is tuple or t is list:
        return (t, tuple([_walk(v, leaves) for v in x]))
    if t is dict:
        return (dict, tuple(x), tuple([_walk(x[k], leaves) for k in x]))
    if x is None:
        return None
    # subclasses, in pytree's order: dicts, then tuples (namedtuples too), then lists
    if isinstance(x, dict):
        return (t, tuple(x), tuple([_walk(x[k], leaves) for k in x]))
    if isinstance(x, (tuple, list)):
        return (t, tuple([_walk(v, leaves) for v in x]))
    leaves.append(x)
    return _leaf_key(x)


# --------------------------------------------------------------------------- the batched program


def _simplify(program: Program) -> Program:
    """Peephole clean-up of a batched program: a reshape of a reshape is one reshape, a
    reshape to the same shape and an ``alias`` (an identity the inner transforms used to
    name their variables) are the value itself. Then dead code goes."""
    subst: dict[Var, Any] = {}
    source: dict[Var, tuple] = {}  # reshape output -> (its first source, that one's shape)
    eqns = []
    for e in program.eqns:
        ins = tuple(subst.get(v, v) if isinstance(v, Var) else v for v in e.inputs)
        if e.prim is P.alias and isinstance(ins[0], Var):
            subst[e.out] = ins[0]
            continue
        if e.prim is P.reshape and isinstance(ins[0], Var):
            x = ins[0]
            src, src_shape = source.get(x, (x, tuple(x.shape)))
            if tuple(e.out.shape) == src_shape:
                subst[e.out] = src
                continue
            e = Eqn(P.reshape, (src,), e.out, {"shape": e.out.shape, "in_shape": src_shape})
            source[e.out] = (src, src_shape)
        elif ins != e.inputs:
            e = Eqn(e.prim, ins, e.out, e.params, e.meta)
        eqns.append(e)
    out = Program()
    out.inputs = list(program.inputs)
    out.roles = dict(program.roles)
    out.eqns = eqns
    out.outputs = [subst.get(o, o) if isinstance(o, Var) else o for o in program.outputs]
    out.constants = dict(program.constants)
    return dce(out)


class _Runner:
    """A batched program laid out for running on arrays with little overhead per equation
    (values in a list, inputs as positions)."""

    __slots__ = ("steps", "outs")

    def __init__(self, program: Program) -> None:
        slot: dict[Var, int] = {v: i for i, v in enumerate(program.inputs)}
        steps = []
        for e in program.eqns:
            ins = tuple(slot[v] if isinstance(v, Var) else v for v in e.inputs)
            call = e.meta.get("call")
            if call is not None:
                fn = functools.partial(_replay_on_arrays, call, e.params)
                params: dict = {}
            else:
                fn, params = e.prim.impl, e.params
            steps.append((fn, ins, params))
            slot[e.out] = len(slot)
        self.steps = steps
        self.outs = tuple(slot[o] if isinstance(o, Var) else o for o in program.outputs)

    def __call__(self, arrays: list) -> list:
        env = arrays
        append = env.append
        for fn, ins, params in self.steps:
            args = [env[i] if type(i) is int else i.value for i in ins]
            append(fn(*args, **params) if params else fn(*args))
        return [env[i] if type(i) is int else i.value for i in self.outs]


def _replay_on_arrays(call: Callable, params: dict, *args: Any) -> Any:
    return call(list(args), params, tensors=False)


# --------------------------------------------------------------------------- the cache entry


class _Entry:
    """What one call signature needs: the batched program and how to feed it."""

    __slots__ = ("program", "runner", "bp_leaves", "captured", "out_def", "keep", "size")

    def __init__(self, program, bp_leaves, captured, out_def, keep, size) -> None:
        self.program = program
        self.runner = _Runner(program)
        self.bp_leaves = bp_leaves
        self.captured = captured
        self.out_def = out_def
        self.keep = keep  # static arguments named by id in the key: kept alive
        self.size = size


def _result(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return _wrap(stored(value))
    if isinstance(value, np.generic):
        return _wrap(value)
    return as_tensor(value)


# --------------------------------------------------------------------------- vmap


class _Vmapped:
    """``f`` batched (see ``vmap``): a callable with a cache of batched programs."""

    def __init__(self, fn: Callable, in_axes: Any, out_axes: Any, axis_size: int | None):
        self.fn = fn
        self.in_axes = in_axes
        self.out_axes = out_axes
        self.axis_size = axis_size
        self._cache: OrderedDict = OrderedDict()
        self.hits = self.misses = 0
        functools.update_wrapper(self, fn, updated=())

    def __repr__(self) -> str:
        return f"<vmap of {getattr(self.fn, '__name__', self.fn)!r}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        leaves: list = []
        key = (_walk(args, leaves), _walk(kwargs, leaves) if kwargs else None)
        entry = self._cache.get(key)
        if entry is None:
            self.misses += 1
            leaves, treedef = flatten((args, kwargs))
            entry = self._build(args, kwargs, leaves, treedef)
            self._cache[key] = entry
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self.hits += 1
            self._cache.move_to_end(key)
        self._last = entry
        return self._run(entry, leaves)

    def _cache_info(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "size": len(self._cache)}

    # ------------------------------------------------------------------ running
    def _run(self, entry: _Entry, leaves: list) -> Any:
        program = entry.program
        if _recording(leaves, entry):
            tensors = [leaves[j] for j in entry.bp_leaves]
            tensors = [x if isinstance(x, Tensor) else _wrap(x) for x in tensors]
            tensors.extend(entry.captured)
            env = run_on_tensors(program, tensors)
            outs = [env[o] if isinstance(o, Var) else o.value for o in program.outputs]
        else:
            arrays = [_data(leaves[j]) for j in entry.bp_leaves]
            arrays.extend([t._data for t in entry.captured])
            outs = entry.runner(arrays)
        return unflatten(entry.out_def, [_result(o) for o in outs])

    # ------------------------------------------------------------------ building
    def _build(self, args: tuple, kwargs: dict, leaves: list, treedef: TreeDef) -> _Entry:
        axes, paths = _arg_axes(self.in_axes, args, kwargs)
        kinds, axes = _classify(leaves, axes, paths)
        size = _batch_size(leaves, axes, kinds, paths, self.axis_size)
        program, tracer, out_tree = self._trace(leaves, treedef, axes, kinds)
        out_leaves, out_def = flatten(out_tree)
        out_axes = _out_axes(self.out_axes, out_tree, len(out_leaves))
        batched, bp_leaves = _batch_program(program, leaves, axes, kinds, size, out_axes, out_def)
        if size > 1:
            _check_against_f(self.fn, program, leaves, treedef, axes, kinds, size - 1)
        keep = [x for x in leaves if _leaf_key(x)[0] == 2]
        return _Entry(batched, bp_leaves, list(tracer.captured), out_def, keep, size)

    def _trace(self, leaves, treedef, axes, kinds) -> tuple[Program, _VmapTracer, Any]:
        """Trace ``f`` on the first example (a strict trace; arguments are fresh leaves)."""
        tracer = _VmapTracer()
        example = []
        for x, axis, kind in zip(leaves, axes, kinds):
            if kind == "static":
                example.append(x)
                continue
            if kind == "basis":
                arr = x.example(0)
            elif axis is None:
                arr = np.array(_data(x), copy=True)
            else:
                arr = np.array(np.take(_data(x), 0, axis=axis), copy=True)
            t = Tensor(arr)
            if t.dtype.kind in "fc":
                t.requires_grad = True  # so transforms inside f record their derivatives
            tracer.input(t, "arg")
            example.append(t)
        ex_args, ex_kwargs = unflatten(treedef, example)
        with _isolated(), _inside_transform():
            with tracer.active():
                out = self.fn(*ex_args, **ex_kwargs)
            out_leaves, out_def = flatten(out)
            outputs = []
            for k, o in enumerate(out_leaves):
                if not isinstance(o, (Tensor, np.ndarray, np.generic, int, float, complex)):
                    raise TypeError(
                        f"vmap: the function must return Tensors (or tuples, lists and dicts "
                        f"of them); output {k} is a {type(o).__name__}"
                    )
                outputs.append(tracer.output(o))
        program = tracer.program
        program.outputs = outputs
        program = dce(program)
        for e in program.eqns:
            if e.prim.name.startswith("not_differentiable("):
                raise BatchingError(
                    "vmap: the function differentiates through a custom Function whose "
                    "backward computes with arrays (once_differentiable, or an array "
                    "returned); its result is a constant vmap cannot batch. Write the "
                    "backward with chainrule operations."
                )
        return program, tracer, out


def _classify(leaves: list, axes: list, paths: list) -> tuple[list, list]:
    kinds, norm = [], []
    for x, axis, path in zip(leaves, axes, paths):
        if isinstance(x, Basis):
            kinds.append("basis")
            norm.append(0)
            continue
        if not _is_array(x):
            if axis is not None:
                raise ValueError(
                    f"vmap: in_axes maps {path}, a {type(x).__name__}, over axis {axis}: only "
                    f"arrays and tensors have axes to map (use in_axes=None for it)"
                )
            kinds.append("static")
            norm.append(None)
            continue
        kinds.append("array")
        if axis is None:
            norm.append(None)
            continue
        shape = np.shape(_data(x))
        nd = len(shape)
        if not -nd <= axis < nd:
            raise ValueError(
                f"vmap: in_axes {axis} is out of range for {path} of shape {tuple(shape)}"
                + (
                    " (a 0-d value has no axis to map; use in_axes=None for it)"
                    if nd == 0
                    else f" ({nd} axes: use {-nd} to {nd - 1})"
                )
            )
        norm.append(int(axis) % nd)
    return kinds, norm


def _batch_size(leaves, axes, kinds, paths, axis_size) -> int:
    sizes = []
    for x, axis, kind, path in zip(leaves, axes, kinds, paths):
        if kind == "basis":
            sizes.append((x.size, f"{path} (a basis of {x.size})"))
        elif axis is not None:
            sizes.append((np.shape(_data(x))[axis], f"{path} has size {{}} along axis {axis}"))
    if not sizes:
        if axis_size is None:
            raise ValueError(
                "vmap: no argument is mapped (in_axes is None for every one); give axis_size "
                "to say how many copies of the result to make"
            )
        return axis_size
    distinct = {s for s, _ in sizes}
    if len(distinct) > 1:
        seen, parts = set(), []
        for s, text in sizes:
            if s not in seen:
                seen.add(s)
                parts.append(text.format(s))
        raise ValueError("vmap: the mapped axes have different sizes: " + ", ".join(parts))
    size = sizes[0][0]
    if axis_size is not None and axis_size != size:
        raise ValueError(
            f"vmap: axis_size is {axis_size}, but {sizes[0][1].format(size)}; they must agree"
        )
    if size == 0:
        raise ValueError(
            f"vmap: the mapped axis is empty ({sizes[0][1].format(0)}); vmap needs at least "
            f"one example"
        )
    return size


def _out_axes(out_axes: Any, out_tree: Any, n: int) -> list:
    _check_axes_spec(out_axes, "out_axes")
    if out_axes is None or _is_axis(out_axes):
        return [out_axes] * n
    axes: list = []
    _prefix_axes(out_axes, out_tree, "out_axes", "the output", axes)
    return axes


def _recording(leaves: list, entry: _Entry) -> bool:
    """Run with chainrule operations (recording) rather than on arrays?"""
    c = state.ctx
    if c.observers:
        return True  # a trace (jit, an outer vmap, a picture) must see the operations
    if not c.grad_enabled:
        return False
    for j in entry.bp_leaves:
        x = leaves[j]
        if isinstance(x, Tensor) and x._rg:
            return True
    return any(t._rg for t in entry.captured)


# --------------------------------------------------------------------------- batching a program


def _batch_program(
    program: Program,
    leaves: list,
    axes: list,
    kinds: list,
    size: int,
    out_axes: list,
    out_def: TreeDef,
) -> tuple[Program, list[int]]:
    """The batched program (traced: each equation run through its batching rule on the
    actual batch) and which argument leaves feed its inputs."""
    tracer = Tracer()
    env: dict[Var, Any] = {}
    bat: dict[Var, bool] = {}
    bp_leaves: list[int] = []
    arg_vars = [v for v in program.inputs if program.roles.get(v) == "arg"]
    leaf_of = [j for j, k in enumerate(kinds) if k != "static"]
    for v, value in program.constants.items():  # a gradient's seed: unbatched constants
        env[v], bat[v] = value, False
    with _isolated():
        with tracer.active():
            for v, j in zip(arg_vars, leaf_of):
                x, axis, kind = leaves[j], axes[j], kinds[j]
                if kind == "basis":
                    env[v], bat[v] = Basis(x.shape, x.dtype), True
                    continue
                t = _wrap(_data(x))
                tracer.input(t, "arg")
                bp_leaves.append(j)
                if axis is None:
                    env[v], bat[v] = t, False
                else:
                    env[v], bat[v] = batching.to_front(t, axis, np.ndim(_data(x))), True
            for v in program.inputs:
                if program.roles.get(v) == "captured":
                    t = _wrap(program.values[v])
                    tracer.input(t, "captured")
                    env[v], bat[v] = t, False
            for e in program.eqns:
                vals, flags = [], []
                for v in e.inputs:
                    if isinstance(v, Literal):
                        vals.append(v.value)
                        flags.append(False)
                    else:
                        vals.append(env[v])
                        flags.append(bat[v])
                if any(flags):
                    env[e.out] = _batch_eqn(e, vals, flags, size)
                    bat[e.out] = True
                else:
                    env[e.out] = _call(e, vals, tensors=True)
                    bat[e.out] = False
            outputs = []
            paths: list[str] = []
            _leaf_paths(unflatten(out_def, [0] * out_def.num_leaves), "output", paths)
            for o, axis, path in zip(program.outputs, out_axes, paths):
                outputs.append(_output(o, env, bat, axis, size, path))
    batched = tracer.program
    batched.outputs = [tracer.output(o) for o in outputs]
    return _simplify(batched), bp_leaves


def _output(o: Any, env: dict, bat: dict, axis: Any, size: int, path: str) -> Any:
    if isinstance(o, Literal):
        value, b, shape = o.value, False, tuple(np.shape(o.value))
    else:
        value, b, shape = env[o], bat[o], o.shape
    value = batching.dense(value)
    nd = len(shape) + 1
    if axis is None:
        if b:
            raise ValueError(
                f"vmap: out_axes is None for {path}, but it depends on the mapped arguments "
                f"(one example has shape {shape}); give it an axis to stack the batch along"
            )
        return value
    if not -nd <= axis < nd:
        raise ValueError(
            f"vmap: out_axes {axis} is out of range for {path}: with the batch axis it has "
            f"{nd} axes (one example has shape {shape})"
        )
    if not b:
        value = batching.broadcast_batch(value, size, shape)
    return batching.from_front(value, int(axis) % nd, nd)


def _call(e: Eqn, vals: Sequence[Any], tensors: bool) -> Any:
    special = e.meta.get("call")
    if special is not None:
        return special(list(vals), e.params, tensors=tensors)
    return e.prim(*vals, **e.params)


def _raw(x: Any) -> Any:
    """The plain array of a value of the batching interpreter (no operation recorded)."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, Basis):
        return x.dense()
    if isinstance(x, batching.Scaled):
        return np.multiply(_raw(x.base), _raw(x.factor)).astype(x.dtype, copy=False)
    return x


def _batch_eqn(e: Eqn, vals: list, flags: list, size: int) -> Any:
    prim = e.prim
    shapes = tuple(tuple(v.shape) for v in e.inputs)
    ctx = BatchContext(prim, size, shapes, e.out.shape, e.out.dtype)
    structured = any(isinstance(v, STRUCTURED) for v in vals)
    if structured or (prim.name in batching.LAZY and flags.count(True) == 1):
        rule = batching.structured_rule(prim.name)
        if rule is not None and e.meta.get("call") is None:
            try:
                out = rule(ctx, vals, flags, **e.params)
            except batching.NotStructured:
                out = None
            if out is not None:
                if not isinstance(out, STRUCTURED) and out.dtype != ctx.out_dtype:
                    out = P.astype(out, dtype=ctx.out_dtype)
                if _agrees(e, vals, flags, out, ctx):
                    return out
        if structured:
            vals = [batching.dense(v) for v in vals]
    rule = batching.rule_for(prim) if e.meta.get("call") is None else None
    if rule is None:
        batching.warn_fallback(prim.name, "none registered")
        return _loop(e, vals, flags, size)
    try:
        out = rule(ctx, vals, flags, **e.params)
    except BatchingError:
        raise
    except NotBatchable as err:
        batching.warn_fallback(prim.name, str(err))
        return _loop(e, vals, flags, size)
    except Exception as err:  # a rule that cannot handle this case: the loop still can
        batching.warn_fallback(prim.name, f"its rule failed: {type(err).__name__}: {err}")
        return _loop(e, vals, flags, size)
    if not _agrees(e, vals, flags, out, ctx):
        batching.warn_fallback(
            prim.name, "its rule disagreed with the primitive on one example; please report"
        )
        return _loop(e, vals, flags, size)
    return out


def _loop(e: Eqn, vals: list, flags: list, size: int) -> Any:
    """The primitive once per example, stacked: always right, not fast."""
    from .ops import getitem, stack

    outs = []
    for k in range(size):
        args = [getitem(v, k) if b else v for v, b in zip(vals, flags)]
        outs.append(_call(e, args, tensors=True))
    return stack(outs)


#: Relative tolerances for the checks of a batched program against one example.
_RULE_RTOL = {"f": (1e-3, 1e-7), "c": (1e-3, 1e-7)}


def _close(got: Any, want: Any, dtype: Any, loose: float, tight: float) -> bool:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return False
    if dtype.kind not in "fc":
        return bool(np.array_equal(got, want))
    rtol = tight if np.dtype(dtype).itemsize >= (16 if dtype.kind == "c" else 8) else loose
    finite = np.isfinite(want)
    scale = float(np.max(np.abs(want[finite]), initial=0.0)) if finite.any() else 0.0
    with np.errstate(invalid="ignore"):
        return bool(np.allclose(got, want, rtol=rtol, atol=rtol * scale + 1e-30, equal_nan=True))


def _agrees(e: Eqn, vals: list, flags: list, out: Any, ctx: BatchContext) -> bool:
    """The rule's batch, at the first and the last example, equals the primitive applied
    to those examples (shape and dtype exactly, values to rounding)."""
    got = _raw(out)
    if tuple(np.shape(got)) != ctx.out_batched or np.result_type(got) != ctx.out_dtype:
        return False
    raw = [_raw(v) for v in vals]
    for k in sorted({0, ctx.size - 1}):
        args = [r[k] if b else r for r, b in zip(raw, flags)]
        with np.errstate(all="ignore"):
            want = _call(e, args, tensors=False)
        if not _close(got[k], want, ctx.out_dtype, 1e-3, 1e-7):
            return False
    return True


def _check_against_f(fn, program, leaves, treedef, axes, kinds, k: int) -> None:
    """The traced program and ``fn`` itself agree at example ``k``: otherwise ``fn`` reads
    something the program cannot see (a value taken through ``.data``, random numbers,
    Python state), and the batched result would be wrong for every example but the first."""
    inputs, example = [], []
    for x, axis, kind in zip(leaves, axes, kinds):
        if kind == "static":
            example.append(x)
            continue
        if kind == "basis":
            arr = x.example(k)
        elif axis is None:
            arr = _data(x)
        else:
            arr = np.take(_data(x), k, axis=axis)
        inputs.append(arr)
        example.append(_wrap(stored(np.array(arr, copy=True))))  # a Tensor, as in the trace
    inputs.extend(program.values[v] for v in program.inputs if program.roles.get(v) == "captured")
    with np.errstate(all="ignore"):
        try:
            want = evaluate(program, inputs)
        except Exception as err:
            raise BatchingError(
                f"vmap: the program traced at the first example fails at example {k} "
                f"({type(err).__name__}: {err}); the function depends on its inputs in a way "
                f"the trace cannot follow"
            ) from err
        ex_args, ex_kwargs = unflatten(treedef, example)
        with _isolated():
            got = flatten(fn(*ex_args, **ex_kwargs))[0]
    if len(got) != len(want):
        raise BatchingError(
            f"vmap: the function returned {len(got)} arrays at example {k} but {len(want)} at "
            f"example 0"
        )
    for i, (g, w) in enumerate(zip(got, want)):
        g = _data(g)
        dtype = np.result_type(w)
        if not _close(g, w, dtype, 1e-4, 1e-9):
            raise BatchingError(
                f"vmap: the function's result at example {k} (output {i}) differs from what "
                f"its program traced at example 0 computes there, so the batch would be wrong. "
                f"The function depends on something vmap cannot see: a value read through "
                f".data or .numpy() (or an array computed from one), random numbers drawn "
                f"inside it (draw them outside and pass them in mapped), or Python state that "
                f"changes between calls. Compute it with chainrule operations (cr.where(x > 0, "
                f"a, b) rather than a mask from x.data)."
            )


def vmap(
    f: Callable,
    in_axes: Any = 0,
    out_axes: Any = 0,
    axis_size: int | None = None,
) -> Callable:
    """Vectorize ``f`` over a batch axis: ``vmap(f)(X)`` is ``stack([f(x) for x in X])``,
    computed with batched operations instead of a Python loop (JAX's semantics).

    Parameters
    ----------
    f:
        A function of tensors (or tuples, lists and dicts of them) returning the same kind
        of structure, written for one example. It may use every transform inside
        (``vmap(grad(loss))`` gives per-example gradients).
    in_axes:
        For each positional argument, the axis to map over (negative counts from the end)
        or None to pass it whole to every example: an int or None for all of them, or a
        tuple/list with one entry per argument, whose entries may be trees matching the
        argument's structure (a dict for a dict of parameters). Keyword arguments are mapped
        over axis 0. Python numbers and other non-arrays must have None.
    out_axes:
        Where the batch axis goes in each output (a tree prefix of the outputs, like
        ``in_axes``); None for an output that does not depend on the mapped arguments.
    axis_size:
        The batch size, needed only when no argument is mapped.

    Returns
    -------
    The batched function. It traces ``f`` once per call signature (shapes, dtypes, static
    values) on one example and caches the batched program, so ``f`` must be a pure
    function of its arguments and the tensors it reads (those are read at every call):
    converting a traced value to a Python bool or float raises ``ConcretizationError``
    (use ``cr.where``); random numbers drawn inside ``f`` are refused (pass them in).
    Results record when a gradient may be needed, so ``grad(vmap(f))`` and ``backward()``
    through the result work.

    Examples
    --------
    >>> import chainrule as cr
    >>> import numpy as np
    >>> X = cr.tensor(np.arange(6.0).reshape(3, 2))
    >>> cr.vmap(lambda x: (x * x).sum())(X)
    tensor([ 1., 13., 41.])
    >>> loss = lambda w, x: 0.5 * (w * x).sum() ** 2
    >>> per_example_grads = cr.vmap(cr.grad(loss), in_axes=(None, 0))
    >>> per_example_grads(cr.tensor([1.0, 2.0]), X)
    tensor([[ 0.,  2.],
            [16., 24.],
            [56., 70.]])
    """
    if not callable(f):
        raise TypeError(f"vmap: f must be callable, got {type(f).__name__}")
    _check_axes_spec(in_axes, "in_axes")
    _check_axes_spec(out_axes, "out_axes")
    if axis_size is not None and (not _is_axis(axis_size) or axis_size < 1):
        raise ValueError(f"vmap: axis_size must be a positive int, got {axis_size!r}")
    return _Vmapped(f, in_axes, out_axes, axis_size)
