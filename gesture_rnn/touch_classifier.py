"""Classify a window of touches as one of the nine gestures, with numpy alone.

>>> from gesture_rnn import touch_classifier
>>> model = touch_classifier.load()            # the bundled classifier
>>> model.classify_touches(x, y, velocity)     # one 5-second window, screen points
3

The model is a small multilayer perceptron (or, with no hidden layer, multinomial logistic
regression) over the 8 features of :mod:`gesture_rnn.touch_features`, made well scaled:
counts, spreads and velocity through ``log1p``, the centroid divided by the screen width,
then each standardised by the training set's mean and standard deviation. Its learned
parameters are plain arrays: no corpus samples are stored.

File format (HDF5): attribute ``metadata`` holds JSON with ``format``
(``gesture-rnn-touch-classifier``), ``format_version``, ``feature_names``, ``scaling``
(``log1p`` feature names, ``divide`` by feature name, ``mean``, ``std``), ``layers`` (sizes),
``activation`` and whatever training recorded (command, held-out accuracy, ...); datasets
``W0, b0, W1, b1, ...`` are the dense layers, input first. See docs/touch-classifier.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import checked
from .errors import InputFileError
from .files import new_hdf5
from .gestures import NUM_GESTURES
from .touch_features import FEATURE_NAMES, NUM_FEATURES, window_features

__all__ = [
    "BUNDLED",
    "FORMAT",
    "FORMAT_VERSION",
    "TouchClassifier",
    "TouchClassifierError",
    "load",
    "save",
    "transform",
]

FORMAT = "gesture-rnn-touch-classifier"
FORMAT_VERSION = 1
BUNDLED = Path(__file__).resolve().parent / "models" / "touches.h5"
LOG1P = ("freq", "touchdown_freq", "movement_freq", "std_x", "std_y", "velocity")
DIVIDE = {"centroid_x": 1024.0, "centroid_y": 1024.0}
WHAT = "touch classifier"
MAX_FILE_BYTES = 64 * checked.MiB
MAX_LAYERS, MAX_WIDTH = 16, 4096
WEIGHT_LIMIT = 1e6
"""No weight, bias or scaling value may be larger (trained ones are a few units at most)."""
_LOG1P_MASK = np.array([name in LOG1P for name in FEATURE_NAMES])
_DIVISORS = np.array([DIVIDE.get(name, 1.0) for name in FEATURE_NAMES])


def transform(features: np.ndarray) -> np.ndarray:
    """Raw features ``(n, 8)`` made well scaled, before standardising: ``log1p`` of the
    counts, spreads and velocity, the centroid divided by the screen width."""
    f = np.asarray(features, dtype=np.float64)
    return np.where(_LOG1P_MASK, np.log1p(np.maximum(f, 0.0)), f) / _DIVISORS


class TouchClassifierError(InputFileError):
    """A touch classifier file that is missing, damaged or of another kind."""


@dataclass
class TouchClassifier:
    """Dense layers ``weights[i]`` (in x out) and ``biases[i]``; ReLU between them."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    mean: np.ndarray  # (8,) of the transformed features
    std: np.ndarray  # (8,)
    metadata: dict = field(default_factory=dict)

    def scale(self, features: np.ndarray) -> np.ndarray:
        """Raw features ``(n, 8)`` -> the standardised inputs of the first layer."""
        return (transform(features) - self.mean) / self.std

    def logits(self, features: np.ndarray) -> np.ndarray:
        h = self.scale(np.atleast_2d(features))
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < last:
                h = np.maximum(h, 0.0)
        return h

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Softmax over the nine gestures, ``(n, 9)``."""
        z = self.logits(features)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The most likely gesture (int) of each row of raw features ``(n, 8)``."""
        return np.argmax(self.logits(features), axis=1)

    def classify(self, features) -> int:
        """The gesture 0-8 of one window's raw features."""
        return int(self.predict(np.asarray(features, dtype=np.float64).reshape(1, -1))[0])

    def classify_touches(self, x, y, velocity) -> int:
        """The gesture 0-8 of one window of events (x, y in screen points)."""
        return self.classify(window_features(x, y, velocity))


def save(model: TouchClassifier, path: str | Path) -> None:
    """Write ``model`` to ``path`` (HDF5), with a SHA-256 of every dataset in the metadata.
    Callers write to a temporary name first."""

    arrays = {}
    for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        arrays[f"W{i}"] = np.asarray(w, dtype=np.float32)
        arrays[f"b{i}"] = np.asarray(b, dtype=np.float32)
    metadata = dict(model.metadata)
    metadata.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        feature_names=list(FEATURE_NAMES),
        scaling={
            "log1p": list(LOG1P),
            "divide": DIVIDE,
            "mean": [float(v) for v in model.mean],
            "std": [float(v) for v in model.std],
        },
        layers=[NUM_FEATURES] + [int(w.shape[1]) for w in model.weights],
        activation="relu",
        sha256=checked.checksums(arrays),
    )
    with new_hdf5(path) as f:
        f.attrs["metadata"] = json.dumps(metadata)
        for name, array in arrays.items():
            f.create_dataset(name, data=array)


