"""The index file: plain arrays in HDF5, written through a temporary file.

Every dataset is listed in :data:`SCHEMA` with its dtype; ``docs/corpus-index.md``
explains each one. Reading checks the format name, the version, every dataset's
presence and dtype, and that the offsets hang together, so a truncated, corrupt or
foreign file is one :class:`IndexFileError` naming the file, never a traceback later.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from gesture_rnn import checked
from gesture_rnn.errors import CorpusError, InputFileError
from gesture_rnn.files import new_hdf5, write_new

log = logging.getLogger(__name__)

FORMAT_NAME = "gesture-rnn corpus index"
FORMAT_VERSION = 1
BUILD_HINT = "build one with: gesture-rnn corpus build --data DIR --out FILE"

# dataset -> dtype ("str" for UTF-8 strings). Each is 1-D except the choice ranges (n, 2).
SCHEMA: dict[str, str] = {
    "events/us_in_second": "uint32",
    "events/x_half": "int16",
    "events/y_half": "int16",
    "events/velocity_derived_bits": "uint8",
    "events/velocity_given": "float32",
    "screen_runs/start": "int64",
    "screen_runs/screen": "int8",
    "screens/width": "int16",
    "screens/height": "int16",
    "seconds/event_start": "int64",
    "seconds/label": "int8",
    "streams/second_start": "int64",
    "streams/first_slot": "int32",
    "streams/performance": "int32",
    "streams/player": "str",
    "performances/name": "str",
    "performances/context": "str",
    "performances/type": "str",
    "performances/orientation": "str",
    "performances/touch_file": "str",
    "performances/time_zero": "str",
    "performances/players": "int32",
    "skipped/name": "str",
    "skipped/reason": "str",
    "choice/items": "int32",
    "choice/all": "int64",
    "choice/near": "int64",
    "choice/speed": "int64",
    "choice/near_speed": "int64",
}
WHAT = "corpus index"
MAX_FILE_BYTES = 4 * checked.GiB  # the whole Metatone corpus indexes to about 20 MB
MAX_EXPANSION = 64
"""At most this many bytes of data for each byte of the file: gzip does not pack these
arrays nearly so tightly, so a file that declares more is damaged (or made to exhaust
memory) and is refused before anything is read."""
CHECKSUMS = "sha256"
"""Attribute holding JSON: dataset name -> SHA-256 of its values (gesture_rnn.checked)."""
ATTRIBUTES = ("format", "version", "label_lag", "grid", "speed_edges", "min_pool", "pool_reach")
# Big arrays compress; tiny ones are not worth a filter.
_COMPRESS = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
_CHUNK = 1 << 18


class IndexFileError(CorpusError, InputFileError):
    """A corpus index file that cannot be used: missing, damaged or of another version."""


def write_index(
    path: str | Path, arrays: dict[str, np.ndarray], attrs: dict, force: bool = False
) -> Path:
    """Write ``arrays`` (every :data:`SCHEMA` entry) to ``path`` via a temporary file.

    The finished file appears at ``path`` only once it is complete, so a failed or
    interrupted build never leaves a half-written index behind. An existing ``path`` is
    replaced only with ``force``.
    """

    missing = sorted(set(SCHEMA) - set(arrays))
    if missing:
        raise ValueError(f"write_index: missing arrays {missing}")

    data = {name: _stored(kind, arrays[name]) for name, kind in SCHEMA.items()}

    def write(tmp: Path) -> None:
        with new_hdf5(tmp) as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["version"] = FORMAT_VERSION
            for key, value in attrs.items():
                f.attrs[key] = value
            f.attrs[CHECKSUMS] = json.dumps(checked.checksums(data))
            for name, kind in SCHEMA.items():
                _write_dataset(f, name, kind, data[name])

    return write_new(path, write, force)


def _stored(kind: str, value) -> np.ndarray:
    """An array as the file holds it: text as an object array of str."""
    if kind == "str":
        return np.array([str(v) for v in value], dtype=object)
    return np.ascontiguousarray(value, dtype=kind)


def _write_dataset(f, name: str, kind: str, data: np.ndarray) -> None:
    import h5py

    if kind == "str":
        f.create_dataset(name, data=data, dtype=h5py.string_dtype("utf-8"))
        return
    options = {}
    if data.size > 4096:
        options = dict(_COMPRESS, chunks=(min(_CHUNK, len(data)),) + data.shape[1:])
    f.create_dataset(name, data=data, **options)


def read_index(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Every dataset and the attributes of an index file, checked.

    Checked as every file we read is (:mod:`gesture_rnn.checked`): the path, the format
    and version, every dataset's dtype and rank, and what reading them all would allocate
    (at most :data:`MAX_EXPANSION` times the file's size), before any data is read; then
    the checksums, the values and that the offsets hang together. Raises
    :class:`IndexFileError` naming the file for anything that is not a complete index of
    this version.
    """
    path = Path(path)
    if checked.missing(path):
        raise IndexFileError(f"{path}: no such corpus index; {BUILD_HINT}")
    where = f"{WHAT} {path}"
    with checked.open_hdf5(path, WHAT, MAX_FILE_BYTES, IndexFileError) as f:
        attrs = _read_attributes(path, f)
        budget = MAX_EXPANSION * path.stat().st_size + checked.MiB
        nodes = {}
        for name, kind in SCHEMA.items():
            rank = (None, 2) if name.startswith("choice/") and name != "choice/items" else (None,)
            nodes[name] = checked.dataset(f, name, where, IndexFileError, kind, rank, budget)
            budget -= nodes[name].size * (nodes[name].dtype.itemsize if kind != "str" else 64)
            if budget < 0:
                raise IndexFileError(
                    f"{where}: its datasets declare more data than the file can hold; refused"
                )
        arrays = {name: checked.read(node, where, IndexFileError) for name, node in nodes.items()}
    checked.verify_checksums(arrays, attrs.pop(CHECKSUMS, None), path, WHAT, IndexFileError)
    check_arrays(path, arrays, attrs)
    return arrays, attrs


