"""``chainrule attack`` / ``visualize`` on damaged inputs: malformed metrics.json or
model.npz files, junk weights and contradictory options are one line and exit code 2.

The tables of cases run the CLI's ``main`` in this process (one subprocess each would
cost a second of start-up); each kind of damage is also run once as a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.serialization import load_metadata


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    from chainrule.train_cli import TrainConfig, train

    out = tmp_path_factory.mktemp("moons-run")
    config = TrainConfig(
        dataset="moons", samples=200, hidden=[8], epochs=3, plots=False, progress="none"
    )
    config.out = str(out)
    train(config, write=lambda s: None)
    return out


def chainrule(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def one_line_error(proc, command):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"chainrule {command}: error: ")
    return lines[0]


def in_process(capsys, *args):
    """``main(args)`` here, as a CompletedProcess-like result."""
    from chainrule.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def _legacy_copy(run, tmp_path, metrics_text):
    """The run's weights without their settings inside (as older versions wrote them),
    beside a metrics.json holding ``metrics_text``."""
    cr.save(cr.load(run / "model.npz"), tmp_path / "model.npz")
    (tmp_path / "metrics.json").write_text(metrics_text)
    return tmp_path / "model.npz"


_METRICS_CASES = [
    ("{not json", "cannot read '"),
    ("[1, 2]", "metrics.json' is malformed: its settings are not a JSON object"),
    ('{"config": []}', "metrics.json' is malformed: its settings are not a JSON object"),
    ('{"config": {"seed": "x"}}', "metrics.json' is malformed: seed is 'x', expected an"),
    ('{"config": {"seed": true}}', "malformed: seed is True"),
    ('{"config": {"test_size": 5}}', "malformed: test_size is 5, expected a number between"),
    ('{"config": {"samples": 1e30}}', "malformed: samples is 1e+30"),
    ('{"config": {"activation": 3}}', "malformed: activation is 3, expected an activation"),
    ('{"config": {"activation": "swish"}}', "malformed: activation is 'swish'"),
    ('{"config": {"dataset": ["moons"]}}', "malformed: dataset is ['moons']"),
    ('{"config": {"dataset": "moons", "noise": "high"}}', "malformed: noise is 'high'"),
    ('{"config": {"dataset": "moons", "sizes": [2, 3, 2]}}', "layer sizes [2, 3, 2] but"),
    ("[" * 100_000 + "]" * 100_000, "cannot read '"),
]


@pytest.mark.parametrize(
    ("command", "text", "message"),
    # both commands read the settings the same way: alternate them to halve the runs
    [("attack" if i % 2 else "visualize", *case) for i, case in enumerate(_METRICS_CASES)],
)
def test_malformed_metrics_json_is_one_line(moons_run, tmp_path, capsys, command, text, message):
    weights = _legacy_copy(moons_run, tmp_path, text)
    assert load_metadata(weights) == {}
    proc = in_process(capsys, command, "--weights", weights, "--no-plot")
    assert message in one_line_error(proc, command)


def test_malformed_metrics_json_as_a_subprocess(moons_run, tmp_path):
    weights = _legacy_copy(moons_run, tmp_path, '{"config": {"seed": "x"}}')
    line = one_line_error(chainrule("visualize", "--weights", weights), "visualize")
    assert "metrics.json' is malformed: seed is 'x', expected an integer >= 0" in line


def test_legacy_weights_use_the_metrics_beside_them(moons_run, tmp_path):
    weights = _legacy_copy(moons_run, tmp_path, (moons_run / "metrics.json").read_text())
    proc = chainrule(
        "attack", "--weights", weights, "--no-plot", "--method", "fgsm", "--threads", "1"
    )
    assert proc.returncode == 0, proc.stderr
    assert "moons test set (40 samples), MLP 2-8-2 (relu)" in proc.stdout


def _bad_state(kind):
    w0, b0 = np.ones((8, 2), np.float32), np.zeros(8, np.float32)
    w2, b2 = np.ones((2, 8), np.float32), np.zeros(2, np.float32)
    return {
        "list": [w0, b0],
        "empty": {},
        "int keys": {0: w0, 1: b0},
        "text value": {"0.weight": "text", "0.bias": b0},
        "3-d weight": {"0.weight": np.ones((8, 2, 1), np.float32), "0.bias": b0},
        "wrong bias": {"0.weight": w0, "0.bias": np.zeros(3, np.float32)},
        "int weights": {"0.weight": w0.astype(int), "0.bias": b0.astype(int)},
        "mixed dtypes": {
            "0.weight": w0,
            "0.bias": b0,
            "2.weight": w2.astype(np.float64),
            "2.bias": b2.astype(np.float64),
        },
        "gap": {
            "0.weight": w0,
            "0.bias": b0,
            "2.weight": np.ones((2, 5), np.float32),
            "2.bias": b2,
        },
        "odd key": {"0.weight": w0, "0.bias": b0, "optimizer": 1},
    }[kind]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("list", "does not hold a state dict"),
        ("empty", "does not hold a state dict"),
        ("int keys", "unexpected entry 0"),
        ("text value", "layer 0 does not hold arrays"),
        ("3-d weight", "layer 0 is not a Linear layer (weight shape (8, 2, 1)"),
        ("wrong bias", "bias shape (3,)"),
        ("int weights", "layer 0 has dtype int64/int64"),
        ("mixed dtypes", "layer 2 has dtype float64/float64"),
        ("gap", "layer 2 takes 5 inputs but the layer before gives 8"),
        ("odd key", "unexpected entry 'optimizer'"),
    ],
)
def test_malformed_model_npz_is_one_line(tmp_path, capsys, kind, message):
    path = tmp_path / "model.npz"
    cr.save(_bad_state(kind), path, metadata={"config": {"dataset": "moons"}})
    line = one_line_error(in_process(capsys, "attack", "--weights", path, "--no-plot"), "attack")
    assert message in line


def test_malformed_model_npz_as_a_subprocess(tmp_path):
    path = tmp_path / "model.npz"
    cr.save(_bad_state("wrong bias"), path, metadata={"config": {"dataset": "moons"}})
    line = one_line_error(chainrule("attack", "--weights", path), "attack")
    assert "layer 0 is not a Linear layer (weight shape (8, 2), bias shape (3,))" in line


@pytest.mark.parametrize(
    "meta",
    [
        {"config": "moons"},
        {"config": {"dataset": "moons", "seed": -1}},
        {"config": {"dataset": "moons", "test_size": 0}},
    ],
)
def test_malformed_settings_inside_model_npz_are_one_line(moons_run, tmp_path, capsys, meta):
    path = tmp_path / "model.npz"
    cr.save(cr.load(moons_run / "model.npz"), path, metadata=meta)
    proc = in_process(capsys, "visualize", "--weights", path, "--no-plot")
    assert "model.npz' is malformed: " in one_line_error(proc, "visualize")


def test_junk_weights_are_not_a_chainrule_weights_file(tmp_path):
    junk = tmp_path / "model.npz"
    junk.write_bytes(b"\x80\x04\x95junk bytes that NumPy would take for a pickle")
    line = one_line_error(chainrule("attack", "--weights", junk), "attack")
    assert "model.npz' is not a chainrule weights file" in line
    assert "pickle" not in line


def test_unit_needs_layer_and_class_excludes_layer(moons_run, capsys):
    weights = moons_run / "model.npz"
    line = one_line_error(chainrule("visualize", "--weights", weights, "--unit", "0"), "visualize")
    assert "--unit: needs --layer" in line
    proc = in_process(capsys, "visualize", "--weights", weights, "--layer", "1", "--class", "0")
    assert "--class: not with --layer" in one_line_error(proc, "visualize")
    # Without --unit, the first 8 units of the layer.
    proc = in_process(
        capsys, "visualize", "--weights", weights, "--layer", "1", "--no-plot", "--steps", "5"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("unit of layer 1") == 8
