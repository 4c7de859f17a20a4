"""DistributedSampler: each rank's share of a dataset's indices, the shards disjoint and the
shuffle the same on every rank (seeded by ``seed + epoch``), as PyTorch's sampler does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """The indices of one rank's shard of a dataset, reshuffled each epoch.

    Every rank draws the same permutation (from ``seed + epoch``), pads it by repeating
    its first indices until it divides evenly (or, with ``drop_last``, cuts the tail) and
    takes every ``num_replicas``-th index starting at its rank: the shards are disjoint,
    equally long, and together cover the dataset. Call ``set_epoch(e)`` at the start of
    each epoch for a new order (without it every epoch repeats the first one).

    Parameters
    ----------
    dataset:
        Anything with ``len()`` (a dataset, an array), or the number of samples.
    num_replicas, rank:
        The world size and this process's rank (default: from the MPI job).
    shuffle:
        Permute the indices (default True); False keeps ``0, 1, 2, ...`` order.
    seed:
        Seed of the permutation; it must be the same on every rank.
    drop_last:
        Drop the tail that does not divide evenly instead of padding with repeats.

    Examples
    --------
    >>> import chainrule.distributed as dist
    >>> shards = [dist.DistributedSampler(10, num_replicas=3, rank=r, seed=0) for r in range(3)]
    >>> [len(s) for s in shards]
    [4, 4, 4]
    >>> sorted(set().union(*[list(s) for s in shards])) == list(range(10))
    True

    With a ``DataLoader``, load each epoch's shard:

    >>> import numpy as np, chainrule as cr
    >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    >>> sampler = shards[1]
    >>> sampler.set_epoch(3)
    >>> idx = sampler.indices()
    >>> loader = cr.data.DataLoader((X[idx], y[idx]), batch_size=2)
    >>> len(loader)
    2
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        n = dataset if isinstance(dataset, (int, np.integer)) else len(dataset)
        if num_replicas is None or rank is None:
            from . import collectives

            num_replicas = collectives.get_world_size() if num_replicas is None else num_replicas
            rank = collectives.get_rank() if rank is None else rank
        if int(num_replicas) < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= int(rank) < int(num_replicas):
            raise ValueError(
                f"DistributedSampler: rank must be in 0..{int(num_replicas) - 1}, got {rank}"
            )
        if int(n) < 0:
            raise ValueError(f"DistributedSampler: the dataset size must be >= 0, got {n}")
        self.n = int(n)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        if self.drop_last:
            self.num_samples = self.n // self.num_replicas
        else:
            self.num_samples = -(-self.n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` (the same on every rank that passes it)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(self.n)
        else:
            order = np.arange(self.n)
        if self.total_size > self.n and self.n > 0:  # pad with repeats to divide evenly
            order = np.resize(order, self.total_size)
        order = order[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (
            f"DistributedSampler(n={self.n}, num_replicas={self.num_replicas}, "
            f"rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, epoch={self.epoch})"
        )
