"""Per-thread state: grad mode, anomaly detection, node observers and transform depth.

Everything that differs per thread lives in one thread-local context. The hot paths test a
single process-wide flag, ``tensor._fast``, which is true while every thread is in the default
state (recording on, no anomaly checks, nobody observing): then no thread-local lookup is made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Context(threading.local):
    """The state of the current thread (a fresh thread starts with the defaults)."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        #: Callbacks told about every primitive application (tracing, see ``observe_nodes``).
        self.observers: list[Callable[..., Any]] = []
        #: How many function transforms are evaluating their function right now.
        self.depth = 0
        self.nondefault = False

    def is_default(self) -> bool:
        return self.grad_enabled and not self.anomaly and not self.observers


ctx = Context()
_lock = threading.Lock()
#: Threads whose context is not in the default state.
_nondefault_threads = 0
#: Called with the new value of "all threads are in the default state" when it changes.
_listeners: list[Callable[[bool], None]] = []


def on_change(listener: Callable[[bool], None]) -> None:
    """Register ``listener(all_default)``; it is called at once with the current value."""
    _listeners.append(listener)
    listener(_nondefault_threads == 0)


def refresh() -> None:
    """Recount after a change to the current thread's context (call after every change)."""
    global _nondefault_threads
    c = ctx
    nondefault = not c.is_default()
    if nondefault == c.nondefault:
        return
    with _lock:  # listeners are told inside the lock, so their flag never goes stale
        c.nondefault = nondefault
        _nondefault_threads += 1 if nondefault else -1
        all_default = _nondefault_threads == 0
        for listener in _listeners:
            listener(all_default)
