"""Benchmark: the live bridge against a TensorFlow bridge, quiet and under an OSC flood.

One run measures, each once quiet and once while a separate process floods the bridge's
port with 10,000 OSC messages a second (half valid ``/lead/gesture``, half invalid):

- start to ready: wall time from spawning ``python -m gesture_rnn bridge ...`` to its
  ready line, and its resident memory 2.5 s after ready; side by side with a baseline
  process that does what a TensorFlow bridge must (bind the port, import TensorFlow and
  Keras, build the network with ``gesture_rnn.model.build_model`` stateful at batch 1,
  load the same weights, run one step, print ready, then step every 0.05 s);
- tick timing error at ``--period 1.0`` and ``--period 0.05``: from the bridge's own
  ``--stats`` (``tick_late``: how late each tick began after its absolute deadline) and
  from outside, by this process receiving ``/ensemble/tick`` (arrival of tick n against
  the first tick's arrival + (n - 1) x period);
- compute per tick, from ``--stats``: ``tick_compute`` (the work at the deadline: adopt
  the tick made ahead, send it, schedule its touches) and ``tick_prepare`` (making the
  tick ahead of its deadline: step, sample, make the touches and the OSC bytes), and
  touch timing error (``touch_late``); side by side with one Keras
  stateful step (``tf.function``, softmax included) and one numpy step
  (``GestureModel.step``) on the same weights, in a child process.

The lead (timing part): by default a new ``/lead/gesture`` every 2 s, sent from this
process. With ``--lead touch`` a lead performer process plays raw ``/lead/touch`` on
absolute deadlines (swirls at 60 touches a second, fast and slow taps, silence; see
TOUCH_PATTERNS), which the bridge classifies into the lead gesture as it makes each tick
ahead; the flood's valid half is then ``/lead/touch`` too, and the bridge records its
ticks (``--record``) so that the report counts the lead gestures it chose.

The flood (timing part): ``--flood hostile`` sends the hostile mix instead
(``hostile_messages``: random bytes, cut short, bytes changed, bundles, nested arrays,
unknown type tags, non-ASCII digits, distinct addresses); ``--flood hostile-nonfatal``
the same less the datagrams that ended the bridge before issue 9, to measure that one.

The flood, the TensorFlow baseline and the Keras step each run in their own process
(this script with ``--role``). The flood is paced by absolute deadlines (message i is due
at start + i / rate) and reports how many it sent.

Run from the repository root (about 4-5 minutes; see BENCHMARKS.md)::

    .venv/bin/python bench/bridge.py [--model FILE] [--corpus INDEX] [--lead gesture|touch]
        [--parts startup,compute,timing] [--flood mixed|hostile|hostile-nonfatal] [--json OUT]

Without ``--model`` it uses the bundled quartet model if there is one, else it writes a
model of the same architecture (``medium``) with random weights to a temporary folder:
the timing of a random model of the same size is the same.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
READY = "gesture-rnn bridge ready"
TF_READY = "tf bridge ready"
RSS_AFTER = 2.5  # seconds after ready at which resident memory is read
GOALS = {  # from the issue
    "start_s": 1.0,
    "tick_p99_ms": 1.0,
    "compute_p99_ms": 1.0,
    "touch_p99_ms": 2.0,
    "rss_mb": 150.0,
}


# --- small helpers -----------------------------------------------------------------------


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else 0.0


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak resident) of a live process, in MB."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(rest.split()[0]) / 1024
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    return sock


def wait_line(proc: subprocess.Popen, prefix: str, timeout: float = 60.0) -> float:
    """Read stdout until a line starts with ``prefix``; perf_counter time it arrived."""
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return time.perf_counter()
    proc.kill()
    proc.wait()
    raise SystemExit(f"bench/bridge.py: {proc.args[:4]} did not print {prefix!r} in time")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def role_command(role: str, *args) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--role", role, *map(str, args)]


def bridge_command(
    model: Path,
    port: int,
    out_port: int,
    period: float,
    stats: Path | None,
    corpus: Path | None,
    record: Path | None = None,
) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "gesture_rnn",
        "bridge",
        "--port",
        str(port),
        "--osc-out",
        f"127.0.0.1:{out_port}",
        "--period",
        str(period),
        "--quiet",
        "--model",
        str(model),
    ]
    if stats is not None:
        cmd += ["--stats", str(stats)]
    if corpus is not None:
        cmd += ["--corpus", str(corpus)]
    if record is not None:
        cmd += ["--record", str(record)]
    return cmd


# --- the flood (its own process) ---------------------------------------------------------


def osc(address: str, *args) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address)
    for value in args:
        builder.add_arg(value)
    return builder.build().dgram


def flood_messages(lead: str = "gesture") -> list[bytes]:
    """Half valid lead messages (``/lead/gesture``, or with ``lead`` touch ``/lead/touch``),
    half invalid ones of several kinds."""
    valid = [osc("/lead/gesture", g) for g in range(9)]
    valid += [osc("/lead/gesture", float(g)) for g in (2, 5)]
    valid += [osc("/lead/gesture", name) for name in ("FS", "fsa", "bs", "N")]
    invalid = [
        osc("/lead/gesture", 12),  # out of range
        osc("/lead/gesture", 2.5),  # not a whole number
        osc("/lead/gesture", "XYZ"),  # not a gesture name
        osc("/lead/gesture", 1, 2),  # too many arguments
        osc("/lead/gesture"),  # none
        osc("/bridge/temperature", 99.0),  # out of range
        osc("/bridge/temperature", float("nan")),
        osc("/some/other/address", 1),  # unknown: ignored
        b"#bundle\0" + bytes(8),  # bundles are refused
        b"\x00\x01garbage",  # not OSC
        b"/lead/gesture\0\0\0,i",  # truncated
        osc("/lead/gesture", 3)[:-2],  # truncated argument
        osc("/bridge/tick"),  # not with the internal clock
        b"",
    ]
    if lead == "touch":
        # Only touches in the valid half: every tick then classifies a full window (the
        # bridge keeps the last 10,000 touches), the most work a lead can cause.
        rng = np.random.default_rng(1)
        valid = [osc("/lead/touch", *map(float, rng.uniform(0, 1, 2))) for _ in range(6)]
        valid += [osc("/lead/touch", *map(float, rng.uniform(0, 1, 2)), 12.5) for _ in range(6)]
        valid += [osc("/lead/touch", 0.25, 0.75, 0.0), osc("/lead/touch", 0, 1)]  # ints
        invalid += [
            osc("/lead/touch", 1.5, 0.5),  # x out of range
            osc("/lead/touch", 0.5, -0.1),  # y out of range
            osc("/lead/touch", float("nan"), 0.5),
            osc("/lead/touch", 0.5, 0.5, float("inf")),
            osc("/lead/touch", 0.5, 0.5, -3.0),  # negative velocity
            osc("/lead/touch", "0.5", 0.5),  # not a number
            osc("/lead/touch", True, 0.5),  # a boolean, not a number
            osc("/lead/touch", 0.5),  # too few arguments
            osc("/lead/touch", 0.5, 0.5, 1.0, 2.0),  # too many
            osc("/lead/touch"),
            # truncated: python-osc reads a float cut short as if padded with zero bytes
            osc("/lead/touch", 0.5, 0.5)[:-5],
        ]
    valid = (valid * 2)[: len(invalid)]
    mixed = [m for pair in zip(valid, invalid, strict=True) for m in pair]
    return mixed


def pad(raw: bytes) -> bytes:
    """An OSC string: NUL-terminated and padded with NULs to a multiple of 4 bytes."""
    raw += b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def hostile_messages(fatal: bool = True) -> list[bytes]:
    """The hostile mix, as a network would send it: random bytes, valid messages cut
    short or with bytes changed, bundles, arrays nested 1,000 deep, type tags the bridge
    does not read (up to 16 KB of them), non-ASCII digits, and valid messages; the flood
    adds a message to a distinct address every fourth send (run_flood). Without ``fatal``,
    none of the kinds that ended the bridge before issue 9's fixes (nested arrays,
    '²', 5,000 digits), so that bridge can be measured too."""
    rng = np.random.default_rng(3)
    valid = [osc("/lead/gesture", g) for g in range(9)] + [
        osc("/lead/gesture", "FS"),
        osc("/lead/touch", 0.5, 0.25),
        osc("/bridge/temperature", 0.8),
        osc("/bridge/ping", 1, 2.5, "x"),
    ]

    def mutated(data: bytes) -> bytes:
        data = bytearray(data)
        for i in rng.integers(0, len(data), size=int(rng.integers(1, 4))):
            data[i] = int(rng.integers(0, 256))
        return bytes(data)

    deep = b"[" * 1000 + b"]" * 1000
    out: list[bytes] = []
    for i in range(400):
        v = valid[i % len(valid)]
        kind = i % 8
        if kind == 0:
            out.append(rng.bytes(int(rng.integers(1, 200))))  # random
        elif kind == 1:
            out.append(v[: int(rng.integers(1, len(v)))])  # truncated
        elif kind == 2:
            out.append(mutated(v))
        elif kind == 3:  # a bundle of one message
            out.append(b"#bundle\0" + bytes(8) + len(v).to_bytes(4, "big") + v)
        elif kind == 4 and fatal:  # nested arrays, about 2 KB
            address = "/lead/gesture" if i % 16 == 4 else "/bridge/temperature"
            out.append(pad(address.encode()) + pad(b"," + deep))
        elif kind == 5:  # type tags the bridge does not read
            if i % 80 == 5:
                out.append(pad(b"/lead/gesture") + pad(b"," + b"x" * 16_000))
            elif i % 16 == 5:
                out.append(pad(b"/lead/touch") + pad(b",fcf") + struct.pack(">fif", 0.5, 65, 0.25))
            else:
                out.append(pad(b"/lead/gesture") + pad(b"," + b"x" * 1000))
        elif kind == 7 and fatal:  # digits that are not ASCII, and too many of them
            text = "²" if i % 16 == 7 else "9" * 5000
            out.append(osc("/lead/gesture", text))
        else:
            out.append(v)  # valid: the bridge has work too
    return out


def run_flood(port: int, rate: float, lead: str, mix: str = "mixed") -> None:
    hostile = mix != "mixed"
    if hostile:
        messages = hostile_messages(fatal=mix == "hostile")
    else:
        messages = flood_messages(lead)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = ("127.0.0.1", port)
    stopping, marks = [], []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGUSR1, lambda *_: marks.append(sent))  # the bridge is ready
    slot = 0.001  # wake every millisecond and send what is due by then
    sent = errors = 0
    start = time.monotonic()
    print("flooding", flush=True)
    while not stopping:
        due = int((time.monotonic() - start) * rate)
        while sent < due:
            data = messages[sent % len(messages)]
            if hostile and sent % 4 == 3:  # a distinct address, cut short (never kept)
                data = pad(b"/their/app/%d" % sent) + b",f\0\0\0\0"
            try:
                sock.sendto(data, target)
            except OSError:
                errors += 1  # nobody bound yet, or a full buffer: it still counts as sent
            sent += 1
        next_slot = start + (int((time.monotonic() - start) / slot) + 1) * slot
        time.sleep(max(0.0, next_slot - time.monotonic()))
    elapsed = time.monotonic() - start
    after = sent - marks[0] if marks else None
    report = {"sent": sent, "seconds": elapsed, "send_errors": errors, "sent_after_ready": after}
    print(json.dumps(report), flush=True)


class RoleProcess:
    """One of this script's roles in its own process while a ``with`` block runs (or, when
    not ``on``, nothing). It prints ``ready`` when set up, takes SIGUSR1 as its cue, and at
    SIGTERM prints a JSON report as its last line: :attr:`report`."""

    def __init__(self, on: bool, args: list, ready: str):
        self.on, self.args, self.ready = on, args, ready
        self.report: dict = {}

    def __enter__(self):
        if self.on:
            command = role_command(*self.args)
            self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            wait_line(self.proc, self.ready, timeout=30)
        return self

    def cue(self) -> None:
        if self.on:
            self.proc.send_signal(signal.SIGUSR1)

    def __exit__(self, *exc):
        if self.on:
            self.proc.send_signal(signal.SIGTERM)
            out, _ = self.proc.communicate(timeout=10)
            lines = out.strip().splitlines()
            self.report = json.loads(lines[-1]) if lines and lines[-1][0] == "{" else {}


class Flood(RoleProcess):
    """A flood process aimed at ``port`` while the ``with`` block runs (or a no-op);
    :meth:`mark` notes how many messages were sent so far (the bridge just became ready)."""

    def __init__(self, port: int, rate: float, on: bool, lead: str = "gesture", mix="mixed"):
        args = ["flood", "--port", port, "--rate", rate, "--lead", lead, "--flood", mix]
        super().__init__(on, args, "flooding")

    def mark(self) -> None:
        self.cue()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        if self.report:
            self.report["rate"] = self.report["sent"] / self.report["seconds"]


# --- the lead performer playing by touches (its own process) -----------------------------

SCREEN = (1024.0, 768.0)  # the bridge scales x, y 0-1 to these screen points (docs/osc.md)
# (pattern, seconds): each should classify as a different gesture once it fills the
# classifier's 5-second window; the silence is long enough to empty it (N).
TOUCH_PATTERNS = (
    ("big swirl", 6.0),
    ("fast taps", 5.0),
    ("silence", 7.0),
    ("slow taps", 5.0),
    ("small swirl", 5.0),
)
SWIRL_RATE = 60.0  # touch events a second while a finger moves, as an iPad reports them
FAST_TAPS, SLOW_TAPS = 10.0, 2.0  # taps a second


def touch_pattern(name: str, seconds: float, rng: np.random.Generator) -> list[tuple]:
    """(time, x, y, velocity or None) of one pattern; x, y 0-1; velocity in screen points."""
    if name == "silence":
        return []
    if name.endswith("taps"):  # touch-downs spread over the screen
        rate = FAST_TAPS if name == "fast taps" else SLOW_TAPS
        times = np.arange(int(seconds * rate)) / rate + rng.uniform(0, 0.3 / rate)
        xy = rng.uniform(0.05, 0.95, (len(times), 2))
        # Fast taps say their velocity (0: touch-down); slow ones leave it to the bridge,
        # which takes a touch more than 0.1 s after the last one as a touch-down.
        velocity = 0.0 if name == "fast taps" else None
        return [
            (float(t), float(x), float(y), velocity) for t, (x, y) in zip(times, xy, strict=True)
        ]
    radius, turn = (0.4, 1.5) if name == "big swirl" else (0.08, 0.8)  # of the height; s
    times = np.arange(int(seconds * SWIRL_RATE)) / SWIRL_RATE
    angle = 2 * np.pi * times / turn
    x = 0.5 + radius * np.cos(angle) * SCREEN[1] / SCREEN[0]  # a circle on the screen
    y = 0.5 + radius * np.sin(angle)
    moved = np.hypot(np.diff(x, prepend=x[0]) * SCREEN[0], np.diff(y, prepend=y[0]) * SCREEN[1])
    rows = zip(times, x, y, moved, strict=True)
    return [(float(t), float(a), float(b), float(v)) for t, a, b, v in rows]


def lead_touches() -> tuple[list[tuple], float]:
    """One cycle of TOUCH_PATTERNS as (time, x, y, velocity or None), and its length."""
    rng = np.random.default_rng(2)
    events, offset = [], 0.0
    for name, seconds in TOUCH_PATTERNS:
        events += [(t + offset, *rest) for t, *rest in touch_pattern(name, seconds, rng)]
        offset += seconds
    return events, offset


def run_lead(port: int) -> None:
    """Play TOUCH_PATTERNS over and over from SIGUSR1 (the bridge is ready) to SIGTERM,
    each touch at its absolute deadline; report how many were sent and how late."""
    events, cycle = lead_touches()
    messages = [osc("/lead/touch", *(a for a in rest if a is not None)) for _, *rest in events]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = ("127.0.0.1", port)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
    print("leading", flush=True)
    if signal.sigwaitinfo({signal.SIGUSR1, signal.SIGTERM}).si_signo == signal.SIGTERM:
        return
    start = time.monotonic()
    stopping: list = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    sent, late = 0, []
    while not stopping:
        due = start + (sent // len(events)) * cycle + events[sent % len(events)][0]
        time.sleep(max(0.0, due - time.monotonic()))
        if stopping:
            break
        late.append(time.monotonic() - due)
        try:
            sock.sendto(messages[sent % len(messages)], target)
        except OSError:
            pass  # the bridge has just stopped
        sent += 1
    elapsed = time.monotonic() - start
    ms = np.array(late) * 1000
    report = {"sent": sent, "seconds": elapsed}
    report |= {"late_p50_ms": pct(ms, 50), "late_p99_ms": pct(ms, 99)}  # of the sends
    print(json.dumps(report), flush=True)


class Lead(RoleProcess):
    """With ``on``, a lead performer process playing TOUCH_PATTERNS to ``port`` from
    :meth:`start` to the end of the ``with`` block."""

    def __init__(self, port: int, on: bool):
        super().__init__(on, ["lead", "--port", port], "leading")

    def start(self) -> None:
        self.cue()


# --- the TensorFlow side (its own processes) ----------------------------------------------


def keras_network(model_path: Path):
    """The file's network in Keras, stateful at batch 1, and a tf.function step."""
    from dataclasses import replace

    import h5py
    import tensorflow as tf

    from gesture_rnn.config import ModelConfig
    from gesture_rnn.model import build_model

    with h5py.File(model_path, "r") as f:
        metadata = json.loads(f.attrs["gesture_rnn"])
        names: list[str] = []
        f.visititems(lambda name, obj: names.append(name) if hasattr(obj, "shape") else None)
        weights = {name: f[name][()] for name in names}
    # The architecture says whether there are stay and copy logits (older files: none;
    # a calibrated file has a copy logit, gesture_rnn.calibrate).
    stay = bool(metadata["architecture"].get("stay", False))
    copy = bool(metadata["architecture"].get("copy", False))
    config = replace(ModelConfig.from_dict(metadata["config"]), stay=stay, copy=copy)
    net = build_model(config, batch_size=1, stateful=True)
    for name in ("stay", "copy"):
        if f"output/{name}" in weights:
            net.get_layer(name).set_weights([weights[f"output/{name}"]])
    table = weights["embedding"]
    net.get_layer("embedding").set_weights([table.reshape(-1, table.shape[-1])])
    for i in range(config.layers):
        net.get_layer(f"lstm_{i}").set_weights(
            [weights[f"lstm_{i}/{n}"] for n in ("kernel", "recurrent_kernel", "bias")]
        )
    net.get_layer("output").set_weights([weights["output/kernel"], weights["output/bias"]])
    step = tf.function(lambda x: tf.nn.softmax(net(x, training=False)))
    return net, step, config


