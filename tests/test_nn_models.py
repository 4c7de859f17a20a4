"""``chainrule train --model``: the architectures per dataset, short training runs of each
model, the regression task (the adding problem), saved weights loading back through
``cr.load`` and ``load_state_dict``, and the CLI's one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import models
from chainrule.train_cli import TrainConfig, train


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "--progress", "none", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


@pytest.mark.parametrize(
    "model, dataset, row, outputs",
    [
        ("mlp", "moons", (2,), 2),
        ("cnn", "digits", (64,), 10),
        ("cnn", "mnist", (784,), 10),
        ("lstm", "digits", (64,), 10),
        ("lstm", "adding", (50, 2), 1),
        ("transformer", "digits", (64,), 10),
        ("transformer", "adding", (50, 2), 1),
        ("mlp", "adding", (50, 2), 1),
    ],
)
def test_each_model_maps_raw_rows_to_outputs(model, dataset, row, outputs):
    mean, std = np.zeros(row, np.float32), np.ones(row, np.float32)
    net = models.build(model, dataset, row, outputs, mean=mean, std=std, seed=0)
    x = cr.tensor(np.random.default_rng(0).random((3, *row)).astype(np.float32))
    net.eval()
    out = net(x)
    assert out.shape == (3, outputs) and out.dtype == np.float32
    net.train()
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_models_that_do_not_fit_the_data_are_refused():
    assert "needs image data" in models.check_names("cnn", "moons")
    assert "needs sequences or images" in models.check_names("lstm", "circles")
    assert models.check_names("transformer", "digits") is None
    with pytest.raises(ValueError, match="needs image data"):
        models.build("cnn", "adding", (50, 2), 1)


def test_adding_problem_targets_and_baseline():
    X, y = models.adding_problem(2000, seed=0)
    assert X.shape == (2000, 50, 2) and y.shape == (2000, 1)
    np.testing.assert_array_equal(X[:, :, 1].sum(axis=1), 2.0)
    np.testing.assert_allclose((X[:, :, 0] * X[:, :, 1]).sum(axis=1), y[:, 0], rtol=1e-6)
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.02  # the mean predictor's error


@pytest.mark.parametrize("model", ["cnn", "lstm", "transformer"])
def test_short_runs_learn_digits_and_the_weights_load_back(tmp_path, model):
    pytest.importorskip("sklearn")
    config = TrainConfig(
        dataset="digits",
        model=model,
        epochs=3,
        optimizer="adam",
        lr=3e-3,
        weight_decay=0.0,
        hidden=[32],
        out=str(tmp_path),
        plots=False,
        progress="none",
    )
    result = train(config, write=lambda s: None)
    assert result["final"]["test_acc"] > 0.6
    split = cr.data.load_dataset("digits", seed=0)
    row = split.X_train.shape[1:]
    fresh = models.build(
        model, "digits", row, 10, hidden=[32], mean=np.zeros(row), std=np.ones(row), seed=1
    )
    state = cr.load(tmp_path / "model.npz")
    assert sorted(state) == sorted(fresh.state_dict())
    fresh.load_state_dict(state)
    fresh.eval()
    with cr.no_grad():
        acc = cr.nn.functional.accuracy(fresh(split.X_test), split.y_test)
    assert acc == pytest.approx(result["final"]["test_acc"])


def test_lstm_on_the_adding_problem_reports_mean_squared_error(tmp_path):
    config = TrainConfig(
        dataset="adding",
        model="lstm",
        samples=300,
        epochs=2,
        optimizer="adam",
        lr=3e-3,
        weight_decay=0.0,
        hidden=[16],
        out=str(tmp_path),
        plots=True,
        progress="none",
    )
    lines: list[str] = []
    result = train(config, write=lines.append)
    assert set(result["final"]) >= {"train_mse", "test_mse"}
    assert "train_acc" not in result["history"][0]
    history = result["history"]
    assert history[-1]["train_mse"] < history[0]["train_mse"]  # learning, on 240 sequences
    assert any("mean squared error" in line for line in lines)
    assert "mse loss" in lines[0]
    if (tmp_path / "curves.png").exists() is False:
        pytest.importorskip("matplotlib")  # the curves are drawn whenever it is installed
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["model"] == "lstm"


def test_cli_model_option_and_task_defaults(tmp_path):
    proc = _cli(
        "--model",
        "lstm",
        "--dataset",
        "adding",
        "--samples",
        "200",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--no-plots",
        "--out",
        "a",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "adam lr 0.003" in proc.stdout  # the LSTM's defaults for options not typed
    assert "final: train mean squared error" in proc.stdout
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["config"]["weight_decay"] == 0.0
    assert metrics["config"]["samples"] == 200  # typed, so kept


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "resnet"], "--model: unknown value 'resnet'"),
        (["--model", "cnn", "--dataset", "moons"], "--model cnn needs image data"),
        (["--model", "lstm", "--dataset", "spirals"], "--model lstm needs sequences or images"),
        (["--model", "cnn", "--compile"], "--jit: only for --model mlp"),
        (["--dataset", "adding", "--loss", "svm"], "the adding task is a regression"),
        (["--dataset", "adding", "--distributed"], "the adding task is a regression"),
    ],
)
def test_cli_bad_model_options_give_one_line_and_exit_2(tmp_path, args, message):
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule train: error: ")
    assert message in lines[0]
