"""GRID -> GRID primitives that repair a picture: what a repair restored (the grid with its symmetries voted
or its period continued, cropped to the box of the cells the repair changed: tasks that hide part of a
symmetric or periodic picture under a block and ask for the block's contents), and noisy stripes made
clean (each row, or each column, its most frequent colour)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from arc_efe.search.dsl import grid_ops
from arc_efe.search.grids import bbox
from arc_efe.search.prims_geometry import repair_periodic, symmetrise_vote


def repaired_patch(repair: Callable[[np.ndarray], np.ndarray | None]):
    """`repair(grid)` cropped to the box of the cells it changed; None when it changes nothing."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        repaired = repair(grid)
        if repaired is None:
            return None
        box = bbox(repaired != grid)
        return None if box is None else np.ascontiguousarray(repaired[box[0]:box[1], box[2]:box[3]])
    return op


def _line_majority(grid: np.ndarray) -> np.ndarray:
    """Each row filled with its most frequent value (the lowest on ties)."""
    counts = np.stack([np.bincount(row, minlength=256) for row in grid])
    return np.repeat(counts.argmax(1).astype(np.uint8)[:, None], grid.shape[1], axis=1)


def denoise_stripes(grid: np.ndarray) -> np.ndarray | None:
    """Each row its most frequent colour, or each column, whichever keeps more of the grid's cells (stripes
    run that way); None on a tie or where that changes nothing."""
    rows, cols = _line_majority(grid), _line_majority(grid.T).T
    kept_rows, kept_cols = np.count_nonzero(rows == grid), np.count_nonzero(cols == grid)
    if kept_rows == kept_cols:
        return None
    out = rows if kept_rows > kept_cols else np.ascontiguousarray(cols)
    return None if np.array_equal(out, grid) else out


PRIMITIVES = grid_ops({"symmetrise_vote_patch": repaired_patch(symmetrise_vote),
                       "repair_periodic_patch": repaired_patch(repair_periodic)}, "what a repair restored") + grid_ops(
    {"denoise_stripes": denoise_stripes}, "clean stripes", keeps_shape=True)
