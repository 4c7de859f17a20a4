"""NumPy's array-creation functions, making Tensors: ``array`` and ``asarray`` (which stack
lists of Tensors through the graph), the filled and ``*_like`` constructors, ranges
(``linspace`` is differentiable in its end points) and ``copy``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .. import rules as P
from ..tensor import Tensor, _wrap, apply, as_tensor
from ..tensor import tensor as _new_tensor
from ._common import cast, shape_tuple, tensor

__all__ = [
    "arange",
    "array",
    "asanyarray",
    "asarray",
    "asarray_chkfinite",
    "ascontiguousarray",
    "asfortranarray",
    "astype",
    "bartlett",
    "blackman",
    "copy",
    "fromfunction",
    "geomspace",
    "hamming",
    "hanning",
    "kaiser",
    "empty",
    "empty_like",
    "eye",
    "full",
    "full_like",
    "identity",
    "linspace",
    "logspace",
    "ones",
    "ones_like",
    "tri",
    "zeros",
    "zeros_like",
]


def _holds_tensor(obj: Any) -> bool:
    if isinstance(obj, Tensor):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_holds_tensor(e) for e in obj)
    return False


def array(
    object: Any,
    dtype: Any = None,
    *,
    copy: Any = True,
    order: str = "K",
    subok: bool = False,
    ndmin: int = 0,
    like: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A Tensor from data: numbers, (nested) lists, ndarrays, or Tensors. Lists that hold
    Tensors are stacked through the graph (``cnp.array([x, x * 2])`` is differentiable);
    a Tensor is copied (differentiably). ``requires_grad`` makes a new leaf.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array(3.0, requires_grad=True)
    >>> v = cnp.array([x, x * x])
    >>> v.sum().backward()
    >>> x.grad
    tensor(7.)
    """
    if isinstance(object, Tensor) or _holds_tensor(object):
        out = tensor(object)
        out = cast(out, dtype)
        if copy and out is object:
            out = apply(P.copy, (out,))
    else:
        out = _new_tensor(object, dtype=dtype, requires_grad=requires_grad)
    if out.ndim < ndmin:
        out = ops.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
    return out


def asarray(
    a: Any,
    dtype: Any = None,
    order: Any = None,
    *,
    device: Any = None,
    copy: Any = None,
    like: Any = None,
) -> Tensor:
    """``a`` as a Tensor without copying when possible (a Tensor is returned as it is,
    graph and all; an ndarray shares its memory).

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([1.0])
    >>> cnp.asarray(x) is x
    True
    """
    if isinstance(a, Tensor):
        return cast(a, dtype)
    if _holds_tensor(a):
        return cast(tensor(a), dtype)
    return as_tensor(a, dtype)


asanyarray = asarray
ascontiguousarray = asarray
asfortranarray = asarray


def asarray_chkfinite(a: Any, dtype: Any = None, order: Any = None) -> Tensor:
    """``asarray``, refusing NaN and infinities (ValueError; the values are read for the
    check); the gradient passes through.

    >>> import chainrule.numpy as cnp
    >>> cnp.asarray_chkfinite([1.0, 2.0])
    tensor([1., 2.])
    """
    t = asarray(a, dtype)
    if t.dtype.kind in "fc" and not np.isfinite(t._data).all():
        raise ValueError("asarray_chkfinite: array must not contain infs or NaNs")
    return t


def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Tensor:
    """``x`` cast to ``dtype`` (NumPy 2's function form of ``x.astype``); differentiable
    between floating and complex dtypes (the gradient is cast back), integer results carry
    no gradient. With ``copy=False`` a Tensor already of that dtype is returned as it is.

    >>> import chainrule.numpy as cnp
    >>> cnp.astype(cnp.array([1.5, -2.5]), "float32")
    tensor([ 1.5, -2.5], dtype=float32)
    """
    if device is not None and device != "cpu":
        raise ValueError(f'astype: device not understood. Only "cpu" is allowed, got {device}')
    if not isinstance(x, (Tensor, np.ndarray)) and not np.isscalar(x):
        raise TypeError(
            f"astype: input should be a Tensor, a NumPy array or scalar, got {type(x).__name__}"
        )
    t = tensor(x)
    dtype = np.dtype(dtype)
    if t.dtype == dtype:
        return t if not copy else apply(P.copy, (t,))
    return t.astype(dtype)


