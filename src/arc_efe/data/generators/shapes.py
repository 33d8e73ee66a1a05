"""Per-object shape rules: outlines, surrounding rings, bounding boxes, in-place flips, denoising, holes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from arc_efe.data.generators.base import Family, Params, Rng
from arc_efe.data.generators.common import colours, d8, holes, objects, random_shape, scatter_shapes, span

_OUTLINE = ("hollow", "border", "interior")
_FLIPS = (2, 5, 7)  # rot 180, up-down, left-right: they keep every bounding box's shape
_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def _blobs(
    rng: Rng, difficulty: float, lo: int, hi: int, solid: bool, palette: list[int] | None = None
) -> np.ndarray | None:
    """A grid of apart objects `lo`..`hi` cells on a side; solid ones are rectangles."""
    n = span(rng, difficulty, 1, 3, 7)
    masks = []
    for _ in range(n):
        h, w = int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))
        masks.append(np.ones((h, w), dtype=bool) if solid else random_shape(rng, h, w, float(rng.uniform(0.6, 0.9))))
    side = min(30, 3 + int(np.sqrt(sum((m.shape[0] + 1) * (m.shape[1] + 1) for m in masks) * 2)))
    cols = [int(c) for c in rng.choice(palette or range(1, 10), size=n)]
    return scatter_shapes(rng, side + span(rng, difficulty, 0, 1, 6), side, masks, cols)


def _outline_params(rng: Rng, difficulty: float) -> Params:
    return {"mode": str(rng.choice(_OUTLINE)), "colour": colours(rng, 1)[0]}


def _outline_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    palette = [c for c in range(1, 10) if c != p["colour"]]
    return _blobs(rng, difficulty, 3, 4 + int(difficulty * 4), bool(rng.random() < 0.5), palette)


def _outline_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """Interior cells have all four neighbours in the object; the rest of the object is its border."""
    out = g.copy()
    for o in objects(g):
        inner = ndimage.binary_erosion(o.mask, _CROSS)
        if p["mode"] == "hollow":
            out[inner] = 0
        elif p["mode"] == "border":
            out[o.mask & ~inner] = p["colour"]
        else:
            out[inner] = p["colour"]
    return out


def _ring_params(rng: Rng, difficulty: float) -> Params:
    return {"colour": colours(rng, 1)[0], "diagonal": bool(rng.random() < 0.5)}


def _ring_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    return _blobs(rng, difficulty, 1, 3 + int(difficulty * 3), False, [c for c in range(1, 10) if c != p["colour"]])


def _ring_apply(p: Params, g: np.ndarray) -> np.ndarray:
    grown = ndimage.binary_dilation(g != 0, np.ones((3, 3), bool) if p["diagonal"] else _CROSS)
    return np.where(grown & (g == 0), p["colour"], g)


def _bbox_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    for o in objects(g):
        box = out[o.region]
        box[box == 0] = p["colour"]
    return out


def _flip_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """Apart rectangles of two-colour patterns: a rectangle is its own bounding box, so flips stay inside."""
    g = _blobs(rng, difficulty, 2, 3 + int(difficulty * 3), True)
    if g is None:
        return None
    for o in objects(g):
        second = int(rng.integers(1, 10))
        g[o.mask & (rng.random(g.shape) < 0.4)] = second
    return g


def _flip_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    for o in objects(g, multicolour=True):
        out[o.region] = d8(o.crop(g), p["k"])
    return out


def _isolated_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """Solid blocks of 2x2 or more plus single stray cells of the same colours, nothing touching."""
    g = _blobs(rng, difficulty, 2, 3 + int(difficulty * 4), True)
    if g is None:
        return None
    palette = [int(c) for c in np.unique(g) if c]
    for _ in range(span(rng, difficulty, 1, 4, 12)):
        r, c = int(rng.integers(g.shape[0])), int(rng.integers(g.shape[1]))
        if not g[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2].any():
            g[r, c] = rng.choice(palette)
    return g


def _isolated_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    for o in objects(g):
        if o.size == 1:
            out[o.mask] = 0
    return out


def _rect_noise_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """Solid 3x3-or-larger rectangles; noise cells of one colour fall anywhere, never next to each other."""
    g = _blobs(rng, difficulty, 3, 4 + int(difficulty * 4), True, [c for c in range(1, 10) if c != p["noise"]])
    if g is None:
        return None
    noise = np.zeros(g.shape, dtype=bool)
    for _ in range(span(rng, difficulty, 2, 6, 20)):
        r, c = int(rng.integers(g.shape[0])), int(rng.integers(g.shape[1]))
        if not noise[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2].any():
            noise[r, c] = True
    return np.where(noise, p["noise"], g)


def _rect_noise_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """Each rectangle is its colour's component's bounding box; noise outside every box goes."""
    out = np.where(g == p["noise"], 0, g)
    for o in objects(out):
        out[o.region] = o.colour
    return out


def _holes_params(rng: Rng, difficulty: float) -> Params:
    return {"map": {str(n): c for n, c in enumerate(colours(rng, 3 + int(difficulty)))}}


def _holes_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """Rectangles with 0..k single-cell holes punched apart from each other and from the edge."""
    counts = [int(k) for k in rng.integers(0, len(p["map"]), size=span(rng, difficulty, 2, 4, 7))]
    masks = []
    for k in counts:
        h, w = int(rng.integers(3, 6)), int(rng.integers(3, 6)) + 2 * k
        mask = np.ones((h, w), dtype=bool)
        spots = [(int(rng.integers(1, h - 1)), 1 + 2 * i) for i in range(k)]
        for r, c in spots:
            mask[r, c] = False
        masks.append(mask)
    side = min(30, 4 + int(np.sqrt(sum((m.shape[0] + 1) * (m.shape[1] + 1) for m in masks) * 2)))
    return scatter_shapes(rng, side, side, masks, [int(rng.integers(1, 10))] * len(masks))


def _holes_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    for o in objects(g):
        out[o.mask] = p["map"].get(str(holes(o.crop(o.mask))), o.colour)
    return out


def _colour_param(rng: Rng, difficulty: float) -> Params:
    return {"colour": colours(rng, 1)[0]}


def _bbox_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    return _blobs(rng, difficulty, 2, 4 + int(difficulty * 4), False, [c for c in range(1, 10) if c != p["colour"]])


def _border_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """The outermost ring of cells (or, `inset`, the ring inside it) takes the border colour."""
    h, w, d = g.shape[0], g.shape[1], int(p["inset"])
    ring = np.zeros(g.shape, dtype=bool)
    ring[d : h - d, d : w - d] = True
    ring[d + 1 : h - d - 1, d + 1 : w - d - 1] = False
    return np.where(ring, p["colour"], g)


def _border_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray:
    h, w = span(rng, difficulty, 3, 10), span(rng, difficulty, 3, 10)
    palette = [c for c in range(10) if c != p["colour"]]
    return rng.choice(palette, size=(h, w)) * (rng.random((h, w)) < rng.uniform(0.0, 0.6))


FAMILIES = [
    Family(
        "outline_objects",
        ("outline",),
        _outline_params,
        _outline_input,
        _outline_apply,
        lambda p: [dict(p, mode=m) for m in _OUTLINE if m != p["mode"]],
    ),
    Family(
        "surround_objects",
        ("outline",),
        _ring_params,
        _ring_input,
        _ring_apply,
        lambda p: [dict(p, diagonal=not p["diagonal"])],
    ),
    Family("fill_bounding_box", ("outline", "fill_enclosed"), _colour_param, _bbox_input, _bbox_apply),
    Family(
        "flip_each_object",
        ("per_object",),
        lambda r, d: {"k": int(r.choice(_FLIPS))},
        _flip_input,
        _flip_apply,
        lambda p: [{"k": k} for k in _FLIPS if k != p["k"]],
    ),
    Family("denoise_isolated", ("denoise",), lambda r, d: {}, _isolated_input, _isolated_apply),
    Family(
        "denoise_rectangles",
        ("denoise",),
        lambda r, d: {"noise": colours(r, 1)[0]},
        _rect_noise_input,
        _rect_noise_apply,
    ),
    Family(
        "recolour_by_holes",
        ("count_holes", "recolour_objects"),
        _holes_params,
        _holes_input,
        _holes_apply,
        lambda p: [dict(p, map=dict(p["map"], **{k: v % 9 + 1})) for k, v in p["map"].items()],
    ),
    Family(
        "grid_border",
        ("outline",),
        lambda r, d: dict(_colour_param(r, d), inset=bool(r.random() < 0.3)),
        _border_input,
        _border_apply,
        lambda p: [dict(p, inset=not p["inset"])],
    ),
]
