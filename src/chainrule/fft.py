"""``cr.fft`` (also ``chainrule.numpy.fft``): NumPy's discrete Fourier transforms on tensors,
differentiable in both modes and to any order, real or complex, batched over the other axes.

The names, signatures, values and dtypes are ``numpy.fft``'s: ``n`` / ``s`` crop or
zero-pad the input, ``axis`` / ``axes`` pick the transformed axes (repeated axes transform
twice, as NumPy does), ``norm`` is ``None`` (``"backward"``), ``"ortho"`` or ``"forward"``,
and ``out=`` takes a Tensor. NumPy's own functions called on tensors
(``np.fft.fft(t)``) dispatch here. Gradients of complex values follow PyTorch's convention
(the gradient of a real loss is dL/dx + i dL/dy): the gradient through ``fft`` of a real
loss ``L`` is ``n * ifft(dL/dy)``, and through ``rfft`` / ``irfft`` it accounts for the bins
that stand for their conjugate mirror images (``chainrule.rules_fft`` derives the rules).
``fftfreq`` and ``rfftfreq`` return NumPy arrays of sample frequencies.

>>> import chainrule as cr
>>> x = cr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
>>> power = (cr.abs(cr.fft.rfft(x)) ** 2).sum()
>>> power.backward()
>>> x.grad  # the zero and Nyquist bins count once, the others twice
tensor([12., 20., 20., 28.])
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from . import rules as P
from . import rules_fft as F
from .numpy._common import AxisError, finish
from .tensor import Tensor, apply, as_tensor

__all__ = [
    "NUMPY_FUNCTIONS",
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "hfft",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "ihfft",
    "irfft",
    "irfft2",
    "irfftn",
    "rfft",
    "rfft2",
    "rfftfreq",
    "rfftn",
]

# --------------------------------------------------------------------------- arguments

_NUMPY_2 = int(np.__version__.split(".")[0]) >= 2


def _as(name: str, a: Any) -> Tensor:
    """The input as a Tensor; integer and boolean input is computed in float64 (NumPy's
    ``result_type(a, 1.0)``)."""
    x = a if isinstance(a, Tensor) else as_tensor(a)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)
    elif x.dtype.kind not in "fc":
        raise TypeError(f"{name}: the input must be numeric, got dtype {x.dtype}")
    return x


def _norm(name: str, norm: Any) -> str:
    if norm is None:
        return "backward"
    if isinstance(norm, str) and norm in F.NORMS:
        return norm
    raise ValueError(
        f"{name}: invalid norm={norm!r}; the argument norm must be None, 'backward', "
        f"'ortho' or 'forward'"
    )


def _length(name: str, n: Any, arg: str) -> int:
    """A number of points: a positive integer."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name}: the argument {arg} must be an integer, got {n!r}")
    if n < 1:
        raise ValueError(
            f"{name}: invalid number of data points {arg}={int(n)}: it must be at least 1"
        )
    return int(n)


def _axis(name: str, axis: Any, shape: tuple, arg: str = "axis") -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: the argument {arg} must be an integer, got {axis!r}")
    nd = len(shape)
    if not -nd <= axis < nd:
        raise AxisError(f"{name}: {arg}={int(axis)} is out of range for a tensor of shape {shape}")
    return int(axis) % nd


def _ints(name: str, value: Any, arg: str) -> list:
    if isinstance(value, (int, np.integer)) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"{name}: the argument {arg} must be a sequence, got {value!r}")
    return list(value)


def _cook(name: str, x: Tensor, s: Any, axes: Any, invreal: bool) -> tuple[list, list]:
    """NumPy's ``_cook_nd_args``: the transformed axes (non-negative, possibly repeated) and
    the transform's length along each (``s[i] == -1`` or None: the input's, or for the
    last axis of an inverse real transform ``2 * (m - 1)``)."""
    if axes is None:
        if s is None:
            axes = list(range(x.ndim))
        else:
            s = _ints(name, s, "s")
            axes = list(range(-len(s), 0))
            if _NUMPY_2:
                warnings.warn(
                    f"{name}: `axes` should not be `None` if `s` is not `None` (deprecated in "
                    f"NumPy 2.0): the last len(s) axes are transformed; pass axes to say which",
                    DeprecationWarning,
                    stacklevel=3,
                )
    else:
        axes = _ints(name, axes, "axes")
    axes = [_axis(name, a, x.shape, "axes") for a in axes]
    if s is None:
        s = [None] * len(axes)
    else:
        s = _ints(name, s, "s")
        if len(s) != len(axes):
            raise ValueError(
                f"{name}: the arguments s and axes have different lengths ({len(s)} and "
                f"{len(axes)})"
            )
    out = []
    for i, (n, a) in enumerate(zip(s, axes)):
        if n is None and invreal and i == len(axes) - 1:
            n = 2 * (x.shape[a] - 1)
        elif n is None or (isinstance(n, (int, np.integer)) and n == -1):
            n = x.shape[a]
        out.append(_length(name, n, "s"))
    return out, axes


