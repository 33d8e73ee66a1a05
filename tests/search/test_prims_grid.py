"""Every GRID -> GRID primitive on a small hand-worked case, and the inverses that exist."""

import numpy as np
import pytest

from arc_efe.search.dsl import GRID
from arc_efe.search.grids import label_value
from arc_efe.search.prims_paint import smear
from arc_efe.search.registry import BY_NAME, PRIMITIVES

A = "120/340"

CASES = [
    ("rot90", A, "31/42/00"), ("rot180", A, "043/021"), ("rot270", A, "00/24/13"),
    ("flip_lr", A, "021/043"), ("flip_ud", A, "340/120"), ("transpose", A, "13/24/00"),
    ("anti_transpose", A, "00/42/31"),
    ("crop_content", "0000/0120/0300/0000", "12/30"), ("crop_content", "00/00", None),
    ("crop_not_majority", "5555/5125/5555", "12"),
    ("scale_up_2", "12", "1122/1122"), ("scale_up_3", "12", "111222/111222/111222"),
    ("scale_up_4", "1", "1111/1111/1111/1111"),
    ("scale_down_2", "1122/1122", "12"), ("scale_down_2", "12/34", None),
    ("scale_down_3", "111222/111222/111222", "12"),
    ("pad_edges", "12/34", "0120/1122/3344/0340"),
    ("scale_by_colours", "12/00", "1122/1122/0000/0000"),
    ("fractal_majority", "10/00", "0010/0000/1010/0000"), ("swap_colours", "120", "210"),
    ("swap_colours", "123", None), ("mark_empty_lines", "100/000", "1MM/MMM"), ("cells_row", "101/010", "111"),
    ("majority_to_bg", "770/717", "007/010"), ("majority_to_bg", "001", None),
    ("erase_minority", "1110/2000", "1110/0000"), ("erase_majority", "1110/2000", "0000/2000"),
    ("shrink_2", "1122/1222", "12"), ("shrink_3", "12", None),
    ("repair_periodic", "1212/2101/1012", "1212/2121/1212"), ("repair_periodic", "12/34", None),
    ("is_symmetric_lr", "121/303", "M"), ("is_symmetric_ud", "121/303", "0"),
    ("dedup_lines", "1122/1122/3344", "12/34"), ("drop_empty_lines", "102/000/304", "12/34"),
    ("tile_1x2", "12", "1212"), ("tile_2x1", "12", "12/12"), ("tile_2x2", "1", "11/11"),
    ("tile_3x3", "2", "222/222/222"),
    ("mirror_right", "12", "1221"), ("mirror_left", "12", "2112"), ("mirror_down", "1/2", "1/2/2/1"),
    ("mirror_up", "1/2", "2/1/1/2"), ("mirror_quad", "12", "1221/1221"),
    ("mirror_down_shared", "1/2/3", "1/2/3/2/1"), ("mirror_right_shared", "12", "121"),
    ("mirror_down_shared", "12", None),
    ("rotate_quad", "12/34", "1231/3442/2443/1321"), ("rotate_quad", "12", None),
    ("fractal", "10/01", "1000/0100/0010/0001"), ("fractal_inverse", "10/01", "0010/0001/1000/0100"),
    ("symmetrise_lr", "100/000", "101/000"), ("symmetrise_ud", "10/00", "10/10"),
    ("symmetrise_both", "100/000/000", "101/000/101"), ("symmetrise_rot", "10/00", "11/11"),
    ("symmetrise_diag", "12/00", "12/20"), ("symmetrise_rot", "10", None),
    ("top_half", "1/2/3", "1"), ("bottom_half", "1/2/3", "3"), ("left_half", "123", "1"),
    ("right_half", "123", "3"), ("top_half", "12", None),
    ("trim_border", "111/121/111", "2"), ("add_border", "1", "MMM/M1M/MMM"),
    ("shift_up", "1/2", "2/0"), ("shift_down", "1/2", "0/1"), ("shift_left", "12", "20"),
    ("shift_right", "12", "01"),
    ("gravity_down", "10/01/00", "00/00/11"), ("gravity_up", "10/01/00", "11/00/00"),
    ("gravity_left", "010/001", "100/100"), ("gravity_right", "100/010", "001/001"),
    ("fill_enclosed", "111/101/111", "111/1H1/111"), ("fill_enclosed", "0100/1010/0100/0000", "0100/1H10/0100/0000"),
    ("fill_enclosed_8", "111/101/111", "111/1H1/111"),
    ("fill_enclosed_8", "0100/1010/0100/0000", "0100/1010/0100/0000"),
    ("mark_interior", "111/111/111", "111/1M1/111"), ("hollow", "111/111/111", "111/101/111"),
    ("halo_4", "000/010/000", "0M0/M1M/0M0"), ("halo_8", "000/010/000", "MMM/M1M/MMM"),
    ("rays_down", "100/000", "100/100"), ("rays_up", "000/010", "010/010"), ("rays_right", "100/000", "111/000"),
    ("rays_left", "001", "111"), ("rays_vertical", "000/010/000", "010/010/010"),
    ("rays_horizontal", "000/010/000", "000/111/000"), ("rays_cross", "000/010/000", "010/111/010"),
    ("rays_diagonal", "000/010/000", "101/010/101"), ("rays_star", "000/010/000", "111/111/111"),
    ("rays_right", "1020", "1122"),
    ("connect_h", "101/000", "111/000"), ("connect_v", "10/00/10", "10/10/10"),
    ("connect_hv", "101/000/100", "111/100/100"), ("connect_h_mark", "101", "1M1"),
    ("connect_v_mark", "1/0/1", "1/M/1"), ("connect_hv_mark", "101/000/100", "1M1/M00/100"),
    ("connect_h", "102", "102"), ("connect_h", "10201", "10201"), ("connect_v", "2/0/0/2/0", "2/2/2/2/0"),
    # diagonal gaps between equal colours; where both diagonals bridge a cell the down-right one wins
    ("connect_diagonal", "100/000/001", "100/010/001"), ("connect_diagonal", "001/000/100", "001/010/100"),
    ("connect_diagonal", "102/000/201", "102/010/201"), ("connect_diagonal", "100/000/002", "100/000/002"),
    ("drop_specks", "100/000/011", "000/000/011"), ("drop_specks", "110", "110"),
    ("split_lr_and", "1240/0003", "M0/00"), ("split_lr_or", "1240/0003", "MM/0M"),
    ("split_lr_xor", "1240/0003", "0M/0M"), ("split_lr_nor", "1240/0003", "00/M0"),
    ("split_lr_first_only", "1240/0003", "0M/00"), ("split_lr_second_only", "1240/0003", "00/0M"),
    ("split_lr_overlay_first", "1240/0003", "12/03"), ("split_lr_overlay_second", "1240/0003", "42/03"),
    ("split_tb_and", "10/20/40/03", "M0/00"), ("split_tb_or", "10/20/40/03", "M0/MM"),
    ("split_tb_xor", "10/20/40/03", "00/MM"), ("split_tb_nor", "10/20/40/03", "0M/00"),
    ("split_tb_first_only", "10/20/40/03", "00/M0"), ("split_tb_second_only", "10/20/40/03", "00/0M"),
    ("split_tb_overlay_first", "10/20/40/03", "10/23"), ("split_tb_overlay_second", "10/20/40/03", "40/23"),
    ("split_lr_or", "10501/00503", "MM/0M"), ("split_lr_and", "120/000", None),
    ("count_row", "100/001", "11"), ("count_column", "100/001", "1/1"), ("count_square", "100/001", "11/11"),
    ("count_diagonal", "100/001", "10/01"),
    ("majority_colour_cell", "122/000", "2"), ("minority_colour_cell", "122/000", "1"),
    ("paint_majority", "122/300", "222/200"), ("paint_mark", "102", "M0M"), ("invert_mask", "102", "0M0"),
    ("rays_down_mark", "100/000", "100/M00"), ("rays_up_mark", "000/010", "0M0/010"),
    ("rays_right_mark", "100/000", "1MM/000"), ("rays_left_mark", "001", "MM1"), ("rays_right_mark", "1020", "1M2M"),
    ("rays_vertical_mark", "000/010/000", "0M0/010/0M0"), ("rays_horizontal_mark", "000/010/000", "000/M1M/000"),
    ("rays_cross_mark", "000/010/000", "0M0/M1M/0M0"), ("rays_diagonal_mark", "000/010/000", "M0M/010/M0M"),
    ("fractal_minority", "22/10", "0000/0000/2200/1000"), ("fractal_minority", "00", None),
    ("keep_centre_row", "123/456/789", "000/456/000"), ("keep_centre_column", "123/456/789", "020/050/080"),
    ("keep_centre_row", "12/34", None),
    ("recolour_nearest_minority", "2220/0001/0000", "2220/0002/0000"), ("recolour_nearest_minority", "110", None),
    ("recolour_nearest_majority", "5501/0000/0002", "1101/0000/0002"),
    ("paint_minority", "1112/0100", "2222/0200"), ("paint_minority", "000", None),
    ("fall_objects_down", "110/000/010/000", "000/000/110/010"), ("fall_objects_down", "000/010", None),
    ("fall_objects_up", "000/010", "010/000"), ("fall_objects_left", "01", "10"), ("fall_objects_right", "10", "01"),
    ("move_to_largest", "0100/0000/0000/0220/0220", "0000/0000/0100/0220/0220"),
    ("move_to_largest", "1000/0000/0022/0022", None),
    ("move_to_smallest", "1110/0000/0000/0020", "0000/0000/1110/0020"),
    ("move_to_smallest", "11/00/22", None),
    # a dot draws its path to the largest object; one sharing no row or column with it stays a dot
    ("trail_to_largest", "0100/0000/0000/0220/0220", "0100/0100/0100/0220/0220"),
    ("trail_to_largest", "30000/00000/00022/10022", "30000/00000/00022/11122"),
    ("trail_to_largest", "1000/0000/0022/0022", None),
    # the path turns on the row of the lower colour (or of the higher), ending at the other's column
    ("elbow_low_row", "030/000/002", "030/0M0/0M2"), ("elbow_high_row", "030/000/002", "03M/00M/002"),
    ("step_low_toward_high", "300/000/004", "000/030/004"), ("step_high_toward_low", "30004", "30040"),
    ("step_low_toward_high", "34", None), ("step_high_toward_low", "303", None),
    ("midpoint", "10001", "10M01"), ("midpoint", "100/000/002", "100/0M0/002"), ("midpoint", "1001", None),
    ("midpoint", "100/002", None), ("midpoint", "10101", None),
    ("elbow_low_row", "2003", "2MM3"), ("elbow_low_row", "200/002", None), ("elbow_high_row", "230/001", None),
    ("keep_minority", "1112/0100", "0002/0000"),
    ("keep_majority", "1112/0100", "1110/0100"), ("keep_majority", "00", None),
    ("repeat_band_rows", "000/120/000/000/000", "120/120/120/120/120"),
    ("repeat_band_rows", "00/12/30/00/00", "30/12/30/12/30"), ("repeat_band_columns", "010/000", "111/000"),
    ("repeat_band_rows", "12/30", None), ("repeat_band_rows", "00", None),
    ("extend_periodic_right", "121", "121212"), ("extend_periodic_right", "123", "123123"),
    ("extend_periodic_down", "1/2/1/2/1", "1/2/1/2/1/2/1/2/1/2"),
    ("continue_runs", "00000/01200/00000", "00000/21212/00000"),
    ("continue_runs", "000/030/040/000/000", "040/030/040/030/040"),
    ("continue_runs", "0000/0120/0300/0000", "0300/2121/0300/0100"),
    ("continue_runs", "1020/0000", None), ("continue_runs", "100/000", None),
    ("halo_8_majority", "0000/0220/0000/0003", "MMMM/M22M/MMMM/0003"), ("halo_8_majority", "00", None),
    ("colours_by_count", "1223/0232", "2/3/1"), ("colours_by_count", "12/00", None), ("colours_by_count", "00", None),
    ("connect_edges", "0300/1001/0000/0340", "0300/1111/0300/0340"), ("connect_edges", "102/000", None),
    # bridges cross other colours; a separator colour (a full line) joins nothing; a two-colour cell stays empty
    ("bridge_h", "10301", "11311"), ("bridge_v", "1/3/0/1", "1/3/1/1"), ("bridge_h", "102", None),
    ("bridge_hv", "10001/00000/20002", "11111/00000/22222"), ("bridge_hv", "1020/0000/1000", "1020/1000/1000"),
    ("bridge_h", "50505/55555", None), ("bridge_h", "12021/30003", "12021/33333"),
    ("bridge_hv", "100/202/100", "100/222/100"),
    # the bar underneath comes on top where two bars cross; no crossing bars: None
    ("swap_crossings", "010/222/010", "010/212/010"), ("swap_crossings", "020/111/020", "020/121/020"),
    ("swap_crossings", "010/111/010", None), ("swap_crossings", "010/220/010", None),
    # the grid at the top-left of a larger empty canvas; nothing past 30 cells a side
    ("canvas_2x", "12/30", "1200/3000/0000/0000"), ("canvas_wide", "12", "1200"), ("canvas_tall", "1/2", "1/2/0/0"),
    ("canvas_2x", "1" * 16, None),
    ("repeated_half", "1212/3434", "12/34"), ("repeated_half", "12/34/12/34", "12/34"), ("repeated_half", "123", None),
    ("repeated_half", "12/21", None),
    # what a repair restored: the hidden cells of a symmetric (periodic) grid, cropped to their box
    ("symmetrise_vote_patch", "1221/2552/2002/1221", "55"), ("symmetrise_vote_patch", "12/34", None),
    ("repair_periodic_patch", "121212/212121/120012/212121", "12"), ("repair_periodic_patch", "1212/2121", None),
    # each row (column) its majority colour, whichever way keeps more cells; a tie or no change: None
    ("denoise_stripes", "1111/2212/3333", "1111/2222/3333"), ("denoise_stripes", "123/123/153", "123/123/123"),
    ("denoise_stripes", "11/22", None), ("denoise_stripes", "12/21", None),
]

