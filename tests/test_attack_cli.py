"""``chainrule attack`` and ``chainrule visualize`` as subprocesses on the default digits
model: exit codes, printed accuracies and scores, PNGs that decode, one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from attacks_support import default_digits_model


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    pytest.importorskip("sklearn")  # the default model trains on scikit-learn's digits
    return default_digits_model(tmp_path_factory.getbasetemp())


def chainrule(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def decode_png(path):
    image = pytest.importorskip("matplotlib.image").imread(path)
    assert image.ndim == 3 and min(image.shape[:2]) > 100
    return image


def test_attack_prints_clean_and_adversarial_accuracy_and_writes_the_grid(run_dir, tmp_path):
    proc = chainrule(
        "attack", "--weights", run_dir / "model.npz", "--eps", "0.1", "--out", tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    acc = {
        name: float(v)
        for name, v in re.findall(r"^(clean|FGSM|PGD)\s+accuracy\s+([\d.]+)%", out, re.M)
    }
    assert set(acc) == {"clean", "FGSM", "PGD"}
    assert acc["clean"] > 95 and acc["FGSM"] < 50 and acc["PGD"] < 10
    assert "eps 0.1 of the pixel range [0, 1] = 0.1" in out
    sizes = [float(s) for s in re.findall(r"largest max \|delta\| ([\d.e-]+)", out)]
    assert sizes and all(s <= 0.1 + 1e-9 for s in sizes)
    decode_png(tmp_path / "attack.png")


def test_targeted_l2_attack_reports_the_hit_rate(run_dir, tmp_path):
    proc = chainrule(
        "attack",
        "--weights",
        run_dir / "model.npz",
        "--eps",
        "1.5",
        "--norm",
        "2",
        "--method",
        "pgd",
        "--target",
        "3",
        "--limit",
        "100",
        "--steps",
        "20",
        "--no-plot",
    )
    assert proc.returncode == 0, proc.stderr
    hit = float(re.search(r"predicted as class 3: ([\d.]+)%", proc.stdout).group(1))
    assert hit > 90
    assert not (tmp_path / "attack.png").exists()


def test_visualize_class_3_beats_every_training_example(run_dir, tmp_path):
    proc = chainrule(
        "visualize", "--weights", run_dir / "model.npz", "--class", "3", "--out", tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    score, best = map(
        float,
        re.search(
            r"class 3: score\s+([\d.-]+)\s+best training example\s+([\d.-]+)", proc.stdout
        ).groups(),
    )
    assert score > 1.5 * best
    decode_png(tmp_path / "visualize.png")


def test_visualize_every_class_and_hidden_units(run_dir, tmp_path):
    proc = chainrule(
        "visualize", "--weights", run_dir / "model.npz", "--out", tmp_path, "--steps", "100"
    )
    assert proc.returncode == 0, proc.stderr
    rows = re.findall(
        r"class (\d): score\s+([\d.-]+)\s+best training example\s+([\d.-]+)", proc.stdout
    )
    assert [int(r[0]) for r in rows] == list(range(10))
    assert all(float(s) > float(b) for _, s, b in rows)
    decode_png(tmp_path / "visualize.png")
    proc = chainrule(
        "visualize",
        "--weights",
        run_dir / "model.npz",
        "--layer",
        "1",
        "--unit",
        "0,1,2",
        "--no-plot",
        "--steps",
        "50",
    )
    assert proc.returncode == 0, proc.stderr
    rows = re.findall(r"score\s+([\d.-]+)\s+best training example\s+([\d.-]+)", proc.stdout)
    assert len(rows) == 3 and all(float(s) > float(b) for s, b in rows)


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("attack", ["--weights", "{dir}/missing.npz"], "--weights: no such file"),
        ("attack", [], "--weights: required"),
        ("attack", ["--weights", "{model}", "--eps", "-0.1"], "--eps: must be >= 0, got -0.1"),
        ("attack", ["--weights", "{model}", "--eps", "ten"], "--eps: expected a number"),
        ("attack", ["--weights", "{model}", "--norm", "1"], "--norm: unknown value '1'"),
        (
            "attack",
            ["--weights", "{model}", "--target", "10"],
            "--target: 10 is out of range for a model with 10 classes (0..9)",
        ),
        ("attack", ["--weights", "{dir}/metrics.json"], "--weights: "),
        (
            "visualize",
            ["--weights", "{model}", "--class", "10"],
            "--class: 10 is out of range for a model with 10 classes (0..9)",
        ),
        ("visualize", ["--weights", "{model}", "--class", "-1"], "--class: -1 is out of range"),
        ("visualize", ["--weights", "{model}", "--layer", "9"], "--layer: 9 is out of range"),
        ("visualize", ["--weights", "{dir}/missing.npz"], "--weights: no such file"),
    ],
)
def test_bad_inputs_give_one_line_errors_with_exit_code_2(
    request, tmp_path, command, args, message
):
    # Only the cases that read the trained model need it (and scikit-learn).
    needs_model = any("{model}" in a or "metrics.json" in a for a in args)
    run_dir = request.getfixturevalue("run_dir") if needs_model else tmp_path
    args = [a.format(dir=run_dir, model=run_dir / "model.npz") for a in args]
    proc = chainrule(command, *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"chainrule {command}: error: ")
    assert message in lines[0]
    assert "Traceback" not in proc.stderr
