"""The bad-file battery: every file we read, damaged every way we know, through the CLI.

Each case runs a real command (``gesture_rnn_cli.main``, in-process so that the whole
battery takes seconds; the FIFO cases, which would block a reader forever, in a real
process with a time limit) and asserts what a user must see: exit code 2, one line on
stderr naming the file, no traceback, and for the bridge no ready line (it never starts).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

from gesture_rnn import checked
from gesture_rnn.touch_classifier import BUNDLED as BUNDLED_TOUCHES
from tests.bridge_process import free_udp_port
from tests.models import edit_model_file, tiny_model_file

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Reader:
    kind: str  # model, touches, index, toml, csv
    argv: tuple[str, ...]  # the command; FILE is the bad file, OUT a fresh output, ...

    def command(self, bad: Path, goods: dict[str, Path], out: Path) -> list[str]:
        names = {"FILE": str(bad), "OUT": str(out), "PORT": str(free_udp_port())}
        names.update({f"GOOD_{k.upper()}": str(v) for k, v in goods.items()})
        return [names.get(arg, arg) for arg in self.argv]


READERS = {
    "bridge --model": Reader("model", ("bridge", "--port", "PORT", "--model", "FILE")),
    "evaluate": Reader("model", ("evaluate", "--model", "FILE", "--data", "GOOD_CORPUS")),
    "generate --model": Reader(
        "model", ("generate", "--model", "FILE", "--lead", "GOOD_CSV", "--out-csv", "OUT")
    ),
    "touches evaluate": Reader(
        "touches", ("touches", "evaluate", "--model", "FILE", "--data", "GOOD_CORPUS")
    ),
    "corpus info --round-trip --classifier": Reader(
        "touches", ("corpus", "info", "--round-trip", "--procedural", "--classifier", "FILE")
    ),
    "corpus info": Reader("index", ("corpus", "info", "FILE")),
    "bridge --corpus": Reader(
        "index", ("bridge", "--port", "PORT", "--model", "GOOD_MODEL", "--corpus", "FILE")
    ),
    "bridge --config": Reader("toml", ("bridge", "--port", "PORT", "--config", "FILE")),
    "generate --lead": Reader(
        "csv", ("generate", "--model", "GOOD_MODEL", "--lead", "FILE", "--out-csv", "OUT")
    ),
}
HDF5 = ("model", "touches", "index")
EVERY = (
    "missing",
    "folder",
    "device",
    "empty",
    "random-bytes",
    "truncated",
    "wrong-kind",
    "altered-shape",
    "huge",
    "nan",
    "extreme",
    "flipped-bytes",
    "unreadable",
)
ONLY_HDF5 = ("wrong-version", "external-storage", "external-link", "virtual-dataset")
# A dataset of each kind to damage, and the attribute that holds its version.
TARGET = {"model": "lstm_0/bias", "touches": "W0", "index": "events/velocity_given"}
VERSION = {"model": None, "touches": None, "index": "version"}


def cases():
    for name, reader in READERS.items():
        for case in EVERY + (ONLY_HDF5 if reader.kind in HDF5 else ()):
            yield pytest.param(name, case, id=f"{name}-{case}")


# -- good files ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def goods(tmp_path_factory) -> dict[str, Path]:
    from corpus_index.build import build_index
    from tests.test_corpus_index import standard_fakes, write_touch_corpus

    folder = tmp_path_factory.mktemp("goods")
    corpus = write_touch_corpus(folder / "corpus", standard_fakes())
    index = folder / "index.h5"
    build_index(corpus, index, progress=False)
    with h5py.File(index) as f:
        assert len(f[TARGET["index"]]) > 0, "the damage below needs given velocities"
    lead = folder / "lead.csv"
    lead.write_text("time,me\n" + "".join(f"2020-01-01T00:00:{s:02d},{s % 9}\n" for s in range(30)))
    toml = folder / "bridge.toml"
    toml.write_text('host = "127.0.0.1"\nosc_out = ["127.0.0.1:57120"]\ntemperature = 1.0\n')
    touches = folder / "touches.h5"
    shutil.copy(BUNDLED_TOUCHES, touches)
    return {
        "model": tiny_model_file(folder / "model.h5"),
        "touches": touches,
        "index": index,
        "toml": toml,
        "csv": lead,
        "corpus": corpus,
    }


# -- the damage ---------------------------------------------------------------------------


def _replace(path: Path, name: str, make) -> None:
    """Replace dataset ``name`` of an HDF5 file by ``make(f, name, old_array)``."""
    with h5py.File(path, "r+") as f:
        old = f[name][()]
        del f[name]
        make(f, name, old)


def _edit_values(kind: str, path: Path, value: float) -> None:
    """Put ``value`` into the target dataset, with checksums that match (a writer that
    skipped our checks), so that only the value check can catch it."""
    name = TARGET[kind]
    if kind == "model":
        edit_model_file(path, lambda w: w[name].__setitem__(0, value))
        return
    with h5py.File(path, "r+") as f:
        data = f[name][()]
        data.reshape(-1)[0] = value
        f[name][...] = data
        if kind == "touches":
            metadata = json.loads(f.attrs["metadata"])
            metadata["sha256"][name] = checked.sha256(data)
            f.attrs["metadata"] = json.dumps(metadata)
        else:
            sums = json.loads(f.attrs["sha256"])
            sums[name] = checked.sha256(data)
            f.attrs["sha256"] = json.dumps(sums)


def _flip_middle(path: Path, kind: str) -> None:
    """XOR 64 bytes in the middle of the data (of the target dataset where it lies in one
    piece, else of the file)."""
    data = bytearray(path.read_bytes())
    middle, count = len(data) // 2, min(64, len(data) // 2)
    if kind in HDF5:
        with h5py.File(path) as f:
            node = f[TARGET[kind]]
            offset = node.id.get_offset()
            if offset is not None:
                count = min(count, node.id.get_storage_size())
                middle = offset + node.id.get_storage_size() // 2 - count // 2
    for i in range(middle, middle + count):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def make_bad(case: str, kind: str, goods: dict[str, Path], folder: Path) -> Path:
    good = goods[kind]
    path = folder / f"bad-{case}{good.suffix}"
    if case == "missing":
        return path
    if case == "folder":
        path.mkdir()
    elif case == "device":
        path.symlink_to("/dev/zero")  # endless bytes: read whole, it never ends
    elif case == "unreadable":
        path.symlink_to("/proc/self/mem")  # a regular file whose every read fails (EIO)
    elif case == "fifo":
        os.mkfifo(path)
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "random-bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif case == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2] if kind in HDF5 else data[:-4])
    elif case == "wrong-kind":
        shutil.copy(goods["touches" if kind == "model" else "model"], path)
    elif case == "huge":
        if kind in HDF5:  # a small file that declares terabytes
            shutil.copy(good, path)
            _replace(
                path,
                TARGET[kind],
                lambda f, name, old: f.create_dataset(
                    name, shape=(2_000_000_000, *old.shape[1:]), chunks=True, dtype=old.dtype
                ),
            )
        else:
            with open(path, "wb") as f:
                f.truncate(4 << 30)  # sparse: 4 GiB that take no disk
    else:
        shutil.copy(good, path)
        damage(case, kind, path)
    return path


def damage(case: str, kind: str, path: Path) -> None:
    """Damage a copy of a good file in place."""
    name = TARGET.get(kind)
    if case == "flipped-bytes":
        _flip_middle(path, kind)
    elif case == "wrong-version":
        with h5py.File(path, "r+") as f:
            if VERSION[kind] is not None:
                f.attrs[VERSION[kind]] = 99
            else:
                key = "gesture_rnn" if kind == "model" else "metadata"
                metadata = json.loads(f.attrs[key])
                metadata["format_version"] = 99
                f.attrs[key] = json.dumps(metadata)
    elif case == "altered-shape":
        if kind == "csv":
            path.write_text("time\n2020-01-01T00:00:00\n")  # no player column
        elif kind == "toml":
            path.write_text('osc_out = [["127.0.0.1:57120"]]\n')  # a list of lists
        else:
            _replace(path, name, lambda f, n, old: f.create_dataset(n, data=old[..., None]))
    elif case in ("nan", "extreme"):
        value = float("nan") if case == "nan" else -3e38
        if kind == "csv":
            path.write_text(f"time,me\n2020-01-01T00:00:00,1\n2020-01-01T00:00:01,{value}\n")
        elif kind == "toml":
            path.write_text("temperature = nan\n" if case == "nan" else "period = 1e308\n")
        else:
            _edit_values(kind, path, value)
    elif case == "external-storage":  # the bytes "stored" in another file
        _replace(
            path,
            name,
            lambda f, n, old: f.create_dataset(
                n, shape=old.shape, dtype=old.dtype, external=[("/etc/passwd", 0, old.nbytes)]
            ),
        )
    elif case == "external-link":
        other = path.with_name("other.h5")
        shutil.copy(path, other)
        _replace(path, name, lambda f, n, old: f.__setitem__(n, h5py.ExternalLink(str(other), n)))
    elif case == "virtual-dataset":
        other = path.with_name("other.h5")
        shutil.copy(path, other)

        def virtual(f, n, old):
            layout = h5py.VirtualLayout(shape=old.shape, dtype=old.dtype)
            layout[...] = h5py.VirtualSource(str(other), n, shape=old.shape)
            f.create_virtual_dataset(n, layout)

        _replace(path, name, virtual)
    else:
        raise AssertionError(f"no damage called {case}")


# -- the battery --------------------------------------------------------------------------


def check_refusal(code: int, out: str, err: str, bad: Path) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err and str(bad) in lines[0], err
    assert "ready" not in out  # the bridge never started


@pytest.mark.parametrize("reader, case", list(cases()))
def test_a_bad_file_is_one_line_naming_it_and_exit_code_2(
    reader, case, goods, tmp_path, capsys, monkeypatch
):
    from bridge.app import Bridge
    from gesture_rnn_cli import main

    def started(self, ready):
        pytest.fail(f"the bridge started on a bad file: {ready}")

    monkeypatch.setattr(Bridge, "run", started)
    spec = READERS[reader]
    bad = make_bad(case, spec.kind, goods, tmp_path)
    code = main(spec.command(bad, goods, tmp_path / "out.csv"))
    out, err = capsys.readouterr()
    check_refusal(code, out, err, bad)
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("reader", list(READERS))
def test_a_fifo_is_refused_at_once_by_the_real_command(reader, goods, tmp_path):
    """A FIFO blocks whoever opens it for reading until a writer comes: in a real process,
    with a time limit, so that a regression fails instead of hanging the suite."""
    spec = READERS[reader]
    bad = make_bad("fifo", spec.kind, goods, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "gesture_rnn", *spec.command(bad, goods, tmp_path / "out.csv")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    check_refusal(result.returncode, result.stdout, result.stderr, bad)


def test_a_file_without_checksums_loads_with_one_notice(goods, tmp_path, caplog):
    """Files written before checksums existed still load, saying once that damage to them
    cannot be detected."""
    from gesture_rnn import runtime

    old = tmp_path / "old.h5"
    shutil.copy(goods["model"], old)
    with h5py.File(old, "r+") as f:
        metadata = json.loads(f.attrs["gesture_rnn"])
        del metadata["sha256"]
        f.attrs["gesture_rnn"] = json.dumps(metadata)
    with caplog.at_level("WARNING"):
        runtime.load(old)
        runtime.load(old)
    notices = [r for r in caplog.records if "has no checksums" in r.getMessage()]
    assert len(notices) == 1 and str(old) in notices[0].getMessage()


@pytest.mark.parametrize("name", ["quartet.h5", "trio.h5", "duet.h5", "touches.h5"])
def test_the_bundled_files_carry_checksums_that_match(name, caplog):
    """Rewritten once with checksums, so damage to an installed copy is caught."""
    from gesture_rnn import runtime, touch_classifier

    path = Path(runtime.MODELS_DIR) / name
    with h5py.File(path) as f:
        raw = f.attrs["metadata" if name == "touches.h5" else "gesture_rnn"]
    names = set(json.loads(raw)["sha256"])
    with caplog.at_level("WARNING"):
        loaded = touch_classifier.load(path) if name == "touches.h5" else runtime.load(path)
    assert loaded is not None and "no checksums" not in caplog.text
    with h5py.File(path) as f:
        datasets = set()
        f.visititems(lambda n, node: datasets.add(n) if isinstance(node, h5py.Dataset) else None)
    assert names == datasets


# -- beyond the battery: files a musician's disk holds ------------------------------------

LEADS = {  # a gesture CSV, and what the one line must say
    "a row longer than the header": (
        "time,me\n2020-01-01T00:00:00,1,5\n",  # pandas took the time as an index: me = 5
        "more values than the header",
    ),
    "a column named twice": ("time,me,me\n0,1,2\n1,2,3\n", "column 'me' is named twice"),
    "a time in the year 9999": (
        "time,me\n2020-01-01T00:00:00,1\n9999-12-31T23:59:59,2\n",  # 1.8 TiB of steps
        "line 3: time '9999-12-31T23:59:59' is more than 24 hours after the first",
    ),
    "thousands of player columns": (  # 38 s to read, then every name in one line
        "time," + ",".join(f"p{i}" for i in range(5000)) + "\n0," + ",1" * 4999 + "1\n",
        "5000 player columns; a gesture file has 1 to 64",
    ),
    "a value of a megabyte": ("time,me\n0," + "1" * 1_000_000 + "x\n", "'1111"),
}


@pytest.mark.parametrize("case", LEADS)
def test_a_bad_lead_csv_is_one_short_line(case, goods, tmp_path, capsys):
    from gesture_rnn_cli import main

    text, message = LEADS[case]
    bad = tmp_path / "lead.csv"
    bad.write_text(text)
    out = tmp_path / "out.csv"
    code = main(
        ["generate", "--model", str(goods["model"]), "--lead", str(bad), "--out-csv", str(out)]
    )
    _, err = capsys.readouterr()
    check_refusal(code, "", err, bad)
    assert message in err and len(err) < 300, err[:300]
    assert not out.exists()


@pytest.mark.parametrize("reader", list(READERS))
def test_a_link_loop_is_named_as_one_not_as_a_missing_file(reader, goods, tmp_path, capsys):
    """A loop of symbolic links exists (ls shows it) but can never be read: saying "no
    such file" sends the user looking for a file that is there."""
    from bridge.app import Bridge
    from gesture_rnn_cli import main

    spec = READERS[reader]
    bad = tmp_path / f"loop{goods[spec.kind].suffix}"
    other = tmp_path / "other"
    bad.symlink_to(other)
    other.symlink_to(bad)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Bridge, "run", lambda self, ready: pytest.fail("started"))
        code = main(spec.command(bad, goods, tmp_path / "out.csv"))
    out, err = capsys.readouterr()
    check_refusal(code, out, err, bad)
    assert "symbolic links" in err and "no such" not in err and "does not exist" not in err


