"""Pytrees: nested tuples, lists and dicts of arrays, as arguments and results of transforms.

``flatten(tree)`` gives the leaves (anything that is not a tuple, list, dict or None) in a
fixed order and a ``TreeDef`` that ``unflatten`` uses to rebuild the same structure around
new leaves, as JAX does (dicts keep their insertion order; namedtuples keep their type).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import Any

import numpy as np

__all__ = ["TreeDef", "flatten", "unflatten", "tree_map", "leaves"]


class TreeDef:
    """The structure of a pytree, without its leaves.

    >>> leaves_, tree = flatten({'w': [1, 2], 'b': None})
    >>> tree, tree.num_leaves
    ({'w': [*, *], 'b': None}, 2)
    """

    __slots__ = ("kind", "meta", "children", "_key", "_hash", "_flat")

    def __init__(self, kind: str, meta: Any = None, children: tuple = ()) -> None:
        self.kind = kind  # "leaf", "none", "tuple", "list", "dict", "namedtuple"
        self.meta = meta  # dict keys / namedtuple type
        self.children = children
        # compared and hashed on every cr.jit call: the structure as a tuple, made once
        self._key = (kind, meta, tuple(c._key for c in children))
        self._hash = hash(self._key)
        # a container of leaves only: rebuilt from a slice of the leaves (unflatten)
        self._flat = bool(children) and all(c.kind == "leaf" for c in children)

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)

    @property
    def is_leaf(self) -> bool:
        return self.kind == "leaf"

    def __eq__(self, other: Any) -> bool:
        return self is other or (isinstance(other, TreeDef) and self._key == other._key)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(repr(c) for c in self.children)
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children))
            return "{" + inner + "}"
        if self.kind == "list":
            return "[" + inner + "]"
        return "(" + inner + ("," if len(self.children) == 1 else "") + ")"


_LEAF = TreeDef("leaf")


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def flatten(tree: Any) -> tuple[list, TreeDef]:
    """(leaves, structure) of ``tree``.

    >>> flatten({"w": 1, "b": (2, 3)})
    ([1, 2, 3], {'w': *, 'b': (*, *)})
    """
    leaves_out: list = []
    return leaves_out, _flatten(tree, leaves_out)


#: Types that are always leaves, checked first: a transform's arguments are mostly arrays
#: and tensors, and a list of hundreds of them (a scalar network's parameters) is flattened
#: on every cr.jit call. ``chainrule.tensor`` adds ``Tensor``.
LEAF_TYPES: set[type] = {np.ndarray, float, int, complex, bool, np.float64, np.float32}


def _flatten(tree: Any, out: list) -> TreeDef:
    kind = type(tree)
    if kind in LEAF_TYPES:
        out.append(tree)
        return _LEAF
    if kind is list or kind is tuple:
        children = []
        for v in tree:
            if type(v) in LEAF_TYPES:
                out.append(v)
                children.append(_LEAF)
            else:
                children.append(_flatten(v, out))
        return TreeDef(kind.__name__, None, tuple(children))
    if tree is None:
        return TreeDef("none")
    if isinstance(tree, dict):
        keys = tuple(tree)
        return TreeDef("dict", keys, tuple(_flatten(tree[k], out) for k in keys))
    if _is_namedtuple(tree):
        return TreeDef("namedtuple", type(tree), tuple(_flatten(v, out) for v in tree))
    if isinstance(tree, tuple):
        return TreeDef("tuple", None, tuple(_flatten(v, out) for v in tree))
    if isinstance(tree, list):
        return TreeDef("list", None, tuple(_flatten(v, out) for v in tree))
    out.append(tree)
    return _LEAF


def unflatten(treedef: TreeDef, leaves_in: Any) -> Any:
    """The pytree of structure ``treedef`` with ``leaves_in`` (in order) as its leaves.

    >>> leaves_, tree = flatten([1, (2, 3)])
    >>> unflatten(tree, [10, 20, 30])
    [10, (20, 30)]
    """
    it = iter(leaves_in)
    result = _unflatten(treedef, it)
    return result


def _unflatten(treedef: TreeDef, it: Any) -> Any:
    kind = treedef.kind
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    if treedef._flat:
        n = len(treedef.children)
        values = list(islice(it, n))
        if len(values) != n:
            raise ValueError(f"unflatten: too few leaves for {treedef!r}")
    else:
        values = [next(it) if c is _LEAF else _unflatten(c, it) for c in treedef.children]
    if kind == "dict":
        return dict(zip(treedef.meta, values))
    if kind == "namedtuple":
        return treedef.meta(*values)
    if kind == "list":
        return values
    return tuple(values)


def rebuilder(treedef: TreeDef) -> Callable[[list], Any]:
    """A function that does ``unflatten(treedef, leaves)`` for a list of leaves, written
    for this one structure (a container of leaves is a slice of the list): for code that
    rebuilds the same structure on every call (cr.jit's outputs).

    >>> leaves_, tree = flatten((1, [2, 3], {"a": 4}))
    >>> rebuilder(tree)([10, 20, 30, 40])
    (10, [20, 30], {'a': 40})
    """
    consts: dict[str, Any] = {}
    position = 0

    def expr(td: TreeDef, depth: int) -> str:
        nonlocal position
        if depth > 50:
            raise RecursionError
        if td.kind == "leaf":
            position += 1
            return f"w[{position - 1}]"
        if td.kind == "none":
            return "None"
        n = len(td.children)
        if td._flat and td.kind in ("list", "tuple"):
            start, position = position, position + n
            return (
                f"w[{start}:{position}]" if td.kind == "list" else f"tuple(w[{start}:{position}])"
            )
        inner = ", ".join(expr(c, depth + 1) for c in td.children)
        if td.kind == "list":
            return f"[{inner}]"
        if td.kind == "tuple":
            return f"({inner}{',' if n == 1 else ''})"
        name = f"m{len(consts)}"
        consts[name] = td.meta
        if td.kind == "dict":
            return f"dict(zip({name}, ({inner}{',' if n == 1 else ''})))"
        return f"{name}({inner})"  # a namedtuple

    try:
        body = expr(treedef, 0)
    except RecursionError:
        return lambda w: unflatten(treedef, w)
    namespace = dict(consts)
    exec(f"def rebuild(w):\n    return {body}\n", namespace)
    return namespace["rebuild"]


def leaves(tree: Any) -> list:
    """The leaves of ``tree``, in order.

    >>> leaves({'a': (1, 2), 'b': [3]})
    [1, 2, 3]
    """
    return flatten(tree)[0]


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``fn`` applied leaf by leaf (to matching leaves of ``rest``), same structure.

    >>> tree_map(lambda a, b: a + b, (1, [2]), (10, [20]))
    (11, [22])
    """
    flat, treedef = flatten(tree)
    others = []
    for r in rest:
        r_flat, r_def = flatten(r)
        if r_def != treedef:
            raise ValueError(f"tree_map: structures differ: {treedef!r} and {r_def!r}")
        others.append(r_flat)
    return unflatten(treedef, [fn(*xs) for xs in zip(flat, *others)])
