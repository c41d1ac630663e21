"""Train and measure the touch classifier on the corpus's touches and posthoc labels.

Training data: for every performance with a gesture file and a touch file, every row of
the gesture file (time ``T``, one label per performer) gives one example per performer: the
features of that performer's touches in ``[T - 5 s, T]`` (the window the original
classifier saw), with the row's label as target. Performances are split whole into
training and held-out sets, seeded. Training is plain numpy: mini-batch Adam on the
softmax cross-entropy. Needs pandas (reading the corpus); the classifier it makes does not.
"""

from __future__ import annotations

import logging
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
)
from .errors import CorpusError
from .gestures import GESTURES, NUM_GESTURES
from .touch_classifier import TouchClassifier, transform
from .touch_features import NUM_FEATURES, features_at

log = logging.getLogger(__name__)

__all__ = [
    "Examples",
    "TrainConfig",
    "corpus_examples",
    "evaluate",
    "fit",
    "split_performances",
]


@dataclass(frozen=True)
class TrainConfig:
    hidden: tuple[int, ...] = (32,)  # () is multinomial logistic regression
    epochs: int = 12
    batch: int = 256
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    seed: int = 0


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

    ``offset`` shifts each window's end from the row's time (seconds; 0 is the original's).
    """
    root = Path(root)
    metadata = read_metadata(root)
    wanted = list(metadata["filename"]) if names is None else list(names)
    chunks, kept = [], []
    for name in wanted:
        gestures = gesture_file(root, name)
        touches = touch_file(root, name)
        if not gestures.is_file() or touches is None:
            log.debug("%s: skipped, it lacks a gesture or touch file", name)
            continue
        try:
            f, y = _performance_examples(gestures, touches, offset)
        except CorpusFileError as error:
            log.warning("skipped %s", error)
            continue
        chunks.append((f, y, np.full(len(y), len(kept), dtype=np.int32)))
        kept.append(name)
    if not kept:
        raise CorpusError(f"{root}: no performance has both a gesture file and a touch file")
    log.info("%d performances, %d examples", len(kept), sum(len(c[1]) for c in chunks))
    return Examples(
        np.concatenate([c[0] for c in chunks]),
        np.concatenate([c[1] for c in chunks]).astype(np.int8),
        np.concatenate([c[2] for c in chunks]),
        kept,
    )


def split_performances(names: list[str], held_out: float, seed: int) -> tuple[list[str], list[str]]:
    """(training, held-out) names: a seeded shuffle, ``held_out`` of them (at least 1) aside."""
    if not 0 < held_out < 1:
        raise ValueError(f"held_out must be between 0 and 1, got {held_out}")
    if len(names) < 2:
        raise CorpusError("need at least 2 performances to hold some out")
    order = np.random.default_rng(seed).permutation(len(names))
    k = min(len(names) - 1, max(1, round(held_out * len(names))))
    test = sorted(names[i] for i in order[:k])
    train = sorted(names[i] for i in order[k:])
    return train, test


# -- fitting ---------------------------------------------------------------------------


def fit(features: np.ndarray, labels: np.ndarray, config: TrainConfig = TrainConfig()):
    """A :class:`TouchClassifier` trained on raw features ``(n, 8)`` and labels 0-8."""
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if features.ndim != 2 or features.shape[1] != NUM_FEATURES or len(labels) != len(features):
        raise ValueError(f"features must be (n, {NUM_FEATURES}) with n labels")
    if len(labels) == 0 or labels.min() < 0 or labels.max() >= NUM_GESTURES:
        raise ValueError("need at least one example, labels 0-8")
    rng = np.random.default_rng(config.seed)
    z = transform(features)
    mean, std = z.mean(axis=0), z.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    z = (z - mean) / std
    sizes = [NUM_FEATURES, *config.hidden, NUM_GESTURES]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        params += [rng.normal(0.0, np.sqrt(2.0 / a), (a, b)), np.zeros(b)]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    step = 0
    n = len(labels)
    for epoch in range(config.epochs):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, config.batch):
            idx = order[start : start + config.batch]
            loss, grads = _loss_and_grads(params, z[idx], labels[idx], config.weight_decay)
            total += loss * len(idx)
            step += 1
            for p, g, m, s in zip(params, grads, moments, squares, strict=True):
                m *= 0.9
                m += 0.1 * g
                s *= 0.999
                s += 0.001 * g * g
                p -= (
                    config.learning_rate
                    * (m / (1 - 0.9**step))
                    / (np.sqrt(s / (1 - 0.999**step)) + 1e-8)
                )
        log.info("epoch %d/%d: loss %.4f", epoch + 1, config.epochs, total / n)
    return TouchClassifier(params[0::2], params[1::2], mean, std)


def _loss_and_grads(params, z, y, decay):
    activations = [z]
    h = z
    last = len(params) // 2 - 1
    for i in range(last + 1):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < last:
            h = np.maximum(h, 0.0)
        activations.append(h)
    logits = activations[-1]
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(-np.log(p[rows, y] + 1e-12).mean())
    delta = p
    delta[rows, y] -= 1.0
    delta /= len(y)
    grads = [None] * len(params)
    for i in range(last, -1, -1):
        grads[2 * i] = activations[i].T @ delta + decay * params[2 * i]
        grads[2 * i + 1] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ params[2 * i].T) * (activations[i] > 0)
    return loss, grads


# -- measuring -------------------------------------------------------------------------


def evaluate(model: TouchClassifier, features: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, the majority-class baseline, and per-gesture recall and confusions."""
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
