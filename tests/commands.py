"""Running the real command, and small real file systems, for the tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
    """``gesture-rnn ARGS...`` in a new process (``python -m gesture_rnn``), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "gesture_rnn", *map(str, args)],
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


@contextlib.contextmanager
def tmpfs(folder: Path, options: str):
    """A small tmpfs mounted at ``folder`` (made here), e.g. ``size=64k`` or ``size=64k,ro``:
    a real mount, as root. Skips the test, saying why, where mounting is not allowed."""
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)