def copy(a: Any, order: str = "K", subok: bool = False) -> Tensor:
    """A copy with its own memory (differentiable: the gradient passes through).

    >>> import chainrule.numpy as cnp
    >>> cnp.copy(cnp.array([1.0, 2.0]))
    tensor([1., 2.])
    """
    return apply(P.copy, (tensor(a),))


def _filled(shape: Any, value: Any, dtype: Any, name: str) -> Tensor:
    return _wrap(np.full(shape_tuple(name, shape), value, dtype=dtype))


def zeros(
    shape: Any, dtype: Any = float, order: str = "C", *, device: Any = None, like: Any = None
) -> Tensor:
    """A tensor of zeros (float64 unless ``dtype``).

    >>> import chainrule.numpy as cnp
    >>> cnp.zeros((2, 3)).shape
    (2, 3)
    """
    return _wrap(np.zeros(shape_tuple("zeros", shape), dtype=dtype))


def ones(
    shape: Any, dtype: Any = None, order: str = "C", *, device: Any = None, like: Any = None
) -> Tensor:
    """A tensor of ones (float64 unless ``dtype``).

    >>> import chainrule.numpy as cnp
    >>> cnp.ones(2)
    tensor([1., 1.])
    """
    return _wrap(np.ones(shape_tuple("ones", shape), dtype=dtype))


def empty(
    shape: Any, dtype: Any = float, order: str = "C", *, device: Any = None, like: Any = None
) -> Tensor:
    """A tensor of the given shape; chainrule fills it with zeros (NumPy leaves it
    uninitialized).

    >>> import chainrule.numpy as cnp
    >>> cnp.empty(2).shape
    (2,)
    """
    return _wrap(np.zeros(shape_tuple("empty", shape), dtype=dtype))


def full(
    shape: Any,
    fill_value: Any,
    dtype: Any = None,
    order: str = "C",
    *,
    device: Any = None,
    like: Any = None,
) -> Tensor:
    """A tensor filled with ``fill_value``; a Tensor fill value is broadcast through the
    graph (its gradient is the sum over the filled tensor).

    >>> import chainrule.numpy as cnp
    >>> cnp.full((2,), 7.0)
    tensor([7., 7.])
    """
    if isinstance(fill_value, Tensor):
        return ops.broadcast_to(cast(fill_value, dtype), shape_tuple("full", shape))
    return _filled(shape, fill_value, dtype, "full")


def _like_shape(a: Any, shape: Any) -> tuple:
    return (
        np.shape(a._data if isinstance(a, Tensor) else a)
        if shape is None
        else shape_tuple("like", shape)
    )


def _like_dtype(a: Any, dtype: Any) -> Any:
    if dtype is not None:
        return dtype
    return a.dtype if isinstance(a, Tensor) else np.asarray(a).dtype


def zeros_like(
    a: Any,
    dtype: Any = None,
    order: str = "K",
    subok: bool = True,
    shape: Any = None,
    *,
    device: Any = None,
) -> Tensor:
    """Zeros with ``a``'s shape and dtype (a constant: no gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.zeros_like(cnp.ones(2))
    tensor([0., 0.])
    """
    return _wrap(np.zeros(_like_shape(a, shape), dtype=_like_dtype(a, dtype)))


def ones_like(
    a: Any,
    dtype: Any = None,
    order: str = "K",
    subok: bool = True,
    shape: Any = None,
    *,
    device: Any = None,
) -> Tensor:
    """Ones with ``a``'s shape and dtype (a constant).

    >>> import chainrule.numpy as cnp
    >>> cnp.ones_like(cnp.zeros(2))
    tensor([1., 1.])
    """
    return _wrap(np.ones(_like_shape(a, shape), dtype=_like_dtype(a, dtype)))


def empty_like(
    prototype: Any,
    dtype: Any = None,
    order: str = "K",
    subok: bool = True,
    shape: Any = None,
    *,
    device: Any = None,
) -> Tensor:
    """A tensor like ``prototype`` (filled with zeros).

    >>> import chainrule.numpy as cnp
    >>> cnp.empty_like(cnp.ones(2)).shape
    (2,)
    """
    return _wrap(np.zeros(_like_shape(prototype, shape), dtype=_like_dtype(prototype, dtype)))


def full_like(
    a: Any,
    fill_value: Any,
    dtype: Any = None,
    order: str = "K",
    subok: bool = True,
    shape: Any = None,
    *,
    device: Any = None,
) -> Tensor:
    """``fill_value`` in ``a``'s shape and dtype (a Tensor fill value is differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.full_like(cnp.zeros(2), 3.0)
    tensor([3., 3.])
    """
    shape = _like_shape(a, shape)
    dt = _like_dtype(a, dtype)
    if isinstance(fill_value, Tensor):
        return ops.broadcast_to(cast(fill_value, dt), shape)
    return _wrap(np.full(shape, fill_value, dtype=dt))


