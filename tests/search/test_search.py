"""The search on small made-up tasks: it finds programs, ranks them, stops at its deadline and never
reads test outputs."""

import gc
import subprocess
import sys
import time

import numpy as np
import pytest

from arc_efe.data.task import Pair, Task
from arc_efe.search import SearchConfig, search_task


def task_of(pairs, tests, outputs=None) -> Task:
    outputs = outputs or [None] * len(tests)
    return Task("made-up", [Pair(np.array(i), np.array(o)) for i, o in pairs],
                [Pair(np.array(t), None if o is None else np.array(o)) for t, o in zip(tests, outputs)])


FLIP = task_of([([[1, 2, 0]], [[0, 2, 1]]), ([[3, 0], [0, 4]], [[0, 3], [4, 0]])], [[[5, 6], [7, 0]]])


def test_finds_a_one_step_program_first():
    result = search_task(FLIP, time.monotonic() + 20, SearchConfig(max_programs=1))
    assert result.programs[0] == ("flip_lr", 1)
    np.testing.assert_array_equal(result.candidates[0][0].grid, [[6, 5], [0, 7]])
    assert result.candidates[0][0].grid.dtype == np.int64


def test_records_when_the_first_program_was_found_apart_from_when_it_stopped():
    """A hit at depth 1 with the search kept going to depth 2: found early, stopped later."""
    result = search_task(FLIP, time.monotonic() + 20, SearchConfig(max_depth=2, past_first_hit=True))
    assert result.first_found_s is not None
    assert 0.0 <= result.first_found_s < result.seconds


def test_finds_a_two_step_program_with_a_colour_map():
    """Crop the largest object, then recolour it: two primitives and a fitted final."""
    demos = [([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [2, 0, 0, 0]], [[5, 5], [5, 5]]),
             ([[1, 0, 0], [0, 0, 0], [1, 1, 1]], [[5, 5, 5]])]
    task = task_of(demos, [[[0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 0, 3]]])
    result = search_task(task, time.monotonic() + 60, SearchConfig(max_programs=1, max_depth=2))
    np.testing.assert_array_equal(result.candidates[0][0].grid, [[5], [5], [5]])
    assert result.programs[0][1] <= 3


def test_candidates_are_distinct_and_ordered_by_length():
    result = search_task(FLIP, time.monotonic() + 20, SearchConfig(max_programs=4, max_depth=2,
                                                                              past_first_hit=True))
    lengths = [c.length for c in result.candidates[0]]
    assert len(lengths) >= 2 and lengths == sorted(lengths)
    grids = [c.grid.tobytes() + bytes(c.grid.shape) for c in result.candidates[0]]
    assert len(grids) == len(set(grids))


# How far past its deadline a search may return: it stops WIND_DOWN_S early, and its longest step between
# two looks at the clock took under 0.05 s on every training task; the rest is room for a loaded machine.
LATE_S = 0.25


def test_stops_at_the_deadline():
    """An unsolvable task: the search runs until the deadline, then returns promptly."""
    rng = np.random.default_rng(0)
    demos = [(rng.integers(0, 10, (12, 12)).tolist(), rng.integers(0, 10, (7, 5)).tolist()) for _ in range(3)]
    task = task_of(demos, [rng.integers(0, 10, (12, 12)).tolist()])
    for budget in (0.0, 0.3, 1.0):
        start = time.monotonic()
        result = search_task(task, start + budget)
        elapsed = time.monotonic() - start
        assert result.timed_out
        assert elapsed < budget + LATE_S
        assert result.candidates == [[]]
        assert result.first_found_s is None


def test_leaves_no_collection_due_to_the_caller():
    """The search collects the young objects it made before it returns: the caller's next allocation does
    not start a collection (which, when an old generation is due too, goes over the caller's whole heap).
    Run with the collector off, so that no automatic collection hides what the search left."""
    gc.disable()
    try:
        search_task(FLIP, time.monotonic() + 20, SearchConfig(max_depth=2, past_first_hit=True))
        assert gc.get_count()[0] < gc.get_threshold()[0]
    finally:
        gc.enable()


def test_the_cyclic_collector_comes_back_as_the_caller_had_it():
    """The search pauses it (its full collections overran the deadline), and restores it either way."""
    try:
        search_task(FLIP, time.monotonic() + 20, SearchConfig(max_depth=1))
        assert gc.isenabled()
        gc.disable()
        search_task(FLIP, time.monotonic() + 20, SearchConfig(max_depth=1))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_blind_to_test_outputs():
    """Removing or replacing the test outputs changes nothing in the result."""
    demos = [([[1, 1, 0], [0, 0, 0]], [[2, 2, 0], [0, 0, 0]]), ([[0, 1], [1, 0]], [[0, 2], [2, 0]])]
    tests = [[[1, 0, 1]], [[0, 0], [0, 1]]]
    runs = []
    for outputs in (None, [[[2, 0, 2]], [[0, 0], [0, 2]]], [[[9]], [[9, 9, 9]]]):
        result = search_task(task_of(demos, tests, outputs), time.monotonic() + 30, SearchConfig(max_depth=2))
        runs.append([[(c.grid.tobytes(), c.grid.shape, c.program, c.length) for c in per] for per in result.candidates])
    assert runs[0] == runs[1] == runs[2]
    assert runs[0][0]  # it did find something to compare


