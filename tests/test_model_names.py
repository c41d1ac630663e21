"""The bundled models by name (quartet, trio, duet) wherever a model file is taken."""

from __future__ import annotations

import json

import pytest

from tests.bridge_process import BridgeProcess
from tests.commands import run
from tests.synthetic import random_performance, write_corpus


@pytest.mark.parametrize(("name", "players"), [("trio", "2 players,"), ("duet", "1 player,")])
def test_bridge_takes_a_bundled_model_by_name(name, players, listener):
    bridge = BridgeProcess("--model", name, "--osc-out", f"127.0.0.1:{listener.port}")
    try:
        assert f"{players} model {name}.h5" in bridge.ready_line
    finally:
        bridge.stop()


def test_bridge_config_file_takes_a_bundled_model_by_name(tmp_path, listener):
    config = tmp_path / "bridge.toml"
    config.write_text('model = "duet"\n')
    bridge = BridgeProcess("--config", config, "--osc-out", f"127.0.0.1:{listener.port}")
    try:
        assert "model duet.h5" in bridge.ready_line
    finally:
        bridge.stop()


def test_generate_and_evaluate_take_a_bundled_model_by_name(tmp_path):
    lead = tmp_path / "lead.csv"
    lead.write_text("time,lead\n0,1\n1,2\n2,3\n3,3\n")
    out = tmp_path / "trio.csv"
    result = run("generate", "--model", "trio", "--lead", lead, "--seed", 1, "--out-csv", out)
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines()[0].count(",") == 3  # time, lead and two players

    data = write_corpus(tmp_path / "corpus", [random_performance("d", 30, 2, seed=3)])
    result = run("evaluate", "--model", "duet", "--data", data)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ensemble"] == 2


@pytest.mark.parametrize("command", [["bridge"], ["evaluate"], ["generate"]])
def test_help_lists_the_bundled_names(command):
    result = run(*command, "--help")
    text = " ".join(result.stdout.split())
    assert "quartet (default), trio, duet" in text
