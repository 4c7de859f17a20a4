"""DistributedDataParallel: one replica of the model per rank, gradients averaged over the
ranks while backward is still running.

Gradients are packed into buckets (25 MB by default, PyTorch's size) in reverse parameter
order, the order backward produces them; each bucket's non-blocking allreduce starts from
the parameters' post-accumulate-grad hooks as soon as its last gradient is complete, so
communication overlaps the rest of backward. A callback queued on the backward pass waits
for the allreduces and puts the averages into ``.grad`` before ``backward()`` returns.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .. import engine
from ..nn.module import Module
from ..tensor import _stored, _wrap
from . import collectives as C

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters whose gradients travel in one allreduce, and where each one sits."""

    __slots__ = ("dtype", "params", "names", "offsets", "sizes", "numel")

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.params: list = []
        self.names: list[str] = []
        self.offsets: list[int] = []
        self.sizes: list[int] = []
        self.numel = 0

    def add(self, name: str, p: Any) -> None:
        self.params.append(p)
        self.names.append(name)
        self.offsets.append(self.numel)
        self.sizes.append(int(p.size))
        self.numel += int(p.size)

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize


class _Step:
    """The state of one synchronised backward pass."""

    __slots__ = ("buffers", "left", "ready", "requests", "launched")

    def __init__(self, buckets: list[_Bucket]) -> None:
        self.buffers: list[np.ndarray | None] = [None] * len(buckets)
        self.left = [len(b.params) for b in buckets]
        self.ready = [[False] * len(b.params) for b in buckets]
        self.requests: list = []
        self.launched = 0  # buckets are launched in order, the same on every rank


def _named_buffers(module: Module) -> list[tuple[str, Any]]:
    named = getattr(module, "named_buffers", None)
    return list(named()) if callable(named) else []


