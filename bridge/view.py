"""The console's live view: one line a tick (off with --quiet).

tick    12 | lead FT  | 1 ST   2 FS   3 N   | in 40 rejected 0 ignored 1
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TextIO

from gesture_rnn.gestures import GESTURE_NAMES

log = logging.getLogger(__name__)


def live_line(
    number: int,
    lead: int,
    ensemble: Sequence[int],
    counts: Mapping[str, int],
    show_not_allowed: bool = False,
    send_failed: Mapping[str, int] | None = None,
    extra: str = "",
) -> str:
    """One tick's line, without its newline: the tick's number, the lead's and each
    player's gesture (numbered from 1), the messages in, rejected and ignored, those not
    allowed (with --allow), the failed sends per target (only when some failed), then
    ``extra`` (the clock's and the Metatone apps' state, each starting with its own
    separator)."""
    players = "  ".join(f"{i} {GESTURE_NAMES[g]:<3}" for i, g in enumerate(ensemble, 1))
    line = (
        f"tick {number:>5} | lead {GESTURE_NAMES[lead]:<3} | {players} | "
        f"in {counts['received']} rejected {counts['rejected']} ignored {counts['ignored']}"
    )
    if show_not_allowed:
        line += f" not allowed {counts['not_allowed']}"
    failed = [f"{label} {n}" for label, n in (send_failed or {}).items() if n]
    if failed:
        line += f" | send failed: {', '.join(failed)}"
    return line + extra


class LiveView:
    """Writes the live view's lines to ``out``; stops for good, with one warning, once
    ``out`` is gone (a closed terminal, a hang-up): the music plays on."""

    def __init__(self, out: TextIO, on: bool = True):
        self.out = out
        self.on = on

    def show(self, line: str) -> None:
        if not self.on:
            return
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (OSError, ValueError) as error:
            self.on = False
            log.warning("live view stopped: %s", error)
