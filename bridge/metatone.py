"""The Metatone apps' OSC protocol: touch-screen devices join the bridge (docs/metatone.md).

Three parts, each readable alone:

- :func:`parse_metatone` checks one ``/metatone/...`` message into a :class:`MetatoneMessage`
  (or raises :class:`~bridge.osc.OscRejected`, counted and dropped like any bad message);
- :class:`MetatoneDevices` is the musical logic, with no sockets: which devices are
  online, which one leads, each device's gesture classified from its touches of the last
  five seconds, and which playback devices play which ensemble part;
- :class:`Metatone` is the thin adapter the bridge's loop calls: it sends the replies,
  the gestures of each tick and the ensemble's touches to the playback devices.

The protocol follows the Metatone apps and their classifier server (cpmpercussion's
MetatoneClassifier and the apps' network manager): the apps listen on UDP port 51200,
send ``/metatone/touch s:device f:x f:y f:velocity`` in screen points of a landscape
iPad, and read ``/metatone/classifier/gesture s:device s:name`` with the lower-case short
names n, ft, st, fs, fsa, vss, bs, ss, c.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pythonosc.osc_message import OscMessage, ParseError

from gesture_rnn.gestures import GESTURE_NAMES
from gesture_rnn.touch_features import LEAD_SCREEN

from .osc import (
    MAX_SHOWN,
    NOT_OSC,
    OscRejected,
    RateLimitedLog,
    _check_length,
    _padded,
    _type_tags,
    build,
    shown,
)
from .session import LeadTouches, TouchEvent

log = logging.getLogger(__name__)

PREFIX = b"/metatone/"
APP_PORT = 51200  # where the apps listen (their OSC server and playback port)
SILENT_TIMEOUT = 30.0  # seconds without a message before a device counts as offline
# More names than this are rejected: a flood of names costs no memory, and every tick
# sends each online device every device's gesture (devices x (devices + parts) datagrams):
# 64 flooding devices made a tick's compute about 72 ms (p50), 16 about 4 ms.
MAX_DEVICES = 16
MAX_NAME = 256
# The apps' gesture names: the short names in lower case, as the original server sent them.
APP_GESTURE_NAMES = tuple(name.lower() for name in GESTURE_NAMES)

# address -> (kind, type tags the message must have: device first)
_MESSAGES = {
    "/metatone/online": ("online", "ss"),
    "/metatone/offline": ("offline", "ss"),
    "/metatone/touch": ("touch", "sfff"),
    "/metatone/touch/ended": ("ended", "s"),
    "/metatone/switch": ("switch", "sss"),
    "/metatone/remote": ("remote", "ss"),
    "/metatone/acceleration": ("acceleration", "sfff"),  # the apps send it; not used
}


@dataclass(frozen=True)
class MetatoneMessage:
    """A checked message from an app: ``kind`` online, offline, touch, ended, switch,
    remote, acceleration or app; ``device`` its name; ``args`` the rest (floats for a
    touch)."""

    kind: str
    device: str
    args: tuple = ()


def parse_metatone(data: bytes) -> MetatoneMessage | None:
    """Check one ``/metatone/...`` datagram: a MetatoneMessage, None for a Metatone
    address the bridge does not use (ignored and counted, like any unknown address), or
    OscRejected saying what is wrong.

    The raw bytes are checked as :func:`bridge.osc.parse_command` checks them (type tags
    first, at most MAX_ARGUMENTS arguments, the length the tags say), so the work is
    bounded whatever arrives. Ints are accepted where floats are expected (some OSC
    libraries send whole numbers as ints); touch coordinates must be finite and velocity
    0 or more.
    """
    end = data.find(b"\0")
    if not data.startswith(b"/") or end < 0 or _padded(end) > len(data):
        raise OscRejected("not an OSC message (no address)", kind=NOT_OSC)
    address = data[:end].decode("utf-8", "replace")
    if address != "/metatone/app" and address not in _MESSAGES:
        return None
    try:
        tags, start = _type_tags(data, _padded(end), address)
        try:
            args = list(OscMessage(data).params)
        except (ParseError, IndexError, ValueError) as error:  # UnicodeDecodeError too
            raise OscRejected(f"not an OSC message ({error})", kind=NOT_OSC) from None
        _check_length(data, start, tags)
        return _check(address, args)
    except OscRejected as error:
        raise OscRejected(str(error), address, error.kind) from None


def _check(address: str, args: list) -> MetatoneMessage:
    if address == "/metatone/app":  # anything an app says about itself: accepted, ignored
        if not args or not isinstance(args[0], str):
            raise OscRejected("/metatone/app takes a device name first")
        return MetatoneMessage("app", _device(args[0], address), tuple(args[1:]))
    kind, tags = _MESSAGES[address]
    if len(args) != len(tags):
        raise OscRejected(f"{address} takes {len(tags)} arguments ({tags}), got {len(args)}")
    for value, tag in zip(args, tags, strict=True):
        if tag == "s" and not isinstance(value, str):
            raise OscRejected(f"{address} takes a string, got {type(value).__name__} {value!r}")
        if tag == "f" and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise OscRejected(f"{address} takes a number, got {type(value).__name__} {value!r}")
    device = _device(args[0], address)
    if kind == "touch":
        x, y, velocity = (float(v) for v in args[1:])
        if not all(math.isfinite(v) for v in (x, y, velocity)):
            raise OscRejected(f"{address}: x, y and velocity must be finite numbers")
        if velocity < 0:
            raise OscRejected(f"{address}: velocity must be 0 or more, got {velocity!r}")
        return MetatoneMessage(kind, device, (x, y, velocity))
    if kind == "remote":  # an address, never a name: looking one up would hold the loop
        try:
            host = str(ipaddress.IPv4Address(args[1]))
        except ValueError:
            raise OscRejected(f"{address}: {args[1][:40]!r} is not an IPv4 address") from None
        return MetatoneMessage(kind, device, (host,))
    return MetatoneMessage(kind, device, tuple(args[1:]))


def _device(name: str, address: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise OscRejected(f"{address}: a device name is 1-{MAX_NAME} characters")
    if not name.isprintable():  # it is shown in the live view: no terminal escapes
        raise OscRejected(f"{address}: a device name is printable text, got {name!r}")
    return name


@dataclass
class Device:
    """One app on the network, as the registry knows it."""

    name: str
    app: str = ""
    address: tuple | None = None  # where its messages come from (host, port)
    online: bool = False
    heard: float = -math.inf  # when its last message arrived
    gesture: int = 0  # its gesture at the last tick
    touches: LeadTouches = field(default_factory=LeadTouches)


@dataclass
class Part:
    """An ensemble part: player ``number`` (1-based) and the playback device playing it."""

    number: int
    device: str | None = None
    host: str | None = None
    gesture: int | None = None  # last gesture sent to its device


class MetatoneDevices:
    """Devices, their gestures and the ensemble's parts, with no sockets and no clocks.

    ``classifier`` classifies a window of touches (``classify_touches(x, y, velocity)``,
    screen points), ``clock`` gives seconds. A device is online from its first message
    (``/metatone/online`` or any other) until ``/metatone/offline`` or ``timeout``
    seconds of silence. The lead is ``lead_name`` while that device is online, else the
    online device that came online first. Playback devices (``/metatone/remote``) take
    the ensemble's parts in the order they registered.
    """

    def __init__(
        self,
        classifier,
        players: int,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = SILENT_TIMEOUT,
        lead_name: str | None = None,
    ):
        self.classifier = classifier
        self.clock = clock
        self.timeout = timeout
        self.lead_name = lead_name
        # What the network says is logged at most once a second per (kind, device): a
        # device flapping online and offline, or a flood of names, writes a few lines.
        self.log = RateLimitedLog(log)
        self.devices: dict[str, Device] = {}
        self.parts = [Part(number) for number in range(1, players + 1)]
        self._order: list[str] = []  # online devices, in the order they came online

    # -- what arrives ------------------------------------------------------------------

    def heard(self, name: str, address=None) -> tuple[Device, bool]:
        """Note a message from ``name``: (its device, whether it just came online)."""
        device = self.devices.get(name)
        if device is None:
            if len(self.devices) >= MAX_DEVICES:
                self._forget_offline()
                if len(self.devices) >= MAX_DEVICES:
                    raise OscRejected(f"more than {MAX_DEVICES} devices; {name!r} ignored")
            device = self.devices[name] = Device(name)
        device.heard = self.clock()
        if address is not None:
            device.address = address
        came = not device.online
        if came:
            device.online = True
            self._order.append(name)
            self.log.info(f"online {name}", f"Metatone device {name!r} is online")
        return device, came

    def online(self, name: str, app: str, address=None) -> bool:
        """``/metatone/online``: True if the device was not online before."""
        device, came = self.heard(name, address)
        device.app = app
        return came

    def offline(self, name: str) -> None:
        device = self.devices.get(name)
        if device is not None and device.online:
            self._go_offline(device, "said offline")

    def touch(self, name: str, x: float, y: float, velocity: float, address=None) -> bool:
        """One touch in screen points; True if it is the lead's (the session's lead)."""
        device, _ = self.heard(name, address)
        device.touches.add(device.heard, x, y, velocity)
        return name == self.lead

    def remote(self, name: str, host: str) -> Part | None:
        """``/metatone/remote``: ``name`` at ``host`` plays the first free part (None if
        all are taken); a device registering again keeps its part and takes the new host."""
        for part in self.parts:
            if part.device == name:
                part.host = host
                return part
        for part in self.parts:
            if part.device is None:
                part.device, part.host, part.gesture = name, host, None
                self.log.info(
                    f"remote {name}",
                    f"Metatone playback device {name!r} at {host} plays part {part.number}",
                )
                return part
        self.log.warning(
            "all parts taken",
            f"Metatone playback device {name!r}: all {len(self.parts)} parts are taken",
        )
        return None

    # -- what the tick reads ----------------------------------------------------------

    @property
    def lead(self) -> str | None:
        """The lead device's name, or None when no device is online."""
        if self.lead_name is not None and self.lead_name in self._order:
            return self.lead_name
        return self._order[0] if self._order else None

    def online_devices(self) -> list[Device]:
        return [self.devices[name] for name in self._order]

    def expire(self) -> list[str]:
        """Take devices silent for ``timeout`` seconds offline; their names."""
        now = self.clock()
        gone = [d for d in self.online_devices() if now - d.heard > self.timeout]
        for device in gone:
            self._go_offline(device, f"silent for {self.timeout:g} s")
        return [device.name for device in gone]

    def classify(self) -> dict[str, int]:
        """Each online device's gesture from its touches of the last five seconds."""
        now = self.clock()
        for device in self.online_devices():
            device.gesture = self.classifier.classify_touches(*device.touches.window(now))
        return {device.name: device.gesture for device in self.online_devices()}

    def _go_offline(self, device: Device, why: str) -> None:
        device.online = False
        device.touches = LeadTouches()
        self._order.remove(device.name)
        self.log.info(
            f"offline {device.name}", f"Metatone device {device.name!r} is offline ({why})"
        )

    def _forget_offline(self) -> None:
        for name in [n for n, d in self.devices.items() if not d.online]:
            del self.devices[name]


