"""The three ways to differentiate: the staged example's numbers pinned (values, errors, costs,
the lecture's long formula), the symbolic rules checked against autodiff and central
differences, the printed formulas read back, the h U-curve, expression swell (symbolic grows
faster than linear, autodiff linearly) and `chainrule explain --three-ways`."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.tracing.examples import staged
from chainrule.tracing.expr import parse
from chainrule.tracing.three_ways import (
    Expr,
    SymbolicError,
    derivative,
    expression,
    swell,
    three_ways,
)

#: The lecture's ∂f/∂x of the staged sigmoid example, in Python syntax.
LECTURE_DFDX = (
    "1 / (1 / (exp(-x) + 1) + (x + y)**2) - (x + 1 / (exp(-y) + 1)) * "
    "(exp(-x) / (exp(-x) + 1)**2 + 2 * (x + y)) / (1 / (exp(-x) + 1) + (x + y)**2)**2"
)


def _exact_staged(x=3.0, y=-4.0):
    s = lambda t: 1 / (1 + math.exp(-t))  # noqa: E731
    num, den = x + s(y), s(x) + (x + y) ** 2
    dden_dx = s(x) * (1 - s(x)) + 2 * (x + y)
    dden_dy = 2 * (x + y)
    dx = 1 / den - num * dden_dx / den**2
    dy = s(y) * (1 - s(y)) / den - num * dden_dy / den**2
    return dx, dy


def test_staged_example_three_ways_pinned():
    table = three_ways(staged, 3, -4)
    dx, dy = _exact_staged()
    assert float(table.value) == pytest.approx(1.5456448841066441, rel=1e-15)
    assert float(table.exact["x"]) == pytest.approx(dx, rel=1e-14)
    assert float(table.exact["y"]) == pytest.approx(dy, rel=1e-14)
    assert round(dx, 4) == 2.0596 and round(dy, 4) == 1.5922
    fwd, cen = table["numerical (forward"], table["numerical (central"]
    sym, auto = table["symbolic"], table["automatic"]
    # errors: forward ~ h (truncation), central ~ h^2 + rounding, symbolic and autodiff exact
    assert 1e-7 < fwd.error < 1e-5
    assert 1e-11 < cen.error < 1e-8
    assert sym.error < 1e-14 and auto.error < 1e-14
    # costs in operations: f has 8 ops; 1 + 2 and 2 * 2 evaluations of it
    assert table.forward_ops == 8
    assert (fwd.ops, cen.ops) == (24, 32)
    assert sym.ops == 34 + 33  # the two written-out derivatives, evaluated as written
    assert auto.ops == 23  # the graph cr.grad(f) builds, forward and backward
    assert auto.ops < sym.ops
    # memory: differences keep one perturbed copy; symbolic a few stack slots; autodiff
    # what the forward pass saves for the backward pass plus the gradients
    assert fwd.memory == cen.memory == 32
    assert sym.memory == 32
    assert auto.memory == cr.trace(staged, 3, -4).memory_report()["total"] + 16
    # the symbolic derivative is the lecture's long formula
    assert str(table.symbolic["x"]) == LECTURE_DFDX
    assert (table.symbolic["x"].size, table.symbolic["y"].size) == (59, 57)
    text = str(table)
    assert LECTURE_DFDX in text and "df/dx" in text and "cost (ops)" in text


def test_the_expression_of_the_staged_example_writes_sigmoid_out():
    e = expression(cr.trace(staged, 3, -4))
    # num * (1 / den) is written num / den, the lecture's f
    assert str(e) == "(x + 1 / (exp(-y) + 1)) / (1 / (exp(-x) + 1) + (x + y)**2)"
    assert e.variables() == ["x", "y"]
    assert float(e.evaluate({"x": 3, "y": -4})) == pytest.approx(1.5456448841066441)


CASES = [
    ("x * sin(x) + cos(x * y)", {"x": 0.7, "y": -1.3}),
    ("exp(x) / (1 + x**2) - log(y)", {"x": 0.4, "y": 2.5}),
    ("tanh(x - y) * sqrt(x)", {"x": 1.7, "y": 0.2}),
    ("x ** y", {"x": 1.6, "y": 2.3}),
    ("sigmoid(x * y) - x / y / (x - y)", {"x": 0.5, "y": -2.0}),
    ("abs(x - 3 * y) + relu(x) - relu(-y)", {"x": 1.25, "y": 0.5}),
    ("-(x - y) ** 2 - (-x) ** 3 + 2 ** x", {"x": 0.3, "y": 1.1}),
    ("square(x) - (x - (y - x)) / (x / (y * x))", {"x": 1.2, "y": 0.9}),
]


@pytest.mark.parametrize("source, point", CASES)
def test_symbolic_rules_agree_with_autodiff_and_print_back_exactly(source, point):
    f = parse(source).function()
    g = cr.trace(f, **point)
    auto = g.backward()
    e = expression(g)
    for name in point:
        d = derivative(e, name)
        value = float(d.evaluate(point))
        assert value == pytest.approx(float(auto[name]), rel=1e-10, abs=1e-12)
        # the printed formula, parsed again by the expression parser, has the same value
        if "sign" not in str(d) and "step" not in str(d):
            again = parse(str(d)).evaluate({k: cr.tensor(v) for k, v in point.items()})
            assert float(again.item()) == pytest.approx(value, rel=1e-12, abs=1e-14)
    assert float(e.evaluate(point)) == pytest.approx(float(g.value), rel=1e-14)


def test_symbolic_trees_count_every_copy():
    x = Expr.var("x")
    q = x + 1
    e = q * q  # one object used twice, but the tree on paper has it twice
    assert e.size == 7 and e.n_ops == 3 and e.distinct == 4
    assert str(derivative(e, "x")) == "x + 1 + (x + 1)"
    assert str(derivative(x**3, "x")) == "3 * x**2"
    assert str(derivative(Expr.const(2.0) * x, "y")) == "0"
    with pytest.raises(SymbolicError, match="shape"):
        expression(cr.trace(lambda v: (v * v).sum(), np.ones(3)))
    with pytest.raises(SymbolicError, match="no rule for the operation 'maximum'"):
        expression(cr.trace(lambda a, b: cr.maximum(a, b), 1.0, 2.0))


def test_tensors_and_closures_still_get_numerical_and_automatic_rows():
    W = cr.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)  # noqa: N806

    def f(x):
        return cr.tanh(x @ W).sum()

    table = three_ways(f, np.array([0.3, -0.7]))
    auto = table["automatic"]
    assert table["symbolic"].error is None and "shape" in table["symbolic"].note
    assert auto.error is None  # autodiff is the reference when no formula exists
    assert table["numerical (central"].error < 1e-9
    assert table["numerical (forward"].ops == 3 * table.forward_ops  # 1 + 2 elements
    expected = (1 - np.tanh(np.array([0.3, -0.7]) @ W.data) ** 2) @ W.data.T
    np.testing.assert_allclose(auto.gradient["x"], expected, rtol=1e-12)
    assert "reference" in str(table)


def test_three_ways_is_public_and_checks_its_input():
    assert cr.three_ways is three_ways
    with pytest.raises(ValueError, match="must return one number"):
        cr.three_ways(lambda x: x * 2, np.ones(3))
    with pytest.raises(ValueError, match="step h"):
        cr.three_ways(lambda x: x * 2, 1.0, h=0)


def test_error_against_h_is_a_u_curve_with_the_lecture_h_marked(tmp_path):
    table = three_ways(staged, 3, -4)
    hs, fwd, cen = table.errors_vs_h()
    k = int(np.argmin(np.abs(np.log10(hs) + 6)))
    assert hs[k] == pytest.approx(1e-6)
    assert fwd[k] == pytest.approx(table["numerical (forward"].error, rel=1e-9)
    # rounding dominates at tiny h, truncation at large h; the bottom is far below both ends
    for err in (fwd, cen):
        bottom = err.min()
        assert err[0] > 1e4 * bottom and err[-1] > 1e4 * bottom
    assert 1e-9 <= hs[np.argmin(fwd)] <= 1e-6  # forward: best h ~ sqrt(eps)
    assert 1e-7 <= hs[np.argmin(cen)] <= 1e-3  # central: best h ~ eps^(1/3)
    assert cen.min() < fwd.min() / 10
    pytest.importorskip("matplotlib")
    from render_support import problems

    fig = table.figure()
    ax = fig.axes[0]
    assert any("1e-6" in t.get_text() for t in ax.get_legend().get_texts())
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert problems(fig) == []
    assert table.plot(tmp_path / "h.png") == str(tmp_path / "h.png")


@pytest.mark.parametrize(
    "f, name, first",
    [
        (lambda x: 4 * x * (1 - x), "logistic map", [9, 41, 129, 353]),
        (lambda x: cr.sin(x), "sin", [2, 6, 11, 17]),
        (lambda x: cr.sigmoid(x), "sigmoid", [11, 35, 71, 119]),
    ],
)
def test_expression_swell_symbolic_faster_than_linear_autodiff_linear(f, name, first):
    table = swell(f, 0.3, levels=10, name=name)
    sym = np.array([r.derivative_size for r in table.rows])
    auto = np.array([r.autodiff_ops for r in table.rows])
    assert [r.n for r in table.rows] == list(range(1, 11))
    assert list(sym[:4]) == first
    # autodiff: the same number of operations per level (linear in n)
    assert len(set(np.diff(auto))) == 1 and np.diff(auto)[0] > 0
    # symbolic: the increments themselves grow (faster than linear), ending far above
    assert np.all(np.diff(sym, 2) > 0)
    assert sym[-1] > 2 * auto[-1]
    # sharing equal subexpressions (what autodiff's graph does) makes it linear again
    shared = np.array([r.derivative_distinct for r in table.rows])
    assert np.all(np.diff(shared, 2) == 0)
    assert "autodiff graph (ops)" in str(table)


def test_swell_needs_one_variable_and_plots(tmp_path):
    with pytest.raises(ValueError, match="one variable"):
        swell(lambda x, y: x * y, 1.0)
    pytest.importorskip("matplotlib")
    from render_support import problems

    table = swell(lambda x: 4 * x * (1 - x), 0.3, levels=6)
    fig = table.figure()
    assert fig.axes[0].get_yscale() == "log" and problems(fig) == []
    assert table.plot(tmp_path / "s.png") == str(tmp_path / "s.png")


def test_cli_three_ways_prints_the_table_and_the_lecture_formula(tmp_path, capsys):
    pytest.importorskip("matplotlib")  # --out writes a plot
    out = tmp_path / "h.png"
    code = main(
        [
            "explain",
            "--three-ways",
            "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)",
            "x=3",
            "y=-4",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert LECTURE_DFDX in text
    for method in ("numerical (forward, h=1e-06)", "numerical (central", "symbolic", "automatic"):
        assert method in text
    assert "2.0596" in text and "1.5922" in text and "cost (ops)" in text
    assert out.exists() and out.stat().st_size > 1000
    assert main(["explain", "--three-ways", "--example", "staged", "--h", "1e-4"]) == 0
    assert "h=0.0001" in capsys.readouterr().out


def test_cli_swell_prints_ten_levels_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")  # --out writes a plot
    out = tmp_path / "swell.png"
    assert (
        main(["explain", "--three-ways", "--swell", "4 * x * (1 - x)", "x=0.3", "--out", str(out)])
        == 0
    )
    text = capsys.readouterr().out
    rows = [line.split() for line in text.splitlines() if line.strip()[:2].strip().isdigit()]
    assert [int(r[0]) for r in rows] == list(range(1, 11))
    assert rows[-1][2] == "59,393" and rows[-1][4] == "79"
    assert out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["explain", "--swell", "x * y", "x=1", "y=2"], "one-variable"),
        (["explain", "--three-ways", "x * 2", "x=[1, 2]"], "must return one number"),
        (["explain", "--three-ways", "--swell", "sin(x)", "x=1", "--levels", "0"], "between 1"),
        (["explain", "--three-ways", "x * 2", "x=1", "--h", "tiny"], "--h: not a number"),
        (["explain", "--three-ways", "x * 2", "x=1", "--h", "2"], "step h"),
        (["explain", "--three-ways", "--example", "staged-grad"], "no example 'staged-grad'"),
        (["explain", "--three-ways"], "give an expression"),
    ],
)
def test_cli_three_ways_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chainrule explain: error:") and message in err and "\n" not in err
