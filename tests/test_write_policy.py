"""One write policy for every command that writes a file (gesture_rnn.files.write_new):
an existing file is kept unless --force, and nothing half-written is left behind."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from tests.bridge_process import free_udp_port
from tests.commands import run, tmpfs
from tests.synthetic import random_performance, write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root, [random_performance(f"q{i}", 40, 4, seed=i) for i in range(3)])
    (root / "lead.csv").write_text("time,lead\n0,1\n1,2\n2,3\n")
    return root


# Each command that writes, with {out} where its output file goes.
WRITERS = {
    "prepare": ["prepare", "--data", "{data}", "--steps", "10", "--out", "{out}"],
    "train": ["train", "--data", "{data}", "--out", "{out}"],
    "export": ["export", "{data}/no.keras", "--out", "{out}"],
    "generate": ["generate", "--lead", "{data}/lead.csv", "--out-csv", "{out}"],
    "touches train": ["touches", "train", "--data", "{data}", "--out", "{out}"],
    "corpus build": ["corpus", "build", "--data", "{data}", "--out", "{out}"],
    "corpus plot": ["corpus", "plot", "--procedural", "--out", "{out}"],
    "bridge --stats": ["bridge", "--port", "{port}", "--stats", "{out}"],
    "bridge --record": ["bridge", "--port", "{port}", "--record", "{out}"],
}


@pytest.mark.parametrize("name", WRITERS)
def test_every_writer_keeps_an_existing_file_without_force(name, corpus, tmp_path):
    out = tmp_path / "mine.out"
    out.write_text("the user's own work\n")
    args = [a.format(data=corpus, out=out, port=free_udp_port()) for a in WRITERS[name]]
    result = run(*args)
    assert result.returncode == 1, result.stderr  # README: exit codes
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "already exists" in lines[0] and "--force" in lines[0], lines
    assert out.read_text() == "the user's own work\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.out"]


@pytest.mark.parametrize("name", WRITERS)
def test_every_writer_refuses_a_missing_folder_in_one_line(name, corpus, tmp_path):
    """The same answer (exit code 1, README) from every command, the bridge included."""
    out = tmp_path / "nowhere" / "out.file"
    args = [a.format(data=corpus, out=out, port=free_udp_port()) for a in WRITERS[name]]
    result = run(*args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and "does not exist" in lines[0] and str(out) in lines[0], lines


@pytest.mark.parametrize("name", WRITERS)
def test_every_writer_refuses_to_replace_a_fifo_or_device_even_with_force(name, corpus, tmp_path):
    """--force replaced whatever was there by a regular file: --out-csv /dev/null --force
    (the Unix way to discard an output) replaced the system's /dev/null, as root."""
    out = tmp_path / "pipe"
    os.mkfifo(out)
    args = [a.format(data=corpus, out=out, port=free_udp_port()) for a in WRITERS[name]]
    result = run(*args, "--force")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "not a regular file" in lines[0] and str(out) in lines[0], lines
    assert stat.S_ISFIFO(os.stat(out).st_mode)


def test_generate_out_needs_a_file_name(corpus, tmp_path):
    # '' was a ValueError traceback; a folder wrote <folder>.csv
    empty = run("generate", "--lead", corpus / "lead.csv", "--out", "")
    assert empty.returncode == 2 and "an empty path" in empty.stderr, empty.stderr
    folder = run("generate", "--lead", corpus / "lead.csv", "--out", tmp_path)
    assert folder.returncode == 1 and "Traceback" not in folder.stderr, folder.stderr
    assert "give a file name prefix" in folder.stderr
    assert not tmp_path.with_suffix(".csv").exists()


def test_prepare_replaces_only_with_force_and_leaves_no_partial_file(corpus, tmp_path):
    out = tmp_path / "train.npz"
    first = run("prepare", "--data", corpus, "--steps", 10, "--out", out)
    assert first.returncode == 0, first.stderr
    again = run("prepare", "--data", corpus, "--steps", 12, "--out", out)
    assert again.returncode == 1 and "--force" in again.stderr
    with np.load(out) as data:
        assert data["X"].shape[1] == 10
    forced = run("prepare", "--data", corpus, "--steps", 12, "--out", out, "--force")
    assert forced.returncode == 0, forced.stderr
    with np.load(out) as data:
        assert data["X"].shape[1] == 12
    assert [p.name for p in tmp_path.iterdir()] == ["train.npz"]


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    from gesture_rnn.config import config_for
    from gesture_rnn.export import metadata_for, write_model_file

    def cannot_write(_tmp):
        raise OSError(28, "No space left on device")

    from gesture_rnn.files import OutputError, write_new

    with pytest.raises(OutputError, match="No space left"):
        write_new(tmp_path / "m.h5", cannot_write)
    # A model whose weights cannot be stored: the half-written file goes too.
    with pytest.raises(TypeError):
        write_model_file(tmp_path / "m.h5", {"w": object()}, metadata_for(config_for("small")))
    assert list(tmp_path.iterdir()) == []


