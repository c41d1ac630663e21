import subprocess
import sys

import numpy as np

from tests.commands import run
from tests.synthetic import random_performance, write_corpus


def test_help_lists_commands_and_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from gesture_rnn_cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'no TF')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "prepare" in result.stdout and "corpus" in result.stdout
    assert result.stdout.strip().endswith("no TF")


def test_summary_prints_sizes_types_contexts_and_gestures(tmp_path):
    write_corpus(
        tmp_path,
        [random_performance("a", 30, 4, seed=1), random_performance("b", 20, 2, seed=2)],
    )
    result = run("corpus", "summary", "--data", tmp_path, check=True)
    assert "2 performances, 50 seconds" in result.stdout
    assert "FSA" in result.stdout and "by context" in result.stdout


def test_prepare_writes_int16_npz(tmp_path):
    write_corpus(tmp_path, [random_performance(f"q{i}", 40, 4, seed=i) for i in range(2)])
    out = tmp_path / "train.npz"
    result = run("prepare", "--data", tmp_path, "--steps", 10, "--out", out, check=True)
    assert "wrote" in result.stdout
    with np.load(out, allow_pickle=False) as data:
        assert data["X"].dtype == np.int16 and data["y"].dtype == np.int16
        assert data["X"].shape == data["y"].shape == (2 * 24 * (40 - 10 - 1), 10)


def test_errors_are_one_line_without_traceback(tmp_path):
    missing = run("prepare", "--data", tmp_path / "nope", "--out", tmp_path / "x.npz")
    assert missing.returncode == 2  # bad input (README: exit codes)
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr

    write_corpus(tmp_path, [random_performance("d", 30, 2, seed=3)])
    no_quartets = run("prepare", "--data", tmp_path, "--out", tmp_path / "x.npz")
    assert no_quartets.returncode == 1
    assert "exactly 4 performers" in no_quartets.stderr and "Traceback" not in no_quartets.stderr

    too_long = run("prepare", "--data", tmp_path, "--ensemble", 2, "--steps", 500,
                   "--out", tmp_path / "x.npz")  # fmt: skip
    assert too_long.returncode == 1 and "smaller --steps" in too_long.stderr

    bad_out = run(
        "prepare", "--data", tmp_path, "--ensemble", 2, "--out", tmp_path / "no" / "x.npz"
    )
    assert bad_out.returncode == 1 and "does not exist" in bad_out.stderr

    bad_flag = run("prepare", "--data", tmp_path, "--steps", "zero", "--out", tmp_path / "x.npz")
    assert bad_flag.returncode == 2 and "--steps" in bad_flag.stderr


def test_the_model_package_never_imports_the_index_the_bridge_or_the_program_above_it():
    # Every module of gesture_rnn loaded and all its subcommands registered: the program at
    # the top (gesture_rnn_cli) adds the index's and the bridge's commands, not the model.
    code = (
        "import argparse, importlib, pkgutil, sys\n"
        "import gesture_rnn, gesture_rnn.cli\n"
        "for m in pkgutil.walk_packages(gesture_rnn.__path__, 'gesture_rnn.'):\n"
        "    if m.name != 'gesture_rnn.__main__':\n"
        "        importlib.import_module(m.name)\n"
        "commands = argparse.ArgumentParser().add_subparsers()\n"
        "for m in pkgutil.iter_modules(gesture_rnn.cli.__path__, 'gesture_rnn.cli.'):\n"
        "    module = importlib.import_module(m.name)\n"
        "    if hasattr(module, 'register'):\n"
        "        module.register(commands)\n"
        "print(sorted(commands.choices))\n"
        "print(sorted({n.split('.')[0] for n in sys.modules}"
        " & {'bridge', 'corpus_index', 'gesture_rnn_cli'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    registered, above = result.stdout.splitlines()
    assert "'generate'" in registered and "'corpus'" in registered
    assert above == "[]"
