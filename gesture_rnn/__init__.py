"""Gesture-RNN: a neural touch-screen ensemble that answers a solo performer.

The public API, re-exported here; each module has one job:

- :mod:`gesture_rnn.gestures`: the nine gestures and ensemble state codes
- :mod:`gesture_rnn.corpus`: loading the Metatone corpus
- :mod:`gesture_rnn.prepare`: training data (lead + the others before -> the others next)
- :mod:`gesture_rnn.runtime`: running an exported model with numpy alone

Only the gestures are imported eagerly: the runtime and the bridge must start fast, so
pandas (used by the corpus modules) is imported only when those names are first used.
"""

from importlib import import_module

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

__version__ = "0.1.0"

_LAZY = {
    "CorpusError": "corpus",
    "Performance": "corpus",
    "Selection": "corpus",
    "load_corpus": "corpus",
    "read_metadata": "corpus",
    "select_performances": "corpus",
    "TrainingSequences": "prepare",
    "build_sequences": "prepare",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GESTURES",
    "GESTURE_NAMES",
    "NUM_GESTURES",
    "Gesture",
    "GestureError",
    "decode_ensemble",
    "encode_ensemble",
    "gesture_name",
    "parse_gesture",
    *_LAZY,
]
