"""The corpus index: building, loading, queries, players, and the procedural fallback.

Most tests use a small made-up corpus written here (never copied corpus rows); a few
build from part of the shared Metatone corpus.
"""

from __future__ import annotations

import gzip
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

import corpus_index
from corpus_index import IndexFileError, ProceduralIndex, TouchSequence
from corpus_index.build import BuildConfig, build_index
from gesture_rnn.corpus import CorpusError, gesture_file, read_gesture_file, touch_file
from gesture_rnn.files import OutputExistsError
from gesture_rnn.gestures import GestureError

FS, SS, FT, ST, N = 3, 7, 1, 2, 0
METADATA_HEADER = (
    "time,filename,number_performers,length_seconds,performance_context,"
    "performance_type,instruments,touch_orientation,notes,video_location"
)


# -- a made-up corpus ------------------------------------------------------------------


@dataclass
class Fake:
    """One made-up performance: ``labels`` (seconds x players) and touch events
    ``(seconds after time zero, player, x, y, velocity)``."""

    name: str
    players: list[str]
    labels: np.ndarray
    events: list[tuple[float, str, float, float, float]] = field(default_factory=list)
    orientation: str = "landscape"
    touches: str = "gz"  # "gz", "csv", "none", "truncated", "bad-x"
    gestures: bool = True


def _stamp(seconds: float, sep: str) -> str:
    return (pd.Timestamp("2020-01-01 10:00:00") + pd.Timedelta(seconds=seconds)).strftime(
        f"%Y-%m-%d{sep}%H:%M:%S.%f"
    )


