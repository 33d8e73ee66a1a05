"""Size rules read off demo shapes: each form, the order of preference, and the per-view sides."""

import numpy as np

from arc_efe.data.augment import Augmentation
from arc_efe.data.task import Pair, Task
from arc_efe.solving.size_rule import infer_size_rule, task_size_rule, view_sizes


def rule_of(pairs, queries=()):
    rule = infer_size_rule(pairs, list(queries))
    return None if rule is None else str(rule)


def test_each_form_of_rule_is_found():
    assert rule_of([((3, 4), (3, 4)), ((5, 2), (5, 2))]) == "hxw"
    assert rule_of([((3, 4), (6, 12)), ((5, 2), (10, 6))]) == "2hx3w"
    assert rule_of([((6, 4), (2, 2)), ((9, 8), (3, 4))]) == "1/3hx1/2w"
    assert rule_of([((3, 4), (4, 3)), ((5, 2), (2, 5))]) == "wxh"  # a transpose
    assert rule_of([((3, 4), (1, 1)), ((5, 7), (1, 1))]) == "1x1"
    assert rule_of([((3, 4), (3, 1)), ((5, 7), (5, 1))]) == "hx1"  # one side each way


def test_content_dependent_sizes_get_no_rule():
    assert rule_of([((10, 10), (3, 2)), ((10, 10), (4, 4))]) is None
    assert rule_of([]) is None


def test_the_rule_must_give_each_query_a_whole_size():
    # Outputs all 3x3 from 9x9 inputs: "a third" and "3" both fit; a 10x10 query rules out the third.
    pairs = [((9, 9), (3, 3)), ((9, 9), (3, 3))]
    assert rule_of(pairs, [(9, 9)]) == "1/3hx1/3w"
    assert rule_of(pairs, [(10, 10)]) == "3x3"
    assert rule_of([((3, 3), (9, 9))], [(11, 11)]) == "9x9"  # 3 x 11 = 33 is beyond 30
    assert rule_of([((10, 10), (3, 2)), ((12, 12), (3, 2))], [(4, 4)]) == "3x2"


def test_task_rule_and_view_sizes_follow_the_view():
    rng = np.random.default_rng(0)
    demos = [Pair(rng.integers(0, 10, (h, w)), rng.integers(0, 10, (2 * h, w))) for h, w in ((2, 3), (4, 1))]
    task = Task("double-height", demos, [Pair(rng.integers(0, 10, (3, 5)))])
    rule = task_size_rule(task)
    assert str(rule) == "2hxw"
    inputs = [task.test[0].input]
    assert view_sizes(rule, inputs, 0) == [(6, 5)]
    assert view_sizes(rule, inputs, 1) == [(5, 6)]  # a quarter turn swaps the sides
    for d8 in range(8):  # in every view, the rule's size is the view of the identity output's shape
        output = np.zeros((6, 5))
        assert view_sizes(rule, inputs, d8) == [Augmentation(d8).apply(output).shape]
