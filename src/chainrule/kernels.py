"""Array kernels: the forward computations of primitives that are more than one NumPy call.

The engine runs them as the primitives' implementations and generated code imports and
calls the same functions (``from chainrule.kernels import log_softmax``), so the two can
never compute differently. Everything here takes and returns plain arrays.
"""

from __future__ import annotations

from typing import Any

from .backend import add_at, reduce_max, reduce_sum, xp
from .broadcast import sum_to_shape

__all__ = [
    "cross_entropy_vjp",
    "index_add",
    "index_put",
    "log_softmax",
    "logsumexp",
    "nll",
    "one_hot",
    "per_row",
    "relu",
    "scatter_along_axis",
    "sigmoid",
    "soft_cross_entropy",
    "softmax",
    "sum_to",
    "sum_to_shape",
]


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)): the lectures' formula. Where exp(-x) overflows (x < -709 in
    float64) the result is the exact limit 0.0, so the overflow warning is silenced.

    >>> sigmoid(xp.array([0.0, -800.0]))
    array([0.5, 0. ])
    """
    with xp.errstate(over="ignore"):
        return 1.0 / (1 + xp.exp(-x))


def relu(x: Any) -> Any:
    """max(x, 0); a 0-d value stays a NumPy scalar (0 for negatives, not -0.0).

    >>> relu(xp.array([-1.0, 2.0]))
    array([0., 2.])
    """
    if type(x) is xp.ndarray:
        return xp.maximum(x, 0)
    return x if x > 0 else x - x  # a scalar: 0 (not -0.0), and NaN stays NaN


def logsumexp(x: Any, axis: Any, keepdims: bool) -> Any:
    """log(sum(exp(x))) over ``axis`` without overflow: shift by the max first.

    >>> round(float(logsumexp(xp.array([1000.0, 1000.0]), None, False)) - 1000.0, 6)  # no overflow
    0.693147
    """
    m = reduce_max(x, axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or inf) slices: no shift
    out = xp.log(reduce_sum(xp.exp(x - m), axis, keepdims=True)) + m
    if keepdims:
        return out
    return out.reshape(()) if axis is None else xp.squeeze(out, axis=axis)


def log_softmax(x: Any, axis: int) -> Any:
    """x - logsumexp(x) along ``axis``, stable.

    >>> log_softmax(xp.array([[0.0, 0.0]]), 1)
    array([[-0.69314718, -0.69314718]])
    """
    shifted = x - reduce_max(x, axis, keepdims=True)
    return shifted - xp.log(reduce_sum(xp.exp(shifted), axis, keepdims=True))


def softmax(x: Any, axis: int) -> Any:
    """exp(x) / sum(exp(x)) along ``axis``, stable.

    >>> softmax(xp.array([[0.0, xp.log(3.0)]]), 1)
    array([[0.25, 0.75]])
    """
    e = xp.exp(x - reduce_max(x, axis, keepdims=True))
    e /= reduce_sum(e, axis, keepdims=True)
    return e


def nll(logp: Any, labels: Any, reduction: str) -> Any:
    """Minus each sample's log-probability of its label, reduced ("mean", "sum", "none").

    >>> nll(xp.log(xp.array([[0.5, 0.5], [0.25, 0.75]])), xp.array([0, 1]), 'sum').round(4)
    np.float64(0.9808)
    """
    picked = logp[xp.arange(len(labels)), labels]
    if reduction == "none":
        return -picked
    total = -reduce_sum(picked, None)
    return total if reduction == "sum" else total / len(labels)


def per_row(g: Any, reduction: str, n: int) -> Any:
    """Each sample's share of the upstream gradient ``g``: an (N, 1) column for "none".

    >>> per_row(xp.array([1.0, 2.0]), 'none', 2)
    array([[1.],
           [2.]])
    """
    if reduction == "none":
        return xp.reshape(g, (n, 1))
    return g / n if reduction == "mean" else g


def cross_entropy_vjp(g: Any, logp: Any, labels: Any, reduction: str) -> Any:
    """Softmax cross-entropy's gradient from its log-softmax: (softmax - onehot) times each
    sample's upstream gradient, in place on one fresh array (as hand-written code does).

    >>> logp = xp.log(xp.array([[0.25, 0.75]]))
    >>> cross_entropy_vjp(1.0, logp, xp.array([1]), 'mean')
    array([[ 0.25, -0.25]])
    """
    p = xp.exp(logp)
    p[xp.arange(len(labels)), labels] -= 1
    p *= per_row(g, reduction, len(labels))
    return p


def soft_cross_entropy(x: Any, t: Any, reduction: str) -> Any:
    """Cross-entropy of (N, C) scores against (N, C) target probabilities.

    >>> x = xp.zeros((1, 2))
    >>> soft_cross_entropy(x, xp.array([[0.5, 0.5]]), 'mean').round(4)
    np.float64(0.6931)
    """
    losses = -reduce_sum(t * log_softmax(x, 1), 1)
    if reduction == "none":
        return losses
    total = reduce_sum(losses, None)
    return total if reduction == "sum" else total / len(losses)


def one_hot(labels: Any, n: int, dtype: Any) -> Any:
    """(N, n) rows with a 1 at each label.

    >>> one_hot(xp.array([2, 0]), 3, xp.float32)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    out = xp.zeros((len(labels), n), dtype=dtype)
    out[xp.arange(len(labels)), labels] = 1
    return out


