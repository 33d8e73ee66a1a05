"""Output-canvas keys for the induced rules (AgentConfig.rule_table_induced_canvas): tasks whose demos change size.

induced_rules.py describes an input cell and maps it to the same cell of the output, so a task that scales, tiles,
crops or overlays has no rule there. Here the demos' output size is first stated as a function of the input size
(`size_rule`: out = (num * in + add) / den per axis, the simplest that fits every demo), and each *output* cell is
described by the input colours at the places a scaling, tiling (plain or mirrored), corner crop or overlay of two
halves would read it from (`canvas_keys`); induced_rules then keeps the descriptions the demos' outputs are a
function of, as for input cells. Everything is numpy on the host: the keys are integers with no gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Where an output cell (r, c) of an H x W output reads an h x w input: the sources of each kind (one or two
# places) and the kind's name. A source off the input leaves the cell UNDEFINED, so such a kind is never induced.
# Mirrored tilings flip the odd tiles (a mirror extended down or right) or the even ones (up or left).
CANVAS_KIND_NAMES = (
    "scaled", "block_majority", "tiled", "tiled_flip_rows", "tiled_flip_cols", "tiled_flip_both",
    "tiled_flip_rows_even", "tiled_flip_cols_even", "tiled_flip_both_even",
    "corner_tl", "corner_tr", "corner_bl", "corner_br", "halves_rows", "halves_cols", "self_similar", "block_colours",
)
CANVAS_KINDS = len(CANVAS_KIND_NAMES)
SOURCES = 13  # the first kinds read one input colour: their "copy" rules (the output is that colour, whatever it
# is) hold for colours no demo showed
UNDEFINED = -1
# Size rules tried, simplest first: (num, den) of out = (num * in + add) / den; a rule with add = 0 beats any with
# add != 0, then the order here; (0, 1) is a constant size.
_RATIOS = ((1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (1, 2), (1, 3), (1, 4), (1, 5), (2, 3), (3, 2), (0, 1))
SIZE_NUMBERS = 6  # per axis: num, den, add (den 0: no rule)


def size_rule(shapes: Sequence[tuple[tuple[int, int], tuple[int, int]]]) -> np.ndarray | None:
    """[SIZE_NUMBERS] float32 (num, den, add of rows, then of columns) of the simplest `_RATIOS` rule every
    (input shape, output shape) fits, or None where an axis has none."""
    found = []
    for axis in (0, 1):
        pairs = [(i[axis], o[axis]) for i, o in shapes]
        fits = []
        for index, (num, den) in enumerate(_RATIOS):
            add = den * pairs[0][1] - num * pairs[0][0]
            if all(den * o == num * i + add for i, o in pairs):
                fits.append((add != 0, index, (num, den, add)))
        if not fits:
            return None
        found.extend(min(fits)[2])
    return np.array(found, dtype=np.float32)


def apply_size(rule: np.ndarray, shape: tuple[int, int]) -> tuple[int, int] | None:
    """The output shape `rule` (size_rule's numbers) gives an input of `shape`, or None where it gives no whole
    size in 1..30."""
    out = []
    for axis in (0, 1):
        num, den, add = (int(v) for v in rule[3 * axis : 3 * axis + 3])
        if den <= 0 or (num * shape[axis] + add) % den:
            return None
        side = (num * shape[axis] + add) // den
        if not 1 <= side <= 30:
            return None
        out.append(side)
    return out[0], out[1]


def canvas_keys(grid: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """grid [h, w] -> [CANVAS_KINDS, H, W] int64: each output cell's description of each kind (CANVAS_KIND_NAMES):
    the input colour(s) it reads (two as 16 a + b, a block's as a bitmask), UNDEFINED where a source lies off the
    input. Not yet salted or hashed (induced_rules does that with its own kinds')."""
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
        tl, colour(r, right), colour(low, c), colour(low, right),
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
