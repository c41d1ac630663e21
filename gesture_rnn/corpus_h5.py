"""Read the original Gesture-RNN's single-file corpus without unpickling arbitrary objects.

``metatone_performances_dataframe.h5`` is a pandas DataFrame saved with ``to_hdf`` (fixed
format): the metadata columns plus ``gestures``, whose cells are ``seconds x players``
integer arrays. Pandas stores columns of Python objects as pickles, and unpickling runs
whatever code the file asks for, so ``pandas.read_hdf`` on a downloaded file is unsafe.

Here h5py reads the HDF5 layout that pandas writes::

    /<key>                 group, attrs pandas_type='frame', nblocks=N
    /<key>/axis0           column names (fixed-width bytes)
    /<key>/axis1           the row index
    /<key>/blockI_items    the columns block I holds
    /<key>/blockI_values   rows x columns numbers, or one pickled object array (VLArray)

and each pickled block is decoded by an unpickler that can only build numpy arrays,
dtypes and scalars, plus plain strings, numbers, lists and tuples. Any other Python
object in the file (a class, a function such as ``os.system``) stops the load.
"""

from __future__ import annotations

import codecs
import io
import logging
import pickle
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from . import checked
from .corpus import (
    METADATA_COLUMNS,
    CorpusError,
    CorpusFileError,
    Performance,
    Selection,
    _performance,
    select_performances,
)
from .gestures import NUM_GESTURES

log = logging.getLogger(__name__)

GESTURES_COLUMN = "gestures"
PLAYERS_COLUMN = "players"  # optional: player names per performance


class _Refused(Exception):
    """The pickle asked for a Python object outside the allowed few."""


class _NdarrayClass:
    """Stands in for ``numpy.ndarray`` inside a pickle.

    ``_reconstruct`` needs the class as an argument, but handing the real class to the
    pickle would also let it call ``ndarray(shape, dtype, buffer, ...)`` directly.
    """


_NDARRAY = _NdarrayClass()
# numpy's own reconstruction functions, taken from numpy objects rather than imported
# from numpy.core / numpy._core (whose names differ between numpy 1 and 2).
_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]
_SCALAR = np.int64(0).__reduce__()[0]
_FROMBUFFER = np.arange(2).__reduce_ex__(5)[0]


def _reconstruct(subtype, shape, dtype):
    if subtype is not _NDARRAY:
        raise _Refused(f"an array of type {type(subtype).__name__}")
    return _RECONSTRUCT(np.ndarray, shape, dtype)


def _encode(text, encoding="utf-8"):
    # Python 3 pickles of bytes at protocol 2 go through _codecs.encode(str, 'latin1').
    return codecs.encode(text, encoding)


_ALLOWED = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _encode,
}
for _module in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_module}.multiarray", "_reconstruct")] = _reconstruct
    _ALLOWED[(f"{_module}.multiarray", "scalar")] = _SCALAR
    _ALLOWED[(f"{_module}.numeric", "_frombuffer")] = _FROMBUFFER


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain values; refuses every other Python object."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid):
        raise _Refused(f"a persistent reference {pid!r}")


def _unpickle(data: bytes):
    # encoding="bytes": Python 2 strings come back as bytes, decoded later as UTF-8
    # (numpy accepts bytes for the array data of Python 2 pickles).
    return _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()


