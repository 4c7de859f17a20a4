"""Which modules and names are chainrule's public API, found by walking the package (used by
the documentation build, which generates the API reference from it, and by the tests).

A public module is one whose dotted name has no part starting with ``_``; its public names are
its ``__all__``. Core modules that have no ``__all__`` yet count the names the package itself
exports from them (``chainrule.__all__``), so new names are covered without a list to keep.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType
from typing import Any

__all__ = ["CORE_MODULES", "home", "public_modules", "public_names", "unimportable"]

#: The modules the lead's core rewrite owns; they may lack ``__all__`` until it lands.
CORE_MODULES = frozenset(
    {
        "chainrule.engine",
        "chainrule.function",
        "chainrule.ops",
        "chainrule.primitives",
        "chainrule.rules",
        "chainrule.state",
        "chainrule.tensor",
        "chainrule.transforms",
        "chainrule.tracing.codegen",
    }
)

#: module name -> why it could not be imported (a missing optional extra), filled by walking
unimportable: dict[str, str] = {}


def public_modules() -> list[ModuleType]:
    """``chainrule`` and every public submodule that imports (optional extras permitting).

    Examples
    --------
    >>> [m.__name__ for m in public_modules()][:1]
    ['chainrule']
    """
    import chainrule

    found = [chainrule]
    for info in pkgutil.walk_packages(chainrule.__path__, "chainrule."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        try:
            found.append(importlib.import_module(info.name))
        except ImportError as e:  # a module that needs an extra which is not installed
            unimportable[info.name] = str(e)
    return found


def home(obj: Any) -> str | None:
    """The module a function or class was defined in."""
    return getattr(obj, "__module__", None)


def public_names(module: ModuleType) -> list[str]:
    """The public names of ``module``: its ``__all__``, or, for a core module without one,
    the names ``chainrule`` exports from it.

    Examples
    --------
    >>> import chainrule.nn.functional as F
    >>> "cross_entropy" in public_names(F)
    True
    """
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    import chainrule

    exported = []
    for name in chainrule.__all__:
        obj = getattr(chainrule, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and home(obj) == module.__name__:
            exported.append(name)
    return exported
