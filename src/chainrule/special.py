"""``cr.special``: special functions with ``scipy.special``'s names, computed in NumPy
alone (SciPy is not needed) and differentiable in both modes to any order.

Values are accurate to about 1e-15 relative in float64 (``kernels``: W. J. Cody's
rational approximations for erf/erfc/erfcx, M. Giles' erfinv refined by Halley and Newton
steps, series for log-gamma and the polygamma functions). float32 inputs give float32
results; integers give float64. Complex inputs are not supported.
"""

from __future__ import annotations

from typing import Any

from . import ops
from . import rules_special as S
from .tensor import Tensor, apply, as_tensor

__all__ = [
    "NUMPY_FUNCTIONS",
    "digamma",
    "erf",
    "erfc",
    "erfcx",
    "erfinv",
    "expit",
    "gammaln",
    "log_ndtr",
    "logit",
    "polygamma",
    "psi",
    "softplus",
    "xlog1py",
    "xlogy",
]


def _as(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _unary(prim: Any, x: Any) -> Tensor:
    x = _as(x)
    if x.dtype.kind == "c":  # (checked here too: erf's shared kernel would drop the imaginary part)
        raise TypeError(f"{prim.name}: does not support complex inputs (a real special function)")
    return apply(prim, (x,))


def erf(x: Any) -> Tensor:
    """The error function 2/sqrt(pi) int_0^x exp(-t^2) dt; derivative 2/sqrt(pi) exp(-x^2).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([0.0, 0.5], requires_grad=True)
    >>> cr.special.erf(x)
    tensor([0.    , 0.5205], grad_fn=<erf>)
    >>> cr.special.erf(x).sum().backward()
    >>> x.grad
    tensor([1.1284, 0.8788])
    """
    return _unary(S.erf, x)


def erfc(x: Any) -> Tensor:
    """1 - erf(x), accurate where it is tiny (x >> 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.erfc(cr.tensor([0.0, 10.0])).numpy()
    array([1.00000000e+00, 2.08848758e-45])
    """
    return _unary(S.erfc, x)


def erfcx(x: Any) -> Tensor:
    """The scaled complementary error function exp(x^2) erfc(x) (no underflow for x >> 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.erfcx(cr.tensor([0.0, 100.0])).numpy().round(8)
    array([1.        , 0.00564161])
    """
    return _unary(S.erfcx, x)


def erfinv(x: Any) -> Tensor:
    """The inverse of erf on [-1, 1] (+-inf at +-1, NaN outside); derivative
    sqrt(pi)/2 exp(erfinv(x)^2).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.erfinv(cr.special.erf(cr.tensor([0.25, -1.5])))
    tensor([ 0.25, -1.5 ])
    """
    return _unary(S.erfinv, x)


def gammaln(x: Any) -> Tensor:
    """log |Gamma(x)|; derivative digamma(x). +inf at 0 and the negative integers.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.gammaln(cr.tensor([1.0, 5.0]))  # log 0! and log 4!
    tensor([0.    , 3.1781])
    """
    return _unary(S.gammaln, x)


def polygamma(n: int, x: Any) -> Tensor:
    """The n-th derivative of the digamma function (``scipy.special.polygamma(n, x)``);
    its derivative is polygamma(n + 1, x).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.polygamma(1, cr.tensor(1.0))  # pi^2 / 6
    tensor(1.6449)
    """
    try:
        n = int(n)
    except TypeError:
        raise TypeError(f"polygamma: the order n must be an integer, got {n!r}") from None
    if n < 0:
        raise ValueError(f"polygamma: the order n must be >= 0, got {n}")
    return apply(S.polygamma, (_as(x),), {"n": n})


def digamma(x: Any) -> Tensor:
    """The digamma function psi = Gamma' / Gamma; derivative polygamma(1, x). -inf at 0,
    NaN at the negative integers (as SciPy).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.digamma(cr.tensor(1.0))  # -Euler's gamma
    tensor(-0.5772)
    """
    return polygamma(0, x)


psi = digamma


def expit(x: Any) -> Tensor:
    """The logistic sigmoid 1 / (1 + exp(-x)) (the same primitive as ``cr.sigmoid``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.expit(cr.tensor([0.0, 100.0]))
    tensor([0.5, 1. ])
    """
    return ops.sigmoid(x)


def logit(p: Any) -> Tensor:
    """log(p / (1 - p)), the inverse of ``expit``; derivative 1 / (p (1 - p)). -inf at 0,
    +inf at 1, NaN outside [0, 1].

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.logit(cr.special.expit(cr.tensor([-2.0, 3.0])))
    tensor([-2.,  3.])
    """
    return _unary(S.logit, p)


def softplus(x: Any) -> Tensor:
    """log(1 + exp(x)) without overflow; derivative expit(x).

    Examples
    --------
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.special.softplus(cr.tensor([0.0, 1000.0])).tolist()]
    [0.6931, 1000.0]
    """
    return _unary(S.softplus, x)


def log_ndtr(x: Any) -> Tensor:
    """log of the standard normal CDF, accurate in both tails; derivative
    phi(x) / Phi(x), finite everywhere.

    Examples
    --------
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.special.log_ndtr(cr.tensor([0.0, -40.0])).tolist()]
    [-0.6931, -804.6084]
    """
    return _unary(S.log_ndtr, x)


def _binary(prim: Any, x: Any, y: Any) -> Tensor:
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = as_tensor(x)
    return apply(prim, (x, y))


def xlogy(x: Any, y: Any) -> Tensor:
    """x * log(y), 0 where x == 0 (even at y == 0), broadcast. Gradients: log(y) for x
    and x / y for y (exactly 0 where x == 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.xlogy(cr.tensor([0.0, 2.0]), cr.tensor([0.0, 1.0]))
    tensor([0., 0.])
    """
    return _binary(S.xlogy, x, y)


def xlog1py(x: Any, y: Any) -> Tensor:
    """x * log1p(y), 0 where x == 0 (even at y == -1), broadcast. Gradients: log1p(y)
    for x and x / (1 + y) for y (exactly 0 where x == 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.xlog1py(cr.tensor([0.0, 2.0]), cr.tensor([-1.0, 0.0]))
    tensor([0., 0.])
    """
    return _binary(S.xlog1py, x, y)


#: scipy.special's functions are not NumPy's: nothing for ``__array_function__`` here.
NUMPY_FUNCTIONS: dict = {}