def run_tf_bridge(model_path: Path, port: int) -> None:
    """What a TensorFlow bridge does before it can answer: the baseline of start to ready."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    import tensorflow as tf

    _, step, _ = keras_network(model_path)
    step(tf.constant([[0]], dtype=tf.int32)).numpy()
    print(TF_READY, flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    code = 0
    while not stopping:  # keep stepping, as a bridge at --period 0.05 would
        code = (code * 7 + 1) % 6561
        step(tf.constant([[code]], dtype=tf.int32)).numpy()
        time.sleep(0.05)


PACED_STEPS, PACED_GAP = 100, 0.02  # steps a tick apart: caches cold, as in the bridge


def run_keras_step(model_path: Path, steps: int) -> None:
    """Per-step time of Keras and of our numpy runtime on the same weights and codes:
    back to back (``keras``, ``numpy``) and PACED_GAP apart (``*_paced``)."""
    import tensorflow as tf
    from threadpoolctl import threadpool_limits

    from gesture_rnn.runtime import load

    net, step, config = keras_network(model_path)
    ours = load(model_path)
    rng = np.random.default_rng(0)
    gestures = np.repeat(rng.integers(0, 9, size=(steps // 4 + 1, config.ensemble)), 4, 0)[:steps]
    codes = (gestures * 9 ** np.arange(config.ensemble)).sum(axis=1)

    def run(name: str, n: int, gap: float) -> tuple[list[float], list]:
        if name == "keras":
            for layer in net.layers:
                if hasattr(layer, "reset_states"):
                    layer.reset_states()
        else:
            ours.reset()
        times, probs = [], []
        for i, g in enumerate(gestures[:n]):
            if gap:
                time.sleep(gap)
            start = time.perf_counter()
            if name == "keras":
                p = step(tf.constant([[codes[i]]], dtype=tf.int32)).numpy()[0, 0]
            else:
                p = ours.step(int(g[0]), [int(v) for v in g[1:]])
            times.append(time.perf_counter() - start)
            probs.append(p)
        return times, probs

    result, outputs = {}, {}
    for name in ("keras", "numpy"):
        # numpy on one BLAS thread, as the bridge runs it; Keras with TensorFlow's defaults.
        with threadpool_limits(1 if name == "numpy" else None):
            run(name, 100, 0.0)  # warm up
            times, outputs[name] = run(name, steps, 0.0)
            paced, _ = run(name, PACED_STEPS, PACED_GAP)
        for key, values in ((name, times), (name + "_paced", paced)):
            ms = np.array(values) * 1000
            result[key] = {"p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99), "n": len(ms)}
    diff = np.abs(np.array(outputs["keras"]) - np.array(outputs["numpy"])).max()
    result["max_abs_diff"] = float(diff)
    print(json.dumps(result), flush=True)


# --- measurements (this process) --------------------------------------------------------


def start_to_ready(cmd: list[str], prefix: str) -> dict:
    """Seconds from spawn to the ready line; RSS RSS_AFTER seconds after ready."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = wait_line(proc, prefix) - start
    time.sleep(RSS_AFTER)
    memory = proc_status(proc.pid)
    stop(proc)
    return {"ready_s": ready, "rss_mb": memory["VmRSS"], "hwm_mb": memory["VmHWM"]}


