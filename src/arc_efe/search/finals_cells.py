"""The cells final: a grid split by separator lines, each output cell a fixed D8 view of a fixed state cell.

The tile final's layout of views, for grids whose pieces sit between separator lines: which source cell
and which view fill each cell is read off the demos (the first source, then the first view, that every
demo agrees on); the separator lines stay as they are. A state with another number of cells, or cells of
another shape than a view needs, is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from arc_efe.search.grids import grid_key
from arc_efe.search.objects import cell_boxes, separator_lines
from arc_efe.search.prims_geometry import VIEWS


def _cells(grid: np.ndarray) -> list[tuple[slice, slice]] | None:
    """The windows of the cells between separator lines, in reading order; None without lines, with
    fewer than two cells, or when the cells differ in shape."""
    boxes = cell_boxes(grid)
    if boxes is None or len(boxes) < 2:
        return None
    shapes = {(bottom - top, right - left) for top, bottom, left, right in boxes}
    if len(shapes) > 1:
        return None
    (h, w), = shapes
    return [(slice(top, top + h), slice(left, left + w)) for top, _, left, _ in boxes]


def _layout(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray], windows: list
            ) -> list[tuple[int, str]] | None:
    """Per output cell, the first (source cell, view) whose picture it is on every demo; None when some
    cell has none. A demo's pictures (each cell under each view, as keys) are made once, when a match
    first needs them, not once per output cell: this fit runs on every state of a task with separators."""
    names = tuple(VIEWS)
    pictures: dict[int, list[bytes]] = {}

    def of(demo: int) -> list[bytes]:
        if demo not in pictures:
            pictures[demo] = [grid_key(view(states[demo][w])) for w in windows[demo] for view in VIEWS.values()]
        return pictures[demo]
    layout = []
    for k in range(len(windows[0])):
        targets = [grid_key(output[w[k]]) for output, w in zip(outputs, windows)]
        found = next((i for i, key in enumerate(of(0)) if key == targets[0]
                      and all(of(d)[i] == targets[d] for d in range(1, len(targets)))), None)
        if found is None:
            return None
        s, v = divmod(found, len(names))
        layout.append((s, names[v]))
    return layout


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
    layout = _layout(states, outputs, windows)
    if layout is None:
        return None

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
