"""Adversarial examples: FGSM and PGD (L-inf and L2, targeted and not, random start) drop
accuracy while every perturbation stays inside its ball and every input in its range."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from attacks_support import load_default

A = cr.attacks
F = cr.nn.functional
TOL = 1e-9


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    pytest.importorskip("sklearn")  # the default model trains on scikit-learn's digits
    model, split = load_default(tmp_path_factory.getbasetemp())
    return model, split.X_test, split.y_test


def accuracy(model, X, y):
    return float(np.mean(A.predict(model, X) == y))


def assert_valid(x_adv, X, eps, norm, clip=(0.0, 1.0)):
    x_adv = np.asarray(x_adv)
    assert x_adv.shape == X.shape and x_adv.dtype == X.dtype
    sizes = A.perturbation_norms(x_adv, X, norm)
    assert sizes.shape == (len(X),)
    assert np.all(sizes <= eps + TOL), f"largest perturbation {sizes.max()!r} > eps {eps}"
    assert x_adv.min() >= clip[0] and x_adv.max() <= clip[1]


def test_pgd_linf_eps_10_percent_drives_default_digits_model_below_10_percent(digits):
    # Acceptance: the default `chainrule train` digits model, eps = 10% of the pixel range
    # (pixels are 0..1 in the model's units).
    model, X, y = digits
    clean = accuracy(model, X, y)
    assert clean > 0.95
    x_adv = A.pgd(model, X, y, eps=0.1, clip=(0.0, 1.0))
    assert_valid(x_adv, X, 0.1, "inf")
    assert accuracy(model, x_adv, y) < 0.10


def test_fgsm_drops_accuracy_inside_the_ball_and_pgd_is_stronger(digits):
    model, X, y = digits
    clean = accuracy(model, X, y)
    x_fgsm = A.fgsm(model, X, y, eps=0.1, clip=(0.0, 1.0))
    assert_valid(x_fgsm, X, 0.1, "inf")
    acc_fgsm = accuracy(model, x_fgsm, y)
    assert acc_fgsm < clean - 0.5
    # FGSM moves each pixel by exactly eps unless the range or a zero gradient stops it.
    moved = np.abs(x_fgsm.numpy().astype(np.float64) - X)
    assert np.mean(np.isclose(moved, 0.1, atol=1e-6)) > 0.5
    acc_pgd = accuracy(model, A.pgd(model, X, y, eps=0.1, clip=(0.0, 1.0), steps=20), y)
    assert acc_pgd <= acc_fgsm


def test_pgd_l2_ball_holds_per_sample(digits):
    model, X, y = digits
    x_adv = A.pgd(model, X, y, eps=1.0, norm=2, clip=(0.0, 1.0), steps=20)
    assert_valid(x_adv, X, 1.0, 2)
    assert accuracy(model, x_adv, y) < 0.2
    # Many samples use the whole budget: the projection really is onto the sphere.
    assert np.mean(A.perturbation_norms(x_adv, X, 2) > 0.99) > 0.3


def test_fgsm_l2_steps_along_the_normalised_gradient(digits):
    model, X, y = digits
    x_adv = A.fgsm(model, X[:50], y[:50], eps=0.5, norm=2)  # no clipping: exact step
    sizes = A.perturbation_norms(x_adv, X[:50], 2)
    np.testing.assert_allclose(sizes, 0.5, rtol=1e-5)


def test_targeted_pgd_hits_the_target(digits):
    model, X, y = digits
    keep = y != 3
    X, y = X[keep], y[keep]
    x_adv = A.pgd(model, X, 3, eps=0.3, targeted=True, clip=(0.0, 1.0), steps=40)
    assert_valid(x_adv, X, 0.3, "inf")
    assert np.mean(A.predict(model, x_adv) == 3) >= 0.95
    # Per-sample targets work too (here: "the next class").
    targets = (y + 1) % 10
    x_adv = A.pgd(model, X, targets, eps=1.5, norm=2, targeted=True, clip=(0.0, 1.0))
    assert_valid(x_adv, X, 1.5, 2)
    assert np.mean(A.predict(model, x_adv) == targets) >= 0.9


def test_random_start_is_seeded_and_stays_inside(digits):
    model, X, y = digits
    X, y = X[:64], y[:64]
    runs = [
        A.pgd(model, X, y, eps=0.1, steps=3, random_start=True, seed=s, clip=(0.0, 1.0)).numpy()
        for s in (7, 7, 8)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    for r in runs:
        assert_valid(r, X, 0.1, "inf")
    r2 = A.pgd(model, X, y, eps=0.5, norm=2, steps=2, random_start=True, seed=0, clip=(0, 1))
    assert_valid(r2, X, 0.5, 2)


def test_fgsm_matches_the_hand_derived_gradient_of_a_linear_model():
    # Scores s = x @ W; d CE / dx = (softmax(s) - onehot(y)) @ W.T, so FGSM moves each
    # pixel by eps * sign of that (a plain callable, not a Module).
    rng = np.random.default_rng(0)
    W = rng.standard_normal((5, 3))
    x = rng.uniform(0.2, 0.8, (4, 5))
    y = np.array([0, 1, 2, 1])

    def model(inputs):
        return inputs @ cr.tensor(W)

    s = x @ W
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = (p - np.eye(3)[y]) @ W.T
    np.testing.assert_allclose(A.fgsm(model, x, y, eps=0.1).numpy(), x + 0.1 * np.sign(grad))
    np.testing.assert_allclose(
        A.fgsm(model, x, y, eps=0.1, targeted=True).numpy(), x - 0.1 * np.sign(grad)
    )


def test_float32_rounding_never_leaves_the_ball():
    # x + eps is not representable in float32 for most x; the projection must repair the
    # rounding so that max |delta| <= eps holds exactly (in float64 arithmetic).
    rng = np.random.default_rng(1)
    model = cr.nn.mlp([16, 8, 4], seed=0)
    X = rng.uniform(0.0, 1.0, (256, 16)).astype(np.float32)
    y = rng.integers(0, 4, 256)
    for eps in (0.1, 0.03, 1 / 3):
        assert_valid(A.fgsm(model, X, y, eps=eps, clip=(0.0, 1.0)), X, eps, "inf")
        assert_valid(A.pgd(model, X, y, eps=eps, steps=3, clip=(0, 1)), X, eps, "inf")
        assert_valid(A.pgd(model, X, y, eps=eps, norm=2, steps=3, clip=(0, 1)), X, eps, 2)


def test_attack_leaves_the_model_alone(digits):
    model, X, y = digits
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model.train()
    A.pgd(model, X[:10], y[:10], eps=0.1, steps=2)
    assert model.training  # eval inside the attack, the caller's mode restored after
    model.eval()
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    assert all(p.grad is None for p in model.parameters())


def test_eps_zero_and_no_labels(digits):
    model, X, y = digits
    np.testing.assert_array_equal(A.pgd(model, X[:5], y[:5], eps=0.0).numpy(), X[:5])
    # Without labels the attack uses the model's own predictions.
    x_adv = A.pgd(model, X, eps=0.1, clip=(0.0, 1.0), steps=10)
    assert accuracy(model, x_adv, y) < 0.2


def test_bad_inputs_name_the_operation_and_the_argument(digits):
    model, X, y = digits
    with pytest.raises(ValueError, match=r"pgd: eps must be .*>= 0, got -0.1"):
        A.pgd(model, X, y, eps=-0.1)
    with pytest.raises(ValueError, match=r"fgsm: y must have shape \(359,\).*\(3,\)"):
        A.fgsm(model, X, [1, 2, 3], eps=0.1)
    with pytest.raises(ValueError, match="fgsm: norm must be 'inf' or 2"):
        A.fgsm(model, X, y, eps=0.1, norm=1)
    with pytest.raises(ValueError, match=r"outside clip=\(0.0, 0.5\)"):
        A.pgd(model, X, y, eps=0.1, clip=(0.0, 0.5))
    with pytest.raises(ValueError, match="targeted attack needs y"):
        A.pgd(model, X, eps=0.1, targeted=True)
    with pytest.raises(ValueError, match="pgd: steps must be an int >= 1"):
        A.pgd(model, X, y, eps=0.1, steps=0)
    with pytest.raises(IndexError, match="out of range for 10 classes"):
        A.pgd(model, X, np.full(len(y), 10), eps=0.1, targeted=True)
