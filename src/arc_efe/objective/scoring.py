"""ARC scores of attempts against known test outputs: the Kaggle and ARC Prize averages, and attempt 1's
cell accuracy. Below both training (held-out evaluation) and solving (submissions, reports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from arc_efe.data.task import Task

NUM_ATTEMPTS = 2  # ARC scores the first two attempts per test input

Attempts = dict[str, list[list[np.ndarray]]]  # {task_id: [[attempt_1, attempt_2, ...] per test input]}


@dataclass
class Scores:
    """Both ARC averaging rules, plus per-test detail.

    `test_score` (Kaggle) averages over all test inputs; `task_score` (ARC Prize) averages each task's
    solved fraction over tasks, so a task with many test inputs does not weigh more.
    """

    test_score: float
    task_score: float
    solved_tasks: list[str]
    per_task: dict[str, list[bool]]
    num_tasks: int
    num_test_inputs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_attempts(attempts: Attempts, tasks: list[Task]) -> Scores:
    """An attempt counts only if the whole grid, size included, equals the expected output. `attempts`
    must cover every test input of `tasks`, whose outputs must be known (ValueError naming the task)."""
    if not tasks:
        raise ValueError("no tasks to score against")
    per_task: dict[str, list[bool]] = {}
    for task in tasks:
        if not task.test:
            raise ValueError(f"task {task.id}: no test inputs to score")
        results = []
        for i, pair in enumerate(task.test):
            if pair.output is None:
                raise ValueError(f"task {task.id}, test {i}: expected output unknown, cannot score")
            tries = attempts[task.id][i][:NUM_ATTEMPTS]
            results.append(any(np.array_equal(np.asarray(a), pair.output) for a in tries))
        per_task[task.id] = results
    num_tests = sum(len(r) for r in per_task.values())
    return Scores(
        test_score=sum(sum(r) for r in per_task.values()) / num_tests,
        task_score=float(np.mean([sum(r) / len(r) for r in per_task.values()])),
        solved_tasks=[tid for tid, r in per_task.items() if all(r)],
        per_task=per_task,
        num_tasks=len(tasks),
        num_test_inputs=num_tests,
    )


def first_attempt_cell_accuracy(attempts: Attempts, tasks: list[Task]) -> float:
    """Mean over test inputs of attempt 1's cell accuracy (0 when its size is wrong)."""
    accs = []
    for task in tasks:
        for pair, tries in zip(task.test, attempts[task.id]):
            guess, truth = tries[0], pair.output
            accs.append(float((guess == truth).mean()) if guess.shape == truth.shape else 0.0)
    return float(np.mean(accs)) if accs else 0.0
