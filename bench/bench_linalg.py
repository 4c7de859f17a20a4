"""Per-call cost of the contraction and linear-algebra primitives (einsum, tensordot,
inv, solve, a matrix norm), forward and backward, against the same computations written
by hand in NumPy, side by side in one run; cr.matmul and cr.exp (existing primitives) are
timed alongside, so a new primitive's overhead per call can be compared with theirs.

Small (8 x 8) operands, where the per-call overhead is what is measured, and 64 x 64 ones,
where the arithmetic dominates. Run: ``python bench/bench_linalg.py``.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from _timing import interleaved, table

rng = np.random.default_rng(0)


def cases(n: int) -> dict:
    a = rng.standard_normal((n, n)) + n * np.eye(n)
    b = rng.standard_normal((n, n))
    c = rng.standard_normal((n, n))
    g = np.ones((n, n))
    ta = cr.tensor(a, requires_grad=True)
    tb = cr.tensor(b, requires_grad=True)
    tc = cr.tensor(c, requires_grad=True)

    def cr_backward(out: cr.Tensor) -> None:
        ta.grad = tb.grad = tc.grad = None
        out.backward(g if out.ndim else 1.0)

    # ---- hand-written NumPy (forward, and forward + backward) ----
    def np_matmul_fb():
        out = a @ b
        return out, g @ b.T, a.T @ g

    def np_exp_fb():
        out = np.exp(a)
        return out, g * out

    def np_einsum_fb():
        out = np.einsum("ij,jk->ik", a, b)
        return out, np.einsum("ik,jk->ij", g, b), np.einsum("ij,ik->jk", a, g)

    def np_einsum3_fb():
        out = np.einsum("ij,jk,kl->il", a, b, c, optimize=True)
        ga = np.einsum("il,jk,kl->ij", g, b, c, optimize=True)
        gb = np.einsum("ij,il,kl->jk", a, g, c, optimize=True)
        gc = np.einsum("ij,jk,il->kl", a, b, g, optimize=True)
        return out, ga, gb, gc

    def np_tensordot_fb():
        out = np.tensordot(a, b, axes=1)
        return out, np.tensordot(g, b, axes=([1], [1])), np.tensordot(a, g, axes=([0], [0]))

    def np_inv_fb():
        x = np.linalg.inv(a)
        return x, -(x.T @ g @ x.T)

    def np_solve_fb():
        x = np.linalg.solve(a, b)
        gb = np.linalg.solve(a.T, g)
        return x, -gb @ x.T, gb

    def np_norm_fb():
        n_ = np.linalg.norm(a)
        return n_, a / n_

    return {
        "matmul (existing)": (
            lambda: a @ b,
            lambda: cr.matmul(ta, tb),
            np_matmul_fb,
            lambda: cr_backward(cr.matmul(ta, tb)),
        ),
        "exp (existing)": (
            lambda: np.exp(a),
            lambda: cr.exp(ta),
            np_exp_fb,
            lambda: cr_backward(cr.exp(ta)),
        ),
        "einsum ij,jk->ik": (
            lambda: np.einsum("ij,jk->ik", a, b),
            lambda: cr.einsum("ij,jk->ik", ta, tb),
            np_einsum_fb,
            lambda: cr_backward(cr.einsum("ij,jk->ik", ta, tb)),
        ),
        "einsum ij,jk,kl->il": (
            lambda: np.einsum("ij,jk,kl->il", a, b, c, optimize=True),
            lambda: cr.einsum("ij,jk,kl->il", ta, tb, tc),
            np_einsum3_fb,
            lambda: cr_backward(cr.einsum("ij,jk,kl->il", ta, tb, tc)),
        ),
        "tensordot axes=1": (
            lambda: np.tensordot(a, b, axes=1),
            lambda: cr.tensordot(ta, tb, axes=1),
            np_tensordot_fb,
            lambda: cr_backward(cr.tensordot(ta, tb, axes=1)),
        ),
        "linalg.inv": (
            lambda: np.linalg.inv(a),
            lambda: cr.linalg.inv(ta),
            np_inv_fb,
            lambda: cr_backward(cr.linalg.inv(ta)),
        ),
        "linalg.solve": (
            lambda: np.linalg.solve(a, b),
            lambda: cr.linalg.solve(ta, tb),
            np_solve_fb,
            lambda: cr_backward(cr.linalg.solve(ta, tb)),
        ),
        "linalg.norm (fro)": (
            lambda: np.linalg.norm(a),
            lambda: cr.linalg.norm(ta),
            np_norm_fb,
            lambda: cr_backward(cr.linalg.norm(ta)),
        ),
    }


def main() -> None:
    for n in (8, 64):
        all_cases = cases(n)
        number = 200 if n == 8 else 20
        print(f"\n=== {n} x {n} float64 operands ===")
        overheads = {}
        for name, (np_fwd, cr_fwd, np_fb, cr_fb) in all_cases.items():
            t = interleaved(
                {"np_f": np_fwd, "cr_f": cr_fwd, "np_fb": np_fb, "cr_fb": cr_fb},
                repeats=7,
                number=number,
                pause=0.01,
            )
            print(
                table(
                    f"-- {name}",
                    [
                        ("NumPy forward (by hand)", t["np_f"], "us"),
                        ("chainrule forward", t["cr_f"], "us"),
                        ("NumPy forward+backward (by hand)", t["np_fb"], "us"),
                        ("chainrule forward+backward", t["cr_fb"], "us"),
                    ],
                    t["np_f"],
                )
            )
            overheads[name] = (t["cr_f"] - t["np_f"], t["cr_fb"] - t["np_fb"])
        print(f"\noverhead per call over the NumPy code ({n} x {n}), in us:")
        print(f"{'operation':<24}{'forward':>10}{'fwd+bwd':>10}")
        for name, (f, fb) in overheads.items():
            print(f"{name:<24}{f * 1e6:>10.2f}{fb * 1e6:>10.2f}")


if __name__ == "__main__":
    main()
