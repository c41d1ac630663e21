"""The musical logic of the bridge, with no sockets and no clocks.

A :class:`Session` holds the lead's gesture, the model's recurrent state and the
ensemble's last gestures. Each :meth:`Session.tick` steps the model once, samples the
ensemble's next gestures and asks each virtual player's touch source for that gesture's
touches over the tick. OSC, MIDI and the clocks are thin adapters around it, and tests
drive it directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
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


def check_temperature(value) -> float:
    """The sampling temperature as a float, or ValueError saying the allowed range.

    The one check for every way a temperature arrives: flags, the TOML file, OSC.
    """
    low, high = TEMPERATURE_RANGE
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"temperature must be a number from {low} to {high}, got {value!r}"
        ) from None
    if not low <= t <= high:  # also False for NaN
        raise ValueError(f"temperature must be from {low} to {high}, got {value!r}")
    return t


@dataclass(frozen=True, eq=False)
class Step:
    """A model step computed ahead of its tick: valid while its inputs still hold."""

    lead: int
    before: tuple[int, ...]
    temperature: float
    resets: int
    ensemble: tuple[int, ...]
    state: np.ndarray


class Session:
    """Lead in, ensemble out, one tick at a time.

    A tick is :meth:`prepare` (step the model on a copy of its state and sample),
    :meth:`commit` (adopt that step) and :meth:`touches` (the ensemble's touches for the
    tick). The bridge prepares a few milliseconds before a deadline so the tick goes
    out on time, and prepares again if the lead, temperature or a reset came between.
    :meth:`tick` does all three at once.
    """

    def __init__(self, model, touches: TouchSource, temperature: float = 1.0, seed=None):
        self.model = model
        self.players = model.others
        self._rng = np.random.default_rng(seed)
        self._touch_players = [touches.player(self._rng) for _ in range(self.players)]
        self._state = model.initial_state(1)
        self._code = np.zeros(1, dtype=np.intp)
        self._resets = 0
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
        self._state = self.model.initial_state(1)
        self.ensemble = (0,) * self.players
        self._resets += 1

    def prepare(self) -> Step:
        """Step the model with the lead now and the ensemble before; nothing changes yet."""
        self._code[0] = self.model.encode_input(self.lead, self.ensemble)
        probabilities, state = self.model.step_codes(self._code, self._state)
        ensemble = self.model.sample(probabilities[0], self.temperature, self._rng)
        return Step(
            self.lead,
            self.ensemble,
            self.temperature,
            self._resets,
            tuple(int(g) for g in ensemble),
            state,
        )

    def is_current(self, step: Step) -> bool:
        """Whether ``step`` was prepared from the inputs the session has now."""
        return (
            step.lead == self.lead
            and step.before == self.ensemble
            and step.temperature == self.temperature
            and step.resets == self._resets
        )

    def commit(self, step: Step) -> Tick:
        """Adopt a prepared step: the ensemble moves on. The Tick has no touches yet."""
        if not self.is_current(step):
            step = self.prepare()
        self._state = step.state
        self.ensemble = step.ensemble
        self.ticks += 1
        return Tick(self.ticks, step.lead, step.ensemble, ())

    def touches(self, duration: float) -> tuple[TouchEvent, ...]:
        """Each player's touches for its gesture over the next ``duration`` seconds."""
        events: list[TouchEvent] = []
        for player, (gesture, source) in enumerate(
            zip(self.ensemble, self._touch_players, strict=True), start=1
        ):
            sequence = source.next(gesture, duration)
            if not len(sequence.t):
                continue
            events.extend(
                TouchEvent(t, player, x, y, v)
                for t, x, y, v in zip(
                    sequence.t.tolist(),
                    sequence.x.tolist(),
                    sequence.y.tolist(),
                    sequence.velocity.tolist(),
                    strict=True,
                )
            )
        events.sort(key=lambda event: event.time)
        return tuple(events)

    def tick(self, duration: float) -> Tick:
        """Step the model once; the ensemble's gestures and touches over ``duration``."""
        tick = self.commit(self.prepare())
        return replace(tick, touches=self.touches(duration))
