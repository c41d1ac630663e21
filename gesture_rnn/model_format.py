"""The model file format, in one place: names, shapes, dtypes, version and checks.

A model file is HDF5: float32 datasets at the root and one JSON attribute saying what
they are (docs/model-format.md describes the same thing for other languages).
:func:`write` is what export uses; :func:`read` is what the runtime uses. Reading checks,
in order: the path (a regular, readable file of at most :data:`MAX_FILE_BYTES`), the
format name and version, the architecture (within :data:`LIMITS`), every dataset's
dtype and shape from the file's metadata before any data is read, that each dataset is
stored in the file itself, then the values: finite, equal to the SHA-256 checksums the
writer stored, and small enough that no step can overflow float32 (:func:`check_bounds`),
so a loaded model always gives finite probabilities.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import checked
from .config import ENSEMBLES, INPUTS
from .errors import InputFileError
from .files import new_hdf5
from .gestures import NUM_GESTURES

__all__ = [
    "ENSEMBLES",
    "FORMAT",
    "FORMAT_VERSION",
    "LIMITS",
    "METADATA_ATTRIBUTE",
    "ModelFileError",
    "check_bounds",
    "dataset_shapes",
    "read",
    "write",
]

FORMAT = "gesture-rnn-model"
FORMAT_VERSION = 1
METADATA_ATTRIBUTE = "gesture_rnn"
CHECKSUMS = "sha256"
"""Metadata key of the checksums: dataset name -> SHA-256 (hex) of its float32 values,
little-endian, C order. Files written before it existed load with a notice."""
DTYPE = np.dtype("float32")
LIMITS = {"layers": 8, "units": 2048, "embedding": 1024}
"""The largest architecture a file may declare (the largest size trained, ``original``,
is 3 x 512 with 128-wide embeddings)."""
MAX_FILE_BYTES = 1 << 30
LOGIT_BOUND = 1e30
"""No pre-activation or logit may be able to reach this (float32 ends at 3.4e38): then
sums cannot overflow, tanh and the softmax stay finite."""
WHAT = "model file"


class ModelFileError(InputFileError):
    """A model file that cannot be used: missing, damaged, not ours, or a wrong version."""


def parse_metadata(path: Path, raw) -> dict:
    """The metadata attribute as a dict, with the format and version checked."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        metadata = json.loads(str(raw))
    except (ValueError, RecursionError) as error:
        reason = str(error).splitlines()[0] if str(error) else "too deeply nested"
        raise ModelFileError(f"{WHAT} {path}: its metadata is not valid JSON ({reason})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a Gesture-RNN model file (format is not '{FORMAT}')")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version!r}; this version of gesture-rnn "
            f"reads version {FORMAT_VERSION}"
        )
    return metadata


def dataset_shapes(metadata: dict, path: Path | str = "the model") -> dict[str, tuple[int, ...]]:
    """Dataset names and the shapes the metadata's architecture implies.

    Raises :class:`ModelFileError` for an architecture the format does not allow:
    an ensemble outside :data:`ENSEMBLES`, sizes outside 1..:data:`LIMITS`.
    """
    try:
        k = metadata["ensemble"]
        arch = metadata["architecture"]
        layers, units, width = arch["layers"], arch["units"], arch["embedding"]
        representation, cell = arch["input"], arch["cell"]
        stay, copy = arch.get("stay", False), arch.get("copy", False)
    except (KeyError, TypeError) as error:
        raise ModelFileError(f"{WHAT} {path}: metadata lacks a valid {error} entry") from None
    sizes = {"layers": layers, "units": units, "embedding": width}
    for name, value in sizes.items():
        if type(value) is not int or not 1 <= value <= LIMITS[name]:
            raise ModelFileError(
                f"{WHAT} {path}: architecture {name} {value!r} is not a whole number "
                f"1-{LIMITS[name]}"
            )
    if type(k) is not int or k not in ENSEMBLES or cell != "lstm":
        raise ModelFileError(
            f"{WHAT} {path}: unsupported architecture (ensemble {k!r}, {cell!r} cell); "
            f"this gesture-rnn runs LSTM ensembles of {', '.join(map(str, ENSEMBLES))}"
        )
    if representation not in INPUTS:
        raise ModelFileError(f"{WHAT} {path}: unknown input representation {representation!r}")
    if not isinstance(stay, bool) or not isinstance(copy, bool):
        raise ModelFileError(f"{WHAT} {path}: architecture stay and copy must be true or false")
    if representation == "joint":
        shapes = {"embedding": (NUM_GESTURES**k, width)}
        first = width
    else:  # "players"
        shapes = {"embedding": (k, NUM_GESTURES, width)}
        first = k * width
    for i in range(layers):
        shapes[f"lstm_{i}/kernel"] = (first if i == 0 else units, 4 * units)
        shapes[f"lstm_{i}/recurrent_kernel"] = (units, 4 * units)
        shapes[f"lstm_{i}/bias"] = (4 * units,)
    shapes["output/kernel"] = (units, NUM_GESTURES ** (k - 1))
    shapes["output/bias"] = (NUM_GESTURES ** (k - 1),)
    if stay:
        shapes["output/stay"] = (NUM_GESTURES ** (k - 1),)
    if copy:
        shapes["output/copy"] = (k - 1, NUM_GESTURES)
    return shapes


