"""Writing output files safely: through a temporary file, never over a user's file."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import OutputError, OutputExistsError

__all__ = ["OutputError", "OutputExistsError", "check_new_output", "new_hdf5", "write_new"]


def check_new_output(path: str | Path, force: bool = False, suffix: str | None = None) -> Path:
    """Fail early, before any work, if ``path`` cannot be written as a new file.

    ``suffix`` (".png"): the one format the writer makes; a name that says another
    (plot.svg) is refused rather than given PNG bytes that its viewer cannot open.
    """
    path = Path(path)
    if not path.name:  # "" (which Path reads as "."), "/"
        raise OutputError(f"cannot write {str(path)!r}: give a file name")
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    if path.exists() and not path.is_file():  # /dev/null, a FIFO: --force would replace it
        raise OutputError(
            f"cannot write {path}: it is not a regular file (a device, FIFO or socket); "
            "give a file name"
        )
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists; use --force to overwrite it")
    # A folder may exist and refuse files (a read-only file system, no permission, /proc):
    # find out now, not after the work (the bridge's --stats, after a whole performance).
    probe = path.with_name(f".{path.name}.probe-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        reason = error.strerror or error
        raise OutputError(
            f"cannot write {path}: the folder {path.parent} is not writable ({reason})"
        ) from None
    os.unlink(probe)
    if suffix is not None and path.suffix.lower() != suffix:
        raise OutputError(
            f"cannot write {path}: it would be {suffix[1:].upper()}; give a name ending {suffix}"
        )
    return path


def _why(error: OSError) -> str:
    """An OSError's reason in a few words; HDF5's errors hide it in a paragraph."""
    text = str(error)
    found = re.search(r"error message = '([^']*)'", text)
    if found:
        return found.group(1)
    return error.strerror or text.splitlines()[0]


@contextlib.contextmanager
def new_hdf5(path: str | Path) -> Iterator:
    """An ``h5py.File`` built in memory, written to ``path`` as plain bytes when the block
    ends (for the ``write`` of :func:`write_new`).

    HDF5 writing to a disk that fills up may crash the whole process (a segmentation
    fault while it closes the file); a plain write fails with an OSError, which
    :func:`write_new` turns into one line. Our files are megabytes at most.
    """
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        yield f
    Path(path).write_bytes(buffer.getbuffer())


def write_new(
    path: str | Path, write: Callable[[Path], None], force: bool = False, suffix: str | None = None
) -> Path:
    """Call ``write(tmp)`` for a temporary file beside ``path``, then move it into place.

    A failed or interrupted ``write`` leaves nothing behind. Without ``force`` the move
    is a hard link, which fails if ``path`` appeared in the meantime. The temporary file
    keeps ``path``'s suffix, for writers that choose the format by it (Keras, matplotlib).
    """
    path = check_new_output(path, force, suffix)
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    tmp = path.with_name(f".{path.stem}.partial-{tag}{path.suffix}")
    try:
        try:
            write(tmp)
        except OSError as error:  # a read-only folder, a full disk
            raise OutputError(f"cannot write {path}: {_why(error)}") from None
        if force:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # on a read-only mount even a missing file says EROFS
            tmp.unlink(missing_ok=True)
    return path


def _link_new(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(f"{path} already exists; use --force to overwrite it") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        if path.exists():  # no hard links here: check, then move (a small race remains)
            raise OutputExistsError(f"{path} already exists; use --force to overwrite it") from None
        os.replace(tmp, path)
