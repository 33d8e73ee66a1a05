"""The stamp final: each object of the state is rewritten by the pattern the demos show around it.

Objects are multicolour components, 4-connected (tried first) or 8-connected. For every object the demos
show, the output over the object's cells and the background cells around them (its *region*, inside its
box grown by one cell) is read as a stamp: per cell, the colour written there, or KEEP where the output
leaves the state as it was; a cell in two objects' regions is learnt from occurrences where only one
object answers for it. Objects equal in patch (colours and mask) must agree on their stamps, an object
that changes must occur twice or more, and the cells outside every region must be unchanged.
Applied, each object of a new state is looked up and its stamp painted; an object the demos never showed
is left alone only where some demo object was, otherwise the final refuses the state. A second table keys
single-colour objects by shape alone, the object's own colour in its stamp written as SELF, so a rule
learnt on one colour carries over to another; and either table may key an object up to its D8 views (the
stamp turned with it), so a rule learnt upright serves the object lying down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from arc_efe.search.grids import BG
from arc_efe.search.objects import Obj, components

MARGIN = 1
STAMP_LENGTH = 2  # a stamp table fits more states by chance than a colour map does
_KEEP, _OFF, _SELF = 254, 255, 253  # stamp cell values: unchanged, outside the grid, the object's colour
_AROUND = np.ones((2 * MARGIN + 1, 2 * MARGIN + 1), dtype=bool)  # a cell and its 8-neighbours (MARGIN 1)


# The D8 views, and which view undoes each: a turned table keys an object by the first of its views in byte
# order and keeps its stamp in that view, so one rule serves an object in every orientation.
_TURNS = (lambda g: g, lambda g: np.rot90(g, 1), lambda g: np.rot90(g, 2), lambda g: np.rot90(g, 3),
          lambda g: g[:, ::-1], lambda g: g[::-1], lambda g: g.T, lambda g: np.rot90(g, 2).T)
_UNDO = (0, 3, 2, 1, 4, 5, 6, 7)


def _key(o: Obj, by_shape: bool, turns: bool) -> tuple[bytes, int] | None:
    """The object's table key and the view its stamp is kept in; None: a shape key of a multicolour object."""
    if by_shape and o.n_colours != 1:
        return None
    base, prefix = (o.mask.astype(np.uint8), b"m") if by_shape else (o.patch, b"p")
    best = None
    for t, turn in enumerate(_TURNS if turns else _TURNS[:1]):
        view = turn(base)
        key = prefix + bytes(view.shape) + np.ascontiguousarray(view).tobytes()
        if best is None or key < best[0]:
            best = (key, t)
    return best


def _window(o: Obj) -> tuple[slice, slice]:
    """The object's window, in the coordinates of the grid padded by MARGIN on every side."""
    h, w = o.shape
    return slice(o.top, o.top + h + 2 * MARGIN), slice(o.left, o.left + w + 2 * MARGIN)


def _near_content(state: np.ndarray, output: np.ndarray) -> bool:
    """The cheap test most states fail: the output differs from the state only next to coloured cells."""
    changed = state != output
    if not changed.any():
        return False
    return not (changed & ~ndimage.binary_dilation(state != BG, _AROUND)).any()


def _region(o: Obj, state_window: np.ndarray) -> np.ndarray:
    """The cells an object answers for, over its window: its own cells and the background cells among
    their 8-neighbours; other objects' cells are theirs."""
    own = np.pad(o.mask, MARGIN)
    return own | ndimage.binary_dilation(own, _AROUND) & (state_window == BG)


def _stamp(state_window: np.ndarray, output_window: np.ndarray, o: Obj, region: np.ndarray,
           by_shape: bool) -> np.ndarray:
    stamp = np.where(output_window == state_window, _KEEP, output_window).astype(np.uint8)
    if by_shape:
        stamp[stamp == o.colour] = _SELF
    stamp[(output_window == _OFF) | ~region] = _OFF
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


