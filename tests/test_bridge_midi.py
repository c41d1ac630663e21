"""The bridge's MIDI through JACK's dummy backend: real ports, real messages, no sound card."""

from __future__ import annotations

import time

import pytest

from tests.bridge_process import BridgeProcess, Listener
from tests.models import tiny_model_file


@pytest.fixture
def mido_jack(jack_server):
    """mido in this process, on the session's own JACK server."""
    import mido

    return mido


def test_midi_clock_notes_and_ccs_through_jack(mido_jack, jack_server, tmp_path):
    mido = mido_jack
    model = tiny_model_file(tmp_path / "tiny.h5")
    listener = Listener()
    received = []
    bridge = BridgeProcess(
        "--model", model, "--virtual-midi", "--clock", "midi", "--cc-scale", "spread",
        "--osc-out", f"127.0.0.1:{listener.port}", "--record", tmp_path / "take.csv",
        env=jack_server.env,
    )  # fmt: skip
    to_bridge = from_bridge = None
    try:
        assert "Gesture-RNN In" in bridge.ready_line
        to_bridge = mido.open_output(jack_server.wait_for_port("Gesture-RNN In"))
        from_bridge = mido.open_input(
            jack_server.wait_for_port("Gesture-RNN Out"), callback=received.append
        )  # both connected once open: JACK connects before open returns
        to_bridge.send(mido.Message("note_on", note=63, velocity=90))  # lead FS
        to_bridge.send(mido.Message("start"))
        for _ in range(3 * 24):  # three steps' worth of clock
            to_bridge.send(mido.Message("clock"))
            time.sleep(0.004)
        ticks = listener.collect(
            3.0, until=lambda m: sum(a == "/ensemble/tick" for _, a, _ in m) >= 3
        )
        to_bridge.send(mido.Message("stop"))
        for _ in range(48):  # stopped: these pulses must not step
            to_bridge.send(mido.Message("clock"))
        to_bridge.send(mido.Message("control_change", control=20, value=7))  # lead SS
        to_bridge.send(mido.Message("continue"))
        for _ in range(24):
            to_bridge.send(mido.Message("clock"))
            time.sleep(0.004)
        listener.collect(2.0, until=lambda m: any(a == "/ensemble/tick" for _, a, _ in m))
    finally:
        code, _, err = bridge.stop()
        for port in (to_bridge, from_bridge):
            if port is not None:
                port.close()
        listener.close()
    assert code == 0, err
    assert [args[0] for _, a, args in ticks if a == "/ensemble/tick"] == [1, 2, 3]
    tick_numbers = [args[0] for _, a, args in listener.messages if a == "/ensemble/tick"]
    assert tick_numbers == [1, 2, 3, 4]  # nothing while stopped
    leads = [line.split(",")[1] for line in (tmp_path / "take.csv").read_text().splitlines()[1:]]
    assert leads == ["3", "3", "3", "7"]

    gesture_ccs = [m for m in received if m.type == "control_change" and m.control == 20]
    assert {m.channel for m in gesture_ccs} == {1, 2, 3}  # players 1-3 on MIDI channels 2-4
    assert len(gesture_ccs) == 4 * 3
    assert all(m.value in {round(g * 127 / 8) for g in range(9)} for m in gesture_ccs)
    all_off = [m for m in received if m.type == "control_change" and m.control == 123]
    assert {m.channel for m in all_off} == {1, 2, 3}  # all-notes-off at exit


def test_unknown_midi_port_is_one_line_and_exit_code_2(jack_server, tmp_path):
    from tests.bridge_process import free_udp_port, run_bridge_once

    result = run_bridge_once(
        "--port", free_udp_port(), "--model", tiny_model_file(tmp_path / "m.h5"),
        "--midi-in", "No Such Keyboard", env=jack_server.env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "No Such Keyboard" in result.stderr and "Traceback" not in result.stderr


def test_a_flood_is_read_a_bounded_batch_at_a_time(mido_jack, jack_server):
    """One read takes at most READ_MAX messages, so a flood cannot hold the bridge's loop
    (drained whole, it made internal-clock ticks up to 79 ms late); nothing is lost or
    reordered on the way."""
    from bridge.midi import READ_MAX, MidiInput

    port = MidiInput("flood in", virtual=True, client_name="flood-test")
    sender = mido_jack.open_output(jack_server.wait_for_port("flood in"))
    try:
        sent = [mido_jack.Message("control_change", control=1, value=i % 128) for i in range(3000)]
        for message in sent:
            sender.send(message)
        batches: list[list] = []
        end = time.monotonic() + 20
        while sum(map(len, batches)) < len(sent) and time.monotonic() < end:
            batches.append(list(port.receive()))
            time.sleep(0.001)  # the bridge's loop reads about every millisecond
    finally:
        sender.close()
        port.close()
    assert [m for batch in batches for m in batch] == sent
    assert max(map(len, batches)) <= READ_MAX
