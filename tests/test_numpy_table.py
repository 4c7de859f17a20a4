"""chainrule.numpy row by row (the rows are in tests/ops_table.py, where the gradient checks
run them): values and dtypes equal NumPy's in float64 and float32, float32 gradients agree
with float64 ones and keep float32, the same call through NumPy's own functions on Tensors
records the same gradient, and traced programs re-run at new inputs equal eager."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.ir import trace_program
from chainrule.numpy.reference import NOT_DIFFERENTIABLE
from ops_table import NONDIFF, NUMPY_ROWS

WITH_NUMPY = [r for r in NUMPY_ROWS if r.numpy is not None]
REAL = [r for r in WITH_NUMPY if not r.complex]


def _outs(v):
    return list(v) if isinstance(v, (tuple, list)) else [v]


def _vjp(fn, args, seed=3):
    """Gradients of sum(u * f(args)) for fixed random u (one per output), one per input."""
    return cr.grad(lambda *xs: _sum_of(fn, xs, seed), argnums=tuple(range(len(args))))(*args)


def _sum_of(fn, xs, seed):
    rng = np.random.default_rng(seed)
    total = None
    for o in _outs(fn(*xs)):
        u = rng.standard_normal(o.shape)
        if o.dtype == np.float32:
            u = u.astype(np.float32)
        term = (o * u).sum()
        if term.dtype.kind == "c":
            term = cr.real(term)
        total = term if total is None else total + term
    return total


def _compare(ours, theirs, rtol, atol, label):
    ours, theirs = _outs(ours), _outs(theirs)
    assert len(ours) == len(theirs), f"{label}: {len(ours)} outputs, NumPy gives {len(theirs)}"
    for o, t in zip(ours, theirs):
        assert isinstance(o, cr.Tensor), f"{label}: returned {type(o).__name__}, not a Tensor"
        t = np.asarray(t)
        assert o.shape == t.shape, f"{label}: shape {o.shape}, NumPy's is {t.shape}"
        assert o.dtype == t.dtype, f"{label}: dtype {o.dtype}, NumPy's is {t.dtype}"
        np.testing.assert_allclose(
            o.numpy(), t, rtol=rtol, atol=atol, equal_nan=True, err_msg=label
        )


@pytest.mark.parametrize("row", WITH_NUMPY, ids=[r.id for r in WITH_NUMPY])
def test_values_and_dtypes_are_numpys(row):
    args = row.inputs()
    with np.errstate(all="ignore"), cr.no_grad():
        ours = row.fn(*[cr.tensor(a) for a in args])
        theirs = row.numpy(*args)
    _compare(ours, theirs, 1e-12, 1e-13, row.id)


@pytest.mark.parametrize("row", REAL, ids=[r.id for r in REAL])
def test_float32_keeps_numpys_dtype_and_gradients_stay_float32(row):
    args64 = row.inputs()
    args32 = [a.astype(np.float32) for a in args64]
    with np.errstate(all="ignore"), cr.no_grad():
        ours = row.fn(*[cr.tensor(a) for a in args32])
        theirs = row.numpy(*args32)
    _compare(ours, theirs, 2e-6, 2e-6, row.id + " (float32)")
    with np.errstate(all="ignore"):
        g32 = _vjp(row.fn, args32)
        g64 = _vjp(row.fn, args64)
    for a, g, h in zip(args32, _outs(g32), _outs(g64)):
        assert g.dtype == np.float32, f"{row.id}: gradient dtype {g.dtype} for a float32 input"
        assert g.shape == a.shape
        np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=2e-3, atol=2e-3, err_msg=row.id)


# np.array and np.asarray are not dispatched (NumPy converts with __array__): they are
# the documented way out of the graph, so their rows are not run through NumPy. Nor are
# np.r_ and np.c_ (objects that convert their pieces with np.array): cnp.r_ and cnp.c_ record.
CONVERSIONS = (
    "cnp.array-",
    "cnp.asarray-",
    "cnp.asanyarray-",
    "cnp.ascontiguousarray-",
    "cnp.r_-",
    "cnp.c_-",
    # NumPy converts the argument itself (np.asarray inside), as for asarray
    "cnp.asfortranarray-",
    "cnp.asarray_chkfinite-",
)
DISPATCHED = [r for r in WITH_NUMPY if not r.label.startswith(CONVERSIONS)]


@pytest.mark.parametrize("row", DISPATCHED, ids=[r.id for r in DISPATCHED])
def test_numpys_own_functions_on_tensors_record_the_same_gradient(row):
    args = row.inputs()
    leaves = [cr.tensor(a, requires_grad=True) for a in args]
    with np.errstate(all="ignore"):
        out = row.numpy(*leaves)  # numpy's functions, called with Tensors
    for o in _outs(out):
        assert isinstance(o, cr.Tensor), f"{row.id}: NumPy returned {type(o).__name__}"
    with np.errstate(all="ignore"):
        ours = _vjp(row.fn, args)
        via_numpy = _vjp(row.numpy, args)
    for g, h in zip(_outs(ours), _outs(via_numpy)):
        np.testing.assert_allclose(h.numpy(), g.numpy(), rtol=1e-12, atol=1e-13, err_msg=row.id)


@pytest.mark.parametrize("row", NUMPY_ROWS, ids=[r.id for r in NUMPY_ROWS])
def test_traced_programs_rerun_at_new_inputs_equal_eager(row):
    args = row.inputs(seed=0)
    new = row.inputs(seed=7)
    with np.errstate(all="ignore"):
        program, _ = trace_program(row.fn, *args)
        replay = program(*new)
        with cr.no_grad():
            eager = row.fn(*[cr.tensor(a) for a in new])
    replay, eager = _outs(replay), _outs(eager)
    assert len(replay) == len(eager)
    for r, e in zip(replay, eager):
        np.testing.assert_allclose(np.asarray(r), e.numpy(), rtol=1e-12, atol=1e-13, equal_nan=True)


def test_every_function_has_a_row_or_a_value_check():
    rows = {r.label.split("-")[0][len("cnp.") :] for r in NUMPY_ROWS if r.label.startswith("cnp.")}
    for name in cnp.__all__:
        assert name in rows or name in NOT_DIFFERENTIABLE, (
            f"chainrule.numpy.{name} has no row in tests/ops_table.py and is not listed as "
            f"not differentiable"
        )
    assert not (rows & set(NOT_DIFFERENTIABLE)), "a differentiable row for a function listed as not"


def test_non_differentiable_functions_give_no_gradient():
    x = cr.tensor(np.array([[0.5, -1.0, 2.0], [3.0, 0.0, -2.5]]), requires_grad=True)
    checked = 0
    for name, call in NOT_DIFFERENTIABLE.items():
        if call is None:
            continue
        with np.errstate(all="ignore"):
            out = call(cnp, x)
        for o in _outs(out):
            if isinstance(o, cr.Tensor):
                assert not o.requires_grad, f"{name} records a gradient"
                checked += 1
    assert checked > 20


def test_nondiff_checks_cover_the_new_primitives():
    names = {c.primitive for c in NONDIFF}
    assert {"argsort", "argpartition", "argwhere", "argextreme", "any", "all", "signbit"} <= names


#: Primitives a strict trace (cr.jit) refuses: lstsq reads the rank from the singular
#: values in Python (cr.linalg.lstsq; polyfit is made of it).
STRICT_REFUSED = {"lstsq"}
#: Functions whose result's shape or kind is decided by the values (real or complex, zeros
#: stripped): a strict trace refuses them by name where the decision reads a traced value.
VALUE_DECIDED = ("cnp.real_if_close", "cnp.poly-", "cnp.roots", "cnp.trim_zeros", "cnp.polydiv")


@pytest.mark.parametrize("row", NUMPY_ROWS, ids=[r.id for r in NUMPY_ROWS])
def test_jit_compiled_rows_rerun_at_new_inputs_equal_eager(row):
    # cr.jit traces once, optimizes (folding, CSE, simplification) and runs generated code:
    # a value read at trace time instead of recorded would show up here as a stale result
    args = row.inputs(seed=0)
    new = row.inputs(seed=7)
    compiled = cr.jit(row.fn)
    if row.primitive in STRICT_REFUSED:  # refused by name, never a stale result
        with np.errstate(all="ignore"), pytest.raises(cr.ConcretizationError):
            compiled(*[cr.tensor(a) for a in args])
        return
    with np.errstate(all="ignore"):
        try:
            compiled(*[cr.tensor(a) for a in args])
        except cr.ConcretizationError:
            assert any(name in row.id for name in VALUE_DECIDED), row.id
            return
        replay = compiled(*[cr.tensor(a) for a in new])
        with cr.no_grad():
            eager = row.fn(*[cr.tensor(a) for a in new])
    for r, e in zip(_outs(replay), _outs(eager)):
        np.testing.assert_allclose(r.numpy(), e.numpy(), rtol=1e-12, atol=1e-13, equal_nan=True)
