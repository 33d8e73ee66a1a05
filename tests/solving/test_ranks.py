"""Which rank solves which task, and a one-process run that finishes what an interrupted multi-rank run left."""

import json

import pytest

from arc_efe.solving import ranks as rk
from arc_efe.solving.records import read_records
from arc_efe.solving.run import run
from arc_efe.solving.solver import SolveConfig
from arc_efe.solving.ttt import TTTConfig


def test_shares_split_the_sorted_ids_round_robin_whatever_the_order(recolor_task):
    tasks = [recolor_task(name) for name in ("d", "a", "e", "c", "b")]
    shares = [[t.id for t in rk.share(tasks, rk.Ranks(r, 2))] for r in range(2)]
    assert shares == [["a", "e", "c"], ["d", "b"]]  # sorted a, c, e and b, d; kept in the given order
    assert rk.share(tasks[::-1], rk.Ranks(1, 2)) == rk.share(tasks, rk.Ranks(1, 2))[::-1]
    three = [t.id for r in range(3) for t in rk.share(tasks, rk.Ranks(r, 3))]
    assert sorted(three) == ["a", "b", "c", "d", "e"]  # every task once
    assert rk.share(tasks, rk.Ranks()) == tasks


def test_launched_ranks_read_the_launcher_environment():
    assert rk.launched_ranks({}) == rk.Ranks(0, 1, 0)
    ranks = rk.launched_ranks({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert ranks == rk.Ranks(3, 4, 1) and not ranks.main
    with pytest.raises(ValueError, match="outside a world of 2"):
        rk.launched_ranks({"RANK": "2", "WORLD_SIZE": "2"})


def test_one_process_finishes_an_interrupted_multi_rank_run(system, tmp_path, recolor_task):
    cfg = SolveConfig(time_budget=300, augmentations=1, experts=["neural"], ttt=TTTConfig(max_steps=2))
    tasks = [recolor_task(f"t{i}", demos=3, tests=1, seed=i) for i in range(3)]
    straight = run(system, tasks, cfg, tmp_path / "straight", checkpoint="tiny", report=False)
    # What a killed 2-rank run leaves: the run's run.json and rank 1's folder with t1 done.
    out = tmp_path / "out"
    settings = json.loads((tmp_path / "straight" / "run.json").read_text())
    done = read_records(tmp_path / "straight")["t1"]
    folder = rk.rank_dir(out, 1)
    folder.mkdir(parents=True)
    for place in (out, folder):
        (place / "run.json").write_text(json.dumps(settings))
    (folder / "tasks.jsonl").write_text(json.dumps(done.to_json()) + "\n")

    seen = []
    summary = run(system, tasks, cfg, out, checkpoint="tiny", report=False,
                  on_record=lambda task, record, resumed: seen.append((task.id, resumed)))
    assert seen == [("t0", False), ("t1", True), ("t2", False)]
    assert read_records(out)["t1"].seconds == done.seconds  # taken over, not solved again
    assert not (out / rk.RANKS_DIR).exists()
    assert summary["task_score"] == straight["task_score"]
    assert (out / "submission.json").read_bytes() == (tmp_path / "straight" / "submission.json").read_bytes()


def test_a_rank_folder_with_other_settings_is_refused(system, tmp_path, recolor_task):
    cfg = SolveConfig(time_budget=300, augmentations=1, experts=["neural"], ttt=TTTConfig(max_steps=2))
    folder = rk.rank_dir(tmp_path, 1)
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"checkpoint": "other"}))
    with pytest.raises(ValueError, match="other settings"):
        run(system, [recolor_task("t")], cfg, tmp_path, checkpoint="tiny", report=False)
