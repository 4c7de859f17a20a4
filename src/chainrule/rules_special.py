"""The rule table of the special functions (``cr.special``): erf, erfc, erfcx, erfinv,
erfcinv, gamma, rgamma, gammaln, gammasgn, beta, betaln, polygamma (digamma), log_ndtr,
logit, softplus, xlogy and xlog1py.

The forward values are NumPy-only kernels (``kernels.erf`` ...: Cody's rational erf,
Giles' erfinv refined by Halley/Newton steps, series for log-gamma and polygamma). Each
derivative is written with these primitives again, so every function is differentiable
to any order: erf' is exp(-x^2), gammaln' is digamma, digamma' is polygamma(1), gamma' is
gamma digamma, and so on. erf and erfc also take complex input (holomorphic: the VJP is
g conj(f'), PyTorch's convention, as for exp); the others are real only. gammasgn is
piecewise constant: no gradient.
"""

from __future__ import annotations

import math
from typing import Any

from . import kernels as K
from . import rules as R
from . import rules_nn as RN
from .primitives import Primitive, defjvp, deflower, defvjp, nondifferentiable
from .rules_linalg import masked_div

__all__ = [
    "beta",
    "betaln",
    "erf",
    "erfc",
    "erfcinv",
    "erfcx",
    "erfinv",
    "gamma",
    "gammaln",
    "gammasgn",
    "log_ndtr",
    "logit",
    "polygamma",
    "rgamma",
    "softplus",
    "xlog1py",
    "xlogy",
]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT1_2 = math.sqrt(0.5)


def _elementwise(
    name: str,
    impl: Any,
    local_grad: Any,
    *,
    inputs: bool = True,
    output: bool = False,
    complex: bool = False,
) -> Primitive:
    """A unary primitive with VJP g f'(x) and JVP t f'(x); ``local_grad(ans, x)``. With
    ``complex`` it also takes complex input, as a holomorphic function: the VJP of a complex
    output is g conj(f'(z)) (PyTorch's convention, as ``rules.unary`` gives exp)."""
    prim = Primitive(
        name,
        impl,
        kind="elementwise",
        save_inputs=inputs,
        save_output=output,
        complex=complex,
    )
    defvjp(
        prim,
        lambda g, ans, x: g * local_grad(ans, x),
        complex_rules=(lambda g, ans, x: g * R.conj(local_grad(ans, x)),),
    )
    defjvp(prim, lambda t, ans, x: t * local_grad(ans, x))
    deflower(prim, f"{name}({{0}})")
    return prim


# erf and softplus are the network primitives of rules_nn (GELU, Softplus), shared so that
# each function is one primitive whichever namespace it is called from.
erf = RN.erf
softplus = RN.softplus

# erfc = 1 - erf: erfc' = -2/sqrt(pi) exp(-x^2), for complex z too (holomorphic).
erfc = _elementwise(
    "erfc", K.erfc, lambda ans, x: R.exp(-(x * x)) * -_TWO_OVER_SQRT_PI, complex=True
)
# erfcx(x) = exp(x^2) erfc(x): erfcx' = 2 x erfcx(x) - 2/sqrt(pi).
erfcx = _elementwise(
    "erfcx", K.erfcx, lambda ans, x: 2 * x * ans - _TWO_OVER_SQRT_PI, inputs=True, output=True
)
# The inverse function's derivative 1 / erf'(erfinv(x)) = sqrt(pi)/2 exp(erfinv(x)^2).
erfinv = _elementwise(
    "erfinv",
    K.erfinv,
    lambda ans, x: R.exp(ans * ans) * _SQRT_PI_OVER_2,
    inputs=False,
    output=True,
)

# erfcinv(y) = erfinv(1 - y): the derivative -sqrt(pi)/2 exp(erfcinv(y)^2).
erfcinv = _elementwise(
    "erfcinv",
    K.erfcinv,
    lambda ans, y: R.exp(ans * ans) * -_SQRT_PI_OVER_2,
    inputs=False,
    output=True,
)


def _polygamma_impl(x: Any, n: int) -> Any:
    return K.polygamma(x, n)


polygamma = Primitive("polygamma", _polygamma_impl, kind="elementwise", complex=False)
# d/dx psi^(n)(x) = psi^(n+1)(x): the derivative is the next member of the family.
defvjp(polygamma, lambda g, ans, x, n: g * polygamma(x, n=n + 1))
defjvp(polygamma, lambda t, ans, x, n: t * polygamma(x, n=n + 1))
deflower(polygamma, "polygamma({0}, {n!r})")

# d/dx log|Gamma(x)| = digamma(x), for negative x too.
gammaln = _elementwise("gammaln", K.gammaln, lambda ans, x: polygamma(x, n=0))

# Gamma' = Gamma psi.
gamma = _elementwise(
    "gamma", K.gamma, lambda ans, x: ans * polygamma(x, n=0), inputs=True, output=True
)


