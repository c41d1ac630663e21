"""The bridge's MIDI mapping in-process: messages to lead gestures, gestures to CC values,
and port names, without opening a port."""

from __future__ import annotations

import mido
import pytest

from bridge.config import MidiMapping
from bridge.midi import MidiError, MidiRejected, find_port, gesture_value, lead_gesture

MAPPING = MidiMapping()  # notes 60-68 and CC 20 set the lead


@pytest.mark.parametrize("gesture", range(9))
def test_notes_60_to_68_set_lead_gestures_0_to_8(gesture):
    message = mido.Message("note_on", note=60 + gesture, velocity=100)
    assert lead_gesture(message, MAPPING) == gesture


@pytest.mark.parametrize(
    "message",
    [
        mido.Message("note_on", note=59, velocity=100),  # below the range
        mido.Message("note_on", note=69, velocity=100),  # above it
        mido.Message("note_on", note=62, velocity=0),  # a note-off in disguise
        mido.Message("note_off", note=62),
        mido.Message("control_change", control=21, value=3),  # another controller
        mido.Message("program_change", program=3),
        mido.Message("clock"),
    ],
)
def test_other_messages_set_no_gesture(message):
    assert lead_gesture(message, MAPPING) is None


def test_cc_value_sets_the_lead_and_out_of_range_is_rejected():
    assert lead_gesture(mido.Message("control_change", control=20, value=0), MAPPING) == 0
    assert lead_gesture(mido.Message("control_change", control=20, value=8), MAPPING) == 8
    with pytest.raises(MidiRejected, match="CC 20 value 9: gestures are 0-8"):
        lead_gesture(mido.Message("control_change", control=20, value=9), MAPPING)


def test_a_changed_mapping_is_honoured():
    mapping = MidiMapping(lead_note_base=36, lead_cc=1)
    assert lead_gesture(mido.Message("note_on", note=40, velocity=1), mapping) == 4
    assert lead_gesture(mido.Message("note_on", note=64, velocity=1), mapping) is None
    assert lead_gesture(mido.Message("control_change", control=1, value=5), mapping) == 5
    assert lead_gesture(mido.Message("control_change", control=20, value=5), mapping) is None


def test_gesture_values_raw_and_spread_over_0_127():
    assert [gesture_value(g, "raw") for g in range(9)] == list(range(9))
    spread = [gesture_value(g, "spread") for g in range(9)]
    assert spread[0] == 0 and spread[8] == 127 and spread[4] == 64
    assert spread == sorted(set(spread))  # nine distinct, rising values


PORTS = ["Midi Through:Midi Through Port-0 14:0", "IAC Driver Bus 1", "IAC Driver Bus 2"]


def test_find_port_exact_name_wins_over_a_substring():
    ports = ["Bus", "Bus 2"]
    assert find_port(ports, "Bus", "input") == "Bus"


def test_find_port_by_unique_substring_in_any_case():
    assert find_port(PORTS, "midi through", "input") == PORTS[0]
    assert find_port(PORTS, "bus 2", "output") == "IAC Driver Bus 2"


def test_find_port_with_no_match_lists_what_there_is():
    with pytest.raises(MidiError) as info:
        find_port(PORTS, "Launchpad", "input")
    assert str(info.value).startswith("no MIDI input port matches 'Launchpad'; available: ")
    assert "'IAC Driver Bus 1'" in str(info.value)
    with pytest.raises(MidiError, match="available: none"):
        find_port([], "Launchpad", "output")


def test_find_port_with_several_matches_asks_for_a_more_exact_name():
    with pytest.raises(MidiError, match="2 MIDI output ports match 'IAC'.*be more exact"):
        find_port(PORTS, "IAC", "output")
