"""Generate an ensemble for a lead part, and write performances as CSV, PNG and MIDI.

Generation is what the live ensemble does, a second at a time: the model starts from its
zero state with the ensemble all N (gesture 0); each second it hears the lead's gesture
and the ensemble's gestures of a second before, and the sampled answer is fed back.

A performance here is a ``(seconds, k)`` array of gesture codes, the lead in column 0,
with column names ``lead, player1, ..., player{k-1}``. The writers never overwrite an
existing file unless asked (``force=True``): each writes a temporary file beside the
target and moves it into place only when it is complete.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from . import checked
from .config import check_liveliness, check_temperature
from .corpus import (
    EVERYTHING,
    CorpusFileError,
    gesture_file,
    load_corpus,
    read_gesture_file,
    read_metadata,
)
from .errors import InputFileError
from .evaluate import single_threaded_blas
from .extras import require
from .files import write_new
from .gestures import GESTURE_NAMES, NUM_GESTURES
from .midi_map import CC_SCALES, MidiNumbers, cc_value, gesture_value

log = logging.getLogger(__name__)

TICKS_PER_BEAT = 480
BPM = 60  # one step a beat; at 60 BPM one second, as in the corpus
SYSTEM_SECONDS = 300  # seconds in one row of the plot
# one colour per gesture code 0-8; N ("nothing") pale so playing stands out
GESTURE_COLOURS = (
    "#eeeeee", "#1f77b4", "#aec7e8", "#d62728", "#ff9896",
    "#2ca02c", "#9467bd", "#c5b0d5", "#ff7f0e",
)  # fmt: skip


class GenerationError(ValueError):
    """A lead part or output cannot be used as asked; the message says why."""


class TouchSequence(Protocol):
    """One player's touches over a step (corpus_index.TouchSequence): seconds from the
    step's start, x and y 0-1, velocity in screen points (0 at a touch-down)."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    velocity: np.ndarray


class LeadFileError(GenerationError, InputFileError):
    """A lead gesture CSV that cannot be read: missing, not a file, damaged (exit code 2)."""


class StepModel(Protocol):
    """The part of :class:`gesture_rnn.runtime.GestureModel` that generation uses."""

    ensemble: int

    def reset(self) -> None: ...

    def step(self, lead: int, ensemble_before: Sequence[int]) -> np.ndarray: ...

    def sample(
        self, probabilities: np.ndarray, temperature: float, rng, liveliness: float, before
    ) -> tuple[int, ...]: ...


def column_names(ensemble: int) -> tuple[str, ...]:
    """``lead, player1, ..., player{k-1}``: the columns of a generated performance."""
    return ("lead",) + tuple(f"player{n}" for n in range(1, ensemble))


def generate(
    model: StepModel,
    lead: Sequence[int] | np.ndarray,
    temperature: float = 1.0,
    rng: np.random.Generator | int | None = None,
    liveliness: float = 1.0,
) -> np.ndarray:
    """The lead with a generated ensemble: an int8 array (seconds, k), lead in column 0.

    ``liveliness`` reweights how often the ensemble changes
    (:func:`gesture_rnn.runtime.sample_states`): 1 the model as it is, 0 never.
    """
    lead = check_gestures(np.asarray(lead), "the lead part").reshape(-1)
    try:
        temperature = check_temperature(temperature)
        liveliness = check_liveliness(liveliness)
    except ValueError as error:
        raise GenerationError(str(error)) from None
    rng = np.random.default_rng(rng)
    out = np.zeros((len(lead), model.ensemble), dtype=np.int8)
    before: tuple[int, ...] = (0,) * (model.ensemble - 1)
    model.reset()
    with single_threaded_blas():
        for t, gesture in enumerate(lead):
            probabilities = model.step(int(gesture), before)
            drawn = model.sample(probabilities, temperature, rng, liveliness, before)
            before = tuple(int(g) for g in drawn)
            out[t, 0] = gesture
            out[t, 1:] = before
    return out


