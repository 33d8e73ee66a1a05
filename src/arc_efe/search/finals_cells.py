"""The cells final: a grid split by separator lines, each output cell a fixed D8 view of a fixed state cell.

The tile final's layout of views, for grids whose pieces sit between separator lines: which source cell
and which view fill each cell is read off the demos (the first source, then the first view, that every
demo agrees on); the separator lines stay as they are. A state with another number of cells, or cells of
another shape than a view needs, is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from arc_efe.search.objects import grid_cells, separator_lines
from arc_efe.search.prims_geometry import VIEWS


def _cells(grid: np.ndarray) -> list[tuple[slice, slice]] | None:
    """The windows of the cells between separator lines, in reading order; None without lines or when the
    cells differ in shape."""
    found = grid_cells(grid)
    if found is None:
        return None
    shape = found.objects[0].shape
    if any(o.shape != shape for o in found.objects):
        return None
    return [(slice(o.top, o.top + shape[0]), slice(o.left, o.left + shape[1])) for o in found.objects]


def _source(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray], windows: list, k: int
            ) -> tuple[int, str] | None:
    """The first (source cell, view) whose picture is output cell k on every demo."""
    for s in range(len(windows[0])):
        for name, view in VIEWS.items():
            if all(np.array_equal(view(state[w[s]]), output[w[k]])
                   for state, output, w in zip(states, outputs, windows)):
                return s, name
    return None


def cells_final(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]
                ) -> tuple[str, Callable[[np.ndarray], np.ndarray | None]] | None:
    """(text, apply) when every demo output keeps its state's separator lines and each of its cells is one
    fixed view of one fixed cell of the state; None otherwise."""
    if any(separator_lines(o)[0] is None for o in outputs):
        return None  # the usual case, and a cheap one: the outputs' lines are cached across the search
    if all(np.array_equal(s, o) for s, o in zip(states, outputs)):
        return None  # the identity, which a colour final already offers
    if not all(separator_lines(s)[1:] == separator_lines(o)[1:] for s, o in zip(states, outputs)):
        return None
    windows = [_cells(s) for s in states]
    if any(w is None or len(w) != len(windows[0]) for w in windows):
        return None
    layout = []
    for k in range(len(windows[0])):
        found = _source(states, outputs, windows, k)
        if found is None:
            return None
        layout.append(found)

    def apply(grid: np.ndarray) -> np.ndarray | None:
        cells = _cells(grid)
        if cells is None or len(cells) != len(layout):
            return None
        out = grid.copy()
        for window, (s, name) in zip(cells, layout):
            picture = VIEWS[name](grid[cells[s]])
            if picture.shape != out[window].shape:
                return None
            out[window] = picture
        return out
    if not all(np.array_equal(apply(s), o) for s, o in zip(states, outputs)):
        return None  # the lines or the rest between the cells changed too
    return "cells[" + ",".join(f"{s}:{name}" for s, name in layout) + "]", apply
