"""cr.jit reads every argument at every call: integer labels and indices that are inputs
of a jitted loss are operations of the program (checked, masked, one-hot), never the first
call's values baked in; and a traced value's array cannot leak into NumPy unrecorded."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.tensor import ConcretizationError

F = cr.nn.functional

RNG = np.random.default_rng(0)
S = RNG.standard_normal((6, 4))
S3 = RNG.standard_normal((3, 4, 2))  # (N, C, d): one label per (sample, position)
W = np.array([1.0, 2.0, 0.5, 1.5])
Y1 = np.array([0, 1, 2, 3, 0, 1])
Y2 = np.array([3, 3, 1, 0, 2, 2])
Y3 = np.array([3, 2, 2, 0, 2, 1])  # has label 2: ignored below

LOSSES = {
    "cross_entropy": lambda s, y: F.cross_entropy(s, y),
    "cross_entropy weight": lambda s, y: F.cross_entropy(s, y, weight=W),
    "cross_entropy smoothing": lambda s, y: F.cross_entropy(s, y, label_smoothing=0.2),
    "cross_entropy weight+smoothing": lambda s, y: F.cross_entropy(
        s, y, weight=W, label_smoothing=0.1
    ),
    "cross_entropy ignore_index": lambda s, y: F.cross_entropy(s, y, ignore_index=2),
    "cross_entropy ignore+weight": lambda s, y: F.cross_entropy(s, y, weight=W, ignore_index=2),
    "cross_entropy sum": lambda s, y: F.cross_entropy(s, y, reduction="sum"),
    "cross_entropy none": lambda s, y: F.cross_entropy(s, y, reduction="none").sum(),
    "nll_loss": lambda s, y: F.nll_loss(F.log_softmax(s, 1), y),
    "nll_loss weight ignore": lambda s, y: F.nll_loss(
        F.log_softmax(s, 1), y, weight=W, ignore_index=2
    ),
    "svm_loss": lambda s, y: F.svm_loss(s, y),
    "multi_margin_loss": lambda s, y: F.multi_margin_loss(s, y, p=2, weight=W),
    "softmax_cross_entropy": lambda s, y: cr.softmax_cross_entropy(s, y),
    "labels picked by indexing": lambda s, y: (s[np.arange(6), y] ** 2).sum(),
}


def _eager(f, s, y):
    return f(cr.tensor(s), cr.tensor(y))


@pytest.mark.parametrize("name", list(LOSSES))
def test_jitted_loss_reads_each_calls_labels(name):
    f = LOSSES[name]
    jitted = cr.jit(f)
    jitted_grad = cr.jit(cr.grad(f))
    for y in (Y1, Y2, Y3):  # compiled on Y1; Y2 and Y3 are new labels of the same shape
        want = _eager(f, S, y).item()
        got = jitted(cr.tensor(S), cr.tensor(y)).item()
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), (name, y)
        s = cr.tensor(S, requires_grad=True)
        f(s, cr.tensor(y)).backward()
        g = jitted_grad(cr.tensor(S), cr.tensor(y))
        np.testing.assert_allclose(g.numpy(), s.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert jitted.cache_info().misses == 1


def test_jitted_cross_entropy_over_positions_reads_labels():
    f = lambda s, y: F.cross_entropy(s, y, ignore_index=1)  # noqa: E731
    jitted = cr.jit(f)
    for y in (np.array([[0, 2], [3, 3], [2, 0]]), np.array([[1, 1], [0, 3], [2, 1]])):
        assert jitted(S3, y).item() == pytest.approx(f(cr.tensor(S3), cr.tensor(y)).item())


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_everything_ignored_is_nan_in_both():
    f = lambda s, y: F.cross_entropy(s, y, ignore_index=2)  # noqa: E731
    jitted = cr.jit(f)
    jitted(S, Y1)
    assert np.isnan(jitted(S, np.full(6, 2)).item())
    assert np.isnan(f(cr.tensor(S), cr.tensor(np.full(6, 2))).item())


@pytest.mark.parametrize(
    "f",
    [
        lambda s, y: F.cross_entropy(s, y),
        lambda s, y: cr.softmax_cross_entropy(s, y),
        lambda s, y: F.nll_loss(F.log_softmax(s, 1), y),
        lambda s, y: F.svm_loss(s, y),
    ],
    ids=["cross_entropy", "softmax_cross_entropy", "nll_loss", "svm_loss"],
)
@pytest.mark.parametrize("bad", [-1, 4])
def test_out_of_range_labels_raise_at_a_later_call(f, bad):
    """A negative label would silently pick the last class through NumPy's indexing:
    the program checks every call's labels."""
    jitted = cr.jit(f)
    jitted(S, Y1)
    y = Y2.copy()
    y[3] = bad
    with pytest.raises(IndexError, match=rf"label {bad} is out of range for 4 classes \(sample 3"):
        jitted(S, y)
    with pytest.raises(IndexError, match=rf"label {bad} is out of range"):
        cr.jit(cr.grad(f))(S, y)


