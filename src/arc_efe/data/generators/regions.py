"""Regions and global structure: enclosed areas, symmetry completion and periodic patterns."""

from __future__ import annotations

import numpy as np

from arc_efe.data.generators.base import Family, Params, Rng
from arc_efe.data.generators.common import colours, enclosed, random_grid, scatter_shapes, span

_SYMS = ("lr", "ud", "both", "rot180", "transpose")
_HALVES = ("left", "right", "top", "bottom")


def _frames(rng: Rng, difficulty: float, avoid: int, gaps: bool) -> np.ndarray | None:
    """Rectangle outlines, some of them (if `gaps`) broken so their inside leaks out."""
    masks = []
    for _ in range(span(rng, difficulty, 1, 3, 6)):
        h, w = int(rng.integers(3, 6 + int(difficulty * 4))), int(rng.integers(3, 6 + int(difficulty * 4)))
        mask = np.ones((h, w), dtype=bool)
        mask[1:-1, 1:-1] = False
        if gaps and rng.random() < 0.3:
            # A gap at a corner would not let anything out, so break a side.
            sides = mask.copy()
            sides[[0, 0, -1, -1], [0, -1, 0, -1]] = False
            r, c = np.argwhere(sides)[rng.integers(int(sides.sum()))]
            mask[r, c] = False
        masks.append(mask)
    side = min(30, 3 + int(np.sqrt(sum((m.shape[0] + 1) * (m.shape[1] + 1) for m in masks) * 2)))
    cols = [int(rng.choice([c for c in range(1, 10) if c != avoid]))] * len(masks)
    return scatter_shapes(rng, side, side, masks, cols)


def _fill_params(rng: Rng, difficulty: float) -> Params:
    return {"where": str(rng.choice(("inside", "outside"))), "colour": colours(rng, 1)[0]}


def _fill_apply(p: Params, g: np.ndarray) -> np.ndarray:
    inside = enclosed(g != 0)
    target = inside if p["where"] == "inside" else (g == 0) & ~inside
    return np.where(target, p["colour"], g)


def _points_params(rng: Rng, difficulty: float) -> Params:
    point, inside, outside = colours(rng, 3)
    return {"point": point, "inside": inside, "outside": outside}


def _points_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    g = _frames(rng, difficulty, p["point"], gaps=False)
    if g is None:
        return None
    free = np.flatnonzero(g == 0)
    g.flat[rng.choice(free, size=min(len(free), span(rng, difficulty, 2, 6, 15)), replace=False)] = p["point"]
    return g


def _points_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """Points inside a closed outline take one colour, points outside another."""
    inside = enclosed((g != 0) & (g != p["point"]))
    out = g.copy()
    out[(g == p["point"]) & inside] = p["inside"]
    out[(g == p["point"]) & ~inside] = p["outside"]
    return out


def _images(sym: str, r: int, c: int, h: int, w: int) -> list[tuple[int, int]]:
    """Where cell (r, c) is mirrored to under the symmetry `sym` of an h x w grid."""
    return {
        "lr": [(r, w - 1 - c)],
        "ud": [(h - 1 - r, c)],
        "both": [(r, w - 1 - c), (h - 1 - r, c), (h - 1 - r, w - 1 - c)],
        "rot180": [(h - 1 - r, w - 1 - c)],
        "transpose": [(c, r)],
    }[sym]


def _symmetric(rng: Rng, difficulty: float, sym: str) -> np.ndarray:
    h = span(rng, difficulty, 2, 6, 15)
    w = h if sym == "transpose" else span(rng, difficulty, 2, 6, 15)
    g = random_grid(rng, h, w, colours(rng, int(rng.integers(2, 5))), float(rng.uniform(0.5, 1.0)))
    if sym in ("lr", "both"):
        g = np.concatenate([g, g[:, ::-1]], 1)
    if sym in ("ud", "both"):
        g = np.concatenate([g, g[::-1]], 0)
    if sym == "rot180":
        g = np.concatenate([g, np.rot90(g, 2)], 0)
    if sym == "transpose":
        g = np.triu(g) + np.triu(g, 1).T
    return g


def _sym_params(rng: Rng, difficulty: float) -> Params:
    return {"sym": str(rng.choice(_SYMS)), "mask": colours(rng, 1)[0], "crop": bool(rng.random() < 0.4)}


