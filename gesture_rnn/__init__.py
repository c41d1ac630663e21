"""Gesture-RNN: a neural touch-screen ensemble that answers a solo performer.

The public API, re-exported here; each module has one job:

- :mod:`gesture_rnn.gestures`: the nine gestures and ensemble state codes
- :mod:`gesture_rnn.corpus`: loading the Metatone corpus
- :mod:`gesture_rnn.prepare`: training data (lead + ensemble before -> ensemble next)
"""

from .corpus import (
    CorpusError,
    Performance,
    Selection,
    load_corpus,
    read_metadata,
    select_performances,
)
from .gestures import (
    GESTURE_NAMES,
    GESTURES,
    NUM_GESTURES,
    Gesture,
    GestureError,
    decode_ensemble,
    encode_ensemble,
    gesture_name,
    parse_gesture,
)
from .prepare import TrainingSequences, build_sequences

__version__ = "0.1.0"

__all__ = [
    "GESTURES",
    "GESTURE_NAMES",
    "NUM_GESTURES",
    "CorpusError",
    "Gesture",
    "GestureError",
    "Performance",
    "Selection",
    "TrainingSequences",
    "build_sequences",
    "decode_ensemble",
    "encode_ensemble",
    "gesture_name",
    "load_corpus",
    "parse_gesture",
    "read_metadata",
    "select_performances",
]