def check_gestures(gestures: np.ndarray, what: str) -> np.ndarray:
    """``gestures`` as int8 if every value is a gesture code 0-8, else a GenerationError."""
    if gestures.size == 0:
        raise GenerationError(f"{what} is empty")
    if gestures.dtype.kind == "f" and not np.all(np.isfinite(gestures)):
        raise GenerationError(f"{what} has a value that is not a number")
    bad = (gestures < 0) | (gestures >= NUM_GESTURES) | (gestures != np.round(gestures))
    if np.any(bad):
        value = gestures[bad].flat[0]
        raise GenerationError(f"{what} has the value {value}, not a gesture code 0-8")
    return gestures.astype(np.int8)


def ensemble_touches(gestures: np.ndarray, source, step_seconds: float, rng=None) -> list[list]:
    """Each ensemble player's touches for every step, as the live bridge makes them.

    ``source`` is a touch source (``corpus_index.open(path)``, or ``open(None)`` for the
    procedural fallback); every ensemble player gets a touch player of its own. Returns
    ``touches[step][player - 1]``, each a :class:`TouchSequence` over ``step_seconds``.
    """
    rng = np.random.default_rng(rng)
    players = [source.player(rng) for _ in range(gestures.shape[1] - 1)]
    return [
        [player.next(int(g), step_seconds) for player, g in zip(players, row[1:], strict=True)]
        for row in np.asarray(gestures).tolist()
    ]


# -- lead parts ---------------------------------------------------------------------------


def read_lead_csv(path: str | Path, column: str | None = None) -> np.ndarray:
    """One player's gestures, one a second, from a CSV in the corpus gesture-file layout.

    The layout is a ``time`` column (seconds, or dates and times as in the corpus and in
    ``bridge --record``), then a column of gesture codes per player. With several player
    columns, ``column`` names the lead's. Rows not one second apart (a recording made with
    ``--period 0.1``, or with gaps) are resampled by their times to one-second steps: each
    step takes the gesture in force at that second; a log line says so.
    """
    path = Path(path)
    try:
        gestures, players = read_gesture_file(path)
    except CorpusFileError as error:
        raise LeadFileError(str(error)) from None
    lead = _pick_player(gestures, players, column, f"{path}", "--lead-column")
    return _one_a_second(lead, _read_times(path), path)


STEP_TOLERANCE = 0.25  # seconds: rows this close to one second apart are taken as they are
MAX_LEAD_SECONDS = 24 * 3600  # a lead part longer than a day is a wrong time, not a concert


def _read_times(path: Path) -> np.ndarray:
    """The time column in seconds from the first row: numbers, or ISO 8601 dates and times."""
    import pandas as pd

    column = pd.read_csv(path, usecols=["time"], dtype=str, keep_default_na=False)["time"]
    seconds = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if np.isnan(seconds).any():
        stamps = pd.to_datetime(column, format="ISO8601", errors="coerce")
        if stamps.isna().any():
            neither = stamps.isna().to_numpy() & np.isnan(seconds)
            row = int(np.flatnonzero(neither if neither.any() else stamps.isna().to_numpy())[0])
            raise LeadFileError(
                f"{path}: line {row + 2}: time {checked.shown(column.iat[row])} is neither "
                "seconds nor "
                "a date and time, so the lead cannot be placed in time"
            )
        stamps = stamps.to_numpy(dtype="datetime64[us]")
        seconds = (stamps - stamps[0]) / np.timedelta64(1, "s")
    if not np.all(np.isfinite(seconds)):
        raise LeadFileError(f"{path}: a time is not a finite number")
    if seconds[-1] - seconds[0] > MAX_LEAD_SECONDS:  # checked before steps are allocated
        row = int(np.flatnonzero(seconds - seconds[0] > MAX_LEAD_SECONDS)[0])
        raise LeadFileError(
            f"{path}: line {row + 2}: time {checked.shown(column.iat[row])} is more than "
            f"{MAX_LEAD_SECONDS // 3600} hours after the first; a lead part is at most that long"
        )
    steps = np.diff(seconds)
    if np.any(steps <= 0):
        row = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise LeadFileError(f"{path}: line {row + 2}: the times do not increase")
    return seconds - seconds[0]


