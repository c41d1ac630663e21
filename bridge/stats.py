"""What the bridge counts and times, and the ``--stats`` file it writes when it stops.

docs/bridge.md says what each counter counts and what each timing measures.
"""

from __future__ import annotations

import json
import logging
import resource
from collections import Counter, deque
from pathlib import Path

import numpy as np

from gesture_rnn.files import OutputError, write_new

log = logging.getLogger(__name__)

# Counted events, all in --stats even when 0.
COUNTERS = (
    "received",
    "rejected",
    "ignored",
    "not_allowed",
    "touches_dropped",
    "ticks_redone",
)
# Timings in seconds: how late ticks and touches fire, and the compute per tick.
TIMINGS = ("tick_late", "tick_prepare", "tick_compute", "touch_late")
KEEP = 100_000  # the last this many of each timing are kept (a bounded memory)


class Stats:
    """``counts``: a Counter of COUNTERS; ``timing``: a deque of seconds for each of TIMINGS."""

    def __init__(self):
        self.counts: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self.timing: dict[str, deque] = {name: deque(maxlen=KEEP) for name in TIMINGS}

    def summary(self, **before: object) -> dict:
        """The figures as plain JSON values: ``before`` (the ticks, the senders' counts...)
        first, then the counters, each timing's n, p50, p99 and max in milliseconds, and
        the process's peak memory (max_rss_mb, MB)."""
        summary: dict = {**before, **self.counts}
        for name, values in self.timing.items():
            if values:
                ms = np.asarray(values) * 1000.0
                summary[name] = {
                    "n": len(ms),
                    "p50_ms": float(np.percentile(ms, 50)),
                    "p99_ms": float(np.percentile(ms, 99)),
                    "max_ms": float(ms.max()),
                }
        return summary


def peak_memory_mb() -> float:
    """This process's peak resident memory in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_stats(path: Path, summary: dict, force: bool) -> None:
    """Write ``summary`` as JSON to ``path`` (--stats; an existing file only with
    ``force``); a failure is logged, never raised: the performance is over by then."""
    text = json.dumps(summary, indent=1) + "\n"
    try:
        write_new(path, lambda tmp: tmp.write_text(text), force)
    except OutputError as error:
        log.error("could not write --stats: %s", error)
