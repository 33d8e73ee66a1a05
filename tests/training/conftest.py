"""Fixtures for trainer tests: a folder of small real ARC tasks and a tiny config."""

import json

import pytest
from accelerate.state import AcceleratorState

from arc_efe.config import from_dict, merge, to_dict
from arc_efe.data.grid import grid_to_list
from arc_efe.data.sources import load_tasks
from arc_efe.training.config import TrainConfig, tiny_preset


def small_task_ids(n: int, max_side: int = 8) -> list[str]:
    """Ids of the first `n` arc1 training tasks whose grids are all at most `max_side` wide and high."""
    ids = []
    for task in load_tasks("arc1/training").tasks:
        grids = [g for p in task.train + task.test for g in (p.input, p.output)]
        if len(task.train) >= 3 and all(max(g.shape) <= max_side for g in grids):
            ids.append(task.id)
        if len(ids) == n:
            break
    return ids


@pytest.fixture(scope="session")
def small_tasks_dir(tmp_path_factory):
    """Ten small arc1 training tasks as one-JSON-per-task files."""
    folder = tmp_path_factory.mktemp("tasks")
    tasks = {t.id: t for t in load_tasks("arc1/training").tasks}
    for task_id in small_task_ids(10):
        task = tasks[task_id]
        raw = {kind: [{"input": grid_to_list(p.input), "output": grid_to_list(p.output)} for p in pairs]
               for kind, pairs in (("train", task.train), ("test", task.test))}
        (folder / f"{task_id}.json").write_text(json.dumps(raw))
    return folder


@pytest.fixture(autouse=True)
def _fresh_accelerator_state():
    """accelerate keeps process-wide state; each test builds its own Accelerator."""
    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def tiny_config(tasks_dir, out, **overrides) -> TrainConfig:
    data = merge(to_dict(TrainConfig()), tiny_preset())
    data = merge(data, {"data": {"train": [str(tasks_dir)], "val_fraction": 0.2}, "out": str(out),
                        "precision": "fp32", "device": "cpu", "save_every": 0})
    data = merge(data, overrides)
    return from_dict(TrainConfig, data)
