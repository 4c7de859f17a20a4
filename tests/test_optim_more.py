"""RMSprop, Adagrad and LBFGS against steps computed by hand (no PyTorch needed), param
groups, frozen parameters, state_dict round trips through cr.save for every optimizer,
and the errors for bad hyperparameters."""

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


# ---------------------------------------------------------------------- by hand


def test_rmsprop_two_steps_by_hand():
    p = _param(1.0)
    opt = optim.RMSprop([p], lr=0.1, alpha=0.5, eps=0.0)
    # v = 0.5 * 4 = 2; p = 1 - 0.1 * 2 / sqrt(2)
    assert _step(opt, p, [2.0]) == pytest.approx([1 - 0.1 * 2 / math.sqrt(2)], abs=1e-15)
    # v = 0.5 * 2 + 0.5 * 1 = 1.5; p -= 0.1 * -1 / sqrt(1.5)
    expected = 1 - 0.2 / math.sqrt(2) + 0.1 / math.sqrt(1.5)
    assert _step(opt, p, [-1.0]) == pytest.approx([expected], abs=1e-15)
    assert opt.state[p]["step"] == 2
    np.testing.assert_allclose(opt.state[p]["square_avg"], [1.5])
    assert set(opt.state[p]) == {"step", "square_avg"}


def test_rmsprop_centered_momentum_and_weight_decay_by_hand():
    p = _param(2.0)
    opt = optim.RMSprop([p], lr=0.1, alpha=0.5, eps=0.0, momentum=0.9, centered=True)
    # g = 1: v = 0.5, gbar = 0.5, avg = sqrt(0.5 - 0.25) = 0.5; buf = 1 / 0.5 = 2
    assert _step(opt, p, [1.0]) == pytest.approx([2.0 - 0.2], abs=1e-15)
    # g = 3: v = 0.25 + 4.5 = 4.75, gbar = 0.25 + 1.5 = 1.75, avg = sqrt(4.75 - 3.0625)
    avg = math.sqrt(4.75 - 1.75**2)
    buf = 0.9 * 2 + 3 / avg
    assert _step(opt, p, [3.0]) == pytest.approx([1.8 - 0.1 * buf], abs=1e-14)
    state = opt.state[p]
    assert set(state) == {"step", "square_avg", "momentum_buffer", "grad_avg"}
    np.testing.assert_allclose(state["grad_avg"], [1.75])
    np.testing.assert_allclose(state["momentum_buffer"], [buf])
    q = _param(1.0)
    # weight decay: g = 1 + 0.5 * 1 = 1.5; v = 0.01 * 2.25; first step moves by lr / sqrt(0.01)
    opt = optim.RMSprop([q], lr=0.01, weight_decay=0.5, eps=0.0)
    assert _step(opt, q, [1.0]) == pytest.approx([1 - 0.01 * 1.5 / math.sqrt(0.0225)])


def test_adagrad_steps_by_hand():
    p = _param(1.0)
    opt = optim.Adagrad([p], lr=0.1, lr_decay=0.5, initial_accumulator_value=1.0, eps=0.0)
    assert opt.state[p]["step"] == 0
    np.testing.assert_array_equal(opt.state[p]["sum"], [1.0])  # exists before any step
    # sum = 1 + 9 = 10; clr = 0.1; p = 1 - 0.1 * 3 / sqrt(10)
    first = 1 - 0.3 / math.sqrt(10)
    assert _step(opt, p, [3.0]) == pytest.approx([first], abs=1e-15)
    # sum = 11; clr = 0.1 / (1 + 0.5) ; p -= clr * 1 / sqrt(11)
    assert _step(opt, p, [1.0]) == pytest.approx([first - 0.1 / 1.5 / math.sqrt(11)], abs=1e-15)
    assert opt.state[p]["step"] == 2
    q = _param(2.0)
    opt = optim.Adagrad([q], lr=1.0, weight_decay=0.25)
    # g = 0 + 0.25 * 2 = 0.5; sum = 0.25; the first step moves by lr (minus eps)
    assert _step(opt, q, [0.0]) == pytest.approx([1.0], abs=1e-9)


def test_lbfgs_without_line_search_solves_a_round_quadratic_in_two_iterations():
    # f = |x|^2 / 2: the first step is -g scaled by min(1, 1/|g|_1); the second uses the
    # curvature pair (s, y = s), so H = I exactly and it lands on 0.
    x0 = np.array([0.3, -0.2, 0.1])
    w = cr.tensor(x0.copy(), requires_grad=True)
    opt = optim.LBFGS([w], lr=1.0, max_iter=1)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (w * w).sum()
        loss.backward()
        return loss

    loss0 = opt.step(closure)
    assert loss0.item() == pytest.approx(0.5 * np.sum(x0**2))
    t = min(1.0, 1.0 / np.abs(x0).sum())  # |g|_1 = 0.6 < 1: t = 1
    np.testing.assert_allclose(w.numpy(), x0 - t * x0, atol=1e-15)
    w.data = np.array([0.5, 1.0, -2.0])  # a fresh point: |g|_1 = 3.5, first t = 1/3.5
    opt = optim.LBFGS([w], lr=1.0, max_iter=2, max_eval=10)  # default max_eval: 2 * 5 // 4
    opt.step(closure)
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0, 0.0], atol=1e-15)
    st = opt.state[w]
    assert st["n_iter"] == 2 and st["func_evals"] == 2
    assert st["H_diag"] == pytest.approx(1.0)
    assert len(st["old_dirs"]) == 1 and st["ro"][0] == pytest.approx(
        1 / np.sum(st["old_stps"][0] ** 2)
    )


