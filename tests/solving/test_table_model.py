"""The second shipped model, `table` (MODEL_CARD.md): it loads by name (its size, data and name line are checked
with every shipped model's in test_shipped_model.py), and it reads the demonstrations: without test-time training
it solves fresh generated tasks whose hidden rule only the demos state, and fails them when it reads another task's
demos instead."""

import numpy as np
import pytest
import torch

from arc_efe.checkpoint_files import CheckpointError
from arc_efe.cli.main import main
from arc_efe.data.augment import IDENTITY
from arc_efe.data.batching import collate, make_test_sample
from arc_efe.data.generators import generate_task
from arc_efe.solving.load import bundled_model, bundled_names
from arc_efe.system import ArcSystem, Prompts

# Same input distribution, a different output per hidden parameter (which D8 element; which colour per size).
FAMILIES = ("d8_transform", "recolour_by_size")
SEEDS = range(8)


@pytest.fixture(scope="module")
def table():
    folder, info = bundled_model("table")
    system, config = ArcSystem.load(folder, "cpu")
    return folder, info, system.eval(), config


def test_table_model_ships_beside_the_default_and_reads_a_rule_table(table):
    """Size, data, parameter count and name line: test_shipped_model.py, for every shipped model."""
    config = table[3]
    assert bundled_names() == ["default", "table"]
    assert config["model"]["agent"]["rule_table"] > 0 and config["model"]["agent"]["rule_table_induced"] > 0


def _solved(system: ArcSystem, tasks, prompts=None) -> int:
    attempts = system.plain_attempts(tasks, prompts=prompts)
    return sum(all(np.array_equal(a[0], p.output) for a, p in zip(attempts[t.id], t.test)) for t in tasks)


@pytest.mark.parametrize("family", FAMILIES)
@torch.no_grad()
def test_table_model_reads_the_demonstrations(table, family):
    """Plain prediction (no test-time training) with the task's own demos solves most fresh tasks; with the next
    task's demos (its prompt and rule table) it solves none, so the answer comes from reading the demos."""
    system = table[2]
    tasks = [generate_task(family, seed, 0.3) for seed in SEEDS]
    own = _solved(system, tasks)
    batch = collate([make_test_sample(t, 0, IDENTITY) for t in tasks])
    p = system.prompts(batch.contexts, batch.stats, sample_offset=False)
    nxt = [(j + 1) % len(tasks) for j in range(len(tasks))]
    swapped = {t.id: Prompts(p.base[[nxt[j]]], p.policy, p.refined[[nxt[j]]]) for j, t in enumerate(tasks)}
    other = _solved(system, tasks, swapped)
    assert own >= 6 and other <= 1, (own, other)


def test_evaluate_takes_a_shipped_model_by_name(capsys, tmp_path):
    assert main(["evaluate", "--tasks", "arc1/training", "--limit", "1", "--model", "nosuch", "--out",
                 str(tmp_path / "a")]) == 1
    assert "no model named 'nosuch' ships with arc-efe; shipped: default, table" in capsys.readouterr().err
    assert main(["evaluate", "--tasks", "arc1/training", "--limit", "1", "--model", "table", "--checkpoint",
                 str(bundled_model("table")[0]), "--out", str(tmp_path / "b")]) == 1
    assert "--checkpoint and --model both name a model" in capsys.readouterr().err


def test_a_missing_shipped_model_is_named(monkeypatch, tmp_path):
    from arc_efe.solving import load
    monkeypatch.setattr(load, "MODELS_DIR", tmp_path)
    with pytest.raises(CheckpointError, match="the shipped model 'default' is missing"):
        load.default_model()


def test_a_shipped_model_writes_to_its_own_default_folder():
    from arc_efe.cli.evaluate_cmd import _default_out
    assert _default_out(bundled_model("table")[0]) == "evals/shipped-table"
    assert _default_out(bundled_model()[0]) == "evals/shipped-default"
