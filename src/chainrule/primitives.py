"""Primitive operations and the per-transformation registries that hold their rules.

A primitive knows how to compute its value on arrays (``impl``). Each transformation keeps
its own registry keyed by primitive name, as JAX does: ``VJP`` (pull a gradient back),
``JVP`` (push a tangent forward), ``BATCH`` (vmap) and ``LOWER`` (generated code). Rules are
attached with ``defvjp`` / ``defjvp`` / ``defbatch`` / ``deflower``; the helpers below
derive what can be derived (a unary elementwise primitive declares f' once, a linear one
is its own JVP). ``rules.py`` fills the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Rule = Callable[..., Any]

#: Every primitive by name: the table the registry test walks.
REGISTRY: dict[str, Primitive] = {}
#: The per-transformation registries (name -> rules); ``Primitive`` attributes mirror them
#: so the engine's hot loops read one attribute instead of a dict lookup.
VJP: dict[str, Any] = {}
JVP: dict[str, Any] = {}
BATCH: dict[str, Any] = {}
LOWER: dict[str, Any] = {}

#: Kinds of primitive (what vmap and the views may assume about it).
KINDS = (
    "elementwise",  # the output broadcasts the inputs, value by value
    "reduction",  # reduces axes of one input (params: axis, keepdims)
    "shape",  # moves or copies values without arithmetic
    "index",  # gathers or scatters values at indices
    "contraction",  # matmul-like products
    "loss",  # fused losses
    "compare",  # non-differentiable tests (comparisons, logical ops, sign)
    "other",
)


class Primitive:
    """One operation of the closed set the engine differentiates.

    Parameters
    ----------
    name:
        Used in graph pictures, error messages, generated code and the registries.
    impl:
        ``impl(*arrays, **params) -> array``: the forward computation on plain arrays.
    kind:
        One of ``KINDS``.
    save_inputs, save_output:
        Whether the rules read the input values / the output value. What is not needed is
        not kept alive by the graph.
    differentiable:
        False for primitives whose output carries no gradient (comparisons, ``sign``):
        they are recorded in traced programs but never in the autodiff graph.
    complex:
        Whether complex inputs are accepted (otherwise ``TypeError`` naming the primitive).
    linear:
        Linear in its differentiable inputs (its JVP is itself applied to the tangents).
    symbol:
        How pictures and tables show it (``"+"``, ``"*"``, ``"exp"``); defaults to the name.
    expression:
        Whether ``chainrule explain``'s expression language may call it by name.

    Rules: ``vjp(g, ans, *inputs, **params)`` returns the downstream gradient for one input
    (possibly still broadcast: the engine sums it back to the input's shape), and
    ``jvp(t, ans, *inputs, **params)`` that input's contribution to the output tangent.
    They are written with operators and primitives, so they run on arrays (the fast
    first-order path) and on Tensors (recorded: for higher order and traced programs)
    alike, and depend on values only through chainrule operations (comparisons included),
    never through value branches. ``cvjps`` are the VJP rules used when the node's output is
    complex (PyTorch's convention: ``g * conj(f'(z))``); they default to ``vjps``.
    """

    __slots__ = (
        "name",
        "impl",
        "kind",
        "vjps",
        "cvjps",
        "jvps",
        "vjp_all",
        "jvp_all",
        "batch",
        "lower",
        "save_inputs",
        "save_output",
        "differentiable",
        "complex",
        "linear",
        "symbol",
        "expression",
        "nin",
        "to_leaves",
    )

    def __init__(
        self,
        name: str,
        impl: Callable[..., Any],
        vjps: Sequence[Rule | None] | None = None,
        jvps: Sequence[Rule | None] | None = None,
        *,
        kind: str = "other",
        nin: int | None = 1,
        save_inputs: bool = True,
        save_output: bool = False,
        differentiable: bool = True,
        complex: bool = True,
        linear: bool = False,
        symbol: str | None = None,
        expression: bool = False,
        vjp_all: Rule | None = None,
        jvp_all: Rule | None = None,
        register: bool = True,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"primitive {name!r}: unknown kind {kind!r}")
        if register and name in REGISTRY:
            raise ValueError(f"primitive {name!r} is already registered")
        self.name = name
        self.impl = impl
        self.kind = kind
        self.nin = nin
        self.save_inputs = save_inputs
        self.save_output = save_output
        self.differentiable = differentiable
        self.complex = complex
        self.linear = linear
        self.symbol = symbol or name
        self.expression = expression
        self.vjps: Any = () if differentiable else None
        self.cvjps: Any = None
        self.jvps: Any = () if differentiable else None
        # Optional whole-node rules: ``vjp_all(g, ans, inputs, params, needed)`` returns one
        # gradient per input at once (custom Functions, checkpoint), and
        # ``jvp_all(tangents, ans, inputs, params)`` the output tangent from all inputs'.
        self.vjp_all: Rule | None = vjp_all
        self.jvp_all: Rule | None = jvp_all
        self.batch: Rule | None = None
        self.lower: Any = None
        #: ``to_leaves(node, g)``, for a node whose inputs are all leaves: their gradients
        #: (one per input, None where there is none) as arrays of their own, not shared
        #: with anything (a jitted function's compiled backward; see engine)
        self.to_leaves: Any = None
        if register:
            REGISTRY[name] = self
        # The rules may also be given here (the older, positional form of the table).
        if vjps is not None:
            defvjp(self, *_as_rules(vjps))
        if jvps is not None:
            defjvp(self, *_as_rules(jvps))
        if vjp_all is not None and vjps is None:
            self.vjps = self.cvjps = ALL_INPUTS

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

    def __len__(self) -> int:  # any number of inputs
        return 1 << 30


class FirstInput:
    """Rule list for a primitive whose first input(s) are differentiable and whose other
    inputs (any number: index arrays) are not: ``FirstInput(rule_0, rule_1, ...)``."""

    __slots__ = ("rules",)

    def __init__(self, *rules: Rule) -> None:
        self.rules = rules

    def __getitem__(self, i: int) -> Rule | None:
        return self.rules[i] if i < len(self.rules) else None

    def __len__(self) -> int:
        return 1 << 30


#: Rule list of whole-node primitives (``vjp_all``): every input may receive a gradient.
ALL_INPUTS = PerInput(lambda *args, **params: None)


# --------------------------------------------------------------------------- registries


def defvjp(
    prim: Primitive, *rules: Rule | None, complex_rules: Sequence[Rule | None] | None = None
):
    """Register ``prim``'s VJP rules, one per input (``None``: not differentiable), and
    optionally different rules for complex outputs."""
    prim.vjps = _rule_list(rules[0]) if len(rules) == 1 else tuple(rules)
    prim.cvjps = prim.vjps if complex_rules is None else _rule_list(complex_rules)
    VJP[prim.name] = prim.vjps
    return prim


def _as_rules(rules: Any) -> tuple:
    return (rules,) if isinstance(rules, (PerInput, FirstInput)) else tuple(rules)


def _rule_list(rules: Any) -> Any:
    if isinstance(rules, (PerInput, FirstInput)):
        return rules
    return tuple(rules) if isinstance(rules, (tuple, list)) else (rules,)


def defjvp(prim: Primitive, *rules: Rule | None) -> Primitive:
    """Register ``prim``'s JVP rules, one per input (``None``: not differentiable)."""
    prim.jvps = _rule_list(rules[0]) if len(rules) == 1 else tuple(rules)
    JVP[prim.name] = prim.jvps
    return prim