def test_lbfgs_strong_wolfe_minimizes_rosenbrock():
    w = cr.tensor(np.array([-1.2, 1.0]), requires_grad=True)
    opt = optim.LBFGS(
        [w], max_iter=200, tolerance_change=1e-14, tolerance_grad=1e-10,
        line_search_fn="strong_wolfe",
    )  # fmt: skip

    def closure():
        opt.zero_grad()
        loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
        loss.backward()
        return loss

    first = opt.step(closure)
    assert first.item() == pytest.approx(24.2)
    np.testing.assert_allclose(w.numpy(), [1.0, 1.0], atol=1e-8)
    assert opt.state[w]["n_iter"] < 60  # superlinear: steepest descent needs thousands
    assert closure().item() < 1e-15


def test_lbfgs_stops_on_a_zero_gradient_and_checks_its_closure():
    w = cr.tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = optim.LBFGS([w])

    def at_minimum():
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(at_minimum).item() == 0.0
    assert opt.state[w]["n_iter"] == 0 and opt.state[w]["func_evals"] == 1
    with pytest.raises(TypeError, match="LBFGS.step: needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="one-element loss"):
        opt.step(lambda: cr.tensor([1.0, 2.0]))


# ---------------------------------------------------------------------- groups, frozen


ALL = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
    "lbfgs": lambda ps: optim.LBFGS(ps, lr=0.5, max_iter=3, line_search_fn="strong_wolfe"),
    "newton": lambda ps: optim.Newton(ps),
    "newton-cg": lambda ps: optim.NewtonCG(ps),
}


def _model(seed=1):
    return cr.nn.mlp([3, 5, 2], dtype=np.float64, seed=seed)


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 3)), rng.integers(0, 2, 32)


def _train(name, model, opt, steps):
    X, y = _data()

    def closure():
        opt.zero_grad()
        loss = cr.nn.functional.cross_entropy(model(cr.tensor(X)), y)
        if not name.startswith("newton"):  # Newton differentiates the closure itself
            loss.backward()
        return loss

    for _ in range(steps):
        if name in ("lbfgs", "newton", "newton-cg"):
            opt.step(closure)
        else:
            closure()
            opt.step()


@pytest.mark.parametrize("name", list(ALL))
def test_a_frozen_layer_is_accepted_and_left_untouched(name):
    # Fine-tuning: every parameter goes to the optimizer, the first layer is frozen.
    model = _model()
    first = model.layers[0] if hasattr(model, "layers") else list(model.children())[0]
    frozen = list(first.parameters())
    for p in frozen:
        p.requires_grad = False
    before = [p.numpy().copy() for p in frozen]
    trainable_before = [p.numpy().copy() for p in model.parameters() if p.requires_grad]
    opt = ALL[name](model.parameters())
    # A stale gradient on a frozen parameter is ignored as well.
    frozen[0].grad = cr.tensor(np.ones(frozen[0].shape))
    _train(name, model, opt, 3)
    for p, b in zip(frozen, before):
        np.testing.assert_array_equal(p.numpy(), b)
        # Adagrad (as PyTorch) makes every state on construction; LBFGS keeps its one
        # state with the first parameter, frozen or not (PyTorch's layout).
        if name not in ("adagrad", "lbfgs"):
            assert not opt.state.get(p)
    moved = [p.numpy() for p in model.parameters() if p.requires_grad]
    assert any(not np.array_equal(a, b) for a, b in zip(moved, trainable_before))


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_param_groups_keep_their_own_lr_and_weight_decay(name):
    # A group with lr 0 never moves; the other group's weight decay applies only to it.
    a, b = _param(1.0, 2.0), _param(3.0)
    opt = ALL[name]([{"params": [a], "weight_decay": 0.5}, {"params": [b], "lr": 0.0}])
    assert len(opt.param_groups) == 2
    assert opt.param_groups[0]["weight_decay"] == 0.5 and opt.param_groups[1]["lr"] == 0.0
    for _ in range(3):
        a.grad, b.grad = cr.tensor([1.0, 1.0]), cr.tensor([1.0])
        opt.step()
    assert b.item() == 3.0 and a.numpy().tolist() != [1.0, 2.0]
    c = _param(5.0)
    opt.add_param_group({"params": [c], "lr": 0.0})
    assert opt.param_groups[-1]["params"] == [c]
    with pytest.raises(ValueError, match="appears twice"):
        opt.add_param_group({"params": [a]})


