"""cr.trace: the recorded graph (names, values, constants), the ComputationalGraph walk
(forward/backward), the lectures' numbers, tracing cr.grad, and the memory report."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.primitives import REGISTRY
from chainrule.tracing import Graph, name
from chainrule.tracing.examples import EXAMPLES, staged


def lecture_staged(x: float, y: float) -> dict[str, float]:
    """The lecture's hand-written flat code for the staged sigmoid example, verbatim."""
    sigy = 1.0 / (1 + math.exp(-y))  # sigmoid in numerator   #(1)
    num = x + sigy  # numerator                                 #(2)
    sigx = 1.0 / (1 + math.exp(-x))  # sigmoid in denominator  #(3)
    xpy = x + y  #                                               (4)
    xpysqr = xpy**2  #                                           (5)
    den = sigx + xpysqr  # denominator                          #(6)
    invden = 1.0 / den  #                                        (7)
    f = num * invden  # done!                                   #(8)
    dnum = invden
    dinvden = num
    dden = (-1.0 / (den**2)) * dinvden
    dsigx = (1) * dden
    dxpysqr = (1) * dden
    dxpy = (2 * xpy) * dxpysqr
    dx = (1) * dxpy
    dy = (1) * dxpy
    dx += ((1 - sigx) * sigx) * dsigx
    dx += (1) * dnum
    dsigy = (1) * dnum
    dy += ((1 - sigy) * sigy) * dsigy
    return dict(locals())


def circuit(x, y, z):
    q = x + y
    f = q * z
    return f


def test_circuit_names_values_and_gradients():
    g = cr.trace(circuit, -2, 5, -4)
    assert isinstance(g, Graph) and isinstance(g, cr.Graph)
    assert [v.name for v in g.nodes] == ["x", "y", "z", "q", "f"]
    assert [v.op for v in g.nodes] == ["input", "input", "input", "add", "mul"]
    assert g["q"].value == 3 and g.value == -12
    assert g["q"].inputs == (g["x"], g["y"])
    grads = g.backward()
    assert {k: float(v) for k, v in grads.items()} == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert float(g["q"].grad) == -4.0 and float(g["f"].grad) == 1.0


def test_graph_forward_reruns_on_new_inputs():
    g = cr.trace(circuit, -2, 5, -4)
    assert g.forward(x=1.0, y=2.0, z=3.0) == 9.0
    assert g["q"].value == 3.0
    grads = g.backward()
    assert {k: float(v) for k, v in grads.items()} == {"x": 3.0, "y": 3.0, "z": 3.0}
    assert g.forward(10.0) == (10.0 + 2.0) * 3.0  # positional, the rest kept
    with pytest.raises(ValueError, match="shape"):
        g.forward(x=np.ones(3))
    with pytest.raises(TypeError, match="unknown input"):
        g.forward(w=1.0)


def test_staged_example_matches_the_lecture_flat_code():
    want = lecture_staged(3, -4)
    g = cr.trace(staged, 3, -4)
    grads = g.backward()
    for key in ["sigy", "num", "sigx", "xpy", "xpysqr", "den", "invden", "f"]:
        assert float(g[key].value) == pytest.approx(want[key], rel=1e-12), key
    assert float(grads["x"]) == pytest.approx(want["dx"], rel=1e-12)
    assert float(grads["y"]) == pytest.approx(want["dy"], rel=1e-12)
    for key in ["num", "invden", "den", "sigx", "xpysqr", "xpy", "sigy"]:
        assert float(g[key].grad) == pytest.approx(want["d" + key], rel=1e-12), key


def test_lecture_examples_by_name_give_the_lecture_numbers():
    g = EXAMPLES["neuron"].trace()
    grads = {k: float(v) for k, v in g.backward().items()}
    assert float(g.value) == pytest.approx(0.7310585786300049)
    s = 1 / (1 + math.exp(-1.0))
    local = (1 - s) * s  # 0.1966: the lecture's (1 - 0.73) * 0.73 = 0.2
    want = {"w0": -1 * local, "x0": 2 * local, "w1": -2 * local, "x1": -3 * local, "w2": local}
    assert grads == pytest.approx(want)
    p = EXAMPLES["patterns"].trace()
    assert float(p.value) == -20.0
    assert {k: float(v) for k, v in p.backward().items()} == {
        "x": -8.0,
        "y": 6.0,
        "z": 2.0,
        "w": 0.0,  # mul swaps, max routes to the larger input
    }


def test_tracing_grad_shows_the_gradients_own_graph():
    g = cr.trace(staged, 3.0, -4.0)
    gg = cr.trace(cr.grad(staged, argnums=(0, 1)), 3.0, -4.0)
    want = lecture_staged(3, -4)
    assert len(gg.outputs) == 2
    assert float(gg.outputs[0].value) == pytest.approx(want["dx"], rel=1e-12)
    assert float(gg.outputs[1].value) == pytest.approx(want["dy"], rel=1e-12)
    # autodiff builds the gradient as a graph: the forward nodes and more nodes behind them
    assert len(gg.ops) > 2 * len(g.ops)
    assert {"sigy", "num", "invden"} <= {v.name for v in gg.nodes}
    assert gg.name == "grad_staged"
    # differentiating that graph gives second derivatives (here of dx + dy)
    second = gg.backward()

    def total(x, y):
        dx, dy = cr.grad(staged, argnums=(0, 1))(x, y)
        return dx + dy

    ref = cr.grad(total, argnums=(0, 1))(cr.tensor(3.0), cr.tensor(-4.0))
    assert float(second["x"]) == pytest.approx(float(ref[0]), rel=1e-10)
    assert float(second["y"]) == pytest.approx(float(ref[1]), rel=1e-10)


