"""One write policy for every command that writes a file (gesture_rnn.files.write_new):
an existing file is kept unless --force, and nothing half-written is left behind."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.bridge_process import free_udp_port
from tests.synthetic import random_performance, write_corpus


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "gesture_rnn", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


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
}


@pytest.mark.parametrize("name", WRITERS)
def test_every_writer_keeps_an_existing_file_without_force(name, corpus, tmp_path):
    out = tmp_path / "mine.out"
    out.write_text("the user's own work\n")
    args = [a.format(data=corpus, out=out, port=free_udp_port()) for a in WRITERS[name]]
    result = run(*args)
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "already exists" in lines[0] and "--force" in lines[0], lines
    assert out.read_text() == "the user's own work\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.out"]


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
