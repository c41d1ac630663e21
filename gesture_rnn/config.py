"""The model's configuration: sizes, training hyperparameters and the rules every part
shares (ensemble sizes, the sampling temperature's and the liveliness's ranges), free of
TensorFlow.

Kept apart from :mod:`gesture_rnn.model` so that the command line can list sizes and
check options without importing Keras.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from .gestures import NUM_GESTURES

INPUTS = ("players", "joint")
"""How the input code reaches the first LSTM layer.

- ``players``: the code is split back into the k gestures (lead now, others one step
  before); each player has its own 9-row embedding and the k vectors are concatenated.
- ``joint``: one embedding row per joint code, 9**k rows, as the original Gesture-RNN.
  Most of the parameters sit in that table, and most of its rows are rarely seen.
"""

ENSEMBLES = (2, 3, 4)
"""Ensemble sizes a model can have (duet, trio, quartet).

Words in this package: the *ensemble* is all k players and its size is k, the lead
included; the *others* are the k-1 players the model answers for; *players* counts all k
(``Performance.num_players``, ``ModelConfig.ensemble``) and *others* the k-1
(``ModelConfig.others``)."""

CALIBRATION_ITERATIONS = (30, 2, 1000)
"""``gesture-rnn calibrate``'s moment-matching iterations: the default, the fewest and the
most (:mod:`gesture_rnn.calibrate`)."""

TEMPERATURE_RANGE = (0.05, 5.0)
"""Sampling temperatures accepted everywhere (runtime, generate, the bridge): below 1
sharpens the distribution toward the most likely state, above 1 flattens it toward uniform."""


def check_temperature(value: object) -> float:
    """``value`` as a float temperature in :data:`TEMPERATURE_RANGE`.

    The one check for every way a temperature arrives (library calls, flags, the bridge's
    TOML file and OSC). Raises ``ValueError`` naming the range for anything else: not a
    number, a bool, NaN or infinity, or a number outside the range.
    """
    return _number_in(value, "a temperature", TEMPERATURE_RANGE)


def _number_in(value: object, what: str, allowed_range: tuple[float, float]) -> float:
    """``value`` as a float in ``allowed_range``, or ValueError: "expected WHAT in LOW-HIGH"."""
    low, high = allowed_range
    allowed = f"{what} in {low:g}-{high:g}"
    if isinstance(value, bool):
        raise ValueError(f"expected {allowed}, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"expected {allowed} (a number), got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected {allowed} (a finite number), got {value!r}")
    if not low <= number <= high:
        raise ValueError(f"expected {allowed}, got {value!r}")
    return number


LIVELINESS_RANGE = (0.0, 10.0)
"""Liveliness accepted everywhere (runtime, generate, evaluate, the bridge): 0 the ensemble
never changes, 1 samples the model as trained, above 1 its players change more often (the
formula is :func:`gesture_rnn.runtime.sample_states`'s)."""


def check_liveliness(value: object) -> float:
    """``value`` as a float liveliness in :data:`LIVELINESS_RANGE`.

    The one check for every way a liveliness arrives (library calls, flags, the bridge's
    TOML file, OSC, MIDI and the web page). Raises ``ValueError`` naming the range for
    anything else: not a number, a bool, NaN or infinity, or a number outside the range.
    """
    return _number_in(value, "a liveliness", LIVELINESS_RANGE)


class ConfigError(ValueError):
    """A configuration value that cannot build a model."""


@dataclass(frozen=True)
class ModelConfig:
    ensemble: int = 4  # players, lead included
    layers: int = 2  # stacked LSTM layers
    units: int = 128  # units in each LSTM layer
    embedding: int = 32  # width of one embedding vector (per player for "players")
    input: str = "players"  # see INPUTS
    stay: bool = False  # a learned logit for the others' last state (see model; docs/models.md)
    copy: bool = False  # a learned logit per other player keeping its gesture (see model)
    dropout: float = 0.3  # after each LSTM layer, during training only
    steps: int = 120  # training window length in seconds
    batch_size: int = 64  # windows per batch
    learning_rate: float = 3e-3  # Adam (3e-3 learnt faster than 1e-3 in our short runs)

    def __post_init__(self) -> None:
        if self.ensemble not in ENSEMBLES:
            raise ConfigError(f"ensemble must be one of {ENSEMBLES}, got {self.ensemble}")
        if self.input not in INPUTS:
            raise ConfigError(f"input must be one of {', '.join(INPUTS)}, got {self.input!r}")
        for name in ("layers", "units", "embedding", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning rate must be positive, got {self.learning_rate}")

    @property
    def others(self) -> int:
        return self.ensemble - 1

    @property
    def num_inputs(self) -> int:
        """Input codes: the lead now and the others before, 9**k."""
        return NUM_GESTURES**self.ensemble

    @property
    def num_outputs(self) -> int:
        """Output classes: the others' next joint state, 9**(k-1)."""
        return NUM_GESTURES**self.others

    @property
    def input_width(self) -> int:
        """Width of the vector the first LSTM layer reads."""
        return self.embedding * (self.ensemble if self.input == "players" else 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown model configuration key(s): {', '.join(unknown)}")
        return cls(**values)


SIZES: dict[str, dict] = {
    "tiny": dict(layers=1, units=8, embedding=4),  # tests only
    "small": dict(layers=2, units=64, embedding=16),
    "medium": dict(layers=2, units=128, embedding=32),
    "large": dict(layers=2, units=256, embedding=64),
    "original": dict(layers=3, units=512, embedding=128),  # the original's 3 x 512
}


def config_for(size: str = "medium", **overrides) -> ModelConfig:
    """The named size with any field replaced (``None`` values are ignored)."""
    if size not in SIZES:
        raise ConfigError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    config = ModelConfig(**SIZES[size])
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
