"""NumPy's questions about arrays, answered for Tensors: shapes, dtypes, comparisons of
whole arrays (``allclose``, ``array_equal``) and printing. The answers are Python values or
boolean Tensors; nothing here is differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .. import rules as P
from ..tensor import Tensor
from ._common import decided_by, tensor, value_of

__all__ = [
    "allclose",
    "array2string",
    "array_equal",
    "array_equiv",
    "array_repr",
    "array_str",
    "can_cast",
    "iscomplex",
    "iscomplexobj",
    "isclose",
    "isreal",
    "isrealobj",
    "may_share_memory",
    "ndim",
    "result_type",
    "shape",
    "shares_memory",
    "size",
]


def _values(a: Any, name: str) -> Any:
    """The numbers a question's answer (a Python value) is made of: refused by cr.jit and
    cr.vmap while they trace ``a``, which would keep this one answer."""
    return decided_by(a, f"{name} (a Python bool)") if isinstance(a, Tensor) else a


def _dtype_of(a: Any) -> Any:
    return a.dtype if isinstance(a, Tensor) else a


def shape(a: Any) -> tuple:
    """The shape, a tuple of ints.

    >>> import chainrule.numpy as cnp
    >>> cnp.shape(cnp.ones((2, 3)))
    (2, 3)
    """
    return np.shape(value_of(a))


def ndim(a: Any) -> int:
    """The number of dimensions.

    >>> import chainrule.numpy as cnp
    >>> cnp.ndim(cnp.ones((2, 3)))
    2
    """
    return np.ndim(value_of(a))


def size(a: Any, axis: Any = None) -> int:
    """The number of elements (along ``axis`` if given).

    >>> import chainrule.numpy as cnp
    >>> cnp.size(cnp.ones((2, 3))), cnp.size(cnp.ones((2, 3)), 1)
    (6, 3)
    """
    return int(np.size(value_of(a), axis))


def result_type(*arrays_and_dtypes: Any) -> np.dtype:
    """The dtype NumPy's promotion gives (Tensors count by their dtype).

    >>> import chainrule.numpy as cnp
    >>> cnp.result_type(cnp.ones(2, dtype="float32"), 1.0)
    dtype('float32')
    """
    return np.result_type(*(_dtype_of(a) for a in arrays_and_dtypes))


def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    """Whether a cast is allowed under ``casting`` (a Tensor counts by its dtype).

    >>> import chainrule.numpy as cnp
    >>> cnp.can_cast(cnp.ones(2, dtype="float32"), "float64")
    True
    """
    return bool(np.can_cast(_dtype_of(from_), to, casting))


def iscomplexobj(x: Any) -> bool:
    """Whether the dtype is complex.

    >>> import chainrule.numpy as cnp
    >>> cnp.iscomplexobj(cnp.array([1j]))
    True
    """
    return np.iscomplexobj(value_of(x))


def isrealobj(x: Any) -> bool:
    """Whether the dtype is not complex.

    >>> import chainrule.numpy as cnp
    >>> cnp.isrealobj(cnp.array([1.0]))
    True
    """
    return not iscomplexobj(x)


def iscomplex(x: Any) -> Tensor:
    """Elementwise: a non-zero imaginary part (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.iscomplex(cnp.array([1j, 1 + 0j]))
    tensor([ True, False])
    """
    t = tensor(x)
    return P.not_equal(ops.imag(t), 0)


def isreal(x: Any) -> Tensor:
    """Elementwise: a zero imaginary part (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.isreal(cnp.array([1j, 1 + 0j]))
    tensor([False,  True])
    """
    t = tensor(x)
    return P.equal(ops.imag(t), 0)


def isclose(
    a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """Elementwise |a - b| <= atol + rtol |b|, NumPy's test (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.isclose(cnp.array([1.0, 2.0]), [1.0, 2.1])
    tensor([ True, False])
    """
    x, y = tensor(a), tensor(b)
    with np.errstate(invalid="ignore"):
        close = P.less_equal(ops.abs(x - y), atol + rtol * ops.abs(y)) & P.isfinite(y)
        out = P.logical_or(close, P.equal(x, y))
        if equal_nan:
            out = P.logical_or(out, P.isnan(x) & P.isnan(y))
    return out


def allclose(
    a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether every pair is close (a Python bool; reads the values).

    >>> import chainrule.numpy as cnp
    >>> cnp.allclose(cnp.array([1.0]), 1.0 + 1e-9)
    True
    """
    return bool(np.allclose(_values(a, "allclose"), _values(b, "allclose"), rtol, atol, equal_nan))


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> bool:
    """Whether the shapes and all elements are equal (a Python bool).

    >>> import chainrule.numpy as cnp
    >>> cnp.array_equal(cnp.array([1.0, 2.0]), [1.0, 2.0])
    True
    """
    return bool(
        np.array_equal(_values(a1, "array_equal"), _values(a2, "array_equal"), equal_nan=equal_nan)
    )


def array_equiv(a1: Any, a2: Any) -> bool:
    """Whether the inputs are equal after broadcasting (a Python bool).

    >>> import chainrule.numpy as cnp
    >>> cnp.array_equiv(cnp.array([1.0, 1.0]), 1.0)
    True
    """
    return bool(np.array_equiv(_values(a1, "array_equiv"), _values(a2, "array_equiv")))


def may_share_memory(a: Any, b: Any, /, max_work: Any = None) -> bool:
    """Whether the values might share memory (bounds only).

    >>> import chainrule.numpy as cnp
    >>> cnp.may_share_memory(cnp.ones(2), cnp.ones(2))
    False
    """
    return bool(np.may_share_memory(value_of(a), value_of(b), max_work))


def shares_memory(a: Any, b: Any, /, max_work: Any = None) -> bool:
    """Whether the values share memory.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.ones(2)
    >>> cnp.shares_memory(x, x.detach())
    True
    """
    return bool(np.shares_memory(value_of(a), value_of(b), max_work))


def array2string(a: Any, *args: Any, **kwargs: Any) -> str:
    """The values as NumPy prints them.

    >>> import chainrule.numpy as cnp
    >>> cnp.array2string(cnp.array([1.0, 2.0]))
    '[1. 2.]'
    """
    return np.array2string(np.asarray(value_of(a)), *args, **kwargs)


def array_repr(arr: Any, *args: Any, **kwargs: Any) -> str:
    """NumPy's repr of the values.

    >>> import chainrule.numpy as cnp
    >>> cnp.array_repr(cnp.array([1.0]))
    'array([1.])'
    """
    return np.array_repr(np.asarray(value_of(arr)), *args, **kwargs)


def array_str(a: Any, *args: Any, **kwargs: Any) -> str:
    """NumPy's str of the values.

    >>> import chainrule.numpy as cnp
    >>> cnp.array_str(cnp.array([1.0]))
    '[1.]'
    """
    return np.array_str(np.asarray(value_of(a)), *args, **kwargs)
