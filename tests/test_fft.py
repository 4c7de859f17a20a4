"""cr.fft (also chainrule.numpy.fft and NumPy's np.fft on Tensors): the gradient rows are in
tests/ops_table.py (reverse, forward and second order against central differences, float32,
NumPy's values and dtypes, dispatch, traced and jitted programs). Here: the real
transforms' adjoints against dense matrices, PyTorch's torch.fft gradients (both modes and
second order, skipped without torch), errors, dispatch, lazy import, vmap and jit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.fft as crfft
import chainrule.numpy as cnp
from ops_table import NUMPY_ROWS

F = cr.fft
NORMS = [None, "backward", "ortho", "forward"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


# --------------------------------------------------------------------------- the namespace


def test_one_module_three_names():
    assert cr.fft is crfft
    assert cnp.fft is crfft
    assert "fft" in dir(cr) and "fft" in dir(cnp)


def test_every_function_has_gradient_rows():
    rows = {r.label.split("-")[0] for r in NUMPY_ROWS}
    for name in crfft.__all__:
        if name in ("NUMPY_FUNCTIONS", "fftfreq", "rfftfreq"):
            continue
        assert f"cnp.fft.{name}" in rows, f"chainrule.fft.{name} has no row in tests/ops_table.py"


def test_import_chainrule_does_not_import_fft():
    code = (
        "import sys, chainrule, chainrule.numpy\n"
        "print('chainrule.fft' in sys.modules, 'chainrule.rules_fft' in sys.modules, "
        "'numpy.fft' in sys.modules)\n"
        "import chainrule as cr; cr.fft.fft\n"
        "print('chainrule.fft' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = out.stdout.split("\n")[:2]
    assert before.split()[:2] == ["False", "False"], out.stdout
    assert after == "True"


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("n", [3, 4, 5, 8])
def test_values_match_numpy_with_n_and_axes(n):
    rng = _rng(1)
    x = rng.standard_normal((4, 6))
    z = _cplx(rng, (4, 6))
    pairs = [
        (F.fft(z, n=n, axis=0), np.fft.fft(z, n=n, axis=0)),
        (F.ifft(x, n=n), np.fft.ifft(x, n=n)),
        (F.rfft(x, n=n, axis=0), np.fft.rfft(x, n=n, axis=0)),
        (F.irfft(z, n=n), np.fft.irfft(z, n=n)),
        (F.hfft(z, n=n, axis=0), np.fft.hfft(z, n=n, axis=0)),
        (F.ihfft(x, n=n), np.fft.ihfft(x, n=n)),
        (F.fftn(z, s=(n, 3), axes=(1, 0)), np.fft.fftn(z, s=(n, 3), axes=(1, 0))),
        (F.rfftn(x, s=(2, n), axes=(0, 1)), np.fft.rfftn(x, s=(2, n), axes=(0, 1))),
        (F.irfftn(z, s=(3, n), axes=(0, 1)), np.fft.irfftn(z, s=(3, n), axes=(0, 1))),
        (F.fftn(z, s=(n, 2), axes=(0, 0)), np.fft.fftn(z, s=(n, 2), axes=(0, 0))),
    ]
    for ours, theirs in pairs:
        assert isinstance(ours, cr.Tensor)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-12, atol=1e-12)


def test_empty_axes_transform_nothing_as_numpy():
    x = cr.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(F.fftn(x, axes=()).numpy(), np.fft.fftn(x.numpy(), axes=()))


def test_shifts_and_frequencies_match_numpy():
    x = np.arange(15.0).reshape(3, 5)
    for axes in (None, 0, 1, (0, 1), (1, 1)):
        np.testing.assert_array_equal(F.fftshift(x, axes).numpy(), np.fft.fftshift(x, axes))
        np.testing.assert_array_equal(F.ifftshift(x, axes).numpy(), np.fft.ifftshift(x, axes))
    for n in (1, 4, 7):
        for d in (1.0, 0.25):
            np.testing.assert_array_equal(F.fftfreq(n, d), np.fft.fftfreq(n, d))
            np.testing.assert_array_equal(F.rfftfreq(n, d), np.fft.rfftfreq(n, d))
    assert isinstance(F.fftfreq(4), np.ndarray)


def test_fftfreq_is_differentiable_in_a_tensor_spacing():
    d = cr.tensor(0.5, requires_grad=True)
    F.fftfreq(4, d).sum().backward()  # sum(k) / (n d) with sum(k) = -2: gradient 2 / (n d^2)
    np.testing.assert_allclose(d.grad.numpy(), 2.0)


def test_out_writes_into_a_tensor():
    out = cr.zeros(4, dtype=np.complex128)
    result = F.fft(cr.tensor([1.0, 2.0, 3.0, 4.0]), out=out)
    assert result is out
    np.testing.assert_allclose(out.numpy(), np.fft.fft([1.0, 2.0, 3.0, 4.0]))


# --------------------------------------------------------------------------- the real adjoints
# The gradient of L = sum(Re(conj(u) * y)) is A^H u for a complex-linear y = A x and
# Re(A^H u) for a real x. The DFT matrices are built densely here, independently of the
# rules (no FFT, no Hermitian weights).


def _rfft_matrix(length, n):
    # rfft with n points of a length-`length` signal: crop/pad to n, DFT, keep n // 2 + 1
    pad = np.eye(n, length)  # crop or zero-pad
    k = np.arange(n // 2 + 1)[:, None]
    j = np.arange(n)
    return np.exp(-2j * np.pi * k * j / n) @ pad


@pytest.mark.parametrize("length, n", [(5, 5), (6, 6), (5, 3), (6, 4), (5, 8), (6, 9), (1, 1)])
def test_rfft_gradient_is_the_dense_adjoint(length, n):
    rng = _rng(2)
    x = rng.standard_normal(length)
    A = _rfft_matrix(length, n)
    np.testing.assert_allclose(F.rfft(x, n=n).numpy(), A @ x, atol=1e-12)
    u = _cplx(rng, n // 2 + 1)
    xt = cr.tensor(x, requires_grad=True)
    cr.real(F.rfft(xt, n=n) * cr.conj(cr.tensor(u))).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), np.real(A.conj().T @ u), atol=1e-12)


def _irfft_matrix(m, n):
    # irfft(h, n) as a real-linear map of (Re h, Im h): column by column from basis vectors
    # (NumPy's irfft itself, one unit vector at a time: the definition being differentiated)
    cols_re, cols_im = [], []
    for i in range(m):
        e = np.zeros(m, dtype=complex)
        e[i] = 1.0
        cols_re.append(np.fft.irfft(e, n=n))
        e[i] = 1j
        cols_im.append(np.fft.irfft(e, n=n))
    return np.array(cols_re).T, np.array(cols_im).T


@pytest.mark.parametrize("m, n", [(3, 4), (3, 5), (4, 6), (4, 7), (3, 2), (3, 9), (4, 3), (2, 1)])
def test_irfft_gradient_is_the_dense_adjoint(m, n):
    # y = R a + I b for h = a + i b; the gradient of sum(u * y) is R^T u + i I^T u. The
    # zero and (even n) Nyquist bins' imaginary parts do not reach y: their gradient is 0.
    rng = _rng(3)
    h = _cplx(rng, m)
    re_cols, im_cols = _irfft_matrix(m, n)
    np.testing.assert_allclose(
        F.irfft(h, n=n).numpy(), re_cols @ h.real + im_cols @ h.imag, atol=1e-12
    )
    u = rng.standard_normal(n)
    ht = cr.tensor(h, requires_grad=True)
    (F.irfft(ht, n=n) * cr.tensor(u)).sum().backward()
    np.testing.assert_allclose(ht.grad.numpy(), re_cols.T @ u + 1j * (im_cols.T @ u), atol=1e-12)
    assert ht.grad.numpy()[0].imag == 0
    if n % 2 == 0 and n // 2 < m:
        assert ht.grad.numpy()[n // 2].imag == pytest.approx(0, abs=1e-15)


def test_irfftn_gradient_is_the_dense_adjoint_over_two_axes():
    # in 2-D the zero-frequency column's imaginary parts do reach the output (through the
    # complex transform along the first axis): only the true self-conjugate bins drop out
    rng = _rng(4)
    shape, s = (3, 3), (3, 5)
    h = _cplx(rng, shape)
    u = rng.standard_normal(s)
    grad = np.zeros(shape, dtype=complex)
    for idx in np.ndindex(*shape):
        e = np.zeros(shape, dtype=complex)
        e[idx] = 1.0
        grad[idx] += np.sum(u * np.fft.irfftn(e, s=s, axes=(0, 1)))
        e[idx] = 1j
        grad[idx] += 1j * np.sum(u * np.fft.irfftn(e, s=s, axes=(0, 1)))
    ht = cr.tensor(h, requires_grad=True)
    (F.irfftn(ht, s=s, axes=(0, 1)) * cr.tensor(u)).sum().backward()
    np.testing.assert_allclose(ht.grad.numpy(), grad, atol=1e-12)
    assert np.any(np.abs(grad[1:, 0].imag) > 1e-3)


def test_the_checker_sees_a_wrong_hermitian_weighting(monkeypatch):
    # the classic bug: treating the last bin of an odd-length half spectrum as a Nyquist bin
    from chainrule import rules_fft
    from checker import check_grads_complex

    right = rules_fft.hermitian_weights

    def wrong(n, axis, ndim, dtype):
        c = right(n, axis, ndim, dtype).copy()
        c.reshape(-1)[-1] = 1.0
        return c

    monkeypatch.setattr(rules_fft, "hermitian_weights", wrong)
    h = _cplx(_rng(5), (2, 3))
    with pytest.raises(AssertionError, match="reverse mode"):
        check_grads_complex(lambda z: F.irfft(z, n=5), [h], order=1, label="irfft")
    x = _rng(6).standard_normal((2, 5))
    with pytest.raises(AssertionError, match="reverse mode"):
        check_grads_complex(lambda v: F.rfft(v), [x], order=1, label="rfft")


# --------------------------------------------------------------------------- PyTorch


def _torch():
    return pytest.importorskip("torch")


def _loss_weights(rng, y):
    u = rng.standard_normal(y.shape)
    if y.dtype.kind == "c":
        u = u + 1j * rng.standard_normal(y.shape)
    return u


def _compare_with_torch(ours, theirs, x, seed=0):
    """Values, the gradient of sum(Re(conj(u) f(x))) and the forward-mode tangent along v,
    chainrule against torch.fft (PyTorch's conjugate convention, which chainrule shares)."""
    torch = _torch()
    rng = _rng(seed)
    xc = cr.tensor(x, requires_grad=True)
    y = ours(xc)
    u = _loss_weights(rng, y)
    cr.real(y * cr.conj(cr.tensor(u))).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().resolve_conj().numpy(), atol=1e-10)
    (yt * torch.conj(torch.tensor(u))).real.sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.resolve_conj().numpy(), atol=1e-10)
    v = rng.standard_normal(x.shape) + (
        1j * rng.standard_normal(x.shape) if np.iscomplexobj(x) else 0
    )
    _, tangent = cr.jvp(ours, (x,), (v,))
    _, tangent_t = torch.func.jvp(theirs, (torch.tensor(x),), (torch.tensor(v),))
    np.testing.assert_allclose(tangent.numpy(), tangent_t.resolve_conj().numpy(), atol=1e-10)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("length", [5, 6])
