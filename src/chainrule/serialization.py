"""``cr.save`` / ``cr.load``: state dicts (nested dicts and lists of arrays, Tensors and
plain values) to and from a ``.npz`` file, without pickle.

Arrays are stored under readable keys (``"0.weight"``, ``"optimizer/state/0/exp_avg"``);
one JSON entry, ``__chainrule__``, records the nesting, the key types and the plain values.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .tensor import Tensor, as_tensor

__all__ = ["SerializationError", "load", "save"]

_MANIFEST = "__chainrule__"
_FORMAT = "chainrule-npz"
_VERSION = 1


class SerializationError(ValueError):
    """A file that cannot be read back as a chainrule checkpoint (names the path).

    Examples
    --------
    >>> import chainrule as cr
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), 'broken.npz')
    >>> with open(path, 'wb') as f:
    ...     _ = f.write(b'garbage')
    ...
    >>> try:
    ...     cr.load(path)
    ... except cr.serialization.SerializationError as e:
    ...     print(type(e).__name__)
    ...
    SerializationError
    """


def _encode(obj: Any, key: str, arrays: dict[str, np.ndarray], where: str) -> Any:
    """The JSON description of ``obj``; arrays go into ``arrays`` under a unique key."""
    if isinstance(obj, (Tensor, np.ndarray)):
        arr = np.asarray(obj.data if isinstance(obj, Tensor) else obj)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"save: {where} has dtype {arr.dtype}, which cannot be saved")
        name = key or "value"
        while name in arrays or name == _MANIFEST:
            name += "_"
        arrays[name] = arr
        return {"array": name, "tensor": isinstance(obj, Tensor)}
    if obj is None or isinstance(obj, (bool, str)):
        return {"value": obj}
    if isinstance(obj, (int, float, np.integer, np.floating)):
        kind = "int" if isinstance(obj, (int, np.integer)) else "float"
        return {"value": int(obj) if kind == "int" else float(obj), "kind": kind}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int, np.integer)):
                raise TypeError(
                    f"save: {where} has a key {k!r} of type {type(k).__name__}; "
                    f"only str and int keys can be saved"
                )
            k_typed = int(k) if isinstance(k, (int, np.integer)) else k
            child = f"{key}/{k}" if key else str(k)
            items.append([k_typed, _encode(v, child, arrays, f"{where}[{k!r}]")])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {
            kind: [
                _encode(v, f"{key}/{i}" if key else str(i), arrays, f"{where}[{i}]")
                for i, v in enumerate(obj)
            ]
        }
    raise TypeError(
        f"save: {where} is a {type(obj).__name__}; only arrays, Tensors, numbers, strings, "
        f"None, and dicts/lists/tuples of them can be saved (call .state_dict() on models "
        f"and optimizers)"
    )


def _decode(node: Any, arrays: Any, path: Path) -> Any:
    if not isinstance(node, dict):
        raise SerializationError(f"load: '{path}' has a malformed structure entry {node!r}")
    if "array" in node:
        arr = arrays[node["array"]]
        return as_tensor(arr) if node.get("tensor") else arr
    if "value" in node:
        value = node["value"]
        return float(value) if node.get("kind") == "float" else value
    if "dict" in node:
        return {k: _decode(v, arrays, path) for k, v in node["dict"]}
    if "list" in node:
        return [_decode(v, arrays, path) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, arrays, path) for v in node["tuple"])
    raise SerializationError(f"load: '{path}' has a malformed structure entry {node!r}")


def save(obj: Any, path: str | os.PathLike) -> None:
    """Save a state dict (or any nesting of dicts/lists of arrays, Tensors and plain
    values) to ``path`` as a ``.npz``, written atomically (a crash never leaves half a
    file behind).

    Examples
    --------
    >>> import os, tempfile, chainrule as cr
    >>> model = cr.nn.Linear(3, 2, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> cr.save(model.state_dict(), path)
    >>> sorted(cr.load(path))
    ['bias', 'weight']
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, "", arrays, "the object")
    manifest = json.dumps({"format": _FORMAT, "version": _VERSION, "tree": tree})
    arrays[_MANIFEST] = np.array(manifest)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"save: folder '{folder}' for '{path}' does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike) -> Any:
    """Load what ``save`` wrote (Tensors come back as Tensors, arrays as arrays). A plain
    ``np.savez`` file loads as a dict of arrays.

    Raises ``FileNotFoundError`` for a missing file and ``SerializationError`` (a
    ``ValueError``) naming the path for a file that is not a readable checkpoint.

    Examples
    --------
    >>> import chainrule as cr
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), 'ckpt.npz')
    >>> cr.save({'w': cr.tensor([1.0, 2.0]), 'step': 3}, path)
    >>> cr.load(path)
    {'w': tensor([1., 2.]), 'step': 3}
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load: no such file: '{path}'")
    if path.is_dir():
        raise SerializationError(f"load: '{path}' is a directory, not a .npz file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            # Read everything now: NpzFile is lazy and errors would surface later.
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise SerializationError(
            f"load: '{path}' is not a readable .npz checkpoint ({type(e).__name__}: {e})"
        ) from None
    if _MANIFEST not in arrays:
        return arrays
    try:
        manifest = json.loads(str(arrays.pop(_MANIFEST)))
        if manifest.get("format") != _FORMAT:
            raise ValueError(f"unknown format {manifest.get('format')!r}")
        if manifest.get("version", 0) > _VERSION:
            raise ValueError(f"written by a newer chainrule (format version {manifest['version']})")
        return _decode(manifest["tree"], arrays, path)
    except SerializationError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise SerializationError(
            f"load: '{path}' has a corrupt chainrule manifest ({type(e).__name__}: {e})"
        ) from None
