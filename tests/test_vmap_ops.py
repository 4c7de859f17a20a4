"""cr.vmap on every row of the per-op table: the batch equals a Python loop over the
examples, for in_axes 0, 1, -1 and None, and so do vmap of grad and vmap of jvp. No row
falls back to the per-example loop (every built-in primitive has a batching rule)."""

from __future__ import annotations

import dataclasses
import inspect
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import batching
from chainrule.batching import BatchingError, BatchingWarning
from ops_table import NONDIFF, ROWS

B = 3  # examples per batch


def _reads_data(fn) -> bool:
    """A row computed from ``x.data`` (a mask taken outside the graph): a traced program
    cannot follow it, so vmap must refuse it rather than return a wrong batch."""
    try:
        return ".data" in inspect.getsource(fn)
    except (OSError, TypeError):
        return False


def _examples(shapes, seed, complex_=False, domain="real"):
    from ops_table import Row

    row = Row("x", None, list(shapes), domain=domain, complex=complex_)
    return [row.inputs(seed + 17 * b) for b in range(B)]  # examples[b][i]


def _stack(values, axis):
    return np.stack([np.asarray(v) for v in values], axis=axis)


def _loop(fn, examples, fixed=None):
    outs = []
    for ex in examples:
        args = [cr.tensor(fixed[i] if fixed and i in fixed else a) for i, a in enumerate(ex)]
        outs.append(fn(*args))
    return outs


def _as_np(t):
    return t.numpy() if isinstance(t, cr.Tensor) else np.asarray(t)


@pytest.fixture(autouse=True)
def no_fallback():
    """Every application must have a batching rule: a fallback warning fails the test."""
    batching._WARNED.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", BatchingWarning)
        yield


def _single(fn):
    """``fn`` with a tuple of results (qr's Q and R, eigh's values and vectors) as one flat
    tensor, so the checks below compare one value."""

    def one(*xs):
        out = fn(*xs)
        if isinstance(out, (tuple, list)):
            return cr.concatenate([o.reshape(-1) for o in out])
        return out

    return one


#: Rows a strict trace cannot follow (and cr.jit refuses as well), with the reason: vmap
#: must raise ConcretizationError for them rather than return a batch.
UNTRACEABLE = {"lstsq": "cr.linalg.lstsq reads the rank from the singular values in Python"}

#: Rows whose functions see a number of elements that depends on each example's values
#: (piecewise calls each function on the elements its condition selects from x): vmap
#: must refuse them clearly when the examples disagree, rather than return a batch.
RAGGED = ("cnp.piecewise-",)


def _ragged(row) -> bool:
    return row.label.startswith(RAGGED) and "fixed" not in row.label


def _check_forward(fn, examples, in_axes, axis_size=None, fixed=None):
    n = len(examples[0])
    args = []
    for i in range(n):
        axis = in_axes[i]
        if axis is None:
            args.append(cr.tensor(fixed[i]))
        else:
            args.append(cr.tensor(_stack([ex[i] for ex in examples], axis)))
    mapped = cr.vmap(fn, in_axes=tuple(in_axes), axis_size=axis_size)
    before = [a.numpy().copy() for a in args]
    want = _stack([_as_np(o) for o in _loop(fn, examples, fixed)], 0)
    # the first call interprets the batched program, the later ones run it compiled
    # (generated NumPy reusing dead buffers): both must give the loop's answer and leave
    # the arguments as they were
    for _ in range(3):
        got = mapped(*args)
        np.testing.assert_allclose(_as_np(got), want, rtol=1e-10, atol=1e-12)
        assert _as_np(got).dtype == want.dtype
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a.numpy(), b)


def _axes_variants(shapes):
    """in_axes variants the shapes allow: all 0; 1 and -1 for the inputs with an axis
    (0-d inputs stay at 0); and each input in turn unmapped (None)."""
    n = len(shapes)
    variants = [tuple([0] * n)]
    for k in (1, -1):
        variants.append(tuple(k if len(s) >= 1 else 0 for s in shapes))
    if n > 1:
        for i in range(n):
            variants.append(tuple(None if j == i else 0 for j in range(n)))
    return variants


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_vmap_of_every_row_equals_the_loop(row):
    examples = _examples(row.shapes, 3, row.complex, row.domain)
    n = len(row.shapes)
    fn = _single(row.fn)
    if row.primitive in UNTRACEABLE:
        args = [cr.tensor(_stack([ex[i] for ex in examples], 0)) for i in range(n)]
        with pytest.raises(cr.ConcretizationError):
            cr.vmap(fn)(*args)
        return
    reads = _reads_data(row.fn)
    if _ragged(row):
        args = [cr.tensor(_stack([ex[i] for ex in examples], 0)) for i in range(n)]
        with np.errstate(all="ignore"), pytest.raises(BatchingError, match="different examples"):
            cr.vmap(fn)(*args)
        return
    row = dataclasses.replace(row, fn=fn)
    with np.errstate(all="ignore"):
        if reads:
            with pytest.raises(BatchingError, match="data"):
                _check_forward(row.fn, examples, tuple([0] * n))
            return
        for axes in _axes_variants(row.shapes):
            fixed = {i: examples[0][i] for i in range(n) if axes[i] is None}
            fixed_examples = [[fixed.get(i, ex[i]) for i in range(n)] for ex in examples]
            _check_forward(row.fn, fixed_examples, axes, fixed=fixed)
        # every input unmapped: B copies of the one result (axis_size says how many)
        fixed = dict(enumerate(examples[0]))
        _check_forward(row.fn, [examples[0]] * B, tuple([None] * n), axis_size=B, fixed=fixed)


