"""The bridge's one loop: clock, OSC, MIDI and touch timing around a :class:`Session`.

One thread does everything that touches the session, so nothing needs a lock. It sleeps
in ``select`` until the next deadline (a tick or a touch event) or until a datagram,
a MIDI message (handed over from rtmidi's thread through a queue and a wake-up pipe)
or a signal arrives.
"""

from __future__ import annotations

import heapq
import logging
import os
import queue
import select
import signal
import socket
import sys
import time
from collections import Counter, deque
from typing import TextIO

from gesture_rnn.gestures import GESTURE_NAMES

from .clock import InternalClock, MidiClock, PeriodEstimate
from .config import BridgeConfig
from .osc import Command, OscRejected, OscSender, RateLimitedLog, parse_command
from .session import Session, Tick

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65536
READ_BATCH = 8  # datagrams read between looks at the clock
PREPARE_AHEAD = 0.005  # seconds before a deadline to step the model, so the tick is punctual


def _ask_for_realtime_priority() -> None:
    """--realtime: run the loop at real-time priority, where the system allows it."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        log.info("running at real-time priority (SCHED_FIFO 10)")
    except (AttributeError, PermissionError, OSError) as error:
        log.warning(
            "--realtime: cannot raise the priority (%s); on Linux allow it with an 'rtprio' "
            "limit in /etc/security/limits.conf or run with CAP_SYS_NICE",
            getattr(error, "strerror", None) or error,
        )


class Bridge:
    def __init__(
        self,
        config: BridgeConfig,
        session: Session,
        sock: socket.socket,
        sender: OscSender,
        midi=None,
        recorder=None,
        out: TextIO = sys.stdout,
    ):
        self.config = config
        self.session = session
        self.sock = sock
        self.sender = sender
        self.midi = midi
        self.recorder = recorder
        self.out = out
        self.counts: Counter[str] = Counter()
        self.rejections = RateLimitedLog(log)
        self.stopping = False
        self._ran = False
        self.period = PeriodEstimate(config.period)
        self.midi_clock = MidiClock() if config.clock == "midi" else None
        self.clock: InternalClock | None = None
        self._events: list = []  # heap of (due, order, kind, payload)
        self._order = 0
        # Timing, for --stats: how late ticks and touches fire, and compute per tick.
        self.timing = {
            name: deque(maxlen=100_000)
            for name in ("tick_late", "tick_prepare", "tick_compute", "touch_late")
        }
        self._pending = None  # a Step prepared ahead of the next tick
        self._prepared_after = 0
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        sock.setblocking(False)

    # -- called from other threads ----------------------------------------------------

    def on_midi(self, message) -> None:
        """rtmidi's callback: queue the message and wake the loop."""
        self._inbox.put(message)
        self._wake()

    def stop(self, *_args) -> None:
        self.stopping = True
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except (BlockingIOError, OSError):
            pass  # the pipe is full, so the loop is waking anyway

    # -- the loop -------------------------------------------------------------------------

    def run(self, ready_line: str = "") -> int:
        """Serve until SIGINT or SIGTERM; ``ready_line`` is printed once both are caught."""
        from threadpoolctl import threadpool_limits

        # One BLAS thread: a batch-1 step is a few small matrix products, and waking
        # BLAS threads for them costs more than it saves (and jitters the tick).
        threadpool_limits(1)
        if self.config.realtime:
            _ask_for_realtime_priority()
        self._ran = True
        previous = {s: signal.signal(s, self.stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            if ready_line:
                self.out.write(ready_line + "\n")
                self.out.flush()
            if self.config.clock == "internal":
                self.clock = InternalClock(self.config.period, time.monotonic())
            while not self.stopping:
                self._run_once()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.close()
        return 0

    def _run_once(self) -> None:
        self._fire_due_events(time.monotonic())  # before a tick, which drops the rest
        if self.clock is not None:
            now = time.monotonic()
            if self._pending is None and now >= self.clock.deadline - PREPARE_AHEAD:
                self._pending = self._prepare()
            if time.monotonic() >= self.clock.deadline:
                self.tick(self.clock.deadline, self.config.period)
                self.clock.advance(time.monotonic())
        elif self._pending is None and self.session.ticks > self._prepared_after:
            # External clocks: prepare the next step once, as soon as a tick is done.
            self._prepared_after = self.session.ticks
            self._pending = self._prepare()
        deadline = self._next_deadline()
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if timeout is not None:
            timeout = min(timeout, 0.5)  # also bounds how long a stop request waits
        readable, _, _ = select.select([self.sock, self._wake_r], [], [], timeout)
        if self.sock in readable:
            self._read_datagrams(deadline)
        if self._wake_r in readable:
            self._drain_wake_pipe()

    def _prepare(self):
        began = time.monotonic()
        step = self.session.prepare()
        self.timing["tick_prepare"].append(time.monotonic() - began)
        return step

    def _next_deadline(self) -> float | None:
        candidates = []
        if self.clock is not None:
            ahead = 0.0 if self._pending is not None else PREPARE_AHEAD
            candidates.append(self.clock.deadline - ahead)
        if self._events:
            candidates.append(self._events[0][0])
        return min(candidates) if candidates else None

    def _read_datagrams(self, deadline: float | None) -> None:
        while True:
            for _ in range(READ_BATCH):
                try:
                    data, sender = self.sock.recvfrom(MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as error:  # e.g. ICMP port unreachable reported on some OSes
                    log.debug("receive error: %s", error)
                    return
                self.handle_datagram(data, sender)
            if deadline is not None and time.monotonic() >= deadline:
                return  # serve the clock first; the rest waits in the socket buffer

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                break
            self.handle_midi(message)

    # -- input --------------------------------------------------------------------------

    def handle_datagram(self, data: bytes, sender) -> None:
        try:
            command = parse_command(data)
        except OscRejected as error:
            self.counts["rejected"] += 1
            self.rejections.warning(error.address, f"rejected OSC message: {error}")
            return
        if command is None:
            self.counts["ignored"] += 1
            return
        if self.apply(command, sender):
            self.counts["received"] += 1

    def apply(self, command: Command, sender=None) -> bool:
        """Act on a checked command; False if it does not apply now (counted as rejected)."""
        if command.kind == "lead":
            self.session.lead = command.value
        elif command.kind == "temperature":
            self.session.set_temperature(command.value)
        elif command.kind == "reset":
            self.session.reset()
            self._cancel_touches()
        elif command.kind == "ping" and sender is not None:
            try:
                self.sock.sendto(command.value, sender)
            except OSError as error:
                log.debug("pong to %s failed: %s", sender, error)
        elif command.kind == "tick":
            if self.config.clock != "osc":
                self.counts["rejected"] += 1
                self.rejections.warning(
                    "/bridge/tick", "/bridge/tick ignored: the clock is not osc"
                )
                return False
            now = time.monotonic()
            self.tick(now, self.period.tick(now))
        return True

    def handle_midi(self, message) -> None:
        from .midi import MidiRejected, lead_gesture  # only here when MIDI is open

        kind = message.type
        if self.midi_clock is not None and kind in ("clock", "start", "continue", "stop"):
            if kind == "clock":
                if self.midi_clock.pulse():
                    now = time.monotonic()
                    self.tick(now, self.period.tick(now))
            elif kind == "start":
                self.midi_clock.start()
            elif kind == "continue":
                self.midi_clock.resume()
            else:
                self.midi_clock.stop()
            return
        try:
            gesture = lead_gesture(message, self.config.midi)
        except MidiRejected as error:
            self.counts["rejected"] += 1
            self.rejections.warning("midi", f"rejected MIDI message: {error}")
            return
        if gesture is not None:
            self.counts["received"] += 1
            self.session.lead = gesture

    # -- output -------------------------------------------------------------------------

    def tick(self, start: float, duration: float) -> Tick:
        """Step the ensemble, send it, then schedule its touches from ``start``."""
        began = time.monotonic()
        self._cancel_touches()  # a new tick replaces what is left of the last one
        step, self._pending = self._pending, None
        if step is None or not self.session.is_current(step):
            step = self._prepare()  # the lead, temperature or state changed since
        tick = self.session.commit(step)
        self.sender.tick(tick)
        if self.midi is not None:
            self.midi.tick(tick)
        sent = time.monotonic()
        for event in self.session.touches(duration):
            self._schedule(start + event.time, "touch", event)
        if self.recorder is not None:
            self.recorder.tick(tick.lead, tick.ensemble)
        self.timing["tick_late"].append(sent - start)
        self.timing["tick_compute"].append(time.monotonic() - began)
        if not self.config.quiet:
            self._show(tick)
        return tick

    def _schedule(self, due: float, kind: str, payload) -> None:
        self._order += 1
        heapq.heappush(self._events, (due, self._order, kind, payload))

    def _cancel_touches(self) -> None:
        kept = [e for e in self._events if e[2] != "touch"]
        self.counts["touches_dropped"] += len(self._events) - len(kept)
        heapq.heapify(kept)
        self._events = kept

    def _fire_due_events(self, now: float) -> None:
        while self._events and self._events[0][0] <= now:
            due, _, kind, payload = heapq.heappop(self._events)
            if kind == "touch":
                self.timing["touch_late"].append(time.monotonic() - due)
                self.sender.touch(payload)
                if self.midi is not None:
                    note = self.midi.touch(payload)
                    if note is not None:
                        self._schedule(now + self.config.midi.note_length, "note_off", note)
            elif kind == "note_off" and self.midi is not None:
                self.midi.note_off(*payload)

    def _show(self, tick: Tick) -> None:
        players = "  ".join(f"{i} {GESTURE_NAMES[g]:<3}" for i, g in enumerate(tick.ensemble, 1))
        self.out.write(
            f"tick {tick.number:>5} | lead {GESTURE_NAMES[tick.lead]:<3} | {players} | "
            f"in {self.counts['received']} rejected {self.counts['rejected']}\n"
        )
        self.out.flush()

    def timing_summary(self) -> dict:
        """Percentiles of the timing figures in milliseconds, counts, and peak memory."""
        import resource

        import numpy as np

        summary: dict = {"ticks": self.session.ticks, **self.counts}
        for name, values in self.timing.items():
            if values:
                ms = np.asarray(values) * 1000.0
                summary[name] = {
                    "n": len(ms),
                    "p50_ms": float(np.percentile(ms, 50)),
                    "p99_ms": float(np.percentile(ms, 99)),
                    "max_ms": float(ms.max()),
                }
        summary["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return summary

    def _write_stats(self) -> None:
        import json

        path = self.config.stats
        try:
            tmp = path.with_name(path.name + ".partial")
            tmp.write_text(json.dumps(self.timing_summary(), indent=1) + "\n")
            tmp.replace(path)
        except OSError as error:
            log.error("could not write --stats %s: %s", path, error)

    def close(self) -> None:
        if self.config.stats is not None:
            self._write_stats()
        if self.midi is not None:
            self.midi.all_notes_off()
            self.midi.close()
        if self.recorder is not None:
            self.recorder.close()
        self.sock.close()
        self.sender.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        if not self._ran:
            return
        log.info(
            "stopped after %d ticks (%d messages in, %d rejected, %d ignored)",
            self.session.ticks,
            self.counts["received"],
            self.counts["rejected"],
            self.counts["ignored"],
        )
