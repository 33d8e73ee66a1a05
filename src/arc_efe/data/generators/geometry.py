"""Whole-grid geometry: D8 transforms, translation, scaling, tiling with flips, mirroring, quadrants."""

from __future__ import annotations

import numpy as np

from arc_efe.data.generators.base import Family, Params, Rng
from arc_efe.data.generators.common import colours, d8, random_grid, span

# D8 elements that keep a grid's shape: identity, rot 180, up-down flip, left-right flip.
_SHAPE_KEEPING = (0, 2, 5, 7)
_SIDES = ("up", "down", "left", "right")


def _busy_grid(rng: Rng, difficulty: float, max_side: int = 30, lo: int = 2) -> np.ndarray:
    h = min(max_side, span(rng, difficulty, lo, 8))
    w = min(max_side, span(rng, difficulty, lo, 8))
    palette = colours(rng, int(rng.integers(1, 4 + int(difficulty * 4))))
    return random_grid(rng, h, w, palette, float(rng.uniform(0.3, 0.9)))


def _d8_params(rng: Rng, difficulty: float) -> Params:
    return {"k": int(rng.integers(1, 8))}


def _d8_apply(p: Params, g: np.ndarray) -> np.ndarray:
    return d8(g, p["k"])


def _d8_others(p: Params) -> list[Params]:
    return [{"k": k} for k in range(8) if k != p["k"]]


def _translate_params(rng: Rng, difficulty: float) -> Params:
    reach = 1 + int(difficulty * 3)
    while True:
        dy, dx = (int(v) for v in rng.integers(-reach, reach + 1, size=2))
        if dy or dx:
            return {"dy": dy, "dx": dx, "wrap": bool(rng.random() < 0.3)}


def _translate_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    g = _busy_grid(rng, difficulty, lo=3)
    return g * (rng.random(g.shape) < 0.5)


def _translate_apply(p: Params, g: np.ndarray) -> np.ndarray:
    if p["wrap"]:
        return np.roll(g, (p["dy"], p["dx"]), axis=(0, 1))
    # Padding by the shift makes the roll bring in background instead of wrapping.
    ay, ax = abs(p["dy"]), abs(p["dx"])
    moved = np.roll(np.pad(g, ((ay, ay), (ax, ax))), (p["dy"], p["dx"]), axis=(0, 1))
    return moved[ay : ay + g.shape[0], ax : ax + g.shape[1]]


def _translate_others(p: Params) -> list[Params]:
    return [dict(p, dy=dy, dx=dx) for dy in range(-4, 5) for dx in range(-4, 5) if (dy, dx) != (p["dy"], p["dx"])]


def _scale_up_params(rng: Rng, difficulty: float) -> Params:
    while True:
        fy, fx = (int(v) for v in rng.integers(1, 3 + int(difficulty * 2), size=2))
        if fy * fx > 1:
            return {"fy": fy, "fx": fx}


