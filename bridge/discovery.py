"""Zeroconf (Bonjour) discovery, so the Metatone apps find the bridge (docs/metatone.md).

The bridge's OSC port is advertised as ``_osclogger._udp`` (what the apps browse for) and
as the generic ``_osc._udp``; ``_metatoneapp._udp`` (what the apps advertise) is browsed
and the apps found are shown in the live view. python-zeroconf (the optional ``zeroconf``
extra) does the work in its own thread; this module only chooses what to advertise and
never blocks the bridge's loop.

What the apps need (their network code, and python-zeroconf's issue tracker): exactly one
IPv4 address (they read the first address they resolve as IPv4, and keep only the last
logger they found), never 0.0.0.0 and not loopback unless asked for; a host name of our
own; a TXT record that is not empty (Apple clients ignore services with an empty one);
goodbyes on exit so they look again after a restart.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import threading

log = logging.getLogger(__name__)

SERVICE_TYPES = ("_osclogger._udp.local.", "_osc._udp.local.")
APP_SERVICE = "_metatoneapp._udp.local."
INSTALL = "pip install 'gesture-rnn[zeroconf]'"


def advertised_address(config) -> tuple[str | None, str]:
    """The one IPv4 address to advertise for ``config``, or None and the reason why not."""
    if not config.advertise:
        return None, "--no-advertise"
    if config.advertise_address is not None:
        return config.advertise_address, ""
    try:
        host = ipaddress.ip_address(config.host)
    except ValueError:
        return None, f"--host {config.host} is not an IPv4 address (add --advertise-address)"
    if host.version != 4:
        return None, "the apps read IPv4 addresses only (add --advertise-address)"
    if host.is_loopback:
        return None, (
            f"listening on {host}, which only this computer reaches "
            "(use --host 0.0.0.0 for the apps on the network)"
        )
    if not host.is_unspecified:
        return str(host), ""
    address = primary_ipv4()
    if address is None:
        return None, "no network address found (choose one with --advertise-address)"
    return address, ""


def primary_ipv4() -> str | None:
    """The address this computer would reach the network from (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if ipaddress.ip_address(address).is_loopback else address


def is_local(address: str) -> bool:
    """Whether ``address`` is one of this computer's (zeroconf can only speak from one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((address, 0))
        except OSError:
            return False
    return True


class Discovery:
    """Advertise and browse in a background thread; :meth:`close` says goodbye."""

    def __init__(self, address: str, port: int):
        self.address = address
        self.port = port
        self.apps: dict[str, str] = {}  # service name -> what it says; read by the live view
        self._zeroconf = None
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._start, name="zeroconf", daemon=True)
        self._thread.start()

    def found(self) -> list[str]:
        return sorted(self.apps)

    def _start(self) -> None:
        try:
            from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, Zeroconf

            zc = Zeroconf(interfaces=[self.address], ip_version=IPVersion.V4Only)
        except Exception as error:  # port 5353 taken, no multicast, ...: run without it
            log.warning("zeroconf discovery off, playing on without it: %s", _first_line(error))
            return
        self._zeroconf = zc
        try:
            ServiceBrowser(zc, APP_SERVICE, handlers=[self._on_change])
            # A host name of our own, not the machine's: the apps resolve it to this address.
            server = f"gesture-rnn-{secrets.token_hex(3)}.local."
            for kind in SERVICE_TYPES:
                if self._closing.is_set():
                    return
                info = ServiceInfo(
                    kind,
                    f"Gesture-RNN bridge.{kind}",
                    addresses=[socket.inet_aton(self.address)],
                    port=self.port,
                    properties={"app": "gesture-rnn", "protocol": "metatone"},
                    server=server,
                )
                zc.register_service(info, allow_name_change=True)  # a 2nd bridge: new name
                log.info("advertising %s as %s at %s:%d", kind, info.name, self.address, self.port)
        except Exception as error:
            log.warning("zeroconf discovery off, playing on without it: %s", _first_line(error))

    def _on_change(self, zeroconf, service_type, name, state_change) -> None:
        from zeroconf import ServiceStateChange

        short = name.removesuffix("." + service_type)
        if state_change is ServiceStateChange.Removed:
            self.apps.pop(short, None)
        else:
            self.apps[short] = service_type

    def close(self) -> None:
        """Goodbyes for every advertised service, then stop (bounded wait)."""
        self._closing.set()
        self._thread.join(timeout=5)
        zc = self._zeroconf
        if zc is None:
            return
        try:
            zc.unregister_all_services()
            zc.close()
        except Exception as error:
            log.debug("zeroconf close: %s", error)


class NoDiscovery:
    def found(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


def start_discovery(config, metatone=None):
    """Start discovery for ``config`` (a :class:`Discovery` or a stand-in that does
    nothing), saying in one line why there is none."""
    address, why = advertised_address(config)
    if address is None:
        log.info("not advertising over zeroconf: %s", why)
        return NoDiscovery()
    if not is_local(address):
        log.warning(
            "zeroconf discovery off: %s is not an address of this computer "
            "(choose one with --advertise-address)",
            address,
        )
        return NoDiscovery()
    try:
        import zeroconf  # noqa: F401
    except ImportError:
        log.warning("zeroconf discovery off: zeroconf is not installed (%s)", INSTALL)
        return NoDiscovery()
    discovery = Discovery(address, config.port)
    if metatone is not None:
        metatone.apps_found = discovery.found
    return discovery


def _first_line(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0]
