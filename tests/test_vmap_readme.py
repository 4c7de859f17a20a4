"""The README's "Batching with vmap" section runs as written (its ```python blocks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Batching with vmap\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README has no '## Batching with vmap' section"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


BLOCKS = _blocks()


def test_the_section_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_vmap_block_runs(code):
    if "digits" in code:
        pytest.importorskip("sklearn")
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
