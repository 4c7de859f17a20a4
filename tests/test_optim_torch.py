"""Every optimizer, schedule and clipping helper against PyTorch (skipped without torch):
the same float64 parameters and gradients, several steps, values and state compared to
1e-12 (LBFGS on Rosenbrock to 1e-9, see there)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (4,), (2,)]
TOL = {"rtol": 1e-12, "atol": 1e-12}


def _initial(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in SHAPES]


def _grad_of(values, step):
    """A gradient that depends on the parameters (so the two trajectories feed back
    through it) and on the step; computed in NumPy, the same for both libraries."""
    rng = np.random.default_rng(100 + step)
    return [0.3 * v**3 - 0.5 * v + rng.normal(size=v.shape) for v in values]


def _groups(params, group_kwargs):
    if group_kwargs is None:
        return params
    # Two groups: the first two parameters with the defaults, the last with overrides.
    return [{"params": params[:2]}, {"params": params[2:], **group_kwargs}]


def _run_pair(make_cr, make_torch, steps=6, group_kwargs=None, frozen=False):
    ours = [cr.nn.Parameter(v.copy()) for v in _initial()]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in _initial()]
    if frozen:
        ours[1].requires_grad = False
        theirs[1].requires_grad_(False)
    opt_c = make_cr(_groups(ours, group_kwargs))
    opt_t = make_torch(_groups(theirs, group_kwargs))
    for step in range(steps):
        grads = _grad_of([p.numpy() for p in ours], step)
        for p, q, g in zip(ours, theirs, grads):
            if frozen and p is ours[1]:
                continue  # no gradient reaches a frozen parameter
            p.grad = cr.tensor(g)
            q.grad = torch.tensor(g)
        opt_c.step()
        opt_t.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), **TOL)
    return ours, theirs, opt_c, opt_t


def _compare_state(opt_c, opt_t, ours, theirs):
    """The same state entries under the same names (PyTorch's layout), same values."""
    sd_c, sd_t = opt_c.state_dict(), opt_t.state_dict()
    assert set(sd_c["state"]) == set(sd_t["state"])
    for i, st in sd_t["state"].items():
        assert set(sd_c["state"][i]) == set(st), (i, set(sd_c["state"][i]), set(st))
        for k, v in st.items():
            np.testing.assert_allclose(
                np.asarray(sd_c["state"][i][k], dtype=np.float64),
                v.detach().numpy() if torch.is_tensor(v) else v,
                **TOL,
            )
    for g_c, g_t in zip(sd_c["param_groups"], sd_t["param_groups"]):
        assert g_c["params"] == g_t["params"]
        for k, v in g_c.items():
            assert k in g_t, f"group key {k!r} is not one of PyTorch's"
            if k != "params":
                assert g_t[k] == (list(v) if isinstance(g_t[k], list) else v), k


OPTIMIZERS = {
    "sgd": (optim.SGD, torch.optim.SGD, {"lr": 0.05}),
    "sgd-momentum": (optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "sgd-nesterov-wd": (
        optim.SGD,
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1},
    ),
    "sgd-dampening": (
        optim.SGD,
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    ),
    "adam": (optim.Adam, torch.optim.Adam, {"lr": 0.01}),
    "adam-amsgrad-wd": (
        optim.Adam,
        torch.optim.Adam,
        {"lr": 0.01, "betas": (0.8, 0.9), "amsgrad": True, "weight_decay": 0.05},
    ),
    "adamw": (optim.AdamW, torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
    "rmsprop": (optim.RMSprop, torch.optim.RMSprop, {"lr": 0.01}),
    "rmsprop-momentum": (
        optim.RMSprop,
        torch.optim.RMSprop,
        {"lr": 0.01, "alpha": 0.9, "momentum": 0.7, "eps": 1e-6},
    ),
    "rmsprop-centered": (
        optim.RMSprop,
        torch.optim.RMSprop,
        {"lr": 0.01, "centered": True, "weight_decay": 0.1},
    ),
    "rmsprop-centered-momentum": (
        optim.RMSprop,
        torch.optim.RMSprop,
        {"lr": 0.01, "alpha": 0.3, "centered": True, "momentum": 0.5},
    ),
    "adagrad": (optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1}),
    "adagrad-all": (
        optim.Adagrad,
        torch.optim.Adagrad,
        {
            "lr": 0.1,
            "lr_decay": 0.05,
            "weight_decay": 0.1,
            "initial_accumulator_value": 0.5,
            "eps": 1e-6,
        },
    ),
}

#: Per optimizer family, group overrides for a second parameter group.
GROUP_OVERRIDES = {
    "sgd": {"lr": 0.2, "weight_decay": 0.01, "momentum": 0.5},
    "adam": {"lr": 0.05, "betas": (0.5, 0.6), "weight_decay": 0.2},
    "adamw": {"lr": 0.05, "weight_decay": 0.0},
    "rmsprop": {"lr": 0.002, "alpha": 0.5, "weight_decay": 0.3},
    "adagrad": {"lr": 0.3, "lr_decay": 0.2, "eps": 1e-3},
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_matches_torch(name):
    ours_cls, torch_cls, kwargs = OPTIMIZERS[name]
    ours, theirs, opt_c, opt_t = _run_pair(
        lambda ps: ours_cls(ps, **kwargs), lambda ps: torch_cls(ps, **kwargs)
    )
    _compare_state(opt_c, opt_t, ours, theirs)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_param_groups_with_their_own_hyperparameters_match_torch(name):
    ours_cls, torch_cls, kwargs = OPTIMIZERS[name]
    overrides = GROUP_OVERRIDES[name.split("-")[0]]
    ours, theirs, opt_c, opt_t = _run_pair(
        lambda ps: ours_cls(ps, **kwargs),
        lambda ps: torch_cls(ps, **kwargs),
        group_kwargs=overrides,
    )
    assert opt_c.param_groups[1]["lr"] == overrides["lr"] != opt_c.param_groups[0]["lr"]
    _compare_state(opt_c, opt_t, ours, theirs)


@pytest.mark.parametrize("name", ["sgd-momentum", "adam", "rmsprop-centered", "adagrad-all"])
def test_frozen_parameter_matches_torch(name):
    ours_cls, torch_cls, kwargs = OPTIMIZERS[name]
    ours, theirs, opt_c, opt_t = _run_pair(
        lambda ps: ours_cls(ps, **kwargs), lambda ps: torch_cls(ps, **kwargs), frozen=True
    )
    np.testing.assert_array_equal(ours[1].numpy(), _initial()[1])
    _compare_state(opt_c, opt_t, ours, theirs)


def test_add_param_group_matches_torch():
    ours = [cr.nn.Parameter(v.copy()) for v in _initial()]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in _initial()]
    opt_c = optim.RMSprop(ours[:2], lr=0.01, momentum=0.5)
    opt_t = torch.optim.RMSprop(theirs[:2], lr=0.01, momentum=0.5)
    for step in range(6):
        if step == 3:
            opt_c.add_param_group({"params": ours[2:], "lr": 0.1, "centered": True})
            opt_t.add_param_group({"params": theirs[2:], "lr": 0.1, "centered": True})
        grads = _grad_of([p.numpy() for p in ours], step)
        for p, q, g in zip(ours, theirs, grads):
            p.grad, q.grad = cr.tensor(g), torch.tensor(g)
        opt_c.step()
        opt_t.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), **TOL)
    _compare_state(opt_c, opt_t, ours, theirs)


