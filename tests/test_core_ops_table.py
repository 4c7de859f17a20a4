"""Every primitive, row by row: reverse mode, forward mode and second order against
float64 central differences; the registry is complete; the checker catches wrong rules."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import rules as P
from chainrule.primitives import REGISTRY, Primitive
from chainrule.tensor import apply
from checker import check_grads, check_grads_complex
from ops_table import NONDIFF, ROWS


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_primitive_gradients(row):
    if row.complex:
        check_grads_complex(row.fn, row.inputs(), order=2, label=row.id)
    else:
        check_grads(row.fn, row.inputs(), order=2, label=row.id)


@pytest.mark.parametrize("check", NONDIFF, ids=[c.id for c in NONDIFF])
def test_non_differentiable_primitives(check):
    # The value is NumPy's, the result carries no gradient, and a traced program recomputes
    # it at new inputs (it is an equation of the program, not a constant).
    from chainrule.ir import trace_program

    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s) * 2 for s in check.shapes]
    leaves = [cr.tensor(a, requires_grad=True) for a in args]
    with np.errstate(all="ignore"):
        out = check.fn(*leaves)
        np.testing.assert_array_equal(out.numpy(), check.reference(*args))
        assert not out.requires_grad
        program, _ = trace_program(check.fn, *args)
        assert check.primitive in {e.prim.name for e in program.eqns}
        new = [rng.standard_normal(s) * 2 for s in check.shapes]
        np.testing.assert_array_equal(program(*new), check.reference(*new))


def test_every_primitive_has_rules_and_a_table_row():
    covered = {r.primitive for r in ROWS} | {p for r in ROWS for p in r.also}
    complex_rows = {r.primitive for r in ROWS if r.complex} | {
        p for r in ROWS if r.complex for p in r.also
    }
    checked = {c.primitive for c in NONDIFF}
    for name, prim in REGISTRY.items():
        assert prim.lower is not None, f"primitive {name!r} has no lowering"
        if not prim.differentiable:
            assert prim.vjps is None and prim.jvps is None
            assert name in checked, f"non-differentiable {name!r} has no row in NONDIFF"
            continue
        assert name in covered, f"primitive {name!r} has no row in tests/ops_table.py"
        if prim.complex and name not in ("cross_entropy_vjp",):
            assert name in complex_rows, f"primitive {name!r} accepts complex but has no row"
        if prim.vjp_all is None:
            assert prim.vjps, f"primitive {name!r} has no VJP rules"
            assert prim.jvps, f"primitive {name!r} has no JVP rules"
            if isinstance(prim.vjps, tuple):
                assert len(prim.vjps) == len(prim.jvps), f"{name}: VJP and JVP counts differ"
                for i, (v, j) in enumerate(zip(prim.vjps, prim.jvps)):
                    assert (v is None) == (j is None), f"{name}: input {i} has only one rule"


def test_rows_exercise_the_primitive_they_name():
    # A row that never applies its primitive would test nothing.
    from chainrule import engine

    for row in ROWS:
        args = [cr.tensor(a, requires_grad=True) for a in row.inputs()]
        out = row.fn(*args)
        outs = out if isinstance(out, tuple) else (out,)
        seen, stack = set(), [o._node for o in outs if o._node is not None]
        names = set()
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            names.add(node.prim.name)
            stack += [e for e in node.edges if type(e) is engine.Node]
        if row.primitive != "alias":
            assert row.primitive in names, f"row {row.id} never applies {row.primitive!r}"


@pytest.mark.parametrize(
    "fn, name",
    [
        (lambda z: cr.relu(z), "relu"),
        (lambda z: cr.maximum(z, z), "maximum"),
        (lambda z: cr.minimum(z, 1.0), "minimum"),
        (lambda z: cr.clip(z, 0, 1), "clip"),
        # the primitives (NumPy's max/min methods and functions order complex numbers)
        (lambda z: P.max(z, axis=None, keepdims=False), "max"),
        (lambda z: P.min(z, axis=None, keepdims=False), "min"),
        (lambda z: z.logsumexp(), "logsumexp"),
        (lambda z: z.softmax(), "softmax"),
        (lambda z: z.log_softmax(), "log_softmax"),
        (lambda z: cr.sigmoid(z), "sigmoid"),
        (lambda z: z > 0, "greater"),
        (lambda z: cr.sign(z), "sign"),
    ],
)
def test_primitives_without_complex_support_say_so(fn, name):
    z = cr.tensor(np.array([1 + 2j, -1j]), requires_grad=True)
    with pytest.raises(TypeError, match=f"{name}: does not support complex"):
        fn(z)


def test_complex_gradients_follow_pytorchs_convention():
    # The gradient of a real loss is dL/dx + i dL/dy, so z -= lr * z.grad descends.
    z = cr.tensor(np.array([3.0 + 4.0j]), requires_grad=True)
    loss = (cr.abs(z) ** 2).sum()  # |z|^2 = x^2 + y^2: gradient 2x + 2yi
    loss.backward()
    np.testing.assert_allclose(z.grad.numpy(), [6.0 + 8.0j])
    w = cr.tensor(np.array([2.0 - 1.0j]), requires_grad=True)
    (cr.abs(z * w)).sum().backward()
    # d|zw|/dz under the convention: conj(w) * (z w) / |z w| * ... checked against numbers
    zw = (3 + 4j) * (2 - 1j)
    np.testing.assert_allclose(w.grad.numpy(), [np.conj(3 + 4j) * zw / abs(zw)], rtol=1e-12)
    _, t = cr.jvp(cr.abs, (np.array([3.0 + 4.0j]),), (np.array([1.0 + 0.0j]),))
    np.testing.assert_allclose(t.numpy(), [0.6])  # d|z| along +x at 3+4i is x/|z| (sign +)
    x = np.array([1 + 1j, 2 - 1j, -1 + 0.5j])
    v = cr.tensor(x, requires_grad=True).var()
    assert v.dtype == np.float64
    np.testing.assert_allclose(v.item(), np.var(x))
    before = (cr.abs(cr.tensor(np.array([3.0 + 4.0j]))) ** 2).item()
    with cr.no_grad():
        z -= 0.1 * z.grad
    assert (cr.abs(z) ** 2).item() < before


def _bad(name, vjp=None, jvp=None):
    good_vjp = lambda g, ans, x: g * 2 * x  # noqa: E731
    good_jvp = lambda t, ans, x: t * 2 * x  # noqa: E731
    return Primitive(name, np.square, (vjp or good_vjp,), (jvp or good_jvp,), register=False)


def test_checker_accepts_a_correct_rule():
    square = _bad("square_ok")
    check_grads(lambda x: apply(square, (x,)), [np.array([0.3, -1.2, 2.0])])


@pytest.mark.parametrize(
    "prim",
    [
        _bad("square_wrong_vjp", vjp=lambda g, ans, x: g * x),
        _bad("square_wrong_jvp", jvp=lambda t, ans, x: t * 3 * x),
        # right first derivative, but written on raw values: its own derivative is lost
        _bad(
            "square_not_differentiable",
            vjp=lambda g, ans, x: (
                g * 2 * np.asarray(x.data) if isinstance(x, cr.Tensor) else g * 2 * x
            ),
        ),
    ],
    ids=lambda p: p.name,
)
def test_checker_rejects_a_wrong_rule(prim):
    with pytest.raises(AssertionError):
        check_grads(lambda x: apply(prim, (x,)), [np.array([0.3, -1.2, 2.0])])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_cross_entropy_equals_its_composition(reduction):
    rng = np.random.default_rng(5)
    x0, labels = rng.standard_normal((4, 5)), np.array([0, 4, 2, 2])
    fused = cr.tensor(x0, requires_grad=True)
    composed = cr.tensor(x0, requires_grad=True)
    a = cr.softmax_cross_entropy(fused, labels, reduction)
    picked = -cr.take_along_axis(composed.log_softmax(axis=1), labels[:, None], axis=1)[:, 0]
    b = {"mean": picked.mean(), "sum": picked.sum(), "none": picked}[reduction]
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(fused.grad.numpy(), composed.grad.numpy(), rtol=1e-12)


def test_probability_targets_with_one_hot_rows_equal_integer_labels():
    rng = np.random.default_rng(6)
    x0, labels = rng.standard_normal((5, 4)), np.array([3, 0, 1, 1, 2])
    a = cr.tensor(x0, requires_grad=True)
    b = cr.tensor(x0, requires_grad=True)
    la = cr.softmax_cross_entropy(a, labels)
    lb = cr.softmax_cross_entropy(b, np.eye(4)[labels])
    np.testing.assert_allclose(la.numpy(), lb.numpy(), rtol=1e-12)
    la.backward()
    lb.backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"probability targets must have the logits' shape"):
        cr.softmax_cross_entropy(a, np.ones((5, 3)))