def _resize(x: Tensor, sizes: dict) -> Tensor:
    """``x`` cropped or zero-padded at the end of each axis to ``sizes[axis]``."""
    crop = tuple(
        slice(0, sizes[a]) if a in sizes and sizes[a] < n else slice(None)
        for a, n in enumerate(x.shape)
    )
    if any(c != slice(None) for c in crop):
        x = ops.getitem(x, crop)
    shape = tuple(builtins.max(sizes.get(a, n), n) for a, n in enumerate(x.shape))
    if shape != x.shape:
        inner = tuple(slice(0, n) for n in x.shape)
        x = apply(P.index_add, (x,), {"index": inner, "shape": shape})
    return x


def _unique(axes: list) -> bool:
    return len(set(axes)) == len(axes)


# --------------------------------------------------------------------------- the transforms


def _c2c(x: Tensor, s: list, axes: list, norm: str, inverse: bool) -> Tensor:
    prim = F.ifftn if inverse else F.fftn
    if not axes:
        return x  # NumPy transforms nothing and returns the input
    if _unique(axes):
        x = _resize(x, dict(zip(axes, s)))
        return apply(prim, (x,), {"axes": tuple(axes), "norm": norm})
    # a repeated axis is transformed once per mention, last axis first, as NumPy does
    for i in reversed(range(len(axes))):
        x = _resize(x, {axes[i]: s[i]})
        x = apply(prim, (x,), {"axes": (axes[i],), "norm": norm})
    return x


def _real_only(name: str, x: Tensor, instead: str) -> None:
    if x.dtype.kind == "c":
        raise TypeError(
            f"{name}: the input must be real, got dtype {x.dtype} (use {instead} for complex "
            f"input, or take cr.real of it first)"
        )


def _r2c(name: str, x: Tensor, s: list, axes: list, norm: str) -> Tensor:
    if not axes:
        raise ValueError(f"{name}: the argument axes must name at least one axis")
    if _unique(axes):
        x = _resize(x, dict(zip(axes, s)))
        return apply(F.rfftn, (x,), {"axes": tuple(axes), "s": tuple(s), "norm": norm})
    x = _resize(x, {axes[-1]: s[-1]})
    x = apply(F.rfftn, (x,), {"axes": (axes[-1],), "s": (s[-1],), "norm": norm})
    return _c2c(x, s[:-1], axes[:-1], norm, inverse=False)


def _c2r(name: str, x: Tensor, s: list, axes: list, norm: str) -> Tensor:
    if not axes:
        raise ValueError(f"{name}: the argument axes must name at least one axis")
    half = s[-1] // 2 + 1  # the bins irfft reads along the last axis
    if _unique(axes):
        x = _resize(x, {**dict(zip(axes[:-1], s[:-1])), axes[-1]: half})
        return apply(F.irfftn, (x,), {"axes": tuple(axes), "s": tuple(s), "norm": norm})
    for i in range(len(axes) - 1):
        x = _c2c(x, [s[i]], [axes[i]], norm, inverse=True)
    x = _resize(x, {axes[-1]: half})
    return apply(F.irfftn, (x,), {"axes": (axes[-1],), "s": (s[-1],), "norm": norm})


def _one(
    name: str, a: Any, n: Any, axis: Any, norm: Any, inverse_real: bool = False
) -> tuple[Tensor, list, list, str]:
    """The arguments of a one-axis transform: (tensor, [n], [axis], norm)."""
    x = _as(name, a)
    ax = _axis(name, axis, x.shape)
    if n is None:
        n = 2 * (x.shape[ax] - 1) if inverse_real else x.shape[ax]
    return x, [_length(name, n, "n")], [ax], _norm(name, norm)