def load_single_file(path: Path, selection: Selection) -> list[Performance]:
    """The selected performances of a single-file corpus, in the file's order.

    The same selection as :func:`gesture_rnn.corpus.select_performances`; rows whose
    gestures are damaged are skipped with a warning naming the performance.
    """
    path = Path(path)
    columns = _read_frame(path)
    missing = [c for c in (*METADATA_COLUMNS, GESTURES_COLUMN) if c not in columns]
    if missing:
        raise CorpusError(
            f"{path} lacks the column(s) {', '.join(missing)}; "
            "expected the Gesture-RNN single-file corpus (metatone_performances_dataframe.h5)"
        )
    gestures = columns.pop(GESTURES_COLUMN)
    names = columns.pop(PLAYERS_COLUMN, None)
    metadata = _metadata(path, columns)
    rows = select_performances(metadata, selection)
    performances = []
    for index, row in rows.iterrows():
        name = row["filename"]
        try:
            values = _check_gestures(gestures[index])
        except CorpusFileError as error:
            log.warning("skipping %s in %s: %s", name, path.name, error)
            continue
        if values.shape[1] != row["number_performers"]:
            log.warning(
                "skipping %s in %s: metadata says %d performers but its gestures have %d columns",
                name,
                path.name,
                row["number_performers"],
                values.shape[1],
            )
            continue
        players = _players(None if names is None else names[index], values.shape[1])
        performances.append(_performance(name, values, players, row))
    if not performances:
        raise CorpusError(
            f"none of the {len(rows)} performances selected ({selection.describe()}) "
            f"in {path} has readable gestures"
        )
    return performances


def _read_frame(path: Path) -> dict[str, np.ndarray]:
    """The columns of the DataFrame stored in ``path``: name -> 1-D array, one per row."""
    checked.check_file(path, "single-file corpus", checked.GiB, CorpusError)  # ~50 MB
    try:
        with h5py.File(path, "r") as file:
            group = _frame_group(path, file)
            return _read_blocks(path, group)
    except OSError as error:
        raise CorpusError(f"{path} is not a readable HDF5 file ({error})") from None
    except (KeyError, ValueError, TypeError, IndexError) as error:
        # h5py and numpy errors from a file whose layout is not what pandas writes.
        raise CorpusError(f"{path} is damaged: {error}") from None


def _attr(node, name: str, default=None):
    value = node.attrs.get(name, default)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _frame_group(path: Path, file: h5py.File) -> h5py.Group:
    """The group holding the corpus DataFrame (the only one, or the one with gestures)."""
    frames: list[h5py.Group] = []
    tables: list[str] = []

    def visit(name, node):
        kind = _attr(node, "pandas_type") if isinstance(node, h5py.Group) else None
        if kind == "frame":
            frames.append(node)
        elif kind == "frame_table":
            tables.append(name)

    file.visititems(visit)
    if len(frames) > 1:
        frames = [g for g in frames if GESTURES_COLUMN.encode() in g["axis0"][()]]
    if len(frames) == 1:
        return frames[0]
    if not frames and tables:
        raise CorpusError(
            f"{path} stores its table /{tables[0]} in pandas' 'table' format; only the "
            "default fixed format (DataFrame.to_hdf) can hold the gesture arrays"
        )
    if not frames:
        raise CorpusError(f"{path} holds no pandas DataFrame (written with DataFrame.to_hdf)")
    raise CorpusError(
        f"{path} holds several DataFrames with a gestures column: "
        + ", ".join(g.name for g in frames)
    )


def _read_blocks(path: Path, group: h5py.Group) -> dict[str, np.ndarray]:
    for axis in ("axis0", "axis1"):
        variety = _attr(group, f"{axis}_variety", "regular")
        if variety != "regular":
            raise CorpusError(f"{path}: {group.name} has a {variety} {axis}; expected a plain one")
    encoding = _attr(group, "encoding", "UTF-8") or "UTF-8"
    index = _read_array(path, group["axis1"], encoding)
    if len(index) == 0:
        raise CorpusError(f"{path} holds no performances (its DataFrame has no rows)")
    columns: dict[str, np.ndarray] = {}
    for i in range(int(group.attrs["nblocks"])):
        items = _read_array(path, group[f"block{i}_items"], encoding)
        values = _read_array(path, group[f"block{i}_values"], encoding, items)
        if values.ndim == 1 and len(items) == 1:
            values = values[np.newaxis]  # one column kept 1-D (pandas 3 text columns)
        if values.ndim != 2 or values.shape != (len(items), len(index)):
            raise CorpusError(
                f"{path}: {group.name}/block{i}_values has shape {values.shape}; "
                f"expected {len(items)} columns x {len(index)} rows"
            )
        for item, column in zip(items, values, strict=True):
            columns[_text(item)] = column
    if "filename" not in columns and index.dtype == object:
        columns["filename"] = index  # the performances named by the row index
    return columns


