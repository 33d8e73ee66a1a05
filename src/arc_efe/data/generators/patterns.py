"""Patterns across the grid: stamping a template on markers, the odd block of a lined grid, and
logic or overlay of two halves split by a separator line."""

from __future__ import annotations

import numpy as np

from arc_efe.data.generators.base import Family, Params, Rng
from arc_efe.data.generators.common import colours, objects, random_shape, span

_OPS = {
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
    "nor": lambda a, b: ~(a | b),
    "first_only": lambda a, b: a & ~b,
}
_PICKS = ("odd", "common")


def _stamp_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """A template holding one marker cell, and lone marker cells where copies of it go."""
    th, tw = int(rng.integers(2, 4 + int(difficulty))), int(rng.integers(2, 4 + int(difficulty)))
    mask = random_shape(rng, th, tw, float(rng.uniform(0.6, 1.0)))
    if mask.sum() < 2:
        return None
    th, tw = mask.shape
    template = np.where(mask, rng.choice(colours(rng, 2, exclude=(0, p["marker"])), size=mask.shape), 0)
    anchor = np.argwhere(mask)[rng.integers(int(mask.sum()))]
    template[tuple(anchor)] = p["marker"]
    n = span(rng, difficulty, 1, 3, 6)
    h, w = span(rng, difficulty, 3 * th, 12), span(rng, difficulty, 3 * tw, 12)
    g = np.zeros((h, w), dtype=np.int64)
    taken = np.zeros((h + 2, w + 2), dtype=bool)  # padded, so copies keep a free cell between them
    for i in range(n + 1):
        for _ in range(30):
            r, c = int(rng.integers(h - th + 1)), int(rng.integers(w - tw + 1))
            if not taken[r : r + th + 2, c : c + tw + 2].any():
                taken[r : r + th + 2, c : c + tw + 2] = True
                if i == 0:
                    g[r : r + th, c : c + tw] = template
                else:
                    g[r + anchor[0], c + anchor[1]] = p["marker"]
                break
    return g


def _stamp_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """Copy the template so that its marker cell lands on each lone marker cell."""
    parts = objects(g, multicolour=True)
    templates = [o for o in parts if o.size > 1 and (g[o.mask] == p["marker"]).sum() == 1]
    if len(templates) != 1:
        return g.copy()
    tpl = templates[0]
    patch = np.where(tpl.crop(tpl.mask), tpl.crop(g), 0)
    ar, ac = np.argwhere(patch == p["marker"])[0]
    out = g.copy()
    for o in parts:
        if o.size == 1 and o.colour == p["marker"]:
            r, c = o.box[0] - ar, o.box[1] - ac
            for (i, j), v in np.ndenumerate(patch):
                if v and 0 <= r + i < g.shape[0] and 0 <= c + j < g.shape[1]:
                    out[r + i, c + j] = v
    return out


def _blocks(g: np.ndarray) -> tuple[list[np.ndarray], int] | None:
    """The blocks of a grid split by full rows and columns of one line colour, in reading order."""
    for line in np.unique(g):
        rows = [r for r in range(g.shape[0]) if (g[r] == line).all()]
        cols = [c for c in range(g.shape[1]) if (g[:, c] == line).all()]
        if rows and cols:
            rb = [-1] + rows + [g.shape[0]]
            cb = [-1] + cols + [g.shape[1]]
            blocks = [g[r0 + 1 : r1, c0 + 1 : c1] for r0, r1 in zip(rb, rb[1:]) for c0, c1 in zip(cb, cb[1:])]
            return [b for b in blocks if b.size], int(line)
    return None


def _odd_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    bh, bw = int(rng.integers(2, 4 + int(difficulty * 2))), int(rng.integers(2, 4 + int(difficulty * 2)))
    ny, nx = int(rng.integers(1, 4 + int(difficulty * 2))), int(rng.integers(2, 4 + int(difficulty * 2)))
    line, *palette = colours(rng, 3)
    base = rng.choice([0] + palette, size=(bh, bw))
    odd = base.copy()
    r, c = int(rng.integers(bh)), int(rng.integers(bw))
    odd[r, c] = rng.choice([v for v in [0] + palette if v != base[r, c]])
    h, w = ny * (bh + 1) - 1, nx * (bw + 1) - 1
    if h > 30 or w > 30:
        return None
    g = np.full((h, w), line, dtype=np.int64)
    which = int(rng.integers(ny * nx))
    for k in range(ny * nx):
        i, j = divmod(k, nx)
        g[i * (bh + 1) : i * (bh + 1) + bh, j * (bw + 1) : j * (bw + 1) + bw] = odd if k == which else base
    return g


def _odd_apply(p: Params, g: np.ndarray) -> np.ndarray:
    found = _blocks(g)
    if found is None:
        return g.copy()
    blocks = found[0]
    keys = [b.tobytes() + bytes(b.shape) for b in blocks]
    counts = {k: keys.count(k) for k in keys}
    pick = min if p["pick"] == "odd" else max
    return blocks[keys.index(pick(keys, key=lambda k: counts[k]))].copy()


def _halves_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    """Two same-sized halves in their own colours, split by a full line of a third colour."""
    h, w = span(rng, difficulty, 2, 6, 14), span(rng, difficulty, 2, 6, 14)
    a_col, b_col, line = colours(rng, 3)
    a = np.where(rng.random((h, w)) < 0.5, a_col, 0)
    b = np.where(rng.random((h, w)) < 0.5, b_col, 0)
    if rng.random() < 0.5:
        return np.concatenate([a, np.full((h, 1), line), b], 1)
    return np.concatenate([a.T, np.full((1, h), line), b.T], 0)


def _split(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two halves either side of the middle column (or, failing that, the middle row)."""
    mid = g.shape[1] // 2
    if g.shape[1] % 2 and g[0, mid] and (g[:, mid] == g[0, mid]).all():
        return g[:, :mid], g[:, mid + 1 :]
    mid = g.shape[0] // 2
    return g[:mid], g[g.shape[0] - mid :]


def _logic_apply(p: Params, g: np.ndarray) -> np.ndarray:
    a, b = _split(g)
    return np.where(_OPS[p["op"]](a != 0, b != 0), p["colour"], 0)


def _overlay_apply(p: Params, g: np.ndarray) -> np.ndarray:
    a, b = _split(g)
    front, back = (a, b) if p["front"] == "first" else (b, a)
    return np.where(front != 0, front, back)


FAMILIES = [
    Family(
        "stamp_on_markers", ("copy_to_markers",), lambda r, d: {"marker": colours(r, 1)[0]}, _stamp_input, _stamp_apply
    ),
    Family(
        "odd_block",
        ("odd_cell",),
        lambda r, d: {"pick": str(r.choice(_PICKS))},
        _odd_input,
        _odd_apply,
        lambda p: [{"pick": k} for k in _PICKS if k != p["pick"]],
    ),
    Family(
        "logic_halves",
        ("logic_halves",),
        lambda r, d: {"op": str(r.choice(list(_OPS))), "colour": colours(r, 1)[0]},
        _halves_input,
        _logic_apply,
        lambda p: [dict(p, op=o) for o in _OPS if o != p["op"]],
    ),
    Family(
        "overlay_halves",
        ("logic_halves",),
        lambda r, d: {"front": str(r.choice(("first", "second")))},
        _halves_input,
        _overlay_apply,
        lambda p: [{"front": "second" if p["front"] == "first" else "first"}],
    ),
]
