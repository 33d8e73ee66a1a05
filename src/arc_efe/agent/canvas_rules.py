"""Output-canvas keys for the induced rules (AgentConfig.rule_table_induced_canvas): tasks whose demos change size.

induced_rules.py describes an input cell and maps it to the same cell of the output, so a task that scales, tiles,
crops or overlays has no rule there. Here the demos' output size is first stated as a function of the input
(`size_rule`: per axis out = (num * in + add) / den of the same or the other axis, or the bounding box of a
selected part of the input, the simplest that fits every demo), and each *output* cell is described by the input
colours at the places a scaling, a tiling (plain or mirrored), a corner crop, the selected box, a D8 image or an
overlay of two halves would read it from (`canvas_keys`); induced_rules then keeps the descriptions the demos'
outputs are a function of, as for input cells. Everything is numpy on the host: the keys are integers with no
gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from arc_efe.data.augment import Augmentation

# Where an output cell (r, c) of an H x W output reads an h x w input: the sources of each kind (one or two
# places) and the kind's name. A source off the input leaves the cell UNDEFINED, so such a kind is never induced.
# Mirrored tilings flip the odd tiles (a mirror extended down or right) or the even ones (up or left); "box" reads
# the size rule's selected box; "d8_k" the input's D8 image k where it has the output's shape.
CANVAS_KIND_NAMES = (
    "scaled", "block_majority", "tiled", "tiled_flip_rows", "tiled_flip_cols", "tiled_flip_both",
    "tiled_flip_rows_even", "tiled_flip_cols_even", "tiled_flip_both_even",
    "corner_tl", "corner_tr", "corner_bl", "corner_br", "box", *(f"d8_{k}" for k in range(1, 8)),
    "halves_rows", "halves_cols", "self_similar", "block_colours",
)
CANVAS_KINDS = len(CANVAS_KIND_NAMES)
SOURCES = 21  # the first kinds read one input colour: their "copy" rules (the output is that colour, whatever it
# is) hold for colours no demo showed
UNDEFINED = -1
_D8 = [Augmentation(k) for k in range(8)]
# Size rules tried per axis: (num, den) of out = (num * in + add) / den; (0, 1) is a constant size; num SQUARE
# means out = in * in (a grid of copies of itself, 007bbfb7).
SQUARE = -1
_RATIOS = ((1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (1, 2), (1, 3), (1, 4), (1, 5), (2, 3), (3, 2), (SQUARE, 1),
           (0, 1))
# The parts of an input whose bounding box an output may be (a crop): every coloured cell; the largest or smallest
# one-colour (c8) or multicolour (o8) object; the cells of the rarest or commonest colour. A tie selects nothing.
SELECTORS = ("coloured", "largest_c8", "smallest_c8", "largest_o8", "smallest_o8", "rarest_colour",
             "commonest_colour")
# A size rule's numbers: its mode (0 none, 1 per axis, 2 + j the box of SELECTORS[j]), then per axis the input axis
# it reads, num, den, add.
SIZE_NUMBERS = 9
_ANY = np.ones((3, 3), dtype=bool)


def size_rule(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
    """[SIZE_NUMBERS] float32: the simplest rule every (input, output) pair's output shape fits, or None. Simplest:
    a scaling (add 0) of each axis, from the same axis before the other; then a selected box; then any per-axis
    rule (a constant, an offset), add 0 and `_RATIOS` order first."""
    if not pairs:
        return None
    per_axis = []
    for axis in (0, 1):
        fits = []
        for source in (axis, 1 - axis):
            sides = [(i.shape[source], o.shape[axis]) for i, o in pairs]
            for index, (num, den) in enumerate(_RATIOS):
                if num == SQUARE:
                    if all(o == i * i for i, o in sides):
                        fits.append((False, source != axis, index, (source, num, den, 0)))
                    continue
                add = den * sides[0][1] - num * sides[0][0]
                if all(den * o == num * i + add for i, o in sides):
                    fits.append((add != 0 or num == 0, source != axis, index, (source, num, den, add)))
        per_axis.append(min(fits) if fits else None)
    if per_axis[0] and per_axis[1] and not per_axis[0][0] and not per_axis[1][0]:
        return _rule(1, per_axis)
    boxes = [_boxes(i) for i, _ in pairs]
    for j in range(len(SELECTORS)):
        if all(b[j] is not None and b[j][2:] == o.shape for b, (_, o) in zip(boxes, pairs)):
            return np.array([2 + j] + [0] * (SIZE_NUMBERS - 1), dtype=np.float32)
    return _rule(1, per_axis) if per_axis[0] and per_axis[1] else None


def _rule(mode: int, per_axis: list) -> np.ndarray:
    return np.array([mode, *per_axis[0][-1], *per_axis[1][-1]], dtype=np.float32)


def output_box(rule: np.ndarray, grid: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, height, width): where on `grid` the output `rule` (size_rule's numbers) gives it reads its box
    from, and the output's shape; None where the rule gives no whole size in 1..30 or selects nothing."""
    mode = int(rule[0])
    if mode >= 2:
        return _boxes(grid)[mode - 2] if mode - 2 < len(SELECTORS) else None
    if mode != 1:
        return None
    out = []
    for axis in (0, 1):
        source, num, den, add = (int(v) for v in rule[1 + 4 * axis : 5 + 4 * axis])
        if num == SQUARE:
            num, den, add = grid.shape[source], 1, 0
        if den <= 0 or (num * grid.shape[source] + add) % den:
            return None
        side = (num * grid.shape[source] + add) // den
        if not 1 <= side <= 30:
            return None
        out.append(side)
    return 0, 0, out[0], out[1]


