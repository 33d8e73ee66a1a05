"""Fixtures shared by the solving tests: a tiny untrained system, one that reads a full rule table, and a
"recolour 1 -> 2" task factory."""

import numpy as np
import pytest
import torch

from arc_efe.config import from_dict, merge, to_dict
from arc_efe.data.task import Pair, Task
from arc_efe.system import ModelConfig, build_system
from arc_efe.training.config import tiny_preset


@pytest.fixture(scope="module")
def system():
    """The tiny preset, seeded, frozen in eval mode as the solver holds it (one per test module)."""
    torch.manual_seed(0)
    cfg = from_dict(ModelConfig, merge(to_dict(ModelConfig()), tiny_preset()["model"]))
    return build_system(cfg).eval().requires_grad_(False)


@pytest.fixture(scope="module")
def full_table_system():
    """The tiny preset reading a rule table with every part test-time training recolours from its cache: line
    context, line slots, induced rules."""
    torch.manual_seed(1)
    data = merge(to_dict(ModelConfig()), tiny_preset()["model"])
    table = {"rule_table": 3, "rule_table_context": True, "rule_table_line_slots": True,
             "rule_table_consistent": True, "rule_table_induced": 64}
    return build_system(from_dict(ModelConfig, merge(data, {"agent": table}))).eval().requires_grad_(False)


def make_recolor_task(task_id: str = "recolor", demos: int = 4, tests: int = 2, seed: int = 0) -> Task:
    """Output = input with colour 1 turned into 2, on random 3x3 grids of colours 0-2."""
    rng = np.random.default_rng(seed)

    def pair() -> Pair:
        g = rng.integers(0, 3, (3, 3))
        return Pair(g, np.where(g == 1, 2, g))

    return Task(task_id, [pair() for _ in range(demos)], [pair() for _ in range(tests)])


@pytest.fixture
def recolor_task():
    """The factory `recolor_task(task_id="recolor", demos=4, tests=2, seed=0) -> Task`."""
    return make_recolor_task
