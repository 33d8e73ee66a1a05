"""Contamination at training time: overlap with evaluation sets is found by content (renamed files, Kaggle
files with other ids, --val data), warned about and recorded, never refused."""

import json
import logging

import pytest

from arc_efe.data.bundled import bundled_raw
from arc_efe.data.sources import load_tasks
from arc_efe.training.config import DataConfig
from arc_efe.training.provenance import contaminated_ids, load_provenance, training_provenance
from arc_efe.training.setup import split_tasks

EVAL_ID = "00576224"  # any arc1/evaluation task


@pytest.fixture
def renamed_eval_dir(tmp_path):
    """A folder with one arc1/evaluation task copied under a new file name."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "my_puzzle.json").write_text(json.dumps(bundled_raw("arc1/evaluation")[EVAL_ID]))
    return folder


def test_renamed_evaluation_task_overlaps_and_warns(renamed_eval_dir, small_tasks_dir, caplog):
    train = load_tasks(str(small_tasks_dir)).tasks + load_tasks(str(renamed_eval_dir)).tasks
    with caplog.at_level(logging.WARNING, logger="arc_efe.training.provenance"):
        prov = training_provenance(train, [])
    assert prov["overlaps"]["arc1/evaluation"] == {"count": 1, "ids": [EVAL_ID], "trained_ids": ["my_puzzle"]}
    assert prov["overlaps"]["arc2/evaluation"]["count"] == 0
    assert "CONTAMINATION: 1 task(s) of arc1/evaluation" in caplog.text and EVAL_ID in caplog.text
    json.dumps(prov)  # it goes into the checkpoint as trained_on.json


def test_kaggle_challenges_file_with_other_ids_overlaps(tmp_path):
    raw = bundled_raw("arc1/evaluation")
    ids = ["00576224", "009d5c81", "00dbd492"]
    # Kaggle form without solutions: test pairs carry inputs only, and the ids are new.
    challenges = {f"k{i}": {"train": raw[task_id]["train"],
                            "test": [{"input": p["input"]} for p in raw[task_id]["test"]]}
                  for i, task_id in enumerate(ids)}
    path = tmp_path / "mine_challenges.json"
    path.write_text(json.dumps(challenges))
    prov = training_provenance(load_tasks(str(path)).tasks, [])
    assert prov["overlaps"]["arc1/evaluation"]["ids"] == sorted(ids)
    assert prov["overlaps"]["arc1/evaluation"]["trained_ids"] == ["k0", "k1", "k2"]


def test_val_counts_as_training_data(renamed_eval_dir, small_tasks_dir):
    train, val = split_tasks(DataConfig(train=[str(small_tasks_dir)], val=str(renamed_eval_dir)))
    assert [t.id for t in val] == ["my_puzzle"]
    prov = training_provenance(train, val)
    assert prov["overlaps"]["arc1/evaluation"]["ids"] == [EVAL_ID]
    evaluation = load_tasks("arc1/evaluation").tasks
    assert contaminated_ids(prov, evaluation) == [EVAL_ID]


def test_arc2_training_overlaps_arc1_evaluation_and_is_not_refused(caplog):
    train, val = split_tasks(DataConfig(train=["arc2/training"]))  # the old id guard raised here
    with caplog.at_level(logging.WARNING, logger="arc_efe.training.provenance"):
        prov = training_provenance(train, val)
    overlap = prov["overlaps"]["arc1/evaluation"]
    # 376 ids are shared; ac0c5833 was edited in ARC-AGI-2, so by content 375 are the same task.
    assert overlap["count"] == 375 and "ac0c5833" not in overlap["ids"]
    assert "CONTAMINATION: 375 task(s) of arc1/evaluation" in caplog.text


def test_user_named_set_is_checked(renamed_eval_dir, small_tasks_dir):
    train = load_tasks(str(small_tasks_dir)).tasks
    prov = training_provenance(train, [], check_sets=[str(small_tasks_dir), str(renamed_eval_dir)])
    assert prov["overlaps"][str(small_tasks_dir)]["count"] == len(train)
    assert prov["overlaps"][str(renamed_eval_dir)]["count"] == 0


def test_load_provenance_missing_and_corrupt(tmp_path):
    assert load_provenance(tmp_path) is None  # an older checkpoint: provenance unknown
    (tmp_path / "trained_on.json").write_text("{not json")
    with pytest.raises(ValueError, match="trained_on.json"):
        load_provenance(tmp_path)
