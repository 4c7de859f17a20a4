"""The rule table of linear algebra: einsum (any operands, any subscripts), the cross
product and the ``cr.linalg`` primitives, each with its VJP, JVP and lowering.

Like ``rules.py``, every rule is written with chainrule operations, so one definition runs
on arrays (the fast first-order path) and on Tensors (recorded: any order, traced programs),
and reads values only through chainrule operations. The matrix-calculus results are cited
where they are used: M. B. Giles, "An extended collection of matrix derivative results for
forward and reverse mode algorithmic differentiation" (Oxford NA report 08/01, 2008);
I. Murray, "Differentiation of the Cholesky decomposition" (arXiv:1602.07527, 2016);
M. Seeger, A. Hetzel, Z. Dai, E. Meissner, N. D. Lawrence, "Auto-differentiating linear
algebra" (arXiv:1710.08717, 2017); J. Townsend, "Differentiating the singular value
decomposition" (2016); G. H. Golub and V. Pereyra, "The differentiation of pseudo-inverses
and nonlinear least squares problems" (SIAM J. Numer. Anal. 10, 1973).

Decompositions with several results (slogdet, qr, eigh, svd) are one primitive each whose
output packs the results side by side in one array (``kernels.eigh_packed`` ...): one
LAPACK call and one node; the public functions take the pieces apart with ``getitem``, and
the rules unpack the cotangent the same way. Complex numbers follow PyTorch's convention
(the gradient of a real loss is dL/dx + i dL/dy), so ``^H`` replaces ``^T`` throughout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import kernels as K
from . import rules as R
from .primitives import PerInput, Primitive, defjvp, deflower, defvjp

__all__ = [
    "SYMBOLS",
    "adjugate",
    "cholesky",
    "cross",
    "det",
    "eig",
    "eig_ratio",
    "eigvals",
    "eigh",
    "eigvalsh",
    "einsum",
    "einsum_apply",
    "einsum_plan",
    "inv",
    "l2norm",
    "lstsq",
    "masked_div",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
]

_is_complex = R._is_complex
_shape = R._shape
_ndim = R._ndim
conj = R.conj
real = R.real
matmul = R.matmul


# --------------------------------------------------------------------------- helpers
# Small staged building blocks: each works on arrays and on Tensors alike.


def _mT(x: Any) -> Any:
    """The transpose of the last two axes."""
    return R._swap(x)


def _mH(x: Any) -> Any:
    """The conjugate transpose of the last two axes (the transpose for real values)."""
    return conj(R._swap(x)) if _is_complex(x) else R._swap(x)


def _cj(x: Any) -> Any:
    return conj(x) if _is_complex(x) else x


def _re(x: Any) -> Any:
    return real(x) if _is_complex(x) else x


def _real_dtype(x: Any) -> Any:
    return np.finfo(x.dtype).dtype


def _eye(n: int, like: Any) -> np.ndarray:
    return np.eye(n, dtype=_real_dtype(like))


def _mask(n: int, k: int, like: Any, upper: bool = False) -> np.ndarray:
    """A constant 0/1 lower (or upper) triangle: ``np.tri`` with diagonal offset ``k``."""
    tri = np.tri(n, k=k, dtype=_real_dtype(like))
    return tri.T if upper else tri


def _sym(x: Any) -> Any:
    """(X + X^H) / 2: the Hermitian part (the gradient convention of symmetric inputs)."""
    return (x + _mH(x)) * 0.5


def _col(v: Any) -> Any:
    """(..., n) -> (..., n, 1)."""
    return R.expand(v, -1)


def _row(v: Any) -> Any:
    """(..., n) -> (..., 1, n)."""
    return R.expand(v, -2)


def _sum_last(x: Any, axes: Any) -> Any:
    return R.sum(x, axis=axes, keepdims=False, shape=_shape(x))


def _diag_part(x: Any) -> Any:
    """The diagonal of the last two axes as (..., n), via a mask (differentiable)."""
    return _sum_last(x * _eye(_shape(x)[-1], x), -2)


def _trace_of_product(a: Any, b: Any) -> Any:
    """tr(A B) over the last two axes, as sum(A^T * B) (no matrix product)."""
    return _sum_last(_mT(a) * b, (-2, -1))


def _scalar_to_matrix(v: Any) -> Any:
    """(...) -> (..., 1, 1), to scale stacks of matrices."""
    return R.reshape_to(v, tuple(_shape(v)) + (1, 1))


def _getitem(x: Any, index: tuple) -> Any:
    return R.getitem(x, index=index, shape=_shape(x))


def _concat(parts: list, axis: int) -> Any:
    nd = _ndim(parts[0])
    axis = axis % nd
    sizes = tuple(_shape(p)[axis] for p in parts)
    return R.concatenate(*parts, axis=axis, sizes=sizes)


def _masked_div_impl(x: Any, s: Any) -> Any:
    return K.masked_div(x, s)


masked_div = Primitive("masked_div", _masked_div_impl, kind="elementwise", nin=2, save_output=True)
# x / s (s real, broadcast), with 0 wherever x is 0, also where s is 0: a term whose
# numerator vanishes stays absent (an SVD whose vectors carry no gradient never divides by
# a zero singular value; xlogy's d/dy = x / y is 0 at x = 0). It is linear in x with the
# same convention (d/dx applies it to the tangent), so derivatives are right at x = 0 too,
# and d/ds = -x / s^2 = -masked_div(ans, s). Where s is 0 and x is not the value is inf:
# there the quantity does not exist.
defvjp(
    masked_div,
    lambda g, ans, x, s: masked_div(g, s),
    lambda g, ans, x, s: -_re(g * _cj(masked_div(ans, s))),
)
defjvp(
    masked_div,
    lambda t, ans, x, s: masked_div(t, s),
    lambda t, ans, x, s: -masked_div(ans, s) * t,
)
deflower(masked_div, "masked_div({0}, {1})")


# --------------------------------------------------------------------------- einsum

#: NumPy's einsum labels, in the order of its interleaved (sublist) form.
SYMBOLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

_PLANS: dict = {}
_RECIPES: dict = {}


def _split_spec(spec: str) -> tuple[tuple[str, ...], str]:
    lhs, out = spec.split("->")
    return tuple(lhs.split(",")), out


def einsum_plan(ins: tuple, out: str, shapes: tuple, optimize: Any = "greedy") -> tuple:
    """The contraction plan for ``ins -> out`` at these operand shapes (cached): the order
    ``np.einsum_path`` chooses (``optimize`` is its ``"greedy"`` -- what
    ``np.einsum(optimize=True)`` uses -- ``"optimal"``, or an explicit path), each pairwise
    product written as a matrix product where BLAS does it faster (a step ``("m", operands,
    perm_a, shape_a, perm_b, shape_b, shape_out, perm_out)``, ``None`` where no transpose
    or reshape is needed).

    >>> einsum_plan(("ij", "jk"), "ik", ((2, 3), (3, 4)))
    (('m', (0, 1), None, None, None, None, None, None),)
    >>> einsum_plan(("bij", "bkj"), "bik", ((5, 2, 3), (5, 4, 3)))  # small: the C loop
    (('e', (0, 1), 'bij,bkj->bik'),)
    """
    key = (ins, out, shapes, optimize)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) > 4096:
            _PLANS.clear()
        plan = _PLANS[key] = _make_plan(ins, out, shapes, optimize)
    return plan


def _make_plan(ins: tuple, out: str, shapes: tuple, optimize: Any) -> tuple:
    sizes: dict[str, int] = {}
    for s, shape in zip(ins, shapes):
        for c, d in zip(s, shape):
            sizes[c] = d
    n = len(ins)
    if n == 1:
        return (("e", (0,), f"{ins[0]}->{out}"),)
    if n == 2:
        path: list = [(0, 1)]
    elif isinstance(optimize, tuple):
        path = list(optimize)
    else:
        spec = ",".join(ins) + "->" + out
        dummies = [np.broadcast_to(np.zeros((), np.float64), shape) for shape in shapes]
        path = list(np.einsum_path(spec, *dummies, optimize=optimize)[0][1:])
    subs = list(ins)
    steps = []
    for k, idx in enumerate(path):
        idx = tuple(int(i) for i in idx)
        taken = [subs[i] for i in idx]
        rest = [s for i, s in enumerate(subs) if i not in idx]
        last = k == len(path) - 1
        needed = set(out).union(*rest)
        step = None
        if len(idx) == 2:
            step = _matmul_step(idx, taken[0], taken[1], needed, out if last else None, sizes)
        if step is None:
            target = (
                out if last else "".join(dict.fromkeys(c for s in taken for c in s if c in needed))
            )
            step = (("e", idx, ",".join(taken) + "->" + target), target)
        steps.append(step[0])
        subs = rest + [step[1]]
    return tuple(steps)


def _prod(values: Any) -> int:
    p = 1
    for v in values:
        p *= v
    return p


def _matmul_step(idx: tuple, sa: str, sb: str, needed: set, final: str | None, sizes: dict):
    """A pairwise contraction as (batched) matmul, or None where NumPy's C einsum loop is
    the better choice (repeated labels, labels summed within one operand, no contracted
    label, or small batched products)."""
    if len(set(sa)) != len(sa) or len(set(sb)) != len(sb):
        return None
    in_a, in_b = set(sa), set(sb)
    if any(c not in in_b and c not in needed for c in sa):
        return None
    if any(c not in in_a and c not in needed for c in sb):
        return None
    batch = [c for c in sa if c in in_b and c in needed]
    contracted = [c for c in sa if c in in_b and c not in needed]
    a_free = [c for c in sa if c not in in_b]
    b_free = [c for c in sb if c not in in_a]
    nb = _prod(sizes[c] for c in batch)
    m = _prod(sizes[c] for c in a_free)
    n = _prod(sizes[c] for c in b_free)
    k = _prod(sizes[c] for c in contracted)
    if not contracted or k < 2 or (nb > 1 and m * n * k < 2048):
        return None
    produced = batch + a_free + b_free
    perm_a = tuple(sa.index(c) for c in batch + a_free + contracted)
    perm_b = tuple(sb.index(c) for c in batch + contracted + b_free)
    # an operand with no free labels (outside a batch) stays a vector: matmul takes it as
    # one, with no reshape to (1, k) / (k, 1) and back
    vec_a, vec_b = not batch and not a_free, not batch and not b_free
    if vec_a and vec_b:  # (a dot product: matmul would return a NumPy scalar, not 0-d)
        vec_a = vec_b = False
    shape_a = (k,) if vec_a else (nb, m, k) if batch else (m, k)
    shape_b = (k,) if vec_b else (nb, k, n) if batch else (k, n)
    shape_out = tuple(sizes[c] for c in produced)
    perm_out = None
    if final is not None:
        perm_out = tuple(produced.index(c) for c in final)
        produced = list(final)

    def needed_perm(perm: tuple | None) -> tuple | None:
        return None if perm is None or perm == tuple(range(len(perm))) else perm

    def needed_shape(shape: tuple, have: tuple) -> tuple | None:
        return None if shape == have else shape

    # (the operands' shapes after their transposes: nothing to do where they already fit)
    have_a = tuple(sizes[c] for c in batch + a_free + contracted)
    have_b = tuple(sizes[c] for c in batch + contracted + b_free)
    have_out = (nb, m, n) if batch else (() if vec_a else (m,)) + (() if vec_b else (n,))
    step = (
        "m",
        idx,
        needed_perm(perm_a),
        needed_shape(shape_a, have_a),
        needed_perm(perm_b),
        needed_shape(shape_b, have_b),
        needed_shape(shape_out, have_out),
        needed_perm(perm_out),
    )
    return step, "".join(produced)


_einsum_step = K._einsum_step


def _einsum_impl(*operands: Any, spec: str, plan: tuple) -> Any:
    if len(plan) == 1:  # (the common case, without einsum_run's list bookkeeping)
        return _einsum_step(plan[0], operands)
    return K.einsum_run(plan, *operands)


einsum = Primitive("einsum", _einsum_impl, kind="contraction", nin=None)


def einsum_apply(ins: tuple, out: str, operands: list, optimize: Any = "greedy") -> Any:
    """``einsum`` of operands whose labels are explicit and consistent (no ellipsis, no
    broadcasting; repeated labels allowed), planned for their shapes: arrays in, array
    out; Tensors in, recorded.

    >>> einsum_apply(("ii",), "", [np.eye(3)])
    np.float64(3.0)
    """
    plan = einsum_plan(tuple(ins), out, tuple(tuple(_shape(o)) for o in operands), optimize)
    return einsum(*operands, spec=",".join(ins) + "->" + out, plan=plan)


def _vjp_recipe(spec: str, index: int, shapes: tuple) -> tuple:
    """How operand ``index``'s gradient is an einsum of the output's gradient with the
    other operands (cached per shapes, with its plan): labels repeated within the operand
    (a diagonal, a trace) get fresh labels tied to the first by identity matrices, and
    labels that only this operand has (summed in the forward pass) are absent from the
    einsum and broadcast afterwards."""
    key = (spec, index, shapes)
    recipe = _RECIPES.get(key)
    if recipe is not None:
        return recipe
    ins, out = _split_spec(spec)
    mine = ins[index]
    shape = shapes[index]
    sizes = {c: d for s, sh in zip(ins, shapes) for c, d in zip(s, sh)}
    fresh = iter(c for c in SYMBOLS if c not in spec)
    target, eyes, seen = [], [], set()
    for pos, c in enumerate(mine):
        if c in seen:
            f = next(fresh)
            eyes.append((c + f, shape[pos]))  # delta(c, f)
            sizes[f] = shape[pos]
            target.append(f)
        else:
            seen.add(c)
            target.append(c)
    others = tuple(j for j in range(len(ins)) if j != index)
    subs = (out,) + tuple(ins[j] for j in others) + tuple(e for e, _ in eyes)
    available = set("".join(subs))
    present = "".join(c for c in target if c in available)
    missing = [p for p, c in enumerate(target) if c not in available]
    kept = tuple(1 if p in missing else d for p, d in enumerate(shape)) if missing else None
    if len(subs) == 1 and sorted(subs[0]) == sorted(present):
        # a permutation of the gradient (or the gradient itself): no contraction needed
        perm = tuple(subs[0].index(c) for c in present)
        how = ("perm", None if perm == tuple(range(len(perm))) else perm)
    else:
        sub_shapes = tuple(tuple(sizes[c] for c in s) for s in subs)
        plan = einsum_plan(subs, present, sub_shapes)
        how = ("einsum", ",".join(subs) + "->" + present, plan)
    recipe = (how, others, tuple(n for _, n in eyes), kept, shape)
    if len(_RECIPES) > 4096:
        _RECIPES.clear()
    _RECIPES[key] = recipe
    return recipe


def _einsum_vjp(g: Any, ops: tuple, index: int, spec: str, complex_: bool) -> Any:
    how, others, eye_sizes, kept, shape = _vjp_recipe(spec, index, tuple([o.shape for o in ops]))
    if how[0] == "perm":
        r = g if how[1] is None else R.transpose(g, axes=how[1])
    else:
        operands = [g]
        for j in others:
            operands.append(_cj(ops[j]) if complex_ else ops[j])
        for n in eye_sizes:
            operands.append(_eye(n, g))
        r = einsum(*operands, spec=how[1], plan=how[2])
    if kept is not None:
        r = R.broadcast_to(R.reshape_to(r, kept), shape=shape)
    return r


def _einsum_jvp(t: Any, ans: Any, *ops: Any, index: int, spec: str, plan: tuple) -> Any:
    # einsum is linear in each operand: the tangent replaces that operand.
    args = list(ops)
    args[index] = t
    return einsum(*args, spec=spec, plan=plan)


# einsum is multilinear: operand k's gradient contracts the output's gradient with the other
# operands (conjugated for complex values) back to operand k's labels.
defvjp(
    einsum,
    PerInput(lambda g, ans, *ops, index, spec, plan: _einsum_vjp(g, ops, index, spec, False)),
    complex_rules=PerInput(
        lambda g, ans, *ops, index, spec, plan: _einsum_vjp(g, ops, index, spec, True)
    ),
)
defjvp(einsum, PerInput(_einsum_jvp))


def _einsum_lower(c: Any) -> str:
    # Readable where that is the same computation: one C-loop step is np.einsum itself
    # (which calls the same loop), a plain matrix product is @; otherwise the plan runs.
    plan, ins = c.p["plan"], c.ins
    subs, out = _split_spec(c.p["spec"])
    if len(plan) == 1:
        step = plan[0]
        if step[0] == "e":
            return f"np.einsum({step[2]!r}, {', '.join(ins)})"
        plain = step[2] is None and step[4] is None and step[7] is None
        if plain and len(subs) == 2 and all(len(s) == 2 for s in subs) and len(out) == 2:
            return f"{ins[0]} @ {ins[1]}"
    return f"einsum_run({plan!r}, {', '.join(ins)})"


deflower(einsum, _einsum_lower)


# --------------------------------------------------------------------------- cross product

cross = Primitive("cross", K.cross3, kind="other", nin=2)
# c = a x b is bilinear; g . (da x b) = da . (b x g) and g . (a x db) = db . (g x a) (the
# scalar triple product), with the other factor conjugated for complex values.
defvjp(
    cross,
    lambda g, ans, a, b: cross(b, g),
    lambda g, ans, a, b: cross(g, a),
    complex_rules=(
        lambda g, ans, a, b: cross(_cj(b), g),
        lambda g, ans, a, b: cross(g, _cj(a)),
    ),
)
defjvp(cross, lambda t, ans, a, b: cross(t, b), lambda t, ans, a, b: cross(a, t))
deflower(cross, "cross3({0}, {1})")


# --------------------------------------------------------------------------- inverse, solve

inv = Primitive("inv", K.linalg_inv, kind="other", save_inputs=False, save_output=True)
# X = A^-1: dX = -X dA X (Giles 2008, sec. 2.2.3), so A's gradient is -X^H G X^H.
defvjp(
    inv,
    lambda g, ans, a: -matmul(_mT(ans), matmul(g, _mT(ans))),
    complex_rules=(lambda g, ans, a: -matmul(_mH(ans), matmul(g, _mH(ans))),),
)
defjvp(inv, lambda t, ans, a: -matmul(ans, matmul(t, ans)))
deflower(inv, "linalg_inv({0})")


def _solve_vjp_all(g: Any, ans: Any, inputs: tuple, params: dict, needed: tuple) -> tuple:
    # X = A^-1 B (Giles 2008, sec. 2.3.1): B's gradient solves A^H gB = G, and A's is
    # -gB X^H. One solve serves both.
    a, b = inputs
    gb = solve(_mH(a), g)
    ga = -matmul(gb, _mH(ans)) if needed[0] else None
    return ga, gb if needed[1] else None


def _solve_jvp_all(tangents: tuple, ans: Any, inputs: tuple, params: dict) -> Any:
    # dX = A^-1 (dB - dA X): one solve for both tangents.
    ta, tb = tangents
    a, _ = inputs
    rhs = tb if ta is None else (-matmul(ta, ans) if tb is None else tb - matmul(ta, ans))
    return solve(a, rhs)


solve = Primitive(
    "solve",
    K.linalg_solve,
    kind="other",
    nin=2,
    save_output=True,
    vjp_all=_solve_vjp_all,
    jvp_all=_solve_jvp_all,
)
solve.jvps = (None, None)  # jvp_all handles both inputs at once
deflower(solve, "linalg_solve({0}, {1})")


# --------------------------------------------------------------------------- determinants

adjugate = Primitive("adjugate", K.adjugate, kind="other", save_output=True)
# adj(A) = det(A) A^-1 where A is invertible, so d adj = adj tr(A^-1 dA) - A^-1 dA adj
# (Giles 2008, sec. 2.2.4 with the product rule); its adjoint gives the VJP. Both need the
# inverse: the derivative of the adjugate at a singular matrix is not computed (inv raises).


def _adj_jvp(t: Any, ans: Any, a: Any) -> Any:
    ainv = inv(a)
    return ans * _scalar_to_matrix(_trace_of_product(ainv, t)) - matmul(ainv, matmul(t, ans))


def _adj_vjp(g: Any, ans: Any, a: Any) -> Any:
    ainv_h = _mH(inv(a))
    weight = _sum_last(g * _cj(ans), (-2, -1))
    return _scalar_to_matrix(weight) * ainv_h - matmul(ainv_h, matmul(g, _mH(ans)))


defvjp(adjugate, _adj_vjp)
defjvp(adjugate, _adj_jvp)
deflower(adjugate, "adjugate({0})")

det = Primitive("det", np.linalg.det, kind="other")
# d det(A) = tr(adj(A) dA) (Jacobi's formula; Giles 2008, sec. 2.2.4). The adjugate, not
# det(A) A^-1, so the gradient is right at singular matrices too (rank n-1: non-zero).
defvjp(
    det,
    lambda g, ans, a: _scalar_to_matrix(g) * _mT(adjugate(a)),
    complex_rules=(lambda g, ans, a: _scalar_to_matrix(g) * _mH(adjugate(a)),),
)
defjvp(det, lambda t, ans, a: _trace_of_product(adjugate(a), t))
deflower(det, "np.linalg.det({0})")

slogdet = Primitive("slogdet", K.slogdet_packed, kind="other", save_output=True)
# Packed (..., 2): [sign, log|det|]. With c = tr(A^-1 dA) = d log det A: d log|det| = Re c
# and d sign = sign i Im c (zero for real A, where the sign is piecewise constant). Where
# det A = 0, log|det| is -inf and has no derivative: the rules' inverse raises.


def _slogdet_vjp(g: Any, ans: Any, a: Any) -> Any:
    g_logabs = _getitem(g, (Ellipsis, 1))
    if not _is_complex(ans):
        return _scalar_to_matrix(g_logabs) * _mT(inv(a))
    sign = _getitem(ans, (Ellipsis, 0))
    g_sign = _getitem(g, (Ellipsis, 0))
    # w pairs with c: Re(conj(w) c) = g_l Re c - Im(conj(g_s) sign) Im c
    w = real(g_logabs) - R.imag(conj(g_sign) * sign) * 1j  # (x * 1j keeps NumPy scalars)
    return _scalar_to_matrix(w) * _mH(inv(a))


def _slogdet_jvp(t: Any, ans: Any, a: Any) -> Any:
    c = _trace_of_product(inv(a), t)
    if not _is_complex(ans):
        return _concat([R.expand(c * 0, -1), R.expand(c, -1)], -1)
    sign = _getitem(ans, (Ellipsis, 0))
    d_sign = sign * R.imag(c) * 1j
    return _concat([R.expand(d_sign, -1), R.expand(real(c), -1)], -1)


defvjp(slogdet, _slogdet_vjp)
defjvp(slogdet, _slogdet_jvp)
deflower(slogdet, "slogdet_packed({0})")


# --------------------------------------------------------------------------- pseudo-inverse


def _pinv_impl(a: Any, rtol: float) -> Any:
    return K.pinv_cutoff(a, rtol)


pinv = Primitive("pinv", _pinv_impl, kind="other", save_output=True)
# Golub & Pereyra (1973), eq. (4.12), for matrices of locally constant rank (the cutoff
# makes pinv discontinuous where the rank changes): with X = A^+,
# dX = -X dA X + X X^H dA^H (I - A X) + (I - X A) dA^H X^H X,
# and its adjoint -X^H G X^H + (I - A X) G^H X X^H + X^H X G^H (I - X A).


def _pinv_jvp_of(t: Any, x: Any, a: Any) -> Any:
    ax = matmul(a, x)
    xa = matmul(x, a)
    m, n = _shape(a)[-2], _shape(a)[-1]
    p = _eye(m, a) - ax  # I - A X, the projector onto the complement of range(A)
    q = _eye(n, a) - xa  # I - X A
    th = _mH(t)
    return (
        -matmul(x, matmul(t, x))
        + matmul(matmul(x, _mH(x)), matmul(th, p))
        + matmul(q, matmul(th, matmul(_mH(x), x)))
    )


def _pinv_vjp_of(g: Any, x: Any, a: Any) -> Any:
    m, n = _shape(a)[-2], _shape(a)[-1]
    p = _eye(m, a) - matmul(a, x)
    q = _eye(n, a) - matmul(x, a)
    gh, xh = _mH(g), _mH(x)
    return (
        -matmul(xh, matmul(g, xh))
        + matmul(p, matmul(gh, matmul(x, xh)))
        + matmul(matmul(xh, x), matmul(gh, q))
    )


defvjp(pinv, lambda g, ans, a, rtol: _pinv_vjp_of(g, ans, a))
defjvp(pinv, lambda t, ans, a, rtol: _pinv_jvp_of(t, ans, a))
deflower(pinv, "pinv_cutoff({0}, {rtol!r})")


def _lstsq_impl(a: Any, b: Any, rcond: Any, rtol: float) -> Any:
    return K.lstsq_solution(a, b, rcond)


def _lstsq_vjp_all(g: Any, ans: Any, inputs: tuple, params: dict, needed: tuple) -> tuple:
    # x = A^+ b: b's gradient is A^+^H g and A's is pinv's VJP at G_X = g b^H.
    a, b = inputs
    x = pinv(a, rtol=params["rtol"])
    ga = _pinv_vjp_of(matmul(g, _mH(b)), x, a) if needed[0] else None
    gb = matmul(_mH(x), g) if needed[1] else None
    return ga, gb


def _lstsq_jvp_all(tangents: tuple, ans: Any, inputs: tuple, params: dict) -> Any:
    ta, tb = tangents
    a, b = inputs
    x = pinv(a, rtol=params["rtol"])
    total = None if ta is None else matmul(_pinv_jvp_of(ta, x, a), b)
    if tb is not None:
        part = matmul(x, tb)
        total = part if total is None else total + part
    return total


lstsq = Primitive(
    "lstsq",
    _lstsq_impl,
    kind="other",
    nin=2,
    vjp_all=_lstsq_vjp_all,
    jvp_all=_lstsq_jvp_all,
)
lstsq.jvps = (None, None)
deflower(lstsq, "lstsq_solution({0}, {1}, {rcond!r})")


# --------------------------------------------------------------------------- cholesky

cholesky = Primitive(
    "cholesky", K.linalg_cholesky, kind="other", save_inputs=False, save_output=True
)
# A = L L^H (Murray 2016, eqs. 9-10): dL = L Phi(L^-1 dA L^-H), Phi = the lower triangle
# with the diagonal halved; the adjoint is L^-H Phi(L^H G) L^-1. LAPACK reads only A's
# lower triangle; the kernel factors the Hermitian part (A + A^H) / 2 (JAX's
# symmetrize_input), so the rules below, which symmetrize the tangent and return a
# Hermitian gradient (as PyTorch's do), are the exact derivatives for every input.


def _phi(x: Any) -> Any:
    n = _shape(x)[-1]
    return x * (_mask(n, -1, x) + 0.5 * _eye(n, x))


def _cholesky_vjp(g: Any, ans: Any, a: Any) -> Any:
    linv = inv(ans)
    s = matmul(_mH(linv), matmul(_phi(matmul(_mH(ans), g)), linv))
    return _sym(s)


def _cholesky_jvp(t: Any, ans: Any, a: Any) -> Any:
    linv = inv(ans)
    return matmul(ans, _phi(matmul(linv, matmul(_sym(t), _mH(linv)))))


defvjp(cholesky, _cholesky_vjp)
defjvp(cholesky, _cholesky_jvp)
deflower(cholesky, "linalg_cholesky({0})")


# --------------------------------------------------------------------------- QR


def _qr_impl(a: Any, complete: bool) -> Any:
    return K.qr_packed(a, complete)


qr = Primitive("qr", _qr_impl, kind="other", save_output=True)
# A = QR with Q^H Q = I and R upper triangular with a real diagonal (LAPACK's Householder
# QR). For m >= n (Seeger et al. 2017, sec. 3.3; Walter & Lehmann 2018): with
# C = Q^H dA R^-1, dR = U R and dQ = dA R^-1 - Q U, where U = triu(C, 1) + Re diag(C) +
# tril(C, -1)^H (so Q^H dQ is skew-Hermitian). A wide matrix (m < n) is split as
# A = [X Y] with X square: (Q, R_X) is X's QR and R_Y = Q^H Y.


def _qr_unpack(p: Any, m: int) -> tuple:
    return _mT(_getitem(p, (Ellipsis, slice(None, m)))), _getitem(p, (Ellipsis, slice(m, None)))


def _qr_pack(q: Any, r: Any) -> Any:
    return _concat([_mT(q), r], -1)


def _qr_check(a: Any, complete: bool) -> None:
    m, n = _shape(a)[-2], _shape(a)[-1]
    if complete and m > n:
        raise NotImplementedError(
            f"qr: mode='complete' of a tall matrix (shape {tuple(_shape(a))}) is not "
            f"differentiable: Q's last {m - n} columns are any orthonormal basis of the "
            f"complement of A's range; use mode='reduced'"
        )


def _tall_qr_jvp(t: Any, q: Any, r: Any) -> tuple:
    n = _shape(r)[-1]
    rinv = inv(r)
    c = matmul(_mH(q), matmul(t, rinv))
    lower = _mask(n, -1, c)  # strictly lower
    u = c * _mT(lower) + _re(c) * _eye(n, c) + _mH(c * lower)
    dr = matmul(u, r)
    dq = matmul(t, rinv) - matmul(q, u)
    return dq, dr


def _tall_qr_vjp(gq: Any, gr: Any, q: Any, r: Any) -> Any:
    n = _shape(r)[-1]
    rinv = inv(r)
    m_ = matmul(gr, _mH(r)) - matmul(_mH(q), gq)
    lower = _mask(n, -1, m_)
    gc = m_ * _mT(lower) + _re(m_) * _eye(n, m_) + _mH(m_) * lower
    return matmul(gq + matmul(q, gc), _mH(rinv))


def _qr_vjp(g: Any, ans: Any, a: Any, complete: bool) -> Any:
    _qr_check(a, complete)
    m, n = _shape(a)[-2], _shape(a)[-1]
    gq, gr = _qr_unpack(g, m)
    q, r = _qr_unpack(ans, m)
    if m >= n:
        return _tall_qr_vjp(gq, gr, q, r)
    y = _getitem(a, (Ellipsis, slice(m, None)))
    gr_x = _getitem(gr, (Ellipsis, slice(None, m)))
    gr_y = _getitem(gr, (Ellipsis, slice(m, None)))
    r_x = _getitem(r, (Ellipsis, slice(None, m)))
    # R_Y = Q^H Y: Y's gradient is Q gR_Y, and Q collects Y gR_Y^H
    gx = _tall_qr_vjp(gq + matmul(y, _mH(gr_y)), gr_x, q, r_x)
    return _concat([gx, matmul(q, gr_y)], -1)


def _qr_jvp(t: Any, ans: Any, a: Any, complete: bool) -> Any:
    _qr_check(a, complete)
    m, n = _shape(a)[-2], _shape(a)[-1]
    q, r = _qr_unpack(ans, m)
    if m >= n:
        return _qr_pack(*_tall_qr_jvp(t, q, r))
    y = _getitem(a, (Ellipsis, slice(m, None)))
    tx = _getitem(t, (Ellipsis, slice(None, m)))
    ty = _getitem(t, (Ellipsis, slice(m, None)))
    r_x = _getitem(r, (Ellipsis, slice(None, m)))
    dq, dr_x = _tall_qr_jvp(tx, q, r_x)
    dr_y = matmul(_mH(dq), y) + matmul(_mH(q), ty)
    return _qr_pack(dq, _concat([dr_x, dr_y], -1))


defvjp(qr, _qr_vjp)
defjvp(qr, _qr_jvp)
deflower(qr, "qr_packed({0}, {complete!r})")


# --------------------------------------------------------------------------- eigh


def _ratio_impl(k: Any, d: Any, op: str) -> Any:
    return K.eig_ratio(k, d, op)


eig_ratio = Primitive("eig_ratio", _ratio_impl, kind="other", nin=2, save_output=True)
# F o K with F_ij = 1 / (d_j - d_i) off the diagonal: linear in K (its own rule), and
# d F_ij / d d_j = -F_ij^2 = -d F_ij / d d_i. An entry with K_ij = 0 is 0 whatever the gap
# (so a decomposition whose vectors carry no gradient never divides by a zero gap), and one
# with a zero gap and K_ij != 0 is inf, with a warning: there the derivative does not exist.


def _ratio_d_vjp(g: Any, ans: Any, k: Any, d: Any, op: str) -> Any:
    # (holomorphic in d: with complex d (eig) the gradient is g * conj(f'); with real d
    # (eigh, svd) its real part)
    q = eig_ratio(ans, d, op=op)  # K_ij / (d_j - d_i)^2
    h = g * _cj(q)
    if not _is_complex(d):
        h = _re(h)
    return _sum_last(h, -1) - _sum_last(h, -2)


def _ratio_d_jvp(t: Any, ans: Any, k: Any, d: Any, op: str) -> Any:
    q = eig_ratio(ans, d, op=op)
    return q * (_col(t) - _row(t))


defvjp(
    eig_ratio,
    # linear in K: the adjoint multiplies by conj(F), which is F for real gaps
    lambda g, ans, k, d, op: eig_ratio(g, _cj(d), op=op),
    _ratio_d_vjp,
)
defjvp(
    eig_ratio,
    lambda t, ans, k, d, op: eig_ratio(t, d, op=op),
    _ratio_d_jvp,
)
deflower(eig_ratio, "eig_ratio({0}, {1}, {op!r})")


phase_check = Primitive("phase_check", K.phase_check, kind="other", nin=3, save_inputs=False)
# The identity on V^H gV (its first input), with a check (kernels.phase_check): a loss that
# depends on the free phases of complex eigenvectors / singular vectors has no gradient,
# and the backward pass raises there instead of returning the gradient of LAPACK's
# arbitrary phase choice. The second input (the SVD's V^H gV, checked together with U^H gU)
# and the third (the whole cotangent, the scale of the tolerance) only take part in the
# check.
defvjp(phase_check, lambda g, ans, k, partner, ref, op: g, None, None)
defjvp(phase_check, lambda t, ans, k, partner, ref, op: t, None, None)
deflower(phase_check, "phase_check({0}, {1}, {2}, {op!r})")


def _vh_g(v: Any, gv: Any, g: Any, op: str) -> Any:
    """V^H gV, phase-checked when the vectors are complex (``g``: the whole cotangent)."""
    vhgv = matmul(_mH(v), gv)
    return phase_check(vhgv, 0.0, g, op=op) if _is_complex(vhgv) else vhgv


def _eigh_impl(a: Any, uplo: str) -> Any:
    return K.eigh_packed(a, uplo)


eigh = Primitive("eigh", _eigh_impl, kind="other", save_inputs=False, save_output=True)
# A = V diag(w) V^H (Giles 2008, sec. 3.1; Seeger et al. 2017): for a Hermitian dA,
# dw = Re diag(V^H dA V) and dV = V (F o (V^H dA V)), F_ij = 1 / (w_j - w_i) off the
# diagonal; the gauge diag(V^H dV) = 0 fixes each eigenvector's free phase (a sign for
# real matrices). The adjoint: V (diag(gw) + F o (V^H gV)) V^H. The kernel decomposes the
# Hermitian part (A + A^H) / 2 (LAPACK alone would read one triangle), so these rules
# (tangent symmetrized, gradient Hermitian, as PyTorch's) are exact for every input.
# Packed (..., n + 1, n): row 0 holds w, rows 1.. hold V.


def _eigh_unpack(p: Any) -> tuple:
    return _re(_getitem(p, (Ellipsis, 0, slice(None)))), _getitem(
        p, (Ellipsis, slice(1, None), slice(None))
    )


def _eigh_vjp(g: Any, ans: Any, a: Any, uplo: str) -> Any:
    w, v = _eigh_unpack(ans)
    gw, gv = _eigh_unpack(g)
    inner = eig_ratio(_vh_g(v, gv, g, "eigh"), w, op="eigh") + _row(gw) * _eye(_shape(w)[-1], w)
    return _sym(matmul(v, matmul(inner, _mH(v))))


def _eigh_jvp(t: Any, ans: Any, a: Any, uplo: str) -> Any:
    w, v = _eigh_unpack(ans)
    kk = matmul(_mH(v), matmul(_sym(t), v))
    dw = _re(_diag_part(kk))
    dv = matmul(v, eig_ratio(kk, w, op="eigh"))
    if _is_complex(dv):
        dw = dw + 0j
    return _concat([_row(dw), dv], -2)


defvjp(eigh, _eigh_vjp)
defjvp(eigh, _eigh_jvp)
deflower(eigh, "eigh_packed({0}, {uplo!r})")


eig = Primitive("eig", K.eig_packed, kind="other", save_inputs=False, save_output=True)
# A general (diagonalizable) A = V diag(w) V^-1, unit eigenvectors (Giles 2008, sec. 3.1;
# PyTorch's linalg_eig_backward). With P = V^-1 dA V and E_ij = w_j - w_i:
#   dw = diag(P),  dV = V C - V Re diag(V^H V C),  C = P / E off the diagonal, 0 on it
# (the second term keeps each column at unit norm; its phase is LAPACK's arbitrary choice,
# so only losses invariant under v_i -> e^{i t} v_i have a gradient: for others the
# backward raises, phase_check on V^H gV, as PyTorch's does). The adjoint:
#   gA = V^-H (diag(gw) + (V^H gV - V^H V Re diag(V^H gV)) / conj(E)) V^H
# with the off-diagonal division by conj(E) (eig_ratio with conj(w)). A real A's gradient
# is the real part (the engine takes it). Repeated eigenvalues: see eig_ratio; a defective
# matrix (V singular) makes the solves fail. Packed (..., n + 1, n) complex as in eigh.


def _eig_unpack(p: Any) -> tuple:
    return _getitem(p, (Ellipsis, 0, slice(None))), _getitem(
        p, (Ellipsis, slice(1, None), slice(None))
    )


def _eig_vjp(g: Any, ans: Any, a: Any) -> Any:
    w, v = _eig_unpack(ans)
    gw, gv = _eig_unpack(g)
    vh = _mH(v)
    vhgv = _vh_g(v, gv, g, "eig")
    inner = vhgv - matmul(vh, v * _row(real(_diag_part(vhgv))))
    m = eig_ratio(inner, conj(w), op="eig") + _row(gw) * _eye(_shape(w)[-1], w)
    return solve(vh, matmul(m, vh))


def _eig_jvp(t: Any, ans: Any, a: Any) -> Any:
    w, v = _eig_unpack(ans)
    p = solve(v, matmul(t, v))
    dv = matmul(v, eig_ratio(p, w, op="eig"))
    dv = dv - v * _row(real(_sum_last(conj(v) * dv, -2)))
    return _concat([_row(_diag_part(p)), dv], -2)


defvjp(eig, _eig_vjp)
defjvp(eig, _eig_jvp)
deflower(eig, "eig_packed({0})")


eigvals = Primitive("eigvals", K.eigvals_c, kind="other")
# The eigenvalues alone: dw = diag(V^-1 dA V), gradient V^-H diag(g) V^H, with V from an
# eig of the same matrix (recomputed in the rule, as for eigvalsh).


def _eigvals_vjp(g: Any, ans: Any, a: Any) -> Any:
    _, v = _eig_unpack(eig(a))
    vh = _mH(v)
    return solve(vh, _col(g) * vh)


def _eigvals_jvp(t: Any, ans: Any, a: Any) -> Any:
    _, v = _eig_unpack(eig(a))
    return _diag_part(solve(v, matmul(t, v)))


defvjp(eigvals, _eigvals_vjp)
defjvp(eigvals, _eigvals_jvp)
deflower(eigvals, "eigvals_c({0})")


eigvalsh = Primitive("eigvalsh", K.eigvalsh_hermitian, kind="other")
# The eigenvalues alone: dw = Re diag(V^H dA V), gradient V diag(g) V^H, with V from an
# eigh of the same matrix (recomputed in the rule: the forward pass computes values only).
# At repeated eigenvalues these are one valid choice (the sorted eigenvalues are only
# directionally differentiable there); symmetric functions of them are exact.


def _eigvalsh_vjp(g: Any, ans: Any, a: Any, uplo: str) -> Any:
    _, v = _eigh_unpack(eigh(a, uplo=uplo))
    return matmul(v * _row(g), _mH(v))


def _eigvalsh_jvp(t: Any, ans: Any, a: Any, uplo: str) -> Any:
    _, v = _eigh_unpack(eigh(a, uplo=uplo))
    return _re(_sum_last(_cj(v) * matmul(_sym(t), v), -2))


defvjp(eigvalsh, _eigvalsh_vjp)
defjvp(eigvalsh, _eigvalsh_jvp)
deflower(eigvalsh, "eigvalsh_hermitian({0}, {uplo!r})")


# --------------------------------------------------------------------------- SVD


def _svd_impl(a: Any, full_matrices: bool) -> Any:
    return K.svd_packed(a, full_matrices)


svd = Primitive("svd", _svd_impl, kind="other", save_output=True)
# A = U S V^H (Townsend 2016; complex case as PyTorch's svd_backward). With P = U^H dA V
# and F_ij = 1 / (s_j^2 - s_i^2) off the diagonal:
#   dS = Re diag(P)
#   dU = U (F o (P S + S P^H) + i Im diag(P) / S) + (I - U U^H) dA V S^-1
#   dV = V (F o (S P + P^H S)) + (I - V V^H) dA^H U S^-1
# (the gauge diag(V^H dV) = 0 fixes the joint phase of u_i, v_i), and the adjoint
#   gA = U gP V^H + (I - U U^H) gU S^-1 V^H + U S^-1 gV^H (I - V V^H), with
#   gP = diag(gS) + (F o (J_U - J_U^H)) S + S (F o (J_V - J_V^H)) + i Im diag(J_U) / S,
#   J_U = U^H gU, J_V = V^H gV.
# The vectors have no derivative at repeated singular values (F: see eig_ratio) nor, for
# non-square A, at zero ones (S^-1); terms whose gradient is 0 stay 0 there. With
# full_matrices=True and m != n, the extra columns of U (rows of Vh) are any basis of a
# complement: they get no gradient and no tangent (PyTorch's choice), as documented.


def _svd_sizes(a: Any, full: bool) -> tuple:
    m, n = _shape(a)[-2], _shape(a)[-1]
    k = min(m, n)
    ku, kv = (m, n) if full else (k, k)
    return m, n, k, ku, kv


def _svd_unpack(p: Any, a: Any, full: bool) -> tuple:
    """U (..., m, k), s (..., k), Vh (..., k, n): the reduced parts of a packed SVD."""
    m, n, k, ku, kv = _svd_sizes(a, full)
    lead = tuple(_shape(p)[:-1])
    u = R.reshape_to(_getitem(p, (Ellipsis, slice(0, m * ku))), lead + (m, ku))
    s = _re(_getitem(p, (Ellipsis, slice(m * ku, m * ku + k))))
    vh = R.reshape_to(_getitem(p, (Ellipsis, slice(m * ku + k, None))), lead + (kv, n))
    if ku != k:
        u = _getitem(u, (Ellipsis, slice(None), slice(0, k)))
    if kv != k:
        vh = _getitem(vh, (Ellipsis, slice(0, k), slice(None)))
    return u, s, vh


def _svd_vjp(g: Any, ans: Any, a: Any, full_matrices: bool) -> Any:
    m, n, k, _, _ = _svd_sizes(a, full_matrices)
    u, s, vh = _svd_unpack(ans, a, full_matrices)
    gu, gs, gvh = _svd_unpack(g, a, full_matrices)
    v, gv = _mH(vh), _mH(gvh)
    ju, jv = matmul(_mH(u), gu), matmul(vh, gv)
    if _is_complex(ju):  # the phases: u_i, v_i -> e^(i phi) u_i, e^(i phi) v_i together
        ju = phase_check(ju, jv, g, op="svd")
    s2 = s * s
    eye = _eye(k, s)
    gp = (
        _row(gs) * eye
        + eig_ratio(ju - _mH(ju), s2, op="svd") * _row(s)
        + _col(s) * eig_ratio(jv - _mH(jv), s2, op="svd")
    )
    if _is_complex(ju):
        gp = gp + masked_div(R.imag(ju * eye), _row(s)) * 1j
    ga = matmul(u, matmul(gp, vh))
    if m > k:  # the part of gU outside U's span
        ga = ga + matmul(masked_div(gu - matmul(u, ju), _row(s)), vh)
    if n > k:  # the part of gV outside V's span
        ga = ga + matmul(u, _mH(masked_div(gv - matmul(v, jv), _row(s))))
    return ga


def _svd_jvp(t: Any, ans: Any, a: Any, full_matrices: bool) -> Any:
    m, n, k, ku, kv = _svd_sizes(a, full_matrices)
    u, s, vh = _svd_unpack(ans, a, full_matrices)
    v = _mH(vh)
    tv = matmul(t, v)
    p = matmul(_mH(u), tv)
    ph = _mH(p)
    s2 = s * s
    ds = _re(_diag_part(p))
    omega_u = eig_ratio(p * _row(s) + _col(s) * ph, s2, op="svd")
    if _is_complex(p):
        omega_u = omega_u + masked_div(R.imag(p * _eye(k, s)), _row(s)) * 1j
    du = matmul(u, omega_u)
    dv = matmul(v, eig_ratio(_col(s) * p + ph * _row(s), s2, op="svd"))
    if m > k:
        du = du + masked_div(tv - matmul(u, p), _row(s))
    if n > k:
        dv = dv + masked_div(matmul(_mH(t), u) - matmul(v, ph), _row(s))
    dvh = _mH(dv)
    lead = tuple(_shape(du)[:-2])
    if ku != k:  # extra columns: no tangent (see above)
        du = _concat([du, R.broadcast_to(np.zeros((), du.dtype), shape=lead + (m, ku - k))], -1)
    if kv != k:
        dvh = _concat([dvh, R.broadcast_to(np.zeros((), dvh.dtype), shape=lead + (kv - k, n))], -2)
    if _is_complex(du) or _is_complex(dvh):
        ds = ds + 0j
    return _concat(
        [R.reshape_to(du, lead + (m * ku,)), ds, R.reshape_to(dvh, lead + (kv * n,))], -1
    )


defvjp(svd, _svd_vjp)
defjvp(svd, _svd_jvp)
deflower(svd, "svd_packed({0}, {full_matrices!r})")


def _svdvals_impl(a: Any) -> Any:
    return np.linalg.svd(a, compute_uv=False)


svdvals = Primitive("svdvals", _svdvals_impl, kind="other")
# The singular values alone: dS = Re diag(U^H dA V) and gradient U diag(g) V^H, with the
# vectors from an SVD of the same matrix (recomputed in the rule). At repeated singular
# values this is one valid choice; at a zero singular value (like |x| at 0) a subgradient.


def _svdvals_vjp(g: Any, ans: Any, a: Any) -> Any:
    u, _, vh = _svd_unpack(svd(a, full_matrices=False), a, False)
    return matmul(u * _row(g), vh)


def _svdvals_jvp(t: Any, ans: Any, a: Any) -> Any:
    u, _, vh = _svd_unpack(svd(a, full_matrices=False), a, False)
    return _re(_sum_last(_cj(u) * matmul(t, _mH(vh)), -2))


defvjp(svdvals, _svdvals_vjp)
defjvp(svdvals, _svdvals_jvp)
deflower(svdvals, "np.linalg.svd({0}, compute_uv=False)")


# --------------------------------------------------------------------------- 2-norm


def _l2norm_vjp(g: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    # d|x| = Re(conj(x) dx) / |x|: the gradient is g x / |x|. At x = 0 the norm has no
    # derivative; the subgradient 0 is taken there (PyTorch's choice), with the
    # double-where so higher orders stay finite.
    n = R._reduced_keepdims(ans, axis, _ndim(x), keepdims)
    gk = R._reduced_keepdims(g, axis, _ndim(x), keepdims)
    zero = n == 0
    return R.where(zero, 0, gk * x / R.where(zero, 1, n))


def _l2norm_jvp(t: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    zero = ans == 0
    dot = R.sum(_re(_cj(x) * t), axis=axis, keepdims=keepdims, shape=_shape(x))
    return R.where(zero, 0, dot / R.where(zero, 1, ans))


l2norm = Primitive("l2norm", K.l2norm, kind="reduction", save_output=True)
defvjp(l2norm, _l2norm_vjp)
defjvp(l2norm, _l2norm_jvp)
deflower(l2norm, "l2norm({0}, {axis!r}, {keepdims!r})")
