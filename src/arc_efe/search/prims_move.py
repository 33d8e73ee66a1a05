"""GRID -> GRID primitives that move whole objects: rigid objects falling to a side until they land, and
objects sliding towards the largest (smallest) object until they touch it, or drawing their path there;
and, of two single cells, a right-angled path between them, a step of one towards the other or the cell
halfway between them. Objects are 8-connected, multicolour."""

from __future__ import annotations

import numpy as np

from arc_efe.search.dsl import grid_ops
from arc_efe.search.grids import BG, MARK
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


def elbow(low_row: bool):
    """Two single cells of two colours joined by a right-angled path of marks: along the row of the lower
    colour (`low_row`; else the higher) to the column of the other, then along that column to it. None
    unless the grid holds exactly two coloured cells, of two colours."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        found = _two_cells(grid)
        if found is None:
            return None
        rows, cols = found
        first = 0 if low_row else 1
        (r0, c0), (r1, c1) = (rows[first], cols[first]), (rows[1 - first], cols[1 - first])
        out = grid.copy()
        out[r0, min(c0, c1):max(c0, c1) + 1] = MARK
        out[min(r0, r1):max(r0, r1) + 1, c1] = MARK
        out[rows, cols] = grid[rows, cols]
        return out
    return op


def _two_cells(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The positions of the grid's only two coloured cells, lower colour first; None unless there are
    exactly two, of two colours."""
    rows, cols = np.nonzero(grid != BG)
    if rows.size != 2 or grid[rows[0], cols[0]] == grid[rows[1], cols[1]]:
        return None
    order = np.argsort(grid[rows, cols])
    return rows[order], cols[order]


def step_toward(low_moves: bool):
    """Of two single cells of two colours, the lower colour's (`low_moves`; else the higher's) steps one
    cell towards the other, diagonally where both coordinates differ; None where they touch already."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        found = _two_cells(grid)
        if found is None:
            return None
        rows, cols = found
        mover, target = (0, 1) if low_moves else (1, 0)
        dr, dc = np.sign(rows[target] - rows[mover]), np.sign(cols[target] - cols[mover])
        r, c = rows[mover] + dr, cols[mover] + dc
        if (r, c) == (rows[target], cols[target]):
            return None
        out = grid.copy()
        out[r, c], out[rows[mover], cols[mover]] = grid[rows[mover], cols[mover]], BG
        return out
    return op


def midpoint(grid: np.ndarray) -> np.ndarray | None:
    """The cell halfway between the grid's only two coloured cells marked (on a row, a column or a diagonal);
    None unless there are exactly two, an even number of steps apart."""
    rows, cols = np.nonzero(grid != BG)
    if rows.size != 2:
        return None
    dr, dc = int(rows[1] - rows[0]), int(cols[1] - cols[0])
    if dr % 2 or dc % 2 or (dr and dc and abs(dr) != abs(dc)):
        return None
    out = grid.copy()
    out[rows[0] + dr // 2, cols[0] + dc // 2] = MARK
    return out


PRIMITIVES = grid_ops({
    "fall_objects_down": fall_objects(1, 0), "fall_objects_up": fall_objects(-1, 0),
    "fall_objects_right": fall_objects(0, 1), "fall_objects_left": fall_objects(0, -1),
    "move_to_largest": move_to(True), "move_to_smallest": move_to(False),
    "trail_to_largest": move_to(True, trail=True), "elbow_low_row": elbow(True), "elbow_high_row": elbow(False),
    "step_low_toward_high": step_toward(True), "step_high_toward_low": step_toward(False), "midpoint": midpoint,
}, keeps_shape=True)
