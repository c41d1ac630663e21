"""Train a Gesture-RNN model on the corpus, then export it.

What one run does:

1. Split the selected performances, seeded, into train, validation and test *whole
   performances*: every window and every ordering of a performance falls on one side.
   The test performances are kept out of training and model selection; the split is
   recorded in the exported file (``metadata["split"]``) for held-out evaluation.
2. Each epoch, cut every training sequence (one performance, one ordering of its players)
   into back-to-back windows of ``steps`` seconds starting at a fresh random offset in
   0..steps-1, and shuffle them. So each step is seen about once an epoch, not once per
   overlapping window (``steps`` times), which keeps epochs short on a small CPU, and
   window boundaries move from epoch to epoch. Every step of a window has a target.
3. After each epoch, measure the validation NLL on whole validation sequences, run from
   the start of the performance with zero state, as the runtime runs. Keep the best
   weights (and the Keras checkpoint); halve the learning rate each ``lr_patience``
   epochs without improvement; stop early when it has not improved for ``patience``
   epochs, after ``epochs`` epochs, or when the time budget is spent.
4. Measure the best weights on the test performances and export them.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .config import ModelConfig
from .corpus import Performance, split_performances
from .evaluate import MARKOV_ALPHA, MarkovBaseline
from .files import write_new
from .gestures import NUM_GESTURES
from .prepare import TrainingSequences, build_sequences

log = logging.getLogger(__name__)


class TrainingError(ValueError):
    """Training cannot run as asked (too few performances, bad paths)."""


@dataclass
class TrainOptions:
    epochs: int = 200  # at most this many epochs
    minutes: float | None = None  # time budget for the training loop (None: no limit)
    patience: int = 10  # epochs without a better validation NLL before stopping
    lr_patience: int = 3  # halve the learning rate after this many epochs without one
    seed: int = 0  # split, window offsets, shuffling and weight initialisation
    max_orderings: int | None = None  # at most this many orderings a training performance
    validation: float = 0.15  # fraction of performances (at least one)
    test: float = 0.15  # fraction of performances (at least one)
    progress: bool = True  # a progress bar per epoch
    record: dict = field(default_factory=dict)  # data, selection, command: for the metadata


@dataclass
class TrainResult:
    model: object  # the Keras model with the best weights
    metadata: dict  # the record exported with it
    epochs: int
    seconds: float


# -- data ------------------------------------------------------------------------------------


def epoch_windows(
    sequences: TrainingSequences, steps: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """This epoch's windows: each sequence cut into back-to-back windows of ``steps`` at a
    random offset, shuffled. Returns int32 inputs and targets, both (windows, steps)."""
    starts = []
    for j in range(sequences.num_sequences):
        a, b = int(sequences.offsets[j]), int(sequences.offsets[j + 1])
        length = b - a
        if length < steps:
            continue
        offset = int(rng.integers(0, min(steps, length - steps + 1)))
        count = (length - offset) // steps
        starts.append(a + offset + steps * np.arange(count, dtype=np.int64))
    if not starts:
        raise TrainingError(f"no training sequence is {steps} steps long; try a smaller --steps")
    starts = rng.permutation(np.concatenate(starts))
    cut = starts[:, None] + np.arange(steps)
    return sequences.x[cut].astype(np.int32), sequences.y[cut].astype(np.int32)


def whole_sequences(sequences: TrainingSequences, chunk: int = 32):
    """Yield (inputs, targets) of whole sequences, up to ``chunk`` of one length at a time."""
    lengths = np.diff(sequences.offsets)
    for length in np.unique(lengths):
        same = np.flatnonzero(lengths == length)
        for i in range(0, len(same), chunk):
            rows = sequences.offsets[same[i : i + chunk]][:, None] + np.arange(length)
            yield sequences.x[rows].astype(np.int32), sequences.y[rows].astype(np.int64)


def sequence_metrics(model, sequences: TrainingSequences) -> dict:
    """Mean NLL (nats a step) and accuracy of the most likely state over whole sequences,
    each run from its performance's start with zero state."""
    from .model import log_softmax, predict_logits

    total_nll, hits, count = 0.0, 0, 0
    for x, y in whole_sequences(sequences):
        logits = predict_logits(model, x).astype(np.float64)
        logp = log_softmax(logits)
        total_nll -= np.take_along_axis(logp, y[..., None], axis=-1).sum()
        hits += int((logits.argmax(axis=-1) == y).sum())
        count += y.size
    if count == 0:
        return {"nll": math.nan, "accuracy": math.nan, "steps": 0}
    return {"nll": total_nll / count, "accuracy": hits / count, "steps": count}


