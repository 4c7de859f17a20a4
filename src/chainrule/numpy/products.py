"""NumPy's dot, vdot, vecdot, matmul, outer, convolve, correlate and polyval on Tensors
(the other contractions, einsum, tensordot, inner, kron and cross, come from
``chainrule.contractions``). Bilinear: the gradient of each factor is a product with the
other (conjugated for complex operands).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor
from ._common import decided_by, finish, tensor

__all__ = [
    "convolve",
    "correlate",
    "dot",
    "matmul",
    "matvec",
    "outer",
    "poly",
    "polyadd",
    "polyder",
    "polydiv",
    "polyfit",
    "polyint",
    "polymul",
    "polysub",
    "polyval",
    "roots",
    "vander",
    "vdot",
    "vecdot",
    "vecmat",
]


def dot(a: Any, b: Any, out: Any = None) -> Any:
    """NumPy's dot: a product for 0-d operands, the inner product of vectors, the matrix
    product of matrices, and for N-d operands the sum over the last axis of ``a`` and the
    second-to-last of ``b`` (``dot(a, b)[i, j, k, m] = sum(a[i, j, :] * b[k, :, m])``).

    >>> import chainrule.numpy as cnp
    >>> cnp.dot(cnp.array([1.0, 2.0]), cnp.array([3.0, 4.0]))
    tensor(11.)
    """
    x, y = tensor(a), tensor(b)
    if x.ndim == 0 or y.ndim == 0:
        return finish("dot", x * y, out)
    k = y.shape[0] if y.ndim == 1 else y.shape[-2]
    n = x.shape[-1]
    if n != k:
        raise ValueError(
            f"dot: shapes {x.shape} and {y.shape} not aligned: {n} (dim {x.ndim - 1}) != "
            f"{k} (dim {0 if y.ndim == 1 else y.ndim - 2})"
        )
    if y.ndim <= 2 or x.ndim == 1:  # matmul computes the same (it broadcasts the rest)
        return finish("dot", ops.matmul(x, y), out)
    # the pairs of (rows of a) x (columns of every matrix of b), as one matrix product
    a2 = ops.reshape(x, (-1, n))
    order = (y.ndim - 2,) + tuple(i for i in range(y.ndim) if i != y.ndim - 2)
    b2 = ops.reshape(ops.transpose(y, order), (n, -1))
    shape = x.shape[:-1] + y.shape[:-2] + y.shape[-1:]
    return finish("dot", ops.reshape(ops.matmul(a2, b2), shape), out)


def vdot(a: Any, b: Any, /) -> Tensor:
    """sum(conj(a) * b) of the flattened operands (complex: conjugates the first).

    >>> import chainrule.numpy as cnp
    >>> cnp.vdot(cnp.array([1j, 2.0]), cnp.array([1j, 3.0]))
    tensor(7.+0.j, dtype=complex128)
    """
    x, y = ops.reshape(tensor(a), -1), ops.reshape(tensor(b), -1)
    if x.shape != y.shape:
        raise ValueError(f"vdot: vectors have different lengths ({x.shape[0]} and {y.shape[0]})")
    return ops.matmul(ops.conj(x), y)


def matmul(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """The matrix product with NumPy's rules (1-D operands, stacks, broadcasting).

    >>> import chainrule.numpy as cnp
    >>> cnp.matmul(cnp.ones((2, 3)), cnp.ones(3))
    tensor([3., 3.])
    """
    from ._common import check_ufunc_kwargs

    check_ufunc_kwargs("matmul", {k: v for k, v in kwargs.items() if k not in ("axes", "axis")})
    if "axes" in kwargs or "axis" in kwargs:
        raise TypeError("matmul: axes= is not supported on chainrule Tensors")
    return finish("matmul", ops.matmul(tensor(x1), tensor(x2)), out)


def outer(a: Any, b: Any, out: Any = None) -> Any:
    """The outer product of the flattened operands (no conjugation).

    >>> import chainrule.numpy as cnp
    >>> cnp.outer(cnp.array([1.0, 2.0]), cnp.array([1.0, -1.0]))
    tensor([[ 1., -1.],
            [ 2., -2.]])
    """
    return finish("outer", ops.outer(tensor(a), tensor(b)), out)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1, out: Any = None, **kwargs: Any) -> Any:
    """sum(conj(x1) * x2) over ``axis``, broadcast over the other axes (NumPy 2's vecdot;
    complex: conjugates the first operand).

    >>> import chainrule.numpy as cnp
    >>> cnp.vecdot(cnp.array([[1.0, 2.0], [3.0, 4.0]]), cnp.array([1.0, -1.0]))
    tensor([-1., -1.])
    """
    from ._common import check_ufunc_kwargs

    check_ufunc_kwargs("vecdot", {k: v for k, v in kwargs.items() if k not in ("axes",)})
    if "axes" in kwargs:
        raise TypeError("vecdot: axes= is not supported on chainrule Tensors; use axis=")
    x, y = tensor(x1), tensor(x2)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError("vecdot: both operands need at least one dimension")
    if x.shape[axis] != y.shape[axis]:
        raise ValueError(
            f"vecdot: the core dimensions differ: {x.shape[axis]} (x1 {x.shape}) and "
            f"{y.shape[axis]} (x2 {y.shape}) along axis {axis}"
        )
    return finish("vecdot", ops.sum(ops.conj(x) * y, axis=axis), out)


def _full_convolution(name: str, a: Tensor, v: Tensor) -> Tensor:
    """sum_j a[k - j] v[j] for k in 0 .. n + m - 2: one gather of the zero-padded ``a``
    (the Toeplitz matrix of a) times ``v``; both factors differentiable."""
    from .shapes import pad

    n, m = a.shape[0], v.shape[0]
    padded = pad(a, (m - 1, m - 1))
    k = np.arange(n + m - 1)[:, None]
    j = np.arange(m)[None, :]
    toeplitz = padded[k - j + m - 1]  # [k, j] -> a[k - j], 0 outside
    return ops.matmul(toeplitz, v)


def _mode_slice(name: str, full: Tensor, n: int, m: int, mode: str) -> Tensor:
    if mode in ("full", 2):
        return full
    if mode in ("same", 1):
        start = (min(n, m) - 1) // 2
        return full[start : start + max(n, m)]
    if mode in ("valid", 0):
        return full[min(n, m) - 1 : max(n, m)]
    raise ValueError(f"{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")


def _vectors(name: str, a: Any, v: Any) -> tuple[Tensor, Tensor]:
    x, y = tensor(a), tensor(v)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(
            f"{name}: a and v must be 1-d sequences, got shapes {x.shape} and {y.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name}: a cannot be empty")
    if y.shape[0] == 0:
        raise ValueError(f"{name}: v cannot be empty")
    return x, y


def convolve(a: Any, v: Any, mode: str = "full") -> Tensor:
    """The discrete linear convolution of two 1-d sequences (``mode``: full, same or
    valid, as NumPy's); bilinear, so each factor's gradient is a correlation with the
    other.

    >>> import chainrule.numpy as cnp
    >>> cnp.convolve(cnp.array([1.0, 2.0, 3.0]), cnp.array([0.0, 1.0, 0.5]))
    tensor([0. , 1. , 2.5, 4. , 1.5])
    """
    x, y = _vectors("convolve", a, v)
    n, m = x.shape[0], y.shape[0]
    full = _full_convolution("convolve", x, y) if n >= m else _full_convolution("convolve", y, x)
    return _mode_slice("convolve", full, n, m, mode)


def correlate(a: Any, v: Any, mode: str = "valid") -> Tensor:
    """The cross-correlation of two 1-d sequences, NumPy's definition
    ``c[k] = sum_n a[n + k] * conj(v[n])`` (``mode`` valid by default, same or full).

    >>> import chainrule.numpy as cnp
    >>> cnp.correlate(cnp.array([1.0, 2.0, 3.0]), cnp.array([0.0, 1.0, 0.5]))
    tensor([3.5])
    """
    x, y = _vectors("correlate", a, v)
    n, m = x.shape[0], y.shape[0]
    reversed_v = ops.conj(y[::-1])
    if n >= m:
        full = _full_convolution("correlate", x, reversed_v)
        return _mode_slice("correlate", full, n, m, mode)
    # NumPy swaps the operands when v is the longer one and reverses the result
    full = _full_convolution("correlate", reversed_v, x)
    return _mode_slice("correlate", full, n, m, mode)


def polyval(p: Any, x: Any) -> Tensor:
    """The polynomial with coefficients ``p`` (highest power first) at ``x``, by Horner's
    rule as NumPy evaluates it; differentiable in the coefficients and in ``x``.

    >>> import chainrule.numpy as cnp
    >>> cnp.polyval(cnp.array([3.0, 0.0, 1.0]), cnp.array([1.0, 2.0]))
    tensor([ 4., 13.])
    """
    coeffs = tensor(p)
    if coeffs.ndim == 0:
        coeffs = ops.reshape(coeffs, (1,))
    xt = tensor(x)
    from .creation import zeros_like

    y: Any = zeros_like(xt)  # NumPy starts from zeros of x's dtype
    for i in range(coeffs.shape[0]):
        y = y * xt + coeffs[i]
    return y


def vander(x: Any, N: Any = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of the 1-d ``x``: columns ``x**(N-1), ..., x, 1`` (or the
    reverse when ``increasing``), each power the previous one times ``x``, as NumPy
    computes them.

    >>> import chainrule.numpy as cnp
    >>> cnp.vander(cnp.array([1.0, 2.0, 3.0]), 3)
    tensor([[1., 1., 1.],
            [4., 2., 1.],
            [9., 3., 1.]])
    """
    t = tensor(x)
    if t.ndim != 1:
        raise ValueError(f"vander: x must be a one-dimensional array or sequence, got {t.shape}")
    from ._common import cast

    t = cast(t, np.promote_types(t.dtype, np.int_))  # NumPy's dtype: float32 -> float64
    n = t.shape[0] if N is None else int(N)
    if n == 0:
        return ops.reshape(t[:0] * 0, (t.shape[0], 0)) if t.shape[0] else ops.reshape(t, (0, 0))
    from .creation import ones_like

    columns = [ones_like(t)]
    for _ in range(n - 1):
        columns.append(columns[-1] * t)
    if not increasing:
        columns = columns[::-1]
    return ops.stack(columns, 1)


# --------------------------------------------------------------------------- polynomials
# Coefficient arrays, highest power first (NumPy's poly1d conventions, without the class).


def _coefficients(name: str, p: Any) -> Tensor:
    t = tensor(p)
    t = ops.reshape(t, (1,)) if t.ndim == 0 else t
    if t.ndim != 1:
        raise ValueError(f"{name}: coefficients must be 1-d, got shape {t.shape}")
    return t


def _aligned(name: str, a1: Any, a2: Any) -> tuple[Tensor, Tensor]:
    """Both coefficient arrays at one length, the shorter padded with leading zeros."""
    from .shapes import pad

    a, b = _coefficients(name, a1), _coefficients(name, a2)
    n = a.shape[0] - b.shape[0]
    if n > 0:
        b = pad(b, (n, 0))
    elif n < 0:
        a = pad(a, (-n, 0))
    return a, b


def polyadd(a1: Any, a2: Any) -> Tensor:
    """The sum of two polynomials (coefficients, highest power first).

    >>> import chainrule.numpy as cnp
    >>> cnp.polyadd(cnp.array([1.0, 2.0]), cnp.array([1.0, 2.0, 3.0]))
    tensor([1., 3., 5.])
    """
    a, b = _aligned("polyadd", a1, a2)
    return a + b


def polysub(a1: Any, a2: Any) -> Tensor:
    """The difference of two polynomials.

    >>> import chainrule.numpy as cnp
    >>> cnp.polysub(cnp.array([1.0]), cnp.array([1.0, 2.0]))
    tensor([-1., -1.])
    """
    a, b = _aligned("polysub", a1, a2)
    return a - b


def polymul(a1: Any, a2: Any) -> Tensor:
    """The product of two polynomials: the convolution of their coefficients.

    >>> import chainrule.numpy as cnp
    >>> cnp.polymul(cnp.array([1.0, 2.0]), cnp.array([3.0, 4.0]))
    tensor([ 3., 10.,  8.])
    """
    return convolve(_coefficients("polymul", a1), _coefficients("polymul", a2))


def polyder(p: Any, m: int = 1) -> Tensor:
    """The ``m``-th derivative of a polynomial (each coefficient times its power).

    >>> import chainrule.numpy as cnp
    >>> cnp.polyder(cnp.array([1.0, 2.0, 3.0, 4.0]), 2)
    tensor([6., 4.])
    """
    m = int(m)
    if m < 0:
        raise ValueError("polyder: order of derivative must be positive (see polyint)")
    y = _coefficients("polyder", p)
    for _ in range(m):
        n = y.shape[0] - 1
        y = y[:-1] * np.arange(n, 0, -1)
    return y


def polyint(p: Any, m: int = 1, k: Any = None) -> Tensor:
    """The ``m``-th antiderivative of a polynomial, with integration constants ``k``
    (one per integration, the first one first; default 0); differentiable in ``p`` and
    ``k``.

    >>> import chainrule.numpy as cnp
    >>> cnp.polyint(cnp.array([3.0, 2.0, 1.0]))
    tensor([1., 1., 1., 0.])
    """
    from .shapes import concatenate

    m = int(m)
    if m < 0:
        raise ValueError("polyint: order of integral must be positive (see polyder)")
    constants = tensor(np.zeros(m) if k is None else k)
    constants = ops.reshape(constants, (1,)) if constants.ndim == 0 else constants
    if constants.shape[0] == 1 and m > 1:
        constants = ops.broadcast_to(constants, (m,)).astype(np.result_type(constants.dtype, 1.0))
    if constants.shape[0] < m:
        raise ValueError("polyint: k must be a scalar or a rank-1 array of length 1 or > m")
    y = _coefficients("polyint", p)
    for i in range(m):
        y = concatenate([y / np.arange(y.shape[0], 0, -1), ops.reshape(constants[i], (1,))])
    return y


def poly(seq_of_zeros: Any) -> Any:
    """The coefficients (highest power first, leading 1) of the polynomial with the given
    roots, or of a square matrix's characteristic polynomial (its eigenvalues as roots):
    the product of the factors (x - r) by repeated convolution, as NumPy computes it, so
    differentiable in the roots (and, through ``eigvals``, in the matrix). Complex roots
    that come in conjugate pairs give real coefficients (the real part, as NumPy: read
    from the values).

    >>> import chainrule.numpy as cnp
    >>> r = cnp.array([1.0, 2.0], requires_grad=True)
    >>> c = cnp.poly(r)
    >>> c
    tensor([ 1., -3.,  2.], grad_fn=<matmul>)
    >>> c[2].backward()  # the constant term r0 * r1
    >>> r.grad
    tensor([2., 1.])
    """
    zeros = tensor(seq_of_zeros)
    zeros = ops.reshape(zeros, (1,)) if zeros.ndim == 0 else zeros
    shape = zeros.shape
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] != 0:
        from .. import linalg

        zeros = linalg.eigvals(zeros)
    elif len(shape) == 1:
        wide = np.dtype(np.mintypecode(zeros.dtype.char))
        if wide != zeros.dtype:
            zeros = zeros.astype(wide)
    else:
        raise ValueError(f"poly: input must be 1d or non-empty square 2d array, got shape {shape}")
    if zeros.shape[0] == 0:
        return 1.0
    dt = zeros.dtype
    a: Any = tensor(np.ones((1,), dtype=dt))
    one = np.ones((1,), dtype=dt)
    for i in range(zeros.shape[0]):
        factor = ops.concatenate([tensor(one), ops.reshape(-zeros[i], (1,))], 0)
        a = convolve(a, factor)
    if dt.kind == "c":
        roots = np.asarray(decided_by(zeros, "poly: real coefficients"), dtype=complex)
        if np.all(np.sort(roots) == np.sort(roots.conjugate())):
            a = ops.real(a)
    return a


