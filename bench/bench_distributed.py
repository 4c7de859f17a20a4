"""Data-parallel scaling: training throughput at 1 and 2 MPI ranks and what the gradient
allreduce costs per step, for the MNIST-sized MLP (784-512-256-10) and the digits MLP.

Run: python bench/bench_distributed.py  (needs chainrule[mpi]; it starts ``mpirun -n 1``
and ``mpirun -n 2`` of itself, alternating, and prints the medians side by side). The global
batch is the same at every rank count (each of N ranks computes batch/N), one BLAS thread
per rank, so 2 ranks use the machine's 2 cores. Per configuration it reports:

- step: one DDP training step (forward, backward with the bucketed allreduces, SGD);
- compute: the same step inside ``no_sync()`` (no communication at all);
- allreduce/step: step - compute, what communication adds to a step;
- raw allreduce: one blocking MPI Allreduce of all the gradients (the wire cost alone).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODELS = {
    "mnist-mlp 784-512-256-10": ((784, 512, 256, 10), 256),
    "digits-mlp 64-128-10": ((64, 128, 10), 64),
}
BUCKETS_MB = (25.0, 0.5)  # PyTorch's default; small enough to overlap with backward here
ROUNDS = 3  # alternating 1-rank and 2-rank runs
NUMBER = {"mnist-mlp 784-512-256-10": 10, "digits-mlp 64-128-10": 200}  # calls per sample


def worker(out: Path) -> None:
    import chainrule as cr
    import chainrule.distributed as dist

    dist.init()
    rank, size = dist.get_rank(), dist.get_world_size()
    F = cr.nn.functional
    results = {}
    for label, (sizes, batch) in MODELS.items():
        local = batch // size
        rng = np.random.default_rng(rank)
        X = cr.tensor(rng.standard_normal((local, sizes[0])).astype(np.float32))
        y = rng.integers(0, sizes[-1], size=local)
        fns = {}
        row: dict[str, float] = {}
        for cap in BUCKETS_MB:
            model = cr.nn.mlp(list(sizes), seed=0)
            ddp = dist.DistributedDataParallel(model, bucket_cap_mb=cap)
            opt = cr.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

            def step(ddp=ddp, opt=opt, X=X, y=y) -> None:
                opt.zero_grad()
                F.cross_entropy(ddp(X), y).backward()
                opt.step()

            def local_step(ddp=ddp, step=step) -> None:
                with ddp.no_sync():
                    step()

            fns[f"step_{cap:g}MB"] = step
            row[f"buckets_{cap:g}MB"] = len(ddp.bucket_names)
            if cap == BUCKETS_MB[0]:
                fns["compute"] = local_step
        grads = np.ones(sum(p.size for p in model.parameters()), dtype=np.float32)
        fns["raw_allreduce"] = lambda grads=grads: dist.all_reduce(grads)
        row["grad_bytes"] = grads.nbytes
        row.update(_interleaved(fns, dist, number=NUMBER[label]))
        results[label] = row
    if rank == 0:
        (out / f"n{size}.json").write_text(json.dumps(results))


def _interleaved(fns: dict, dist, number: int, repeats: int = 7) -> dict[str, float]:
    """Median seconds per call of each function, timed in alternation (A B C A B C ...)
    by every rank in step; the slowest rank's median, the one a synchronous job waits for."""
    for fn in fns.values():
        for _ in range(3):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            dist.barrier()
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
    med = np.array([statistics.median(samples[name]) for name in fns])
    dist.all_reduce(med, op="max")
    return dict(zip(fns, med.tolist()))


def main() -> None:
    mpirun = shutil.which(
        "mpirun", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if mpirun is None:
        sys.exit("bench_distributed: mpirun not found (pip install 'chainrule[mpi]')")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    runs: dict[int, list[dict]] = {1: [], 2: []}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(ROUNDS):
            for n in (1, 2):
                cmd = [
                    mpirun,
                    "--allow-run-as-root",
                    "--oversubscribe",
                    "-n",
                    str(n),
                    sys.executable,
                    __file__,
                    "--worker",
                    tmp,
                ]
                subprocess.run(cmd, check=True, env=env)
                runs[n].append(json.loads((Path(tmp) / f"n{n}.json").read_text()))
    print(
        f"bench_distributed: medians of {ROUNDS} alternating runs, one BLAS thread per rank, "
        f"{os.cpu_count()} cores, loopback (shared memory); load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    for label, (_sizes, batch) in MODELS.items():
        med = {
            n: {k: statistics.median(r[label][k] for r in runs[n]) for k in runs[n][0][label]}
            for n in runs
        }
        mb = med[1]["grad_bytes"] / 1e6
        print(f"\n{label}, global batch {batch}, gradients {mb:.2f} MB float32")
        print(
            f"{'ranks':<7}{'step':>10}{'samples/s':>12}{'speedup':>9}{'compute':>10}"
            f"{'allreduce/step':>16}{'raw allreduce':>15}{'small buckets':>15}"
        )
        base = batch / med[1]["step_25MB"]
        for n in (1, 2):
            m = med[n]
            rate = batch / m["step_25MB"]
            comm = m["step_25MB"] - m["compute"]
            small = f"{m['step_0.5MB'] * 1e3:.2f} ms/{int(m['buckets_0.5MB'])}"
            print(
                f"{n:<7}{m['step_25MB'] * 1e3:>8.2f}ms{rate:>12,.0f}{rate / base:>8.2f}x"
                f"{m['compute'] * 1e3:>8.2f}ms{comm * 1e3:>14.2f}ms"
                f"{m['raw_allreduce'] * 1e3:>13.3f}ms{small:>15}"
            )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]))
    else:
        main()
