"""Does the sampled ensemble play like real players? Figures of parts, generated and real.

A *part* is one player's gestures, a (seconds,) array of codes 0-8. For each part:

- **flux**: the share of seconds whose gesture differs from the second before,
  ``changes / (T - 1)``;
- **transition entropy**: the Shannon entropy in bits of the part's 9 x 9 transition
  counts (``counts[a, b]``: seconds on ``b`` after a second on ``a``, self-transitions
  included) normalised to sum to 1; 0 for a part that never changes, at most
  ``log2(81)``;
- **histogram**: the share of seconds on each of the nine gestures.

Two sets of parts are compared by the Wasserstein-1 distance between their flux values
(and between their entropy values), each set an empirical distribution with equal
weights (the area between the two cumulative distribution functions), and by the total
variation distance, ``sum |a - b| / 2``, between their mean histograms.

**Response**: in an ensemble (a lead and the others), a *lead start* is a second ``t``
at which the lead plays a gesture other than N after at least :data:`QUIET_SECONDS` of
N, while every other player was N the second before. Its response time is ``s - t`` for
the first ``s >= t`` at which another player is not N, in seconds; none within
:data:`RESPONSE_CENSOR` seconds, or before the performance ends, counts as
:data:`RESPONSE_CENSOR`. Reported: the count, median and 75th percentile.

:func:`realism` makes the whole report: the model plays the ensemble against every real
lead of the performances (each player in turn, several seeds), beside the real players
of the same performances, a first-order Markov chain's parts, and the natural spread
between two sets of real players (for example the training and the test performances).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .corpus import Performance
from .evaluate import BatchModel, MarkovBaseline, single_threaded_blas
from .gestures import NUM_GESTURES, decode_ensemble
from .runtime import sample_states

log = logging.getLogger(__name__)

QUIET_SECONDS = 3
"""Seconds of N before a lead's non-N gesture for it to count as a start."""
RESPONSE_CENSOR = 60
"""Response times are counted up to this many seconds; longer ones count as this."""

GOALS = {"flux": 0.03, "entropy": 0.30, "histogram": 0.14, "response_median_ratio": 0.30}
"""The goals of issue 12 for the model's parts: flux distance <= 0.03, entropy distance
<= 0.30 bits, histogram distance <= 0.14, and a response median within 30% of the real."""


# -- one part ---------------------------------------------------------------------------


def flux(part: np.ndarray) -> float:
    """Share of seconds (after the first) whose gesture differs from the second before."""
    part = np.asarray(part)
    if len(part) < 2:
        return 0.0
    return float(np.count_nonzero(part[1:] != part[:-1]) / (len(part) - 1))


def transition_counts(part: np.ndarray) -> np.ndarray:
    """(9, 9) int64 counts: ``[a, b]`` = seconds on ``b`` after a second on ``a``."""
    part = np.asarray(part, dtype=np.int64)
    return np.bincount(part[:-1] * NUM_GESTURES + part[1:], minlength=NUM_GESTURES**2).reshape(
        NUM_GESTURES, NUM_GESTURES
    )


def transition_entropy(part: np.ndarray) -> float:
    """Entropy in bits of the normalised transition counts (0 for fewer than 2 seconds)."""
    counts = transition_counts(part).ravel()
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum() + 0.0)


def histogram(part: np.ndarray) -> np.ndarray:
    """(9,) share of seconds on each gesture."""
    part = np.asarray(part, dtype=np.int64)
    return np.bincount(part, minlength=NUM_GESTURES) / max(1, len(part))


# -- distances --------------------------------------------------------------------------


