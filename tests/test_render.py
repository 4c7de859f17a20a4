"""Pictures: PNG/SVG files that decode to images of sensible size, DOT text, the layered
layout, module boxes, repeated blocks, and big graphs folded so 500 nodes stay legible."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import chainrule as cr
from chainrule.tracing.examples import EXAMPLES
from chainrule.tracing.render import layout


def circuit(x, y, z):
    q = x + y
    f = q * z
    return f


def _png_shape(path):
    import matplotlib.image as mpimg

    return mpimg.imread(path).shape


def test_png_and_svg_are_written_and_decode(tmp_path):
    pytest.importorskip("matplotlib")
    g = cr.trace(circuit, -2, 5, -4)
    png, svg = tmp_path / "f.png", tmp_path / "f.svg"
    assert g.render(png) == str(png) and g.render(svg) == str(svg)
    h, w, channels = _png_shape(png)
    assert 120 <= h <= 2000 and 300 <= w <= 4000 and channels in (3, 4)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = svg.read_text()
    # values in green, gradients in red, names drawn
    assert "-12.00" in text and "-4.00" in text and "3.00" in text
    svg_inline = g._repr_svg_()
    assert ET.fromstring(svg_inline.split("?>", 1)[-1].strip()).tag.endswith("svg")


def test_lecture_pictures_show_values_and_gradients(tmp_path):
    pytest.importorskip("matplotlib")
    g = EXAMPLES["staged"].trace()
    fig = g.render()  # a Figure when no path is given
    texts = {t.get_text(): t.get_color() for t in fig.axes[0].texts}
    assert texts["1.55"] == "#1a7f37"  # the output value, green
    assert texts["2.06"] == "#cf222e"  # df/dx next to x, red
    gg = EXAMPLES["staged-grad"].trace()
    path = tmp_path / "grad.png"
    gg.render(path)
    h, w, _ = _png_shape(path)
    assert h > 200 and w > 500


def test_layout_is_layered_left_to_right():
    pytest.importorskip("matplotlib")  # layout measures text with it
    g = EXAMPLES["staged"].trace()
    g.backward()
    d = layout(g)
    for w in d.wires:
        assert w.src.layer < w.dst.layer
        assert all(w.src.layer < v.layer < w.dst.layer for v in w.via)
    spots = {(round(b.x, 6), round(b.y, 6)) for b in d.boxes}
    assert len(spots) == len(d.boxes)  # no two boxes on top of each other
    assert sum(b.kind == "op" for b in d.boxes) == len(g.ops)  # small graphs: every gate


def test_to_dot_has_every_edge_with_values_and_gradients():
    g = cr.trace(circuit, -2, 5, -4)
    g.backward()
    dot = g.to_dot()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    n_edges = sum(len(v.inputs) for v in g.ops) + len(g.outputs)
    assert dot.count("->") == n_edges
    assert "#1a7f37" in dot and "#cf222e" in dot and "-12.00" in dot


def _deep(n_layers: int):
    W = cr.randn(4, 4, seed=0) * 0.5  # noqa: N806
    b = cr.randn(4, seed=1) * 0.1
    W.requires_grad_()
    b.requires_grad_()

    def mlp(x):
        h = x
        for _ in range(n_layers):
            h = cr.tanh(h @ W + b)
        return h.sum()

    return mlp


def _wide(x, y):
    total = x[0] * 0.0
    for i in range(200):
        total = total + cr.sin(x[i % 5] * y[i % 3])
    return total


def _random_dag(x):
    rng = np.random.default_rng(0)
    pool = [x[i] for i in range(4)]
    for _ in range(480):
        a, b = len(pool) - 1 - rng.integers(min(len(pool), 12), size=2)
        op = rng.integers(3)
        if op == 0:
            pool.append(cr.tanh(pool[a] * pool[b]))
        elif op == 1:
            pool.append(pool[a] + pool[b])
        else:
            pool.append(cr.sigmoid(pool[a]))
    return sum(pool[-40:], pool[0] * 0)


@pytest.mark.parametrize("kind", ["deep", "wide", "random"])
def test_500_node_graphs_render_fast_and_legibly(kind, tmp_path):
    pytest.importorskip("matplotlib")
    if kind == "deep":
        g = cr.trace(_deep(170), np.ones(4))
    elif kind == "wide":
        g = cr.trace(_wide, np.arange(5.0), np.arange(3.0))
    else:
        g = cr.trace(_random_dag, np.linspace(0.1, 0.4, 4))
    assert len(g.nodes) >= 500
    # CPU time, not wall time: a guard against a layout gone quadratic (minutes), which
    # other processes on a shared machine must not trip
    start = time.process_time()
    path = g.render(tmp_path / "big.png")
    elapsed = time.process_time() - start
    assert elapsed < 10.0, f"rendering {len(g.nodes)} nodes took {elapsed:.1f} s of CPU"
    h, w, _ = _png_shape(path)
    assert 100 <= h <= 8000 and 200 <= w <= 8000
    drawing = layout(g)
    drawn = [b for b in drawing.boxes if b.kind not in ("input", "const")]
    assert len(drawn) <= 61  # collapsed: chains, stacks, or the nearest gates + a summary
    if kind == "deep":
        assert any("(matmul → add → tanh) × 170" in b.label for b in drawing.boxes)
    if kind == "wide":  # the loop body, drawn once with its count
        assert any("(getitem → getitem → mul → sin → add) × 200" in b.label for b in drawing.boxes)


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_every_picture_has_a_legend_for_the_colours():
    pytest.importorskip("matplotlib")
    fig = cr.trace(circuit, -2, 5, -4).render()
    texts = {t.get_text(): t for t in fig.axes[0].texts}
    assert "value (above the wire)" in texts and any(k.startswith("gradient") for k in texts)
    # the legend's samples are in the colours it explains; gradients are also italic
    assert texts["1.00"].get_color() == "#1a7f37"
    assert texts["0.50"].get_color() == "#cf222e" and texts["0.50"].get_style() == "italic"
    assert "operation" in texts and "input" in texts


class TwoLayer(cr.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = cr.nn.Linear(4, 8, seed=0)
        self.out = cr.nn.Linear(8, 3, seed=1)

    def forward(self, x):
        return self.out(cr.relu(self.hidden(x)))


def test_a_linear_layer_is_one_box_that_expand_opens():
    pytest.importorskip("matplotlib")  # layout measures text with it
    net = TwoLayer()
    g = cr.trace(net, np.ones((2, 4), np.float32))
    assert [v.scope[-1].name for v in g.ops] == ["hidden", "", "out"]
    assert [v.name for v in g.inputs.values()][:1] == ["x"]  # forward's parameter name
    g.backward()
    d = layout(g)
    modules = sorted(b.label for b in d.boxes if b.kind == "module")
    assert modules == ["hidden · Linear", "out · Linear"]
    hidden = next(b for b in d.boxes if b.label == "hidden · Linear")
    assert hidden.sub == "2×4 → 2×8"
    # its weight and bias are inside the box, not drawn beside it
    assert {v.op for v in hidden.vars} == {"param", "linear"}
    assert not [b for b in d.boxes if b.kind == "param"]
    opened = layout(g, expand="hidden")
    assert sorted(b.label for b in opened.boxes if b.kind == "module") == ["out · Linear"]
    assert {b.name for b in opened.boxes if b.kind == "param"} == {"hidden_weight", "hidden_bias"}
    everything = layout(g, expand=True)
    assert sum(b.kind == "op" for b in everything.boxes) == len(g.ops)
    assert not any(b.kind == "module" for b in layout(g, expand="Linear").boxes)


class Cell(cr.nn.Module):
    def __init__(self):
        super().__init__()
        self.wx = cr.nn.Linear(3, 5, seed=0)
        self.wh = cr.nn.Linear(5, 5, seed=1)

    def forward(self, x, h):
        return cr.tanh(self.wx(x) + self.wh(h))


class RNN(cr.nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = Cell()
        self.head = cr.nn.Linear(5, 2, seed=2)

    def forward(self, xs):
        h = cr.zeros(xs.shape[1], 5, dtype="float32")
        for t in range(xs.shape[0]):
            h = self.cell(xs[t], h)
        return self.head(h).sum()


def test_rnn_steps_are_drawn_once_with_their_count():
    pytest.importorskip("matplotlib")  # layout measures text with it
    g = cr.trace(RNN(), np.ones((12, 4, 3), np.float32))
    assert len(g.ops) == 62
    d = layout(g)
    repeats = [b for b in d.boxes if b.kind == "repeat"]
    assert len(repeats) == 1 and repeats[0].count == 12
    assert repeats[0].label == "(getitem → wx → wh → add → tanh) × 12"
    assert any("× 12 drawn once" in n and "cell.wx · Linear" in n for n in d.notes)
    assert len([b for b in d.boxes if b.kind not in ("input",)]) == 3  # steps, head, sum
    # closing the cell draws each step as one box: the repeat is then (Cell) × 12
    closed = layout(g, collapse="Cell")
    assert any(b.label.startswith("(getitem → cell) × 12") for b in closed.boxes)
    unfolded = layout(g, fold=False)
    assert not any(b.kind == "repeat" for b in unfolded.boxes)


def test_identical_layers_fold_and_the_cap_summarises_what_it_hid():
    pytest.importorskip("matplotlib")  # layout measures text with it
    model = cr.nn.mlp([16] + [32] * 40 + [10])
    g = cr.trace(
        lambda x: cr.nn.functional.cross_entropy(model(x), np.arange(8) % 10),
        np.ones((8, 16), np.float32),
    )
    d = layout(g)
    labels = [b.label for b in d.boxes]
    assert "(Linear → ReLU) × 39" in labels and "0 · Linear" in labels and "80 · Linear" in labels
    # a cap below what is left: the nearest boxes stay, one box and a note say the rest
    small = layout(g, max_nodes=2, fold=False)
    more = [b for b in small.boxes if b.kind == "more"]
    assert len(more) == 1 and more[0].label.startswith("… ") and "linear" in more[0].sub
    assert any("earlier ops summarised" in n for n in small.notes)
    assert sum(b.kind in ("op", "module", "group", "stack", "repeat") for b in small.boxes) <= 2


def test_tensors_are_shown_as_shape_and_heat_strip_not_numbers():
    pytest.importorskip("matplotlib")
    W = cr.randn(3, 4, seed=0)  # noqa: N806
    g = cr.trace(lambda x: cr.tanh(x @ W).sum(), cr.randn(5, 3, seed=1))
    fig = g.render()
    texts = _texts(fig)
    assert "5×3" in texts and "5×4" in texts
    assert any(t.startswith("‖g‖ ") for t in texts)
    assert max(len(t) for t in texts if t[0].isdigit() or t[0] == "-") < 12  # no walls of numbers
    assert len(fig.axes[0].images) >= 4  # strips of values and of gradients


def test_unknown_render_options_are_named():
    g = cr.trace(circuit, -2, 5, -4)
    with pytest.raises(TypeError, match="colour"):
        g.render(colour="red")


def test_dot_groups_module_ops_and_has_a_legend():
    g = cr.trace(TwoLayer(), np.ones((2, 4), np.float32))
    dot = g.to_dot()
    # one cluster per innermost module call: hidden, out, and TwoLayer's own relu
    assert dot.count("subgraph cluster_") == 3 and 'label="hidden · Linear"' in dot
    assert "legend" in dot


def test_scope_tracking_costs_nothing_outside_a_trace():
    from chainrule.tracing import scope

    assert scope.ACTIVE == 0 and scope.current() == ()
    net = TwoLayer()
    net(np.ones((1, 4), np.float32))  # plain call: no stack, no frames
    assert scope.current() == ()
    g = cr.trace(net, np.ones((1, 4), np.float32))
    assert scope.ACTIVE == 0 and scope.current() == ()
    calls = {v.scope[-1].call for v in g.ops if v.scope}
    assert len(calls) == 3  # TwoLayer itself, hidden, out: one frame each
