"""Export a trained Keras model to one portable HDF5 file (docs/model-format.md).

The file holds the weights as plain float32 datasets and one JSON attribute with
everything needed to run them: no pickles, no Keras. The numpy runtime
(:mod:`gesture_rnn.runtime`) loads it; so could any language with an HDF5 library.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from . import model_format
from .config import ModelConfig
from .files import write_new
from .gestures import GESTURE_NAMES, NUM_GESTURES
from .model_format import FORMAT, FORMAT_VERSION

log = logging.getLogger(__name__)

CHECKPOINT_RECORD_SUFFIX = ".json"


def architecture(config: ModelConfig) -> dict:
    """The architecture part of the metadata: enough to rebuild the computation."""
    return {
        "cell": "lstm",
        "layers": config.layers,
        "units": config.units,
        "embedding": config.embedding,
        "input": config.input,
        "input_classes": config.num_inputs,
        "output_classes": config.num_outputs,
        "gate_order": ["input", "forget", "cell", "output"],
        "activation": "tanh",
        "recurrent_activation": "sigmoid",
        "output": "logits",
        "stay": config.stay,
        "copy": config.copy,
    }


def model_weights(model, config: ModelConfig) -> dict[str, np.ndarray]:
    """The Keras model's weights under the dataset names of the file format."""
    weights: dict[str, np.ndarray] = {}
    (table,) = model.get_layer("embedding").get_weights()
    if config.input == "players":
        table = table.reshape(config.ensemble, NUM_GESTURES, config.embedding)
    weights["embedding"] = table
    for i in range(config.layers):
        kernel, recurrent, bias = model.get_layer(f"lstm_{i}").get_weights()
        weights[f"lstm_{i}/kernel"] = kernel
        weights[f"lstm_{i}/recurrent_kernel"] = recurrent
        weights[f"lstm_{i}/bias"] = bias
    kernel, bias = model.get_layer("output").get_weights()
    weights["output/kernel"] = kernel
    weights["output/bias"] = bias
    if config.stay:
        (weights["output/stay"],) = model.get_layer("stay").get_weights()
    if config.copy:
        (weights["output/copy"],) = model.get_layer("copy").get_weights()
    return {name: np.ascontiguousarray(w, dtype=np.float32) for name, w in weights.items()}


def metadata_for(config: ModelConfig, record: dict | None = None) -> dict:
    """The file's JSON metadata: format, ensemble, gestures, architecture, then ``record``
    (training, split, metrics) as training wrote it."""
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ensemble": config.ensemble,
        "others": config.others,
        "gestures": list(GESTURE_NAMES),
        "encoding": (
            "state = sum(g_i * 9**i), player 0 least significant; input code at step t = "
            "enc(lead[t], other_1[t-1], ..., other_{k-1}[t-1]); output = enc(others[t])"
        ),
        "architecture": architecture(config),
        "config": config.to_dict(),
    }
    for key, value in (record or {}).items():
        if key not in metadata:
            metadata[key] = value
    return metadata


def write_model_file(
    path: str | Path, weights: dict[str, np.ndarray], metadata: dict, force: bool = False
) -> Path:
    """Write weights and metadata (:func:`gesture_rnn.model_format.write`: the format's
    datasets, with checksums) to ``path`` by :func:`gesture_rnn.files.write_new`: through a
    temporary file, never over an existing file unless ``force``."""
    return write_new(path, lambda tmp: model_format.write(tmp, weights, metadata), force)


def export_model(
    model, config: ModelConfig, path: str | Path, record: dict | None = None, force: bool = False
) -> Path:
    """Export a Keras model built by :func:`gesture_rnn.model.build_model`."""
    weights, metadata = model_weights(model, config), metadata_for(config, record)
    path = write_model_file(path, weights, metadata, force)
    log.info("exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def checkpoint_record_path(checkpoint: str | Path) -> Path:
    """Training writes its record (config, split, metrics) beside the checkpoint."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + CHECKPOINT_RECORD_SUFFIX)


class ExportError(ValueError):
    """A checkpoint that cannot be exported."""


def export_checkpoint(checkpoint: str | Path, out: str | Path, force: bool = False) -> Path:
    """Export a Keras checkpoint written by ``gesture-rnn train`` (with its record beside it)."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise ExportError(f"checkpoint {checkpoint} does not exist")
    record_path = checkpoint_record_path(checkpoint)
    if not record_path.is_file():
        raise ExportError(
            f"{record_path} is missing: it holds the model configuration that training "
            f"wrote beside {checkpoint.name}"
        )
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        config = ModelConfig.from_dict(record.pop("config"))
    except (ValueError, KeyError, TypeError) as error:
        raise ExportError(f"{record_path} is not a training record: {error}") from None
    from .model import load_checkpoint  # imports TensorFlow

    try:
        model = load_checkpoint(checkpoint)
    except Exception as error:  # Keras raises many kinds for a bad file
        raise ExportError(f"{checkpoint} is not a readable Keras checkpoint: {error}") from None
    return export_model(model, config, out, record, force)
