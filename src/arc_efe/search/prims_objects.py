"""GRID -> OBJECTS extractors and OBJECTS -> GRID consumers: select and crop one object, keep or drop
objects on the canvas, label objects by a property, and combine same-shaped pieces cell by cell.

A selector needs a unique winner: a tie returns None rather than an arbitrary pick, which keeps spurious
programs from fitting the demos by luck.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from arc_efe.search.dsl import GRID, OBJECTS, Primitive
from arc_efe.search.grids import BG, MARK, bbox, label_value
from arc_efe.search.objects import (Obj, ObjectSet, background_regions, colour_layers, components, equal_parts,
                                   grid_cells)


def _nonempty(found: ObjectSet | None) -> ObjectSet | None:
    return found if found is not None and found.objects else None


def quadrants(grid: np.ndarray) -> ObjectSet | None:
    """The four equal quadrants (a centre line of odd-sized grids left out)."""
    h, w = grid.shape
    if h < 2 or w < 2:
        return None
    rows = [(0, h // 2), ((h + 1) // 2, h)]
    cols = [(0, w // 2), ((w + 1) // 2, w)]
    objs = [Obj.make(top, left, np.ascontiguousarray(grid[top:bottom, left:right]),
                     np.ones((bottom - top, right - left), dtype=bool)) for top, bottom in rows for left, right in cols]
    return ObjectSet(grid, tuple(objs))


EXTRACTORS = {
    "objects_4": lambda g: _nonempty(components(g, False, True)),
    "objects_8": lambda g: _nonempty(components(g, True, True)),
    "objects_4_multi": lambda g: _nonempty(components(g, False, False)),
    "objects_8_multi": lambda g: _nonempty(components(g, True, False)),
    "colour_layers": lambda g: _nonempty(colour_layers(g)),
    "regions_4": lambda g: _nonempty(background_regions(g)),
    "grid_cells": lambda g: _nonempty(grid_cells(g)),
    "parts_lr_2": lambda g: equal_parts(g, 2, 1), "parts_tb_2": lambda g: equal_parts(g, 2, 0),
    "parts_lr_3": lambda g: equal_parts(g, 3, 1), "parts_tb_3": lambda g: equal_parts(g, 3, 0),
    "quadrants": quadrants,
}


def _has_hole(o: Obj) -> bool:
    if min(o.shape) < 3:
        return False
    return bool((ndimage.binary_fill_holes(o.mask) & ~o.mask).any())


def _hole_cells(o: Obj) -> int:
    """Cells inside the object's outline that are not its own (background, or specks of other colours)."""
    if min(o.shape) < 3:
        return 0
    return int((ndimage.binary_fill_holes(o.mask) & ~o.mask).sum())


def _symmetric(o: Obj) -> bool:
    return bool(np.array_equal(o.patch, o.patch[:, ::-1]))


def _unique_by(objs: tuple[Obj, ...], key: Callable[[Obj], object]) -> Obj | None:
    """The one object whose key no other object shares."""
    keys = [key(o) for o in objs]
    counts = Counter(keys)
    lonely = [o for o, k in zip(objs, keys) if counts[k] == 1]
    return lonely[0] if len(lonely) == 1 and len(objs) > 1 else None


def _is_frame(o: Obj) -> bool:
    """The object covers the whole border of its box (a rectangle outline, 3 x 3 or more)."""
    m = o.mask
    return min(m.shape) >= 3 and bool(m[0].all() and m[-1].all() and m[:, 0].all() and m[:, -1].all())


def _largest_frame(s: ObjectSet) -> Obj | None:
    frames = tuple(o for o in s.objects if _is_frame(o))
    return _argmax(frames, _area) if frames else None


def _argmax(objs: tuple[Obj, ...], score: Callable[[Obj], float]) -> Obj | None:
    scores = [score(o) for o in objs]
    best = max(scores)
    winners = [o for o, s in zip(objs, scores) if s == best]
    return winners[0] if len(winners) == 1 else None


def _area(o: Obj) -> int:
    return o.patch.shape[0] * o.patch.shape[1]


