"""The backward-pass table, the expression parser's allow-list, and `chainrule explain`."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.tracing.examples import EXAMPLES
from chainrule.tracing.expr import ExpressionError, parse, parse_value


def circuit(x, y, z):
    q = x + y
    f = q * z
    return f


def test_table_of_the_first_lecture_circuit():
    table = cr.trace(circuit, -2, 5, -4).explain()
    assert [r.name for r in table.rows] == ["f", "q"]  # the backward pass visits f, then q
    f, q = table["f"], table["q"]
    assert (f.value, f.upstream) == ("-12", "1")
    assert [(i.name, i.local, i.downstream) for i in f.inputs] == [
        ("q", "-4", "-4"),
        ("z", "3", "3"),
    ]
    assert (q.value, q.upstream) == ("3", "-4")
    assert [(i.name, i.local, i.downstream) for i in q.inputs] == [
        ("x", "1", "-4"),
        ("y", "1", "-4"),
    ]
    assert table.gradients == {"dx": "-4", "dy": "-4", "dz": "3"}
    # memory: mul keeps both float64 inputs (16 bytes), add keeps nothing
    assert (f.saved_nbytes, q.saved_nbytes, table.total_saved) == (16, 0, 16)
    text = str(table)
    assert "upstream" in text and "downstream" in text and "16 B in total" in text
    assert "f = q * z" in text and "q = x + y" in text


def test_table_of_the_staged_example_has_the_lecture_numbers():
    x, y = 3, -4
    sigy = 1.0 / (1 + math.exp(-y))
    sigx = 1.0 / (1 + math.exp(-x))
    num, den = x + sigy, sigx + (x + y) ** 2
    invden = 1.0 / den
    table = EXAMPLES["staged"].trace().explain()
    row = table["invden"]  # invden = 1.0 / den: upstream num, local -1/den**2
    assert float(row.upstream) == pytest.approx(num, rel=1e-4)
    assert float(row.inputs[0].local) == pytest.approx(-1.0 / den**2, rel=1e-3)
    assert float(row.inputs[0].downstream_value) == pytest.approx(-num / den**2, rel=1e-12)
    assert float(table["f"].inputs[0].downstream_value) == pytest.approx(invden, rel=1e-12)
    assert [r.name for r in table.rows] == [
        "f",
        "invden",
        "den",
        "xpysqr",
        "xpy",
        "sigx",
        "num",
        "sigy",
    ]


def test_table_for_tensors_shows_shapes_and_formulas():
    g = cr.trace(lambda W, x: cr.tanh(x @ W).sum(), cr.randn(3, 2, seed=1), cr.randn(4, 3, seed=2))
    table = g.explain()
    matmul = next(r for r in table.rows if r.op == "matmul")
    assert matmul.value.startswith("[4x2]")
    assert {i.local for i in matmul.inputs} == {"dmatmul0 @ W.T", "x.T @ dmatmul0"}
    assert table.total_saved == sum(v.saved_nbytes for v in g.ops) > 0


def test_table_prints_with_rich_and_without(capsys, monkeypatch):
    table = cr.trace(circuit, -2, 5, -4).explain()
    table.print()
    out = capsys.readouterr().out
    assert "upstream" in out and "-12" in out
    import builtins

    real_import = builtins.__import__

    def no_rich(name, *args, **kwargs):
        if name.startswith("rich"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rich)
    table.print()
    assert str(table) in capsys.readouterr().out


@pytest.mark.parametrize(
    "source, message",
    [
        ("__import__('os')", "'__import__' is not allowed"),
        ("__import__('os').system('ls')", "attribute access"),
        ("x.__class__", "attribute access"),
        ("(lambda: x)()", "only allowed functions"),
        ("lambda: 1", "lambda is not allowed"),
        ("[t for t in x]", "comprehensions are not allowed"),
        ("{t: 1 for t in x}", "comprehensions are not allowed"),
        ("x[0]", "indexing"),
        ("open('/etc/passwd')", "'open' is not allowed"),
        ("eval('1')", "'eval' is not allowed"),
        ("_secret + x", "starting with '_'"),
        ("import os", "import is not allowed"),
        ("'text' * x", "only numbers"),
        ("x if y else z", "not allowed"),
        ("x < y", "comparisons"),
        ("sigmoid", "is a function"),
        ("sum(x, dtype=int)", "keyword 'dtype' is not allowed"),
        ("x +", "invalid syntax"),
        ("", "empty"),
        ("x" + " + x" * 2000, "longer than"),
    ],
)
def test_the_parser_rejects_unsafe_input(source, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse(source)


def test_the_parser_accepts_the_lecture_expressions_and_names_like_the_lecture():
    program = parse("(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)")
    assert program.variables == ["x", "y"]
    g = cr.trace(program.function(), x=3.0, y=-4.0)
    assert [v.name for v in g.ops] == ["sigy", "num", "sigx", "xpy", "xpysqr", "den", "f"]
    assert float(g.value) == pytest.approx(1.5456448841066441)
    g2 = cr.trace(parse("q = x + y; f = q * z").function(), x=-2.0, y=5.0, z=-4.0)
    assert [v.name for v in g2.ops] == ["q", "f"]
    assert parse_value("[1, -2.5]").tolist() == [1.0, -2.5]
    with pytest.raises(ExpressionError):
        parse_value("__import__('os')")
    with pytest.raises(ExpressionError, match="cannot compute"):
        cr.trace(parse("9.0 ** 9 ** 9 * x").function(), x=1.0)


def test_cli_first_lecture_example(capsys):
    assert main(["explain", "(x + y) * z", "x=-2", "y=5", "z=-4"]) == 0
    text = capsys.readouterr().out
    assert "value: f = -12" in text
    assert "df/dx = -4, df/dy = -4, df/dz = 3" in text
    assert "f = xpy * z" in text and "upstream" in text
    assert "def f_and_grad(x, y, z):" in text and "dz = df * xpy" in text


def test_cli_first_lecture_example_with_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "f.png"
    assert main(["explain", "(x + y) * z", "x=-2", "y=5", "z=-4", "--out", str(out)]) == 0
    assert "picture written to" in capsys.readouterr().out
    assert out.exists() and out.stat().st_size > 1000


def test_cli_staged_example_with_svg(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "staged.svg"
    code = main(
        [
            "explain",
            "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)",
            "x=3",
            "y=-4",
            "--out",
            str(out),
            "--dot",
            str(tmp_path / "staged.dot"),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "value: f = 1.5456" in text and "df/dx = 2.0596, df/dy = 1.5922" in text
    for line in [
        "dx += dsigx * (1 - sigx) * sigx",
        "dx += dnum",
        "dy += dsigy * (1 - sigy) * sigy",
    ]:
        assert line in text
    assert ET.parse(out).getroot().tag.endswith("svg")
    assert (tmp_path / "staged.dot").read_text().startswith("digraph")


def test_cli_examples_by_name(capsys):
    assert main(["explain", "--example", "list"]) == 0
    assert set(EXAMPLES) <= set(capsys.readouterr().out.split())
    assert main(["explain", "--example", "staged"]) == 0
    text = capsys.readouterr().out
    assert "invden = 1.0 / den" in text and "dden = -dinvden / den**2" in text
    assert main(["explain", "--example", "neuron", "--prefix", "grad_", "--no-code"]) == 0
    assert "dL/dw0 = -0.1966" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["explain", "__import__('os')", "x=1"], "not allowed"),
        (["explain", "(x + y) * z", "x=-2", "y=5"], "no value for z"),
        (["explain", "x * 2", "x=1", "y=2"], "y given but not used"),
        (["explain", "x * 2", "x=abc"], "not a number"),
        (["explain", "x * 2", "x"], "NAME=VALUE"),
        (["explain", "--example", "nope"], "no example 'nope'"),
        (["explain"], "give an expression"),
    ],
)
def test_cli_usage_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chainrule explain: error:") and message in err
    assert "\n" not in err
