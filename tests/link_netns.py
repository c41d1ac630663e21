"""Run a test inside a private network namespace, with a second real Link peer.

Link finds peers by multicast, which must never leave the machine. A test decorated with
:func:`in_private_network` runs its body again in a new pytest process under
``unshare -n`` (as root), where only a loopback interface with a multicast route exists.
Without root or ``unshare`` it skips with the reason.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INSIDE = "GESTURE_RNN_TEST_IN_NETNS"
SETUP = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"


def why_no_namespace() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "a private network namespace needs root (unshare -n)"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install util-linux iproute2)"
    probe = subprocess.run(["unshare", "-n", "sh", "-c", SETUP], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a private network namespace: {probe.stderr.strip()}"
    return None


def in_private_network(test):
    """Run ``test`` in a fresh pytest process inside a private network namespace."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        if os.environ.get(INSIDE) == "1":
            return test(*args, **kwargs)
        pytest.importorskip("aalink", reason="the link extra is not installed")
        reason = why_no_namespace()
        if reason is not None:
            pytest.skip(reason)
        node = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]
        inner = f'{SETUP} && exec "$0" -m pytest -q -p no:cacheprovider "$1"'
        result = subprocess.run(
            ["unshare", "-n", "sh", "-c", inner, sys.executable, node],
            cwd=REPO, env={**os.environ, INSIDE: "1"}, capture_output=True, text=True,
            timeout=180,
        )  # fmt: skip
        summary = result.stdout.strip().splitlines()[-1:] or [""]
        if result.returncode != 0 or "1 passed" not in summary[0]:
            pytest.fail(
                f"inside the private network namespace:\n{result.stdout[-6000:]}"
                f"\n{result.stderr[-2000:]}",
                pytrace=False,
            )

    return wrapper


class LinkPeer:
    """tests/link_peer.py as a process: a real Link peer that reports what reaches it."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "link_peer.py"), *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = self.wait(lambda e: "port" in e, 20)["port"]

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def wait(self, until, timeout: float) -> dict:
        """The next event for which ``until(event)`` is true (others are dropped)."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if until(event):
                return event
        raise AssertionError(f"the Link peer saw no such event in {timeout} s")

    def ticks(self, count: int, timeout: float) -> list[dict]:
        """The next ``count`` /ensemble/tick messages, each with the peer's beat."""
        return [
            self.wait(lambda e: e.get("address") == "/ensemble/tick", timeout) for _ in range(count)
        ]

    def drain(self) -> list[dict]:
        events = []
        while True:
            try:
                events.append(self.events.get_nowait())
            except queue.Empty:
                return events

    def command(self, text: str) -> dict:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.wait(lambda e: e.get("done") == text.split()[0], 10)

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
