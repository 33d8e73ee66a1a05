"""GRID -> GRID primitives that paint: gravity, filling holes, outlines, rays and lines, denoising,
cell-wise logic between the two halves of a split grid, counts and colours as small grids.

Where the colour to paint is not in the grid (a filled hole, an AND of two halves) they paint the mark
value 10 and leave its colour to the final colour map.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from arc_efe.search.dsl import grid_ops
from arc_efe.search.grids import BG, HOLE, MARK, bbox, fits, framed, majority_colour, memo_by_grid, minority_colour
from arc_efe.search.objects import components, separator_lines

_FOUR = ndimage.generate_binary_structure(2, 1)
_EIGHT = np.ones((3, 3), dtype=bool)


def _fall_down(grid: np.ndarray) -> np.ndarray:
    out = np.full_like(grid, BG)
    h = grid.shape[0]
    for c in range(grid.shape[1]):
        values = grid[:, c][grid[:, c] != BG]
        if values.size:
            out[h - values.size:, c] = values
    return out


def _toward(down, dr: int, dc: int, grid: np.ndarray) -> np.ndarray:
    """`down` (a function acting towards the bottom) acting towards (dr, dc) instead, by flips and transposes."""
    if dc == 0:
        return down(grid) if dr > 0 else down(grid[::-1])[::-1]
    return down(grid.T).T if dc > 0 else down(grid[:, ::-1].T).T[:, ::-1]


def gravity(dr: int, dc: int):
    """Non-background cells fall towards one side, keeping their order."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        return _toward(_fall_down, dr, dc, grid)
    return op


def fill_enclosed(diagonal: bool):
    """Mark (as HOLE) the background cells that cannot reach the border through background."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        background = grid == BG
        labels, count = ndimage.label(background, _EIGHT if diagonal else _FOUR)
        if count == 0:
            return grid
        border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        enclosed = background & ~np.isin(labels, border)
        return np.where(enclosed, HOLE, grid).astype(np.uint8)
    return op


def _interior(grid: np.ndarray) -> np.ndarray:
    """Non-background cells whose four neighbours are non-background (the border counts as background)."""
    solid = framed(grid != BG, False)
    return solid[1:-1, 1:-1] & solid[:-2, 1:-1] & solid[2:, 1:-1] & solid[1:-1, :-2] & solid[1:-1, 2:]


def mark_interior(grid: np.ndarray) -> np.ndarray | None:
    inside = _interior(grid)
    return np.where(inside, MARK, grid).astype(np.uint8)


def hollow(grid: np.ndarray) -> np.ndarray | None:
    inside = _interior(grid)
    return np.where(inside, BG, grid).astype(np.uint8)


def halo(diagonal: bool, pick=None):
    """Mark the background cells next to any non-background cell (next to a cell of the colour `pick(grid)`
    chooses, when given)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        colour = None if pick is None else pick(grid)
        if pick is not None and colour is None:
            return None
        source = grid != BG if pick is None else grid == colour
        near = ndimage.binary_dilation(source, _EIGHT if diagonal else _FOUR) & (grid == BG)
        return np.where(near, MARK, grid).astype(np.uint8)
    return op


def mark_box(pick):
    """Every cell inside the bounding box of the colour `pick(grid)` chooses takes the label 1 (the final
    colour map recolours what lies in that box)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        colour = pick(grid)
        box = None if colour is None else bbox(grid == colour)
        if box is None or int(grid.max()) > 9:
            return None
        out = grid.copy()
        out[box[0]:box[1], box[2]:box[3]] += 20  # label_value(colour, 1)
        return out
    return op


def _fill_down(grid: np.ndarray) -> np.ndarray:
    """Each background cell takes the nearest colour above it in its column (a forward fill)."""
    h, w = grid.shape
    source = np.where(grid != BG, np.arange(h)[:, None], -1)
    source = np.maximum.accumulate(source, axis=0)
    return np.where(source >= 0, grid[np.maximum(source, 0), np.arange(w)], BG).astype(np.uint8)


def _fill_diagonal(grid: np.ndarray) -> np.ndarray:
    """A forward fill down-right: shear the diagonals into columns, fill down, shear back."""
    h, w = grid.shape
    rows = np.arange(h)[:, None]
    cols = np.arange(w)[None, :] - rows + h - 1  # the cells of one down-right diagonal share a column
    sheared = np.zeros((h, w + h), dtype=np.uint8)
    sheared[rows, cols] = grid
    return _fill_down(sheared)[rows, cols]


@memo_by_grid
def smear(grid: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """Each colour runs through background in direction (dr, dc) until the border or another colour.
    Cached: the ray primitives share their directions."""
    if dr == 0 or dc == 0:
        return _toward(_fill_down, dr, dc, grid)
    view = grid[::dr, ::dc]  # the flips that make the direction down-right are their own inverses
    return _fill_diagonal(view)[::dr, ::dc]


def rays(directions: tuple[tuple[int, int], ...]):
    """Rays from every coloured cell in each direction; the original grid wins, then earlier directions."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        out = grid.copy()
        for dr, dc in directions:
            out = np.where(out == BG, smear(grid, dr, dc), out)
        return out.astype(np.uint8)
    return op


