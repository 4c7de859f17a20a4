"""``cr.special``: special functions with ``scipy.special``'s names, computed in NumPy
alone (SciPy is not needed) and differentiable in both modes to any order.

Values are accurate to about 1e-15 relative in float64 (``kernels``: W. J. Cody's
rational approximations for erf/erfc/erfcx, M. Giles' erfinv refined by Halley and Newton
steps, series for log-gamma and the polygamma functions, Stirling's formula for gamma and
beta; the complex erf by Abramowitz & Stegun 7.1.29). float32 inputs give float32
results; integers give float64. Only erf and erfc take complex input; the others raise
``TypeError``. ``logsumexp`` and ``multigammaln`` are compositions of primitives
(``cr.logsumexp``, ``gammaln``), so they need no rules of their own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import ops
from . import rules as R
from . import rules_numpy as RNP
from . import rules_special as S
from .tensor import Tensor, apply, as_tensor

__all__ = [
    "NUMPY_FUNCTIONS",
    "beta",
    "betaln",
    "digamma",
    "erf",
    "erfc",
    "erfcinv",
    "erfcx",
    "erfinv",
    "expit",
    "gamma",
    "gammaln",
    "gammasgn",
    "log_ndtr",
    "loggamma",
    "logit",
    "logsumexp",
    "multigammaln",
    "polygamma",
    "psi",
    "rgamma",
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

    Complex ``z`` too (as ``scipy.special.erf``; complex64 stays complex64), about 1e-15
    relative for |z| <= 6 in each of the real and imaginary parts, the error growing with
    erf's own condition number (~|z|^2) beyond. It is holomorphic, so a gradient of a real
    loss follows PyTorch's convention: ``z.grad`` = conj(erf'(z)) times the upstream
    gradient, as for ``cr.exp``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([0.0, 0.5], requires_grad=True)
    >>> cr.special.erf(x)
    tensor([0.    , 0.5205], grad_fn=<erf>)
    >>> cr.special.erf(x).sum().backward()
    >>> x.grad
    tensor([1.1284, 0.8788])
    >>> print(cr.special.erf(cr.tensor(1 + 1j)).numpy().round(6))
    (1.316151+0.190453j)
    """
    return apply(S.erf, (_as(x),))


def erfc(x: Any) -> Tensor:
    """1 - erf(x), accurate where it is tiny (x >> 0; for complex z, where Re z >> |Im z|).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.erfc(cr.tensor([0.0, 10.0])).numpy()
    array([1.00000000e+00, 2.08848758e-45])
    >>> z = cr.special.erfc(cr.tensor(5 + 1j)).item()
    >>> f"{z.real:.10e} {z.imag:.10e}"
    '-2.9597765469e-12 2.8460183821e-12'
    """
    return apply(S.erfc, (_as(x),))


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


def erfcinv(y: Any) -> Tensor:
    """The inverse of erfc on [0, 2] (+inf at 0, -inf at 2, NaN outside), accurate for
    tiny y (where ``erfinv(1 - y)`` would lose 1 - y's digits); derivative
    -sqrt(pi)/2 exp(erfcinv(y)^2).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.erfcinv(cr.special.erfc(cr.tensor([0.25, 20.0])))
    tensor([ 0.25, 20.  ])
    """
    return _unary(S.erfcinv, y)


def gamma(x: Any) -> Tensor:
    """The gamma function (``scipy.special.gamma``): +-inf at +-0, NaN at the negative
    integers, inf beyond 171.62; derivative gamma(x) digamma(x).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([5.0, 0.5], requires_grad=True)
    >>> cr.special.gamma(x)  # 4! and sqrt(pi)
    tensor([24.    ,  1.7725], grad_fn=<gamma>)
    >>> cr.special.gamma(x).sum().backward()
    >>> x.grad  # 24 (-gamma + 1 + 1/2 + 1/3 + 1/4) and sqrt(pi) (-gamma - 2 log 2)
    tensor([36.1468, -3.4802])
    """
    return _unary(S.gamma, x)


def rgamma(x: Any) -> Tensor:
    """1 / gamma(x), an entire function: 0 at 0, -1, -2, ... (where gamma has its poles),
    and its derivative is right there too ((-1)^n n! at -n), to every order.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([4.0, 0.0, -2.0], requires_grad=True)
    >>> cr.special.rgamma(x)
    tensor([0.1667, 0.    , 0.    ], grad_fn=<rgamma>)
    >>> cr.special.rgamma(x).sum().backward()
    >>> x.grad  # -digamma(4) / 3!, then 1 and 2! at the zeros
    tensor([-0.2094,  1.    ,  2.    ])
    """
    return _unary(S.rgamma, x)


