"""Grid helpers shared by the search primitives: the value convention, state keys and small geometry.

Search grids are uint8 arrays. Values 0-9 are ARC colours; values from 10 up are *marks* that a
primitive writes where it does not know the colour (a filled hole, an object's size rank). Only the final
step turns marks into colours (a fitted colour map), so one primitive serves every fill colour.
"""

from __future__ import annotations

import numpy as np

BG = 0
MARK = 10  # the new value a paint primitive writes; a final colour map names its colour
HOLE = 11  # filled holes get their own mark, so that a hole and a halo drawn after it can differ
MAX_SIDE = 30
MAX_LABEL = 23  # labels are written as colour + 10 * (1 + label), which must fit in uint8


def as_search_grid(grid: np.ndarray) -> np.ndarray:
    """A task grid (int64) as a read-only uint8 search grid."""
    out = np.ascontiguousarray(grid, dtype=np.uint8)
    out.setflags(write=False)
    return out


def label_value(colour: np.ndarray | int, label: int) -> np.ndarray | int:
    """The value a labelling primitive writes: colour and label both recoverable by the final map."""
    return colour + 10 * (1 + min(int(label), MAX_LABEL))


def fits(grid: np.ndarray) -> bool:
    """A legal intermediate grid: non-empty and no side over 30."""
    h, w = grid.shape
    return 0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE


def grid_key(grid: np.ndarray) -> bytes:
    """Identity of one grid, shape included (two shapes may share their bytes)."""
    h, w = grid.shape
    return bytes((h, w)) + grid.tobytes()


def framed(grid: np.ndarray, value: int | bool) -> np.ndarray:
    """`grid` inside a one-cell frame of `value`: np.pad(grid, 1, constant_values=value) without its call
    overhead (several primitives frame every grid they see)."""
    out = np.full((grid.shape[0] + 2, grid.shape[1] + 2), value, dtype=grid.dtype)
    out[1:-1, 1:-1] = grid
    return out


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right), bottom/right exclusive, of the True cells; None when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def colour_counts(grid: np.ndarray) -> np.ndarray:
    """Cells of each value 0..255."""
    return np.bincount(grid.ravel(), minlength=256)


def majority_colour(grid: np.ndarray, exclude_bg: bool = False) -> int | None:
    """The most frequent value (lowest on ties); None when only background is left to count."""
    counts = colour_counts(grid)
    if exclude_bg:
        counts[BG] = 0
    if counts.max() == 0:
        return None
    return int(np.argmax(counts))


def minority_colour(grid: np.ndarray, exclude_bg: bool = True) -> int | None:
    """The least frequent value present (lowest on ties)."""
    counts = colour_counts(grid).astype(np.int64)
    if exclude_bg:
        counts[BG] = 0
    counts[counts == 0] = np.iinfo(np.int64).max
    best = int(np.argmin(counts))
    return None if counts[best] == np.iinfo(np.int64).max else best


_CACHES: list[dict] = []


def clear_caches() -> None:
    """Empty every `memo_by_grid` cache: a task's grids seldom recur in the next task, and a cache kept
    full holds many objects the cyclic collector would go over again and again."""
    for cache in _CACHES:
        cache.clear()


def memo_by_grid(fn):
    """Cache `fn(grid, *args)` by the grid's bytes: several primitives share one analysis of a grid
    (separator lines, components). The cache empties itself when full rather than tracking use."""
    cache: dict[tuple | bytes, object] = {}
    _CACHES.append(cache)

    def wrapper(grid: np.ndarray, *args):
        key = (grid_key(grid), *args) if args else grid_key(grid)  # most callers pass the grid alone
        if key not in cache:
            if len(cache) >= 4096:
                cache.clear()
            cache[key] = fn(grid, *args)
        return cache[key]
    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper
