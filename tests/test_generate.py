"""Generation, lead parts, the CSV/PNG/MIDI writers, and ``gesture-rnn generate``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from gesture_rnn.corpus import read_gesture_file
from gesture_rnn.files import OutputError, OutputExistsError
from gesture_rnn.generate import (
    GenerationError,
    column_names,
    generate,
    lead_from_corpus,
    read_lead_csv,
    write_comparison_png,
    write_csv,
    write_midi,
    write_png,
)
from gesture_rnn.gestures import NUM_GESTURES, decode_ensemble, encode_ensemble
from tests.synthetic import FakePerformance, write_corpus

REPO = Path(__file__).resolve().parent.parent


def write_tiny_model(
    path: Path,
    ensemble: int = 3,
    *,
    seed: int = 0,
    favour: int | None = None,
    split: dict | None = None,
) -> Path:
    """A real model file with a 1 x 4 LSTM: random weights, or with ``favour`` an LSTM of
    zeros (its output stays 0) and an output bias that makes that state 0.99 likely."""
    from gesture_rnn.config import ModelConfig
    from gesture_rnn.export import metadata_for, write_model_file

    config = ModelConfig(
        ensemble=ensemble, layers=1, units=4, embedding=3, input="players", stay=False
    )
    rng = np.random.default_rng(seed)
    states = NUM_GESTURES ** (ensemble - 1)
    weights = {
        "embedding": rng.normal(size=(ensemble, NUM_GESTURES, 3)),
        "lstm_0/kernel": rng.normal(size=(3 * ensemble, 16)),
        "lstm_0/recurrent_kernel": rng.normal(size=(4, 16)),
        "lstm_0/bias": rng.normal(size=16),
        "output/kernel": rng.normal(size=(4, states)),
        "output/bias": rng.normal(size=states),
    }
    if favour is not None:
        weights = {name: np.zeros_like(w) for name, w in weights.items()}
        weights["output/bias"][favour] = np.log(0.99 * (states - 1) / 0.01)
    weights = {name: w.astype(np.float32) for name, w in weights.items()}
    return write_model_file(path, weights, metadata_for(config, {"split": split} if split else {}))


def gesture_rnn(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gesture_rnn", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=120,
    )


def write_lead(path: Path, columns: dict[str, list[int]]) -> Path:
    lines = ["time," + ",".join(columns)]
    for t, row in enumerate(zip(*columns.values(), strict=True)):
        lines.append(f"2020-01-01 10:00:{t:02d}," + ",".join(map(str, row)))
    path.write_text("\n".join(lines) + "\n")
    return path


class CountingModel:
    """A model-like object that answers "player1 plays one more than a second ago,
    player2 copies the lead": what it returns shows exactly what was fed back."""

    ensemble = 3

    def __init__(self):
        self.calls: list[tuple[int, tuple[int, ...]]] = []
        self.resets = 0

    def reset(self):
        self.resets += 1

    def step(self, lead, ensemble_before):
        self.calls.append((lead, tuple(ensemble_before)))
        p = np.zeros(81)
        p[encode_ensemble([(ensemble_before[0] + 1) % 9, lead])] = 1.0
        return p

    def sample(self, probabilities, temperature, rng, liveliness=1.0, before=None):
        return decode_ensemble(int(np.argmax(probabilities)), 2)


# -- generation -----------------------------------------------------------------------------


def test_each_answer_is_fed_back_from_an_all_n_start():
    model = CountingModel()
    lead = [3, 3, 5, 0, 8]
    out = generate(model, lead, temperature=1.0, rng=0)
    assert model.resets == 1
    assert model.calls[0] == (3, (0, 0))  # the ensemble starts all N
    assert model.calls[1] == (3, (1, 3))  # then hears its own last answer
    assert out.dtype == np.int8 and out.shape == (5, 3)
    assert out[:, 0].tolist() == lead
    assert out[:, 1].tolist() == [1, 2, 3, 4, 5]
    assert out[:, 2].tolist() == lead


