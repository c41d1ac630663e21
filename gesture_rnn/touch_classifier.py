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
_LOG1P_MASK = np.array([name in LOG1P for name in FEATURE_NAMES])
_DIVISORS = np.array([DIVIDE.get(name, 1.0) for name in FEATURE_NAMES])


def transform(features: np.ndarray) -> np.ndarray:
    """Raw features ``(n, 8)`` made well scaled, before standardising: ``log1p`` of the
    counts, spreads and velocity, the centroid divided by the screen width."""
    f = np.asarray(features, dtype=np.float64)
    return np.where(_LOG1P_MASK, np.log1p(np.maximum(f, 0.0)), f) / _DIVISORS


class TouchClassifierError(Exception):
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
    """Write ``model`` to ``path`` (HDF5). Callers write to a temporary name first."""
    import h5py

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
    )
    with h5py.File(path, "w") as f:
        f.attrs["metadata"] = json.dumps(metadata)
        for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
            f.create_dataset(f"W{i}", data=np.asarray(w, dtype=np.float32))
            f.create_dataset(f"b{i}", data=np.asarray(b, dtype=np.float32))


def load(path: str | Path | None = None) -> TouchClassifier:
    """Read a classifier file (default: the bundled one); any problem is one clear error."""
    import h5py  # here, so that importing this module stays cheap

    path = Path(path) if path is not None else BUNDLED
    if not path.is_file():
        raise TouchClassifierError(f"touch classifier {path} does not exist")
    if not h5py.is_hdf5(path):
        raise TouchClassifierError(f"{path} is not a touch classifier (not an HDF5 file)")
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("metadata")
            arrays = {name: np.asarray(f[name][()]) for name in f if name[:1] in "Wb"}
    except (OSError, KeyError, ValueError) as error:
        raise TouchClassifierError(f"{path} cannot be read: {error}") from None
    try:
        metadata = json.loads(str(raw.decode() if isinstance(raw, bytes) else raw))
    except (TypeError, ValueError, AttributeError):
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
    try:
        return _from_parts(metadata, arrays)
    except (KeyError, TypeError, ValueError) as error:
        raise TouchClassifierError(f"{path} is damaged: {error}") from None


def _from_parts(metadata: dict, arrays: dict[str, np.ndarray]) -> TouchClassifier:
    if list(metadata["feature_names"]) != list(FEATURE_NAMES):
        raise ValueError(f"its features {metadata['feature_names']} are not {list(FEATURE_NAMES)}")
    scaling = metadata["scaling"]
    if list(scaling["log1p"]) != list(LOG1P) or dict(scaling["divide"]) != DIVIDE:
        raise ValueError("its feature scaling is not the one this version computes")
    mean = np.asarray(scaling["mean"], dtype=np.float64)
    std = np.asarray(scaling["std"], dtype=np.float64)
    if mean.shape != (NUM_FEATURES,) or std.shape != (NUM_FEATURES,) or np.any(std <= 0):
        raise ValueError("its scaling mean/std are not 8 numbers (std > 0)")
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
