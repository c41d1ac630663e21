"""OSC over the network, as a hostile network and a new user would use it: the real bridge
process, real UDP sockets (loopback only), and where a test needs a network that fails or
a name that changes, a network or mount namespace of its own (``unshare``)."""

from __future__ import annotations

import json
import logging
import select
import signal
import socket
import struct
import subprocess
import time

import pytest

from bridge.app import TICK_BURST
from bridge.osc import RateLimitedLog
from tests.bridge_process import BridgeProcess, Listener, free_udp_port, osc, run_bridge_once

# A network namespace of its own: only a loopback that is down, so every send fails
# (and nothing can leave the machine, DNS included).
NO_NETWORK = ("unshare", "-rn")


def works(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ticks_of(messages):
    return [m for m in messages if m[1] == "/ensemble/tick"]


def pad(raw: bytes) -> bytes:
    raw += b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def raw_message(address: str, tags: bytes, payload: bytes = b"") -> bytes:
    return pad(address.encode()) + pad(b"," + tags) + payload


def sync(bridge: BridgeProcess, sock: socket.socket | None = None) -> None:
    """Ping and wait for the pong: the bridge has handled everything sent before it."""
    sock = sock or bridge.send_sock
    token = time.monotonic_ns() & 0x7FFFFFFF
    sock.sendto(osc("/bridge/ping", token), ("127.0.0.1", bridge.port))
    end = time.monotonic() + 10
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if ready and sock.recv(65536) == osc("/bridge/pong", token):
            return
    raise AssertionError("no pong within 10 s")


def view_until(bridge: BridgeProcess, says: str, timeout: float = 10.0) -> str:
    """Read the live view until a line contains ``says``; that line."""
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([bridge.proc.stdout], [], [], left)
        line = bridge.proc.stdout.readline() if ready else ""
        if says in line:
            return line
        if ready and not line:
            break
    raise AssertionError(f"no line of the live view said {says!r}")


def warnings_in(err: str) -> list[str]:
    """The bridge's log lines about what came in or went out (not start and stop)."""
    return [
        line
        for line in err.splitlines()
        if line.startswith("gesture-rnn: ") and "stopped after" not in line
    ]


# -- OSC in: one datagram never ends or silences the performance -------------------------------


def test_hostile_datagrams_are_refused_and_the_ticks_go_on(tiny_model, listener, tmp_path):
    stats = tmp_path / "stats.json"
    bridge = BridgeProcess(
        "--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}", "--period", 0.05,
        "--stats", stats,
    )  # fmt: skip
    hostile = [
        raw_message("/lead/gesture", b"[" * 1000 + b"]" * 1000),  # ended the bridge
        raw_message("/bridge/temperature", b"[" * 1000 + b"]" * 1000),
        raw_message("/lead/touch", b"fcf", struct.pack(">fif", 0.5, 65, 0.25)),  # was a touch
        raw_message("/lead/gesture", b"xi", struct.pack(">i", 3)),  # was gesture 3
        raw_message("/lead/gesture", b"s", pad("²".encode())),  # a ValueError ended it
    ]
    try:
        listener.collect(5.0, until=lambda m: len(ticks_of(m)) >= 1)
        bridge.send("/lead/gesture", "ST")
        for data in hostile:
            bridge.send_raw(data)
        for _ in range(10):  # 65,000 unknown tags each: was 65,000 log lines each
            bridge.send_raw(raw_message("/lead/gesture", b"x" * 65_000))
            sync(bridge)  # one at a time: ten would overflow the socket's buffer
        after = listener.collect(5.0, until=lambda m: len(ticks_of(m)) >= 5)
    finally:
        code, out, err = bridge.stop()
    assert code == 0 and "Traceback" not in err and len(ticks_of(after)) >= 5
    assert "Unhandled parameter type" not in err  # python-osc's own line per tag
    assert "arrays are not accepted" in err  # the first of its kind; the rest are counted
    assert len(warnings_in(err)) <= 12, err  # rate-limited: a few a second at most
    assert max(map(len, err.splitlines())) < 400
    counts = json.loads(stats.read_text())
    assert counts["rejected"] == len(hostile) + 10
    last_view = [line for line in out.splitlines() if line.startswith("tick")][-1]
    assert "lead ST" in last_view  # the refused touch did not take the lead


def test_distinct_addresses_neither_flood_the_log_nor_grow_the_bridge(tiny_model, tmp_path):
    stats = tmp_path / "stats.json"
    bridge = BridgeProcess("--model", tiny_model, "--clock", "osc", "--stats", stats)
    sent = 0
    try:
        for batch in range(10):
            for i in range(200):  # each cut short: the old rate limit kept every address
                bridge.send_raw(osc(f"/their/app/{batch}/{i}", 0.5)[:-2])
                sent += 1
            sync(bridge)
        bridge.send("/bridge/tick")
        line = view_until(bridge, "tick")
    finally:
        code, out, err = bridge.stop()
    assert code == 0 and f"ignored {sent}" in line
    ignored = [w for w in warnings_in(err) if "unknown address" in w]
    assert ignored and "/their/app/" in ignored[0]  # an example address, for typos
    assert len(warnings_in(err)) <= 12, err
    assert json.loads(stats.read_text())["ignored"] == sent


def test_the_rate_limit_keeps_a_bounded_number_of_keys(caplog):
    limited = RateLimitedLog(logging.getLogger("test.rate"))
    with caplog.at_level(logging.WARNING, "test.rate"):
        for i in range(10_000):
            limited.warning(f"key {i}", f"line {i}")
    assert len(limited._last) <= RateLimitedLog.MAX_KEYS
    assert len(caplog.records) <= RateLimitedLog.MAX_KEYS


# -- OSC out: IPv6, broadcast, names resolved once, failures seen -------------------------------


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_an_ipv6_target_gets_the_ticks(tiny_model, listener, tmp_path):
    six = Listener("::1")
    stats = tmp_path / "stats.json"
    try:
        bridge = BridgeProcess(
            "--model", tiny_model, "--period", 0.05, "--stats", stats,
            "--osc-out", f"[::1]:{six.port}", "--osc-out", f"127.0.0.1:{listener.port}",
        )  # fmt: skip
        try:
            got6 = six.collect(5.0, until=lambda m: len(ticks_of(m)) >= 3)
            got4 = listener.collect(5.0, until=lambda m: len(ticks_of(m)) >= 3)
        finally:
            code, _, _ = bridge.stop()
    finally:
        six.close()
    assert code == 0 and len(ticks_of(got6)) >= 3 and len(ticks_of(got4)) >= 3
    assert f"[::1]:{six.port}" in bridge.ready_line
    failed = json.loads(stats.read_text())["send_failed"]
    assert failed == {f"[::1]:{six.port}": 0, f"127.0.0.1:{listener.port}": 0}


def test_a_broadcast_target_gets_the_ticks(tiny_model, tmp_path):
    # Bound to the broadcast address, this socket receives only what is broadcast there:
    # the way every iPad on a stage network (192.168.1.255) hears the bridge.
    everyone = Listener("127.255.255.255")
    stats = tmp_path / "stats.json"
    try:
        bridge = BridgeProcess(
            "--model", tiny_model, "--period", 0.05, "--stats", stats,
            "--osc-out", f"127.255.255.255:{everyone.port}",
        )  # fmt: skip
        try:
            got = everyone.collect(5.0, until=lambda m: len(ticks_of(m)) >= 3)
        finally:
            code, _, err = bridge.stop()
    finally:
        everyone.close()
    assert code == 0 and len(ticks_of(got)) >= 3, err
    assert json.loads(stats.read_text())["send_failed"] == {f"127.255.255.255:{everyone.port}": 0}


@pytest.mark.skipif(
    not works([*NO_NETWORK, "true"]), reason="needs a network namespace of its own (unshare -rn)"
)
def test_a_send_that_fails_is_named_counted_and_shown(tiny_model, tmp_path):
    # In a namespace with no network, every send to a stage address fails at once
    # (Network is unreachable), as when the laptop's network goes down on stage.
    stats = tmp_path / "stats.json"
    bridge = BridgeProcess(
        "--model", tiny_model, "--period", 0.05, "--stats", stats, "--osc-out", "192.0.2.1:9000",
        wrap=NO_NETWORK,
    )  # fmt: skip
    try:
        line = view_until(bridge, "send failed: 192.0.2.1:9000")
    finally:
        code, _, err = bridge.stop()
    assert code == 0 and "Traceback" not in err
    assert "| send failed: 192.0.2.1:9000" in line
    said = [w for w in warnings_in(err) if "could not send OSC to 192.0.2.1:9000" in w]
    assert said and "unreachable" in said[0]
    assert len(said) <= 12  # rate-limited: one a second at most
    counts = json.loads(stats.read_text())
    assert counts["send_failed"]["192.0.2.1:9000"] > 0 and counts["sent"] == 0


@pytest.mark.parametrize(
    "wrap",
    [
        # Under .invalid (RFC 6761) no name exists: the answer is "no such name".
        pytest.param((), id="no such name"),
        # No network at all: no DNS server answers (and none is asked).
        pytest.param(
            NO_NETWORK,
            id="no DNS server answers",
            marks=pytest.mark.skipif(not works([*NO_NETWORK, "true"]), reason="needs unshare -rn"),
        ),
    ],
)
def test_a_target_name_that_does_not_resolve_is_a_start_error(tiny_model, wrap):
    result = run_bridge_once(
        "--port", free_udp_port(), "--model", tiny_model,
        "--osc-out", "127.0.0.1:57120", "--osc-out", "stage-ipad.invalid:9000",
        wrap=wrap, timeout=15,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "--osc-out stage-ipad.invalid:9000: cannot resolve" in lines[0]


MOUNT_NAMESPACE = ("unshare", "-rm")


@pytest.mark.skipif(
    not works([*MOUNT_NAMESPACE, "mount", "--bind", "/dev/null", "/dev/null"]),
    reason="needs a mount namespace of its own (unshare -rm) for a private /etc/hosts",
)
def test_a_target_name_is_resolved_once_at_start(tiny_model, tmp_path):
    """The bridge reads a private /etc/hosts (no DNS server is asked); once it is ready,
    the name moves to another address. Its ticks keep going to the address the name had
    at start: a lookup at every send stalled the tick loop with a DNS server that does not
    answer (1 tick in 10 s)."""
    port = free_udp_port()
    at_start = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    at_start.bind(("127.0.0.1", port))
    moved = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    moved.bind(("127.0.0.2", port))
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"127.0.0.1 ipad.stage.test\n")
    wrap = (*MOUNT_NAMESPACE, "sh", "-c", f'mount --bind "{hosts}" /etc/hosts && exec "$0" "$@"')
    bridge = BridgeProcess(
        "--model", tiny_model, "--period", 0.05, "--osc-out", f"ipad.stage.test:{port}",
        wrap=wrap,
    )  # fmt: skip
    try:
        at_start.settimeout(5)
        at_start.recv(65536)
        with open(hosts, "r+b") as f:  # in place, the same length: never a half-written file
            f.write(b"127.0.0.2")
        arrived = 0
        while arrived < 20:  # a second of ticks after the move
            if at_start.recv(65536).startswith(b"/ensemble/tick\0"):
                arrived += 1
        moved.setblocking(False)
        with pytest.raises(BlockingIOError):
            moved.recv(65536)
    finally:
        bridge.stop()
        at_start.close()
        moved.close()
    assert f"ipad.stage.test:{port} (127.0.0.1:{port})" in bridge.ready_line


# -- exposure: --allow ---------------------------------------------------------------------------


def test_only_allowed_addresses_play_the_bridge(tiny_model, tmp_path):
    stats = tmp_path / "stats.json"
    config = tmp_path / "bridge.toml"
    config.write_text('allow = ["127.0.0.2/32", "::1"]\n')  # or --allow, repeated
    bridge = BridgeProcess(
        "--model", tiny_model, "--clock", "osc", "--stats", stats, "--config", config,
    )  # fmt: skip
    allowed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    allowed.bind(("127.0.0.2", 0))  # all of 127.0.0.0/8 is this computer's loopback
    try:
        assert "OSC only from 127.0.0.2/32, ::1/128 (--allow)" in bridge.ready_line
        bridge.send("/lead/gesture", "C")  # from 127.0.0.1: dropped
        bridge.send("/bridge/ping", 1)  # no pong
        allowed.sendto(osc("/lead/gesture", "FS"), ("127.0.0.1", bridge.port))
        sync(bridge, allowed)
        bridge.send_sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            bridge.send_sock.recv(65536)
        allowed.sendto(osc("/bridge/tick"), ("127.0.0.1", bridge.port))
        line = view_until(bridge, "tick")
    finally:
        code, _, err = bridge.stop()
        allowed.close()
    assert code == 0 and "lead FS" in line and "not allowed 2" in line
    assert "dropped OSC from 127.0.0.1: not in --allow" in err
    assert json.loads(stats.read_text())["not_allowed"] == 2


@pytest.mark.parametrize("value", ["everyone", "192.168.1.0/33", "300.1.2.3"])
def test_a_bad_allow_is_a_start_error(tiny_model, value):
    result = run_bridge_once("--port", free_udp_port(), "--model", tiny_model, "--allow", value)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and f"--allow {value!r}" in lines[0]


def test_the_ready_line_says_who_can_reach_the_bridge(tiny_model):
    local = BridgeProcess("--model", tiny_model)
    local.stop()
    assert "OPEN" not in local.ready_line and "--allow" not in local.ready_line
    # Every interface, but only for a moment: stopped as soon as it is ready.
    everyone = BridgeProcess("--model", tiny_model, "--host", "0.0.0.0")
    everyone.stop()
    assert f"OPEN: anyone who can reach 0.0.0.0 port {everyone.port}" in everyone.ready_line
    limited = BridgeProcess("--model", tiny_model, "--host", "0.0.0.0", "--allow", "127.0.0.1")
    limited.stop()
    assert "OPEN" not in limited.ready_line
    assert "OSC only from 127.0.0.1/32 (--allow)" in limited.ready_line


def test_port_0_takes_a_free_port_that_the_ready_line_names(tiny_model):
    """No free port is picked before the bridge starts (another program could take it
    first): --port 0 binds a free one, and the ready line says which."""
    bridge = BridgeProcess("--model", tiny_model)  # --port 0
    try:
        assert bridge.port != 0 and f"127.0.0.1:{bridge.port} (OSC)" in bridge.ready_line
        sync(bridge)  # the port named is the port it listens on
    finally:
        code, _, err = bridge.stop()
    assert code == 0, err


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
@pytest.mark.parametrize("allow", ["::ffff:127.0.0.1", "::ffff:127.0.0.0/104"])
def test_an_ipv4_mapped_allow_lets_that_ipv4_sender_in(tiny_model, allow):
    """On a dual-stack socket (--host ::) the log names an IPv4 sender ::ffff:127.0.0.1;
    that form given to --allow was never matched (senders are checked as IPv4)."""
    bridge = BridgeProcess("--model", tiny_model, "--host", "::", "--allow", allow)
    try:
        sync(bridge)  # from 127.0.0.1: answered
    finally:
        code, _, err = bridge.stop()
    assert code == 0 and "not in --allow" not in err, err


def test_a_flood_of_ticks_is_held_to_the_internal_clocks_fastest_rate(tiny_model, tmp_path):
    # With --clock osc every /bridge/tick used to step the ensemble: a flood made it play
    # as fast as the CPU allowed, and flooded the patch in turn.
    stats = tmp_path / "stats.json"
    bridge = BridgeProcess("--model", tiny_model, "--clock", "osc", "--stats", stats)
    tick = osc("/bridge/tick")
    try:
        started = time.monotonic()
        for i in range(3000):
            bridge.send_raw(tick)
            if i % 100 == 99:
                sync(bridge)  # all of them are read, none lost in the socket's buffer
        elapsed = time.monotonic() - started
    finally:
        code, _, err = bridge.stop()
    assert code == 0
    figures = json.loads(stats.read_text())
    assert figures["ticks"] + figures["ticks_skipped"] == 3000
    assert figures["received"] == figures["ticks"] + 30  # acted on: the ticks and the pings
    assert figures["ticks"] <= TICK_BURST + 101 * elapsed + 1  # a burst, then 100 a second (+1%)
    assert figures["ticks_skipped"] > 0
    flood = [w for w in warnings_in(err) if "ticks skipped" in w]
    assert flood and len(warnings_in(err)) <= 12, err


def test_stats_count_the_internal_clocks_ticks_skipped_after_a_stall(
    tiny_model, tmp_path, listener
):
    # A stalled bridge (a suspended laptop) skips the ticks it missed and says so in the
    # log; --stats said ticks_skipped 0 all the same.
    stats = tmp_path / "stats.json"
    bridge = BridgeProcess(
        "--model", tiny_model, "--period", "0.02", "--osc-out", f"127.0.0.1:{listener.port}",
        "--quiet", "--stats", stats,
    )  # fmt: skip
    try:
        assert ticks_of(listener.collect(10, until=ticks_of))  # it plays
        bridge.proc.send_signal(signal.SIGSTOP)
        time.sleep(0.5)  # the stall itself, not a wait for readiness
        bridge.proc.send_signal(signal.SIGCONT)
        listener.messages.clear()
        assert ticks_of(listener.collect(10, until=ticks_of))  # it plays on
    finally:
        code, _, err = bridge.stop()
    assert code == 0
    skipped = [w for w in warnings_in(err) if "skipped" in w]
    assert skipped, err
    assert json.loads(stats.read_text())["ticks_skipped"] >= 10  # 25 missed in 0.5 s


def test_a_script_sending_dozens_of_ticks_in_a_row_loses_none(tiny_model, tmp_path):
    # The first limit let 8 through at once: a test sending 5 ticks, then 5 more at once,
    # lost some of the second five on a slow machine.
    stats = tmp_path / "stats.json"
    bridge = BridgeProcess("--model", tiny_model, "--clock", "osc", "--stats", stats)
    try:
        for _ in range(60):
            bridge.send("/bridge/tick")
        sync(bridge)
    finally:
        bridge.stop()
    figures = json.loads(stats.read_text())
    assert figures["ticks"] == 60 and figures["ticks_skipped"] == 0
