"""Counting and sorting: counts drawn as bars or filled grids, holes counted, bars and colours sorted."""

from __future__ import annotations

import numpy as np

from arc_efe.data.generators.base import Family, Params, Rng
from arc_efe.data.generators.common import colours, holes, objects, random_grid, scatter_sized, span

_COUNTED = ("objects", "cells", "colours")
_ORDERS = ("ascending", "descending")


def _count(what: str, g: np.ndarray) -> int:
    if what == "objects":
        return len(objects(g))
    if what == "cells":
        return int((g != 0).sum())
    return len(np.unique(g[g != 0]))


def _bar_params(rng: Rng, difficulty: float) -> Params:
    return {"what": str(rng.choice(_COUNTED)), "vertical": bool(rng.random() < 0.5), "colour": colours(rng, 1)[0]}


def _bar_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """Objects whose count, total cells and number of colours all differ, so demos tell which is counted."""
    n = span(rng, difficulty, 1, 4, 8)
    sizes = [int(s) for s in rng.integers(1, 4, size=n)]
    g = scatter_sized(rng, difficulty, sizes, [int(c) for c in rng.choice(range(1, 10), size=n)])
    return g if g is not None and max(_count(w, g) for w in _COUNTED) <= 30 else None


def _bar_apply(p: Params, g: np.ndarray) -> np.ndarray:
    n = max(1, _count(p["what"], g))
    bar = np.full((1, n), p["colour"] if _count(p["what"], g) else 0, dtype=np.int64)
    return bar.T if p["vertical"] else bar


def _bar_others(p: Params) -> list[Params]:
    return [dict(p, what=w) for w in _COUNTED if w != p["what"]]


def _grid_params(rng: Rng, difficulty: float) -> Params:
    side = int(rng.integers(3, 5))
    return {"h": side, "w": side, "by_columns": bool(rng.random() < 0.5)}


def _grid_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    n = int(rng.integers(1, min(p["h"] * p["w"], 4 + int(difficulty * 8)) + 1))
    colour = int(rng.integers(1, 10))
    g = scatter_sized(rng, difficulty, [int(s) for s in rng.integers(1, 5, size=n)], [colour] * n)
    return g


def _grid_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """The object count fills an h x w grid with the objects' colour, row by row or column by column."""
    objs = objects(g)
    flat = np.zeros(p["h"] * p["w"], dtype=np.int64)
    flat[: len(objs)] = objs[0].colour if objs else 0
    return flat.reshape(p["w"], p["h"]).T.copy() if p["by_columns"] else flat.reshape(p["h"], p["w"])


def _holes_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    """One blob with some one-cell holes punched well inside it."""
    h, w = span(rng, difficulty, 4, 8, 14), span(rng, difficulty, 4, 8, 14)
    g = np.zeros((h + 2, w + 2), dtype=np.int64)
    g[1:-1, 1:-1] = int(rng.integers(1, 10))
    for _ in range(span(rng, difficulty, 1, 4, 12)):
        r, c = int(rng.integers(2, h)), int(rng.integers(2, w))
        if (g[r - 1 : r + 2, c - 1 : c + 2] != 0).all():
            g[r, c] = 0
    return g


def _holes_apply(p: Params, g: np.ndarray) -> np.ndarray:
    n = sum(holes(o.mask) for o in objects(g))
    return np.full((1, max(1, n)), p["colour"] if n else 0, dtype=np.int64)


def _hist_params(rng: Rng, difficulty: float) -> Params:
    return {"order": str(rng.choice(_ORDERS))}


def _hist_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    """Scattered cells whose colours all have different counts."""
    while True:
        h, w = span(rng, difficulty, 3, 7, 14), span(rng, difficulty, 3, 7, 14)
        g = random_grid(rng, h, w, colours(rng, int(rng.integers(2, 5))), float(rng.uniform(0.1, 0.4)))
        counts = np.bincount(g.ravel(), minlength=10)[1:]
        present = counts[counts > 0]
        if len(present) >= 2 and len(set(present.tolist())) == len(present) and present.max() <= 30:
            return g


def _hist_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """One column per colour, as tall as its count, bottom-aligned, columns sorted by count."""
    counts = np.bincount(g.ravel(), minlength=10)
    present = [c for c in range(1, 10) if counts[c]]
    present.sort(key=lambda c: counts[c], reverse=p["order"] == "descending")
    if not present:
        return g.copy()
    out = np.zeros((int(counts[present].max()), len(present)), dtype=np.int64)
    for j, c in enumerate(present):
        out[out.shape[0] - counts[c] :, j] = c
    return out


def _order_others(p: Params) -> list[Params]:
    return [dict(p, order=o) for o in _ORDERS if o != p["order"]]


def _bars_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    """Bottom-aligned vertical bars on every other column, each with its own height and colour."""
    n = span(rng, difficulty, 2, 5, 14)
    h = span(rng, difficulty, n if p["recolour"] is None else 2, 8)
    heights = rng.choice(np.arange(1, h + 1), size=min(n, h), replace=False)
    g = np.zeros((h, 2 * len(heights) + 1), dtype=np.int64)
    for j, height in enumerate(heights):
        g[h - height :, 2 * j + 1] = int(rng.integers(1, 10)) if p["recolour"] is None else p["source"]
    return g


def _bars_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """Bars (with their colours) sorted by height; or, if `recolour`, the tallest recoloured in place."""
    cols = list(range(1, g.shape[1], 2))
    heights = [int((g[:, c] != 0).sum()) for c in cols]
    if p["recolour"] is not None:
        out = g.copy()
        tall = cols[int(np.argmax(heights))] if p["recolour"] == "tallest" else cols[int(np.argmin(heights))]
        out[:, tall][out[:, tall] != 0] = p["colour"]
        return out
    order = sorted(range(len(cols)), key=lambda j: heights[j], reverse=p["order"] == "descending")
    out = np.zeros_like(g)
    for j, src in enumerate(order):
        out[:, cols[j]] = g[:, cols[src]]
    return out


def _sort_params(rng: Rng, difficulty: float) -> Params:
    return {"order": str(rng.choice(_ORDERS)), "recolour": None}


def _extreme_bar_params(rng: Rng, difficulty: float) -> Params:
    source, colour = colours(rng, 2)
    return {
        "order": "ascending",
        "recolour": str(rng.choice(("tallest", "shortest"))),
        "source": source,
        "colour": colour,
    }


FAMILIES = [
    Family("count_to_bar", ("counting",), _bar_params, _bar_input, _bar_apply, _bar_others),
    Family(
        "count_into_grid",
        ("counting",),
        _grid_params,
        _grid_input,
        _grid_apply,
        lambda p: [dict(p, by_columns=not p["by_columns"])],
    ),
    Family(
        "count_holes",
        ("count_holes", "counting"),
        lambda r, d: {"colour": colours(r, 1)[0]},
        _holes_input,
        _holes_apply,
    ),
    Family("colour_histogram", ("counting", "sorting"), _hist_params, _hist_input, _hist_apply, _order_others),
    Family("sort_bars", ("sorting",), _sort_params, _bars_input, _bars_apply, _order_others),
    Family(
        "mark_extreme_bar",
        ("sorting", "recolour_objects"),
        _extreme_bar_params,
        _bars_input,
        _bars_apply,
        lambda p: [dict(p, recolour="shortest" if p["recolour"] == "tallest" else "tallest")],
    ),
]
