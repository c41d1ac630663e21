"""When each touch of the current tick, and each MIDI note-off, is due.

A tick's touches (:class:`bridge.session.TouchEvent`, ``time`` in seconds from the tick's
start, in time order) are sent one by one as their time comes; a new tick replaces what is
left of the last one. A MIDI note started by a touch ends ``note_length`` seconds later.
The bridge's loop asks :meth:`TouchSchedule.next_due` how long it may sleep and calls
:meth:`TouchSchedule.fire` when it wakes; nothing here reads a clock or a socket.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence

from .session import TouchEvent


class TouchSchedule:
    """The current tick's touches not yet sent, and a heap of MIDI note-offs.

    ``note_length``: seconds from a touch to the note-off of the note it started.
    """

    def __init__(self, note_length: float):
        self.note_length = note_length
        # The touches in time order, due at _start + event.time; _next: the first not sent.
        self._touches: Sequence[TouchEvent] = ()
        self._next = 0
        self._start = 0.0
        self._note_offs: list = []  # a heap of (due, order, note); order keeps it stable
        self._order = 0

    def start(self, touches: Sequence[TouchEvent], start: float) -> None:
        """A new tick's touches, due from ``start`` (seconds, the loop's clock); call
        :meth:`cancel` first, which counts what is left of the last tick's."""
        self._touches, self._next, self._start = touches, 0, start

    def cancel(self) -> int:
        """Drop the touches not yet sent (note-offs stay due); returns how many."""
        dropped = len(self._touches) - self._next
        self._touches, self._next = (), 0
        return dropped

    def next_due(self) -> float | None:
        """When the next touch or note-off is due, or None when nothing is."""
        due = self._start + self._touches[self._next].time if self.touches_left else math.inf
        if self._note_offs:
            due = min(due, self._note_offs[0][0])
        return None if due == math.inf else due

    @property
    def touches_left(self) -> int:
        return len(self._touches) - self._next

    def fire(
        self,
        now: float,
        play: Callable[[TouchEvent, float], object],
        note_off: Callable[[object], None],
    ) -> None:
        """Hand everything due by ``now`` over, earliest first.

        ``play(event, due)`` sends one touch and returns the MIDI note it started (any
        value) or None; that note's ``note_off(note)`` comes ``note_length`` after ``now``.
        A note-off due at the same time as a touch comes after it."""
        touches, note_offs = self._touches, self._note_offs
        while True:
            more = self._next < len(touches)
            touch_due = self._start + touches[self._next].time if more else math.inf
            if note_offs and note_offs[0][0] < touch_due:
                if note_offs[0][0] > now:
                    return
                _, _, note = heapq.heappop(note_offs)
                note_off(note)
                continue
            if not more or touch_due > now:
                return
            event = touches[self._next]
            self._next += 1
            note = play(event, touch_due)
            if note is not None:
                self._order += 1
                heapq.heappush(note_offs, (now + self.note_length, self._order, note))
