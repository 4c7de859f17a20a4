"""cr.jit (module chainrule.jitting): trace once per signature, optimize, run generated code.

The first call for a signature (shapes, dtypes, static values, which inputs require grad,
grad mode) traces ``f`` to a program (``chainrule.ir``), optimizes it (constant folding,
common subexpressions, algebraic simplification, dead code) and compiles it
(``ir.compile``); later calls run the cached code. Called on tensors that require grad, a
jitted function is ONE node of the eager graph whose backward is compiled too: the joint
forward + backward program, split at the values the backward needs. Tensors ``f`` reads from
its closure that require grad (a Module's parameters) are inputs of the program, read at
call time, and their ``.grad`` fills on backward.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import sys
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from itertools import compress, count
from operator import attrgetter
from sys import getrefcount
from typing import Any, NamedTuple

import numpy as np

from . import _jit_outside as jit_outside
from . import state, versions
from .engine import Node
from .ir import LengthChanged, Program, Var, run_on_tensors
from .ir.compile import BACKENDS, Compiled, _compile_arrays, compile_program
from .ir.passes import cse, dce, fold, simplify_more
from .ir.program import Literal
from .ir.trace import Tracer
from .primitives import ALL_INPUTS, Primitive
from .pytree import flatten, rebuilder, unflatten
from .tensor import Tensor, _from_node, _wrap, copy_of, is_grad_enabled

__all__ = ["CacheInfo", "Jitted", "jit"]


class CacheInfo(NamedTuple):
    """What a jitted function's cache holds (``Jitted.cache_info()``).

    Examples
    --------
    >>> import chainrule as cr
    >>> f = cr.jit(lambda x: x + 1.0)
    >>> _ = f(cr.tensor([1.0])); _ = f(cr.tensor([2.0]))
    >>> info = f.cache_info()
    >>> (info.hits, info.misses, info.currsize)
    (1, 1, 1)
    """

    hits: int
    misses: int
    maxsize: int
    currsize: int
    compile_seconds: float


def jit(
    f: Callable | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    backend: str = "numpy",
    cache_size: int = 64,
) -> Any:
    """Compile ``f``: traced once per signature, optimized, run as generated NumPy code.

    ``static_argnums`` name arguments that are not arrays (flags, sizes): their values are
    part of the signature. Python numbers passed as other arguments are static too (each
    new value compiles anew; pass arrays for values that change). ``backend`` is
    ``"numpy"``. Works as a decorator, and composes both ways: ``cr.jit(cr.grad(f))``
    compiles the gradient; ``cr.grad(cr.jit(f))`` differentiates through compiled code.

    Examples
    --------
    >>> import chainrule as cr
    >>> @cr.jit
    ... def f(x):
    ...     return (cr.tanh(x) ** 2).sum()
    >>> float(f(cr.tensor([0.5, -1.0])))
    0.7935...
    >>> g = cr.jit(cr.grad(f))
    >>> g(cr.tensor([0.5, -1.0])).numpy().round(4)
    array([ 0.7269, -0.6397])
    >>> print(f.source(cr.tensor([0.5, -1.0])).splitlines()[-1].strip())
    return (sum0,)
    """
    if f is None:
        return functools.partial(
            jit, static_argnums=static_argnums, backend=backend, cache_size=cache_size
        )
    if backend not in BACKENDS:
        raise ValueError(f"jit: unknown backend {backend!r}; expected one of {sorted(BACKENDS)}")
    return Jitted(f, static_argnums=static_argnums, cache_size=cache_size, backend=backend)


class _Signature(NamedTuple):
    key: Any
    leaves: list
    treedef: Any
    plain: bool = False  # every leaf an ndarray or NumPy scalar (so a program input)


#: A leaf's part of the signature: the shape and dtype of an array, a NumPy scalar or a
#: tensor's data (in two tuples: shapes, dtypes); which tensors require grad is the key's
#: tuple of their positions.
_SHAPE, _DTYPE = attrgetter("shape"), attrgetter("dtype")
_TENSOR_SHAPE, _TENSOR_DTYPE = attrgetter("_data.shape"), attrgetter("_data.dtype")
_REQUIRES_GRAD = attrgetter("_rg")
#: What a leaf of each type is to the signature: 1 an array (ndarray, NumPy scalar), 2 a
#: tensor, 0 anything else (a static value, a container, an ndarray subclass: the full
#: path decides). Filled as types are met.
_KIND: dict[type, int] = {}
#: The TreeDef of ``(list(args), {})`` by its arguments' outline (None for an argument
#: that is a leaf, (list or tuple, length) for a flat container of leaves): made once, not
#: on every call (the flattening of hundreds of 0-d parameters was most of a call).
_OUTLINES: dict[tuple, Any] = {}


_ARRAY_ONLY = {np.ndarray}


def _kind(t: type) -> int:
    k = _KIND.get(t)
    if k is None:
        if t is np.ndarray or issubclass(t, np.generic):
            k = 1
        elif issubclass(t, Tensor):
            k = 2
        else:
            k = 0
        _KIND[t] = k
    return k


def _specs(leaves: list, kinds: set[int]) -> tuple[tuple, tuple, tuple] | None:
    """(shapes, dtypes, positions of the leaves that require grad) of leaves that are all
    arrays or tensors; None when one is something else."""
    if kinds == {1}:
        return tuple(map(_SHAPE, leaves)), tuple(map(_DTYPE, leaves)), ()
    if kinds == {2}:
        return (
            tuple(map(_TENSOR_SHAPE, leaves)),
            tuple(map(_TENSOR_DTYPE, leaves)),
            tuple(compress(count(), map(_REQUIRES_GRAD, leaves))),
        )
    if 0 in kinds:
        return None
    shapes, dtypes, rgs = [], [], []
    for k, leaf in enumerate(leaves):
        data = leaf if type(leaf) is np.ndarray or isinstance(leaf, np.generic) else leaf._data
        shapes.append(data.shape)
        dtypes.append(data.dtype)
        if data is not leaf and leaf._rg:
            rgs.append(k)
    return tuple(shapes), tuple(dtypes), tuple(rgs)


class Jitted:
    """A jitted function (see ``jit``): call it like ``f``; ``source(*args)`` is the code
    generated for those arguments' signature, ``cache_info()`` counts hits, misses and
    compile time.

    Examples
    --------
    >>> import chainrule as cr
    >>> double = cr.jit(lambda x: x * 2.0)
    >>> double(cr.tensor([1.0, 2.0]))
    tensor([2., 4.])
    >>> double(cr.tensor([3.0, 4.0])); double.cache_info().hits
    tensor([6., 8.])
    1
    """

    def __init__(
        self, f: Callable, static_argnums: Any = (), cache_size: int = 64, backend: str = "numpy"
    ) -> None:
        functools.update_wrapper(self, f)
        self._backend = backend
        self._f = f
        self._static = (
            (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        )
        if cache_size < 1:
            raise ValueError(f"jit: cache_size must be at least 1, got {cache_size}")
        self._cache: OrderedDict[Any, _Entry] = OrderedDict()
        self._maxsize = cache_size
        self._hits = self._misses = 0
        self._compile_seconds = 0.0
        self._warned = False
        self._refits = 0  # compiles for a signature whose code no longer fit
        self._last: tuple[Any, _Entry] | None = None  # the last call's key and entry
        # the last call again, when all its arguments were arrays (a loop's calls): (shapes,
        # dtypes, grad mode, entry), checked without building the key
        self._again: tuple | None = None
        # the arrays the compiled backwards compute gradients into (see _GradBuffers)
        self._buffers = _GradBuffers()

    # ------------------------------------------------------------------ calling
    def _signature(self, args: tuple, kwargs: dict) -> _Signature:
        """The cache key of a call (and its leaves): the tree's structure, each leaf's shape
        and dtype (or a static leaf's type and value), which leaves require grad, the
        static arguments' values, and grad mode. The common calls (positional arrays and
        tensors, and flat lists or tuples of them) are read without walking a pytree; what
        they cannot read (a dict, a nested list, a Python number, an ndarray subclass)
        takes the full path, whose keys are the same for the same call."""
        if not kwargs and not self._static:
            if len(args) == 1:  # one array or tensor (a model's batch): the same key, sooner
                a = args[0]
                kind = type(a)
                if kind is np.ndarray or kind is Tensor:
                    treedef = _OUTLINES.get((None,))
                    if treedef is not None:
                        if kind is np.ndarray:
                            spec = (a.shape,), (a.dtype,), ()
                        else:
                            data = a._data
                            spec = (data.shape,), (data.dtype,), ((0,) if a._rg else ())
                        key = (treedef, *spec, (), is_grad_enabled())
                        return _Signature(key, [a], treedef, kind is np.ndarray)
            elif set(map(type, args)) == _ARRAY_ONLY:  # plain arrays (a function's inputs)
                treedef = _OUTLINES.get((None,) * len(args))
                if treedef is not None:
                    shapes, dtypes = tuple(map(_SHAPE, args)), tuple(map(_DTYPE, args))
                    key = (treedef, shapes, dtypes, (), (), is_grad_enabled())
                    return _Signature(key, list(args), treedef, True)
            leaves: list = []
            outline: list = []
            for a in args:
                kind = type(a)
                if kind is list or kind is tuple:
                    leaves += a
                    outline.append((kind, len(a)))
                else:
                    leaves.append(a)
                    outline.append(None)
            kinds = {_kind(t) for t in set(map(type, leaves))}
            specs = _specs(leaves, kinds)
            if specs is not None:
                outline_key = tuple(outline)
                treedef = _OUTLINES.get(outline_key)
                if treedef is None:
                    if len(_OUTLINES) > 1024:
                        _OUTLINES.clear()
                    treedef = _OUTLINES[outline_key] = flatten((list(args), {}))[1]
                key = (treedef, *specs, (), is_grad_enabled())
                return _Signature(key, leaves, treedef, kinds <= {1})
        return self._full_signature(args, kwargs)

    def _full_signature(self, args: tuple, kwargs: dict) -> _Signature:
        """The signature of any call, walking its pytree (``_signature`` reads the common
        calls faster, to the same key)."""
        static = self._static
        if static:
            n = len(args)
            for i in static:
                if not -n <= i < n:
                    raise ValueError(
                        f"jit: static_argnums {static} out of range for {n} positional argument(s)"
                    )
            fixed = {i % n for i in static}
            dyn = [None if i in fixed else a for i, a in enumerate(args)]
            statics = tuple(_static_key(args[i], i) for i in sorted(fixed))
        else:
            dyn, statics = list(args), ()
        leaves, treedef = flatten((dyn, kwargs))
        shapes, dtypes, rgs = [], [], []
        for k, leaf in enumerate(leaves):
            if type(leaf) is np.ndarray or isinstance(leaf, np.generic):
                shapes.append(leaf.shape)
                dtypes.append(leaf.dtype)
            elif isinstance(leaf, Tensor):
                data = leaf._data
                shapes.append(data.shape)
                dtypes.append(data.dtype)
                if leaf._rg:
                    rgs.append(k)
            else:  # a static leaf: never equal to a shape (a tuple of ints)
                shapes.append(("static", _static_key(leaf, "a pytree leaf")))
                dtypes.append(None)
        key = (treedef, tuple(shapes), tuple(dtypes), tuple(rgs), statics, is_grad_enabled())
        return _Signature(key, leaves, treedef)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if state.ctx.observers and any(hasattr(o, "applied") for o in state.ctx.observers):
            # Inside another trace (jit of a function that calls this one, cr.trace): the
            # outer program records this function's operations themselves (inlined).
            return self._f(*args, **kwargs)
        again = self._again
        if again is not None and not kwargs and len(args) == len(again[0]):
            shapes, dtypes, grad, entry = again
            for a, shape, dtype in zip(args, shapes, dtypes):
                if type(a) is not np.ndarray or a.shape != shape or a.dtype is not dtype:
                    break
            else:
                if is_grad_enabled() is grad:
                    try:
                        out = entry.run_again(args)
                    except LengthChanged as e:
                        return self._refit(entry, e, args, kwargs)
                    if out is not _INVALID:
                        self._hits += 1
                        return out
        sig = self._signature(args, kwargs)
        key = sig.key
        last = self._last
        # the last call's signature again (a loop's calls): one comparison of keys, not a
        # hash of them (its entry is the newest in the cache already)
        if last is not None and key == last[0] and last[1].valid():
            entry = last[1]
            self._hits += 1
        else:
            entry = self._cache.get(key)
            if entry is not None and not entry.valid():
                # the parameters changed shape, or a Module its mode: an earlier program for
                # this signature may fit (train / eval back and forth compiles each once)
                entry = self._other(key, entry)
            if entry is not None and entry.valid():
                self._hits += 1
                self._cache.move_to_end(key)
            else:
                entry = self._compile(sig, args, kwargs)
            self._last = (key, entry)  # one object: threads never see a key with another's entry
        if sig.plain and not kwargs and not self._static:
            if all(type(a) is np.ndarray for a in args):
                shapes = tuple(a.shape for a in args)
                self._again = (shapes, tuple(a.dtype for a in args), is_grad_enabled(), entry)
        try:
            return entry.run(sig.leaves, sig.plain)
        except LengthChanged as e:
            return self._refit(entry, e, args, kwargs, sig)

    def _refit(
        self,
        entry: _Entry,
        error: LengthChanged,
        args: tuple,
        kwargs: dict,
        sig: _Signature | None = None,
    ) -> Any:
        """The call for ``entry``'s code met a length other than it was traced with (the
        positions ``argwhere`` finds: see ``ir.VALUE_SHAPED``): the code kept beside it
        for that length runs, or the function is traced again, and kept beside."""
        if sig is None:
            sig = self._signature(args, kwargs)
        entry.length_changed = error.prim
        for other in entry.others:
            if not other.valid():
                continue
            try:
                out = other.run(sig.leaves, sig.plain)
            except LengthChanged:
                continue
            other.length_changed = None
            self._last = (sig.key, self._promote(sig.key, entry, other))
            self._again = None
            self._hits += 1
            return out
        new = self._compile(sig, args, kwargs)
        self._last = (sig.key, new)
        return new.run(sig.leaves, sig.plain)

    def _other(self, key: Any, current: _Entry) -> _Entry:
        """A valid program kept beside ``current`` for this key, made the key's entry (with
        ``current`` kept beside it); ``current`` when none is valid."""
        for e in current.others:
            if e.valid():
                return self._promote(key, current, e)
        return current

    def _promote(self, key: Any, current: _Entry, e: _Entry) -> _Entry:
        """Make ``e`` (one of ``current.others``) the key's entry, ``current`` kept beside."""
        e.others = [current, *(o for o in current.others if o is not e)]
        current.others = []
        self._cache[key] = e
        return e

    def _compile(self, sig: _Signature, args: tuple, kwargs: dict) -> _Entry:
        # the new entry is the newest, and may push out the last call's
        self._last = self._again = None
        self._misses += 1
        t0 = time.perf_counter()
        entry = _Entry(self, sig, args, kwargs)
        self._compile_seconds += time.perf_counter() - t0
        old = self._cache.get(sig.key)
        if old is not None:  # kept beside the new one (a few, the newest first)
            entry.others = [old, *(e for e in old.others if e is not old)][:3]
            old.others = []
            self._refits += 1
            if self._refits == _REFITS_WARNED:
                name = getattr(self._f, "__name__", "the function")
                if old.length_changed:
                    why = (
                        f"the length {old.length_changed} found changed (the code is made "
                        f"for the lengths it was traced with)"
                    )
                else:
                    why = (
                        f"{old.stale()} changed (it is read from outside the arguments, and "
                        f"the code was made for the value it had): pass a value that "
                        f"changes from call to call as an argument"
                    )
                warnings.warn(
                    f"jit: {name} compiled again {self._refits} times for the same "
                    f"arguments' shapes, last because {why}",
                    RuntimeWarning,
                    stacklevel=3,
                )
        self._cache[sig.key] = entry
        self._cache.move_to_end(sig.key)
        if len(self._cache) > self._maxsize:
            self._cache.popitem(last=False)
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"jit: {getattr(self._f, '__name__', 'the function')} keeps recompiling "
                    f"({self._misses} signatures so far, cache of {self._maxsize}): make "
                    f"changing sizes or Python numbers arguments of fixed shape, or raise "
                    f"cache_size",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return entry

    # ------------------------------------------------------------------ inspecting
    def source(self, *args: Any, **kwargs: Any) -> str:
        """The code generated for these arguments' signature (compiled if needed)."""
        sig = self._signature(args, kwargs)
        entry = self._cache.get(sig.key)
        if entry is None or not entry.valid():
            entry = self._compile(sig, args, kwargs)
        return entry.source()

    def program(self, *args: Any, **kwargs: Any) -> Program:
        """The optimized program for these arguments' signature."""
        sig = self._signature(args, kwargs)
        entry = self._cache.get(sig.key)
        if entry is None or not entry.valid():
            entry = self._compile(sig, args, kwargs)
        return entry.program

    def cache_info(self) -> CacheInfo:
        """Hits, misses, the cache's bound and size, and the seconds spent compiling."""
        return CacheInfo(
            self._hits, self._misses, self._maxsize, len(self._cache), self._compile_seconds
        )

    def __repr__(self) -> str:
        return f"<jit {getattr(self._f, '__name__', 'function')}>"