def _boxes(g: np.ndarray) -> list[tuple[int, int, int, int] | None]:
    """Per SELECTORS entry, the (top, left, height, width) of that part of `g`, None if it is empty or tied."""
    found: list[tuple[int, int, int, int] | None] = [_box(g != 0)]
    for view in ("c8", "o8"):
        labels = object_labels(g, view)
        sizes = np.bincount(labels.ravel())[1:]
        for pick in (sizes.max, sizes.min):
            if not len(sizes) or (sizes == pick()).sum() != 1:
                found.append(None)
            else:
                found.append(_box(labels == int(np.argmax(sizes == pick())) + 1))
    counts = np.bincount(g.ravel(), minlength=10)[1:]
    present = counts[counts > 0]
    for pick in (np.min, np.max):
        if not len(present) or (counts == pick(present)).sum() != 1:
            found.append(None)
        else:
            found.append(_box(g == int(np.argmax(counts == pick(present))) + 1))
    return found


def object_labels(g: np.ndarray, view: str) -> np.ndarray:
    """Objects numbered from 1: one-colour 8-connected (c8) or any-colour 8-connected (o8); background is 0 (unlike
    induced_rules' labels, whose one-colour views number background regions too)."""
    if view == "o8":
        return ndimage.label(g != 0, _ANY)[0]
    labels = np.zeros(g.shape, dtype=np.int64)
    for colour in np.unique(g[g != 0]):
        part, _ = ndimage.label(g == colour, _ANY)
        labels = np.where(part > 0, part + labels.max(), labels)
    return labels


def _box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The bounding box (top, left, height, width) of `mask`'s cells, None if it has none."""
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return None
    return int(rows.min()), int(cols.min()), int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def canvas_keys(grid: np.ndarray, out_shape: tuple[int, int], offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """grid [h, w] -> [CANVAS_KINDS, H, W] int64: each output cell's description of each kind (CANVAS_KIND_NAMES):
    the input colour(s) it reads (two as 16 a + b, a block's as a bitmask), UNDEFINED where a source lies off the
    input. `offset`: the top left of the size rule's box on the input. Not yet salted or hashed (induced_rules does
    that with its own kinds')."""
    g = grid.astype(np.int64)
    h, w = g.shape
    big, wide = out_shape
    r, c = np.indices(out_shape)
    colour = _reader(g)
    scaled = colour(r * h // big, c * w // wide)
    tiled_r, tiled_c = r % h, c % w
    odd_r, odd_c = (r // h) % 2 == 1, (c // w) % 2 == 1
    flip_r, flip_c = np.where(odd_r, h - 1 - tiled_r, tiled_r), np.where(odd_c, w - 1 - tiled_c, tiled_c)
    even_r, even_c = np.where(odd_r, tiled_r, h - 1 - tiled_r), np.where(odd_c, tiled_c, w - 1 - tiled_c)
    tiled = colour(tiled_r, tiled_c)
    low, right = r + h - big, c + w - wide
    tl = colour(r, c)
    keys = [
        scaled, _block_majority(g, out_shape), tiled, colour(flip_r, tiled_c), colour(tiled_r, flip_c),
        colour(flip_r, flip_c), colour(even_r, tiled_c), colour(tiled_r, even_c), colour(even_r, even_c),
        tl, colour(r, right), colour(low, c), colour(low, right), colour(r + offset[0], c + offset[1]),
        *(i if i.shape == out_shape else np.full(out_shape, UNDEFINED) for i in (d.apply(g) for d in _D8[1:])),
        _pair(tl, colour(low, c)), _pair(tl, colour(r, right)), _pair(scaled, tiled), _block_colours(g, out_shape),
    ]
    return np.stack(keys)


def _reader(g: np.ndarray):
    """colour(rows, cols): `g` at those places (arrays of one shape), UNDEFINED off it."""
    h, w = g.shape

    def colour(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        return np.where(inside, g[rows.clip(0, h - 1), cols.clip(0, w - 1)], UNDEFINED)

    return colour


def _pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two colours as one key; UNDEFINED if either is."""
    return np.where((a == UNDEFINED) | (b == UNDEFINED), UNDEFINED, a * 16 + b)


def _block_majority(g: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """[H, W]: the most frequent colour (the lowest of a tie) in each cell's `_block_colours` block."""
    h, w = g.shape
    big, wide = out_shape
    one_hot = (g[None] == np.arange(10)[:, None, None]).astype(np.int64)
    rows = np.add.reduceat(one_hot, np.arange(big) * h // big, axis=1)
    return np.add.reduceat(rows, np.arange(wide) * w // wide, axis=2).argmax(axis=0)


def _block_colours(g: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """[H, W]: the set of colours (a bitmask) in the block of the input an output cell covers when the output is
    the input scaled by H/h, W/w: rows floor(r h / H) up to floor((r + 1) h / H), at least one (likewise columns)."""
    h, w = g.shape
    big, wide = out_shape
    rows = np.bitwise_or.reduceat(1 << g, np.arange(big) * h // big, axis=0)
    return np.bitwise_or.reduceat(rows, np.arange(wide) * w // wide, axis=1)
