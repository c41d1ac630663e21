"""Made-up corpora in the metatone-analysis layout, for tests (never copied corpus rows)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

METADATA_HEADER = (
    "time,filename,number_performers,length_seconds,performance_context,"
    "performance_type,instruments,touch_orientation,notes,video_location"
)


@dataclass
class FakePerformance:
    name: str
    gestures: np.ndarray  # (seconds, players)
    context: str = "rehearsal"
    type: str = "improvisation"
    players: list[str] = field(default_factory=list)
    touches: bool = True
    gzip_touches: bool = True

    def __post_init__(self):
        if not self.players:
            self.players = [f"p{i}" for i in range(self.gestures.shape[1])]


def random_performance(name: str, seconds: int, players: int, seed: int = 0, **kw):
    rng = np.random.default_rng(seed)
    return FakePerformance(name, rng.integers(0, 9, size=(seconds, players)), **kw)


def write_corpus(root: Path, performances: list[FakePerformance], listed_only: list[str] = ()):
    """Write metadata, gesture files and small touch files. ``listed_only``: names in the
    metadata that get no files at all."""
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)
    rows = [METADATA_HEADER]
    for p in performances:
        rows.append(
            f"2020-01-01 10:00:00,{p.name},{p.gestures.shape[1]},{len(p.gestures)}.0,"
            f"{p.context},{p.type},iPad,landscape,made up for tests,"
        )
        lines = ["time," + ",".join(p.players)]
        for s, row in enumerate(p.gestures):
            lines.append(f"2020-01-01 10:{s // 60:02d}:{s % 60:02d}," + ",".join(map(str, row)))
        (root / "data" / f"{p.name}-touches-posthoc-gestures.csv").write_text("\n".join(lines))
        if p.touches:
            touch_lines = ["time,device_id,x_pos,y_pos,velocity"]
            for s in range(len(p.gestures)):
                for player in p.players:
                    touch_lines.append(
                        f"2020-01-01T10:{s // 60:02d}:{s % 60:02d}.250000,{player},"
                        f"{(s * 37) % 1024},{(s * 53) % 768},0"
                    )
            text = "\n".join(touch_lines) + "\n"
            if p.gzip_touches:
                with gzip.open(root / "data" / f"{p.name}-touches.csv.gz", "wt") as f:
                    f.write(text)
            else:
                (root / "data" / f"{p.name}-touches.csv").write_text(text)
    for name in listed_only:
        rows.append(f"2020-01-01 10:00:00,{name},4,100.0,rehearsal,improvisation,iPad,landscape,,")
    (root / "metadata" / "metatone-performance-information.csv").write_text("\n".join(rows) + "\n")
    return root
