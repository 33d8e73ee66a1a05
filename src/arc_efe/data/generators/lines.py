"""Lines: rays to the border or an obstacle, full row/column lines, and connecting same-coloured points."""

from __future__ import annotations

import numpy as np

from arc_efe.data.generators.base import Family, Params, Rng
from arc_efe.data.generators.common import DIRS, colours, span

_STEPS = dict(DIRS, up_left=(-1, -1), up_right=(-1, 1), down_left=(1, -1), down_right=(1, 1))
# Ray sets a task may use: one direction, opposite pairs, the orthogonal cross, the diagonal X, all eight.
_RAY_SETS = [[d] for d in _STEPS] + [
    ["left", "right"],
    ["up", "down"],
    list(DIRS),
    ["up_left", "up_right", "down_left", "down_right"],
    list(_STEPS),
]
_LINES = ("row", "col", "both")


def _pixels(rng: Rng, difficulty: float, n_lo: int = 1, n_hi: int = 3, palette: list[int] | None = None) -> np.ndarray:
    h, w = span(rng, difficulty, 3, 10), span(rng, difficulty, 3, 10)
    g = np.zeros((h, w), dtype=np.int64)
    n = min(h * w // 4, span(rng, difficulty, n_lo, n_hi, 8))
    cells = rng.choice(h * w, size=max(1, n), replace=False)
    g.flat[cells] = rng.choice(palette or range(1, 10), size=len(cells))
    return g


def _ray(out: np.ndarray, blocked: np.ndarray, r: int, c: int, step: tuple[int, int], colour: int) -> None:
    """Paint from (r, c) along `step` until the border or a blocked cell; painted cells stay painted."""
    h, w = out.shape
    r, c = r + step[0], c + step[1]
    while 0 <= r < h and 0 <= c < w and not blocked[r, c]:
        if out[r, c] == 0:
            out[r, c] = colour
        r, c = r + step[0], c + step[1]


def _rays_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    for r, c in zip(*np.nonzero(g)):
        if p.get("source") in (None, int(g[r, c])):
            for d in p["dirs"]:
                _ray(out, g != 0, int(r), int(c), _STEPS[d], int(g[r, c]))
    return out


def _rays_params(rng: Rng, difficulty: float) -> Params:
    return {"dirs": _RAY_SETS[int(rng.integers(len(_RAY_SETS)))]}


def _rays_others(p: Params) -> list[Params]:
    return [dict(p, dirs=s) for s in _RAY_SETS if s != p["dirs"]]


def _obstacle_params(rng: Rng, difficulty: float) -> Params:
    return {"dirs": [str(rng.choice(list(DIRS)))], "source": colours(rng, 1)[0]}


def _obstacle_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    """Source pixels among wall segments of other colours that stop their rays."""
    others = [c for c in range(1, 10) if c != p["source"]]
    g = _pixels(rng, difficulty, 1, 3, [p["source"]])
    h, w = g.shape
    for _ in range(span(rng, difficulty, 1, 3, 6)):
        r, c = int(rng.integers(h)), int(rng.integers(w))
        length = int(rng.integers(1, max(h, w)))
        seg = (slice(r, r + 1), slice(c, c + length)) if rng.random() < 0.5 else (slice(r, r + length), slice(c, c + 1))
        region = g[seg]
        region[region == 0] = int(rng.choice(others))
    return g


def _cross_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    for r, c in zip(*np.nonzero(g)):
        if p["lines"] in ("row", "both"):
            row = out[r]
            row[row == 0] = g[r, c]
        if p["lines"] in ("col", "both"):
            col = out[:, c]
            col[col == 0] = g[r, c]
    return out


def _connect_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """Pairs of same-coloured points on one row or column; segments never cross or touch another pair."""
    h, w = span(rng, difficulty, 3, 10), span(rng, difficulty, 3, 10)
    g = np.zeros((h, w), dtype=np.int64)
    used = np.zeros((h + 2, w + 2), dtype=bool)  # segment cells plus a one-cell margin
    for colour in colours(rng, min(9, span(rng, difficulty, 1, 3, 6))):
        for _ in range(10):
            if rng.random() < 0.5:
                r, (c0, c1) = int(rng.integers(h)), sorted(int(v) for v in rng.choice(w, size=2, replace=False))
                rows, cols = slice(r, r + 1), slice(c0, c1 + 1)
            else:
                c, (r0, r1) = int(rng.integers(w)), sorted(int(v) for v in rng.choice(h, size=2, replace=False))
                rows, cols = slice(r0, r1 + 1), slice(c, c + 1)
            if used[rows.start : rows.stop + 2, cols.start : cols.stop + 2].any():
                continue
            used[rows.start + 1 : rows.stop + 1, cols.start + 1 : cols.stop + 1] = True
            seg = g[rows, cols].reshape(-1)
            seg[[0, -1]] = colour
            g[rows, cols] = seg.reshape(g[rows, cols].shape)
            break
    return g if g.any() else None


def _connect_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """A row or column holding exactly two cells of a colour gets the cells between them painted."""
    out = g.copy()
    for lines, view in ((g, out), (g.T, out.T)):
        for i, line in enumerate(lines):
            for colour in np.unique(line[line != 0]):
                at = np.flatnonzero(line == colour)
                if len(at) == 2 and not line[at[0] + 1 : at[1]].any():
                    view[i, at[0] + 1 : at[1]] = colour if p["colour"] is None else p["colour"]
    return out


FAMILIES = [
    Family("rays_to_border", ("rays",), _rays_params, lambda r, d, p: _pixels(r, d), _rays_apply, _rays_others),
    Family(
        "rays_to_obstacle", ("rays", "move_until_touch"), _obstacle_params, _obstacle_input, _rays_apply, _rays_others
    ),
    Family(
        "cross_lines",
        ("rays",),
        lambda r, d: {"lines": str(r.choice(_LINES))},
        lambda r, d, p: _pixels(r, d),
        _cross_apply,
        lambda p: [{"lines": m} for m in _LINES if m != p["lines"]],
    ),
    Family(
        "connect_points",
        ("connect",),
        lambda r, d: {"colour": None if r.random() < 0.6 else colours(r, 1)[0]},
        _connect_input,
        _connect_apply,
    ),
]
