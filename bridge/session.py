"""The musical logic of the bridge, with no sockets and no clocks.

A :class:`Session` holds the lead's gesture, the model's recurrent state and the
ensemble's last gestures. Each :meth:`Session.tick` steps the model once, samples the
ensemble's next gestures and asks each virtual player's touch source for that gesture's
touches over the tick. OSC, MIDI and the clocks are thin adapters around it, and tests
drive it directly.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gesture_rnn.config import check_liveliness, check_temperature
from gesture_rnn.gestures import GESTURE_NAMES, parse_gesture
from gesture_rnn.touch_features import LEAD_SCREEN, WINDOW_SECONDS

log = logging.getLogger(__name__)

# The lead's raw touches (docs/osc.md, /lead/touch): x and y 0-1 are scaled to LEAD_SCREEN,
# the screen the classifier was trained on; without a velocity, a touch more than
# NEW_TOUCH_GAP after the one before is a touch-down, else the distance moved. The
# classifier reads the last WINDOW_SECONDS; of those at most MAX_LEAD_TOUCHES are kept (the
# newest), far more than a performer makes (60 a second for 5 s is 300), so a flood costs
# neither memory nor time.
NEW_TOUCH_GAP = 0.1
MAX_LEAD_TOUCHES = 4096


class LeadTouches:
    """The lead's recent touches in numpy arrays, oldest first, so a window is a slice.

    Adding is a few scalar writes; the old touches are dropped when the window is read
    (or when the arrays are full), so reading costs the same under a flood as in play.
    """

    def __init__(self, capacity: int = MAX_LEAD_TOUCHES):
        self.times = np.empty(capacity)
        self.x = np.empty(capacity)
        self.y = np.empty(capacity)
        self.velocity = np.empty(capacity)
        self.count = 0

    def add(self, time: float, x: float, y: float, velocity: float) -> None:
        if self.count == len(self.times):
            self.drop_before(time - WINDOW_SECONDS)
            if self.count == len(self.times):  # all recent: keep the newer half
                self.drop_first(self.count // 2)
        n = self.count
        self.times[n], self.x[n], self.y[n], self.velocity[n] = time, x, y, velocity
        self.count = n + 1

    def last(self) -> tuple[float, float, float] | None:
        """(time, x, y) of the newest touch, or None."""
        n = self.count - 1
        return None if n < 0 else (float(self.times[n]), float(self.x[n]), float(self.y[n]))

    def window(self, now: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x, y and velocity of the touches of the last WINDOW_SECONDS (views)."""
        self.drop_before(now - WINDOW_SECONDS)
        n = self.count
        return self.x[:n], self.y[:n], self.velocity[:n]

    def drop_before(self, time: float) -> None:
        self.drop_first(int(np.searchsorted(self.times[: self.count], time, side="left")))

    def drop_first(self, k: int) -> None:
        if k <= 0:
            return
        n = self.count - k
        for a in (self.times, self.x, self.y, self.velocity):
            a[:n] = a[k : k + n]
        self.count = n


class SourcePlayer(Protocol):
    """What a :class:`TouchSource` gives each ensemble player (the corpus index's
    ``TouchPlayer`` or ``ProceduralPlayer``): touches for a gesture over ``duration`` s."""

    def next(self, gesture: int, duration: float): ...


class TouchSource(Protocol):
    """Where the ensemble's touches come from: a corpus index, or the procedural one."""

    def player(self, rng: np.random.Generator) -> SourcePlayer: ...


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


def check_touch(x, y, velocity=None) -> tuple[float, float, float | None]:
    """A lead touch as floats, or ValueError: x, y from 0 to 1, velocity >= 0 or None."""
    values = [("x", x), ("y", y)] + ([] if velocity is None else [("velocity", velocity)])
    for name, value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise ValueError(f"x and y must be from 0 to 1, got {x!r} {y!r}")
    if velocity is not None and velocity < 0:
        raise ValueError(f"velocity must be 0 or more, got {velocity!r}")
    return float(x), float(y), None if velocity is None else float(velocity)


