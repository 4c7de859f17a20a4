"""The Tensor's ndarray methods (and PyTorch's names that do not clash), installed on the
class by ``install`` when chainrule is imported.

The rule: where NumPy's ndarray has a name, the Tensor method does what NumPy's does
(``t.max(axis)`` returns values, ``t.sort()`` sorts in place, ``t.repeat`` repeats elements,
``t.var()`` has ``ddof=0``); PyTorch's names that NumPy lacks are aliases (``permute``,
``unsqueeze``, ``numel``, ``to(dtype)``, ``dim=``/``keepdim=`` on reductions).
``t.transpose(0, 1)`` is where the two disagree silently, so it raises instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor
from . import indexing as _ix
from . import products as _prod
from . import reductions as _red
from . import shapes as _sh
from . import ufuncs as _uf
from ._common import NOVALUE, dim_alias

__all__ = ["install"]


def _reduction(fn: Any, extra: bool = True) -> Any:
    """A reduction method: NumPy's arguments, plus PyTorch's ``dim=`` and ``keepdim=``."""

    def method(
        self: Tensor,
        axis: Any = None,
        *args: Any,
        keepdims: Any = False,
        dim: Any = None,
        keepdim: Any = None,
        **kwargs: Any,
    ) -> Any:
        axis, keepdims = dim_alias(axis, keepdims, dim, keepdim)
        return fn(self, axis, *args, keepdims=keepdims, **kwargs)

    method.__name__ = fn.__name__
    method.__qualname__ = f"Tensor.{fn.__name__}"
    method.__doc__ = (
        f"NumPy's ``{fn.__name__}`` as a method (``dim=``/``keepdim=`` also accepted); "
        f"see ``chainrule.numpy.{fn.__name__}``."
    )
    return method


def _var_like(fn: Any) -> Any:
    def method(
        self: Tensor,
        axis: Any = None,
        dtype: Any = None,
        out: Any = None,
        ddof: Any = 0,
        keepdims: Any = False,
        *,
        where: Any = True,
        mean: Any = NOVALUE,
        correction: Any = NOVALUE,
        dim: Any = None,
        keepdim: Any = None,
        unbiased: Any = None,
    ) -> Any:
        axis, keepdims = dim_alias(axis, keepdims, dim, keepdim)
        if unbiased is not None:  # PyTorch's spelling of ddof=1
            ddof = 1 if unbiased else 0
        return fn(
            self, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction
        )

    method.__name__ = fn.__name__
    method.__qualname__ = f"Tensor.{fn.__name__}"
    method.__doc__ = (
        f"NumPy's ``{fn.__name__}`` (``ddof=0`` by default; PyTorch's ``unbiased=True`` is "
        f"``ddof=1``); see ``chainrule.numpy.{fn.__name__}``."
    )
    return method


def _arg(fn: Any) -> Any:
    def method(
        self: Tensor,
        axis: Any = None,
        out: Any = None,
        *,
        keepdims: Any = False,
        dim: Any = None,
        keepdim: Any = None,
    ) -> Any:
        axis, keepdims = dim_alias(axis, keepdims, dim, keepdim)
        return fn(self, axis, out, keepdims=keepdims)

    method.__name__ = fn.__name__
    method.__qualname__ = f"Tensor.{fn.__name__}"
    method.__doc__ = f"NumPy's ``{fn.__name__}`` (not differentiable: an index)."
    return method


def _scan(fn: Any) -> Any:
    def method(
        self: Tensor, axis: Any = None, dtype: Any = None, out: Any = None, *, dim: Any = None
    ) -> Any:
        axis, _ = dim_alias(axis, False, dim, None)
        return fn(self, axis, dtype, out)

    method.__name__ = fn.__name__
    method.__qualname__ = f"Tensor.{fn.__name__}"
    method.__doc__ = f"NumPy's ``{fn.__name__}`` (None: flattened; ``dim=`` also accepted)."
    return method


# --------------------------------------------------------------------------- shapes


def transpose(self: Tensor, *axes: Any) -> Tensor:
    """NumPy's ``transpose(*axes)``: a permutation of all the axes (none: reversed).

    PyTorch's ``transpose(dim0, dim1)`` swaps two axes; NumPy reads two ints as a
    permutation. On a 2-D tensor ``t.transpose(0, 1)`` is the identity for NumPy and a
    swap for PyTorch, and on more dimensions it is not a permutation at all, so both raise
    (use ``t.swapaxes(0, 1)`` to swap, ``t.T`` or ``t.transpose()`` to reverse).

    >>> import chainrule as cr
    >>> cr.ones(2, 3, 4).transpose(2, 0, 1).shape
    (4, 2, 3)
    >>> cr.ones(2, 3).transpose(1, 0).shape
    (3, 2)
    """
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        return _sh.transpose(self, None if axes[0] is None else tuple(axes[0]))
    if not axes:
        return _sh.transpose(self)
    if len(axes) != self.ndim or (len(axes) == 2 and self.ndim == 2 and _identity(axes)):
        if len(axes) == 2:
            raise ValueError(
                f"transpose{tuple(axes)}: on a {self.ndim}-d tensor this is ambiguous: NumPy "
                f"reads the ints as a permutation of all {self.ndim} axes, PyTorch swaps two "
                f"axes. Use t.swapaxes({axes[0]}, {axes[1]}) to swap them, t.transpose() or "
                f"t.T to reverse the axes, or pass the permutation as one tuple"
            )
        raise ValueError(
            f"transpose: axes {tuple(axes)} are not a permutation of the {self.ndim} axes of "
            f"shape {self.shape}"
        )
    return _sh.transpose(self, axes)


def _identity(axes: tuple) -> bool:
    try:
        return tuple(int(a) % 2 for a in axes) == (0, 1)
    except (TypeError, ValueError):
        return False


def permute(self: Tensor, *dims: Any) -> Tensor:
    """PyTorch's name for a permutation of all axes (``transpose`` with a tuple).

    >>> import chainrule as cr
    >>> cr.ones(2, 3, 4).permute(2, 0, 1).shape
    (4, 2, 3)
    """
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return _sh.transpose(self, dims)


def swapaxes(self: Tensor, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes (PyTorch's ``transpose(dim0, dim1)``).

    >>> import chainrule as cr
    >>> cr.ones(2, 3, 4).swapaxes(0, 1).shape
    (3, 2, 4)
    """
    return _sh.swapaxes(self, axis1, axis2)


