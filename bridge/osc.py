"""OSC in and out, as plain messages (never bundles): see docs/osc.md.

In: :func:`parse_command` checks one datagram in a time bounded by its size (type tags on
the raw bytes first, then python-osc reads at most MAX_ARGUMENTS arguments) and returns a
command (bridge/commands.py) or raises :class:`OscRejected`. Out: :class:`OscSender` sends
to targets resolved once at start. The sockets are ours, so the bridge's one loop decides when to
read them and the tick keeps its time.
"""

from __future__ import annotations

import logging
import math
import socket
import struct
import time
from dataclasses import dataclass

from pythonosc.osc_message import OscMessage, ParseError

from gesture_rnn.config import check_liveliness
from gesture_rnn.gestures import GESTURE_NAMES, GestureError, parse_gesture

from .commands import (
    ClockTick,
    Command,
    LeadTouch,
    Ping,
    Reset,
    SetLead,
    SetLiveliness,
    SetTemperature,
    Unknown,
)
from .session import Tick, TouchEvent, check_temperature, check_touch

log = logging.getLogger(__name__)


# What a rejection's message may show of the input: the line stays short whatever came.
MAX_REASON = 200  # characters of a rejection's message
MAX_SHOWN = 40  # characters of an address, tags or a value quoted in it
MAX_ARGUMENTS = 16  # the bridge's messages take at most 3; /bridge/ping up to this many

# Type tags the bridge reads: numbers (int32, float32, and the 64-bit int64 and double some
# apps send) and strings. OSC 1.0 says to discard a message with a tag one does not know,
# so any other tag refuses the message before its arguments are read.
READ_TAGS = b"ifhds"
# /bridge/ping echoes its arguments byte for byte (python-osc checks they are well formed):
# any type python-osc reads but arrays (no message of the bridge takes one, and nesting is
# work without bound).
PING_TAGS = b"ifhdsbrmtTFN"

# Kinds of rejection. The bridge logs each kind at most once a second, whatever the
# addresses, so a flood of distinct addresses neither floods the log nor grows memory.
NOT_OSC = "not OSC"
BUNDLE = "bundle"
TYPE_TAGS = "type tags"
ARGUMENTS = "arguments"


