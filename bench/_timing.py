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
    fns: dict[str, Callable[[], object]], repeats: int = 7, number: int = 10, pause: float = 0.05
) -> dict[str, float]:
    """Median seconds per call of each function, measured in alternation."""
    for fn in fns.values():  # warm up
        fn()
    gc.collect()
    gc.freeze()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(pause)
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
    gc.unfreeze()
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
