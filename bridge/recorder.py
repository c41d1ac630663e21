"""``--record FILE.csv``: one row per tick in the corpus's gesture-file layout.

Columns ``time,lead,player1,...``; every row is flushed as it is written, so a crash or
a kill loses nothing already sent. The file loads back with
``gesture_rnn.corpus.read_gesture_file`` and into ``gesture-rnn generate``'s plot.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class Recorder:
    """Raises OSError when the file cannot be made or its header written."""

    def __init__(self, path: Path, players: int, overwrite: bool = False):
        self.path = path
        self.rows = 0
        self._stopped = False
        self._file = open(path, "w" if overwrite else "x", encoding="utf-8", newline="")
        header = ["time", "lead", *(f"player{i}" for i in range(1, players + 1))]
        try:
            self._file.write(",".join(header) + "\n")
            self._file.flush()
            self._size = self._file.tell()
        except OSError:
            with contextlib.suppress(OSError):  # it flushes what did not fit, and fails again
                self._file.close()
            path.unlink(missing_ok=True)  # ours, made just now: an empty file helps no one
            raise

    def _write(self, line: str) -> None:
        if self._stopped:
            return
        try:
            self._file.write(line + "\n")
            self._file.flush()
            self._size = self._file.tell()
            self.rows += 1
        except OSError as error:  # a full disk mid-performance: the music goes on
            self._stopped = True
            with contextlib.suppress(OSError):
                self._file.close()
            with contextlib.suppress(OSError):  # no half row at the end: the file still reads
                os.truncate(self.path, self._size)
            log.error(
                "recording stopped: cannot write %s: %s (the first %d ticks are in it)",
                self.path,
                error.strerror or error,
                self.rows,
            )

    def tick(self, lead: int, ensemble: tuple[int, ...]) -> None:
        now = datetime.datetime.now().isoformat(sep=" ", timespec="milliseconds")
        self._write(",".join([now, str(lead), *map(str, ensemble)]))

    def close(self) -> None:
        with contextlib.suppress(OSError):  # after a failed write: said already
            self._file.close()
