"""NumPy's functions and ufuncs on Tensors: the table from NumPy callables to chainrule's
implementations, and the two protocol hooks (``__array_ufunc__``, ``__array_function__``).

``np.exp(t)``, ``arr + t``, ``np.concatenate([t, arr])``, ``np.add.reduce(t)`` find their
implementation in ``HANDLED`` and return recorded Tensors. A NumPy function or ufunc that is
not in the table raises ``TypeError`` naming it: it never silently returns an ndarray (and
drops the gradient). The table holds every function of ``chainrule.numpy`` that NumPy has
under the same name, plus the ``NUMPY_FUNCTIONS`` of the modules that add their own
(linear algebra, special functions, contractions, Fourier transforms), imported on first use.
"""

from __future__ import annotations

import importlib
import types as _types
from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor

__all__ = ["EXTENSIONS", "HANDLED", "array_function", "array_ufunc", "handled", "numpy_name"]

#: NumPy callable -> chainrule implementation (filled below and by ``handled()``).
HANDLED: dict[Any, Any] = {}

#: Modules that define a ``NUMPY_FUNCTIONS`` dict of their own (NumPy callable ->
#: implementation); each is imported the first time a NumPy call is not in the table yet.
EXTENSIONS = ("chainrule.linalg", "chainrule.special", "chainrule.contractions", "chainrule.fft")
_loaded: list[bool] = [False]

#: Other names for functions chainrule.numpy has (NumPy's deprecated spellings).
_ALIASES = {"row_stack": "vstack", "round_": "round", "product": "prod"}


def _fill() -> None:
    """Every function of chainrule.numpy whose name NumPy also has."""
    from .. import numpy as cnp

    for name in cnp.__all__:
        target = getattr(np, name, None)
        impl = getattr(cnp, name)
        if target is None or isinstance(target, (type, _types.ModuleType)):
            continue
        if callable(target) and callable(impl):
            HANDLED.setdefault(target, impl)
    for alias, name in _ALIASES.items():
        target = getattr(np, alias, None)
        if target is not None:
            HANDLED.setdefault(target, getattr(cnp, name))


def handled() -> dict[Any, Any]:
    """The whole table, with the extension modules' functions loaded.

    >>> import numpy as np
    >>> from chainrule.numpy.dispatch import handled
    >>> handled()[np.cumsum].__name__
    'cumsum'
    """
    if not _loaded[0]:
        _loaded[0] = True
        for module_name in EXTENSIONS:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as e:
                if e.name == module_name:  # not written yet: nothing to add
                    continue
                raise
            for target, impl in getattr(module, "NUMPY_FUNCTIONS", {}).items():
                HANDLED.setdefault(target, impl)
    return HANDLED


def numpy_name(func: Any) -> str:
    """``numpy.exp``, ``numpy.linalg.norm``: how errors name a NumPy callable.

    >>> import numpy as np
    >>> numpy_name(np.linalg.norm), numpy_name(np.exp), numpy_name(np.fft.fft)
    ('numpy.linalg.norm', 'numpy.exp', 'numpy.fft.fft')
    """
    if isinstance(func, np.ufunc):
        return f"numpy.{func.__name__}"
    # the public module: numpy._core.fromnumeric -> numpy, numpy.fft._pocketfft -> numpy.fft
    public = []
    for part in (getattr(func, "__module__", None) or "numpy").split("."):
        if part.startswith("_"):
            break
        public.append(part)
    if public[1:] == ["lib"]:
        public = ["numpy"]
    return f"{'.'.join(public)}.{getattr(func, '__name__', repr(func))}"


def _unsupported(what: str) -> TypeError:
    return TypeError(
        f"{what} is not supported on chainrule Tensors: chainrule has no differentiable "
        f"implementation of it. To compute it without the graph (no gradient), call it on "
        f"t.numpy() (or t.detach().numpy()); see chainrule.numpy for the functions that "
        f"record."
    )


def _lookup(func: Any) -> Any:
    impl = HANDLED.get(func)
    if impl is None and not _loaded[0]:
        impl = handled().get(func)
    return impl


# --------------------------------------------------------------------------- ufunc methods


def _reduce_table() -> dict:
    from . import reductions as R

    return {
        np.add: R.sum,
        np.multiply: R.prod,
        np.maximum: R.max,
        np.minimum: R.min,
        np.fmax: R.nanmax,
        np.fmin: R.nanmin,
        np.logical_and: R.all,
        np.logical_or: R.any,
    }


def _accumulate_table() -> dict:
    from . import reductions as R

    return {np.add: R.cumsum, np.multiply: R.cumprod}


