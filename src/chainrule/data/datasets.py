"""Datasets: scikit-learn's bundled handwritten digits (no download), generated 2-D sets
(moons, circles, spirals), MNIST from IDX files, a seeded train/test split and a registry.

Every loader returns plain arrays ``(X, y)``: float features and int64 labels.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from ..nn.init import generator
from .idx import load_mnist

__all__ = [
    "DATASETS",
    "MissingDependencyError",
    "Split",
    "circles",
    "digits",
    "load_dataset",
    "moons",
    "spirals",
    "train_test_split",
]


class MissingDependencyError(ImportError):
    """An optional extra (e.g. scikit-learn for ``digits``) is not installed.

    Examples
    --------
    >>> import chainrule as cr
    >>> issubclass(cr.data.MissingDependencyError, ImportError)
    True
    """


def digits(dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn (optional extra
    ``data``; nothing is downloaded), as (1797, 64) features scaled to [0, 1].

    Examples
    --------
    >>> import chainrule as cr
    >>> X, y = cr.data.digits()   # doctest: +SKIP
    >>> X.shape, int(y.max())     # doctest: +SKIP
    ((1797, 64), 9)
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise MissingDependencyError(
            "the 'digits' dataset needs scikit-learn: pip install 'chainrule[data]' "
            "(or use a generated dataset such as 'moons')"
        ) from None
    bunch = load_digits()
    # Pixel values are 0..16; scaling to [0, 1] keeps the first layer's inputs O(1).
    X = (bunch.data / 16.0).astype(dtype)
    return X, bunch.target.astype(np.int64)


def _check_n(op: str, n_samples: int, minimum: int) -> int:
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, (int, np.integer))
        or n_samples < minimum
    ):
        raise ValueError(f"{op}: n_samples must be an int >= {minimum}, got {n_samples!r}")
    return int(n_samples)


def _check_noise(op: str, noise: float) -> float:
    if not noise >= 0:
        raise ValueError(f"{op}: noise must be >= 0, got {noise}")
    return float(noise)


def _finish(
    X: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator, dtype: Any
) -> tuple[np.ndarray, np.ndarray]:
    if noise:
        X = X + rng.normal(0.0, noise, X.shape)
    order = rng.permutation(len(y))
    return X[order].astype(dtype), y[order].astype(np.int64)


def moons(
    n_samples: int = 1000, noise: float = 0.1, seed: Any = None, dtype: Any = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons``), two classes.

    Examples
    --------
    >>> import chainrule as cr
    >>> X, y = cr.data.moons(200, seed=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((200, 2), [0, 1])
    """
    n = _check_n("moons", n_samples, 2)
    noise = _check_noise("moons", noise)
    rng = generator(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
            np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return _finish(X, y, noise, rng, dtype)


def circles(
    n_samples: int = 1000,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: Any = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1) inside a large one (class 0), like ``make_circles``.

    Examples
    --------
    >>> import chainrule as cr
    >>> X, y = cr.data.circles(100, seed=0)
    >>> X.shape
    (100, 2)
    """
    n = _check_n("circles", n_samples, 2)
    noise = _check_noise("circles", noise)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"circles: factor (inner radius) must be in (0, 1), got {factor}")
    rng = generator(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2 * np.pi, n_in, endpoint=False)
    X = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
            factor * np.stack([np.cos(t_in), np.sin(t_in)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return _finish(X, y, noise, rng, dtype)


def spirals(
    n_samples: int = 1000,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: Any = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one class per arm (the cs231n toy set that a linear
    classifier cannot separate); ``noise`` jitters the angle.

    Examples
    --------
    >>> import chainrule as cr
    >>> X, y = cr.data.spirals(300, n_classes=3, seed=0)
    >>> X.shape, int(y.max())
    ((300, 2), 2)
    """
    n = _check_n("spirals", n_samples, n_classes if n_classes >= 2 else 2)
    noise = _check_noise("spirals", noise)
    if int(n_classes) < 2:
        raise ValueError(f"spirals: n_classes must be >= 2, got {n_classes}")
    rng = generator(seed)
    per_class = np.full(n_classes, n // n_classes)
    per_class[: n % n_classes] += 1
    parts, labels = [], []
    for k, m in enumerate(per_class):
        radius = np.linspace(0.0, 1.0, m)
        theta = np.linspace(4.0 * k, 4.0 * (k + 1), m) + rng.normal(0.0, noise, m)
        parts.append(np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=1))
        labels.append(np.full(m, k))
    # The noise is in the angle (above), so none is added to the coordinates.
    return _finish(np.concatenate(parts), np.concatenate(labels), 0.0, rng, dtype)


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_size: float = 0.2, seed: Any = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split, stratified by label (each class keeps its share in both parts).

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> X, y = np.zeros((10, 1)), np.array([0] * 5 + [1] * 5)
    >>> Xtr, ytr, Xte, yte = cr.data.train_test_split(X, y, test_size=0.2, seed=0)
    >>> len(ytr), sorted(yte.tolist())
    (8, [0, 1])
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(
            f"train_test_split: X has {len(X)} rows but y has {len(y)} (shapes {X.shape} "
            f"and {y.shape})"
        )
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"train_test_split: test_size must be in (0, 1), got {test_size}")
    rng = generator(seed)
    test_parts, train_parts = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        k = int(round(test_size * len(members)))
        test_parts.append(members[:k])
        train_parts.append(members[k:])
    test = rng.permutation(np.concatenate(test_parts))
    train = rng.permutation(np.concatenate(train_parts))
    return X[train], y[train], X[test], y[test]


