"""Helpers shared by the jit tests: the backends to run (numba skipped without the extra)
and one call's output and input gradients, eager or through ``cr.jit``."""

from __future__ import annotations

import importlib.util

import pytest

import chainrule as cr

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
BACKENDS = [
    "numpy",
    pytest.param("numba", marks=pytest.mark.skipif(not HAVE_NUMBA, reason="numba")),
]


def eager_grads(f, args):
    """f's output at ``args`` and the gradients of its sum, with the eager engine."""
    ts = [cr.tensor(a, requires_grad=True) for a in args]
    out = f(*ts)
    (out.sum() if out.ndim else out).backward()
    return out.numpy(), [t.grad.numpy() for t in ts]


def jit_grads(f, args, backend="numpy"):
    """The same through ``cr.jit(f, backend=backend)`` (one node of the eager graph)."""
    ts = [cr.tensor(a, requires_grad=True) for a in args]
    out = cr.jit(f, backend=backend)(*ts)
    (out.sum() if out.ndim else out).backward()
    return out.numpy(), [t.grad.numpy() for t in ts]
