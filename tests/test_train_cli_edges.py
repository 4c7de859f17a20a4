"""``chainrule train`` at its edges, run as a subprocess: --jit (--compile) reaches the run, the
weights describe their own architecture, interrupts and a full disk give one line,
and bad sizes, splits and output folders are refused before any training."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.serialization import load_metadata

SMALL = ["--dataset", "moons", "--samples", "200", "--no-plots", "--progress", "plain"]


def chainrule(*args, cwd, timeout=120, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        **kwargs,
    )


def one_line(proc, command="train"):
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"chainrule {command}: ")
    return lines[0]


@pytest.mark.parametrize("flag", ["--jit", "--compile"])  # --compile: the older name
def test_jit_flag_reaches_the_run(tmp_path, flag):
    proc = chainrule("train", *SMALL, "--epochs", "3", flag, "--out", "c", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "jitted steps (cr.jit via CompiledLoss)" in proc.stdout
    metrics = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert metrics["config"]["compile"] is True
    assert load_metadata(tmp_path / "c" / "model.npz")["config"]["compile"] is True


def test_the_weights_carry_their_architecture_so_stale_metrics_cannot_mislead(tmp_path):
    # A run killed between writing model.npz and metrics.json leaves new weights beside
    # an older run's metrics: attack must still rebuild the model the weights belong to.
    for name, act in (("old", "relu"), ("new", "tanh")):
        proc = chainrule(
            "train", *SMALL, "--epochs", "5", "--activation", act, "--out", name, cwd=tmp_path
        )
        assert proc.returncode == 0, proc.stderr
    new = json.loads((tmp_path / "new" / "metrics.json").read_text())
    shutil.copy(tmp_path / "old" / "metrics.json", tmp_path / "new" / "metrics.json")
    proc = chainrule(
        "attack", "--weights", "new/model.npz", "--method", "fgsm", "--no-plot", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "MLP 2-128-2 (tanh)" in proc.stdout
    clean = float(proc.stdout.split("clean")[1].split("accuracy")[1].split("%")[0])
    assert clean == pytest.approx(100 * new["final"]["test_acc"], abs=0.01)


def test_metrics_json_is_replaced_atomically(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("old\n")
    os.link(out / "metrics.json", tmp_path / "other-name")  # a second name of the old file
    proc = chainrule("train", *SMALL, "--epochs", "2", "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # Written in place, the other name would show the new text; renamed over, it keeps
    # the old file (and a reader never sees half a file).
    assert (tmp_path / "other-name").read_text() == "old\n"
    assert json.loads((out / "metrics.json").read_text())["config"]["epochs"] == 2
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize(
    ("sig", "code", "why"),
    [(signal.SIGINT, 130, "interrupted (Ctrl-C)"), (signal.SIGTERM, 143, "stopped by SIGTERM")],
)
def test_signals_stop_training_with_one_line_and_no_temporary_files(tmp_path, sig, code, why):
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", *SMALL, "--epochs", "100000", "--out", "r"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        for line in proc.stdout:
            if line.startswith("epoch"):
                break
        time.sleep(0.2)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"chainrule train: {why} at epoch ")
    assert lines[0].endswith("of 100000; nothing was saved")
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").iterdir())


def test_sigterm_while_saving_leaves_the_old_files_and_no_temporary(tmp_path, monkeypatch, capsys):
    from chainrule.cli import main

    out = tmp_path / "r"
    args = ["train", *SMALL, "--epochs", "2", "--out", str(out)]
    assert main(args) == 0
    before = (out / "model.npz").read_bytes()
    real_savez = np.savez

    def savez_then_sigterm(f, **arrays):
        real_savez(f, **arrays)  # half way: the temporary file is written, not renamed
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(np, "savez", savez_then_sigterm)
    capsys.readouterr()
    assert main(args) == 143
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["chainrule train: stopped by SIGTERM while writing the files; nothing was saved"]
    assert (out / "model.npz").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.npz"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def _file_size_limit(limit):
    def limit_writes():
        # Files may not grow past `limit` bytes; writes beyond fail with EFBIG, as a full
        # disk fails with ENOSPC (SIGXFSZ ignored, so the process is not killed).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_writes


def test_a_full_disk_is_one_line_and_exit_code_1(tmp_path):
    proc = chainrule(
        "train",
        *SMALL,
        "--epochs",
        "2",
        "--out",
        "full",
        cwd=tmp_path,
        preexec_fn=_file_size_limit(1000),
    )
    assert proc.returncode == 1, proc.stderr
    line = one_line(proc)
    assert line.startswith("chainrule train: error: cannot write '")
    assert "File too large" in line
    assert not [p for p in (tmp_path / "full").iterdir() if p.name.startswith(".tmp-")]


def test_no_space_left_is_one_line_and_exit_code_1(tmp_path, monkeypatch, capsys):
    from chainrule.cli import main

    def no_space(f, **arrays):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", no_space)
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("model.npz': No space left on device")
    assert err[0].startswith("chainrule train: error: cannot write '")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--test-size", "0.999"], "--test-size 0.999 leaves no training samples (of 200)"),
        (["--test-size", "0.001"], "--test-size 0.001 leaves no test samples (of 200)"),
        (["--samples", "1e9"], "--samples: expected an integer, got '1e9'"),
        (["--samples", "1000000000"], "--samples: must be between 10 and 10,000,000"),
        (["--hidden", "1e8"], "--hidden: '1e8' is not a positive integer"),
        (["--hidden", "100000000"], "--hidden: 100000000 is too large"),
        (["--hidden", "0"], "--hidden: '0' is not a positive integer"),
        (["--hidden", ""], "--hidden: no sizes given"),
        (["--hidden", "64,,32"], "--hidden: '64,,32' has an empty size between commas"),
        (["--hidden", "200000,200000"], "parameters, more than the 50,000,000"),
        (["--threads", "0"], "--threads: must be >= 1, got 0"),
        (["--threads", "two"], "--threads: expected a number or auto, got 'two'"),
    ],
)
def test_bad_sizes_and_splits_are_refused_before_training(
    tmp_path, monkeypatch, capsys, args, message
):
    from chainrule.cli import main

    monkeypatch.chdir(tmp_path)  # `main` in this process: a subprocess each costs a second
    assert main(["train", *SMALL, "--epochs", "1", *args]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("chainrule train: error: ") and message in err
    assert "epoch" not in out and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--test-size", "0.999"], "--test-size 0.999 leaves no training samples (of 200)"),
        (["--hidden", "64,,32"], "--hidden: '64,,32' has an empty size between commas"),
    ],
)
def test_bad_sizes_as_a_subprocess(tmp_path, args, message):
    proc = chainrule("train", *SMALL, "--epochs", "1", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in one_line(proc)
    assert "epoch" not in proc.stdout and not (tmp_path / "runs").exists()


def test_an_unwritable_out_is_refused_before_training(tmp_path):
    (tmp_path / "afile").write_text("")
    proc = chainrule("train", *SMALL, "--out", "afile/run", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--out: cannot create 'afile/run': 'afile' is not a folder" in one_line(proc)
    assert "epoch" not in proc.stdout
    if sys.platform.startswith("linux"):  # /proc refuses new files, even to root
        proc = chainrule("train", *SMALL, "--out", "/proc/chainrule-run", cwd=tmp_path)
        assert proc.returncode == 2
        assert "--out: cannot write to '/proc'" in one_line(proc)
        assert "epoch" not in proc.stdout
    if os.geteuid() != 0:  # permissions do not stop root
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        proc = chainrule("train", *SMALL, "--out", "locked/run", cwd=tmp_path)
        assert proc.returncode == 2 and "--out: cannot write to" in one_line(proc)


def test_threads_option_limits_blas_for_the_run(tmp_path):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from chainrule.train_cli import TrainConfig, train

    seen = []
    real = cr.nn.functional.cross_entropy

    def spy(*args, **kwargs):
        if not seen:
            seen.append([i["num_threads"] for i in threadpoolctl.threadpool_info()])
        return real(*args, **kwargs)

    cr.nn.functional.cross_entropy, saved = spy, real
    try:
        base = dict(dataset="moons", samples=100, epochs=1, plots=False, progress="none")
        train(TrainConfig(**base, out=str(tmp_path / "a"), threads=1), write=lambda s: None)
    finally:
        cr.nn.functional.cross_entropy = saved
    assert seen and all(n == 1 for n in seen[0])
    proc = chainrule("train", *SMALL, "--epochs", "1", "--threads", "2", "--out", "t", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "t" / "metrics.json").read_text())["config"]["threads"] == 2


def test_threads_without_threadpoolctl_say_what_to_set(tmp_path, monkeypatch, capsys):
    from chainrule.cli import main

    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # as if not installed
    args = ["train", *SMALL, "--epochs", "1", "--out", str(tmp_path / "r")]
    assert main([*args, "--threads", "2"]) == 0
    err = capsys.readouterr().err
    assert "--threads needs threadpoolctl" in err and "OPENBLAS_NUM_THREADS=2" in err
    assert main(args) == 0  # auto: silent without it
    assert capsys.readouterr().err == ""
