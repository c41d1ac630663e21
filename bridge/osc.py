"""OSC in and out, as plain messages (never bundles): see docs/osc.md.

Parsing and building use python-osc's message classes; the sockets are ours, so the
bridge's one loop decides when to read them and the tick keeps its time.
"""

from __future__ import annotations

import logging
import math
import socket
import struct
import time
from dataclasses import dataclass

from pythonosc.osc_message import OscMessage, ParseError

from gesture_rnn.gestures import GESTURE_NAMES, GestureError, parse_gesture

from .session import Tick, TouchEvent, check_temperature, check_touch

log = logging.getLogger(__name__)


class OscRejected(ValueError):
    """A message that breaks the protocol; counted and logged, never fatal."""

    def __init__(self, message: str, address: str = "(not OSC)"):
        super().__init__(message)
        self.address = address


@dataclass(frozen=True)
class Command:
    """A checked incoming message: ``kind`` is lead, touch, temperature, reset, tick or ping."""

    kind: str
    value: object = None


def _osc_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def _number(args: list, address: str) -> float:
    if len(args) != 1:
        raise OscRejected(f"{address} takes 1 number, got {len(args)} arguments")
    value = args[0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OscRejected(f"{address} takes a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise OscRejected(f"{address} got {value!r}, not a finite number")
    return float(value)


def _no_arguments(args: list, address: str) -> None:
    if args:
        raise OscRejected(f"{address} takes no arguments, got {len(args)}")


def parse_command(data: bytes) -> Command | None:
    """Check one datagram. Returns a Command, None for an unknown address, or raises
    :class:`OscRejected` saying what is wrong."""
    if data.startswith(b"#bundle"):
        raise OscRejected("OSC bundles are not accepted; send plain messages", "#bundle")
    try:
        message = OscMessage(data)
        address, args = message.address, list(message.params)
    except (ParseError, IndexError, ValueError, UnicodeDecodeError) as error:
        raise OscRejected(f"not an OSC message ({error})") from None
    try:
        _check_length(data, address)
        return _check(address, args, data)
    except OscRejected as error:
        raise OscRejected(str(error), address) from None


def _check_length(data: bytes, address: str) -> None:
    """Reject a message of ints and floats that is shorter or longer than its type tags
    say: python-osc reads a number cut short as if padded with zeros (a silent 0.0)."""
    start = len(_osc_string(address))
    end = data.find(b"\0", start)
    tags = data[start + 1 : end].decode("ascii", "replace") if end > start else ""
    if data[start : start + 1] != b"," or not tags or set(tags) - set("if"):
        return  # no arguments, or strings and other types: python-osc checks those
    expected = start + len(_osc_string("," + tags)) + 4 * len(tags)
    if len(data) != expected:
        raise OscRejected(
            f"message is {len(data)} bytes, but its type tags ,{tags} make {expected}"
            " (cut short or padded)"
        )


def _check(address: str, args: list, data: bytes) -> Command | None:
    if address == "/lead/gesture":
        if len(args) != 1:
            raise OscRejected(f"/lead/gesture takes 1 gesture, got {len(args)} arguments")
        try:
            return Command("lead", parse_gesture(args[0]))
        except GestureError as error:
            raise OscRejected(f"/lead/gesture {error}") from None
    if address == "/lead/touch":
        if len(args) not in (2, 3):
            raise OscRejected(f"/lead/touch takes x y [velocity], got {len(args)} arguments")
        try:
            return Command("touch", check_touch(*args))
        except ValueError as error:
            raise OscRejected(f"/lead/touch: {error}") from None
    if address == "/bridge/temperature":
        t = _number(args, address)
        try:
            return Command("temperature", check_temperature(t))
        except ValueError as error:
            raise OscRejected(f"/bridge/temperature: {error}") from None
    if address == "/bridge/reset":
        _no_arguments(args, address)
        return Command("reset")
    if address == "/bridge/tick":
        _no_arguments(args, address)
        return Command("tick")
    if address == "/bridge/ping":
        # The pong carries the ping's arguments byte for byte: same types, same values.
        return Command("ping", _osc_string("/bridge/pong") + data[len(_osc_string(address)) :])
    return None


def build(address: str, *args) -> bytes:
    """One OSC message of ints, floats and strings.

    The bridge sends thousands of these a second, so this packs them directly: about
    4 times faster than python-osc's builder, which the tests use to check the bytes.
    """
    tags = ","
    payload = []
    for value in args:
        if isinstance(value, bool):
            raise TypeError(f"OSC argument {value!r}: booleans are not sent")
        if isinstance(value, int):
            tags += "i"
            payload.append(_INT.pack(value))
        elif isinstance(value, float):
            tags += "f"
            payload.append(_FLOAT.pack(value))
        elif isinstance(value, str):
            tags += "s"
            payload.append(_osc_string(value))
        else:
            raise TypeError(f"OSC argument {value!r}: only int, float and str are sent")
    return _osc_string(address) + _osc_string(tags) + b"".join(payload)


_INT = struct.Struct(">i")
_FLOAT = struct.Struct(">f")
_TOUCH = struct.Struct(">fff")
_TOUCH_TAGS = _osc_string(",fff")


class OscSender:
    """Sends the ensemble to every ``--osc-out`` target from one UDP socket."""

    def __init__(self, targets: list[tuple[str, int]], sock: socket.socket | None = None):
        self.targets = list(targets)
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent = 0
        self.failed = 0
        self._touch_addresses: dict[int, bytes] = {}

    def send(self, data: bytes) -> None:
        for target in self.targets:
            try:
                self.sock.sendto(data, target)
                self.sent += 1
            except OSError as error:  # e.g. nobody listening yet on some systems
                self.failed += 1
                log.debug("could not send to %s:%d: %s", *target, error)

    def send_all(self, messages: list[bytes]) -> None:
        for data in messages:
            self.send(data)

    @staticmethod
    def tick_data(tick: Tick) -> list[bytes]:
        """A tick's messages, built ahead of its deadline so only sending is left then."""
        return [
            build("/ensemble/tick", tick.number),
            build("/ensemble/gestures", *tick.ensemble),
            *(
                build(f"/ensemble/{player}/gesture", gesture, GESTURE_NAMES[gesture])
                for player, gesture in enumerate(tick.ensemble, start=1)
            ),
        ]

    def touch(self, event: TouchEvent) -> None:
        head = self._touch_addresses.get(event.player)
        if head is None:
            head = _osc_string(f"/ensemble/{event.player}/touch") + _TOUCH_TAGS
            self._touch_addresses[event.player] = head
        self.send(head + _TOUCH.pack(event.x, event.y, event.velocity))

    def close(self) -> None:
        self.sock.close()


class RateLimitedLog:
    """Log a warning at most once a second per key, saying how many were suppressed."""

    def __init__(self, logger: logging.Logger, interval: float = 1.0):
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -math.inf) < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        suppressed = self._suppressed.pop(key, 0)
        self._last[key] = now
        more = f" ({suppressed} more like it since the last report)" if suppressed else ""
        self.logger.warning("%s%s", message, more)
