"""What a query returns: a touch sequence, and where its touches came from.

Both the corpus index and the procedural fallback return :class:`TouchSequence`, so the
bridge plays either the same way: event ``i`` happens ``t[i]`` seconds after the start of
the tick, at ``(x[i], y[i])`` on a unit screen (0-1, origin top left), having moved
``velocity[i]`` screen points since the event before it (0 at touch-down).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["Span", "TouchSequence", "empty_sequence", "as_generator"]


class Span(NamedTuple):
    """A stretch of one source: ``stream`` (see ``CorpusIndex.stream_info``; -1 for the
    procedural fallback) from ``start`` to ``end``, in that stream's own seconds."""

    stream: int
    start: float
    end: float


@dataclass(eq=False, slots=True)
class TouchSequence:
    """Touch events of one virtual player for ``duration`` seconds.

    ``t`` (float64) is sorted and within ``[0, duration)``; ``x``, ``y`` (float32) are
    within 0-1; ``velocity`` (float32) is in screen points moved since the last event.
    ``sources`` says which stretches of which sources were played, in order.
    """

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    velocity: np.ndarray
    duration: float
    gesture: int
    sources: tuple[Span, ...] = ()

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def empty(self) -> bool:
        return self.t.shape[0] == 0

    def points(self, width: float = 1024.0, height: float = 768.0) -> tuple[np.ndarray, ...]:
        """x and y in screen points of a ``width`` x ``height`` screen."""
        return self.x * np.float32(width), self.y * np.float32(height)


_NO_TIME = np.zeros(0, dtype=np.float64)
_NO_VALUE = np.zeros(0, dtype=np.float32)
for _array in (_NO_TIME, _NO_VALUE):
    _array.flags.writeable = False


def empty_sequence(gesture: int, duration: float) -> TouchSequence:
    """No touching (gesture 0, N)."""
    return TouchSequence(_NO_TIME, _NO_VALUE, _NO_VALUE, _NO_VALUE, duration, gesture)


def as_generator(rng) -> np.random.Generator:
    """A numpy Generator from a Generator, a seed (int) or None (fresh entropy).

    Passing a Generator is the fast path: making one from a seed costs ~20 us.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def check_duration(duration: float) -> float:
    try:
        duration = float(duration)
    except (TypeError, ValueError):
        raise ValueError(f"duration must be a number of seconds, got {duration!r}") from None
    if not 0.0 < duration < math.inf:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    return duration


def check_near(near) -> tuple[float, float] | None:
    if near is None:
        return None
    try:
        x, y = (float(v) for v in near)
    except (TypeError, ValueError):
        raise ValueError(f"near must be an (x, y) pair in 0-1, got {near!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"near must be finite, got {near!r}")
    return min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)


def check_speed(speed) -> float | None:
    if speed is None:
        return None
    try:
        value = float(speed)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value < math.inf:
        raise ValueError(f"speed must be a velocity >= 0 (screen points per event), got {speed!r}")
    return value
