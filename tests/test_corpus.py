import logging

import numpy as np
import pytest

from gesture_rnn.corpus import (
    EVERYTHING,
    CorpusError,
    Selection,
    load_corpus,
    read_gesture_file,
    read_metadata,
    split_performances,
    summarize,
    touch_file,
)
from tests.synthetic import random_performance, write_corpus


@pytest.fixture
def small_corpus(tmp_path):
    performances = [
        random_performance("quartet-a", 40, 4, seed=1),
        random_performance("trio-b", 30, 3, seed=2, gzip_touches=False),
        random_performance("quartet-demo", 20, 4, seed=3, context="demonstration"),
        random_performance("duet-comp", 25, 2, seed=4, type="composition", touches=False),
    ]
    write_corpus(tmp_path, performances, listed_only=["quartet-missing"])
    return tmp_path, {p.name: p for p in performances}


def test_default_selection_is_improvisations_that_are_not_demonstrations(small_corpus, caplog):
    root, made = small_corpus
    with caplog.at_level(logging.DEBUG, logger="gesture_rnn"):  # whatever the CLI set
        loaded = load_corpus(root)
    assert [p.name for p in loaded] == ["quartet-a", "trio-b"]
    # listed but no files: skipped, one warning with the count, the name at debug level
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "1 performance listed in the metadata has no gesture file: skipped (-v names them)"
    ]
    assert "quartet-missing" in caplog.text
    quartet = loaded[0]
    assert quartet.gestures.dtype == np.int8
    np.testing.assert_array_equal(quartet.gestures, made["quartet-a"].gestures)
    assert quartet.players == ("p0", "p1", "p2", "p3")
    assert (quartet.seconds, quartet.num_players) == (40, 4)
    assert quartet.context == "rehearsal" and quartet.type == "improvisation"


def test_select_by_performers_type_and_context(small_corpus):
    root, _ = small_corpus
    assert [p.name for p in load_corpus(root, Selection(performers=4))] == ["quartet-a"]
    everything = [p.name for p in load_corpus(root, EVERYTHING)]
    assert everything == ["quartet-a", "trio-b", "quartet-demo", "duet-comp"]
    demos = load_corpus(root, Selection(contexts=("demonstration",), exclude_contexts=()))
    assert [p.name for p in demos] == ["quartet-demo"]
    at_least_3 = load_corpus(root, Selection(min_performers=3, types=None, exclude_contexts=()))
    assert [p.name for p in at_least_3] == ["quartet-a", "trio-b", "quartet-demo"]


def test_empty_selection_names_the_filter(small_corpus):
    root, _ = small_corpus
    with pytest.raises(CorpusError, match="exactly 7 performers"):
        load_corpus(root, Selection(performers=7))
    with pytest.raises(CorpusError, match="type study"):
        load_corpus(root, Selection(types=("study",)))


def test_selection_whose_files_are_all_missing_is_an_error(tmp_path):
    write_corpus(tmp_path, [], listed_only=["gone-1", "gone-2"])
    with pytest.raises(CorpusError, match="none of the 2 performances"):
        load_corpus(tmp_path)


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary", "not a CSV"),
        (b"when,a,b\n2020,1,2\n", "wrong columns"),
        (b"time,a,b\n2020,1,9\n", "not a gesture code"),
        (b"time,a,b\n2020,1,x\n", "non-numeric"),
        (b"time,a,b\n2020,1,\n", "non-numeric"),
        (b"time,a,b\n2020,1,2.5\n", "not a gesture code"),
        (b"time,a,b\n", "no rows"),
        (b"", "is empty"),
    ],
)
def test_damaged_gesture_file_is_skipped_with_a_warning(tmp_path, caplog, content, problem):
    good = random_performance("good", 10, 2, seed=5)
    bad = random_performance("bad", 10, 2, seed=6)
    write_corpus(tmp_path, [bad, good])
    (tmp_path / "data" / "bad-touches-posthoc-gestures.csv").write_bytes(content)
    with caplog.at_level(logging.WARNING):
        loaded = load_corpus(tmp_path)
    assert [p.name for p in loaded] == ["good"]
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "bad-touches-posthoc-gestures.csv" in warning and problem in warning


