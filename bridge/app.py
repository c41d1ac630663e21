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

import ipaddress
import logging
import math
import os
import select
import signal
import socket
import sys
import time
from typing import TextIO

from .clock import (
    MIDI_CLOCK_MESSAGES,
    BeatClock,
    InternalClock,
    MidiClock,
    PeriodEstimate,
    TickLimit,
)
from .commands import (
    ClockTick,
    Command,
    LeadTouch,
    Ping,
    Reset,
    SetLead,
    SetLiveliness,
    SetTemperature,
    Unknown,
)
from .config import MIN_PERIOD, BridgeConfig
from .inbox import Inbox
from .metatone import PREFIX as METATONE_PREFIX
from .osc import OscRejected, OscSender, RateLimitedLog, parse_command
from .schedule import TouchSchedule
from .session import Session, Tick, TouchEvent
from .stats import Stats, peak_memory_mb, write_stats
from .view import LiveView, live_line

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65536
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
# External ticks that may come at once before TickLimit holds them to its rate: a second's
# worth, so a script that sends a few dozen ticks in a row is never cut.
TICK_BURST = 100
# TickLimit's rate is this much above 1 / MIN_PERIOD: a sender ticking every MIN_PERIOD by
# its own clock (a sound card's may run 100 ppm fast against ours) is never cut.
TICK_SLACK = 1.01
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
    """The bridge's one loop and everything it owns while it runs.

    Owns: the OSC socket ``sock`` and its ``sender``, the :class:`Session` (all the musical
    logic), the optional parts (``midi``: a midi.MidiIO; ``recorder``: a
    recorder.Recorder; ``metatone``: a metatone.Metatone for the apps' protocol; ``web``:
    a web.WebServer; ``link``: a link.LinkSession with --clock link), the ``inbox`` other
    threads hand over through, the tick's clock, the touch and note-off ``schedule``, the
    ``stats`` and the live ``view``. Every part given is closed by :meth:`close`, in a safe
    order, even if the loop never ran; ``model_name`` and ``touch_name`` only name the
    model file and the touch source for the ready line.

    The loop (:meth:`run`): make the next tick PREPARE_AHEAD before it is due, commit and
    send it at its deadline, send each touch and note-off when due, and in between sleep
    in ``select`` until the next of these or until a datagram, a browser's message or a
    signal comes; datagrams are read one at a time with a look at the clock after each.
    """

    def __init__(
        self,
        config: BridgeConfig,
        session: Session,
        sock: socket.socket,
        sender: OscSender,
        *,
        inbox: Inbox | None = None,
        midi=None,
        recorder=None,
        metatone=None,
        web=None,
        link=None,
        model_name: str = "",
        touch_name: str = "",
        out: TextIO = sys.stdout,
    ):
        self.config = config
        self.session = session
        self.sock = sock
        self.sender = sender
        self.inbox = inbox if inbox is not None else Inbox()
        self.midi = midi
        self.recorder = recorder
        self.metatone = metatone
        self.web = web
        self.link = link
        self.model_name = model_name
        self.touch_name = touch_name
        self.out = out
        self.view = LiveView(out, on=not config.quiet)
        self.stats = Stats()
        self.rejections = RateLimitedLog(log)
        self.allowed = config.allowed_networks()  # --allow; empty: everyone
        self._last_host: str | None = None  # the last sender checked, and whether allowed
        self._last_allowed = False
        self.stopping = False
        self.stopped_by: int | None = None  # the signal that stopped the loop, if one did
        self._ran = False
        self.period = PeriodEstimate(config.period)
        self.midi_clock = MidiClock() if config.clock == "midi" else None
        # /bridge/tick and MIDI clock: no faster on average than the internal clock may run
        self.tick_limit = TickLimit(rate=TICK_SLACK / MIN_PERIOD, burst=TICK_BURST)
        self.clock: InternalClock | BeatClock | None = None  # made when the loop starts
        self.schedule = TouchSchedule(config.midi.note_length)
        self._pending = None  # a Step prepared ahead of the next tick
        self._pending_data: list[bytes] | None = None  # its tick's OSC messages
        self._prepared_at = -math.inf  # when the pending step read its inputs
        self._last_tick: float | None = None  # when the last tick started
        self._next_port_check = time.monotonic() + PORT_CHECK
        sock.setblocking(False)

    # -- called from other threads ----------------------------------------------------

    def stop(self, signum: int | None = None, _frame=None) -> None:
        """Ask the loop to stop (a signal handler: a second signal only asks again)."""
        self.stopping = True
        if signum is not None:
            self.stopped_by = signum
        self.inbox.wake()

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
        previous_wakeup = signal.set_wakeup_fd(self.inbox.wake_fd, warn_on_full_buffer=False)
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
        readable, _, _ = select.select([self.sock, self.inbox], [], [], timeout)
        if self.sock in readable:
            self._read_datagrams(deadline)
        if self.inbox in readable:
            for item in self.inbox.drain():  # the web page's (MIDI is read, not handed over)
                self.handle_web(item)

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
        self.stats.timing["tick_prepare"].append(spent)
        return step

    def _next_deadline(self) -> float | None:
        candidates = []
        prepare_at = self._prepare_due()
        if prepare_at is not None:
            candidates.append(prepare_at)
        if self.clock is not None:
            candidates.append(self.clock.deadline - SPIN_BEFORE_TICK)
        due = self.schedule.next_due()
        if due is not None:
            candidates.append(due)
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
        counts = self.stats.counts
        if self.allowed and not self._allowed(sender[0]):
            counts["not_allowed"] += 1
            self.rejections.info("not allowed", f"dropped OSC from {sender[0]}: not in --allow")
            return
        try:
            if self.metatone is not None and data.startswith(METATONE_PREFIX):
                counts["received" if self.metatone.receive(data, sender) else "ignored"] += 1
                return
            command = parse_command(data)
        except OscRejected as error:
            counts["rejected"] += 1
            self.rejections.warning(error.kind, f"rejected OSC message: {error}")
            return
        self.apply(command, sender)

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

    def apply(self, command: Command, sender=None) -> None:
        """Act on a checked command (bridge/commands.py) from ``sender`` (an OSC sender's
        address, or None for the web page), and count it: received, or ignored (an
        unknown address), or rejected (a tick without --clock osc)."""
        counts = self.stats.counts
        match command:
            case SetLead(gesture):
                self.session.lead = gesture
            case LeadTouch(x, y, velocity):
                self.session.add_touch(x, y, velocity)
            case SetTemperature(temperature):
                self.session.set_temperature(temperature)
            case SetLiveliness(liveliness):
                self.session.set_liveliness(liveliness)
            case Reset():
                self.session.reset()
                self._cancel_touches()
                self._pending = self._pending_data = None  # from the old state: make it again
            case Ping(pong):
                if sender is not None:
                    try:
                        self.sock.sendto(pong, sender)
                    except OSError as error:  # e.g. a full buffer under a flood of pings
                        self.rejections.log(
                            logging.DEBUG, "pong", f"pong to {sender} failed: {error}"
                        )
            case ClockTick():
                if self.config.clock != "osc":
                    counts["rejected"] += 1
                    self.rejections.warning(
                        "tick without osc clock", "/bridge/tick ignored: the clock is not osc"
                    )
                    return
                if not self._external_tick(time.monotonic()):
                    return  # read, not acted on: counted as ticks_skipped, not received
            case Unknown(address):
                counts["ignored"] += 1
                self.rejections.info(
                    "unknown address", f"ignored OSC message to an unknown address: {address}"
                )
                return
            case _:
                raise TypeError(f"no case in Bridge.apply for {command!r}")
        counts["received"] += 1

    def handle_web(self, item) -> None:
        """A browser's message, checked on the web thread (bridge/web.py): a command, or
        the WebRejected saying why not."""
        if isinstance(item, Exception):
            self.stats.counts["rejected"] += 1
            self.rejections.warning("web", f"rejected web message: {item}")
            return
        self.apply(item)

    def handle_midi(self, message) -> None:
        from .midi import MidiRejected, lead_gesture, liveliness  # only here when MIDI is open

        kind = message.type
        if self.midi_clock is not None and kind in MIDI_CLOCK_MESSAGES:
            if kind == "clock":
                if self.midi_clock.pulse():
                    self._external_tick(time.monotonic())
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
            self.stats.counts["received"] += 1
            self.session.set_liveliness(lively)
            return
        try:
            gesture = lead_gesture(message, self.config.midi)
        except MidiRejected as error:
            self.stats.counts["rejected"] += 1
            self.rejections.warning("midi", f"rejected MIDI message: {error}")
            return
        if gesture is not None:
            self.stats.counts["received"] += 1
            self.session.lead = gesture

    def _external_tick(self, now: float) -> bool:
        """A tick from /bridge/tick or the MIDI clock, unless they come too fast; whether
        it stepped the ensemble."""
        if not self.tick_limit.take(now):
            self.rejections.warning(
                "tick flood",
                f"external clock faster than {1 / MIN_PERIOD:.0f} ticks a second on average: "
                "ticks skipped (--stats: ticks_skipped)",
            )
            return False
        self.tick(now, self.period.tick(now))
        return True

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
            self.stats.counts["ticks_redone"] += 1
            data = None
        self.sender.send_all(data if data is not None else self.sender.tick_data(tick))
        if self.midi is not None:
            self.midi.tick(tick)
        sent = time.monotonic()
        if self.metatone is not None:  # after the ensemble's own messages: they come first
            self.metatone.tick(tick.ensemble)
        self.schedule.start(tick.touches, start)
        self._last_tick = start
        if self.recorder is not None:
            self.recorder.tick(tick.lead, tick.ensemble)
        if self.web is not None:
            self.web.tick(tick, self._web_state(tick))
        timing = self.stats.timing
        timing["tick_late"].append(sent - start)
        timing["tick_compute"].append(time.monotonic() - began)
        if self.view.on:
            self.view.show(self._live_line(tick))
        return tick

    def _cancel_touches(self) -> None:
        self.stats.counts["touches_dropped"] += self.schedule.cancel()

    def _fire_due_events(self, now: float) -> None:
        """Send the touches and note-offs due by ``now``, earliest first."""
        self.schedule.fire(now, self._play_touch, self._note_off)

    def _play_touch(self, event: TouchEvent, due: float):
        """Send one touch everywhere; returns the MIDI note it started, or None."""
        self.stats.timing["touch_late"].append(time.monotonic() - due)
        self.sender.touch(event)
        if self.web is not None:
            self.web.touch(event)
        if self.metatone is not None:
            self.metatone.touch(event)
        return self.midi.touch(event) if self.midi is not None else None

    def _note_off(self, note) -> None:
        self.midi.note_off(*note)

    def _live_line(self, tick: Tick) -> str:
        extra = f" | {self.link.describe()}" if self.link is not None else ""
        if self.metatone is not None:
            extra += self.metatone.status()
        return live_line(
            tick.number,
            tick.lead,
            tick.ensemble,
            self.stats.counts,
            show_not_allowed=bool(self.allowed),
            send_failed=self.sender.failed,
            extra=extra,
        )

    def _web_state(self, tick: Tick) -> dict:
        state = {
            "tick": tick.number,
            "lead": tick.lead,
            "period": self._tick_duration(),
            "temperature": self.session.temperature,
            "liveliness": self.session.liveliness,
            "received": self.stats.counts["received"],
            "rejected": self.stats.counts["rejected"],
        }
        return state

    def timing_summary(self) -> dict:
        """The --stats figures: ticks, OSC datagrams sent and failed per target, rows
        recorded, the counters, each timing's percentiles in milliseconds (bridge/stats.py),
        the web page's figures (with --web) and the peak memory in MB."""
        summary = self.stats.summary(
            ticks=self.session.ticks,
            sent=self.sender.sent,  # OSC datagrams, counted once per target
            send_failed=dict(self.sender.failed),  # per target, zeros included
            # Rows in the --record file: fewer than ticks if writing it failed on stage.
            ticks_recorded=self.recorder.ticks if self.recorder is not None else 0,
            # External clock ticks beyond TickLimit's rate (a /bridge/tick or MIDI flood),
            # and the internal or Link clock's ticks missed in a stall or a beat jump.
            ticks_skipped=self.tick_limit.skipped + (self.clock.skipped if self.clock else 0),
        )
        if self.web is not None:
            summary["web"] = self.web.stats()
        summary["max_rss_mb"] = peak_memory_mb()
        return summary

    def _write_stats(self) -> None:
        write_stats(self.config.stats, self.timing_summary(), self.config.force)

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
        self.inbox.close()
        if not self._ran:
            return
        log.info(
            "stopped after %d ticks (%d messages in, %d rejected, %d ignored)",
            self.session.ticks,
            self.stats.counts["received"],
            self.stats.counts["rejected"],
            self.stats.counts["ignored"],
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
