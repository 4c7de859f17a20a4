"""Normalization, activations, embeddings, containers and buffers: central differences,
PyTorch's values and gradients (to 1e-10), BatchNorm's running statistics and eval mode,
state dicts with buffers, and the errors for bad shapes."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from checker import check_grads

RNG = np.random.default_rng(1)


def randn(*shape):
    return RNG.standard_normal(shape)


@pytest.fixture(scope="module")
def T():
    return pytest.importorskip("torch")


def _same(cr_fn, torch_fn, arrays, T, atol=1e-10):
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [T.tensor(a, requires_grad=True) for a in arrays]
    out, ref = cr_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=atol, rtol=0)
    upstream = RNG.standard_normal(ref.shape)
    (out * upstream).sum().backward()
    (ref * T.tensor(upstream)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol, rtol=0)


# --------------------------------------------------------------------------- central differences

CASES = [
    (
        "batch_norm-train",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [(4, 3, 2, 2), (3,), (3,)],
    ),
    (
        "batch_norm-eval",
        lambda x, w: F.batch_norm(x, np.zeros(3) + 0.2, np.ones(3) * 1.5, w),
        [(4, 3), (3,)],
    ),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (2, 3), w, b), [(4, 2, 3), (2, 3), (2, 3)]),
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    ("gelu", F.gelu, [(3, 4)]),
    ("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    ("silu", F.silu, [(3, 4)]),
    ("softplus", lambda x: F.softplus(x * 3, beta=2.0, threshold=4.0), [(3, 4)]),
    ("logsigmoid", F.logsigmoid, [(3, 4)]),
    ("softmax", lambda x: F.softmax(x, dim=0), [(3, 4)]),
    ("log_softmax", lambda x: F.log_softmax(x, dim=1), [(3, 4)]),
    # (padding_idx blocks a gradient on purpose: tested on its own below)
    ("embedding", lambda w: F.embedding(np.array([[1, 0], [3, 1]]), w), [(4, 3)]),
]
# kinked functions, checked away from the kink
KINKED = [
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), [(3, 4)]),
    ("elu", lambda x: F.elu(x, 0.7), [(3, 4)]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reverse_forward_and_second_order_match_central_differences(case):
    name, fn, shapes = case
    check_grads(fn, [RNG.standard_normal(s) for s in shapes], order=2, label=name)


@pytest.mark.parametrize("case", KINKED, ids=[c[0] for c in KINKED])
def test_kinked_activations_away_from_zero(case):
    name, fn, shapes = case
    args = [RNG.standard_normal(s) for s in shapes]
    args = [np.sign(a) * (np.abs(a) + 0.3) for a in args]
    check_grads(fn, args, order=2, label=name)


def test_erf_is_accurate_and_its_derivative_is_the_gaussian():
    import math

    x = np.concatenate([np.linspace(-7, 7, 4001), np.logspace(-300, 1, 300)])
    got = F.erf(cr.tensor(x)).numpy()
    ref = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)) < 1e-15
    assert F.erf(cr.tensor(np.float32(0.5))).dtype == np.float32
    t = cr.tensor([0.0, 0.7, -2.0], requires_grad=True)
    F.erf(t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 2 / np.sqrt(np.pi) * np.exp(-(t.numpy() ** 2)))


# --------------------------------------------------------------------------- PyTorch


def test_activations_match_pytorch_including_gradients_at_zero(T):
    tf = T.nn.functional
    x = np.concatenate([randn(30) * 4, [0.0, 25.0, -25.0, 30.0]])
    pairs = [
        (F.gelu, tf.gelu),
        (lambda t: F.gelu(t, "tanh"), lambda t: tf.gelu(t, approximate="tanh")),
        (F.silu, tf.silu),
        (lambda t: F.leaky_relu(t, 0.2), lambda t: tf.leaky_relu(t, 0.2)),
        (lambda t: F.elu(t, 0.7), lambda t: tf.elu(t, 0.7)),
        (F.softplus, tf.softplus),
        (lambda t: F.softplus(t, 2.0, 5.0), lambda t: tf.softplus(t, 2.0, 5.0)),
        (F.logsigmoid, tf.logsigmoid),
    ]
    for mine, theirs in pairs:
        _same(mine, theirs, [x], T)
    x3 = randn(3, 4, 5)
    _same(lambda t: F.softmax(t), lambda t: tf.softmax(t, dim=0), [x3], T)  # implicit dim
    _same(lambda t: F.log_softmax(t, 2), lambda t: tf.log_softmax(t, 2), [x3], T)


def test_activation_modules_match_pytorch(T):
    x = randn(4, 6)
    pairs = [
        (nn.GELU(), T.nn.GELU()),
        (nn.GELU("tanh"), T.nn.GELU("tanh")),
        (nn.SiLU(), T.nn.SiLU()),
        (nn.LeakyReLU(0.3), T.nn.LeakyReLU(0.3)),
        (nn.ELU(2.0), T.nn.ELU(2.0)),
        (nn.Softplus(0.5, 3.0), T.nn.Softplus(0.5, 3.0)),
        (nn.Softmax(dim=1), T.nn.Softmax(dim=1)),
        (nn.LogSoftmax(dim=0), T.nn.LogSoftmax(dim=0)),
        (nn.Identity(54, unused=1), T.nn.Identity(54, unused=1)),
        (nn.Flatten(0), T.nn.Flatten(0)),
        (nn.Unflatten(1, (2, 3)), T.nn.Unflatten(1, (2, 3))),
    ]
    for mine, theirs in pairs:
        _same(mine, theirs, [x], T)


def test_normalization_matches_pytorch(T):
    tf = T.nn.functional
    x, w, b = randn(6, 4, 3, 3), randn(4), randn(4)
    _same(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: tf.batch_norm(x, None, None, w, b, training=True),
        [x, w, b],
        T,
    )
    rm, rv = randn(4), np.abs(randn(4)) + 0.5
    _same(
        lambda x, w, b: F.batch_norm(x, rm, rv, w, b),
        lambda x, w, b: tf.batch_norm(x, T.tensor(rm), T.tensor(rv), w, b),
        [x, w, b],
        T,
    )
    x3, lw, lb = randn(3, 4, 5), randn(4, 5), randn(4, 5)
    _same(
        lambda x, w, b: F.layer_norm(x, (4, 5), w, b),
        lambda x, w, b: tf.layer_norm(x, (4, 5), w, b),
        [x3, lw, lb],
        T,
    )
    _same(
        lambda x, w, b: F.group_norm(x, 2, w, b),
        lambda x, w, b: tf.group_norm(x, 2, w, b),
        [x, w, b],
        T,
    )


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_running_statistics_and_eval_mode_match_pytorch(T, momentum):
    mine = nn.BatchNorm2d(3, momentum=momentum, dtype=np.float64)
    theirs = T.nn.BatchNorm2d(3, momentum=momentum).double()
    assert list(mine.state_dict()) == list(theirs.state_dict())
    with T.no_grad():
        theirs.weight.copy_(T.tensor(randn(3)))
        theirs.bias.copy_(T.tensor(randn(3)))
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for _ in range(3):
        x = randn(5, 3, 4, 4) * 2 + 1
        _same(mine, theirs, [x], T)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(
            np.asarray(mine.state_dict()[key].numpy()), value.numpy(), atol=1e-12, err_msg=key
        )
    assert int(mine.num_batches_tracked) == 3
    mine.eval()
    theirs.eval()
    before = mine.running_mean.numpy().copy()
    _same(mine, theirs, [randn(5, 3, 4, 4)], T)
    np.testing.assert_array_equal(mine.running_mean.numpy(), before)  # eval leaves them
    one_d, theirs_1d = nn.BatchNorm1d(4, dtype=np.float64), T.nn.BatchNorm1d(4).double()
    _same(one_d, theirs_1d, [randn(6, 4)], T)
    _same(one_d, theirs_1d, [randn(6, 4, 3)], T)
    untracked = nn.BatchNorm1d(4, track_running_stats=False, dtype=np.float64)
    assert list(untracked.state_dict()) == ["weight", "bias"]
    untracked.eval()
    _same(
        untracked, T.nn.BatchNorm1d(4, track_running_stats=False).double().eval(), [randn(6, 4)], T
    )


def test_norm_and_embedding_state_dict_keys_equal_pytorchs(T):
    pairs = [
        (nn.BatchNorm1d(3), T.nn.BatchNorm1d(3)),
        (nn.BatchNorm2d(3, affine=False), T.nn.BatchNorm2d(3, affine=False)),
        (nn.LayerNorm((2, 3)), T.nn.LayerNorm((2, 3))),
        (nn.LayerNorm(3, bias=False), T.nn.LayerNorm(3, bias=False)),
        (nn.GroupNorm(2, 4), T.nn.GroupNorm(2, 4)),
        (nn.Embedding(5, 2), T.nn.Embedding(5, 2)),
        (
            nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)),
            T.nn.Sequential(T.nn.Conv2d(1, 2, 3), T.nn.BatchNorm2d(2)),
        ),
    ]
    for mine, theirs in pairs:
        assert list(mine.state_dict()) == list(theirs.state_dict()), type(mine).__name__


def test_embedding_matches_pytorch_and_padding_row_gets_no_gradient(T):
    w = randn(10, 3)
    idx = np.array([[1, 2, 0], [0, 9, 4]])
    _same(
        lambda w: F.embedding(idx, w, padding_idx=0),
        lambda w: T.nn.functional.embedding(T.tensor(idx), w, padding_idx=0),
        [w],
        T,
    )
    emb = nn.Embedding(10, 3, padding_idx=2, seed=0)
    assert np.all(emb.weight.numpy()[2] == 0)
    emb(np.array([2, 2, 3])).sum().backward()
    assert np.all(emb.weight.grad.numpy()[2] == 0) and np.all(emb.weight.grad.numpy()[3] == 1)
    stats = nn.Embedding(2000, 50, seed=1).weight.numpy()
    assert abs(stats.mean()) < 0.01 and abs(stats.std() - 1) < 0.01  # N(0, 1) as PyTorch
    frozen = nn.Embedding.from_pretrained(np.eye(3))
    assert not frozen.weight.requires_grad
    with pytest.raises(IndexError, match="index 5 is out of range for 3 embeddings"):
        frozen(np.array([0, 5]))


def test_embedding_max_norm_renormalises_rows_like_pytorch(T):
    w = randn(6, 4) * 3
    mine = nn.Embedding(6, 4, max_norm=1.0, dtype=np.float64, _weight=w)
    theirs = T.nn.Embedding(6, 4, max_norm=1.0, _weight=T.tensor(w))
    idx = np.array([0, 3, 3])
    np.testing.assert_allclose(mine(idx).numpy(), theirs(T.tensor(idx)).detach().numpy(), atol=1e-7)
    np.testing.assert_allclose(mine.weight.numpy(), theirs.weight.detach().numpy(), atol=1e-7)


# --------------------------------------------------------------------------- containers, buffers


def test_buffers_are_state_but_not_parameters_and_move_with_load_state_dict():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2, seed=0)
            self.register_buffer("steps", cr.zeros((), dtype=np.int64))
            self.register_buffer("scratch", cr.ones(3), persistent=False)
            self.register_buffer("absent", None)

    m = Counter()
    assert [n for n, _ in m.named_parameters()] == ["lin.weight", "lin.bias"]
    assert [n for n, _ in m.named_buffers()] == ["steps", "scratch"]
    assert list(m.state_dict()) == ["steps", "lin.weight", "lin.bias"]
    state = {k: np.array(v.numpy(), copy=True) for k, v in m.state_dict().items()}
    state["steps"] = np.array(7)
    other = Counter()
    other.load_state_dict(state)
    assert int(other.steps) == 7 and other.steps.dtype == np.int64
    with pytest.raises(RuntimeError, match=r"missing keys \['steps'\]"):
        other.load_state_dict({k: v for k, v in state.items() if k != "steps"})
    m.steps = cr.tensor(3)  # assigning keeps it a buffer (PyTorch's semantics)
    assert int(m.state_dict()["steps"]) == 3
    m.to(np.float64)
    assert m.lin.weight.dtype == np.float64 and m.scratch.dtype == np.float64
    assert m.steps.dtype == np.int64  # integer buffers keep their dtype
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("lin", cr.ones(1))


def test_batchnorm_buffers_round_trip_through_save_and_load(tmp_path):
    bn = nn.BatchNorm1d(3)
    bn(cr.randn(8, 3, dtype=np.float32, seed=0))
    cr.save(bn.state_dict(), tmp_path / "bn.npz")
    fresh = nn.BatchNorm1d(3)
    fresh.load_state_dict(cr.load(tmp_path / "bn.npz"))
    for key, value in bn.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key].numpy(), value.numpy())
    assert int(fresh.num_batches_tracked) == 1


def test_module_list_and_dict_name_their_children_like_pytorch(T):
    blocks = nn.ModuleList([nn.Linear(2, 3, seed=0), nn.ReLU()])
    blocks.append(nn.Linear(3, 1, seed=1))
    assert len(blocks) == 3 and isinstance(blocks[-1], nn.Linear)
    assert [n for n, _ in blocks.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    heads = nn.ModuleDict({"a": nn.Linear(2, 2, seed=0), "head": nn.Linear(2, 1, seed=0)})
    assert list(heads.keys()) == ["a", "head"] and "a" in heads
    theirs = T.nn.ModuleDict({"a": T.nn.Linear(2, 2), "head": T.nn.Linear(2, 1)})
    assert list(heads.state_dict()) == list(theirs.state_dict())

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2, seed=i) for i in range(3)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    net = Net()
    assert len(list(net.parameters())) == 6
    assert Net()(cr.ones(1, 2, dtype=np.float32)).shape == (1, 2)
    net.eval()
    assert not net.layers[0].training
    clone = copy.deepcopy(net)
    assert clone.layers[0].weight is not net.layers[0].weight
    with pytest.raises(TypeError, match="expected a Module"):
        blocks.append(3)


def test_flatten_unflatten_and_errors():
    assert nn.Flatten()(cr.ones(2, 3, 4, 5)).shape == (2, 60)
    assert nn.Flatten(1, 2)(cr.ones(2, 3, 4, 5)).shape == (2, 12, 5)
    assert nn.Unflatten(1, (3, -1))(cr.ones(2, 12)).shape == (2, 3, 4)
    with pytest.raises(ValueError, match=r"Unflatten: axis 1 of size 12 .* cannot be split into"):
        nn.Unflatten(1, (5, 2))(cr.ones(2, 12))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected a 4-D input"):
        nn.BatchNorm2d(3)(cr.ones(2, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected 3 channels"):
        nn.BatchNorm1d(3)(cr.ones(2, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(cr.ones(1, 3))
    with pytest.raises(ValueError, match=r"LayerNorm\(\(4,\)\): expected input of shape \(\*, 4\)"):
        nn.LayerNorm(4)(cr.ones(2, 3))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(3, 4)
