"""The fallback: made-up touches per gesture, for when there is no corpus index.

Same interface as :class:`~corpus_index.index.CorpusIndex` (``query``, ``player`` and
``TouchPlayer.next``), so the bridge works out of the box; an index built from the corpus
sounds like the real players, this does not. Each gesture is a small motion model on a
1024 x 768 landscape screen, its rates and step sizes set near the Metatone corpus's
per-gesture medians (touches per second, mean velocity, spread):

FT  fast taps       ~8 taps/s around a slowly drifting spot, some with a small slide
ST  slow taps       ~2 taps/s, spread wider
FS  fast swipes     short straight strokes (0.1-0.25 s) at ~14 points per event, ~3/s
FSA accelerating    longer strokes whose step grows from ~3 to ~40 points per event
VSS very slow swirl a slow circle of radius ~20 points, ~1 point per event, 25 events/s
BS  big swirl       a circle of radius ~180 points, ~20 points per event, 60 events/s
SS  small swirl     a circle of radius ~50 points, ~9 points per event, 60 events/s
C   combination     half-second bursts of taps, a swipe or a small swirl, at random

``near`` places the motion's centre; ``speed`` scales the step sizes of the moving
gestures so their mean velocity comes near it (within 0.25-4 times the default).
A player continues its motion (position, phase, pending stroke) while the gesture holds.
"""

from __future__ import annotations

import math

import numpy as np

from gesture_rnn.gestures import parse_gesture

from .sequence import (
    Span,
    TouchSequence,
    as_generator,
    check_duration,
    check_near,
    check_speed,
    empty_sequence,
)

WIDTH, HEIGHT = 1024.0, 768.0
# Mean velocity (points per event) of each gesture's default motion; 0: not scaled.
TYPICAL_SPEED = (0.0, 0.0, 0.0, 14.0, 20.0, 1.0, 20.0, 9.0, 8.0)


