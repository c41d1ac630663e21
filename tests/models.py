"""Tiny model files with random weights, written with numpy alone (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gesture_rnn.config import ModelConfig
from gesture_rnn.export import metadata_for, write_model_file


def tiny_model_file(path: Path, ensemble: int = 4, units: int = 8, seed: int = 0) -> Path:
    """A real model file in our format, with a 1 x ``units`` LSTM and random weights."""
    config = ModelConfig(
        ensemble=ensemble, layers=1, units=units, embedding=4, input="players", stay=False
    )
    rng = np.random.default_rng(seed)

    def w(*shape):
        return rng.normal(0, 0.5, size=shape).astype(np.float32)

    weights = {
        "embedding": w(ensemble, 9, 4),
        "lstm_0/kernel": w(ensemble * 4, 4 * units),
        "lstm_0/recurrent_kernel": w(units, 4 * units),
        "lstm_0/bias": w(4 * units),
        "output/kernel": w(units, 9 ** (ensemble - 1)),
        "output/bias": w(9 ** (ensemble - 1)),
    }
    return write_model_file(path, weights, metadata_for(config, {"note": "random test model"}))


def edit_model_file(path: Path, change) -> Path:
    """Change a model file's weights in place and store matching checksums, as a writer
    that skips our checks would: ``change(weights)`` edits the dict of arrays."""
    import json

    import h5py

    from gesture_rnn import checked
    from gesture_rnn.model_format import CHECKSUMS, METADATA_ATTRIBUTE

    with h5py.File(path, "r+") as f:
        metadata = json.loads(f.attrs[METADATA_ATTRIBUTE])
        weights = {name: f[name][()] for name in metadata[CHECKSUMS]}
        change(weights)
        for name, array in weights.items():
            f[name][...] = array
        metadata[CHECKSUMS] = checked.checksums(weights)
        f.attrs[METADATA_ATTRIBUTE] = json.dumps(metadata)
    return path
