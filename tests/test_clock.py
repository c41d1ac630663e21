"""The bridge's clocks in-process: when the ensemble steps, without sockets or MIDI ports."""

from __future__ import annotations

import logging

import pytest

from bridge.clock import PULSES_PER_STEP, InternalClock, MidiClock, PeriodEstimate, TickLimit

# -- InternalClock: absolute deadlines -------------------------------------------------


def test_internal_clock_deadlines_are_start_plus_n_periods():
    clock = InternalClock(period=0.5, start=100.0)
    assert clock.deadline == 100.0
    # Served a little late each time: the next deadline does not move with the lateness.
    assert clock.advance(100.01) == 100.5
    assert clock.advance(100.53) == 101.0
    assert clock.advance(101.049) == 101.5
    assert clock.count == 3 and clock.skipped == 0


def test_internal_clock_never_drifts_over_many_ticks():
    clock = InternalClock(period=0.1, start=0.0)
    for _ in range(10000):
        deadline = clock.advance(clock.deadline + 0.003)  # always 3 ms late
    assert deadline == pytest.approx(1000.0)  # 10000 periods, no lateness accumulated
    assert clock.skipped == 0


def test_internal_clock_skips_ticks_missed_in_a_stall_with_a_warning(caplog):
    clock = InternalClock(period=1.0, start=0.0)
    with caplog.at_level(logging.WARNING, logger="bridge.clock"):
        # Served at 0, then the process stalls until 3.5 s (a suspended laptop).
        next_deadline = clock.advance(3.5)
    # 1.0 and 2.0 are skipped; the latest due tick (3.0) fires at once, then 4.0 on time:
    # not 1.0, 2.0 and 3.0 in a burst.
    assert next_deadline == 3.0
    assert clock.advance(3.5) == 4.0
    assert clock.skipped == 2
    assert "skipped 2 ticks" in caplog.text


def test_internal_clock_one_period_late_is_not_a_stall():
    clock = InternalClock(period=1.0, start=0.0)
    assert clock.advance(1.0) == 1.0  # exactly a period behind: that tick still fires
    assert clock.skipped == 0


# -- MidiClock: 24 pulses a step, start/continue/stop ----------------------------------


def steps_of(clock: MidiClock, pulses: int) -> list[int]:
    """The pulse numbers (1-based) on which the clock says to step."""
    return [n for n in range(1, pulses + 1) if clock.pulse()]


def test_midi_clock_steps_on_pulse_1_25_49():
    assert PULSES_PER_STEP == 24  # a quarter note at MIDI's 24 pulses per quarter
    assert steps_of(MidiClock(), 72) == [1, 25, 49]


def test_midi_clock_without_start_still_drives():
    clock = MidiClock()
    assert clock.running and clock.pulse()


def test_midi_clock_stop_ignores_pulses_and_continue_resumes_the_count():
    clock = MidiClock()
    assert steps_of(clock, 30) == [1, 25]
    clock.stop()
    assert steps_of(clock, 100) == []  # pulses while stopped neither step nor count
    clock.resume()
    # 30 pulses were counted before stop: the next step is on the 19th pulse after continue.
    assert steps_of(clock, 24) == [19]


def test_midi_clock_start_begins_a_step_on_the_next_pulse():
    clock = MidiClock()
    steps_of(clock, 30)
    clock.stop()
    clock.start()
    assert steps_of(clock, 25) == [1, 25]


# -- PeriodEstimate: how long an external tick lasts -----------------------------------


def test_period_estimate_starts_at_its_initial_value():
    estimate = PeriodEstimate(1.0)
    assert estimate.value == 1.0
    assert estimate.tick(10.0) == 1.0  # one tick gives no interval yet


def test_period_estimate_moves_halfway_to_each_interval():
    estimate = PeriodEstimate(1.0)
    estimate.tick(0.0)
    assert estimate.tick(0.5) == pytest.approx(0.75)  # halfway from 1.0 to 0.5
    assert estimate.tick(1.0) == pytest.approx(0.625)
    for n in range(3, 40):
        estimate.tick(n * 0.5)
    assert estimate.value == pytest.approx(0.5)  # a steady tempo is learnt


@pytest.mark.parametrize("interval", [0.001, 0.005, 60.0, 3600.0])
def test_period_estimate_ignores_implausible_intervals(interval):
    # A double-sent tick (almost no time) or a long pause is not a tempo.
    estimate = PeriodEstimate(0.5)
    estimate.tick(100.0)
    assert estimate.tick(100.0 + interval) == 0.5
    assert estimate.tick(100.0 + interval + 0.25) == pytest.approx(0.375)  # counts from there


def test_the_tick_limit_lets_a_burst_through_and_holds_a_flood_to_its_rate():
    limit = TickLimit(rate=100, burst=8)
    # A script's burst of a few ticks at once passes whole.
    assert all(limit.take(10.0) for _ in range(8))
    assert not limit.take(10.0) and limit.skipped == 1
    # A flood of 10,000 ticks over one second: about 100 step the ensemble.
    passed = sum(limit.take(10.0 + i / 10_000) for i in range(1, 10_001))
    assert 99 <= passed <= 101 and limit.skipped == 1 + 10_000 - passed
    # After a quiet spell the burst is back, and no more than it.
    assert sum(limit.take(20.0) for _ in range(20)) == 8
