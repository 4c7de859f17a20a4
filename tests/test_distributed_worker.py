"""The programs tests/test_distributed.py runs under ``mpirun -n 2`` (it holds no tests).

``python tests/test_distributed_worker.py SCENARIO OUT_DIR`` runs one scenario on every
rank; each rank writes what it found to ``OUT_DIR/rank<r>.json`` for the test to check.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np


def _digest(arrays) -> str:
    import hashlib

    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _batch(dtype, n=64, features=20, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(dtype), rng.integers(0, classes, size=n)


def _collectives(dist, cr) -> dict:
    r, n = dist.get_rank(), dist.get_world_size()
    found = {"rank": r, "size": n, "local_rank": dist.get_local_rank()}
    found["local_size"] = dist.get_local_world_size()
    a = np.arange(4.0) * (r + 1)
    same = dist.all_reduce(a)
    found["all_reduce_sum"] = a.tolist()
    found["all_reduce_in_place"] = same is a
    t = cr.tensor(np.full(3, float(r + 1), dtype=np.float32))
    dist.all_reduce(t, op="max")
    found["all_reduce_tensor_max"] = t.tolist()
    s = cr.tensor(float(r))  # 0-d: held as a NumPy scalar
    dist.all_reduce(s, op="avg")
    found["all_reduce_scalar_avg"] = s.item()
    m = np.zeros((3, 4))
    m[:, ::2] = r + 1  # a non-contiguous view, reduced in place
    dist.all_reduce(m[:, ::2])
    found["all_reduce_view"] = m.tolist()
    b = np.full(2, float(r + 10))
    dist.broadcast(b, src=1)
    found["broadcast_from_1"] = b.tolist()
    found["all_gather"] = [x.tolist() for x in dist.all_gather(np.array([r, 2 * r]))]
    found["all_gather_tensor"] = [type(x).__name__ for x in dist.all_gather(cr.tensor([float(r)]))]
    try:
        dist.all_gather(np.zeros(r + 1))
    except dist.DistributedError as e:
        found["all_gather_mismatch"] = str(e)
    w = cr.tensor(np.ones(3), requires_grad=True)
    y = (w * w).sum()  # saves w's values for backward
    dist.all_reduce(w)  # ...which then change in place
    try:
        y.backward()
    except RuntimeError as e:
        found["stale_backward"] = str(e)
    dist.barrier()
    return found


def _ddp_matches_one_process(dist, cr, dtype) -> dict:
    """2 ranks x 32 samples, averaged, against one process's 64-sample gradient."""
    r, n = dist.get_rank(), dist.get_world_size()
    F = cr.nn.functional
    X, y = _batch(dtype)
    model = cr.nn.mlp([20, 32, 16, 5], dtype=dtype, seed=100 + r)  # different on each rank
    reference = cr.nn.mlp([20, 32, 16, 5], dtype=dtype, seed=100)  # rank 0's initial weights
    # float64 runs with a timeout: every bucket non-blocking, polled (the default waits for
    # the last bucket in MPI's blocking allreduce)
    timeout = 60.0 if dtype == np.float64 else None
    ddp = dist.DistributedDataParallel(model, timeout=timeout)
    found = {}
    found["initial_equal_rank0"] = all(
        np.array_equal(p.data, q.data) for p, q in zip(model.parameters(), reference.parameters())
    )
    per = len(y) // n
    lo, hi = r * per, (r + 1) * per
    F.cross_entropy(ddp(cr.tensor(X[lo:hi])), y[lo:hi]).backward()
    F.cross_entropy(reference(cr.tensor(X)), y).backward()
    tol = 1e-6 if dtype == np.float32 else 1e-12
    errs = [
        float(np.max(np.abs(p.grad.data - q.grad.data)))
        for p, q in zip(model.parameters(), reference.parameters())
    ]
    found["grad_max_abs_err"] = max(errs)
    found["grad_allclose"] = all(
        np.allclose(p.grad.data, q.grad.data, rtol=tol, atol=tol)
        for p, q in zip(model.parameters(), reference.parameters())
    )
    found["grad_dtype"] = str(next(model.parameters()).grad.dtype)

    # Training: each rank's own 32 samples, SGD with momentum; parameters bitwise equal
    # across ranks after every step, and close to one process on the 64-sample batches.
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    ref_opt = cr.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    identical = []
    for step in range(6):
        Xs, ys = _batch(dtype, seed=10 + step)
        opt.zero_grad()
        F.cross_entropy(ddp(cr.tensor(Xs[lo:hi])), ys[lo:hi]).backward()
        opt.step()
        ref_opt.zero_grad()
        F.cross_entropy(reference(cr.tensor(Xs)), ys).backward()
        ref_opt.step()
        digests = dist.all_gather_object(_digest(p.data for p in model.parameters()))
        identical.append(len(set(digests)) == 1)
    found["bitwise_identical_each_step"] = identical
    found["train_max_abs_err"] = max(
        float(np.max(np.abs(p.data - q.data)))
        for p, q in zip(model.parameters(), reference.parameters())
    )
    return found


