"""Bridge options: flags and a TOML file (flags win), all checked before anything starts."""

from __future__ import annotations

import ipaddress
import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from gesture_rnn import checked
from gesture_rnn.bundled import MODEL_NAMES, model_path
from gesture_rnn.config import check_liveliness
from gesture_rnn.midi_map import CC_SCALES, MidiNumbers

from .session import check_temperature

CLOCKS = ("internal", "midi", "osc", "link")
MIN_PERIOD = 0.01
MAX_CONFIG_BYTES = 1 << 20  # a bridge TOML file is a few hundred bytes
PATH_KEYS = ("model", "corpus", "record", "stats")
NUMBER, WHOLE = "a number", "a whole number"
FILE_TYPES: dict[str, str] = {
    "model": "a file path",
    "corpus": "a file path",
    "record": "a file path",
    "stats": "a file path",
    "host": "an address",
    "port": WHOLE,
    "osc_out": "HOST:PORT or a list of them",
    "allow": "ADDR[/PREFIX] or a list of them",
    "virtual_midi": "true or false",
    "midi_in": "a port name",
    "midi_out": "a port name",
    "clock": "a name",
    "period": NUMBER,
    "temperature": NUMBER,
    "liveliness": NUMBER,
    "seed": WHOLE,
    "force": "true or false",
    "cc_scale": "a name",
    "quiet": "true or false",
    "realtime": "true or false",
    "beats_per_step": NUMBER,
    "quantum": NUMBER,
    "link_start_stop": "true or false",
    "tempo": NUMBER,
    "link_latency": NUMBER,
    "web": "[HOST:]PORT, a port, or true or false",
    "lead_device": "a device name",
    "metatone_timeout": NUMBER,
    "metatone_playback_port": WHOLE,
    "advertise": "true or false",
    "advertise_address": "an address",
    "midi": "a table ([midi])",
}
"""What each key of the TOML file must be, checked before its range (TOML has types:
``port = true`` is a bool, not the port 1)."""
DEFAULT_WEB = "127.0.0.1:8080"  # --web alone


class ConfigError(ValueError):
    """A bad option: one line naming it, exit code 2."""


