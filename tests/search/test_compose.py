"""The composition final: which piece may lie on top, which base fits under it, and what they predict."""

import numpy as np
import pytest

from arc_efe.search.compose import Pieces


def no_clock() -> None:
    pass


def test_overlay_of_a_clean_top_over_a_base(G):
    """Output = the top's coloured cells over the base: found, named, and applied to the test values."""
    pool = Pieces([G("120/002"), G("30/33")])
    assert pool.add((), [G("150/002"), G("30/03")], (G("10/00"),))  # the base: wrong where the top paints
    assert pool.add(("f",), [G("020/000"), G("00/30")], (G("02/20"),))  # the top: right wherever it paints
    [fit] = pool.compose(no_clock)
    assert fit.text == "overlay(f(x), x)" and fit.length == 2
    np.testing.assert_array_equal(fit.predict()[0], G("12/20"))


def test_a_top_painting_one_wrong_cell_is_refused(G):
    pool = Pieces([G("120/002")])
    pool.add((), [G("100/002")], (G("1"),))
    pool.add(("f",), [G("025/000")], (G("2"),))  # right at 2, wrong at 5
    assert pool.compose(no_clock) == []
    assert not pool.top[1]


def test_the_base_must_be_right_wherever_the_top_is_background(G):
    pool = Pieces([G("120/002")])
    pool.add((), [G("100/000")], (G("1"),))  # misses the 2 at the bottom right, which the top leaves alone
    pool.add(("f",), [G("020/000")], (G("2"),))
    assert pool.compose(no_clock) == []


def test_every_demo_must_fit(G):
    pool = Pieces([G("12"), G("34")])
    pool.add((), [G("10"), G("30")], (G("1"),))
    pool.add(("f",), [G("02"), G("05")], (G("2"),))  # right on the first demo only
    assert pool.compose(no_clock) == []


def test_pieces_of_another_shape_or_repeated_are_not_kept(G):
    pool = Pieces([G("12")])
    assert not pool.add((), [G("1/2")], (G("1"),))
    assert pool.add((), [G("10")], (G("1"),))
    assert not pool.add(("g",), [G("10")], (G("3"),))  # the same on every demo: the earlier program stands
    assert len(pool) == 1


def test_compose_pairs_only_what_is_new(G):
    """A second call finds nothing again; a base added later meets the top added before."""
    pool = Pieces([G("12")])
    pool.add(("f",), [G("02")], (G("02"),))
    pool.add(("g",), [G("55")], (G("15"),))  # not a base: wrong where the top is background
    assert pool.compose(no_clock) == []
    pool.add((), [G("13")], (G("30"),))
    [fit] = pool.compose(no_clock)
    assert fit.text == "overlay(f(x), x)"
    np.testing.assert_array_equal(fit.predict()[0], G("32"))
    assert pool.compose(no_clock) == []


def test_a_piece_equal_to_the_output_is_not_paired(G):
    """The identity final has it already: neither as base nor as top."""
    pool = Pieces([G("12")])
    pool.add((), [G("12")], (G("1"),))
    pool.add(("f",), [G("02")], (G("2"),))
    assert pool.compose(no_clock) == []


def test_shortest_compositions_first_and_shapes_checked_at_predict(G):
    pool = Pieces([G("12")])
    pool.add(("a", "b"), [G("13")], (G("1"),))
    pool.add(("f",), [G("02")], (G("2/2"),))
    assert not pool.add(("d",), [G("13")], (G("3"),))  # the same demos as a|b: dropped
    pool.add(("c",), [G("11")], (G("3"),))  # a base for the clean top too, one step shorter than a|b
    fits = pool.compose(no_clock)
    assert [f.text for f in fits] == ["overlay(f(x), c(x))", "overlay(f(x), b(a(x)))"]
    assert [f.length for f in fits] == [3, 4]
    assert fits[0].predict() is None  # the top's test value is 2 x 1, the base's 1 x 1


def test_the_clock_is_checked():
    class Late(Exception):
        pass

    def late() -> None:
        raise Late
    pool = Pieces([np.array([[1, 2]], dtype=np.uint8)])
    pool.add((), [np.array([[1, 0]], dtype=np.uint8)], ())
    pool.add(("f",), [np.array([[0, 2]], dtype=np.uint8)], ())
    with pytest.raises(Late):
        pool.compose(late)


def test_marks_are_coloured_as_the_demos_show_them(G):
    """A piece's marks take the one output colour their cells show; the map goes with the piece to the
    test, where a mark the demos never coloured refuses the prediction."""
    pool = Pieces([G("13/31"), G("31")])
    pool.add((), [G("15/51"), G("51")], (G("15"), G("15")))
    pool.add(("fill",), [G("0M/M0"), G("M0")], (G("M0"), G("H0")))  # mark 10 is 3 in both demos: a clean top
    [fit] = pool.compose(no_clock)
    assert fit.text == "overlay(recolour{10>3}(fill(x)), x)" and fit.length == 3
    assert fit.predict() is None  # the second test's hole mark (11) was never coloured
    fit = fit.__class__(fit.text, fit.length, fit.top[:1], fit.base[:1], fit.top_map, fit.base_map)
    np.testing.assert_array_equal(fit.predict()[0], G("35"))


def test_a_mark_is_coloured_only_by_one_colour_in_two_demos(G):
    pool = Pieces([G("34"), G("3"), G("4")])
    pool.add(("f",), [G("MM"), G("M"), G("1")], ())  # 10 shows two colours: never right
    pool.add(("g",), [G("HH"), G("1"), G("H")], ())  # 11 shows 3 and 4: never right
    pool.add(("h",), [G("H2"), G("H"), G("2")], ())  # 11 is 3 in two demos: mapped
    pool.add(("k",), [G("H1"), G("1"), G("1")], ())  # 11 shows once: a memorised demo, not mapped
    first = [pool.steps.index((name,)) for name in "fghk"]  # a piece with a coloured background is kept twice
    assert [int(pool.maps[i][10]) for i in first[:1]] == [-1]
    assert [int(pool.maps[i][11]) for i in first[1:]] == [-1, 3, -1]
    assert not pool.top[:first[2]].any()


def test_a_top_on_a_coloured_background(G):
    """A piece whose most common colour is not 0 is also a top with that colour as its background."""
    pool = Pieces([G("5255/5335")])
    pool.add((), [G("5555/5335")], (G("11/11"),))
    pool.add(("f",), [G("5255/5555")], (G("77/72"),))  # paints its 2 only: right there
    fits = {fit.text: fit for fit in pool.compose(no_clock)}
    # and the other way round: x's 3s (on its background 5) over f(x)
    assert sorted(fits) == ["overlay(clear_majority(f(x)), x)", "overlay(clear_majority(x), f(x))"]
    fit = fits["overlay(clear_majority(f(x)), x)"]
    assert fit.length == 3
    np.testing.assert_array_equal(fit.predict()[0], G("11/12"))
    assert [pool.top[i] for i, steps in enumerate(pool.steps) if steps == ("f",)] == [False, True]
    assert [pool.base[i] for i, steps in enumerate(pool.steps) if steps == ("f",)] == [True, False]
