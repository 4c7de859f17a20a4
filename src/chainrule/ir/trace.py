"""Tracing: run a function once on Tensors and record every primitive it applies.

A ``Tracer`` is an observer of this thread's primitive applications (see
``tensor._notify_applied``): each application whose inputs include a traced value becomes
an equation, recorded or not by the autodiff graph, so a comparison computed from an input
is part of the program. Inside a recorded backward pass (``cr.grad`` of a traced function)
the engine also tells the tracer which forward value each backward equation belongs to and
where gradients add up at forks, so views can name the gradient program ``dq``, ``dx += ...``
as the lectures do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import state, versions
from ..engine import Node
from ..tensor import Tensor, _wrap, copy_of, enable_grad
from .program import Eqn, Literal, Program, Var

__all__ = ["Tracer", "register_replay", "trace_program"]


class Tracer:
    """Builds a ``Program`` from the applications it observes (install with ``active``).

    Examples
    --------
    >>> import chainrule as cr
    >>> tracer = Tracer()
    >>> x = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> _ = tracer.input(x)
    >>> with tracer.active():
    ...     y = cr.where(x > 0, x, 0.0)
    >>> [e.prim.name for e in tracer.program.eqns]
    ['greater', 'where']

    ``strict`` (the name of the transform, e.g. ``"cr.jit"``) makes turning a traced value
    into a Python value (``bool(t)``, ``t.item()``) raise ``ConcretizationError``: the
    program would hold that one value for every input. ``capture`` makes every other
    Tensor an operation reads (a Module's buffer) an input too, read at each call.
    """

    def __init__(self, strict: str | None = None, capture: bool = False) -> None:
        self.strict = strict
        #: Tensors read from outside (a Module's buffers, a constant in a closure) are
        #: inputs read at every call (cr.jit), not constants holding their traced value.
        self.capture = capture
        #: NumPy arrays the traced function reads by name from outside its arguments (a
        #: global, a closure variable: see _jit_outside): id -> array. An operation reading
        #: one reads an input of the program (read at every call), not a constant.
        self.outside: dict[int, np.ndarray] = {}
        self._outside_vars: dict[int, Var] = {}
        self.program = Program()
        self._var_of: dict[int, Var] = {}
        #: id(a traced value's ndarray) -> its Var: a Tensor around that very array
        #: (``t.detach()``) is read as that value, with no gradient (``stop_gradient``).
        self._var_of_array: dict[int, Var] = {}
        self._arrays: list[Any] = []  # keeps those arrays alive, so their ids stay unique
        self._alive: list[Any] = []  # keeps traced tensors alive, so ids stay unique
        self._node_var: dict[Node, Var] = {}
        self._current: Var | None = None  # the forward value whose VJP is being computed
        self._accumulating: Var | None = None
        #: Backward bookkeeping for views: forward Var -> [(eqn index, downstream Var, the
        #: forward Var whose VJP made it)], in the order the walk made them.
        self.contributions: dict[Var, list[tuple[int, Var | Literal, Var | None]]] = {}
        #: forward Var -> the Var holding the total gradient reaching it (its upstream).
        self.upstream: dict[Var, Var | Literal] = {}
        #: Vars of the gradient program's seeds (the root's upstream gradient).
        self.seeds: dict[Var, Var] = {}
        #: Generators traced random draws read: id -> (generator, its state before them).
        self.rngs: dict[int, tuple[Any, Any]] = {}
        #: The Modules whose forward ran while tracing (id -> module), in call order.
        self.modules: dict[int, Any] = {}
        #: Inputs changed in place while tracing: id(tensor) -> (tensor, its input Var, a
        #: copy of the value it had), in the order of their first change.
        self.written: dict[int, tuple[Tensor, Var, np.ndarray]] = {}
        self.written_with_grad: dict[int, bool] = {}  # was grad mode on at the first change

    # ------------------------------------------------------------------ inputs
    def input(self, tensor: Tensor, role: str = "arg", hint: str | None = None) -> Var:
        """Register ``tensor`` as an input of the program."""
        v = Var(tensor.shape, tensor.dtype, hint)
        self.program.inputs.append(v)
        self.program.roles[v] = role
        self._register(tensor, v)
        return v

    def _register(self, tensor: Tensor, v: Var) -> None:
        self._var_of[id(tensor)] = v
        self._alive.append(tensor)
        data = tensor._data
        self.program.values[v] = data
        if type(data) is np.ndarray:
            self._var_of_array[id(data)] = v
            self._arrays.append(data)
        if tensor._node is not None:
            self._node_var.setdefault(tensor._node, v)

    def var_of(self, tensor: Any) -> Var | None:
        """The Var of a traced Tensor (None for constants)."""
        if not isinstance(tensor, Tensor):
            return None
        return self._var_of.get(id(tensor))

    def rebind(self, tensor: Tensor, value: Any) -> None:
        """``tensor`` was changed in place to ``value``'s value (``Tensor._inplace``): it
        stands for ``value``'s Var from now on, or for a constant if that is not traced."""
        v = self.var_of(value) if isinstance(value, Tensor) else None
        if v is None and isinstance(value, Tensor) and value._node is not None:
            v = self._node_var.get(value._node)
        data = tensor._data
        if v is None:
            self._var_of.pop(id(tensor), None)
            self._var_of_array.pop(id(data), None)
            return
        self._var_of[id(tensor)] = v
        self._alive.append(tensor)
        if type(data) is np.ndarray:  # the memory holds the new value now
            self._var_of_array[id(data)] = v
            self._arrays.append(data)

    def note_rng(self, gen: Any) -> None:
        """A traced random draw reads ``gen``: its state before the first one is kept."""
        self.rngs.setdefault(id(gen), (gen, gen.bit_generator.state))

    def note_module(self, module: Any) -> None:
        """A Module's forward runs (``Module.__call__``)."""
        self.modules.setdefault(id(module), module)

    def before_write(self, tensor: Tensor) -> None:
        """``tensor``'s memory is about to be changed in place (``Tensor._write``): if it is
        an input of the program (an argument, or a parameter, made one now if nothing read
        it yet), keep the value it had, so the caller can restore and replay the change
        (a capturing tracer's: cr.jit writes the final values back at every call)."""
        if not self.capture or id(tensor) in self.written:
            return
        v = self._var_of.get(id(tensor))
        if v is None and tensor._rg and tensor._node is None:
            v = self.input(tensor, "param")
        if v is not None and self.program.roles.get(v) in ("arg", "param"):
            self.written[id(tensor)] = (tensor, v, np.array(tensor._data, copy=True))
            self.written_with_grad[id(tensor)] = state.ctx.grad_enabled

    def name_gradient(self, alias: Tensor, grad: Tensor) -> None:
        """Name the Var of ``grad`` after the input ``alias`` stands for (``d`` + its
        name), unless it has a name or is an input itself."""
        va, vg = self.var_of(alias), self.var_of(grad)
        if va is None or vg is None or vg.hint is not None or vg in self.program.roles:
            return
        hint = va.hint
        if hint is None:  # the alias of an input: the hint is on what it aliases
            for e in self.program.eqns:  # aliases are made first: a short search
                if e.out is va:
                    src = e.inputs[0] if e.inputs else None
                    hint = getattr(src, "hint", None)
                    break
        if hint:
            vg.hint = "d" + hint

    def _operand(self, a: Any) -> tuple[Var | Literal, bool]:
        if isinstance(a, Tensor):
            v = self._var_of.get(id(a))
            if v is not None:
                return v, True
            if a._node is not None:
                # a saved value handed to a recorded rule: a new Tensor for a traced node
                v = self._node_var.get(a._node)
                if v is not None:
                    return v, True
            if a._rg and a._node is None:
                # a leaf that requires grad, read from outside (a weight in a closure)
                return self.input(a, "param"), True
            source = self._var_of_array.get(id(a._data))
            if source is not None and isinstance(source.shape, tuple):
                return self._detached(a, source), True
            if self.capture and isinstance(a._data, (np.ndarray, np.generic)):
                return self.input(a, "param"), True
            return Literal(a._data), False
        if type(a) is np.ndarray and id(a) in self.outside:
            return self._outside_input(a), True
        return Literal(a), False

    def _outside_input(self, array: np.ndarray) -> Var:
        """The input of the program that stands for ``array``, read from outside (a
        Tensor around that very memory, which its owner may change in place)."""
        v = self._outside_vars.get(id(array))
        if v is None:
            versions.adopt(array)  # (its owner holds this memory: see versions.note_saved)
            v = self._outside_vars[id(array)] = self.input(_wrap(array), "param")
        return v

    def _detached(self, holder: Tensor, source: Var) -> Var:
        """``holder`` shares a traced value's memory (``t.detach()``): it is that value
        with no gradient, a ``stop_gradient`` equation the program computes at every call."""
        from ..batching import stop_gradient

        out = Var(source.shape, source.dtype)
        self.program.eqns.append(Eqn(stop_gradient, (source,), out, {}, {}))
        self._register(holder, out)
        return out

    # ------------------------------------------------------------------ observing
    def applied(self, prim: Any, args: tuple, params: dict, result: Tensor) -> None:
        """One primitive application (called by the core for every one while active)."""
        ins = []
        traced = False
        for a in args:
            v, is_traced = self._operand(a)
            ins.append(v)
            traced = traced or is_traced
        if not traced:
            return  # computed from constants only: its result is a constant too
        out = Var(result.shape, result.dtype)
        meta: dict = {}
        if self._current is not None:
            meta["vjp_of"] = self._current
        if self._accumulating is not None:
            meta["accumulates"] = self._accumulating
            self._accumulating = None
        call = _REPLAY.get(prim)
        if call is not None:
            meta["call"] = call
        self.program.eqns.append(Eqn(prim, tuple(ins), out, dict(params), meta))
        self._register(result, out)

    # The engine's recorded backward walk reports its steps here (see engine._walk).
    def walk_node(self, node: Node, g: Any) -> None:
        fv = self._node_var.get(node)
        self._current = fv
        if fv is None:
            return
        gv = self._lookup(g)
        if gv is None:
            # the seed of the walk (ones): a named constant of the gradient program
            value = g._data if isinstance(g, Tensor) else g
            gv = Var(np.shape(value), np.asarray(value).dtype)
            self.program.constants[gv] = value
            self.program.values[gv] = value
            if isinstance(g, Tensor):
                self._register(g, gv)
            self.seeds[fv] = gv
        self.upstream[fv] = gv
        if isinstance(gv, Var) and gv.grad_of is None and gv not in self.program.roles:
            gv.grad_of = fv

    def walk_grad(self, node: Node, i: int, edge: Any, gi: Any) -> None:
        target = self._target(edge)
        if target is None:
            return
        gv = self._lookup(gi)
        self.contributions.setdefault(target, []).append(
            (
                len(self.program.eqns),
                gv if gv is not None else Literal(getattr(gi, "_data", gi)),
                self._current,
            )
        )

    def _lookup(self, t: Any) -> Var | None:
        if not isinstance(t, Tensor):
            return None
        v = self._var_of.get(id(t))
        if v is None and t._node is not None:
            v = self._node_var.get(t._node)
        return v

    def walk_accumulate(self, edge: Any) -> None:
        self._accumulating = self._target(edge)

    def _target(self, edge: Any) -> Var | None:
        if type(edge) is Node:
            return self._node_var.get(edge)
        return self._var_of.get(id(edge))

    def output(self, value: Any) -> Var | Literal:
        v, _ = self._operand(value)
        return v

    # ------------------------------------------------------------------ installing
    @contextlib.contextmanager
    def active(self) -> Iterator[Tracer]:
        """Observe this thread's operations inside the block (recording on)."""
        observers = state.ctx.observers
        observers.append(self)
        state.refresh()
        try:
            with enable_grad():
                yield self
        finally:
            observers.remove(self)
            state.refresh()
            self._current = None


#: Primitives that are more than their impl (custom Functions, checkpoint): how to run them
#: again, ``call(args, params, tensors)``. Filled by function.py and transforms.py.
_REPLAY: dict[Any, Callable[..., Any]] = {}


def register_replay(prim: Any, call: Callable[..., Any]) -> None:
    """

    Examples
    --------
    >>> from chainrule.transforms import checkpoint_prim
    >>> from chainrule.ir.trace import _REPLAY
    >>> checkpoint_prim in _REPLAY  # checkpoint registers how a program runs it again
    True
    """
    _REPLAY[prim] = call


def trace_program(f: Callable, *args: Any, hints: list[str] | None = None) -> tuple[Program, Any]:
    """Run ``f(*args)`` once and return ``(program, result)``; arguments that are arrays or
    numbers become the program's inputs (floating ones require grad, so ``f`` may
    differentiate them), other arguments are passed through.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> program, _ = trace_program(lambda x: cr.relu(x) * x, cr.tensor([-1.0, 2.0]))
    >>> [e.prim.name for e in program.eqns]
    ['relu', 'mul']
    >>> program(cr.tensor([3.0, 4.0]).numpy())
    array([ 9., 16.])
    """
    tracer = Tracer()
    call_args = []
    for k, a in enumerate(args):
        if isinstance(a, (Tensor, np.ndarray, np.generic, float, int)) and not isinstance(a, bool):
            data = a._data if isinstance(a, Tensor) else np.asarray(a)
            leaf = copy_of(data)
            if leaf.dtype.kind in "fc":
                leaf.requires_grad = True
            tracer.input(leaf, "arg", hints[k] if hints else None)
            call_args.append(leaf)
        else:
            call_args.append(a)
    with tracer.active():
        result = f(*call_args)
    outs = result if isinstance(result, (tuple, list)) else (result,)
    tracer.program.outputs = [tracer.output(o) for o in outs]
    return tracer.program, result
