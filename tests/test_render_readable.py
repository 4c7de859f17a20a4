"""No picture has overlapping or clipped text: the README's and the documentation's pictures,
and generated graphs of 10 to 500 nodes, read back from matplotlib's laid-out text boxes."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.tracing.examples import EXAMPLES

pytest.importorskip("matplotlib")

from render_support import problems  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pictures():
    spec = importlib.util.spec_from_file_location(
        "pictures", os.path.join(ROOT, "docs", "pictures.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checker_catches_overlapping_and_clipped_text():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.text(0.5, 0.5, "-2.53")
    ax.text(0.52, 0.5, "0.51")  # on top of the first, as the old staged picture had it
    ax.text(0.95, 0.1, "sticks out of the figure")
    found = problems(fig)
    assert any("'-2.53' overlaps '0.51'" in p for p in found)
    assert any("clipped" in p for p in found)
    clean = Figure(figsize=(3, 2))
    clean_ax = clean.add_axes((0, 0, 1, 1))
    clean_ax.set_axis_off()
    clean_ax.text(0.1, 0.5, "alone")
    assert problems(clean) == []


def test_the_readme_pictures_have_no_overlapping_text():
    pictures = _pictures()
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    shown = [name for name in os.listdir(os.path.join(ROOT, "docs", "images")) if name in readme]
    assert "circuit.png" in shown and "staged_backprop_vs_autodiff.png" in shown
    for name in shown:
        assert name in pictures.PICTURES, f"docs/images/{name} is not drawn by docs/pictures.py"
    for name, make in pictures.PICTURES.items():
        assert problems(make()) == [], name


def test_the_lecture_examples_have_no_overlapping_text():
    for ex in EXAMPLES.values():
        assert problems(ex.trace().render(title=ex.title)) == [], ex.name


def _random_dag(n: int, seed: int, tensors: bool):
    def f(x):
        rng = np.random.default_rng(seed)
        pool = [x[i] for i in range(4)]
        for _ in range(n):
            a, b = len(pool) - 1 - rng.integers(min(len(pool), 12), size=2)
            kind = rng.integers(4)
            if kind == 0:
                pool.append(cr.tanh(pool[a] * pool[b]))
            elif kind == 1:
                pool.append(pool[a] + pool[b])
            elif kind == 2:
                pool.append(cr.sigmoid(pool[a]))
            else:
                pool.append(pool[a] - 0.5 * pool[b])
        return sum(pool[-5:], pool[0] * 0)

    x = np.linspace(0.1, 0.4, 12).reshape(4, 3) if tensors else np.linspace(0.1, 0.4, 4)
    return cr.trace(f, x)


@pytest.mark.parametrize("n", [4, 15, 40, 100, 250, 480])
@pytest.mark.parametrize("tensors", [False, True])
def test_random_graphs_of_10_to_500_nodes_have_no_overlapping_text(n, tensors):
    g = _random_dag(n, seed=n, tensors=tensors)
    assert 10 <= len(g.nodes) <= 700
    fig = g.render(title=f"{len(g.nodes)} nodes")
    assert problems(fig) == []
    w, h = fig.get_size_inches() * 110
    assert w <= 8000 and h <= 4000


@pytest.mark.parametrize("layers", [3, 12, 40])
def test_deep_networks_and_loops_have_no_overlapping_text(layers):
    model = cr.nn.mlp([16] + [24] * layers + [10])
    g = cr.trace(
        lambda x: cr.nn.functional.cross_entropy(model(x), np.arange(8) % 10),
        np.ones((8, 16), np.float32),
    )
    assert problems(g.render()) == []
    if layers <= 12:  # every op drawn: 40 layers would be capped at max_nodes anyway
        assert problems(g.render(expand=True)) == []
    W = cr.randn(6, 6, seed=0, requires_grad=True)  # noqa: N806

    def loop(x):
        h = x
        for _ in range(layers):
            h = cr.tanh(h @ W) + h
        return (h * h).sum()

    assert problems(cr.trace(loop, np.ones((2, 6))).render(fold=False)) == []
