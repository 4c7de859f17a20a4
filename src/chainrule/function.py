"""Custom operations: subclass ``Function`` with a ``forward`` on arrays and a ``backward``
that turns the upstream gradient into one downstream gradient per input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import state
from .engine import Node
from .primitives import Primitive
from .tensor import Tensor, _from_node, _wrap, is_grad_enabled, no_grad, notify_node


class Context:
    """Handed to ``forward`` and ``backward``: stash values with ``save_for_backward``."""

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *values: Any) -> None:
        self.saved_tensors = values


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

    ``forward`` receives ndarrays (and any non-tensor arguments as given) and returns an
    ndarray. ``backward`` returns one gradient per forward input (``None`` for inputs that
    need none), each with exactly its input's shape. When ``backward`` runs inside a
    recorded pass (``create_graph=True``) the upstream gradient is a Tensor, so a
    backward written with operators is itself differentiable in it. Optionally define
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
            prim = Primitive(
                cls.__name__,
                cls.forward,
                vjps=(),
                jvps=(),
                save_inputs=False,
                vjp_all=_function_vjp(cls),
                jvp_all=_function_jvp(cls),
                register=False,
            )
            cls._chainrule_primitive = prim
        return prim

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = Context(needs)
        values = [a.data if isinstance(a, Tensor) else a for a in args]
        with no_grad():
            out = cls.forward(ctx, *values)
        if isinstance(out, Tensor):
            out = out.data
        if not isinstance(out, (np.ndarray, np.generic)):
            raise RuntimeError(
                f"{cls.__name__}.forward must return an ndarray, got {type(out).__name__}"
            )
        if not (any(needs) and is_grad_enabled()):
            return _wrap(out)
        edges = tuple(
            (a._node or a) if (isinstance(a, Tensor) and a.requires_grad) else None for a in args
        )
        shapes = tuple(np.shape(v) for v in values)
        node = Node.new(
            cls._primitive(),
            edges,
            (None,) * len(args),
            None,
            out.shape,
            out.dtype,
            {"ctx": ctx, "shapes": shapes},
        )
        if state.ctx.observers:
            notify_node(node, tuple(values), out)
        return _from_node(out, node)


def _function_vjp(cls: type) -> Any:
    def vjp_all(g: Any, ans: Any, inputs: tuple, params: dict, needed: tuple) -> tuple:
        ctx, shapes = params["ctx"], params["shapes"]
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
            if not isinstance(gi, Tensor):
                gi = np.asarray(gi)
                if isinstance(g, Tensor):
                    gi = _wrap(gi)
            if tuple(gi.shape) != tuple(shape):
                raise RuntimeError(
                    f"{cls.__name__}.backward returned a gradient of shape {tuple(gi.shape)} "
                    f"for input {i}, which has shape {tuple(shape)}"
                )
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
        return jvp(params["ctx"], *tangents)

    return jvp_all
