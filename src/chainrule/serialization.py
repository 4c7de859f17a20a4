"""``cr.save`` / ``cr.load``: state dicts (nested dicts and lists of arrays, Tensors and
plain values) to and from a ``.npz`` file, without pickle.

Arrays are stored under readable keys (``"0.weight"``, ``"optimizer/state/0/exp_avg"``);
one JSON entry, ``__chainrule__``, records the nesting, the key types and the plain values.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .tensor import Tensor, as_tensor

__all__ = ["SerializationError", "load", "save"]

_MANIFEST = "__chainrule__"
_FORMAT = "chainrule-npz"
_VERSION = 1

#: ``load``'s default limit on what an archive may decompress to: at least this many
#: bytes, or this many times the file's size (see ``load``).
DEFAULT_MAX_BYTES = 1 << 30
_MAX_RATIO = 32
_CHUNK = 1 << 24
_O_BINARY = getattr(os, "O_BINARY", 0)

# What zipfile, zlib and NumPy's header parser raise for damaged input (a flipped bit in
# a zip header can select an unknown compression method or the "encrypted" flag).
_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    OverflowError,
    NotImplementedError,
    RuntimeError,  # includes RecursionError
    struct.error,
    zlib.error,
)
try:
    import lzma

    _READ_ERRORS += (lzma.LZMAError,)
except ImportError:  # pragma: no cover - Python built without lzma
    pass


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


def _check_key(k: str, where: str) -> None:
    """Refuse keys that a zip member name cannot carry (they would save but never load)."""
    if "\x00" in k:
        raise ValueError(
            f"save: {where} has a key {k!r} with a NUL byte, which a .npz cannot store"
        )
    try:
        k.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"save: {where} has a key {k!r} that is not valid Unicode") from None


def _encode(obj: Any, key: str, arrays: dict[str, np.ndarray], where: str) -> Any:
    """The JSON description of ``obj``; arrays go into ``arrays`` under a unique key."""
    if isinstance(obj, (Tensor, np.ndarray)):
        arr = np.asarray(obj.data if isinstance(obj, Tensor) else obj)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"save: {where} has dtype {arr.dtype}, which cannot be saved")
        # The array's name inside the .npz: readable, unique, and never ending in ".npy"
        # (np.savez appends one, and NumPy's own lookup would then confuse "a" and
        # "a.npy"); the manifest maps the tree to it.
        name = (key or "value").replace("\\", "_")
        while name in arrays or name == _MANIFEST or name.endswith(".npy"):
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
            if isinstance(k, str):
                _check_key(k, where)
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


def save(obj: Any, path: str | os.PathLike, *, metadata: dict[str, Any] | None = None) -> None:
    """Save a state dict (or any nesting of dicts/lists of arrays, Tensors and plain
    values) to ``path`` as a ``.npz``, written atomically (a crash never leaves half a
    file behind) and with the permissions ``np.save`` would give it (the umask's, or
    those of the file it replaces).

    ``metadata``, a JSON-serializable dict, is stored beside the object in the same file
    (``load_metadata`` reads it back): what produced the weights travels with them.

    Raises ``TypeError`` for a value that cannot be saved and ``ValueError`` for a key
    that a ``.npz`` cannot hold (a NUL byte, invalid Unicode), naming where it is.

    Examples
    --------
    >>> import os, tempfile, chainrule as cr
    >>> model = cr.nn.Linear(3, 2, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> cr.save(model.state_dict(), path, metadata={"sizes": [3, 2]})
    >>> sorted(cr.load(path))
    ['bias', 'weight']
    >>> from chainrule.serialization import load_metadata
    >>> load_metadata(path)
    {'sizes': [3, 2]}
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        tree = _encode(obj, "", arrays, "the object")
    except RecursionError:
        raise ValueError("save: the object is nested too deeply to be saved") from None
    header: dict[str, Any] = {"format": _FORMAT, "version": _VERSION, "tree": tree}
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"save: metadata must be a dict, got {type(metadata).__name__}")
        header["metadata"] = metadata
    try:
        manifest = json.dumps(header)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save: metadata is not JSON-serializable ({e})") from None
    arrays[_MANIFEST] = np.array(manifest)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"save: folder '{folder}' for '{path}' does not exist")
    fd, tmp = _create_temporary(folder, path)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        # Also on KeyboardInterrupt: an interrupted save leaves no .tmp-* file behind.
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _create_temporary(folder: Path, path: Path) -> tuple[int, str]:
    """A new file beside ``path``, created with mode 0o666 so the umask applies (as for
    ``np.save``; ``tempfile.mkstemp`` would make it 0o600), or with the mode of the file
    it is about to replace."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = None
    while True:
        tmp = os.path.join(folder, f".tmp-{secrets.token_hex(6)}.npz")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        except FileExistsError:
            continue
        if mode is not None:
            with contextlib.suppress(OSError):
                os.chmod(tmp, mode)
        return fd, tmp


def _reason(e: BaseException) -> str:
    """An exception as a short single line for an error message."""
    text = " ".join(f"{type(e).__name__}: {e}".split())
    return text if len(text) <= 200 else text[:197] + "..."


def _limit(path: Path, max_bytes: int | None | str) -> int | None:
    if max_bytes is None:
        return None
    if max_bytes == "auto":
        return max(DEFAULT_MAX_BYTES, _MAX_RATIO * path.stat().st_size)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)):
        raise TypeError(f"load: max_bytes must be an int, None or 'auto', got {max_bytes!r}")
    return int(max_bytes)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, path: Path) -> np.ndarray:
    """One ``.npy`` member, with its header checked against the size the archive
    declares before anything is allocated (a header may claim any shape)."""
    fmt = np.lib.format
    with zf.open(info) as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise SerializationError(
                f"load: '{path}': entry {key!r} has unsupported .npy format version {version}"
            )
        if dtype.hasobject:
            raise SerializationError(
                f"load: '{path}': entry {key!r} holds Python objects (pickled data), which "
                f"chainrule never loads"
            )
        nbytes = math.prod(shape) * dtype.itemsize
        stored = info.file_size - f.tell()
        if any(d < 0 for d in shape) or nbytes != stored:
            raise SerializationError(
                f"load: '{path}': entry {key!r} declares shape {shape} of {dtype} "
                f"({nbytes:,} bytes) but holds {stored:,} bytes"
            )
        flat = np.empty(nbytes, dtype=np.uint8)
        done = 0
        while done < nbytes:
            chunk = f.read(min(_CHUNK, nbytes - done))
            if not chunk:
                raise SerializationError(f"load: '{path}': entry {key!r} is truncated")
            flat[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            done += len(chunk)
        if f.read(1):  # also makes zipfile check the CRC of the whole entry
            raise SerializationError(f"load: '{path}': entry {key!r} is longer than declared")
    if dtype.itemsize == 0:
        return np.empty(shape, dtype=dtype)
    return flat.view(dtype).reshape(shape, order="F" if fortran else "C")


def _open_archive(path: Path) -> zipfile.ZipFile:
    if not path.exists():
        raise FileNotFoundError(f"load: no such file: '{path}'")
    if path.is_dir():
        raise SerializationError(f"load: '{path}' is a directory, not a .npz file")
    if not zipfile.is_zipfile(path):
        raise SerializationError(
            f"load: '{path}' is not a chainrule weights file (not a .npz archive)"
        )
    return zipfile.ZipFile(path)


def _read_arrays(path: Path, max_bytes: int | None | str, only: str | None = None) -> dict:
    """The archive's arrays by name (all, or just ``only``), refusing what is too big."""
    try:
        with _open_archive(path) as zf:
            infos = zf.infolist()
            if only is not None:
                infos = [i for i in infos if i.filename == only + ".npy"]
            limit = _limit(path, max_bytes)
            total = sum(i.file_size for i in infos)
            if limit is not None and total > limit:
                raise SerializationError(
                    f"load: '{path}' would decompress to {total:,} bytes, more than the limit "
                    f"of {limit:,} (a zip bomb?); pass max_bytes=None to load it anyway"
                )
            arrays: dict[str, np.ndarray] = {}
            for info in infos:
                # The exact member name: np.savez stores key "a" as "a.npy" and "a.npy" as
                # "a.npy.npy" (NpzFile's lookup would confuse the two).
                name = info.filename
                key = name[: -len(".npy")] if name.endswith(".npy") else name
                if key in arrays:
                    raise SerializationError(f"load: '{path}' holds entry {key!r} twice")
                arrays[key] = _read_member(zf, info, key, path)
            return arrays
    except (SerializationError, FileNotFoundError):
        raise
    except _READ_ERRORS as e:
        raise SerializationError(
            f"load: '{path}' is not a readable chainrule weights file ({_reason(e)})"
        ) from None