_PICKS: dict[str, Callable[[ObjectSet], Obj | None]] = {
    "largest": lambda s: _argmax(s.objects, lambda o: o.size),
    "smallest": lambda s: _argmax(s.objects, lambda o: -o.size),
    "largest_box": lambda s: _argmax(s.objects, _area),
    "smallest_box": lambda s: _argmax(s.objects, lambda o: -_area(o)),
    "most_colours": lambda s: _argmax(s.objects, lambda o: o.n_colours),
    "densest": lambda s: _argmax(s.objects, lambda o: o.size / _area(o)),
    "sparsest": lambda s: _argmax(s.objects, lambda o: -o.size / _area(o)),
    "topmost": lambda s: _argmax(s.objects, lambda o: -o.top),
    "bottommost": lambda s: _argmax(s.objects, lambda o: o.top + o.shape[0]),
    "leftmost": lambda s: _argmax(s.objects, lambda o: -o.left),
    "rightmost": lambda s: _argmax(s.objects, lambda o: o.left + o.shape[1]),
    "unique_colour": lambda s: _unique_by(s.objects, lambda o: o.colour),
    "unique_shape": lambda s: _unique_by(s.objects, Obj.shape_key),
    "unique_patch": lambda s: _unique_by(s.objects, lambda o: o.patch.tobytes() + bytes(o.shape)),
    "unique_size": lambda s: _unique_by(s.objects, lambda o: o.size),
    "inner": lambda s: _unique_by(s.objects, lambda o: o.touches_border(s.grid.shape)),
    "holed": lambda s: _unique_by(s.objects, _has_hole),
    "symmetric": lambda s: _unique_by(s.objects, _symmetric),
    "diagonal_symmetric": lambda s: _unique_by(s.objects, lambda o: o.shape[0] == o.shape[1]
                                               and bool(np.array_equal(o.patch, o.patch.T))),
    "most_second_colour": lambda s: _argmax(s.objects, lambda o: o.size - int((o.patch[o.mask] == o.colour).sum())),
    "most_holes": lambda s: _argmax(s.objects, _hole_cells),
}


def select(pick: Callable[[ObjectSet], Obj | None]):
    """The chosen object's own patch (cropped to its box)."""
    def op(found: ObjectSet) -> np.ndarray | None:
        chosen = pick(found)
        return None if chosen is None else chosen.patch
    return op


def colour_of(pick: Callable[[ObjectSet], Obj | None]):
    """The chosen object's main colour as a 1 x 1 grid (which region holds the odd ones out, say)."""
    def op(found: ObjectSet) -> np.ndarray | None:
        chosen = pick(found)
        return None if chosen is None else np.full((1, 1), chosen.colour, dtype=np.uint8)
    return op


def box(pick: Callable[[ObjectSet], Obj | None], margin: int):
    """The source grid inside the chosen object's bounding box, everything in it kept (`margin` 1: the box's
    own frame cut off, the inside of a frame)."""
    def op(found: ObjectSet) -> np.ndarray | None:
        chosen = pick(found)
        if chosen is None:
            return None
        h, w = chosen.shape
        if h <= 2 * margin or w <= 2 * margin:
            return None
        top, left = chosen.top + margin, chosen.left + margin
        return found.grid[top:top + h - 2 * margin, left:left + w - 2 * margin]
    return op


def _paint(found: ObjectSet, objs, base: np.ndarray | None = None) -> np.ndarray:
    out = np.full_like(found.grid, BG) if base is None else base.copy()
    for o in objs:
        h, w = o.shape
        window = out[o.top:o.top + h, o.left:o.left + w]
        window[o.mask] = o.patch[o.mask]
    return out


def keep(pick: Callable[[ObjectSet], Obj | None], drop: bool):
    """The canvas with only the chosen object (`drop`: with every object but it)."""
    def op(found: ObjectSet) -> np.ndarray | None:
        chosen = pick(found)
        if chosen is None:
            return None
        return _paint(found, [o for o in found.objects if (o is chosen) != drop])
    return op


def _size_rank(found: ObjectSet, descending: bool) -> list[int]:
    sizes = sorted({o.size for o in found.objects}, reverse=descending)
    return [sizes.index(o.size) for o in found.objects]


def _size_extremes(found: ObjectSet) -> list[int]:
    """1 for the largest objects, 2 for the smallest, 0 for the others (a tallest and a shortest bar)."""
    sizes = [o.size for o in found.objects]
    big, small = max(sizes), min(sizes)
    return [1 if size == big else 2 if size == small else 0 for size in sizes]


def _shape_counts(found: ObjectSet) -> list[int]:
    counts = Counter(o.shape_key() for o in found.objects)
    return [counts[o.shape_key()] for o in found.objects]


