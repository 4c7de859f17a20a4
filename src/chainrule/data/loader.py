"""Datasets as arrays and the DataLoader that cuts them into (optionally shuffled) batches,
with PyTorch's ``collate_fn`` and torchvision's ``transform``/``target_transform`` hooks.

Batches of a TensorDataset are gathered with one fancy-indexing call per array (and a
transform with a ``batch`` method runs once per batch), so loading costs what the
equivalent hand-written NumPy loop costs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..nn.init import generator
from ..tensor import Tensor, _wrap, as_tensor
from .transforms import apply_batch

__all__ = ["DataLoader", "Dataset", "TensorDataset", "default_collate"]


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

    Parameters
    ----------
    *arrays:
        Arrays (or Tensors) with one row per sample.
    transform:
        Applied to each sample of the first array when it is read (e.g. an augmentation
        from ``cr.data.transforms``); the DataLoader applies it to a whole batch at once
        when it has a ``batch`` method.
    target_transform:
        The same for the second array (the labels).

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> ds = cr.data.TensorDataset(np.zeros((5, 2)), np.arange(5))
    >>> len(ds), int(ds[3][1])
    (5, 3)
    >>> ds = cr.data.TensorDataset(np.zeros((5, 2)), np.arange(5), transform=lambda x: x + 1)
    >>> ds[0][0].tolist()
    [1.0, 1.0]
    """

    def __init__(
        self,
        *arrays: Any,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
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
        for name, t in (("transform", transform), ("target_transform", target_transform)):
            if t is not None and not callable(t):
                raise TypeError(f"TensorDataset: {name} must be callable, got {type(t).__name__}")
        if target_transform is not None and len(self.arrays) < 2:
            raise ValueError("TensorDataset: target_transform needs a second array (targets)")
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple:
        sample = [a[index] for a in self.arrays]
        if self.transform is not None:
            sample[0] = self.transform(sample[0])
        if self.target_transform is not None:
            sample[1] = self.target_transform(sample[1])
        return tuple(sample)

    def _transform_batch(self, batch: list[np.ndarray]) -> list[np.ndarray]:
        if self.transform is not None:
            batch[0] = np.asarray(apply_batch(self.transform, batch[0]))
        if self.target_transform is not None:
            batch[1] = np.asarray(apply_batch(self.target_transform, batch[1]))
        return batch


def default_collate(samples: list[Any]) -> Any:
    """Stack a list of samples into a batch of the same structure: arrays, Tensors and
    numbers become one Tensor with a leading batch axis; tuples, lists and dicts are
    collated field by field; strings stay a list (PyTorch's ``default_collate``, except
    that a tuple stays a tuple).

    >>> import numpy as np, chainrule as cr
    >>> batch = cr.data.default_collate([{"x": np.zeros(3), "y": 1}, {"x": np.ones(3), "y": 0}])
    >>> batch["x"].shape, batch["y"].numpy().tolist()
    ((2, 3), [1, 0])
    """
    if not samples:
        raise ValueError("default_collate: got an empty list of samples")
    first = samples[0]
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, Mapping):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        size = len(first)
        for i, s in enumerate(samples):
            if len(s) != size:
                raise ValueError(
                    f"default_collate: sample {i} has {len(s)} fields, sample 0 has {size}"
                )
        fields = [default_collate([s[k] for s in samples]) for k in range(size)]
        return tuple(fields) if isinstance(first, tuple) else fields
    arrays = [np.asarray(s.data if isinstance(s, Tensor) else s) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"default_collate: samples have different shapes {sorted(shapes)}; pad them or "
            f"pass a collate_fn"
        )
    return as_tensor(np.stack(arrays))


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
    collate_fn:
        Makes a batch from the list of samples ``[dataset[i] for i in batch]`` (PyTorch's
        hook); None: :func:`default_collate` (a TensorDataset is then batched by indexing
        its arrays directly, which gives the same batches faster).

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> loader = cr.data.DataLoader((X, y), batch_size=2)
    >>> [tuple(xb.shape) for xb, yb in loader]
    [(2, 2), (2, 2), (1, 2)]
    >>> pairs = cr.data.DataLoader((X, y), batch_size=2, collate_fn=lambda s: len(s))
    >>> list(pairs)
    [2, 2, 1]
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: Any = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
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
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(
                f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}"
            )
        self.collate_fn = collate_fn
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
        if arrays is not None and self.collate_fn is None:
            if isinstance(self.dataset, TensorDataset) and (
                self.dataset.transform is not None or self.dataset.target_transform is not None
            ):
                return self._transformed_batches(order, stop)
            return self._batches_of_arrays(arrays, order, stop)
        return self._collated_batches(order, stop)

    def _transformed_batches(self, order: np.ndarray | None, stop: int) -> Iterator[tuple]:
        """Batches of a TensorDataset with transforms: gathered by indexing, then each
        transform runs once on the batch (per sample where it has no ``batch``)."""
        ds = self.dataset
        bs = self.batch_size
        for start in range(0, stop, bs):
            index = slice(start, start + bs) if order is None else order[start : start + bs]
            batch = ds._transform_batch([a[index] for a in ds.arrays])
            yield tuple(as_tensor(b) for b in batch)

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

    def _collate(self, index: Any, start: int) -> Any:
        ids = (
            range(start, min(start + self.batch_size, len(self.dataset)))
            if isinstance(index, slice)
            else index
        )
        samples = [self.dataset[int(i)] for i in ids]
        if self.collate_fn is not None:
            return self.collate_fn(samples)
        batch = default_collate(samples)
        # A dataset of bare arrays gives 1-tuples, so `for (xb,) in loader` works as
        # for a TensorDataset of one array.
        return (batch,) if isinstance(batch, Tensor) else batch