def test_stops_after_the_first_depth_with_programs():
    result = search_task(FLIP, time.monotonic() + 20, SearchConfig(max_depth=3))
    assert result.depth_done == 1 and not result.timed_out
    assert result.programs[0] == ("flip_lr", 1)


def test_config_is_validated():
    with pytest.raises(ValueError):
        SearchConfig(max_depth=0).validate()
    with pytest.raises(ValueError, match="max_evaluated"):
        SearchConfig(max_evaluated=0).validate()


def test_a_cap_on_programs_tried_stops_the_search_with_the_same_result_every_time():
    """The cap is work, not time: the same programs tried, the same state, however slow the machine."""
    rng = np.random.default_rng(0)
    demos = [(rng.integers(0, 10, (12, 12)).tolist(), rng.integers(0, 10, (7, 5)).tolist()) for _ in range(3)]
    task = task_of(demos, [rng.integers(0, 10, (12, 12)).tolist()])
    cfg = SearchConfig(max_evaluated=500)
    first, second = (search_task(task, time.monotonic() + 60, cfg) for _ in range(2))
    assert first.timed_out and second.timed_out
    assert first.evaluated == second.evaluated == 501  # the 501st is where it stopped
    assert first.depth_done == second.depth_done and first.seconds < 60


def test_imports_no_torch_and_no_later_stage():
    """The search is numpy/scipy only and sits beside the solver: it imports nothing past arc_efe.data."""
    code = ("import sys, arc_efe.search; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('arc_efe.solving', 'arc_efe.agent', "
            "'arc_efe.encoder', 'arc_efe.training'))]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_copy_of_the_test_input_is_not_a_prediction():
    """Every demo changes its input, so a program that leaves the test input as it is (here a colour map
    meeting a colour no demo showed) is not offered."""
    task = task_of([([[1, 0]], [[2, 0]]), ([[0, 1]], [[0, 2]])], [[[3, 0]]])
    result = search_task(task, time.monotonic() + 20, SearchConfig(max_depth=1, max_programs=50,
                                                                   past_first_hit=True))
    assert result.programs  # recolour{1>2} and others fit the demos
    assert all(not np.array_equal(c.grid, [[3, 0]]) for c in result.candidates[0])


def test_a_crop_final_does_not_end_the_search_early():
    """A fixed-window crop fits at depth 0 (the top-left cell), but it counts as a longer program: the
    search goes on to the one-step program (the least frequent colour as one cell) and ranks it first."""
    demos = [([[3, 5, 5], [5, 5, 5]], [[3]]), ([[7, 4], [4, 4]], [[7]]), ([[9, 2, 2], [2, 2, 2]], [[9]])]
    task = task_of(demos, [[[6, 6], [6, 1]]])
    result = search_task(task, time.monotonic() + 20, SearchConfig(max_depth=2))
    assert result.candidates[0][0].grid.tolist() == [[1]]


def test_an_overlay_of_two_states_is_found_and_ranks_after_single_programs():
    """Output = flip_lr(x)'s coloured cells over x: the composition final pairs the two states (depth 1 is
    not enough for a single program). The single program of the same length found later (flip_lr, then
    symmetrise_lr: the same rule) names the prediction instead."""
    demos = [([[1, 0, 5], [1, 0, 0], [0, 2, 0]], [[5, 0, 1], [1, 0, 1], [0, 2, 0]]),
             ([[0, 4, 6, 3], [7, 0, 0, 0], [8, 0, 0, 9]], [[3, 6, 4, 3], [7, 0, 0, 7], [9, 0, 0, 8]])]
    task = task_of(demos, [[[2, 0, 3, 5], [0, 0, 0, 4]]])
    result = search_task(task, time.monotonic() + 60, SearchConfig(max_depth=2, max_programs=50))
    assert result.candidates[0][0].grid.tolist() == [[5, 3, 3, 2], [4, 0, 0, 4]]
    assert result.programs[0] == ("flip_lr | symmetrise_lr", 2)
    shallow = search_task(task, time.monotonic() + 60, SearchConfig(max_depth=2, max_programs=1))
    assert shallow.programs[0] == ("overlay(flip_lr(x), x)", 2)  # stopped before the single program
