"""The induced cell rules as a verified program: the search expert's other source of candidates.

The rule table's induced rules (`agent/induced_rules.py`: per cell kind, the output colour every demo agreed on;
with views, canvas and blind kinds) are read by a table-reading agent through its prompt, but they are also a
program in their own right: induced from the demos, they predict every test cell or say they cannot. Like a
program of the DSL search they must earn trust on the demos first, here more strictly than by fitting them
(rules induced from every demo reproduce those demos by construction): each demo must come out exactly from the
rules induced from the *other* demos. Only then are the rules of all demos run on the test inputs. A cell no rule
decides keeps its colour where the output has the input's shape (as the table-reading agent's lookup reads it);
on any other canvas every cell must be decided. No weight and no test output is read.

On the 400 ARC-AGI-1 training tasks (session 27), requiring every cell decided, the rules answered 73 tasks, all
right; keeping undecided cells, 81, 80 of them right (`python bench/rules_expert.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from arc_efe.agent import induced_rules
from arc_efe.agent.rule_table import INDUCED_RULES
from arc_efe.data.task import Task
from arc_efe.search.engine import copies_an_input, demos_change

BUCKETS = 1024  # the trained table models' `rule_table_induced`: few keys of a rule share a bucket
PROGRAM = "induced_rules"
# Its place among the search's programs (by length, shorter first): after one primitive with a fitted final.
LENGTH = 2

Pair = tuple[np.ndarray, np.ndarray]


def _predict(pairs: Sequence[Pair], grid: np.ndarray) -> np.ndarray | None:
    """The output the rules of `pairs` give `grid` (undecided cells of an input-shaped output keep their colour),
    or None where a cell of another canvas is undecided or no size rule gives one."""
    encoded = induced_rules.write(pairs, INDUCED_RULES, BUCKETS, views=True, canvas=True, blind=True)
    colour, _ = induced_rules.decide(encoded, grid, INDUCED_RULES, BUCKETS)
    if colour.shape == grid.shape:
        return np.where(colour >= 0, colour, grid)
    return colour if colour.size and (colour >= 0).all() else None


def rules_predictions(task: Task) -> list[np.ndarray] | None:
    """The induced rules' outputs of `task`'s test inputs when every demo is reproduced by the rules of the
    others (tasks with at least two demos), else None; None too where an output copies its test input although
    every demo changes its input (the rules met nothing they know)."""
    pairs = [(p.input, p.output) for p in task.train]
    if len(pairs) < 2:
        return None
    for i, (grid, output) in enumerate(pairs):
        got = _predict(pairs[:i] + pairs[i + 1 :], grid)
        if got is None or got.shape != output.shape or not np.array_equal(got, output):
            return None
    predictions = [_predict(pairs, p.input) for p in task.test]
    if any(p is None for p in predictions):
        return None
    if demos_change(task) and copies_an_input(predictions, [p.input for p in task.test]):  # as the DSL search
        return None
    return predictions
