"""The pictures of the README and the documentation, drawn from the library itself.

``python docs/pictures.py [FOLDER]`` writes them (default ``docs/images``, the README's); the
MkDocs hook (``docs/hooks.py``) draws them again at every documentation build, and
``tests/test_render_readable.py`` checks that no two texts in them overlap.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.tracing.examples import EXAMPLES
from chainrule.tracing.render import side_by_side


def circuit() -> Any:
    return EXAMPLES["circuit"].trace().render(title="f(x, y, z) = (x + y) z at x=-2, y=5, z=-4")


def staged() -> Any:
    return EXAMPLES["staged"].trace().render(title="staged sigmoid: f(x, y) at x=3, y=-4")


def staged_grad() -> Any:
    return EXAMPLES["staged-grad"].trace().render(title="the graph autodiff builds for grad(f)")


def staged_backprop_vs_autodiff() -> Any:
    return side_by_side(
        [EXAMPLES["staged"].trace(), EXAMPLES["staged-grad"].trace()],
        None,
        [
            "backprop: values and gradients of f",
            "autodiff: the graph of grad(f), itself differentiable",
        ],
    )


def mlp() -> Any:
    """The digits network with its loss: each layer one box (``expand=`` opens them)."""
    model = cr.nn.mlp([64, 128, 10])
    X = np.random.default_rng(0).random((32, 64)).astype(np.float32)  # noqa: N806
    y = np.arange(32) % 10

    def loss(x):
        return cr.nn.functional.cross_entropy(model(x), y)

    return cr.trace(loss, X).render(title="a 64-128-10 network and its loss, one box a layer")


class _Cell(cr.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wx = cr.nn.Linear(8, 16, seed=0)
        self.wh = cr.nn.Linear(16, 16, seed=1)

    def forward(self, x: Any, h: Any) -> Any:
        return cr.tanh(self.wx(x) + self.wh(h))


class _RNN(cr.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cell = _Cell()
        self.head = cr.nn.Linear(16, 4, seed=2)

    def forward(self, xs: Any) -> Any:
        h = cr.zeros(xs.shape[1], 16, dtype="float32")
        for t in range(xs.shape[0]):
            h = self.cell(xs[t], h)
        return self.head(h)


def rnn() -> Any:
    """A 12-step RNN: the step is drawn once, with its count."""
    model = _RNN()
    xs = np.random.default_rng(1).standard_normal((12, 5, 8)).astype(np.float32)
    y = np.arange(5) % 4

    def loss(xs):
        return cr.nn.functional.cross_entropy(model(xs), y)

    return cr.trace(loss, xs).render(title="a 12-step RNN: the repeated step drawn once")


#: file name -> function returning the matplotlib Figure
PICTURES: dict[str, Callable[[], Any]] = {
    "circuit.png": circuit,
    "staged.png": staged,
    "staged_grad.png": staged_grad,
    "staged_backprop_vs_autodiff.png": staged_backprop_vs_autodiff,
    "mlp.png": mlp,
    "rnn.png": rnn,
}


def write(folder: str, dpi: int = 110) -> list[str]:
    """Draw every picture into ``folder``; returns the paths written."""
    os.makedirs(folder, exist_ok=True)
    written = []
    for name, make in PICTURES.items():
        path = os.path.join(folder, name)
        make().savefig(path, dpi=dpi)
        written.append(path)
    return written


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "images")
    for p in write(target):
        print(p)