def test_a_compiled_loss_checks_labels_inside_the_program():
    model = cr.nn.Sequential(cr.nn.Linear(4, 3, seed=0))
    step = cr.nn.CompiledLoss(model)
    X = RNG.standard_normal((4, 4))
    step(X, np.array([0, 1, 2, 0]))
    assert "checked_labels(y, (4, 3)" in step.source(X.shape)
    with pytest.raises(IndexError, match="label -1 is out of range"):
        step(X, np.array([0, -1, 2, 0]))


def test_jitted_embedding_reads_each_calls_indices():
    w = cr.tensor(RNG.standard_normal((5, 3)), requires_grad=True)

    def f(weight, idx):
        return (F.embedding(idx, weight, padding_idx=0) ** 2).sum()

    jitted = cr.jit(f)
    jitted_grad = cr.jit(cr.grad(f))
    for idx in (np.array([[1, 0], [4, 2]]), np.array([[3, 3], [0, 1]])):
        assert jitted(w, idx).item() == pytest.approx(f(w, idx).item(), rel=1e-12)
        np.testing.assert_allclose(
            jitted_grad(w, idx).numpy(), cr.grad(f)(w, idx).numpy(), rtol=1e-12
        )
    for bad in (5, -1):
        with pytest.raises(IndexError, match=rf"index {bad} is out of range for 5 embeddings"):
            jitted(w, np.array([[1, bad], [0, 0]]))


def test_data_of_a_traced_value_is_refused_under_jit():
    with pytest.raises(ConcretizationError, match=r"\.data of a traced value at .*test_jit"):
        cr.jit(lambda x: cr.tensor(x.data * 2.0))(cr.tensor([1.0, 2.0]))


def test_data_of_a_traced_value_still_reads_per_example_under_vmap():
    out = cr.vmap(lambda x: x * cr.as_tensor(x.data))(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_allclose(out.numpy(), [[1.0, 4.0], [9.0, 16.0]])


def test_vmap_checks_labels_of_each_example():
    f = cr.vmap(lambda s, y: cr.softmax_cross_entropy(s, y))
    s = np.stack([S, S])
    ys = np.stack([Y1, Y2])
    got = f(s, ys).numpy()
    want = [cr.softmax_cross_entropy(S, y).item() for y in ys]
    np.testing.assert_allclose(got, want, rtol=1e-12)


# --------------------------------------------------------------------------- detach


def test_detach_of_a_traced_value_is_computed_at_every_call():
    f = lambda x: x.detach() * 2.0 + x  # noqa: E731
    jitted = cr.jit(f)
    x = np.array([1.0, -3.0])
    jitted(x)
    np.testing.assert_array_equal(jitted(np.array([5.0, 2.0])).numpy(), [15.0, 6.0])
    np.testing.assert_array_equal(x, [1.0, -3.0])  # the argument is not written into


def test_no_gradient_flows_through_a_jitted_detach():
    f = lambda x: (x.detach() * x).sum()  # noqa: E731
    g = cr.jit(cr.grad(f))
    for x in ([1.0, 2.0], [5.0, -1.0]):
        np.testing.assert_allclose(g(cr.tensor(x)).numpy(), x)  # d/dx (c * x) = c = x
    w = cr.tensor([2.0, 3.0], requires_grad=True)
    loss = cr.jit(lambda x: (x * w * w.detach()).sum())(cr.tensor([1.0, 4.0]))
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 12.0])  # x * w (the detached factor)