@dataclass(frozen=True, eq=False)
class Step:
    """A tick computed ahead: valid while the inputs it was made from still hold.

    ``tick`` is what :meth:`Session.commit` returns if the step is committed as it is;
    the touch players and the random generator as they are after it wait here until then.
    """

    tick: Tick
    before: tuple[int, ...]
    temperature: float
    liveliness: float
    resets: int
    duration: float
    state: np.ndarray
    players: list
    rng_state: dict


class Session:
    """Lead in, ensemble out, one tick at a time.

    A tick is :meth:`prepare` (step the model on a copy of its state, sample the
    ensemble's gestures and make their touches on copies of the touch players; the
    session itself does not change) and :meth:`commit` (adopt all of it). The bridge
    prepares a few milliseconds before a deadline, so at the deadline it only sends.
    :meth:`tick` does both at once.

    The lead is a gesture (``lead = g`` or :meth:`set_lead`) or comes from raw touches
    (:meth:`add_touch`): when touches have arrived and no gesture was set after the last
    of them, preparing a tick first sets the lead from the touches of the last five
    seconds, classified by ``touch_classifier`` (default: the bundled one, loaded at the
    first touch). ``clock`` gives the touches' times (seconds).
    """

    def __init__(
        self,
        model,
        touches: TouchSource,
        temperature: float = 1.0,
        seed=None,
        touch_classifier=None,
        clock: Callable[[], float] = time.monotonic,
        liveliness: float = 1.0,
    ):
        self.model = model
        self.others = model.others  # the ensemble players, the lead not counted (as model.others)
        self._rng = np.random.default_rng(seed)
        self._source = touches
        self._touch_players = [touches.player(self._rng) for _ in range(self.others)]
        self._state = model.initial_state(1)
        self._code = np.zeros(1, dtype=np.intp)
        self._resets = 0
        self.temperature = check_temperature(temperature)
        self.liveliness = check_liveliness(liveliness)
        self._classifier = touch_classifier
        self._clock = clock
        self._lead_touches = LeadTouches()
        self._lead_by_touch = False  # whether a touch came after the last lead gesture
        self.lead = 0
        self.ensemble: tuple[int, ...] = (0,) * self.others
        self.ticks = 0

    @property
    def lead(self) -> int:
        return self._lead

    @lead.setter
    def lead(self, gesture: int) -> None:
        """A lead gesture (already checked), held until changed; it wins over earlier
        touches until the next touch."""
        self._lead = gesture
        self._lead_by_touch = False

    def set_lead(self, value) -> int:
        """Set the lead gesture from anything parse_gesture accepts; held until changed."""
        self.lead = parse_gesture(value)
        return self.lead

    def add_touch(self, x, y, velocity=None) -> None:
        """One raw touch of the lead: x, y from 0 to 1; velocity in screen points since
        the lead's last touch (0: touch-down), or None to derive it (see docs/osc.md)."""
        x, y, velocity = check_touch(x, y, velocity)
        if self._classifier is None:
            from gesture_rnn import touch_classifier

            self._classifier = touch_classifier.load()
        now = self._clock()
        px, py = x * LEAD_SCREEN[0], y * LEAD_SCREEN[1]
        if velocity is None:
            last = self._lead_touches.last()
            if last is None or now - last[0] > NEW_TOUCH_GAP:
                velocity = 0.0
            else:
                velocity = math.hypot(px - last[1], py - last[2])
        self._lead_touches.add(now, px, py, velocity)
        self._lead_by_touch = True

    def _lead_from_touches(self) -> None:
        """Classify the lead's last five seconds of touches, if touches are the latest input."""
        if not self._lead_by_touch:
            return
        x, y, velocity = self._lead_touches.window(self._clock())
        self._lead = self._classifier.classify_touches(x, y, velocity)

    def set_temperature(self, value) -> float:
        self.temperature = check_temperature(value)
        return self.temperature

    def set_liveliness(self, value) -> float:
        """How often the ensemble changes (gesture_rnn.runtime.sample_states): 0 never,
        1 the model as it is, above 1 more often; ValueError out of range."""
        self.liveliness = check_liveliness(value)
        return self.liveliness

    def reset(self) -> None:
        """Zero the model state and set the ensemble to N; the lead is kept."""
        self._state = self.model.initial_state(1)
        self.ensemble = (0,) * self.others
        self._resets += 1

    def prepare(self, duration: float) -> Step:
        """The next tick over ``duration`` seconds, from the inputs now; nothing changes yet."""
        *_, step = self.preparing(duration)
        return step

    def preparing(self, duration: float) -> Iterator[Step | None]:
        """:meth:`prepare` in small parts: yields None between them, then the Step.

        The bridge sends the touches that fall due in the gaps, so making the next tick
        never holds up the current one's touches for long. The one change it makes to
        the session is the lead from touches, if they are the latest lead input.
        """
        self._lead_from_touches()
        rng = self._rng
        before = rng.bit_generator.state
        lead, ensemble_before, temperature = self.lead, self.ensemble, self.temperature
        liveliness = self.liveliness
        self._code[0] = self.model.encode_input(lead, ensemble_before)
        probabilities, state = self.model.step_codes(self._code, self._state)
        yield None
        try:
            drawn = self.model.sample(
                probabilities[0], temperature, rng, liveliness, ensemble_before
            )
            ensemble = tuple(int(g) for g in drawn)
            # The players are copied (the index they read from is shared, not copied) and
            # advance only when the step is committed; the generator they share with the
            # sampling is put back the same way.
            players = copy.deepcopy(
                self._touch_players, {id(self._source): self._source, id(rng): rng}
            )
            events: list[TouchEvent] = []
            for player, (gesture, source) in enumerate(zip(ensemble, players, strict=True), 1):
                yield None
                events.extend(_touch_events(player, source.next(gesture, duration)))
            after = rng.bit_generator.state
        finally:
            rng.bit_generator.state = before
        events.sort(key=lambda event: event.time)
        tick = Tick(self.ticks + 1, lead, ensemble, tuple(events))
        yield Step(
            tick,
            ensemble_before,
            temperature,
            liveliness,
            self._resets,
            duration,
            state,
            players,
            after,
        )

    def follows(self, step: Step) -> bool:
        """Whether ``step`` was prepared from the ensemble and model state there are now:
        no tick and no reset since. Only the lead, temperature or liveliness may have
        changed."""
        return (
            step.tick.number == self.ticks + 1
            and step.before == self.ensemble
            and step.resets == self._resets
        )

    def is_current(self, step: Step) -> bool:
        """Whether ``step`` was prepared from all the inputs the session has now."""
        return (
            self.follows(step)
            and step.tick.lead == self.lead
            and step.temperature == self.temperature
            and step.liveliness == self.liveliness
        )

    def commit(self, step: Step, *, lead_may_lag: bool = False) -> Tick:
        """Adopt a prepared step: the ensemble and the touch players move on.

        A step whose inputs changed since it was prepared is made again, over the same
        duration. With ``lead_may_lag`` a step prepared before a new lead, temperature or
        liveliness stands and the change counts from the next tick (the bridge allows this
        for changes in the last milliseconds before a tick); a reset always counts.
        """
        if not (self.follows(step) if lead_may_lag else self.is_current(step)):
            step = self.prepare(step.duration)
        self._state = step.state
        self.ensemble = step.tick.ensemble
        self._touch_players = step.players
        self._rng.bit_generator.state = step.rng_state
        self.ticks += 1
        return step.tick

    def tick(self, duration: float) -> Tick:
        """Step the model once; the ensemble's gestures and touches over ``duration``."""
        return self.commit(self.prepare(duration))


def _touch_events(player: int, sequence) -> list[TouchEvent]:
    if not len(sequence.t):
        return []
    return [
        TouchEvent(t, player, x, y, v)
        for t, x, y, v in zip(
            sequence.t.tolist(),
            sequence.x.tolist(),
            sequence.y.tolist(),
            sequence.velocity.tolist(),
            strict=True,
        )
    ]
