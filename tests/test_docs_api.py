"""The public API is documented: every public module declares ``__all__`` (core modules may
lag until the core rewrite lands), every public function and class has a docstring with a
runnable example (``>>>``; pytest runs them as doctests), and every public name is in the
generated API reference. Modules and names are found by walking the package, so what other
work adds is covered without a list to keep."""

from __future__ import annotations

import inspect

import pytest

import chainrule
from chainrule._public import CORE_MODULES, public_modules, public_names, unimportable

MODULES = public_modules()


def _documentable(obj):
    return inspect.isfunction(obj) or inspect.isclass(obj)


def test_the_walk_finds_the_public_modules():
    names = {m.__name__ for m in MODULES}
    for expected in ("chainrule", "chainrule.nn", "chainrule.tracing.three_ways", "chainrule.ops"):
        assert expected in names
    assert not any(part.startswith("_") for n in names for part in n.split(".")[1:])
    assert set(unimportable) <= {n for n in unimportable}  # reported, never silently lost


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_public_module_declares_all(module):
    if module.__name__ in CORE_MODULES and not hasattr(module, "__all__"):
        pytest.skip("core module: __all__ comes with the core rewrite")
    assert hasattr(module, "__all__"), f"{module.__name__} has no __all__"
    for name in module.__all__:
        assert hasattr(module, name), f"{module.__name__}.__all__ names {name!r}, which is missing"


def _public_objects():
    seen = {}
    for module in MODULES:
        for name in public_names(module):
            obj = getattr(module, name, None)
            if _documentable(obj) and id(obj) not in seen:
                seen[id(obj)] = (f"{module.__name__}.{name}", obj)
    return sorted(seen.values(), key=lambda item: item[0])


OBJECTS = _public_objects()


def test_there_are_many_public_names():
    from chainrule.tracing.three_ways import three_ways

    assert len(OBJECTS) > 150
    assert any(obj is three_ways for _, obj in OBJECTS)


@pytest.mark.parametrize("qualname, obj", OBJECTS, ids=[n for n, _ in OBJECTS])
def test_every_public_function_and_class_has_a_runnable_example(qualname, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{qualname} has no docstring"
    assert ">>>" in doc, f"{qualname}'s docstring has no runnable example (>>>)"


def test_every_public_name_is_in_the_api_reference():
    import importlib.util
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("hooks", os.path.join(root, "docs", "hooks.py"))
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    pages = hooks.api_pages()
    for module in MODULES:
        page = pages[f"api/{module.__name__}.md"]
        for name in public_names(module):
            rendered = f"        - {name}\n" in page + "\n"  # a mkdocstrings member
            linked = f"`{module.__name__}.{name}`" in page  # re-exported: a link to its page
            assert rendered or linked, f"{module.__name__}.{name} is not in the API reference"
    assert chainrule.__all__ and all(hasattr(chainrule, n) for n in chainrule.__all__)
