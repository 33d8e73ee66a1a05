"""Every primitive survives awkward grids (1 x 1, one row, one column, 30 x 30, one colour, noise): it
returns None or a legal value and never raises, so that no task can crash the search."""

import numpy as np
import pytest

from arc_efe.search.dsl import GRID
from arc_efe.search.objects import ObjectSet
from arc_efe.search.registry import BY_NAME, PRIMITIVES, taking


def awkward_grids() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    grids = [np.zeros((1, 1)), np.full((1, 1), 4), np.zeros((30, 30)), np.full((30, 30), 7),
             rng.integers(0, 10, (30, 30)), rng.integers(0, 3, (1, 30)), rng.integers(0, 3, (30, 1)),
             rng.choice([0, 0, 0, 0, 5], size=(17, 23)), np.eye(9) * 2]
    return [g.astype(np.uint8) for g in grids]


def test_every_primitive_on_awkward_grids():
    grids = awkward_grids()
    object_sets = [found for ex in taking(GRID) if ex.result != GRID for g in grids
                   if (found := ex.fn(g)) is not None]
    assert object_sets
    for prim in PRIMITIVES:
        for value in grids if prim.arg == GRID else object_sets:
            out = prim.fn(value)
            if out is None:
                continue
            if prim.result == GRID:
                assert isinstance(out, np.ndarray) and out.ndim == 2 and out.dtype == np.uint8, prim.name
                assert min(out.shape) >= 1, prim.name
            else:
                assert isinstance(out, ObjectSet), prim.name


@pytest.mark.parametrize("prim", [p for p in PRIMITIVES if p.keeps_shape], ids=lambda p: p.name)
def test_shape_keeping_primitives_keep_the_shape(prim):
    """The search skips these unrun when the shape is wrong, so the flag must be true."""
    grids = awkward_grids()
    extract = BY_NAME["objects_8_multi"].fn
    values = grids if prim.arg == GRID else [found for g in grids if (found := extract(g)) is not None]
    assert values
    for value in values:
        out = prim.fn(value)
        source = value if prim.arg == GRID else value.grid
        assert out is None or out.shape == source.shape
