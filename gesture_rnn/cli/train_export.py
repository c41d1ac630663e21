"""``gesture-rnn train``, ``export`` and ``calibrate``: make a model file.

TensorFlow is imported inside the command functions only, never when the CLI loads.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from ..config import CALIBRATION_ITERATIONS, INPUTS, SIZES
from .common import (
    CommandError,
    add_data_argument,
    add_ensemble_argument,
    add_force_argument,
    add_selection_arguments,
    keep_split,
    model_arg,
    path_arg,
    positive_int,
    seed_arg,
    selection,
    show_progress,
)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def cmd_train(args) -> None:
    import logging

    from ..config import ConfigError, config_for
    from ..corpus import load_corpus
    from ..export import checkpoint_record_path
    from ..extras import require
    from ..files import check_new_output
    from ..prepare import selection_for
    from ..train import TrainingError, TrainOptions

    require("train", "gesture-rnn train")
    check_new_output(args.out, args.force)
    checkpoint = args.checkpoint or args.out.with_suffix(".keras")
    if checkpoint.suffix != ".keras":
        raise CommandError(f"--checkpoint {checkpoint} must end in .keras (a Keras checkpoint)")
    check_new_output(checkpoint, args.force)
    check_new_output(checkpoint_record_path(checkpoint), args.force)
    try:
        config = config_for(
            args.size,
            ensemble=args.ensemble,
            layers=args.layers,
            units=args.units,
            embedding=args.embedding,
            input=args.input,
            dropout=args.dropout,
            stay=args.stay,
            copy=args.copy,
            steps=args.steps,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
        )
    except ConfigError as error:
        raise CommandError(str(error)) from None
    base = selection(args, default_type="improvisation")
    chosen = selection_for(args.ensemble, base)
    performances = load_corpus(args.data, chosen)
    extra = _extra_subsets(args, base)
    options = TrainOptions(
        epochs=args.epochs,
        minutes=args.minutes,
        patience=args.patience,
        lr_patience=args.lr_patience,
        seed=args.seed,
        max_orderings=args.max_orderings,
        progress=show_progress(args),
        record={
            "data": str(args.data),
            "selection": chosen.describe(),
            **({"extra_subsets": args.extra_subsets} if args.extra_subsets else {}),
            **({"extra_players": args.extra_players} if args.extra_players else {}),
            "command": shlex.join(["gesture-rnn", *sys.argv[1:]]),
        },
    )
    from ..train import train  # imports TensorFlow

    logging.getLogger("gesture_rnn").info(
        "training a %s model for an ensemble of %d on %d performances",
        args.size,
        args.ensemble,
        len(performances),
    )
    try:
        result = train(
            performances,
            config,
            options,
            checkpoint=checkpoint,
            out=args.out,
            force=args.force,
            extra=extra,
        )
    except TrainingError as error:
        raise CommandError(str(error)) from None
    test = result.metadata["metrics"]["test"]
    print(
        f"wrote {args.out} and {checkpoint}: {result.epochs} epochs in {result.seconds:.0f} s, "
        f"validation NLL {result.metadata['metrics']['validation']['nll']:.4f}, "
        f"test NLL {test['nll']:.4f}, test accuracy {test['accuracy']:.4f}"
    )
    calibrated = args.out.with_name(f"{args.out.stem}-calibrated{args.out.suffix}")
    print(
        "so that its ensemble plays as often as real players, calibrate it (docs/models.md): "
        + shlex.join(
            ["gesture-rnn", "calibrate", "--model", str(args.out), "--data", str(args.data)]
            + ["--out", str(calibrated)]
        )
    )


def _extra_subsets(args, base) -> list:
    """--extra-subsets N: N seeded k-player subsets of each larger selected performance."""
    if not args.extra_subsets:
        if args.extra_players:
            raise CommandError("--extra-players goes with --extra-subsets")
        return []
    import dataclasses

    import numpy as np

    from ..corpus import load_corpus
    from ..prepare import player_subsets, selection_for

    if selection_for(args.ensemble, base).performers is None:
        raise CommandError(
            f"--extra-subsets: an ensemble of {args.ensemble} already trains on every "
            "performance with more players (all their orderings)"
        )
    larger = load_corpus(
        args.data, dataclasses.replace(base, performers=None, min_performers=args.ensemble + 1)
    )
    if args.extra_players:
        larger = [p for p in larger if p.num_players in args.extra_players]
        if not larger:
            raise CommandError(
                f"--extra-players {' '.join(map(str, args.extra_players))}: no selected "
                f"performance has that many players"
            )
    rng = np.random.default_rng(args.seed)
    return [s for p in larger for s in player_subsets(p, args.ensemble, args.extra_subsets, rng)]


def cmd_export(args) -> None:
    from ..export import ExportError, export_checkpoint
    from ..extras import require
    from ..files import check_new_output

    require("train", "gesture-rnn export")
    check_new_output(args.out, args.force)
    try:
        path = export_checkpoint(args.checkpoint, args.out, args.force)
    except ExportError as error:
        raise CommandError(str(error)) from None
    print(f"wrote {path}")


def cmd_calibrate(args) -> None:
    """Fit the calibration biases on the model's training split and write a new file."""
    import time

    from .. import calibrate, model_format
    from ..bundled import MODEL_NAMES
    from ..corpus import CorpusError, load_corpus
    from ..errors import CorpusFolderError
    from ..evaluate import evaluate_model
    from ..export import write_model_file
    from ..files import check_new_output
    from ..prepare import selection_for
    from ..runtime import GestureModel, bundled_path

    check_new_output(args.out, args.force)
    started = time.monotonic()
    weights, metadata = model_format.read(args.model)  # ModelFileError: exit code 2
    if "calibration" in metadata:
        raise CommandError(
            f"{args.model} is already calibrated; calibrate the model that training wrote"
        )
    model = GestureModel(weights, metadata, args.model)
    k = model.ensemble
    recorded = metadata.get("split")
    if (
        not isinstance(recorded, dict)
        or not isinstance(recorded.get("train"), list)
        or not recorded["train"]
    ):
        raise CommandError(
            f"{args.model} records no train split: calibration fits on the performances a "
            "model learnt from, so it needs a model file that gesture-rnn train wrote"
        )
    try:
        everything = load_corpus(args.data, selection_for(k, selection(args, "improvisation")))
    except CorpusFolderError:
        raise  # a folder that is not a corpus: bad input (exit code 2)
    except CorpusError as error:
        raise CommandError(f"the model is for an ensemble of {k} players: {error}") from None
    train_names = set(map(str, recorded["train"]))
    train = keep_split(everything, train_names, "train split")
    missing = sorted(train_names - {p.name for p in train})
    if missing:  # a fit on part of the split is another calibration, and would say nothing
        raise CommandError(
            f"{len(missing)} of the {len(train_names)} performances of the model's train split "
            f"are not among those selected in {args.data} (first: {missing[0]}); calibration "
            "fits on all of them: give the corpus and selection the model was trained on"
        )
    fitted = calibrate.fit(weights, metadata, train, args.iterations, seed=args.seed)
    new_weights, new_metadata = calibrate.apply(
        weights, metadata, fitted.gesture_bias, fitted.keep_bias
    )
    calibrated = GestureModel(new_weights, new_metadata)
    nll = {}
    for split in ("validation", "test"):
        names = set(map(str, recorded.get(split) or ()))
        held_out = [p for p in everything if p.name in names]
        if held_out:
            nll[split] = {
                "before": round(evaluate_model(model, held_out)["nll"], 4),
                "after": round(evaluate_model(calibrated, held_out)["nll"], 4),
            }
    name = next(  # a bundled model by its name, any other file by its file name
        (
            n
            for n, size in MODEL_NAMES.items()
            if args.model.resolve() == bundled_path(size).resolve()
        ),
        None,
    )
    new_metadata["calibration"] = {
        **fitted.record(),
        "iterations": args.iterations,
        "step": calibrate.STEP,
        "seeds": calibrate.SEEDS,
        "seed": args.seed,
        "nll": nll,
        "seconds": round(time.monotonic() - started, 1),
        "command": shlex.join(["gesture-rnn", *sys.argv[1:]]),
        "calibrated": name or args.model.name,
    }
    write_model_file(args.out, new_weights, new_metadata, args.force)
    last = fitted.result
    shown = ", ".join(
        f"{split} NLL {v['before']:.4f} -> {v['after']:.4f}" for split, v in nll.items()
    )
    print(
        f"wrote {args.out}: generated share of N {fitted.history[0]['share_of_n']:.2f} -> "
        f"{last['share_of_n']:.2f} (real {fitted.real['histogram'][0]:.2f}), flux "
        f"{fitted.history[0]['flux']:.3f} -> {last['flux']:.3f} (real {fitted.real['flux']:.3f})"
        + (f"; {shown}" if shown else "")
    )


