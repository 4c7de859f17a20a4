"""The README's code runs: every ```python block of its "A tour of the API" and
"Training" sections."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {section}' section"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


TOUR = _blocks("A tour of the API")
TRAINING = _blocks("Training")


def test_the_tour_has_examples():
    assert len(TOUR) >= 6


@pytest.mark.parametrize("code", TOUR, ids=[f"block{i}" for i in range(len(TOUR))])
def test_tour_block_runs(code, capsys):
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


@pytest.mark.parametrize("code", TRAINING, ids=[f"block{i}" for i in range(len(TRAINING))])
def test_training_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks may write files
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def test_the_compiled_step_shown_in_training_is_what_codegen_writes():
    # The ```text block under "Compiled training steps" is the generated step of the
    # digits-sized network, statement for statement.
    import numpy as np

    import chainrule as cr

    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Compiled training steps") :]
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1).splitlines()
    nn = cr.nn
    model = nn.Sequential(nn.Linear(64, 128, seed=0), nn.ReLU(), nn.Linear(128, 10, seed=1))
    step = nn.CompiledLoss(model)
    X = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    step(X, np.arange(64) % 10)
    source = step.source(X.shape)
    body = source[source.index("def flat(") :].splitlines()[1:-1]
    generated = [line.strip() for line in body if not line.strip().startswith("#")]
    assert [line.strip() for line in shown] == generated


JIT = _blocks("Compiling with `cr.jit`")


@pytest.mark.parametrize("code", JIT, ids=[f"block{i}" for i in range(len(JIT))])
def test_jit_block_runs(code, capsys):
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def test_the_jit_source_shown_is_what_jit_writes(capsys):
    # the ```text block of "Compiling with cr.jit" is the function the first block prints
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Compiling with `cr.jit`") :]
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1).strip()
    assert len(JIT) >= 2
    exec(compile(JIT[0], "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    assert shown in printed
