"""The induced cell rules as a program of the search expert (rules_expert.py): offered only when every demo
follows from the rules of the other demos, never from a test output."""

import numpy as np

from arc_efe.data.task import Pair, Task
from arc_efe.search import SearchConfig
from arc_efe.solving.rules_expert import PROGRAM, rules_predictions
from arc_efe.solving.solver import SolveConfig, Solver
from tests.solving.test_solver import flip_task


def outline_task(seed: int = 0, demos: int = 3) -> Task:
    """Each cell of a solid rectangle that touches the background by a side becomes 8: a neighbourhood rule."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(demos + 1):
        g = np.zeros((9, 9), dtype=np.int64)
        top, left = rng.integers(0, 3, 2)
        h, w = rng.integers(4, 6, 2)
        g[top : top + h, left : left + w] = 3
        out = g.copy()
        out[top, left : left + w] = out[top + h - 1, left : left + w] = 8
        out[top : top + h, left] = out[top : top + h, left + w - 1] = 8
        pairs.append(Pair(g, out))
    return Task(f"outline{seed}", pairs[:demos], pairs[demos:])


def test_rules_that_every_demo_follows_answer_the_test():
    task = outline_task()
    got = rules_predictions(task)
    assert got is not None and np.array_equal(got[0], task.test[0].output)


def test_no_answer_when_a_demo_does_not_follow_from_the_others():
    rng = np.random.default_rng(1)
    pairs = [Pair(rng.integers(0, 4, (5, 5)), rng.integers(0, 4, (5, 5))) for _ in range(4)]
    assert rules_predictions(Task("noise", pairs[:3], pairs[3:])) is None
    # A colour map whose demos each show a colour no other demo has: the rules fit the demos but predict none
    # of them from the others.
    maps = [Pair(np.full((3, 3), c), np.full((3, 3), c + 4)) for c in (1, 2, 3)]
    assert rules_predictions(Task("maps", maps[:2], maps[2:])) is None
    assert rules_predictions(Task("one", [outline_task().train[0]], outline_task().test)) is None  # one demo


def test_the_search_expert_offers_the_rules_as_a_program(system):
    task = outline_task(seed=2)
    no_search = SearchConfig(max_evaluated=1)  # the DSL search stops at once: only the rules can answer
    ruled = Solver(system, SolveConfig(time_budget=5.0, experts=["search"], search=no_search)).solve(task)
    assert ruled.solved and ruled.lever == "search" and ruled.programs[0][0] == PROGRAM
    off = Solver(system, SolveConfig(time_budget=5.0, experts=["search"], search=no_search, rules=False)).solve(task)
    assert not off.solved and PROGRAM not in off.programs[0]
    assert ruled.stages["rules"] > 0 and "rules" not in off.stages  # timed on the task's clock, apart from the search
    flipped = Solver(system, SolveConfig(time_budget=5.0, experts=["search"])).solve(flip_task())
    assert flipped.programs[0][0] != PROGRAM  # a shorter DSL program ranks first


def test_the_rules_never_read_a_test_output():
    task = outline_task(seed=3)
    hidden = Task(task.id, task.train, [Pair(p.input, None) for p in task.test])
    wrong = Task(task.id, task.train, [Pair(p.input, np.zeros_like(p.output)) for p in task.test])
    got = rules_predictions(task)
    assert got is not None
    for other in (hidden, wrong):
        assert all(np.array_equal(a, b) for a, b in zip(rules_predictions(other), got))
