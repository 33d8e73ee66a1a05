"""GRID -> GRID primitives that double or halve the canvas. Growing leaves the new cells empty: the grid at the
top-left of a canvas twice as wide, twice as tall, or both, for a later step (a fitted final, rays, a period
repaired) to fill. Outputs larger than their inputs, drawn from the input outwards, start here: the tile
final copies the grid into every block, which such outputs do not. Halving undoes a doubling: the half of a
grid made of two equal halves, side by side or one above the other."""

from __future__ import annotations

import numpy as np

from arc_efe.search.dsl import grid_ops
from arc_efe.search.grids import BG, MAX_SIDE


def canvas(rows: int, cols: int):
    """The grid at the top-left of a background canvas `rows` x `cols` times its size; None past 30."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        h, w = grid.shape
        if h * rows > MAX_SIDE or w * cols > MAX_SIDE:
            return None
        out = np.full((h * rows, w * cols), BG, dtype=np.uint8)
        out[:h, :w] = grid
        return out
    return op


def repeated_half(grid: np.ndarray) -> np.ndarray | None:
    """The left half of a grid whose two halves side by side are equal, else the top half of one whose upper
    and lower halves are; None when neither."""
    h, w = grid.shape
    if w % 2 == 0 and np.array_equal(grid[:, :w // 2], grid[:, w // 2:]):
        return grid[:, :w // 2]
    if h % 2 == 0 and np.array_equal(grid[:h // 2], grid[h // 2:]):
        return grid[:h // 2]
    return None


PRIMITIVES = grid_ops({"canvas_2x": canvas(2, 2), "canvas_wide": canvas(1, 2), "canvas_tall": canvas(2, 1)},
                      "the grid on a larger empty canvas") + grid_ops({"repeated_half": repeated_half})
