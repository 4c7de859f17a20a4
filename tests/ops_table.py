"""The per-primitive test table: one or more rows per primitive, each with the input
shapes (scalars, vectors, matrices and broadcast pairs) and the inputs' valid domain.

``tests/test_core_ops_table.py`` feeds every row to the checker, and fails when a
registered primitive has no row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import rules as P


@dataclass
class Row:
    primitive: str  # the registered primitive this row exercises
    fn: Callable[..., Any]
    shapes: list[tuple]
    # "real", "positive" (x > 0.3), "away" (|x| > 0.3, off kinks), "unit" (0.1 < x < 0.9),
    # "ball" (|x| < 0.9) or "matrix" (+ n I on the last two axes: well conditioned)
    domain: str = "real"
    label: str = ""
    also: list[str] = field(default_factory=list)  # other primitives the row exercises
    complex: bool = False  # complex128 inputs (PyTorch's convention for gradients)

    @property
    def id(self) -> str:
        kind = "c-" if self.complex else ""
        return f"{kind}{self.primitive}-{self.label or 'x'.join(str(s) for s in self.shapes)}"

    def inputs(self, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        out = []
        for shape in self.shapes:
            x = rng.standard_normal(shape)
            if self.complex:
                x = x + 1j * rng.standard_normal(shape)
                if self.domain in ("positive", "away"):  # off 0 and the negative real axis
                    x = np.abs(x.real) + 0.3 + 1j * x.imag
            elif self.domain == "positive":
                x = np.abs(x) + 0.3
            elif self.domain == "away":
                x = np.sign(x) * (np.abs(x) + 0.3)
            elif self.domain == "unit":
                x = 0.1 + 0.8 / (1 + np.exp(-x))
            elif self.domain == "ball":
                x = 0.9 * np.tanh(x)
            if self.domain == "matrix" and len(shape) >= 2 and shape[-1] == shape[-2]:
                x = x + shape[-1] * np.eye(shape[-1])
            out.append(x)
        return out


PAIRS = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3))]

ROWS: list[Row] = []
for a, b in PAIRS:
    ROWS += [
        Row("add", lambda x, y: x + y, [a, b]),
        Row("sub", lambda x, y: x - y, [a, b]),
        Row("mul", lambda x, y: x * y, [a, b]),
        Row("div", lambda x, y: x / y, [a, b], domain="away"),
        Row("pow", lambda x, y: x**y, [a, b], domain="positive"),
        Row("maximum", cr.maximum, [a, b]),
        Row("minimum", cr.minimum, [a, b]),
    ]

for shape in [(), (3,), (2, 3)]:
    ROWS += [
        Row("neg", lambda x: -x, [shape]),
        Row("exp", cr.exp, [shape]),
        Row("log", cr.log, [shape], domain="positive"),
        Row("sqrt", cr.sqrt, [shape], domain="positive"),
        Row("tanh", cr.tanh, [shape]),
        Row("sigmoid", cr.sigmoid, [shape]),
        Row("relu", cr.relu, [shape], domain="away"),
        Row("abs", cr.abs, [shape], domain="away"),
        Row("sin", cr.sin, [shape]),
        Row("cos", cr.cos, [shape]),
        Row("clip", lambda x: cr.clip(x, -0.25, 0.25), [shape], domain="away"),
        Row("pow", lambda x: x**3, [shape], label=f"cube-{shape}"),
        Row("pow", lambda x: 2.0**x, [shape], label=f"exp2-{shape}"),
        Row("sum", lambda x: x.sum(), [shape], label=f"all-{shape}"),
        Row("max", lambda x: x.max(), [shape], label=f"all-{shape}"),
        Row("min", lambda x: x.min(), [shape], label=f"all-{shape}"),
        Row("logsumexp", lambda x: x.logsumexp(), [shape], label=f"all-{shape}"),
        Row("copy", lambda x: x.copy() * x, [shape]),
        Row("astype", lambda x: P.astype(x, dtype=np.dtype(np.float64)) * x, [shape]),
    ]

ROWS += [
    Row("pow", lambda x: x**0.5, [(2, 3)], domain="positive", label="sqrt"),
    Row("where", lambda x, y: cr.where(x.data > 0, x, y), [(2, 3), (3,)]),
    Row(
        "where",
        lambda x, y: cr.where(np.array([True, False, True]), x * y, y),
        [(2, 1), (1, 3)],
        label="bcast",
    ),
    Row("sum", lambda x: x.sum(axis=0), [(2, 3)], label="axis0"),
    Row("sum", lambda x: x.sum(axis=(0, 2), keepdims=True), [(2, 3, 2)], label="keep"),
    Row("sum", lambda x: x.sum(axis=-1), [(3,)], label="vec"),
    Row("max", lambda x: x.max(axis=1), [(2, 3)], label="axis1"),
    Row("max", lambda x: x.max(axis=0, keepdims=True), [(2, 3)], label="keep"),
    Row("min", lambda x: x.min(axis=-1), [(2, 3)], label="axis-1"),
    Row("logsumexp", lambda x: x.logsumexp(axis=1), [(2, 3)], label="axis1"),
    Row("logsumexp", lambda x: x.logsumexp(axis=0, keepdims=True), [(2, 3)], label="keep"),
    Row("softmax", lambda x: x.softmax(axis=-1), [(2, 3)]),
    Row("softmax", lambda x: x.softmax(axis=0), [(3,)], label="vec"),
    Row("cross_entropy", lambda x: cr.softmax_cross_entropy(x, np.array([2, 0])), [(2, 3)]),
    Row(
        "cross_entropy",
        lambda x: cr.softmax_cross_entropy(x, np.array([1, 1, 0]), "sum"),
        [(3, 4)],
        label="sum",
    ),
    Row(
        "cross_entropy",
        lambda x: cr.softmax_cross_entropy(x, np.array([2, 0]), "none"),
        [(2, 3)],
        label="none",
    ),
    Row("soft_cross_entropy", lambda x, t: cr.softmax_cross_entropy(x, t), [(2, 3), (2, 3)]),
    Row(
        "soft_cross_entropy",
        lambda x, t: cr.softmax_cross_entropy(x, t.abs(), "none"),
        [(3, 4), (3, 4)],
        label="none",
    ),
    Row(
        "soft_cross_entropy",
        lambda x: cr.softmax_cross_entropy(x, np.eye(3)[[2, 0]], "sum"),
        [(2, 3)],
        label="onehot-sum",
    ),
    Row("log_softmax", lambda x: x.log_softmax(axis=-1), [(2, 3)]),
    Row("log_softmax", lambda x: x.log_softmax(axis=0), [(2, 3)], label="axis0"),
    Row("reshape", lambda x: x.reshape(3, 2) * np.arange(6.0).reshape(3, 2), [(2, 3)]),
    Row("reshape", lambda x: x.reshape(-1), [()], label="scalar"),
    Row("transpose", lambda x: x.T * np.arange(6.0).reshape(3, 2), [(2, 3)]),
    Row("transpose", lambda x: x.transpose(1, 2, 0), [(2, 3, 2)], label="3d"),
    Row("broadcast_to", lambda x: x.broadcast_to((2, 3)) * np.arange(6.0).reshape(2, 3), [(3,)]),
    Row("broadcast_to", lambda x: x.broadcast_to((2, 3)), [(2, 1)], label="col"),
    Row("sum_to", lambda x: P.sum_to(x, shape=(3,), in_shape=x.shape), [(2, 3)]),
    Row("sum_to", lambda x: P.sum_to(x, shape=(2, 1), in_shape=x.shape), [(2, 3)], label="keep"),
    Row("getitem", lambda x: x[1], [(2, 3)], label="int"),
    Row("getitem", lambda x: x[:, 1:], [(2, 3)], label="slice"),
    Row("getitem", lambda x: x[np.array([0, 2, 2])], [(3,)], label="repeat"),
    Row(
        "getitem",
        lambda x: x[np.array([[True, False, True], [False, True, False]])],
        [(2, 3)],
        label="mask",
    ),
    Row("getitem", lambda x: x[None, ..., 0], [(2, 3)], label="none-ellipsis"),
    Row("index_add", lambda x: P.index_add(x, index=np.array([0, 2, 0]), shape=(4,)), [(3,)]),
    Row(
        "index_add",
        lambda x: P.index_add(x, index=(slice(None), 1), shape=(2, 3)),
        [(2,)],
        label="basic",
    ),
    Row("take_along_axis", lambda x: cr.take_along_axis(x, np.array([[2], [0]]), axis=1), [(2, 3)]),
    Row(
        "take_along_axis",
        lambda x: cr.take_along_axis(x, np.array([[1, 1, 0]]), axis=0),
        [(2, 3)],
        label="repeat",
    ),
    Row(
        "scatter_along_axis",
        lambda x: P.scatter_along_axis(x, np.array([[2], [0]]), axis=1, shape=(2, 3)),
        [(2, 1)],
    ),
    Row(
        "scatter_along_axis",
        lambda x: P.scatter_along_axis(x, np.array([[1, 1], [0, 1]]), axis=1, shape=(2, 3)),
        [(2, 2)],
        label="repeat",
    ),
    Row("concatenate", lambda x, y: cr.concatenate([x, y * y], axis=0), [(2, 3), (1, 3)]),
    Row("concatenate", lambda x, y: cr.stack([x, y], axis=1), [(3,), (3,)], label="stack"),
    Row("matmul", lambda a, b: a @ b, [(2, 3), (3, 4)]),
    Row("matmul", lambda a, b: a @ b, [(3,), (3, 4)], label="vec-mat"),
    Row("matmul", lambda a, b: a @ b, [(2, 3), (3,)], label="mat-vec"),
    Row("matmul", lambda a, b: a @ b, [(3,), (3,)], label="vec-vec"),
    Row("matmul", lambda a, b: a @ b, [(2, 2, 3), (3, 2)], label="batched"),
    Row("matmul", lambda a, b: a @ b, [(2, 1, 2, 3), (3, 3, 2)], label="batch-bcast"),
    Row("linear", lambda x, w, b: cr.linear(x, w, b), [(4, 3), (2, 3), (2,)]),
    Row("linear", lambda x, w, b: cr.linear(x, w, b), [(3,), (2, 3), (2,)], label="vec"),
    Row("linear", lambda x, w, b: cr.linear(x, w, b), [(2, 4, 3), (2, 3), (2,)], label="batched"),
    Row("alias", lambda x: cr.grad(lambda y: (y * y * x).sum())(x), [(3,)]),
    Row("index_put", lambda x, v: cr.index_put(x, (slice(None), 1), v * v), [(2, 3), (2,)]),
    Row("index_put", lambda x, v: cr.index_put(x, np.array([0, 2]), v), [(3,), ()], label="bcast"),
]
for row in ROWS:
    if row.primitive == "cross_entropy":
        row.also += ["log_softmax", "cross_entropy_vjp"]

# Complex inputs (PyTorch's convention), for every primitive that accepts them.
CPAIRS = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3))]
for a, b in CPAIRS:
    ROWS += [
        Row("add", lambda x, y: x + y, [a, b], complex=True),
        Row("sub", lambda x, y: x - y, [a, b], complex=True),
        Row("mul", lambda x, y: x * y, [a, b], complex=True),
        Row("div", lambda x, y: x / y, [a, b], domain="away", complex=True),
        Row("pow", lambda x, y: x**y, [a, b], domain="positive", complex=True),
    ]
for shape in [(), (3,), (2, 3)]:
    ROWS += [
        Row("neg", lambda x: -x, [shape], complex=True),
        Row("exp", cr.exp, [shape], complex=True),
        Row("log", cr.log, [shape], domain="positive", complex=True),
        Row("sqrt", cr.sqrt, [shape], domain="positive", complex=True),
        Row("tanh", lambda x: cr.tanh(x * 0.5), [shape], complex=True),
        Row("sin", cr.sin, [shape], complex=True),
        Row("cos", cr.cos, [shape], complex=True),
        Row("abs", cr.abs, [shape], domain="away", complex=True),
        Row("conj", lambda x: cr.conj(x) * x, [shape], complex=True),
        Row("real", lambda x: cr.real(x * x), [shape], complex=True),
        Row("imag", lambda x: cr.imag(x * x), [shape], complex=True),
        Row("pow", lambda x: x**3, [shape], label=f"cube-{shape}", complex=True),
        Row("sum", lambda x: (x * x).sum(), [shape], label=f"all-{shape}", complex=True),
        Row("copy", lambda x: x.copy() * x, [shape], complex=True),
        Row(
            "real",
            lambda x: x.var() if x.ndim else cr.real(x * x),
            [shape],
            label=f"var-{shape}",
            complex=True,
        ),
    ]
ROWS += [
    Row("sum", lambda x: x.sum(axis=0), [(2, 3)], label="axis0", complex=True),
    Row("reshape", lambda x: x.reshape(3, 2) * x.reshape(3, 2), [(2, 3)], complex=True),
    Row("transpose", lambda x: x.T @ x, [(2, 3)], complex=True, also=["matmul"]),
    Row("broadcast_to", lambda x: x.broadcast_to((2, 3)) * 1j, [(3,)], complex=True),
    Row("getitem", lambda x: x[np.array([0, 2, 2])] * x[1], [(3,)], complex=True),
    Row("concatenate", lambda x, y: cr.concatenate([x, y * y]), [(2, 3), (1, 3)], complex=True),
    Row("matmul", lambda a, b: a @ b, [(2, 3), (3, 4)], complex=True),
    Row("matmul", lambda a, b: a @ b, [(3,), (3,)], label="vec-vec", complex=True),
    Row("linear", lambda x, w, b: cr.linear(x, w, b), [(4, 3), (2, 3), (2,)], complex=True),
    Row(
        "where",
        lambda x, y: cr.where(np.array([True, False, True]), x, y * y),
        [(3,), (3,)],
        complex=True,
    ),
    Row("astype", lambda x: cr.real(x).astype(np.complex128) * x, [(3,)], complex=True),
    Row(
        "scatter_along_axis",
        lambda x: P.scatter_along_axis(x * x, np.array([[2], [0]]), axis=1, shape=(2, 3)),
        [(2, 1)],
        complex=True,
    ),
    Row("sum_to", lambda x: P.sum_to(x * x, shape=(3,), in_shape=(2, 3)), [(2, 3)], complex=True),
    Row("index_put", lambda x, v: cr.index_put(x, 1, v * v), [(3,), ()], complex=True),
    Row(
        "take_along_axis",
        lambda x: cr.take_along_axis(x, np.array([[2], [0]]), axis=1) * x,
        [(2, 3)],
        complex=True,
    ),
    Row(
        "index_add",
        lambda x: P.index_add(x * x, index=np.array([0, 2, 0]), shape=(4,)),
        [(3,)],
        complex=True,
    ),
    Row("alias", lambda x: cr.grad(lambda y: cr.real(y * y * x).sum())(x), [(3,)], complex=True),
]


# --------------------------------------------------------------------------- linear algebra,
# contractions and special functions (cr.linalg, cr.einsum & co, cr.special). Symmetric
# inputs are built inside the row (x + x^T, x x^T + n I), so the checker's perturbations,
# which are not symmetric, test the Hermitian-gradient convention along every direction.
LA = cr.linalg
SP = cr.special
P_LA = __import__("chainrule.rules_linalg", fromlist=["masked_div"])


def _sym(x):
    return x + cr.conj(x.mT)


def _spd(x):
    return x @ cr.conj(x.mT) + x.shape[-1] * cr.eye(x.shape[-1])


def _phase_free(u):
    # |u|^2 entrywise: what a loss of complex singular / eigen vectors may depend on (their
    # phases are arbitrary)
    return cr.real(u * cr.conj(u))


ROWS += [
    Row("einsum", lambda a, b: cr.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)], label="matmul"),
    Row("einsum", lambda a, b: cr.einsum("ij,jk", a, b), [(2, 3), (3, 2)], label="implicit"),
    Row("einsum", lambda a: cr.einsum("ii", a), [(3, 3)], label="trace"),
    Row("einsum", lambda a: cr.einsum("ii->i", a) * 1.5, [(3, 3)], label="diagonal"),
    Row("einsum", lambda a: cr.einsum("iij->j", a), [(3, 3, 2)], label="diag-sum"),
    Row("einsum", lambda a, b: cr.einsum("i,i->", a, b), [(3,), (3,)], label="dot"),
    Row("einsum", lambda a, b: cr.einsum("i,j->ij", a, b), [(2,), (3,)], label="outer"),
    Row("einsum", lambda a: cr.einsum("ij->", a), [(2, 3)], label="sum"),
    Row("einsum", lambda a: cr.einsum("ijk->kij", a), [(2, 3, 2)], label="permute"),
    Row(
        "einsum",
        lambda a, b: cr.einsum("...ij,...jk->...ik", a, b),
        [(2, 1, 2, 3), (3, 3, 2)],
        label="ellipsis-bcast",
    ),
    Row("einsum", lambda a, b: cr.einsum("ij,ij->ij", a, b), [(1, 3), (2, 3)], label="bcast-1"),
    Row(
        "einsum",
        lambda a, b, c: cr.einsum("ij,jk,kl->il", a, b, c),
        [(2, 3), (3, 4), (4, 2)],
        label="three",
    ),
    Row(
        "einsum",
        lambda a, b: cr.einsum("ii,ij->j", a, b),
        [(3, 3), (3, 2)],
        label="diag-contract",
    ),
    Row("einsum", lambda s, a: cr.einsum(",ij->ij", s, a), [(), (2, 2)], label="scalar"),
    Row("einsum", lambda a, b: cr.tensordot(a, b, axes=2), [(2, 3, 4), (3, 4, 2)], label="tdot"),
    Row(
        "einsum",
        lambda a, b: cr.tensordot(a, b, axes=([0], [1])),
        [(3, 2), (2, 3)],
        label="tdot-pair",
    ),
    Row("einsum", lambda a, b: cr.inner(a, b), [(2, 3), (4, 3)], label="inner"),
    Row("einsum", lambda a, b: cr.kron(a, b), [(2, 2), (3,)], label="kron"),
    Row("cross", lambda a, b: cr.cross(a, b), [(3,), (3,)]),
    Row("cross", lambda a, b: cr.cross(a, b), [(2, 3), (3,)], label="bcast"),
    Row("cross", lambda a, b: cr.cross(a, b, axis=0), [(3, 2), (3, 2)], label="axis0"),
    Row("inv", LA.inv, [(3, 3)], domain="matrix"),
    Row("inv", LA.inv, [(2, 3, 3)], domain="matrix", label="batched"),
    Row("det", LA.det, [(3, 3)], domain="matrix", also=["adjugate"]),
    Row("det", LA.det, [(2, 2, 2)], domain="matrix", label="batched", also=["adjugate"]),
    Row("det", lambda a: LA.det(a * 0.3), [(3, 3)], label="raw", also=["adjugate"]),
    Row("slogdet", lambda a: LA.slogdet(a).logabsdet, [(3, 3)], domain="matrix"),
    Row("slogdet", lambda a: LA.slogdet(-a)[1], [(2, 3, 3)], domain="matrix", label="batched"),
    Row("solve", LA.solve, [(3, 3), (3,)], domain="matrix", label="vector"),
    Row("solve", LA.solve, [(3, 3), (3, 2)], domain="matrix", label="matrix"),
    Row("solve", LA.solve, [(2, 3, 3), (3, 1)], domain="matrix", label="batched"),
    Row("pinv", LA.pinv, [(4, 3)], label="tall"),
    Row("pinv", LA.pinv, [(2, 4)], label="wide"),
    Row("pinv", LA.pinv, [(2, 3, 2)], label="batched"),
    Row("lstsq", lambda a, b: LA.lstsq(a, b)[0], [(4, 3), (4,)]),
    Row("lstsq", lambda a, b: LA.lstsq(a, b)[0], [(2, 3), (2, 2)], label="wide"),
    Row("lstsq", lambda a, b: LA.lstsq(a, b)[1], [(4, 2), (4, 2)], label="residuals"),
    Row("cholesky", lambda a: LA.cholesky(_spd(a)), [(3, 3)]),
    Row("cholesky", lambda a: LA.cholesky(_spd(a), upper=True), [(2, 3, 3)], label="batched"),
    Row("qr", lambda a: tuple(LA.qr(a)), [(4, 3)], label="tall"),
    Row("qr", lambda a: tuple(LA.qr(a)), [(3, 3)], label="square"),
    Row("qr", lambda a: tuple(LA.qr(a)), [(2, 4)], label="wide"),
    Row("qr", lambda a: LA.qr(a, mode="r"), [(2, 3, 2)], label="r-batched"),
    Row("eigh", lambda a: tuple(LA.eigh(_sym(a))), [(3, 3)], also=["eig_ratio"]),
    Row("eigh", lambda a: LA.eigh(_sym(a))[1], [(2, 3, 3)], label="vectors-b", also=["eig_ratio"]),
    Row("eigh", lambda a: LA.eigh(_sym(a), UPLO="U")[0], [(3, 3)], label="values"),
    Row("eigvalsh", lambda a: LA.eigvalsh(_sym(a)), [(3, 3)]),
    Row("eigvalsh", lambda a: LA.eigvalsh(_sym(a)), [(2, 2, 2)], label="batched"),
    # eig: complex results of a real matrix (real and imaginary parts as real outputs);
    # the vectors through |v|^2, which does not depend on LAPACK's phases
    Row("eig", lambda a: cr.real(LA.eig(a)[0]), [(3, 3)], label="values-re"),
    Row("eig", lambda a: cr.imag(LA.eig(a)[0]), [(2, 3, 3)], label="values-im"),
    Row("eig", lambda a: _phase_free(LA.eig(a)[1]), [(3, 3)], label="vectors", also=["eig_ratio"]),
    Row("eigvals", lambda a: cr.real(LA.eigvals(a)), [(3, 3)], label="re"),
    Row("eigvals", lambda a: cr.imag(LA.eigvals(a)), [(2, 3, 3)], label="im"),
    Row("svd", lambda a: tuple(LA.svd(a, full_matrices=False)), [(4, 3)], label="tall"),
    Row("svd", lambda a: tuple(LA.svd(a, full_matrices=False)), [(2, 4)], label="wide"),
    Row("svd", lambda a: tuple(LA.svd(a)), [(3, 3)], label="square", also=["eig_ratio"]),
    Row("svd", lambda a: LA.svd(a)[1], [(2, 3, 2)], label="values-full"),
    Row("svdvals", LA.svdvals, [(4, 3)]),
    Row("svdvals", LA.svdvals, [(2, 2, 3)], label="batched"),
    Row("svdvals", lambda a: LA.norm(a, "nuc"), [(3, 4)], label="nuc"),
    Row("svdvals", lambda a: LA.norm(a, 2), [(3, 2)], label="ord2"),
    Row("svdvals", lambda a: LA.norm(a, -2, axis=(0, 2)), [(3, 2, 3)], label="ord-2"),
    Row("l2norm", LA.norm, [(3,)], label="vector"),
    Row("l2norm", LA.norm, [(2, 3)], label="fro"),
    Row("l2norm", lambda x: LA.norm(x, axis=1, keepdims=True), [(2, 3)], label="axis"),
    Row("l2norm", lambda x: LA.norm(x, "fro", axis=(0, 2)), [(2, 3, 2)], label="fro-axes"),
    Row("l2norm", lambda x: LA.vector_norm(x, axis=(0, 1)), [(2, 3, 2)], label="vector-axes"),
    Row("sum", lambda x: LA.norm(x, 1, axis=0), [(3, 2)], domain="away", label="norm-l1"),
    Row("pow", lambda x: LA.norm(x, 3, axis=-1), [(2, 3)], domain="away", label="norm-p3"),
    Row("max", lambda x: LA.norm(x, np.inf), [(2, 3)], domain="away", label="norm-inf"),
    Row("min", lambda x: LA.norm(x, -1), [(3, 3)], domain="away", label="norm-col-min"),
    Row("matmul", lambda a: LA.matrix_power(a, 3), [(3, 3)], label="matrix-power"),
    Row("inv", lambda a: LA.matrix_power(a, -2), [(3, 3)], domain="matrix", label="power-neg"),
    Row("erf", SP.erf, [(2, 3)], label="special"),
    Row("erfc", SP.erfc, [(2, 3)]),
    Row("erfcx", SP.erfcx, [(2, 3)]),
    Row("erfcx", lambda x: SP.erfcx(x * 10), [(3,)], label="tail"),
    Row("erfinv", SP.erfinv, [(2, 3)], domain="ball"),
    Row("gammaln", SP.gammaln, [(2, 3)], domain="positive"),
    Row("gammaln", lambda x: SP.gammaln(-x - 0.1), [(3,)], domain="unit", label="negative"),
    Row("polygamma", SP.digamma, [(2, 3)], domain="positive", label="digamma"),
    Row("polygamma", lambda x: SP.polygamma(1, x), [(3,)], domain="positive", label="trigamma"),
    Row("log_ndtr", SP.log_ndtr, [(2, 3)]),
    Row("log_ndtr", lambda x: SP.log_ndtr(x * 10), [(4,)], label="tails"),
    Row("logit", SP.logit, [(2, 3)], domain="unit"),
    Row("softplus", SP.softplus, [(2, 3)], label="special"),
    Row("xlogy", SP.xlogy, [(2, 3), (3,)], domain="positive"),
    Row("masked_div", lambda x, s: P_LA.masked_div(x * x, s), [(2, 3), (3,)], domain="away"),
    Row("xlog1py", SP.xlog1py, [(2, 3), (3,)], domain="positive"),
    Row("sigmoid", SP.expit, [(3,)], label="expit"),
]


def _at_zero(prim: str, fn, shapes: list, domain: str = "real") -> Row:
    """A row whose first input is exactly 0 at the checked point (the point subtracted as
    a constant) while its direction is not: a convention at x = 0 must keep derivatives."""
    x0 = Row(prim, fn, shapes, domain=domain).inputs()[0]
    return Row(prim, lambda x, *rest: fn(x - x0, *rest), shapes, domain=domain, label="x0")


ROWS += [
    _at_zero("xlogy", lambda x, y: SP.xlogy(x, y), [(3,), (3,)], domain="positive"),
    _at_zero("xlog1py", lambda x, y: SP.xlog1py(x, y), [(3,), (3,)], domain="positive"),
    _at_zero("masked_div", lambda x, s: P_LA.masked_div(x, s), [(2, 3), (3,)], domain="away"),
]

# complex inputs (PyTorch's convention) for the linear algebra that accepts them
ROWS += [
    Row("einsum", lambda a, b: cr.einsum("ij,jk->ik", a, b), [(2, 3), (3, 2)], complex=True),
    Row("einsum", lambda a: cr.einsum("ii", a * a), [(3, 3)], label="trace", complex=True),
    Row(
        "einsum",
        lambda a, b: cr.einsum("...i,...i", a, b),
        [(2, 3), (3,)],
        label="ellipsis",
        complex=True,
    ),
    Row("cross", lambda a, b: cr.cross(a, b), [(2, 3), (3,)], complex=True),
    Row("inv", LA.inv, [(3, 3)], domain="matrix", complex=True),
    Row("det", LA.det, [(3, 3)], domain="matrix", complex=True, also=["adjugate"]),
    Row("slogdet", lambda a: LA.slogdet(a)[1], [(3, 3)], domain="matrix", complex=True),
    Row(
        "slogdet", lambda a: LA.slogdet(a)[0], [(3, 3)], domain="matrix", label="sign", complex=True
    ),
    Row("solve", LA.solve, [(3, 3), (3, 2)], domain="matrix", complex=True),
    Row("pinv", LA.pinv, [(4, 3)], complex=True),
    Row("lstsq", lambda a, b: LA.lstsq(a, b)[0], [(4, 3), (4,)], complex=True),
    Row("cholesky", lambda a: LA.cholesky(_spd(a)), [(3, 3)], complex=True),
    Row("qr", lambda a: tuple(LA.qr(a)), [(4, 3)], complex=True),
    Row("qr", lambda a: tuple(LA.qr(a)), [(2, 3)], label="wide", complex=True),
    Row("eigh", lambda a: LA.eigh(_sym(a))[0], [(3, 3)], label="values", complex=True),
    Row(
        "eigh",
        lambda a: _phase_free(LA.eigh(_sym(a))[1]),
        [(3, 3)],
        label="vectors",
        complex=True,
        also=["eig_ratio"],
    ),
    Row("eigvalsh", lambda a: LA.eigvalsh(_sym(a)), [(3, 3)], complex=True),
    Row("eig", lambda a: LA.eig(a)[0], [(3, 3)], label="values", complex=True),
    Row(
        "eig",
        lambda a: _phase_free(LA.eig(a)[1]),
        [(3, 3)],
        label="vectors",
        complex=True,
        also=["eig_ratio"],
    ),
    Row("eigvals", LA.eigvals, [(2, 3, 3)], complex=True),
    Row(
        "svd",
        lambda a: (lambda u, s, vh: (_phase_free(u), s, u @ vh))(*LA.svd(a, False)),
        [(4, 3)],
        complex=True,
        also=["eig_ratio"],
    ),
    Row(
        "svd",
        lambda a: (lambda u, s, vh: (_phase_free(vh), u @ vh))(*LA.svd(a, False)),
        [(2, 4)],
        label="wide",
        complex=True,
    ),
    Row("svdvals", LA.svdvals, [(3, 2)], complex=True),
    Row("l2norm", LA.norm, [(2, 3)], complex=True),
    Row("l2norm", lambda x: LA.norm(x, axis=0), [(2, 3)], label="axis", complex=True),
    Row("masked_div", lambda x, s: P_LA.masked_div(x * x, cr.abs(s)), [(2, 3), (3,)], complex=True),
]


@dataclass
class Check:
    """A non-differentiable primitive (a comparison, ``sign``): its value against NumPy's."""

    primitive: str
    fn: Callable[..., Any]
    reference: Callable[..., Any]
    shapes: list[tuple]

    @property
    def id(self) -> str:
        return f"{self.primitive}-{'x'.join(str(s) for s in self.shapes)}"


