"""The ``gesture-rnn`` program: the top, above the three packages it serves.

This is the one module that imports all three: it registers the model's subcommands
(``gesture_rnn.cli``), the corpus index's (``corpus_index.cli``, under ``corpus``) and the
live bridge (``bridge.cli``), then runs the one asked for. The packages below never import
it, nor each other upwards: ``corpus_index`` uses ``gesture_rnn``, ``bridge`` uses both.
Heavy imports (TensorFlow above all) happen inside the command functions that need them,
so ``gesture-rnn --help`` and every other command start quickly.
"""

from __future__ import annotations

import argparse
import logging
import sys

import bridge.cli
import corpus_index.cli
from gesture_rnn import __version__
from gesture_rnn.cli import corpus, evaluate_generate, prepare, touches, train_export
from gesture_rnn.cli.common import CommandError

EXIT_FAILED = 1
"""The command could not do what was asked (an output that exists, an empty selection...)."""
EXIT_BAD_INPUT = 2
"""An option or an input file that cannot be used (argparse uses 2 for bad usage too)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gesture-rnn",
        description="A neural touch-screen ensemble that answers a solo performer.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    # In --help order.
    corpus_actions = corpus.register(commands)  # download, summary
    corpus_index.cli.register(corpus_actions)  # build, info, plot
    prepare.register(commands)
    train_export.register(commands)
    touches.register(commands)
    evaluate_generate.register(commands)
    bridge.cli.register(commands)
    _add_verbose_everywhere(commands)
    return parser


def _add_verbose_everywhere(commands) -> None:
    """-v after the subcommand too (``gesture-rnn corpus build -v``). SUPPRESS: a
    subcommand without -v leaves the value the main parser set."""
    for parser in set(commands.choices.values()):
        parser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="log more detail",
        )
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_verbose_everywhere(action)


def _user_errors() -> tuple[type[Exception], ...]:
    from gesture_rnn.errors import CorpusError, OutputError
    from gesture_rnn.extras import MissingExtraError
    from gesture_rnn.gestures import GestureError
    from gesture_rnn.prepare import PrepareError

    return (CommandError, CorpusError, GestureError, MissingExtraError, OutputError, PrepareError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Our own loggers say what they do; other libraries speak only to warn.
    logging.basicConfig(level=logging.WARNING, format="gesture-rnn: %(levelname)s: %(message)s")
    for name in ("gesture_rnn", "corpus_index", "bridge"):
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose else logging.INFO)
    logging.addLevelName(logging.WARNING, "warning")
    logging.addLevelName(logging.ERROR, "error")
    from gesture_rnn.errors import InputFileError

    try:
        result = args.func(args)
    except InputFileError as error:  # a file we read: missing, unreadable, damaged
        print(f"gesture-rnn: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except _user_errors() as error:
        print(f"gesture-rnn: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("gesture-rnn: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


__all__ = ["CommandError", "build_parser", "main"]
