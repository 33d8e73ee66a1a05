"""Motion: gravity of cells and of rigid objects, sliding chosen objects, moving one object to another.

Each rule is written for motion downward; other directions rotate the grid first and back after.
"""

from __future__ import annotations

import numpy as np

from arc_efe.data.generators.base import Family, Params, Rng
from arc_efe.data.generators.common import DIRS, colours, objects, random_grid, scatter_sized, span

# Quarter turns (np.rot90's k) that bring each direction to "down".
_TO_DOWN = {"down": 0, "left": 1, "up": 2, "right": -1}


def _downward(fn, direction: str, g: np.ndarray, *args) -> np.ndarray:
    k = _TO_DOWN[direction]
    return np.rot90(fn(np.rot90(g, k).copy(), *args), -k).copy()


def _cells_fall(g: np.ndarray) -> np.ndarray:
    out = np.zeros_like(g)
    for c in range(g.shape[1]):
        column = g[:, c][g[:, c] != 0]
        out[g.shape[0] - len(column) :, c] = column
    return out


def _objects_fall(g: np.ndarray, moving: int | None = None) -> np.ndarray:
    """Objects (all of them, or those of colour `moving`) drop as rigid bodies, lowest first."""
    out = g.copy()
    falling = [o for o in objects(g) if moving in (None, o.colour)]
    for o in sorted(falling, key=lambda o: -o.box[2]):
        out[o.mask] = 0
        cells = np.argwhere(o.mask)
        drop = 0
        while True:
            rows = cells[:, 0] + drop + 1
            if rows.max() >= g.shape[0] or out[rows, cells[:, 1]].any():
                break
            drop += 1
        out[cells[:, 0] + drop, cells[:, 1]] = o.colour
    return out


def _dir_params(rng: Rng, difficulty: float) -> Params:
    return {"dir": str(rng.choice(list(DIRS)))}


def _dir_others(p: Params) -> list[Params]:
    return [dict(p, dir=d) for d in DIRS if d != p["dir"]]


def _cells_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    h, w = span(rng, difficulty, 2, 8), span(rng, difficulty, 2, 8)
    return random_grid(rng, h, w, colours(rng, int(rng.integers(1, 4))), float(rng.uniform(0.15, 0.5)))


def _objects_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    sizes = [int(s) for s in rng.integers(1, 6, size=span(rng, difficulty, 2, 4, 8))]
    cols = [p.get("colour") or int(rng.integers(1, 10)) for _ in sizes]
    if p.get("colour"):
        # A few fixed obstacles in other colours; only objects of the task's colour move.
        extra = span(rng, difficulty, 1, 3, 5)
        sizes += [int(s) for s in rng.integers(2, 7, size=extra)]
        cols += [int(rng.choice([c for c in range(1, 10) if c != p["colour"]])) for _ in range(extra)]
    return scatter_sized(rng, difficulty, sizes, cols, lo=4)


def _slide_params(rng: Rng, difficulty: float) -> Params:
    return dict(_dir_params(rng, difficulty), colour=colours(rng, 1)[0])


def _touch_params(rng: Rng, difficulty: float) -> Params:
    mover, anchor = colours(rng, 2)
    return {"mover": mover, "anchor": anchor}


def _touch_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """A wall of the anchor colour across the grid and a shape of the mover colour some distance away."""
    h, w = span(rng, difficulty, 5, 10), span(rng, difficulty, 5, 10)
    g = np.zeros((h, w), dtype=np.int64)
    wall = int(rng.integers(h))
    g[wall, :] = p["anchor"]
    side = (0, wall - 1) if wall > 3 else (wall + 2, h)
    if side[1] - side[0] < 2:
        return None
    sh, sw = int(rng.integers(1, min(4, side[1] - side[0]) + 1)), int(rng.integers(1, min(4, w) + 1))
    r, c = int(rng.integers(side[0], side[1] - sh + 1)), int(rng.integers(w - sw + 1))
    g[r : r + sh, c : c + sw] = np.where(rng.random((sh, sw)) < 0.7, p["mover"], 0)
    g[r, c] = p["mover"]
    return np.rot90(g, int(rng.integers(4))).copy() if len(objects(g == p["mover"])) == 1 else None


def _touch_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """The mover slides toward the anchor (the one direction that reaches it) and stops touching it."""
    for k in _TO_DOWN.values():
        moved = _slide_to_anchor(np.rot90(g, k).copy(), p["mover"], p["anchor"])
        if moved is not None:
            return np.rot90(moved, -k).copy()
    return g.copy()


def _slide_to_anchor(g: np.ndarray, mover: int, anchor: int) -> np.ndarray | None:
    cells = np.argwhere(g == mover)
    if len(cells) == 0:
        return g
    out = np.where(g == mover, 0, g)
    drop = 0
    while True:
        rows = cells[:, 0] + drop + 1
        if rows.max() >= g.shape[0]:
            return None
        hit = out[rows, cells[:, 1]]
        if hit.any():
            if not (hit == anchor).any() or drop == 0:
                return None
            out[cells[:, 0] + drop, cells[:, 1]] = mover
            return out
        drop += 1


FAMILIES = [
    Family(
        "gravity_cells",
        ("gravity",),
        _dir_params,
        _cells_input,
        lambda p, g: _downward(_cells_fall, p["dir"], g),
        _dir_others,
    ),
    Family(
        "gravity_objects",
        ("gravity",),
        _dir_params,
        _objects_input,
        lambda p, g: _downward(_objects_fall, p["dir"], g),
        _dir_others,
    ),
    Family(
        "slide_objects",
        ("gravity", "move_until_touch"),
        _slide_params,
        _objects_input,
        lambda p, g: _downward(_objects_fall, p["dir"], g, p["colour"]),
        _dir_others,
    ),
    Family(
        "move_to_contact",
        ("move_until_touch",),
        _touch_params,
        _touch_input,
        _touch_apply,
        lambda p: [{"mover": p["anchor"], "anchor": p["mover"]}],
    ),
]