@pytest.mark.parametrize("check", NONDIFF, ids=[c.id for c in NONDIFF])
def test_vmap_of_non_differentiable_primitives(check):
    rng = np.random.default_rng(1)
    examples = [[rng.standard_normal(s) * 2 for s in check.shapes] for _ in range(B)]
    if check.primitive == "argwhere":
        # as many positions in every example: a batch; different counts: a clear refusal
        x = np.stack([np.sign(e[0]) * np.arange(1, 13).reshape(3, 4) for e in examples[:1]] * B)
        _check_forward(check.fn, [[v] for v in x], (0,), fixed={})
        with pytest.raises(BatchingError, match="argwhere"):
            cr.vmap(check.fn)(np.stack([e[0] for e in examples]))
        return
    with np.errstate(all="ignore"):
        for axes in _axes_variants(check.shapes):
            fixed = {i: examples[0][i] for i in range(len(axes)) if axes[i] is None}
            ex = [[fixed.get(i, e[i]) for i in range(len(axes))] for e in examples]
            _check_forward(check.fn, ex, axes, fixed=fixed)


def _scalar_loss(fn, weights):
    """sum(fn(*xs) * weights), real: a scalar whose gradient exercises every VJP rule."""

    def loss(*xs):
        return cr.real(fn(*xs) * weights).sum()

    return loss


DIFF_ROWS = [r for r in ROWS if not _reads_data(r.fn)]


@pytest.mark.parametrize("row", DIFF_ROWS, ids=[r.id for r in DIFF_ROWS])
def test_vmap_of_grad_and_of_jvp_equal_the_loop(row):
    if row.primitive in UNTRACEABLE:
        pytest.skip(UNTRACEABLE[row.primitive])
    if _ragged(row):
        pytest.skip("the examples select different numbers of elements (refused above)")
    examples = _examples(row.shapes, 5, row.complex, row.domain)
    n = len(row.shapes)
    row = dataclasses.replace(row, fn=_single(row.fn))
    with np.errstate(all="ignore"):
        out = row.fn(*[cr.tensor(a) for a in examples[0]])
        rng = np.random.default_rng(2)
        weights = rng.standard_normal(out.shape)
        if row.complex:
            weights = weights + 1j * rng.standard_normal(out.shape)
        loss = _scalar_loss(row.fn, cr.tensor(weights))
        argnums = tuple(range(n))
        stacked = [cr.tensor(_stack([ex[i] for ex in examples], 0)) for i in range(n)]
        # vmap of grad: per-example gradients, every argument
        per_example = cr.vmap(cr.grad(loss, argnums=argnums))
        want = [cr.grad(loss, argnums=argnums)(*[cr.tensor(a) for a in ex]) for ex in examples]
        for _ in range(2):  # interpreted, then compiled
            got = per_example(*stacked)
            for i in range(n):
                np.testing.assert_allclose(
                    got[i].numpy(),
                    _stack([w[i].numpy() for w in want], 0),
                    rtol=1e-9,
                    atol=1e-12,
                )
        # vmap of jvp: a batch of primals and of tangents
        tangents = [rng.standard_normal((B, *s)) for s in row.shapes]
        if row.complex:
            tangents = [t + 1j * rng.standard_normal(t.shape) for t in tangents]

        def pushforward(*xs_ts):
            return cr.jvp(row.fn, xs_ts[:n], xs_ts[n:])[1]

        got_t = cr.vmap(pushforward)(*stacked, *[cr.tensor(t) for t in tangents])
        want_t = [
            cr.jvp(row.fn, [cr.tensor(a) for a in ex], [cr.tensor(t[b]) for t in tangents])[1]
            for b, ex in enumerate(examples)
        ]
        np.testing.assert_allclose(
            got_t.numpy(), _stack([w.numpy() for w in want_t], 0), rtol=1e-9, atol=1e-12
        )
