"""Undoing broadcasting: the one place where a gradient is summed back to an input's shape.

The engine calls ``sum_to_shape`` on arrays; recorded passes use the ``sum_to`` primitive,
whose implementation is this same function; generated code asks ``reduced_axes`` which
axes to sum, so all three agree.
"""

from __future__ import annotations

from typing import Any

from .backend import reduce_sum

__all__ = ["reduced_axes", "sum_to_shape"]


def reduced_axes(from_shape: tuple, to_shape: tuple) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(leading axes to sum away, kept axes of length 1 to sum with keepdims) that take an
    array of ``from_shape`` back to ``to_shape``; ValueError if it cannot be.

    >>> reduced_axes((4, 2, 3), (2, 1))
    ((0,), (1,))
    """
    lead = len(from_shape) - len(to_shape)
    if lead < 0:
        raise ValueError(f"shape {from_shape} has fewer axes than {to_shape}")
    kept = []
    for i, n in enumerate(to_shape):
        m = from_shape[lead + i]
        if n == m:
            continue
        if n != 1:
            raise ValueError(f"shape {from_shape} does not broadcast from {to_shape}")
        kept.append(i)
    return tuple(range(lead)), tuple(kept)


def sum_to_shape(g: Any, shape: tuple, what: str = "gradient") -> Any:
    """Sum an array ``g`` (a broadcast gradient) back to ``shape``.

    >>> import numpy as np
    >>> sum_to_shape(np.ones((2, 3)), (3,))
    array([2., 2., 2.])
    """
    gshape = g.shape
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise RuntimeError(f"internal: {what} has shape {gshape}, smaller than {shape}")
    if lead == 1:
        g = reduce_sum(g, 0)
    elif lead:
        g = reduce_sum(g, tuple(range(lead)))
    if 1 in shape:
        keep = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        if keep:
            g = reduce_sum(g, keep, keepdims=True)
    if g.shape != shape:
        raise RuntimeError(
            f"internal: {what} has shape {gshape}, which does not broadcast to {shape}"
        )
    return g
