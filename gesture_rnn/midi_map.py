"""How gestures and touches become MIDI: one definition, used by the live bridge and by
``generate --out-midi`` (see docs/midi.md). Channels here are 1-based, as DAWs count;
the functions return mido's 0-based numbers."""

from __future__ import annotations

from dataclasses import dataclass

CC_SCALES = ("raw", "spread")


@dataclass
class MidiNumbers:
    """MIDI numbers; the bridge reads every one from the ``[midi]`` table of its TOML file."""

    lead_note_base: int = 60  # note-on 60..68 sets lead gesture 0..8
    lead_cc: int = 20  # CC 20 value 0..8 sets the lead gesture
    liveliness_cc: int = 23  # CC 23: 0 -> liveliness 0, 64 -> 1, 127 -> 4 (docs/midi.md)
    gesture_cc: int = 20  # out: the player's gesture at every tick
    x_cc: int = 21  # out: touch x
    y_cc: int = 22  # out: touch y
    first_channel: int = 2  # ensemble player 1 on channel 2 (1-based, as DAWs count)
    touch_note_low: int = 48  # a touch-down's note: x across low..high
    touch_note_high: int = 84
    touch_velocity: int = 100
    note_length: float = 0.1  # seconds

    def channel(self, player: int) -> int:
        """mido's 0-based channel of ensemble player ``player`` (1-based)."""
        return (self.first_channel - 1 + player - 1) % 16

    def lead_channel(self) -> int:
        """mido's channel for the lead: the one before the ensemble's first."""
        return (self.first_channel - 2) % 16

    def touch_note(self, x: float) -> int:
        """The note of a touch-down at ``x`` (0-1, left to right)."""
        return self.touch_note_low + round(x * (self.touch_note_high - self.touch_note_low))


def gesture_value(gesture: int, scale: str) -> int:
    """A gesture code 0-8 as a CC value: ``raw`` 0-8, or ``spread`` over 0-127."""
    return round(gesture * 127 / 8) if scale == "spread" else gesture


def cc_value(value: float) -> int:
    """A touch coordinate 0-1 as a CC value 0-127."""
    return max(0, min(127, round(value * 127)))
