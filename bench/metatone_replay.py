"""Replay real corpus performances into a running bridge through the Metatone protocol.

Every device of every chosen performance is a fake app with its own UDP socket: it says
``/metatone/online``, then sends its recorded ``/metatone/touch`` events at their recorded
times (a stretch of ``--seconds`` from the middle of each performance; several
performances at once, each device under its own name). The bridge classifies every
device once a tick and sends back ``/metatone/classifier/gesture``; each answer is
compared with the performance's gesture file (the posthoc labels): it agrees if the
device's label at any row within ``--slack`` seconds of the answer's time is the same.
The first five seconds of each stretch are not scored (the window is still filling).

Classification reads the last five seconds of the bridge's own clock, so the replay runs
in real time. Devices never time out during the replay (``--metatone-timeout 3600``):
a performer resting for 30 s would otherwise miss their N answers.

    python -m bench.metatone_replay --data ../shared/metatone-analysis --seconds 60

The default performances are the touch classifier's held-out ones (in its metadata).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
READY = "gesture-rnn bridge ready"
NAMES = ("n", "ft", "st", "fs", "fsa", "vss", "bs", "ss", "c")


def _osc_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def _message(address: str, *args) -> bytes:
    tags, payload = ",", b""
    for value in args:
        if isinstance(value, str):
            tags, payload = tags + "s", payload + _osc_string(value)
        else:
            tags, payload = tags + "f", payload + struct.pack(">f", value)
    return _osc_string(address) + _osc_string(tags) + payload


def _gesture_answer(data: bytes) -> tuple[str, str] | None:
    """(device, name) of a /metatone/classifier/gesture message, else None."""
    from pythonosc.osc_message import OscMessage

    message = OscMessage(data)
    if message.address != "/metatone/classifier/gesture":
        return None
    device, name = message.params
    return device, name


@dataclass
class Stretch:
    """One performance's stretch: its devices' events and labels, times in seconds."""

    name: str
    start: float  # seconds after the gesture file's first row
    devices: list[str]
    events: list[tuple[float, int, float, float, float]]  # (t, device index, x, y, v)
    label_times: np.ndarray  # seconds after the first row
    labels: dict[str, np.ndarray]  # device -> gesture per row


def load_stretch(data: Path, name: str, seconds: float) -> Stretch:
    from gesture_rnn import corpus

    gestures, players = corpus.read_gesture_file(corpus.gesture_file(data, name))
    zero, row_seconds = corpus.read_gesture_times(corpus.gesture_file(data, name))
    touches = corpus.read_touch_file(corpus.touch_file(data, name))
    t = (touches["time"].to_numpy() - zero) / np.timedelta64(1, "s")
    devices = [p for p in players if p in set(touches["device_id"])]
    first, last = max(t.min(), row_seconds[0]), min(t.max(), row_seconds[-1])
    start = max(first, (first + last) / 2 - seconds / 2)
    keep = (t >= start) & (t < start + seconds) & touches["device_id"].isin(devices).to_numpy()
    index = {d: i for i, d in enumerate(devices)}
    events = [
        (float(tt - start), index[d], float(x), float(y), float(v))
        for tt, d, x, y, v in zip(
            t[keep],
            touches["device_id"].to_numpy()[keep],
            touches["x"].to_numpy()[keep],
            touches["y"].to_numpy()[keep],
            touches["v"].to_numpy()[keep],
            strict=True,
        )
    ]
    labels = {p: gestures[:, players.index(p)] for p in devices}
    return Stretch(name, float(start), devices, events, row_seconds.astype(float), labels)


def replay(
    data: Path, names: list[str], seconds: float, slack: float = 1.0, model: str | None = None
) -> dict:
    """Replay ``names`` at once into one bridge; agreement figures (see the module doc)."""
    stretches = [load_stretch(data, name, seconds) for name in names]
    sinks = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # --osc-out and playback: unread
    sinks.bind(("127.0.0.1", 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "gesture_rnn", "bridge", "--port", str(port), "--quiet",
               "--osc-out", f"127.0.0.1:{sinks.getsockname()[1]}", "--metatone-timeout", "3600",
               "--metatone-playback-port", str(sinks.getsockname()[1])]  # fmt: skip
    if model is not None:
        command += ["--model", model]
    bridge = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    sockets: list[tuple[socket.socket, str, int]] = []  # (socket, device name, stretch)
    try:
        line = bridge.stdout.readline()
        if not line.startswith(READY):
            raise RuntimeError(f"the bridge did not start: {line}{bridge.stderr.read()}")
        for k, stretch in enumerate(stretches):
            for device in stretch.devices:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("127.0.0.1", 0))
                sockets.append((s, f"{k}-{device}", k))
        first_socket = {}
        for i, (_, _, k) in enumerate(sockets):
            first_socket.setdefault(k, i)
        answers: list[tuple[float, int, str]] = []  # (arrival, socket index, name)
        stop = threading.Event()
        receiver = threading.Thread(target=_receive, args=(sockets, answers, stop), daemon=True)
        receiver.start()
        for s, name, _ in sockets:
            s.sendto(_message("/metatone/online", name, "replay"), ("127.0.0.1", port))
        events = sorted(
            (t, first_socket[k] + d, x, y, v)
            for k, stretch in enumerate(stretches)
            for t, d, x, y, v in stretch.events
        )
        t0 = time.monotonic() + 0.5
        late = []
        for t, i, x, y, v in events:
            due = t0 + t
            while (wait := due - time.monotonic()) > 0:
                time.sleep(min(wait, 0.002))
            late.append(time.monotonic() - due)
            s, name, _ = sockets[i]
            s.sendto(_message("/metatone/touch", name, x, y, v), ("127.0.0.1", port))
        while time.monotonic() < t0 + seconds + 1.2:
            time.sleep(0.05)
        stop.set()
        receiver.join()
    finally:
        bridge.terminate()
        _, err = bridge.communicate(timeout=20)
        for s, _, _ in sockets:
            s.close()
        sinks.close()
    scored = agreed = 0
    per_device: dict[str, list[int]] = {}  # device: [scored, agreed]
    for arrival, i, name in answers:
        _, device_name, k = sockets[i]
        stretch = stretches[k]
        elapsed = arrival - t0
        if elapsed < 5.0 or elapsed > seconds:
            continue
        when = stretch.start + elapsed
        near = np.abs(stretch.label_times - when) <= slack
        if not near.any():
            continue  # past the gesture file's last row: a short performance has no label
        device = device_name.split("-", 1)[1]
        truth = stretch.labels[device][near]
        gesture = NAMES.index(name)
        hit = bool(np.any(truth == gesture))
        scored += 1
        agreed += hit
        tally = per_device.setdefault(device_name, [0, 0])
        tally[0] += 1
        tally[1] += hit
    offline = offline_agreement(stretches, seconds, slack)
    return {
        "performances": names,
        "devices": len(sockets),
        "seconds": seconds,
        "slack": slack,
        "touches": len(events),
        "touch_late_ms_p99": float(np.percentile(late, 99) * 1000) if late else 0.0,
        "answers_scored": scored,
        "agreement": agreed / scored if scored else float("nan"),
        "offline_agreement": offline,
        "per_device": per_device,
        "bridge_warnings": [ln for ln in err.splitlines() if "warning" in ln][:5],
    }


def offline_agreement(stretches: list[Stretch], seconds: float, slack: float) -> float:
    """The same classifier on the same stretches, offline: windows ending exactly at the
    gesture file's rows (5 s into the stretch and later), scored with the same slack."""
    from gesture_rnn import touch_classifier
    from gesture_rnn.touch_features import features_at

    model = touch_classifier.load()
    scored = agreed = 0
    for stretch in stretches:
        events = np.array(stretch.events, dtype=np.float64).reshape(-1, 5)
        rows = np.flatnonzero(
            (stretch.label_times >= stretch.start + 5)
            & (stretch.label_times <= stretch.start + seconds)
        )
        ends = stretch.label_times[rows] - stretch.start
        for d, device in enumerate(stretch.devices):
            mine = events[events[:, 1] == d]
            predicted = model.predict(features_at(mine[:, 0], *mine[:, 2:].T, ends))
            for row, gesture in zip(rows, predicted, strict=True):
                near = np.abs(stretch.label_times - stretch.label_times[row]) <= slack
                scored += 1
                agreed += bool(np.any(stretch.labels[device][near] == gesture))
    return agreed / scored if scored else float("nan")


