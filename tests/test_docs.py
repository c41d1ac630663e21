"""Help, docs and behaviour agree: each default, range and message that README.md and docs/
state, and that a user can check, is checked here against the code that sets it."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from tests.bridge_process import BridgeProcess
from tests.commands import run
from tests.synthetic import random_performance, write_corpus

REPO = Path(__file__).resolve().parent.parent


def doc(name: str) -> str:
    return " ".join((REPO / name).read_text(encoding="utf-8").split())


@functools.cache
def help_text(*command) -> str:
    return " ".join(run(*command, "--help").stdout.split())


# -- docs/bridge.md's option table ---------------------------------------------------------


def option_rows():
    text = (REPO / "docs" / "bridge.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(--[a-z-]+)[^`]*` \| `([a-z_]+)`[^|]* \| ([^|]+) \|", text, re.M)
    assert len(rows) >= 15, "the option table of docs/bridge.md was not found"
    return rows


@pytest.mark.parametrize(("flag", "key", "default"), option_rows())
def test_bridge_doc_table_matches_the_options_and_their_defaults(flag, key, default):
    from bridge.config import BridgeConfig

    assert flag in help_text("bridge")
    config = BridgeConfig()
    assert key in {f.name for f in fields(BridgeConfig)}
    value, default = getattr(config, key), default.strip()
    if not default.startswith("`"):  # off, none, random, procedural fallback, everyone ...
        assert value in (False, None, [], ()), (key, value)
    elif key == "model":
        assert default == "`quartet`" and value is None  # None loads the bundled quartet
    else:
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        assert default == f"`{shown}`", (key, value)


def test_readme_addresses_are_the_bridge_defaults():
    from bridge.config import BridgeConfig

    config = BridgeConfig()
    readme = doc("README.md")
    assert f"listens for OSC on {config.host}:{config.port}" in readme
    assert f"sends the ensemble to {config.osc_out[0]}" in readme


def test_documented_ranges_are_the_checked_ranges():
    from bridge.config import MIN_PERIOD
    from gesture_rnn.runtime import TEMPERATURE_RANGE

    low, high = TEMPERATURE_RANGE
    temperature = f"{low:g}-{high:g}"
    bridge_doc = doc("docs/bridge.md")
    assert f"sampling temperature {temperature}" in bridge_doc
    assert f"({MIN_PERIOD:g}-60)" in bridge_doc
    assert "0.05-5" in help_text("bridge") and temperature in help_text("generate")
    for bad in (f"{low / 2:g}", f"{high * 2:g}"):
        assert run("generate", "--temperature", bad, "--out-csv", "x.csv").returncode == 2


# -- docs/midi.md --------------------------------------------------------------------------


def test_midi_doc_numbers_are_the_mapping_defaults():
    from bridge.config import MidiMapping

    m, text = MidiMapping(), doc("docs/midi.md")
    high = m.lead_note_base + 8
    assert f"note-on {m.lead_note_base}-{high}" in text
    assert f"CC {m.lead_cc}, value 0-8" in text
    for cc, what in (
        (m.gesture_cc, "the player's gesture"),
        (m.x_cc, "touch x"),
        (m.y_cc, "touch y"),
    ):
        assert f"| CC {cc} | {what}" in text
    assert f"notes {m.touch_note_low}-{m.touch_note_high}" in text
    assert f"velocity {m.touch_velocity} (`touch_velocity`)" in text
    assert f"after {m.note_length:g} s (`note_length`)" in text
    channels = ", ".join(str(m.first_channel + i) for i in range(3))
    assert f"channels {channels} for a quartet" in text
    listed = re.search(r"`\[midi\]` table .*?: (`.*`)\.", text).group(1)
    assert set(re.findall(r"`([a-z_]+)`", listed)) == {f.name for f in fields(MidiMapping)}


def test_midi_doc_spread_values_are_the_ones_sent():
    from bridge.midi import gesture_value

    text = doc("docs/midi.md")
    documented = re.search(r"spreads the nine gestures over 0-127 \(([\d, ]+):", text).group(1)
    assert [int(v) for v in documented.split(",")] == [gesture_value(g, "spread") for g in range(9)]


# -- the examples ------------------------------------------------------------------


def test_summary_leaves_out_demonstrations_unless_asked_as_its_help_says(tmp_path):
    write_corpus(
        tmp_path,
        [
            random_performance("a", 30, 4, seed=1),
            random_performance("demo", 20, 4, seed=2, context="demonstration"),
        ],
    )
    assert "left out by default" in help_text("corpus", "summary")
    plain = run("corpus", "summary", "--data", tmp_path)
    assert "1 performances, 30 seconds" in plain.stdout, plain.stderr
    both = run("corpus", "summary", "--data", tmp_path, "--include-demonstrations")
    assert "2 performances, 50 seconds" in both.stdout


def test_documented_selection_error_message(tmp_path):
    write_corpus(tmp_path, [random_performance("a", 30, 4, seed=1)])
    result = run("corpus", "summary", "--data", tmp_path, "--performers", 5)
    assert result.returncode == 1
    assert "no performance left after the filter 'exactly 5 performers'" in result.stderr
    assert "no performance left after the filter 'exactly 5 performers'" in doc("docs/corpus.md")


def test_quiet_bridge_prints_no_tick_lines_as_its_help_says(tiny_model, listener):
    assert "one line a tick" not in help_text("bridge")
    bridge = BridgeProcess(
        "--model",
        tiny_model,
        "--quiet",
        "--period",
        "0.05",
        "--osc-out",
        f"127.0.0.1:{listener.port}",
    )
    ticks = listener.collect(
        10, until=lambda m: sum(a == "/ensemble/gestures" for _, a, _ in m) >= 3
    )
    code, out, _ = bridge.stop()
    assert code == 0 and len(ticks) >= 3
    assert out.strip() == ""


def test_corpus_plot_without_a_source_does_not_say_not_both(tmp_path):
    neither = run("corpus", "plot", "--out", tmp_path / "p.png")
    assert neither.returncode == 1 and "not both" not in neither.stderr
    assert "--procedural" in neither.stderr


def test_download_over_a_corpus_names_only_the_flag(tmp_path):
    write_corpus(tmp_path, [random_performance("a", 30, 4, seed=1)])
    result = run("corpus", "download", "--to", tmp_path, "--url", tmp_path / "none.zip")
    assert result.returncode == 1 and "--force" in result.stderr
    assert "force=True" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["corpus", "summary", "--data", "d"],
        ["corpus", "plot", "--procedural"],
        ["prepare", "--data", "d", "--out", "x.npz"],
        ["generate", "--lead", "x.csv", "--out-csv", "g.csv"],
        ["touches", "evaluate", "--data", "d"],
        ["bridge"],
    ],
)
def test_verbose_works_before_or_after_the_subcommand(args):
    from gesture_rnn_cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["-v", *args]).verbose is True
    assert parser.parse_args([*args, "-v"]).verbose is True
    assert parser.parse_args([*args, "--verbose"]).verbose is True
    assert parser.parse_args(args).verbose is False


# -- command defaults the docs state ------------------------------------------------------


def parser_default(command: list[str], dest: str):
    """The default of option ``dest`` of a (sub)command, read from the real parser."""
    import argparse

    from gesture_rnn_cli import build_parser

    parser = build_parser()
    for word in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser.get_default(dest)


@pytest.mark.parametrize(
    ("doc_file", "says", "command", "dest", "value"),
    [
        ("README.md", "`--framing all` (default)", ["prepare"], "framing", "all"),
        ("README.md", "(`--ensemble 4` quartet, `3` trio, `2` duet)", ["prepare"], "ensemble", 4),
        ("docs/corpus-index.md", "3 is the default", ["corpus", "build"], "label_lag", 3),
        ("docs/corpus-index.md", "(`--sequences`, default 4,", ["corpus", "plot"], "sequences", 4),
        ("docs/corpus-index.md", "of `--duration` 3 s,", ["corpus", "plot"], "duration", 3.0),
        ("docs/corpus-index.md", "`--seed` 0)", ["corpus", "plot"], "seed", 0),
        ("docs/evaluate-generate.md", "`all` (the default)", ["evaluate"], "split", "all"),
        ("docs/evaluate-generate.md", "alpha = 0.1 by default", ["evaluate"], "markov_alpha", 0.1),
        ("docs/evaluate-generate.md", "(0.05-5, default 1)", ["generate"], "temperature", 1.0),
    ],
)
def test_documented_command_defaults_are_the_parsers(doc_file, says, command, dest, value):
    assert " ".join(says.split()) in doc(doc_file)
    assert parser_default(command, dest) == value


def test_osc_doc_addresses_are_the_bridge_defaults():
    from bridge.config import BridgeConfig

    config, text = BridgeConfig(), doc("docs/osc.md")
    assert f"`--host` (default `{config.host}`" in text
    assert f"`--port` (default `{config.port}`)" in text
    assert f"default `{config.osc_out[0]}`" in text


def test_label_lag_range_is_the_documented_one():
    assert "`--label-lag` 1-5" in doc("docs/corpus-index.md")
    for lag, code in (("0", 2), ("1", None), ("5", None), ("6", 2)):
        result = run("corpus", "build", "--data", "nowhere", "--out", "x.h5", "--label-lag", lag)
        if code is None:
            assert "--label-lag" not in result.stderr, result.stderr
        else:
            assert result.returncode == code and "--label-lag" in result.stderr


# -- every command the docs show --------------------------------------------------------------


def doc_commands() -> list[tuple[str, list[str], set[str]]]:
    """(where, argv after 'gesture-rnn', folders made by mkdir -p before it in its block)."""
    import shlex

    found = []
    for path in [REPO / "README.md", REPO / "patches" / "README.md", *(REPO / "docs").glob("*.md")]:
        text = path.read_text(encoding="utf-8")
        for block in re.findall(r"```sh\n(.*?)```", text, re.S):
            made: set[str] = set()
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                if words[:2] == ["mkdir", "-p"]:
                    made.update(words[2:])
                elif words[:1] == ["gesture-rnn"]:
                    found.append((f"{path.name}: {line.strip()}", words[1:], set(made)))
    assert len(found) >= 20
    return found


OUTPUT_OPTIONS = ("--out", "--out-csv", "--out-png", "--out-midi", "--checkpoint", "--stats")


@pytest.mark.parametrize(("where", "argv", "made"), doc_commands(), ids=lambda v: "")
def test_every_documented_command_parses_and_writes_into_a_folder_that_exists(where, argv, made):
    from gesture_rnn_cli import build_parser

    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: the parser refuses it")
    for option in OUTPUT_OPTIONS:
        value = getattr(args, option.removeprefix("--").replace("-", "_"), None)
        if value is None:
            continue
        folder = Path(value).parent
        in_repo = not folder.is_absolute() and (REPO / folder).is_dir()  # gesture_rnn/models
        ok = str(folder) in (".", "") or str(folder) in made or in_repo
        assert ok, f"{where}: {option} writes into {folder}, which nothing makes first"


def help_of(command: list[str], dest: str) -> str:
    import argparse

    from gesture_rnn_cli import build_parser

    parser = build_parser()
    for word in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return next(a.help for a in parser._actions if a.dest == dest)


@pytest.mark.parametrize(
    ("dest", "shown"),
    [("dropout", "({:g})"), ("steps", "({})"), ("batch_size", "({})"),
     ("learning_rate", "({:g})"), ("input", "(default {})")],
)  # fmt: skip
def test_train_help_defaults_are_the_model_config_defaults(dest, shown):
    from gesture_rnn.config import ModelConfig

    assert shown.format(getattr(ModelConfig(), dest)) in help_of(["train"], dest)


def test_readme_says_how_to_run_the_command_after_make_run():
    readme = doc("README.md")
    assert "source .venv/bin/activate" in readme and "`.venv/bin/gesture-rnn`" in readme


def test_the_corpus_index_quick_start_runs_line_after_line(tmp_path):
    """docs/corpus-index.md's block, copied in order: the fallback's plot took the index
    plot's default name (corpus-gestures.png), so its line failed with "already exists"."""
    from corpus_index.build import build_index
    from tests.test_corpus_index import standard_fakes, write_touch_corpus

    corpus = write_touch_corpus(tmp_path / "corpus", standard_fakes())
    build_index(corpus, tmp_path / "touches.h5", progress=False)
    text = (REPO / "docs/corpus-index.md").read_text(encoding="utf-8")
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    plots = [line.split("#")[0].split()[1:] for line in block.splitlines() if " plot " in line]
    assert len(plots) == 3, block
    for argv in plots:
        result = subprocess.run(
            [sys.executable, "-m", "gesture_rnn", *argv],
            cwd=tmp_path,  # the default names land here
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (argv, result.stderr)
    made = sorted(p.name for p in tmp_path.glob("*.png"))
    assert made == ["corpus-FS.png", "corpus-gestures.png", "procedural-gestures.png"]
