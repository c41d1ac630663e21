"""Calibrate a model so that its sampled ensemble plays like the real players it learnt from.

Why: teacher-forced, a trained model is calibrated (dividing the bundled quartet's logits by
any temperature fitted on its validation split makes its NLL worse), but sampled on its own
answers it drifts: the bundled quartet, uncalibrated, played N on 38% of seconds against
15-23% for real players, and changed gesture less often. A model that only ever saw true
pasts meets its own, slightly wrong, pasts when it plays ("exposure bias": Bengio et al.,
*Scheduled sampling for sequence prediction with recurrent neural networks*, 2015).

What: 18 numbers added to the output layer's logits, in the file format as it is:

    logit(s) += sum_i b[s_i] + sum_i c[a_i] * [s_i == a_i]

for the next state ``s`` of the others and their state a second before ``a`` (player i's
gestures ``s_i`` and ``a_i``). ``b`` (9,) is a bias for each gesture an other player plays
next (``b[N] = 0``: only differences matter); ``c`` (9,) is a bias for keeping gesture
``a_i``. ``b`` goes into ``output/bias``; ``c`` into ``output/copy`` (the copy logit, the
same row for every other player, since training sees every ordering of them).

How (:func:`fit`): moment matching. The model plays the ensemble against every real lead of
the *training* performances (each player in turn, ``seeds`` runs each, temperature 1,
liveliness 1), and each iteration moves ``b[g]`` by ``step * (log real share of g - log
generated share of g)`` and ``c[a]`` by ``step * (logit real P(keep a) - logit generated
P(keep a))``, shares and keep rates pooled over every second of every part. The result is
the mean of the second half of the iterations, which smooths the sampling noise. Held-out
performances are not used, so evaluating on them stays honest. The fitted model then plays
once more (seed ``seed + iterations``); what it plays is :attr:`Calibration.result`.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .config import CALIBRATION_ITERATIONS
from .corpus import Performance
from .evaluate import single_threaded_blas
from .gestures import NUM_GESTURES, decode_ensemble
from .realism import flux, generate_batch
from .runtime import GestureModel

log = logging.getLogger(__name__)

ITERATIONS = CALIBRATION_ITERATIONS[0]
STEP = 0.25
"""Iteration count and step size: at 0.8 the fit oscillated and diverged; at 0.25 the
bundled quartet's pooled histogram came within 0.03 (total variation) of the real one by
the second iteration and stayed there."""
SEEDS = 2


@dataclass
class Calibration:
    """The fitted biases and how the fit went.

    ``gesture_bias`` (9,) is ``b`` and ``keep_bias`` (9,) is ``c`` of the module's formula,
    in logits (nats). ``history``: per iteration, the generated pooled histogram's total
    variation from the real one, its share of N and its mean flux, played with that
    iteration's biases; ``result``: the same, played with the fitted (mean) biases.
    """

    gesture_bias: np.ndarray
    keep_bias: np.ndarray
    real: dict
    history: list[dict] = field(default_factory=list)
    result: dict = field(default_factory=dict)

    def record(self) -> dict:
        """JSON-ready, for the model file's ``metadata["calibration"]``."""
        return {
            "formula": "logit(s) += sum_i b[s_i] + sum_i c[a_i] * [s_i == a_i]",
            "gesture_bias": [round(float(v), 5) for v in self.gesture_bias],
            "keep_bias": [round(float(v), 5) for v in self.keep_bias],
            "real": self.real,
            "history": self.history,
            "result": self.result,
        }


