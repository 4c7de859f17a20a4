"""Per-call cost of chainrule.numpy's functions next to the core's own operations: each
is called on a 16-element float64 vector, forward and backward, timed side by side.

The claim checked (issue 13): a new primitive costs no more per call than the existing
ones. Each row is one recorded call on the same leaf plus its share of the backward pass
(and one add, the same in every row); the ratio is to the core's ``x * c``. Compare like
with like: an elementwise function with the core's ``tanh``, a scan (cumsum) with the
core's reduction ``sum``, einsum with the core's ``matmul``. einsum and a
linalg op join the table when chainrule.contractions and chainrule.linalg are installed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp
from _timing import interleaved, table

N_CALLS = 200
rng = np.random.default_rng(0)
x0 = rng.standard_normal(16)
c = 1.0 + 0.01 * rng.standard_normal(16)
M0 = rng.standard_normal((4, 4)) + 4 * np.eye(4)
W16 = np.ones((16, 16)) / 16


def chain(op: Callable, start: np.ndarray = x0) -> Callable[[], None]:
    """N_CALLS calls of ``op`` on one leaf, their results added up (one add per call, the
    same for every row), then one backward pass through all of them."""

    def run() -> None:
        x = cr.tensor(start, requires_grad=True)
        total = op(x)
        for _ in range(N_CALLS - 1):
            total = total + op(x)
        total.sum().backward()

    return run


def main() -> None:
    cases: dict[str, Callable[[], None]] = {
        "core: x * c (baseline)": chain(lambda h: h * c),
        "core: tanh": chain(lambda h: h.tanh()),
        "core: x.sum(axis=0, keepdims)": chain(lambda h: h.sum(axis=0, keepdims=True)),
        "core: W @ x": chain(lambda h: cr.matmul(W16, h)),
        "cnp.tan": chain(cnp.tan),
        "cnp.log1p": chain(cnp.log1p, np.abs(x0)),
        "cnp.logaddexp(x, c)": chain(lambda h: cnp.logaddexp(h, c)),
        "cnp.cumsum": chain(cnp.cumsum),
        "cnp.cumprod": chain(cnp.cumprod),
        "cnp.sort": chain(cnp.sort),
        "cnp.prod": chain(cnp.prod),
        "cnp.std (composed)": chain(cnp.std),
        "np.exp via __array_ufunc__": chain(np.exp),
    }
    try:  # the contractions and linear algebra come from another module, when present
        from chainrule import contractions, linalg

        cases["einsum('ij,j->i')"] = chain(lambda h: contractions.einsum("ij,j->i", W16, h))
        cases["linalg.solve (4x4)"] = chain(lambda h: linalg.solve(h, np.ones(4)), M0)
    except ImportError:
        pass
    times = interleaved(cases, repeats=7, number=3)
    baseline = times["core: x * c (baseline)"] / N_CALLS
    rows = [(name, t / N_CALLS, "us") for name, t in times.items()]
    print(
        table(
            f"{N_CALLS} recorded calls on 16 float64 + one backward, per call",
            rows,
            baseline,
        )
    )
    print(
        "ratios are to one call of an existing primitive; a composed function costs the "
        "primitives it is made of"
    )


if __name__ == "__main__":
    main()