def arange(
    *args: Any, dtype: Any = None, device: Any = None, like: Any = None, **kwargs: Any
) -> Tensor:
    """Evenly spaced values in [start, stop) (a constant), like ``np.arange``.

    >>> import chainrule.numpy as cnp
    >>> cnp.arange(3)
    tensor([0, 1, 2])
    """
    return _wrap(np.arange(*args, dtype=dtype, **kwargs))


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
    *,
    device: Any = None,
) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop``, computed as NumPy computes
    them; differentiable in ``start`` and ``stop`` when they are Tensors (d/dstart =
    1 - i/(num - 1), d/dstop = i/(num - 1) for the i-th value).

    >>> import chainrule.numpy as cnp
    >>> cnp.linspace(0.0, 1.0, 5)
    tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    num = int(num)
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    if not isinstance(start, Tensor) and not isinstance(stop, Tensor):
        out = np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
        return (_wrap(out[0]), out[1]) if retstep else _wrap(out)
    a, b = tensor(start), tensor(stop)
    dt = np.result_type(a.dtype, b.dtype, float(num))
    a, b = cast(a, dt), cast(b, dt)
    div = (num - 1) if endpoint else num
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = ops.broadcast_to(a, shape), ops.broadcast_to(b, shape)
    steps = np.arange(num, dtype=dt).reshape((-1,) + (1,) * len(shape))
    delta = b - a
    if num == 0:
        y = ops.reshape(a, (1,) + shape) * steps
        step = delta * np.nan
    elif div > 0:
        step = delta / div
        y = ops.reshape(step, (1,) + shape) * steps + ops.reshape(a, (1,) + shape)
        if endpoint and num > 1:
            head = y[: num - 1]
            y = ops.concatenate([head, ops.reshape(b, (1,) + shape)], 0)
    else:  # one sample, endpoint included: the start (step undefined, as NumPy says)
        step = delta * np.nan
        y = ops.reshape(a, (1,) + shape) + ops.reshape(delta, (1,) + shape) * steps
    if axis != 0:
        from .shapes import moveaxis

        y = moveaxis(y, 0, axis)
    if dtype is not None:
        y = cast(y, dtype)
    return (y, step) if retstep else y


def logspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    base: Any = 10.0,
    dtype: Any = None,
    axis: int = 0,
) -> Tensor:
    """``base ** linspace(start, stop, num)`` (differentiable in start, stop and base).

    >>> import chainrule.numpy as cnp
    >>> cnp.logspace(0.0, 2.0, 3)
    tensor([  1.,  10., 100.])
    """
    if not any(isinstance(v, Tensor) for v in (start, stop, base)):
        return _wrap(np.logspace(start, stop, num, endpoint, base, dtype, axis))
    y = linspace(start, stop, num, endpoint, axis=axis)
    out = base**y if not isinstance(base, Tensor) else ops.pow(base, y)
    return cast(out, dtype)


def geomspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None, axis: int = 0
) -> Tensor:
    """``num`` values from ``start`` to ``stop`` in geometric progression, computed as NumPy
    computes them (through ``logspace`` of the logarithms, the ends set to ``start`` and
    ``stop`` exactly; negative and complex ends by rotating ``start`` to the positive real
    axis and back); differentiable in ``start`` and ``stop`` when they are Tensors.

    >>> import chainrule.numpy as cnp
    >>> a = cnp.array(1.0, requires_grad=True)
    >>> y = cnp.geomspace(a, 1000.0, 4)
    >>> y
    tensor([   1.,   10.,  100., 1000.], grad_fn=<mul>)
    >>> y[1].backward()
    >>> a.grad  # 10 = a**(2/3) * 1000**(1/3)
    tensor(6.6667)
    """
    num = int(num)
    if not isinstance(start, Tensor) and not isinstance(stop, Tensor):
        return _wrap(np.geomspace(start, stop, num, endpoint, dtype, axis))
    if num < 0:
        raise ValueError(f"geomspace: number of samples, {num}, must be non-negative")
    a, b = tensor(start), tensor(stop)
    if np.any(a._data == 0) or np.any(b._data == 0):
        raise ValueError("geomspace: geometric sequence cannot include zero")
    dt = np.result_type(a.dtype, b.dtype, float(num), np.zeros((), dtype))
    a, b = cast(a, dt), cast(b, dt)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = ops.broadcast_to(a, shape), ops.broadcast_to(b, shape)
    # a / |a|: +-1 for real ends (derivative 0 away from 0), the phase for complex ones
    sign = a / ops.abs(a)
    if dt.kind == "c":
        sign = sign.astype(dt)
    first, last = a / sign, b / sign
    if dt.kind == "c":
        first = first.astype(dt)
    from .ufuncs import log10

    y = logspace(log10(first), log10(last), num, endpoint, 10.0, dt)
    if num > 0:
        pieces = [ops.reshape(first, (1,) + shape)]
        if num > 1 and endpoint:
            pieces += [y[1 : num - 1], ops.reshape(last, (1,) + shape)]
        else:
            pieces.append(y[1:])
        y = ops.concatenate(pieces, 0)
    y = y * ops.reshape(sign, (1,) + shape)
    if axis != 0:
        from .shapes import moveaxis

        y = moveaxis(y, 0, axis)
    return cast(y, np.dtype(dt if dtype is None else dtype))


