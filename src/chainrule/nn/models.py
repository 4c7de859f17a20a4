"""The architectures behind ``chainrule train --model mlp|cnn|lstm|transformer``, one per
kind of data (flat features, images, sequences), and the sequence task they learn.

Every model takes the dataset's rows as they are loaded (raw features: non-MLP models
standardise inside, with buffers, so the saved state dict is the whole model).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .. import ops
from ..tensor import Tensor, as_tensor
from . import init
from .attention import TransformerEncoderLayer
from .conv import Conv2d, MaxPool2d
from .layers import Dropout, Flatten, Linear, ModuleList, ReLU, Sequential, Unflatten, mlp
from .module import Module, _initial
from .normalization import BatchNorm2d, LayerNorm
from .recurrent import LSTM

__all__ = [
    "ADDING_SEQ_LEN",
    "IMAGE_SHAPES",
    "LSTMNet",
    "Layout",
    "MODELS",
    "MODEL_DEFAULTS",
    "SEQUENCE_TASKS",
    "Standardize",
    "TASK_DEFAULTS",
    "TransformerNet",
    "adding_problem",
    "build",
    "check",
    "check_names",
    "defaults_for",
    "describe",
    "layout",
    "load_task",
]


MODELS = ("mlp", "cnn", "lstm", "transformer")

#: Datasets whose rows are images, with their (channels, height, width).
IMAGE_SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "shapes": (1, 28, 28)}

#: Generated sequence regression tasks (name -> description).
SEQUENCE_TASKS = {
    "adding": "the adding problem: sum the two marked values of a 2-feature sequence (length 50)",
}
ADDING_SEQ_LEN = 50


class Layout(NamedTuple):
    """How a dataset's rows are read: ``kind`` "flat", "image" or "sequence", and the
    shape of one row as the model sees it ((C, H, W) or (steps, features)).

    Examples
    --------
    >>> layout("digits", (64,))
    Layout(kind='image', shape=(1, 8, 8))
    """

    kind: str
    shape: tuple


def layout(dataset: str, row_shape: tuple) -> Layout:
    """The layout of ``dataset`` whose rows (as loaded) have ``row_shape``.

    Examples
    --------
    >>> layout("adding", (50, 2))
    Layout(kind='sequence', shape=(50, 2))
    """
    if len(row_shape) == 2:
        return Layout("sequence", tuple(row_shape))
    if dataset in IMAGE_SHAPES and math.prod(IMAGE_SHAPES[dataset]) == row_shape[0]:
        return Layout("image", IMAGE_SHAPES[dataset])
    return Layout("flat", tuple(row_shape))


def check(model: str, dataset: str, row_shape: tuple) -> str | None:
    """Why ``model`` cannot be trained on ``dataset`` (a one-line message), or None.

    Examples
    --------
    >>> check("cnn", "moons", (2,))[:28]
    '--model cnn needs image data'
    >>> check("lstm", "adding", (50, 2)) is None
    True
    """
    kind = layout(dataset, row_shape).kind
    if model == "cnn" and kind != "image":
        return (
            f"--model cnn needs image data (digits, mnist); {dataset!r} rows are not images "
            f"(use --model mlp)"
        )
    if model in ("lstm", "transformer") and kind == "flat":
        return (
            f"--model {model} needs sequences or images (read row by row); {dataset!r} has "
            f"flat rows of {row_shape[0]} features (use --model mlp)"
        )
    return None


class Standardize(Module):
    """(x - mean) / std with the training set's statistics kept as buffers, so a saved
    model takes raw inputs.

    Examples
    --------
    >>> import chainrule as cr
    >>> Standardize([1.0, 2.0], [2.0, 4.0])(cr.tensor([[3.0, 6.0]])).tolist()
    [[1.0, 1.0]]
    """

    def __init__(self, mean: Any, std: Any) -> None:
        super().__init__()
        self.register_buffer("mean", as_tensor(np.asarray(mean)))
        self.register_buffer("std", as_tensor(np.asarray(std)))

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else as_tensor(x)
        return (x - self.mean.data) * (1.0 / self.std.data)


class LSTMNet(Module):
    """LSTM over the steps (batch first), the last step's hidden state -> a linear head.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> net = LSTMNet(2, 8, 1, 1, np.float32, np.random.default_rng(0))
    >>> net(cr.ones(4, 10, 2, dtype="float32")).shape
    (4, 1)
    """

    def __init__(
        self,
        features: int,
        hidden: int,
        outputs: int,
        layers: int,
        dtype: Any,
        rng: np.random.Generator,
    ) -> None:
        super().__init__()
        self.lstm = LSTM(
            features, hidden, num_layers=layers, batch_first=True, dtype=dtype, seed=rng
        )
        self.head = Linear(hidden, outputs, dtype=dtype, seed=rng)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.lstm(x)[0][:, -1])


class TransformerNet(Module):
    """Steps -> a linear embedding plus a learned position embedding -> Transformer
    encoder layers (pre-norm) -> mean over steps -> a linear head.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> net = TransformerNet(10, 2, 1, 16, 4, 1, np.float32, np.random.default_rng(0))
    >>> net.eval()(cr.ones(4, 10, 2, dtype="float32")).shape
    (4, 1)
    """

    def __init__(
        self,
        steps: int,
        features: int,
        outputs: int,
        d_model: int,
        heads: int,
        layers: int,
        dtype: Any,
        rng: np.random.Generator,
    ) -> None:
        super().__init__()
        self.embed = Linear(features, d_model, dtype=dtype, seed=rng)
        self.position = _initial(rng.normal(0.0, 0.02, (steps, d_model)).astype(dtype))
        self.layers = ModuleList(
            TransformerEncoderLayer(
                d_model,
                heads,
                dim_feedforward=2 * d_model,
                dropout=0.1,
                batch_first=True,
                norm_first=True,
                dtype=dtype,
                seed=rng,
            )
            for _ in range(layers)
        )
        self.norm = LayerNorm(d_model, dtype=dtype)
        self.head = Linear(d_model, outputs, dtype=dtype, seed=rng)

    def forward(self, x: Tensor) -> Tensor:
        h = self.embed(x) + self.position
        for layer in self.layers:
            h = layer(h)
        return self.head(ops.mean(self.norm(h), axis=1))


def build(
    model: str,
    dataset: str,
    row_shape: tuple,
    outputs: int,
    *,
    hidden: list[int] | None = None,
    activation: str = "relu",
    mean: Any = None,
    std: Any = None,
    dtype: Any = np.float32,
    seed: Any = None,
) -> Module:
    """The ``model`` for ``dataset`` (rows of ``row_shape``) with ``outputs`` outputs
    (classes, or 1 for regression). ``mean``/``std`` (per input feature) make the model
    standardise its raw inputs (not for ``mlp``, where the trainer folds them into the
    first layer). ``hidden`` sizes the MLP's (and, by its first entry, the LSTM's and
    Transformer's) width.

    Examples
    --------
    >>> import chainrule as cr
    >>> net = cr.nn.models.build("cnn", "digits", (64,), 10, seed=0)
    >>> net(cr.zeros(5, 64, dtype="float32")).shape
    (5, 10)
    """
    problem = check(model, dataset, row_shape)
    if problem:
        raise ValueError(problem)
    rng = init.generator(seed)
    lay = layout(dataset, row_shape)
    if model == "mlp":
        sizes = [math.prod(row_shape), *(hidden if hidden is not None else [128]), outputs]
        net: Module = mlp(sizes, activation=activation, dtype=dtype, seed=rng)
        if lay.kind == "sequence":
            return Sequential(Flatten(), net)
        return net
    front: list[Module] = []
    if mean is not None and std is not None:
        front.append(Standardize(np.asarray(mean, dtype=dtype), np.asarray(std, dtype=dtype)))
    if model == "cnn":
        c, h, w = lay.shape
        front.append(Unflatten(1, lay.shape))
        if h >= 16:  # PyTorch's MNIST example network
            body: list[Module] = [
                Conv2d(c, 32, 3, dtype=dtype, seed=rng),
                ReLU(),
                Conv2d(32, 64, 3, dtype=dtype, seed=rng),
                ReLU(),
                MaxPool2d(2),
                Dropout(0.25, seed=rng),
                Flatten(),
                Linear(64 * ((h - 4) // 2) * ((w - 4) // 2), 128, dtype=dtype, seed=rng),
                ReLU(),
                Dropout(0.5, seed=rng),
                Linear(128, outputs, dtype=dtype, seed=rng),
            ]
        else:  # small images (digits' 8x8): same-size convolutions, one pooling
            body = [
                Conv2d(c, 16, 3, padding=1, dtype=dtype, seed=rng),
                BatchNorm2d(16, dtype=dtype),
                ReLU(),
                Conv2d(16, 32, 3, padding=1, dtype=dtype, seed=rng),
                BatchNorm2d(32, dtype=dtype),
                ReLU(),
                MaxPool2d(2),
                Flatten(),
                Dropout(0.3, seed=rng),
                Linear(32 * (h // 2) * (w // 2), 128, dtype=dtype, seed=rng),
                ReLU(),
                Linear(128, outputs, dtype=dtype, seed=rng),
            ]
        return Sequential(*front, *body)
    if lay.kind == "image":  # read row by row: H steps of C * W features
        c, h, w = lay.shape
        steps, features = h, c * w
        front.append(Unflatten(1, (steps, features)))
    else:
        steps, features = lay.shape
    width = hidden[0] if hidden else 64
    if model == "lstm":
        return Sequential(*front, LSTMNet(features, width, outputs, 1, dtype, rng))
    d_model = max(16, 8 * (width // 8))
    return Sequential(*front, TransformerNet(steps, features, outputs, d_model, 4, 2, dtype, rng))


def adding_problem(
    n_samples: int, seq_len: int = ADDING_SEQ_LEN, seed: Any = None, dtype: Any = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber 1997): (N, seq_len, 2) sequences of
    (value in [0, 1], marker), two steps marked, one in each half; the target (N, 1) is the
    sum of the two marked values. Predicting the mean gives an MSE of 1/6.

    Uses ``cr.data.adding_problem`` when the data package provides it.

    Examples
    --------
    >>> X, y = adding_problem(3, seq_len=6, seed=0)
    >>> X.shape, y.shape, X[:, :, 1].sum(axis=1).tolist()
    ((3, 6, 2), (3, 1), [2.0, 2.0, 2.0])
    """
    from .. import data

    maker = getattr(data, "adding_problem", None)
    if maker is not None:
        return maker(n_samples, seq_len=seq_len, seed=seed, dtype=dtype)
    rng = init.generator(seed)
    values = rng.uniform(0.0, 1.0, (n_samples, seq_len))
    rows = np.arange(n_samples)
    first = rng.integers(0, seq_len // 2, n_samples)
    second = rng.integers(seq_len // 2, seq_len, n_samples)
    markers = np.zeros((n_samples, seq_len))
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    X = np.stack([values, markers], axis=-1).astype(dtype)
    y = X[rows, first, 0].astype(np.float64) + X[rows, second, 0]
    return X, y[:, None].astype(dtype)


#: Defaults of a model, and of a task, for the options the user does not give: the CNN
#: reaches its accuracy in 30 epochs; the recurrent and attention models train with Adam
#: and no weight decay (which pulls the LSTM to the trivial mean on the adding problem);
#: the adding problem needs more sequences than a 2-D toy set's 1000 samples.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn": {"epochs": 30},
    "lstm": {"optimizer": "adam", "lr": 3e-3, "epochs": 30, "hidden": "64", "weight_decay": 0.0},
    "transformer": {
        "optimizer": "adam",
        "lr": 1e-3,
        "epochs": 30,
        "hidden": "64",
        "weight_decay": 0.0,
    },
}
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "adding": {"optimizer": "adam", "epochs": 20, "samples": 10000},
}


