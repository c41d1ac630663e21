"""Argument helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..config import ENSEMBLES

log = logging.getLogger(__name__)

CORPUS_HELP = "corpus folder in the metatone-analysis layout (see: gesture-rnn corpus download)"


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def path_arg(text: str) -> Path:
    """A file or folder option (``~`` expanded). An empty one is refused: as a Path it would
    be ``.``, the current folder, and the error would name a folder nobody gave."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text).expanduser()


def model_arg(text: str) -> Path:
    """A model option: a bundled model's name (quartet, trio, duet) or a file, not empty."""
    from ..bundled import model_path

    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return model_path(text)


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected {least} or more, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def seed_arg(text: str) -> int:
    """A random seed: a whole number, 0 or more (numpy's generators take no negative seed)."""
    return _whole_number(text, 0)


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=path_arg, help=CORPUS_HELP)


def add_ensemble_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ensemble",
        type=int,
        choices=ENSEMBLES,
        default=4,
        help="players in the ensemble, lead included: 4 quartet (default), 3 trio, 2 duet",
    )


def add_selection_arguments(parser: argparse.ArgumentParser, default_type: str | None) -> None:
    """--type/--context/--include-demonstrations, read back by :func:`selection`."""
    parser.add_argument(
        "--type",
        action="append",
        dest="types",
        metavar="TYPE",
        help="performance type to keep, repeatable; 'any' for all "
        f"(default: {default_type or 'any'})",
    )
    parser.add_argument(
        "--context",
        action="append",
        dest="contexts",
        metavar="CONTEXT",
        help="performance context to keep, repeatable (default: all but demonstration)",
    )
    parser.add_argument(
        "--include-demonstrations",
        action="store_true",
        help="keep demonstrations too (left out by default, as in the original Gesture-RNN)",
    )


def selection(args, default_type: str | None, **counts):
    """The corpus Selection that the selection arguments ask for."""
    from ..corpus import Selection

    types = args.types or ([default_type] if default_type else None)
    if types and "any" in types:
        types = None
    keep_all = args.include_demonstrations or args.contexts
    return Selection(
        types=tuple(types) if types else None,
        contexts=tuple(args.contexts) if args.contexts else None,
        exclude_contexts=() if keep_all else ("demonstration",),
        **counts,
    )


def show_progress(args) -> bool:
    """A progress bar unless --quiet, and only on a terminal: not in a log file or a pipe."""
    return not args.quiet and sys.stderr.isatty()


def add_force_argument(parser: argparse.ArgumentParser, what: str = "the output file") -> None:
    """--force: the one way to replace a file that exists (see gesture_rnn.files)."""
    parser.add_argument("--force", action="store_true", help=f"overwrite {what} if it exists")


def split_names(model, split: str, option: str) -> set[str] | None:
    """The performance names the model's metadata puts in ``split`` (None for all)."""
    if split == "all":
        return None
    recorded = (model.metadata or {}).get("split")
    if not isinstance(recorded, dict) or not isinstance(recorded.get(split), list | tuple):
        instead = "--split all" if option.startswith("--split") else "--baseline-train DIR"
        raise CommandError(
            f"{option}: the model records no {split} split of its performances "
            f"(models trained elsewhere may not); use {instead}"
        )
    return {str(name) for name in recorded[split]}


def keep_split(performances, names: set[str] | None, what: str):
    """The performances named in ``names`` (all for None); CommandError if none is."""
    if names is None:
        return performances
    kept = [p for p in performances if p.name in names]
    if not kept:
        raise CommandError(
            f"none of the {len(names)} performances of the model's {what} is among the "
            f"{len(performances)} selected in the data folder"
        )
    if len(kept) < len(names):
        log.info(
            "%d of the %d performances of the model's %s are among those selected in the data",
            len(kept),
            len(names),
            what,
        )
    return kept
