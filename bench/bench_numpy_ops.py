"""Per-call cost of chainrule.numpy's functions next to the core's own operations: each
is called on a 16-element float64 vector, forward and backward, timed side by side.

The claim checked (issue 13): a new primitive costs no more per call than the existing
ones. Each row is one recorded call plus its share of the backward pass; the ratio is to
the core's ``x * c`` (one existing primitive). einsum and a linalg op join the table when
chainrule.contractions and chainrule.linalg are installed.
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


def chain(op: Callable, start: np.ndarray = x0) -> Callable[[], None]:
    """N_CALLS calls of ``op`` recorded on one graph, then one backward pass."""

    def run() -> None:
        x = cr.tensor(start, requires_grad=True)
        h = x
        for _ in range(N_CALLS):
            h = op(h)
        h.sum().backward()

    return run


def main() -> None:
    cases: dict[str, Callable[[], None]] = {
        "core: x * c (baseline)": chain(lambda h: h * c),
        "core: tanh": chain(lambda h: h.tanh()),
        "cnp.tan": chain(lambda h: cnp.tan(h * 0.1)),
        "cnp.log1p(abs)": chain(lambda h: cnp.log1p(cnp.absolute(h))),
        "cnp.logaddexp(x, c)": chain(lambda h: cnp.logaddexp(h, c) - 1.0),
        "cnp.cumsum": chain(lambda h: cnp.cumsum(h) * 0.1),
        "cnp.cumprod": chain(lambda h: cnp.cumprod(h * 0.1 + 1.0) * 0.5),
        "cnp.sort": chain(lambda h: cnp.sort(h)),
        "cnp.prod (axis=None)": chain(lambda h: h * cnp.prod(h * 0.01 + 1.0)),
        "cnp.std": chain(lambda h: h * cnp.std(h)),
        "np.exp via __array_ufunc__": chain(lambda h: np.exp(h * 0.01)),
    }
    try:  # the contractions and linear algebra come from another module, when present
        from chainrule import contractions, linalg

        cases["einsum('ij,j->i')"] = chain(
            lambda h: contractions.einsum("ij,j->i", np.ones((16, 16)) / 16, h)
        )
        cases["linalg.solve (4x4)"] = chain(lambda h: linalg.solve(h + 4 * np.eye(4), h), M0)
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
