"""MIDI ports that go away and come back (a controller unplugged, a DAW quit and started
again): the bridge plays on, logs each change once and reopens the port by name.

The ports are another program's (tests/midi_peer.py) on this session's JACK server;
ending that program removes its ports, starting it again brings them back.
"""

from __future__ import annotations

import signal

from tests.bridge_process import BridgeProcess
from tests.jack import MidiPeer, wait_until
from tests.models import tiny_model_file


def last_lead(take) -> str | None:
    rows = take.read_text().splitlines()[1:]
    return rows[-1].split(",")[1] if rows else None


def test_midi_input_and_output_reopened_by_name_when_they_return(jack_server, tmp_path, listener):
    take = tmp_path / "take.csv"
    keyboard = MidiPeer(jack_server, "kbd", "--rate", "50", "--lead", "3")
    bridge = BridgeProcess(
        "--model", tiny_model_file(tmp_path / "m.h5"), "--period", "0.05", "--quiet",
        "--midi-in", keyboard.keys, "--midi-out", keyboard.synth, "--record", take,
        "--osc-out", f"127.0.0.1:{listener.port}", env=jack_server.env,
    )  # fmt: skip
    try:
        keyboard.wait_for_message()  # the bridge plays to the synth
        wait_until(lambda: last_lead(take) == "3", 10, "lead 3 from the keyboard")
        keyboard.stop()  # unplugged: its ports are gone
        jack_server.wait_gone("kbd-")
        ticks = len(listener.collect(3.0))  # the ensemble plays on meanwhile
        keyboard = MidiPeer(jack_server, "kbd", "--rate", "50", "--lead", "7")  # back
        keyboard.wait_for_message()  # the output was reopened
        wait_until(lambda: last_lead(take) == "7", 10, "lead 7 after the reconnection")
    finally:
        code, _, err = bridge.stop(signal.SIGTERM)
        keyboard.stop()
    assert code == 0, err
    assert ticks > 0
    for kind, name in (("input", "kbd-keys:out"), ("output", "kbd-synth:in")):
        lines = [line for line in err.splitlines() if f"MIDI {kind} '{name}'" in line]
        assert len(lines) == 2, err  # once each way
        assert "is gone" in lines[0] and "is back" in lines[1]


def test_midi_clock_source_restarted(jack_server, tmp_path, listener):
    daw = MidiPeer(jack_server, "daw", "--clock", "--rate", "240")  # 10 steps a second
    bridge = BridgeProcess(
        "--model", tiny_model_file(tmp_path / "m.h5"), "--clock", "midi", "--quiet",
        "--midi-in", daw.keys, "--osc-out", f"127.0.0.1:{listener.port}", env=jack_server.env,
    )  # fmt: skip

    def ticks(messages):
        return sum(address == "/ensemble/tick" for _, address, _ in messages)

    try:
        assert ticks(listener.collect(10, until=lambda m: ticks(m) >= 2)) >= 2
        daw.stop()  # the DAW quits
        jack_server.wait_gone("daw-")
        listener.collect(0.5)  # whatever was on its way
        assert ticks(listener.collect(1.0)) == 0  # no clock, no ticks
        daw = MidiPeer(jack_server, "daw", "--clock", "--rate", "240")  # and starts again
        assert ticks(listener.collect(10, until=lambda m: ticks(m) >= 2)) >= 2
    finally:
        code, _, err = bridge.stop(signal.SIGTERM)
        daw.stop()
    assert code == 0, err
    assert err.count("is gone") == 1 and err.count("is back") == 1, err