@pytest.mark.parametrize("n", [None, "smaller", "larger"])
def test_one_axis_transforms_match_torch(norm, length, n):
    torch = _torch()
    n = {None: None, "smaller": length - 2, "larger": length + 3}[n]
    rng = _rng(length)
    x = rng.standard_normal((3, length))
    z = _cplx(rng, (3, length))
    for inp in (x, z):
        _compare_with_torch(
            lambda t: F.fft(t, n=n, norm=norm), lambda t: torch.fft.fft(t, n=n, norm=norm), inp
        )
        _compare_with_torch(
            lambda t: F.ifft(t, n=n, axis=0, norm=norm),
            lambda t: torch.fft.ifft(t, n=n, dim=0, norm=norm),
            inp.T.copy(),
        )
        # irfft of a complex half spectrum (Hermitian or not) and of real input
        _compare_with_torch(
            lambda t: F.irfft(t, n=n, norm=norm), lambda t: torch.fft.irfft(t, n=n, norm=norm), inp
        )
    _compare_with_torch(
        lambda t: F.rfft(t, n=n, norm=norm), lambda t: torch.fft.rfft(t, n=n, norm=norm), x
    )


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("s", [None, (4, 5), (3, 6), (2, 7)])
def test_several_axis_transforms_match_torch(norm, s):
    torch = _torch()
    rng = _rng(11)
    for last in (5, 6):
        x = rng.standard_normal((3, 2, last))
        z = _cplx(rng, (3, 2, last))
        _compare_with_torch(
            lambda t: F.fft2(t, s=s, axes=(0, 2), norm=norm),
            lambda t: torch.fft.fft2(t, s=s, dim=(0, 2), norm=norm),
            z,
        )
        _compare_with_torch(
            lambda t: F.fft2(t, s=s, norm=norm),
            lambda t: torch.fft.fft2(t, s=s, norm=norm),
            x,
        )
        _compare_with_torch(
            lambda t: F.rfftn(t, s=s, axes=(0, 2), norm=norm),
            lambda t: torch.fft.rfftn(t, s=s, dim=(0, 2), norm=norm),
            x,
        )
        _compare_with_torch(
            lambda t: F.irfftn(t, s=s, axes=(0, 2), norm=norm),
            lambda t: torch.fft.irfftn(t, s=s, dim=(0, 2), norm=norm),
            z,
        )


