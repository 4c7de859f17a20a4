"""NumPy's functions, differentiable: ``import chainrule.numpy as cnp``.

Every function takes NumPy's arguments (``axis``, ``keepdims``, ``ddof``, ``dtype``, ``out=``
where NumPy has them) and gives NumPy's values, dtypes and shapes, as a Tensor that records:
reverse mode, forward mode and every higher order work through it. Integer and boolean
results (``argsort``, comparisons) carry no gradient. NumPy's own functions called on
Tensors (``np.exp(t)``, ``np.concatenate([t, a])``) dispatch here (``chainrule.numpy.dispatch``).
``cnp.linalg``, ``cnp.fft`` and ``cnp.einsum``, ``tensordot``, ``inner``, ``kron``, ``cross``
come from ``chainrule.linalg``, ``chainrule.fft`` and ``chainrule.contractions``. The reference
page lists every function with its derivative.

>>> import chainrule.numpy as cnp
>>> x = cnp.array([1.0, 2.0, 3.0], requires_grad=True)
>>> y = cnp.sum(cnp.cumsum(x) * cnp.log1p(x))
>>> y.backward()
>>> x.grad.shape
(3,)
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as _np

from . import (
    creation,
    histograms,
    index_tricks,
    indexing,
    products,
    queries,
    reductions,
    sets,
    shapes,
    statistics,
    ufuncs,
    writers,
)
from .creation import *  # noqa: F403
from .histograms import *  # noqa: F403
from .index_tricks import *  # noqa: F403
from .indexing import *  # noqa: F403
from .products import *  # noqa: F403
from .queries import *  # noqa: F403
from .reductions import *  # noqa: F403
from .sets import *  # noqa: F403
from .shapes import *  # noqa: F403
from .statistics import *  # noqa: F403
from .ufuncs import *  # noqa: F403
from .writers import *  # noqa: F403

__all__ = sorted(
    set(creation.__all__)
    | set(histograms.__all__)
    | set(indexing.__all__)
    | set(index_tricks.__all__)
    | set(products.__all__)
    | set(queries.__all__)
    | set(reductions.__all__)
    | set(sets.__all__)
    | set(shapes.__all__)
    | set(statistics.__all__)
    | set(ufuncs.__all__)
    | set(writers.__all__)
)

# NumPy's constants and dtypes, so code written against ``np.`` reads the same (and its
# version: the functions follow the semantics of the NumPy they run on).
__version__ = _np.__version__
pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None
euler_gamma = _np.euler_gamma
dtype = _np.dtype
finfo = _np.finfo
iinfo = _np.iinfo
bool_ = _np.bool_
float16, float32, float64 = _np.float16, _np.float32, _np.float64
complex64, complex128 = _np.complex64, _np.complex128
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
intp = _np.intp

#: Names served by other chainrule modules, imported on first use: attribute -> (module,
#: attribute there; None for the module itself).
_LAZY = {
    "linalg": ("chainrule.linalg", None),
    "fft": ("chainrule.fft", None),
    "einsum": ("chainrule.contractions", "einsum"),
    "tensordot": ("chainrule.contractions", "tensordot"),
    "inner": ("chainrule.contractions", "inner"),
    "kron": ("chainrule.contractions", "kron"),
    "cross": ("chainrule.contractions", "cross"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module_name, attr = _LAZY[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            raise AttributeError(
                f"chainrule.numpy.{name} comes from {module_name}, which this build of "
                f"chainrule does not have yet"
            ) from None
        value = module if attr is None else getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'chainrule.numpy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


from . import dispatch  # noqa: E402, F401  (fills its table from the names above)
