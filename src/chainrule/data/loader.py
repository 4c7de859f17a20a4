"""Datasets as arrays and the DataLoader that cuts them into (optionally shuffled) batches.

Batches are gathered with one fancy-indexing call per array, so loading costs what the
equivalent hand-written NumPy loop costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..nn.init import generator
from ..tensor import Tensor, _wrap, as_tensor

__all__ = ["DataLoader", "Dataset", "TensorDataset"]


class Dataset:
    """Map-style dataset: ``len(ds)`` samples, ``ds[i]`` returns one sample (a tuple).

    Examples
    --------
    >>> import chainrule as cr
    >>> class Squares(cr.data.Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return (float(i), float(i * i))
    ...
    >>> ds = Squares()
    >>> len(ds), ds[3]
    (4, (3.0, 9.0))
    """

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays (features, labels, ...).

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> ds = cr.data.TensorDataset(np.zeros((5, 2)), np.arange(5))
    >>> len(ds), int(ds[3][1])
    (5, 3)
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = tuple(np.asarray(a.data if isinstance(a, Tensor) else a) for a in arrays)
        for i, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {i} is 0-d; need one row per sample")
        n = len(self.arrays[0])
        for i, a in enumerate(self.arrays):
            if len(a) != n:
                shapes = [x.shape for x in self.arrays]
                raise ValueError(
                    f"TensorDataset: array {i} has {len(a)} rows but array 0 has {n} "
                    f"(shapes {shapes})"
                )

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple:
        return tuple(a[index] for a in self.arrays)


class DataLoader:
    """Iterate over a dataset in batches of Tensors.

    Parameters
    ----------
    dataset:
        A ``TensorDataset``, a tuple of arrays (made into one), or any map-style dataset
        (its samples are stacked, slower).
    batch_size:
        Samples per batch; the last batch is smaller unless ``drop_last``.
    shuffle:
        A new random order every epoch (each ``iter``), drawn from a generator seeded
        once with ``seed``, so a whole run is repeatable.
    drop_last:
        Skip the final partial batch.
    seed:
        Int or ``numpy.random.Generator``; None draws from chainrule's global generator.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> loader = cr.data.DataLoader((X, y), batch_size=2)
    >>> [tuple(xb.shape) for xb, yb in loader]
    [(2, 2), (2, 2), (1, 2)]
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: Any = None,
    ) -> None:
        if isinstance(dataset, (tuple, list)):
            dataset = TensorDataset(*dataset)
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: dataset must support len() and indexing, got {type(dataset).__name__}"
            )
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._rng = generator(seed) if shuffle else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.dataset)
        stop = n - n % self.batch_size if self.drop_last else n
        order = self._rng.permutation(n) if self._rng is not None else None
        arrays = getattr(self.dataset, "arrays", None)
        if arrays is not None:
            return self._batches_of_arrays(arrays, order, stop)
        return self._collated_batches(order, stop)

    def _collated_batches(self, order: np.ndarray | None, stop: int) -> Iterator[tuple]:
        bs = self.batch_size
        for start in range(0, stop, bs):
            if order is None:
                index: Any = slice(start, start + bs)  # a view: no copy at all
            else:
                index = order[start : start + bs]
            yield self._collate(index, start)

    def _batches_of_arrays(
        self, arrays: tuple, order: np.ndarray | None, stop: int
    ) -> Iterator[tuple[Tensor, ...]]:
        """Batches of a TensorDataset: rows gathered by one indexing call per array.
        Rows of arrays of one dimension or more are arrays again, so after one dtype check
        per epoch they are wrapped without further checks (the loop a hand-written
        NumPy epoch runs, plus one Tensor per array)."""
        for a in arrays:
            as_tensor(a[:0])  # the usual TypeError for a dtype a Tensor cannot hold
        bs = self.batch_size
        if len(arrays) == 2:  # features and labels, spelled out: the common case
            a, b = arrays
            for start in range(0, stop, bs):
                index = slice(start, start + bs) if order is None else order[start : start + bs]
                yield _wrap(a[index]), _wrap(b[index])
            return
        for start in range(0, stop, bs):
            index = slice(start, start + bs) if order is None else order[start : start + bs]
            yield tuple(_wrap(a[index]) for a in arrays)

    def _collate(self, index: Any, start: int) -> tuple[Tensor, ...]:
        ids = (
            range(start, min(start + self.batch_size, len(self.dataset)))
            if isinstance(index, slice)
            else index
        )
        samples = [self.dataset[int(i)] for i in ids]
        if not isinstance(samples[0], tuple):
            return (as_tensor(np.stack([np.asarray(s) for s in samples])),)
        return tuple(
            as_tensor(np.stack([np.asarray(getattr(s[k], "data", s[k])) for s in samples]))
            for k in range(len(samples[0]))
        )
