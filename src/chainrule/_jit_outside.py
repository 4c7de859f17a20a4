"""What a jitted function reads from outside its arguments, and the guards that tell when
its compiled code no longer fits what those names now hold.

A function reads values by name: its closure's variables, the globals its code names, the
attributes of the object a bound method belongs to, and, one level inside, the items of a
list, tuple or dict held there. ``reads(f)`` finds those (and those of the functions it
names, a few levels down). cr.jit then

- makes the NumPy arrays among them inputs of the program, read at every call (a change
  made in place is seen), not constants holding their traced value;
- guards each name whose value the code was made for: a tensor, an array, a Python
  number, string or None, a function, a Module. A name bound to another object
  since (``lr = lr * 0.9``, ``model.act = nn.Tanh()``, ``w = new_tensor``) makes the code
  invalid and the next call compiles again, as eager code would read the new value.

Numbers are compared by value (``0.1`` rebound to an equal ``0.1`` still fits); everything
else by identity. Python modules and classes are not guarded. An array the program holds
as a constant (an index: ``x[idx]``) is also compared by contents at each call.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import types
from typing import Any

import numpy as np

#: the values compared by value, not identity (immutable; the trace may depend on them)
_VALUE_TYPES = (bool, int, float, complex, str, bytes, type(None), np.generic)
#: the values a guard never watches
_UNGUARDED = (types.ModuleType, type)
_MISSING = object()


class CellScope:
    """A closure cell read like a dict (``get``), the one name it holds."""

    __slots__ = ("cell",)

    def __init__(self, cell: Any) -> None:
        self.cell = cell

    def get(self, _name: Any, default: Any = None) -> Any:
        try:
            return self.cell.cell_contents
        except ValueError:  # emptied (del of a nonlocal)
            return default


class ItemScope:
    """A list or tuple read like a dict: ``get(i)`` is item ``i``, if it is that long."""

    __slots__ = ("items",)

    def __init__(self, items: list | tuple) -> None:
        self.items = items

    def get(self, index: int, default: Any = None) -> Any:
        items = self.items
        return items[index] if index < len(items) else default


def _names(code: Any) -> set[str]:
    """The global and attribute names ``code`` reads, nested code (comprehensions,
    lambdas, inner functions) included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def reads(f: Any, depth: int = 3) -> list[tuple[Any, Any, Any, str]]:
    """(scope, name, value, description) for each value ``f`` reads by name from outside
    its arguments, and those of the functions it names, ``depth`` levels down. ``scope`` has
    ``get(name, default)`` (a dict, a ``CellScope``, an ``ItemScope``)."""
    from .nn.module import Module

    found: list[tuple[Any, Any, Any, str]] = []
    seen: set[tuple[Any, int]] = set()
    todo: list[tuple[Any, int]] = [(f, 0)]
    while todo:
        fn, level = todo.pop()
        owner = None
        if isinstance(fn, Module):  # a Module's call runs its forward, and its submodules'
            if ("module", id(fn)) in seen:
                continue
            seen.add(("module", id(fn)))
            todo.extend((m, level) for m in fn.children())
            fn = type(fn).forward.__get__(fn)
        inner = getattr(fn, "__wrapped__", None)  # a jitted function, functools.wraps
        if inner is not None and getattr(fn, "__code__", None) is None:
            fn = inner
        if isinstance(fn, types.MethodType):
            owner, fn = fn.__self__, fn.__func__
        elif getattr(fn, "__code__", None) is None:  # an object with a __call__ of its own
            mro = type(fn).__mro__ if callable(fn) else ()
            call = next((k.__dict__["__call__"] for k in mro if "__call__" in k.__dict__), None)
            if isinstance(call, types.FunctionType):
                owner, fn = fn, call
        code = getattr(fn, "__code__", None)
        key = (id(fn), id(owner))  # (one class's forward, read for each of its instances)
        if code is None or key in seen:
            continue
        seen.add(key)
        names = _names(code)
        scope = getattr(fn, "__globals__", None) or {}
        # the library's own functions (chainrule's transforms, NumPy's) never rebind their
        # names: nothing of theirs is guarded, but the user's functions they close over are
        # followed (cr.grad(f) closes over f)
        library = _library(scope)
        values: list[tuple[Any, Any, Any, str]] = []
        cells = getattr(fn, "__closure__", None) or ()
        for name, cell in zip(code.co_freevars, cells):
            cell_scope = CellScope(cell)
            value = cell_scope.get(name, _MISSING)
            if value is not _MISSING:
                values.append((cell_scope, name, value, f"the closure variable '{name}'"))
        if not library:
            for name in sorted(names):
                if name in scope:
                    values.append((scope, name, scope[name], f"the global '{name}'"))
        attrs = getattr(owner, "__dict__", None) if owner is not None else None
        if isinstance(attrs, dict) and not library:
            kind = type(owner).__name__
            for name in sorted(names & set(attrs)):
                values.append((attrs, name, attrs[name], f"the attribute {kind}.{name}"))
        for where, name, value, what in values:
            if not library:
                found.append((where, name, value, what))
                found.extend(_items(value, what))
            if level < depth and callable(value) and not isinstance(value, _UNGUARDED):
                todo.append((value, level + 1))
    return found