@pytest.mark.parametrize("length", [5, 6])
def test_second_order_matches_torch(length):
    # a Hessian-vector product through rfft, irfft and fft of a nonlinear loss
    torch = _torch()
    rng = _rng(20 + length)
    x = rng.standard_normal(length)
    v = rng.standard_normal(length)

    def ours(t):
        spec = F.rfft(t * t, n=length + 1, norm="ortho")
        back = F.irfft(spec * spec, n=length)
        return (cr.abs(F.fft(back)) ** 2).sum() + (back**3).sum()

    def theirs(t):
        spec = torch.fft.rfft(t * t, n=length + 1, norm="ortho")
        back = torch.fft.irfft(spec * spec, n=length)
        return (torch.abs(torch.fft.fft(back)) ** 2).sum() + (back**3).sum()

    _, hv = cr.hvp(ours, (x,), (v,))
    xt = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad(theirs(xt), xt, create_graph=True)
    (hv_t,) = torch.autograd.grad(g, xt, torch.tensor(v))
    np.testing.assert_allclose(hv.numpy(), hv_t.numpy(), rtol=1e-9)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda x: F.fft(x, norm="bad"), ValueError, ["fft", "norm", "'bad'"]),
        (lambda x: F.rfft2(x, norm="Ortho"), ValueError, ["rfft2", "norm"]),
        (lambda x: F.irfftn(x, norm=1), ValueError, ["irfftn", "norm"]),
        (lambda x: F.fft(x, axis=2), np.exceptions.AxisError, ["fft", "axis=2", "(3, 4)"]),
        (lambda x: F.ifft(x, axis=-3), np.exceptions.AxisError, ["ifft", "axis=-3"]),
        (lambda x: F.fftn(x, axes=(0, 5)), np.exceptions.AxisError, ["fftn", "axes=5"]),
        (lambda x: F.fft2(x[0]), np.exceptions.AxisError, ["fft2", "axes=-2", "(4,)"]),
        (lambda x: F.fftshift(x, axes=3), np.exceptions.AxisError, ["fftshift", "axes=3"]),
        (lambda x: F.fft(x, n=0), ValueError, ["fft", "n=0"]),
        (lambda x: F.rfft(x, n=-2), ValueError, ["rfft", "n=-2"]),
        (lambda x: F.irfft(x[:, :1]), ValueError, ["irfft", "n=0"]),
        (lambda x: F.hfft(x, n=2.5), TypeError, ["hfft", "n", "2.5"]),
        (lambda x: F.fftn(x, s=(0, 3), axes=(0, 1)), ValueError, ["fftn", "s=0"]),
        (lambda x: F.rfftn(x, s=(2,), axes=(0, 1)), ValueError, ["rfftn", "s and axes"]),
        (lambda x: F.fftn(x, axes=1), TypeError, ["fftn", "axes"]),
        (lambda x: F.rfft(x + 1j), TypeError, ["rfft", "real", "complex128"]),
        (lambda x: F.ihfft(x * 1j), TypeError, ["ihfft", "real"]),
        (lambda x: F.rfftn(x, axes=()), ValueError, ["rfftn", "axes"]),
        (lambda x: F.fft(x.sum()), np.exceptions.AxisError, ["fft", "shape ()"]),
        (lambda x: F.fftfreq(0), ValueError, ["fftfreq", "n=0"]),
        (lambda x: F.rfftfreq(3.0), TypeError, ["rfftfreq", "n"]),
        (lambda x: np.fft.fft(x, norm="bad"), ValueError, ["fft", "norm"]),
        (lambda x: np.fft.rfftn(x, axes=(0, 2)), np.exceptions.AxisError, ["rfftn", "axes=2"]),
    ],
)
def test_bad_input_names_the_function_and_the_argument(call, error, words):
    x = cr.tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(error) as info:
        call(x)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_s_without_axes_warns_as_numpy_2_does():
    if int(np.__version__.split(".")[0]) < 2:
        pytest.skip("NumPy 1.x does not deprecate it")
    with pytest.warns(DeprecationWarning, match="axes"):
        F.fftn(cr.ones((2, 3)), s=(2, 3))


