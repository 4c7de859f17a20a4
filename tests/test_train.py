"""End to end: small training runs that must reach stated accuracies, and the
``chainrule train`` command run as a subprocess (exit codes, files, PNGs, errors)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.train_cli import TrainConfig, train

F = cr.nn.functional


def _fit(model, X, y, opt, loss_fn=F.cross_entropy, epochs=30, batch=32, seed=0):
    loader = cr.data.DataLoader((X, y), batch_size=batch, shuffle=True, seed=seed)
    for _ in range(epochs):
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with cr.no_grad():
        return F.accuracy(model(cr.tensor(X)), y)


def test_two_layer_net_learns_spirals():
    # A linear classifier cannot separate three spiral arms (the lectures' point)...
    X, y = cr.data.spirals(300, noise=0.1, seed=0)
    linear = cr.nn.mlp([2, 3], seed=0)
    acc_linear = _fit(linear, X, y, cr.optim.SGD(linear.parameters(), lr=0.1, momentum=0.9))
    assert acc_linear < 0.7
    # ...a two-layer network can.
    net = cr.nn.mlp([2, 64, 3], seed=0)
    acc = _fit(net, X, y, cr.optim.Adam(net.parameters(), lr=0.02), epochs=60)
    assert acc >= 0.95


def test_linear_svm_separates_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    y = rng.integers(0, 3, 300)
    X = (centers[y] + rng.normal(0, 0.5, (300, 2))).astype(np.float32)
    model = cr.nn.Linear(2, 3, seed=0)
    opt = cr.optim.SGD(model.parameters(), lr=0.05, weight_decay=1e-3)
    assert _fit(model, X, y, opt, loss_fn=F.svm_loss, epochs=20) >= 0.97


def test_train_function_on_moons_writes_metrics_and_weights(tmp_path):
    lines = []
    result = train(
        TrainConfig(
            dataset="moons",
            samples=400,
            epochs=40,
            out=str(tmp_path),
            plots=False,
            progress="plain",
        ),
        write=lines.append,
    )
    assert result["final"]["test_acc"] >= 0.97
    assert len(result["history"]) == 40
    assert result["history"][-1]["loss"] < result["history"][0]["loss"]
    assert any(line.startswith("epoch  1/40") for line in lines)
    assert any("final: train accuracy" in line for line in lines)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["final"]["test_acc"] == result["final"]["test_acc"]
    assert saved["config"]["sizes"] == [2, 128, 2]
    # model.npz takes raw (unstandardised) features: the scaling is folded into layer 0.
    split = cr.data.load_dataset("moons", n_samples=400, seed=0)
    model = cr.nn.mlp([2, 128, 2], seed=123)
    model.load_state_dict(cr.load(tmp_path / "model.npz"))
    with cr.no_grad():
        acc = F.accuracy(model(cr.tensor(split.X_test)), split.y_test)
    assert acc == pytest.approx(result["final"]["test_acc"])


def test_train_linear_classifier_with_svm_loss_and_adam(tmp_path):
    result = train(
        TrainConfig(
            dataset="circles",
            samples=300,
            hidden=[],
            loss="svm",
            optimizer="adam",
            epochs=5,
            out=str(tmp_path),
            plots=False,
            progress="none",
        ),
        write=lambda s: None,
    )
    # Circles are not linearly separable: a linear classifier stays near chance.
    assert result["final"]["test_acc"] < 0.8
    assert result["config"]["sizes"] == [2, 2]


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "chainrule", "train", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_cli_trains_and_writes_files(tmp_path):
    plt_image = pytest.importorskip("matplotlib.image")
    proc = _cli(
        "--dataset", "moons", "--samples", "300", "--epochs", "15", "--out", "run", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "final: train accuracy" in proc.stdout and "test accuracy" in proc.stdout
    out = tmp_path / "run"
    assert {p.name for p in out.iterdir()} == {
        "model.npz",
        "metrics.json",
        "curves.png",
        "boundary.png",
    }
    for png in ("curves.png", "boundary.png"):
        image = plt_image.imread(out / png)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0.01  # not a blank canvas
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["final"]["test_acc"] >= 0.9
    assert len(metrics["history"]) == 15
    assert sorted(cr.load(out / "model.npz")) == ["0.bias", "0.weight", "2.bias", "2.weight"]


def test_cli_digits_linear_classifier(tmp_path):
    pytest.importorskip("sklearn")
    proc = _cli("--hidden", "none", "--epochs", "10", "--no-plots", "--out", "d", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert metrics["config"]["sizes"] == [64, 10]
    assert metrics["final"]["test_acc"] >= 0.9


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "0"], "--lr: must be > 0, got 0.0"),
        (["--lr", "abc"], "--lr: expected a number, got 'abc'"),
        (["--dataset", "cifar"], "--dataset: unknown value 'cifar'"),
        (["--hidden", "64,x"], "--hidden: 'x' is not a positive integer"),
        (["--hidden", "0,5"], "--hidden: '0' is not a positive integer"),
        (["--momentum", "1.5"], "--momentum: must be in [0, 1)"),
        (["--batch-size", "0"], "--batch-size: must be >= 1"),
        (["--optimizer", "rmsprop"], "--optimizer: unknown value 'rmsprop'"),
        (["--dataset", "mnist"], "needs --data-dir"),
        (["--dataset", "mnist", "--data-dir", "nowhere"], "data folder 'nowhere' does not exist"),
    ],
)
def test_cli_bad_options_give_one_line_and_exit_2(tmp_path, args, message):
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule train: error: ")
    assert message in lines[0]
    assert "Traceback" not in proc.stderr and not (tmp_path / "runs").exists()


def test_cli_mnist_from_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 16)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = (rng.random((n, 28, 28)) * 50).astype(np.uint8)
        images[np.arange(n), labels * 2, :] = 255  # a learnable stripe per class
        cr.data.write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", images)
        cr.data.write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels)
    proc = _cli(
        "--dataset",
        "mnist",
        "--data-dir",
        str(tmp_path),
        "--hidden",
        "32",
        "--epochs",
        "15",
        "--no-plots",
        "--out",
        "m",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["final"]["train_acc"] == 1.0 and metrics["final"]["test_acc"] >= 0.9
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x08\x03" + bytes(10))
    proc = _cli("--dataset", "mnist", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "bad magic number" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_optional_extras_degrade_gracefully(tmp_path, monkeypatch, capsys):
    from chainrule.cli import main

    # As if not installed: block the packages and any submodule already imported.
    for name in list(sys.modules):
        if name.split(".")[0] in ("sklearn", "matplotlib", "rich"):
            monkeypatch.setitem(sys.modules, name, None)
    for name in ("sklearn", "matplotlib", "rich"):
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["train", "--out", str(tmp_path / "d")]) == 2
    assert "the 'digits' dataset needs scikit-learn" in capsys.readouterr().err
    args = ["train", "--dataset", "moons", "--samples", "100", "--epochs", "2"]
    assert main([*args, "--out", str(tmp_path / "m")]) == 0
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"model.npz", "metrics.json"}
    assert main([*args, "--progress", "rich", "--out", str(tmp_path / "r")]) == 2
    assert "rich is not installed" in capsys.readouterr().err
