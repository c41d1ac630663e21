"""--record on a file system that refuses writes: a small real tmpfs (mounted as root).

At start: one line, exit 1 (an output that cannot be written, as for every command),
nothing left behind. When the disk fills during the
performance: one warning, the recording stops, the performance goes on, and --stats
says how many ticks the file holds. A FIFO is refused at start instead of blocking.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from tests.bridge_process import BridgeProcess, free_udp_port, run_bridge_once
from tests.commands import tmpfs
from tests.models import tiny_model_file

PAGE = 4096


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs at tmp_path/fs; skips with the reason where mounting is not allowed."""
    with tmpfs(tmp_path / "fs", "size=64k") as where:
        yield where


def fill(where, leave: int = 0) -> None:
    """Fill the file system at ``where`` until only ``leave`` bytes (whole pages) are free."""
    free = os.statvfs(where).f_bavail * os.statvfs(where).f_frsize
    with open(where / "filler", "wb") as f:
        f.write(b"x" * (free - leave))
    assert os.statvfs(where).f_bavail * os.statvfs(where).f_frsize == leave


def assert_refused(result, path) -> None:
    assert result.returncode == 1, result.stderr  # an output that cannot be written (README)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_record_on_a_full_file_system_is_refused_at_start(small_fs, tmp_path):
    fill(small_fs)
    take = small_fs / "take.csv"
    result = run_bridge_once(
        "--port", free_udp_port(), "--model", tiny_model_file(tmp_path / "m.h5"), "--record", take
    )
    assert_refused(result, take)
    assert "No space left" in result.stderr
    assert sorted(p.name for p in small_fs.iterdir()) == ["filler"]  # nothing left behind


def test_record_with_force_on_a_full_file_system_keeps_the_old_file(small_fs, tmp_path):
    take = small_fs / "take.csv"
    take.write_text("time,lead\nmine\n")
    fill(small_fs)
    result = run_bridge_once(
        "--port", free_udp_port(), "--model", tiny_model_file(tmp_path / "m.h5"),
        "--record", take, "--force",
    )  # fmt: skip
    assert_refused(result, take)
    assert take.read_text() == "time,lead\nmine\n"
    assert sorted(p.name for p in small_fs.iterdir()) == ["filler", "take.csv"]


def test_record_on_a_read_only_file_system_is_refused_at_start(small_fs, tmp_path):
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    take = small_fs / "take.csv"
    result = run_bridge_once(
        "--port", free_udp_port(), "--model", tiny_model_file(tmp_path / "m.h5"), "--record", take
    )
    assert_refused(result, take)
    assert "Read-only" in result.stderr or "not writable" in result.stderr
    assert list(small_fs.iterdir()) == []


def test_stats_on_a_read_only_file_system_is_refused_at_start(small_fs, tmp_path):
    """The folder exists but takes no file: the stats were lost after the performance
    ('could not write --stats' at the end); now one line at start, exit 2."""
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    stats = small_fs / "stats.json"
    result = run_bridge_once(
        "--port", free_udp_port(), "--model", tiny_model_file(tmp_path / "m.h5"), "--stats", stats
    )
    assert_refused(result, stats)
    assert "Read-only" in result.stderr and "--stats" in result.stderr


@pytest.mark.parametrize("force", [False, True])
def test_record_to_a_fifo_is_refused_at_start(tmp_path, force):
    fifo = tmp_path / "take.csv"
    os.mkfifo(fifo)
    result = run_bridge_once(
        "--port", free_udp_port(), "--model", tiny_model_file(tmp_path / "m.h5"),
        "--record", fifo, *(["--force"] if force else []), timeout=30,
    )  # fmt: skip
    assert_refused(result, fifo)
    assert "not a regular file" in result.stderr


def test_disk_full_during_the_performance_stops_the_recording_not_the_bridge(
    small_fs, tmp_path, listener
):
    fill(small_fs, leave=PAGE)  # room for about a hundred rows
    take, stats = small_fs / "take.csv", tmp_path / "stats.json"
    bridge = BridgeProcess(
        "--model", tiny_model_file(tmp_path / "m.h5"), "--period", "0.01", "--quiet",
        "--record", take, "--stats", stats, "--osc-out", f"127.0.0.1:{listener.port}",
    )  # fmt: skip
    try:
        # 300 ticks: the disk was full after about 100 rows, and the ticks went on.
        listener.collect(
            30, until=lambda m: any(a == "/ensemble/tick" and p[0] >= 300 for _, a, p in m)
        )
    finally:
        code, _, err = bridge.stop(signal.SIGTERM)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "recording stopped" in line]
    assert len(warnings) == 1 and "No space left" in warnings[0], err
    assert "Traceback" not in err
    summary = json.loads(stats.read_text())
    assert summary["ticks"] >= 300
    rows = take.read_text().splitlines()
    assert 10 < summary["ticks_recorded"] == len(rows) - 1 < summary["ticks"]
    assert all(len(row.split(",")) == 5 for row in rows[1:])  # no half row at the end
