"""Load the Metatone corpus from a folder in the metatone-analysis layout.

The layout::

    DIR/metadata/metatone-performance-information.csv   one row per performance
    DIR/data/<filename>-touches-posthoc-gestures.csv     time, then a column per player
    DIR/data/<filename>-touches.csv[.gz]                 raw touch events

Each performance becomes a ``seconds x players`` int8 array of gesture codes. Files that
are missing or damaged are skipped with a warning; the rest still load.
"""

from __future__ import annotations

import csv
import logging
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import checked
from .errors import CorpusError, CorpusFileError, CorpusFolderError, TouchFileError
from .gestures import NUM_GESTURES

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

__all__ = [
    "CorpusError",
    "CorpusFileError",
    "Performance",
    "Selection",
    "load_corpus",
    "TouchFileError",
    "read_gesture_file",
    "read_gesture_times",
    "read_metadata",
    "read_touch_file",
    "select_performances",
    "split_performances",
    "summarize",
    "touch_file",
]

METADATA_FILE = Path("metadata") / "metatone-performance-information.csv"
GESTURE_SUFFIX = "-touches-posthoc-gestures.csv"
TOUCH_SUFFIXES = ("-touches.csv", "-touches.csv.gz")
TOUCH_COLUMNS = ("time", "device_id", "x_pos", "y_pos", "velocity")
POINT_LIMIT = 4096.0  # |x|, |y| beyond this is not a screen point (int16 half-points)
METADATA_COLUMNS = (
    "filename",
    "number_performers",
    "performance_context",
    "performance_type",
)
MAX_PLAYERS = 64  # player columns of a gesture file (the corpus has at most 9)
MAX_CSV_BYTES = 64 * checked.MiB  # a gesture or metadata CSV (the corpus's are < 1 MiB)
MAX_TOUCH_BYTES = 1 * checked.GiB  # a touch file (the corpus's are < 1 MiB, gzipped)
DOWNLOAD_HINT = "get the corpus with: gesture-rnn corpus download --to DIR"


@dataclass(frozen=True)
class Selection:
    """Which performances to use. ``None`` means no filter on that field.

    The default is the original Gesture-RNN's: improvisations that are not
    demonstrations, any number of players.
    """

    performers: int | None = None
    min_performers: int | None = None
    types: tuple[str, ...] | None = ("improvisation",)
    contexts: tuple[str, ...] | None = None
    exclude_contexts: tuple[str, ...] = ("demonstration",)

    def describe(self) -> str:
        parts = []
        if self.performers is not None:
            parts.append(f"exactly {self.performers} performers")
        if self.min_performers is not None:
            parts.append(f"at least {self.min_performers} performers")
        if self.types is not None:
            parts.append(f"type {' or '.join(self.types)}")
        if self.contexts is not None:
            parts.append(f"context {' or '.join(self.contexts)}")
        if self.exclude_contexts:
            parts.append(f"context not {' or '.join(self.exclude_contexts)}")
        return ", ".join(parts) or "everything"


EVERYTHING = Selection(types=None, exclude_contexts=())


@dataclass
class Performance:
    """One performance: gestures per second per player, and its metadata."""

    name: str
    gestures: np.ndarray  # (seconds, players) int8
    players: tuple[str, ...]
    context: str = ""
    type: str = ""
    instruments: str = ""
    touch_orientation: str = ""
    start_time: str = ""
    notes: str = ""

    @property
    def seconds(self) -> int:
        return int(self.gestures.shape[0])

    @property
    def num_players(self) -> int:
        return int(self.gestures.shape[1])


def read_metadata(root: str | Path) -> pd.DataFrame:
    """The metadata table of a corpus folder, one row per performance."""
    import pandas as pd  # here: the runtime, index and bridge import this module, not pandas

    root = Path(root)
    path = root / METADATA_FILE
    if not root.is_dir():
        if checked.missing(root):
            raise CorpusFolderError(f"corpus folder {root} does not exist; {DOWNLOAD_HINT}")
        raise CorpusFolderError(  # a file, a link loop: "does not exist" would be untrue
            f"{root} is not a corpus folder (one holding {METADATA_FILE}); {DOWNLOAD_HINT}"
        )
    if not path.is_file():
        raise CorpusFolderError(
            f"{root} is not a metatone-analysis corpus: {METADATA_FILE} is missing; {DOWNLOAD_HINT}"
        )
    checked.check_file(path, "corpus metadata file", MAX_CSV_BYTES, CorpusFolderError)
    try:
        metadata = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CorpusFolderError(f"{path} is not a readable CSV file: {error}") from None
    missing = [c for c in METADATA_COLUMNS if c not in metadata.columns]
    if missing:
        raise CorpusFolderError(f"{path} lacks the column(s) {', '.join(missing)}")
    performers = pd.to_numeric(metadata["number_performers"], errors="coerce")
    if performers.isna().any():
        row = int(performers.isna().to_numpy().nonzero()[0][0]) + 2
        raise CorpusFolderError(f"{path} line {row}: number_performers is not a number")
    metadata["number_performers"] = performers.astype(int)
    return metadata


