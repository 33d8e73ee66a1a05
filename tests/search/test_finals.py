"""Final-step deduction: identity, colour maps over marks and labels, tile layouts, and what they refuse."""

import numpy as np

from arc_efe.search.finals import CROP_LENGTH, feasible, fit_finals
from arc_efe.search.grids import label_value


def test_identity_is_the_only_final_for_equal_states(G):
    finals = fit_finals([G("12"), G("30")], [G("12"), G("30")])
    assert [(f.text, f.length) for f in finals] == [("", 0)]


def test_colour_map_fits_marks_and_keeps_unseen_colours(G):
    finals = fit_finals([G("1M"), G("M2")], [G("14"), G("42")])
    assert finals[0].text == "recolour{10>4}"
    np.testing.assert_array_equal(finals[0].apply(G("M75")), G("475"))


def test_colour_map_refuses_inconsistent_demos(G):
    assert fit_finals([G("11")], [G("12")]) == []


def test_unseen_mark_or_label_cannot_be_coloured(G):
    final = fit_finals([G("1M")], [G("14")])[0]
    assert final.apply(np.array([[label_value(1, 3)]], dtype=np.uint8)) is None


def test_label_map_generalises_over_colours():
    """Labels of colours the demos never showed still map when the label alone decides the colour."""
    state = np.array([[label_value(1, 0), label_value(2, 1)]], dtype=np.uint8)
    finals = fit_finals([state], [np.array([[5, 6]], dtype=np.uint8)])
    unseen = np.array([[label_value(3, 1), label_value(4, 0)]], dtype=np.uint8)
    assert finals[0].apply(unseen) is None  # the full map never saw colour 3 or 4
    np.testing.assert_array_equal(finals[1].apply(unseen), [[6, 5]])


def test_tile_layout_with_d8_blocks(G):
    state = G("12/34")
    out = np.hstack([state, state[:, ::-1]])
    finals = fit_finals([state], [out])
    assert finals[0].text == "tile1x2[id,flip_lr]"
    np.testing.assert_array_equal(finals[0].apply(G("56/78")), G("5665/7887"))


def test_feasible_shapes(G):
    assert feasible(G("12/34"), G("1234/1234"))
    assert not feasible(G("12/34"), G("123/123"))


def test_tile_layout_under_a_colour_map(G):
    """A recoloured state tiled: the map and the layout are fitted together, and applied in that order."""
    finals = fit_finals([G("1M"), G("M0")], [G("1414"), G("4040")])
    assert [f.text for f in finals] == ["recolour{10>4} | tile1x2[id,id]"]
    assert finals[0].length == 2
    np.testing.assert_array_equal(finals[0].apply(G("M3")), G("4343"))


def test_anchored_crop_needs_one_output_shape_and_no_colour_map(G):
    states, outputs = [G("123/456/789"), G("987/654/321")], [G("12/45"), G("98/65")]
    assert fit_finals(states, outputs) == []  # crop finals only when asked (a task whose outputs shrink)
    finals = fit_finals(states, outputs, crop=True)
    assert finals[0].text == "crop_top_left_2x2" and finals[0].length == CROP_LENGTH
    np.testing.assert_array_equal(finals[0].apply(G("111/222/333")), G("11/22"))
    assert fit_finals(states, [G("52/45"), G("98/65")], crop=True) == []  # not the window: no map rescues it


def test_crop_to_content_then_a_colour_map(G):
    states = [G("0000/0120/0000"), G("000/030/010")]
    finals = fit_finals(states, [G("56"), G("7/5")], crop=True)
    assert finals[0].text == "crop_content | recolour{1>5,2>6,3>7}"
    np.testing.assert_array_equal(finals[0].apply(G("00/21")), G("65"))
    assert finals[0].apply(G("00/00")) is None


def test_feasible_with_crops(G):
    assert not feasible(G("123/456"), G("1/2"))
    assert feasible(G("123/456"), G("1/2"), crop=True)
    assert not feasible(G("12/34"), G("123/456/789"), crop=True)  # larger, and not a tiling


def test_lines_through_cells_by_colour(G):
    """Colour 2 draws columns, 1 and 3 draw rows over them; read off the demos, applied to a new layout."""
    states = [G("0000/0200/0001"), G("3000/0000/0020/0000")]
    outputs = [G("0200/0200/1111"), G("3333/0020/0020/0020")]
    finals = fit_finals(states, outputs)
    assert [f.text for f in finals] == ["lines{columns:2;rows:13}"]
    np.testing.assert_array_equal(finals[0].apply(G("020/000/300/005")), G("020/020/333/025"))
    # a colour whose rows are full in one demo only has no consistent rule: nothing fits
    assert fit_finals([G("10/00"), G("10/00")], [G("11/00"), G("10/00")]) == []


def test_unseen_colour_kept_only_where_the_demos_kept_a_colour(G):
    """A map that changed every colour it saw does not guess that a new colour stays as it is."""
    changes_all = fit_finals([G("11"), G("22")], [G("33"), G("44")])[0]
    assert changes_all.apply(G("5")) is None
    np.testing.assert_array_equal(changes_all.apply(G("21")), G("43"))
    keeps_bg = fit_finals([G("10")], [G("30")])[0]
    np.testing.assert_array_equal(keeps_bg.apply(G("150")), G("350"))
    # every demo's shape recoloured by that demo's own colours: a table, not a rule for a new colour
    lookup = fit_finals([G("120"), G("340")], [G("500"), G("600")])[0]
    assert lookup.apply(G("170")) is None
    np.testing.assert_array_equal(lookup.apply(G("140")), G("500"))


def test_one_cell_answers_are_not_looked_up(G):
    """A map that changed every colour of one-cell states just lists the demos' answers; keeping some colour
    (or colouring a mark) is a rule."""
    assert fit_finals([G("1"), G("2")], [G("3"), G("4")]) == []
    assert [f.text for f in fit_finals([G("3"), G("1")], [G("8"), G("1")])] == ["recolour{3>8}"]
    assert [f.text for f in fit_finals([G("M"), G("0")], [G("4"), G("0")])][0] == "recolour{10>4}"


def test_coarse_map_lets_a_label_keep_its_own_colours():
    """Label 1 becomes 8 whatever its colour, label 0 keeps each cell's colour: learnt on colours 1 and 2, it
    recolours a 3 and keeps a 4, where the plain map knows only the values it saw (no coarse table fits:
    label 0 is 2 in one place and 1 in another)."""
    def labelled(cells):
        return np.array([[label_value(c, k) if c else 0 for c, k in cells]], dtype=np.uint8)
    states = [labelled([(1, 1), (2, 0), (0, 0)]), labelled([(2, 1), (1, 0), (0, 0)])]
    outputs = [np.array([[8, 2, 0]], dtype=np.uint8), np.array([[8, 1, 0]], dtype=np.uint8)]
    finals = fit_finals(states, outputs)
    assert [f.text for f in finals] == ["recolour{11>1,12>2,21>8,22>8}", "recolour_by_label{11>own,12>8}"]
    unseen = labelled([(3, 1), (4, 0), (0, 0)])
    assert finals[0].apply(unseen) is None
    np.testing.assert_array_equal(finals[1].apply(unseen), [[8, 4, 0]])
    outputs[1] = np.array([[8, 5, 0]], dtype=np.uint8)  # label 0: neither one colour nor its own
    assert [f.text for f in fit_finals(states, outputs)] == ["recolour{11>5,12>2,21>8,22>8}"]
