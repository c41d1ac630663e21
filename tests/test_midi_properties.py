"""Property-based tests (hypothesis) of every MIDI handler, with arbitrary messages.

Whatever arrives on a MIDI input, the bridge never raises: a message sets a lead
gesture 0-8, is rejected (counted), steps the clock, or is ignored.
"""

from __future__ import annotations

import socket

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpus_index
from bridge.app import Bridge
from bridge.clock import MIDI_CLOCK_MESSAGES, PULSES_PER_SIXTEENTH, PULSES_PER_STEP, MidiClock
from bridge.config import BridgeConfig, MidiMapping
from bridge.midi import MidiRejected, lead_gesture, liveliness, parse_message
from bridge.osc import OscSender
from bridge.session import Session
from gesture_rnn.runtime import load

# No time limit per example: a busy test machine is not a failure (speed is in bench/).
no_deadline = settings(deadline=None)


def _message(data: bytes) -> mido.Message | None:
    return parse_message(list(data))


@no_deadline
@given(st.binary(max_size=64))
def test_any_bytes_from_rtmidi_are_a_message_or_none(data):
    message = parse_message(list(data))
    assert message is None or isinstance(message, mido.Message)


# Any bytes that parse as one MIDI message (what rtmidi hands over), every kind included.
any_message = st.binary(min_size=1, max_size=8).map(_message).filter(lambda m: m is not None)
status = st.integers(0x80, 0xFF)
data_byte = st.integers(0, 127)
channel_message = st.builds(
    lambda s, a, b: _message(bytes([s, a, b])[: 2 if s & 0xF0 in (0xC0, 0xD0) else 3]),
    st.integers(0x80, 0xEF),
    data_byte,
    data_byte,
).filter(lambda m: m is not None)
realtime = st.sampled_from(["clock", "start", "continue", "stop"]).map(mido.Message)
song_position = st.integers(0, 16383).map(lambda pos: mido.Message("songpos", pos=pos))
messages = st.one_of(any_message, channel_message, realtime, song_position)

mappings = st.builds(
    MidiMapping,
    lead_note_base=st.integers(0, 119),
    lead_cc=st.integers(0, 127),
)


@no_deadline
@given(messages, mappings)
def test_lead_gesture_is_a_gesture_none_or_rejected(message, mapping):
    try:
        gesture = lead_gesture(message, mapping)
    except MidiRejected:
        assert message.type == "control_change" and message.control == mapping.lead_cc
        assert message.value > 8
        return
    if gesture is not None:
        assert 0 <= gesture <= 8
    if message.type == "note_on" and message.velocity > 0:
        expected = message.note - mapping.lead_note_base
        assert gesture == (expected if 0 <= expected <= 8 else None)
    elif message.type == "control_change" and message.control == mapping.lead_cc:
        assert gesture == message.value
    else:
        assert gesture is None


clock_events = st.one_of(
    st.sampled_from(["clock", "start", "continue", "stop"]), st.integers(0, 16383)
)


@no_deadline
@given(st.lists(clock_events, max_size=300))
def test_midi_clock_steps_on_the_quarter_notes_of_the_song_position(events):
    clock = MidiClock()
    running, pulses_since_start, steps, expected = True, 0, 0, 0
    for event in events:
        if isinstance(event, int):  # Song Position Pointer, in sixteenths
            clock.song_position(event)
            pulses_since_start = event * PULSES_PER_SIXTEENTH
            continue
        if event == "clock":
            stepped = clock.pulse()
            assert not stepped or running  # never while stopped
            if running:
                expected += pulses_since_start % PULSES_PER_STEP == 0
                pulses_since_start += 1
            steps += stepped
        elif event == "start":
            clock.start()
            running, pulses_since_start = True, 0
        elif event == "continue":
            clock.resume()
            running = True
        else:
            clock.stop()
            running = False
    assert steps == expected


@pytest.fixture(scope="module")
def bridge(tiny_model):
    """A real bridge (no loop, no MIDI ports) to hand messages to, as the loop would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    session = Session(load(tiny_model), corpus_index.open(None), 1.0, seed=0)
    config = BridgeConfig(clock="midi", quiet=True, virtual_midi=True)
    bridge = Bridge(config, session, sock, OscSender([sink.getsockname()]))
    yield bridge
    bridge.close()
    sink.close()


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200, deadline=None
)
@given(st.lists(messages, max_size=60))
def test_handle_midi_never_raises_and_keeps_the_lead_a_gesture(bridge, batch):
    mapping = bridge.config.midi
    for message in batch:
        ticks, counts = bridge.session.ticks, dict(bridge.stats.counts)
        lively = liveliness(message, mapping)
        try:
            gesture = lead_gesture(message, mapping)
        except MidiRejected:
            gesture = "rejected"
        bridge.handle_midi(message)
        assert 0 <= bridge.session.lead <= 8
        if message.type in MIDI_CLOCK_MESSAGES:
            assert bridge.session.ticks - ticks in (0, 1)  # the clock: at most one step
            assert bridge.session.ticks == ticks or message.type == "clock"
        elif lively is not None:  # the liveliness CC
            assert bridge.session.liveliness == lively
            assert bridge.stats.counts["received"] == counts.get("received", 0) + 1
        elif gesture == "rejected":
            assert bridge.stats.counts["rejected"] == counts.get("rejected", 0) + 1
        elif gesture is not None:
            assert bridge.session.lead == gesture
            assert bridge.stats.counts["received"] == counts.get("received", 0) + 1
        else:
            assert dict(bridge.stats.counts) == counts  # ignored