def select_performances(metadata: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """The rows of ``metadata`` that ``selection`` keeps, in metadata order.

    If a filter leaves nothing, the error names that filter and what was available.
    """
    rows = metadata
    filters: list[tuple[str, pd.Series, str]] = []
    if selection.types is not None:
        filters.append(
            (
                f"type {' or '.join(selection.types)}",
                rows["performance_type"].isin(selection.types),
                "performance_type",
            )
        )
    if selection.contexts is not None:
        filters.append(
            (
                f"context {' or '.join(selection.contexts)}",
                rows["performance_context"].isin(selection.contexts),
                "performance_context",
            )
        )
    if selection.exclude_contexts:
        filters.append(
            (
                f"context not {' or '.join(selection.exclude_contexts)}",
                ~rows["performance_context"].isin(selection.exclude_contexts),
                "performance_context",
            )
        )
    if selection.performers is not None:
        filters.append(
            (
                f"exactly {selection.performers} performers",
                rows["number_performers"] == selection.performers,
                "number_performers",
            )
        )
    if selection.min_performers is not None:
        filters.append(
            (
                f"at least {selection.min_performers} performers",
                rows["number_performers"] >= selection.min_performers,
                "number_performers",
            )
        )
    for label, mask, column in filters:
        kept = rows[mask.loc[rows.index]]
        if kept.empty:
            available = sorted({str(v) for v in rows[column]})
            raise CorpusError(
                f"no performance left after the filter '{label}' "
                f"({len(rows)} before it; their {column} values: {', '.join(available) or 'none'})"
            )
        rows = kept
    return rows


def gesture_file(root: str | Path, name: str) -> Path:
    return Path(root) / "data" / f"{name}{GESTURE_SUFFIX}"


def touch_file(root: str | Path, name: str) -> Path | None:
    """The touch file of a performance, plain or gzipped, or None if it has none."""
    for suffix in TOUCH_SUFFIXES:
        path = Path(root) / "data" / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def read_touch_file(path: str | Path) -> pd.DataFrame:
    """A touch file as columns ``us`` (datetime64[us]), ``device_id``, ``x``, ``y``, ``v``.

    Raises :class:`TouchFileError` naming the file (and line) for anything unreadable.
    """
    import pandas as pd

    path = checked.check_file(path, "touch file", MAX_TOUCH_BYTES, TouchFileError)
    try:
        table = pd.read_csv(path, usecols=list(TOUCH_COLUMNS), dtype={"device_id": str})
    except ValueError as error:  # also pandas' ParserError and a missing column
        raise TouchFileError(f"{path}: not a touch file ({_first_line(error)})") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise TouchFileError(f"{path}: cannot be read ({_first_line(error)})") from None
    except pd.errors.EmptyDataError:
        raise TouchFileError(f"{path}: is empty") from None
    for column in ("x_pos", "y_pos", "velocity"):
        values = pd.to_numeric(table[column], errors="coerce")
        numbers = values.to_numpy(dtype=np.float64)  # NaN where not a number
        if column == "velocity":
            bad = ~(numbers >= 0) | ~np.isfinite(numbers)
        else:
            bad = ~(np.abs(numbers) <= POINT_LIMIT)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise TouchFileError(
                f"{path}: line {row + 2}: {column} {table[column].iat[row]!r} is not a "
                + ("velocity >= 0" if column == "velocity" else "screen point")
            )
        table[column] = numbers
    times = pd.to_datetime(table["time"], format="ISO8601", errors="coerce")
    if getattr(times.dt, "tz", None) is not None:
        raise TouchFileError(f"{path}: time stamps with a time zone are not supported")
    missing = (times.isna() | table["device_id"].isna()).to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise TouchFileError(
            f"{path}: line {row + 2}: time {table['time'].iat[row]!r} or device_id "
            f"{table['device_id'].iat[row]!r} is not valid"
        )
    return pd.DataFrame(
        {
            "time": times.to_numpy(dtype="datetime64[us]"),
            "device_id": table["device_id"].to_numpy(dtype=object),
            "x": table["x_pos"].to_numpy(),
            "y": table["y_pos"].to_numpy(),
            "v": table["velocity"].to_numpy(),
        }
    )


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def read_gesture_times(path: Path) -> tuple[np.datetime64, np.ndarray]:
    """Time zero (the first row's time) and each row's whole second after it."""
    import pandas as pd

    checked.check_file(path, "gesture file", MAX_CSV_BYTES, CorpusFileError)
    try:
        column = pd.read_csv(path, usecols=["time"], dtype=str, keep_default_na=False)["time"]
    except (ValueError, OSError, UnicodeDecodeError) as error:
        reason = _first_line(error)
        raise CorpusFileError(f"{path}: cannot read its time column ({reason})") from None
    times = pd.to_datetime(column, format="ISO8601", errors="coerce")
    if times.isna().any() or getattr(times.dt, "tz", None) is not None:
        row = int(np.flatnonzero(times.isna().to_numpy())[0]) if times.isna().any() else 0
        raise CorpusFileError(f"{path}: line {row + 2}: time {column.iat[row]!r} is not valid")
    stamps = times.to_numpy(dtype="datetime64[us]")
    seconds = np.round((stamps - stamps[0]) / np.timedelta64(1, "s")).astype(np.int64)
    if len(seconds) > 1 and np.any(np.diff(seconds) < 1):
        row = int(np.flatnonzero(np.diff(seconds) < 1)[0]) + 1
        raise CorpusFileError(f"{path}: line {row + 2}: times are not increasing by seconds")
    return stamps[0], seconds


def read_gesture_file(path: str | Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read one gesture file: (seconds x players int8 array, player names).

    Raises :class:`CorpusFileError` naming the file and the problem.
    """
    import pandas as pd

    path = checked.check_file(path, "gesture file", MAX_CSV_BYTES, CorpusFileError)
    try:
        with warnings.catch_warnings():
            # index_col=False: a row longer than the header is an error, never a shift of
            # every value one column to the right (pandas's guess of an index column).
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                path, dtype=str, keep_default_na=False, skipinitialspace=True, index_col=False
            )
    except pd.errors.ParserWarning:
        raise CorpusFileError(f"{path}: a row has more values than the header names") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CorpusFileError(f"{path}: not a CSV gesture file ({_first_line(error)})") from None
    except OSError as error:
        raise CorpusFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    columns = list(table.columns)
    if not columns or columns[0] != "time" or len(columns) < 2:
        raise CorpusFileError(
            f"{path}: wrong columns {checked.shown(columns[:6])}; expected 'time' then one "
            "column per player"
        )
    if len(columns) - 1 > MAX_PLAYERS:
        raise CorpusFileError(
            f"{path}: {len(columns) - 1} player columns; a gesture file has 1 to {MAX_PLAYERS}"
        )
    header = _header(path)
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:  # pandas would rename the second one (me.1) and play it as another player
        raise CorpusFileError(f"{path}: column {checked.shown(twice[0])} is named twice")
    if table.empty:
        raise CorpusFileError(f"{path}: has a header but no rows")
    players = table.iloc[:, 1:]
    flat = pd.to_numeric(pd.Series(players.to_numpy().ravel()), errors="coerce")
    numbers = flat.to_numpy(dtype=float).reshape(players.shape)
    if np.isnan(numbers).any():
        row, col = np.argwhere(np.isnan(numbers))[0]
        raise CorpusFileError(
            f"{path}: non-numeric value {checked.shown(players.iat[row, col])} "
            f"in column {checked.shown(columns[col + 1])} on line {row + 2}"
        )
    values = numbers
    bad = (values < 0) | (values >= NUM_GESTURES) | (values != np.round(values))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise CorpusFileError(
            f"{path}: gesture {checked.shown(players.iat[row, col])} in column "
            f"{checked.shown(columns[col + 1])} on line {row + 2} is not a gesture code 0-8"
        )
    return values.astype(np.int8), tuple(columns[1:])


def _header(path: Path) -> list[str]:
    """The column names of a CSV's first line, as written (pandas renames duplicates)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return [name.strip() for name in next(csv.reader(f), [])]


def _text(row: pd.Series, column: str) -> str:
    value = row.get(column, "")
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def warn_missing(names: list[str], what: str, logger: logging.Logger = log) -> None:
    """One warning for the performances skipped for a missing file, with their count; the
    names at debug level (``gesture-rnn -v``). The public corpus lists four such."""
    if not names:
        return
    some = (
        "1 performance listed in the metadata has"
        if len(names) == 1
        else (f"{len(names)} performances listed in the metadata have")
    )
    logger.warning("%s no %s: skipped (-v names them)", some, what)
    for name in names:
        logger.debug("skipped %s: no %s", name, what)


def is_single_file(path: Path) -> bool:
    """Whether ``path`` is the original single-file corpus (.h5), not a corpus folder."""
    return path.is_file() and path.suffix in (".h5", ".hdf5", ".hdf")


def load_corpus(path: str | Path, selection: Selection = Selection()) -> list[Performance]:
    """Load the selected performances of a corpus, in metadata order.

    ``path`` is a corpus folder, or the original project's single-file corpus
    (``metatone_performances_dataframe.h5``). Missing and damaged files are skipped
    with a warning (one for all missing files, one naming each damaged file); a selection
    that leaves nothing is a :class:`CorpusError`.
    """
    path = Path(path)
    if is_single_file(path):
        from .corpus_h5 import load_single_file

        return load_single_file(path, selection)
    metadata = read_metadata(path)
    rows = select_performances(metadata, selection)
    performances, missing = [], []
    for _, row in rows.iterrows():
        name = row["filename"]
        file = gesture_file(path, name)
        if not file.is_file():
            missing.append(name)
            continue
        try:
            gestures, players = read_gesture_file(file)
        except CorpusFileError as error:
            log.warning("skipping %s: %s", name, error)
            continue
        if len(players) != row["number_performers"]:
            log.warning(
                "skipping %s: metadata says %d performers but %s has %d player columns",
                name,
                row["number_performers"],
                file.name,
                len(players),
            )
            continue
        performances.append(_performance(name, gestures, players, row))
    warn_missing(missing, "gesture file")
    if not performances:
        raise CorpusError(
            f"none of the {len(rows)} performances selected ({selection.describe()}) "
            f"has a readable gesture file in {path / 'data'}"
        )
    return performances


def _performance(name: str, gestures: np.ndarray, players: Iterable[str], row) -> Performance:
    return Performance(
        name=name,
        gestures=gestures,
        players=tuple(players),
        context=_text(row, "performance_context"),
        type=_text(row, "performance_type"),
        instruments=_text(row, "instruments"),
        touch_orientation=_text(row, "touch_orientation"),
        start_time=_text(row, "time"),
        notes=_text(row, "notes"),
    )


def split_performances(
    names: list[str], seed: int, test: float, validation: float = 0.0
) -> dict[str, list[str]]:
    """Whole performances to ``train``, ``validation`` and ``test`` sides: a seeded shuffle.

    The one split of the project (the model's training and the touch classifier's). ``test``
    and ``validation`` are fractions of ``len(names)``: each side asked for (fraction > 0)
    gets ``round(fraction * n)`` performances, at least one; ``validation=0`` leaves that
    side empty. The rest train. Each side is sorted; the same names and seed give the same
    sides. Raises ``ValueError`` for a fraction outside [0, 1) (``test`` must be above 0),
    :class:`CorpusError` when no performance would be left to train.
    """
    if not 0 < test < 1 or not 0 <= validation < 1:
        raise ValueError(
            f"test must be in (0, 1) and validation in [0, 1), got {test} and {validation}"
        )
    n = len(names)
    n_test = max(1, round(test * n))
    n_val = max(1, round(validation * n)) if validation > 0 else 0
    if n - n_test - n_val < 1:
        sides = "train, validation and test sides" if n_val else "train and test sides"
        raise CorpusError(
            f"{n} performance(s) cannot be split into {sides}; "
            f"at least {2 + (n_val > 0)} are needed"
        )
    order = np.random.default_rng(seed).permutation(n)
    return {
        "train": sorted(names[i] for i in order[n_test + n_val :]),
        "validation": sorted(names[i] for i in order[n_test : n_test + n_val]),
        "test": sorted(names[i] for i in order[:n_test]),
    }


def summarize(performances: list[Performance]) -> dict:
    """Counts for ``gesture-rnn corpus summary``: sizes, types, contexts, gestures."""
    import pandas as pd

    from .gestures import GESTURE_NAMES

    def count(key) -> dict[str, int]:
        values = pd.Series([key(p) for p in performances], dtype=object)
        return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}

    counts = np.zeros(NUM_GESTURES, dtype=np.int64)
    for p in performances:
        counts += np.bincount(p.gestures.ravel(), minlength=NUM_GESTURES)
    return {
        "performances": len(performances),
        "seconds": int(sum(p.seconds for p in performances)),
        "player_seconds": int(counts.sum()),
        "by_ensemble_size": count(lambda p: p.num_players),
        "by_type": count(lambda p: p.type),
        "by_context": count(lambda p: p.context),
        "gestures": {name: int(n) for name, n in zip(GESTURE_NAMES, counts, strict=True)},
    }
