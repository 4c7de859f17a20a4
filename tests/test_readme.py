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