def load(path: str | Path | None = None) -> TouchClassifier:
    """Read a classifier file (default: the bundled one), checked like every file we read
    (:mod:`gesture_rnn.checked`): its kind, version and layer sizes from the metadata before
    any data, then the checksums and the values (finite, below :data:`WEIGHT_LIMIT`).

    Raises :class:`TouchClassifierError`, one line naming the file.
    """
    path = Path(path) if path is not None else BUNDLED
    where = f"{WHAT} {path}"
    with checked.open_hdf5(path, WHAT, MAX_FILE_BYTES, TouchClassifierError) as f:
        metadata = _metadata(path, f.attrs.get("metadata"))
        sizes = metadata.get("layers")
        if not (
            isinstance(sizes, list)
            and 2 <= len(sizes) <= MAX_LAYERS + 1
            and all(type(n) is int and 1 <= n <= MAX_WIDTH for n in sizes)
            and sizes[0] == NUM_FEATURES
            and sizes[-1] == NUM_GESTURES
        ):
            raise TouchClassifierError(
                f"{where} is damaged: its layers {sizes!r} do not go from {NUM_FEATURES} "
                f"features to {NUM_GESTURES} gestures (at most {MAX_LAYERS} layers of "
                f"{MAX_WIDTH})"
            )
        shapes = {}
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
            shapes[f"W{i}"], shapes[f"b{i}"] = (n_in, n_out), (n_out,)
        nodes = {
            name: checked.dataset(f, name, where, TouchClassifierError, "float32", shape)
            for name, shape in shapes.items()
        }
        arrays = {
            name: checked.read(node, where, TouchClassifierError) for name, node in nodes.items()
        }
    checked.verify_checksums(arrays, metadata.get("sha256"), path, WHAT, TouchClassifierError)
    for name, array in arrays.items():
        checked.check_finite(array, name, where, TouchClassifierError)
        if np.abs(array).max() > WEIGHT_LIMIT:
            raise TouchClassifierError(
                f"{where}: dataset {name} holds values beyond +-{WEIGHT_LIMIT:g}; refused"
            )
    try:
        return _from_parts(metadata, arrays)
    except (KeyError, TypeError, ValueError) as error:
        raise TouchClassifierError(f"{where} is damaged: {error}") from None


def _metadata(path: Path, raw) -> dict:
    try:
        metadata = json.loads(str(raw.decode() if isinstance(raw, bytes) else raw))
    except (TypeError, ValueError, AttributeError, RecursionError):
        metadata = None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise TouchClassifierError(
            f"{path} is not a touch classifier (its metadata attribute is not {FORMAT!r})"
        )
    if metadata.get("format_version") != FORMAT_VERSION:
        raise TouchClassifierError(
            f"{path} has format version {metadata.get('format_version')!r}; "
            f"this version of gesture-rnn reads version {FORMAT_VERSION}"
        )
    return metadata


def _from_parts(metadata: dict, arrays: dict[str, np.ndarray]) -> TouchClassifier:
    if list(metadata["feature_names"]) != list(FEATURE_NAMES):
        raise ValueError(f"its features {metadata['feature_names']} are not {list(FEATURE_NAMES)}")
    scaling = metadata["scaling"]
    if list(scaling["log1p"]) != list(LOG1P) or dict(scaling["divide"]) != DIVIDE:
        raise ValueError("its feature scaling is not the one this version computes")
    mean = np.asarray(scaling["mean"], dtype=np.float64)
    std = np.asarray(scaling["std"], dtype=np.float64)
    if mean.shape != (NUM_FEATURES,) or std.shape != (NUM_FEATURES,):
        raise ValueError("its scaling mean/std are not 8 numbers")
    if not (np.all(np.abs(mean) <= WEIGHT_LIMIT) and np.all((std > 0) & (std <= WEIGHT_LIMIT))):
        raise ValueError(f"its scaling mean/std are not finite (std > 0) within {WEIGHT_LIMIT:g}")
    count = sum(1 for name in arrays if name.startswith("W"))
    weights, biases = [], []
    size = NUM_FEATURES
    for i in range(count):
        w = arrays[f"W{i}"].astype(np.float64)
        b = arrays[f"b{i}"].astype(np.float64)
        if w.ndim != 2 or w.shape[0] != size or b.shape != (w.shape[1],):
            raise ValueError(f"layer {i} has shapes {w.shape} and {b.shape}")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ValueError(f"layer {i} holds values that are not finite")
        weights.append(w)
        biases.append(b)
        size = w.shape[1]
    if count == 0 or size != NUM_GESTURES:
        raise ValueError(f"its layers do not end in {NUM_GESTURES} gestures")
    return TouchClassifier(weights, biases, mean, std, metadata)
