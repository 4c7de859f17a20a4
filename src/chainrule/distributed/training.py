"""What ``chainrule train --distributed`` adds to a training run: the global batch split
over the ranks, gradients averaged, rank 0 alone printing and writing, and faults that stop
the whole job.

``train_cli.train`` calls into ``DistributedRun`` from a few lines; the logic is here.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..tensor import _wrap
from . import collectives as C

__all__ = ["DistributedRun", "run_train"]


def run_train(train: Callable[[], Any]) -> int:
    """Run ``train()`` (one ``chainrule train`` run) on this rank of an MPI job: the CLI's
    ``--distributed``.

    An error every rank found the same way (the ranks' models or batches differ) is
    printed once, by rank 0, and the ranks end with exit code 2. Any other error on a rank
    stops the whole job: the rank prints its one line (naming itself) and aborts every
    rank, with the exit code the CLI gives that error alone (2 for bad input, 1 for a
    failure while running or a bug, 130/143 for an interrupt). Nothing is written unless
    every rank finished training (see ``DistributedRun.done``).

    >>> # the CLI's --distributed: mpirun -n 2 chainrule train --distributed
    >>> from chainrule.distributed.training import run_train
    >>> code = run_train(lambda: None)  # doctest: +SKIP
    """
    from ..cli import Interrupted, RunError, UsageError

    try:
        C.init(abort_on_error=True)
    except C.MissingMPIError as e:
        raise UsageError(f"--distributed: {e}") from None
    try:
        train()
    except C.DistributedError as e:
        if not e.everywhere:
            C.abort(f"chainrule train: error: {e}", code=2)
        if C.get_rank() == 0:
            print(f"chainrule train: error: {' '.join(str(e).split())}", file=sys.stderr)
            sys.stderr.flush()
        # mpirun stops the job when the first rank exits non-zero: rank 0 prints first
        C.barrier()
        return 2
    except BaseException as e:
        if C.get_world_size() == 1:
            raise  # one process: the CLI reports it as usual
        text = " ".join(str(e).split())
        if isinstance(e, UsageError):
            C.abort(f"chainrule train: error: {text}", code=2)
        if isinstance(e, (RunError, OSError)):
            C.abort(f"chainrule train: error: {text}", code=1)
        if isinstance(e, KeyboardInterrupt):
            terminated = isinstance(e, Interrupted)
            C.abort(f"chainrule train: {text or 'interrupted'}", code=143 if terminated else 130)
        traceback.print_exc()  # a bug: its traceback, then stop everyone
        C.abort(f"raised {type(e).__name__}: {text}; stopping all ranks", code=1)
    return 0


class DistributedRun:
    """The pieces of one data-parallel ``train`` run (see ``train_cli.train``).

    >>> from chainrule.distributed.training import DistributedRun
    >>> run = DistributedRun()  # under mpirun: this rank's part of the job  # doctest: +SKIP
    """

    def __init__(self) -> None:
        C.init()
        self.rank = C.get_rank()
        self.size = C.get_world_size()
        self.ddp: Any = None
        self.sharded: _ShardedLoader | None = None

    # ------------------------------------------------------------------ output
    def writer(self, write: Callable[[str], Any]) -> Callable[[str], Any]:
        """``write`` on rank 0; the other ranks stay quiet."""
        if self.rank == 0:
            return write
        return lambda text: None

    def reporter(self, reporter: Any) -> Any:
        """The progress reporter: rank 0's prints, and every epoch's row is made global."""
        return _GlobalRows(reporter, self)

    def done(self) -> bool:
        """After training: every rank reached here (a collective), so rank 0 may write the
        outputs; True on rank 0 only."""
        C.barrier()
        return self.rank == 0

    # ------------------------------------------------------------------ the model
    def wrap_model(self, model: Any) -> Any:
        """Check the ranks' models agree, start them from rank 0's weights and average the
        gradients of every backward (the model object itself is unchanged)."""
        from .ddp import DistributedDataParallel

        self.ddp = DistributedDataParallel(model)
        return model

    def compiled(self, compiled: Any) -> Any:
        """A ``CompiledLoss`` sets ``.grad`` without a backward pass: average them after."""
        return _SyncedCompiledLoss(compiled, self.ddp)

    def loader(self, loader: Any) -> _ShardedLoader:
        """Each rank's part of every global batch ``loader`` yields."""
        self.sharded = _ShardedLoader(loader, self)
        return self.sharded


class _ShardedLoader:
    """Cut each global batch into ``size`` contiguous parts; yield this rank's part.

    Every rank draws the same global batches (the loader's seeded shuffle), so the job
    sees the batches one process would. Parts may differ by one sample: each rank's
    gradient is weighted by its share so the average is the global batch's mean gradient.
    A global batch with fewer samples than ranks is skipped (a rank would get none).
    """

    def __init__(self, loader: Any, run: DistributedRun) -> None:
        self.loader = loader
        self.run = run
        self.seen = 0  # samples this rank got in the current (or last) epoch
        counts = C.all_gather_object((len(loader), len(loader.dataset)))
        for r, (batches, samples) in enumerate(counts):
            if batches != counts[0][0]:
                raise C.DistributedError(
                    f"--distributed: rank {r} has {batches} batches per epoch "
                    f"({samples} training samples), rank 0 has {counts[0][0]} "
                    f"({counts[0][1]} samples); every rank must load the same data",
                    everywhere=True,
                )
        if loader.batch_size < run.size:
            raise C.DistributedError(
                f"--batch-size: the global batch ({loader.batch_size}) must be at least the "
                f"number of ranks ({run.size})",
                everywhere=True,
            )

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple]:
        size, rank, ddp = self.run.size, self.run.rank, self.run.ddp
        self.seen = 0
        for batch in self.loader:
            n = len(batch[0].data)
            if n < size:
                continue
            lo, hi = rank * n // size, (rank + 1) * n // size
            if ddp is not None:  # weight n_local * size / n: the mean over the global batch
                ddp._scale = (hi - lo) / n
            self.seen += hi - lo
            yield tuple(_wrap(t.data[lo:hi]) for t in batch)
        if ddp is not None:
            ddp._scale = 1.0 / size


