import subprocess
import sys
from itertools import permutations

import numpy as np
import pytest

from gesture_rnn.corpus import Performance, load_corpus
from gesture_rnn.prepare import (
    PrepareError,
    build_sequences,
    orderings,
    player_subsets,
    selection_for,
)


def encode(gestures) -> int:
    code = 0
    for i, g in enumerate(gestures):
        code += g * 9**i
    return code


def reference_windows(performances, steps, framing):
    """The plain nested loop: performance, window start, lead, orderings of the others."""
    xs, ys = [], []
    for perf in performances:
        g = perf.gestures.tolist()  # plain ints keep the loop simple and quick
        players = len(g[0])
        for s in range(len(g) - steps - 1):
            for lead in range(players):
                others = [p for p in range(players) if p != lead]
                for order in permutations(others):
                    x = [
                        encode([g[s + k + 1][lead]] + [g[s + k][o] for o in order])
                        for k in range(steps)
                    ]
                    if framing == "last":
                        y = encode([g[s + steps][o] for o in order])
                    else:
                        y = [encode([g[s + k + 1][o] for o in order]) for k in range(steps)]
                    xs.append(x)
                    ys.append(y)
    return np.array(xs, dtype=np.int16), np.array(ys, dtype=np.int16)


def fake(name, seconds, players, seed):
    rng = np.random.default_rng(seed)
    return Performance(name, rng.integers(0, 9, (seconds, players)).astype(np.int8), ())


@pytest.mark.parametrize("framing", ["last", "all"])
def test_quartet_windows_match_the_nested_loop(framing):
    performances = [fake("a", 23, 4, 1), fake("b", 9, 4, 2), fake("c", 17, 4, 3)]
    X, y = build_sequences(performances, ensemble=4, steps=6).arrays(framing)
    X_ref, y_ref = reference_windows(performances, 6, framing)
    assert X.dtype == np.int16 and y.dtype == np.int16
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_duets_and_trios_use_every_ordered_choice_of_players():
    perf = fake("five", 12, 5, 4)
    for ensemble, count in ((2, 20), (3, 60), (4, 120)):
        seqs = build_sequences([perf], ensemble=ensemble, steps=3)
        assert seqs.num_sequences == count == len(orderings(5, ensemble))
        assert len(seqs) == count * (12 - 3 - 1)
    seqs = build_sequences([perf], ensemble=2, steps=3)
    g = perf.gestures.astype(int)
    x, y = seqs.sequence(1)  # lead 0, other 2
    assert tuple(seqs.sequence_order[1]) == (0, 2)
    assert x[0] == g[1, 0] + 9 * g[0, 2] and y[0] == g[1, 2]
    assert len(x) == 11


def test_last_framing_is_the_last_target_of_every_window():
    performances = [fake("a", 40, 4, 5), fake("b", 31, 4, 6)]
    seqs = build_sequences(performances, ensemble=4, steps=8)
    X, Y = seqs.arrays("all")
    X_last, y_last = seqs.arrays("last")
    np.testing.assert_array_equal(X_last, X)
    np.testing.assert_array_equal(y_last, Y[:, -1])
    assert len(seqs) == len(X) == len(seqs.window_performance)


def test_subset_keeps_whole_performances_apart():
    performances = [fake("a", 30, 4, 7), fake("b", 25, 4, 8), fake("c", 20, 4, 9)]
    seqs = build_sequences(performances, ensemble=4, steps=5)
    X, Y = seqs.arrays("all")
    part = seqs.subset(["b"])
    assert set(part.window_performance) == {1}
    assert part.num_sequences == 24 and len(part) == 24 * (25 - 5 - 1)
    Xp, Yp = part.arrays("all")
    np.testing.assert_array_equal(Xp, X[seqs.window_performance == 1])
    np.testing.assert_array_equal(Yp, Y[seqs.window_performance == 1])


def test_subset_caps_the_orderings_of_a_large_performance_seeded():
    # A trio of a nine-player performance has P(9, 3) = 504 orderings, a trio performance 6.
    performances = [fake("nine", 12, 9, 1), fake("three", 12, 3, 2)]
    seqs = build_sequences(performances, ensemble=3, steps=4)
    capped = seqs.subset(["nine", "three"], 60, np.random.default_rng(5))
    counts = np.bincount(capped.sequence_performance, minlength=2)
    assert counts.tolist() == [60, 6]  # the small one keeps all its orderings
    again = seqs.subset(["nine", "three"], 60, np.random.default_rng(5))
    np.testing.assert_array_equal(capped.sequence_order, again.sequence_order)
    assert len({tuple(o) for o in capped.sequence_order[:60]}) == 60  # distinct orderings

    # Each kept sequence is the whole ordering it was, inputs and targets together.
    def key(sequences, j):
        return sequences.sequence_performance[j], tuple(sequences.sequence_order[j])

    whole = {key(seqs, j): seqs.sequence(j) for j in range(seqs.num_sequences)}
    for j in range(capped.num_sequences):
        x, y = capped.sequence(j)
        np.testing.assert_array_equal(x, whole[key(capped, j)][0])
        np.testing.assert_array_equal(y, whole[key(capped, j)][1])
    with pytest.raises(ValueError, match="rng"):
        seqs.subset(["nine"], 60)


def test_player_subsets_take_distinct_columns_seeded_and_capped():
    nine = Performance("nine", np.arange(9 * 6, dtype=np.int8).reshape(6, 9) % 9,
                       tuple(f"p{i}" for i in range(9)))  # fmt: skip
    subsets = player_subsets(nine, 4, 5, np.random.default_rng(3))
    assert len(subsets) == 5 and len({s.name for s in subsets}) == 5
    for s in subsets:
        columns = [int(c) for c in s.name.split(" players ")[1].split(",")]
        assert len(set(columns)) == 4 and columns == sorted(columns)
        np.testing.assert_array_equal(s.gestures, nine.gestures[:, columns])
        assert s.players == tuple(f"p{c}" for c in columns)
    again = player_subsets(nine, 4, 5, np.random.default_rng(3))
    assert [s.name for s in again] == [s.name for s in subsets]
    # A quintet has only C(5, 4) = 5 subsets, however many are asked for.
    five = fake("five", 10, 5, 1)
    assert len(player_subsets(five, 4, 50, np.random.default_rng(0))) == 5
    assert player_subsets(fake("duet", 10, 2, 1), 4, 5, np.random.default_rng(0)) == []


def test_bad_arguments():
    with pytest.raises(PrepareError, match="ensemble size"):
        build_sequences([fake("a", 10, 4, 0)], ensemble=5)
    with pytest.raises(PrepareError, match="framing"):
        build_sequences([fake("a", 10, 4, 0)], ensemble=4, steps=2).arrays("middle")
    with pytest.raises(PrepareError, match="no performance has 4"):
        build_sequences([fake("a", 10, 2, 0)], ensemble=4)


def test_shared_quartets_steps_30_last_match_the_nested_loop(corpus_dir, tmp_path):
    out = tmp_path / "x.npz"
    subprocess.run(
        [sys.executable, "-m", "gesture_rnn", "prepare", "--data", str(corpus_dir),
         "--ensemble", "4", "--steps", "30", "--framing", "last", "--out", str(out)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    with np.load(out, allow_pickle=False) as data:
        X, y = data["X"], data["y"]
    assert X.shape == (375_120, 30) and y.shape == (375_120,)
    X_ref, y_ref = reference_windows(load_corpus(corpus_dir, selection_for(4)), 30, "last")
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
