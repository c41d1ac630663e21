"""Benchmark: the corpus index (build time, file size, load time, query latency) against
the straightforward way without an index (pandas: read the touch CSVs, filter per query).

Four measurements, each beside its goal from the corpus-index issue:

1. build: ``gesture-rnn corpus build --data DIR --out FILE --quiet`` as a child process,
   pinned to 2 cores, wall and CPU time and peak memory (goal: under 60 s). Beside it,
   the reference floor: reading every indexed touch file with pandas and parsing its
   times, in this process (work any build has to do).
2. size: the index file against the gzipped touch files it was built from (goal: under
   half).
3. load: ``corpus_index.load(FILE)`` in this process, best and median of ``--repeat``
   (file in the page cache, h5py imported), and once in a fresh interpreter with its
   imports (goal: under 0.5 s). Reference: the pandas read of 1. (what a bridge without
   an index would do at startup).
4. query: latency of the bridge's call, once per tick per virtual player, over
   ``--queries`` calls with gestures 1-8 in turn: ``index.query(g, 1.0, rng)`` and
   ``player.next(g, 1.0)``, and variants with ``near``, ``speed`` and longer durations
   (goal: p99 under 50 us for the tick call). Reference: pandas, with every touch file
   already in memory as a DataFrame (times in seconds) and a table of the labelled
   seconds that have touches: pick a random second of the gesture, then
   ``df[(df.device_id == player) & (df.t >= s) & (df.t < s + 1)]`` and its columns as
   arrays, the way the original's random 5-second snippets were cut from a data frame
   (our reconstruction, not its code).

Run from the repository root::

    .venv/bin/python bench/corpus.py

``--label-lags`` instead prints the evidence for the default label lag (see
docs/corpus-index.md, "Labelling"): for each lag L, how much of the variance of simple
per-slot touch statistics the label of row j+L explains (eta squared), computed from an
index built with the default lag (row j+L is the stored label of slot j+L-3).

The machine's cores may be shared: the script prints the load average before and after,
and CPU time beside wall time where it matters.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(
    os.environ.get("GESTURE_RNN_CORPUS", REPO.parent / "shared" / "metatone-analysis")
)
GOALS = {"build_s": 60.0, "size_ratio": 0.5, "load_s": 0.5, "query_p99_us": 50.0}


def pin_two_cores() -> list[int]:
    """Run on (at most) two cores, as the goal says; children inherit it."""
    cores = sorted(os.sched_getaffinity(0))[:2]
    os.sched_setaffinity(0, cores)
    return cores


def build(data: Path, out: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gesture_rnn",
            "corpus",
            "build",
            "--data",
            str(data),
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"build failed:\n{result.stderr}")
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_mib": after.ru_maxrss / 1024,  # the largest child so far: the build
        "stdout": result.stdout.strip(),
    }


def read_touch_files(data: Path, names) -> tuple[dict[str, pd.DataFrame], float, float]:
    """The reference: every touch file as a DataFrame with times in seconds."""
    from gesture_rnn.corpus import touch_file

    frames = {}
    start, cpu = time.perf_counter(), time.process_time()
    for name in names:
        frame = pd.read_csv(touch_file(data, name))
        times = pd.to_datetime(frame["time"], format="ISO8601")
        frame["t"] = (times - times.iloc[0]).dt.total_seconds()
        frames[name] = frame
    return frames, time.perf_counter() - start, time.process_time() - cpu


def fresh_load(path: Path) -> float:
    code = (
        "import time; t = time.perf_counter(); import corpus_index; "
        f"corpus_index.load({str(path)!r}); print(time.perf_counter() - t)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(result.stdout.strip())


def latencies(call, n: int) -> np.ndarray:
    out = np.empty(n)
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        call(i)
        out[i] = clock() - start
    return out / 1e3  # microseconds


def reference_query_setup(index, frames):
    """Labelled seconds with touches, per gesture, as (performance, player, start)."""
    by_gesture: dict[int, list[tuple[str, str, float]]] = {g: [] for g in range(1, 9)}
    candidates = np.flatnonzero((index.labels >= 1) & (np.diff(index.second_start) > 0))
    for second in candidates:
        stream = int(index.second_stream[second])
        name, player = index.stream_info(stream)
        start = float(index.t[index.second_start[second]] // 1)
        by_gesture[int(index.labels[second])].append((name, player, start))
    # The reference's times count from the first touch, ours from the first gesture row.
    offsets = {}
    for name, frame in frames.items():
        first = pd.to_datetime(frame["time"].iloc[0], format="ISO8601")
        zero = pd.Timestamp(index.manifest["time_zero"][list(index.manifest["name"]).index(name)])
        offsets[name] = (first - zero).total_seconds()
    return by_gesture, offsets


def reference_query(frames, by_gesture, offsets, g: int, rng) -> tuple[np.ndarray, ...]:
    name, player, start = by_gesture[g][int(rng.random() * len(by_gesture[g]))]
    frame = frames[name]
    s = start - offsets[name]
    rows = frame[(frame["device_id"] == player) & (frame["t"] >= s) & (frame["t"] < s + 1)]
    return (
        rows["t"].to_numpy() - s,
        rows["x_pos"].to_numpy() / 1024,
        rows["y_pos"].to_numpy() / 768,
        rows["velocity"].to_numpy(),
    )


def stats(values: np.ndarray) -> str:
    p50, p99 = np.percentile(values, [50, 99])
    return f"{p50:9.1f} {p99:9.1f} {values.max():10.0f}"


def label_lags(index) -> None:
    """Eta squared of per-slot statistics under the label of row j + lag, lags 0-6."""
    counts = np.diff(index.second_start)
    second = np.repeat(np.arange(len(counts)), counts)
    x, y = index.raw_points(0, len(index.t))

    def per_second(values):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(second, weights=values, minlength=len(counts)) / counts

    spread = np.sqrt(np.maximum(per_second(x * x) - per_second(x) ** 2, 0)) + np.sqrt(
        np.maximum(per_second(y * y) - per_second(y) ** 2, 0)
    )
    features = {
        "log touch count": np.log1p(counts),
        "log mean velocity": np.log1p(per_second(index.velocity)),
        "share of touch-downs": per_second((index.velocity == 0).astype(float)),
        "log spread": np.log1p(spread),
    }
    print(f"{'lag':>4} " + " ".join(f"{name:>21}" for name in features) + f" {'slots':>8}")
    for lag in range(7):
        shift = lag - index.label_lag
        source = np.arange(len(counts)) + shift
        ok = (source >= 0) & (source < len(counts))
        ok[ok] &= index.second_stream[source[ok]] == index.second_stream[ok]
        labels = np.full(len(counts), -1)
        labels[ok] = index.labels[source[ok]]
        keep = (labels >= 0) & (counts > 0)
        row = []
        for values in features.values():
            v, g = values[keep], labels[keep]
            means = np.bincount(g, weights=v, minlength=9) / np.maximum(
                np.bincount(g, minlength=9), 1
            )
            between = np.sum(np.bincount(g, minlength=9) * (means - v.mean()) ** 2) / len(v)
            row.append(between / v.var())
        print(f"{lag:>4} " + " ".join(f"{r:>21.3f}" for r in row) + f" {keep.sum():>8}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--reference-queries", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--label-lags", action="store_true", help="print the label-lag evidence instead"
    )
    args = parser.parse_args(argv)

    import corpus_index

    if args.label_lags:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "touches.h5"
            build(args.data, path)
            label_lags(corpus_index.load(path))
        return

    cores = pin_two_cores()
    print(f"corpus {args.data}; pinned to cores {cores}; load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "touches.h5"

        # 1. build
        print("building ...", flush=True)
        built = build(args.data, path)
        index = corpus_index.load(path)  # warm: h5py imported, file in the page cache
        names = [str(n) for n in index.manifest["name"]]
        print("reading the touch files with pandas (reference) ...", flush=True)
        frames, read_wall, read_cpu = read_touch_files(args.data, names)

        # 2. size
        from gesture_rnn.corpus import touch_file

        gz = sum(touch_file(args.data, n).stat().st_size for n in names)
        size = path.stat().st_size

        # 3. load
        walls, cpus = [], []
        for _ in range(args.repeat):
            start, cpu = time.perf_counter(), time.process_time()
            index = corpus_index.load(path)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        fresh = fresh_load(path)

        # 4. query
        print(f"querying ({args.queries:,} calls a variant) ...", flush=True)
        rng = np.random.default_rng(0)
        player = index.player(seed=0)
        variants = {
            "query(g, 1.0, rng)": lambda i: index.query(1 + i % 8, 1.0, rng),
            "player.next(g, 1.0)": lambda i: player.next(1 + (i // 7) % 8, 1.0),
            "query(g, 1.0, near=)": lambda i: index.query(
                1 + i % 8, 1.0, rng, near=((i % 10) / 10, (i % 7) / 7)
            ),
            "query(g, 1.0, speed=)": lambda i: index.query(1 + i % 8, 1.0, rng, speed=i % 40),
            "query(g, 1.0, near=, speed=)": lambda i: index.query(
                1 + i % 8, 1.0, rng, near=((i % 10) / 10, 0.5), speed=i % 40
            ),
            "query(g, 0.25, rng)": lambda i: index.query(1 + i % 8, 0.25, rng),
            "query(g, 5.0, rng)": lambda i: index.query(1 + i % 8, 5.0, rng),
        }
        results = {}
        for label, call in variants.items():
            call(0)
            results[label] = latencies(call, args.queries)
        by_gesture, offsets = reference_query_setup(index, frames)
        ref_rng = np.random.default_rng(0)
        reference = latencies(
            lambda i: reference_query(frames, by_gesture, offsets, 1 + i % 8, ref_rng),
            args.reference_queries,
        )
        print(f"load average after: {os.getloadavg()}")

    tick = results["query(g, 1.0, rng)"]
    p99 = float(np.percentile(tick, 99))
    best_load = min(walls)
    print()
    print(f"{built['stdout']}")
    print()
    print(f"{'':34} {'index':>10} {'reference':>10} {'ref/index':>10}  goal")
    print(
        f"{'build, wall s':34} {built['wall']:10.2f} {read_wall:10.2f} "
        f"{read_wall / built['wall']:9.2f}x  < {GOALS['build_s']:.0f} s: "
        f"{'met' if built['wall'] < GOALS['build_s'] else 'NOT met'}"
    )
    cpu_ratio = read_cpu / built["cpu"]
    print(f"{'build, CPU s':34} {built['cpu']:10.2f} {read_cpu:10.2f} {cpu_ratio:9.2f}x")
    print(f"{'build, peak memory MiB':34} {built['peak_mib']:10.0f}")
    print(
        f"{'file size MB (index / touch .gz)':34} {size / 1e6:10.2f} {gz / 1e6:10.2f} "
        f"{gz / size:9.2f}x  < half: {'met' if size < GOALS['size_ratio'] * gz else 'NOT met'}"
        f" ({size / gz:.2f})"
    )
    print(
        f"{'load, wall s (best of ' + str(args.repeat) + ')':34} {best_load:10.3f} "
        f"{read_wall:10.2f} {read_wall / best_load:9.0f}x  < {GOALS['load_s']} s: "
        f"{'met' if best_load < GOALS['load_s'] else 'NOT met'}"
    )
    print(f"{'load, wall s (median)':34} {np.median(walls):10.3f}")
    print(f"{'load, CPU s (median)':34} {np.median(cpus):10.3f} {read_cpu:10.2f}")
    print(f"{'load, fresh interpreter + imports':34} {fresh:10.3f}")
    ref_p99 = float(np.percentile(reference, 99))
    print(
        f"{'query p99 us (tick: 1 s)':34} {p99:10.1f} {ref_p99:10.0f} {ref_p99 / p99:9.0f}x  "
        f"< {GOALS['query_p99_us']:.0f} us: {'met' if p99 < GOALS['query_p99_us'] else 'NOT met'}"
    )
    print()
    print(f"query latency, us ({args.queries:,} calls each; reference {args.reference_queries:,})")
    print(f"{'':34} {'p50':>9} {'p99':>9} {'max':>10}")
    for label, values in results.items():
        print(f"{'index ' + label:34} {stats(values)}")
    print(f"{'reference: pandas filter, 1 s':34} {stats(reference)}")


if __name__ == "__main__":
    main()
