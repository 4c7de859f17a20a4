"""``cr.linalg``: NumPy's linear algebra (``np.linalg``) on tensors, differentiable in both
modes and to any order, for stacks of matrices as NumPy allows, real or complex.

The rules (``rules_linalg``) are the standard matrix-calculus results. Where a derivative
does not exist the functions say so: the inverse of a singular matrix raises, a solve with
one raises, the eigenvectors at repeated eigenvalues (and singular vectors at repeated
singular values) give inf with a RuntimeWarning, and a norm at a zero vector takes the
subgradient 0. ``cholesky``, ``eigh`` and ``eigvalsh`` decompose the Hermitian part
(A + A^H) / 2 of their input (JAX's ``symmetrize_input=True``): for a Hermitian A that is A
itself, bit for bit, and NumPy's result; for any other A it makes the Hermitian gradient
(PyTorch's) the exact derivative of what was computed. ``symmetrize_input=False`` reads one
triangle, as NumPy and LAPACK do, and the gradient is then the derivative of that function
(it lands on the triangle read, HIPS autograd's convention).
"""

from __future__ import annotations

import builtins
import operator
from typing import Any, NamedTuple

import numpy as np

from . import contractions, ops
from . import rules_linalg as L
from .tensor import Tensor, apply, as_tensor

__all__ = [
    "EigResult",
    "eig",
    "eigvals",
    "tensorsolve",
    "tensorinv",
    "matrix_rank",
    "cond",
    "multi_dot",
    "trace",
    "diagonal",
    "vecdot",
    "matrix_transpose",
    "matmul",
    "EighResult",
    "LinAlgError",
    "NUMPY_FUNCTIONS",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cross",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "lstsq",
    "matrix_norm",
    "matrix_power",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "vector_norm",
]

#: NumPy's error for linear-algebra failures (a ``ValueError``).
LinAlgError = np.linalg.LinAlgError


class EighResult(NamedTuple):
    """``eigh``'s result: ascending eigenvalues and the eigenvectors as columns.

    >>> import chainrule as cr
    >>> cr.linalg.eigh(cr.tensor([[2.0, 0.0], [0.0, 1.0]])).eigenvalues
    tensor([1., 2.])
    """

    eigenvalues: Tensor
    eigenvectors: Tensor


class EigResult(NamedTuple):
    """``eig``'s result: complex eigenvalues and unit eigenvectors as columns.

    >>> import chainrule as cr
    >>> cr.linalg.eig(cr.tensor([[2.0, 0.0], [0.0, 1.0]])).eigenvalues
    tensor([2.+0.j, 1.+0.j], dtype=complex128)
    """

    eigenvalues: Tensor
    eigenvectors: Tensor


class SVDResult(NamedTuple):
    """``svd``'s result: ``A = U @ (S[..., None] * Vh)``.

    >>> import chainrule as cr
    >>> cr.linalg.svd(cr.tensor([[3.0, 0.0], [0.0, 2.0]])).S
    tensor([3., 2.])
    """

    U: Tensor
    S: Tensor
    Vh: Tensor


class QRResult(NamedTuple):
    """``qr``'s result: ``A = Q @ R``.

    >>> import chainrule as cr
    >>> cr.linalg.qr(cr.eye(2)).R.shape
    (2, 2)
    """

    Q: Tensor
    R: Tensor


class SlogdetResult(NamedTuple):
    """``slogdet``'s result: ``det = sign * exp(logabsdet)``.

    >>> import chainrule as cr
    >>> cr.linalg.slogdet(cr.eye(2) * -1.0).sign
    tensor(1.)
    """

    sign: Tensor
    logabsdet: Tensor


def _as(x: Any) -> Tensor:
    t = x if isinstance(x, Tensor) else as_tensor(x)
    if t.dtype.kind in "biu":  # NumPy computes integer input in float64
        t = t.astype(np.float64)
    return t


def _stacked(op: str, a: Any, square: bool = True) -> Tensor:
    a = _as(a)
    if a.ndim < 2:
        raise LinAlgError(
            f"{op}: {a.ndim}-dimensional array given (shape {a.shape}); it needs at least "
            f"two dimensions (a matrix or a stack of matrices)"
        )
    if square and a.shape[-1] != a.shape[-2]:
        raise LinAlgError(f"{op}: the last two dimensions must be square, got shape {a.shape}")
    return a


