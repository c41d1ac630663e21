"""The live bridge: the session alone, then the real process over real UDP sockets."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest

import corpus_index
from bridge.session import Session
from gesture_rnn.corpus import read_gesture_file
from gesture_rnn.gestures import GestureError, decode_ensemble
from gesture_rnn.runtime import load
from tests.bridge_process import BridgeProcess, osc, run_bridge_once


def session(model_path, seed=1, temperature=1.0):
    return Session(load(model_path), corpus_index.open(None), temperature, seed=seed)


# -- the session, no sockets -------------------------------------------------------------


def test_tick_gives_three_players_gestures_and_their_touches_in_time_order(tiny_model):
    s = session(tiny_model)
    s.set_lead("FS")
    ticks = [s.tick(0.5) for _ in range(20)]
    assert [t.number for t in ticks] == list(range(1, 21))
    for tick in ticks:
        assert tick.lead == 3
        assert len(tick.ensemble) == 3 and all(0 <= g <= 8 for g in tick.ensemble)
        times = [e.time for e in tick.touches]
        assert times == sorted(times) and all(0 <= t < 0.5 for t in times)
        for event in tick.touches:
            assert 0 <= event.x <= 1 and 0 <= event.y <= 1
            assert tick.ensemble[event.player - 1] != 0  # N means no touching
        for player, gesture in enumerate(tick.ensemble, 1):
            if gesture != 0:
                assert any(e.player == player for e in tick.touches)


def test_the_model_sees_the_lead_now_and_the_ensemble_before(tiny_model):
    s = session(tiny_model, seed=5)
    seen, answers = [], []  # what the session's own model stepped on, and answered
    step_codes = s.model.step_codes

    def recording(codes, state):
        seen.append(int(codes[0]))
        answers.append(step_codes(codes, state))
        return answers[-1]

    s.model.step_codes = recording
    s.set_lead(2)
    first = s.tick(1.0)
    s.set_lead("C")
    s.tick(1.0)
    # lead digit first, then the others' gestures of the tick before (N before the first)
    assert [decode_ensemble(code, 4) for code in seen] == [(2, 0, 0, 0), (8, *first.ensemble)]
    # and it answered as a fresh model stepped on the same inputs, its state carried over
    fresh = load(tiny_model)
    np.testing.assert_allclose(answers[0][0][0], fresh.step(2, (0, 0, 0)), rtol=1e-6)
    np.testing.assert_allclose(answers[1][0][0], fresh.step(8, first.ensemble), rtol=1e-6)


def test_same_seed_same_performance(tiny_model):
    def play(seed):
        s = session(tiny_model, seed=seed)
        out = []
        for lead in [1, 1, 3, 3, 5, 0, 8, 8]:
            s.set_lead(lead)
            t = s.tick(1.0)
            out.append((t.ensemble, [(e.time, e.player, e.x) for e in t.touches]))
        return out

    assert play(7) == play(7)
    assert play(7) != play(8)


def test_lead_temperature_and_reset_are_checked(tiny_model):
    s = session(tiny_model)
    assert s.set_lead(4.0) == 4 and s.set_lead("vss") == 5
    with pytest.raises(GestureError):
        s.set_lead(9)
    with pytest.raises(ValueError, match="0.05"):
        s.set_temperature(0)
    with pytest.raises(ValueError):
        s.set_temperature(float("nan"))
    s.tick(1.0)
    s.reset()
    assert s.ensemble == (0, 0, 0) and s.lead == 5


def test_low_temperature_keeps_to_the_most_likely_state(tiny_model):
    probabilities = load(tiny_model).step(0, (0, 0, 0))
    best = tuple(int(g) for g in np.unravel_index(int(np.argmax(probabilities)), (9, 9, 9))[::-1])

    def share_of_best(temperature):
        s = session(tiny_model, temperature=temperature)

        def first_tick():
            s.reset()
            return s.tick(0.1).ensemble

        return np.mean([first_tick() == best for _ in range(300)])

    assert share_of_best(0.05) > 0.3 > 0.05 > share_of_best(5.0)


def test_reset_starts_the_model_again_from_zero_and_the_ensemble_from_n(tiny_model):
    fresh = session(tiny_model).prepare(1.0)
    s = session(tiny_model)
    for lead in (3, 3, 6):
        s.set_lead(lead)
        s.tick(1.0)
    s.reset()
    s.set_lead(0)
    assert s.ensemble == (0, 0, 0)
    np.testing.assert_array_equal(s.prepare(1.0).state, fresh.state)


def test_a_prepared_step_is_redone_if_the_lead_changed_before_its_tick(tiny_model):
    s = session(tiny_model)
    early = s.prepare(1.0)
    s.set_lead("C")
    tick = s.commit(early)
    assert tick.lead == 8  # the lead at the tick, not when it was prepared


# -- the real bridge process over UDP ------------------------------------------------------


def ticks_of(messages):
    return [m for m in messages if m[1] == "/ensemble/tick"]


def test_ready_line_then_ticks_gestures_and_touches(tiny_model, listener):
    bridge = BridgeProcess(
        "--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}", "--period", 0.1,
        "--seed", 3,
    )  # fmt: skip
    try:
        assert f"listening on 127.0.0.1:{bridge.port}" in bridge.ready_line
        assert f"sending to 127.0.0.1:{listener.port}" in bridge.ready_line
        messages = listener.collect(3.0, until=lambda m: len(ticks_of(m)) >= 6)
    finally:
        code, out, _ = bridge.stop()
    assert code == 0
    numbers = [m[2][0] for m in ticks_of(messages)]
    assert numbers[:3] == list(range(numbers[0], numbers[0] + 3))
    by_address = {}
    for _, address, args in messages:
        by_address.setdefault(address, []).append(args)
    for gestures in by_address["/ensemble/gestures"]:
        assert len(gestures) == 3 and all(isinstance(g, int) and 0 <= g <= 8 for g in gestures)
    for player in (1, 2, 3):
        for g, name in by_address[f"/ensemble/{player}/gesture"]:
            assert name == ["N", "FT", "ST", "FS", "FSA", "VSS", "BS", "SS", "C"][g]
    touches = [args for address, args in ((m[1], m[2]) for m in messages) if "/touch" in address]
    assert touches, "an ensemble of random gestures touches within six ticks"
    for x, y, velocity in touches:
        assert 0 <= x <= 1 and 0 <= y <= 1 and velocity >= 0
    assert "tick" in out and "lead N" in out  # the live view, one line a tick


def test_lead_gesture_reaches_the_model_and_the_recording(tiny_model, listener, tmp_path):
    record = tmp_path / "take1.csv"
    bridge = BridgeProcess(
        "--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}", "--period", 0.05,
        "--record", record,
    )  # fmt: skip
    try:
        listener.collect(1.0, until=lambda m: len(ticks_of(m)) >= 2)
        bridge.send("/lead/gesture", "fsa")
        listener.collect(1.0, until=lambda m: len(ticks_of(m)) >= 3)
        bridge.send("/lead/gesture", 6.0)  # as Pd sends it
        listener.collect(1.0, until=lambda m: len(ticks_of(m)) >= 3)
    finally:
        code, _, _ = bridge.stop(signal.SIGINT)
    assert code == 0
    gestures, players = read_gesture_file(record)
    assert players == ("lead", "player1", "player2", "player3")
    leads = gestures[:, 0].tolist()
    assert leads[0] == 0 and 4 in leads and leads[-1] == 6
    assert leads.index(4) < leads.index(6)


def test_ping_is_answered_to_the_sender_with_the_same_arguments(tiny_model, listener):
    bridge = BridgeProcess("--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}")
    try:
        bridge.send("/bridge/ping", 42, 0.5, "hello")
        bridge.send_sock.settimeout(3)
        reply = bridge.send_sock.recv(65536)
    finally:
        bridge.stop()
    assert reply == osc("/bridge/pong", 42, 0.5, "hello")


def test_bad_messages_are_counted_and_never_stop_the_ticks(tiny_model, listener):
    bridge = BridgeProcess(
        "--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}", "--period", 0.05,
    )  # fmt: skip
    try:
        listener.collect(1.0, until=lambda m: len(ticks_of(m)) >= 1)
        bridge.send_raw(b"not osc at all")
        bridge.send("/lead/gesture", 9)
        bridge.send("/lead/gesture", "swirly")
        bridge.send("/lead/gesture", 1, 2)
        bridge.send("/bridge/temperature", float("nan"))
        bridge.send("/bridge/temperature", 99.0)
        bridge.send("/bridge/reset", 1)
        bridge.send("/bridge/tick")  # the clock is internal
        bridge.send("/some/other/app", 1)  # unknown: ignored, not an error
        bridge.send("/lead/gesture", "ST")
        after = listener.collect(2.0, until=lambda m: len(ticks_of(m)) >= 5)
    finally:
        code, out, err = bridge.stop()
    assert code == 0 and len(ticks_of(after)) >= 5
    last_view = [line for line in out.splitlines() if line.startswith("tick")][-1]
    assert "rejected 8" in last_view and "in 1 " in last_view and "ignored 1" in last_view
    assert "lead ST" in last_view
    assert "out of range" in err and "bundles" not in err
    assert "Traceback" not in err


def test_osc_clock_steps_once_per_tick_message(tiny_model, listener):
    bridge = BridgeProcess(
        "--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}", "--clock", "osc",
    )  # fmt: skip
    try:
        assert not ticks_of(listener.collect(0.5))
        for _ in range(3):
            bridge.send("/bridge/tick")
        got = listener.collect(2.0, until=lambda m: len(ticks_of(m)) >= 3)
        assert [m[2][0] for m in ticks_of(got)] == [1, 2, 3]
        assert not ticks_of(listener.collect(0.3))
    finally:
        bridge.stop()


def test_temperature_and_reset_over_osc_are_taken(tiny_model, listener):
    bridge = BridgeProcess(
        "--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}", "--clock", "osc",
    )  # fmt: skip
    try:
        bridge.send("/bridge/tick")
        bridge.send("/bridge/temperature", 0.5)
        bridge.send("/bridge/reset")
        bridge.send("/bridge/tick")
        got = listener.collect(2.0, until=lambda m: len(ticks_of(m)) >= 2)
    finally:
        _, out, _ = bridge.stop()
    assert [m[2][0] for m in ticks_of(got)] == [1, 2]
    assert out.splitlines()[-1].endswith("in 3 rejected 0 ignored 0")  # the 2nd tick counts after


def test_flood_of_messages_does_not_stop_the_clock(tiny_model, listener):
    bridge = BridgeProcess(
        "--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}", "--period", 0.05,
    )  # fmt: skip
    try:
        listener.collect(1.0, until=lambda m: len(ticks_of(m)) >= 1)
        end = time.monotonic() + 1.0
        sent = 0
        junk = osc("/lead/gesture", 12)
        while time.monotonic() < end:
            bridge.send_raw(junk)
            bridge.send("/lead/gesture", sent % 9)
            sent += 2
        listener.collect(0.5)  # what the flood kept us from reading, and half a second more
    finally:
        code, out, _ = bridge.stop()
    assert code == 0 and sent > 1000
    numbers = [m[2][0] for m in ticks_of(listener.messages)]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # none lost
    assert len(numbers) >= 20  # 1.5 s and more at 20 ticks a second, flood or not


@pytest.mark.parametrize(
    "args, says",
    [
        (["--port", "70000"], "--port"),
        (["--port", "abc"], "--port"),
        (["--osc-out", "nohostport"], "--osc-out"),
        (["--osc-out", "127.0.0.1:0"], "--osc-out"),
        (["--period", "0"], "--period"),
        (["--period", "soon"], "--period"),
        (["--temperature", "9"], "--temperature"),
        (["--clock", "sundial"], "--clock"),
        (["--clock", "midi"], "--clock midi needs MIDI input"),
        (["--seed", "x"], "--seed"),
        (["--cc-scale", "log"], "--cc-scale"),
        (["--model", "/nowhere/model.h5"], "--model"),
        (["--corpus", "/nowhere/index.h5"], "--corpus"),
        (["--config", "/nowhere/bridge.toml"], "/nowhere/bridge.toml does not exist"),
        (["--host", "not an address"], "not an address"),
    ],
)
def test_bad_options_get_one_line_and_exit_code_2(args, says, tiny_model, capsys, monkeypatch):
    """In-process (the command's own main): each is refused before anything starts."""
    from bridge.app import Bridge
    from gesture_rnn_cli import main

    monkeypatch.setattr(Bridge, "run", lambda self, ready="": pytest.fail(f"started: {ready}"))
    try:
        code = main(["bridge", "--port", "0", "--model", str(tiny_model), *map(str, args)])
    except SystemExit as exit:  # argparse's own refusals
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in err


def test_damaged_model_and_index_files_are_refused(tmp_path, tiny_model):
    bad = tmp_path / "model.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    result = run_bridge_once("--model", bad)
    assert result.returncode == 2 and "--model" in result.stderr and str(bad) in result.stderr
    bad_index = tmp_path / "index.h5"
    bad_index.write_bytes(b"garbage")
    result = run_bridge_once("--model", tiny_model, "--corpus", bad_index)
    assert result.returncode == 2 and "--corpus" in result.stderr
    assert "Traceback" not in result.stderr


def test_existing_recording_is_never_overwritten(tiny_model, tmp_path):
    take = tmp_path / "take.csv"
    take.write_text("my precious take\n")
    result = run_bridge_once("--model", tiny_model, "--record", take)
    assert result.returncode == 1 and "--force" in result.stderr  # README: exit codes
    assert take.read_text() == "my precious take\n"


def test_config_file_with_flags_winning(tiny_model, listener, tmp_path):
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'model = "{tiny_model}"\nperiod = 5.0\nosc_out = ["127.0.0.1:{listener.port}"]\n'
        "[midi]\ngesture_cc = 30\n"
    )
    bridge = BridgeProcess("--config", config, "--period", 0.05)
    try:
        got = listener.collect(2.0, until=lambda m: len(ticks_of(m)) >= 3)
    finally:
        bridge.stop()
    assert len(ticks_of(got)) >= 3  # the flag's 0.05 s won over the file's 5 s
    config.write_text("colour = 'blue'\n")
    result = run_bridge_once("--config", config)
    assert result.returncode == 2 and "colour" in result.stderr
    config.write_text("[midi]\ngesture_cc = 300\n")
    result = run_bridge_once("--config", config)
    assert result.returncode == 2 and "midi.gesture_cc" in result.stderr


def test_sigterm_stops_within_a_second(tiny_model, listener):
    bridge = BridgeProcess("--model", tiny_model, "--osc-out", f"127.0.0.1:{listener.port}")
    start = time.monotonic()
    code, _, err = bridge.stop(signal.SIGTERM, timeout=5)
    assert code == 0 and time.monotonic() - start < 1.0
    assert "stopped after" in err
