"""Train and measure the touch classifier on the corpus's touches and posthoc labels.

Training data: for every performance with a gesture file and a touch file, every row of
the gesture file (time ``T``, one label per performer) gives one example per performer: the
features of that performer's touches in ``[T - 5 s, T]`` (the window the original
classifier saw), with the row's label as target. Performances are split whole into
training and held-out sets, seeded. Training is scikit-learn's ``MLPClassifier`` (the
``train`` extra); reading the corpus needs pandas. The classifier it makes needs neither.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .corpus import (
    CorpusFileError,
    gesture_file,
    read_gesture_file,
    read_gesture_times,
    read_metadata,
    read_touch_file,
    touch_file,
    warn_missing,
)
from .errors import CorpusError
from .extras import MissingExtraError, require
from .gestures import GESTURES, NUM_GESTURES
from .touch_classifier import TouchClassifier, transform
from .touch_features import NUM_FEATURES, features_at

log = logging.getLogger(__name__)

__all__ = [
    "Examples",
    "MissingExtraError",
    "TrainConfig",
    "corpus_examples",
    "evaluate",
    "fit",
]


@dataclass(frozen=True)
class TrainConfig:
    """How a touch classifier is trained: the one set of defaults, used by the command too.

    These defaults made the bundled ``models/touches.h5`` (docs/touch-classifier.md).
    """

    hidden: tuple[int, ...] = (64, 64)  # units per hidden layer; () is logistic regression
    epochs: int = 30  # passes over the training set
    batch: int = 512  # examples per Adam step
    learning_rate: float = 3e-3  # Adam's step size
    weight_decay: float = 1e-5  # L2 penalty (scikit-learn's alpha)
    seed: int = 0  # initial weights and shuffling
    held_out: float = 0.2  # share of performances held out (corpus.split_performances)


@dataclass
class Examples:
    """Feature rows, their labels, and which performance each row comes from."""

    features: np.ndarray  # (n, 8) float64
    labels: np.ndarray  # (n,) int8
    performance: np.ndarray  # (n,) int32 index into names
    names: list[str] = field(default_factory=list)

    def subset(self, names) -> Examples:
        wanted = np.isin(self.performance, [self.names.index(n) for n in names])
        return Examples(
            self.features[wanted], self.labels[wanted], self.performance[wanted], self.names
        )


# -- reading the corpus ----------------------------------------------------------------


def _performance_examples(gesture_path: Path, touches_path: Path, offset: float):
    labels, players = read_gesture_file(gesture_path)
    time_zero, row_seconds = read_gesture_times(gesture_path)
    touches = read_touch_file(touches_path)
    seconds = (touches["time"].to_numpy() - time_zero) / np.timedelta64(1, "s")
    ends = row_seconds + offset
    devices = touches["device_id"].to_numpy()
    points = touches[["x", "y", "v"]].to_numpy()
    features, targets = [], []
    for p, player in enumerate(players):
        mine = devices == player
        order = np.argsort(seconds[mine], kind="stable")
        t = seconds[mine][order]
        x, y, v = (points[mine][order, i] for i in range(3))
        features.append(features_at(t, x, y, v, ends))
        targets.append(labels[:, p])
    return np.concatenate(features), np.concatenate(targets)


def corpus_examples(
    root: str | Path, names: list[str] | None = None, offset: float = 0.0
) -> Examples:
    """Examples from every performance (or ``names``) with both files; others are skipped.

    One example per gesture-file row and performer: ``features`` ``(n, 8)`` of the touches in
    the 5 s before the row's time, ``labels`` ``(n,)`` its gesture. ``offset`` shifts each
    window's end from the row's time (seconds; 0 is the original's). A damaged gesture or
    touch file is skipped with a warning naming it. Raises :class:`CorpusError` when the
    metadata cannot be read or no performance has both files.
    """
    root = Path(root)
    metadata = read_metadata(root)
    wanted = list(metadata["filename"]) if names is None else list(names)
    chunks, kept, missing = [], [], []
    for name in wanted:
        gestures = gesture_file(root, name)
        touches = touch_file(root, name)
        if not gestures.is_file() or touches is None:
            missing.append(name)
            continue
        try:
            f, y = _performance_examples(gestures, touches, offset)
        except CorpusFileError as error:
            log.warning("skipped %s", error)
            continue
        chunks.append((f, y, np.full(len(y), len(kept), dtype=np.int32)))
        kept.append(name)
    warn_missing(missing, "gesture or touch file", log)
    if not kept:
        raise CorpusError(f"{root}: no performance has both a gesture file and a touch file")
    log.info("%d performances, %d examples", len(kept), sum(len(c[1]) for c in chunks))
    return Examples(
        np.concatenate([c[0] for c in chunks]),
        np.concatenate([c[1] for c in chunks]).astype(np.int8),
        np.concatenate([c[2] for c in chunks]),
        kept,
    )


# -- fitting ---------------------------------------------------------------------------


def fit(
    features: np.ndarray, labels: np.ndarray, config: TrainConfig = TrainConfig()
) -> TouchClassifier:
    """A :class:`TouchClassifier` trained on raw features and gesture labels.

    ``features`` is ``(n, 8)`` raw window features (:data:`~.touch_features.FEATURE_NAMES`),
    ``labels`` ``(n,)`` gesture codes 0-8. The features go through :func:`transform` and
    scikit-learn's ``StandardScaler``; an ``MLPClassifier`` (ReLU, Adam on the cross-entropy,
    L2 penalty ``config.weight_decay``) is trained for exactly ``config.epochs`` passes. Its
    weights become plain arrays, so the classifier runs with numpy alone. Gestures absent from
    ``labels`` get a logit far below the others, so they are never predicted.

    Raises ``ValueError`` for features that are not ``(n, 8)``, a label count that does not
    match, no examples, or labels outside 0-8; :class:`MissingExtraError` without
    scikit-learn (``pip install 'gesture-rnn[train]'``).
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if features.ndim != 2 or features.shape[1] != NUM_FEATURES or len(labels) != len(features):
        raise ValueError(f"features must be (n, {NUM_FEATURES}) with n labels")
    if len(labels) == 0 or labels.min() < 0 or labels.max() >= NUM_GESTURES:
        raise ValueError("need at least one example, labels 0-8")
    MLPClassifier, StandardScaler, ConvergenceWarning, sklearn_version = _sklearn()
    scaler = StandardScaler().fit(transform(features))
    network = MLPClassifier(
        hidden_layer_sizes=config.hidden,
        activation="relu",
        solver="adam",
        alpha=config.weight_decay,
        batch_size=config.batch,
        learning_rate_init=config.learning_rate,
        max_iter=config.epochs,
        n_iter_no_change=config.epochs + 1,  # always train every epoch asked for
        tol=0.0,
        random_state=config.seed,
    )
    with warnings.catch_warnings():
        # Stopping after config.epochs is the point, not a failure to converge.
        warnings.simplefilter("ignore", ConvergenceWarning)
        network.fit(scaler.transform(transform(features)), labels)
    for epoch, loss in enumerate(network.loss_curve_, start=1):
        log.info("epoch %d/%d: loss %.4f", epoch, config.epochs, loss)
    weights = [np.asarray(w, dtype=np.float64) for w in network.coefs_]
    biases = [np.asarray(b, dtype=np.float64) for b in network.intercepts_]
    weights[-1], biases[-1] = _nine_outputs(weights[-1], biases[-1], network.classes_)
    trainer = f"scikit-learn {sklearn_version} MLPClassifier"
    return TouchClassifier(weights, biases, scaler.mean_, scaler.scale_, {"trainer": trainer})