def gammasgn(x: Any) -> Tensor:
    """The sign of gamma(x): 1 for x > 0, alternating -1, 1, ... on the intervals
    (-1, 0), (-2, -1), ..., NaN at the poles (SciPy's values, +-1 at +-0). Not
    differentiable (piecewise constant; the result carries no gradient).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.gammasgn(cr.tensor([2.5, -0.5, -1.5]))
    tensor([ 1., -1.,  1.])
    """
    return _unary(S.gammasgn, x)


def gammaln(x: Any) -> Tensor:
    """log |Gamma(x)|; derivative digamma(x). +inf at 0 and the negative integers.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.gammaln(cr.tensor([1.0, 5.0]))  # log 0! and log 4!
    tensor([0.    , 3.1781])
    """
    return _unary(S.gammaln, x)


def loggamma(x: Any) -> Tensor:
    """log(gamma(x)) for real x, as ``scipy.special.loggamma`` gives it: ``gammaln`` for
    x >= 0, NaN for x < 0 (where gamma is negative or the log is complex; ``gammaln`` is
    log |gamma| everywhere). Complex input is not supported.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.loggamma(cr.tensor([4.0, -0.5]))  # log 3!, and NaN below 0
    tensor([1.7918,    nan])
    """
    x = _as(x)
    if x.dtype.kind == "c":
        raise TypeError("loggamma: does not support complex inputs (the real branch only)")
    return ops.where(x < 0, np.nan, _unary(S.gammaln, x))


def multigammaln(a: Any, d: int) -> Tensor:
    """The log of the multivariate gamma function of dimension d,
    d (d - 1) / 4 log(pi) + sum_{j < d} gammaln(a - j / 2) (``scipy.special.multigammaln``),
    defined for a > (d - 1) / 2: ``ValueError`` otherwise, as SciPy (and NaN there in a
    traced program run at other inputs). Differentiable in ``a``.

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([3.0, 4.5], requires_grad=True)
    >>> cr.special.multigammaln(a, 2)  # log(pi) / 2 + gammaln(a) + gammaln(a - 1/2)
    tensor([1.5502, 4.8179], grad_fn=<where>)
    >>> cr.special.multigammaln(a, 1)  # = gammaln
    tensor([0.6931, 2.4537], grad_fn=<where>)
    """
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer, float, np.floating)):
        raise ValueError(f"multigammaln: d should be a positive integer (dimension), got {d!r}")
    if d != int(d) or d < 1:
        raise ValueError(f"multigammaln: d should be a positive integer (dimension), got {d!r}")
    d = int(d)
    a = _as(a)
    if a.dtype.kind == "c":
        raise TypeError("multigammaln: does not support complex inputs (a real special function)")
    bound = 0.5 * (d - 1)
    values = np.asarray(a._data)  # (checked on the traced call's values under cr.jit)
    low = values <= bound
    if np.any(low) or np.any(np.isnan(values)):
        bad = values[low | np.isnan(values)].ravel()[0]
        raise ValueError(f"multigammaln: condition a ({bad}) > 0.5 * (d-1) ({bound}) not met")
    total = _unary(S.gammaln, a)
    for j in range(1, d):
        total = total + _unary(S.gammaln, a - 0.5 * j)
    total = total + d * (d - 1) / 4.0 * math.log(math.pi)
    return ops.where(a > bound, total, np.nan)


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
        # one of them becomes a Tensor: the array, so that a Python number beside it stays
        # a Python number (NumPy's promotion: float32 with 2.0 is float32)
        if isinstance(x, (int, float)) and not isinstance(y, (int, float)):
            y = as_tensor(y)
        else:
            x = as_tensor(x)
    for v in (x, y):
        if isinstance(v, Tensor) and v.dtype.kind == "c":
            raise TypeError(
                f"{prim.name}: does not support complex inputs (a real special function)"
            )
    return apply(prim, (x, y))


