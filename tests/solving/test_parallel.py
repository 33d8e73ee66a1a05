"""Solving in several processes gives the records one process gives, and resumes the same way."""

import numpy as np
import pytest
import torch

from arc_efe.solving.records import read_records
from arc_efe.solving.ttt import TTTConfig
from arc_efe.solving.run import run
from arc_efe.solving.solver import SolveConfig


def test_two_workers_give_the_records_of_one_and_resume(system, tmp_path, recolor_task):
    # Bounded refinement and a generous budget: the records do not depend on timing.
    cfg = SolveConfig(time_budget=300, augmentations=2, ttt=TTTConfig(max_steps=4, check_every=2))
    tasks = [recolor_task(f"t{i}", demos=3, tests=1, seed=i) for i in range(3)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the workers, so the arithmetic is the same
    try:
        one = run(system, tasks, cfg, tmp_path / "one", checkpoint="tiny", report=False)
    finally:
        torch.set_num_threads(threads)
    seen = []
    two = run(system, tasks[:2], cfg, tmp_path / "two", checkpoint="tiny", report=False, workers=2)
    two = run(system, tasks, cfg, tmp_path / "two", checkpoint="tiny", report=False, workers=2,
              on_record=lambda task, record, resumed: seen.append((task.id, resumed)))
    assert sorted(seen) == [("t0", True), ("t1", True), ("t2", False)] and seen[-1] == ("t2", False)
    a, b = read_records(tmp_path / "one"), read_records(tmp_path / "two")
    for task in tasks:
        assert a[task.id].ttt["steps"] == b[task.id].ttt["steps"] == 4
        assert all(np.array_equal(x, y) for r1, r2 in zip(a[task.id].attempts, b[task.id].attempts)
                   for x, y in zip(r1, r2))
    assert one["task_score"] == two["task_score"] and two["num_tasks"] == 3


def test_workers_must_be_positive(system, tmp_path, recolor_task):
    with pytest.raises(ValueError, match="workers"):
        run(system, [recolor_task("t", demos=3, tests=1)], SolveConfig(time_budget=1), tmp_path, checkpoint="tiny",
            report=False, workers=0)


def test_each_worker_tunes_a_private_copy_of_the_weights(system):
    # multiprocessing passes tensors in shared memory: a worker that tuned the system it was handed would
    # write into the weights its siblings (and the parent) are reading, and records would depend on timing.
    from arc_efe.solving import parallel

    threads = torch.get_num_threads()
    try:
        parallel._start_worker(system, SolveConfig(time_budget=1))
        private = parallel._worker_solver.system
    finally:
        torch.set_num_threads(threads)
        parallel._worker_solver = None
    ours = {p.data_ptr() for p in system.parameters()}
    assert private is not system and not ours & {p.data_ptr() for p in private.parameters()}
    assert all(torch.equal(a, b) for a, b in zip(system.parameters(), private.parameters()))
