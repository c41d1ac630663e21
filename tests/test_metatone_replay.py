"""Real touches of held-out corpus performances, replayed at their recorded times through
the Metatone protocol into a running bridge: the gestures each device gets back agree
with the performances' gesture files (bench/metatone_replay.py measures all of them)."""

from __future__ import annotations

from bench.metatone_replay import held_out, replay

# Two held-out performances, ten devices between them, played at once for 20 s.
PERFORMANCES = [
    "2014-04-28T15-53-48-MetatoneOSCLog",
    "2014-04-29T16-13-36-MetatoneOSCLog-autosplit",
]


def test_replayed_performances_get_their_gestures_back_within_a_second(corpus_dir, tiny_model):
    assert set(PERFORMANCES) <= set(held_out())  # not what the classifier learned from
    result = replay(corpus_dir, PERFORMANCES, seconds=20.0, slack=1.0, model=str(tiny_model))
    assert result["devices"] >= 8
    assert result["answers_scored"] >= 0.9 * result["devices"] * 15  # one answer a second
    assert result["agreement"] >= 0.9, result
    assert not result["bridge_warnings"]