def beta(a: Any, b: Any) -> Tensor:
    """The beta function gamma(a) gamma(b) / gamma(a + b), broadcast; its gradients are
    beta(a, b) (digamma(a) - digamma(a + b)) and the same in b. At a pole of a or b
    (0, -1, -2, ...) SciPy's values: the finite limit (-1)^b beta(1 - a - b, b) where b is
    an integer with 1 - a - b > 0, +inf otherwise.

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor(2.0, requires_grad=True)
    >>> cr.special.beta(a, cr.tensor([3.0, 0.5]))  # 1/12 and 4/3
    tensor([0.0833, 1.3333], grad_fn=<beta>)
    >>> cr.special.beta(a, 3.0).backward()
    >>> a.grad  # (1/12) (psi(2) - psi(5)) = (1/12) (-1/2 - 1/3 - 1/4)
    tensor(-0.0903)
    """
    return _binary(S.beta, a, b)


def betaln(a: Any, b: Any) -> Tensor:
    """log |beta(a, b)|, broadcast, accurate when one argument is large (where the sum of
    three gammaln values would cancel); gradients digamma(a) - digamma(a + b) and the same
    in b.

    Examples
    --------
    >>> import chainrule as cr
    >>> [round(v, 10) for v in cr.special.betaln(cr.tensor([1e6, 2.0]), 1.0).tolist()]
    [-13.815510558, -0.6931471806]
    """
    return _binary(S.betaln, a, b)


def logsumexp(
    a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False
) -> Any:
    """log(sum(b * exp(a))) over ``axis`` without overflow, with
    ``scipy.special.logsumexp``'s arguments. Without ``b`` it is ``cr.logsumexp`` (one
    primitive). With weights ``b`` (broadcast against ``a``, differentiable too) the sum is
    shifted by the largest ``a`` with a nonzero weight; it may then be negative: ``NaN``,
    or with ``return_sign=True`` the pair (log |sum|, sign(sum)) (the sign carries no
    gradient). Gradients: b e^(a - out) / sign for ``a`` and e^(a - out) / sign for ``b``.

    Examples
    --------
    >>> import chainrule as cr
    >>> a = cr.tensor([1000.0, 1000.0], requires_grad=True)
    >>> cr.special.logsumexp(a)
    tensor(1000.6931, grad_fn=<logsumexp>)
    >>> out, sign = cr.special.logsumexp(cr.tensor([1.0, 2.0]), b=[1.0, -1.0], return_sign=True)
    >>> round(out.item(), 4), sign.item()  # log(e^2 - e) and the sum's sign
    (1.5413, -1.0)
    """
    a = _as(a)
    if a.dtype.kind == "c":
        raise TypeError("logsumexp: does not support complex inputs")
    if b is None and not return_sign:
        return ops.logsumexp(a, axis, keepdims)
    if b is None:
        b = np.ones(a.shape, dtype=a.dtype if a.dtype.kind == "f" else np.float64)
    b = _as(b)
    if b.dtype.kind == "c":
        raise TypeError("logsumexp: does not support complex weights b")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"logsumexp: a of shape {a.shape} and b of shape {b.shape} do not broadcast"
        ) from None
    axis = ops._norm_axis("logsumexp", axis, shape)
    if shape != a.shape:
        a = ops.broadcast_to(a, shape)
    if shape != b.shape:
        b = ops.broadcast_to(b, shape)
    # The shift: the largest a with a nonzero weight (0 where there is none or it is
    # infinite). floor() leaves it within 1 of that, keeps it out of the derivative (it
    # cancels exactly), so the gradients are exactly b e^(a - out) / sign.
    top = ops.max(ops.where(b != 0, a, -np.inf), axis=axis, keepdims=True)
    shift = ops.where(R.isfinite(top), RNP.floor(top), 0.0)
    # An a far above the shift has a zero weight: its exp is capped at e^709 so that the
    # product stays 0 rather than 0 * inf (only d/db there, astronomically large in
    # truth, is capped with it; a = +inf with a nonzero weight still gives inf).
    exponent = a - shift
    exponent = ops.where(b == 0, ops.minimum(exponent, 709.0), exponent)
    total = ops.sum(b * ops.exp(exponent), axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        if return_sign:
            out, sign = ops.log(ops.abs(total)) + shift, R.sign(total)
        else:
            out = ops.log(total) + shift
    if not keepdims:
        reduced = tuple(
            n for i, n in enumerate(shape) if axis is not None and i not in _axes(axis, len(shape))
        )
        out = out.reshape(reduced)
        if return_sign:
            sign = sign.reshape(reduced)
    return (out, sign) if return_sign else out


def _axes(axis: Any, ndim: int) -> set:
    axes = (axis,) if isinstance(axis, int) else axis
    return {ax % ndim for ax in axes}


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
