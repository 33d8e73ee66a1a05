"""Colour rules: colour maps (alone and after a D8 transform), majority and minority colour, inversion."""

from __future__ import annotations

import numpy as np

from arc_efe.data.generators.base import Family, Params, Rng
from arc_efe.data.generators.common import colours, d8, random_grid, span

_WHICH = ("most", "least")


def _map_params(rng: Rng, difficulty: float) -> Params:
    sources = colours(rng, int(rng.integers(1, 3 + int(difficulty * 3))), exclude=())
    # Each source goes to a different colour; a map may swap colours or send several to one.
    targets = [int(rng.choice([c for c in range(10) if c != s])) for s in sources]
    return {"map": {str(s): t for s, t in zip(sources, targets)}, "k": 0}


def _map_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    h, w = span(rng, difficulty, 1, 8), span(rng, difficulty, 1, 8)
    keys = [int(s) for s in p["map"]]
    palette = sorted(set(keys) | set(colours(rng, int(rng.integers(1, 4)), exclude=())))
    return random_grid(rng, h, w, palette, 1.0)


def _map_apply(p: Params, g: np.ndarray) -> np.ndarray:
    lut = np.arange(10)
    for s, t in p["map"].items():
        lut[int(s)] = t
    return d8(lut[g], p["k"])


def _map_others(p: Params) -> list[Params]:
    """The map with one entry dropped: a source colour the demos never show is not identified."""
    return [dict(p, map={s: t for s, t in p["map"].items() if s != drop}) for drop in p["map"]]


def _d8_map_params(rng: Rng, difficulty: float) -> Params:
    return dict(_map_params(rng, difficulty), k=int(rng.integers(1, 8)))


def _d8_map_others(p: Params) -> list[Params]:
    return _map_others(p) + [dict(p, k=k) for k in range(8) if k != p["k"]]


def _freq_params(rng: Rng, difficulty: float) -> Params:
    shape = [[1, 1], [int(rng.integers(1, 4)), int(rng.integers(1, 4))], None][int(rng.integers(3))]
    return {"which": str(rng.choice(_WHICH)), "shape": shape}


def _freq_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    """Non-background colours with distinct counts, so the most and least common are well defined."""
    while True:
        h, w = span(rng, difficulty, 2, 8), span(rng, difficulty, 2, 8)
        palette = colours(rng, int(rng.integers(2, 4 + int(difficulty * 3))))
        g = random_grid(rng, h, w, palette, float(rng.uniform(0.4, 1.0)))
        counts = [int((g == c).sum()) for c in np.unique(g) if c]
        if len(counts) >= 2 and len(set(counts)) == len(counts):
            return g


def _chosen_colour(which: str, g: np.ndarray) -> int:
    counts = np.bincount(g.ravel(), minlength=10)[1:]
    present = np.nonzero(counts)[0]
    if len(present) == 0:
        return 0
    pick = present[counts[present].argmax()] if which == "most" else present[counts[present].argmin()]
    return int(pick) + 1


def _freq_apply(p: Params, g: np.ndarray) -> np.ndarray:
    shape = tuple(p["shape"]) if p["shape"] else g.shape
    return np.full(shape, _chosen_colour(p["which"], g), dtype=np.int64)


def _which_params(rng: Rng, difficulty: float) -> Params:
    return {"which": str(rng.choice(_WHICH))}


def _which_others(p: Params) -> list[Params]:
    return [dict(p, which=w) for w in _WHICH if w != p["which"]]


def _recolour_apply(p: Params, g: np.ndarray) -> np.ndarray:
    return np.where(g != 0, _chosen_colour(p["which"], g), 0)


def _invert_params(rng: Rng, difficulty: float) -> Params:
    return {"new": None if rng.random() < 0.5 else colours(rng, 1)[0]}


def _invert_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    h, w = span(rng, difficulty, 2, 10), span(rng, difficulty, 2, 10)
    return random_grid(rng, h, w, colours(rng, 1), float(rng.uniform(0.2, 0.8)))


def _invert_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """Swap background and foreground; the foreground colour is the grid's own or a fixed one."""
    fg = p["new"] if p["new"] is not None else int(g.max())
    return np.where(g == 0, fg, 0)


def _invert_others(p: Params) -> list[Params]:
    return [dict(p, new=c) for c in range(1, 10) if c != p["new"]] + ([dict(p, new=None)] if p["new"] else [])


FAMILIES = [
    Family("colour_map", ("colour_map",), _map_params, _map_input, _map_apply, _map_others),
    Family("d8_colour_map", ("d8", "colour_map"), _d8_map_params, _map_input, _map_apply, _d8_map_others),
    Family("colour_by_frequency", ("majority_colour",), _freq_params, _freq_input, _freq_apply, _which_others),
    Family(
        "recolour_to_frequency",
        ("majority_colour", "colour_map"),
        _which_params,
        _freq_input,
        _recolour_apply,
        _which_others,
    ),
    Family("invert_colours", ("colour_map",), _invert_params, _invert_input, _invert_apply, _invert_others),
]
