"""Property tests for chainrule.numpy's shape functions against NumPy: for random shapes
and arguments the values equal NumPy's exactly, and, these being linear maps, the gradient
is their adjoint (<f(v), w> == <v, vjp(w)> for random v and w)."""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None)
shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4)


def _outs(v):
    return list(v) if isinstance(v, (tuple, list)) else [v]


def check_linear(call, shape):
    """Values equal NumPy's, and the VJP is the adjoint of the map."""
    rng = np.random.default_rng(abs(hash(shape)) % 2**32)
    v = rng.standard_normal(shape)
    expected = _outs(call(np, v))
    ours = _outs(call(cnp, cr.tensor(v)))
    assert len(ours) == len(expected)
    for o, e in zip(ours, expected):
        assert isinstance(o, cr.Tensor)
        assert o.shape == np.shape(e) and o.dtype == np.asarray(e).dtype
        np.testing.assert_array_equal(o.numpy(), e)
    ws = [rng.standard_normal(np.shape(e)) for e in expected]
    _, vjp = cr.vjp(
        lambda t: cnp.concatenate([cnp.ravel(o) for o in _outs(call(cnp, t))] or [t[:0].ravel()]),
        cr.tensor(v),
    )
    w_flat = np.concatenate([w.ravel() for w in ws]) if ws else np.zeros(0)
    (g,) = vjp(cr.tensor(w_flat))
    lhs = sum(float(np.sum(e * w)) for e, w in zip(expected, ws))
    np.testing.assert_allclose(float(np.sum(v * g.numpy())), lhs, rtol=1e-9, atol=1e-9)


def axes_of(shape):
    return st.integers(-len(shape), len(shape) - 1)


@SETTINGS
@given(st.data())
def test_moveaxis(data):
    shape = data.draw(shapes)
    n = len(shape)
    k = data.draw(st.integers(1, n))
    src = data.draw(st.permutations(range(n)))[:k]
    dst = data.draw(st.permutations(range(-n, 0)))[:k]
    check_linear(lambda xp, x: xp.moveaxis(x, src, dst), shape)


@SETTINGS
@given(st.data())
def test_swapaxes_and_transpose(data):
    shape = data.draw(shapes)
    a, b = data.draw(axes_of(shape)), data.draw(axes_of(shape))
    check_linear(lambda xp, x: xp.swapaxes(x, a, b), shape)
    perm = data.draw(st.permutations(range(len(shape))))
    check_linear(lambda xp, x: xp.transpose(x, perm), shape)


@SETTINGS
@given(shapes, st.lists(st.integers(0, 3), min_size=0, max_size=5))
def test_tile(shape, reps):
    check_linear(lambda xp, x: xp.tile(x, tuple(reps)), shape)


@SETTINGS
@given(st.data())
def test_repeat(data):
    shape = data.draw(shapes)
    axis = data.draw(st.none() | axes_of(shape))
    n = int(np.prod(shape)) if axis is None else shape[axis]
    repeats = data.draw(st.integers(0, 3) | st.lists(st.integers(0, 3), min_size=n, max_size=n))
    check_linear(lambda xp, x: xp.repeat(x, repeats, axis=axis), shape)


@SETTINGS
@given(st.data())
def test_roll(data):
    shape = data.draw(shapes)
    axis = data.draw(st.none() | axes_of(shape) | st.lists(axes_of(shape), min_size=1, max_size=3))
    if isinstance(axis, list):
        shift = data.draw(st.lists(st.integers(-6, 6), min_size=len(axis), max_size=len(axis)))
    else:
        shift = data.draw(st.integers(-6, 6))
    check_linear(lambda xp, x: xp.roll(x, shift, axis=axis), shape)


@SETTINGS
@given(st.data())
def test_flip_and_rot90(data):
    shape = data.draw(shapes)
    n = len(shape)
    axis = data.draw(
        st.none()
        | axes_of(shape)
        | st.permutations(range(n)).map(lambda p: tuple(p[: max(1, n // 2)]))
    )
    check_linear(lambda xp, x: xp.flip(x, axis=axis), shape)
    if n >= 2:
        axes = tuple(data.draw(st.permutations(range(n)))[:2])
        k = data.draw(st.integers(-5, 5))
        check_linear(lambda xp, x: xp.rot90(x, k, axes=axes), shape)


@SETTINGS
@given(st.data())
def test_split_and_array_split(data):
    shape = data.draw(shapes)
    axis = data.draw(axes_of(shape))
    n = shape[axis]
    points = sorted(data.draw(st.lists(st.integers(0, n + 2), max_size=4)))
    check_linear(lambda xp, x: xp.array_split(x, points, axis=axis), shape)
    sections = data.draw(st.integers(1, 4))
    check_linear(lambda xp, x: xp.array_split(x, sections, axis=axis), shape)
    divisors = [d for d in range(1, 5) if n % d == 0] if n else [1, 2]
    parts = data.draw(st.sampled_from(divisors))
    check_linear(lambda xp, x: xp.split(x, parts, axis=axis), shape)


@SETTINGS
@given(st.data())
def test_pad(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    widths = data.draw(
        st.lists(
            st.tuples(st.integers(0, 3), st.integers(0, 3)),
            min_size=len(shape),
            max_size=len(shape),
        )
    )
    mode = data.draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
    if mode == "reflect" and any(s == 1 for s, w in zip(shape, widths) if w != (0, 0)):
        mode = "symmetric"  # NumPy reflects a length-1 axis too, as edge
    check_linear(lambda xp, x: xp.pad(x, widths, mode=mode), shape)


@SETTINGS
@given(st.data())
def test_diagonal_and_trace(data):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=4, min_side=0, max_side=4))
    a, b = data.draw(st.permutations(range(len(shape))))[:2]
    offset = data.draw(st.integers(-5, 5))
    check_linear(lambda xp, x: xp.diagonal(x, offset, a, b), shape)
    check_linear(lambda xp, x: xp.trace(x, offset, a, b), shape)


@SETTINGS
@given(st.data())
def test_diff_and_cumsum(data):
    shape = data.draw(shapes)
    axis = data.draw(axes_of(shape))
    n = data.draw(st.integers(0, 3))
    check_linear(lambda xp, x: xp.diff(x, n=n, axis=axis), shape)
    check_linear(lambda xp, x: xp.cumsum(x, axis=axis), shape)


@SETTINGS
@given(st.data())
def test_expand_squeeze_and_stacks(data):
    shape = data.draw(shapes)
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_linear(lambda xp, x: xp.squeeze(xp.expand_dims(x, axis)), shape)
    check_linear(lambda xp, x: xp.vstack([x, x]), shape)
    check_linear(lambda xp, x: xp.hstack([x, x * 2]), shape)
    check_linear(lambda xp, x: xp.dstack([x]), shape)
    k = data.draw(st.integers(-3, 3))
    check_linear(lambda xp, x: xp.tril(x, k), shape)
