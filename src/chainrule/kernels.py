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
    "checked_labels",
    "dropout_mask",
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


def dropout_mask(x: Any, p: float, seed: Any = None) -> Any:
    """The factor dropout multiplies ``x`` by: 0 with probability ``p``, else 1/(1-p), drawn
    from ``chainrule.nn.init.generator(seed)`` (a Generator as is, an int seeds a new one,
    None a fresh child of the global generator), at every call.

    >>> dropout_mask(xp.ones(4), 0.5, 0)
    array([2., 0., 0., 0.])
    """
    from .nn import init

    keep = init.generator(seed).random(xp.shape(x)) >= p
    if p >= 1.0:  # every element dropped (not 0 / 0)
        return xp.zeros(xp.shape(x), dtype=xp.result_type(x))
    return (keep / (1.0 - p)).astype(xp.result_type(x))


def checked_labels(labels: Any, shape: tuple, op: str = "cross_entropy") -> Any:
    """``labels`` after checking they are in [0, C) for (N, C) scores ``shape``: how a
    traced program checks labels that are its input at every call (the eager losses
    check the values they get before any kernel reads them). One pass: seen as
    unsigned integers of their width, negative labels are huge, so the largest catches
    both ends; a negative index would otherwise silently pick a class from the end.

    >>> checked_labels(xp.array([0, 2]), (2, 3))
    array([0, 2])
    >>> checked_labels(xp.array([0, -1]), (2, 3))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    IndexError: cross_entropy: label -1 is out of range for 3 classes (sample 1, ...
    """
    kind = labels.dtype.kind
    if not labels.size or kind not in "iu":
        return labels
    unsigned = labels.view(labels.dtype.str.replace("i", "u")) if kind == "i" else labels
    n_classes = shape[1]
    if unsigned.max() < n_classes:
        return labels
    where = int(xp.argmax((labels < 0) | (labels >= n_classes)))
    if op == "embedding":
        raise IndexError(
            f"embedding: index {int(labels.flat[where])} is out of range for {n_classes} embeddings"
        )
    raise IndexError(
        f"{op}: label {int(labels.flat[where])} is out of range for {n_classes} classes "
        f"(sample {where}, scores shape {tuple(shape)}); labels must be in [0, {n_classes - 1}]"
    )


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
    "eig_packed",
    "eigh_packed",
    "eigvals_c",
    "eigvalsh_hermitian",
    "einsum_run",
    "hermitian_part",
    "l2norm",
    "linalg_cholesky",
    "linalg_inv",
    "linalg_solve",
    "lstsq_solution",
    "masked_div",
    "phase_check",
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


def _einsum_step(step: tuple, args: list) -> Any:
    if step[0] == "e":
        return _c_einsum(step[2], *args)
    _, _, perm_a, shape_a, perm_b, shape_b, shape_out, perm_out = step
    a, b = args
    if perm_a is not None:
        a = a.transpose(perm_a)
    if shape_a is not None:
        a = a.reshape(shape_a)
    if perm_b is not None:
        b = b.transpose(perm_b)
    if shape_b is not None:
        b = b.reshape(shape_b)
    out = xp.matmul(a, b)
    if shape_out is not None:
        out = out.reshape(shape_out)
    return out if perm_out is None else out.transpose(perm_out)


def einsum_run(plan: tuple, *operands: Any) -> Any:
    """Run an einsum contraction plan (``rules_linalg.einsum_plan``): each step contracts
    some operands (removed from the list, the result appended, as ``np.einsum_path``
    orders them) with NumPy's C einsum loop (``"e"``) or, for a product that BLAS does
    faster, as one (batched) matrix product between transposes and reshapes (``"m"``;
    ``None`` where a transpose or reshape is not needed).

    >>> a, b = xp.arange(6.0).reshape(2, 3), xp.ones((3, 2))
    >>> einsum_run((("e", (0, 1), "ij,jk->ik"),), a, b)
    array([[ 3.,  3.],
           [12., 12.]])
    """
    if len(plan) == 1:  # one step over all operands, in order: no list bookkeeping
        return _einsum_step(plan[0], list(operands))
    ops = list(operands)
    for step in plan:
        idx = step[1]
        args = [ops[i] for i in idx]
        for i in sorted(idx, reverse=True):
            del ops[i]
        ops.append(_einsum_step(step, args))
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


def hermitian_part(a: Any) -> Any:
    """(A + A^H) / 2 over the last two axes: the Hermitian matrix that ``eigh``,
    ``eigvalsh`` and ``cholesky`` decompose (JAX's ``symmetrize_input``), so that their
    Hermitian gradients are the exact derivatives of what they compute for every input.
    A matrix that is already Hermitian comes back bit for bit (x + x is exact, so is / 2).

    >>> hermitian_part(xp.array([[1.0, 2.0], [0.0, 3.0]]))
    array([[1., 1.],
           [1., 3.]])
    """
    at = xp.swapaxes(a, -1, -2)
    if a.dtype.kind == "c":
        at = xp.conj(at)
    return (a + at) * a.real.dtype.type(0.5)


def linalg_cholesky(a: Any) -> Any:
    """The lower Cholesky factor of the Hermitian part of ``a``, with an error naming the
    operation when it is not (numerically) positive definite.

    >>> linalg_cholesky(xp.array([[4.0, 2.0], [2.0, 2.0]]))
    array([[2., 0.],
           [1., 1.]])
    """
    try:
        return xp.linalg.cholesky(hermitian_part(a))
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
    """``np.linalg.eigh`` of the Hermitian part of ``a`` as one array: the eigenvalues as
    row 0 above the eigenvectors, (..., n + 1, n), in the eigenvectors' dtype.

    >>> eigh_packed(xp.array([[2.0, 0.0], [0.0, 1.0]]), "L")
    array([[1., 2.],
           [0., 1.],
           [1., 0.]])
    """
    w, v = xp.linalg.eigh(hermitian_part(a), UPLO=uplo)
    return xp.concatenate([w[..., None, :].astype(v.dtype, copy=False), v], axis=-2)


def eigvalsh_hermitian(a: Any, uplo: str) -> Any:
    """``np.linalg.eigvalsh`` of the Hermitian part of ``a``.

    >>> eigvalsh_hermitian(xp.array([[2.0, 2.0], [0.0, 2.0]]), "L")
    array([1., 3.])
    """
    return xp.linalg.eigvalsh(hermitian_part(a), UPLO=uplo)


def eig_packed(a: Any) -> Any:
    """``np.linalg.eig`` as one complex array: the eigenvalues as row 0 above the
    eigenvectors (unit columns, LAPACK's phases), (..., n + 1, n), always complex (a real
    matrix's eigenvalues may come in conjugate pairs; JAX's convention).

    >>> eig_packed(xp.array([[0.0, 1.0], [-1.0, 0.0]]))[0]
    array([0.+1.j, 0.-1.j])
    """
    w, v = xp.linalg.eig(a)
    ctype = xp.result_type(v.dtype, xp.complex64)
    return xp.concatenate(
        [w[..., None, :].astype(ctype, copy=False), v.astype(ctype, copy=False)], axis=-2
    )


def eigvals_c(a: Any) -> Any:
    """``np.linalg.eigvals``, always complex (see ``eig_packed``).

    >>> eigvals_c(xp.array([[2.0, 0.0], [0.0, 1.0]]))
    array([2.+0.j, 1.+0.j])
    """
    w = xp.linalg.eigvals(a)
    return w.astype(xp.result_type(w.dtype, xp.complex64), copy=False)


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


