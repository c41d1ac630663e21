"""``gesture-rnn corpus ...``: get and inspect the Metatone corpus."""

from __future__ import annotations

import argparse
import json

from .common import (
    add_data_argument,
    add_selection_arguments,
    path_arg,
    positive_int,
    selection,
    show_progress,
)


def cmd_download(args) -> None:
    from ..download import download_corpus

    root = download_corpus(args.to, url=args.url, force=args.force, progress=show_progress(args))
    print(f"corpus ready in {root}")


def cmd_summary(args) -> None:
    from ..corpus import load_corpus, summarize
    from ..gestures import GESTURES

    chosen = selection(args, default_type=None, performers=args.performers)
    summary = summarize(load_corpus(args.data, chosen))
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{summary['performances']} performances, {summary['seconds']} seconds")
    for title, key in (
        ("ensemble size", "by_ensemble_size"),
        ("type", "by_type"),
        ("context", "by_context"),
    ):
        print(f"by {title}:")
        for value, n in summary[key].items():
            print(f"  {value:<16} {n:>5}")
    total = summary["player_seconds"] or 1
    print(f"gestures ({summary['player_seconds']} player-seconds):")
    for g in GESTURES:
        n = summary["gestures"][g.name]
        print(f"  {g.code} {g.name:<4} {g.description:<26} {n:>7}  {100 * n / total:5.1f}%")


def register(commands) -> argparse._SubParsersAction:
    """Add ``corpus download`` and ``corpus summary``; return the corpus actions, to which
    the program at the top adds the corpus index's (build, info, plot)."""
    corpus = commands.add_parser("corpus", help="get and inspect the Metatone corpus")
    actions = corpus.add_subparsers(dest="corpus_command", metavar="ACTION")
    actions.required = True

    download = actions.add_parser("download", help="download the corpus from its public repository")
    download.add_argument("--to", required=True, type=path_arg, help="folder to unpack it into")
    download.add_argument(
        "--url", default=None, help="archive URL or local file (default: the public repository)"
    )
    download.add_argument(
        "--force", action="store_true", help="unpack even if the folder already holds a corpus"
    )
    download.add_argument(
        "--quiet", action="store_true", help="no progress bar (none off a terminal either)"
    )
    download.set_defaults(func=cmd_download)

    summary = actions.add_parser(
        "summary", help="performances by size, type and context; how often each gesture occurs"
    )
    add_data_argument(summary)
    summary.add_argument("--performers", type=positive_int, help="only this many performers")
    add_selection_arguments(summary, default_type=None)
    summary.add_argument("--json", action="store_true", help="print JSON")
    summary.set_defaults(func=cmd_summary)
    return actions
