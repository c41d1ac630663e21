"""The touch and note-off schedule (bridge/schedule.py), in process: what goes out when."""

from __future__ import annotations

import math

from bridge.schedule import TouchSchedule
from bridge.session import TouchEvent


def touch(time, player=1):
    return TouchEvent(time=time, player=player, x=0.5, y=0.5, velocity=0.0)


class Recorder:
    """play/note_off callbacks that write down what was sent, and start a note per touch."""

    def __init__(self, notes=True):
        self.sent: list = []
        self.notes = notes

    def play(self, event, due):
        self.sent.append(("touch", event.time, due))
        return (event.player, 60) if self.notes else None

    def note_off(self, note):
        self.sent.append(("off", note))


def test_touches_go_out_when_due_and_not_before():
    schedule, out = TouchSchedule(note_length=10.0), Recorder(notes=False)
    schedule.start((touch(0.1), touch(0.2), touch(0.2), touch(0.4)), start=100.0)
    assert schedule.next_due() == 100.1
    schedule.fire(100.05, out.play, out.note_off)
    assert out.sent == []
    schedule.fire(100.25, out.play, out.note_off)
    assert [s[1] for s in out.sent] == [0.1, 0.2, 0.2]
    assert [s[2] for s in out.sent] == [100.1, 100.2, 100.2]  # each touch's own due time
    assert schedule.next_due() == 100.4 and schedule.touches_left == 1
    schedule.fire(math.inf, out.play, out.note_off)
    assert len(out.sent) == 4 and schedule.next_due() is None


def test_a_note_off_comes_note_length_after_its_touch_in_time_order():
    schedule, out = TouchSchedule(note_length=0.15), Recorder()
    schedule.start((touch(0.0, player=1), touch(0.2, player=2)), start=0.0)
    schedule.fire(0.0, out.play, out.note_off)  # the first touch, its note off at 0.15
    assert schedule.next_due() == 0.15
    schedule.fire(0.3, out.play, out.note_off)  # late: the note-off first, then the touch
    assert out.sent == [("touch", 0.0, 0.0), ("off", (1, 60)), ("touch", 0.2, 0.2)]
    assert schedule.next_due() == 0.3 + 0.15  # from when the touch was sent
    schedule.fire(0.45, out.play, out.note_off)
    assert out.sent[-1] == ("off", (2, 60)) and schedule.next_due() is None


def test_a_new_tick_drops_the_touches_left_but_not_the_note_offs():
    schedule, out = TouchSchedule(note_length=1.0), Recorder()
    schedule.start((touch(0.0), touch(0.5), touch(0.6)), start=0.0)
    schedule.fire(0.1, out.play, out.note_off)
    assert schedule.cancel() == 2  # counted as touches_dropped by the bridge
    assert schedule.cancel() == 0
    schedule.start((touch(0.05),), start=0.5)
    assert schedule.next_due() == 0.55
    schedule.fire(2.0, out.play, out.note_off)
    assert out.sent == [("touch", 0.0, 0.0), ("touch", 0.05, 0.55), ("off", (1, 60))]
    schedule.fire(3.0, out.play, out.note_off)  # the second note's off, 1 s after 2.0
    assert out.sent[-1] == ("off", (1, 60)) and schedule.next_due() is None


def test_an_empty_schedule_has_nothing_due():
    schedule, out = TouchSchedule(note_length=0.1), Recorder()
    assert schedule.next_due() is None
    schedule.start((), start=5.0)
    schedule.fire(math.inf, out.play, out.note_off)
    assert out.sent == [] and schedule.next_due() is None
