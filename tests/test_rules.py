"""Rules with one definition, used by every part: each part answers as the rule says."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import corpus_index
from bridge.osc import build
from bridge.session import Session
from gesture_rnn.config import (
    ENSEMBLES,
    LIVELINESS_RANGE,
    TEMPERATURE_RANGE,
    check_liveliness,
    check_temperature,
)
from gesture_rnn.generate import GenerationError, generate
from gesture_rnn.gestures import GestureError, parse_gesture
from gesture_rnn.runtime import load
from gesture_rnn_cli import build_parser

BAD_TEMPERATURES = [0.0, 0.049, 5.01, math.nan, math.inf, "hot", None, True]
BAD_LIVELINESS = [-0.01, 10.01, math.nan, math.inf, "lively", None, True]


def test_temperature_range_edges_are_allowed():
    low, high = TEMPERATURE_RANGE
    assert check_temperature(low) == low and check_temperature(high) == high
    assert check_temperature("0.5") == 0.5  # flags and the TOML file give text


@pytest.mark.parametrize("value", BAD_TEMPERATURES)
def test_every_part_rejects_the_same_temperatures_with_the_same_words(value, tiny_model):
    with pytest.raises(ValueError) as rule:
        check_temperature(value)
    said = str(rule.value)
    assert "a temperature in 0.05-5" in said
    model = load(tiny_model)
    p = model.step(0, (0, 0, 0))
    with pytest.raises(ValueError) as runtime_error:
        model.sample(p, value)
    with pytest.raises(GenerationError) as generate_error:
        generate(model, [0, 1, 2], temperature=value)
    session = Session(load(tiny_model), corpus_index.open(None))
    with pytest.raises(ValueError) as bridge_error:
        session.set_temperature(value)
    assert str(runtime_error.value) == str(generate_error.value) == str(bridge_error.value) == said


def test_liveliness_range_edges_are_allowed():
    low, high = LIVELINESS_RANGE
    assert check_liveliness(low) == low and check_liveliness(high) == high
    assert check_liveliness("0.5") == 0.5


@pytest.mark.parametrize("value", BAD_LIVELINESS)
def test_every_part_rejects_the_same_liveliness_with_the_same_words(value, tiny_model):
    from bridge.osc import OscRejected, parse_command
    from bridge.web import WebRejected, parse_message

    with pytest.raises(ValueError) as rule:
        check_liveliness(value)
    said = str(rule.value)
    assert "a liveliness in 0-10" in said
    model = load(tiny_model)
    p = model.step(0, (0, 0, 0))
    with pytest.raises(ValueError) as runtime_error:
        model.sample(p, 1.0, None, value, (0, 0, 0))
    with pytest.raises(GenerationError) as generate_error:
        generate(model, [0, 1, 2], liveliness=value)
    session = Session(load(tiny_model), corpus_index.open(None))
    with pytest.raises(ValueError) as bridge_error:
        session.set_liveliness(value)
    assert str(runtime_error.value) == str(generate_error.value) == str(bridge_error.value) == said
    if isinstance(value, float):  # what OSC can carry; its own check names a non-finite one
        with pytest.raises(OscRejected, match="/bridge/liveliness"):
            parse_command(build("/bridge/liveliness", value))
    if value is not math.nan and value is not math.inf:  # JSON has no NaN or Infinity
        with pytest.raises(WebRejected) as web_error:
            parse_message(json.dumps({"liveliness": value}))
        assert str(web_error.value) == f"liveliness: {said}"


def test_the_command_line_offers_exactly_the_ensemble_sizes_a_model_can_have():
    parser = build_parser()
    for size in ENSEMBLES:
        args = ["prepare", "--data", "d", "--out", "o.npz", "--ensemble", str(size)]
        assert parser.parse_args(args).ensemble == size
    with pytest.raises(SystemExit):
        parser.parse_args(["prepare", "--data", "d", "--out", "o.npz", "--ensemble", "5"])


def test_the_gesture_fast_path_is_parse_gesture_itself():
    # Plain ints 0-8 return at once; every other form still goes through the checks.
    assert [parse_gesture(g) for g in range(9)] == list(range(9))
    assert parse_gesture(np.int64(3)) == 3 and parse_gesture(3.0) == 3
    for bad in (9, -1, True, 2.5):
        with pytest.raises(GestureError):
            parse_gesture(bad)
