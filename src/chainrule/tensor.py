"""Tensor: an ndarray plus what autodiff needs (requires_grad, .grad, the node that made it).

Operators and methods turn into primitive applications (``apply``); when a gradient may be
needed, each application records a ``Node``. ``backward()`` hands the graph to the engine.
In-place operations follow PyTorch's rules and stamp the memory they change (``versions``),
so a backward that needs the old values raises instead of silently using the new ones.
"""

from __future__ import annotations

import contextlib
import numbers
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import engine, primitives, state, versions
from .backend import stored as _stored
from .engine import Node, leaf_hooks, no_inputs, post_hooks

new_node = Node.new
_NONE1, _NONE2 = no_inputs(1), no_inputs(2)  # shared by nodes that save no inputs
_ctx = state.ctx  # this thread's grad mode, anomaly flag and observers
_ADOPTED = versions.ADOPTED

#: True while every thread is in the default state (recording on, no anomaly checks, no
#: observers): the hot paths then take their fast branch without a thread-local lookup.
#: Kept current by ``state.refresh``.
_fast = True


def _set_fast(all_default: bool) -> None:
    global _fast
    _fast = all_default


state.on_change(_set_fast)
_new = object.__new__


def notify_node(node: Node, inputs: tuple, out: Any) -> None:
    """Tell this thread's node observers (see ``observe_nodes``) about a recorded node."""
    for callback in list(_ctx.observers):
        if not hasattr(callback, "applied"):
            callback(node, inputs, out)


def _notify_applied(prim: Any, args: tuple, params: dict | None, result: Tensor) -> None:
    """Tell this thread's tracers (observers with an ``applied`` method) about every
    primitive application, recorded or not (a traced program holds comparisons too)."""
    for obs in list(_ctx.observers):
        applied = getattr(obs, "applied", None)
        if applied is not None:
            applied(prim, args, params or {}, result)


@contextlib.contextmanager
def observe_nodes(callback: Callable[[Node, tuple, Any], None]) -> Iterator[None]:
    """Call ``callback(node, input_values, output)`` for every node recorded inside (in this
    thread).

    Nodes keep only the values their rules need; an observer sees all of them (constants
    such as the 2 in ``x + 2`` included).

    >>> import chainrule as cr
    >>> seen = []
    >>> x = cr.tensor(1.0, requires_grad=True)
    >>> with cr.observe_nodes(lambda node, inputs, out: seen.append(node.prim.name)):
    ...     y = (x + 2) * x
    >>> seen
    ['add', 'mul']
    """
    observers = _ctx.observers
    observers.append(callback)
    state.refresh()
    try:
        yield
    finally:
        observers.remove(callback)
        state.refresh()


def _wrap(data: Any) -> Tensor:
    """A Tensor around ``data`` with no graph (internal fast constructor: no checks)."""
    t = _new(Tensor)
    t._data = data
    t._grad = None
    t._rg = False
    t._node = None
    return t


def _from_node(data: Any, node: Node) -> Tensor:
    """A Tensor for the output of ``node`` (internal fast constructor)."""
    t = _new(Tensor)
    t._data = data
    t._grad = None
    t._rg = True
    t._node = node
    return t


def _check_float(dtype: np.dtype, what: str) -> None:
    if dtype.kind not in "fc":
        raise TypeError(
            f"{what}: only floating-point or complex tensors can require gradients, "
            f"got dtype {dtype}"
        )


def _holds_tensor(seq: Any) -> bool:
    for item in seq:
        if isinstance(item, Tensor):
            return True
        if isinstance(item, (list, tuple)) and _holds_tensor(item):
            return True
    return False


def _stack_sequence(seq: Any, opname: str) -> Tensor:
    """A (nested) list of Tensors and numbers as one Tensor, stacked through the graph
    (``cr.mean([x, x + 2])`` differentiates both entries; nothing is detached)."""
    from .ops import stack

    items = [_stack_sequence(e, opname) if isinstance(e, (list, tuple)) else e for e in seq]
    try:
        return stack(items)
    except ValueError as e:
        raise ValueError(f"{opname}: cannot stack the list of tensors given: {e}") from None


def _to_array(data: Any, dtype: Any = None, copy: bool = False) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data._data
    try:
        arr = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__}: {e}") from None
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"tensor: unsupported dtype {arr.dtype} (from {type(data).__name__})")
    return arr


def _constant(value: Any, opname: str) -> Any:
    """The array-level value of a non-Tensor operand (Python scalars stay weakly typed)."""
    t = type(value)
    if t is float or t is int or t is np.ndarray:
        return value
    if isinstance(value, (np.ndarray, np.generic, numbers.Number)):
        return value
    if isinstance(value, (list, tuple)):
        return _to_array(value)
    raise TypeError(f"{opname}: unsupported operand of type {type(value).__name__}")


def _operand_value(value: Any, opname: str) -> Any:
    """A non-Tensor operand, or a Tensor if it is a list holding Tensors (stacked)."""
    if isinstance(value, (list, tuple)) and _holds_tensor(value):
        return _stack_sequence(value, opname)
    return _constant(value, opname)


def _shape_of(v: Any) -> tuple:
    return getattr(v, "shape", ())


def _broadcast_error(prim: primitives.Primitive, arrays: tuple) -> ValueError:
    shapes = " and ".join(str(_shape_of(a)) for a in arrays)
    return ValueError(f"{prim.name}: operands with shapes {shapes} cannot be broadcast together")


def _complex_error(prim: primitives.Primitive) -> TypeError:
    return TypeError(
        f"{prim.name}: does not support complex inputs (it needs an ordering or is not "
        f"differentiable in the complex sense); use abs(), .real or .imag first"
    )


def copy_of(data: Any) -> Tensor:
    """A Tensor holding a copy of ``data`` made for it (a trace's stand-in for a value):
    nobody else holds that memory, so it is not adopted (``Tensor(array)`` adopts the
    array, and while any adopted array lives the nodes that save arrays check them).

    >>> t = copy_of(np.ones(2))
    >>> id(t._data) in versions.ADOPTED
    False
    """
    arr = np.array(data, copy=True)
    t = Tensor(arr)
    _ADOPTED.pop(id(arr), None)
    return t


