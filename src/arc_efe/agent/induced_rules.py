"""Induced cell rules for the rule table (AgentConfig.rule_table_induced): which description of a cell the demos'
outputs are a function of, found per task, and what that function says about a query's cells.

The exact keys (exact_keys.py) describe a cell by its 3x3 neighbourhood only, so "recolour each object by its
size", "fill the enclosed background", "mark the largest bar" are not one key the demos state. Here each cell gets
KINDS integer descriptions (its colour with: its 3x3 or 5x5 window, its object's size, shape, holes, size rank or
border contact, its row, column or parity, the colours its row and column hold, its colour's frequency rank).
`induce` keeps the kinds the demos' outputs are a function of (no key of the kind maps to two output colours),
fewest distinct keys first (the most general rule), and `decide` applies them to a query as a chain: a cell takes
the first rule that has seen its key. Everything is numpy on the host: the keys are integers with no gradient.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from arc_efe.agent import canvas_rules
from arc_efe.agent.canvas_rules import CANVAS_KINDS, SIZE_NUMBERS, SOURCES
from arc_efe.data.augment import Augmentation
from arc_efe.data.grid import NUM_COLORS

# Connectivities of an object: one colour, side neighbours; one colour, any neighbour; any non-background colour,
# any neighbour (a multicoloured object).
_SIDE = ndimage.generate_binary_structure(2, 1)
_ANY = np.ones((3, 3), dtype=bool)
OBJECT_VIEWS = ("c4", "c8", "o8")
OBJECT_FEATURES = ("size", "shape", "holes", "rank", "touch", "size_touch")
KIND_NAMES = (
    "colour", "rel3", "abs3", "abs5",
    *(f"{view}_{feature}" for view in OBJECT_VIEWS for feature in OBJECT_FEATURES),
    "row", "col", "parity2", "parity3", "row_colours", "col_colours", "line_colours", "colour_rank",
)
KINDS = len(KIND_NAMES)
# With `views` (AgentConfig.rule_table_induced_views), also where a cell's colour may come from: the colour its D8
# image holds (arc_efe.data.augment's numbering 1..7), and the colour of each side neighbour, each with its own.
VIEW_KIND_NAMES = (*(f"d8_{k}" for k in range(1, 8)), "above", "below", "left", "right")
ALL_KINDS = KINDS + len(VIEW_KIND_NAMES)
# With `canvas` (AgentConfig.rule_table_induced_canvas), where demos change size: canvas_rules.py's descriptions of
# each output cell, numbered after every input-cell kind, then a "copy" kind per one-cell source (canvas_rules'
# first SOURCES kinds): the output is the source's colour, a rule with no keys. A task's rules are all input-cell or
# all canvas kinds.
CANVAS_BASE = ALL_KINDS
COPY_BASE = CANVAS_BASE + CANVAS_KINDS
# With `blind` (AgentConfig.rule_table_induced_blind): the kinds no renaming of colours changes (the relative 3x3
# key, the object keys, row, column, parities), keyed without the cell's colour (only whether it is background),
# whose rule may answer "the cell's own colour" (SAME) as well as a colour: "outline every object", "paint the
# border" then hold for colours no demo showed.
# Eight more kinds only blind keys have: the distance to the nearest border (BORDER_CAP or more as one), the row and
# column counted from the far side, whether a coloured cell touches the cell by a side and by a corner, whether it
# lies in a (o8) object's bounding box, nothing (background or not alone), how many c8 objects the grid holds, and
# how many side neighbours share the cell's colour (4: an object's interior).
BLIND_KIND_NAMES = ("rel3", *(f"{view}_{feature}" for view in OBJECT_VIEWS for feature in OBJECT_FEATURES),
                    "row", "col", "parity2", "parity3", "border_distance", "row_from_end", "col_from_end", "touches",
                    "in_box", "background", "object_count", "side_same")
# ... and per two-source canvas kind (halves overlaid, self-similar tiling) a "pair" kind keyed only by which of the
# two colours are background and whether they are equal, whose rule answers a colour, the first colour (FIRST) or
# the second (SECOND): an overlay or an AND of halves in colours no demo showed.
PAIR_KIND_NAMES = ("halves_rows", "halves_cols", "self_similar")
_PAIR_INDEX = [canvas_rules.CANVAS_KIND_NAMES.index(name) for name in PAIR_KIND_NAMES]
PAIR_BASE = COPY_BASE + SOURCES
FIRST, SECOND = NUM_COLORS, NUM_COLORS + 1
BLIND_BASE = PAIR_BASE + len(PAIR_KIND_NAMES)
BORDER_CAP = 2  # frames and insets are rings 0 and 1; a grid larger than the demos' has no new distances
SAME = NUM_COLORS  # a blind rule's answer: the cell keeps its colour
# ... and "copy" kinds, rules with no keys: the output is the colour of the grid's smallest period its coloured
# cells agree with, of the cell's D8 image, or (fill) the cell's own colour where coloured and else its image's.
# Then the grid moved by (dy, dx), |dy|, |dx| <= SHIFT, bringing in background or wrapping around.
SHIFT = 4
_SHIFTS = [(dy, dx) for dy in range(-SHIFT, SHIFT + 1) for dx in range(-SHIFT, SHIFT + 1) if dy or dx]
BLIND_COPY_NAMES = ("periodic", *(f"d8_{k}" for k in range(1, 8)), *(f"d8_{k}_fill" for k in range(1, 8)),
                    *(f"shift_{dy}_{dx}" for dy, dx in _SHIFTS), *(f"roll_{dy}_{dx}" for dy, dx in _SHIFTS))
BLIND_COPY_BASE = BLIND_BASE + len(BLIND_KIND_NAMES)
_SIDE_OFFSETS = ((-1, 0), (1, 0), (0, -1), (0, 1))
UNDEFINED = -1  # the key of every cell of a kind a grid lacks (a quarter turn of a non-square grid); no rule has it
_D8 = [Augmentation(k) for k in range(8)]
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_WEIGHTS = np.random.default_rng(20261205).integers(1, 2**62, size=25, dtype=np.int64)
MAX_SIDE = 32  # above ARC's 30: offsets and box sizes as base-32 digits
_OFFSET_WEIGHTS = np.random.default_rng(20261206).integers(1, 2**40, size=MAX_SIDE**2).astype(np.float64)
FINGERPRINT_BITS = 20


class Rule(NamedTuple):
    """One induced rule: key kind `kind`, its distinct demo keys (sorted) and the output colour of each, and the
    demo cells it was induced from."""

    kind: int
    keys: np.ndarray
    colours: np.ndarray
    cells: int


def cell_keys(grid: np.ndarray, views: bool = False) -> np.ndarray:
    """grid [H, W] -> [KINDS, H, W] int64 (with `views` [ALL_KINDS, H, W]): every cell's key of each kind
    (KIND_NAMES, then VIEW_KIND_NAMES). Each key includes the cell's colour, so a rule keyed on it never crosses
    colours it has not seen."""
    g = grid.astype(np.int64)
    keys = _cell_keys(g)
    return np.concatenate([keys, _view_keys(g)]) if views else keys


def _view_keys(g: np.ndarray) -> np.ndarray:
    """[len(VIEW_KIND_NAMES), H, W]: the colour of each cell's D8 image and of its side neighbours (off the grid
    its own value), salted with the kind and the cell's colour; UNDEFINED for a D8 image of another shape."""
    h, w = g.shape
    images = [_D8[k].apply(g) for k in range(1, 8)]
    padded = np.pad(g + 1, 1, constant_values=0)
    sides = [padded[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w] for dr, dc in _SIDE_OFFSETS]
    keys = np.stack([i + 1 if i.shape == g.shape else np.zeros_like(g) for i in images] + sides)
    salt = (np.arange(KINDS, ALL_KINDS)[:, None, None] + 1) * 16 + g
    mixed = _mix(keys ^ _mix(salt))
    mixed[[k for k, i in enumerate(images) if i.shape != g.shape]] = UNDEFINED
    return mixed


