"""Tensor construction, attributes and conversions (API.md's "Tensors" section)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_dtype_rules():
    assert cr.tensor(1.5).dtype == np.float64
    assert cr.tensor([1.0, 2.0]).dtype == np.float64
    assert cr.tensor(3).dtype == np.int64
    assert cr.tensor(np.zeros(2, dtype=np.float32)).dtype == np.float32
    assert cr.tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert cr.tensor(True).dtype == bool


def test_tensor_copies_and_as_tensor_shares():
    a = np.array([1.0, 2.0])
    t = cr.tensor(a)
    a[0] = 9.0
    assert t.numpy()[0] == 1.0
    assert np.shares_memory(cr.as_tensor(a).numpy(), a)


def test_creation_functions():
    assert cr.zeros((2, 3)).shape == (2, 3) and cr.zeros(2, 3).shape == (2, 3)
    assert cr.ones(4).numpy().sum() == 4
    assert cr.zeros_like(cr.ones(2, 2)).shape == (2, 2)
    assert cr.ones_like(np.zeros(3)).numpy().tolist() == [1, 1, 1]
    assert cr.arange(5).dtype == np.int64 and cr.arange(0.0, 1.0, 0.5).shape == (2,)
    a, b = cr.randn(3, 2, seed=7), cr.randn(3, 2, seed=7)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert cr.randn(2, dtype=np.float32).dtype == np.float32
    r = cr.rand(100, seed=1).numpy()
    assert r.min() >= 0 and r.max() < 1
    assert cr.randn(2, requires_grad=True).requires_grad


def test_attributes_and_conversions():
    t = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.T.shape == (3, 2)
    assert t.is_leaf and t.grad is None and not t.requires_grad
    assert isinstance(t.numpy(), np.ndarray)
    assert np.asarray(t).shape == (2, 3)
    assert cr.tensor([[7.0]]).item() == 7.0
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    assert float(cr.tensor(2.5)) == 2.5
    assert "requires_grad=True" in repr(cr.tensor([1.0], requires_grad=True))
    assert "grad_fn=<mul>" in repr(cr.tensor([1.0], requires_grad=True) * 2)
    assert len(t) == 2 and [r.shape for r in t] == [(3,), (3,)]


def test_reshape_forms():
    t = cr.arange(6.0)
    assert t.reshape(2, 3).shape == (2, 3)
    assert t.reshape((3, 2)).shape == (3, 2)
    assert t.reshape(-1, 2).shape == (3, 2)
    assert t.reshape(2, 3).squeeze().shape == (2, 3)
    assert t.reshape(1, 6, 1).squeeze(axis=0).shape == (6, 1)
    assert t.expand_dims(0).shape == (1, 6)
    assert t.reshape(2, 3).transpose().shape == (3, 2)
    assert t.reshape(2, 3).transpose(1, 0).shape == (3, 2)


def test_functions_equal_methods():
    x = cr.tensor([[0.5, -1.0], [2.0, 0.1]])
    for name in ["exp", "tanh", "sigmoid", "relu", "abs", "sin", "cos"]:
        np.testing.assert_array_equal(getattr(cr, name)(x).numpy(), getattr(x, name)().numpy())
    np.testing.assert_array_equal(cr.sum(x, axis=0).numpy(), x.sum(axis=0).numpy())
    np.testing.assert_allclose(cr.softmax(x).numpy().sum(axis=-1), [1, 1])
    np.testing.assert_allclose(cr.log_softmax(x).exp().numpy(), cr.softmax(x).numpy())
    np.testing.assert_allclose(
        cr.logsumexp(x, axis=1).numpy(), np.log(np.exp(x.numpy()).sum(axis=1))
    )
    np.testing.assert_allclose(cr.mean(x).item(), x.numpy().mean())
    np.testing.assert_allclose(cr.var(x, ddof=1).item(), x.numpy().var(ddof=1))
    np.testing.assert_allclose(cr.outer([1.0, 2.0], [3.0, 4.0]).numpy(), [[3, 4], [6, 8]])
    assert cr.dot([1.0, 2.0], [3.0, 4.0]).item() == 11.0
    np.testing.assert_array_equal(
        cr.where(x > 0, x, 0.0).numpy(), np.where(x.numpy() > 0, x.numpy(), 0)
    )
    assert cr.stack([x, x], axis=0).shape == (2, 2, 2)
    assert cr.concatenate([x, x], axis=1).shape == (2, 4)


def test_stable_softmax_and_logsumexp_on_large_values():
    x = cr.tensor([1000.0, 1000.0], requires_grad=True)
    assert cr.logsumexp(x).item() == pytest.approx(1000 + np.log(2))
    cr.logsumexp(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 0.5])
    np.testing.assert_allclose(cr.softmax(cr.tensor([-1000.0, 0.0])).numpy(), [0.0, 1.0])
    assert cr.sigmoid(cr.tensor(-1000.0)).item() == 0.0
