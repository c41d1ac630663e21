"""See what each gesture is: a few touch sequences drawn as trails on the screen.

matplotlib is imported only here, inside :func:`plot_gestures`; it is an optional
extra (``pip install 'gesture-rnn[plot]'``), and a missing matplotlib is one clear error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gesture_rnn.errors import CorpusError
from gesture_rnn.extras import MissingExtraError, require
from gesture_rnn.files import write_new
from gesture_rnn.gestures import GESTURES, NUM_GESTURES

SCREEN_ASPECT = 768 / 1024  # the trails are drawn on a landscape iPad screen
BREAK_DISTANCE = 0.1  # of the screen width
BREAK_SECONDS = 0.1
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")


class PlotError(CorpusError):
    """The plot cannot be made (matplotlib missing)."""


def _matplotlib():
    try:
        require("plot", "corpus plot")
    except MissingExtraError as error:
        raise PlotError(str(error)) from None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return Figure, FigureCanvasAgg


def plot_gestures(
    index,
    out: str | Path,
    gestures: list[int] | None = None,
    sequences: int = 4,
    duration: float = 3.0,
    seed: int = 0,
    title: str = "",
    force: bool = False,
) -> Path:
    """Write a PNG: one panel per gesture (all nine when ``gestures`` is None), each with
    ``sequences`` random sequences of ``duration`` seconds from ``index`` (a corpus index
    or the procedural fallback). Lines join the events of one touch; a circle marks each
    touch-down (velocity 0). Colours tell the sequences apart; a legend says so."""
    figure = gestures_figure(index, gestures, sequences, duration, seed, title)
    return write_new(out, lambda tmp: figure.savefig(tmp, format="png", dpi=110), force, ".png")


def gestures_figure(
    index,
    gestures: list[int] | None = None,
    sequences: int = 4,
    duration: float = 3.0,
    seed: int = 0,
    title: str = "",
):
    """The matplotlib Figure that :func:`plot_gestures` writes."""
    Figure, FigureCanvasAgg = _matplotlib()
    from matplotlib.lines import Line2D

    gestures = list(range(NUM_GESTURES)) if gestures is None else list(gestures)
    columns = min(3, len(gestures))
    rows = -(-len(gestures) // columns)
    figure = Figure(figsize=(4.2 * columns, 4.2 * SCREEN_ASPECT * rows + 0.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False).ravel())
    rng = np.random.default_rng(seed)
    for ax, g in zip(axes, gestures, strict=False):
        _panel(ax, index, g, sequences, duration, rng)
    for ax in axes[len(gestures) :]:
        ax.set_visible(False)
    figure.suptitle(
        title or f"{sequences} sequences of {duration:g} s per gesture", fontsize="medium"
    )
    grey = "0.35"
    key = [
        Line2D([], [], color=grey, lw=1, label="line: one finger's path"),
        Line2D(
            [], [], ls="none", marker="o", mfc="none", mec=grey, ms=5, label="circle: a touch-down"
        ),
        Line2D([], [], color=COLOURS[0], lw=4, label=f"colour: one sequence of {duration:g} s"),
    ]
    figure.legend(handles=key, loc="outside lower center", ncols=3, fontsize="small", frameon=False)
    return figure


def _panel(ax, index, g: int, sequences: int, duration: float, rng) -> None:
    gesture = GESTURES[g]
    ax.set_title(f"{gesture.code} {gesture.name}: {gesture.description}", fontsize="small")
    ax.set_xlim(0, 1)
    ax.set_ylim(1, 0)  # screen coordinates: y grows downwards
    ax.set_aspect(SCREEN_ASPECT)
    ax.set_xticks([])
    ax.set_yticks([])
    if g == 0:
        ax.text(0.5, 0.5, "no touching", ha="center", va="center", color="0.5")
        return
    for k in range(sequences):
        seq = index.query(g, duration, rng)
        colour = COLOURS[k % len(COLOURS)]
        # Break the line (NaN gaps) where a touch starts (velocity 0), and where the
        # next event is far in space or time: another finger (the velocity in the
        # touch files is from the last event, whichever finger made it).
        downs = seq.velocity == 0
        jump = np.hypot(np.diff(seq.x), np.diff(seq.y) * SCREEN_ASPECT) > BREAK_DISTANCE
        breaks = np.flatnonzero(downs[1:] | jump | (np.diff(seq.t) > BREAK_SECONDS)) + 1
        x = np.insert(seq.x.astype(float), breaks, np.nan)
        y = np.insert(seq.y.astype(float), breaks, np.nan)
        ax.plot(x, y, "-", color=colour, lw=1, alpha=0.8)
        ax.plot(seq.x[downs], seq.y[downs], "o", mfc="none", mec=colour, ms=3.5, mew=0.8)
