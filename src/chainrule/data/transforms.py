"""Seeded image augmentations for the ``transform`` hook of datasets (torchvision's names):
RandomCrop with padding, RandomHorizontalFlip, GaussianNoise, plus Normalize and Compose.

A transform is called on one sample, an array whose last two axes are height and width
(``(C, H, W)`` or ``(H, W)``); ``t.batch(xb)`` applies it to a stack of samples along axis 0
at once, each sample with its own random draw (what the DataLoader calls for speed).
Each random transform owns a NumPy generator seeded by its ``seed``, so a run is repeatable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..nn.init import generator

__all__ = ["Compose", "GaussianNoise", "Normalize", "RandomCrop", "RandomHorizontalFlip"]


def _array(op: str, x: Any, min_ndim: int) -> np.ndarray:
    arr = np.asarray(getattr(x, "data", x))
    if arr.ndim < min_ndim:
        what = "a sample of shape (..., H, W)" if min_ndim == 2 else "a batch (N, ..., H, W)"
        raise ValueError(f"{op}: expected {what}, got an array of shape {arr.shape}")
    return arr


def _pair(op: str, name: str, value: Any) -> tuple[int, int]:
    vals = (value, value) if np.isscalar(value) else tuple(value)
    if len(vals) != 2 or any(int(v) != v or v < 1 for v in vals):
        raise ValueError(f"{op}: {name} must be a positive int or a pair (h, w), got {value!r}")
    return int(vals[0]), int(vals[1])


class Compose:
    """Apply transforms in order.

    >>> import numpy as np
    >>> from chainrule.data import transforms as T
    >>> t = T.Compose([T.RandomHorizontalFlip(p=1.0), T.Normalize(0.5, 0.5)])
    >>> t(np.array([[0.0, 1.0]])).tolist()
    [[1.0, -1.0]]
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transforms[{i}] is a {type(t).__name__}, not callable")

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def batch(self, xb: Any) -> Any:
        for t in self.transforms:
            xb = apply_batch(t, xb)
        return xb

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


def apply_batch(transform: Callable[[Any], Any], xb: Any) -> np.ndarray:
    """``transform`` on every sample of the stack ``xb``: its ``batch`` method if it has
    one, else one call per sample.

    >>> import numpy as np
    >>> from chainrule.data import transforms as T
    >>> T.apply_batch(lambda x: x * 2, np.ones((3, 2))).shape
    (3, 2)
    """
    batch = getattr(transform, "batch", None)
    if batch is not None:
        return batch(xb)
    return np.stack([np.asarray(transform(x)) for x in xb])