def test_a_toml_file_with_a_byte_order_mark_is_read(goods, tmp_path):
    """Notepad and other Windows editors start UTF-8 with a byte-order mark; TOML readers
    refuse it as "Invalid statement (at line 1, column 1)", a character nobody can see."""
    from bridge.config import from_sources, load_toml

    toml = tmp_path / "bridge.toml"
    toml.write_bytes(b"\xef\xbb\xbfport = 9123\r\ntemperature = 0.5\r\n")
    config = from_sources(load_toml(toml), {}, toml)
    assert (config.port, config.temperature) == (9123, 0.5)


CORPUS_COMMANDS = {
    "prepare": lambda data, out: ["prepare", "--data", data, "--out", out / "x.npz"],
    "corpus summary": lambda data, out: ["corpus", "summary", "--data", data],
    "corpus build": lambda data, out: ["corpus", "build", "--data", data, "--out", out / "i.h5"],
    "evaluate": lambda data, out: ["evaluate", "--model", "duet", "--data", data],
    "touches train": lambda data, out: ["touches", "train", "--data", data, "--out", out / "t.h5"],
}


@pytest.mark.parametrize("case", ["missing", "a file", "no metadata", "damaged metadata"])
@pytest.mark.parametrize("command", list(CORPUS_COMMANDS))
def test_a_corpus_folder_that_is_not_one_is_bad_input(command, case, tmp_path, capsys):
    """README: exit code 2 is bad input, a file or folder we read. A --data folder that is
    missing or holds no readable corpus exited 1, as if the command had failed."""
    from gesture_rnn_cli import main

    data = tmp_path / "corpus"
    if case == "a file":
        data.write_text("not a folder\n")
    elif case != "missing":
        (data / "metadata").mkdir(parents=True)
    if case == "damaged metadata":
        (data / "metadata" / "metatone-performance-information.csv").write_bytes(b"\xff\xfe\0")
    out = tmp_path / "out"
    out.mkdir()
    code = main([str(a) for a in CORPUS_COMMANDS[command](data, out)])
    _, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and str(data) in lines[0] and "Traceback" not in err, err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--model", "", "--data", "x"],
        ["generate", "--model", "", "--lead", "x.csv", "--out", "x"],
        ["touches", "evaluate", "--model", "", "--data", "x"],
        ["corpus", "info", ""],
        ["corpus", "summary", "--data", " "],
        ["bridge", "--config", ""],
        ["prepare", "--data", "x", "--out", ""],
    ],
    ids=lambda argv: " ".join(a for a in argv[:2] if a),
)
def test_an_empty_path_is_refused_as_empty_not_taken_for_the_current_folder(argv, capsys):
    """An empty path became ".", and the error named a folder nobody gave ("model file .
    is a folder")."""
    from gesture_rnn_cli import main

    with pytest.raises(SystemExit) as exit:
        main(argv)
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "an empty path" in err and " . " not in err, err