_LABELS: dict[str, Callable[[ObjectSet], list[int]]] = {
    "size_rank": lambda s: _size_rank(s, descending=True),
    "size_rank_up": lambda s: _size_rank(s, descending=False),
    "size": lambda s: [o.size for o in s.objects],
    "height": lambda s: [o.shape[0] for o in s.objects],
    "width": lambda s: [o.shape[1] for o in s.objects],
    "border": lambda s: [int(o.touches_border(s.grid.shape)) for o in s.objects],
    "shape_count": _shape_counts,
    "holes": lambda s: [int(_has_hole(o)) for o in s.objects],
    "is_largest": lambda s: [int(r == 0) for r in _size_rank(s, descending=True)],
    "is_smallest": lambda s: [int(r == 0) for r in _size_rank(s, descending=False)],
    "size_extremes": _size_extremes,
    "rectangle": lambda s: [int(o.size == _area(o)) for o in s.objects],
    "square": lambda s: [int(o.size == _area(o) and o.shape[0] == o.shape[1]) for o in s.objects],
    "symmetric": lambda s: [int(_symmetric(o)) for o in s.objects],
    "index": lambda s: list(range(len(s.objects))),
}


def label(rule: Callable[[ObjectSet], list[int]]):
    """Every object's cells rewritten as colour + 10 * (1 + label): the final colour map decides."""
    def op(found: ObjectSet) -> np.ndarray | None:
        out = found.grid.copy()
        for o, value in zip(found.objects, rule(found)):
            h, w = o.shape
            window = out[o.top:o.top + h, o.left:o.left + w]
            window[o.mask] = label_value(o.patch[o.mask], value)
        return out
    return op