# --------------------------------------------------------------------------- NumPy's functions


@pytest.mark.parametrize("name", sorted(n for n in crfft.__all__ if n != "NUMPY_FUNCTIONS"))
def test_numpys_fft_functions_on_tensors_record(name):
    if name in ("fftfreq", "rfftfreq"):
        assert getattr(np.fft, name)(4).shape  # plain NumPy functions of an integer
        return
    x = cr.tensor(_rng(7).standard_normal((4, 6)), requires_grad=True)
    if name in ("irfft", "hfft", "irfft2", "irfftn"):
        x = cr.tensor(_cplx(_rng(7), (4, 6)), requires_grad=True)
    ours = getattr(F, name)(x)
    via_numpy = getattr(np.fft, name)(x)
    assert isinstance(via_numpy, cr.Tensor) and via_numpy.requires_grad
    np.testing.assert_array_equal(via_numpy.numpy(), ours.numpy())
    np.testing.assert_allclose(via_numpy.numpy(), getattr(np.fft, name)(x.numpy()), atol=1e-12)
    cr.real(via_numpy).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


# --------------------------------------------------------------------------- transforms


def _spectral_loss(x):
    spec = F.rfft2(x, s=(3, 5), norm="ortho")
    smooth = F.irfft(F.fft(x) * F.fftshift(cr.tensor(np.hanning(6))), n=7)
    return (cr.abs(spec) ** 2).sum() + (smooth**2).sum() + cr.real(F.ifftn(x, axes=(0,))).sum()


