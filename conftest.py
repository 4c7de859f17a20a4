"""Shared by the tests in tests/ and the doctests of src/chainrule: a docstring example that
needs an optional extra is skipped, not failed, where that extra is not installed."""

from __future__ import annotations

import importlib.util

import pytest

#: doctest (module.object, or a module's prefix ending in ".") -> the package it needs
DOCTEST_EXTRAS = {
    "chainrule.tracing.render.": "matplotlib",
    "chainrule._plots.": "matplotlib",
    "chainrule.attacks_cli.attack_figure": "matplotlib",
    "chainrule.attacks_cli.visualize_figure": "matplotlib",
    "chainrule.train_cli.boundary_figure": "matplotlib",
    "chainrule.train_cli.curves_figure": "matplotlib",
    "chainrule.ir.numba_backend.compile_numba": "numba",
    "chainrule.ir.numba_backend.run_region": "numba",
}


def _needed(name: str) -> str | None:
    for key, package in DOCTEST_EXTRAS.items():
        if name == key or (key.endswith(".") and name.startswith(key)):
            return package
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        needed = _needed(item.name)
        if needed and importlib.util.find_spec(needed) is None:
            item.add_marker(pytest.mark.skip(reason=f"needs {needed} (an optional extra)"))
