"""The README's "Differentiable programming" examples run as written (from a folder where
``chainrule train`` has saved ``runs/digits/model.npz``)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from attacks_support import default_digits_model

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Differentiable programming\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README has no '## Differentiable programming' section"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


BLOCKS = _blocks()


def test_the_section_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_block_runs(code, tmp_path, tmp_path_factory, monkeypatch):
    if "digits" in code:  # the example's model and data: the digits (scikit-learn)
        pytest.importorskip("sklearn")
        trained = default_digits_model(tmp_path_factory.getbasetemp())
        (tmp_path / "runs" / "digits").mkdir(parents=True)
        shutil.copy(trained / "model.npz", tmp_path / "runs" / "digits" / "model.npz")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
