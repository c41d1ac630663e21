"""The fallback: made-up touches per gesture, for when there is no corpus index.

Same interface as :class:`~corpus_index.index.CorpusIndex` (``query``, ``player`` and
``TouchPlayer.next``), so the bridge works out of the box; an index built from the corpus
sounds like the real players, this does not. Each gesture is a small motion model on a
1024 x 768 landscape screen, its rates and step sizes set near the Metatone corpus's
per-gesture medians (touches per second, mean velocity, spread), so that the bundled touch
classifier hears each as its gesture (``gesture-rnn corpus info --round-trip``):

FT  fast taps       ~8 taps/s around a slowly drifting spot, some with a small slide
ST  slow taps       ~2 taps/s, spread wider
FS  fast swipes     short straight strokes (0.1-0.25 s) at ~14 points per event, ~3/s
FSA accelerating    longer strokes whose step grows from ~3 to ~40 points per event
VSS very slow swirl a slow circle of radius ~20 points, ~1 point per event, 25 events/s
BS  big swirl       an ellipse of radii ~280 x 255 points around the middle of the screen,
                    ~20 points per event, 60 events/s (the corpus's spread ~200 x 190)
SS  small swirl     a circle of radius ~50 points, ~9 points per event, 60 events/s
C   combination     about one touch a second, 0.3-0.8 s long, that drags, curls or zigzags
                    at ~5 points per event, starting around a wandering spot

Strokes that run off the screen bounce back in. ``near`` places the motion's centre;
``speed`` scales the step sizes of the moving gestures so their mean velocity comes near
it (within 0.25-4 times the default). A player continues its motion (position, phase,
pending stroke) while the gesture holds.
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
SCREEN = np.array([WIDTH, HEIGHT])
BIG_SWIRL = (280.0, 255.0)  # radii, x and y points: the corpus's BS spreads ~200 x 190
# Mean velocity (points per event) of each gesture's default motion; 0: not scaled.
TYPICAL_SPEED = (0.0, 0.0, 0.0, 14.0, 20.0, 1.0, 20.0, 9.0, 5.0)


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
            return self._swirl(radius=(20.0, 20.0), step=1.0, rate=25.0, seconds=1.0)
        if g == 6:
            return self._swirl(radius=BIG_SWIRL, step=20.0, rate=60.0, seconds=1.0)
        if g == 7:
            return self._swirl(radius=(50.0, 50.0), step=9.0, rate=60.0, seconds=1.0)
        return self._combination()

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

    def _swirl(self, radius: tuple[float, float], step: float, rate: float, seconds: float):
        """An ellipse of radii ``radius`` (x, y points) at ``step`` points per event."""
        rng = self.rng
        n = int(seconds * rate)
        t = self.next_start + np.arange(n) / rate
        self.next_start = t[-1] + 1.0 / rate
        omega = step * self.scale / math.sqrt(radius[0] * radius[1])  # radians per event
        angle = self.angle + omega * np.arange(1, n + 1) * rng.uniform(0.9, 1.1)
        self.angle = float(angle[-1])
        size = min(radius)
        # Away from the edges, as performers swirl (the classifier hears a big swirl at
        # the edge of the screen as a small one).
        margin = (1.15 * radius[0], 1.15 * radius[1])
        before = self.centre
        self.centre = self._on_screen(self.centre + rng.normal(0, size / 10, 2), margin)
        centres = before + np.outer(np.arange(1, n + 1) / n, self.centre - before)  # drifting
        wobble = 1 + rng.normal(0, 0.03, n).cumsum() / math.sqrt(n)
        ring = np.stack([np.cos(angle), np.sin(angle)], 1) * np.outer(wobble, radius)
        touch_down = self.last is None
        segment = self._events(t, centres + ring, touch_down=touch_down)
        self.last = np.array([segment[1][-1], segment[2][-1]])
        return segment

    def _combination(self):
        """C: one touch of 0.3-0.8 s that drags, curls or zigzags at about 5 points per
        event, then a pause of 0.2-0.5 s; the touches start around a wandering spot."""
        rng = self.rng
        n = max(2, int(rng.uniform(0.3, 0.8) * 60))
        t = self.next_start + np.arange(n) / 60.0
        self.next_start = t[-1] + rng.uniform(0.2, 0.5)
        self.centre = self._on_screen(self.centre + rng.normal(0, 30, 2), (100.0, 80.0))
        start = self._on_screen(self.centre + rng.normal(0, (80.0, 55.0)))
        step = 5.0 * self.scale * rng.uniform(0.7, 1.3)
        kind = rng.integers(3)
        k = np.arange(n - 1)
        if kind == 0:  # a drag that wanders
            turn = np.cumsum(rng.normal(0, 0.1, n - 1))
        elif kind == 1:  # a curl, turning steadily
            turn = k * rng.choice([-1.0, 1.0]) * step / rng.uniform(15.0, 40.0)
        else:  # a zigzag, turning back every 0.1-0.2 s
            turn = np.where((k // rng.integers(6, 12)) % 2, 0.8 * math.pi, 0.0)
        angle = rng.uniform(0, 2 * math.pi) + turn
        moves = np.stack([np.cos(angle), np.sin(angle)], 1) * step
        points = start + np.concatenate([[[0.0, 0.0]], np.cumsum(moves, 0)])
        self.last = None
        return self._events(t, points, touch_down=True)

    def _on_screen(self, points, margin=0.0) -> np.ndarray:
        """``points`` clipped to the screen, ``margin`` (points, or x and y) from its edges."""
        mx, my = (margin, margin) if np.isscalar(margin) else margin
        low = (min(mx, WIDTH / 2), min(my, HEIGHT / 2))
        return np.clip(points, low, (WIDTH - low[0], HEIGHT - low[1]))

    def _events(self, t, points, touch_down: bool):
        # Strokes that run off the screen bounce back in: clipping them would repeat the
        # edge point, a move of 0 points, which reads as a touch-down.
        points = np.abs(points) % (2 * SCREEN)
        points = np.where(points > SCREEN, 2 * SCREEN - points, points)
        before = points[0] if touch_down or self.last is None else self.last
        moved = np.diff(points, axis=0, prepend=before[None, :])
        velocity = np.hypot(moved[:, 0], moved[:, 1])
        if touch_down:
            velocity[0] = 0.0
        return [np.asarray(t, dtype=np.float64), points[:, 0], points[:, 1], velocity]
