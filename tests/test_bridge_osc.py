"""OSC parsing and building on their own (no sockets)."""

import math

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.osc import Command, OscRejected, build, parse_command


def reference(address, *args):
    builder = OscMessageBuilder(address)
    for value in args:
        builder.add_arg(value)
    return builder.build().dgram


@pytest.mark.parametrize(
    "args",
    [
        ("/ensemble/tick", 5),
        ("/ensemble/gestures", 1, 2, 3),
        ("/ensemble/2/gesture", 3, "FS"),
        ("/ensemble/1/touch", 0.25, 0.75, 12.5),
        ("/x", -7, "", "abcd", 1e-3),
    ],
)
def test_build_gives_the_same_bytes_as_python_osc(args):
    assert build(*args) == reference(*args)


@pytest.mark.parametrize(
    "message, command",
    [
        (("/lead/gesture", 3), Command("lead", 3)),
        (("/lead/gesture", 3.0), Command("lead", 3)),
        (("/lead/gesture", "fsa"), Command("lead", 4)),
        (("/bridge/temperature", 0.5), Command("temperature", 0.5)),
        (("/bridge/temperature", 2), Command("temperature", 2.0)),
        (("/bridge/reset",), Command("reset")),
        (("/bridge/tick",), Command("tick")),
        (("/something/else", 1), None),
    ],
)
def test_valid_messages(message, command):
    assert parse_command(reference(*message)) == command


def test_ping_becomes_a_pong_with_the_same_arguments():
    command = parse_command(reference("/bridge/ping", 1, 2.5, "hi"))
    pong = OscMessage(command.value)
    assert pong.address == "/bridge/pong" and list(pong.params) == [1, 2.5, "hi"]


@pytest.mark.parametrize(
    "data, says",
    [
        (b"hello", "not an OSC message"),
        (b"#bundle\0" + b"\0" * 8, "bundles"),
        (reference("/lead/gesture"), "1 gesture"),
        (reference("/lead/gesture", 1, 2), "1 gesture"),
        (reference("/lead/gesture", 9), "out of range"),
        (reference("/lead/gesture", 2.5), "whole number"),
        (reference("/lead/gesture", math.nan), "nan"),
        (reference("/lead/gesture", "loud"), "'loud'"),
        (reference("/bridge/temperature", math.nan), "finite"),
        (reference("/bridge/temperature", 0.0), "0.05"),
        (reference("/bridge/temperature", "hot"), "number"),
        (reference("/bridge/reset", 1), "no arguments"),
        (reference("/lead/touch", 0.5, 0.25)[:-4], "cut short"),  # read as 0.0 otherwise
        (reference("/lead/touch", 0.5, 0.25)[:-1], "cut short"),
        (reference("/lead/touch", 0.5, 0.25) + b"\0\0\0\0", "padded"),
        (reference("/bridge/temperature", 0.5)[:-4], "cut short"),
        (reference("/lead/gesture", 3)[:-4], "too short"),  # python-osc catches ints
        (reference("/lead/gesture", 3)[:-2], "too short"),
    ],
)
def test_bad_messages_say_what_is_wrong(data, says):
    with pytest.raises(OscRejected) as info:
        parse_command(data)
    assert says in str(info.value)
