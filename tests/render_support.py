"""Reading a drawn matplotlib figure back: every text's (and image's) box as laid out by the
renderer, and the pairs that overlap or stick out of the figure."""

from __future__ import annotations

from typing import Any


def drawn_boxes(fig: Any) -> list[tuple[str, Any]]:
    """(text, window extent in pixels) of every visible text and image, after a draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = list(fig.texts)
    if fig._suptitle is not None:
        texts.append(fig._suptitle)
    for legend in fig.legends:
        texts += list(legend.get_texts())
    found = []
    for ax in fig.axes:
        texts += list(ax.texts)
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        if ax.axison:
            for axis in (ax.xaxis, ax.yaxis):
                for tick in axis._update_ticks():  # the ticks a draw shows, not all located
                    texts += [tick.label1, tick.label2]
        if ax.get_legend() is not None:
            texts += list(ax.get_legend().get_texts())
        for image in ax.images:
            found.append(("<image>", image.get_window_extent(renderer)))
    seen = set()
    for t in texts:
        if id(t) in seen or not t.get_visible() or not t.get_text().strip():
            continue
        seen.add(id(t))
        found.append((t.get_text(), t.get_window_extent(renderer)))
    return found


def problems(fig: Any, tol: float = 0.5) -> list[str]:
    """Every pair of overlapping texts/images, and every text outside the figure."""
    items = drawn_boxes(fig)
    frame = fig.bbox
    bad = []
    for i, (text, box) in enumerate(items):
        if (
            box.x0 < frame.x0 - tol
            or box.y0 < frame.y0 - tol
            or box.x1 > frame.x1 + tol
            or box.y1 > frame.y1 + tol
        ):
            bad.append(f"{text!r} is clipped by the figure edge")
        for other, obox in items[i + 1 :]:
            w = min(box.x1, obox.x1) - max(box.x0, obox.x0)
            h = min(box.y1, obox.y1) - max(box.y0, obox.y0)
            if w > tol and h > tol:
                bad.append(f"{text!r} overlaps {other!r} ({w:.1f} x {h:.1f} px)")
    return bad
