"""The program representation: a computation as a flat list of primitive equations.

``trace_program(f, *args)`` runs ``f`` once and records every primitive it applies
(comparisons included, so the program is right at every input); the gradient of a program
is a program too (the VJP rules, recorded while traced). Pictures, flat code, ``explain``
and compiled code are views of it; ``lower`` turns it into Python source.
"""

from .program import (
    VALUE_SHAPED,
    Eqn,
    LengthChanged,
    Literal,
    Program,
    Var,
    evaluate,
    run_on_tensors,
)
from .trace import Tracer, trace_program

__all__ = [
    "VALUE_SHAPED",
    "Eqn",
    "LengthChanged",
    "Literal",
    "Program",
    "Tracer",
    "Var",
    "evaluate",
    "run_on_tensors",
    "trace_program",
]