def defbatch(prim: Primitive, rule: Rule) -> Primitive:
    """Register ``prim``'s batching rule (for ``cr.vmap``)."""
    prim.batch = rule
    BATCH[prim.name] = rule
    return prim


def deflower(prim: Primitive, lowering: Any) -> Primitive:
    """Register how generated code writes ``prim``: a template string such as
    ``"{0} + {1}"`` (inputs by position, params by name) or a function
    ``lowering(ctx) -> str``; see ``chainrule.ir.lower``."""
    prim.lower = lowering
    LOWER[prim.name] = lowering
    return prim


def deflinear(prim: Primitive) -> Primitive:
    """A linear unary primitive's JVP is the primitive itself applied to the tangent."""

    def jvp(t: Any, ans: Any, x: Any, **params: Any) -> Any:
        return prim(t, **params)

    return defjvp(prim, jvp)


def nondifferentiable(
    name: str, impl: Callable[..., Any], nin: int, *, kind: str = "compare", **options: Any
) -> Primitive:
    """A primitive whose output carries no gradient (comparisons, logical ops, ``sign``):
    recorded in traced programs, never in the autodiff graph."""
    options.setdefault("save_inputs", False)
    return Primitive(name, impl, kind=kind, nin=nin, differentiable=False, **options)


# --------------------------------------------------------------------------- late binding

# The one late-binding mechanism of the core: tensor.py tells the primitives which class
# is a Tensor and how to record an application (it imports this module, so this module
# cannot import it). The engine reads the same table.
_BOUND: dict[str, Any] = {}


class _Unbound:
    """Stands for the Tensor class until ``bind`` (nothing is an instance of it)."""


_Tensor: type = _Unbound


def bind(tensor_cls: type, **functions: Callable[..., Any]) -> None:
    """Tell primitives and the engine which class is a Tensor and how to record."""
    global _Tensor
    _Tensor = tensor_cls
    _BOUND["Tensor"] = tensor_cls
    _BOUND.update(functions)


def bound(name: str) -> Any:
    """A function bound by tensor.py (``apply``, ``wrap``, ``from_node``, ...)."""
    return _BOUND[name]
