"""NumPy's elementwise functions (its ufuncs and their cousins) on Tensors, differentiable.

Each takes NumPy's arguments: the operands, ``out=`` (a Tensor, written in place),
``where=`` (with ``out=``) and ``dtype=`` (the inputs are cast to it first); results
broadcast and promote dtypes exactly as NumPy's (Python numbers stay weakly typed).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from .. import ops
from .. import rules as P
from .. import rules_numpy as R
from ..tensor import Tensor, _binary_method, _unary_method, apply
from ._common import cast, check_ufunc_kwargs, decided_by, finish, is_number, pair, tensor

__all__ = [
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "bitwise_count",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "frexp",
    "gcd",
    "i0",
    "lcm",
    "left_shift",
    "nextafter",
    "right_shift",
    "spacing",
    "heaviside",
    "ldexp",
    "modf",
    "absolute",
    "abs",
    "add",
    "angle",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "around",
    "bitwise_and",
    "bitwise_not",
    "bitwise_or",
    "bitwise_xor",
    "cbrt",
    "ceil",
    "clip",
    "conj",
    "conjugate",
    "copysign",
    "cos",
    "cosh",
    "deg2rad",
    "degrees",
    "divide",
    "divmod",
    "equal",
    "exp",
    "exp2",
    "expm1",
    "fabs",
    "fix",
    "float_power",
    "floor",
    "floor_divide",
    "fmax",
    "fmin",
    "fmod",
    "greater",
    "greater_equal",
    "hypot",
    "imag",
    "invert",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "less",
    "less_equal",
    "log",
    "log10",
    "log1p",
    "log2",
    "logaddexp",
    "logaddexp2",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "mod",
    "multiply",
    "nan_to_num",
    "negative",
    "not_equal",
    "positive",
    "pow",
    "power",
    "rad2deg",
    "radians",
    "real",
    "real_if_close",
    "reciprocal",
    "remainder",
    "rint",
    "round",
    "sign",
    "signbit",
    "sin",
    "sinc",
    "sinh",
    "sqrt",
    "square",
    "subtract",
    "tan",
    "tanh",
    "true_divide",
    "trunc",
]


#: Operand types that ``pair`` passes through unchanged (numbers stay weakly typed) and the
#: core's operator methods take as they are.
_PLAIN = frozenset({Tensor, np.ndarray, float, int})
_OPERATOR: dict = {}


def _operator(prim: Any, reflected: bool) -> Any:
    """The core's one-frame operator method for binary ``prim`` (tensor.py's
    ``_binary_method``), where it applies: differentiable in both inputs, complex-capable."""
    key = (prim, reflected)
    method = _OPERATOR.get(key)
    if method is None:
        ok = (
            prim.vjps is not None
            and all(rule is not None for rule in prim.vjps)
            and prim.complex
            and prim.nin == 2
        )
        if ok:
            method = _binary_method(prim, reflected)
        elif reflected:
            method = lambda self, other: apply(prim, (other, self))  # noqa: E731
        else:
            method = lambda self, other: apply(prim, (self, other))  # noqa: E731
        _OPERATOR[key] = method
    return method


#: primitive -> the one-frame method the core's Tensor.tanh & co. are (tensor.py's
#: ``_unary_method``), for the primitives it applies to: differentiable and complex-capable
#: (a real-only primitive checks its input's dtype in ``apply``).
_METHOD: dict = {}


def _method(prim: Any) -> Any:
    method = _METHOD.get(prim)
    if method is None:
        ok = prim.vjps is not None and prim.complex and prim.nin == 1
        method = _METHOD[prim] = _unary_method(prim) if ok else partial(_apply1, prim)
    return method


def _apply1(prim: Any, x: Tensor) -> Tensor:
    return apply(prim, (x,))


def _unary(name: str, prim: Any, x: Any, out: Any, where: Any, dtype: Any, kwargs: dict) -> Any:
    if type(x) is Tensor and out is None and where is True and dtype is None and not kwargs:
        return _method(prim)(x)  # the common call, at the cost of the core's own methods
    check_ufunc_kwargs(name, kwargs)
    x = cast(tensor(x), dtype)
    return finish(name, apply(prim, (x,)), out, where)


def _binary(
    name: str, prim: Any, a: Any, b: Any, out: Any, where: Any, dtype: Any, kwargs: dict
) -> Any:
    if out is None and where is True and dtype is None and not kwargs:
        # the common call (a Tensor with a Tensor, an ndarray or a number, which ``pair``
        # would pass on unchanged) runs the core's own operator method
        if type(a) is Tensor and type(b) in _PLAIN:
            return _operator(prim, False)(a, b)
        if type(b) is Tensor and type(a) in _PLAIN:
            return _operator(prim, True)(b, a)
    check_ufunc_kwargs(name, kwargs)
    a, b = pair(a, b)
    if dtype is not None:
        a, b = cast(tensor(a), dtype), cast(tensor(b), dtype)
    return finish(name, apply(prim, (a, b)), out, where)


# --------------------------------------------------------------------------- arithmetic


def add(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 + x2, broadcast (d/dx1 = d/dx2 = 1; gradients summed back to each shape).

    >>> import chainrule.numpy as cnp
    >>> cnp.add(cnp.array([1.0, 2.0]), 3.0)
    tensor([4., 5.])
    """
    return _binary("add", P.add, x1, x2, out, where, dtype, kwargs)


