"""Memory: (1) the extra peak RSS of 10 training steps of the MLP 784-512-256-10 at batch
4096 float32, over the RSS after setup, for chainrule and the hand-written NumPy step;
(2) the RSS that ``import chainrule`` adds over ``import numpy``.

Each figure comes from a fresh process (Linux /proc/self/status; the peak is reset after
setup and one warm-up step through /proc/self/clear_refs; glibc's mmap threshold is fixed so
freed arrays leave the process). Targets (shared/TARGETS.md): <= 67 MiB for (1)
eagerly, <= 36 MiB jitted, <= 30 MiB for (2).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

STEP_SCRIPT = r"""
import gc, sys
sys.path.insert(0, {here!r})
import numpy as np
from bench_mlp_step import make_batch, NumpyMLP, ChainruleRawMLP, ChainruleNNMLP
if {which!r}.startswith("jit"):
    from bench_jit import JitMLP, JitObjectMLP

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
impl = {{"numpy": NumpyMLP, "raw": ChainruleRawMLP, "nn": ChainruleNNMLP,
         "jit": lambda: JitMLP(), "jit-obj": lambda: JitObjectMLP()}}[{which!r}]()
X, y = make_batch(4096)
impl.step(X, y)  # every implementation warms up once (cr.jit traces and compiles here)
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak-RSS counter
base = status("VmRSS:")
for _ in range(10):
    impl.step(X, y)
print(status("VmHWM:") - base)
"""

IMPORT_SCRIPT = r"""
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
import numpy
before = rss()
import chainrule
print(rss() - before)
"""


def run(script: str) -> float:
    # A fixed mmap threshold: glibc otherwise raises it after the warm-up step frees its big
    # arrays, and the measured steps then reuse heap pages that are already resident (an
    # extra peak near 0 for whoever warmed up). With it, every big array is mapped and
    # unmapped as it lives and dies, and the peak is what a step holds at once.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print("extra peak RSS of 10 steps, MLP 784-512-256-10, batch 4096, float32 (MiB)")
    for which, label in [
        ("numpy", "hand-written NumPy"),
        ("raw", "chainrule (raw tensors)"),
        ("nn", "chainrule (nn + optim)"),
        ("jit", "cr.jit(value_and_grad) + SGD"),
        ("jit-obj", "cr.jit(model) + nn + optim"),
    ]:
        runs = sorted(run(STEP_SCRIPT.format(here=str(HERE), which=which)) for _ in range(3))
        target = 36 if which.startswith("jit") else 67
        print(f"  {label:<28}{runs[1]:8.1f} MiB  (median of 3; target for chainrule <= {target})")
    runs = sorted(run(IMPORT_SCRIPT) for _ in range(3))
    print(
        f"RSS added by `import chainrule` over `import numpy`: {runs[1]:.1f} MiB "
        "(median of 3; target <= 30)"
    )


if __name__ == "__main__":
    main()