def phase_check(k: Any, partner: Any, ref: Any, op: str) -> Any:
    """``k`` (V^H gV for a decomposition's complex vectors V and their gradient gV) as it
    is, after checking that the loss does not depend on the vectors' phases: each vector
    is defined only up to a factor e^(i phi), and the loss is invariant under it exactly
    when Im diag(V^H gV) = 0. Otherwise the gradient does not exist, and this raises
    (PyTorch does too) rather than return the gradient of one arbitrary phase choice.
    The SVD's pairs u_i, v_i share one phase: there ``partner`` is V^H gV, added to
    ``k`` = U^H gU for the check (0 elsewhere). The tolerance is sqrt(eps) relative to the
    largest of k, partner and ``ref`` (the whole cotangent: rounding in a gradient that
    cancels to 0 is not a phase dependence), at least 100 eps.

    >>> phase_check(xp.array([[1.0 + 0j, 2j], [0j, 3.0]]), 0, 0, "eig")
    array([[1.+0.j, 0.+2.j],
           [0.+0.j, 3.+0.j]])
    """
    if k.dtype.kind == "c" and k.size:
        both = k + partner
        drift = xp.abs(xp.diagonal(both, axis1=-2, axis2=-1).imag)
        scale = max(float(xp.max(xp.abs(v))) if xp.size(v) else 0.0 for v in (k, partner, ref))
        eps = float(xp.finfo(k.dtype).eps)
        # relative to the cotangent, with an absolute floor: a cotangent that is itself
        # rounding noise (a second-order one that cancels to 0) is no phase dependence
        tol = max(eps**0.5 * scale, 100 * eps)
        if float(xp.max(drift)) > tol:
            what = "singular vectors" if op == "svd" else "eigenvectors"
            raise ValueError(
                f"{op}: the loss depends on the phases of the complex {what}, which are "
                f"defined only up to a factor e^(i phi) each (LAPACK picks one), so its "
                f"gradient does not exist (max |Im diag(V^H dL/dV)| = {float(xp.max(drift)):.3g}); "
                f"use a phase-invariant function of them, such as abs(v), v * conj(v) or "
                f"V diag(w) V^-1"
            )
    return k


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


def masked_div(x: Any, s: Any) -> Any:
    """x / s with 0 wherever x is 0 (also where s is 0); inf where only s is 0.

    >>> masked_div(xp.array([0.0, 2.0, 3.0]), xp.array([0.0, 4.0, 0.0]))
    array([0. , 0.5, inf])
    """
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = xp.asarray(x / s)
    out = xp.where(x == 0, xp.zeros((), out.dtype), out)
    return out[()] if out.ndim == 0 else out


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


# --------------------------------------------------------------------------- special functions
# The forward computations of ``cr.special`` (``rules_special``), in NumPy alone, to about
# 1e-15 relative in float64. Each works in float64 and returns the input's floating dtype
# (float32 stays float32; integers become float64), a NumPy scalar for a 0-d input.

__all__ += [
    "beta",
    "betaln",
    "erf",
    "erfc",
    "erfcinv",
    "erfcx",
    "erfinv",
    "gamma",
    "gammaln",
    "gammasgn",
    "log_ndtr",
    "logit",
    "polygamma",
    "rgamma",
    "softplus",
    "xlog1py",
    "xlogy",
]

import math as _math  # noqa: E402  (the special functions' constants)


def _float_in(x: Any, name: str) -> tuple:
    arr = xp.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: does not support complex inputs (a real special function)")
    dtype = arr.dtype if arr.dtype.kind == "f" else xp.dtype(xp.float64)
    return arr.astype(xp.float64, copy=False), dtype


def _float_pair(a: Any, b: Any, name: str) -> tuple:
    """Two arguments as float64 arrays and the result's dtype: NumPy's promotion, in
    which a Python number adapts to the other argument (float32 with 2.0 stays float32);
    integers give float64."""
    a = a if isinstance(a, (int, float)) else xp.asarray(a)
    b = b if isinstance(b, (int, float)) else xp.asarray(b)
    dtype = xp.result_type(a, b)
    if dtype.kind == "c":
        raise TypeError(f"{name}: does not support complex inputs (a real special function)")
    if dtype.kind != "f":
        dtype = xp.dtype(xp.float64)
    return xp.asarray(a, xp.float64), xp.asarray(b, xp.float64), dtype


def _float_out(out: Any, dtype: Any) -> Any:
    out = out.astype(dtype, copy=False)
    return out[()] if out.ndim == 0 else out


# W. J. Cody, "Rational Chebyshev approximations for the error function", Mathematics of
# Computation 23 (1969) 631-637, as his SPECFUN routine CALERF: three rational
# approximations, for |x| <= 0.46875 (erf), 0.46875 < |x| <= 4 and |x| > 4 (erfc, times
# exp(-x^2)), about one unit in the last place in float64; with erfc and the scaled erfcx (CALERF's
# jint = 1, 2) so that tails keep their relative accuracy. rules_nn's erf primitive runs
# erf below.
_ERF_A = (
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
    1.85777706184603153e-1,
)
_ERF_B = (
    2.36012909523441209e01,
    2.44024637934444173e02,
    1.28261652607737228e03,
    2.84423683343917062e03,
)
_ERF_C = (
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
    2.15311535474403846e-8,
)
_ERF_D = (
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
)
_ERF_P = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
)
_ERF_Q = (
    2.56852019228982242e00,
    1.87295284992346047e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
)
_SQRT_1_PI = 0.56418958354775628695  # 1 / sqrt(pi)


def _exp_minus_square(y: Any) -> Any:
    """exp(-y^2) as exp(-ysq^2) exp(-(y - ysq)(y + ysq)) with ysq = y rounded down to
    1/16: Cody's split, which keeps the rounding error of y*y out of the exponent."""
    ysq = xp.trunc(y * 16.0) / 16.0
    return xp.exp(-ysq * ysq) * xp.exp(-(y - ysq) * (y + ysq))


def _calerf(x: Any, jint: int) -> Any:
    """Cody's CALERF on a float64 array: erf (jint 0), erfc (1) or erfcx (2)."""
    y = xp.abs(x)
    out = xp.empty_like(x)
    small = y <= 0.46875
    mid = (y > 0.46875) & (y <= 4.0)
    big = y > 4.0
    with xp.errstate(over="ignore", under="ignore", invalid="ignore"):
        if small.any():
            xs = x[small]
            z = xs * xs
            num, den = _ERF_A[4] * z, z
            for a, b in zip(_ERF_A[:3], _ERF_B[:3]):
                num = (num + a) * z
                den = (den + b) * z
            r = xs * (num + _ERF_A[3]) / (den + _ERF_B[3])
            if jint >= 1:
                r = 1.0 - r
            if jint == 2:
                r = xp.exp(z) * r
            out[small] = r
        # |x| > 0.46875: erfc(|x|) (or erfcx(|x|)) first, then the sign fix-ups below
        if mid.any():
            ym = y[mid]
            num, den = _ERF_C[8] * ym, ym
            for c, d in zip(_ERF_C[:7], _ERF_D[:7]):
                num = (num + c) * ym
                den = (den + d) * ym
            r = (num + _ERF_C[7]) / (den + _ERF_D[7])
            out[mid] = r if jint == 2 else r * _exp_minus_square(ym)
        if big.any():
            yb = y[big]
            ycap = xp.minimum(yb, 1e8)  # beyond, the series' correction is below rounding
            z = 1.0 / (ycap * ycap)
            num, den = _ERF_P[5] * z, z
            for p, q in zip(_ERF_P[:4], _ERF_Q[:4]):
                num = (num + p) * z
                den = (den + q) * z
            r = z * (num + _ERF_P[4]) / (den + _ERF_Q[4])
            r = (_SQRT_1_PI - r) / yb
            if jint != 2:
                r = xp.where(yb >= 27.0, 0.0, r * _exp_minus_square(xp.minimum(yb, 27.0)))
            out[big] = r
        tail = ~small
        neg = x < 0
        if jint == 0:
            out[tail] = (0.5 - out[tail]) + 0.5
            out[tail & neg] = -out[tail & neg]
        elif jint == 1:
            fix = tail & neg
            out[fix] = 2.0 - out[fix]
        else:
            fix = tail & neg
            if fix.any():
                # erfcx(-y) = 2 exp(y^2) - erfcx(y), exp(y^2) split as above (inf past -26.6)
                xn = x[fix]
                ysq = xp.trunc(xn * 16.0) / 16.0
                e = xp.exp(ysq * ysq) * xp.exp((xn - ysq) * (xn + ysq))
                out[fix] = (e + e) - out[fix]
    nan = xp.isnan(x)
    if nan.any():
        out[nan] = xp.nan
    return out


