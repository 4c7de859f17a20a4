"""Tracing cost against the number of rebinds of one local name: ``x = x * 1.0001`` in a
loop of n steps, traced with ``cr.trace``; the time per step must stay flat as n grows.

Before the tracer remembered its next free suffix per name, naming the k-th ``x`` tried
``x, x_1, ..., x_{k-1}`` first, so 20,000 steps took about 33 s (quadratic).
"""

from __future__ import annotations

import time

import chainrule as cr


def loop(n: int):
    def f(x):
        for _ in range(n):
            x = x * 1.0001
        return x

    return f


def main() -> None:
    print(f"{'steps':>8}{'trace time':>14}{'per step':>12}")
    first = None
    for n in (2500, 5000, 10000, 20000):
        f = loop(n)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            cr.trace(f, 1.0)
            times.append(time.perf_counter() - t0)
        best = min(times)
        per = best / n
        first = first or per
        print(
            f"{n:>8}{best:>12.2f} s{per * 1e6:>9.1f} us  ({per / first:.2f}x the 2,500-step cost)"
        )


if __name__ == "__main__":
    main()
