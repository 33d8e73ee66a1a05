"""The stamp final: each object rewritten by the pattern the demos show around it, and what it refuses."""

import numpy as np
import pytest

from arc_efe.search.finals import fit_finals
from arc_efe.search.finals_stamp import STAMP_LENGTH, stamp_finals


def test_dots_get_the_pattern_the_demos_show(G):
    """A 2 grows a cross of 7s, a 3 is left alone; both recur, so the table is a rule, not a memory."""
    states = [G("00000/02000/00000/00003"), G("00000/00020/00000/30000")]
    outputs = [G("07000/72700/07000/00003"), G("00070/00727/00070/30000")]
    assert fit_finals(states, outputs) == []  # stamps only where the search asks for them
    finals = fit_finals(states, outputs, stamps=True)
    assert [f.text for f in finals][0].startswith("stamp_patches_4")
    assert finals[0].length == STAMP_LENGTH
    np.testing.assert_array_equal(finals[0].apply(G("00000/00000/00200/30000")), G("00000/00700/07270/30700"))


def test_a_cell_two_objects_share_is_learnt_where_one_object_stands_alone(G):
    """Next to a 3, the 2's cross is the 3's business too: learnt from the lone 2s, the 3 stays a keeper."""
    states = [G("00000/02000/00000/00003"), G("02000/00300/00000/00000/00020")]
    outputs = [G("07000/72700/07000/00003"), G("72700/07300/00000/00070/00727")]
    apply = dict(stamp_finals(states, outputs))["stamp_patches_4{2}"]
    np.testing.assert_array_equal(apply(G("00000/00200/00000/30000")), G("00700/07270/00700/30000"))


def test_shape_stamp_carries_over_to_a_new_colour(G):
    """A pair of cells gets a frame of 4 in any colour: keyed by shape, the object's own colour is SELF."""
    states = [G("0000/0110/0000/0000"), G("0000/0000/0220/0000")]
    outputs = [G("4444/4114/4444/0000"), G("0000/4444/4224/4444")]
    texts = [text for text, _ in stamp_finals(states, outputs)]
    assert texts == ["stamp_shapes_4{1}"]  # exact patches: each seen once, a memory, refused
    apply = dict(stamp_finals(states, outputs))["stamp_shapes_4{1}"]
    np.testing.assert_array_equal(apply(G("0000/0000/0000/0033")), G("0000/0000/0444/0433"))


def test_turned_stamp_serves_every_orientation(G):
    """Upright pairs twice, a lying pair once: only a table keyed up to rotation makes the lying one a rule."""
    states = [G("0000000/0100010/0100010/0000000"), G("0000/0110/0000")]
    outputs = [G("4440444/4140414/4140414/4440444"), G("4444/4114/4444")]
    assert [text for text, _ in stamp_finals(states, outputs)] == ["stamp_patches_turned_4{1}"]
    apply = stamp_finals(states, outputs)[0][1]
    np.testing.assert_array_equal(apply(G("00000/00000/00011")), G("00000/00444/00411"))


def test_unseen_object_refused_unless_some_object_was_kept(G):
    states = [G("2000/0000/0020")]
    outputs = [G("2700/7070/0727")]
    apply = dict(stamp_finals(states, outputs))["stamp_patches_4{1}"]
    assert apply(G("5000/0000/0000")) is None  # every object the demos showed changed
    states = [G("20005/00000/00000/00000/00020")]
    outputs = [G("27005/70000/00000/00070/00727")]
    apply = dict(stamp_finals(states, outputs))["stamp_patches_4{2}"]  # the 5 was kept: a new 8 is too
    np.testing.assert_array_equal(apply(G("00008/00000/20000")), G("00008/70000/27000"))


def test_changes_away_from_every_object_are_not_stamps(G):
    assert stamp_finals([G("100/000/000"), G("000/000/001")], [G("100/000/002"), G("200/000/001")]) == []


def test_the_callers_clock_is_asked_before_each_table(G):
    """Fitting every table on large grids took up to 60 ms: the search's clock gets a say between tables,
    and what it raises (the search's deadline) comes through."""
    states = [G("00000/02000/00000/00003"), G("00000/00020/00000/30000")]
    outputs = [G("07000/72700/07000/00003"), G("00070/00727/00070/30000")]
    calls = []
    stamp_finals(states, outputs, lambda: calls.append(1))
    assert len(calls) >= 1

    class Late(Exception):
        pass

    def late():
        raise Late

    with pytest.raises(Late):
        fit_finals(states, outputs, stamps=True, check=late)