# ---------------------------------------------------------------------- LBFGS


def _rosenbrock_pair(x0, **kwargs):
    w_c = cr.tensor(np.array(x0, dtype=np.float64), requires_grad=True)
    w_t = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt_c = optim.LBFGS([w_c], **kwargs)
    opt_t = torch.optim.LBFGS([w_t], **kwargs)

    def closure_c():
        opt_c.zero_grad()
        loss = (1 - w_c[0]) ** 2 + 100 * (w_c[1] - w_c[0] ** 2) ** 2
        loss.backward()
        return loss

    def closure_t():
        opt_t.zero_grad()
        loss = (1 - w_t[0]) ** 2 + 100 * (w_t[1] - w_t[0] ** 2) ** 2
        loss.backward()
        return loss

    return (w_c, opt_c, closure_c), (w_t, opt_t, closure_t)


@pytest.mark.parametrize("line_search_fn, lr", [("strong_wolfe", 1.0), (None, 0.1)])
def test_lbfgs_on_rosenbrock_follows_torchs_iterates(line_search_fn, lr):
    # Same iterates, the same number of iterations and of function evaluations in each
    # step (so the same branches of the line search). The tolerance is 1e-8, not 1e-12:
    # PyTorch fuses p + t * d into one rounding where NumPy rounds twice, and
    # Rosenbrock's curved valley amplifies that last-bit difference for some iterations
    # before both converge (3.3e-9 seen on one machine with lr=0.1).
    (w_c, opt_c, f_c), (w_t, opt_t, f_t) = _rosenbrock_pair(
        [-1.5, 2.0], lr=lr, max_iter=4, history_size=5, line_search_fn=line_search_fn
    )
    for _ in range(15):
        loss_c = opt_c.step(f_c)
        loss_t = opt_t.step(f_t)
        # The loss is compared relative to its size times the valley's steepness.
        assert float(loss_c.item()) == pytest.approx(float(loss_t.item()), rel=1e-8, abs=1e-10)
        np.testing.assert_allclose(w_c.numpy(), w_t.detach().numpy(), rtol=1e-8, atol=1e-10)
        st_c, st_t = opt_c.state[w_c], opt_t.state[w_t]
        assert (st_c["n_iter"], st_c["func_evals"]) == (st_t["n_iter"], st_t["func_evals"])
        assert len(st_c["old_dirs"]) == len(st_t["old_dirs"])
    if line_search_fn:
        np.testing.assert_allclose(w_c.numpy(), [1.0, 1.0], atol=1e-4)