def _reduce(ufunc: Any, inputs: tuple, kwargs: dict) -> Any:
    impl = _reduce_table().get(ufunc)
    if impl is None:
        if ufunc is np.logaddexp:
            return _logaddexp_reduce(inputs, kwargs)
        raise _unsupported(f"numpy.{ufunc.__name__}.reduce")
    (array,) = inputs
    kwargs = dict(kwargs)
    axis = kwargs.pop("axis", 0)
    dtype = kwargs.pop("dtype", None)
    if dtype is not None and impl.__name__ in ("sum", "prod"):
        kwargs["dtype"] = dtype
    elif dtype is not None:
        raise TypeError(f"numpy.{ufunc.__name__}.reduce: dtype= is not supported on Tensors")
    return impl(array, axis=axis, **kwargs)


def _logaddexp_reduce(inputs: tuple, kwargs: dict) -> Any:
    (array,) = inputs
    kwargs = dict(kwargs)
    axis = kwargs.pop("axis", 0)
    keepdims = kwargs.pop("keepdims", False)
    if kwargs:
        raise TypeError(f"numpy.logaddexp.reduce: {sorted(kwargs)} not supported on Tensors")
    return ops.logsumexp(array, axis=axis, keepdims=keepdims)


def _accumulate(ufunc: Any, inputs: tuple, kwargs: dict) -> Any:
    impl = _accumulate_table().get(ufunc)
    if impl is None:
        raise _unsupported(f"numpy.{ufunc.__name__}.accumulate")
    (array,) = inputs
    kwargs = dict(kwargs)
    axis = kwargs.pop("axis", 0)
    return impl(array, axis=axis, **kwargs)


def _outer(ufunc: Any, inputs: tuple, kwargs: dict) -> Any:
    impl = _lookup(ufunc)
    if impl is None or ufunc.nin != 2:
        raise _unsupported(f"numpy.{ufunc.__name__}.outer")
    from ._common import tensor

    a, b = (tensor(v) for v in inputs)
    a = ops.reshape(a, a.shape + (1,) * b.ndim)
    return impl(a, b, **kwargs)


def array_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    """``Tensor.__array_ufunc__``: a NumPy ufunc (or one of its methods) on Tensors.

    >>> import numpy as np, chainrule as cr
    >>> np.exp(cr.tensor([0.0]))
    tensor([1.])
    >>> np.add.reduce(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([4., 6.])
    """
    if method == "__call__":
        impl = _lookup(ufunc)
        if impl is None:
            raise _unsupported(f"numpy.{ufunc.__name__}")
        return impl(*inputs, **kwargs)
    if method == "reduce":
        return _reduce(ufunc, inputs, kwargs)
    if method == "accumulate":
        return _accumulate(ufunc, inputs, kwargs)
    if method == "outer":
        return _outer(ufunc, inputs, kwargs)
    if method == "at":
        return _at(ufunc, inputs, kwargs)
    raise _unsupported(f"numpy.{ufunc.__name__}.{method}")


def _at(ufunc: Any, inputs: tuple, kwargs: dict) -> None:
    """``np.add.at(t, index, b)`` / ``np.subtract.at``: unbuffered in place, repeated
    indices accumulating, recorded as an in-place change of ``t`` (PyTorch's rules: see
    ``Tensor._inplace``). Other ufuncs' ``at`` are refused with the way out."""
    name = f"numpy.{ufunc.__name__}.at"
    if ufunc not in (np.add, np.subtract):
        raise TypeError(
            f"{name} is not supported on chainrule Tensors (only numpy.add.at and "
            f"numpy.subtract.at are); compute the result out of place, e.g. with "
            f"t[index] = ... on unique indices, or call it on t.numpy() (no gradient)"
        )
    if kwargs or len(inputs) != 3:
        raise TypeError(f"{name}: takes (a, indices, b), got {len(inputs)} arguments")
    a, index, b = inputs
    if not isinstance(a, Tensor):
        raise TypeError(
            f"{name}: the array changed in place is not a Tensor ({type(a).__name__}) but "
            f"the values are: writing them into it would drop the gradient; make it a "
            f"Tensor (cr.tensor(a)), or pass b.numpy() to leave the graph"
        )
    value = b if ufunc is np.add else ops.neg(b)
    others = (value,) if isinstance(value, Tensor) else ()
    a._inplace(name, lambda old: ops.add_at(old, index, value, name), others)
    return None


def array_function(func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
    """``Tensor.__array_function__``: a NumPy function called with Tensors among its
    arguments.

    >>> import numpy as np, chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> y = np.concatenate([x, np.zeros(1)])
    >>> y
    tensor([1., 2., 0.], grad_fn=<concatenate>)
    """
    for t in types:
        if not issubclass(t, (Tensor, np.ndarray)):
            return NotImplemented
    impl = _lookup(func)
    if impl is None:
        raise _unsupported(numpy_name(func))
    return impl(*args, **kwargs)


_fill()
