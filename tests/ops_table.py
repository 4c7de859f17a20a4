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
from chainrule import rules_nn as RN


@dataclass
class Row:
    primitive: str  # the registered primitive this row exercises
    fn: Callable[..., Any]
    shapes: list[tuple]
    # "real", "positive" (x > 0.3), "away" (|x| > 0.3, off kinks), "unit" (0.1 < x < 0.9),
    # "ball" (|x| < 0.9; complex: |Re z| < 0.8, off the cuts of arcsin and co.), "above1"
    # (x > 1.3) or "matrix" (+ n I on the last two axes: well conditioned)
    domain: str = "real"
    label: str = ""
    also: list[str] = field(default_factory=list)  # other primitives the row exercises
    complex: bool = False  # complex128 inputs (PyTorch's convention for gradients)
    # The same computation written with NumPy on arrays (chainrule.numpy's rows): the values
    # and dtypes are checked against it, and it runs on Tensors through NumPy's dispatch.
    numpy: Callable[..., Any] | None = None

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
                elif self.domain == "ball":  # off the cuts |Re z| > 1 of arcsin and co.
                    x = 0.8 * np.tanh(x.real) + 0.5j * np.tanh(x.imag)
                elif self.domain == "above1":
                    x = np.abs(x.real) + 1.3 + 1j * x.imag
            elif self.domain == "positive":
                x = np.abs(x) + 0.3
            elif self.domain == "away":
                x = np.sign(x) * (np.abs(x) + 0.3)
            elif self.domain == "unit":
                x = 0.1 + 0.8 / (1 + np.exp(-x))
            elif self.domain == "ball":
                x = 0.9 * np.tanh(x)
            elif self.domain == "above1":
                x = np.abs(x) + 1.3
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
    # a plain matrix product is run as the matmul primitive (cheaper per call)
    Row("matmul", lambda a, b: cr.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)], label="einsum"),
    Row("matmul", lambda a, b: cr.einsum("ij,jk", a, b), [(2, 3), (3, 2)], label="einsum-impl"),
    Row("matmul", lambda a, b: cr.einsum("ij,j->i", a, b), [(2, 3), (3,)], label="einsum-mv"),
    Row("einsum", lambda a, b: cr.einsum("ij,kj->ik", a, b), [(2, 3), (4, 3)], label="matmul-t"),
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
    Row("erfcinv", SP.erfcinv, [(2, 3)], domain="unit"),
    Row("erfcinv", lambda y: SP.erfcinv(2 - y), [(3,)], domain="unit", label="upper"),
    Row("erfcinv", lambda y: SP.erfcinv(y * 1e-8), [(3,)], domain="unit", label="tail"),
    Row("gamma", SP.gamma, [(2, 3)], domain="positive"),
    Row("gamma", lambda x: SP.gamma(-x - 0.1), [(3,)], domain="unit", label="negative"),
    Row("gamma", lambda x: SP.gamma(x * 10), [(3,)], domain="positive", label="stirling"),
    Row("rgamma", SP.rgamma, [(2, 3)], domain="positive"),
    Row("rgamma", lambda x: SP.rgamma(-3 * x), [(4,)], domain="unit", label="negative"),
    Row("rgamma", lambda x: SP.rgamma(x * 10), [(3,)], domain="positive", label="stirling"),
    Row("gammaln", lambda x: SP.loggamma(x), [(3,)], domain="positive", label="loggamma"),
    Row(
        "gammaln",
        lambda x: SP.multigammaln(x + 1.5, 3),
        [(2, 3)],
        domain="positive",
        label="multigammaln",
    ),
    Row("logsumexp", lambda x: SP.logsumexp(x, axis=1), [(2, 3)], label="special"),
    Row(
        "sum",
        lambda a, b: SP.logsumexp(a, axis=0, b=b),
        [(3, 2), (2,)],
        domain="positive",
        label="logsumexp-weights",
    ),
    Row(
        "sum",
        lambda a, b: SP.logsumexp(a, b=b, return_sign=True)[0],
        [(2, 3), (2, 3)],
        label="logsumexp-signed",
    ),
    Row("erf", SP.erf, [(2, 3)], label="special", complex=True),
    Row("erf", lambda z: SP.erf(3 * z), [(3,)], label="wide", complex=True),
    Row("erfc", SP.erfc, [(2, 3)], complex=True),
]
for a, b in PAIRS:
    ROWS += [
        Row("beta", SP.beta, [a, b], domain="positive"),
        Row("betaln", SP.betaln, [a, b], domain="positive"),
    ]
ROWS += [
    Row("beta", lambda a, b: SP.beta(-a - 0.1, b), [(3,), (3,)], domain="unit", label="negative"),
    Row("betaln", lambda a, b: SP.betaln(a * 30, b), [(3,), (3,)], domain="positive", label="big"),
    Row(
        "beta", lambda a, b: SP.beta(a * 100, b * 80), [(3,), (3,)], domain="positive", label="big"
    ),
]


def _at_zero(prim: str, fn, shapes: list, domain: str = "real") -> Row:
    """A row whose first input is exactly 0 at the checked point (the point subtracted as
    a constant) while its direction is not: a convention at x = 0 must keep derivatives."""
    x0 = Row(prim, fn, shapes, domain=domain).inputs()[0]
    return Row(prim, lambda x, *rest: fn(x - x0, *rest), shapes, domain=domain, label="x0")


def _at_integers(prim: str, fn, shapes: list) -> Row:
    """A row checked at exactly 0, -1, -2, -3 (the point subtracted as a constant, as in
    ``_at_zero``): rgamma's zeros, where -digamma / gamma alone would be 0 * inf."""
    x0 = Row(prim, fn, shapes).inputs()[0]
    ints = -np.arange(np.prod(shapes[0])).reshape(shapes[0])
    return Row(prim, lambda x: fn(x - x0 + ints), shapes, label="zeros")


ROWS += [
    _at_integers("rgamma", SP.rgamma, [(4,)]),
    _at_zero("xlogy", lambda x, y: SP.xlogy(x, y), [(3,), (3,)], domain="positive"),
    _at_zero("xlog1py", lambda x, y: SP.xlog1py(x, y), [(3,), (3,)], domain="positive"),
    _at_zero("masked_div", lambda x, s: P_LA.masked_div(x, s), [(2, 3), (3,)], domain="away"),
]

