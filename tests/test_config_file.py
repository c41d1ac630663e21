"""The bridge's TOML file, in-process: types, names in messages, paths, size and encoding."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bridge.config import ConfigError, from_sources, load_toml
from tests.models import tiny_model_file


def config_from(path: Path, text: str | bytes, **flags):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return from_sources(load_toml(path), flags, path)


def error_of(path: Path, text: str | bytes, **flags) -> str:
    with pytest.raises(ConfigError) as error:
        config_from(path, text, **flags)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize(
    "text, says",
    [
        ("port = true", "port: expected a whole number, got true"),
        ("port = 9000.5", "port: expected a whole number, got 9000.5"),
        ("temperature = true", "temperature: expected a number, got true"),
        ("period = false", "period: expected a number, got false"),
        ("osc_out = 5", "osc_out: expected HOST:PORT or a list of them, got 5"),
        ("osc_out = [5]", "osc_out: expected HOST:PORT or a list of them, got [5]"),
        ("quiet = 1", "quiet: expected true or false, got 1"),
        ("seed = true", "seed: expected a whole number, got true"),
        ("liveliness = 'lively'", "liveliness: expected a number, got 'lively'"),
        ("model = 3", "model: expected a file path, got 3"),
        ("midi = 3", "midi: expected a table ([midi]), got 3"),
        ("[midi]\nnote_length = true", "midi.note_length"),
        ("colour = 'blue'", "unknown option 'colour'"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_file_and_the_key(tmp_path, text, says):
    assert says in error_of(tmp_path / "bridge.toml", text)


@pytest.mark.parametrize(
    "text, says",
    [
        ("port = 70000", ": port 70000: a port is a whole number 0-65535"),
        ("temperature = 9.0", ": temperature: expected a temperature in 0.05-5, got 9.0"),
        ("liveliness = 11.0", ": liveliness: expected a liveliness in 0-10, got 11.0"),
        ("period = 0", ": period 0.0: must be from"),
        ("clock = 'sundial'", ": clock 'sundial': choose one of"),
        ("osc_out = 'nohostport'", ": osc_out 'nohostport': expected HOST:PORT"),
    ],
)
def test_a_value_out_of_range_names_the_key_not_a_flag(tmp_path, text, says):
    path = tmp_path / "bridge.toml"
    message = error_of(path, text)
    assert message.startswith(f"{path}{says}") and "--" not in message


@pytest.mark.parametrize(
    "text, key",
    [
        ('record = "take\\u0000.csv"', "record"),  # a traceback at start
        ('stats = "stats\\u0000.json"', "stats"),  # the stats were lost at the end
        ('host = "127.0.0.1\\u0000"', "host"),
        ('web = "127.0.0.1\\u0000:0"', "web"),
        ('osc_out = ["127.0.0.1\\u0000:9"]', "osc_out"),  # sent to 127.0.0.1:9
        ('lead_device = "ipad\\u0000"', "lead_device"),
    ],
)
def test_a_nul_character_in_a_text_value_names_the_key(tmp_path, text, key):
    path = tmp_path / "bridge.toml"
    assert f"{path}: {key} " in error_of(path, text)
    assert "NUL character" in error_of(path, text)


@pytest.mark.parametrize("port", ["\u0663", " 9000", "9_000", "+9000", "9000\n"])
def test_a_port_is_ascii_digits(port):
    with pytest.raises(ConfigError, match="^--port .*: a port is a whole number 0-65535"):
        from_sources({}, {"port": port})


def test_a_flag_still_names_the_flag(tmp_path):
    path = tmp_path / "bridge.toml"
    path.write_text("port = 9001\n")
    with pytest.raises(ConfigError, match="^--port .70000.: a port"):
        from_sources(load_toml(path), {"port": "70000"}, path)


def test_paths_in_the_file_are_relative_to_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "some" / "dir"
    folder.mkdir(parents=True)
    tiny_model_file(folder / "m.h5")
    monkeypatch.chdir(tmp_path)  # elsewhere: the path must not depend on where we run
    config = config_from(folder / "bridge.toml", 'model = "m.h5"\nrecord = "take.csv"\n')
    assert config.model == folder / "m.h5" and config.record == folder / "take.csv"
    absolute = config_from(folder / "b.toml", f'model = "{folder / "m.h5"}"\n')
    assert absolute.model == folder / "m.h5"


def test_unreadable_text_is_one_line(tmp_path):
    path = tmp_path / "bridge.toml"
    assert "line 2: not UTF-8" in error_of(path, b"port = 9001\nhost = '\xff\xfe'\n")
    assert "nested too deeply" in error_of(path, "a = " + "[" * 3000 + "]" * 3000)
    assert "not valid TOML" in error_of(path, "port = = 3")


def test_a_huge_file_is_refused_by_its_size_without_reading_it(tmp_path):
    path = tmp_path / "bridge.toml"
    with open(path, "wb") as f:
        f.truncate(4 << 30)  # sparse: 4 GiB that take no disk
    with pytest.raises(ConfigError, match=r"bridge\.toml is 4 GiB, more than a config file"):
        load_toml(path)


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    path = tmp_path / "bridge.toml"
    os.mkfifo(path)
    with pytest.raises(ConfigError, match="FIFO"):
        load_toml(path)


def test_every_option_has_a_type_checked_in_the_file(tmp_path):
    """A new option without a FILE_TYPES entry would take any TOML value unchecked
    (``allow = 5`` reached the address parser as a number)."""
    from dataclasses import fields

    from bridge.config import FILE_TYPES, BridgeConfig

    assert {f.name for f in fields(BridgeConfig)} == set(FILE_TYPES)
    message = error_of(tmp_path / "bridge.toml", "allow = 5\n")
    assert "allow: expected ADDR[/PREFIX]" in message


@pytest.mark.parametrize(
    "text, says",
    [
        ('model = "folder.h5"\n', "bridge.toml: model: model file"),
        ('corpus = "folder.h5"\n', "bridge.toml: corpus: corpus index"),
        ('stats = "folder.h5"\n', "bridge.toml: stats: cannot write"),
    ],
)
def test_a_bad_file_named_in_the_file_names_its_key_not_a_flag(tmp_path, text, says):
    """The start-up checks (the model, the index, the outputs) said '--corpus: ...' for a
    path the user wrote in the TOML file and never typed as a flag."""
    import subprocess
    import sys

    from tests.bridge_process import free_udp_port

    (tmp_path / "folder.h5").mkdir()
    toml = tmp_path / "bridge.toml"
    toml.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "gesture_rnn", "bridge", "--port", str(free_udp_port()),
         "--config", str(toml)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode in (1, 2) and len(lines) == 1, result.stderr
    assert says in lines[0] and " --" not in lines[0] and "folder" in lines[0], lines[0]
