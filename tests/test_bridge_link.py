"""--clock link: the beat grid alone, then the real bridge beside a second, real Link peer.

The peer (tests/link_peer.py, aalink in a process of its own) receives the bridge's OSC and
reads its own beat the moment each tick arrives, so "on the beat" is measured where a
musician would hear it. These tests run inside a private network namespace (see
tests/link_netns.py): Link's multicast never leaves the machine.
"""

from __future__ import annotations

import json
import math
import os
import re
import select
import time

import numpy as np
import pytest

from bridge.clock import BeatClock, Timeline
from tests.bridge_process import BridgeProcess, free_udp_port, run_bridge_once
from tests.link_netns import LinkPeer, in_private_network

# -- the beat grid, no Link ----------------------------------------------------------------


class Line:
    """A timeline that a test can change, as the Link thread would."""

    def __init__(self, **fields):
        self.value = Timeline(**{"at": 0.0, "beat": 0.0, "tempo": 120.0, **fields})

    def __call__(self):
        return self.value


def serve(clock: BeatClock, now: float, until: float) -> list[tuple[float, float]]:
    """Fire every step due before ``until``, as the bridge's loop does: (due, beat) each."""
    served = []
    while (step := clock.next_step(now))[0] < until:
        served.append(step)
        now = step[0]
        clock.advance(now)
    return served


def test_steps_fall_on_the_grid_of_beats_and_follow_the_tempo_from_the_next_step():
    line = Line(beat=0.3)
    clock = BeatClock(line, beats_per_step=1)
    due, beat = clock.next_step(0.0)
    assert beat == 1 and due == pytest.approx(0.35)  # 0.7 beats at 2 beats a second
    clock.advance(due)
    assert clock.next_step(due)[1] == 2
    line.value = Timeline(at=0.5, beat=1.4, tempo=60.0)  # slower, from here on
    assert clock.next_step(0.5) == (pytest.approx(1.1), 2)
    assert clock.period == pytest.approx(1.0)


def test_a_beat_that_jumps_forward_skips_and_one_that_jumps_back_does_not_repeat():
    line = Line()
    clock = BeatClock(line, beats_per_step=1)
    first = serve(clock, 0.0, 1.1)  # beats 0, 1, 2 at 0, 0.5, 1.0 s
    assert [b for _, b in first] == [0, 1, 2]
    line.value = Timeline(at=1.2, beat=5.4, tempo=120.0)  # a peer joined: 3 beats ahead
    due, beat = clock.next_step(1.2)
    assert beat == 6 and due == pytest.approx(1.5)  # skipped, not played in a burst
    clock.advance(due)
    assert clock.skipped == 3
    line.value = Timeline(at=1.6, beat=5.0, tempo=120.0)  # back by 1.2 beats
    due, beat = clock.next_step(1.6)
    assert due - 1.5 >= 0.25  # never within half a step of the last one
    assert beat == 6 and due == pytest.approx(2.1)


def test_latency_sends_ahead_and_start_stop_waits_for_play_and_the_count_in():
    line = Line(beat=-2.2, playing=False)
    clock = BeatClock(line, beats_per_step=2, latency=0.02, start_stop=True)
    assert clock.next_step(0.0) == (math.inf, None)
    line.value = Timeline(at=0.0, beat=-2.2, tempo=120.0, playing=True)
    due, beat = clock.next_step(0.0)
    assert beat == 0 and due == pytest.approx(1.1 - 0.02)  # not on the count-in's beat -2


