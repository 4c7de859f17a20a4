"""einsum (every subscript form NumPy accepts), tensordot, inner, outer, kron and cross:
values against NumPy, gradients against central differences (and PyTorch where
installed), contraction order as np.einsum(optimize=True), errors, random subscripts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import rules_linalg as L
from checker import check_grads, check_grads_complex

rng = np.random.default_rng(7)

FORMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output
    ("ji,jk", [(3, 2), (3, 4)]),
    ("ba", [(2, 3)]),  # implicit transpose (labels sorted)
    ("aB", [(2, 3)]),  # upper-case labels sort first
    ("ii->i", [(3, 3)]),  # diagonal
    ("ii", [(3, 3)]),  # trace
    ("iij->ij", [(3, 3, 2)]),
    ("iji->j", [(2, 3, 2)]),
    ("iii->", [(2, 2, 2)]),
    ("ii,ij->j", [(3, 3), (3, 4)]),
    ("i,i->", [(3,), (3,)]),  # -> with an empty output
    ("i,i", [(3,), (3,)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("i,j->ij", [(2,), (3,)]),
    ("i,j", [(2,), (3,)]),
    (",ij->ij", [(), (2, 2)]),  # a 0-d operand
    (",", [(), ()]),
    ("...ij,...jk->...ik", [(5, 2, 3), (3, 4)]),
    ("...ij,...jk", [(2, 1, 2, 3), (3, 3, 2)]),
    ("...i,...i", [(2, 3), (5, 1, 3)]),
    ("i...,i...", [(2, 3), (2,)]),
    ("i...->...", [(2, 3, 4)]),
    ("...->...", [(2, 3)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),  # a size-1 axis broadcasts against its label's size
    ("ij,jk", [(2, 1), (3, 4)]),
    ("bij,bjk,bkl->bil", [(2, 3, 4), (2, 4, 5), (2, 5, 2)]),
    ("ijk,kl,lm,mi->j", [(3, 4, 5), (5, 6), (6, 2), (2, 3)]),
    ("ab,cd->acbd", [(2, 3), (4, 5)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]),  # spaces are ignored
    ("ij,jk->ik", [(30, 40), (40, 20)]),  # big enough for the BLAS route
    ("bij,bjk->bik", [(3, 20, 30), (3, 30, 10)]),
]


@pytest.mark.parametrize("spec, shapes", FORMS, ids=[f[0] for f in FORMS])
def test_every_subscript_form_matches_numpy(spec, shapes):
    xs = [rng.standard_normal(s) for s in shapes]
    got = cr.einsum(spec, *xs).numpy()
    ref = np.einsum(spec, *xs)
    assert got.shape == np.shape(ref)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    if sum(x.size for x in xs) <= 200:
        check_grads(lambda *ts: cr.einsum(spec, *ts), xs, order=2, label=spec)
    else:
        check_grads(lambda *ts: cr.einsum(spec, *ts), xs, order=1, label=spec)


def test_interleaved_sublist_form():
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    for args in (
        (a, [0, 1], b, [1, 2], [0, 2]),
        (a, [0, 1], b, [1, 2]),
        (a, [Ellipsis, 1], b, [1, 2]),
        (a, [30, 1]),  # label 30 is 'e' (after the capitals): implicit order B, e
        (a, [0, 1], [1]),
    ):
        np.testing.assert_allclose(cr.einsum(*args).numpy(), np.einsum(*args), rtol=1e-12)
    check_grads(lambda x, y: cr.einsum(x, [0, 1], y, [1, 2], [2, 0]), [a, b], order=1)


@pytest.mark.parametrize("optimize", [True, False, "greedy", "optimal"])
def test_optimize_options_give_numpys_values(optimize):
    xs = [rng.standard_normal(s) for s in [(3, 4), (4, 5), (5, 2), (2, 3)]]
    spec = "ij,jk,kl,lm->im"
    got = cr.einsum(spec, *xs, optimize=optimize).numpy()
    np.testing.assert_allclose(got, np.einsum(spec, *xs, optimize=optimize), rtol=1e-12)
    path = np.einsum_path(spec, *xs, optimize="greedy")[0]
    np.testing.assert_allclose(cr.einsum(spec, *xs, optimize=path).numpy(), got, rtol=1e-12)


def test_contraction_order_is_numpys():
    shapes = [(10, 50), (50, 2), (2, 40), (40, 3)]
    xs = [rng.standard_normal(s) for s in shapes]
    spec = "ij,jk,kl,lm->im"
    ins, out = L._split_spec(spec)
    plan = L.einsum_plan(tuple(ins), out, tuple(shapes), "greedy")
    path = np.einsum_path(spec, *xs, optimize="greedy")[0][1:]
    assert [step[1] for step in plan] == [tuple(p) for p in path]
    ins3 = ("ab", "bc", "cd")
    path_opt = np.einsum_path("ab,bc,cd->ad", *xs[:3], optimize="optimal")[0][1:]
    plan_opt = L.einsum_plan(ins3, "ad", tuple(shapes[:3]), "optimal")
    assert [step[1] for step in plan_opt] == [tuple(p) for p in path_opt]


def test_dtype_and_float32():
    a = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal((3, 2)).astype(np.float32)
    out = cr.einsum("ij,jk", a, b)
    assert out.dtype == np.float32
    assert cr.einsum("ij,jk", a, b, dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="cannot cast operand 0 from float64"):
        cr.einsum("i", np.ones(2), dtype=np.int32)
    t = cr.tensor(a, requires_grad=True)
    cr.einsum("ij,jk->", t, b).backward()
    assert t.grad.dtype == np.float32


@pytest.mark.parametrize(
    "args, err, pattern",
    [
        (("ij,jk", np.ones((2, 3))), ValueError, "name 2 operand"),
        (("ij", np.ones(3)), ValueError, r"operand 0 has 1 dimension.*name 2"),
        (("ij,jk", np.ones((2, 3)), np.ones((4, 2))), ValueError, "label 'j' has size 3"),
        (("ii", np.ones((2, 3))), ValueError, "repeats label 'i' on axes of sizes 2 and 3"),
        (("ij->ii", np.ones((2, 2))), ValueError, "repeat a label"),
        (("ij->k", np.ones((2, 2))), ValueError, "output label 'k'"),
        (("i$", np.ones((2, 2))), ValueError, "invalid subscript"),
        (("i->j->k", np.ones(2)), ValueError, "at most one '->'"),
        (("...i->i", np.ones((2, 3))), ValueError, "add '...' to the output"),
        (("i..j", np.ones((2, 3))), ValueError, "not part of one"),
        (("i",), ValueError, "at least one operand"),
    ],
)
def test_bad_subscripts_are_named(args, err, pattern):
    with pytest.raises(err, match=pattern):
        cr.einsum(*args)


def test_out_is_refused():
    with pytest.raises(TypeError, match="out= is not supported"):
        cr.einsum("i", np.ones(2), out=np.ones(2))


def test_complex_einsum_gradients():
    a = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    b = rng.standard_normal((3,)) + 1j * rng.standard_normal((3,))
    check_grads_complex(lambda x, y: cr.einsum("ij,j->i", x, y), [a, b], order=2)
    check_grads_complex(lambda x: cr.einsum("ii", x), [a[:, :2]], order=2)


def test_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    for spec, shapes in FORMS:
        if "..." in spec or " " in spec or spec == ",":  # forms torch.einsum lacks
            continue
        if any(n == 1 for s in shapes for n in s):  # torch does not broadcast labels
            continue
        xs = [rng.standard_normal(s) for s in shapes]
        ts = [cr.tensor(x, requires_grad=True) for x in xs]
        qs = [torch.tensor(x, requires_grad=True) for x in xs]
        out = cr.einsum(spec, *ts)
        u = rng.standard_normal(out.shape)
        (out * u).sum().backward()
        (torch.einsum(spec, *qs) * torch.tensor(u)).sum().backward()
        for t, q in zip(ts, qs):
            np.testing.assert_allclose(t.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- random subscripts


@st.composite
def einsum_problems(draw):
    letters = "abcd"
    sizes = {c: draw(st.integers(1, 3)) for c in letters}
    n_ops = draw(st.integers(1, 3))
    use_ell = draw(st.booleans())
    batch = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    subs, shapes = [], []
    for _ in range(n_ops):
        labels = draw(st.lists(st.sampled_from(letters), min_size=0, max_size=3))
        shape = [sizes[c] for c in labels]
        sub = "".join(labels)
        if use_ell:
            k = draw(st.integers(0, len(batch)))  # this operand's trailing batch dims
            mine = list(batch[len(batch) - k :])
            mine = [1 if draw(st.booleans()) else d for d in mine]  # size-1 broadcasts
            at = draw(st.integers(0, len(labels)))
            sub = sub[:at] + "..." + sub[at:]
            shape = shape[:at] + mine + shape[at:]
        subs.append(sub)
        shapes.append(tuple(shape))
    spec = ",".join(subs)
    if draw(st.booleans()):  # explicit output: some of the labels, in some order
        used = sorted(set("".join(subs).replace(".", "")))
        out = draw(st.permutations(used))
        out = "".join(out[: draw(st.integers(0, len(out)))])
        if use_ell:
            at = draw(st.integers(0, len(out)))
            out = out[:at] + "..." + out[at:]
        spec += "->" + out
    return spec, shapes


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(einsum_problems())
def test_random_subscripts_match_numpy(problem):
    spec, shapes = problem
    xs = [np.random.default_rng(1).standard_normal(s) for s in shapes]
    try:
        ref = np.einsum(spec, *xs)
    except ValueError:
        with pytest.raises(ValueError):
            cr.einsum(spec, *xs)
        return
    got = cr.einsum(spec, *xs).numpy()
    assert got.shape == np.shape(ref)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    check_grads(lambda *ts: cr.einsum(spec, *ts), xs, order=1, label=spec)


# --------------------------------------------------------------------------- tensordot & co


@pytest.mark.parametrize(
    "sa, sb, axes",
    [
        ((2, 3, 4), (3, 4, 5), 2),
        ((2, 3), (3, 4), 1),
        ((2, 3), (4, 5), 0),
        ((3, 2), (2, 3), ([0], [1])),
        ((2, 3, 4), (4, 3, 2), ([1, 2], [1, 0])),
        ((2, 3), (3, 2), ([-1], [0])),
        ((3,), (3,), 1),
        ((2, 3), (2, 3), ((0, 1), (0, 1))),
    ],
)
def test_tensordot_matches_numpy(sa, sb, axes):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    np.testing.assert_allclose(
        cr.tensordot(a, b, axes).numpy(), np.tensordot(a, b, axes), rtol=1e-12
    )
    check_grads(lambda x, y: cr.tensordot(x, y, axes), [a, b], order=2)


def test_tensordot_errors():
    with pytest.raises(ValueError, match="shape mismatch: axis 1 of a"):
        cr.tensordot(np.ones((2, 3)), np.ones((4, 2)), axes=1)
    with pytest.raises(ValueError, match="axes=3 is out of range"):
        cr.tensordot(np.ones((2, 3)), np.ones((3, 2)), axes=3)
    with pytest.raises(ValueError, match="pair 2 axes of a with 1"):
        cr.tensordot(np.ones((2, 3)), np.ones((3, 2)), axes=([0, 1], [0]))


@pytest.mark.parametrize(
    "sa, sb", [((3,), (3,)), ((2, 3), (4, 3)), ((), (2, 2)), ((2, 2, 3), (3,))]
)
def test_inner_outer_kron_match_numpy(sa, sb):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    np.testing.assert_allclose(cr.inner(a, b).numpy(), np.inner(a, b), rtol=1e-12)
    np.testing.assert_allclose(cr.outer(a, b).numpy(), np.outer(a, b), rtol=1e-12)
    np.testing.assert_allclose(cr.kron(a, b).numpy(), np.kron(a, b), rtol=1e-12)
    check_grads(lambda x, y: cr.inner(x, y), [a, b], order=2)
    check_grads(lambda x, y: cr.kron(x, y), [a, b], order=2)
    check_grads(lambda x, y: cr.outer(x, y), [a, b], order=1)


def test_kron_of_different_ndims():
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 1, 3))
    np.testing.assert_allclose(cr.kron(a, b).numpy(), np.kron(a, b), rtol=1e-12)
    np.testing.assert_allclose(cr.kron(b, a).numpy(), np.kron(b, a), rtol=1e-12)


@pytest.mark.parametrize(
    "sa, sb, kw",
    [
        ((3,), (3,), {}),
        ((4, 3), (3,), {}),
        ((2, 1, 3), (4, 3), {}),
        ((3, 4), (3, 4), {"axis": 0}),
        ((3, 2), (2, 3), {"axisa": 0, "axisb": 1, "axisc": 0}),
        ((2, 3), (3, 2), {"axisb": 0, "axisc": 0}),
        ((4, 2), (4, 3), {}),  # a 2-vector is (x, y, 0)
    ],
)
def test_cross_matches_numpy(sa, sb, kw):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = np.cross(a, b, **kw)
        got = cr.cross(a, b, **kw).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-12)
        check_grads(lambda x, y: cr.cross(x, y, **kw), [a, b], order=2)


def test_cross_of_2_vectors_warns_as_numpy_does():
    a, b = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    with pytest.warns(DeprecationWarning, match="2-dimensional vectors are deprecated"):
        got = cr.cross(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        np.testing.assert_allclose(got.numpy(), np.cross(a, b), rtol=1e-12)
    with pytest.raises(ValueError, match="dimension must be 2 or 3"):
        cr.cross(np.ones(4), np.ones(3))


def test_complex_cross_and_tensordot():
    a = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    b = rng.standard_normal((3,)) + 1j * rng.standard_normal((3,))
    check_grads_complex(lambda x, y: cr.cross(x, y), [a, b], order=2)
    check_grads_complex(lambda x, y: cr.tensordot(x, y, axes=1), [a, b], order=2)
    check_grads_complex(lambda x, y: cr.kron(x, y), [a, b], order=1)


def test_numpy_functions_table():
    from chainrule import contractions as C

    for fn in (np.einsum, np.tensordot, np.inner, np.outer, np.kron, np.cross):
        assert callable(C.NUMPY_FUNCTIONS[fn])


def test_traced_einsum_runs_at_new_inputs_and_generated_code_matches():
    from chainrule.ir import trace_program

    def f(a, b, c):
        return (cr.einsum("ij,jk,kl->il", a, b, c) ** 2).sum() + cr.einsum("ii", a @ b @ c)

    xs = [rng.standard_normal(s) for s in [(3, 4), (4, 5), (5, 3)]]
    prog, _ = trace_program(f, *xs)
    new = [x + 0.1 for x in xs]
    np.testing.assert_allclose(prog(*new), f(*[cr.tensor(x) for x in new]).numpy(), rtol=1e-12)
    ts = [cr.tensor(x, requires_grad=True) for x in xs]
    f(*ts).backward()
    value, grads = cr.trace(f, *xs).compile_flat()(*xs)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10)
    code = cr.trace(lambda a, b: cr.einsum("ij,jk->ik", a, b), xs[0], xs[1]).flat_code()
    assert "a @ b" in code  # a plain product reads as one
