"""cr.linalg: NumPy's forward values (real, complex, batched, float32), gradients against
central differences and PyTorch, the degenerate cases (singular matrices, repeated
eigenvalues, zero vectors) and the errors, traced programs and generated code."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from checker import check_grads, check_grads_complex

LA = cr.linalg
rng = np.random.default_rng(42)


def well(shape, complex_=False):
    x = rng.standard_normal(shape)
    if complex_:
        x = x + 1j * rng.standard_normal(shape)
    if len(shape) >= 2 and shape[-1] == shape[-2]:
        x = x + shape[-1] * np.eye(shape[-1])
    return x


def spd(shape, complex_=False):
    x = rng.standard_normal(shape)
    if complex_:
        x = x + 1j * rng.standard_normal(shape)
    return x @ np.conj(np.swapaxes(x, -1, -2)) + shape[-1] * np.eye(shape[-1])


def sym(shape, complex_=False):
    x = well(shape, complex_)
    return x + np.conj(np.swapaxes(x, -1, -2))


T = cr.tensor


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 3, 3)])
@pytest.mark.parametrize("complex_", [False, True])
def test_square_functions_match_numpy(shape, complex_):
    a = well(shape, complex_)
    np.testing.assert_allclose(LA.inv(a).numpy(), np.linalg.inv(a), rtol=1e-12)
    np.testing.assert_allclose(LA.det(a).numpy(), np.linalg.det(a), rtol=1e-12)
    sign, logabs = LA.slogdet(a)
    ref = np.linalg.slogdet(a)
    np.testing.assert_allclose(sign.numpy(), ref.sign, rtol=1e-12)
    np.testing.assert_allclose(logabs.numpy(), ref.logabsdet, rtol=1e-12)
    assert logabs.dtype == ref.logabsdet.dtype
    np.testing.assert_allclose(
        LA.matrix_power(a, 3).numpy(), np.linalg.matrix_power(a, 3), rtol=1e-10
    )
    np.testing.assert_allclose(
        LA.matrix_power(a, -2).numpy(), np.linalg.matrix_power(a, -2), rtol=1e-10
    )
    np.testing.assert_array_equal(LA.matrix_power(a, 0).numpy(), np.linalg.matrix_power(a, 0))
    p = spd(shape, complex_)
    np.testing.assert_allclose(LA.cholesky(p).numpy(), np.linalg.cholesky(p), rtol=1e-12)
    np.testing.assert_allclose(
        LA.cholesky(p, upper=True).numpy(), np.linalg.cholesky(p, upper=True), rtol=1e-12
    )
    h = sym(shape, complex_)
    w, v = LA.eigh(h)
    ref = np.linalg.eigh(h)
    np.testing.assert_allclose(w.numpy(), ref.eigenvalues, rtol=1e-12)
    np.testing.assert_allclose(v.numpy(), ref.eigenvectors, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(LA.eigvalsh(h).numpy(), np.linalg.eigvalsh(h), rtol=1e-12)
    np.testing.assert_allclose(
        LA.eigh(h, UPLO="U")[0].numpy(), np.linalg.eigh(h, UPLO="U")[0], rtol=1e-12
    )


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 4, 2), (3, 3)])
@pytest.mark.parametrize("complex_", [False, True])
def test_rectangular_functions_match_numpy(shape, complex_):
    a = well(shape, complex_)
    np.testing.assert_allclose(LA.pinv(a).numpy(), np.linalg.pinv(a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        LA.pinv(a, rtol=None).numpy(), np.linalg.pinv(a, rtol=None), rtol=1e-10, atol=1e-12
    )
    for full in (True, False):
        u, s, vh = LA.svd(a, full_matrices=full)
        ref = np.linalg.svd(a, full_matrices=full)
        np.testing.assert_allclose(u.numpy(), ref.U, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(s.numpy(), ref.S, rtol=1e-12)
        np.testing.assert_allclose(vh.numpy(), ref.Vh, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        LA.svd(a, compute_uv=False).numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-12
    )
    np.testing.assert_allclose(LA.svdvals(a).numpy(), np.linalg.svdvals(a), rtol=1e-12)
    for mode in ("reduced", "complete", "r"):
        got = LA.qr(a, mode=mode)
        ref = np.linalg.qr(a, mode=mode)
        if mode == "r":
            np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-12)
        else:
            np.testing.assert_allclose(got.Q.numpy(), ref.Q, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(got.R.numpy(), ref.R, rtol=1e-10, atol=1e-12)


def test_hermitian_svd_follows_numpy():
    h = sym((2, 3, 3))
    for got, ref in zip(LA.svd(h, hermitian=True), np.linalg.svd(h, hermitian=True)):
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        LA.svd(h, compute_uv=False, hermitian=True).numpy(),
        np.linalg.svd(h, compute_uv=False, hermitian=True),
        rtol=1e-12,
    )
    check_grads(lambda x: LA.svd(x + x.mT, hermitian=True)[1], [h], order=2)


@pytest.mark.parametrize("bshape", [(3,), (3, 2), (2, 3, 1)])
def test_solve_and_lstsq_match_numpy(bshape):
    a = well((2, 3, 3)) if len(bshape) == 3 else well((3, 3))
    b = rng.standard_normal(bshape)
    np.testing.assert_allclose(LA.solve(a, b).numpy(), np.linalg.solve(a, b), rtol=1e-12)
    tall = rng.standard_normal((5, 3))
    bb = rng.standard_normal((5,) + bshape[1:2])
    x, res, rank, s = LA.lstsq(tall, bb)
    ref = np.linalg.lstsq(tall, bb)
    np.testing.assert_allclose(x.numpy(), ref[0], rtol=1e-10)
    np.testing.assert_allclose(res.numpy(), ref[1], rtol=1e-10)
    assert rank == ref[2]
    np.testing.assert_allclose(s.numpy(), ref[3], rtol=1e-12)
    wide = rng.standard_normal((2, 4))
    x, res, rank, s = LA.lstsq(wide, rng.standard_normal(2))
    assert res.shape == (0,) and rank == 2


def test_float32_stays_float32():
    a = well((3, 3)).astype(np.float32)
    t = cr.tensor(a, requires_grad=True)
    for out in (LA.inv(t), LA.det(t), LA.solve(t, t), LA.norm(t), LA.svd(t)[1], LA.pinv(t)):
        assert out.dtype == np.float32
    LA.det(t).backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_allclose(t.grad.numpy(), np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-4)


def test_integer_input_is_computed_in_float64():
    assert LA.inv(np.array([[2, 0], [0, 4]])).dtype == np.float64
    assert LA.norm(np.array([3, 4])).item() == 5.0


NORM_CASES = [
    ((4,), None, None),
    ((4,), 1, None),
    ((4,), -1, None),
    ((4,), np.inf, None),
    ((4,), -np.inf, None),
    ((4,), 0, None),
    ((4,), 3, None),
    ((4,), 0.5, None),
    ((4,), -2, None),
    ((3, 4), None, None),
    ((3, 4), "fro", None),
    ((3, 4), "nuc", None),
    ((3, 4), 1, None),
    ((3, 4), -1, None),
    ((3, 4), 2, None),
    ((3, 4), -2, None),
    ((3, 4), np.inf, None),
    ((3, 4), -np.inf, None),
    ((2, 3, 4), None, None),
    ((2, 3, 4), None, 1),
    ((2, 3, 4), 3, -1),
    ((2, 3, 4), "fro", (0, 2)),
    ((2, 3, 4), 1, (2, 0)),
    ((2, 3, 4), np.inf, (1, 2)),
    ((2, 3, 4), -np.inf, (2, 1)),
    ((2, 3, 4), "nuc", (0, 1)),
    ((2, 3, 4), -2, (2, 1)),
    ((2, 3, 4), 2, (1, 0)),
]


@pytest.mark.parametrize("shape, ord, axis", NORM_CASES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_norm_matches_numpy(shape, ord, axis, keepdims):
    x = rng.standard_normal(shape)
    got = LA.norm(x, ord=ord, axis=axis, keepdims=keepdims).numpy()
    ref = np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    z = x + 1j * rng.standard_normal(shape)
    np.testing.assert_allclose(
        LA.norm(z, ord=ord, axis=axis, keepdims=keepdims).numpy(),
        np.linalg.norm(z, ord=ord, axis=axis, keepdims=keepdims),
        rtol=1e-12,
    )


@pytest.mark.parametrize("shape, ord, axis", [c for c in NORM_CASES if c[1] != 0])
def test_norm_gradients(shape, ord, axis):
    x = rng.standard_normal(shape)
    x = np.sign(x) * (np.abs(x) + 0.3)  # off the kinks of |x|
    check_grads(lambda t: LA.norm(t, ord=ord, axis=axis), [x], order=2)


def test_vector_and_matrix_norm_match_numpy():
    x = rng.standard_normal((2, 3, 4))
    for kw in ({}, {"axis": 1}, {"axis": (0, 2), "ord": 1}, {"ord": np.inf, "keepdims": True}):
        np.testing.assert_allclose(
            LA.vector_norm(x, **kw).numpy(), np.linalg.vector_norm(x, **kw), rtol=1e-12
        )
    for ord in ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
        np.testing.assert_allclose(
            LA.matrix_norm(x, ord=ord).numpy(), np.linalg.matrix_norm(x, ord=ord), rtol=1e-12
        )


def test_array_api_names():
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    np.testing.assert_allclose(LA.cross(a, b).numpy(), np.linalg.cross(a, b), rtol=1e-12)
    np.testing.assert_allclose(
        LA.outer(a[0], b[0]).numpy(), np.linalg.outer(a[0], b[0]), rtol=1e-12
    )
    np.testing.assert_allclose(
        LA.tensordot(a, b.T, axes=1).numpy(), np.linalg.tensordot(a, b.T, axes=1), rtol=1e-12
    )


# --------------------------------------------------------------------------- gradients


def test_batched_gradients_with_broadcasting():
    a = well((2, 1, 3, 3))
    b = rng.standard_normal((4, 3, 2))
    check_grads(LA.solve, [a, b], order=2)
    check_grads(lambda x: LA.eigh(x + x.mT)[0], [well((2, 2, 3, 3))], order=2)
    check_grads(lambda x: LA.svd(x, full_matrices=False)[0], [well((2, 4, 2))], order=1)


def test_symmetric_inputs_get_hermitian_gradients():
    a = cr.tensor(spd((3, 3)), requires_grad=True)
    (LA.cholesky(a) * np.arange(9.0).reshape(3, 3)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), a.grad.numpy().T, rtol=1e-12)
    h = cr.tensor(sym((3, 3)), requires_grad=True)
    (LA.eigh(h)[1] ** 2 * np.arange(9.0).reshape(3, 3)).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), h.grad.numpy().T, rtol=1e-10, atol=1e-12)


def _vectors_phase_free(decomposition):
    w, v = decomposition
    return cr.concatenate([cr.reshape(w, -1), cr.reshape(cr.real(v * cr.conj(v)), -1)])


@pytest.mark.parametrize("symmetrize", [True, False])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_hermitian_decompositions_of_any_matrix_have_exact_gradients(symmetrize, uplo):
    # Central differences move every entry, also the ones a triangle-reading LAPACK call
    # ignores: the gradient must be the derivative of what the function computes, not only
    # along Hermitian directions (HIPS autograd's eigh tests use unsymmetric matrices).
    a = well((2, 4, 4))
    check_grads(lambda x: _vectors_phase_free(LA.eigh(x, uplo, symmetrize_input=symmetrize)), [a])
    check_grads(lambda x: LA.eigvalsh(x, uplo, symmetrize_input=symmetrize), [a])
    c = well((3, 3), True)
    check_grads_complex(
        lambda x: _vectors_phase_free(LA.eigh(x, uplo, symmetrize_input=symmetrize)),
        [c],
        order=1,
    )
    check_grads_complex(lambda x: LA.eigvalsh(x, uplo, symmetrize_input=symmetrize), [c])
    p = spd((3, 3)) + 0.3 * rng.standard_normal((3, 3))
    check_grads(lambda x: LA.cholesky(x, symmetrize_input=symmetrize), [p])


def test_symmetrize_input_chooses_between_the_hermitian_part_and_numpys_triangle():
    a = well((3, 3))
    h = (a + a.T) / 2
    w = LA.eigvalsh(a).numpy()
    np.testing.assert_allclose(w, np.linalg.eigvalsh(h), rtol=1e-12)
    np.testing.assert_allclose(LA.eigh(a, "U")[0].numpy(), w, rtol=1e-12)  # UPLO moot
    for uplo in "LU":
        np.testing.assert_allclose(
            LA.eigh(a, uplo, symmetrize_input=False)[0].numpy(),
            np.linalg.eigh(a, UPLO=uplo)[0],
            rtol=1e-12,
        )
    # a Hermitian matrix is decomposed as it is, bit for bit NumPy's result
    s = sym((4, 4), True)
    np.testing.assert_array_equal(LA.eigh(s)[1].numpy(), np.linalg.eigh(s)[1])
    p = spd((3, 3))
    np.testing.assert_array_equal(LA.cholesky(p).numpy(), np.linalg.cholesky(p))
    q = p + np.triu(rng.standard_normal((3, 3)), 1)  # junk above the diagonal
    np.testing.assert_allclose(
        LA.cholesky(q, symmetrize_input=False).numpy(), np.linalg.cholesky(q), rtol=1e-12
    )
    # the triangle-reading gradient lands on the triangle read; the default is Hermitian
    x = cr.tensor(a, requires_grad=True)
    (LA.eigvalsh(x, "L", symmetrize_input=False) * np.arange(1.0, 4.0)).sum().backward()
    assert np.all(np.triu(x.grad.numpy(), 1) == 0) and np.any(np.tril(x.grad.numpy(), -1))
    y = cr.tensor(a, requires_grad=True)
    (LA.eigvalsh(y) * np.arange(1.0, 4.0)).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), y.grad.numpy().T, rtol=1e-12)


def test_complex_gradients_of_phase_invariant_losses():
    a = well((4, 3), True)
    check_grads_complex(lambda x: LA.svdvals(x), [a], order=2)
    check_grads_complex(lambda x: LA.norm(x, "nuc") + LA.norm(x, 2), [a], order=1)
    h = sym((3, 3), True)

    def vectors(x):
        v = LA.eigh(x + cr.conj(x.mT))[1]
        return cr.real(v * cr.conj(v))

    check_grads_complex(vectors, [h], order=1)


def test_third_order_through_inv():
    b, c, d = 0.5, -1.0, 2.0

    def f(t):  # inv([[t, b], [c, d]])[0, 0] = d / (t d - b c)
        m = cr.stack([cr.stack([t, cr.tensor(b)]), cr.stack([cr.tensor(c), cr.tensor(d)])])
        return LA.inv(m)[0, 0]

    t0 = 1.5
    third = cr.grad(cr.grad(cr.grad(f)))(cr.tensor(t0))
    np.testing.assert_allclose(third.item(), -6 * d**4 / (t0 * d - b * c) ** 4, rtol=1e-10)


# --------------------------------------------------------------------------- PyTorch


torch_cases = [
    ("inv", lambda m, x: m.inv(x), lambda m, x: m.linalg.inv(x), "well"),
    ("det", lambda m, x: m.det(x), lambda m, x: m.linalg.det(x), "well"),
    ("slogdet", lambda m, x: m.slogdet(x)[1], lambda m, x: m.linalg.slogdet(x)[1], "well"),
    ("pinv", lambda m, x: m.pinv(x), lambda m, x: m.linalg.pinv(x), "rect"),
    ("cholesky", lambda m, x: m.cholesky(x), lambda m, x: m.linalg.cholesky(x), "spd"),
    ("qr", lambda m, x: m.qr(x)[0], lambda m, x: m.linalg.qr(x)[0], "rect"),
    ("qr-r", lambda m, x: m.qr(x)[1], lambda m, x: m.linalg.qr(x)[1], "rect"),
    ("eigvalsh", lambda m, x: m.eigvalsh(x), lambda m, x: m.linalg.eigvalsh(x), "sym"),
    (
        "eigh-v2",
        lambda m, x: abs(m.eigh(x)[1]) ** 2,
        lambda m, x: m.linalg.eigh(x)[1].abs() ** 2,
        "sym",
    ),
    ("svdvals", lambda m, x: m.svdvals(x), lambda m, x: m.linalg.svdvals(x), "rect"),
    (
        "svd-u2",
        lambda m, x: abs(m.svd(x, full_matrices=False)[0]) ** 2,
        lambda m, x: m.linalg.svd(x, full_matrices=False)[0].abs() ** 2,
        "rect",
    ),
    (
        "svd-uvh",  # U Vh: invariant under the joint phase of u_i and v_i
        lambda m, x: (lambda r: r[0] @ r[2])(m.svd(x, full_matrices=False)),
        lambda m, x: (lambda r: r[0] @ r[2])(m.linalg.svd(x, full_matrices=False)),
        "rect",
    ),
    ("norm-fro", lambda m, x: m.norm(x), lambda m, x: m.linalg.norm(x), "rect"),
    (
        "norm-nuc",
        lambda m, x: m.matrix_norm(x, ord="nuc"),
        lambda m, x: m.linalg.matrix_norm(x, ord="nuc"),
        "rect",
    ),
    (
        "norm-2",
        lambda m, x: m.norm(x, 2, axis=(-2, -1)),
        lambda m, x: m.linalg.norm(x, 2, dim=(-2, -1)),
        "rect",
    ),
    (
        "norm-1",
        lambda m, x: m.norm(x, 1, axis=(-1, -2)),
        lambda m, x: m.linalg.norm(x, 1, dim=(-1, -2)),
        "rect",
    ),
    ("mpow", lambda m, x: m.matrix_power(x, 3), lambda m, x: m.linalg.matrix_power(x, 3), "well"),
]


@pytest.mark.parametrize("name, ours, theirs, kind", torch_cases, ids=[c[0] for c in torch_cases])
@pytest.mark.parametrize("complex_", [False, True])
def test_gradients_match_pytorch(name, ours, theirs, kind, complex_):
    torch = pytest.importorskip("torch")
    shape = (2, 4, 3) if kind == "rect" else (2, 3, 3)
    x = {"well": well, "rect": well, "spd": spd, "sym": sym}[kind](shape, complex_)
    u = rng.standard_normal(np.shape(ours(LA, x).numpy()))
    t = cr.tensor(x, requires_grad=True)
    out = ours(LA, t)
    (cr.real(out) * u).sum().backward()
    tt = torch.tensor(x, requires_grad=True)
    tout = theirs(torch, tt)
    (tout.real * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-8, atol=1e-10)
    ours_g, theirs_g = t.grad.numpy(), tt.grad.numpy()
    if kind in ("spd", "sym"):  # both give the Hermitian gradient's action on Hermitian inputs
        ours_g = (ours_g + np.conj(np.swapaxes(ours_g, -1, -2))) / 2
        theirs_g = (theirs_g + np.conj(np.swapaxes(theirs_g, -1, -2))) / 2
    np.testing.assert_allclose(ours_g, theirs_g, rtol=1e-7, atol=1e-9)


def test_solve_and_lstsq_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    a, b = well((2, 3, 3)), rng.standard_normal((2, 3, 2))
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    (LA.solve(ta, tb) ** 2).sum().backward()
    qa, qb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (torch.linalg.solve(qa, qb) ** 2).sum().backward()
    np.testing.assert_allclose(ta.grad.numpy(), qa.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(tb.grad.numpy(), qb.grad.numpy(), rtol=1e-9)
    m, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    tm, ty = cr.tensor(m, requires_grad=True), cr.tensor(y, requires_grad=True)
    (LA.lstsq(tm, ty)[0] ** 2).sum().backward()
    qm, qy = torch.tensor(m, requires_grad=True), torch.tensor(y, requires_grad=True)
    (torch.linalg.pinv(qm) @ qy).pow(2).sum().backward()
    np.testing.assert_allclose(tm.grad.numpy(), qm.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(ty.grad.numpy(), qy.grad.numpy(), rtol=1e-9)


# --------------------------------------------------------------------------- degenerate cases


def test_inverse_of_a_singular_matrix_raises():
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(np.linalg.LinAlgError, match=r"inv: the matrix is singular.*\(2, 2\)"):
        LA.inv(s)
    with pytest.raises(np.linalg.LinAlgError, match="solve: the matrix a is singular"):
        LA.solve(s, np.ones(2))
    with pytest.raises(np.linalg.LinAlgError, match="cholesky: the matrix is not positive"):
        LA.cholesky(-np.eye(2))


def test_det_gradient_at_singular_matrices_is_the_adjugate():
    # rank n - 1: d det = tr(adj(A) dA), adj non-zero; rank n - 2: the gradient is 0
    s = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    t = cr.tensor(s, requires_grad=True)
    LA.det(t).backward()
    expected = np.empty((3, 3))  # the cofactor matrix: adj(A)^T
    for i in range(3):
        for j in range(3):
            minor = np.delete(np.delete(s, i, 0), j, 1)
            expected[i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    np.testing.assert_allclose(t.grad.numpy(), expected, atol=1e-10)
    check_grads(LA.det, [s], order=1)  # central differences agree there too
    r1 = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0])
    t1 = cr.tensor(r1, requires_grad=True)
    LA.det(t1).backward()
    np.testing.assert_allclose(t1.grad.numpy(), np.zeros((3, 3)), atol=1e-12)


def test_slogdet_gradient_at_a_singular_matrix_raises():
    t = cr.tensor(np.array([[1.0, 2.0], [2.0, 4.0]]), requires_grad=True)
    _, logabs = LA.slogdet(t)
    assert logabs.item() == -np.inf
    with pytest.raises(np.linalg.LinAlgError, match="inv: the matrix is singular"):
        logabs.backward()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_repeated_eigenvalues():
    a = np.diag([1.0, 1.0, 3.0])
    t = cr.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the eigenvalues alone: no warning, finite, exact
        w, _ = LA.eigh(t)
        (w * np.array([1.0, 2.0, 3.0])).sum().backward()
    assert np.all(np.isfinite(t.grad.numpy()))
    # d/dA of sum(c_i w_i) at a diagonal A: each eigenvalue moves with its diagonal entry
    # (the choice for the repeated pair is LAPACK's eigenvector basis)
    np.testing.assert_allclose(np.trace(t.grad.numpy()), 6.0)
    t2 = cr.tensor(a, requires_grad=True)
    with pytest.warns(RuntimeWarning, match="eigh: repeated .*eigenvalues.*does not exist"):
        _, v = LA.eigh(t2)
        (v * np.arange(9.0).reshape(3, 3)).sum().backward()
    assert not np.all(np.isfinite(t2.grad.numpy()))
    t3 = cr.tensor(a, requires_grad=True)
    LA.eigvalsh(t3).sum().backward()  # a symmetric function of the eigenvalues: exact
    np.testing.assert_allclose(t3.grad.numpy(), np.eye(3), atol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_repeated_singular_values():
    a = np.diag([2.0, 2.0, 1.0])[:, :2]  # (3, 2), equal singular values
    t = cr.tensor(a, requires_grad=True)
    LA.svd(t, full_matrices=False)[1].sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), a / 2.0, atol=1e-12)
    t2 = cr.tensor(a, requires_grad=True)
    with pytest.warns(RuntimeWarning, match="svd: repeated .*singular values"):
        u = LA.svd(t2, full_matrices=False)[0]
        (u * np.arange(6.0).reshape(3, 2)).sum().backward()
    assert not np.all(np.isfinite(t2.grad.numpy()))


def test_zero_singular_value_of_a_rectangular_matrix_values_only():
    a = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])  # rank 1, singular values 1 and 0
    t = cr.tensor(a, requires_grad=True)
    LA.svd(t, full_matrices=False)[1].sum().backward()  # S alone: no 1/S anywhere
    assert np.all(np.isfinite(t.grad.numpy()))


def test_norm_at_zero_takes_the_subgradient_zero():
    for ord in (None, 2, 3):  # (p < 1 is not a norm: |x|^p has no derivative at 0)
        t = cr.tensor(np.zeros(3), requires_grad=True)
        LA.norm(t, ord=ord).backward()
        np.testing.assert_array_equal(t.grad.numpy(), np.zeros(3))
    t = cr.tensor(np.zeros((2, 2)), requires_grad=True)
    h = cr.hessian(lambda x: LA.norm(x))(t)
    assert np.all(np.isfinite(h.numpy()))
    t = cr.tensor(np.array([3.0, 0.0, -4.0]), requires_grad=True)
    count = LA.norm(t, ord=0)  # a count of non-zeros: piecewise constant, no gradient
    assert count.item() == 2.0 and not count.requires_grad


def test_full_matrices_extra_columns_get_no_gradient():
    a = well((4, 2))
    t1, t2 = cr.tensor(a, requires_grad=True), cr.tensor(a, requires_grad=True)
    u1, s1, _ = LA.svd(t1, full_matrices=True)
    u2, s2, _ = LA.svd(t2, full_matrices=False)
    (u1[:, :2] ** 2).sum().backward()
    (u2**2).sum().backward()
    np.testing.assert_allclose(t1.grad.numpy(), t2.grad.numpy(), rtol=1e-10)


def test_qr_modes_without_a_gradient_say_so():
    t = cr.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    q, r = LA.qr(t, mode="complete")
    with pytest.raises(NotImplementedError, match="mode='complete' of a tall matrix"):
        q.sum().backward()
    with pytest.raises(ValueError, match="mode='raw'"):
        LA.qr(t, mode="raw")
    h, tau = LA.qr(t.detach(), mode="raw")
    np.testing.assert_allclose(h.numpy(), np.linalg.qr(t.numpy(), mode="raw")[0])
    wide = cr.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    q, r = LA.qr(wide, mode="complete")  # M <= N: complete is reduced, differentiable
    (q.sum() + r.sum()).backward()
    assert wide.grad is not None


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, err, pattern",
    [
        (lambda: LA.inv(np.ones(3)), np.linalg.LinAlgError, r"inv: 1-dimensional .*\(3,\)"),
        (lambda: LA.det(np.ones((2, 3))), np.linalg.LinAlgError, r"det: .*square.*\(2, 3\)"),
        (lambda: LA.solve(np.eye(3), np.ones(2)), ValueError, r"solve: b of shape \(2,\)"),
        (lambda: LA.solve(np.eye(3), np.ones((2, 3))), ValueError, r"stack of \(3, K\)"),
        (lambda: LA.lstsq(np.ones((2, 3, 3)), np.ones(3)), np.linalg.LinAlgError, "2-D"),
        (lambda: LA.norm(np.ones(3), "fro"), ValueError, "invalid norm order 'fro'"),
        (lambda: LA.norm(np.ones((2, 2)), "bad"), ValueError, "for matrices"),
        (lambda: LA.norm(np.ones((2, 2, 2)), ord=1), ValueError, "improper number"),
        (lambda: LA.norm(np.ones((2, 2)), axis=(0, 0)), ValueError, "duplicate axes"),
        (lambda: LA.matrix_power(np.eye(2), 1.5), TypeError, "must be an integer"),
        (lambda: LA.qr(np.eye(2), mode="full"), ValueError, "unrecognized mode"),
        (lambda: LA.eigh(np.eye(2), UPLO="X"), ValueError, "UPLO"),
        (lambda: LA.pinv(np.eye(2), rcond=1e-3, rtol=1e-3), ValueError, "both"),
    ],
)
def test_bad_input_is_named(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


def test_numpy_functions_table():
    assert LA.NUMPY_FUNCTIONS[np.linalg.inv] is LA.inv
    assert LA.NUMPY_FUNCTIONS[np.linalg.norm] is LA.norm
    for fn, ours in LA.NUMPY_FUNCTIONS.items():
        assert fn.__module__.startswith("numpy") and callable(ours)


# --------------------------------------------------------------------------- programs


PROGRAMS = {
    "inv-det": lambda a, b: LA.inv(a).sum() + LA.det(a),
    "slogdet": lambda a, b: LA.slogdet(a)[1],
    "solve": lambda a, b: (LA.solve(a, b) ** 2).sum(),
    "pinv-lstsq": lambda a, b: LA.pinv(b).sum() + LA.lstsq(a, b)[0].sum(),
    "cholesky": lambda a, b: LA.cholesky(a @ a.T).sum(),
    "qr": lambda a, b: (LA.qr(b)[0] ** 2 * np.arange(2.0)).sum() + LA.qr(b)[1].sum(),
    "eigh": lambda a, b: (LA.eigh(a + a.T)[1] ** 2 * np.arange(3.0)).sum(),
    "eigvalsh": lambda a, b: (LA.eigvalsh(a + a.T) * np.arange(3.0)).sum(),
    "svd": lambda a, b: (LA.svd(b, False)[0] ** 2 * np.arange(2.0)).sum(),
    "norms": lambda a, b: LA.norm(b) + LA.norm(a, "nuc") + LA.svdvals(a).max(),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_traced_programs_and_generated_code_match_eager(name):
    from chainrule.ir import trace_program

    f = PROGRAMS[name]
    a, b = well((3, 3)), rng.standard_normal((3, 2))
    prog, _ = trace_program(f, a, b)
    new = [a + 0.05 * rng.standard_normal((3, 3)), b + 0.05]
    np.testing.assert_allclose(prog(*new), f(*[cr.tensor(x) for x in new]).numpy(), rtol=1e-10)
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    f(ta, tb).backward()
    value, grads = cr.trace(f, a, b).compile_flat()(a, b)
    np.testing.assert_allclose(value, f(cr.tensor(a), cr.tensor(b)).numpy(), rtol=1e-10)
    for got, t in zip(grads, (ta, tb)):
        want = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(np.broadcast_to(got, t.shape), want, rtol=1e-8, atol=1e-12)