def _read_attributes(path: Path, f) -> dict:
    found = f.attrs.get("format")
    if isinstance(found, bytes):
        found = found.decode("utf-8", "replace")
    if found != FORMAT_NAME:
        raise IndexFileError(f"{path} is an HDF5 file but not a gesture-rnn corpus index")
    version = f.attrs.get("version")
    if version != FORMAT_VERSION:
        raise IndexFileError(
            f"{path} is a corpus index of format version {version}; this gesture-rnn reads "
            f"version {FORMAT_VERSION}: rebuild it with gesture-rnn corpus build"
        )
    missing = [name for name in ATTRIBUTES if name not in f.attrs]
    if missing:
        raise IndexFileError(f"{path}: damaged corpus index (attribute {missing[0]} missing)")
    attrs = {}
    for key, value in f.attrs.items():
        attrs[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if CHECKSUMS in attrs:
        try:
            attrs[CHECKSUMS] = json.loads(str(attrs[CHECKSUMS]))
        except (ValueError, RecursionError):
            raise IndexFileError(f"{path}: damaged corpus index (its checksums)") from None
    try:
        grid, edges = int(attrs["grid"]), np.asarray(attrs["speed_edges"], dtype=np.float64)
    except (TypeError, ValueError):
        raise IndexFileError(f"{path}: damaged corpus index (grid or speed_edges)") from None
    if not (1 <= grid <= 64 and edges.ndim == 1 and np.isfinite(edges).all()):
        raise IndexFileError(f"{path}: damaged corpus index (grid or speed_edges out of range)")
    return attrs


def check_arrays(path: Path, a: dict[str, np.ndarray], attrs: dict) -> None:
    """The offsets and codes must hang together; cheap checks, all O(n)."""

    def bad(message: str) -> IndexFileError:
        return IndexFileError(f"{path}: damaged corpus index ({message})")

    n_events = len(a["events/us_in_second"])
    for name in ("x_half", "y_half"):
        if len(a[f"events/{name}"]) != n_events:
            raise bad(f"events/{name} has {len(a[f'events/{name}'])} entries, not {n_events}")
    if n_events and a["events/us_in_second"].max() >= 1_000_000:
        raise bad("events/us_in_second holds a value of a second or more")
    bits = a["events/velocity_derived_bits"]
    if len(bits) != (n_events + 7) // 8:
        raise bad("events/velocity_derived_bits does not have one bit per event")
    given = n_events - int(np.unpackbits(bits, count=n_events).sum())
    if len(a["events/velocity_given"]) != given:
        raise bad(f"events/velocity_given does not have the {given} values the bits ask for")
    velocity = a["events/velocity_given"]
    if not (np.isfinite(velocity).all() and (velocity >= 0).all()):
        raise bad("events/velocity_given holds a value that is not a finite velocity >= 0")
    n_screens = len(a["screens/width"])
    if len(a["screens/height"]) != n_screens or n_screens == 0:
        raise bad("screens/width and screens/height differ in length")
    if (a["screens/width"] < 1).any() or (a["screens/height"] < 1).any():
        raise bad("screens/width or screens/height holds a size below 1")
    runs, screens = a["screen_runs/start"], a["screen_runs/screen"]
    if len(runs) != len(screens) or (n_events and (len(runs) == 0 or runs[0] != 0)):
        raise bad("screen_runs do not start at the first event")
    if np.any(np.diff(runs) < 1) or (len(runs) and runs[-1] >= max(n_events, 1)):
        raise bad("screen_runs/start is not increasing within the events")
    if len(screens) and (screens.min() < 0 or screens.max() >= n_screens):
        raise bad("screen_runs/screen refers to a screen that is not listed")
    starts = a["seconds/event_start"]
    n_seconds = len(a["seconds/label"])
    if len(starts) != n_seconds + 1 or starts[0] != 0 or starts[-1] != n_events:
        raise bad("seconds/event_start does not cover the events")
    if np.any(np.diff(starts) < 0):
        raise bad("seconds/event_start is not sorted")
    labels = a["seconds/label"]
    if n_seconds and (labels.min() < -1 or labels.max() > 8):
        raise bad("seconds/label holds a value outside -1..8")
    streams = a["streams/second_start"]
    n_streams = len(a["streams/first_slot"])
    if len(streams) != n_streams + 1 or streams[0] != 0 or streams[-1] != n_seconds:
        raise bad("streams/second_start does not cover the seconds")
    if np.any(np.diff(streams) < 1):
        raise bad("streams/second_start is not increasing")
    n_performances = len(a["performances/name"])
    performance = a["streams/performance"]
    if len(performance) != n_streams or len(a["streams/player"]) != n_streams:
        raise bad("streams/performance or streams/player has the wrong length")
    if n_streams and (performance.min() < 0 or performance.max() >= n_performances):
        raise bad("streams/performance refers to a performance that is not listed")
    for name in ("context", "type", "orientation", "touch_file", "time_zero", "players"):
        if len(a[f"performances/{name}"]) != n_performances:
            raise bad(f"performances/{name} has the wrong length")
    if len(a["skipped/reason"]) != len(a["skipped/name"]):
        raise bad("skipped/name and skipped/reason differ in length")
    items = a["choice/items"]
    if len(items) and (items.min() < 0 or items.max() >= n_seconds):
        raise bad("choice/items refers to a second that does not exist")
    # Queries rely on this: every second they may pick has a gesture and touches.
    if len(items) and (np.any(labels[items] < 1) or np.any(starts[items + 1] == starts[items])):
        raise bad("choice/items lists a second without a gesture or without touches")
    grid, bins = int(attrs["grid"]), len(attrs["speed_edges"]) + 1
    sizes = {"all": 9, "near": 9 * grid * grid, "speed": 9 * bins, "near_speed": 9 * grid**2 * bins}
    for name, size in sizes.items():
        ranges = a[f"choice/{name}"]
        if ranges.shape != (size, 2):
            raise bad(f"choice/{name} has shape {ranges.shape}, not {(size, 2)}")
        if np.any(ranges[:, 0] > ranges[:, 1]) or (
            size and (ranges.min() < 0 or ranges.max() > len(items))
        ):
            raise bad(f"choice/{name} holds ranges outside choice/items")
        # A gesture has candidates in every cell of a table or in none (the fallback).
        empty = (ranges[:, 0] == ranges[:, 1]).reshape(9, -1)
        if np.any(empty.any(axis=1) & ~empty.all(axis=1)):
            raise bad(f"choice/{name} has an empty cell for a gesture that has candidates")


# -- values the arrays stand for (used by build and load alike) -------------------------


def derived_velocity(x_half: np.ndarray, y_half: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Points moved since the event before, in the same stream; 0 at each stream start.

    Most corpus velocities are exactly this, so the index stores only the others. Build
    and load both call this one function (integer squares, one float32 square root), so
    both get the same float32 values.
    """
    squared = np.zeros(len(x_half), dtype=np.int32)
    for half in (x_half, y_half):
        step = np.diff(half.astype(np.int32), prepend=np.int32(half[0]) if len(half) else 0)
        squared += step * step
    moved = np.sqrt(squared.astype(np.float32))
    moved *= np.float32(0.5)
    moved[first] = 0.0
    return moved


def second_times(a: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each second's stream, and its start time in that stream (slot j starts at j s)."""
    stream_starts = a["streams/second_start"]
    first_slot = a["streams/first_slot"].astype(np.int64)
    stream = np.repeat(np.arange(len(first_slot)), np.diff(stream_starts))
    base = stream_starts[:-1] - first_slot  # slot j of stream s is second base[s] + j
    return stream, (np.arange(len(a["seconds/label"])) - base[stream]).astype(np.float64)


def stream_first_events(a: dict[str, np.ndarray]) -> np.ndarray:
    """Index of the first event of every stream that has events."""
    starts, stream_starts = a["seconds/event_start"], a["streams/second_start"]
    first = starts[stream_starts[:-1]]
    return first[first < starts[stream_starts[1:]]]


def event_velocity(a: dict[str, np.ndarray], block: int = 1 << 16) -> np.ndarray:
    """Velocity of every event: derived from the points where the bit says so.

    Worked out a block of events at a time, so loading needs no full-length temporaries
    (they would raise the process's peak memory by several times the result's 10 MB).
    """
    x_half, y_half = a["events/x_half"], a["events/y_half"]
    bits, given = a["events/velocity_derived_bits"], a["events/velocity_given"]
    n = len(x_half)
    first = stream_first_events(a)
    velocity = np.empty(n, dtype=np.float32)
    used = 0  # velocity_given values taken so far
    for lo in range(0, n, block):  # block is a multiple of 8: whole bytes of bits
        hi = min(lo + block, n)
        back = 1 if lo else 0  # one event before the block, for the first step
        firsts = first[(first >= lo) & (first < hi)] - (lo - back)
        moved = derived_velocity(x_half[lo - back : hi], y_half[lo - back : hi], firsts)
        part = velocity[lo:hi]
        part[:] = moved[back:]
        take = np.unpackbits(bits[lo // 8 : (hi + 7) // 8], count=hi - lo) == 0
        count = int(take.sum())
        part[take] = given[used : used + count]
        used += count
    return velocity


def unit_scale(sizes) -> np.ndarray:
    """Factor (float32) from half points to a fraction of a screen of each size."""
    return (0.5 / np.asarray(sizes, dtype=np.float64)).astype(np.float32)


def normalised_points(
    x_half: np.ndarray, y_half: np.ndarray, screen: np.ndarray, widths, heights
) -> tuple[np.ndarray, np.ndarray]:
    """x and y (float32) as fractions of each event's screen. Not clipped: the corpus has
    a few points just off the edge."""
    out = []
    for half, size in ((x_half, widths), (y_half, heights)):
        values = half.astype(np.float32)
        values *= unit_scale(size)[screen]
        out.append(values)
    return out[0], out[1]


def point_tables(a: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each screen, an x and a y table of the unit-screen value (float32, clipped to
    0-1) of every int16 half point: ``table.take(half_points)`` gives the points (a
    negative half point wraps to the end of the table, where its value is). 256 kB each;
    the values are those of :func:`normalised_points`, clipped."""
    halves = np.arange(1 << 16, dtype=np.uint16).view(np.int16)
    tables = []
    for width, height in zip(a["screens/width"], a["screens/height"], strict=True):
        x, y = normalised_points(halves, halves, 0, [width], [height])
        tables.append((np.clip(x, 0, 1), np.clip(y, 0, 1)))
    return tables


def event_times(a: dict[str, np.ndarray], second_time: np.ndarray, block: int = 1 << 16):
    """Each event's time in seconds after its stream's time zero (float64): its slot's
    start plus its microseconds, added a block at a time (no full-length temporary)."""
    times = np.repeat(second_time, np.diff(a["seconds/event_start"]))
    us = a["events/us_in_second"]
    for lo in range(0, len(times), block):
        times[lo : lo + block] += us[lo : lo + block] * 1e-6
    return times
