"""Calibration: the sampled ensemble plays N and changes gesture as often as real players."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from gesture_rnn import calibrate, model_format, runtime
from gesture_rnn.corpus import EVERYTHING, load_corpus
from gesture_rnn.evaluate import single_threaded_blas
from gesture_rnn.gestures import NUM_GESTURES
from tests.commands import run


def test_pooled_statistics_count_shares_and_keeps():
    # 0 0 1 and 1 1: shares N 2/5, FT 3/5; after N: N once, FT once -> keep (1+1)/(2+2);
    # after FT: FT once (second part) -> (1+1)/(1+2); unseen gestures (0+1)/(0+2).
    shares, keeps = calibrate.pooled_statistics([np.array([0, 0, 1]), np.array([1, 1])])
    assert shares[:2] == pytest.approx([0.4, 0.6]) and shares[2:].sum() == 0
    assert keeps[0] == pytest.approx(0.5) and keeps[1] == pytest.approx(2 / 3)
    assert keeps[5] == pytest.approx(0.5)


def test_the_biases_change_the_logits_as_the_formula_says():
    weights, metadata = model_format.read(runtime.bundled_path(3))
    b = np.linspace(-1, 1, NUM_GESTURES)
    c = np.linspace(0.5, -0.5, NUM_GESTURES)
    saved_bias, saved_metadata = weights["output/bias"].copy(), json.dumps(metadata)
    new_weights, new_metadata = calibrate.apply(weights, metadata, b, c)
    assert np.array_equal(weights["output/bias"], saved_bias)  # the inputs are not changed
    assert json.dumps(metadata) == saved_metadata
    before = runtime.GestureModel(weights, metadata)
    after = runtime.GestureModel(new_weights, new_metadata)
    code = 3 + 9 * (2 + 9 * 7)  # lead FS; the others were ST and SS
    p, _ = before.step_codes(np.array([code]), before.initial_state(1))
    q, _ = after.step_codes(np.array([code]), after.initial_state(1))
    states = np.arange(81)
    s0, s1 = states % 9, states // 9
    bonus = b[s0] + b[s1] + c[2] * (s0 == 2) + c[7] * (s1 == 7)
    expected = p[0] * np.exp(bonus)
    assert q[0] == pytest.approx(expected / expected.sum(), rel=1e-4)


def test_calibration_brings_the_share_of_n_and_the_flux_to_the_real_players(corpus_dir):
    # The bundled quartet, uncalibrated, sits on N far more than the players it learnt from.
    path = runtime.bundled_path(4)
    weights, metadata = model_format.read(path)
    weights, metadata = calibrate.apply(  # undo the bundled calibration
        weights,
        metadata,
        -np.array(metadata["calibration"]["gesture_bias"]),
        -np.array(metadata["calibration"]["keep_bias"]),
    )
    by_name = {p.name: p for p in load_corpus(corpus_dir, EVERYTHING)}
    train = [by_name[n] for n in metadata["split"]["train"]]
    real_shares, _ = calibrate.real_statistics(train)
    before, _, flux_before = calibrate.played_statistics(
        runtime.GestureModel(weights, metadata), train, 1, 99
    )
    fitted = calibrate.fit(weights, metadata, train, iterations=6, seeds=1)
    model = runtime.GestureModel(
        *calibrate.apply(weights, metadata, fitted.gesture_bias, fitted.keep_bias)
    )
    after, _, flux_after = calibrate.played_statistics(model, train, 1, 99)
    real_flux = fitted.real["flux"]
    assert abs(after[0] - real_shares[0]) < abs(before[0] - real_shares[0]) / 2
    assert abs(flux_after - real_flux) < abs(flux_before - real_flux) / 2


def test_the_bundled_models_are_calibrated_and_say_how():
    for size in (4, 3, 2):
        record = runtime.load_bundled(size).metadata["calibration"]
        assert record["command"].startswith("gesture-rnn calibrate --model ")
        assert len(record["gesture_bias"]) == len(record["keep_bias"]) == NUM_GESTURES


def uncalibrated_duet(folder):
    """The bundled duet's weights in a file without the calibration record, which
    ``calibrate`` takes as a model that training wrote; and its metadata."""
    source = folder / "duet.h5"
    weights, metadata = model_format.read(runtime.bundled_path(2))
    metadata.pop("calibration")
    model_format.write(source, weights, metadata)
    return source, metadata


def test_calibrate_writes_a_model_that_loads_and_keeps_its_record(tmp_path, corpus_dir):
    source, metadata = uncalibrated_duet(tmp_path)
    out = tmp_path / "calibrated.h5"
    done = run("calibrate", "--model", source, "--data", corpus_dir, "--out", out,
               "--iterations", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}: generated share of N ")
    model = runtime.load(out)
    record = model.metadata["calibration"]
    assert record["iterations"] == 2 and len(record["history"]) == 2
    assert set(record["nll"]) == {"validation", "test"}
    assert model.metadata["architecture"]["copy"] is True
    assert model.metadata["config"]["copy"] is True  # a Keras model built from it holds it
    # The printed "after" is what the written model plays, not the last iteration's biases.
    result = record["result"]
    assert f"-> {result['share_of_n']:.2f} (real" in done.stdout
    assert f"-> {result['flux']:.3f} (real" in done.stdout
    train_names = set(metadata["split"]["train"])
    train = [p for p in load_corpus(corpus_dir, EVERYTHING) if p.name in train_names]
    with single_threaded_blas():
        shares, _, flux = calibrate.played_statistics(model, train, calibrate.SEEDS, 2)
    assert result["share_of_n"] == round(float(shares[0]), 4)
    assert result["flux"] == round(flux, 4)
    # Never over a file without --force; a calibrated model is not calibrated again.
    again = run("calibrate", "--model", source, "--data", corpus_dir, "--out", out)
    assert again.returncode == 1 and "exists" in again.stderr
    twice = run("calibrate", "--model", out, "--data", corpus_dir, "--out", tmp_path / "x.h5")
    assert twice.returncode == 1
    assert twice.stderr.strip().endswith(
        "already calibrated; calibrate the model that training wrote"
    )
    assert not (tmp_path / "x.h5").exists()


def test_calibrate_refuses_bad_input_in_one_line(tmp_path, corpus_dir, tiny_model):
    out = tmp_path / "out.h5"
    bad = run("calibrate", "--model", "duet", "--data", corpus_dir, "--out", out,
              "--iterations", "1")  # fmt: skip
    assert bad.returncode == 2 and "expected 2-1000, got 1" in bad.stderr
    # A model that records no split cannot say which performances it learnt from.
    with h5py.File(tiny_model) as f:
        assert "split" not in json.loads(f.attrs["gesture_rnn"])
    no_split = run("calibrate", "--model", tiny_model, "--data", corpus_dir, "--out", out)
    assert no_split.returncode == 1
    assert len(no_split.stderr.strip().splitlines()) == 1
    assert "records no train split" in no_split.stderr
    weights, metadata = model_format.read(tiny_model)
    model_format.write(tmp_path / "empty-split.h5", weights, {**metadata, "split": {"train": []}})
    empty = run("calibrate", "--model", tmp_path / "empty-split.h5", "--data", corpus_dir,
                "--out", out)  # fmt: skip
    assert empty.returncode == 1 and "records no train split" in empty.stderr
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(b"not a model")
    broken = run("calibrate", "--model", damaged, "--data", corpus_dir, "--out", out)
    assert broken.returncode == 2 and len(broken.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_negative_seed_is_refused_in_one_line_by_every_command(tmp_path, corpus_dir):
    # numpy's generators take no negative seed: it was a traceback after the work began.
    lead = tmp_path / "lead.csv"
    lead.write_text("time,lead\n0,0\n1,3\n2,3\n")
    out = tmp_path / "out"
    for command in (
        ["calibrate", "--model", "duet", "--data", corpus_dir, "--out", out],
        ["generate", "--model", "duet", "--lead", lead, "--out-csv", out],
        ["train", "--data", corpus_dir, "--out", out],
        ["touches", "train", "--data", corpus_dir, "--out", out],
        ["corpus", "info", "--procedural", "--round-trip"],
        ["corpus", "plot", "--procedural", "--out", out],
    ):
        done = run(*command, "--seed", "-1")
        assert done.returncode == 2, (command, done.stderr)
        assert "Traceback" not in done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.endswith("argument --seed: expected 0 or more, got -1"), command
    assert list(tmp_path.iterdir()) == [lead]


def test_too_few_iterations_name_the_range(tmp_path, corpus_dir):
    for value in ("0", "-3", "1"):
        done = run("calibrate", "--model", "duet", "--data", corpus_dir, "--out",
                   tmp_path / "out.h5", "--iterations", value)  # fmt: skip
        assert done.returncode == 2
        assert done.stderr.strip().endswith(f"expected 2-1000, got {value}")


def test_calibrate_refuses_a_corpus_that_lacks_part_of_the_train_split(tmp_path, corpus_dir):
    # Fitting on the rest would silently be another calibration than the one documented.
    source, metadata = uncalibrated_duet(tmp_path)
    partial = tmp_path / "corpus"
    (partial / "data").mkdir(parents=True)
    (partial / "metadata").symlink_to(corpus_dir.resolve() / "metadata")
    gone = metadata["split"]["train"][0]
    for file in (corpus_dir / "data").iterdir():
        if not file.name.startswith(gone):
            (partial / "data" / file.name).symlink_to(file.resolve())
    out = tmp_path / "out.h5"
    done = run("calibrate", "--model", source, "--data", partial, "--out", out)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    total = len(metadata["split"]["train"])
    assert last.startswith(f"gesture-rnn: error: 1 of the {total} performances of the model's")
    assert f"(first: {gone})" in last
    assert "Traceback" not in done.stderr and not out.exists()
