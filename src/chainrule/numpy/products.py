"""NumPy's dot, vdot, matmul and outer on Tensors (the other contractions, einsum,
tensordot, inner, kron and cross, come from ``chainrule.contractions``). Bilinear: the
gradient of each factor is a product with the other (conjugated for complex operands).
"""

from __future__ import annotations

from typing import Any

from .. import ops
from ..tensor import Tensor
from ._common import finish, tensor

__all__ = ["dot", "matmul", "outer", "vdot"]


def dot(a: Any, b: Any, out: Any = None) -> Any:
    """NumPy's dot: a product for 0-d operands, the inner product of vectors, the matrix
    product of matrices, and for N-d operands the sum over the last axis of ``a`` and the
    second-to-last of ``b`` (``dot(a, b)[i, j, k, m] = sum(a[i, j, :] * b[k, :, m])``).

    >>> import chainrule.numpy as cnp
    >>> cnp.dot(cnp.array([1.0, 2.0]), cnp.array([3.0, 4.0]))
    tensor(11.)
    """
    x, y = tensor(a), tensor(b)
    if x.ndim == 0 or y.ndim == 0:
        return finish("dot", x * y, out)
    k = y.shape[0] if y.ndim == 1 else y.shape[-2]
    n = x.shape[-1]
    if n != k:
        raise ValueError(
            f"dot: shapes {x.shape} and {y.shape} not aligned: {n} (dim {x.ndim - 1}) != "
            f"{k} (dim {0 if y.ndim == 1 else y.ndim - 2})"
        )
    if y.ndim <= 2 or x.ndim == 1:  # matmul computes the same (it broadcasts the rest)
        return finish("dot", ops.matmul(x, y), out)
    # the pairs of (rows of a) x (columns of every matrix of b), as one matrix product
    a2 = ops.reshape(x, (-1, n))
    order = (y.ndim - 2,) + tuple(i for i in range(y.ndim) if i != y.ndim - 2)
    b2 = ops.reshape(ops.transpose(y, order), (n, -1))
    shape = x.shape[:-1] + y.shape[:-2] + y.shape[-1:]
    return finish("dot", ops.reshape(ops.matmul(a2, b2), shape), out)


def vdot(a: Any, b: Any, /) -> Tensor:
    """sum(conj(a) * b) of the flattened operands (complex: conjugates the first).

    >>> import chainrule.numpy as cnp
    >>> cnp.vdot(cnp.array([1j, 2.0]), cnp.array([1j, 3.0]))
    tensor(7.+0.j, dtype=complex128)
    """
    x, y = ops.reshape(tensor(a), -1), ops.reshape(tensor(b), -1)
    if x.shape != y.shape:
        raise ValueError(f"vdot: vectors have different lengths ({x.shape[0]} and {y.shape[0]})")
    return ops.matmul(ops.conj(x), y)


def matmul(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """The matrix product with NumPy's rules (1-D operands, stacks, broadcasting).

    >>> import chainrule.numpy as cnp
    >>> cnp.matmul(cnp.ones((2, 3)), cnp.ones(3))
    tensor([3., 3.])
    """
    from ._common import check_ufunc_kwargs

    check_ufunc_kwargs("matmul", {k: v for k, v in kwargs.items() if k not in ("axes", "axis")})
    if "axes" in kwargs or "axis" in kwargs:
        raise TypeError("matmul: axes= is not supported on chainrule Tensors")
    return finish("matmul", ops.matmul(tensor(x1), tensor(x2)), out)


def outer(a: Any, b: Any, out: Any = None) -> Any:
    """The outer product of the flattened operands (no conjugation).

    >>> import chainrule.numpy as cnp
    >>> cnp.outer(cnp.array([1.0, 2.0]), cnp.array([1.0, -1.0]))
    tensor([[ 1., -1.],
            [ 2., -2.]])
    """
    return finish("outer", ops.outer(tensor(a), tensor(b)), out)
