"""Reader and writer for the IDX format of the MNIST files (``train-images-idx3-ubyte``,
optionally gzipped), with errors that name the file and what is wrong with it.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = ["IDXError", "load_mnist", "read_idx", "write_idx"]

# Type byte -> big-endian dtype, from the format's description (yann.lecun.com/exdb/mnist).
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_TYPE_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_TYPES.items()}


class IDXError(ValueError):
    """A file that is not a well-formed IDX file (the message names the path).

    Examples
    --------
    >>> import chainrule as cr
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), 'bad.idx')
    >>> with open(path, 'wb') as f:
    ...     _ = f.write(b'not an idx file')
    ...
    >>> try:
    ...     cr.data.read_idx(path)
    ... except cr.data.IDXError as e:
    ...     print(type(e).__name__)
    ...
    IDXError
    """


_GZIP_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError
_CHUNK = 1 << 24


def _open(path: Path) -> tuple[BinaryIO, bool]:
    """The opened file and whether it is gzipped (then it is decompressed as it is read)."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"read_idx: no such file: '{path}'") from None
    except IsADirectoryError:
        raise IDXError(f"read_idx: '{path}' is a directory, not an IDX file") from None
    except OSError as e:
        raise IDXError(f"read_idx: cannot read '{path}': {e.strerror}") from None
    gz = f.read(2) == b"\x1f\x8b"  # gzip magic: the files are usually distributed as .gz
    f.seek(0)
    return f, gz