@dataclass
class MidiMapping(MidiNumbers):
    """The MIDI numbers (gesture_rnn.midi_map, shared with ``generate --out-midi``), checked."""

    def check(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "note_length":
                if isinstance(value, bool) or not (
                    isinstance(value, int | float) and 0 < value <= 10
                ):
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
    allow: list[str] = field(default_factory=list)  # ADDR[/PREFIX]; empty: everyone
    virtual_midi: bool = False
    midi_in: str | None = None
    midi_out: str | None = None
    clock: str = "internal"
    period: float = 1.0
    temperature: float = 1.0
    liveliness: float = 1.0
    seed: int | None = None
    record: Path | None = None
    stats: Path | None = None
    force: bool = False
    cc_scale: str = "raw"
    quiet: bool = False
    realtime: bool = False
    beats_per_step: float = 1.0  # --clock link: a step every this many beats
    quantum: float = 4.0  # --clock link: beats per bar of the session's phase
    link_start_stop: bool = False  # --clock link: start and stop with the session
    tempo: float | None = None  # --clock link: BPM of a session we start; never pushed
    link_latency: float = 0.0  # --clock link: milliseconds to send ahead of the beat
    web: str | None = None  # [HOST:]PORT of the browser page (docs/web.md), or off
    # The Metatone apps (docs/metatone.md)
    lead_device: str | None = None
    metatone_timeout: float = 30.0
    metatone_playback_port: int = 51200
    advertise: bool = True
    advertise_address: str | None = None
    midi: MidiMapping = field(default_factory=MidiMapping)

    def osc_targets(self) -> list[tuple[str, int]]:
        return [parse_host_port(text, "--osc-out") for text in self.osc_out]

    def allowed_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """``--allow``: the networks OSC may come from (an address alone is a /32 or
        /128); an empty list lets everyone in. ConfigError for a bad one."""
        return [parse_network(text) for text in self.allow]


def parse_network(text) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """ADDR or ADDR/PREFIX (``192.168.1.20``, ``192.168.1.0/24``, ``::1``); host bits
    beyond the prefix are ignored (``192.168.1.5/24`` is ``192.168.1.0/24``). An
    IPv4-mapped IPv6 network (``::ffff:192.168.1.20``, as a dual-stack socket names IPv4
    senders) is its IPv4 network: the bridge checks IPv4 senders as IPv4."""
    try:
        network = ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError:
        raise ConfigError(
            f"--allow {text!r}: expected an address or ADDR/PREFIX, e.g. 192.168.1.0/24"
        ) from None
    mapped = network.network_address.ipv4_mapped if network.version == 6 else None
    if mapped is not None and network.prefixlen >= 96:
        return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def parse_host_port(text: str, option: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not host:
        raise ConfigError(f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:57120")
    return host.strip("[]"), check_port(port, option)


def parse_web(text: str) -> tuple[str, int]:
    """--web [HOST:]PORT: a port alone listens on 127.0.0.1; port 0 takes a free one."""
    host, sep, port = str(text).rpartition(":")
    host = host.strip("[]") if sep else "127.0.0.1"
    if sep and not host:
        raise ConfigError(f"--web {text!r}: expected [HOST:]PORT, e.g. {DEFAULT_WEB}")
    if port.strip() == "0":
        return host, 0
    return host, check_port(port, "--web")


def check_port(value, option: str, free: bool = False) -> int:
    """A port 1-65535, or with ``free`` also 0: a free one, chosen when it is bound."""
    low = 0 if free else 1
    try:
        if isinstance(value, str) and not (value.isascii() and value.isdigit()):
            raise ValueError  # int() also takes " 9_000" and other scripts' digits ("٣")
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} {value!r}: a port is a whole number {low}-65535") from None
    if isinstance(value, float) or not low <= port <= 65535:
        raise ConfigError(f"{option} {value!r}: a port is a whole number {low}-65535")
    return port


def load_toml(path: Path) -> dict:
    """The TOML file's table, read through the checked reader (a regular file of at most
    1 MiB, UTF-8); any problem is one ConfigError naming the file."""
    text = checked.read_text(path, "config file", MAX_CONFIG_BYTES, ConfigError)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML (nested too deeply)") from None


def _text_or_texts(value) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    )


def _type_error(value, expected: str) -> bool:
    """Whether a TOML value is not of the kind ``expected`` (a FILE_TYPES entry)."""
    if expected in (NUMBER, WHOLE) and isinstance(value, bool):
        return True
    return not {
        WHOLE: lambda v: isinstance(v, int),
        NUMBER: lambda v: isinstance(v, int | float),
        "true or false": lambda v: isinstance(v, bool),
        "HOST:PORT or a list of them": _text_or_texts,
        "ADDR[/PREFIX] or a list of them": _text_or_texts,
        "a table ([midi])": lambda v: isinstance(v, dict),
        "[HOST:]PORT, a port, or true or false": lambda v: isinstance(v, str | int),
    }.get(expected, lambda v: isinstance(v, str) and bool(v.strip()))(value)


def _file_values(file_values: dict, config_path: Path | None) -> tuple[dict, str]:
    """The file's values by field name, their types checked, paths made relative to the
    file's own folder; and how messages name the file."""
    where = f"{config_path}" if config_path else "the config"
    names = {f.name for f in fields(BridgeConfig)}
    values: dict = {}
    for key, value in file_values.items():
        name = key.replace("-", "_")
        if name not in names:
            raise ConfigError(f"{where}: unknown option {key!r}")
        expected = FILE_TYPES.get(name)
        if expected is not None and _type_error(value, expected):
            shown = str(value).lower() if isinstance(value, bool) else repr(value)
            raise ConfigError(f"{where}: {key}: expected {expected}, got {shown}")
        if name in PATH_KEYS and config_path is not None:
            # A bundled model's name (model = "trio") is a name, not a path in the folder.
            if not (name == "model" and value in MODEL_NAMES):
                value = Path(config_path).parent / Path(value).expanduser()
        values[name] = value
    return values, where


def from_sources(
    file_values: dict, flag_values: dict, config_path: Path | None = None
) -> BridgeConfig:
    """Build and check a config: defaults, then the TOML file, then the flags given.

    Paths in the file are relative to the file's folder. A bad value from the file is
    named as ``FILE: key: ...``; a bad flag by the flag.
    """
    values, where = _file_values(file_values, config_path)
    midi_values = values.pop("midi", {})
    mapping_names = {f.name for f in fields(MidiMapping)}
    for key in midi_values:
        if key.replace("-", "_") not in mapping_names:
            raise ConfigError(f"{where}: unknown option 'midi.{key}'")
    mapping = MidiMapping(**{k.replace("-", "_"): v for k, v in midi_values.items()})
    flags = {k: v for k, v in flag_values.items() if v is not None}
    values.update(flags)
    config = replace(BridgeConfig(), **values, midi=mapping)
    try:
        check(config)
    except ConfigError as error:
        raise _named_in_file(error, values.keys() - flags.keys(), where) from None
    return config


def _named_in_file(error: ConfigError, from_file, where: str) -> ConfigError:
    """check() names flags (``--port ...``); for a value the file gave, name the file and
    its key instead (``bridge.toml: port ...``)."""
    message = str(error)
    for name in from_file:
        flag = "--" + name.replace("_", "-")
        if message == flag or message.startswith((flag + " ", flag + ":")):
            return ConfigError(f"{where}: {name}{message[len(flag) :]}")
        if message.startswith(name + " "):  # the true/false options
            return ConfigError(f"{where}: {message}")
    if message.startswith("midi."):
        return ConfigError(f"{where}: {message}")
    return error


def check(config: BridgeConfig) -> None:
    """Every option, before anything starts; raises ConfigError naming the option."""
    for item in fields(config):  # TOML can write one ("\u0000"); system calls cannot
        value = getattr(config, item.name)
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str | Path) and "\0" in str(text):
                flag = "--" + item.name.replace("_", "-")
                raise ConfigError(f"{flag} {str(text)!r}: a NUL character is not allowed here")
    for name in ("model", "corpus", "record", "stats"):
        value = getattr(config, name)
        if value is not None and not isinstance(value, Path):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"--{name} must be a file path, got {value!r}")
            path = model_path(value) if name == "model" else Path(value).expanduser()
            setattr(config, name, path)
    if not isinstance(config.host, str) or not config.host:
        raise ConfigError(f"--host must be an address, got {config.host!r}")
    config.port = check_port(config.port, "--port", free=True)
    if isinstance(config.osc_out, str):
        config.osc_out = [config.osc_out]
    config.osc_targets()
    if isinstance(config.allow, str):
        config.allow = [config.allow]
    if not isinstance(config.allow, list):
        raise ConfigError(f"allow must be a list of addresses, got {config.allow!r}")
    config.allowed_networks()
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
    try:
        config.liveliness = check_liveliness(config.liveliness)
    except ValueError as error:
        raise ConfigError(f"--liveliness: {error}") from None
    if config.seed is not None and (
        isinstance(config.seed, bool) or not isinstance(config.seed, int)
    ):
        raise ConfigError(f"--seed {config.seed!r}: expected a whole number")
    if config.seed is not None and config.seed < 0:
        raise ConfigError(f"--seed {config.seed}: must be 0 or more")
    check_link(config)
    for name in ("virtual_midi", "force", "quiet", "realtime", "link_start_stop"):
        if not isinstance(getattr(config, name), bool):
            raise ConfigError(f"{name} must be true or false, got {getattr(config, name)!r}")
    for name in ("midi_in", "midi_out"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"--{name.replace('_', '-')} must be a port name, got {value!r}")
    if config.clock == "midi" and not (config.midi_in or config.virtual_midi):
        raise ConfigError("--clock midi needs MIDI input: add --midi-in NAME or --virtual-midi")
    # Only whether they exist: the loaders check the rest (a FIFO, a folder, a bad file).
    if config.model is not None and checked.missing(config.model):
        raise ConfigError(f"--model {config.model}: no such file")
    if config.corpus is not None and checked.missing(config.corpus):
        raise ConfigError(
            f"--corpus {config.corpus}: no such file (build one with gesture-rnn corpus build)"
        )
    # --record and --stats: the write policy of every command (gesture_rnn.files), at start-up.
    if config.web is True:
        config.web = DEFAULT_WEB
    elif config.web is False:
        config.web = None
    if config.web is not None:
        if not isinstance(config.web, str | int):
            raise ConfigError(f"--web must be [HOST:]PORT, got {config.web!r}")
        config.web = str(config.web)
        parse_web(config.web)
    config.midi.check()
    check_metatone(config)


