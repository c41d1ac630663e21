"""A command that needs an optional extra says which, and the pip command, in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.synthetic import random_performance, write_corpus

# Runs the CLI in an environment without the given modules (as `make run`'s .venv lacks
# TensorFlow): a None entry in sys.modules makes their import fail.
WITHOUT = (
    "import sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    sys.modules[name] = None\n"
    "from gesture_rnn_cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def run_without(modules: str, *args):
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, modules, *map(str, args)],
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


CASES = {
    "train": ("keras,tensorflow", "train", ["train", "--data", "{d}", "--out", "{o}/m.h5"]),
    "export": ("tensorflow", "train", ["export", "{d}/m.keras", "--out", "{o}/m.h5"]),
    "generate --out-png": (
        "matplotlib",
        "plot",
        ["generate", "--lead", "{d}/lead.csv", "--out-png", "{o}/g.png"],
    ),
    "generate --out": (
        "matplotlib",
        "plot",
        ["generate", "--lead", "{d}/lead.csv", "--out", "{o}/g"],
    ),
    "touches train": (
        "sklearn",
        "train",
        ["touches", "train", "--data", "{d}", "--out", "{o}/t.h5"],
    ),
    "corpus plot": ("matplotlib", "plot", ["corpus", "plot", "--procedural", "--out", "{o}/p.png"]),
}


@pytest.mark.parametrize("name", CASES)
def test_a_missing_extra_is_one_line_with_the_pip_command(name, corpus, tmp_path):
    modules, extra, args = CASES[name]
    result = run_without(modules, *[a.format(d=corpus, o=tmp_path) for a in args])
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f'pip install -e ".[{extra}]"' in lines[0]
    assert f'pip install "gesture-rnn[{extra}]"' in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing half-made


def test_readme_says_which_environment_has_tensorflow_and_how_to_add_it():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert ".venv-test" in readme and "TensorFlow" in readme
    assert '.venv/bin/pip install -e ".[train]"' in readme
