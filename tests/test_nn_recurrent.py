"""RNN, LSTM and GRU: PyTorch's gate orders and parameter names (a PyTorch state dict's
arrays loaded and matched, outputs and gradients to 1e-10), central differences of whole
layers (reverse, forward, second order), shapes, initial states and errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from checker import check_grads

RNG = np.random.default_rng(2)


@pytest.fixture(scope="module")
def T():
    return pytest.importorskip("torch")


def _load_torch_weights(mine, theirs):
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(mine.state_dict()) == list(state)
    mine.load_state_dict(state)


CONFIGS = [
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"batch_first": True, "num_layers": 2}),
    ("LSTM", {"bias": False}),
    ("GRU", {}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("GRU", {"bias": False}),
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}),
]


@pytest.mark.parametrize("config", CONFIGS, ids=[f"{c}-{'-'.join(k)}" for c, k in CONFIGS])
def test_matches_pytorch_with_its_weights_outputs_states_and_gradients(T, config):
    cls, kwargs = config
    theirs = getattr(T.nn, cls)(3, 4, **kwargs).double()
    mine = getattr(nn, cls)(3, 4, dtype=np.float64, **kwargs)
    _load_torch_weights(mine, theirs)
    batch_first = kwargs.get("batch_first", False)
    x = RNG.standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    h0 = RNG.standard_normal((layers, 2, 4))
    c0 = RNG.standard_normal((layers, 2, 4))
    xs = [cr.tensor(a, requires_grad=True) for a in (x, h0, c0)]
    ts = [T.tensor(a, requires_grad=True) for a in (x, h0, c0)]
    if cls == "LSTM":
        out, (h, c) = mine(xs[0], (xs[1], xs[2]))
        ref, (rh, rc) = theirs(ts[0], (ts[1], ts[2]))
        mine_all, ref_all = [out, h, c], [ref, rh, rc]
    else:
        xs, ts = xs[:2], ts[:2]
        out, h = mine(xs[0], xs[1])
        ref, rh = theirs(ts[0], ts[1])
        mine_all, ref_all = [out, h], [ref, rh]
    loss, ref_loss = 0.0, 0.0
    for a, b in zip(mine_all, ref_all):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-10, rtol=0)
        weight = RNG.standard_normal(b.shape)
        loss = loss + (a * weight).sum()
        ref_loss = ref_loss + (b * T.tensor(weight)).sum()
    loss.backward()
    ref_loss.backward()
    for (name, p), (_, q) in zip(mine.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-10, rtol=0, err_msg=name)
    for a, b in zip(xs, ts):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10, rtol=0)


def test_gate_orders_are_pytorchs(T):
    # One step from zero state: with PyTorch's row blocks i, f, g, o (LSTM) and r, z, n
    # (GRU) the cell is computable by hand; a wrong order gives other numbers.
    x = RNG.standard_normal((1, 1, 2))
    lstm = nn.LSTM(2, 3, dtype=np.float64, seed=0)
    w, b = lstm.weight_ih_l0.numpy(), lstm.bias_ih_l0.numpy() + lstm.bias_hh_l0.numpy()
    a = w @ x[0, 0] + b
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i, _f, g, o = sig(a[:3]), sig(a[3:6]), np.tanh(a[6:9]), sig(a[9:])
    out, (h, c) = lstm(x)
    np.testing.assert_allclose(c.numpy()[0, 0], i * g, rtol=1e-12)
    np.testing.assert_allclose(h.numpy()[0, 0], o * np.tanh(i * g), rtol=1e-12)
    gru = nn.GRU(2, 3, dtype=np.float64, seed=0)
    wi, bi, bh = gru.weight_ih_l0.numpy(), gru.bias_ih_l0.numpy(), gru.bias_hh_l0.numpy()
    ai = wi @ x[0, 0] + bi
    r, z = sig(ai[:3] + bh[:3]), sig(ai[3:6] + bh[3:6])
    n = np.tanh(ai[6:] + r * bh[6:])
    out, h = gru(x)
    np.testing.assert_allclose(h.numpy()[0, 0], (1 - z) * n, rtol=1e-12)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_whole_layers_match_central_differences_to_second_order(cls):
    layer = getattr(nn, cls)(2, 3, num_layers=2, bidirectional=True, dtype=np.float64, seed=1)
    params = list(layer.parameters())

    def f(x, w_ih, w_hh):
        with cr.substitute([(params[0], w_ih), (params[1], w_hh)]):
            out = layer(x)[0]
        return out

    args = [RNG.standard_normal((3, 2, 2)), params[0].numpy(), params[1].numpy()]
    check_grads(f, args, order=2, label=cls)


def test_shapes_batch_first_unbatched_and_initial_states():
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True, seed=0)
    out, (h, c) = lstm(cr.ones(5, 7, 3, dtype=np.float32))
    assert out.shape == (5, 7, 4) and h.shape == (2, 5, 4) and c.shape == (2, 5, 4)
    assert out.dtype == np.float32
    out, (h, c) = lstm(cr.ones(7, 3, dtype=np.float32))  # unbatched (L, H_in)
    assert out.shape == (7, 4) and h.shape == (2, 4)
    gru = nn.GRU(3, 4, bidirectional=True, seed=0)
    h0 = cr.randn(2, 5, 4, dtype=np.float32, seed=0)
    out, h = gru(cr.ones(6, 5, 3, dtype=np.float32), h0)
    assert out.shape == (6, 5, 8) and h.shape == (2, 5, 4)
    # the final state of the forward direction is the last output step's first half,
    # of the reverse direction the first step's second half
    np.testing.assert_allclose(h.numpy()[0], out.numpy()[-1, :, :4])
    np.testing.assert_allclose(h.numpy()[1], out.numpy()[0, :, 4:])
    names = [n for n, _ in nn.LSTM(3, 4, num_layers=2, bidirectional=True).named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert names[4] == "weight_ih_l0_reverse" and names[-1] == "bias_hh_l1_reverse"
    bound = 1 / np.sqrt(4)
    assert all(np.abs(p.numpy()).max() <= bound for p in nn.LSTM(3, 4, seed=0).parameters())


def test_inter_layer_dropout_only_in_training():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5, seed=0)
    x = cr.randn(4, 2, 3, dtype=np.float32, seed=1)
    a = lstm(x)[0].numpy()
    b = lstm(x)[0].numpy()
    assert not np.allclose(a, b)
    lstm.eval()
    np.testing.assert_array_equal(lstm(x)[0].numpy(), lstm(x)[0].numpy())


def test_errors_name_the_layer_and_the_shapes():
    lstm = nn.LSTM(3, 4)
    with pytest.raises(
        ValueError,
        match=r"LSTM\(3, 4\): expected a 3-D input \(L, N, 3\).*"
        r"got shape \(2, 3, 4, 5\)",
    ):
        lstm(cr.ones(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\): expected input features 3.*\(5, 2, 7\)"):
        lstm(cr.ones(5, 2, 7))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(1, 2, 4\), got \(1, 3, 4\)"):
        lstm(cr.ones(5, 2, 3), (cr.zeros(1, 3, 4), cr.zeros(1, 2, 4)))
    with pytest.raises(TypeError, match="hx must be a tuple"):
        lstm(cr.ones(5, 2, 3), cr.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")


def test_lstm_trains_on_a_toy_task():
    # Output the running sum of the inputs: the LSTM has to carry state.
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (10, 16, 1)).astype(np.float32)
    y = np.cumsum(x, axis=0) / 3
    lstm = nn.LSTM(1, 8, seed=0)
    head = nn.Linear(8, 1, seed=1)
    opt = cr.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.02)
    first = None
    for _ in range(150):
        opt.zero_grad()
        loss = cr.nn.functional.mse_loss(head(lstm(x)[0]), cr.tensor(y))
        loss.backward()
        opt.step()
        first = first or loss.item()
    assert loss.item() < 0.1 * first