def _manifest(arrays: dict[str, np.ndarray], path: Path) -> dict[str, Any]:
    raw = arrays.pop(_MANIFEST)
    try:
        if raw.dtype.kind != "U" or raw.ndim != 0:
            raise ValueError(f"the manifest is a {raw.dtype} array of shape {raw.shape}")
        manifest = json.loads(raw.item())
        if not isinstance(manifest, dict):
            raise ValueError("the manifest is not a JSON object")
        if manifest.get("format") != _FORMAT:
            raise ValueError(f"unknown format {manifest.get('format')!r}")
        version = manifest.get("version", 0)
        if not isinstance(version, int) or version > _VERSION:
            raise ValueError(f"written by a newer chainrule (format version {version!r})")
        if not isinstance(manifest.get("metadata", {}), dict):
            raise ValueError("its metadata is not a JSON object")
        return manifest
    except (ValueError, RecursionError) as e:
        raise SerializationError(
            f"load: '{path}' has a corrupt chainrule manifest ({_reason(e)})"
        ) from None


def load(path: str | os.PathLike, *, max_bytes: int | None | str = "auto") -> Any:
    """Load what ``save`` wrote (Tensors come back as Tensors, arrays as arrays). A plain
    ``np.savez`` file loads as a dict of arrays. Nothing is unpickled.

    ``max_bytes`` bounds what the archive may decompress to, checked before anything is
    read: ``"auto"`` (default) allows the larger of 1 GiB and 32 times the file's size
    (``save`` stores arrays uncompressed, so a real checkpoint is about its file's size
    and only a zip bomb is refused), an int sets the limit, ``None`` removes it.

    Raises ``FileNotFoundError`` for a missing file and ``SerializationError`` (a
    ``ValueError``) naming the path for anything that is not a readable checkpoint:
    not a ``.npz``, corrupt, truncated, over the limit, or a malformed manifest.

    Examples
    --------
    >>> import os, tempfile, numpy as np, chainrule as cr
    >>> path = os.path.join(tempfile.mkdtemp(), "state.npz")
    >>> cr.save({"w": np.arange(3.0), "step": 2}, path)
    >>> cr.load(path)
    {'w': array([0., 1., 2.]), 'step': 2}
    """
    path = Path(path)
    arrays = _read_arrays(path, max_bytes)
    if _MANIFEST not in arrays:
        return arrays
    manifest = _manifest(arrays, path)
    try:
        return _decode(manifest["tree"], arrays, path)
    except SerializationError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise SerializationError(
            f"load: '{path}' has a corrupt chainrule manifest ({_reason(e)})"
        ) from None


def load_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``metadata`` dict that ``save`` stored in ``path`` (``{}`` if none), read
    without loading the arrays. Raises as ``load`` does.

    >>> import os, tempfile, chainrule as cr
    >>> from chainrule.serialization import load_metadata
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> cr.save({}, path)
    >>> load_metadata(path)
    {}
    """
    path = Path(path)
    arrays = _read_arrays(path, "auto", only=_MANIFEST)
    if _MANIFEST not in arrays:
        return {}
    return dict(_manifest(arrays, path).get("metadata", {}))
