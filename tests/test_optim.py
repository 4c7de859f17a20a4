"""Optimizers and schedules against steps computed by hand, plus state_dict resume and
validation errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim


def _param(*values):
    return cr.nn.Parameter(np.array(values, dtype=np.float64))


def _step(opt, p, grad):
    p.grad = cr.tensor(np.array(grad, dtype=np.float64))
    opt.step()
    return p.numpy().tolist()


def test_plain_sgd_step():
    p = _param(1.0, -2.0)
    assert _step(optim.SGD([p], lr=0.1), p, [0.5, -1.0]) == pytest.approx([0.95, -1.9])


def test_sgd_momentum_two_steps_by_hand():
    # torch.optim.SGD: buf = g on the first step, then buf = 0.9 * buf + g; p -= lr * buf.
    p = _param(1.0)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    assert _step(opt, p, [0.5]) == pytest.approx([1.0 - 0.1 * 0.5])  # 0.95
    # buf = 0.9 * 0.5 - 1.0 = -0.55; p = 0.95 + 0.055 = 1.005
    assert _step(opt, p, [-1.0]) == pytest.approx([1.005])
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [-0.55])


def test_sgd_nesterov_two_steps_by_hand():
    # g' = g + momentum * buf after updating buf.
    p = _param(1.0)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    assert _step(opt, p, [0.5]) == pytest.approx([1.0 - 0.1 * (0.5 + 0.9 * 0.5)])  # 0.905
    # buf = -0.55; g' = -1 + 0.9 * -0.55 = -1.495; p = 0.905 + 0.1495
    assert _step(opt, p, [-1.0]) == pytest.approx([1.0545])


def test_sgd_weight_decay_and_dampening_by_hand():
    p = _param(2.0)
    # g = 0.5 + 0.01 * 2 = 0.52; p = 2 - 0.1 * 0.52
    assert _step(optim.SGD([p], lr=0.1, weight_decay=0.01), p, [0.5]) == pytest.approx([1.948])
    q = _param(1.0)
    opt = optim.SGD([q], lr=0.1, momentum=0.9, dampening=0.5)
    _step(opt, q, [1.0])  # first step: buf = g (no dampening on the first step, as torch)
    # buf = 0.9 * 1 + 0.5 * 1 = 1.4; q = 0.9 - 0.14
    assert _step(opt, q, [1.0]) == pytest.approx([0.76])


def test_adam_two_steps_by_hand():
    p = _param(1.0)
    opt = optim.Adam([p], lr=0.1)  # betas (0.9, 0.999), eps 1e-8
    # m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25; m_hat = 0.5, v_hat = 0.25
    # p = 1 - 0.1 * 0.5 / (sqrt(0.25) + 1e-8)
    assert _step(opt, p, [0.5]) == pytest.approx([1 - 0.1 * 0.5 / (0.5 + 1e-8)], abs=1e-15)
    # m = 0.9 * 0.05 - 0.1 = -0.055; v = 0.999 * 0.00025 + 0.001 = 0.00124975
    # p -= 0.1 / (1 - 0.9**2) * m / (sqrt(v) / sqrt(1 - 0.999**2) + 1e-8)
    expected = 0.9000000019999999 + 0.1 / 0.19 * 0.055 / (
        math.sqrt(0.00124975) / math.sqrt(0.001999) + 1e-8
    )
    assert _step(opt, p, [-1.0]) == pytest.approx([expected], abs=1e-12)
    assert expected == pytest.approx(0.9366103542405653, abs=1e-12)
    state = opt.state[p]
    assert state["step"] == 2
    np.testing.assert_allclose(state["exp_avg"], [-0.055])
    np.testing.assert_allclose(state["exp_avg_sq"], [0.00124975])


def test_adam_weight_decay_amsgrad_and_adamw():
    p = _param(2.0)
    # L2 style: g = 0.5 + 0.1 * 2 = 0.7; first step moves by lr * g / |g| = lr.
    assert _step(optim.Adam([p], lr=0.1, weight_decay=0.1), p, [0.5]) == pytest.approx([1.9])
    q = _param(2.0)
    # Decoupled: q = 2 * (1 - 0.1 * 0.1) = 1.98, then the Adam step of size lr.
    assert _step(optim.AdamW([q], lr=0.1, weight_decay=0.1), q, [0.5]) == pytest.approx([1.88])
    r = _param(0.0)
    opt = optim.Adam([r], lr=0.1, betas=(0.0, 0.5), amsgrad=True)
    _step(opt, r, [2.0])  # v = 2.0, max = 2.0
    # v = 0.5 * 2 + 0.5 * 0.01 = 1.005 < max 2.0: the max is used: denom = sqrt(2 / 0.75)
    after = _step(opt, r, [0.1])[0]
    assert after == pytest.approx(-0.1 - 0.1 * 0.1 / (math.sqrt(2.0 / 0.75) + 1e-8))


def test_step_records_no_graph_updates_in_place_and_skips_params_without_grad():
    w = cr.nn.Parameter(np.ones(3))
    frozen = cr.nn.Parameter(np.ones(2))
    data_before = w.data
    opt = optim.SGD([w, frozen], lr=0.5, momentum=0.9)
    (w * w).sum().backward()
    opt.step()
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    assert w.data is data_before  # in place
    np.testing.assert_array_equal(frozen.numpy(), [1.0, 1.0])
    assert frozen not in opt.state
    opt.zero_grad()
    assert w.grad is None


def test_zero_grad_to_zeros():
    w = cr.nn.Parameter(np.ones(2))
    opt = optim.SGD([w], lr=0.1)
    (w * 3.0).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])


def test_param_groups_have_their_own_hyperparameters():
    a, b = _param(1.0), _param(1.0)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad = cr.tensor([1.0])
    b.grad = cr.tensor([1.0])
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.0)


def _train(opt_factory, steps, model=None, opt=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(32, 3))
    y = rng.integers(0, 2, 32)
    model = model or cr.nn.mlp([3, 5, 2], dtype=np.float64, seed=1)
    opt = opt or opt_factory(model.parameters())
    for _ in range(steps):
        loss = cr.nn.functional.cross_entropy(model(cr.tensor(X)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, opt


@pytest.mark.parametrize(
    "factory",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    ],
    ids=["sgd", "adam"],
)
def test_state_dict_resume_continues_exactly(factory, tmp_path):
    straight, _ = _train(factory, 6)
    model, opt = _train(factory, 3)
    cr.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ck.npz")
    ck = cr.load(tmp_path / "ck.npz")
    fresh = cr.nn.mlp([3, 5, 2], dtype=np.float64, seed=99)
    fresh.load_state_dict(ck["model"])
    fresh_opt = factory(fresh.parameters())
    fresh_opt.load_state_dict(ck["optimizer"])
    resumed, _ = _train(factory, 3, model=fresh, opt=fresh_opt)
    for p, q in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-12, atol=1e-14)


def test_state_dict_is_a_snapshot_in_pytorch_layout():
    model, opt = _train(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), 1)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert set(sd["state"]) == {0, 1, 2, 3}
    buf = sd["state"][0]["momentum_buffer"].copy()
    _train(None, 1, model=model, opt=opt)
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], buf)


def test_load_state_dict_errors_name_what_differs():
    model, opt = _train(lambda ps: optim.Adam(ps, lr=0.01), 1)
    sd = opt.state_dict()
    other = optim.Adam(cr.nn.mlp([3, 2], dtype=np.float64).parameters())
    with pytest.raises(ValueError, match="group 0 has 4 parameters in the state dict but 2"):
        other.load_state_dict(sd)
    bad = opt.state_dict()
    bad["state"][1]["exp_avg"] = np.zeros(7)
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 1 has shape \(7,\).*\(5,\)"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_hyperparameter_validation():
    p = [_param(1.0)]
    with pytest.raises(ValueError, match="invalid lr -0.1"):
        optim.SGD(p, lr=-0.1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta2"):
        optim.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    # A frozen leaf is accepted (fine-tuning); a computed tensor is not a parameter.
    optim.SGD([cr.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="parameter 0 .* is not a leaf"):
        optim.SGD([p[0] * 2.0], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p[0], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([p[0], p[0]], lr=0.1)


def test_step_lr_and_cosine_schedules():
    p = [_param(1.0)]
    opt = optim.SGD(p, lr=0.1)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    opt = optim.SGD(p, lr=1.0)
    sched = optim.CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    lrs = []
    for _ in range(11):
        lrs.append(sched.get_last_lr()[0])
        sched.step()
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    assert lrs == pytest.approx(expected)
    assert lrs[5] == pytest.approx(0.55) and lrs[10] == pytest.approx(0.1)
    state = sched.state_dict()
    again = optim.CosineAnnealingLR(optim.SGD(p, lr=1.0), T_max=10, eta_min=0.1)
    again.load_state_dict(state)
    assert again.optimizer.param_groups[0]["lr"] == pytest.approx(sched.get_last_lr()[0])
    with pytest.raises(ValueError, match="T_max"):
        optim.CosineAnnealingLR(opt, T_max=0)


def test_sgd_and_adam_minimise_a_quadratic():
    for opt_cls, kwargs in [(optim.SGD, {"lr": 0.1, "momentum": 0.9}), (optim.Adam, {"lr": 0.1})]:
        w = cr.nn.Parameter(np.array([3.0, -4.0]))
        opt = opt_cls([w], **kwargs)
        for _ in range(300):
            opt.zero_grad()
            ((w - 1.0) * (w - 1.0)).sum().backward()
            opt.step()
        np.testing.assert_allclose(w.numpy(), [1.0, 1.0], atol=1e-3)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
        lambda ps: optim.Adam(ps, lr=0.1),
    ],
)
def test_a_read_only_parameter_array_is_replaced_by_a_copy_and_updated(make):
    # A parameter whose array cannot be written (a broadcast view) gets an array of its
    # own; the step (and the momentum state) equals the step on a writable twin.
    view = cr.nn.Parameter(np.broadcast_to(np.array([1.0, -2.0]), (2, 2)))
    twin = cr.nn.Parameter(np.array([[1.0, -2.0], [1.0, -2.0]]))
    assert not view.data.flags.writeable
    opt_view, opt_twin = make([view]), make([twin])
    for grad in ([[0.5, -1.0], [0.25, 2.0]], [[1.0, 1.0], [-1.0, 0.5]]):
        for p, opt in ((view, opt_view), (twin, opt_twin)):
            p.grad = cr.tensor(np.array(grad))
            opt.step()
    assert view.data.flags.writeable
    np.testing.assert_allclose(view.numpy(), twin.numpy(), rtol=1e-15)