def _read_array(path: Path, node: h5py.Dataset, encoding: str, items=()) -> np.ndarray:
    """One array as pandas wrote it: numbers, fixed-width strings or a pickled object array."""
    if "shape" in node.attrs:  # pandas' marker for an empty array
        return np.empty((0, 0) if _attr(node, "transposed") else (0,), dtype=object)
    if _attr(node, "CLASS") == "VLARRAY":
        if _attr(node, "PSEUDOATOM") != "object" or node.shape != (1,):
            raise CorpusError(f"{path}: {node.name} is not a pickled object array")
        array = _decode_objects(path, node, items)
    else:
        array = node[()]
    if _attr(node, "transposed"):
        array = array.T
    kind = _attr(node, "kind") or _attr(node, "value_type")
    if array.dtype.kind == "S":
        array = np.array([_text(v, encoding) for v in array.ravel()], dtype=object).reshape(
            array.shape
        )
    elif kind in ("datetime64", "timedelta64") and array.dtype.kind == "i":
        array = array.view(f"{'M' if kind == 'datetime64' else 'm'}8[ns]")
    return array


def _decode_objects(path: Path, node: h5py.Dataset, items) -> np.ndarray:
    where = f"{node.name} (column {', '.join(map(str, items))})" if len(items) else node.name
    data = node[0].tobytes()
    try:
        array = _unpickle(data)
    except _Refused as refused:
        raise CorpusError(
            f"refusing to load {path}: {where} contains the Python object {refused}, "
            "which could run code; only numpy arrays, numbers and strings are read"
        ) from None
    except Exception as error:  # any failure to decode untrusted bytes means damage
        raise CorpusError(f"{path}: {where} is damaged ({error})") from None
    if not isinstance(array, np.ndarray):
        raise CorpusError(f"{path}: {node.name} holds a {type(array).__name__}, not an array")
    return array


def _text(value, encoding: str = "utf-8") -> str:
    """A cell as text: bytes (fixed-width or from Python 2 pickles) decoded, NaN as ''."""
    if isinstance(value, bytes | np.bytes_):
        try:
            return bytes(value).decode(encoding)
        except UnicodeDecodeError:
            return bytes(value).decode("latin-1")
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _metadata(path: Path, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The metadata columns as :func:`gesture_rnn.corpus.read_metadata` gives them."""
    metadata = pd.DataFrame(
        {name: [_text(v) for v in values] for name, values in columns.items()}, dtype=object
    )
    performers = pd.to_numeric(metadata["number_performers"], errors="coerce")
    if performers.isna().any():
        row = int(performers.isna().to_numpy().nonzero()[0][0])
        raise CorpusError(
            f"{path}: number_performers of {metadata['filename'].iat[row]!r} is not a number"
        )
    metadata["number_performers"] = performers.astype(int)
    return metadata


def _check_gestures(value) -> np.ndarray:
    """One ``gestures`` cell as a seconds x players int8 array, or CorpusFileError."""
    if not isinstance(value, np.ndarray):
        raise CorpusFileError(f"gestures are a {type(value).__name__}, not an array")
    if value.ndim != 2 or 0 in value.shape:
        raise CorpusFileError(f"gestures have shape {value.shape}; expected seconds x players")
    if value.dtype.kind not in "iuf":
        raise CorpusFileError(f"gestures are of type {value.dtype}, not numbers")
    numbers = value.astype(float)
    bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers >= NUM_GESTURES)
    bad |= numbers != np.round(numbers)
    if bad.any():
        second, player = np.argwhere(bad)[0]
        raise CorpusFileError(
            f"gesture {value[second, player]} of player {player + 1} at second {second} "
            "is not a gesture code 0-8"
        )
    return numbers.astype(np.int8)


def _players(names, count: int) -> tuple[str, ...]:
    """Player names from the optional ``players`` column, else player1, player2, ..."""
    if isinstance(names, str) and names:
        names = names.split(",")
    if isinstance(names, list | tuple | np.ndarray) and len(names) == count:
        return tuple(_text(n).strip() for n in names)
    return tuple(f"player{i + 1}" for i in range(count))
