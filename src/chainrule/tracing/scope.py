"""Which ``nn.Module`` call made each traced operation: a per-thread stack of module calls,
pushed by ``Module.__call__`` only while a trace is recording (one integer test otherwise).

Tracing reads :func:`current` as each node is recorded and stores it as ``Var.scope``; the
pictures group a layer's operations into one box with it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple

__all__ = ["ScopeFrame", "current", "recording"]

#: Traces recording right now, in any thread. ``Module.__call__`` tests this one integer, so
#: calling a module costs nothing extra when nobody traces.
ACTIVE = 0
_lock = threading.Lock()
_local = threading.local()


class ScopeFrame(NamedTuple):
    """One module call on the stack: its qualified name (``"0"``, ``"encoder.fc"``; ``""``
    for a module called directly by the traced function), its class name, and a number
    unique to the call within the trace (a module called twice gives two frames).

    Examples
    --------
    >>> import chainrule as cr
    >>> net = cr.nn.Sequential(cr.nn.Linear(2, 3, seed=0), cr.nn.ReLU())
    >>> g = cr.trace(net, cr.ones(4, 2, dtype="float32"))
    >>> [(v.op, v.scope[-1].name, v.scope[-1].kind) for v in g.ops]
    [('linear', '0', 'Linear'), ('relu', '1', 'ReLU')]
    """

    name: str
    kind: str
    call: int


class _State:
    def __init__(self) -> None:
        self.depth = 0  # traces recording in this thread
        self.stack: list[tuple[Any, ScopeFrame]] = []
        self.scope: tuple[ScopeFrame, ...] = ()
        self.calls = 0
        self.names: dict[int, dict[int, str]] = {}


def _state() -> _State:
    state = getattr(_local, "state", None)
    if state is None:
        state = _local.state = _State()
    return state


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """While inside, module calls in this thread are put on the scope stack.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.tracing import scope
    >>> class Show(cr.nn.Module):
    ...     def forward(self, x):
    ...         print([f.kind for f in scope.current()])
    ...         return x
    ...
    >>> with scope.recording():
    ...     _ = Show()(cr.tensor(1.0))
    ...
    ['Show']
    """
    global ACTIVE
    state = _state()
    with _lock:
        ACTIVE += 1
    state.depth += 1
    try:
        yield
    finally:
        state.depth -= 1
        if state.depth == 0:
            state.stack.clear()
            state.scope = ()
            state.calls = 0
            state.names.clear()
        with _lock:
            ACTIVE -= 1


def current() -> tuple[ScopeFrame, ...]:
    """The module calls in progress in this thread, outermost first (``()`` for none).

    Examples
    --------
    >>> from chainrule.tracing import scope
    >>> scope.current()  # outside any traced module call
    ()
    """
    state = getattr(_local, "state", None)
    return state.scope if state is not None else ()


def _child_name(state: _State, parent: Any, module: Any) -> str:
    """``module``'s attribute path inside ``parent`` (a direct child first, then deeper)."""
    table = state.names.get(id(parent))
    if table is None:
        table = {}
        named = getattr(parent, "named_modules", None)
        if named is not None:
            for qual, sub in named():
                if qual:
                    table.setdefault(id(sub), qual)
        state.names[id(parent)] = table
    return table.get(id(module), "")


def call(module: Any, args: tuple, kwargs: dict) -> Any:
    """Run ``module.forward(*args, **kwargs)`` with the call pushed on this thread's stack
    (``Module.__call__`` comes here only while some trace is recording)."""
    state = _state()
    if state.depth == 0:  # another thread is tracing, not this one
        return module.forward(*args, **kwargs)
    if state.stack:
        parent, frame = state.stack[-1]
        own = _child_name(state, parent, module)
        name = f"{frame.name}.{own}" if frame.name and own else own or frame.name
    else:
        name = ""
    state.calls += 1
    frame = ScopeFrame(name, type(module).__name__, state.calls)
    previous = state.scope
    state.stack.append((module, frame))
    state.scope = previous + (frame,)
    try:
        return module.forward(*args, **kwargs)
    finally:
        state.stack.pop()
        state.scope = previous
