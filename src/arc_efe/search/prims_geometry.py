"""GRID -> GRID primitives that move cells without deciding colours: D8, crops, scaling, tiling, mirrors.

Round trips (rot90 / rot270, scale_up_k / scale_down_k, transpose twice) are tested as inverses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from arc_efe.search.dsl import grid_ops
from arc_efe.search.grids import BG, MAX_SIDE, bbox, fits, framed, majority_colour, memo_by_grid, minority_colour


def _checked(grid: np.ndarray) -> np.ndarray | None:
    return grid if fits(grid) else None


def crop_content(grid: np.ndarray) -> np.ndarray | None:
    """The bounding box of every non-background cell."""
    box = bbox(grid != BG)
    if box is None:
        return None
    return grid[box[0]:box[1], box[2]:box[3]]


def crop_not_majority(grid: np.ndarray) -> np.ndarray | None:
    """The bounding box of the cells that differ from the most frequent colour (a non-zero background)."""
    box = bbox(grid != majority_colour(grid))
    if box is None:
        return None
    return grid[box[0]:box[1], box[2]:box[3]]


def scale_up(k: int):
    def op(grid: np.ndarray) -> np.ndarray | None:
        return _checked(np.repeat(np.repeat(grid, k, axis=0), k, axis=1))
    return op


def scale_down(k: int):
    """Keep one cell of each k x k block; only when every block is one colour (the inverse of scale_up)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        h, w = grid.shape
        if h % k or w % k or h < k or w < k:
            return None
        small = grid[::k, ::k]
        if not np.array_equal(np.repeat(np.repeat(small, k, axis=0), k, axis=1), grid):
            return None
        return small
    return op


def shrink(k: int):
    """Each k x k block becomes its most frequent colour (scale_down that tolerates noise)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        h, w = grid.shape
        if h % k or w % k or h < k or w < k:
            return None
        blocks = grid.reshape(h // k, k, w // k, k).transpose(0, 2, 1, 3).reshape(h // k, w // k, k * k)
        counts = (blocks[..., None] == np.arange(10)).sum(axis=2)
        return counts.argmax(axis=2).astype(np.uint8)
    return op


@memo_by_grid
def _period(grid: np.ndarray, limit: int = 10) -> tuple[int, int, np.ndarray] | None:
    """The smallest (rows, cols) period that every non-background cell agrees with, and its tile."""
    h, w = grid.shape
    rows, cols = np.nonzero(grid != BG)
    values = grid[rows, cols]
    # A (pr, pc) period holds only where the rows alone repeat every pr (the columns kept whole) and the
    # columns alone every pc: each half is checked once, which rules out most pairs of a grid without one.
    rows_repeat = {pr: _tile_of(rows % pr, cols, values, (pr, w)) is not None for pr in range(1, min(limit, h) + 1)}
    cols_repeat = {pc: _tile_of(rows, cols % pc, values, (h, pc)) is not None for pc in range(1, min(limit, w) + 1)}
    for area in range(1, limit * limit + 1):
        for pr in range(1, min(limit, h) + 1):
            pc = area // pr
            if area % pr or pc > min(limit, w) or (pr == h and pc == w) or not (rows_repeat[pr] and cols_repeat[pc]):
                continue
            tile_ = _tile_of(rows % pr, cols % pc, values, (pr, pc))
            if tile_ is not None:
                return pr, pc, tile_
    return None


def _tile_of(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """The tile of `shape` holding each value at its (row, col), when the values that share a place agree."""
    tile_ = np.zeros(shape, dtype=np.uint8)
    tile_[rows, cols] = values
    return tile_ if np.array_equal(tile_[rows, cols], values) else None


def repair_periodic(grid: np.ndarray) -> np.ndarray | None:
    """Fill background cells from the smallest periodic tiling the coloured cells agree with."""
    if (grid != BG).all():
        return None  # nothing to repair
    found = _period(grid)
    if found is None:
        return None
    pr, pc, tile_ = found
    h, w = grid.shape
    full = np.tile(tile_, (h // pr + 1, w // pc + 1))[:h, :w]
    return np.where(grid == BG, full, grid).astype(np.uint8)


def dedup_lines(grid: np.ndarray) -> np.ndarray:
    """Drop each row or column equal to the one before it (undoes any stretching)."""
    keep_rows = np.ones(grid.shape[0], dtype=bool)
    keep_rows[1:] = (grid[1:] != grid[:-1]).any(axis=1)
    grid = grid[keep_rows]
    keep_cols = np.ones(grid.shape[1], dtype=bool)
    keep_cols[1:] = (grid[:, 1:] != grid[:, :-1]).any(axis=0)
    return grid[:, keep_cols]


def drop_empty_lines(grid: np.ndarray) -> np.ndarray | None:
    """Remove every all-background row and column (closes gaps, unlike a crop)."""
    rows = (grid != BG).any(axis=1)
    cols = (grid != BG).any(axis=0)
    if not rows.any():
        return None
    return grid[rows][:, cols]


def tile(rows: int, cols: int):
    def op(grid: np.ndarray) -> np.ndarray | None:
        return _checked(np.tile(grid, (rows, cols)))
    return op


def mirror_right(grid: np.ndarray) -> np.ndarray | None:
    return _checked(np.hstack([grid, grid[:, ::-1]]))


def mirror_left(grid: np.ndarray) -> np.ndarray | None:
    return _checked(np.hstack([grid[:, ::-1], grid]))


def mirror_down(grid: np.ndarray) -> np.ndarray | None:
    return _checked(np.vstack([grid, grid[::-1]]))


def mirror_up(grid: np.ndarray) -> np.ndarray | None:
    return _checked(np.vstack([grid[::-1], grid]))


def mirror_down_shared(grid: np.ndarray) -> np.ndarray | None:
    """The grid and its reflection below it, sharing the last row (a pattern reflected about its edge line)."""
    return _checked(np.vstack([grid, grid[-2::-1]])) if grid.shape[0] >= 2 else None


def mirror_right_shared(grid: np.ndarray) -> np.ndarray | None:
    """The grid and its reflection to its right, sharing the last column."""
    return _checked(np.hstack([grid, grid[:, -2::-1]])) if grid.shape[1] >= 2 else None


def mirror_quad(grid: np.ndarray) -> np.ndarray | None:
    """The grid and its three reflections, 2 x 2, the grid top-left."""
    top = np.hstack([grid, grid[:, ::-1]])
    return _checked(np.vstack([top, top[::-1]]))


def rotate_quad(grid: np.ndarray) -> np.ndarray | None:
    """The grid and its rotations by 90, 180 and 270 degrees clockwise, 2 x 2 (square grids)."""
    if grid.shape[0] != grid.shape[1]:
        return None
    top = np.hstack([grid, np.rot90(grid, -1)])
    bottom = np.hstack([np.rot90(grid, 1), np.rot90(grid, 2)])
    return _checked(np.vstack([top, bottom]))


def _squared_fits(grid: np.ndarray) -> bool:
    """Whether a grid of the grid's shape squared fits (checked before a Kronecker product is built)."""
    return grid.shape[0] ** 2 <= MAX_SIDE and grid.shape[1] ** 2 <= MAX_SIDE