def test_bridge_stats_written_at_exit_and_replaced_only_with_force(tiny_model, listener, tmp_path):
    import json

    from tests.bridge_process import BridgeProcess

    stats = tmp_path / "stats.json"
    for extra in ([], ["--force"]):
        bridge = BridgeProcess(
            "--model", tiny_model, "--period", "0.05", "--quiet", "--stats", stats, *extra,
            "--osc-out", f"127.0.0.1:{listener.port}",
        )  # fmt: skip
        listener.collect(5, until=lambda m: sum(a == "/ensemble/tick" for _, a, _ in m) >= 2)
        assert bridge.stop()[0] == 0
        assert json.loads(stats.read_text())["tick_late"]["n"] >= 1
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]


@pytest.mark.parametrize("name", WRITERS)
def test_every_writer_refuses_a_read_only_folder_in_one_line_before_any_work(
    name, corpus, tmp_path
):
    """As root, permissions do not stop a write, but a read-only mount does: the temporary
    file could not be made, and removing it (it never existed) raised EROFS again."""
    with tmpfs(tmp_path / "ro", "ro,size=1m") as folder:
        out = folder / "out.file"
        args = [a.format(data=corpus, out=out, port=free_udp_port()) for a in WRITERS[name]]
        result = run(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert len(lines) == 1 and str(out) in lines[0] and "not writable" in lines[0], lines


def test_a_full_disk_is_one_plain_line_and_leaves_nothing(corpus, tmp_path):
    """HDF5 reports a full disk as a paragraph (time, file name, errno, ...); the user
    needs its reason."""
    with tmpfs(tmp_path / "full", "size=4k") as folder:
        out = folder / "index.h5"
        for _ in range(3):  # HDF5 writing to the full disk crashed (SIGSEGV) one run in three
            result = run("corpus", "build", "--data", corpus, "--out", out)
            lines = [line for line in result.stderr.splitlines() if "error" in line]
            assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
            assert lines == [f"gesture-rnn: error: cannot write {out}: No space left on device"]
            assert list(folder.iterdir()) == []


def test_generate_takes_back_its_outputs_when_a_later_one_fails(tiny_model, tmp_path):
    """--out writes CSV, PNG, MIDI in turn; a full disk at the MIDI left the CSV and the
    PNG of a run that failed (exit 1), which a user takes for a finished one."""
    lead = tmp_path / "lead.csv"
    lead.write_text("time,me\n" + "".join(f"{s},{s % 9}\n" for s in range(1000)))
    # Room for the CSV (12 kB) and the PNG (95 kB), not for the MIDI file (570 kB).
    with tmpfs(tmp_path / "full", "size=256k") as folder:
        result = run(
            "generate", "--model", tiny_model, "--seed", "1", "--lead", lead, "--out", folder / "p"
        )
        assert result.returncode == 1 and "No space left" in result.stderr, result.stderr
        assert list(folder.iterdir()) == []


def test_a_recording_that_fills_the_disk_stops_in_one_line_and_the_music_goes_on(
    tiny_model, listener, tmp_path
):
    """A full disk mid-performance raised OSError from the tick (a traceback, the bridge
    dead on stage). Now: one error line, the take so far kept whole (no half row), and
    the ensemble keeps playing."""
    import select
    import time

    from gesture_rnn.corpus import read_gesture_file
    from tests.bridge_process import BridgeProcess

    with tmpfs(tmp_path / "full", "size=64k") as folder:
        (folder / "fill").write_bytes(bytes(60 * 1024))  # one 4 KiB page left: ~80 rows
        take = folder / "take.csv"
        bridge = BridgeProcess(
            "--model", tiny_model, "--quiet", "--period", "0.02", "--record", take,
            "--osc-out", f"127.0.0.1:{listener.port}",
        )  # fmt: skip
        try:
            said, end = "", time.monotonic() + 30
            while "recording stopped" not in said and time.monotonic() < end:
                if select.select([bridge.proc.stderr], [], [], 1.0)[0]:
                    said += bridge.proc.stderr.readline()
            assert "recording stopped" in said and str(take) in said, said
            assert "No space left" in said and "Traceback" not in said
            assert len(listener.collect(5.0, until=lambda got: len(got) >= 10)) >= 10
            assert bridge.proc.poll() is None
        finally:
            code, _, err = bridge.stop()
        assert code == 0 and "Traceback" not in err, err
        gestures, players = read_gesture_file(take)
        assert len(gestures) > 10 and players == ("lead", "player1", "player2", "player3")


@pytest.mark.parametrize(
    "argv",
    [
        ["corpus", "plot", "--procedural", "--out", "{out}"],
        ["generate", "--lead", "{data}/lead.csv", "--out-png", "{out}"],
    ],
)
@pytest.mark.parametrize("name", ["plot.svg", "plot.jpg", "plot"])
def test_a_png_writer_refuses_a_name_of_another_format(argv, name, corpus, tmp_path):
    """--out-png take.svg wrote PNG bytes under an .svg name, exit 0: the file then fails
    to open in whatever the name promised."""
    out = tmp_path / name
    result = run(*[a.format(data=corpus, out=out) for a in argv])
    assert result.returncode == 1 and "give a name ending .png" in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []
