"""cr.nn.utils: gradient clipping (by total norm or by value) and the conversion between a
list of parameters and one flat vector, with ``torch.nn.utils``'s names and semantics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..ops import concatenate, reshape
from ..tensor import Tensor, as_tensor

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
    "parameters_to_vector",
    "vector_to_parameters",
]


def _tensors(op: str, parameters: Any) -> list[Tensor]:
    """A list from a Tensor or an iterable of them (a generator is read once)."""
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        items = list(parameters)
    except TypeError:
        raise TypeError(
            f"{op}: parameters must be a Tensor or an iterable of Tensors, got "
            f"{type(parameters).__name__}"
        ) from None
    for i, p in enumerate(items):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: parameter {i} is a {type(p).__name__}, not a Tensor")
    return items


def _norm_type(op: str, norm_type: Any) -> float:
    try:
        value = float(norm_type)  # float("inf") and "inf" both work, as in PyTorch
    except (TypeError, ValueError):
        raise ValueError(f"{op}: norm_type must be a number or 'inf', got {norm_type!r}") from None
    if math.isnan(value):
        raise ValueError(f"{op}: norm_type must not be nan")
    return value


def _vector_norm(x: np.ndarray, p: float) -> float:
    """``torch.linalg.vector_norm(x, p)`` of a flat array, in float64."""
    a = np.abs(np.asarray(x, dtype=np.float64).ravel())
    if a.size == 0:
        return 0.0
    if p == math.inf:
        return float(a.max())
    if p == -math.inf:
        return float(a.min())
    if p == 0:
        return float(np.count_nonzero(a))
    if p == 1:
        return float(a.sum())
    if p == 2:
        return float(np.sqrt(np.dot(a, a)))
    return float(np.sum(a**p) ** (1.0 / p))


def get_total_norm(
    tensors: Tensor | Iterable[Tensor],
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """The ``norm_type``-norm of all the tensors' entries taken as one vector (the norm
    of their norms), as a 0-d Tensor.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.utils.get_total_norm([cr.tensor([3.0]), cr.tensor([4.0])]).item()
    5.0
    """
    return _total_norm("get_total_norm", tensors, norm_type, error_if_nonfinite)


def _total_norm(op: str, tensors: Any, norm_type: Any, error_if_nonfinite: bool) -> Tensor:
    items = _tensors(op, tensors)
    p = _norm_type(op, norm_type)
    if not items:
        return as_tensor(np.float32(0.0))
    dtype = np.result_type(*[t.dtype for t in items])
    norms = np.array([_vector_norm(t.data, p) for t in items])
    total = _vector_norm(norms, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"{op}: the total norm of order {p} of the gradients is non-finite ({total}), so "
            f"it cannot be clipped; pass error_if_nonfinite=False to scale the gradients "
            f"by it anyway"
        )
    return as_tensor(np.asarray(total, dtype=dtype))


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, total_norm: Any
) -> None:
    """Scale every ``.grad`` by ``min(1, max_norm / (total_norm + 1e-6))``.

    Each gradient gets a new array (backward may hand one array to several
    parameters, so scaling in place could scale it twice).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0, 4.0], requires_grad=True)
    >>> w.grad = cr.tensor([3.0, 4.0])
    >>> cr.nn.utils.clip_grads_with_norm_([w], max_norm=1.0, total_norm=5.0)
    >>> [round(g, 4) for g in w.grad.numpy().tolist()]
    [0.6, 0.8]
    """
    items = _tensors("clip_grads_with_norm_", parameters)
    max_norm = float(max_norm)
    total = float(np.asarray(getattr(total_norm, "data", total_norm)))
    coef = min(max_norm / (total + 1e-6), 1.0)
    with np.errstate(invalid="ignore"):  # inf * 0 is nan, as in PyTorch (no warning)
        for p in items:
            g = p.grad
            if g is not None:
                p.grad = (g.data * np.asarray(coef, dtype=g.dtype)).astype(g.dtype, copy=False)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Rescale the gradients so that their total ``norm_type``-norm is at most
    ``max_norm`` (``torch.nn.utils.clip_grad_norm_``); returns the norm before clipping.

    Parameters
    ----------
    parameters:
        A Tensor or an iterable of them (e.g. ``model.parameters()``); those without a
        ``.grad`` are skipped.
    max_norm:
        The largest total norm kept.
    norm_type:
        The p of the p-norm; ``float("inf")`` or ``"inf"`` for the largest entry.
    error_if_nonfinite:
        Raise ``RuntimeError`` if the total norm is nan or infinite (otherwise the
        gradients are scaled by it, which turns them into nan or 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([0.0, 0.0], requires_grad=True)
    >>> (w * cr.tensor([30.0, 40.0])).sum().backward()
    >>> cr.nn.utils.clip_grad_norm_([w], max_norm=5.0).item()
    50.0
    >>> [round(g, 4) for g in w.grad.numpy().tolist()]
    [3.0, 4.0]
    """
    items = [p for p in _tensors("clip_grad_norm_", parameters) if p.grad is not None]
    grads = [p.grad for p in items]
    total = _total_norm("clip_grad_norm_", grads, norm_type, error_if_nonfinite)
    if items:
        clip_grads_with_norm_(items, max_norm, total)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient entry into ``[-clip_value, clip_value]``.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([0.0, 0.0, 0.0], requires_grad=True)
    >>> w.grad = cr.tensor([-3.0, 0.5, 2.0])
    >>> cr.nn.utils.clip_grad_value_([w], clip_value=1.0)
    >>> w.grad.numpy().tolist()
    [-1.0, 0.5, 1.0]
    """
    items = _tensors("clip_grad_value_", parameters)
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in items:
        g = p.grad
        if g is not None:
            p.grad = np.clip(g.data, -clip_value, clip_value).astype(g.dtype, copy=False)


def parameters_to_vector(parameters: Tensor | Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one vector (differentiable: its gradient
    flows back to the parameters).

    Examples
    --------
    >>> import chainrule as cr
    >>> v = cr.nn.utils.parameters_to_vector([cr.ones(2, 2), cr.zeros(3)])
    >>> v.shape
    (7,)
    """
    items = _tensors("parameters_to_vector", parameters)
    if not items:
        raise ValueError("parameters_to_vector: got no parameters")
    return concatenate([reshape(p, -1) for p in items])


def vector_to_parameters(vec: Tensor, parameters: Tensor | Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters' data (the inverse of
    :func:`parameters_to_vector`); each parameter gets a new array of its own dtype.

    Examples
    --------
    >>> import chainrule as cr
    >>> a, b = cr.zeros(2, 2), cr.zeros(3)
    >>> cr.nn.utils.vector_to_parameters(cr.arange(7.0), [a, b])
    >>> b.numpy().tolist()
    [4.0, 5.0, 6.0]
    """
    op = "vector_to_parameters"
    if not isinstance(vec, Tensor):
        raise TypeError(f"{op}: vec must be a Tensor, got {type(vec).__name__}")
    items = _tensors(op, parameters)
    data = np.asarray(vec.data)
    need = sum(p.size for p in items)
    if data.ndim != 1 or data.size != need:
        raise ValueError(
            f"{op}: vec has shape {data.shape}, but the parameters have {need} entries in all "
            f"(expected shape ({need},))"
        )
    offset = 0
    for p in items:
        # A fresh array, as load_state_dict does: graphs that saved the old value keep it.
        p.data = data[offset : offset + p.size].reshape(p.shape).astype(p.dtype, copy=True)
        offset += p.size