def rays_mark(directions: tuple[tuple[int, int], ...]):
    """Like `rays`, but the ray cells take the mark, so the final colour map can tell ray from source."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        hit = np.zeros(grid.shape, dtype=bool)
        for dr, dc in directions:
            hit |= smear(grid, dr, dc) != BG
        return np.where((grid == BG) & hit, MARK, grid).astype(np.uint8)
    return op


def rays_code(grid: np.ndarray) -> np.ndarray | None:
    """Each background cell gets the mark 10 + a bitmask of the directions of the rays that reach it (rays
    going down, up, right, left: bits 0-3; a ray runs from a coloured cell through background), so the
    final colour map can draw rays in any subset of directions, or only where two rays cross."""
    code = np.zeros(grid.shape, dtype=np.uint8)
    for bit, (dr, dc) in enumerate(_ORTHO):
        code |= (smear(grid, dr, dc) != BG).astype(np.uint8) << bit
    return np.where(grid == BG, MARK + code, grid).astype(np.uint8)


def _between(grid: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """Background cells whose nearest coloured cells on both sides along (dr, dc) share one colour."""
    ahead, behind = smear(grid, dr, dc), smear(grid, -dr, -dc)
    return (grid == BG) & (ahead == behind) & (ahead != BG)


def connect(directions: tuple[tuple[int, int], ...], mark: bool):
    """Fill each background run that lies between two cells of one colour along each direction (a row, a
    column or a diagonal); earlier directions win where runs cross."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        out = grid.copy()
        for dr, dc in directions:
            gap = _between(grid, dr, dc) & (out == BG)
            out[gap] = MARK if mark else smear(grid, dr, dc)[gap]
        return out
    return op


def connect_edges(grid: np.ndarray) -> np.ndarray | None:
    """Each row (column) whose two end cells share a colour becomes a line of that colour, rows on top;
    None when that changes nothing."""
    out = grid.copy()
    rows = (grid[:, 0] == grid[:, -1]) & (grid[:, 0] != BG)
    cols = (grid[0] == grid[-1]) & (grid[0] != BG)
    out[:, cols] = grid[0, cols]
    out[rows] = grid[rows, :1]
    return None if np.array_equal(out, grid) else out


def drop_specks(grid: np.ndarray) -> np.ndarray | None:
    """Erase single cells that touch no other coloured cell (noise)."""
    labels, count = ndimage.label(grid != BG, _EIGHT)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    specks = (sizes[labels] == 1) & (labels > 0)
    return np.where(specks, BG, grid).astype(np.uint8)


