"""cr.linalg.eig and eigvals (general matrices): NumPy's values (always complex), gradients
against central differences and PyTorch, a known answer (V diag(w) V^-1 is the identity
map), repeated eigenvalues, traced programs and generated code."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from checker import check_grads, check_grads_complex

LA = cr.linalg
rng = np.random.default_rng(3)


def general(shape, complex_=False):
    x = rng.standard_normal(shape)
    if complex_:
        x = x + 1j * rng.standard_normal(shape)
    return x


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
@pytest.mark.parametrize("complex_", [False, True])
def test_values_match_numpy(shape, complex_):
    a = general(shape, complex_)
    w, v = LA.eig(a)
    rw, rv = np.linalg.eig(a)
    assert w.dtype.kind == "c" and v.dtype.kind == "c"
    np.testing.assert_allclose(w.numpy(), rw, rtol=1e-12)
    np.testing.assert_allclose(v.numpy(), rv, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(LA.eigvals(a).numpy(), np.linalg.eigvals(a), rtol=1e-12)
    a32 = a.astype(np.complex64 if complex_ else np.float32)
    assert LA.eig(a32)[0].dtype == np.complex64 == LA.eigvals(a32).dtype


def test_reconstruction_is_the_identity_map():
    # f(A) = V diag(w) V^-1 = A for every diagonalizable A: its gradient is the cotangent
    # itself, whatever LAPACK's phases; a wrong eigenvector rule would break this.
    for complex_ in (False, True):
        a = general((3, 3), complex_)
        t = cr.tensor(a, requires_grad=True)
        w, v = LA.eig(t)
        rec = (v * w[..., None, :]) @ LA.inv(v)
        u = general((3, 3), complex_)
        (cr.real(rec * cr.conj(cr.tensor(u)))).sum().backward()
        np.testing.assert_allclose(rec.numpy(), a, atol=1e-12)
        np.testing.assert_allclose(t.grad.numpy(), u, rtol=1e-9, atol=1e-12)


def test_gradients_of_real_and_complex_matrices():
    def values(x):
        w = LA.eigvals(x)
        return cr.real(w * w) + cr.imag(w)

    def vectors(x):
        v = LA.eig(x)[1]
        return cr.real(v * cr.conj(v))

    a = general((2, 3, 3))
    check_grads(values, [a], order=2)
    check_grads(vectors, [a], order=2)
    check_grads(lambda x: cr.real(LA.eig(x)[0] * 1j), [a], order=2)
    c = general((3, 3), True)
    check_grads_complex(lambda x: LA.eigvals(x) ** 2, [c], order=2)
    check_grads_complex(vectors, [c], order=2)


@pytest.mark.parametrize("complex_", [False, True])
def test_gradients_match_pytorch(complex_):
    torch = pytest.importorskip("torch")
    a = general((2, 3, 3), complex_)
    uw, uv = rng.standard_normal((2, 3)), rng.standard_normal((2, 3, 3))

    def loss(m, w, v, real, conj):
        return (real(w) * m(uw) + real(w * w * 1j) + real(v * conj(v)).sum(-2) * m(uw)).sum() + (
            real(v * conj(v)) * m(uv)
        ).sum()

    t = cr.tensor(a, requires_grad=True)
    w, v = LA.eig(t)
    loss(cr.tensor, w, v, cr.real, cr.conj).backward()
    q = torch.tensor(a, requires_grad=True)
    qw, qv = torch.linalg.eig(q)
    loss(torch.tensor, qw, qv, torch.real, torch.conj).backward()
    np.testing.assert_allclose(t.grad.numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-10)

    t = cr.tensor(a, requires_grad=True)
    cr.real(LA.eigvals(t) * cr.tensor(uw + 0.5j)).sum().backward()
    q = torch.tensor(a, requires_grad=True)
    torch.real(torch.linalg.eigvals(q) * torch.tensor(uw + 0.5j)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_repeated_eigenvalues():
    s = general((3, 3)) + 3 * np.eye(3)
    a = s @ np.diag([2.0, 2.0, 5.0]) @ np.linalg.inv(s)  # diagonalizable, 2 twice
    # the values alone are fine (the symmetric function tr = sum of eigenvalues)
    t = cr.tensor(a, requires_grad=True)
    cr.real(LA.eigvals(t)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), np.eye(3), atol=1e-12)
    # the vectors have no derivative there
    t = cr.tensor(a, requires_grad=True)
    v = LA.eig(t)[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (cr.real(v * cr.conj(v)) * np.arange(9.0).reshape(3, 3)).sum().backward()
    assert any("repeated" in str(w.message) for w in caught)
    # (rounding leaves the two equal eigenvalues a hair apart: huge values, or inf)
    assert not np.all(np.abs(t.grad.numpy()) < 1e10)


def test_bad_input_is_named():
    with pytest.raises(np.linalg.LinAlgError, match="eig: the last two dimensions"):
        LA.eig(np.ones((2, 3)))
    with pytest.raises(np.linalg.LinAlgError, match="eigvals: 1-dimensional"):
        LA.eigvals(np.ones(3))


def test_traced_program_and_generated_code_match_eager():
    from chainrule.ir import trace_program

    def f(a):
        w, v = LA.eig(a)
        return cr.real(w).sum() + cr.real(v * cr.conj(v))[0].sum() + cr.imag(LA.eigvals(a)).sum()

    a = general((3, 3))
    prog, _ = trace_program(f, a)
    new = a + 0.05 * rng.standard_normal((3, 3))
    np.testing.assert_allclose(prog(new), f(cr.tensor(new)).numpy(), rtol=1e-10)
    t = cr.tensor(a, requires_grad=True)
    f(t).backward()
    value, grads = cr.trace(f, a).compile_flat()(a)
    np.testing.assert_allclose(value, f(cr.tensor(a)).numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads[0], t.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_numpy_functions_table():
    assert LA.NUMPY_FUNCTIONS[np.linalg.eig] is LA.eig
    assert LA.NUMPY_FUNCTIONS[np.linalg.eigvals] is LA.eigvals


def _complex(shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@pytest.mark.parametrize(
    "name, loss, make",
    [
        ("eig", lambda x: cr.real(LA.eig(x)[1]).sum(), lambda: _complex((3, 3))),
        ("eig", lambda x: cr.imag(LA.eig(x)[1][..., 0, :]).sum(), lambda: _complex((2, 3, 3))),
        ("eigh", lambda x: cr.real(LA.eigh(x)[1]).sum(), lambda: _complex((3, 3))),
        (
            "svd",
            lambda x: cr.real(LA.svd(x, full_matrices=False)[0]).sum(),
            lambda: _complex((4, 3)),
        ),
        ("svd", lambda x: cr.imag(LA.svd(x)[2]).sum(), lambda: _complex((3, 3))),
    ],
)
def test_a_loss_that_depends_on_the_vectors_phases_has_no_gradient(name, loss, make):
    # each complex eigenvector / singular pair is defined only up to e^(i phi): a loss that
    # changes with it has no derivative, and backward raises (as PyTorch's does) instead of
    # returning the gradient of LAPACK's arbitrary phase choice; also traced and vmapped
    a = make()
    with pytest.raises(ValueError, match=rf"{name}: the loss depends on the phases"):
        cr.grad(loss)(a)
    with pytest.raises(ValueError, match="phases"):
        cr.jit(cr.grad(loss))(a)
    with pytest.raises(ValueError, match="phases"):
        cr.vmap(cr.grad(loss))(np.stack([a, a]))


def test_phase_invariant_losses_pass_the_check_at_first_and_second_order():
    a = _complex((3, 3))

    def svd_loss(x):
        u, s, vh = LA.svd(x, full_matrices=False)
        return cr.real(u @ vh).sum() + s.sum()  # u_i, v_i rotate together: invariant

    def eig_loss(x):
        w, v = LA.eig(x)
        return (cr.abs(v) ** 2 * cr.real(w)).sum()

    def eigh_loss(x):
        v = LA.eigh(x + cr.conj(x.mT))[1]
        return cr.real(v * cr.conj(v))[0].sum()

    for loss in (svd_loss, eig_loss, eigh_loss):
        check_grads_complex(loss, [a], order=2)
    # a real matrix with real eigenvalues: real eigenvectors, real(v) is invariant to first
    # order under v -> e^(i phi) v
    s = rng.standard_normal((3, 3))
    s = s + s.T
    assert np.all(np.isfinite(cr.grad(lambda x: cr.real(LA.eig(x)[1]).sum())(s).numpy()))
