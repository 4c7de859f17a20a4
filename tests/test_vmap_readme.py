"""The README's "Batching with vmap" section and the vmap how-to run as written (their
```python blocks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
HOWTO = ROOT / "docs" / "howto" / "vmap.md"


def _readme_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Batching with vmap\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README has no '## Batching with vmap' section"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


def _howto_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", HOWTO.read_text(encoding="utf-8"), re.S)


BLOCKS = [("readme", i, b) for i, b in enumerate(_readme_blocks())]
BLOCKS += [("howto", i, b) for i, b in enumerate(_howto_blocks())]


def test_the_sections_have_examples():
    assert sum(1 for where, _, _ in BLOCKS if where == "readme") >= 3
    assert sum(1 for where, _, _ in BLOCKS if where == "howto") >= 4


@pytest.mark.parametrize("where,i,code", BLOCKS, ids=[f"{w}{i}" for w, i, _ in BLOCKS])
def test_vmap_block_runs(where, i, code):
    if "digits" in code:
        pytest.importorskip("sklearn")
    exec(compile(code, f"{where} block {i}", "exec"), {"__name__": "docs"})
