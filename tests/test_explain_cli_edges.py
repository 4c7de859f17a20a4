"""``chainrule explain`` at its edges, as a subprocess: output paths in missing folders,
numbers too large for float64, overflowing values and a reader that closes the pipe."""

from __future__ import annotations

import subprocess
import sys

import pytest

BIG = "1" + "0" * 400  # an integer no float64 can hold


def explain(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "chainrule", "explain", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def one_line_error(proc):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("chainrule explain: error: ")
    assert len(lines[0]) < 300  # long inputs are shortened, not echoed in full
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "missing/circuit.png"], "--out: folder 'missing' does not exist"),
        (["--dot", "missing/deeper/c.dot"], "--dot: folder 'missing/deeper' does not exist"),
        (["--out", "afile/circuit.svg"], "--out: 'afile' is not a folder"),
    ],
)
def test_output_in_a_missing_folder_is_one_line(tmp_path, args, message):
    (tmp_path / "afile").write_text("")
    proc = explain("(x + y) * z", "x=-2", "y=5", "z=-4", *args, cwd=tmp_path)
    assert message in one_line_error(proc)
    assert proc.stdout == ""  # checked before anything is computed or printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x * 2", f"x={BIG}"], "x: the number 1000000000"),
        (["x * 2", f"x=[1, -{BIG}]"], "is too large for a float64"),
        ([f"exp({BIG})"], "too large for a float64"),
        ([f"x * {BIG} + 1", "x=2"], "too large for a float64"),
        ([f"maximum(x, {BIG})", "x=2"], "too large for a float64"),
        (["x * 2", "x=" + "[" * 5000 + "]" * 5000], "x: not a number or a list of numbers"),
        (["x * 2", "x=" + "9" * 5000], "x: "),
    ],
)
def test_numbers_too_large_for_float64_are_one_line(args, message, capsys):
    from chainrule.cli import main

    # `main` in this process (a subprocess each costs a second); one subprocess below
    assert main(["explain", *args, "--no-code"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("chainrule explain: error: ")
    assert message in err and len(err) < 300


def test_a_number_too_large_for_float64_as_a_subprocess():
    line = one_line_error(explain(f"exp({BIG})", "--no-code"))
    assert "the number 1000000000000000000000000000000000000... is too large for a float64" in line


def test_a_huge_exponent_overflows_to_inf_quietly():
    proc = explain("x ** 99999999999", "x=2")
    assert proc.returncode == 0, proc.stderr
    assert "value: f = inf" in proc.stdout
    assert proc.stderr == ""  # no RuntimeWarning lines from NumPy


def test_a_closed_pipe_is_one_line():
    # As `chainrule explain ... | head -1`, with the reader gone before anything is written.
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "explain", "--example", "staged"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 2, err
    assert err.strip().splitlines() == [
        "chainrule explain: error: the output was closed early (broken pipe)"
    ]