# complex inputs (PyTorch's convention) for the linear algebra that accepts them
ROWS += [
    Row(
        "matmul",
        lambda a, b: cr.einsum("ij,jk->ik", a, b),
        [(2, 3), (3, 2)],
        label="einsum",
        complex=True,
    ),
    Row("einsum", lambda a, b: cr.einsum("ij,kj->ik", a, b), [(2, 3), (3, 3)], complex=True),
    Row("einsum", lambda a: cr.einsum("ii", a * a), [(3, 3)], label="trace", complex=True),
    Row(
        "matmul",
        lambda a, b: cr.einsum("...i,...i", a, b),
        [(2, 3), (3,)],
        label="einsum-ellipsis",
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
        also=["eig_ratio", "phase_check"],
    ),
    Row("eigvalsh", lambda a: LA.eigvalsh(_sym(a)), [(3, 3)], complex=True),
    Row("eig", lambda a: LA.eig(a)[0], [(3, 3)], label="values", complex=True),
    Row(
        "eig",
        lambda a: _phase_free(LA.eig(a)[1]),
        [(3, 3)],
        label="vectors",
        complex=True,
        also=["eig_ratio", "phase_check"],
    ),
    Row("eigvals", LA.eigvals, [(2, 3, 3)], complex=True),
    Row(
        "svd",
        lambda a: (lambda u, s, vh: (_phase_free(u), s, u @ vh))(*LA.svd(a, False)),
        [(4, 3)],
        complex=True,
        also=["eig_ratio", "phase_check"],
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
    Check("cast", lambda x: (x * 3).astype(np.int64), lambda x: (x * 3).astype(np.int64), [(2, 3)]),
    # the sign of gamma: 1 above 0, alternating on (-k - 1, -k) below (off the integers here)
    Check(
        "gammasgn",
        lambda x: cr.special.gammasgn(x),
        lambda x: np.where(x > 0, 1.0, np.where(np.floor(-x) % 2 == 0, -1.0, 1.0)),
        [(3, 4)],
    ),
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
    Check(
        "dropout_mask",
        lambda x: RN.dropout_mask(x, p=0.25, seed=3),
        lambda x: (np.random.default_rng(3).random(x.shape) >= 0.25) / 0.75,
        [(3, 4)],
    ),
    Check(
        "label_check",
        lambda x: P.label_check(x.argmax(axis=1), shape=(3, 4)),
        lambda x: np.argmax(x, axis=1),
        [(3, 4)],
    ),
]


# --------------------------------------------------------------------------- chainrule.numpy
# One or more rows per function of chainrule.numpy (its primitives included). Each row is
# written once as ``call(xp, *args)``: with xp = chainrule.numpy it is the row's function,
# with xp = numpy its reference (values and dtypes are compared with NumPy's, and the same
# call on Tensors goes through NumPy's dispatch).
import chainrule.numpy as cnp  # noqa: E402
from chainrule import rules_numpy as R  # noqa: E402


def _label(shapes: list[tuple]) -> str:
    return "x".join(str(s) for s in shapes)


def nrow(
    primitive: str,
    name: str,
    call: Callable[..., Any],
    shapes: list[tuple],
    domain: str = "real",
    complex: bool = False,
    label: str = "",
    also: tuple = (),
    reference: bool = True,
) -> Row:
    """A row for ``chainrule.numpy.<name>``; ``label`` tells its variants apart."""
    tag = f"cnp.{name}-{label}" if label else f"cnp.{name}-{_label(shapes)}"
    return Row(
        primitive,
        lambda *a: call(cnp, *a),
        shapes,
        domain,
        tag,
        list(also),
        complex,
        numpy=(lambda *a: call(np, *a)) if reference else None,
    )


S = [(), (3,), (2, 3)]
NUMPY_ROWS: list[Row] = []

# Elementwise functions of one argument: (function, primitive, domain, complex too).
UNARY = [
    ("tan", "tan", "ball", True),
    ("sinh", "sinh", "real", True),
    ("cosh", "cosh", "real", True),
    ("arcsin", "arcsin", "ball", True),
    ("arccos", "arccos", "ball", True),
    ("arctan", "arctan", "real", True),
    ("arcsinh", "arcsinh", "real", True),
    ("arccosh", "arccosh", "above1", True),
    ("arctanh", "arctanh", "ball", True),
    ("log2", "log2", "positive", True),
    ("log10", "log10", "positive", True),
    ("log1p", "log1p", "positive", True),
    ("expm1", "expm1", "real", True),
    ("exp2", "exp2", "real", True),
    ("cbrt", "cbrt", "away", False),
    ("sinc", "sinc", "real", True),
    ("exp", "exp", "real", True),
    ("log", "log", "positive", True),
    ("sqrt", "sqrt", "positive", True),
    ("sin", "sin", "real", True),
    ("cos", "cos", "real", True),
    ("tanh", "tanh", "real", True),
    ("reciprocal", "div", "away", True),
    ("square", "mul", "real", True),
    ("negative", "neg", "real", True),
    ("positive", "copy", "real", True),
    ("absolute", "abs", "away", True),
    ("abs", "abs", "away", False),
    ("fabs", "abs", "away", False),
    ("deg2rad", "mul", "real", False),
    ("rad2deg", "mul", "real", False),
    ("radians", "mul", "real", False),
    ("degrees", "mul", "real", False),
    # piecewise constant: the derivative 0 (random inputs are off the jumps)
    ("floor", "floor", "real", False),
    ("ceil", "ceil", "real", False),
    ("trunc", "trunc", "real", False),
    ("rint", "rint", "real", True),
    ("fix", "trunc", "real", False),
    ("round", "round", "real", True),
    ("around", "round", "real", False),
    ("conj", "conj", "real", True),
    ("conjugate", "conj", "real", True),
    ("real", "real", "real", True),
    ("imag", "imag", "real", True),
    ("angle", "arctan2", "away", True),
]
for _name, _prim, _domain, _cplx in UNARY:
    for _shape in S:
        _call = lambda xp, x, _n=_name: getattr(xp, _n)(x)  # noqa: E731
        if _name in ("conj", "conjugate", "real", "imag"):  # linear: multiply to see it
            _call = lambda xp, x, _n=_name: getattr(xp, _n)(x * x)  # noqa: E731
        if _name in ("real", "imag", "conj", "conjugate") or (_name == "angle" and _shape != ()):
            kinds = [True]  # real inputs: the identity / zeros / constant angle
        else:
            kinds = [False, True] if _cplx else [False]
        for _c in kinds:
            NUMPY_ROWS.append(nrow(_prim, _name, _call, [_shape], _domain, complex=_c))
NUMPY_ROWS += [
    nrow("round", "round", lambda xp, x: xp.round(x * 10, 1), [(2, 3)], label="decimals"),
    nrow(
        "arctan2", "angle", lambda xp, x: xp.angle(x, deg=True), [(3,)], complex=True, label="deg"
    ),
    nrow("mul", "real_if_close", lambda xp, x: xp.real_if_close(x * x), [(3,)], complex=True),
    nrow(
        "where",
        "nan_to_num",
        lambda xp, x: xp.nan_to_num(x + np.array([0.0, np.nan, np.inf, -np.inf])),
        [(4,)],
    ),
    nrow(
        "where",
        "nan_to_num",
        lambda xp, x: xp.nan_to_num(x + np.array([np.nan, np.inf]), nan=2.0, posinf=1.0),
        [(2,)],
        label="values",
    ),
    nrow("clip", "clip", lambda xp, x: xp.clip(x, -0.5, 0.5), [(2, 3)], domain="away"),
    nrow("clip", "clip", lambda xp, x: xp.clip(x, None, 0.5), [(3,)], domain="away", label="upper"),
    nrow("clip", "clip", lambda xp, x: xp.clip(x, min=-0.5), [(3,)], domain="away", label="min="),
    nrow(
        "maximum",
        "clip",
        lambda xp, x, lo: xp.clip(x, lo, 2.0),
        [(2, 3), (3,)],
        label="tensor-bound",
    ),
]

# Elementwise functions of two arguments, on the broadcast pairs.
BINARY = [
    ("add", "add", "real", True),
    ("subtract", "sub", "real", True),
    ("multiply", "mul", "real", True),
    ("divide", "div", "away", True),
    ("true_divide", "div", "away", False),
    ("power", "pow", "positive", True),
    ("pow", "pow", "positive", False),
    ("float_power", "pow", "positive", False),
    ("maximum", "maximum", "real", False),
    ("minimum", "minimum", "real", False),
    ("fmax", "fmax", "real", False),
    ("fmin", "fmin", "real", False),
    ("remainder", "remainder", "away", False),
    ("mod", "remainder", "away", False),
    ("fmod", "fmod", "away", False),
    ("floor_divide", "floor_divide", "away", False),
    ("hypot", "hypot", "away", False),
    ("arctan2", "arctan2", "away", False),
    ("logaddexp", "logaddexp", "real", False),
    ("logaddexp2", "logaddexp2", "real", False),
    ("copysign", "copysign", "away", False),
]
for _name, _prim, _domain, _cplx in BINARY:
    for _a, _b in PAIRS:
        _call = lambda xp, x, y, _n=_name: getattr(xp, _n)(x, y)  # noqa: E731
        NUMPY_ROWS.append(nrow(_prim, _name, _call, [_a, _b], _domain))
    if _cplx:
        for _a, _b in [((3,), (3,)), ((2, 1), (1, 3))]:
            NUMPY_ROWS.append(nrow(_prim, _name, _call, [_a, _b], _domain, complex=True))
NUMPY_ROWS += [
    nrow("remainder", "%", lambda xp, x, y: x % y, [(2, 3), (3,)], domain="away", reference=False),
    nrow(
        "remainder",
        "%",
        lambda xp, x: 2.5 % x,
        [(3,)],
        domain="away",
        label="reflected",
        reference=False,
    ),
    nrow(
        "floor_divide",
        "//",
        lambda xp, x, y: x // y * x,
        [(3,), (3,)],
        domain="away",
        reference=False,
    ),
    nrow(
        "mul",
        "divmod",
        lambda xp, x, y: xp.divmod(x, y)[1] * xp.divmod(x, y)[0],
        [(3,), (3,)],
        domain="away",
        also=("remainder", "floor_divide"),
    ),
    nrow("hypot", "hypot", lambda xp, x: xp.hypot(x, 2.0), [(3,)], label="number"),
    nrow(
        "logaddexp",
        "logaddexp",
        lambda xp, x: xp.logaddexp(x * 500, x * 400),
        [(3,)],
        label="large",
    ),
]

# Reductions: axis None, an int, negative, a tuple; keepdims; ddof.
REDUCTIONS = [
    ("sum", "sum", True),
    ("prod", "prod", True),
    ("mean", "sum", True),
    ("var", "sum", True),
    ("std", "where", True),
    ("max", "max", False),
    ("min", "min", False),
    ("amax", "max", False),
    ("amin", "min", False),
    ("ptp", "max", False),
    ("nansum", "sum", False),
    ("nanmean", "sum", False),
    ("nanprod", "prod", False),
    ("nanvar", "sum", False),
    ("nanstd", "where", False),
    ("nanmax", "max", False),
    ("nanmin", "min", False),
    ("median", "take_along_axis", False),
]
for _name, _prim, _cplx in REDUCTIONS:
    for _shape, _kw in [
        ((), {}),
        ((3,), {}),
        ((3,), {"axis": -1}),
        ((2, 3), {"axis": 0}),
        ((2, 3), {"axis": 1, "keepdims": True}),
        ((2, 3), {"axis": (0, 1)}),
        ((2, 3, 2), {"axis": (0, 2), "keepdims": True}),
    ]:
        _call = lambda xp, x, _n=_name, _k=_kw: getattr(xp, _n)(x, **_k)  # noqa: E731
        _lab = f"{_shape}-{_kw}".replace(" ", "")
        NUMPY_ROWS.append(nrow(_prim, _name, _call, [_shape], label=_lab))
        if _cplx and _shape in ((3,), (2, 3)):
            NUMPY_ROWS.append(nrow(_prim, _name, _call, [_shape], label=_lab, complex=True))
NUMPY_ROWS += [
    nrow("sum", "var", lambda xp, x: xp.var(x, ddof=1), [(4,)], label="ddof1"),
    nrow(
        "sum",
        "var",
        lambda xp, x: xp.var(x, axis=1, ddof=2, keepdims=True),
        [(2, 4)],
        label="ddof2",
    ),
    nrow(
        "sqrt",
        "std",
        lambda xp, x: xp.std(x, axis=0, ddof=1),
        [(3, 2)],
        label="ddof1",
        also=("where",),
    ),
    nrow(
        "take_along_axis",
        "max",
        lambda xp, x: xp.max(x, axis=1),
        [(2, 3)],
        complex=True,
        label="complex",
    ),
    nrow(
        "take_along_axis", "min", lambda xp, x: xp.min(x), [(2, 3)], complex=True, label="complex"
    ),
    nrow("sum", "sum", lambda xp, x: xp.sum(x, initial=2.0), [(3,)], label="initial"),
    nrow(
        "sum",
        "sum",
        lambda xp, x: xp.sum(x, where=np.array([True, False, True])),
        [(3,)],
        label="where",
    ),
    nrow(
        "sum",
        "mean",
        lambda xp, x: xp.mean(x, axis=0, where=np.array([[True, False], [True, True]])),
        [(2, 2)],
        label="where",
    ),
    nrow(
        "sum",
        "nansum",
        lambda xp, x: xp.nansum(x + np.array([0.0, np.nan, 0.0])),
        [(3,)],
        label="nan",
    ),
    nrow(
        "sum",
        "nanmean",
        lambda xp, x: xp.nanmean(x + np.array([[0.0, np.nan], [0.0, 0.0]]), axis=0),
        [(2, 2)],
        label="nan",
    ),
    nrow(
        "max",
        "nanmax",
        lambda xp, x: xp.nanmax(x + np.array([0.0, np.nan, 0.0])),
        [(3,)],
        label="nan",
    ),
    nrow("take_along_axis", "median", lambda xp, x: xp.median(x, axis=1), [(2, 4)], label="even"),
    # prod at zeros: the gradient of an element is the product of the others (exact)
    nrow(
        "prod",
        "prod",
        lambda xp, x: xp.prod(x * np.array([1.0, 0.0, 1.0, 1.0])),
        [(4,)],
        label="one-zero",
    ),
    nrow(
        "prod",
        "prod",
        lambda xp, x: xp.prod(x * np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]), axis=1),
        [(2, 3)],
        label="two-zeros",
    ),
    nrow(
        "prod",
        "prod",
        lambda xp, x: xp.prod(x * np.array([0.0, 1.0, 1.0])),
        [(3,)],
        complex=True,
        label="zero",
    ),
    nrow(
        "mul",
        "prod",
        lambda xp, x: xp.prod(xp.stack([x, x * 0, x]), axis=0),
        [(2,)],
        label="stacked-zero",
        also=("prod",),
    ),
    # average: differentiable in the values and in the weights
    nrow("sum", "average", lambda xp, x: xp.average(x), [(2, 3)], label="plain"),
    nrow(
        "sum",
        "average",
        lambda xp, x, w: xp.average(x, weights=w * w + 0.5),
        [(2, 3), (2, 3)],
        label="weights",
    ),
    nrow(
        "sum",
        "average",
        lambda xp, x, w: xp.average(x, axis=1, weights=w * w + 0.5),
        [(2, 3), (3,)],
        label="axis-weights",
    ),
    nrow(
        "sum",
        "average",
        lambda xp, x, w: xp.average(x, axis=0, weights=w * w + 0.5, returned=True),
        [(2, 3), (2,)],
        label="returned",
    ),
]

