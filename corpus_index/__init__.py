"""Touch sequences from the corpus, found by gesture (see docs/corpus-index.md).

The model imagines gestures; this package turns each virtual player's gesture into
touches a real performer made while making that gesture::

    import corpus_index

    index = corpus_index.open("touches.h5")   # or open(None): the procedural fallback
    player = index.player(seed=1)              # one per virtual player
    seq = player.next("FS", duration=1.0, near=(0.3, 0.6))
    seq.t, seq.x, seq.y, seq.velocity          # seconds from the tick's start, 0-1, points

Build an index with ``gesture-rnn corpus build --data DIR --out FILE``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .index import CorpusIndex, TouchPlayer, load
from .procedural import ProceduralIndex, ProceduralPlayer
from .sequence import Span, TouchSequence
from .storage import IndexFileError

log = logging.getLogger(__name__)


def open(path: str | Path | None = None, seed=None) -> CorpusIndex | ProceduralIndex:  # noqa: A001
    """The corpus index at ``path``, or the procedural fallback when ``path`` is None.

    A ``path`` that cannot be loaded is an :class:`IndexFileError`, never a silent
    switch to the fallback.
    """
    if path is None:
        log.debug("no corpus index given: touches come from the procedural fallback")
        return ProceduralIndex(seed=seed)
    return load(path, seed=seed)


__all__ = [
    "CorpusIndex",
    "IndexFileError",
    "ProceduralIndex",
    "ProceduralPlayer",
    "Span",
    "TouchPlayer",
    "TouchSequence",
    "load",
    "open",
]
