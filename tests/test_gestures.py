import numpy as np
import pytest

from gesture_rnn.gestures import (
    GESTURE_NAMES,
    GESTURES,
    GestureError,
    decode_ensemble,
    encode_ensemble,
    gesture_name,
    parse_gesture,
)


def test_nine_gestures_in_code_order():
    assert GESTURE_NAMES == ("N", "FT", "ST", "FS", "FSA", "VSS", "BS", "SS", "C")
    assert [g.code for g in GESTURES] == list(range(9))
    assert GESTURES[4].description == "fast swipes accelerating"


@pytest.mark.parametrize(
    "value, code",
    [
        (0, 0),
        (8, 8),
        (np.int64(3), 3),
        (3.0, 3),  # Pure Data sends floats
        (np.float32(7.0), 7),
        ("fs", 3),
        ("FSA", 4),
        ("  vss ", 5),
        ("c", 8),
        ("6", 6),
        (b"BS", 6),
    ],
)
def test_parse_accepts_ints_whole_floats_and_names(value, code):
    assert parse_gesture(value) == code


@pytest.mark.parametrize(
    "value, says",
    [
        (9, "9"),
        (-1, "-1"),
        (2.5, "2.5"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        ("swirl", "'swirl'"),
        ("", "''"),
        (None, "None"),
        (True, "True"),
        ([1], "[1]"),
    ],
)
def test_parse_rejects_with_what_was_received_and_what_is_allowed(value, says):
    with pytest.raises(GestureError) as info:
        parse_gesture(value)
    message = str(info.value)
    assert says in message
    assert "0-8" in message and "FSA" in message


def test_gesture_name():
    assert gesture_name(3.0) == "FS"
    assert gesture_name("ss") == "SS"


def test_encode_player_zero_least_significant():
    assert encode_ensemble([1, 0, 0]) == 1
    assert encode_ensemble([0, 1, 0]) == 9
    assert encode_ensemble([1, 2, 3, 4]) == 1 + 2 * 9 + 3 * 81 + 4 * 729
    assert encode_ensemble([8, 8, 8]) == 728
    assert isinstance(encode_ensemble((2, 5)), int)


def test_decode_is_inverse_for_every_state_of_every_size():
    for players in (1, 2, 3, 4, 5):
        states = np.arange(9**players)
        gestures = decode_ensemble(states, players)
        assert gestures.shape == (9**players, players)
        assert gestures.min() == 0 and gestures.max() == 8
        np.testing.assert_array_equal(encode_ensemble(gestures), states)
    assert decode_ensemble(1 + 2 * 81, 3) == (1, 0, 2)


def test_encode_vectorised_over_leading_axes():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 9, size=(5, 7, 4))
    codes = encode_ensemble(g)
    assert codes.shape == (5, 7)
    assert codes[2, 3] == sum(int(g[2, 3, i]) * 9**i for i in range(4))


def test_encode_and_decode_refuse_out_of_range():
    with pytest.raises(GestureError, match="9"):
        encode_ensemble([0, 9, 1])
    with pytest.raises(GestureError, match="outside"):
        decode_ensemble([729], 3)
    with pytest.raises(GestureError):
        decode_ensemble(-1, 2)
    with pytest.raises(GestureError, match="integers"):
        encode_ensemble([0.5, 1.0])
