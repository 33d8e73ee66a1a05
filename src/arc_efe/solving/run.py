"""One solving run over many tasks: solve (resumable), draw each task, write submission, scores, report.

`arc-efe evaluate` and `arc-efe solve` are thin wrappers around `run`. Under `torchrun` / `accelerate
launch` each rank solves its share of the tasks (`ranks.py`) and rank 0 writes the run's files, the same
files one process writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from arc_efe.config import to_dict
from arc_efe.data.task import Pair, Task
from arc_efe.system import ArcSystem
from arc_efe.solving import ranks as rk
from arc_efe.solving.parallel import solve_in_workers
from arc_efe.solving.records import TaskRecord, append_record, check_run, read_records
from arc_efe.solving.report import SCORES_FILE, render_record, write_outputs
from arc_efe.solving.solver import SolveConfig, Solver

logger = logging.getLogger(__name__)


@dataclass
class SolveRunConfig:
    """The config tree `evaluate` and `solve` resolve (defaults -> --config FILE -> flags -> --set
    solve.KEY=VALUE); its `solve` part is saved in run.json and must match when a run resumes."""

    solve: SolveConfig = field(default_factory=SolveConfig)

    def validate(self) -> None:
        self.solve.validate()


def check_parallel(workers: int, task_batch: int) -> None:
    """`workers` processes or `task_batch` tasks per batched fit (a GPU's way): each >= 1, not both > 1."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if task_batch < 1:
        raise ValueError(f"task batch must be >= 1, got {task_batch}")
    if workers > 1 and task_batch > 1:
        raise ValueError(f"workers ({workers}) and task batch ({task_batch}) cannot both be > 1: choose "
                         "processes (CPU) or batched tasks (GPU)")


def sample_tasks(tasks: list[Task], limit: int | None, seed: int) -> list[Task]:
    """A seeded random sample of `limit` tasks (all when None or not fewer), kept in id order."""
    if limit is None or limit >= len(tasks):
        return list(tasks)
    if limit < 1:
        raise ValueError(f"--limit must be >= 1, got {limit}")
    picked = np.random.default_rng(seed).choice(len(tasks), size=limit, replace=False)
    return [tasks[i] for i in sorted(int(i) for i in picked)]


def without_test_outputs(tasks: list[Task]) -> list[Task]:
    """The tasks with their test outputs dropped (a `solve` run never sees answers)."""
    return [Task(t.id, t.train, [Pair(p.input) for p in t.test], t.source, dict(t.meta)) for t in tasks]


def run(
    system: ArcSystem,
    tasks: list[Task],
    cfg: SolveConfig,
    out_dir: str | Path,
    checkpoint: str,
    report: bool = True,
    on_record: Callable[[Task, TaskRecord, bool], None] | None = None,
    workers: int = 1,
    contamination: dict[str, Any] | None = None,
    ranks: rk.Ranks | None = None,
    task_batch: int = 1,
) -> dict[str, Any]:
    """Solve `tasks` into `out_dir` (resuming a run with the same checkpoint and settings) and return
    the summary written to scores.json. `on_record(task, record, resumed)` follows each task; `workers`
    processes solve tasks at once (see solve_tasks). `contamination` (e.g. `{"contaminated": [ids]}`, what
    the caller found checking the checkpoint's training data) goes into scores.json and run.json.
    `ranks` (several: inside a joined process group, `ranks.joined`): this process solves its share, each
    rank with its own `workers`, and every rank returns rank 0's summary. `task_batch` K > 1: tasks are
    solved K at a time with batched test-time training (`Solver.solve_group`: K tasks share one budget of
    wall time); it changes results, so it is part of the run's settings."""
    ranks = ranks or rk.Ranks()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = {"checkpoint": str(checkpoint), "solve": to_dict(cfg),
                "known_outputs": all(t.has_test_outputs for t in tasks)}
    if task_batch > 1:  # absent at 1, so runs from before the flag resume unchanged
        settings["task_batch"] = task_batch
    if contamination:
        # A resume that would mix contaminated and clean scoring is refused like any other settings change.
        settings["contamination"] = contamination

    def after_task(task: Task, record: TaskRecord, resumed: bool) -> None:
        if report:
            # A resumed task's picture is already there unless the earlier run had no report.
            render_record(out_dir, task, record, overwrite=not resumed)
        if on_record is not None:
            on_record(task, record, resumed)

    check_parallel(workers, task_batch)
    if task_batch > 1 and cfg.precision == "bf16":
        # Measured with torch 2.13 on CPU: under torch.func.vmap, autocast leaves F.linear in fp32, so the
        # batched fit would not be the bf16 fit the settings name.
        raise ValueError("task batch > 1 needs precision fp32: bf16 autocast does not reach the linear layers "
                         "inside the batched (vmapped) test-time training")
    rk.prepare(out_dir, settings, ranks)
    if ranks.world == 1:
        records = solve_tasks(Solver(system, cfg), tasks, out_dir, settings, after_task, workers, task_batch)
    else:
        records = solve_share(Solver(system, cfg), tasks, out_dir, settings, after_task, workers, ranks,
                              task_batch)
    summary = None
    if ranks.main:
        if ranks.world > 1:
            rk.write_merged(out_dir, [records[t.id] for t in tasks])
            for task in tasks if report else ():  # pictures a rank drew on another machine's disk
                render_record(out_dir, task, records[task.id], overwrite=False)
        summary = write_outputs(out_dir, tasks, records, report)
        if contamination:
            summary.update(contamination)
            # write_outputs knows only the scores; the contamination record must sit beside them in scores.json.
            (out_dir / SCORES_FILE).write_text(json.dumps(summary, indent=2))
    summary = rk.from_main(summary, ranks)
    rk.finish(out_dir, ranks)
    return summary


def solve_share(
    solver: Solver,
    tasks: list[Task],
    out_dir: Path,
    settings: dict[str, Any],
    on_record: Callable[[Task, TaskRecord, bool], None] | None,
    workers: int,
    ranks: rk.Ranks,
    task_batch: int = 1,
) -> dict[str, TaskRecord]:
    """Solve this rank's share of `tasks` into its rank folder (resuming it), skipping tasks any rank had
    already recorded; return every task's record on rank 0 ({} on the others). `on_record` follows this
    rank's tasks only."""
    here = rk.rank_dir(out_dir, ranks.rank)
    local = read_records(here)
    earlier = read_records(out_dir) if ranks.main else {}  # a one-process run's, or one merged before
    done = rk.all_records({**earlier, **local}, ranks)
    todo = [t for t in rk.share(tasks, ranks) if t.id not in done or t.id in local]
    ours = solve_tasks(solver, todo, here, settings, on_record, workers, task_batch)
    merged = rk.records_to_main(ours, ranks)
    return {**done, **merged} if ranks.main else {}


def solve_tasks(
    solver: Solver,
    tasks: list[Task],
    out_dir: Path,
    settings: dict[str, Any],
    on_record: Callable[[Task, TaskRecord, bool], None] | None = None,
    workers: int = 1,
    task_batch: int = 1,
) -> dict[str, TaskRecord]:
    """Solve `tasks`, appending each record to `out_dir/tasks.jsonl` as it finishes; tasks already
    recorded there (same `settings`, see records.check_run) are not solved again. `on_record(task,
    record, resumed)` is called after each task: in task order, or with `workers` > 1 (tasks solved in
    that many processes, `parallel.py`) the resumed tasks first and the others as they finish. With
    `task_batch` K > 1 the tasks not yet recorded are solved in groups of K (`Solver.solve_group`), in
    task order."""
    check_parallel(workers, task_batch)
    check_run(out_dir, settings)
    done = read_records(out_dir)
    if done:
        logger.info("%s: %d of %d tasks already done, skipping them", out_dir, sum(t.id in done for t in tasks),
                    len(tasks))
    records: dict[str, TaskRecord] = {}

    def finish(task: Task, record: TaskRecord, resumed: bool) -> None:
        if not resumed:
            append_record(out_dir, record)
        records[task.id] = record
        if on_record is not None:
            on_record(task, record, resumed)

    if task_batch > 1:
        todo = [task for task in tasks if task.id not in done]
        groups = {t.id: todo[i - i % task_batch: i - i % task_batch + task_batch] for i, t in enumerate(todo)}
        for task in tasks:
            if task.id in done:
                finish(task, done[task.id], True)
            elif groups[task.id][0] is task:  # the group's first task: solve the whole group
                for member, record in zip(groups[task.id], solver.solve_group(groups[task.id])):
                    finish(member, record, False)
        return records
    if workers == 1:
        for task in tasks:
            resumed = task.id in done
            finish(task, done[task.id] if resumed else solver.solve(task), resumed)
        return records
    for task in tasks:
        if task.id in done:
            finish(task, done[task.id], True)
    todo = [task for task in tasks if task.id not in done]
    for task, record in solve_in_workers(solver.system, solver.cfg, todo, workers):
        finish(task, record, False)
    return records
