"""Reader and writer for the IDX format of the MNIST files (``train-images-idx3-ubyte``,
optionally gzipped), with errors that name the file and what is wrong with it.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

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


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"read_idx: no such file: '{path}'") from None
    except IsADirectoryError:
        raise IDXError(f"read_idx: '{path}' is a directory, not an IDX file") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic: the files are usually distributed as .gz
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise IDXError(f"read_idx: '{path}' is a corrupt gzip file ({e})") from None
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzipped) into an ndarray of its shape and native dtype.

    Raises ``FileNotFoundError`` if it is missing and ``IDXError`` (a ``ValueError``)
    naming the path for a wrong magic number, an unknown type byte, or a file that is
    shorter or longer than its header says.

    Examples
    --------
    >>> import numpy as np, tempfile, os, chainrule as cr
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> cr.data.write_idx(path, np.array([5, 0, 4], dtype=np.uint8))
    >>> cr.data.read_idx(path)
    array([5, 0, 4], dtype=uint8)
    """
    path = Path(path)
    raw = _read_bytes(path)
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
    if len(raw) < header:
        raise IDXError(
            f"read_idx: '{path}' is truncated: the header declares {ndim} dimensions "
            f"({header} header bytes) but the file has only {len(raw)} bytes"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "longer than its header says"
        raise IDXError(
            f"read_idx: '{path}' is {what}: shape {shape} of {dtype.newbyteorder('=')} "
            f"needs {expected} data bytes, found {found}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


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
