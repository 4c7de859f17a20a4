"""The ``chainrule attack`` and ``chainrule visualize`` commands: adversarial examples and
feature visualization on a model saved by ``chainrule train``, with PNG pictures.

The model is rebuilt from ``model.npz``: layer sizes from the weight shapes, and the
activation, dataset, seed and split from the settings ``chainrule train`` stores inside it
(older files: from the ``metrics.json`` beside them), so the test set attacked is exactly
the one the model was evaluated on.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .cli import (
    COMMANDS,
    UsageError,
    add_threads_argument,
    auto_threads,
    blas_threads,
    parse_threads,
)
from .tensor import Tensor

__all__ = ["Loaded", "attack_figure", "load_trained", "visualize_figure"]

# ---------------------------------------------------------------------- loading


class Loaded:
    """A rebuilt model with the data split it was trained on and its input range.

    Examples
    --------
    >>> import os, tempfile
    >>> from chainrule.train_cli import TrainConfig, train
    >>> from chainrule.attacks_cli import load_trained
    >>> out = tempfile.mkdtemp()
    >>> config = TrainConfig(dataset='moons', epochs=2, plots=False, progress='none', out=out)
    >>> _ = train(config, write=lambda line: None)
    >>> loaded = load_trained(os.path.join(out, 'model.npz'))
    >>> loaded.n_classes, (loaded.low < 0 < loaded.high)
    (2, True)
    """

    def __init__(self, model: Any, config: dict[str, Any], split: Any, weights: Path) -> None:
        self.model = model
        self.config = config
        self.split = split
        self.weights = weights
        both = np.concatenate([split.X_train, split.X_test])
        # The valid input range: what the data spans (digits: pixels scaled to [0, 1]).
        self.low = float(both.min())
        self.high = float(both.max())

    @property
    def n_classes(self) -> int:
        return int(self.config["sizes"][-1])

    @property
    def description(self) -> str:
        sizes = "-".join(str(s) for s in self.config["sizes"])
        kind = "linear classifier" if len(self.config["sizes"]) == 2 else "MLP"
        return f"{kind} {sizes} ({self.config['activation']}) from {self.weights}"


def _number(option: str, value: Any, kind: type, low: float | None = None) -> Any:
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise UsageError(f"{option}: expected {what}, got {value!r}") from None
    if kind is float and not math.isfinite(number):
        raise UsageError(f"{option}: must be a finite number, got {value!r}")
    if low is not None and number < low:
        raise UsageError(f"{option}: must be >= {low:g}, got {value}")
    return number


def _layer_sizes(state: dict[str, Any], path: Path) -> list[int]:
    """Layer sizes of the MLP whose state dict ``state`` is (keys ``k.weight``, ``k.bias``)."""
    indices = []
    for key in state:
        if not isinstance(key, str):
            raise UsageError(
                f"--weights: '{path}' is not an MLP saved by chainrule train "
                f"(unexpected entry {key!r})"
            )
        head, _, tail = key.partition(".")
        if tail not in ("weight", "bias") or not head.isdigit():
            raise UsageError(
                f"--weights: '{path}' is not an MLP saved by chainrule train "
                f"(unexpected entry {key!r})"
            )
        if tail == "weight":
            indices.append(int(head))
    indices.sort()
    if not indices:
        raise UsageError(f"--weights: '{path}' holds no layer weights")
    sizes: list[int] = []
    dtype = None
    for i in indices:
        w, b = state[f"{i}.weight"], state.get(f"{i}.bias")
        if not all(isinstance(t, (np.ndarray, Tensor)) for t in (w, b)):
            raise UsageError(f"--weights: '{path}': layer {i} does not hold arrays")
        w, b = np.asarray(w), np.asarray(b)
        if w.ndim != 2 or b.shape != w.shape[:1]:
            raise UsageError(
                f"--weights: '{path}': layer {i} is not a Linear layer (weight shape "
                f"{w.shape}, bias shape {b.shape})"
            )
        dtype = dtype or w.dtype
        if w.dtype.kind != "f" or b.dtype != w.dtype or w.dtype != dtype:
            raise UsageError(
                f"--weights: '{path}': layer {i} has dtype {w.dtype}/{b.dtype}; an MLP of "
                f"chainrule train is float32 or float64 throughout"
            )
        if sizes and sizes[-1] != w.shape[1]:
            raise UsageError(
                f"--weights: '{path}': layer {i} takes {w.shape[1]} inputs but the layer "
                f"before gives {sizes[-1]}"
            )
        if not sizes:
            sizes.append(int(w.shape[1]))
        sizes.append(int(w.shape[0]))
    return sizes


#: The settings of ``chainrule train`` that rebuild a model's data, with their defaults
#: (for files that carry none) and a check of each value read from a file.
_SETTINGS: dict[str, tuple[Any, Any, str]] = {
    "dataset": ("digits", lambda v: isinstance(v, str), "a dataset name"),
    "activation": ("relu", lambda v: isinstance(v, str), "an activation name"),
    "seed": (0, lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "test_size": (0.2, lambda v: _is_number(v) and 0 < v < 1, "a number between 0 and 1"),
    "samples": (1000, lambda v: _is_int(v) and 10 <= v <= 10_000_000, "a sample count"),
    "noise": (None, lambda v: v is None or (_is_number(v) and v >= 0), "a number >= 0"),
    "data_dir": (None, lambda v: v is None or isinstance(v, str), "a folder name"),
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _settings(path: Path, sizes: list[int]) -> dict[str, Any]:
    """The training settings of the weights in ``path``: from inside ``model.npz`` (what
    ``chainrule train`` writes), else from the ``metrics.json`` beside it (older files),
    else the defaults. Malformed settings are a one-line ``UsageError``."""
    from chainrule.serialization import SerializationError, load_metadata

    config = {k: default for k, (default, _ok, _what) in _SETTINGS.items()}
    try:
        saved: Any = load_metadata(path).get("config")
    except SerializationError as e:
        raise UsageError(f"--weights: {e}") from None
    source = f"'{path}'"
    if saved is None:
        metrics = path.with_name("metrics.json")
        if not metrics.is_file():
            return config
        source = f"'{metrics}'"
        try:
            document = json.loads(metrics.read_text(encoding="utf-8"))
        except (ValueError, OSError, RecursionError) as e:
            reason = getattr(e, "strerror", None) or e
            raise UsageError(f"cannot read {source}: {' '.join(str(reason).split())}") from None
        saved = document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(saved, dict):
        raise UsageError(f"{source} is malformed: its settings are not a JSON object")
    from chainrule.data import DATASETS
    from chainrule.nn import ACTIVATIONS

    names = {"dataset": DATASETS, "activation": ACTIVATIONS}
    for key, (_default, ok, what) in _SETTINGS.items():
        if key in saved:
            if not ok(saved[key]) or (key in names and saved[key] not in names[key]):
                value = repr(saved[key])
                value = value if len(value) <= 60 else value[:57] + "..."
                raise UsageError(f"{source} is malformed: {key} is {value}, expected {what}")
            config[key] = saved[key]
    if "sizes" in saved and saved["sizes"] != sizes:
        raise UsageError(
            f"{source} is malformed: it says layer sizes {saved['sizes']!r} but the weights "
            f"have {sizes}"
        )
    return config


def load_trained(
    weights: str | Path,
    dataset: str | None = None,
    data_dir: str | None = None,
    activation: str | None = None,
) -> Loaded:
    """Rebuild the model saved by ``chainrule train`` and reload its train/test split.

    The sizes come from the weight shapes; the other settings from inside ``model.npz``
    (``chainrule train`` stores them there), else from the ``metrics.json`` beside it,
    else ``chainrule train``'s defaults (digits, ReLU, seed 0, 20% test). Every problem
    is a one-line ``UsageError``.

    Examples
    --------
    >>> import os, tempfile
    >>> from chainrule.train_cli import TrainConfig, train
    >>> from chainrule.attacks_cli import load_trained
    >>> out = tempfile.mkdtemp()
    >>> config = TrainConfig(dataset='moons', epochs=2, plots=False, progress='none', out=out)
    >>> _ = train(config, write=lambda line: None)
    >>> loaded = load_trained(os.path.join(out, 'model.npz'))
    >>> loaded.config['sizes'], loaded.split.name
    ([2, 128, 2], 'moons')
    """
    import chainrule as cr
    from chainrule.data import DATASETS, IDXError, MissingDependencyError, load_dataset
    from chainrule.nn import ACTIVATIONS
    from chainrule.serialization import SerializationError

    path = Path(weights)
    if not path.exists():
        raise UsageError(f"--weights: no such file '{path}' (train one with 'chainrule train')")
    try:
        state = cr.load(path)
    except (SerializationError, ValueError, OSError) as e:
        raise UsageError(f"--weights: {e}") from None
    if not isinstance(state, dict) or not state:
        raise UsageError(f"--weights: '{path}' does not hold a state dict")
    sizes = _layer_sizes(state, path)
    config = _settings(path, sizes)
    if dataset is not None:
        config["dataset"] = dataset
    if data_dir is not None:
        config["data_dir"] = data_dir
    if activation is not None:
        config["activation"] = activation
    if config["dataset"] not in DATASETS:
        raise UsageError(
            f"--dataset: unknown value {config['dataset']!r}; choose one of {', '.join(DATASETS)}"
        )
    if config["activation"] not in ACTIVATIONS:
        raise UsageError(
            f"--activation: unknown value {config['activation']!r}; choose one of "
            f"{', '.join(ACTIVATIONS)}"
        )
    config["sizes"] = sizes
    dtype = np.asarray(state[f"{min(int(k.split('.')[0]) for k in state)}.weight"]).dtype
    model = cr.nn.mlp(sizes, activation=config["activation"], dtype=dtype, seed=0)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as e:
        raise UsageError(f"--weights: {e}") from None
    model.eval()
    try:
        split = load_dataset(
            config["dataset"],
            seed=config["seed"],
            test_size=config["test_size"],
            n_samples=config["samples"],
            noise=config["noise"],
            data_dir=config["data_dir"],
            dtype=dtype,
        )
    except (MissingDependencyError, FileNotFoundError, IDXError) as e:
        raise UsageError(str(e)) from None
    except ValueError as e:
        raise UsageError(f"--dataset {config['dataset']}: {e}") from None
    if split.n_features != sizes[0]:
        raise UsageError(
            f"--weights: the model takes {sizes[0]} features but the {config['dataset']} "
            f"data has {split.n_features}; pass --dataset"
        )
    return Loaded(model, config, split, path)


def _image_shape(n_features: int) -> tuple[int, int] | None:
    side = int(round(math.sqrt(n_features)))
    return (side, side) if side * side == n_features and side > 1 else None


def _out_dir(args: argparse.Namespace) -> Path:
    out = Path(args.out) if args.out else Path(args.weights).parent
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: '{out}' exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out: cannot create '{out}': {e.strerror}") from None
    return out


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print(
            "note: matplotlib is not installed, so no picture was drawn "
            "(pip install 'chainrule[viz]')",
            file=sys.stderr,
        )
        return None
    return Figure


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--weights",
        metavar="PATH",
        help="model.npz written by 'chainrule train' (its metrics.json, if beside it, "
        "gives the activation, dataset and split)",
    )
    p.add_argument("--dataset", default=None, help="override the dataset named in metrics.json")
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files")
    p.add_argument(
        "--activation", default=None, help="override the activation named in metrics.json"
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="folder for the PNG (default: the folder of --weights)",
    )
    p.add_argument("--no-plot", dest="plot", action="store_false", help="skip the PNG")
    p.add_argument("--seed", default="0", help="seed (random start / initial noise; default 0)")
    add_threads_argument(p)


def _class_index(option: str, text: Any, n_classes: int) -> int:
    value = _number(option, text, int)
    if not 0 <= value < n_classes:
        raise UsageError(
            f"{option}: {value} is out of range for a model with {n_classes} classes "
            f"(0..{n_classes - 1})"
        )
    return value


# ---------------------------------------------------------------------- attack

ATTACK_HELP = "adversarial examples (FGSM, PGD) against a trained model: accuracy and a PNG grid"

ATTACK_EPILOG = """--eps is a fraction of the pixel range: digits pixels (0..16 in scikit-learn) are
scaled to 0..1 by chainrule, so --eps 0.1 allows every pixel to move by 0.1 (1.6 grey levels)
with --norm inf, or the whole perturbation to have L2 norm 0.1 with --norm 2.