# Running sums and products (and the primitives behind their gradients).
for _name, _prim in [
    ("cumsum", "cumsum"),
    ("cumprod", "cumprod"),
    ("nancumsum", "cumsum"),
    ("nancumprod", "cumprod"),
]:
    for _shape, _kw in [
        ((), {}),
        ((4,), {}),
        ((2, 3), {}),
        ((2, 3), {"axis": 0}),
        ((2, 3), {"axis": -1}),
        ((2, 3, 2), {"axis": 1}),
    ]:
        _call = lambda xp, x, _n=_name, _k=_kw: getattr(xp, _n)(x, **_k)  # noqa: E731
        _lab = f"{_shape}-{_kw}".replace(" ", "")
        _also = ("shift", "linrec") if _prim == "cumprod" else ()
        NUMPY_ROWS.append(nrow(_prim, _name, _call, [_shape], label=_lab, also=_also))
        if not _name.startswith("nan") and _shape == (2, 3):
            NUMPY_ROWS.append(
                nrow(_prim, _name, _call, [_shape], label=_lab, complex=True, also=_also)
            )
NUMPY_ROWS += [
    nrow(
        "cumprod",
        "cumprod",
        lambda xp, x: xp.cumprod(x * np.array([1.0, 0.0, 1.0, 1.0])),
        [(4,)],
        label="zero",
    ),
    nrow(
        "cumprod",
        "cumprod",
        lambda xp, x: xp.cumprod(x * np.array([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0]]), axis=1),
        [(2, 3)],
        label="zeros",
    ),
    nrow(
        "cumprod",
        "cumprod",
        lambda xp, x: xp.cumprod(x * np.array([1.0, 0.0, 1.0])),
        [(3,)],
        complex=True,
        label="zero",
    ),
    nrow(
        "cumsum",
        "cumulative_sum",
        lambda xp, x: xp.cumulative_sum(x, axis=1, include_initial=True),
        [(2, 3)],
    ),
    nrow("cumprod", "cumulative_prod", lambda xp, x: xp.cumulative_prod(x), [(3,)]),
    Row("cumsum", lambda x: R.cumsum(x, axis=0, reverse=True), [(2, 3)], label="reverse"),
    Row("cumprod", lambda x: R.cumprod(x, axis=1, reverse=True), [(2, 3)], label="reverse"),
    Row(
        "cumprod",
        lambda x: R.cumprod(x, axis=1, reverse=True),
        [(2, 3)],
        label="reverse",
        complex=True,
    ),
    Row("shift", lambda x: R.shift(x, axis=1, step=1, fill=1.0) * x, [(2, 3)]),
    Row("shift", lambda x: R.shift(x, axis=0, step=-1, fill=0.0) * x, [(3, 2)], label="back"),
    Row("shift", lambda x: R.shift(x, axis=0, step=1, fill=0.0) * x, [(3,)], complex=True),
    Row("linrec", lambda a, b: R.linrec(a, b, axis=0, reverse=False), [(4,), (4,)]),
    Row(
        "linrec",
        lambda a, b: R.linrec(a, b, axis=1, reverse=True),
        [(2, 3), (2, 3)],
        label="reverse",
    ),
    Row(
        "linrec",
        lambda a, b: R.linrec(a * np.array([1.0, 0.0, 1.0]), b, axis=0, reverse=False),
        [(3,), (3,)],
        label="zero",
    ),
    Row("linrec", lambda a, b: R.linrec(a, b, axis=0, reverse=True), [(3,), (3,)], complex=True),
]

# Shapes: permutations, joins, splits, copies, padding, differences.
M = (2, 3)
T3 = (2, 3, 4)
NUMPY_ROWS += [
    nrow("transpose", "transpose", lambda xp, x: xp.transpose(x), [T3]),
    nrow("transpose", "transpose", lambda xp, x: xp.transpose(x, (1, -1, 0)), [T3], label="axes"),
    nrow("transpose", "transpose", lambda xp, x: xp.transpose(x), [M], complex=True),
    nrow("transpose", "permute_dims", lambda xp, x: xp.permute_dims(x, (2, 0, 1)), [T3]),
    nrow("transpose", "matrix_transpose", lambda xp, x: xp.matrix_transpose(x), [T3]),
    nrow("transpose", "moveaxis", lambda xp, x: xp.moveaxis(x, 0, -1), [T3]),
    nrow(
        "transpose", "moveaxis", lambda xp, x: xp.moveaxis(x, (0, 1), (2, 0)), [T3], label="several"
    ),
    nrow("transpose", "swapaxes", lambda xp, x: xp.swapaxes(x, 0, 2), [T3]),
    nrow("transpose", "rollaxis", lambda xp, x: xp.rollaxis(x, 2, 1), [T3]),
    nrow("reshape", "reshape", lambda xp, x: xp.reshape(x, (3, -1)), [M]),
    nrow(
        "reshape",
        "reshape",
        lambda xp, x: xp.reshape(x, (3, 2), order="F"),
        [M],
        label="F",
        also=("transpose",),
    ),
    nrow("reshape", "ravel", lambda xp, x: xp.ravel(x), [M]),
    nrow("reshape", "ravel", lambda xp, x: xp.ravel(x, order="F"), [M], label="F"),
    nrow("reshape", "ravel", lambda xp, x: xp.ravel(x), [()], label="0d"),
    nrow("reshape", "expand_dims", lambda xp, x: xp.expand_dims(x, (0, -1)), [M]),
    nrow("reshape", "squeeze", lambda xp, x: xp.squeeze(x), [(1, 3, 1)]),
    nrow("reshape", "squeeze", lambda xp, x: xp.squeeze(x, axis=-1), [(2, 1)], label="axis"),
    nrow(
        "broadcast_to",
        "broadcast_to",
        lambda xp, x: xp.broadcast_to(x, (2, 3)) * np.arange(6.0).reshape(2, 3),
        [(3,)],
    ),
    nrow(
        "broadcast_to",
        "broadcast_arrays",
        lambda xp, x, y: xp.broadcast_arrays(x, y),
        [(3,), (2, 1)],
    ),
    nrow("reshape", "atleast_1d", lambda xp, x: xp.atleast_1d(x), [()]),
    nrow("reshape", "atleast_2d", lambda xp, x: xp.atleast_2d(x), [(3,)]),
    nrow("reshape", "atleast_3d", lambda xp, x: xp.atleast_3d(x), [M]),
    nrow(
        "reshape", "atleast_3d", lambda xp, x, y: xp.atleast_3d(x, y), [(), (3,)], label="several"
    ),
    nrow(
        "concatenate", "concatenate", lambda xp, x, y: xp.concatenate([x, y], axis=1), [(2, 1), M]
    ),
    nrow(
        "concatenate",
        "concatenate",
        lambda xp, x, y: xp.concatenate((x, y), axis=None),
        [M, (3,)],
        label="none",
    ),
    nrow(
        "concatenate",
        "concatenate",
        lambda xp, x, y: xp.concatenate([x, y]),
        [(2,), (3,)],
        complex=True,
    ),
    nrow("concatenate", "concat", lambda xp, x, y: xp.concat([x, y], axis=-1), [(2, 1), M]),
    nrow("concatenate", "stack", lambda xp, x, y: xp.stack([x, y], axis=-1), [M, M]),
    nrow("concatenate", "vstack", lambda xp, x, y: xp.vstack([x, y]), [(3,), M]),
    nrow("concatenate", "row_stack", lambda xp, x, y: xp.vstack((x, y)), [(3,), (3,)]),
    nrow("concatenate", "hstack", lambda xp, x, y: xp.hstack([x, y]), [(2,), (3,)]),
    nrow("concatenate", "hstack", lambda xp, x, y: xp.hstack([x, y]), [(2, 1), M], label="2d"),
    nrow("concatenate", "dstack", lambda xp, x, y: xp.dstack([x, y]), [M, M]),
    nrow("concatenate", "column_stack", lambda xp, x, y: xp.column_stack([x, y]), [(2,), (2, 2)]),
    nrow("concatenate", "append", lambda xp, x, y: xp.append(x, y), [M, ()]),
    nrow(
        "concatenate", "append", lambda xp, x, y: xp.append(x, y, axis=0), [M, (1, 3)], label="axis"
    ),
    nrow(
        "getitem",
        "unstack",
        lambda xp, x: xp.unstack(x, axis=1),
        [M],
        reference=hasattr(np, "unstack"),
    ),
    nrow("getitem", "split", lambda xp, x: tuple(xp.split(x, 2)), [(4, 2)]),
    nrow(
        "getitem",
        "split",
        lambda xp, x: tuple(xp.split(x, [1, 2], axis=1)),
        [(2, 4)],
        label="indices",
    ),
    nrow("getitem", "array_split", lambda xp, x: tuple(xp.array_split(x, 3, axis=1)), [(2, 7)]),
    nrow(
        "getitem",
        "array_split",
        lambda xp, x: tuple(xp.array_split(x, [3, 5])),
        [(7,)],
        label="indices",
    ),
    nrow("getitem", "vsplit", lambda xp, x: tuple(xp.vsplit(x, 2)), [(4, 2)]),
    nrow("getitem", "hsplit", lambda xp, x: tuple(xp.hsplit(x, [1])), [(2, 4)]),
    nrow("getitem", "dsplit", lambda xp, x: tuple(xp.dsplit(x, 2)), [(2, 2, 4)]),
    nrow("broadcast_to", "tile", lambda xp, x: xp.tile(x, 2), [(3,)]),
    nrow("broadcast_to", "tile", lambda xp, x: xp.tile(x, (2, 1, 2)), [M], label="more-reps"),
    nrow("broadcast_to", "tile", lambda xp, x: xp.tile(x, (2,)), [M], label="fewer-reps"),
    nrow("getitem", "repeat", lambda xp, x: xp.repeat(x, 2), [M]),
    nrow("getitem", "repeat", lambda xp, x: xp.repeat(x, [1, 0, 2], axis=1), [M], label="counts"),
    nrow("getitem", "repeat", lambda xp, x: xp.repeat(x, 3), [(2,)], complex=True),
    nrow("getitem", "roll", lambda xp, x: xp.roll(x, 2), [M]),
    nrow("getitem", "roll", lambda xp, x: xp.roll(x, (1, -1), axis=(0, 1)), [M], label="axes"),
    nrow("getitem", "roll", lambda xp, x: xp.roll(x, 1, axis=-1), [(3,)], complex=True),
    nrow("getitem", "flip", lambda xp, x: xp.flip(x), [M]),
    nrow("getitem", "flip", lambda xp, x: xp.flip(x, axis=(0, 2)), [T3], label="axes"),
    nrow("getitem", "flipud", lambda xp, x: xp.flipud(x), [M]),
    nrow("getitem", "fliplr", lambda xp, x: xp.fliplr(x), [M]),
    nrow("getitem", "rot90", lambda xp, x: xp.rot90(x), [M], also=("transpose",)),
    nrow("getitem", "rot90", lambda xp, x: xp.rot90(x, 2), [M], label="k2"),
    nrow("transpose", "rot90", lambda xp, x: xp.rot90(x, -1, axes=(2, 0)), [T3], label="axes"),
    nrow("index_add", "pad", lambda xp, x: xp.pad(x, 1), [M]),
    nrow(
        "index_add",
        "pad",
        lambda xp, x: xp.pad(x, ((1, 0), (2, 1)), constant_values=3.0),
        [M],
        label="values",
    ),
    nrow("index_add", "pad", lambda xp, x: xp.pad(x, (2,)), [(3,)], label="tuple", complex=True),
    nrow("getitem", "pad", lambda xp, x: xp.pad(x, (2, 1), mode="edge"), [M], label="edge"),
    nrow("getitem", "pad", lambda xp, x: xp.pad(x, 2, mode="reflect"), [(3,)], label="reflect"),
    nrow(
        "getitem",
        "pad",
        lambda xp, x: xp.pad(x, ((1, 2),), mode="symmetric"),
        [M],
        label="symmetric",
    ),
    nrow("getitem", "pad", lambda xp, x: xp.pad(x, 4, mode="wrap"), [(3,)], label="wrap"),
    nrow("sub", "diff", lambda xp, x: xp.diff(x), [(4,)]),
    nrow("sub", "diff", lambda xp, x: xp.diff(x, n=2, axis=0), [(4, 3)], label="n2"),
    nrow(
        "sub",
        "diff",
        lambda xp, x, p: xp.diff(x, prepend=p, append=0.5),
        [(2, 3), ()],
        label="prepend",
    ),
    nrow("sub", "ediff1d", lambda xp, x: xp.ediff1d(x, to_begin=[1.0, 2.0], to_end=3.0), [M]),
    nrow("sub", "gradient", lambda xp, x: xp.gradient(x), [(5,)]),
    nrow(
        "sub",
        "gradient",
        lambda xp, x: xp.gradient(x, 0.5, edge_order=2),
        [(4, 3)],
        label="2d-edge2",
    ),
    nrow("sub", "gradient", lambda xp, x: xp.gradient(x, axis=-1), [(3, 4)], label="axis"),
    nrow("broadcast_to", "meshgrid", lambda xp, x, y: xp.meshgrid(x, y), [(3,), (2,)]),
    nrow(
        "reshape",
        "meshgrid",
        lambda xp, x, y, z: xp.meshgrid(x, y, z, indexing="ij", sparse=True),
        [(2,), (3,), ()],
        label="ij-sparse",
    ),
]

