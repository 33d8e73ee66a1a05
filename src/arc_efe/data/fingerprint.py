"""Content fingerprints of tasks: the same puzzle hashes the same whatever its id, file name or source.

A fingerprint is a SHA-256 over the demonstration pairs (input and output) and the test inputs. Test
outputs are left out on purpose: a Kaggle challenges file ships without its solutions and must still match
the task it came from. Pair order is left out too (demos and test inputs are each hashed as a sorted
multiset): reordering a task's demos does not make it a new task, and the encoder itself is order-free.
hashlib, not hash(), so a fingerprint is the same in every process and on every machine.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from arc_efe.data.sources import load_tasks
from arc_efe.data.task import Task

__all__ = ["FINGERPRINT_SCHEME", "bundled_fingerprints", "fingerprint_index", "task_fingerprint"]

FINGERPRINT_SCHEME = "sha256 of demo pairs + test inputs (test outputs excluded), pair order ignored"


def _grid_digest(grid: np.ndarray) -> bytes:
    # The shape goes in explicitly: a 2x3 and a 3x2 grid with the same cells must differ.
    h, w = grid.shape
    return hashlib.sha256(f"{h}x{w}:".encode() + np.asarray(grid, dtype=np.uint8).tobytes()).digest()


def task_fingerprint(task: Task) -> str:
    """Hex fingerprint of `task`'s demo pairs and test inputs."""
    demos = sorted(_grid_digest(p.input) + _grid_digest(p.output) for p in task.train)
    tests = sorted(_grid_digest(p.input) for p in task.test)
    h = hashlib.sha256()
    h.update(b"demos")
    for d in demos:
        h.update(d)
    h.update(b"tests")
    for t in tests:
        h.update(t)
    return h.hexdigest()


def fingerprint_index(tasks: list[Task]) -> dict[str, list[str]]:
    """Fingerprint -> ids of the tasks with that content (a set may hold the same puzzle twice)."""
    index: dict[str, list[str]] = {}
    for task in tasks:
        index.setdefault(task_fingerprint(task), []).append(task.id)
    return index


@functools.lru_cache(maxsize=None)
def bundled_fingerprints(name: str) -> dict[str, list[str]]:
    """`fingerprint_index` of a bundled set, computed once per process (the sets never change).
    Callers must not mutate the result."""
    return fingerprint_index(load_tasks(name).tasks)
