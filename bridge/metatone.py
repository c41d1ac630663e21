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
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gesture_rnn.gestures import GESTURE_NAMES
from gesture_rnn.touch_features import LEAD_SCREEN

from .osc import (
    MAX_SHOWN,
    OscRejected,
    RateLimitedLog,
    address_of,
    build,
    read_arguments,
    shown,
)
from .session import LeadTouches, TouchEvent

log = logging.getLogger(__name__)

PREFIX = b"/metatone/"
APP_PORT = 51200  # where the apps listen (their OSC server and playback port)
SILENT_TIMEOUT = 30.0  # seconds without a message before a device counts as offline
# More names than this are rejected: a flood of names costs no memory, and every device's
# touches are classified each tick (64 flooding devices, when each was also sent every
# device's gesture, made a tick's compute about 72 ms at p50; 16 about 4 ms).
MAX_DEVICES = 16
MAX_NAME = 256
BROADCAST = "255.255.255.255"
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
    address = address_of(data).decode("utf-8", "replace")
    if address != "/metatone/app" and address not in _MESSAGES:
        return None
    try:
        return _check(address, read_arguments(data, address))
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
    if kind == "remote":
        return MetatoneMessage(kind, device, (playback_host(args[1]),))
    return MetatoneMessage(kind, device, tuple(args[1:]))


def playback_host(ip: str) -> str | None:
    """The host a ``/metatone/remote`` ip names, or None where the bridge should play to
    the sender instead: the apps send "error" when they have no Wi-Fi address, and
    0.0.0.0, broadcast or multicast would reach no device or every one. A name is never
    looked up (that would hold the loop)."""
    try:
        host = ipaddress.IPv4Address(ip)
    except ValueError:
        return None
    if host.is_unspecified or host.is_multicast or host == ipaddress.IPv4Address(BROADCAST):
        return None
    return str(host)


def _device(name: str, address: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise OscRejected(f"{address}: a device name is 1-{MAX_NAME} characters")
    if not name.isprintable():  # it is shown in the live view: no terminal escapes
        raise OscRejected(f"{address}: a device name is printable text, got {name!r}")
    return name


@dataclass
class Device:
    """One app on the network, as the registry knows it."""

    name: str  # as the bridge knows it (see MetatoneDevices.key)
    said: str = ""  # as it calls itself, in the messages it gets
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
    source: str | None = None  # the host it registered from


class MetatoneDevices:
    """Devices, their gestures and the ensemble's parts, with no sockets and no clocks.

    ``classifier`` classifies a window of touches (``classify_touches(x, y, velocity)``,
    screen points), ``clock`` gives seconds. A device is online from its first message
    (``/metatone/online`` or any other) until ``/metatone/offline`` or ``timeout``
    seconds of silence. The lead is ``lead_name`` while that device is online, else the
    online device that came online first, playback devices last. Playback devices
    (``/metatone/remote``) take the ensemble's parts in the order they registered.
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
        self.log = RateLimitedLog(log)  # at most a line a second of each kind: a flood of
        # devices coming and going must not block the loop on a slow terminal

    # -- what arrives ------------------------------------------------------------------

    def key(self, said: str, address=None) -> str:
        """The name the bridge knows a device by: the one it ``said``, or, where a device
        on another host already goes by that name, ``"NAME (HOST)"``. iPads on iOS 16 and
        later all call themselves "iPad"; a device on the same host (an app restarted,
        from a new port) is the same device."""
        if address is None:
            return said
        host = address[0]
        alias = f"{said} ({host})"
        if alias in self.devices or any(part.device == alias for part in self.parts):
            return alias
        owner = self._host_of(said)
        return alias if owner is not None and owner != host else said

    def _host_of(self, name: str) -> str | None:
        device = self.devices.get(name)
        if device is not None and device.online and device.address is not None:
            return device.address[0]
        return next((part.source for part in self.parts if part.device == name), None)

    def heard(self, name: str, address=None, said: str | None = None) -> tuple[Device, bool]:
        """Note a message from ``name`` (a :meth:`key`; ``said``: the name in the message,
        if not the same): (its device, whether it just came online)."""
        device = self.devices.get(name)
        if device is None:
            if len(self.devices) >= MAX_DEVICES:
                self._forget_offline()
                if len(self.devices) >= MAX_DEVICES:
                    raise OscRejected(f"more than {MAX_DEVICES} devices; {name!r} ignored")
            device = self.devices[name] = Device(name, said or name)
        device.heard = self.clock()
        if address is not None:
            device.address = address
        came = not device.online
        if came:
            device.online = True
            self._order.append(name)
            self.log.info("online", f"Metatone device {name!r} is online")
        return device, came

    def online(self, name: str, app: str, address=None, said: str | None = None) -> bool:
        """``/metatone/online``: True if the device was not online before."""
        device, came = self.heard(name, address, said)
        device.app = app
        return came

    def offline(self, name: str) -> None:
        """``/metatone/offline``: the device is offline, and its ensemble part (if it
        played one) is free for the next playback device."""
        device = self.devices.get(name)
        if device is not None and device.online:
            self._go_offline(device, "said offline")
        for part in self.parts:
            if part.device == name:
                part.device = part.host = part.gesture = None
                self.log.info("left", f"Metatone playback device {name!r} left part {part.number}")

    def touch(
        self, name: str, x: float, y: float, velocity: float, address=None, said=None
    ) -> bool:
        """One touch in screen points; True if it is the lead's (the session's lead).
        A touch off the screen counts at its edge, as the lead's does (:func:`on_screen`)."""
        device, _ = self.heard(name, address, said)
        device.touches.add(device.heard, *on_screen(x, y), velocity)
        return name == self.lead

    def remote(self, name: str, host: str, source: str | None = None) -> Part | None:
        """``/metatone/remote``: ``name`` at ``host`` plays the first free part (None if
        all are taken); a device registering again keeps its part and takes the new host.
        ``source``: the host the message came from."""
        for part in self.parts:
            if part.device == name:
                part.host = host
                return part
        for part in self.parts:
            if part.device is None:
                part.device, part.host, part.gesture, part.source = name, host, None, source
                self.log.info(
                    "plays", f"Metatone playback device {name!r} at {host} plays part {part.number}"
                )
                return part
        self.log.warning(
            "taken", f"Metatone playback device {name!r}: all {len(self.parts)} parts are taken"
        )
        return None

    # -- what the tick reads ----------------------------------------------------------

    @property
    def lead(self) -> str | None:
        """The lead device's name, or None when no device is online. ``lead_name``
        matches whatever the case and kind of quotes: iPads name themselves "Charles’s
        iPad" (a typographic apostrophe), which a terminal types as "Charles's iPad"."""
        if self.lead_name is not None:
            wanted = plain_name(self.lead_name)
            for name in self._order:
                if plain_name(name) == wanted:
                    return name
        # A playback device says online too, often first (set up before the performers):
        # it plays a part, it does not lead unless no one else is here.
        playing = {part.device for part in self.parts}
        performers = [name for name in self._order if name not in playing]
        return (performers or self._order or [None])[0]

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
        self.log.info("offline", f"Metatone device {device.name!r} is offline ({why})")

    def _forget_offline(self) -> None:
        for name in [n for n, d in self.devices.items() if not d.online]:
            del self.devices[name]


