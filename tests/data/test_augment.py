import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arc_efe.data.augment import IDENTITY, Augmentation, all_d8, random_augmentation


@st.composite
def grids(draw):
    h = draw(st.integers(1, 30))
    w = draw(st.integers(1, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).integers(0, 10, size=(h, w))


@settings(max_examples=60, deadline=None)
@given(grid=grids(), perm=st.permutations(list(range(10))))
def test_every_d8_with_random_colours_inverts_exactly(grid, perm):
    for d8 in range(8):
        aug = Augmentation(d8, tuple(perm))
        out = aug.apply(grid)
        expect_shape = grid.shape[::-1] if d8 in (1, 3, 4, 6) else grid.shape
        assert out.shape == expect_shape
        np.testing.assert_array_equal(aug.invert(out), grid)
        np.testing.assert_array_equal(aug.inverse().apply(out), grid)
        assert aug.inverse().inverse() == aug


def test_d8_transforms_of_asymmetric_grid_are_distinct_and_match_the_documented_names():
    g = np.arange(6).reshape(2, 3)
    outs = [a.apply(g) for a in all_d8()]
    assert len({(o.shape, o.tobytes()) for o in outs}) == 8
    np.testing.assert_array_equal(outs[0], g)
    np.testing.assert_array_equal(outs[1], np.rot90(g))
    np.testing.assert_array_equal(outs[4], g.T)
    np.testing.assert_array_equal(outs[5], g[::-1])
    np.testing.assert_array_equal(outs[7], g[:, ::-1])


def test_colour_map_and_apply_does_not_alias_input():
    g = np.array([[0, 1], [2, 9]])
    aug = Augmentation(0, (0, 5, 2, 3, 4, 1, 6, 7, 8, 9))
    out = aug.apply(g)
    np.testing.assert_array_equal(out, [[0, 5], [2, 9]])
    out[0, 0] = 7
    assert g[0, 0] == 0


def test_id_round_trips_and_is_stable():
    aug = Augmentation(3, (0, 2, 1, 3, 4, 5, 6, 7, 8, 9))
    assert aug.id == "d3.c0213456789"
    assert Augmentation.from_id(aug.id) == aug
    assert IDENTITY.id == "d0.c0123456789"


@pytest.mark.parametrize(
    "bad", ["", "d3", "d8.c0123456789", "d3.c012345678", "d3.c0023456789", "x3.c0123456789"]
)
def test_from_id_rejects_malformed(bad):
    with pytest.raises(ValueError):
        Augmentation.from_id(bad)


def test_constructor_validates():
    with pytest.raises(ValueError, match="d8"):
        Augmentation(8)
    with pytest.raises(ValueError, match="permutation"):
        Augmentation(0, (0, 0, 2, 3, 4, 5, 6, 7, 8, 9))


def test_random_augmentation_keeps_background_and_is_seeded():
    rng = np.random.default_rng(0)
    augs = [random_augmentation(rng) for _ in range(200)]
    assert all(a.colors[0] == 0 for a in augs)
    assert {a.d8 for a in augs} == set(range(8))
    assert len({a.colors for a in augs}) > 100
    assert random_augmentation(np.random.default_rng(0)) == augs[0]
    free = [random_augmentation(rng, keep_background=False) for _ in range(200)]
    assert any(a.colors[0] != 0 for a in free)
    fixed = random_augmentation(rng, d8=False, colors=False)
    assert fixed == IDENTITY
