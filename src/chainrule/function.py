"""Custom operations: subclass ``Function`` with a ``forward`` on arrays and a ``backward``
that turns the upstream gradient into one downstream gradient per input.

The backward is differentiable again (``grad(grad(...))``, ``create_graph=True``) when it
is written with chainrule operations: in a recorded pass ``ctx.saved_tensors`` are Tensors
connected to the graph, as in PyTorch. A backward that cannot be differentiated (it returns
arrays, reads a saved intermediate value, or is marked ``once_differentiable``) makes the
second differentiation raise, never return a silent zero.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import state
from .engine import Node
from .primitives import ALL_INPUTS, Primitive
from .tensor import (
    Tensor,
    _from_node,
    _notify_applied,
    _wrap,
    apply,
    is_grad_enabled,
    no_grad,
    notify_node,
)


class Context:
    """Handed to ``forward`` and ``backward``: stash values with ``save_for_backward``.

    Examples
    --------
    >>> import chainrule as cr
    >>> class Square(cr.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * g
    ...
    >>> x = cr.tensor(3.0, requires_grad=True)
    >>> Square.apply(x).backward()
    >>> x.grad
    tensor(6.)
    """

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple = ()
        self._view: tuple | None = None
        #: Per saved value: ("input", i), ("output",) or ("other",) (filled by apply).
        self._sources: list[tuple] = []

    def save_for_backward(self, *values: Any) -> None:
        self._saved = values

    @property
    def saved_tensors(self) -> tuple:
        """The saved values: arrays in a first-order backward; in a recorded backward,
        Tensors of the graph (inputs and the output as themselves, so the rule written with
        chainrule operations can be differentiated again)."""
        return self._saved if self._view is None else self._view


def once_differentiable(backward: Callable) -> Callable:
    """Mark a ``Function.backward`` as differentiable only once (it computes with arrays):
    differentiating through it again raises a clear error instead of returning zeros.

    >>> import chainrule as cr, numpy as np
    >>> class Sin(cr.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return np.sin(x)
    ...     @staticmethod
    ...     @cr.once_differentiable
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return np.cos(x) * g
    >>> cr.grad(lambda t: Sin.apply(t))(0.0)
    tensor(1.)
    """

    @functools.wraps(backward)
    def wrapper(ctx: Context, *grads: Any) -> Any:
        return backward(ctx, *grads)

    wrapper._chainrule_once = True  # type: ignore[attr-defined]
    return wrapper


class Function:
    """Base class for operations with a hand-written gradient (PyTorch's pattern).

    Examples
    --------
    >>> import chainrule as cr
    >>> class Cube(cr.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * g
    >>> t = cr.tensor(2.0, requires_grad=True)
    >>> Cube.apply(t).backward()
    >>> t.grad
    tensor(12.)
    >>> cr.grad(cr.grad(Cube.apply))(2.0)  # the backward is differentiable again
    tensor(12.)

    ``forward`` receives ndarrays (and any non-tensor arguments as given) and returns an
    ndarray. ``backward`` returns one gradient per forward input (``None`` for inputs that
    need none), each with exactly its input's shape. In a recorded pass (higher order,
    ``create_graph=True``) the upstream gradient and ``ctx.saved_tensors`` are Tensors, so a
    backward written with chainrule operations is itself differentiable. Optionally define
    ``jvp(ctx, *tangents)`` to support forward mode.
    """

    @staticmethod
    def forward(ctx: Context, *args: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError("Function subclasses must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError("Function subclasses must define backward(ctx, grad)")

    @classmethod
    def _primitive(cls) -> Primitive:
        prim = cls.__dict__.get("_chainrule_primitive")
        if prim is None:
            prim = Primitive(cls.__name__, cls.forward, nin=None, save_inputs=False, register=False)
            prim.vjp_all = _function_vjp(cls)
            prim.jvp_all = _function_jvp(cls)
            prim.vjps = prim.cvjps = ALL_INPUTS
            cls._chainrule_primitive = prim
            from .ir.trace import register_replay

            register_replay(prim, _replay(cls))
        return prim

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = Context(needs)
        values = [a._data if isinstance(a, Tensor) else a for a in args]
        with no_grad():
            out = cls.forward(ctx, *values)
        if isinstance(out, Tensor):
            out = out._data
        if not isinstance(out, (np.ndarray, np.generic)):
            raise RuntimeError(
                f"{cls.__name__}.forward must return an ndarray, got {type(out).__name__}"
            )
        if not (any(needs) and is_grad_enabled()):
            result = _wrap(out)
            if state.ctx.observers:
                _notify_applied(cls._primitive(), args, {"ctx": ctx}, result)
            return result
        edges = tuple(
            (a._node or a) if (isinstance(a, Tensor) and a.requires_grad) else None for a in args
        )
        # Keep the inputs the forward saved (and the output, if saved) where the recorded
        # backward can find them as graph-connected Tensors.
        kept: list[Any] = [None] * len(args)
        out_saved = False
        for v in ctx._saved:
            source: tuple = ("other",)
            for i, value in enumerate(values):
                if v is value and isinstance(value, (np.ndarray, np.generic)):
                    kept[i] = value
                    source = ("input", i)
                    break
            else:
                if v is out:
                    out_saved = True
                    source = ("output",)
                elif not isinstance(v, (np.ndarray, np.generic)):
                    source = ("static",)  # a shape, a flag: no graph needed
            ctx._sources.append(source)
        shapes = tuple(np.shape(v) for v in values)
        node = Node.new(
            cls._primitive(),
            edges,
            tuple(kept),
            out if out_saved else None,
            out.shape,
            out.dtype,
            {"ctx": ctx, "shapes": shapes},
        )
        result = _from_node(out, node)
        if state.ctx.observers:
            node.extra = {"tensors": tuple(a if isinstance(a, Tensor) else None for a in args)}
            notify_node(node, tuple(values), out)
            _notify_applied(node.prim, args, node.params, result)
        return result


def _replay(cls: type) -> Any:
    """How a traced program runs this Function again (on new values)."""

    def call(args: list, params: dict, tensors: bool) -> Any:
        if tensors:
            return cls.apply(*args)
        ctx = Context(tuple(False for _ in args))
        return np.asarray(cls.forward(ctx, *args))

    return call


def _not_differentiable(reason: str) -> Primitive:
    """A primitive that passes a value through but refuses to be differentiated: it stands
    for something a custom Function's backward did outside chainrule's operations."""

    def refuse(*args: Any, **params: Any) -> Any:
        raise RuntimeError(params.get("why", reason))

    prim = Primitive(
        f"not_differentiable({reason})",
        lambda *xs, value, why: value,
        nin=None,
        save_inputs=False,
        register=False,
    )
    prim.vjp_all = lambda g, ans, inputs, params, needed: refuse(**params)
    prim.jvp_all = lambda tangents, ans, inputs, params: refuse(**params)
    prim.vjps = prim.cvjps = ALL_INPUTS
    return prim


_OPAQUE = _not_differentiable("opaque")


def _opaque(value: Any, sources: list, why: str) -> Tensor:
    """``value`` as a Tensor that depends on ``sources`` (Tensors) for the graph's sake but
    raises ``why`` if a gradient ever flows through it."""
    tensors = [s for s in sources if isinstance(s, Tensor) and s._rg]
    if not tensors:
        return _wrap(np.asarray(value))
    return apply(_OPAQUE, tuple(tensors), {"value": np.asarray(value), "why": why})


def _recorded_view(cls: type, ctx: Context, g: Any, ans: Any, inputs: tuple) -> tuple:
    """``ctx.saved_tensors`` for a recorded backward: graph-connected Tensors."""
    view = []
    for v, source in zip(ctx._saved, ctx._sources):
        kind = source[0]
        if kind == "input":
            t = inputs[source[1]]
            view.append(t if t is not None else v)
        elif kind == "output" and ans is not None:
            view.append(ans)
        elif kind == "static":
            view.append(v)
        else:
            why = (
                f"{cls.__name__}.backward cannot be differentiated again: it uses a value "
                f"that forward computed and saved (neither an input nor the output), whose "
                f"dependence on the inputs chainrule cannot see. Save only inputs and the "
                f"output, and recompute the rest in backward with chainrule operations."
            )
            view.append(_opaque(v, [g, *inputs], why))
    return tuple(view)


def _function_vjp(cls: type) -> Any:
    once = getattr(cls.backward, "_chainrule_once", False)

    def vjp_all(g: Any, ans: Any, inputs: tuple, params: dict, needed: tuple) -> tuple:
        ctx, shapes = params["ctx"], params["shapes"]
        recorded = isinstance(g, Tensor)
        if recorded and not once:
            ctx._view = _recorded_view(cls, ctx, g, ans, inputs)
            try:
                grads = cls.backward(ctx, g)
            finally:
                ctx._view = None
        elif recorded:  # once_differentiable: run on arrays, refuse a second derivative
            grads = cls.backward(ctx, g._data)
        else:
            grads = cls.backward(ctx, g)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(shapes):
            raise RuntimeError(
                f"{cls.__name__}.backward returned {len(grads)} gradient(s), but forward took "
                f"{len(shapes)} input(s): return one per input (None where there is none)"
            )
        out = []
        for i, (gi, shape) in enumerate(zip(grads, shapes)):
            if gi is None or not needed[i]:
                out.append(None)
                continue
            if tuple(np.shape(gi._data if isinstance(gi, Tensor) else gi)) != tuple(shape):
                raise RuntimeError(
                    f"{cls.__name__}.backward returned a gradient of shape "
                    f"{tuple(np.shape(getattr(gi, '_data', gi)))} for input {i}, which has "
                    f"shape {tuple(shape)}"
                )
            if recorded and (once or not isinstance(gi, Tensor)):
                why = (
                    f"{cls.__name__}.backward cannot be differentiated again: "
                    + (
                        "it is marked once_differentiable"
                        if once
                        else "it returned an array for input "
                        f"{i}, computed outside chainrule's operations"
                    )
                    + ". Write it with chainrule operations on ctx.saved_tensors and the "
                    "upstream gradient to take higher derivatives."
                )
                gi = _opaque(gi._data if isinstance(gi, Tensor) else gi, [g, *inputs], why)
            elif not recorded and isinstance(gi, Tensor):
                gi = gi._data
            elif not recorded:
                gi = np.asarray(gi)
            out.append(gi)
        return tuple(out)

    return vjp_all


def _function_jvp(cls: type) -> Any:
    def jvp_all(tangents: tuple, ans: Any, inputs: tuple, params: dict) -> Any:
        jvp = getattr(cls, "jvp", None)
        if jvp is None:
            raise RuntimeError(
                f"{cls.__name__} has no forward-mode rule: define a staticmethod "
                f"jvp(ctx, *tangents) to use it with jvp() or jacobian(mode='fwd')"
            )
        ctx = params["ctx"]
        recorded = any(isinstance(t, Tensor) for t in tangents)
        if recorded:
            ctx._view = _recorded_view(cls, ctx, None, ans, inputs)
        try:
            return jvp(ctx, *tangents)
        finally:
            ctx._view = None

    return jvp_all