def apply_cross_entropy(logits: Tensor, labels: np.ndarray, reduction: str) -> Tensor | None:
    """``apply(log_softmax)`` then ``apply(cross_entropy)`` on checked (N, C) real logits
    and integer labels, with the two nodes those calls record built directly (a training
    step's loss: this runs at every step, between the model's forward and its backward).
    None where ``apply``'s general path is needed: a trace or an observer, anomaly mode,
    logits that are not a real floating array.

    >>> x = Tensor(np.array([[2.0, 0.0]]), requires_grad=True)
    >>> loss = apply_cross_entropy(x, np.array([0]), "mean")
    >>> loss.backward(); x.grad
    tensor([[-0.1192,  0.1192]])
    """
    x = logits._data
    if not _fast or type(x) is not np.ndarray or x.dtype.kind != "f":
        return None
    logp = P.log_softmax.impl(x, axis=1)
    loss = P.cross_entropy.impl(x, logp, labels, reduction=reduction)
    if not logits._rg:
        return _wrap(loss)
    edge = logits._node or logits
    # what apply records: log_softmax keeps its output; cross_entropy keeps logp and the
    # labels, and reaches logp through a link (its own rule covers the logits' gradient)
    made = new_node(P.log_softmax, (edge,), no_inputs(1), logp, logp.shape, logp.dtype, {"axis": 1})
    saved = (None, logp, labels)
    node = new_node(
        P.cross_entropy,
        (edge, None, None),
        saved,
        None,
        loss.shape,
        loss.dtype,
        {"reduction": reduction},
    )
    if _ADOPTED:
        versions.note_saved(node)
    node.extra = {"links": {1: made}}
    return _from_node(loss, node)


def apply(prim: primitives.Primitive, args: tuple, params: dict | None = None) -> Tensor:
    """Apply ``prim`` to Tensors / array-likes; record a node when a gradient may be needed."""
    arrays = []
    edges = []
    needs_grad = False
    rules = prim.vjps
    tensors = links = None
    i = -1
    for a in args:
        i += 1
        kind = type(a)
        if kind is not Tensor and not isinstance(a, Tensor):
            if not (kind is np.ndarray or kind is float or kind is int):
                a = _operand_value(a, prim.name)
            if not isinstance(a, Tensor):
                arrays.append(a)
                edges.append(None)
                continue
            if tensors is None:
                tensors = list(args)
            tensors[i] = a
        arrays.append(a._data)
        if a._rg and rules is not None:
            if rules[i] is None:
                # No gradient of its own (cross_entropy's logp), so no edge for the walk;
                # recorded rules still read it as a graph-connected Tensor (a link).
                if links is None:
                    links = {}
                links[i] = a._node or a
                edges.append(None)
                continue
            edges.append(a._node or a)
            needs_grad = True
        else:
            edges.append(None)
    if _fast:
        recording, anomaly, observed = needs_grad, False, False
    else:
        c = _ctx
        recording, anomaly, observed = needs_grad and c.grad_enabled, c.anomaly, bool(c.observers)
    try:
        out = prim.impl(*arrays, **params) if params else prim.impl(*arrays)
    except ValueError as e:
        if "broadcast" in str(e):
            raise _broadcast_error(prim, tuple(arrays)) from None
        raise
    if not prim.complex:
        _check_real(prim, out, arrays)
    if anomaly:
        engine.check_finite(out, f"forward of '{prim.name}'")
    if not recording:
        result = _wrap(out)
        if observed:
            _notify_applied(prim, tuple(tensors or args), params, result)
        return result
    which = prim.save_inputs
    if which is True:
        saved = tuple(arrays)
    elif not which:
        saved = no_inputs(len(arrays))
    else:  # "rest": the index arrays, not the indexed value
        saved = (None, *arrays[1:])
    node = new_node(
        prim,
        tuple(edges),
        saved,
        out if prim.save_output else None,
        out.shape,
        out.dtype,
        params or None,
    )
    if which and _ADOPTED:
        versions.note_saved(node)
    if links is not None:
        node.extra = {"links": links}
    result = _from_node(out, node)
    if observed:
        # A traced program needs the Tensors a recorded rule will see (also those that
        # carry no gradient, such as a mask computed from an input).
        node.extra = node.extra or {}
        given = tensors or args
        node.extra["tensors"] = tuple(a if isinstance(a, Tensor) else None for a in given)
        notify_node(node, tuple(arrays), out)
        _notify_applied(prim, tuple(given), params, result)
    return result


def _check_real(prim: primitives.Primitive, out: Any, arrays: list) -> None:
    """Refuse complex values for a primitive that does not support them."""
    dtype = getattr(out, "dtype", None)
    if dtype is not None and dtype.kind == "c":
        raise _complex_error(prim)
    if prim.kind == "compare" or dtype is None or dtype.kind == "b":
        for a in arrays:  # the output may be real (or boolean) although an input is not
            d = getattr(a, "dtype", None)
            if (d is not None and d.kind == "c") or isinstance(a, complex):
                raise _complex_error(prim)


def _unary(prim: primitives.Primitive, x: Tensor) -> Tensor:
    """``prim(x)`` for a unary elementwise primitive."""
    return _METHODS[prim.name](x)


def _unary_method(prim: primitives.Primitive) -> Callable[[Tensor], Tensor]:
    """The method applying unary ``prim`` (one frame per call: this is the hot path)."""
    impl = prim.impl
    save_inputs, save_output = prim.save_inputs, prim.save_output
    real_only = not prim.complex

    def method(self: Tensor) -> Tensor:
        if not _fast:
            return apply(prim, (self,))
        xd = self._data
        out = impl(xd)
        if real_only and out.dtype.kind == "c":
            raise _complex_error(prim)
        if self._rg:
            node = new_node(
                prim,
                (self._node or self,),
                (xd,) if save_inputs else _NONE1,
                out if save_output else None,
                out.shape,
                out.dtype,
            )
            if save_inputs and _ADOPTED:
                versions.note_saved(node)
            t = _new(Tensor)  # _from_node, inlined: this line runs once per operation
            t._data = out
            t._grad = None
            t._rg = True
            t._node = node
            return t
        return _wrap(out)

    method.__name__ = prim.name
    method.__doc__ = f"Elementwise {prim.name} (differentiable)."
    return method


def _binary(prim: primitives.Primitive, a: Any, b: Any) -> Tensor:
    """``prim(a, b)`` where either may be a Tensor, an array or a Python number (which
    stays weakly typed: ``cr.add(1.0, x32)`` is float32, as ``1.0 + x32`` is)."""
    return apply(prim, (a, b))


