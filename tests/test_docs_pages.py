"""The documentation's code runs: every ```python block of every page under docs/, and of the
README's "Seeing the computation" section (the three ways included); the site's navigation
names only pages that exist, and the build's extra is declared."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))


def _blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


BLOCKS = [(p, i, code) for p in PAGES for i, code in enumerate(_blocks(p.read_text("utf-8")))]


def test_the_pages_have_code():
    assert len(PAGES) >= 17 and len(BLOCKS) >= 25
    for page in (
        "tutorial/circuits.md",
        "tutorial/staged-backprop.md",
        "tutorial/matmul.md",
        "tutorial/two-layer.md",
        "tutorial/differentiable-programming.md",
    ):
        assert (DOCS / page).exists()


@pytest.mark.parametrize(
    "page, i, code", BLOCKS, ids=[f"{p.relative_to(DOCS)}:{i}" for p, i, _ in BLOCKS]
)
def test_docs_block_runs(page, i, code, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(page), "exec"), {"__name__": "docs"})


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, title
    return match.group(1)


# an excerpt of generated code (a line "...") is shown, not run
SEEING = [b for b in _blocks(_readme_section("Seeing the computation")) if "\n...\n" not in b]


@pytest.mark.parametrize("code", SEEING, ids=[f"block{i}" for i in range(len(SEEING))])
def test_readme_seeing_block_runs(code, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def test_readme_links_to_the_docs_and_shows_the_pictures():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/index.md" in text and "mkdocs" in text
    for picture in (
        "circuit.png",
        "staged_backprop_vs_autodiff.png",
        "mlp.png",
        "rnn.png",
        "three_ways_h.png",
        "swell.png",
    ):
        assert f"docs/images/{picture}" in text
        assert (DOCS / "images" / picture).exists()
    tests = _readme_section("Tests")
    assert "mkdocs build --strict" in tests and "docs" in re.search(r'"\.\[(.*?)\]"', tests)[1]


def test_the_navigation_names_existing_pages():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in re.findall(r":\s*([\w/.-]+\.md)\s*$", nav, re.M):
        assert (DOCS / page).exists() or page == "changelog.md", page
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r"^docs = \[.*mkdocs-material.*mkdocstrings", pyproject, re.M)
    assert 'license = "MIT"' in pyproject and "setuptools>=77" in pyproject
