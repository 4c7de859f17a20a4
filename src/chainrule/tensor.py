"""Tensor: an ndarray plus what autodiff needs (requires_grad, .grad, the node that made it).

Operators and methods turn into primitive applications (``apply``); when a gradient may be
needed, each application records a ``Node``. ``backward()`` hands the graph to the engine.
"""

from __future__ import annotations

import contextlib
import numbers
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import engine, primitives, state
from .engine import _NO_INPUTS, POST_HOOKS, Node, leaf_hooks, post_accumulate_hooks

new_node = Node.new
_ctx = state.ctx  # this thread's grad mode, anomaly flag and observers

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
    """Tell this thread's observers (see ``observe_nodes``) about a newly recorded node."""
    for callback in list(_ctx.observers):
        callback(node, inputs, out)


@contextlib.contextmanager
def observe_nodes(callback: Callable[[Node, tuple, Any], None]) -> Iterator[None]:
    """Call ``callback(node, input_values, output)`` for every node recorded inside (in this
    thread).

    Nodes keep only the values their rules need; an observer sees all of them (constants
    such as the 2 in ``x + 2`` included). Tracing uses this to draw and replay graphs.
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
    t.data = data
    t._grad = None
    t._rg = False
    t._node = None
    return t


def _from_node(data: Any, node: Node) -> Tensor:
    """A Tensor for the output of ``node`` (internal fast constructor)."""
    t = _new(Tensor)
    t.data = data
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


def _to_array(data: Any, dtype: Any = None, copy: bool = False) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    try:
        arr = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__}: {e}") from None
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"tensor: unsupported dtype {arr.dtype} (from {type(data).__name__})")
    return arr


def _stored(arr: np.ndarray) -> Any:
    """How a Tensor holds its value: an ndarray, or for 0-d a NumPy scalar (what NumPy's
    own 0-d operations return, and much faster to compute with)."""
    return arr[()] if arr.ndim == 0 else arr


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


def _shape_of(v: Any) -> tuple:
    return getattr(v, "shape", ())


def _broadcast_error(prim: primitives.Primitive, arrays: tuple) -> ValueError:
    shapes = " and ".join(str(_shape_of(a)) for a in arrays)
    return ValueError(f"{prim.name}: operands with shapes {shapes} cannot be broadcast together")


def apply(prim: primitives.Primitive, args: tuple, params: dict | None = None) -> Tensor:
    """Apply ``prim`` to Tensors / array-likes; record a node when a gradient may be needed."""
    arrays = []
    edges = []
    needs_grad = False
    for a in args:
        if isinstance(a, Tensor):
            arrays.append(a.data)
            if a._rg:
                edges.append(a._node or a)
                needs_grad = True
                continue
        else:
            arrays.append(_constant(a, prim.name))
        edges.append(None)
    if _fast:
        recording, anomaly, observed = needs_grad, False, False
    else:
        c = _ctx
        recording, anomaly, observed = needs_grad and c.grad_enabled, c.anomaly, bool(c.observers)
    saved = None
    try:
        if recording and prim.residual is not None:
            out, saved = prim.residual(*arrays, **(params or {}))
        else:
            out = prim.impl(*arrays, **params) if params else prim.impl(*arrays)
    except ValueError as e:
        if "broadcast" in str(e):
            raise _broadcast_error(prim, tuple(arrays)) from None
        raise
    if anomaly:
        engine.check_finite(out, f"forward of '{prim.name}'")
    if not recording:
        return _wrap(out)
    node = Node.new(
        prim,
        tuple(edges),
        tuple(arrays) if prim.save_inputs else _NO_INPUTS[len(arrays)],
        out if prim.save_output else saved,
        out.shape,
        out.dtype,
        params or None,
    )
    if observed:
        notify_node(node, tuple(arrays), out)
    return _from_node(out, node)


def _unary(prim: primitives.Primitive, x: Tensor) -> Tensor:
    """``prim(x)`` for a unary elementwise primitive."""
    return _METHODS[prim.name](x)


def _unary_method(prim: primitives.Primitive) -> Callable[[Tensor], Tensor]:
    """The method applying unary ``prim`` (one frame per call: this is the hot path)."""
    impl = prim.impl
    save_inputs, save_output = prim.save_inputs, prim.save_output

    def method(self: Tensor) -> Tensor:
        if not _fast:
            return apply(prim, (self,))
        xd = self.data
        out = impl(xd)
        if self._rg:
            node = new_node(
                prim,
                (self._node or self,),
                (xd,) if save_inputs else _NO_INPUTS[1],
                out if save_output else None,
                out.shape,
                out.dtype,
            )
            t = _new(Tensor)  # _from_node, inlined: this line runs once per operation
            t.data = out
            t._grad = None
            t._rg = True
            t._node = node
            return t
        return _wrap(out)

    method.__name__ = prim.name
    method.__doc__ = f"Elementwise {prim.name} (differentiable)."
    return method


def _operand(value: Any, prim: primitives.Primitive) -> tuple[Any, Any]:
    """(array value, gradient edge) of an operand that may or may not be a Tensor."""
    if isinstance(value, Tensor):
        return value.data, ((value._node or value) if value._rg else None)
    return _constant(value, prim.name), None


def _binary(prim: primitives.Primitive, a: Any, b: Any) -> Tensor:
    """``prim(a, b)`` where at least one of ``a``, ``b`` is a Tensor."""
    ad, ea = _operand(a, prim)
    bd, eb = _operand(b, prim)
    return _finish_binary(prim, ad, bd, ea, eb)


def _finish_binary(prim: primitives.Primitive, ad: Any, bd: Any, ea: Any, eb: Any) -> Tensor:
    try:
        out = prim.impl(ad, bd)
    except ValueError:
        raise _broadcast_error(prim, (ad, bd)) from None
    if _fast:
        enabled, observed = True, False
    else:
        c = _ctx
        if c.anomaly:
            engine.check_finite(out, f"forward of '{prim.name}'")
        enabled, observed = c.grad_enabled, bool(c.observers)
    if (ea is not None or eb is not None) and enabled:
        node = Node.new(
            prim,
            (ea, eb),
            (ad, bd) if prim.save_inputs else _NO_INPUTS[2],
            out if prim.save_output else None,
            out.shape,
            out.dtype,
        )
        if observed:
            notify_node(node, (ad, bd), out)
        return _from_node(out, node)
    return _wrap(out)


def _binary_method(prim: primitives.Primitive, reflected: bool) -> Callable:
    """The operator method for ``prim`` (``self op other``, or ``other op self`` when
    ``reflected``). The common case (a Tensor with an ndarray, a number or a Tensor) runs
    in this one frame: it is the hottest path in the library."""
    impl = prim.impl
    save_inputs, save_output = prim.save_inputs, prim.save_output

    def method(self: Tensor, other: Any) -> Tensor:
        kind = type(other)
        if kind is Tensor:
            od = other.data
            other_rg = other._rg
        elif kind is np.ndarray or kind is float or kind is int:
            od = other
            other_rg = False
        else:
            od, oe = _operand(other, prim)
            other_rg = oe is not None
        if not _fast:
            se = (self._node or self) if self._rg else None
            oe = (other._node or other) if other_rg else None
            if reflected:
                return _finish_binary(prim, od, self.data, oe, se)
            return _finish_binary(prim, self.data, od, se, oe)
        sd = self.data
        try:
            out = impl(od, sd) if reflected else impl(sd, od)
        except ValueError:
            pair = (od, sd) if reflected else (sd, od)
            raise _broadcast_error(prim, pair) from None
        if not (self._rg or other_rg):
            return _wrap(out)
        # Record: the edges say where each input's gradient goes.
        se = (self._node or self) if self._rg else None
        oe = (other._node or other) if other_rg else None
        if reflected:
            edges = (oe, se)
            saved = (od, sd) if save_inputs else _NO_INPUTS[2]
        else:
            edges = (se, oe)
            saved = (sd, od) if save_inputs else _NO_INPUTS[2]
        node = new_node(prim, edges, saved, out if save_output else None, out.shape, out.dtype)
        t = _new(Tensor)  # _from_node, inlined: this line runs once per operation
        t.data = out
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


class _PostHookHandle(_HookHandle):
    """Removing the last post-accumulate hook of a leaf drops its registry entry, so a
    backward pass goes back to costing nothing extra once no such hook is left."""

    def __init__(self, hooks: list, fn: Callable, key: int) -> None:
        super().__init__(hooks, fn)
        self._key = key

    def remove(self) -> None:
        super().remove()
        entry = POST_HOOKS.get(self._key)
        if not self._hooks and entry is not None and entry[1] is self._hooks:
            del POST_HOOKS[self._key]


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Parameters
    ----------
    data:
        A Python number, nested list or ndarray (kept without copying where possible).
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

    __slots__ = ("data", "_grad", "_rg", "_node", "__weakref__")
    # NumPy defers to our reflected operators instead of treating a Tensor as an object.
    __array_ufunc__ = None
    __array_priority__ = 1000.0
    __hash__ = object.__hash__

    _wrap = staticmethod(_wrap)
    _from_node = staticmethod(_from_node)

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        self.data = _stored(_to_array(data, dtype))
        self._grad = None
        self._rg = False
        self._node = None
        if requires_grad:
            self.requires_grad = True

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

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
            _check_float(self.data.dtype, "requires_grad")
        self._rg = bool(flag)

    @property
    def grad(self) -> Tensor | None:
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

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The value as an ndarray (shares memory; no graph)."""
        return np.asarray(self.data)

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python scalar, "
                f"got shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return np.asarray(self.data).tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = np.asarray(self.data, dtype=dtype)
        return arr.copy() if copy else arr

    def detach(self) -> Tensor:
        """Same data, no graph: a new leaf that does not require grad."""
        return _wrap(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    def astype(self, dtype: Any) -> Tensor:
        """Cast (differentiable between floating dtypes)."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind not in "fc":
            return _wrap(self.data.astype(dtype))
        return apply(P.astype, (self,), {"dtype": dtype})

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def copy(self) -> Tensor:
        """A differentiable copy with its own memory."""
        return apply(P.copy, (self,))

    # ------------------------------------------------------------------ autodiff
    def backward(
        self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is the upstream gradient (same shape as ``self``); it may be omitted only
        when ``self`` has exactly one element.
        """
        if not self._rg:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph "
                "(no input had requires_grad=True, or it was computed under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: a gradient is needed for a tensor with {self.data.size} "
                    f"elements (shape {self.shape}); pass grad=... of that shape, or reduce "
                    f"to one element first (e.g. .sum())"
                )
            data = self.data
            # 0-d values are held as NumPy scalars (see _stored): so is the seed
            seed: Any = data.dtype.type(1) if data.ndim == 0 else np.ones_like(data)
        else:
            if isinstance(grad, Tensor):
                seed = grad if create_graph else grad.data
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
        replaces the gradient."""
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
        """Call ``hook(self)`` during backward as soon as this leaf's ``.grad`` holds its
        complete gradient of the pass (all contributions added), while the rest of the
        graph is still being walked (PyTorch's method; data-parallel training starts its
        gradient allreduces from here). Leaves only; the hook's return value is ignored.

        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> seen = []
        >>> handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
        >>> (w * w).sum().backward()
        >>> seen
        [[2.0, 4.0]]
        >>> handle.remove()
        """
        if not self._rg:
            raise RuntimeError("register_post_accumulate_grad_hook: tensor does not require grad")
        if self._node is not None:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: only leaf tensors accumulate a .grad; "
                "use register_hook on a non-leaf tensor"
            )
        hooks = post_accumulate_hooks(self, create=True)
        hooks.append(hook)
        return _PostHookHandle(hooks, hook, id(self))

    # ------------------------------------------------------------------ arithmetic
    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __pos__(self) -> Tensor:
        return self

    # Comparisons give boolean tensors and are not differentiable.
    def _compare(self, ufunc: np.ufunc, other: Any) -> Tensor:
        od = other.data if isinstance(other, Tensor) else _constant(other, ufunc.__name__)
        try:
            return _wrap(ufunc(self.data, od))
        except ValueError:
            raise ValueError(
                f"{ufunc.__name__}: operands with shapes {self.shape} and {_shape_of(od)} "
                f"cannot be broadcast together"
            ) from None

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(np.less, other)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(np.less_equal, other)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(np.greater, other)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(np.greater_equal, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(np.equal, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(np.not_equal, other)

    def __invert__(self) -> Tensor:
        if self.dtype.kind not in "biu":
            raise TypeError(f"~: needs a boolean or integer tensor, got dtype {self.dtype}")
        return _wrap(np.invert(self.data))

    def __and__(self, other: Any) -> Tensor:
        return self._compare(np.logical_and, other)

    def __or__(self, other: Any) -> Tensor:
        return self._compare(np.logical_or, other)

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        if self._rg or (isinstance(value, Tensor) and value._rg):
            raise RuntimeError(
                "setitem: in-place assignment is not differentiable; build a new tensor "
                "instead (cr.where, cr.concatenate, or index arithmetic)"
            )
        # Copy on write: graphs that saved the old array keep seeing the old values.
        data = np.array(self.data, copy=True)
        data[ops._index_arrays(index)] = value.data if isinstance(value, Tensor) else value
        self.data = _stored(data)

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
        if self.data.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor with {self.data.size} elements is "
                f"ambiguous; use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.item())

    def __format__(self, spec: str) -> str:
        if spec and self.data.size == 1:
            return format(self.item(), spec)
        return repr(self) if not spec else format(str(self), spec)

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self.data), separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.dtype not in (np.float64, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.prim.name}>")
        elif self._rg:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def any(self) -> bool:
        return bool(np.any(self.data))

    def all(self) -> bool:
        return bool(np.all(self.data))

    def argmax(self, axis: int | None = None) -> Tensor:
        return _wrap(np.argmax(self.data, axis=axis))

    def argmin(self, axis: int | None = None) -> Tensor:
        return _wrap(np.argmin(self.data, axis=axis))

    # ------------------------------------------------------------------ elementwise
    def square(self) -> Tensor:
        return _binary(P.mul, self, self)

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

    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> with cr.no_grad():
    ...     y = x * 3
    >>> y.requires_grad
    False
    """
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Context manager / decorator: record again (also inside ``no_grad``)."""
    return _GradMode(True)


def is_grad_enabled() -> bool:
    """Whether operations are recorded in this thread."""
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
                from .transforms import _make_alias

                replacement = _make_alias(replacement, "substitute", len(saved))
            if replacement.shape != tensor.shape:
                raise ValueError(
                    f"substitute: replacement of shape {replacement.shape} for a tensor of "
                    f"shape {tensor.shape}"
                )
            saved.append((tensor, tensor.data, tensor._node, tensor._rg))
            tensor.data = replacement.data
            tensor._node = replacement._node
            tensor._rg = replacement._rg
        yield
    finally:
        for tensor, data, node, rg in reversed(saved):
            tensor.data, tensor._node, tensor._rg = data, node, rg


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise ``FloatingPointError`` at the first operation (forward or backward) whose
    result holds a NaN or Inf, naming that operation.

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

    >>> import chainrule as cr
    >>> cr.tensor([1, 2]).dtype
    dtype('int64')
    """
    t = _wrap(_stored(_to_array(data, dtype, copy=True)))
    if requires_grad:
        t.requires_grad = True
    return t


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """``data`` as a Tensor, sharing memory with an ndarray when possible."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    return _wrap(_stored(_to_array(data, dtype)))


def _shape_args(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be ints or one tuple of ints, got {shape!r}") from None


def _leaf(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = _wrap(_stored(data))
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros(_shape_args(shape), dtype=dtype), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones(_shape_args(shape), dtype=dtype), requires_grad)


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.full(_shape_args((shape,)), fill_value, dtype=dtype), requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros_like(np.asarray(t), dtype=dtype), requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones_like(np.asarray(t), dtype=dtype), requires_grad)


def arange(*args: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Like ``np.arange`` (integer arguments give int64)."""
    return _leaf(np.arange(*args, dtype=dtype), requires_grad)


def linspace(start: float, stop: float, num: int = 50, dtype: Any = None) -> Tensor:
    return _wrap(np.linspace(start, stop, num, dtype=dtype))


def eye(n: int, m: int | None = None, dtype: Any = None) -> Tensor:
    return _wrap(np.eye(n, m, dtype=dtype))


_default_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator used by ``randn``/``rand`` when no ``seed=`` is given."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def _rng(seed: Any) -> np.random.Generator:
    return _default_rng if seed is None else np.random.default_rng(seed)


def randn(*shape: Any, dtype: Any = None, seed: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples (float64 unless ``dtype``); ``seed`` makes them repeatable."""
    data = _rng(seed).standard_normal(_shape_args(shape))
    return _leaf(data.astype(dtype or np.float64, copy=False), requires_grad)


def rand(*shape: Any, dtype: Any = None, seed: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) (float64 unless ``dtype``)."""
    data = _rng(seed).random(_shape_args(shape))
    return _leaf(data.astype(dtype or np.float64, copy=False), requires_grad)


primitives.bind(Tensor, apply)

from . import ops  # noqa: E402  (ops and rules need Tensor defined first)
from . import rules as P  # noqa: E402

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
