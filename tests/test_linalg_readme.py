"""The README's "Linear algebra, einsum and special functions" section: its ```python
blocks run and print what their comments say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "Linear algebra, einsum and special functions"


def _blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(SECTION)}\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {SECTION}' section"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


BLOCKS = _blocks()


def test_the_section_has_an_example():
    assert len(BLOCKS) >= 1


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_block_runs_and_prints_its_comments(code, capsys):
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.splitlines()
    promised = [
        line.split("#", 1)[1].strip()
        for line in code.splitlines()
        if line.startswith("print(") and "#" in line
    ]
    assert printed == promised