def _rgamma_grad(ans: Any, x: Any) -> Any:
    """(1/Gamma)' = -psi(x) / Gamma(x): right for x >= 1/2, but 0 * inf at the zeros
    0, -1, -2, ... of the entire 1/Gamma, where the derivative is (-1)^n n!. So for x < 1/2
    it is taken from the reflection 1/Gamma(x) = sin(pi x) Gamma(1 - x) / pi instead:
    cos(pi x) Gamma(1 - x) - psi(1 - x) / Gamma(x), finite there (1 - x >= 1/2). Each branch
    reads a where-guarded input (a safe value where the other branch is taken), so the
    branch not taken is finite and its zero cotangent gives exact zeros at every order."""
    below = x < 0.5
    x_lo = R.where(below, x, 0.0)
    x_hi = R.where(below, 1.0, x)
    reflected = R.cos(x_lo * math.pi) * gamma(1.0 - x_lo) - ans * polygamma(1.0 - x_lo, n=0)
    return R.where(below, reflected, -ans * polygamma(x_hi, n=0))


rgamma = _elementwise("rgamma", K.rgamma, _rgamma_grad, inputs=True, output=True)

# The sign of Gamma is piecewise constant (NaN at the poles): no gradient, like sign.
gammasgn = nondifferentiable("gammasgn", K.gammasgn, 1, complex=False)
deflower(gammasgn, "gammasgn({0})")


def _psi_difference(a: Any, b: Any) -> tuple:
    """d/da log B(a, b) = psi(a) - psi(a + b), d/db = psi(b) - psi(a + b)."""
    psi_sum = polygamma(a + b, n=0)
    return polygamma(a, n=0) - psi_sum, polygamma(b, n=0) - psi_sum


beta = Primitive("beta", K.beta, kind="elementwise", nin=2, save_output=True, complex=False)
# B' = B (psi(a) - psi(a + b)) in a, and the same with b.
defvjp(
    beta,
    lambda g, ans, a, b: g * ans * _psi_difference(a, b)[0],
    lambda g, ans, a, b: g * ans * _psi_difference(a, b)[1],
)
defjvp(
    beta,
    lambda t, ans, a, b: t * ans * _psi_difference(a, b)[0],
    lambda t, ans, a, b: t * ans * _psi_difference(a, b)[1],
)
deflower(beta, "beta({0}, {1})")

betaln = Primitive("betaln", K.betaln, kind="elementwise", nin=2, complex=False)
defvjp(
    betaln,
    lambda g, ans, a, b: g * _psi_difference(a, b)[0],
    lambda g, ans, a, b: g * _psi_difference(a, b)[1],
)
defjvp(
    betaln,
    lambda t, ans, a, b: t * _psi_difference(a, b)[0],
    lambda t, ans, a, b: t * _psi_difference(a, b)[1],
)
deflower(betaln, "betaln({0}, {1})")

# d/dx log Phi(x) = phi(x) / Phi(x) = sqrt(2/pi) / erfcx(-x / sqrt 2): the Mills-ratio form
# stays finite in both tails (about -x for x << 0, and 0 for x >> 0).
log_ndtr = _elementwise(
    "log_ndtr", K.log_ndtr, lambda ans, x: _SQRT_2_OVER_PI / erfcx(x * -_SQRT1_2)
)

# logit' = 1 / (p (1 - p)).
logit = _elementwise("logit", K.logit, lambda ans, p: 1.0 / (p * (1 - p)))


xlogy = Primitive("xlogy", K.xlogy, kind="elementwise", nin=2, complex=False)
# f = x log y, defined as 0 at x = 0. d/dx = log y (-inf at y = 0, where f jumps from 0 to
# -inf: no derivative), d/dy = x / y, exactly 0 where x = 0 (f(0, y) = 0 for every y;
# masked_div keeps that 0 at y = 0 and is linear in x, so higher orders are right too).
defvjp(
    xlogy,
    lambda g, ans, x, y: g * R.log(y),
    lambda g, ans, x, y: g * masked_div(x, y),
)
defjvp(
    xlogy,
    lambda t, ans, x, y: t * R.log(y),
    lambda t, ans, x, y: t * masked_div(x, y),
)
deflower(xlogy, "xlogy({0}, {1})")

xlog1py = Primitive("xlog1py", K.xlog1py, kind="elementwise", nin=2, complex=False)
# f = x log1p(y), 0 at x = 0: d/dx = log1p(y) (written xlog1py(1, y), so it is this
# primitive again), d/dy = x / (1 + y), exactly 0 where x = 0.
defvjp(
    xlog1py,
    lambda g, ans, x, y: g * xlog1py(1.0, y),
    lambda g, ans, x, y: g * masked_div(x, 1 + y),
)
defjvp(
    xlog1py,
    lambda t, ans, x, y: t * xlog1py(1.0, y),
    lambda t, ans, x, y: t * masked_div(x, 1 + y),
)
deflower(xlog1py, "xlog1py({0}, {1})")