# --------------------------------------------------------------------------- in place


def _shifted(x):
    x += 1.0
    x[0] = 7.0
    return x * 2.0


@pytest.mark.parametrize("kind", ["tensor", "ndarray"])
def test_an_argument_changed_in_place_is_changed_for_the_caller(kind):
    jitted = cr.jit(_shifted)
    for start in ([1.0, 2.0], [4.0, -1.0]):
        mine = np.array(start) if kind == "ndarray" else cr.tensor(start)
        eager_arg = np.array(start)
        want = _shifted(eager_arg)
        got = jitted(mine)
        np.testing.assert_array_equal(got.numpy(), want)
        np.testing.assert_array_equal(mine if kind == "ndarray" else mine.numpy(), eager_arg)
    assert jitted.cache_info().misses == 1


def test_a_parameter_updated_in_place_is_updated_once_per_call():
    def make():
        w = cr.tensor([1.0, 2.0], requires_grad=True)

        def step(x):
            with cr.no_grad():
                w.sub_(0.1 * x)
            return (w * x).sum()

        return w, step

    w_eager, eager = make()
    w_jit, step = make()
    jitted = cr.jit(step)
    x = cr.tensor([1.0, 3.0])
    for _ in range(3):  # the first call traces: the update must not happen twice
        assert jitted(x).item() == pytest.approx(eager(x).item(), rel=1e-12)
        np.testing.assert_allclose(w_jit.numpy(), w_eager.numpy(), rtol=1e-12)


def test_a_failed_trace_leaves_the_parameters_as_they_were():
    w = cr.tensor([1.0, 2.0], requires_grad=True)

    def bad(x):
        with cr.no_grad():
            w.add_(x)
        return bool(x.sum() > 0)  # refused: a traced value to a Python bool

    with pytest.raises(ConcretizationError):
        cr.jit(bad)(cr.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


# --------------------------------------------------------------------------- refused


def test_backward_inside_jit_is_refused():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    refused = r"backward\(\) at .* inside cr.jit.*value_and_grad"
    with pytest.raises(ConcretizationError, match=refused):
        cr.jit(lambda x: ((w * x).sum().backward(), x)[1])(cr.tensor([1.0, 1.0]))
    assert w.grad is None


def test_reading_grad_inside_jit_is_refused():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with pytest.raises(ConcretizationError, match=r"\.grad at .* inside cr.jit"):
        cr.jit(lambda x: w.grad * x)(cr.tensor([1.0, 1.0]))


def test_data_of_a_parameter_inside_jit_is_refused():
    w = cr.tensor([1.0, 2.0], requires_grad=True)

    def update(x):
        with cr.no_grad():
            w.data -= 0.1 * x.sum()
        return x

    with pytest.raises(ConcretizationError, match="requires grad .* p.sub_"):
        cr.jit(update)(cr.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


def test_an_optimizer_step_inside_jit_is_refused():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)
    with pytest.raises(ConcretizationError, match=r"SGD.step\(\) at .* inside cr.jit"):
        cr.jit(lambda x: (opt.step(), x)[1])(cr.tensor([1.0]))


# --------------------------------------------------------------------------- modules


def _bn_net():
    nn = cr.nn
    return nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4), nn.ReLU())


def test_batch_norm_running_statistics_update_at_every_jitted_call():
    eager, compiled = _bn_net(), _bn_net()
    jitted = cr.jit(compiled)
    rng = np.random.default_rng(2)
    for _ in range(4):
        X = cr.tensor(rng.standard_normal((8, 3)))
        np.testing.assert_allclose(jitted(X).numpy(), eager(X).numpy(), rtol=1e-12)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(
            getattr(compiled[1], name).numpy(), getattr(eager[1], name).numpy(), rtol=1e-12
        )
    assert compiled[1].num_batches_tracked.item() == eager[1].num_batches_tracked.item() == 4
    assert jitted.cache_info().misses == 1