def roots(p: Any) -> Tensor:
    """The roots of the polynomial with coefficients ``p`` (highest power first): the
    eigenvalues of its companion matrix (after NumPy's stripping of leading zeros and of
    trailing zeros, which are roots at 0), complex unless all are real (as NumPy's
    ``eigvals`` answers; read from the values). Differentiable in the coefficients where
    the roots are simple (through ``eigvals``; a multiple root has no derivative).

    >>> import chainrule.numpy as cnp
    >>> cnp.roots(cnp.array([1.0, -3.0, 2.0]))
    tensor([2., 1.])
    """
    from .. import linalg

    c = tensor(p)
    c = ops.reshape(c, (1,)) if c.ndim == 0 else c
    if c.ndim != 1:
        raise ValueError(f"roots: input must be a rank-1 array, got shape {c.shape}")
    nonzero = np.flatnonzero(decided_by(c, "roots: leading and trailing zeros"))
    if nonzero.size == 0:
        return tensor(np.array([]))
    trailing = c.shape[0] - int(nonzero[-1]) - 1
    c = c[int(nonzero[0]) : int(nonzero[-1]) + 1]
    if c.dtype.kind not in "fc":
        c = c.astype(np.float64)
    n = c.shape[0]
    if n > 1:
        # the companion matrix: -p[1:] / p[0] on the first row, ones below the diagonal
        below = np.diag(np.ones(n - 2, dtype=c.dtype), -1)
        first = ops.reshape(-c[1:] / c[0], (1, n - 1))
        companion = ops.concatenate([first, tensor(below[1:])], 0) if n > 2 else first
        r = linalg.eigvals(companion)
        if c.dtype.kind != "c" and np.all(decided_by(r, "roots: real or complex").imag == 0):
            r = ops.real(r)
    else:
        r = tensor(np.array([], dtype=c.dtype))
    if trailing:
        r = ops.concatenate([r, tensor(np.zeros(trailing, dtype=r.dtype))], 0)
    return r