# Labelling primitives: a box of cells (rows, columns) that take the label 1, the rest left as it is.
BOXED = [
    ("mark_box_minority", "1110/1030/0113", (slice(1, 3), slice(2, 4))),
    ("mark_box_minority", "2000/0000/0002", (slice(0, 3), slice(0, 4))),
]


@pytest.mark.parametrize(("name", "grid", "box"), BOXED)
def test_box_labelling_primitive(name, grid, box, G):
    grid = G(grid)
    expected = grid.copy()
    expected[box] = label_value(grid[box], 1)
    np.testing.assert_array_equal(BY_NAME[name].fn(grid), expected)
    assert BY_NAME[name].fn(G("000")) is None

# Labelling primitives: per cell of the grid, the label (None: background, left as it is).
LABELLED = [
    ("label_neighbours_4", "11/10", [[2, 1], [1, None]]), ("label_neighbours_8", "11/10", [[2, 2], [2, None]]),
    ("label_neighbours_4", "111/111/111", [[2, 3, 2], [3, 4, 3], [2, 3, 2]]),
    ("label_col_mod2", "1111", [[0, 1, 0, 1]]), ("label_col_mod3", "1101", [[0, 1, None, 0]]),
    ("label_row_mod2", "1/2/0", [[0], [1], [None]]), ("label_row_mod3", "1/2/3/4", [[0], [1], [2], [0]]),
    ("label_col_mod2_right", "1101", [[1, 0, None, 0]]), ("label_row_mod2_bottom", "1/2", [[1], [0]]),
]


