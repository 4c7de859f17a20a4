"""cr.linalg's composed functions (matmul, matrix_transpose, vecdot, diagonal, trace,
multi_dot, cond, matrix_rank, tensorinv, tensorsolve): NumPy's values, gradients against
central differences to order 2 (complex too), PyTorch where it has the function, errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from checker import check_grads, check_grads_complex

LA = cr.linalg
rng = np.random.default_rng(7)


def well(shape, complex_=False):
    x = rng.standard_normal(shape)
    if complex_:
        x = x + 1j * rng.standard_normal(shape)
    if len(shape) >= 2 and shape[-1] == shape[-2]:
        x = x + shape[-1] * np.eye(shape[-1])
    return x


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("complex_", [False, True])
def test_values_match_numpy(complex_):
    a, b = well((2, 3, 4), complex_), well((4, 3), complex_)
    close = np.testing.assert_allclose
    close(LA.matmul(a, b).numpy(), np.linalg.matmul(a, b), rtol=1e-12)
    close(LA.matrix_transpose(a).numpy(), np.linalg.matrix_transpose(a))
    for offset in (-2, -1, 0, 1, 3, 5):
        close(LA.diagonal(a, offset=offset).numpy(), np.linalg.diagonal(a, offset=offset))
        close(LA.trace(a, offset=offset).numpy(), np.linalg.trace(a, offset=offset), rtol=1e-12)
    close(LA.vecdot(a, b.T).numpy(), np.linalg.vecdot(a, b.T), rtol=1e-12)
    close(LA.vecdot(a, a[0], axis=-2).numpy(), np.linalg.vecdot(a, a[0], axis=-2), rtol=1e-12)
    close(LA.vecdot(a, a[:1, :, :1], axis=1).numpy(), np.linalg.vecdot(a, a[:1, :, :1], axis=1))
    chain = [well((5,), complex_), well((5, 8), complex_), well((8, 2), complex_)]
    chain += [well((2, 6), complex_), well((6,), complex_)]
    for k in range(2, len(chain) + 1):
        for part in (chain[:k], chain[-k:]):
            close(LA.multi_dot(part).numpy(), np.linalg.multi_dot(part), rtol=1e-10)
    sq = well((2, 3, 3), complex_)
    for p in (None, 2, -2, "fro", "nuc", 1, -1, np.inf, -np.inf):
        close(LA.cond(sq, p).numpy(), np.linalg.cond(sq, p), rtol=1e-10)
    t = well((6, 2, 3), complex_)
    close(LA.tensorinv(t, ind=1).numpy(), np.linalg.tensorinv(t, ind=1), rtol=1e-10)
    t4 = well((2, 3, 6), complex_) + np.eye(6).reshape(2, 3, 6) * 4
    y = well((2, 3), complex_)
    close(LA.tensorsolve(t4, y).numpy(), np.linalg.tensorsolve(t4, y), rtol=1e-10)
    t5 = np.moveaxis(t4, 2, 0)
    close(
        LA.tensorsolve(t5, y, axes=(0,)).numpy(),
        np.linalg.tensorsolve(t5, y, axes=(0,)),
        rtol=1e-10,
    )


def test_multi_dot_takes_the_cheapest_order():
    # (10x100)(100x5)(5x50): (AB)C costs 7500 products, A(BC) 75000.
    a, b, c = (cr.tensor(rng.standard_normal(s)) for s in [(10, 100), (100, 5), (5, 50)])
    from chainrule.ir import trace_program

    def first_product(f):
        prog, _ = trace_program(f, a, b, c)
        text = str(prog).splitlines()
        inputs = text[0][len("program(") : -2].split(", ")
        names = {v: n for v, n in zip(inputs, "abc")}
        for line in text[1:]:
            out, _, rhs = line.strip().partition(" = ")
            if rhs.startswith("transpose("):
                names[out] = names[rhs[len("transpose(") :].split(",")[0]] + "T"
            elif rhs.startswith("matmul("):
                return tuple(names[v] for v in rhs[len("matmul(") : -1].split(", "))

    assert first_product(lambda x, y, z: LA.multi_dot([x, y, z])) == ("a", "b")
    assert first_product(lambda x, y, z: LA.multi_dot([z.T, y.T, x.T])) == ("bT", "aT")


def test_matrix_rank_is_an_integer_without_gradient():
    x = cr.tensor([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)
    r = LA.matrix_rank(x)
    assert r.item() == 1 and r.dtype.kind == "i" and not r.requires_grad
    stack = well((3, 4, 4))
    stack[1, :, 0] = stack[1, :, 1]
    np.testing.assert_array_equal(LA.matrix_rank(stack).numpy(), np.linalg.matrix_rank(stack))
    np.testing.assert_array_equal(
        LA.matrix_rank(stack, rtol=0.5).numpy(), np.linalg.matrix_rank(stack, rtol=0.5)
    )


def test_cond_of_a_singular_matrix_is_inf():
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    for p in ("fro", 1, np.inf):
        assert LA.cond(s, p).item() == np.inf == np.linalg.cond(s, p)
    with pytest.raises(np.linalg.LinAlgError, match="cond: a stack"):
        LA.cond(np.stack([s, np.eye(2)]), 1)


# --------------------------------------------------------------------------- gradients


GRADS = {
    "matrix_transpose": (lambda a: LA.matrix_transpose(a) * 2.0, [(2, 3, 4)]),
    "vecdot": (lambda a, b: LA.vecdot(a, b), [(2, 3, 4), (3, 4)]),
    "vecdot-axis": (lambda a, b: LA.vecdot(a, b, axis=-2), [(2, 3, 4), (3, 1)]),
    "diagonal": (lambda a: LA.diagonal(a, offset=1) ** 2, [(2, 3, 4)]),
    "diagonal-neg": (lambda a: LA.diagonal(a, offset=-1) ** 2, [(4, 3)]),
    "trace": (lambda a: LA.trace(a * a), [(2, 3, 3)]),
    "trace-offset": (lambda a: LA.trace(a * a, offset=-1), [(3, 4)]),
    "multi_dot": (lambda a, b, c: LA.multi_dot([a, b, c]), [(3,), (3, 4), (4, 2)]),
    "multi_dot-vv": (lambda a, b, c: LA.multi_dot([a, b, c]), [(2, 3), (3, 4), (4,)]),
    "cond-2": (lambda a: LA.cond(a), [(2, 3, 3)]),
    "cond--2": (lambda a: LA.cond(a, -2), [(3, 4)]),
    "cond-fro": (lambda a: LA.cond(a, "fro"), [(3, 3)]),
    "cond-1": (lambda a: LA.cond(a, 1), [(3, 3)]),
    "tensorinv": (lambda a: LA.tensorinv(a, ind=1), [(6, 2, 3)]),
    "tensorsolve": (lambda a, b: LA.tensorsolve(a, b), [(2, 3, 6), (2, 3)]),
}


def _args(shapes, complex_=False):
    out = []
    for s in shapes:
        x = well(s, complex_)
        if s == (6, 2, 3):
            x = x + 3 * np.eye(6).reshape(6, 2, 3)
        if s == (2, 3, 6):
            x = x + 3 * np.eye(6).reshape(2, 3, 6)
        out.append(x)
    return out


@pytest.mark.parametrize("name", list(GRADS))
def test_gradients_real(name):
    f, shapes = GRADS[name]
    check_grads(f, _args(shapes), order=2, label=name)


# (cond is a real function of a complex matrix: PyTorch's convention for its gradient)
@pytest.mark.parametrize("name", list(GRADS))
def test_gradients_complex(name):
    f, shapes = GRADS[name]
    check_grads_complex(f, _args(shapes, True), order=2, label=name)


def test_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [
        (lambda m, x: m.linalg.vecdot(x, x[0]), lambda x: torch.linalg.vecdot(x, x[0])),
        (lambda m, x: m.linalg.diagonal(x, offset=1), lambda x: torch.linalg.diagonal(x, offset=1)),
        (lambda m, x: m.linalg.trace(x), lambda x: torch.diagonal(x, dim1=-2, dim2=-1).sum(-1)),
        (lambda m, x: m.linalg.cond(x), lambda x: torch.linalg.cond(x)),
        # (torch.linalg.cond's own backward for "fro"/"nuc" fails on an in-place inverse)
        (
            lambda m, x: m.linalg.cond(x, "fro"),
            lambda x: (
                torch.linalg.norm(x, "fro", (-2, -1))
                * torch.linalg.norm(torch.linalg.inv(x), "fro", (-2, -1))
            ),
        ),
        (
            lambda m, x: m.linalg.cond(x, "nuc"),
            lambda x: (
                torch.linalg.norm(x, "nuc", (-2, -1))
                * torch.linalg.norm(torch.linalg.inv(x), "nuc", (-2, -1))
            ),
        ),
        (
            lambda m, x: m.linalg.multi_dot([x[0], x[1], x[0]]),
            lambda x: torch.linalg.multi_dot([x[0], x[1], x[0]]),
        ),
        (
            lambda m, x: m.linalg.tensorinv(x[0], ind=1),
            lambda x: torch.linalg.inv(x[0]),
        ),
    ]
    for complex_ in (False, True):
        for ours, theirs in cases:
            x = well((2, 3, 3), complex_)
            t = cr.tensor(x, requires_grad=True)
            out = ours(cr, t)
            u = rng.standard_normal(out.shape)
            (cr.real(out) * u).sum().backward()
            tt = torch.tensor(x, requires_grad=True)
            tout = theirs(tt)
            (tout.real * torch.tensor(u)).sum().backward()
            np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10)
            np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-8, atol=1e-12)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, err, pattern",
    [
        (lambda: LA.matrix_transpose(np.ones(3)), ValueError, r"matrix_transpose.*\(3,\)"),
        (lambda: LA.vecdot(np.ones((2, 3)), np.ones(4)), ValueError, "vecdot.*3 entries.*4"),
        (lambda: LA.vecdot(np.ones(3), np.ones(3), axis=2), ValueError, "vecdot: axis 2"),
        (lambda: LA.vecdot(np.ones((2, 3)), np.ones((4, 3))), ValueError, "do not broadcast"),
        (lambda: LA.trace(np.ones(3)), np.linalg.LinAlgError, "trace"),
        (lambda: LA.multi_dot([np.ones(3)]), ValueError, "at least two"),
        (lambda: LA.multi_dot([np.ones((2, 3)), np.ones((2, 3))]), ValueError, "not aligned"),
        (lambda: LA.multi_dot([np.ones(2), np.ones(2), np.ones(2)]), ValueError, "array 1"),
        (lambda: LA.multi_dot([np.ones(2), np.ones(2)], out=np.ones(())), TypeError, "out="),
        (lambda: LA.cond(np.ones((2, 3)), 1), np.linalg.LinAlgError, "square"),
        (lambda: LA.cond(np.eye(2), 3), ValueError, "cond: invalid norm order 3"),
        (lambda: LA.tensorinv(np.ones((2, 3)), ind=1), np.linalg.LinAlgError, "square"),
        (lambda: LA.tensorinv(np.ones((2, 2)), ind=0), ValueError, "positive"),
        (lambda: LA.tensorsolve(np.ones((2, 3)), np.ones(3)), ValueError, "leading part"),
        (lambda: LA.tensorsolve(np.ones((2, 3)), np.ones(2)), np.linalg.LinAlgError, "square"),
    ],
)
def test_bad_input_is_named(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


def test_numpy_functions_table_has_them():
    for name in ("matmul", "vecdot", "diagonal", "trace", "multi_dot", "cond", "tensorsolve"):
        if hasattr(np.linalg, name):
            assert LA.NUMPY_FUNCTIONS[getattr(np.linalg, name)] is getattr(LA, name)


def test_under_jit_they_equal_eager():
    def f(x):
        return (
            LA.cond(x, "fro")
            + LA.cond(x)
            + LA.trace(x, offset=1)
            + LA.multi_dot([x, x, x[0]]).sum()
            + LA.vecdot(x, x).sum()
            + cr.real(LA.eigvals(x)).sum()
            + LA.tensorsolve(x, x[0]).sum()
        )

    x = well((3, 3))
    np.testing.assert_allclose(cr.jit(f)(x).numpy(), f(cr.tensor(x)).numpy(), rtol=1e-12)
    g_jit = cr.jit(cr.grad(f))(x)
    np.testing.assert_allclose(np.asarray(g_jit), np.asarray(cr.grad(f)(x)), rtol=1e-10)