def erf(x: Any) -> Any:
    """The error function (W. J. Cody's rational approximations; complex arguments by
    ``_erf_complex``).

    >>> float(erf(0.5))
    0.5204998778130465
    >>> print(xp.round(erf(1 + 1j), 12))
    (1.316151281698+0.190453469238j)
    """
    arr = xp.asarray(x)
    if arr.dtype.kind == "c":
        return _float_out(_erf_complex(arr.astype(xp.complex128), False), arr.dtype)
    xf, dtype = _float_in(arr, "erf")
    return _float_out(_calerf(xf, 0), dtype)


def erfc(x: Any) -> Any:
    """The complementary error function 1 - erf(x), accurate in the tail (complex
    arguments too).

    >>> print(f"{float(erfc(10.0)):.12e}")
    2.088487583763e-45
    """
    arr = xp.asarray(x)
    if arr.dtype.kind == "c":
        return _float_out(_erf_complex(arr.astype(xp.complex128), True), arr.dtype)
    xf, dtype = _float_in(arr, "erfc")
    return _float_out(_calerf(xf, 1), dtype)


def erfcx(x: Any) -> Any:
    """The scaled complementary error function exp(x^2) erfc(x).

    >>> round(float(erfcx(30.0)), 15)
    0.018795888861417
    """
    xf, dtype = _float_in(x, "erfcx")
    return _float_out(_calerf(xf, 2), dtype)


# The error function of a complex argument. In the first quadrant (the others follow from
# erf(-z) = -erf(z) and erf(conj z) = conj erf(z)) and for Im z <= 30, Abramowitz & Stegun
# 7.1.29 (a trapezoidal rule with step 1/2, error about 1e-16 |erf|):
#   erf(x + iy) = erf(x) + e^(-x^2) / (2 pi x) [(1 - cos 2xy) + i sin 2xy]
#                 + (2/pi) e^(-x^2) sum_{n>=1} e^(-n^2/4) / (n^2 + 4x^2) [f_n + i g_n],
#   f_n = 2x - 2x cosh(ny) cos(2xy) + n sinh(ny) sin(2xy),
#   g_n = 2x cosh(ny) sin(2xy) + n sinh(ny) cos(2xy).
# The terms fall off as e^(-(n - 2y)^2 / 4), so n runs to 2y + 14. Every piece is O(x) in
# the real part and O(y) in the imaginary one, so each part keeps its own relative accuracy
# (near the axes too), and erfc(x + iy) = erfc(x) - (the same corrections) keeps erfc's where
# it is tiny. e^(-x^2 - n^2/4 +- ny) is one exponential, scaled by e^(-shift) until the sum
# is formed, so nothing overflows before the result does; sinh(ny) comes from np.sinh where
# ny < 1 (the difference of exponentials would cancel there). Beyond Im z = 30 (where erf
# is finite only for Re z > 13.8) Laplace's continued fraction
#   erfc(z) = e^(-z^2) / sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...))))
# converges to full precision in 20 terms. Relative to |erf| the error is about 1e-16 times
# erf's condition number |2 z erf'(z) / erf(z)| (it grows like |z|^2: 2e-14 at |z| = 8).
_SQRT_PI = _math.sqrt(_math.pi)
_ERF_BANDS = ((2.0, 18), (8.0, 30), (30.0, 74))  # (largest Im z, terms of the sum)


def _erf_corrections(x: Any, y: Any, nmax: int) -> tuple:
    """For x, y >= 0: (re, im) with erf(x + iy) = erf(x) + re + i im (A&S 7.1.29)."""
    x2 = x * x
    two_xy = 2.0 * x * y
    s2, c2 = xp.sin(two_xy), xp.cos(two_xy)
    shift = xp.maximum(y * y - x2 - 600.0, 0.0)  # the largest term is about e^(y^2 - x^2)
    sum_re = xp.zeros_like(x)
    sum_im = xp.zeros_like(x)
    for n in range(1, nmax + 1):
        q = -x2 - 0.25 * n * n - shift
        ny = n * y
        base = xp.exp(q)
        ep, em = xp.exp(q + ny), xp.exp(q - ny)
        ch = 0.5 * (ep + em)  # e^(-x^2 - n^2/4 - shift) cosh(ny)
        sh = xp.where(ny < 1.0, base * xp.sinh(xp.minimum(ny, 1.0)), 0.5 * (ep - em))
        d = n * n + 4.0 * x2
        sum_re += (2.0 * x * (base - ch * c2) + n * sh * s2) / d
        sum_im += (2.0 * x * ch * s2 + n * sh * c2) / d
    scale = xp.exp(shift) * (2.0 / _math.pi)  # inf only where the result overflows
    sum_re = xp.where(sum_re == 0, sum_re, sum_re * scale)  # (an exact 0 stays 0)
    sum_im = xp.where(sum_im == 0, sum_im, sum_im * scale)
    e2 = xp.exp(-x2)
    # (1 - cos 2xy) / (2 pi x) = x y^2 sinc(xy)^2 / pi and sin(2xy) / (2 pi x) = y sinc(2xy) / pi,
    # finite at x = 0
    sxy = xp.sinc(x * y / _math.pi)
    re = e2 * (x * y * y * sxy * sxy) / _math.pi + sum_re
    im = e2 * (y * xp.sinc(two_xy / _math.pi)) / _math.pi + sum_im
    return re, im


def _erfc_fraction(x: Any, y: Any, terms: int = 20) -> Any:
    """erfc(x + iy) for x >= 0 and large |z|: Laplace's continued fraction."""
    z = x + 1j * y
    t = z
    for k in range(terms, 0, -1):
        t = z + (0.5 * k) / t
    minus_z2 = (y - x) * (y + x) - 2j * x * y  # -(x + iy)^2, with x^2 - y^2 exact-ish
    return xp.exp(minus_z2 - xp.log(t * _SQRT_PI))


def _erf_first_quadrant(x: Any, y: Any, complement: bool) -> Any:
    out = xp.empty(x.shape, xp.complex128)
    far = y > _ERF_BANDS[-1][0]
    if far.any():
        c = _erfc_fraction(x[far], y[far])
        out[far] = c if complement else 1.0 - c
    lo = -1.0
    for hi, nmax in _ERF_BANDS:
        band = (y > lo) & (y <= hi)
        lo = hi
        if band.any():
            xb, yb = x[band], y[band]
            re, im = _erf_corrections(xb, yb, nmax)
            # (real and imaginary parts assigned apart: inf * 1j would make a NaN)
            if complement:
                out.real[band] = _calerf(xb, 1) - re
                out.imag[band] = -im
            else:
                out.real[band] = _calerf(xb, 0) + re
                out.imag[band] = im
    return out


