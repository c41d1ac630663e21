"""Stopping the bridge while MIDI flows: SIGINT, SIGTERM or SIGHUP, once or twice.

Every stop must exit 0 with all notes off, the stats written and the recording complete.
A DAW (tests/midi_peer.py on our own JACK server) sends the bridge its clock at 1 kHz and
listens on a synth port for what the bridge plays. bench/midi.py runs 100 of these.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bridge_process import BridgeProcess
from tests.jack import MidiPeer
from tests.models import tiny_model_file

ALL_NOTES_OFF = 0x7B  # CC 123


def sounding_notes(lines: list[str]) -> set[tuple[int, int]]:
    """(channel, note) still sounding after the synth's messages (hex lines), in order."""
    sounding: set[tuple[int, int]] = set()
    for line in lines:
        data = bytes.fromhex(line)
        kind, channel = data[0] & 0xF0, data[0] & 0x0F
        if kind == 0x90 and data[2] > 0:
            sounding.add((channel, data[1]))
        elif kind == 0x80 or (kind == 0x90 and data[2] == 0):
            sounding.discard((channel, data[1]))
        elif kind == 0xB0 and data[1] == ALL_NOTES_OFF:
            sounding = {(c, n) for c, n in sounding if c != channel}
    return sounding


def channels_off(lines: list[str]) -> set[int]:
    """The channels (0-based) that got all-notes-off."""
    return {bytes.fromhex(h)[0] & 0x0F for h in lines if h.startswith("B") and " 7B " in h}


def heard_all_off(synth: MidiPeer, channels=(1, 2, 3), timeout: float = 10.0) -> None:
    """Read what the synth receives until all-notes-off came on every player's channel
    (or the timeout: the caller's assertions then say what is missing)."""
    end = time.monotonic() + timeout
    while not set(channels) <= channels_off(synth.lines) and time.monotonic() < end:
        synth.readline(0.1)


@dataclass
class Stopped:
    """How a bridge stopped: exit code (None: no exit within the timeout), stderr, seconds
    from the first signal to the exit, and the lines the DAW's synth port heard."""

    code: int | None
    err: str
    seconds: float
    heard: list[str]


def stop_bridge_on_midi_clock(
    jack, model, take: Path, stats: Path, signals: list[int], gap: float = 0.0
) -> Stopped:
    """Start a bridge on a DAW's 1 kHz clock, recording ``take`` and writing ``stats``;
    once it plays, send ``signals`` (``gap`` seconds apart); wait up to 10 s for the exit,
    then for all-notes-off. Shared by the test below and bench/midi.py."""
    daw = MidiPeer(jack, "daw", "--clock", "--rate", "1000")
    bridge = None
    code, err, began = None, "", time.monotonic()
    try:
        bridge = BridgeProcess(
            "--model", model, "--clock", "midi", "--midi-in", daw.keys, "--midi-out", daw.synth,
            "--record", take, "--stats", stats, "--quiet", env=jack.env,
        )  # fmt: skip
        daw.wait_for_message()  # the bridge plays (a tick's gesture CCs)
        began = time.monotonic()
        for i, sig in enumerate(signals):
            if i and gap:
                time.sleep(gap)
            bridge.proc.send_signal(sig)
        try:
            _, err = bridge.proc.communicate(timeout=10)
            code = bridge.proc.returncode
        except subprocess.TimeoutExpired:
            err = "no exit within 10 s"
        took = time.monotonic() - began
    finally:
        if bridge is not None:
            if bridge.proc.poll() is None:
                bridge.proc.kill()
                bridge.proc.communicate()
            bridge.send_sock.close()
        heard_all_off(daw)
        heard = daw.stop()
    return Stopped(code, err, took, heard)


def stop_while_midi_flows(jack, tmp_path, signals: list[int]) -> dict:
    """Start a bridge on a DAW's 1 kHz clock, send ``signals`` back to back once it plays,
    and check a clean stop; returns the stats."""
    model = tiny_model_file(tmp_path / "tiny.h5")
    take, stats = tmp_path / "take.csv", tmp_path / "stats.json"
    stopped = stop_bridge_on_midi_clock(jack, model, take, stats, signals)
    code, err, heard = stopped.code, stopped.err, stopped.heard
    assert code == 0, err
    assert "Traceback" not in err and "Fatal" not in err, err
    assert sounding_notes(heard) == set()
    assert channels_off(heard) == {1, 2, 3}  # all-notes-off on each player's channel
    summary = json.loads(stats.read_text())
    rows = take.read_text().splitlines()
    assert rows[0] == "time,lead,player1,player2,player3"
    assert summary["ticks"] >= 1
    assert len(rows) - 1 == summary["ticks"]  # every tick recorded, the last line whole
    assert all(len(row.split(",")) == 5 for row in rows[1:])
    return summary


STOPS = [
    [signal.SIGINT],
    [signal.SIGTERM],
    [signal.SIGHUP],
    [signal.SIGINT],
    [signal.SIGTERM],
    [signal.SIGHUP],
    [signal.SIGINT, signal.SIGINT],
    [signal.SIGTERM, signal.SIGTERM],
    [signal.SIGHUP, signal.SIGHUP],
    [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
]


@pytest.mark.parametrize(
    "signals", STOPS, ids=["+".join(signal.Signals(s).name for s in stop) for stop in STOPS]
)
def test_stop_while_midi_flows(jack_server, tmp_path, signals):
    stop_while_midi_flows(jack_server, tmp_path, signals)