def _buckets_and_overlap(dist, cr) -> dict:
    r = dist.get_rank()
    F = cr.nn.functional
    X, y = _batch(np.float64)
    model = cr.nn.mlp([20, 64, 48, 5], dtype=np.float64, seed=3)
    reference = cr.nn.mlp([20, 64, 48, 5], dtype=np.float64, seed=3)
    # 0.01 MiB = 10485 bytes: each weight (64*20*8 = 10240, 48*64*8 = 24576 bytes, ...)
    # fills or overfills a bucket, the small biases ride along.
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.01)
    found = {"bucket_names": ddp.bucket_names}
    trace = ddp._trace = []
    for name, p in model.named_parameters():  # registered after DDP's: see its launches
        p.register_post_accumulate_grad_hook(lambda t, name=name: trace.append(("grad", name)))
    lo, hi = r * 32, (r + 1) * 32
    F.cross_entropy(ddp(cr.tensor(X[lo:hi])), y[lo:hi]).backward()
    trace.append(("backward returned",))
    found["trace"] = trace
    F.cross_entropy(reference(cr.tensor(X)), y).backward()
    found["bucketed_grads_allclose"] = all(
        np.allclose(p.grad.data, q.grad.data, rtol=1e-12, atol=1e-12)
        for p, q in zip(model.parameters(), reference.parameters())
    )
    ddp._trace = None

    # no_sync: accumulate two local micro-batches, then one synchronised backward.
    model.zero_grad()
    quarter = 16
    with ddp.no_sync():
        loss = F.cross_entropy(ddp(cr.tensor(X[lo : lo + quarter])), y[lo : lo + quarter])
        (loss * 0.5).backward()
    found["no_sync_grad_is_local"] = (
        len(set(dist.all_gather_object(_digest(p.grad.data for p in model.parameters())))) == 2
    )
    loss = F.cross_entropy(ddp(cr.tensor(X[lo + quarter : hi])), y[lo + quarter : hi])
    (loss * 0.5).backward()
    found["no_sync_accumulated_allclose"] = all(
        np.allclose(p.grad.data, q.grad.data, rtol=1e-12, atol=1e-12)
        for p, q in zip(model.parameters(), reference.parameters())
    )

    # sync_gradients: gradients set without a backward pass (as CompiledLoss does)
    for p in model.parameters():
        p.grad = np.full(p.shape, float(r + 1))
    ddp.sync_gradients()
    found["sync_gradients_mean"] = sorted(
        {float(v) for p in model.parameters() for v in np.unique(p.grad.data)}
    )

    # A parameter the model does not use: an error by default, zeros when allowed.
    class Partial(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.used = cr.nn.Linear(20, 5, dtype=np.float64, seed=0)
            self.unused = cr.nn.Linear(20, 5, dtype=np.float64, seed=1)

        def forward(self, x):
            return self.used(x)

    partial = dist.DistributedDataParallel(Partial(), find_unused_parameters=True)
    F.cross_entropy(partial(cr.tensor(X[lo:hi])), y[lo:hi]).backward()
    found["unused_grad_zero"] = bool(np.all(partial.module.unused.weight.grad.data == 0))

    # Buffers (running statistics): rank 0's at construction and again at each forward.
    class WithBuffer(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = cr.nn.Linear(20, 5, dtype=np.float64, seed=r)
            self.stat = cr.tensor(np.full(3, float(r + 1)))

        def named_buffers(self):
            yield "stat", self.stat

        def forward(self, x):
            return self.lin(x)

    wb = dist.DistributedDataParallel(WithBuffer())
    found["buffer_at_start"] = wb.module.stat.tolist()
    wb.module.stat.data[:] = 10.0 * (r + 1)
    wb(cr.tensor(X[lo:hi]))
    found["buffer_after_forward"] = wb.module.stat.tolist()

    # Models that differ between ranks are named before any training.
    try:
        dist.DistributedDataParallel(cr.nn.mlp([20, 16 + 8 * r, 5], seed=0))
    except dist.DistributedError as e:
        found["shape_mismatch"] = str(e)
    return found


def _sampler(dist) -> dict:
    s = dist.DistributedSampler(103, shuffle=True, seed=5)
    s.set_epoch(2)
    mine = s.indices().tolist()
    s.set_epoch(3)
    return {"epoch2": mine, "epoch3": s.indices().tolist(), "len": len(s)}


def suite(out: Path) -> None:
    import chainrule as cr
    import chainrule.distributed as dist

    dist.init()
    found = {"collectives": _collectives(dist, cr)}
    found["float32"] = _ddp_matches_one_process(dist, cr, np.float32)
    found["float64"] = _ddp_matches_one_process(dist, cr, np.float64)
    found["buckets"] = _buckets_and_overlap(dist, cr)
    found["sampler"] = _sampler(dist)
    found["imported_mpi4py_only_in_init"] = True
    (out / f"rank{dist.get_rank()}.json").write_text(json.dumps(found))


def raises(out: Path) -> None:
    """Rank 1 raises in the middle of training; rank 0 is left waiting in an allreduce."""
    import chainrule as cr
    import chainrule.distributed as dist

    dist.init()
    F = cr.nn.functional
    model = dist.DistributedDataParallel(cr.nn.mlp([20, 32, 5], seed=0))
    X, y = _batch(np.float32)
    for step in range(1000):
        if dist.get_rank() == 1 and step == 3:
            raise ValueError("injected failure at step 3")
        F.cross_entropy(model(cr.tensor(X)), y).backward()
    (out / "finished").write_text("rank 0 should never get here")


def cli_killed(out: Path) -> None:
    """``chainrule train --distributed`` where rank 1 is killed (SIGKILL) after 5 batches."""
    from chainrule.cli import main
    from chainrule.distributed import get_rank, training

    original = training._ShardedLoader.__iter__

    def dying(self):
        for i, batch in enumerate(original(self)):
            if get_rank() == 1 and i == 5:
                os.kill(os.getpid(), signal.SIGKILL)
            yield batch

    training._ShardedLoader.__iter__ = dying
    options = "train --distributed --dataset moons --epochs 50 --progress plain --out"
    sys.exit(main([*options.split(), str(out / "run")]))


if __name__ == "__main__":
    scenario, out_dir = sys.argv[1], Path(sys.argv[2])
    {"suite": suite, "raises": raises, "cli_killed": cli_killed}[scenario](out_dir)