def _erf_complex(z: Any, complement: bool) -> Any:
    """erf(z) (or erfc(z)) of a complex128 array."""
    x, y = z.real, z.imag
    out = xp.full(z.shape, complex(xp.nan, xp.nan))
    fin = xp.isfinite(x) & xp.isfinite(y)
    with xp.errstate(over="ignore", under="ignore", invalid="ignore"):
        xf, yf = x[fin], y[fin]
        w = _erf_first_quadrant(xp.abs(xf), xp.abs(yf), complement)
        sy = xp.where(yf < 0, -1.0, 1.0)
        if complement:  # erfc(z) = 2 - erfc(-z) for Re z < 0
            out.real[fin] = xp.where(xf < 0, 2.0 - w.real, w.real)
        else:
            out.real[fin] = xp.where(xf < 0, -w.real, w.real)
        out.imag[fin] = sy * w.imag
    # infinite parts: erf(+-inf + iy) = +-1, erf(+-i inf) = +-i inf (NaN elsewhere, as SciPy)
    xinf = xp.isinf(x) & xp.isfinite(y)
    if xinf.any():
        sign = xp.where(x[xinf] < 0, -1.0, 1.0)
        out[xinf] = (1.0 - sign) if complement else sign
    yinf = xp.isinf(y) & (x == 0)
    if yinf.any():
        out.real[yinf] = 1.0 if complement else 0.0
        out.imag[yinf] = -y[yinf] if complement else y[yinf]
    return out


# M. Giles, "Approximating the erfinv function", GPU Computing Gems Jade Edition (2011):
# his single-precision polynomials in w = -log(1 - x^2) give a start within ~1e-7 (worse
# in the far tail, which they were not fitted for). It is refined to full double precision
# by Halley's iteration on Cody's erf where |x| < 0.5, and beyond by Newton's on
# log erfc(y) = log(1 - |x|) (1 - |x| is exact there, log erfc = log erfcx - y^2 is smooth
# and nearly quadratic in y, so Newton converges fast even from a far start).
_GILES_SMALL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_GILES_BIG = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)
_TWO_OVER_SQRT_PI = 2.0 / _math.sqrt(_math.pi)


def _horner(coefs: tuple, w: Any) -> Any:
    p = xp.full_like(w, coefs[0])
    for c in coefs[1:]:
        p = p * w + c
    return p


def _giles_start(a: Any, q: Any) -> Any:
    """Giles' approximation to erfinv(a), given q = 1 - a (exact where it matters). Past
    his range (q < 1e-16, reached by erfcinv only) the asymptotic erfc(y) ~ e^(-y^2) /
    (y sqrt(pi)) solved for y by two fixed-point steps."""
    w = -xp.log(q * (1.0 + a))
    start = xp.where(w < 5.0, _horner(_GILES_SMALL, w - 2.5), _horner(_GILES_BIG, xp.sqrt(w) - 3.0))
    far = w > 37.0
    if xp.any(far):
        minus_log_q = -xp.log(q[far])
        y = xp.sqrt(minus_log_q)
        for _ in range(2):
            y = xp.sqrt(minus_log_q - xp.log(y * _SQRT_PI))
        start[far] = y / a[far]
    return start * a


def _erfc_root(r: Any, q: Any) -> Any:
    """Newton's iteration from r to the y > 0 with erfc(y) = q (for q <= 1/2): on
    g = log erfcx(y) - y^2 - log q, g' = -2 / (sqrt(pi) erfcx(y))."""
    log_q = xp.log(q)
    for _ in range(6):
        ex = _calerf(r, 2)
        r = r + (xp.log(ex) - r * r - log_q) * ex / _TWO_OVER_SQRT_PI
    return r


def erfinv(x: Any) -> Any:
    """The inverse error function on [-1, 1] (+-inf at +-1, NaN outside).

    >>> float(erfinv(0.5204998778130465))
    0.5
    """
    xf, dtype = _float_in(x, "erfinv")
    a = xp.abs(xf)
    out = xp.full_like(xf, xp.nan)
    inside = a < 1
    with xp.errstate(divide="ignore", invalid="ignore"):
        ai = a[inside]
        r = _giles_start(ai, 1.0 - ai)
        low = ai < 0.5
        rl, al = r[low], ai[low]
        for _ in range(3):  # Halley: f = erf(y) - x, f' = 2/sqrt(pi) exp(-y^2), f'' = -2y f'
            step = (_calerf(rl, 0) - al) / (_TWO_OVER_SQRT_PI * xp.exp(-rl * rl))
            rl = rl - step / (1.0 + rl * step)
        r[low] = rl
        r[~low] = _erfc_root(r[~low], 1.0 - ai[~low])
        out[inside] = r
    out[a == 1] = xp.inf
    out = xp.copysign(out, xf)
    return _float_out(out, dtype)


def erfcinv(y: Any) -> Any:
    """The inverse of erfc on [0, 2] (``scipy.special.erfcinv``): +inf at 0, -inf at 2,
    NaN outside. Small y are solved for directly (erfinv(1 - y) would lose 1 - y's digits).

    >>> float(erfcinv(1e-300)), float(erfcinv(1.0))
    (26.209469960516124, -0.0)
    """
    yf, dtype = _float_in(y, "erfcinv")
    out = xp.full_like(yf, xp.nan)
    with xp.errstate(divide="ignore", invalid="ignore"):
        # the tails: y < 1/2 directly, y > 3/2 by erfcinv(y) = -erfcinv(2 - y) (2 - y exact)
        for tail, sign in ((yf > 0) & (yf < 0.5), 1.0), ((yf > 1.5) & (yf < 2.0), -1.0):
            if tail.any():
                q = yf[tail] if sign > 0 else 2.0 - yf[tail]
                out[tail] = sign * _erfc_root(_giles_start(1.0 - q, q), q)
        mid = (yf >= 0.5) & (yf <= 1.5)  # erfcinv(y) = -erfinv(y - 1), y - 1 exact
        if mid.any():
            out[mid] = -erfinv(yf[mid] - 1.0)
    out[yf == 0] = xp.inf
    out[yf == 2] = -xp.inf
    return _float_out(out, dtype)


# The log-gamma function. Near its zeros at 1 and 2 a Taylor series about 2 keeps the
# relative accuracy: log Gamma(2 + z) = (1 - gamma) z + sum_{k>=2} (-1)^k (zeta(k) - 1)/k z^k
# (Abramowitz & Stegun 6.1.33 with the recurrence), used for |z| <= 1/2; smaller x step up
# with Gamma(x + 1) = x Gamma(x), larger ones (up to 10) step down, and x >= 10 takes
# Stirling's series with eight Bernoulli terms (A&S 6.1.41). Negative x uses the
# reflection formula log|Gamma(x)| = log(pi / |sin(pi x)|) - log Gamma(1 - x).
_EULER_GAMMA = 0.57721566490153286061
_LOG_SQRT_2PI = 0.91893853320467274178
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)
_ZETA_MINUS_1: list = []  # zeta(k) - 1 for k = 2, 3, ... (computed on first use)


def _zeta_minus_1(kmax: int = 40) -> list:
    """zeta(k) - 1 = sum_{n>=2} n^-k, summed exactly (math.fsum) to n = 60 with the
    Euler-Maclaurin tail."""
    if not _ZETA_MINUS_1:
        n0 = 60
        for k in range(2, kmax + 1):
            terms = [float(n) ** -k for n in range(2, n0)]
            terms += [n0 ** (1 - k) / (k - 1), 0.5 * n0**-k]
            rising = float(k)  # k (k+1) ... (k + 2i - 2)
            for i, b in enumerate(_BERNOULLI[:5], start=1):
                terms.append(b / _math.factorial(2 * i) * rising * n0 ** (-k - 2 * i + 1))
                rising *= (k + 2 * i - 1) * (k + 2 * i)
            _ZETA_MINUS_1.append(_math.fsum(terms))
    return _ZETA_MINUS_1