def test_lbfgs_matches_torch_to_1e12_on_a_well_conditioned_problem():
    # Logistic regression (a weight matrix and a bias) with an L2 term: both libraries
    # get the same gradients from one NumPy formula, so only the optimizer differs.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=40) > 0).astype(float)

    def loss_grad(W, b):
        z = X @ W[0] + b[0]
        p = 1 / (1 + np.exp(-z))
        loss = np.mean(np.logaddexp(0, z) - y * z) + 0.05 * np.sum(W**2)
        gz = (p - y) / len(y)
        return loss, (gz @ X)[None, :] + 0.1 * W, np.array([gz.sum()])

    for ls in ("strong_wolfe", None):
        W0, b0 = np.zeros((1, 3)), np.zeros(1)
        pc = [cr.nn.Parameter(W0.copy()), cr.nn.Parameter(b0.copy())]
        pt = [torch.tensor(W0.copy(), requires_grad=True), torch.tensor(b0.copy())]
        pt[1].requires_grad_(True)
        opt_c = optim.LBFGS(pc, lr=0.5, max_iter=5, history_size=3, line_search_fn=ls)
        opt_t = torch.optim.LBFGS(pt, lr=0.5, max_iter=5, history_size=3, line_search_fn=ls)

        def closure_c(pc=pc):
            loss, gW, gb = loss_grad(pc[0].numpy(), pc[1].numpy())
            pc[0].grad, pc[1].grad = cr.tensor(gW), cr.tensor(gb)
            return cr.tensor(loss)

        def closure_t(pt=pt):
            loss, gW, gb = loss_grad(pt[0].detach().numpy(), pt[1].detach().numpy())
            pt[0].grad, pt[1].grad = torch.tensor(gW), torch.tensor(gb)
            return torch.tensor(loss)

        for _ in range(4):
            opt_c.step(closure_c)
            opt_t.step(closure_t)
            for p, q in zip(pc, pt):
                np.testing.assert_allclose(p.numpy(), q.detach().numpy(), **TOL)
        st_c, st_t = opt_c.state[pc[0]], opt_t.state[pt[0]]
        for key in ("d", "prev_flat_grad"):
            np.testing.assert_allclose(st_c[key], st_t[key].numpy(), **TOL)
        for key in ("prev_loss", "n_iter", "func_evals"):
            assert float(st_c[key]) == pytest.approx(float(st_t[key]), rel=1e-12, abs=1e-14)
        # The step length comes out of a cubic fit through nearby points (differences of
        # close values), so its last digits carry more rounding than the iterates do.
        for key in ("t", "H_diag"):
            assert float(st_c[key]) == pytest.approx(float(st_t[key]), rel=1e-9)
        assert set(st_c) == set(st_t)