def _binary_method(prim: primitives.Primitive, reflected: bool) -> Callable:
    """The operator method for ``prim`` (``self op other``, or ``other op self`` when
    ``reflected``). The common case (a Tensor with an ndarray, a number or a Tensor) runs
    in this one frame: it is the hottest path in the library."""
    impl = prim.impl
    save_inputs, save_output = prim.save_inputs, prim.save_output
    real_only = not prim.complex

    def method(self: Tensor, other: Any) -> Tensor:
        kind = type(other)
        if kind is Tensor:
            od = other._data
            other_rg = other._rg
        elif kind is np.ndarray or kind is float or kind is int:
            od = other
            other_rg = False
        else:
            return apply(prim, (other, self) if reflected else (self, other))
        if not _fast:
            return apply(prim, (other, self) if reflected else (self, other))
        sd = self._data
        try:
            out = impl(od, sd) if reflected else impl(sd, od)
        except ValueError:
            pair = (od, sd) if reflected else (sd, od)
            raise _broadcast_error(prim, pair) from None
        if real_only and getattr(out, "dtype", None) is not None and out.dtype.kind == "c":
            raise _complex_error(prim)
        if not (self._rg or other_rg):
            return _wrap(out)
        # Record: the edges say where each input's gradient goes.
        se = (self._node or self) if self._rg else None
        oe = (other._node or other) if other_rg else None
        if reflected:
            edges = (oe, se)
            saved = (od, sd) if save_inputs else _NONE2
        else:
            edges = (se, oe)
            saved = (sd, od) if save_inputs else _NONE2
        node = new_node(prim, edges, saved, out if save_output else None, out.shape, out.dtype)
        if save_inputs and _ADOPTED:
            versions.note_saved(node)
        t = _new(Tensor)  # _from_node, inlined: this line runs once per operation
        t._data = out
        t._grad = None
        t._rg = True
        t._node = node
        return t

    method.__name__ = f"__{'r' if reflected else ''}{prim.name}__"
    return method


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        for i, fn in enumerate(self._hooks):
            if fn is self._fn:
                del self._hooks[i]
                break


class ConcretizationError(TypeError):
    """A traced value was turned into a Python value (``bool(t)``, ``float(t)``,
    ``t.item()``, ``t.numpy()``) while ``cr.jit`` or ``cr.vmap`` traced a function: the
    program would hold that one value for every input.

    >>> import chainrule as cr
    >>> from chainrule.ir import Tracer
    >>> tracer = Tracer(strict="cr.jit")
    >>> x = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> _ = tracer.input(x)
    >>> with tracer.active():  # doctest: +IGNORE_EXCEPTION_DETAIL
    ...     bool(x.sum() > 0)
    Traceback (most recent call last):
    ConcretizationError: bool() of a traced value at ...: cr.jit traces the function once, ...
    """


def _user_line() -> str:
    """``file:line`` of the innermost caller outside chainrule's own code."""
    import os
    import sys

    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame = sys._getframe(2)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(package):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _concrete(t: Tensor, what: str, allow: tuple = (), advice: str | None = None) -> None:
    """Refuse to turn ``t`` into a Python value while a strict tracer (jit, vmap) traces it
    (those named in ``allow`` check the traced program against the function by other
    means: vmap compares each example's result with what the program traced)."""
    for obs in _ctx.observers:
        strict = getattr(obs, "strict", False)
        if strict and strict not in allow and obs.var_of(t) is not None:
            raise ConcretizationError(
                f"{what} of a traced value at {_user_line()}: {obs.strict} traces the function "
                f"once, so "
                + (
                    advice
                    or "Python control flow on a traced value would be fixed to this one "
                    "input. Use cr.where(cond, a, b) for a choice that depends on values, or "
                    "make the argument static (static_argnums)."
                )
            )


def _refuse_while_tracing(what: str, why: str, allow: tuple = ()) -> None:
    """Refuse ``what`` (a side effect, or a read of state the program would freeze) while a
    strict tracer (jit, vmap) traces: it would happen once, at tracing, not at each call."""
    for obs in _ctx.observers:
        strict = getattr(obs, "strict", False)
        if strict and strict not in allow:
            raise ConcretizationError(
                f"{what} at {_user_line()} inside {strict}: {strict} traces the function once, "
                f"so {why}"
            )


_DATA_ADVICE = (
    "what NumPy computes from the array is not recorded and would hold this call's value "
    "for every call. Compute with the Tensor itself (its operations are recorded), or make "
    "the argument static (static_argnums)."
)


def _note_module(module: Any) -> None:
    """Tell this thread's tracers that ``module``'s forward runs (a program made in
    training mode is not the one eval mode computes: cr.jit checks the flag per call)."""
    if not _fast:
        _tell_tracers("note_module", module)


def _note_rng(seed: Any) -> None:
    """Tell this thread's tracers that a traced random draw reads the generator ``seed``
    names (a Generator, or None for the global one; an int seeds a new one each time): a
    compiler keeps its state, so tracing does not use up numbers the first call draws."""
    if _fast or isinstance(seed, (int, np.integer)):
        return
    _tell_tracers("note_rng", seed if isinstance(seed, np.random.Generator) else _default_rng)


def _jit_tracing() -> bool:
    """Whether ``cr.jit`` is tracing on this thread (code that would compute with NumPy on
    state a program reads, such as running statistics, uses chainrule operations then)."""
    return not _fast and any(getattr(o, "strict", None) == "cr.jit" for o in _ctx.observers)


def _is_traced(t: Any, strict: bool = True) -> bool:
    """Whether ``t`` is a Tensor that a strict tracer (``cr.jit``, ``cr.vmap``) is tracing:
    its value is an input of the program, so code must not compute with its array. With
    ``strict=False``, any tracer (``cr.trace`` too): its program is replayed at other
    inputs, so code must not decide on ``t``'s length either."""
    if _fast or not isinstance(t, Tensor):
        return False
    return any(
        (getattr(obs, "strict", False) or (not strict and hasattr(obs, "var_of")))
        and obs.var_of(t) is not None
        for obs in _ctx.observers
    )


def _rebind(t: Tensor, value: Any) -> None:
    """Tell this thread's tracers that ``t`` (changed in place) now holds ``value``'s value:
    a traced program reads it from there on as ``value``'s variable (a constant when
    ``value`` is not traced), not as the value it held before."""
    _tell_tracers("rebind", t, value)