def _static_key(value: Any, where: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"jit: a static value must be hashable ({where}: got {type(value).__name__}); "
            f"pass arrays and tensors as ordinary arguments"
        ) from None
    return _tagged(value)


def _tagged(value: Any) -> Any:
    """A cache key for a static value that is equal exactly when the values are the same
    to a program: ``==`` would let 0.0 and -0.0 share one (1 / x differs), never find a
    NaN again, and let ``(1, True)`` stand for ``(1, 1)``."""
    kind = type(value)
    if kind is float or isinstance(value, np.floating):
        return (kind, _float_bits(float(value)))
    if kind is complex or isinstance(value, np.complexfloating):
        z = complex(value)
        return (kind, _float_bits(z.real), _float_bits(z.imag))
    if kind is tuple or kind is frozenset:
        parts = tuple(_tagged(v) for v in value)
        return (kind, frozenset(parts) if kind is frozenset else parts)
    return (kind, value)


def _float_bits(x: float) -> Any:
    """A float as its value, told apart by sign at zero, every NaN one key."""
    if x != x:
        return "nan"
    if x == 0.0:
        return ("zero", math.copysign(1.0, x))
    return x


def optimize(program: Program) -> Program:
    """The passes compiled code runs through: constant folding, common subexpressions,
    algebraic simplification, dead code.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (x.exp() + x.exp()) * 1.0, cr.tensor(1.0))
    >>> [e.prim.name for e in optimize(p).eqns]
    ['exp', 'add']
    """
    return dce(simplify_more(cse(fold(dce(program)))))


