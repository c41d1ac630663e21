"""The Keras model, training and export, against the numpy runtime.

Tiny models (a few units) and short runs on made-up performances; one end-to-end run of
``gesture-rnn train`` on the shared corpus with a few seconds' budget.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from gesture_rnn import runtime
from gesture_rnn.config import ModelConfig
from gesture_rnn.corpus import Performance
from gesture_rnn.gestures import encode_ensemble
from gesture_rnn.prepare import build_sequences

pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install .[train])")

from gesture_rnn import train as training  # noqa: E402
from gesture_rnn.export import checkpoint_record_path, export_checkpoint, export_model  # noqa: E402
from gesture_rnn.model import build_model, probabilities  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def sticky_performance(name: str, seconds: int, players: int, seed: int) -> Performance:
    """Made-up gestures that mostly persist, like real ones, with occasional changes."""
    rng = np.random.default_rng(seed)
    gestures = np.zeros((seconds, players), dtype=np.int8)
    gestures[0] = rng.integers(0, 9, players)
    for t in range(1, seconds):
        change = rng.random(players) < 0.15
        gestures[t] = np.where(change, rng.integers(0, 9, players), gestures[t - 1])
    return Performance(name=name, gestures=gestures, players=tuple(f"p{i}" for i in range(players)))


def scramble_weights(model, seed: int = 0) -> None:
    """Larger random weights than Keras initialises, so probabilities are far from uniform
    and the comparison with the runtime means something."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 1.0, w.shape).astype(np.float32) for w in model.get_weights()])


@pytest.mark.parametrize(
    ("representation", "stay", "copy"),
    [("players", True, False), ("joint", False, False), ("players", False, True)],
)
def test_runtime_matches_keras_over_200_steps(tmp_path, representation, stay, copy):
    config = ModelConfig(
        ensemble=4, layers=2, units=8, embedding=4, input=representation, stay=stay, copy=copy
    )
    model = build_model(config)
    scramble_weights(model)
    path = export_model(model, config, tmp_path / "tiny.h5")

    gestures = np.random.default_rng(1).integers(0, 9, size=(200, 4))
    codes = encode_ensemble(gestures)
    expected = probabilities(model, codes[None, :])[0]
    assert expected.max() > 0.02  # far from uniform (1/729)

    loaded = runtime.load(path)
    got = np.array([loaded.step(g[0], list(g[1:])) for g in gestures])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert loaded.metadata["architecture"]["input"] == representation


def test_export_writes_plain_datasets_and_metadata(tmp_path):
    config = ModelConfig(ensemble=3, layers=1, units=8, embedding=4, input="players", stay=True)
    model = build_model(config)
    path = export_model(model, config, tmp_path / "m.h5", {"split": {"train": ["x"]}})
    with h5py.File(path, "r") as f:
        metadata = json.loads(f.attrs["gesture_rnn"])
        names: list[str] = []
        f.visititems(
            lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None
        )
        assert all(f[name].dtype == np.float32 for name in names)
    assert sorted(names) == sorted(
        ["embedding", "lstm_0/kernel", "lstm_0/recurrent_kernel", "lstm_0/bias"]
        + ["output/kernel", "output/bias", "output/stay"]
    )
    assert metadata["format"] == runtime.FORMAT and metadata["format_version"] == 1
    assert metadata["ensemble"] == 3 and metadata["gestures"][4] == "FSA"
    assert metadata["split"] == {"train": ["x"]}
    assert not list(tmp_path.glob("*.partial"))


def test_epoch_windows_see_each_step_at_most_once_and_stay_in_one_sequence():
    performances = [sticky_performance(f"p{i}", 50 + 7 * i, 3, i) for i in range(3)]
    sequences = build_sequences(performances, ensemble=2, steps=10)
    # Mark each step with its position so windows can be traced back.
    marked = sequences.__class__(**{**sequences.__dict__, "x": np.arange(len(sequences.x))})
    rng = np.random.default_rng(0)
    x, y = training.epoch_windows(marked, 10, rng)
    flat = x.ravel()
    assert len(np.unique(flat)) == len(flat)  # no step twice in an epoch
    assert np.all(np.diff(x, axis=1) == 1)  # consecutive steps
    sequence_of = np.searchsorted(sequences.offsets, x, side="right") - 1
    assert np.all(sequence_of == sequence_of[:, :1])  # never across two sequences
    assert len(flat) > 0.75 * len(sequences.x)  # most steps are seen
    x2, _ = training.epoch_windows(marked, 10, rng)
    assert not np.array_equal(np.sort(x[:, 0]), np.sort(x2[:, 0]))  # offsets move


