"""GRID -> GRID primitives that recolour cells by where they are: from the nearest other colour, from the
colour on both sides of them along their row or column, by how many neighbours they have, by their row or
column index, by the bar under them where two bars cross. All keep the shape.

Where the new colour is a rule rather than a colour in the grid (a corner, every third column) they write
a label (as `grids.label_value`: colour + 10 * (1 + label), labels here under 9) and leave the colours to
the final colour map.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from arc_efe.search.dsl import grid_ops
from arc_efe.search.grids import BG, majority_colour, minority_colour


_FOUR = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.uint8)
_EIGHT = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.uint8)


def recolour_nearest(pick):
    """Cells of the colour `pick(grid)` chooses take the colour of the nearest cell of any other
    non-background colour (Euclidean; scipy's tie order). None when there is no such other cell."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        target = pick(grid)
        if target is None:
            return None
        sources = (grid != BG) & (grid != target)
        if not sources.any():
            return None
        indices = ndimage.distance_transform_edt(~sources, return_distances=False, return_indices=True)
        nearest = grid[indices[0], indices[1]]
        return np.where(grid == target, nearest, grid).astype(np.uint8)
    return op


_COLOURS = np.arange(1, 10, dtype=np.uint8)


def _inside_runs(cells: np.ndarray, axis: int) -> np.ndarray:
    """Along `axis`: the cells from the first True cell to the last, both included."""
    after_first = np.logical_or.accumulate(cells, axis=axis)
    return after_first & np.flip(np.logical_or.accumulate(np.flip(cells, axis), axis=axis), axis)


def bridge(horizontal: bool, vertical: bool):
    """Background lying between two cells of one colour in its row (column) takes that colour, across cells
    of other colours (a line joining same-coloured things over whatever lies between). Colours that fill a
    whole row or column are separators and join nothing; a cell two colours would fill stays background.
    None when nothing is filled."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        h, w = grid.shape
        cells = grid[None] == _COLOURS[:, None, None]  # (colour, h, w)
        lines = (h > 1) & cells.all(axis=1).any(axis=1) | (w > 1) & cells.all(axis=2).any(axis=1)
        keep = cells.any(axis=(1, 2)) & ~lines
        cells = cells[keep]
        span = np.zeros_like(cells)
        if horizontal:
            span |= _inside_runs(cells, 2)
        if vertical:
            span |= _inside_runs(cells, 1)
        filled = (grid == BG) & (span.sum(axis=0) == 1)
        if not filled.any():
            return None
        return np.where(filled, _COLOURS[keep][span.argmax(axis=0)], grid).astype(np.uint8)
    return op


def label_neighbours(diagonal: bool):
    """Each coloured cell labelled by how many of its 4 (8) neighbours are coloured: corners, edges and
    insides of shapes then map to colours of their own."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        solid = (grid != BG).astype(np.uint8)
        count = ndimage.correlate(solid, _EIGHT if diagonal else _FOUR, mode="constant")
        return np.where(solid, grid + 10 * (1 + count), grid).astype(np.uint8)
    return op


def label_position(axis: int, period: int, from_end: bool = False):
    """Each coloured cell labelled by its row (axis 0) or column (axis 1) index modulo `period`, counted from
    the top (left) edge, or from the bottom (right) one (`from_end`: grids of either parity alike)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        index = np.arange(grid.shape[axis], dtype=np.uint8)[::-1 if from_end else 1] % period
        labels = grid + 10 * (1 + (index[:, None] if axis == 0 else index[None, :]))
        return np.where(grid != BG, labels, grid).astype(np.uint8)
    return op


def paint_with(pick):
    """Every coloured cell in the colour `pick(grid)` chooses (a shape takes the colour of a marker)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        colour = pick(grid)
        return None if colour is None else np.where(grid != BG, colour, BG).astype(np.uint8)
    return op


def _line_colours(grid: np.ndarray) -> np.ndarray:
    """Per row, the most common colour of a row without background (a bar across the grid), else 0."""
    counts = np.stack([np.count_nonzero(grid == c, axis=1) for c in range(10)], axis=1)
    return np.where((grid != BG).all(axis=1), counts.argmax(axis=1), BG)


def swap_crossings(grid: np.ndarray) -> np.ndarray | None:
    """Where a bar across the grid (a row or column without background) crosses a bar of another colour,
    the cell takes the colour of the one it does not show: the bar underneath comes on top. None when no
    bars cross."""
    rows, cols = _line_colours(grid)[:, None], _line_colours(grid.T)[None, :]
    crossing = (rows != BG) & (cols != BG) & (rows != cols)
    if not crossing.any():
        return None
    other = np.where(grid == rows, cols, rows)
    return np.where(crossing & ((grid == rows) | (grid == cols)), other, grid).astype(np.uint8)


PRIMITIVES = grid_ops({
    "recolour_nearest_minority": recolour_nearest(minority_colour),
    "recolour_nearest_majority": recolour_nearest(lambda g: majority_colour(g, exclude_bg=True)),
    "label_neighbours_4": label_neighbours(False), "label_neighbours_8": label_neighbours(True),
    "label_row_mod2": label_position(0, 2), "label_col_mod2": label_position(1, 2),
    "label_row_mod3": label_position(0, 3), "label_col_mod3": label_position(1, 3),
    "label_row_mod2_bottom": label_position(0, 2, True), "label_col_mod2_right": label_position(1, 2, True),
    "paint_minority": paint_with(minority_colour),
    "bridge_h": bridge(True, False), "bridge_v": bridge(False, True), "bridge_hv": bridge(True, True),
    "swap_crossings": swap_crossings,
}, keeps_shape=True)