def _cell_keys(g: np.ndarray) -> np.ndarray:
    """`cell_keys` of the KIND_NAMES kinds."""
    structure = _structure(*_canonical(g))
    row_colours = np.bitwise_or.reduce(1 << g, axis=1)[:, None] + 0 * g
    col_colours = np.bitwise_or.reduce(1 << g, axis=0)[None, :] + 0 * g
    counts = np.bincount(g.ravel(), minlength=NUM_COLORS)
    rank = np.empty(NUM_COLORS, dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(NUM_COLORS)
    keys = [g, structure[0], _window(g, 1), _window(g, 2), *structure[1:],
            row_colours, col_colours, row_colours * 1024 + col_colours, rank[g]]
    salt = (np.arange(KINDS)[:, None, None] + 1) * 16 + g  # the kind and the cell's colour
    return _mix(np.stack(keys) ^ _mix(salt))


def blind_keys(grid: np.ndarray) -> np.ndarray:
    """grid [H, W] -> [len(BLIND_KIND_NAMES), H, W] int64: each cell's colour-free key of each blind kind (its
    structure key and whether it is background), salted with the kind."""
    g = grid.astype(np.int64)
    structure = np.concatenate([_structure(*_canonical(g)), _places(g)])
    salt = (np.arange(BLIND_BASE, BLIND_BASE + len(BLIND_KIND_NAMES))[:, None, None] + 1) * 16
    return _mix(_mix(structure * 2 + (g == 0)) ^ _mix(salt))


def copy_sources(grid: np.ndarray) -> np.ndarray:
    """grid [H, W] -> [len(BLIND_COPY_NAMES), H, W] int64: the colour each copy kind gives each cell, UNDEFINED
    where it gives none (a D8 image of another shape; a period cell no coloured cell shows)."""
    g = grid.astype(np.int64)
    images = [_D8[k].apply(g) for k in range(1, 8)]
    images = [i if i.shape == g.shape else np.full_like(g, UNDEFINED) for i in images]
    filled = [np.where((g != 0) | (i == UNDEFINED), np.where(i == UNDEFINED, UNDEFINED, g), i) for i in images]
    h, w = g.shape
    padded = np.pad(g, SHIFT)
    shifted = [padded[SHIFT - dy : SHIFT - dy + h, SHIFT - dx : SHIFT - dx + w] for dy, dx in _SHIFTS]
    rolled = [np.roll(g, (dy, dx), axis=(0, 1)) for dy, dx in _SHIFTS]
    return np.stack([_periodic(g), *images, *filled, *shifted, *rolled])


def _periodic(g: np.ndarray) -> np.ndarray:
    """[H, W]: each cell's colour in the smallest (rows x cols, by area) period the coloured cells agree with,
    UNDEFINED where no coloured cell shows that cell of the period (or no period short of the grid exists)."""
    h, w = g.shape
    rows, cols = np.nonzero(g)
    seen = g[rows, cols]
    for _, py, px in _PERIODS[h, w]:
        slot = (rows % py) * px + cols % px
        low = np.full(py * px, NUM_COLORS)
        high = np.full(py * px, -1)
        np.minimum.at(low, slot, seen)
        np.maximum.at(high, slot, seen)
        if (low[high >= 0] == high[high >= 0]).all():
            tile = np.where(high >= 0, high, UNDEFINED).reshape(py, px)
            return np.tile(tile, (h // py + 1, w // px + 1))[:h, :w]
    return np.full(g.shape, UNDEFINED, dtype=np.int64)


# Per grid shape, the periods `_periodic` tries, smallest first: each repeats at least twice along some axis.
_PERIODS = {(h, w): sorted((py * px, py, px) for py in [*range(1, h // 2 + 1), h] for px in [*range(1, w // 2 + 1), w]
                           if (py, px) != (h, w))
            for h in range(1, MAX_SIDE) for w in range(1, MAX_SIDE)}


def _places(g: np.ndarray) -> np.ndarray:
    """[8, H, W]: the blind kinds after the structure's (border distance, row and column from the far side, side /
    corner contact with a coloured cell, inside an o8 object's bounding box, nothing, the grid's c8 object count,
    same-coloured side neighbours)."""
    h, w = g.shape
    rows, cols = np.indices(g.shape)
    far_rows, far_cols = h - 1 - rows, w - 1 - cols
    border = np.minimum(np.minimum(np.minimum(rows, cols), np.minimum(far_rows, far_cols)), BORDER_CAP)
    coloured = np.pad(g != 0, 1)
    side = sum(coloured[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w] for dr, dc in _SIDE_OFFSETS)
    corner = sum(coloured[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w] for dr in (-1, 1) for dc in (-1, 1))
    boxed = np.zeros(g.shape, dtype=np.int64)
    for found in ndimage.find_objects(canvas_rules.object_labels(g, "o8")):
        boxed[found] = 1
    objects = int(canvas_rules.object_labels(g, "c8").max())
    own = np.pad(g, 1, constant_values=-1)
    same = sum(own[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w] == g for dr, dc in _SIDE_OFFSETS)
    return np.stack([border, far_rows, far_cols, (side > 0) * 2 + (corner > 0), boxed, 0 * g, 0 * g + objects, same])


def _canonical(g: np.ndarray) -> tuple[bytes, int, int]:
    """`g` with its non-background colours renamed 1, 2, ... in order of first appearance, as bytes, and its
    shape: the grids of one task in every colouring test-time training draws share it, and so their structure."""
    return _renaming([g])[g].astype(np.int8).tobytes(), *g.shape


@lru_cache(maxsize=4096)
def _structure(canonical: bytes, h: int, w: int) -> np.ndarray:
    """The kinds no renaming of non-background colours changes ([1 + 18 + 4, H, W]: the relative 3x3 key, the
    object keys, row, column and parities) of a `_canonical` grid; cached, read-only."""
    g = np.frombuffer(canonical, dtype=np.int8).reshape(h, w).astype(np.int64)
    rows, cols = np.indices((h, w))
    keys = [_relative3(g)]
    for view in OBJECT_VIEWS:
        keys.extend(_object_keys(g, view))
    keys.extend([rows, cols, (rows % 2) * 2 + cols % 2, (rows % 3) * 3 + cols % 3])
    out = np.stack(keys)
    out.flags.writeable = False
    return out


def _relative3(g: np.ndarray) -> np.ndarray:
    """Each 3x3 neighbour as off the grid / same colour / background / other, as exact_keys' relative key."""
    pad = np.pad(g, 1, constant_values=-1)
    h, w = g.shape
    key = np.zeros_like(g)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                n = pad[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]
                key = key * 4 + np.where(n < 0, 0, np.where(n == g, 1, np.where(n == 0, 2, 3)))
    return key


def _window(g: np.ndarray, radius: int) -> np.ndarray:
    """A hash of each cell's (2r+1)^2 window of colours, off the grid as its own value."""
    side = 2 * radius + 1
    windows = sliding_window_view(np.pad(g + 1, radius, constant_values=0), (side, side))
    return _mix((windows.reshape(*g.shape, side * side) * _WEIGHTS[: side * side]).sum(-1))


def _object_keys(g: np.ndarray, view: str) -> list[np.ndarray]:
    """OBJECT_FEATURES of each cell's object under `view` (OBJECT_VIEWS); background cells of the o8 view, which
    belong to no object, get zeros. Vectorised over objects: test-time training computes these every update."""
    labels = _labels(g, view)
    count = int(labels.max())
    h, w = g.shape
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    rows, cols = np.indices(g.shape)
    box = np.zeros((4, count + 1), dtype=np.int64)  # top, bottom, left, right
    if count:
        index = np.arange(1, count + 1)
        for i, (coords, extreme) in enumerate(((rows, ndimage.minimum), (rows, ndimage.maximum),
                                               (cols, ndimage.minimum), (cols, ndimage.maximum))):
            box[i, 1:] = extreme(coords, labels, index)
    top, bottom, left, right = box
    # A shape is its cells' offsets from its box's corner: a sum of a random weight per offset (exact in float64).
    offsets = (rows - top[labels]) * MAX_SIDE + (cols - left[labels])
    sums = np.bincount(labels.ravel(), weights=_OFFSET_WEIGHTS[offsets].ravel(), minlength=count + 1)
    shape = _mix(sums.astype(np.int64) * MAX_SIDE**2 + (bottom - top) * MAX_SIDE + (right - left))
    touch = ((top == 0) | (left == 0) | (bottom == h - 1) | (right == w - 1)).astype(np.int64)
    holes = _holes(g, labels, view, count)
    present = sizes[1:][sizes[1:] > 0]
    rank = np.zeros(count + 1, dtype=np.int64)
    if len(present):
        rank[1:] = np.where(sizes[1:] == present.max(), 1, np.where(sizes[1:] == present.min(), 2, 3))
    shape[0] = holes[0] = rank[0] = touch[0] = 0
    size = sizes[labels]
    return [size, shape[labels], holes[labels], rank[labels], touch[labels], size * 2 + touch[labels]]


def _holes(g: np.ndarray, labels: np.ndarray, view: str, count: int) -> np.ndarray:
    """[count + 1] per object, how many 4-connected regions of other cells that reach no border it touches: the
    regions the object's colour (in the o8 view, any non-background colour) encloses."""
    holes = np.zeros(count + 1, dtype=np.int64)
    members = [g != 0] if view == "o8" else [g == c for c in np.unique(g)]
    for member in members:
        regions, n = ndimage.label(~member, _SIDE)
        if not n:
            continue
        outer = np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]]))
        enclosed = np.ones(n + 1, dtype=bool)
        enclosed[outer] = False
        enclosed[0] = False
        if not enclosed.any():
            continue
        padded = np.pad(regions, 1)
        h, w = g.shape
        found = []
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            beside = padded[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]
            at = member & enclosed[beside]
            found.append(labels[at] * (n + 1) + beside[at])
        pairs = np.unique(np.concatenate(found))
        holes += np.bincount(pairs // (n + 1), minlength=count + 1)
    return holes


def _labels(g: np.ndarray, view: str) -> np.ndarray:
    """Connected components of `g` under `view`, numbered from 1 (0: background in the o8 view)."""
    if view == "o8":
        return ndimage.label(g != 0, _ANY)[0]
    structure = _SIDE if view == "c4" else _ANY
    labels = np.zeros(g.shape, dtype=np.int64)
    for colour in np.unique(g):
        part, n = ndimage.label(g == colour, structure)
        labels = np.where(part > 0, part + labels.max(), labels)
    return labels


def _mix(x: np.ndarray) -> np.ndarray:
    """A 64-bit integer mix (splitmix64's finaliser), as non-negative int63."""
    z = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(1)).astype(np.int64)


def pair_keys(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From canvas_keys' [CANVAS_KINDS, H, W]: per PAIR_KIND_NAMES kind [3, H, W] its colour-free key (salted,
    UNDEFINED kept), first colour and second colour."""
    both = raw[_PAIR_INDEX]
    first, second = both // 16, both % 16
    plain = (first == 0) * 4 + (second == 0) * 2 + (first == second)
    salt = (np.arange(PAIR_BASE, PAIR_BASE + len(PAIR_KIND_NAMES))[:, None, None] + 1) * 16
    return np.where(both == UNDEFINED, UNDEFINED, _mix(plain ^ _mix(salt))), first, second


def _pair_functions(raw: Sequence[np.ndarray], outputs: np.ndarray) -> list[Rule]:
    """The pair kinds' rules over the demos' canvas_keys `raw` and flattened `outputs`: every key's cells all take
    one colour, all the first colour, or all the second."""
    parts = [pair_keys(k) for k in raw]
    keys, first, second = (np.concatenate([p[j].reshape(len(PAIR_KIND_NAMES), -1) for p in parts], axis=1)
                           for j in range(3))
    found = []
    for kind in range(len(PAIR_KIND_NAMES)):
        if (keys[kind] == UNDEFINED).any():
            continue
        distinct, first_cell, inverse = np.unique(keys[kind], return_index=True, return_inverse=True)
        colours = np.full(len(distinct), -1)
        for answer, said in ((outputs[first_cell][inverse], outputs[first_cell]), (first[kind], FIRST),
                             (second[kind], SECOND)):
            holds = np.bincount(inverse, weights=answer != outputs, minlength=len(distinct)) == 0
            colours = np.where((colours < 0) & holds, said, colours)
        if (colours >= 0).all():
            found.append(Rule(PAIR_BASE + kind, distinct, colours, len(outputs)))
    return found


def _salted(raw: np.ndarray) -> np.ndarray:
    """canvas_rules' descriptions [CANVAS_KINDS, H, W] salted with their kind and hashed; UNDEFINED stays."""
    salt = (np.arange(CANVAS_BASE, CANVAS_BASE + CANVAS_KINDS)[:, None, None] + 1) * 16
    return np.where(raw == UNDEFINED, UNDEFINED, _mix(raw ^ _mix(salt)))


def changes_size(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether some demo's output has another shape than its input: then only canvas kinds describe it."""
    return any(i.shape != o.shape for i, o in pairs)


def induce(pairs: Sequence[tuple[np.ndarray, np.ndarray]], top: int, views: bool = False,
           canvas: bool = False, blind: bool = False) -> list[Rule]:
    """Up to `top` rules from same-size demo pairs (input, output): the key kinds (with `views` also
    VIEW_KIND_NAMES) whose every key the demos map to one output colour, fewest distinct keys first (ties: kind
    order). No same-size pair: no rule. With `canvas`, where some demo changes size, the canvas kinds on every
    demo instead (none without one size rule for all). With `blind`, also the blind kinds, whose rules may answer
    SAME."""
    if canvas and changes_size(pairs):
        rule = canvas_rules.size_rule(pairs)
        if rule is None:
            return []
        raw = [canvas_rules.canvas_keys(i, o.shape, canvas_rules.output_box(rule, i)[:2]) for i, o in pairs]
        outputs = np.concatenate([o.reshape(-1) for _, o in pairs]).astype(np.int64)
        copies = _copies(np.concatenate([k[:SOURCES].reshape(SOURCES, -1) for k in raw], axis=1), outputs, COPY_BASE)
        keys = np.concatenate([_salted(k).reshape(CANVAS_KINDS, -1) for k in raw], axis=1)
        found = _functions(keys, pairs, CANVAS_BASE, top) + _pair_functions(raw, outputs)
        return (copies + sorted(found, key=lambda r: (len(r.keys), r.kind)))[:top]
    same = [(i, o) for i, o in pairs if i.shape == o.shape]
    if not same:
        return []
    kinds = ALL_KINDS if views else KINDS
    keys = np.concatenate([cell_keys(i, views).reshape(kinds, -1) for i, _ in same], axis=1)  # [kinds, cells]
    found = _functions(keys, same, 0, top + len(BLIND_KIND_NAMES) * blind)
    if blind:
        blinds = np.concatenate([blind_keys(i).reshape(len(BLIND_KIND_NAMES), -1) for i, _ in same], axis=1)
        found = sorted(found + _blind_functions(blinds, same), key=lambda r: (len(r.keys), r.kind))
        sources = np.concatenate([copy_sources(i).reshape(len(BLIND_COPY_NAMES), -1) for i, _ in same], axis=1)
        outputs = np.concatenate([o.reshape(-1) for _, o in same]).astype(np.int64)
        found = _copies(sources, outputs, BLIND_COPY_BASE) + found
    return found[:top]


def _copies(sources: np.ndarray, outputs: np.ndarray, base: int) -> list[Rule]:
    """The copy rules (no keys; kind ids from `base`) of the `sources` [kinds, cells] every demo output cell
    (`outputs` [cells], flattened in the same order) equals."""
    return [Rule(base + j, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), len(outputs))
            for j in range(len(sources)) if np.array_equal(sources[j], outputs)]


def _blind_functions(keys: np.ndarray, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[Rule]:
    """The blind kinds' rules: every key's demo cells either all keep their colour (SAME) or all take one colour."""
    inputs = np.concatenate([i.reshape(-1) for i, _ in pairs]).astype(np.int64)
    outputs = np.concatenate([o.reshape(-1) for _, o in pairs]).astype(np.int64)
    found = []
    for kind in range(len(keys)):
        distinct, first, inverse = np.unique(keys[kind], return_index=True, return_inverse=True)
        kept = np.bincount(inverse, weights=outputs != inputs, minlength=len(distinct)) == 0
        colours = np.where(kept, SAME, outputs[first])
        if np.array_equal(np.where(kept[inverse], outputs, colours[inverse]), outputs):
            found.append(Rule(BLIND_BASE + kind, distinct, colours, len(outputs)))
    return found


def _functions(keys: np.ndarray, pairs: Sequence[tuple[np.ndarray, np.ndarray]], base: int, top: int) -> list[Rule]:
    """The rules of `keys` [kinds, cells] (kind ids from `base`) that map every key to one colour of the pairs'
    outputs (flattened in the same order), fewest distinct keys first."""
    outputs = np.concatenate([o.reshape(-1) for _, o in pairs]).astype(np.int64)
    found = []
    for kind in range(len(keys)):
        if (keys[kind] == UNDEFINED).any():  # some demo lacks this kind
            continue
        distinct, first, inverse = np.unique(keys[kind], return_index=True, return_inverse=True)
        colours = outputs[first]
        if np.array_equal(colours[inverse], outputs):  # a function of this key on every demo cell
            found.append(Rule(base + kind, distinct, colours, len(outputs)))
    found.sort(key=lambda r: (len(r.keys), r.kind))
    return found[:top]


def width(top: int, buckets: int, canvas: bool = False) -> int:
    """Numbers `encode` writes: the colour renaming the rules were induced under, (with `canvas` the demos' size
    rule, canvas_rules.SIZE_NUMBERS), then per rule its kind + 1 and log demo cells per key, then per bucket the
    output colour + 1 and the key's fingerprint."""
    return NUM_COLORS + (SIZE_NUMBERS if canvas else 0) + top * (2 + 2 * buckets)


def encode(rules: Sequence[Rule], top: int, buckets: int, rename: np.ndarray | None = None,
           size: np.ndarray | None = None) -> np.ndarray:
    """[width(top, buckets, size is not None)] float32: `rename` (a permutation of the colours, identity if None:
    the rules' colours are renamed ones), `size` (canvas_rules.size_rule's numbers, all zero: none), then `rules`
    hashed into `buckets` slots each, so that they ride in the prompt vector. Two keys of one rule in one bucket
    leave it empty (colour + 1 = 0): it decides nothing."""
    table = np.zeros((top, 2 + 2 * buckets), dtype=np.float32)
    for r, rule in enumerate(rules[:top]):
        table[r, 0], table[r, 1] = rule.kind + 1, np.log(rule.cells / max(len(rule.keys), 1))
        slot = rule.keys % buckets
        taken = np.bincount(slot, minlength=buckets)
        alone = taken[slot] == 1
        pairs = table[r, 2:].reshape(buckets, 2)
        pairs[slot[alone], 0] = rule.colours[alone] + 1
        pairs[slot[alone], 1] = _fingerprint(rule.keys[alone])
    rename = np.arange(NUM_COLORS) if rename is None else rename
    sized = [] if size is None else [size.astype(np.float32)]
    return np.concatenate([rename.astype(np.float32), *sized, table.reshape(-1)])


def write(pairs: Sequence[tuple[np.ndarray, np.ndarray]], top: int, buckets: int, views: bool = False,
          canvas: bool = False, blind: bool = False) -> np.ndarray:
    """`encode(induce(pairs))`, induced on the pairs with their non-background colours renamed in order of first
    appearance: test-time training writes rules for every row of every update, each in a random colouring of a
    few views of a few demos, and renamed they are the same few demo sets, whose rules are cached. With `canvas`
    the size rule of all the pairs rides along, and demos that change size are described by canvas kinds."""
    # With `canvas` every pair is used: where none changes size, they are all same-size ones anyway.
    used = list(pairs) if canvas else [(i, o) for i, o in pairs if i.shape == o.shape]
    rename = _renaming([g for pair in used for g in pair])
    key = tuple((rename[i].astype(np.int8).tobytes(), i.shape, rename[o].astype(np.int8).tobytes(), o.shape)
                for i, o in used)
    return np.concatenate([rename.astype(np.float32), _written(key, top, buckets, views, canvas, blind)])


def _renaming(grids: Sequence[np.ndarray]) -> np.ndarray:
    """[NUM_COLORS] a permutation: background stays 0, the other colours take 1, 2, ... in order of first
    appearance over `grids`, and colours they lack the ids left, in order."""
    order = [0]
    for g in grids:
        colours, first = np.unique(g, return_index=True)
        order.extend(c for c in colours[np.argsort(first)].tolist() if c not in order)
    order.extend(c for c in range(NUM_COLORS) if c not in order)
    rename = np.empty(NUM_COLORS, dtype=np.int64)
    rename[order] = np.arange(NUM_COLORS)
    return rename


@lru_cache(maxsize=4096)
def _written(key: tuple[tuple[bytes, tuple[int, int], bytes, tuple[int, int]], ...], top: int, buckets: int,
             views: bool, canvas: bool, blind: bool) -> np.ndarray:
    """The encoded rules (without the renaming; with `canvas` after their size rule, which no renaming of
    colours changes) of renamed pairs given as `write`'s cache key; read-only."""
    pairs = [(np.frombuffer(i, dtype=np.int8).reshape(shape).astype(np.int64),
              np.frombuffer(o, dtype=np.int8).reshape(out_shape).astype(np.int64)) for i, shape, o, out_shape in key]
    size = None
    if canvas:
        size = canvas_rules.size_rule(pairs)
        size = np.zeros(SIZE_NUMBERS, dtype=np.float32) if size is None else size
    out = encode(induce(pairs, top, views, canvas, blind), top, buckets, size=size)[NUM_COLORS:]
    out.flags.writeable = False
    return out


def _fingerprint(keys: np.ndarray) -> np.ndarray:
    """FINGERPRINT_BITS high bits of a key, which another key in its bucket shares only by chance; exact in
    float32."""
    return (keys >> (62 - FINGERPRINT_BITS)).astype(np.float32)


def output_box(encoded: np.ndarray, grid: np.ndarray, top: int, buckets: int) -> tuple[int, int, int, int] | None:
    """(top, left, height, width): the output shape the `encode`d size rule gives `grid`, and where on it the
    rule's box lies; None without a size rule (or one that gives no size here, or rules written without
    `canvas`)."""
    if len(encoded) != width(top, buckets, canvas=True):
        return None
    return canvas_rules.output_box(encoded[NUM_COLORS : NUM_COLORS + SIZE_NUMBERS], grid)


def decide(encoded: np.ndarray, grid: np.ndarray, top: int, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """(colour, rank), each [H, W] int64: each cell's colour by the first of the `encode`d rules whose bucket holds
    this cell's very key (read in the rules' renamed colours, answered in the grid's own), and that rule's index;
    -1 in both where none does. [H, W] is the grid's shape, or for canvas rules the output's by the size rule."""
    start = NUM_COLORS + (SIZE_NUMBERS if len(encoded) == width(top, buckets, canvas=True) else 0)
    table = np.ascontiguousarray(encoded[start:], dtype=np.float32)
    rules = table.reshape(top, 2 + 2 * buckets)
    box = (0, 0, *grid.shape)
    if CANVAS_BASE < rules[0, 0] <= BLIND_BASE:  # canvas kinds (stored + 1): decided on the output's canvas
        box = output_box(encoded, grid, top, buckets)
        if box is None:
            return np.full(grid.shape, -1, dtype=np.int64), np.full(grid.shape, -1, dtype=np.int64)
    if not rules[:, 0].any():
        return np.full(grid.shape, -1, dtype=np.int64), np.full(grid.shape, -1, dtype=np.int64)
    rename = encoded[:NUM_COLORS].astype(np.int64)
    renamed = rename[grid].astype(np.int8)
    key = (hashlib.blake2b(table.tobytes(), digest_size=16).digest(), renamed.tobytes(), grid.shape, box, top,
           buckets)
    found = _DECIDED.get(key)
    if found is None:
        found = _DECIDED[key] = _decided(rules, renamed.astype(np.int64), box)
        if len(_DECIDED) > DECIDED_KEPT:
            _DECIDED.popitem(last=False)
    else:
        _DECIDED.move_to_end(key)
    colour, rank = found
    return np.where(colour >= 0, np.argsort(rename)[colour], -1), rank.copy()


# `decide`'s results by (a digest of the rules, renamed grid, shape, top, buckets), least recently used dropped
# first: test-time training decides the same few renamed (view, demo) grids under the same few rule sets in every
# colouring. Keyed on a digest because a rule set is ~25 kB at 1024 buckets.
_DECIDED: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
DECIDED_KEPT = 4096


def _decided(rules: np.ndarray, g: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """`decide` in the rules' renamed colours (rules [top, 2 + 2 * buckets]) of a renamed grid `g`, on the output
    `box` (top, left, height, width: canvas kinds) or `g`'s cells; read-only."""
    out_shape = box[2:]
    buckets = (rules.shape[1] - 2) // 2
    colour = np.full(out_shape, -1, dtype=np.int64)
    rank = np.full(out_shape, -1, dtype=np.int64)
    kinds = [int(k) - 1 for k in rules[:, 0] if k > 0]
    canvas = bool(kinds) and CANVAS_BASE <= kinds[0] < BLIND_BASE
    raw = canvas_rules.canvas_keys(g, out_shape, box[:2]) if canvas else None
    keys = _salted(raw) if canvas else cell_keys(g, views=any(KINDS <= k < ALL_KINDS for k in kinds))
    blinds = blind_keys(g) if any(BLIND_BASE <= k < BLIND_COPY_BASE for k in kinds) else None
    copies = copy_sources(g) if any(k >= BLIND_COPY_BASE for k in kinds) else None
    paired_parts = pair_keys(raw) if any(PAIR_BASE <= k < BLIND_BASE for k in kinds) else None
    for r, kind in enumerate(kinds):
        if COPY_BASE <= kind < PAIR_BASE or kind >= BLIND_COPY_BASE:  # a copy: the source's colour, whatever it is
            source = raw[kind - COPY_BASE] if kind < PAIR_BASE else copies[kind - BLIND_COPY_BASE]
            seen = (source != UNDEFINED) & (rank < 0)
            colour[seen], rank[seen] = source[seen], r
            continue
        paired = PAIR_BASE <= kind < BLIND_BASE
        if paired:
            keyed, first, second = (part[kind - PAIR_BASE] for part in paired_parts)
        key = (keyed if paired else blinds[kind - BLIND_BASE] if kind >= BLIND_BASE
               else keys[kind - (CANVAS_BASE if canvas else 0)])
        pairs = rules[r, 2:].reshape(buckets, 2)[key % buckets]
        seen = (pairs[..., 0] > 0) & (pairs[..., 1] == _fingerprint(key)) & (rank < 0)
        said = pairs[..., 0].astype(np.int64) - 1
        if paired:  # a colour, or one of the two sources' colours
            said = np.where(said == FIRST, first, np.where(said == SECOND, second, said))
        elif kind >= BLIND_BASE:
            said = np.where(said == SAME, g, said)
        colour[seen], rank[seen] = said[seen], r
    colour.flags.writeable = rank.flags.writeable = False
    return colour, rank
