"""The browser page: one HTTP page and a WebSocket, served from the bridge process.

The bridge's loop runs on its own thread with ``select``; ``websockets`` is asyncio. So the
server runs an asyncio loop on a thread of its own (:class:`WebServer`), and the two meet
in two places only:

- out: the bridge calls :meth:`WebServer.tick` and :meth:`WebServer.touch`, which append
  to a deque and, at most once until the web thread has looked, schedule a flush with
  ``call_soon_threadsafe`` (a write to a pipe): the bridge never waits on a browser;
- in: each WebSocket message is checked here (:func:`parse_message`, with the same checks
  as OSC) and handed to ``on_input`` (the bridge's inbox and wake-up pipe) as a
  command (bridge/commands.py) or a :class:`WebRejected`.

Every send happens on the web thread, from one writer task per connection, so no
connection is ever written from two threads or two tasks. A writer sends everything new
in one frame; what piles up while a browser is slow is merged (the newest ticks and
touches kept, the oldest dropped), and a browser that has not taken a frame for
SLOW_CLIENT seconds is disconnected. See docs/web.md for the messages.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

from gesture_rnn.config import LIVELINESS_RANGE, check_liveliness
from gesture_rnn.gestures import GESTURE_NAMES, GestureError, parse_gesture
from gesture_rnn.touch_features import LEAD_SCREEN

from .commands import Command, LeadTouch, Reset, SetLead, SetLiveliness, SetTemperature
from .osc import RateLimitedLog, shown
from .session import Tick, TouchEvent, check_temperature, check_touch

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096  # bytes a browser may send in one message; a touch is about 40
MAX_RATE = 1000  # messages a second a browser may send (more are dropped, and counted)
PING_INTERVAL = 5.0  # seconds between keep-alive pings
PING_TIMEOUT = 10.0  # seconds without a pong before a connection is dropped
FRAME_INTERVAL = 1 / 60  # seconds: browsers get at most one frame this often (screen rate)
SLOW_CLIENT = 5.0  # seconds a browser may take to accept one frame before it is dropped
HISTORY_SECONDS = 60.0  # ticks kept for a page that connects: the score's last minute
MAX_HISTORY = 6000  # ... but never more ticks than this (60 s at --period 0.01)
MAX_PENDING_TOUCHES = 2000  # per browser, between two frames; older ones are dropped
# Browsers connected at once (a performance has a handful): each costs the web thread a
# frame 60 times a second, so hundreds would slow the bridge's ticks; more get 503.
MAX_CLIENTS = 16
WS_PATH = "/ws"
# Close codes (RFC 6455, 7.4.1) the server sends for what a browser sent: each a rejection.
BROKEN = {
    1002: "a broken WebSocket frame",
    1007: "a text message that is not UTF-8",
    1009: f"a message over {MAX_MESSAGE} bytes",
}

# The page's files: name -> content type. Nothing else is served.
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}


class WebError(Exception):
    """The page cannot be served (websockets missing, the address taken): one line."""


class WebRejected(ValueError):
    """A browser message that breaks the protocol; counted as rejected, never fatal."""


def parse_message(text: str | bytes) -> Command:
    """Check one message from the page; a command (bridge/commands.py) or
    :class:`WebRejected`.

    The page sends JSON objects with one key: ``{"touch": [x, y, velocity]}``,
    ``{"gesture": 0-8 or a short name}``, ``{"temperature": t}``, ``{"liveliness": l}``
    or ``{"reset": true}``. Each passes the same check
    as its OSC message.
    """
    if isinstance(text, bytes):
        raise WebRejected("binary messages are not accepted; send JSON text")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise WebRejected("not JSON") from None
    if not isinstance(message, dict) or len(message) != 1:
        raise WebRejected("expected a JSON object with one key")
    (key, value), *_ = message.items()
    try:
        if key == "touch":
            if not isinstance(value, list) or len(value) not in (2, 3):
                raise WebRejected("touch takes [x, y] or [x, y, velocity]")
            return LeadTouch(*check_touch(*value))
        if key == "gesture":
            return SetLead(parse_gesture(value))
        if key == "temperature":
            return SetTemperature(check_temperature(value))
        if key == "liveliness":
            return SetLiveliness(check_liveliness(value))
        if key == "reset":
            return Reset()
    except (ValueError, GestureError) as error:
        raise WebRejected(f"{key}: {error}") from None
    raise WebRejected(f"unknown message {key!r}")


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def page_url(host: str, port: int) -> str:
    """The address to open: on a wildcard address, this machine's IP on the network
    (phones often cannot resolve ``.local`` names)."""
    if host in ("0.0.0.0", "::", ""):
        host = _network_ip()
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _network_ip() -> str:
    # A UDP "connect" sends nothing; it only asks the system which address would be used.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
        except OSError:
            return socket.gethostbyname(socket.gethostname())


@dataclass(eq=False)  # kept in a set, by identity
class _Client:
    connection: object
    ticks: list = field(default_factory=list)
    touches: deque = field(default_factory=lambda: deque(maxlen=MAX_PENDING_TOUCHES))
    state: dict | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sending_since: float | None = None


class WebServer:
    """Serves the page at ``http://host:port/`` and its WebSocket at ``/ws``.

    ``info`` is sent to every page that connects (players, model, clock, period...);
    ``on_input(item)`` receives each checked browser message (a Command) or the reason
    one was rejected (a WebRejected), on the web thread: it must only hand it over.
    ``allowed``: the networks of ``--allow``; if any, other browsers get 403.
    """

    def __init__(
        self,
        host: str,
        port: int,
        info: dict,
        on_input: Callable[[object], None],
        allowed: list | None = None,
    ):
        from gesture_rnn.extras import MissingExtraError, install_hint, require

        try:
            require("web", "gesture-rnn bridge --web")
            import websockets  # noqa: F401
        except MissingExtraError as error:
            raise WebError(str(error)) from None
        except ImportError as error:  # there, but broken
            raise WebError(
                f"gesture-rnn bridge --web: websockets cannot be imported ({error}): "
                f"{install_hint('web')}"
            ) from None
        self.host = host
        self.port = port
        self.info = {
            **info,
            "names": list(GESTURE_NAMES),
            "lead_screen": list(LEAD_SCREEN),
            "liveliness_range": list(LIVELINESS_RANGE),
        }
        self.on_input = on_input
        self.allowed = list(allowed or [])
        # A page may be asked for by IP, as localhost or by this machine's name; any other
        # name in Host is a DNS rebinding attempt (a site whose name now points here).
        name = socket.gethostname().lower()
        self._names = {"localhost", name, f"{name}.local"}
        # (kind, payload, state) from the bridge's thread; bounded, should the web thread
        # ever fall far behind (then the oldest go, as for a slow browser)
        self._outbox: deque = deque(maxlen=4 * MAX_PENDING_TOUCHES)
        self._flush_scheduled = False
        self._last_flush = -math.inf
        self._history: deque = deque(maxlen=MAX_HISTORY)
        self._state: dict = {}
        self._clients: set[_Client] = set()
        self._admitted: set = set()  # WebSocket connections let in, handshakes included
        self._files = {path: _read_static(name) for path, (name, _) in STATIC.items()}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Future | None = None
        self.dropped = 0  # touches dropped for slow browsers
        self.flood_dropped = 0  # messages dropped from browsers over MAX_RATE
        self._flood_log = RateLimitedLog(log)
        self.disconnected_slow = 0
        self.full_refused = 0  # WebSockets turned away: MAX_CLIENTS already connected

    # -- called from the bridge's thread ----------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Bind and serve on a new thread; raise WebError if the address is not usable."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(started, failure))
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="gesture-rnn-web", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise WebError(f"--web {self.host}:{self.port}: the server did not start")
        if failure:
            error = failure[0]
            reason = getattr(error, "strerror", None) or error
            raise WebError(f"--web: cannot listen on {self.host}:{self.port}: {reason}")

    def tick(self, tick: Tick, state: dict) -> None:
        """A tick went out: its gestures and the bridge's state (counts, temperature)."""
        self._post(("tick", [tick.number, tick.lead, list(tick.ensemble)], state))

    def touch(self, event: TouchEvent) -> None:
        """An ensemble player's touch went out."""
        self._post(("touch", [event.player, event.x, event.y, event.velocity], None))

    def stats(self) -> dict:
        """For --stats: browsers connected now, touches dropped for slow ones, and how
        many were disconnected for taking no updates."""
        return {
            "clients": len(self._clients),
            "touches_dropped": self.dropped,
            "slow_disconnected": self.disconnected_slow,
            "over_rate_dropped": self.flood_dropped,
            "full_refused": self.full_refused,
        }

    def close(self) -> None:
        loop = self._loop
        if loop is not None and self._stopped is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._stopped.set_result, None)
            except RuntimeError:
                pass  # the loop stopped meanwhile
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _post(self, item) -> None:
        self._outbox.append(item)  # deque.append is atomic
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._flush_soon)
            except RuntimeError:
                pass  # closed

    # -- the web thread -------------------------------------------------------------------

    async def _serve(self, started: threading.Event, failure: list) -> None:
        from websockets.asyncio.server import serve

        self._stopped = asyncio.get_running_loop().create_future()
        try:
            server = await serve(
                self._connection,
                self.host,
                self.port,
                process_request=self._process_request,
                compression=None,  # Safari breaks on permessage-deflate
                max_size=MAX_MESSAGE,
                ping_interval=PING_INTERVAL,
                ping_timeout=PING_TIMEOUT,
                write_limit=2**16,
            )
        except (OSError, UnicodeError) as error:
            failure.append(error)
            started.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        started.set()
        async with server:
            await self._stopped
            for client in list(self._clients):
                client.connection.transport.abort()

    def _process_request(self, connection, request):
        """Serve the page's files; let through a WebSocket from the page's own origin."""
        refused = self._refused(connection.remote_address[0], request.headers.get("Host", ""))
        if refused:
            # Rate-limited per kind: a flood of requests writes a few lines (was one each).
            self._flood_log.warning("web request", f"web: refused a request: {shown(refused, 200)}")
            return connection.respond(403, f"Forbidden: {refused}\n")
        path = request.path.split("?", 1)[0]
        if path == WS_PATH:
            origin = request.headers.get("Origin")
            host = request.headers.get("Host", "")
            if origin is not None and origin != f"http://{host}":
                self._flood_log.warning(
                    "web origin",
                    f"web: refused a WebSocket from origin {shown(origin)} (page is {shown(host)})",
                )
                return connection.respond(403, "Forbidden: the page's own origin only\n")
            from websockets.protocol import State

            # Counted from the handshake on, so a burst cannot slip in before any is open.
            self._admitted = {c for c in self._admitted if c.state is not State.CLOSED}
            if len(self._admitted) >= MAX_CLIENTS:
                self.full_refused += 1
                self._flood_log.warning(
                    "full", f"web: refused a WebSocket: {MAX_CLIENTS} browsers connected"
                )
                return connection.respond(
                    503, f"Service Unavailable: {MAX_CLIENTS} browsers already connected\n"
                )
            self._admitted.add(connection)
            return None
        if path not in STATIC:
            return connection.respond(404, "Not found\n")
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        body = self._files[path]
        headers = Headers(
            [
                ("Content-Type", STATIC[path][1]),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-cache"),
                ("X-Content-Type-Options", "nosniff"),
                ("Connection", "close"),
            ]
        )
        return Response(200, "OK", headers, body)

    def _refused(self, remote: str, host: str) -> str | None:
        """Why a request is refused (--allow, or a Host that is not this machine), or None."""
        if self.allowed:
            address = ipaddress.ip_address(remote.split("%")[0])
            if address.version == 6 and address.ipv4_mapped:
                address = address.ipv4_mapped
            if not any(address in network for network in self.allowed):
                return f"{remote} is not in --allow"
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.strip("[]").lower()
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name not in self._names:
                return f"Host {host!r} is not this machine's address or name"
        return None

    async def _connection(self, connection) -> None:
        from websockets.exceptions import ConnectionClosed

        client = _Client(connection)
        self._clients.add(client)
        writer = asyncio.create_task(self._write(client))
        try:
            budget, refilled = float(MAX_RATE), time.monotonic()
            async for text in connection:
                # A token bucket: a finger makes at most a few hundred events a second, so
                # more is a script; what is over is dropped here, before it costs the bridge.
                now = time.monotonic()
                budget = min(float(MAX_RATE), budget + (now - refilled) * MAX_RATE)
                refilled = now
                if budget < 1.0:
                    self.flood_dropped += 1
                    self._flood_log.warning(
                        "flood", f"web: over {MAX_RATE} messages a second from a browser; dropped"
                    )
                    continue
                budget -= 1.0
                try:
                    self.on_input(parse_message(text))
                except WebRejected as error:
                    self.on_input(error)
        except ConnectionClosed as closed:
            # Closed by us for what the browser sent: a bad message, as a bad OSC datagram.
            why = BROKEN.get(closed.sent.code) if closed.sent is not None else None
            if why is not None:
                self.on_input(WebRejected(why))
        finally:
            self._clients.discard(client)
            writer.cancel()

    async def _write(self, client: _Client) -> None:
        """The one task that sends to this browser: the snapshot, then the updates."""
        from websockets.exceptions import ConnectionClosed

        snapshot = {
            "type": "snapshot",
            **self.info,
            "state": self._state,
            "ticks": list(self._history),
        }
        try:
            await client.connection.send(json.dumps(snapshot))
            while True:
                await client.wake.wait()
                client.wake.clear()
                update = {"type": "update", "state": client.state, "ticks": client.ticks}
                update["touches"] = list(client.touches)
                client.ticks, client.state = [], None
                client.touches.clear()
                client.sending_since = time.monotonic()
                await client.connection.send(json.dumps(update))
                client.sending_since = None
        except ConnectionClosed:
            pass

    def _flush_soon(self) -> None:
        """Flush at most once a FRAME_INTERVAL: the touches of a busy moment go out together
        (and the bridge's thread writes to the wake-up pipe at most that often)."""
        wait = self._last_flush + FRAME_INTERVAL - time.monotonic()
        if wait > 0:
            self._loop.call_later(wait, self._flush)
        else:
            self._flush()

    def _flush(self) -> None:
        """Hand what the bridge posted to every browser's writer."""
        self._flush_scheduled = False
        self._last_flush = time.monotonic()
        items = []
        while self._outbox:
            items.append(self._outbox.popleft())
        if not items:
            return
        ticks = [payload for kind, payload, _ in items if kind == "tick"]
        touches = [payload for kind, payload, _ in items if kind == "touch"]
        for kind, _, state in items:
            if kind == "tick":
                self._state = state
        self._history.extend(ticks)
        period = max(float(self.info.get("period") or 1.0), 0.001)
        keep = min(MAX_HISTORY, math.ceil(HISTORY_SECONDS / period) + 1)
        while len(self._history) > keep:
            self._history.popleft()
        now = time.monotonic()
        for client in list(self._clients):
            if client.sending_since is not None and now - client.sending_since > SLOW_CLIENT:
                log.warning("web: a browser took no updates for %.0f s; dropped it", SLOW_CLIENT)
                self.disconnected_slow += 1
                self._clients.discard(client)
                client.connection.transport.abort()
                continue
            if ticks:
                client.ticks.extend(ticks)
                del client.ticks[:-keep]
                client.state = self._state
            overflow = len(client.touches) + len(touches) - MAX_PENDING_TOUCHES
            if overflow > 0:
                self.dropped += overflow
            client.touches.extend(touches)
            client.wake.set()


def _read_static(name: str) -> bytes:
    return resources.files("bridge").joinpath("static", name).read_bytes()
