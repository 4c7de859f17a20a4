"""A generated image set at MNIST scale: 28x28 grayscale pictures of simple shapes (disk,
ring, square, triangle, plus, ...) at random positions, sizes, stroke widths and
brightness, with pixel noise; seeded, balanced, made in well under a second, no download.

Each shape is drawn from a signed distance (negative inside) over the pixel grid, with a
one-pixel soft edge, for all the samples of a class at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.init import generator

__all__ = ["SHAPE_CLASSES", "shapes"]

#: The class names of :func:`shapes`, in label order.
SHAPE_CLASSES = (
    "disk",
    "ring",
    "square",
    "frame",
    "triangle",
    "plus",
    "cross",
    "diamond",
    "hbar",
    "vbar",
)

_R2 = np.float32(np.sqrt(0.5))


def _distance(kind: str, dx: np.ndarray, dy: np.ndarray, r: np.ndarray, t: np.ndarray):
    """Signed distance in pixels (about) to shape ``kind`` of size ``r`` and stroke ``t``
    centred at the origin; dx, dy: (n, H, W), r, t: (n, 1, 1)."""
    ax, ay = np.abs(dx), np.abs(dy)
    if kind == "disk":
        return np.hypot(dx, dy) - r
    if kind == "ring":
        return np.abs(np.hypot(dx, dy) - r) - t
    if kind == "square":
        return np.maximum(ax, ay) - 0.8 * r
    if kind == "frame":
        return np.abs(np.maximum(ax, ay) - 0.8 * r) - t
    if kind == "triangle":
        # Apex up (image rows grow downwards): the intersection of three half-planes.
        sides = np.maximum(0.866 * dx - 0.5 * dy, -0.866 * dx - 0.5 * dy)
        return np.maximum(dy, sides) - 0.55 * r
    if kind in ("plus", "cross"):
        if kind == "cross":  # a plus turned by 45 degrees
            ax, ay = np.abs(dx + dy) * _R2, np.abs(dx - dy) * _R2
        return np.minimum(np.maximum(ax - r, ay - t), np.maximum(ax - t, ay - r))
    if kind == "diamond":
        return (ax + ay) * _R2 - 0.7 * r
    if kind == "hbar":
        return np.maximum(ax - r, ay - 1.5 * t)
    return np.maximum(ax - 1.5 * t, ay - r)  # vbar


def shapes(
    n_samples: int = 10000,
    n_classes: int = 10,
    size: int = 28,
    noise: float = 0.1,
    seed: Any = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Images of ``n_classes`` shapes (the first of :data:`SHAPE_CLASSES`), balanced.

    Parameters
    ----------
    n_samples:
        Number of images (60,000 take one to three seconds).
    n_classes:
        How many shape classes, 2 to 10.
    size:
        Height and width in pixels (28 as MNIST; shapes scale with it).
    noise:
        Standard deviation of the Gaussian pixel noise (values are clipped to [0, 1]).
    seed:
        Int or ``numpy.random.Generator``; None draws from chainrule's global generator.
    dtype:
        Floating dtype of the images.

    Returns
    -------
    X, y:
        ``X`` of shape ``(n_samples, 1, size, size)`` (NCHW, values in [0, 1]) and int64
        labels ``y`` (class counts differ by at most one), in shuffled order. An MLP takes
        ``X.reshape(len(X), -1)``.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> X, y = cr.data.shapes(1000, seed=0)
    >>> X.shape, X.dtype, np.bincount(y).tolist() == [100] * 10
    ((1000, 1, 28, 28), dtype('float32'), True)
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise ValueError(f"shapes: n_samples must be an int, got {n_samples!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise ValueError(f"shapes: n_classes must be an int, got {n_classes!r}")
    if not 2 <= n_classes <= len(SHAPE_CLASSES):
        raise ValueError(
            f"shapes: n_classes must be between 2 and {len(SHAPE_CLASSES)}, got {n_classes}"
        )
    if n_samples < n_classes:
        raise ValueError(f"shapes: n_samples must be >= n_classes ({n_classes}), got {n_samples}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"shapes: size must be an int >= 8, got {size!r}")
    if not noise >= 0:
        raise ValueError(f"shapes: noise must be >= 0, got {noise}")
    rng = generator(seed)
    n, k = int(n_samples), int(n_classes)
    counts = np.full(k, n // k)
    counts[: n % k] += 1
    # Pixel centres; float32 keeps the (n, H, W) temporaries small and fast.
    grid = np.arange(size, dtype=np.float32) + 0.5
    scale = np.float32(size / 28.0)
    X = np.empty((n, 1, size, size), dtype=np.float32)
    y = np.repeat(np.arange(k), counts)
    start = 0
    for label, m in enumerate(counts):
        m = int(m)

        def draw(lo: float, hi: float, m: int = m) -> np.ndarray:
            return rng.uniform(lo, hi, (m, 1, 1)).astype(np.float32)

        # Centre, size and stroke ranges keep every shape (edge included) at least a
        # pixel inside the image.
        cx = draw(0.4, 0.6) * size
        cy = draw(0.4, 0.6) * size
        r = draw(5.5, 8.0) * scale  # half the shape's extent, in pixels
        t = draw(1.0, 1.8) * scale  # half the stroke width
        level = draw(0.65, 1.0)  # brightness
        dx = grid[None, None, :] - cx  # (m, 1, W): column offsets from the centre
        dy = grid[None, :, None] - cy  # (m, H, 1): row offsets
        d = _distance(SHAPE_CLASSES[label], dx, dy, r, t)
        # A one-pixel soft edge: 1 inside, 0 outside, linear across the boundary.
        np.clip(0.5 - d, 0.0, 1.0, out=d)
        d *= level
        X[start : start + m, 0] = d
        start += m
    if noise:
        noise_img = rng.standard_normal(X.shape, dtype=np.float32)  # float32: half the work
        noise_img *= np.float32(noise)
        X += noise_img
        np.clip(X, 0.0, 1.0, out=X)
    order = rng.permutation(n)
    return X[order].astype(dtype, copy=False), y[order].astype(np.int64)
