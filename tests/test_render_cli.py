"""The command-line pictures: colour bars on the attack and visualize grids, titles that fit
their figure, colour-blind-safe class colours (no class grey on grey), legends, and no
overlapping or clipped text (read back from matplotlib's layout)."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from chainrule._plots import CLASS_COLORS, fit_title, text_width  # noqa: E402
from chainrule.attacks_cli import attack_figure, visualize_figure  # noqa: E402
from chainrule.train_cli import TrainConfig, boundary_figure, curves_figure  # noqa: E402
from render_support import problems  # noqa: E402


def _colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_attack_grid_has_a_colour_bar_per_row_and_marks_fooled_predictions():
    rng = np.random.default_rng(0)
    X = rng.random((8, 64))  # noqa: N806
    X_adv = np.clip(X + rng.uniform(-0.1, 0.1, X.shape), 0, 1)  # noqa: N806
    y = np.arange(8)
    adv = np.where(y % 2 == 0, y, (y + 1) % 10)
    title = "PGD, eps 0.1 of the pixel range (L-inf)"
    fig = attack_figure(Figure, X, X_adv, y, y, adv, (8, 8), (0.0, 1.0), title)
    bars = _colorbars(fig)
    assert len(bars) == 3
    assert {b.get_ylabel() for b in bars} == {"pixel value", "perturbation"}
    titles = [ax.get_title() for ax in fig.axes]
    assert sum(t.endswith("✗") for t in titles) == 4  # fooled is marked, not only coloured
    assert problems(fig) == []
    for k in (1, 2):  # few columns: the title wraps instead of being cut
        fig = attack_figure(Figure, X[:k], X_adv[:k], y[:k], y[:k], adv[:k], (8, 8), (0, 1), title)
        assert problems(fig) == []


@pytest.mark.parametrize("k", [1, 3, 10])
def test_visualize_title_fits_and_there_is_a_colour_bar(k):
    rng = np.random.default_rng(1)
    fig = visualize_figure(
        Figure, rng.random((k, 64)), list(range(k)), rng.random(k) * 100, (8, 8), (0, 1), "class"
    )
    assert len(_colorbars(fig)) == 1
    assert "arg max_x" in fig._suptitle.get_text().replace("\n", " ")
    assert problems(fig) == []  # the title is inside the figure, even with one column


def _chroma(color):
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(color)
    return colorsys.rgb_to_hls(r, g, b)[2]  # saturation: 0 for any grey


def test_spirals_classes_have_colour_blind_safe_non_grey_colours():
    split = cr.data.load_dataset("spirals", seed=0)
    model = cr.nn.mlp([2, 16, 3])
    fig = boundary_figure(Figure, model, split, split.X_train, split.X_test)
    ax = fig.axes[0]
    points = ax.collections[-2]  # the training samples
    points.update_scalarmappable()  # class -> colour, as a draw does
    faces = {tuple(np.round(c[:3], 3)) for c in points.get_facecolors()}
    assert len(faces) == 3  # three classes, three colours
    assert all(_chroma(c) > 0.4 for c in faces), faces  # none of them grey
    from matplotlib.colors import to_rgb

    assert faces == {tuple(np.round(to_rgb(c), 3)) for c in CLASS_COLORS[:3]}
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["class 0", "class 1", "class 2"] and "test" in legend
    assert problems(fig) == []


def test_training_curves_have_legends_and_readable_text():
    history = [
        {"epoch": i, "loss": 1 / i, "train_acc": 0.5 + i / 40, "test_acc": 0.5 + i / 45}
        for i in range(1, 11)
    ]
    fig = curves_figure(Figure, history, TrainConfig())
    assert all(ax.get_legend() is not None for ax in fig.axes)
    assert problems(fig) == []


def test_fit_title_wraps_to_the_width():
    text = "inputs maximizing each unit: arg max_x y_j(x) - lambda ||x||^2"
    wrapped = fit_title(text, 2.0, 11)
    assert wrapped.replace("\n", " ") == text
    assert all(text_width(line, 11) <= 2.0 for line in wrapped.split("\n"))
