"""Final-step deduction: a cheap last layer fitted on the demos that turns a state into the outputs.

Enumerating every recolouring or tile layout as primitives would multiply the search; instead, for each
state the search reaches, `fit_finals` reads off the demos whether the outputs are the state itself,
the state under one consistent value -> colour map (marks and labels included), a tiling of the
state's D8 views, rays of each colour in its own directions (`finals_rays`), or its cells between
separator lines filled with views of its cells (`finals_cells`).
A fitted final must apply to every test state, or it is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from arc_efe.search.finals_cells import cells_final
from arc_efe.search.finals_rays import rays_final
from arc_efe.search.finals_stamp import STAMP_LENGTH, no_check, stamp_finals
from arc_efe.search.grids import BG, bbox
from arc_efe.search.prims_geometry import VIEWS

_SHAPE_KEEPING = ("id", "rot180", "flip_lr", "flip_ud")
MAX_TILES = 5
CROP_LENGTH = 2  # a crop final counts as two steps: it fits more states by chance than a colour map does


@dataclass(frozen=True)
class Final:
    """A fitted last step: its text, its cost in program length, and how to apply it to one state grid."""

    text: str
    length: int
    apply: Callable[[np.ndarray], np.ndarray | None]


IDENTITY = Final("", 0, lambda g: g)


def _coarse(values: np.ndarray) -> np.ndarray:
    """Labels without their colour: value c + 10 * (1 + l) becomes 10 + (1 + l), colours stay."""
    values = values.astype(np.int64)
    return np.where(values < 10, values, 10 + values // 10)


def _fit_table(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray], coarse: bool,
               start: np.ndarray | None = None) -> np.ndarray | None:
    """The value -> colour table every demo agrees on (and `start`, when given, a table to extend: it is
    not changed); None when some value needs two colours."""
    table = np.full(256, -1, dtype=np.int64) if start is None else start.copy()
    for state, output in zip(states, outputs):  # demo by demo: most states fail on the first
        keys = _coarse(state.ravel()) if coarse else state.ravel()
        targets = output.ravel()
        known = table[keys]
        if ((known >= 0) & (known != targets)).any():
            return None
        table[keys] = targets
        if not np.array_equal(table[keys], targets):
            return None
    return table


_OWN = -2  # a coarse table's entry for a label whose cells keep their own colour, whatever it is


def _fit_own_table(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> np.ndarray | None:
    """Where no coarse table fits: one whose labels each take one colour or keep their cells' own colours
    (colour = value % 10), so a rule such as 'the largest becomes 8, the others stay as they are' holds
    for colours the demos never showed. None when no label keeps its colours (the coarse table's case)."""
    table = np.full(256, -1, dtype=np.int64)
    constant = np.ones(256, dtype=bool)
    own = np.ones(256, dtype=bool)
    for state, output in zip(states, outputs):  # demo by demo: most states fail on the first
        keys, values = _coarse(state.ravel()), state.ravel()
        targets = output.ravel().astype(np.int64)
        new = table[keys] < 0
        table[keys[new]] = targets[new]
        constant[keys[table[keys] != targets]] = False
        own[keys[values % 10 != targets]] = False
        if not (constant | own)[keys].all():
            return None
    keeping = (table >= 0) & ~constant
    if not keeping.any():
        return None
    table[keeping] = _OWN
    return table


def _map_text(table: np.ndarray, coarse: bool) -> str:
    pairs = [f"{k}>{'own' if v == _OWN else v}" for k, v in enumerate(table) if v == _OWN or 0 <= v != k]
    return ("recolour_by_label{" if coarse else "recolour{") + ",".join(pairs) + "}"


def _map_final(table: np.ndarray, coarse: bool) -> Final:
    # An unseen colour is kept as it is only where the demos kept some colour: a map that changed every
    # colour it saw (a 1 x 1 answer picked by colour, say) has no reason to leave a new one alone. Nor does
    # one that kept only background and changed two colours or more (each demo's shape recoloured by a
    # lookup of that demo's colours): one colour changed is a rule, several all changed a table.
    colours = np.flatnonzero(table[:10] >= 0)
    kept = colours[table[colours] == colours]
    keeps = bool((kept != BG).any()) or (kept.size > 0 and colours.size <= 2)

    def apply(grid: np.ndarray) -> np.ndarray | None:
        keys = grid.astype(np.int64)
        if coarse:
            keys = _coarse(keys)
        out = table[keys]
        if coarse:
            out = np.where(out == _OWN, grid % 10, out)
        unseen = out < 0
        if unseen.any():
            if (keys[unseen] >= 10).any() or not keeps:  # a mark or label the demos never coloured
                return None
            out = np.where(unseen, keys, out)
        return out.astype(np.uint8)
    return Final(_map_text(table, coarse), 1, apply)


def _colour_finals(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> list[Final]:
    if all(np.array_equal(s, o) for s, o in zip(states, outputs)):
        return [IDENTITY]
    finals = []
    labelled = max(int(s.max()) for s in states) >= 10
    for coarse in (False, True) if labelled else (False,):  # without labels the coarse map is the same map
        table = _fit_table(states, outputs, coarse)
        if table is None and coarse:
            table = _fit_own_table(states, outputs)
        if table is not None and not _looked_up(states, table):
            finals.append(_map_final(table, coarse))
    return finals


def _looked_up(states: Sequence[np.ndarray], table: np.ndarray) -> bool:
    """One-cell states recoloured by a table that changed every colour it saw: a lookup of the demos'
    answers (one per demo), not a rule. Marks and labels may still be coloured."""
    if not all(s.size == 1 for s in states):
        return False
    colours = np.flatnonzero(table[:10] >= 0)
    return colours.size > 0 and not bool((table[colours] == colours).any())


def _line_colours(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray], axis: int,
                  covered: Sequence[np.ndarray] | None) -> set[int] | None:
    """The colours whose every cell's row (axis 1) or column (axis 0) is that colour in the output, away from
    the `covered` cells (lines painted over them later); None when a colour fits on some demos only."""
    fits_all: dict[int, bool] = {}
    for k, (state, output) in enumerate(zip(states, outputs)):
        for colour in np.unique(state):
            if colour == BG or colour >= 10:
                continue
            lines = np.flatnonzero((state == colour).any(axis=axis))
            part = output[lines] if axis == 1 else output[:, lines]
            free = np.ones_like(part, dtype=bool) if covered is None else ~(
                covered[k][lines] if axis == 1 else covered[k][:, lines])
            ok = bool((part == colour)[free].all())
            if fits_all.setdefault(int(colour), ok) != ok:
                return None
    return {c for c, ok in fits_all.items() if ok}


_FULL_LINES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _full_lines(output: np.ndarray, axis: int) -> np.ndarray:
    """Per row (axis 1) or column (axis 0) of the output: its colour where it is one full non-background
    line, else -1. Cached by the output array (the search fits the same demo outputs many times)."""
    cached = _FULL_LINES.get(id(output))
    if cached is None or cached[0] is not output:
        if len(_FULL_LINES) >= 64:
            _FULL_LINES.clear()
        rows = np.where((output == output[:, :1]).all(1) & (output[:, 0] != BG), output[:, 0], -1)
        cols = np.where((output == output[:1]).all(0) & (output[0] != BG), output[0], -1)
        cached = _FULL_LINES[id(output)] = (output, rows, cols)
    return cached[2] if axis == 0 else cached[1]


def _may_draw_lines(state: np.ndarray, output: np.ndarray, axis: int) -> bool:
    """Whether some colour's every row (axis 1) or column (axis 0) is a full line of it in the output: the
    cheap test that most states fail before `_line_colours` looks closer."""
    full = _full_lines(output, axis)
    if (full < 0).all():
        return False
    if axis == 0:
        state = state.T
    plain = (state != BG) & (state < 10)
    present = np.bincount(state[plain], minlength=10)
    missed = np.bincount(state[plain & (full[:, None] != state)], minlength=10)
    return bool(((present > 0) & (missed == 0)).any())


def _paint_lines(grid: np.ndarray, colours: set[int], axis: int, base: np.ndarray) -> np.ndarray:
    out = base.copy()
    for colour in sorted(colours):
        lines = (grid == colour).any(axis=axis)
        if axis == 1:
            out[lines] = colour
        else:
            out[:, lines] = colour
    return out


def _lines_final(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> Final | None:
    """Each colour draws full lines through its cells: some colours rows, some columns, one direction
    painted over the other, which colours do what read off the demos (a colour the demos never showed
    draws nothing)."""
    for top in (1, 0):  # rows painted last, then columns painted last
        if not _may_draw_lines(states[0], outputs[0], top):
            continue
        last = _line_colours(states, outputs, top, None)
        if not last:
            continue
        covered = [_paint_lines(s, last, top, np.zeros(s.shape, dtype=np.uint8)) != BG for s in states]
        under = _line_colours(states, outputs, 1 - top, covered)
        if under is None:
            continue
        under -= last

        def apply(grid: np.ndarray, last=last, under=under, top=top) -> np.ndarray:
            return _paint_lines(grid, last, top, _paint_lines(grid, under, 1 - top, grid))
        if all(np.array_equal(apply(s), o) for s, o in zip(states, outputs)):
            names = ("columns", "rows")
            text = f"lines{{{names[1 - top]}:{''.join(map(str, sorted(under)))};{names[top]}:" \
                   f"{''.join(map(str, sorted(last)))}}}"
            return Final(text, 1, apply)
    return None


def _tile_counts(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> tuple[int, int] | None:
    counts = set()
    for s, o in zip(states, outputs):
        (h, w), (oh, ow) = s.shape, o.shape
        if oh % h or ow % w:
            return None
        counts.add((oh // h, ow // w))
    if len(counts) != 1:
        return None
    rows, cols = counts.pop()
    return (rows, cols) if (rows, cols) != (1, 1) and rows <= MAX_TILES and cols <= MAX_TILES else None


def _block(output: np.ndarray, shape: tuple[int, int], i: int, j: int) -> np.ndarray:
    return output[i * shape[0]:(i + 1) * shape[0], j * shape[1]:(j + 1) * shape[1]]


def _tile_layout(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray], counts: tuple[int, int],
                 names: list[str], mapped: bool) -> tuple[list[str], np.ndarray | None] | None:
    """Each block's D8 view, first match in `names` order; `mapped`: the views under one colour map that
    every block of every demo agrees on (the first view that keeps the map consistent, block by block)."""
    layout, table = [], None
    for i in range(counts[0]):
        for j in range(counts[1]):
            for name in names:
                if not mapped:  # demo by demo: most views fail on the first
                    if all(np.array_equal(_block(o, s.shape, i, j), VIEWS[name](s)) for s, o in zip(states, outputs)):
                        break
                    continue
                views = [VIEWS[name](s) for s in states]
                blocks = [_block(o, s.shape, i, j) for s, o in zip(states, outputs)]
                grown = _fit_table(views, blocks, False, table)
                if grown is not None:
                    table = grown
                    break
            else:
                return None
            layout.append(name)
    return layout, table


def _tile_final(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> Final | None:
    """Outputs made of rows x cols blocks, each block one fixed D8 view of the state; failing that, of the
    state under one colour map (a recoloured state tiled)."""
    counts = _tile_counts(states, outputs)
    if counts is None:
        return None
    square = all(s.shape[0] == s.shape[1] for s in states)
    names = list(VIEWS) if square else list(_SHAPE_KEEPING)
    found = (_tile_layout(states, outputs, counts, names, False)
             or _tile_layout(states, outputs, counts, ["id"], True))  # mapped: plain copies only (cheap)
    if found is None:
        return None
    layout, table = found
    colour = None if table is None else _map_final(table, False)
    needs_square = any(name not in _SHAPE_KEEPING for name in layout)

    def apply(grid: np.ndarray) -> np.ndarray | None:
        if needs_square and grid.shape[0] != grid.shape[1]:
            return None
        if grid.shape[0] * counts[0] > 30 or grid.shape[1] * counts[1] > 30:
            return None
        if colour is not None:
            grid = colour.apply(grid)
            if grid is None:
                return None
        blocks = [VIEWS[name](grid) for name in layout]
        rows = [np.hstack(blocks[r * counts[1]:(r + 1) * counts[1]]) for r in range(counts[0])]
        return np.vstack(rows)
    text = f"tile{counts[0]}x{counts[1]}[{','.join(layout)}]"
    if colour is None:
        return Final(text, 1, apply)
    return Final(f"{colour.text} | {text}", 1 + colour.length, apply)


def _then(first_text: str, crop: Callable[[np.ndarray], np.ndarray | None], colour: Final) -> Final:
    """A crop followed by a fitted colour final, as one final."""
    def apply(grid: np.ndarray) -> np.ndarray | None:
        cropped = crop(grid)
        return None if cropped is None else colour.apply(cropped)
    return Final(" | ".join(t for t in (first_text, colour.text) if t), CROP_LENGTH + colour.length, apply)


def _anchored(anchor: str, oh: int, ow: int) -> Callable[[np.ndarray], np.ndarray | None]:
    def crop(grid: np.ndarray) -> np.ndarray | None:
        h, w = grid.shape
        if h < oh or w < ow or anchor == "centre" and ((h - oh) % 2 or (w - ow) % 2):
            return None
        top = {"top_left": 0, "top_right": 0, "bottom_left": h - oh, "bottom_right": h - oh}.get(anchor, (h - oh) // 2)
        left = {"top_left": 0, "bottom_left": 0, "top_right": w - ow, "bottom_right": w - ow}.get(anchor, (w - ow) // 2)
        return grid[top:top + oh, left:left + ow]
    return crop


def _content(grid: np.ndarray) -> np.ndarray | None:
    """The box of the non-background cells."""
    box = bbox(grid != BG)
    return None if box is None else grid[box[0]:box[1], box[2]:box[3]]


def _crop_finals(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> list[Final]:
    """Crops that leave each demo state the shape of its output: a fixed corner or the centre when every
    output has one shape (the window must then be the output itself), or the box of the content followed
    by a colour final."""
    crops: list[tuple[str, Callable]] = []
    shapes = {o.shape for o in outputs}
    if len(shapes) == 1:
        oh, ow = shapes.pop()
        crops += [(f"crop_{a}_{oh}x{ow}", _anchored(a, oh, ow)) for a in _ANCHORS]
    crops.append(("crop_content", _content))
    for text, crop in crops:
        mapped = text.startswith("crop_content")  # a fixed window and a free colour map would fit too much
        cropped = []
        for state, output in zip(states, outputs):  # demo by demo: most crops fail on the first
            c = crop(state)
            if c is None or c.shape != output.shape or not mapped and c.tobytes() != output.tobytes():
                break
            cropped.append(c)
        else:
            finals = [_then(text, crop, colour) for colour in _colour_finals(cropped, outputs)]
            if finals:
                return finals  # the first crop that fits: the others would mostly repeat its predictions
    return []


_ANCHORS = ("top_left", "top_right", "bottom_left", "bottom_right", "centre")


def can_crop(state: np.ndarray, output: np.ndarray) -> bool:
    return state.shape[0] >= output.shape[0] and state.shape[1] >= output.shape[1]


def feasible(state: np.ndarray, output: np.ndarray, crop: bool = False) -> bool:
    """Whether any final could turn a state of this shape into an output of that shape (`crop`: crop
    finals are tried too, so any state at least as large as the output)."""
    (h, w), (oh, ow) = state.shape, output.shape
    return ((h, w) == (oh, ow) or (oh % h == 0 and ow % w == 0 and oh // h <= MAX_TILES and ow // w <= MAX_TILES)
            or crop and h >= oh and w >= ow)


def fit_finals(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray], crop: bool = False,
               stamps: bool = False, check: Callable[[], None] = no_check) -> list[Final]:
    """Every final step that maps each demo state onto its demo output, cheapest first (`crop`: crop
    finals too, where the states are larger than the outputs; `stamps`: stamp finals too, where nothing
    cheaper fits: they cost more to fit than the rest together; `check()`, the caller's clock, is called
    between stamp tables and may raise)."""
    if all(s.shape == o.shape for s, o in zip(states, outputs)):
        finals = _colour_finals(states, outputs)
        lines = None if finals else _lines_final(states, outputs)
        if lines is not None:
            return [lines]
        rays = None if finals else rays_final(states, outputs)
        if rays is not None:
            return [Final(rays[0], 1, rays[1])]
        cells = None if finals else cells_final(states, outputs)
        if cells is not None:
            return [Final(cells[0], 1, cells[1])]
        if finals or not stamps:
            return finals
        return [Final(text, STAMP_LENGTH, apply) for text, apply in stamp_finals(states, outputs, check)]
    tiled = _tile_final(states, outputs)
    if tiled is not None:
        return [tiled]
    if crop and all(can_crop(s, o) for s, o in zip(states, outputs)):
        return _crop_finals(states, outputs)
    return []
