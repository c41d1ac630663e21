"""The numpy runtime: loading, stepping, batching, sampling, and its errors.

These tests need no TensorFlow: model files are written from random weights with the
exporter's own writer, and a plain float64 LSTM written out below is the reference.
(tests/test_model.py checks the runtime against Keras itself.)
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from gesture_rnn import runtime
from gesture_rnn.config import ModelConfig
from gesture_rnn.export import metadata_for, write_model_file
from gesture_rnn.gestures import GestureError, decode_ensemble, encode_ensemble
from gesture_rnn.runtime import ModelFileError


def random_weights(config: ModelConfig, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    u, k = config.units, config.ensemble

    def w(*shape):
        return rng.normal(0.0, 0.6, size=shape).astype(np.float32)

    weights = {
        "embedding": w(config.num_inputs, config.embedding)
        if config.input == "joint"
        else w(k, 9, config.embedding)
    }
    for i in range(config.layers):
        weights[f"lstm_{i}/kernel"] = w(config.input_width if i == 0 else u, 4 * u)
        weights[f"lstm_{i}/recurrent_kernel"] = w(u, 4 * u)
        weights[f"lstm_{i}/bias"] = w(4 * u)
    weights["output/kernel"] = w(u, config.num_outputs)
    weights["output/bias"] = w(config.num_outputs)
    if config.stay:
        weights["output/stay"] = w(config.num_outputs) * 4
    if config.copy:
        weights["output/copy"] = w(config.others, 9) * 4
    return weights


def write_random_model(path: Path, config: ModelConfig, seed: int = 0) -> dict:
    weights = random_weights(config, seed)
    record = {"split": {"train": ["a"], "validation": ["b"], "test": ["c"]}}
    write_model_file(path, weights, metadata_for(config, record))
    return weights


def reference_probabilities(weights, config: ModelConfig, codes) -> np.ndarray:
    """The LSTM written out plainly in float64, one step at a time from zero state."""

    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    w = {name: a.astype(np.float64) for name, a in weights.items()}
    u = config.units
    h = [np.zeros(u) for _ in range(config.layers)]
    c = [np.zeros(u) for _ in range(config.layers)]
    out = []
    for code in codes:
        if config.input == "joint":
            x = w["embedding"][code]
        else:
            gestures = decode_ensemble(int(code), config.ensemble)
            x = np.concatenate([w["embedding"][p, g] for p, g in enumerate(gestures)])
        for i in range(config.layers):
            z = x @ w[f"lstm_{i}/kernel"] + h[i] @ w[f"lstm_{i}/recurrent_kernel"]
            z = z + w[f"lstm_{i}/bias"]
            gate_i, gate_f = sigmoid(z[:u]), sigmoid(z[u : 2 * u])
            cand, gate_o = np.tanh(z[2 * u : 3 * u]), sigmoid(z[3 * u :])
            c[i] = gate_f * c[i] + gate_i * cand
            h[i] = gate_o * np.tanh(c[i])
            x = h[i]
        logits = x @ w["output/kernel"] + w["output/bias"]
        if config.stay:
            last = code // 9  # the others' state one step before
            logits[last] += w["output/stay"][last]
        if config.copy:
            before = decode_ensemble(int(code), config.ensemble)[1:]
            for s, after in enumerate(decode_ensemble(np.arange(len(logits)), config.others)):
                for i, (a, b) in enumerate(zip(before, after, strict=True)):
                    logits[s] += w["output/copy"][i, a] if a == b else 0.0
        p = np.exp(logits - logits.max())
        out.append(p / p.sum())
    return np.array(out)


CONFIGS = {
    "players-quartet": ModelConfig(ensemble=4, layers=2, units=8, embedding=3, input="players"),
    "players-quartet-stay-copy": ModelConfig(
        ensemble=4, layers=2, units=8, embedding=3, input="players", stay=True, copy=True
    ),
    "joint-trio": ModelConfig(
        ensemble=3, layers=1, units=8, embedding=5, input="joint", stay=False
    ),
    "players-duet": ModelConfig(
        ensemble=2, layers=3, units=6, embedding=4, input="players", copy=True
    ),
}


@pytest.fixture(params=sorted(CONFIGS))
def random_model(request, tmp_path):
    config = CONFIGS[request.param]
    path = tmp_path / "model.h5"
    weights = write_random_model(path, config)
    return path, config, weights


def test_load_reads_the_file_it_was_given(random_model):
    path, config, _ = random_model
    model = runtime.load(path)
    assert model.path == path
    assert model.ensemble == config.ensemble
    assert model.others == config.ensemble - 1
    assert model.num_states == 9 ** (config.ensemble - 1)
    assert model.metadata["architecture"]["input"] == config.input
    assert model.metadata["split"]["test"] == ["c"]


def test_steps_match_a_plain_lstm_over_200_steps(random_model):
    path, config, weights = random_model
    model = runtime.load(path)
    rng = np.random.default_rng(1)
    gestures = rng.integers(0, 9, size=(200, config.ensemble))
    codes = encode_ensemble(gestures)
    expected = reference_probabilities(weights, config, codes)
    got = np.array([model.step(g[0], list(g[1:])) for g in gestures])
    assert got.shape == (200, model.num_states)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_step_accepts_names_and_floats_and_reset_starts_over(random_model):
    path, config, _ = random_model
    model = runtime.load(path)
    others = ["N", 2.0, "fs"][: config.ensemble - 1]
    first = model.step("FS", others)
    second = model.step(3, others)
    assert not np.allclose(first, second)  # the state moved on
    model.reset()
    np.testing.assert_array_equal(model.step(3.0, others), first)


def test_step_rejects_bad_gestures_and_wrong_ensembles(random_model):
    path, config, _ = random_model
    model = runtime.load(path)
    with pytest.raises(GestureError):
        model.step("XYZ", [0] * model.others)
    with pytest.raises(GestureError):
        model.step(9, [0] * model.others)
    with pytest.raises(ValueError, match=f"{model.others} gestures"):
        model.step(0, [0] * (model.others + 1))


def test_batched_and_functional_forms_equal_the_single_form(random_model):
    path, config, _ = random_model
    model = runtime.load(path)
    rng = np.random.default_rng(2)
    n, steps = 5, 30
    gestures = rng.integers(0, 9, size=(steps, n, config.ensemble))
    singles = []
    for j in range(n):
        model.reset()
        singles.append([model.step(g[0], list(g[1:])) for g in gestures[:, j]])
    singles = np.array(singles).transpose(1, 0, 2)  # (steps, n, states)

    batched = model.batch(n)
    state = model.initial_state(n)
    for t in range(steps):
        leads, before = gestures[t, :, 0], gestures[t, :, 1:].tolist()
        np.testing.assert_allclose(batched.step(list(leads), before), singles[t], atol=1e-6)
        probabilities, state = model.step_codes(encode_ensemble(gestures[t]), state)
        np.testing.assert_allclose(probabilities, singles[t], atol=1e-6)


def test_step_codes_does_not_change_the_state_it_is_given(random_model):
    path, config, _ = random_model
    model = runtime.load(path)
    state = model.initial_state(3)
    _, state = model.step_codes(np.array([0, 1, 2]), state)
    kept = state.copy()
    first, _ = model.step_codes(np.array([5, 6, 7]), state)
    again, _ = model.step_codes(np.array([5, 6, 7]), state)
    np.testing.assert_array_equal(state, kept)
    np.testing.assert_array_equal(first, again)
    with pytest.raises(ValueError, match="state has shape"):
        model.step_codes(np.array([1, 2]), state)
    with pytest.raises(ValueError, match="input codes"):
        model.step_codes(np.array([0, 1, 9**config.ensemble]), state)


def test_sample_is_reproducible_with_a_seeded_rng(random_model):
    path, _, _ = random_model
    model = runtime.load(path)
    p = model.step(1, [0] * model.others)
    draws = [model.sample(p, 1.0, np.random.default_rng(7)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    assert len(draws[0]) == model.others and all(0 <= g < 9 for g in draws[0])
    rng = np.random.default_rng(3)
    sequence = [model.sample(p, 1.0, rng) for _ in range(50)]
    rng = np.random.default_rng(3)
    assert sequence == [model.sample(p, 1.0, rng) for _ in range(50)]


def test_temperature_sharpens_and_flattens(tmp_path):
    write_random_model(tmp_path / "trio.h5", CONFIGS["joint-trio"])
    trio = runtime.load(tmp_path / "trio.h5")
    p = np.full(trio.num_states, 0.2 / (trio.num_states - 1))
    p[17] = 0.8  # state 17 = gestures (8, 1)
    rng = np.random.default_rng(0)
    cold = [trio.sample(p, 0.05, rng) for _ in range(200)]
    assert cold == [(8, 1)] * 200  # 0.8 ** 20 dwarfs the rest
    warm = [trio.sample(p, 1.0, rng) for _ in range(2000)]
    hot = [trio.sample(p, 5.0, rng) for _ in range(2000)]
    share = {
        name: np.mean([s == (8, 1) for s in draws]) for name, draws in (("1", warm), ("5", hot))
    }
    assert 0.75 < share["1"] < 0.85  # the model's own distribution at T = 1
    assert share["5"] < 0.1  # (0.8/0.0025) ** 0.2 = 3.2 against 80 others' 1 each
    for bad in (0.0, -1.0, 10.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            trio.sample(p, bad, rng)


def test_liveliness_scales_each_players_odds_of_a_change(tmp_path):
    write_random_model(tmp_path / "trio.h5", CONFIGS["joint-trio"])
    trio = runtime.load(tmp_path / "trio.h5")
    uniform = np.full(trio.num_states, 1 / trio.num_states)
    rng = np.random.default_rng(0)
    # Weights L ** (players that change): keep 1, one change 16 states x L, both 64 x L**2.
    for liveliness, keep in ((0.0, 1.0), (0.5, 1 / 25), (1.0, 1 / 81), (2.0, 1 / 289)):
        draws = [trio.sample(uniform, 1.0, rng, liveliness, (4, 7)) for _ in range(4000)]
        share = np.mean([d == (4, 7) for d in draws])
        assert share == pytest.approx(keep, abs=4 * math.sqrt(keep * (1 - keep) / 4000) + 1e-9)
    # Each player alone: P(player 1 keeps 4) = 1 / (1 + 8 L), for independent players.
    draws = [trio.sample(uniform, 1.0, rng, 4.0, ["ST", "N"]) for _ in range(4000)]
    assert np.mean([d[0] == 2 for d in draws]) == pytest.approx(1 / 33, abs=0.012)
    # Liveliness acts after the temperature, which keeps its meaning.
    p = np.full(trio.num_states, 0.2 / (trio.num_states - 1))
    p[17] = 0.8  # (8, 1)
    cold = [trio.sample(p, 0.05, rng, 4.0, (0, 0)) for _ in range(100)]
    assert cold == [(8, 1)] * 100
    frozen = [trio.sample(p, 5.0, rng, 0.0, (0, 0)) for _ in range(100)]
    assert frozen == [(0, 0)] * 100
    with pytest.raises(ValueError, match="needs the state a step before"):
        trio.sample(p, 1.0, rng, 2.0)
    for bad in (-0.1, 10.5, float("nan"), "lively", True):
        with pytest.raises(ValueError, match="liveliness"):
            trio.sample(p, 1.0, rng, bad, (0, 0))


def test_batched_sample_takes_liveliness_row_by_row(random_model):
    path, _, _ = random_model
    model = runtime.load(path)
    batched = model.batch(3)
    befores = [[g] * model.others for g in (1, 5, 8)]
    p = batched.step([0, 1, 2], befores)
    draws = batched.sample(p, 1.0, np.random.default_rng(0), 0.0, befores)
    np.testing.assert_array_equal(draws, befores)


def test_batched_sample_gives_one_draw_per_row(random_model):
    path, _, _ = random_model
    model = runtime.load(path)
    batched = model.batch(4)
    p = batched.step([0, 1, 2, 3], [[0] * model.others] * 4)
    draws = batched.sample(p, 0.5, np.random.default_rng(0))
    assert draws.shape == (4, model.others)
    again = batched.sample(p, 0.5, np.random.default_rng(0))
    np.testing.assert_array_equal(draws, again)


# -- errors of load -----------------------------------------------------------------------


def good_file(tmp_path) -> Path:
    path = tmp_path / "good.h5"
    write_random_model(path, CONFIGS["players-quartet"])
    return path


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist") as error:
        runtime.load(tmp_path / "nothing.h5")
    assert "nothing.h5" in str(error.value)


def test_truncated_file(tmp_path):
    path = good_file(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="cut.h5"):
        runtime.load(cut)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.h5"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ModelFileError, match="noise.h5.*not an HDF5 file"):
        runtime.load(path)


def test_wrong_format_version(tmp_path):
    path = good_file(tmp_path)
    with h5py.File(path, "r+") as f:
        metadata = json.loads(f.attrs["gesture_rnn"])
        metadata["format_version"] = 99
        f.attrs["gesture_rnn"] = json.dumps(metadata)
    with pytest.raises(ModelFileError, match="version 99.*reads version 1"):
        runtime.load(path)


def test_hdf5_file_that_is_not_a_model(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(3)
    with pytest.raises(ModelFileError, match="not a Gesture-RNN model"):
        runtime.load(path)


def test_missing_or_misshapen_weights(tmp_path):
    path = good_file(tmp_path)
    with h5py.File(path, "r+") as f:
        del f["lstm_1/bias"]
        f["lstm_1/bias"] = np.zeros(5, dtype=np.float32)
    with pytest.raises(ModelFileError, match="dataset lstm_1/bias has shape"):
        runtime.load(path)
    with h5py.File(path, "r+") as f:
        del f["lstm_1/bias"]
        f["lstm_1/bias"] = np.zeros(32, dtype=np.float32)
        del f["output/kernel"]
    with pytest.raises(ModelFileError, match="dataset output/kernel is missing"):
        runtime.load(path)


def test_importing_the_runtime_does_not_import_tensorflow(tmp_path):
    path = good_file(tmp_path)
    code = (
        "import sys\n"
        "from gesture_rnn import runtime\n"
        f"model = runtime.load({str(path)!r})\n"
        "model.step(0, [0, 0, 0])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


# -- the bundled models ---------------------------------------------------------------------


@pytest.mark.parametrize("ensemble", [4, 3, 2])
def test_bundled_models_load_and_step(ensemble):
    path = runtime.bundled_path(ensemble)
    if not path.is_file():
        pytest.skip(f"no bundled model {path.name} in this checkout")
    assert path.stat().st_size < 10_000_000
    model = runtime.load_bundled(ensemble)
    assert model.ensemble == ensemble
    split = model.metadata["split"]
    assert split["test"] and not set(split["test"]) & set(split["train"])
    p = model.step("FS", ["N"] * (ensemble - 1))
    assert p.shape == (9 ** (ensemble - 1),) and abs(p.sum() - 1) < 1e-5


def test_load_without_a_path_is_the_bundled_quartet():
    if not runtime.bundled_path(4).is_file():
        pytest.skip("no bundled quartet model in this checkout")
    assert runtime.load().ensemble == 4


@pytest.mark.parametrize("ensemble", [2, 3, 4])
def test_every_ensemble_size_the_format_allows_loads_and_steps_from_any_file(tmp_path, ensemble):
    """The format module says which sizes exist; the runtime takes any of them from any
    file, not only the bundled ones (a 1 x 8 model, nothing like the bundled 2 x 128)."""
    from gesture_rnn.model_format import ENSEMBLES

    assert ensemble in ENSEMBLES
    config = ModelConfig(ensemble=ensemble, layers=1, units=8, embedding=4, input="joint")
    weights = write_random_model(tmp_path / "m.h5", config)
    model = runtime.load(tmp_path / "m.h5")
    codes = np.random.default_rng(ensemble).integers(0, 9**ensemble, size=40)
    batch, _ = model.step_codes(codes, model.initial_state(len(codes)))
    expected = [reference_probabilities(weights, config, [code])[0] for code in codes]
    np.testing.assert_allclose(batch, expected, atol=1e-5)


def test_an_ensemble_size_outside_the_format_is_one_clear_error(tmp_path):
    path = good_file(tmp_path)
    with h5py.File(path, "r+") as f:
        metadata = json.loads(f.attrs["gesture_rnn"])
        metadata["ensemble"] = 5
        f.attrs["gesture_rnn"] = json.dumps(metadata)
    with pytest.raises(ModelFileError, match="ensemble 5.*runs LSTM ensembles of 2, 3, 4"):
        runtime.load(path)


def test_the_stateful_step_is_the_batched_step_with_a_batch_of_one(random_model):
    """One LSTM step: step() gives exactly what step_codes() gives for a batch of one."""
    model = runtime.load(random_model[0])
    state = model.initial_state(1)
    for lead, before in [(0, [1, 2, 3]), (4, [4, 4, 4]), (8, [0, 5, 7])][: model.ensemble]:
        before = before[: model.others]
        code = model.encode_input(lead, before)
        expected, state = model.step_codes(np.array([code]), state)
        np.testing.assert_array_equal(model.step(lead, before), expected[0])
