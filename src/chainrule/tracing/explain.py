"""The backward pass as a table: for each node the upstream gradient, the local gradient and the
downstream gradients it sends to its inputs, plus the bytes it saves for backward (memory).

``Graph.explain()`` returns an :class:`Explanation`; ``str()`` gives plain text, ``.print()``
uses ``rich`` when it is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .graph import Graph, Var

__all__ = ["Explanation", "InputRow", "Row", "explain", "expression", "fmt_number", "summarize"]


def fmt_number(x: float) -> str:
    """A number the way the lectures write it: -12, 0.7311, 2.06e-05.

    Examples
    --------
    >>> from chainrule.tracing.explain import fmt_number
    >>> fmt_number(-12.0), fmt_number(0.731058), fmt_number(2.06e-05)
    ('-12', '0.7311', '2.060e-05')
    """
    if x == 0:
        return "0"
    if not np.isfinite(x):
        return str(x)
    if 1e-3 <= abs(x) < 1e5:
        text = f"{x:.4f}".rstrip("0").rstrip(".")
        return text if text not in ("-0", "") else "0"
    return f"{x:.3e}"


def summarize(value: Any) -> str:
    """A scalar's value, or a tensor's shape with its mean and largest magnitude.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.tracing.explain import summarize
    >>> summarize(3.0), summarize(np.array([[1.0, -3.0], [2.0, 0.0]]))
    ('3', '[2x2] mean 0, max|.| 3')
    """
    if value is None:
        return "?"
    arr = np.asarray(value)
    if arr.dtype.kind == "b":
        return f"bool{list(arr.shape)}" if arr.ndim else str(bool(arr))
    if arr.size == 1 and arr.ndim == 0:
        return fmt_number(float(arr))
    if arr.size == 0:
        return f"{list(arr.shape)} empty"
    shape = "x".join(str(n) for n in arr.shape)
    mean = fmt_number(float(arr.mean()))
    return f"[{shape}] mean {mean}, max|.| {fmt_number(float(abs(arr).max()))}"


def _nbytes_text(n: int) -> str:
    if n < 10_000:
        return f"{n} B"
    if n < 10_000_000:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024**2:.1f} MiB"


@dataclass
class InputRow:
    """What one node sends to one of its inputs.

    Examples
    --------
    >>> import chainrule as cr
    >>> row = cr.trace(lambda x, y: x * y, 3.0, 4.0).explain().rows[0]
    >>> row.inputs[0]
    InputRow(name='x', local='4', downstream='4', downstream_value=array(4.))
    """

    name: str
    local: str
    downstream: str
    downstream_value: Any = None


@dataclass
class Row:
    """One node of the backward pass (in the order the backward pass visits them).

    Examples
    --------
    >>> import chainrule as cr
    >>> row = cr.trace(lambda x, y: x * y, 3.0, 4.0).explain().rows[0]
    >>> row.expression, row.value, row.upstream
    ('out = x * y', '12', '1')
    """

    step: int
    name: str
    op: str
    expression: str
    value: str
    upstream: str
    inputs: list[InputRow] = field(default_factory=list)
    saved_nbytes: int = 0
    upstream_value: Any = None


@dataclass
class Explanation:
    """The backward-pass table of a graph, with its memory report.

    Examples
    --------
    >>> import chainrule as cr
    >>> def f(x, y, z):
    ...     q = x + y
    ...     return q * z
    >>> table = cr.trace(f, -2, 5, -4).explain()
    >>> row = table["q"]
    >>> row.upstream, [(i.name, i.local, i.downstream) for i in row.inputs]
    ('-4', [('x', '1', '-4'), ('y', '1', '-4')])
    """

    title: str
    rows: list[Row]
    gradients: dict[str, str]
    total_saved: int

    COLUMNS = ("#", "node", "value", "upstream", "input", "local", "downstream", "saved")

    def __getitem__(self, name: str) -> Row:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def __len__(self) -> int:
        return len(self.rows)

    def _cells(self) -> list[list[str]]:
        lines = []
        for row in self.rows:
            first = [
                str(row.step),
                row.expression,
                row.value,
                row.upstream,
            ]
            saved = _nbytes_text(row.saved_nbytes)
            if not row.inputs:
                lines.append(first + ["", "", "", saved])
            for k, inp in enumerate(row.inputs):
                head = first if k == 0 else ["", "", "", ""]
                lines.append(head + [inp.name, inp.local, inp.downstream, saved if k == 0 else ""])
        return lines

    def __str__(self) -> str:
        cells = self._cells()
        widths = [len(c) for c in self.COLUMNS]
        for line in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, line)]
        numeric = {0, 2, 3, 5, 6, 7}

        def render(line: list[str] | tuple[str, ...]) -> str:
            parts = [
                c.rjust(w) if i in numeric else c.ljust(w)
                for i, (c, w) in enumerate(zip(line, widths))
            ]
            return "  ".join(parts).rstrip()

        out = [self.title, "(upstream gradient x local gradient = downstream gradient)", ""]
        out.append(render(self.COLUMNS))
        out.append("  ".join("-" * w for w in widths))
        out.extend(render(line) for line in cells)
        out.append("")
        grads = ", ".join(f"{k} = {v}" for k, v in self.gradients.items())
        out.append(f"gradients: {grads}")
        out.append(f"saved for backward: {_nbytes_text(self.total_saved)} in total")
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def to_rich(self) -> Any:
        """The table as a ``rich.table.Table`` (needs rich)."""
        from rich.table import Table

        table = Table(title=self.title, caption="upstream x local = downstream")
        for i, col in enumerate(self.COLUMNS):
            justify = "right" if i in (0, 2, 3, 5, 6, 7) else "left"
            style = {2: "green", 3: "red", 6: "red"}.get(i)
            table.add_column(col, justify=justify, style=style)
        for line in self._cells():
            table.add_row(*line)
        return table

    def print(self, file: Any = None) -> None:
        """Print the table, with ``rich`` when it is installed (plain text otherwise)."""
        try:
            from rich.console import Console
        except ImportError:
            print(str(self), file=file)
            return
        console = Console(file=file, highlight=False)
        console.print(self.to_rich())
        grads = ", ".join(f"{k} = {v}" for k, v in self.gradients.items())
        console.print(f"gradients: [red]{grads}[/red]")
        console.print(f"saved for backward: {_nbytes_text(self.total_saved)} in total")


def expression(var: Var, forward: dict[int, str] | None = None) -> str:
    """``q = x + y``: the node as one line of the flat forward code (``forward`` holds the
    lines the generated code writes, by node index; without it the line is made here).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.tracing.explain import expression
    >>> expression(cr.trace(lambda x: cr.sigmoid(x), 0.5).ops[0])
    'out = 1.0 / (1 + np.exp(-x))'
    """
    if forward is not None and var.index in forward:
        return forward[var.index]
    from ..ir import Eqn, Literal
    from ..ir.lower import Constants, tidy
    from ..ir.lower import expression as lowered

    args = ", ".join(v.name for v in var.inputs)
    if var.prim is None:
        return f"{var.name} = {var.op}({args})"
    eqn = Eqn(var.prim, tuple(Literal(None) for _ in var.inputs), None, dict(var.params))
    try:
        return f"{var.name} = {tidy(lowered(eqn, [v.name for v in var.inputs], Constants()))}"
    except Exception:  # a line is a courtesy; the numbers are what matter
        return f"{var.name} = {var.op}({args})"


def explain(graph: Graph) -> Explanation:
    """Build the backward-pass table of ``graph`` (running ``graph.backward()`` if needed).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.tracing.explain import explain
    >>> table = explain(cr.trace(lambda x, y: (x + y) * y, 1.0, 2.0))
    >>> [r.name for r in table.rows], table.gradients
    (['out', 'add0'], {'dx': '2', 'dy': '5'})
    """
    from .codegen import CodegenError, formulas

    if not graph.steps:
        graph.backward()
    try:
        downstream, forward = formulas(graph)
    except (CodegenError, Exception):  # a formula is a courtesy; the numbers are what matter
        downstream, forward = {}, {}
    rows = []
    for k, step in enumerate(graph.steps, start=1):
        var = step.var
        scalar = var.size == 1
        row = Row(
            step=k,
            name=var.name,
            op=var.op,
            expression=expression(var, forward),
            value=summarize(var.value),
            upstream=summarize(step.upstream),
            saved_nbytes=var.saved_nbytes,
            upstream_value=step.upstream,
        )
        for inp, local, down in step.contributions:
            if local is not None and scalar:
                local_text = fmt_number(local)
            else:
                local_text = downstream.get((var.index, inp.index), "vjp")
            row.inputs.append(InputRow(inp.name, local_text, summarize(down), down))
        rows.append(row)
    # Nodes the backward pass did not reach still save memory: count every op.
    total = sum(v.saved_nbytes for v in graph.ops)
    grads = {f"d{k}": summarize(v) for k, v in graph.grads.items()}
    title = f"backward pass of {graph.name}({', '.join(graph.inputs)})"
    return Explanation(title, rows, grads, total)