def check_metatone(config: BridgeConfig) -> None:
    """The Metatone apps' options: --lead-device, --metatone-*, discovery."""
    import ipaddress

    if config.lead_device is not None and (
        not isinstance(config.lead_device, str) or not config.lead_device
    ):
        raise ConfigError(f"--lead-device must be a device name, got {config.lead_device!r}")
    try:
        config.metatone_timeout = float(config.metatone_timeout)
    except (TypeError, ValueError):
        raise ConfigError(
            f"--metatone-timeout {config.metatone_timeout!r}: expected seconds, e.g. 30"
        ) from None
    if not (math.isfinite(config.metatone_timeout) and 0.1 <= config.metatone_timeout <= 3600):
        raise ConfigError(
            f"--metatone-timeout {config.metatone_timeout}: must be from 0.1 to 3600 seconds"
        )
    config.metatone_playback_port = check_port(
        config.metatone_playback_port, "--metatone-playback-port"
    )
    if not isinstance(config.advertise, bool):
        raise ConfigError(f"advertise must be true or false, got {config.advertise!r}")
    if config.advertise_address is not None:
        try:
            address = ipaddress.IPv4Address(str(config.advertise_address))
        except ValueError:
            raise ConfigError(
                f"--advertise-address {config.advertise_address!r}: expected an IPv4 address"
                " such as 192.168.1.20"
            ) from None
        if address.is_unspecified or address.is_multicast:
            raise ConfigError(
                f"--advertise-address {address}: advertise an address the apps can reach"
            )
        config.advertise_address = str(address)


def _number(value, option: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} {value!r}: expected a number") from None
    if isinstance(value, bool) or not (math.isfinite(number) and low <= number <= high):
        raise ConfigError(f"{option} {value}: must be from {low:g} to {high:g}")
    return number


def check_link(config: BridgeConfig) -> None:
    """The --clock link options: beats per step, quantum, tempo and latency."""
    config.beats_per_step = _number(config.beats_per_step, "--beats-per-step", 0.0625, 64)
    config.quantum = _number(config.quantum, "--quantum", 1, 64)
    steps_per_bar = config.quantum / config.beats_per_step
    if abs(steps_per_bar - round(steps_per_bar)) > 1e-9:
        raise ConfigError(
            f"--quantum {config.quantum:g} must be a whole number of --beats-per-step "
            f"{config.beats_per_step:g}, so every peer agrees where the steps fall"
        )
    if config.tempo is not None:
        config.tempo = _number(config.tempo, "--tempo", 20, 999)  # Link's own tempo range
    config.link_latency = _number(config.link_latency, "--link-latency", 0, 1000)
