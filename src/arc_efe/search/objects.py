"""Objects: what `grid -> objects` primitives return and `objects -> grid` primitives consume.

An object is a cropped patch with a membership mask and its place on the source grid; an `ObjectSet`
keeps the source grid so that primitives can paint back onto it. Components come from
`scipy.ndimage.label`, 4- or 8-connected, one colour at a time or any non-background colour together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from arc_efe.search.grids import BG, grid_key, memo_by_grid

MAX_OBJECTS = 40  # beyond this the grid is noise, and per-object selectors would dominate the search time
_STRUCTURE = {False: ndimage.generate_binary_structure(2, 1), True: np.ones((3, 3), dtype=bool)}


@dataclass(frozen=True, slots=True)
class Obj:
    """One object: `patch` holds its colours (background outside `mask`), placed at (top, left)."""

    top: int
    left: int
    patch: np.ndarray
    mask: np.ndarray
    size: int
    colour: int  # the most frequent colour
    n_colours: int

    @staticmethod
    def make(top: int, left: int, patch: np.ndarray, mask: np.ndarray) -> Obj:
        """An object with its counts computed once (selectors read them many times)."""
        values = patch[mask]
        counts = np.bincount(values, minlength=256)
        return Obj(top, left, patch, mask, values.size, int(counts.argmax()), int(np.count_nonzero(counts)))

    @property
    def shape(self) -> tuple[int, int]:
        return self.patch.shape

    def shape_key(self) -> bytes:
        return grid_key(self.mask.astype(np.uint8))

    def touches_border(self, grid_shape: tuple[int, int]) -> bool:
        h, w = self.patch.shape
        return self.top == 0 or self.left == 0 or self.top + h == grid_shape[0] or self.left + w == grid_shape[1]


@dataclass(frozen=True, slots=True)
class ObjectSet:
    """The objects found on one grid, in reading order of their top-left corners."""

    grid: np.ndarray
    objects: tuple[Obj, ...]

    def key(self) -> bytes:
        parts = [grid_key(self.grid)]
        for o in self.objects:
            parts.append(bytes((o.top, o.left)) + grid_key(o.mask.astype(np.uint8)))
        return b"|".join(parts)


def _from_labels(grid: np.ndarray, labels: np.ndarray, count: int) -> list[Obj]:
    objs = []
    for index, window in enumerate(ndimage.find_objects(labels, count), start=1):
        if window is None:
            continue
        mask = labels[window] == index
        patch = np.where(mask, grid[window], BG).astype(np.uint8, copy=False)
        objs.append(Obj.make(window[0].start, window[1].start, patch, mask))
    return objs


@memo_by_grid
def components(grid: np.ndarray, diagonal: bool, by_colour: bool) -> ObjectSet | None:
    """Connected non-background components; `by_colour` splits touching cells of different colours.
    None when there are more than MAX_OBJECTS."""
    structure = _STRUCTURE[diagonal]
    if not by_colour:
        labels, count = ndimage.label(grid != BG, structure)
        objs = _from_labels(grid, labels, count)
    else:
        objs = []
        for colour in np.unique(grid):
            if colour == BG:
                continue
            labels, count = ndimage.label(grid == colour, structure)
            objs.extend(_from_labels(grid, labels, count))
    objs.sort(key=lambda o: (o.top, o.left))
    return ObjectSet(grid, tuple(objs)) if len(objs) <= MAX_OBJECTS else None


@memo_by_grid
def background_regions(grid: np.ndarray) -> ObjectSet | None:
    """The 4-connected regions of background cells (the spaces between and inside shapes) as objects, their
    patches all background, so a labelling primitive can mark the regions by size, border and so on. None
    when there are more than MAX_OBJECTS."""
    labels, count = ndimage.label(grid == BG, _STRUCTURE[False])
    if count > MAX_OBJECTS:
        return None
    objs = _from_labels(grid, labels, count)
    objs.sort(key=lambda o: (o.top, o.left))
    return ObjectSet(grid, tuple(objs))


def colour_layers(grid: np.ndarray) -> ObjectSet:
    """One object per non-background colour: every cell of that colour, wherever it is."""
    objs = []
    for colour in np.unique(grid):
        if colour == BG:
            continue
        labels = (grid == colour).astype(np.int32)
        objs.extend(_from_labels(grid, labels, 1))
    return ObjectSet(grid, tuple(objs))


@memo_by_grid
def separator_lines(grid: np.ndarray) -> tuple[int | None, list[int], list[int]]:
    """(colour, rows, cols) of the full-length lines of one colour (not the majority) that split the grid.

    When several colours form full lines, a colour found nowhere but on its lines wins (a drawn
    separator, not a stripe of some shape), then the one with more line cells, then the lower colour.
    """
    best: tuple[tuple[bool, int], int | None, list[int], list[int]] = ((False, 0), None, [], [])
    h, w = grid.shape
    counts = np.bincount(grid.ravel())
    majority = counts.argmax()
    # each row's (column's) colour where it is all one colour, else -1: only those colours draw lines
    row_colours = np.where((grid == grid[:, :1]).all(axis=1), grid[:, 0].astype(np.int16), -1)
    col_colours = np.where((grid == grid[:1]).all(axis=0), grid[0].astype(np.int16), -1)
    for colour in sorted(set(row_colours.tolist()) | set(col_colours.tolist())):
        if colour < 0 or colour == majority:
            continue  # lines of the background colour are gaps between shapes, not drawn separators
        rows = np.flatnonzero(row_colours == colour).tolist()
        cols = np.flatnonzero(col_colours == colour).tolist()
        if len(rows) == h or len(cols) == w:
            continue  # the whole grid is this colour along a side: nothing to separate
        on_lines = len(rows) * w + len(cols) * h - len(rows) * len(cols)
        score = (int(counts[colour]) == on_lines, on_lines)
        if score > best[0]:
            best = (score, int(colour), rows, cols)
    return best[1], best[2], best[3]


def _spans(lines: list[int], length: int) -> list[tuple[int, int]]:
    """Maximal runs between separator lines."""
    spans, start = [], 0
    for line in [*lines, length]:
        if line > start:
            spans.append((start, line))
        start = line + 1
    return spans


def cell_boxes(grid: np.ndarray) -> list[tuple[int, int, int, int]] | None:
    """(top, bottom, left, right), bottom/right exclusive, of the rectangles between separator lines in
    reading order; None without lines. What `grid_cells` cuts, without making objects (the cells final
    asks this of every state it fits)."""
    colour, rows, cols = separator_lines(grid)
    if colour is None:
        return None
    return [(top, bottom, left, right) for top, bottom in _spans(rows, grid.shape[0])
            for left, right in _spans(cols, grid.shape[1])]


def grid_cells(grid: np.ndarray) -> ObjectSet | None:
    """The rectangles between separator lines (each a full patch, mask all True); None without lines."""
    boxes = cell_boxes(grid)
    if boxes is None:
        return None
    objs = []
    for top, bottom, left, right in boxes:
        patch = np.ascontiguousarray(grid[top:bottom, left:right])
        objs.append(Obj.make(top, left, patch, np.ones(patch.shape, dtype=bool)))
    return ObjectSet(grid, tuple(objs)) if len(objs) >= 2 else None


def equal_parts(grid: np.ndarray, parts: int, axis: int) -> ObjectSet | None:
    """The grid cut into `parts` equal slabs along `axis`; None when it does not divide."""
    length = grid.shape[axis]
    if length % parts or length < parts:
        return None
    step = length // parts
    objs = []
    for i in range(parts):
        patch = np.ascontiguousarray(grid[i * step:(i + 1) * step] if axis == 0 else grid[:, i * step:(i + 1) * step])
        top, left = (i * step, 0) if axis == 0 else (0, i * step)
        objs.append(Obj.make(top, left, patch, np.ones(patch.shape, dtype=bool)))
    return ObjectSet(grid, tuple(objs))
