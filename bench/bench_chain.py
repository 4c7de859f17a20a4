"""Per-operation overhead: a chain of 1,000 elementwise ops (mul, add, tanh) on a
16-element float64 vector, forward and backward, against hand-written NumPy.

Target (shared/TARGETS.md): at most 3.0 us per op.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from _timing import interleaved, table

N_OPS = 1000
rng = np.random.default_rng(0)
x0 = rng.standard_normal(16)
c = 1.0 + 0.01 * rng.standard_normal(16)  # multiplier
d = 0.01 * rng.standard_normal(16)  # shift


def numpy_chain() -> np.ndarray:
    """The same chain written by hand: forward keeps what backward needs."""
    h = x0
    saved = []
    for i in range(N_OPS):
        k = i % 3
        if k == 0:
            h = h * c
            saved.append(None)
        elif k == 1:
            h = h + d
            saved.append(None)
        else:
            h = np.tanh(h)
            saved.append(h)
    g = np.ones(16)
    for i in range(N_OPS - 1, -1, -1):
        k = i % 3
        if k == 0:
            g = g * c
        elif k == 2:
            y = saved[i]
            g = g * (1 - y * y)
    return g


def chainrule_chain() -> np.ndarray:
    x = cr.tensor(x0, requires_grad=True)
    h = x
    for i in range(N_OPS):
        k = i % 3
        if k == 0:
            h = h * c
        elif k == 1:
            h = h + d
        else:
            h = h.tanh()
    h.backward(np.ones(16))
    return x.grad.numpy()


def torch_chain():  # pragma: no cover - optional peer
    import torch

    x = torch.tensor(x0, requires_grad=True)
    ct, dt = torch.tensor(c), torch.tensor(d)
    h = x
    for i in range(N_OPS):
        k = i % 3
        if k == 0:
            h = h * ct
        elif k == 1:
            h = h + dt
        else:
            h = h.tanh()
    h.backward(torch.ones(16, dtype=torch.float64))
    return x.grad


def main() -> None:
    np.testing.assert_allclose(chainrule_chain(), numpy_chain(), rtol=1e-12)
    fns = {"hand-written NumPy": numpy_chain, "chainrule": chainrule_chain}
    try:
        import torch  # noqa: F401

        fns["PyTorch (eager)"] = torch_chain
    except ImportError:
        pass
    times = interleaved(fns, repeats=9, number=5)
    rows = [(name, t / N_OPS, "us") for name, t in times.items()]
    print(
        table(
            f"chain of {N_OPS} elementwise ops on 16 float64, forward + backward, per op",
            rows,
            times["hand-written NumPy"] / N_OPS,
        )
    )
    per_op = times["chainrule"] / N_OPS * 1e6
    print(f"chainrule: {per_op:.2f} us/op (target <= 3.0 us/op)")


if __name__ == "__main__":
    main()