def _sym_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    g = _symmetric(rng, difficulty, p["sym"])
    g[g == p["mask"]] = 0
    h, w = g.shape
    mh, mw = int(rng.integers(1, max(2, h // 2))), int(rng.integers(1, max(2, w // 2)))
    r, c = int(rng.integers(h - mh + 1)), int(rng.integers(w - mw + 1))
    g[r : r + mh, c : c + mw] = p["mask"]
    covered = g == p["mask"]
    # Every hidden cell needs a visible mirror image, or the answer is not in the input.
    ok = all(any(not covered[i, j] for i, j in _images(p["sym"], a, b, h, w)) for a, b in np.argwhere(covered))
    return g if ok else None


def _sym_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    h, w = g.shape
    covered = g == p["mask"]
    for r, c in np.argwhere(covered):
        seen = [g[i, j] for i, j in _images(p["sym"], r, c, h, w) if 0 <= i < h and 0 <= j < w and not covered[i, j]]
        out[r, c] = seen[0] if seen else 0
    if p["crop"] and covered.any():
        rows, cols = np.nonzero(covered)
        return out[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    return out


def _mirror_half_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """The chosen half is copied, mirrored, over the other half."""
    # Turn the source half to the left, mirror it onto the right, turn back.
    k = {"left": 0, "top": 1, "right": 2, "bottom": 3}[p["side"]]
    t = np.rot90(g, k).copy()
    half = t.shape[1] // 2
    t[:, t.shape[1] - half :] = t[:, :half][:, ::-1]
    return np.rot90(t, -k).copy()


def _mirror_half_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    h, w = span(rng, difficulty, 2, 8), span(rng, difficulty, 2, 8)
    return random_grid(rng, h, w, colours(rng, int(rng.integers(2, 5))), float(rng.uniform(0.3, 1.0)))


def _period(g: np.ndarray, known: np.ndarray) -> tuple[int, int]:
    """The smallest (rows, cols) period that every known cell agrees with."""
    h, w = g.shape
    for _, py, px in sorted((py * px, py, px) for py in range(1, h + 1) for px in range(1, w + 1)):
        tile = np.full((py, px), -1)
        ok = True
        for r, c in zip(*np.nonzero(known)):
            seen = tile[r % py, c % px]
            if seen == -1:
                tile[r % py, c % px] = g[r, c]
            elif seen != g[r, c]:
                ok = False
                break
        if ok and (tile >= 0).all():
            return py, px
    return h, w


def _periodic_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """Blank cells take the colour of the smallest repeating tile the visible cells agree with."""
    py, px = _period(g, g != 0)
    tile = np.zeros((py, px), dtype=g.dtype)
    for r, c in zip(*np.nonzero(g)):
        tile[r % py, c % px] = g[r, c]
    return np.tile(tile, (g.shape[0] // py + 1, g.shape[1] // px + 1))[: g.shape[0], : g.shape[1]]


def _periodic_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """A tiled pattern of non-background colours with a blank rectangle (repair) or a blank far part (extend)."""
    py, px = int(rng.integers(1, 4 + int(difficulty * 2))), int(rng.integers(1, 4 + int(difficulty * 2)))
    tile = rng.choice(colours(rng, int(rng.integers(2, 5))), size=(py, px))
    h, w = max(2 * py + 2, span(rng, difficulty, 4, 10)), max(2 * px + 2, span(rng, difficulty, 4, 10))
    g = np.tile(tile, (h // py + 1, w // px + 1))[:h, :w]
    truth = g.copy()
    if p["mode"] == "repair":
        mh, mw = int(rng.integers(1, h // 2 + 1)), int(rng.integers(1, w // 2 + 1))
        r, c = int(rng.integers(h - mh + 1)), int(rng.integers(w - mw + 1))
        g[r : r + mh, c : c + mw] = 0
    else:
        g[int(rng.integers(2 * py, h + 1)) :, :] = 0
        g[:, int(rng.integers(2 * px, w + 1)) :] = 0
    # Keep only inputs from which the hidden tile can be read back.
    return g if np.array_equal(_periodic_apply(p, g), truth) else None


FAMILIES = [
    Family(
        "fill_enclosed",
        ("fill_enclosed",),
        _fill_params,
        lambda r, d, p: _frames(r, d, p["colour"], gaps=True),
        _fill_apply,
        lambda p: [dict(p, where=w) for w in ("inside", "outside") if w != p["where"]],
    ),
    Family(
        "points_inside_outside", ("fill_enclosed", "recolour_objects"), _points_params, _points_input, _points_apply
    ),
    Family(
        "symmetry_complete",
        ("symmetry",),
        _sym_params,
        _sym_input,
        _sym_apply,
        lambda p: [dict(p, sym=s) for s in _SYMS if s != p["sym"]],
    ),
    Family(
        "mirror_half",
        ("symmetry",),
        lambda r, d: {"side": str(r.choice(_HALVES))},
        _mirror_half_input,
        _mirror_half_apply,
        lambda p: [{"side": s} for s in _HALVES if s != p["side"]],
    ),
    Family(
        "periodic_repair", ("periodic", "denoise"), lambda r, d: {"mode": "repair"}, _periodic_input, _periodic_apply
    ),
    Family("periodic_extend", ("periodic",), lambda r, d: {"mode": "extend"}, _periodic_input, _periodic_apply),
]