def _fit(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray], diagonal: bool, by_shape: bool,
         turns: bool) -> dict[bytes, np.ndarray] | None:
    table: dict[bytes, np.ndarray] = {}
    seen: dict[bytes, int] = {}
    for state, output in zip(states, outputs):
        found = components(state, diagonal, False)
        if found is None or not found.objects:
            return None
        padded_state = np.pad(state, MARGIN, constant_values=_OFF)
        padded_output = np.pad(output, MARGIN, constant_values=_OFF)
        regions = [_region(o, padded_state[_window(o)]) for o in found.objects]
        claims = np.zeros(padded_state.shape, dtype=np.uint8)
        for o, region in zip(found.objects, regions):
            claims[_window(o)] += region
        for o, region in zip(found.objects, regions):
            keyed = _key(o, by_shape, turns)
            if keyed is None:
                return None
            key, turn = keyed
            window = _window(o)
            stamp = _stamp(padded_state[window], padded_output[window], o, region, by_shape)
            stamp[claims[window] > 1] = _OFF  # a cell two objects answer for is learnt where only one does
            if not _merge(table, key, np.ascontiguousarray(_TURNS[turn](stamp))):
                return None
            seen[key] = seen.get(key, 0) + 1
        if (state != output)[claims[MARGIN:-MARGIN, MARGIN:-MARGIN] == 0].any():
            return None
    # a rewrite seen once is a memorised demo, not a rule: every object that changes must recur
    if any(seen[k] < 2 and (s[s != _OFF] != _KEEP).any() for k, s in table.items()):
        return None
    return table


def _painter(table: dict[bytes, np.ndarray], diagonal: bool, by_shape: bool, turns: bool):
    keeps = any(bool((s[s != _OFF] == _KEEP).all()) for s in table.values())

    def apply(grid: np.ndarray) -> np.ndarray | None:
        found = components(grid, diagonal, False)
        if found is None or not found.objects:
            return None
        out = np.pad(grid, MARGIN, constant_values=BG)
        for o in found.objects:
            keyed = _key(o, by_shape, turns)
            stamp = None if keyed is None else table.get(keyed[0])
            if stamp is None:
                if keeps:
                    continue
                return None
            stamp = _TURNS[_UNDO[keyed[1]]](stamp)
            window = out[_window(o)]
            if by_shape:
                stamp = np.where(stamp == _SELF, o.colour, stamp)
            write = stamp < _SELF
            window[write] = stamp[write]
        return out[MARGIN:-MARGIN, MARGIN:-MARGIN].copy()
    return apply


def no_check() -> None:
    """The clock of a caller without a deadline."""


def stamp_finals(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray], check: Callable[[], None] = no_check):
    """(text, apply) for each stamp table that reproduces every demo output: exact patches first, then
    single-colour shapes, then both keyed up to rotation and reflection (where neither fits). States equal
    to their outputs are expected to have been fitted by cheaper finals. `check()` is called before each
    table is fitted (the search's clock: all eight tables on large grids took up to 60 ms)."""
    if not all(s.shape == o.shape for s, o in zip(states, outputs)):
        return []
    if not all(_near_content(s, o) for s, o in zip(states, outputs)):
        return []
    found = []
    for turns, by_shape in ((False, False), (False, True), (True, False), (True, True)):
        if turns and found:
            break  # a rule for each orientation fitted: one for every orientation adds nothing the demos show
        for diagonal in (False, True):
            check()
            table = _fit(states, outputs, diagonal, by_shape, turns)
            if table is None:
                continue
            apply = _painter(table, diagonal, by_shape, turns)
            if all(np.array_equal(apply(s), o) for s, o in zip(states, outputs)):
                kind = ("shapes" if by_shape else "patches") + ("_turned" if turns else "")
                found.append((f"stamp_{kind}_{8 if diagonal else 4}{{{len(table)}}}", apply))
                break  # 8-connected objects would repeat what 4-connected ones found
    return found
