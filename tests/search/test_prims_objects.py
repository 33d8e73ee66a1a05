"""Every GRID -> OBJECTS and OBJECTS -> GRID primitive on a small hand-worked case."""

import numpy as np
import pytest

from arc_efe.search.dsl import OBJECTS
from arc_efe.search.grids import label_value
from arc_efe.search.registry import BY_NAME, PRIMITIVES

SCENE = "11000/11020/00020/30000"  # objects_4: a 2x2 block of 1 (size 4), a bar of 2 (size 2), a single 3

CELLS = "10500/00500/55555/30500/00504"  # four 2x2 cells between grey lines

EXTRACTED = [
    ("objects_4", "10/01", [(0, 0, 1), (1, 1, 1)]), ("objects_8", "10/01", [(0, 0, 2)]),
    ("objects_4_multi", "12/00", [(0, 0, 2)]), ("objects_8_multi", "10/02", [(0, 0, 2)]),
    ("objects_4", SCENE, [(0, 0, 4), (1, 3, 2), (3, 0, 1)]), ("colour_layers", "101/020", [(0, 0, 2), (1, 1, 1)]),
    ("grid_cells", CELLS, [(0, 0, 4), (0, 3, 4), (3, 0, 4), (3, 3, 4)]),
    ("quadrants", "12/34", [(0, 0, 1), (0, 1, 1), (1, 0, 1), (1, 1, 1)]),
    ("quadrants", "123/456/789", [(0, 0, 1), (0, 2, 1), (2, 0, 1), (2, 2, 1)]),
    ("parts_lr_2", "1234", [(0, 0, 2), (0, 2, 2)]), ("parts_tb_2", "1/2", [(0, 0, 1), (1, 0, 1)]),
    ("parts_lr_3", "123", [(0, 0, 1), (0, 1, 1), (0, 2, 1)]),
    ("parts_tb_3", "1/2/3", [(0, 0, 1), (1, 0, 1), (2, 0, 1)]),
    # the background's 4-connected regions: beside, inside and under the shapes (diagonal steps do not join)
    ("regions_4", "1100/1010/0110", [(0, 2, 4), (1, 1, 1), (2, 0, 1)]),
]


@pytest.mark.parametrize(("name", "grid", "expected"), EXTRACTED)
def test_extractor(name, grid, expected, G):
    found = BY_NAME[name].fn(G(grid))
    assert [(o.top, o.left, o.size) for o in found.objects] == expected


@pytest.mark.parametrize(("name", "grid"), [("objects_4", "000"), ("grid_cells", "12/34"), ("parts_lr_2", "123"),
                                           ("regions_4", "12/34"),
                                           ("regions_4", "/".join(["1010101010", "0101010101"] * 5))])  # 50 regions
def test_extractor_not_applicable(name, grid, G):
    found = BY_NAME[name].fn(G(grid))
    assert found is None