def pooled_statistics(parts: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Share of seconds on each gesture (9,) and, for each gesture, the share of seconds on
    it followed by a second on it again (9,), pooled over ``parts`` (each (T,) codes).
    Keep rates are smoothed, (keeps + 1) / (seconds + 2), so none is 0 or 1."""
    shares = np.zeros(NUM_GESTURES)
    seconds = np.zeros(NUM_GESTURES)
    keeps = np.zeros(NUM_GESTURES)
    for part in parts:
        part = np.asarray(part, dtype=np.int64)
        shares += np.bincount(part, minlength=NUM_GESTURES)
        seconds += np.bincount(part[:-1], minlength=NUM_GESTURES)
        keeps += np.bincount(part[:-1][part[1:] == part[:-1]], minlength=NUM_GESTURES)
    if shares.sum() == 0:
        raise ValueError("no seconds to count")
    return shares / shares.sum(), (keeps + 1) / (seconds + 2)


def real_statistics(performances: Sequence[Performance]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pooled_statistics` of every real player of ``performances``."""
    return pooled_statistics([p.gestures[:, j] for p in performances for j in range(p.num_players)])


def played_statistics(
    model: GestureModel, performances: Sequence[Performance], seeds: int, seed: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`pooled_statistics` of the parts the model plays against every real lead of
    ``performances``, ``seeds`` runs each; and their mean flux."""
    parts = []
    for i, p in enumerate(performances):
        leads = np.repeat(p.gestures.T, seeds, axis=0)
        for ensemble in generate_batch(model, leads, 1.0, np.random.default_rng([seed, i])):
            parts.extend(ensemble.T)
    return (*pooled_statistics(parts), float(np.mean([flux(q) for q in parts])))


def apply(
    weights: dict[str, np.ndarray], metadata: dict, gesture_bias, keep_bias
) -> tuple[dict[str, np.ndarray], dict]:
    """New weights and metadata with the biases folded into ``output/bias`` and
    ``output/copy`` (created, and ``copy`` set in the architecture and the config, if the
    model had none).
    Applying twice adds up; the inputs are not changed."""
    others = int(metadata["ensemble"]) - 1
    b = np.asarray(gesture_bias, dtype=np.float64)
    c = np.asarray(keep_bias, dtype=np.float64)
    digits = decode_ensemble(np.arange(NUM_GESTURES**others), others)  # (states, others)
    new = dict(weights)
    new["output/bias"] = (weights["output/bias"] + b[digits].sum(axis=1)).astype(np.float32)
    old_copy = weights.get("output/copy", np.zeros((others, NUM_GESTURES), dtype=np.float32))
    new["output/copy"] = (old_copy + c[None, :]).astype(np.float32)
    metadata = copy.deepcopy(metadata)
    metadata["architecture"]["copy"] = True
    if isinstance(metadata.get("config"), dict):  # the Keras model that holds these weights
        metadata["config"]["copy"] = True
    return new, metadata


def fit(
    weights: dict[str, np.ndarray],
    metadata: dict,
    performances: Sequence[Performance],
    iterations: int = ITERATIONS,
    step: float = STEP,
    seeds: int = SEEDS,
    seed: int = 0,
) -> Calibration:
    """Fit the biases on ``performances`` (the model's training split); see the module.

    ``weights`` and ``metadata`` as :func:`gesture_rnn.model_format.read` returns them.
    Raises ValueError without performances or iterations.
    """
    if not performances:
        raise ValueError("calibration needs at least one performance")
    if not CALIBRATION_ITERATIONS[1] <= iterations <= CALIBRATION_ITERATIONS[2]:
        raise ValueError(
            f"calibration takes {CALIBRATION_ITERATIONS[1]}-{CALIBRATION_ITERATIONS[2]} "
            f"iterations, not {iterations}"
        )
    real_shares, real_keeps = real_statistics(performances)

    def played(b: np.ndarray, c: np.ndarray, at: int) -> tuple[np.ndarray, np.ndarray, dict]:
        model = GestureModel(*apply(weights, metadata, b, c))
        shares, keeps, mean_flux = played_statistics(model, performances, seeds, at)
        figures = {
            "histogram_distance": round(float(np.abs(shares - real_shares).sum() / 2), 4),
            "share_of_n": round(float(shares[0]), 4),
            "flux": round(mean_flux, 4),
        }
        return shares, keeps, figures

    b, c = np.zeros(NUM_GESTURES), np.zeros(NUM_GESTURES)
    kept_b, kept_c = [], []
    history = []
    with single_threaded_blas():
        for i in range(iterations):
            started = time.monotonic()
            shares, keeps, figures = played(b, c, seed + i)
            history.append(figures)
            log.info(
                "calibration %d/%d: histogram distance %.3f, N %.3f, flux %.3f (%.1f s)",
                i + 1,
                iterations,
                history[-1]["histogram_distance"],
                shares[0],
                figures["flux"],
                time.monotonic() - started,
            )
            b += step * (np.log(real_shares + 1e-4) - np.log(shares + 1e-4))
            b -= b[0]
            c += step * (_logit(real_keeps) - _logit(keeps))
            if i >= iterations // 2:
                kept_b.append(b.copy())
                kept_c.append(c.copy())
        b, c = np.mean(kept_b, axis=0), np.mean(kept_c, axis=0)
        _, _, result = played(b, c, seed + iterations)
    real_flux = float(np.mean([flux(q) for p in performances for q in p.gestures.T]))
    return Calibration(
        b,
        c,
        real={
            "histogram": [round(float(v), 4) for v in real_shares],
            "keep": [round(float(v), 4) for v in real_keeps],
            "flux": round(real_flux, 4),
            "performances": len(performances),
        },
        history=history,
        result=result,
    )


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))