@pytest.mark.parametrize(("name", "grid", "labels"), LABELLED, ids=[f"{c[0]}-{i}" for i, c in enumerate(LABELLED)])
def test_labelling_primitive(name, grid, labels, G):
    grid = G(grid)
    expected = np.array([[grid[r, c] if label is None else label_value(int(grid[r, c]), label)
                          for c, label in enumerate(row)] for r, row in enumerate(labels)], dtype=np.uint8)
    np.testing.assert_array_equal(BY_NAME[name].fn(grid), expected)


def test_rays_code(G):
    """Bits 0-3: reached by a ray going down, up, right, left; a colour stops the rays behind it."""
    out = BY_NAME["rays_code"].fn(G("0100/0000/0002"))
    expected = np.array([[10 + 8, 1, 10 + 4, 10 + 4 + 2],
                         [10, 10 + 1, 10, 10 + 2],
                         [10 + 8, 10 + 1 + 8, 10 + 8, 2]])
    np.testing.assert_array_equal(out, expected)
    # rays going down meet rays going left only below the top marks and left of the right-hand marks
    crossings = BY_NAME["rays_code"].fn(G("1010/0001/0000/0001")) == 10 + 1 + 8
    np.testing.assert_array_equal(crossings, G("0000/1010/0000/1010") == 1)


