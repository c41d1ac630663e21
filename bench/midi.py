"""The bridge's MIDI on a JACK server of our own: ``python bench/midi.py [--trials 100]``.

1. What reading MIDI inputs every millisecond costs: the CPU time of a bridge with a MIDI
   input and of one without, each for ``--seconds`` at ``--period 0.05`` (the
   internal clock), from ``/proc/PID/stat``.
2. Stopping the bridge while MIDI flows, ``--trials`` times. Each trial starts a bridge
   on a DAW's MIDI clock at 1 kHz (tests/midi_peer.py, dummy backend), waits until it
   plays, sends SIGINT, SIGTERM or SIGHUP (in turn; every other round the signal twice,
   5 ms apart), and checks what tests/test_bridge_stop.py checks: exit 0, all notes off,
   the stats written, every tick recorded. Prints one line per failed trial and a
   summary, with the time from the (first) signal to the end of the process.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.bridge_process import BridgeProcess  # noqa: E402
from tests.jack import JackServer  # noqa: E402
from tests.models import tiny_model_file  # noqa: E402
from tests.test_bridge_stop import (  # noqa: E402
    channels_off,
    sounding_notes,
    stop_bridge_on_midi_clock,
)

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def poll_cost(jack, model, seconds: float) -> None:
    """CPU time and tick lateness of an idle bridge with and without a MIDI input
    (--virtual-midi)."""
    for label, extra in (("without MIDI", []), ("with a MIDI input", ["--virtual-midi"])):
        stats = Path(tempfile.mkdtemp()) / "stats.json"
        bridge = BridgeProcess(
            "--model", model, "--period", "0.05", "--quiet", "--stats", stats, *extra,
            env=jack.env,
        )  # fmt: skip
        try:
            time.sleep(1.0)  # past the start-up
            before, began = cpu_seconds(bridge.proc.pid), time.monotonic()
            time.sleep(seconds)
            used = cpu_seconds(bridge.proc.pid) - before
            took = time.monotonic() - began
        finally:
            bridge.stop()
        late = json.loads(stats.read_text())["tick_late"]
        print(
            f"{label}: {used:.2f} s CPU in {took:.1f} s ({100 * used / took:.1f}% of a core); "
            f"tick_late p50 {late['p50_ms']:.3f} ms, p99 {late['p99_ms']:.3f} ms"
        )


def trial(jack, model, folder: Path, sig: int, twice: bool) -> tuple[str | None, float]:
    """One stop; (what went wrong or None, seconds from the signal to the exit)."""
    take, stats = folder / "take.csv", folder / "stats.json"
    for path in (take, stats):
        path.unlink(missing_ok=True)
    signals = [sig, sig] if twice else [sig]
    stopped = stop_bridge_on_midi_clock(jack, model, take, stats, signals, gap=0.005)
    code, err, took, heard = stopped.code, stopped.err, stopped.seconds, stopped.heard
    if code is None:
        return err, took
    if code != 0:
        return f"exit {code}: {err.strip().splitlines()[-1:] or ''}", took
    if channels_off(heard) != {1, 2, 3}:
        return f"all-notes-off only on channels {sorted(channels_off(heard))}", took
    if sounding_notes(heard):
        return f"notes left sounding: {sounding_notes(heard)}", took
    if not stats.exists():
        return "no stats", took
    rows = take.read_text().splitlines()
    if len(rows) - 1 != json.loads(stats.read_text())["ticks"]:
        return "recording incomplete", took
    return None, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    jack = JackServer()
    failures, times = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            model = tiny_model_file(folder / "tiny.h5")
            poll_cost(jack, model, args.seconds)
            for n in range(args.trials):
                sig, twice = SIGNALS[n % 3], (n // 3) % 2 == 1
                what, took = trial(jack, model, folder, sig, twice)
                times.append(took)
                name = signal.Signals(sig).name + (" twice" if twice else "")
                if what is not None or took > 1.0:
                    failures.append(n)
                    print(f"trial {n} ({name}): {what or 'clean'}, {took:.3f} s", flush=True)
    finally:
        jack.close()
    times.sort()
    if not times:
        return
    print(
        f"{args.trials - len(failures)} of {args.trials} stops clean within 1 s; "
        f"signal to exit: median {times[len(times) // 2]:.3f} s, max {times[-1]:.3f} s"
    )


if __name__ == "__main__":
    main()