def _lgamma_near2(z: Any) -> Any:
    """log Gamma(2 + z) for |z| <= 1/2 (the series about 2)."""
    zeta1 = _zeta_minus_1()
    total = xp.zeros_like(z)
    power = z * z
    for k in range(2, 40):
        total = total + ((-1) ** k * zeta1[k - 2] / k) * power
        power = power * z
    return (1.0 - _EULER_GAMMA) * z + total


def _stirling_series(x: Any) -> Any:
    """log Gamma(x) - ((x - 1/2) log x - x + log sqrt(2 pi)) for x >= 10: the Bernoulli
    terms sum_k B_2k / (2k (2k - 1) x^(2k - 1))."""
    inv = 1.0 / x
    inv2 = inv * inv
    series = xp.zeros_like(x)
    for i in range(len(_BERNOULLI), 0, -1):
        series = series * inv2 + _BERNOULLI[i - 1] / (2 * i * (2 * i - 1))
    return series * inv


def _stirling(x: Any) -> Any:
    """log Gamma(x) for x >= 10."""
    return (x - 0.5) * xp.log(x) - x + _LOG_SQRT_2PI + _stirling_series(x)


def _lgamma_positive(x: Any) -> Any:
    out = xp.empty_like(x)
    tiny = x < 0.5
    low = (x >= 0.5) & (x < 1.5)
    mid = (x >= 1.5) & (x <= 2.5)
    high = (x > 2.5) & (x < 10.0)
    large = x >= 10.0
    if tiny.any():  # Gamma(x) = Gamma(x + 2) / (x (x + 1))
        t = x[tiny]
        out[tiny] = _lgamma_near2(t) - xp.log(t) - xp.log1p(t)
    if low.any():  # Gamma(x) = Gamma(x + 1) / x, with x + 1 = 2 + (x - 1)
        t = x[low] - 1.0
        out[low] = _lgamma_near2(t) - xp.log1p(t)
    if mid.any():
        out[mid] = _lgamma_near2(x[mid] - 2.0)
    if high.any():  # Gamma(x) = (x - 1) ... (x - n) Gamma(x - n), x - n in [1.5, 2.5]
        t = x[high]
        n = xp.floor(t - 1.5)
        prod = xp.ones_like(t)
        for j in range(1, 9):
            prod = xp.where(j <= n, prod * (t - j), prod)
        out[high] = _lgamma_near2(t - n - 2.0) + xp.log(prod)
    if large.any():
        out[large] = _stirling(x[large])
    return out


def _sinpi_abs(x: Any) -> Any:
    """|sin(pi x)|, with the argument reduced exactly first (x - round(x) is exact)."""
    return xp.sin(_math.pi * xp.abs(x - xp.round(x)))


def gammaln(x: Any) -> Any:
    """log |Gamma(x)| (``scipy.special.gammaln``): +inf at 0 and the negative integers
    (and -inf at -inf, as SciPy).

    >>> float(gammaln(0.5))  # log(sqrt(pi))
    0.5723649429247001
    """
    xf, dtype = _float_in(x, "gammaln")
    return _float_out(_gammaln64(xf), dtype)


def _gammaln64(xf: Any) -> Any:
    """gammaln on a float64 array (a new array)."""
    out = xp.full_like(xf, xp.inf)
    pos = xf > 0
    with xp.errstate(all="ignore"):
        fin = pos & (xf < xp.inf)
        if fin.any():
            out[fin] = _lgamma_positive(xf[fin])
        neg = (xf < 0) & (xf != xp.floor(xf)) & xp.isfinite(xf)
        if neg.any():
            t = xf[neg]
            out[neg] = xp.log(_math.pi / _sinpi_abs(t)) - _lgamma_positive(1.0 - t)
    out[xf == -xp.inf] = -xp.inf  # as SciPy
    out[xp.isnan(xf)] = xp.nan
    return out


# The gamma function itself (so that it keeps its relative accuracy where log-gamma is large,
# which exp(gammaln) would not): for 0 < x < 10, exp of the series about 2 times or divided by
# the recurrence's few factors (exp of a number below 0.3: no error grows); for
# 10 <= x <= 171.62 Stirling's formula as sqrt(2 pi) x^(x/2 - 1/4) (x^(x/2 - 1/4) e^-x)
# e^(series), which overflows only where Gamma does. Negative x by the reflection
# Gamma(x) = pi / (sin(pi x) Gamma(1 - x)) with Gamma(1 - x) as (-x) Gamma(-x) (-x is exact,
# 1 - x would be rounded), in logarithms where Gamma(1 - x) overflows.
_MAXGAM = 171.624376956302725  # Gamma(x) overflows float64 beyond (SciPy's MAXGAM)
_SQRT_2PI = 2.5066282746310005024


def _sinpi(x: Any) -> Any:
    """sin(pi x), with x reduced exactly first: sin(pi (n + r)) = (-1)^n sin(pi r)."""
    n = xp.round(x)
    s = xp.sin(_math.pi * (x - n))
    return xp.where(xp.fmod(n, 2.0) == 0, s, -s)


_FACTORIALS: list = []  # (n - 1)! for n = 1 ... 171, correctly rounded (on first use)


def _gamma_positive(x: Any, reciprocal: bool = False) -> Any:
    """Gamma(x) (or 1 / Gamma(x)) for finite x > 0, a float64 array. At the integers
    the factorials, correctly rounded."""
    out = _gamma_positive_series(x, reciprocal)
    ints = (x == xp.floor(x)) & (x <= 171.0)
    if ints.any():
        if not _FACTORIALS:
            _FACTORIALS.append(xp.array([float(_math.factorial(n)) for n in range(171)]))
        table = _FACTORIALS[0][x[ints].astype(xp.int64) - 1]
        out[ints] = 1.0 / table if reciprocal else table
    return out


def _gamma_positive_series(x: Any, reciprocal: bool) -> Any:
    out = xp.empty_like(x)
    tiny = x < 0.5
    low = (x >= 0.5) & (x < 1.5)
    mid = (x >= 1.5) & (x <= 2.5)
    high = (x > 2.5) & (x < 10.0)
    large = (x >= 10.0) & (x <= _MAXGAM)
    huge = x > _MAXGAM
    sign = -1.0 if reciprocal else 1.0
    if tiny.any():  # Gamma(x) = Gamma(x + 2) / (x (x + 1)), 1/Gamma(x) ~ x stays finite
        t = x[tiny]
        g2, factors = xp.exp(sign * _lgamma_near2(t)), t * (1.0 + t)
        out[tiny] = g2 * factors if reciprocal else g2 / factors
    if low.any():  # Gamma(x) = Gamma(x + 1) / x
        t = x[low]
        g1 = xp.exp(sign * _lgamma_near2(t - 1.0))
        out[low] = g1 * t if reciprocal else g1 / t
    if mid.any():
        out[mid] = xp.exp(sign * _lgamma_near2(x[mid] - 2.0))
    if high.any():  # Gamma(x) = (x - 1) ... (x - n) Gamma(x - n), x - n in [1.5, 2.5]
        t = x[high]
        n = xp.floor(t - 1.5)
        prod = xp.ones_like(t)
        for j in range(1, 9):
            prod = xp.where(j <= n, prod * (t - j), prod)
        g = xp.exp(sign * _lgamma_near2(t - n - 2.0))
        out[high] = g / prod if reciprocal else g * prod
    if large.any():
        t = x[large]
        half = xp.power(t, 0.5 * t - 0.25)
        g = (_SQRT_2PI * xp.exp(_stirling_series(t))) * half * (half * xp.exp(-t))
        out[large] = 1.0 / g if reciprocal else g
    if huge.any():  # 1 / Gamma underflows gradually, Gamma overflows
        out[huge] = xp.exp(-_stirling(x[huge])) if reciprocal else xp.inf
    return out