CONSUMED = [
    ("select_largest", "objects_4", SCENE, "11/11"), ("select_smallest", "objects_4", SCENE, "3"),
    ("select_largest_box", "objects_4", SCENE, "11/11"), ("select_smallest_box", "objects_4", SCENE, "3"),
    ("select_topmost", "objects_4", SCENE, "11/11"), ("select_bottommost", "objects_4", SCENE, "3"),
    ("select_leftmost", "objects_4", SCENE, None), ("select_rightmost", "objects_4", SCENE, "2/2"),
    ("select_most_colours", "objects_8_multi", "120/000/003", "12"),
    ("select_densest", "objects_8_multi", "1000/0100/0000/0022", "22"),
    ("select_sparsest", "objects_8_multi", "1000/0100/0000/0022", "10/01"),
    ("select_unique_colour", "objects_4", "10102", "2"), ("select_unique_colour", "objects_4", SCENE, None),
    ("select_unique_shape", "objects_4", "11010/00000/10000", "11"),
    ("select_unique_patch", "objects_4", "10102", "2"), ("select_unique_size", "objects_4", "11010/00000/10000", "11"),
    ("select_inner", "objects_4", "1001/0000/0200/0000", "2"),
    ("select_holed", "objects_4", "111020/101000/111020", "111/101/111"),
    ("select_symmetric", "objects_4", "10020/11022/00000/11100", "111"),
    ("select_diagonal_symmetric", "objects_4", "11022/10002/00000/33300", "11/10"),
    ("select_most_second_colour", "objects_8_multi", "122/000/134/000/500", "134"),
    ("select_most_holes", "objects_4", "1111022222/1011020202/1111022222", "22222/20202/22222"),
    ("colour_of_holed", "objects_4", "111020/101000/111020", "1"), ("colour_of_largest", "objects_4", SCENE, "1"),
    ("colour_of_smallest", "objects_4", SCENE, "3"),
    ("colour_of_most_holes", "objects_4", "1111033333/1311030303/1111033333", "3"),  # specks inside count
    ("colour_of_holed", "objects_4", "111020/101000/111020/000000/111000/101000/111000", None),
    ("keep_largest", "objects_4", SCENE, "11000/11000/00000/00000"),
    ("drop_largest", "objects_4", SCENE, "00000/00020/00020/30000"),
    ("keep_smallest", "objects_4", SCENE, "00000/00000/00000/30000"),
    ("drop_smallest", "objects_4", SCENE, "11000/11020/00020/00000"),
    ("keep_inner", "objects_4", "1001/0000/0200/0000", "0000/0000/0200/0000"),
    ("drop_inner", "objects_4", "1001/0000/0200/0000", "1001/0000/0000/0000"),
    ("keep_unique_colour", "objects_4", "10102", "00002"), ("drop_unique_colour", "objects_4", "10102", "10100"),
    ("keep_unique_shape", "objects_4", "11010/00000/10000", "11000/00000/00000"),
    ("drop_unique_shape", "objects_4", "11010/00000/10000", "00010/00000/10000"),
    ("pieces_and", "parts_tb_3", "10/23/40", "M0"), ("pieces_or", "parts_tb_3", "10/23/40", "MM"),
    ("pieces_xor", "parts_tb_3", "10/23/40", "0M"), ("pieces_overlay", "parts_tb_3", "10/23/40", "13"),
    ("pieces_vote", "parts_tb_3", "10/23/40", "10"), ("pieces_and", "objects_4", SCENE, None),
    ("layout_colours", "grid_cells", CELLS, "10/34"), ("layout_colours", "objects_4", SCENE, None),
    ("fill_boxes", "objects_8", "10/01", "1M/M1"), ("crop_all", "objects_4", "0000/0100/0020/0000", "10/02"),
    ("box_largest", "objects_4", "0000/0110/0120/0000", "11/12"),
    ("box_largest_box", "objects_4", "0000/0110/0120/0000", "11/12"),
    ("box_unique_colour", "objects_4", "10102", "2"), ("box_most_colours", "objects_8_multi", "120/000/003", "12"),
    ("inside_largest", "objects_4", "11111/12031/11111", "203"),
    ("inside_largest_box", "objects_4", "11111/12031/11111", "203"), ("inside_largest", "objects_4", "11/00", None),
    ("inside_largest_frame", "objects_4", "3333000/3000222/3300202/0000222", "0"),  # the 3s: no full outline
    ("inside_largest_frame", "objects_4", "2222300/2032330/2222303/0000333", "03"),
    ("inside_largest_frame", "objects_4", "1110/1010/1100", None),
]


@pytest.mark.parametrize(("name", "extractor", "grid", "expected"), CONSUMED,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CONSUMED)])
def test_consumer(name, extractor, grid, expected, G):
    out = BY_NAME[name].fn(BY_NAME[extractor].fn(G(grid)))
    if expected is None:
        assert out is None
    else:
        np.testing.assert_array_equal(out, G(expected))


# Per object of SCENE (block of 1, bar of 2, single 3): the label each labeller gives it.
LABELS = {
    "size_rank": (0, 1, 2), "size_rank_up": (2, 1, 0), "size": (4, 2, 1), "height": (2, 2, 1), "width": (2, 1, 1),
    "border": (1, 0, 1), "shape_count": (1, 1, 1), "holes": (0, 0, 0), "is_largest": (1, 0, 0),
    "is_smallest": (0, 0, 1), "symmetric": (1, 1, 1), "index": (0, 1, 2), "size_extremes": (1, 0, 2),
    "rectangle": (1, 1, 1), "square": (1, 0, 1),
}


@pytest.mark.parametrize("rule", sorted(LABELS))
def test_labeller(rule, G):
    grid = G(SCENE)
    expected = grid.copy()
    for colour, value in zip((1, 2, 3), LABELS[rule]):
        expected[grid == colour] = label_value(colour, value)
    out = BY_NAME[f"label_{rule}"].fn(BY_NAME["objects_4"].fn(grid))
    np.testing.assert_array_equal(out, expected)


