"""NumPy on Tensors: ufuncs, ufunc methods and functions dispatch to chainrule.numpy and
record; what chainrule does not implement raises TypeError naming it; out= and where= work
or are refused clearly; arrays on the left of an operator give Tensors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.numpy import dispatch
from checker import check_grads


def leaf(values):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize(
    "fn, expected",
    [
        (lambda t: np.exp(t), lambda x: np.exp(x)),
        (lambda t: np.tan(t), lambda x: 1 + np.tan(x) ** 2),
        (lambda t: np.log1p(t * t), lambda x: 2 * x / (1 + x * x)),
        (lambda t: np.cumsum(t), lambda x: np.arange(len(x), 0, -1.0)),
        (lambda t: np.prod(t), lambda x: np.prod(x) / x),
        (lambda t: np.std(t), lambda x: (x - x.mean()) / (len(x) * x.std())),
        (lambda t: np.sort(t) * np.arange(3.0), lambda x: np.argsort(np.argsort(x)) * 1.0),
        (lambda t: np.where(t > 0, t, 0), lambda x: (x > 0) * 1.0),
        (lambda t: np.concatenate([t, np.ones(2)]), lambda x: np.ones(3)),
        (lambda t: np.arctan2(t, 2.0), lambda x: 2.0 / (x * x + 4.0)),
        (lambda t: np.maximum(t, 0.0), lambda x: (x > 0) * 1.0),
        (lambda t: np.mean(np.abs(t)), lambda x: np.sign(x) / 3),
        (lambda t: np.sum(t**2, axis=0, keepdims=True), lambda x: 2 * x),
        (lambda t: np.add.reduce(t * t), lambda x: 2 * x),
        (
            lambda t: np.multiply.accumulate(t),
            lambda x: np.array([1 + x[1] + x[1] * x[2], x[0] + x[0] * x[2], x[0] * x[1]]),
        ),
        (lambda t: np.ones(3) * t, lambda x: np.ones(3)),
        (lambda t: np.ones(3) - t, lambda x: -np.ones(3)),
        (lambda t: np.float64(2.0) ** t, lambda x: np.log(2) * 2**x),
        (lambda t: np.ones((3, 3)) @ t, lambda x: 3 * np.ones(3)),
        (lambda t: np.roll(np.flip(t), 1), lambda x: np.ones(3)),
        (lambda t: np.trace(np.outer(t, t)), lambda x: 2 * x),
    ],
)
def test_numpy_calls_return_tensors_that_record(fn, expected):
    x0 = np.array([0.5, -1.2, 2.0])
    x = leaf(x0)
    y = fn(x)
    assert isinstance(y, cr.Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected(x0), rtol=1e-10, atol=1e-12)


def test_second_order_through_numpy_calls():
    f = lambda t: np.sum(np.sin(t) * np.exp(t))  # noqa: E731
    h = cr.hessian(f)(np.array([0.3, 0.7])).numpy()
    x = np.array([0.3, 0.7])
    np.testing.assert_allclose(np.diag(h), 2 * np.cos(x) * np.exp(x), rtol=1e-12)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda t: np.packbits(t.astype(np.uint8)), "numpy.packbits"),
        (lambda t: np.einsum_path("i,i", t, t), "numpy.einsum_path"),
        (
            lambda t: np.lib.stride_tricks.sliding_window_view(t, 2),
            "numpy.lib.stride_tricks.sliding_window_view",
        ),
        (lambda t: np.isnat(t), "numpy.isnat"),
        (lambda t: np.unpackbits(t.astype(np.uint8)), "numpy.unpackbits"),
        (lambda t: np.maximum.at(t, [0], 1.0), "numpy.maximum.at"),
        (lambda t: np.subtract.reduce(t), "numpy.subtract.reduce"),
        (lambda t: np.logical_and.accumulate(t > 0), "numpy.logical_and.accumulate"),
    ],
)
def test_unsupported_numpy_functions_raise_naming_them(call, name):
    t = leaf([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=rf"{name} is not supported on chainrule Tensors") as info:
        call(t)
    assert "t.numpy()" in str(info.value)


def test_every_function_of_the_namespace_that_numpy_has_is_dispatched():
    table = dispatch.handled()
    for name in cnp.__all__:
        target = getattr(np, name, None)
        if target is None or not callable(target) or isinstance(target, type):
            continue
        assert target in table, f"numpy.{name} is not dispatched to chainrule.numpy.{name}"
        assert table[target] is getattr(cnp, name)


def test_queries_answer_with_python_values():
    t = leaf([[1.0, 2.0, 3.0]])
    assert np.shape(t) == (1, 3) and np.ndim(t) == 2 and np.size(t) == 3
    assert np.allclose(t, t * (1 + 1e-12)) is True
    assert np.array_equal(t, [[1.0, 2.0, 3.0]])
    assert np.result_type(t, 1.0) == np.float64
    assert np.iscomplexobj(t) is False
    assert np.isclose(t, 2.0).tolist() == [[False, True, False]]
    assert "2." in np.array2string(t)
    np.testing.assert_allclose(t, [[1.0, 2.0, 3.0]])  # conversion for assertions still works


def test_conversions_leave_the_graph_explicitly():
    t = leaf([1.0, 2.0])
    for a in (np.asarray(t), np.array(t), t.numpy()):
        assert type(a) is np.ndarray
    assert np.asarray(t).dtype == np.float64


def test_out_writes_into_a_tensor_and_records():
    x = leaf([0.0, 1.0])
    out = cr.zeros(2)
    result = np.exp(x, out=out)
    assert result is out
    np.testing.assert_allclose(out.numpy(), np.exp([0.0, 1.0]))
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]))
    # reductions too
    y = leaf([1.0, 2.0, 3.0])
    total = cr.zeros(())
    np.sum(y * y, out=total)
    total.backward()
    np.testing.assert_allclose(y.grad.numpy(), [2.0, 4.0, 6.0])


def test_out_with_where_keeps_the_old_values_elsewhere():
    x = leaf([1.0, 2.0, 3.0])
    out = cr.tensor([9.0, 9.0, 9.0])
    np.multiply(x, 2.0, out=out, where=np.array([True, False, True]))
    np.testing.assert_array_equal(out.numpy(), [2.0, 9.0, 6.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 2.0])


def test_out_and_where_refused_clearly():
    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"exp: out= must be a chainrule Tensor"):
        np.exp(x, out=np.zeros(2))
    with pytest.raises(TypeError, match=r"exp: where= without out="):
        np.exp(x, where=np.array([True, False]))
    with pytest.raises(TypeError, match=r"exp: the keyword argument casting='unsafe'"):
        np.exp(x, casting="unsafe")
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        np.exp(x, out=x)
    with pytest.raises(TypeError, match="cannot write a float64 result into out= of dtype int64"):
        np.exp(x, out=cr.zeros(2, dtype=np.int64))


def test_dtype_keyword_casts_first():
    x = cr.tensor(np.array([1.0, 2.0]))
    assert np.exp(x, dtype=np.float32).dtype == np.float32
    assert np.sum(x, dtype=np.float32).dtype == np.float32
    assert (
        np.cumsum(cr.tensor(np.array([True, True]))).dtype
        == np.cumsum(np.array([True, True])).dtype
    )
    assert np.mean(cr.tensor(np.array([1, 2]))).dtype == np.float64


def test_ufunc_methods():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(np.add.reduce(x).numpy(), [4.0, 6.0])  # axis=0 by default
    np.testing.assert_array_equal(np.maximum.reduce(x, axis=1).numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(np.add.accumulate(x, axis=1).numpy(), [[1, 3], [3, 7]])
    np.testing.assert_allclose(
        np.logaddexp.reduce(x, axis=None).numpy(), np.logaddexp.reduce(x.numpy(), axis=None)
    )
    outer = np.multiply.outer(x[0], x[1])
    np.testing.assert_array_equal(outer.numpy(), np.multiply.outer([1.0, 2.0], [3.0, 4.0]))
    outer.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[7.0, 7.0], [3.0, 3.0]])


def test_add_at_accumulates_in_place_and_records():
    # np.add.at / np.subtract.at: repeated indices add up (unbuffered), the Tensor changes
    # in place, and the gradient reaches both the old values and the added ones
    a = leaf([0.0, 1.0, 2.0, 3.0])
    b = leaf([1.0, 2.0, 3.0])
    y = a * 1.0
    assert np.add.at(y, np.array([0, 0, 3]), b) is None
    np.subtract.at(y, [1], 5.0)
    ref = np.arange(4.0)
    np.add.at(ref, [0, 0, 3], [1.0, 2.0, 3.0])
    np.subtract.at(ref, [1], 5.0)
    np.testing.assert_array_equal(y.numpy(), ref)
    (y * np.array([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0, 4.0])  # g[index]

    def f(w, v):
        z = w * 2.0
        np.add.at(z, (np.array([0, 0]), slice(None)), v)  # v broadcast over the index
        return (z**2).sum()

    w, v = np.arange(6.0).reshape(3, 2), np.array([1.0, -2.0])
    check_grads(f, [w, v])
    for g_eager, g_jit in zip(cr.grad(f, (0, 1))(w, v), cr.jit(cr.grad(f, (0, 1)))(w, v)):
        np.testing.assert_allclose(g_jit.numpy(), g_eager.numpy())
    i = cr.tensor(np.zeros(3, dtype=np.int64))
    np.add.at(i, [2, 2], 1)
    np.testing.assert_array_equal(i.numpy(), [0, 0, 2])


@pytest.mark.parametrize(
    "call, err, pattern",
    [
        (lambda: np.multiply.at(cr.zeros(3), [0], 2.0), TypeError, "numpy.multiply.at"),
        (lambda: np.add.at(np.zeros(3), [0], cr.tensor(1.0)), TypeError, "drop the gradient"),
        (lambda: np.add.at(cr.zeros(4), [0, 1], np.ones(3)), ValueError, r"shape \(2,\)"),
        (lambda: np.add.at(cr.zeros(4), [7], 1.0), IndexError, "numpy.add.at"),
        (lambda: np.add.at(leaf([1.0]), [0], 1.0), RuntimeError, "leaf tensor"),
    ],
)
def test_add_at_refuses_clearly(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


def test_arrays_and_numpy_scalars_on_the_left_give_tensors():
    t = leaf([1.0, 2.0])
    a = np.array([3.0, 4.0])
    for result in (a + t, a - t, a * t, a / t, a**t, a % t, a // t, a @ t, np.float32(2) * t):
        assert isinstance(result, cr.Tensor)
    assert isinstance(a < t, cr.Tensor) and (a < t).dtype == bool
    # float32 with a NumPy float64 scalar promotes, as NumPy 2 does
    x32 = cr.ones(2, dtype=np.float32)
    assert (np.float64(2.0) * x32).dtype == (np.float64(2.0) * np.ones(2, np.float32)).dtype
    assert (2.0 * x32).dtype == np.float32


def test_extension_modules_are_optional(monkeypatch):
    monkeypatch.setattr(dispatch, "EXTENSIONS", ("chainrule._not_written_yet",))
    monkeypatch.setattr(dispatch, "_loaded", [False])
    assert np.cumsum in dispatch.handled()  # a missing module is skipped


def test_extension_modules_add_their_numpy_functions(monkeypatch):
    import sys
    import types

    module = types.ModuleType("chainrule._fake_extension")
    sentinel = object()

    def fake_norm(x, *args, **kwargs):
        return sentinel

    module.NUMPY_FUNCTIONS = {np.linalg.norm: fake_norm}
    monkeypatch.setitem(sys.modules, "chainrule._fake_extension", module)
    monkeypatch.setattr(dispatch, "EXTENSIONS", ("chainrule._fake_extension",))
    monkeypatch.setattr(dispatch, "_loaded", [False])
    # a table without np.linalg.norm (chainrule.linalg may have filled it already)
    table = {k: v for k, v in dispatch.HANDLED.items() if k is not np.linalg.norm}
    monkeypatch.setattr(dispatch, "HANDLED", table)
    assert np.linalg.norm(leaf([1.0])) is sentinel


def test_lazy_names_say_where_they_come_from():
    import importlib.util

    if importlib.util.find_spec("chainrule.contractions") is None:
        with pytest.raises(AttributeError, match="chainrule.contractions"):
            cnp.einsum  # noqa: B018
    else:
        assert callable(cnp.einsum)
    if importlib.util.find_spec("chainrule.linalg") is None:
        with pytest.raises(AttributeError, match="chainrule.linalg"):
            cnp.linalg  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        cnp.nonsense  # noqa: B018


def test_one_argument_where_is_nonzero():
    t = leaf([[0.0, 1.0], [2.0, 0.0]])
    rows, cols = np.where(t)
    np.testing.assert_array_equal(rows.numpy(), [0, 1])
    np.testing.assert_array_equal(cols.numpy(), [1, 0])
    assert not rows.requires_grad
    with pytest.raises(ValueError, match="either both or neither"):
        cnp.where(t > 0, t)
