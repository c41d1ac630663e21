"""``--record FILE.csv``: one row per tick in the corpus's gesture-file layout.

Columns ``time,lead,player1,...``; every row goes to the file as it is written, so a
crash or a kill loses nothing already sent. The file loads back with
``gesture_rnn.corpus.read_gesture_file`` and into ``gesture-rnn generate``'s plot.

A file that cannot be written at start (a full or read-only file system, a path that is
not a regular file) is a :class:`RecordError` and nothing is left behind. A write that
fails during the performance (the disk filled) ends the recording, not the performance:
one warning, the file cut back to its last whole row, and :attr:`Recorder.ticks` says
how many rows it holds.
"""

from __future__ import annotations

import datetime
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)


class RecordError(Exception):
    """The recording cannot start (one line naming the file and the reason)."""


class Recorder:
    """Writes ``path`` row by row: ``players`` player columns, the time in milliseconds.

    Without ``overwrite`` an existing ``path`` is an error; with it, the new file is
    made beside it and replaces it only once its header is written, so a failed start
    leaves the old file as it was. Raises :class:`RecordError`."""

    def __init__(self, path: Path, players: int, overwrite: bool = False):
        self.path = path
        self.ticks = 0  # rows written (not counting the header)
        self.failed: str | None = None  # why the recording stopped early, if it did
        self._size = 0  # bytes of whole rows in the file
        target = (
            path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial") if overwrite else path
        )
        header = ",".join(["time", "lead", *(f"player{i}" for i in range(1, players + 1))])
        try:
            self._fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise RecordError(f"--record {path}: already exists; add --force") from None
        except OSError as error:
            raise RecordError(f"--record {path}: cannot be written ({error.strerror})") from None
        try:
            self._write(header)
            if overwrite:
                _check_regular(path)
                os.replace(target, path)
        except (OSError, RecordError) as error:
            os.close(self._fd)
            os.unlink(target)  # ours: made just now
            if isinstance(error, RecordError):
                raise
            raise RecordError(f"--record {path}: cannot be written ({error.strerror})") from None

    def _write(self, line: str) -> None:
        encoded = (line + "\n").encode("utf-8")
        data = memoryview(encoded)
        while data:
            data = data[os.write(self._fd, data) :]
        self._size += len(encoded)

    def tick(self, lead: int, ensemble: tuple[int, ...]) -> None:
        """One row: now (local time, ms), the lead's gesture and each player's (0-8).

        Never raises: a failed write stops the recording with one warning."""
        if self.failed is not None:
            return
        now = datetime.datetime.now().isoformat(sep=" ", timespec="milliseconds")
        try:
            self._write(",".join([now, str(lead), *map(str, ensemble)]))
        except OSError as error:
            self.failed = error.strerror or str(error)
            try:
                os.ftruncate(self._fd, self._size)  # no half row at the end
            except OSError:
                pass
            self.close()
            log.warning(
                "recording stopped: cannot write %s (%s); the first %d ticks are in it, "
                "the performance goes on",
                self.path,
                self.failed,
                self.ticks,
            )
            return
        self.ticks += 1

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            finally:
                self._fd = -1


def _check_regular(path: Path) -> None:
    """--force replaces only a regular file (a FIFO would block, a device refuse)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise RecordError(f"--record {path}: not a regular file")
