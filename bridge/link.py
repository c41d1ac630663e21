"""Ableton Link through aalink: the session lives in its own thread, never in the bridge's loop.

aalink needs a running asyncio loop, and the bridge runs its own ``select`` loop. So
:class:`LinkSession` starts a thread with an asyncio loop that owns the ``aalink.Link``
object and, every few milliseconds and whenever Link reports a change, publishes a
:class:`~bridge.clock.Timeline` (beat at a ``time.monotonic()`` instant, tempo, peers,
playing). The bridge's loop reads the latest one, a plain attribute, and never waits on
Link; :class:`~bridge.clock.BeatClock` turns it into "the next step is due at T".

Link's clock is not ``time.monotonic()``: the beat is read between two monotonic readings,
so only the tempo (beats per second) links the two clocks, never an absolute time.

From Link's own test plan: the quantum is set before enabling, and the tempo is never
written: ``--tempo`` is the tempo of a session the bridge starts, never pushed onto a
session it joins.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from gesture_rnn.extras import MissingExtraError, install_hint, require

from .clock import Timeline

log = logging.getLogger(__name__)

REFRESH = 0.01  # seconds between readings of the session (beat jumps have no callback)
START_TIMEOUT = 5.0
DEFAULT_TEMPO = 120.0  # Link's own default, used only until we join a session
# The bridge's loop is woken when the next beat moves by more than this (a tempo change).
WAKE_SHIFT = 0.0002


class LinkError(Exception):
    """Link cannot start (aalink missing or failing): one line, exit code 2."""


class LinkSession:
    """Joins the Link session on a thread of its own; ``timeline`` is its latest reading.

    ``on_change`` is called (from the Link thread) when the tempo, the peers, the playing
    state or the beat line changed, so the bridge's loop can wake and look again.
    """

    def __init__(
        self,
        quantum: float = 4.0,
        start_stop: bool = False,
        tempo: float | None = None,
        on_change: Callable[[], None] | None = None,
    ):
        try:
            require("link", "--clock link")
            import aalink
        except MissingExtraError as error:
            raise LinkError(str(error)) from None
        except ImportError as error:  # there, but broken (e.g. a wheel for another Python)
            raise LinkError(
                f"--clock link needs aalink, from the optional extra [link], which cannot be "
                f"imported ({error}): {install_hint('link')}"
            ) from None
        self._aalink = aalink
        self.quantum = quantum
        self.start_stop = start_stop
        self.tempo = tempo
        self.on_change = on_change
        self.timeline: Timeline | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ableton-link", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise LinkError(f"Ableton Link did not start within {START_TIMEOUT:g} s")
        if self._error is not None:
            raise LinkError(f"Ableton Link could not start: {self._error}")

    # -- the Link thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the constructor, or logged
            self._error = error
            if self._ready.is_set():
                log.error("Ableton Link stopped: %s", error)
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # Our tempo is only the tempo of a session we start: joining an existing session
        # adopts its tempo, and the tempo is never written after enabling.
        link = self._aalink.Link(self.tempo or DEFAULT_TEMPO)  # takes the running loop
        link.quantum = self.quantum  # before enabling, and never changed after
        link.start_stop_sync_enabled = self.start_stop
        for name in ("set_tempo_callback", "set_num_peers_callback", "set_start_stop_callback"):
            getattr(link, name)(lambda _value: self._read(link))
        link.enabled = True
        self._read(link)
        self._ready.set()
        try:
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), REFRESH)
                except TimeoutError:
                    pass
                self._read(link)
        finally:
            link.enabled = False

    def _read(self, link) -> None:
        before = time.monotonic()
        beat = link.beat
        after = time.monotonic()
        line = Timeline(
            at=(before + after) / 2,
            beat=beat,
            tempo=link.tempo,
            peers=link.num_peers,
            playing=link.playing,
        )
        old, self.timeline = self.timeline, line
        if old is not None and old.peers != line.peers:
            # Also with --quiet: the ready line comes before Link has found anyone.
            peers = f"{line.peers} peer" + ("" if line.peers == 1 else "s")
            log.info("Ableton Link: %s, %.1f BPM", peers, line.tempo)
        if old is None or self.on_change is None:
            return
        moved = abs(old.time_at(line.beat) - line.at)
        if (
            moved > WAKE_SHIFT
            or old.tempo != line.tempo
            or old.peers != line.peers
            or old.playing != line.playing
        ):
            self.on_change()

    # -- the bridge's side ------------------------------------------------------------

    def describe(self) -> str:
        """The tempo, beat and peers, for the ready line and the live view."""
        line = self.timeline
        if line is None:
            return "Link not started"
        beat = line.beat_at(time.monotonic())
        peers = f"{line.peers} peer" + ("" if line.peers == 1 else "s")
        state = "" if not self.start_stop else (" playing" if line.playing else " stopped")
        return f"{line.tempo:.1f} BPM beat {beat:.1f} {peers}{state}"

    def close(self) -> None:
        """Leave the session; waits for the Link thread (at most two seconds)."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop has already closed
                pass
        self._thread.join(timeout=2.0)