def test_player_count_disagreeing_with_metadata_is_skipped(tmp_path, caplog):
    write_corpus(tmp_path, [random_performance("a", 10, 3), random_performance("b", 10, 2)])
    path = tmp_path / "data" / "a-touches-posthoc-gestures.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines))
    with caplog.at_level(logging.WARNING):
        assert [p.name for p in load_corpus(tmp_path)] == ["b"]
    assert "metadata says 3 performers" in caplog.text


def test_not_a_corpus_folder(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        read_metadata(tmp_path / "nowhere")
    with pytest.raises(CorpusError, match="corpus download"):
        read_metadata(tmp_path)
    (tmp_path / "metadata").mkdir()
    (tmp_path / "metadata" / "metatone-performance-information.csv").write_text("a,b\n1,2\n")
    with pytest.raises(CorpusError, match="lacks the column"):
        read_metadata(tmp_path)


def test_touch_files_plain_or_gzipped(small_corpus):
    root, _ = small_corpus
    assert touch_file(root, "quartet-a").name.endswith(".csv.gz")
    assert touch_file(root, "trio-b").name.endswith("-touches.csv")
    assert touch_file(root, "duet-comp") is None


def test_summary_counts(small_corpus):
    root, made = small_corpus
    summary = summarize(load_corpus(root, EVERYTHING))
    assert summary["performances"] == 4
    assert summary["by_ensemble_size"] == {"2": 1, "3": 1, "4": 2}
    assert summary["by_context"]["demonstration"] == 1
    assert summary["seconds"] == 40 + 30 + 20 + 25
    expected = np.bincount(np.concatenate([p.gestures.ravel() for p in made.values()]), minlength=9)
    assert list(summary["gestures"].values()) == expected.tolist()


def test_shared_corpus_quartets(corpus_dir):
    quartets = load_corpus(corpus_dir, Selection(performers=4))
    assert len(quartets) == 29
    for p in quartets:
        assert p.gestures.dtype == np.int8 and p.gestures.shape[1] == 4
        assert p.gestures.min() >= 0 and p.gestures.max() <= 8
        assert p.type == "improvisation" and p.context != "demonstration"


def test_read_gesture_file_of_shared_corpus(corpus_dir):
    path = next((corpus_dir / "data").glob("*-touches-posthoc-gestures.csv"))
    gestures, players = read_gesture_file(path)
    assert gestures.ndim == 2 and len(players) == gestures.shape[1]


# -- the split of whole performances (model training and the touch classifier) --------------


def test_split_is_seeded_disjoint_and_complete():
    names = [f"perf{i}" for i in range(20)]
    split = split_performances(names, seed=3, test=0.15, validation=0.15)
    assert split == split_performances(names, seed=3, test=0.15, validation=0.15)
    assert split != split_performances(names, seed=4, test=0.15, validation=0.15)
    sides = [set(split[s]) for s in ("train", "validation", "test")]
    assert sum(map(len, sides)) == 20 and set().union(*sides) == set(names)
    assert len(split["test"]) == 3 and len(split["validation"]) == 3


def test_split_without_validation_holds_out_the_same_test_side():
    names = [f"perf{i}" for i in range(10)]
    held_out = split_performances(names, seed=4, test=0.2)
    assert held_out["validation"] == [] and len(held_out["test"]) == 2
    assert sorted(held_out["train"] + held_out["test"]) == sorted(names)
    # Asking for a validation side too takes it from the training side, never the test side.
    assert split_performances(names, seed=4, test=0.2, validation=0.2)["test"] == held_out["test"]


def test_split_of_too_few_performances_says_how_many_are_needed():
    with pytest.raises(CorpusError, match="at least 3 are needed"):
        split_performances(["a", "b"], seed=0, test=0.15, validation=0.15)
    with pytest.raises(CorpusError, match="at least 2 are needed"):
        split_performances(["a"], seed=0, test=0.2)
    with pytest.raises(ValueError, match="test must be in"):
        split_performances(["a", "b"], seed=0, test=1.0)
