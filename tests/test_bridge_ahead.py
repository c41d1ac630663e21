"""Ticks made ahead of their deadline: the session's prepare/commit, and the bridge that
commits a prepared tick at its deadline and sends its already-made touches over UDP."""

from __future__ import annotations

import math
import socket
import time

import numpy as np
import pytest

import corpus_index
from bridge.app import Bridge
from bridge.clock import PULSES_PER_STEP
from bridge.commands import Reset, SetLead
from bridge.config import BridgeConfig
from bridge.osc import OscSender
from bridge.session import Session
from gesture_rnn.runtime import load
from tests.bridge_process import osc


def session(model_path, seed=4, temperature=0.3):
    return Session(load(model_path), corpus_index.open(None), temperature, seed=seed)


def played(ticks):
    return [(t.number, t.lead, t.ensemble, t.touches) for t in ticks]


# -- the session -------------------------------------------------------------------------


def test_preparing_changes_nothing_and_commit_plays_what_was_prepared(tiny_model):
    s = session(tiny_model)
    s.set_lead("FS")
    for _ in range(3):
        s.tick(0.5)
    first, second = s.prepare(0.5), s.prepare(0.5)
    assert first.tick == second.tick and first.tick.number == 4
    assert first.tick.touches, "a tiny model at temperature 0.3 plays"
    assert all(0 <= e.time < 0.5 for e in first.tick.touches)
    assert s.commit(first) is first.tick
    assert s.ensemble == first.tick.ensemble and s.ticks == 4


@pytest.mark.parametrize("change", ["lead", "reset"])
def test_a_discarded_step_leaves_the_next_ticks_as_if_it_was_never_made(tiny_model, change):
    """Players that continue their gesture continue from where the last committed tick
    left them, and the random generator is where it was."""

    def play(discard: bool):
        s = session(tiny_model)
        s.set_lead(3)
        for _ in range(3):
            s.tick(0.5)
        if discard:
            old = s.prepare(0.5)
            half_made = s.preparing(0.5)
            next(half_made), next(half_made)  # sampled and one player's touches made
            half_made.close()
        if change == "lead":
            s.set_lead(6)
        else:
            s.reset()
        if discard:
            tick = s.commit(old, lead_may_lag=change == "reset")  # a reset always counts
            assert tick is not old.tick  # made again
        else:
            tick = s.tick(0.5)
        return played([tick, *(s.tick(0.5) for _ in range(4))])

    with_discard = play(True)
    assert with_discard == play(False)
    assert all(lead == (6 if change == "lead" else 3) for _, lead, _, _ in with_discard)
    assert sum(len(touches) for *_, touches in with_discard) > 0


def test_a_lead_may_lag_by_one_tick(tiny_model):
    s = session(tiny_model)
    s.set_lead(2)
    step = s.prepare(0.5)
    s.set_lead("C")
    assert s.commit(step, lead_may_lag=True) is step.tick  # the lead counts next tick
    assert step.tick.lead == 2 and s.tick(0.5).lead == 8


# -- the bridge, in this process, over real UDP ---------------------------------------------


@pytest.fixture
def bridge(tiny_model, listener):
    config = BridgeConfig(osc_out=[f"127.0.0.1:{listener.port}"], period=0.5, quiet=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    bridge = Bridge(config, session(tiny_model), sock, OscSender(config.osc_targets()))
    yield bridge
    bridge.close()


def test_the_prepared_tick_and_its_touches_go_out_over_udp(bridge, listener):
    bridge.apply(SetLead(4))
    for _ in range(20):  # until a tick with touches
        bridge._prepare_pending()
        step = bridge._pending
        tick = bridge.tick(time.monotonic(), 0.5)
        if tick.touches:
            break
    assert tick is step.tick
    bridge._fire_due_events(math.inf)  # as if half a second went by

    def this_tick(messages):
        """This tick's messages: from its /ensemble/tick on (earlier ticks' come first)."""
        starts = [i for i, m in enumerate(messages) if m[1:] == ("/ensemble/tick", [tick.number])]
        return messages[starts[0] :] if starts else []

    # /ensemble/tick, /ensemble/gestures, one /ensemble/N/gesture a player, then the touches
    want = 2 + len(tick.ensemble) + len(tick.touches)
    ours = this_tick(listener.collect(2.0, until=lambda m: len(this_tick(m)) >= want))
    assert len(ours) == want
    assert ours[1][1:] == ("/ensemble/gestures", list(tick.ensemble))
    touches = [m for m in ours if m[1].endswith("/touch")]
    assert [m[1] for m in touches] == [f"/ensemble/{e.player}/touch" for e in tick.touches]
    np.testing.assert_allclose(
        [m[2] for m in touches],
        [[e.x, e.y, e.velocity] for e in tick.touches],
        rtol=1e-6,
    )
    assert bridge.stats.timing["touch_late"] and bridge.stats.counts["ticks_redone"] == 0


def test_a_lead_just_before_the_tick_counts_next_tick_one_long_before_is_redone(bridge):
    bridge.apply(SetLead(2))
    bridge._prepare_pending()
    bridge.apply(SetLead(7))  # within LEAD_LAG of the tick below
    assert bridge.tick(time.monotonic(), 0.5).lead == 2
    bridge._prepare_pending()
    bridge.apply(SetLead(1))
    late = bridge._prepared_at + 1.0  # the tick came a second after the step was made
    tick = bridge.tick(late, 0.5)
    assert tick.lead == 1 and bridge.stats.counts["ticks_redone"] == 1
    bridge._prepare_pending()
    bridge.apply(Reset())  # drops the prepared step: made again in time
    assert bridge._pending is None and bridge._prepare_due() is not None


def test_reading_looks_at_the_clock_after_every_datagram(bridge):
    address = bridge.sock.getsockname()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
        for i in range(40):
            flood.sendto(osc("/lead/gesture", i % 9), address)
    time.sleep(0.2)  # all in the bridge's socket buffer
    bridge._read_datagrams(deadline=time.monotonic() - 1.0)  # a tick is already due
    assert bridge.stats.counts["received"] == 1
    for _ in range(1000):
        bridge._read_datagrams(deadline=None)
        if bridge.stats.counts["received"] == 40:
            break
    assert bridge.stats.counts["received"] == 40 and bridge.session.lead == 39 % 9


def test_a_pause_between_stop_and_continue_is_not_taken_for_a_slow_tempo(tiny_model, listener):
    # A DAW at 300 BPM (0.2 s a step) stops, waits 2 s, sends its song position and
    # Continue: the first step after it is still 0.2 s long, so its touches are spread
    # over 0.2 s (a pause counted as a step spread them over 1.1 s: most were cut off).
    import mido

    config = BridgeConfig(
        osc_out=[f"127.0.0.1:{listener.port}"], period=0.5, quiet=True, clock="midi"
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    bridge = Bridge(config, session(tiny_model), sock, OscSender(config.osc_targets()))
    try:

        def play(steps: int) -> None:
            for _ in range(steps):
                for _ in range(PULSES_PER_STEP):
                    bridge.handle_midi(mido.Message("clock"))
                time.sleep(0.2)

        bridge.handle_midi(mido.Message("start"))
        play(8)
        assert bridge.period.value == pytest.approx(0.2, abs=0.05)
        for again in (["songpos", "continue"], ["start"]):
            bridge.handle_midi(mido.Message("stop"))
            time.sleep(2.0)
            for kind in again:
                bridge.handle_midi(mido.Message(kind, **({"pos": 8} if kind == "songpos" else {})))
            play(1)
            assert bridge.period.value == pytest.approx(0.2, abs=0.05), again
    finally:
        bridge.close()