def startup(model: Path, runs: int, tf_runs: int, flood: bool, rate: float) -> dict:
    port, sink = free_udp_port(), bound_socket()  # every run binds the same port in turn
    ours, theirs = [], []
    with Flood(port, rate, flood) as f:
        for i in range(max(runs, tf_runs)):  # alternate, so both see the same load
            if i < runs:
                cmd = bridge_command(model, port, sink.getsockname()[1], 0.05, None, None)
                ours.append(start_to_ready(cmd, READY))
            if i < tf_runs:
                cmd = role_command("tf-bridge", "--model", model, "--port", port)
                theirs.append(start_to_ready(cmd, TF_READY))
    sink.close()

    def summary(runs_: list[dict]) -> dict:
        return {key: float(np.median([r[key] for r in runs_])) for key in runs_[0]} | {
            "runs": len(runs_),
            "ready_all_s": [round(r["ready_s"], 3) for r in runs_],
        }

    return {"ours": summary(ours), "tf": summary(theirs), "flood": f.report}


def keras_compute(model: Path, steps: int, flood: bool, rate: float) -> dict:
    sink = bound_socket()  # the flood's target: a socket nobody reads, as CPU load only
    with Flood(sink.getsockname()[1], rate, flood) as f:
        out = subprocess.run(
            role_command("keras-step", "--model", model, "--steps", steps),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    sink.close()
    return json.loads(out.strip().splitlines()[-1]) | {"flood": f.report}


TICK_HEAD = b"/ensemble/tick\0\0,i\0\0"
LEAD_HEAD = b"/lead/gesture\0\0\0,i\0\0"
LEAD_GESTURES = (3, 6, 1, 7, 4, 5, 8, 2)  # FS BS FT SS FSA VSS C ST: each gesture but N
LEAD_HOLD = 2.0  # seconds each lead gesture is held
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python does not name it
TIMESPEC = struct.Struct("@qq")


def stamped_socket() -> socket.socket:
    """A receiving socket whose datagrams carry the kernel's arrival time (Linux).

    On loopback the kernel stamps a datagram while the sender's sendto is still running,
    so the stamp is when the bridge sent it, untouched by how late this process reads.
    """
    sock = bound_socket()
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    return sock


def receive_stamped(sock: socket.socket) -> tuple[bytes, float]:
    data, ancillary, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(TIMESPEC.size))
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = TIMESPEC.unpack(value[: TIMESPEC.size])
            return data, seconds + nanoseconds * 1e-9
    raise SystemExit("bench/bridge.py: the kernel gave no receive time stamp (SO_TIMESTAMPNS)")