# Selection and ordering.
MASK = np.array([[True, False, True], [False, True, True]])
NUMPY_ROWS += [
    nrow("where", "where", lambda xp, x, y: xp.where(MASK, x, y), [M, (3,)]),
    nrow("where", "where", lambda xp, x: xp.where(x > 0, x, 0.0), [M], label="mask-from-x"),
    nrow("where", "where", lambda xp, x, y: xp.where(MASK, x, y), [M, M], complex=True),
    nrow("where", "select", lambda xp, x: xp.select([x < -0.5, x < 0.5], [x * x, -x], x * 3), [M]),
    nrow("getitem", "take", lambda xp, x: xp.take(x, [0, 4, 4]), [M]),
    nrow("getitem", "take", lambda xp, x: xp.take(x, [[0, 2], [-1, 1]], axis=1), [M], label="axis"),
    nrow(
        "getitem",
        "take",
        lambda xp, x: xp.take(x, [5, -4], axis=0, mode="wrap"),
        [(3,)],
        label="wrap",
    ),
    nrow(
        "getitem",
        "take",
        lambda xp, x: xp.take(x, [5, -4], axis=0, mode="clip"),
        [(3,)],
        label="clip",
    ),
    nrow(
        "take_along_axis",
        "take_along_axis",
        lambda xp, x: xp.take_along_axis(x, np.array([[2, 0], [1, 1]]), axis=1),
        [M],
    ),
    nrow(
        "take_along_axis",
        "take_along_axis",
        lambda xp, x: xp.take_along_axis(x, np.array([5, 0]), axis=None),
        [M],
        label="none",
    ),
    nrow("getitem", "compress", lambda xp, x: xp.compress([True, False, True], x, axis=1), [M]),
    nrow("getitem", "extract", lambda xp, x: xp.extract(MASK, x), [M]),
    nrow("index_add", "diag", lambda xp, x: xp.diag(x), [(3,)]),
    nrow("index_add", "diag", lambda xp, x: xp.diag(x, k=-1), [(3,)], label="k"),
    nrow("getitem", "diag", lambda xp, x: xp.diag(x, 1), [(3, 4)], label="2d"),
    nrow("index_add", "diagflat", lambda xp, x: xp.diagflat(x, 1), [(1, 2)]),
    nrow("getitem", "diagonal", lambda xp, x: xp.diagonal(x), [(3, 4)]),
    nrow("getitem", "diagonal", lambda xp, x: xp.diagonal(x, -1, 2, 0), [T3], label="axes"),
    nrow("getitem", "diagonal", lambda xp, x: xp.diagonal(x, 1), [(3, 3)], complex=True),
    nrow("getitem", "trace", lambda xp, x: xp.trace(x), [(3, 4)]),
    nrow(
        "getitem",
        "trace",
        lambda xp, x: xp.trace(x, offset=1, axis1=1, axis2=2),
        [T3],
        label="axes",
    ),
    nrow("where", "tril", lambda xp, x: xp.tril(x), [(3, 3)]),
    nrow("where", "tril", lambda xp, x: xp.tril(x, -1), [(2, 3, 3)], label="stack"),
    nrow("where", "triu", lambda xp, x: xp.triu(x, 1), [(3, 4)]),
    nrow("where", "triu", lambda xp, x: xp.triu(x), [(3,)], label="1d"),
    nrow("take_along_axis", "sort", lambda xp, x: xp.sort(x), [M]),
    nrow("take_along_axis", "sort", lambda xp, x: xp.sort(x, axis=0), [(4, 2)], label="axis0"),
    nrow("take_along_axis", "sort", lambda xp, x: xp.sort(x, axis=None), [M], label="none"),
    nrow("take_along_axis", "sort", lambda xp, x: xp.sort(x), [(5,)], complex=True),
    nrow("take_along_axis", "partition", lambda xp, x: xp.partition(x, 2), [(5,)]),
    nrow(
        "take_along_axis",
        "partition",
        lambda xp, x: xp.partition(x, (0, 2), axis=0),
        [(4, 2)],
        label="kths",
    ),
]

# Products.
NUMPY_ROWS += [
    nrow("mul", "dot", lambda xp, x, y: xp.dot(x, y), [(), M]),
    nrow("matmul", "dot", lambda xp, x, y: xp.dot(x, y), [(3,), (3,)], label="vec"),
    nrow("matmul", "dot", lambda xp, x, y: xp.dot(x, y), [M, (3, 2)], label="mat"),
    nrow("matmul", "dot", lambda xp, x, y: xp.dot(x, y), [(2, 2, 3), (3,)], label="nd-vec"),
    nrow("matmul", "dot", lambda xp, x, y: xp.dot(x, y), [(2, 2, 3), (2, 3, 4)], label="nd-nd"),
    nrow("matmul", "dot", lambda xp, x, y: xp.dot(x, y), [(3,), (2, 3, 2)], label="vec-nd"),
    nrow("matmul", "dot", lambda xp, x, y: xp.dot(x, y), [M, (3,)], complex=True),
    nrow("matmul", "vdot", lambda xp, x, y: xp.vdot(x, y), [M, M], complex=True),
    nrow("matmul", "vdot", lambda xp, x, y: xp.vdot(x, y), [(3,), (3,)]),
    nrow("matmul", "matmul", lambda xp, x, y: xp.matmul(x, y), [(2, 2, 3), (3, 2)]),
    nrow("mul", "outer", lambda xp, x, y: xp.outer(x, y), [(3,), M]),
    nrow("mul", "outer", lambda xp, x, y: xp.outer(x, y), [(3,), (2,)], complex=True),
]