def _scale_up_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    return _busy_grid(rng, difficulty, max_side=30 // max(p["fy"], p["fx"]), lo=1)


def _scale_up_apply(p: Params, g: np.ndarray) -> np.ndarray:
    return np.kron(g, np.ones((p["fy"], p["fx"]), dtype=g.dtype))


def _scale_down_params(rng: Rng, difficulty: float) -> Params:
    f = int(rng.integers(2, 4 + int(difficulty * 2)))
    # One stray cell per block cannot outvote the rest of a block of 3x3 or more.
    return {"f": f, "noise": bool(f >= 3 and rng.random() < 0.5)}


def _scale_down_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    f = p["f"]
    g = _scale_up_apply({"fy": f, "fx": f}, _busy_grid(rng, difficulty, max_side=30 // f, lo=1))
    if p["noise"]:
        h, w = g.shape
        for r in range(0, h, f):
            for c in range(0, w, f):
                if rng.random() < 0.3:
                    g[r + rng.integers(f), c + rng.integers(f)] = rng.integers(10)
    return g


def _scale_down_apply(p: Params, g: np.ndarray) -> np.ndarray:
    f = p["f"]
    h, w = g.shape[0] // f, g.shape[1] // f
    blocks = g[: h * f, : w * f].reshape(h, f, w, f).transpose(0, 2, 1, 3).reshape(h, w, f * f)
    counts = np.apply_along_axis(np.bincount, 2, blocks, minlength=10)
    return counts.argmax(axis=2)


def _tile_params(rng: Rng, difficulty: float) -> Params:
    while True:
        ny, nx = (int(v) for v in rng.integers(1, 3 + int(difficulty), size=2))
        if ny * nx > 1:
            ops = [[int(rng.choice(_SHAPE_KEEPING)) for _ in range(nx)] for _ in range(ny)]
            return {"ny": ny, "nx": nx, "ops": ops}


def _tile_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    return _busy_grid(rng, difficulty, max_side=min(30 // p["ny"], 30 // p["nx"], 3 + int(difficulty * 7)))


def _tile_apply(p: Params, g: np.ndarray) -> np.ndarray:
    return np.block([[d8(g, k) for k in row] for row in p["ops"]])


def _tile_others(p: Params) -> list[Params]:
    alts = []
    for i in range(p["ny"]):
        for j in range(p["nx"]):
            for k in _SHAPE_KEEPING:
                if k != p["ops"][i][j]:
                    ops = [list(row) for row in p["ops"]]
                    ops[i][j] = k
                    alts.append(dict(p, ops=ops))
    return alts


def _fractal_params(rng: Rng, difficulty: float) -> Params:
    return {"invert": bool(rng.random() < 0.5)}


def _fractal_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    side = int(rng.integers(2, 4 + int(difficulty * 2)))
    return random_grid(rng, side, side, colours(rng, 1), float(rng.uniform(0.3, 0.7)))


def _fractal_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """Each cell of the input becomes a copy of the input (a filled cell, or an empty one if inverted)."""
    on = (g == 0) if p["invert"] else (g != 0)
    return np.kron(on, np.ones_like(g)) * np.tile(g, g.shape)


def _mirror_params(rng: Rng, difficulty: float) -> Params:
    return {"side": str(rng.choice(_SIDES))}


def _mirror_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    return _busy_grid(rng, difficulty, max_side=15)


def _mirror_apply(p: Params, g: np.ndarray) -> np.ndarray:
    side = p["side"]
    flipped = g[::-1] if side in ("up", "down") else g[:, ::-1]
    parts = [flipped, g] if side in ("up", "left") else [g, flipped]
    return np.concatenate(parts, axis=0 if side in ("up", "down") else 1)


def _mirror_others(p: Params) -> list[Params]:
    return [{"side": s} for s in _SIDES if s != p["side"]]


def _quadrant_params(rng: Rng, difficulty: float) -> Params:
    return {"q": int(rng.integers(4))}


def _quadrant_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    # Four quadrants from one palette and density, so only position tells which one is wanted.
    h, w = span(rng, difficulty, 1, 5, 15), span(rng, difficulty, 1, 5, 15)
    palette = colours(rng, int(rng.integers(2, 5)))
    return random_grid(rng, 2 * h, 2 * w, palette, float(rng.uniform(0.3, 0.9)))


def _quadrant_apply(p: Params, g: np.ndarray) -> np.ndarray:
    h, w = g.shape[0] // 2, g.shape[1] // 2
    r, c = divmod(p["q"], 2)
    return g[r * h : (r + 1) * h, c * w : (c + 1) * w]


def _quadrant_others(p: Params) -> list[Params]:
    return [{"q": q} for q in range(4) if q != p["q"]]


FAMILIES = [
    Family("d8_transform", ("d8",), _d8_params, lambda r, d, p: _busy_grid(r, d), _d8_apply, _d8_others),
    Family("translate", ("translate",), _translate_params, _translate_input, _translate_apply, _translate_others),
    Family("scale_up", ("scale",), _scale_up_params, _scale_up_input, _scale_up_apply),
    Family("scale_down", ("scale", "denoise"), _scale_down_params, _scale_down_input, _scale_down_apply),
    Family("tile_flips", ("tile",), _tile_params, _tile_input, _tile_apply, _tile_others),
    Family(
        "tile_self_similar",
        ("tile", "scale"),
        _fractal_params,
        _fractal_input,
        _fractal_apply,
        lambda p: [{"invert": not p["invert"]}],
    ),
    Family("mirror_extend", ("tile", "symmetry"), _mirror_params, _mirror_input, _mirror_apply, _mirror_others),
    Family("extract_quadrant", ("crop",), _quadrant_params, _quadrant_input, _quadrant_apply, _quadrant_others),
]