# ---------------------------------------------------------------------- schedules


def _two_group_pair(opt_name="sgd"):
    make = {
        "sgd": (
            lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
            lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        ),
        "adam": (
            lambda ps: optim.Adam(ps, lr=0.1),
            lambda ps: torch.optim.Adam(ps, lr=0.1),
        ),
    }[opt_name]
    pc = [cr.nn.Parameter(np.zeros(2)), cr.nn.Parameter(np.zeros(1))]
    pt = [torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)]
    opt_c = make[0]([{"params": pc[:1]}, {"params": pc[1:], "lr": 0.02}])
    opt_t = make[1]([{"params": pt[:1]}, {"params": pt[1:], "lr": 0.02}])
    return opt_c, opt_t


SCHEDULES = {
    "step": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=4, eta_min=0.001),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.8),
    "linear-warmup": lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=5),
    "linear-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=4),
    "onecycle-cos": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=12),
    "onecycle-linear-3phase": lambda m, o: m.OneCycleLR(
        o,
        max_lr=[1.0, 0.5],
        epochs=3,
        steps_per_epoch=4,
        pct_start=0.25,
        anneal_strategy="linear",
        three_phase=True,
        div_factor=10.0,
        final_div_factor=100.0,
    ),
    "onecycle-no-momentum": lambda m, o: m.OneCycleLR(
        o, max_lr=0.3, total_steps=12, cycle_momentum=False, pct_start=0.5
    ),
}


def _torch_sched_module():
    return torch.optim.lr_scheduler


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_schedule_matches_torch(name, opt_name):
    opt_c, opt_t = _two_group_pair(opt_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns when no optimizer.step() ran
        s_c = SCHEDULES[name](optim, opt_c)
        s_t = SCHEDULES[name](_torch_sched_module(), opt_t)
        for _ in range(11):
            assert s_c.get_last_lr() == pytest.approx(s_t.get_last_lr(), rel=1e-12, abs=1e-15)
            for g_c, g_t in zip(opt_c.param_groups, opt_t.param_groups):
                assert g_c["lr"] == pytest.approx(g_t["lr"], rel=1e-12, abs=1e-15)
                key = "betas" if opt_name == "adam" else "momentum"
                assert np.allclose(g_c[key], g_t[key], rtol=1e-12, atol=1e-15)
                for extra in ("initial_lr", "max_lr", "min_lr", "max_momentum"):
                    if extra in g_t:
                        assert g_c[extra] == pytest.approx(g_t[extra], rel=1e-12)
            s_c.step()
            s_t.step()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mode": "max", "factor": 0.5, "patience": 1},
        {"threshold_mode": "abs", "threshold": 0.05, "patience": 0, "cooldown": 2},
        {"factor": 0.5, "patience": 1, "min_lr": [0.01, 0.015]},
        {"factor": 0.3, "patience": 0, "min_lr": 0.005, "eps": 1e-3},
    ],
)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    metrics = [5.0, 4.0, 4.0, 3.999, 4.1, 4.2, 3.0, 3.0, 3.0, 2.9, 3.5, 3.5, 3.5, 3.5, 1.0]
    metrics += [1.0] * 10
    opt_c, opt_t = _two_group_pair()
    s_c = optim.ReduceLROnPlateau(opt_c, **kwargs)
    s_t = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, **kwargs)
    for m in metrics:
        s_c.step(m)
        s_t.step(m)
        assert s_c.get_last_lr() == pytest.approx(s_t.get_last_lr(), rel=1e-12)
        assert (s_c.num_bad_epochs, s_c.cooldown_counter, s_c.best) == (
            s_t.num_bad_epochs,
            s_t.cooldown_counter,
            s_t.best,
        )


