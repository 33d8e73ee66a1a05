"""Solver.solve_group: K tasks whose test-time training runs batched give each task the record it gets
solved alone (same attempts, same fit) when updates, not time, bound the fit; the group keeps its budget;
a task that fails leaves the others' records; one task is `solve`."""

import numpy as np

from arc_efe.data.task import Pair, Task
from arc_efe.solving.solver import SolveConfig, Solver
from arc_efe.solving.ttt import TTTConfig

FIT_KEYS = ("holdout", "steps", "best_step", "stopped", "views", "size_rule", "demo_before", "demo_after")


def tasks(recolor_task) -> list[Task]:
    """A recolouring task (with a size rule), a cropping task whose output sizes follow no rule, a 2-demo task."""
    rng = np.random.default_rng(3)
    crops = [Pair(g, g[:h, :w]) for g, (h, w) in
             zip((rng.integers(0, 3, (n, n)) for n in (3, 4, 5)), [(2, 3), (4, 1), (1, 1)])]
    return [recolor_task("recolor", demos=4, seed=1), Task("crop", crops, [Pair(rng.integers(0, 3, (3, 3)))]),
            recolor_task("two-demos", demos=2, seed=2)]


def assert_same_record(grouped, alone) -> None:
    assert grouped.error is None and alone.error is None
    for a, b in zip(grouped.attempts, alone.attempts):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert {k: grouped.ttt.get(k) for k in FIT_KEYS} == {k: alone.ttt.get(k) for k in FIT_KEYS}
    assert grouped.views == alone.views


def test_a_group_gives_each_task_its_one_task_record(system, recolor_task):
    cfg = SolveConfig(time_budget=120, experts=["neural"], augmentations=3,
                      ttt=TTTConfig(max_steps=12, check_every=4, adapter_lr=3e-2))
    group = tasks(recolor_task)
    solver = Solver(system, cfg)
    grouped = solver.solve_group(group)
    assert [r.id for r in grouped] == [t.id for t in group]
    assert any(r.ttt["steps"] > 0 and r.ttt["best_step"] > 0 for r in grouped)
    assert grouped[0].ttt["size_rule"] is not None and grouped[1].ttt["size_rule"] is None  # both kinds of pass
    for task, record in zip(group, grouped):
        assert_same_record(record, solver.solve(task))


def test_a_group_keeps_its_budget(system, recolor_task):
    cfg = SolveConfig(time_budget=2.0, experts=["neural"], ttt=TTTConfig(max_steps=100_000, adapter_lr=1e-6,
                                                                         prompt_lr=1e-6))
    records = Solver(system, cfg).solve_group(tasks(recolor_task))
    assert all(r.error is None and r.ttt["stopped"] == "budget" and r.ttt["steps"] > 0 for r in records)
    assert all(r.views > 0 for r in records)  # every task still voted: the group reserved each one's vote
    assert max(r.seconds for r in records) <= 2.3


def test_a_failing_task_leaves_the_others(system, recolor_task, monkeypatch):
    cfg = SolveConfig(time_budget=120, experts=["neural"], augmentations=2, ttt=TTTConfig(max_steps=4))
    solver = Solver(system, cfg)
    group = tasks(recolor_task)
    prepare = solver._prepare

    def broken(task, clock, search):
        if task.id == "crop":
            raise RuntimeError("broken task")
        return prepare(task, clock, search)

    monkeypatch.setattr(solver, "_prepare", broken)
    records = solver.solve_group(group)
    assert records[1].error == "RuntimeError: broken task"
    assert records[1].attempts[0][0].tolist() == group[1].test[0].input.tolist()  # the fallback attempts
    monkeypatch.undo()
    for k in (0, 2):
        assert_same_record(records[k], solver.solve(group[k]))


def test_one_task_is_solve(system, recolor_task, monkeypatch):
    solver = Solver(system, SolveConfig(time_budget=120, experts=["neural"], ttt=TTTConfig(max_steps=2)))
    calls = []
    monkeypatch.setattr(solver, "solve", lambda task: calls.append(task.id) or "record")
    assert solver.solve_group([recolor_task("only")]) == ["record"] and calls == ["only"]
