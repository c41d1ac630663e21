"""The loaded corpus index: touch sequences by gesture, and players that continue them.

A query picks a *candidate* second of the gesture (one with touches; see choice.py for
``near`` and ``speed``), preferring one from which the label holds for the touch
classifier's five-second window (PHRASE_SECONDS), and plays that performer's touches from
the start of the second on, for ``duration`` seconds. When the performer's label changes
before the duration is up, the rest comes from another pick. A :class:`TouchPlayer` keeps
its place instead: as long as it is asked for the same gesture and the source performer's
label stays the same, each call continues where the last one stopped, so phrases run on as
they were played.

Never empty for gestures 1-8: a stretch that would hold no touch at all (a pause in slow
taps, a short duration) skips ahead to the source's next touch of the same run, or picks
again. Gesture 0 (N) is always empty. A gesture the index has no candidates for (only
possible with a tiny corpus) is played by the procedural fallback, with a warning at load.
"""

from __future__ import annotations

import bisect
import logging
import math
from pathlib import Path

import numpy as np

from gesture_rnn.gestures import GESTURE_NAMES, NUM_GESTURES, parse_gesture
from gesture_rnn.touch_features import WINDOW_SECONDS

from . import choice
from .sequence import (
    Span,
    TouchSequence,
    as_generator,
    check_duration,
    check_near,
    check_speed,
    empty_sequence,
)
from .storage import event_times, event_velocity, point_tables, read_index, second_times

log = logging.getLogger(__name__)

_EPSILON = 1e-9  # seconds; below this a remaining duration is rounding noise

# A jump to a new source prefers a second from which the performer's label holds for at
# least the touch classifier's window: the label of a slot describes the five seconds around
# it, and a short run is mostly a performer passing between gestures. Five seconds stitched
# from several short runs read as another gesture (docs/corpus-index.md, "The round trip").
PHRASE_SECONDS = round(WINDOW_SECONDS)
PICKS = 8  # tries per jump; the best of them when none holds that long


def load(path: str | Path, seed=None) -> CorpusIndex:
    """Load an index file; :class:`~corpus_index.storage.IndexFileError` if unusable.

    ``seed`` seeds the generator that queries use when they are given no ``rng``.
    """
    arrays, attrs = read_index(path)
    return CorpusIndex(arrays, attrs, path=Path(path), seed=seed)


class _State:
    """Where a player is: a stream, a time in it, and the end of the current run."""

    __slots__ = ("gesture", "base", "cursor", "run_end", "run_end_time", "stream", "fallback")

    def __init__(self):
        self.gesture = -1
        self.stream = -1
        self.fallback = None