class DistributedDataParallel(Module):
    """Data-parallel training: wrap the model on every rank and train as usual.

    On construction every rank checks that all ranks hold the same parameters and buffers
    (names, shapes, dtypes; a difference is a ``DistributedError`` naming the rank and the
    parameter), then takes rank 0's values, so the replicas start identical. During each
    ``backward()`` the gradients are averaged over the ranks (bucketed non-blocking
    allreduces, started while backward runs); when ``backward()`` returns, every rank holds
    the same averaged ``.grad`` and the optimizer steps keep the replicas bitwise identical.

    Parameters
    ----------
    module:
        The model (a ``cr.nn.Module``); ``ddp.module`` is it, and ``ddp(x)`` calls it.
    bucket_cap_mb:
        Size of a gradient bucket in MiB (default 25, as PyTorch's DDP). Smaller buckets
        start communicating earlier in backward but pay the per-message latency more often.
    broadcast_buffers:
        Copy rank 0's buffers (e.g. running statistics) to all ranks at each forward.
    find_unused_parameters:
        Allow parameters that get no gradient in a backward pass (they are averaged as
        zeros); by default that is an error naming them.
    timeout:
        Seconds a rank waits for a step's allreduces before raising ``DistributedError``
        (a rank that is stuck, not dead: mpirun already stops a job whose rank died or
        raised). None (the default, as PyTorch's MPI backend) waits in MPI itself, which
        lets the last bucket use MPI's blocking allreduce, faster than its non-blocking one.

    Examples
    --------
    Run under ``mpirun -n 2 python train.py``:

    >>> import numpy as np, chainrule as cr, chainrule.distributed as dist
    >>> net = cr.nn.mlp([4, 8, 3], seed=dist.get_rank())      # doctest: +SKIP
    >>> model = dist.DistributedDataParallel(net)             # doctest: +SKIP
    >>> x = cr.tensor(np.ones((2, 4), dtype=np.float32))
    >>> loss = cr.nn.functional.cross_entropy(model(x), [0, 1])  # doctest: +SKIP
    >>> loss.backward()  # .grad: the average over the ranks  # doctest: +SKIP
    >>> with model.no_sync():  # accumulate locally, no communication  # doctest: +SKIP
    ...     cr.nn.functional.cross_entropy(model(x), [1, 2]).backward()
    >>> model.bucket_names                                    # doctest: +SKIP
    [['module.2.bias', 'module.2.weight', 'module.0.bias', 'module.0.weight']]
    """

    def __init__(
        self,
        module: Module,
        *,
        bucket_cap_mb: float = 25.0,
        broadcast_buffers: bool = True,
        find_unused_parameters: bool = False,
        timeout: float | None = None,
    ) -> None:
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: module must be a cr.nn.Module, got "
                f"{type(module).__name__}"
            )
        if not bucket_cap_mb > 0:
            raise ValueError(
                f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}"
            )
        super().__init__()
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.timeout = timeout
        #: False inside ``no_sync()``: backward accumulates the local gradients only.
        self.require_backward_grad_sync = True
        C.init()
        self._MPI = C._State.MPI
        self._size = C._State.size
        params = [(f"module.{n}", p) for n, p in module.named_parameters() if p.requires_grad]
        self._buffers = [(f"module.{n}", b) for n, b in _named_buffers(module)]
        self._check_same_model(params, float(bucket_cap_mb))
        # Its own communicator: the allreduces in flight during backward never interleave
        # with collectives the user's code calls on COMM_WORLD at the same time.
        self._comm = C._State.comm.Dup()
        for _name, p in params:
            C.broadcast(p, 0)
        for _name, b in self._buffers:
            C.broadcast(b, 0)
        self._buckets = self._make_buckets(params, int(bucket_cap_mb * 1024 * 1024))
        self._step: _Step | None = None
        self._scale = 1.0 / self._size  # gradients are summed, so each rank sends g / N
        self._trace: list | None = None  # set to a list to record the launches (tests)
        self._handles = [
            p.register_post_accumulate_grad_hook(self._hook(b, k))
            for b, bucket in enumerate(self._buckets)
            for k, p in enumerate(bucket.params)
        ]

    # ------------------------------------------------------------------ set-up
    def _check_same_model(self, params: list, cap: float) -> None:
        mine = [("parameter", n, tuple(p.shape), np.dtype(p.dtype).str) for n, p in params]
        mine += [("buffer", n, tuple(b.shape), np.dtype(b.dtype).str) for n, b in self._buffers]
        everyone = C.all_gather_object((cap, mine))
        cap0, ref = everyone[0]
        for r, (cap_r, theirs) in enumerate(everyone):
            if cap_r != cap0:
                raise C.DistributedError(
                    f"DistributedDataParallel: rank {r} uses bucket_cap_mb={cap_r}, rank 0 "
                    f"uses {cap0}; the buckets must be the same on every rank",
                    everywhere=True,
                )
            if theirs != ref:
                raise C.DistributedError(
                    "DistributedDataParallel: the ranks' models differ: "
                    + _difference(ref, theirs, r),
                    everywhere=True,
                )

    @staticmethod
    def _make_buckets(params: list, cap_bytes: int) -> list[_Bucket]:
        # Reverse order: backward completes the last layers' gradients first, so the first
        # buckets fill (and start communicating) while the early layers are still walked.
        buckets: list[_Bucket] = []
        open_by_dtype: dict[np.dtype, _Bucket] = {}
        for name, p in reversed(params):
            dtype = np.dtype(p.dtype)
            bucket = open_by_dtype.get(dtype)
            if bucket is not None and bucket.params and bucket.nbytes + p.data.nbytes > cap_bytes:
                bucket = None
            if bucket is None:
                bucket = open_by_dtype[dtype] = _Bucket(dtype)
                buckets.append(bucket)
            bucket.add(name, p)
        return buckets

    # ------------------------------------------------------------------ use
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers:
            for _name, b in self._buffers:
                C.broadcast(b, 0)
        return self.module(*args, **kwargs)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside this block backward only accumulates local gradients (no communication);
        the first backward after it averages the accumulated sums (gradient accumulation
        over several micro-batches). Both the forward and the backward go inside."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def sync_gradients(self) -> None:
        """Average every parameter's current ``.grad`` over the ranks now (blocking): for
        gradients made without ``backward()``, e.g. by ``cr.nn.CompiledLoss``."""
        if self._step is not None:
            raise RuntimeError("sync_gradients: a backward pass is still synchronising")
        step = self._step = _Step(self._buckets)
        for b, bucket in enumerate(self._buckets):
            for k, p in enumerate(bucket.params):
                if p.grad is not None:
                    self._record(step, b, k, p)
        self._finish()

    @property
    def bucket_names(self) -> list[list[str]]:
        """The parameters of each bucket, in the order the buckets are sent."""
        return [list(b.names) for b in self._buckets]

    def extra_repr(self) -> str:
        return f"ranks={self._size}, buckets={len(self._buckets)}"

    # ------------------------------------------------------------------ the hooks
    def _hook(self, b: int, k: int) -> Any:
        def hook(p: Any) -> None:
            if not self.require_backward_grad_sync or (self._size == 1 and self._scale == 1.0):
                return  # one rank with unweighted batches: the gradient is the average
            step = self._step
            if step is None:
                step = self._step = _Step(self._buckets)
                engine.queue_callback(self._finish)
            self._record(step, b, k, p)

        return hook

    def _record(self, step: _Step, b: int, k: int, p: Any) -> None:
        """Copy (scaled) one parameter's complete gradient into its bucket's buffer; the
        bucket's allreduce starts when that was the bucket's last one."""
        bucket = self._buckets[b]
        if step.ready[b][k]:
            self._step = None
            raise RuntimeError(
                f"DistributedDataParallel: parameter '{bucket.names[k]}' got its gradient "
                f"twice in one synchronised backward pass (did an earlier backward fail "
                f"midway? its allreduces were left unfinished)"
            )
        step.ready[b][k] = True
        buf = step.buffers[b]
        if buf is None:  # a fresh buffer each step: the averaged .grad are views of it
            buf = step.buffers[b] = np.empty(bucket.numel, dtype=bucket.dtype)
        g = np.asarray(p.grad.data)
        off = bucket.offsets[k]
        np.multiply(g, self._scale, out=buf[off : off + bucket.sizes[k]].reshape(g.shape))
        step.left[b] -= 1
        if step.left[b] == 0 and b == step.launched:
            self._launch(step, final=False)
        elif step.requests:
            # MPI moves non-blocking messages along only inside MPI calls: a test here
            # keeps the buckets already sent progressing while backward goes on.
            self._MPI.Request.Testall(step.requests)

    def _launch(self, step: _Step, final: bool) -> None:
        """Start the allreduces of the ready buckets, in bucket order (the same on every
        rank). The last bucket waits for ``final`` (the end of backward): it fills when the
        first layer's gradients are done, so nothing is left to overlap it with, and MPI's
        blocking allreduce is faster than its non-blocking one (about 2.5x for 2 MB here)."""
        n = len(self._buckets)
        MPI = self._MPI
        while step.launched < n and step.left[step.launched] == 0:
            b = step.launched
            last = b == n - 1
            if last and not final:
                return
            if self._size > 1:
                if last and self.timeout is None:
                    self._comm.Allreduce(MPI.IN_PLACE, step.buffers[b], MPI.SUM)
                else:
                    req = self._comm.Iallreduce(MPI.IN_PLACE, step.buffers[b], MPI.SUM)
                    step.requests.append(req)
            if self._trace is not None:
                self._trace.append(("launch", b))
            step.launched += 1

    def _finish(self) -> None:
        """After backward (a queued callback): wait for the allreduces and set every
        parameter's ``.grad`` to the average."""
        step, self._step = self._step, None
        if step is None:
            return
        missing = [
            self._buckets[b].names[k]
            for b, flags in enumerate(step.ready)
            for k, ready in enumerate(flags)
            if not ready
        ]
        if missing:
            if not self.find_unused_parameters:
                raise RuntimeError(
                    f"DistributedDataParallel: parameters {missing} received no gradient in "
                    f"this backward pass, so their allreduce cannot complete; pass "
                    f"find_unused_parameters=True if the model does not always use them"
                )
            for b, flags in enumerate(step.ready):
                bucket = self._buckets[b]
                if step.buffers[b] is None:
                    step.buffers[b] = np.empty(bucket.numel, dtype=bucket.dtype)
                for k, ready in enumerate(flags):
                    if not ready:
                        off = bucket.offsets[k]
                        step.buffers[b][off : off + bucket.sizes[k]] = 0
                        flags[k] = True
                step.left[b] = 0
        self._launch(step, final=True)
        self._wait(step.requests)
        if self._trace is not None:
            self._trace.append(("done", step.launched))
        for bucket, buf in zip(self._buckets, step.buffers):
            for p, off, n in zip(bucket.params, bucket.offsets, bucket.sizes):
                p.grad = _wrap(_stored(buf[off : off + n].reshape(p.shape)))

    def _wait(self, requests: list) -> None:
        if not requests:
            return
        MPI = self._MPI
        if self.timeout is None:
            MPI.Request.Waitall(requests)
            return
        start = time.monotonic()
        deadline = start + float(self.timeout)
        while not MPI.Request.Testall(requests):
            now = time.monotonic()
            if now > start + 1e-3:  # waiting long: let a rank sharing this core run
                _yield()
            if now > deadline:
                raise C.DistributedError(
                    f"DistributedDataParallel: rank {C._State.rank}: the gradient allreduce "
                    f"did not complete within {self.timeout} s; another rank has stopped or "
                    f"is stuck"
                )


_yield = getattr(os, "sched_yield", lambda: time.sleep(0))


def _difference(ref: list, theirs: list, r: int) -> str:
    """Say in words how rank ``r``'s parameter list differs from rank 0's."""
    for i, (a, b) in enumerate(zip(ref, theirs)):
        if a == b:
            continue
        kind, name, shape, dtype = b
        kind0, name0, shape0, dtype0 = a
        if (kind, name) != (kind0, name0):
            return f"{kind} #{i} is '{name}' on rank {r} but {kind0} '{name0}' on rank 0"
        if shape != shape0:
            return f"{kind} '{name}' has shape {shape} on rank {r} but {shape0} on rank 0"
        return (
            f"{kind} '{name}' has dtype {np.dtype(dtype)} on rank {r} but "
            f"{np.dtype(dtype0)} on rank 0"
        )
    n = min(len(ref), len(theirs))
    who, longer = (r, theirs) if len(theirs) > len(ref) else (0, ref)
    return (
        f"rank {r}'s model has {len(theirs)} parameters and buffers, rank 0's has "
        f"{len(ref)} (rank {who} also has '{longer[n][1]}')"
    )
