"""Shared by the tests in tests/ and the doctests of src/chainrule: a docstring example that
needs an optional extra is skipped, not failed, where that extra is not installed."""

from __future__ import annotations

import importlib.util

import pytest

#: doctest (module.object) -> the package its example needs
DOCTEST_EXTRAS = {
    "chainrule.tracing.render.render": "matplotlib",
    "chainrule.ir.numba_backend.compile_numba": "numba",
    "chainrule.ir.numba_backend.run_region": "numba",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        needed = DOCTEST_EXTRAS.get(item.name)
        if needed and importlib.util.find_spec(needed) is None:
            item.add_marker(pytest.mark.skip(reason=f"needs {needed} (an optional extra)"))