def baselines(
    train: TrainingSequences, held_out: TrainingSequences, alpha: float = MARKOV_ALPHA
) -> dict:
    """Persistence and the Markov baseline on every step of ``held_out``.

    The same baselines as ``gesture-rnn evaluate`` (:mod:`gesture_rnn.evaluate`): the Markov
    model, P(others[t] | others[t-1]) with add-``alpha`` smoothing, is counted on ``train``;
    persistence predicts the others' last state. Returns ``{"markov": {"nll" (nats a step),
    "accuracy", "alpha"}, "persistence": {"accuracy"}}``.
    """
    markov = MarkovBaseline.from_codes(train.x, train.y, train.ensemble, alpha)
    before = held_out.x.astype(np.int64) // NUM_GESTURES
    after = held_out.y.astype(np.int64)
    nll, predicted = markov.score(before, after)
    return {
        "markov": {
            "nll": float(nll.mean()),
            "accuracy": float((predicted == after).mean()),
            "alpha": alpha,
        },
        "persistence": {"accuracy": float((before == after).mean())},
    }


# -- the loop --------------------------------------------------------------------------------


def _strategy():
    """MirroredStrategy over several GPUs, else the default (one device)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        log.info("training on %d GPUs with MirroredStrategy", len(gpus))
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _save_checkpoint(model, path: Path, record: dict) -> None:
    """Write the Keras checkpoint and its record (config, split, metrics) atomically.

    Each better epoch replaces the last one's files: the caller checks, before training,
    that they may be written (``gesture-rnn train`` refuses existing ones without --force).
    """
    from .export import checkpoint_record_path

    write_new(path, lambda tmp: model.save(tmp), force=True)
    text = json.dumps(record, indent=1)
    write_new(
        checkpoint_record_path(path),
        lambda tmp: tmp.write_text(text, encoding="utf-8"),
        force=True,
    )


def train(
    performances: list[Performance],
    config: ModelConfig,
    options: TrainOptions,
    checkpoint: str | Path | None = None,
    out: str | Path | None = None,
    strategy=None,
    force: bool = False,
    extra: list[Performance] | None = None,
) -> TrainResult:
    """Train on ``performances``; write the best checkpoint and export it to ``out``.

    ``out`` is written only if it does not exist, or with ``force``; the checkpoint is
    replaced at each better epoch.

    ``strategy``: a ``tf.distribute`` strategy; by default MirroredStrategy over every GPU
    when there are several, else the default one-device strategy.
    ``extra``: performances added to the training side only (for example four-player
    subsets of larger performances, :func:`gesture_rnn.prepare.player_subsets`); the
    split is made among ``performances`` alone, so it stays what it is without them.
    """
    import keras

    from .export import export_model, metadata_for
    from .model import build_model, compile_model

    started, started_cpu = time.monotonic(), time.process_time()
    deadline = None if options.minutes is None else started + 60 * options.minutes
    keras.utils.set_random_seed(options.seed)
    rng = np.random.default_rng(options.seed)

    names = [p.name for p in performances]
    if len(set(names)) != len(names):
        raise TrainingError("the selection holds two performances of the same name")
    split = split_performances(names, options.seed, options.test, options.validation)
    extra = list(extra or [])
    if set(names) & {p.name for p in extra}:
        raise TrainingError("an extra training performance has the name of a selected one")
    everything = build_sequences(performances + extra, config.ensemble, config.steps)
    sides = {side: everything.subset(split[side]) for side in split}
    if extra:
        split["extra_train"] = [p.name for p in extra]
    if extra or options.max_orderings is not None:
        sides["train"] = everything.subset(
            split["train"] + [p.name for p in extra], options.max_orderings, rng
        )
    sizes = {side: int(len(s.x)) for side, s in sides.items()}
    log.info(
        "performances: %d train (and %d extra), %d validation, %d test (steps: %s)",
        len(split["train"]),
        len(extra),
        len(split["validation"]),
        len(split["test"]),
        sizes,
    )

    strategy = strategy or _strategy()
    with strategy.scope():
        model = build_model(config)
        compile_model(model, config)
    log.info("model: %s, %d parameters", config, model.count_params())

    record = {
        "config": config.to_dict(),
        "split": split,
        "training": {
            **options.record,
            "performances": {side: len(names) for side, names in split.items()},
            "steps": sizes,
            "seed": options.seed,
            "options": {k: v for k, v in asdict(options).items() if k != "record"},
            "parameters": int(model.count_params()),
            "windows": "each epoch, back-to-back windows at a random offset per sequence",
        },
        "metrics": {},
    }
    best_nll, best_weights, best_epoch, waited, epoch = math.inf, None, 0, 0, 0
    history = []
    out_of_time = False
    for epoch in range(1, options.epochs + 1):
        x, y = epoch_windows(sides["train"], config.steps, rng)
        loss, out_of_time = _train_epoch(model, x, y, config.batch_size, deadline, epoch, options)
        trained = time.monotonic()
        val = sequence_metrics(model, sides["validation"])
        log.debug("validation took %.1f s", time.monotonic() - trained)
        history.append({"epoch": epoch, "loss": loss, "validation_nll": val["nll"]})
        better = val["nll"] < best_nll
        log.info(
            "epoch %d: train loss %.4f, validation NLL %.4f, accuracy %.4f%s (%.0f s)",
            epoch,
            loss,
            val["nll"],
            val["accuracy"],
            " (best)" if better else "",
            time.monotonic() - started,
        )
        if better:
            best_nll, best_weights, best_epoch, waited = val["nll"], model.get_weights(), epoch, 0
            record["metrics"]["validation"] = {**val, "epoch": epoch}
            if checkpoint is not None:
                record["training"]["seconds"] = round(time.monotonic() - started, 1)
                _save_checkpoint(model, Path(checkpoint), record)
        else:
            waited += 1
            if waited % options.lr_patience == 0:
                rate = float(model.optimizer.learning_rate.numpy()) / 2
                model.optimizer.learning_rate.assign(rate)
                log.info("learning rate halved to %.2g", rate)
        if waited >= options.patience:
            log.info("validation NLL has not improved for %d epochs: stopping", waited)
            break
        if out_of_time:
            log.info("time budget of %s minutes spent: stopping", options.minutes)
            break
    if best_weights is None:
        raise TrainingError(
            f"no epoch gave a finite validation NLL (last: {val['nll']}); "
            "the validation performances may be too short, or training diverged: "
            "try a smaller --learning-rate"
        )
    model.set_weights(best_weights)
    seconds = time.monotonic() - started
    record["metrics"]["test"] = sequence_metrics(model, sides["test"])
    record["metrics"]["test_baselines"] = baselines(sides["train"], sides["test"])
    record["training"].update(
        {
            "seconds": round(seconds, 1),
            # CPU seconds of this process (all threads): comparable across busy and quiet machines
            "cpu_seconds": round(time.process_time() - started_cpu, 1),
            "epochs": epoch,
            "best_epoch": best_epoch,
        }
    )
    record["history"] = history
    log.info(
        "best epoch %d; test NLL %.4f, accuracy %.4f (Markov NLL %.4f, persistence accuracy %.4f)",
        best_epoch,
        record["metrics"]["test"]["nll"],
        record["metrics"]["test"]["accuracy"],
        record["metrics"]["test_baselines"]["markov"]["nll"],
        record["metrics"]["test_baselines"]["persistence"]["accuracy"],
    )
    if checkpoint is not None:
        _save_checkpoint(model, Path(checkpoint), record)
    if out is not None:
        export_model(model, config, out, record, force)
    metadata = metadata_for(config, record)
    return TrainResult(model=model, metadata=metadata, epochs=epoch, seconds=seconds)


def _train_epoch(model, x, y, batch_size, deadline, epoch, options) -> tuple[float, bool]:
    """One pass over this epoch's windows; returns (mean loss, whether time ran out).

    On one device, ``train_on_batch`` in a plain loop; on several GPUs, ``fit`` for one
    epoch, so that the strategy splits each batch between them.
    """
    import keras
    from tqdm import tqdm

    if len(x) > batch_size:
        keep = len(x) - len(x) % batch_size  # drop a short last batch: reshuffled every epoch
        x, y = x[:keep], y[:keep]
    batches = math.ceil(len(x) / batch_size)
    bar = tqdm(total=batches, desc=f"epoch {epoch}", unit="batch", disable=not options.progress)
    losses: list[float] = []

    def after_batch(loss: float) -> bool:
        losses.append(loss)
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        return deadline is not None and time.monotonic() > deadline

    out_of_time = False
    with bar:
        if model.distribute_strategy.num_replicas_in_sync == 1:
            for start in range(0, len(x), batch_size):
                end = start + batch_size
                if after_batch(float(model.train_on_batch(x[start:end], y[start:end]))):
                    out_of_time = True
                    break
        else:

            class Progress(keras.callbacks.Callback):
                def on_train_batch_end(self, batch, logs=None):
                    nonlocal out_of_time
                    # Keras reports the running mean of the epoch; keep the batch's own loss.
                    mean = float((logs or {}).get("loss", math.nan))
                    n = len(losses) + 1
                    if after_batch(mean * n - sum(losses)):
                        out_of_time = True
                        self.model.stop_training = True

            model.fit(
                x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
                callbacks=[Progress()],
            )  # fmt: skip
    return float(np.mean(losses)), out_of_time