def polyfit(
    x: Any,
    y: Any,
    deg: int,
    rcond: Any = None,
    full: bool = False,
    w: Any = None,
    cov: Any = False,
) -> Any:
    """The least-squares polynomial fit of degree ``deg`` (coefficients highest power first;
    2-d ``y``: one fit per column), computed as NumPy computes it: the Vandermonde matrix
    of ``x`` (times ``w``), its columns scaled to unit norm, ``linalg.lstsq``. The
    coefficients are differentiable in ``y``, ``w`` and ``x`` (through ``lstsq``'s
    gradient, exact where the fit's rank is locally constant); ``full=True`` adds the
    residuals (differentiable), the rank, the singular values of the scaled matrix and
    ``rcond``; ``cov=True`` (or "unscaled") the covariance of the coefficients, from the
    inverse of the scaled normal matrix.

    >>> import chainrule.numpy as cnp
    >>> y = cnp.array([1.0, 3.0, 5.5], requires_grad=True)
    >>> c = cnp.polyfit(cnp.array([0.0, 1.0, 2.0]), y, 1)
    >>> c
    tensor([2.25  , 0.9167], grad_fn=<div>)
    >>> c[0].backward()  # the slope: (y2 - y0) / 2
    >>> y.grad.numpy().round(12)
    array([-0.5,  0. ,  0.5])
    """
    import warnings

    from .. import linalg

    order = int(deg) + 1
    xs = tensor(x)
    ys = tensor(y)
    xs = xs.astype(np.result_type(xs.dtype, 0.0)) if xs.dtype.kind not in "fc" else xs
    ys = ys.astype(np.result_type(ys.dtype, 0.0)) if ys.dtype.kind not in "fc" else ys
    if deg < 0:
        raise ValueError("polyfit: expected deg >= 0")
    if xs.ndim != 1:
        raise TypeError(f"polyfit: expected 1D vector for x, got shape {xs.shape}")
    if xs.shape[0] == 0:
        raise TypeError("polyfit: expected non-empty vector for x")
    if ys.ndim < 1 or ys.ndim > 2:
        raise TypeError(f"polyfit: expected 1D or 2D array for y, got shape {ys.shape}")
    if xs.shape[0] != ys.shape[0]:
        raise TypeError(
            f"polyfit: expected x and y to have same length, got {xs.shape[0]} and {ys.shape[0]}"
        )
    if rcond is None:
        rcond = xs.shape[0] * np.finfo(xs.dtype).eps
    lhs = vander(xs, order)
    rhs = ys
    if w is not None:
        ws = tensor(w)
        ws = ws.astype(np.result_type(ws.dtype, 0.0)) if ws.dtype.kind not in "fc" else ws
        if ws.ndim != 1:
            raise TypeError(f"polyfit: expected a 1-d array for weights, got shape {ws.shape}")
        if ws.shape[0] != ys.shape[0]:
            raise TypeError("polyfit: expected w and y to have the same length")
        lhs = lhs * ops.reshape(ws, (-1, 1))
        rhs = rhs * (ops.reshape(ws, (-1, 1)) if rhs.ndim == 2 else ws)
    # scale the columns to unit norm (NumPy's conditioning), solve, undo the scaling
    scale = ops.sqrt(ops.sum(lhs * lhs, axis=0))
    lhs = lhs / scale
    c, resids, rank, s = linalg.lstsq(lhs, rhs, rcond)
    c = c / (ops.reshape(scale, (-1, 1)) if c.ndim == 2 else scale)
    if rank != order and not full:
        warnings.warn("Polyfit may be poorly conditioned", np.exceptions.RankWarning, stacklevel=2)
    if full:
        return c, resids, np.int32(rank), s, rcond
    if cov:
        base = linalg.inv(ops.matmul(ops.transpose(lhs, (1, 0)), lhs))
        base = base / ops.reshape(scale, (-1, 1)) / ops.reshape(scale, (1, -1))
        if cov == "unscaled":
            fac: Any = 1.0
        else:
            if xs.shape[0] <= order:
                raise ValueError(
                    "polyfit: the number of data points must exceed order to scale the "
                    "covariance matrix"
                )
            fac = resids / (xs.shape[0] - order)
        if ys.ndim == 1:
            return c, base * fac
        return c, ops.reshape(base, base.shape + (1,)) * fac
    return c


