"""Bad input gets a clear error naming the operation, the argument and the shapes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: .*\(2, 3\) and \(4,\)"):
        cr.ones(2, 3) + cr.ones(4)
    with pytest.raises(ValueError, match=r"mul: .*\(2,\) and \(3,\)"):
        cr.ones(2, requires_grad=True) * np.ones(3)


def test_matmul_mismatch():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned"):
        cr.ones(2, 3) @ cr.ones(4, 5)
    with pytest.raises(ValueError, match="at least one dimension"):
        cr.matmul(cr.tensor(1.0), cr.ones(2))


def test_shape_op_errors():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape tensor of shape \(2, 3\)"):
        cr.ones(2, 3).reshape(4)
    with pytest.raises(ValueError, match="only one dimension can be -1"):
        cr.ones(6).reshape(-1, -1)
    with pytest.raises(ValueError, match=r"sum: axis 2 is out of range .* \(2, 3\)"):
        cr.ones(2, 3).sum(axis=2)
    with pytest.raises(ValueError, match="squeeze: axis 0 has size 2"):
        cr.ones(2, 3).squeeze(axis=0)
    with pytest.raises(
        ValueError, match=r"broadcast_to: cannot broadcast shape \(3,\) to \(2, 4\)"
    ):
        cr.ones(3).broadcast_to((2, 4))
    with pytest.raises(ValueError, match=r"concatenate: tensor 1 has shape \(2, 4\)"):
        cr.concatenate([cr.ones(2, 3), cr.ones(2, 4)], axis=0)
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape"):
        cr.stack([cr.ones(2), cr.ones(3)])
    with pytest.raises(ValueError, match="transpose: axes"):
        cr.ones(2, 3).transpose(0, 0)
    with pytest.raises(ValueError, match="clip: lo must not exceed hi"):
        cr.ones(2).clip(1.0, 0.0)


def test_index_errors():
    with pytest.raises(IndexError, match=r"getitem: .*\(tensor shape \(3,\)\)"):
        cr.ones(3)[5]
    with pytest.raises(IndexError, match="integer or boolean"):
        cr.ones(3)[np.array([0.5])]
    with pytest.raises(IndexError, match="out of bounds for axis 1 with size 3"):
        cr.take_along_axis(cr.ones(2, 3), np.array([[3], [0]]), axis=1)


def test_unsupported_operand():
    with pytest.raises(TypeError, match="mul: unsupported operand of type str"):
        cr.ones(2) * "a"
    with pytest.raises(TypeError, match="cannot make a tensor|unsupported dtype"):
        cr.tensor("abc")


def test_anomaly_names_the_forward_op_that_made_nan():
    x = cr.tensor([1.0, 0.0], requires_grad=True)
    with cr.detect_anomaly():
        y = x * 2
        with pytest.raises(FloatingPointError, match="forward of 'log' produced Inf"):
            cr.log(x)
        with pytest.raises(FloatingPointError, match="forward of 'div' produced NaN"):
            y / cr.tensor([1.0, 0.0]) * 0 / x
    with np.errstate(divide="ignore"):
        assert np.isinf(cr.log(x).numpy()[1])  # outside the context: NumPy's usual -inf


def test_anomaly_names_the_backward_op_that_made_inf():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    y = cr.sqrt(x).sum()  # forward is finite; d sqrt / dx at 0 is inf
    with cr.detect_anomaly():
        with pytest.raises(FloatingPointError, match="backward of 'sqrt'"):
            y.backward()


def test_transform_argument_errors():
    with pytest.raises(ValueError, match="one-element"):
        cr.grad(lambda x: x * 2)(cr.ones(3))
    with pytest.raises(ValueError, match="argnums"):
        cr.grad(lambda x: x.sum(), argnums=3)(cr.ones(3))
    with pytest.raises(TypeError, match="int64"):
        cr.grad(lambda x: x.sum())(cr.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"got shape \(3,\), expected \(2,\)"):
        cr.jvp(lambda x: x * 2, (cr.ones(2),), (cr.ones(3),))
    _, vjp_fn = cr.vjp(lambda x: x * 2, cr.ones(2))
    with pytest.raises(ValueError, match=r"cotangent: got shape \(1,\), expected \(2,\)"):
        vjp_fn(cr.ones(1))
    with pytest.raises(ValueError, match="mode must be"):
        cr.jacobian(lambda x: x, mode="sideways")


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64, ">i4", ">u8"]
)
def test_label_range_check_in_every_integer_width(dtype):
    # The check reads the labels as unsigned integers (one reduction for both ends): it
    # must catch negatives and too-large labels in every width, also in strided views.
    logits = cr.ones(3, 4)
    ok = np.array([3, 0, 2, 9, 1, 9], dtype=dtype)[::2]  # a strided view: 3, 2, 1
    assert np.isfinite(cr.softmax_cross_entropy(logits, ok).item())
    with pytest.raises(IndexError, match=r"label 4 is out of range for 4 classes \(sample 2"):
        cr.softmax_cross_entropy(logits, np.array([0, 3, 4], dtype=dtype))
    if np.dtype(dtype).kind == "i":
        with pytest.raises(IndexError, match=r"label -1 is out of range .*\(sample 1"):
            cr.softmax_cross_entropy(logits, np.array([0, -1, 1], dtype=dtype))
        lowest = np.iinfo(dtype).min  # the most negative value is huge when unsigned too
        with pytest.raises(IndexError, match=f"label {lowest} is out of range"):
            cr.softmax_cross_entropy(logits, np.array([0, 1, lowest], dtype=dtype))


def test_softmax_cross_entropy_input_errors():
    logits = cr.ones(3, 4)
    with pytest.raises(IndexError, match="label 4 is out of range for 4 classes"):
        cr.softmax_cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="label -1 is out of range"):
        cr.softmax_cross_entropy(logits, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"labels must be 3 integers .* \(3, 4\)"):
        cr.softmax_cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"logits must be \(N, C\), got shape \(4,\)"):
        cr.softmax_cross_entropy(cr.ones(4), np.array([0]))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        cr.softmax_cross_entropy(logits, np.array([0, 1, 2]), reduction="avg")
