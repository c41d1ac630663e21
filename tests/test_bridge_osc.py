"""OSC parsing and building on their own (no sockets)."""

import logging
import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.commands import (
    ClockTick,
    Command,
    Ping,
    Reset,
    SetLead,
    SetLiveliness,
    SetTemperature,
    Unknown,
)
from bridge.osc import ADDRESSES, MAX_REASON, OscRejected, build, parse_command


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
        (("/lead/gesture", 3), SetLead(3)),
        (("/lead/gesture", 3.0), SetLead(3)),
        (("/lead/gesture", "fsa"), SetLead(4)),
        (("/bridge/temperature", 0.5), SetTemperature(0.5)),
        (("/bridge/temperature", 2), SetTemperature(2.0)),
        (("/bridge/liveliness", 1.5), SetLiveliness(1.5)),
        (("/bridge/reset",), Reset()),
        (("/bridge/tick",), ClockTick()),
        (("/something/else", 1), Unknown("/something/else")),
    ],
)
def test_valid_messages(message, command):
    assert parse_command(reference(*message)) == command


def test_ping_becomes_a_pong_with_the_same_arguments():
    command = parse_command(reference("/bridge/ping", 1, 2.5, "hi"))
    pong = OscMessage(command.pong)
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


# -- hostile datagrams: refused in bounded time, with a short message, and nothing else ----


def pad(raw: bytes) -> bytes:
    """An OSC string: NUL-terminated, padded with NULs to a multiple of 4 bytes."""
    raw += b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def raw_message(address: str, tags: bytes, payload: bytes = b"") -> bytes:
    return pad(address.encode()) + pad(b"," + tags) + payload


@pytest.mark.parametrize("address", ["/lead/gesture", "/bridge/temperature", "/bridge/ping"])
def test_nested_arrays_are_refused_with_a_short_message(address):
    data = raw_message(address, b"[" * 1000 + b"]" * 1000)  # about 2 KB
    with pytest.raises(OscRejected) as info:
        parse_command(data)
    assert "arrays are not accepted" in str(info.value) and len(str(info.value)) <= 200
    assert info.value.address == address and info.value.kind == "type tags"


@pytest.mark.parametrize(
    "data, tag",
    [
        # /lead/touch ,fcf 0.5 'A' 0.25: was played as a touch at (0.5, 9e-44)
        (raw_message("/lead/touch", b"fcf", struct.pack(">fif", 0.5, ord("A"), 0.25)), "'c'"),
        (raw_message("/lead/gesture", b"xi", struct.pack(">i", 3)), "'x'"),  # was gesture 3
        (raw_message("/lead/gesture", b"Ti", struct.pack(">i", 3)), "'T'"),
        (raw_message("/bridge/temperature", b"Nf", struct.pack(">f", 0.5)), "'N'"),
        (raw_message("/bridge/reset", b"I"), "'I'"),
        (raw_message("/bridge/ping", b"ic", struct.pack(">ii", 1, 65)), "'c'"),
    ],
)
def test_a_type_tag_the_bridge_does_not_read_discards_the_message(data, tag):
    with pytest.raises(OscRejected) as info:
        parse_command(data)
    assert f"type tag {tag} is not one the bridge reads" in str(info.value)


def test_a_datagram_of_unknown_tags_is_refused_once_without_logging_each_tag(caplog):
    data = raw_message("/lead/gesture", b"x" * 65_000)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(OscRejected) as info:
            parse_command(data)
        assert parse_command(raw_message("/their/app", b"x" * 65_000)) == Unknown("/their/app")
    assert caplog.records == []  # python-osc logged one line per tag
    assert len(str(info.value)) <= 200


def test_more_arguments_than_any_message_takes_are_refused_before_reading_them():
    with pytest.raises(OscRejected, match="17 arguments"):
        parse_command(raw_message("/bridge/ping", b"i" * 17, bytes(4 * 17)))
    assert isinstance(parse_command(raw_message("/bridge/ping", b"i" * 16, bytes(4 * 16))), Ping)


