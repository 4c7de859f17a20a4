"""Attention: scaled_dot_product_attention, MultiheadAttention and TransformerEncoderLayer
against PyTorch (same weights; masks, need_weights, batch_first; outputs and gradients to
1e-10), central differences to second order, state dict keys and errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from checker import check_grads

RNG = np.random.default_rng(3)


def randn(*shape):
    return RNG.standard_normal(shape)


@pytest.fixture(scope="module")
def T():
    return pytest.importorskip("torch")


def _load(mine, theirs):
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(mine.state_dict()) == list(state)
    mine.load_state_dict(state)


def _compare(mine_outs, ref_outs, mine_inputs, ref_inputs, mine, theirs, T):
    loss, ref_loss = 0.0, 0.0
    for a, b in zip(mine_outs, ref_outs):
        if b is None:
            assert a is None
            continue
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-10, rtol=0)
        w = RNG.standard_normal(b.shape)
        loss = loss + (a * w).sum()
        ref_loss = ref_loss + (b * T.tensor(w)).sum()
    loss.backward()
    ref_loss.backward()
    for (name, p), (_, q) in zip(mine.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-10, err_msg=name)
    for a, b in zip(mine_inputs, ref_inputs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)


def test_sdpa_matches_pytorch_with_masks_and_causal(T):
    tf = T.nn.functional
    q, k, v = randn(2, 3, 4, 8), randn(2, 3, 6, 8), randn(2, 3, 6, 5)
    keep = RNG.random((4, 6)) > 0.3
    keep[:, 0] = True
    floats = randn(2, 1, 4, 6)
    cases = [
        ({}, {}),
        ({"attn_mask": keep}, {"attn_mask": T.tensor(keep)}),
        ({"attn_mask": floats, "scale": 0.3}, {"attn_mask": T.tensor(floats), "scale": 0.3}),
        ({"is_causal": True}, {"is_causal": True}),
    ]
    for mine_kw, their_kw in cases:
        xs = [cr.tensor(a, requires_grad=True) for a in (q, k, v)]
        ts = [T.tensor(a, requires_grad=True) for a in (q, k, v)]
        out = F.scaled_dot_product_attention(*xs, **mine_kw)
        ref = tf.scaled_dot_product_attention(*ts, **their_kw)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-10)
        w = randn(*ref.shape)
        (out * w).sum().backward()
        (ref * T.tensor(w)).sum().backward()
        for a, b in zip(xs, ts):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)


def test_sdpa_matches_central_differences_to_second_order():
    mask = np.tril(np.ones((3, 4), dtype=bool))
    check_grads(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        [randn(2, 3, 4), randn(2, 4, 4), randn(2, 4, 2)],
        order=2,
        label="sdpa",
    )


MHA_CONFIGS = [
    {},
    {"batch_first": True},
    {"add_bias_kv": True, "add_zero_attn": True},
    {"kdim": 5, "vdim": 6},
    {"bias": False},
]


@pytest.mark.parametrize("config", MHA_CONFIGS, ids=lambda c: "-".join(c) or "default")
@pytest.mark.parametrize("masks", ["none", "attn", "padding", "both", "float"])
@pytest.mark.parametrize("weights", ["averaged", "per-head", "none"])
def test_multihead_attention_matches_pytorch(T, config, masks, weights):
    theirs = T.nn.MultiheadAttention(8, 2, **config).double()
    mine = nn.MultiheadAttention(8, 2, dtype=np.float64, **config)
    _load(mine, theirs)
    kd, vd = config.get("kdim", 8), config.get("vdim", 8)
    bf = config.get("batch_first", False)
    q = randn(*((2, 4) if bf else (4, 2)), 8)
    k = randn(*((2, 6) if bf else (6, 2)), kd)
    v = randn(*((2, 6) if bf else (6, 2)), vd)
    attn = RNG.random((4, 6)) > 0.7
    attn[:, 0] = False
    padding = np.zeros((2, 6), dtype=bool)
    padding[0, 4:] = True
    kw = {
        "none": {},
        "attn": {"attn_mask": attn},
        "padding": {"key_padding_mask": padding},
        "both": {"attn_mask": attn, "key_padding_mask": padding},
        "float": {"attn_mask": randn(4, 6)},
    }[masks]
    kw = dict(
        kw,
        need_weights=weights != "none",
        average_attn_weights=weights == "averaged",
    )
    xs = [cr.tensor(a, requires_grad=True) for a in (q, k, v)]
    ts = [T.tensor(a, requires_grad=True) for a in (q, k, v)]
    tkw = {n: (T.tensor(m) if isinstance(m, np.ndarray) else m) for n, m in kw.items()}
    out, w = mine(*xs, **kw)
    ref, rw = theirs(*ts, **tkw)
    _compare([out, w], [ref, rw], xs, ts, mine, theirs, T)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"norm_first": True, "activation": "gelu", "batch_first": True},
        {"dim_feedforward": 16, "bias": False},
    ],
    ids=["post-norm-relu", "pre-norm-gelu", "no-bias"],
)
def test_transformer_encoder_layer_matches_pytorch(T, config):
    theirs = T.nn.TransformerEncoderLayer(8, 2, dropout=0.0, **config).double()
    mine = nn.TransformerEncoderLayer(8, 2, dropout=0.0, dtype=np.float64, **config)
    _load(mine, theirs)
    x = randn(2, 4, 8) if config.get("batch_first") else randn(4, 2, 8)
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)
    xs = [cr.tensor(x, requires_grad=True)]
    ts = [T.tensor(x, requires_grad=True)]
    out = mine(xs[0], src_mask=causal)
    ref = theirs(ts[0], src_mask=T.tensor(causal))
    _compare([out], [ref], xs, ts, mine, theirs, T)


def test_transformer_encoder_stacks_copies_with_pytorchs_keys(T):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, seed=0)
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8))
    theirs = T.nn.TransformerEncoder(
        T.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16),
        2,
        norm=T.nn.LayerNorm(8),
        enable_nested_tensor=False,
    )
    assert list(encoder.state_dict()) == list(theirs.state_dict())
    assert encoder.layers[0].linear1.weight is not encoder.layers[1].linear1.weight
    assert encoder.eval()(cr.ones(5, 2, 8)).shape == (5, 2, 8)


def test_mha_initialisation_and_dropout():
    mha = nn.MultiheadAttention(16, 4, seed=0)
    bound = np.sqrt(6 / (16 + 48))  # Xavier-uniform over the packed (3E, E) projection
    assert np.abs(mha.in_proj_weight.numpy()).max() <= bound
    assert np.all(mha.in_proj_bias.numpy() == 0) and np.all(mha.out_proj.bias.numpy() == 0)
    assert np.abs(mha.out_proj.weight.numpy()).max() <= 1 / 4  # Linear's U(+-1/sqrt(E))
    drop = nn.MultiheadAttention(4, 2, dropout=0.5, seed=1)
    x = cr.randn(3, 2, 4, dtype=np.float32, seed=2)
    assert not np.allclose(drop(x, x, x)[1].numpy(), drop(x, x, x)[1].numpy())
    drop.eval()
    np.testing.assert_array_equal(drop(x, x, x)[1].numpy(), drop(x, x, x)[1].numpy())


def test_mha_matches_central_differences_to_second_order():
    mha = nn.MultiheadAttention(4, 2, dtype=np.float64, seed=0)
    w_in = mha.in_proj_weight
    padding = np.array([[False, False, True], [False, False, False]])

    def f(x, w):
        with cr.substitute([(w_in, w)]):
            return mha(x, x, x, key_padding_mask=padding)[0]

    check_grads(f, [randn(3, 2, 4), w_in.numpy()], order=2, label="mha")


def test_attention_errors_name_the_shapes():
    mha = nn.MultiheadAttention(8, 2)
    with pytest.raises(
        ValueError,
        match=r"MultiheadAttention\(embed_dim=8, num_heads=2\): expected "
        r"query of shape \(L, N, 8\).*got shape \(4, 2, 6\)",
    ):
        mha(cr.ones(4, 2, 6), cr.ones(4, 2, 8), cr.ones(4, 2, 8))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(4, 4\)"):
        mha(cr.ones(4, 2, 8), cr.ones(4, 2, 8), cr.ones(4, 2, 8), attn_mask=np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 4\)"):
        mha(
            cr.ones(4, 2, 8),
            cr.ones(4, 2, 8),
            cr.ones(4, 2, 8),
            key_padding_mask=np.zeros((4, 2), bool),
        )
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(
            cr.ones(2, 3),
            cr.ones(2, 3),
            cr.ones(2, 3),
            attn_mask=np.ones((2, 2), bool),
            is_causal=True,
        )
