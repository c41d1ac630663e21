"""Training data: the lead's gesture and the others' last gestures -> the others' next.

For an ensemble of k players (the lead and k-1 others) every ordered choice of k players
of a performance is used: each player in turn is the lead, with every ordering of the
others, so the model sees every role. At time t the input is one integer, the
ensemble encoding of ``(lead[t], other_1[t-1], ..., other_{k-1}[t-1])``, and the target
is the encoding of ``(other_1[t], ..., other_{k-1}[t])``.

A performance of T seconds and one ordering give a *sequence* of T-1 steps (t = 1..T-1).
:class:`TrainingSequences` keeps only the sequences (a few MB for the whole corpus);
training cuts its own windows from them (:func:`gesture_rnn.train.epoch_windows`).

For other tools, ``gesture-rnn prepare --out`` writes every window of ``steps`` consecutive
steps (:meth:`TrainingSequences.arrays`), cut at every start 0..T-steps-2, the count the
original Gesture-RNN used, ordered by performance (metadata order), window start, and
ordering (lead in column order, then the others in ``itertools.permutations`` order).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from itertools import combinations, permutations
from pathlib import Path

import numpy as np

from .config import ENSEMBLES
from .corpus import Performance, Selection
from .files import write_new
from .gestures import NUM_GESTURES

log = logging.getLogger(__name__)

FRAMINGS = ("all", "last")


class PrepareError(ValueError):
    """Training data cannot be made as asked."""


def selection_for(ensemble: int, base: Selection | None = None) -> Selection:
    """Quartets come from 4-player performances; trios and duets from any with >= k."""
    if ensemble not in ENSEMBLES:
        raise PrepareError(f"ensemble size must be one of {ENSEMBLES}, got {ensemble}")
    base = base or Selection()
    if ensemble == 4:
        return replace(base, performers=4, min_performers=None)
    return replace(base, performers=None, min_performers=ensemble)


def player_subsets(
    performance: Performance, size: int, limit: int, rng: np.random.Generator
) -> list[Performance]:
    """At most ``limit`` performances of ``size`` of ``performance``'s players, seeded.

    Each is a copy with only those players' columns, named ``NAME players a,b,c,d``
    (player columns counted from 0). The subsets are drawn without replacement from all
    ``C(players, size)``; with fewer players than ``size`` there are none. For training a
    quartet on the corpus's quintets and its nine-player performance without letting the
    latter's ``P(9, 4) = 3024`` orderings outweigh the quartets themselves.
    """
    if size < 1 or limit < 1:
        raise PrepareError(f"subset size and limit must be at least 1, got {size} and {limit}")
    every = list(combinations(range(performance.num_players), size))
    if not every:
        return []
    chosen = sorted(rng.choice(len(every), size=min(limit, len(every)), replace=False))
    return [
        replace(
            performance,
            name=f"{performance.name} players {','.join(map(str, every[i]))}",
            gestures=np.ascontiguousarray(performance.gestures[:, list(every[i])]),
            players=tuple(performance.players[c] for c in every[i])
            if len(performance.players) == performance.num_players
            else (),
        )
        for i in chosen
    ]


def orderings(num_players: int, ensemble: int) -> np.ndarray:
    """Every ordered choice of ``ensemble`` players: (n, ensemble), lead first."""
    return np.array(list(permutations(range(num_players), ensemble)), dtype=np.intp).reshape(
        -1, ensemble
    )


def encode_sequences(gestures: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of every ordering: two int16 arrays (len(order), seconds - 1)."""
    g = gestures.astype(np.int16)
    place = NUM_GESTURES ** np.arange(order.shape[1] - 1, dtype=np.int16)
    lead_now = g[1:, order[:, 0]]  # (T-1, n)
    others_before = g[:-1][:, order[:, 1:]]  # (T-1, n, k-1)
    others_now = g[1:][:, order[:, 1:]]
    x = lead_now + NUM_GESTURES * (others_before @ place)
    y = others_now @ place
    return np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)