P3 = (3,)
NONDIFF = [
    Check("greater", lambda x, y: x > y, np.greater, [(2, 3), (3,)]),
    Check("greater_equal", lambda x, y: x >= y, np.greater_equal, [(2, 3), (3,)]),
    Check("less", lambda x, y: x < y, np.less, [(3,), ()]),
    Check("less_equal", lambda x, y: x <= y, np.less_equal, [(3,), (3,)]),
    Check(
        "equal",
        lambda x, y: x == cr.maximum(x, y),
        lambda x, y: x == np.maximum(x, y),
        [(3,), (3,)],
    ),
    Check("not_equal", lambda x, y: x != y, np.not_equal, [(2, 1), (1, 3)]),
    Check(
        "logical_and", lambda x, y: (x > 0) & (y > 0), lambda x, y: (x > 0) & (y > 0), [(3,), (3,)]
    ),
    Check(
        "logical_or", lambda x, y: (x > 0) | (y > 0), lambda x, y: (x > 0) | (y > 0), [(3,), (3,)]
    ),
    Check(
        "logical_xor", lambda x, y: (x > 0) ^ (y > 0), lambda x, y: (x > 0) ^ (y > 0), [(3,), (3,)]
    ),
    Check("logical_not", lambda x: ~(x > 0), lambda x: ~(x > 0), [(2, 3)]),
    Check("sign", cr.sign, np.sign, [(2, 3)]),
    Check("isfinite", lambda x: P.isfinite(cr.log(x)), lambda x: np.isfinite(np.log(x)), [(5,)]),
    Check("isnan", lambda x: P.isnan(cr.sqrt(x)), lambda x: np.isnan(np.sqrt(x)), [(5,)]),
    Check("isinf", lambda x: P.isinf(cr.exp(x * 400)), lambda x: np.isinf(np.exp(x * 400)), [(5,)]),
    Check("argmax", lambda x: x.argmax(axis=1), lambda x: np.argmax(x, axis=1), [(3, 4)]),
    Check("argmin", lambda x: x.argmin(axis=None), lambda x: np.argmin(x), [(3, 4)]),
    Check(
        "one_hot",
        lambda x: P.one_hot(x.argmax(axis=1), n=4, dtype=x.dtype),
        lambda x: np.eye(4)[np.argmax(x, axis=1)],
        [(3, 4)],
    ),
]

