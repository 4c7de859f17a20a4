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

# Registers the `chainrule explain` command; nothing here is meant to be imported.
__all__: list[str] = []

HELP = "explain an expression's backward pass: values, gradients, table, flat code, picture"

EPILOG = """examples:
  chainrule explain "(x + y) * z" x=-2 y=5 z=-4
  chainrule explain "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)" x=3 y=-4 --out f.png
  chainrule explain "q = x + y; f = q * z" x=-2 y=5 z=-4
  chainrule explain --example staged
  chainrule explain --example list
  chainrule explain --three-ways "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)" x=3 y=-4
  chainrule explain --three-ways --swell "4 * x * (1 - x)" x=0.3 --out swell.png
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
    parser.add_argument(
        "--three-ways",
        action="store_true",
        help="differentiate numerically, symbolically and automatically and compare "
        "(--out: the numerical error against the step h)",
    )
    parser.add_argument(
        "--swell",
        action="store_true",
        help="with --three-ways: nest a one-variable expression n = 1..LEVELS times and "
        "compare the symbolic derivative's size with autodiff's graph (--out: plot it)",
    )
    parser.add_argument(
        "--levels", default="10", metavar="N", help="nesting levels for --swell (default 10)"
    )
    parser.add_argument(
        "--h", default="1e-6", metavar="STEP", help="finite-difference step for --three-ways"
    )


def _graph_from_expression(args: argparse.Namespace) -> Any:
    from .expr import ExpressionError
    from .graph import trace

    program, ordered = _program_and_values(args)
    try:
        return trace(program.function(), **ordered)
    except ExpressionError as e:
        raise UsageError(str(e)) from None
    except (ValueError, TypeError, OverflowError) as e:
        raise UsageError(f"cannot evaluate the expression: {e}") from None


def _program_and_values(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The parsed expression and its variables' values, in order of first use."""
    from .expr import ExpressionError, parse, parse_value

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
    return program, {k: values[k] for k in program.variables}


def _run_three_ways(args: argparse.Namespace) -> int:
    """``--three-ways`` (and ``--swell``): the lecture's table, or expression swell."""
    from .examples import EXAMPLES
    from .expr import ExpressionError
    from .three_ways import SymbolicError, _three_ways, swell

    try:
        h = float(args.h)
    except ValueError:
        raise UsageError(f"--h: not a number: {args.h!r}") from None
    try:
        levels = int(args.levels)
    except ValueError:
        raise UsageError(f"--levels: not an integer: {args.levels!r}") from None
    if not 1 <= levels <= 30:
        raise UsageError(f"--levels must be between 1 and 30, got {levels}")
    if args.example:
        if args.expression:
            raise UsageError("give either an expression or --example, not both")
        if args.example not in EXAMPLES or EXAMPLES[args.example].gradient_graph:
            usable = [k for k, e in EXAMPLES.items() if not e.gradient_graph]
            raise UsageError(f"--three-ways: no example {args.example!r}; use {', '.join(usable)}")
        ex = EXAMPLES[args.example]
        function, call_args, call_kwargs = ex.function, ex.args, {}
        label = ex.title
        variables = list(ex.function.__code__.co_varnames[: len(ex.args)])
    elif args.expression:
        program, values = _program_and_values(args)
        function, call_args, call_kwargs = program.function(), (), values
        label = args.expression
        variables = list(values)
    else:
        raise UsageError('give an expression (e.g. "(x + y) * z" x=-2 y=5 z=-4) or --example')
    try:
        if args.swell:
            if len(variables) != 1:
                raise UsageError(
                    f"--swell nests a one-variable expression; this one has {len(variables)} "
                    f"({', '.join(variables)})"
                )
            name = variables[0]
            start = call_args[0] if call_args else call_kwargs[name]

            def one(t: Any) -> Any:
                return function(t) if call_args else function(**{name: t})

            result: Any = swell(one, start, levels=levels, name=label)
        else:
            result = _three_ways(function, call_args, call_kwargs, h)
    except (ExpressionError, SymbolicError) as e:
        raise UsageError(str(e)) from None
    except (ValueError, TypeError, OverflowError) as e:
        raise UsageError(f"cannot differentiate the expression: {e}") from None
    print(result)
    if args.out:
        try:
            path = result.plot(args.out)
        except ImportError:
            raise UsageError("--out needs matplotlib: pip install 'chainrule[viz]'") from None
        except ValueError as e:
            raise UsageError(f"cannot write {args.out}: {e}") from None
        print(f"\nplot written to {path}")
    return 0


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

    if args.swell and not args.three_ways:
        args.three_ways = True  # --swell is one of the three ways' views
    if args.three_ways:
        return _run_three_ways(args)
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