# Creation from Tensors: stacking through the graph, differentiable end points.
NUMPY_ROWS += [
    nrow(
        "concatenate", "array", lambda xp, x: xp.array([x, x * x, x + 2.5]), [()], reference=False
    ),
    nrow(
        "concatenate",
        "array",
        lambda xp, x: xp.array([[x, x], [2 * x, x * x]]),
        [(2,)],
        label="nested",
        reference=False,
    ),
    nrow("copy", "array", lambda xp, x: xp.array(x) * x, [M], label="copy"),
    nrow("mul", "asarray", lambda xp, x: xp.asarray(x) * x, [M]),
    nrow("mul", "asanyarray", lambda xp, x: xp.asanyarray(x) * x, [M]),
    nrow("mul", "ascontiguousarray", lambda xp, x: xp.ascontiguousarray(x) * x, [M]),
    nrow(
        "reshape",
        "flatten",
        lambda xp, x: cnp.flatten(x, "F"),
        [M],
        also=("transpose",),
        reference=False,
    ),
    nrow("copy", "copy", lambda xp, x: xp.copy(x) * x, [M]),
    nrow("broadcast_to", "full", lambda xp, x: cnp.full((2, 3), x), [()], reference=False),
    nrow(
        "broadcast_to",
        "full_like",
        lambda xp, x: cnp.full_like(np.ones((2, 2)), x * x),
        [()],
        reference=False,
    ),
    nrow(
        "mul",
        "linspace",
        lambda xp, a, b: cnp.linspace(a, b, 5),
        [(), ()],
        reference=False,
        also=("concatenate",),
    ),
    nrow(
        "mul",
        "linspace",
        lambda xp, a, b: cnp.linspace(a, b, 4, endpoint=False),
        [(), ()],
        label="open",
        reference=False,
    ),
    nrow(
        "mul",
        "linspace",
        lambda xp, a, b: cnp.linspace(a, b, 3, axis=1),
        [(2,), (2,)],
        label="arrays",
        reference=False,
    ),
    nrow(
        "add",
        "linspace",
        lambda xp, a, b: cnp.linspace(a, b, 1),
        [(), ()],
        label="one",
        reference=False,
    ),
    nrow("pow", "logspace", lambda xp, a, b: cnp.logspace(a, b, 4), [(), ()], reference=False),
]


