"""Programs whose lengths the values decide.

``argwhere`` (and ``unique``) give results whose length depends on the values. Python code
that ran at the trace may have decided on that length (``piecewise`` skipped a piece that
selected nothing; user code may read ``.shape[0]``), so compiled code is made for the
traced lengths: it checks them at every call and traces again when they differ.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.ir import trace_program
from jit_support import BACKENDS, eager_grads, jit_grads

NEG = np.array([-1.0, -2.0, -3.0, -0.5])
MIX = np.array([1.0, -2.0, 3.0, 0.5])
ONE = np.array([1.0, -2.0, -3.0, -0.5])


def pieces(x):
    return cnp.piecewise(x, [x > 0], [lambda v: 2 * v * v])


def by_count(x):  # Python reads a length the values decide
    n = cnp.argwhere(x > 0).shape[0]
    return x * float(n) + 1.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("f", [pieces, by_count], ids=["piecewise", "shape-read"])
def test_jit_follows_lengths_the_values_decide(f, backend):
    jitted = cr.jit(f, backend=backend)
    loss = cr.jit(cr.grad(lambda x: (f(x) * x).sum()), backend=backend)
    eager_loss = cr.grad(lambda x: (f(x) * x).sum())
    for a in (NEG, MIX, ONE, NEG, MIX, ONE):  # traced with none selected first
        np.testing.assert_allclose(jitted(a).numpy(), f(cr.tensor(a)).numpy(), rtol=1e-12)
        np.testing.assert_allclose(loss(a).numpy(), eager_loss(a).numpy(), rtol=1e-12)
        if a is not NEG or f is by_count:
            want, (g_want,) = eager_grads(f, [a])
            got, (g_got,) = jit_grads(f, [a], backend)
            np.testing.assert_allclose(got, want, rtol=1e-12)
            np.testing.assert_allclose(g_got, g_want, rtol=1e-12)
    info = jitted.cache_info()
    assert info.currsize == 1 and info.misses == 3  # one program per length, kept together


def test_the_code_checks_the_length_it_was_made_for():
    source = cr.jit(by_count).source(MIX)
    assert "if argwhere0.shape != (3, 1): raise LengthChanged(" in source


def test_a_length_that_keeps_changing_warns_naming_it():
    jitted = cr.jit(by_count)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(11):
            a = np.full(12, -1.0)
            a[:k] = 1.0
            np.testing.assert_array_equal(jitted(a).numpy(), a * k + 1.0)
    messages = [str(w.message) for w in caught if "compiled again" in str(w.message)]
    assert len(messages) == 1 and "the length argwhere found changed" in messages[0]


def test_a_refit_leaves_the_generators_as_eager_code_would():
    nn = cr.nn

    def make():
        return nn.Dropout(0.5, seed=np.random.default_rng(3))

    eager_drop, jit_drop = make(), make()
    jitted = cr.jit(lambda x: by_count(jit_drop(x)))
    for a in (MIX, ONE, MIX, NEG):
        want = by_count(eager_drop(cr.tensor(a))).numpy()
        np.testing.assert_array_equal(jitted(a).numpy(), want)


def test_traced_programs_and_vmap_hold_where_a_piece_selects_nothing():
    program, _ = trace_program(pieces, NEG)
    np.testing.assert_allclose(program(MIX), pieces(cr.tensor(MIX)).numpy())
    batched = cr.vmap(pieces)
    for rows in ((NEG, NEG), (MIX, MIX), (NEG, NEG)):  # the same count in every example
        want = np.stack([pieces(cr.tensor(r)).numpy() for r in rows])
        np.testing.assert_allclose(batched(np.stack(rows)).numpy(), want)
    with pytest.raises(cr.batching.BatchingError, match="argwhere"):
        batched(np.stack([NEG, MIX]))  # counts differ within a batch: refused, not wrong
