"""The touch classifier: features by hand, the bundled file, file errors, training.

Every touch here is made up; no corpus rows.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict

import h5py
import numpy as np
import pytest

from gesture_rnn import touch_classifier
from gesture_rnn.touch_classifier import TouchClassifierError
from gesture_rnn.touch_features import FEATURE_NAMES, features_at, window_features
from gesture_rnn.touch_training import (
    TrainConfig,
    corpus_examples,
    evaluate,
    fit,
)
from gesture_rnn_cli import main
from tests.synthetic import FakePerformance, write_corpus

# -- features ----------------------------------------------------------------------------


def test_empty_window_has_centroid_minus_one_and_zeros():
    assert window_features([], [], []).tolist() == [0, 0, 0, -1, -1, 0, 0, 0]


def test_one_event_has_no_spread():
    f = dict(zip(FEATURE_NAMES, window_features([100.0], [200.0], [0.0]), strict=True))
    assert f == {
        "freq": 1,
        "touchdown_freq": 1,
        "movement_freq": 0,
        "centroid_x": 100,
        "centroid_y": 200,
        "std_x": 0,
        "std_y": 0,
        "velocity": 0,
    }


def test_taps_and_swipes_by_hand():
    taps = window_features([0.0, 10.0, 20.0], [5.0, 5.0, 5.0], [0.0, 0.0, 0.0])
    # Sample std of 0, 10, 20 is 10 (ddof 1); y does not move.
    assert taps.tolist() == [3, 3, 0, 10, 5, 10, 0, 0]
    swipe = window_features([0.0, 3.0, 6.0, 9.0], [0.0, 4.0, 8.0, 12.0], [0.0, 5.0, 5.0, 5.0])
    assert swipe[:3].tolist() == [4, 1, 3]
    assert swipe[3:5].tolist() == [4.5, 6.0]
    assert swipe[5] == pytest.approx(np.sqrt(15.0))  # var of 0,3,6,9 with ddof 1
    assert swipe[6] == pytest.approx(np.sqrt(80.0 / 3.0))
    assert swipe[7] == pytest.approx(15.0 / 4.0)


def test_windows_over_a_stream_match_one_window_at_a_time():
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 30, 400))
    t[50:53] = [10.0, 10.0, 15.0]  # events exactly on window edges count (both ends closed)
    t = np.sort(t)
    x, y = rng.uniform(0, 1024, 400), rng.uniform(0, 768, 400)
    v = np.where(rng.random(400) < 0.3, 0.0, rng.exponential(10, 400))
    ends = np.arange(0, 40, dtype=float)
    many = features_at(t, x, y, v, ends)
    for row, end in zip(many, ends, strict=True):
        inside = (t >= end - 5) & (t <= end)
        np.testing.assert_allclose(row, window_features(x[inside], y[inside], v[inside]))


# -- the bundled classifier -------------------------------------------------------------


def _taps(n: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return rng.uniform(0, 1024, n), rng.uniform(0, 768, n), np.zeros(n)


def test_bundled_file_tells_fast_taps_from_a_still_screen():
    model = touch_classifier.load()
    assert model.metadata["held_out"]["accuracy"] > model.metadata["held_out"]["baseline"]
    rng = np.random.default_rng(0)
    still = model.classify_touches([], [], [])
    taps = model.classify_touches(*_taps(40, rng))  # 8 taps a second, never moving
    assert still == 0  # N
    assert taps == 1  # FT: fast taps
    # Fast swiping: a finger moving continuously, 30 events a second.
    x = 512 + 300 * np.sin(np.linspace(0, 20, 150))
    y = 384 + 200 * np.cos(np.linspace(0, 13, 150))
    v = np.hypot(np.diff(x, prepend=x[0]), np.diff(y, prepend=y[0]))
    v[::30] = 0.0
    assert model.classify_touches(x, y, v) not in (0, 1, 2)  # a swipe-like gesture
    slow = model.classify_touches(*_taps(5, rng))  # a tap a second
    assert slow == 2  # ST: slow taps


def test_bundled_file_reproduces_held_out_corpus_labels(corpus_dir):
    model = touch_classifier.load()
    names = model.metadata["training"]["held_out_performances"][:3]
    examples = corpus_examples(corpus_dir, names)
    report = evaluate(model, examples.features, examples.labels)
    assert report["accuracy"] > max(0.8, report["baseline"] + 0.3)


# -- file errors -------------------------------------------------------------------------


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(TouchClassifierError, match="does not exist"):
        touch_classifier.load(tmp_path / "nope.h5")


def test_a_file_that_is_not_hdf5(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("hello")
    with pytest.raises(TouchClassifierError, match="not an HDF5 file"):
        touch_classifier.load(path)


def test_another_kind_of_hdf5_file(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.attrs["metadata"] = json.dumps({"format": "gesture-rnn-model"})
    with pytest.raises(TouchClassifierError, match="is not a touch classifier"):
        touch_classifier.load(path)


def test_damaged_layers_and_versions(tmp_path):
    path = tmp_path / "copy.h5"
    touch_classifier.save(touch_classifier.load(), path)
    with h5py.File(path, "a") as f:
        del f["W1"]
        f["W1"] = np.zeros((3, 3), dtype=np.float32)
    with pytest.raises(TouchClassifierError, match="dataset W1 has shape"):
        touch_classifier.load(path)
    touch_classifier.save(touch_classifier.load(), path)
    with h5py.File(path, "a") as f:
        metadata = json.loads(f.attrs["metadata"])
        metadata["format_version"] = 99
        f.attrs["metadata"] = json.dumps(metadata)
    with pytest.raises(TouchClassifierError, match="format version 99"):
        touch_classifier.load(path)


# -- training ----------------------------------------------------------------------------


def _synthetic_windows(n: int, seed: int):
    """Windows of three made-up kinds: empty (N), taps (FT), moving fingers (FS)."""
    rng = np.random.default_rng(seed)
    features, labels = [], []
    for i in range(n):
        kind = i % 3
        count = 0 if kind == 0 else int(rng.integers(10, 40))
        x, y = rng.uniform(0, 1024, count), rng.uniform(0, 768, count)
        v = np.zeros(count) if kind == 1 else rng.uniform(5, 30, count)
        features.append(window_features(x, y, v))
        labels.append((0, 1, 3)[kind])
    return np.array(features), np.array(labels)


def test_training_learns_synthetic_gestures_and_survives_a_round_trip(tmp_path):
    features, labels = _synthetic_windows(300, seed=1)
    model = fit(features, labels, TrainConfig(hidden=(8,), epochs=20, batch=32, seed=0))
    test_features, test_labels = _synthetic_windows(90, seed=2)
    report = evaluate(model, test_features, test_labels)
    assert report["accuracy"] > 0.95
    assert report["baseline"] == pytest.approx(1 / 3)
    assert report["per_gesture"]["FT"]["count"] == 30
    touch_classifier.save(model, tmp_path / "m.h5")
    again = touch_classifier.load(tmp_path / "m.h5")
    np.testing.assert_array_equal(again.predict(test_features), model.predict(test_features))


def test_two_gestures_train_a_classifier_of_all_nine():
    # scikit-learn has one logistic output for two classes; the file still has nine logits.
    features, labels = _synthetic_windows(200, seed=3)
    two = labels != 3
    model = fit(features[two], labels[two], TrainConfig(hidden=(8,), epochs=20, batch=32))
    assert model.weights[-1].shape == (8, 9)
    p = model.probabilities(features[two])
    assert set(model.predict(features[two])) == {0, 1}
    assert p[:, [2, 3, 4, 5, 6, 7, 8]].max() < 1e-12
    assert np.mean(model.predict(features[two]) == labels[two]) > 0.95


def test_the_training_defaults_are_the_commands_and_made_the_bundled_file():
    from gesture_rnn_cli import build_parser

    defaults = TrainConfig()
    args = build_parser().parse_args(["touches", "train", "--data", "d", "--out", "o.h5"])
    assert (args.hidden, args.epochs, args.batch_size, args.held_out, args.seed) == (
        defaults.hidden,
        defaults.epochs,
        defaults.batch,
        defaults.held_out,
        defaults.seed,
    )
    recorded = touch_classifier.load().metadata["training"]["config"]
    assert recorded == {**asdict(defaults), "hidden": list(defaults.hidden)}


def _corpus_with_touches(root, performances: int = 4, seconds: int = 60):
    """Touches made up per second; each row labelled from its own 5-second window."""
    rng = np.random.default_rng(5)
    fakes = []
    for k in range(performances):
        lines = ["time,device_id,x_pos,y_pos,velocity"]
        labels = np.zeros((seconds, 1), dtype=int)
        kinds = rng.integers(0, 3, seconds // 6 + 1).repeat(6)[:seconds]  # 0 rest, 1 tap, 2 swipe
        per_second = []
        for s, kind in enumerate(kinds):
            times = np.sort(rng.uniform(0, 1, 0 if kind == 0 else 8))
            per_second.append(kind)
            for t in times:
                v = 0 if kind == 1 else rng.uniform(5, 20)
                lines.append(
                    f"2020-01-01T10:{s // 60:02d}:{s % 60:02d}.{int(t * 1e6):06d},p0,"
                    f"{rng.uniform(0, 1024):.1f},{rng.uniform(0, 768):.1f},{v:.2f}"
                )
        for s in range(seconds):
            window = [per_second[j] for j in range(max(0, s - 5), s)]
            busy = [w for w in window if w]
            labels[s, 0] = 0 if not busy else (1 if busy.count(1) >= busy.count(2) else 3)
        name = f"made-up-{k}"
        fakes.append(FakePerformance(name, labels, touches=False))
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "data" / f"{name}-touches.csv").write_text("\n".join(lines) + "\n")
    write_corpus(root, fakes)


def test_cli_trains_evaluates_and_keeps_an_existing_file(tmp_path, capsys):
    root = tmp_path / "corpus"
    _corpus_with_touches(root)
    out = tmp_path / "touches.h5"
    args = ["touches", "train", "--data", str(root), "--out", str(out), "--hidden", "8"]
    assert main([*args, "--epochs", "20", "--batch-size", "16", "--held-out", "0.25"]) == 0
    said = capsys.readouterr().out
    assert "held out (1 performances): accuracy" in said and "baseline" in said
    model = touch_classifier.load(out)
    assert model.metadata["training"]["command"].startswith("gesture-rnn")
    assert model.metadata["held_out"]["accuracy"] > 0.6
    assert main(["touches", "evaluate", "--data", str(root), "--model", str(out)]) == 0
    assert "held out: accuracy" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_a_damaged_touch_file_is_skipped_with_a_warning(tmp_path, caplog):
    root = tmp_path / "corpus"
    _corpus_with_touches(root, performances=2, seconds=12)
    with (root / "data" / "made-up-1-touches.csv").open("a") as f:
        f.write("yesterday,p0,1,2,0\n")
    examples = corpus_examples(root)
    assert examples.names == ["made-up-0"] and len(examples.labels) == 12
    assert re.search(r"made-up-1-touches\.csv: line \d+: time 'yesterday'", caplog.text)


def test_cli_evaluate_names_a_bad_model_file(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_text("not a model")
    assert main(["touches", "evaluate", "--data", str(tmp_path), "--model", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.h5 is not an HDF5 file" in err and "Traceback" not in err


def test_training_without_scikit_learn_is_one_line_with_the_pip_command(
    tmp_path, capsys, monkeypatch
):
    root = tmp_path / "corpus"
    _corpus_with_touches(root, performances=2, seconds=12)
    for name in ("sklearn", "sklearn.neural_network", "sklearn.preprocessing"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    out = tmp_path / "touches.h5"
    assert main(["touches", "train", "--data", str(root), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "needs scikit-learn" in err and 'pip install "gesture-rnn[train]"' in err
    assert "Traceback" not in err and not out.exists()