class ProceduralIndex:
    """Procedural touch sequences per gesture; see the module docstring."""

    kind = "procedural"
    path = None

    def __init__(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def query(
        self, gesture, duration: float = 1.0, rng=None, near=None, speed=None
    ) -> TouchSequence:
        """Touches of ``gesture`` for ``duration`` seconds, from a fresh motion."""
        return ProceduralPlayer(self, self._rng if rng is None else as_generator(rng)).next(
            gesture, duration, near, speed
        )

    def player(self, seed=None) -> ProceduralPlayer:
        return ProceduralPlayer(self, as_generator(seed))


class ProceduralPlayer:
    """One virtual player; continues its motion while the gesture stays the same."""

    def __init__(self, index: ProceduralIndex, rng: np.random.Generator):
        self.index = index
        self.rng = rng
        self._motion: _Motion | None = None

    def next(self, gesture, duration: float = 1.0, near=None, speed=None) -> TouchSequence:
        g = parse_gesture(gesture)
        duration = check_duration(duration)
        if g == 0:
            self._motion = None
            return empty_sequence(0, duration)
        near, speed = check_near(near), check_speed(speed)
        if self._motion is None or self._motion.gesture != g:
            self._motion = _Motion(g, self.rng, near, speed)
        start = self._motion.clock
        t, x, y, v = self._motion.advance(duration)
        return TouchSequence(
            t,
            np.clip(x / WIDTH, 0, 1).astype(np.float32),
            np.clip(y / HEIGHT, 0, 1).astype(np.float32),
            v.astype(np.float32),
            duration,
            g,
            (Span(-1, start, self._motion.clock),),
        )

    def reset(self) -> None:
        self._motion = None


class _Motion:
    """Events of one gesture in its own time; ``advance`` hands them out window by window."""

    def __init__(self, gesture: int, rng: np.random.Generator, near, speed):
        self.gesture = gesture
        self.rng = rng
        if near is None:
            self.centre = np.array([rng.uniform(200, 824), rng.uniform(150, 618)])
        else:
            self.centre = np.array([near[0] * WIDTH, near[1] * HEIGHT])
        typical = TYPICAL_SPEED[gesture]
        self.scale = 1.0 if speed is None or not typical else min(max(speed / typical, 0.25), 4.0)
        self.clock = 0.0
        self.next_start = rng.uniform(0.0, 0.2)
        self.angle = rng.uniform(0, 2 * math.pi)
        self.last: np.ndarray | None = None  # last point of a continuing touch
        self.pending = [np.zeros(0)] * 4

    def advance(self, duration: float):
        end = self.clock + duration
        self._fill(end)
        t = self.pending[0]
        if not len(t) or t[0] >= end:
            # Never empty: skip the silence to the next touch, as the index does.
            self.clock = float(t[0])
            end = self.clock + duration
            self._fill(end)
            t = self.pending[0]
        n = int(np.searchsorted(t, end, side="left"))
        out = [p[:n] for p in self.pending]
        self.pending = [p[n:] for p in self.pending]
        out[0] = out[0] - self.clock
        self.clock = end
        return out

    def _fill(self, end: float) -> None:
        segments = [self.pending]
        last = self.pending[0][-1] if len(self.pending[0]) else -math.inf
        while last < end:
            segments.append(self._segment())
            last = segments[-1][0][-1]
        if len(segments) > 1:
            self.pending = [np.concatenate(column) for column in zip(*segments, strict=True)]

    # -- one segment of each kind: (t, x, y, velocity) -----------------------------------

    def _segment(self):
        g = self.gesture
        if g == 1:
            return self._taps(period=0.125, spread=60.0, slide=0.5, count=8)
        if g == 2:
            return self._taps(period=0.55, spread=120.0, slide=0.1, count=2)
        if g == 3:
            return self._swipe(seconds=(0.1, 0.25), step=(14.0, 14.0), gap=(0.1, 0.3))
        if g == 4:
            return self._swipe(seconds=(0.4, 0.7), step=(3.0, 40.0), gap=(0.2, 0.5))
        if g == 5:
            return self._swirl(radius=20.0, step=1.0, rate=25.0, seconds=1.0)
        if g == 6:
            return self._swirl(radius=180.0, step=20.0, rate=60.0, seconds=1.0)
        if g == 7:
            return self._swirl(radius=50.0, step=9.0, rate=60.0, seconds=1.0)
        kind = self.rng.integers(3)  # C: a burst of taps, a swipe or a small swirl
        self.last = None
        if kind == 0:
            return self._taps(period=0.125, spread=60.0, slide=0.5, count=4)
        if kind == 1:
            return self._swipe(seconds=(0.1, 0.3), step=(10.0, 18.0), gap=(0.05, 0.2))
        segment = self._swirl(radius=50.0, step=9.0, rate=60.0, seconds=0.5)
        self.last = None
        return segment

    def _taps(self, period: float, spread: float, slide: float, count: int):
        """``count`` taps around a drifting spot; some slide a little after touch-down."""
        rng = self.rng
        gaps = period * rng.uniform(0.6, 1.4, count)
        t = self.next_start + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
        self.next_start = float(t[-1] + gaps[-1])
        drift = np.cumsum(rng.normal(0, spread / 6, (count, 2)), axis=0)
        centres = self._on_screen(self.centre + drift, margin=spread)
        self.centre = centres[-1]
        points = self._on_screen(centres + rng.normal(0, spread, (count, 2)))
        velocity = np.zeros(count)
        slides = np.flatnonzero(rng.random(count) < slide)
        if len(slides):
            moved = rng.normal(0, 2.0, (len(slides), 2))
            t = np.concatenate([t, t[slides] + rng.uniform(0.01, 0.03, len(slides))])
            points = np.concatenate([points, self._on_screen(points[slides] + moved)])
            velocity = np.concatenate([velocity, np.hypot(moved[:, 0], moved[:, 1])])
            order = np.argsort(t, kind="stable")
            t, points, velocity = t[order], points[order], velocity[order]
        return [t, points[:, 0], points[:, 1], velocity]

    def _swipe(self, seconds, step, gap):
        rng = self.rng
        n = max(2, int(rng.uniform(*seconds) * 60))
        t = self.next_start + np.arange(n) / 60.0
        self.next_start = t[-1] + rng.uniform(*gap)
        ramp = np.linspace(0, 1, n - 1) ** 2
        steps = (step[0] + (step[1] - step[0]) * ramp) * self.scale * rng.uniform(0.8, 1.2)
        angle = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, 0.03, n - 1))
        moves = np.stack([np.cos(angle), np.sin(angle)], 1) * steps[:, None]
        start = self._on_screen(self.centre + rng.normal(0, 100, 2))
        points = start + np.concatenate([[[0.0, 0.0]], np.cumsum(moves, 0)])
        return self._events(t, points, touch_down=True)

    def _swirl(self, radius: float, step: float, rate: float, seconds: float):
        rng = self.rng
        n = int(seconds * rate)
        t = self.next_start + np.arange(n) / rate
        self.next_start = t[-1] + 1.0 / rate
        omega = step * self.scale / radius  # radians per event
        angle = self.angle + omega * np.arange(1, n + 1) * rng.uniform(0.9, 1.1)
        self.angle = float(angle[-1])
        self.centre = self._on_screen(self.centre + rng.normal(0, radius / 10, 2), radius)
        wobble = 1 + rng.normal(0, 0.03, n).cumsum() / math.sqrt(n)
        ring = np.stack([np.cos(angle), np.sin(angle)], 1) * (radius * wobble)[:, None]
        touch_down = self.last is None
        segment = self._events(t, self.centre + ring, touch_down=touch_down)
        self.last = np.array([segment[1][-1], segment[2][-1]])
        return segment

    def _on_screen(self, points, margin: float = 0.0) -> np.ndarray:
        low = (min(margin, WIDTH / 2), min(margin, HEIGHT / 2))
        return np.clip(points, low, (WIDTH - low[0], HEIGHT - low[1]))

    def _events(self, t, points, touch_down: bool):
        points = np.clip(points, 0, (WIDTH, HEIGHT))
        before = points[0] if touch_down or self.last is None else self.last
        moved = np.diff(points, axis=0, prepend=before[None, :])
        velocity = np.hypot(moved[:, 0], moved[:, 1])
        if touch_down:
            velocity[0] = 0.0
        return [np.asarray(t, dtype=np.float64), points[:, 0], points[:, 1], velocity]
