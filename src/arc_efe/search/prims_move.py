"""GRID -> GRID primitives that move whole objects: rigid objects falling to a side until they land, and
objects sliding towards the largest (smallest) object until they touch it, or drawing their path there.
Objects are 8-connected, multicolour."""

from __future__ import annotations

import numpy as np

from arc_efe.search.dsl import grid_ops
from arc_efe.search.grids import BG
from arc_efe.search.objects import Obj, components
from arc_efe.search.prims_paint import _toward

_MAX_MOVERS = 12  # more objects than this is a texture, not things that move


def _cells(o: Obj) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(o.mask)
    return rows + o.top, cols + o.left


def _fall_objects_down(grid: np.ndarray) -> np.ndarray | None:
    """Each object, lowest first, drops straight down until it would leave the grid or hit a landed one."""
    found = components(grid, True, False)
    if found is None or not 1 <= len(found.objects) <= _MAX_MOVERS:
        return None
    h = grid.shape[0]
    out = np.full_like(grid, BG)
    row_index = np.arange(h)[:, None]
    for o in sorted(found.objects, key=lambda o: -(o.top + o.shape[0])):
        rows, cols = _cells(o)
        # below[r, c]: the first landed cell (or the floor, h) under row r in column c
        landed = np.where(out != BG, row_index, h)
        below = np.vstack([np.minimum.accumulate(landed[::-1], axis=0)[::-1][1:], np.full((1, out.shape[1]), h)])
        drop = int((below[rows, cols] - rows - 1).min())
        out[rows + drop, cols] = grid[rows, cols]
    return out


def fall_objects(dr: int, dc: int):
    """Rigid objects fall towards (dr, dc); None when nothing moves."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        def down(view: np.ndarray) -> np.ndarray:
            moved = _fall_objects_down(view)
            return view if moved is None else moved
        out = _toward(down, dr, dc, grid)
        return None if np.array_equal(out, grid) else np.ascontiguousarray(out)
    return op


def _slide(cells: tuple[np.ndarray, np.ndarray], step: tuple[int, int], blocked: np.ndarray) -> int:
    """How far cells can move by `step` before the next move would overlap `blocked` (None: never meets)."""
    rows, cols = cells
    h, w = blocked.shape
    k = 0
    while True:
        r, c = rows + (k + 1) * step[0], cols + (k + 1) * step[1]
        if r.min() < 0 or c.min() < 0 or r.max() >= h or c.max() >= w:
            return -1
        if blocked[r, c].any():
            return k
        k += 1


def move_to(largest: bool, trail: bool = False):
    def op(grid: np.ndarray) -> np.ndarray | None:
        return _move_to(grid, largest, trail)
    return op


def _move_to(grid: np.ndarray, largest: bool, trail: bool = False) -> np.ndarray | None:
    """Every other object slides in a straight line towards the (unique) largest (smallest) object, along
    the axis on which they overlap, until it touches it; objects sharing neither rows nor columns stay.
    `trail`: an object paints every place it passes (a dot draws a line up to the object it points at).
    None when nothing moves."""
    found = components(grid, True, False)
    if found is None or not 2 <= len(found.objects) <= _MAX_MOVERS:
        return None
    sizes = sorted((o.size for o in found.objects), reverse=largest)
    if sizes[0] == sizes[1]:
        return None
    anchor = next(o for o in found.objects if o.size == sizes[0])
    blocked = np.zeros(grid.shape, dtype=bool)
    blocked[_cells(anchor)] = True
    out = np.full_like(grid, BG)
    out[blocked] = grid[blocked]
    moved_any = False
    for o in found.objects:
        if o is anchor:
            continue
        rows, cols = _cells(o)
        a_top, a_left = anchor.top, anchor.left
        a_bottom, a_right = a_top + anchor.shape[0], a_left + anchor.shape[1]
        step = None
        if o.left < a_right and a_left < o.left + o.shape[1]:  # columns overlap: move vertically
            step = (1, 0) if o.top < a_top else (-1, 0)
        elif o.top < a_bottom and a_top < o.top + o.shape[0]:  # rows overlap: move horizontally
            step = (0, 1) if o.left < a_left else (0, -1)
        k = _slide((rows, cols), step, blocked) if step else -1
        if k > 0:
            moved_any = True
        k = max(k, 0)
        dr, dc = step if step else (0, 0)
        for passed in range(0 if trail else k, k + 1):
            out[rows + passed * dr, cols + passed * dc] = grid[rows, cols]
    return out if moved_any else None


PRIMITIVES = grid_ops({
    "fall_objects_down": fall_objects(1, 0), "fall_objects_up": fall_objects(-1, 0),
    "fall_objects_right": fall_objects(0, 1), "fall_objects_left": fall_objects(0, -1),
    "move_to_largest": move_to(True), "move_to_smallest": move_to(False),
    "trail_to_largest": move_to(True, trail=True),
}, keeps_shape=True)