def _receive(sockets, answers, stop) -> None:
    by_fileno = {s.fileno(): i for i, (s, _, _) in enumerate(sockets)}
    while not stop.is_set():
        ready, _, _ = select.select([s for s, _, _ in sockets], [], [], 0.1)
        for s in ready:
            i = by_fileno[s.fileno()]
            answer = _gesture_answer(s.recv(65536))
            if answer is not None and answer[0] == sockets[i][1]:  # its own gesture
                answers.append((time.monotonic(), i, answer[1]))


def held_out() -> list[str]:
    from gesture_rnn import touch_classifier

    return list(touch_classifier.load().metadata["training"]["held_out_performances"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "metatone-analysis")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--slack", type=float, default=1.0)
    parser.add_argument(
        "--at-once", type=int, default=3, help="performances per bridge (at most 16 devices)"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N held-out only")
    args = parser.parse_args()
    names = held_out()[: args.limit]
    results = []
    for i in range(0, len(names), args.at_once):
        result = replay(args.data, names[i : i + args.at_once], args.seconds, args.slack)
        print(json.dumps(result), flush=True)
        results.append(result)
    scored = sum(r["answers_scored"] for r in results)
    agreed = sum(r["agreement"] * r["answers_scored"] for r in results)
    offline = [r["offline_agreement"] for r in results]
    print(
        json.dumps(
            {
                "performances": len(names),
                "devices": sum(r["devices"] for r in results),
                "answers_scored": scored,
                "agreement": agreed / scored,
                "offline_agreement_per_batch": offline,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