def _one_a_second(lead: np.ndarray, times: np.ndarray, path: Path) -> np.ndarray:
    steps = np.diff(times)
    if np.all(np.abs(steps - 1.0) <= STEP_TOLERANCE):
        return lead
    at = np.arange(int(np.floor(times[-1] + STEP_TOLERANCE)) + 1, dtype=float)
    resampled = lead[np.searchsorted(times, at + 1e-6, side="right") - 1]
    log.info(
        "%s: rows every %.3g s (median), not one a second: resampled by time to %d "
        "one-second steps",
        path,
        float(np.median(steps)),
        len(resampled),
    )
    return resampled


def lead_from_corpus(root: str | Path, performance: str, player: str | None) -> np.ndarray:
    """The gestures of ``player`` in the corpus performance ``performance``.

    ``root`` is a corpus folder or the original single-file corpus (.h5).
    """
    root = Path(root)
    if root.is_file():
        loaded = {p.name: p for p in load_corpus(root, EVERYTHING)}
        _check_name(root, performance, list(loaded))
        found = loaded[performance]
        return _pick_player(
            found.gestures, found.players, player, f"performance {performance}", "--player"
        )
    _check_name(root, performance, list(read_metadata(root)["filename"]))
    file = gesture_file(root, performance)
    if not file.is_file():
        raise GenerationError(f"performance {performance} has no gesture file ({file} is missing)")
    gestures, players = _read_gestures(file)
    return _pick_player(gestures, players, player, f"performance {performance}", "--player")


def _read_gestures(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    try:
        return read_gesture_file(path)
    except CorpusFileError as error:
        raise GenerationError(str(error)) from None


def _check_name(root: Path, performance: str, names: list[str]) -> None:
    if performance not in names:
        close = difflib.get_close_matches(performance, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise GenerationError(f"{root} has no performance named {performance!r}{hint}")


def _pick_player(
    gestures: np.ndarray, players: tuple[str, ...], name: str | None, where: str, option: str
) -> np.ndarray:
    if name is None:
        if len(players) == 1:
            return gestures[:, 0]
        raise GenerationError(
            f"{where} has {len(players)} players ({_names(players)}); choose one with {option}"
        )
    if name not in players:
        raise GenerationError(
            f"{where} has no player {checked.shown(name)}; its players: {_names(players)}"
        )
    return gestures[:, players.index(name)]


def _names(players: Sequence[str], most: int = 8) -> str:
    more = f", ... ({len(players) - most} more)" if len(players) > most else ""
    return ", ".join(players[:most]) + more


# -- writing files ------------------------------------------------------------------------


def _check_performance(gestures: np.ndarray, columns: Sequence[str]) -> np.ndarray:
    gestures = np.asarray(gestures)
    if gestures.ndim != 2 or gestures.shape[1] != len(columns):
        raise GenerationError(
            f"a performance of shape {gestures.shape} does not match the columns {list(columns)}"
        )
    return check_gestures(gestures, "the performance")


def write_csv(
    path: str | Path, gestures: np.ndarray, columns: Sequence[str], force: bool = False
) -> Path:
    """The corpus gesture-file layout: ``time`` (seconds from the start), then a column each."""
    gestures = _check_performance(gestures, columns)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(",".join(("time", *columns)) + "\n")
            for t, row in enumerate(gestures):
                f.write(",".join(map(str, (t, *row.tolist()))) + "\n")

    return write_new(Path(path), write, force)


def write_midi(
    path: str | Path,
    gestures: np.ndarray,
    columns: Sequence[str],
    force: bool = False,
    *,
    touches: list[list[TouchSequence]] | None = None,
    bpm: float = BPM,
    cc_scale: str = "raw",
    mapping: MidiNumbers | None = None,
) -> Path:
    """A standard MIDI file (type 1) a DAW plays: a track per player, one step a beat.

    The live bridge's mapping (gesture_rnn.midi_map, docs/midi.md): the lead on channel 1,
    ensemble player n on channel n+1; each track sends the player's gesture as CC 20 at
    the start of every step (raw 0-8, or ``cc_scale="spread"`` over 0-127). With
    ``touches`` (:func:`ensemble_touches`) each ensemble player's touches follow within
    the step: CC 21 and 22 for x and y, and a note per touch-down (pitch from x, ended
    after ``mapping.note_length`` seconds). ``bpm`` sets the tempo (default 60: a step a
    second, lined up with the CSV).
    """
    import mido

    gestures = _check_performance(gestures, columns)
    if cc_scale not in CC_SCALES:
        raise GenerationError(f"--cc-scale {cc_scale!r}: choose one of {', '.join(CC_SCALES)}")
    if not (np.isfinite(bpm) and 20 <= bpm <= 999):
        raise GenerationError(f"--bpm {bpm:g}: must be from 20 to 999")
    if touches is not None and len(touches) != len(gestures):
        raise GenerationError(f"{len(touches)} steps of touches for {len(gestures)} steps")
    m = mapping or MidiNumbers()
    ticks_per_second = TICKS_PER_BEAT * bpm / 60.0
    end = len(gestures) * TICKS_PER_BEAT
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    for i, name in enumerate(columns):
        channel = m.lead_channel() if i == 0 else m.channel(i)
        played = None if i == 0 or touches is None else [step[i - 1] for step in touches]
        events = _track_events(gestures[:, i], played, channel, m, cc_scale, ticks_per_second)
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        if i == 0:
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
        now = 0
        for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
            tick = min(tick, end)
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=end - now))
        midi.tracks.append(track)
    return write_new(Path(path), lambda tmp: midi.save(filename=str(tmp)), force)