def _mH(t: Tensor) -> Tensor:
    axes = list(range(t.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    t = ops.transpose(t, tuple(axes))
    return ops.conj(t)


# --------------------------------------------------------------------------- inverses


def inv(a: Any) -> Tensor:
    """The inverse of a square matrix (or of each in a stack); a singular matrix raises
    ``LinAlgError``. Gradient: -A^-H G A^-H.

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([[2.0, 0.0], [0.0, 4.0]], requires_grad=True)
    >>> cr.linalg.inv(a)
    tensor([[0.5 , 0.  ],
            [0.  , 0.25]], grad_fn=<inv>)
    """
    return apply(L.inv, (_stacked("inv", a),))


def _rtol(op: str, value: Any) -> float:
    arr = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
    if arr.ndim != 0:
        raise TypeError(f"{op}: only a scalar cutoff (rcond / rtol) is supported, got {value!r}")
    return float(arr)


_NO_VALUE = object()


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = _NO_VALUE) -> Tensor:
    """The Moore-Penrose pseudo-inverse from the SVD, singular values at most ``rcond``
    (or ``rtol``) times the largest dropped, with NumPy's defaults (1e-15; ``rtol=None``:
    max(M, N) * eps). ``hermitian`` is accepted (the values are the same). The gradient
    is Golub and Pereyra's (1973): exact where the rank is locally constant; pinv is
    discontinuous where a singular value crosses the cutoff.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.pinv(cr.tensor([[1.0], [1.0]]))
    tensor([[0.5, 0.5]])
    """
    a = _stacked("pinv", a, square=False)
    if rcond is None:
        if rtol is _NO_VALUE:
            cutoff = 1e-15
        elif rtol is None:
            cutoff = builtins.max(a.shape[-2:]) * float(np.finfo(a.dtype).eps)
        else:
            cutoff = _rtol("pinv", rtol)
    elif rtol is not _NO_VALUE:
        raise ValueError("pinv: `rtol` and `rcond` can't be both set")
    else:
        cutoff = _rtol("pinv", rcond)
    return apply(L.pinv, (a,), {"rtol": cutoff})


def det(a: Any) -> Tensor:
    """The determinant. Gradient det(A) A^-T, computed as the adjugate's transpose so it
    is right at singular matrices too.

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)  # singular
    >>> cr.linalg.det(a).backward()
    >>> a.grad
    tensor([[ 4., -2.],
            [-2.,  1.]])
    """
    return apply(L.det, (_stacked("det", a),))


def slogdet(a: Any) -> SlogdetResult:
    """(sign, log|det|), without the overflow of ``det``. log|det| has gradient
    Re(A^-H); the sign of a real matrix is piecewise constant (no gradient), a complex
    one's moves with the phase. At a singular matrix (log|det| = -inf) the gradient raises.

    Examples
    --------
    >>> import chainrule as cr
    >>> sign, logabsdet = cr.linalg.slogdet(cr.tensor([[-2.0, 0.0], [0.0, 3.0]]))
    >>> sign, round(logabsdet.item(), 4)
    (tensor(-1.), 1.7918)
    """
    a = _stacked("slogdet", a)
    packed = apply(L.slogdet, (a,))
    sign = packed[..., 0]
    logabsdet = packed[..., 1]
    if logabsdet.dtype.kind == "c":
        logabsdet = ops.real(logabsdet)
    return SlogdetResult(sign, logabsdet)


def solve(a: Any, b: Any) -> Tensor:
    """Solve A x = b: ``b`` is a vector (M,) when it is 1-D, otherwise a stack of (M, K)
    matrices (NumPy 2's rule); batch dimensions broadcast. Gradients (Giles 2008):
    gB = A^-H G, gA = -gB x^H.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.solve(cr.tensor([[2.0, 0.0], [0.0, 4.0]]), cr.tensor([1.0, 1.0]))
    tensor([0.5 , 0.25])
    """
    a = _stacked("solve", a)
    b = _as(b)
    m = a.shape[-1]
    vector = b.ndim == 1
    if vector:
        if b.shape[0] != m:
            raise ValueError(
                f"solve: b of shape {b.shape} does not match a of shape {a.shape} "
                f"(b must have {m} entries)"
            )
        b = ops.reshape(b, (m, 1))
    elif b.shape[-2] != m:
        raise ValueError(
            f"solve: b of shape {b.shape} does not match a of shape {a.shape}: b is a "
            f"stack of ({m}, K) matrices unless it is 1-D"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"solve: the batch dimensions of a {a.shape} and b {b.shape} do not broadcast"
        ) from None
    x = apply(L.solve, (a, b))
    return ops.reshape(x, x.shape[:-1]) if vector else x


def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple:
    """Least squares: the minimum-norm x minimizing |b - a x|, for a 2-D ``a`` (M, N) and
    ``b`` (M,) or (M, K), as ``np.linalg.lstsq``: returns (x, residuals, rank, s), with
    the residuals' squared norms only when rank == N < M. x is differentiable in a and b
    (x = A^+ b with pinv's gradient: exact where the rank is locally constant); the
    residuals and the singular values s are differentiable too.

    Examples
    --------
    >>> import chainrule as cr
    >>> x, res, rank, s = cr.linalg.lstsq(cr.tensor([[1.0], [1.0]]), cr.tensor([1.0, 3.0]))
    >>> x, res, rank
    (tensor([2.]), tensor([2.]), 1)
    """
    a, b = _as(a), _as(b)
    if a.ndim != 2 or b.ndim not in (1, 2):
        raise LinAlgError(
            f"lstsq: a must be 2-D and b 1-D or 2-D, got shapes {a.shape} and {b.shape}"
        )
    m, n = a.shape
    if b.shape[0] != m:
        raise LinAlgError(f"lstsq: incompatible dimensions: a {a.shape} and b {b.shape}")
    vector = b.ndim == 1
    b2 = ops.reshape(b, (m, 1)) if vector else b
    eps = float(np.finfo(np.float64).eps)
    if rcond is None:
        cutoff = eps * builtins.max(m, n)
        rcond_arg = None
    else:
        rcond_arg = _rtol("lstsq", rcond)
        cutoff = rcond_arg if rcond_arg >= 0 else eps
    x = apply(L.lstsq, (a, b2), {"rcond": rcond_arg, "rtol": cutoff})
    s = svdvals(a)
    sv = s.numpy()
    rank = int(np.sum(sv > cutoff * sv.max())) if sv.size else 0
    real_dtype = np.finfo(x.dtype).dtype
    if rank == n and m > n:
        r = b2 - ops.matmul(a, x)
        sq = ops.real(r * ops.conj(r)) if r.dtype.kind == "c" else r * r
        residuals = ops.sum(sq, axis=0)
    else:
        residuals = as_tensor(np.zeros((0,), dtype=real_dtype))
    if vector:
        x = ops.reshape(x, (n,))
    return x, residuals, rank, s


def matrix_power(a: Any, n: int) -> Tensor:
    """``a`` to the integer power ``n`` by repeated squaring (n < 0: of the inverse;
    n = 0: the identity, a constant).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.matrix_power(cr.tensor([[1.0, 1.0], [0.0, 1.0]]), 3)
    tensor([[1., 3.],
            [0., 1.]])
    """
    a = _stacked("matrix_power", a)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"matrix_power: the exponent must be an integer, got {n!r}") from None
    if n == 0:
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
        return as_tensor(np.array(eye))
    if n < 0:
        a = inv(a)
        n = -n
    result = None
    z = a
    while True:
        if n & 1:
            result = z if result is None else ops.matmul(result, z)
        n >>= 1
        if not n:
            return result
        z = ops.matmul(z, z)


