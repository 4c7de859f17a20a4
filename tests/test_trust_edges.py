"""Trust at the edges (issue 9, items 1-11): no crash, no silent zero, no silently wrong
gradient where the engine's edges used to give one."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from checker import check_grads

# --------------------------------------------------------------------------- 1. any arity


def test_stack_and_concatenate_of_ten_thousand_tensors():
    xs = [cr.tensor(float(i), requires_grad=True) for i in range(10_000)]
    s = cr.stack(xs)
    (s * s).sum().backward()
    assert s.shape == (10_000,)
    np.testing.assert_array_equal([x.grad.item() for x in xs[:5]], [0.0, 2.0, 4.0, 6.0, 8.0])
    assert xs[-1].grad.item() == 2 * 9_999
    parts = [cr.tensor(np.ones(2) * i, requires_grad=True) for i in range(12)]
    c = cr.concatenate(parts)
    (c * np.arange(24.0)).sum().backward()
    np.testing.assert_array_equal(parts[11].grad.numpy(), [22.0, 23.0])
    # forward mode through a long concatenate
    _, t = cr.jvp(lambda *ps: cr.concatenate(ps), [p.numpy() for p in parts], [np.ones(2)] * 12)
    np.testing.assert_array_equal(t.numpy(), np.ones(24))


def test_jacobian_of_an_input_that_requires_grad_with_many_elements():
    x = cr.tensor(np.ones(10), requires_grad=True)  # recorded: the rows are stacked
    w = cr.tensor(np.arange(10.0), requires_grad=True)
    J = cr.jacobian(lambda t: t * w)(x)
    np.testing.assert_array_equal(J.numpy(), np.diag(np.arange(10.0)))
    J.sum().backward()  # and the Jacobian is differentiable in w
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(10))
    Jf = cr.jacobian(lambda t: t * w, mode="fwd")(x)
    np.testing.assert_array_equal(Jf.numpy(), J.numpy())


def test_grad_of_hessian():
    def f(x):
        return (x**4).sum()

    third = cr.grad(lambda x: cr.hessian(f)(x).sum())(np.arange(1.0, 10.0))
    np.testing.assert_allclose(third.numpy(), 24 * np.arange(1.0, 10.0))


# --------------------------------------------------------------------------- 2. structures


def test_hessian_with_tuple_argnums_is_nested_like_jax():
    def f(x, y):
        return (x**2).sum() * y.sum() + (y**3).sum()

    x, y = np.array([1.0, 2.0]), np.array([3.0, -1.0, 0.5])
    H = cr.hessian(f, argnums=(0, 1))(x, y)
    assert len(H) == 2 and len(H[0]) == 2
    assert H[0][0].shape == (2, 2) and H[0][1].shape == (2, 3)
    assert H[1][0].shape == (3, 2) and H[1][1].shape == (3, 3)
    # f = sum_i x_i^2 sum_j y_j + sum_j y_j^3: d2f/dx_i dx_k = 2 sum(y) [i == k]
    np.testing.assert_allclose(H[0][0].numpy(), 2 * y.sum() * np.eye(2))
    np.testing.assert_allclose(H[0][1].numpy(), np.outer(2 * x, np.ones(3)))
    np.testing.assert_allclose(H[1][0].numpy(), np.outer(np.ones(3), 2 * x))
    np.testing.assert_allclose(H[1][1].numpy(), np.diag(6 * y))


def test_jacobian_of_a_function_returning_a_tuple():
    def f(x):
        return x * 2, (x**2).sum(), x[:2]

    x = np.array([1.0, 2.0, 3.0])
    J = cr.jacobian(f)(x)
    assert isinstance(J, tuple) and len(J) == 3
    np.testing.assert_array_equal(J[0].numpy(), 2 * np.eye(3))
    np.testing.assert_array_equal(J[1].numpy(), 2 * x)
    np.testing.assert_array_equal(J[2].numpy(), np.eye(3)[:2])
    Jf = cr.jacobian(f, mode="fwd")(x)
    for a, b in zip(J, Jf):
        np.testing.assert_allclose(a.numpy(), b.numpy())


def test_grad_of_a_dict_of_parameters_keeps_the_structure():
    params = {"w": np.array([1.0, 2.0]), "b": 0.5}
    g = cr.grad(lambda p: (p["w"] * 3.0).sum() + p["b"] ** 2)(params)
    assert set(g) == {"w", "b"}
    np.testing.assert_array_equal(g["w"].numpy(), [3.0, 3.0])
    assert g["b"].item() == 1.0


# --------------------------------------------------------------------------- 3. Functions


class Cube(cr.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


def test_the_readme_cube_differentiates_twice_and_three_times():
    assert cr.grad(Cube.apply)(2.0).item() == 12.0
    assert cr.grad(cr.grad(Cube.apply))(2.0).item() == 12.0  # 6 x at 2
    assert cr.grad(cr.grad(cr.grad(Cube.apply)))(2.0).item() == 6.0
    x = cr.tensor(2.0, requires_grad=True)
    (g,) = cr.vjp(Cube.apply, x)[1](cr.tensor(1.0))
    g.backward()
    assert x.grad.item() == 12.0
    assert cr.gradgradcheck(lambda t: Cube.apply(t).sum(), [np.array([0.5, -1.5])])


def test_a_function_saving_its_output_differentiates_through_it():
    class Exp(cr.Function):
        @staticmethod
        def forward(ctx, x):
            out = np.exp(x)
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out

        @staticmethod
        def jvp(ctx, t):
            (out,) = ctx.saved_tensors
            return t * out

    check_grads(lambda x: Exp.apply(x), [np.array([0.3, -1.0])], order=2)


def test_a_backward_that_cannot_be_differentiated_raises_at_the_second_derivative():
    class ArrayBackward(cr.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return np.asarray(
                2.0 * np.asarray(getattr(x, "data", x)) * np.asarray(getattr(g, "data", g))
            )

    assert cr.grad(ArrayBackward.apply)(3.0).item() == 6.0
    with pytest.raises(RuntimeError, match="ArrayBackward.backward cannot be differentiated"):
        cr.grad(cr.grad(ArrayBackward.apply))(3.0)

    class SavesIntermediate(cr.Function):
        @staticmethod
        def forward(ctx, x):
            s = np.sin(x)
            ctx.save_for_backward(s, x)
            return s**2

        @staticmethod
        def backward(ctx, g):
            s, x = ctx.saved_tensors
            return 2 * s * cr.cos(x) * g

    assert cr.grad(SavesIntermediate.apply)(0.5).item() == pytest.approx(np.sin(1.0))
    with pytest.raises(RuntimeError, match="saved .*neither an input nor the output"):
        cr.grad(cr.grad(SavesIntermediate.apply))(0.5)

    class Once(cr.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**2

        @staticmethod
        @cr.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    assert cr.grad(Once.apply)(3.0).item() == 6.0
    with pytest.raises(RuntimeError, match="once_differentiable"):
        cr.grad(cr.grad(Once.apply))(3.0)


# --------------------------------------------------------------------------- 4. lists


def test_ops_given_a_list_of_tensors_stack_it_through_the_graph():
    x = cr.tensor(1.5, requires_grad=True)
    m = cr.mean([x, x + 2])
    m.backward()
    assert m.item() == 2.5 and x.grad.item() == 1.0
    y = cr.tensor([1.0, 2.0], requires_grad=True)
    s = cr.sum([[y, y * 2], [y * 3, y]])
    s.backward()
    np.testing.assert_array_equal(y.grad.numpy(), [7.0, 7.0])
    z = cr.tensor(2.0, requires_grad=True)
    (cr.exp([z, 0.0]).sum()).backward()
    assert z.grad.item() == pytest.approx(np.exp(2.0))
    w = cr.tensor(3.0, requires_grad=True)
    (w * [w, 1.0]).sum().backward()
    assert w.grad.item() == 7.0


# --------------------------------------------------------------------------- 6. versions


def test_an_optimizer_step_between_forward_and_backward_raises():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    loss = (w * w).sum()  # saves w
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place by 'optimizer step'"):
        loss.backward()


def test_data_augmented_assignment_between_forward_and_backward_raises():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.data *= 2
    with pytest.raises(RuntimeError, match="mul.*modified in place"):
        loss.backward()
    # replacing .data with another array changes nothing the graph saved: allowed
    v = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (v * v).sum()
    v.data = np.array([5.0, 5.0])
    loss.backward()
    np.testing.assert_array_equal(v.grad.numpy(), [2.0, 4.0])


def test_writing_into_the_array_behind_as_tensor_raises():
    a = np.array([1.0, 2.0, 3.0])
    t = cr.as_tensor(a)
    w = cr.tensor([1.0, 1.0, 1.0], requires_grad=True)
    loss = (t * w).sum()  # saves a for w's gradient
    a[0] = 5.0
    with pytest.raises(RuntimeError, match="as_tensor or Tensor.numpy"):
        loss.backward()
    b = cr.tensor([1.0, 2.0, 3.0])
    arr = b.numpy()
    loss = (b * w).sum()
    arr *= 3
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_an_in_place_tensor_method_between_forward_and_backward_raises():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = y.tanh()  # saves its output
    z.add_(1.0)
    with pytest.raises(RuntimeError, match="tanh.*modified in place by 'add_'"):
        z.sum().backward()
    c = cr.tensor([1.0, 2.0])
    loss = (x * c).sum()
    c.mul_(2.0)
    with pytest.raises(RuntimeError, match="mul_"):
        loss.backward()
    assert c._version == 1


def test_in_place_changes_after_backward_are_fine():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0])


# --------------------------------------------------------------------------- 7. in place


def test_in_place_on_a_leaf_that_requires_grad_is_refused_outside_no_grad():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    for op in [
        lambda: w.__iadd__(1),
        lambda: w.__isub__(1),
        lambda: w.__imul__(2),
        lambda: w.__itruediv__(2),
        lambda: w.add_(1),
        lambda: w.sub_(1),
        lambda: w.mul_(2),
        lambda: w.div_(2),
        lambda: w.zero_(),
        lambda: w.fill_(3.0),
        lambda: w.copy_(np.ones(2)),
        lambda: w.clamp_(0, 1),
        lambda: w.__setitem__(0, 5.0),
    ]:
        with pytest.raises(RuntimeError, match="in place"):
            op()
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


def test_manual_sgd_under_no_grad_updates_the_same_object():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    original = w
    data = w.data
    for _ in range(2):
        loss = (w * w).sum()
        loss.backward()
        with cr.no_grad():
            w -= 0.25 * w.grad
        w.grad = None
    assert w is original and w.requires_grad and w.data is data
    np.testing.assert_allclose(w.numpy(), [0.25, 0.5])
    with cr.no_grad():
        w.zero_()
        w.add_(np.array([1.0, 1.0]), alpha=2)
        w.clamp_(0, 1.5)
        w.mul_(2).div_(3)
    np.testing.assert_allclose(w.numpy(), [1.0, 1.0])


def test_in_place_on_a_non_leaf_is_recorded():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y += x**2  # y = 2x + x^2
    y *= 3  # y = 6x + 3x^2
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 + 6 * x.numpy())
    x.grad = None
    y = x * 1.0
    y[0] = x[1] * 10  # y = [10 x1, x1]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 11.0])
    x.grad = None
    y = x * 1.0
    y.copy_(x * x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
    # a plain tensor that takes in a tensor needing grad becomes part of the graph
    c = cr.zeros(2)
    c += x
    assert c.requires_grad and not c.is_leaf
    x.grad = None
    (c * c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())


def test_detach_shares_memory_both_ways():
    x = cr.tensor([1.0, 2.0, 3.0])
    d = x.detach()
    d[0] = 5.0
    assert x.numpy()[0] == 5.0
    x += 1
    np.testing.assert_array_equal(d.numpy(), [6.0, 3.0, 4.0])
    s = cr.tensor(1.0)
    ds = s.detach()
    ds += 1
    assert s.item() == 2.0


# --------------------------------------------------------------------------- 8. hooks


def test_hook_results_are_checked():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: "nope")
    with pytest.raises(RuntimeError, match="returned a str"):
        y.sum().backward()
    y = x * 2
    y.register_hook(lambda g: cr.ones(3))
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*shape \(2,\)"):
        y.sum().backward()
    y = x * 2
    y.register_hook(lambda g: g.astype(np.float32))
    with pytest.raises(RuntimeError, match="dtype float32"):
        y.sum().backward()
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    w.register_hook(lambda g: g[:1])
    with pytest.raises(RuntimeError, match="leaf tensor of shape"):
        (w * 3).sum().backward()
    v = cr.tensor([1.0, 2.0], requires_grad=True)
    v.register_hook(lambda g: g * 10)
    (v * 3).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [30.0, 30.0])


def test_post_accumulate_grad_hooks_fire_during_backward():
    order = []
    a = cr.tensor([1.0], requires_grad=True)
    b = cr.tensor([2.0], requires_grad=True)
    a.register_post_accumulate_grad_hook(lambda t: order.append(("a", t.grad.item())))
    b.register_post_accumulate_grad_hook(lambda t: order.append(("b", t.grad.item())))
    h = a * 3  # a is used once, early
    out = (h * b).sum() + (b * b).sum()  # b is used twice, later
    out.backward()
    assert order == [("b", 3.0 + 4.0), ("a", 6.0)]


# --------------------------------------------------------------------------- 9. powers


def test_x_to_the_zero_at_zero_has_derivative_zero_at_every_order():
    x = np.array([0.0, 1.0])
    f = lambda t: (t**0).sum()  # noqa: E731
    assert cr.grad(f)(x).numpy().tolist() == [0.0, 0.0]
    assert cr.hessian(f)(x).numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert cr.jvp(f, (x,), (np.ones(2),))[1].item() == 0.0
    y0 = cr.tensor(0.0)
    g = lambda t, y: (t**y).sum()  # noqa: E731  a tensor exponent
    assert cr.grad(g)(x, y0).numpy().tolist() == [0.0, 0.0]
    assert np.isfinite(cr.hessian(g)(x, y0).numpy()).all()


def test_zero_to_the_y_has_derivative_zero_in_y():
    y = np.array([0.5, 2.0, 3.0])
    f = lambda t: (0.0**t).sum()  # noqa: E731
    zero = np.zeros(3)
    np.testing.assert_array_equal(cr.grad(f)(y).numpy(), zero)
    np.testing.assert_array_equal(cr.hessian(f)(y).numpy(), np.zeros((3, 3)))
    np.testing.assert_array_equal(cr.jvp(f, (y,), (np.ones(3),))[1].numpy(), 0.0)
    x0 = cr.tensor(np.zeros(3))
    h = lambda t: (x0**t).sum()  # noqa: E731  a zero base held in a tensor
    np.testing.assert_array_equal(cr.grad(h)(y).numpy(), zero)
    np.testing.assert_array_equal(cr.grad(cr.grad(lambda t: (x0**t).sum()))(2.0).numpy(), 0)


# --------------------------------------------------------------------------- 10. float32


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: cr.clip(x, 0.0, 1.0),
        lambda x: x.clip(0, 1),
        lambda x: cr.add(1.0, x),
        lambda x: cr.sub(1.0, x),
        lambda x: cr.div(1.0, x),
        lambda x: cr.mul(2.0, x),
        lambda x: cr.pow(2.0, x),
        lambda x: cr.pow(x, 2.0),
        lambda x: cr.maximum(0.0, x),
        lambda x: cr.minimum(1.0, x),
        lambda x: cr.where(x > 0, x, 0.0),
        lambda x: 1.0 - x,
        lambda x: x**0.5,
        lambda x: x.mean(),
        lambda x: x.var(),
        lambda x: cr.softmax_cross_entropy(x.reshape(1, 3), [1]),
    ],
)
def test_float32_stays_float32_with_python_scalars(fn):
    x = cr.tensor(np.array([0.5, 1.5, 2.0], dtype=np.float32), requires_grad=True)
    out = fn(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_generated_code_keeps_float32():
    def f(x, w):
        h = cr.maximum(x @ w, 0.1) * 2.0 - cr.clip(x @ w, -0.5, 0.5) + cr.sigmoid(x @ w)
        return cr.softmax_cross_entropy(h, np.array([0, 1]))

    x = np.ones((2, 3), dtype=np.float32)
    w = np.linspace(-1, 1, 12).reshape(3, 4).astype(np.float32)
    value, grads = cr.trace(f, x, w).compile_flat()(x, w)
    assert np.asarray(value).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: t.max(),
        lambda t: cr.maximum(t, 1.0).sum(),
        lambda t: cr.minimum(t, 1.0).sum(),
        lambda t: t.mean(),
        lambda t: t.logsumexp(),
        lambda t: (t.softmax() * t).sum(),
        lambda t: cr.sigmoid(t).sum(),
        lambda t: t.clip(0, 1).sum(),
        lambda t: cr.where(t > 1, t, 0.0).sum(),
        lambda t: t.var(),
    ],
)
def test_generated_gradients_have_the_inputs_dtype(fn):
    x = np.array([0.5, 1.5, 2.0], dtype=np.float32)
    value, (g,) = cr.trace(fn, x).compile_flat()(x)
    assert np.asarray(value).dtype == np.float32 and g.dtype == np.float32
    t = cr.tensor(x, requires_grad=True)
    fn(t).backward()
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-6)
