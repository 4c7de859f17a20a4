"""Losses in cr.nn.functional against hand-derived values and float64 central differences,
plus the errors for bad labels and shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F

# The lectures' three training examples (cat, car, frog): one row of class scores each
# (the slide shows them as columns).
SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LABELS = np.array([0, 1, 2])


def test_svm_loss_matches_the_lectures_numbers():
    scores = cr.tensor(SCORES)
    per_sample = F.svm_loss(scores, LABELS, reduction="none").numpy()
    # cat: max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1) = 2.9; car: 0; frog: 12.9
    np.testing.assert_allclose(per_sample, [2.9, 0.0, 12.9], atol=1e-12)
    assert F.svm_loss(scores, LABELS).item() == pytest.approx((2.9 + 0 + 12.9) / 3)
    assert F.svm_loss(scores, LABELS, reduction="sum").item() == pytest.approx(15.8)


def test_svm_loss_gradient_by_hand():
    # One sample, label 0, scores [3.2, 5.1, -1.7]: only j = 1 violates the margin, so
    # dL/ds = [-1, +1, 0] (the correct class gets minus the number of violators).
    s = cr.tensor([[3.2, 5.1, -1.7]], requires_grad=True)
    F.svm_loss(s, [0]).backward()
    np.testing.assert_array_equal(s.grad.numpy(), [[-1.0, 1.0, 0.0]])


def test_multi_margin_loss_is_svm_loss_over_classes_like_pytorch():
    scores = cr.tensor(SCORES)
    per_sample = F.multi_margin_loss(scores, LABELS, reduction="none").numpy()
    np.testing.assert_allclose(per_sample, np.array([2.9, 0.0, 12.9]) / 3, atol=1e-12)
    # p=2 squares each hinge: cat (2.9**2 terms): 1.9**2 / 3 ... computed by hand.
    sq = F.multi_margin_loss(cr.tensor([[3.2, 5.1, -1.7]]), [0], p=2).item()
    assert sq == pytest.approx((2.9**2) / 3)
    # weight scales each sample by the weight of its target class.
    w = F.multi_margin_loss(scores, LABELS, weight=[2.0, 1.0, 0.5], reduction="sum").item()
    assert w == pytest.approx((2 * 2.9 + 0.5 * 12.9) / 3)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.multi_margin_loss(scores, LABELS, weight=[1.0, 2.0])


def test_cross_entropy_by_hand():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]])
    targets = np.array([0, 2])
    expected = [
        -2.0 + math.log(math.exp(2.0) + math.exp(1.0) + math.exp(0.1)),
        1.0 + math.log(math.exp(0.5) + math.exp(2.5) + math.exp(-1.0)),
    ]
    out = F.cross_entropy(cr.tensor(logits), targets, reduction="none")
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    assert F.cross_entropy(cr.tensor(logits), targets).item() == pytest.approx(np.mean(expected))
    assert F.cross_entropy(cr.tensor(logits), targets, reduction="sum").item() == pytest.approx(
        sum(expected)
    )
    # Gradient of the mean: (softmax - one_hot) / N.
    x = cr.tensor(logits, requires_grad=True)
    F.cross_entropy(x, targets).backward()
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    p[[0, 1], targets] -= 1
    np.testing.assert_allclose(x.grad.numpy(), p / 2, rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    x = cr.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    loss = F.cross_entropy(x, [1])
    assert loss.item() == pytest.approx(1000.0)
    loss.backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    assert F.cross_entropy(cr.tensor([[1000.0, 0.0]]), [0]).item() == 0.0


def test_nll_loss_on_log_softmax_equals_cross_entropy():
    x = cr.randn(5, 4, seed=0)
    y = np.array([0, 3, 1, 1, 2])
    assert F.nll_loss(F.log_softmax(x), y).item() == pytest.approx(F.cross_entropy(x, y).item())


@pytest.mark.parametrize(
    "loss",
    [
        lambda s, y: F.cross_entropy(s, y),
        lambda s, y: F.cross_entropy(s, y, reduction="sum"),
        lambda s, y: F.svm_loss(s, y),
        lambda s, y: F.svm_loss(s, y, margin=0.5, reduction="sum"),
        lambda s, y: F.multi_margin_loss(s, y),
        lambda s, y: F.multi_margin_loss(s, y, p=2, weight=[1.0, 2.0, 3.0, 0.5]),
        lambda s, y: F.nll_loss(F.log_softmax(s), y),
    ],
    ids=["ce-mean", "ce-sum", "svm", "svm-margin", "mm", "mm-p2-weight", "nll"],
)
def test_losses_pass_gradcheck(loss):
    # Random scores keep every hinge away from its kink, so differences are exact enough.
    scores = cr.randn(6, 4, seed=3)
    targets = np.array([0, 1, 2, 3, 1, 0])
    assert cr.gradcheck(lambda s: loss(s, targets), (scores,))


def test_mse_and_l2_penalty_with_gradcheck():
    a, b = cr.randn(3, 2, seed=0), cr.randn(3, 2, seed=1)
    expected = np.mean((a.numpy() - b.numpy()) ** 2)
    assert F.mse_loss(a, b).item() == pytest.approx(expected)
    assert F.mse_loss(a, b, reduction="sum").item() == pytest.approx(6 * expected)
    assert F.mse_loss(a, b, reduction="none").shape == (3, 2)
    assert cr.gradcheck(lambda a, b: F.mse_loss(a, b), (a, b))
    w1, w2 = cr.tensor([1.0, -2.0]), cr.tensor([[3.0], [0.5]])
    assert F.l2_penalty([w1, w2]).item() == pytest.approx(1 + 4 + 9 + 0.25)
    assert cr.gradcheck(lambda p, q: F.l2_penalty([p, q]), (w1, w2))
    net = cr.nn.Linear(2, 2, dtype=np.float64, seed=0)
    total = sum(float((p.numpy() ** 2).sum()) for p in net.parameters())
    assert F.l2_penalty(net).item() == pytest.approx(total)
    assert F.l2_penalty(net.parameters()).item() == pytest.approx(total)
    assert F.l2_penalty([]).item() == 0.0


def test_cross_entropy_has_second_derivatives():
    # The losses are built from primitives, so Hessian-vector products go through them.
    x0 = np.array([[0.3, -0.2, 0.5]])
    v = np.array([[1.0, 0.0, -1.0]])
    _out, hv = cr.hvp(lambda x: F.cross_entropy(x, [1]), (cr.tensor(x0),), (cr.tensor(v),))
    p = np.exp(x0[0]) / np.exp(x0[0]).sum()
    hessian = np.diag(p) - np.outer(p, p)
    np.testing.assert_allclose(
        np.asarray(hv[0] if isinstance(hv, tuple) else hv)[0], hessian @ v[0], rtol=1e-6
    )


def test_label_out_of_range_names_the_label_and_the_class_count():
    scores = cr.zeros(3, 10)
    for fn in (F.cross_entropy, F.svm_loss, F.multi_margin_loss, F.nll_loss):
        with pytest.raises(IndexError, match=r"label 12 is out of range for 10 classes \(sample 1"):
            fn(scores, [3, 12, 0])
        with pytest.raises(IndexError, match=r"label -1 is out of range .*sample 1"):
            fn(scores, [3, -1, 0])


def test_wrong_shapes_and_types_are_named():
    with pytest.raises(ValueError, match=r"cross_entropy: targets must have shape \(3,\).*\(4,\)"):
        F.cross_entropy(cr.zeros(3, 5), [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"svm_loss: scores must have shape \(N, C\).*\(5,\)"):
        F.svm_loss(cr.zeros(5), [0])
    with pytest.raises(TypeError, match="integer class labels.*float64"):
        F.cross_entropy(cr.zeros(2, 3), [0.5, 1.0])
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(cr.zeros(2, 3), [0, 1], reduction="avg")
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(3,\) and target shape \(3, 1\)"):
        F.mse_loss(cr.zeros(3), cr.zeros(3, 1))
    # Float labels holding whole numbers are accepted (as NumPy users often have them).
    assert F.cross_entropy(cr.zeros(2, 3), np.array([0.0, 2.0])).item() == pytest.approx(
        math.log(3)
    )


def test_accuracy():
    assert F.accuracy(cr.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), [1, 1, 1]) == pytest.approx(
        2 / 3
    )
