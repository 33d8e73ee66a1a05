"""The stamp final: each object of the state is rewritten by the pattern the demos show around it.

Objects are multicolour components, 4-connected (tried first) or 8-connected. For every object the demos
show, the output over the object's cells and the background cells around them (its *region*, inside its
box grown by one cell) is read as a stamp: per cell, the colour written there, or KEEP where the output
leaves the state as it was. Objects equal in patch (colours and mask) must agree on their stamps, an
object that changes must occur twice or more, and the cells outside every region must be unchanged.
Applied, each object of a new state is looked up and its stamp painted; an object the demos never showed
is left alone only where some demo object was, otherwise the final refuses the state. A second table keys
single-colour objects by shape alone, the object's own colour in its stamp written as SELF, so a rule
learnt on one colour carries over to another.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from arc_efe.search.grids import BG
from arc_efe.search.objects import Obj, components

MARGIN = 1
STAMP_LENGTH = 2  # a stamp table fits more states by chance than a colour map does
_KEEP, _OFF, _SELF = 254, 255, 253  # stamp cell values: unchanged, outside the grid, the object's colour


def _key(o: Obj, by_shape: bool) -> bytes | None:
    if not by_shape:
        return b"p" + bytes(o.shape) + o.patch.tobytes()
    if o.n_colours != 1:
        return None
    return b"m" + bytes(o.shape) + o.mask.tobytes()


def _window(o: Obj) -> tuple[slice, slice]:
    """The object's window, in the coordinates of the grid padded by MARGIN on every side."""
    h, w = o.shape
    return slice(o.top, o.top + h + 2 * MARGIN), slice(o.left, o.left + w + 2 * MARGIN)


def _near_content(state: np.ndarray, output: np.ndarray) -> bool:
    """The cheap test most states fail: the output differs from the state only next to coloured cells."""
    changed = state != output
    if not changed.any():
        return False
    near = np.pad(state != BG, MARGIN)
    grown = near.copy()
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            grown[1:-1, 1:-1] |= near[1 + dr:near.shape[0] - 1 + dr, 1 + dc:near.shape[1] - 1 + dc]
    return not (changed & ~grown[1:-1, 1:-1]).any()


def _region(o: Obj, state_window: np.ndarray) -> np.ndarray:
    """The cells an object answers for, over its window: its own cells and the background cells among
    their 8-neighbours; other objects' cells are theirs."""
    own = np.pad(o.mask, MARGIN)
    grown = own.copy()
    h, w = o.mask.shape
    for dr in range(2 * MARGIN + 1):
        for dc in range(2 * MARGIN + 1):
            grown[dr:dr + h, dc:dc + w] |= o.mask
    return own | grown & (state_window == BG)


def _stamp(state_window: np.ndarray, output_window: np.ndarray, o: Obj, by_shape: bool) -> np.ndarray:
    stamp = np.where(output_window == state_window, _KEEP, output_window).astype(np.uint8)
    if by_shape:
        stamp[stamp == o.colour] = _SELF
    stamp[(output_window == _OFF) | ~_region(o, state_window)] = _OFF
    return stamp


def _merge(table: dict[bytes, np.ndarray], key: bytes, stamp: np.ndarray) -> bool:
    old = table.get(key)
    if old is None:
        table[key] = stamp
        return True
    known = (old != _OFF) & (stamp != _OFF)
    if (old[known] != stamp[known]).any():
        return False
    old[old == _OFF] = stamp[old == _OFF]
    return True


def _fit(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray], diagonal: bool,
         by_shape: bool) -> dict[bytes, np.ndarray] | None:
    table: dict[bytes, np.ndarray] = {}
    seen: dict[bytes, int] = {}
    for state, output in zip(states, outputs):
        found = components(state, diagonal, False)
        if found is None or not found.objects:
            return None
        padded_state = np.pad(state, MARGIN, constant_values=_OFF)
        padded_output = np.pad(output, MARGIN, constant_values=_OFF)
        covered = np.zeros(padded_state.shape, dtype=bool)
        for o in found.objects:
            key = _key(o, by_shape)
            if key is None:
                return None
            rows, cols = _window(o)
            if not _merge(table, key, _stamp(padded_state[rows, cols], padded_output[rows, cols], o, by_shape)):
                return None
            covered[rows, cols] |= _region(o, padded_state[rows, cols])
            seen[key] = seen.get(key, 0) + 1
        if (state != output)[~covered[MARGIN:-MARGIN, MARGIN:-MARGIN]].any():
            return None
    # a rewrite seen once is a memorised demo, not a rule: every object that changes must recur
    if any(seen[k] < 2 and (s[s != _OFF] != _KEEP).any() for k, s in table.items()):
        return None
    return table


def _painter(table: dict[bytes, np.ndarray], diagonal: bool, by_shape: bool):
    keeps = any(bool((s[s != _OFF] == _KEEP).all()) for s in table.values())

    def apply(grid: np.ndarray) -> np.ndarray | None:
        found = components(grid, diagonal, False)
        if found is None or not found.objects:
            return None
        out = np.pad(grid, MARGIN, constant_values=BG)
        for o in found.objects:
            key = _key(o, by_shape)
            stamp = None if key is None else table.get(key)
            if stamp is None:
                if keeps:
                    continue
                return None
            window = out[_window(o)]
            if by_shape:
                stamp = np.where(stamp == _SELF, o.colour, stamp)
            write = stamp < _SELF
            window[write] = stamp[write]
        return out[MARGIN:-MARGIN, MARGIN:-MARGIN].copy()
    return apply


def stamp_finals(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]):
    """(text, apply) for each stamp table that reproduces every demo output: exact patches first, then
    single-colour shapes. Shapes equal to their outputs are expected to have been fitted by cheaper finals."""
    if not all(s.shape == o.shape for s, o in zip(states, outputs)):
        return []
    if not all(_near_content(s, o) for s, o in zip(states, outputs)):
        return []
    found = []
    for by_shape in (False, True):
        for diagonal in (False, True):
            table = _fit(states, outputs, diagonal, by_shape)
            if table is None:
                continue
            apply = _painter(table, diagonal, by_shape)
            if all(np.array_equal(apply(s), o) for s, o in zip(states, outputs)):
                kind = "shapes" if by_shape else "patches"
                found.append((f"stamp_{kind}_{8 if diagonal else 4}{{{len(table)}}}", apply))
                break  # 8-connected objects would repeat what 4-connected ones found
    return found
