"""The flat momentum update of SGD and the compiled training step built on it.

``SGD`` updates a group of small parameters on whole flat arrays (one array holds every
momentum buffer); ``CompiledLoss(model, optimizer=opt)`` generates one function that
computes the loss, the gradients (into the optimizer's flat gradient buffer) and the
update. Both must give exactly the numbers of the per-parameter loop, bit for bit, in every
variant (momentum, Nesterov, weight decay, dampening), and fall back to it, changing
nothing, wherever they do not apply.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ir import trace_program
from chainrule.ir.compile import _compile_arrays
from chainrule.optim import sgd

nn = cr.nn
VARIANTS = [
    {},
    {"nesterov": True},
    {"weight_decay": 0.01},
    {"dampening": 0.3},
    {"weight_decay": 0.1, "nesterov": True},
    {"weight_decay": 0.05, "dampening": 0.5},
]


def _model(seed: int = 0, dtype=np.float32) -> nn.Module:
    model = nn.Sequential(nn.Linear(6, 8, seed=seed), nn.ReLU(), nn.Linear(8, 3, seed=seed + 1))
    for p in model.parameters():
        p.data = p.data.astype(dtype)
    return model


def _loop_only(monkeypatch) -> None:
    """The reference: the per-parameter loop (no group qualifies for the flat layout)."""
    monkeypatch.setattr(sgd, "FLAT_ELEMENTS_PER_PARAMETER", 0)


def _assert_same(params_a, params_b, opt_a, opt_b) -> None:
    for a, b in zip(params_a, params_b):
        np.testing.assert_array_equal(a.data, b.data)
        sa, sb = opt_a.state.get(a, {}), opt_b.state.get(b, {})
        assert sa.keys() == sb.keys()
        if "momentum_buffer" in sa:
            np.testing.assert_array_equal(sa["momentum_buffer"], sb["momentum_buffer"])


def _grads(rng, params, dtype=np.float32):
    return [rng.standard_normal(p.shape).astype(dtype) for p in params]


# --------------------------------------------------------------------------- SGD


@pytest.mark.parametrize("kw", VARIANTS)
def test_flat_momentum_equals_the_loop_bit_for_bit(kw, monkeypatch):
    flat_model, loop_model = _model(), _model()
    flat_opt = cr.optim.SGD(flat_model.parameters(), lr=0.1, momentum=0.9, **kw)
    loop_opt = cr.optim.SGD(loop_model.parameters(), lr=0.1, momentum=0.9, **kw)
    rng = np.random.default_rng(0)
    for _ in range(6):
        grads = _grads(rng, list(flat_model.parameters()))
        for p, q, g in zip(flat_model.parameters(), loop_model.parameters(), grads):
            p.grad, q.grad = g.copy(), g.copy()
        flat_opt.step()
        with monkeypatch.context() as m:
            _loop_only(m)
            loop_opt.step()
        _assert_same(flat_model.parameters(), loop_model.parameters(), flat_opt, loop_opt)
    # the flat path ran: every momentum buffer is a view of one array
    bufs = [flat_opt.state[p]["momentum_buffer"] for p in flat_model.parameters()]
    assert len({id(b.base) for b in bufs}) == 1 and bufs[0].base is not None
    assert not any(b.base is not None for b in (loop_opt.state[p]["momentum_buffer"]
                                                for p in loop_model.parameters()))  # fmt: skip


def _run_both(monkeypatch, scenario, steps=5, **kw):
    """Run ``scenario(step, model, opt)`` before each step on a flat-path optimizer and on
    the loop, with the same gradients; assert the same numbers after every step."""
    models = _model(), _model()
    opts = [cr.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, **kw) for m in models]
    rng = np.random.default_rng(1)
    for step in range(steps):
        grads = _grads(rng, list(models[0].parameters()))
        for which, (model, opt) in enumerate(zip(models, opts)):
            for p, g in zip(model.parameters(), grads):
                p.grad = g.copy()
            scenario(step, model, opt)
            with monkeypatch.context() as m:
                if which == 1:
                    _loop_only(m)
                opt.step()
        _assert_same(models[0].parameters(), models[1].parameters(), *opts)
    return models, opts


def test_a_step_where_a_parameter_has_no_gradient_falls_back(monkeypatch):
    def scenario(step, model, opt):
        if step == 2:
            model[0].bias.grad = None

    _run_both(monkeypatch, scenario)


def test_a_frozen_parameter_is_skipped(monkeypatch):
    def scenario(step, model, opt):
        model[2].weight.requires_grad = step < 2

    _run_both(monkeypatch, scenario)


def test_load_state_dict_and_a_buffer_replaced_by_hand_are_adopted(monkeypatch):
    saved = {}

    def scenario(step, model, opt):
        if step == 1:
            saved[id(opt)] = opt.state_dict()
        if step == 3:
            opt.load_state_dict(saved[id(opt)])
        if step == 4:
            p = model[0].weight
            opt.state[p]["momentum_buffer"] = np.full(p.shape, 0.5, np.float32)

    _run_both(monkeypatch, scenario, steps=6)


def test_a_user_writing_into_a_momentum_buffer_is_seen(monkeypatch):
    def scenario(step, model, opt):
        if step == 2:
            opt.state[model[2].bias]["momentum_buffer"][...] = 3.0

    _run_both(monkeypatch, scenario)


def test_a_parameter_appended_to_the_group_is_updated(monkeypatch):
    extra = {}

    def scenario(step, model, opt):
        if step == 2:
            t = extra[id(opt)] = cr.tensor(np.ones(4, np.float32), requires_grad=True)
            opt.param_groups[0]["params"].append(t)
        if id(opt) in extra:
            extra[id(opt)].grad = np.full(4, 0.25, np.float32)

    _run_both(monkeypatch, scenario)
    a, b = extra.values()
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, np.ones(4))


def test_gradients_of_another_dtype_and_mixed_dtypes_use_the_loop(monkeypatch):
    def scenario(step, model, opt):
        if step == 2:
            for p in model.parameters():
                p.grad = p.grad.data.astype(np.float64)

    _run_both(monkeypatch, scenario)
    mixed = [cr.tensor(np.ones(3, np.float32), requires_grad=True),
             cr.tensor(np.ones(3), requires_grad=True)]  # fmt: skip
    opt = cr.optim.SGD(mixed, lr=0.1, momentum=0.9)
    for p in mixed:
        p.grad = np.ones(3, p.dtype)
    opt.step()
    opt.step()
    np.testing.assert_allclose(mixed[1].data, 1 - 0.1 - 0.19)
    assert all(opt.state[p]["momentum_buffer"].base is None for p in mixed)


def test_a_copied_optimizer_goes_on_from_its_copied_state():
    """A deep copy or a pickle of a model and its optimizer, given the same gradients,
    takes the same steps as the original (the copy's momentum buffers are its own)."""
    import copy
    import pickle

    model = _model()
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(2)

    def step(m, o, grads):
        for p, g in zip(m.parameters(), grads):
            p.grad = g.copy()
        o.step()

    for _ in range(3):
        step(model, opt, _grads(rng, list(model.parameters())))
    clones = [copy.deepcopy((model, opt)), pickle.loads(pickle.dumps((model, opt)))]
    for _ in range(3):
        grads = _grads(rng, list(model.parameters()))
        step(model, opt, grads)
        for m, o in clones:
            step(m, o, grads)
    for m, o in clones:
        _assert_same(m.parameters(), model.parameters(), o, opt)
        buffers = [o.state[p]["momentum_buffer"] for p in m.parameters()]
        assert buffers[0].base is not None and buffers[0].base is not opt._flats


def test_large_parameters_keep_their_own_buffers():
    w = cr.tensor(np.zeros((200, 100), np.float32), requires_grad=True)
    b = cr.tensor(np.zeros(100, np.float32), requires_grad=True)
    assert w.size + b.size > sgd.FLAT_ELEMENTS_PER_PARAMETER * 2
    opt = cr.optim.SGD([w, b], lr=0.1, momentum=0.9)
    w.grad, b.grad = np.ones_like(w.data), np.ones_like(b.data)
    opt.step()
    assert opt.state[w]["momentum_buffer"].base is None


# --------------------------------------------------------------------------- codegen


def test_outputs_computed_into_destination_arrays():
    """``dest``: a matrix product, a sum and a ufunc are computed with out=; an input and
    a view are copied; the destinations are not returned."""

    def f(a, b):
        return (a @ b).sum(), a @ b, (a * b.T).sum(axis=0), cr.exp(a), a, a.T

    a = np.arange(6.0).reshape(2, 3) / 7
    b = np.arange(6.0).reshape(3, 2) / 5
    program, _ = trace_program(f, cr.tensor(a), cr.tensor(b))
    names = {1: "o1", 2: "o2", 3: "o3", 4: "o4", 5: "o5"}
    compiled = _compile_arrays(program, "f", dest=names)
    outs = [np.zeros((2, 2)), np.zeros(3), np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 2))]
    (total,) = compiled.fn(a, b, *outs)
    expected = f(cr.tensor(a), cr.tensor(b))
    np.testing.assert_allclose(total, expected[0].data)
    for got, want in zip(outs, expected[1:]):
        np.testing.assert_allclose(got, want.data, rtol=1e-15)
    assert "out=o1" in compiled.source and "out=o3" in compiled.source
    assert "np.copyto(o4, x0" in compiled.source  # an input: copied