def write_touch_corpus(root: Path, fakes: list[Fake]) -> Path:
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)
    rows = [METADATA_HEADER]
    for fake in fakes:
        rows.append(
            f"2020-01-01 10:00:00,{fake.name},{len(fake.players)},{len(fake.labels)}.0,"
            f"rehearsal,improvisation,iPad,{fake.orientation},made up,"
        )
        if fake.gestures:
            lines = ["time," + ",".join(fake.players)]
            for s, row in enumerate(fake.labels):
                lines.append(_stamp(s, " ")[:19] + "," + ",".join(str(int(g)) for g in row))
            gesture_file(root, fake.name).write_text("\n".join(lines) + "\n")
        touch_lines = ["time,device_id,x_pos,y_pos,velocity"]
        for t, player, x, y, v in sorted(fake.events):
            touch_lines.append(f"{_stamp(t, 'T')},{player},{x},{y},{v}")
        if fake.touches == "bad-x":
            touch_lines.insert(3, f"{_stamp(1.5, 'T')},{fake.players[0]},abc,10,0")
        text = "\n".join(touch_lines) + "\n"
        base = root / "data" / f"{fake.name}-touches.csv"
        if fake.touches in ("csv", "bad-x"):
            base.write_text(text)
        elif fake.touches == "gz":
            with gzip.open(f"{base}.gz", "wt") as f:
                f.write(text)
        elif fake.touches == "truncated":
            data = gzip.compress(text.encode())
            Path(f"{base}.gz").write_bytes(data[: len(data) // 2])
    (root / "metadata" / "metatone-performance-information.csv").write_text("\n".join(rows) + "\n")
    return root


def _alpha() -> Fake:
    """ann: fast swipes along y=100 for rows 0-14, small swirls at the centre after;
    bob: fast taps at the bottom right all along."""
    labels = np.zeros((30, 2), dtype=int)
    labels[:15, 0], labels[15:, 0], labels[:, 1] = FS, SS, FT
    events = []
    for s in range(30):
        for k in range(10):
            if s < 15:  # a stroke to the right, 10 points an event
                events.append((s + k / 10, "ann", 100 + 10 * k, 100, 0 if k == 0 else 10))
            else:
                a = 2 * math.pi * k / 10
                x, y = 512 + 20 * math.cos(a), 384 + 20 * math.sin(a)
                events.append((s + k / 10, "ann", round(x * 2) / 2, round(y * 2) / 2, 12.5))
        for k in range(5):
            events.append((s + 0.05 + k / 5, "bob", 900, 700 - (k % 2), 0))
    return Fake("alpha", ["ann", "bob"], labels, events)


def _beta() -> Fake:
    """cat: fast taps at the top left, moving fast (velocity 60), on a portrait screen
    (one point a second below y 770 tells); dan: slow taps in every third second only;
    eve: touches in seconds labelled N. One point just off the screen edge."""
    labels = np.zeros((20, 3), dtype=int)
    labels[:, 0], labels[:, 1], labels[:, 2] = FT, ST, N
    events = []
    for s in range(20):
        for k in range(9):
            events.append((s + k / 9, "cat", 100, 150, 60))
        events.append((s + 0.99, "cat", 100, 900, 60))
        if s % 3 == 0:
            events.append((s + 0.5, "dan", 300.5, 400, 0))
        events.append((s + 0.3, "eve", 50, 50, 0))
    events.append((7.7, "dan", 300, -5, 0))
    return Fake("beta", ["cat", "dan", "eve"], labels, events, orientation="portrait")


def standard_fakes() -> list[Fake]:
    ok_labels = np.full((10, 1), FT)
    tap = [(s + 0.5, "zed", 10, 10, 0) for s in range(10)]
    return [
        _alpha(),
        _beta(),
        Fake("gamma", ["zed"], ok_labels, tap, touches="none"),
        Fake("delta", ["zed"], ok_labels, tap, touches="truncated"),
        Fake("epsilon", ["zed"], ok_labels, tap, touches="bad-x"),
        Fake("zeta", ["zed"], ok_labels, tap, gestures=False),
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The standard made-up corpus, built; (index path, build report, warnings)."""
    root = write_touch_corpus(tmp_path_factory.mktemp("corpus"), standard_fakes())
    out = root / "touches.h5"
    logger = logging.getLogger("corpus_index")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        report = build_index(root, out, progress=False)
    finally:
        logger.removeHandler(handler)
    return out, report, [r.getMessage() for r in records if r.levelno >= logging.WARNING]


@pytest.fixture(scope="module")
def index(built):
    return corpus_index.load(built[0], seed=0)


def _check_sequence(seq: TouchSequence, duration: float) -> None:
    assert len(seq) > 0
    assert seq.t.dtype == np.float64 and seq.x.dtype == seq.y.dtype == np.float32
    assert len(seq.t) == len(seq.x) == len(seq.y) == len(seq.velocity)
    assert np.all(np.diff(seq.t) >= 0)
    assert seq.t[0] >= 0 and seq.t[-1] < duration
    assert np.all((seq.x >= 0) & (seq.x <= 1) & (seq.y >= 0) & (seq.y <= 1))
    assert np.all(seq.velocity >= 0)


# -- building ----------------------------------------------------------------------------


def test_build_skips_missing_and_damaged_files_naming_them(built):
    _, report, warnings = built
    assert report.performances == 2 and report.streams == 5
    skipped = dict(report.skipped)
    assert set(skipped) == {"gamma", "delta", "epsilon", "zeta"}
    assert "touch file gamma-touches.csv(.gz) is missing" in skipped["gamma"]
    assert "delta-touches.csv.gz" in skipped["delta"]
    assert "epsilon-touches.csv" in skipped["epsilon"] and "line 4" in skipped["epsilon"]
    assert "x_pos 'abc'" in skipped["epsilon"]
    assert "gesture file zeta-touches-posthoc-gestures.csv is missing" in skipped["zeta"]
    for name in ("delta", "epsilon"):  # damaged: a warning each, naming it
        assert any(name in message for message in warnings)
    # missing files: one warning with the count (the names at debug level, with -v)
    assert [m for m in warnings if "missing" in m or "no gesture" in m] == [
        "2 performances listed in the metadata have no gesture or touch file: "
        "skipped (-v names them)"
    ]


def test_index_stores_every_event_once_with_raw_points_and_velocity(built, index):
    alpha, beta = _alpha(), _beta()
    assert len(index.t) == len(alpha.events) + len(beta.events)
    info = index.info()
    assert info["performances"] == 2 and info["performers"] == 5
    assert list(index.manifest["name"]) == ["alpha", "beta"]
    assert list(index.manifest["orientation"]) == ["landscape", "portrait"]
    # Every event of every stream, in time order, with the points it was recorded at.
    for stream, (fake, player) in enumerate(
        [(alpha, "ann"), (alpha, "bob"), (beta, "cat"), (beta, "dan"), (beta, "eve")]
    ):
        assert index.stream_info(stream) == (fake.name, player)
        mine = sorted(e for e in fake.events if e[1] == player)
        a = index.second_start[np.flatnonzero(index.second_stream == stream)[0]]
        b = a + len(mine)
        assert np.allclose(index.t[a:b], [e[0] for e in mine], atol=1e-6)
        x, y = index.raw_points(a, b)
        assert np.array_equal(x, [e[2] for e in mine]) and np.array_equal(y, [e[3] for e in mine])
        assert np.allclose(index.velocity[a:b], [e[4] for e in mine], atol=1e-3)


def test_screen_orientation_is_read_from_the_points(index):
    # alpha is landscape (x up to 900 of 1024); beta's points go below y 770: portrait.
    x, y = index.points(0, len(index.t))
    bob = index.second_start[np.flatnonzero(index.second_stream == 1)[0]]
    assert np.isclose(x[bob], 900 / 1024) and np.isclose(y[bob], 700 / 768)
    cat = index.second_start[np.flatnonzero(index.second_stream == 2)[0]]
    assert np.isclose(x[cat], 100 / 768) and np.isclose(y[cat], 150 / 1024)
    # A point off the edge is clipped to the screen but its raw value is kept.
    dan = np.flatnonzero(np.isclose(index.t, 7.7) & (y == 0))
    assert len(dan) == 1 and index.raw_points(dan[0], dan[0] + 1)[1][0] == -5


def _slot_labels(index, stream: int, slots) -> list[int]:
    return [int(index.labels[index.second_at(stream, j)]) for j in slots]


def test_each_slot_takes_the_label_of_the_row_three_seconds_later(index):
    # ann: rows 0-14 FS, 15-29 SS. Slot j gets row j+3; slot 27-28 the last row (29),
    # which still covers them; slot 29 no row covers: unlabelled, never played.
    assert _slot_labels(index, 0, range(30)) == [FS] * 12 + [SS] * 17 + [-1]
    rng = np.random.default_rng(0)
    starts = {g: {index.query(g, 1.0, rng).sources[0].start for _ in range(300)} for g in (FS, SS)}
    assert starts[FS] <= set(map(float, range(0, 12)))
    assert starts[SS] <= set(map(float, range(12, 29)))


def test_a_new_source_is_a_second_whose_label_holds_for_five_seconds(index):
    # Five seconds stitched from the ends of several runs read as another gesture (the
    # round trip): a jump tries up to 8 picks for one whose run goes on 5 s from there.
    rng = np.random.default_rng(0)
    starts = [index.query(FS, 1.0, rng).sources[0].start for _ in range(300)]
    assert set(starts) == set(map(float, range(0, 8)))  # ann's FS run ends at slot 12


def test_a_gesture_whose_runs_are_all_short_still_plays(tmp_path):
    # fay alternates two rows of FT and two of ST: no run holds for 5 s.
    labels = np.array([[FT], [FT], [ST], [ST]] * 6)
    events = [(s + k / 4, "fay", 200 + 10 * k, 300, 0) for s in range(24) for k in range(4)]
    root = write_touch_corpus(tmp_path, [Fake("short", ["fay"], labels, events)])
    build_index(root, tmp_path / "short.h5", progress=False)
    index = corpus_index.load(tmp_path / "short.h5")
    rng = np.random.default_rng(0)
    player = index.player(rng)
    for _ in range(20):
        seq = player.next(FT, 1.0)
        _check_sequence(seq, 1.0)
        for span in seq.sources:
            assert index.labels[index.second_at(span.stream, span.start)] == FT


def test_label_lag_is_a_build_option(tmp_path):
    root = write_touch_corpus(tmp_path, [_alpha()])
    build_index(root, tmp_path / "lag1.h5", BuildConfig(label_lag=1), progress=False)
    index = corpus_index.load(tmp_path / "lag1.h5")
    # Rows 0-14 FS: with lag 1, slots 0-13 are FS (slot j has row j+1), slot 14 on SS.
    assert _slot_labels(index, 0, range(30)) == [FS] * 14 + [SS] * 15 + [-1]
    assert index.info()["label_lag"] == 1


def test_an_index_with_nothing_in_it_is_an_error_and_leaves_no_file(tmp_path):
    fakes = [Fake("a", ["p"], np.full((5, 1), FT), [], touches="none")]
    root = write_touch_corpus(tmp_path / "corpus", fakes)
    out = tmp_path / "empty.h5"
    with pytest.raises(CorpusError, match="no touches"):
        build_index(root, out, progress=False)
    assert not out.exists() and list(tmp_path.glob("*partial*")) == []


def test_build_never_overwrites_without_force(built, tmp_path):
    root = built[0].parent
    out = tmp_path / "mine.h5"
    out.write_text("precious")
    with pytest.raises(OutputExistsError, match="already exists"):
        build_index(root, out, progress=False)
    assert out.read_text() == "precious"
    build_index(root, out, progress=False, force=True)
    assert corpus_index.load(out).info()["events"] > 0


# -- queries -------------------------------------------------------------------------------


def test_query_returns_a_slice_of_one_second_with_times_from_its_start(index):
    seq = index.query(FS, 1.0, np.random.default_rng(3))
    _check_sequence(seq, 1.0)
    assert seq.gesture == FS and seq.duration == 1.0 and len(seq.sources) == 1
    assert np.allclose(seq.t, np.arange(10) / 10, atol=1e-6)  # ann's stroke: 10 events
    assert np.allclose(seq.x * 1024, 100 + 10 * np.arange(10))
    assert np.all(seq.y == seq.y[0])


@pytest.mark.parametrize("duration", [0.05, 0.3, 1.0, 2.5, 7.0])
def test_queries_are_never_empty_for_gestures_1_to_8(index, duration):
    rng = np.random.default_rng(5)
    for g in range(1, 9):
        for _ in range(25):
            _check_sequence(index.query(g, duration, rng), duration)


def test_gesture_n_is_empty_even_where_n_seconds_have_touches(index):
    assert index.info()["gestures"]["N"]["events"] == 19  # eve's (slot 19: no row covers it)
    for gesture in (0, "N", 0.0):
        seq = index.query(gesture, 1.0)
        assert seq.empty and len(seq) == 0 and seq.duration == 1.0


def test_sparse_gestures_skip_silence_instead_of_returning_nothing(index):
    # dan taps once every third second: a fresh pick is always a second with a tap.
    player = index.player(seed=2)
    for _ in range(30):
        _check_sequence(player.next(ST, 0.2), 0.2)


def test_queries_accept_names_and_floats_and_reject_nonsense(index):
    rng = np.random.default_rng(0)
    assert index.query("fs", 1.0, rng).gesture == FS
    assert index.query(3.0, 1.0, rng).gesture == FS
    with pytest.raises(GestureError):
        index.query("XX")
    with pytest.raises(GestureError):
        index.query(9)
    with pytest.raises(ValueError, match="duration"):
        index.query(FS, 0)
    with pytest.raises(ValueError, match="near"):
        index.query(FS, near=(0.5,))
    with pytest.raises(ValueError, match="speed"):
        index.query(FS, speed=-1)


def test_seeded_queries_are_reproducible(index):
    def draw(seed):
        rng = np.random.default_rng(seed)
        return [index.query(g, 1.3, rng) for g in (1, 2, 3, 7) * 5]

    first, again, other = draw(11), draw(11), draw(12)
    for a, b in zip(first, again, strict=True):
        assert a.sources == b.sources and np.array_equal(a.t, b.t) and np.array_equal(a.x, b.x)
    assert any(a.sources != b.sources for a, b in zip(first, other, strict=True))
    p, q = index.player(seed=4), index.player(seed=4)
    assert [p.next(FT).sources for _ in range(5)] == [q.next(FT).sources for _ in range(5)]


def test_a_player_continues_its_source_while_the_label_holds(index):
    player = index.player(seed=7)
    spans = [player.next(FS, 1.0).sources for _ in range(40)]
    continued = jumped = 0
    for before, after in zip(spans, spans[1:], strict=False):
        end = before[-1].end
        if end < 12.0:  # ann's FS run ends at slot 12
            assert after[0].stream == before[-1].stream and after[0].start == end
            continued += 1
        else:
            jumped += 1
    assert continued > 20 and jumped >= 2
    # A continuation is the stroke that comes next: x keeps its 10-point steps.
    player = index.player(seed=8)
    first, second = player.next(FS, 0.55), player.next(FS, 0.45)
    assert second.sources[0].start == first.sources[-1].end
    assert len(first) == 6 and len(second) == 4
    assert np.allclose(np.diff(np.concatenate([first.x, second.x]) * 1024), 10)


def test_a_player_jumps_when_the_gesture_changes_and_after_n(index):
    player = index.player(seed=1)
    a = player.next(FS)
    b = player.next(SS)
    assert b.gesture == SS and b.sources[0].start != a.sources[-1].end
    assert player.next(N).empty
    c = player.next(SS, 0.5)
    d = player.next(SS, 0.5)
    assert d.sources[0].start == c.sources[-1].end or c.sources[-1].end == 29
    player.next(SS, 0.25)  # now a quarter into a second: a fresh pick starts on a second
    player.reset()
    start = player.next(SS, 0.5).sources[0].start
    assert start == int(start)


def test_a_run_that_ends_mid_tick_is_filled_from_a_new_source(index):
    player = index.player(seed=3)
    while True:  # get to half a second before ann's FS run ends at 12
        seq = player.next(FS, 0.5)
        if seq.sources[-1].end == 11.5:
            break
    seq = player.next(FS, 1.0)
    _check_sequence(seq, 1.0)
    assert seq.sources[0] == (0, 11.5, 12.0) and len(seq.sources) == 2
    assert math.isclose(seq.sources[1].end - seq.sources[1].start, 0.5)
    assert np.sum(seq.t < 0.5) == 5 and np.sum(seq.t >= 0.5) == 5  # 5 events from each


def _rotor() -> Fake:
    """One performer who turns the iPad mid-second (landscape to portrait at 4.55 s) and
    touches just off both screens' edges, so sequences cross screens and get clipped."""
    labels = np.full((10, 1), FS)
    events = []
    for s in range(10):
        for k in range(10):
            t = s + k / 10 + 0.05
            x, y = (900 + k, 100 - k) if t < 4.5 else (100 + k, 900 + k)
            if k == 3:
                x, y = (1030, -3) if t < 4.5 else (-2, 1030)
            events.append((t, "rho", x, y, 0 if k == 0 else 7.5))
    return Fake("rotor", ["rho"], labels, events)


def _recorded(path: Path, arrays: dict | None = None) -> tuple[list[np.ndarray], ...]:
    """Each stream's events as docs/corpus-index.md defines them, from the file's arrays:
    time = slot + us_in_second * 1e-6, point = half points over the screen, clipped."""
    from corpus_index.storage import event_velocity, read_index

    a = arrays or read_index(path)[0]
    screen = np.repeat(
        a["screen_runs/screen"], np.diff(np.append(a["screen_runs/start"], len(a["events/x_half"])))
    )
    velocity = event_velocity(a)
    times, xs, ys, vs = [], [], [], []
    second_start = a["streams/second_start"]
    for s, first_slot in enumerate(a["streams/first_slot"]):
        k0, k1 = second_start[s], second_start[s + 1]
        lo, hi = a["seconds/event_start"][k0], a["seconds/event_start"][k1]
        counts = np.diff(a["seconds/event_start"][k0 : k1 + 1])
        t = np.repeat(np.arange(first_slot, first_slot + k1 - k0).astype(np.float64), counts)
        t += a["events/us_in_second"][lo:hi] * 1e-6
        points = []
        for half, size in (("x_half", "width"), ("y_half", "height")):
            scale = (0.5 / a[f"screens/{size}"].astype(np.float64)).astype(np.float32)
            values = a[f"events/{half}"][lo:hi].astype(np.float32) * scale[screen[lo:hi]]
            points.append(np.clip(values, 0, 1))
        times.append(t)
        xs.append(points[0])
        ys.append(points[1])
        vs.append(velocity[lo:hi])
    return times, xs, ys, vs


def _expected(recorded, seq: TouchSequence) -> list[np.ndarray]:
    """What ``seq`` must hold: its sources' events, each span shifted to follow the last."""
    times, xs, ys, vs = recorded
    parts: list[list[np.ndarray]] = [[], [], [], []]
    offset = 0.0
    for span in seq.sources:
        t = times[span.stream]
        a, b = np.searchsorted(t, [span.start, span.end])
        for part, values in zip(parts, (t[a:b] - (span.start - offset), xs, ys, vs), strict=True):
            part.append(values if part is parts[0] else values[span.stream][a:b])
        offset += span.end - span.start
    return [np.concatenate(p) for p in parts]


def test_sequences_are_exactly_the_recorded_events_of_their_sources(built, index, tmp_path):
    """Every sequence, bit for bit, is the events its sources name: times, clipped points
    and velocities as the file defines them (also across a screen turn and off-edge points)."""
    root = write_touch_corpus(tmp_path, [_rotor()])
    build_index(root, root / "rotor.h5", progress=False)
    for path, idx in ((built[0], index), (root / "rotor.h5", corpus_index.load(root / "rotor.h5"))):
        recorded = _recorded(path)
        rng = np.random.default_rng(21)
        checked = turned = 0
        for i in range(600):
            g = 1 + i % 8
            if g in idx.missing:
                continue
            d = (0.05, 0.3, 1.0, 2.5, 5.0)[i % 5]
            near = None if i % 3 else ((i % 10) / 10, (i % 7) / 7)
            speed = None if i % 4 else float(i % 40)
            seqs = [idx.query(g, d, rng, near=near, speed=speed)]
            player = idx.player(seed=i)
            seqs += [player.next(g, d) for _ in range(3)]
            for seq in seqs:
                t, x, y, v = _expected(recorded, seq)
                assert np.array_equal(seq.t, t) and seq.t.dtype == np.float64
                assert np.array_equal(seq.x, x) and np.array_equal(seq.y, y)
                assert np.array_equal(seq.velocity, v)
                checked += len(seq)
                landscape, portrait = (seq.x > 0.8) & (seq.y < 0.2), (seq.y > 0.8) & (seq.x < 0.2)
                turned += bool(landscape.any() and portrait.any())
        assert checked > 1000
    # The rotor turns inside a played second: many sequences cross screens.
    assert turned > 20


def test_near_and_speed_move_the_choice(index):
    def bob_share(**kw):
        rng = np.random.default_rng(0)
        picks = [index.query(FT, 1.0, rng, **kw).sources[0].stream for _ in range(300)]
        return np.mean(np.array(picks) == 1)  # stream 1: bob, bottom right, taps

    assert bob_share(near=(0.9, 0.9)) > 0.85
    assert bob_share(near=(0.1, 0.2)) < 0.15
    assert bob_share(speed=0.0) > 0.85
    assert bob_share(speed=60.0) < 0.15
    assert bob_share(near=(0.9, 0.9), speed=0.0) > 0.85
    assert 0.3 < bob_share() < 0.8


def test_gestures_without_touches_fall_back_to_the_procedural_generator(index, caplog):
    assert index.missing == [4, 5, 6, 8]
    for g in index.missing:
        seq = index.query(g, 1.0, np.random.default_rng(g))
        _check_sequence(seq, 1.0)
        assert seq.sources[0].stream == -1


def test_missing_gestures_are_warned_about_at_load(built, caplog):
    with caplog.at_level(logging.WARNING, logger="corpus_index"):
        corpus_index.load(built[0])
    assert "no touches of FSA, VSS, BS, C" in caplog.text and "procedural" in caplog.text


# -- the index file ------------------------------------------------------------------------


def test_open_gives_the_index_or_the_fallback(built):
    assert isinstance(corpus_index.open(built[0]), corpus_index.CorpusIndex)
    assert isinstance(corpus_index.open(None), ProceduralIndex)
    with pytest.raises(IndexFileError):
        corpus_index.open(built[0].parent / "nothing.h5")  # no silent fallback


def _corrupt(tmp_path: Path, source: Path, how: str) -> Path:
    path = tmp_path / f"{how}.h5"
    data = source.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "foreign":
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)
    else:
        path.write_bytes(data)
        with h5py.File(path, "a") as f:
            if how == "version":
                f.attrs["version"] = 99
            elif how == "missing-dataset":
                del f["seconds/label"]
            elif how == "bad-offsets":
                starts = f["seconds/event_start"][()]
                starts[3] = starts[-1] + 5
                del f["seconds/event_start"]
                f["seconds/event_start"] = starts
            elif how == "wrong-dtype":
                labels = f["seconds/label"][()].astype(np.float64)
                del f["seconds/label"]
                f["seconds/label"] = labels
    return path


@pytest.mark.parametrize(
    "how, message",
    [
        ("truncated", "not a corpus index|damaged"),
        ("garbage", "not an HDF5 file"),
        ("empty", "is empty"),
        ("foreign", "not a gesture-rnn corpus index"),
        ("version", "version 99.*rebuild"),
        ("missing-dataset", "dataset seconds/label is missing"),
        ("bad-offsets", "damaged"),
        ("wrong-dtype", "seconds/label has type float64"),
    ],
)
def test_unusable_index_files_are_one_clear_error_naming_the_file(built, tmp_path, how, message):
    path = _corrupt(tmp_path, built[0], how)
    with pytest.raises(IndexFileError, match=message) as error:
        corpus_index.load(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_missing_index_file_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexFileError, match="no such corpus index.*gesture-rnn corpus build"):
        corpus_index.load(tmp_path / "none.h5")


def test_the_index_file_holds_plain_arrays_only(built):
    with h5py.File(built[0]) as f:
        kinds = set()
        f.visititems(lambda name, node: kinds.add(getattr(node, "dtype", np.dtype("V")).kind))
        assert kinds <= {"i", "u", "f", "O", "V"}  # numbers, UTF-8 strings, groups
        assert f.attrs["format"] == "gesture-rnn corpus index"


# -- the procedural fallback ---------------------------------------------------------------


@pytest.mark.parametrize("duration", [0.1, 1.0, 3.0])
def test_the_fallback_is_never_empty_and_well_formed(duration):
    fallback = ProceduralIndex(seed=0)
    rng = np.random.default_rng(0)
    for g in range(1, 9):
        for _ in range(10):
            _check_sequence(fallback.query(g, duration, rng), duration)
    assert fallback.query(0, duration).empty


def test_the_fallback_is_seeded_and_its_players_continue():
    a = [ProceduralIndex().query(g, 1.0, np.random.default_rng(9)) for g in range(1, 9)]
    b = [ProceduralIndex().query(g, 1.0, np.random.default_rng(9)) for g in range(1, 9)]
    for p, q in zip(a, b, strict=True):
        assert np.array_equal(p.t, q.t) and np.array_equal(p.x, q.x)
    player = ProceduralIndex().player(seed=1)
    spans = [player.next("BS", 0.5).sources[0] for _ in range(6)]
    assert all(s.start == r.end for r, s in zip(spans, spans[1:], strict=False))
    first, second = player.next("BS", 0.5), player.next("BS", 0.5)
    # A swirl runs on: the first point of the next tick is one step from the last one.
    step = math.hypot((second.x[0] - first.x[-1]) * 1024, (second.y[0] - first.y[-1]) * 768)
    assert step < 3 * np.median(first.velocity[1:])
    assert player.next("FT").sources[0].start == 0.0  # a new gesture starts a new motion


def test_the_fallback_follows_near_and_speed():
    fallback = ProceduralIndex(seed=0)
    rng = np.random.default_rng(0)
    for g in range(1, 9):
        seq = fallback.query(g, 2.0, rng, near=(0.15, 0.2))
        assert abs(np.median(seq.x) - 0.15) < 0.2 and abs(np.median(seq.y) - 0.2) < 0.25
    slow = np.mean([fallback.query("BS", 1.0, rng, speed=5).velocity.mean() for _ in range(5)])
    fast = np.mean([fallback.query("BS", 1.0, rng, speed=40).velocity.mean() for _ in range(5)])
    assert fast > 3 * slow


def test_the_fallback_gestures_differ_as_their_names_say():
    fallback = ProceduralIndex(seed=0)
    rng = np.random.default_rng(0)

    def mean_speed(g):
        return np.mean([fallback.query(g, 1.0, rng).velocity.mean() for _ in range(10)])

    def taps_per_second(g):
        return np.mean([np.sum(fallback.query(g, 1.0, rng).velocity == 0) for _ in range(10)])

    assert taps_per_second("FT") > 2 * taps_per_second("ST")
    assert mean_speed("VSS") < mean_speed("SS") < mean_speed("BS")
    assert mean_speed("FS") > 3 * mean_speed("FT")


# -- the shared corpus ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(corpus_dir, tmp_path_factory):
    """An index of a few performances of the shared corpus (all their players)."""
    from gesture_rnn.corpus import read_metadata

    metadata = read_metadata(corpus_dir)
    names = [
        n
        for n in metadata["filename"]
        if touch_file(corpus_dir, n) and gesture_file(corpus_dir, n).is_file()
    ][20:26]
    out = tmp_path_factory.mktemp("shared") / "touches.h5"
    build_index(corpus_dir, out, progress=False, performances=names)
    return corpus_dir, names, corpus_index.load(out, seed=0)


def test_shared_corpus_events_are_stored_exactly_once(shared):
    root, names, index = shared
    total = 0
    for stream in range(len(index.stream_player)):
        name, player = index.stream_info(stream)
        table = pd.read_csv(touch_file(root, name))
        mine = table[table["device_id"] == player]
        seconds = np.flatnonzero(index.second_stream == stream)
        a, b = index.second_start[seconds[0]], index.second_start[seconds[-1] + 1]
        assert b - a == len(mine)
        order = np.argsort(pd.to_datetime(mine["time"], format="ISO8601").to_numpy(), kind="stable")
        x, y = index.raw_points(a, b)
        assert np.allclose(x, mine["x_pos"].to_numpy()[order], atol=1e-3)
        assert np.allclose(y, mine["y_pos"].to_numpy()[order], atol=1e-3)
        assert np.allclose(index.velocity[a:b], mine["velocity"].to_numpy()[order], atol=2e-3)
        total += b - a
    assert total == len(index.t)
    assert sorted(set(index.manifest["name"])) == sorted(names)


def test_shared_corpus_seconds_per_gesture_match_the_gesture_files(shared):
    root, names, index = shared
    rows = np.zeros(9, dtype=int)
    for name in names:
        gestures, _ = read_gesture_file(gesture_file(root, name))
        rows += np.bincount(gestures.ravel(), minlength=9)
    seconds = np.array([g["seconds"] for g in index.info()["gestures"].values()])
    # Every row labels its own slot; the clamped ends add at most 4 slots a performer.
    assert np.all(seconds >= rows)
    assert seconds.sum() - rows.sum() <= 4 * len(index.stream_player)


def test_shared_corpus_queries(shared):
    _, _, index = shared
    rng = np.random.default_rng(0)
    for g in range(1, 9):
        if g in index.missing:
            continue
        for _ in range(30):
            seq = index.query(g, 1.0, rng)
            _check_sequence(seq, 1.0)
            span = seq.sources[0]
            second = index.second_at(span.stream, span.start)
            assert index.labels[second] == g  # the touches were labelled g


def test_shared_corpus_near_and_speed(shared):
    _, _, index = shared
    rng = np.random.default_rng(0)
    g = next(g for g in (7, 6, 8, 3) if g not in index.missing)

    def mean_of(field, **kw):
        return np.mean([getattr(index.query(g, 1.0, rng, **kw), field).mean() for _ in range(200)])

    assert mean_of("x", near=(0.1, 0.5)) + 0.15 < mean_of("x", near=(0.9, 0.5))
    assert mean_of("y", near=(0.5, 0.1)) + 0.15 < mean_of("y", near=(0.5, 0.9))
    assert mean_of("velocity", speed=1.0) * 3 < mean_of("velocity", speed=40.0)


def test_a_failed_write_is_one_error_and_leaves_nothing(tmp_path):
    from gesture_rnn.files import OutputError, write_new

    def full_disk(tmp):
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="cannot write .*out.h5: No space left on device"):
        write_new(tmp_path / "out.h5", full_disk)
    assert list(tmp_path.iterdir()) == []
