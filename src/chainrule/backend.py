"""The array-namespace seam: the few NumPy-only calls of the core live here.

Everything above this module computes with ``xp`` (NumPy today) and the helpers below, so a
second array library (CuPy for a GPU) is one new module with the same names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["is_array", "reduce_max", "reduce_sum", "root_of", "stored", "xp"]

#: The array namespace the kernels compute with.
xp = np
ndarray = np.ndarray
#: 0-d results of NumPy operations: NumPy scalars (immutable, fast to compute with).
scalar_types = (np.generic,)
add_at = np.add.at
as_strided = np.lib.stride_tricks.as_strided


def is_array(x: Any) -> bool:
    """A plain ndarray (the engine's fast paths test the exact type).

    >>> is_array(np.zeros(2)), is_array(2.0)
    (True, False)
    """
    return type(x) is np.ndarray


def stored(arr: Any) -> Any:
    """How a Tensor holds its value: an ndarray, or for 0-d a NumPy scalar (what NumPy's
    own 0-d operations return, and much faster to compute with).

    >>> type(stored(np.array(2.0))).__name__, stored(np.zeros(2)).shape
    ('float64', (2,))
    """
    return arr[()] if arr.ndim == 0 else arr


def reduce_sum(g: Any, axis: Any, keepdims: bool = False) -> Any:
    """``g`` summed over ``axis`` (a ufunc reduction: no ``ndarray.sum`` wrapper).

    >>> reduce_sum(np.ones((2, 3)), 0)
    array([2., 2., 2.])
    """
    return np.add.reduce(g, axis=axis, keepdims=keepdims)


def reduce_max(x: Any, axis: Any, keepdims: bool = False) -> Any:
    """``x``'s largest values over ``axis``.

    >>> reduce_max(np.array([[1.0, 5.0], [3.0, 2.0]]), 1)
    array([5., 3.])
    """
    return np.maximum.reduce(x, axis=axis, keepdims=keepdims)


def root_of(arr: Any) -> Any:
    """The array that owns ``arr``'s memory (``arr`` itself unless it is a view).

    >>> a = np.zeros(4)
    >>> root_of(a[1:].reshape(3, 1)) is a
    True
    """
    base = getattr(arr, "base", None)
    while base is not None and isinstance(base, np.ndarray):
        arr, base = base, base.base
    return arr