def gamma(x: Any) -> Any:
    """The gamma function (``scipy.special.gamma``): +-inf at +-0, NaN at the negative
    integers and -inf, inf past 171.62.

    >>> float(gamma(5.0)), round(float(gamma(0.5)) ** 2, 14)  # 4! and pi
    (24.0, 3.14159265358979)
    """
    xf, dtype = _float_in(x, "gamma")
    out = xp.full_like(xf, xp.nan)
    with xp.errstate(all="ignore"):
        pos = (xf > 0) & (xf < xp.inf)
        if pos.any():
            out[pos] = _gamma_positive(xf[pos])
        neg = (xf < 0) & (xf != xp.floor(xf)) & xp.isfinite(xf)
        if neg.any():  # Gamma(x) = pi / (sin(pi x) (-x) Gamma(-x)): -x is exact, 1 - x is not
            t = xf[neg]
            s = _sinpi(t)
            g = _math.pi / (s * (-t * _gamma_positive(-t)))
            # Gamma(1 - x) overflows: the (tiny) value from logarithms instead
            far = -t > _MAXGAM - 1.0
            log_abs = xp.log(_math.pi / xp.abs(s)) - xp.log(-t) - _stirling(-t)
            out[neg] = xp.where(far, xp.copysign(xp.exp(log_abs), s), g)
    zero = xf == 0
    out[zero] = xp.copysign(xp.inf, xf[zero])
    out[xf == xp.inf] = xp.inf
    return _float_out(out, dtype)


def rgamma(x: Any) -> Any:
    """1 / Gamma(x) (``scipy.special.rgamma``), an entire function: 0 at 0 and the
    negative integers, computed without forming Gamma where it would overflow.

    >>> float(rgamma(5.0)), float(rgamma(-2.0)), float(rgamma(1e-300))
    (0.041666666666666664, 0.0, 1e-300)
    """
    xf, dtype = _float_in(x, "rgamma")
    out = xp.full_like(xf, xp.nan)
    with xp.errstate(all="ignore"):
        pos = (xf > 0) & (xf < xp.inf)
        if pos.any():
            out[pos] = _gamma_positive(xf[pos], reciprocal=True)
        neg = (xf < 0) & (xf != xp.floor(xf)) & xp.isfinite(xf)
        if neg.any():  # 1 / Gamma(x) = sin(pi x) (-x) Gamma(-x) / pi
            t = xf[neg]
            s = _sinpi(t)
            r = s * (-t * _gamma_positive(-t)) / _math.pi
            far = -t > _MAXGAM - 1.0
            log_abs = xp.log(xp.abs(s) / _math.pi) + xp.log(-t) + _stirling(-t)
            out[neg] = xp.where(far, xp.copysign(xp.exp(log_abs), s), r)
    ints = (xf < 0) & (xf == xp.floor(xf))  # the zeros (and -inf, as SciPy: 0)
    out[ints] = 0.0
    zero = xf == 0
    out[zero] = xf[zero]  # (-0.0 at -0.0, as SciPy)
    out[xf == xp.inf] = 0.0
    return _float_out(out, dtype)


def gammasgn(x: Any) -> Any:
    """The sign of Gamma(x) (``scipy.special.gammasgn``): 1 for x > 0, (-1)^(k+1) on
    (-k-1, -k), NaN at the negative integers and -inf, +-1 at +-0.

    >>> gammasgn(xp.array([2.0, -0.5, -1.5, -1.0]))
    array([ 1., -1.,  1., nan])
    """
    xf, dtype = _float_in(x, "gammasgn")
    out = xp.ones_like(xf)
    with xp.errstate(invalid="ignore"):
        neg = xf < 0
        k = xp.floor(-xf[neg])  # x in (-k - 1, -k)
        out[neg] = xp.where(xp.fmod(k, 2.0) == 0, -1.0, 1.0)
        out[(neg & (xf == xp.floor(xf))) | xp.isnan(xf)] = xp.nan
    zero = xf == 0
    out[zero] = xp.copysign(1.0, xf[zero])
    return _float_out(out, dtype)


# The beta function B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b) and log |B|. Where a or b is
# a pole (0, a negative integer, or -inf) the value is SciPy's (Cephes'): for a = -n and an
# integer b with 1 - a - b > 0 the limit (-1)^b B(1 - a - b, b), +inf otherwise. Elsewhere B
# is the product of gamma functions while they stay finite (|a|, |b|, |a + b| < 171.62), and
# sign * exp(log |B|) beyond. log |B| for a, b > 0 with max(a, b) >= 10 is Stirling's formula
# with the large terms combined (log(a / (a + b)) = -log1p(b / a)), so that no digits cancel
# when one argument is large: log B(1e6, 1) = -log(1e6) to the last place (the sum of three
# log-gammas would lose 6 digits).
def _beta_poles(a: Any, b: Any, log: bool, fn: Any) -> tuple:
    """Where a or b is a pole: (mask, values); ``fn`` is B (or log |B|) of float64 arrays."""
    out = xp.full(a.shape, xp.inf)
    done = xp.zeros(a.shape, bool)
    for p, q in ((a, b), (b, a)):  # Cephes checks a first, then b
        pole = (p <= 0) & (p == xp.floor(p)) & ~done
        if pole.any():
            pp, qq = p[pole], q[pole]
            limit = xp.isfinite(pp) & (qq == xp.floor(qq)) & xp.isfinite(qq) & (1.0 - pp - qq > 0)
            vals = xp.full(pp.shape, xp.inf)
            if limit.any():
                ql = qq[limit]
                v = fn(1.0 - pp[limit] - ql, ql)
                vals[limit] = v if log else xp.where(xp.fmod(ql, 2.0) == 0, v, -v)
            out[pole] = vals
            done |= pole
    return done, out


def _sum_shift(a: Any, b: Any, s: Any) -> Any:
    """psi(s) ((a + b) - s), for s = fl(a + b): how far log Gamma(a + b) is from
    log Gamma(s), to first order (the rounding error by Knuth's two-sum; 0 at the poles)."""
    bb = s - a
    psi = polygamma(s, 0)
    return xp.where(xp.isfinite(psi), psi * ((a - (s - bb)) + (b - bb)), 0.0)


def _gammaln_sum(a: Any, b: Any) -> Any:
    """log |B(a, b)| away from the poles of a and b: the log of the product of gamma
    functions where that is a normal number (each gamma is good to an ulp or two, so the
    log is good to an ulp or two of 1: three log-gammas of size 10 would cancel to 1e-15),
    else log|Gamma(a)| + log|Gamma(b)| - log|Gamma(a + b)|, with a + b's rounding error
    corrected to first order (it moves log Gamma(a + b) by psi(a + b) times the error: much
    more than one unit near a pole of Gamma(a + b))."""
    s = a + b
    out = _gammaln64(a) + _gammaln64(b) - _gammaln64(s) - _sum_shift(a, b, s)
    small = (xp.abs(a) < _MAXGAM) & (xp.abs(b) < _MAXGAM) & (xp.abs(s) < _MAXGAM)
    if small.any():
        direct = xp.abs(_beta_direct(a[small], b[small]))
        normal = (direct > 1e-300) & (direct < 1e300)
        out[small] = xp.where(normal, xp.log(xp.where(normal, direct, 1.0)), out[small])
    return out


