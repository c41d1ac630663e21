"""MIDI in and out through mido (python-rtmidi): see docs/midi.md.

The backend is mido's own choice, so ``MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK``
selects JACK. Incoming messages arrive on rtmidi's thread; they are handed to the
bridge's loop through ``on_message`` and never touch the session directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import mido

from gesture_rnn.midi_map import cc_value, gesture_value

from .config import BridgeConfig, MidiMapping
from .session import Tick, TouchEvent

log = logging.getLogger(__name__)

VIRTUAL_IN = "Gesture-RNN In"
VIRTUAL_OUT = "Gesture-RNN Out"
CLIENT_NAME = "Gesture-RNN"  # the virtual ports' client, as ALSA and JACK list it
JACK_HINT = (
    "no ALSA sequencer here (/dev/snd/seq); to use JACK instead, start jackd and run with "
    "MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK"
)


class MidiError(Exception):
    """A MIDI port cannot be opened: one line, exit code 2."""


class MidiRejected(ValueError):
    """An incoming message that looks meant for us but is out of range."""


def find_port(available: list[str], wanted: str, kind: str) -> str:
    """The port named ``wanted``, or the one whose name contains it (any case)."""
    if wanted in available:
        return wanted
    matches = [name for name in available if wanted.lower() in name.lower()]
    if len(matches) == 1:
        return matches[0]
    listing = ", ".join(repr(n) for n in available) or "none"
    if not matches:
        raise MidiError(f"no MIDI {kind} port matches {wanted!r}; available: {listing}")
    raise MidiError(f"{len(matches)} MIDI {kind} ports match {wanted!r}: {listing}; be more exact")


def lead_gesture(message: mido.Message, mapping: MidiMapping) -> int | None:
    """The lead gesture a message sets, None if it sets none, MidiRejected if out of range."""
    if message.type == "note_on" and message.velocity > 0:
        gesture = message.note - mapping.lead_note_base
        return gesture if 0 <= gesture <= 8 else None
    if message.type == "control_change" and message.control == mapping.lead_cc:
        if message.value > 8:
            raise MidiRejected(f"CC {mapping.lead_cc} value {message.value}: gestures are 0-8")
        return message.value
    return None


def liveliness(message: mido.Message, mapping: MidiMapping) -> float | None:
    """The liveliness a CC ``mapping.liveliness_cc`` sets, else None.

    Value 0 is 0 (the ensemble never changes), 64 is 1 (as trained), 127 is 4, in a
    straight line between each: ``v / 64`` up to 64, ``1 + 3 (v - 64) / 63`` above.
    """
    if message.type != "control_change" or message.control != mapping.liveliness_cc:
        return None
    v = message.value
    return v / 64 if v <= 64 else 1 + 3 * (v - 64) / 63


class MidiIO:
    """The MIDI ports the options ask for, opened at start and closed at exit."""

    def __init__(
        self, config: BridgeConfig, players: int, on_message: Callable[[mido.Message], None]
    ):
        self.players = players
        self.mapping = config.midi
        self.scale = config.cc_scale
        self.inputs: list = []
        self.outputs: list = []
        try:
            if config.virtual_midi:
                self.inputs.append(
                    mido.open_input(
                        VIRTUAL_IN, virtual=True, client_name=CLIENT_NAME, callback=on_message
                    )
                )
                self.outputs.append(
                    mido.open_output(VIRTUAL_OUT, virtual=True, client_name=CLIENT_NAME)
                )
            if config.midi_in:
                name = find_port(mido.get_input_names(), config.midi_in, "input")
                self.inputs.append(mido.open_input(name, callback=on_message))
            if config.midi_out:
                name = find_port(mido.get_output_names(), config.midi_out, "output")
                self.outputs.append(mido.open_output(name))
        except MidiError:
            self.close()
            raise
        except (OSError, RuntimeError, ImportError) as error:  # rtmidi's own errors
            self.close()
            hint = f"; {JACK_HINT}" if "ALSA" in str(error) else ""
            raise MidiError(f"cannot open MIDI ports: {str(error).rstrip('.')}{hint}") from None
        self._sounding: set[tuple[int, int]] = set()

    @property
    def names(self) -> tuple[list[str], list[str]]:
        return [p.name for p in self.inputs], [p.name for p in self.outputs]

    def _send(self, message: mido.Message) -> None:
        for port in self.outputs:
            port.send(message)

    def channel(self, player: int) -> int:
        """mido's 0-based channel of ensemble player ``player`` (1-based)."""
        return self.mapping.channel(player)

    def tick(self, tick: Tick) -> None:
        for player, gesture in enumerate(tick.ensemble, start=1):
            self._send(
                mido.Message(
                    "control_change",
                    channel=self.channel(player),
                    control=self.mapping.gesture_cc,
                    value=gesture_value(gesture, self.scale),
                )
            )

    def touch(self, event: TouchEvent) -> tuple[int, int] | None:
        """CC x and y; a note at a touch-down. Returns (channel, note) to end later."""
        channel = self.channel(event.player)
        m = self.mapping
        self._send(
            mido.Message("control_change", channel=channel, control=m.x_cc, value=cc_value(event.x))
        )
        self._send(
            mido.Message("control_change", channel=channel, control=m.y_cc, value=cc_value(event.y))
        )
        if not event.down:
            return None
        note = m.touch_note(event.x)
        self._send(mido.Message("note_on", channel=channel, note=note, velocity=m.touch_velocity))
        self._sounding.add((channel, note))
        return channel, note

    def note_off(self, channel: int, note: int) -> None:
        if (channel, note) in self._sounding:
            self._sounding.discard((channel, note))
            self._send(mido.Message("note_off", channel=channel, note=note, velocity=0))

    def all_notes_off(self) -> None:
        for channel, note in list(self._sounding):
            self.note_off(channel, note)
        for channel in sorted({self.channel(p) for p in range(1, self.players + 1)}):
            self._send(mido.Message("control_change", channel=channel, control=123, value=0))

    def close(self) -> None:
        for port in self.inputs + self.outputs:
            try:
                port.close()
            except Exception as error:  # closing must never stop the shutdown
                log.debug("closing %s: %s", port, error)
        self.inputs, self.outputs = [], []