def timing_run(
    model: Path,
    corpus: Path | None,
    period: float,
    ticks: int,
    flood: bool,
    rate: float,
    folder: Path,
    wrap: list[str],
    lead: str = "gesture",
    mix: str = "mixed",
) -> dict:
    """Run the bridge for ``ticks`` ticks; its --stats and the ticks' arrival here.

    The lead: a new /lead/gesture every LEAD_HOLD seconds, sent from here, or with
    ``lead`` touch the lead performer process playing TOUCH_PATTERNS (the bridge then
    records its ticks, so that the lead gestures it classified can be counted)."""
    rx = stamped_socket()
    port = free_udp_port()
    name = f"{period}-{int(flood)}-{corpus is not None}"
    stats = folder / f"stats-{name}.json"
    record = folder / f"record-{name}.csv" if lead == "touch" else None
    arrivals: dict[int, float] = {}
    touches = 0
    with Flood(port, rate, flood, lead, mix) as f, Lead(port, lead == "touch") as performer:
        cmd = bridge_command(model, port, rx.getsockname()[1], period, stats, corpus, record)
        with open(folder / "bridge.log", "a") as log:
            proc = subprocess.Popen(wrap + cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        wait_line(proc, READY, timeout=30)
        f.mark()
        performer.start()
        cpu_at_ready = cpu_seconds(proc.pid)
        ready = time.monotonic()
        end = ready + ticks * period + 5.0
        leads = 0  # a lead performer: a new gesture every LEAD_HOLD seconds, from ready
        while max(arrivals, default=0) < ticks and (left := end - time.monotonic()) > 0:
            next_lead = ready + leads * LEAD_HOLD if lead == "gesture" else float("inf")
            if time.monotonic() >= next_lead:
                gesture = LEAD_GESTURES[leads % len(LEAD_GESTURES)]
                rx.sendto(LEAD_HEAD + struct.pack(">i", gesture), ("127.0.0.1", port))
                leads += 1
                continue
            readable, _, _ = select.select([rx], [], [], min(left, next_lead - time.monotonic()))
            if not readable:
                continue
            data, stamp = receive_stamped(rx)
            if data.startswith(TICK_HEAD):
                arrivals[struct.unpack(">i", data[-4:])[0]] = stamp
            elif b"/touch\0" in data[:24]:
                touches += 1
        cpu = cpu_seconds(proc.pid) - cpu_at_ready
        ran = time.monotonic() - ready
        memory = proc_status(proc.pid)
        stop(proc)
    rx.close()
    if proc.returncode != 0:
        raise SystemExit(f"bench/bridge.py: the bridge exited with {proc.returncode}")
    summary = json.loads(stats.read_text())
    lead_sent = performer.report.get("sent", 0) if lead == "touch" else leads
    n = np.array(sorted(arrivals), dtype=np.float64)
    t = np.array([arrivals[int(k)] for k in n])
    outside: dict = {"received": len(n)}
    if len(n) > 2:
        error = t - (t[0] + (n - n[0]) * period)  # against the first tick's arrival
        slope, offset = np.polyfit(n, error, 1)
        jitter = np.abs(error - (offset + slope * n)) * 1000  # around the fitted drift
        outside |= {
            "p50_ms": pct(jitter, 50),  # the table's "outside": jitter
            "p99_ms": pct(jitter, 99),
            "drift_ms": float(slope * (n[-1] - n[0]) * 1000),  # fitted, over the whole run
            "from_first_p50_ms": pct(np.abs(error[1:]) * 1000, 50),
            "from_first_p99_ms": pct(np.abs(error[1:]) * 1000, 99),
        }
    return {
        "period": period,
        "ticks": ticks,
        "flood": f.report,
        "stats": summary,
        "outside": outside,
        "lead": lead,
        "lead_sent": lead_sent,
        "lead_performer": performer.report,
        "leads_chosen": leads_chosen(record) if record is not None else {},
        "touches_received": touches,
        "touches_per_s": touches / ran,
        "cpu_share": cpu / ran,
        "rss_mb": memory["VmRSS"],
        "hwm_mb": memory["VmHWM"],
    }


def _web_reader(url: str, origin: str, stop_at: float, counts: dict, key: str) -> None:
    """A browser that keeps up: reads every frame until ``stop_at``."""
    from websockets.sync.client import connect

    with connect(url, origin=origin, open_timeout=10) as ws:
        while time.monotonic() < stop_at:
            try:
                frame = ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            counts[key] = counts.get(key, 0) + 1
            counts[key + "_bytes"] = counts.get(key + "_bytes", 0) + len(frame)


def _stalled_client(host: str, port: int) -> socket.socket:
    """A browser that stopped reading (a backgrounded tab): opens the WebSocket, then
    never reads, with a small receive buffer so the bridge's side fills up soon."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.sendall(
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    return sock


def web_run(
    model: Path, period: float, ticks: int, readers: int, folder: Path, wrap: list[str]
) -> dict:
    """The bridge at ``period`` with --web, ``readers`` clients reading and one stalled
    (none at all with readers=-1), under ``wrap`` (e.g. chrt): its --stats, what the
    clients got, its CPU share."""
    import re
    import threading

    rx = stamped_socket()
    port = free_udp_port()
    stats = folder / f"stats-web-{readers}.json"
    cmd = bridge_command(model, port, rx.getsockname()[1], period, stats, None)
    if readers >= 0:
        cmd += ["--web", "127.0.0.1:0"]
    with open(folder / "bridge.log", "a") as log:
        proc = subprocess.Popen(wrap + cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    end = time.monotonic() + 30
    line = ""
    while not line.startswith(READY) and time.monotonic() < end:
        line = proc.stdout.readline()
    if not line.startswith(READY):
        stop(proc)
        raise SystemExit("bench/bridge.py: the bridge with --web did not start")
    cpu_at_ready, ready = cpu_seconds(proc.pid), time.monotonic()
    stop_at = ready + ticks * period
    counts: dict = {}
    threads, stalled = [], None
    if readers >= 0:
        host, web_port = re.search(r"web page http://([\d.]+):(\d+)/", line).groups()
        url, origin = f"ws://{host}:{web_port}/ws", f"http://{host}:{web_port}"
        for i in range(readers):
            thread = threading.Thread(
                target=_web_reader, args=(url, origin, stop_at, counts, f"reader{i}")
            )
            thread.start()
            threads.append(thread)
        stalled = _stalled_client(host, int(web_port))
    while (left := stop_at - time.monotonic()) > 0:
        if select.select([rx], [], [], left)[0]:
            receive_stamped(rx)  # keep the OSC socket drained
    for thread in threads:
        thread.join(timeout=10)
    cpu = cpu_seconds(proc.pid) - cpu_at_ready
    ran = time.monotonic() - ready
    stalled_dropped = None
    if stalled is not None:  # was the stalled client disconnected? (EOF or reset)
        stalled.settimeout(0.5)
        stalled_dropped = False
        try:
            while stalled.recv(65536):
                pass
            stalled_dropped = True
        except ConnectionResetError:
            stalled_dropped = True
        except TimeoutError:
            pass
        stalled.close()
    stop(proc)
    rx.close()
    return {
        "period": period,
        "ticks": ticks,
        "readers": readers,
        "stats": json.loads(stats.read_text()),
        "clients": counts,
        "stalled_disconnected": stalled_dropped,
        "cpu_share": cpu / ran,
    }


def report_web(runs: list[dict]) -> None:
    print("\n## The browser page: tick timing with WebSocket clients connected (--stats, ms)")
    print(
        "| clients | ticks | tick late p50 / p99 / max | touch late p50 / p99 | compute p99 |"
        " CPU | frames per reader | stalled client |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in runs:
        s = r["stats"]
        late, touch = s["tick_late"], s.get("touch_late", {})
        if r["readers"] < 0:
            who, frames, stalled = "no --web", "-", "-"
        else:
            who = f"{r['readers']} reading + 1 never reading"
            frames = ", ".join(
                str(v) for k, v in sorted(r["clients"].items()) if not k.endswith("_bytes")
            )
            web = s.get("web", {})
            stalled = (
                f"disconnected: {r['stalled_disconnected']} "
                f"(slow: {web.get('slow_disconnected')}, "
                f"touches dropped {web.get('touches_dropped')})"
            )
        print(
            f"| {who} | {s['ticks']} | {late['p50_ms']:.3f} / {late['p99_ms']:.3f} / "
            f"{late['max_ms']:.3f} | {touch.get('p50_ms', 0):.3f} / {touch.get('p99_ms', 0):.3f}"
            f" | {s['tick_compute']['p99_ms']:.3f} | {r['cpu_share']:.1%} | {frames} | {stalled} |"
        )


def leads_chosen(record: Path) -> dict[str, int]:
    """Ticks per lead gesture in a --record CSV (time,lead,player1,...), in tick order of
    first appearance, and "changes": how often the lead changed from one tick to the next."""
    from gesture_rnn.gestures import GESTURE_NAMES

    leads = [int(line.split(",")[1]) for line in record.read_text().splitlines()[1:]]
    counts: dict[str, int] = {}
    for g in leads:
        counts[GESTURE_NAMES[g]] = counts.get(GESTURE_NAMES[g], 0) + 1
    return counts | {"changes": sum(a != b for a, b in zip(leads[:-1], leads[1:], strict=True))}


# --- the report -------------------------------------------------------------------------


def model_for(path: Path | None, folder: Path) -> tuple[Path, str]:
    from gesture_rnn.runtime import bundled_path, load

    if path is not None:
        return path, f"{path} ({load(path)!r})"
    bundled = bundled_path(4)
    if bundled.is_file():
        return bundled, f"the bundled quartet model {bundled.name} ({load(bundled)!r})"
    from gesture_rnn.config import config_for
    from gesture_rnn.export import metadata_for, write_model_file

    config = config_for("medium")
    rng = np.random.default_rng(0)
    first = config.input_width
    shapes = {"embedding": (config.ensemble, 9, config.embedding)}
    for i in range(config.layers):
        shapes[f"lstm_{i}/kernel"] = (first if i == 0 else config.units, 4 * config.units)
        shapes[f"lstm_{i}/recurrent_kernel"] = (config.units, 4 * config.units)
        shapes[f"lstm_{i}/bias"] = (4 * config.units,)
    shapes["output/kernel"] = (config.units, config.num_outputs)
    shapes["output/bias"] = (config.num_outputs,)
    if getattr(config, "stay", False):
        shapes["output/stay"] = (config.num_outputs,)
    weights = {k: (0.1 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}
    path = write_model_file(folder / "random-medium.h5", weights, metadata_for(config))
    return path, f"no bundled model: random weights, medium size ({load(path)!r})"


def ratio(a: float, b: float) -> str:
    return f"{a / b:,.1f}x" if b > 0 else "-"


def verdict(value: float, goal: float) -> str:
    return "met" if value < goal else "MISSED"


def fmt(d: dict | None, key_50: str = "p50_ms", key_99: str = "p99_ms") -> str:
    return f"{d[key_50]:7.3f} / {d[key_99]:7.3f}" if d else f"{'-':>17}"


def report_startup(r: dict) -> None:
    print("\nstart to ready (median of runs) and resident memory 2.5 s after ready")
    print(f"{'':6} {'':13} {'ours':>9} {'TensorFlow':>11} {'TF / ours':>10}  goal")
    for c, s in r["startup"].items():
        o, t = s["ours"], s["tf"]
        print(
            f"{c:6} {'ready, s':13} {o['ready_s']:9.3f} {t['ready_s']:11.3f} "
            f"{ratio(t['ready_s'], o['ready_s']):>10}  < 1 s: "
            f"{verdict(o['ready_s'], GOALS['start_s'])}"
        )
        print(
            f"{'':6} {'VmRSS, MB':13} {o['rss_mb']:9.1f} {t['rss_mb']:11.1f} "
            f"{ratio(t['rss_mb'], o['rss_mb']):>10}  < 150 MB: "
            f"{verdict(o['rss_mb'], GOALS['rss_mb'])}"
        )
        print(
            f"{'':6} {'peak RSS, MB':13} {o['hwm_mb']:9.1f} {t['hwm_mb']:11.1f} "
            f"{ratio(t['hwm_mb'], o['hwm_mb']):>10}"
        )
        if s["flood"]:
            fl = s["flood"]
            print(f"{'':6} (flood sent {fl['sent']:,} messages, {fl['rate']:,.0f} a second)")


def report_compute(r: dict) -> None:
    print("\ncompute, ms (p50 / p99): making a whole tick in the bridge against one model step")
    print(
        f"{'':6} {'':12} {'bridge tick':>17} {'numpy step':>17} {'Keras step':>17} "
        f"{'Keras / numpy':>14} {'Keras / tick':>13}"
    )
    for c, k in r["keras"].items():
        fast = [x for x in r["timing"] if x["flood_on"] == (c == "flood") and not x["corpus"]]
        tick = min(fast, key=lambda x: x["period"])["stats"]["tick_prepare"] if fast else None
        for how, suffix in (("back to back", ""), (f"{PACED_GAP * 1000:.0f} ms apart", "_paced")):
            kp, np_ = k["keras" + suffix], k["numpy" + suffix]
            t = tick if suffix else None
            print(
                f"{c if not suffix else '':6} {how:12} {fmt(t)} {fmt(np_)} {fmt(kp)} "
                f"{ratio(kp['p50_ms'], np_['p50_ms']):>14} "
                f"{ratio(kp['p50_ms'], t['p50_ms']) if t else '-':>13}"
            )
    print(
        "(bridge tick: tick_prepare (step, sample, touches, OSC bytes; made ahead of the\n"
        "deadline) from --stats at period 0.05 with "
        "procedural touches; steps: the model alone, back to back (caches warm) and "
        f"{PACED_GAP * 1000:.0f} ms\napart (cold, like a tick); p50 ratios; Keras vs numpy "
        f"max |p| difference {max(k['max_abs_diff'] for k in r['keras'].values()):.1e})"
    )


def report_timing(r: dict) -> None:
    if r["wrap"]:
        print(f"\n(the bridges below ran under: {' '.join(r['wrap'])})")
    print(f"\nthe flood: {r.get('flood', 'mixed')} messages (see --flood)")
    print("live timing, ms (p50 / p99); goals: tick p99 < 1, compute p99 < 1, touch p99 < 2")
    print(
        f"{'touches':10} {'period':>6} {'':5} {'tick late':>17} {'outside':>17} "
        f"{'drift':>7} {'compute':>17} {'touch late':>17} {'/s':>4} {'RSS':>4} {'CPU':>4} "
        f"{'ticks':>7} {'flood read':>10}"
    )
    for x in r["timing"]:
        s, o = x["stats"], x["outside"]
        handled = s.get("received", 0) + s.get("rejected", 0) + s.get("ignored", 0)
        handled -= x.get("lead_sent", 0)  # the lead's messages are not the flood's
        flood = f"{handled / x['flood']['sent_after_ready']:.0%}" if x["flood"] else "-"
        print(
            f"{('index' if x['corpus'] else 'procedural'):10} {x['period']:6} "
            f"{('flood' if x['flood_on'] else 'quiet'):5} {fmt(s.get('tick_late'))} "
            f"{fmt(o if 'p50_ms' in o else None)} {o.get('drift_ms', 0):7.3f} "
            f"{fmt(s.get('tick_compute'))} {fmt(s.get('touch_late'))} "
            f"{x['touches_per_s']:4.0f} {s['max_rss_mb']:4.0f} {x['cpu_share']:4.0%} "
            f"{o['received']:>3}/{x['ticks']:<3} {flood:>10}"
        )
    print(
        "tick late, compute, touch late: the bridge's --stats. outside: the kernel's arrival\n"
        "time of each /ensemble/tick here, minus (first tick's + n x period): its jitter\n"
        "around a fitted line, and drift: that line's slope over the run. /s: touches\n"
        "received a second. RSS: --stats max_rss_mb. CPU: the bridge's CPU time / wall time\n"
        "after ready. ticks: received / asked. flood read: messages the bridge counted\n"
        "(received, rejected or ignored, less the lead's) / sent after its ready line."
    )
    if r.get("lead", "gesture") == "gesture":
        print("A lead performer sends a new gesture every 2 s throughout.")
        print("\ntick_prepare, ms (p50 / p99 / max): making the tick ahead of its deadline")
    else:
        print(
            "A lead performer process plays /lead/touch throughout, over and over:\n"
            + ", ".join(f"{name} {t:g} s" for name, t in TOUCH_PATTERNS)
            + "\n(swirls: 60 touches a second; fast taps: 10; slow taps: 2). The flood's\n"
            "valid half is /lead/touch too."
        )
        print(
            "\ntick_prepare, ms (p50 / p99 / max): making the tick ahead of its deadline,\n"
            "classifying the lead's last 5 s of touches first; lead in: the performer's\n"
            "touches a second (its send lateness p99, ms); leads chosen: ticks per lead\n"
            "gesture in the bridge's --record file, and how often it changed"
        )
    print(
        f"{'touches':10} {'period':>6} {'':5} {'tick_prepare':>27}  {'lead in':>12}  leads chosen"
    )
    for x in r["timing"]:
        s = x["stats"]
        prepare = s.get("tick_prepare")
        text = f"{fmt(prepare)} / {prepare['max_ms']:7.3f}" if prepare else f"{'-':>27}"
        lead_in = chosen = ""
        if x.get("lead") == "touch":
            lp = x["lead_performer"]
            lead_in = f"{lp['sent'] / lp['seconds']:4.0f} ({lp['late_p99_ms']:.2f})"
            chosen = " ".join(f"{k} {v}" for k, v in x["leads_chosen"].items())
        print(
            f"{('index' if x['corpus'] else 'procedural'):10} {x['period']:6} "
            f"{('flood' if x['flood_on'] else 'quiet'):5} {text}  {lead_in:>12}  {chosen}"
        )


PARTS = ("startup", "compute", "timing", "web")

# --- --clock link: steps against a second Link peer's beats -------------------------------

LINK_ENV = "GESTURE_RNN_BENCH_IN_NETNS"
LINK_NETNS = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"


def in_private_network() -> None:
    """As root, run this script again inside a private network namespace, so Link's
    multicast stays on this machine (as the tests do); elsewhere, run on as it is."""
    if os.environ.get(LINK_ENV) or os.geteuid() != 0:
        return
    command = f'{LINK_NETNS} && exec "$0" "$@"'
    os.environ[LINK_ENV] = "1"
    code = subprocess.call(["unshare", "-n", "sh", "-c", command, sys.executable, *sys.argv])
    sys.exit(code)


def link_run(
    model: Path, steps: int, tempo: float, beats: float, flood: bool, rate: float, folder: Path,
    wrap: list[str],
) -> dict:  # fmt: skip
    """A Link peer (tests/link_peer.py) at ``tempo`` and the bridge with --clock link; the
    peer reads its own beat as each /ensemble/tick arrives: the error is the distance to
    the nearest step beat, in ms (loopback delivery and the peer's wake-up included)."""
    peer = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "link_peer.py"), "--tempo", str(tempo),
         "--only", "/ensemble/tick"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    peer_port = json.loads(peer.stdout.readline())["port"]
    events: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=lambda: [events.put(line) for line in peer.stdout], daemon=True).start()
    port = free_udp_port()
    stats = folder / f"stats-link-{int(flood)}.json"
    cmd = bridge_command(model, port, peer_port, 1.0, stats, None)
    cmd += ["--clock", "link", "--beats-per-step", str(beats)]
    errors, joined_at = [], None
    with Flood(port, rate, flood) as f:
        with open(folder / "bridge.log", "a") as log:
            proc = subprocess.Popen(wrap + cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        wait_line(proc, READY, timeout=30)
        f.mark()
        end = time.monotonic() + 30 + steps * beats * 60 / tempo
        while len(errors) < steps and time.monotonic() < end:
            try:
                event = json.loads(events.get(timeout=max(0.0, end - time.monotonic())))
            except queue.Empty:
                break
            if event.get("peers"):
                joined_at = time.monotonic()
            elif "beat" in event and joined_at and time.monotonic() > joined_at + 2:
                step = event["beat"] / beats  # in steps
                errors.append((step - round(step)) * beats * 60_000 / event["tempo"])
        stop(proc)
    peer.stdin.write("quit\n")
    peer.stdin.close()
    peer.wait(timeout=10)
    error = np.abs(np.array(errors))
    return {
        "tempo": tempo,
        "beats_per_step": beats,
        "steps": len(errors),
        "flood": f.report,
        "p50_ms": pct(error, 50),
        "p99_ms": pct(error, 99),
        "max_ms": float(error.max()) if len(error) else None,
        "mean_signed_ms": float(np.mean(errors)) if errors else None,
        "stats": json.loads(stats.read_text()),
    }


def report_link(rows: list[dict]) -> None:
    print("\n--clock link: each step's arrival at a second Link peer, against its beat")
    print("| load | tempo | beats/step | steps | p50 ms | p99 ms | max ms | mean ms | p99 < 1 ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        load = "flood" if r["flood"] else "quiet"
        print(
            f"| {load} | {r['tempo']:g} | {r['beats_per_step']:g} | {r['steps']} | "
            f"{r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['max_ms']:.3f} | "
            f"{r['mean_signed_ms']:+.3f} | {verdict(r['p99_ms'], 1.0)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model file (default: bundled or random)")
    parser.add_argument("--corpus", type=Path, help="also run the timing with this index")
    parser.add_argument("--runs", type=int, default=5, help="start-to-ready runs of ours")
    parser.add_argument("--tf-runs", type=int, default=3, help="start-to-ready runs of TF")
    parser.add_argument("--slow-ticks", type=int, default=20, help="ticks at period 1.0")
    parser.add_argument("--fast-ticks", type=int, default=400, help="ticks at period 0.05")
    parser.add_argument("--steps", type=int, default=1000, help="Keras/numpy steps")
    parser.add_argument("--rate", type=float, default=10_000, help="flood messages a second")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated parts to run, of {', '.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--lead",
        choices=("gesture", "touch"),
        default="gesture",
        help="timing part: the lead sends /lead/gesture every 2 s, or plays /lead/touch "
        "(and the flood's valid half is /lead/touch)",
    )
    parser.add_argument(
        "--flood",
        choices=("mixed", "hostile", "hostile-nonfatal"),
        default="mixed",
        help="timing part's flood: half valid, half invalid messages (mixed); the hostile "
        "mix (hostile_messages); or the hostile mix without the datagrams that ended the "
        "bridge before issue 9 (hostile-nonfatal), to measure that bridge",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--wrap",
        default="",
        help="run the timing and web parts' bridges under this command, e.g. 'chrt -f 10'",
    )
    parser.add_argument(
        "--clock",
        choices=("internal", "link"),
        default="internal",
        help="link: only the Ableton Link timing (needs aalink; as root, in a private "
        "network namespace)",
    )
    parser.add_argument("--link-steps", type=int, default=400, help="--clock link: steps")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.role == "flood":
        return run_flood(args.port, args.rate, args.lead, args.flood)
    if args.role == "lead":
        return run_lead(args.port)
    if args.role == "tf-bridge":
        return run_tf_bridge(args.model, args.port)
    if args.role == "keras-step":
        return run_keras_step(args.model, args.steps)
    if args.clock == "link":
        in_private_network()
        with tempfile.TemporaryDirectory() as tmp:
            model, described = model_for(args.model, Path(tmp))
            print(f"model: {described}", flush=True)
            rows = []
            for flood in (False, True):
                print(f"--clock link, {'flood' if flood else 'quiet'} ...", flush=True)
                x = link_run(model, args.link_steps, 120.0, 0.25, flood, args.rate, Path(tmp),
                             args.wrap.split())  # fmt: skip
                rows.append(x)
        report_link(rows)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1, default=str) + "\n")
        return
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or set(parts) - set(PARTS):
        parser.error(f"--parts {args.parts!r}: choose from {', '.join(PARTS)}")
    if args.runs < 1 or args.tf_runs < 1 or args.slow_ticks < 3 or args.fast_ticks < 3:
        parser.error("--runs and --tf-runs must be at least 1, --*-ticks at least 3")
    if args.corpus is not None and not args.corpus.is_file():
        parser.error(f"--corpus {args.corpus}: no such file")

    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model, described = model_for(args.model, folder)
        wrap = args.wrap.split()
        r: dict = {"model": described, "load_before": os.getloadavg(), "wrap": wrap}
        r["lead"], r["flood"] = args.lead, args.flood
        r |= {"startup": {}, "keras": {}, "timing": [], "command": sys.argv}
        print(f"model: {described}", flush=True)
        for flood in (False, True):
            c = "flood" if flood else "quiet"
            if "startup" in parts:
                print(f"start to ready, {c} ...", flush=True)
                r["startup"][c] = startup(model, args.runs, args.tf_runs, flood, args.rate)
            if "compute" in parts:
                print(f"Keras and numpy steps, {c} ...", flush=True)
                r["keras"][c] = keras_compute(model, args.steps, flood, args.rate)
        if "web" in parts:
            r["web"] = []
            for readers in (-1, 2):
                print(f"bridge at period 0.05 s with --web, readers {readers} ...", flush=True)
                r["web"].append(web_run(model, 0.05, args.fast_ticks, readers, folder, wrap))
        for corpus in (None, args.corpus) if args.corpus else (None,):
            for period, ticks in ((1.0, args.slow_ticks), (0.05, args.fast_ticks)):
                for flood in (False, True) if "timing" in parts else ():
                    print(
                        f"bridge at period {period} s, {ticks} ticks, "
                        f"{'flood' if flood else 'quiet'}, "
                        f"{'index' if corpus else 'procedural'} touches, lead by {args.lead} ...",
                        flush=True,
                    )
                    x = timing_run(
                        model, corpus, period, ticks, flood, args.rate, folder, wrap, args.lead,
                        args.flood,
                    )  # fmt: skip
                    r["timing"].append(x | {"flood_on": flood, "corpus": corpus is not None})
        r["load_after"] = os.getloadavg()
        r["seconds"] = time.monotonic() - began
    print(f"\nmodel: {r['model']}")
    print(
        "load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}"
        " ({} cores)".format(*r["load_before"], *r["load_after"], os.cpu_count())
    )
    if r["startup"]:
        report_startup(r)
    if r["keras"]:
        report_compute(r)
    if r["timing"]:
        report_timing(r)
    if r.get("web"):
        report_web(r["web"])
    print(f"\nwhole benchmark: {r['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1, default=str) + "\n")


if __name__ == "__main__":
    sys.exit(main())