def wasserstein1(a: Sequence[float], b: Sequence[float]) -> float:
    """Wasserstein-1 distance between two 1-D empirical distributions (equal weights).

    The area between the two cumulative distribution functions (as
    ``scipy.stats.wasserstein_distance``, which the run-time does not depend on).
    """
    a, b = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    if not len(a) or not len(b):
        raise ValueError("the Wasserstein distance needs values on both sides")
    points = np.concatenate([a, b])
    points.sort()
    widths = np.diff(points)
    cdf_a = np.searchsorted(a, points[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, points[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """``sum |p - q| / 2`` of two distributions over the same outcomes."""
    return float(np.abs(np.asarray(p) - np.asarray(q)).sum() / 2)


# -- response ---------------------------------------------------------------------------


def lead_starts(lead: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Seconds at which the lead starts (see the module) while the others were all N.

    ``lead``: (T,); ``others``: (T, m). Returns the seconds ``t``, ascending.
    """
    lead = np.asarray(lead)
    others = np.asarray(others).reshape(len(lead), -1)
    quiet = np.convolve(lead == 0, np.ones(QUIET_SECONDS, dtype=int), "full")[: len(lead)]
    # quiet[t - 1] == QUIET_SECONDS: the lead was N at t - QUIET_SECONDS .. t - 1
    t = np.arange(QUIET_SECONDS, len(lead))
    start = (lead[t] != 0) & (quiet[t - 1] == QUIET_SECONDS) & np.all(others[t - 1] == 0, axis=1)
    return t[start]


def response_times(lead: np.ndarray, others: np.ndarray) -> list[float]:
    """Seconds from each lead start until another player leaves N, censored (module)."""
    others = np.asarray(others).reshape(len(lead), -1)
    playing = np.flatnonzero(np.any(others != 0, axis=1))
    times = []
    for t in lead_starts(lead, others):
        later = playing[np.searchsorted(playing, t) :]
        wait = int(later[0] - t) if len(later) else RESPONSE_CENSOR
        times.append(float(min(wait, RESPONSE_CENSOR)))
    return times


def response_summary(times: Sequence[float]) -> dict:
    """Count, median and 75th percentile of response times (None without any)."""
    if not len(times):
        return {"starts": 0, "median": None, "p75": None}
    return {
        "starts": len(times),
        "median": float(np.median(times)),
        "p75": float(np.percentile(times, 75)),
    }


# -- sets of parts ----------------------------------------------------------------------


@dataclass
class Parts:
    """Per-part figures of a set of parts, and the response times of its ensembles."""

    flux: list[float]
    entropy: list[float]
    histograms: list[np.ndarray]
    responses: list[float]

    @classmethod
    def empty(cls) -> Parts:
        return cls([], [], [], [])

    def add_part(self, part: np.ndarray) -> None:
        self.flux.append(flux(part))
        self.entropy.append(transition_entropy(part))
        self.histograms.append(histogram(part))

    def add_ensemble(self, lead: np.ndarray, others: np.ndarray) -> None:
        """The others' parts, and the response times to the lead."""
        for part in np.asarray(others).T:
            self.add_part(part)
        self.responses.extend(response_times(lead, others))

    def mean_histogram(self) -> np.ndarray:
        return np.mean(self.histograms, axis=0)

    def summary(self) -> dict:
        return {
            "parts": len(self.flux),
            "flux": {"mean": float(np.mean(self.flux)), "median": float(np.median(self.flux))},
            "entropy": {
                "mean": float(np.mean(self.entropy)),
                "median": float(np.median(self.entropy)),
            },
            "histogram": [round(float(v), 4) for v in self.mean_histogram()],
            "response": response_summary(self.responses),
        }

    def distance(self, real: Parts) -> dict:
        """Wasserstein-1 of flux and of entropy, TV of mean histograms, against ``real``."""
        return {
            "flux": wasserstein1(self.flux, real.flux),
            "entropy": wasserstein1(self.entropy, real.entropy),
            "histogram": total_variation(self.mean_histogram(), real.mean_histogram()),
        }


def real_parts(performances: Sequence[Performance], ensemble: int) -> Parts:
    """Every real player once; response times over every lead and every choice of
    ``ensemble - 1`` others (a performance's subsets of ``ensemble`` players)."""
    parts = Parts.empty()
    for p in performances:
        for part in p.gestures.T:
            parts.add_part(part)
        for lead in range(p.num_players):
            rest = [c for c in range(p.num_players) if c != lead]
            for others in combinations(rest, ensemble - 1):
                parts.responses.extend(
                    response_times(p.gestures[:, lead], p.gestures[:, list(others)])
                )
    return parts


# -- generated parts --------------------------------------------------------------------


def generate_batch(
    model: BatchModel,
    leads: np.ndarray,
    temperature: float,
    rng: np.random.Generator,
    liveliness: float = 1.0,
) -> np.ndarray:
    """The model's ensembles for ``leads`` (n, T) at once: (n, T, k-1) gesture codes.

    As :func:`gesture_rnn.generate.generate` does for one lead: from zero state and an
    all-N ensemble, each sampled answer fed back.
    """
    n, seconds = leads.shape
    others = model.ensemble - 1
    out = np.zeros((n, seconds, others), dtype=np.int8)
    last = np.zeros(n, dtype=np.int64)  # the others' state code, everyone N
    state = model.initial_state(n)
    for t in range(seconds):
        codes = leads[:, t].astype(np.int64) + NUM_GESTURES * last
        probabilities, state = model.step_codes(codes, state)
        last = sample_states(np.asarray(probabilities), temperature, rng, liveliness, last)
        out[:, t] = decode_ensemble(last, others)
    return out


def markov_batch(
    markov: MarkovBaseline,
    seconds: int,
    n: int,
    temperature: float,
    rng: np.random.Generator,
    liveliness: float = 1.0,
) -> np.ndarray:
    """``n`` ensembles of a first-order Markov chain (it does not hear the lead):
    (n, seconds, k-1), from an all-N ensemble."""
    others = markov.ensemble - 1
    out = np.zeros((n, seconds, others), dtype=np.int8)
    last = np.zeros(n, dtype=np.int64)
    for t in range(seconds):
        last = sample_states(markov.probabilities(last), temperature, rng, liveliness, last)
        out[:, t] = decode_ensemble(last, others)
    return out


def generated_parts(
    performances: Sequence[Performance],
    play,
    seeds: int,
) -> tuple[Parts, dict]:
    """Parts played by ``play(leads (n, T), rng) -> (n, T, k-1)`` against each real lead
    of each performance, ``seeds`` times; also the first ensemble, for a plot."""
    parts = Parts.empty()
    first: dict = {}
    for i, p in enumerate(performances):
        leads = np.repeat(p.gestures.T, seeds, axis=0)  # (players * seeds, T)
        ensembles = play(leads, np.random.default_rng([i, seeds]))
        for lead, others in zip(leads, ensembles, strict=True):
            parts.add_ensemble(lead, others)
        if not first:  # the first lead: its generated and its real ensemble
            k = ensembles.shape[2] + 1
            first = {
                "performance": p.name,
                "lead": p.players[0] if p.players else "player 0",
                "generated": np.column_stack([leads[0], ensembles[0]]),
                "real": p.gestures[:, :k],
            }
    return parts, first


def realism(
    model: BatchModel,
    performances: Sequence[Performance],
    temperature: float = 1.0,
    liveliness: float = 1.0,
    seeds: int = 5,
    markov: MarkovBaseline | None = None,
    reference: Sequence[Performance] | None = None,
) -> tuple[dict, dict]:
    """The realism report (JSON-ready) and the first generated ensemble (for a plot).

    ``performances``: whose leads the model answers and whose players are the real
    side. ``markov``: a fitted chain whose parts are reported too. ``reference``: other
    real performances (for example the training split) whose players against the real
    side give the natural spread. Every figure is described in the module docstring.
    """
    if not performances:
        raise ValueError("there are no performances to compare with")
    k = model.ensemble
    real = real_parts(performances, k)
    with single_threaded_blas():
        generated, first = generated_parts(
            performances,
            lambda leads, rng: generate_batch(model, leads, temperature, rng, liveliness),
            seeds,
        )
    report = {
        "temperature": temperature,
        "liveliness": liveliness,
        "seeds": seeds,
        "performances": len(performances),
        "real": real.summary(),
        "model": {**generated.summary(), "distance": generated.distance(real)},
    }
    report["model"]["goals"] = goals(report["model"], report["real"])
    if markov is not None:
        chain, _ = generated_parts(
            performances,
            lambda leads, rng: markov_batch(markov, leads.shape[1], len(leads), temperature, rng),
            seeds,
        )
        report["markov"] = {**chain.summary(), "distance": chain.distance(real)}
    if reference:
        spread = real_parts(reference, k)
        report["natural_spread"] = {
            "performances": len(reference),
            **spread.summary(),
            "distance": spread.distance(real),
        }
    return report, first


def goals(model: dict, real: dict) -> dict:
    """Whether each distance meets :data:`GOALS`, and the response median's ratio to the
    real one's."""
    met = {
        name: model["distance"][name] <= GOALS[name] for name in ("flux", "entropy", "histogram")
    }
    ours, theirs = model["response"]["median"], real["response"]["median"]
    ratio = None if ours is None or not theirs else ours / theirs
    met["response_median_ratio"] = ratio
    met["response_median"] = ratio is not None and abs(ratio - 1) <= GOALS["response_median_ratio"]
    met["all"] = all(met[name] for name in ("flux", "entropy", "histogram", "response_median"))
    return met