def test_bad_link_options_are_one_line(tmp_path, tiny_model):
    for args, words in [
        (["--quantum", "4", "--beats-per-step", "3"], "--quantum 4 must be a whole number"),
        (["--tempo", "5"], "--tempo 5"),
        (["--link-latency", "-3"], "--link-latency -3"),
    ]:
        result = run_bridge_once("--port", free_udp_port(), "--clock", "link", *args)
        assert result.returncode == 2 and words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_without_aalink_the_bridge_says_how_to_install_it(tmp_path, tiny_model):
    (tmp_path / "aalink.py").write_text("raise ImportError('no aalink here')\n")
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.getcwd()}"}
    result = subprocess.run(
        [sys.executable, "-m", "gesture_rnn", "bridge", "--model", tiny_model,
         "--port", str(free_udp_port()), "--clock", "link"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert 'pip install "gesture-rnn[link]"' in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- a real bridge beside a real Link peer ---------------------------------------------------


def beat_errors_ms(ticks: list[dict]) -> np.ndarray:
    """How far from the nearest of the peer's beats each tick arrived, in milliseconds."""
    return np.array([(t["beat"] - round(t["beat"])) * 60_000 / t["tempo"] for t in ticks])


def assert_on_the_beat(ticks: list[dict]) -> None:
    """Typically within a few milliseconds, each within LATE_STEP; the bounds are generous
    for a busy test machine (bench/bridge.py --clock link measures the real figures)."""
    errors = np.abs(beat_errors_ms(ticks))
    assert np.median(errors) < 3 and np.all(errors < 50), errors


@in_private_network
def test_steps_land_on_the_peers_beats_and_follow_its_tempo(tiny_model, tmp_path):
    peer = LinkPeer("--tempo", 90)
    # Link keeps the older of two sessions, by more than half a second (two younger ones
    # settle on either): let the peer's session age, as a DAW's set has, before joining.
    time.sleep(1.5)
    bridge = None
    try:
        bridge = BridgeProcess(
            "--model", tiny_model, "--clock", "link", "--osc-out", f"127.0.0.1:{peer.port}",
            "--stats", tmp_path / "stats.json",
        )  # fmt: skip
        assert "link clock every 1 beat (quantum 4): " in bridge.ready_line
        assert re.search(r"\d+\.\d BPM beat -?\d+\.\d \d+ peers?", bridge.ready_line)
        peer.wait(lambda e: e.get("peers") == 1, 10)
        peer.ticks(2, 5)  # the bridge may still be joining the session's beat line
        at_90 = peer.ticks(6, 10)  # the bridge, started at 120 BPM, pushed nothing
        peer.command("tempo 150")
        peer.ticks(1, 5)  # the step already under way when the tempo changed
        at_150 = peer.ticks(6, 10)
        peer.command("jump 2.5")
        jumped = peer.ticks(6, 10)
    finally:
        code, out, err = bridge.stop() if bridge else (0, "", "")
        peer.close()
    assert code == 0, err
    assert "90.0 BPM" in out and "150.0 BPM" in out and "1 peer" in out  # the live view
    for ticks, tempo in ((at_90, 90.0), (at_150, 150.0)):
        assert all(t["tempo"] == pytest.approx(tempo) for t in ticks)
        beats = [round(t["beat"]) for t in ticks]
        assert np.all(np.diff(beats) == 1), beats  # every beat, none skipped or repeated
        assert_on_the_beat(ticks)
    # Each step's touches are spread over its length at the tempo of the moment: with a
    # fixed length (the internal clock's 1 s) most of them would be cut off by the next step.
    stats = json.loads((tmp_path / "stats.json").read_text())
    sent, dropped = stats["touch_late"]["n"], stats["touches_dropped"]
    assert sent > 50 and dropped < 0.1 * (sent + dropped), (sent, dropped)
    # after the beat line jumped by 2.5 beats: no burst, and back on the beats
    times = np.array([t["beat"] for t in jumped])
    assert np.all(np.diff(times) > 0.5), times
    assert_on_the_beat(jumped[1:])


@in_private_network
def test_start_stop_sync_stops_and_starts_the_steps_with_the_session(tiny_model):
    peer = LinkPeer("--tempo", 120, "--start-stop", "--stopped")
    bridge = None
    try:
        bridge = BridgeProcess(
            "--model", tiny_model, "--clock", "link", "--link-start-stop",
            "--osc-out", f"127.0.0.1:{peer.port}",
        )  # fmt: skip
        ready = bridge.ready_line
        peer.wait(lambda e: e.get("peers") == 1, 10)
        with pytest.raises(AssertionError):
            peer.ticks(1, 1.5)  # stopped: three beats without a step
        peer.command("play")
        playing = peer.ticks(4, 10)
        peer.command("stop")
        peer.drain()
        with pytest.raises(AssertionError):
            peer.ticks(1, 1.5)
        peer.command("play")
        again = peer.ticks(3, 10)
    finally:
        code, out, err = bridge.stop() if bridge else (0, "", "")
        peer.close()
    assert code == 0, err
    assert "stopped" in ready and "peer playing" in out  # the ready line, the live view
    for ticks in (playing, again):
        assert np.all(np.diff([round(t["beat"]) for t in ticks]) == 1)
        assert_on_the_beat(ticks)


@in_private_network
def test_tempo_is_the_tempo_of_a_session_the_bridge_starts_and_others_join_it(tiny_model):
    bridge = BridgeProcess("--model", tiny_model, "--clock", "link", "--tempo", 100)
    peer = None
    try:
        assert "100.0 BPM" in bridge.ready_line and "0 peers" in bridge.ready_line
        time.sleep(1.5)  # the bridge's session is the older one (see the first test)
        peer = LinkPeer("--tempo", 80)
        peer.wait(lambda e: e.get("peers") == 1, 10)
        done = {}
        for _ in range(50):  # the peer adopts the session within a second or two
            done = peer.command("noop")
            if done["tempo"] == pytest.approx(100):
                break
            time.sleep(0.1)
    finally:
        code, _, err = bridge.stop()
        if peer is not None:
            peer.close()
    assert code == 0, err
    assert done["tempo"] == pytest.approx(100)


@in_private_network
def test_quiet_bridge_says_when_peers_join_and_leave_and_at_what_tempo(tiny_model):
    # With --quiet the ready line is all a performer sees, and it is printed before Link
    # has found anyone (120.0 BPM, 0 peers, while a DAW plays at 90): a line when the
    # peers change says the session was joined, at its tempo, and when it was left.
    peer = LinkPeer("--tempo", 90)
    time.sleep(1.5)  # the peer's session is the older one (see the first test)
    bridge = BridgeProcess(
        "--model", tiny_model, "--clock", "link", "--quiet", "--osc-out", f"127.0.0.1:{peer.port}"
    )  # fmt: skip
    try:
        peer.wait(lambda e: e.get("peers") == 1, 10)
        peer.ticks(2, 10)
    finally:
        peer.close()  # the peer leaves the session
    seen, deadline = "", time.monotonic() + 15  # Link forgets a peer that left within 5 s
    while "0 peers" not in seen and time.monotonic() < deadline:
        if select.select([bridge.proc.stderr], [], [], deadline - time.monotonic())[0]:
            seen += os.read(bridge.proc.stderr.fileno(), 1 << 16).decode()  # unbuffered
    code, out, err = bridge.stop()
    err = seen + err
    assert code == 0, err
    assert re.search(r"Ableton Link: 1 peer, 90\.0 BPM", err), err
    assert re.search(r"Ableton Link: 0 peers, 90\.0 BPM", err), err
    assert "tick " not in out  # still quiet