def test_baselines_on_made_up_data():
    performances = [sticky_performance(f"p{i}", 200, 3, i) for i in range(4)]
    sequences = build_sequences(performances, ensemble=3, steps=10)
    train_side, test_side = sequences.subset(["p0", "p1", "p2"]), sequences.subset(["p3"])
    figures = training.baselines(train_side, test_side)
    unchanged = np.mean(test_side.x // 9 == test_side.y)
    assert figures["persistence"]["accuracy"] == pytest.approx(unchanged)
    assert 0 < figures["markov"]["nll"] < np.log(81)


def test_train_exports_a_model_with_its_split_and_checkpoint(tmp_path):
    performances = [sticky_performance(f"perf{i}", 60, 3, i) for i in range(6)]
    config = ModelConfig(ensemble=2, layers=1, units=8, embedding=4, steps=12, batch_size=8)
    options = training.TrainOptions(epochs=2, seed=5, progress=False, record={"data": "made up"})
    checkpoint, out = tmp_path / "ckpt.keras", tmp_path / "model.h5"
    result = training.train(performances, config, options, checkpoint=checkpoint, out=out)

    model = runtime.load(out)
    split = model.metadata["split"]
    assert sorted(split["train"] + split["validation"] + split["test"]) == sorted(
        p.name for p in performances
    )
    assert model.metadata["training"]["data"] == "made up"
    assert model.metadata["training"]["seed"] == 5
    assert 0 < model.metadata["training"]["cpu_seconds"]  # budgets compare in CPU time
    assert np.isfinite(model.metadata["metrics"]["validation"]["nll"])
    assert np.isfinite(model.metadata["metrics"]["test"]["nll"])
    assert result.epochs == 2

    # The exported model is the best epoch's, and the checkpoint exports to the same file.
    again = export_checkpoint(checkpoint, tmp_path / "again.h5")
    with h5py.File(out, "r") as a, h5py.File(again, "r") as b:
        for name in ("embedding", "lstm_0/kernel", "output/bias"):
            np.testing.assert_array_equal(a[name][()], b[name][()])
    assert json.loads(checkpoint_record_path(checkpoint).read_text())["split"] == split


def test_training_with_mirrored_strategy_over_two_devices(tmp_path):
    """The several-GPU path (``fit`` under MirroredStrategy), on two logical CPUs in a fresh
    process: it trains, and the exported file steps like the trained Keras model."""
    script = f"""
import json
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]  # two logical CPUs stand in for two GPUs
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from gesture_rnn import runtime, train as training
from gesture_rnn.config import ModelConfig
from gesture_rnn.gestures import encode_ensemble
from gesture_rnn.model import probabilities
from tests.test_model import sticky_performance

performances = [sticky_performance(f"perf{{i}}", 60, 3, i) for i in range(6)]
config = ModelConfig(ensemble=2, layers=1, units=8, embedding=4, steps=12, batch_size=8)
options = training.TrainOptions(epochs=2, seed=5, progress=False)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
out = r"{tmp_path / "mirrored.h5"}"
result = training.train(performances, config, options, out=out, strategy=strategy)
codes = encode_ensemble(np.random.default_rng(1).integers(0, 9, size=(50, 2)))
keras_p = probabilities(result.model, codes[None, :])[0]
model = runtime.load(out)
ours = np.array([model.step(int(c % 9), [int(c // 9)]) for c in codes])
print(json.dumps({{
    "replicas": strategy.num_replicas_in_sync,
    "epochs": result.epochs,
    "losses": [h["loss"] for h in model.metadata["history"]],
    "max_diff": float(np.abs(ours - keras_p).max()),
}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["replicas"] == 2
    assert figures["epochs"] == 2
    assert all(np.isfinite(figures["losses"])) and len(figures["losses"]) == 2
    assert figures["max_diff"] < 1e-5


def run_cli(*args, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "gesture_rnn", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def test_cli_train_end_to_end_on_the_corpus(corpus_dir, tmp_path):
    out = tmp_path / "duet.h5"
    result = run_cli(
        "train", "--data", str(corpus_dir), "--ensemble", "2", "--size", "tiny",
        "--steps", "30", "--minutes", "0.05", "--seed", "1", "--quiet", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "wrote" in result.stdout
    model = runtime.load(out)
    assert model.ensemble == 2 and model.metadata["architecture"]["units"] == 8
    training_record = model.metadata["training"]
    assert "--ensemble 2" in training_record["command"]
    assert training_record["seed"] == 1 and training_record["seconds"] < 120
    # The command it prints next calibrates the new model.
    hint = result.stdout.strip().splitlines()[-1]
    assert hint.startswith("so that its ensemble plays as often as real players, calibrate it")
    command = shlex.split(hint.split(": ", 1)[1])
    assert command[:2] == ["gesture-rnn", "calibrate"]
    calibrated = run_cli(*command[1:], "--iterations", "2")
    assert calibrated.returncode == 0, calibrated.stderr[-2000:]
    assert runtime.load(tmp_path / "duet-calibrated.h5").metadata["calibration"]["iterations"] == 2
    split = model.metadata["split"]
    assert split["test"] and not set(split["test"]) & set(split["train"] + split["validation"])
    assert (tmp_path / "duet.keras").is_file()


def test_extra_performances_train_but_leave_the_split_alone(tmp_path):
    performances = [sticky_performance(f"perf{i}", 60, 4, i) for i in range(6)]
    extra = [sticky_performance("big players 0,1,2,3", 80, 4, 9)]
    config = ModelConfig(ensemble=4, layers=1, units=8, embedding=4, steps=12, batch_size=8)
    options = training.TrainOptions(epochs=1, seed=5, progress=False)
    plain = training.train(performances, config, options).metadata
    more = training.train(performances, config, options, extra=extra).metadata
    for side in ("train", "validation", "test"):
        assert more["split"][side] == plain["split"][side]
    assert more["split"]["extra_train"] == ["big players 0,1,2,3"]
    assert more["training"]["steps"]["train"] == plain["training"]["steps"]["train"] + 24 * 79
    assert more["training"]["steps"]["test"] == plain["training"]["steps"]["test"]


def test_cli_train_extra_subsets_of_larger_performances(corpus_dir, tmp_path):
    out = tmp_path / "q.h5"
    result = run_cli(
        "train", "--data", str(corpus_dir), "--size", "tiny", "--steps", "30", "--epochs", "1",
        "--extra-subsets", "2", "--quiet", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    split = runtime.load(out).metadata["split"]
    # Two subsets of each of the three quintets and of the nine-player performance.
    assert len(split["extra_train"]) == 8
    assert all(" players " in name for name in split["extra_train"])
    assert not set(split["test"]) & {n.split(" players ")[0] for n in split["extra_train"]}
    duet = run_cli(
        "train", "--data", str(corpus_dir), "--ensemble", "2", "--size", "tiny",
        "--extra-subsets", "2", "--out", str(tmp_path / "d.h5"),
    )  # fmt: skip
    assert duet.returncode == 1 and "already trains on every" in duet.stderr
    # Only the quintets: the nine-player performance is mostly silence (71% N).
    quintets = run_cli(
        "train", "--data", str(corpus_dir), "--size", "tiny", "--steps", "30", "--epochs", "1",
        "--extra-subsets", "2", "--extra-players", "5", "--quiet", "--out", str(tmp_path / "5.h5"),
    )  # fmt: skip
    assert quintets.returncode == 0, quintets.stderr[-2000:]
    extra = runtime.load(tmp_path / "5.h5").metadata["split"]["extra_train"]
    assert len(extra) == 6 and not any(n.startswith("2014-03-15T13-19-15") for n in extra)
    none = run_cli(
        "train", "--data", str(corpus_dir), "--size", "tiny", "--extra-subsets", "2",
        "--extra-players", "7", "--out", str(tmp_path / "7.h5"),
    )  # fmt: skip
    assert none.returncode == 1 and "no selected performance has that many" in none.stderr


def test_cli_export_of_a_missing_checkpoint_is_one_line(tmp_path):
    result = run_cli("export", str(tmp_path / "none.keras"), "--out", str(tmp_path / "m.h5"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "none.keras does not exist" in result.stderr


def test_the_same_seed_trains_the_same_weights():
    performances = [sticky_performance(f"perf{i}", 80, 3, i) for i in range(5)]
    config = ModelConfig(ensemble=3, layers=1, units=8, embedding=4, steps=10, batch_size=8)

    def weights(seed):
        options = training.TrainOptions(epochs=1, seed=seed, progress=False)
        return training.train(performances, config, options).model.get_weights()

    first, again, other = weights(3), weights(3), weights(4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
