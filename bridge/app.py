"""The bridge's one loop: clock, OSC, MIDI and touch timing around a :class:`Session`.

One thread does everything that touches the session, so nothing needs a lock. It sleeps
in ``select`` until the next deadline (preparing a tick, a tick, a touch or a note-off) or
until a datagram, a browser's message (handed over from the web page's thread through a
queue and a wake-up pipe) or a signal arrives; with MIDI input open it wakes every
millisecond to read the MIDI that came (bridge/midi.py says why MIDI is read so, not
handed over from rtmidi's thread).

Each tick is made ahead (:meth:`Session.preparing`: model step, sampling, touches, and
here the tick's OSC bytes), so at the deadline the loop only commits, sends and hands
the already-made touches to the schedule.
"""

from __future__ import annotations

import heapq
import ipaddress
import logging
import math
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

from .clock import MIDI_CLOCK_MESSAGES, BeatClock, InternalClock, MidiClock, PeriodEstimate
from .config import BridgeConfig
from .metatone import PREFIX as METATONE_PREFIX
from .osc import Command, OscRejected, OscSender, RateLimitedLog, parse_command
from .session import Session, Tick

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65536
# Counted events, all in --stats even when 0 (docs/bridge.md says what each counts).
COUNTERS = (
    "received",
    "rejected",
    "ignored",
    "not_allowed",
    "touches_dropped",
    "ticks_redone",
)
READ_BUDGET = 0.0005  # seconds of reading datagrams before the loop looks at the rest
PREPARE_AHEAD = 0.005  # seconds before a deadline to make the tick, so it is punctual
# A step prepared at most this long before its tick stands even if the lead or the
# temperature changed since: the change counts from the next tick. A later prepare would
# be redone at the deadline, which a flood of lead changes would then make every tick.
LEAD_LAG = 2 * PREPARE_AHEAD
# Waking from a sleep takes 0.1-0.2 ms; for this long before a tick the loop polls instead.
SPIN_BEFORE_TICK = 0.0005
# Each of these stops the bridge cleanly (SIGHUP: a closed terminal, a dropped SSH session).
MIDI_POLL = 0.001  # seconds between reads of the MIDI inputs
PORT_CHECK = 1.0  # seconds between looks for MIDI ports that went or came back
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


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
        self.metatone = None  # a metatone.Metatone: the apps' protocol (cli.build sets it)
        self.web = None  # a bridge.web.WebServer with --web
        self.out = out
        self.counts: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self.rejections = RateLimitedLog(log)
        self.allowed = config.allowed_networks()  # --allow; empty: everyone
        self._last_host: str | None = None  # the last sender checked, and whether allowed
        self._last_allowed = False
        self.stopping = False
        self.stopped_by: int | None = None  # the signal that stopped the loop, if one did
        self._ran = False
        self.period = PeriodEstimate(config.period)
        self.midi_clock = MidiClock() if config.clock == "midi" else None
        self.clock: InternalClock | BeatClock | None = None
        self.link = None  # a LinkSession with --clock link (bridge/link.py)
        # The current tick's touches, in time order, due at _touch_start + event.time;
        # _touch_next is the first not yet sent. MIDI note-offs: a heap of (due, order, note).
        self._touches: tuple = ()
        self._touch_next = 0
        self._touch_start = 0.0
        self._note_offs: list = []
        self._order = 0
        # Timing, for --stats: how late ticks and touches fire, and compute per tick.
        self.timing = {
            name: deque(maxlen=100_000)
            for name in ("tick_late", "tick_prepare", "tick_compute", "touch_late")
        }
        self._pending = None  # a Step prepared ahead of the next tick
        self._pending_data: list[bytes] | None = None  # its tick's OSC messages
        self._prepared_at = -math.inf  # when the pending step read its inputs
        self._last_tick: float | None = None  # when the last tick started
        self._next_port_check = time.monotonic() + PORT_CHECK
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()  # from the web page's thread
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        sock.setblocking(False)

    # -- called from other threads ----------------------------------------------------

    def on_web(self, item) -> None:
        """The web thread's hand-over: a checked Command, or a WebRejected."""
        self._inbox.put(item)
        self._wake()

    def stop(self, signum: int | None = None, _frame=None) -> None:
        """Ask the loop to stop (a signal handler: a second signal only asks again)."""
        self.stopping = True
        if signum is not None:
            self.stopped_by = signum
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except (BlockingIOError, OSError):
            pass  # the pipe is full, so the loop is waking anyway

    # -- the loop -------------------------------------------------------------------------

    def run(self, ready_line: str = "") -> int:
        """Serve until SIGINT, SIGTERM or SIGHUP, then close; returns the exit code, 0.

        ``ready_line`` is printed once the signals are caught. The handlers stay in place
        until everything is closed, so a second signal during the shutdown cannot cut it
        short; the signal also wakes the loop through its wake-up pipe, whichever thread
        the system delivered it to. Must run in the main thread (signal handlers)."""
        from threadpoolctl import threadpool_limits

        # One BLAS thread: a batch-1 step is a few small matrix products, and waking
        # BLAS threads for them costs more than it saves (and jitters the tick).
        threadpool_limits(1)
        if self.config.realtime:
            _ask_for_realtime_priority()
        self._ran = True
        previous = {s: signal.signal(s, self.stop) for s in STOP_SIGNALS}
        _restart_system_calls()
        previous_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        try:
            if ready_line:
                self.out.write(ready_line + "\n")
                self.out.flush()
            if self.config.clock == "internal":
                # The first tick too is made ahead: it is due PREPARE_AHEAD from now.
                self.clock = InternalClock(self.config.period, time.monotonic() + PREPARE_AHEAD)
            elif self.config.clock == "link":
                link, config = self.link, self.config
                self.clock = BeatClock(
                    lambda: link.timeline,
                    config.beats_per_step,
                    latency=config.link_latency / 1000.0,
                    start_stop=config.link_start_stop,
                )
            while not self.stopping:
                self._run_once()
        finally:
            signal.set_wakeup_fd(previous_wakeup)  # before close() closes the pipe
            self.close()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 0

    def _run_once(self) -> None:
        self._fire_due_events(time.monotonic())  # before a tick, which drops the rest
        prepare_at = self._prepare_due()
        if prepare_at is not None and time.monotonic() >= prepare_at:
            self._prepare_pending()
        if self.clock is not None and time.monotonic() >= self.clock.deadline:
            self.tick(self.clock.deadline, self.clock.period)
            self.clock.advance(time.monotonic())
        deadline = self._next_deadline()
        if self.midi is not None:
            self._read_midi()
            self._check_ports(deadline)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if timeout is not None:
            timeout = min(timeout, 0.5)  # also bounds how long a stop request waits
        if self.midi is not None:
            # Read MIDI every millisecond, and look for ports gone or back every second.
            wake = MIDI_POLL if self.midi.inputs else None
            if self.midi.named:
                wake = max(0.0, min(wake or PORT_CHECK, self._next_port_check - time.monotonic()))
            if wake is not None:
                timeout = wake if timeout is None else min(timeout, wake)
        readable, _, _ = select.select([self.sock, self._wake_r], [], [], timeout)
        if self.sock in readable:
            self._read_datagrams(deadline)
        if self._wake_r in readable:
            self._drain_wake_pipe()

    def _prepare_due(self) -> float | None:
        """When to prepare the next tick: PREPARE_AHEAD before it is due or expected."""
        if self._pending is not None:
            return None
        if self.clock is not None:
            return self.clock.deadline - PREPARE_AHEAD
        if self._last_tick is None:
            return None  # an external clock: no idea when the first tick comes
        return self._last_tick + self.period.value - PREPARE_AHEAD

    def _tick_duration(self) -> float:
        # External clocks: the length estimated from the ticks so far (see docs/bridge.md).
        return self.clock.period if self.clock is not None else self.period.value

    def _prepare_pending(self) -> None:
        """Make the next tick now, sending the current tick's due touches in between."""
        step = self._prepare(self._tick_duration(), between=self._fire_due_events)
        self._pending = step
        self._pending_data = self.sender.tick_data(step.tick)

    def _prepare(self, duration: float, between=None):
        """Session.preparing, timed as tick_prepare (not counting what ``between`` does)."""
        self._prepared_at = began = time.monotonic()
        spent = 0.0
        for step in self.session.preparing(duration):
            now = time.monotonic()
            spent += now - began
            if step is not None:
                break
            if between is not None:
                between(now)
            began = time.monotonic()
        self.timing["tick_prepare"].append(spent)
        return step

    def _next_deadline(self) -> float | None:
        candidates = []
        prepare_at = self._prepare_due()
        if prepare_at is not None:
            candidates.append(prepare_at)
        if self.clock is not None:
            candidates.append(self.clock.deadline - SPIN_BEFORE_TICK)
        if self._touch_next < len(self._touches):
            candidates.append(self._touch_start + self._touches[self._touch_next].time)
        if self._note_offs:
            candidates.append(self._note_offs[0][0])
        return min(candidates) if candidates else None

    def _read_datagrams(self, deadline: float | None) -> None:
        """Read what is waiting, looking at the clock after every datagram: a flood
        delays a due tick or touch by one datagram's handling at most."""
        stop = time.monotonic() + READ_BUDGET  # then MIDI, signals and the rest get a turn
        if deadline is not None:
            stop = min(stop, deadline)
        while True:
            try:
                data, sender = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # e.g. ICMP port unreachable reported on some OSes
                self.rejections.log(logging.DEBUG, "receive error", f"receive error: {error}")
                return
            self.handle_datagram(data, sender)
            if time.monotonic() >= stop:
                return  # the rest waits in the socket buffer

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        while True:  # what the web thread handed over (MIDI is read, not handed over)
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            self.handle_web(item)

    def _read_midi(self) -> None:
        for message in self.midi.receive():
            self.handle_midi(message)

    def _check_ports(self, deadline: float | None) -> None:
        """Once a second, when nothing is due for 20 ms: MIDI ports gone or back."""
        now = time.monotonic()
        if now < self._next_port_check or (deadline is not None and deadline - now < 0.02):
            return
        self._next_port_check = now + PORT_CHECK
        self.midi.check_ports()

    # -- input --------------------------------------------------------------------------

    def handle_datagram(self, data: bytes, sender) -> None:
        """One datagram from ``sender`` (host, port, ...): checked, counted, acted on.
        Every log line is rate-limited per kind of fault (bounded whatever arrives)."""
        if self.allowed and not self._allowed(sender[0]):
            self.counts["not_allowed"] += 1
            self.rejections.info("not allowed", f"dropped OSC from {sender[0]}: not in --allow")
            return
        try:
            if self.metatone is not None and data.startswith(METATONE_PREFIX):
                self.counts["received" if self.metatone.receive(data, sender) else "ignored"] += 1
                return
            command = parse_command(data)
        except OscRejected as error:
            self.counts["rejected"] += 1
            self.rejections.warning(error.kind, f"rejected OSC message: {error}")
            return
        if command.kind == "unknown":
            self.counts["ignored"] += 1
            self.rejections.info(
                "unknown address", f"ignored OSC message to an unknown address: {command.value}"
            )
            return
        if self.apply(command, sender):
            self.counts["received"] += 1

    def _allowed(self, host: str) -> bool:
        """Whether ``host`` (a sender's address) is in --allow; the last answer is kept,
        as a flood mostly comes from one sender."""
        if host != self._last_host:
            address = ipaddress.ip_address(host.split("%")[0])  # an IPv6 scope is no part
            if address.version == 6 and address.ipv4_mapped:  # IPv4 on a dual-stack socket
                address = address.ipv4_mapped
            self._last_allowed = any(address in network for network in self.allowed)
            self._last_host = host
        return self._last_allowed

    def apply(self, command: Command, sender=None) -> bool:
        """Act on a checked command; False if it does not apply now (counted as rejected)."""
        if command.kind == "lead":
            self.session.lead = command.value
        elif command.kind == "touch":
            self.session.add_touch(*command.value)
        elif command.kind == "temperature":
            self.session.set_temperature(command.value)
        elif command.kind == "liveliness":
            self.session.set_liveliness(command.value)
        elif command.kind == "reset":
            self.session.reset()
            self._cancel_touches()
            self._pending = self._pending_data = None  # from the old state: make it again
        elif command.kind == "ping" and sender is not None:
            try:
                self.sock.sendto(command.value, sender)
            except OSError as error:  # e.g. a full buffer under a flood of pings
                self.rejections.log(logging.DEBUG, "pong", f"pong to {sender} failed: {error}")
        elif command.kind == "tick":
            if self.config.clock != "osc":
                self.counts["rejected"] += 1
                self.rejections.warning(
                    "tick without osc clock", "/bridge/tick ignored: the clock is not osc"
                )
                return False
            now = time.monotonic()
            self.tick(now, self.period.tick(now))
        return True

    def handle_web(self, item) -> None:
        """A browser's message, checked on the web thread (bridge/web.py)."""
        if isinstance(item, Command):
            if self.apply(item):
                self.counts["received"] += 1
            return
        self.counts["rejected"] += 1
        self.rejections.warning("web", f"rejected web message: {item}")

    def handle_midi(self, message) -> None:
        from .midi import MidiRejected, lead_gesture, liveliness  # only here when MIDI is open

        kind = message.type
        if self.midi_clock is not None and kind in MIDI_CLOCK_MESSAGES:
            if kind == "clock":
                if self.midi_clock.pulse():
                    now = time.monotonic()
                    self.tick(now, self.period.tick(now))
            elif kind == "start":
                self.midi_clock.start()
                self.period.pause()
            elif kind == "continue":
                self.midi_clock.resume()
                self.period.pause()
            elif kind == "songpos":
                self.midi_clock.song_position(message.pos)
            else:
                self.midi_clock.stop()
                self.period.pause()
            return
        lively = liveliness(message, self.config.midi)
        if lively is not None:
            self.counts["received"] += 1
            self.session.set_liveliness(lively)
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
        """Commit the prepared tick (made now if there is none), send it and schedule
        its touches from ``start``."""
        began = time.monotonic()
        self._cancel_touches()  # a new tick replaces what is left of the last one
        step, self._pending = self._pending, None
        data, self._pending_data = self._pending_data, None
        if step is None:
            step, data = self._prepare(duration), None
        fresh = self._prepared_at >= start - LEAD_LAG
        tick = self.session.commit(step, lead_may_lag=fresh)
        if tick is not step.tick:  # a reset, or an old step and a new lead: made again
            self.counts["ticks_redone"] += 1
            data = None
        self.sender.send_all(data if data is not None else self.sender.tick_data(tick))
        if self.midi is not None:
            self.midi.tick(tick)
        sent = time.monotonic()
        if self.metatone is not None:  # after the ensemble's own messages: they come first
            self.metatone.tick(tick.ensemble)
        self._touches, self._touch_next, self._touch_start = tick.touches, 0, start
        self._last_tick = start
        if self.recorder is not None:
            self.recorder.tick(tick.lead, tick.ensemble)
        if self.web is not None:
            self.web.tick(tick, self._web_state(tick))
        self.timing["tick_late"].append(sent - start)
        self.timing["tick_compute"].append(time.monotonic() - began)
        if not self.config.quiet:
            self._show(tick)
        return tick

    def _cancel_touches(self) -> None:
        self.counts["touches_dropped"] += len(self._touches) - self._touch_next
        self._touches, self._touch_next = (), 0

    def _fire_due_events(self, now: float) -> None:
        """Send the touches and note-offs due by ``now``, earliest first."""
        touches, note_offs = self._touches, self._note_offs
        while True:
            more = self._touch_next < len(touches)
            touch_due = self._touch_start + touches[self._touch_next].time if more else math.inf
            if note_offs and note_offs[0][0] < touch_due:
                if note_offs[0][0] > now:
                    return
                _, _, note = heapq.heappop(note_offs)
                self.midi.note_off(*note)
                continue
            if not more or touch_due > now:
                return
            event = touches[self._touch_next]
            self._touch_next += 1
            self.timing["touch_late"].append(time.monotonic() - touch_due)
            self.sender.touch(event)
            if self.web is not None:
                self.web.touch(event)
            if self.metatone is not None:
                self.metatone.touch(event)
            if self.midi is not None:
                note = self.midi.touch(event)
                if note is not None:
                    self._order += 1
                    due = now + self.config.midi.note_length
                    heapq.heappush(note_offs, (due, self._order, note))

    def _show(self, tick: Tick) -> None:
        players = "  ".join(f"{i} {GESTURE_NAMES[g]:<3}" for i, g in enumerate(tick.ensemble, 1))
        try:
            self.out.write(
                f"tick {tick.number:>5} | lead {GESTURE_NAMES[tick.lead]:<3} | {players} | "
                f"in {self.counts['received']} rejected {self.counts['rejected']} "
                f"ignored {self.counts['ignored']}{self._not_allowed()}{self._send_failures()}"
                + (f" | {self.link.describe()}" if self.link is not None else "")
                + (self.metatone.status() if self.metatone is not None else "")
                + "\n"
            )
            self.out.flush()
        except (OSError, ValueError) as error:  # the terminal is gone (a hang-up): play on
            self.config.quiet = True
            log.warning("live view stopped: %s", error)

    def _web_state(self, tick: Tick) -> dict:
        state = {
            "tick": tick.number,
            "lead": tick.lead,
            "period": self._tick_duration(),
            "temperature": self.session.temperature,
            "liveliness": self.session.liveliness,
            "received": self.counts["received"],
            "rejected": self.counts["rejected"],
        }
        return state

    def _not_allowed(self) -> str:
        return f" not allowed {self.counts['not_allowed']}" if self.allowed else ""

    def _send_failures(self) -> str:
        failed = [f"{label} {n}" for label, n in self.sender.failed.items() if n]
        return f" | send failed: {', '.join(failed)}" if failed else ""

    def timing_summary(self) -> dict:
        """Percentiles of the timing figures in milliseconds, counts, and peak memory."""
        import resource

        import numpy as np

        summary: dict = {"ticks": self.session.ticks, **self.counts}
        summary["sent"] = self.sender.sent  # OSC datagrams, counted once per target
        summary["send_failed"] = dict(self.sender.failed)  # per target, zeros included
        # Rows in the --record file: fewer than ticks if writing it failed on stage.
        summary["ticks_recorded"] = self.recorder.ticks if self.recorder is not None else 0
        for name, values in self.timing.items():
            if values:
                ms = np.asarray(values) * 1000.0
                summary[name] = {
                    "n": len(ms),
                    "p50_ms": float(np.percentile(ms, 50)),
                    "p99_ms": float(np.percentile(ms, 99)),
                    "max_ms": float(ms.max()),
                }
        if self.web is not None:
            summary["web"] = self.web.stats()
        summary["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return summary

    def _write_stats(self) -> None:
        import json

        from gesture_rnn.files import OutputError, write_new

        text = json.dumps(self.timing_summary(), indent=1) + "\n"
        try:
            write_new(self.config.stats, lambda tmp: tmp.write_text(text), self.config.force)
        except OutputError as error:
            log.error("could not write --stats: %s", error)

    def close(self) -> None:
        """Shut down in a safe order; every step runs even if one before it failed.

        The web page's thread first, MIDI inputs, then all notes off, the recording and
        the stats, and the MIDI outputs last."""
        if self.web is not None:
            _safely(self.web.close)
        if self.midi is not None:
            _safely(self.midi.close_inputs)
            _safely(self.midi.all_notes_off)
        if self.recorder is not None:
            _safely(self.recorder.close)
        if self.config.stats is not None:
            _safely(self._write_stats)
        if self.midi is not None:
            _safely(self.midi.close)
        if self.link is not None:
            _safely(self.link.close)
        _safely(self.sock.close)
        _safely(self.sender.close)
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


def _restart_system_calls() -> None:
    """Let a stop signal restart the system calls it interrupts (SA_RESTART): libjack,
    in the middle of closing a port, gives up on a read that a signal interrupted."""
    for s in STOP_SIGNALS:
        signal.siginterrupt(s, False)


def _safely(step) -> None:
    """Run one shutdown step; a failure is logged and the shutdown goes on."""
    try:
        step()
    except Exception as error:
        log.error("while stopping: %s: %s", getattr(step, "__qualname__", step), error)
