"""The original Gesture-RNN single-file corpus (.h5), read without unpickling objects."""

from __future__ import annotations

import logging
import os
import shlex
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from gesture_rnn.corpus import EVERYTHING, CorpusError, Selection, load_corpus

REPO = Path(__file__).resolve().parent.parent
TEXT_COLUMNS = ["time", "filename", "performance_context", "performance_type", "notes"]


def made_up_rows() -> list[dict]:
    """Invented performances: (filename, performers, context, type, gestures)."""
    rng = np.random.default_rng(7)
    rows = [
        ("quartet-study", 4, "study", "improvisation", rng.integers(0, 9, (30, 4))),
        ("trio-rehearsal", 3, "rehearsal", "improvisation", rng.integers(0, 9, (20, 3))),
        ("quartet-demo", 4, "demonstration", "improvisation", rng.integers(0, 9, (10, 4))),
        ("duet-composed", 2, "performance", "composition", rng.integers(0, 9, (15, 2))),
    ]
    return [
        {
            "time": f"2031-02-0{i + 1} 10:00:00",
            "filename": name,
            "number_performers": players,
            "length_seconds": float(len(gestures)),
            "performance_context": context,
            "performance_type": kind,
            "instruments": "iPad",
            "touch_orientation": "landscape",
            "notes": "invented, didn’t happen" if i == 1 else np.nan,
            "video_location": np.nan,
            "gestures": gestures,
        }
        for i, (name, players, context, kind, gestures) in enumerate(rows)
    ]