def _two_pieces(grid: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The grid cut in two along `axis`: at a separator line when there is one, else in equal halves."""
    _, rows, cols = separator_lines(grid)
    lines = rows if axis == 0 else cols
    length = grid.shape[axis]
    if len(lines) == 1:
        cut = lines[0]
        a, b = (grid[:cut], grid[cut + 1:]) if axis == 0 else (grid[:, :cut], grid[:, cut + 1:])
    elif length % 2 == 0:
        half = length // 2
        a, b = (grid[:half], grid[half:]) if axis == 0 else (grid[:, :half], grid[:, half:])
    else:
        return None
    return (a, b) if a.shape == b.shape and a.size else None


_LOGIC = {
    "and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
    "nor": lambda a, b: ~(a | b), "first_only": lambda a, b: a & ~b, "second_only": lambda a, b: b & ~a,
}


def split_logic(axis: int, rule: str):
    """Cell-wise logic of the two pieces' non-background masks: mark where true, background elsewhere."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        pieces = _two_pieces(grid, axis)
        if pieces is None:
            return None
        hit = _LOGIC[rule](pieces[0] != BG, pieces[1] != BG)
        return np.where(hit, MARK, BG).astype(np.uint8)
    return op


def split_overlay(axis: int, first_on_top: bool):
    """One piece laid over the other, background showing through."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        pieces = _two_pieces(grid, axis)
        if pieces is None:
            return None
        top, under = pieces if first_on_top else pieces[::-1]
        return np.where(top != BG, top, under).astype(np.uint8)
    return op


def count_objects(shape: str):
    """The number of objects as a row, a column, a square or a square's diagonal of the majority foreground
    colour."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        found = components(grid, True, False)
        colour = majority_colour(grid, exclude_bg=True)
        if found is None or not found.objects or colour is None:
            return None
        n = len(found.objects)
        if shape == "diagonal":
            out = np.eye(n, dtype=np.uint8) * np.uint8(colour)
        else:
            out = np.full({"row": (1, n), "column": (n, 1), "square": (n, n)}[shape], colour, dtype=np.uint8)
        return out if fits(out) else None
    return op


def colour_cell(pick):
    """One cell of the colour `pick` chooses (a grid -> colour function as a 1 x 1 grid)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        colour = pick(grid)
        return None if colour is None else np.full((1, 1), colour, dtype=np.uint8)
    return op


def paint_foreground(pick):
    """Every non-background cell in one colour (`pick(grid)`, or the mark when pick is None)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        colour = MARK if pick is None else pick(grid)
        if colour is None:
            return None
        return np.where(grid != BG, colour, BG).astype(np.uint8)
    return op


def colours_by_count(grid: np.ndarray) -> np.ndarray | None:
    """The non-background colours as one column, most frequent first; None on a tie in the counts."""
    counts = np.bincount(grid.ravel(), minlength=256)
    counts[BG] = 0
    present = np.flatnonzero(counts)
    if present.size == 0 or np.unique(counts[present]).size != present.size:
        return None
    order = present[np.argsort(-counts[present], kind="stable")]
    return order.astype(np.uint8)[:, None]


def test_cell(predicate):
    """A yes/no question about the grid as one cell: the mark for yes, background for no (the final colour
    map names both answers' colours)."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        return np.full((1, 1), MARK if predicate(grid) else BG, dtype=np.uint8)
    return op


def swap_colours(grid: np.ndarray) -> np.ndarray | None:
    """Exchange the two non-background colours (None unless there are exactly two)."""
    present = np.flatnonzero(np.bincount(grid.ravel(), minlength=256))
    present = present[present != BG]
    if present.size != 2:
        return None
    a, b = present
    return np.where(grid == a, b, np.where(grid == b, a, grid)).astype(np.uint8)


def majority_to_bg(grid: np.ndarray) -> np.ndarray | None:
    """Swap the most frequent colour with background, so that primitives that assume a background of 0
    see shapes on a coloured background as shapes (None when 0 is already the majority)."""
    top = majority_colour(grid)
    if top == BG:
        return None
    return np.where(grid == top, BG, np.where(grid == BG, top, grid)).astype(np.uint8)


def erase(pick):
    """The colour `pick(grid)` chooses becomes background."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        colour = pick(grid)
        return None if colour is None else np.where(grid == colour, BG, grid).astype(np.uint8)
    return op


def keep_only(pick):
    """Only the colour `pick(grid)` chooses is kept; every other colour becomes background."""
    def op(grid: np.ndarray) -> np.ndarray | None:
        colour = pick(grid)
        return None if colour is None else np.where(grid == colour, grid, BG).astype(np.uint8)
    return op


def mark_empty_lines(grid: np.ndarray) -> np.ndarray | None:
    """Mark every all-background row and column."""
    empty = (grid == BG).all(axis=1)[:, None] | (grid == BG).all(axis=0)[None, :]
    return np.where(empty, MARK, grid).astype(np.uint8)


def cells_row(grid: np.ndarray) -> np.ndarray | None:
    """As many cells of the majority foreground colour as the grid has coloured cells, in one row."""
    n = int(np.count_nonzero(grid != BG))
    colour = majority_colour(grid, exclude_bg=True)
    if colour is None or n > 30:
        return None
    return np.full((1, n), colour, dtype=np.uint8)


def invert_mask(grid: np.ndarray) -> np.ndarray | None:
    """Background becomes the mark, every colour becomes background."""
    return np.where(grid == BG, MARK, BG).astype(np.uint8)


_ORTHO = ((1, 0), (-1, 0), (0, 1), (0, -1))
_DIAG = ((1, -1), (-1, 1), (1, 1), (-1, -1))  # rays_diagonal paints down-left first (its order since it began)

PRIMITIVES = grid_ops({
    "gravity_down": gravity(1, 0), "gravity_right": gravity(0, 1), "gravity_up": gravity(-1, 0),
    "gravity_left": gravity(0, -1),
    "fill_enclosed": fill_enclosed(False), "fill_enclosed_8": fill_enclosed(True),
    "mark_interior": mark_interior, "hollow": hollow, "halo_4": halo(False), "halo_8": halo(True),
    "halo_8_majority": halo(True, lambda g: majority_colour(g, exclude_bg=True)),
    "mark_box_minority": mark_box(minority_colour),
    "rays_down": rays(((1, 0),)), "rays_up": rays(((-1, 0),)), "rays_right": rays(((0, 1),)),
    "rays_left": rays(((0, -1),)), "rays_vertical": rays(_ORTHO[:2]), "rays_horizontal": rays(_ORTHO[2:]),
    "rays_cross": rays(_ORTHO), "rays_diagonal": rays(_DIAG), "rays_star": rays(_ORTHO + _DIAG),
    "rays_down_mark": rays_mark(((1, 0),)), "rays_up_mark": rays_mark(((-1, 0),)),
    "rays_right_mark": rays_mark(((0, 1),)), "rays_left_mark": rays_mark(((0, -1),)),
    "rays_vertical_mark": rays_mark(_ORTHO[:2]), "rays_horizontal_mark": rays_mark(_ORTHO[2:]),
    "rays_cross_mark": rays_mark(_ORTHO), "rays_diagonal_mark": rays_mark(_DIAG), "rays_code": rays_code,
    "connect_h": connect(_ORTHO[2:3], False), "connect_v": connect(_ORTHO[:1], False),
    "connect_hv": connect((_ORTHO[2], _ORTHO[0]), False), "connect_h_mark": connect(_ORTHO[2:3], True),
    "connect_v_mark": connect(_ORTHO[:1], True), "connect_hv_mark": connect((_ORTHO[2], _ORTHO[0]), True),
    "connect_diagonal": connect((_DIAG[2], _DIAG[0]), False),
    "connect_edges": connect_edges,
    "drop_specks": drop_specks,
    "paint_majority": paint_foreground(lambda g: majority_colour(g, exclude_bg=True)),
    "paint_mark": paint_foreground(None), "invert_mask": invert_mask, "swap_colours": swap_colours,
    "mark_empty_lines": mark_empty_lines, "majority_to_bg": majority_to_bg,
    "erase_minority": erase(minority_colour), "erase_majority": erase(lambda g: majority_colour(g, exclude_bg=True)),
    "keep_minority": keep_only(minority_colour),
    "keep_majority": keep_only(lambda g: majority_colour(g, exclude_bg=True)),
}, keeps_shape=True) + grid_ops({
    **{f"split_{'tb' if axis == 0 else 'lr'}_{rule}": split_logic(axis, rule) for axis in (0, 1) for rule in _LOGIC},
    "split_tb_overlay_first": split_overlay(0, True), "split_tb_overlay_second": split_overlay(0, False),
    "split_lr_overlay_first": split_overlay(1, True), "split_lr_overlay_second": split_overlay(1, False),
    "count_row": count_objects("row"), "count_column": count_objects("column"),
    "count_square": count_objects("square"), "count_diagonal": count_objects("diagonal"), "cells_row": cells_row,
    "colours_by_count": colours_by_count,
    "majority_colour_cell": colour_cell(lambda g: majority_colour(g, exclude_bg=True)),
    "minority_colour_cell": colour_cell(minority_colour),
    "is_symmetric_lr": test_cell(lambda g: np.array_equal(g, g[:, ::-1])),
    "is_symmetric_ud": test_cell(lambda g: np.array_equal(g, g[::-1])),
})
