"""Pictures: PNG/SVG files that decode to images of sensible size, DOT text, the layered
layout, and big graphs collapsed so that 500 nodes stay legible and fast."""

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
    start = time.perf_counter()
    path = g.render(tmp_path / "big.png")
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0, f"rendering {len(g.nodes)} nodes took {elapsed:.1f} s"
    h, w, _ = _png_shape(path)
    assert 100 <= h <= 8000 and 200 <= w <= 8000
    drawing = layout(g)
    drawn = [b for b in drawing.boxes if b.kind not in ("input", "const")]
    assert len(drawn) <= 61  # collapsed: chains, stacks, or the nearest gates + a summary
    if kind == "deep":
        assert any("(matmul → add → tanh) × 170" in b.label for b in drawing.boxes)
    if kind == "wide":
        assert any(b.kind == "stack" for b in drawing.boxes)
