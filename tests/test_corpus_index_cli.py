"""``gesture-rnn corpus build | info | plot`` through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.test_corpus_index import _alpha, _beta, standard_fakes, write_touch_corpus

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(*args, code: str | None = None):
    command = [sys.executable, "-m", "gesture_rnn", *map(str, args)]
    if code is not None:
        command = [sys.executable, "-c", code, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def index_file(tmp_path_factory):
    root = write_touch_corpus(tmp_path_factory.mktemp("corpus"), standard_fakes())
    out = root / "touches.h5"
    result = run("corpus", "build", "--data", root, "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result


def _check_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000
    # The IHDR chunk: width and height of a real picture.
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 200 and height > 150


def test_build_reports_what_it_wrote_and_what_it_skipped(index_file):
    out, result = index_file
    assert f"wrote {out}" in result.stdout
    assert "2 performances" in result.stdout and "4 skipped" in result.stdout
    for name in ("delta", "epsilon"):  # damaged files, each named
        assert f"skipping {name}" in result.stderr
    # missing files (gamma, zeta): one line with the count; -v names them
    assert "2 performances listed in the metadata have no gesture or touch file" in result.stderr
    assert "indexing touches" not in result.stderr  # no progress bar: stderr is a pipe
    assert "Traceback" not in result.stderr


def test_build_shows_a_progress_bar_on_a_terminal(tmp_path):
    import fcntl
    import os
    import pty
    import struct
    import termios

    root = write_touch_corpus(tmp_path, [_alpha()])
    main, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 80 columns
    with os.fdopen(main, "rb", buffering=0) as screen:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gesture_rnn",
                "corpus",
                "build",
                "--data",
                root,
                "--out",
                tmp_path / "t.h5",
            ],  # fmt: skip
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=terminal,
        )
        os.close(terminal)
        shown = b""
        try:
            while chunk := screen.read(4096):
                shown += chunk
        except OSError:  # the terminal closed: the command has exited
            pass
    assert proc.wait(timeout=60) == 0
    assert b"indexing touches" in shown


def test_build_quiet_has_no_progress_bar_and_never_overwrites(tmp_path):
    root = write_touch_corpus(tmp_path, [_alpha()])
    out = tmp_path / "t.h5"
    first = run("corpus", "build", "--data", root, "--out", out, "--quiet")
    assert first.returncode == 0 and "indexing touches" not in first.stderr
    again = run("corpus", "build", "--data", root, "--out", out)
    assert again.returncode == 1 and "already exists; use --force" in again.stderr
    forced = run("corpus", "build", "--data", root, "--out", out, "--force", "--quiet")
    assert forced.returncode == 0


def test_build_errors_are_one_line(tmp_path):
    missing = run("corpus", "build", "--data", tmp_path / "nope", "--out", tmp_path / "x.h5")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    root = write_touch_corpus(tmp_path / "c", [_alpha()])
    for fake in ("alpha",):
        (root / "data" / f"{fake}-touches.csv.gz").unlink()
    empty = run("corpus", "build", "--data", root, "--out", tmp_path / "x.h5")
    assert empty.returncode == 1 and "no touches" in empty.stderr
    assert "Traceback" not in empty.stderr and not (tmp_path / "x.h5").exists()
    lag = run("corpus", "build", "--data", root, "--out", tmp_path / "x.h5", "--label-lag", "0")
    assert lag.returncode == 2 and "label-lag" in lag.stderr


def test_info_prints_performances_performers_events_and_seconds(index_file):
    out, _ = index_file
    result = run("corpus", "info", out)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    events = len(_alpha().events) + len(_beta().events)
    assert f"2 performances, 5 performers (5 performer streams), {events} touch events" in text
    line = next(row for row in text.splitlines() if " FS " in row)
    # ann's 15 FS rows label slots -3..11; the 12 slots from 0 hold 10 touches each.
    assert line.split()[-4:] == ["15", "12", "120", "10.0"]
    assert "gamma" in text and "missing" in text  # what was left out

    info = json.loads(run("corpus", "info", out, "--json").stdout)
    assert info["gestures"]["FT"]["seconds_with_touches"] == 29 + 19
    assert info["events"] == events


def test_info_on_a_damaged_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an index at all" * 10)
    result = run("corpus", "info", bad)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(bad) in result.stderr and "not an HDF5 file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_plot_writes_a_png_per_gesture_and_of_one_gesture(index_file, tmp_path):
    pytest.importorskip("matplotlib", reason="plot needs the optional extra gesture-rnn[plot]")
    out, _ = index_file
    every = tmp_path / "all.png"
    result = run("corpus", "plot", out, "--out", every)
    assert result.returncode == 0, result.stderr
    _check_png(every)
    one = tmp_path / "fs.png"
    result = run("corpus", "plot", out, "--gesture", "FS", "--out", one, "--sequences", "2")
    assert result.returncode == 0, result.stderr
    _check_png(one)
    assert one.stat().st_size < every.stat().st_size  # one panel, not nine


def test_plot_of_the_fallback_and_its_default_name(tmp_path):
    pytest.importorskip("matplotlib", reason="plot needs the optional extra gesture-rnn[plot]")
    result = subprocess.run(
        [sys.executable, "-m", "gesture_rnn", "corpus", "plot", "--procedural", "--gesture", "BS"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    _check_png(tmp_path / "procedural-BS.png")


def test_plot_errors(index_file, tmp_path):
    out, _ = index_file
    existing = tmp_path / "mine.png"
    existing.write_bytes(b"precious")
    clash = run("corpus", "plot", out, "--out", existing)
    assert clash.returncode == 1 and "already exists" in clash.stderr
    assert existing.read_bytes() == b"precious"
    bad = run("corpus", "plot", out, "--gesture", "XX", "--out", tmp_path / "x.png")
    assert bad.returncode == 1 and "--gesture" in bad.stderr and "Traceback" not in bad.stderr
    neither = run("corpus", "plot", "--out", tmp_path / "x.png")
    assert neither.returncode == 1 and "--procedural" in neither.stderr
    missing = run("corpus", "plot", tmp_path / "none.h5", "--out", tmp_path / "x.png")
    assert missing.returncode == 2 and "no such corpus index" in missing.stderr
    assert not (tmp_path / "x.png").exists()


def test_plot_without_matplotlib_says_how_to_get_it(index_file, tmp_path):
    out, _ = index_file
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if it were not installed\n"
        "from gesture_rnn_cli import main\n"
        "sys.exit(main(['corpus', 'plot', *sys.argv[1:]]))\n"
    )
    result = run(out, "--out", tmp_path / "x.png", code=code)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "matplotlib" in result.stderr and "gesture-rnn[plot]" in result.stderr


def test_the_commands_do_not_import_heavy_modules_at_startup():
    code = (
        "import sys\n"
        "from gesture_rnn_cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in ('matplotlib', 'h5py', 'tensorflow') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_index_built_by_the_command_serves_queries(index_file):
    import corpus_index

    index = corpus_index.open(index_file[0])
    seq = index.player(seed=0).next("FT", 0.5, near=(0.9, 0.9))
    assert len(seq) > 0 and np.all(seq.t < 0.5)


# -- the round trip ------------------------------------------------------------------------


def test_round_trip_of_the_fallback_prints_each_gesture_and_the_mean():
    result = run("corpus", "info", "--round-trip", "--trials", "5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "the procedural fallback" in lines[0] and "5 times" in lines[0]
    rows = [line.split() for line in lines if line.startswith("  ") and line.split()[0].isdigit()]
    assert [row[1] for row in rows] == ["N", "FT", "ST", "FS", "FSA", "VSS", "BS", "SS", "C"]
    assert all(0 <= float(row[-2]) <= 1 for row in rows)  # accuracy, then heard as
    assert lines[-1].startswith("mean over the nine gestures: ")
    same = run("corpus", "info", "--round-trip", "--procedural", "--trials", "5")
    assert same.stdout == result.stdout  # seeded; --procedural says the same


def test_round_trip_of_an_index_as_json(index_file):
    out, _ = index_file
    result = run("corpus", "info", "--round-trip", out, "--trials", "4", "--json", "--seed", "2")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["source"] == str(out) and report["trials_per_gesture"] == 4
    assert report["seed"] == 2 and report["classifier"].endswith("touches.h5")
    assert list(report["gestures"]) == ["N", "FT", "ST", "FS", "FSA", "VSS", "BS", "SS", "C"]
    for row in report["gestures"].values():
        assert sum(row["heard_as"].values()) == 4
    assert report["gestures"]["N"] == {
        "accuracy": 1.0,
        "most_often_heard_as": None,
        "heard_as": {"N": 4},
    }
    mean = np.mean([row["accuracy"] for row in report["gestures"].values()])
    assert report["mean_accuracy"] == pytest.approx(mean)


def test_round_trip_errors_are_one_line(index_file, tmp_path):
    out, _ = index_file
    both = run("corpus", "info", "--round-trip", out, "--procedural")
    assert both.returncode == 1 and "not both" in both.stderr
    neither = run("corpus", "info")
    assert neither.returncode == 1 and "FILE" in neither.stderr
    bad = tmp_path / "classifier.h5"
    bad.write_bytes(b"not a classifier")
    wrong = run("corpus", "info", "--round-trip", "--classifier", bad)
    assert wrong.returncode == 2 and str(bad) in wrong.stderr  # a bad input file
    missing = run("corpus", "info", "--round-trip", tmp_path / "none.h5")
    assert missing.returncode == 2 and "no such corpus index" in missing.stderr
    zero = run("corpus", "info", "--round-trip", "--trials", "0")
    assert zero.returncode == 2 and "--trials" in zero.stderr
    assert "Traceback" not in zero.stderr  # argparse: the usage, then the error
    for result in (both, neither, wrong, missing):
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
