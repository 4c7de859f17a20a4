"""``chainrule explain``: value, gradients, backward-pass table and flat code of an expression
(parsed safely, never eval'd) or of a lecture example, and its circuit picture (``--out``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..cli import COMMANDS, UsageError

HELP = "explain an expression's backward pass: values, gradients, table, flat code, picture"

EPILOG = """examples:
  chainrule explain "(x + y) * z" x=-2 y=5 z=-4
  chainrule explain "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)" x=3 y=-4 --out f.png
  chainrule explain "q = x + y; f = q * z" x=-2 y=5 z=-4
  chainrule explain --example staged
  chainrule explain --example list
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "expression",
        nargs="?",
        help="an expression in x, y, ... (operators + - * / ** @, functions such as sigmoid)",
    )
    parser.add_argument("values", nargs="*", metavar="NAME=VALUE", help="input values")
    parser.add_argument(
        "--example", metavar="NAME", help="run one of the lectures' examples ('list' names them)"
    )
    parser.add_argument("--out", metavar="PATH", help="write the circuit picture (.png or .svg)")
    parser.add_argument("--dot", metavar="PATH", help="also write Graphviz DOT text")
    parser.add_argument(
        "--prefix", default="d", help="prefix of gradient names in the code (d or grad_)"
    )
    parser.add_argument("--no-code", action="store_true", help="do not print the flat code")


def _graph_from_expression(args: argparse.Namespace) -> Any:
    from .expr import ExpressionError, parse, parse_value
    from .graph import trace

    try:
        program = parse(args.expression)
    except ExpressionError as e:
        raise UsageError(f"bad expression: {e}") from None
    values: dict[str, Any] = {}
    for item in args.values:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise UsageError(f"values are given as NAME=VALUE, got {item!r}")
        try:
            values[name] = parse_value(text)
        except ExpressionError as e:
            raise UsageError(f"{name}: {e}") from None
    missing = [v for v in program.variables if v not in values]
    if missing:
        raise UsageError(
            f"no value for {', '.join(missing)} (give it as {missing[0]}=NUMBER after the "
            f"expression)"
        )
    extra = [k for k in values if k not in program.variables]
    if extra:
        raise UsageError(f"{', '.join(extra)} given but not used in the expression")
    ordered = {k: values[k] for k in program.variables}
    try:
        return trace(program.function(), **ordered)
    except ExpressionError as e:
        raise UsageError(str(e)) from None
    except (ValueError, TypeError, OverflowError) as e:
        raise UsageError(f"cannot evaluate the expression: {e}") from None


def _check_output(option: str, path: str | None) -> None:
    """An output file's folder must exist: checked before anything is computed."""
    if path is None:
        return
    folder = Path(path).parent
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UsageError(f"{option}: '{probe}' is not a folder, so '{path}' cannot be written")
    if not folder.is_dir():
        raise UsageError(f"{option}: folder '{folder}' does not exist (for '{path}')")


def run(args: argparse.Namespace) -> int:
    _check_output("--out", args.out)
    _check_output("--dot", args.dot)
    # Overflow to inf (x ** 99999999999) is shown as inf; NumPy's RuntimeWarnings would
    # only add lines to stderr.
    with np.errstate(all="ignore"):
        return _explain(args)


def _explain(args: argparse.Namespace) -> int:
    from .examples import EXAMPLES
    from .explain import summarize

    if args.example:
        if args.expression:
            raise UsageError("give either an expression or --example, not both")
        if args.example == "list":
            for ex in EXAMPLES.values():
                print(f"{ex.name:12s} {ex.title}")
            return 0
        if args.example not in EXAMPLES:
            raise UsageError(f"no example {args.example!r}; examples: {', '.join(EXAMPLES)}")
        ex = EXAMPLES[args.example]
        graph = ex.trace()
        print(ex.title)
    elif args.expression:
        graph = _graph_from_expression(args)
    else:
        raise UsageError('give an expression (e.g. "(x + y) * z" x=-2 y=5 z=-4) or --example')
    if args.prefix not in ("d", "grad_"):
        raise UsageError(f"--prefix must be d or grad_, got {args.prefix!r}")

    grads = graph.backward()
    inputs = ", ".join(f"{k}={summarize(v.value)}" for k, v in graph.inputs.items())
    outs = ", ".join(f"{o.name} = {summarize(o.value)}" for o in graph.outputs)
    print(f"value: {outs}   (at {inputs})")
    out_name = graph.outputs[0].name if len(graph.outputs) == 1 else "out"
    print("gradients: " + ", ".join(f"d{out_name}/d{k} = {summarize(v)}" for k, v in grads.items()))
    print()
    table = graph.explain()
    if sys.stdout.isatty():
        table.print()
    else:
        print(table)
    if not args.no_code:
        from .codegen import CodegenError

        print()
        print("flat code (forward pass, then the backward pass: the forward pass reversed):")
        print()
        try:
            print(graph.flat_code(prefix=args.prefix), end="")
        except CodegenError as e:
            print(f"(no flat code: {e})")
    if args.out:
        try:
            path = graph.render(args.out)
        except ImportError as e:
            raise UsageError(str(e)) from None
        except ValueError as e:  # an unknown image format
            raise UsageError(f"cannot write {args.out}: {e}") from None
        except OSError as e:
            raise UsageError(f"--out: cannot write '{args.out}': {e.strerror or e}") from None
        print(f"\npicture written to {path}")
    if args.dot:
        try:
            with open(args.dot, "w", encoding="utf-8") as fh:
                fh.write(graph.to_dot())
        except OSError as e:
            raise UsageError(f"--dot: cannot write '{args.dot}': {e.strerror or e}") from None
        print(f"DOT written to {args.dot}")
    return 0


COMMANDS["explain"] = (HELP, add_arguments, run)