def fromfunction(
    function: Any, shape: Any, *, dtype: Any = float, like: Any = None, **kwargs: Any
) -> Any:
    """``function`` called on the index grids of ``shape`` (one coordinate Tensor per
    axis, of ``dtype``): differentiable through whatever ``function`` reads besides them.

    >>> import chainrule.numpy as cnp
    >>> cnp.fromfunction(lambda i, j: i + 10 * j, (2, 2))
    tensor([[ 0., 10.],
            [ 1., 11.]])
    """
    grids = np.indices(shape_tuple("fromfunction", shape), dtype=dtype)
    return function(*(_wrap(g) for g in grids), **kwargs)


def kaiser(M: int, beta: Any) -> Tensor:
    """The Kaiser window of ``M`` points, I0(beta sqrt(1 - ((n - a) / a)**2)) / I0(beta) with
    a = (M - 1) / 2, as NumPy computes it; differentiable in ``beta`` (through ``i0``).

    >>> import chainrule.numpy as cnp
    >>> cnp.kaiser(3, 2.0)
    tensor([0.4387, 1.    , 0.4387])
    """
    if not isinstance(beta, Tensor):
        return _wrap(np.kaiser(M, beta))
    from .ufuncs import i0

    b = cast(tensor(beta), np.result_type(beta.dtype, np.float64))
    if M == 1:
        return _wrap(np.ones(1, dtype=b.dtype))
    if M < 1:
        return _wrap(np.array([], dtype=b.dtype))
    n = np.arange(0, M)
    alpha = (M - 1) / 2.0
    return i0(b * np.sqrt(1 - ((n - alpha) / alpha) ** 2.0)) / i0(b)


def _window(name: str, fn: Any) -> Any:
    def window(M: int) -> Tensor:
        return _wrap(fn(M))

    window.__name__ = window.__qualname__ = name
    window.__doc__ = f"""NumPy's {name} window of ``M`` points (a constant).

    >>> import chainrule.numpy as cnp
    >>> cnp.{name}(3).shape
    (3,)
    """
    return window


bartlett = _window("bartlett", np.bartlett)
blackman = _window("blackman", np.blackman)
hamming = _window("hamming", np.hamming)
hanning = _window("hanning", np.hanning)


def eye(
    N: int,
    M: Any = None,
    k: int = 0,
    dtype: Any = float,
    order: str = "C",
    *,
    device: Any = None,
    like: Any = None,
) -> Tensor:
    """Ones on diagonal ``k``, zeros elsewhere (a constant).

    >>> import chainrule.numpy as cnp
    >>> cnp.eye(2)
    tensor([[1., 0.],
            [0., 1.]])
    """
    return _wrap(np.eye(N, M, k, dtype=dtype))


def identity(n: int, dtype: Any = None, *, like: Any = None) -> Tensor:
    """The n x n identity matrix (a constant).

    >>> import chainrule.numpy as cnp
    >>> cnp.identity(2).shape
    (2, 2)
    """
    return _wrap(np.identity(n, dtype=dtype))


def tri(N: int, M: Any = None, k: int = 0, dtype: Any = float, *, like: Any = None) -> Tensor:
    """Ones at and below diagonal ``k`` (a constant).

    >>> import chainrule.numpy as cnp
    >>> cnp.tri(2)
    tensor([[1., 0.],
            [1., 1.]])
    """
    return _wrap(np.tri(N, M, k, dtype=dtype))