@pytest.mark.parametrize("variant", ["warmup-cosine", "three-schedules", "onecycle-first"])
def test_sequential_lr_matches_torch(variant):
    opt_c, opt_t = _two_group_pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = []
        for m, o in ((optim, opt_c), (torch.optim.lr_scheduler, opt_t)):
            if variant == "warmup-cosine":
                parts = [m.LinearLR(o, start_factor=0.2, total_iters=3), m.CosineAnnealingLR(o, 6)]
                miles = [3]
            elif variant == "three-schedules":
                parts = [
                    m.LinearLR(o, start_factor=0.5, total_iters=2),
                    m.ExponentialLR(o, gamma=0.7),
                    m.StepLR(o, step_size=2, gamma=0.1),
                ]
                miles = [2, 6]
            else:
                parts = [m.ExponentialLR(o, gamma=0.9), m.LinearLR(o, 0.5, 1.0, 3)]
                miles = [4]
            built.append(m.SequentialLR(o, parts, milestones=miles))
        s_c, s_t = built
        for _ in range(14):
            assert s_c.get_last_lr() == pytest.approx(s_t.get_last_lr(), rel=1e-12)
            assert [g["lr"] for g in opt_c.param_groups] == pytest.approx(
                [g["lr"] for g in opt_t.param_groups], rel=1e-12
            )
            s_c.step()
            s_t.step()


def test_two_chained_schedules_compose_as_in_torch():
    # PyTorch's step() is chainable: two schedules stepping one optimizer multiply.
    opt_c, opt_t = _two_group_pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pair_c = [optim.ExponentialLR(opt_c, 0.9), optim.StepLR(opt_c, 2, 0.5)]
        pair_t = [
            torch.optim.lr_scheduler.ExponentialLR(opt_t, 0.9),
            torch.optim.lr_scheduler.StepLR(opt_t, 2, 0.5),
        ]
        for _ in range(7):
            for s in pair_c + pair_t:
                s.step()
            assert [g["lr"] for g in opt_c.param_groups] == pytest.approx(
                [g["lr"] for g in opt_t.param_groups], rel=1e-12
            )


# ---------------------------------------------------------------------- clipping


def _grad_pair(grads):
    pc = [cr.nn.Parameter(np.zeros_like(g)) for g in grads]
    pt = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, q, g in zip(pc, pt, grads):
        p.grad, q.grad = cr.tensor(g.copy()), torch.tensor(g.copy())
    return pc, pt


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, float("inf"), "inf", -float("inf")])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(5)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=5), rng.normal(size=())]
    pc, pt = _grad_pair(grads)
    total_c = cr.nn.utils.clip_grad_norm_(pc, max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(pt, max_norm, norm_type=norm_type)
    assert total_c.item() == pytest.approx(total_t.item(), rel=1e-12)
    for p, q in zip(pc, pt):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **TOL)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_clip_grad_norm_nonfinite_matches_torch(bad):
    grads = [np.array([1.0, bad]), np.array([2.0])]
    pc, pt = _grad_pair(grads)
    total_c = cr.nn.utils.clip_grad_norm_(pc, 1.0)
    total_t = torch.nn.utils.clip_grad_norm_(pt, 1.0)
    np.testing.assert_array_equal(total_c.numpy(), total_t.numpy())
    for p, q in zip(pc, pt):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_clip_grad_value_and_vector_helpers_match_torch():
    rng = np.random.default_rng(6)
    grads = [rng.normal(size=(2, 3)) * 3, rng.normal(size=4) * 3]
    pc, pt = _grad_pair(grads)
    cr.nn.utils.clip_grad_value_(pc, 1.5)
    torch.nn.utils.clip_grad_value_(pt, 1.5)
    for p, q in zip(pc, pt):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    vec_c = cr.nn.utils.parameters_to_vector([cr.tensor(g) for g in grads])
    vec_t = torch.nn.utils.parameters_to_vector([torch.tensor(g) for g in grads])
    np.testing.assert_array_equal(vec_c.numpy(), vec_t.numpy())
    new = rng.normal(size=10)
    cr.nn.utils.vector_to_parameters(cr.tensor(new), pc)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), pt)
    for p, q in zip(pc, pt):
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy())
