"""``generate --lead`` places the lead by its time column: a bridge recording made with
--period 0.1 is resampled to the model's one-second steps, saying so; bad times refused."""

from __future__ import annotations

import subprocess
import sys

from tests.bridge_process import BridgeProcess


def generate(*args):
    return subprocess.run(
        [sys.executable, "-m", "gesture_rnn", "generate", "--seed", "1", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(path):
    return path.read_text().strip().splitlines()[1:]


def test_a_fast_bridge_recording_is_resampled_to_seconds(tiny_model, listener, tmp_path):
    record = tmp_path / "rec.csv"
    bridge = BridgeProcess(
        "--model", tiny_model, "--period", "0.1", "--record", record, "--quiet",
        "--osc-out", f"127.0.0.1:{listener.port}",
    )  # fmt: skip
    listener.collect(30, until=lambda m: sum(a == "/ensemble/tick" for _, a, _ in m) >= 35)
    assert bridge.stop()[0] == 0
    ticks = len(rows(record))
    assert ticks >= 35

    out = tmp_path / "g.csv"
    result = generate("--model", tiny_model, "--lead", record, "--lead-column", "lead",
                      "--out-csv", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "resampled" in line]
    assert len(said) == 1 and "0.1 s" in said[0], result.stderr
    seconds = len(rows(out))
    assert abs(seconds - ticks / 10) <= 1.5, (seconds, ticks)  # not one second a row


def test_rows_one_second_apart_are_taken_as_they_are(tiny_model, tmp_path):
    lead = tmp_path / "lead.csv"
    lead.write_text("time,me\n0,1\n1,2\n2,3\n3,4\n")
    out = tmp_path / "g.csv"
    result = generate("--model", tiny_model, "--lead", lead, "--out-csv", out)
    assert result.returncode == 0 and "resampled" not in result.stderr
    assert [r.split(",")[1] for r in rows(out)] == ["1", "2", "3", "4"]


def test_half_second_rows_keep_the_gesture_in_force_at_each_second(tiny_model, tmp_path):
    lead = tmp_path / "lead.csv"
    lead.write_text("time,me\n0,1\n0.5,2\n1.0,3\n1.5,4\n2.0,5\n2.5,6\n")
    out = tmp_path / "g.csv"
    result = generate("--model", tiny_model, "--lead", lead, "--out-csv", out)
    assert result.returncode == 0, result.stderr
    assert [r.split(",")[1] for r in rows(out)] == ["1", "3", "5"]


def test_times_that_cannot_place_the_lead_are_one_line(tiny_model, tmp_path):
    for name, text, message in (
        ("words.csv", "time,me\n0,1\nlater,2\n", "line 3: time 'later'"),
        ("back.csv", "time,me\n0,1\n2,2\n1,3\n", "line 4: the times do not increase"),
    ):
        lead = tmp_path / name
        lead.write_text(text)
        result = generate("--model", tiny_model, "--lead", lead, "--out-csv", tmp_path / "g.csv")
        assert result.returncode == 2  # a bad input file (README: exit codes)
        assert result.stderr.strip().count("\n") == 0 and message in result.stderr
        assert not (tmp_path / "g.csv").exists()
