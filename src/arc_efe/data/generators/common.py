"""Drawing helpers shared by the families: sizes and colours that widen with difficulty, random
connected shapes, non-touching placement, and connected components."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from arc_efe.data.augment import Augmentation
from arc_efe.data.grid import MAX_SIZE, NUM_COLORS

Rng = np.random.Generator

_EIGHT = np.ones((3, 3), dtype=bool)
# Direction names used by every family that moves or extends something: (row step, column step).
DIRS = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}


def span(rng: Rng, difficulty: float, lo: int, easy_hi: int, hard_hi: int | None = None) -> int:
    """An int in [lo, hi], where hi grows from `easy_hi` to `hard_hi` (default 30) with difficulty."""
    hard_hi = MAX_SIZE if hard_hi is None else hard_hi
    hi = max(lo, int(round(easy_hi + difficulty * (hard_hi - easy_hi))))
    return int(rng.integers(lo, hi + 1))


def colours(rng: Rng, k: int, exclude: tuple[int, ...] = (0,)) -> list[int]:
    """`k` distinct colours, none of them in `exclude`."""
    pool = [c for c in range(NUM_COLORS) if c not in exclude]
    return [int(c) for c in rng.choice(pool, size=k, replace=False)]


def d8(grid: np.ndarray, k: int) -> np.ndarray:
    """The D8 element `k` in arc_efe.data.augment's numbering (0 identity ... 7 left-right flip)."""
    return Augmentation(int(k)).apply(grid)


def random_grid(rng: Rng, h: int, w: int, palette: list[int], density: float, bg: int = 0) -> np.ndarray:
    """Cells are `bg` with probability 1 - density, else a colour drawn from `palette`."""
    grid = np.full((h, w), bg, dtype=np.int64)
    on = rng.random((h, w)) < density
    grid[on] = rng.choice(palette, size=int(on.sum()))
    return grid


def random_shape(rng: Rng, h: int, w: int, fill: float = 0.6) -> np.ndarray:
    """A 4-connected boolean mask that fits in h x w, grown cell by cell from a random seed, cropped."""
    mask = np.zeros((h, w), dtype=bool)
    mask[rng.integers(h), rng.integers(w)] = True
    target = max(1, int(round(fill * h * w)))
    count = 1
    while count < target:
        frontier = np.flatnonzero(grow(mask, diagonal=False) & ~mask)
        # A few frontier cells per round keep the shape random at a fraction of the cost.
        k = min(len(frontier), max(1, (target - count) // 3))
        mask.flat[rng.choice(frontier, size=k, replace=False)] = True
        count += k
    return crop_mask(mask)


def grow(mask: np.ndarray, diagonal: bool = True) -> np.ndarray:
    """`mask` plus its 4- or 8-neighbours (a cheap binary dilation by one cell)."""
    h, w = mask.shape
    padded = np.zeros((h + 2, w + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    out = mask.copy()
    steps = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr or dc) and (diagonal or not (dr and dc))]
    for dr, dc in steps:
        out |= padded[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]
    return out


def crop_mask(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def place(rng: Rng, taken: np.ndarray, mask: np.ndarray, margin: int = 1, tries: int = 40) -> tuple[int, int] | None:
    """A random top-left corner where `mask` keeps `margin` free cells (8-neighbourhood) from every
    `taken` cell; the placed cells are added to `taken`. None when no spot was found."""
    h, w = taken.shape
    mh, mw = mask.shape
    if mh > h or mw > w:
        return None
    for _ in range(tries):
        r, c = int(rng.integers(h - mh + 1)), int(rng.integers(w - mw + 1))
        full = np.zeros_like(taken)
        full[r : r + mh, c : c + mw] = mask
        zone = full
        for _ in range(margin):
            zone = grow(zone)
        if not (zone & taken).any():
            taken |= full
            return r, c
    return None


def scatter_shapes(
    rng: Rng, h: int, w: int, masks: list[np.ndarray], cols: list[int], margin: int = 1
) -> np.ndarray | None:
    """A grid with each mask painted in its colour at a random free spot, or None when they do not fit."""
    grid = np.zeros((h, w), dtype=np.int64)
    taken = np.zeros((h, w), dtype=bool)
    for mask, col in zip(masks, cols):
        spot = place(rng, taken, mask, margin)
        if spot is None:
            return None
        r, c = spot
        grid[r : r + mask.shape[0], c : c + mask.shape[1]][mask] = col
    return grid


def shape_of_size(rng: Rng, n: int) -> np.ndarray:
    """A random 4-connected mask of exactly `n` cells."""
    side = int(np.ceil(np.sqrt(n))) + 1
    return random_shape(rng, side, side, fill=n / (side * side))


def scatter_sized(rng: Rng, difficulty: float, sizes: list[int], cols: list[int], lo: int = 3) -> np.ndarray | None:
    """Objects of the given cell counts and colours, apart from each other, on a grid sized to hold them."""
    masks = [shape_of_size(rng, n) for n in sizes]
    area = sum((m.shape[0] + 1) * (m.shape[1] + 1) for m in masks)
    side = max(lo, int(np.ceil(np.sqrt(area * 1.5))), max(max(m.shape) for m in masks))
    h = min(30, side + span(rng, difficulty, 0, 2, 10))
    w = min(30, side + span(rng, difficulty, 0, 2, 10))
    return scatter_shapes(rng, h, w, masks, cols)


@dataclass(frozen=True)
class Obj:
    """One connected single-colour object: its colour, cell mask over the whole grid and bounding box."""

    colour: int
    mask: np.ndarray
    box: tuple[int, int, int, int]  # top, left, bottom (exclusive), right (exclusive)

    @property
    def size(self) -> int:
        return int(self.mask.sum())

    @property
    def region(self) -> tuple[slice, slice]:
        """Index of the bounding box: `grid[obj.region]`."""
        t, left, b, r = self.box
        return slice(t, b), slice(left, r)

    def crop(self, grid: np.ndarray) -> np.ndarray:
        return grid[self.region]


def objects(grid: np.ndarray, bg: int = 0, diagonal: bool = True, multicolour: bool = False) -> list[Obj]:
    """Connected components of non-background cells, in reading order of their top-left cell.

    `multicolour` joins touching cells of different colours into one object (colour = the most common).
    """
    found = []
    layers = [grid != bg] if multicolour else [grid == c for c in np.unique(grid) if c != bg]
    for layer in layers:
        labels, _ = ndimage.label(layer, _EIGHT if diagonal else None)
        for i, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
            mask = labels == i
            colour = np.bincount(grid[mask], minlength=10).argmax()
            found.append(Obj(int(colour), mask, (rows.start, cols.start, rows.stop, cols.stop)))
    return sorted(found, key=lambda o: (o.box[0], o.box[1]))


def enclosed(barrier: np.ndarray) -> np.ndarray:
    """Cells outside `barrier` that cannot reach the grid border through 4-connected free cells."""
    free = ~barrier
    labels, _ = ndimage.label(free)
    edge = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
    return free & ~np.isin(labels, list(edge))


def holes(mask: np.ndarray) -> int:
    """How many enclosed background regions a shape has."""
    # Padding joins all outside cells into one 4-connected region; every other region is a hole.
    return int(ndimage.label(~np.pad(mask, 1))[1]) - 1