_BREAK_WARNED: set[str] = set()


def _leaf_names(f: Callable, args: tuple, kwargs: dict, n: int) -> list[str]:
    """Names for the generated code's inputs, in the order the signature's leaves come:
    the parameter's name (``X``), with the index or key inside a container (``params0``,
    ``params_w``); ``x<k>`` where the signature gives none."""
    params: list[str] = []
    rest = "x"
    from .nn.module import Module

    if isinstance(f, Module):  # a Module's call takes its forward's arguments
        f = f.forward
    try:
        for p in inspect.signature(f).parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                params.append(p.name)
            elif p.kind is p.VAR_POSITIONAL:
                rest = p.name
    except (TypeError, ValueError):
        pass
    names: list[str] = []

    def walk(tree: Any, base: str, sep: str) -> None:
        if tree is None:
            return
        if isinstance(tree, dict):
            for key, value in tree.items():
                tail = str(key) if str(key).isidentifier() else str(len(names))
                walk(value, f"{base}_{tail}", "")
        elif isinstance(tree, (tuple, list)):
            for j, value in enumerate(tree):
                walk(value, f"{base}{sep}{j}", "_")
        else:
            names.append(base)

    for i, a in enumerate(args):
        walk(a, params[i] if i < len(params) else f"{rest}{i - len(params)}", "")
    for key, value in kwargs.items():
        walk(value, str(key), "")
    return names if len(names) == n else []


class _Entry:
    """One compiled signature: the program, its code, and (when a gradient may be
    needed) the compiled forward-with-residuals and backward."""

    def __init__(self, owner: Jitted, sig: _Signature, args: tuple, kwargs: dict) -> None:
        self.others: list[_Entry] = []  # programs for the same signature, other modes
        self.length_changed: str | None = None  # a call met another length (see _refit)
        self.name = getattr(owner._f, "__name__", "f")
        if not self.name.isidentifier():
            self.name = "f"
        tracer = Tracer(strict="cr.jit", capture=True)
        # what the function reads by name from outside its arguments: arrays become inputs
        # read at every call, and each name is guarded (see _jit_outside)
        outside = jit_outside.reads(owner._f)
        tracer.outside = jit_outside.outside_arrays(outside)
        draws = jit_outside.NumpyDraws(outside)
        writes = jit_outside.NumpyWrites(outside)
        fixed = {i % len(args) for i in owner._static} if args else set()
        dyn_args = tuple(None if i in fixed else a for i, a in enumerate(args))
        names = _leaf_names(owner._f, dyn_args, kwargs, len(sig.leaves))
        leaves = []
        self.dynamic = []  # positions of the leaves that are program inputs
        position: dict[int, int] = {}  # id(the traced copy of a leaf) -> the leaf's position
        for k, leaf in enumerate(sig.leaves):
            if isinstance(leaf, (Tensor, np.ndarray, np.generic)):
                data = leaf._data if isinstance(leaf, Tensor) else leaf
                fresh = copy_of(data)
                tracer.input(fresh, "arg", names[k] if k < len(names) else f"x{k}")
                leaves.append(fresh)
                position[id(fresh)] = k
                self.dynamic.append(k)
            else:
                leaves.append(leaf)
        dyn, kw = unflatten(sig.treedef, leaves)
        call_args = list(dyn)
        for i in owner._static:
            i %= len(args)
            call_args[i] = args[i]
        try:
            with np.errstate(all="ignore"), tracer.active():
                out = owner._f(*call_args, **kw)
        finally:
            # a parameter changed in place while tracing gets its value back: the program
            # makes the change (at every call, the first included)
            for t, v, before in tracer.written.values():
                if tracer.program.roles.get(v) == "param":
                    if isinstance(t._data, np.ndarray):
                        np.copyto(t._data, before)
                    else:  # a 0-d NumPy scalar: immutable, replaced
                        t._data = before[()]
        draws.check("jit", self.name, tracer.rngs)
        writes.check("jit", self.name)
        out_leaves, self.out_def = flatten(out)
        self.rebuild = rebuilder(self.out_def)  # the outputs' structure around their leaves
        for o in out_leaves:
            if not isinstance(o, (Tensor, np.ndarray, np.generic, int, float, complex)):
                raise TypeError(
                    f"jit: {self.name} must return tensors (or tuples, lists and dicts of "
                    f"them), got {type(o).__name__}"
                )
        program = tracer.program
        program.outputs = [tracer.output(o) for o in out_leaves]
        self.n_user = len(program.outputs)
        # Inputs the function changed in place (x += 1, p.sub_(...) under no_grad): their
        # final values are outputs too, written back into the caller's arrays each call.
        written = list(tracer.written.values())
        for t, _v, _before in written:
            now = tracer._var_of.get(id(t))
            program.outputs.append(now if now is not None else Literal(np.array(t._data)))
        _refuse_dynamic_shapes(program, self.name)
        self.params = [t for t in _param_tensors(tracer, program)]
        for t, v, _before in written:
            k = position.get(id(t))
            leaf = sig.leaves[k] if k is not None else None
            if (
                isinstance(leaf, Tensor)
                and leaf._rg
                and leaf._node is None
                and tracer.written_with_grad.get(id(t))
            ):
                raise RuntimeError(
                    f"jit({self.name}): changes its argument {v.hint or k}, a leaf tensor "
                    f"that requires grad, in place (that would change the value the graph "
                    f"was built from); do it under cr.no_grad(), or on a copy (t.clone())"
                )
        index_of = {id(p): i for i, p in enumerate(self.params)}
        self.effects = [
            ("arg", position[id(t)]) if id(t) in position else ("param", index_of[id(t)])
            for t, _v, _before in written
        ]
        _name_parameters(owner._f, program, self.params, outside)
        self.param_specs = [(p._data.shape, p._data.dtype, p._rg) for p in self.params]
        # the modes of the Modules that ran (Dropout and BatchNorm trace to other programs
        # in eval mode): a mode changed since makes this code invalid
        self.modes = [(m, m.training) for m in tracer.modules.values()]
        # the guards: each name this code read, with the value it held. The attributes of
        # the Modules that ran (module.weight, their numbers and submodules), the globals,
        # closure variables and attributes the function reads; another value there since
        # (a new Parameter, tied weights, ``lr = 0.05``, ``w = new``) makes this code
        # invalid, as eager code would read the new one. Arrays read from outside that the
        # program holds as constants (an index) are compared by contents.
        self.guards = jit_outside.Guards(outside, tracer.modules.values(), program)
        self.program = optimize(program)
        for e in self.program.eqns:
            if e.meta.get("call") is not None and e.prim.name not in _BREAK_WARNED:
                _BREAK_WARNED.add(e.prim.name)
                warnings.warn(
                    f"jit: {e.prim.name} has no generated code (a custom Function or "
                    f"checkpoint); it runs eagerly inside the compiled {self.name} (a graph "
                    f"break)",
                    RuntimeWarning,
                    stacklevel=4,
                )
        self.backend = owner._backend
        self.compiled: Compiled = compile_program(self.program, self.name, backend=self.backend)
        # a gradient is needed when grad mode is on and an input or parameter requires it
        arg_rg = [bool(getattr(sig.leaves[k], "_rg", False)) for k in self.dynamic]
        self.diff = arg_rg + [p._rg for p in self.params]
        float_in = [v.dtype is not None and v.dtype.kind in "fc" for v in self.program.inputs]
        self.diff = [d and f for d, f in zip(self.diff, float_in)]
        self.param_diff = self.diff[len(self.dynamic) :]
        numbered = count()
        self.spread = [next(numbered) if d else -1 for d in self.diff]
        # the usual layout: the arrays passed in are not differentiated, the parameters all
        # are; the gradients then follow len(leading) Nones (see _to_leaves)
        n_lead = self.diff.index(True) if True in self.diff else len(self.diff)
        self.leading = (None,) * n_lead if all(self.diff[n_lead:]) else None
        self.grad = is_grad_enabled() and any(self.diff)
        if self.grad:
            self._split(owner._buffers)
        # the generators the program draws from: a call recording a node keeps their
        # states, so a recorded backward (create_graph, higher order), which runs the
        # program again, draws the masks the forward drew
        self.rngs = [gen for gen, _before in tracer.rngs.values()]
        # random draws made while compiling (the trace, the gradient's replay) are given
        # back: the first call draws what eager code would have
        for gen, before in tracer.rngs.values():
            gen.bit_generator.state = before

    def valid(self) -> bool:
        """The parameters still have the shapes, dtypes and flags this code was made for."""
        return self._gather([], [])

    def _gather(self, arrays: list, edges: list) -> bool:
        """``valid()``, appending the parameters' arrays and graph edges to the lists as it
        checks them (one pass: a repeated call's path)."""
        for p, (shape, dtype, rg), d in zip(self.params, self.param_specs, self.param_diff):
            data = p._data
            if data.shape != shape or (data.dtype is not dtype and data.dtype != dtype):
                return False
            if p._rg != rg:
                return False
            arrays.append(data)
            edges.append((p._node or p) if (d and rg) else None)
        for m, training in self.modes:
            if m.training is not training:
                return False
        return self.guards.hold()

    def stale(self) -> str:
        """What no longer fits this code (for the warning about recompiling)."""
        what = self.guards.stale()
        if what is not None:
            return what
        for m, training in self.modes:
            if m.training is not training:
                return f"the mode of {type(m).__name__} (train / eval)"
        return "a parameter's shape, dtype or requires_grad"

    # ------------------------------------------------------------------ the joint program
    def _split(self, owner_buffers: _GradBuffers) -> None:
        """Trace forward + backward of the program, and split it into a forward that also
        returns the values the backward needs (the residuals) and the backward."""
        from .transforms import _make_alias, _reverse

        program = self.program
        tracer = Tracer()
        leaves, args, aliases = [], [], []
        for k, (v, d) in enumerate(zip(program.inputs, self.diff)):
            value = program.values.get(v)
            if value is None:
                value = np.zeros(v.shape, dtype=v.dtype)
            leaf = copy_of(value)
            if d:
                leaf.requires_grad = True
            tracer.input(leaf, "arg", v.hint or f"x{k}")
            leaves.append(leaf)
        with np.errstate(all="ignore"), tracer.active():
            for k, (leaf, d) in enumerate(zip(leaves, self.diff)):
                if d:
                    a = _make_alias(leaf, "jit", k)
                    aliases.append(a)
                    args.append(a)
                else:
                    args.append(leaf)
            env = run_on_tensors(program, args)
            outs = [env[o] if isinstance(o, Var) else Tensor(o.value) for o in program.outputs]
            n_fwd = len(tracer.program.eqns)
            self.diff_out = [  # (the final values of inputs changed in place are not)
                k for k, o in enumerate(outs[: self.n_user]) if o._rg and o.dtype.kind in "fc"
            ]
            cts = []
            for k in self.diff_out:
                ct = copy_of(np.ones(outs[k].shape, dtype=outs[k].dtype))
                tracer.input(ct, "cotangent", f"d_out{k}")
                cts.append(ct)
            grads = _reverse([outs[k] for k in self.diff_out], cts, aliases, True, retain=True)
        joint = tracer.program
        for e in joint.eqns[:n_fwd]:  # an argument's alias goes by the argument's name
            x = e.inputs[0] if e.inputs else None
            if e.prim.name == "alias" and not e.out.hint and isinstance(x, Var) and x.hint:
                e.out.hint = x.hint
        out_vars = [tracer.output(o) for o in outs]
        grad_vars = [tracer.output(g) for g in grads]
        ct_vars = joint.inputs[len(leaves) :]
        fwd_inputs = joint.inputs[: len(leaves)]
        fwd_defined = set(fwd_inputs) | {e.out for e in joint.eqns[:n_fwd]}
        # the backward, optimized first, tells which forward values it needs
        bwd = Program()
        bwd.eqns = joint.eqns[n_fwd:]
        bwd.outputs = list(grad_vars)
        bwd.constants = dict(joint.constants)
        bwd.values = joint.values
        needed: list[Var] = []
        seen: set[Var] = set()
        for e in bwd.eqns:
            for v in e.inputs:
                if isinstance(v, Var) and v in fwd_defined and v not in seen:
                    seen.add(v)
                    needed.append(v)
        for v in grad_vars:
            if isinstance(v, Var) and v in fwd_defined and v not in seen:
                seen.add(v)
                needed.append(v)
        bwd.inputs = needed + list(ct_vars)
        bwd = optimize(bwd)
        used = _used_inputs(bwd)
        self.residuals = [v for v in needed if v in used]
        bwd.inputs = self.residuals + list(ct_vars)
        fwd = Program()
        fwd.inputs = list(fwd_inputs)
        fwd.eqns = joint.eqns[:n_fwd]
        fwd.outputs = out_vars + self.residuals
        fwd.constants = dict(joint.constants)
        fwd.values = joint.values
        fwd = optimize(fwd)
        self.n_out = len(out_vars)
        _name_values(fwd)  # the residuals are called in the backward what the forward calls them
        self.residual_names = [v.hint or f"residual {k}" for k, v in enumerate(self.residuals)]
        for ct, k in zip(ct_vars, self.diff_out):  # the gradient reaching linear2 is dlinear2
            o = out_vars[k]
            if isinstance(o, Var) and o.hint and ct.hint and ct.hint.startswith("d_out"):
                ct.hint = "d" + o.hint
        self.fwd = compile_program(fwd, f"{self.name}_forward", backend=self.backend)
        self.bwd = compile_program(bwd, f"{self.name}_backward", scalar=False, backend=self.backend)
        # the same backward computing its gradients into arrays it is given (reused from
        # step to step: _GradBuffers), where NumPy code is generated and refcounts tell
        # when an array is free
        self.bwd_into = None
        specs = [(v.shape, v.dtype) for v in bwd.outputs if isinstance(v, Var)]
        if (
            _REFCOUNTS
            and self.backend == "numpy"
            and len(specs) == len(bwd.outputs)
            and all(shape is not None and dtype is not None for shape, dtype in specs)
        ):
            dest = {k: f"grad{k}_out" for k in range(len(specs))}
            self.bwd_into = _compile_arrays(bwd, f"{self.name}_backward", dest=dest)
            self.grad_specs = [(shape, np.dtype(dtype)) for shape, dtype in specs]
            self.grad_caps = [self.grad_specs.count(spec) for spec in self.grad_specs]
            self.buffers = owner_buffers
        self.fwd_program, self.bwd_program = fwd, bwd
        self.prim = Primitive(f"jit({self.name})", _no_impl, nin=None, register=False)
        self.prim.vjps = self.prim.cvjps = ALL_INPUTS
        self.prim.vjp_all = _jit_vjp
        self.prim.jvp_all = _jit_jvp
        if self.bwd_into is not None and len(self.diff_out) == 1:
            self.prim.to_leaves = self._to_leaves

    def gradients_into(self, residuals: Any, g: Any) -> list:
        """The compiled backward's gradients, computed into arrays of their own (free
        ones of ``self.buffers``, or new)."""
        grads = self.buffers.take(self.grad_specs, self.grad_caps)
        self.bwd_into.fn(*residuals, g, *grads)
        return grads

    def _to_leaves(self, node: Node, g: Any) -> tuple:
        """The gradients of ``node``'s inputs (a call of this code), one per input,
        computed into arrays of their own (``Primitive.to_leaves``)."""
        grads = self.gradients_into(node.params["residuals"], g)
        if self.leading is not None:
            return self.leading + tuple(grads)
        return tuple([grads[k] if k >= 0 else None for k in self.spread])

    def source(self) -> str:
        if self.grad:
            return (
                "# forward (returns the outputs, then the values the backward needs)\n"
                + self.fwd.source
                + "\n\n# backward\n"
                + self.bwd.source
            )
        return self.compiled.source

    # ------------------------------------------------------------------ running
    def run_again(self, args: tuple) -> Any:
        """``run(list(args), True)`` if ``valid()``, else ``_INVALID``: the parameters are
        checked and gathered in one pass (a training loop's call with plain arrays again,
        made between one step's optimizer update and the next forward)."""
        arrays = list(args)
        edges = [None] * len(args)
        if not self._gather(arrays, edges):
            return _INVALID
        if not self.grad:
            return self._plain(arrays, args)
        return self._recorded(arrays, tuple(edges), args)

    def _plain(self, arrays: list, leaves: Any) -> Any:
        draws = [gen.bit_generator.state for gen in self.rngs] if self.rngs else None
        try:
            outs = self.compiled.fn(*arrays)
        except LengthChanged:  # (traced again: the generators start where they were)
            self._undraw(draws)
            raise
        if self.effects:
            outs = self._write_back(outs, leaves)
        return self.rebuild(list(map(_wrap, outs)))

    def run(self, leaves: list, plain: bool = False) -> Any:
        """The outputs for a call with this entry's signature. ``plain``: every leaf is an
        array (so an input of the program, in order, and none requires grad)."""
        params = self.params
        if plain:
            arrays = leaves + [p._data for p in params] if params else leaves
            if not self.grad:
                return self._plain(arrays, leaves)
            # no leaf requires grad: the edges are the parameters' (none, or leaves)
            edges = (None,) * len(leaves) + tuple(
                [(p._node or p) if (d and p._rg) else None for p, d in zip(params, self.param_diff)]
            )
            return self._recorded(arrays, edges, leaves)
        tensors = []
        arrays = []
        for k in self.dynamic:
            leaf = leaves[k]
            if isinstance(leaf, Tensor):
                tensors.append(leaf)
                arrays.append(leaf._data)
            else:
                tensors.append(None)
                arrays.append(leaf)
        for p in params:
            tensors.append(p)
            arrays.append(p._data)
        if not self.grad:
            return self._plain(arrays, leaves)
        edges = tuple(
            [
                (t._node or t) if (d and t is not None and t._rg) else None
                for t, d in zip(tensors, self.diff)
            ]
        )
        return self._recorded(arrays, edges, leaves)

    def _recorded(self, arrays: list, edges: tuple, leaves: Any) -> Any:
        """Run the forward-with-residuals and record one node (over the concatenated
        differentiable outputs when there are several) whose backward is the compiled one."""
        draws = [gen.bit_generator.state for gen in self.rngs] if self.rngs else None
        try:
            results = self.fwd.fn(*arrays)
        except LengthChanged:  # (traced again: the generators start where they were)
            self._undraw(draws)
            raise
        n_out = self.n_out
        outs, residuals = results[:n_out], results[n_out:]
        if self.effects:
            outs = self._write_back(outs, leaves)
        diff_out = self.diff_out
        if len(diff_out) == 1:
            k = diff_out[0]
            out = outs[k]
            shape, dtype = (out.shape, out.dtype) if hasattr(out, "dtype") else ((), None)
            node = Node.new(
                self.prim,
                edges,
                tuple(arrays),
                None,
                shape,
                dtype if dtype is not None else np.asarray(out).dtype,
                {"entry": self, "residuals": residuals, "arrays": arrays, "draws": draws},
            )
            if versions.ADOPTED:  # arrays a user may write into: the backward reads them
                versions.note_saved(node, residuals, self.residual_names)
            if len(outs) == 1:
                return self.rebuild([_from_node(out, node)])
            wrapped = [_wrap(o) for o in outs]
            wrapped[k] = _from_node(out, node)
            return self.rebuild(wrapped)
        wrapped = [_wrap(o) for o in outs]
        if diff_out:
            params_ = {"entry": self, "residuals": residuals, "arrays": arrays, "draws": draws}
            wrapped = self._multi(outs, list(edges), arrays, params_, wrapped)
        return self.rebuild(wrapped)

    def _undraw(self, draws: list | None) -> None:
        for gen, before in zip(self.rngs, draws or ()):
            gen.bit_generator.state = before

    def _write_back(self, outs: tuple, leaves: list) -> tuple:
        """Put the final values of the inputs the function changed in place (the outputs
        after the function's own) into the caller's arrays; return the function's."""
        n = self.n_user
        for (kind, i), value in zip(self.effects, outs[n:]):
            target = leaves[i] if kind == "arg" else self.params[i]
            if isinstance(target, Tensor):
                target._write(value, f"an in-place change inside jit({self.name})")
            elif isinstance(target, np.ndarray):
                np.copyto(target, value, casting="same_kind")
                versions.mark(target, f"jit({self.name})", f"an array of shape {target.shape}")
        return outs[:n]

    def _multi(self, outs: tuple, edges: list, arrays: list, params: dict, wrapped: list):
        """Several differentiable outputs: one node over their concatenation (a node has one
        output), each output a slice of it, cast back to its own dtype where the
        concatenation promoted it (a float32 output beside a float64 one)."""
        from .ops import reshape

        pieces = [np.ravel(outs[k]) for k in self.diff_out]
        flat = np.concatenate(pieces) if pieces else np.zeros(0)
        params["split"] = [
            (np.shape(outs[k]), p.size, p.dtype) for k, p in zip(self.diff_out, pieces)
        ]
        node = Node.new(
            self.prim, tuple(edges), tuple(arrays), None, flat.shape, flat.dtype, params
        )
        if versions.ADOPTED:
            versions.note_saved(node, params["residuals"], self.residual_names)
        whole = _from_node(flat, node)
        start = 0
        for k, (shape, size, dtype) in zip(self.diff_out, params["split"]):
            piece = reshape(whole[start : start + size], shape)
            if dtype != flat.dtype:
                if dtype.kind != "c" and flat.dtype.kind == "c":
                    piece = piece.real
                piece = piece.astype(dtype)
            wrapped[k] = piece
            start += size
        return wrapped

    def cotangents(self, g: Any, params: dict) -> list:
        split = params.get("split")
        if split is None:
            return [g]
        out, start = [], 0
        for shape, size, dtype in split:
            piece = np.reshape(g[start : start + size], shape)
            if dtype.kind != "c" and piece.dtype.kind == "c":
                piece = piece.real
            out.append(piece.astype(dtype, copy=False))
            start += size
        return out


