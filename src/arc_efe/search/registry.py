"""Every primitive in one ordered table: the order is the search's enumeration order, cheap and
high-yield first, so a search cut short by its deadline has tried the likeliest programs."""

from __future__ import annotations

from arc_efe.search import (prims_canvas, prims_geometry, prims_move, prims_objects, prims_paint, prims_recolour,
                            prims_repair)
from arc_efe.search.dsl import GRID, OBJECTS, Primitive

PRIMITIVES: tuple[Primitive, ...] = tuple(prims_geometry.PRIMITIVES + prims_objects.PRIMITIVES
                                          + prims_paint.PRIMITIVES + prims_recolour.PRIMITIVES
                                          + prims_move.PRIMITIVES + prims_canvas.PRIMITIVES + prims_repair.PRIMITIVES
                                          + prims_objects.LATE)
BY_NAME: dict[str, Primitive] = {p.name: p for p in PRIMITIVES}
if len(BY_NAME) != len(PRIMITIVES):
    raise RuntimeError("two search primitives share a name")


_TAKING: dict[str, tuple[Primitive, ...]] = {kind: tuple(p for p in PRIMITIVES if p.arg == kind)
                                            for kind in (GRID, OBJECTS)}


def taking(kind: str) -> tuple[Primitive, ...]:
    """The primitives whose argument is of type `kind` (GRID or OBJECTS), in enumeration order (the
    search asks once per state: the tuples are built once)."""
    return _TAKING[kind]


__all__ = ["BY_NAME", "GRID", "OBJECTS", "PRIMITIVES", "taking"]
