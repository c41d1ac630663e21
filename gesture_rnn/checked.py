"""Reading a file the user gave us, checked before it is trusted.

Every loader (model, touch classifier, corpus index, bridge TOML, gesture CSVs) goes
through here, so that each kind of bad file gets the same answer: one line naming the
file, raised as the loader's own error class, never a traceback, a hang or a huge
allocation. In order:

1. the path (:func:`check_file`): it exists, is a regular file (a FIFO would block the
   read forever, a device or a folder is never a file of ours), can be read (its first
   bytes are read: a permission or an I/O error shows here) and is within the size cap
   of its kind;
2. an HDF5 file (:func:`open_hdf5`, :func:`dataset`): opened inside the error handling;
   each dataset is reached through hard links only, stored inside the file (no external
   storage, no virtual dataset, no external link) and has the kind, dtype and shape its
   format allows, all from the metadata, before any data is read;
3. the data (:func:`read`): read, then every value checked (the loader says what for),
   and compared with the SHA-256 the writer stored (:func:`verify_checksums`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
_noticed: set[str] = set()  # files whose missing checksums were reported once


def _reason(error: BaseException) -> str:
    """The first line of an error's text, or its kind."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.rstrip(".").lower()
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def shown(value, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters: a value from a file
    may be megabytes long, and an error is one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...(cut)"


def _size(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def missing(path: str | Path) -> bool:
    """Whether nothing is at ``path``. A link loop, a path through a file or an unreadable
    folder is not "missing": :func:`check_file` says what it is."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def check_file(path: str | Path, what: str, max_bytes: int, error: type[Exception]) -> Path:
    """The path of a file we may read: existing, regular, readable, 1 to ``max_bytes`` bytes.

    ``what`` names the kind in messages ("model file"); ``error`` is raised with one line
    naming the path.
    """
    path = Path(path)
    try:
        info = os.stat(path)  # follows links: what matters is what we would read
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except OSError as problem:
        raise error(f"{what} {path} cannot be read: {_reason(problem)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{what} {path} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        raise error(f"{what} {path} is {kind}; give a regular file")
    try:
        with open(path, "rb") as f:
            f.read(8)
    except OSError as problem:
        raise error(f"{what} {path} cannot be read: {_reason(problem)}") from None
    if info.st_size == 0:
        raise error(f"{what} {path} is empty")
    if info.st_size > max_bytes:
        raise error(
            f"{what} {path} is {_size(info.st_size)}, more than a {what} can be "
            f"({_size(max_bytes)} at most)"
        )
    return path


def read_text(path: str | Path, what: str, max_bytes: int, error: type[Exception]) -> str:
    """A checked file's whole text, which must be UTF-8."""
    path = check_file(path, what, max_bytes, error)
    try:
        data = path.read_bytes()[: max_bytes + 1]
    except OSError as problem:
        raise error(f"{what} {path} cannot be read: {_reason(problem)}") from None
    if len(data) > max_bytes:  # it grew since it was checked
        raise error(f"{what} {path} is more than {_size(max_bytes)}")
    try:
        return data.decode("utf-8-sig")  # a byte-order mark, as some Windows editors write
    except UnicodeDecodeError as problem:
        line = data[: problem.start].count(b"\n") + 1
        raise error(f"{what} {path}: line {line}: not UTF-8 text") from None


@contextmanager
def open_hdf5(path: str | Path, what: str, max_bytes: int, error: type[Exception]) -> Iterator:
    """An open ``h5py.File`` of a checked path; anything HDF5 raises becomes ``error``.

    The file is closed on leaving the block; errors raised inside the block as ``error``
    pass through unchanged.
    """
    import h5py  # here, so that importing the readers stays cheap

    path = check_file(path, what, max_bytes, error)
    try:
        if not h5py.is_hdf5(path):
            raise error(f"{what} {path} is not an HDF5 file (a {what} is one)")
        f = h5py.File(path, "r")
    except error:
        raise
    except Exception as problem:  # h5py raises OSError, and a few others for odd files
        raise error(f"{what} {path} is damaged or not HDF5: {_reason(problem)}") from None
    try:
        with f:
            yield f
    except error:
        raise
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as problem:
        raise error(f"{what} {path} is damaged: {_reason(problem)}") from None


def dataset(
    f,
    name: str,
    where: str,
    error: type[Exception],
    dtype: str | np.dtype | None = None,
    shape: tuple[int | None, ...] | None = None,
    max_bytes: int | None = None,
):
    """The dataset ``name`` of an open file, checked from its metadata alone.

    ``where`` begins each message (the file's name and kind). ``shape`` may hold
    ``None`` for a length the format leaves free; ``max_bytes`` caps what reading it
    would allocate. Reached through hard links only; stored in the file.
    """
    import h5py

    node = f
    for part in name.split("/"):
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            raise error(f"{where}: dataset {name} is missing")
        if not isinstance(link, h5py.HardLink):
            raise error(f"{where}: {name} is a link out of the file; refused")
        node = node[part]
    if not isinstance(node, h5py.Dataset):
        raise error(f"{where}: {name} is not a dataset")
    if node.is_virtual or node.external:
        raise error(f"{where}: dataset {name} keeps its data outside the file; refused")
    found = node.dtype
    if dtype == "str":
        if h5py.check_string_dtype(found) is None:
            raise error(f"{where}: dataset {name} has type {found}, not text")
    elif dtype is not None and (found.kind, found.itemsize) != (
        np.dtype(dtype).kind,
        np.dtype(dtype).itemsize,
    ):  # either byte order: HDF5 converts
        raise error(f"{where}: dataset {name} has type {found}, not {np.dtype(dtype)}")
    if shape is not None and (
        len(node.shape) != len(shape)
        or any(w is not None and g != w for g, w in zip(node.shape, shape, strict=True))
    ):
        wanted = tuple("n" if s is None else s for s in shape)
        raise error(f"{where}: dataset {name} has shape {node.shape}, expected {wanted}")
    if max_bytes is not None:
        itemsize = found.itemsize if dtype != "str" else 64  # a string's object, at least
        size = math.prod(node.shape) * itemsize
        if size > max_bytes:
            raise error(
                f"{where}: dataset {name} declares {node.shape} values ({_size(size)}), "
                f"more than this file can hold; refused"
            )
    return node


def read(node, where: str, error: type[Exception]) -> np.ndarray:
    """All of a checked dataset's values."""
    import h5py

    try:
        if h5py.check_string_dtype(node.dtype) is not None:
            return np.array(node.asstr()[()], dtype=object).reshape(node.shape)
        data = np.asarray(node[()])
        return data.astype(data.dtype.newbyteorder("="), copy=False)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, UnicodeError) as problem:
        raise error(f"{where}: dataset {node.name[1:]} is damaged: {_reason(problem)}") from None


def check_finite(array: np.ndarray, name: str, where: str, error: type[Exception]) -> None:
    if not np.isfinite(array).all():
        raise error(f"{where}: dataset {name} holds NaN or infinite values")


def sha256(array: np.ndarray) -> str:
    """SHA-256 (hex) of an array's values: little-endian bytes in C order, or for text
    each UTF-8 string preceded by its length in bytes (8, little-endian)."""
    digest = hashlib.sha256()
    if array.dtype == object or array.dtype.kind in "SU":
        for value in np.asarray(array).reshape(-1):
            data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
        return digest.hexdigest()
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    digest.update(little.tobytes())
    return digest.hexdigest()


def checksums(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """What a writer stores: dataset name -> :func:`sha256` of its values."""
    return {name: sha256(array) for name, array in arrays.items()}


def verify_checksums(
    arrays: dict[str, np.ndarray], stored, path: Path, what: str, error: type[Exception]
) -> None:
    """Compare each array with the checksum the writer stored.

    A file written before checksums existed (``stored`` is None) loads, with a one-line
    notice the first time; a mismatch means the bytes changed since they were written.
    """
    if stored is None:
        key = str(Path(path).resolve())
        if key not in _noticed:
            _noticed.add(key)
            log.warning(
                "%s %s has no checksums (written by an older gesture-rnn): damage to it "
                "cannot be detected",
                what,
                path,
            )
        return
    if not isinstance(stored, dict):
        raise error(f"{what} {path}: its checksums are not a table of dataset names")
    for name, array in arrays.items():
        expected = stored.get(name)
        if expected is None:
            raise error(f"{what} {path}: no checksum for dataset {name}")
        if sha256(array) != expected:
            raise error(
                f"{what} {path}: dataset {name} does not match its checksum: the file "
                "was damaged after it was written"
            )