def defaults_for(model: str, dataset: str) -> dict[str, Any]:
    """The option defaults for ``model`` on ``dataset`` (the task's win).

    Examples
    --------
    >>> defaults_for("lstm", "adding")["optimizer"], defaults_for("cnn", "digits")
    ('adam', {'epochs': 30})
    """
    return {**MODEL_DEFAULTS.get(model, {}), **TASK_DEFAULTS.get(dataset, {})}


def check_names(model: str, dataset: str) -> str | None:
    """``check`` from the names alone (before any data is loaded).

    Examples
    --------
    >>> check_names("transformer", "digits") is None
    True
    """
    if dataset in SEQUENCE_TASKS:
        shape: tuple = (ADDING_SEQ_LEN, 2)
    elif dataset in IMAGE_SHAPES:
        shape = (math.prod(IMAGE_SHAPES[dataset]),)
    else:
        shape = (2,)
    return check(model, dataset, shape)


def load_task(name: str, n_samples: int, seed: Any, test_size: float, dtype: Any) -> Any:
    """A sequence task as a train/test ``cr.data.Split`` (float targets: a regression).

    Examples
    --------
    >>> split = load_task("adding", 100, 0, 0.2, "float32")
    >>> split.X_train.shape, split.y_test.shape
    ((80, 50, 2), (20, 1))
    """
    from ..data import Split

    if name not in SEQUENCE_TASKS:
        raise ValueError(
            f"unknown sequence task {name!r}; choose one of {', '.join(SEQUENCE_TASKS)}"
        )
    X, y = adding_problem(n_samples, ADDING_SEQ_LEN, seed=seed, dtype=dtype)
    # a plain shuffled split (targets are real numbers: nothing to stratify by)
    order = init.generator(seed).permutation(n_samples)
    k = max(1, int(round(test_size * n_samples)))
    test, train = order[:k], order[k:]
    return Split(X[train], y[train], X[test], y[test], 0, name)


