"""How other threads reach the bridge's loop: a queue and a wake-up pipe.

The loop sleeps in ``select``; a thread that hands something over (the web page's) or
needs the loop to look again (Ableton Link's, a signal handler) writes one byte to the
pipe, which wakes it. Only the loop's thread reads.
"""

from __future__ import annotations

import os
import queue


class Inbox:
    """``put(item)`` from any thread; the loop's thread selects on :attr:`fileno` and
    calls :meth:`drain`. :meth:`close` closes the pipe (once the loop is done)."""

    def __init__(self):
        self._items: queue.SimpleQueue = queue.SimpleQueue()
        self._read, self.wake_fd = os.pipe()  # signal.set_wakeup_fd may write wake_fd too
        os.set_blocking(self._read, False)
        os.set_blocking(self.wake_fd, False)

    def fileno(self) -> int:
        return self._read

    def put(self, item) -> None:
        self._items.put(item)
        self.wake()

    def wake(self) -> None:
        try:
            os.write(self.wake_fd, b"!")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (so the loop is waking anyway) or closed

    def drain(self) -> list:
        """Empty the pipe; returns what was handed over, oldest first."""
        try:
            while os.read(self._read, 4096):
                pass
        except BlockingIOError:
            pass
        items = []
        while True:
            try:
                items.append(self._items.get_nowait())
            except queue.Empty:
                return items

    def close(self) -> None:
        for fd in (self._read, self.wake_fd):
            try:
                os.close(fd)
            except OSError:
                pass