class RandomCrop:
    """Pad the image (optionally), then cut a ``size`` window at a random position.

    Parameters
    ----------
    size:
        Output height and width: an int (square) or a pair.
    padding:
        Border added first: an int (all sides), ``(left/right, top/bottom)`` or
        ``(left, top, right, bottom)``, as in torchvision.
    pad_if_needed:
        Pad further when the (padded) image is smaller than ``size``.
    fill:
        Value of constant padding.
    padding_mode:
        ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"`` (NumPy's ``np.pad``).
    seed:
        Int or ``numpy.random.Generator`` (None: drawn from chainrule's global generator).

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.data import transforms as T
    >>> crop = T.RandomCrop(28, padding=4, seed=0)
    >>> crop(np.ones((1, 28, 28))).shape     # same shape, content shifted by up to 4 px
    (1, 28, 28)
    >>> crop.batch(np.ones((8, 1, 28, 28))).shape
    (8, 1, 28, 28)
    """

    _MODES = ("constant", "edge", "reflect", "symmetric")

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: float = 0.0,
        padding_mode: str = "constant",
        seed: Any = None,
    ) -> None:
        self.size = _pair("RandomCrop", "size", size)
        if padding is None:
            pads: tuple[int, ...] = (0, 0, 0, 0)
        elif np.isscalar(padding):
            pads = (int(padding),) * 4
        elif len(padding) == 2:
            pads = (int(padding[0]), int(padding[1])) * 2
        elif len(padding) == 4:
            pads = tuple(int(p) for p in padding)
        else:
            raise ValueError(
                f"RandomCrop: padding must be an int, a pair or four ints, got {padding!r}"
            )
        if min(pads) < 0:
            raise ValueError(f"RandomCrop: padding must be >= 0, got {padding!r}")
        if padding_mode not in self._MODES:
            raise ValueError(
                f"RandomCrop: padding_mode must be one of {', '.join(self._MODES)}, "
                f"got {padding_mode!r}"
            )
        self.padding = pads  # left, top, right, bottom
        self.pad_if_needed = bool(pad_if_needed)
        self.fill = fill
        self.padding_mode = padding_mode
        self._rng = generator(seed)

    def _pad(self, x: np.ndarray) -> np.ndarray:
        left, top, right, bottom = self.padding
        h, w = self.size
        if self.pad_if_needed:
            H, W = x.shape[-2] + top + bottom, x.shape[-1] + left + right
            extra_h, extra_w = max(0, h - H), max(0, w - W)
            top, bottom = top + extra_h, bottom + extra_h
            left, right = left + extra_w, right + extra_w
        if not (left or top or right or bottom):
            return x
        widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
        if self.padding_mode == "constant":
            return np.pad(x, widths, mode="constant", constant_values=self.fill)
        return np.pad(x, widths, mode=self.padding_mode)

    def _check(self, padded: np.ndarray, shape: tuple) -> tuple[int, int]:
        H, W = padded.shape[-2:]
        h, w = self.size
        if h > H or w > W:
            raise ValueError(
                f"RandomCrop: crop size {self.size} is larger than the padded image "
                f"({H}, {W}) (input shape {shape}); pass pad_if_needed=True"
            )
        return H - h + 1, W - w + 1

    def __call__(self, x: Any) -> np.ndarray:
        arr = _array("RandomCrop", x, 2)
        padded = self._pad(arr)
        n_top, n_left = self._check(padded, arr.shape)
        top = int(self._rng.integers(n_top))
        left = int(self._rng.integers(n_left))
        h, w = self.size
        return np.ascontiguousarray(padded[..., top : top + h, left : left + w])

    def batch(self, xb: Any) -> np.ndarray:
        arr = _array("RandomCrop.batch", xb, 3)
        padded = self._pad(arr)
        n_top, n_left = self._check(padded, arr.shape[1:])
        n = len(arr)
        tops = self._rng.integers(n_top, size=n)
        lefts = self._rng.integers(n_left, size=n)
        h, w = self.size
        # One gather for the whole batch: a (rows, cols) window per sample.
        flat = padded.reshape(n, -1, *padded.shape[-2:])
        rows = (tops[:, None] + np.arange(h))[:, None, :, None]
        cols = (lefts[:, None] + np.arange(w))[:, None, None, :]
        samples = np.arange(n)[:, None, None, None]
        channels = np.arange(flat.shape[1])[None, :, None, None]
        out = flat[samples, channels, rows, cols]
        return out.reshape(*arr.shape[:-2], h, w)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p``.

    >>> import numpy as np
    >>> from chainrule.data import transforms as T
    >>> T.RandomHorizontalFlip(p=1.0)(np.array([[1, 2, 3]])).tolist()
    [[3, 2, 1]]
    """

    def __init__(self, p: float = 0.5, seed: Any = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = float(p)
        self._rng = generator(seed)

    def __call__(self, x: Any) -> np.ndarray:
        arr = _array("RandomHorizontalFlip", x, 2)
        if self._rng.random() < self.p:
            return np.ascontiguousarray(arr[..., ::-1])
        return arr

    def batch(self, xb: Any) -> np.ndarray:
        arr = _array("RandomHorizontalFlip.batch", xb, 3)
        flip = self._rng.random(len(arr)) < self.p
        out = np.array(arr, copy=True)
        out[flip] = arr[flip][..., ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class GaussianNoise:
    """Add independent normal noise ``N(mean, sigma**2)`` to every pixel, then clip to
    [0, 1] if ``clip`` (torchvision's ``GaussianNoise``; pass ``clip=False`` for
    standardized images).

    >>> import numpy as np
    >>> from chainrule.data import transforms as T
    >>> noisy = T.GaussianNoise(sigma=0.1, seed=0)(np.full((1, 4, 4), 0.5, np.float32))
    >>> noisy.shape, noisy.dtype, bool(0.0 <= noisy.min() and noisy.max() <= 1.0)
    ((1, 4, 4), dtype('float32'), True)
    """

    def __init__(
        self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True, seed: Any = None
    ) -> None:
        if not sigma >= 0:
            raise ValueError(f"GaussianNoise: sigma must be >= 0, got {sigma}")
        self.mean = float(mean)
        self.sigma = float(sigma)
        self.clip = bool(clip)
        self._rng = generator(seed)

    def _noisy(self, arr: np.ndarray) -> np.ndarray:
        dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
        out = arr + self._rng.normal(self.mean, self.sigma, arr.shape).astype(dtype)
        if self.clip:
            np.clip(out, 0.0, 1.0, out=out)
        return out.astype(dtype, copy=False)

    def __call__(self, x: Any) -> np.ndarray:
        return self._noisy(_array("GaussianNoise", x, 0))

    def batch(self, xb: Any) -> np.ndarray:
        return self._noisy(_array("GaussianNoise.batch", xb, 1))

    def __repr__(self) -> str:
        return f"GaussianNoise(mean={self.mean}, sigma={self.sigma}, clip={self.clip})"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel (the axis third from the end), or with one
    mean and std for all pixels.

    >>> import numpy as np
    >>> from chainrule.data import transforms as T
    >>> T.Normalize([0.5, 0.0], [0.5, 2.0])(np.ones((2, 1, 1))).ravel().tolist()
    [1.0, 0.5]
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if self.mean.size != self.std.size and 1 not in (self.mean.size, self.std.size):
            raise ValueError(
                f"Normalize: mean has {self.mean.size} values but std has {self.std.size}"
            )
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must not be 0, got {std!r}")

    def _apply(self, arr: np.ndarray, op: str) -> np.ndarray:
        c = max(self.mean.size, self.std.size)
        if c > 1 and (arr.ndim < 3 or arr.shape[-3] != c):
            raise ValueError(
                f"{op}: {c} channel means/stds, but the input has shape {arr.shape} "
                f"(channels on the axis third from the end)"
            )
        shape = (c, 1, 1) if c > 1 else ()
        dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
        out = (arr - self.mean.reshape(shape)) / self.std.reshape(shape)
        return out.astype(dtype, copy=False)

    def __call__(self, x: Any) -> np.ndarray:
        return self._apply(_array("Normalize", x, 0), "Normalize")

    def batch(self, xb: Any) -> np.ndarray:
        return self._apply(_array("Normalize.batch", xb, 1), "Normalize.batch")

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"
