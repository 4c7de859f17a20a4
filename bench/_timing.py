"""Shared timing helpers for the benchmarks: interleaved runs, medians, quiet BLAS.

The machine is noisy and shared, so implementations are timed side by side in one run,
alternating A B A B, with a short sleep between blocks and medians reported.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable


def interleaved(
    fns: dict[str, Callable[[], object]],
    repeats: int = 7,
    number: int = 10,
    pause: float = 0.05,
    cpu: dict[str, float] | None = None,
) -> dict[str, float]:
    """Median seconds per call of each function, measured in alternation.

    ``cpu``, when given a dict, receives the median CPU seconds per call of each (this
    process's time, ``time.process_time``): on a loaded machine a block that outlasts the
    scheduler's slice is preempted by other tenants and its wall time swings, its CPU time
    does not."""
    for fn in fns.values():  # warm up
        fn()
    gc.collect()
    gc.freeze()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    cpu_samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(pause)
            c0 = time.process_time()
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
            cpu_samples[name].append((time.process_time() - c0) / number)
    gc.unfreeze()
    if cpu is not None:
        cpu.update({name: statistics.median(s) for name, s in cpu_samples.items()})
    return {name: statistics.median(s) for name, s in samples.items()}


def table(title: str, rows: list[tuple[str, float, str]], baseline: float) -> str:
    """Format rows (name, seconds, unit note) with the ratio to ``baseline``."""
    lines = [title, f"{'implementation':<34}{'time':>14}{'ratio':>9}"]
    for name, seconds, unit in rows:
        lines.append(f"{name:<34}{_fmt(seconds, unit):>14}{seconds / baseline:>8.2f}x")
    return "\n".join(lines)


def _fmt(seconds: float, unit: str) -> str:
    if unit == "us":
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e3:.3f} ms"
