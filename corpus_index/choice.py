"""How a query chooses a second: candidate lists by gesture, screen region and speed.

Every second with a gesture 1-8 and at least one touch is a *candidate*. Its features
are the mean x and y (0-1) and the mean velocity of its touches. The screen is cut into
a ``grid`` x ``grid`` grid of cells, the velocity into bins (``speed_edges``, points per
event), so a query asks for one of four tables:

``all``         per gesture: every candidate;
``near``        per gesture and grid cell;
``speed``       per gesture and speed bin;
``near_speed``  per gesture, grid cell and speed bin.

Each table entry is a ``(lo, hi)`` range of ``items`` (second ids), so a query is one
random index into a range. A cell with fewer than ``min_pool`` candidates instead gets a
*pool*: its own candidates plus those of the nearest cells (in grid units, a speed bin
counting as a cell), the last ring sampled (seeded) to make ``min_pool``, but reaching no
further than ``reach`` cells beyond the nearest cell that has any. So a sparse region
still gives some variety, "near" stays near, and no cell of a gesture that has
candidates is ever empty.
"""

from __future__ import annotations

import bisect

import numpy as np

from gesture_rnn.gestures import NUM_GESTURES

TABLES = ("all", "near", "speed", "near_speed")


def speed_bin(speed: float, edges) -> int:
    return bisect.bisect_right(edges, speed)


def grid_cell(near: tuple[float, float], grid: int) -> int:
    x = min(int(near[0] * grid), grid - 1)
    y = min(int(near[1] * grid), grid - 1)
    return x * grid + y


def candidate_cells(mean_x, mean_y, mean_v, grid: int, edges) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell (x * grid + y) and speed bin of each candidate."""
    cx = np.minimum((np.clip(mean_x, 0, 1) * grid).astype(np.int64), grid - 1)
    cy = np.minimum((np.clip(mean_y, 0, 1) * grid).astype(np.int64), grid - 1)
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64), mean_v, side="right")
    return cx * grid + cy, bins.astype(np.int64)


def build_tables(
    seconds: np.ndarray,
    gesture: np.ndarray,
    cell: np.ndarray,
    bins: np.ndarray,
    grid: int,
    n_bins: int,
    min_pool: int,
    reach: float,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """``items`` and the four range tables for candidates ``seconds`` (see module doc)."""
    rng = np.random.default_rng(seed)
    n_cells = grid * grid
    # Order A (gesture, cell, bin) makes all/near/near_speed ranges contiguous;
    # order B (gesture, bin) makes speed ranges contiguous.
    key_a = (gesture * n_cells + cell) * n_bins + bins
    key_b = gesture * n_bins + bins
    order_a = np.argsort(key_a, kind="stable")
    order_b = np.argsort(key_b, kind="stable")
    parts = [seconds[order_a], seconds[order_b]]
    used = len(parts[0]) + len(parts[1])

    coords_xy = np.array([(c // grid, c % grid) for c in range(n_cells)], dtype=np.float64)
    coords_s = np.arange(n_bins, dtype=np.float64)[:, None]
    coords_xys = np.array(
        [(*coords_xy[c], b) for c in range(n_cells) for b in range(n_bins)], dtype=np.float64
    )
    layouts = {
        # name: (sorted keys, offset of its items, keys per gesture, cell coordinates)
        "all": (key_a // (n_cells * n_bins), 0, 1, np.zeros((1, 1))),
        "near": (key_a // n_bins, 0, n_cells, coords_xy),
        "speed": (key_b, len(seconds), n_bins, coords_s),
        "near_speed": (key_a, 0, n_cells * n_bins, coords_xys),
    }
    tables = {}
    for name, (keys, base, per_gesture, coords) in layouts.items():
        sorted_keys = np.sort(keys, kind="stable")
        total = NUM_GESTURES * per_gesture
        lo = np.searchsorted(sorted_keys, np.arange(total), side="left")
        hi = np.searchsorted(sorted_keys, np.arange(total), side="right")
        ranges = np.stack([lo, hi], axis=1).astype(np.int64) + base
        source = parts[0] if base == 0 else parts[1]
        extra, ranges = _pools(
            ranges, base, source, per_gesture, coords, min_pool, reach, used, rng
        )
        parts.append(extra)
        used += len(extra)
        tables[name] = ranges
    tables["items"] = np.concatenate(parts).astype(np.int32)
    return tables


def _pools(ranges, base, source, per_gesture, coords, min_pool, reach, used, rng):
    """Give each sparse cell a pool from the nearest cells (see :func:`_pool`)."""
    distance = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1))
    extra: list[np.ndarray] = []
    pooled = ranges.copy()  # ranges itself stays the cells' own candidates
    for g in range(NUM_GESTURES):
        block = ranges[g * per_gesture : (g + 1) * per_gesture]
        counts = block[:, 1] - block[:, 0]
        if counts.sum() == 0:
            continue  # no candidates: queries for this gesture use the fallback
        for c in np.flatnonzero(counts < min_pool):
            pool = _pool(block, counts, distance[c], base, source, min_pool, reach, rng)
            start = used + sum(len(e) for e in extra)
            extra.append(pool)
            pooled[g * per_gesture + c] = (start, start + len(pool))
    flat = np.concatenate(extra) if extra else np.zeros(0, dtype=np.int64)
    return flat, pooled


def _pool(block, counts, distance, base, source, min_pool, reach, rng) -> np.ndarray:
    """Candidates of the cells by increasing distance until there are ``min_pool``
    (the last shell sampled to fill up), but no further than ``reach`` cells beyond the
    nearest cell that has any: near must stay near, even where candidates are few."""
    chosen: list[np.ndarray] = []
    have = 0
    shells = np.unique(distance[counts > 0])
    for d in shells[shells <= shells[0] + reach]:
        shell = np.flatnonzero((distance == d) & (counts > 0))
        items = np.concatenate([source[block[s, 0] - base : block[s, 1] - base] for s in shell])
        if have + len(items) >= min_pool:
            chosen.append(rng.choice(items, size=min_pool - have, replace=False))
            break
        chosen.append(items)
        have += len(items)
    return np.concatenate(chosen)
