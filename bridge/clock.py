"""Clocks decide when the ensemble steps. Each is plain state that the loop asks.

- :class:`InternalClock`: every ``period`` seconds against absolute deadlines
  (``start + n * period``), so it never drifts.
- :class:`MidiClock`: one step per 24 MIDI clock pulses (a quarter note), honouring
  start, continue and stop.
- ``osc``: one step per ``/bridge/tick`` message; no state needed beyond
  :class:`PeriodEstimate`.
"""

from __future__ import annotations

import logging
import math

log = logging.getLogger(__name__)

PULSES_PER_STEP = 24


class InternalClock:
    """Deadlines ``start + n * period`` (seconds on ``time.monotonic``'s scale);
    ``skipped`` counts the ticks skipped after stalls."""

    def __init__(self, period: float, start: float):
        self.period = period
        self.start = start
        self.count = 0
        self.skipped = 0

    @property
    def deadline(self) -> float:
        """When the next tick is due (monotonic seconds)."""
        return self.start + self.count * self.period

    def advance(self, now: float) -> float:
        """Move past the deadline just served; returns the next one.

        If the process was stalled for more than a period (a suspended laptop), the
        missed ticks are skipped rather than fired in a burst.
        """
        self.count += 1
        behind = now - self.deadline
        if behind > self.period:
            missed = math.floor(behind / self.period)
            self.count += missed
            self.skipped += missed
            log.warning("clock was %.3f s late: skipped %d ticks", behind, missed)
        return self.deadline


class MidiClock:
    """Counts MIDI realtime messages; :meth:`pulse` says when to step.

    One step per :data:`PULSES_PER_STEP` (24) pulses: a quarter note, as the MIDI 1.0
    specification's 24 clocks per quarter note. Plain state: no time, no errors."""

    def __init__(self):
        self.running = True  # a device that sends clock without start still drives us
        self.pulses = 0

    def start(self) -> None:
        """MIDI start (0xFA): run, and the next pulse begins a step."""
        self.running = True
        self.pulses = 0

    def resume(self) -> None:
        """MIDI continue (0xFB): run on from where the count stopped."""
        self.running = True

    def stop(self) -> None:
        """MIDI stop (0xFC): pulses are ignored until start or continue."""
        self.running = False

    def pulse(self) -> bool:
        """One clock pulse (0xF8); True when it begins a new step (pulse 1, 25, 49...)."""
        if not self.running:
            return False
        step = self.pulses % PULSES_PER_STEP == 0
        self.pulses += 1
        return step


class PeriodEstimate:
    """How long a tick of an external clock lasts, to spread its touches over it.

    ``value`` is in seconds; each interval between ticks from 5 ms to 60 s moves it
    halfway there (an exponential average with weight 0.5); others are ignored."""

    def __init__(self, initial: float):
        self.value = initial
        self._last: float | None = None

    def tick(self, now: float) -> float:
        """A tick at ``now`` (monotonic seconds); returns the estimate after it."""
        if self._last is not None:
            interval = now - self._last
            if 0.005 < interval < 60:
                self.value = 0.5 * self.value + 0.5 * interval
        self._last = now
        return self.value
