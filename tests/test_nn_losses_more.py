"""The losses beyond cross-entropy and MSE (BCE, BCE with logits, L1, smooth L1, Huber,
KL divergence) and cross-entropy / NLL with class weights, ignore_index and label
smoothing: PyTorch's values and gradients (to 1e-10), central differences to second
order, the loss modules, reductions, the fused fast path and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from checker import check_grads

RNG = np.random.default_rng(4)
CLASS_W = RNG.random(5) + 0.2


@pytest.fixture(scope="module")
def T():
    return pytest.importorskip("torch")


def _same(mine, theirs, arrays, T, grad_of=None):
    """Values and gradients (of the inputs listed in grad_of, default all) agree."""
    grad_of = range(len(arrays)) if grad_of is None else grad_of
    xs = [cr.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    ts = [T.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    out, ref = mine(*xs), theirs(*ts)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-10, rtol=1e-12)
    w = RNG.standard_normal(ref.shape)
    (out * w).sum().backward()
    (ref * T.tensor(w)).sum().backward()
    for i in grad_of:
        np.testing.assert_allclose(xs[i].grad.numpy(), ts[i].grad.numpy(), atol=1e-10)


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"weight": CLASS_W},
        {"label_smoothing": 0.2},
        {"weight": CLASS_W, "label_smoothing": 0.3},
        {"ignore_index": 2},
        {"ignore_index": 2, "weight": CLASS_W, "label_smoothing": 0.1},
    ],
    ids=["plain", "weight", "smoothing", "weight-smoothing", "ignore", "all"],
)
def test_cross_entropy_and_nll_match_pytorch(T, reduction, options):
    tf = T.nn.functional
    scores = RNG.standard_normal((6, 5))
    labels = np.array([0, 4, 2, 2, 1, 3])
    if "ignore_index" not in options:
        labels[3] = -100  # PyTorch's default ignore_index
    tw = {k: (T.tensor(v) if k == "weight" else v) for k, v in options.items()}
    _same(
        lambda s: F.cross_entropy(s, labels, reduction=reduction, **options),
        lambda s: tf.cross_entropy(s, T.tensor(labels), reduction=reduction, **tw),
        [scores],
        T,
    )
    nll_kw = {k: v for k, v in options.items() if k != "label_smoothing"}
    nll_tw = {k: v for k, v in tw.items() if k != "label_smoothing"}
    _same(
        lambda s: F.nll_loss(F.log_softmax(s, 1), labels, reduction=reduction, **nll_kw),
        lambda s: tf.nll_loss(
            tf.log_softmax(s, 1), T.tensor(labels), reduction=reduction, **nll_tw
        ),
        [scores],
        T,
    )


def test_cross_entropy_k_dim_probabilities_and_unbatched_match_pytorch(T):
    tf = T.nn.functional
    s3 = RNG.standard_normal((2, 5, 3, 4))
    y3 = RNG.integers(0, 5, (2, 3, 4))
    y3[0, 0, 0] = -100
    for red in REDUCTIONS:
        _same(
            lambda s, r=red: F.cross_entropy(
                s, y3, weight=CLASS_W, label_smoothing=0.1, reduction=r
            ),
            lambda s, r=red: tf.cross_entropy(
                s, T.tensor(y3), weight=T.tensor(CLASS_W), label_smoothing=0.1, reduction=r
            ),
            [s3],
            T,
        )
    p = RNG.random((6, 5))
    p /= p.sum(axis=1, keepdims=True)
    s = RNG.standard_normal((6, 5))
    _same(
        lambda s, p: F.cross_entropy(s, p, weight=CLASS_W, label_smoothing=0.2),
        lambda s, p: tf.cross_entropy(s, p, weight=T.tensor(CLASS_W), label_smoothing=0.2),
        [s, p],
        T,
    )
    _same(
        lambda s: F.cross_entropy(s, np.array(3)),
        lambda s: tf.cross_entropy(s, T.tensor(3)),
        [s[0]],
        T,
    )
    all_ignored = F.cross_entropy(cr.tensor(s), np.full(6, -100))
    assert np.isnan(all_ignored.item())  # 0 / 0, as PyTorch


def test_binary_and_regression_losses_match_pytorch(T):
    tf = T.nn.functional
    probs = RNG.random((4, 3))
    hard = (RNG.random((4, 3)) > 0.5).astype(float)
    soft = RNG.random((4, 3))
    w, pw = RNG.random(3), RNG.random(3) * 3
    logits = RNG.standard_normal((4, 3)) * 5
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3)) * 2
    for red in REDUCTIONS:
        _same(
            lambda x, t, r=red: F.binary_cross_entropy(x, t, weight=w, reduction=r),
            lambda x, t, r=red: tf.binary_cross_entropy(x, t, weight=T.tensor(w), reduction=r),
            [probs, soft],
            T,
        )
        _same(
            lambda x, t, r=red: F.binary_cross_entropy_with_logits(
                x, t, weight=w, pos_weight=pw, reduction=r
            ),
            lambda x, t, r=red: tf.binary_cross_entropy_with_logits(
                x, t, weight=T.tensor(w), pos_weight=T.tensor(pw), reduction=r
            ),
            [logits, hard],
            T,
        )
        _same(
            lambda x, t, r=red: F.l1_loss(x, t, reduction=r),
            lambda x, t, r=red: tf.l1_loss(x, t, reduction=r),
            [a, b],
            T,
        )
        for beta in (0.7, 0.0):
            _same(
                lambda x, t, r=red, be=beta: F.smooth_l1_loss(x, t, reduction=r, beta=be),
                lambda x, t, r=red, be=beta: tf.smooth_l1_loss(x, t, reduction=r, beta=be),
                [a, b],
                T,
            )
        _same(
            lambda x, t, r=red: F.huber_loss(x, t, reduction=r, delta=0.8),
            lambda x, t, r=red: tf.huber_loss(x, t, reduction=r, delta=0.8),
            [a, b],
            T,
        )
    # stable for huge logits, and exact probabilities 0 and 1 (PyTorch's clamp of the log)
    _same(
        lambda x, t: F.binary_cross_entropy_with_logits(x, t),
        lambda x, t: tf.binary_cross_entropy_with_logits(x, t),
        [np.array([800.0, -800.0, 0.0]), np.array([0.0, 1.0, 0.5])],
        T,
    )
    edge, target = np.array([0.0, 1.0, 0.3]), np.array([1.0, 0.0, 1.0])
    out = F.binary_cross_entropy(cr.tensor(edge), cr.tensor(target), reduction="none")
    ref = tf.binary_cross_entropy(T.tensor(edge), T.tensor(target), reduction="none")
    np.testing.assert_allclose(out.numpy(), ref.numpy())


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_kl_div_matches_pytorch(T, reduction):
    tf = T.nn.functional
    p = RNG.random((6, 5))
    p /= p.sum(axis=1, keepdims=True)
    q = RNG.random((6, 5))
    q /= q.sum(axis=1, keepdims=True)
    q[0, 0] = 0.0  # t log t = 0 at t = 0
    _same(
        lambda x, t: F.kl_div(x, t, reduction=reduction),
        lambda x, t: tf.kl_div(x, t, reduction=reduction),
        [np.log(p), q],
        T,
        grad_of=[0],
    )
    _same(
        lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=True),
        lambda x, t: tf.kl_div(x, t, reduction=reduction, log_target=True),
        [np.log(p), np.log(q + 0.1)],
        T,
    )


LOSS_CASES = [
    (
        "ce-weight-smoothing",
        lambda s: F.cross_entropy(s, np.array([0, 2, 1]), weight=CLASS_W[:3], label_smoothing=0.2),
        [(3, 3)],
    ),
    ("ce-ignore", lambda s: F.cross_entropy(s, np.array([0, -100, 1])), [(3, 3)]),
    ("ce-kdim", lambda s: F.cross_entropy(s, np.array([[0, 2], [1, 1]])), [(2, 3, 2)]),
    ("nll-weight", lambda s: F.nll_loss(s, np.array([0, 2]), weight=CLASS_W[:3]), [(2, 3)]),
    ("bce", lambda x, t: F.binary_cross_entropy(F.sigmoid(x), t.abs() * 0.3), [(3, 2), (3, 2)]),
    (
        "bce-logits",
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=np.array([2.0, 0.5])),
        [(3, 2), (3, 2)],
    ),
    ("l1", lambda x, t: F.l1_loss(x, t), [(3, 2), (3, 2)]),
    ("smooth-l1", lambda x, t: F.smooth_l1_loss(x, t, beta=0.5), [(3, 2), (3, 2)]),
    ("huber", lambda x, t: F.huber_loss(x, t, delta=0.5, reduction="sum"), [(3, 2), (3, 2)]),
    (
        "kl-log-target",
        lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=True),
        [(3, 2), (3, 2)],
    ),
]


@pytest.mark.parametrize("case", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_losses_match_central_differences_to_second_order(case):
    name, fn, shapes = case
    check_grads(fn, [RNG.standard_normal(s) for s in shapes], order=2, label=name)


def test_plain_cross_entropy_keeps_the_fused_primitive():
    s = cr.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    labels = np.array([0, 1, 2, 1])
    assert F.cross_entropy(s, labels).grad_fn.prim.name == "cross_entropy"
    assert F.cross_entropy(s, labels, reduction="sum").grad_fn.prim.name == "cross_entropy"
    assert F.cross_entropy(s, labels, "none").grad_fn.prim.name == "cross_entropy"  # old form
    weighted = F.cross_entropy(s, labels, weight=np.ones(3))
    assert weighted.grad_fn.prim.name != "cross_entropy"
    np.testing.assert_allclose(weighted.numpy(), F.cross_entropy(s, labels).numpy(), rtol=1e-12)


def test_loss_modules_hold_their_options_and_weights_as_buffers(T):
    ce = nn.CrossEntropyLoss(weight=cr.tensor(CLASS_W), label_smoothing=0.1, reduction="sum")
    assert list(ce.state_dict()) == list(
        T.nn.CrossEntropyLoss(weight=T.tensor(CLASS_W)).state_dict()
    )
    s, y = RNG.standard_normal((4, 5)), np.array([1, 0, 4, 2])
    ref = T.nn.CrossEntropyLoss(weight=T.tensor(CLASS_W), label_smoothing=0.1, reduction="sum")
    assert ce(s, y).item() == pytest.approx(ref(T.tensor(s), T.tensor(y)).item(), rel=1e-12)
    assert list(nn.BCEWithLogitsLoss(pos_weight=cr.ones(3)).state_dict()) == ["pos_weight"]
    pairs = [
        (nn.L1Loss(), T.nn.L1Loss()),
        (nn.MSELoss(reduction="sum"), T.nn.MSELoss(reduction="sum")),
        (nn.SmoothL1Loss(beta=0.5), T.nn.SmoothL1Loss(beta=0.5)),
        (nn.HuberLoss(delta=2.0), T.nn.HuberLoss(delta=2.0)),
        (nn.BCEWithLogitsLoss(), T.nn.BCEWithLogitsLoss()),
    ]
    a, b = RNG.standard_normal((3, 4)), RNG.random((3, 4))
    for mine, theirs in pairs:
        assert mine(a, b).item() == pytest.approx(theirs(T.tensor(a), T.tensor(b)).item())
    assert nn.BCELoss()(b, b.round()).item() == pytest.approx(
        T.nn.BCELoss()(T.tensor(b), T.tensor(b.round())).item()
    )
    lp = np.log(b / b.sum(1, keepdims=True))
    kl = nn.KLDivLoss(reduction="batchmean", log_target=True)
    ref_kl = T.nn.KLDivLoss(reduction="batchmean", log_target=True)
    assert kl(lp, lp * 0.5).item() == pytest.approx(ref_kl(T.tensor(lp), T.tensor(lp * 0.5)).item())
    assert nn.NLLLoss(ignore_index=1)(lp, np.array([1, 1, 0])).item() == pytest.approx(
        T.nn.NLLLoss(ignore_index=1)(T.tensor(lp), T.tensor([1, 1, 0])).item()
    )
    assert nn.MSELoss(size_average=False).reduction == "sum"  # the deprecated flags


def test_loss_errors_name_the_operation_and_shapes():
    with pytest.raises(ValueError, match=r"l1_loss: input shape \(3,\) and target shape \(3, 1\)"):
        F.l1_loss(cr.zeros(3), cr.zeros(3, 1))
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input must be"):
        F.binary_cross_entropy(cr.tensor([1.5]), cr.tensor([1.0]))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(3,\)"):
        F.cross_entropy(cr.zeros(2, 3), [0, 1], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(cr.zeros(2, 3), [0, 1], label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"cross_entropy: targets must have shape \(2, 4\)"):
        F.cross_entropy(cr.zeros(2, 3, 4), np.zeros((2, 5), dtype=int))
    with pytest.raises(IndexError, match="label 7 is out of range for 3 classes"):
        F.cross_entropy(cr.zeros(2, 3), [0, 7], weight=np.ones(3))
    with pytest.raises(ValueError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(cr.zeros(2, 3), cr.zeros(2, 3), pos_weight=np.ones(2))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.huber_loss(cr.zeros(2), cr.zeros(2), reduction="avg")