# Order statistics and moments of several variables (statistics.py): quantiles gather the
# sorted values at static positions; cov/corrcoef are matrix products of centred data.
_NAN3 = np.array([[0.0, np.nan, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [np.nan, np.nan, np.nan, 0.0]])
NUMPY_ROWS += [
    nrow("take_along_axis", "quantile", lambda xp, x: xp.quantile(x, 0.3), [(2, 4)]),
    nrow(
        "take_along_axis",
        "quantile",
        lambda xp, x: xp.quantile(x, [0.25, 0.9, 1.0], axis=1, keepdims=True),
        [(2, 4)],
        label="axis-many",
    ),
    *[
        nrow(
            "take_along_axis",
            "quantile",
            lambda xp, x, m=m: xp.quantile(x, [0.3, 0.5], axis=0, method=m),
            [(5, 3)],
            label=m,
        )
        for m in ("lower", "higher", "nearest", "midpoint")
    ],
    nrow("take_along_axis", "percentile", lambda xp, x: xp.percentile(x, [10, 50]), [(7,)]),
    nrow(
        "take_along_axis",
        "nanquantile",
        lambda xp, x: xp.nanquantile(x + _NAN3, [0.2, 0.75], axis=1),
        [(3, 4)],
        label="nan",
    ),
    nrow(
        "take_along_axis",
        "nanpercentile",
        lambda xp, x: xp.nanpercentile(x + _NAN3[0], 40),
        [(4,)],
        label="nan",
    ),
    nrow(
        "take_along_axis",
        "nanmedian",
        lambda xp, x: xp.nanmedian(x + _NAN3[:2], axis=1),
        [(2, 4)],
        label="nan",
    ),
    nrow("matmul", "cov", lambda xp, x: xp.cov(x), [(3, 5)]),
    nrow("matmul", "cov", lambda xp, x: xp.cov(x), [(3, 5)], complex=True),
    nrow("matmul", "cov", lambda xp, x: xp.cov(x), [(5,)], label="one-variable"),
    nrow("matmul", "cov", lambda xp, x, y: xp.cov(x, y, bias=True), [(2, 5), (5,)], label="y"),
    nrow(
        "matmul",
        "cov",
        lambda xp, x, w: xp.cov(x, rowvar=False, aweights=w * w + 0.5, ddof=2),
        [(6, 2), (6,)],
        label="aweights",
    ),
    nrow(
        "matmul",
        "cov",
        lambda xp, x: xp.cov(x, fweights=np.array([1, 2, 1, 3])),
        [(2, 4)],
        label="fweights",
    ),
    nrow("matmul", "corrcoef", lambda xp, x: xp.corrcoef(x), [(3, 5)]),
    nrow("matmul", "corrcoef", lambda xp, x, y: xp.corrcoef(x, y), [(5,), (5,)], label="xy"),
    nrow("matmul", "corrcoef", lambda xp, x: xp.corrcoef(x), [(2, 4)], complex=True),
    nrow("sum", "trapezoid", lambda xp, y: xp.trapezoid(y), [(2, 4)]),
    nrow("sum", "trapezoid", lambda xp, y: xp.trapezoid(y, dx=0.5, axis=0), [(3, 2)], label="dx"),
    nrow("sum", "trapezoid", lambda xp, y, x: xp.trapezoid(y, x), [(2, 4), (4,)], label="x"),
    nrow(
        "sum",
        "trapezoid",
        lambda xp, y, x: xp.trapezoid(y, x, axis=0),
        [(3, 2), (3, 2)],
        label="x-nd",
    ),
    nrow("sum", "trapezoid", lambda xp, y: xp.trapezoid(y), [(4,)], complex=True),
]

# Products of sequences and polynomials (products.py): gathers and matrix products.
NUMPY_ROWS += [
    nrow("mul", "vecdot", lambda xp, x, y: xp.vecdot(x, y), [(2, 3), (3,)]),
    nrow("mul", "vecdot", lambda xp, x, y: xp.vecdot(x, y, axis=0), [(3, 2), (3, 1)], label="axis"),
    nrow("mul", "vecdot", lambda xp, x, y: xp.vecdot(x, y), [(2, 3), (2, 3)], complex=True),
    *[
        nrow(
            "matmul",
            name,
            lambda xp, a, v, name=name, mode=mode: getattr(xp, name)(a, v, mode),
            shapes,
            label=f"{mode}-{_label(shapes)}",
            also=("getitem",),
        )
        for name in ("convolve", "correlate")
        for mode in ("full", "same", "valid")
        for shapes in ([(5,), (3,)], [(3,), (4,)])
    ],
    nrow("matmul", "convolve", lambda xp, a, v: xp.convolve(a, v), [(4,), (2,)], complex=True),
    nrow("matmul", "correlate", lambda xp, a, v: xp.correlate(a, v), [(4,), (2,)], complex=True),
    nrow("mul", "polyval", lambda xp, p, x: xp.polyval(p, x), [(4,), (2, 3)]),
    nrow("mul", "polyval", lambda xp, p, x: xp.polyval(p, x), [(3,), ()], label="scalar"),
    nrow("mul", "polyval", lambda xp, p, x: xp.polyval(p, x), [(3,), (2,)], complex=True),
]

# Elementwise functions made of others (ufuncs.py). heaviside: derivative 0 in x1 (the
# Dirac delta at 0 is not represented), 1 in x2 where x1 == 0; modf: (x - trunc(x), trunc(x))
NUMPY_ROWS += [
    nrow("where", "heaviside", lambda xp, x, y: xp.heaviside(x, y), [(2, 3), (2, 3)]),
    nrow(
        "where",
        "heaviside",
        lambda xp, x, y: xp.heaviside(x * np.array([0.0, 1.0, 0.0]), y),
        [(2, 3), (3,)],
        label="at-0",
    ),
    nrow("where", "heaviside", lambda xp, x: xp.heaviside(x, 0.5), [()], label="scalar"),
    nrow("trunc", "modf", lambda xp, x: xp.modf(x * 3.0), [(2, 3)], also=("where",)),
    nrow("trunc", "modf", lambda xp, x: xp.modf(x), [()], label="0d", also=("where",)),
    nrow("mul", "ldexp", lambda xp, x: xp.ldexp(x, np.array([1, -2, 3])), [(2, 3)]),
    nrow("mul", "ldexp", lambda xp, x: xp.ldexp(x, 4), [()], label="0d"),
]

# r_ and c_ (shapes.py): concatenations of pieces made at least 1-d (2-d, columns, for c_)
NUMPY_ROWS += [
    nrow("concatenate", "r_", lambda xp, x, y: xp.r_[x, 0.5, y], [(2,), (3,)]),
    nrow("concatenate", "r_", lambda xp, x: xp.r_[x, -1:1:3j], [(2,)], label="slice"),
    nrow("concatenate", "r_", lambda xp, x, y: xp.r_["0,2", x, y], [(3,), (3,)], label="ndmin"),
    nrow("concatenate", "r_", lambda xp, x, y: xp.r_["1", x, y], [(2, 2), (2, 3)], label="axis"),
    nrow("concatenate", "c_", lambda xp, x, y: xp.c_[x, y], [(3,), (3,)]),
    nrow("concatenate", "c_", lambda xp, x, y: xp.c_[x, y], [(3, 2), (3,)], label="mixed"),
    nrow("concatenate", "c_", lambda xp, x, y: xp.c_[x, y], [(2,), (2,)], complex=True),
]

# interp: the segment comes from searchsorted (no gradient), its end points are gathers
_KNOTS = np.array([-2.0, -0.5, 0.0, 1.0, 2.5])
NUMPY_ROWS += [
    nrow("where", "interp", lambda xp, x, fp: xp.interp(x, _KNOTS, fp), [(2, 3), (5,)]),
    nrow(
        "where",
        "interp",
        lambda xp, x, k: xp.interp(x, xp.cumsum(k * k + 0.5) - 2.0, np.arange(4.0) ** 2),
        [(3,), (4,)],
        label="knots",
    ),
    nrow(
        "where",
        "interp",
        lambda xp, x, a, b: xp.interp(x * 3.0, _KNOTS, _KNOTS**2, left=a, right=b),
        [(6,), (), ()],
        label="left-right",
    ),
    nrow("where", "interp", lambda xp, x, fp: xp.interp(x, _KNOTS, fp), [(), (5,)], complex=False),
]

# apply_along_axis: one call of the function per slice, the results stacked in its place
NUMPY_ROWS += [
    nrow(
        "mul",
        "apply_along_axis",
        lambda xp, x: xp.apply_along_axis(lambda v: (v * v).sum(), 1, x),
        [(2, 3)],
    ),
    nrow(
        "cumsum",
        "apply_along_axis",
        lambda xp, x: xp.apply_along_axis(lambda v: xp.cumsum(v)[1:] * v[0], 0, x),
        [(3, 2, 2)],
        label="vector",
    ),
]

# delete, insert, resize: NumPy's own function run on element ids gives the gather; vander:
# repeated products; bincount: the weights times a one-hot matrix of the bins
NUMPY_ROWS += [
    nrow("getitem", "delete", lambda xp, x: xp.delete(x, 1, axis=1), [(2, 3)]),
    nrow("getitem", "delete", lambda xp, x: xp.delete(x, [0, 2]), [(2, 3)], label="flat"),
    nrow("getitem", "insert", lambda xp, x, v: xp.insert(x, 1, v, axis=1), [(2, 3), ()]),
    nrow(
        "getitem",
        "insert",
        lambda xp, x, v: xp.insert(x, [0, 2], v, axis=0),
        [(3, 2), (2, 2)],
        label="many",
    ),
    nrow("getitem", "insert", lambda xp, x, v: xp.insert(x, 2, v), [(4,), (3,)], complex=True),
    nrow("getitem", "resize", lambda xp, x: xp.resize(x, (2, 5)), [(2, 3)]),
    nrow("mul", "vander", lambda xp, x: xp.vander(x), [(3,)]),
    nrow("mul", "vander", lambda xp, x: xp.vander(x, 4, increasing=True), [(2,)], label="N"),
    nrow("mul", "vander", lambda xp, x: xp.vander(x, 3), [(2,)], complex=True),
    nrow(
        "matmul",
        "bincount",
        lambda xp, w: xp.bincount(np.array([0, 2, 2, 4, 1]), weights=w, minlength=7),
        [(5,)],
    ),
]

# Polynomials (coefficients, highest power first) and unwrap (corrections are multiples of
# the period: derivative 1)
_PHASES = np.array([0.0, 2.5, 5.5, -1.0, 2.0, -2.5])
NUMPY_ROWS += [
    nrow("add", "polyadd", lambda xp, a, b: xp.polyadd(a, b), [(2,), (4,)]),
    nrow("sub", "polysub", lambda xp, a, b: xp.polysub(a, b), [(3,), (2,)]),
    nrow("matmul", "polymul", lambda xp, a, b: xp.polymul(a, b), [(3,), (2,)]),
    nrow("matmul", "polymul", lambda xp, a, b: xp.polymul(a, b), [(2,), (2,)], complex=True),
    nrow("mul", "polyder", lambda xp, p: xp.polyder(p, 2), [(5,)]),
    nrow("div", "polyint", lambda xp, p: xp.polyint(p), [(3,)]),
    nrow("div", "polyint", lambda xp, p, k: xp.polyint(p, 2, k), [(3,), (2,)], label="k"),
    nrow("cumsum", "unwrap", lambda xp, x: xp.unwrap(x + _PHASES), [(6,)]),
    nrow(
        "cumsum",
        "unwrap",
        lambda xp, x: xp.unwrap(3 * x, axis=0, period=4.0),
        [(5, 2)],
        label="period",
    ),
]

# Sets, histograms, bits of floats, piecewise functions, index helpers, in-place writers,
# polynomials and the rest of NumPy 2's namespace (sets.py, histograms.py, writers.py...).
# Unique values are gathers from the first occurrences (inputs with repeats: x[_REPEAT]).
_REPEAT = np.array([0, 1, 0, 2, 1, 2, 2])


def _in_place(name: str, *args: Any) -> Callable[..., Any]:
    """A row call that writes into a copy of x with ``xp.<name>(y, ...)``: tensors among
    the written values are the row's further inputs (``_V`` marks their places)."""

    def call(xp: Any, x: Any, *values: Any) -> Any:
        y = x * 1.0
        it = iter(values)
        getattr(xp, name)(y, *[next(it) if a is _V else a for a in args])
        return y

    return call


_V = object()
_DIAG = np.array([[True, False, True], [False, True, False]])
NUMPY_ROWS += [
    nrow("getitem", "unique", lambda xp, x: xp.unique(x[_REPEAT]), [(3,)]),
    nrow(
        "getitem",
        "unique",
        lambda xp, x: xp.unique(
            x[_REPEAT], return_index=True, return_inverse=True, return_counts=True
        ),
        [(3,)],
        label="all",
    ),  # fmt: skip
    nrow(
        "getitem",
        "unique",
        lambda xp, x: xp.unique(xp.concatenate([x, x[:1]], axis=0), axis=0, return_inverse=True),
        [(2, 3)],
        label="axis0",
    ),
    nrow("getitem", "unique", lambda xp, x: xp.unique(x), [()], label="0d"),
    nrow("getitem", "unique", lambda xp, x: xp.unique(x[_REPEAT]), [(3,)], complex=True),
    nrow("getitem", "unique_values", lambda xp, x: xp.unique_values(x[_REPEAT]), [(3,)]),
    nrow("getitem", "unique_counts", lambda xp, x: tuple(xp.unique_counts(x[_REPEAT])), [(3,)]),
    nrow(
        "getitem",
        "unique_inverse",
        lambda xp, x: tuple(xp.unique_inverse(x[_REPEAT[:6]].reshape(2, 3))),
        [(3,)],
    ),
    nrow("getitem", "unique_all", lambda xp, x: tuple(xp.unique_all(x[_REPEAT])), [(3,)]),
    nrow("getitem", "union1d", lambda xp, x, y: xp.union1d(x[_REPEAT], y), [(3,), (2,)]),
    nrow(
        "getitem",
        "intersect1d",
        lambda xp, x, y: xp.intersect1d(x[_REPEAT], x[:2] * 1.0),
        [(3,), ()],
    ),
    nrow(
        "getitem",
        "intersect1d",
        lambda xp, x: xp.intersect1d(x[_REPEAT], x[1:], return_indices=True),
        [(3,)],
        label="indices",
    ),
    nrow("getitem", "setdiff1d", lambda xp, x: xp.setdiff1d(x[_REPEAT], x[1]), [(3,)]),
    nrow(
        "getitem",
        "setxor1d",
        lambda xp, x, y: xp.setxor1d(x[_REPEAT], xp.concatenate([x[:1], y])),
        [(3,), (2,)],
    ),
    nrow("take_along_axis", "sort_complex", lambda xp, x: xp.sort_complex(x), [M]),
    nrow("take_along_axis", "sort_complex", lambda xp, x: xp.sort_complex(x), [(4,)], complex=True),
    # histograms: weights summed per bin; the edges from the minimum and maximum
    nrow(
        "index_add",
        "histogram",
        lambda xp, a, w: xp.histogram(a, bins=3, weights=w),
        [(2, 5), (2, 5)],
        also=("min", "max"),
    ),
    nrow(
        "index_add",
        "histogram",
        lambda xp, a, w: xp.histogram(a, bins=4, weights=w, density=True),
        [(9,), (9,)],
        label="density",
    ),
    nrow(
        "index_add",
        "histogram",
        lambda xp, a, w: xp.histogram(a, bins=np.array([-1.0, -0.2, 0.5, 1.5]), weights=w),
        [(8,), (8,)],
        label="edges",
    ),
    nrow(
        "index_add",
        "histogram",
        lambda xp, a, w: xp.histogram(a, range=(-1.0, 1.0), weights=w, density=True),
        [(12,), (12,)],
        label="range",
    ),
    nrow("min", "histogram", lambda xp, a: xp.histogram(a, 5), [(7,)], label="counts"),
    nrow(
        "min", "histogram", lambda xp, a: xp.histogram(a * 0.0 + a[0], 2), [(3,)], label="widened"
    ),
    nrow("min", "histogram_bin_edges", lambda xp, a: xp.histogram_bin_edges(a, 4), [M]),
    nrow(
        "index_add",
        "histogramdd",
        lambda xp, s, w: (
            xp.histogramdd(s, bins=(2, 3), weights=w, density=True)[0],
            *xp.histogramdd(s, bins=(2, 3), weights=w, density=True)[1],
        ),
        [(8, 2), (8,)],
    ),  # fmt: skip
    nrow(
        "index_add",
        "histogram2d",
        lambda xp, x, y, w: xp.histogram2d(x, y, bins=[2, np.array([-2.0, 0.0, 2.0])], weights=w),
        [(6,), (6,), (6,)],
    ),
    # floats taken apart, Bessel's I0 (its derivative I1), piecewise functions
    nrow("mul", "frexp", lambda xp, x: xp.frexp(x * 7.0), [M], also=("frexp_exponent",)),
    nrow("mul", "frexp", lambda xp, x: xp.frexp(x), [()], label="0d"),
    nrow("spacing", "spacing", lambda xp, x: xp.spacing(x) * 1e15 + x, [M]),
    nrow("i0", "i0", lambda xp, x: xp.i0(x * 3.0), [M], also=("bessel_i1",)),
    nrow("i0", "i0", lambda xp, x: xp.i0(x * 12.0), [(5,)], label="wide"),
    nrow("i0", "i0", lambda xp, x: xp.i0(x), [()], label="0d"),
    # (np.kaiser is not dispatched: its arguments are numbers for NumPy)
    nrow(
        "mul",
        "kaiser",
        lambda xp, b: cnp.kaiser(6, b * b + 1.0),
        [()],
        also=("i0",),
        reference=False,
    ),
    nrow(
        "index_put",
        "piecewise",
        lambda xp, x: xp.piecewise(x, [x < -0.5, x > 0.5], [lambda v: v * v, xp.exp, 0.25]),
        [M],
    ),
    nrow(
        "index_put",
        "piecewise",
        lambda xp, x: xp.piecewise(x, x > 0, [lambda v, s: xp.sin(v) * s], 2.0),
        [(5,)],
        label="single",
    ),
    nrow(
        "index_put",
        "piecewise",
        lambda xp, x: xp.piecewise(x, [True], [xp.tanh]),
        [()],
        label="fixed-0d",
    ),
    nrow(
        "index_put",
        "piecewise",
        lambda xp, x: xp.piecewise(x, [_DIAG], [lambda v: xp.sin(v) * v, 0.5]),
        [M],
        label="fixed-mask",
    ),
    nrow(
        "take_along_axis",
        "choose",
        lambda xp, x, y: xp.choose(np.array([[0, 1, 1], [1, 0, 2]]), [x, y, 0.5]),
        [M, (3,)],
    ),
    # in place: the written values and the entries left as they were
    nrow("index_put", "put", _in_place("put", [0, 4, 4, -1], _V), [M, (3,)]),
    nrow(
        "index_put", "put", _in_place("put", np.array([7, -8]), _V, "wrap"), [M, ()], label="wrap"
    ),
    nrow(
        "index_put",
        "put_along_axis",
        _in_place("put_along_axis", np.array([[2], [0]]), _V, 1),
        [M, (2, 1)],
    ),
    nrow(
        "index_put",
        "put_along_axis",
        _in_place("put_along_axis", np.array([[1, 1, 0]]), _V, 0),
        [M, (1, 3)],
        label="repeat",
    ),
    nrow(
        "index_put",
        "put_along_axis",
        _in_place("put_along_axis", np.array([5, 0]), _V, None),
        [M, (2,)],
        label="none",
    ),
    nrow("index_put", "place", _in_place("place", _DIAG, _V), [M, (2,)]),
    nrow("where", "putmask", _in_place("putmask", _DIAG, _V), [M, (4,)]),
    nrow("broadcast_to", "copyto", _in_place("copyto", _V), [M, (3,)], label="all"),
    nrow("where", "copyto", _in_place("copyto", _V, "same_kind", _DIAG), [M, (2, 1)]),
    nrow("index_put", "fill_diagonal", _in_place("fill_diagonal", _V), [(3, 3), (2,)]),
    nrow(
        "index_put",
        "fill_diagonal",
        _in_place("fill_diagonal", _V, True),
        [(7, 2), ()],
        label="wrap",
    ),
    # creation, joining, polynomials
    nrow(
        "mul",
        "geomspace",
        lambda xp, a, b: cnp.geomspace(a * a + 0.5, b * b + 2.0, 5),
        [(), ()],
        reference=False,
    ),
    nrow(
        "mul",
        "geomspace",
        lambda xp, a, b: cnp.geomspace(-(a * a) - 0.5, -(b * b) - 1.0, 4, endpoint=False, axis=1),
        [(2,), (2,)],
        label="negative",
        reference=False,
    ),
    nrow(
        "mul",
        "geomspace",
        lambda xp, a: cnp.geomspace(a, 2.0 * a, 3),
        [()],
        complex=True,
        domain="positive",
        reference=False,
    ),
    nrow(
        "concatenate",
        "block",
        lambda xp, a, b, c: xp.block([[a, b], [c]]),
        [(2, 2), (2, 1), (1, 3)],
    ),
    nrow("concatenate", "block", lambda xp, a, b: xp.block([a, b, 1.5]), [(), (2,)], label="1d"),
    nrow("astype", "astype", lambda xp, x: xp.astype(x, np.complex128) * x, [M]),
    nrow("copy", "astype", lambda xp, x: xp.astype(x, x.dtype) * x, [M], label="copy"),
    nrow("lstsq", "polyfit", lambda xp, x, y: xp.polyfit(x, y, 2), [(6,), (6,)]),
    nrow(
        "lstsq",
        "polyfit",
        lambda xp, x, y, w: xp.polyfit(x, y, 1, w=w * w + 0.5, cov=True),
        [(5,), (5, 2), (5,)],
        label="w-cov",
    ),
    nrow(
        "lstsq",
        "polyfit",
        lambda xp, x, y: xp.polyfit(x, y, 1, full=True)[:2],
        [(4,), (4,)],
        label="full",
    ),
    nrow("matmul", "poly", lambda xp, r: xp.poly(r), [(3,)]),
    nrow("matmul", "poly", lambda xp, a: xp.poly(a), [(3, 3)], domain="matrix", label="matrix"),
    nrow("matmul", "poly", lambda xp, r: xp.poly(r), [(2,)], complex=True),
    nrow("eigvals", "roots", lambda xp, r: xp.roots(xp.poly(xp.cumsum(r * r + 0.5))), [(3,)]),
    nrow(
        "eigvals",
        "roots",
        lambda xp, p: xp.roots(xp.concatenate([p, np.zeros(1)])),
        [(3,)],
        complex=True,
        label="trailing",
    ),
    # (the quotient and the last remainder coefficient: how many leading remainder
    # coefficients NumPy drops as zero depends on the precision)
    nrow(
        "div",
        "polydiv",
        lambda xp, u, v: (xp.polydiv(u, v)[0], xp.polydiv(u, v)[1][-1:]),
        [(4,), (2,)],
        domain="away",
    ),
    nrow("matmul", "matvec", lambda xp, a, v: xp.matvec(a, v), [(2, 2, 3), (3,)]),
    nrow("matmul", "vecmat", lambda xp, v, a: xp.vecmat(v, a), [(3,), (2, 3, 2)]),
    nrow("matmul", "vecmat", lambda xp, v, a: xp.vecmat(v, a), [(2,), (2, 2)], complex=True),
    nrow(
        "getitem",
        "trim_zeros",
        lambda xp, x: xp.trim_zeros(x * np.array([0.0, 1.0, 1.0, 0.0])),
        [(4,)],
    ),
    nrow("sum", "apply_over_axes", lambda xp, x: xp.apply_over_axes(xp.sum, x * x, [0, 2]), [T3]),
    nrow(
        "mul",
        "fromfunction",
        lambda xp, x: xp.fromfunction(lambda i, j: i * x + j, (2, 3)),
        [()],
        reference=False,
    ),
    nrow("mul", "asfortranarray", lambda xp, x: xp.asfortranarray(x) * x, [M]),
    nrow("mul", "asarray_chkfinite", lambda xp, x: xp.asarray_chkfinite(x) * x, [M]),
]
for _name, _target in [
    ("acos", "arccos"),
    ("acosh", "arccosh"),
    ("asin", "arcsin"),
    ("asinh", "arcsinh"),
    ("atan", "arctan"),
    ("atanh", "arctanh"),
]:
    _domain = {"acosh": "above1", "asinh": "real", "atan": "real"}.get(_name, "ball")
    NUMPY_ROWS.append(
        nrow(_target, _name, lambda xp, x, _n=_name: getattr(xp, _n)(x), [M], _domain)
    )
NUMPY_ROWS.append(nrow("arctan2", "atan2", lambda xp, x, y: xp.atan2(x, y), [M, (3,)], "away"))


# Complex twins of functions NumPy also takes complex input for (PyTorch's convention): the
# first real row of each, rerun on complex128 inputs.
_COMPLEX_TWINS = """abs amax amin around atleast_1d atleast_2d atleast_3d average broadcast_arrays
column_stack concat copy diag diagflat diff dstack ediff1d flip fliplr flipud gradient hstack
matrix_transpose median meshgrid nan_to_num nancumprod nancumsum nanmax nanmean nanmin nanprod
nanstd nansum nanvar permute_dims ptp ravel rot90 row_stack squeeze stack trace tril triu
unstack vstack""".split()


def _complex_twin(name: str) -> Row | None:
    for r in NUMPY_ROWS:
        if r.label.startswith(f"cnp.{name}-") and not r.complex and r.numpy is not None:
            twin = Row(r.primitive, r.fn, r.shapes, r.domain, r.label, r.also, True, r.numpy)
            # complex values may take another path (amax of complex numbers is a gather):
            # the twin names the primitive its own result comes from when the real one's is
            # not applied
            out = twin.fn(*[cnp.array(a, requires_grad=True) for a in twin.inputs()])
            node = (out[0] if isinstance(out, (tuple, list)) else out)._node
            names, stack = set(), [node] if node is not None else []
            while stack:
                n = stack.pop()
                names.add(n.prim.name)
                stack += [e for e in n.edges if hasattr(e, "prim")]
            if twin.primitive not in names and node is not None:
                twin.primitive = node.prim.name
            return twin
    return None


NUMPY_ROWS += [t for t in map(_complex_twin, _COMPLEX_TWINS) if t is not None]


# --------------------------------------------------------------------------- Fourier transforms
# cnp.fft (chainrule.fft): every function, odd and even lengths, n / s cropping and padding,
# axes, repeated axes and the three norms. Real inputs with complex results are checked
# through their real and imaginary parts (the real checker compares real values); complex
# rows check PyTorch's convention. The real transforms' rows cover both parities of the
# signal length, where the weighting of the Hermitian half spectrum differs.
import chainrule.fft  # noqa: E402, F401  (its primitives are registered before the table is read)


def _ri(xp, y):
    return xp.real(y), xp.imag(y)


def frow(primitive, name, call, shapes, label, complex=False, also=()):
    """A row for ``chainrule.fft.<name>`` (``cnp.fft.<name>``, ``np.fft.<name>``)."""
    return nrow(primitive, f"fft.{name}", call, shapes, complex=complex, label=label, also=also)


for _norm in (None, "ortho", "forward"):
    _tag = _norm or "backward"
    NUMPY_ROWS += [
        frow("fftn", "fft", lambda xp, x, m=_norm: _ri(xp, xp.fft.fft(x, norm=m)), [(2, 5)], _tag),
        frow(
            "fftn",
            "fft",
            lambda xp, x, m=_norm: xp.fft.fft(x, n=4, axis=0, norm=m),
            [(6, 2)],
            f"crop-{_tag}",
            complex=True,
        ),
        frow(
            "ifftn",
            "ifft",
            lambda xp, x, m=_norm: _ri(xp, xp.fft.ifft(x, n=7, norm=m)),
            [(2, 4)],
            f"pad-{_tag}",
        ),
        frow("ifftn", "ifft", lambda xp, x, m=_norm: xp.fft.ifft(x, norm=m), [(3,)], _tag, True),
    ]
    for _len in (5, 6):  # odd and even signals
        for _n in (None, _len - 2, _len + 3):  # the input's length, cropped, zero-padded
            _lab = f"{_len}-n{_n}-{_tag}"
            NUMPY_ROWS += [
                frow(
                    "rfftn",
                    "rfft",
                    lambda xp, x, n=_n, m=_norm: _ri(xp, xp.fft.rfft(x, n=n, norm=m)),
                    [(2, _len)],
                    _lab,
                ),
                # the half spectrum of a length-_len signal has _len // 2 + 1 bins
                frow(
                    "irfftn",
                    "irfft",
                    lambda xp, z, n=_n, m=_norm, k=_len: xp.fft.irfft(z, n=n or k, norm=m),
                    [(2, _len // 2 + 1)],
                    _lab,
                    complex=True,
                ),
            ]
NUMPY_ROWS += [
    frow("fftn", "fft", lambda xp, x: _ri(xp, xp.fft.fft(x)), [(1,)], "one-point"),
    frow("fftn", "fft", lambda xp, x: _ri(xp, xp.fft.fft(x, axis=0)), [(3, 2, 2)], "axis0"),
    frow("ifftn", "ifft", lambda xp, x: xp.fft.ifft(x, n=2, axis=1), [(2, 5, 2)], "axis1", True),
    frow("rfftn", "rfft", lambda xp, x: _ri(xp, xp.fft.rfft(x, axis=0)), [(5, 3)], "axis0"),
    frow("rfftn", "rfft", lambda xp, x: _ri(xp, xp.fft.rfft(x, n=1)), [(2, 3)], "n1"),
    frow("rfftn", "rfft", lambda xp, x: _ri(xp, xp.fft.rfft(x, n=2)), [(3,)], "n2"),
    # a complex row for the primitive: rfft of a real function of complex inputs
    frow(
        "rfftn",
        "rfft",
        lambda xp, z: xp.fft.rfft(xp.real(z) * xp.imag(z), n=5),
        [(2, 4)],
        "of-complex",
        complex=True,
    ),
    frow("irfftn", "irfft", lambda xp, z: xp.fft.irfft(z), [(2, 4)], "default", complex=True),
    frow("irfftn", "irfft", lambda xp, x: xp.fft.irfft(x, n=5, axis=0), [(3, 2)], "real-input"),
    frow(
        "irfftn",
        "irfft",
        lambda xp, z: xp.fft.irfft(z, n=3, axis=0, norm="ortho"),
        [(4, 2)],
        "axis0-crop",
        complex=True,
    ),
    frow("irfftn", "irfft", lambda xp, z: xp.fft.irfft(z, n=1), [(3,)], "n1", complex=True),
    frow("irfftn", "hfft", lambda xp, z: xp.fft.hfft(z), [(2, 4)], "even", True, ["conj"]),
    frow("irfftn", "hfft", lambda xp, z: xp.fft.hfft(z, n=7, norm="ortho"), [(4,)], "odd", True),
    frow("irfftn", "hfft", lambda xp, x: xp.fft.hfft(x, n=5, axis=0), [(3, 2)], "real-input"),
    frow("rfftn", "ihfft", lambda xp, x: _ri(xp, xp.fft.ihfft(x)), [(2, 5)], "odd", also=["conj"]),
    frow(
        "rfftn",
        "ihfft",
        lambda xp, x: _ri(xp, xp.fft.ihfft(x, n=8, norm="forward")),
        [(6,)],
        "pad-even",
    ),
    # several axes at once: s crops some axes and pads others, odd and even last lengths
    frow("fftn", "fft2", lambda xp, x: _ri(xp, xp.fft.fft2(x)), [(2, 3, 4)], "default"),
    frow(
        "fftn",
        "fft2",
        lambda xp, z: xp.fft.fft2(z, s=(4, 2), axes=(0, 2), norm="ortho"),
        [(3, 2, 3)],
        "s-axes",
        complex=True,
    ),
    frow("ifftn", "ifft2", lambda xp, x: _ri(xp, xp.fft.ifft2(x, s=(2, 5))), [(3, 4)], "s"),
    frow(
        "ifftn",
        "ifft2",
        lambda xp, z: xp.fft.ifft2(z, norm="forward"),
        [(2, 2, 3)],
        "forward",
        complex=True,
    ),
    frow("fftn", "fftn", lambda xp, x: _ri(xp, xp.fft.fftn(x)), [(2, 3, 2)], "all"),
    frow(
        "fftn",
        "fftn",
        lambda xp, z: xp.fft.fftn(z, s=(3, 2), axes=(1, 0), norm="ortho"),
        [(2, 4)],
        "s-axes",
        complex=True,
    ),
    # a repeated axis is transformed once per mention (NumPy's order: the last one first)
    frow(
        "fftn",
        "fftn",
        lambda xp, x: _ri(xp, xp.fft.fftn(x, s=(4, 3), axes=(1, 1))),
        [(2, 5)],
        "repeated",
    ),
    frow("ifftn", "ifftn", lambda xp, x: _ri(xp, xp.fft.ifftn(x, axes=(0,))), [(3, 2)], "axes"),
    frow(
        "ifftn",
        "ifftn",
        lambda xp, z: xp.fft.ifftn(z, s=(2, 3, 4), axes=(0, 1, 2), norm="forward"),
        [(3, 3, 3)],
        "s",
        complex=True,
    ),
    frow("rfftn", "rfft2", lambda xp, x: _ri(xp, xp.fft.rfft2(x)), [(2, 3, 5)], "odd"),
    frow(
        "rfftn",
        "rfft2",
        lambda xp, x: _ri(xp, xp.fft.rfft2(x, s=(2, 6), norm="ortho")),
        [(3, 5)],
        "s-even",
    ),
    frow("rfftn", "rfftn", lambda xp, x: _ri(xp, xp.fft.rfftn(x)), [(2, 3, 4)], "even"),
    frow(
        "rfftn",
        "rfftn",
        lambda xp, x: _ri(xp, xp.fft.rfftn(x, s=(4, 3), axes=(2, 0), norm="forward")),
        [(2, 2, 5)],
        "s-axes-odd",
    ),
    frow(
        "rfftn",
        "rfftn",
        lambda xp, x: _ri(xp, xp.fft.rfftn(x, s=(3, 4, 5), axes=(1, 0, 1))),
        [(3, 4)],
        "repeated",
        also=["fftn"],
    ),
    frow("irfftn", "irfft2", lambda xp, z: xp.fft.irfft2(z), [(2, 3, 3)], "even", complex=True),
    frow(
        "irfftn",
        "irfft2",
        lambda xp, z: xp.fft.irfft2(z, s=(3, 5), norm="ortho"),
        [(2, 3)],
        "s-odd",
        complex=True,
    ),
    frow(
        "irfftn",
        "irfftn",
        lambda xp, z: xp.fft.irfftn(z, s=(4, 5), axes=(0, 2)),
        [(3, 2, 3)],
        "s-axes-odd",
        complex=True,
    ),
    frow(
        "irfftn",
        "irfftn",
        lambda xp, z: xp.fft.irfftn(z, s=(2, 6), axes=(0, 1), norm="forward"),
        [(3, 5)],
        "s-even-pad",
        complex=True,
    ),
    frow("irfftn", "irfftn", lambda xp, x: xp.fft.irfftn(x), [(2, 2, 3)], "real-input"),
    frow(
        "irfftn",
        "irfftn",
        lambda xp, z: xp.fft.irfftn(z, s=(3, 4, 5), axes=(1, 0, 1)),
        [(3, 4)],
        "repeated",
        complex=True,
        also=["ifftn"],
    ),
    frow("concatenate", "fftshift", lambda xp, x: xp.fft.fftshift(x), [(3, 4)], "all"),
    frow("concatenate", "fftshift", lambda xp, x: xp.fft.fftshift(x, axes=1), [(2, 5)], "axis"),
    frow("concatenate", "fftshift", lambda xp, z: xp.fft.fftshift(z), [(5,)], "odd", True),
    frow("concatenate", "ifftshift", lambda xp, x: xp.fft.ifftshift(x), [(3, 5)], "all"),
    frow(
        "concatenate",
        "ifftshift",
        lambda xp, z: xp.fft.ifftshift(z, axes=(0, 0, 1)),
        [(3, 4)],
        "repeated",
        complex=True,
    ),
    frow(
        "fftn",
        "fftshift",
        lambda xp, x: _ri(xp, xp.fft.fftshift(xp.fft.fft(x), axes=(-1,))),
        [(2, 6)],
        "spectrum",
        also=["concatenate"],
    ),
]

ROWS += NUMPY_ROWS

NONDIFF += [
    Check("signbit", lambda x: cnp.signbit(x), np.signbit, [(2, 3)]),
    Check("argsort", lambda x: cnp.argsort(x, axis=0), lambda x: np.argsort(x, axis=0), [(4, 3)]),
    Check(
        "argpartition", lambda x: cnp.argpartition(x, 2), lambda x: np.argpartition(x, 2), [(3, 5)]
    ),
    Check("argwhere", lambda x: cnp.argwhere(x > 0), lambda x: np.argwhere(x > 0), [(3, 4)]),
    Check(
        "argextreme",
        lambda x: cnp.argmax(x, axis=1, keepdims=True),
        lambda x: np.argmax(x, axis=1, keepdims=True),
        [(3, 4)],
    ),
    Check("any", lambda x: cnp.any(x > 1, axis=0), lambda x: np.any(x > 1, axis=0), [(3, 4)]),
    Check("all", lambda x: cnp.all(x > -1, axis=1), lambda x: np.all(x > -1, axis=1), [(3, 4)]),
    Check(
        "searchsorted",
        lambda x: cnp.searchsorted(np.array([-1.0, 0.0, 0.5]), x, side="right"),
        lambda x: np.searchsorted(np.array([-1.0, 0.0, 0.5]), x, side="right"),
        [(3, 4)],
    ),
    Check("frexp_exponent", lambda x: cnp.frexp(x * 5.0)[1], lambda x: np.frexp(x * 5.0)[1], [M]),
    Check("nextafter", lambda x, y: cnp.nextafter(x, y), np.nextafter, [M, (3,)]),
    # integers computed from the inputs (a sort's positions), so a traced program has them
    *[
        Check(
            _name,
            lambda x, _n=_name: getattr(cnp, _n)(cnp.argsort(x, axis=None) - 4, 6),
            lambda x, _n=_name: getattr(np, _n)(np.argsort(x, axis=None) - 4, 6),
            [M],
        )
        for _name in ("gcd", "lcm", "right_shift")
    ],
    Check(
        "left_shift",
        lambda x: cnp.left_shift(3, cnp.argsort(x)),
        lambda x: np.left_shift(3, np.argsort(x)),
        [M],
    ),
    Check(
        "bitwise_count",
        lambda x: cnp.bitwise_count(cnp.argsort(x, axis=None) * 37 - 99),
        lambda x: np.bitwise_count(np.argsort(x, axis=None) * 37 - 99),
        [M],
    ),
    Check(
        "unique_part",
        lambda x: cnp.unique(cnp.round(x), return_inverse=True)[1],
        lambda x: np.unique(np.round(x), return_inverse=True)[1],
        [(3, 4)],
    ),
    Check(
        "histogram_index",
        lambda x: cnp.histogram(x, 4)[0],
        lambda x: np.histogram(x, 4)[0],
        [(3, 4)],
    ),
]

# --------------------------------------------------------------------------- network primitives
# (rules_nn.py: erf, softplus, padding, sliding windows and their scatter-back, recurrences)
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
