"""cr.distributed: collectives, DistributedDataParallel, the sampler, ``chainrule train
--distributed`` and faults, run as real 2-rank MPI jobs (``mpirun -n 2`` on loopback).

The MPI tests are skipped when mpi4py (the ``mpi`` extra) or ``mpirun`` is missing; the
sampler and the import checks run everywhere. The MPI programs are in
tests/test_distributed_worker.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

HERE = Path(__file__).resolve().parent
WORKER = HERE / "test_distributed_worker.py"
ROOT = HERE.parent


def _mpirun_path() -> str | None:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which("mpirun", path=path)


def _needs_mpi() -> str:
    pytest.importorskip("mpi4py")  # the package only: importing mpi4py.MPI would start MPI
    mpirun = _mpirun_path()
    if mpirun is None:
        pytest.skip("mpirun not found (pip install 'chainrule[mpi]')")
    return mpirun


def _env() -> dict:
    env = dict(os.environ)
    # two ranks on a small machine: one BLAS thread each, or they fight over the cores
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


def _mpirun(
    *apps: list[str], n: int = 2, timeout: float = 90, cwd: Path = ROOT
) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``mpirun -n n app`` (several apps: one rank each, MPMD); never hangs the suite."""
    cmd = [_needs_mpi(), "--allow-run-as-root", "--oversubscribe"]
    if len(apps) == 1:
        cmd += ["-n", str(n), *apps[0]]
    else:
        for i, app in enumerate(apps):
            cmd += ([":"] if i else []) + ["-n", "1", *app]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=cwd)
    return proc, time.perf_counter() - t0


def _chainrule(*args: str) -> list[str]:
    return [sys.executable, "-m", "chainrule", *args]


# ---------------------------------------------------------------------- no MPI needed