class Split(NamedTuple):
    """A dataset ready for training: train and test arrays plus what the model needs.

    Examples
    --------
    >>> import chainrule as cr
    >>> split = cr.data.load_dataset('moons', seed=0)
    >>> split.X_train.shape, split.n_classes, split.name
    ((800, 2), 2, 'moons')
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])


#: name -> short description, for the CLI's help and error messages.
DATASETS = {
    "digits": "8x8 handwritten digits bundled with scikit-learn (1797 samples, 10 classes)",
    "moons": "two interleaving half circles (2-D, 2 classes)",
    "circles": "a circle inside a circle (2-D, 2 classes)",
    "spirals": "three spiral arms (2-D, 3 classes)",
    "mnist": "MNIST from IDX files in --data-dir (784 features, 10 classes)",
}


def load_dataset(
    name: str,
    seed: Any = 0,
    test_size: float = 0.2,
    n_samples: int = 1000,
    noise: float | None = None,
    data_dir: str | os.PathLike | None = None,
    dtype: Any = np.float32,
) -> Split:
    """Load ``name`` (one of ``DATASETS``) and split it into train and test parts.

    Generated sets use ``n_samples`` and ``noise`` (None: the set's default); MNIST uses
    its official split from the files in ``data_dir``.

    Examples
    --------
    >>> import chainrule as cr
    >>> split = cr.data.load_dataset("moons", n_samples=100, seed=0)
    >>> split.X_train.shape, split.n_classes
    ((80, 2), 2)
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "mnist":
        if data_dir is None:
            raise ValueError("the 'mnist' dataset needs a data folder with the IDX files")
        X_train, y_train = load_mnist(data_dir, train=True, dtype=dtype)
        X_test, y_test = load_mnist(data_dir, train=False, dtype=dtype)
        return Split(X_train, y_train, X_test, y_test, 10, name)
    if name == "digits":
        X, y = digits(dtype=dtype)
    else:
        makers = {"moons": moons, "circles": circles, "spirals": spirals}
        kwargs: dict[str, Any] = {"seed": seed, "dtype": dtype}
        if noise is not None:
            kwargs["noise"] = noise
        X, y = makers[name](n_samples, **kwargs)
    X_train, y_train, X_test, y_test = train_test_split(X, y, test_size, seed=seed)
    return Split(X_train, y_train, X_test, y_test, int(y.max()) + 1, name)