def _betaln_positive(a: Any, b: Any) -> Any:
    """log B(a, b) for finite a, b > 0."""
    big, small = xp.maximum(a, b), xp.minimum(a, b)
    total = big + small
    out = _gammaln_sum(a, b)
    both = small >= 10.0
    if both.any():
        # (a - 1/2) log(a / s) + (b - 1/2) log(b / s) - log(s) / 2 + log sqrt(2 pi)
        # + S(a) + S(b) - S(s), with S Stirling's series and log(a / s) = -log1p(b / a)
        g, m, s = big[both], small[both], total[both]
        out[both] = (
            -(g - 0.5) * xp.log1p(m / g)
            + (m - 0.5) * xp.log(m / s)
            - 0.5 * xp.log(s)
            + _LOG_SQRT_2PI
            + (_stirling_series(g) + _stirling_series(m) - _stirling_series(s))
        )
    one = (big >= 10.0) & ~both
    if one.any():  # log Gamma(m) + [log Gamma(g) - log Gamma(g + m)]
        g, m, s = big[one], small[one], total[one]
        out[one] = _gammaln64(m) + (
            -(g - 0.5) * xp.log1p(m / g)
            - m * xp.log(s)
            + m
            + (_stirling_series(g) - _stirling_series(s))
        )
    return out


def _betaln64(a: Any, b: Any) -> Any:
    a, b = xp.broadcast_arrays(a, b)
    done, out = _beta_poles(a, b, True, _betaln64)
    rest = ~done
    ar, br = a[rest], b[rest]
    vals = xp.full(ar.shape, xp.nan)
    fin = xp.isfinite(ar) & xp.isfinite(br)
    pos = fin & (ar > 0) & (br > 0)
    vals[pos] = _betaln_positive(ar[pos], br[pos])
    other = fin & ~pos
    vals[other] = _gammaln_sum(ar[other], br[other])
    # one argument +inf: B -> 0 if the other is positive, +-inf (log: +inf) if negative
    for p, q in ((ar, br), (br, ar)):
        at = (p == xp.inf) & xp.isfinite(q)
        vals[at] = xp.where(q[at] > 0, -xp.inf, xp.inf)
    out[rest] = vals
    return out


def _beta64(a: Any, b: Any) -> Any:
    a, b = xp.broadcast_arrays(a, b)
    done, out = _beta_poles(a, b, False, _beta64)
    rest = ~done
    ar, br = a[rest], b[rest]
    s = ar + br
    vals = xp.full(ar.shape, xp.nan)
    direct = (xp.abs(ar) < _MAXGAM) & (xp.abs(br) < _MAXGAM) & (xp.abs(s) < _MAXGAM)
    if direct.any():
        vals[direct] = _beta_direct(ar[direct], br[direct])
    far = ~direct & xp.isfinite(ar) & xp.isfinite(br)
    if far.any():
        af, bf = ar[far], br[far]
        sign = _gammasgn64(af) * _gammasgn64(bf) * _gammasgn64(af + bf)
        vals[far] = xp.where(xp.isnan(sign), 0.0, sign) * xp.exp(_betaln64(af, bf))
    for p, q in ((ar, br), (br, ar)):
        at = (p == xp.inf) & xp.isfinite(q)
        vals[at] = xp.where(q[at] > 0, 0.0, _gammasgn64(q[at]) * xp.inf)
    out[rest] = vals
    return out


def _beta_direct(a: Any, b: Any) -> Any:
    """B(a, b) as a product of gamma functions, for a, b off their poles and |a|, |b|,
    |a + b| < 171.62: Gamma(larger) / Gamma(a + b) first (it cannot overflow), as Cephes."""
    s = a + b
    big, small = xp.maximum(a, b), xp.minimum(a, b)
    den = _gamma_any(s)
    value = _gamma_any(big) / den * _gamma_any(small)
    # a + b is rounded by up to s eps / 2, which moves Gamma(a + b) by psi(s) times that
    # (7e-14 near s = 171, more near its poles): corrected to first order
    value = value * (1.0 - _sum_shift(a, b, s))
    return xp.where(xp.isinf(den), 0.0, value)


def _gamma_any(x: Any) -> Any:
    """Gamma on float64 (inf at the poles, where it is a denominator of B)."""
    out = gamma(x)
    return xp.where(xp.isnan(out) & ~xp.isnan(x), xp.inf, out)


def _gammasgn64(x: Any) -> Any:
    return xp.asarray(gammasgn(x), dtype=xp.float64)


def beta(a: Any, b: Any) -> Any:
    """The beta function Gamma(a) Gamma(b) / Gamma(a + b) (``scipy.special.beta``),
    broadcast; a pole in a or b gives SciPy's value (see above).

    >>> float(beta(2.0, 3.0)), float(beta(-3.0, 2.0))  # 1/12 and the limit 1/6
    (0.08333333333333333, 0.16666666666666666)
    """
    af, bf, dtype = _float_pair(a, b, "beta")
    with xp.errstate(all="ignore"):
        out = _beta64(af, bf)
    return _float_out(out, dtype)


def betaln(a: Any, b: Any) -> Any:
    """log |B(a, b)| (``scipy.special.betaln``), broadcast, accurate when one argument is
    large.

    >>> round(float(betaln(1e6, 1.0)), 12)  # -log(1e6)
    -13.815510557964
    """
    af, bf, dtype = _float_pair(a, b, "betaln")
    with xp.errstate(all="ignore"):
        out = _betaln64(af, bf)
    return _float_out(out, dtype)


# The polygamma functions psi^(n) (n = 0: the digamma function). For x > 0: the recurrence
# psi^(n)(x) = psi^(n)(x + 1) - (-n)! ... stepped up to x >= 10 + n, then the asymptotic
# series (A&S 6.3.18 for psi, 6.4.11 for n >= 1) with eight Bernoulli terms. Near the
# positive zero of psi (x0 = 1.4616...) a Taylor series about it keeps the relative
# accuracy: psi(x0 + d) = sum_k (-1)^(k+1) zeta(k + 1, x0) d^k (A&S 6.4.10). Negative x:
# the reflection psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) d^n/d(pi x)^n cot(pi x)
# (A&S 6.4.7), with the derivatives of cot as polynomials in cot.
_PSI_ROOT = 1.4616321449683622  # the positive zero of digamma, rounded to float64
_PSI_ROOT_LO = 9.549995429965697e-17  # what rounding dropped: x0 = hi + lo
_PSI_TAYLOR: list = []


def _hurwitz(s: int, a: float) -> float:
    """zeta(s, a) = sum_{j>=0} (a + j)^-s for s >= 2, a > 0, exactly summed (fsum) with
    the Euler-Maclaurin tail: the Taylor coefficients of psi about its zero."""
    n0 = 60
    terms = [(a + j) ** -s for j in range(n0)]
    an = a + n0
    terms += [an ** (1 - s) / (s - 1), 0.5 * an**-s]
    rising = float(s)
    for i, b in enumerate(_BERNOULLI[:6], start=1):
        terms.append(b / _math.factorial(2 * i) * rising * an ** (-s - 2 * i + 1))
        rising *= (s + 2 * i - 1) * (s + 2 * i)
    return _math.fsum(terms)


def _psi_taylor() -> list:
    if not _PSI_TAYLOR:
        root = _PSI_ROOT + _PSI_ROOT_LO
        _PSI_TAYLOR.extend((-1) ** (k + 1) * _hurwitz(k + 1, root) for k in range(1, 30))
    return _PSI_TAYLOR


