"""Bridge options: flags and a TOML file (flags win), all checked before anything starts."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .session import check_temperature

CLOCKS = ("internal", "midi", "osc")
CC_SCALES = ("raw", "spread")
MIN_PERIOD = 0.01


class ConfigError(ValueError):
    """A bad option: one line naming it, exit code 2."""


@dataclass
class MidiMapping:
    """MIDI numbers; every one can be changed in the ``[midi]`` table of the TOML file."""

    lead_note_base: int = 60  # note-on 60..68 sets lead gesture 0..8
    lead_cc: int = 20  # CC 20 value 0..8 sets the lead gesture
    gesture_cc: int = 20  # out: the player's gesture at every tick
    x_cc: int = 21  # out: touch x
    y_cc: int = 22  # out: touch y
    first_channel: int = 2  # ensemble player 1 on channel 2 (1-based, as DAWs count)
    touch_note_low: int = 48  # a touch-down's note: x across low..high
    touch_note_high: int = 84
    touch_velocity: int = 100
    note_length: float = 0.1  # seconds

    def check(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "note_length":
                if not (isinstance(value, int | float) and 0 < value <= 10):
                    raise ConfigError(f"midi.note_length must be 0-10 seconds, got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"midi.{f.name} must be a whole number, got {value!r}")
            low, high = (1, 16) if f.name == "first_channel" else (0, 127)
            if not low <= value <= high:
                raise ConfigError(f"midi.{f.name} must be {low}-{high}, got {value}")
        if self.lead_note_base + 8 > 127:
            raise ConfigError("midi.lead_note_base must leave room for 9 notes (at most 119)")
        if self.touch_note_low > self.touch_note_high:
            raise ConfigError("midi.touch_note_low must not be above midi.touch_note_high")


@dataclass
class BridgeConfig:
    model: Path | None = None
    corpus: Path | None = None
    host: str = "127.0.0.1"
    port: int = 9000
    osc_out: list[str] = field(default_factory=lambda: ["127.0.0.1:57120"])
    virtual_midi: bool = False
    midi_in: str | None = None
    midi_out: str | None = None
    clock: str = "internal"
    period: float = 1.0
    temperature: float = 1.0
    seed: int | None = None
    record: Path | None = None
    stats: Path | None = None
    force: bool = False
    cc_scale: str = "raw"
    quiet: bool = False
    realtime: bool = False
    midi: MidiMapping = field(default_factory=MidiMapping)

    def osc_targets(self) -> list[tuple[str, int]]:
        return [parse_host_port(text, "--osc-out") for text in self.osc_out]


def parse_host_port(text: str, option: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not host:
        raise ConfigError(f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:57120")
    return host.strip("[]"), check_port(port, option)


def check_port(value, option: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} {value!r}: a port is a whole number 1-65535") from None
    if isinstance(value, float) or not 1 <= port <= 65535:
        raise ConfigError(f"{option} {value!r}: a port is a whole number 1-65535")
    return port


def load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"--config {path}: not valid TOML ({error})") from None
    except OSError as error:
        raise ConfigError(f"--config {path}: cannot be read ({error.strerror})") from None


def from_sources(
    file_values: dict, flag_values: dict, config_path: Path | None = None
) -> BridgeConfig:
    """Build and check a config: defaults, then the TOML file, then the flags given."""
    where = f"in {config_path}" if config_path else "in the config"
    names = {f.name for f in fields(BridgeConfig)}
    values: dict = {}
    for key, value in file_values.items():
        name = key.replace("-", "_")
        if name not in names:
            raise ConfigError(f"unknown option {key!r} {where}")
        values[name] = value
    midi_values = values.pop("midi", {})
    if not isinstance(midi_values, dict):
        raise ConfigError(f"'midi' {where} must be a table ([midi])")
    mapping_names = {f.name for f in fields(MidiMapping)}
    for key in midi_values:
        if key.replace("-", "_") not in mapping_names:
            raise ConfigError(f"unknown option 'midi.{key}' {where}")
    mapping = MidiMapping(**{k.replace("-", "_"): v for k, v in midi_values.items()})
    values.update({k: v for k, v in flag_values.items() if v is not None})
    config = replace(BridgeConfig(), **values, midi=mapping)
    check(config)
    return config


def check(config: BridgeConfig) -> None:
    """Every option, before anything starts; raises ConfigError naming the option."""
    for name in ("model", "corpus", "record", "stats"):
        value = getattr(config, name)
        if value is not None and not isinstance(value, Path):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"--{name} must be a file path, got {value!r}")
            setattr(config, name, Path(value).expanduser())
    if not isinstance(config.host, str) or not config.host:
        raise ConfigError(f"--host must be an address, got {config.host!r}")
    config.port = check_port(config.port, "--port")
    if isinstance(config.osc_out, str):
        config.osc_out = [config.osc_out]
    config.osc_targets()
    if config.clock not in CLOCKS:
        raise ConfigError(f"--clock {config.clock!r}: choose one of {', '.join(CLOCKS)}")
    if config.cc_scale not in CC_SCALES:
        raise ConfigError(f"--cc-scale {config.cc_scale!r}: choose one of {', '.join(CC_SCALES)}")
    try:
        config.period = float(config.period)
    except (TypeError, ValueError):
        raise ConfigError(f"--period {config.period!r}: expected seconds, e.g. 1.0") from None
    if not (math.isfinite(config.period) and MIN_PERIOD <= config.period <= 60):
        raise ConfigError(f"--period {config.period}: must be from {MIN_PERIOD} to 60 seconds")
    try:
        config.temperature = check_temperature(config.temperature)
    except ValueError as error:
        raise ConfigError(f"--temperature: {error}") from None
    if config.seed is not None and (
        isinstance(config.seed, bool) or not isinstance(config.seed, int)
    ):
        raise ConfigError(f"--seed {config.seed!r}: expected a whole number")
    if config.seed is not None and config.seed < 0:
        raise ConfigError(f"--seed {config.seed}: must be 0 or more")
    for name in ("virtual_midi", "force", "quiet", "realtime"):
        if not isinstance(getattr(config, name), bool):
            raise ConfigError(f"{name} must be true or false, got {getattr(config, name)!r}")
    for name in ("midi_in", "midi_out"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"--{name.replace('_', '-')} must be a port name, got {value!r}")
    if config.clock == "midi" and not (config.midi_in or config.virtual_midi):
        raise ConfigError("--clock midi needs MIDI input: add --midi-in NAME or --virtual-midi")
    if config.model is not None and not config.model.is_file():
        raise ConfigError(f"--model {config.model}: no such file")
    if config.corpus is not None and not config.corpus.is_file():
        raise ConfigError(
            f"--corpus {config.corpus}: no such file (build one with gesture-rnn corpus build)"
        )
    if config.record is not None:
        if config.record.is_dir():
            raise ConfigError(f"--record {config.record}: is a folder")
        if not config.record.parent.is_dir():
            raise ConfigError(
                f"--record {config.record}: folder {config.record.parent} does not exist"
            )
        if config.record.exists() and not config.record.is_file():
            # A FIFO would block the start until a reader came; a device may refuse writes.
            raise ConfigError(f"--record {config.record}: not a regular file")
        if config.record.exists() and not config.force:
            raise ConfigError(
                f"--record {config.record}: already exists; choose another name or add --force"
            )
    if config.stats is not None and not config.stats.parent.is_dir():
        raise ConfigError(f"--stats {config.stats}: folder {config.stats.parent} does not exist")
    config.midi.check()