def _sklearn():
    require("train", "training a touch classifier", "scikit-learn")
    from sklearn import __version__
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    return MLPClassifier, StandardScaler, ConvergenceWarning, __version__


# A logit this far below the rest has probability 0 in float64 (exp(-1e4) underflows).
_ABSENT = -1e4


def _nine_outputs(w: np.ndarray, b: np.ndarray, classes: np.ndarray):
    """The last layer with one column per gesture 0-8.

    scikit-learn has one output per class seen in training, and for two classes a single
    logistic unit (the logit of the second class against the first, which is 0).
    """
    nine_w = np.zeros((w.shape[0], NUM_GESTURES))
    nine_b = np.full(NUM_GESTURES, _ABSENT)
    if len(classes) == 1:
        nine_b[classes[0]] = 0.0
    elif len(classes) == 2:
        nine_b[classes[0]] = 0.0
        nine_w[:, classes[1]] = w[:, 0]
        nine_b[classes[1]] = b[0]
    else:
        nine_w[:, classes] = w
        nine_b[classes] = b
    return nine_w, nine_b


# -- measuring -------------------------------------------------------------------------


def evaluate(model: TouchClassifier, features: np.ndarray, labels: np.ndarray) -> dict:
    """How ``model`` classifies raw ``features`` ``(n, 8)`` against ``labels`` ``(n,)`` 0-8.

    Returns ``examples``, ``accuracy`` (0-1), ``baseline`` (the accuracy of always answering
    the commonest label) and ``baseline_gesture``, ``per_gesture`` (name -> ``count``,
    ``recall`` or None without examples, ``most_confused_with``) and ``confusion`` (9 x 9
    counts, true label by row).
    """
    labels = np.asarray(labels, dtype=np.int64)
    predicted = model.predict(features)
    confusion = np.zeros((NUM_GESTURES, NUM_GESTURES), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    counts = confusion.sum(axis=1)
    majority = int(np.argmax(counts))
    per_gesture = {}
    for g in GESTURES:
        row = confusion[g.code].copy()
        hits = int(row[g.code])
        row[g.code] = -1
        worst = int(np.argmax(row))
        per_gesture[g.name] = {
            "count": int(counts[g.code]),
            "recall": hits / counts[g.code] if counts[g.code] else None,
            "most_confused_with": GESTURES[worst].name if row[worst] > 0 else None,
        }
    return {
        "examples": int(len(labels)),
        "accuracy": float(np.mean(predicted == labels)) if len(labels) else 0.0,
        "baseline": float(counts[majority] / max(len(labels), 1)),
        "baseline_gesture": GESTURES[majority].name,
        "per_gesture": per_gesture,
        "confusion": confusion.tolist(),
    }