def polydiv(u: Any, v: Any) -> tuple[Tensor, Tensor]:
    """(quotient, remainder) of polynomial division (coefficients, highest power first),
    by NumPy's long division, so differentiable in both; the remainder's leading
    (numerically) zero coefficients are dropped as NumPy drops them (read from the
    values).

    >>> import chainrule.numpy as cnp
    >>> cnp.polydiv(cnp.array([1.0, -3.0, 2.0]), cnp.array([1.0, -1.0]))
    (tensor([ 1., -2.]), tensor([0.]))
    """
    a, b = _coefficients("polydiv", u), _coefficients("polydiv", v)
    a = a.astype(np.result_type(a.dtype, 0.0)) if a.dtype.kind not in "fc" else a
    b = b.astype(np.result_type(b.dtype, 0.0)) if b.dtype.kind not in "fc" else b
    dt = np.result_type(a.dtype, b.dtype)
    m, n = a.shape[0] - 1, b.shape[0] - 1
    scale = 1.0 / b[0]
    r = a.astype(dt) if a.dtype != dt else a
    quotient = []
    for k in range(m - n + 1):
        d = scale * r[k]
        quotient.append(ops.reshape(d, (1,)))
        r = ops.concatenate([r[:k], r[k : k + n + 1] - d * b, r[k + n + 1 :]], 0)
    if quotient:
        q = ops.concatenate(quotient, 0).astype(dt)
    else:
        q = tensor(np.zeros(1, dtype=dt))
    while (
        np.allclose(decided_by(r, "polydiv: the remainder's length")[0], 0, rtol=1e-14)
        and r.shape[-1] > 1
    ):
        r = r[1:]
    return q, r


