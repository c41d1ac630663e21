"""Build a corpus index: every performer's touches once, found by second and gesture.

For each performance with a gesture file and a touch file (all types and contexts), each
player column of the gesture file becomes a *stream*: that performer's touch events in
time order. Times count from the performance's first gesture row ("time zero").

Labelling. The gesture row at second ``s`` classifies that performer's touches in the
five seconds ``(s-5, s]``. We cut each stream into one-second *slots*, slot ``j`` holding
the touches in ``[j, j+1)`` seconds after time zero, and give slot ``j`` the label of row
``j + label_lag`` (rows ``j+1`` to ``j+5`` all cover the slot). The default lag 3 is the
row whose 5-second window is centred on the slot; on the Metatone corpus it separates the
gestures' touch statistics (touch count, mean velocity, share of touch-downs, spread) as
well as any lag and better than lag 1 (the window that ends with the slot). At the ends
of a gesture file, a slot takes the nearest row that still covers it; slots no row
covers get label -1 (unlabelled: kept, never played).

Screens. Points are iPad screen points. The screen of each event (1024 x 768 landscape or
768 x 1024 portrait) is read from the points themselves: x beyond 770 means landscape, y
beyond 770 portrait, and events in between take the orientation of the last event that
told (the first one for events before it). Only a stream whose points never tell uses the
metadata's ``touch_orientation`` (landscape unless it says portrait).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gesture_rnn.corpus import (
    CorpusError,
    CorpusFileError,
    TouchFileError,
    gesture_file,
    read_gesture_file,
    read_gesture_times,
    read_metadata,
    read_touch_file,
    touch_file,
    warn_missing,
)
from gesture_rnn.files import check_new_output

from . import choice
from .storage import derived_velocity, normalised_points, write_index

log = logging.getLogger(__name__)

SCREENS = ((1024, 768), (768, 1024))  # code 0 landscape, 1 portrait: (width, height)
ORIENTATION_THRESHOLD = 770.0  # points; a little over 768 for the edge overshoot
VELOCITY_TOLERANCE = 1e-3  # points: velocity stored as "derived" when within this


@dataclass(frozen=True)
class BuildConfig:
    """How the index is cut. The defaults are documented in docs/corpus-index.md."""

    label_lag: int = 3
    grid: int = 8
    speed_edges: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
    min_pool: int = 32
    pool_reach: float = 1.5
    seed: int = 0

    def __post_init__(self):
        if not 1 <= self.label_lag <= 5:
            raise ValueError(
                f"label_lag must be 1-5 (a row whose window covers the slot), got {self.label_lag}"
            )
        if self.grid < 1 or self.min_pool < 1 or not self.pool_reach >= 0:
            raise ValueError("grid and min_pool must be 1 or more, pool_reach 0 or more")
        if list(self.speed_edges) != sorted(self.speed_edges):
            raise ValueError(f"speed_edges must be increasing, got {self.speed_edges}")


@dataclass
class BuildReport:
    path: Path
    performances: int
    streams: int
    events: int
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Stream:
    performance: int
    player: str
    first_slot: int
    us: np.ndarray
    x_half: np.ndarray
    y_half: np.ndarray
    screen: np.ndarray
    velocity: np.ndarray
    counts: np.ndarray  # events per slot
    labels: np.ndarray  # label per slot


# -- one performance -------------------------------------------------------------------


def _screens(x: np.ndarray, y: np.ndarray, default: int) -> np.ndarray:
    """Screen code per event (0 landscape, 1 portrait), read from the points."""
    mark = np.where(x > ORIENTATION_THRESHOLD, 1, np.where(y > ORIENTATION_THRESHOLD, 2, 0))
    told = np.flatnonzero(mark)
    if len(told) == 0:
        return np.full(len(x), default, dtype=np.int8)
    last = np.where(mark > 0, np.arange(len(x)), -1)
    last = np.maximum.accumulate(last)
    last[last < 0] = told[0]
    return (mark[last] - 1).astype(np.int8)


def _streams(
    index: int,
    gestures: np.ndarray,
    players,
    seconds: np.ndarray,
    touches: pd.DataFrame,
    time_zero: np.datetime64,
    default_screen: int,
    lag: int,
) -> tuple[list[_Stream], int]:
    """The streams of one performance, and how many events had no gesture column."""
    us = ((touches["time"].to_numpy() - time_zero) // np.timedelta64(1, "us")).astype(np.int64)
    codes = pd.Categorical(touches["device_id"], categories=list(players)).codes
    order = np.lexsort((us, codes))
    codes = codes[order]
    boundaries = np.searchsorted(codes, np.arange(len(players) + 1), side="left")
    x_all = touches["x"].to_numpy()[order]
    y_all = touches["y"].to_numpy()[order]
    v_all = touches["v"].to_numpy()[order]
    us = us[order]
    # Label of each whole second after time zero (-1 where the file has no row).
    row_label = np.full((int(seconds[-1]) + 1, len(players)), -1, dtype=np.int8)
    row_label[seconds] = gestures
    streams = []
    for p, player in enumerate(players):
        a, b = boundaries[p], boundaries[p + 1]
        slot = us[a:b] // 1_000_000
        lo = min(-lag, int(slot.min()) if b > a else -lag)
        hi = max(len(row_label) - 1 - lag, int(slot.max()) if b > a else 0)
        slots = np.arange(lo, hi + 1)
        # Row j + lag, or at either end of the file the nearest row whose window still
        # covers the slot (rows j+1 .. j+5 do).
        rows = np.clip(slots + lag, 0, len(row_label) - 1)
        covers = (rows >= slots + 1) & (rows <= slots + 5)
        labels = np.full(len(slots), -1, dtype=np.int8)
        labels[covers] = row_label[rows[covers], p]
        x, y = x_all[a:b], y_all[a:b]
        streams.append(
            _Stream(
                performance=index,
                player=str(player),
                first_slot=lo,
                us=us[a:b],
                x_half=np.round(x * 2).astype(np.int16),
                y_half=np.round(y * 2).astype(np.int16),
                screen=_screens(x, y, default_screen),
                velocity=v_all[a:b].astype(np.float32),
                counts=np.bincount(slot - lo, minlength=hi - lo + 1),
                labels=labels,
            )
        )
    return streams, int(np.count_nonzero(codes < 0))


# -- the whole corpus ------------------------------------------------------------------


def collect(
    root: str | Path,
    config: BuildConfig = BuildConfig(),
    progress: bool = True,
    performances: Iterable[str] | None = None,
):
    """Read every usable performance: (streams, manifest rows, skipped (name, reason)).

    ``performances``: only these (metadata ``filename`` values); default all.
    """
    from tqdm import tqdm

    root = Path(root)
    metadata = read_metadata(root)
    if performances is not None:
        wanted = set(performances)
        unknown = sorted(wanted - set(metadata["filename"]))
        if unknown:
            raise CorpusError(f"{root}: no performance named {unknown[0]} in the metadata")
        metadata = metadata[metadata["filename"].isin(wanted)]
    streams: list[_Stream] = []
    manifest: list[dict] = []
    skipped: list[tuple[str, str]] = []

    missing: list[str] = []

    def skip(name: str, reason: str, is_missing: bool = False) -> None:
        if is_missing:
            missing.append(name)  # said once, as a count, after the loop
        else:
            log.warning("skipping %s: %s", name, reason)
        skipped.append((name, reason))

    rows = tqdm(
        list(metadata.itertuples(index=False)),
        desc="indexing touches",
        unit="performance",
        disable=not progress,
    )
    for row in rows:
        name = row.filename
        gestures_path = gesture_file(root, name)
        touches_path = touch_file(root, name)
        if not gestures_path.is_file():
            skip(name, f"its gesture file {gestures_path.name} is missing", is_missing=True)
            continue
        if touches_path is None:
            skip(name, f"its touch file {name}-touches.csv(.gz) is missing", is_missing=True)
            continue
        try:
            gestures, players = read_gesture_file(gestures_path)
            time_zero, seconds = read_gesture_times(gestures_path)
            touches = read_touch_file(touches_path)
        except CorpusFileError as error:
            skip(name, str(error))
            continue
        orientation = str(getattr(row, "touch_orientation", "") or "")
        found, unlisted = _streams(
            len(manifest),
            gestures,
            players,
            seconds,
            touches,
            time_zero,
            1 if orientation.strip().lower() == "portrait" else 0,
            config.label_lag,
        )
        if unlisted:
            log.info("%s: %d events of devices without a gesture column left out", name, unlisted)
        labelled = sum(int(s.counts[s.labels >= 0].sum()) for s in found)
        events = sum(len(s.us) for s in found)
        if events and labelled < events / 2:
            log.warning(
                "%s: only %d of %d touches fall in seconds its gesture file labels; "
                "do the touch and gesture files belong together?",
                name,
                labelled,
                events,
            )
        streams.extend(found)
        manifest.append(
            {
                "name": name,
                "context": str(row.performance_context),
                "type": str(row.performance_type),
                "orientation": orientation,
                "touch_file": touches_path.name,
                "time_zero": str(time_zero),
                "players": len(players),
            }
        )
    warn_missing(missing, "gesture or touch file", log)
    return streams, manifest, skipped


def assemble(streams: list[_Stream], manifest, skipped, config: BuildConfig):
    """The arrays and attributes of the index file (see storage.SCHEMA)."""
    if not streams or not any(len(s.us) for s in streams):
        raise CorpusError(
            "the index would hold no touches: no performance has both a readable gesture "
            "file and a touch file with events"
            + (f" ({len(skipped)} skipped, see the warnings above)" if skipped else "")
        )
    counts = np.concatenate([s.counts for s in streams])
    labels = np.concatenate([s.labels for s in streams])
    n_seconds = np.array([len(s.counts) for s in streams])
    event_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    x_half = np.concatenate([s.x_half for s in streams])
    y_half = np.concatenate([s.y_half for s in streams])
    screen = np.concatenate([s.screen for s in streams])
    velocity = np.concatenate([s.velocity for s in streams])
    stream_events = np.array([len(s.us) for s in streams])
    first = np.concatenate([[0], np.cumsum(stream_events)[:-1]])[stream_events > 0]
    moved = derived_velocity(x_half, y_half, first)
    derived = np.abs(velocity - moved) <= VELOCITY_TOLERANCE
    runs = np.flatnonzero(np.diff(screen, prepend=np.int8(-1)) != 0)
    arrays = {
        # Microseconds since the start of each event's one-second slot.
        "events/us_in_second": np.concatenate([s.us for s in streams]) % 1_000_000,
        "events/x_half": x_half,
        "events/y_half": y_half,
        "events/velocity_derived_bits": np.packbits(derived),
        "events/velocity_given": velocity[~derived],
        "screen_runs/start": runs,
        "screen_runs/screen": screen[runs],
        "screens/width": np.array([w for w, _ in SCREENS]),
        "screens/height": np.array([h for _, h in SCREENS]),
        "seconds/event_start": event_start,
        "seconds/label": labels,
        "streams/second_start": np.concatenate([[0], np.cumsum(n_seconds)]),
        "streams/first_slot": np.array([s.first_slot for s in streams]),
        "streams/performance": np.array([s.performance for s in streams]),
        "streams/player": [s.player for s in streams],
        "skipped/name": [name for name, _ in skipped],
        "skipped/reason": [reason for _, reason in skipped],
    }
    for key in ("name", "context", "type", "orientation", "touch_file", "time_zero", "players"):
        arrays[f"performances/{key}"] = [m[key] for m in manifest]
    x, y = normalised_points(x_half, y_half, screen, *zip(*SCREENS, strict=True))
    arrays.update(_choice_arrays(counts, labels, x, y, np.where(derived, moved, velocity), config))
    attrs = {
        "label_lag": config.label_lag,
        "grid": config.grid,
        "speed_edges": np.asarray(config.speed_edges, dtype=np.float64),
        "min_pool": config.min_pool,
        "pool_reach": config.pool_reach,
    }
    return arrays, attrs


def _choice_arrays(counts, labels, x, y, velocity, config) -> dict:
    """Features of every candidate second and the choice tables (see choice.py)."""
    second_of_event = np.repeat(np.arange(len(counts)), counts)
    size = len(counts)

    def mean(values):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(second_of_event, weights=values, minlength=size) / counts

    candidates = np.flatnonzero((labels >= 1) & (counts > 0))
    cell, bins = choice.candidate_cells(
        mean(np.clip(x, 0, 1))[candidates],
        mean(np.clip(y, 0, 1))[candidates],
        mean(velocity)[candidates],
        config.grid,
        config.speed_edges,
    )
    tables = choice.build_tables(
        candidates,
        labels[candidates].astype(np.int64),
        cell,
        bins,
        config.grid,
        len(config.speed_edges) + 1,
        config.min_pool,
        config.pool_reach,
        config.seed,
    )
    return {f"choice/{name}": value for name, value in tables.items()}


def build_index(
    root: str | Path,
    out: str | Path,
    config: BuildConfig = BuildConfig(),
    progress: bool = True,
    force: bool = False,
    performances: Iterable[str] | None = None,
) -> BuildReport:
    """Index the touches of the corpus at ``root`` into the file ``out`` (see module doc).

    ``out`` must not exist unless ``force``; it is checked before the work starts.
    ``performances`` limits the build to those names (default: every performance).
    """
    check_new_output(out, force)
    streams, manifest, skipped = collect(root, config, progress, performances)
    arrays, attrs = assemble(streams, manifest, skipped, config)
    path = write_index(out, arrays, attrs, force)
    report = BuildReport(
        path=path,
        performances=len(manifest),
        streams=len(streams),
        events=len(arrays["events/us_in_second"]),
        skipped=skipped,
    )
    log.info(
        "indexed %d events of %d performers in %d performances (%d skipped) into %s",
        report.events,
        report.streams,
        report.performances,
        len(skipped),
        path,
    )
    return report


__all__ = [
    "BuildConfig",
    "BuildReport",
    "TouchFileError",
    "build_index",
    "read_touch_file",
]
