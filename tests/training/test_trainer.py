"""Trainer: it learns, logs what it promises, checkpoints atomically, and resumes exactly."""

import json

import pytest

from arc_efe.config import ConfigError, from_dict, merge, to_dict
from arc_efe.training.checkpoint import resolve_checkpoint
from arc_efe.training.loop import Trainer, train

from .conftest import tiny_config


def read_metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_resume_continues_exactly(small_tasks_dir, tmp_path):
    straight = train(tiny_config(small_tasks_dir, tmp_path / "a", max_steps=6, prompt_refresh=2))
    first = train(tiny_config(small_tasks_dir, tmp_path / "b", max_steps=3, prompt_refresh=2))
    resumed = Trainer(tiny_config(small_tasks_dir, tmp_path / "b", max_steps=6, prompt_refresh=2),
                      resume=str(first)).run()
    a = {r["step"]: (r["Loss"], r["Total"]) for r in read_metrics(straight)}
    b = {r["step"]: (r["Loss"], r["Total"]) for r in read_metrics(resumed)}
    assert sorted(b) == [1, 2, 3, 4, 5, 6]
    for step in range(1, 7):
        assert b[step] == pytest.approx(a[step], abs=1e-6), f"step {step}"
    assert len({round(v[0], 6) for v in a.values()}) > 1  # the loss moves, so the match is not trivial


def test_metrics_name_every_monitored_value(small_tasks_dir, tmp_path):
    run = train(tiny_config(small_tasks_dir, tmp_path / "run", max_steps=4, prompt_refresh=2))
    records = read_metrics(run)
    for key in ("Loss", "Qwen_grad", "Mask_ratio", "Reward", "acc_before", "acc_after", "pairs_per_s",
                "unique_pairs_per_s", "updates_per_s", "Total", "term/risk", "term/ambiguity",
                "term/bidirectional", "term/size", "term/anchor", "term/pg_policy_loss", "term/pg_entropy"):
        assert key in records[-1], key
    # pairs_per_s counts a pair once per update; each window's batch trains prompt_refresh (2) updates.
    batch = tiny_config(small_tasks_dir, tmp_path / "run").data.batch_size
    for r in records:
        assert r["pairs_per_s"] == pytest.approx(batch * r["updates_per_s"])
        assert r["unique_pairs_per_s"] == pytest.approx(r["pairs_per_s"] / 2)
    refreshed = [r for r in records if r["refreshed"]]
    assert refreshed and all(r["grad/encoder"] > 0 for r in refreshed)
    cached = [r for r in records if not r["refreshed"]]
    assert cached and all(r["grad/encoder"] == 0 for r in cached)
    # Refresh-only values are carried to cached steps: the last refresh's Qwen_grad and prompt term.
    assert all(r["term/prompt"] > 0 and r["Qwen_grad"] > 0 for r in records)
    assert cached[0]["term/prompt"] == refreshed[0]["term/prompt"]
    assert resolve_checkpoint(run).name == "step-00000004"


def test_resume_with_other_model_shape_names_the_field(small_tasks_dir, tmp_path):
    run = train(tiny_config(small_tasks_dir, tmp_path / "run", max_steps=1))
    other = tiny_config(small_tasks_dir, tmp_path / "run", max_steps=2, model={"agent": {"channels": 24}})
    with pytest.raises(ConfigError, match=r"model\.agent\.channels: 16 -> 24"):
        Trainer(other, resume=str(run))


def test_resume_of_a_run_saved_before_a_field_existed_takes_its_default(small_tasks_dir, tmp_path):
    """A field added since (here model.agent.d8_copies and data.gen_twins, both default off) is absent from an
    older run's config.json; resuming must treat it as its default, not as a different model."""
    import hashlib

    run = train(tiny_config(small_tasks_dir, tmp_path / "run", max_steps=1))
    checkpoint = resolve_checkpoint(run)
    saved = json.loads((checkpoint / "config.json").read_text())
    del saved["model"]["agent"]["d8_copies"], saved["data"]["gen_twins"]
    (checkpoint / "config.json").write_text(json.dumps(saved))
    sums = json.loads((checkpoint / "checksums.json").read_text())
    data = (checkpoint / "config.json").read_bytes()
    sums["config.json"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (checkpoint / "checksums.json").write_text(json.dumps(sums))
    resumed = Trainer(tiny_config(small_tasks_dir, tmp_path / "run", max_steps=2), resume=str(run)).run()
    assert [r["step"] for r in read_metrics(resumed)] == [1, 2]
    other = tiny_config(small_tasks_dir, tmp_path / "run", max_steps=3, model={"agent": {"d8_copies": (4,)}})
    with pytest.raises(ConfigError, match=r"model\.agent\.d8_copies: \[\] -> \[4\]"):
        Trainer(other, resume=str(resumed))


def test_epoch_end_evaluates_and_keeps_best(small_tasks_dir, tmp_path):
    # 8 training tasks, batch 4, refresh 1: an epoch is 2 steps.
    run = train(tiny_config(small_tasks_dir, tmp_path / "run", epochs=2, prompt_refresh=1, keep_last=1))
    evals = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [2, 4]
    assert all(e["tasks"] == 2 and 0.0 <= e["solve_rate"] <= 1.0 for e in evals)
    assert (run / "best" / "model.safetensors").exists()
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000004"]


def test_best_follows_cell_accuracy_while_nothing_is_solved(small_tasks_dir, tmp_path, monkeypatch):
    from arc_efe.training import loop

    cells = iter([0.2, 0.5, 0.3])
    monkeypatch.setattr(loop, "evaluate_heldout", lambda system, tasks, limit: {
        "solve_rate": 0.0, "test_score": 0.0, "cell_accuracy": next(cells), "solved": 0, "tasks": len(tasks)}
        if tasks else {})
    run = train(tiny_config(small_tasks_dir, tmp_path / "run", epochs=3, prompt_refresh=1, keep_last=3))
    best = json.loads((run / "best" / "checksums.json").read_text())["model.safetensors"]["sha256"]
    step4 = json.loads((run / "checkpoints" / "step-00000004" / "checksums.json").read_text())
    assert best == step4["model.safetensors"]["sha256"]  # epoch 2 drew the held-out outputs best


@pytest.mark.parametrize("standardise", ["pair_standardise", "llm_standardise"])
def test_a_standardised_prompt_under_several_processes_is_warned_about(caplog, standardise):
    """Each rank standardises over its own tasks (no synchronised statistics): said at start under DDP, not
    for one process nor for a model without a standardised part."""
    from arc_efe.system import build_system
    from arc_efe.training.loop import warn_unsynced_standardise

    plain = tiny_config("unused", "unused").model
    flags = {"pair_compare": True, "pair_channels": 8} if standardise == "pair_standardise" else {}
    model = from_dict(type(plain), merge(to_dict(plain), {"encoder": {**flags, standardise: True}}))
    with caplog.at_level("WARNING"):
        assert warn_unsynced_standardise(build_system(model), 2)
        assert not warn_unsynced_standardise(build_system(model), 1)
        assert not warn_unsynced_standardise(build_system(plain), 2)
    assert sum("not synchronised" in r.message for r in caplog.records) == 1
