"""Seeing the computation: trace a function into a Graph, then draw it, explain its backward
pass as a table, and turn it into flat forward/backward NumPy code.

``cr.trace(f, *args)`` returns a :class:`Graph`; see its methods ``render``, ``to_dot``,
``explain``, ``forward_code``, ``backward_code``, ``flat_code`` and ``compile_flat``.
"""

from .graph import Graph, Step, Var, name, trace

__all__ = ["Graph", "Step", "Var", "name", "trace"]