#: the compile for a signature already cached (its code no longer fitting) that warns
_REFITS_WARNED = 8

#: what ``_Entry.run_again`` returns for code that no longer fits (None is an output)
_INVALID = object()


#: whether sys.getrefcount tells when nothing else refers to an array (CPython, with the
#: GIL): then _GradBuffers reuses gradient arrays
_GIL = getattr(sys, "_is_gil_enabled", None)  # (Python 3.13+; before it, always)
_REFCOUNTS = sys.implementation.name == "cpython" and (_GIL is None or _GIL())


class _GradBuffers:
    """Arrays a jitted function's compiled backwards compute gradients into, reused once
    nothing else refers to them: a training step's gradients live in ``.grad`` until
    ``zero_grad()`` drops them, then the next backward writes into the same memory.
    Without this NumPy frees each gradient and allocates it again, and glibc hands a freed
    block of a few megabytes back to the system, whose fresh pages fault at the next use
    (about a thousand faults for the MLP's first step after a pause, 2 ms at batch 128).

    An array is free when only its pool refers to it; anything that keeps a gradient (a
    ``.grad`` not zeroed, ``g = p.grad``, a view, a graph that saved it) keeps it out of
    reuse, and the backward gets a new array instead. Each (shape, dtype) keeps at most as
    many arrays as one backward needs of it.
    """

    def __init__(self) -> None:
        self.pools: dict[tuple, list[np.ndarray]] = {}

    def take(self, specs: list, caps: list) -> list:
        """Arrays for gradients of ``specs`` ((shape, dtype) each), free ones first."""
        out = []
        pools = self.pools
        for spec, cap in zip(specs, caps):
            pool = pools.get(spec)
            if pool is None:
                pool = pools[spec] = []
            for a in pool:
                # the pool, this loop's name and the call's argument: nobody else (an array
                # taken for this backward already is in ``out`` too, so it counts 4)
                if getrefcount(a) == 3:
                    out.append(a)
                    break
            else:
                a = np.empty(*spec)
                if len(pool) < cap:
                    pool.append(a)
                out.append(a)
        return out