def _many(
    name: str, a: Any, s: Any, axes: Any, norm: Any, invreal: bool = False, real: str = ""
) -> tuple[Tensor, list, list, str]:
    """The arguments of a transform over several axes: (tensor, s, axes, norm); ``real``
    names the complex transform to suggest when ``a`` must be real (rfftn, rfft2)."""
    x = _as(name, a)
    if real:
        _real_only(name, x, real)
    s, axes = _cook(name, x, s, axes, invreal=invreal)
    return x, s, axes, _norm(name, norm)


def fft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Tensor:
    """The one-dimensional discrete Fourier transform along ``axis`` (``numpy.fft.fft``):
    ``y[k] = sum_j x[j] exp(-2 pi i jk / n)``, the input cropped or zero-padded to ``n``
    points. Its gradient for a real loss is ``n * ifft(dL/dy)`` (the conjugate transform).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.fft(cr.tensor([1.0, 2.0, 0.0, 0.0]))
    tensor([ 3.+0.j,  1.-2.j, -1.+0.j,  1.+2.j], dtype=complex128)
    >>> cr.fft.fft(cr.tensor([1.0, 2.0]), n=4, norm="ortho").shape
    (4,)
    """
    x, s, axes, norm = _one("fft", a, n, axis, norm)
    return finish("fft", _c2c(x, s, axes, norm, inverse=False), out)


def ifft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Tensor:
    """The one-dimensional inverse discrete Fourier transform (``numpy.fft.ifft``):
    ``x[j] = (1/n) sum_k y[k] exp(2 pi i jk / n)``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.ifft(cr.fft.fft(cr.tensor([1.0, 2.0, 3.0]))).real
    tensor([1., 2., 3.])
    """
    x, s, axes, norm = _one("ifft", a, n, axis, norm)
    return finish("ifft", _c2c(x, s, axes, norm, inverse=True), out)


def rfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Tensor:
    """The discrete Fourier transform of real input, the ``n // 2 + 1`` non-negative
    frequencies only (``numpy.fft.rfft``). The gradient counts each bin that also stands
    for its conjugate mirror image once (``Re(n * ifft(g))`` of the zero-padded half
    spectrum ``g``), for odd and even ``n``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.rfft(cr.tensor([1.0, 2.0, 0.0, 0.0]))
    tensor([ 3.+0.j,  1.-2.j, -1.+0.j], dtype=complex128)
    """
    x, s, axes, norm = _one("rfft", a, n, axis, norm)
    _real_only("rfft", x, "fft")
    return finish("rfft", _r2c("rfft", x, s, axes, norm), out)


def irfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Tensor:
    """The inverse of ``rfft`` (``numpy.fft.irfft``): a real signal of ``n`` points (default
    ``2 * (m - 1)``) from its half spectrum, read as Hermitian (the imaginary parts of the
    zero and, for even ``n``, the Nyquist bins do not matter; their gradients are real).
    Pass ``n`` for odd-length signals.

    Examples
    --------
    >>> import chainrule as cr
    >>> spectrum = cr.fft.rfft(cr.tensor([1.0, 2.0, 3.0]))
    >>> cr.fft.irfft(spectrum, n=3)
    tensor([1., 2., 3.])
    """
    x, s, axes, norm = _one("irfft", a, n, axis, norm, inverse_real=True)
    return finish("irfft", _c2r("irfft", x, s, axes, norm), out)


def hfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Tensor:
    """The transform of a signal with Hermitian symmetry, given by its first half: a real
    spectrum of ``n`` points (default ``2 * (m - 1)``), ``numpy.fft.hfft``; it is
    ``irfft(conj(a), n)`` with the norm swapped.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.hfft(cr.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor([15., -4.,  0., -1.,  0., -4.])
    """
    x, s, axes, norm = _one("hfft", a, n, axis, norm, inverse_real=True)
    y = _c2r("hfft", ops.conj(x), s, axes, F.dual_norm(norm))
    return finish("hfft", y, out)


def ihfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Tensor:
    """The inverse of ``hfft`` (``numpy.fft.ihfft``): the ``n // 2 + 1`` bins of the inverse
    transform of a real signal, ``conj(rfft(a, n))`` with the norm swapped.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.ihfft(cr.fft.hfft(cr.tensor([1.0, 2.0, 3.0]), n=5)).real
    tensor([1., 2., 3.])
    """
    x, s, axes, norm = _one("ihfft", a, n, axis, norm)
    _real_only("ihfft", x, "ifft")
    y = ops.conj(_r2c("ihfft", x, s, axes, F.dual_norm(norm)))
    return finish("ihfft", y, out)


def fftn(
    a: Any, s: Any = None, axes: Any = None, norm: str | None = None, out: Any = None
) -> Tensor:
    """The N-dimensional discrete Fourier transform over ``axes`` (default: all, or the
    last ``len(s)``), each cropped or zero-padded to ``s`` (``numpy.fft.fftn``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.fftn(cr.ones((2, 3)))
    tensor([[6.+0.j, 0.+0.j, 0.+0.j],
            [0.+0.j, 0.+0.j, 0.+0.j]], dtype=complex128)
    """
    x, s, axes, norm = _many("fftn", a, s, axes, norm)
    return finish("fftn", _c2c(x, s, axes, norm, inverse=False), out)


def ifftn(
    a: Any, s: Any = None, axes: Any = None, norm: str | None = None, out: Any = None
) -> Tensor:
    """The N-dimensional inverse discrete Fourier transform (``numpy.fft.ifftn``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.ifftn(cr.fft.fftn(cr.eye(2))).real
    tensor([[1., 0.],
            [0., 1.]])
    """
    x, s, axes, norm = _many("ifftn", a, s, axes, norm)
    return finish("ifftn", _c2c(x, s, axes, norm, inverse=True), out)


def fft2(
    a: Any, s: Any = None, axes: Any = (-2, -1), norm: str | None = None, out: Any = None
) -> Tensor:
    """The two-dimensional discrete Fourier transform over ``axes`` (default the last two;
    ``numpy.fft.fft2``): ``fftn`` with other defaults.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.fft2(cr.ones((2, 2)))
    tensor([[4.+0.j, 0.+0.j],
            [0.+0.j, 0.+0.j]], dtype=complex128)
    """
    x, s, axes, norm = _many("fft2", a, s, axes, norm)
    return finish("fft2", _c2c(x, s, axes, norm, inverse=False), out)


def ifft2(
    a: Any, s: Any = None, axes: Any = (-2, -1), norm: str | None = None, out: Any = None
) -> Tensor:
    """The two-dimensional inverse discrete Fourier transform (``numpy.fft.ifft2``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.ifft2(cr.fft.fft2(cr.eye(2))).real
    tensor([[1., 0.],
            [0., 1.]])
    """
    x, s, axes, norm = _many("ifft2", a, s, axes, norm)
    return finish("ifft2", _c2c(x, s, axes, norm, inverse=True), out)


def rfftn(
    a: Any, s: Any = None, axes: Any = None, norm: str | None = None, out: Any = None
) -> Tensor:
    """The N-dimensional transform of real input (``numpy.fft.rfftn``): the last axis of
    ``axes`` keeps its ``s[-1] // 2 + 1`` non-negative frequencies, the others are full.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.rfftn(cr.ones((2, 4))).shape
    (2, 3)
    """
    x, s, axes, norm = _many("rfftn", a, s, axes, norm, real="fftn")
    return finish("rfftn", _r2c("rfftn", x, s, axes, norm), out)


def irfftn(
    a: Any, s: Any = None, axes: Any = None, norm: str | None = None, out: Any = None
) -> Tensor:
    """The inverse of ``rfftn`` (``numpy.fft.irfftn``): a real array whose lengths along
    ``axes`` are ``s`` (default: the input's, and ``2 * (m - 1)`` for the last axis).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.fft.irfftn(cr.fft.rfftn(x), s=x.shape, axes=(0, 1))
    tensor([[1., 2., 3.],
            [4., 5., 6.]])
    """
    x, s, axes, norm = _many("irfftn", a, s, axes, norm, invreal=True)
    return finish("irfftn", _c2r("irfftn", x, s, axes, norm), out)


def rfft2(
    a: Any, s: Any = None, axes: Any = (-2, -1), norm: str | None = None, out: Any = None
) -> Tensor:
    """The two-dimensional transform of real input (``numpy.fft.rfft2``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.rfft2(cr.ones((3, 5))).shape
    (3, 3)
    """
    x, s, axes, norm = _many("rfft2", a, s, axes, norm, real="fft2")
    return finish("rfft2", _r2c("rfft2", x, s, axes, norm), out)


