"""``gesture-rnn prepare``: training data as an .npz file."""

from __future__ import annotations

from .common import (
    CommandError,
    add_data_argument,
    add_ensemble_argument,
    add_force_argument,
    add_selection_arguments,
    path_arg,
    positive_int,
    selection,
)


def cmd_prepare(args) -> None:
    from ..corpus import load_corpus
    from ..files import check_new_output
    from ..prepare import build_sequences, save_npz, selection_for

    check_new_output(args.out, args.force)
    base = selection(args, default_type="improvisation")
    performances = load_corpus(args.data, selection_for(args.ensemble, base))
    sequences = build_sequences(performances, ensemble=args.ensemble, steps=args.steps)
    if len(sequences) == 0:
        raise CommandError(
            f"no selected performance is longer than {args.steps + 1} seconds, so there are "
            f"no windows of {args.steps} steps; try a smaller --steps"
        )
    shape = save_npz(args.out, sequences, args.framing, args.force)
    print(
        f"wrote {args.out}: {shape[0]} windows of {args.steps} steps "
        f"(framing {args.framing}) from {len(performances)} performances"
    )


def register(commands) -> None:
    prepare = commands.add_parser("prepare", help="make training data (.npz) from the corpus")
    add_data_argument(prepare)
    add_ensemble_argument(prepare)
    prepare.add_argument(
        "--steps", type=positive_int, default=120, help="steps a window (default 120)"
    )
    prepare.add_argument(
        "--framing",
        choices=("all", "last"),
        default="all",
        help="a target at every step (all, the default) or one after the last step (last)",
    )
    prepare.add_argument("--out", required=True, type=path_arg, help="the .npz file to write")
    add_force_argument(prepare, "--out")
    add_selection_arguments(prepare, default_type="improvisation")
    prepare.set_defaults(func=cmd_prepare)