def test_an_epilogue_reads_the_inputs_by_position():
    program, _ = trace_program(lambda x: x * 2.0, cr.tensor(np.ones(3)))
    compiled = _compile_arrays(
        program, "f", epilogue=(["acc"], ["acc += {inputs[0]}  # the input, by its name"])
    )
    acc = np.zeros(3)
    (out,) = compiled.fn(np.full(3, 2.0), acc)
    np.testing.assert_array_equal(out, 4.0)
    np.testing.assert_array_equal(acc, 2.0)
    # a destination named like the input: the input yields its name (x0 -> x0_1)
    named = _compile_arrays(program, "f", dest={0: "x0"})
    into = np.zeros(3)
    assert named.fn(np.full(3, 2.0), into) == ()
    np.testing.assert_array_equal(into, 4.0)
    for bad in ("np", "softmax", "1x"):  # the module's own names, or not a name
        with pytest.raises(ValueError, match="taken"):
            _compile_arrays(program, "f", dest={0: bad})


# --------------------------------------------------------------------------- CompiledLoss


def _train(fused: bool, kw: dict, steps: int = 7, schedule=None, loss="softmax", batches=(5,)):
    cr.manual_seed(0)
    model = _model()
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, **kw)
    step = nn.CompiledLoss(model, loss=loss, optimizer=opt if fused else None)
    rng = np.random.default_rng(0)
    losses, grads = [], []
    for i in range(steps):
        n = batches[i % len(batches)]
        X = rng.standard_normal((n, 6)).astype(np.float32)
        y = rng.integers(0, 3, n)
        if schedule is not None:
            schedule(i, model, opt)
        losses.append(step(X, y))
        if not fused:
            opt.step()
        grads.append([p.grad.data.copy() for p in model.parameters()])
    return model, opt, step, losses, grads


