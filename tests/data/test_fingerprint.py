"""Task fingerprints: same content -> same hash whatever the id, source, pair order or process; any grid
change -> another hash; test outputs do not count (a challenges file without solutions must match)."""

import os
import subprocess
import sys

import numpy as np

from arc_efe.data.fingerprint import bundled_fingerprints, task_fingerprint
from arc_efe.data.sources import find_task
from arc_efe.data.task import Pair, Task

TASK_ID = "007bbfb7"


def _copy(task: Task, **changes) -> Task:
    fields = {"id": task.id, "train": list(task.train), "test": list(task.test), "source": task.source}
    fields.update(changes)
    return Task(**fields)


def test_same_content_other_id_source_and_pair_order_matches():
    task = find_task(TASK_ID)
    renamed = _copy(task, id="my_puzzle", source="/tmp/folder", train=task.train[::-1])
    assert task_fingerprint(renamed) == task_fingerprint(task)


def test_test_outputs_do_not_count():
    task = find_task(TASK_ID)
    unsolved = _copy(task, test=[Pair(p.input) for p in task.test])
    assert task_fingerprint(unsolved) == task_fingerprint(task)


def test_any_grid_change_gives_another_fingerprint():
    task = find_task(TASK_ID)
    base = task_fingerprint(task)
    first = task.train[0]
    recoloured = first.output.copy()
    recoloured[0, 0] = (recoloured[0, 0] + 1) % 10
    changed_demo = _copy(task, train=[Pair(first.input, recoloured), *task.train[1:]])
    changed_test = _copy(task, test=[Pair(np.rot90(task.test[0].input).copy(), task.test[0].output)])
    dropped_demo = _copy(task, train=task.train[1:])
    fps = {task_fingerprint(t) for t in (changed_demo, changed_test, dropped_demo)}
    assert len(fps) == 3 and base not in fps


def test_shape_is_part_of_the_hash():
    # Same cells in the same memory order, other shape: a hash of the raw bytes alone would collide.
    flat = np.arange(6) % 10
    wide = Task("a", [Pair(flat.reshape(2, 3), flat.reshape(2, 3))], [Pair(flat.reshape(2, 3))])
    tall = Task("a", [Pair(flat.reshape(3, 2), flat.reshape(3, 2))], [Pair(flat.reshape(3, 2))])
    assert task_fingerprint(wide) != task_fingerprint(tall)


def test_stable_across_processes():
    code = ("from arc_efe.data.fingerprint import task_fingerprint; from arc_efe.data.sources import find_task; "
            f"print(task_fingerprint(find_task({TASK_ID!r})))")
    # A different hash seed would change hash()-based fingerprints; hashlib ones must not move.
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == task_fingerprint(find_task(TASK_ID))


def test_arc1_training_and_evaluation_share_exactly_one_puzzle():
    # A known duplicate inside ARC-AGI-1: training 40853293 has the grids of evaluation 070dd51e.
    train, evaluation = bundled_fingerprints("arc1/training"), bundled_fingerprints("arc1/evaluation")
    assert len(train) == 400 and len(evaluation) == 400
    common = set(train) & set(evaluation)
    assert [(train[fp], evaluation[fp]) for fp in common] == [(["40853293"], ["070dd51e"])]

