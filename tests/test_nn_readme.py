"""The README's "Layers" section: its ```python blocks run and print what they say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Layers\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README has no '## Layers' section"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


BLOCKS = _blocks()


def test_the_layers_section_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_layers_block_runs_and_prints_its_comments(code, capsys):
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.splitlines()
    promised = [
        line.split("#", 1)[1].strip()
        for line in code.splitlines()
        if line.startswith("print(") and "#" in line
    ]
    assert printed == promised
