"""The ``chainrule`` command (also ``python -m chainrule``).

Subcommands are registered in ``COMMANDS``; each module adds its own parser and handler.
The CLI uses only argparse so the core stays dependency-free.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from . import __version__

__all__ = ["UsageError", "build_parser", "main"]

#: name -> (help, add_arguments(parser), run(args) -> exit code)
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}


class UsageError(Exception):
    """A bad option or input: reported as one line on stderr with exit code 2.

    Examples
    --------
    >>> from chainrule.cli import main
    >>> main(['explain', 'x * 2'])  # no value for x: one line on stderr, exit code 2
    2
    """


def build_parser() -> argparse.ArgumentParser:
    """The ``chainrule`` argument parser (its subcommands register themselves).

    Examples
    --------
    >>> from chainrule.cli import build_parser
    >>> build_parser().prog
    'chainrule'
    """
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="chainrule: automatic differentiation you can see.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_args, _run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
    return parser


def _load_commands() -> None:
    # Each optional command module registers itself; a missing one is simply absent.
    import importlib

    for module in ("chainrule.train_cli", "chainrule.tracing.cli", "chainrule.attacks_cli"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module and not module.startswith(str(e.name)):
                raise


def main(argv: list[str] | None = None) -> int:
    """Run the ``chainrule`` command line with ``argv`` (default: ``sys.argv[1:]``); returns
    the exit code (0, or 2 after a one-line error on stderr).

    Examples
    --------
    >>> from chainrule.cli import main
    >>> main(['explain', 'x * y', 'x=3', 'y=4', '--no-code'])  # doctest: +ELLIPSIS
    value: f = 12   (at x=3, y=4)
    gradients: df/dx = 4, df/dy = 3
    ...
    0
    """
    _load_commands()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    _help, _add, run = COMMANDS[args.command]
    try:
        return int(run(args) or 0)
    except UsageError as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