examples:
  chainrule train --out runs/digits
  chainrule attack --weights runs/digits/model.npz --eps 0.1
  chainrule attack --weights runs/digits/model.npz --eps 0.5 --norm 2 --method pgd
  chainrule attack --weights runs/digits/model.npz --eps 0.2 --target 3
"""


def add_attack_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = ATTACK_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    _common_arguments(p)
    p.add_argument(
        "--eps",
        default="0.1",
        help="perturbation budget as a FRACTION OF THE PIXEL RANGE (default 0.1 = 10%%)",
    )
    p.add_argument("--norm", default="inf", help="inf (default: max |delta| <= eps) or 2")
    p.add_argument("--method", default="both", help="fgsm, pgd or both (default)")
    p.add_argument("--steps", default="40", help="PGD steps (default 40)")
    p.add_argument(
        "--step-size",
        default=None,
        help="PGD step as a fraction of the pixel range (default 2.5 * eps / steps)",
    )
    p.add_argument(
        "--target",
        default=None,
        metavar="CLASS",
        help="targeted attack: push every sample toward this class",
    )
    p.add_argument("--random-start", action="store_true", help="PGD from a random point")
    p.add_argument(
        "--limit", default=None, help="attack only the first N test samples (default all)"
    )
    p.add_argument("--examples", default="8", help="examples shown in the PNG (default 8)")


def run_attack(args: argparse.Namespace) -> int:

    if not args.weights:
        raise UsageError("--weights: required (the model.npz written by 'chainrule train')")
    eps_fraction = _number("--eps", args.eps, float, low=0.0)
    norm = str(args.norm).lower()
    if norm not in ("inf", "2"):
        raise UsageError(f"--norm: unknown value {args.norm!r}; choose inf or 2")
    method = str(args.method).lower()
    if method not in ("fgsm", "pgd", "both"):
        raise UsageError(f"--method: unknown value {args.method!r}; choose fgsm, pgd or both")
    steps = _number("--steps", args.steps, int, low=1)
    step_fraction = _number("--step-size", args.step_size, float, low=0.0)
    limit = _number("--limit", args.limit, int, low=1)
    n_examples = _number("--examples", args.examples, int, low=1)
    seed = _number("--seed", args.seed, int, low=0)
    threads = parse_threads(args.threads)
    loaded = load_trained(args.weights, args.dataset, args.data_dir, args.activation)
    with blas_threads(_threads(threads, loaded, limit), explicit=threads is not None):
        return _attack(
            args, loaded, eps_fraction, norm, method, steps, step_fraction, limit, n_examples, seed
        )


def _threads(requested: int | None, loaded: Loaded, rows: int | None) -> int | None:
    """``--threads``: the attacked test set is one batch."""
    n = len(loaded.split.y_test) if rows is None else min(rows, len(loaded.split.y_test))
    return auto_threads(requested, loaded.config["sizes"], max(n, 1))


def _attack(
    args: argparse.Namespace,
    loaded: Loaded,
    eps_fraction: float,
    norm: str,
    method: str,
    steps: int,
    step_fraction: float | None,
    limit: int | None,
    n_examples: int,
    seed: int,
) -> int:
    from . import attacks

    target = None
    if args.target is not None:
        target = _class_index("--target", args.target, loaded.n_classes)
    out = _out_dir(args) if args.plot else None

    model, split = loaded.model, loaded.split
    X, y = split.X_test, split.y_test
    if limit is not None:
        X, y = X[:limit], y[:limit]
    span = loaded.high - loaded.low
    eps = eps_fraction * span
    clip = (loaded.low, loaded.high)
    labels = y if target is None else np.full(len(y), target)
    targeted = target is not None
    print(
        f"chainrule attack: {split.name} test set ({len(y)} samples), {loaded.description}\n"
        f"eps {eps_fraction:g} of the pixel range [{loaded.low:g}, {loaded.high:g}] = {eps:g} "
        f"({'L-inf' if norm == 'inf' else 'L2'} ball)"
        + (f", targeted at class {target}" if targeted else "")
    )
    clean_pred = attacks.predict(model, X)
    print(f"{'clean':<6} accuracy {100 * np.mean(clean_pred == y):6.2f}%")
    results = {}
    if method in ("fgsm", "both"):
        results["FGSM"] = attacks.fgsm(
            model, X, labels, eps, norm=norm, targeted=targeted, clip=clip
        ).numpy()
    if method in ("pgd", "both"):
        step_size = None if step_fraction is None else step_fraction * span
        results["PGD"] = attacks.pgd(
            model,
            X,
            labels,
            eps,
            norm=norm,
            steps=steps,
            step_size=step_size,
            targeted=targeted,
            clip=clip,
            random_start=args.random_start,
            seed=seed,
        ).numpy()
    for name, x_adv in results.items():
        pred = attacks.predict(model, x_adv)
        size = attacks.perturbation_norms(x_adv, X, norm).max()
        line = (
            f"{name:<6} accuracy {100 * np.mean(pred == y):6.2f}%  "
            f"(largest {'max |delta|' if norm == 'inf' else '||delta||_2'} {size:.4g} <= {eps:g})"
        )
        if targeted:
            line += f", predicted as class {target}: {100 * np.mean(pred == target):.2f}%"
        print(line)
    if out is not None:
        name = "PGD" if "PGD" in results else "FGSM"
        shape = _image_shape(X.shape[1])
        if shape is None:
            print(
                f"note: {X.shape[1]} features are not a square image, so no picture was drawn",
                file=sys.stderr,
            )
        else:
            Figure = _figure_class()
            if Figure is not None:
                x_adv = results[name]
                path = out / "attack.png"
                _attack_grid(
                    Figure,
                    X[:n_examples],
                    x_adv[:n_examples],
                    y[:n_examples],
                    clean_pred[:n_examples],
                    attacks.predict(model, x_adv[:n_examples]),
                    shape,
                    clip,
                    f"{name}, eps {eps_fraction:g} of the pixel range "
                    f"({'L-inf' if norm == 'inf' else 'L2'})",
                    path,
                )
                print(f"wrote {path}")
    return 0


def _attack_grid(
    Figure: Any,
    X: np.ndarray,
    X_adv: np.ndarray,
    y: np.ndarray,
    clean_pred: np.ndarray,
    adv_pred: np.ndarray,
    shape: tuple[int, int],
    clip: tuple[float, float],
    title: str,
    path: Path,
) -> None:
    """Write the attack picture (see :func:`attack_figure`) to ``path``."""
    fig = attack_figure(Figure, X, X_adv, y, clean_pred, adv_pred, shape, clip, title)
    fig.savefig(path, dpi=100)


def attack_figure(
    Figure: Any,
    X: np.ndarray,
    X_adv: np.ndarray,
    y: np.ndarray,
    clean_pred: np.ndarray,
    adv_pred: np.ndarray,
    shape: tuple[int, int],
    clip: tuple[float, float],
    title: str,
) -> Any:
    """Three rows: originals, perturbations (orange -, purple +), adversarial images, each
    row with its colour bar; a fooled prediction is marked ✗ (not by colour alone).

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from chainrule.attacks_cli import attack_figure
    >>> X = np.random.default_rng(0).random((2, 64))
    >>> y = np.array([3, 5])
    >>> fig = attack_figure(Figure, X, X[::-1], y, y, np.array([3, 1]), (8, 8), (0.0, 1.0), 'demo')
    >>> len(fig.axes)  # 3 rows of 2 images, and a colour bar per row
    9
    """
    from ._plots import DIVERGING, fit_title

    k = len(X)
    width = 1.5 * k + 1.6
    fig = Figure(figsize=(width, 5.6), layout="constrained")
    axes = np.asarray(fig.subplots(3, k, squeeze=False))
    delta = X_adv.astype(np.float64) - X.astype(np.float64)
    bound = max(float(np.abs(delta).max()), 1e-12)
    images = []
    for j in range(k):
        top, mid, bottom = axes[0, j], axes[1, j], axes[2, j]
        im_top = top.imshow(X[j].reshape(shape), cmap="gray_r", vmin=clip[0], vmax=clip[1])
        top.set_title(f"label {y[j]}, pred {clean_pred[j]}", fontsize=8)
        im_mid = mid.imshow(delta[j].reshape(shape), cmap=DIVERGING, vmin=-bound, vmax=bound)
        mid.set_title(f"max |d| {np.abs(delta[j]).max():.3g}", fontsize=8)
        im_bottom = bottom.imshow(
            X_adv[j].reshape(shape), cmap="gray_r", vmin=clip[0], vmax=clip[1]
        )
        fooled = adv_pred[j] != y[j]
        color = "#D55E00" if fooled else "black"
        mark = " ✗" if fooled else ""
        bottom.set_title(f"adversarial: {adv_pred[j]}{mark}", fontsize=8, color=color)
        for ax in (top, mid, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
        images = [im_top, im_mid, im_bottom]
    for row, (image, label) in enumerate(
        zip(images, ["pixel value", "perturbation", "pixel value"])
    ):
        bar = fig.colorbar(image, ax=list(axes[row, :]), shrink=0.9, pad=0.02)
        bar.set_label(label, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("perturbation")
    axes[2, 0].set_ylabel("adversarial")
    fig.suptitle(fit_title(title + "   (✗: fooled)", width - 0.4, 12))
    return fig


COMMANDS["attack"] = (ATTACK_HELP, add_attack_arguments, run_attack)


# ---------------------------------------------------------------------- visualize

VISUALIZE_HELP = "feature visualization: the input that maximizes a class score or hidden unit"

VISUALIZE_EPILOG = """Gradient ascent on the input: x <- clip(x + lr * d(y_j(x) - l2 * ||x||^2)/dx),
starting from a nearly blank image (hidden units: from the training example that excites
the unit most, so ReLU units start active), pixels kept in the data's range (digits: 0..1).

