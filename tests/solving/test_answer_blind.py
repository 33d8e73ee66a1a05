"""Solving never reads the test outputs: the same tasks solved with their answers, without them (as `solve`
gets them) and with wrong answers of other sizes give bitwise-identical attempts, votes and refinement.

Refinement is bounded by steps and the budget is far beyond what the tasks need, so the machine's speed
cannot change what runs; a test asserts that, so the comparison stays meaningful.
"""

import numpy as np
import torch

from arc_efe.data.task import Pair, Task
from arc_efe.solving.ttt import TTTConfig
from arc_efe.solving.run import run, without_test_outputs
from arc_efe.solving.solver import SolveConfig

from .conftest import make_recolor_task

VIEWS = 3
CFG = SolveConfig(time_budget=1e6, augmentations=VIEWS,
                  ttt=TTTConfig(max_steps=6, check_every=2, rows_per_step=4))
# What a record holds apart from its grades and wall time.
COMPARED = ("attempts", "plain_attempts", "refined", "votes", "views", "ttt", "error", "experts", "programs")


def tasks() -> list[Task]:
    """A same-size rule with a held-out demo and two tests, a doubling rule, and no size rule at all."""
    rng = np.random.default_rng(7)
    doubled = [Pair(g, np.kron(g, np.ones((2, 2), dtype=np.int64)))
               for g in (rng.integers(0, 4, (2, 3)), rng.integers(0, 4, (3, 3)), rng.integers(0, 4, (2, 2)))]
    free = [Pair(rng.integers(0, 5, (3, 3)), rng.integers(0, 5, shape)) for shape in ((1, 2), (4, 1), (2, 5))]
    return [
        make_recolor_task("recolor", demos=4, tests=2, seed=3),
        Task("doubled", doubled, [Pair(rng.integers(0, 4, (4, 2)), rng.integers(0, 4, (8, 4)))]),
        Task("no-rule", free, [Pair(rng.integers(0, 5, (3, 3)), rng.integers(0, 5, (2, 2)))]),
    ]


def with_wrong_answers(tasks: list[Task], seed: int = 1) -> list[Task]:
    """Each test output replaced by a random grid of another size (and, as it happens, other colours)."""
    rng = np.random.default_rng(seed)
    replaced = []
    for task in tasks:
        test = []
        for pair in task.test:
            h, w = pair.output.shape
            shape = (h % 30 + 1, (w + 2) % 30 + 1)  # differs in both sides from the true output's
            test.append(Pair(pair.input, rng.integers(0, 10, shape)))
        replaced.append(Task(task.id, task.train, test, task.source, dict(task.meta)))
    return replaced


def solve_all(system, variant: list[Task], out) -> tuple[dict, bytes]:
    """The records as the solver made them (not re-read from disk) and the submission file's bytes."""
    records = {}
    torch.manual_seed(0)  # the same seeds for every variant
    run(system, variant, CFG, out, checkpoint="tiny", report=False,
        on_record=lambda task, record, resumed: records.setdefault(task.id, record))
    return records, (out / "submission.json").read_bytes()


def fingerprint(record) -> dict:
    """The compared fields, with every grid as (shape, dtype, bytes) so equality is bitwise."""
    def frozen(value):
        if isinstance(value, np.ndarray):
            return value.shape, str(value.dtype), value.tobytes()
        if isinstance(value, (list, tuple)):
            return [frozen(v) for v in value]
        return value
    return {name: frozen(getattr(record, name)) for name in COMPARED}


def test_attempts_do_not_depend_on_the_test_outputs(system, tmp_path):
    original = tasks()
    variants = {"answers": original, "no_answers": without_test_outputs(original),
                "wrong_answers": with_wrong_answers(original)}
    assert all(p.output is None for t in variants["no_answers"] for p in t.test)
    assert all(p.output.shape != q.output.shape
               for t, u in zip(original, variants["wrong_answers"]) for p, q in zip(t.test, u.test))
    solved = {name: solve_all(system, variant, tmp_path / name) for name, variant in variants.items()}

    records, submission = solved["answers"]
    # The real path ran, and no clock decided anything: every view voted, refinement stopped by its steps.
    for task in original:
        record = records[task.id]
        assert record.error is None and record.views == VIEWS, (task.id, record.error, record.views)
        assert record.ttt["steps"] > 0 and record.ttt["stopped"] in ("max_steps", "solved")
    assert [records[t.id].ttt["size_rule"] is None for t in original] == [False, False, True]
    assert records["recolor"].ttt["holdout"] is not None
    assert records["recolor"].correct is not None  # the answers were there to grade
    for name in ("no_answers", "wrong_answers"):
        other_records, other_submission = solved[name]
        assert other_submission == submission, name
        for task in original:
            assert fingerprint(other_records[task.id]) == fingerprint(records[task.id]), (name, task.id)

