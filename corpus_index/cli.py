"""``gesture-rnn corpus build | info | plot``: make and inspect a corpus index.

Registered under ``gesture-rnn corpus`` by the program at the top, ``gesture_rnn_cli``.
Imports stay light: the library (pandas, h5py, matplotlib) is imported inside the commands.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gesture_rnn.cli.common import (
    CommandError,
    path_arg,
    positive_int,
    seed_arg,
    show_progress,
)


def cmd_build(args) -> None:
    from .build import BuildConfig, build_index

    config = BuildConfig(label_lag=args.label_lag)
    report = build_index(
        args.data, args.out, config, progress=show_progress(args), force=args.force
    )
    size = report.path.stat().st_size / 1e6
    skipped = f"; {len(report.skipped)} skipped (see the warnings)" if report.skipped else ""
    print(
        f"wrote {report.path} ({size:.1f} MB): {report.events} touch events of "
        f"{report.streams} performer streams in {report.performances} performances{skipped}"
    )


def cmd_info(args) -> None:
    if args.round_trip:
        cmd_round_trip(args)
        return
    if args.procedural or args.file is None:
        raise CommandError("give an index FILE (--procedural goes with --round-trip)")
    from gesture_rnn.gestures import GESTURES

    from .index import load

    info = load(args.file).info()
    if args.json:
        print(json.dumps(info, indent=2))
        return
    print(
        f"{args.file}: {info['performances']} performances, {info['performers']} performers "
        f"({info['streams']} performer streams), {info['events']} touch events"
    )
    print(
        f"each one-second slot has the gesture of the row {info['label_lag']} s later "
        "(see docs/corpus-index.md)"
    )
    print(f"  {'gesture':<32} {'seconds':>8} {'w/ touches':>10} {'events':>9} {'ev/s':>6}")
    for g in GESTURES:
        row = info["gestures"][g.name]
        rate = row["events"] / row["seconds_with_touches"] if row["seconds_with_touches"] else 0
        print(
            f"  {g.code} {g.name:<4} {g.description:<25} {row['seconds']:>8} "
            f"{row['seconds_with_touches']:>10} {row['events']:>9} {rate:>6.1f}"
        )
    print(f"events in seconds no gesture row covers: {info['unlabelled_events']}")
    if info["skipped"]:
        print(f"left out when built: {len(info['skipped'])} performances")
        for item in info["skipped"]:
            print(f"  {item['name']}: {item['reason']}")


def cmd_round_trip(args) -> None:
    from gesture_rnn import touch_classifier
    from gesture_rnn.gestures import GESTURE_NAMES, GESTURES

    from . import open as open_index
    from .roundtrip import TICKS, round_trip

    if args.file is not None and args.procedural:
        raise CommandError("give an index FILE or --procedural (the fallback), not both")
    classifier = touch_classifier.load(args.classifier)  # a bad file: one line, exit 2
    source = open_index(args.file)
    report = round_trip(source, classifier, trials=args.trials, seed=args.seed)
    result = report.as_dict()
    result["source"] = str(args.file) if args.file else "procedural"
    result["classifier"] = str(args.classifier or touch_classifier.BUNDLED)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    name = args.file or "the procedural fallback"
    print(
        f"{name}: each gesture played {args.trials} times for {TICKS} one-second ticks "
        f"by a new player (seed {args.seed}), heard by the touch classifier"
    )
    print(f"  {'gesture':<32} {'heard right':>11}  most often heard as")
    for g in GESTURES:
        other = report.heard_as(g.code)
        wrong = "-" if other is None else GESTURE_NAMES[other]
        print(
            f"  {g.code} {g.name:<4} {g.description:<25} {report.accuracy[g.code]:>11.2f}  {wrong}"
        )
    print(f"mean over the nine gestures: {report.mean:.2f}")


def cmd_plot(args) -> None:
    from gesture_rnn.files import check_new_output
    from gesture_rnn.gestures import GestureError, parse_gesture

    from .plot import plot_gestures

    if args.file is None and not args.procedural:
        raise CommandError("give an index FILE or --procedural (the fallback)")
    if args.file is not None and args.procedural:
        raise CommandError("give an index FILE or --procedural (the fallback), not both")
    try:
        gestures = [parse_gesture(g) for g in args.gesture] if args.gesture else None
    except GestureError as error:
        raise CommandError(f"--gesture: {error}") from None
    # The fallback's plot has its own default name, so that both can be drawn to compare.
    stem = "procedural" if args.procedural else "corpus"
    out = args.out or Path(f"{stem}-{'-'.join(args.gesture) if args.gesture else 'gestures'}.png")
    check_new_output(out, args.force, ".png")
    if args.procedural:
        from .procedural import ProceduralIndex

        index, source = ProceduralIndex(), "the procedural fallback"
    else:
        from .index import load

        index = load(args.file)
        source = str(args.file)
    title = f"{source}: {args.sequences} sequences of {args.duration:g} s"
    path = plot_gestures(
        index, out, gestures, args.sequences, args.duration, args.seed, title, args.force
    )
    print(f"wrote {path}")


def _duration(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"expected 0-60 seconds, got {text}")
    return value


def register(actions) -> None:
    build = actions.add_parser(
        "build",
        help="index every performer's touches by gesture (the touches the bridge plays)",
        description="Read every performance with a gesture file and a touch file and write "
        "a corpus index (HDF5). Damaged or missing files are skipped with a warning.",
    )
    build.add_argument(
        "--data", required=True, type=path_arg, help="corpus folder in the metatone-analysis layout"
    )
    build.add_argument("--out", required=True, type=path_arg, help="the index file to write (.h5)")
    build.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    build.add_argument(
        "--quiet", action="store_true", help="no progress bar (none off a terminal either)"
    )
    build.add_argument(
        "--label-lag",
        type=int,
        choices=range(1, 6),
        default=3,
        metavar="{1..5}",
        help="slot j gets the gesture of row j+LAG; 3 (default) centres the 5 s window on it",
    )
    build.set_defaults(func=cmd_build)

    info = actions.add_parser(
        "info",
        help="what an index holds: performances, performers, events and seconds",
        description="What an index holds; with --round-trip, how often the touch classifier "
        "hears each gesture's touches as that gesture (see docs/corpus-index.md).",
    )
    info.add_argument("file", type=path_arg, nargs="?", metavar="FILE", help="a corpus index file")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument(
        "--round-trip",
        action="store_true",
        help="play each gesture for 5 s and classify the touches (FILE, or the fallback)",
    )
    info.add_argument(
        "--procedural", action="store_true", help="the round trip of the procedural fallback"
    )
    info.add_argument(
        "--trials", type=positive_int, default=60, help="round trips per gesture (default 60)"
    )
    info.add_argument("--seed", type=seed_arg, default=0, help="random seed (default 0)")
    info.add_argument(
        "--classifier",
        type=path_arg,
        default=None,
        metavar="FILE",
        help="touch classifier file (default: the bundled one)",
    )
    info.set_defaults(func=cmd_info)

    plot = actions.add_parser("plot", help="draw a few touch sequences per gesture as trails (PNG)")
    plot.add_argument("file", type=path_arg, nargs="?", metavar="FILE", help="a corpus index file")
    plot.add_argument(
        "--procedural", action="store_true", help="plot the procedural fallback instead"
    )
    plot.add_argument(
        "--gesture",
        action="append",
        metavar="G",
        help="gesture to draw (name or 0-8), repeatable; default: one panel per gesture",
    )
    plot.add_argument(
        "--out",
        type=path_arg,
        help="PNG to write (default: corpus-<gesture>.png, or procedural-<gesture>.png)",
    )
    plot.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    plot.add_argument(
        "--sequences", type=positive_int, default=4, help="sequences per panel (default 4)"
    )
    plot.add_argument(
        "--duration", type=_duration, default=3.0, help="seconds per sequence (default 3)"
    )
    plot.add_argument("--seed", type=seed_arg, default=0, help="random seed (default 0)")
    plot.set_defaults(func=cmd_plot)
