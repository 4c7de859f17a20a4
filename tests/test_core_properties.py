"""Property tests (hypothesis): gradients under arbitrary NumPy broadcasting and indexing."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None)


def _reduce_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Reference: sum a broadcast array back to ``shape``, written independently."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


@SETTINGS
@given(
    hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    st.integers(0, 2**32 - 1),
)
def test_binary_gradients_under_broadcasting(shapes, seed):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a0, b0 = rng.standard_normal(sa), rng.standard_normal(sb) + 3.0
    u = rng.standard_normal(out_shape)
    a, b = cr.tensor(a0, requires_grad=True), cr.tensor(b0, requires_grad=True)
    out = a * b + a / b - b
    assert out.shape == out_shape
    out.backward(u)
    np.testing.assert_allclose(a.grad.numpy(), _reduce_to(u * b0 + u / b0, sa), rtol=1e-10)
    np.testing.assert_allclose(
        b.grad.numpy(), _reduce_to(u * a0 - u * a0 / b0**2 - u, sb), rtol=1e-10
    )
    assert a.grad.shape == sa and b.grad.shape == sb


@SETTINGS
@given(
    hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3),
    st.integers(0, 2**32 - 1),
)
def test_forward_mode_under_broadcasting(shapes, seed):
    (sa, sb), _ = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a0, b0 = rng.standard_normal(sa), rng.standard_normal(sb)
    ta, tb = rng.standard_normal(sa), rng.standard_normal(sb)
    _, tangent = cr.jvp(lambda x, y: cr.tanh(x * y), (a0, b0), (ta, tb))
    expected = (1 - np.tanh(a0 * b0) ** 2) * (ta * b0 + a0 * tb)
    np.testing.assert_allclose(tangent.numpy(), expected, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(
    st.integers(1, 6),
    st.lists(st.integers(-6, 5), min_size=1, max_size=8),
    st.integers(0, 2**32 - 1),
)
def test_integer_indexing_scatters_and_accumulates(n, raw, seed):
    idx = np.array([i % n for i in raw])  # valid, possibly repeated, indices
    x = cr.tensor(np.random.default_rng(seed).standard_normal(n), requires_grad=True)
    w = np.arange(1.0, len(idx) + 1)
    (x[idx] * w).sum().backward()
    expected = np.zeros(n)
    np.add.at(expected, idx, w)
    np.testing.assert_allclose(x.grad.numpy(), expected)


@SETTINGS
@given(
    hnp.arrays(np.bool_, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    st.integers(0, 2**32 - 1),
)
def test_boolean_mask_gradient(mask, seed):
    x0 = np.random.default_rng(seed).standard_normal(mask.shape)
    x = cr.tensor(x0, requires_grad=True)
    picked = x[mask]
    assert picked.shape == (int(mask.sum()),)
    (picked * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2.0 * mask)


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_basic_slicing_gradient_matches_numpy(shape, data):
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    x = cr.tensor(np.arange(float(np.prod(shape))).reshape(shape), requires_grad=True)
    out = x[index]
    np.testing.assert_array_equal(out.numpy(), x.numpy()[index])
    out.sum().backward()
    expected = np.zeros(shape)
    expected[index] += 1  # basic indices select each element at most once
    np.testing.assert_array_equal(x.grad.numpy(), expected)
