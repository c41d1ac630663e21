"""The nine Metatone touch gestures, parsing them, and ensemble state codes.

An ensemble state of k players is one integer, ``sum(g_i * 9**i)``, player 0 being
the least significant digit. This is the encoding of the original Gesture-RNN.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

__all__ = [
    "GESTURES",
    "GESTURE_NAMES",
    "NUM_GESTURES",
    "Gesture",
    "GestureError",
    "parse_gesture",
    "gesture_name",
    "encode_ensemble",
    "decode_ensemble",
    "num_states",
]


@dataclass(frozen=True)
class Gesture:
    code: int
    name: str
    description: str


GESTURES: tuple[Gesture, ...] = (
    Gesture(0, "N", "nothing"),
    Gesture(1, "FT", "fast taps"),
    Gesture(2, "ST", "slow taps"),
    Gesture(3, "FS", "fast swipes"),
    Gesture(4, "FSA", "fast swipes accelerating"),
    Gesture(5, "VSS", "very slow swirl"),
    Gesture(6, "BS", "big swirl"),
    Gesture(7, "SS", "small swirl"),
    Gesture(8, "C", "combination"),
)
NUM_GESTURES = len(GESTURES)
GESTURE_NAMES: tuple[str, ...] = tuple(g.name for g in GESTURES)
_BY_NAME = {g.name: g.code for g in GESTURES}
_ALLOWED = f"an integer 0-8, a whole-number float 0.0-8.0, or a name ({', '.join(GESTURE_NAMES)})"


class GestureError(ValueError):
    """A value that is not one of the nine gestures."""


def parse_gesture(value: object) -> int:
    """Return the gesture code 0-8 for an int, a whole-number float or a name.

    Pure Data sends every number as a float, so ``3.0`` is gesture 3; names match in
    any case (``"fs"``, ``"FSA"``); digits only as ASCII (``"3"``). Anything else raises
    :class:`GestureError`, whose message shows at most the first 40 characters of the value.
    Plain ints 0-8 return first: the runtime and the touch index call this every tick.
    """
    if type(value) is int and 0 <= value < NUM_GESTURES:
        return value
    if isinstance(value, bool | np.bool_):
        raise GestureError(f"received a boolean {_shown(value)}; expected {_ALLOWED}")
    if isinstance(value, Integral):
        code = int(value)
    elif isinstance(value, Real):
        number = float(value)
        if not math.isfinite(number) or not number.is_integer():
            raise GestureError(f"received {_shown(value)}, not a whole number; expected {_ALLOWED}")
        code = int(number)
    elif isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        key = text.strip().upper()
        if key in _BY_NAME:
            return _BY_NAME[key]
        if key.isascii() and key.isdigit():  # int() also reads "²" and "٣", or fails
            code = int(key) if len(key) <= 9 else NUM_GESTURES  # more digits: out of range
        else:
            raise GestureError(f"received the name {_shown(text)}; expected {_ALLOWED}")
    else:
        raise GestureError(f"received {type(value).__name__} {_shown(value)}; expected {_ALLOWED}")
    if not 0 <= code < NUM_GESTURES:
        raise GestureError(f"received {_shown(value)}, out of range; expected {_ALLOWED}")
    return code


# reprlib, not repr: a message shows at most 40 characters and 2 levels of an input
# (repr of an array nested 1,000 deep recurses past Python's limit).
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 2, 40, 40, 40


def _shown(value: object) -> str:
    return _SHORT.repr(value)


def gesture_name(value: object) -> str:
    """The short name (``"FS"``) of anything :func:`parse_gesture` accepts."""
    return GESTURE_NAMES[parse_gesture(value)]


def num_states(players: int) -> int:
    """How many joint states an ensemble of ``players`` has (9**players)."""
    return NUM_GESTURES**players


def _place_values(players: int) -> np.ndarray:
    return NUM_GESTURES ** np.arange(players, dtype=np.int64)


def encode_ensemble(gestures) -> np.ndarray | int:
    """Encode gestures along the last axis into one state: ``sum(g_i * 9**i)``.

    ``encode_ensemble([1, 0, 2]) == 1 + 2 * 81``; an array of shape (..., k) gives
    an int64 array of shape (...). A plain sequence gives a Python int.
    """
    array = np.asarray(gestures)
    if array.ndim == 0:
        raise GestureError("encode_ensemble needs one gesture per player, got a single value")
    if array.dtype.kind not in "iu":
        raise GestureError(f"ensemble gestures must be integers 0-8, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= NUM_GESTURES):
        bad = array[(array < 0) | (array >= NUM_GESTURES)].flat[0]
        raise GestureError(f"ensemble gesture {bad} is outside 0-8")
    codes = array.astype(np.int64) @ _place_values(array.shape[-1])
    return int(codes) if codes.ndim == 0 else codes


def decode_ensemble(codes, players: int) -> np.ndarray | tuple[int, ...]:
    """Inverse of :func:`encode_ensemble`: states to gestures of ``players`` players.

    An int gives a tuple of ints; an array of shape (...) gives shape (..., players).
    """
    if players < 1:
        raise GestureError(f"an ensemble has at least one player, got {players}")
    array = np.asarray(codes)
    if array.dtype.kind not in "iu":
        raise GestureError(f"ensemble states must be integers, got dtype {array.dtype}")
    limit = num_states(players)
    if array.size and (array.min() < 0 or array.max() >= limit):
        raise GestureError(f"ensemble state outside 0-{limit - 1} for {players} players")
    gestures = (array.astype(np.int64)[..., None] // _place_values(players)) % NUM_GESTURES
    if array.ndim == 0:
        return tuple(int(g) for g in gestures)
    return gestures
