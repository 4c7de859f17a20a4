"""In-place changes versus the values a graph saved for backward.

Every node is numbered by one clock when it is made. Changing a Tensor's memory in place
(an in-place operator, ``t.data *= 2``, an optimizer step) stamps the array that owns that
memory with the clock too: a node numbered before the stamp saved the old values, and its
backward raises, naming the operation, the change and the tensor, instead of silently
using the new values (PyTorch's version counters, kept per array). Arrays a user can write
into behind our back (adopted by ``as_tensor`` without a copy, or handed out by
``Tensor.numpy()``) get a sampled fingerprint when a node saves them, checked at backward.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

import numpy as np

from .backend import root_of

__all__ = [
    "adopt",
    "check",
    "check_prints",
    "clock",
    "mark",
    "mark_all",
    "note_saved",
    "restamp",
    "stamps_of",
    "version_of",
]

#: The clock: node numbers and mutation stamps come from it (a topological order).
clock = itertools.count().__next__

#: id(owning array) -> Stamp, for arrays changed in place (entries go with the array).
MUTATED: dict[int, Stamp] = {}
#: The latest stamp given: a node made after it cannot have saved a stale value.
LAST = [-1]
#: id(array) -> weakref: arrays whose memory a user holds (see the module docstring).
ADOPTED: dict[int, Any] = {}


class Stamp:
    __slots__ = ("ref", "time", "op", "_what", "version")

    def __init__(self, ref: Any, time: int, op: str, what: Any, version: int) -> None:
        self.ref = ref
        self.time = time
        self.op = op
        self._what = what  # a description, or the shape of a parameter (see mark)
        self.version = version

    @property
    def what(self) -> str:
        what = self._what
        return what if isinstance(what, str) else f"a parameter of shape {what}"

    @what.setter
    def what(self, value: Any) -> None:
        self._what = value


def _forget(key: int, table: dict) -> Any:
    return lambda _ref: table.pop(key, None)


def mark(array: Any, op: str, what: Any) -> None:
    """Record that ``array``'s memory was changed in place by ``op`` (``what`` describes
    the tensor, for the error message; a shape tuple stands for "a parameter of shape
    ...", formatted only if an error needs it: an optimizer stamps every parameter at
    every step).

    >>> a = np.zeros(2)
    >>> mark(a, "example", "a tensor of shape (2,)")
    >>> version_of(a)
    1
    >>> mark(a, "optimizer step", a.shape)
    >>> version_of(a), MUTATED[id(a)].what
    (2, 'a parameter of shape (2,)')
    """
    if not isinstance(array, np.ndarray):
        return
    now = clock()
    LAST[0] = now
    _stamp(array, now, op, what)


def mark_all(arrays: Any, op: str) -> None:
    """``mark`` each of ``arrays`` (NumPy arrays; each described by its shape, as a
    parameter), at one time: an optimizer's update of a group, stamped once it is done.

    >>> a, b = np.zeros(2), np.zeros(3)
    >>> mark_all([a, b], "optimizer step")
    >>> version_of(a), version_of(b), MUTATED[id(a)].time == MUTATED[id(b)].time
    (1, 1, True)
    """
    now = clock()
    LAST[0] = now
    for array in arrays:
        _stamp(array, now, op, array.shape)


def _stamp(array: np.ndarray, now: int, op: str, what: Any) -> None:
    root = array if array.base is None else root_of(array)
    key = id(root)
    old = MUTATED.get(key)
    if old is not None and old.ref() is root:  # (an optimizer stamps its weights each step)
        old.time = now
        old.op = op
        old.what = what
        old.version += 1
        return
    MUTATED[key] = Stamp(weakref.ref(root, _forget(key, MUTATED)), now, op, what, 1)


def stamps_of(arrays: Any) -> list[Stamp]:
    """The stamps of arrays ``mark`` stamped (one per owning array; each
    stays that array's stamp while it lives): a step that changes the same arrays at
    every call restamps them with ``restamp``, without looking them up again.

    >>> a = np.zeros(2)
    >>> mark(a, "example", a.shape)
    >>> stamps_of([a])[0] is MUTATED[id(a)]
    True
    """
    return [MUTATED[id(a if a.base is None else root_of(a))] for a in arrays]


def restamp(stamps: Any, op: str, whats: Any) -> None:
    """``mark`` again, at one time, of the arrays whose ``stamps_of`` these are.

    >>> a = np.zeros(2)
    >>> mark(a, "example", a.shape)
    >>> restamp(stamps_of([a]), "optimizer step", [a.shape])
    >>> version_of(a), MUTATED[id(a)].op
    (2, 'optimizer step')
    """
    now = clock()
    LAST[0] = now
    for stamp, what in zip(stamps, whats):
        stamp.time = now
        stamp.op = op
        stamp._what = what
        stamp.version += 1


def version_of(array: Any) -> int:
    """How many in-place changes ``array``'s memory has seen (PyTorch's ``_version``).

    >>> import chainrule as cr
    >>> t = cr.tensor([1.0, 2.0])
    >>> t.mul_(2)._version
    1
    """
    if not isinstance(array, np.ndarray):
        return 0
    root = root_of(array)
    entry = MUTATED.get(id(root))
    return entry.version if entry is not None and entry.ref() is root else 0


def _stale(value: Any, seq: int) -> Stamp | None:
    if type(value) is not np.ndarray:  # NumPy scalars and Python numbers are immutable
        return None
    root = root_of(value)
    entry = MUTATED.get(id(root))
    if entry is not None and entry.time > seq and entry.ref() is root:
        return entry
    return None


def check(node: Any) -> None:
    """Raise if a value ``node`` saved for backward was changed in place after it.

    >>> import chainrule as cr
    >>> c = cr.tensor([1.0, 2.0])
    >>> loss = cr.tensor([3.0, 4.0], requires_grad=True) * c
    >>> _ = c.mul_(2)
    >>> check(loss.grad_fn)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    RuntimeError: backward of 'mul': a value it saved ... modified in place by 'mul_' ...
    """
    values = list(node.inputs or ())
    values.append(node.out)
    for i, value in enumerate(values):
        entry = _stale(value, node.seq)
        if entry is not None:
            which = "its output" if i == len(values) - 1 else f"input {i}"
            raise RuntimeError(
                f"backward of '{node.prim.name}': a value it saved for backward ({which}, "
                f"shape {np.shape(value)}) was modified in place by '{entry.op}' on "
                f"{entry.what} after it was saved (the tensor is at version {entry.version}; "
                f"the node saw version {entry.version - 1}). Do the in-place change after "
                f"backward, or on a copy (t.clone())."
            )


def check_prints(node: Any, prints: list) -> None:
    """Raise if an adopted array ``node`` saved was written into after it saved it.

    >>> import chainrule as cr
    >>> a = np.array([1.0, 2.0])
    >>> y = cr.tensor([1.0, 1.0], requires_grad=True) * cr.as_tensor(a)
    >>> a[0] = 9.0
    >>> check_prints(y.grad_fn, y.grad_fn.extra["prints"])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    RuntimeError: backward of 'mul': input 1 (shape (2,)) was modified in place ...
    """
    if prints:
        for i, (array, sample, where) in prints:
            now = array.flat[where]
            if not (now == sample).all() and not np.array_equal(now, sample, equal_nan=True):
                which = f"input {i}" if type(i) is int else f"the saved value {i}"
                raise RuntimeError(
                    f"backward of '{node.prim.name}': {which} (shape {array.shape}) was "
                    f"modified in place after the node saved it: its memory is shared with "
                    f"an ndarray (from as_tensor or Tensor.numpy()) that was written into. "
                    f"Copy the array (cr.tensor copies) or write after backward."
                )


def adopt(array: Any) -> None:
    """Note that a user holds ``array``'s memory (see ``note_saved``).

    >>> a = np.zeros(3)
    >>> adopt(a)
    >>> id(a) in ADOPTED
    True
    """
    if type(array) is not np.ndarray or not array.flags.writeable:
        return
    key = id(array)
    if key not in ADOPTED:
        ADOPTED[key] = weakref.ref(array, _forget(key, ADOPTED))


_WHERE: dict[int, np.ndarray] = {}


def _where(size: int) -> np.ndarray:
    """16 positions spread over an array of ``size`` elements (the first and the last
    included): the sample a fingerprint keeps."""
    where = _WHERE.get(size)
    if where is None:
        if len(_WHERE) > 256:
            _WHERE.clear()
        where = np.arange(size) if size <= 16 else np.linspace(0, size - 1, 16).astype(np.intp)
        _WHERE[size] = where
    return where


def note_saved(node: Any, values: Any = None, names: Any = None) -> None:
    """Fingerprint the adopted arrays ``node`` saved (called only while any exist): its
    inputs, or ``values`` (what a compiled backward reads, called ``names`` in messages).
    A view of an adopted array counts as adopted: writing into the array changes it.

    >>> import chainrule as cr
    >>> y = cr.tensor([1.0, 1.0], requires_grad=True) * cr.as_tensor(np.array([1.0, 2.0]))
    >>> [i for i, _ in y.grad_fn.extra["prints"]]  # note_saved ran as the node was made
    [1]
    """
    prints = None
    for i, value in enumerate(node.inputs or () if values is None else values):
        if type(value) is not np.ndarray or not value.size:
            continue
        if id(value) not in ADOPTED:
            base = value.base
            if base is None or id(base) not in ADOPTED:
                continue
        where = _where(value.size)
        if prints is None:
            prints = []
        prints.append((i if names is None else names[i], (value, value.flat[where], where)))
    if prints:
        if node.extra is None:
            node.extra = {}
        node.extra["prints"] = prints