@pytest.mark.parametrize(
    "value, says",
    [
        ("²", "'²'"),  # str.isdigit() says yes and int() refuses: a ValueError stopped the bridge
        ("٣", "'٣'"),  # an Arabic-Indic 3 was read as gesture 3
        ("9" * 5000, "out of range"),  # int() refuses more than 4,300 digits
        ("fs" * 30_000, "received the name"),
    ],
)
def test_gesture_names_only_in_ascii_and_quoted_short(value, says):
    with pytest.raises(OscRejected) as info:
        parse_command(reference("/lead/gesture", value))
    assert says in str(info.value) and len(str(info.value)) <= 200


def test_an_unknown_address_is_not_read_and_comes_back_short():
    command = parse_command(raw_message("/" + "a" * 5000, b"[[[", b"junk"))
    assert isinstance(command, Unknown) and len(command.address) <= 40
    assert command.address.startswith("/aaa")


ESC = "\x1b"


@pytest.mark.parametrize(
    "data",
    [
        raw_message(f"/{ESC}]0;pwned\a{ESC}[2J", b""),  # set the title, clear the screen
        raw_message("/lead/gesture", f"{ESC}[2Ji".encode(), struct.pack(">i", 3)),
        raw_message("/lead/gesture", b"s", pad(f"{ESC}[31mFS".encode())),
        raw_message("/their/\u202eppa", b""),  # a right-to-left override
        raw_message("/lead/\r\x9b2J", b"f", struct.pack(">f", 0.5)),  # a C1 CSI
    ],
)
def test_what_a_log_line_quotes_of_a_message_has_no_terminal_escapes(data):
    """Control characters from the network are written as escapes, not sent to the
    terminal (ESC [2J cleared the screen of the log)."""
    try:
        shown = parse_command(data).address  # an Unknown: the only command that quotes
    except OscRejected as error:
        shown = f"{error} {error.address}"
    assert shown.isprintable() and ESC not in shown
    assert "\\x1b" in shown or "\\u202e" in shown or "\\r" in shown


def test_a_type_tag_that_is_not_a_bracket_is_named_even_after_a_bracket():
    with pytest.raises(OscRejected, match="type tag 'c'"):
        parse_command(raw_message("/lead/gesture", b"c[i]"))


def test_a_string_cut_short_or_padded_is_refused():
    good = reference("/lead/gesture", "FS")
    assert parse_command(good) == SetLead(3)
    with pytest.raises(OscRejected, match="padded"):
        parse_command(good + bytes(4))
    with pytest.raises(OscRejected):
        parse_command(good[:-4])


def check_outcome(data: bytes) -> None:
    """What parse_command may do with any datagram: a Command, or a short OscRejected."""
    try:
        command = parse_command(data)
    except OscRejected as error:
        assert len(str(error)) <= MAX_REASON and len(error.address) <= 40
        assert str(error).isprintable() and error.address.isprintable()  # no escapes
        assert error.kind in ("not OSC", "bundle", "type tags", "arguments")
        return
    assert isinstance(command, Command)  # one of the union
    if isinstance(command, Unknown):
        assert len(command.address) <= 40 and command.address.isprintable()


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_give_a_command_or_a_rejection(data):
    check_outcome(data)


KNOWN_ADDRESSES = sorted(ADDRESSES) + ["/their/app"]
TAGS = st.text(alphabet="ifhdsbTFNIcmrt[]x,", max_size=40).map(str.encode)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(KNOWN_ADDRESSES), TAGS, st.binary(max_size=256))
def test_any_tags_and_arguments_to_any_address_give_a_command_or_a_rejection(
    address, tags, payload
):
    check_outcome(raw_message(address, tags, payload))


NUMBERS = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.floats(width=32),
    st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=20),  # buildable
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(ADDRESSES)), st.lists(NUMBERS, max_size=4), st.integers(1, 8))
def test_well_formed_messages_cut_short_or_padded_are_refused(address, args, cut):
    data = reference(address, *args)
    check_outcome(data)
    head = len(pad(address.encode())) + len(pad(b"," + b"x" * len(args)))
    if address == "/bridge/ping":
        return  # the pong echoes the arguments as they came
    with pytest.raises(OscRejected):
        parse_command(data + bytes(cut))  # padded: never a silent wrong value
    if len(data) - head >= cut:
        with pytest.raises(OscRejected):
            parse_command(data[: len(data) - cut])  # an argument cut short