def _no_impl(*args: Any, **params: Any) -> Any:  # pragma: no cover - nodes are made directly
    raise RuntimeError("internal: a jit node is not applied as a primitive")


def _jit_vjp(g: Any, ans: Any, inputs: tuple, params: dict, needed: tuple) -> tuple:
    entry: _Entry = params["entry"]
    if isinstance(g, Tensor):
        return _recompute_vjp(entry, g, inputs, params, needed)
    if "split" in params:
        grads = entry.bwd.fn(*params["residuals"], *entry.cotangents(g, params))
    elif entry.bwd_into is not None:
        grads = entry.gradients_into(params["residuals"], g)
    else:
        grads = entry.bwd.fn(*params["residuals"], g)
    # input i's gradient is grads[spread[i]] (-1: the input is not differentiated)
    return tuple([grads[k] if k >= 0 and need else None for k, need in zip(entry.spread, needed)])


def _flat_outputs(entry: _Entry, env: dict) -> Any:
    from .ops import concatenate, reshape

    outs = [env[entry.program.outputs[k]] for k in entry.diff_out]
    if len(outs) == 1:
        return outs[0]
    return concatenate([reshape(o, -1) for o in outs])


def _recompute_vjp(entry: _Entry, g: Tensor, inputs: tuple, params: dict, needed: tuple):
    """A recorded backward (higher order): differentiate the program again on the
    graph-connected inputs, with chainrule operations."""
    from .transforms import _make_alias, _reverse

    args, aliases = [], []
    for k, (v, need) in enumerate(zip(inputs, needed)):
        base = v if isinstance(v, Tensor) else _wrap(v)
        if need:
            a = _make_alias(base, "jit", k)
            aliases.append(a)
            args.append(a)
        else:
            args.append(base)
    with _replaying(entry, params):
        env = run_on_tensors(entry.program, args)
    out = _flat_outputs(entry, env)
    grads = iter(_reverse([out], [g], aliases, True, retain=True))
    return tuple(next(grads) if need else None for need in needed)


