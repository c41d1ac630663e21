"""The lead's raw touches: /lead/touch, classified into the lead gesture every tick."""

from __future__ import annotations

import re

import numpy as np
import pytest

import corpus_index
from bridge.commands import LeadTouch
from bridge.osc import OscRejected, parse_command
from bridge.session import Session
from gesture_rnn import touch_classifier
from gesture_rnn.runtime import load
from tests.bridge_process import BridgeProcess, osc


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def classifier():
    return touch_classifier.load()


def session(model_path, classifier, clock):
    return Session(
        load(model_path), corpus_index.open(None), seed=1, touch_classifier=classifier, clock=clock
    )


def fast_taps(s: Session, clock: FakeClock, n: int = 40, seconds: float = 4.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        clock.now += seconds / n
        s.add_touch(rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95), 0.0)


# -- the session, no sockets -------------------------------------------------------------


def test_touches_set_the_lead_at_each_tick_and_silence_brings_it_back_to_n(tiny_model, classifier):
    clock = FakeClock()
    s = session(tiny_model, classifier, clock)
    assert s.tick(1.0).lead == 0
    fast_taps(s, clock)
    tick = s.tick(1.0)
    assert tick.lead == 1 and s.lead == 1  # FT: fast taps
    clock.now += 2.0  # still within five seconds of half the taps
    assert s.tick(1.0).lead in (1, 2)  # taps, fast or slow
    clock.now += 5.0  # the window is empty now
    assert s.tick(1.0).lead == 0


def test_a_gesture_after_the_last_touch_wins_until_the_next_touch(tiny_model, classifier):
    clock = FakeClock()
    s = session(tiny_model, classifier, clock)
    fast_taps(s, clock)
    s.set_lead("SS")
    assert s.tick(1.0).lead == 7
    clock.now += 1.0
    assert s.tick(1.0).lead == 7  # held: no touch since
    fast_taps(s, clock, n=10, seconds=0.5, seed=1)
    assert s.tick(1.0).lead == 1  # touches again: classified (the earlier taps count too)


def test_derived_velocity_tells_a_moving_finger_from_taps(tiny_model, classifier):
    """Same points: 30 a second is one finger moving, 5 a second is separate touch-downs."""
    t = np.linspace(0, 20, 150)
    x, y = 0.5 + 0.3 * np.sin(t), 0.5 + 0.3 * np.cos(0.65 * t)
    gestures = []
    for gap in (1 / 30, 0.2):
        clock = FakeClock()
        s = session(tiny_model, classifier, clock)
        for i in range(0, 150, 1 if gap < 0.1 else 6):
            clock.now += gap
            s.add_touch(float(x[i]), float(y[i]))  # no velocity: the session derives it
        gestures.append(s.tick(1.0).lead)
    moving, tapping = gestures
    assert moving in (3, 4, 5, 6, 7, 8)  # a swipe, swirl or combination
    assert tapping in (1, 2)  # taps


@pytest.mark.parametrize(
    "args, says",
    [
        ((1.5, 0.5), "from 0 to 1"),
        ((0.5, float("nan")), "finite"),
        ((0.5, 0.5, -1.0), "0 or more"),
        ((0.5, "top"), "must be a number"),
        ((True, 0.5), "must be a number"),
    ],
)
def test_bad_touches_are_refused_by_the_session(tiny_model, classifier, args, says):
    s = session(tiny_model, classifier, FakeClock())
    with pytest.raises(ValueError, match=says):
        s.add_touch(*args)
    assert s.tick(1.0).lead == 0


def test_lead_touch_messages_are_checked():
    assert parse_command(osc("/lead/touch", 0.25, 0.75)) == LeadTouch(0.25, 0.75, None)
    assert parse_command(osc("/lead/touch", 0, 1, 3.5)) == LeadTouch(0.0, 1.0, 3.5)
    for args, says in [
        ((0.5,), "takes x y [velocity], got 1"),
        ((0.5, 0.5, 1.0, 2.0), "got 4"),
        ((0.5, 1.01), "from 0 to 1"),
        ((0.5, 0.5, -2.0), "0 or more"),
        ((0.5, "a"), "must be a number"),
        ((float("inf"), 0.5), "finite"),
    ]:
        with pytest.raises(OscRejected, match=re.escape(says)) as caught:
            parse_command(osc("/lead/touch", *args))
        assert caught.value.address == "/lead/touch"


# -- the bridge over UDP -----------------------------------------------------------------


def test_touches_over_udp_set_the_lead_and_bad_ones_are_counted(tiny_model, listener):
    bridge = BridgeProcess(
        "--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}", "--clock", "osc",
    )  # fmt: skip
    rng = np.random.default_rng(2)
    try:
        for _ in range(40):  # 40 touch-downs in an instant: fast taps for five seconds
            x, y = rng.uniform(0.1, 0.9, 2).tolist()
            bridge.send("/lead/touch", x, y, 0.0)
        bridge.send("/lead/touch", 2.0, 0.5)
        bridge.send("/lead/touch", 0.5)
        bridge.send("/bridge/tick")
        listener.collect(2.0, until=lambda m: any(a == "/ensemble/tick" for _, a, _ in m))
        bridge.send("/lead/gesture", "SS")
        bridge.send("/bridge/tick")
        listener.collect(2.0, until=lambda m: any(a == "/ensemble/tick" for _, a, _ in m))
    finally:
        code, out, err = bridge.stop()
    assert code == 0
    views = [line for line in out.splitlines() if line.startswith("tick")]
    assert "lead FT" in views[0]
    assert "lead SS" in views[1] and "rejected 2" in views[1]
    assert "/lead/touch" in err and "from 0 to 1" in err and "Traceback" not in err


def test_lead_touches_window_is_the_last_five_seconds_and_memory_is_bounded():
    from bridge.session import LeadTouches

    rng = np.random.default_rng(3)
    times = np.cumsum(rng.exponential(0.02, 3000))  # about 60 seconds of touches
    buffer = LeadTouches(capacity=500)
    kept = []
    for i, t in enumerate(times):
        buffer.add(t, float(i), 0.0, 0.0)
        kept.append((t, i))
        if i % 97 == 0:  # read a window now and then, as each tick does
            x, _, _ = buffer.window(t)
            expected = [k for tk, k in kept if tk >= t - 5.0]
            assert x.tolist() == expected  # in a 5 s window there are about 250 < 500
    # A flood: 2,000 touches within a second fill the arrays; the newest are kept.
    start = times[-1] + 10
    for i in range(2000):
        buffer.add(start + i * 0.0005, float(i), 0.0, 0.0)
    assert buffer.count <= 500
    x, _, _ = buffer.window(start + 1.0)
    assert x[-1] == 1999.0 and len(x) <= 500 and np.all(np.diff(x) == 1)
    assert buffer.last()[1] == 1999.0