def window_count(seconds: int, steps: int) -> int:
    """Windows of ``steps`` steps in a performance of ``seconds`` seconds (the original's)."""
    return max(0, seconds - steps - 1)


@dataclass
class TrainingSequences:
    """Every (performance, ordering) sequence, flat.

    ``x`` (input codes) and ``y`` (target codes) hold all sequences back to back; sequence
    j is ``x[offsets[j]:offsets[j+1]]``, T-1 steps of a T-second performance. ``len()`` is
    the number of windows of ``steps`` steps that :meth:`arrays` cuts.
    """

    ensemble: int
    steps: int
    performance_names: tuple[str, ...]
    x: np.ndarray  # int16, every sequence back to back
    y: np.ndarray
    offsets: np.ndarray  # int64, len = sequences + 1
    sequence_performance: np.ndarray  # int32, the performance of each sequence
    sequence_order: np.ndarray  # (sequences, ensemble) player columns used

    def _windows_per_sequence(self) -> np.ndarray:
        return np.maximum(np.diff(self.offsets) - self.steps, 0)

    def __len__(self) -> int:
        return int(self._windows_per_sequence().sum())

    @property
    def window_performance(self) -> np.ndarray:
        """The performance (index into ``performance_names``) of each window of
        :meth:`arrays`, int32 ``(len(self),)``."""
        return np.repeat(self.sequence_performance, self._windows_per_sequence())

    @property
    def num_sequences(self) -> int:
        return len(self.offsets) - 1

    def sequence(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets of one whole sequence, from the performance's start."""
        a, b = self.offsets[j], self.offsets[j + 1]
        return self.x[a:b], self.y[a:b]

    def arrays(self, framing: str = "all") -> tuple[np.ndarray, np.ndarray]:
        """Every window at once (for ``gesture-rnn prepare --out``), int16: ``X``
        ``(len(self), steps)`` and ``y`` of the same shape for framing ``"all"`` (a target
        at every step) or ``(len(self),)`` for ``"last"``. Raises :class:`PrepareError` for
        another framing."""
        _check_framing(framing)
        n, steps = len(self), self.steps
        X = np.empty((n, steps), dtype=np.int16)
        Y = np.empty((n, steps) if framing == "all" else (n,), dtype=np.int16)
        done = 0
        for p in range(len(self.performance_names)):
            seqs = np.flatnonzero(self.sequence_performance == p)
            if not len(seqs):
                continue
            a, b = self.offsets[seqs[0]], self.offsets[seqs[-1] + 1]
            length = self.offsets[seqs[0] + 1] - a
            nwin = window_count(int(length) + 1, steps)
            if nwin == 0:
                continue
            x = self.x[a:b].reshape(len(seqs), length)
            y = self.y[a:b].reshape(len(seqs), length)
            # (orderings, windows, steps) -> windows major, as documented
            xw = np.lib.stride_tricks.sliding_window_view(x, steps, axis=1)[:, :nwin]
            count = nwin * len(seqs)
            X[done : done + count] = xw.transpose(1, 0, 2).reshape(count, steps)
            if framing == "all":
                yw = np.lib.stride_tricks.sliding_window_view(y, steps, axis=1)[:, :nwin]
                Y[done : done + count] = yw.transpose(1, 0, 2).reshape(count, steps)
            else:
                Y[done : done + count] = y[:, steps - 1 : steps - 1 + nwin].T.reshape(count)
            done += count
        assert done == n
        return X, Y

    def subset(
        self,
        performance_names,
        max_orderings: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> TrainingSequences:
        """Only the sequences of the named performances (for splits). Raises ValueError
        for a name that is not one of ``performance_names``.

        ``max_orderings``: keep at most this many orderings of each performance, drawn
        with ``rng`` (needed then): so that a performance of many players, whose orderings
        grow as P(players, k), does not outweigh the others (the corpus's nine-player
        performance is 61% of the bundled trio's training steps with all 504 of its).
        """
        wanted = [self.performance_names.index(name) for name in performance_names]
        keep_seq = np.isin(self.sequence_performance, wanted)
        if max_orderings is not None:
            if max_orderings < 1 or rng is None:
                raise ValueError("max_orderings must be at least 1, with an rng to draw them")
            for p in wanted:
                seqs = np.flatnonzero(self.sequence_performance == p)
                if len(seqs) > max_orderings:
                    dropped = rng.choice(seqs, size=len(seqs) - max_orderings, replace=False)
                    keep_seq[dropped] = False
        # Copy the kept sequences so offsets stay a simple cumulative array.
        starts, ends = self.offsets[:-1][keep_seq], self.offsets[1:][keep_seq]
        lengths = ends - starts
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        take = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
        return TrainingSequences(
            ensemble=self.ensemble,
            steps=self.steps,
            performance_names=self.performance_names,
            x=self.x[take],
            y=self.y[take],
            offsets=offsets,
            sequence_performance=self.sequence_performance[keep_seq],
            sequence_order=self.sequence_order[keep_seq],
        )


def _check_framing(framing: str) -> None:
    if framing not in FRAMINGS:
        raise PrepareError(f"framing must be one of {', '.join(FRAMINGS)}, got {framing!r}")


def build_sequences(
    performances: list[Performance], ensemble: int = 4, steps: int = 120
) -> TrainingSequences:
    """Encode every (performance, ordering) sequence of an ensemble of ``ensemble`` players
    (lead included, one of :data:`~gesture_rnn.config.ENSEMBLES`); a performance with fewer
    players is skipped with a warning, one under 2 seconds silently. Raises
    :class:`PrepareError` for another ensemble size, ``steps < 1``, or when no performance
    is left."""
    if ensemble not in ENSEMBLES:
        raise PrepareError(f"ensemble size must be one of {ENSEMBLES}, got {ensemble}")
    if steps < 1:
        raise PrepareError(f"steps must be at least 1, got {steps}")
    xs, ys, lengths, seq_perf, seq_order = [], [], [], [], []
    for p, performance in enumerate(performances):
        seconds, players = performance.gestures.shape
        if players < ensemble:
            log.warning(
                "skipping %s: %d players, fewer than an ensemble of %d",
                performance.name,
                players,
                ensemble,
            )
            continue
        if seconds < 2:
            continue
        order = orderings(players, ensemble)
        x, y = encode_sequences(performance.gestures, order)
        length = seconds - 1
        xs.append(x.ravel())
        ys.append(y.ravel())
        lengths.extend([length] * len(order))
        seq_perf.extend([p] * len(order))
        seq_order.append(order)
    if not xs:
        raise PrepareError(f"no performance has {ensemble} or more players and 2 or more seconds")
    return TrainingSequences(
        ensemble=ensemble,
        steps=steps,
        performance_names=tuple(p.name for p in performances),
        x=np.concatenate(xs),
        y=np.concatenate(ys),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        sequence_performance=np.array(seq_perf, dtype=np.int32),
        sequence_order=np.concatenate(seq_order),
    )


def save_npz(
    path: str | Path, sequences: TrainingSequences, framing: str, force: bool = False
) -> tuple[int, int]:
    """Write every window as int16 ``X`` and ``y`` (plain arrays, no pickle).

    Raises OutputExistsError if ``path`` exists and ``force`` is not given; a failed
    write leaves nothing behind (:func:`gesture_rnn.files.write_new`).
    """
    X, y = sequences.arrays(framing)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez adds no ".npz" to it
            np.savez(
                f,
                X=X,
                y=y,
                window_performance=sequences.window_performance.astype(np.int16),
                performance_names=np.array(sequences.performance_names, dtype=str),
                ensemble=np.int16(sequences.ensemble),
            )

    write_new(path, write, force)
    return X.shape
