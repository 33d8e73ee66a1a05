"""Object selection and recolouring: by size, shape, count and position; keep, remove or crop one."""

from __future__ import annotations

import numpy as np

from arc_efe.data.generators.base import Family, Params, Rng
from arc_efe.data.generators.common import colours, objects, scatter_sized, shape_of_size, scatter_shapes, span

_EXTREMES = ("largest", "smallest")
_SELECT = tuple((w, a) for w in _EXTREMES for a in ("keep", "remove"))


def _sizes(rng: Rng, difficulty: float, lo: int = 2, hi: int = 4) -> list[int]:
    """Object sizes whose largest and smallest are unique, so both are well defined."""
    n = span(rng, difficulty, lo, hi, 7)
    while True:
        sizes = [int(s) for s in rng.integers(1, 5 + int(difficulty * 8), size=n)]
        if sizes.count(max(sizes)) == 1 and sizes.count(min(sizes)) == 1:
            return sizes


def _extreme(which: str, g: np.ndarray):
    objs = objects(g)
    if not objs:
        return None
    return max(objs, key=lambda o: o.size) if which == "largest" else min(objs, key=lambda o: o.size)


def _mixed_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    sizes = _sizes(rng, difficulty)
    return scatter_sized(rng, difficulty, sizes, [int(c) for c in rng.choice(range(1, 10), size=len(sizes))])


def _size_map_params(rng: Rng, difficulty: float) -> Params:
    n = int(rng.integers(2, 4 + int(difficulty)))
    return {"colour": colours(rng, 1)[0], "map": {str(s + 1): c for s, c in enumerate(colours(rng, n))}}


def _size_map_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    sizes = [int(s) for s in rng.choice([int(k) for k in p["map"]], size=span(rng, difficulty, 2, 5, 9))]
    return scatter_sized(rng, difficulty, sizes, [p["colour"]] * len(sizes))


def _size_map_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    for o in objects(g):
        out[o.mask] = p["map"].get(str(o.size), o.colour)
    return out


def _perturbed_maps(p: Params) -> list[Params]:
    """The map with one entry changed: a key the demos never show is not identified."""
    return [dict(p, map=dict(p["map"], **{k: v % 9 + 1})) for k, v in p["map"].items()]


def _extreme_params(rng: Rng, difficulty: float) -> Params:
    return {"which": str(rng.choice(_EXTREMES)), "colour": colours(rng, 1)[0]}


def _extreme_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    pick = _extreme(p["which"], g)
    if pick is not None:
        out[pick.mask] = p["colour"]
    return out


def _extreme_others(p: Params) -> list[Params]:
    return [dict(p, which=w) for w in _EXTREMES if w != p["which"]]


def _select_params(rng: Rng, difficulty: float) -> Params:
    which, action = _SELECT[int(rng.integers(len(_SELECT)))]
    return {"which": which, "action": action}


def _select_apply(p: Params, g: np.ndarray) -> np.ndarray:
    pick = _extreme(p["which"], g)
    if pick is None:
        return g.copy()
    return np.where(pick.mask, g, 0) if p["action"] == "keep" else np.where(pick.mask, 0, g)


def _select_others(p: Params) -> list[Params]:
    return [{"which": w, "action": a} for w, a in _SELECT if (w, a) != (p["which"], p["action"])]


_CROP = ("largest", "smallest", "odd_colour")


def _crop_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """One object in a colour of its own among objects that share another colour."""
    sizes = _sizes(rng, difficulty, lo=3)
    common, odd = colours(rng, 2)
    cols = [common] * len(sizes)
    cols[int(rng.integers(len(sizes)))] = odd
    return scatter_sized(rng, difficulty, sizes, cols)


def _crop_apply(p: Params, g: np.ndarray) -> np.ndarray:
    if p["which"] == "odd_colour":
        objs = objects(g)
        counts = {c: sum(o.colour == c for o in objs) for c in {o.colour for o in objs}}
        pick = next((o for o in objs if counts[o.colour] == 1), None)
    else:
        pick = _extreme(p["which"], g)
    if pick is None:
        return g.copy()
    return pick.crop(np.where(pick.mask, g, 0))


def _shape_params(rng: Rng, difficulty: float) -> Params:
    n = int(rng.integers(2, 4))
    shapes, keys = [], set()
    while len(shapes) < n:
        m = shape_of_size(rng, int(rng.integers(3, 6)))
        key = (m.shape, m.tobytes())
        if key not in keys:
            keys.add(key)
            shapes.append(m.astype(int).tolist())
    return {"colour": colours(rng, 1)[0], "shapes": shapes, "to": colours(rng, n)}


def _shape_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    picks = rng.integers(len(p["shapes"]), size=span(rng, difficulty, 2, 5, 9))
    masks = [np.array(p["shapes"][i], dtype=bool) for i in picks]
    side = 4 * int(np.ceil(np.sqrt(len(masks)))) + span(rng, difficulty, 0, 2, 8)
    return scatter_shapes(rng, min(side, 30), min(side, 30), masks, [p["colour"]] * len(masks))