def test_constants_are_kept_whichever_way_they_enter():
    g = cr.trace(lambda x: cr.add(2 - x * 3.5, 7) + x**2 + np.array([1.0, 2.0]), 1.0)
    consts = sorted(repr(np.asarray(v.value).tolist()) for v in g.nodes if v.op == "const")
    assert consts == sorted(["2", "3.5", "7", "2", "[1.0, 2.0]"])
    assert np.allclose(g.value, 2 - 3.5 + 7 + 1 + np.array([1.0, 2.0]))
    code = g.forward_code()
    assert "x * 3.5" in code and "2 - " in code and "np.array([1.0, 2.0])" in code


def test_names_from_closures_globals_and_explicit_names():
    W = cr.randn(3, 2, seed=0, requires_grad=True)  # noqa: N806
    bias = cr.zeros(2, requires_grad=True)

    def layer(x):
        h = x @ W + bias
        return name(h.tanh(), "act").sum()

    g = cr.trace(layer, np.ones((4, 3)))
    names = [v.name for v in g.nodes]
    assert names[:3] == ["x", "W", "bias"] or set(names[:3]) == {"x", "W", "bias"}
    assert "h" in names and "act" in names
    assert g.inputs["W"].op == "param"
    grads = g.backward()
    x = cr.tensor(np.ones((4, 3)))
    layer(x).backward()
    np.testing.assert_allclose(grads["W"], W.grad.numpy())
    np.testing.assert_allclose(grads["bias"], bias.grad.numpy())


def test_generated_names_are_unique_identifiers():
    def f(x):
        h = x
        for _ in range(3):
            h = h * 2.0 + 1.0  # rebinding h: h, h_1, h_2
        return h

    g = cr.trace(f, 1.0)
    names = [v.name for v in g.nodes]
    assert len(set(names)) == len(names)
    assert all(n.isidentifier() for n in names)
    assert {"h", "h_1", "h_2"} <= set(names)


def test_tracing_restores_the_engine_and_the_tracer():
    flags = {k: (p.save_inputs, p.save_output) for k, p in REGISTRY.items()}
    add = cr.Tensor.__add__
    before = sys.gettrace()
    cr.trace(circuit, 1.0, 2.0, 3.0)
    with pytest.raises(ZeroDivisionError):
        cr.trace(lambda x: x / 0 if False else 1 / 0, 1.0)
    assert {k: (p.save_inputs, p.save_output) for k, p in REGISTRY.items()} == flags
    assert cr.Tensor.__add__ is add
    assert sys.gettrace() is before


def test_memory_report_matches_what_the_engine_keeps():
    def f(x, w):
        return cr.tanh(x @ w).sum() + (x * 2.0).exp().sum()

    x, w = np.ones((5, 3)), np.ones((3, 4))
    g = cr.trace(f, x, w)
    report = g.memory_report()
    # the same computation outside tracing: sum the engine's own saved_nbytes()
    xt, wt = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    out = f(xt, wt)
    seen, stack, total = set(), [out._node], 0
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "saved_nbytes"):
            continue
        seen.add(id(node))
        total += node.saved_nbytes()
        stack.extend(e for e in node.edges if hasattr(e, "saved_nbytes"))
    assert report["total"] == total > 0
    assert report[g.ops[0].name] == 5 * 3 * 8 + 3 * 4 * 8  # matmul keeps both inputs


def test_trace_errors_are_clear():
    with pytest.raises(TypeError, match="cannot call"):
        cr.trace(circuit, 1.0)
    with pytest.raises(TypeError, match="must return a Tensor"):
        cr.trace(lambda x: "nope", 1.0)


def test_tracing_is_linear_in_the_rebinds_of_one_name(monkeypatch):
    # `x = x * 1.0001` in a loop binds x thousands of times: naming node k must not try
    # the k names x, x_1, ..., x_{k-1} first (that made a 20,000-step loop take 33 s).
    from chainrule.tracing import graph as graph_module

    probes = []

    class CountingSet(set):
        def __contains__(self, item):
            probes.append(item)
            return super().__contains__(item)

    class CountingNamer(graph_module._Namer):
        def __init__(self):
            super().__init__()
            self.taken = CountingSet()

    monkeypatch.setattr(graph_module, "_Namer", CountingNamer)

    def f(x):
        for _ in range(2000):
            x = x * 1.0001
        return x

    g = cr.trace(f, 1.0)
    assert len(g.ops) == 2000 and len({v.name for v in g.ops}) == 2000
    assert len(probes) < 10 * 2000
    assert g.value == pytest.approx(1.0001**2000)
