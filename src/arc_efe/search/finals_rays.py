"""The rays final: each colour shoots rays in its own directions, which colour goes where read off the demos.

The ray primitives send every colour the same way; in many tasks one colour goes up-left and another
down-right. Enumerating a primitive per colour and direction set would multiply the search, so the
directions are fitted: a direction belongs to a colour when every ray of that colour that way (from the
foremost cells of each of its objects through background, up to the border or another colour) is painted
that colour in every demo output, and some demo shows such a ray. The fitted rays must then reproduce
every output exactly. A colour the demos never showed shoots the way every colour did, when they all
went the same ways; otherwise it sends no rays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from arc_efe.search.grids import BG
from arc_efe.search.prims_paint import smear

_EIGHT = np.ones((3, 3), dtype=bool)
DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1))
_NAMES = ("down", "up", "right", "left", "down_right", "up_left", "down_left", "up_right")


def _may_add_rays(state: np.ndarray, output: np.ndarray) -> bool:
    """The cheap test most states fail: plain colours only, every coloured cell kept, something added."""
    if int(state.max()) >= 10:
        return False
    coloured = state != BG
    return bool((output[coloured] == state[coloured]).all()) and bool((output[~coloured] != BG).any())


_BLOCK = 255  # a coloured cell that shoots no ray this way but still stops the others


def _colour_labels(state: np.ndarray) -> np.ndarray:
    """Each single-colour 8-connected object's own label (0 on background), numbered across colours."""
    labels = np.zeros(state.shape, dtype=np.int64)
    count = 0
    for colour in np.unique(state):
        if colour != BG:
            found, n = ndimage.label(state == colour, _EIGHT)
            labels[found > 0] = found[found > 0] + count
            count += n
    return labels


def _tips(state: np.ndarray, labels: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """The state with only each object's (`_colour_labels`) foremost cells along (dr, dc) left to shoot (a
    block shoots from its corner diagonally and from its whole side straight); the other coloured cells block."""
    rows, cols = np.indices(state.shape)
    ahead = dr * rows + dc * cols
    foremost = np.asarray(ndimage.maximum(ahead, labels, np.arange(int(labels.max()) + 1)), dtype=np.int64)
    tips = (labels > 0) & (ahead == foremost[labels])
    return np.where(tips | (state == BG), state, _BLOCK).astype(np.uint8)


def _all_rays(state: np.ndarray) -> list[np.ndarray]:
    """Per direction of DIRECTIONS, per background cell, the colour of the ray that reaches it (background if
    none); one labelling of the state serves all eight."""
    labels = _colour_labels(state)
    rays = []
    for dr, dc in DIRECTIONS:
        ray = smear(_tips(state, labels, dr, dc), dr, dc)
        rays.append(np.where((state == BG) & (ray != _BLOCK), ray, BG))
    return rays


def _directions(states: Sequence[np.ndarray], rays: Sequence[list[np.ndarray]], outputs: Sequence[np.ndarray]
                ) -> dict[int, list[int]]:
    """Per colour, the indices of the directions whose every ray (`rays`: each state's `_all_rays`) is that
    colour in the outputs."""
    shown: dict[tuple[int, int], bool] = {}  # (colour, direction) -> some demo has such a ray
    wrong: set[tuple[int, int]] = set()
    for state, state_rays, output in zip(states, rays, outputs):
        colours = [int(c) for c in np.unique(state) if c != BG]
        for d, ray in enumerate(state_rays):
            for colour in colours:
                cells = ray == colour
                if not cells.any():
                    continue
                shown[(colour, d)] = True
                if not (output[cells] == colour).all():
                    wrong.add((colour, d))
    fitted: dict[int, list[int]] = {}
    for colour, d in sorted(set(shown) - wrong):
        fitted.setdefault(colour, []).append(d)
    return fitted


def _common(states: Sequence[np.ndarray], fitted: dict[int, list[int]]) -> list[int]:
    """The directions a colour the demos never showed takes: those every colour took, when every colour
    in the states took the same (a rule for any colour); else none."""
    sets = {tuple(ds) for ds in fitted.values()}
    shown = {int(c) for s in states for c in np.unique(s) if c != BG}
    return list(sets.pop()) if len(sets) == 1 and shown == set(fitted) else []


def _paint(grid: np.ndarray, rays: list[np.ndarray], fitted: dict[int, list[int]]) -> np.ndarray:
    """The grid with its rays (`_all_rays`) of each fitted colour painted in that colour's directions."""
    out = grid.copy()
    for d, ray in enumerate(rays):
        users = [colour for colour, ds in fitted.items() if d in ds]
        if not users:
            continue
        paint = (out == BG) & np.isin(ray, users)
        out[paint] = ray[paint]
    return out


def rays_final(states: Sequence[np.ndarray], outputs: Sequence[np.ndarray]
               ) -> tuple[str, Callable[[np.ndarray], np.ndarray | None]] | None:
    """(text, apply) when each output is its state plus rays of the fitted colours and directions."""
    if not all(_may_add_rays(s, o) for s, o in zip(states, outputs)):
        return None
    rays = [_all_rays(s) for s in states]
    fitted = _directions(states, rays, outputs)
    if not fitted or not all(np.array_equal(_paint(s, r, fitted), o) for s, r, o in zip(states, rays, outputs)):
        return None

    common = _common(states, fitted)

    def apply(grid: np.ndarray) -> np.ndarray | None:
        if int(grid.max()) >= 10:
            return None
        colours = (int(c) for c in np.unique(grid) if c != BG)
        return _paint(grid, _all_rays(grid), {c: fitted.get(c, common) for c in colours})
    text = "rays_by_colour{" + ";".join(f"{c}:{','.join(_NAMES[d] for d in ds)}"
                                        for c, ds in sorted(fitted.items())) + "}"
    return text, apply