class OscRejected(ValueError):
    """A message that breaks the protocol; counted and logged, never fatal.

    ``address`` is the message's address (or ``"(not OSC)"``), at most MAX_SHOWN
    characters; ``kind`` is one of NOT_OSC, BUNDLE, TYPE_TAGS, ARGUMENTS; the message is
    at most MAX_REASON characters.
    """

    def __init__(self, message: str, address: str = "(not OSC)", kind: str = ARGUMENTS):
        super().__init__(shown(message, MAX_REASON))
        self.address = shown(address, MAX_SHOWN)
        self.kind = kind


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` from the network as a log line or the live view may show it: at most
    ``limit`` characters, and every character that is not printable (control characters
    such as ESC, whose sequences would drive the terminal, bidirectional overrides, zero
    widths) written as its Python escape (``\\x1b``, ``\\u202e``)."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[: limit * 2])
    return _cut(text, limit)


def _osc_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def _padded(end: int) -> int:
    """Where the next item starts after an OSC string whose NUL is at ``end``."""
    return end + 4 - end % 4


def _number(args: list, address: str) -> float:
    if len(args) != 1:
        raise OscRejected(f"{address} takes 1 number, got {len(args)} arguments")
    value = args[0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OscRejected(f"{address} takes a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise OscRejected(f"{address} got {value!r}, not a finite number")
    return float(value)


def _no_arguments(args: list, address: str) -> None:
    if args:
        raise OscRejected(f"{address} takes no arguments, got {len(args)}")


ADDRESSES = frozenset(
    (
        "/lead/gesture",
        "/lead/touch",
        "/bridge/temperature",
        "/bridge/liveliness",
        "/bridge/reset",
        "/bridge/tick",
        "/bridge/ping",
    )
)
_KNOWN = {address.encode(): address for address in ADDRESSES}


def parse_command(data: bytes) -> Command:
    """Check one datagram (bytes, at most 64 KB) and return its command (bridge/commands.py).

    An address the bridge does not know gives :class:`~bridge.commands.Unknown` without its
    arguments being read. Anything else wrong raises :class:`OscRejected` (and nothing
    else does): not OSC, a bundle, a type tag outside READ_TAGS (arrays included), more
    than MAX_ARGUMENTS arguments, a message longer or shorter than its tags say, or an
    argument of the wrong count, type or range. The work is bounded: the tags are checked
    on the raw bytes before python-osc reads at most MAX_ARGUMENTS arguments.
    """
    if data.startswith(b"#bundle"):
        raise OscRejected("OSC bundles are not accepted; send plain messages", "#bundle", BUNDLE)
    raw = address_of(data)
    address = _KNOWN.get(raw)
    if address is None:
        return Unknown(shown(raw.decode("utf-8", "replace")))
    try:
        # A ping's pong carries its arguments back as they came, so its length is its own.
        args = read_arguments(data, address, exact_length=address != "/bridge/ping")
        return _check(address, args, data)
    except OscRejected as error:
        raise OscRejected(str(error), address, error.kind) from None


def address_of(data: bytes) -> bytes:
    """The address of one datagram, as its bytes; OscRejected if it has none."""
    end = data.find(b"\0")
    if not data.startswith(b"/") or end < 0 or _padded(end) > len(data):
        raise OscRejected("not an OSC message (no address)", kind=NOT_OSC)
    return data[:end]


def read_arguments(data: bytes, address: str, *, exact_length: bool = True) -> list:
    """The arguments of a datagram to ``address`` (ASCII, as :func:`address_of` read it).

    The type tags are checked on the raw bytes first (READ_TAGS, at most MAX_ARGUMENTS),
    so python-osc reads a bounded message; with ``exact_length`` the message must also be
    as long as its tags say. Raises :class:`OscRejected` (without the address).
    """
    tags, start = _type_tags(data, _padded(len(address)), address)
    try:
        args = list(OscMessage(data).params)
    except (ParseError, IndexError, ValueError) as error:  # UnicodeDecodeError too
        raise OscRejected(f"not an OSC message ({error})", kind=NOT_OSC) from None
    if exact_length:
        _check_length(data, start, tags)
    return args


def _type_tags(data: bytes, index: int, address: str) -> tuple[bytes, int]:
    """The type tags (without the comma) and where the arguments start; raises
    OscRejected for tags the bridge does not read, before any argument is read."""
    if index == len(data):
        return b"", index  # no type tag string at all: no arguments
    end = data.find(b"\0", index)
    if data[index : index + 1] != b"," or end < 0 or _padded(end) > len(data):
        raise OscRejected("not an OSC message (bad type tag string)", kind=NOT_OSC)
    tags = data[index + 1 : end]
    known = PING_TAGS if address == "/bridge/ping" else READ_TAGS
    unread = tags.translate(None, known)  # the tags not in ``known``, at C speed
    if unread:
        shown = _cut(tags.decode("ascii", "replace"), MAX_SHOWN)
        if unread[:1] in (b"[", b"]"):
            raise OscRejected(f"{address} ,{shown}: arrays are not accepted", kind=TYPE_TAGS)
        first = unread[:1].decode("ascii", "replace")
        readable = " ".join(chr(tag) for tag in known)
        raise OscRejected(
            f"{address} ,{shown}: type tag {first!r} is not one the bridge reads ({readable})",
            kind=TYPE_TAGS,
        )
    if len(tags) > MAX_ARGUMENTS:
        raise OscRejected(
            f"{address} has {len(tags)} arguments; the most any message takes is {MAX_ARGUMENTS}",
            kind=TYPE_TAGS,
        )
    return tags, _padded(end)


_SIZES = {ord("i"): 4, ord("f"): 4, ord("h"): 8, ord("d"): 8}


def _check_length(data: bytes, index: int, tags: bytes) -> None:
    """Reject a message longer or shorter than its type tags (READ_TAGS) say: python-osc
    reads a number cut short as if padded with zeros (a silent 0.0)."""
    for tag in tags:
        if tag == ord("s"):
            end = data.find(b"\0", index)
            index = _padded(end)  # python-osc has checked that it ends
        else:
            index += _SIZES[tag]
    if len(data) != index:
        shown = _cut(tags.decode("ascii"), MAX_SHOWN)
        raise OscRejected(
            f"message is {len(data)} bytes, but its type tags ,{shown} make {index}"
            " (cut short or padded)",
            kind=NOT_OSC,
        )


def _check(address: str, args: list, data: bytes) -> Command:
    if address == "/lead/gesture":
        if len(args) != 1:
            raise OscRejected(f"/lead/gesture takes 1 gesture, got {len(args)} arguments")
        try:
            return SetLead(parse_gesture(args[0]))
        except GestureError as error:
            raise OscRejected(f"/lead/gesture {error}") from None
    if address == "/lead/touch":
        if len(args) not in (2, 3):
            raise OscRejected(f"/lead/touch takes x y [velocity], got {len(args)} arguments")
        try:
            return LeadTouch(*check_touch(*args))
        except ValueError as error:
            raise OscRejected(f"/lead/touch: {error}") from None
    if address == "/bridge/temperature":
        t = _number(args, address)
        try:
            return SetTemperature(check_temperature(t))
        except ValueError as error:
            raise OscRejected(f"/bridge/temperature: {error}") from None
    if address == "/bridge/liveliness":
        value = _number(args, address)
        try:
            return SetLiveliness(check_liveliness(value))
        except ValueError as error:
            raise OscRejected(f"/bridge/liveliness: {error}") from None
    if address == "/bridge/reset":
        _no_arguments(args, address)
        return Reset()
    if address == "/bridge/tick":
        _no_arguments(args, address)
        return ClockTick()
    if address == "/bridge/ping":
        # The pong carries the ping's arguments byte for byte: same types, same values.
        return Ping(_osc_string("/bridge/pong") + data[len(_osc_string(address)) :])
    raise AssertionError(f"{address} is in ADDRESSES but not checked here")


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


class OscTargetError(ValueError):
    """An ``--osc-out`` target that cannot be used: one line naming it (a start error)."""


@dataclass(frozen=True)
class Target:
    """One ``--osc-out`` target, resolved once at start.

    ``label`` is HOST:PORT as the user gave it (IPv6 in brackets); ``family`` is
    socket.AF_INET or AF_INET6; ``address`` the socket address sends go to.
    """

    label: str
    family: int
    address: tuple

    def __str__(self) -> str:
        shown = f"[{self.address[0]}]" if self.family == socket.AF_INET6 else self.address[0]
        resolved = f"{shown}:{self.address[1]}"
        return self.label if resolved == self.label else f"{self.label} ({resolved})"


def resolve_target(host: str, port: int) -> Target:
    """Look ``host`` up once (getaddrinfo: a name, an IPv4 or an IPv6 address).

    An IPv4 address is preferred where a name has both (most music software listens on
    IPv4 only). Raises :class:`OscTargetError` for a name that does not resolve, which
    includes a DNS server that does not answer: better one line at start than a tick
    loop that waits for DNS at every send.
    """
    label = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as error:  # socket.gaierror is an OSError
        reason = getattr(error, "strerror", None) or str(error)
        raise OscTargetError(f"--osc-out {label}: cannot resolve {host!r} ({reason})") from None
    found = [f for f in found if f[0] in (socket.AF_INET, socket.AF_INET6)]
    if not found:
        raise OscTargetError(f"--osc-out {label}: {host!r} has no IPv4 or IPv6 address")
    family, _, _, _, address = min(found, key=lambda f: f[0] != socket.AF_INET)
    return Target(label, family, address)


class OscSender:
    """Sends the ensemble to every ``--osc-out`` target.

    ``targets`` are (host, port) pairs, each resolved once here (:func:`resolve_target`;
    :class:`OscTargetError` if one does not resolve). IPv4 targets go out from one IPv4
    socket that may broadcast (``192.168.1.255``, ``127.255.255.255``: every iPad on a
    stage network), IPv6 targets from one IPv6 socket. Sends never block the tick: a
    send that fails (a network gone, a full buffer) is counted per target in ``failed``
    and logged as a warning naming the target, at most once a second per target.
    """

    def __init__(self, targets: list[tuple[str, int]]):
        self.targets = [resolve_target(host, port) for host, port in targets]
        self._sockets: dict[int, socket.socket] = {}
        try:
            for target in self.targets:
                if target.family not in self._sockets:
                    self._sockets[target.family] = _send_socket(target.family)
        except OSError as error:
            self.close()
            raise OscTargetError(
                f"--osc-out {target.label}: cannot open a socket ({error.strerror or error})"
            ) from None
        self._routes = [(self._sockets[t.family], t.address, t.label) for t in self.targets]
        self.sent = 0
        self.failed: dict[str, int] = dict.fromkeys((t.label for t in self.targets), 0)
        self._warnings = RateLimitedLog(log)
        self._touch_addresses: dict[int, bytes] = {}

    def send(self, data: bytes) -> None:
        """Send one datagram (an OSC message's bytes) to every target."""
        for sock, address, label in self._routes:
            try:
                sock.sendto(data, address)
                self.sent += 1
            except OSError as error:
                self.failed[label] += 1
                reason = error.strerror or str(error)
                self._warnings.warning(label, f"could not send OSC to {label}: {reason}")

    def send_all(self, messages: list[bytes]) -> None:
        """Send each datagram, in order, to every target."""
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
        """Send ``/ensemble/<player>/touch x y velocity`` (floats) for one touch event."""
        head = self._touch_addresses.get(event.player)
        if head is None:
            head = _osc_string(f"/ensemble/{event.player}/touch") + _TOUCH_TAGS
            self._touch_addresses[event.player] = head
        self.send(head + _TOUCH.pack(event.x, event.y, event.velocity))

    def close(self) -> None:
        """Close the sockets (the sender cannot be used after)."""
        for sock in self._sockets.values():
            sock.close()


def _send_socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)  # a full send buffer is a counted failure, not a late tick
    if family == socket.AF_INET:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    return sock


class RateLimitedLog:
    """Log at most once per ``interval`` seconds per key, saying how many were suppressed.

    Keys name kinds of fault (a fixed, small set), never something a sender chooses such
    as an address; past MAX_KEYS distinct keys, new ones share one key, so the memory
    stays bounded whatever arrives.
    """

    MAX_KEYS = 64
    OTHER = "(other)"

    def __init__(self, logger: logging.Logger, interval: float = 1.0):
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str) -> None:
        """Log ``message`` as a warning unless ``key`` logged one less than
        ``interval`` seconds ago (then it is counted for the next line)."""
        self.log(logging.WARNING, key, message)

    def info(self, key: str, message: str) -> None:
        """As :meth:`warning`, at the info level (things ignored, not faults)."""
        self.log(logging.INFO, key, message)

    def log(self, level: int, key: str, message: str) -> None:
        """Log ``message`` at ``level`` (a logging level), rate-limited by ``key``."""
        if key not in self._last and len(self._last) >= self.MAX_KEYS - 1:  # OTHER is one
            key = self.OTHER
        now = time.monotonic()
        if now - self._last.get(key, -math.inf) < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        suppressed = self._suppressed.pop(key, 0)
        self._last[key] = now
        more = f" ({suppressed} more like it since the last report)" if suppressed else ""
        self.logger.log(level, "%s%s", message, more)
