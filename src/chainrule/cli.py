"""The ``chainrule`` command (also ``python -m chainrule``).

Subcommands are registered in ``COMMANDS``; each module adds its own parser and handler.
The CLI uses only argparse so the core stays dependency-free. Whatever goes wrong, the
user gets one line on stderr, never a traceback: bad input exits with code 2, a failure
while running (a full disk) with 1, an interrupt (Ctrl-C, SIGTERM) with 130 or 143.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from . import __version__

__all__ = ["UsageError", "build_parser", "main"]

#: name -> (help, add_arguments(parser), run(args) -> exit code)
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}

#: Environment variables that set the thread count of NumPy's BLAS (OpenBLAS, MKL, BLIS,
#: Accelerate) and OpenMP when set before Python starts.
THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


class UsageError(Exception):
    """A bad option or input: reported as one line on stderr with exit code 2.

    Examples
    --------
    >>> from chainrule.cli import main
    >>> main(['explain', 'x * 2'])  # no value for x: one line on stderr, exit code 2
    2
    """


class RunError(Exception):
    """A failure while running (a full disk, an unwritable file): one line, exit code 1."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised where the program is (like Ctrl-C's KeyboardInterrupt), so that
    ``finally`` blocks and atomic writes clean up before the command stops."""


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


# ---------------------------------------------------------------------- BLAS threads


def add_threads_argument(p: argparse.ArgumentParser) -> None:
    """``--threads N|auto``, shared by the commands that do matrix arithmetic."""
    p.add_argument(
        "--threads",
        default="auto",
        help="BLAS threads for the run: a number, or auto (default: 1 for small matrices, "
        "where extra threads only wait for each other and suffer most on a busy machine; "
        "needs threadpoolctl, pip install 'chainrule[cli]')",
    )


def parse_threads(value: object) -> int | None:
    """``--threads``: ``None`` for auto, else a thread count >= 1 (a ``UsageError``
    otherwise).

    >>> from chainrule.cli import parse_threads
    >>> parse_threads("auto"), parse_threads("4")
    (None, 4)
    """
    if value is None or str(value).strip().lower() == "auto":
        return None
    try:
        n = int(str(value))
    except ValueError:
        raise UsageError(f"--threads: expected a number or auto, got {value!r}") from None
    if n < 1:
        raise UsageError(f"--threads: must be >= 1, got {n}")
    return n


def threads_from_environment() -> bool:
    """Whether the user chose BLAS threads through the environment (then auto keeps it)."""
    return any(os.environ.get(name) for name in THREAD_VARIABLES)


#: Up to this many multiply-adds in the largest matrix product of a step, ``--threads
#: auto`` runs on one BLAS thread: more threads only wait for each other there, and on a
#: busy machine their spinning made the same ``chainrule train`` take from 3 to 29 s.
SMALL_PRODUCT = 1 << 21


def auto_threads(requested: int | None, sizes: list[int], rows: int) -> int | None:
    """The thread count for a run of an MLP with layer ``sizes`` on batches of ``rows``:
    ``requested`` if given; else 1 for small products (unless the environment sets a
    count, see ``THREAD_VARIABLES``); else ``None`` (BLAS decides).

    >>> import os
    >>> from chainrule.cli import THREAD_VARIABLES, auto_threads
    >>> chosen = any(os.environ.get(v) for v in THREAD_VARIABLES)
    >>> auto_threads(None, [64, 128, 10], 64) == (None if chosen else 1)  # the digits net
    True
    >>> auto_threads(None, [784, 512, 256, 10], 128)  # MNIST-sized: BLAS decides
    >>> auto_threads(3, [64, 128, 10], 64)
    3
    """
    if requested is not None:
        return requested
    if threads_from_environment():
        return None
    largest = max(a * b for a, b in zip(sizes[:-1], sizes[1:])) * rows
    return 1 if largest <= SMALL_PRODUCT else None


@contextlib.contextmanager
def blas_threads(n: int | None, explicit: bool = False) -> Iterator[bool]:
    """Limit NumPy's BLAS and OpenMP thread pools to ``n`` threads inside the block
    (``None``: leave them alone). Uses threadpoolctl, imported only here; without it the
    block runs unchanged (with a note on stderr when ``explicit``, the user's own
    ``--threads``). Yields whether the limit is in force.

    >>> import numpy as np
    >>> from chainrule.cli import blas_threads
    >>> with blas_threads(1):
    ...     product = np.ones((64, 64)) @ np.ones((64, 128))
    >>> product.shape
    (64, 128)
    """
    if n is None:
        yield False
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if explicit:
            print(
                f"note: --threads needs threadpoolctl (pip install 'chainrule[cli]'); "
                f"without it, set OPENBLAS_NUM_THREADS={n} (or OMP_NUM_THREADS / "
                f"MKL_NUM_THREADS) before running",
                file=sys.stderr,
            )
        yield False
        return
    with threadpool_limits(limits=n):
        yield True


# ---------------------------------------------------------------------- running


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises ``Interrupted`` (Python's default would end
    the process on the spot, leaving half-written temporary files behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Interrupted("stopped by SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


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
    name = f"chainrule {args.command}"
    try:
        with _sigterm_as_interrupt():
            code = int(run(args) or 0)
            sys.stdout.flush()  # a closed pipe shows up here, not in the interpreter's exit
            return code
    except UsageError as e:
        print(f"{name}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of stdout went away (`chainrule explain ... | head`). Point stdout at
        # /dev/null so the final flush at exit cannot raise again.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        print(f"{name}: error: the output was closed early (broken pipe)", file=sys.stderr)
        return 2
    except (RunError, OSError) as e:
        print(f"{name}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        terminated = isinstance(e, Interrupted)
        what = _one_line(e) or ("stopped by SIGTERM" if terminated else "interrupted (Ctrl-C)")
        print(f"{name}: {what}", file=sys.stderr)
        return 143 if terminated else 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
