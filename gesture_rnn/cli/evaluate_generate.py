"""``gesture-rnn evaluate`` and ``gesture-rnn generate``: a trained model at work."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
from pathlib import Path

from .common import (
    CommandError,
    add_selection_arguments,
    keep_split,
    model_arg,
    path_arg,
    positive_int,
    seed_arg,
    selection,
    split_names,
)

log = logging.getLogger(__name__)

SPLITS = ("all", "train", "validation", "test")
OUTPUT_SUFFIXES = {"csv": ".csv", "png": ".png", "midi": ".mid"}


def _one_line_errors(command):
    """Turn the library's user errors into CommandError: one line, exit code 1 (a bad
    input file, an InputFileError, passes through: exit code 2)."""

    @functools.wraps(command)
    def run(args):
        from ..errors import InputFileError
        from ..evaluate import EvaluationError
        from ..generate import GenerationError

        try:
            return command(args)
        except InputFileError:
            raise
        except (EvaluationError, GenerationError) as error:
            raise CommandError(str(error)) from None

    return run


def _load_model(path: Path | None):
    from ..runtime import load

    return load(path)  # ModelFileError names the file: exit code 2


def _model_name(path: Path | None) -> str:
    return str(path) if path is not None else "bundled"


@_one_line_errors
def cmd_evaluate(args) -> None:
    from ..corpus import CorpusError, is_single_file, load_corpus, read_metadata
    from ..errors import CorpusFolderError
    from ..files import check_new_output

    if not args.realism:
        for option in ("out_png", "seeds", "temperature", "liveliness"):
            if getattr(args, option) is not None:
                raise CommandError(f"--{option.replace('_', '-')} goes with --realism")
    args.seeds = args.seeds or 5
    args.temperature = 1.0 if args.temperature is None else args.temperature
    args.liveliness = 1.0 if args.liveliness is None else args.liveliness
    if args.out_png is not None:
        check_new_output(args.out_png, args.force)
    from ..evaluate import MarkovBaseline, count_steps, evaluate_model, persistence_baseline
    from ..prepare import selection_for

    model = _load_model(args.model)
    k = model.ensemble
    base = selection(args, default_type="improvisation")
    # Evaluation and the Markov fit: the training selection (exactly 4 players for the
    # quartet, k or more for trios and duets, through every ordered choice of k players),
    # so every performance of a split is evaluated, as the model learned from it.
    if not is_single_file(args.data):  # a folder must be readable
        read_metadata(args.data)  # before its errors get the prefix below
    try:
        performances = load_corpus(args.data, selection_for(k, base))
    except CorpusFolderError:
        raise  # a folder that is not a corpus: bad input, named as it is (exit 2)
    except CorpusError as error:
        raise CommandError(f"the model is for an ensemble of {k} players: {error}") from None
    split = split_names(model, args.split, f"--split {args.split}")
    performances = keep_split(performances, split, f"{args.split} split")
    markov = None
    if args.baseline_train is not None or args.baseline_split:
        fit_names = split_names(model, "train", "--baseline-split") if args.baseline_split else None
        fit_on = args.baseline_train or args.data
        try:
            fitting = load_corpus(fit_on, selection_for(k, base))
        except CorpusFolderError:
            raise
        except CorpusError as error:
            raise CommandError(f"the Markov baseline's data {fit_on}: {error}") from None
        markov = MarkovBaseline.fit(
            keep_split(fitting, fit_names, "train split"), k, args.markov_alpha
        )
    log.info(
        "evaluating on %d performances, %d steps",
        len(performances),
        count_steps(performances, k),
    )
    result = {
        "model": evaluate_model(model, performances),
        "persistence": persistence_baseline(performances, k),
    }
    if markov is not None:
        result["markov"] = {
            **markov.evaluate(performances),
            "fitted_on": str(fit_on)
            + (" (the model's train split)" if args.baseline_split else ""),
            "fitted_performances": markov.performances,
        }
    result.update(
        performances=len(performances),
        steps=count_steps(performances, k),
        ensemble=k,
        split=args.split,
        model_file=_model_name(args.model),
    )
    if args.realism:
        result["realism"] = _realism(args, model, performances, base, markov)
    print(finite_json(result))


def finite_json(result: dict) -> str:
    """``result`` as JSON that every parser reads: a NaN or infinite figure becomes null,
    and ``"not_finite"`` says which (JSON has no NaN or Infinity; Python's json module
    writes them unless told not to, and parsers reject the file)."""
    reasons: list[str] = []

    def clean(value, where: str):
        if isinstance(value, float) and not math.isfinite(value):
            reasons.append(f"{where} is {value}, which JSON cannot hold")
            return None
        if isinstance(value, dict):
            return {k: clean(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    cleaned = clean(result, "")
    if reasons:
        cleaned["not_finite"] = reasons
        log.warning("%d figure(s) are not finite, written as null: %s", len(reasons), reasons[0])
    return json.dumps(cleaned, indent=2, allow_nan=False)


def _realism(args, model, performances, base, markov) -> dict:
    """The realism report (gesture_rnn.realism), with a plot if asked."""
    from ..corpus import load_corpus
    from ..evaluate import MarkovBaseline
    from ..generate import column_names, write_comparison_png
    from ..prepare import selection_for
    from ..realism import realism

    recorded = (model.metadata or {}).get("split")
    reference = None
    if isinstance(recorded, dict) and isinstance(recorded.get("train"), list):
        evaluated = {p.name for p in performances}
        train = set(map(str, recorded["train"])) - evaluated
        reference = [p for p in load_corpus(args.data, selection_for(model.ensemble, base))
                     if p.name in train] or None  # fmt: skip
    if markov is None and reference:
        markov = MarkovBaseline.fit(reference, model.ensemble, args.markov_alpha)
    log.info("realism: %d performances x %d seeds", len(performances), args.seeds)
    report, first = realism(
        model,
        performances,
        args.temperature,
        args.liveliness,
        args.seeds,
        markov=markov,
        reference=reference,
    )
    if markov is not None:
        report["markov"]["fitted_performances"] = markov.performances
    if args.out_png is not None:
        title = (
            f"{first['performance']}, lead {first['lead']}: generated "
            f"(temperature {args.temperature:g}, liveliness {args.liveliness:g}, seed 0)"
        )
        write_comparison_png(
            args.out_png,
            first["real"],
            first["generated"],
            column_names(model.ensemble),
            (f"{first['performance']}, lead {first['lead']}: the real players", title),
            force=args.force,
        )
        report["plot"] = str(args.out_png)
    return report


def _outputs(args) -> dict[str, Path]:
    outputs: dict[str, Path] = {}
    if args.out is not None:
        if not args.out.name or args.out.is_dir():
            raise CommandError(f"--out {str(args.out)!r}: give a file name prefix, e.g. runs/take1")
        outputs = {
            kind: args.out.with_name(args.out.name + suffix)
            for kind, suffix in OUTPUT_SUFFIXES.items()
        }
    for kind in OUTPUT_SUFFIXES:
        path = getattr(args, f"out_{kind}")
        if path is not None:
            outputs[kind] = path
    if not outputs:
        raise CommandError("say where to write: --out PREFIX, or --out-csv, --out-png, --out-midi")
    paths = [p.resolve() for p in outputs.values()]
    if len(set(paths)) < len(paths):
        raise CommandError("the output files must be different files")
    return outputs


@_one_line_errors
def cmd_generate(args) -> None:
    import numpy as np

    from ..files import check_new_output
    from ..generate import (
        column_names,
        ensemble_touches,
        generate,
        lead_from_corpus,
        read_lead_csv,
        write_csv,
        write_midi,
        write_png,
    )

    outputs = _outputs(args)
    if "png" in outputs:
        from ..extras import require

        require("plot", "the plot (--out-png, --out)")
    for kind, path in outputs.items():
        check_new_output(path, args.force, ".png" if kind == "png" else None)
    if (args.lead is None) == (args.data is None):
        raise CommandError(
            "give the lead part either as --lead FILE or as --data DIR --performance NAME "
            "--player NAME"
        )
    if args.lead is not None:
        if args.performance or args.player:
            raise CommandError("--performance and --player go with --data, not with --lead")
        lead = read_lead_csv(args.lead, args.lead_column)
        source = f"{args.lead}" + (f" ({args.lead_column})" if args.lead_column else "")
    else:
        if args.lead_column:
            raise CommandError("--lead-column goes with --lead; with --data use --player")
        if not args.performance:
            raise CommandError("--data needs --performance NAME (and --player NAME)")
        lead = lead_from_corpus(args.data, args.performance, args.player)
        source = f"{args.performance} ({args.player})"
    model = _load_model(args.model)
    seed = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % 2**32)
    gestures = generate(
        model, lead, args.temperature, np.random.default_rng(seed), liveliness=args.liveliness
    )
    columns = column_names(model.ensemble)
    title = f"{source} with {model.ensemble - 1} generated players (temperature {args.temperature}"
    title += ")" if args.liveliness == 1 else f", liveliness {args.liveliness:g})"
    touches = None
    if "midi" in outputs:  # the touches the bridge would play, from the same touch source
        touches = ensemble_touches(
            gestures, _touch_source(args.corpus), 60.0 / args.bpm, np.random.default_rng([seed, 1])
        )
    writers = {
        "csv": write_csv,
        "midi": functools.partial(
            write_midi, touches=touches, bpm=args.bpm, cc_scale=args.cc_scale
        ),
        "png": functools.partial(write_png, title=title),
    }
    made = []  # the files this run created: a failure later on removes them
    try:
        for kind, path in outputs.items():
            new = not Path(path).exists()
            writers[kind](path, gestures, columns, force=args.force)
            if new:
                made.append(Path(path))
    except BaseException:
        for path in made:
            path.unlink(missing_ok=True)
        raise
    # A step is a second in the CSV (the corpus's rate) but a beat in the MIDI file.
    midi = f"; the MIDI file {len(gestures) * 60 / args.bpm:.1f} s at {args.bpm:g} BPM"
    print(
        f"wrote {', '.join(str(p) for p in outputs.values())}: {len(gestures)} steps "
        f"({len(gestures)} s{midi if 'midi' in outputs else ''}), "
        f"lead and {model.ensemble - 1} players (temperature {args.temperature}, seed {seed})"
    )


def _touch_source(path):
    """The corpus index at ``path`` (a CommandError if it cannot be read), or the
    procedural fallback, as the bridge opens it."""
    import corpus_index

    try:
        return corpus_index.open(path)
    except corpus_index.IndexFileError as error:
        raise CommandError(f"--corpus: {error}") from None


def _bpm(text: str) -> float:
    value = _number(text)
    if not 20 <= value <= 999:
        raise argparse.ArgumentTypeError(f"expected a tempo of 20-999 BPM, got {text}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def _temperature(text: str) -> float:
    from ..config import check_temperature

    try:
        return check_temperature(_number(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _liveliness(text: str) -> float:
    from ..config import check_liveliness

    try:
        return check_liveliness(_number(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_sampling_arguments(parser, default: float | None = 1.0) -> None:
    from ..config import LIVELINESS_RANGE

    parser.add_argument(
        "--temperature",
        type=_temperature,
        default=default,
        metavar="T",
        help="sampling temperature, 0.05-5: below 1 safer, above 1 wilder (default 1.0)",
    )
    parser.add_argument(
        "--liveliness",
        type=_liveliness,
        default=default,
        metavar="L",
        help=f"how often the ensemble changes, {LIVELINESS_RANGE[0]:g}-{LIVELINESS_RANGE[1]:g}: "
        "0 never, 1 the model as it is (default), 2 each player's odds of a change doubled",
    )


def _alpha(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def _add_model_argument(parser) -> None:
    from ..bundled import MODEL_HELP

    parser.add_argument("--model", type=model_arg, metavar="FILE|NAME", help=MODEL_HELP)


def register(commands) -> None:
    from ..evaluate import MARKOV_ALPHA

    evaluate = commands.add_parser(
        "evaluate",
        help="score a model on corpus performances, beside persistence and Markov baselines",
        description="Teacher-forced NLL and accuracy of the model over every performance it "
        "could be trained on (exactly 4 players for a quartet, at least k for k < 4), every "
        "lead and every ordering of the others; JSON on stdout.",
    )
    _add_model_argument(evaluate)
    evaluate.add_argument(
        "--data", required=True, type=path_arg, metavar="DIR", help="corpus folder to evaluate on"
    )
    evaluate.add_argument(
        "--split",
        choices=SPLITS,
        default="all",
        help="only the performances the model's metadata puts in this split (default: all)",
    )
    fit = evaluate.add_mutually_exclusive_group()
    fit.add_argument(
        "--baseline-train",
        type=path_arg,
        metavar="DIR",
        help="also fit a first-order Markov baseline on this corpus folder",
    )
    fit.add_argument(
        "--baseline-split",
        action="store_true",
        help="also fit the Markov baseline on the model's own train split of --data",
    )
    evaluate.add_argument(
        "--markov-alpha",
        type=_alpha,
        default=MARKOV_ALPHA,
        metavar="ALPHA",
        help=f"add-alpha smoothing of the Markov baseline (default {MARKOV_ALPHA})",
    )
    realism = evaluate.add_argument_group(
        "realism: the model plays the ensemble against every real lead (docs/models.md)"
    )
    realism.add_argument(
        "--realism",
        action="store_true",
        help="also compare its sampled parts with the real players' (flux, transition "
        "entropy, gestures, response to a lead's start), beside a Markov chain's",
    )
    realism.add_argument(
        "--seeds", type=positive_int, metavar="N", help="runs per lead (default 5)"
    )
    _add_sampling_arguments(realism, default=None)
    realism.add_argument(
        "--out-png",
        type=path_arg,
        metavar="FILE",
        help="plot one lead's generated and real ensemble",
    )
    realism.add_argument("--force", action="store_true", help="overwrite the plot if it exists")
    add_selection_arguments(evaluate, default_type="improvisation")
    evaluate.set_defaults(func=cmd_evaluate)

    generate = commands.add_parser(
        "generate",
        help="generate an ensemble for a lead part; write CSV, PNG and MIDI",
        description="The lead comes from a gesture CSV (--lead) or a performer of a corpus "
        "performance (--data, --performance, --player); the model answers it second by "
        "second, each answer fed back.",
    )
    _add_model_argument(generate)
    source = generate.add_argument_group("the lead part")
    source.add_argument(
        "--lead",
        type=path_arg,
        metavar="CSV",
        help="gesture CSV: a time column, then a column each",
    )
    source.add_argument("--lead-column", metavar="NAME", help="the lead's column in --lead")
    source.add_argument(
        "--data", type=path_arg, metavar="DIR", help="corpus folder (with --performance, --player)"
    )
    source.add_argument("--performance", metavar="NAME", help="performance name in --data")
    source.add_argument("--player", metavar="NAME", help="the performer in it to follow")
    _add_sampling_arguments(generate)
    generate.add_argument(
        "--seed", type=seed_arg, metavar="N", help="random seed (default: a fresh one, printed)"
    )
    out = generate.add_argument_group("outputs (at least one)")
    out.add_argument(
        "--out", type=path_arg, metavar="PREFIX", help="write PREFIX.csv, PREFIX.png and PREFIX.mid"
    )
    out.add_argument("--out-csv", type=path_arg, metavar="FILE", help="the performance as CSV")
    out.add_argument(
        "--out-png", type=path_arg, metavar="FILE", help="a plot (needs the [plot] extra)"
    )
    out.add_argument(
        "--out-midi",
        type=path_arg,
        metavar="FILE",
        help="a MIDI file a DAW plays: per player gestures (CC 20), touches (CC 21/22), notes",
    )
    midi = generate.add_argument_group("the MIDI file")
    midi.add_argument(
        "--bpm", type=_bpm, default=60.0, help="tempo, a step a beat (default 60: a step a second)"
    )
    midi.add_argument(
        "--cc-scale",
        choices=("raw", "spread"),
        default="raw",
        help="gesture CC values raw 0-8 (default) or spread over 0-127, as in the bridge",
    )
    midi.add_argument(
        "--corpus",
        metavar="INDEX",
        help="corpus index for the touches (default: the procedural fallback, as the bridge)",
    )
    out.add_argument("--force", action="store_true", help="overwrite output files that exist")
    generate.set_defaults(func=cmd_generate)