@contextlib.contextmanager
def _replaying(entry: _Entry, params: dict) -> Any:
    """Run the program again with the random draws of the call that recorded the node (a
    Dropout mask the forward drew, not a new one); the generators are left as that call
    left them."""
    draws = params.get("draws")
    if not draws:
        yield
        return
    after = [gen.bit_generator.state for gen in entry.rngs]
    for gen, state_ in zip(entry.rngs, draws):
        gen.bit_generator.state = state_
    try:
        yield
    finally:
        for gen, state_ in zip(entry.rngs, after):
            gen.bit_generator.state = state_


def _jit_jvp(tangents: tuple, ans: Any, inputs: tuple, params: dict) -> Any:
    from .transforms import _forward, _make_alias

    entry: _Entry = params["entry"]
    recorded = any(isinstance(t, Tensor) for t in tangents)
    args, aliases, seeds = [], [], []
    for k, (v, t) in enumerate(zip(inputs, tangents)):
        base = v if isinstance(v, Tensor) else _wrap(v)
        if t is not None:
            a = _make_alias(base, "jit", k)
            aliases.append(a)
            seeds.append(t)
            args.append(a)
        else:
            args.append(base)
    from .tensor import enable_grad

    with enable_grad(), _replaying(entry, params):
        env = run_on_tensors(entry.program, args)
        out = _flat_outputs(entry, env)
    result = _forward([out], aliases, seeds, recorded)[0]
    return result if recorded else result._data