def _polygamma_positive(x: Any, n: int) -> Any:
    """psi^(n)(x) for x > 0."""
    out = xp.zeros_like(x)
    shift = 10.0 + n
    # the recurrence: psi^(n)(x) = psi^(n)(x + 1) + (-1)^(n+1) n! / x^(n+1)
    t = x.copy()
    acc = xp.zeros_like(x)
    sign_fact = (-1) ** (n + 1) * _math.factorial(n)
    while True:
        need = t < shift
        if not need.any():
            break
        acc = xp.where(need, acc + sign_fact / t ** (n + 1) if n else acc - 1.0 / t, acc)
        t = xp.where(need, t + 1.0, t)
    inv = 1.0 / t
    inv2 = inv * inv
    if n == 0:
        series = xp.zeros_like(t)
        for i in range(len(_BERNOULLI), 0, -1):
            series = series * inv2 + _BERNOULLI[i - 1] / (2 * i)
        out = xp.log(t) - 0.5 * inv - series * inv2 + acc
    else:
        # (-1)^(n+1) [ (n-1)!/t^n + n!/(2 t^(n+1)) + sum_k B_2k (2k+n-1)!/(2k)! / t^(2k+n) ]
        series = xp.zeros_like(t)
        for k in range(len(_BERNOULLI), 0, -1):
            coef = _BERNOULLI[k - 1] * _math.factorial(2 * k + n - 1) / _math.factorial(2 * k)
            series = series * inv2 + coef
        main = _math.factorial(n - 1) * inv**n + 0.5 * _math.factorial(n) * inv ** (n + 1)
        out = (-1) ** (n + 1) * (main + series * inv ** (n + 2)) + acc
    if n == 0:
        near = xp.abs(x - _PSI_ROOT) < 0.25
        if near.any():
            d = (x[near] - _PSI_ROOT) - _PSI_ROOT_LO
            coefs = _psi_taylor()
            total = xp.zeros_like(d)
            for c in coefs[::-1]:
                total = (total + c) * d
            out[near] = total
    return out


def _cot_derivative_poly(n: int) -> list:
    """Coefficients (ascending) of P_n with d^n/dz^n cot(z) = P_n(cot z): P_0 = c and
    P_{k+1} = -(1 + c^2) P_k'."""
    p = [0, 1]
    for _ in range(n):
        dp = [i * p[i] for i in range(1, len(p))] or [0]
        q = [0] * (len(dp) + 2)
        for i, c in enumerate(dp):
            q[i] -= c
            q[i + 2] -= c
        p = q
    return p


def polygamma(x: Any, n: int) -> Any:
    """The n-th derivative of the digamma function (n = 0: digamma itself), as
    ``scipy.special.polygamma(n, x)``; poles at 0 and the negative integers give
    -inf/+inf/NaN as SciPy does (digamma: -inf at 0, NaN at negative integers).

    >>> round(float(polygamma(1.0, 0)), 14)  # -Euler's gamma
    -0.57721566490153
    >>> round(float(polygamma(1.0, 1)), 14)  # pi^2 / 6
    1.64493406684823
    """
    xf, dtype = _float_in(x, "polygamma")
    out = xp.full_like(xf, xp.nan)
    with xp.errstate(all="ignore"):
        pos = xf > 0
        if pos.any():
            out[pos] = _polygamma_positive(xf[pos], n)
        out[xf == xp.inf] = 0.0 if n else xp.inf
        neg = (xf < 0) & (xf != xp.floor(xf)) & xp.isfinite(xf)
        if neg.any():
            t = xf[neg]
            r = t - xp.round(t)  # cot(pi x) has period 1; cos(pi r) = sin(pi (1/2 - |r|))
            c = xp.sin(_math.pi * (0.5 - xp.abs(r))) / xp.sin(_math.pi * r)
            poly = _cot_derivative_poly(n)
            value = xp.zeros_like(t)
            for coef in poly[::-1]:
                value = value * c + coef
            out[neg] = (-1) ** n * _polygamma_positive(1.0 - t, n) - _math.pi ** (n + 1) * value
        # the poles, valued as SciPy does: digamma -inf at 0 and NaN at the negative
        # integers; odd orders +inf, even orders -inf
        zero = xf == 0
        poles = (xf < 0) & (xf == xp.floor(xf))
        if n == 0:
            out[zero] = -xp.inf
        else:
            out[zero | poles] = xp.inf if n % 2 else -xp.inf
    return _float_out(out, dtype)


_SQRT1_2 = 0.70710678118654752440  # 1 / sqrt(2)


def log_ndtr(x: Any) -> Any:
    """log Phi(x), the log of the standard normal CDF, accurate in both tails: for x < 0,
    log(erfcx(-x / sqrt 2) / 2) - x^2 / 2 (no underflow), else log1p(-erfc(x / sqrt 2) / 2).

    >>> round(float(log_ndtr(-40.0)), 6)
    -804.608442
    """
    xf, dtype = _float_in(x, "log_ndtr")
    out = xp.empty_like(xf)
    neg = xf < 0
    with xp.errstate(all="ignore"):
        xn = xf[neg]
        out[neg] = xp.log(0.5 * _calerf(-xn * _SQRT1_2, 2)) - 0.5 * (xn * xn)
        xq = xf[~neg]
        out[~neg] = xp.log1p(-0.5 * _calerf(xq * _SQRT1_2, 1))
    return _float_out(out, dtype)


def logit(p: Any) -> Any:
    """log(p / (1 - p)), the inverse of the logistic sigmoid, written for accuracy near
    p = 1/2 (log1p((2p - 1) / (1 - p))) and near 1 (where 1 - p is exact).

    >>> float(logit(0.5)), round(float(logit(0.75)), 12)
    (0.0, 1.098612288668)
    """
    pf, dtype = _float_in(p, "logit")
    with xp.errstate(all="ignore"):
        out = xp.where(
            pf < 0.3,
            xp.log(pf) - xp.log1p(-pf),
            xp.where(
                pf <= 0.7,
                xp.log1p((2.0 * pf - 1.0) / (1.0 - pf)),
                xp.log1p(-(1.0 - pf)) - xp.log(1.0 - pf),
            ),
        )
    return _float_out(out, dtype)


def xlogy(x: Any, y: Any) -> Any:
    """x * log(y), taken as 0 where x == 0 (unless y is NaN), as ``scipy.special.xlogy``.

    >>> float(xlogy(0.0, 0.0)), round(float(xlogy(2.0, 3.0)), 12)
    (0.0, 2.197224577336)
    """
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = xp.asarray(x * xp.log(y))
        out = xp.where((x == 0) & ~xp.isnan(y), xp.zeros((), out.dtype), out)
    return out[()] if out.ndim == 0 else out


def xlog1py(x: Any, y: Any) -> Any:
    """x * log1p(y), taken as 0 where x == 0 (unless y is NaN), as
    ``scipy.special.xlog1py``.

    >>> float(xlog1py(0.0, -1.0)), round(float(xlog1py(2.0, 1e-10)) * 1e10, 12)
    (0.0, 1.9999999999)
    """
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = xp.asarray(x * xp.log1p(y))
        out = xp.where((x == 0) & ~xp.isnan(y), xp.zeros((), out.dtype), out)
    return out[()] if out.ndim == 0 else out


def softplus(x: Any) -> Any:
    """log(1 + exp(x)) without overflow, accurate for x << 0 (``np.logaddexp(0, x)``).

    >>> round(float(softplus(0.0)), 12), float(softplus(1000.0))
    (0.69314718056, 1000.0)
    """
    return xp.logaddexp(0, x)


# The NumPy family's kernels (rules_numpy) live in their own module; generated code imports
# them from here like every other kernel.
from .kernels_numpy import (  # noqa: E402
    bessel_i1,
    cumprod_along,
    cumsum_along,
    histogram_index,
    linrec,
    shift_along,
    unique_part,
)

__all__ += [
    "bessel_i1",
    "cumprod_along",
    "cumsum_along",
    "histogram_index",
    "linrec",
    "shift_along",
    "unique_part",
]