def test_mark_rays_differ_from_coloured_rays(G):
    """The marked rays cover the cells the coloured rays paint, and only those."""
    grid = G("0000/0100/0002/0000")
    for direction in ("down", "up", "right", "left", "vertical", "horizontal", "cross", "diagonal"):
        coloured, marked = BY_NAME[f"rays_{direction}"].fn(grid), BY_NAME[f"rays_{direction}_mark"].fn(grid)
        np.testing.assert_array_equal(marked == 10, (coloured != grid))


@pytest.mark.parametrize(("name", "grid", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_grid_primitive(name, grid, expected, G):
    out = BY_NAME[name].fn(G(grid))
    if expected is None:
        assert out is None
    else:
        assert out is not None and out.dtype == np.uint8
        np.testing.assert_array_equal(out, G(expected))


INVERSES = [("rot90", "rot270"), ("rot270", "rot90"), ("rot180", "rot180"), ("flip_lr", "flip_lr"),
            ("flip_ud", "flip_ud"), ("transpose", "transpose"), ("anti_transpose", "anti_transpose"),
            ("scale_up_2", "scale_down_2"), ("scale_up_3", "scale_down_3"), ("mirror_right", "left_half"),
            ("mirror_left", "right_half"), ("mirror_down", "top_half"), ("mirror_up", "bottom_half"),
            ("add_border", "trim_border"), ("tile_2x2", "top_half"), ("mirror_quad", "top_half")]


@pytest.mark.parametrize(("forward", "inverse"), INVERSES)
def test_round_trip(forward, inverse):
    rng = np.random.default_rng(0)
    for shape in [(3, 4), (5, 5), (2, 7)]:
        grid = rng.integers(0, 10, size=shape).astype(np.uint8)
        back = BY_NAME[inverse].fn(BY_NAME[forward].fn(grid))
        if forward in ("tile_2x2", "mirror_quad"):
            back = BY_NAME["left_half"].fn(back)  # one quadrant of the 2 x 2 layout
        np.testing.assert_array_equal(back, grid)


@pytest.mark.parametrize("name", ["gravity_down", "gravity_left", "fill_enclosed", "symmetrise_both", "rays_cross"])
def test_idempotent(name):
    """Applying these twice changes nothing more (a second fill has no holes left to mark)."""
    grid = np.random.default_rng(1).choice([0, 0, 0, 3, 4], size=(6, 7)).astype(np.uint8)
    grid[:3, :3] = [[3, 3, 3], [3, 0, 3], [3, 3, 3]]  # a hole, so that every one of them applies
    once = BY_NAME[name].fn(grid)
    assert once is not None
    twice = BY_NAME[name].fn(once)
    assert twice is None or np.array_equal(twice, once)


def test_fractal_by_value(G):
    """Block (i, j) is the grid, each cell labelled with the value of cell (i, j); a colour map that keeps
    only the blocks of colour 2 gives the Kronecker product with that colour's mask."""
    grid = G("20/01")
    out = BY_NAME["fractal_by_value"].fn(grid)
    assert out.shape == (4, 4)
    np.testing.assert_array_equal(out[:2, :2], label_value(grid, 2))
    np.testing.assert_array_equal(out[:2, 2:], label_value(grid, 0))
    np.testing.assert_array_equal(out[2:, 2:], label_value(grid, 1))
    keep_twos = np.where(out // 10 == 3, out % 10, 0)
    np.testing.assert_array_equal(keep_twos, np.kron(grid == 2, grid))
    assert BY_NAME["fractal_by_value"].fn(G("1234/5678/1234/5678/1234/5678/1234/5678")) is None  # 64 x 64


def test_symmetrise_vote(G):
    """The mirror views that mostly agree with the grid vote: noise of any colour on a minority of a cell's
    images is outvoted, background loses ties; a grid without such a view is left to other primitives."""
    clean = G("1221/4554/4554/1221")  # left-right and up-down symmetric; the transpose disagrees
    noisy = clean.copy()
    noisy[0, 1], noisy[2, 2] = 7, 0
    np.testing.assert_array_equal(BY_NAME["symmetrise_vote"].fn(noisy), clean)
    diagonal = G("123/245/356")
    holed = diagonal.copy()
    holed[0, 2] = 0  # a two-cell orbit: the colour wins the tie against background
    np.testing.assert_array_equal(BY_NAME["symmetrise_vote"].fn(holed), diagonal)
    assert BY_NAME["symmetrise_vote"].fn(G("12/34")) is None


@pytest.mark.parametrize(("direction", "expected"), [((1, 1), "100/010/001"), ((-1, -1), "100/000/000"),
                                                     ((1, -1), "100/000/000"), ((-1, 1), "100/000/000")])
def test_smear_runs_in_its_direction(direction, expected, G):
    """A diagonal ray from the top-left corner reaches the grid only going down-right."""
    np.testing.assert_array_equal(smear(G("100/000/000"), *direction), G(expected))


def test_every_grid_primitive_has_a_case():
    grid_ops = {p.name for p in PRIMITIVES if p.arg == GRID and p.result == GRID}
    grid_ops -= {"fractal_by_value", "symmetrise_vote", "rays_code"}  # tested above: values beyond M and H
    assert grid_ops - {c[0] for c in CASES} - {c[0] for c in LABELLED} - {c[0] for c in BOXED} == set()
    assert len(PRIMITIVES) >= 100
