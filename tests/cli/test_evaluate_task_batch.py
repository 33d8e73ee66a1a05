"""`arc-efe evaluate --task-batch K`: K tasks' test-time training batched in one process gives the records
of one task at a time when updates (not time) bound the fit; it is part of the run's settings; it and
--workers exclude each other, and it refuses bf16 (autocast does not reach linear layers under vmap)."""

import json

from arc_efe.cli.main import main
from arc_efe.solving.records import read_records
from tests.cli.test_evaluate_cmd import run_dir, tasks_dir  # noqa: F401 - fixtures


def test_task_batch_gives_the_records_of_one_task_at_a_time(run_dir, tasks_dir, tmp_path, capsys):  # noqa: F811
    argv = ["evaluate", "--checkpoint", str(run_dir), "--tasks", str(tasks_dir), "--limit", "3", "--no-report",
            "--allow-contaminated", "--time-budget", "120", "--augmentations", "2", "--experts", "neural",
            "--set", "solve.ttt.max_steps=3", "--set", "solve.ttt.check_every=2"]
    assert main(argv + ["--out", str(tmp_path / "one")]) == 0
    assert main(argv + ["--out", str(tmp_path / "batched"), "--task-batch", "2"]) == 0
    one, batched = (read_records(tmp_path / name) for name in ("one", "batched"))
    assert list(one) == list(batched) and len(one) == 3  # groups of 2 and 1, in task order
    for task_id, record in one.items():
        other = batched[task_id]
        assert other.error is None and record.ttt["steps"] == other.ttt["steps"] == 3
        assert [[a.tolist() for a in row] for row in record.attempts] == \
            [[a.tolist() for a in row] for row in other.attempts]
        assert (record.ttt["best_step"], record.ttt["demo_after"]) == (other.ttt["best_step"], other.ttt["demo_after"])
    assert json.loads((tmp_path / "batched" / "run.json").read_text())["task_batch"] == 2
    assert "task_batch" not in json.loads((tmp_path / "one" / "run.json").read_text())
    capsys.readouterr()
    assert main(argv + ["--out", str(tmp_path / "batched")]) == 1  # resuming with another K is refused
    assert "task_batch" in capsys.readouterr().err


def test_task_batch_and_workers_exclude_each_other(run_dir, tasks_dir, tmp_path, capsys):  # noqa: F811
    argv = ["evaluate", "--checkpoint", str(run_dir), "--tasks", str(tasks_dir), "--limit", "1", "--no-report",
            "--allow-contaminated", "--out", str(tmp_path / "x")]
    assert main(argv + ["--task-batch", "2", "--workers", "2"]) == 1
    assert "cannot both be > 1" in capsys.readouterr().err
    assert main(argv + ["--task-batch", "0"]) == 1
    assert "task batch must be >= 1" in capsys.readouterr().err
    assert main(argv + ["--task-batch", "2", "--precision", "bf16"]) == 1
    assert "needs precision fp32" in capsys.readouterr().err