def test_import_chainrule_does_not_import_mpi4py():
    code = (
        "import sys, chainrule as cr\n"
        "assert 'mpi4py' not in sys.modules\n"
        "d = cr.distributed\n"  # the lazy attribute
        "s = d.DistributedSampler(10, num_replicas=2, rank=0)\n"
        "assert len(list(s)) == 5\n"
        "assert 'mpi4py' not in sys.modules, 'cr.distributed imported mpi4py before init()'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(), timeout=60)


def test_without_mpi4py_the_error_says_what_to_install():
    code = (
        "import sys\n"
        "sys.modules['mpi4py'] = None\n"  # as if not installed
        "import chainrule.distributed as d\n"
        "try:\n"
        "    d.init()\n"
        "except d.MissingMPIError as e:\n"
        "    print('ERR', e)\n"
        "from chainrule.cli import main\n"
        "sys.exit(main(['train', '--distributed', '--dataset', 'moons', '--epochs', '1']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert "ERR cr.distributed needs mpi4py" in proc.stdout
    assert "pip install 'chainrule[mpi]'" in proc.stdout
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0  # one line, no traceback
    assert "--distributed: cr.distributed needs mpi4py" in proc.stderr


@pytest.mark.parametrize("n,replicas", [(103, 2), (10, 3), (12, 4), (1, 2), (0, 2)])
def test_sampler_shards_are_disjoint_cover_and_agree(n, replicas):
    def shards(epoch, **kw):
        out = []
        for r in range(replicas):
            s = cr.distributed.DistributedSampler(n, num_replicas=replicas, rank=r, seed=7, **kw)
            s.set_epoch(epoch)
            out.append(s.indices())
        return out

    parts = shards(1)
    per = -(-n // replicas)
    assert [len(p) for p in parts] == [per] * replicas  # equally long (padded)
    everything = np.concatenate(parts)
    assert set(everything.tolist()) == set(range(n))  # together they cover the dataset
    assert len(everything) - len(set(everything.tolist())) == per * replicas - n  # pads only
    # the same seeded permutation on every rank: interleaving the shards gives it back
    order = np.random.default_rng(7 + 1).permutation(n)
    interleaved = np.stack(parts, axis=1).reshape(-1)[:n] if n else everything
    np.testing.assert_array_equal(interleaved, order)
    if n > 2:
        assert any(not np.array_equal(a, b) for a, b in zip(parts, shards(2)))  # set_epoch
    dropped = shards(1, drop_last=True)
    assert [len(p) for p in dropped] == [n // replicas] * replicas
    flat = np.concatenate(dropped).tolist()
    assert len(flat) == len(set(flat))  # drop_last: no repeats at all


def test_sampler_without_shuffle_and_bad_arguments():
    s = cr.distributed.DistributedSampler(list(range(7)), num_replicas=2, rank=1, shuffle=False)
    assert list(s) == [1, 3, 5, 0] and len(s) == 4  # padded with the first index
    with pytest.raises(ValueError, match="rank must be in 0..1"):
        cr.distributed.DistributedSampler(7, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be >= 1"):
        cr.distributed.DistributedSampler(7, num_replicas=0, rank=0)


# ---------------------------------------------------------------------- 2-rank MPI jobs


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    proc, _ = _mpirun([sys.executable, str(WORKER), "suite", str(out)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_collectives(suite):
    for r, found in enumerate(suite):
        c = found["collectives"]
        assert (c["rank"], c["size"], c["local_rank"], c["local_size"]) == (r, 2, r, 2)
        assert c["all_reduce_sum"] == [0.0, 3.0, 6.0, 9.0] and c["all_reduce_in_place"]
        assert c["all_reduce_tensor_max"] == [2.0, 2.0, 2.0]
        assert c["all_reduce_scalar_avg"] == 0.5
        assert c["all_reduce_view"] == [[3.0, 0.0, 3.0, 0.0]] * 3  # only the view changed
        assert c["broadcast_from_1"] == [11.0, 11.0]
        assert c["all_gather"] == [[0, 0], [1, 2]]
        assert c["all_gather_tensor"] == ["Tensor", "Tensor"]
        assert "rank 1 sent shape (2,)" in c["all_gather_mismatch"]
        assert "all_reduce" in c["stale_backward"]  # in place: a saved graph notices


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ddp_averaged_gradients_equal_one_process_and_ranks_stay_identical(suite, dtype):
    for found in suite:
        f = found[dtype]
        assert f["initial_equal_rank0"]  # rank 1's different initial weights were replaced
        assert f["grad_dtype"] == dtype
        # 2 ranks x 32 samples, averaged == one process's 64-sample gradient
        assert f["grad_allclose"], f["grad_max_abs_err"]
        assert f["bitwise_identical_each_step"] == [True] * 6
        assert f["train_max_abs_err"] < (1e-5 if dtype == "float32" else 1e-12)


def test_ddp_buckets_overlap_backward(suite):
    for found in suite:
        b = found["buckets"]
        assert b["bucket_names"] == [
            ["module.4.bias", "module.4.weight", "module.2.bias"],
            ["module.2.weight"],
            ["module.0.bias"],
            ["module.0.weight"],
        ]
        trace = [tuple(e) for e in b["trace"]]
        trace = trace[: trace.index(("backward returned",)) + 1]
        # The last layer's bucket was sent before the first layer's gradient existed, and
        # every bucket was sent and waited for before backward returned.
        assert trace.index(("launch", 0)) < trace.index(("grad", "0.weight"))
        assert trace.index(("launch", 1)) < trace.index(("grad", "0.weight"))
        launches = [e for e in trace if e[0] == "launch"]
        assert launches == [("launch", i) for i in range(4)]
        assert trace[-2:] == [("done", 4), ("backward returned",)]
        assert b["bucketed_grads_allclose"]


def test_ddp_no_sync_sync_gradients_unused_buffers_and_shape_mismatch(suite):
    for found in suite:
        b = found["buckets"]
        assert b["no_sync_grad_is_local"]  # inside no_sync the ranks' gradients differ
        assert b["no_sync_accumulated_allclose"]  # then one synced backward averages the sum
        assert b["sync_gradients_mean"] == [1.5]  # (1 + 2) / 2
        assert b["unused_grad_zero"]
        assert b["buffer_at_start"] == [1.0, 1.0, 1.0]  # rank 0's
        assert b["buffer_after_forward"] == [10.0, 10.0, 10.0]
        assert b["shape_mismatch"] == (
            "DistributedDataParallel: the ranks' models differ: parameter 'module.0.weight' "
            "has shape (24, 20) on rank 1 but (16, 20) on rank 0"
        )


def test_sampler_under_mpi(suite):
    shards = [found["sampler"] for found in suite]
    assert shards[0]["len"] == shards[1]["len"] == 52
    for key in ("epoch2", "epoch3"):
        a, b = shards[0][key], shards[1][key]
        assert len(set(a) | set(b)) == 103 and len(set(a) & set(b)) == 1  # one pad repeat
    assert shards[0]["epoch2"] != shards[0]["epoch3"]


def test_a_rank_that_raises_stops_the_job_naming_it(tmp_path):
    proc, seconds = _mpirun([sys.executable, str(WORKER), "raises", str(tmp_path)])
    assert proc.returncode != 0
    assert seconds < 60
    text = proc.stdout + proc.stderr
    assert "rank 1 of 2: raised ValueError: injected failure at step 3" in text
    assert not (tmp_path / "finished").exists()


def test_a_killed_rank_stops_training_with_no_outputs(tmp_path):
    proc, seconds = _mpirun([sys.executable, str(WORKER), "cli_killed", str(tmp_path)])
    assert proc.returncode != 0
    assert seconds < 60
    text = proc.stdout + proc.stderr
    assert "rank 1" in text and "signal 9" in text  # mpirun names the rank that died
    assert not (tmp_path / "run").exists()  # nothing written, not even the folder


def _train_args(out: Path, *extra: str, dataset: str = "digits") -> list[str]:
    options = f"train --distributed --dataset {dataset} --epochs 5 --no-plots --progress plain"
    return _chainrule(*options.split(), "--out", str(out), *extra)


def test_train_distributed_matches_one_process(tmp_path):
    pytest.importorskip("sklearn")
    from chainrule.train_cli import TrainConfig, train

    proc, _ = _mpirun(_train_args(tmp_path / "two"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("final: train accuracy") == 1  # rank 0 alone prints
    assert proc.stdout.count("epoch 5/5") == 1
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    one = train(
        TrainConfig(
            dataset="digits", epochs=5, plots=False, progress="none", out=str(tmp_path / "one")
        ),
        write=lambda s: None,
    )
    assert abs(two["final"]["test_acc"] - one["final"]["test_acc"]) <= 0.003
    # the same global batches: the curves agree to rounding, epoch by epoch
    for a, b in zip(one["history"], two["history"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        assert a["train_acc"] == pytest.approx(b["train_acc"], abs=2e-3)
    weights_one = cr.load(tmp_path / "one" / "model.npz")
    weights_two = cr.load(tmp_path / "two" / "model.npz")
    assert list(weights_two) == list(weights_one) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for key, value in weights_one.items():
        np.testing.assert_allclose(
            np.asarray(weights_two[key]), np.asarray(value), rtol=1e-3, atol=1e-4
        )


def test_train_distributed_names_a_model_mismatch_before_training(tmp_path):
    out = tmp_path / "run"
    proc, seconds = _mpirun(
        _train_args(out, "--hidden", "128", dataset="moons"),
        _train_args(out, "--hidden", "64", dataset="moons"),
    )
    assert proc.returncode == 2
    assert seconds < 60
    assert (
        "chainrule train: error: DistributedDataParallel: the ranks' models differ: parameter "
        "'module.0.weight' has shape (64, 2) on rank 1 but (128, 2) on rank 0"
    ) in proc.stderr
    assert "epoch" not in proc.stdout  # detected before the first epoch
    assert not out.exists()


def test_train_distributed_names_a_batch_count_mismatch_before_training(tmp_path):
    out = tmp_path / "run"
    proc, seconds = _mpirun(
        _train_args(out, "--batch-size", "64", dataset="moons"),
        _train_args(out, "--batch-size", "128", dataset="moons"),
    )
    assert proc.returncode == 2
    assert seconds < 60
    assert (
        "chainrule train: error: --distributed: rank 1 has 7 batches per epoch (800 "
        "training samples), rank 0 has 13 (800 samples)"
    ) in proc.stderr
    assert "epoch" not in proc.stdout
    assert not out.exists()


def test_the_readme_example_runs_on_two_ranks(tmp_path):
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Distributed training\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "README has no '## Distributed training' section"
    code = re.search(r"```python\n(.*?)```", section.group(1), re.S).group(1)
    script = tmp_path / "train.py"
    script.write_text(code)
    proc, _ = _mpirun([sys.executable, str(script)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "ranks: accuracy" in line]
    assert len(lines) == 1 and lines[0].startswith("2 ranks: accuracy")  # rank 0 alone
    assert float(lines[0].split()[-1]) > 0.95
    assert list(cr.load(tmp_path / "moons.npz")) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_train_distributed_with_compile_matches_one_process(tmp_path):
    # CompiledLoss sets .grad without a backward pass: the run averages them explicitly
    from chainrule.train_cli import TrainConfig, train

    options = "train --distributed --compile --dataset moons --epochs 15 --no-plots"
    proc, _ = _mpirun(_chainrule(*options.split(), "--out", str(tmp_path / "two")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    one = train(
        TrainConfig(
            dataset="moons",
            epochs=15,
            plots=False,
            progress="none",
            compile=True,
            out=str(tmp_path / "one"),
        ),
        write=lambda s: None,
    )
    assert abs(two["final"]["test_acc"] - one["final"]["test_acc"]) <= 0.003
    for a, b in zip(one["history"], two["history"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
