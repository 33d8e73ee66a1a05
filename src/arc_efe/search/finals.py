"""Final-step deduction: a cheap last layer fitted on the demos that turns a state into the outputs.

Enumerating every recolouring or tile layout as primitives would multiply the search; instead, for each
state the search reaches, `fit_finals` reads off the demos whether the outputs are the state itself,
the state under one consistent value -> colour map (marks and labels included), or a tiling of the
state's D8 views. A fitted final must apply to every test state, or it is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from arc_efe.search.prims_geometry import D8

_VIEWS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"id": lambda g: g, **D8}
_SHAPE_KEEPING = ("id", "rot180", "flip_lr", "flip_ud")
MAX_TILES = 5


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


def _fit_table(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray], coarse: bool) -> np.ndarray | None:
    """The value -> colour table every demo agrees on; None when some value needs two colours."""
    table = np.full(256, -1, dtype=np.int64)
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


def _map_text(table: np.ndarray, coarse: bool) -> str:
    pairs = [f"{k}>{v}" for k, v in enumerate(table) if v >= 0 and v != k]
    return ("recolour_by_label{" if coarse else "recolour{") + ",".join(pairs) + "}"


def _map_final(table: np.ndarray, coarse: bool) -> Final:
    def apply(grid: np.ndarray) -> np.ndarray | None:
        keys = grid.astype(np.int64)
        if coarse:
            keys = _coarse(keys)
        out = table[keys]
        unseen = out < 0
        if unseen.any():
            if (keys[unseen] >= 10).any():  # a mark or label the demos never coloured
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
        if table is not None:
            finals.append(_map_final(table, coarse))
    return finals


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


def _tile_final(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> Final | None:
    """Outputs made of rows x cols blocks, each block one fixed D8 view of the state."""
    counts = _tile_counts(states, outputs)
    if counts is None:
        return None
    square = all(s.shape[0] == s.shape[1] for s in states)
    names = list(_VIEWS) if square else list(_SHAPE_KEEPING)
    layout = []
    for i in range(counts[0]):
        for j in range(counts[1]):
            view = next((name for name in names if all(
                np.array_equal(o[i * s.shape[0]:(i + 1) * s.shape[0], j * s.shape[1]:(j + 1) * s.shape[1]],
                               _VIEWS[name](s)) for s, o in zip(states, outputs))), None)
            if view is None:
                return None
            layout.append(view)

    needs_square = any(name not in _SHAPE_KEEPING for name in layout)

    def apply(grid: np.ndarray) -> np.ndarray | None:
        if needs_square and grid.shape[0] != grid.shape[1]:
            return None
        if grid.shape[0] * counts[0] > 30 or grid.shape[1] * counts[1] > 30:
            return None
        blocks = [_VIEWS[name](grid) for name in layout]
        rows = [np.hstack(blocks[r * counts[1]:(r + 1) * counts[1]]) for r in range(counts[0])]
        return np.vstack(rows)
    return Final(f"tile{counts[0]}x{counts[1]}[{','.join(layout)}]", 1, apply)


def feasible(state: np.ndarray, output: np.ndarray) -> bool:
    """Whether any final could turn a state of this shape into an output of that shape."""
    (h, w), (oh, ow) = state.shape, output.shape
    return (h, w) == (oh, ow) or (oh % h == 0 and ow % w == 0 and oh // h <= MAX_TILES and ow // w <= MAX_TILES)


def fit_finals(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> list[Final]:
    """Every final step that maps each demo state onto its demo output, cheapest first."""
    if all(s.shape == o.shape for s, o in zip(states, outputs)):
        return _colour_finals(states, outputs)
    tiled = _tile_final(states, outputs)
    return [tiled] if tiled is not None else []