def part_name(part: Part) -> str:
    """The name an ensemble part goes by in /metatone/classifier/gesture."""
    return part.device or f"ensemble-{part.number}"


class Metatone:
    """The adapter: checks datagrams, keeps :class:`MetatoneDevices`, sends replies.

    ``sock`` is the bridge's own socket (replies come from the port the apps found),
    ``sender`` the ``--osc-out`` targets, ``session`` the bridge's Session (the lead
    device's touches become its lead). ``app_port`` is where the apps listen.
    """

    def __init__(self, devices: MetatoneDevices, session, sock, sender, app_port=APP_PORT):
        self.devices = devices
        self.session = session
        self.sock = sock
        self.sender = sender
        self.app_port = app_port
        self.sent = 0
        self.failed = 0
        self.apps_found: Callable[[], list[str]] = list  # set by discovery, for the live view

    def receive(self, data: bytes, sender=None) -> bool:
        """Act on one datagram from an app: True if taken, False if its address is not
        one the bridge uses (ignored); raises OscRejected for a bad one."""
        message = parse_metatone(data)
        if message is None:
            return False
        devices, name = self.devices, message.device
        if message.kind == "online":
            if devices.online(name, message.args[0], sender):
                self._send_device(devices.devices[name], build("/metatone/classifier/hello"))
        elif message.kind == "offline":
            devices.offline(name)
        elif message.kind == "touch":
            x, y, velocity = message.args
            if devices.touch(name, x, y, velocity, sender):
                self.session.add_touch(
                    min(max(x / LEAD_SCREEN[0], 0.0), 1.0),
                    min(max(y / LEAD_SCREEN[1], 0.0), 1.0),
                    velocity,
                )
        elif message.kind == "switch":
            devices.heard(name, sender)
            self.devices.log.info(
                f"switch {name}",
                f"Metatone switch from {name!r}: {' '.join(shown(a) for a in message.args)}",
            )
            self.sender.send(data)
        elif message.kind == "remote":  # a player of parts, not a performer: not classified
            part = devices.remote(name, message.args[0])
            if part is not None:
                self._send_part_gesture(part, self.session.ensemble[part.number - 1])
        else:  # ended, acceleration, app: the device is still there
            devices.heard(name, sender)
        return True

    def tick(self, ensemble: tuple[int, ...]) -> None:
        """Once a tick: expire silent devices, classify each, send every gesture.

        Nothing is sent until the first Metatone device has been heard from, so a bridge
        used without the apps sends exactly what it did before."""
        devices = self.devices
        if not devices.devices and not any(part.device for part in devices.parts):
            return
        devices.expire()
        gestures = devices.classify()
        for part, gesture in zip(devices.parts, ensemble, strict=False):
            gestures[part_name(part)] = gesture
            if part.device is not None and part.gesture != gesture:
                self._send_part_gesture(part, gesture)
        messages = [
            build("/metatone/classifier/gesture", name, APP_GESTURE_NAMES[gesture])
            for name, gesture in gestures.items()
        ]
        for device in devices.online_devices():
            for data in messages:
                self._send_device(device, data)
        self.sender.send_all(messages)

    def touch(self, event: TouchEvent) -> None:
        """One ensemble touch, at its time: to the part's playback device, in points."""
        part = self.devices.parts[event.player - 1]
        if part.device is None:
            return
        data = build(
            "/metatone/playback/touch",
            part.device,
            event.x * LEAD_SCREEN[0],
            event.y * LEAD_SCREEN[1],
            float(event.velocity),
        )
        self._send((part.host, self.app_port), data)

    def status(self) -> str:
        """A short line for the live view: devices, the lead, playback parts, apps found."""
        online = self.devices.online_devices()
        if not online and not any(p.device for p in self.devices.parts):
            found = self.apps_found()
            return f" | apps found {len(found)}" if found else ""
        lead = self.devices.lead
        playing = sum(1 for p in self.devices.parts if p.device)
        found = len(self.apps_found())
        lead = shown(lead, MAX_SHOWN) if lead is not None else None  # names are up to 256
        return f" | devices {len(online)} lead {lead} playback {playing} apps found {found}"

    def _send_part_gesture(self, part: Part, gesture: int) -> None:
        part.gesture = gesture
        data = build("/metatone/playback/gesture", part.device, APP_GESTURE_NAMES[gesture])
        self._send((part.host, self.app_port), data)

    def _send_device(self, device: Device, data: bytes) -> None:
        """To where the device's messages come from and, as the original server did,
        to the apps' port on that host."""
        if device.address is None:
            return
        host, port = device.address[:2]
        self._send((host, port), data)
        if port != self.app_port:
            self._send((host, self.app_port), data)

    def _send(self, target, data: bytes) -> None:
        try:
            self.sock.sendto(data, target)
            self.sent += 1
        except (OSError, TypeError, UnicodeError) as error:  # a bad --remote ip, or no route
            self.failed += 1
            log.debug("could not send to %s: %s", target, error)
