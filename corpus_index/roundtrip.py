"""The round trip: do a touch source's touches read back as the gesture they were asked for?

The model imagines gestures, a touch source (a corpus index or the procedural fallback)
turns them into touches, and a listener (a patch, a person) hears touches. A virtual player
plays gesture ``g`` for five one-second ticks, as the bridge's Session asks its touch source
(``source.player(rng)``, then ``player.next(g, 1.0)`` once a tick), and a touch classifier
classifies those five seconds of touches as the bridge classifies the lead's (the unit
screen scaled to ``LEAD_SCREEN``, the velocity as given). It should name ``g`` back::

    import corpus_index
    from corpus_index.roundtrip import round_trip
    from gesture_rnn import touch_classifier

    report = round_trip(corpus_index.open(None), touch_classifier.load(), trials=60, seed=0)
    report.accuracy          # (9,) share of trials heard as the gesture played
    report.mean              # their mean over the nine gestures (N included)

``gesture-rnn corpus info --round-trip [INDEX]`` prints it (docs/corpus-index.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gesture_rnn.gestures import GESTURE_NAMES, NUM_GESTURES
from gesture_rnn.touch_features import LEAD_SCREEN, WINDOW_SECONDS

__all__ = ["TICK_SECONDS", "RoundTrip", "round_trip"]

TICK_SECONDS = 1.0
TICKS = round(WINDOW_SECONDS / TICK_SECONDS)  # five ticks fill the classifier's window


@dataclass(frozen=True)
class RoundTrip:
    """``confusion[g, h]``: trials in which gesture ``g`` was played and ``h`` heard."""

    confusion: np.ndarray  # (9, 9) int64
    trials: int  # per gesture
    seed: int | None

    @property
    def accuracy(self) -> np.ndarray:
        """(9,) float: the share of each gesture's trials heard as that gesture."""
        return np.diag(self.confusion) / self.trials

    @property
    def mean(self) -> float:
        """Mean accuracy over the nine gestures (N, always heard right, included)."""
        return float(self.accuracy.mean())

    def heard_as(self, gesture: int) -> int | None:
        """The gesture ``gesture`` was most often heard as instead, or None if never wrong."""
        wrong = self.confusion[gesture].copy()
        wrong[gesture] = 0
        return int(np.argmax(wrong)) if wrong.any() else None

    def as_dict(self) -> dict:
        """Plain types for JSON."""
        gestures = {}
        for g in range(NUM_GESTURES):
            other = self.heard_as(g)
            gestures[GESTURE_NAMES[g]] = {
                "accuracy": float(self.accuracy[g]),
                "most_often_heard_as": None if other is None else GESTURE_NAMES[other],
                "heard_as": {
                    GESTURE_NAMES[h]: int(n) for h, n in enumerate(self.confusion[g]) if n
                },
            }
        return {
            "trials_per_gesture": self.trials,
            "seed": self.seed,
            "ticks": TICKS,
            "tick_seconds": TICK_SECONDS,
            "mean_accuracy": self.mean,
            "gestures": gestures,
        }


def round_trip(source, classifier, trials: int = 60, seed: int | None = 0) -> RoundTrip:
    """Play each of the nine gestures ``trials`` times and classify what was played.

    ``source``: anything with ``player(rng)`` whose players have ``next(gesture,
    duration)`` returning a ``TouchSequence`` (a ``CorpusIndex``, a ``ProceduralIndex``).
    ``classifier``: anything with ``classify_touches(x, y, velocity)`` taking screen points
    of ``LEAD_SCREEN`` (a ``TouchClassifier``). Each trial is a new player, made from one
    generator seeded with ``seed``, as the bridge's Session makes its players from its own.
    """
    if trials < 1:
        raise ValueError(f"trials must be at least 1, got {trials}")
    rng = np.random.default_rng(seed)
    width, height = LEAD_SCREEN
    confusion = np.zeros((NUM_GESTURES, NUM_GESTURES), dtype=np.int64)
    for g in range(NUM_GESTURES):
        for _ in range(trials):
            player = source.player(rng)
            ticks = [player.next(g, TICK_SECONDS) for _ in range(TICKS)]
            x = np.concatenate([seq.x for seq in ticks]) * width
            y = np.concatenate([seq.y for seq in ticks]) * height
            velocity = np.concatenate([seq.velocity for seq in ticks])
            confusion[g, classifier.classify_touches(x, y, velocity)] += 1
    return RoundTrip(confusion, trials, seed)