def _used_inputs(program: Program) -> set[Var]:
    used: set[Var] = set()
    for e in program.eqns:
        used.update(v for v in e.inputs if isinstance(v, Var))
    used.update(o for o in program.outputs if isinstance(o, Var))
    return used


def _name_parameters(f: Any, program: Program, params: list[Tensor], outside: list) -> None:
    """Closure tensors of a Module (``cr.jit(model)``, a bound method of one) are named
    after the module's parameters in the generated code: ``weight_0`` for ``0.weight`` of
    a Sequential, ``fc1_weight`` for ``fc1.weight``; others by the names ``f`` reads them
    under (``outside``: ``_jit_outside.reads(f)``)."""
    from .nn.module import Module

    if not params:
        return
    owner = f if isinstance(f, Module) else getattr(f, "__self__", None)
    names: dict[int, str] = {}
    if isinstance(owner, Module):
        for name, p in owner.named_parameters():
            parts = name.split(".")
            if parts[0].isdigit():
                parts = [parts[-1], *parts[:-1]]
            names.setdefault(id(p), "_".join(parts))
    if len(names) < len(params):  # others by the names the code reads them under (Xt @ w)
        for _scope, name, value, _what in outside:
            if isinstance(name, str) and name.isidentifier():
                names.setdefault(id(value), name)
    taken = {v.hint for v in program.inputs if v.hint}
    inputs = [v for v in program.inputs if program.roles.get(v) == "param"]
    for v, p in zip(inputs, params):
        name = names.get(id(p)) or names.get(id(p._data))  # (an array read from outside)
        if name and (not v.hint or v.hint.startswith("x")) and name not in taken:
            v.hint = name
            taken.add(name)


def _name_values(program: Program) -> None:
    """Give every unnamed value of ``program`` the name the code generator would (``relu0``),
    so the backward, compiled separately, reads its residuals under the same names."""
    counters: dict[str, int] = {}
    for e in program.eqns:
        if e.out.hint or e.out.grad_of is not None:
            continue
        k = counters.get(e.prim.name, 0)
        counters[e.prim.name] = k + 1
        e.out.hint = f"{e.prim.name}{k}"


def _param_tensors(tracer: Tracer, program: Program) -> list[Tensor]:
    """The closure tensors the program reads (its "param" inputs), in input order."""
    by_var = {v: t for t, v, _before in tracer.written.values()}  # (changed in place)
    for t in tracer._alive:
        v = tracer._var_of.get(id(t))
        if v is not None and program.roles.get(v) == "param":
            by_var.setdefault(v, t)
    return [by_var[v] for v in program.inputs if program.roles.get(v) == "param"]


def _refuse_dynamic_shapes(program: Program, name: str) -> None:
    """A boolean mask computed from the inputs gives a shape that depends on the values:
    compiled code is made for one shape, so it is refused (not silently kept)."""
    for e in program.eqns:
        if e.prim.name in ("getitem", "index_add", "index_put"):
            for v in e.inputs[1:]:
                if isinstance(v, Var) and v.dtype is not None and v.dtype.kind == "b":
                    raise TypeError(
                        f"jit: {name} indexes with a boolean mask computed from its inputs "
                        f"(x[mask]): the result's shape depends on the values, and compiled "
                        f"code is made for one shape. Use cr.where(mask, x, 0) instead."
                    )
