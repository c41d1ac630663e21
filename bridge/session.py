"""The musical logic of the bridge, with no sockets and no clocks.

A :class:`Session` holds the lead's gesture, the model's recurrent state and the
ensemble's last gestures. Each :meth:`Session.tick` steps the model once, samples the
ensemble's next gestures and asks each virtual player's touch source for that gesture's
touches over the tick. OSC, MIDI and the clocks are thin adapters around it, and tests
drive it directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gesture_rnn.gestures import GESTURE_NAMES, parse_gesture
from gesture_rnn.runtime import TEMPERATURE_RANGE

log = logging.getLogger(__name__)


class TouchPlayer(Protocol):
    def next(self, gesture: int, duration: float): ...


class TouchSource(Protocol):
    def player(self, rng: np.random.Generator) -> TouchPlayer: ...


@dataclass(frozen=True)
class TouchEvent:
    """One touch of one ensemble player, ``time`` seconds after its tick started."""

    time: float
    player: int  # 1-based
    x: float  # 0-1
    y: float  # 0-1
    velocity: float  # screen points since the player's last event; 0 at touch-down

    @property
    def down(self) -> bool:
        return self.velocity == 0.0


@dataclass(frozen=True)
class Tick:
    """What one tick produced: the ensemble's gestures and its touches, in time order."""

    number: int
    lead: int
    ensemble: tuple[int, ...]
    touches: tuple[TouchEvent, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(GESTURE_NAMES[g] for g in self.ensemble)


def check_temperature(value: float) -> float:
    low, high = TEMPERATURE_RANGE
    t = float(value)
    if not low <= t <= high:  # also False for NaN
        raise ValueError(f"temperature must be from {low} to {high}, got {value!r}")
    return t


class Session:
    """Lead in, ensemble out, one tick at a time."""

    def __init__(self, model, touches: TouchSource, temperature: float = 1.0, seed=None):
        self.model = model
        self.players = model.others
        self._rng = np.random.default_rng(seed)
        self._touch_players = [touches.player(self._rng) for _ in range(self.players)]
        self.temperature = check_temperature(temperature)
        self.lead = 0
        self.ensemble: tuple[int, ...] = (0,) * self.players
        self.ticks = 0

    def set_lead(self, value) -> int:
        """Set the lead gesture from anything parse_gesture accepts; held until changed."""
        self.lead = parse_gesture(value)
        return self.lead

    def set_temperature(self, value) -> float:
        self.temperature = check_temperature(value)
        return self.temperature

    def reset(self) -> None:
        """Zero the model state and set the ensemble to N; the lead is kept."""
        self.model.reset()
        self.ensemble = (0,) * self.players

    def tick(self, duration: float) -> Tick:
        """Step the model once and return the ensemble's gestures and touches.

        ``duration`` is how long this tick lasts (the clock period), over which the
        touches are spread with their own timing.
        """
        probabilities = self.model.step(self.lead, self.ensemble)
        self.ensemble = tuple(
            int(g) for g in self.model.sample(probabilities, self.temperature, self._rng)
        )
        self.ticks += 1
        touches: list[TouchEvent] = []
        for player, (gesture, source) in enumerate(
            zip(self.ensemble, self._touch_players, strict=True), start=1
        ):
            sequence = source.next(gesture, duration)
            touches.extend(
                TouchEvent(float(t), player, float(x), float(y), float(v))
                for t, x, y, v in zip(
                    sequence.t, sequence.x, sequence.y, sequence.velocity, strict=True
                )
            )
        touches.sort(key=lambda event: event.time)
        return Tick(self.ticks, self.lead, self.ensemble, tuple(touches))