def fractal(grid: np.ndarray) -> np.ndarray | None:
    """A copy of the grid in every non-background cell's block (the Kronecker product with its own mask)."""
    return _checked(np.kron((grid != BG).astype(np.uint8), grid)) if _squared_fits(grid) else None


def fractal_inverse(grid: np.ndarray) -> np.ndarray | None:
    """A copy of the grid in every background cell's block."""
    return _checked(np.kron((grid == BG).astype(np.uint8), grid)) if _squared_fits(grid) else None


def fractal_minority(grid: np.ndarray) -> np.ndarray | None:
    """A copy of the grid in the block of every cell of the least frequent colour."""
    colour = minority_colour(grid) if _squared_fits(grid) else None
    return None if colour is None else _checked(np.kron((grid == colour).astype(np.uint8), grid))


def fractal_by_value(grid: np.ndarray) -> np.ndarray | None:
    """A copy of the grid in every cell's block, labelled with that cell's value (colour c in the block of
    a cell of value v becomes c + 10 * (1 + v)): the final colour map decides which cells carry a copy."""
    if not _squared_fits(grid) or int(grid.max()) > 9:
        return None
    blocks = np.kron(grid, np.ones_like(grid))  # each cell's value over its block
    return _checked((np.tile(grid, grid.shape) + 10 * (1 + blocks)).astype(np.uint8))  # label_value's code


def keep_centre(axis: int):
    """Only the middle row (axis 0) or column (axis 1) kept, the rest background; odd lengths only."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        length = grid.shape[axis]
        if length % 2 == 0 or length < 3:
            return None
        out = np.full_like(grid, BG)
        if axis == 0:
            out[length // 2] = grid[length // 2]
        else:
            out[:, length // 2] = grid[:, length // 2]
        return out
    return op


def repeat_band(axis: int):
    """The rows (axis 0) or columns (axis 1) spanned by the content, repeated across the whole grid in
    their own phase (a band of pattern continued to both edges)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        used = np.flatnonzero((grid != BG).any(axis=1 - axis))
        if used.size == 0:
            return None
        start, period = int(used[0]), int(used[-1] - used[0] + 1)
        if period == grid.shape[axis]:
            return None  # the band is the whole grid: nothing to repeat
        index = start + (np.arange(grid.shape[axis]) - start) % period
        return np.ascontiguousarray(grid[index] if axis == 0 else grid[:, index])
    return op


