"""The cells final: cells between separator lines filled with fixed views of fixed cells, and what it refuses."""

import numpy as np

from arc_efe.search.finals import fit_finals
from arc_efe.search.finals_cells import cells_final


def test_an_empty_cell_gets_a_mirror_image_of_the_full_one(G):
    states = [G("12500/34500"), G("60500/78500")]
    outputs = [G("12521/34543"), G("60506/78587")]
    finals = fit_finals(states, outputs)
    assert [f.text for f in finals] == ["cells[0:id,0:flip_lr]"]
    np.testing.assert_array_equal(finals[0].apply(G("90500/12500")), G("90509/12521"))
    assert finals[0].apply(G("12/34")) is None  # no separator lines
    assert finals[0].apply(G("10502/00500")) is not None  # the second cell's content is overwritten
    assert finals[0].apply(G("105020/005000")) is None  # cells of two shapes


def test_refused_where_the_lines_change_or_nothing_moves(G):
    assert cells_final([G("12500/34500")], [G("12621/34643")]) is None  # the separator recoloured
    assert cells_final([G("12512/34534")], [G("12512/34534")]) is None  # the identity: a colour final's job
    assert cells_final([G("12500/34500")], [G("12599/34599")]) is None  # no view of any cell