def _is_basic(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if not (p is None or p is Ellipsis or isinstance(p, (slice, int, xp.integer))):
            return False
    return True


def index_add(g: Any, index: Any, shape: tuple) -> Any:
    """The gradient of ``x[index]``: ``g`` put back into zeros of ``shape`` (repeated
    indices add up).

    >>> index_add(xp.array([1.0, 2.0]), xp.array([0, 0]), (3,))
    array([3., 0., 0.])
    """
    out = xp.zeros(shape, dtype=xp.result_type(g))
    if _is_basic(index):
        out[index] = g
    else:
        add_at(out, index, g)
    return out


def index_put(x: Any, v: Any, index: Any) -> Any:
    """A copy of ``x`` with ``v`` written at ``index``.

    >>> index_put(xp.zeros(3), 5.0, 1)
    array([0., 5., 0.])
    """
    out = xp.array(x, copy=True)
    out[index] = v
    return out


def scatter_along_axis(g: Any, indices: Any, axis: int, shape: tuple) -> Any:
    """The gradient of ``take_along_axis``: ``g`` added back at ``indices``.

    >>> scatter_along_axis(xp.array([[1.0], [2.0]]), xp.array([[2], [0]]), 1, (2, 3))
    array([[0., 0., 1.],
           [2., 0., 0.]])
    """
    out = xp.zeros(shape, dtype=xp.result_type(g))
    if indices.shape[axis] == 1:
        xp.put_along_axis(out, indices, g, axis=axis)  # one index per slice: no repeats
    else:
        full = list(xp.indices(indices.shape, sparse=True))
        full[axis] = indices
        add_at(out, tuple(full), g)  # repeated indices accumulate
    return out


def sum_to(x: Any, shape: tuple) -> Any:
    """``x`` summed back to ``shape`` (undoing broadcasting).

    >>> sum_to(xp.ones((2, 3)), (1, 3))
    array([[2., 2., 2.]])
    """
    return sum_to_shape(x, shape)


# --------------------------------------------------------------------------- linear algebra
# The forward computations of the ``rules_linalg`` primitives: einsum's planned contraction,
# the cross product and the decompositions, whose several results are packed side by side
# in one array (one LAPACK call, one primitive; the public functions take them apart).

__all__ += [
    "adjugate",
    "cross3",
    "eig_ratio",
    "eigh_packed",
    "einsum_run",
    "l2norm",
    "linalg_cholesky",
    "linalg_inv",
    "linalg_solve",
    "lstsq_solution",
    "pinv_cutoff",
    "qr_packed",
    "slogdet_packed",
    "svd_packed",
]

try:  # the C loop behind np.einsum, without its Python-level argument handling
    from numpy._core.multiarray import c_einsum as _c_einsum
except ImportError:  # pragma: no cover - NumPy 1.x
    try:
        from numpy.core.multiarray import c_einsum as _c_einsum
    except ImportError:
        _c_einsum = xp.einsum


def einsum_run(plan: tuple, *operands: Any) -> Any:
    """Run an einsum contraction plan (``rules_linalg.einsum_plan``): each step contracts
    some operands (removed from the list, the result appended, as ``np.einsum_path``
    orders them) with NumPy's C einsum loop (``"e"``) or, for a product that BLAS does
    faster, as one (batched) matrix product between transposes and reshapes (``"m"``).

    >>> a, b = xp.arange(6.0).reshape(2, 3), xp.ones((3, 2))
    >>> einsum_run((("e", (0, 1), "ij,jk->ik"),), a, b)
    array([[ 3.,  3.],
           [12., 12.]])
    """
    ops = list(operands)
    for step in plan:
        idx = step[1]
        args = [ops[i] for i in idx]
        for i in sorted(idx, reverse=True):
            del ops[i]
        if step[0] == "e":
            out = _c_einsum(step[2], *args)
        else:
            _, _, perm_a, shape_a, perm_b, shape_b, shape_out, perm_out = step
            a, b = args
            if perm_a is not None:
                a = a.transpose(perm_a)
            if perm_b is not None:
                b = b.transpose(perm_b)
            out = xp.matmul(a.reshape(shape_a), b.reshape(shape_b)).reshape(shape_out)
            if perm_out is not None:
                out = out.transpose(perm_out)
        ops.append(out)
    return ops[0]


def cross3(a: Any, b: Any) -> Any:
    """The cross product of 3-vectors along the last axis (broadcast like NumPy), without
    ``np.cross``'s Python-level axis handling.

    >>> cross3(xp.array([1.0, 0.0, 0.0]), xp.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """
    a = xp.asarray(a)
    b = xp.asarray(b)
    shape = xp.broadcast_shapes(a.shape, b.shape)
    out = xp.empty(shape, dtype=xp.result_type(a, b))
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    xp.subtract(a1 * b2, a2 * b1, out=out[..., 0])
    xp.subtract(a2 * b0, a0 * b2, out=out[..., 1])
    xp.subtract(a0 * b1, a1 * b0, out=out[..., 2])
    return out


def _linalg_error(op: str, what: str, a: Any) -> Any:
    return xp.linalg.LinAlgError(f"{op}: {what} (shape {tuple(xp.shape(a))})")


def linalg_inv(a: Any) -> Any:
    """``np.linalg.inv`` with an error that names the operation and the shape.

    >>> linalg_inv(xp.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    try:
        return xp.linalg.inv(a)
    except xp.linalg.LinAlgError:
        raise _linalg_error("inv", "the matrix is singular, so it has no inverse", a) from None


def linalg_solve(a: Any, b: Any) -> Any:
    """``np.linalg.solve`` for (..., M, M) and (..., M, K) operands, with a clear error.

    >>> linalg_solve(xp.array([[2.0, 0.0], [0.0, 4.0]]), xp.array([[1.0], [1.0]]))
    array([[0.5 ],
           [0.25]])
    """
    try:
        return xp.linalg.solve(a, b)
    except xp.linalg.LinAlgError:
        raise _linalg_error("solve", "the matrix a is singular", a) from None


def linalg_cholesky(a: Any) -> Any:
    """The lower Cholesky factor, with an error naming the operation when ``a`` is not
    (numerically) positive definite.

    >>> linalg_cholesky(xp.array([[4.0, 2.0], [2.0, 2.0]]))
    array([[2., 0.],
           [1., 1.]])
    """
    try:
        return xp.linalg.cholesky(a)
    except xp.linalg.LinAlgError:
        raise _linalg_error("cholesky", "the matrix is not positive definite", a) from None


def adjugate(a: Any) -> Any:
    """The adjugate (classical adjoint) adj(A) = det(A) A^-1, also for singular matrices.

    Where the inverse is well conditioned it is det(A) inv(A); otherwise it comes from the
    SVD A = U S Vh: adj(A) = det(U) det(Vh) Vh^H diag(prod_{j != i} s_j) U^H, which needs
    no division (a rank n-1 matrix has a non-zero adjugate, lower ranks a zero one).

    >>> adjugate(xp.array([[1.0, 2.0], [2.0, 4.0]]))  # singular: [[d, -b], [-c, a]]
    array([[ 4., -2.],
           [-2.,  1.]])
    """
    a = xp.asarray(a)
    n = a.shape[-1]
    if n == 0:
        return xp.zeros_like(a)
    with xp.errstate(all="ignore"):
        try:
            inv = xp.linalg.inv(a)
            cond = xp.abs(a).sum(axis=-2).max(axis=-1) * xp.abs(inv).sum(axis=-2).max(axis=-1)
            out = xp.linalg.det(a)[..., None, None] * inv
            bad = ~(cond < 1e8)
        except xp.linalg.LinAlgError:
            out = xp.zeros_like(a, dtype=xp.result_type(a, 1.0))
            bad = xp.ones(a.shape[:-2], dtype=bool)
    if xp.any(bad):
        sub = a[bad] if a.ndim > 2 else a
        u, s, vh = xp.linalg.svd(sub)
        ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
        before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
        after = xp.cumprod(xp.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = before * after  # prod_{j != i} s_j
        phase = xp.linalg.det(u) * xp.linalg.det(vh)
        adj = phase[..., None, None] * xp.matmul(
            xp.conj(xp.swapaxes(vh, -1, -2)) * others[..., None, :], xp.conj(xp.swapaxes(u, -1, -2))
        )
        if a.ndim > 2:
            out[bad] = adj
        else:
            out = adj.astype(out.dtype, copy=False)
    return out


def slogdet_packed(a: Any) -> Any:
    """``np.linalg.slogdet`` as one array: (..., 2) with the sign and log|det| side by side
    (complex when ``a`` is).

    >>> slogdet_packed(xp.array([[-2.0, 0.0], [0.0, 1.0]]))
    array([-1.        ,  0.69314718])
    """
    sign, logabs = xp.linalg.slogdet(a)
    return xp.stack([sign, xp.asarray(logabs).astype(xp.result_type(sign), copy=False)], axis=-1)


def pinv_cutoff(a: Any, rtol: float) -> Any:
    """The pseudo-inverse from the SVD, singular values at most ``rtol`` times the largest
    taken as zero (``np.linalg.pinv``'s cutoff).

    >>> pinv_cutoff(xp.array([[2.0, 0.0], [0.0, 0.0]]), 1e-15)
    array([[0.5, 0. ],
           [0. , 0. ]])
    """
    a = xp.asarray(a)
    m, n = a.shape[-2:]
    if m == 0 or n == 0:
        return xp.zeros(a.shape[:-2] + (n, m), dtype=a.dtype)
    u, s, vh = xp.linalg.svd(a, full_matrices=False)
    large = s > rtol * xp.max(s, axis=-1, keepdims=True)
    inv_s = xp.where(large, 1.0 / xp.where(large, s, 1.0), 0.0).astype(s.dtype, copy=False)
    return xp.matmul(
        xp.conj(xp.swapaxes(vh, -1, -2)) * inv_s[..., None, :], xp.conj(xp.swapaxes(u, -1, -2))
    )


def lstsq_solution(a: Any, b: Any, rcond: Any) -> Any:
    """``np.linalg.lstsq``'s solution x (minimum norm) for (M, N) ``a`` and (M, K) ``b``.

    >>> lstsq_solution(xp.array([[1.0], [1.0]]), xp.array([[1.0], [3.0]]), None)
    array([[2.]])
    """
    return xp.linalg.lstsq(a, b, rcond=rcond)[0]


def qr_packed(a: Any, complete: bool) -> Any:
    """``np.linalg.qr`` as one array: Q transposed and R side by side, (..., k, m + n).

    >>> qr_packed(xp.array([[3.0], [4.0]]), False).round(6)  # Q^T = [-0.6, -0.8], R = [-5]
    array([[-0.6, -0.8, -5. ]])
    """
    q, r = xp.linalg.qr(a, mode="complete" if complete else "reduced")
    return xp.concatenate([xp.swapaxes(q, -1, -2), r], axis=-1)


def eigh_packed(a: Any, uplo: str) -> Any:
    """``np.linalg.eigh`` as one array: the eigenvalues as row 0 above the eigenvectors,
    (..., n + 1, n), in the eigenvectors' dtype.

    >>> eigh_packed(xp.array([[2.0, 0.0], [0.0, 1.0]]), "L")
    array([[1., 2.],
           [0., 1.],
           [1., 0.]])
    """
    w, v = xp.linalg.eigh(a, UPLO=uplo)
    return xp.concatenate([w[..., None, :].astype(v.dtype, copy=False), v], axis=-2)


def svd_packed(a: Any, full_matrices: bool) -> Any:
    """``np.linalg.svd`` as one array: U, S and Vh flattened side by side on the last axis,
    (..., m*ku + k + kv*n), in U's dtype.

    >>> svd_packed(xp.array([[3.0, 0.0], [0.0, -2.0]]), False)
    array([ 1.,  0.,  0.,  1.,  3.,  2.,  1.,  0., -0., -1.])
    """
    u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
    lead = u.shape[:-2]
    return xp.concatenate(
        [u.reshape(lead + (-1,)), s.astype(u.dtype, copy=False), vh.reshape(lead + (-1,))],
        axis=-1,
    )


def eig_ratio(k: Any, d: Any, op: str) -> Any:
    """K_ij / (d_j - d_i) off the diagonal, 0 on it and wherever K_ij is 0: the coupling
    of a spectral decomposition's vectors (Giles 2008). Where d_i == d_j and K_ij != 0 the
    derivative does not exist: the entry is inf and a RuntimeWarning says so.

    >>> eig_ratio(xp.ones((2, 2)), xp.array([1.0, 3.0]), "eigh")
    array([[ 0. ,  0.5],
           [-0.5,  0. ]])
    """
    d = xp.asarray(d)
    gap = d[..., None, :] - d[..., :, None]
    n = gap.shape[-1]
    zero = (k == 0) | xp.eye(n, dtype=bool)
    scale = xp.max(xp.abs(d), axis=-1, keepdims=True)[..., None] if n else 0.0
    tiny = xp.abs(gap) <= 8 * xp.finfo(gap.dtype).eps * scale
    if xp.any(tiny & ~zero):
        import warnings

        what = "singular values" if op == "svd" else "eigenvalues"
        warnings.warn(
            f"{op}: repeated (or nearly repeated) {what}: the derivative through the "
            f"{'singular' if op == 'svd' else 'eigen'} vectors does not exist there, so the "
            f"gradient holds inf or huge values (gradients of the {what} alone are fine)",
            RuntimeWarning,
            stacklevel=2,
        )
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = k / xp.where(zero, 1, gap)
    return xp.where(zero, 0, out)


def l2norm(x: Any, axis: Any, keepdims: bool) -> Any:
    """sqrt(sum(|x|^2)) over ``axis`` (None: all of them): the vector 2-norm and the
    Frobenius norm.

    >>> l2norm(xp.array([[3.0, 4.0], [0.0, 0.0]]), 1, False)
    array([5., 0.])
    """
    if xp.iscomplexobj(x):
        sq = x.real * x.real + x.imag * x.imag
    else:
        sq = x * x
    return xp.sqrt(reduce_sum(sq, axis, keepdims=keepdims))