@pytest.mark.parametrize("kw", VARIANTS)
@pytest.mark.parametrize("loss", ["softmax", "svm"])
def test_compiled_step_equals_compiled_loss_then_step(kw, loss):
    m1, o1, s1, l1, g1 = _train(True, kw, loss=loss)
    m2, o2, s2, l2, g2 = _train(False, kw, loss=loss)
    assert l1 == l2
    for a, b in zip(g1, g2):
        for x, z in zip(a, b):
            np.testing.assert_array_equal(x, z)
    _assert_same(m1.parameters(), m2.parameters(), o1, o2)
    assert s1._fused_steps and not s2._fused_steps  # the update was compiled in
    source = s1.source((5, 6))
    assert "B *= momentum" in source and "params0 -= step0" in source


def test_compiled_step_reads_lr_each_call_and_alternates_batch_shapes():
    def schedule(i, model, opt):
        opt.param_groups[0]["lr"] = 0.1 / (1 + i)
        opt.param_groups[0]["momentum"] = 0.9 if i < 4 else 0.5

    runs = [_train(f, {}, steps=9, schedule=schedule, batches=(5, 3)) for f in (True, False)]
    (m1, o1, s1, l1, _g1), (m2, o2, _s2, l2, _g2) = runs
    assert l1 == l2
    _assert_same(m1.parameters(), m2.parameters(), o1, o2)
    assert {k[0][0] for k in s1._fused_steps} == {(5, 6), (3, 6)}


def test_compiled_step_follows_changes_to_the_optimizer():
    saved = {}

    def schedule(i, model, opt):
        key = id(opt)
        if i == 1:
            saved[key] = opt.state_dict()
        if i == 3:
            opt.load_state_dict(saved[key])
        if i == 4:
            opt.param_groups[0]["nesterov"] = True
        if i == 5:
            opt.param_groups[0]["weight_decay"] = 0.01
            model[0].bias.requires_grad = False  # frozen: skipped by the update
        if i == 6:
            model[0].bias.requires_grad = True
            p = model[2].weight
            opt.state[p]["momentum_buffer"] = np.ones(p.shape, np.float32)
        if i == 7:
            model[2].bias.data = np.zeros(3, np.float32)  # a new array: read from now on

    runs = [_train(f, {}, steps=10, schedule=schedule) for f in (True, False)]
    (m1, o1, _s1, l1, _g1), (m2, o2, _s2, l2, _g2) = runs
    assert l1 == l2
    _assert_same(m1.parameters(), m2.parameters(), o1, o2)