def moveaxis(self: Tensor, source: Any, destination: Any) -> Tensor:
    """Move axes (PyTorch's ``movedim``).

    >>> import chainrule as cr
    >>> cr.ones(2, 3, 4).moveaxis(0, -1).shape
    (3, 4, 2)
    """
    return _sh.moveaxis(self, source, destination)


def unsqueeze(self: Tensor, dim: int) -> Tensor:
    """PyTorch's name for ``expand_dims``.

    >>> import chainrule as cr
    >>> cr.ones(3).unsqueeze(0).shape
    (1, 3)
    """
    return _sh.expand_dims(self, dim)


def squeeze(self: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Remove length-1 axes (all, or ``axis``/``dim``).

    >>> import chainrule as cr
    >>> cr.ones(1, 3, 1).squeeze(0).shape
    (3, 1)
    """
    axis, _ = dim_alias(axis, False, dim, None)
    return _sh.squeeze(self, axis)


def reshape(self: Tensor, *shape: Any, order: str = "C", copy: Any = None) -> Tensor:
    """NumPy's ``reshape``: the shape as separate ints or one tuple, one -1 allowed.

    >>> import chainrule as cr
    >>> cr.ones(6).reshape(2, -1).shape
    (2, 3)
    """
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return _sh.reshape(self, shape, order)


def view(self: Tensor, *shape: Any) -> Tensor:
    """PyTorch's ``view(*shape)``: ``reshape``. (NumPy's ``view(dtype)``, which reinterprets
    memory, is not supported: use ``astype``.)

    >>> import chainrule as cr
    >>> cr.ones(6).view(3, 2).shape
    (3, 2)
    """
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer, tuple, list)):
        raise TypeError(
            "view: NumPy's view(dtype) reinterprets the memory, which has no gradient; use "
            "astype(dtype) to convert values"
        )
    return reshape(self, *shape)


def ravel(self: Tensor, order: str = "C") -> Tensor:
    """The elements as a 1-D tensor.

    >>> import chainrule as cr
    >>> cr.ones(2, 3).ravel().shape
    (6,)
    """
    return _sh.ravel(self, order)


def flatten(self: Tensor, order: Any = "C", end_dim: int = -1) -> Tensor:
    """NumPy's ``flatten(order)``; PyTorch's ``flatten(start_dim, end_dim)`` when given ints.

    >>> import chainrule as cr
    >>> cr.ones(2, 3, 4).flatten().shape, cr.ones(2, 3, 4).flatten(1).shape
    ((24,), (2, 12))
    """
    if isinstance(order, str):
        return _sh.ravel(self, order)
    start = int(order) % max(self.ndim, 1)
    end = int(end_dim) % max(self.ndim, 1)
    if self.ndim == 0:
        return ops.reshape(self, 1)
    merged = int(np.prod(self.shape[start : end + 1], dtype=np.int64))
    return ops.reshape(self, self.shape[:start] + (merged,) + self.shape[end + 1 :])


def expand(self: Tensor, *sizes: Any) -> Tensor:
    """PyTorch's ``expand``: broadcast to ``sizes`` (-1 keeps a size).

    >>> import chainrule as cr
    >>> cr.ones(3, 1).expand(-1, 4).shape
    (3, 4)
    """
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    lead = len(sizes) - self.ndim
    shape = tuple(
        self.shape[i - lead] if s == -1 and i >= lead else int(s) for i, s in enumerate(sizes)
    )
    return ops.broadcast_to(self, shape)


def repeat(self: Tensor, repeats: Any, axis: Any = None) -> Tensor:
    """NumPy's ``repeat``: each element repeated (PyTorch's ``repeat`` tiles; use
    ``chainrule.numpy.tile`` for that).

    >>> import chainrule as cr
    >>> cr.tensor([1.0, 2.0]).repeat(2)
    tensor([1., 1., 2., 2.])
    """
    return _sh.repeat(self, repeats, axis)


def flip(self: Tensor, axis: Any = None, *, dims: Any = None) -> Tensor:
    """Reverse the order along ``axis`` (PyTorch's ``dims=``).

    >>> import chainrule as cr
    >>> cr.tensor([1.0, 2.0]).flip()
    tensor([2., 1.])
    """
    return _sh.flip(self, dims if dims is not None else axis)


def roll(
    self: Tensor, shift: Any = None, axis: Any = None, *, shifts: Any = None, dims: Any = None
) -> Tensor:
    """Roll elements along ``axis`` (PyTorch's ``shifts=``/``dims=`` too).

    >>> import chainrule as cr
    >>> cr.tensor([1.0, 2.0, 3.0]).roll(1)
    tensor([3., 1., 2.])
    """
    return _sh.roll(
        self, shifts if shifts is not None else shift, dims if dims is not None else axis
    )


def diagonal(self: Tensor, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """NumPy's ``diagonal``.

    >>> import chainrule as cr
    >>> cr.ones(2, 2).diagonal()
    tensor([1., 1.])
    """
    return _ix.diagonal(self, offset, axis1, axis2)


def trace(
    self: Tensor,
    offset: int = 0,
    axis1: int = 0,
    axis2: int = 1,
    dtype: Any = None,
    out: Any = None,
) -> Any:
    """NumPy's ``trace``.

    >>> import chainrule as cr
    >>> cr.ones(2, 2).trace()
    tensor(2.)
    """
    return _ix.trace(self, offset, axis1, axis2, dtype, out)


def take(self: Tensor, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Any:
    """NumPy's ``take``.

    >>> import chainrule as cr
    >>> cr.tensor([1.0, 2.0, 3.0]).take([2, 0])
    tensor([3., 1.])
    """
    return _ix.take(self, indices, axis, out, mode)


def compress(self: Tensor, condition: Any, axis: Any = None, out: Any = None) -> Any:
    """NumPy's ``compress``.

    >>> import chainrule as cr
    >>> cr.tensor([1.0, 2.0]).compress([False, True])
    tensor([2.])
    """
    return _ix.compress(condition, self, axis, out)


def nonzero(self: Tensor) -> tuple:
    """NumPy's ``nonzero``: one integer tensor of indices per axis (not differentiable).

    >>> import chainrule as cr
    >>> cr.tensor([0.0, 1.0]).nonzero()
    (tensor([1]),)
    """
    return _ix.nonzero(self)


def sort(
    self: Tensor, axis: int = -1, kind: Any = None, order: Any = None, *, stable: Any = None
) -> None:
    """NumPy's ``sort``: sorts in place (recorded like other in-place operations) and
    returns None. For sorted values as a new tensor use ``chainrule.numpy.sort``.

    >>> import chainrule as cr
    >>> t = cr.tensor([3.0, 1.0, 2.0])
    >>> t.sort()
    >>> t
    tensor([1., 2., 3.])
    """
    self._inplace("sort", lambda old: _ix.sort(old, axis, kind, order, stable=stable))


def argsort(
    self: Tensor,
    axis: Any = -1,
    kind: Any = None,
    order: Any = None,
    *,
    stable: Any = None,
    dim: Any = None,
) -> Tensor:
    """NumPy's ``argsort`` (not differentiable).

    >>> import chainrule as cr
    >>> cr.tensor([3.0, 1.0, 2.0]).argsort()
    tensor([1, 2, 0])
    """
    if dim is not None:
        axis = dim
    return _ix.argsort(self, axis, kind, order, stable=stable)


def partition(
    self: Tensor, kth: Any, axis: int = -1, kind: str = "introselect", order: Any = None
) -> None:
    """NumPy's ``partition``: in place, returns None.

    >>> import chainrule as cr
    >>> t = cr.tensor([3.0, 1.0, 2.0])
    >>> t.partition(0)
    >>> float(t[0])
    1.0
    """
    self._inplace("partition", lambda old: _ix.partition(old, kth, axis, kind, order))


def argpartition(
    self: Tensor, kth: Any, axis: int = -1, kind: str = "introselect", order: Any = None
) -> Tensor:
    """NumPy's ``argpartition`` (not differentiable).

    >>> import chainrule as cr
    >>> int(cr.tensor([3.0, 1.0, 2.0]).argpartition(0)[0])
    1
    """
    return _ix.argpartition(self, kth, axis, kind, order)


# --------------------------------------------------------------------------- values


def round(self: Tensor, decimals: int = 0, out: Any = None) -> Any:
    """NumPy's ``round`` (derivative 0).

    >>> import chainrule as cr
    >>> cr.tensor([1.26]).round(1)
    tensor([1.3])
    """
    return _uf.round(self, decimals, out)


def _round_builtin(self: Tensor, ndigits: Any = None) -> Tensor:
    return _uf.round(self, 0 if ndigits is None else ndigits)


def clip(self: Tensor, min: Any = None, max: Any = None, out: Any = None, **kwargs: Any) -> Any:  # noqa: A002
    """NumPy's ``clip(min, max)`` (PyTorch's ``clamp``): the gradient passes where
    min <= x <= max. Unlike NumPy, constant bounds with min > max raise (NumPy would
    return max everywhere); ``chainrule.numpy.clip`` does exactly what NumPy does.

    >>> import chainrule as cr
    >>> cr.tensor([-1.0, 2.0]).clip(0.0, 1.0)
    tensor([0., 1.])
    """
    if out is None and not kwargs and not isinstance(min, Tensor) and not isinstance(max, Tensor):
        return ops.clip(self, min, max)
    return _uf.clip(self, min, max, out, **kwargs)


def dot(self: Tensor, b: Any, out: Any = None) -> Any:
    """NumPy's ``dot``.

    >>> import chainrule as cr
    >>> cr.tensor([1.0, 2.0]).dot(cr.tensor([3.0, 4.0]))
    tensor(11.)
    """
    return _prod.dot(self, b, out)


def conjugate(self: Tensor) -> Tensor:
    """The complex conjugate.

    >>> import chainrule as cr, numpy as np
    >>> cr.tensor(np.array([1j])).conjugate()
    tensor([0.-1.j], dtype=complex128)
    """
    return ops.conj(self)


def copy(self: Tensor, order: str = "C") -> Tensor:
    """A differentiable copy with its own memory.

    >>> import chainrule as cr
    >>> cr.tensor([1.0]).copy()
    tensor([1.])
    """
    return _uf.positive(self)


def fill(self: Tensor, value: Any) -> None:
    """NumPy's ``fill``: set every element to ``value`` in place (returns None).

    >>> import chainrule as cr
    >>> t = cr.zeros(2)
    >>> t.fill(3.0)
    >>> t
    tensor([3., 3.])
    """
    self.fill_(value)


def numel(self: Tensor) -> int:
    """PyTorch's name for ``size``: the number of elements.

    >>> import chainrule as cr
    >>> cr.ones(2, 3).numel()
    6
    """
    return self.size


def dim(self: Tensor) -> int:
    """PyTorch's name for ``ndim``.

    >>> import chainrule as cr
    >>> cr.ones(2, 3).dim()
    2
    """
    return self.ndim


def to(self: Tensor, *args: Any, dtype: Any = None, device: Any = None, **kwargs: Any) -> Tensor:
    """PyTorch's ``to(dtype)``: ``astype``. A device other than "cpu" is refused.

    >>> import chainrule as cr, numpy as np
    >>> cr.ones(2).to(np.float32).dtype
    dtype('float32')
    """
    for a in args:
        if isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta"):
            device = a
        else:
            dtype = a
    if device is not None and str(device) != "cpu":
        raise ValueError(f"to: chainrule computes with NumPy on the CPU, got device {device!r}")
    return self if dtype is None else self.astype(dtype)


def _nbytes(self: Tensor) -> int:
    return int(np.asarray(self._data).nbytes)


def _itemsize(self: Tensor) -> int:
    return int(self._data.dtype.itemsize)


def _binary_reflected(fn: Any, reflected: bool) -> Any:
    if reflected:
        return lambda self, other: fn(other, self)
    return lambda self, other: fn(self, other)


def _array_ufunc(self: Tensor, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    from .dispatch import array_ufunc

    return array_ufunc(ufunc, method, inputs, kwargs)


def _array_function(self: Tensor, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
    from .dispatch import array_function

    return array_function(func, types, args, kwargs)


def install(cls: type) -> None:
    """Put the methods above (and NumPy's protocol hooks, ``%`` and ``//``) on ``cls``.

    >>> import chainrule as cr
    >>> cr.tensor([5.0, -5.0]) % 3.0
    tensor([2., 1.])
    """
    methods = {
        "transpose": transpose,
        "permute": permute,
        "swapaxes": swapaxes,
        "moveaxis": moveaxis,
        "movedim": moveaxis,
        "unsqueeze": unsqueeze,
        "squeeze": squeeze,
        "reshape": reshape,
        "view": view,
        "ravel": ravel,
        "flatten": flatten,
        "expand": expand,
        "repeat": repeat,
        "flip": flip,
        "roll": roll,
        "diagonal": diagonal,
        "trace": trace,
        "take": take,
        "compress": compress,
        "nonzero": nonzero,
        "sort": sort,
        "argsort": argsort,
        "partition": partition,
        "argpartition": argpartition,
        "round": round,
        "__round__": _round_builtin,
        "clip": clip,
        "clamp": clip,
        "dot": dot,
        "conjugate": conjugate,
        "copy": copy,
        "clone": copy,
        "fill": fill,
        "numel": numel,
        "dim": dim,
        "to": to,
        "sum": _reduction(_red.sum),
        "prod": _reduction(_red.prod),
        "mean": _reduction(_red.mean),
        "max": _reduction(_red.max),
        "min": _reduction(_red.min),
        "amax": _reduction(_red.amax),
        "amin": _reduction(_red.amin),
        "any": _reduction(_red.any),
        "all": _reduction(_red.all),
        "var": _var_like(_red.var),
        "std": _var_like(_red.std),
        "argmax": _arg(_red.argmax),
        "argmin": _arg(_red.argmin),
        "cumsum": _scan(_red.cumsum),
        "cumprod": _scan(_red.cumprod),
        "__mod__": _binary_reflected(_uf.remainder, False),
        "__rmod__": _binary_reflected(_uf.remainder, True),
        "__floordiv__": _binary_reflected(_uf.floor_divide, False),
        "__rfloordiv__": _binary_reflected(_uf.floor_divide, True),
        "__divmod__": _binary_reflected(_uf.divmod, False),
        "__rdivmod__": _binary_reflected(_uf.divmod, True),
        "__array_ufunc__": _array_ufunc,
        "__array_function__": _array_function,
    }
    for name, fn in methods.items():
        setattr(cls, name, fn)
    cls.nbytes = property(_nbytes, doc="Bytes of the values.")
    cls.itemsize = property(_itemsize, doc="Bytes of one element.")
    cls.__imod__ = lambda self, other: self._binary_inplace(_REM, other, "%=")
    cls.__ifloordiv__ = lambda self, other: self._binary_inplace(_FLOORDIV, other, "//=")


from .. import rules_numpy as _R  # noqa: E402

_REM = _R.remainder
_FLOORDIV = _R.floor_divide