def _read_up_to(f: BinaryIO, n: int) -> bytearray:
    """At most ``n`` bytes, fewer only at the end of the stream; read in chunks, so a
    header that declares more data than there is never allocates what it declares."""
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzipped) into an ndarray of its shape and native dtype.

    The header is read first and the data only as far as it declares, so a gzipped file
    is never decompressed beyond what its header promises.

    Raises ``FileNotFoundError`` if it is missing and ``IDXError`` (a ``ValueError``)
    naming the path for a wrong magic number, an unknown type byte, a corrupt gzip
    stream, or a file that is shorter or longer than its header says.

    Examples
    --------
    >>> import numpy as np, tempfile, os, chainrule as cr
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> cr.data.write_idx(path, np.array([5, 0, 4], dtype=np.uint8))
    >>> cr.data.read_idx(path)
    array([5, 0, 4], dtype=uint8)
    """
    path = Path(path)
    f, gz = _open(path)
    try:
        with f:
            if not gz:
                return _read_stream(f, os.fstat(f.fileno()).st_size, path)
            with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                return _read_stream(stream, None, path)  # type: ignore[arg-type]
    except _GZIP_ERRORS as e:
        if gz:
            raise IDXError(f"read_idx: '{path}' is a corrupt gzip file ({e})") from None
        raise IDXError(f"read_idx: cannot read '{path}': {e}") from None


def _read_stream(f: BinaryIO, size: int | None, path: Path) -> np.ndarray:
    raw = f.read(4)
    if len(raw) < 4:
        raise IDXError(
            f"read_idx: '{path}' is truncated: {len(raw)} bytes, shorter than the 4-byte IDX header"
        )
    if raw[0] != 0 or raw[1] != 0:
        raise IDXError(
            f"read_idx: '{path}' is not an IDX file: bad magic number 0x{raw[:4].hex()} "
            f"(an IDX file starts with two zero bytes, a type byte and the number of "
            f"dimensions, e.g. 0x00000803 for images)"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise IDXError(
            f"read_idx: '{path}' has unknown IDX type byte 0x{code:02x} (magic number "
            f"0x{raw[:4].hex()}); expected one of " + ", ".join(f"0x{c:02x}" for c in _IDX_TYPES)
        )
    header = 4 + 4 * ndim
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise IDXError(
            f"read_idx: '{path}' is truncated: the header declares {ndim} dimensions "
            f"({header} header bytes) but the file has only {4 + len(dims)} bytes"
        )
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = _IDX_TYPES[code]
    # Python ints: a product of 255 dimensions overflows int64 (np.prod would wrap).
    expected = math.prod(shape) * dtype.itemsize
    if size is not None:  # a plain file: compare sizes before reading anything
        found = size - header
        body = bytearray(expected) if found == expected else None
        if body is not None:
            found = f.readinto(body)
        extra = False
    else:
        body = _read_up_to(f, expected)
        found = len(body)
        extra = found == expected and f.read(1) != b""
    if found != expected or extra:
        what = "truncated" if found < expected else "longer than its header says"
        detail = f"found {found}" if not extra else "found more"
        raise IDXError(
            f"read_idx: '{path}' is {what}: shape {shape} of {dtype.newbyteorder('=')} "
            f"needs {expected} data bytes, {detail}"
        )
    try:
        data = np.frombuffer(body, dtype=dtype).reshape(shape)
    except ValueError as e:
        raise IDXError(f"read_idx: '{path}' declares {ndim} dimensions: {e}") from None
    return data.astype(dtype.newbyteorder("="), copy=False)


def write_idx(path: str | os.PathLike, array: Any) -> None:
    """Write ``array`` as an IDX file (gzipped when the name ends in ``.gz``).

    Supported dtypes: uint8, int8, int16, int32, float32, float64.

    Examples
    --------
    >>> import chainrule as cr
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), 'labels.idx.gz')
    >>> cr.data.write_idx(path, np.arange(5, dtype=np.uint8))
    >>> cr.data.read_idx(path)
    array([0, 1, 2, 3, 4], dtype=uint8)
    """
    arr = np.asarray(array)
    native = arr.dtype.newbyteorder("=")
    if native not in _TYPE_CODES:
        raise TypeError(
            f"write_idx: dtype {arr.dtype} has no IDX type code; use one of "
            f"{sorted(str(d) for d in _TYPE_CODES)}"
        )
    if arr.ndim > 255:
        raise ValueError(f"write_idx: at most 255 dimensions, got {arr.ndim}")
    code = _TYPE_CODES[native]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    body = header + arr.astype(_IDX_TYPES[code], copy=False).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        body = gzip.compress(body)
    path.write_bytes(body)


_MNIST_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(root: Path, stem: str) -> Path:
    # Accept the official names, their .gz versions, and the "train-images.idx3-ubyte"
    # spelling some mirrors use.
    for name in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(
        f"mnist: '{stem}' (or '{stem}.gz') not found in '{root}'; download the four MNIST "
        f"IDX files there first (chainrule never downloads)"
    )


def load_mnist(
    root: str | os.PathLike, train: bool = True, dtype: Any = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST from the IDX files in ``root``: images as (N, 784) in [0, 1], labels
    as int64. Nothing is downloaded.

    Examples
    --------
    >>> import chainrule as cr
    >>> import os, tempfile
    >>> import numpy as np
    >>> root = tempfile.mkdtemp()
    >>> images = np.zeros((3, 28, 28), np.uint8)
    >>> cr.data.write_idx(os.path.join(root, 'train-images-idx3-ubyte'), images)
    >>> labels = np.array([7, 2, 1], np.uint8)
    >>> cr.data.write_idx(os.path.join(root, 'train-labels-idx1-ubyte'), labels)
    >>> X, y = cr.data.load_mnist(root)
    >>> X.shape, y.tolist()
    ((3, 784), [7, 2, 1])
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"mnist: data folder '{root}' does not exist")
    images_path = _find(root, _MNIST_FILES[train][0])
    labels_path = _find(root, _MNIST_FILES[train][1])
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise IDXError(
            f"mnist: images '{images_path}' (shape {images.shape}) and labels "
            f"'{labels_path}' (shape {labels.shape}) do not form a dataset: need (N, rows, "
            f"cols) images and N labels"
        )
    X = images.reshape(len(images), -1).astype(dtype) / np.asarray(255.0, dtype=dtype)
    return X, labels.astype(np.int64)
