"""MIDI as a DAW sees it, through a JACK server of this module's own (dummy backend): port
names, and MIDI clock with Song Position Pointer (Start, clocks, Stop, SPP, Continue)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.bridge_process import BridgeProcess, Listener, free_udp_port
from tests.models import tiny_model_file

JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"


@pytest.fixture(scope="module")
def jack_env(jack_server):
    """The test session's own JACK server (tests/conftest.py), as the bridge's environment."""
    return jack_server.env


def wait_for_port(mido, part, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        names = [n for n in mido.get_output_names() if part in n]
        if names:
            return names[0]
        time.sleep(0.05)
    raise AssertionError(f"the bridge's {part!r} port did not appear")


def ticks(messages):
    return [m for m in messages if m[1] == "/ensemble/tick"]


def test_steps_after_song_position_and_continue_land_on_the_daws_quarter_notes(jack_env, tmp_path):
    import mido

    backend = mido.Backend(JACK_BACKEND)
    model = tiny_model_file(tmp_path / "tiny.h5")
    listener = Listener()
    bridge = BridgeProcess(
        "--model", model, "--virtual-midi", "--clock", "midi",
        "--osc-out", f"127.0.0.1:{listener.port}", env=jack_env,
    )  # fmt: skip
    to_bridge = None

    def clocks(n):
        for _ in range(n):
            to_bridge.send(mido.Message("clock"))
            time.sleep(0.002)

    try:
        to_bridge = backend.open_output(wait_for_port(backend, "Gesture-RNN In"))
        to_bridge.send(mido.Message("start"))
        clocks(24 + 18)  # the DAW plays a quarter note and three sixteenths...
        first = listener.collect(3.0, until=lambda m: len(ticks(m)) >= 2)
        to_bridge.send(mido.Message("stop"))
        # ...the musician moves to bar 1, beat 3 and a sixteenth (sixteenth 9 = pulse 54)
        # and plays on: the first clock is pulse 54, the next quarter note (pulse 72) the 19th.
        to_bridge.send(mido.Message("songpos", pos=9))
        to_bridge.send(mido.Message("continue"))
        clocks(18)
        early = listener.collect(1.0, until=lambda m: len(ticks(m)) >= 1)
        clocks(1)
        on_the_quarter = listener.collect(3.0, until=lambda m: len(ticks(m)) >= 1)
        clocks(23)
        between = listener.collect(1.0, until=lambda m: len(ticks(m)) >= 1)
        clocks(1)
        next_quarter = listener.collect(3.0, until=lambda m: len(ticks(m)) >= 1)
    finally:
        code, _, err = bridge.stop()
        if to_bridge is not None:
            to_bridge.close()
        listener.close()
    assert code == 0, err
    assert [m[2][0] for m in ticks(first)] == [1, 2]  # pulses 0 and 24 of the Start
    assert ticks(early) == []  # today's bridge counted on from pulse 42: a step at the 7th
    assert [m[2][0] for m in ticks(on_the_quarter)] == [3]
    assert ticks(between) == []
    assert [m[2][0] for m in ticks(next_quarter)] == [4]


def test_virtual_ports_show_as_gesture_rnn_client_name_included(jack_env, tmp_path):
    bridge = BridgeProcess(
        "--model", tiny_model_file(tmp_path / "tiny.h5"), "--virtual-midi", env=jack_env
    )
    try:
        listing = ""
        end = time.monotonic() + 5
        while "Gesture-RNN Out" not in listing and time.monotonic() < end:
            listing = subprocess.run(
                ["jack_lsp"], capture_output=True, text=True, env=jack_env
            ).stdout
    finally:
        code, _, err = bridge.stop()
    assert code == 0, err
    ours = [line for line in listing.splitlines() if "Gesture-RNN" in line]
    assert len(ours) == 2 and all(line.startswith("Gesture-RNN") for line in ours), listing
    assert "RtMidi" not in listing


def test_without_an_alsa_sequencer_the_error_says_how_to_use_jack(tmp_path):
    if os.path.exists("/dev/snd/seq"):
        pytest.skip("this machine has an ALSA sequencer")
    env = {k: v for k, v in os.environ.items() if k != "MIDO_BACKEND"}
    result = subprocess.run(
        [sys.executable, "-m", "gesture_rnn", "bridge", "--port", str(free_udp_port()),
         "--model", str(tiny_model_file(tmp_path / "m.h5")), "--virtual-midi"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK" in result.stderr
    assert "Traceback" not in result.stderr
