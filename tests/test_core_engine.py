"""The engine and the object API: accumulation, forks, freeing, retain/create graph,
hooks, grad modes, deep graphs, memory release, dtypes and subgradient choices."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import chainrule as cr


def test_gradients_add_up_at_forks():
    x = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * x + x  # x forks three ways
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 1)


def test_grad_accumulates_across_backward_calls_and_clears():
    x = cr.tensor(2.0, requires_grad=True)
    (x * 3).backward()
    (x * 4).backward()
    assert x.grad.item() == 7.0  # += like PyTorch
    x.grad = None
    (x * 5).backward()
    assert x.grad.item() == 5.0


def test_second_backward_needs_retain_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.tanh() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    x.grad = None
    z = (x.tanh() * x).sum()
    z.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_backward_frees_saved_values():
    x = cr.tensor(np.ones(3), requires_grad=True)
    y = x.tanh()
    loss = (y * y).sum()
    node = y._node
    assert node.saved_nbytes() > 0
    loss.backward()
    assert node.saved_nbytes() == 0 and node.freed


def test_non_scalar_backward_needs_a_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="gradient is needed"):
        (x * 2).backward()
    (x * 2).backward(cr.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_without_graph_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor(1.0).backward()


def test_create_graph_gives_differentiable_gradients_to_third_order():
    x = cr.tensor(1.5, requires_grad=True)
    y = x**4
    y.backward(create_graph=True)
    g1 = x.grad  # 4 x^3
    assert g1.requires_grad
    x.grad = None
    g1.backward(create_graph=True)
    g2 = x.grad  # 12 x^2
    x.grad = None
    g2.backward()
    assert g1.item() == pytest.approx(4 * 1.5**3)
    assert g2.item() == pytest.approx(12 * 1.5**2)
    assert x.grad.item() == pytest.approx(24 * 1.5)


def test_no_grad_and_enable_grad():
    x = cr.tensor(1.0, requires_grad=True)
    with cr.no_grad():
        y = x * 2
        with cr.enable_grad():
            z = x * 3
    assert not y.requires_grad and z.requires_grad
    assert cr.is_grad_enabled()

    @cr.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad


def test_detach_shares_data_and_drops_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.is_leaf and not d.requires_grad
    assert np.shares_memory(d.numpy(), y.numpy())
    loss = (y * d).sum()  # d is a constant: gradient 2 * d
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * d.numpy())


def test_retain_grad_on_non_leaf():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    assert (x * 3).grad is None  # not retained


def test_hooks_see_and_replace_gradients():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = x.register_hook(lambda g: g * 10)
    h.sum().backward()
    np.testing.assert_allclose(seen[0], [1.0, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_hundred_thousand_op_chain_backpropagates():
    x = cr.tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])


def test_memory_held_by_a_graph_is_released_after_backward():
    gc.collect()
    tracemalloc.start()
    try:
        x = cr.tensor(np.random.default_rng(0).standard_normal(200_000), requires_grad=True)
        base = tracemalloc.get_traced_memory()[0]
        y = x
        for _ in range(10):
            y = (y * 0.9).tanh()
        loss = y.sum()
        held = tracemalloc.get_traced_memory()[0] - base
        loss.backward()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    activation = 200_000 * 8
    assert held >= 10 * activation  # the graph keeps the tanh outputs for backward
    # loss and y are still referenced, but the saved values are gone: what remains is
    # y's own array and x.grad (plus a few small objects)
    assert after <= 2 * activation + 50_000, (held, after)


def test_gradients_keep_the_input_dtype():
    x = cr.tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    w = cr.tensor(np.array([2.0, 3.0]), requires_grad=True)  # float64
    y = (x.tanh() * w).sum() + (x * 2.5).sum()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64
    s = cr.tensor(np.float32(2.0), requires_grad=True)
    (s * s).backward()
    assert s.grad.dtype == np.float32 and s.grad.shape == () and s.grad.item() == 4.0


def test_leaf_gradients_are_private_writable_arrays():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    z = cr.tensor([3.0, 4.0], requires_grad=True)
    b = cr.tensor(1.0, requires_grad=True)
    (x + z + b.broadcast_to((2,))).backward(np.ones(2))
    gx, gz = x.grad.numpy(), z.grad.numpy()
    assert not np.shares_memory(gx, gz)
    assert gx.flags.writeable and gz.flags.writeable
    gx[0] = 100.0
    assert gz[0] == 1.0


def test_only_floating_tensors_may_require_grad():
    with pytest.raises(TypeError, match="int64"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="bool"):
        cr.tensor([True]).requires_grad_(True)
    assert cr.tensor([1.0]).requires_grad_().requires_grad


def test_requires_grad_cannot_change_on_non_leaves():
    y = cr.tensor(1.0, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        (cr.relu, 0.0, 0.0),  # relu'(0) = 0
        (cr.abs, 0.0, 0.0),  # abs'(0) = 0
        (lambda t: cr.clip(t, -1.0, 1.0), 1.0, 1.0),  # bounds included
        (lambda t: cr.clip(t, -1.0, 1.0), -1.0, 1.0),
        (lambda t: cr.clip(t, -1.0, 1.0), 1.5, 0.0),
        (lambda t: cr.maximum(t, 0.0), 0.0, 0.5),  # ties split evenly
        (lambda t: cr.minimum(t, 0.0), 0.0, 0.5),
    ],
)
def test_subgradient_choices(fn, x, expected):
    t = cr.tensor(x, requires_grad=True)
    fn(t).backward()
    assert t.grad.item() == expected


def test_max_and_min_reductions_route_to_the_extreme_and_split_ties():
    x = cr.tensor([1.0, 5.0, 5.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0.5, 0.5, 0])
    y = cr.tensor([[3.0, 1.0], [0.0, 4.0]], requires_grad=True)
    y.min(axis=1).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 1], [1, 0]])


def test_indexing_scatters_and_accumulates_repeats():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 2, 2, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 3])
    m = cr.tensor([[1.0, -1.0], [-2.0, 2.0]], requires_grad=True)
    m[m > 0].sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [[1, 0], [0, 1]])


def test_setitem_changes_memory_and_a_backward_that_saved_it_raises():
    # PyTorch's rule (API.md): setitem is in place; a backward that saved the old values
    # raises, naming the operation, instead of using the new ones silently.
    c = cr.tensor([1.0, 2.0])
    x = cr.tensor([3.0, 4.0], requires_grad=True)
    y = (x * c).sum()
    c[0] = 100.0
    assert c.numpy()[0] == 100.0
    with pytest.raises(RuntimeError, match="mul.*modified in place by 'setitem'"):
        y.backward()
    with pytest.raises(RuntimeError, match="in place"):
        x[0] = 1.0


def test_reflected_operators_with_arrays_and_numbers():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0]) * x + 1.0 - 2.0 / x + 2.0**x
    assert isinstance(y, cr.Tensor)
    y.sum().backward()
    expected = (
        np.array([3.0, 4.0]) + 2.0 / np.array([1.0, 4.0]) + np.log(2) * 2.0 ** np.array([1.0, 2.0])
    )
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_comparisons_give_boolean_tensors_without_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == bool and not m.requires_grad
    np.testing.assert_array_equal((x == 1.0).numpy(), [True, False])


def test_cross_entropy_keeps_its_log_softmax_and_differentiates_through_it():
    # softmax_cross_entropy records logp = log_softmax(x) as its own node and the loss as
    # cross_entropy(x, logp, labels): the first-order gradient comes from the kept logp in
    # one kernel, and higher orders differentiate through logp (it depends on x).
    rng = np.random.default_rng(5)
    x0, labels = rng.standard_normal((4, 3)), np.array([2, 0, 1, 1])
    x = cr.tensor(x0, requires_grad=True)
    loss = cr.softmax_cross_entropy(x, labels)
    logp = x0 - np.log(np.exp(x0).sum(axis=1, keepdims=True))
    assert loss._node.prim.name == "cross_entropy"
    np.testing.assert_allclose(loss._node.inputs[1], logp, rtol=1e-12)  # kept log-softmax
    assert loss._node.inputs[0] is None  # the logits themselves are not kept
    loss.backward()
    expected = (np.exp(logp) - np.eye(3)[labels]) / 4
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    # second order: the Hessian-vector product by numerics
    v = rng.standard_normal((4, 3))

    def g(z):
        return cr.grad(lambda w: cr.softmax_cross_entropy(w, labels))(z)

    hv = cr.jvp(g, (x0,), (v,))[1].numpy()
    eps = 1e-6
    numeric = (g(x0 + eps * v).numpy() - g(x0 - eps * v).numpy()) / (2 * eps)
    np.testing.assert_allclose(hv, numeric, rtol=1e-6, atol=1e-9)
    # forward mode
    t = cr.jvp(lambda w: cr.softmax_cross_entropy(w, labels), (x0,), (v,))[1]
    np.testing.assert_allclose(float(t.numpy()), float((expected * v).sum()), rtol=1e-10)

    # third order, by numerics along v
    def h(z):
        return cr.jvp(g, (z,), (v,))[1]

    h3 = cr.jvp(h, (x0,), (v,))[1].numpy()
    numeric3 = (h(x0 + eps * v).numpy() - h(x0 - eps * v).numpy()) / (2 * eps)
    np.testing.assert_allclose(h3, numeric3, rtol=1e-5, atol=1e-8)