# --------------------------------------------------------------------------- network primitives
# (rules_nn.py: erf, softplus, padding, sliding windows and their scatter-back, recurrences)
from chainrule import rules_nn as RN  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402


def _win(shape: tuple, kernel: tuple, stride: tuple, dilation: tuple) -> dict:
    return RN.window_params(shape, kernel, stride, dilation)


for shape in [(), (3,), (2, 3)]:
    ROWS += [
        Row("erf", F.erf, [shape]),
        Row("softplus", lambda x: RN.softplus(x), [shape]),
    ]
ROWS += [
    # |3x| reaches Cody's middle and outer ranges (|x| > 0.47 and > 4)
    Row("erf", lambda x: F.erf(x * 3.0), [(4, 3)], label="wide"),
    Row("softplus", lambda x: RN.softplus(x * 20.0), [(2, 3)], label="wide"),
    Row(
        "pad",
        lambda x: RN.pad_to(x, ((1, 0), (0, 2)), 0.5) * np.arange(12.0).reshape(3, 4),
        [(2, 2)],
    ),  # fmt: skip
    Row(
        "pad",
        lambda x: RN.pad_to(x, ((0, 0), (0, 0), (1, 1)), -np.inf).max(axis=2),
        [(2, 1, 3)],
        label="max",
        also=["max"],
    ),  # fmt: skip
    Row(
        "windows",
        lambda x: RN.windows(x, **_win(x.shape, (2, 2), (1, 1), (1, 1))) * 1.0,
        [(1, 2, 4, 4)],
    ),  # fmt: skip
    Row(
        "windows",
        lambda x: RN.windows(x, **_win(x.shape, (2, 3), (2, 1), (1, 2))) * 1.0,
        [(2, 1, 5, 6)],
        label="strided-dilated",
    ),  # fmt: skip
    Row(
        "windows",
        lambda x: RN.windows(x, **_win(x.shape, (3,), (2,), (1,))) * 1.0,
        [(2, 2, 7)],
        label="1d",
    ),  # fmt: skip
    Row(
        "window_sum",
        lambda g: RN.window_sum(g, **_win((1, 2, 4, 4), (2, 2), (1, 1), (1, 1))),
        [(1, 2, 2, 2, 3, 3)],
    ),  # fmt: skip
    Row(
        "window_sum",
        lambda g: RN.window_sum(g, **_win((1, 1, 4, 4), (2, 2), (2, 2), (1, 1))),
        [(1, 1, 2, 2, 2, 2)],
        label="tiles",
    ),  # fmt: skip
    Row(
        "windows",
        lambda x, w: F.conv2d(x, w, padding=1, stride=2),
        [(2, 3, 5, 5), (4, 3, 3, 3)],
        label="conv2d",
        also=["pad"],
    ),  # fmt: skip
    Row(
        "windows",
        lambda x, w, b: F.conv2d(x, w, b, groups=2, dilation=2),
        [(1, 4, 6, 6), (2, 2, 2, 2), (2,)],
        label="conv2d-groups",
    ),  # fmt: skip
    Row(
        "window_sum",
        lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        [(1, 2, 3, 3), (2, 3, 3, 3)],
        label="conv-transpose",
    ),  # fmt: skip
    Row("windows", lambda x: F.max_pool2d(x, 2), [(2, 2, 4, 4)], label="maxpool", also=["max"]),
    Row(
        "windows",
        lambda x: F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False),
        [(1, 2, 5, 5)],
        label="avgpool",
    ),  # fmt: skip
    Row(
        "lstm_scan",
        lambda xw, h, c, w: RN.lstm_scan(xw, h, c, w, reverse=False),
        [(3, 2, 8), (2, 2), (2, 2), (8, 2)],
    ),  # fmt: skip
    Row(
        "lstm_scan",
        lambda xw, h, c, w: RN.lstm_scan(xw, h, c, w, reverse=True),
        [(2, 1, 4), (1, 1), (1, 1), (4, 1)],
        label="reverse",
    ),  # fmt: skip
    Row(
        "gru_scan",
        lambda xw, h, w, b: RN.gru_scan(xw, h, w, b, reverse=False),
        [(3, 2, 6), (2, 2), (6, 2), (6,)],
    ),  # fmt: skip
    Row(
        "gru_scan",
        lambda xw, h, w, b: RN.gru_scan(xw, h, w, b, reverse=True),
        [(2, 1, 3), (1, 1), (3, 1), (3,)],
        label="reverse",
    ),  # fmt: skip
    Row(
        "rnn_scan",
        lambda xw, h, w: RN.rnn_scan(xw, h, w, reverse=False, nonlinearity="tanh"),
        [(3, 2, 2), (2, 2), (2, 2)],
    ),  # fmt: skip
    Row(
        "rnn_scan",
        lambda xw, h, w: RN.rnn_scan(xw, h, w, reverse=True, nonlinearity="relu"),
        [(3, 2, 2), (2, 2), (2, 2)],
        label="relu-reverse",
    ),  # fmt: skip
]
