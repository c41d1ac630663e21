"""Writing output files safely: through a temporary file, never over a user's file."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from .errors import OutputError, OutputExistsError

__all__ = ["OutputError", "OutputExistsError", "check_new_output", "write_new"]


def check_new_output(path: str | Path, force: bool = False) -> Path:
    """Fail early, before any work, if ``path`` cannot be written as a new file."""
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists; use --force to overwrite it")
    # A folder may exist and refuse files (a read-only file system, no permission, /proc):
    # find out now, not after the work (the bridge's --stats, after a whole performance).
    probe = path.with_name(f".{path.name}.probe-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
    os.unlink(probe)
    return path


def write_new(path: str | Path, write: Callable[[Path], None], force: bool = False) -> Path:
    """Call ``write(tmp)`` for a temporary file beside ``path``, then move it into place.

    A failed or interrupted ``write`` leaves nothing behind. Without ``force`` the move
    is a hard link, which fails if ``path`` appeared in the meantime. The temporary file
    keeps ``path``'s suffix, for writers that choose the format by it (Keras, matplotlib).
    """
    path = check_new_output(path, force)
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    tmp = path.with_name(f".{path.stem}.partial-{tag}{path.suffix}")
    try:
        try:
            write(tmp)
        except OSError as error:  # a read-only folder, a full disk
            reason = error.strerror or str(error).splitlines()[0]
            raise OutputError(f"cannot write {path}: {reason}") from None
        if force:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    finally:
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
