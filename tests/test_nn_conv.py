"""Convolution and pooling layers: float64 central differences (reverse, forward, second
order), PyTorch's outputs and gradients for the same weights (to 1e-10), shapes, state
dict keys, initialisation and the errors for bad shapes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from checker import check_grads

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape)


# --------------------------------------------------------------------------- central differences

CONV_CASES = [
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b), [(2, 3, 5, 6), (4, 3, 3, 2), (4,)]),
    (
        "conv2d-stride-pad",
        lambda x, w: F.conv2d(x, w, stride=2, padding=1),
        [(1, 2, 5, 5), (3, 2, 3, 3)],
    ),
    (
        "conv2d-same",
        lambda x, w: F.conv2d(x, w, padding="same", dilation=2),
        [(1, 2, 6, 5), (2, 2, 2, 3)],
    ),
    ("conv2d-groups", lambda x, w: F.conv2d(x, w, groups=2), [(2, 4, 4, 4), (6, 2, 2, 2)]),
    (
        "conv1d",
        lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=2),
        [(2, 3, 7), (2, 3, 3), (2,)],
    ),
    (
        "conv-transpose2d",
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        [(1, 2, 3, 3), (2, 3, 3, 3), (3,)],
    ),
    (
        "conv-transpose1d",
        lambda x, w: F.conv_transpose1d(x, w, stride=3, dilation=2),
        [(2, 2, 4), (2, 1, 2)],
    ),
    ("max-pool2d", lambda x: F.max_pool2d(x, 3, 2, padding=1), [(2, 2, 5, 5)]),
    ("max-pool2d-ceil", lambda x: F.max_pool2d(x, 2, ceil_mode=True), [(1, 2, 5, 5)]),
    ("max-pool1d", lambda x: F.max_pool1d(x, 2, dilation=2), [(2, 3, 7)]),
    (
        "avg-pool2d",
        lambda x: F.avg_pool2d(x, 2, 1, padding=1, count_include_pad=False),
        [(1, 2, 4, 4)],
    ),
    ("avg-pool1d", lambda x: F.avg_pool1d(x, 3, 2, ceil_mode=True), [(2, 2, 8)]),
    ("adaptive-avg-pool2d", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [(2, 2, 5, 7)]),
    ("adaptive-global", lambda x: F.adaptive_avg_pool2d(x, 1), [(2, 3, 4, 4)]),
    ("pad-reflect", lambda x: F.pad(x, (1, 2, 2, 0), mode="reflect"), [(1, 2, 4, 4)]),
    ("pad-circular", lambda x: F.pad(x, (1, 1), mode="circular"), [(2, 2, 3)]),
    ("unfold", lambda x: F.unfold(x, 2, padding=1, stride=2), [(1, 2, 4, 4)]),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_reverse_forward_and_second_order_match_central_differences(case):
    name, fn, shapes = case
    args = [RNG.standard_normal(s) for s in shapes]
    check_grads(fn, args, order=2, label=name)


def test_module_gradients_pass_gradcheck_and_gradgradcheck():
    conv = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64, seed=0)
    x = cr.tensor(randn(1, 2, 4, 4), requires_grad=True)
    assert cr.gradcheck(lambda t: conv(t), (x,))
    assert cr.gradgradcheck(lambda t: (conv(t) ** 2).sum(), (x,))


# --------------------------------------------------------------------------- PyTorch


@pytest.fixture(scope="module")
def T():
    return pytest.importorskip("torch")


def _same(cr_fn, torch_fn, arrays, T, atol=1e-10):
    """Outputs and gradients (for a random upstream gradient) of both frameworks."""
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [T.tensor(a, requires_grad=True) for a in arrays]
    out, ref = cr_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=atol, rtol=0)
    upstream = RNG.standard_normal(ref.shape)
    (out * upstream).sum().backward()
    (ref * T.tensor(upstream)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol, rtol=0)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"stride": 2},
        {"padding": 1},
        {"padding": "same"},
        {"padding": "valid"},
        {"dilation": 2, "padding": (1, 2)},
        {"stride": (2, 1), "padding": (2, 0)},
    ],
)
def test_conv2d_matches_pytorch(T, kwargs):
    x, w, b = randn(2, 3, 7, 8), randn(4, 3, 3, 2), randn(4)
    _same(
        lambda *a: F.conv2d(*a, **kwargs),
        lambda *a: T.nn.functional.conv2d(*a, **kwargs),
        [x, w, b],
        T,
    )


def test_grouped_1d_and_transposed_convolutions_match_pytorch(T):
    tf = T.nn.functional
    _same(
        lambda x, w: F.conv2d(x, w, groups=2, stride=2),
        lambda x, w: tf.conv2d(x, w, groups=2, stride=2),
        [randn(2, 4, 7, 7), randn(6, 2, 3, 3)],
        T,
    )
    _same(
        lambda x, w, b: F.conv1d(x, w, b, padding="same"),
        lambda x, w, b: tf.conv1d(x, w, b, padding="same"),
        [randn(2, 3, 9), randn(5, 3, 4), randn(5)],
        T,
    )
    for kw in [
        {},
        {"stride": 2, "padding": 1, "output_padding": 1},
        {"stride": 3, "padding": 2, "dilation": 2, "output_padding": 1},
    ]:
        _same(
            lambda x, w, b, kw=kw: F.conv_transpose2d(x, w, b, **kw),
            lambda x, w, b, kw=kw: tf.conv_transpose2d(x, w, b, **kw),
            [randn(2, 3, 4, 5), randn(3, 4, 3, 3), randn(4)],
            T,
        )
    _same(
        lambda x, w: F.conv_transpose2d(x, w, groups=2, stride=2),
        lambda x, w: tf.conv_transpose2d(x, w, groups=2, stride=2),
        [randn(1, 4, 3, 3), randn(4, 2, 3, 3)],
        T,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1},
        {"kernel_size": 3, "stride": 2, "ceil_mode": True},
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        {"kernel_size": (2, 3), "stride": (2, 2), "dilation": 2},
    ],
)
def test_max_pool2d_matches_pytorch(T, kwargs):
    _same(
        lambda x: F.max_pool2d(x, **kwargs),
        lambda x: T.nn.functional.max_pool2d(x, **kwargs),
        [randn(2, 3, 9, 10)],
        T,
    )


def test_max_pool_indices_match_pytorch(T):
    x = randn(2, 3, 9, 10)
    _out, idx = F.max_pool2d(cr.tensor(x), 3, 2, 1, return_indices=True)
    _ref, ridx = T.nn.functional.max_pool2d(T.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), ridx.numpy())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1},
        {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
        {"kernel_size": 3, "stride": 2, "ceil_mode": True},
        {
            "kernel_size": 3,
            "stride": 2,
            "padding": 1,
            "ceil_mode": True,
            "count_include_pad": False,
        },
        {"kernel_size": 2, "divisor_override": 3},
    ],
)
def test_avg_pool2d_matches_pytorch(T, kwargs):
    _same(
        lambda x: F.avg_pool2d(x, **kwargs),
        lambda x: T.nn.functional.avg_pool2d(x, **kwargs),
        [randn(2, 3, 9, 10)],
        T,
    )


@pytest.mark.parametrize("size", [1, (3, 4), (4, 3), (2, None), 5])
def test_adaptive_avg_pool2d_matches_pytorch(T, size):
    _same(
        lambda x: F.adaptive_avg_pool2d(x, size),
        lambda x: T.nn.functional.adaptive_avg_pool2d(x, size),
        [randn(2, 3, 9, 10)],
        T,
    )


def test_pooling_1d_and_padding_modes_match_pytorch(T):
    tf = T.nn.functional
    _same(
        lambda x: F.max_pool1d(x, 3, 2, 1),
        lambda x: tf.max_pool1d(x, 3, 2, 1),
        [randn(2, 3, 10)],
        T,
    )
    _same(
        lambda x: F.avg_pool1d(x, 3, 2, 1),
        lambda x: tf.avg_pool1d(x, 3, 2, 1),
        [randn(2, 3, 10)],
        T,
    )
    for mode in ("reflect", "replicate", "circular"):
        _same(
            lambda x, m=mode: F.pad(x, (1, 2, 2, 1), mode=m),
            lambda x, m=mode: tf.pad(x, (1, 2, 2, 1), mode=m),
            [randn(2, 3, 5, 6)],
            T,
        )
    _same(
        lambda x: F.pad(x, (1, 2, -1, 1), value=3.0),
        lambda x: tf.pad(x, (1, 2, -1, 1), value=3.0),
        [randn(2, 3, 5, 6)],
        T,
    )
    _same(
        lambda x: F.unfold(x, (2, 3), padding=1, stride=2),
        lambda x: tf.unfold(x, (2, 3), padding=1, stride=2),
        [randn(2, 3, 5, 6)],
        T,
    )


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv_layers_load_pytorch_weights_and_match(T, mode):
    tm = T.nn.Conv2d(3, 4, 3, stride=2, padding=1, padding_mode=mode).double()
    cm = nn.Conv2d(3, 4, 3, stride=2, padding=1, padding_mode=mode, dtype=np.float64)
    assert list(cm.state_dict()) == list(tm.state_dict())
    cm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = randn(2, 3, 7, 7)
    np.testing.assert_allclose(cm(x).numpy(), tm(T.tensor(x)).detach().numpy(), atol=1e-12)


def test_layer_state_dict_keys_equal_pytorchs(T):
    pairs = [
        (nn.Conv1d(2, 3, 3), T.nn.Conv1d(2, 3, 3)),
        (nn.Conv2d(2, 3, 3, bias=False), T.nn.Conv2d(2, 3, 3, bias=False)),
        (nn.ConvTranspose2d(2, 3, 3), T.nn.ConvTranspose2d(2, 3, 3)),
        (nn.MaxPool2d(2), T.nn.MaxPool2d(2)),
        (nn.AdaptiveAvgPool2d(1), T.nn.AdaptiveAvgPool2d(1)),
    ]
    for mine, theirs in pairs:
        assert list(mine.state_dict()) == list(theirs.state_dict()), type(mine).__name__
        for (k, a), b in zip(mine.state_dict().items(), theirs.state_dict().values()):
            assert a.shape == tuple(b.shape), k


# --------------------------------------------------------------------------- layers


def test_conv_initialisation_is_pytorchs_distribution_and_seeded():
    conv = nn.Conv2d(8, 16, 3, groups=2, seed=0)
    bound = 1 / np.sqrt(4 * 9)  # fan_in = in_channels / groups * kernel area
    w, b = conv.weight.numpy(), conv.bias.numpy()
    assert w.shape == (16, 4, 3, 3) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # uniform over the whole interval
    assert abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound
    np.testing.assert_array_equal(nn.Conv2d(8, 16, 3, groups=2, seed=0).weight.numpy(), w)
    assert not np.array_equal(nn.Conv2d(8, 16, 3, groups=2, seed=1).weight.numpy(), w)
    t = nn.ConvTranspose2d(4, 6, 2, groups=2, seed=0)
    assert t.weight.shape == (4, 3, 2, 2)
    assert np.abs(t.weight.numpy()).max() <= 1 / np.sqrt(3 * 4)


def test_layer_shapes_unbatched_and_repr():
    conv = nn.Conv2d(1, 8, 3, stride=2, padding="valid", seed=0)
    assert conv(cr.ones(4, 1, 28, 28)).shape == (4, 8, 13, 13)
    assert conv(cr.ones(1, 28, 28)).shape == (8, 13, 13)  # unbatched (C, H, W), as PyTorch
    assert repr(conv) == "Conv2d(1, 8, kernel_size=(3, 3), stride=(2, 2), padding='valid')"
    assert nn.Conv1d(2, 4, 5, padding="same", seed=0)(cr.ones(3, 2, 11)).shape == (3, 4, 11)
    up = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, seed=0)
    assert up(cr.ones(1, 4, 5, 5), output_size=(10, 10)).shape == (1, 2, 10, 10)
    assert up(cr.ones(1, 4, 5, 5)).shape == (1, 2, 9, 9)
    assert nn.MaxPool2d(2)(cr.ones(2, 3, 7, 7)).shape == (2, 3, 3, 3)
    assert nn.MaxPool2d(2, ceil_mode=True)(cr.ones(2, 3, 7, 7)).shape == (2, 3, 4, 4)
    assert nn.AvgPool2d(3, 1, 1)(cr.ones(2, 3, 7, 7)).shape == (2, 3, 7, 7)
    assert nn.AdaptiveAvgPool2d((2, 5))(cr.ones(2, 3, 7, 7)).shape == (2, 3, 2, 5)
    assert nn.MaxPool1d(2)(cr.ones(2, 3, 7)).shape == (2, 3, 3)


def test_float32_layers_stay_float32():
    x = cr.randn(2, 1, 8, 8, dtype=np.float32, seed=0)
    out = nn.MaxPool2d(2)(nn.Conv2d(1, 4, 3, padding=1, seed=0)(x))
    assert out.dtype == np.float32
    out.sum().backward()


def test_bad_shapes_name_the_layer_and_both_shapes():
    conv = nn.Conv2d(1, 32, 3, seed=0)
    # a batch of 28x28 images without its channel axis: read as one (C, H, W) image of 64
    # channels, as PyTorch does, which does not match the layer's 1 input channel
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(1, 32, .*expected input of shape \(N, 1, H, W\)"
        r".*got shape \(64, 28, 28\) \(64 channels\)",
    ):
        conv(cr.ones(64, 28, 28))
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(1, 32.*expected a 4-D input.*got a 2-D input of "
        r"shape \(28, 28\)",
    ):
        conv(cr.ones(28, 28))
    with pytest.raises(ValueError, match=r"Conv2d\(1, 32.*1 channels, got shape \(2, 3, 28, 28\)"):
        conv(cr.ones(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"smaller than the \(dilated\) kernel"):
        conv(cr.ones(2, 1, 2, 2))
    with pytest.raises(ValueError, match=r"conv2d: weight must be 4-D"):
        F.conv2d(cr.ones(1, 1, 5, 5), cr.ones(3, 3))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"MaxPool2d.*expected a 4-D input.*shape \(5, 5\)"):
        nn.MaxPool2d(2)(cr.ones(5, 5))
    with pytest.raises(ValueError, match="at most half the kernel"):
        F.max_pool2d(cr.ones(1, 1, 5, 5), 2, padding=2)


def test_max_pool_gradient_goes_to_the_maximum():
    x = cr.tensor([[[[1.0, 5.0], [3.0, 2.0]]]], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_conv_net_traces_to_flat_code_with_the_same_gradients():
    conv = nn.Conv2d(1, 2, 3, padding=1, dtype=np.float64, seed=0)
    lin = nn.Linear(8, 3, dtype=np.float64, seed=1)
    x0 = randn(2, 1, 4, 4)
    labels = np.array([0, 2])

    def loss(x, w, b, lw, lb):
        h = F.max_pool2d(cr.relu(F.conv2d(x, w, b, padding=1)), 2)
        return F.cross_entropy(cr.linear(h.reshape(2, -1), lw, lb), labels)

    params = [conv.weight.numpy(), conv.bias.numpy(), lin.weight.numpy(), lin.bias.numpy()]
    graph = cr.trace(loss, x0, *params)
    value, grads = graph.compile_flat()(x0, *params)
    ts = [cr.tensor(a, requires_grad=True) for a in [x0, *params]]
    expected = loss(*ts)
    expected.backward()
    np.testing.assert_allclose(value, expected.numpy(), rtol=1e-12)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-12)