# --------------------------------------------------------------------------- factorizations


def cholesky(a: Any, /, *, upper: bool = False, symmetrize_input: bool = True) -> Tensor:
    """The Cholesky factor of a Hermitian positive-definite matrix: lower L with
    A = L L^H (``upper=True``: L^H). The factored matrix is (A + A^H) / 2, which is A when
    A is Hermitian; the gradient is then the Hermitian one (Murray 2016).
    ``symmetrize_input=False`` reads only the lower triangle, as NumPy does, and its
    gradient lands there. A matrix that is not positive definite raises.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.cholesky(cr.tensor([[4.0, 2.0], [2.0, 2.0]]))
    tensor([[2., 0.],
            [1., 1.]])
    """
    a = _hermitian_input("cholesky", a, "L", symmetrize_input)
    lower = apply(L.cholesky, (a,))
    return _mH(lower) if upper else lower


def qr(a: Any, mode: str = "reduced") -> Any:
    """QR decomposition (``mode`` "reduced", "complete", "r" or "raw", as NumPy).
    Differentiable for "reduced" and "r" at full rank (also for wide matrices), and for
    "complete" when M <= N; "complete" of a tall matrix (Q's extra columns are any basis)
    and "raw" (LAPACK's reflectors) have no gradient.

    Examples
    --------
    >>> import chainrule as cr
    >>> q, r = cr.linalg.qr(cr.tensor([[3.0], [4.0]]))
    >>> q.shape, r.shape
    ((2, 1), (1, 1))
    """
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"qr: unrecognized mode {mode!r} (use 'reduced', 'complete', 'r', 'raw')")
    a = _stacked("qr", a, square=False)
    if mode == "raw":
        if a.requires_grad:
            raise ValueError(
                "qr: mode='raw' returns LAPACK's Householder reflectors, which have no "
                "gradient here; use mode='reduced' (or detach the input)"
            )
        h, tau = np.linalg.qr(a.numpy(), mode="raw")
        return as_tensor(h), as_tensor(tau)
    m, n = a.shape[-2:]
    complete = mode == "complete" and m > n
    packed = apply(L.qr, (a,), {"complete": complete})
    r = packed[..., m:]
    if mode == "r":
        return r
    qt = packed[..., :m]
    axes = list(range(qt.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return QRResult(ops.transpose(qt, tuple(axes)), r)


def _uplo(op: str, uplo: str) -> str:
    if uplo not in ("L", "U"):
        raise ValueError(f"{op}: UPLO must be 'L' or 'U', got {uplo!r}")
    return uplo


def _hermitian_input(op: str, a: Any, uplo: str, symmetrize_input: bool) -> Tensor:
    """The matrix ``op``'s primitive decomposes. Its kernel takes the Hermitian part, so
    with ``symmetrize_input`` the input goes in as it is; without it, the Hermitian matrix
    that the ``uplo`` triangle describes is built first (with differentiable ops, so the
    gradient reaches only the entries NumPy reads)."""
    a = _stacked(op, a)
    uplo = _uplo(op, uplo)
    if symmetrize_input:
        return a
    from .numpy import tril, triu

    if uplo == "L":
        return tril(a) + _mH(tril(a, -1))
    return triu(a) + _mH(triu(a, 1))


def eigh(a: Any, UPLO: str = "L", *, symmetrize_input: bool = True) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of a Hermitian (real symmetric) matrix.
    The decomposed matrix is (A + A^H) / 2, which is A when A is Hermitian, and the
    gradient is Hermitian (PyTorch's); ``symmetrize_input=False`` reads only the ``UPLO``
    triangle, as NumPy does, and its gradient lands on that triangle. At repeated
    eigenvalues the eigenvectors are not unique and have no derivative: a gradient that
    flows through them holds inf and a RuntimeWarning says so (gradients through the
    eigenvalues alone stay finite). Eigenvector phases (signs) are LAPACK's: a loss that
    depends on a complex eigenvector's phase has no gradient, and backward raises
    ``ValueError`` (PyTorch's check); phase-invariant losses (``v * conj(v)``) are fine.

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([[2.0, 1.0], [1.0, 2.0]], requires_grad=True)
    >>> w, v = cr.linalg.eigh(a)
    >>> w
    tensor([1., 3.], grad_fn=<getitem>)
    >>> w[1].backward()
    >>> a.grad
    tensor([[0.5, 0.5],
            [0.5, 0.5]])
    """
    a = _hermitian_input("eigh", a, UPLO, symmetrize_input)
    packed = apply(L.eigh, (a,), {"uplo": UPLO})
    w = packed[..., 0, :]
    if w.dtype.kind == "c":
        w = ops.real(w)
    return EighResult(w, packed[..., 1:, :])


def eig(a: Any) -> EigResult:
    """Eigenvalues and unit eigenvectors of a general square matrix, ``A V = V diag(w)``.
    The results are always complex (JAX's convention; NumPy returns real arrays when
    every imaginary part happens to be 0, a type that depends on the values). Gradients
    (Giles 2008): an eigenvector's phase is LAPACK's arbitrary choice, so only losses
    that do not depend on it (``abs(v)``, ``v * conj(v)``, ``V diag(w) V^-1`` ...) have a
    gradient; for any other, backward raises ``ValueError`` saying so (PyTorch's check). At
    repeated eigenvalues the vectors have no derivative (inf, with a RuntimeWarning); a
    defective matrix (V singular) raises ``LinAlgError`` in the gradient.

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([[1.0, 2.0], [0.0, 3.0]], requires_grad=True)
    >>> w, v = cr.linalg.eig(a)
    >>> w
    tensor([1.+0.j, 3.+0.j], dtype=complex128, grad_fn=<getitem>)
    >>> cr.real(w[1]).backward()  # the left eigenvector (0, 1) times the right (1, 1)
    >>> a.grad
    tensor([[0., 0.],
            [1., 1.]])
    """
    a = _stacked("eig", a)
    packed = apply(L.eig, (a,))
    return EigResult(packed[..., 0, :], packed[..., 1:, :])


def eigvals(a: Any) -> Tensor:
    """The eigenvalues of a general square matrix, always complex (see ``eig``).
    Gradient V^-H diag(g) V^H (its real part for a real matrix).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.eigvals(cr.tensor([[0.0, 1.0], [-1.0, 0.0]]))
    tensor([0.+1.j, 0.-1.j], dtype=complex128)
    """
    return apply(L.eigvals, (_stacked("eigvals", a),))


def eigvalsh(a: Any, UPLO: str = "L", *, symmetrize_input: bool = True) -> Tensor:
    """The eigenvalues (ascending) of a Hermitian (real symmetric) matrix: of
    (A + A^H) / 2, which is A when A is Hermitian (``symmetrize_input=False``: of the
    ``UPLO`` triangle, as NumPy). Gradient V diag(g) V^H.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.eigvalsh(cr.tensor([[2.0, 1.0], [1.0, 2.0]]))
    tensor([1., 3.])
    """
    a = _hermitian_input("eigvalsh", a, UPLO, symmetrize_input)
    return apply(L.eigvalsh, (a,), {"uplo": UPLO})


def svd(
    a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False
) -> Any:
    """Singular value decomposition A = U diag(S) Vh (``np.linalg.svd``'s arguments).
    S is always differentiable; U and Vh where the singular values are distinct (and,
    for a non-square A, non-zero); elsewhere the gradient through them holds inf and a
    RuntimeWarning says so. With ``full_matrices=True`` and M != N the extra columns of
    U (rows of Vh) are any basis of a complement: they get no gradient (PyTorch's
    choice). ``hermitian=True`` follows NumPy's eigh-based method. Complex singular pairs
    (u_i, v_i) share a free phase: a loss that depends on it has no gradient and backward
    raises ``ValueError`` (``U @ Vh`` and ``abs(U)`` are fine).

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([[3.0, 0.0], [0.0, -2.0]], requires_grad=True)
    >>> u, s, vh = cr.linalg.svd(a)
    >>> s
    tensor([3., 2.], grad_fn=<getitem>)
    >>> s.sum().backward()
    >>> a.grad
    tensor([[ 1.,  0.],
            [ 0., -1.]])
    """
    a = _stacked("svd", a, square=hermitian)
    if not compute_uv:
        if hermitian:
            w = ops.abs(eigvalsh(a))
            order = np.argsort(w.numpy(), axis=-1)[..., ::-1].copy()
            return ops.take_along_axis(w, order, axis=-1)
        return svdvals(a)
    if hermitian:
        w, v = eigh(a)
        wv = w.numpy()
        sgn = np.copysign(1.0, wv)
        order = np.argsort(np.abs(wv), axis=-1)[..., ::-1].copy()
        s = ops.take_along_axis(ops.abs(w), order, axis=-1)
        sgn = np.take_along_axis(sgn, order, axis=-1)
        col = np.broadcast_to(order[..., None, :], v.shape).copy()
        u = ops.take_along_axis(v, col, axis=-1)
        vh = _mH(u * sgn[..., None, :].astype(np.finfo(u.dtype).dtype))
        return SVDResult(u, s, vh)
    m, n = a.shape[-2:]
    full = bool(full_matrices) and m != n
    k = builtins.min(m, n)
    ku, kv = (m, n) if full else (k, k)
    packed = apply(L.svd, (a,), {"full_matrices": full})
    lead = packed.shape[:-1]
    u = ops.reshape(packed[..., : m * ku], lead + (m, ku))
    s = packed[..., m * ku : m * ku + k]
    if s.dtype.kind == "c":
        s = ops.real(s)
    vh = ops.reshape(packed[..., m * ku + k :], lead + (kv, n))
    return SVDResult(u, s, vh)


def svdvals(x: Any, /) -> Tensor:
    """The singular values, descending (``np.linalg.svdvals``). Gradient U diag(g) V^H.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.svdvals(cr.tensor([[0.0, 2.0], [1.0, 0.0]]))
    tensor([2., 1.])
    """
    return apply(L.svdvals, (_stacked("svdvals", x, square=False),))


# --------------------------------------------------------------------------- norms


def _l2(x: Tensor, axis: Any, keepdims: bool) -> Tensor:
    return apply(L.l2norm, (x,), {"axis": axis, "keepdims": bool(keepdims)})


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _vector_norm(x: Tensor, ord: Any, axis: int, keepdims: bool) -> Tensor:
    if ord is None or (_is_number(ord) and ord == 2):
        return _l2(x, axis, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    if not _is_number(ord):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    a = ops.abs(x)
    if ord == np.inf:
        return ops.max(a, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return ops.min(a, axis=axis, keepdims=keepdims)
    if ord == 0:
        # the number of non-zero entries: piecewise constant, so no gradient
        counts = (x != 0).astype(np.finfo(a.dtype).dtype)
        return ops.sum(counts, axis=axis, keepdims=keepdims)
    if ord == 1:
        return ops.sum(a, axis=axis, keepdims=keepdims)
    p = float(ord)
    total = ops.sum(a**p, axis=axis, keepdims=keepdims)
    # (sum |x|^p)^(1/p), with the subgradient 0 at a zero vector (the double-where keeps
    # the unused branch finite: the power's derivative there would be inf * 0)
    zero = total == 0
    return ops.where(zero, 0.0, ops.where(zero, 1.0, total) ** (1.0 / p))


def _move_last(x: Tensor, r: int, c: int) -> Tensor:
    axes = [k for k in range(x.ndim) if k not in (r, c)] + [r, c]
    return x if axes == list(range(x.ndim)) else ops.transpose(x, tuple(axes))


def _matrix_norm(x: Tensor, ord: Any, axes: tuple, keepdims: bool) -> Tensor:
    nd = x.ndim
    r, c = axes
    for ax in (r, c):
        if not -nd <= ax < nd:
            raise ValueError(f"norm: axis {ax} is out of range for shape {x.shape}")
    r, c = r % nd, c % nd
    if r == c:
        raise ValueError(f"norm: duplicate axes given: {axes}")
    if ord in (None, "fro", "f"):
        ret = _l2(x, (r, c), False)
    elif ord == "nuc" or (_is_number(ord) and ord in (2, -2)):
        s = svdvals(_move_last(x, r, c))
        if ord == "nuc":
            ret = ops.sum(s, axis=-1)
        elif ord == 2:
            ret = ops.max(s, axis=-1)
        else:
            ret = ops.min(s, axis=-1)
    elif _is_number(ord) and ord in (1, -1, np.inf, -np.inf):
        a = ops.abs(x)
        if ord in (1, -1):  # the largest (smallest) column sum
            sums = ops.sum(a, axis=r)
            keep = c - 1 if c > r else c
        else:  # the largest (smallest) row sum
            sums = ops.sum(a, axis=c)
            keep = r - 1 if r > c else r
        ret = ops.max(sums, axis=keep) if ord in (1, np.inf) else ops.min(sums, axis=keep)
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    if keepdims:
        shape = list(x.shape)
        shape[r] = shape[c] = 1
        ret = ops.reshape(ret, tuple(shape))
    return ret


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Vector or matrix norm with ``np.linalg.norm``'s arguments: vector orders None/2,
    inf, -inf, 0 (a count, no gradient), 1, -1 and any p; matrix orders None/'fro',
    'nuc', inf, -inf, 1, -1, 2, -2; ``axis`` an int, a pair or None (a 1-D or 2-D input,
    or with ``ord=None`` all entries). At a zero vector the 2-norm and p-norms take the
    subgradient 0; ``max``/``min`` ties split the gradient evenly.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([3.0, 4.0], requires_grad=True)
    >>> cr.linalg.norm(x).backward()
    >>> x.grad
    tensor([0.6, 0.8])
    >>> cr.linalg.norm(cr.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1)
    tensor(6.)
    """
    x = _as(x)
    nd = x.ndim
    if axis is None:
        if ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1):
            out = _l2(x, None, False)
            return ops.reshape(out, (1,) * nd) if keepdims else out
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        try:
            axis = (operator.index(axis),)
        except TypeError:
            raise TypeError(
                f"norm: 'axis' must be None, an integer or a tuple of integers, got {axis!r}"
            ) from None
    if len(axis) == 1:
        ax = axis[0]
        if not -nd <= ax < nd:
            raise ValueError(f"norm: axis {ax} is out of range for shape {x.shape}")
        return _vector_norm(x, ord, ax % nd, keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, axis, keepdims)
    raise ValueError(f"norm: improper number of dimensions to norm (shape {x.shape}, axis {axis})")


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Tensor:
    """The array API's vector norm (``np.linalg.vector_norm``): over all entries when
    ``axis`` is None, else over ``axis`` (an int or a tuple of them).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.vector_norm(cr.ones(2, 2))
    tensor(2.)
    """
    x = _as(x)
    if axis is None:
        flat = ops.reshape(x, (-1,))
        out = _vector_norm(flat, ord, 0, False)
        return ops.reshape(out, (1,) * x.ndim) if keepdims else out
    axes = (axis,) if not isinstance(axis, tuple) else axis
    nd = x.ndim
    axes = tuple(operator.index(a) % nd for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if ord is None or ord == 2:
        return _l2(x, axes, keepdims)
    # several axes: move them last, flatten them into one
    rest = [k for k in range(nd) if k not in axes]
    moved = (
        ops.transpose(x, tuple(rest + list(axes))) if rest + list(axes) != list(range(nd)) else x
    )
    flat = ops.reshape(moved, tuple(x.shape[k] for k in rest) + (-1,))
    out = _vector_norm(flat, ord, len(rest), False)
    if keepdims:
        shape = [1 if k in axes else d for k, d in enumerate(x.shape)]
        out = ops.reshape(out, tuple(shape))
    return out


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Tensor:
    """The array API's matrix norm (``np.linalg.matrix_norm``) over the last two axes.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.matrix_norm(cr.eye(3), ord="nuc")
    tensor(3.)
    """
    x = _stacked("matrix_norm", x, square=False)
    return _matrix_norm(x, ord, (-2, -1), keepdims)


# --------------------------------------------------------------------------- array API names


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Tensor:
    """``np.linalg.cross``: the cross product of 3-vectors along ``axis``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.cross(cr.tensor([0.0, 1.0, 0.0]), cr.tensor([0.0, 0.0, 1.0]))
    tensor([1., 0., 0.])
    """
    x1, x2 = _as(x1), _as(x2)
    for t in (x1, x2):
        if t.ndim == 0 or t.shape[axis] != 3:
            raise ValueError(
                f"cross: both inputs must be 3-vectors along axis {axis}, got shapes "
                f"{x1.shape} and {x2.shape}"
            )
    return contractions.cross(x1, x2, axis=axis)


def outer(x1: Any, x2: Any, /) -> Tensor:
    """``np.linalg.outer``: the outer product of two vectors.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.outer(cr.tensor([1.0, 2.0]), cr.tensor([3.0])).shape
    (2, 1)
    """
    x1, x2 = _as(x1), _as(x2)
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"outer: both inputs must be 1-D, got shapes {x1.shape} and {x2.shape}")
    return ops.outer(x1, x2)


tensordot = contractions.tensordot


# --------------------------------------------------------------------------- compositions
# The functions below are built from the primitives above (and matmul, einsum, indexing),
# so their derivatives are those primitives' rules: both modes, any order, complex.


def matmul(x1: Any, x2: Any, /) -> Tensor:
    """``np.linalg.matmul``: the matrix product ``x1 @ x2`` (``cr.matmul``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.matmul(cr.eye(2), cr.tensor([[1.0], [2.0]])).shape
    (2, 1)
    """
    return ops.matmul(as_tensor(x1) if not isinstance(x1, Tensor) else x1, x2)


def matrix_transpose(x: Any, /) -> Tensor:
    """Swap the last two axes (no conjugation), as ``np.linalg.matrix_transpose``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.matrix_transpose(cr.ones((2, 3, 4))).shape
    (2, 4, 3)
    """
    x = x if isinstance(x, Tensor) else as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: needs at least two dimensions, got shape {x.shape}")
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return ops.transpose(x, tuple(axes))


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Tensor:
    """The dot product along ``axis`` with the first argument conjugated, broadcast over
    the others (``np.linalg.vecdot``): ``sum(conj(x1) * x2, axis)``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.vecdot(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([1.0, 1.0]))
    tensor([3., 7.])
    """
    ts = []
    for name, x in (("x1", x1), ("x2", x2)):
        x = x if isinstance(x, Tensor) else as_tensor(x)
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(f"vecdot: axis {axis} is out of range for {name} of shape {x.shape}")
        # The axis is each operand's own (NumPy's gufunc rule): move it last in both.
        ax = axis % x.ndim
        if ax != x.ndim - 1:
            x = ops.transpose(x, tuple(k for k in range(x.ndim) if k != ax) + (ax,))
        ts.append(x)
    x1, x2 = ts
    if x1.shape[-1] != x2.shape[-1]:
        raise ValueError(
            f"vecdot: the contracted axis {axis} has {x1.shape[-1]} entries in x1 and "
            f"{x2.shape[-1]} in x2"
        )
    try:
        np.broadcast_shapes(x1.shape[:-1], x2.shape[:-1])
    except ValueError:
        raise ValueError(
            f"vecdot: the other axes of {x1.shape} and {x2.shape} do not broadcast"
        ) from None
    if x1.dtype.kind == "c":
        x1 = ops.conj(x1)
    return ops.sum(x1 * x2, axis=-1)


def _diagonal_view(x: Tensor, offset: int) -> Tensor:
    # The offset-th diagonal of the last two axes starts at (0, offset) (offset >= 0) or
    # (-offset, 0): slice the matrix there, then its main diagonal is the one wanted.
    n, m = x.shape[-2], x.shape[-1]
    if offset >= 0:
        k = builtins.max(0, builtins.min(n, m - offset))
        return x[..., :k, offset : offset + k]
    k = builtins.max(0, builtins.min(n + offset, m))
    return x[..., -offset : -offset + k, :k]


def diagonal(x: Any, /, *, offset: int = 0) -> Tensor:
    """The ``offset``-th diagonal of each matrix in the last two axes
    (``np.linalg.diagonal``; offset > 0 above the main diagonal).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.diagonal(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), offset=1)
    tensor([2.])
    """
    x = _stacked("diagonal", x, square=False)
    offset = operator.index(offset)
    return contractions.einsum("...ii->...i", _diagonal_view(x, offset))


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Tensor:
    """The sum of the ``offset``-th diagonal of each matrix in the last two axes
    (``np.linalg.trace``); ``dtype`` casts the input first. Gradient: the identity (shifted
    by ``offset``) times the output's gradient.

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> cr.linalg.trace(a).backward()
    >>> a.grad
    tensor([[1., 0.],
            [0., 1.]])
    """
    x = _stacked("trace", x, square=False)
    if dtype is not None:
        x = x.astype(np.dtype(dtype))
    offset = operator.index(offset)
    return contractions.einsum("...ii->...", _diagonal_view(x, offset))


def _chain_order(dims: list) -> list:
    """The cheapest parenthesization of a matrix chain (the textbook dynamic program,
    Cormen et al. 15.2): ``split[i][j]`` is where the product of matrices i..j splits."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(arrays: Any, *, out: Any = None) -> Tensor:
    """The product of two or more matrices in the cheapest order (``np.linalg.multi_dot``):
    a 1-D first argument is a row vector, a 1-D last one a column vector, all others must
    be 2-D.

    Examples
    --------
    >>> import chainrule as cr
    >>> a, b, c = cr.ones((10, 100)), cr.ones((100, 5)), cr.ones((5,))
    >>> cr.linalg.multi_dot([a, b, c]).shape
    (10,)
    """
    if out is not None:
        raise TypeError("multi_dot: out= is not supported for tensors (the result is new)")
    ts = [x if isinstance(x, Tensor) else as_tensor(x) for x in arrays]
    if len(ts) < 2:
        raise ValueError(f"multi_dot: needs at least two arrays, got {len(ts)}")
    first_vector, last_vector = ts[0].ndim == 1, ts[-1].ndim == 1
    if first_vector:
        ts[0] = ops.reshape(ts[0], (1, ts[0].shape[0]))
    if last_vector:
        ts[-1] = ops.reshape(ts[-1], (ts[-1].shape[0], 1))
    for i, t in enumerate(ts):
        if t.ndim != 2:
            raise ValueError(
                f"multi_dot: array {i} has shape {t.shape}; all but a 1-D first or last "
                "array must be 2-D"
            )
    for i in range(len(ts) - 1):
        if ts[i].shape[1] != ts[i + 1].shape[0]:
            raise ValueError(
                f"multi_dot: arrays {i} {ts[i].shape} and {i + 1} {ts[i + 1].shape} are not aligned"
            )
    split = _chain_order([ts[0].shape[0]] + [t.shape[1] for t in ts])

    def product(i: int, j: int) -> Tensor:
        if i == j:
            return ts[i]
        k = split[i][j]
        return ops.matmul(product(i, k), product(k + 1, j))

    result = product(0, len(ts) - 1)
    if first_vector and last_vector:
        return ops.reshape(result, ())
    if first_vector:
        return ops.reshape(result, (result.shape[1],))
    if last_vector:
        return ops.reshape(result, (result.shape[0],))
    return result


def cond(x: Any, p: Any = None) -> Tensor:
    """The condition number in the norm ``p`` (``np.linalg.cond``): the ratio of the
    extreme singular values for ``p`` in (None, 2, -2), otherwise
    ``norm(x, p) * norm(inv(x), p)`` (square matrices; a singular one gives inf, with no
    gradient there, as NumPy's value is inf).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.cond(cr.tensor([[4.0, 0.0], [0.0, 2.0]]))
    tensor(2.)
    """
    x = _stacked("cond", x, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(x)
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    if p not in ("fro", "nuc", 1, -1, np.inf, -np.inf):
        raise ValueError(f"cond: invalid norm order {p!r} for matrices")
    try:
        xinv = inv(x)
    except LinAlgError:  # (raised when the values are known: eagerly, or when a jit runs)
        if x.ndim > 2:
            raise LinAlgError(
                f"cond: a stack of shape {x.shape} holds singular matrices; p={p!r} needs "
                "the inverse (use p=None for the singular-value ratio)"
            ) from None
        return as_tensor(np.array(np.inf, dtype=np.finfo(x.dtype).dtype))
    axes = (-2, -1)
    return norm(x, p, axis=axes) * norm(xinv, p, axis=axes)


def matrix_rank(A: Any, tol: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Tensor:
    """The rank from the singular values (``np.linalg.matrix_rank``): an integer, so not
    differentiable (the result has no gradient).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.matrix_rank(cr.tensor([[1.0, 2.0], [2.0, 4.0]]))
    tensor(1)
    """
    A = A if isinstance(A, Tensor) else as_tensor(A)
    tol = tol.numpy() if isinstance(tol, Tensor) else tol
    rtol = rtol.numpy() if isinstance(rtol, Tensor) else rtol
    return as_tensor(np.asarray(np.linalg.matrix_rank(A.numpy(), tol, hermitian, rtol=rtol)))


def tensorinv(a: Any, ind: int = 2) -> Tensor:
    """The inverse of ``a`` seen as a linear map from its first ``ind`` axes' product to
    the rest (``np.linalg.tensorinv``): ``tensordot(tensorinv(a), a, ind)`` is the identity.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.tensorinv(cr.eye(6).reshape(6, 2, 3), ind=1).shape
    (2, 3, 6)
    """
    a = a if isinstance(a, Tensor) else as_tensor(a)
    ind = operator.index(ind)
    if ind <= 0:
        raise ValueError(f"tensorinv: ind must be a positive integer, got {ind}")
    left, right = a.shape[:ind], a.shape[ind:]
    rows, cols = int(np.prod(left)), int(np.prod(right))
    if rows != cols:
        raise LinAlgError(
            f"tensorinv: a of shape {a.shape} with ind={ind} maps {cols} to {rows} entries; "
            "it must be square (the products of both parts equal)"
        )
    return ops.reshape(inv(ops.reshape(a, (rows, rows))), right + left)


def tensorsolve(a: Any, b: Any, axes: Any = None) -> Tensor:
    """Solve ``tensordot(a, x, x.ndim) == b`` for x (``np.linalg.tensorsolve``); ``axes``
    are the axes of ``a`` moved to the end first.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.linalg.tensorsolve(cr.eye(6).reshape(2, 3, 6), cr.ones((2, 3))).shape
    (6,)
    """
    a = a if isinstance(a, Tensor) else as_tensor(a)
    b = b if isinstance(b, Tensor) else as_tensor(b)
    if axes is not None:
        axes = [operator.index(ax) % a.ndim for ax in axes]
        rest = [k for k in range(a.ndim) if k not in axes]
        a = ops.transpose(a, tuple(rest + axes))
    if a.shape[: b.ndim] != b.shape:
        raise ValueError(
            f"tensorsolve: b's shape {b.shape} must be the leading part of a's {a.shape}"
        )
    xshape = a.shape[b.ndim :]
    rows, cols = int(np.prod(b.shape)), int(np.prod(xshape))
    if rows != cols:
        raise LinAlgError(
            f"tensorsolve: a of shape {a.shape} maps {cols} unknowns to {rows} equations; "
            "it must be square"
        )
    x = solve(ops.reshape(a, (rows, cols)), ops.reshape(b, (rows,)))
    return ops.reshape(x, xshape)


def _numpy_functions() -> dict:
    table = {
        "inv": inv,
        "pinv": pinv,
        "det": det,
        "slogdet": slogdet,
        "solve": solve,
        "lstsq": lstsq,
        "cholesky": cholesky,
        "qr": qr,
        "eig": eig,
        "eigvals": eigvals,
        "eigh": eigh,
        "eigvalsh": eigvalsh,
        "svd": svd,
        "svdvals": svdvals,
        "norm": norm,
        "vector_norm": vector_norm,
        "matrix_norm": matrix_norm,
        "matrix_power": matrix_power,
        "cross": cross,
        "outer": outer,
        "tensordot": tensordot,
        "matmul": matmul,
        "matrix_transpose": matrix_transpose,
        "vecdot": vecdot,
        "diagonal": diagonal,
        "trace": trace,
        "multi_dot": multi_dot,
        "cond": cond,
        "matrix_rank": matrix_rank,
        "tensorinv": tensorinv,
        "tensorsolve": tensorsolve,
    }
    return {getattr(np.linalg, k): f for k, f in table.items() if hasattr(np.linalg, k)}


#: The NumPy functions this module implements (collected by ``Tensor.__array_function__``).
NUMPY_FUNCTIONS = _numpy_functions()
