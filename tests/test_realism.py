"""Realism figures on hand-made parts whose answers are worked out in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gesture_rnn.corpus import Performance
from gesture_rnn.evaluate import MarkovBaseline
from gesture_rnn.realism import (
    RESPONSE_CENSOR,
    Parts,
    flux,
    generate_batch,
    goals,
    histogram,
    lead_starts,
    real_parts,
    realism,
    response_summary,
    response_times,
    total_variation,
    transition_entropy,
    wasserstein1,
)


def performance(columns, name="toy") -> Performance:
    gestures = np.array(columns, dtype=np.int8).T
    return Performance(name, gestures, tuple(f"p{i}" for i in range(gestures.shape[1])))


class UniformModel:
    """Every next state equally likely, whatever came before."""

    def __init__(self, ensemble: int):
        self.ensemble = ensemble
        self.states = 9 ** (ensemble - 1)

    def initial_state(self, batch):
        return 0

    def step_codes(self, codes, state):
        return np.full((len(codes), self.states), 1 / self.states), state


def test_flux_counts_changes_over_seconds_after_the_first():
    assert flux([0, 0, 1, 1, 2]) == 2 / 4
    assert flux([3, 3, 3]) == 0.0
    assert flux([5]) == 0.0


def test_transition_entropy_in_bits():
    assert transition_entropy([0, 0, 0, 0]) == 0.0  # one cell
    assert transition_entropy([0, 1, 0, 1, 0]) == pytest.approx(1.0)  # (0,1) and (1,0), halves
    assert transition_entropy([0, 0, 1, 1]) == pytest.approx(math.log2(3))  # 3 cells, thirds
    # (0,0) twice, (0,1) once, (1,2) once: -(1/2 log 1/2 + 2 * 1/4 log 1/4) = 1.5 bits
    assert transition_entropy([0, 0, 0, 1, 2]) == pytest.approx(1.5)


def test_histogram_is_the_share_of_seconds():
    np.testing.assert_allclose(histogram([0, 0, 1, 8]), [0.5, 0.25, 0, 0, 0, 0, 0, 0, 0.25])


def test_wasserstein1_is_the_area_between_the_distribution_functions():
    assert wasserstein1([0, 1], [1, 0]) == 0.0
    assert wasserstein1([0], [1]) == 1.0
    assert wasserstein1([0, 0.5], [0.25, 0.75]) == pytest.approx(0.25)  # everything moves 0.25
    assert wasserstein1([0, 1], [0.5]) == pytest.approx(0.5)  # half the mass moves 0.5 each way
    assert wasserstein1([0, 0, 0, 1], [0]) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="both sides"):
        wasserstein1([], [1])


def test_total_variation():
    assert total_variation([1, 0], [0.5, 0.5]) == 0.5
    assert total_variation([0.2, 0.8], [0.2, 0.8]) == 0.0


# Lead starts at t = 3 (N at 0-2) and t = 8 (N at 5-7); the other leaves N at t = 5 only.
LEAD = [0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1]
OTHER = [0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0]


def test_lead_starts_need_three_seconds_of_n_and_silent_others():
    assert lead_starts(np.array(LEAD), np.array(OTHER)[:, None]).tolist() == [3, 8]
    # The other playing the second before the start: not a start from silence.
    busy = list(OTHER)
    busy[2] = 4
    assert lead_starts(np.array(LEAD), np.array(busy)[:, None]).tolist() == [8]
    # Two seconds of N are not enough.
    assert lead_starts(np.array([1, 0, 0, 1, 1]), np.zeros((5, 1))).tolist() == []


def test_response_times_wait_for_any_other_and_are_censored():
    # t = 3: the other plays at 5, 2 s; t = 8: nobody plays again, censored.
    assert response_times(np.array(LEAD), np.array(OTHER)) == [2.0, RESPONSE_CENSOR]
    # With a second other answering at the very second the lead starts: 0 s.
    both = np.column_stack([OTHER, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]])
    assert response_times(np.array(LEAD), both) == [0.0, RESPONSE_CENSOR]
    # An answer later than the censor counts as the censor.
    long_lead = np.array([0, 0, 0, 1] + [1] * 80)
    late = np.zeros(84, dtype=int)
    late[3 + 70] = 2
    assert response_times(long_lead, late) == [RESPONSE_CENSOR]
    assert response_summary([2.0, 60.0]) == {"starts": 2, "median": 31.0, "p75": 45.5}
    assert response_summary([]) == {"starts": 0, "median": None, "p75": None}


def test_real_parts_take_each_player_once_and_every_lead():
    duet = performance([LEAD, OTHER])
    parts = real_parts([duet], ensemble=2)
    assert parts.flux == [flux(LEAD), flux(OTHER)] == [3 / 10, 2 / 10]
    # Lead LEAD: [2, 60]. Lead OTHER: starts at t = 5 (N at 2-4, LEAD was 1 at 4): no.
    assert parts.responses == [2.0, RESPONSE_CENSOR]


def test_distances_of_a_part_set_against_itself_are_zero():
    parts = real_parts([performance([LEAD, OTHER, [0] * 11])], ensemble=3)
    assert parts.distance(parts) == {"flux": 0.0, "entropy": 0.0, "histogram": 0.0}


def test_generated_parts_at_liveliness_0_never_leave_n():
    leads = np.array([LEAD, LEAD])
    out = generate_batch(UniformModel(4), leads, 1.0, np.random.default_rng(0), liveliness=0)
    assert out.shape == (2, 11, 3) and not out.any()


def test_uniform_model_changes_eight_seconds_in_nine():
    leads = np.zeros((20, 400), dtype=np.int8)
    out = generate_batch(UniformModel(3), leads, 1.0, np.random.default_rng(1))
    parts = Parts.empty()
    for lead, others in zip(leads, out, strict=True):
        parts.add_ensemble(lead, others)
    assert np.mean(parts.flux) == pytest.approx(8 / 9, abs=0.01)
    np.testing.assert_allclose(parts.mean_histogram(), 1 / 9, atol=0.01)


def test_report_of_a_frozen_ensemble_against_real_players():
    real = [performance([LEAD, OTHER, [0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]], name="trio")]
    report, first = realism(UniformModel(3), real, liveliness=0, seeds=2)
    # Frozen parts: flux 0 and entropy 0, so each distance is the real values' mean.
    real_flux = [3 / 10, 2 / 10, 1 / 10]
    real_entropy = [transition_entropy(g) for g in real[0].gestures.T]
    assert report["model"]["parts"] == 3 * 2 * 2  # 3 leads x 2 seeds x 2 others
    assert report["model"]["distance"]["flux"] == pytest.approx(np.mean(real_flux))
    assert report["model"]["distance"]["entropy"] == pytest.approx(np.mean(real_entropy))
    # Generated: all N. Real mean histogram: N 17/33, FT 5/33, ST 1/33, FS 10/33, so TV 16/33.
    assert report["model"]["distance"]["histogram"] == pytest.approx(16 / 33)
    assert report["model"]["response"]["median"] == RESPONSE_CENSOR
    assert report["model"]["goals"]["flux"] is False and report["model"]["goals"]["all"] is False
    assert first["generated"].shape == (11, 3) and first["real"].shape == (11, 3)
    np.testing.assert_array_equal(first["generated"][:, 0], LEAD)


def test_report_with_markov_parts_and_natural_spread():
    rng = np.random.default_rng(3)
    made = [
        performance(np.repeat(rng.integers(0, 9, (3, 30)), 4, axis=1), f"m{i}") for i in range(3)
    ]
    markov = MarkovBaseline.fit(made, 3)
    report, _ = realism(UniformModel(3), made[:1], seeds=1, markov=markov, reference=made[1:])
    assert report["markov"]["parts"] == 3 * 2
    assert set(report["markov"]["distance"]) == {"flux", "entropy", "histogram"}
    assert report["natural_spread"]["performances"] == 2
    assert report["natural_spread"]["parts"] == 6
    # Real parts change every 4 seconds at most: flux <= 29/119; uniform ones about 8/9.
    assert report["model"]["distance"]["flux"] > 0.5
    assert report["markov"]["distance"]["flux"] < report["model"]["distance"]["flux"]


def test_goals():
    real = {"response": {"median": 10.0}}
    near = {"distance": {"flux": 0.02, "entropy": 0.3, "histogram": 0.1},
            "response": {"median": 12.5}}  # fmt: skip
    assert goals(near, real)["all"] is True
    far = {**near, "response": {"median": 14.0}}
    assert goals(far, real)["response_median"] is False
    assert goals(far, real)["response_median_ratio"] == pytest.approx(1.4)