def test_a_jitted_module_follows_train_and_eval_and_reads_replaced_buffers():
    nn = cr.nn
    eager = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4), nn.Dropout(0.5, seed=1))
    compiled = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4), nn.Dropout(0.5, seed=1))
    jitted = cr.jit(compiled)
    X = cr.tensor(np.random.default_rng(3).standard_normal((8, 3)))
    for _ in range(3):  # an epoch of training, then an evaluation
        eager.train(), compiled.train()
        np.testing.assert_allclose(jitted(X).numpy(), eager(X).numpy(), rtol=1e-12)
        eager.eval(), compiled.eval()
        np.testing.assert_allclose(jitted(X).numpy(), eager(X).numpy(), rtol=1e-12)
    assert jitted.cache_info().misses == 2  # one program per mode, each compiled once
    state = {k: v + 1.0 if "running_var" in k else v for k, v in compiled.state_dict().items()}
    compiled.load_state_dict(state)  # new arrays for the buffers: read at the next call
    eager.load_state_dict(state)
    np.testing.assert_allclose(jitted(X).numpy(), eager(X).numpy(), rtol=1e-12)


def test_jitted_dropout_draws_a_new_mask_at_every_call():
    f = lambda x: cr.nn.functional.dropout(x, 0.5)  # noqa: E731
    jitted = cr.jit(f)
    x = cr.tensor(np.ones(64))
    masks = [jitted(x).numpy() for _ in range(3)]
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])
    cr.manual_seed(7)
    want = f(x).numpy()
    cr.manual_seed(7)
    np.testing.assert_array_equal(jitted(x).numpy(), want)  # the same draws as eager
    g = cr.jit(cr.grad(lambda x: (f(x) * x).sum()))
    grad = g(x).numpy()
    assert set(np.unique(grad)) <= {0.0, 4.0}  # 2 x mask: the mask of that call


def test_cumulative_batch_norm_is_refused_under_jit():
    bn = cr.nn.BatchNorm1d(2, momentum=None)
    with pytest.raises(ConcretizationError, match="momentum=None"):
        cr.jit(bn)(cr.tensor(np.random.default_rng(0).standard_normal((4, 2))))


def test_vmap_still_reads_grad_from_outside():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    out = cr.vmap(lambda x: w.grad * x)(cr.tensor([[1.0, 1.0], [2.0, 3.0]]))
    np.testing.assert_array_equal(out.numpy(), [[2.0, 4.0], [4.0, 12.0]])


def test_a_copy_of_a_traced_value_is_computed_at_every_call():
    f = lambda x: (cr.tensor(x) * x).sum()  # noqa: E731  (cr.tensor copies and detaches)
    jitted, jitted_grad = cr.jit(f), cr.jit(cr.grad(f))
    jitted(cr.tensor([1.0, 2.0]))
    jitted_grad(cr.tensor([1.0, 2.0]))
    x = cr.tensor([3.0, 5.0])
    assert jitted(x).item() == 34.0
    np.testing.assert_array_equal(jitted_grad(x).numpy(), [3.0, 5.0])
    assert cr.jit(lambda x: cr.tensor(x, dtype=np.float32))(x).dtype == np.float32


