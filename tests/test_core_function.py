"""Custom operations with cr.Function."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


class Cube(cr.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


class MulAdd(cr.Function):
    """x * y + c with a non-tensor argument c (gradient None)."""

    @staticmethod
    def forward(ctx, x, y, c):
        ctx.save_for_backward(x, y)
        return x * y + c

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, g * x, None

    @staticmethod
    def jvp(ctx, tx, ty, tc):
        x, y = ctx.saved_tensors
        out = 0
        if tx is not None:
            out = out + tx * y
        if ty is not None:
            out = out + x * ty
        return out


def test_cube_like_the_api_example():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(t)
    np.testing.assert_allclose(y.numpy(), [1.0, 8.0])
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [3.0, 12.0])
    assert cr.gradcheck(lambda x: Cube.apply(x), [np.array([0.5, -1.5])])


def test_function_inside_a_larger_graph_and_non_tensor_arguments():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.tensor([3.0, 4.0], requires_grad=True)
    out = (MulAdd.apply(x.tanh(), y, 5.0) ** 2).sum()
    out.backward()
    tx = np.tanh([1.0, 2.0])
    inner = tx * [3.0, 4.0] + 5.0
    np.testing.assert_allclose(y.grad.numpy(), 2 * inner * tx)
    np.testing.assert_allclose(x.grad.numpy(), 2 * inner * [3.0, 4.0] * (1 - tx**2))


def test_function_forward_mode():
    _, t = cr.jvp(
        lambda a, b: MulAdd.apply(a, b, 0.0),
        (np.array([2.0]), np.array([3.0])),
        (np.array([1.0]), np.array([0.0])),
    )
    assert t.numpy().tolist() == [3.0]
    with pytest.raises(RuntimeError, match="Cube has no forward-mode rule"):
        cr.jvp(lambda a: Cube.apply(a), (np.array([2.0]),), (np.array([1.0]),))


def test_backward_written_with_operators_is_differentiable_in_the_upstream_gradient():
    # with create_graph, g is a Tensor: 3 x^2 g is linear in g, so d/dg is recorded
    x = cr.tensor(2.0, requires_grad=True)
    (gx,) = cr.vjp(lambda t: Cube.apply(t), x)[1](cr.tensor(1.0))
    assert gx.item() == 12.0


def test_wrong_number_of_gradients_names_the_function():
    class Bad(cr.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = cr.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Bad.backward returned 1 gradient\(s\), .*2 input"):
        Bad.apply(x, x).backward()


def test_wrong_gradient_shape_names_the_function():
    class BadShape(cr.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return np.ones(5)

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BadShape.backward .* shape \(5,\) .* shape \(2,\)"):
        BadShape.apply(x).backward()


def test_forward_must_return_an_array():
    class NotArray(cr.Function):
        @staticmethod
        def forward(ctx, x):
            return [1.0]

    with pytest.raises(RuntimeError, match="NotArray.forward must return an ndarray"):
        NotArray.apply(cr.tensor([1.0], requires_grad=True))