def _track_events(codes, played, channel, m: MidiNumbers, cc_scale, ticks_per_second) -> list:
    """One player's (tick, order, message) list: at one tick note-offs come first (order
    0), then CCs (1), then notes (2)."""
    import mido

    events: list = []

    def cc(tick: int, control: int, value: int) -> None:
        message = mido.Message("control_change", channel=channel, control=control, value=value)
        events.append((tick, 1, message))

    def off(tick: int, note: int) -> None:
        events.append((tick, 0, mido.Message("note_off", channel=channel, note=note)))

    sounding: dict[int, int] = {}  # note -> the tick its note-off is due
    length = max(1, round(m.note_length * ticks_per_second))
    for step, code in enumerate(codes.tolist()):
        start = step * TICKS_PER_BEAT
        cc(start, m.gesture_cc, gesture_value(int(code), cc_scale))
        if played is None:
            continue
        seq = played[step]
        for t, x, y, v in zip(seq.t, seq.x, seq.y, seq.velocity, strict=True):
            tick = start + min(round(float(t) * ticks_per_second), TICKS_PER_BEAT - 1)
            cc(tick, m.x_cc, cc_value(float(x)))
            cc(tick, m.y_cc, cc_value(float(y)))
            if v != 0:
                continue  # a move, not a touch-down
            note = m.touch_note(float(x))
            if note in sounding:  # struck again: the last one ends now at the latest
                off(min(sounding.pop(note), tick), note)
            sounding[note] = tick + length
            on = mido.Message("note_on", channel=channel, note=note, velocity=m.touch_velocity)
            events.append((tick, 2, on))
    for note, tick in sounding.items():
        off(tick, note)
    return events


def write_png(
    path: str | Path,
    gestures: np.ndarray,
    columns: Sequence[str],
    force: bool = False,
    title: str | None = None,
) -> Path:
    """A plot of the performance as a score (see :func:`performance_figure`). Needs
    matplotlib, the optional extra [plot]."""
    require("plot", f"the plot {path}")
    figure = performance_figure(gestures, columns, title)
    return write_new(
        Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=100), force, ".png"
    )


def write_comparison_png(
    path: str | Path,
    real: np.ndarray,
    generated: np.ndarray,
    columns: Sequence[str],
    titles: tuple[str, str],
    force: bool = False,
) -> Path:
    """:func:`comparison_figure` as a PNG. Needs matplotlib, the optional extra [plot]."""
    require("plot", f"the plot {path}")
    figure = comparison_figure(real, generated, columns, titles)
    return write_new(
        Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=100), force, ".png"
    )