def _shape_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    keys = [np.array(s, dtype=bool) for s in p["shapes"]]
    for o in objects(g):
        sub = o.crop(o.mask)
        for key, col in zip(keys, p["to"]):
            if sub.shape == key.shape and np.array_equal(sub, key):
                out[o.mask] = col
    return out


def _shape_others(p: Params) -> list[Params]:
    return [dict(p, to=[c if j != i else (c % 9) + 1 for j, c in enumerate(p["to"])]) for i in range(len(p["to"]))]


def _position_params(rng: Rng, difficulty: float) -> Params:
    return {"where": str(rng.choice(("border", "inside"))), "colour": colours(rng, 1)[0]}


def _position_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    sizes = [int(s) for s in rng.integers(1, 6, size=span(rng, difficulty, 3, 5, 9))]
    return scatter_sized(rng, difficulty, sizes, [int(rng.integers(1, 10))] * len(sizes), lo=4)


def _position_apply(p: Params, g: np.ndarray) -> np.ndarray:
    out = g.copy()
    h, w = g.shape
    for o in objects(g):
        top, left, bottom, right = o.box
        touches = top == 0 or left == 0 or bottom == h or right == w
        if touches == (p["where"] == "border"):
            out[o.mask] = p["colour"]
    return out


def _count_params(rng: Rng, difficulty: float) -> Params:
    return {"map": {str(n + 1): c for n, c in enumerate(colours(rng, int(rng.integers(2, 5))))}}


def _count_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    n = int(rng.choice([int(k) for k in p["map"]]))
    sizes = [int(s) for s in rng.integers(1, 5 + int(difficulty * 4), size=n)]
    return scatter_sized(rng, difficulty, sizes, [int(rng.integers(1, 10))] * n)


def _count_apply(p: Params, g: np.ndarray) -> np.ndarray:
    """Every object takes the colour the map gives to how many objects there are."""
    n = str(len(objects(g)))
    return np.where(g != 0, p["map"][n], 0) if n in p["map"] else g.copy()


_UNIQUE_ACTIONS = ("keep", "remove", "crop")


def _unique_shape_input(rng: Rng, difficulty: float, p: Params) -> np.ndarray | None:
    """Copies of one shape and a single object of another shape, in random colours."""
    common, odd = shape_of_size(rng, int(rng.integers(3, 6))), shape_of_size(rng, int(rng.integers(3, 6)))
    if common.shape == odd.shape and np.array_equal(common, odd):
        return None
    n = span(rng, difficulty, 3, 4, 8)
    masks = [common] * (n - 1) + [odd]
    side = min(30, 4 * int(np.ceil(np.sqrt(n))) + span(rng, difficulty, 0, 2, 8))
    return scatter_shapes(rng, side, side, masks, [int(c) for c in rng.integers(1, 10, size=n)])


def _unique_shape_apply(p: Params, g: np.ndarray) -> np.ndarray:
    objs = objects(g)
    keys = [o.crop(o.mask).tobytes() + bytes(o.crop(o.mask).shape) for o in objs]
    unique = [o for o, k in zip(objs, keys) if keys.count(k) == 1]
    if len(unique) != 1:
        return g.copy()
    pick = unique[0]
    if p["action"] == "crop":
        return pick.crop(np.where(pick.mask, g, 0))
    return np.where(pick.mask, g, 0) if p["action"] == "keep" else np.where(pick.mask, 0, g)


FAMILIES = [
    Family(
        "recolour_by_size", ("recolour_objects",), _size_map_params, _size_map_input, _size_map_apply, _perturbed_maps
    ),
    Family(
        "recolour_extreme",
        ("recolour_objects", "select_object"),
        _extreme_params,
        _mixed_input,
        _extreme_apply,
        _extreme_others,
    ),
    Family("select_object", ("select_object",), _select_params, _mixed_input, _select_apply, _select_others),
    Family(
        "crop_object",
        ("crop", "select_object"),
        lambda r, d: {"which": str(r.choice(_CROP))},
        _crop_input,
        _crop_apply,
        lambda p: [{"which": w} for w in _CROP if w != p["which"]],
    ),
    Family("recolour_by_shape", ("recolour_objects",), _shape_params, _shape_input, _shape_apply, _shape_others),
    Family(
        "recolour_by_position",
        ("recolour_objects",),
        _position_params,
        _position_input,
        _position_apply,
        lambda p: [dict(p, where=w) for w in ("border", "inside") if w != p["where"]],
    ),
    Family(
        "recolour_by_count",
        ("recolour_objects", "counting"),
        _count_params,
        _count_input,
        _count_apply,
        _perturbed_maps,
    ),
    Family(
        "unique_shape_object",
        ("select_object", "crop"),
        lambda r, d: {"action": str(r.choice(_UNIQUE_ACTIONS))},
        _unique_shape_input,
        _unique_shape_apply,
        lambda p: [{"action": a} for a in _UNIQUE_ACTIONS if a != p["action"]],
    ),
]