def test_generation_with_a_real_model_file(tmp_path):
    from gesture_rnn.runtime import load

    model = load(write_tiny_model(tmp_path / "m.h5", ensemble=3, seed=1))
    lead = np.random.default_rng(0).integers(0, 9, size=60)
    first = generate(model, lead, temperature=1.0, rng=7)
    assert np.array_equal(first, generate(model, lead, temperature=1.0, rng=7))  # reset, seeded
    assert not np.array_equal(first, generate(model, lead, temperature=1.0, rng=8))
    assert first[:, 0].tolist() == lead.tolist()
    assert first.min() >= 0 and first.max() < 9
    # A model that gives one state probability 0.99: at a low temperature that is all it plays
    sure = load(write_tiny_model(tmp_path / "sure.h5", ensemble=3, favour=encode_ensemble([4, 7])))
    out = generate(sure, lead, temperature=0.1, rng=0)
    assert (out[:, 1] == 4).all() and (out[:, 2] == 7).all()


def test_liveliness_0_never_changes_and_higher_changes_more(tmp_path):
    from gesture_rnn.runtime import load

    model = load(write_tiny_model(tmp_path / "m.h5", ensemble=3, seed=1))
    lead = np.random.default_rng(0).integers(0, 9, size=300)
    frozen = generate(model, lead, rng=1, liveliness=0)
    assert not frozen[:, 1:].any()  # all N from the start, never leaving it

    def changes(liveliness):
        out = generate(model, lead, rng=2, liveliness=liveliness)[:, 1:]
        return np.count_nonzero(out[1:] != out[:-1])

    assert changes(0.25) < changes(1) < changes(4)
    with pytest.raises(GenerationError, match="liveliness"):
        generate(model, lead, liveliness=-1)


