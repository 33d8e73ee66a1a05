"""Contamination at the command line: `evaluate` refuses tasks the checkpoint trained on (by content) unless
--allow-contaminated, warns when provenance is unknown; the shipped model's record is true; `train` warns."""

import argparse
import json
import shutil

import pytest
from accelerate.state import AcceleratorState

from arc_efe.cli import evaluate_cmd
from arc_efe.cli.main import main
from arc_efe.config import from_dict, merge, to_dict
from arc_efe.data.bundled import bundled_raw
from arc_efe.data.sources import load_tasks
from arc_efe.checkpoint_files import resolve_checkpoint
from arc_efe.solving.load import bundled_model, bundled_names
from arc_efe.training.config import TrainConfig, tiny_preset
from arc_efe.training.loop import train
from arc_efe.training.provenance import TRAINED_ON_FILE, load_provenance
from arc_efe.training.setup import run_provenance, split_tasks

SEEN, UNSEEN = "4cd1b7b2", "ca8de6ea"  # two small arc1/evaluation tasks; the run trains on SEEN, renamed
FAST = ["--time-budget", "5", "--ttt-steps", "0", "--augmentations", "1", "--no-report", "--device", "cpu"]


def _write(folder, names_to_eval_ids):
    folder.mkdir()
    raw = bundled_raw("arc1/evaluation")
    for name, task_id in names_to_eval_ids.items():
        (folder / f"{name}.json").write_text(json.dumps(raw[task_id]))
    return folder


@pytest.fixture(autouse=True)
def _fresh_accelerator_state():
    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 1-step tiny run trained on SEEN under another name (its checkpoint records that in trained_on.json)."""
    root = tmp_path_factory.mktemp("contam")
    data_dir = _write(root / "train", {"my_copy": SEEN})
    out = root / "run"
    data = merge(merge(to_dict(TrainConfig()), tiny_preset()), {
        "data": {"train": [str(data_dir)], "val_fraction": 0.0, "batch_size": 1}, "out": str(out),
        "precision": "fp32", "device": "cpu", "save_every": 0, "max_steps": 1})
    AcceleratorState._reset_state(reset_partial_state=True)
    train(from_dict(TrainConfig, data))
    return out


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("eval") / "tasks", {SEEN: SEEN, UNSEEN: UNSEEN})


def _evaluate(run_dir, tasks, out, *extra):
    return main(["evaluate", "--checkpoint", str(run_dir), "--tasks", str(tasks), "--out", str(out), *FAST, *extra])


def test_evaluate_refuses_a_task_the_checkpoint_trained_on(run_dir, eval_dir, tmp_path, capsys):
    assert _evaluate(run_dir, eval_dir / f"{SEEN}.json", tmp_path / "one") == 1
    err = capsys.readouterr().err
    assert "refusing to score" in err and SEEN in err and "--allow-contaminated" in err
    assert not (tmp_path / "one" / "scores.json").exists()


def test_evaluate_scores_only_the_clean_tasks(run_dir, eval_dir, tmp_path, capsys):
    assert _evaluate(run_dir, eval_dir, tmp_path / "ev") == 0
    captured = capsys.readouterr()
    scores = json.loads((tmp_path / "ev" / "scores.json").read_text())
    assert scores["num_tasks"] == 1 and scores["refused_contaminated"] == [SEEN] and "contaminated" not in scores
    assert "1 task(s) the checkpoint trained on were not scored" in captured.out
    assert SEEN not in (tmp_path / "ev" / "tasks.jsonl").read_text()


def test_allow_contaminated_scores_and_says_so(run_dir, eval_dir, tmp_path, capsys):
    assert _evaluate(run_dir, eval_dir, tmp_path / "ev", "--allow-contaminated") == 0
    captured = capsys.readouterr()
    scores = json.loads((tmp_path / "ev" / "scores.json").read_text())
    assert scores["num_tasks"] == 2 and scores["contaminated"] == [SEEN]
    assert "CONTAMINATED: 1 scored task(s)" in captured.out


def test_unknown_provenance_warns_and_scores(run_dir, eval_dir, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(resolve_checkpoint(run_dir), old)
    # A checkpoint from before provenance was recorded: no trained_on.json (and no checksums.json listing it).
    (old / TRAINED_ON_FILE).unlink()
    (old / "checksums.json").unlink()
    assert _evaluate(old, eval_dir, tmp_path / "ev") == 0
    captured = capsys.readouterr()
    assert f"has no {TRAINED_ON_FILE}" in captured.err and "provenance unknown" in captured.out
    scores = json.loads((tmp_path / "ev" / "scores.json").read_text())
    assert scores["num_tasks"] == 2 and scores["provenance"] == "unknown"


@pytest.mark.parametrize("name", bundled_names())
def test_shipped_model_record_is_reproduced_and_refuses_only_its_duplicate(name):
    folder, info = bundled_model(name)
    stored = load_provenance(folder)
    cfg = from_dict(TrainConfig, json.loads((folder / "config.json").read_text()))
    # The same code path as the run that trained it: the record must say what it actually saw.
    assert json.loads(json.dumps(run_provenance(cfg, *split_tasks(cfg.data)))) == stored
    assert info["overlaps"]["arc1/evaluation"]["ids"] == stored["overlaps"]["arc1/evaluation"]["ids"]
    tasks = load_tasks("arc1/evaluation").tasks
    args = argparse.Namespace(mode="evaluate", allow_contaminated=False)
    kept, record = evaluate_cmd._contamination(args, folder, tasks)
    # 070dd51e duplicates arc1/training 40853293, which the shipped models trained on; no other task is refused.
    assert record == {"refused_contaminated": ["070dd51e"]} and len(kept) == 399


def _train(tasks, out, *extra) -> int:
    return main(["train", "--preset", "tiny", "--tasks", str(tasks), "--set", "data.val_fraction=0.0",
                 "--batch-size", "2", "--max-steps", "1", "--save-every", "0", "--device", "cpu", "--precision", "fp32",
                 "--out", str(out), *extra])


def test_train_warns_and_records_overlap(run_dir, eval_dir, tmp_path, capsys):
    assert load_provenance(resolve_checkpoint(run_dir))["overlaps"]["arc1/evaluation"]["trained_ids"] == ["my_copy"]
    assert _train(eval_dir, tmp_path / "run") == 0  # warned, not refused
    err = capsys.readouterr().err
    assert "WARNING: this run trained on 2 task(s) of arc1/evaluation" in err
    provenance = load_provenance(resolve_checkpoint(tmp_path / "run"))
    assert provenance["overlaps"]["arc1/evaluation"]["ids"] == sorted([SEEN, UNSEEN])


def test_contamination_check_flag_records_a_named_set(eval_dir, tmp_path):
    assert _train(eval_dir, tmp_path / "run", "--contamination-check", str(eval_dir)) == 0
    provenance = load_provenance(resolve_checkpoint(tmp_path / "run"))
    assert provenance["overlaps"][str(eval_dir)] == {"count": 2, "ids": [SEEN, UNSEEN], "trained_ids": [SEEN, UNSEEN]}
