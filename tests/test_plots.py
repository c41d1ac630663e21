"""The pictures a new user makes: corpus plot says what its marks mean; generate's plot reads
at the length of a whole performance (one lane per player, rows of at most five minutes)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plots need the optional extra gesture-rnn[plot]")


def legend_texts(figure) -> list[str]:
    return [t.get_text() for legend in figure.legends for t in legend.get_texts()]


def test_corpus_plot_has_a_legend_for_circle_line_and_colour():
    from corpus_index.plot import gestures_figure
    from corpus_index.procedural import ProceduralIndex

    figure = gestures_figure(ProceduralIndex(), [3, 6], sequences=2, duration=2.0)
    texts = legend_texts(figure)
    assert any(t.startswith("circle: a touch-down") for t in texts), texts
    assert any(t.startswith("line: one finger's path") for t in texts), texts
    assert any(t.startswith("colour: one sequence of 2 s") for t in texts), texts


def test_a_14_minute_performance_is_a_score_of_lanes_in_rows_of_5_minutes():
    from gesture_rnn.generate import SYSTEM_SECONDS, column_names, performance_figure
    from gesture_rnn.gestures import GESTURE_NAMES

    rng = np.random.default_rng(1)
    gestures = rng.integers(0, 9, size=(14 * 60, 4)).astype(np.int8)
    columns = column_names(4)
    figure = performance_figure(gestures, columns, "14 minutes")
    rows = figure.axes
    assert len(rows) == 3  # 0-5, 5-10, 10-14 minutes
    for n, axes in enumerate(rows):
        start, end = axes.get_xlim()
        assert (start, end) == (n * SYSTEM_SECONDS, (n + 1) * SYSTEM_SECONDS)
        # one lane per player, named, the lead on top
        assert [t.get_text() for t in axes.get_yticklabels()] == list(columns)
        shown = np.asarray(axes.images[0].get_array())
        assert np.array_equal(shown, gestures[n * SYSTEM_SECONDS : (n + 1) * SYSTEM_SECONDS].T)
    # at least 4 pixels a second at the 100 dpi the PNG is written with
    assert figure.get_figwidth() * 100 / SYSTEM_SECONDS >= 4
    assert legend_texts(figure) == [f"{g} {name}" for g, name in enumerate(GESTURE_NAMES)]


def test_a_short_performance_is_one_row(tmp_path):
    from gesture_rnn.generate import column_names, performance_figure, write_png

    gestures = np.tile(np.arange(9, dtype=np.int8)[:, None], (7, 3))[:60]
    figure = performance_figure(gestures, column_names(3))
    assert len(figure.axes) == 1 and figure.axes[0].get_xlim() == (0, 60)
    path = write_png(tmp_path / "p.png", gestures, column_names(3))
    assert path.read_bytes()[:4] == b"\x89PNG"
