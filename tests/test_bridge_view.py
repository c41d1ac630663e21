"""The console's live view (bridge/view.py), in process: the line a tick and a closed terminal."""

from __future__ import annotations

import io
import logging

from bridge.stats import COUNTERS
from bridge.view import LiveView, live_line

COUNTS = {**dict.fromkeys(COUNTERS, 0), "received": 40, "rejected": 2, "ignored": 1}


def test_the_line_names_the_lead_and_each_player_and_counts_the_messages():
    line = live_line(12, lead=1, ensemble=(2, 3, 0), counts=COUNTS)
    assert line == ("tick    12 | lead FT  | 1 ST   2 FS   3 N   | in 40 rejected 2 ignored 1")


def test_not_allowed_shows_with_allow_and_failed_sends_only_when_some_failed():
    counts = {**COUNTS, "not_allowed": 7}
    assert "not allowed" not in live_line(1, 0, (0,), counts)
    assert live_line(1, 0, (0,), counts, show_not_allowed=True).endswith("not allowed 7")
    fine = live_line(1, 0, (0,), counts, send_failed={"127.0.0.1:9001": 0})
    assert "send failed" not in fine
    line = live_line(1, 8, (0,), counts, send_failed={"a:1": 3, "b:2": 0, "c:3": 1})
    assert line.endswith(" | send failed: a:1 3, c:3 1")
    assert live_line(1, 0, (0,), counts, extra=" | link 120 bpm").endswith(" | link 120 bpm")


def test_the_view_writes_a_line_and_stops_quietly_when_the_terminal_is_gone(caplog):
    out = io.StringIO()
    view = LiveView(out)
    view.show("tick 1")
    assert out.getvalue() == "tick 1\n"
    out.close()  # a hang-up: writing now raises ValueError
    with caplog.at_level(logging.WARNING, logger="bridge.view"):
        view.show("tick 2")
        view.show("tick 3")
    assert not view.on
    stopped = [r for r in caplog.records if r.message.startswith("live view stopped")]
    assert len(stopped) == 1  # one warning, however many ticks follow


def test_a_quiet_view_writes_nothing():
    out = io.StringIO()
    LiveView(out, on=False).show("tick 1")
    assert out.getvalue() == ""
