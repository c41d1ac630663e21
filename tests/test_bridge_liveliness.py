"""Liveliness in the bridge: the session, the flag, TOML, OSC and a MIDI CC.

Liveliness 0 keeps every player's gesture, so after a reset (everyone N) a tiny model
with random weights, which leaves N almost every tick at liveliness 1, plays N only.
"""

from __future__ import annotations

import numpy as np
import pytest

import corpus_index
from bridge.config import MidiMapping
from bridge.session import Session
from gesture_rnn.runtime import load
from tests.bridge_process import BridgeProcess, Listener, run_bridge_once


def gestures_of(messages) -> list[tuple]:
    return [tuple(args) for _, address, args in messages if address == "/ensemble/gestures"]


def changes(model_path, liveliness: float, ticks: int = 200) -> int:
    s = Session(load(model_path), corpus_index.open(None), seed=3, liveliness=liveliness)
    played = []
    for t in range(ticks):
        s.set_lead((t // 7) % 9)
        played.append(s.tick(0.01).ensemble)
    played = np.array(played)
    return int(np.count_nonzero(played[1:] != played[:-1]))


def test_session_liveliness_0_never_changes_and_more_changes_more(tiny_model):
    assert changes(tiny_model, 0) == 0
    assert changes(tiny_model, 0.25) < changes(tiny_model, 1) < changes(tiny_model, 4)
    s = Session(load(tiny_model), corpus_index.open(None), seed=1)
    assert s.liveliness == 1.0 and s.set_liveliness("2.5") == 2.5
    for bad in (-1, 10.5, float("nan"), "lots"):
        with pytest.raises(ValueError, match="liveliness"):
            s.set_liveliness(bad)
    with pytest.raises(ValueError, match="liveliness"):
        Session(load(tiny_model), corpus_index.open(None), liveliness=11)


def test_a_prepared_step_is_redone_if_the_liveliness_changed(tiny_model):
    s = Session(load(tiny_model), corpus_index.open(None), seed=1)
    s.set_lead(5)
    early = s.prepare(1.0)
    assert early.tick.ensemble != (0, 0, 0)  # this tiny model leaves N at once
    s.set_liveliness(0)
    assert s.commit(early).ensemble == (0, 0, 0)


def run_ticks(bridge: BridgeProcess, listener: Listener, ticks: int) -> list[tuple]:
    for _ in range(ticks):
        bridge.send("/bridge/tick")
    got = listener.collect(3.0, until=lambda m: len(gestures_of(m)) >= ticks)
    return gestures_of(got)


def test_flag_toml_and_osc(tiny_model, listener, tmp_path):
    common = ("--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}", "--clock", "osc")
    bridge = BridgeProcess(*common, "--liveliness", "0")
    try:
        assert run_ticks(bridge, listener, 5) == [(0, 0, 0)] * 5
    finally:
        bridge.stop()

    config = tmp_path / "bridge.toml"
    config.write_text("liveliness = 0.0\n")
    bridge = BridgeProcess(*common, "--config", config)
    try:
        assert run_ticks(bridge, listener, 5) == [(0, 0, 0)] * 5
    finally:
        bridge.stop()

    bridge = BridgeProcess(*common)
    try:
        assert run_ticks(bridge, listener, 5) != [(0, 0, 0)] * 5  # as trained: it plays
        bridge.send("/bridge/liveliness", 20.0)  # out of range: rejected, counted
        bridge.send("/bridge/liveliness", 0)
        bridge.send("/bridge/reset")
        assert run_ticks(bridge, listener, 5) == [(0, 0, 0)] * 5
    finally:
        _, out, _ = bridge.stop()
    assert out.splitlines()[-1].endswith("rejected 1 ignored 0")


@pytest.mark.parametrize(
    "args, says",
    [(["--liveliness", "11"], "--liveliness"), (["--liveliness", "lively"], "--liveliness")],
)
def test_bad_liveliness_is_one_line_and_exit_code_2(args, says, tiny_model):
    result = run_bridge_once("--model", tiny_model, *args)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0]


def test_midi_cc_maps_0_64_127_to_0_1_4():
    import mido

    from bridge.midi import liveliness

    mapping = MidiMapping()
    cc = mapping.liveliness_cc

    def value(v):
        return liveliness(mido.Message("control_change", control=cc, value=v), mapping)

    assert value(0) == 0 and value(32) == 0.5 and value(64) == 1 and value(127) == 4
    assert value(85) == pytest.approx(2.0)
    assert liveliness(mido.Message("control_change", control=cc + 1, value=3), mapping) is None
    assert liveliness(mido.Message("note_on", note=cc, velocity=3), mapping) is None


def test_midi_cc_sets_the_liveliness_through_jack(jack_server, tiny_model, listener):
    import mido

    bridge = BridgeProcess(
        "--model", tiny_model, "--virtual-midi", "--clock", "osc",
        "--osc-out", f"127.0.0.1:{listener.port}", env=jack_server.env,
    )  # fmt: skip
    port = None
    try:
        port = mido.open_output(jack_server.wait_for_port("Gesture-RNN In"))
        # The connection and the CC settle through JACK in their own time: the CC is sent
        # again each round, and until it arrives the ensemble plays.
        for _ in range(40):
            port.send(mido.Message("control_change", control=MidiMapping().liveliness_cc, value=0))
            bridge.send("/bridge/reset")
            if run_ticks(bridge, listener, 5) == [(0, 0, 0)] * 5:
                break
        else:
            pytest.fail("the ensemble kept changing after CC liveliness 0")
    finally:
        if port is not None:
            port.close()
        bridge.stop()