def comparison_figure(
    real: np.ndarray, generated: np.ndarray, columns: Sequence[str], titles: tuple[str, str]
):
    """Two scores as :func:`performance_figure` draws them, one above the other on the
    same time axis: a real ensemble and a generated one for the same lead, ``titles``
    above each, one legend of the nine gestures. Returns a matplotlib Figure."""
    real, generated = _check_performance(real, columns), _check_performance(generated, columns)
    figure = _score_figure([real, generated])
    span = min(max(len(real), len(generated)), SYSTEM_SECONDS)
    for part, gestures, title in zip(
        figure.subfigures(2, 1), (real, generated), titles, strict=True
    ):
        _draw_score(part, gestures, columns, span)
        if title:
            part.suptitle(title, fontsize="medium")
    _gesture_key(figure)
    return figure


def performance_figure(gestures: np.ndarray, columns: Sequence[str], title: str | None = None):
    """The performance as a score: one lane per player (the lead on top), each second a
    cell in its gesture's colour (N left pale), and a legend of the nine gestures.

    A row (a "system", as in a score) holds at most SYSTEM_SECONDS; longer performances
    go on as more rows, so a 14-minute one is three rows of 5 minutes at 5 pixels a
    second rather than one line squeezed to 2. Returns a matplotlib Figure.
    """
    gestures = _check_performance(gestures, columns)
    figure = _score_figure([gestures])
    _draw_score(figure, gestures, columns, span=min(len(gestures), SYSTEM_SECONDS))
    if title:
        figure.suptitle(title, fontsize="medium")
    _gesture_key(figure)
    return figure


def _score_figure(scores: Sequence[np.ndarray]):
    """An empty Figure sized for ``scores`` (each (seconds, lanes)) drawn one above another."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    span = min(max(len(g) for g in scores), SYSTEM_SECONDS)
    width = min(max(8.0, span / 20), 16.0)  # 300 s: 15 inches, 5 pixels a second at 100 dpi
    height = 1.1 + sum(
        -(-len(g) // SYSTEM_SECONDS) * (0.3 * g.shape[1] + 0.6) + 0.4 * (len(scores) > 1)
        for g in scores
    )
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _draw_score(figure, gestures: np.ndarray, columns: Sequence[str], span: int) -> None:
    """The lanes of ``gestures`` on ``figure`` (a Figure or SubFigure), ``span`` seconds
    across each row."""
    from matplotlib.colors import ListedColormap
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    seconds, lanes = gestures.shape
    systems = -(-seconds // SYSTEM_SECONDS)
    colours = ListedColormap(GESTURE_COLOURS)
    clock = FuncFormatter(lambda t, _: f"{int(t) // 60}:{int(t) % 60:02d}")
    for row, axes in enumerate(figure.subplots(systems, 1, squeeze=False)[:, 0]):
        start, end = row * SYSTEM_SECONDS, min(seconds, (row + 1) * SYSTEM_SECONDS)
        axes.imshow(
            gestures[start:end].T,
            cmap=colours,
            vmin=-0.5,
            vmax=NUM_GESTURES - 0.5,
            aspect="auto",
            interpolation="nearest",
            extent=(start, end, lanes, 0),
        )
        axes.hlines(range(1, lanes), start, end, color="white", linewidth=2)
        axes.set_xlim(start, start + span)
        axes.set_ylim(lanes, 0)
        axes.set_yticks(np.arange(lanes) + 0.5, columns)
        axes.tick_params(axis="y", length=0)
        axes.xaxis.set_major_locator(MultipleLocator(30 if span > 120 else 10))
        axes.xaxis.set_major_formatter(clock)
        for side in ("top", "right", "left"):
            axes.spines[side].set_visible(False)
    axes.set_xlabel("time (minutes:seconds)")


def _gesture_key(figure) -> None:
    """The legend of the nine gestures' colours, below the figure."""
    from matplotlib.patches import Patch

    key = [
        Patch(facecolor=GESTURE_COLOURS[g], edgecolor="0.6", label=f"{g} {name}")
        for g, name in enumerate(GESTURE_NAMES)
    ]
    figure.legend(handles=key, loc="outside lower center", ncols=NUM_GESTURES, fontsize="small")