def register(commands) -> None:
    train = commands.add_parser(
        "train", help="train a model on the corpus and export it (needs TensorFlow)"
    )
    add_data_argument(train)
    add_ensemble_argument(train)
    train.add_argument(
        "--size",
        choices=tuple(SIZES),
        default="medium",
        help="named size: "
        + ", ".join(f"{name} {s['layers']} x {s['units']}" for name, s in SIZES.items())
        + " (default medium)",
    )
    train.add_argument("--out", required=True, type=path_arg, help="the model file (.h5) to write")
    train.add_argument(
        "--checkpoint",
        type=path_arg,
        help="Keras checkpoint of the best epoch (default: --out with .keras); "
        "its training record goes beside it as CHECKPOINT.json",
    )
    train.add_argument(
        "--epochs", type=positive_int, default=200, help="at most this many (default 200)"
    )
    train.add_argument(
        "--minutes", type=positive_float, help="time budget for training (default: none)"
    )
    train.add_argument(
        "--patience",
        type=positive_int,
        default=10,
        help="stop after this many epochs without a better validation NLL (default 10)",
    )
    train.add_argument(
        "--lr-patience",
        type=positive_int,
        default=3,
        help="halve the learning rate after this many epochs without a better one (default 3)",
    )
    train.add_argument(
        "--seed",
        type=seed_arg,
        default=0,
        help="seed of the split, windows and weights (default 0)",
    )
    train.add_argument("--input", choices=INPUTS, help="input representation (default players)")
    train.add_argument("--layers", type=positive_int, help="override the size's LSTM layers")
    train.add_argument("--units", type=positive_int, help="override the size's units a layer")
    train.add_argument("--embedding", type=positive_int, help="override the embedding width")
    train.add_argument("--dropout", type=float, help="dropout after each LSTM layer (0.3)")
    train.add_argument(
        "--stay",
        action=argparse.BooleanOptionalAction,
        help="a learned logit for the others repeating their last state (default: off)",
    )
    train.add_argument(
        "--copy",
        action=argparse.BooleanOptionalAction,
        help="a learned logit per other player keeping its last gesture (default: off)",
    )
    train.add_argument("--steps", type=positive_int, help="training window in seconds (120)")
    train.add_argument("--batch-size", type=positive_int, help="windows a batch (64)")
    train.add_argument("--learning-rate", type=positive_float, help="Adam learning rate (0.003)")
    train.add_argument(
        "--max-orderings",
        type=positive_int,
        metavar="N",
        help="train on at most N seeded orderings of each performance (trio, duet: the "
        "nine-player performance's 504 trio orderings are otherwise most of the data)",
    )
    train.add_argument(
        "--extra-subsets",
        type=positive_int,
        metavar="N",
        help="quartet: also train on up to N seeded four-player subsets of each performance "
        "with more players (training side only; the split stays among the quartets)",
    )
    train.add_argument(
        "--extra-players",
        type=positive_int,
        action="append",
        metavar="N",
        help="with --extra-subsets: only performances of N players, repeatable (default: all)",
    )
    add_force_argument(train, "--out, --checkpoint and its record")
    train.add_argument(
        "--quiet", action="store_true", help="no progress bar (none off a terminal either)"
    )
    add_selection_arguments(train, default_type="improvisation")
    train.set_defaults(func=cmd_train)

    export = commands.add_parser(
        "export", help="export a Keras checkpoint to a portable model file (needs TensorFlow)"
    )
    export.add_argument("checkpoint", type=path_arg, help="checkpoint written by gesture-rnn train")
    export.add_argument("--out", required=True, type=path_arg, help="the model file (.h5) to write")
    add_force_argument(export, "--out")
    export.set_defaults(func=cmd_export)

    calibrate = commands.add_parser(
        "calibrate",
        help="make a model's sampled ensemble play as often and as much like real players "
        "as its training performances (docs/models.md)",
    )
    calibrate.add_argument(
        "--model",
        type=model_arg,
        required=True,
        metavar="FILE|NAME",
        help="the model file that training wrote (it must record its split)",
    )
    add_data_argument(calibrate)
    calibrate.add_argument("--out", required=True, type=path_arg, help="the model file to write")
    calibrate.add_argument(
        "--iterations",
        type=_iterations,
        default=CALIBRATION_ITERATIONS[0],
        help="moment-matching iterations, {1}-{2} (default {0}; about 2 s each for a "
        "quartet)".format(*CALIBRATION_ITERATIONS),
    )
    calibrate.add_argument(
        "--seed", type=seed_arg, default=0, help="seed of the sampling (default 0)"
    )
    add_force_argument(calibrate, "--out")
    add_selection_arguments(calibrate, default_type="improvisation")
    calibrate.set_defaults(func=cmd_calibrate)


def _iterations(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    _, fewest, most = CALIBRATION_ITERATIONS
    if not fewest <= value <= most:
        raise argparse.ArgumentTypeError(f"expected {fewest}-{most}, got {value}")
    return value
