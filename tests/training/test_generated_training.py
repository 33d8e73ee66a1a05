"""Training on `gen:` sources: mixed batches, exact resume, and held-out scores for real and generated
tasks reported apart."""

import json

import pytest

from arc_efe.config import ConfigError
from arc_efe.training.loop import Trainer, train

from .conftest import tiny_config

GEN = "gen:scale_up,translate,colour_map"


def losses(run_dir):
    return {r["step"]: r["Loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())}


def test_mixed_run_resumes_exactly_and_reports_generated_held_out_tasks_apart(small_tasks_dir, tmp_path):
    over = {"data": {"train": [str(small_tasks_dir), GEN], "gen_val_tasks": 3}, "prompt_refresh": 1, "epochs": 1}
    straight = train(tiny_config(small_tasks_dir, tmp_path / "a", **over))
    first = train(tiny_config(small_tasks_dir, tmp_path / "b", max_steps=2, **over))
    resumed = Trainer(tiny_config(small_tasks_dir, tmp_path / "b", **over), resume=str(first)).run()
    a, b = losses(straight), losses(resumed)
    assert sorted(a) == sorted(b) == [1, 2, 3, 4]  # 8 real tasks, 2 real + 2 generated per batch: 4 steps
    assert all(b[s] == pytest.approx(a[s], abs=1e-6) for s in a)
    evals = [json.loads(line) for line in (straight / "eval.jsonl").read_text().splitlines()]
    assert evals[-1]["tasks"] == 2 and evals[-1]["gen_tasks"] == 3
    assert {"solve_rate", "cell_accuracy", "gen_solve_rate", "gen_cell_accuracy"} <= set(evals[-1])
    trained_on = json.loads((straight / "best" / "trained_on.json").read_text())
    assert trained_on["generated"]["families"] == GEN[4:].split(",") and len(trained_on["train"]) == 8


def test_generated_only_run_and_a_share_that_leaves_no_real_task(small_tasks_dir, tmp_path):
    run = train(tiny_config(small_tasks_dir, tmp_path / "g", max_steps=2, data={"train": [GEN]}))
    assert sorted(losses(run)) == [1, 2]
    with pytest.raises(ConfigError, match="gen_share"):
        Trainer(tiny_config(small_tasks_dir, tmp_path / "x", max_steps=1,
                            data={"train": [str(small_tasks_dir), GEN], "gen_share": 1.0}))


def test_trained_on_lists_weight_zero_families_apart_from_the_trained_ones(small_tasks_dir, tmp_path):
    from arc_efe.training.setup import run_provenance

    cfg = tiny_config(small_tasks_dir, tmp_path / "p", data={"train": [GEN], "gen_weights": {"translate": 0}})
    generated = run_provenance(cfg, [], [])["generated"]
    assert generated == {"families": ["scale_up", "colour_map"], "weight_zero": ["translate"], "seed": cfg.seed}