def describe(model: Module) -> str:
    """A one-line summary of a built model, e.g. ``Conv2d(1, 32)-BatchNorm2d-ReLU-...``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.models.describe(cr.nn.models.build("lstm", "adding", (50, 2), 1, seed=0))
    'LSTM(2, 64)-Linear(64, 1)'
    """
    children = list(model) if isinstance(model, Sequential) else [model]
    parts = []
    for m in children:
        if isinstance(m, (Standardize, Unflatten)):
            continue
        if isinstance(m, Conv2d):
            parts.append(f"Conv2d({m.in_channels}, {m.out_channels})")
        elif isinstance(m, Linear):
            parts.append(f"Linear({m.in_features}, {m.out_features})")
        elif isinstance(m, LSTMNet):
            parts.append(f"LSTM({m.lstm.input_size}, {m.lstm.hidden_size})")
            parts.append(f"Linear({m.head.in_features}, {m.head.out_features})")
        elif isinstance(m, TransformerNet):
            d = m.embed.out_features
            parts.append(f"Linear({m.embed.in_features}, {d})")
            parts.append(f"TransformerEncoder({d}, heads=4, layers={len(m.layers)})")
            parts.append(f"Linear({d}, {m.head.out_features})")
        elif isinstance(m, Sequential):
            parts.append(describe(m))
        else:
            parts.append(type(m).__name__)
    return "-".join(parts)