def _models():
    nn = cr.nn
    return {
        "conv-pool-linear": (
            nn.Sequential(
                nn.Conv2d(1, 2, 3, seed=0),
                nn.BatchNorm2d(2),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(18, 3, seed=1),
            ),
            (2, 1, 8, 8),
        ),
        "conv1d-avgpool": (nn.Sequential(nn.Conv1d(2, 3, 3, seed=0), nn.AvgPool1d(2)), (2, 2, 9)),
        "lstm": (nn.LSTM(3, 4, seed=0), (5, 2, 3)),
        "layernorm-gelu": (
            nn.Sequential(nn.Linear(4, 6, seed=0), nn.LayerNorm(6), nn.GELU()),
            (3, 4),
        ),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_jitted_models_equal_eager_on_a_new_input(name):
    model, shape = _models()[name]
    jitted = cr.jit(model)
    rng = np.random.default_rng(4)
    jitted(cr.tensor(rng.standard_normal(shape)))  # compiled here
    x = cr.tensor(rng.standard_normal(shape))

    def first(out):
        return out[0] if isinstance(out, tuple) else out

    got = first(jitted(x))
    got.sum().backward()
    jit_grads = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    want = first(model(x))
    want.sum().backward()
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    for g, p in zip(jit_grads, model.parameters()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "loss",
    [
        lambda p, t: F.mse_loss(p, t),
        lambda p, t: F.l1_loss(p, t),
        lambda p, t: F.huber_loss(p, t),
        lambda p, t: F.binary_cross_entropy(p, t),
        lambda p, t: F.kl_div(cr.log(p), t, reduction="batchmean"),
        lambda p, t: F.cross_entropy(p, t / t.sum(axis=1, keepdims=True), label_smoothing=0.1),
    ],
    ids=["mse", "l1", "huber", "bce", "kl_div", "soft cross_entropy"],
)
def test_jitted_losses_read_each_calls_float_targets(loss):
    rng = np.random.default_rng(5)
    p1, p2 = (rng.random((4, 3)) * 0.8 + 0.1 for _ in range(2))
    t1, t2 = rng.random((4, 3)), rng.random((4, 3))
    jitted, jitted_grad = cr.jit(loss), cr.jit(cr.grad(loss))
    jitted(cr.tensor(p1), cr.tensor(t1))
    jitted_grad(cr.tensor(p1), cr.tensor(t1))
    want = loss(cr.tensor(p2), cr.tensor(t2)).item()
    assert jitted(cr.tensor(p2), cr.tensor(t2)).item() == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(
        jitted_grad(cr.tensor(p2), cr.tensor(t2)).numpy(),
        cr.grad(loss)(cr.tensor(p2), cr.tensor(t2)).numpy(),
        rtol=1e-12,
    )


def test_a_parameter_replaced_on_the_module_is_read_after_the_change():
    nn = cr.nn
    layer = nn.Linear(3, 2, seed=0)
    jitted = cr.jit(layer)
    x = cr.tensor(np.ones((2, 3)))
    jitted(x)
    layer.weight = nn.Parameter(np.zeros((2, 3)))  # a new tensor, not new values
    np.testing.assert_allclose(jitted(x).numpy(), layer(x).numpy())
    assert jitted.cache_info().misses == 2


def test_changing_an_argument_that_requires_grad_in_place_is_refused_as_eagerly():
    def f(x):
        x.add_(1.0)
        return x * 2.0

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        f(x)
    with pytest.raises(RuntimeError, match=r"jit\(f\): changes its argument x, a leaf"):
        cr.jit(f)(x)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


@pytest.mark.filterwarnings("ignore:jit. checkpoint has no generated code")
def test_a_checkpoint_inside_jit_runs_its_function_at_every_call():
    f = lambda x: cr.checkpoint(lambda y: (y.sin() * y).sum(), x)  # noqa: E731
    jitted = cr.jit(f)
    jitted(cr.tensor([1.0, 2.0]))  # no input requires grad: the plain program
    x = np.array([3.0, -2.0])
    assert jitted(cr.tensor(x)).item() == pytest.approx(float((np.sin(x) * x).sum()))
    w = cr.tensor(x, requires_grad=True)
    jitted(w).backward()
    np.testing.assert_allclose(w.grad.numpy(), np.cos(x) * x + np.sin(x))


def test_a_repeated_call_of_arrays_rechecks_what_can_change():
    """The last call's arrays again take a shorter path; whatever changed since (a shape,
    a dtype, a Tensor for an array, grad mode, a Module's mode, a parameter's shape)
    still picks or compiles the right program."""
    lin = cr.nn.Linear(3, 2, seed=0)
    drop = cr.nn.Dropout(0.5)
    f = cr.jit(lambda x, s: drop(lin(x)) * s)
    x3, s = np.ones((4, 3)), np.float64(2.0) * np.ones(1)
    drop.eval()
    eager = lambda x: (lin(cr.tensor(x)) * s).numpy()  # noqa: E731
    for x in (x3, x3, np.ones((5, 3)), x3, x3.astype(np.float32)):
        out = f(x, s)
        assert out.shape == (len(x), 2) and out.dtype == np.result_type(x.dtype, s.dtype)
        np.testing.assert_allclose(out.numpy(), eager(x), rtol=1e-6)
    t = cr.tensor(x3, requires_grad=True)
    f(t, s).sum().backward()  # a Tensor that requires grad: the gradient path
    np.testing.assert_allclose(t.grad.numpy(), np.tile(lin.weight.numpy().sum(0) * 2, (4, 1)))
    with cr.no_grad():
        assert not f(x3, s).requires_grad
    assert f(x3, s).requires_grad  # the parameters require grad
    drop.train()
    cr.manual_seed(0)
    trained = f(x3, s).numpy()
    assert (trained == 0).any() or not np.allclose(trained, eager(x3))  # dropout ran
    drop.eval()
    np.testing.assert_allclose(f(x3, s).numpy(), eager(x3))
    lin.weight = cr.nn.Parameter(np.ones((2, 3)))
    np.testing.assert_allclose(f(x3, s).numpy(), eager(x3))
    assert f.cache_info().hits >= 3


def test_a_jitted_backward_refuses_an_adopted_array_written_into_after_the_forward():
    # The compiled backward reads the second layer's weight (a residual). Its memory is
    # handed out by .numpy(); writing into it between forward and backward must raise, as
    # the eager backward does, not give a gradient of the changed weight.
    model = cr.nn.Sequential(cr.nn.Linear(3, 3, seed=0), cr.nn.Tanh(), cr.nn.Linear(3, 2, seed=1))
    held = model[2].weight.numpy()
    X = np.ones((2, 3))
    for f in (model, cr.jit(model)):
        model.zero_grad()
        loss = f(X).tanh().sum()
        before = held.copy()
        held += 5.0
        with pytest.raises(RuntimeError, match="modified in place"):
            loss.backward()
        held[...] = before
    # untouched, the jitted backward runs and agrees with eager
    model.zero_grad()
    model(X).tanh().sum().backward()
    eager = model[0].weight.grad.numpy().copy()
    model.zero_grad()
    cr.jit(model)(X).tanh().sum().backward()
    np.testing.assert_allclose(model[0].weight.grad.numpy(), eager, rtol=1e-12)


def test_a_saved_view_of_an_adopted_array_is_checked_too():
    a = np.arange(1.0, 5.0)
    v = cr.as_tensor(a)[1:]  # a view of the caller's array
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (w * v).sum()
    a[2] = 100.0
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_layer_parameters_are_not_adopted_but_a_callers_array_is():
    from chainrule import versions

    layers = [
        cr.nn.Linear(3, 2),
        cr.nn.Conv2d(1, 2, 3),
        cr.nn.LayerNorm(4),
        cr.nn.BatchNorm1d(3),
        cr.nn.Embedding(5, 2),
        cr.nn.LSTM(3, 4),
        cr.nn.MultiheadAttention(4, 2),
    ]
    for layer in layers:
        for name, p in layer.named_parameters():
            assert id(p._data) not in versions.ADOPTED, (type(layer).__name__, name)
    mine = np.ones(3)
    p = cr.nn.Parameter(mine)
    assert id(p._data) in versions.ADOPTED  # the caller holds this memory


def test_compiling_adopts_nothing():
    # the trace's stand-ins are copies made for it: while an adopted array lives, every
    # node that saves arrays checks them, so a compiled program must not keep any alive
    import gc

    from chainrule import versions

    model = cr.nn.Sequential(cr.nn.Linear(4, 3, seed=0), cr.nn.ReLU(), cr.nn.Linear(3, 2, seed=1))
    X = np.ones((5, 4))
    gc.collect()
    before = set(versions.ADOPTED)
    f = cr.jit(model)
    cr.nn.functional.cross_entropy(f(X), np.array([0, 1, 0, 1, 1])).backward()
    g = cr.jit(cr.grad(lambda w: (cr.tanh(w) ** 2).sum()))
    g(np.ones(3))
    gc.collect()  # what is left is what the compiled programs keep alive
    assert set(versions.ADOPTED) <= before
