"""Evaluation figures on tiny hand-made cases, the baselines, and ``gesture-rnn evaluate``."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from gesture_rnn.corpus import Performance, Selection
from gesture_rnn.evaluate import (
    EvaluationError,
    MarkovBaseline,
    count_steps,
    evaluate_model,
    persistence_baseline,
)
from gesture_rnn.gestures import NUM_GESTURES, decode_ensemble, encode_ensemble
from gesture_rnn.prepare import build_sequences
from tests.models import edit_model_file
from tests.synthetic import FakePerformance, write_corpus
from tests.test_generate import gesture_rnn, write_tiny_model


def performance(columns, name="toy") -> Performance:
    """A performance from one list of gestures per player."""
    gestures = np.array(columns, dtype=np.int8).T
    return Performance(name, gestures, tuple(f"p{i}" for i in range(gestures.shape[1])))


# Two players, four seconds. Orderings (lead, other): (p0, p1) and (p1, p0).
# (last other state, next other state) at t = 1..3:
#   lead p0: (0,0) (0,1) (1,1)      lead p1: (0,1) (1,2) (2,1)
DUET = performance([[0, 1, 2, 1], [0, 0, 1, 1]])


class FixedModel:
    """A model-like object: probability ``p`` on one state, the rest spread evenly.

    It records every batch of input codes and how often it was reset, so tests can
    check that evaluation feeds it exactly the training inputs.
    """

    def __init__(self, ensemble: int, state, p: float):
        self.ensemble = ensemble
        self.states = NUM_GESTURES ** (ensemble - 1)
        self.state, self.p = state, p
        self.calls: list[np.ndarray] = []
        self.resets: list[int] = []

    def initial_state(self, batch):
        self.resets.append(batch)
        return 0

    def step_codes(self, codes, state):
        self.calls.append(np.array(codes))
        probabilities = np.full((len(codes), self.states), (1 - self.p) / (self.states - 1))
        target = self.state(codes) if callable(self.state) else np.full(len(codes), self.state)
        probabilities[np.arange(len(codes)), target] = self.p
        return probabilities, state + 1


def test_persistence_on_a_duet_by_hand():
    figures = persistence_baseline([DUET], ensemble=2)
    # 6 steps, the state stays on 2 of them: eps = 4/6, others get eps / 8 = 1/12 each
    assert figures["accuracy"] == pytest.approx(2 / 6)
    assert figures["per_player_accuracy"] == [pytest.approx(2 / 6)]
    assert figures["epsilon"] == pytest.approx(4 / 6)
    assert figures["nll"] == pytest.approx((2 * math.log(3) + 4 * math.log(12)) / 6)
    assert figures["perplexity"] == pytest.approx(math.exp(figures["nll"]))


def test_persistence_with_a_given_epsilon():
    figures = persistence_baseline([DUET], ensemble=2, epsilon=0.2)
    assert figures["nll"] == pytest.approx((-2 * math.log(0.8) - 4 * math.log(0.2 / 8)) / 6)
    assert figures["epsilon"] == 0.2


def test_markov_on_a_duet_by_hand():
    markov = MarkovBaseline.fit([DUET], ensemble=2, alpha=1.0)
    assert markov.transitions == 6
    assert markov.counts[0, 0] == 1 and markov.counts[0, 1] == 2 and markov.counts[2, 1] == 1
    # add-1 over 9 states: row 0 has 3 counts (/12), row 1 has 2 (/11), row 2 has 1 (/10)
    expected = -(math.log(2 / 12) + 2 * math.log(3 / 12) + 2 * math.log(2 / 11) + math.log(2 / 10))
    figures = markov.evaluate([DUET])
    assert figures["nll"] == pytest.approx(expected / 6)
    # most likely next state: 1 after 0, 1 after 1 (a tie with 2: the lower), 1 after 2
    assert figures["accuracy"] == pytest.approx(4 / 6)
    assert figures["alpha"] == 1.0 and figures["fitted_transitions"] == 6
    rows = markov.probabilities(np.array([0, 5]))
    assert rows.shape == (2, 9) and np.allclose(rows.sum(axis=1), 1)
    assert np.allclose(rows[1], 1 / 9)  # never seen: uniform


def test_markov_matches_a_plain_count_on_random_trios():
    rng = np.random.default_rng(3)
    fit_on = [performance(rng.integers(0, 3, size=(3, 30)), f"f{i}") for i in range(3)]
    held_out = [performance(rng.integers(0, 3, size=(4, 20)), "h")]  # 4 players: 24 orderings
    markov = MarkovBaseline.fit(fit_on, ensemble=3, alpha=0.5)
    counts: Counter = Counter()
    rows: Counter = Counter()
    for p in fit_on:
        g = p.gestures
        for _lead, a, b in [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]:
            for t in range(1, len(g)):
                last = g[t - 1, a] + 9 * g[t - 1, b]
                counts[last, g[t, a] + 9 * g[t, b]] += 1
                rows[last] += 1
    total = 0.0
    steps = 0
    g = held_out[0].gestures
    for a in range(4):
        for b in range(4):
            for lead in range(4):
                if len({a, b, lead}) < 3:
                    continue
                for t in range(1, len(g)):
                    last, nxt = g[t - 1, a] + 9 * g[t - 1, b], g[t, a] + 9 * g[t, b]
                    total -= math.log((counts[last, nxt] + 0.5) / (rows[last] + 0.5 * 81))
                    steps += 1
    assert steps == count_steps(held_out, 3) == 24 * 19
    assert markov.evaluate(held_out)["nll"] == pytest.approx(total / steps)


def test_model_figures_and_per_player_accuracy_on_a_trio_by_hand():
    # Seconds 1 and 2 of three players: (1, 0, 1) then (0, 0, 2).
    trio = performance([[5, 1, 0], [5, 0, 0], [5, 1, 2]])
    # The model always says: player1 plays 1, player2 plays 0 (state 1), probability 1/2.
    model = FixedModel(3, encode_ensemble([1, 0]), 0.5)
    figures = evaluate_model(model, [trio])
    # 6 orderings x 2 steps. Joint hits: second 1, others (p0, p1) or (p2, p1): 2 of 12.
    assert figures["accuracy"] == pytest.approx(2 / 12)
    # player1 = 1: second 1, 4 of 6 orderings; player2 = 0: 2 of 6, then 4 of 6
    assert figures["per_player_accuracy"] == [pytest.approx(4 / 12), pytest.approx(6 / 12)]
    assert figures["nll"] == pytest.approx((2 * math.log(2) + 10 * math.log(160)) / 12)


def test_predicted_changes_on_a_duet_by_hand():
    # The model always says state 1. (last, next) per step, lead p0: (0,0) (0,1) (1,1);
    # lead p1: (0,1) (1,2) (2,1). It predicts a change where last != 1: four steps, on
    # which it is right three times ((0,1), (0,1), (2,1)) and persistence once ((0,0)).
    figures = evaluate_model(FixedModel(2, 1, 0.9), [DUET])
    assert figures["predicted_changes"] == {
        "fraction": pytest.approx(4 / 6),
        "accuracy": pytest.approx(3 / 4),
        "persistence_accuracy": pytest.approx(1 / 4),
    }
    never = evaluate_model(FixedModel(2, lambda codes: codes // NUM_GESTURES, 0.9), [DUET])
    assert never["predicted_changes"] == {
        "fraction": 0.0,
        "accuracy": None,
        "persistence_accuracy": None,
    }


def test_evaluation_feeds_the_training_inputs_one_batch_per_performance():
    rng = np.random.default_rng(0)
    performances = [
        performance(rng.integers(0, 9, size=(3, 12)), "a"),
        performance(rng.integers(0, 9, size=(3, 7)), "b"),
    ]
    # Probability 0.9 on whatever the lead plays now: NLL is easy to recount by hand.
    model = FixedModel(2, lambda codes: codes % 9, 0.9)
    figures = evaluate_model(model, performances)
    assert model.resets == [6, 6]  # a zero state per performance, all 3 x 2 orderings at once
    sequences = build_sequences(performances, ensemble=2, steps=1)
    fed_a, fed_b = np.stack(model.calls[:11], axis=1), np.stack(model.calls[11:], axis=1)
    assert np.array_equal(fed_a, np.stack([sequences.sequence(j)[0] for j in range(6)]))
    assert np.array_equal(fed_b, np.stack([sequences.sequence(j)[0] for j in range(6, 12)]))
    hits = sum(int(np.sum(x % 9 == y)) for x, y in (sequences.sequence(j) for j in range(12)))
    steps = count_steps(performances, 2)
    assert steps == 6 * 11 + 6 * 6
    assert figures["accuracy"] == pytest.approx(hits / steps)
    assert figures["nll"] == pytest.approx(
        (hits * -math.log(0.9) + (steps - hits) * -math.log(0.1 / 8)) / steps
    )


def test_a_zero_probability_gives_a_finite_nll():
    model = FixedModel(2, 8, 1.0)  # every other state gets probability 0
    figures = evaluate_model(model, [DUET])
    assert figures["accuracy"] == 0 and math.isfinite(figures["nll"])


def test_bad_inputs_are_clear_errors():
    with pytest.raises(EvaluationError, match="fewer than an ensemble of 3"):
        persistence_baseline([DUET], ensemble=3)
    with pytest.raises(EvaluationError, match="no performances"):
        evaluate_model(FixedModel(2, 0, 0.5), [])
    with pytest.raises(EvaluationError, match="no steps"):
        persistence_baseline([performance([[1], [2]])], ensemble=2)
    with pytest.raises(EvaluationError, match="alpha"):
        MarkovBaseline.fit([DUET], ensemble=2, alpha=0)
    with pytest.raises(EvaluationError, match="epsilon"):
        persistence_baseline([DUET], ensemble=2, epsilon=1.0)


# -- with real model files (numpy runtime; the files are written without TensorFlow) --------


def test_a_model_file_with_a_constant_answer_by_hand(tmp_path):
    from gesture_rnn.runtime import load

    # The LSTM is all zeros, so every step gives state 1 probability 0.99, the rest 0.01/8.
    model = load(write_tiny_model(tmp_path / "m.h5", ensemble=2, favour=1))
    figures = evaluate_model(model, [DUET])
    # targets: 0 1 1 (lead p0), 1 2 1 (lead p1): 4 hits of 6
    assert figures["accuracy"] == pytest.approx(4 / 6)
    expected = (-4 * math.log(0.99) - 2 * math.log(0.01 / 8)) / 6
    assert figures["nll"] == pytest.approx(expected, rel=1e-5)


def test_batched_evaluation_equals_stepping_each_ordering_alone(tmp_path):
    from gesture_rnn.runtime import load

    model = load(write_tiny_model(tmp_path / "m.h5", ensemble=3, seed=4))
    rng = np.random.default_rng(1)
    performances = [performance(rng.integers(0, 9, size=(4, 15)), "q")]  # 24 orderings
    total, steps = 0.0, 0
    for x, y in (build_sequences(performances, 3, 1).sequence(j) for j in range(24)):
        model.reset()
        for code, target in zip(x, y, strict=True):
            lead, before = int(code) % 9, decode_ensemble(int(code) // 9, 2)
            total -= math.log(model.step(lead, before)[target])
            steps += 1
    assert evaluate_model(model, performances)["nll"] == pytest.approx(total / steps, rel=1e-5)


def trio_corpus(root, seed: int = 0):
    """Trios (two of them a demonstration or a composition, left out) and quartets."""
    rng = np.random.default_rng(seed)

    def fake(name, players, seconds, **kw):
        return FakePerformance(name, rng.integers(0, 3, size=(seconds, players)), **kw)

    return write_corpus(
        root,
        [
            fake("t1", 3, 20),
            fake("t2", 3, 12),
            fake("t3", 3, 9),
            fake("t-demo", 3, 10, context="demonstration"),
            fake("t-comp", 3, 10, type="composition"),
            fake("q1", 4, 11),
            fake("q2", 4, 8),
        ],
    )


SPLIT = {"train": ["t1", "q1"], "validation": ["t2"], "test": ["t3", "q2"]}


def test_evaluate_command_end_to_end(tmp_path):
    from gesture_rnn.corpus import load_corpus
    from gesture_rnn.runtime import load

    corpus = trio_corpus(tmp_path / "corpus")
    model_file = write_tiny_model(tmp_path / "m.h5", ensemble=3, seed=5, split=SPLIT)
    result = gesture_rnn("evaluate", "--model", model_file, "--data", corpus, "--baseline-split")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {
        "model", "persistence", "markov", "performances", "steps", "ensemble", "split",
        "model_file",
    }  # fmt: skip
    # 3 players or more, improvisations, not demonstrations: t1 t2 t3 (6 orderings each),
    # and the quartets q1 q2 through their trios (24 orderings each), as training took them
    assert report["performances"] == 5 and report["ensemble"] == 3 and report["split"] == "all"
    assert report["steps"] == 6 * (19 + 11 + 8) + 24 * (10 + 7)
    trios = load_corpus(corpus, Selection(min_performers=3))
    assert [p.name for p in trios] == ["t1", "t2", "t3", "q1", "q2"]
    assert report["model"] == evaluate_model(load(model_file), trios)
    assert report["persistence"] == persistence_baseline(trios, 3)
    # the Markov baseline learns from the train split as training did: t1, and q1 (4 >= 3)
    train = load_corpus(corpus, Selection(min_performers=3))
    train = [p for p in train if p.name in SPLIT["train"]]
    markov = MarkovBaseline.fit(train, 3).evaluate(trios)
    assert report["markov"]["fitted_performances"] == 2
    assert report["markov"]["fitted_transitions"] == 6 * 19 + 24 * 10
    assert report["markov"]["nll"] == pytest.approx(markov["nll"])
    assert len(report["model"]["per_player_accuracy"]) == 2


def test_evaluate_command_splits_and_bad_input(tmp_path, capsys):
    from gesture_rnn_cli import main

    corpus = trio_corpus(tmp_path / "corpus")
    other = trio_corpus(tmp_path / "other", seed=1)
    model = str(write_tiny_model(tmp_path / "m.h5", ensemble=3, seed=5, split=SPLIT))

    def run(*argv) -> dict:
        assert main(["evaluate", "--model", model, "--data", str(corpus), *argv]) == 0
        return json.loads(capsys.readouterr().out)

    test = run("--split", "test", "--baseline-train", str(other))
    # t3, and q2 through every ordered choice of 3 of its 4 players
    assert test["performances"] == 2 and test["steps"] == 6 * 8 + 24 * 7
    assert test["split"] == "test" and test["markov"]["fitted_performances"] == 5
    assert "markov" not in run("--split", "validation")

    def error(*argv, model=model, data=corpus, code=1) -> str:
        assert main(["evaluate", "--model", str(model), "--data", str(data), *argv]) == code
        message = capsys.readouterr().err.strip()
        assert message.startswith("gesture-rnn: error: ") and "\n" not in message
        return message

    quartet = write_tiny_model(tmp_path / "q.h5", ensemble=4)
    duets = write_corpus(tmp_path / "duets", [FakePerformance("d", np.zeros((5, 2), int))])
    assert "model is for an ensemble of 4 players" in error(model=quartet, data=duets)
    assert "the Markov baseline's data" in error("--baseline-train", str(duets))
    assert "records no test split" in error("--split", "test", model=quartet)
    assert "records no train split" in error("--baseline-split", model=quartet)
    elsewhere = write_tiny_model(tmp_path / "e.h5", ensemble=3, split={"test": ["x", "y"]})
    assert "none of the 2 performances" in error("--split", "test", model=elsewhere)
    assert "does not exist" in error(data=tmp_path / "nowhere", code=2)  # bad input too
    assert "does not exist" in error(model=tmp_path / "nope.h5", code=2)  # a bad input file
    with pytest.raises(SystemExit) as exit:
        main(["evaluate", "--data", str(corpus), "--baseline-split", "--baseline-train", "x"])
    assert exit.value.code == 2


def test_evaluate_on_the_single_file_corpus(tmp_path, capsys):
    pytest.importorskip("tables")  # pandas needs PyTables to write the made-up file
    from gesture_rnn_cli import main
    from tests.test_corpus_h5 import made_up_rows, write_h5

    path = write_h5(tmp_path / "corpus.h5", made_up_rows())
    model = write_tiny_model(tmp_path / "m.h5", ensemble=4)
    assert main(["evaluate", "--model", str(model), "--data", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    # quartet-study only: the other quartet is a demonstration
    assert report["performances"] == 1 and report["steps"] == 24 * 29


def test_evaluate_realism_report_and_plot(tmp_path, capsys):
    from gesture_rnn_cli import main

    corpus = trio_corpus(tmp_path / "corpus")
    model = str(write_tiny_model(tmp_path / "m.h5", ensemble=3, seed=5, split=SPLIT))
    png = tmp_path / "vs.png"
    argv = ["evaluate", "--model", model, "--data", str(corpus), "--split", "test", "--realism"]
    assert main([*argv, "--seeds", "2", "--liveliness", "0", "--out-png", str(png)]) == 0
    report = json.loads(capsys.readouterr().out)
    realism = report["realism"]
    assert realism["liveliness"] == 0 and realism["seeds"] == 2 and realism["performances"] == 2
    # t3: 3 leads x 2 seeds x 2 others; q2: 4 leads x 2 seeds x 2 others. Frozen: all N.
    assert realism["model"]["parts"] == 12 + 16
    assert realism["model"]["flux"]["mean"] == 0 and realism["model"]["histogram"][0] == 1
    assert realism["real"]["parts"] == 3 + 4
    assert set(realism["model"]["distance"]) == {"flux", "entropy", "histogram"}
    # the Markov chain and the natural spread come from the train split, t1 and q1
    assert realism["markov"]["fitted_performances"] == 2
    assert realism["natural_spread"]["performances"] == 2
    assert realism["natural_spread"]["parts"] == 3 + 4
    assert realism["plot"] == str(png) and png.read_bytes()[:4] == b"\x89PNG"
    # the plot is never overwritten unless asked; and it needs --realism
    assert main([*argv, "--out-png", str(png)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(argv[:-1] + ["--out-png", str(tmp_path / "x.png")]) == 1
    assert "--out-png goes with --realism" in capsys.readouterr().err
    assert main(argv[:-1] + ["--liveliness", "2"]) == 1
    assert "--liveliness goes with --realism" in capsys.readouterr().err


def test_evaluate_never_writes_nan_or_infinity_into_its_json(tmp_path, capsys):
    """Python's json wrote NaN and Infinity, which no JSON parser reads. A model whose
    weights could overflow is refused at load (exit 2, no JSON at all); any figure that
    is still not finite is written as null, with the reason beside it."""
    from gesture_rnn.cli.evaluate_generate import finite_json
    from gesture_rnn_cli import main

    corpus = trio_corpus(tmp_path / "corpus")
    model = write_tiny_model(tmp_path / "m.h5", ensemble=3)
    edit_model_file(model, lambda w: w["lstm_0/recurrent_kernel"].__setitem__((0, 0), 3e38))
    assert main(["evaluate", "--model", str(model), "--data", str(corpus)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "m.h5" in err and "too large" in err

    text = finite_json({"model": {"nll": math.inf, "accuracy": 0.5}, "xs": [math.nan, 1.0]})
    report = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert report["model"] == {"nll": None, "accuracy": 0.5} and report["xs"] == [None, 1.0]
    assert report["not_finite"] == [
        "model.nll is inf, which JSON cannot hold",
        "xs[0] is nan, which JSON cannot hold",
    ]