def test_comparison_png_is_a_plot(tmp_path):
    pytest.importorskip("matplotlib")
    path = write_comparison_png(
        tmp_path / "c.png", PERFORMANCE, PERFORMANCE[::-1], COLUMNS, ("real", "generated")
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(GenerationError, match="does not match the columns"):
        write_comparison_png(tmp_path / "d.png", PERFORMANCE, PERFORMANCE[:, :2], COLUMNS, ("", ""))


def test_the_comparison_is_two_scores_real_above_generated_on_one_time_axis():
    pytest.importorskip("matplotlib")
    from gesture_rnn.generate import comparison_figure

    generated = PERFORMANCE.copy()
    generated[:, 1:] = 0  # the same lead, a silent ensemble
    figure = comparison_figure(PERFORMANCE, generated, COLUMNS, ("real", "generated"))
    top, bottom = figure.axes
    for axes, shown in ((top, PERFORMANCE), (bottom, generated)):
        assert [t.get_text() for t in axes.get_yticklabels()] == list(COLUMNS)  # a lane each
        assert np.array_equal(np.asarray(axes.images[0].get_array()), shown.T)
    assert top.get_xlim() == bottom.get_xlim() == (0, len(PERFORMANCE))
    assert [f._suptitle.get_text() for f in figure.subfigs] == ["real", "generated"]
    assert len(figure.legends) == 1  # one key of the nine gestures for both


def test_bad_leads_and_temperatures():
    with pytest.raises(GenerationError, match="value 9"):
        generate(CountingModel(), [1, 9])
    with pytest.raises(GenerationError, match="empty"):
        generate(CountingModel(), [])
    with pytest.raises(GenerationError, match="temperature"):
        generate(CountingModel(), [1], temperature=0)


# -- lead parts -----------------------------------------------------------------------------


def test_read_lead_csv(tmp_path):
    one = write_lead(tmp_path / "one.csv", {"alice": [1, 2, 3]})
    assert read_lead_csv(one).tolist() == [1, 2, 3]
    two = write_lead(tmp_path / "two.csv", {"alice": [1, 2, 3], "bob": [4, 5, 6]})
    assert read_lead_csv(two, "bob").tolist() == [4, 5, 6]
    with pytest.raises(GenerationError, match=r"2 players \(alice, bob\); choose one"):
        read_lead_csv(two)
    with pytest.raises(GenerationError, match="no player 'carol'; its players: alice, bob"):
        read_lead_csv(two, "carol")
    with pytest.raises(GenerationError, match="does not exist"):
        read_lead_csv(tmp_path / "missing.csv")
    bad = write_lead(tmp_path / "bad.csv", {"alice": [1, 12]})
    with pytest.raises(GenerationError, match="not a gesture code 0-8"):
        read_lead_csv(bad)
    (tmp_path / "header.csv").write_text("seconds,alice\n0,1\n")
    with pytest.raises(GenerationError, match="expected 'time' then one column per player"):
        read_lead_csv(tmp_path / "header.csv")


def test_lead_from_a_corpus_performance(tmp_path):
    gestures = np.array([[1, 2], [3, 4], [5, 6]])
    write_corpus(tmp_path, [FakePerformance("perf-A", gestures, players=["ann", "ben"])])
    assert lead_from_corpus(tmp_path, "perf-A", "ben").tolist() == [2, 4, 6]
    with pytest.raises(GenerationError, match="no performance named 'perf-a'; did you mean perf-A"):
        lead_from_corpus(tmp_path, "perf-a", "ben")
    with pytest.raises(GenerationError, match="no player 'cat'; its players: ann, ben"):
        lead_from_corpus(tmp_path, "perf-A", "cat")


# -- writers --------------------------------------------------------------------------------

PERFORMANCE = np.array([[0, 1, 2], [3, 3, 3], [8, 0, 4], [5, 5, 6]], dtype=np.int8)
COLUMNS = column_names(3)


def test_csv_loads_back_as_a_gesture_file(tmp_path):
    path = write_csv(tmp_path / "p.csv", PERFORMANCE, COLUMNS)
    gestures, players = read_gesture_file(path)
    assert players == ("lead", "player1", "player2")
    assert np.array_equal(gestures, PERFORMANCE)
    assert path.read_text().splitlines()[:2] == ["time,lead,player1,player2", "0,0,1,2"]


def test_midi_has_a_track_per_player_with_gestures_as_cc20(tmp_path):
    midi = mido.MidiFile(write_midi(tmp_path / "p.mid", PERFORMANCE, COLUMNS))
    assert midi.type == 1 and [t.name for t in midi.tracks] == list(COLUMNS)
    assert midi.length == pytest.approx(len(PERFORMANCE))  # 60 BPM: a beat a second
    for n, track in enumerate(midi.tracks):
        ticks, events = 0, []
        for message in track:
            ticks += message.time
            if message.type == "control_change":
                events.append((ticks / midi.ticks_per_beat, message.channel, message.control))
                assert message.value == PERFORMANCE[len(events) - 1, n]
        # lead on channel 1 (mido counts from 0), player n on channel n + 1
        assert events == [(t, n, 20) for t in range(len(PERFORMANCE))]
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    assert tempos == [1_000_000]


def absolute(track, ticks_per_beat):
    """(beat, message) of every channel message of a track."""
    ticks, out = 0, []
    for message in track:
        ticks += message.time
        if not message.is_meta:
            out.append((ticks / ticks_per_beat, message))
    return out


def test_midi_a_daw_plays_has_each_players_touches_notes_and_the_bridges_mapping(tmp_path):
    import corpus_index
    from bridge.config import MidiMapping
    from gesture_rnn.generate import ensemble_touches

    performance = np.array([[1, 1, 5, 0], [3, 3, 5, 0], [3, 2, 6, 0], [8, 8, 7, 0]] * 3)
    columns = column_names(4)
    touches = ensemble_touches(performance, corpus_index.open(None), 0.5, rng=1)
    path = write_midi(
        tmp_path / "p.mid", performance, columns, touches=touches, bpm=120, cc_scale="spread"
    )
    midi = mido.MidiFile(path)
    assert midi.length == pytest.approx(len(performance) * 0.5)  # a step a beat at 120 BPM
    assert [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"] == [500_000]
    mapping = MidiMapping()  # the live bridge's numbers
    for player in (1, 2, 3):
        events = absolute(midi.tracks[player], midi.ticks_per_beat)
        assert {m.channel for _, m in events} == {player}  # player n on MIDI channel n+1
        gestures = [m.value for _, m in events if m.type == "control_change" and m.control == 20]
        assert gestures == [round(g * 127 / 8) for g in performance[:, player]]
        played = [(n, row[player - 1]) for n, row in enumerate(touches) if len(row[player - 1].t)]
        downs = sum(int(np.sum(seq.velocity == 0)) for _, seq in played)
        notes = [(beat, m) for beat, m in events if m.type == "note_on"]
        assert len(notes) == downs
        if player == 3:  # always N: no touches, no notes
            assert downs == 0 and len(events) == len(performance)
            continue
        assert downs > 0
        xs = [m.value for _, m in events if m.type == "control_change" and m.control == 21]
        ys = [m.value for _, m in events if m.type == "control_change" and m.control == 22]
        assert len(xs) == len(ys) == sum(len(seq.t) for _, seq in played)
        # each note is the bridge's note for the touch's x, and within its step's beat
        first_step, first = played[0]
        first_down = int(np.argmax(first.velocity == 0))
        beat, message = notes[0]
        assert message.note == mapping.touch_note(float(first.x[first_down]))
        assert message.velocity == mapping.touch_velocity
        assert first_step <= beat < first_step + 1
        assert beat == pytest.approx(first_step + first.t[first_down] / 0.5, abs=1 / 480)
        offs = [(b, m) for b, m in events if m.type == "note_off"]
        assert len(offs) == len(notes)  # every note ends


def test_generate_command_writes_midi_at_the_tempo_and_scale_asked(tmp_path):
    model = write_tiny_model(tmp_path / "m.h5", ensemble=3, seed=2)
    lead = write_lead(tmp_path / "lead.csv", {"me": [1, 2, 3, 4, 5, 6, 7, 8]})
    out = tmp_path / "x.mid"
    args = ["generate", "--model", model, "--lead", lead, "--seed", "4", "--out-midi", out]
    result = gesture_rnn(*args, "--bpm", "120", "--cc-scale", "spread")
    assert result.returncode == 0, result.stderr
    # 8 steps of a second in the CSV, but 4 s in a MIDI file at 120 BPM: the summary says so
    assert "8 steps (8 s; the MIDI file 4.0 s at 120 BPM)" in result.stdout, result.stdout
    midi = mido.MidiFile(out)
    assert [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"] == [500_000]
    lead_cc = [m.value for m in midi.tracks[0] if m.type == "control_change"]
    assert lead_cc == [round(g * 127 / 8) for g in range(1, 9)]
    bad = gesture_rnn(*args[:-1], tmp_path / "y.mid", "--bpm", "5")
    assert bad.returncode == 2 and "20-999 BPM" in bad.stderr and not (tmp_path / "y.mid").exists()


def test_png_is_a_plot(tmp_path):
    pytest.importorskip("matplotlib")
    path = write_png(tmp_path / "p.png", PERFORMANCE, COLUMNS, title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_without_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    from gesture_rnn.extras import MissingExtraError

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r'needs matplotlib.*pip install -e "\.\[plot\]"'):
        write_png(tmp_path / "p.png", PERFORMANCE, COLUMNS)
    assert not (tmp_path / "p.png").exists()


def test_writers_never_overwrite_without_force(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("something the user made\n")
    with pytest.raises(OutputExistsError, match="already exists; use --force"):
        write_csv(path, PERFORMANCE, COLUMNS)
    with pytest.raises(OutputExistsError):
        write_midi(path, PERFORMANCE, COLUMNS)
    assert path.read_text() == "something the user made\n"
    write_csv(path, PERFORMANCE, COLUMNS, force=True)
    assert np.array_equal(read_gesture_file(path)[0], PERFORMANCE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.csv"]  # no temporary files left
    with pytest.raises(OutputError, match="does not exist"):
        write_csv(tmp_path / "no" / "p.csv", PERFORMANCE, COLUMNS)
    with pytest.raises(GenerationError, match="not a gesture code"):
        write_csv(tmp_path / "p.csv", PERFORMANCE + 1, COLUMNS)


# -- the command ----------------------------------------------------------------------------


def test_generate_command_end_to_end(tmp_path):
    model = write_tiny_model(tmp_path / "m.h5", ensemble=3, seed=2)
    lead = write_lead(tmp_path / "lead.csv", {"me": [0, 1, 1, 2, 3, 3, 3, 8, 8, 0]})
    result = gesture_rnn(
        "generate", "--model", model, "--lead", lead, "--seed", "5", "--out", tmp_path / "run"
    )
    assert result.returncode == 0, result.stderr
    assert "seed 5" in result.stdout
    gestures, players = read_gesture_file(tmp_path / "run.csv")
    assert players == ("lead", "player1", "player2")
    assert gestures[:, 0].tolist() == [0, 1, 1, 2, 3, 3, 3, 8, 8, 0]
    midi = mido.MidiFile(tmp_path / "run.mid")
    assert len(midi.tracks) == 3
    cc = [m.value for m in midi.tracks[2] if m.type == "control_change" and m.control == 20]
    assert cc == gestures[:, 2].tolist()
    assert (tmp_path / "run.png").read_bytes()[:4] == b"\x89PNG"

    # Again: refused, nothing touched; with --force and the same seed, the same performance.
    before = (tmp_path / "run.csv").read_bytes()
    again = gesture_rnn("generate", "--model", model, "--lead", lead, "--out", tmp_path / "run")
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0 and "already exists" in again.stderr
    forced = gesture_rnn(
        "generate", "--model", model, "--lead", lead, "--seed", "5", "--out-csv",
        tmp_path / "run.csv", "--force",
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "run.csv").read_bytes() == before


def test_generate_command_from_a_corpus_performance_and_bad_input(tmp_path, capsys):
    from gesture_rnn_cli import main

    model = write_tiny_model(tmp_path / "m.h5", ensemble=2, seed=3)
    gestures = np.array([[1, 2], [3, 4], [5, 6], [7, 8]])
    write_corpus(tmp_path / "corpus", [FakePerformance("perf-A", gestures, players=["ann", "ben"])])
    common = ["generate", "--model", str(model)]
    out = str(tmp_path / "x.csv")
    args = [*common, "--data", str(tmp_path / "corpus"), "--performance", "perf-A"]
    assert main([*args, "--player", "ben", "--out-csv", out, "--seed", "1"]) == 0
    assert read_gesture_file(out)[0][:, 0].tolist() == [2, 4, 6, 8]

    def error(argv, code=1) -> str:
        assert main(argv) == code
        message = capsys.readouterr().err.strip()
        assert message.startswith("gesture-rnn: error: ") and "\n" not in message
        return message

    new = str(tmp_path / "new.csv")
    assert "choose one with --player" in error([*args, "--out-csv", new])
    assert "no player 'zed'" in error([*args, "--player", "zed", "--out-csv", new])
    assert "did you mean perf-A" in error(
        [*common, "--data", str(tmp_path / "corpus"), "--performance", "perf-a", "--player",
         "ann", "--out-csv", new]
    )  # fmt: skip
    bad = write_lead(tmp_path / "bad.csv", {"me": [1, 9]})
    assert "not a gesture code 0-8" in error([*common, "--lead", str(bad), "--out-csv", new], 2)
    assert "does not exist" in error(
        [*common, "--lead", str(tmp_path / "nope.csv"), "--out-csv", new], 2
    )
    assert "--out PREFIX" in error([*common, "--lead", str(bad)])
    good = write_lead(tmp_path / "good.csv", {"me": [1, 2]})
    assert "model file" in error(
        ["generate", "--model", str(tmp_path / "nope.h5"), "--lead", str(good), "--out-csv", new],
        2,
    )
    (tmp_path / "junk.h5").write_text("not a model")
    assert "junk.h5" in error(
        ["generate", "--model", str(tmp_path / "junk.h5"), "--lead", str(good), "--out-csv", new],
        2,
    )
    assert not Path(new).exists()
    with pytest.raises(SystemExit) as exit:
        main([*common, "--lead", str(bad), "--temperature", "0", "--out-csv", new])
    assert exit.value.code == 2
    assert "temperature in 0.05-5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*common, "--lead", str(good), "--liveliness", "11", "--out-csv", new])
    assert "a liveliness in 0-10" in capsys.readouterr().err
    assert main([*common, "--lead", str(good), "--liveliness", "0", "--out-csv", new]) == 0
    assert read_gesture_file(new)[0][:, 1].tolist() == [0, 0]


def test_lead_from_the_single_file_corpus(tmp_path):
    pytest.importorskip("tables")  # pandas needs PyTables to write the made-up file
    from gesture_rnn.corpus import EVERYTHING, load_corpus
    from tests.test_corpus_h5 import made_up_rows, write_h5

    path = write_h5(tmp_path / "corpus.h5", made_up_rows())
    duet = next(p for p in load_corpus(path, EVERYTHING) if p.name == "duet-composed")
    lead = lead_from_corpus(path, "duet-composed", duet.players[1])
    assert lead.tolist() == duet.gestures[:, 1].tolist()
    with pytest.raises(GenerationError, match="did you mean duet-composed"):
        lead_from_corpus(path, "duet-compose", duet.players[1])