def label_lower_half(found: ObjectSet) -> np.ndarray | None:
    """Each object's lower half (its bottom h // 2 rows) labelled 1, the rest 0: bars cut at half height."""
    out = found.grid.copy()
    for o in found.objects:
        h, w = o.shape
        lower = np.zeros(o.mask.shape, dtype=np.int64)
        lower[h - h // 2:] = 1
        window = out[o.top:o.top + h, o.left:o.left + w]
        window[o.mask] = label_value(o.patch[o.mask], 0) + 10 * lower[o.mask]
    return out


def label_cell_parity(found: ObjectSet) -> np.ndarray | None:
    """Each object's cells labelled by the parity of their row and column inside its box (2 * row % 2 + column
    % 2, counted from its top-left cell): every other cell of a line or a bar, whatever the bar's place."""
    out = found.grid.copy()
    for o in found.objects:
        h, w = o.shape
        rows, cols = np.indices((h, w))
        window = out[o.top:o.top + h, o.left:o.left + w]
        window[o.mask] = label_value(o.patch[o.mask], 0) + 10 * (2 * (rows % 2) + cols % 2)[o.mask]
    return out


def _same_shape_patches(found: ObjectSet) -> list[np.ndarray] | None:
    patches = [o.patch for o in found.objects]
    if len(patches) < 2 or any(p.shape != patches[0].shape for p in patches):
        return None
    return patches


def combine(rule: str):
    """Cell-wise AND / OR / XOR (mark where true), overlay or majority over equal-shaped pieces."""
    def op(found: ObjectSet) -> np.ndarray | None:
        patches = _same_shape_patches(found)
        if patches is None:
            return None
        masks = np.stack([p != BG for p in patches])
        if rule in ("and", "or", "xor"):
            hit = {"and": masks.all(0), "or": masks.any(0), "xor": masks.sum(0) == 1}[rule]
            return np.where(hit, MARK, BG).astype(np.uint8)
        if rule == "overlay":
            out = patches[-1].copy()
            for p in patches[-2::-1]:
                out = np.where(p != BG, p, out)
            return out
        stack = np.stack(patches).reshape(len(patches), -1)
        votes = np.apply_along_axis(lambda col: np.bincount(col, minlength=256).argmax(), 0, stack)
        return votes.reshape(patches[0].shape).astype(np.uint8)
    return op


def pieces_code(found: ObjectSet) -> np.ndarray | None:
    """Equal-shaped pieces (at most 4) stacked: each cell gets the mark 10 + the bitmask of the pieces that
    are coloured there, so the final colour map learns any cell-wise rule, a priority overlay included."""
    patches = _same_shape_patches(found)
    if patches is None or len(patches) > 4:
        return None
    code = sum((p != BG).astype(np.uint8) << k for k, p in enumerate(patches))
    return (MARK + code).astype(np.uint8)


def _layout(found: ObjectSet, value) -> np.ndarray | None:
    """Pieces that sit in a full grid of rows and columns (cells, parts) as a small grid of `value(piece)`."""
    tops = sorted({o.top for o in found.objects})
    lefts = sorted({o.left for o in found.objects})
    if len(tops) * len(lefts) != len(found.objects):
        return None
    out = np.zeros((len(tops), len(lefts)), dtype=np.uint8)
    for o in found.objects:
        out[tops.index(o.top), lefts.index(o.left)] = value(o)
    return out


def _main_colour(o) -> int:
    colours = np.bincount(o.patch[o.mask], minlength=256)
    colours[BG] = 0
    return int(np.argmax(colours)) if colours.any() else BG


def layout_colours(found: ObjectSet) -> np.ndarray | None:
    """A pieces-in-a-grid layout (cells, parts) as a small grid: each piece becomes its main colour."""
    return _layout(found, _main_colour)


def layout_counts(found: ObjectSet) -> np.ndarray | None:
    """A pieces-in-a-grid layout as a small grid of marks: each piece becomes MARK + the number of its
    coloured cells (9 at most), for the final colour map (the cells holding exactly two dots, say)."""
    return _layout(found, lambda o: MARK + min(int(np.count_nonzero(o.patch[o.mask] != BG)), 9))


def fill_boxes(found: ObjectSet) -> np.ndarray | None:
    """Mark the background inside each object's bounding box."""
    out = found.grid.copy()
    for o in found.objects:
        h, w = o.shape
        window = out[o.top:o.top + h, o.left:o.left + w]
        window[window == BG] = MARK
    return out


def crop_all(found: ObjectSet) -> np.ndarray | None:
    """The bounding box of all the objects together."""
    mask = _paint(found, found.objects) != BG
    box = bbox(mask)
    return None if box is None else found.grid[box[0]:box[1], box[2]:box[3]]


_COLOURS_OF = ("largest", "smallest", "holed", "most_holes")
_KEEPS = ("largest", "smallest", "inner", "unique_colour", "unique_shape")
_BOXES = ("largest", "largest_box", "unique_colour", "most_colours")
_INSIDES = {"largest": _PICKS["largest"], "largest_box": _PICKS["largest_box"], "largest_frame": _largest_frame}

PRIMITIVES = (
    [Primitive(name, fn, GRID, OBJECTS, "objects of each input") for name, fn in EXTRACTORS.items()]
    + [Primitive(f"select_{name}", select(pick), OBJECTS, GRID, "crop one object") for name, pick in _PICKS.items()]
    + [Primitive(f"box_{name}", box(_PICKS[name], 0), OBJECTS, GRID, "crop the grid to one object's box")
       for name in _BOXES]
    + [Primitive(f"inside_{name}", box(pick, 1), OBJECTS, GRID, "the inside of one frame")
       for name, pick in _INSIDES.items()]
    + [Primitive(f"keep_{name}", keep(_PICKS[name], False), OBJECTS, GRID, "", True) for name in _KEEPS]
    + [Primitive(f"drop_{name}", keep(_PICKS[name], True), OBJECTS, GRID, "", True) for name in _KEEPS]
    + [Primitive(f"label_{name}", label(rule), OBJECTS, GRID, "for a colour map", True)
       for name, rule in _LABELS.items()]
    + [Primitive("label_lower_half", label_lower_half, OBJECTS, GRID, "for a colour map", True),
       Primitive("label_cell_parity", label_cell_parity, OBJECTS, GRID, "for a colour map", True)]
    + [Primitive(f"pieces_{rule}", combine(rule), OBJECTS, GRID) for rule in ("and", "or", "xor", "overlay", "vote")]
    + [Primitive("pieces_code", pieces_code, OBJECTS, GRID, "for a colour map")]
    + [Primitive("fill_boxes", fill_boxes, OBJECTS, GRID, "", True), Primitive("crop_all", crop_all, OBJECTS, GRID),
       Primitive("layout_colours", layout_colours, OBJECTS, GRID),
       Primitive("layout_counts", layout_counts, OBJECTS, GRID, "for a colour map")]
)
# Last in the enumeration (see registry): one-cell states can be tiled to any small output, so early in the
# order they would take the staged search's first slots from likelier programs.
LATE = [Primitive(f"colour_of_{name}", colour_of(_PICKS[name]), OBJECTS, GRID, "one object's colour, 1 x 1")
        for name in _COLOURS_OF]