def test_compiled_step_with_another_optimizer_steps_it():
    def train(fused):
        model = _model()
        opt = cr.optim.Adam(model.parameters(), lr=0.01)
        step = nn.CompiledLoss(model, optimizer=opt if fused else None)
        rng = np.random.default_rng(0)
        for _ in range(4):
            X = rng.standard_normal((5, 6)).astype(np.float32)
            step(X, rng.integers(0, 3, 5))
            if not fused:
                opt.step()
        return model

    for a, b in zip(train(True).parameters(), train(False).parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(TypeError, match="optimizer must be a cr.optim.Optimizer"):
        nn.CompiledLoss(_model(), optimizer="sgd")


def _two_steps(fused: bool = True):
    """A model, its SGD (momentum 0.9), a CompiledLoss (with the optimizer, or without:
    then ``opt.step()`` follows each call) and a batch, after two steps (the update is
    compiled in from the second)."""
    model = _model()
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = nn.CompiledLoss(model, optimizer=opt if fused else None)
    X = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0])
    for _ in range(2):
        step(X, y)
        if not fused:
            opt.step()
    return model, opt, step, X, y


def test_compiled_step_stamps_the_parameters_it_changes():
    model, _opt, step, X, y = _two_steps()
    w = model[0].weight
    before = w._version
    saved = (model(cr.tensor(X)) ** 2).sum()  # saves the weights' current values
    step(X, y)
    assert w._version == before + 1
    with pytest.raises(RuntimeError, match="optimizer step"):
        saved.backward()
    assert w.grad is not None and w.grad.shape == w.shape


def test_compiled_step_copies_a_read_only_parameter_as_the_optimizer_does():
    """A parameter given a read-only array: the step runs apart, and the optimizer
    replaces the array by an updated copy, exactly as without the compiled update."""
    runs = [_two_steps(fused) for fused in (True, False)]
    frozen = []
    for model, opt, step, X, y in runs:
        array = np.array(model[2].bias.data)
        array.flags.writeable = False
        model[2].bias.data = array
        frozen.append((array, array.copy()))
        step(X, y)
        if step.optimizer is None:
            opt.step()
    for (model, *_), (array, values) in zip(runs, frozen):
        assert model[2].bias.data is not array
        np.testing.assert_array_equal(array, values)  # never written into
        assert not np.array_equal(model[2].bias.numpy(), values)  # updated, as a copy
    _assert_same(runs[0][0].parameters(), runs[1][0].parameters(), runs[0][1], runs[1][1])


def _bn_model():
    return nn.Sequential(
        nn.Linear(4, 5, seed=0), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3, seed=1)
    )


@pytest.mark.parametrize("fused", [True, False])
def test_compiled_loss_updates_batchnorm_statistics_once_a_step(fused):
    """A BatchNorm in training mode: CompiledLoss (with or without the update compiled
    in) trains exactly as the eager loop does, running statistics and batch count too
    (its first call used to update them four times: the probe, the check's compiled and
    eager runs, the step; later calls not at all)."""
    compiled_model, eager_model = _bn_model(), _bn_model()
    opt_c = cr.optim.SGD(compiled_model.parameters(), lr=0.1, momentum=0.9)
    opt_e = cr.optim.SGD(eager_model.parameters(), lr=0.1, momentum=0.9)
    step = nn.CompiledLoss(compiled_model, optimizer=opt_c if fused else None)
    rng = np.random.default_rng(0)
    for _ in range(4):
        X = rng.standard_normal((6, 4)).astype(np.float32)
        y = rng.integers(0, 3, 6)
        step(X, y)
        if not fused:
            opt_c.step()
        loss = nn.functional.cross_entropy(eager_model(cr.tensor(X)), y)
        opt_e.zero_grad()
        loss.backward()
        opt_e.step()
    for (name, a), (_, b) in zip(
        compiled_model.state_dict().items(), eager_model.state_dict().items()
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6, err_msg=name)
    assert int(np.asarray(compiled_model[1].num_batches_tracked.data)) == 4


def test_compiled_loss_with_a_parameter_the_loss_does_not_use():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(4, 3, seed=0)
            self.unused = nn.Linear(4, 3, seed=1)

        def forward(self, x):
            return self.used(x)

    model = Unused()
    step = nn.CompiledLoss(model, optimizer=cr.optim.SGD(model.parameters(), lr=0.1))
    X = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    before = model.unused.weight.numpy().copy()
    step(X, np.arange(6) % 3)  # used to fail comparing with the eager .grad (None)
    np.testing.assert_array_equal(model.unused.weight.grad.numpy(), 0.0)
    np.testing.assert_array_equal(model.unused.weight.numpy(), before)