def _tell_tracers(method: str, *args: Any) -> None:
    """Call ``method(*args)`` on each of this thread's observers that has it."""
    for obs in _ctx.observers:
        call = getattr(obs, method, None)
        if call is not None:
            call(*args)


def _describe(t: Tensor) -> str:
    if t._node is not None:
        return f"the output of '{t._node.prim.name}' (shape {t.shape})"
    kind = "a leaf tensor that requires grad" if t._rg else "a tensor"
    return f"{kind} of shape {t.shape}"


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Parameters
    ----------
    data:
        A Python number, nested list or ndarray (an ndarray is kept without copying).
    dtype:
        A NumPy dtype; by default NumPy's rule (floats -> float64, ints -> int64).
    requires_grad:
        Record operations on this tensor so gradients can flow back to it.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4.])
    """

    __slots__ = ("_data", "_grad", "_rg", "_node", "__weakref__")
    # NumPy's ufuncs and functions on Tensors (np.exp(t), arr + t, np.sum(t)) dispatch to
    # chainrule.numpy: its installer (below) adds __array_ufunc__ and __array_function__.
    __array_priority__ = 1000.0
    __hash__ = object.__hash__

    _wrap = staticmethod(_wrap)
    _from_node = staticmethod(_from_node)

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        arr = _to_array(data, dtype)
        if arr is data:
            versions.adopt(arr)  # the caller keeps a handle on this memory
        self._data = _stored(arr)
        self._grad = None
        self._rg = False
        self._node = None
        if requires_grad:
            self.requires_grad = True

    # ------------------------------------------------------------------ attributes
    @property
    def data(self) -> Any:
        """The value (an ndarray, or a NumPy scalar for 0-d tensors), without the graph.

        Assigning to it replaces the value; an augmented assignment (``t.data *= 2``)
        changes the memory in place and is tracked like any in-place operation.

        Inside ``cr.jit``, reading the value of a traced tensor raises
        ``ConcretizationError`` (what NumPy computes from the array is not recorded, so
        the program would hold the traced call's value for every call); ``cr.vmap`` reads
        it as a detached value of each example.
        """
        if not _fast:
            _concrete(self, ".data", allow=("cr.vmap",), advice=_DATA_ADVICE)
            if self._rg and self._node is None:  # a parameter: read at every call
                _refuse_while_tracing(
                    ".data of a tensor that requires grad",
                    "what NumPy computes from it (or writes into it) would be this call's "
                    "only. Compute with the tensor itself (under cr.no_grad() for an update "
                    "in place: p.sub_(lr * g)).",
                    allow=("cr.vmap",),
                )
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if value is self._data:  # t.data op= x: the array was changed in place
            versions.mark(value, "data assignment (t.data op= ...)", _describe(self))
            return
        if isinstance(value, Tensor):
            value = value._data
        if not isinstance(value, (np.ndarray, np.generic)):
            value = _stored(_to_array(value))
        self._data = value

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def T(self) -> Tensor:
        return self.transpose()

    @property
    def mT(self) -> Tensor:
        """Transpose of the last two axes (batched matrices)."""
        if self.ndim < 2:
            raise ValueError(f"mT: needs at least 2 dimensions, got shape {self.shape}")
        axes = list(range(self.ndim))
        axes[-2], axes[-1] = axes[-1], axes[-2]
        return self.transpose(*axes)

    @property
    def real(self) -> Tensor:
        """The real part (differentiable; the tensor itself when it is real)."""
        return ops.real(self)

    @property
    def imag(self) -> Tensor:
        """The imaginary part (differentiable; zeros when the tensor is real)."""
        return ops.imag(self)

    def conj(self) -> Tensor:
        """The complex conjugate (the tensor itself when it is real)."""
        return ops.conj(self)

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self._node is not None:
            raise RuntimeError(
                "requires_grad can only be changed on leaf tensors; this tensor was made by "
                f"'{self._node.prim.name}'. Use .detach() to get a leaf."
            )
        if flag:
            _check_float(self._data.dtype, "requires_grad")
        self._rg = bool(flag)

    @property
    def grad(self) -> Tensor | None:
        if not _fast and self._grad is not None:
            _refuse_while_tracing(  # (vmap reads a tensor from outside at every call)
                ".grad",
                "the program would hold this .grad's value at every call. Pass the "
                "gradient in as an argument, or compute it inside with cr.grad / "
                "cr.value_and_grad.",
                allow=("cr.vmap",),
            )
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:  # zero_grad on every parameter every step: keep it cheap
            self._grad = None
            return
        if not isinstance(value, Tensor):
            value = _wrap(_stored(_to_array(value)))
        if value.shape != self.shape:
            raise RuntimeError(
                f"grad: assigned gradient has shape {value.shape}, "
                f"but the tensor has shape {self.shape}"
            )
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        """The node that produced this tensor (``None`` for leaves)."""
        return self._node

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (as in PyTorch)."""
        return versions.version_of(self._data)

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The value as an ndarray (shares memory; no graph)."""
        if not _fast:
            _concrete(self, "numpy()")
        arr = np.asarray(self._data)
        versions.adopt(arr)
        return arr

    def item(self) -> Any:
        if not _fast:
            _concrete(self, "item()")
        if self._data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python scalar, "
                f"got shape {self.shape}"
            )
        return self._data.item()

    def tolist(self) -> Any:
        if not _fast:
            _concrete(self, "tolist()")
        return np.asarray(self._data).tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if not _fast:
            _concrete(self, "np.asarray()")
        arr = np.asarray(self._data, dtype=dtype)
        if copy:
            return arr.copy()
        versions.adopt(arr)
        return arr

    def detach(self) -> Tensor:
        """Same data, no graph: a new leaf that does not require grad. It shares memory
        with this tensor both ways (an in-place change of one shows in the other)."""
        if isinstance(self._data, np.generic):
            # NumPy scalars are immutable: give both tensors one 0-d array to share
            self._data = np.array(self._data)
        return _wrap(self._data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    def astype(self, dtype: Any) -> Tensor:
        """Cast (differentiable between floating dtypes)."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind not in "fc":  # recorded, without a gradient
            return apply(P.cast, (self,), {"dtype": dtype})
        if self.dtype.kind == "c" and dtype.kind != "c":
            raise TypeError(
                f"astype: casting complex {self.dtype} to {dtype} would drop the imaginary "
                f"part; use .real, .imag or abs() first"
            )
        return apply(P.astype, (self,), {"dtype": dtype})

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def copy(self) -> Tensor:
        """A differentiable copy with its own memory."""
        return apply(P.copy, (self,))

    clone = copy

    # ------------------------------------------------------------------ autodiff
    def backward(
        self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is the upstream gradient (same shape as ``self``); it may be omitted only
        when ``self`` has exactly one element.
        """
        if not _fast:
            _refuse_while_tracing(
                "backward()",
                "the gradients it puts in .grad would be this call's only. Compute them "
                "inside with cr.grad / cr.value_and_grad (and return them), or call "
                "backward() on the jitted function's output (cr.jit(model), then "
                "loss.backward()).",
            )
        if not self._rg:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph "
                "(no input had requires_grad=True, or it was computed under no_grad())"
            )
        if grad is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward: a gradient is needed for a tensor with {self._data.size} "
                    f"elements (shape {self.shape}); pass grad=... of that shape, or reduce "
                    f"to one element first (e.g. .sum())"
                )
            data = self._data
            # 0-d values are held as NumPy scalars (see _stored): so is the seed
            seed: Any = data.dtype.type(1) if data.ndim == 0 else np.ones_like(data)
        else:
            if isinstance(grad, Tensor):
                seed = grad if create_graph else grad._data
            else:
                seed = _to_array(grad)
            if tuple(seed.shape) != self.shape:
                raise RuntimeError(
                    f"backward: grad has shape {tuple(seed.shape)} but the tensor has "
                    f"shape {self.shape}"
                )
            if seed.dtype != self.dtype:
                seed = seed.astype(self.dtype)
        engine.backward(
            [self],
            [seed],
            retain_graph=retain_graph or create_graph,
            create_graph=create_graph,
        )

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self._rg:
            raise RuntimeError("retain_grad: tensor does not require grad")
        if self._node is not None:
            self._node.retained = weakref.ref(self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _HookHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor
        (same shape and dtype) replaces the gradient."""
        if not self._rg:
            raise RuntimeError("register_hook: tensor does not require grad")
        if self._node is None:
            hooks = leaf_hooks(self, create=True)
        else:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> _HookHandle:
        """Call ``hook(tensor)`` on a leaf during backward, as soon as its ``.grad`` holds
        the whole gradient of that backward pass (PyTorch's hook of the same name; data
        parallel training starts communicating a gradient from it).

        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> _ = w.register_post_accumulate_grad_hook(lambda t: print(t.grad))
        >>> (w * w).sum().backward()
        tensor([2., 4.])
        """
        if self._node is not None or not self._rg:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: only leaf tensors that require grad "
                "accumulate a .grad"
            )
        hooks = post_hooks(self, create=True)
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    # ------------------------------------------------------------------ arithmetic
    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __pos__(self) -> Tensor:
        return self

    # Comparisons give boolean tensors and are not differentiable; they are primitives, so
    # a mask computed from an input is part of a traced program.
    def __lt__(self, other: Any) -> Tensor:
        return apply(P.less, (self, other))

    def __le__(self, other: Any) -> Tensor:
        return apply(P.less_equal, (self, other))

    def __gt__(self, other: Any) -> Tensor:
        return apply(P.greater, (self, other))

    def __ge__(self, other: Any) -> Tensor:
        return apply(P.greater_equal, (self, other))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return apply(P.equal, (self, other))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return apply(P.not_equal, (self, other))

    def _logical(self, prim: Any, bitwise: Any, other: Any, op: str) -> Tensor:
        od = other._data if isinstance(other, Tensor) else other
        if self.dtype.kind == "b" and np.asarray(od).dtype.kind == "b":
            return apply(prim, (self, other))
        if self.dtype.kind in "biu" and np.asarray(od).dtype.kind in "biu":
            return _wrap(bitwise(self._data, od))  # integers: bitwise, not differentiable
        raise TypeError(
            f"{op}: needs boolean or integer tensors, got dtypes {self.dtype} and "
            f"{np.asarray(od).dtype}"
        )

    def __invert__(self) -> Tensor:
        if self.dtype.kind == "b":
            return apply(P.logical_not, (self,))
        if self.dtype.kind not in "iu":
            raise TypeError(f"~: needs a boolean or integer tensor, got dtype {self.dtype}")
        return _wrap(np.invert(self._data))

    def __and__(self, other: Any) -> Tensor:
        return self._logical(P.logical_and, np.bitwise_and, other, "&")

    def __or__(self, other: Any) -> Tensor:
        return self._logical(P.logical_or, np.bitwise_or, other, "|")

    def __xor__(self, other: Any) -> Tensor:
        return self._logical(P.logical_xor, np.bitwise_xor, other, "^")

    __rand__ = __and__
    __ror__ = __or__
    __rxor__ = __xor__

    # ------------------------------------------------------------------ in place
    def _inplace(self, name: str, compute: Callable[[Any], Any], others: tuple = ()) -> Tensor:
        """Change this tensor in place to ``compute(self_value)`` (PyTorch's rules).

        A leaf that requires grad may change only under ``no_grad`` (then the same object
        and memory are updated, as an optimizer step does). Otherwise, if a gradient is
        needed, the change is recorded: the new value is a node of the graph (computed
        from a copy of the old value when the rules need it) and the memory is updated.
        Either way the memory is stamped, so a backward that saved the old values raises.
        """
        enabled = _ctx.grad_enabled
        if self._node is None and self._rg and enabled:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad cannot be changed in place "
                f"(that would change the value the graph was built from); do it under "
                f"cr.no_grad() (an optimizer step), or on a copy (t.clone())"
            )
        others_rg = any(isinstance(o, Tensor) and o._rg for o in others)
        if (self._rg or others_rg) and enabled:
            old = self
            if self._rg and self._node is not None:
                old = _from_node(np.array(self._data, copy=True), self._node)
            elif not self._rg:
                old = _wrap(np.array(self._data, copy=True))
                _rebind(old, self)  # a tracer reads the copy as the value it copies
            result = compute(old)
            if not isinstance(result, Tensor):
                result = _wrap(result)
            self._write(result._data, name)
            self._node = result._node
            self._rg = result._rg
            _rebind(self, result)
            return self
        with no_grad():
            result = compute(self)
        self._write(result._data if isinstance(result, Tensor) else result, name)
        _rebind(self, result)
        return self

    def _write(self, value: Any, name: str) -> None:
        """Put ``value`` into this tensor's memory (same shape and dtype) and stamp it."""
        if not _fast:  # a tracer keeps the value an input of its program had
            _tell_tracers("before_write", self)
        data = self._data
        shape = np.shape(value)
        if shape != self.shape:
            raise ValueError(
                f"{name}: the result has shape {shape}, but the tensor changed in place has "
                f"shape {self.shape} (an in-place result cannot broadcast to a larger shape)"
            )
        if not np.can_cast(np.result_type(value), data.dtype, casting="same_kind"):
            raise TypeError(
                f"{name}: the result has dtype {np.result_type(value)}, which cannot be stored "
                f"in place in a tensor of dtype {data.dtype}"
            )
        if isinstance(data, np.ndarray):
            if not data.flags.writeable:
                raise ValueError(
                    f"{name}: this tensor's memory is read-only (a broadcast view); "
                    f"make a copy first (t.clone())"
                )
            np.copyto(data, value, casting="same_kind")
            versions.mark(data, name, _describe(self))
        else:  # a 0-d NumPy scalar: immutable, nothing else can share it
            self._data = data.dtype.type(value)

    def _binary_inplace(self, prim: Any, other: Any, name: str) -> Tensor:
        # x += x reads the old value twice: both operands are the (copied) old value
        if other is self:
            return self._inplace(name, lambda old: apply(prim, (old, old)), (other,))
        return self._inplace(name, lambda old: apply(prim, (old, other)), (other,))

    def __iadd__(self, other: Any) -> Tensor:
        return self._binary_inplace(P.add, other, "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._binary_inplace(P.sub, other, "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._binary_inplace(P.mul, other, "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._binary_inplace(P.div, other, "/=")

    def __ipow__(self, other: Any) -> Tensor:
        return self._binary_inplace(P.pow, other, "**=")

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        """In place: ``self += alpha * other``."""
        other = other if alpha == 1 else other * alpha
        return self._binary_inplace(P.add, other, "add_")

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        """In place: ``self -= alpha * other``."""
        other = other if alpha == 1 else other * alpha
        return self._binary_inplace(P.sub, other, "sub_")

    def mul_(self, other: Any) -> Tensor:
        return self._binary_inplace(P.mul, other, "mul_")

    def div_(self, other: Any) -> Tensor:
        return self._binary_inplace(P.div, other, "div_")

    def pow_(self, other: Any) -> Tensor:
        return self._binary_inplace(P.pow, other, "pow_")

    def zero_(self) -> Tensor:
        """In place: fill with zeros (the gradient to the old value is zero)."""
        return self._inplace("zero_", lambda old: old * 0)

    def fill_(self, value: Any) -> Tensor:
        """In place: fill with ``value`` (a number or a one-element tensor)."""
        return self._inplace("fill_", lambda old: old * 0 + value, (value,))

    def copy_(self, src: Any) -> Tensor:
        """In place: copy ``src``'s values (broadcast to this shape, cast to this dtype);
        the gradient goes to ``src``."""

        def compute(old: Tensor) -> Any:
            value = src if isinstance(src, Tensor) else as_tensor(src)
            value = ops.broadcast_to(value, self.shape) if value.shape != self.shape else value
            if value.dtype != self.dtype:
                value = value.astype(self.dtype)
            return old * 0 + value

        return self._inplace("copy_", compute, (src,))

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 (PyTorch's names)
        """In place: ``self.clip(min, max)``."""
        return self._inplace("clamp_", lambda old: ops.clip(old, min, max))

    clip_ = clamp_

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value`` in place (PyTorch's rules, see ``_inplace``): recorded when a
        gradient is needed (the overwritten entries then get none)."""
        self._inplace("setitem", lambda old: ops.index_put(old, index, value), (value,))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.shape[0]):
            yield self[i]

    def __bool__(self) -> bool:
        if not _fast:
            _concrete(self, "bool()")
        if self._data.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor with {self._data.size} elements is "
                f"ambiguous; use .any() or .all()"
            )
        return bool(self._data)

    def __float__(self) -> float:
        if not _fast:
            _concrete(self, "float()")
        return float(self.item())

    def __int__(self) -> int:
        if not _fast:
            _concrete(self, "int()")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __index__(self) -> int:
        if not _fast:
            _concrete(self, "an index")
        if self.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.item())

    def __format__(self, spec: str) -> str:
        if spec and self._data.size == 1:
            return format(self.item(), spec)
        return repr(self) if not spec else format(str(self), spec)

    def __repr__(self) -> str:
        body = np.array2string(
            np.asarray(self._data), separator=", ", prefix="tensor(", precision=4
        )
        extras = []
        if self.dtype not in (np.float64, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.prim.name}>")
        elif self._rg:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def any(self) -> bool:
        if not _fast:
            _concrete(self, "any()")
        return bool(np.any(self._data))

    def all(self) -> bool:
        if not _fast:
            _concrete(self, "all()")
        return bool(np.all(self._data))

    def argmax(self, axis: int | None = None) -> Tensor:
        """Index of the largest value (not differentiable; part of a traced program)."""
        return apply(P.argmax, (self,), {"axis": axis})

    def argmin(self, axis: int | None = None) -> Tensor:
        """Index of the smallest value (not differentiable; part of a traced program)."""
        return apply(P.argmin, (self,), {"axis": axis})

    # ------------------------------------------------------------------ elementwise
    def square(self) -> Tensor:
        return apply(P.mul, (self, self))

    def clip(self, lo: Any = None, hi: Any = None) -> Tensor:
        return ops.clip(self, lo, hi)

    def maximum(self, other: Any) -> Tensor:
        return ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ops.minimum(self, other)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.mean(self, axis, keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return ops.var(self, axis, keepdims, ddof)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.min(self, axis, keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.logsumexp(self, axis, keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return ops.log_softmax(self, axis)

    # ------------------------------------------------------------------ shapes
    def reshape(self, *shape: Any) -> Tensor:
        return ops.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        return ops.reshape(self, *shape)

    def flatten(self) -> Tensor:
        return ops.reshape(self, -1)

    def transpose(self, *axes: Any) -> Tensor:
        return ops.transpose(self, *axes)

    def expand_dims(self, axis: Any) -> Tensor:
        return ops.expand_dims(self, axis)

    def squeeze(self, axis: Any = None) -> Tensor:
        return ops.squeeze(self, axis)

    def broadcast_to(self, shape: Any) -> Tensor:
        return ops.broadcast_to(self, shape)

    def matmul(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def dot(self, other: Any) -> Tensor:
        return ops.dot(self, other)


# ---------------------------------------------------------------------- grad modes


class _GradMode(contextlib.ContextDecorator):
    """``no_grad`` / ``enable_grad``: sets this thread's grad mode on entry, restores it on
    exit; also a decorator (applied per call)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        c = _ctx
        self._saved.append(c.grad_enabled)
        if c.grad_enabled != self.enabled:
            c.grad_enabled = self.enabled
            state.refresh()

    def __exit__(self, *exc: Any) -> None:
        c = _ctx
        previous = self._saved.pop()
        if c.grad_enabled != previous:
            c.grad_enabled = previous
            state.refresh()


class set_grad_enabled:
    """Switch recording on or off in this thread, at once (``cr.set_grad_enabled(False)``
    as a plain call), or for a ``with`` block, restoring the previous mode on exit.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor(1.0, requires_grad=True)
    >>> with cr.set_grad_enabled(False):
    ...     (x * 2).requires_grad
    False
    >>> _ = cr.set_grad_enabled(False); (x * 2).requires_grad
    False
    >>> _ = cr.set_grad_enabled(True); (x * 2).requires_grad
    True
    """

    def __init__(self, mode: bool) -> None:
        c = _ctx
        self._previous = c.grad_enabled
        if c.grad_enabled != bool(mode):
            c.grad_enabled = bool(mode)
            state.refresh()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        c = _ctx
        if c.grad_enabled != self._previous:
            c.grad_enabled = self._previous
            state.refresh()


def no_grad() -> _GradMode:
    """Context manager / decorator: record nothing inside (inference, optimizer steps).
    Grad mode is per thread.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> with cr.no_grad():
    ...     y = x * 3
    >>> y.requires_grad
    False
    """
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Context manager / decorator: record again (also inside ``no_grad``).

    Examples
    --------
    >>> import chainrule as cr
    >>> with cr.no_grad():
    ...     with cr.enable_grad():
    ...         y = cr.tensor(2.0, requires_grad=True) * 3
    ...
    >>> y.requires_grad
    True
    """
    return _GradMode(True)


def is_grad_enabled() -> bool:
    """Whether operations are recorded in this thread (see ``no_grad``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.is_grad_enabled()
    True
    >>> with cr.no_grad():
    ...     print(cr.is_grad_enabled())
    ...
    False
    """
    return _ctx.grad_enabled


def set_grads(tensors: Any, arrays: Any) -> None:
    """Give each tensor its gradient array, replacing ``.grad`` as ``backward()`` does
    after ``zero_grad()``. For code that computes gradients itself (compiled steps): the
    arrays must already have the tensors' shapes and dtypes (not checked again here)."""
    for t, g in zip(tensors, arrays):
        t._grad = _wrap(g)


@contextlib.contextmanager
def substitute(pairs: Any) -> Iterator[None]:
    """Inside the block, each tensor in ``pairs`` (``(tensor, replacement)`` pairs) stands
    for its replacement: same value and same place in the graph. Restored on exit.

    This lets function transforms differentiate code written against existing tensors
    (a closure over a model's parameters) with respect to new arguments, as PyTorch's
    ``functional_call`` does for modules.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor(2.0, requires_grad=True)
    >>> loss = lambda: w * w
    >>> def loss_at(v):
    ...     with cr.substitute([(w, v)]):
    ...         return loss()
    >>> cr.grad(loss_at)(3.0)
    tensor(6.)
    """
    pairs = list(pairs)
    saved = []
    try:
        for tensor, replacement in pairs:
            if not isinstance(tensor, Tensor):
                raise TypeError(f"substitute: expected Tensors, got {type(tensor).__name__}")
            replacement = replacement if isinstance(replacement, Tensor) else as_tensor(replacement)
            if replacement._node is None and replacement._rg:
                # A leaf cannot be shared as a graph position: stand for an identity node
                # on top of it, so gradients reach the replacement.
                replacement = _make_alias(replacement, "substitute", len(saved))
            if replacement.shape != tensor.shape:
                raise ValueError(
                    f"substitute: replacement of shape {replacement.shape} for a tensor of "
                    f"shape {tensor.shape}"
                )
            saved.append((tensor, tensor._data, tensor._node, tensor._rg))
            tensor._data = replacement._data
            tensor._node = replacement._node
            tensor._rg = replacement._rg
        yield
    finally:
        for tensor, data, node, rg in reversed(saved):
            tensor._data, tensor._node, tensor._rg = data, node, rg


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise ``FloatingPointError`` at the first operation (forward or backward) whose
    result holds a NaN or Inf, naming that operation.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([0.0], requires_grad=True)
    >>> with cr.detect_anomaly():
    ...     y = cr.log(x)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FloatingPointError: forward of 'log' produced Inf (shape (1,), dtype float64)
    """
    c = _ctx
    saved = c.anomaly
    c.anomaly = True
    state.refresh()
    try:
        with np.errstate(all="ignore"):
            yield
    finally:
        c.anomaly = saved
        state.refresh()


# ---------------------------------------------------------------------- creation


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data``.

    Python floats (and lists of them) become float64, Python ints int64, and an
    ndarray keeps its dtype.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tensor([1, 2]).dtype
    dtype('int64')
    """
    if not _fast and _is_traced(data):  # a copy of a traced value: computed at every call
        t = data.detach().clone()
        if dtype is not None and t.dtype != np.dtype(dtype):
            t = t.astype(dtype)
    else:
        t = _wrap(_stored(_to_array(data, dtype, copy=True)))
    if requires_grad:
        t.requires_grad = True
    return t


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """``data`` as a Tensor, sharing memory with an ndarray when possible.

    Examples
    --------
    >>> import chainrule as cr
    >>> import numpy as np
    >>> a = np.zeros(3, dtype=np.float32)
    >>> t = cr.as_tensor(a)
    >>> t.dtype, np.shares_memory(t.numpy(), a)
    (dtype('float32'), True)
    """
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    if isinstance(data, (list, tuple)) and _holds_tensor(data):
        return _stack_sequence(data, "as_tensor")
    arr = _to_array(data, dtype)
    if arr is data:
        versions.adopt(arr)  # shared memory: the caller can still write into it
    return _wrap(_stored(arr))


def _shape_args(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be ints or one tuple of ints, got {shape!r}") from None


def _value_of(t: Any) -> Any:
    return t._data if isinstance(t, Tensor) else np.asarray(t)


def _leaf(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = _wrap(_stored(data))
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros; the shape as separate ints or one tuple.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.zeros(2, 3).shape, cr.zeros((2, 3), dtype='float32').dtype
    ((2, 3), dtype('float32'))
    """
    return _leaf(np.zeros(_shape_args(shape), dtype=dtype), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones; the shape as separate ints or one tuple.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.ones(3, requires_grad=True)
    tensor([1., 1., 1.], requires_grad=True)
    """
    return _leaf(np.ones(_shape_args(shape), dtype=dtype), requires_grad)


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.full((2,), 7.0)
    tensor([7., 7.])
    """
    return _leaf(np.full(_shape_args((shape,)), fill_value, dtype=dtype), requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and, unless ``dtype``, the dtype) of ``t``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.zeros_like(cr.ones(2, 2))
    tensor([[0., 0.],
            [0., 0.]])
    """
    return _leaf(np.zeros_like(_value_of(t), dtype=dtype), requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and, unless ``dtype``, the dtype) of ``t``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.ones_like(cr.zeros(3))
    tensor([1., 1., 1.])
    """
    return _leaf(np.ones_like(_value_of(t), dtype=dtype), requires_grad)


def arange(*args: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Like ``np.arange`` (integer arguments give int64).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.arange(4), cr.arange(0.0, 1.0, 0.25)
    (tensor([0, 1, 2, 3]), tensor([0.  , 0.25, 0.5 , 0.75]))
    """
    return _leaf(np.arange(*args, dtype=dtype), requires_grad)


def linspace(start: float, stop: float, num: int = 50, dtype: Any = None) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (like ``np.linspace``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linspace(0.0, 1.0, 5)
    tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    return _wrap(np.linspace(start, stop, num, dtype=dtype))


def eye(n: int, m: int | None = None, dtype: Any = None) -> Tensor:
    """The identity matrix (``n`` x ``m``, like ``np.eye``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.eye(2)
    tensor([[1., 0.],
            [0., 1.]])
    """
    return _wrap(np.eye(n, m, dtype=dtype))


_default_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator used by ``randn``/``rand`` when no ``seed=`` is given.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.manual_seed(0)
    >>> a = cr.randn(3)
    >>> cr.manual_seed(0)
    >>> bool((cr.randn(3) == a).numpy().all())
    True
    """
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def _rng(seed: Any) -> np.random.Generator:
    return _default_rng if seed is None else np.random.default_rng(seed)


def randn(*shape: Any, dtype: Any = None, seed: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples (float64 unless ``dtype``); ``seed`` makes them repeatable.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.randn(2, 3, seed=0).shape
    (2, 3)
    >>> bool((cr.randn(4, seed=1) == cr.randn(4, seed=1)).numpy().all())
    True
    """
    data = _rng(seed).standard_normal(_shape_args(shape))
    return _leaf(data.astype(dtype or np.float64, copy=False), requires_grad)


def rand(*shape: Any, dtype: Any = None, seed: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) (float64 unless ``dtype``).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.rand(1000, seed=0)
    >>> 0.0 <= float(x.min()) and float(x.max()) < 1.0
    True
    """
    data = _rng(seed).random(_shape_args(shape))
    return _leaf(data.astype(dtype or np.float64, copy=False), requires_grad)


primitives.bind(
    Tensor,
    apply=apply,
    wrap=_wrap,
    from_node=_from_node,
    enable_grad=lambda: enable_grad(),
)

from . import pytree as _pytree  # noqa: E402

_pytree.LEAF_TYPES.add(Tensor)
from . import ops  # noqa: E402  (ops and rules need Tensor defined first)
from . import rules as P  # noqa: E402

primitives.bind(Tensor, rules=P)

#: The operator and elementwise methods, built from the rule table; ``_unary`` uses them.
_METHODS: dict[str, Callable] = {}


def _install_operators() -> None:
    """Attach the arithmetic operators and elementwise methods to Tensor."""
    pairs = [("add", P.add), ("sub", P.sub), ("mul", P.mul), ("truediv", P.div), ("pow", P.pow)]
    for name, prim in pairs:
        setattr(Tensor, f"__{name}__", _binary_method(prim, reflected=False))
        setattr(Tensor, f"__r{name}__", _binary_method(prim, reflected=True))
    for prim in [P.neg, P.exp, P.log, P.sqrt, P.tanh, P.sigmoid, P.relu, P.abs, P.sin, P.cos]:
        _METHODS[prim.name] = _unary_method(prim)
        if prim is not P.neg:
            setattr(Tensor, prim.name, _METHODS[prim.name])
    Tensor.__neg__ = _METHODS["neg"]
    Tensor.__abs__ = _METHODS["abs"]


_install_operators()


def _make_alias(x: Any, op: str, position: Any) -> Tensor:
    """A new node standing for argument ``position``, connected to ``x``'s graph if any
    (the transforms' argument aliases and ``substitute``'s stand-ins)."""
    x = x if isinstance(x, Tensor) else _wrap(_to_array(x))
    if x.dtype.kind not in "fc":
        raise TypeError(
            f"{op}: argument {position} has dtype {x.dtype}; only floating-point (or complex) "
            f"arguments can be differentiated"
        )
    edge = (x._node or x) if x._rg else None
    node = Node.new(P.alias, (edge,), (None,), None, x.shape, x.dtype)
    out = _from_node(x._data, node)
    if state.ctx.observers:
        node.extra = {"tensors": (x,)}
        notify_node(node, (x._data,), x._data)
        _notify_applied(P.alias, (x,), None, out)
    return out


# The ndarray methods NumPy has and PyTorch's aliases that do not clash (cumsum, sort, std,
# permute, ...), NumPy's protocol hooks, % and //: chainrule.numpy.methods installs them.
from .numpy.methods import install as _install_numpy_methods  # noqa: E402

_install_numpy_methods(Tensor)