# Typographic quotes a device name may have and a terminal types straight.
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def plain_name(name: str) -> str:
    """A device name for comparing: straight quotes, no case, no outer spaces."""
    return name.translate(_QUOTES).casefold().strip()


def on_screen(x: float, y: float) -> tuple[float, float]:
    """A touch in screen points, moved onto the app's screen (LEAD_SCREEN): every device
    is classified from the same points as the lead, whose touches the session keeps 0-1."""
    return min(max(x, 0.0), LEAD_SCREEN[0]), min(max(y, 0.0), LEAD_SCREEN[1])


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
        devices, said = self.devices, message.device
        name = devices.key(said, sender)
        if message.kind == "online":  # every time, as the original server did: an app
            devices.online(name, message.args[0], sender, said)  # restarted never said offline
            self._send_device(devices.devices[name], build("/metatone/classifier/hello"))
        elif message.kind == "offline":
            devices.offline(name)
        elif message.kind == "touch":
            x, y, velocity = message.args
            if devices.touch(name, x, y, velocity, sender, said):
                x, y = on_screen(x, y)
                self.session.add_touch(x / LEAD_SCREEN[0], y / LEAD_SCREEN[1], velocity)
        elif message.kind == "switch":
            devices.heard(name, sender, said)
            self.devices.log.info(
                "switch",
                f"Metatone switch from {name!r}: {' '.join(shown(a) for a in message.args)}",
            )
            self.sender.send(data)
        elif message.kind == "remote":  # a player of parts, not a performer: not classified
            host = message.args[0] or (sender[0] if sender else None)
            if host is None:
                raise OscRejected("/metatone/remote: no address to play to")
            part = devices.remote(name, host, sender[0] if sender else None)
            if part is not None:
                self._send_part_gesture(part, self.session.ensemble[part.number - 1])
        else:  # ended, acceleration, app: the device is still there
            devices.heard(name, sender, said)
        return True

    def tick(self, ensemble: tuple[int, ...]) -> None:
        """Once a tick: expire silent devices, classify each, send every gesture.

        Each device gets its own gesture only, as the original server sent it: the apps
        read any /metatone/classifier/gesture as their own, whatever device it names.
        The ``--osc-out`` targets get every device's and every part's. Nothing is sent
        until the first Metatone device has been heard from, so a bridge used without the
        apps sends exactly what it did before."""
        devices = self.devices
        if not devices.devices and not any(part.device for part in devices.parts):
            return
        devices.expire()
        gestures = devices.classify()
        for device in devices.online_devices():
            name = APP_GESTURE_NAMES[device.gesture]
            self._send_device(device, build("/metatone/classifier/gesture", device.said, name))
        for part, gesture in zip(devices.parts, ensemble, strict=False):
            gestures[part_name(part)] = gesture
            if part.device is not None and part.gesture != gesture:
                self._send_part_gesture(part, gesture)
        self.sender.send_all(
            [
                build("/metatone/classifier/gesture", name, APP_GESTURE_NAMES[gesture])
                for name, gesture in gestures.items()
            ]
        )

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
        host, port = target
        if self.sock.family == socket.AF_INET6 and ":" not in host:
            host = f"::ffff:{host}"  # --host ::: an IPv4 device through the dual-stack socket
        try:
            self.sock.sendto(data, (host, port))
            self.sent += 1
        except (OSError, TypeError, UnicodeError) as error:  # no route, a full buffer
            self.failed += 1
            self.devices.log.warning("send", f"could not send to {host}:{port}: {error}")
