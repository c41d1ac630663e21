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

from .config import check_temperature
from .corpus import (
    EVERYTHING,
    CorpusFileError,
    gesture_file,
    load_corpus,
    read_gesture_file,
    read_metadata,
)
from .evaluate import single_threaded_blas
from .files import write_new
from .gestures import GESTURE_NAMES, NUM_GESTURES

log = logging.getLogger(__name__)

TICKS_PER_BEAT = 480
BPM = 60  # one second = one beat
GESTURE_CC = 20  # the controller that carries the gesture code 0-8
LEAD_COLOUR = "red"
PLAYER_COLOURS = ("tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:cyan")


class GenerationError(ValueError):
    """A lead part or output cannot be used as asked; the message says why."""


class StepModel(Protocol):
    """The part of :class:`gesture_rnn.runtime.GestureModel` that generation uses."""

    ensemble: int

    def reset(self) -> None: ...

    def step(self, lead: int, ensemble_before: Sequence[int]) -> np.ndarray: ...

    def sample(self, probabilities: np.ndarray, temperature: float, rng) -> tuple[int, ...]: ...


def column_names(ensemble: int) -> tuple[str, ...]:
    """``lead, player1, ..., player{k-1}``: the columns of a generated performance."""
    return ("lead",) + tuple(f"player{n}" for n in range(1, ensemble))


def generate(
    model: StepModel,
    lead: Sequence[int] | np.ndarray,
    temperature: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """The lead with a generated ensemble: an int8 array (seconds, k), lead in column 0."""
    lead = check_gestures(np.asarray(lead), "the lead part").reshape(-1)
    try:
        temperature = check_temperature(temperature)
    except ValueError as error:
        raise GenerationError(str(error)) from None
    rng = np.random.default_rng(rng)
    out = np.zeros((len(lead), model.ensemble), dtype=np.int8)
    before: tuple[int, ...] = (0,) * (model.ensemble - 1)
    model.reset()
    with single_threaded_blas():
        for t, gesture in enumerate(lead):
            probabilities = model.step(int(gesture), before)
            before = tuple(int(g) for g in model.sample(probabilities, temperature, rng))
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


# -- lead parts ---------------------------------------------------------------------------


def read_lead_csv(path: str | Path, column: str | None = None) -> np.ndarray:
    """One player's gestures from a CSV in the corpus gesture-file layout.

    The layout is a ``time`` column, then a column of gesture codes per player. With
    several player columns, ``column`` names the lead's.
    """
    path = Path(path)
    if not path.is_file():
        raise GenerationError(f"lead file {path} does not exist")
    gestures, players = _read_gestures(path)
    return _pick_player(gestures, players, column, f"{path}", "--lead-column")


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
            f"{where} has {len(players)} players ({', '.join(players)}); choose one with {option}"
        )
    if name not in players:
        raise GenerationError(f"{where} has no player {name!r}; its players: {', '.join(players)}")
    return gestures[:, players.index(name)]


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
    path: str | Path, gestures: np.ndarray, columns: Sequence[str], force: bool = False
) -> Path:
    """A standard MIDI file (type 1), a track per player, each gesture as CC 20 = code.

    The lead is on MIDI channel 1, ensemble player n on channel n+1. At 60 BPM one beat
    is one second; each track sends the player's gesture at the start of every second.
    """
    import mido

    gestures = _check_performance(gestures, columns)
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    for i, name in enumerate(columns):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        if i == 0:
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(BPM), time=0))
        for t, code in enumerate(gestures[:, i].tolist()):
            delta = 0 if t == 0 else TICKS_PER_BEAT
            track.append(
                mido.Message(
                    "control_change", channel=i, control=GESTURE_CC, value=int(code), time=delta
                )
            )
        track.append(mido.MetaMessage("end_of_track", time=TICKS_PER_BEAT))
        midi.tracks.append(track)
    return write_new(Path(path), lambda tmp: midi.save(filename=str(tmp)), force)


def write_png(
    path: str | Path,
    gestures: np.ndarray,
    columns: Sequence[str],
    force: bool = False,
    title: str | None = None,
) -> Path:
    """A plot: time in seconds across, the nine gestures up the side, the lead in red.

    Each ensemble player has its own colour and a small vertical offset, so players
    playing the same gesture stay visible side by side. Needs matplotlib.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise GenerationError(
            f"cannot write the plot {path}: it needs matplotlib, which is not installed "
            "(pip install matplotlib)"
        ) from None
    gestures = _check_performance(gestures, columns)
    seconds = len(gestures)
    figure = Figure(figsize=(min(max(8.0, seconds / 40), 30.0), 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    times = np.arange(seconds + 1)
    for i, name in enumerate(columns):
        colour = LEAD_COLOUR if i == 0 else PLAYER_COLOURS[(i - 1) % len(PLAYER_COLOURS)]
        offset = 0.0 if i == 0 else 0.09 * (i - (len(columns)) / 2)
        values = np.append(gestures[:, i], gestures[-1, i]) + offset
        width = 2.0 if i == 0 else 1.3
        axes.step(
            times, values, where="post", color=colour, linewidth=width, label=name, zorder=3 - i
        )
    axes.set_xlim(0, seconds)
    axes.set_ylim(-0.6, NUM_GESTURES - 0.4)
    axes.set_yticks(range(NUM_GESTURES), [f"{c} {n}" for c, n in enumerate(GESTURE_NAMES)])
    axes.set_xlabel("time (seconds)")
    axes.set_ylabel("gesture")
    axes.grid(axis="y", alpha=0.3)
    if title:
        axes.set_title(title)
    figure.legend(loc="outside lower center", ncols=len(columns), fontsize="small")
    return write_new(Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=100), force)
