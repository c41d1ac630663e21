"""Every command (bridge/commands.py) is acted on in one place, Bridge.apply, and counted."""

from __future__ import annotations

import socket
import typing

import pytest

import corpus_index
from bridge.app import Bridge
from bridge.commands import (
    ClockTick,
    Command,
    LeadTouch,
    Ping,
    Reset,
    SetLead,
    SetLiveliness,
    SetTemperature,
    Unknown,
)
from bridge.config import BridgeConfig
from bridge.osc import OscSender
from bridge.session import Session
from gesture_rnn.runtime import load

EXAMPLES = {
    SetLead: SetLead(4),
    LeadTouch: LeadTouch(0.5, 0.25, None),
    SetTemperature: SetTemperature(0.7),
    SetLiveliness: SetLiveliness(2.5),
    Reset: Reset(),
    ClockTick: ClockTick(),
    Ping: Ping(b"/bridge/pong\0\0\0\0,\0\0\0"),
    Unknown: Unknown("/their/app"),
}


@pytest.fixture
def bridge(tiny_model):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    session = Session(load(tiny_model), corpus_index.open(None), 1.0, seed=0)
    config = BridgeConfig(clock="osc", quiet=True)
    bridge = Bridge(config, session, sock, OscSender([]))
    yield bridge
    bridge.close()


def test_every_kind_of_command_has_an_example():
    assert set(typing.get_args(Command)) == set(EXAMPLES)


@pytest.mark.parametrize("kind", EXAMPLES, ids=lambda kind: kind.__name__)
def test_each_command_is_acted_on_and_counted(bridge, kind):
    counts = dict(bridge.stats.counts)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(5.0)
        bridge.apply(EXAMPLES[kind], peer.getsockname())
        if kind is Ping:
            assert peer.recv(100) == EXAMPLES[Ping].pong
    counted = "ignored" if kind is Unknown else "received"
    assert bridge.stats.counts[counted] == counts[counted] + 1
    if kind is SetLead:
        assert bridge.session.lead == 4
    if kind is SetTemperature:
        assert bridge.session.temperature == 0.7
    if kind is SetLiveliness:
        assert bridge.session.liveliness == 2.5
    if kind is ClockTick:
        assert bridge.session.ticks == 1


def test_a_tick_without_the_osc_clock_is_rejected(bridge):
    bridge.config.clock = "internal"
    bridge.apply(ClockTick())
    assert bridge.stats.counts["rejected"] == 1 and bridge.session.ticks == 0


def test_something_that_is_not_a_command_is_a_programming_error(bridge):
    with pytest.raises(TypeError, match="no case in Bridge.apply"):
        bridge.apply("lead 4")


def test_ticks_every_10_ms_by_a_clock_a_little_fast_are_never_skipped(bridge):
    # A patch ticking every 10 ms (as fast as --period 0.01) by its sound card's clock,
    # which may run 100 ppm fast against ours: after an hour it has sent 36 ticks more
    # than 100 a second would allow. A limit of exactly 100 a second began skipping them
    # after about 12 minutes.
    interval = 0.01 / 1.0001
    assert all(bridge.tick_limit.take(5.0 + i * interval) for i in range(360_000))
    assert bridge.tick_limit.skipped == 0
