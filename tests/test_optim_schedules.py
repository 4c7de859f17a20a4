"""The new schedules (LinearLR, ExponentialLR, OneCycleLR, ReduceLROnPlateau, SequentialLR)
and cr.nn.utils (clip_grad_norm_, clip_grad_value_, the vector helpers) against values
computed by hand, their state_dict round trips and their errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim


def _opt(lr=1.0, **kwargs):
    return optim.SGD([cr.nn.Parameter(np.zeros(1))], lr=lr, **kwargs)


def _lrs(sched, n):
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        sched.step()
    return out


def test_linear_warmup_and_exponential_by_hand():
    sched = optim.LinearLR(_opt(0.1), start_factor=0.2, end_factor=1.0, total_iters=4)
    assert _lrs(sched, 7) == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1, 0.1, 0.1])
    sched = optim.LinearLR(_opt(1.0), start_factor=1.0, end_factor=0.0, total_iters=2)
    assert _lrs(sched, 4) == pytest.approx([1.0, 0.5, 0.0, 0.0], abs=1e-15)
    sched = optim.ExponentialLR(_opt(2.0), gamma=0.5)
    assert _lrs(sched, 4) == pytest.approx([2.0, 1.0, 0.5, 0.25])


def test_one_cycle_cos_by_hand_with_momentum():
    opt = _opt(0.5, momentum=0.9)
    sched = optim.OneCycleLR(opt, max_lr=1.0, total_steps=11, pct_start=0.2)
    group = opt.param_groups[0]
    assert group["initial_lr"] == 1.0 / 25 and group["min_lr"] == pytest.approx(0.04 / 1e4)
    up_end = 0.2 * 11 - 1  # 1.2 steps of warm-up, then 8.8 of annealing

    def cos_anneal(a, b, pct):
        return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)

    for step in range(11):
        if step <= up_end:
            pct = step / up_end
            lr, mom = cos_anneal(0.04, 1.0, pct), cos_anneal(0.95, 0.85, pct)
        else:
            pct = (step - up_end) / (10 - up_end)
            lr, mom = cos_anneal(1.0, 0.04e-4, pct), cos_anneal(0.85, 0.95, pct)
        assert sched.get_last_lr()[0] == pytest.approx(lr, rel=1e-12)
        assert group["momentum"] == pytest.approx(mom, rel=1e-12)
        sched.step()
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 12 times"):
        sched.step()


def test_one_cycle_three_phase_linear_and_adam_betas():
    opt = optim.Adam([cr.nn.Parameter(np.zeros(1))], lr=0.1, betas=(0.9, 0.99))
    sched = optim.OneCycleLR(
        opt, max_lr=1.0, total_steps=10, pct_start=0.3, anneal_strategy="linear",
        three_phase=True, div_factor=10.0, final_div_factor=10.0,
    )  # fmt: skip
    # Phases end at steps 2 (0.1 -> 1), 4 (1 -> 0.1) and 9 (0.1 -> 0.01).
    expected = [0.1, 0.55, 1.0, 0.55, 0.1, 0.082, 0.064, 0.046, 0.028, 0.01]
    assert _lrs(sched, 10) == pytest.approx(expected)
    assert opt.param_groups[0]["betas"] == pytest.approx((0.95, 0.99))  # beta2 untouched


def test_reduce_lr_on_plateau_by_hand():
    opt = _opt(1.0)
    sched = optim.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    lrs = []
    for metric in [10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]:
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    # 9 is best (epoch 2); epochs 3-5 are bad: the third (> patience 2) halves the lr;
    # one cooldown epoch, then three more bad ones halve again; the floor is 0.2.
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    for _ in range(5):
        sched.step(9)
    assert sched.get_last_lr() == [0.2]
    up = optim.ReduceLROnPlateau(_opt(1.0), mode="max", patience=0, threshold=0.1,
                                 threshold_mode="abs")  # fmt: skip
    for metric in [1.0, 1.05, 1.2]:  # 1.05 is not 0.1 better than 1.0: reduced once
        up.step(metric)
    assert up.get_last_lr() == pytest.approx([0.1]) and up.best == 1.2


def test_sequential_warmup_then_cosine_by_hand():
    opt = _opt(1.0)
    warm = optim.LinearLR(opt, start_factor=0.25, total_iters=3)
    cosine = optim.CosineAnnealingLR(opt, T_max=4)
    sched = optim.SequentialLR(opt, [warm, cosine], milestones=[3])
    expected = [0.25, 0.5, 0.75] + [(1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    assert _lrs(sched, 8) == pytest.approx(expected, abs=1e-15)


def _roundtrip(state, tmp_path):
    cr.save({"s": state}, tmp_path / "s.npz")
    return cr.load(tmp_path / "s.npz")["s"]


@pytest.mark.parametrize(
    "make",
    [
        lambda o: optim.LinearLR(o, start_factor=0.1, total_iters=6),
        lambda o: optim.ExponentialLR(o, gamma=0.9),
        lambda o: optim.StepLR(o, 2, 0.5),
        lambda o: optim.CosineAnnealingLR(o, 5, 0.01),
        lambda o: optim.OneCycleLR(o, max_lr=2.0, total_steps=12, three_phase=True),
        lambda o: optim.SequentialLR(
            o, [optim.LinearLR(o, 0.5, total_iters=2), optim.ExponentialLR(o, 0.8)], [3]
        ),
    ],
    ids=["linear", "exponential", "step", "cosine", "onecycle", "sequential"],
)
def test_schedule_state_dict_round_trip_continues_identically(make, tmp_path):
    straight = make(_opt(1.0, momentum=0.9))
    reference = _lrs(straight, 11)
    first = make(_opt(1.0, momentum=0.9))
    head = _lrs(first, 4)
    saved_opt, saved = first.optimizer.state_dict(), _roundtrip(first.state_dict(), tmp_path)
    fresh_opt = _opt(1.0, momentum=0.9)
    resumed = make(fresh_opt)
    fresh_opt.load_state_dict(saved_opt)
    resumed.load_state_dict(saved)
    assert head + _lrs(resumed, 7) == pytest.approx(reference, rel=1e-12)
    assert fresh_opt.param_groups[0]["momentum"] == pytest.approx(
        straight.optimizer.param_groups[0]["momentum"]
    )


def test_plateau_state_dict_round_trip(tmp_path):
    metrics = [3, 2, 2, 2, 2, 1, 1, 1, 1, 1]
    straight = optim.ReduceLROnPlateau(_opt(), patience=1)
    for m in metrics:
        straight.step(m)
    first = optim.ReduceLROnPlateau(_opt(), patience=1)
    for m in metrics[:4]:
        first.step(m)
    resumed = optim.ReduceLROnPlateau(_opt(), patience=1)
    resumed.load_state_dict(_roundtrip(first.state_dict(), tmp_path))
    for m in metrics[4:]:
        resumed.step(m)
    assert resumed.get_last_lr() == straight.get_last_lr()
    assert resumed.optimizer.param_groups[0]["lr"] == straight.get_last_lr()[0]
    assert (resumed.best, resumed.num_bad_epochs) == (straight.best, straight.num_bad_epochs)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda o: optim.LinearLR(o, start_factor=0.0), "LinearLR: invalid start_factor 0.0"),
        (lambda o: optim.LinearLR(o, end_factor=1.5), "LinearLR: invalid end_factor 1.5"),
        (lambda o: optim.LinearLR(o, total_iters=0), "LinearLR: invalid total_iters 0"),
        (lambda o: optim.ExponentialLR(o, gamma=-0.5), "ExponentialLR: invalid gamma -0.5"),
        (lambda o: optim.OneCycleLR(o, max_lr=1.0), "OneCycleLR: give total_steps"),
        (lambda o: optim.OneCycleLR(o, 1.0, total_steps=0), "OneCycleLR: invalid total_steps"),
        (lambda o: optim.OneCycleLR(o, 1.0, 10, pct_start=1.5), "OneCycleLR: invalid pct_start"),
        (lambda o: optim.OneCycleLR(o, [1.0, 2.0], 10), "OneCycleLR: expected 1 values for max_lr"),
        (
            lambda o: optim.OneCycleLR(o, 1.0, 10, anneal_strategy="exp"),
            "OneCycleLR: anneal_strategy must be 'cos' or 'linear'",
        ),
        (lambda o: optim.ReduceLROnPlateau(o, factor=1.0), "ReduceLROnPlateau: invalid factor"),
        (lambda o: optim.ReduceLROnPlateau(o, mode="up"), "ReduceLROnPlateau: mode must be"),
        (
            lambda o: optim.ReduceLROnPlateau(o, threshold_mode="x"),
            "ReduceLROnPlateau: threshold_mode must be",
        ),
        (lambda o: optim.ReduceLROnPlateau(o, patience=-1), "ReduceLROnPlateau: invalid patience"),
        (
            lambda o: optim.SequentialLR(o, [optim.ExponentialLR(o, 0.9)], [2]),
            "SequentialLR: needs one milestone fewer than schedulers",
        ),
        (
            lambda o: optim.SequentialLR(o, [optim.ExponentialLR(_opt(), 0.9)], []),
            r"SequentialLR: schedulers\[0\] \(ExponentialLR\) belongs to another optimizer",
        ),
        (
            lambda o: optim.SequentialLR(o, [optim.ReduceLROnPlateau(o)], []),
            "SequentialLR: schedulers.0. is a ReduceLROnPlateau",
        ),
        (lambda o: optim.StepLR("sgd", 2), "StepLR: expected an Optimizer, got str"),
    ],
)
def test_schedule_errors_name_the_class_and_the_argument(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(_opt())


def test_one_cycle_needs_momentum_to_cycle():
    opt = optim.Adagrad([cr.nn.Parameter(np.zeros(1))])
    with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer with"):
        optim.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    sched = optim.OneCycleLR(opt, max_lr=1.0, total_steps=5, cycle_momentum=False)
    assert sched.get_last_lr() == pytest.approx([0.04])


# ---------------------------------------------------------------------- cr.nn.utils


def _with_grads(*grads):
    ps = [cr.nn.Parameter(np.zeros(np.shape(g))) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = cr.tensor(np.array(g, dtype=np.float64))
    return ps


def test_clip_grad_norm_by_hand():
    ps = _with_grads([3.0, 4.0], [12.0])
    total = cr.nn.utils.clip_grad_norm_(ps, max_norm=6.5)
    assert total.item() == pytest.approx(13.0)
    coef = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(ps[0].grad.numpy(), [3 * coef, 4 * coef], rtol=1e-15)
    np.testing.assert_allclose(ps[1].grad.numpy(), [12 * coef], rtol=1e-15)
    # Below the limit: unchanged; the norm of a generator of parameters works too.
    ps = _with_grads([0.3, -0.4])
    assert cr.nn.utils.clip_grad_norm_(iter(ps), 1.0).item() == pytest.approx(0.5)
    np.testing.assert_array_equal(ps[0].grad.numpy(), [0.3, -0.4])
    ps = _with_grads([1.0, -7.0], [5.0])
    assert cr.nn.utils.clip_grad_norm_(ps, 3.5, norm_type=float("inf")).item() == 7.0
    np.testing.assert_allclose(ps[0].grad.numpy(), [0.5, -3.5], rtol=1e-6)
    ps = _with_grads([1.0, -2.0], [3.0])
    assert cr.nn.utils.clip_grad_norm_(ps, 100, norm_type="inf").item() == 3.0
    assert cr.nn.utils.clip_grad_norm_(ps, 100, norm_type=1).item() == 6.0
    assert cr.nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    nograd = cr.nn.Parameter(np.ones(2))
    assert cr.nn.utils.clip_grad_norm_([nograd], 1.0).item() == 0.0 and nograd.grad is None


def test_clip_grad_norm_nonfinite():
    ps = _with_grads([1.0, np.inf])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* is non-finite"):
        cr.nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(ps[0].grad.numpy(), [1.0, np.inf])  # left alone
    ps = _with_grads([1.0, np.nan])
    with pytest.raises(RuntimeError, match="non-finite"):
        cr.nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    assert np.isnan(cr.nn.utils.clip_grad_norm_(ps, 1.0).item())
    with pytest.raises(ValueError, match="clip_grad_norm_: norm_type must be a number"):
        cr.nn.utils.clip_grad_norm_(ps, 1.0, norm_type="fro")


def test_clip_scales_a_gradient_array_shared_by_two_parameters_once():
    a = cr.nn.Parameter(np.zeros(2))
    b = cr.nn.Parameter(np.zeros(2))
    g = np.array([3.0, 4.0])
    a.grad = cr.tensor(g)
    b.grad = a.grad  # one gradient Tensor (one array) for two parameters
    total = cr.nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == pytest.approx(math.sqrt(50))
    coef = 1.0 / (math.sqrt(50) + 1e-6)
    for p in (a, b):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-15)
    np.testing.assert_array_equal(g, [3.0, 4.0])


def test_clip_grad_value_and_errors():
    ps = _with_grads([-3.0, 0.5, 2.0])
    assert cr.nn.utils.clip_grad_value_(ps, 1.0) is None
    assert ps[0].grad.numpy().tolist() == [-1.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be >= 0"):
        cr.nn.utils.clip_grad_value_(ps, -1.0)
    with pytest.raises(TypeError, match="clip_grad_norm_: parameter 0 is a ndarray"):
        cr.nn.utils.clip_grad_norm_([np.zeros(2)], 1.0)


def test_parameters_to_vector_and_back_with_gradients():
    model = cr.nn.mlp([3, 4, 2], dtype=np.float64, seed=0)
    params = list(model.parameters())
    vec = cr.nn.utils.parameters_to_vector(params)
    assert vec.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    np.testing.assert_array_equal(vec.numpy(), np.concatenate([p.numpy().ravel() for p in params]))
    (vec * vec).sum().backward()  # differentiable: each parameter gets 2 * itself
    for p in params:
        np.testing.assert_allclose(p.grad.numpy(), 2 * p.numpy())
    new = np.arange(vec.shape[0], dtype=np.float64)
    cr.nn.utils.vector_to_parameters(cr.tensor(new), params)
    np.testing.assert_array_equal(cr.nn.utils.parameters_to_vector(params).numpy(), new)
    assert params[0].numpy().shape == (4, 3)
    with pytest.raises(ValueError, match=r"vector_to_parameters: vec has shape \(5,\).*\(26,\)"):
        cr.nn.utils.vector_to_parameters(cr.zeros(5), params)
    with pytest.raises(TypeError, match="vector_to_parameters: vec must be a Tensor"):
        cr.nn.utils.vector_to_parameters(new, params)
