"""Primitive operations and the registry that holds them.

A primitive knows how to compute its value on ndarrays (``impl``) and, per input, how to
pull a gradient back (VJP) and push a tangent forward (JVP). ``rules.py`` fills the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Rule = Callable[..., Any]

#: Every primitive by name: the table that the registry test walks.
REGISTRY: dict[str, Primitive] = {}


class Primitive:
    """One operation of the closed set the engine differentiates.

    Parameters
    ----------
    name:
        Used in graph pictures, error messages and the rule table.
    impl:
        ``impl(*arrays, **params) -> ndarray``: the forward computation on plain arrays.
    vjps, jvps:
        One rule per input (``None`` where the input is not differentiable).
        ``vjp(g, ans, *inputs, **params)`` returns the downstream gradient for that input
        (possibly still broadcast: the engine sums it back to the input's shape).
        ``jvp(t, ans, *inputs, **params)`` returns that input's contribution to the output
        tangent. Rules are written with operators and primitives, so they run on ndarrays
        (fast first-order path) and on Tensors (recorded, for higher order) alike.
    save_inputs, save_output:
        Whether the rules read the input values / the output value. What is not needed is
        not kept alive by the graph.
    residual:
        See ``__init__``: a forward that also returns a value for the VJP rules.
    """

    __slots__ = (
        "name",
        "impl",
        "vjps",
        "jvps",
        "save_inputs",
        "save_output",
        "linear",
        "vjp_all",
        "jvp_all",
        "residual",
    )

    def __init__(
        self,
        name: str,
        impl: Callable[..., Any],
        vjps: Sequence[Rule | None],
        jvps: Sequence[Rule | None],
        *,
        save_inputs: bool = True,
        save_output: bool = False,
        linear: bool = False,
        vjp_all: Rule | None = None,
        jvp_all: Rule | None = None,
        residual: Rule | None = None,
        register: bool = True,
    ) -> None:
        if register and name in REGISTRY:
            raise ValueError(f"primitive {name!r} is already registered")
        self.name = name
        self.impl = impl
        self.vjps = vjps
        self.jvps = jvps
        self.save_inputs = save_inputs
        self.save_output = save_output
        self.linear = linear
        # Optional whole-node rules: ``vjp_all(g, ans, inputs, params, needed)`` returns one
        # gradient per input at once (custom Functions, checkpoint), and
        # ``jvp_all(tangents, ans, inputs, params)`` the output tangent from all inputs'.
        self.vjp_all = vjp_all
        self.jvp_all = jvp_all
        # Optional ``residual(*arrays, **params) -> (out, saved)``: used instead of ``impl``
        # when a node is recorded; ``saved`` (an intermediate of the forward computation)
        # is kept in the node and handed to the array-level VJP rules as ``ans`` (their
        # recorded, higher-order forms get ``ans=None`` and recompute what they need).
        # For a fused op whose gradient reuses a forward intermediate (cross-entropy's
        # log-softmax), as hand-written code keeps it in its cache.
        self.residual = residual
        if register:
            REGISTRY[name] = self

    def __call__(self, *args: Any, **params: Any) -> Any:
        """Apply to arrays (returns an array) or to Tensors (records, returns a Tensor)."""
        for a in args:
            if isinstance(a, _Tensor):
                return _BOUND["apply"](self, args, params)
        return self.impl(*args, **params)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


class PerInput:
    """Rule list for a primitive with any number of inputs (``concatenate``).

    ``rules[i]`` is ``rule`` with ``index=i`` bound, so the engine indexes it like a tuple.
    """

    __slots__ = ("rule",)

    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    def __getitem__(self, i: int) -> Rule:
        rule = self.rule

        def bound(g: Any, ans: Any, *inputs: Any, **params: Any) -> Any:
            return rule(g, ans, *inputs, index=i, **params)

        return bound


# Filled by tensor.py when it is imported: primitives must not import it (it imports us).
_BOUND: dict[str, Any] = {}


class _Unbound:
    """Stands for the Tensor class until ``bind`` (nothing is an instance of it)."""


_Tensor: type = _Unbound


def bind(tensor_cls: type, apply_fn: Callable[..., Any]) -> None:
    """Tell primitives which class is a Tensor and how to record an application."""
    global _Tensor
    _Tensor = tensor_cls
    _BOUND["Tensor"] = tensor_cls
    _BOUND["apply"] = apply_fn
