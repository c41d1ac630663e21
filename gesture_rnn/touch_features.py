"""The Metatone classifier's 8 features of a window of one performer's touches.

For a window of touch events (the original used the 5 seconds ``[t-5, t]``):

==================  ==========================================================
``freq``            number of events
``touchdown_freq``  events with velocity 0 (a finger going down)
``movement_freq``   events with velocity other than 0 (a finger moving)
``centroid_x/y``    mean x and y, in screen points
``std_x/y``         sample standard deviation of x and y (ddof 1; 0 below 2 events)
``velocity``        mean velocity (points moved since the event before)
==================  ==========================================================

An empty window has centroid (-1, -1) and zeros elsewhere. These are the definitions of
the classifier that labelled the corpus, reimplemented here.

:func:`window_features` computes one window (the bridge, once a second);
:func:`features_at` computes many windows over a long stream at once from running sums
(building training data from the corpus).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FEATURE_NAMES",
    "LEAD_SCREEN",
    "NUM_FEATURES",
    "WINDOW_SECONDS",
    "features_at",
    "window_features",
]

FEATURE_NAMES = (
    "freq",
    "touchdown_freq",
    "movement_freq",
    "centroid_x",
    "centroid_y",
    "std_x",
    "std_y",
    "velocity",
)
NUM_FEATURES = len(FEATURE_NAMES)
WINDOW_SECONDS = 5.0
# Touches on a unit screen (x, y 0-1: the bridge's /lead/touch, a corpus index's sequences)
# are scaled to this screen, in points, before their features are computed: the landscape
# iPad screen of most of the corpus the classifier was trained on.
LEAD_SCREEN = (1024.0, 768.0)
EMPTY = np.array([0, 0, 0, -1, -1, 0, 0, 0], dtype=np.float64)


def window_features(x, y, velocity) -> np.ndarray:
    """The 8 features (float64) of the events ``x``, ``y``, ``velocity`` of one window."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    v = np.asarray(velocity, dtype=np.float64)
    n = len(x)
    if n == 0:
        return EMPTY.copy()
    touchdowns = int(np.count_nonzero(v == 0))
    std_x = float(np.std(x, ddof=1)) if n > 1 else 0.0
    std_y = float(np.std(y, ddof=1)) if n > 1 else 0.0
    return np.array(
        [n, touchdowns, n - touchdowns, x.mean(), y.mean(), std_x, std_y, v.mean()],
        dtype=np.float64,
    )


def features_at(times, x, y, velocity, ends, window: float = WINDOW_SECONDS) -> np.ndarray:
    """Features ``(len(ends), 8)`` of the windows ``[end - window, end]`` of one stream.

    ``times`` (seconds, sorted ascending) are the stream's events. Each window is two
    binary searches and differences of running sums, so a whole performance costs about
    as much as reading it.
    """
    times = np.asarray(times, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    if len(times) > 1 and np.any(np.diff(times) < 0):
        raise ValueError("touch times must be sorted ascending")
    lo = np.searchsorted(times, ends - window, side="left")
    hi = np.searchsorted(times, ends, side="right")
    n = (hi - lo).astype(np.float64)
    # Centre the points before summing squares so the variances keep their precision.
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    v = np.asarray(velocity, dtype=np.float64)
    cx, cy = (x.mean(), y.mean()) if len(x) else (0.0, 0.0)
    columns = np.stack([v == 0, x - cx, y - cy, (x - cx) ** 2, (y - cy) ** 2, v], axis=1)
    sums = np.concatenate([np.zeros((1, 6)), np.cumsum(columns, axis=0)])
    s = sums[hi] - sums[lo]
    out = np.tile(EMPTY, (len(ends), 1))
    some = n > 0
    k = n[some]
    out[some, 0] = k
    out[some, 1] = s[some, 0]
    out[some, 2] = k - s[some, 0]
    mean_x = s[some, 1] / k
    mean_y = s[some, 2] / k
    out[some, 3] = mean_x + cx
    out[some, 4] = mean_y + cy
    many = k > 1
    denominator = np.where(many, k - 1, 1.0)
    var_x = (s[some, 3] - k * mean_x**2) / denominator
    var_y = (s[some, 4] - k * mean_y**2) / denominator
    out[some, 5] = np.where(many, np.sqrt(np.maximum(var_x, 0.0)), 0.0)
    out[some, 6] = np.where(many, np.sqrt(np.maximum(var_y, 0.0)), 0.0)
    out[some, 7] = s[some, 5] / k
    return out