examples:
  chainrule visualize --weights runs/digits/model.npz              # every class
  chainrule visualize --weights runs/digits/model.npz --class 3
  chainrule visualize --weights runs/digits/model.npz --layer 1 --unit 0,1,2,3
"""


def add_visualize_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = VISUALIZE_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    _common_arguments(p)
    p.add_argument(
        "--class",
        dest="classes",
        default=None,
        metavar="CLASS",
        help="class index, comma-separated indices, or all (default)",
    )
    p.add_argument(
        "--layer",
        default=None,
        help="visualize hidden units: the index of a module of the MLP (e.g. 1, the first "
        "activation) instead of the class scores",
    )
    p.add_argument(
        "--unit", default=None, help="hidden units of --layer, comma-separated (default 0..7)"
    )
    p.add_argument("--steps", default="300", help="gradient-ascent steps (default 300)")
    p.add_argument("--lr", default="0.01", help="gradient-ascent learning rate (default 0.01)")
    p.add_argument("--l2", default="1.0", help="L2 penalty weight lambda (default 1)")
    p.add_argument(
        "--no-clip",
        dest="clip",
        action="store_false",
        help="do not keep the pixels in the data's range",
    )


def _index_list(option: str, text: str, n: int, what: str) -> list[int]:
    text = str(text).strip().lower()
    if text == "all":
        return list(range(n))
    out = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        value = _number(option, part, int)
        if not 0 <= value < n:
            raise UsageError(
                f"{option}: {value} is out of range for a model with {n} {what} (0..{n - 1})"
            )
        out.append(value)
    if not out:
        raise UsageError(f"{option}: name at least one index")
    return out


def run_visualize(args: argparse.Namespace) -> int:

    if not args.weights:
        raise UsageError("--weights: required (the model.npz written by 'chainrule train')")
    steps = _number("--steps", args.steps, int, low=1)
    lr = _number("--lr", args.lr, float)
    if lr <= 0:
        raise UsageError(f"--lr: must be > 0, got {args.lr}")
    l2 = _number("--l2", args.l2, float, low=0.0)
    seed = _number("--seed", args.seed, int, low=0)
    threads = parse_threads(args.threads)
    if args.unit is not None and args.layer is None:
        raise UsageError(
            "--unit: needs --layer, the module whose units to visualize (class scores: --class)"
        )
    if args.classes is not None and args.layer is not None:
        raise UsageError("--class: not with --layer, which visualizes hidden units (use --unit)")
    loaded = load_trained(args.weights, args.dataset, args.data_dir, args.activation)
    with blas_threads(_threads(threads, loaded, None), explicit=threads is not None):
        return _visualize(args, loaded, steps, lr, l2, seed)


def _visualize(
    args: argparse.Namespace, loaded: Loaded, steps: int, lr: float, l2: float, seed: int
) -> int:
    from . import attacks

    model, split = loaded.model, loaded.split
    layer = None
    if args.layer is not None:
        n_modules = len(model)
        layer = _number("--layer", args.layer, int)
        if not 0 <= layer < n_modules:
            raise UsageError(
                f"--layer: {layer} is out of range for a model of {n_modules} modules "
                f"(0..{n_modules - 1})"
            )
        n_units = attacks.unit_scores(model, split.X_train[:1], layer=layer).shape[1]
        # default: the first 8 units (fewer if the layer is narrower)
        text = args.unit if args.unit is not None else ",".join(map(str, range(min(8, n_units))))
        units = _index_list("--unit", text, n_units, "units in that layer")
        what = f"unit of layer {layer} ({type(model[layer]).__name__})"
    else:
        units = _index_list("--class", args.classes or "all", loaded.n_classes, "classes")
        what = "class"
    out = _out_dir(args) if args.plot else None
    clip = (loaded.low, loaded.high) if args.clip else None
    train_scores = attacks.unit_scores(model, split.X_train, units=units, layer=layer)
    x0 = None
    if layer is not None:
        # A ReLU unit that is off at a blank start has no gradient and stays off; start
        # each unit from the training example that excites it most (distill.pub's
        # "dataset examples"), then push further.
        x0 = split.X_train[np.argmax(train_scores, axis=0)]
    x = attacks.visualize(
        model,
        units,
        shape=split.n_features,
        layer=layer,
        steps=steps,
        lr=lr,
        l2=l2,
        clip=clip,
        seed=seed,
        x0=x0,
    ).numpy()
    optimized = attacks.unit_scores(model, x, layer=layer)[np.arange(len(units)), units]
    best = train_scores.max(axis=0)
    print(
        f"chainrule visualize: {loaded.description}\n"
        f"gradient ascent, {steps} steps, lr {lr:g}, l2 {l2:g}, "
        + (f"pixels clipped to [{clip[0]:g}, {clip[1]:g}]" if clip else "no clipping")
    )
    for u, score, top in zip(units, optimized, best):
        print(f"{what} {u}: score {score:9.3f}   best training example {top:9.3f}")
    if out is not None:
        shape = _image_shape(split.n_features)
        Figure = _figure_class() if shape is not None else None
        if shape is None:
            print(
                f"note: {split.n_features} features are not a square image, so no picture "
                f"was drawn",
                file=sys.stderr,
            )
        elif Figure is not None:
            path = out / "visualize.png"
            _visualize_grid(Figure, x, units, optimized, shape, clip, what, path)
            print(f"wrote {path}")
    return 0


def _visualize_grid(
    Figure: Any,
    x: np.ndarray,
    units: list[int],
    scores: np.ndarray,
    shape: tuple[int, int],
    clip: tuple[float, float] | None,
    what: str,
    path: Path,
) -> None:
    """Write the feature-visualization picture (see :func:`visualize_figure`)."""
    visualize_figure(Figure, x, units, scores, shape, clip, what).savefig(path, dpi=100)


def visualize_figure(
    Figure: Any,
    x: np.ndarray,
    units: list[int],
    scores: np.ndarray,
    shape: tuple[int, int],
    clip: tuple[float, float] | None,
    what: str,
) -> Any:
    """One image per unit with its score, a colour bar, and the objective as the title
    (wrapped to the figure's width, however few columns there are).

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from chainrule.attacks_cli import visualize_figure
    >>> x = np.random.default_rng(0).random((3, 64))
    >>> scores = np.array([5.0, 6.0, 7.0])
    >>> fig = visualize_figure(Figure, x, [0, 1, 2], scores, (8, 8), (0.0, 1.0), 'class')
    >>> [ax.get_title().split() for ax in fig.axes[:2]]
    [['class', '0', 'score', '5.0'], ['class', '1', 'score', '6.0']]
    """
    from ._plots import fit_title

    k = len(units)
    cols = min(k, 5)
    rows = math.ceil(k / cols)
    width = 2.0 * cols + 1.3
    fig = Figure(figsize=(width, 2.2 * rows + 1.0), layout="constrained")
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False)).ravel()
    vmin, vmax = clip if clip is not None else (float(x.min()), float(x.max()))
    image = None
    for ax, u, img, score in zip(axes, units, x, scores):
        image = ax.imshow(img.reshape(shape), cmap="gray_r", vmin=vmin, vmax=vmax)
        ax.set_title(f"{what.split(' (')[0]} {u}\nscore {score:.1f}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[k:]:
        ax.set_visible(False)
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes), shrink=0.8, pad=0.02)
        bar.set_label("pixel value", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    title = "inputs maximizing each unit: arg max_x y_j(x) - lambda ||x||^2"
    fig.suptitle(fit_title(title, width - 0.3, 11), fontsize=11)
    return fig


COMMANDS["visualize"] = (VISUALIZE_HELP, add_visualize_arguments, run_visualize)