class CorpusIndex:
    """Real touches by gesture. Made by :func:`load`; query with :meth:`query`."""

    kind = "corpus"

    def __init__(self, arrays: dict, attrs: dict, path: Path | None = None, seed=None):
        self.path = path
        self.label_lag = int(attrs["label_lag"])
        self.grid = int(attrs["grid"])
        self.speed_edges = [float(e) for e in attrs["speed_edges"]]
        self.n_bins = len(self.speed_edges) + 1
        self._rng = np.random.default_rng(seed)

        # Seconds: which stream, which slot (= start time in the stream), run ends.
        starts = arrays["seconds/event_start"]
        self.labels = arrays["seconds/label"]
        second_stream, second_time = second_times(arrays)
        n_seconds = len(self.labels)
        change = np.ones(n_seconds + 1, dtype=bool)
        change[1:-1] = (self.labels[1:] != self.labels[:-1]) | (
            second_stream[1:] != second_stream[:-1]
        )
        run_starts = np.flatnonzero(change)
        run_end = run_starts[np.searchsorted(run_starts, np.arange(n_seconds), side="right")]
        stream_starts = arrays["streams/second_start"]
        self.second_start = self._starts = starts  # events of second k: [k] to [k+1]
        self.second_stream = self._second_stream = second_stream.astype(np.int32)
        self._second_time = second_time
        self._run_end = run_end.astype(np.int32)  # one past the last second of its run
        self._base = (stream_starts[:-1] - arrays["streams/first_slot"]).tolist()

        # Events: times (float64; a query hands out a slice of them and bisects them),
        # points as stored (half points; points() turns the few a query returns into
        # unit-screen ones) and velocity (derived from neighbouring points, so once,
        # here): 16 bytes an event, 38 MB for the 2.5 M events of the shared corpus.
        self.t = event_times(arrays, second_time)
        self._x_half, self._y_half = arrays["events/x_half"], arrays["events/y_half"]
        self.screens = list(zip(arrays["screens/width"], arrays["screens/height"], strict=True))
        self._point_tables = point_tables(arrays)  # per screen: half point -> 0-1
        self._screen_runs = arrays["screen_runs/start"].tolist()  # a few hundred
        self._run_screen = arrays["screen_runs/screen"].tolist()
        self.velocity = event_velocity(arrays)
        for array in (self.t, self.velocity):
            array.flags.writeable = False  # queries hand out views of these

        self._items = arrays["choice/items"]
        self._tables = {name: arrays[f"choice/{name}"].tolist() for name in choice.TABLES}
        self.manifest = {
            key.split("/", 1)[1]: value
            for key, value in arrays.items()
            if key.startswith("performances/")
        }
        self.skipped = list(zip(arrays["skipped/name"], arrays["skipped/reason"], strict=True))
        self.stream_performance = arrays["streams/performance"]
        self.stream_player = arrays["streams/player"]
        self._fallback = None
        self.missing = [g for g, (lo, hi) in enumerate(self._tables["all"]) if g and lo == hi]
        if self.missing:
            names = ", ".join(GESTURE_NAMES[g] for g in self.missing)
            log.warning(
                "%s has no touches of %s; the procedural fallback plays %s",
                path or "the index",
                names,
                "them" if len(self.missing) > 1 else "it",
            )

    # -- queries -----------------------------------------------------------------------

    def query(
        self, gesture, duration: float = 1.0, rng=None, near=None, speed=None
    ) -> TouchSequence:
        """Touches of ``gesture`` for ``duration`` seconds from a random source.

        ``rng``: a numpy Generator (fastest), a seed, or None for the index's own
        generator. ``near``: an (x, y) in 0-1 to prefer sources touching around there.
        ``speed``: a velocity (screen points per event) to prefer sources moving at it.
        """
        return self._take(_State(), gesture, duration, rng, near, speed)

    def player(self, seed=None) -> TouchPlayer:
        """A stateful player that continues its source while the gesture holds."""
        return TouchPlayer(self, seed)

    def _take(self, state: _State, gesture, duration, rng, near, speed) -> TouchSequence:
        # Fast paths for the usual argument types: the bridge calls this every tick.
        g = parse_gesture(gesture)  # returns plain ints 0-8 first
        if type(duration) is not float or not 0.0 < duration < math.inf:
            duration = check_duration(duration)
        if g == 0:
            state.gesture = -1
            return empty_sequence(0, duration)
        if rng is None:
            rng = self._rng
        elif type(rng) is not np.random.Generator:
            rng = as_generator(rng)
        if near is not None:
            near = check_near(near)
        if speed is not None:
            speed = check_speed(speed)
        if g in self.missing:
            return self._fallback_player(state).next(g, duration, near, speed)
        t, starts = self.t, self._starts
        pieces: list[tuple[int, int, float]] = []  # (first event, end event, time shift)
        spans: list[Span] = []
        offset, remaining, have = 0.0, duration, False
        while remaining > _EPSILON:
            if state.gesture != g or state.cursor >= state.run_end_time:
                self._jump(state, g, rng, near, speed)
            cursor = state.cursor
            end = min(cursor + remaining, state.run_end_time)
            a = self._event_at(state, cursor)
            b = self._event_at(state, end)
            if a == b and not have:
                # Nothing here and nothing yet: skip to the run's next touch, or pick again.
                if a < starts[state.run_end]:
                    state.cursor = float(t[a])
                else:
                    state.gesture = -1
                continue
            if a < b:
                pieces.append((a, b, cursor - offset))
                have = True
            spans.append(Span(state.stream, cursor, end))
            offset += end - cursor
            remaining = duration - offset
            state.cursor = end
        return self._sequence(pieces, spans, g, duration)

    def _jump(self, state: _State, g: int, rng, near, speed) -> None:
        # Prefer a second whose label holds for a whole classifier window (PHRASE_SECONDS)
        # from there: up to PICKS tries, else the try whose run goes on longest.
        second = self._pick(g, rng, near, speed)
        run_end = int(self._run_end[second])
        for _ in range(PICKS - 1):
            if run_end - second >= PHRASE_SECONDS:
                break
            other = self._pick(g, rng, near, speed)
            other_end = int(self._run_end[other])
            if other_end - other > run_end - second:
                second, run_end = other, other_end
        stream = int(self._second_stream[second])
        state.gesture = g
        state.stream = stream
        state.base = self._base[stream]
        state.cursor = float(self._second_time[second])
        state.run_end = run_end
        state.run_end_time = float(self._second_time[run_end - 1]) + 1.0

    def _pick(self, g: int, rng, near, speed) -> int:
        if near is None and speed is None:
            lo, hi = self._tables["all"][g]
        elif speed is None:
            lo, hi = self._tables["near"][g * self.grid**2 + choice.grid_cell(near, self.grid)]
        elif near is None:
            lo, hi = self._tables["speed"][
                g * self.n_bins + choice.speed_bin(speed, self.speed_edges)
            ]
        else:
            cell = choice.grid_cell(near, self.grid) * self.n_bins
            cell += choice.speed_bin(speed, self.speed_edges)
            lo, hi = self._tables["near_speed"][g * self.grid**2 * self.n_bins + cell]
        return int(self._items[lo + int(rng.random() * (hi - lo))])

    def _event_at(self, state: _State, time: float) -> int:
        """Index of the stream's first event at or after ``time`` (within the run)."""
        slot = math.floor(time)
        second = state.base + slot
        starts = self._starts
        if second >= state.run_end:
            return int(starts[state.run_end])
        lo = int(starts[second])
        if time == slot:
            return lo
        return bisect.bisect_left(self.t, time, lo, int(starts[second + 1]))

    def _sequence(self, pieces, spans, g: int, duration: float) -> TouchSequence:
        if len(pieces) == 1:
            a, b, shift = pieces[0]
            x, y = self.points(a, b)
            return TouchSequence(
                self.t[a:b] - shift, x, y, self.velocity[a:b], duration, g, tuple(spans)
            )
        xs, ys = zip(*(self.points(a, b) for a, b, _ in pieces), strict=True)
        return TouchSequence(
            np.concatenate([self.t[a:b] - shift for a, b, shift in pieces]),
            np.concatenate(xs),
            np.concatenate(ys),
            np.concatenate([self.velocity[a:b] for a, b, _ in pieces]),
            duration,
            g,
            tuple(spans),
        )

    # -- events ------------------------------------------------------------------------

    def points(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """x and y (float32) of events ``start:end`` on a unit screen, clipped to 0-1."""
        runs = self._screen_runs
        first = bisect.bisect_right(runs, start) - 1
        last = bisect.bisect_right(runs, end - 1) - 1
        if first >= last:  # one screen: the usual case
            x_table, y_table = self._point_tables[self._run_screen[first]]
            return x_table.take(self._x_half[start:end]), y_table.take(self._y_half[start:end])
        # The performer turned the screen within these events: each run with its screen.
        bounds = [start, *runs[first + 1 : last + 1], end]
        parts = [self.points(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
        return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])

    def _fallback_player(self, state: _State):
        from .procedural import ProceduralIndex

        if self._fallback is None:
            self._fallback = ProceduralIndex(seed=int(self._rng.integers(2**31)))
        if state.fallback is None:
            state.fallback = self._fallback.player(int(self._rng.integers(2**31)))
        return state.fallback

    # -- what is in it -----------------------------------------------------------------

    def stream_info(self, stream: int) -> tuple[str, str]:
        """(performance name, performer) of a stream, as in ``Span.stream``."""
        return str(self.manifest["name"][self.stream_performance[stream]]), str(
            self.stream_player[stream]
        )

    def second_at(self, stream: int, time: float) -> int:
        """The second (row of ``labels``, ``second_start``) of ``stream`` holding ``time``."""
        return self._base[stream] + math.floor(time)

    def raw_points(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Events ``start:end`` in the screen points of the touch files, as recorded."""
        return self._x_half[start:end] / 2.0, self._y_half[start:end] / 2.0

    def info(self) -> dict:
        """Counts for ``gesture-rnn corpus info``."""
        counts = np.diff(self.second_start)
        labelled = self.labels >= 0
        players = {str(p) for p in self.stream_player}
        seconds = np.bincount(self.labels[labelled], minlength=NUM_GESTURES)
        events = np.bincount(
            self.labels[labelled], weights=counts[labelled], minlength=NUM_GESTURES
        )
        touched = np.bincount(self.labels[labelled & (counts > 0)], minlength=NUM_GESTURES)
        return {
            "file": str(self.path) if self.path else None,
            "performances": len(self.manifest["name"]),
            "streams": len(self.stream_player),
            "performers": len(players),
            "events": len(self.t),
            "unlabelled_events": int(counts[~labelled].sum()),
            "label_lag": self.label_lag,
            "skipped": [{"name": str(n), "reason": str(r)} for n, r in self.skipped],
            "gestures": {
                GESTURE_NAMES[g]: {
                    "seconds": int(seconds[g]),
                    "seconds_with_touches": int(touched[g]),
                    "events": int(events[g]),
                }
                for g in range(NUM_GESTURES)
            },
        }


class TouchPlayer:
    """One virtual player: ``next(gesture, duration)`` once per tick.

    While the gesture stays the same and the source performer's label stays the same,
    each call continues the source where the last call stopped; otherwise it jumps to a
    new random source (chosen with ``near``/``speed`` when given).
    """

    def __init__(self, index: CorpusIndex, seed=None):
        self.index = index
        self.rng = as_generator(seed)
        self._state = _State()

    def next(self, gesture, duration: float = 1.0, near=None, speed=None) -> TouchSequence:
        return self.index._take(self._state, gesture, duration, self.rng, near, speed)

    def reset(self) -> None:
        """Forget the source: the next call starts somewhere new."""
        self._state = _State()
