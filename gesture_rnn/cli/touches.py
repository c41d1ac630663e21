"""``gesture-rnn touches ...``: the classifier from raw touches to gestures."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict, replace

from ..touch_training import TrainConfig
from .common import CommandError, add_data_argument, path_arg, positive_int, seed_arg


def _hidden(text: str) -> tuple[int, ...]:
    if text.strip() in ("", "0", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected sizes like 64,64 or 'none', got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be 1 or more, got {text!r}")
    return sizes


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {value}")
    return value


def _print_report(title: str, report: dict) -> None:
    print(
        f"{title}: accuracy {report['accuracy']:.4f} on {report['examples']} player-seconds; "
        f"majority-class baseline ({report['baseline_gesture']}) {report['baseline']:.4f}"
    )
    print("  gesture   count  recall  most often mistaken for")
    for name, row in report["per_gesture"].items():
        recall = "   -  " if row["recall"] is None else f"{row['recall']:.3f}"
        print(f"  {name:<6} {row['count']:>8}  {recall}  {row['most_confused_with'] or '-'}")


def cmd_train(args) -> None:
    from ..corpus import split_performances
    from ..extras import require
    from ..files import check_new_output, write_new
    from ..touch_classifier import save
    from ..touch_training import TrainConfig, corpus_examples, evaluate, fit

    require("train", "gesture-rnn touches train", "scikit-learn")  # before any work
    check_new_output(args.out, args.force)
    started = time.monotonic()
    examples = corpus_examples(args.data)
    split = split_performances(examples.names, args.seed, test=args.held_out)
    train_names, test_names = split["train"], split["test"]
    train, test = examples.subset(train_names), examples.subset(test_names)
    config = replace(
        TrainConfig(),
        hidden=args.hidden,
        epochs=args.epochs,
        batch=args.batch_size,
        seed=args.seed,
        held_out=args.held_out,
    )
    model = fit(train.features, train.labels, config)
    report = evaluate(model, test.features, test.labels)
    model.metadata = {
        "training": {
            "command": shlex.join(["gesture-rnn", *sys.argv[1:]]),
            "seconds": round(time.monotonic() - started, 1),
            "trainer": model.metadata.get("trainer"),
            "config": {**asdict(config), "hidden": list(config.hidden)},
            "held_out_fraction": args.held_out,
            "train_performances": len(train_names),
            "train_examples": int(len(train.labels)),
            "held_out_performances": test_names,
        },
        "held_out": {k: v for k, v in report.items() if k != "confusion"},
    }
    write_new(args.out, lambda tmp: save(model, tmp), force=args.force)
    _print_report(f"held out ({len(test_names)} performances)", report)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


def cmd_evaluate(args) -> None:
    from ..touch_classifier import load
    from ..touch_training import corpus_examples, evaluate

    model = load(args.model)  # TouchClassifierError names the file: exit code 2
    names = None
    if not args.all:
        names = model.metadata.get("training", {}).get("held_out_performances")
        if not names:
            raise CommandError(f"{args.model} lists no held-out performances; use --all")
    examples = corpus_examples(args.data, names)
    report = evaluate(model, examples.features, examples.labels)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_report("all performances" if args.all else "held out", report)


def register(commands) -> None:
    defaults = TrainConfig()
    touches = commands.add_parser("touches", help="classify raw touches as gestures")
    actions = touches.add_subparsers(dest="touches_command", metavar="ACTION")
    actions.required = True

    train = actions.add_parser(
        "train", help="train a touch classifier on the corpus's touches and gesture labels"
    )
    add_data_argument(train)
    train.add_argument("--out", required=True, type=path_arg, help="classifier file to write (.h5)")
    train.add_argument("--force", action="store_true", help="replace --out if it exists")
    train.add_argument(
        "--hidden",
        type=_hidden,
        default=defaults.hidden,
        help=f"hidden layer sizes (default {','.join(map(str, defaults.hidden))})",
    )
    train.add_argument(
        "--epochs", type=positive_int, default=defaults.epochs, help=f"default {defaults.epochs}"
    )
    train.add_argument(
        "--batch-size", type=positive_int, default=defaults.batch, help=f"default {defaults.batch}"
    )
    train.add_argument(
        "--held-out",
        type=_fraction,
        default=defaults.held_out,
        help=f"share of performances held out ({defaults.held_out})",
    )
    train.add_argument(
        "--seed",
        type=seed_arg,
        default=defaults.seed,
        help=f"split and training seed ({defaults.seed})",
    )
    train.set_defaults(func=cmd_train)

    evaluate = actions.add_parser(
        "evaluate", help="accuracy against the corpus's labels, beside the majority class"
    )
    add_data_argument(evaluate)
    evaluate.add_argument(
        "--model", type=path_arg, default=None, help="classifier file (default: the bundled one)"
    )
    evaluate.add_argument(
        "--all", action="store_true", help="every performance, not only the held-out ones"
    )
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(func=cmd_evaluate)
