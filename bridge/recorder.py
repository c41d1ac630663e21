"""``--record FILE.csv``: one row per tick in the corpus's gesture-file layout.

Columns ``time,lead,player1,...``; every row is flushed as it is written, so a crash or
a kill loses nothing already sent. The file loads back with
``gesture_rnn.corpus.read_gesture_file`` and into ``gesture-rnn generate``'s plot.
"""

from __future__ import annotations

import datetime
from pathlib import Path


class Recorder:
    def __init__(self, path: Path, players: int, overwrite: bool = False):
        self.path = path
        self._file = open(path, "w" if overwrite else "x", encoding="utf-8", newline="")
        header = ["time", "lead", *(f"player{i}" for i in range(1, players + 1))]
        self._write(",".join(header))

    def _write(self, line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()

    def tick(self, lead: int, ensemble: tuple[int, ...]) -> None:
        now = datetime.datetime.now().isoformat(sep=" ", timespec="milliseconds")
        self._write(",".join([now, str(lead), *map(str, ensemble)]))

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