class _SyncedCompiledLoss:
    def __init__(self, compiled: Any, ddp: Any) -> None:
        self.compiled = compiled
        self.ddp = ddp

    def __call__(self, X: Any, y: Any) -> float:
        with self.ddp.no_sync():  # its first-call check against the engine runs backward
            loss = self.compiled(X, y)
        self.ddp.sync_gradients()
        return loss


class _GlobalRows:
    """Wraps the progress reporter: rank 0 alone shows progress, and each epoch's row
    (loss, training accuracy, samples/s) becomes the whole job's, summed over the ranks."""

    def __init__(self, inner: Any, run: DistributedRun) -> None:
        self.inner = inner
        self.run = run

    def __enter__(self) -> _GlobalRows:
        if self.run.rank == 0:
            self.inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.run.rank == 0:
            self.inner.__exit__(*exc)

    def batch(self) -> None:
        if self.run.rank == 0:
            self.inner.batch()

    def epoch(self, row: dict[str, Any]) -> None:
        # the row is the one train() keeps in its history: updated in place
        sharded = self.run.sharded
        seen = float(sharded.seen) if sharded is not None else 1.0
        totals = np.array(
            [row["loss"] * seen, row["train_acc"] * seen, seen, row["seconds"]], dtype=np.float64
        )
        C.all_reduce(totals[:3])
        slowest = C.all_reduce(totals[3:], op="max")
        loss_sum, correct, seen_all = totals[:3]
        row["loss"] = loss_sum / seen_all
        row["train_acc"] = correct / seen_all
        row["samples_per_s"] = seen_all / slowest[0] if slowest[0] > 0 else float("inf")
        if self.run.rank == 0:
            self.inner.epoch(row)