#: the packages whose functions' names are not guarded (with the standard library)
_LIBRARIES = frozenset(("chainrule", "numpy"))
_STDLIB = os.path.normcase(os.path.realpath(sysconfig.get_paths()["stdlib"])) + os.sep


def _library(scope: dict) -> bool:
    """Whether a function with these globals is the library's own, or the standard
    library's (by where its module's file is: a user's ``code.py`` is not)."""
    name = scope.get("__name__")
    if not isinstance(name, str):
        return False
    if name.split(".")[0] in _LIBRARIES:
        return True
    path = scope.get("__file__")
    if not isinstance(path, str):  # built in, frozen
        return name.split(".")[0] in sys.stdlib_module_names
    path = os.path.normcase(os.path.realpath(path))
    return path.startswith(_STDLIB) and "site-packages" not in path


def _items(value: Any, what: str) -> list[tuple[Any, Any, Any, str]]:
    """The arrays and tensors one level inside a list, tuple or dict ``value``."""
    from .tensor import Tensor

    kind = type(value)
    if kind is dict:
        pairs = list(value.items())[:256]
        scope: Any = value
    elif kind is list or kind is tuple:
        pairs = list(enumerate(value[:256]))
        scope = ItemScope(value)
    else:
        return []
    return [
        (scope, key, item, f"{what}[{key!r}]")
        for key, item in pairs
        if isinstance(item, (np.ndarray, Tensor))
    ]


def module_reads(modules: Any) -> list[tuple[Any, Any, Any, str]]:
    """(scope, name, value, description) for the attributes of ``modules`` (those whose
    forward ran) that the trace may depend on: numbers, strings and None (``p``,
    ``negative_slope``, ``eps``, ``bias = None``), their submodules, tensors and arrays."""
    from .nn.module import Module
    from .tensor import Tensor

    watched = (*_VALUE_TYPES, Module, Tensor, np.ndarray)
    found = []
    for m in modules:
        attrs = m.__dict__
        kind = type(m).__name__
        for name, value in list(attrs.items()):
            if name == "training":  # (the modes are checked apart: see jitting)
                continue
            if isinstance(value, watched) or type(value) is tuple:
                found.append((attrs, name, value, f"the attribute {kind}.{name}"))
    return found


def arrays_in(found: list[tuple[Any, Any, Any, str]]) -> dict[int, np.ndarray]:
    """The NumPy arrays among ``found`` (id -> array)."""
    return {id(v): v for _s, _n, v, _w in found if type(v) is np.ndarray}


def outside_arrays(found: list[tuple[Any, Any, Any, str]]) -> dict[int, np.ndarray]:
    """The NumPy arrays among ``found`` that become inputs of the program, read at every
    call (id -> array). A 0-d array stays a constant (a Tensor holds a 0-d value as a
    NumPy scalar), compared by contents (``Guards``)."""
    return {k: v for k, v in arrays_in(found).items() if v.ndim}


def guards(found: list[tuple[Any, Any, Any, str]]) -> list[tuple]:
    """The guards (scope, name, value, description) for ``found``, one per (scope, name):
    every name but those holding a Python module or a class."""
    out = []
    seen: set[tuple[int, Any]] = set()
    for scope, name, value, what in found:
        if isinstance(value, _UNGUARDED):
            continue
        key = (id(scope.items if type(scope) is ItemScope else scope), name)
        if key in seen:
            continue
        seen.add(key)
        out.append((scope, name, value, what))
    return out


def baked(program: Any, arrays: dict[int, np.ndarray]) -> list[np.ndarray]:
    """The arrays of ``arrays`` (read from outside) that ``program`` holds as constants: an
    index (``x[idx]``: the index is part of the operation) or a literal operand. Their
    contents are compared at each call (a change made in place compiles again)."""
    from .ir.program import Literal

    held: dict[int, np.ndarray] = {}

    def visit(value: Any) -> None:
        if type(value) is np.ndarray:
            if id(value) in arrays:
                held[id(value)] = value
        elif type(value) is tuple or type(value) is list:
            for item in value:
                visit(item)

    for e in program.eqns:
        for value in e.params.values():
            visit(value)
        for v in e.inputs:
            if isinstance(v, Literal):
                visit(v.value)
    return list(held.values())


def same(now: Any, value: Any) -> bool:
    """Whether ``now`` (a name's value at a call) fits code made for ``value``: the same
    object, or an equal number, string or None of the same type (0.0 and -0.0 differ, a
    NaN equals a NaN)."""
    if now is value:
        return True
    if type(now) is not type(value):
        return False
    if type(value) is tuple:
        return len(now) == len(value) and all(same(a, b) for a, b in zip(now, value))
    if not isinstance(value, _VALUE_TYPES):
        return False
    from .jitting import _tagged

    try:
        return bool(_tagged(now) == _tagged(value))
    except (TypeError, ValueError):
        return False