def test_label_holes_and_shape_count(G):
    grid = G("111020/101000/111020")
    out = BY_NAME["label_holes"].fn(BY_NAME["objects_4"].fn(grid))
    assert out[0, 0] == label_value(1, 1) and out[0, 4] == label_value(2, 0)
    out = BY_NAME["label_shape_count"].fn(BY_NAME["objects_4"].fn(grid))
    assert out[0, 0] == label_value(1, 1) and out[0, 4] == label_value(2, 2)


def test_pieces_code(G):
    """10 + the bitmask of the pieces coloured in each cell (piece k is bit k), on up to four pieces."""
    out = BY_NAME["pieces_code"].fn(BY_NAME["quadrants"].fn(G("1020/0103/0400/5660")))
    np.testing.assert_array_equal(out, np.array([[10 + 1 + 2, 10 + 4], [10 + 4 + 8, 10 + 1 + 2 + 4]]))
    assert BY_NAME["pieces_code"].fn(BY_NAME["parts_lr_3"].fn(G("102030"))) is not None
    assert BY_NAME["pieces_code"].fn(BY_NAME["objects_4"].fn(G(SCENE))) is None  # shapes differ
    assert BY_NAME["pieces_code"].fn(BY_NAME["objects_4"].fn(G("10101010101"))) is None  # six pieces


def test_label_lower_half(G):
    """A bar's bottom h // 2 cells are labelled 1 (a five-tall bar: its bottom two), the rest 0."""
    grid = G("10/12/12/12/12")
    out = BY_NAME["label_lower_half"].fn(BY_NAME["objects_4"].fn(grid))
    lower = np.array([[0, 0], [0, 0], [0, 0], [1, 1], [1, 1]])
    np.testing.assert_array_equal(out, np.where(grid > 0, label_value(grid, 0) + 10 * lower, 0))


def test_every_objects_primitive_has_a_case():
    covered = {c[0] for c in EXTRACTED} | {c[0] for c in CONSUMED} | {f"label_{rule}" for rule in LABELS}
    covered |= {"pieces_code", "label_lower_half", "label_cell_parity", "layout_counts"}  # tested on their own
    involved = {p.name for p in PRIMITIVES if OBJECTS in (p.arg, p.result)}
    assert involved - covered == set()


def test_background_regions_are_labelled_by_size(G):
    """The background's regions labelled largest 1, smallest 2, the others 0; the shapes are left alone."""
    grid = G("0100/0111/1000/0100")  # regions of sizes 2 (top right), 1 (bottom left), 5 (the rest)
    out = BY_NAME["label_size_extremes"].fn(BY_NAME["regions_4"].fn(grid))
    expected = np.where(grid > 0, grid, label_value(0, 1))
    expected[0, 2:] = label_value(0, 0)
    expected[0, 0], expected[1, 0] = label_value(0, 0), label_value(0, 0)
    expected[3, 0] = label_value(0, 2)
    np.testing.assert_array_equal(out, expected)


def test_rectangle_and_square_labels(G):
    """A region that fills its box is a rectangle; a square too when its box is; an L is neither."""
    found = BY_NAME["regions_4"].fn(G("00111/01100/00100/11111/00111"))  # an L (top left), a 2x2 block, a bar
    rect = BY_NAME["label_rectangle"].fn(found)
    square = BY_NAME["label_square"].fn(found)
    assert [rect[0, 0], rect[1, 3], rect[4, 0]] == [label_value(0, 0), label_value(0, 1), label_value(0, 1)]
    assert [square[0, 0], square[1, 3], square[4, 0]] == [label_value(0, 0), label_value(0, 1), label_value(0, 0)]


def test_label_cell_parity(G):
    """Cells labelled 2 * (row % 2) + column % 2, counted from each object's own top-left cell."""
    grid = G("0111/0111/2000")
    out = BY_NAME["label_cell_parity"].fn(BY_NAME["objects_4"].fn(grid))
    labels = np.array([[0, 0, 1, 0], [0, 2, 3, 2], [0, 0, 0, 0]])
    np.testing.assert_array_equal(out, np.where(grid > 0, label_value(grid, 0) + 10 * labels, 0))


def test_layout_counts(G):
    """Each cell between the separator lines becomes MARK + its coloured cells (CELLS: 1, 0, 1, 1)."""
    out = BY_NAME["layout_counts"].fn(BY_NAME["grid_cells"].fn(G(CELLS)))
    np.testing.assert_array_equal(out, np.array([[11, 10], [11, 11]]))
    assert BY_NAME["layout_counts"].fn(BY_NAME["objects_4"].fn(G(SCENE))) is None  # not a layout
