"""What a checked message asks the bridge to do: one small frozen dataclass a command.

bridge/osc.py (OSC datagrams) and bridge/web.py (the browser page) check their input and
make one of these; :meth:`bridge.app.Bridge.apply` acts on each, in one place. A new
command is a class here, a line in :data:`Command`, a parser that makes it and a case in
``Bridge.apply``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SetLead:
    """/lead/gesture, the page's gesture: the lead's gesture from now on (0-8)."""

    gesture: int


@dataclass(frozen=True)
class LeadTouch:
    """/lead/touch, the page's touch: one touch of the lead, x and y in 0-1, velocity or
    None (checked by :func:`bridge.session.check_touch`)."""

    x: float
    y: float
    velocity: float | None = None


@dataclass(frozen=True)
class SetTemperature:
    """/bridge/temperature, the page's slider: the sampling temperature (checked)."""

    temperature: float


@dataclass(frozen=True)
class SetLiveliness:
    """The page's liveliness slider, where the model's runtime has liveliness (checked)."""

    liveliness: float


@dataclass(frozen=True)
class Reset:
    """/bridge/reset, the page's reset: the ensemble starts again from nothing."""


@dataclass(frozen=True)
class ClockTick:
    """/bridge/tick: one tick now, with ``--clock osc``."""


@dataclass(frozen=True)
class Ping:
    """/bridge/ping: answer the sender with ``pong``, the /bridge/pong message's bytes."""

    pong: bytes


@dataclass(frozen=True)
class Unknown:
    """An OSC address the bridge does not know (at most 40 characters): ignored, counted."""

    address: str


Command = SetLead | LeadTouch | SetTemperature | SetLiveliness | Reset | ClockTick | Ping | Unknown