class Guards:
    """The guards of one compiled program (cr.jit's, cr.vmap's): ``slots`` (scope, name,
    value) and their descriptions, and ``contents`` (array, the contents the program was
    made for)."""

    __slots__ = ("slots", "names", "contents")

    def __init__(self, found: list, modules: Any, program: Any) -> None:
        """``found``: ``reads(f)`` before the trace (each name is read again now, after
        it); ``modules``: the Modules whose forward ran; ``program``: the traced program."""
        now = [(s, n, s.get(n, _MISSING), w) for s, n, _v, w in found]
        now = [g for g in now if g[2] is not _MISSING]
        now += module_reads(modules)
        held = guards(now)
        self.slots = [(scope, name, value) for scope, name, value, _what in held]
        self.names = [what for _scope, _name, _value, what in held]
        self.contents = [(a, a.copy()) for a in baked(program, arrays_in(now))]

    def hold(self) -> bool:
        """Whether every name still holds what the program was made for."""
        for scope, name, value in self.slots:
            now = scope.get(name, _MISSING)
            if now is not value and not same(now, value):
                return False
        for array, made_for in self.contents:
            if not np.array_equal(array, made_for):
                return False
        return True

    def stale(self) -> str | None:
        """The first thing that no longer holds, described (None if all hold)."""
        for (scope, name, value), what in zip(self.slots, self.names):
            if not same(scope.get(name, _MISSING), value):
                return what
        for array, made_for in self.contents:
            if not np.array_equal(array, made_for):
                return f"the contents of an array of shape {array.shape} it indexes with"
        return None


class NumpyDraws:
    """Random numbers the function draws with NumPy itself while it is traced (a global
    ``rng.standard_normal(3)``, ``np.random.rand``): NumPy computes them once, and the
    compiled program would hold that one draw as a constant for every call. ``check()``
    after the trace raises if a generator the function reads (or NumPy's global one)
    moved, other than those the traced operations draw from (``Dropout``)."""

    def __init__(self, found: list) -> None:
        gens: dict[int, tuple[Any, str]] = {}
        for _s, _n, value, what in found:
            if isinstance(value, (np.random.Generator, np.random.RandomState)):
                gens.setdefault(id(value), (value, what))
        self.gens = [(g, what, _state(g)) for g, what in gens.values()]
        self.legacy = np.random.get_state()

    def check(self, transform: str, name: str, traced: Any) -> None:
        """Raise for a generator that moved during the trace (``traced``: the ids of
        those the program's own operations draw from)."""
        moved = [w for g, w, st in self.gens if id(g) not in traced and not _equal(_state(g), st)]
        if not _equal(np.random.get_state(), self.legacy):
            moved.append("NumPy's global generator (np.random)")
        if moved:
            raise RuntimeError(
                f"{transform}: {name} draws random numbers with NumPy ({moved[0]}) while it "
                f"is traced: NumPy computes them once, and the compiled program would use "
                f"that one draw at every call. Draw them outside and pass them as an "
                f"argument (or use a Dropout layer, whose draws are part of the program)."
            )


def _state(gen: Any) -> Any:
    return gen.bit_generator.state if isinstance(gen, np.random.Generator) else gen.get_state()


def _equal(a: Any, b: Any) -> bool:
    """Equality of generator states (dicts and tuples holding arrays)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return (
            isinstance(b, (tuple, list))
            and len(a) == len(b)
            and all(_equal(x, y) for x, y in zip(a, b))
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)


class NumpyWrites:
    """Arrays read from outside that the function changes with NumPy itself while it is
    traced (``counts[0] += 1``, ``np.copyto(buf, ...)`` on a bare array): the compiled
    program would not repeat that change. ``check()`` after the trace (once the changes
    chainrule's own in-place operations made are undone) raises for one whose contents
    changed. Arrays over ``limit`` bytes are not checked (their digest costs a pass)."""

    def __init__(self, found: list, limit: int = 1 << 26) -> None:
        names = {id(v): w for _s, _n, v, w in found}
        self.before = [
            (a, names[key], _digest(a)) for key, a in arrays_in(found).items() if a.nbytes <= limit
        ]

    def check(self, transform: str, name: str) -> None:
        for a, what, digest in self.before:
            if _digest(a) != digest:
                raise RuntimeError(
                    f"{transform}: {name} changes {what} (an array of shape {a.shape}) in "
                    f"place with NumPy while it is traced: the compiled program would not "
                    f"repeat that change. Make it a tensor (cr.as_tensor) and change it "
                    f"with chainrule's in-place operations, or do it outside."
                )


def _digest(a: np.ndarray) -> int:
    import zlib

    data = np.ascontiguousarray(a).reshape(-1)  # (a view where it can be)
    return zlib.crc32(data.view(np.uint8)) if data.size else 0
