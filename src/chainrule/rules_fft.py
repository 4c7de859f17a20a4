"""The rule table of the discrete Fourier transforms (``cr.fft``): four primitives, ``fftn``,
``ifftn``, ``rfftn`` and ``irfftn``, over any set of distinct axes, each with its VJP, JVP,
batching rule and lowering.

Every transform is linear, so its JVP is the transform of the tangent, and its VJP is the
adjoint, which is again one of the four (the norm swapped: the adjoint of a transform
scaled by 1/N is the opposite transform scaled by 1/N), so the rules differentiate to any
order. The complex convention is PyTorch's (the gradient of a real loss is
dL/dx + i dL/dy), under which the VJP of a linear map ``A`` is ``A^H g``.

The real transforms need care (this is where gradients go silently wrong). ``irfftn``
reads a half spectrum of ``m = n // 2 + 1`` bins along the last axis and extends it by
Hermitian symmetry: exactly, ``irfftn(h) = Re(ifftn(pad(c * h)))``, where ``c`` is 1 at
the zero frequency (and at the Nyquist frequency n / 2 when n is even: those bins have no
mirror image) and 2 at the others, which stand for themselves and their conjugate twins
(the real part drops the imaginary parts of the 1-weighted bins, as NumPy's c2r transform
does). So

* the VJP of ``irfftn`` is ``c * rfftn(g)`` (the norm swapped), and
* the VJP of ``rfftn`` (the crop of a full transform, taken on real input) is
  ``Re(ifftn(pad(g))) = irfftn(g / c)`` (the norm swapped),

and each is the other's adjoint again. Odd and even n differ only in whether the last bin
is a Nyquist bin, which is why the primitives carry the real lengths ``s`` as a parameter
(the half spectrum's length does not say whether n was odd or even).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .primitives import Primitive, defbatch, defjvp, deflower, defvjp

__all__ = ["NORMS", "dual_norm", "fftn", "hermitian_weights", "ifftn", "irfftn", "rfftn"]

#: The normalizations NumPy accepts, ``None`` meaning ``"backward"``.
NORMS = ("backward", "ortho", "forward")

_DUAL = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def dual_norm(norm: str) -> str:
    """The norm of the adjoint transform: scaling by 1/N moves to the other direction.

    >>> dual_norm("backward"), dual_norm("ortho")
    ('forward', 'ortho')
    """
    return _DUAL[norm]


def hermitian_weights(n: int, axis: int, ndim: int, dtype: Any) -> np.ndarray:
    """The weights ``c`` of a half spectrum of a length-``n`` real signal: 1 for the zero
    frequency and (n even) the Nyquist frequency, 2 for the bins that also stand for their
    conjugate mirror image; shaped to broadcast along ``axis`` of an ``ndim``-axis array.

    >>> hermitian_weights(4, 0, 1, np.float64), hermitian_weights(5, 0, 1, np.float64)
    (array([1., 2., 1.]), array([1., 2., 2.]))
    """
    m = n // 2 + 1
    c = np.full(m, 2.0, dtype=np.finfo(dtype).dtype)
    c[0] = 1.0
    if n % 2 == 0:
        c[-1] = 1.0
    return c.reshape((m,) + (1,) * (ndim - 1 - axis))


def _ndim(x: Any) -> int:
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


def _dtype(x: Any) -> Any:
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


# --------------------------------------------------------------------------- forward kernels
# ``axes`` are distinct and non-negative; the public functions have already cropped or
# zero-padded the input to the transform's lengths (``s`` of the real transforms is then
# the input's / output's real length along each axis).


def _fftn_impl(x: Any, axes: tuple, norm: str) -> Any:
    return np.fft.fftn(x, axes=axes, norm=norm)


def _ifftn_impl(x: Any, axes: tuple, norm: str) -> Any:
    return np.fft.ifftn(x, axes=axes, norm=norm)


def _rfftn_impl(x: Any, axes: tuple, s: tuple, norm: str) -> Any:
    return np.fft.rfftn(x, s=s, axes=axes, norm=norm)


def _irfftn_impl(x: Any, axes: tuple, s: tuple, norm: str) -> Any:
    return np.fft.irfftn(x, s=s, axes=axes, norm=norm)


def _transform(name: str, impl: Any) -> Primitive:
    return Primitive(name, impl, kind="other", save_inputs=False, linear=True)


fftn = _transform("fftn", _fftn_impl)
ifftn = _transform("ifftn", _ifftn_impl)
rfftn = _transform("rfftn", _rfftn_impl)
irfftn = _transform("irfftn", _irfftn_impl)

# --------------------------------------------------------------------------- complex to complex
# y = F x with F_jk = exp(-2 pi i jk / N) / scale: F^H = conj(F)^T is the inverse transform
# with the other scaling. (A real x gets the real part: the engine takes it.)
defvjp(fftn, lambda g, ans, x, axes, norm: ifftn(g, axes=axes, norm=dual_norm(norm)))
defjvp(fftn, lambda t, ans, x, axes, norm: fftn(t, axes=axes, norm=norm))
defvjp(ifftn, lambda g, ans, x, axes, norm: fftn(g, axes=axes, norm=dual_norm(norm)))
defjvp(ifftn, lambda t, ans, x, axes, norm: ifftn(t, axes=axes, norm=norm))

# --------------------------------------------------------------------------- real transforms


def _rfftn_vjp(g: Any, ans: Any, x: Any, axes: tuple, s: tuple, norm: str) -> Any:
    # Re(F^H P^T g): zero-pad the half spectrum to the full one, transform back, keep the
    # real part -- which is irfftn of g / c (see the module's docstring).
    w = 1.0 / hermitian_weights(s[-1], axes[-1], _ndim(g), _dtype(g))
    return irfftn(g * w, axes=axes, s=s, norm=dual_norm(norm))


def _irfftn_vjp(g: Any, ans: Any, x: Any, axes: tuple, s: tuple, norm: str) -> Any:
    # B^H g for y = Re(B h), B = ifftn . pad . diag(c): c * crop(fftn(g)) = c * rfftn(g).
    c = hermitian_weights(s[-1], axes[-1], _ndim(g), _dtype(g))
    return rfftn(g, axes=axes, s=s, norm=dual_norm(norm)) * c


defvjp(rfftn, _rfftn_vjp)
defjvp(rfftn, lambda t, ans, x, axes, s, norm: rfftn(t, axes=axes, s=s, norm=norm))
defvjp(irfftn, _irfftn_vjp)
defjvp(irfftn, lambda t, ans, x, axes, s, norm: irfftn(t, axes=axes, s=s, norm=norm))

# --------------------------------------------------------------------------- vmap and codegen


def _batch(ctx: Any, args: Any, batched: Any, axes: tuple, **params: Any) -> Any:
    # one input, batched: its batch axis is in front, so the transformed axes move up one
    return ctx.prim(args[0], axes=tuple(a + 1 for a in axes), **params)


for _prim in (fftn, ifftn, rfftn, irfftn):
    defbatch(_prim, _batch)

deflower(fftn, "np.fft.fftn({0}, axes={axes!r}, norm={norm!r})")
deflower(ifftn, "np.fft.ifftn({0}, axes={axes!r}, norm={norm!r})")
deflower(rfftn, "np.fft.rfftn({0}, s={s!r}, axes={axes!r}, norm={norm!r})")
deflower(irfftn, "np.fft.irfftn({0}, s={s!r}, axes={axes!r}, norm={norm!r})")
