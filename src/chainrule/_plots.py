"""What the command-line pictures share: a colour-blind-safe palette (Okabe and Ito), titles
wrapped to the width of their figure, and a text-width measure (matplotlib is imported late).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CLASS_COLORS", "DIVERGING", "class_cmap", "fit_title", "text_width"]

#: Okabe & Ito's palette, told apart with every common colour-vision deficiency (no grey:
#: a class must never vanish into a grey background).
CLASS_COLORS = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Signed quantities (perturbations, heat strips): orange below zero, purple above.
DIVERGING = "PuOr"


def class_cmap(n: int) -> Any:
    """A ``ListedColormap`` with one palette colour per class (cycling past eight).

    Examples
    --------
    >>> class_cmap(3).colors
    ['#0072B2', '#E69F00', '#009E73']
    """
    from matplotlib.colors import ListedColormap

    return ListedColormap([CLASS_COLORS[i % len(CLASS_COLORS)] for i in range(max(n, 1))])


def text_width(text: str, fontsize: float, weight: str = "normal") -> float:
    """Width of one line of ``text`` in inches, as matplotlib lays it out.

    Examples
    --------
    >>> 0.2 < text_width("accuracy", 10) < 1.0
    True
    """
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    renderer = RendererAgg(10, 10, 720)
    prop = FontProperties(size=fontsize, weight=weight)
    return max(
        renderer.get_text_width_height_descent(line, prop, ismath=False)[0] / 720.0
        for line in text.split("\n")
    )


def fit_title(text: str, width: float, fontsize: float = 12.0) -> str:
    """``text`` broken into lines no wider than ``width`` inches (so a title is never cut).

    Examples
    --------
    >>> fit_title("inputs maximizing each unit: arg max_x y_j(x)", 1.8, 10).count("\\n") >= 1
    True
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            trial = f"{current} {word}".strip()
            if current and text_width(trial, fontsize) > width:
                lines.append(current)
                current = word
            else:
                current = trial
        lines.append(current)
    return "\n".join(lines)
