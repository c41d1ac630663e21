"""A JACK server of our own (dummy backend, no sound card) and MIDI peers to talk to.

Each test session starts its own named server (``jackd -n NAME -d dummy``), so other
programs' ports on the machine cannot interfere; everything that talks to it gets
``JACK_DEFAULT_SERVER=NAME`` in its environment. Readiness is waited for (a port listed
by ``jack_lsp``, a peer's "ready" line, the first message), never slept for.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"
REPO = Path(__file__).resolve().parent.parent


class JackUnavailable(Exception):
    """JACK is not installed or its server would not start (the reason, one line)."""


def wait_until(condition, timeout: float, what: str, interval: float = 0.02):
    """Poll ``condition()`` until it returns something true; AssertionError naming ``what``."""
    end = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class JackServer:
    """``jackd -n NAME -d dummy``, started at once and ended with :meth:`close`.

    NAME is the first of ``gesture-rnn-test-0`` ... ``-7`` that no running server uses.
    JACK keeps a machine-wide table of at most 8 server names and frees the entry of a
    server that died only when a server of the same name starts, so a fixed set of names
    reclaims what a killed test session left, where a fresh name each time would fill it.
    """

    SLOTS = 8

    def __init__(self):
        if shutil.which("jackd") is None or shutil.which("jack_lsp") is None:
            raise JackUnavailable("JACK is not installed (apt-get install jackd2)")
        reasons = []
        for slot in range(self.SLOTS):
            self._configure(f"gesture-rnn-test-{slot}")
            if self._lsp() is not None:
                continue  # another test session's server
            reason = self._start()
            if reason is None:
                return
            reasons.append(reason)
        raise JackUnavailable(
            f"jackd -d dummy did not start: {reasons[-1] if reasons else 'all names in use'}"
        )

    def _configure(self, name: str) -> None:
        self.name = name
        self.env = {
            **os.environ,
            "JACK_DEFAULT_SERVER": name,
            "JACK_NO_AUDIO_RESERVATION": "1",
            "JACK_NO_START_SERVER": "1",  # never start the default server by accident
            "MIDO_BACKEND": JACK_BACKEND,
        }

    def _start(self) -> str | None:
        """Start jackd under this name; None once it answers, else why it did not."""
        # Its messages go to a file: a pipe nobody reads fills up with xrun reports under
        # load, and then jackd blocks writing the next one and every client with it.
        self._log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", self.name, "-d", "dummy", "-r", "48000", "-p", "256"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        try:
            wait_until(lambda: self.proc.poll() is not None or self._lsp() is not None, 10, "jackd")
        except AssertionError:
            self.close()
            return "no answer in 10 s"
        if self.proc.poll() is not None:
            self._log.seek(0)
            err = self._log.read().strip().splitlines()
            self._log.close()
            return err[-1] if err else "it exited"
        return None

    def _lsp(self) -> list[str] | None:
        result = subprocess.run(["jack_lsp"], capture_output=True, text=True, env=self.env)
        return result.stdout.splitlines() if result.returncode == 0 else None

    def ports(self) -> list[str]:
        return self._lsp() or []

    def wait_for_port(self, part: str, timeout: float = 10.0) -> str:
        """The full name of the first port whose name contains ``part``, once it exists."""
        return wait_until(
            lambda: next((p for p in self.ports() if part in p), None), timeout, f"port {part!r}"
        )

    def wait_gone(self, part: str, timeout: float = 10.0) -> None:
        wait_until(lambda: not any(part in p for p in self.ports()), timeout, f"{part!r} to go")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class MidiPeer:
    """Another program on the JACK server (``tests/midi_peer.py``): a keyboard sending on
    port ``CLIENT-keys:out`` and a synth printing what arrives on ``CLIENT-synth:in``."""

    def __init__(self, jack: JackServer, client: str, *args: str):
        self.client = client
        self.keys = f"{client}-keys:out"
        self.synth = f"{client}-synth:in"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.midi_peer", client, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
            env={**jack.env, "PYTHONFAULTHANDLER": "1"},
        )
        self.lines: list[str] = []
        self._fd = self.proc.stdout.fileno()  # read unbuffered, so select sees every line
        self._buffer = b""
        if self.readline(30.0) != "ready":
            self.proc.send_signal(signal.SIGABRT)  # the faulthandler says where it hung
            self.proc.wait()
            err = self.proc.stderr.read().decode(errors="replace")
            raise AssertionError(f"MIDI peer {client} did not start: {err}")

    def readline(self, timeout: float) -> str | None:
        """The peer's next line (a message it received, as hex), or None at the timeout."""
        end = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = end - time.monotonic()
            ready, _, _ = select.select([self._fd], [], [], max(0.0, left))
            if not ready:
                return None
            data = os.read(self._fd, 65536)
            if not data:
                return None  # the peer ended
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        self.lines.append(line.decode().strip())
        return self.lines[-1]

    def wait_for_message(self, timeout: float = 10.0) -> str:
        """The next message the synth receives (hex bytes, e.g. 'b1 14 03')."""
        line = self.readline(timeout)
        assert line is not None, f"the synth {self.synth} received nothing in {timeout} s"
        return line

    def stop(self) -> list[str]:
        """End the peer; every message its synth received, as hex lines."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        while self.readline(1.0) is not None:
            pass
        self.proc.stdout.close()
        self.proc.stderr.close()
        return [line for line in self.lines if line != "ready"]
