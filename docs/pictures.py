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


def three_ways_h() -> Any:
    """The numerical error against h for the staged example: the U-curve."""
    from chainrule.tracing.examples import staged as f

    return cr.three_ways(f, 3.0, -4.0).figure()


def swell() -> Any:
    """Expression swell on the logistic map, 4 x (1 - x), nested 1..10 times."""
    from chainrule.tracing.three_ways import swell as measure

    return measure(lambda x: 4 * x * (1 - x), 0.3, name="4 * x * (1 - x)").figure()


def _trained(dataset: str, **settings: Any) -> Any:
    """A model trained by ``chainrule train``'s own function (cached per dataset)."""
    import tempfile

    from chainrule.attacks_cli import load_trained
    from chainrule.train_cli import TrainConfig, train

    if dataset not in _TRAINED:
        out = tempfile.mkdtemp()
        config = TrainConfig(dataset=dataset, plots=False, progress="none", out=out, **settings)
        train(config, write=lambda line: None)
        _TRAINED[dataset] = load_trained(os.path.join(out, "model.npz"))
    return _TRAINED[dataset]


_TRAINED: dict[str, Any] = {}


def boundary() -> Any:
    """``chainrule train --dataset spirals``'s decision boundary (three classes)."""
    from matplotlib.figure import Figure

    from chainrule.train_cli import boundary_figure

    loaded = _trained("spirals", hidden=[64, 64], activation="tanh", optimizer="adam", epochs=60)
    split = loaded.split
    mean, std = split.X_train.mean(axis=0), split.X_train.std(axis=0)
    # the saved model takes raw features; the picture works in standardised units
    model = cr.nn.Sequential(_Affine(mean, std), loaded.model)
    return boundary_figure(
        Figure, model, split, (split.X_train - mean) / std, (split.X_test - mean) / std
    )


class _Affine(cr.nn.Module):
    def __init__(self, mean: Any, std: Any) -> None:
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x: Any) -> Any:
        return x * self.std + self.mean


def attack() -> Any:
    """``chainrule attack``'s picture: PGD on the digits network."""
    from matplotlib.figure import Figure

    from chainrule import attacks
    from chainrule.attacks_cli import attack_figure

    loaded = _trained("digits", epochs=20)
    X, y = loaded.split.X_test[:8], loaded.split.y_test[:8]  # noqa: N806
    clip = (loaded.low, loaded.high)
    x_adv = attacks.pgd(loaded.model, X, y, eps=0.1, clip=clip).numpy()
    return attack_figure(
        Figure,
        X,
        x_adv,
        y,
        attacks.predict(loaded.model, X),
        attacks.predict(loaded.model, x_adv),
        (8, 8),
        clip,
        "PGD, eps 0.1 of the pixel range (L-inf)",
    )


def visualize() -> Any:
    """``chainrule visualize``'s picture: the input each class score likes best."""
    from matplotlib.figure import Figure

    from chainrule import attacks
    from chainrule.attacks_cli import visualize_figure

    loaded = _trained("digits", epochs=20)
    units = list(range(10))
    clip = (loaded.low, loaded.high)
    x = attacks.visualize(loaded.model, units, shape=64, clip=clip, seed=0).numpy()
    scores = attacks.unit_scores(loaded.model, x)[np.arange(10), units]
    return visualize_figure(Figure, x, units, scores, (8, 8), clip, "class")


#: file name -> function returning the matplotlib Figure (the README's pictures)
PICTURES: dict[str, Callable[[], Any]] = {
    "circuit.png": circuit,
    "staged.png": staged,
    "staged_grad.png": staged_grad,
    "staged_backprop_vs_autodiff.png": staged_backprop_vs_autodiff,
    "mlp.png": mlp,
    "rnn.png": rnn,
    "three_ways_h.png": three_ways_h,
    "swell.png": swell,
}
#: pictures only the documentation shows (they train a model first: a few seconds)
DOCS_PICTURES: dict[str, Callable[[], Any]] = {
    "boundary_spirals.png": boundary,
    "attack_digits.png": attack,
    "visualize_digits.png": visualize,
}


def write(folder: str, dpi: int = 110, docs: bool = False) -> list[str]:
    """Draw the README's pictures (and with ``docs`` the documentation's) into ``folder``;
    returns the paths written."""
    os.makedirs(folder, exist_ok=True)
    written = []
    for name, make in {**PICTURES, **(DOCS_PICTURES if docs else {})}.items():
        path = os.path.join(folder, name)
        make().savefig(path, dpi=dpi)
        written.append(path)
    return written


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "images")
    for p in write(target):
        print(p)