def matvec(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """The matrix-vector product over the last two axes of ``x1`` and the last of ``x2``
    (broadcast over the rest), NumPy 2's ``matvec``; bilinear.

    >>> import chainrule.numpy as cnp
    >>> cnp.matvec(cnp.array([[1.0, 2.0], [3.0, 4.0]]), cnp.array([1.0, 1.0]))
    tensor([3., 7.])
    """
    if kwargs:
        raise TypeError(f"matvec: {sorted(kwargs)} are not supported on chainrule Tensors")
    a, v = tensor(x1), tensor(x2)
    if a.ndim < 2 or v.ndim < 1:
        raise ValueError(f"matvec: needs a matrix and a vector, got shapes {a.shape} and {v.shape}")
    return finish("matvec", ops.matmul(a, ops.reshape(v, v.shape + (1,)))[..., 0], out)


def vecmat(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """The vector-matrix product conj(x1) @ x2 over the last axis of ``x1`` and the last
    two of ``x2`` (broadcast over the rest), NumPy 2's ``vecmat``; bilinear.

    >>> import chainrule.numpy as cnp
    >>> cnp.vecmat(cnp.array([1.0, 1.0]), cnp.array([[1.0, 2.0], [3.0, 4.0]]))
    tensor([4., 6.])
    """
    if kwargs:
        raise TypeError(f"vecmat: {sorted(kwargs)} are not supported on chainrule Tensors")
    v, a = tensor(x1), tensor(x2)
    if a.ndim < 2 or v.ndim < 1:
        raise ValueError(f"vecmat: needs a vector and a matrix, got shapes {v.shape} and {a.shape}")
    row = ops.reshape(ops.conj(v) if v.dtype.kind == "c" else v, v.shape[:-1] + (1, v.shape[-1]))
    return finish("vecmat", ops.matmul(row, a)[..., 0, :], out)
