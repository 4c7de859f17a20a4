"""cr.nn modules: parameter discovery, state dicts and their errors, Linear, Sequential,
activations, Dropout, initialisers and the mlp builder."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4, seed=0)
        self.blocks = [nn.Linear(4, 4, seed=1), nn.Tanh()]
        self.heads = {"a": nn.Linear(4, 2, seed=2), "b": nn.Linear(4, 1, bias=False, seed=3)}
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))
        self.not_a_param = cr.ones(2)  # a plain tensor is not a parameter

    def forward(self, x):
        h = self.blocks[1](self.blocks[0](cr.relu(self.first(x))))
        return self.heads["a"](h) * self.scale, self.heads["b"](h)


def test_parameter_is_a_leaf_tensor_requiring_grad():
    p = nn.Parameter(np.zeros((2, 3)))
    assert isinstance(p, cr.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.shape == (2, 3)
    (p * 2.0).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), np.full((2, 3), 2.0))
    with pytest.raises(TypeError, match="int64"):
        nn.Parameter(np.arange(3))


def test_named_parameters_through_attributes_lists_and_dicts():
    names = [name for name, _ in Net().named_parameters()]
    # A module's own parameters come before its children's (PyTorch's order).
    assert names == [
        "scale",
        "first.weight",
        "first.bias",
        "blocks.0.weight",
        "blocks.0.bias",
        "heads.a.weight",
        "heads.a.bias",
        "heads.b.weight",
    ]
    assert len(list(Net().parameters())) == 8


def test_shared_parameter_is_listed_once():
    layer = nn.Linear(2, 2, seed=0)
    net = nn.Sequential(layer, nn.ReLU(), layer)
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias"]


def test_train_eval_reach_every_submodule_and_zero_grad_clears():
    net = Net()
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    a, b = net(cr.ones(5, 3, dtype=np.float32))
    (a.sum() + b.sum()).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_linear_computes_x_wt_plus_b():
    layer = nn.Linear(3, 2, dtype=np.float64, seed=0)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,)
    assert layer.weight.dtype == np.float64
    bound = 1 / np.sqrt(3)
    assert np.all(np.abs(layer.weight.numpy()) <= bound)
    x = np.arange(6.0).reshape(2, 3)
    expected = x @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), expected)
    assert nn.Linear(3, 2, bias=False).bias is None
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=True)"
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 2)


def test_linear_is_seeded_and_follows_manual_seed():
    w1 = nn.Linear(4, 3, seed=7).weight.numpy()
    w2 = nn.Linear(4, 3, seed=7).weight.numpy()
    np.testing.assert_array_equal(w1, w2)
    cr.manual_seed(3)
    a = nn.Linear(4, 3).weight.numpy()
    cr.manual_seed(3)
    b = nn.Linear(4, 3).weight.numpy()
    np.testing.assert_array_equal(a, b)


def test_linear_gradients_match_central_differences():
    layer = nn.Linear(3, 2, dtype=np.float64, seed=0)
    x = cr.randn(4, 3, seed=1)
    assert cr.gradcheck(
        lambda x, w, b: cr.tanh(cr.linear(x, w, b)).sum(),
        (x, layer.weight.detach(), layer.bias.detach()),
    )


def test_sequential_names_indexing_and_forward():
    net = nn.Sequential(nn.Linear(2, 3, seed=0), nn.ReLU(), nn.Linear(3, 1, seed=1))
    assert len(net) == 3 and isinstance(net[1], nn.ReLU)
    assert isinstance(net[:2], nn.Sequential) and len(net[:2]) == 2
    x = cr.tensor(np.array([[1.0, -2.0]], dtype=np.float32))
    manual = net[2](cr.relu(net[0](x)))
    np.testing.assert_allclose(net(x).numpy(), manual.numpy())
    assert "(1): ReLU()" in repr(net)
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_activation_modules():
    x = cr.tensor([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(nn.ReLU()(x).numpy(), [0.0, 0.0, 2.0])
    np.testing.assert_allclose(nn.Tanh()(x).numpy(), np.tanh([-1.0, 0.0, 2.0]))
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp([1.0, 0.0, -2.0])))
    assert nn.Flatten()(cr.ones(2, 3, 4)).shape == (2, 12)


def test_dropout_scales_in_training_and_is_identity_in_eval():
    drop = nn.Dropout(0.5, seed=0)
    out = drop(cr.ones(1000)).numpy()
    assert set(np.unique(out)) <= {0.0, 2.0}
    assert 0.4 < np.mean(out == 0) < 0.6
    drop.eval()
    np.testing.assert_array_equal(drop(cr.ones(5)).numpy(), np.ones(5))
    drop = nn.Dropout(1.0)  # everything dropped (PyTorch's p=1), not 0 / 0
    np.testing.assert_array_equal(drop(cr.ones(5)).numpy(), np.zeros(5))
    with pytest.raises(ValueError, match="p must be"):
        nn.Dropout(1.5)


def test_state_dict_round_trip_and_sharing():
    a, b = Net(), Net()
    for p in b.parameters():
        p.data = p.data + 1.0
    result = a.load_state_dict(b.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())
        assert pa.data is not pb.data  # copied in, not aliased
    sd = a.state_dict()
    assert all(isinstance(v, cr.Tensor) and not v.requires_grad for v in sd.values())
    # Arrays are accepted too (what cr.load of a plain .npz gives).
    a.load_state_dict({k: v.numpy() for k, v in sd.items()})


def test_load_state_dict_missing_and_unexpected_keys_are_named():
    net = nn.Sequential(nn.Linear(2, 3, seed=0), nn.ReLU(), nn.Linear(3, 1, seed=1))
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    del sd["2.bias"]
    sd["3.weight"] = np.zeros((1, 3))
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    msg = str(err.value)
    assert "missing keys ['2.bias']" in msg and "unexpected keys ['3.weight']" in msg
    before = net[0].weight.numpy().copy()
    sd["0.weight"] = before + 1
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["3.weight"]
    np.testing.assert_array_equal(net[0].weight.numpy(), before + 1)


def test_load_state_dict_shape_mismatch_names_key_and_shapes_and_changes_nothing():
    net = nn.Sequential(nn.Linear(2, 3, seed=0))
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    old_bias = net[0].bias.numpy().copy()
    sd["0.bias"] = np.zeros(3, dtype=np.float32) + 5
    sd["0.weight"] = np.zeros((3, 4), dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"'0.weight'.*\(3, 4\).*\(3, 2\)"):
        net.load_state_dict(sd)
    np.testing.assert_array_equal(net[0].bias.numpy(), old_bias)
    with pytest.raises(TypeError, match="dict"):
        net.load_state_dict([1, 2])


def test_kaiming_and_xavier_statistics_and_seeding():
    init = nn.init
    w = init.kaiming_normal_(cr.zeros(400, 500), nonlinearity="relu", seed=0)
    assert abs(w.numpy().std() - np.sqrt(2 / 500)) < 0.02 * np.sqrt(2 / 500)
    w = init.kaiming_uniform_(cr.zeros(400, 500), nonlinearity="relu", seed=0)
    bound = np.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound
    w = init.xavier_uniform_(cr.zeros(300, 500), seed=0)
    assert np.abs(w.numpy()).max() <= np.sqrt(6 / 800)
    w = init.xavier_normal_(cr.zeros(300, 500), gain=2.0, seed=0)
    assert abs(w.numpy().std() - 2 * np.sqrt(2 / 800)) < 0.02 * 2 * np.sqrt(2 / 800)
    a = init.xavier_normal_(cr.zeros(3, 4), seed=5).numpy()
    b = init.xavier_normal_(cr.zeros(3, 4), seed=5).numpy()
    np.testing.assert_array_equal(a, b)
    assert init.kaiming_normal_(cr.zeros(3, 4, dtype=np.float32), seed=0).dtype == np.float32
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="2 dimensions"):
        init.xavier_uniform_(cr.zeros(5))
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("swish")


def test_mlp_builder():
    net = nn.mlp([4, 16, 8, 3], activation="tanh", seed=0)
    assert [type(m).__name__ for m in net] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert all(np.all(m.bias.numpy() == 0) for m in net if isinstance(m, nn.Linear))
    linear = nn.mlp([4, 3], seed=0)  # the lectures' linear classifier
    assert len(linear) == 1
    a = [p.numpy() for p in nn.mlp([4, 8, 3], seed=1).parameters()]
    b = [p.numpy() for p in nn.mlp([4, 8, 3], seed=1).parameters()]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    with pytest.raises(ValueError, match="activation"):
        nn.mlp([4, 3], activation="gelu")