def test_group_hyperparameters_are_validated_too():
    a, b = _param(1.0), _param(2.0)
    with pytest.raises(ValueError, match="RMSprop: invalid alpha -0.5"):
        optim.RMSprop([{"params": [a]}, {"params": [b], "alpha": -0.5}])
    with pytest.raises(ValueError, match="Adam: invalid beta1 1.5"):
        optim.Adam([{"params": [a], "betas": (1.5, 0.9)}])
    with pytest.raises(ValueError, match="LBFGS: .*per-group options are not supported"):
        optim.LBFGS([{"params": [a]}, {"params": [b]}])


# ---------------------------------------------------------------------- state dicts


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "lbfgs"])
def test_state_dict_round_trip_through_a_file_continues_the_same_trajectory(name, tmp_path):
    straight = _model()
    opt = ALL[name](straight.parameters())
    _train(name, straight, opt, 6)

    model = _model()
    opt = ALL[name](model.parameters())
    _train(name, model, opt, 3)
    cr.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "ck.npz")
    ck = cr.load(tmp_path / "ck.npz")
    fresh = _model(seed=99)
    fresh.load_state_dict(ck["model"])
    fresh_opt = ALL[name](fresh.parameters())
    fresh_opt.load_state_dict(ck["opt"])
    _train(name, fresh, fresh_opt, 3)
    for p, q in zip(straight.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_state_dict_is_a_deep_snapshot_for_lbfgs():
    model = _model()
    opt = ALL["lbfgs"](model.parameters())
    _train("lbfgs", model, opt, 1)
    sd = opt.state_dict()
    assert set(sd["state"]) == {0}  # all of LBFGS's state sits with the first parameter
    assert set(sd["state"][0]) == {
        "func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
        "prev_flat_grad", "prev_loss", "al",
    }  # fmt: skip
    d = sd["state"][0]["d"].copy()
    _train("lbfgs", model, opt, 1)
    np.testing.assert_array_equal(sd["state"][0]["d"], d)
    bad = opt.state_dict()
    bad["state"][0]["d"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"LBFGS.load_state_dict: state 'd' has shape \(3,\)"):
        opt.load_state_dict(bad)


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: optim.SGD(p, lr=-1.0), "SGD: invalid lr -1.0"),
        (lambda p: optim.SGD(p, momentum=-0.1), "SGD: invalid momentum -0.1"),
        (lambda p: optim.Adam(p, lr=-1e-3), "Adam: invalid lr -0.001"),
        (lambda p: optim.Adam(p, betas=(0.9, 1.0)), "Adam: invalid beta2 1.0"),
        (lambda p: optim.Adam(p, betas=(-0.1, 0.9)), "Adam: invalid beta1 -0.1"),
        (lambda p: optim.Adam(p, betas=(0.9,)), "Adam: betas must be a pair"),
        (lambda p: optim.AdamW(p, eps=-1.0), "AdamW: invalid eps -1.0"),
        (lambda p: optim.RMSprop(p, lr=-0.01), "RMSprop: invalid lr -0.01"),
        (lambda p: optim.RMSprop(p, alpha=-0.5), "RMSprop: invalid alpha -0.5"),
        (lambda p: optim.RMSprop(p, momentum=-1), "RMSprop: invalid momentum -1.0"),
        (lambda p: optim.RMSprop(p, eps=float("nan")), "RMSprop: invalid eps nan"),
        (lambda p: optim.Adagrad(p, lr_decay=-1), "Adagrad: invalid lr_decay -1.0"),
        (
            lambda p: optim.Adagrad(p, initial_accumulator_value=-1),
            "Adagrad: invalid initial_accumulator_value -1.0",
        ),
        (lambda p: optim.Adagrad(p, weight_decay=-1), "Adagrad: invalid weight_decay -1.0"),
        (lambda p: optim.LBFGS(p, lr=-1), "LBFGS: invalid lr -1.0"),
        (lambda p: optim.LBFGS(p, max_iter=0), "LBFGS: invalid max_iter 0"),
        (lambda p: optim.LBFGS(p, history_size=0), "LBFGS: invalid history_size 0"),
        (lambda p: optim.LBFGS(p, line_search_fn="armijo"), "LBFGS: invalid line_search_fn"),
        (lambda p: optim.RMSprop(p, lr="fast"), "RMSprop: lr must be a number"),
    ],
)
def test_bad_hyperparameters_name_the_class_and_the_argument(make, message):
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(")):
        make([_param(1.0)])


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "lbfgs"])
def test_float32_parameters_and_state_stay_float32(name):
    model = cr.nn.mlp([3, 5, 2], dtype=np.float32, seed=1)
    opt = ALL[name](model.parameters())
    X, y = _data()

    def closure():
        opt.zero_grad()
        loss = cr.nn.functional.cross_entropy(model(cr.tensor(X.astype(np.float32))), y)
        loss.backward()
        return loss

    for _ in range(2):
        if name == "lbfgs":
            opt.step(closure)
        else:
            closure()
            opt.step()
    assert all(p.dtype == np.float32 for p in model.parameters())
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, np.ndarray) and value.ndim:
                assert value.dtype == np.float32, name
