"""MkDocs hooks: the API reference generated from the package at build time (one page per
public module, found by walking it), the pictures drawn afresh by ``docs/pictures.py``, and
the changelog. Nothing here writes into the source tree.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import os
import types
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _pictures() -> Any:
    spec = importlib.util.spec_from_file_location("pictures", os.path.join(HERE, "pictures.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _summary(module: types.ModuleType) -> str:
    doc = inspect.getdoc(module) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def _documented_here(module: types.ModuleType, name: str) -> bool:
    obj = getattr(module, name)
    if isinstance(obj, types.ModuleType):
        return False
    if inspect.isfunction(obj) or inspect.isclass(obj):
        return getattr(obj, "__module__", None) == module.__name__
    return True  # a constant: documented where it is listed


def api_pages() -> dict[str, str]:
    """Markdown of every API page (path -> text): a module's own names rendered by
    mkdocstrings, the names it re-exports as links to where they are documented."""
    from chainrule._public import public_modules, public_names

    pages: dict[str, str] = {}
    for module in public_modules():
        name = module.__name__
        names = public_names(module)
        own = [n for n in names if _documented_here(module, n)]
        elsewhere = [n for n in names if n not in own]
        lines = [f"# `{name}`", "", _summary(module), ""]
        if elsewhere:
            lines += ["| name | documented at |", "|---|---|"]
            for n in elsewhere:
                obj = getattr(module, n)
                if isinstance(obj, types.ModuleType) and obj.__name__ == "numpy":
                    target = "[`numpy`](https://numpy.org/doc/stable/reference/)"
                elif isinstance(obj, types.ModuleType):
                    target = f"`{obj.__name__}`"
                    if obj.__name__.split(".")[0] == "chainrule":
                        target = f"[{target}]({obj.__name__}.md)"
                else:
                    where = f"{obj.__module__}.{obj.__qualname__}"
                    target = f"`{where}`"
                    if where.split(".")[0] == "chainrule":  # (NumPy's names have no page here)
                        target = f"[{target}][{where}]"
                lines.append(f"| `{name}.{n}` | {target} |")
            lines.append("")
        if own:
            lines += [f"::: {name}", "    options:", "      members:"]
            lines += [f"        - {n}" for n in own]
            lines.append("")
        pages[f"api/{name}.md"] = "\n".join(lines)
    return pages


def _nav(pages: dict[str, str]) -> list[Any]:
    """API pages grouped by package: chainrule, chainrule.nn, chainrule.tracing, ..."""
    groups: dict[str, list[Any]] = {}
    for path in sorted(pages):
        module = path[len("api/") : -len(".md")]
        parts = module.split(".")
        group = ".".join(parts[:2]) if len(parts) > 1 else parts[0]
        groups.setdefault(group, []).append({module: path})
    nav: list[Any] = []
    for group, entries in groups.items():
        nav.append(entries[0] if len(entries) == 1 else {group: entries})
    return nav


_API: dict[str, str] = {}


def numpy_reference() -> str:
    """The chainrule.numpy reference page, generated from the package, its dispatch table and
    the test table (tests/ops_table.py), so the page says exactly what is supported and
    tested."""
    from chainrule import rules_numpy
    from chainrule.numpy import reference
    from chainrule.primitives import REGISTRY

    import sys

    name = "_docs_ops_table"  # dataclasses look their module up in sys.modules
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tests", "ops_table.py"))
    table = importlib.util.module_from_spec(spec)
    sys.modules[name] = table
    try:
        spec.loader.exec_module(table)
    finally:
        del sys.modules[name]
    tested: dict[str, dict[str, Any]] = {}
    for row in table.NUMPY_ROWS:
        if not row.label.startswith("cnp."):
            continue
        name = row.label.split("-")[0][len("cnp.") :]
        info = tested.setdefault(name, {"rows": 0, "complex": False})
        info["rows"] += 1
        info["complex"] = info["complex"] or row.complex
    added = [
        p
        for p in REGISTRY.values()
        if getattr(rules_numpy, p.name, None) is p
    ]
    return reference.markdown(tested, added)


def on_config(config: Any) -> Any:
    _API.clear()
    _API.update(api_pages())
    nav = config["nav"] or []
    nav.append({"API reference": _nav(_API)})
    config["nav"] = nav
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    def put(path: str, content: str | bytes) -> None:
        old = files.get_file_from_path(path)
        if old is not None:
            files.remove(old)
        files.append(File.generated(config, path, content=content))

    for path, text in _API.items():
        put(path, text)
    put("numpy-reference.md", numpy_reference())
    with open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as f:
        put("changelog.md", f.read())
    pictures = _pictures()
    for name, make in {**pictures.PICTURES, **pictures.DOCS_PICTURES}.items():
        buffer = io.BytesIO()
        make().savefig(buffer, format="png", dpi=110)
        put(f"images/{name}", buffer.getvalue())
    return files
