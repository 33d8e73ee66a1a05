"""The models shipped inside the package: each loads, is small, and its real tasks are ARC-AGI-1 training tasks
only (beside generated ones); the default solves an easy training task end to end."""

import json

import pytest
import torch

from arc_efe.data.sources import find_task
from arc_efe.checkpoint_files import WEIGHTS_FILE
from arc_efe.solving.load import bundled_model, bundled_names, default_model, describe_model
from arc_efe.system import ArcSystem
from arc_efe.solving.ttt import TTTConfig
from arc_efe.solving.solver import SolveConfig, Solver

EASY_TASK = "c8f0f002"  # recolour 7 -> 5, 3x6 grids


@pytest.fixture(scope="module")
def shipped():
    folder, info = default_model()
    system, config = ArcSystem.load(folder)
    return folder, info, system, config


@pytest.mark.parametrize("name", bundled_names())
def test_each_shipped_model_is_small_named_and_trained_on_arc1_training_only(name):
    folder, info = bundled_model(name)
    system, config = ArcSystem.load(folder)
    assert (folder / WEIGHTS_FILE).stat().st_size <= 20 * 2**20
    real = [s for s in config["data"]["train"] if not s.startswith("gen:")]
    assert real == ["arc1/training"] and config["data"]["val"] is None
    assert info["parameters"] == sum(p.numel() for p in system.parameters())
    line = describe_model(info, name)
    role = "shipped default" if name == "default" else f"shipped, --model {name}"
    assert line.startswith(f"model: {info['name']} ({role})") and "arc1/training" in line
    assert json.loads((folder / "model_info.json").read_text()) == info


def test_shipped_model_solves_an_easy_training_task_end_to_end(shipped):
    _, _, system, _ = shipped
    torch.manual_seed(0)
    # A generous budget with bounded refinement: the result does not depend on the machine's speed.
    cfg = SolveConfig(time_budget=600, ttt=TTTConfig(max_steps=150))
    record = Solver(system, cfg).solve(find_task(EASY_TASK))
    assert record.error is None and record.solved, record.ttt
