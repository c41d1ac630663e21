"""Clocks decide when the ensemble steps. Each is plain state that the loop asks.

- :class:`InternalClock`: every ``period`` seconds against absolute deadlines
  (``start + n * period``), so it never drifts.
- :class:`MidiClock`: one step per 24 MIDI clock pulses (a quarter note), honouring
  start, continue and stop.
- :class:`BeatClock`: every ``beats_per_step`` beats of a shared beat line (Ableton Link,
  whose session lives in bridge/link.py and hands over :class:`Timeline` snapshots).
- ``osc``: one step per ``/bridge/tick`` message; no state needed beyond
  :class:`PeriodEstimate`.

:class:`TickLimit` caps the external clocks (``osc``, ``midi``): a flood of ticks or
clock pulses cannot make the ensemble step faster than the internal clock may.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

PULSES_PER_STEP = 24  # a quarter note of MIDI clock
PULSES_PER_SIXTEENTH = 6  # the unit of MIDI Song Position Pointer
MIDI_CLOCK_MESSAGES = ("clock", "start", "continue", "stop", "songpos")  # mido's types
# BeatClock: a step this late (seconds) is still played; a later one is skipped, as it
# would be heard off the beat.
LATE_STEP = 0.05


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


class TickLimit:
    """A token bucket: at most ``rate`` ticks a second on average and ``burst`` at once.

    ``take(now)`` says whether a tick arriving at ``now`` (monotonic seconds) may step the
    ensemble; ``skipped`` counts those refused. A burst of a few ticks (a script sending
    three at once) passes; a flood is held to ``rate``.
    """

    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.last: float | None = None
        self.skipped = 0

    def take(self, now: float) -> bool:
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + max(0.0, now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.skipped += 1
        return False


class MidiClock:
    """Counts MIDI realtime messages; :meth:`pulse` says when to step.

    Steps fall on the sequencer's quarter notes (24 pulses each, as the MIDI 1.0
    specification's 24 clocks per quarter note), counted from its song position: Start
    resets it to 0, Song Position Pointer (0xF2, sixteenths of 6 pulses each) moves it, so
    after Continue the steps land on the quarter notes of the point played from. Plain
    state: no time, no errors.
    """

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

    def song_position(self, sixteenths: int) -> None:
        """MIDI Song Position Pointer: the next pulse is at this position."""
        self.pulses = sixteenths * PULSES_PER_SIXTEENTH

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

    def pause(self) -> None:
        """The clock stopped or jumped (MIDI Stop, Start, Continue): the next interval
        would measure the pause, not a step, so the next tick keeps the estimate."""
        self._last = None


@dataclass(frozen=True)
class Timeline:
    """A shared beat line as read at one moment: ``beat`` at ``time.monotonic()`` ``at``.

    Between two readings the beat advances at ``tempo / 60`` beats per second; only this
    rate (a difference) is taken from the Link session, never its clock's absolute value.
    """

    at: float  # time.monotonic() seconds
    beat: float  # the session's beat at ``at`` (Link's beat with our quantum)
    tempo: float  # beats per minute
    peers: int = 0
    playing: bool = True

    def beat_at(self, t: float) -> float:
        return self.beat + (t - self.at) * self.tempo / 60.0

    def time_at(self, beat: float) -> float:
        return self.at + (beat - self.beat) * 60.0 / self.tempo


class BeatClock:
    """Steps on the beats ``0, k, 2k, ...`` (``k = beats_per_step``) of a shared beat line.

    ``timeline()`` returns the latest :class:`Timeline` (never waits). Each question is
    answered from it afresh, so a tempo change or a beat jump counts from the next step.
    A step is sent ``latency`` seconds before its beat (the beat is when sound should be
    heard). A beat already past by more than LATE_STEP (or half a step) is skipped; no step
    comes within half a step of the last one, so a jump of the beat line (a peer joining,
    a beat request) skips or merges steps but never plays them in a burst. With
    ``start_stop`` it steps only while the session plays, and not on the negative beats of
    a count-in.
    """

    def __init__(
        self,
        timeline: Callable[[], Timeline | None],
        beats_per_step: float = 1.0,
        latency: float = 0.0,
        start_stop: bool = False,
        now: Callable[[], float] = time.monotonic,
    ):
        self.timeline = timeline
        self.beats_per_step = beats_per_step
        self.latency = latency
        self.start_stop = start_stop
        self.now = now
        self.last_time = -math.inf  # when the last step was due
        self.last_beat: float | None = None
        self.skipped = 0

    @property
    def period(self) -> float:
        """Seconds per step at the current tempo (the step's touches spread over it)."""
        line = self.timeline()
        return self.beats_per_step * 60.0 / line.tempo if line else 1.0

    @property
    def deadline(self) -> float:
        """``time.monotonic()`` when the next step is due; infinity while stopped."""
        return self.next_step(self.now())[0]

    def next_step(self, now: float) -> tuple[float, float | None]:
        """(due time, beat) of the next step as seen at ``now``; (inf, None) while stopped."""
        line = self.timeline()
        if line is None or (self.start_stop and not line.playing):
            self.last_beat = None  # stopped: the steps after the start are not "skipped"
            return math.inf, None
        step = self.beats_per_step
        period = step * 60.0 / line.tempo
        late = min(step / 2, LATE_STEP * line.tempo / 60.0)  # in beats
        beat = math.ceil((line.beat_at(now + self.latency) - late) / step) * step
        if self.start_stop:
            beat = max(beat, 0.0)
        while line.time_at(beat) - self.latency < self.last_time + period / 2:
            beat += step
        return line.time_at(beat) - self.latency, beat

    def advance(self, now: float) -> float:
        """The step due at or before ``now`` was served; returns the next deadline."""
        due, beat = self.next_step(now)
        if beat is None:
            return math.inf
        if self.last_beat is not None:
            missed = round((beat - self.last_beat) / self.beats_per_step) - 1
            if missed > 0:
                self.skipped += missed
                log.warning("the beat jumped or the loop stalled: skipped %d steps", missed)
        self.last_time, self.last_beat = due, beat
        return self.deadline