def read(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """The weights (float32, by dataset name) and metadata of a model file, checked.

    Raises :class:`ModelFileError`, one line naming the file, for anything that is not a
    usable model of this format version.
    """
    path = Path(path)
    where = f"{WHAT} {path}"
    with checked.open_hdf5(path, WHAT, MAX_FILE_BYTES, ModelFileError) as f:
        if METADATA_ATTRIBUTE not in f.attrs:
            raise ModelFileError(
                f"{path} is an HDF5 file but not a Gesture-RNN model "
                f"(no '{METADATA_ATTRIBUTE}' attribute)"
            )
        metadata = parse_metadata(path, f.attrs[METADATA_ATTRIBUTE])
        shapes = dataset_shapes(metadata, path)
        nodes = {
            name: checked.dataset(f, name, where, ModelFileError, DTYPE, shape)
            for name, shape in shapes.items()
        }
        weights = {
            name: checked.read(node, where, ModelFileError).astype(DTYPE, copy=False)
            for name, node in nodes.items()
        }
    checked.verify_checksums(weights, metadata.get(CHECKSUMS), path, WHAT, ModelFileError)
    for name, array in weights.items():
        checked.check_finite(array, name, where, ModelFileError)
    check_bounds(weights, metadata, where)
    return weights, metadata


def check_bounds(weights: dict[str, np.ndarray], metadata: dict, where: str) -> None:
    """Prove that every step gives finite probabilities, or raise :class:`ModelFileError`.

    In an LSTM every layer's h is in [-1, 1] (sigmoid times tanh), and layer 0's input is
    one embedding row, so a gate's pre-activation is at most ``sum_rows |kernel| * max|input|
    + sum_rows |recurrent_kernel| + |bias|`` and a logit at most ``sum_rows |output/kernel|
    + |output/bias| + |stay| + sum_i max |copy[i]|``, column by column. Below
    :data:`LOGIT_BOUND` none of the sums can overflow float32; tanh of a finite number is
    finite, and the softmax subtracts the largest logit first.
    """
    arch = metadata["architecture"]
    embedding = np.abs(weights["embedding"].astype(np.float64)).max()
    worst, worst_name = 0.0, ""
    for i in range(arch["layers"]):
        scale = embedding if i == 0 else 1.0
        bound = (
            np.abs(weights[f"lstm_{i}/kernel"].astype(np.float64)).sum(axis=0) * scale
            + np.abs(weights[f"lstm_{i}/recurrent_kernel"].astype(np.float64)).sum(axis=0)
            + np.abs(weights[f"lstm_{i}/bias"].astype(np.float64))
        ).max()
        if bound > worst:
            worst, worst_name = bound, f"lstm_{i}"
    logits = np.abs(weights["output/kernel"].astype(np.float64)).sum(axis=0) + np.abs(
        weights["output/bias"].astype(np.float64)
    )
    if "output/stay" in weights:
        logits += np.abs(weights["output/stay"].astype(np.float64))
    if "output/copy" in weights:
        logits += np.abs(weights["output/copy"].astype(np.float64)).max(axis=1).sum()
    if logits.max() > worst:
        worst, worst_name = logits.max(), "output"
    if not worst < LOGIT_BOUND:
        raise ModelFileError(
            f"{where}: the weights of {worst_name} are too large (its sums could reach "
            f"{worst:.3g}; at most {LOGIT_BOUND:.0e}): a step would not give finite "
            "probabilities"
        )


def write(path: str | Path, weights: dict[str, np.ndarray], metadata: dict) -> None:
    """Write ``weights`` and ``metadata`` (with checksums added) to ``path`` as they are.

    The weights must be exactly the datasets :func:`dataset_shapes` names, and must pass
    :func:`check_bounds`, so that everything written can be read back. Callers write to a
    temporary file and rename it (:func:`gesture_rnn.export.write_model_file`).
    """

    shapes = dataset_shapes(metadata)
    arrays = {name: np.ascontiguousarray(w, dtype=DTYPE) for name, w in weights.items()}
    if set(arrays) != set(shapes):
        raise ValueError(f"model weights {sorted(arrays)} are not the format's {sorted(shapes)}")
    for name, shape in shapes.items():
        if arrays[name].shape != shape:
            raise ValueError(f"model weights {name}: shape {arrays[name].shape}, not {shape}")
    check_bounds(arrays, metadata, "the model")
    metadata = {**metadata, CHECKSUMS: checked.checksums(arrays)}
    with new_hdf5(path) as f:
        f.attrs[METADATA_ATTRIBUTE] = json.dumps(metadata, indent=1, sort_keys=False)
        for name, array in arrays.items():
            f.create_dataset(name, data=array)


def add_checksums(path: str | Path) -> None:
    """Rewrite a model file without checksums (an older one) with them, weights unchanged.

    Used once for the bundled models: ``python -c "from gesture_rnn import model_format;
    model_format.add_checksums('gesture_rnn/models/quartet.h5')"``.
    """
    path = Path(path)
    weights, metadata = read(path)
    metadata.pop(CHECKSUMS, None)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        write(tmp, weights, metadata)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