def subtract(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 - x2, broadcast (d/dx1 = 1, d/dx2 = -1).

    >>> import chainrule.numpy as cnp
    >>> cnp.subtract(cnp.array([1.0, 2.0]), 0.5)
    tensor([0.5, 1.5])
    """
    return _binary("subtract", P.sub, x1, x2, out, where, dtype, kwargs)


def multiply(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 * x2, broadcast (d/dx1 = x2, d/dx2 = x1; conjugated for complex).

    >>> import chainrule.numpy as cnp
    >>> cnp.multiply(cnp.array([1.0, 2.0]), cnp.array([3.0, 4.0]))
    tensor([3., 8.])
    """
    return _binary("multiply", P.mul, x1, x2, out, where, dtype, kwargs)


def divide(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 / x2 (true division; d/dx1 = 1 / x2, d/dx2 = -x1 / x2**2).

    >>> import chainrule.numpy as cnp
    >>> cnp.divide(cnp.array([1.0, 3.0]), 2.0)
    tensor([0.5, 1.5])
    """
    return _binary("divide", P.div, x1, x2, out, where, dtype, kwargs)


true_divide = divide


def power(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 ** x2 (d/dx1 = x2 x1**(x2 - 1), d/dx2 = x1**x2 log(x1), taken as 0 where x1 is 0).

    >>> import chainrule.numpy as cnp
    >>> cnp.power(cnp.array([2.0, 3.0]), 2)
    tensor([4., 9.])
    """
    return _binary("power", P.pow, x1, x2, out, where, dtype, kwargs)


pow = power


def float_power(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 ** x2 computed in float64 (complex128 for complex inputs), as NumPy does.

    >>> import chainrule.numpy as cnp
    >>> cnp.float_power(cnp.array([2.0], dtype="float32"), 3).dtype
    dtype('float64')
    """
    a, b = pair(x1, x2)
    wide = np.complex128 if _is_complex(a) or _is_complex(b) else np.float64
    a = a if is_number(a) else cast(tensor(a), wide)
    b = b if is_number(b) else cast(tensor(b), wide)
    return _binary("float_power", P.pow, a, b, out, where, dtype, kwargs)


def _is_complex(v: Any) -> bool:
    return isinstance(v, complex) or getattr(getattr(v, "dtype", None), "kind", "") == "c"


def negative(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """-x (derivative -1).

    >>> import chainrule.numpy as cnp
    >>> cnp.negative(cnp.array([1.0, -2.0]))
    tensor([-1.,  2.])
    """
    return _unary("negative", P.neg, x, out, where, dtype, kwargs)


def positive(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """+x: a copy (derivative 1).

    >>> import chainrule.numpy as cnp
    >>> cnp.positive(cnp.array([1.0, -2.0]))
    tensor([ 1., -2.])
    """
    return _unary("positive", P.copy, x, out, where, dtype, kwargs)


def square(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x * x (derivative 2x).

    >>> import chainrule.numpy as cnp
    >>> cnp.square(cnp.array([1.0, -3.0]))
    tensor([1., 9.])
    """
    check_ufunc_kwargs("square", kwargs)
    x = cast(tensor(x), dtype)
    return finish("square", apply(P.mul, (x, x)), out, where)


def reciprocal(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """1 / x (derivative -1 / x**2). Integer inputs are refused: NumPy's integer reciprocal
    truncates (1 / 2 -> 0), which is rarely what is meant.

    >>> import chainrule.numpy as cnp
    >>> cnp.reciprocal(cnp.array([2.0, 4.0]))
    tensor([0.5 , 0.25])
    """
    check_ufunc_kwargs("reciprocal", kwargs)
    x = cast(tensor(x), dtype)
    if x.dtype.kind not in "fc":
        raise TypeError(
            f"reciprocal: integer input (dtype {x.dtype}) would truncate as NumPy's does; "
            f"cast it to a floating dtype first"
        )
    return finish("reciprocal", apply(P.div, (1, x)), out, where)


def remainder(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 mod x2 with the sign of x2 (Python's ``%``). d/dx1 = 1, d/dx2 = -floor(x1 / x2);
    at a jump the one-sided derivative of the side the value lies on is taken.

    >>> import chainrule.numpy as cnp
    >>> cnp.remainder(cnp.array([5.0, -5.0]), 3.0)
    tensor([2., 1.])
    """
    return _binary("remainder", R.remainder, x1, x2, out, where, dtype, kwargs)


mod = remainder


def fmod(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 mod x2 with the sign of x1 (C's fmod). d/dx1 = 1, d/dx2 = -trunc(x1 / x2), with
    the quotient NumPy used; one-sided at the jumps like ``remainder``.

    >>> import chainrule.numpy as cnp
    >>> cnp.fmod(cnp.array([5.0, -5.0]), 3.0)
    tensor([ 2., -2.])
    """
    return _binary("fmod", R.fmod, x1, x2, out, where, dtype, kwargs)


def floor_divide(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """floor(x1 / x2) (``//``): piecewise constant, so its derivative is 0 (also at the jumps).

    >>> import chainrule.numpy as cnp
    >>> cnp.floor_divide(cnp.array([5.0, -5.0]), 3.0)
    tensor([ 1., -2.])
    """
    return _binary("floor_divide", R.floor_divide, x1, x2, out, where, dtype, kwargs)


def divmod(x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, **kwargs: Any) -> tuple:
    """(floor_divide(x1, x2), remainder(x1, x2)), differentiable as those two are.

    >>> import chainrule.numpy as cnp
    >>> cnp.divmod(cnp.array([5.0]), 3.0)
    (tensor([1.]), tensor([2.]))
    """
    check_ufunc_kwargs("divmod", kwargs)
    if out is not None or where is not True:
        raise TypeError("divmod: out= and where= are not supported on chainrule Tensors")
    return floor_divide(x1, x2), remainder(x1, x2)


def modf(x: Any, /, out: Any = None, *, where: Any = True, **kwargs: Any) -> tuple:
    """(fractional part, integral part), both with the sign of x: ``x - trunc(x)`` (derivative
    1) and ``trunc(x)`` (derivative 0, also at the jumps); modf(+-inf) = (+-0, +-inf).

    >>> import chainrule.numpy as cnp
    >>> cnp.modf(cnp.array([2.5, -1.25]))
    (tensor([ 0.5 , -0.25]), tensor([ 2., -1.]))
    """
    check_ufunc_kwargs("modf", kwargs)
    if out is not None or where is not True:
        raise TypeError("modf: out= and where= are not supported on chainrule Tensors")
    t = tensor(x)
    if t.dtype.kind == "c":
        raise TypeError("modf: not supported for complex input (NumPy has no complex modf)")
    t = t.astype(np.float64) if t.dtype.kind in "biu" else t
    whole = apply(R.trunc, (t,))
    # x - trunc(x) is NaN at +-inf, where NumPy's fractional part is a signed zero
    diff = t - whole
    # NumPy's fractional part has x's sign, also when it is 0 (modf(-3.0)[0] is -0.0):
    # -(0 - d) equals d exactly but turns +0 into -0, with derivative 1 like d
    frac = ops.where(apply(R.signbit, (t,)), -(0.0 - diff), diff)
    zero = np.zeros((), t.dtype)
    frac = ops.where(P.isinf(t), ops.where(t > 0, zero, -zero), frac)
    return frac, whole


def ldexp(x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, **kwargs: Any) -> Any:
    """x1 * 2**x2 for integer exponents x2 (exact: a power of two); d/dx1 = 2**x2, and the
    integer exponent has no derivative.

    >>> import chainrule.numpy as cnp
    >>> cnp.ldexp(cnp.array([1.5, 3.0]), 2)
    tensor([ 6., 12.])
    """
    check_ufunc_kwargs("ldexp", kwargs)
    a = tensor(x1)
    e = tensor(x2)
    if e.dtype.kind not in "biu":
        raise TypeError(f"ldexp: the exponent x2 must be integers, got {e.dtype}")
    if a.dtype.kind == "c":
        raise TypeError("ldexp: x1 must be real, got complex")
    a = a.astype(np.float64) if a.dtype.kind in "biu" else a
    scale = apply(R.exp2, (e.astype(a.dtype),))
    return finish("ldexp", a * scale, out, where)


def heaviside(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """The step function: 0 for x1 < 0, x2 at x1 == 0, 1 for x1 > 0 (NaN for NaN). The
    derivative in x1 is 0 (the Dirac delta at 0 is not represented); in x2 it is 1 where
    x1 == 0 and 0 elsewhere.

    >>> import chainrule.numpy as cnp
    >>> cnp.heaviside(cnp.array([-1.0, 0.0, 2.0]), 0.5)
    tensor([0. , 0.5, 1. ])
    """
    check_ufunc_kwargs("heaviside", kwargs)
    a, b = pair(x1, x2)
    if dtype is not None:
        a, b = cast(tensor(a), dtype), cast(tensor(b), dtype)
    ta = tensor(a)
    if ta.dtype.kind == "c" or _is_complex(b):
        raise TypeError("heaviside: not supported for complex input")
    # NumPy's result dtype (a Python number is weakly typed: float32 stays float32)
    kind = np.result_type(ta.dtype, b if is_number(b) else tensor(b).dtype)
    kind = np.result_type(kind, np.float16)
    ta = cast(ta, kind)
    tb = cast(tensor(b), kind)
    step = ops.where(P.isnan(ta), ta, ops.where(ta > 0, 1.0, ops.where(ta < 0, 0.0, tb)))
    return finish("heaviside", step, out, where)


# --------------------------------------------------------------------------- exp and log


def exp(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """e**x (its own derivative).

    >>> import chainrule.numpy as cnp
    >>> cnp.exp(cnp.array([0.0]))
    tensor([1.])
    """
    return _unary("exp", P.exp, x, out, where, dtype, kwargs)


def exp2(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """2**x (derivative 2**x log 2).

    >>> import chainrule.numpy as cnp
    >>> cnp.exp2(cnp.array([3.0]))
    tensor([8.])
    """
    return _unary("exp2", R.exp2, x, out, where, dtype, kwargs)


def expm1(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """e**x - 1, accurate near 0 (derivative e**x).

    >>> import chainrule.numpy as cnp
    >>> cnp.expm1(cnp.array([0.0]))
    tensor([0.])
    """
    return _unary("expm1", R.expm1, x, out, where, dtype, kwargs)


def log(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """Natural logarithm (derivative 1 / x).

    >>> import chainrule.numpy as cnp
    >>> cnp.log(cnp.array([1.0]))
    tensor([0.])
    """
    return _unary("log", P.log, x, out, where, dtype, kwargs)


def log2(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """Base-2 logarithm (derivative 1 / (x log 2)).

    >>> import chainrule.numpy as cnp
    >>> cnp.log2(cnp.array([8.0]))
    tensor([3.])
    """
    return _unary("log2", R.log2, x, out, where, dtype, kwargs)


def log10(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Base-10 logarithm (derivative 1 / (x log 10)).

    >>> import chainrule.numpy as cnp
    >>> cnp.log10(cnp.array([100.0]))
    tensor([2.])
    """
    return _unary("log10", R.log10, x, out, where, dtype, kwargs)


def log1p(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """log(1 + x), accurate near 0 (derivative 1 / (1 + x)).

    >>> import chainrule.numpy as cnp
    >>> cnp.log1p(cnp.array([0.0]))
    tensor([0.])
    """
    return _unary("log1p", R.log1p, x, out, where, dtype, kwargs)


def logaddexp(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """log(e**x1 + e**x2) without overflow (d/dx1 = e**(x1 - result), a softmax weight).

    >>> import chainrule.numpy as cnp
    >>> cnp.logaddexp(cnp.array([1000.0]), 1000.0)
    tensor([1000.6931])
    """
    return _binary("logaddexp", R.logaddexp, x1, x2, out, where, dtype, kwargs)


def logaddexp2(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """log2(2**x1 + 2**x2) without overflow (d/dx1 = 2**(x1 - result)).

    >>> import chainrule.numpy as cnp
    >>> cnp.logaddexp2(cnp.array([3.0]), 3.0)
    tensor([4.])
    """
    return _binary("logaddexp2", R.logaddexp2, x1, x2, out, where, dtype, kwargs)


def sqrt(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """Square root (derivative 1 / (2 sqrt(x)); infinite at 0).

    >>> import chainrule.numpy as cnp
    >>> cnp.sqrt(cnp.array([4.0]))
    tensor([2.])
    """
    return _unary("sqrt", P.sqrt, x, out, where, dtype, kwargs)


def cbrt(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """Cube root, real only (derivative 1 / (3 cbrt(x)**2); infinite at 0).

    >>> import chainrule.numpy as cnp
    >>> cnp.cbrt(cnp.array([-8.0]))
    tensor([-2.])
    """
    return _unary("cbrt", R.cbrt, x, out, where, dtype, kwargs)


# --------------------------------------------------------------------------- trigonometry


def sin(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """Sine (derivative cos x).

    >>> import chainrule.numpy as cnp
    >>> cnp.sin(cnp.array([0.0]))
    tensor([0.])
    """
    return _unary("sin", P.sin, x, out, where, dtype, kwargs)


def cos(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """Cosine (derivative -sin x).

    >>> import chainrule.numpy as cnp
    >>> cnp.cos(cnp.array([0.0]))
    tensor([1.])
    """
    return _unary("cos", P.cos, x, out, where, dtype, kwargs)


def tan(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """Tangent (derivative 1 + tan(x)**2).

    >>> import chainrule.numpy as cnp
    >>> cnp.tan(cnp.array([0.0]))
    tensor([0.])
    """
    return _unary("tan", R.tan, x, out, where, dtype, kwargs)


def arcsin(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Inverse sine, |x| <= 1 for real x (derivative 1 / sqrt(1 - x**2)).

    >>> import chainrule.numpy as cnp
    >>> cnp.arcsin(cnp.array([0.0]))
    tensor([0.])
    """
    return _unary("arcsin", R.arcsin, x, out, where, dtype, kwargs)


def arccos(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Inverse cosine, |x| <= 1 for real x (derivative -1 / sqrt(1 - x**2)).

    >>> import chainrule.numpy as cnp
    >>> cnp.arccos(cnp.array([1.0]))
    tensor([0.])
    """
    return _unary("arccos", R.arccos, x, out, where, dtype, kwargs)


def arctan(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Inverse tangent (derivative 1 / (1 + x**2)).

    >>> import chainrule.numpy as cnp
    >>> cnp.arctan(cnp.array([0.0]))
    tensor([0.])
    """
    return _unary("arctan", R.arctan, x, out, where, dtype, kwargs)


def arctan2(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """The angle of the point (x2, x1): d/dx1 = x2 / (x1**2 + x2**2), d/dx2 = -x1 / (x1**2 +
    x2**2); both taken as 0 at the origin, where the angle is undefined.

    >>> import chainrule.numpy as cnp
    >>> cnp.arctan2(cnp.array([1.0]), 1.0)
    tensor([0.7854])
    """
    return _binary("arctan2", R.arctan2, x1, x2, out, where, dtype, kwargs)


def hypot(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """sqrt(x1**2 + x2**2) without overflow (d/dx1 = x1 / hypot; taken as 0 at the origin).

    >>> import chainrule.numpy as cnp
    >>> cnp.hypot(cnp.array([3.0]), 4.0)
    tensor([5.])
    """
    return _binary("hypot", R.hypot, x1, x2, out, where, dtype, kwargs)


def sinh(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """Hyperbolic sine (derivative cosh x).

    >>> import chainrule.numpy as cnp
    >>> cnp.sinh(cnp.array([0.0]))
    tensor([0.])
    """
    return _unary("sinh", R.sinh, x, out, where, dtype, kwargs)


def cosh(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """Hyperbolic cosine (derivative sinh x).

    >>> import chainrule.numpy as cnp
    >>> cnp.cosh(cnp.array([0.0]))
    tensor([1.])
    """
    return _unary("cosh", R.cosh, x, out, where, dtype, kwargs)


def tanh(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """Hyperbolic tangent (derivative 1 - tanh(x)**2).

    >>> import chainrule.numpy as cnp
    >>> cnp.tanh(cnp.array([0.0]))
    tensor([0.])
    """
    return _unary("tanh", P.tanh, x, out, where, dtype, kwargs)


def arcsinh(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Inverse hyperbolic sine (derivative 1 / sqrt(x**2 + 1)).

    >>> import chainrule.numpy as cnp
    >>> cnp.arcsinh(cnp.array([0.0]))
    tensor([0.])
    """
    return _unary("arcsinh", R.arcsinh, x, out, where, dtype, kwargs)


def arccosh(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Inverse hyperbolic cosine, x >= 1 for real x (derivative 1 / (sqrt(x - 1) sqrt(x + 1))).

    >>> import chainrule.numpy as cnp
    >>> cnp.arccosh(cnp.array([1.0]))
    tensor([0.])
    """
    return _unary("arccosh", R.arccosh, x, out, where, dtype, kwargs)


def arctanh(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Inverse hyperbolic tangent, |x| < 1 for real x (derivative 1 / (1 - x**2)).

    >>> import chainrule.numpy as cnp
    >>> cnp.arctanh(cnp.array([0.0]))
    tensor([0.])
    """
    return _unary("arctanh", R.arctanh, x, out, where, dtype, kwargs)


_DEG = math.pi / 180.0


def deg2rad(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Degrees to radians: x * pi / 180 (derivative pi / 180).

    >>> import chainrule.numpy as cnp
    >>> cnp.deg2rad(cnp.array([180.0]))
    tensor([3.1416])
    """
    check_ufunc_kwargs("deg2rad", kwargs)
    x = cast(tensor(x), dtype)
    _refuse_complex("deg2rad", x)
    return finish("deg2rad", apply(P.mul, (x, _DEG)), out, where)


radians = deg2rad


def rad2deg(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Radians to degrees: x * 180 / pi (derivative 180 / pi).

    >>> import chainrule.numpy as cnp
    >>> cnp.rad2deg(cnp.array([3.141592653589793]))
    tensor([180.])
    """
    check_ufunc_kwargs("rad2deg", kwargs)
    x = cast(tensor(x), dtype)
    _refuse_complex("rad2deg", x)
    return finish("rad2deg", apply(P.mul, (x, 180.0 / math.pi)), out, where)


degrees = rad2deg


def _refuse_complex(name: str, x: Tensor) -> None:
    if x.dtype.kind == "c":
        raise TypeError(f"{name}: does not support complex inputs (NumPy's does not either)")


def sinc(x: Any) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0 (derivative (cos(pi x) - sinc(x)) / x; near 0 from its
    Taylor series, so every order is right at 0).

    >>> import chainrule.numpy as cnp
    >>> cnp.sinc(cnp.array([0.0, 0.5]))
    tensor([1.    , 0.6366])
    """
    return apply(R.sinc, (tensor(x),))


# --------------------------------------------------------------------------- piecewise


def floor(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """The largest integer <= x. Piecewise constant: the derivative is 0, taken as 0 at the
    jumps too; integer inputs stay integers (no gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.floor(cnp.array([-1.5, 1.5]))
    tensor([-2.,  1.])
    """
    return _unary("floor", R.floor, x, out, where, dtype, kwargs)


def ceil(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """The smallest integer >= x. Derivative 0 (also at the jumps).

    >>> import chainrule.numpy as cnp
    >>> cnp.ceil(cnp.array([-1.5, 1.5]))
    tensor([-1.,  2.])
    """
    return _unary("ceil", R.ceil, x, out, where, dtype, kwargs)


def trunc(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x rounded towards 0. Derivative 0 (also at the jumps).

    >>> import chainrule.numpy as cnp
    >>> cnp.trunc(cnp.array([-1.5, 1.5]))
    tensor([-1.,  1.])
    """
    return _unary("trunc", R.trunc, x, out, where, dtype, kwargs)


def fix(x: Any, out: Any = None) -> Any:
    """x rounded towards 0 (``trunc``). Derivative 0 (also at the jumps).

    >>> import chainrule.numpy as cnp
    >>> cnp.fix(cnp.array([-2.5, 2.5]))
    tensor([-2.,  2.])
    """
    return finish("fix", apply(R.trunc, (tensor(x),)), out)


def rint(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """x rounded to the nearest integer (halves to even). Derivative 0 (also at the jumps).

    >>> import chainrule.numpy as cnp
    >>> cnp.rint(cnp.array([0.5, 1.5]))
    tensor([0., 2.])
    """
    return _unary("rint", R.rint, x, out, where, dtype, kwargs)


def round(a: Any, decimals: int = 0, out: Any = None) -> Any:
    """a rounded to ``decimals`` places (halves to even, as NumPy). Derivative 0 (also at
    the jumps); complex inputs round both parts.

    >>> import chainrule.numpy as cnp
    >>> cnp.round(cnp.array([1.25, 2.5]), 1)
    tensor([1.2, 2.5])
    """
    return finish("round", apply(R.round, (tensor(a),), {"decimals": int(decimals)}), out)


around = round


def sign(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """-1, 0 or 1 by the sign of x. Not differentiable (piecewise constant; the result
    carries no gradient).

    >>> import chainrule.numpy as cnp
    >>> cnp.sign(cnp.array([-2.0, 0.0, 3.0]))
    tensor([-1.,  0.,  1.])
    """
    return _unary("sign", P.sign, x, out, where, dtype, kwargs)


def signbit(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Whether the sign bit is set (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.signbit(cnp.array([-0.0, 1.0]))
    tensor([ True, False])
    """
    return _unary("signbit", R.signbit, x, out, where, dtype, kwargs)


def copysign(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """|x1| with the sign of x2. d/dx1 = sign(x1) sign(x2), by the sign bits (at x1 = 0 the
    sign of the zero decides); d/dx2 = 0.

    >>> import chainrule.numpy as cnp
    >>> cnp.copysign(cnp.array([1.0, 2.0]), -1.0)
    tensor([-1., -2.])
    """
    return _binary("copysign", R.copysign, x1, x2, out, where, dtype, kwargs)


def absolute(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """|x| (derivative sign(x), taken as 0 at 0; complex: z / |z|, PyTorch's convention).

    >>> import chainrule.numpy as cnp
    >>> cnp.absolute(cnp.array([-2.0, 3.0]))
    tensor([2., 3.])
    """
    return _unary("absolute", P.abs, x, out, where, dtype, kwargs)


abs = absolute


def fabs(x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any) -> Any:
    """|x| for real x (complex refused, as NumPy does); the derivative at 0 is 0.

    >>> import chainrule.numpy as cnp
    >>> cnp.fabs(cnp.array([-2.0]))
    tensor([2.])
    """
    t = tensor(x)
    _refuse_complex("fabs", t)
    if t.dtype.kind in "iu":  # a floating-point ufunc: NumPy gives float64 for integers
        t = t.astype(np.float64)
    return _unary("fabs", P.abs, t, out, where, dtype, kwargs)


def maximum(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """The larger value; the gradient goes to the larger argument, split evenly at ties.
    NaNs propagate (see ``fmax``).

    >>> import chainrule.numpy as cnp
    >>> cnp.maximum(cnp.array([1.0, 5.0]), 2.0)
    tensor([2., 5.])
    """
    return _binary("maximum", P.maximum, x1, x2, out, where, dtype, kwargs)


def minimum(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """The smaller value; the gradient goes to the smaller argument, split evenly at ties.

    >>> import chainrule.numpy as cnp
    >>> cnp.minimum(cnp.array([1.0, 5.0]), 2.0)
    tensor([1., 2.])
    """
    return _binary("minimum", P.minimum, x1, x2, out, where, dtype, kwargs)


def fmax(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """The larger value, ignoring NaNs. The gradient goes to the larger argument (split
    evenly at ties); next to a NaN it goes to the number; where both are NaN it is split.

    >>> import chainrule.numpy as cnp
    >>> cnp.fmax(cnp.array([1.0, float("nan")]), 2.0)
    tensor([2., 2.])
    """
    return _binary("fmax", R.fmax, x1, x2, out, where, dtype, kwargs)


def fmin(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """The smaller value, ignoring NaNs; gradients as ``fmax``'s.

    >>> import chainrule.numpy as cnp
    >>> cnp.fmin(cnp.array([1.0, float("nan")]), 2.0)
    tensor([1., 2.])
    """
    return _binary("fmin", R.fmin, x1, x2, out, where, dtype, kwargs)


def _bound(v: Any) -> Any:
    """A clip bound: numbers and arrays are constants, as NumPy takes them; a Tensor bound
    stays a Tensor (clip is then min(max(a, lo), hi), differentiable in it). A Tensor that
    does not require grad is not read as a constant either: under cr.jit it is a traced
    input whose value changes from call to call."""
    if v is None or isinstance(v, (int, float)):
        return v
    if isinstance(v, Tensor):
        return v
    return np.asarray(v)


def clip(
    a: Any,
    a_min: Any = np._NoValue,
    a_max: Any = np._NoValue,
    out: Any = None,
    *,
    min: Any = np._NoValue,
    max: Any = np._NoValue,
    **kwargs: Any,
) -> Any:
    """a limited to [a_min, a_max] (either may be None; NumPy 2's ``min=``/``max=`` too).
    The gradient passes where a_min <= a <= a_max (bounds included) and is 0 where the value
    was clipped; bounds that are Tensors requiring grad get the gradient where they won.

    >>> import chainrule.numpy as cnp
    >>> cnp.clip(cnp.array([-1.0, 0.5, 2.0]), 0.0, 1.0)
    tensor([0. , 0.5, 1. ])
    """
    check_ufunc_kwargs("clip", kwargs)
    lo = a_min if a_min is not np._NoValue else (None if min is np._NoValue else min)
    hi = a_max if a_max is not np._NoValue else (None if max is np._NoValue else max)
    x = tensor(a)
    lo, hi = _bound(lo), _bound(hi)
    if isinstance(lo, Tensor) or isinstance(hi, Tensor):
        result = x
        if lo is not None:
            result = ops.maximum(result, lo)
        if hi is not None:
            result = ops.minimum(result, hi)
        return finish("clip", result, out)
    if lo is None and hi is None:
        return finish("clip", apply(P.copy, (x,)), out)
    return finish("clip", apply(P.clip, (x,), {"lo": lo, "hi": hi}), out)


def nan_to_num(
    x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None
) -> Tensor:
    """NaN -> ``nan``, +inf -> ``posinf`` (default: the largest finite value), -inf ->
    ``neginf``; complex values part by part. The gradient passes where x is finite and is
    0 where a value was replaced (the replacement does not depend on x).

    >>> import chainrule.numpy as cnp
    >>> cnp.nan_to_num(cnp.array([float("nan"), 1.0]))
    tensor([0., 1.])
    """
    t = tensor(x)
    if t.dtype.kind == "c":
        parts = [nan_to_num(part, copy, nan, posinf, neginf) for part in (real(t), imag(t))]
        return parts[0] + parts[1] * 1j
    if t.dtype.kind not in "f":
        return apply(P.copy, (t,)) if copy else t
    info = np.finfo(t.dtype)
    big = info.max if posinf is None else posinf
    small = info.min if neginf is None else neginf
    replacement = ops.where(P.isnan(t), nan, ops.where(t > 0, big, small))
    return ops.where(P.isfinite(t), t, replacement.astype(t.dtype))


# --------------------------------------------------------------------------- complex parts


def real(val: Any) -> Tensor:
    """The real part (linear: the gradient of a real loss through it is g).

    >>> import chainrule.numpy as cnp
    >>> cnp.real(cnp.array([1 + 2j]))
    tensor([1.])
    """
    return ops.real(tensor(val))


def imag(val: Any) -> Tensor:
    """The imaginary part (zeros for real input); the gradient through it is i g.

    >>> import chainrule.numpy as cnp
    >>> cnp.imag(cnp.array([1 + 2j]))
    tensor([2.])
    """
    return ops.imag(tensor(val))


def conjugate(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """The complex conjugate (real input as it is); the gradient is conjugated back.

    >>> import chainrule.numpy as cnp
    >>> cnp.conjugate(cnp.array([1 + 2j]))
    tensor([1.-2.j], dtype=complex128)
    """
    check_ufunc_kwargs("conjugate", kwargs)
    return finish("conjugate", ops.conj(cast(tensor(x), dtype)), out, where)


conj = conjugate


def angle(z: Any, deg: bool = False) -> Tensor:
    """The argument of z, arctan2(imag, real) (derivative through arctan2; for real input the
    angle is 0 or pi, derivative 0).

    >>> import chainrule.numpy as cnp
    >>> cnp.angle(cnp.array([1j, -1.0]))
    tensor([1.5708, 3.1416])
    """
    t = tensor(z)
    if t.dtype.kind == "c":
        result = apply(R.arctan2, (ops.imag(t), ops.real(t)))
    else:
        result = apply(R.arctan2, (0.0, t if t.dtype.kind == "f" else t.astype(np.float64)))
    return result * (180.0 / math.pi) if deg else result


def real_if_close(a: Any, tol: float = 100) -> Tensor:
    """The real part when every imaginary part is within ``tol`` machine epsilons of 0, else
    ``a`` as it is (the choice reads the values, as NumPy's does).

    >>> import chainrule.numpy as cnp
    >>> cnp.real_if_close(cnp.array([1 + 1e-20j]))
    tensor([1.])
    """
    t = tensor(a)
    if t.dtype.kind != "c":
        return t
    limit = tol * np.finfo(t.dtype).eps if tol > 1 else tol
    if np.all(np.abs(np.imag(decided_by(t, "real_if_close: real or complex"))) < limit):
        return ops.real(t)
    return t


# --------------------------------------------------------------------------- tests


def _compare(
    name: str, prim: Any, x1: Any, x2: Any, out: Any, where: Any, dtype: Any, kwargs: dict
) -> Any:
    return _binary(name, prim, x1, x2, out, where, dtype, kwargs)


def greater(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 > x2 (boolean: not differentiable, recomputed by traced programs).

    >>> import chainrule.numpy as cnp
    >>> cnp.greater(cnp.array([1.0, 3.0]), 2.0)
    tensor([False,  True])
    """
    return _compare("greater", P.greater, x1, x2, out, where, dtype, kwargs)


def greater_equal(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 >= x2 (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.greater_equal(cnp.array([1.0, 2.0]), 2.0)
    tensor([False,  True])
    """
    return _compare("greater_equal", P.greater_equal, x1, x2, out, where, dtype, kwargs)


def less(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 < x2 (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.less(cnp.array([1.0, 3.0]), 2.0)
    tensor([ True, False])
    """
    return _compare("less", P.less, x1, x2, out, where, dtype, kwargs)


def less_equal(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 <= x2 (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.less_equal(cnp.array([2.0, 3.0]), 2.0)
    tensor([ True, False])
    """
    return _compare("less_equal", P.less_equal, x1, x2, out, where, dtype, kwargs)


def equal(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 == x2 (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.equal(cnp.array([2.0, 3.0]), 2.0)
    tensor([ True, False])
    """
    return _compare("equal", P.equal, x1, x2, out, where, dtype, kwargs)


def not_equal(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """x1 != x2 (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.not_equal(cnp.array([2.0, 3.0]), 2.0)
    tensor([False,  True])
    """
    return _compare("not_equal", P.not_equal, x1, x2, out, where, dtype, kwargs)


def logical_and(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Elementwise logical and (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.logical_and(cnp.array([True, True]), cnp.array([True, False]))
    tensor([ True, False])
    """
    return _compare("logical_and", P.logical_and, x1, x2, out, where, dtype, kwargs)


def logical_or(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Elementwise logical or (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.logical_or(cnp.array([False, True]), False)
    tensor([False,  True])
    """
    return _compare("logical_or", P.logical_or, x1, x2, out, where, dtype, kwargs)


def logical_xor(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Elementwise logical exclusive or (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.logical_xor(cnp.array([False, True]), True)
    tensor([ True, False])
    """
    return _compare("logical_xor", P.logical_xor, x1, x2, out, where, dtype, kwargs)


def logical_not(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Elementwise logical not (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.logical_not(cnp.array([False, True]))
    tensor([ True, False])
    """
    return _unary("logical_not", P.logical_not, x, out, where, dtype, kwargs)


def _bitwise(name: str, prim: Any, op: Any, x1: Any, x2: Any) -> Tensor:
    a, b = tensor(x1), tensor(x2)
    if a.dtype.kind == "b" and b.dtype.kind == "b":
        return apply(prim, (a, b))
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        # integers have no primitive here: computed from the values (.numpy(), which a
        # strict tracer such as cr.jit refuses by name rather than baking a stale value in)
        return Tensor._wrap(op(a.numpy(), b.numpy()))
    raise TypeError(f"{name}: needs boolean or integer inputs, got {a.dtype} and {b.dtype}")


def bitwise_and(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """Bitwise and of integers or booleans (not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.bitwise_and(cnp.array([6]), 3)
    tensor([2])
    """
    check_ufunc_kwargs("bitwise_and", kwargs)
    return finish(
        "bitwise_and", _bitwise("bitwise_and", P.logical_and, np.bitwise_and, x1, x2), out
    )


def bitwise_or(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """Bitwise or of integers or booleans (not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.bitwise_or(cnp.array([6]), 3)
    tensor([7])
    """
    check_ufunc_kwargs("bitwise_or", kwargs)
    return finish("bitwise_or", _bitwise("bitwise_or", P.logical_or, np.bitwise_or, x1, x2), out)


def bitwise_xor(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """Bitwise exclusive or of integers or booleans (not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.bitwise_xor(cnp.array([6]), 3)
    tensor([5])
    """
    check_ufunc_kwargs("bitwise_xor", kwargs)
    return finish(
        "bitwise_xor", _bitwise("bitwise_xor", P.logical_xor, np.bitwise_xor, x1, x2), out
    )


def invert(x: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """Bitwise not of integers, logical not of booleans (not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.invert(cnp.array([True, False]))
    tensor([False,  True])
    """
    check_ufunc_kwargs("invert", kwargs)
    return finish("invert", ~tensor(x), out)


bitwise_not = invert


def isnan(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Whether x is NaN (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.isnan(cnp.array([float("nan"), 1.0]))
    tensor([ True, False])
    """
    return _unary("isnan", P.isnan, x, out, where, dtype, kwargs)


def isinf(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Whether x is infinite (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.isinf(cnp.array([float("inf"), 1.0]))
    tensor([ True, False])
    """
    return _unary("isinf", P.isinf, x, out, where, dtype, kwargs)


def isfinite(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """Whether x is finite (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.isfinite(cnp.array([float("inf"), 1.0]))
    tensor([False,  True])
    """
    return _unary("isfinite", P.isfinite, x, out, where, dtype, kwargs)


def isposinf(x: Any, out: Any = None) -> Any:
    """Whether x is +inf (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.isposinf(cnp.array([float("inf"), -float("inf")]))
    tensor([ True, False])
    """
    t = tensor(x)
    return finish("isposinf", P.isinf(t) & (t > 0), out)


def isneginf(x: Any, out: Any = None) -> Any:
    """Whether x is -inf (boolean: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.isneginf(cnp.array([float("inf"), -float("inf")]))
    tensor([False,  True])
    """
    t = tensor(x)
    return finish("isneginf", P.isinf(t) & (t < 0), out)


# --------------------------------------------------------------------------- NumPy 2 aliases
# The array API's spellings (numpy.acos is numpy.arccos: the same function here too).
acos = arccos
acosh = arccosh
asin = arcsin
asinh = arcsinh
atan = arctan
atan2 = arctan2
atanh = arctanh

# --------------------------------------------------------------------------- floats


def _ufunc_dtype(ufunc: Any, *dtypes: Any) -> np.dtype:
    """The dtype of ``ufunc``'s (first) result for inputs of these dtypes (NumPy's own
    loop selection, asked on empty arrays)."""
    out = ufunc(*(np.empty(0, dtype=d) for d in dtypes))
    return (out[0] if isinstance(out, tuple) else out).dtype


def _real_float(name: str, ufunc: Any, x: Any) -> Tensor:
    t = tensor(x)
    if t.dtype.kind == "c":
        raise TypeError(f"{name}: not supported for complex input")
    return cast(t, _ufunc_dtype(ufunc, t.dtype))


def frexp(x: Any, /, out: Any = None, *, where: Any = True, **kwargs: Any) -> tuple:
    """(mantissa, exponent) with x = mantissa * 2**exponent and 0.5 <= |mantissa| < 1
    (mantissa x and exponent 0 for 0, inf and NaN). The mantissa is x * 2**-exponent
    (exactly: two power-of-two factors), so its derivative is 2**-exponent, constant
    between powers of two (and taken so at them, where the mantissa jumps; for subnormal x
    it is beyond the float range: inf); the exponent is int32, with no gradient.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([3.0, -0.25], requires_grad=True)
    >>> m, e = cnp.frexp(x)
    >>> m, e
    (tensor([ 0.75, -0.5 ], grad_fn=<mul>), tensor([ 2, -1], dtype=int32))
    >>> m.sum().backward()
    >>> x.grad
    tensor([0.25, 2.  ])
    """
    check_ufunc_kwargs("frexp", kwargs)
    if out is not None or where is not True:
        raise TypeError("frexp: out= and where= are not supported on chainrule Tensors")
    t = _real_float("frexp", np.frexp, x)
    e = apply(R.frexp_exponent, (t,))
    # 2**-e in two halves: each factor stays finite (2**1074 would overflow) and exact
    half = e // 2
    first = apply(R.exp2, ((-half).astype(t.dtype),))
    second = apply(R.exp2, ((half - e).astype(t.dtype),))
    return t * first * second, e


def spacing(
    x: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """The distance from |x| to the next larger float (of x's dtype): constant between
    powers of two, so its derivative is 0 (taken as 0 at the jumps too, as floor's).

    >>> import chainrule.numpy as cnp
    >>> cnp.spacing(cnp.array([1.0, 1024.0]))
    tensor([2.2204e-16, 2.2737e-13])
    """
    return _unary("spacing", R.spacing, x, out, where, dtype, kwargs)


def nextafter(
    x1: Any, x2: Any, /, out: Any = None, *, where: Any = True, dtype: Any = None, **kwargs: Any
) -> Any:
    """The next float after x1 towards x2. Not differentiable (no gradient), as in JAX,
    which defines no derivative for it: the value is x1 moved by one unit in the last
    place, a step function of x1 on the float grid.

    >>> import chainrule.numpy as cnp
    >>> cnp.nextafter(cnp.array([1.0]), 2.0) > 1.0
    tensor([ True])
    """
    return _binary("nextafter", R.nextafter, x1, x2, out, where, dtype, kwargs)


def i0(x: Any) -> Tensor:
    """The modified Bessel function of the first kind of order 0, computed by NumPy's own
    ``np.i0``. Its derivative is I1 (computed here, NumPy having none: a power series up to
    |x| = 25 and the asymptotic expansion beyond, within 3e-15 relative), whose derivative
    is I0(x) - I1(x) / x (its limit 1/2 at 0), so every order works. Real input only.

    >>> import chainrule.numpy as cnp
    >>> x = cnp.array([0.0, 1.0], requires_grad=True)
    >>> cnp.i0(x)
    tensor([1.    , 1.2661], grad_fn=<i0>)
    >>> cnp.i0(x).sum().backward()
    >>> x.grad  # I1(0) = 0, I1(1) = 0.5652
    tensor([0.    , 0.5652])
    """
    t = tensor(x)
    if t.dtype.kind == "c":
        raise TypeError("i0: not supported for complex values")
    if t.dtype.kind in "biu":
        t = t.astype(np.float64)
    return apply(R.i0, (t,))


# --------------------------------------------------------------------------- integers


def _integers(name: str, *xs: Any) -> None:
    for x in xs:
        kind = x.dtype.kind if isinstance(x, (Tensor, np.ndarray)) else np.asarray(x).dtype.kind
        if kind not in "biu":
            raise TypeError(f"{name}: needs integer (or boolean) inputs, got dtype kind {kind!r}")


def _integer_binary(name: str, prim: Any, x1: Any, x2: Any, out: Any, kwargs: dict) -> Any:
    a, b = pair(x1, x2)
    _integers(name, a, b)
    check_ufunc_kwargs(name, kwargs)
    return finish(name, apply(prim, (a, b)), out)


def gcd(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """The greatest common divisor of integers (integer: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.gcd(cnp.array([12, 20]), 8)
    tensor([4, 4])
    """
    return _integer_binary("gcd", R.gcd, x1, x2, out, kwargs)


def lcm(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """The least common multiple of integers (integer: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.lcm(cnp.array([4, 6]), 10)
    tensor([20, 30])
    """
    return _integer_binary("lcm", R.lcm, x1, x2, out, kwargs)


def left_shift(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """x1 << x2 for integers (integer: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.left_shift(cnp.array([1, 3]), 2)
    tensor([ 4, 12])
    """
    return _integer_binary("left_shift", R.left_shift, x1, x2, out, kwargs)


def right_shift(x1: Any, x2: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """x1 >> x2 for integers (integer: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.right_shift(cnp.array([8, 13]), 2)
    tensor([2, 3])
    """
    return _integer_binary("right_shift", R.right_shift, x1, x2, out, kwargs)


def bitwise_count(x: Any, /, out: Any = None, **kwargs: Any) -> Any:
    """The number of 1 bits in |x| of integers (uint8: not differentiable).

    >>> import chainrule.numpy as cnp
    >>> cnp.bitwise_count(cnp.array([7, -1]))
    tensor([3, 1], dtype=uint8)
    """
    t = tensor(x)
    _integers("bitwise_count", t)
    check_ufunc_kwargs("bitwise_count", kwargs)
    return finish("bitwise_count", apply(R.bitwise_count, (t,)), out)


bitwise_left_shift = left_shift
bitwise_right_shift = right_shift
bitwise_invert = invert
