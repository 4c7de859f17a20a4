"""THE rule table: every primitive with its forward computation, VJP, JVP and lowering side
by side.

Rules are written with operators and other primitives, so one definition serves the fast
first-order path (arrays in, arrays out) and the recorded path (Tensors in, Tensors out:
higher-order derivatives and traced programs). They depend on their inputs only through
chainrule operations: a mask such as ``ans > 0`` is a comparison primitive, part of the
program when recorded, so a traced gradient is right at every input, not only where it was
traced. Branches look only at static things (shapes, dtypes, params, Python-number
constants). Rules never undo broadcasting; the engine does that. Complex numbers follow
PyTorch's convention (the gradient of a real loss is dL/dx + i dL/dy): a holomorphic
primitive's complex VJP is ``g * conj(f'(z))``. Each subgradient choice at a kink is
commented where it is made.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from . import kernels as K
from .backend import reduce_max, reduce_sum
from .broadcast import sum_to_shape
from .primitives import (
    FirstInput,
    PerInput,
    Primitive,
    defjvp,
    deflinear,
    deflower,
    defvjp,
    nondifferentiable,
)


def _is_complex(x: Any) -> bool:
    """A static dtype test (arrays, NumPy scalars and Tensors all have ``dtype``)."""
    if isinstance(x, complex):
        return True
    dtype = getattr(x, "dtype", None)
    return dtype is not None and dtype.kind == "c"


def _ndim(x: Any) -> int:
    return np.ndim(x) if not hasattr(x, "ndim") else x.ndim


def _shape(x: Any) -> tuple:
    return np.shape(x) if not hasattr(x, "shape") else x.shape


def unary(
    name: str,
    impl: Any,
    local_grad: Any,
    *,
    save: str,
    lower: Any = None,
    complex: bool = True,
    vjp: Any = None,
    cvjp: Any = None,
    jvp: Any = None,
) -> Primitive:
    """A unary elementwise primitive from f' alone: VJP g * f' (g * conj(f') for complex
    outputs) and JVP t * f'. ``local_grad(ans, x)`` may use the output (``save="output"``)
    or the input (``save="input"``). ``vjp``/``cvjp``/``jvp`` spell the same rules out
    where a hand-written form is cheaper or reads as the lectures write it."""
    prim = Primitive(
        name,
        impl,
        kind="elementwise",
        save_inputs=save == "input",
        save_output=save == "output",
        complex=complex,
        expression=True,
    )
    defvjp(
        prim,
        vjp or (lambda g, ans, x: g * local_grad(ans, x)),
        complex_rules=(cvjp or (lambda g, ans, x: g * conj(local_grad(ans, x))),),
    )
    defjvp(prim, jvp or (lambda t, ans, x: t * local_grad(ans, x)))
    deflower(prim, lower or f"np.{name}({{0}})")
    return prim


# --------------------------------------------------------------------------- comparisons
# Not differentiable: the output is boolean (or, for sign, piecewise constant). They are
# primitives so that a mask computed from an input is part of a traced program.


def _compare(name: str, ufunc: Any, symbol: str) -> Primitive:
    prim = nondifferentiable(name, ufunc, 2, symbol=symbol, complex=False)
    deflower(prim, f"({{0}} {symbol} {{1}})")
    return prim


greater = _compare("greater", operator.gt, ">")
greater_equal = _compare("greater_equal", operator.ge, ">=")
less = _compare("less", operator.lt, "<")
less_equal = _compare("less_equal", operator.le, "<=")
equal = _compare("equal", operator.eq, "==")
not_equal = _compare("not_equal", operator.ne, "!=")
equal.complex = not_equal.complex = True  # (in)equality is defined for complex numbers
logical_and = nondifferentiable("logical_and", np.logical_and, 2, symbol="&")
deflower(logical_and, "np.logical_and({0}, {1})")
logical_or = nondifferentiable("logical_or", np.logical_or, 2, symbol="|")
deflower(logical_or, "np.logical_or({0}, {1})")
logical_xor = nondifferentiable("logical_xor", np.logical_xor, 2, symbol="^")
deflower(logical_xor, "np.logical_xor({0}, {1})")
logical_not = nondifferentiable("logical_not", np.logical_not, 1, symbol="~")
deflower(logical_not, "np.logical_not({0})")
sign = nondifferentiable("sign", np.sign, 1, complex=False)
deflower(sign, "np.sign({0})")
isfinite = nondifferentiable("isfinite", np.isfinite, 1)
deflower(isfinite, "np.isfinite({0})")
isnan = nondifferentiable("isnan", np.isnan, 1)
deflower(isnan, "np.isnan({0})")
isinf = nondifferentiable("isinf", np.isinf, 1)
deflower(isinf, "np.isinf({0})")


def _argmax_impl(x: Any, axis: Any) -> Any:
    return np.argmax(x, axis=axis)


def _argmin_impl(x: Any, axis: Any) -> Any:
    return np.argmin(x, axis=axis)


argmax = nondifferentiable("argmax", _argmax_impl, 1, kind="reduction", complex=False)
deflower(argmax, "np.argmax({0}, axis={axis!r})")
argmin = nondifferentiable("argmin", _argmin_impl, 1, kind="reduction", complex=False)
deflower(argmin, "np.argmin({0}, axis={axis!r})")


def _one_hot_impl(labels: Any, n: int, dtype: Any) -> Any:
    return K.one_hot(labels, n, dtype)


one_hot = nondifferentiable("one_hot", _one_hot_impl, 1, kind="index")
deflower(one_hot, "one_hot({0}, {n!r}, np.{dtype.name})")


def _label_check_impl(labels: Any, shape: tuple, op: str = "cross_entropy") -> Any:
    return K.checked_labels(labels, shape, op)


# Integer class labels that are a traced program's input, checked to be in [0, C) at every
# call (the eager losses check the values they get before any kernel reads them).
label_check = nondifferentiable("label_check", _label_check_impl, 1, kind="index")
deflower(label_check, "checked_labels({0}, {shape!r}, {op!r})")

# --------------------------------------------------------------------------- complex parts


def _conj_impl(x: Any) -> Any:
    return x.conjugate() if _is_complex(x) else x


conj = Primitive("conj", _conj_impl, kind="elementwise", save_inputs=False, linear=True)
defvjp(conj, lambda g, ans, x: conj(g))
defjvp(conj, lambda t, ans, x: conj(t))
deflower(conj, "np.conj({0})")


def _real_impl(x: Any) -> Any:
    return x.real if _is_complex(x) else x


real = Primitive("real", _real_impl, kind="elementwise", save_inputs=False, linear=True)
# d Re(z): the gradient of a real loss through Re(z) is g itself (dL/dx = g, dL/dy = 0).
defvjp(real, lambda g, ans, x: g)
defjvp(real, lambda t, ans, x: real(t))
deflower(real, "np.real({0})")


def _imag_impl(x: Any) -> Any:
    return x.imag if _is_complex(x) else x * 0


imag = Primitive("imag", _imag_impl, kind="elementwise", save_inputs=False, linear=True)
# Through Im(z): dL/dx = 0, dL/dy = g, so the gradient dL/dx + i dL/dy is i g.
defvjp(imag, lambda g, ans, x: g * 1j)
defjvp(imag, lambda t, ans, x: imag(t))
deflower(imag, "np.imag({0})")

# --------------------------------------------------------------------------- arithmetic
# The arithmetic primitives compute with Python's operators rather than calling the ufuncs:
# the same ufunc runs for arrays, and 0-d values take NumPy's fast scalar path.

add = Primitive(
    "add", operator.add, kind="elementwise", nin=2, save_inputs=False, linear=True, symbol="+"
)
defvjp(add, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
defjvp(add, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
deflower(add, "{0} + {1}")

sub = Primitive(
    "sub", operator.sub, kind="elementwise", nin=2, save_inputs=False, linear=True, symbol="-"
)
defvjp(sub, lambda g, ans, x, y: g, lambda g, ans, x, y: -g)
defjvp(sub, lambda t, ans, x, y: t, lambda t, ans, x, y: -t)
deflower(sub, "{0} - {1}")

neg = Primitive("neg", operator.neg, kind="elementwise", save_inputs=False, linear=True, symbol="-")
defvjp(neg, lambda g, ans, x: -g)
defjvp(neg, lambda t, ans, x: -t)
deflower(neg, "-{0}")

mul = Primitive("mul", operator.mul, kind="elementwise", nin=2, symbol="*")
# mul is bilinear: each partial application is linear, so the rules are the product with
# the other factor (conjugated for complex, where d(xy)/dx = y is pulled back as g conj(y)).
defvjp(
    mul,
    lambda g, ans, x, y: g * y,
    lambda g, ans, x, y: g * x,
    complex_rules=(lambda g, ans, x, y: g * conj(y), lambda g, ans, x, y: g * conj(x)),
)
defjvp(mul, lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t)
deflower(mul, "{0} * {1}")

div = Primitive("div", operator.truediv, kind="elementwise", nin=2, symbol="/")
# d(x/y)/dy = -x / y**2, written so that 1.0 / den reads as the lectures' -g / den**2.
defvjp(
    div,
    lambda g, ans, x, y: g / y,
    lambda g, ans, x, y: -g * x / y**2,
    complex_rules=(
        lambda g, ans, x, y: g / conj(y),
        lambda g, ans, x, y: -g * conj(x / y**2),
    ),
)
defjvp(div, lambda t, ans, x, y: t / y, lambda t, ans, x, y: -t * x / y**2)
deflower(div, "{0} / {1}")


def _pow_dx(x: Any, y: Any) -> Any:
    """d(x**y)/dx = y x**(y-1). A Python-number exponent is a constant of the program, so
    branching on it is static; 0, 1 and 2 are spelled out (np.power is several times slower
    than a multiply, and x**0 has derivative 0 even at x = 0, where y x**(y-1) is 0 * inf)."""
    if type(y) is int or type(y) is float:
        if y == 0:
            return x * 0
        if y == 1:
            return 1.0
        if y == 2:
            return 2 * x
        return y * x ** (y - 1)
    # A tensor exponent: where y == 0 the derivative is 0; the base is replaced by 1 there
    # (the double-where trick), so the unused branch stays finite at every order.
    y_is_zero = y == 0
    safe_x = where(y_is_zero, 1, x)
    return where(y_is_zero, 0, y * safe_x ** (y - 1))


def _log_base(x: Any) -> Any:
    """log x for d(x**y)/dy = x**y log x, taken as 0 where x == 0 (as JAX does): there
    x**y is 0 for y > 0, and log(0) = -inf would turn 0 * -inf into NaN."""
    if type(x) is int or type(x) is float:
        return np.log(x) if x != 0 else 0.0
    return log(where(x == 0, 1, x))


pow = Primitive("pow", operator.pow, kind="elementwise", nin=2, save_output=True, symbol="**")
defvjp(
    pow,
    lambda g, ans, x, y: g * _pow_dx(x, y),
    lambda g, ans, x, y: g * ans * _log_base(x),
    complex_rules=(
        lambda g, ans, x, y: g * conj(_pow_dx(x, y)),
        lambda g, ans, x, y: g * conj(ans * _log_base(x)),
    ),
)
defjvp(
    pow,
    lambda t, ans, x, y: t * _pow_dx(x, y),
    lambda t, ans, x, y: t * ans * _log_base(x),
)
deflower(pow, "{0}**{1}")

# --------------------------------------------------------------------------- selection


def _share(x: Any, y: Any, wins: Any) -> Any:
    # maximum/minimum: the gradient goes to the winning argument; where both are equal it
    # is split evenly (half each), so the two halves add back up to g.
    return wins + 0.5 * (x == y)


maximum = Primitive("maximum", np.maximum, kind="elementwise", nin=2, complex=False)
defvjp(
    maximum,
    lambda g, ans, x, y: g * _share(x, y, x > y),
    lambda g, ans, x, y: g * _share(x, y, y > x),
)
defjvp(
    maximum,
    lambda t, ans, x, y: t * _share(x, y, x > y),
    lambda t, ans, x, y: t * _share(x, y, y > x),
)
deflower(maximum, "np.maximum({0}, {1})")

minimum = Primitive("minimum", np.minimum, kind="elementwise", nin=2, complex=False)
defvjp(
    minimum,
    lambda g, ans, x, y: g * _share(x, y, x < y),
    lambda g, ans, x, y: g * _share(x, y, y < x),
)
defjvp(
    minimum,
    lambda t, ans, x, y: t * _share(x, y, x < y),
    lambda t, ans, x, y: t * _share(x, y, y < x),
)
deflower(minimum, "np.minimum({0}, {1})")


def _where_impl(cond: Any, x: Any, y: Any) -> Any:
    return np.where(cond, x, y)


where = Primitive("where", _where_impl, kind="elementwise", nin=3)
# The condition is not differentiable (it is an input of the program all the same).
defvjp(where, None, lambda g, ans, c, x, y: where(c, g, 0), lambda g, ans, c, x, y: where(c, 0, g))
defjvp(where, None, lambda t, ans, c, x, y: where(c, t, 0), lambda t, ans, c, x, y: where(c, 0, t))
deflower(where, "np.where({0}, {1}, {2})")


def _clip_impl(x: Any, lo: Any, hi: Any) -> Any:
    return np.clip(x, lo, hi)


def _clip_pass(g: Any, x: Any, lo: Any, hi: Any) -> Any:
    # The gradient passes where lo <= x <= hi, bounds included (x exactly at a bound
    # counts as inside), and is 0 where x was clipped.
    if lo is None and hi is None:
        return g
    if lo is None:
        return g * (x <= hi)
    if hi is None:
        return g * (x >= lo)
    return g * ((x >= lo) & (x <= hi))


clip = Primitive("clip", _clip_impl, kind="elementwise", complex=False)
defvjp(clip, lambda g, ans, x, lo, hi: _clip_pass(g, x, lo, hi))
defjvp(clip, lambda t, ans, x, lo, hi: _clip_pass(t, x, lo, hi))
deflower(clip, lambda c: f"np.clip({c.ins[0]}, {c.array(c.p['lo'])}, {c.array(c.p['hi'])})")

# --------------------------------------------------------------------------- elementwise

exp = unary("exp", np.exp, lambda ans, x: ans, save="output")
# log's and sqrt's rules are spelled g / x and g / (2 s): one division, as written by hand.
log = unary(
    "log",
    np.log,
    lambda ans, x: 1 / x,
    save="input",
    vjp=lambda g, ans, x: g / x,
    cvjp=lambda g, ans, x: g / conj(x),
    jvp=lambda t, ans, x: t / x,
)
sqrt = unary(
    "sqrt",
    np.sqrt,
    lambda ans, x: 0.5 / ans,
    save="output",
    vjp=lambda g, ans, x: g / (2 * ans),
    cvjp=lambda g, ans, x: g / conj(2 * ans),
    jvp=lambda t, ans, x: t / (2 * ans),
)
# tanh is on the hottest paths, so its rules are spelled out (no extra call level); they
# are g * f' and t * f' with f' = 1 - tanh^2.
tanh = unary(
    "tanh",
    np.tanh,
    lambda ans, x: 1 - ans * ans,
    save="output",
    vjp=lambda g, ans, x: g * (1 - ans * ans),
    cvjp=lambda g, ans, x: g * conj(1 - ans * ans),
    jvp=lambda t, ans, x: t * (1 - ans * ans),
)
# sigmoid' = (1 - s) s, spelled g * (1 - s) * s as in the lectures.
sigmoid = unary(
    "sigmoid",
    K.sigmoid,
    lambda ans, x: (1 - ans) * ans,
    save="output",
    complex=False,
    lower="1.0 / (1 + np.exp(-{0}))",
    vjp=lambda g, ans, x: g * (1 - ans) * ans,
    jvp=lambda t, ans, x: t * (1 - ans) * ans,
)
sin = unary("sin", np.sin, lambda ans, x: cos(x), save="input")
cos = unary(
    "cos",
    np.cos,
    lambda ans, x: -sin(x),
    save="input",
    vjp=lambda g, ans, x: -g * sin(x),
    cvjp=lambda g, ans, x: -g * conj(sin(x)),
    jvp=lambda t, ans, x: -t * sin(x),
)


relu = Primitive(
    "relu",
    K.relu,
    kind="elementwise",
    save_inputs=False,
    save_output=True,
    complex=False,
    expression=True,
)
# relu'(0) is taken as 0: the gradient passes only where the output is positive.
# Multiplying by the mask is ~8x faster than np.where with a scalar 0 (the hand-written
# backward does the same); only an Inf/NaN upstream gradient at a blocked position differs
# (NaN instead of 0).
defvjp(relu, lambda g, ans, x: g * (ans > 0))
defjvp(relu, lambda t, ans, x: t * (ans > 0))
deflower(relu, "np.maximum({0}, 0)")


def _sgn(x: Any) -> Any:
    """z / |z| for complex z (0 at 0): the direction the modulus grows in."""
    zero = x == 0
    return where(zero, 0, x / abs(where(zero, 1, x)))


def _abs_jvp(t: Any, ans: Any, x: Any) -> Any:
    if _is_complex(x):
        return real(conj(_sgn(x)) * t)
    # sign(0) = 0, so abs'(0) is taken as 0.
    return t * sign(x)


def _abs_vjp(g: Any, ans: Any, x: Any) -> Any:
    # |z| is real for complex z, so the node's output is not complex: the rule tells the
    # cases apart by the input's dtype (static).
    if _is_complex(x):
        return g * _sgn(x)
    return g * sign(x)  # sign(0) = 0: abs'(0) is taken as 0


abs = Primitive("abs", np.abs, kind="elementwise", expression=True)
defvjp(abs, _abs_vjp)
defjvp(abs, _abs_jvp)
deflower(abs, "np.abs({0})")

# --------------------------------------------------------------------------- reductions


def _reduced_keepdims(v: Any, axis: Any, ndim: int, keepdims: bool) -> Any:
    """``v`` (a reduction's result or its gradient) with the reduced axes put back as 1s."""
    if keepdims or axis is None and _ndim(v) == ndim:
        return v
    if axis is None:
        return reshape_to(v, (1,) * ndim)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = sorted(a % ndim for a in axes)
    shape = list(_shape(v))
    for a in axes:
        shape.insert(a, 1)
    return reshape_to(v, tuple(shape))


def _sum_impl(x: Any, axis: Any, keepdims: bool, shape: tuple) -> Any:
    return reduce_sum(x, axis, keepdims=keepdims)


def _small(shape: tuple) -> bool:
    size = 1
    for n in shape:
        size *= n
    return size <= 65536


def _sum_vjp(g: Any, ans: Any, x: Any, axis: Any, keepdims: bool, shape: tuple) -> Any:
    # Every summed element gets the upstream gradient: put the reduced axes back and
    # broadcast. A full reduction's gradient is 0-d and broadcasts as it is.
    if axis is not None:
        g = _reduced_keepdims(g, axis, len(shape), keepdims)
    if type(g) is not np.ndarray and not isinstance(g, np.generic):
        return broadcast_to(g, shape=shape)
    if axis is None and len(shape) < 3 and _small(shape):
        return np.full(shape, g)  # small: filling is cheaper than np.broadcast_to's view
    return np.broadcast_to(g, shape)


sum = Primitive("sum", _sum_impl, kind="reduction", save_inputs=False, linear=True)
defvjp(sum, _sum_vjp)
deflinear(sum)
deflower(sum, lambda c: f"np.add.reduce({c.ins[0]}, axis={c.p['axis']!r}{_keep(c)})")


def _keep(c: Any) -> str:
    return ", keepdims=True" if c.p.get("keepdims") else ""


def sum_keep(v: Any, axis: Any) -> Any:
    """``v`` summed over ``axis`` with keepdims (recorded for Tensors)."""
    return sum(v, axis=axis, keepdims=True, shape=_shape(v))


def _extreme_weights(x: Any, ans: Any, axis: Any, keepdims: bool) -> Any:
    # max/min route the gradient to the arg-extreme; when several elements tie for the
    # extreme, it is split evenly among them (weights 1/count), as JAX and PyTorch's
    # amax do, so the weights of each reduced slice add up to 1.
    hits = astype(x == _reduced_keepdims(ans, axis, _ndim(x), keepdims), dtype=x.dtype)
    return hits / sum_keep(hits, axis)


def _max_impl(x: Any, axis: Any, keepdims: bool) -> Any:
    return reduce_max(x, axis, keepdims=keepdims)


def _min_impl(x: Any, axis: Any, keepdims: bool) -> Any:
    return np.minimum.reduce(x, axis=axis, keepdims=keepdims)


def _extreme_vjp(g: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    gk = _reduced_keepdims(g, axis, _ndim(x), keepdims)
    return gk * _extreme_weights(x, ans, axis, keepdims)


def _extreme_jvp(t: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    w = _extreme_weights(x, ans, axis, keepdims)
    return sum(t * w, axis=axis, keepdims=keepdims, shape=_shape(x))


def _reduce_lower(fn: str) -> Any:
    return lambda c: f"np.{fn}.reduce({c.ins[0]}, axis={c.p['axis']!r}{_keep(c)})"


max = Primitive("max", _max_impl, kind="reduction", save_output=True, complex=False)
defvjp(max, _extreme_vjp)
defjvp(max, _extreme_jvp)
deflower(max, _reduce_lower("maximum"))
min = Primitive("min", _min_impl, kind="reduction", save_output=True, complex=False)
defvjp(min, _extreme_vjp)
defjvp(min, _extreme_jvp)
deflower(min, _reduce_lower("minimum"))


def _softmax_of(x: Any, ans: Any, axis: Any, keepdims: bool) -> Any:
    return exp(x - _reduced_keepdims(ans, axis, _ndim(x), keepdims))


logsumexp = Primitive("logsumexp", K.logsumexp, kind="reduction", save_output=True, complex=False)
defvjp(
    logsumexp,
    lambda g, ans, x, axis, keepdims: (
        _reduced_keepdims(g, axis, _ndim(x), keepdims) * _softmax_of(x, ans, axis, keepdims)
    ),
)
defjvp(
    logsumexp,
    lambda t, ans, x, axis, keepdims: sum(
        t * _softmax_of(x, ans, axis, keepdims), axis=axis, keepdims=keepdims, shape=_shape(x)
    ),
)
deflower(logsumexp, "logsumexp({0}, {axis!r}, {keepdims!r})")

log_softmax = Primitive(
    "log_softmax", K.log_softmax, save_inputs=False, save_output=True, complex=False
)
defvjp(log_softmax, lambda g, ans, x, axis: g - exp(ans) * sum_keep(g, axis))
defjvp(log_softmax, lambda t, ans, x, axis: t - sum_keep(exp(ans) * t, axis))
deflower(log_softmax, "log_softmax({0}, {axis!r})")

softmax = Primitive("softmax", K.softmax, save_inputs=False, save_output=True, complex=False)
defvjp(softmax, lambda g, ans, x, axis: ans * (g - sum_keep(g * ans, axis)))
defjvp(softmax, lambda t, ans, x, axis: ans * (t - sum_keep(t * ans, axis)))
deflower(softmax, "softmax({0}, {axis!r})")

# --------------------------------------------------------------------------- losses


def _per_row(v: Any, reduction: str, n: int) -> Any:
    """The upstream gradient (or tangent weight) of each sample, as an (N, 1) column."""
    if reduction == "none":
        return reshape_to(v, (n, 1))
    return v / n if reduction == "mean" else v


def _reduce_rows(per_sample: Any, reduction: str, n: int) -> Any:
    if reduction == "none":
        return per_sample
    total = sum(per_sample, axis=None, keepdims=False, shape=_shape(per_sample))
    return total / n if reduction == "mean" else total


def _ce_jvp(t_dir: Any, weights: Any, reduction: str, n: int) -> Any:
    """A cross-entropy's tangent: each sample's sum of tangent x weights, then reduced."""
    per_sample = sum(t_dir * weights, axis=1, keepdims=False, shape=_shape(t_dir))
    return _reduce_rows(per_sample, reduction, n)


def _cross_entropy_impl(x: Any, logp: Any, labels: Any, reduction: str) -> Any:
    return K.nll(logp, labels, reduction)


cross_entropy = Primitive("cross_entropy", _cross_entropy_impl, kind="loss", nin=3, complex=False)
cross_entropy.save_inputs = "rest"  # logp and the labels (not the logits)
# Softmax cross-entropy of (N, C) logits x against integer labels, fused. ops builds it as
# logp = log_softmax(x) and cross_entropy(x, logp, labels): the loss is read off logp, and
# the gradient is taken with respect to x alone, (softmax(x) - onehot) g = (exp(logp) -
# onehot) g, in one kernel on the kept log-softmax (no second softmax). The logp input is
# declared non-differentiable: all of the loss's dependence on x is in x's rule. That is
# exact because logp is log_softmax(x) by construction, and it stays exact at every order:
# the kernel's own rules differentiate exp(logp), which depends on x through log_softmax.
defvjp(
    cross_entropy,
    lambda g, ans, x, logp, labels, reduction: cross_entropy_vjp(
        g, logp, labels, reduction=reduction
    ),
    None,
    None,
)
defjvp(
    cross_entropy,
    lambda t, ans, x, logp, labels, reduction: _ce_jvp(
        t,
        exp(logp) - one_hot(labels, n=_shape(logp)[1], dtype=logp.dtype),
        reduction,
        _shape(logp)[0],
    ),
    None,
    None,
)
deflower(cross_entropy, "nll({1}, {2}, {reduction!r})")


def _ce_vjp_impl(g: Any, logp: Any, labels: Any, reduction: str) -> Any:
    return K.cross_entropy_vjp(g, logp, labels, reduction)


cross_entropy_vjp = Primitive("cross_entropy_vjp", _ce_vjp_impl, kind="loss", nin=3, complex=False)
# The kernel (exp(logp) - onehot) * per_row(g) is linear in g and elementwise in logp.
defvjp(
    cross_entropy_vjp,
    lambda ct, ans, g, logp, labels, reduction: _ce_jvp(
        ct,
        exp(logp) - one_hot(labels, n=_shape(logp)[1], dtype=logp.dtype),
        reduction,
        _shape(logp)[0],
    ),
    lambda ct, ans, g, logp, labels, reduction: (
        ct * exp(logp) * _per_row(g, reduction, _shape(logp)[0])
    ),
    None,
)
defjvp(
    cross_entropy_vjp,
    lambda t, ans, g, logp, labels, reduction: cross_entropy_vjp(
        t, logp, labels, reduction=reduction
    ),
    lambda t, ans, g, logp, labels, reduction: (
        t * exp(logp) * _per_row(g, reduction, _shape(logp)[0])
    ),
    None,
)
deflower(cross_entropy_vjp, "cross_entropy_vjp({0}, {1}, {2}, {reduction!r})")


def _soft_ce_impl(x: Any, t: Any, reduction: str) -> Any:
    return K.soft_cross_entropy(x, t, reduction)


soft_cross_entropy = Primitive(
    "soft_cross_entropy", _soft_ce_impl, kind="loss", nin=2, complex=False
)
# Cross-entropy of (N, C) logits against (N, C) target probabilities (one-hot rows give the
# usual loss), differentiable in both: gradient (softmax(x) * rowsum(t) - t) g for the
# logits and -log_softmax(x) g for the targets.
defvjp(
    soft_cross_entropy,
    lambda g, ans, x, t, reduction: (
        _per_row(g, reduction, _shape(x)[0]) * (softmax(x, axis=1) * sum_keep(t, 1) - t)
    ),
    lambda g, ans, x, t, reduction: _per_row(g, reduction, _shape(x)[0]) * -log_softmax(x, axis=1),
)
defjvp(
    soft_cross_entropy,
    lambda tx, ans, x, t, reduction: _ce_jvp(
        tx, softmax(x, axis=1) * sum_keep(t, 1) - t, reduction, _shape(x)[0]
    ),
    lambda tt, ans, x, t, reduction: _ce_jvp(tt, -log_softmax(x, axis=1), reduction, _shape(x)[0]),
)
deflower(soft_cross_entropy, "soft_cross_entropy({0}, {1}, {reduction!r})")

# --------------------------------------------------------------------------- shapes


def _reshape_impl(x: Any, shape: tuple, in_shape: tuple) -> Any:
    return np.reshape(x, shape)


def reshape_to(v: Any, shape: tuple) -> Any:
    """Reshape an array or Tensor (recorded for Tensors)."""
    return reshape(v, shape=shape, in_shape=_shape(v))


reshape = Primitive("reshape", _reshape_impl, kind="shape", save_inputs=False, linear=True)
defvjp(reshape, lambda g, ans, x, shape, in_shape: reshape(g, shape=in_shape, in_shape=shape))
deflinear(reshape)
deflower(reshape, "np.reshape({0}, {shape!r})")


def _transpose_impl(x: Any, axes: tuple) -> Any:
    return np.transpose(x, axes)


def _inverse_axes(axes: tuple) -> tuple:
    return tuple(int(a) for a in np.argsort(axes))


transpose = Primitive("transpose", _transpose_impl, kind="shape", save_inputs=False, linear=True)
defvjp(transpose, lambda g, ans, x, axes: transpose(g, axes=_inverse_axes(axes)))
deflinear(transpose)
deflower(
    transpose,
    lambda c: (
        f"{c.ins[0]}.T"
        if len(c.p["axes"]) == 2
        else f"np.transpose({c.ins[0]}, {tuple(c.p['axes'])!r})"
    ),
)


def _broadcast_to_impl(x: Any, shape: tuple) -> Any:
    return np.broadcast_to(x, shape)


broadcast_to = Primitive(
    "broadcast_to", _broadcast_to_impl, kind="shape", save_inputs=False, linear=True
)
# The engine sums the gradient back to the input's shape: nothing to do here.
defvjp(broadcast_to, lambda g, ans, x, shape: g)
deflinear(broadcast_to)
deflower(broadcast_to, "np.broadcast_to({0}, {shape!r})")


def _sum_to_impl(x: Any, shape: tuple, in_shape: tuple) -> Any:
    return sum_to_shape(x, shape)


sum_to = Primitive("sum_to", _sum_to_impl, kind="reduction", save_inputs=False, linear=True)
# sum_to is how the engine undoes broadcasting in recorded backward passes; its own
# gradient broadcasts back up.
defvjp(sum_to, lambda g, ans, x, shape, in_shape: broadcast_to(g, shape=in_shape))
deflinear(sum_to)


def _sum_to_lower(c: Any) -> str:
    # Undo broadcasting with the axes worked out now (shapes are static): dz.sum(axis=0)
    # for a bias, not a generic call at run time (the axes are broadcast.reduced_axes').
    from .broadcast import reduced_axes

    lead, kept = reduced_axes(tuple(c.p["in_shape"]), tuple(c.p["shape"]))
    n = len(lead)
    axes = lead + tuple(n + k for k in kept)
    if not axes:
        return c.ins[0]
    axis = axes[0] if len(axes) == 1 else axes
    if not kept:
        return f"np.add.reduce({c.ins[0]}, axis={axis!r})"
    return (
        f"np.add.reduce({c.ins[0]}, axis={axis!r}, keepdims=True).reshape({tuple(c.p['shape'])!r})"
    )


deflower(sum_to, _sum_to_lower)


def _astype_impl(x: Any, dtype: Any) -> Any:
    return x.astype(dtype)


astype = Primitive("astype", _astype_impl, kind="elementwise", save_inputs=False, linear=True)
# The engine casts every gradient to its input's dtype: the rule itself is identity.
defvjp(astype, lambda g, ans, x, dtype: g)
defjvp(astype, lambda t, ans, x, dtype: astype(t, dtype=dtype))
deflower(astype, "np.asarray({0}, dtype=np.{dtype.name})")


cast = nondifferentiable("cast", _astype_impl, 1, complex=True)
# A cast to an integer or boolean dtype: no gradient (the result is piecewise constant), but
# recorded, so a traced program recomputes it from its input rather than holding the
# values it was traced with.


def _dtype_name(dtype: Any) -> str:
    """``np.int64``, ``np.uint8``, ``np.bool_`` (NumPy 1.x has no ``np.bool``): the name a
    person writes in generated code."""
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


deflower(cast, lambda c: f"np.asarray({c.ins[0]}, dtype={_dtype_name(c.p['dtype'])})")


def _copy_impl(x: Any) -> Any:
    return np.array(x, copy=True)


copy = Primitive("copy", _copy_impl, kind="elementwise", save_inputs=False, linear=True)
defvjp(copy, lambda g, ans, x: g)
defjvp(copy, lambda t, ans, x: t)
deflower(copy, "np.array({0})")

alias = Primitive("alias", lambda x: x, kind="shape", save_inputs=False, linear=True, symbol="=")
# Transforms give each differentiated argument a node of its own (an identity), so
# gradients are taken with respect to exactly that use of the argument.
defvjp(alias, lambda g, ans, x: g)
defjvp(alias, lambda t, ans, x: t)
deflower(alias, "{0}")

# --------------------------------------------------------------------------- indexing


class Slot:
    """Stands in an index template for the k-th index array given as an input."""

    __slots__ = ("k",)

    def __init__(self, k: int) -> None:
        self.k = k

    def __repr__(self) -> str:
        return f"Slot({self.k})"


def fill_index(template: Any, arrays: tuple) -> Any:
    """The index ``template`` with its ``Slot``s replaced by ``arrays``."""
    if not arrays:
        return template
    if isinstance(template, tuple):
        return tuple(arrays[p.k] if type(p) is Slot else p for p in template)
    return arrays[template.k] if type(template) is Slot else template


def _getitem_impl(x: Any, *arrays: Any, index: Any, shape: tuple) -> Any:
    return x[fill_index(index, arrays)]


def _index_add_impl(g: Any, *arrays: Any, index: Any, shape: tuple) -> Any:
    return K.index_add(g, fill_index(index, arrays), shape)


getitem = Primitive("getitem", _getitem_impl, kind="index", nin=None, save_inputs=False)
# Integer index arrays that are Tensors (computed from the program's inputs) are inputs of
# the primitive after x, so a traced program recomputes them; constant ones stay in the
# index template.
getitem.save_inputs = "rest"
defvjp(
    getitem,
    FirstInput(
        lambda g, ans, x, *arrays, index, shape: index_add(g, *arrays, index=index, shape=shape)
    ),
)
defjvp(
    getitem,
    FirstInput(
        lambda t, ans, x, *arrays, index, shape: getitem(t, *arrays, index=index, shape=shape)
    ),
)
deflower(getitem, lambda c: f"{c.ins[0]}[{c.index(c.p['index'], c.ins[1:])}]")

index_add = Primitive("index_add", _index_add_impl, kind="index", nin=None, save_inputs=False)
index_add.save_inputs = "rest"
defvjp(
    index_add,
    FirstInput(
        lambda g, ans, x, *arrays, index, shape: getitem(g, *arrays, index=index, shape=shape)
    ),
)
defjvp(
    index_add,
    FirstInput(
        lambda t, ans, x, *arrays, index, shape: index_add(t, *arrays, index=index, shape=shape)
    ),
)
deflower(
    index_add,
    lambda c: f"index_add({c.ins[0]}, np.s_[{c.index(c.p['index'], c.ins[1:])}], {c.p['shape']!r})",
)


def _index_put_impl(x: Any, v: Any, *arrays: Any, index: Any, shape: tuple) -> Any:
    out = np.array(x, copy=True)
    out[fill_index(index, arrays)] = v
    return out


def _zeros_of(like: Any, shape: tuple) -> Any:
    return np.zeros(shape, dtype=like.dtype)


index_put = Primitive("index_put", _index_put_impl, kind="index", nin=None)
index_put.save_inputs = "rest"
# out = x with out[index] = v: the overwritten entries of x get no gradient, and v gets the
# gradient of the entries it was written to (summed back to v's shape by the engine).
defvjp(
    index_put,
    FirstInput(
        lambda g, ans, x, v, *arrays, index, shape: index_put(
            g, 0, *arrays, index=index, shape=shape
        ),
        lambda g, ans, x, v, *arrays, index, shape: getitem(g, *arrays, index=index, shape=shape),
    ),
)
defjvp(
    index_put,
    FirstInput(
        lambda t, ans, x, v, *arrays, index, shape: index_put(
            t, 0, *arrays, index=index, shape=shape
        ),
        lambda t, ans, x, v, *arrays, index, shape: index_put(
            _zeros_of(t, shape), t, *arrays, index=index, shape=shape
        ),
    ),
)
deflower(
    index_put,
    lambda c: f"index_put({c.ins[0]}, {c.ins[1]}, np.s_[{c.index(c.p['index'], c.ins[2:])}])",
)


def _take_impl(x: Any, indices: Any, axis: int, shape: tuple) -> Any:
    return np.take_along_axis(x, indices, axis=axis)


def _scatter_impl(g: Any, indices: Any, axis: int, shape: tuple) -> Any:
    return K.scatter_along_axis(g, indices, axis, shape)


take_along_axis = Primitive("take_along_axis", _take_impl, kind="index", nin=2)
take_along_axis.save_inputs = "rest"
defvjp(
    take_along_axis,
    lambda g, ans, x, idx, axis, shape: scatter_along_axis(g, idx, axis=axis, shape=shape),
    None,
)
defjvp(
    take_along_axis,
    lambda t, ans, x, idx, axis, shape: take_along_axis(t, idx, axis=axis, shape=shape),
    None,
)
deflower(take_along_axis, "np.take_along_axis({0}, {1}, axis={axis!r})")

scatter_along_axis = Primitive("scatter_along_axis", _scatter_impl, kind="index", nin=2)
scatter_along_axis.save_inputs = "rest"
defvjp(
    scatter_along_axis,
    lambda g, ans, x, idx, axis, shape: take_along_axis(g, idx, axis=axis, shape=shape),
    None,
)
defjvp(
    scatter_along_axis,
    lambda t, ans, x, idx, axis, shape: scatter_along_axis(t, idx, axis=axis, shape=shape),
    None,
)
deflower(scatter_along_axis, "scatter_along_axis({0}, {1}, {axis!r}, {shape!r})")


def _concat_impl(*xs: Any, axis: int, sizes: tuple) -> Any:
    return np.concatenate(xs, axis=axis)


def _concat_slice(index: int, axis: int, sizes: tuple, ndim: int) -> tuple:
    start = int(np.sum(sizes[:index], dtype=np.int64))
    sl = [slice(None)] * ndim
    sl[axis] = slice(start, start + sizes[index])
    return tuple(sl)


def _concat_vjp(g: Any, ans: Any, *xs: Any, index: int, axis: int, sizes: tuple) -> Any:
    return getitem(g, index=_concat_slice(index, axis, sizes, _ndim(g)), shape=_shape(g))


def _concat_jvp_all(tangents: tuple, ans: Any, inputs: tuple, params: dict) -> Any:
    # Concatenate the tangents (zeros for inputs that carry none): linear, one pass.
    axis, sizes = params["axis"], params["sizes"]
    like = next(t for t in tangents if t is not None)
    parts = []
    for t, size in zip(tangents, sizes):
        if t is None:
            shape = list(_shape(like))
            shape[axis] = size
            t = np.zeros(tuple(shape), dtype=like.dtype)
        parts.append(t)
    return concatenate(*parts, axis=axis, sizes=sizes)


concatenate = Primitive(
    "concatenate", _concat_impl, kind="shape", nin=None, save_inputs=False, linear=True
)
defvjp(concatenate, PerInput(_concat_vjp))
concatenate.jvps = PerInput(lambda t, ans, *xs, index, axis, sizes: None)
concatenate.jvp_all = _concat_jvp_all
deflower(concatenate, lambda c: f"np.concatenate([{', '.join(c.ins)}], axis={c.p['axis']!r})")

# --------------------------------------------------------------------------- linear algebra


def _swap(x: Any) -> Any:
    """Transpose of the last two axes, for arrays and Tensors alike."""
    if x.ndim == 2:
        return x.T
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(x, axes=tuple(axes))


def expand(v: Any, axis: int) -> Any:
    shape = list(_shape(v))
    shape.insert(axis % (len(shape) + 1), 1)
    return reshape_to(v, tuple(shape))


def squeeze_axis(v: Any, axis: int) -> Any:
    shape = list(_shape(v))
    del shape[axis]
    return reshape_to(v, tuple(shape))


def _matmul_grads(g: Any, a: Any, b: Any, which: int) -> Any:
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if a_vec and b_vec:  # inner product: g is a scalar
        return g * b if which == 0 else g * a
    # matrix @ vector and vector @ matrix, directly (matrix-vector products, no reshapes)
    if b_vec and a.ndim == 2:
        return expand(g, -1) * b if which == 0 else matmul(a.T, g)
    if a_vec and b.ndim == 2:
        return matmul(b, g) if which == 0 else expand(a, -1) * g
    # Promote vectors to matrices the way matmul does, then drop the added axis again.
    g2 = g
    if a_vec:
        a = reshape_to(a, (1, a.shape[0]))
        g2 = expand(g2, -2)
    if b_vec:
        b = reshape_to(b, (b.shape[0], 1))
        g2 = expand(g2, -1)
    if which == 0:
        grad = matmul(g2, _swap(b))
        return squeeze_axis(grad, -2) if a_vec else grad
    grad = matmul(_swap(a), g2)
    return squeeze_axis(grad, -1) if b_vec else grad


matmul = Primitive("matmul", np.matmul, kind="contraction", nin=2, symbol="@")
# matmul is bilinear: the partial applications' transposes are products with the other
# factor, transposed (and conjugated for complex operands).
defvjp(
    matmul,
    lambda g, ans, a, b: _matmul_grads(g, a, b, 0),
    lambda g, ans, a, b: _matmul_grads(g, a, b, 1),
    complex_rules=(
        lambda g, ans, a, b: _matmul_grads(g, conj(a), conj(b), 0),
        lambda g, ans, a, b: _matmul_grads(g, conj(a), conj(b), 1),
    ),
)
defjvp(matmul, lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t))
deflower(matmul, "{0} @ {1}")


def _linear_impl(x: Any, w: Any, b: Any) -> Any:
    out = x @ w.T
    out += b
    return out


def _linear_weight_grad(g: Any, x: Any) -> Any:
    if x.ndim == 1:
        return reshape_to(g, (g.shape[0], 1)) * reshape_to(x, (1, x.shape[0]))
    if x.ndim > 2:
        x = reshape_to(x, (-1, x.shape[-1]))
        g = reshape_to(g, (-1, g.shape[-1]))
    return matmul(g.T, x)


linear = Primitive("linear", _linear_impl, kind="contraction", nin=3)
# y = x @ W.T + b with W of shape (out, in), as nn.Linear stores it.
defvjp(
    linear,
    lambda g, ans, x, w, b: matmul(g, w),
    lambda g, ans, x, w, b: _linear_weight_grad(g, x),
    lambda g, ans, x, w, b: g,
    complex_rules=(
        lambda g, ans, x, w, b: matmul(g, conj(w)),
        lambda g, ans, x, w, b: _linear_weight_grad(g, conj(x)),
        lambda g, ans, x, w, b: g,
    ),
)
defjvp(
    linear,
    lambda t, ans, x, w, b: matmul(t, w.T),
    lambda t, ans, x, w, b: matmul(x, t.T),
    lambda t, ans, x, w, b: t,
)
deflower(linear, "{0} @ {1}.T + {2}")
