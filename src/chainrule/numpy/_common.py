"""Helpers shared by the modules of ``chainrule.numpy``: arguments as Tensors, NumPy's axis
rules and keyword arguments (``out=``, ``where=``, ``dtype=``), and errors naming the function.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tensor import Tensor, _concrete, _wrap, apply, as_tensor

__all__: list[str] = []

#: Stands for "not given" where NumPy's signature says ``<no value>`` (``None`` means
#: something else there, as in ``clip(x, None, 1)``).
NOVALUE: Any = np._NoValue

AxisError = np.exceptions.AxisError

#: ufunc keywords accepted at their default values only
_UFUNC_DEFAULTS = {"casting": "same_kind", "order": "K", "subok": True, "signature": None}


def is_number(x: Any) -> bool:
    return type(x) in (bool, int, float, complex)


def tensor(x: Any) -> Tensor:
    """``x`` as a Tensor: Tensors as they are, (nested) lists holding Tensors stacked through
    the graph, anything else wrapped."""
    if isinstance(x, Tensor):
        return x
    return as_tensor(x)


def tensors(xs: Sequence[Any]) -> list[Tensor]:
    return [tensor(x) for x in xs]


def operand(x: Any) -> Any:
    """An operand of an elementwise function: Tensors, ndarrays and Python numbers as they
    are (numbers stay weakly typed: float32 stays float32), anything else as a Tensor."""
    if isinstance(x, Tensor) or is_number(x) or type(x) is np.ndarray:
        return x
    return as_tensor(x)


def pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Two operands, at least one of them a Tensor (so the result is one)."""
    a, b = operand(a), operand(b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        if is_number(a) and not is_number(b):
            b = as_tensor(b)
        else:
            a = as_tensor(a)
    return a, b


def check_ufunc_kwargs(name: str, kwargs: dict) -> None:
    """Refuse ufunc keywords that would change the meaning (a non-default ``casting``...)."""
    for key, value in kwargs.items():
        if key in _UFUNC_DEFAULTS and value == _UFUNC_DEFAULTS[key]:
            continue
        raise TypeError(
            f"{name}: the keyword argument {key}={value!r} is not supported on chainrule "
            f"Tensors (supported: out=, where=, dtype=)"
        )


def unsupported(name: str, what: str) -> TypeError:
    return TypeError(f"{name}: {what} is not supported on chainrule Tensors")


def cast(x: Tensor, dtype: Any) -> Tensor:
    """``x`` as ``dtype`` (differentiable between floating dtypes)."""
    if dtype is None:
        return x
    dtype = np.dtype(dtype)
    return x if x.dtype == dtype else x.astype(dtype)


def value_of(x: Any) -> Any:
    """The array a Tensor holds (anything else as it is), where the numbers themselves are
    needed outside the graph: metadata, argument checks, writing into an ndarray."""
    return x._data if isinstance(x, Tensor) else x


def decided_by(x: Any, what: str) -> Any:
    """The values of ``x`` where they decide a shape or a branch (``what``: the function
    and the decision). Eagerly that is just the array; cr.jit refuses by name, as for
    ``bool(t)``, because its program would keep the decision it was traced with for every
    input (cr.vmap lets it through: it checks each example's result against its program
    and refuses the batch when they differ)."""
    if isinstance(x, Tensor):
        _concrete(x, what, allow=("cr.vmap",))
        return x._data
    return np.asarray(x)


def integer_cast(x: Tensor, dtype: Any) -> Tensor:
    """A boolean or integer ``x`` cast to the integer ``dtype`` by the ``astype`` primitive,
    so a traced program recomputes it (``Tensor.astype`` to an integer dtype takes the
    values as they are)."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if x.dtype.kind not in "biu":
        return x.astype(dtype)
    from .. import rules as P

    return apply(P.astype, (x,), {"dtype": dtype})


def _dims(ndim: Any) -> tuple[int, str]:
    """(ndim, how to say it) from an ndim or a shape."""
    if isinstance(ndim, tuple):
        return len(ndim), f"a tensor of shape {ndim}"
    return int(ndim), f"a tensor of dimension {int(ndim)}"


def normalize_axis(name: str, axis: Any, ndim: Any) -> int:
    """One axis, negative counted from the end; AxisError (as NumPy: a ValueError and an
    IndexError) naming the function when out of range. ``ndim`` may be the shape."""
    n, what = _dims(ndim)
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{name}: axis must be an integer, got {axis!r}")
    if not -n <= axis < n:
        raise AxisError(f"{name}: axis {int(axis)} is out of range for {what}")
    return int(axis) % n


def normalize_axes(name: str, axis: Any, ndim: Any) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple of distinct non-negative axes."""
    if isinstance(axis, (int, np.integer)):
        return (normalize_axis(name, axis, ndim),)
    axes = tuple(normalize_axis(name, a, ndim) for a in axis)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: axis {tuple(axis)!r} is repeated")
    return axes


def reduction_axis(name: str, axis: Any, ndim: Any) -> Any:
    """``axis`` of a reduction as the primitives take it: None, an int or a sorted tuple."""
    if axis is None:
        return None
    axes = normalize_axes(name, axis, ndim)
    if isinstance(axis, (int, np.integer)):
        return axes[0]
    return tuple(sorted(axes))


def reduced_count(shape: tuple, axis: Any) -> int:
    """How many elements each slice of a reduction over ``axis`` holds."""
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def dim_alias(axis: Any, keepdims: Any, dim: Any, keepdim: Any) -> tuple[Any, Any]:
    """PyTorch's ``dim=`` / ``keepdim=`` spellings of ``axis=`` / ``keepdims=``."""
    if dim is not None:
        if axis is not None:
            raise TypeError("pass axis= or dim=, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, keepdims


def finish(name: str, result: Any, out: Any = None, where: Any = True) -> Any:
    """Apply NumPy's ``out=`` and ``where=`` to a computed result.

    ``out`` must be a Tensor: it is written in place (PyTorch's in-place rules: recorded
    when a gradient is needed; a leaf that requires grad only under ``no_grad``), and
    returned. ``where=`` keeps ``out``'s old values where the mask is False; without
    ``out`` NumPy would leave those entries uninitialized, so that is refused.
    """
    if isinstance(out, tuple):
        if len(out) != 1:
            raise TypeError(f"{name}: out= must be one Tensor, got a tuple of {len(out)}")
        out = out[0]
    masked = not (where is True or where is NOVALUE)
    if out is None:
        if masked:
            raise TypeError(
                f"{name}: where= without out= leaves the masked-out entries uninitialized "
                f"in NumPy; pass out= (a Tensor), or use cnp.where(mask, value, other)"
            )
        return result
    if not isinstance(out, Tensor):
        raise TypeError(
            f"{name}: out= must be a chainrule Tensor, got {type(out).__name__}: writing "
            f"into an ndarray would drop the gradient (use t.numpy() to leave the graph)"
        )
    value = result if isinstance(result, Tensor) else as_tensor(result)
    if masked:
        from .. import ops

        mask = where if isinstance(where, Tensor) else np.asarray(where, dtype=bool)

        def compute(old: Tensor) -> Tensor:
            return ops.where(mask, value, old)
    else:

        def compute(old: Tensor) -> Tensor:
            v = value
            if v.shape != out.shape:
                from .. import ops

                v = ops.broadcast_to(v, out.shape)
            if v.dtype != out.dtype:
                if not np.can_cast(v.dtype, out.dtype, casting="same_kind"):
                    raise TypeError(
                        f"{name}: cannot write a {v.dtype} result into out= of dtype "
                        f"{out.dtype} (casting='same_kind')"
                    )
                v = v.astype(out.dtype)
            return v

    out._inplace(f"{name}(out=...)", compute, (value,))
    return out


def nondifferentiable_result(data: Any) -> Tensor:
    """A Tensor around a value that carries no gradient (computed from data alone)."""
    return _wrap(data)


def apply_prim(prim: Any, args: tuple, params: dict | None = None) -> Tensor:
    return apply(prim, args, params)


def shape_tuple(name: str, shape: Any) -> tuple[int, ...]:
    """A shape given as an int or a sequence of ints."""
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(
            f"{name}: shape must be an int or a sequence of ints, got {shape!r}"
        ) from None


def builtin_sum(values: Any) -> Any:
    return builtins.sum(values)