def test_vmap_of_grad_equals_a_loop():
    X = _rng(8).standard_normal((4, 3, 6))
    batched = cr.vmap(cr.grad(_spectral_loss))(X).numpy()
    looped = np.stack([cr.grad(_spectral_loss)(x).numpy() for x in X])
    np.testing.assert_allclose(batched, looped, rtol=1e-12, atol=1e-12)


def test_jit_of_grad_equals_eager_at_new_inputs():
    rng = _rng(9)
    compiled = cr.jit(cr.grad(_spectral_loss))
    for _ in range(2):
        x = rng.standard_normal((3, 6))
        np.testing.assert_allclose(
            compiled(x).numpy(), cr.grad(_spectral_loss)(x).numpy(), rtol=1e-12, atol=1e-12
        )
    assert "np.fft.rfftn" in compiled.source(x)


def test_hessian_is_symmetric_and_matches_forward_over_reverse():
    x = _rng(10).standard_normal((2, 6))
    H = cr.hessian(_spectral_loss)(x).numpy().reshape(12, 12)
    np.testing.assert_allclose(H, H.T, atol=1e-10)
    J = cr.jacobian(cr.grad(_spectral_loss), mode="fwd")(x).numpy().reshape(12, 12)
    np.testing.assert_allclose(H, J, atol=1e-10)


def test_float32_stays_float32():
    x = cr.tensor(_rng(11).standard_normal((2, 6)).astype(np.float32), requires_grad=True)
    y = F.rfft(x, n=5)
    assert y.dtype == np.complex64
    (cr.abs(y) ** 2).sum().backward()
    assert x.grad.dtype == np.float32
    z = cr.tensor(_cplx(_rng(12), (2, 4)).astype(np.complex64), requires_grad=True)
    w = F.irfft(z, n=7)
    assert w.dtype == np.float32
    (w**2).sum().backward()
    assert z.grad.dtype == np.complex64


# --------------------------------------------------------------------------- the README


def _readme_blocks() -> list[str]:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Fourier transforms\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README has no '## Fourier transforms' section"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


def test_the_readme_section_runs_and_prints_its_comments(capsys):
    blocks = _readme_blocks()
    assert blocks
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
        printed = capsys.readouterr().out.splitlines()
        promised = [
            line.split("#", 1)[1].strip()
            for line in code.splitlines()
            if line.startswith("print(") and "#" in line
        ]
        assert printed == promised
