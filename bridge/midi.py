"""MIDI in and out through python-rtmidi and mido: see docs/midi.md.

The API is mido's choice, so ``MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK`` selects
JACK. Outputs are mido ports. Inputs are read by polling rtmidi's own queue from the
bridge's loop (:meth:`MidiIO.receive`), never through a Python callback: a callback runs
on JACK's thread and waits there for Python's lock, while the loop, holding that lock, may
be asking the JACK server to open, close or list a port, which waits for every client's
thread to finish its cycle. Each waited for the other: the bridge hung at start and stop.

Named ports (``--midi-in``, ``--midi-out``) that disappear are closed, logged once, and
reopened by name when they come back (:meth:`MidiIO.check_ports`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import mido
import rtmidi

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
CLOCK_TYPES = ("clock", "start", "continue", "stop")
# An output sends from a buffer once per audio cycle (JACK: often 5-20 ms): closing it
# sooner after the last message loses that message, so the last ones (all-notes-off) wait.
OUTPUT_DRAIN = 0.2  # seconds (0.1 lost it once on a machine loaded far past its cores)
INPUT_QUEUE = 4096  # messages rtmidi holds between two reads of the loop (1 ms apart)
# Messages one read takes from an input; the rest wait for the next read, a millisecond on,
# so a flood (JACK hands over up to some 4,000 a cycle) cannot hold the loop, its ticks
# and its stop: drained whole, it made internal-clock ticks up to 79 ms late.
READ_MAX = 256


class MidiError(Exception):
    """A MIDI port cannot be opened: one line, exit code 2."""


class MidiRejected(ValueError):
    """An incoming message that looks meant for us but is out of range."""


def find_port(available: list[str], wanted: str, kind: str) -> str:
    """The port named ``wanted``, or the one whose name contains it (any case).

    ``kind`` ("input" or "output") names it in the error. Raises MidiError if no port
    or more than one matches, listing ``available``."""
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
    """The lead gesture (0-8) a message sets, None if it sets none.

    Note-on ``lead_note_base``..+8 with velocity > 0, or CC ``lead_cc`` with value 0-8
    (any channel). Raises MidiRejected for CC ``lead_cc`` above 8."""
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


def parse_message(data) -> mido.Message | None:
    """One MIDI message from its bytes (a sequence of ints 0-255), None if they are none.

    mido raises IndexError, not ValueError, for some messages cut short (a pitch bend
    of one byte); rtmidi hands over whatever another program sent."""
    try:
        return mido.Message.from_bytes(data)
    except (ValueError, IndexError, TypeError):
        return None


def _rtmidi_api() -> int:
    """The rtmidi API of mido's backend (``MIDO_BACKEND=.../UNIX_JACK``), else rtmidi's own."""
    api = getattr(mido.backend, "api", None)
    return getattr(rtmidi, f"API_{api}", rtmidi.API_UNSPECIFIED) if api else rtmidi.API_UNSPECIFIED


class MidiInput:
    """One MIDI input port, read by polling (see the module docstring); ``name`` is its name.

    Raises MidiError if the port cannot be opened (rtmidi's own errors, one line)."""

    def __init__(self, name: str, virtual: bool = False, client_name: str | None = None):
        self.name = name
        try:
            self._rt = rtmidi.MidiIn(
                rtapi=_rtmidi_api(), name=client_name, queue_size_limit=INPUT_QUEUE
            )
            # Clock and start/stop are wanted; active sensing is not.
            self._rt.ignore_types(sysex=True, timing=False, active_sense=True)
            if virtual:
                self._rt.open_virtual_port(name)
            else:
                ports = self._rt.get_ports()
                if name not in ports:
                    raise MidiError(f"MIDI input {name!r} is not there")
                self._rt.open_port(ports.index(name))
        except (OSError, RuntimeError, rtmidi.RtMidiError) as error:
            raise MidiError(f"cannot open MIDI input {name!r}: {error}") from None

    def receive(self) -> Iterator[mido.Message]:
        """The messages waiting, oldest first, at most READ_MAX of them (the rest stay
        queued for the next call); bytes that are no MIDI message are skipped."""
        for _ in range(READ_MAX):
            item = self._rt.get_message()
            if item is None:
                return
            message = parse_message(item[0])
            if message is not None:
                yield message

    def close(self) -> None:
        self._rt.close_port()
        self._rt.delete()


@dataclass
class NamedPort:
    """A port asked for by name (``--midi-in`` / ``--midi-out``): what was asked, the name
    it resolved to, and the open port (None while it is gone)."""

    kind: str  # "input" or "output"
    wanted: str
    name: str
    port: object | None = None


class MidiIO:
    """The MIDI ports the options ask for, opened at start and closed at exit.

    ``players`` is the ensemble size (channels ``first_channel`` on). Raises MidiError
    (one line naming the port and what is available) if a port cannot be opened."""

    def __init__(self, config: BridgeConfig, players: int):
        self.players = players
        self.mapping = config.midi
        self.scale = config.cc_scale
        self.inputs: list = []
        self.outputs: list = []
        self.named: list[NamedPort] = []
        self._sounding: set[tuple[int, int]] = set()
        self._drain_until = 0.0
        try:
            api = _rtmidi_api()
            # Listing ports through these two (opened once) asks the JACK server nothing.
            self._list_in = rtmidi.MidiIn(rtapi=api)
            self._list_out = rtmidi.MidiOut(rtapi=api)
            if config.midi_in:
                name = find_port(self._list_in.get_ports(), config.midi_in, "input")
                self.named.append(NamedPort("input", config.midi_in, name))
            if config.midi_out:
                name = find_port(self._list_out.get_ports(), config.midi_out, "output")
                self.named.append(NamedPort("output", config.midi_out, name))
            if config.virtual_midi:
                self.inputs.append(MidiInput(VIRTUAL_IN, virtual=True, client_name=CLIENT_NAME))
                self.outputs.append(
                    mido.open_output(VIRTUAL_OUT, virtual=True, client_name=CLIENT_NAME)
                )
            for named in self.named:
                named.port = self._open(named.kind, named.name)
        except MidiError:
            self.close()
            raise
        except (OSError, RuntimeError, ImportError) as error:  # rtmidi's own errors
            self.close()
            hint = f"; {JACK_HINT}" if "ALSA" in str(error) else ""
            raise MidiError(f"cannot open MIDI ports: {str(error).rstrip('.')}{hint}") from None

    def _open(self, kind: str, name: str):
        if kind == "input":
            port = MidiInput(name)
            self.inputs.append(port)
        else:
            port = mido.open_output(name)
            self.outputs.append(port)
        return port

    def receive(self) -> Iterator[mido.Message]:
        """The messages waiting on every input, at most READ_MAX from each (called by
        the loop, about every ms)."""
        for port in self.inputs:
            yield from port.receive()

    def check_ports(self) -> None:
        """Close the named ports that have disappeared and reopen those that are back.

        Each change is logged once; a port that cannot be reopened yet is tried again at
        the next check. Cheap when nothing changed: listing ports asks no server."""
        if not self.named:
            return
        available = {"input": self._list_in.get_ports(), "output": self._list_out.get_ports()}
        for named in self.named:
            names = available[named.kind]
            if named.port is not None:
                if named.name not in names:
                    log.warning(
                        "MIDI %s %r is gone; playing on, and reopening it when it returns",
                        named.kind,
                        named.name,
                    )
                    self._drop(named)
                continue
            name = named.name if named.name in names else None
            if name is None:
                try:
                    name = find_port(names, named.wanted, named.kind)
                except MidiError:
                    continue  # not back yet (or not one port by that name)
            try:
                named.port = self._open(named.kind, name)
            except (MidiError, OSError, RuntimeError) as error:
                log.debug("MIDI %s %r not reopened yet: %s", named.kind, name, error)
                continue
            named.name = name
            log.warning("MIDI %s %r is back", named.kind, name)

    def _drop(self, named: NamedPort) -> None:
        port, named.port = named.port, None
        if port in self.inputs:
            self.inputs.remove(port)
        if port in self.outputs:
            self.outputs.remove(port)
        _close(port)

    @property
    def names(self) -> tuple[list[str], list[str]]:
        """The names of the open (input, output) ports."""
        return [p.name for p in self.inputs], [p.name for p in self.outputs]

    def _send(self, message: mido.Message) -> None:
        for port in self.outputs:
            port.send(message)

    def channel(self, player: int) -> int:
        """mido's 0-based channel of ensemble player ``player`` (1-based)."""
        return self.mapping.channel(player)

    def tick(self, tick: Tick) -> None:
        """Each player's gesture as CC ``gesture_cc`` on the player's channel."""
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
        """End a note :meth:`touch` started (0-based channel), if it still sounds."""
        if (channel, note) in self._sounding:
            self._sounding.discard((channel, note))
            self._send(mido.Message("note_off", channel=channel, note=note, velocity=0))

    def all_notes_off(self) -> None:
        """A note-off for every note still sounding, then CC 123 on every player's channel."""
        for channel, note in list(self._sounding):
            self.note_off(channel, note)
        for channel in sorted({self.channel(p) for p in range(1, self.players + 1)}):
            self._send(mido.Message("control_change", channel=channel, control=123, value=0))
        self._drain_until = time.monotonic() + OUTPUT_DRAIN

    def close_inputs(self) -> None:
        """Close the inputs: rtmidi's thread stops calling back (first thing at exit)."""
        for port in self.inputs:
            _close(port)
        self.inputs = []

    def close(self) -> None:
        """Close every port still open (inputs first); never raises."""
        self.close_inputs()
        if self.outputs:
            time.sleep(max(0.0, self._drain_until - time.monotonic()))
        for port in self.outputs:
            _close(port)
        self.outputs = []
        for lister in ("_list_in", "_list_out"):
            if hasattr(self, lister):
                _close(getattr(self, lister), "delete")
                delattr(self, lister)


def _close(port, method: str = "close") -> None:
    try:
        getattr(port, method)()
    except Exception as error:  # closing must never stop the shutdown
        log.debug("closing %s: %s", port, error)