def test_a_step_after_the_compiled_step_leaves_the_gradients_alone():
    """After a compiled step, .grad holds views of the optimizer's flat gradient array;
    a further opt.step() (weight decay included) reads them and must not change them."""
    model, opt, _step, _X, _y = _two_steps()
    opt.param_groups[0]["weight_decay"] = 0.1
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    opt.step()
    for p, g in zip(model.parameters(), grads):
        np.testing.assert_array_equal(p.grad.numpy(), g)


def test_a_parameter_frozen_before_the_first_call():
    """Frozen before CompiledLoss ever ran: the first call's check has no eager gradient
    to compare for it (it used to raise), and the update leaves it alone."""
    model = _model()
    model[0].bias.requires_grad = False
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = nn.CompiledLoss(model, optimizer=opt)
    before = model[0].bias.numpy().copy()
    X = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    for _ in range(3):
        step(X, np.array([0, 1, 2, 1, 0]))
    np.testing.assert_array_equal(model[0].bias.numpy(), before)
    assert not np.array_equal(model[0].weight.numpy(), _model()[0].weight.numpy())


def _mutate(rng, models, opts, saved):
    """One random change, the same to both (model, optimizer) pairs."""
    action = int(rng.integers(0, 11))
    values = {
        "lr": float(rng.random()),
        "momentum": float(rng.choice([0.0, 0.5, 0.9])),
        "nesterov": bool(rng.random() < 0.5),
        "weight_decay": float(rng.choice([0.0, 0.01])),
        "dampening": float(rng.choice([0.0, 0.3])),
        "frozen": bool(rng.random() < 0.5),
    }
    for which, (m, o) in enumerate(zip(models, opts)):
        g = o.param_groups[0]
        if action == 0:
            g["lr"] = values["lr"]
        elif action == 1:
            g["momentum"] = values["momentum"]
            g["nesterov"] = g["nesterov"] and g["momentum"] > 0
        elif action == 2:
            g["nesterov"] = values["nesterov"] and g["momentum"] > 0 and g["dampening"] == 0
        elif action == 3:
            g["weight_decay"] = values["weight_decay"]
        elif action == 4 and not g["nesterov"]:
            g["dampening"] = values["dampening"]
        elif action == 5:
            m[0].bias.requires_grad = not values["frozen"]
        elif action == 6:
            m[2].weight.data = m[2].weight.data.copy()
        elif action == 7:
            saved[which] = o.state_dict()
        elif action == 8 and which in saved:
            o.load_state_dict(saved[which])
        elif action == 9:
            state = o.state.get(m[2].bias, {})
            if "momentum_buffer" in state:
                state["momentum_buffer"][...] = 0.25
        elif action == 10:
            state = o.state.get(m[0].weight, {})
            if "momentum_buffer" in state:
                state["momentum_buffer"] = np.full(m[0].weight.shape, 0.1, np.float32)


@pytest.mark.parametrize("seed", range(12))
def test_random_training_runs_equal_the_separate_step(seed):
    """Random runs of 25 steps, two batch shapes, with random changes between steps to
    the hyperparameters, frozen flags, parameter arrays, optimizer state (saved, loaded,
    written into, replaced): the compiled update gives CompiledLoss + opt.step()'s
    losses, parameters and momentum buffers, bit for bit, at every step."""
    rng = np.random.default_rng(seed)
    models = [_model(), _model()]
    opts = [cr.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in models]
    fused, separate = nn.CompiledLoss(models[0], optimizer=opts[0]), nn.CompiledLoss(models[1])
    saved: dict = {}
    for _ in range(25):
        _mutate(rng, models, opts, saved)
        n = int(rng.choice([4, 5]))
        X = rng.standard_normal((n, 6)).astype(np.float32)
        y = rng.integers(0, 3, n)
        assert fused(X, y) == separate(X, y)
        opts[1].step()
        _assert_same(models[0].parameters(), models[1].parameters(), *opts)


def test_svm_steps_check_their_labels_at_every_call():
    """The SVM's program takes one-hot rows made from the labels at each call: labels of
    the wrong kind are refused at every call, also once the update is compiled in (with
    as many samples as classes, float labels would otherwise broadcast silently)."""
    model = _model()
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = nn.CompiledLoss(model, loss="svm", optimizer=opt)
    X = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    for _ in range(3):
        step(X, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="labels must be 3 integers"):
        step(X, np.array([0.0, 1.0, 2.0], dtype=np.float32))