def write_h5(path: Path, rows: list[dict], layout: str = "object", index: str | None = None):
    """Save rows as the original project did: DataFrame.to_hdf, fixed format.

    ``layout="object"``: text columns as Python objects, one pickled block with the
    gestures (what pandas before 3.0 writes); ``"default"``: this pandas' own choice.
    """
    frame = pd.DataFrame(rows)
    if layout == "object":
        frame = frame.astype({c: object for c in TEXT_COLUMNS})
    if index:
        frame = frame.set_index(index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns that it pickles the object columns
        frame.to_hdf(path, key="metatone_performances", mode="w")
    return path


@pytest.fixture(params=["object", "default"])
def h5_corpus(request, tmp_path):
    rows = made_up_rows()
    path = write_h5(tmp_path / "metatone_performances_dataframe.h5", rows, request.param)
    return path, {r["filename"]: r for r in rows}


def test_default_selection_and_arrays(h5_corpus):
    path, made = h5_corpus
    loaded = load_corpus(path)
    assert [p.name for p in loaded] == ["quartet-study", "trio-rehearsal"]
    for performance in loaded:
        row = made[performance.name]
        assert performance.gestures.dtype == np.int8
        np.testing.assert_array_equal(performance.gestures, row["gestures"])
        assert performance.players == tuple(
            f"player{i + 1}" for i in range(row["number_performers"])
        )
        assert performance.context == row["performance_context"]
        assert performance.type == row["performance_type"]
        assert performance.start_time == row["time"]
    assert loaded[1].notes == "invented, didn’t happen"
    assert loaded[0].notes == ""  # NaN in the file


def test_selection_matches_the_folder_corpus(h5_corpus):
    path, _ = h5_corpus
    assert [p.name for p in load_corpus(path, Selection(performers=4))] == ["quartet-study"]
    assert [p.name for p in load_corpus(path, EVERYTHING)] == [
        "quartet-study",
        "trio-rehearsal",
        "quartet-demo",
        "duet-composed",
    ]
    composed = load_corpus(path, Selection(types=("composition",), exclude_contexts=()))
    assert [p.name for p in composed] == ["duet-composed"]
    with pytest.raises(CorpusError, match="'exactly 7 performers'"):
        load_corpus(path, Selection(performers=7))


def test_damaged_rows_are_skipped_with_a_warning(tmp_path, caplog):
    rows = made_up_rows()
    bad = {
        "quartet-study": np.full((5, 4), 9),  # not a gesture code
        "trio-rehearsal": np.arange(5),  # 1-D
    }
    rows[0]["gestures"] = bad["quartet-study"]
    rows[1]["gestures"] = bad["trio-rehearsal"]
    extra = dict(rows[1], filename="trio-halves", gestures=np.full((4, 3), 2.5))
    wrong_size = dict(rows[1], filename="trio-as-duet", gestures=np.zeros((4, 2), int))
    text = dict(rows[1], filename="trio-text", gestures="0,1,2")
    fine = dict(rows[1], filename="trio-fine", gestures=np.ones((6, 3), np.int16))
    path = write_h5(tmp_path / "corpus.h5", [*rows, extra, wrong_size, text, fine])
    with caplog.at_level(logging.WARNING):
        loaded = load_corpus(path)
    assert [p.name for p in loaded] == ["trio-fine"]
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    expected = {
        "quartet-study": "not a gesture code",
        "trio-rehearsal": "shape (5,)",
        "trio-halves": "not a gesture code",
        "trio-as-duet": "says 3 performers",
        "trio-text": "not an array",
    }
    for name, problem in expected.items():
        assert any(name in m and problem in m for m in messages), (name, messages)
    # Nothing readable left is an error, not an empty list.
    path = write_h5(tmp_path / "broken.h5", [*rows[:2]])
    with pytest.raises(CorpusError, match="has readable gestures"):
        load_corpus(path)


def test_filenames_as_a_string_index_and_player_names(tmp_path):
    rows = made_up_rows()
    for row in rows:
        row["players"] = ",".join(f"made-up-{i}" for i in range(row["number_performers"]))
    path = write_h5(tmp_path / "indexed.h5", rows, index="filename")
    loaded = load_corpus(path, EVERYTHING)
    assert [p.name for p in loaded] == [r["filename"] for r in rows]
    assert loaded[3].players == ("made-up-0", "made-up-1")
    np.testing.assert_array_equal(loaded[2].gestures, rows[2]["gestures"])


class Planted:
    """What an attacker would put in a downloaded file: unpickling runs a shell command."""

    def __init__(self, marker: Path):
        self.command = f"touch {shlex.quote(str(marker))}"

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("column", ["gestures", "performance_type"])
def test_planted_objects_are_refused_without_running(tmp_path, column):
    marker = tmp_path / "code-ran"
    rows = made_up_rows()
    rows[2][column] = Planted(marker)
    path = write_h5(tmp_path / "planted.h5", rows)
    with pytest.raises(CorpusError, match=r"refusing to load .*planted\.h5.*(posix|os)\.system"):
        load_corpus(path, EVERYTHING)
    assert not marker.exists()
    # The fixture is live: pandas' own reader does run the planted command.
    pd.read_hdf(path)
    assert marker.exists()


def test_cli_reports_a_planted_object_in_one_line(tmp_path):
    marker = tmp_path / "code-ran"
    rows = made_up_rows()
    rows[0]["gestures"] = Planted(marker)
    path = write_h5(tmp_path / "planted.h5", rows)
    done = subprocess.run(
        [sys.executable, "-m", "gesture_rnn", "corpus", "summary", "--data", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("gesture-rnn: error: refusing to load")
    assert done.stderr.count("\n") == 1 and not marker.exists()


def test_unreadable_files_are_one_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        from gesture_rnn.corpus_h5 import load_single_file

        load_single_file(tmp_path / "absent.h5", Selection())
    text = tmp_path / "text.h5"
    text.write_text("time,filename\n")
    with pytest.raises(CorpusError, match="not a readable HDF5 file"):
        load_corpus(text)
    good = write_h5(tmp_path / "good.h5", made_up_rows())
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(CorpusError, match="truncated.h5"):
        load_corpus(truncated)
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["gestures"] = np.zeros((3, 2))
    with pytest.raises(CorpusError, match="holds no pandas DataFrame"):
        load_corpus(tmp_path / "plain.h5")
    pd.DataFrame({"filename": ["a"], "number_performers": [1]}).to_hdf(
        tmp_path / "other.h5", key="other"
    )
    with pytest.raises(CorpusError, match="lacks the column.*gestures"):
        load_corpus(tmp_path / "other.h5")


def test_damaged_pickle_block(tmp_path):
    path = write_h5(tmp_path / "corpus.h5", made_up_rows())
    with h5py.File(path, "r+") as f:
        block = _block_holding(f["metatone_performances"], "gestures")
        data = block[0].copy()
        block[0] = data[: len(data) // 2]
    with pytest.raises(CorpusError, match=r"corpus\.h5.*is damaged"):
        load_corpus(path)


# The original file was written by Python 2, whose pickles differ: strings are bytes,
# array data is a str. These helpers write such a pickle by hand (protocol 2 opcodes).


def _py2_int(n: int) -> bytes:
    return b"K" + bytes([n]) if 0 <= n < 256 else b"J" + struct.pack("<i", n)


def _py2_str(data: bytes) -> bytes:
    return (
        b"U" + bytes([len(data)]) + data
        if len(data) < 256
        else b"T" + struct.pack("<I", len(data)) + data
    )


def _py2_dtype(code: bytes, order: bytes, flags: int) -> bytes:
    state = b"(" + _py2_int(3) + _py2_str(order) + b"NNN" + _py2_int(-1) + _py2_int(-1)
    return (
        b"cnumpy\ndtype\n"
        + _py2_str(code)
        + _py2_int(0)
        + _py2_int(1)
        + b"\x87R"
        + state
        + _py2_int(flags)
        + b"tb"
    )


def _py2_value(value) -> bytes:
    if isinstance(value, np.ndarray):
        head = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        head += _py2_int(0) + b"\x85" + _py2_str(b"b") + b"\x87R"
        shape = b"(" + b"".join(_py2_int(n) for n in value.shape) + b"t"
        if value.dtype == object:
            items = b"](" + b"".join(_py2_value(v) for v in value.ravel()) + b"e"
            body = _py2_dtype(b"O8", b"|", 63) + b"\x89" + items
        else:
            body = _py2_dtype(b"i8", b"<", 0) + b"\x89" + _py2_str(value.astype("<i8").tobytes())
        return head + b"(" + _py2_int(1) + shape + body + b"tb"
    if isinstance(value, str):
        return _py2_str(value.encode("utf-8"))  # a Python 2 str holds UTF-8 bytes
    if isinstance(value, float):
        return b"G" + struct.pack(">d", value)
    raise TypeError(value)


def _block_holding(group: h5py.Group, column: str) -> h5py.Dataset:
    for i in range(int(group.attrs["nblocks"])):
        if column.encode() in group[f"block{i}_items"][()]:
            return group[f"block{i}_values"]
    raise KeyError(column)


def test_reads_python2_pickles(tmp_path):
    rows = made_up_rows()
    path = write_h5(tmp_path / "py2.h5", rows)
    frame = pd.DataFrame(rows)
    with h5py.File(path, "r+") as f:
        group = f["metatone_performances"]
        block = _block_holding(group, "gestures")
        items = [name.decode() for name in group[block.name.replace("values", "items")][()]]
        values = np.empty((len(rows), len(items)), dtype=object)  # rows x columns, as stored
        for j, item in enumerate(items):
            values[:, j] = list(frame[item])
        block[0] = np.frombuffer(b"\x80\x02" + _py2_value(values) + b".", dtype=np.uint8)
    loaded = load_corpus(path, EVERYTHING)
    assert [p.name for p in loaded] == [r["filename"] for r in rows]
    for performance, row in zip(loaded, rows, strict=True):
        np.testing.assert_array_equal(performance.gestures, row["gestures"])
    assert loaded[1].notes == "invented, didn’t happen"  # UTF-8 bytes decoded
