"""Corpus commands say the performances skipped for missing files once, as a count (the
names with -v), and draw no progress bar when their output is not a terminal."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.synthetic import random_performance, write_corpus

MISSING = ["gone-1", "gone-2", "gone-3", "gone-4"]  # the public corpus has four such


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "gesture_rnn", *map(str, args)],
        capture_output=True,  # a pipe, not a terminal
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    performances = [random_performance(f"q{i}", 40, 4, seed=i) for i in range(2)]
    return write_corpus(root, performances, listed_only=MISSING)


COMMANDS = {
    "corpus summary": ["corpus", "summary", "--data", "{d}"],
    "corpus build": ["corpus", "build", "--data", "{d}", "--out", "{o}/i.h5"],
    "prepare": ["prepare", "--data", "{d}", "--steps", "10", "--out", "{o}/t.npz"],
    "touches evaluate": ["touches", "evaluate", "--data", "{d}", "--all"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_missing_files_are_one_warning_with_the_count(name, corpus, tmp_path):
    args = [a.format(d=corpus, o=tmp_path) for a in COMMANDS[name]]
    quiet = run(*args)
    assert quiet.returncode == 0, quiet.stderr
    warnings = [line for line in quiet.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, quiet.stderr
    assert "4 performances" in warnings[0] and "-v" in warnings[0]
    assert "\r" not in quiet.stderr and "%|" not in quiet.stderr  # no bar: not a terminal
    assert not any(name in quiet.stderr for name in MISSING)
    for path in tmp_path.iterdir():
        path.unlink()
    verbose = run(*args, "-v")
    assert all(name in verbose.stderr for name in MISSING)


@pytest.mark.parametrize("what", ["a file", "a link loop"])
def test_a_corpus_path_that_is_not_a_folder_is_not_called_missing(what, tmp_path):
    """--data pointing at a CSV, or at a loop of links, said "corpus folder X does not
    exist" (and evaluate added "the model is for an ensemble of 4 players: ")."""
    data = tmp_path / "performance.csv"
    if what == "a file":
        data.write_text("time,me\n0,1\n")
    else:
        data.symlink_to(tmp_path / "other")
        (tmp_path / "other").symlink_to(data)
    for command in (["corpus", "summary"], ["evaluate"], ["prepare", "--out", tmp_path / "x"]):
        result = run(*command, "--data", data)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert f"{data} is not a corpus folder" in lines[0], lines[0]
        assert "does not exist" not in lines[0] and "ensemble" not in lines[0]
