"""How well a model predicts the ensemble, beside two baselines.

Every figure is over the same steps: each performance, each ordering of its players
(every lead, every ordering of the others, as :mod:`gesture_rnn.prepare` makes them for
training) and each second t = 1..T-1, teacher-forced from the performance's start. At
step t the input is ``enc(lead[t], others[t-1])`` and the target is ``enc(others[t])``,
a state of the k-1 other players (9**(k-1) of them).

Figures (:func:`figures` documents the keys): the mean negative log likelihood in nats
of the true joint state, the accuracy of the most likely joint state, and each other
player's accuracy when the most likely joint state is split into gestures. For a model,
also ``predicted_changes``: how often its most likely state is not the others' last
state, and how often it is right then, beside persistence on the same steps: where a
model loses accuracy to persistence, it is there.

The baselines:

- **persistence**: the ensemble repeats its last state. Its prediction is that state.
  For a likelihood it gives the last state probability ``1 - eps`` and spreads ``eps``
  evenly over the others. ``eps`` defaults to the fraction of evaluated steps on which
  the state changes, the best ``eps`` in hindsight, so the NLL flatters persistence and
  never the model.
- **markov**: P(next ensemble state | last ensemble state), counted over every
  ordering of the fitting performances, with add-``alpha`` smoothing (default
  :data:`MARKOV_ALPHA`). It does not see the lead. Where the last state was never seen
  the row is uniform and its most likely state is 0 (everybody N).
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .corpus import Performance
from .gestures import NUM_GESTURES, decode_ensemble, num_states
from .prepare import encode_sequences, orderings

log = logging.getLogger(__name__)

MARKOV_ALPHA = 0.1
"""Add-alpha smoothing of the Markov baseline: small, since most of the 9**(k-1) next
states never follow a given state, but nonzero so an unseen transition is not infinitely
surprising."""

# Probabilities below this are clipped before the log, so one zero cannot make NLL infinite.
MIN_PROBABILITY = 1e-12


class EvaluationError(ValueError):
    """Evaluation cannot run as asked (wrong ensemble size, no steps)."""


class BatchModel(Protocol):
    """The part of :class:`gesture_rnn.runtime.GestureModel` that evaluation uses."""

    ensemble: int

    def initial_state(self, batch: int): ...

    def step_codes(self, codes: np.ndarray, state) -> tuple[np.ndarray, object]: ...


def single_threaded_blas() -> contextlib.AbstractContextManager:
    """One BLAS thread while stepping a model, if threadpoolctl is installed.

    A step multiplies small matrices; with OpenBLAS's threads on a busy machine those
    took 5 to 10 times as long as on one thread (measured on 2 shared cores).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def performance_sequences(performance: Performance, ensemble: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of every ordering of one performance: two (orderings, T-1) arrays.

    The exact encoding training uses (:func:`gesture_rnn.prepare.encode_sequences`).
    """
    players = performance.num_players
    if players < ensemble:
        raise EvaluationError(
            f"{performance.name} has {players} players, fewer than an ensemble of {ensemble}"
        )
    x, y = encode_sequences(performance.gestures, orderings(players, ensemble))
    return x.astype(np.int64), y.astype(np.int64)


class Tally:
    """Sums of log likelihoods and hits over steps; :meth:`figures` gives the means."""

    def __init__(self, ensemble: int):
        self.others = ensemble - 1
        self.steps = 0
        self.nll_sum = 0.0
        self.correct = 0
        self.player_correct = np.zeros(self.others, dtype=np.int64)

    def add(self, nll: np.ndarray, predicted: np.ndarray, target: np.ndarray) -> None:
        """One batch of steps: each step's NLL, predicted state and true state."""
        self.steps += int(np.size(target))
        self.nll_sum += float(np.sum(nll, dtype=np.float64))
        self.correct += int(np.count_nonzero(predicted == target))
        hit = decode_ensemble(predicted, self.others) == decode_ensemble(target, self.others)
        self.player_correct += hit.reshape(-1, self.others).sum(axis=0)

    def figures(self) -> dict:
        return figures(self.nll_sum, self.correct, self.player_correct, self.steps)


def figures(nll_sum: float, correct: int, player_correct, steps: int) -> dict:
    """The figures of one predictor over ``steps`` steps.

    ``nll``: mean negative log likelihood of the true joint state, in nats;
    ``perplexity``: exp(nll); ``accuracy``: how often the most likely joint state is the
    true one; ``per_player_accuracy``: for each other player (in ordering position), how
    often its gesture in the most likely joint state is its true gesture.
    """
    if steps == 0:
        raise EvaluationError("there are no steps to evaluate (every performance is too short)")
    nll = nll_sum / steps
    return {
        "nll": nll,
        "perplexity": math.exp(nll) if nll < 700 else math.inf,
        "accuracy": correct / steps,
        "per_player_accuracy": [int(c) / steps for c in player_correct],
    }


def _check(performances: list[Performance], ensemble: int) -> None:
    if not performances:
        raise EvaluationError("there are no performances to evaluate")
    for p in performances:
        if p.num_players < ensemble:
            raise EvaluationError(
                f"{p.name} has {p.num_players} players, fewer than an ensemble of {ensemble}"
            )


def count_steps(performances: list[Performance], ensemble: int) -> int:
    """How many steps the figures are over: orderings x (seconds - 1), summed."""
    return sum(math.perm(p.num_players, ensemble) * max(0, p.seconds - 1) for p in performances)


def evaluate_model(model: BatchModel, performances: list[Performance]) -> dict:
    """The model's figures, teacher-forced from a zero state at each performance's start.

    All orderings of one performance have the same length, so they go through the
    model as one batch, a step at a time.
    """
    ensemble = model.ensemble
    _check(performances, ensemble)
    with single_threaded_blas():
        return _evaluate(model, performances)


def _evaluate(model: BatchModel, performances: list[Performance]) -> dict:
    ensemble = model.ensemble
    tally = Tally(ensemble)
    changes = changes_right = changes_persistence_right = 0
    for performance in performances:
        x, y = performance_sequences(performance, ensemble)
        rows = np.arange(x.shape[0])
        chosen = np.empty(x.shape, dtype=np.float64)
        predicted = np.empty(x.shape, dtype=np.int64)
        state = model.initial_state(x.shape[0])
        for t in range(x.shape[1]):
            probabilities, state = model.step_codes(x[:, t], state)
            probabilities = np.asarray(probabilities)
            chosen[:, t] = probabilities[rows, y[:, t]]
            predicted[:, t] = np.argmax(probabilities, axis=1)
        tally.add(-np.log(np.maximum(chosen, MIN_PROBABILITY)), predicted, y)
        last = x // NUM_GESTURES
        change = predicted != last
        changes += int(np.count_nonzero(change))
        changes_right += int(np.count_nonzero(predicted[change] == y[change]))
        changes_persistence_right += int(np.count_nonzero(last[change] == y[change]))
        log.debug("evaluated %s: %d orderings x %d steps", performance.name, *x.shape)
    return {
        **tally.figures(),
        "predicted_changes": {
            "fraction": changes / tally.steps,
            "accuracy": changes_right / changes if changes else None,
            "persistence_accuracy": changes_persistence_right / changes if changes else None,
        },
    }


def persistence_baseline(
    performances: list[Performance], ensemble: int, epsilon: float | None = None
) -> dict:
    """The figures of "the ensemble repeats its last state", plus the ``epsilon`` used.

    The last state gets probability ``1 - epsilon``, every other state
    ``epsilon / (9**(k-1) - 1)``. With ``epsilon=None`` it is the fraction of steps on
    which the state changes (the maximum-likelihood value, chosen on the evaluated data
    itself, so this NLL is the best persistence can do), kept within [1e-6, 1 - 1/S].
    """
    _check(performances, ensemble)
    states = num_states(ensemble - 1)
    pairs = [performance_sequences(p, ensemble) for p in performances]
    if epsilon is None:
        steps = sum(y.size for _, y in pairs)
        changes = sum(int(np.count_nonzero(x // NUM_GESTURES != y)) for x, y in pairs)
        epsilon = changes / steps if steps else 0.5
        epsilon = min(max(epsilon, 1e-6), 1 - 1 / states)
    elif not 0 < epsilon < 1:
        raise EvaluationError(f"persistence epsilon must be between 0 and 1, got {epsilon}")
    stay, move = -math.log(1 - epsilon), -math.log(epsilon / (states - 1))
    tally = Tally(ensemble)
    for x, y in pairs:
        last = x // NUM_GESTURES  # the others' state a second before
        tally.add(np.where(last == y, stay, move), last, y)
    return {**tally.figures(), "epsilon": epsilon}


@dataclass
class MarkovBaseline:
    """First-order Markov model of the ensemble (the k-1 others) state, add-alpha smoothed."""

    ensemble: int
    alpha: float
    counts: np.ndarray  # (S, S) int64: counts[last, next]
    performances: int = 0

    @classmethod
    def fit(
        cls, performances: list[Performance], ensemble: int, alpha: float = MARKOV_ALPHA
    ) -> MarkovBaseline:
        """Count transitions over every ordering of every performance with >= k players."""
        pairs = [
            performance_sequences(p, ensemble)
            for p in performances
            if p.num_players >= ensemble and p.seconds >= 2
        ]
        if not pairs:
            raise EvaluationError(
                f"no performance to fit the Markov baseline on has {ensemble} or more players "
                "and 2 or more seconds"
            )
        x = np.concatenate([x.ravel() for x, _ in pairs])
        y = np.concatenate([y.ravel() for _, y in pairs])
        markov = cls.from_codes(x, y, ensemble, alpha, len(pairs))
        log.debug("Markov baseline: %d transitions from %d performances", len(x), len(pairs))
        return markov

    @classmethod
    def from_codes(
        cls,
        inputs: np.ndarray,
        targets: np.ndarray,
        ensemble: int,
        alpha: float = MARKOV_ALPHA,
        performances: int = 0,
    ) -> MarkovBaseline:
        """Counted from input codes and target codes of any (equal) shape, as
        :func:`~gesture_rnn.prepare.encode_sequences` makes them: the others' last state is
        ``inputs // 9``, their next ``targets``. Raises :class:`EvaluationError` for
        ``alpha <= 0``."""
        if not alpha > 0:
            raise EvaluationError(f"the Markov smoothing alpha must be above 0, got {alpha}")
        states = num_states(ensemble - 1)
        last = np.asarray(inputs, dtype=np.int64).ravel() // NUM_GESTURES
        after = np.asarray(targets, dtype=np.int64).ravel()
        counts = np.bincount(last * states + after, minlength=states * states)
        return cls(ensemble, alpha, counts.reshape(states, states), performances)

    @property
    def transitions(self) -> int:
        return int(self.counts.sum())

    def probabilities(self, last: np.ndarray) -> np.ndarray:
        """P(next | last) for each last state: (n, S)."""
        rows = self.counts[np.asarray(last)] + self.alpha
        return rows / rows.sum(axis=-1, keepdims=True)

    def score(self, last: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For arrays of last states and next states (codes 0..S-1, one shape): the NLL in
        nats of each next state, and the most likely next state (ties and unseen rows: the
        lowest state), both of that shape."""
        smoothed = self.counts + self.alpha
        log_p = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        best = np.argmax(self.counts, axis=1)
        return -log_p[last, after], best[last]

    def evaluate(self, performances: list[Performance]) -> dict:
        """The figures on ``performances``, plus ``alpha`` and the transitions fitted on."""
        _check(performances, self.ensemble)
        tally = Tally(self.ensemble)
        for p in performances:
            x, y = performance_sequences(p, self.ensemble)
            tally.add(*self.score(x // NUM_GESTURES, y), y)
        return {**tally.figures(), "alpha": self.alpha, "fitted_transitions": self.transitions}
