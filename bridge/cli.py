"""``gesture-rnn bridge``: options, start-up checks, then the loop.

Every option is checked before anything starts; a bad one, or a missing, corrupt or
wrong model or index file, prints one line naming it and exits with code 2.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from pathlib import Path

from gesture_rnn.cli.common import path_arg

log = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_BAD_OPTION = 2


def register(commands) -> None:
    from gesture_rnn.bundled import MODEL_HELP

    parser = commands.add_parser(
        "bridge",
        help="the live ensemble: lead gestures in, ensemble gestures and touches out",
        description="Answer a lead performer with a neural ensemble over OSC and MIDI. "
        "Options can also come from a TOML file (--config); flags win.",
    )
    add = parser.add_argument
    add("--config", type=path_arg, help="TOML file with any of these options (flags win)")
    add("--model", help=MODEL_HELP)
    add("--corpus", help="corpus index file for touches (default: the procedural fallback)")
    add("--host", help="address to listen on (default 127.0.0.1: this computer only)")
    add("--port", help="UDP port to listen on for OSC (default 9000)")
    add(
        "--allow",
        action="append",
        metavar="ADDR[/PREFIX]",
        help="take OSC only from these addresses, repeatable (default: from anyone who can "
        "reach --host), e.g. --allow 192.168.1.0/24 --allow 127.0.0.1",
    )
    add(
        "--osc-out",
        action="append",
        metavar="HOST:PORT",
        help="where to send OSC, repeatable (default 127.0.0.1:57120)",
    )
    add("--virtual-midi", action="store_true", default=None, help="open 'Gesture-RNN In/Out'")
    add("--midi-in", metavar="NAME", help="MIDI input port, by name or part of it")
    add("--midi-out", metavar="NAME", help="MIDI output port, by name or part of it")
    add(
        "--clock",
        help="internal (default), midi (24 pulses a step), osc (/bridge/tick) or link "
        "(Ableton Link)",
    )
    add("--period", help="seconds between ticks of the internal clock (default 1.0)")
    add("--temperature", help="sampling temperature, 0.05-5 (default 1.0)")
    add("--liveliness", help="how often the ensemble changes, 0-10: 0 never, 1 the model as it is")
    add("--seed", help="random seed, for repeatable performances")
    add("--record", metavar="FILE.csv", help="write every tick to this CSV file")
    add("--stats", metavar="FILE.json", help="write timing statistics here at exit")
    add("--force", action="store_true", default=None, help="overwrite --record, --stats")
    add("--cc-scale", help="gesture CC values: raw 0-8 (default) or spread over 0-127")
    add(
        "--quiet", action="store_true", default=None, help="no live view: nothing printed each tick"
    )
    add(
        "--realtime",
        action="store_true",
        default=None,
        help="run at real-time priority where the system allows it (steadier timing)",
    )
    add(
        "--web",
        nargs="?",
        const="127.0.0.1:8080",
        metavar="[HOST:]PORT",
        help="serve a page that shows the ensemble and lets the lead play "
        "(alone: 127.0.0.1:8080; docs/web.md)",
    )
    link = parser.add_argument_group("Ableton Link (--clock link; needs the 'link' extra)")
    link.add_argument("--beats-per-step", help="a step every this many beats (default 1)")
    link.add_argument("--quantum", help="beats per bar of the session's phase (default 4)")
    link.add_argument(
        "--link-start-stop",
        action="store_true",
        default=None,
        help="step only while the session plays (start/stop sync)",
    )
    link.add_argument(
        "--tempo", help="BPM of a session the bridge starts (default 120); joining keeps the tempo"
    )
    link.add_argument(
        "--link-latency", metavar="MS", help="send this many ms ahead of the beat (default 0)"
    )
    add("--lead-device", metavar="NAME", help="the Metatone device that leads (default: first)")
    add("--metatone-timeout", metavar="S", help="seconds a silent device stays online (30)")
    add("--metatone-playback-port", metavar="PORT", help="the apps' playback port (51200)")
    add(
        "--no-advertise",
        dest="advertise",
        action="store_false",
        default=None,
        help="do not advertise the OSC port over zeroconf",
    )
    add("--advertise-address", metavar="IPV4", help="the address to advertise (default: --host)")
    parser.set_defaults(func=cmd_bridge)


def _flag_values(args) -> dict:
    values = {
        "model": args.model,
        "corpus": args.corpus,
        "host": args.host,
        "port": args.port,
        "osc_out": args.osc_out,
        "allow": args.allow,
        "virtual_midi": args.virtual_midi,
        "midi_in": args.midi_in,
        "midi_out": args.midi_out,
        "clock": args.clock,
        "period": args.period,
        "temperature": args.temperature,
        "liveliness": args.liveliness,
        "seed": args.seed,
        "record": args.record,
        "stats": args.stats,
        "force": args.force,
        "cc_scale": args.cc_scale,
        "quiet": args.quiet,
        "realtime": args.realtime,
        "beats_per_step": args.beats_per_step,
        "quantum": args.quantum,
        "link_start_stop": args.link_start_stop,
        "tempo": args.tempo,
        "link_latency": args.link_latency,
        "web": args.web,
        "lead_device": args.lead_device,
        "metatone_timeout": args.metatone_timeout,
        "metatone_playback_port": args.metatone_playback_port,
        "advertise": args.advertise,
        "advertise_address": args.advertise_address,
    }
    if args.seed is not None:
        try:
            values["seed"] = int(args.seed)
        except ValueError:
            values["seed"] = args.seed  # the check names it
    return values


def _players(n: int) -> str:
    return f"{n} player" if n == 1 else f"{n} players"


def _fail(message: str, code: int = EXIT_BAD_OPTION) -> int:
    print(f"gesture-rnn bridge: error: {message}", file=sys.stderr)
    return code


def cmd_bridge(args) -> int:
    # From the start to the exit, SIGINT, SIGTERM and SIGHUP only ask the bridge to stop:
    # one during the start-up stops it as soon as it is built (exit 0), one after the
    # shutdown changes nothing, and none can cut the shutdown short.
    from .app import STOP_SIGNALS

    requested: set[int] = set()
    previous = {s: signal.signal(s, lambda n, _f: requested.add(n)) for s in STOP_SIGNALS}
    for s in STOP_SIGNALS:
        signal.siginterrupt(s, False)  # a signal must not break a system call (libjack's)
    try:
        code = _start_and_run(args, requested)
    finally:
        for s, handler in previous.items():
            # Stopped by a signal, the process is on its way out: a repeated one is ignored.
            signal.signal(s, signal.SIG_IGN if requested else handler)
    return code


def _start_and_run(args, requested: set[int]) -> int:
    from .config import ConfigError, _named_in_file, from_sources, load_toml

    try:
        file_values = load_toml(args.config) if args.config else {}
        config = from_sources(file_values, _flag_values(args), args.config)
    except ConfigError as error:
        return _fail(str(error))
    try:
        bridge = build(config)
    except StartupError as error:
        message = str(error)
        if args.config:  # a value the file gave is named by the file and its key, not a flag
            flags = {name for name, value in _flag_values(args).items() if value is not None}
            from_file = {key.replace("-", "_") for key in file_values} - flags
            message = str(_named_in_file(ConfigError(message), from_file, str(args.config)))
        return _fail(message, error.exit_code)
    targets = ", ".join(map(str, bridge.sender.targets))
    midi = ""
    if bridge.midi is not None:
        ins, outs = bridge.midi.names
        midi = f"; MIDI in {ins or '-'}, out {outs or '-'}"
    clock = f"{config.clock} clock" + (
        f" every {config.period:g} s" if config.clock == "internal" else ""
    )
    if bridge.link is not None:
        clock += (
            f" every {config.beats_per_step:g} beat{'' if config.beats_per_step == 1 else 's'}"
            f" (quantum {config.quantum:g}): "
            f"{bridge.link.describe()}"
        )
    ready = (
        f"gesture-rnn bridge ready: listening on {config.host}:{config.port} (OSC), "
        f"sending to {targets}{midi}; {clock}; {_players(bridge.session.others)}, "
        f"model {bridge.model_name}; touches from {bridge.touch_name}{exposure(bridge)}"
    )
    if bridge.web is not None:
        from .web import loopback, page_url

        ready += f"; web page {page_url(bridge.web.host, bridge.web.port)}"
        if config.allow:
            ready += " (only from --allow)"
        elif not loopback(bridge.web.host):
            ready += " (anyone on the network can open it and play the lead)"
    from .discovery import start_discovery

    discovery = start_discovery(config, bridge.metatone)
    if requested:  # a signal came during the start-up
        bridge.stop()
    try:
        code = bridge.run(ready)
    finally:
        discovery.close()
    if bridge.stopped_by is not None:
        requested.add(bridge.stopped_by)
    return code


def exposure(bridge) -> str:
    """Who can play the bridge, for the ready line: said when it is more than this computer."""
    import ipaddress

    allowed = bridge.allowed
    if allowed:
        return f"; OSC only from {', '.join(map(str, allowed))} (--allow)"
    host = bridge.sock.getsockname()[0]
    if ipaddress.ip_address(host.split("%")[0]).is_loopback:
        return ""
    return (
        f"; OPEN: anyone who can reach {host} port {bridge.config.port} can play the lead, "
        "reset and retune the ensemble (limit it with --allow ADDR[/PREFIX])"
    )


class StartupError(Exception):
    exit_code = EXIT_BAD_OPTION


class OutputRefused(StartupError):
    """An output (--record, --stats) that exists without --force or cannot be written:
    exit code 1, as for every command (README: exit codes)."""

    exit_code = EXIT_FAILED


def build(config):
    """Open everything the config names, or raise StartupError saying what failed."""
    from gesture_rnn.files import OutputError, check_new_output
    from gesture_rnn.runtime import ModelFileError, load

    from .app import Bridge
    from .inbox import Inbox
    from .metatone import Metatone, MetatoneDevices
    from .osc import OscSender, OscTargetError
    from .session import Session

    for option, path in (("--stats", config.stats), ("--record", config.record)):
        try:  # --stats is written at exit, so refused now rather than then
            if path is not None:
                check_new_output(path, config.force)
        except OutputError as error:
            raise OutputRefused(f"{option}: {error}") from None
    sock = socket.socket(
        socket.AF_INET6 if ":" in config.host else socket.AF_INET, socket.SOCK_DGRAM
    )
    try:
        sock.bind((config.host, config.port))
        config.port = sock.getsockname()[1]  # --port 0: the free port it took
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        raise StartupError(f"cannot listen on {config.host}:{config.port}: {reason}") from None
    except UnicodeError:
        sock.close()
        raise StartupError(f"--host {config.host!r} is not an address") from None
    try:
        try:
            model = load(config.model)
        except ModelFileError as error:
            raise StartupError(f"--model: {error}") from None
        touches, touch_name = open_touches(config.corpus)
        # Loaded now, not at the lead's first touch: a bad file stops the start, and the
        # first touch on stage costs no file read.
        from gesture_rnn import touch_classifier

        try:
            lead_classifier = touch_classifier.load()
        except touch_classifier.TouchClassifierError as error:
            raise StartupError(f"the lead touch classifier: {error}") from None
    except BaseException:
        sock.close()
        raise
    session = None
    inbox = Inbox()  # how the web page's and Link's threads reach the loop
    parts: dict = {}  # what is open so far: the Bridge owns it, and closes it
    try:
        try:
            sender = OscSender(config.osc_targets())  # resolved here, once
        except OscTargetError as error:
            raise StartupError(str(error)) from None
        session = Session(
            model,
            touches,
            temperature=config.temperature,
            liveliness=config.liveliness,
            seed=config.seed,
            touch_classifier=lead_classifier,
        )
        parts["metatone"] = Metatone(
            MetatoneDevices(
                lead_classifier,
                session.others,
                timeout=config.metatone_timeout,
                lead_name=config.lead_device,
            ),
            session,
            sock,
            sender,
            app_port=config.metatone_playback_port,
        )
        if config.virtual_midi or config.midi_in or config.midi_out:
            from .midi import MidiError, MidiIO

            try:
                parts["midi"] = MidiIO(config, session.others)
            except MidiError as error:
                raise StartupError(str(error)) from None
        if config.web is not None:
            parts["web"] = open_web(config, session, inbox)
        if config.clock == "link":
            from .link import LinkError, LinkSession

            try:
                parts["link"] = LinkSession(
                    config.quantum, config.link_start_stop, config.tempo, inbox.wake
                )
            except LinkError as error:
                raise StartupError(str(error)) from None
        if config.record is not None:  # last, so a failed start leaves no empty recording
            from .recorder import Recorder, RecordError

            try:
                parts["recorder"] = Recorder(config.record, session.others, config.force)
            except RecordError as error:
                raise OutputRefused(str(error)) from None
    except BaseException:
        if session is not None:  # the Bridge closes what opened, in its safe order
            Bridge(config, session, sock, sender, inbox=inbox, **parts).close()
        else:
            sock.close()
            inbox.close()
        raise
    return Bridge(
        config,
        session,
        sock,
        sender,
        inbox=inbox,
        model_name=model.path.name if model.path else "bundled",
        touch_name=touch_name,
        **parts,
    )


def open_web(config, session, inbox):
    """The browser page's server, listening, or StartupError (docs/web.md)."""
    from .config import parse_web
    from .web import WebError, WebServer

    host, port = parse_web(config.web)
    model = session.model
    info = {
        "players": session.others,
        "model": model.path.name if model.path else "bundled",
        "clock": config.clock,
        "period": config.period,
    }
    try:
        server = WebServer(host, port, info, inbox.put, config.allowed_networks())
        server.start()
    except WebError as error:
        raise StartupError(str(error)) from None
    return server


def open_touches(path):
    """The corpus index at ``path``, or the procedural fallback when there is none."""
    import corpus_index

    if path is None:
        return corpus_index.open(None), "the procedural fallback"
    try:
        return corpus_index.open(path), f"corpus index {Path(path).name}"
    except corpus_index.IndexFileError as error:
        raise StartupError(f"--corpus: {error}") from None