def _continued_rows(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose colours form one run of two or more cells, and those rows with the run repeated
    along the whole row in its own phase."""
    used = grid != BG
    count = used.sum(axis=1)
    first = used.argmax(axis=1)
    last = grid.shape[1] - 1 - used[:, ::-1].argmax(axis=1)
    rows = np.flatnonzero((count >= 2) & (last - first + 1 == count))
    start, length = first[rows, None], count[rows, None]
    index = start + (np.arange(grid.shape[1])[None, :] - start) % length
    return rows, np.take_along_axis(grid[rows], index, axis=1)


def continue_runs(grid: np.ndarray) -> np.ndarray | None:
    """Each row and each column whose colours form one run (two cells or more) continues that run as a
    repeating sequence to both edges; rows are painted first, columns fill what is left. None: no such line."""
    rows, full_rows = _continued_rows(grid)
    cols, full_cols = _continued_rows(grid.T)
    if rows.size == 0 and cols.size == 0:
        return None
    out = grid.copy()
    out[rows] = full_rows  # a run's own cells are part of its repeat: only background changes
    view = out.T
    view[cols] = np.where(view[cols] == BG, full_cols, view[cols])
    return out


def _line_period(grid: np.ndarray, axis: int) -> int:
    """The smallest p such that line i equals line i + p along `axis` for every i (the length if none)."""
    length = grid.shape[axis]
    for p in range(1, length):
        a, b = (grid[p:], grid[:-p]) if axis == 0 else (grid[:, p:], grid[:, :-p])
        if np.array_equal(a, b):
            return p
    return length


def extend_periodic(axis: int):
    """The grid twice as long along `axis`, continuing its smallest exact period (plain doubling when it
    has none)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        length = grid.shape[axis]
        index = np.arange(2 * length) % _line_period(grid, axis)
        return _checked(np.ascontiguousarray(grid[index] if axis == 0 else grid[:, index]))
    return op


def _symmetrise(grid: np.ndarray, views: list[np.ndarray]) -> np.ndarray | None:
    """Fill background cells from the same cell of each reflected view (same shape)."""
    out = grid.copy()
    for view in views:
        if view.shape != out.shape:
            return None
        out = np.where(out == BG, view, out)
    return out


_VOTE_AGREEMENT = 0.6  # a mirror view votes when it agrees with the grid on this share of the coloured cells


def symmetrise_vote(grid: np.ndarray) -> np.ndarray | None:
    """Repair the symmetries the grid mostly has: each D8 view of the grid's shape that agrees with it on
    most coloured cells votes, and each cell takes the most frequent value among the grid and those views;
    a tie keeps the cell unless it is background. Noise of any colour is outvoted. None: no such view."""
    views = [grid]
    coloured_self = grid != BG
    for transform in D8.values():
        view = transform(grid)
        if view.shape != grid.shape:
            continue
        coloured = coloured_self | (view != BG)
        n = np.count_nonzero(coloured)
        if n and np.count_nonzero((view == grid) & coloured) >= _VOTE_AGREEMENT * n:
            views.append(view)
    if len(views) == 1:
        return None
    stack = np.stack(views)  # (views, h, w)
    values = np.unique(stack)
    # ties: a colour beats background, then the cell's own value beats the other colours
    score = np.stack([4 * (stack == v).sum(0) + 2 * (v != BG) + (grid == v) for v in values])
    return values[score.argmax(0)].astype(np.uint8)


def symmetrise_lr(grid: np.ndarray) -> np.ndarray | None:
    return _symmetrise(grid, [grid[:, ::-1]])


def symmetrise_ud(grid: np.ndarray) -> np.ndarray | None:
    return _symmetrise(grid, [grid[::-1]])


def symmetrise_both(grid: np.ndarray) -> np.ndarray | None:
    return _symmetrise(grid, [grid[:, ::-1], grid[::-1], grid[::-1, ::-1]])


def symmetrise_rot(grid: np.ndarray) -> np.ndarray | None:
    return _symmetrise(grid, [np.rot90(grid, 1), np.rot90(grid, 2), np.rot90(grid, 3)])


def symmetrise_diag(grid: np.ndarray) -> np.ndarray | None:
    return _symmetrise(grid, [grid.T])


def half(part: str):
    def op(grid: np.ndarray) -> np.ndarray | None:
        h, w = grid.shape
        if part in ("top", "bottom") and h < 2 or part in ("left", "right") and w < 2:
            return None
        return {"top": grid[:h // 2], "bottom": grid[(h + 1) // 2:],
                "left": grid[:, :w // 2], "right": grid[:, (w + 1) // 2:]}[part]
    return op


def trim_border(grid: np.ndarray) -> np.ndarray | None:
    if min(grid.shape) < 3:
        return None
    return grid[1:-1, 1:-1]


def add_border(grid: np.ndarray) -> np.ndarray | None:
    """A one-cell frame of mark value 10 (the final colour map names its colour)."""
    return _checked(framed(grid, 10))


def pad_edges(grid: np.ndarray) -> np.ndarray | None:
    """One more cell on every side copying the edge next to it; the corners background."""
    out = framed(grid, BG)  # the corners stay background
    out[0, 1:-1], out[-1, 1:-1] = grid[0], grid[-1]
    out[1:-1, 0], out[1:-1, -1] = grid[:, 0], grid[:, -1]
    return _checked(out)


def scale_by_colours(grid: np.ndarray) -> np.ndarray | None:
    """Scale up by the number of distinct non-background colours."""
    k = int(np.count_nonzero(np.bincount(grid.ravel(), minlength=10)[1:]))
    return None if k == 0 else _checked(np.repeat(np.repeat(grid, k, axis=0), k, axis=1))


def fractal_majority(grid: np.ndarray) -> np.ndarray | None:
    """A copy of the grid in the block of every cell of the most frequent colour."""
    if not _squared_fits(grid):
        return None
    return _checked(np.kron((grid == majority_colour(grid)).astype(np.uint8), grid))


def shift(dr: int, dc: int):
    """Move everything one cell, background entering on the other side."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        out = np.full_like(grid, BG)
        h, w = grid.shape
        out[max(dr, 0):h + min(dr, 0), max(dc, 0):w + min(dc, 0)] = grid[max(-dr, 0):h + min(-dr, 0),
                                                                       max(-dc, 0):w + min(-dc, 0)]
        return out
    return op


# As slices and transposes, the views np.rot90 returns (same strides) at a twentieth of its call overhead:
# finals try the eight views of many small cells.
D8: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "rot90": lambda g: g.T[:, ::-1],  # np.rot90(g, -1), clockwise
    "rot180": lambda g: g[::-1, ::-1],
    "rot270": lambda g: g[:, ::-1].T,  # np.rot90(g, 1)
    "flip_lr": lambda g: g[:, ::-1],
    "flip_ud": lambda g: g[::-1],
    "transpose": lambda g: g.T,
    "anti_transpose": lambda g: g[::-1, ::-1].T,
}
# The eight views, identity first: what finals choose among (as a primitive the identity does nothing).
VIEWS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"id": lambda g: g, **D8}

PRIMITIVES = grid_ops(D8, "a D8 symmetry") + grid_ops({
    "crop_content": crop_content, "crop_not_majority": crop_not_majority,
    "scale_up_2": scale_up(2), "scale_up_3": scale_up(3), "scale_up_4": scale_up(4),
    "scale_down_2": scale_down(2), "scale_down_3": scale_down(3),
    "shrink_2": shrink(2), "shrink_3": shrink(3), "dedup_lines": dedup_lines, "drop_empty_lines": drop_empty_lines,
    "tile_1x2": tile(1, 2), "tile_2x1": tile(2, 1), "tile_2x2": tile(2, 2), "tile_3x3": tile(3, 3),
    "mirror_right": mirror_right, "mirror_left": mirror_left, "mirror_down": mirror_down, "mirror_up": mirror_up,
    "mirror_quad": mirror_quad,
    "mirror_down_shared": mirror_down_shared, "mirror_right_shared": mirror_right_shared,
    "rotate_quad": rotate_quad, "fractal": fractal, "fractal_inverse": fractal_inverse,
    "fractal_majority": fractal_majority, "fractal_minority": fractal_minority,
    "fractal_by_value": fractal_by_value,
    "scale_by_colours": scale_by_colours, "pad_edges": pad_edges,
    "top_half": half("top"), "bottom_half": half("bottom"), "left_half": half("left"), "right_half": half("right"),
    "trim_border": trim_border, "add_border": add_border,
    "extend_periodic_down": extend_periodic(0), "extend_periodic_right": extend_periodic(1),
}) + grid_ops({
    "symmetrise_lr": symmetrise_lr, "symmetrise_ud": symmetrise_ud, "symmetrise_both": symmetrise_both,
    "symmetrise_rot": symmetrise_rot, "symmetrise_diag": symmetrise_diag,
    "symmetrise_vote": symmetrise_vote,
    "repair_periodic": repair_periodic, "keep_centre_row": keep_centre(0), "keep_centre_column": keep_centre(1),
    "repeat_band_rows": repeat_band(0), "repeat_band_columns": repeat_band(1), "continue_runs": continue_runs,
    "shift_up": shift(-1, 0), "shift_down": shift(1, 0), "shift_left": shift(0, -1), "shift_right": shift(0, 1),
}, keeps_shape=True)
