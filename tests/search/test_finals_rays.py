"""The rays final: each colour's ray directions read off the demos, shot from each object's foremost cells."""

import numpy as np

from arc_efe.search.finals import fit_finals
from arc_efe.search.finals_rays import rays_final


def test_each_colour_shoots_its_own_way_from_its_blocks_corner(G):
    """Colour 1 goes up-left, colour 2 down-right, each from the corner of its block only."""
    states = [G("00000/01100/01100/00000/00000"), G("00000/00000/00220/00220/00000")]
    outputs = [G("10000/01100/01100/00000/00000"), G("00000/00000/00220/00220/00002")]
    finals = fit_finals(states, outputs)
    assert [f.text for f in finals] == ["rays_by_colour{1:up_left;2:down_right}"]
    np.testing.assert_array_equal(finals[0].apply(G("0000/0100/0002/0000")), G("1000/0100/0002/0000"))


def test_a_new_colour_shoots_only_where_every_colour_went_the_same_way(G):
    same = rays_final([G("010/000"), G("020/000")], [G("010/010"), G("020/020")])
    assert same is not None
    np.testing.assert_array_equal(same[1](G("300/000")), G("300/300"))
    apart = rays_final([G("010/000/000")], [G("011/000/000")])
    mixed = rays_final([G("100/002/000")], [G("111/002/000")])
    assert apart is not None and mixed is not None
    np.testing.assert_array_equal(mixed[1](G("300/000/000")), G("300/000/000"))  # 2 shot nowhere


def test_rays_stop_at_other_colours_and_marks_are_refused(G):
    final = rays_final([G("1050")], [G("1150")])
    assert final is not None
    np.testing.assert_array_equal(final[1](G("10005")), G("11115"))
    assert final[1](G("1M00")) is None


def test_refused_where_a_cell_changes_or_nothing_is_added(G):
    assert rays_final([G("100")], [G("200")]) is None  # a coloured cell recoloured
    assert rays_final([G("100")], [G("100")]) is None  # nothing added
    assert rays_final([G("100/000")], [G("100/001")]) is None  # the added cell is no ray