def irfft2(
    a: Any, s: Any = None, axes: Any = (-2, -1), norm: str | None = None, out: Any = None
) -> Tensor:
    """The inverse of ``rfft2`` (``numpy.fft.irfft2``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.irfft2(cr.fft.rfft2(cr.ones((3, 5))), s=(3, 5)).shape
    (3, 5)
    """
    x, s, axes, norm = _many("irfft2", a, s, axes, norm, invreal=True)
    return finish("irfft2", _c2r("irfft2", x, s, axes, norm), out)


# --------------------------------------------------------------------------- shifts


def _roll(x: Tensor, axis: int, shift: int) -> Tensor:
    """``x`` rolled by ``shift`` along ``axis``: two slices joined (the gradient rolls back)."""
    n = x.shape[axis]
    if n == 0 or shift % n == 0:
        return x
    cut = n - shift % n
    head = tuple(slice(cut, None) if a == axis else slice(None) for a in range(x.ndim))
    tail = tuple(slice(0, cut) if a == axis else slice(None) for a in range(x.ndim))
    return ops.concatenate([ops.getitem(x, head), ops.getitem(x, tail)], axis=axis)


def _shift(name: str, x: Any, axes: Any, direction: int) -> Tensor:
    x = x if isinstance(x, Tensor) else as_tensor(x)
    if axes is None:
        axes = range(x.ndim)
    elif isinstance(axes, (int, np.integer)):
        axes = (axes,)
    moves: dict[int, int] = {}
    for a in axes:
        a = _axis(name, a, x.shape, "axes")
        moves[a] = moves.get(a, 0) + direction * (x.shape[a] // 2)  # repeats add, as np.roll
    for a, k in moves.items():
        x = _roll(x, a, k)
    return x


def fftshift(x: Any, axes: Any = None) -> Tensor:
    """The zero frequency moved to the centre: each axis in ``axes`` (default all) rolled
    by half its length (``numpy.fft.fftshift``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.fftshift(cr.tensor([0.0, 1.0, 2.0, -2.0, -1.0]))
    tensor([-2., -1.,  0.,  1.,  2.])
    """
    return _shift("fftshift", x, axes, 1)


def ifftshift(x: Any, axes: Any = None) -> Tensor:
    """The inverse of ``fftshift`` (they differ for odd lengths; ``numpy.fft.ifftshift``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.ifftshift(cr.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]))
    tensor([ 0.,  1.,  2., -2., -1.])
    """
    return _shift("ifftshift", x, axes, -1)


# --------------------------------------------------------------------------- frequencies


def _freq_args(name: str, n: Any, device: Any) -> int:
    if device not in (None, "cpu"):
        raise ValueError(f"{name}: device must be None or 'cpu', got {device!r}")
    return _length(name, n, "n")


def fftfreq(n: int, d: Any = 1.0, device: Any = None) -> Any:
    """The sample frequencies of an ``n``-point transform with sample spacing ``d``:
    ``[0, 1, ..., -2, -1] / (d n)`` (``numpy.fft.fftfreq``), as a NumPy array.

    Constants, so no gradient; a Tensor ``d`` gives a Tensor that is differentiable in
    ``d``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.fftfreq(4, d=0.5)
    array([ 0. ,  0.5, -1. , -0.5])
    """
    n = _freq_args("fftfreq", n, device)
    k = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)])
    return k * (1.0 / (n * d))


def rfftfreq(n: int, d: Any = 1.0, device: Any = None) -> Any:
    """The sample frequencies of ``rfft``'s ``n // 2 + 1`` bins: ``[0, 1, ..., n // 2] /
    (d n)`` (``numpy.fft.rfftfreq``), as a NumPy array (constants, like ``fftfreq``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.fft.rfftfreq(5)
    array([0. , 0.2, 0.4])
    """
    n = _freq_args("rfftfreq", n, device)
    return np.arange(0, n // 2 + 1) * (1.0 / (n * d))


#: The NumPy functions this module implements (collected by ``Tensor.__array_function__``).
NUMPY_FUNCTIONS = {
    getattr(np.fft, name): globals()[name]
    for name in __all__
    if name != "NUMPY_FUNCTIONS" and hasattr(np.fft, name)
}
