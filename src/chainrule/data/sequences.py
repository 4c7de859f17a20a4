"""Generated sequence tasks for recurrent and attention models: the adding problem, the
parity of a bit string, and forecasting a noisy sine wave; seeded, batch-first arrays.

Every generator returns ``(X, y)`` with ``X`` of shape ``(n_samples, seq_len, features)``
(``batch_first=True`` layout).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.init import generator

__all__ = ["adding_problem", "noisy_sine", "parity"]


def _check_int(op: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{op}: {name} must be an int >= {low}, got {value!r}")
    return int(value)


def adding_problem(
    n_samples: int = 10000, seq_len: int = 50, seed: Any = None, dtype: Any = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber 1997): each step holds a value drawn
    uniformly from [0, 1] and a marker; exactly two steps are marked, one in each half of
    the sequence, and the target is the sum of their two values.

    Predicting the mean (1.0) always gives a mean squared error of 1/6 (about 0.167), the
    baseline a model must beat; it has to carry a value across up to ``seq_len`` steps.

    Returns
    -------
    X, y:
        ``X`` of shape ``(n_samples, seq_len, 2)`` (value, marker), ``y`` of shape
        ``(n_samples, 1)``.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> X, y = cr.data.adding_problem(4, seq_len=10, seed=0)
    >>> X.shape, y.shape, X[:, :, 1].sum(axis=1).tolist()
    ((4, 10, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
    >>> bool(np.allclose((X[:, :, 0] * X[:, :, 1]).sum(axis=1), y[:, 0]))
    True
    """
    n = _check_int("adding_problem", "n_samples", n_samples, 1)
    T = _check_int("adding_problem", "seq_len", seq_len, 2)
    rng = generator(seed)
    values = rng.uniform(0.0, 1.0, (n, T))
    half = T // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, T, n)
    markers = np.zeros((n, T))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    X = np.stack([values, markers], axis=-1).astype(dtype)
    # The target from the stored (rounded) values, so it is exactly what X shows.
    y = X[rows, first, 0].astype(np.float64) + X[rows, second, 0]
    return X, y[:, None].astype(dtype)


def parity(
    n_samples: int = 10000, seq_len: int = 16, seed: Any = None, dtype: Any = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Random bit strings labelled by their parity (1 if the number of ones is odd): a
    classic task that needs every bit, hard for a model that averages.

    The two classes are balanced exactly, and within each class every bit string of that
    parity is equally likely.

    Returns
    -------
    X, y:
        ``X`` of shape ``(n_samples, seq_len, 1)`` with values 0 and 1, int64 labels ``y``.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> X, y = cr.data.parity(6, seq_len=5, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((6, 5, 1), [3, 3])
    >>> bool(((X[:, :, 0].sum(axis=1) % 2) == y).all())
    True
    """
    n = _check_int("parity", "n_samples", n_samples, 2)
    T = _check_int("parity", "seq_len", seq_len, 1)
    rng = generator(seed)
    bits = rng.integers(0, 2, (n, T))
    labels = rng.permutation(np.arange(n) % 2)
    # Where a string has the wrong parity, flip one uniformly chosen bit: that maps the
    # strings of one parity onto the other evenly, so each class stays uniform.
    wrong = np.flatnonzero(bits.sum(axis=1) % 2 != labels)
    where = rng.integers(0, T, len(wrong))
    bits[wrong, where] ^= 1
    return bits[:, :, None].astype(dtype), labels.astype(np.int64)


def noisy_sine(
    n_samples: int = 1000,
    seq_len: int = 50,
    horizon: int = 1,
    noise: float = 0.1,
    seed: Any = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of sine waves (random amplitude in [0.5, 1.5], period 10 to 50 steps,
    phase) with Gaussian noise added; the target is the next ``horizon`` values of the
    noise-free wave, so a perfect forecaster reaches a mean squared error of 0.

    Returns
    -------
    X, y:
        ``X`` of shape ``(n_samples, seq_len, 1)``, ``y`` of shape ``(n_samples, horizon)``.

    Examples
    --------
    >>> import chainrule as cr
    >>> X, y = cr.data.noisy_sine(8, seq_len=30, horizon=5, noise=0.0, seed=0)
    >>> X.shape, y.shape
    ((8, 30, 1), (8, 5))
    """
    n = _check_int("noisy_sine", "n_samples", n_samples, 1)
    T = _check_int("noisy_sine", "seq_len", seq_len, 1)
    h = _check_int("noisy_sine", "horizon", horizon, 1)
    if not noise >= 0:
        raise ValueError(f"noisy_sine: noise must be >= 0, got {noise}")
    rng = generator(seed)
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    period = rng.uniform(10.0, 50.0, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    t = np.arange(T + h)[None, :]
    wave = amplitude * np.sin(2 * np.pi * t / period + phase)
    X = wave[:, :T] + (rng.normal(0.0, noise, (n, T)) if noise else 0.0)
    return X[:, :, None].astype(dtype), wave[:, T:].astype(dtype)
