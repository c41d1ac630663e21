"""Start the real bridge as a process and talk to it over real UDP sockets."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

READY = "gesture-rnn bridge ready"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def osc(address: str, *args) -> bytes:
    builder = OscMessageBuilder(address)
    for value in args:
        builder.add_arg(value)
    return builder.build().dgram


class Listener:
    """A UDP socket standing in for Pd or SuperCollider: collects what the bridge sends."""

    def __init__(self, host: str = "127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.messages: list[tuple[float, str, list]] = []

    def collect(self, seconds: float, until=None) -> list[tuple[float, str, list]]:
        """Read for up to ``seconds``; stop early once ``until(messages)`` is true."""
        end = time.monotonic() + seconds
        start = len(self.messages)
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                break
            data = self.sock.recv(65536)
            message = OscMessage(data)
            self.messages.append((time.monotonic(), message.address, list(message.params)))
            if until is not None and until(self.messages[start:]):
                break
        return self.messages[start:]

    def close(self) -> None:
        self.sock.close()


def listening_port(ready_line: str) -> int:
    """The port in the ready line's ``listening on HOST:PORT (OSC)``."""
    found = re.search(r"listening on \S+:(\d+) \(OSC\)", ready_line)
    assert found, f"no port in the ready line: {ready_line}"
    return int(found.group(1))


class BridgeProcess:
    def __init__(self, *args, cwd: Path | None = None, env: dict | None = None, wrap=()):
        """Start ``gesture-rnn bridge --port 0 ARGS``, under the command ``wrap``
        (e.g. ``unshare -rn``) if given, and wait for its ready line, which names the
        port the bridge took (``port``): no other program can take it first."""
        self.args = ["--port", "0", *map(str, args)]
        self.proc = subprocess.Popen(
            [*wrap, sys.executable, "-m", "gesture_rnn", "bridge", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "PYTHONFAULTHANDLER": "1", **(env or {})},
        )
        self.ready_line = self._wait_ready()
        self.port = listening_port(self.ready_line)
        self.send_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.send_sock.bind(("127.0.0.1", 0))

    def _wait_ready(self, timeout: float = 20.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ready, _, _ = select.select([self.proc.stdout], [], [], end - time.monotonic())
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(READY):
                return line
        self.proc.send_signal(signal.SIGABRT)  # with PYTHONFAULTHANDLER: where it was
        try:
            _, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        raise AssertionError(f"bridge did not become ready; stderr:\n{err}")

    def send(self, address: str, *args) -> None:
        self.send_sock.sendto(osc(address, *args), ("127.0.0.1", self.port))

    def send_raw(self, data: bytes) -> None:
        self.send_sock.sendto(data, ("127.0.0.1", self.port))

    def stop(self, sig=signal.SIGTERM, timeout: float = 5.0) -> tuple[int, str, str]:
        """Signal the bridge, wait, return (exit code, rest of stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"bridge did not stop within {timeout} s") from None
        finally:
            self.send_sock.close()
        return self.proc.returncode, out, err


def run_bridge_once(
    *args, timeout: float = 20.0, wrap=(), env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the bridge expecting it to refuse to start (bad options)."""
    return subprocess.run(
        [*wrap, sys.executable, "-m", "gesture_rnn", "bridge", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
