"""The NumPy family's rule table: the primitives behind ``chainrule.numpy`` that are not in
``rules.py`` (more elementwise functions, products, scans, sorting indices), VJP and JVP side
by side.

The conventions are rules.py's: rules are staged (written with primitives and operators, so
one rule serves the array path and the recorded path), depend on values only through
primitives (masks are comparisons), never undo broadcasting, and follow PyTorch's complex
convention (a holomorphic function's VJP is ``g * conj(f'(z))``). Every subgradient choice
is commented where it is made. Constants are Python floats (``math.pi``), which stay weakly
typed: a float32 input keeps float32 gradients without a cast.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import kernels as K
from .primitives import Primitive, defjvp, deflower, defvjp, nondifferentiable
from .rules import (
    _ndim,
    _reduced_keepdims,
    _shape,
    conj,
    cos,
    exp,
    isnan,
    reshape_to,
    sqrt,
    sum,
    transpose,
    unary,
    where,
)

__all__ = ["others_product"]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)

# --------------------------------------------------------------------------- elementwise
# Holomorphic functions: ``unary`` derives the complex VJP g * conj(f') from f' alone.

tan = unary("tan", np.tan, lambda ans, x: 1 + ans * ans, save="output")
sinh = unary("sinh", np.sinh, lambda ans, x: cosh(x), save="input")
cosh = unary("cosh", np.cosh, lambda ans, x: sinh(x), save="input")
arcsin = unary("arcsin", np.arcsin, lambda ans, x: 1 / sqrt(1 - x * x), save="input")
arccos = unary("arccos", np.arccos, lambda ans, x: -1 / sqrt(1 - x * x), save="input")
arctan = unary("arctan", np.arctan, lambda ans, x: 1 / (1 + x * x), save="input")
arcsinh = unary("arcsinh", np.arcsinh, lambda ans, x: 1 / sqrt(x * x + 1), save="input")
# 1 / (sqrt(z - 1) sqrt(z + 1)) rather than 1 / sqrt(z^2 - 1): the same for real z > 1, and
# the branch that matches NumPy's arccosh for complex z with a negative real part.
arccosh = unary("arccosh", np.arccosh, lambda ans, x: 1 / (sqrt(x - 1) * sqrt(x + 1)), save="input")
arctanh = unary("arctanh", np.arctanh, lambda ans, x: 1 / (1 - x * x), save="input")
log2 = unary("log2", np.log2, lambda ans, x: 1 / (x * _LN2), save="input")
log10 = unary("log10", np.log10, lambda ans, x: 1 / (x * _LN10), save="input")
log1p = unary("log1p", np.log1p, lambda ans, x: 1 / (1 + x), save="input")
expm1 = unary("expm1", np.expm1, lambda ans, x: ans + 1, save="output")
exp2 = unary("exp2", np.exp2, lambda ans, x: ans * _LN2, save="output")
# cbrt is real-only in NumPy; its derivative 1 / (3 cbrt(x)^2) is infinite at 0.
cbrt = unary("cbrt", np.cbrt, lambda ans, x: 1 / (3 * ans * ans), save="output", complex=False)

_PI = math.pi


def _sinc_grad(ans: Any, x: Any) -> Any:
    """d/dx sin(pi x) / (pi x) = (cos(pi x) - sinc(x)) / x. That quotient cancels badly
    near 0 (and is 0/0 at 0), so for |x| < 0.01 the derivative's Taylor series is used:
    -pi^2 x / 3 + pi^4 x^3 / 30 - pi^6 x^5 / 840 (error below 1e-14 there). Being a
    polynomial, the series also gives the right higher derivatives at 0 (sinc''(0) =
    -pi^2 / 3), which a where(x == 0, 0, ...) patch would not."""
    small = abs(x) < 0.01
    safe = where(small, 1.0, x)
    x2 = x * x
    series = x * (-(_PI**2) / 3 + x2 * (_PI**4 / 30 - x2 * (_PI**6 / 840)))
    return where(small, series, (cos(_PI * safe) - sinc(safe)) / safe)


sinc = unary("sinc", np.sinc, _sinc_grad, save="input")


def _zero_rule(g: Any, ans: Any, *inputs: Any, **params: Any) -> Any:
    return g * 0


def _piecewise_constant(name: str, impl: Any, nin: int, complex: bool, lower: str) -> Primitive:
    """A primitive that is constant between jumps (floor, round, ...): its derivative is 0
    wherever it exists, and is taken as 0 at the jumps too (as JAX and PyTorch do), so a
    gradient through it is zero rather than missing."""
    prim = Primitive(name, impl, kind="elementwise", nin=nin, save_inputs=False, complex=complex)
    defvjp(prim, *([_zero_rule] * nin))
    defjvp(prim, *([_zero_rule] * nin))
    deflower(prim, lower)
    return prim


floor = _piecewise_constant("floor", np.floor, 1, False, "np.floor({0})")
ceil = _piecewise_constant("ceil", np.ceil, 1, False, "np.ceil({0})")
trunc = _piecewise_constant("trunc", np.trunc, 1, False, "np.trunc({0})")
rint = _piecewise_constant("rint", np.rint, 1, True, "np.rint({0})")


def _round_impl(x: Any, decimals: int) -> Any:
    return np.round(x, decimals)


round = _piecewise_constant("round", _round_impl, 1, True, "np.round({0}, {decimals!r})")
floor_divide = _piecewise_constant(
    "floor_divide", np.floor_divide, 2, False, "np.floor_divide({0}, {1})"
)

signbit = nondifferentiable("signbit", np.signbit, 1, complex=False)
deflower(signbit, "np.signbit({0})")

# --------------------------------------------------------------------------- binary


def _binary(name: str, impl: Any, vjps: tuple, jvps: tuple, **options: Any) -> Primitive:
    options.setdefault("complex", False)
    prim = Primitive(name, impl, kind="elementwise", nin=2, **options)
    defvjp(prim, *vjps)
    defjvp(prim, *jvps)
    deflower(prim, f"np.{name}({{0}}, {{1}})")
    return prim


# d/dx log(e^x + e^y) = e^(x - ans): the softmax weight of x, computed without overflow.
logaddexp = _binary(
    "logaddexp",
    np.logaddexp,
    (lambda g, ans, x, y: g * exp(x - ans), lambda g, ans, x, y: g * exp(y - ans)),
    (lambda t, ans, x, y: t * exp(x - ans), lambda t, ans, x, y: t * exp(y - ans)),
    save_output=True,
)
logaddexp2 = _binary(
    "logaddexp2",
    np.logaddexp2,
    (lambda g, ans, x, y: g * exp2(x - ans), lambda g, ans, x, y: g * exp2(y - ans)),
    (lambda t, ans, x, y: t * exp2(x - ans), lambda t, ans, x, y: t * exp2(y - ans)),
    save_output=True,
)

# x mod y = x - y floor(x / y): d/dx = 1 and d/dy = -floor(x / y) between the jumps. At a
# jump (x / y an integer) the quotient is the one NumPy's remainder used (floor_divide comes
# from the same divmod), so the gradient is the one-sided derivative on the side the value
# lies on. floor_divide is piecewise constant, so the second derivatives are 0.
remainder = _binary(
    "remainder",
    np.remainder,
    (lambda g, ans, x, y: g, lambda g, ans, x, y: -g * floor_divide(x, y)),
    (lambda t, ans, x, y: t, lambda t, ans, x, y: -t * floor_divide(x, y)),
)


def _fmod_quotient(ans: Any, x: Any, y: Any) -> Any:
    # fmod(x, y) = x - y trunc(x / y) with the quotient NumPy used: (x - ans) / y is that
    # integer up to rounding, so rint recovers it exactly (trunc(x / y) may round across
    # an integer). At a jump the one-sided derivative of the value's side is taken.
    return rint((x - ans) / y)


fmod = _binary(
    "fmod",
    np.fmod,
    (lambda g, ans, x, y: g, lambda g, ans, x, y: -g * _fmod_quotient(ans, x, y)),
    (lambda t, ans, x, y: t, lambda t, ans, x, y: -t * _fmod_quotient(ans, x, y)),
    save_output=True,
)


def _over(num: Any, den: Any) -> Any:
    """num / den, taken as 0 where den == 0 (the double-where trick keeps the unused branch
    finite at every order)."""
    zero = den == 0
    return where(zero, 0, num / where(zero, 1, den))


# hypot = sqrt(x^2 + y^2): d/dx = x / hypot. At the origin there is no derivative; the
# gradient is taken as 0 there (the subgradient of the cone at its tip closest to zero).
hypot = _binary(
    "hypot",
    np.hypot,
    (lambda g, ans, x, y: g * _over(x, ans), lambda g, ans, x, y: g * _over(y, ans)),
    (lambda t, ans, x, y: t * _over(x, ans), lambda t, ans, x, y: t * _over(y, ans)),
    save_output=True,
)

# arctan2(y, x): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2); 0 at the origin, where
# the angle is undefined.
arctan2 = _binary(
    "arctan2",
    np.arctan2,
    (
        lambda g, ans, y, x: g * _over(x, x * x + y * y),
        lambda g, ans, y, x: -g * _over(y, x * x + y * y),
    ),
    (
        lambda t, ans, y, x: t * _over(x, x * x + y * y),
        lambda t, ans, y, x: -t * _over(y, x * x + y * y),
    ),
)


def _fweight(x: Any, y: Any, x_wins: Any) -> Any:
    """The share of the gradient that goes to x in fmax/fmin (y gets the rest): to the
    winner, split evenly at ties (as maximum does); a NaN loses to a number (the value is
    the number's), and where both are NaN the (NaN) gradient is split evenly."""
    x_nan, y_nan = isnan(x), isnan(y)
    numbers = x_wins + 0.5 * (x == y)
    return where(y_nan, where(x_nan, 0.5, 1.0), where(x_nan, 0.0, numbers))


fmax = _binary(
    "fmax",
    np.fmax,
    (
        lambda g, ans, x, y: g * _fweight(x, y, x > y),
        lambda g, ans, x, y: g * (1 - _fweight(x, y, x > y)),
    ),
    (
        lambda t, ans, x, y: t * _fweight(x, y, x > y),
        lambda t, ans, x, y: t * (1 - _fweight(x, y, x > y)),
    ),
)
fmin = _binary(
    "fmin",
    np.fmin,
    (
        lambda g, ans, x, y: g * _fweight(x, y, x < y),
        lambda g, ans, x, y: g * (1 - _fweight(x, y, x < y)),
    ),
    (
        lambda t, ans, x, y: t * _fweight(x, y, x < y),
        lambda t, ans, x, y: t * (1 - _fweight(x, y, x < y)),
    ),
)


def _copysign_dx(x: Any, y: Any) -> Any:
    # copysign(x, y) = |x| s(y) with s the sign bit's sign, so d/dx = s(x) s(y); at x = 0
    # the sign bit of x decides (+0 -> +1, -0 -> -1), a one-sided derivative.
    return copysign(1.0, x) * copysign(1.0, y)


# The result does not change with y between its sign changes: d/dy is 0 (also at y = 0).
copysign = _binary(
    "copysign",
    np.copysign,
    (lambda g, ans, x, y: g * _copysign_dx(x, y), _zero_rule),
    (lambda t, ans, x, y: t * _copysign_dx(x, y), _zero_rule),
)

# --------------------------------------------------------------------------- scans
# Running sums and products along one axis (params: axis, reverse). ``shift`` and ``linrec``
# are the pieces their gradients are made of, and are closed under differentiation, so
# every order is exact, with zeros included (no division anywhere).


def _cumsum_impl(x: Any, axis: int, reverse: bool) -> Any:
    return K.cumsum_along(x, axis, reverse)


cumsum = Primitive("cumsum", _cumsum_impl, kind="other", save_inputs=False, linear=True)
# cumsum is linear; its transpose sums from the other end.
defvjp(cumsum, lambda g, ans, x, axis, reverse: cumsum(g, axis=axis, reverse=not reverse))
defjvp(cumsum, lambda t, ans, x, axis, reverse: cumsum(t, axis=axis, reverse=reverse))
deflower(cumsum, "cumsum_along({0}, {axis!r}, {reverse!r})")


def _shift_impl(x: Any, axis: int, step: int, fill: Any) -> Any:
    return K.shift_along(x, axis, step, fill)


shift = Primitive("shift", _shift_impl, kind="shape", save_inputs=False)
# out[i] = x[i - step] (fill at the edge): the transpose moves the other way, filling 0.
defvjp(shift, lambda g, ans, x, axis, step, fill: shift(g, axis=axis, step=-step, fill=0))
defjvp(shift, lambda t, ans, x, axis, step, fill: shift(t, axis=axis, step=step, fill=0))
deflower(shift, "shift_along({0}, {axis!r}, {step!r}, {fill!r})")


def _linrec_impl(a: Any, b: Any, axis: int, reverse: bool) -> Any:
    return K.linrec(a, b, axis, reverse)


def _step(reverse: bool) -> int:
    # s[i] depends on s[i - step]: step 1 running forwards, -1 backwards
    return -1 if reverse else 1


def _linrec_adjoint(u: Any, a: Any, axis: int, reverse: bool, cplx: bool) -> Any:
    """lambda with lambda[i] = u[i] + a[i + step] lambda[i + step]: the recurrence run the
    other way, with the coefficients moved one place (conjugated for complex)."""
    coef = shift(a, axis=axis, step=-_step(reverse), fill=0)
    return linrec(conj(coef) if cplx else coef, u, axis=axis, reverse=not reverse)


def _linrec_prev(ans: Any, axis: int, reverse: bool) -> Any:
    return shift(ans, axis=axis, step=_step(reverse), fill=0)  # s[i - step], 0 at the edge


linrec = Primitive("linrec", _linrec_impl, kind="other", nin=2, save_output=True)
# s = a * prev(s) + b. Tangents obey the same recurrence: ds = a * prev(ds) + (da * prev(s)
# + db). Gradients run it backwards (the adjoint lambda): db = lambda, da = lambda prev(s).
defvjp(
    linrec,
    lambda g, ans, a, b, axis, reverse: (
        _linrec_adjoint(g, a, axis, reverse, False) * _linrec_prev(ans, axis, reverse)
    ),
    lambda g, ans, a, b, axis, reverse: _linrec_adjoint(g, a, axis, reverse, False),
    complex_rules=(
        lambda g, ans, a, b, axis, reverse: (
            _linrec_adjoint(g, a, axis, reverse, True) * conj(_linrec_prev(ans, axis, reverse))
        ),
        lambda g, ans, a, b, axis, reverse: _linrec_adjoint(g, a, axis, reverse, True),
    ),
)
defjvp(
    linrec,
    lambda t, ans, a, b, axis, reverse: linrec(
        a, t * _linrec_prev(ans, axis, reverse), axis=axis, reverse=reverse
    ),
    lambda t, ans, a, b, axis, reverse: linrec(a, t, axis=axis, reverse=reverse),
)
deflower(linrec, "linrec({0}, {1}, {axis!r}, {reverse!r})")


def _cumprod_impl(x: Any, axis: int, reverse: bool) -> Any:
    return K.cumprod_along(x, axis, reverse)


def _exclusive_cumprod(x: Any, axis: int, reverse: bool) -> Any:
    """The running product of the elements before each one (1 for the first)."""
    return cumprod(shift(x, axis=axis, step=_step(reverse), fill=1), axis=axis, reverse=reverse)


def _cumprod_vjp(g: Any, x: Any, axis: int, reverse: bool, cplx: bool) -> Any:
    # dL/dx[i] = sum_{j >= i} g[j] prod_{k <= j, k != i} x[k] = P[i] S[i], with P the
    # product of the elements before i and S[i] = g[i] + x[i + 1] S[i + 1] (a recurrence
    # run backwards): products of the other elements only, right where an element is 0.
    before = _exclusive_cumprod(x, axis, reverse)
    coef = shift(x, axis=axis, step=-_step(reverse), fill=0)
    if cplx:
        before, coef = conj(before), conj(coef)
    return before * linrec(coef, g, axis=axis, reverse=not reverse)


cumprod = Primitive("cumprod", _cumprod_impl, kind="other")
defvjp(
    cumprod,
    lambda g, ans, x, axis, reverse: _cumprod_vjp(g, x, axis, reverse, False),
    complex_rules=(lambda g, ans, x, axis, reverse: _cumprod_vjp(g, x, axis, reverse, True),),
)
# dy[j] = sum_{i <= j} t[i] prod_{k <= j, k != i} x[k] = x[j] dy[j - 1] + t[j] P[j].
defjvp(
    cumprod,
    lambda t, ans, x, axis, reverse: linrec(
        x, t * _exclusive_cumprod(x, axis, reverse), axis=axis, reverse=reverse
    ),
)
deflower(cumprod, "cumprod_along({0}, {axis!r}, {reverse!r})")

# --------------------------------------------------------------------------- products


def others_product(x: Any, axis: Any) -> Any:
    """For each element, the product of the other elements of its slice along ``axis``
    (an int, a tuple of ints, or None for all): the product before it times the product
    after it, so an element that is 0 is handled exactly (no division by it). Staged: it
    runs on arrays and on Tensors (recorded).

    >>> import numpy as np
    >>> others_product(np.array([2.0, 0.0, 3.0]), 0)
    array([0., 6., 0.])
    """
    ndim = _ndim(x)
    shape = _shape(x)
    if axis is None:
        axes = tuple(range(ndim))
    elif isinstance(axis, (int, np.integer)):
        axes = (int(axis) % ndim,)
    else:
        axes = tuple(sorted(int(a) % ndim for a in axis))
    if len(axes) == 1:
        flat, a = x, axes[0]
    else:
        # move the reduced axes to the end and make them one
        rest = tuple(i for i in range(ndim) if i not in axes)
        order = rest + axes
        moved = transpose(x, axes=order) if order != tuple(range(ndim)) else x
        flat = reshape_to(moved, tuple(shape[i] for i in rest) + (-1,))
        a = len(rest)
    n = _shape(flat)[a]
    if n <= 1:
        out = flat * 0 + 1  # the empty product
    else:
        out = _exclusive_cumprod(flat, a, False) * _exclusive_cumprod(flat, a, True)
    if len(axes) == 1:
        return out
    moved_shape = tuple(shape[i] for i in order)
    out = reshape_to(out, moved_shape)
    inverse = tuple(int(i) for i in np.argsort(order))
    return transpose(out, axes=inverse) if order != tuple(range(ndim)) else out


def _prod_impl(x: Any, axis: Any, keepdims: bool) -> Any:
    return np.multiply.reduce(x, axis=axis, keepdims=keepdims)


prod = Primitive("prod", _prod_impl, kind="reduction")
# d prod / dx[i] = the product of the other elements (others_product: no division, so an
# element that is 0 gets the product of the rest and the others get 0, at every order).
defvjp(
    prod,
    lambda g, ans, x, axis, keepdims: (
        _reduced_keepdims(g, axis, _ndim(x), keepdims) * others_product(x, axis)
    ),
    complex_rules=(
        lambda g, ans, x, axis, keepdims: (
            _reduced_keepdims(g, axis, _ndim(x), keepdims) * conj(others_product(x, axis))
        ),
    ),
)
defjvp(
    prod,
    lambda t, ans, x, axis, keepdims: sum(
        t * others_product(x, axis), axis=axis, keepdims=keepdims, shape=_shape(x)
    ),
)
deflower(prod, "np.multiply.reduce({0}, axis={axis!r}, keepdims={keepdims!r})")

# --------------------------------------------------------------------------- indices
# Integer and boolean results carry no gradient; they are primitives so that a traced
# program recomputes them at new inputs (the order of a sort, the places of a mask).


def _argsort_impl(x: Any, axis: int, kind: Any) -> Any:
    return np.argsort(x, axis=axis, kind=kind)


argsort = nondifferentiable("argsort", _argsort_impl, 1, kind="index")
deflower(argsort, "np.argsort({0}, axis={axis!r}, kind={kind!r})")


def _argpartition_impl(x: Any, kth: Any, axis: int) -> Any:
    return np.argpartition(x, kth, axis=axis)


argpartition = nondifferentiable("argpartition", _argpartition_impl, 1, kind="index")
deflower(argpartition, "np.argpartition({0}, {kth!r}, axis={axis!r})")

argwhere = nondifferentiable("argwhere", np.argwhere, 1, kind="index")
deflower(argwhere, "np.argwhere({0})")


def _searchsorted_impl(a: Any, v: Any, side: str) -> Any:
    return np.searchsorted(a, v, side=side)


# Where v's values would go in the sorted a (integer positions: no gradient); interp reads
# its segments from it, so a traced program recomputes them at new inputs.
searchsorted = nondifferentiable("searchsorted", _searchsorted_impl, 2, kind="index")
deflower(searchsorted, "np.searchsorted({0}, {1}, side={side!r})")


def _argextreme_impl(x: Any, fn: str, axis: Any, keepdims: bool) -> Any:
    return (np.argmax if fn == "argmax" else np.argmin)(x, axis=axis, keepdims=keepdims)


# argmax/argmin with keepdims and complex inputs (NumPy orders complex numbers by real
# part, then imaginary part); rules.argmax stays as the Tensor method's fast path.
argextreme = nondifferentiable("argextreme", _argextreme_impl, 1, kind="reduction")
deflower(argextreme, "np.{fn}({0}, axis={axis!r}, keepdims={keepdims!r})")


def _any_impl(x: Any, axis: Any, keepdims: bool) -> Any:
    return np.any(x, axis=axis, keepdims=keepdims)


def _all_impl(x: Any, axis: Any, keepdims: bool) -> Any:
    return np.all(x, axis=axis, keepdims=keepdims)


any = nondifferentiable("any", _any_impl, 1, kind="reduction")
deflower(any, "np.any({0}, axis={axis!r}, keepdims={keepdims!r})")
all = nondifferentiable("all", _all_impl, 1, kind="reduction")
deflower(all, "np.all({0}, axis={axis!r}, keepdims={keepdims!r})")

# --------------------------------------------------------------------------- more elementwise


def _i0_impl(x: Any) -> Any:
    return np.i0(x)


def _i1_grad(ans: Any, x: Any) -> Any:
    """d/dx I1(x) = I0(x) - I1(x) / x. I1(x) / x tends to 1/2 at 0: for |x| < 1e-3 its
    series 1/2 + x^2/16 + x^4/384 is used (error below 1e-22 there), which as a polynomial
    also gives the right higher derivatives at 0 (a where(x == 0, 0.5, ...) patch would
    not)."""
    small = abs(x) < 1e-3
    safe = where(small, 1.0, x)
    x2 = x * x
    series = 0.5 + x2 * (1.0 / 16.0 + x2 / 384.0)
    return i0(x) - where(small, series, bessel_i1(safe) / safe)


# The modified Bessel function I0, computed by NumPy's own np.i0; its derivative is I1
# (kernels.bessel_i1, NumPy having none), whose derivative is I0 - I1 / x. Real only.
i0 = unary("i0", _i0_impl, lambda ans, x: bessel_i1(x), save="input", complex=False)
bessel_i1 = unary(
    "bessel_i1", K.bessel_i1, _i1_grad, save="input", complex=False, lower="bessel_i1({0})"
)


def _frexp_exponent_impl(x: Any) -> Any:
    return np.frexp(x)[1]


# frexp's integer exponent e (x = m 2^e, 0.5 <= |m| < 1): no gradient; the mantissa is
# x 2^-e, made of it.
frexp_exponent = nondifferentiable("frexp_exponent", _frexp_exponent_impl, 1, complex=False)
deflower(frexp_exponent, "np.frexp({0})[1]")

# spacing(x), the distance to the next float: constant between powers of two, so its
# derivative is 0 (taken as 0 at the jumps too, as floor's).
spacing = _piecewise_constant("spacing", np.spacing, 1, False, "np.spacing({0})")

# nextafter(x1, x2) carries no gradient: JAX defines no derivative for lax.nextafter
# either (the value is x1 moved by one ulp, a step function of x1 at the float grid).
nextafter = nondifferentiable("nextafter", np.nextafter, 2, complex=False)
deflower(nextafter, "np.nextafter({0}, {1})")


def _integer_ufunc(name: str, ufunc: Any) -> Primitive:
    """An integer ufunc (gcd, shifts, ...): integer results carry no gradient; a primitive
    so that a traced program recomputes it."""
    prim = nondifferentiable(name, ufunc, ufunc.nin, complex=False)
    args = ", ".join(f"{{{i}}}" for i in range(ufunc.nin))
    deflower(prim, f"np.{name}({args})")
    return prim


gcd = _integer_ufunc("gcd", np.gcd)
lcm = _integer_ufunc("lcm", np.lcm)
left_shift = _integer_ufunc("left_shift", np.left_shift)
right_shift = _integer_ufunc("right_shift", np.right_shift)
bitwise_count = _integer_ufunc("bitwise_count", np.bitwise_count)

# --------------------------------------------------------------------------- sets, histograms


def _unique_part_impl(x: Any, part: str, axis: Any, equal_nan: bool, hashed: bool) -> Any:
    return K.unique_part(x, part, axis, equal_nan, hashed)


# np.unique's integer answers (where each unique value first occurs, the inverse, the
# counts): no gradient. The unique values are x gathered at the first occurrences, so a
# traced program recomputes which elements they are.
unique_part = nondifferentiable("unique_part", _unique_part_impl, 1, kind="index")
deflower(unique_part, "unique_part({0}, {part!r}, {axis!r}, {equal_nan!r}, {hashed!r})")


def _histogram_index_impl(a: Any, edges: Any, *extremes: Any, uniform: bool, range: Any) -> Any:
    return K.histogram_index(a, edges, *extremes, uniform=uniform, range=range)


# The bin of each value in np.histogram's assignment (one past the last bin where it is
# not counted): integer, no gradient; the counts and sums are made of it.
histogram_index = nondifferentiable("histogram_index", _histogram_index_impl, None, kind="index")
deflower(
    histogram_index,
    lambda c: (
        f"histogram_index({', '.join(c.ins)}, uniform={c.p['uniform']!r}, range={c.p['range']!r})"
    ),
)
