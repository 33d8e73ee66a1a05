"""Solving tasks in several processes at once.

On a CPU one refinement update is bound by per-op overhead, not arithmetic: a second thread does not make
it faster (BENCHMARKS.md). N one-thread processes therefore solve N tasks at a time at the same per-task
quality. Each worker gets its own private copy of the system (made at start) and of the solve config.
"""

from __future__ import annotations

import copy
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch

from arc_efe.data.task import Task
from arc_efe.system import ArcSystem
from arc_efe.solving.records import TaskRecord
from arc_efe.solving.solver import SolveConfig, Solver

_worker_solver: Solver | None = None


def _start_worker(system: ArcSystem, cfg: SolveConfig) -> None:
    global _worker_solver
    torch.set_num_threads(1)
    # multiprocessing hands torch tensors over in shared memory: without a private copy, every worker's
    # test-time training would write into the weights the other workers (and the parent) are reading.
    _worker_solver = Solver(copy.deepcopy(system), cfg)


def _solve_one(task: Task) -> TaskRecord:
    return _worker_solver.solve(task)


def solve_in_workers(system: ArcSystem, cfg: SolveConfig, tasks: list[Task],
                     workers: int) -> Iterator[tuple[Task, TaskRecord]]:
    """Yield (task, record) for every task as the `workers` processes finish them (completion order)."""
    context = multiprocessing.get_context("spawn")  # fork would share torch's thread pools and locks
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(system, cfg)) as pool:
        pending = {pool.submit(_solve_one, task): task for task in tasks}
        for future in as_completed(pending):
            yield pending[future], future.result()
