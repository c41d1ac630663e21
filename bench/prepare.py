"""Benchmark: every training window of the quartet set, the original nested loop against ours.

The reference is the plain nested loop of the original Gesture-RNN (Python lists, one
``np.array`` at the end); ours is ``build_sequences(...).arrays(framing)``. Each side runs
in its own child process (this script with ``--child``), so each has a clean memory
high-water mark; the parent checks that both give identical X and y and prints the
ratios. Loading the CSV files is excluded from both timings.

Run from the repository root::

    .venv/bin/python bench/prepare.py --steps 30 --framing last
    .venv/bin/python bench/prepare.py --steps 120 --framing all

Peak memory is ``ru_maxrss`` (the process's resident-set high-water mark) after the work
minus ``ru_maxrss`` just before it (after imports, loading the corpus and ``gc.collect()``).
Linux carries a parent's high-water mark into a child across exec, so the parent holds no
large arrays until both children are done. See BENCHMARKS.md for the recorded numbers.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import permutations
from pathlib import Path

import numpy as np

from gesture_rnn.cli.common import positive_int
from gesture_rnn.corpus import CorpusError, load_corpus, read_metadata
from gesture_rnn.prepare import FRAMINGS, build_sequences, selection_for

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(
    os.environ.get("GESTURE_RNN_CORPUS", REPO.parent / "shared" / "metatone-analysis")
)
ENSEMBLE = 4
SIDES = ("reference", "ours")


# --- the reference: the original nested loop, written plainly ---------------------------


def encode(gs) -> int:
    return sum(g * 9**i for i, g in enumerate(gs))


def reference_windows(performances, steps: int, framing: str) -> tuple[np.ndarray, np.ndarray]:
    """Every window of every quartet performance (all 4 players in every role)."""
    X, Y = [], []
    for performance in performances:
        gestures = performance.gestures
        seconds, players = gestures.shape
        # The columns of each ordering, as lists: lead in column order, then the
        # others in itertools.permutations order.
        roles = []
        for j in range(players):
            rest = [c for c in range(players) if c != j]
            for order in permutations(rest):
                roles.append((gestures[:, j].tolist(), gestures[:, list(order)].tolist()))
        for s in range(seconds - steps - 1):
            for lead, others in roles:
                X.append([encode((lead[s + k + 1], *others[s + k])) for k in range(steps)])
                if framing == "last":
                    Y.append(encode(others[s + steps]))
                else:
                    Y.append([encode(others[s + k + 1]) for k in range(steps)])
    return np.array(X, dtype=np.int16), np.array(Y, dtype=np.int16)


# --- ours ---------------------------------------------------------------------------------


def our_windows(performances, steps: int, framing: str) -> tuple[np.ndarray, np.ndarray]:
    return build_sequences(performances, ENSEMBLE, steps).arrays(framing)


# --- child: one side, timed and measured --------------------------------------------------


def max_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def current_rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def run_child(args: argparse.Namespace) -> None:
    """Load, then time one side and measure its peak; save X, y; print one JSON line."""
    # load_corpus warns about the quartets without a gesture file; once per child is noise.
    logging.basicConfig(level=logging.ERROR)
    started = time.perf_counter()
    performances = load_corpus(args.data, selection_for(ENSEMBLE))
    load_s = time.perf_counter() - started
    work = reference_windows if args.child == "reference" else our_windows
    repeat = 1 if args.child == "reference" else args.repeat
    gc.collect()
    baseline = max_rss_bytes()
    rss = current_rss_bytes()
    wall, cpu = [], []
    result = None
    for _ in range(repeat):
        result = None  # free the previous run's arrays first, so runs do not stack up
        w0, c0 = time.perf_counter(), time.process_time()
        result = work(performances, args.steps, args.framing)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    peak = max_rss_bytes() - baseline
    X, y = result
    np.save(Path(args.out) / "X.npy", X)
    np.save(Path(args.out) / "y.npy", y)
    report = {
        "performances": len(performances),
        "load_s": load_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_bytes": peak,
        # If loading left the high-water mark above the current RSS, growth below that
        # gap is not seen; the parent reports it when it matters.
        "baseline_gap_bytes": None if rss is None else max(0, baseline - rss),
    }
    print(json.dumps(report))


# --- parent: run both sides, compare, print the table -------------------------------------


def run_side(side: str, args: argparse.Namespace, out: Path) -> dict:
    out.mkdir()
    command = [sys.executable, str(Path(__file__).resolve()), "--child", side, "--out", str(out)]
    command += ["--data", str(args.data), "--steps", str(args.steps)]
    command += ["--framing", args.framing, "--repeat", str(args.repeat)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["(no output)"]
        raise SystemExit(f"error: the {side} child failed: {lines[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mib(n: float) -> str:
    return f"{n / 2**20:.1f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:,.0f}x" if b > 0 and a / b >= 10 else (f"{a / b:.2f}x" if b > 0 else "n/a")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="corpus folder")
    parser.add_argument("--steps", type=positive_int, default=30, help="window length (30)")
    parser.add_argument("--framing", choices=FRAMINGS, default="last", help="targets (last)")
    parser.add_argument("--repeat", type=positive_int, default=5, help="runs of ours (5)")
    parser.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args)
        return
    try:
        read_metadata(args.data)  # a clear one-line error before any child starts
    except CorpusError as error:
        raise SystemExit(f"error: {error}") from None

    print(f"corpus {args.data}; quartets, steps {args.steps}, framing {args.framing}")
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        reports = {}
        for side in SIDES:
            print(f"running {side} ...", flush=True)
            reports[side] = run_side(side, args, Path(tmp) / side)
        # Only now read the outputs: a child starts with its parent's high-water mark
        # (Linux keeps ru_maxrss across exec), so the parent must stay small until then.
        for side in SIDES:
            for name in ("X", "y"):
                reports[side][name] = np.load(Path(tmp) / side / f"{name}.npy", allow_pickle=False)
    ref, ours = reports["reference"], reports["ours"]
    if len(ours["X"]) == 0:
        raise SystemExit(
            f"error: --steps {args.steps} leaves no window: every quartet is shorter "
            f"than {args.steps + 2} seconds"
        )
    same = (
        ref["X"].dtype == ours["X"].dtype == np.int16
        and np.array_equal(ref["X"], ours["X"])
        and np.array_equal(ref["y"], ours["y"])
    )
    print_table(args, ref, ours, same)
    if not same:
        raise SystemExit("error: the outputs differ (np.array_equal on X or y is False)")


def print_table(args, ref: dict, ours: dict, same: bool) -> None:
    wall_best, wall_median = min(ours["wall_s"]), statistics.median(ours["wall_s"])
    cpu_best = min(ours["cpu_s"])
    print()
    print(
        f"{ours['performances']} quartets (loaded in {ours['load_s']:.2f} s, not timed), "
        f"{len(ours['X']):,} windows: X {ours['X'].shape}, y {ours['y'].shape}, int16"
    )
    print(f"outputs identical (np.array_equal on X and y): {'yes' if same else 'NO'}")
    print()
    print(f"{'':20}{'reference':>12}{'ours':>12}{'ref / ours':>12}")
    rows = [
        ("wall time, s", ref["wall_s"][0], wall_best, f"{{:{12}.3f}}"),
        ("CPU time, s", ref["cpu_s"][0], cpu_best, f"{{:{12}.3f}}"),
    ]
    for label, a, b, fmt in rows:
        print(f"{label:20}{fmt.format(a)}{fmt.format(b)}{ratio(a, b):>12}")
    a, b = ref["peak_bytes"], ours["peak_bytes"]
    print(f"{'peak memory, MiB':20}{mib(a):>12}{mib(b):>12}{ratio(a, b):>12}")
    print()
    runs = len(ours["wall_s"])
    print(
        f"ours: best of {runs} runs; median wall {wall_median:.3f} s "
        f"(ratio at the median {ratio(ref['wall_s'][0], wall_median)}); reference: 1 run"
    )
    for side, report in (("reference", ref), ("ours", ours)):
        gap = report["baseline_gap_bytes"]
        if gap and gap > 2**20:
            print(f"note: {side} baseline high-water {mib(gap)} MiB above its RSS; peak may be low")
    faster = ref["wall_s"][0] / wall_best >= 100
    smaller = b < a
    verdict = "met" if faster and smaller else "NOT met"
    print(f"goal (>= 100x faster and less peak memory): {verdict}")


if __name__ == "__main__":
    main()
