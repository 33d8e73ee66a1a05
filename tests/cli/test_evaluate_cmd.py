"""`arc-efe evaluate` / `arc-efe solve` on a checkpoint written by the real trainer, and `ArcSystem.load`."""

import json

import numpy as np
import pytest
import torch
from accelerate.state import AcceleratorState
from safetensors.torch import load_file, save_file

from arc_efe.cli.main import main
from arc_efe.config import from_dict, merge, to_dict
from arc_efe.data.grid import grid_to_list
from arc_efe.data.sources import load_tasks
from arc_efe.checkpoint_files import CheckpointError
from arc_efe.system import ArcSystem
from arc_efe.solving.run import sample_tasks
from arc_efe.solving.submission import load_submission
from arc_efe.training.config import TrainConfig, tiny_preset
from arc_efe.training.loop import train


def small_tasks(n: int = 6, max_side: int = 6):
    """The first `n` arc1 training tasks whose grids are all at most `max_side` on a side."""
    picked = []
    for task in load_tasks("arc1/training").tasks:
        grids = [g for p in task.train + task.test for g in (p.input, p.output)]
        if all(max(g.shape) <= max_side for g in grids):
            picked.append(task)
        if len(picked) == n:
            return picked
    raise AssertionError("not enough small tasks")


def write_folder(folder, tasks):
    folder.mkdir()
    for task in tasks:
        raw = {kind: [{"input": grid_to_list(p.input), "output": grid_to_list(p.output)} for p in pairs]
               for kind, pairs in (("train", task.train), ("test", task.test))}
        (folder / f"{task.id}.json").write_text(json.dumps(raw))
    return folder


@pytest.fixture(scope="module")
def tasks_dir(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("data") / "tasks", small_tasks())


@pytest.fixture(scope="module")
def run_dir(tasks_dir, tmp_path_factory):
    """A run folder after 1 real training step of the tiny model."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    data = merge(merge(to_dict(TrainConfig()), tiny_preset()), {
        "data": {"train": [str(tasks_dir)], "val_fraction": 0.0, "batch_size": 2}, "out": str(out),
        "precision": "fp32", "device": "cpu", "save_every": 0, "max_steps": 1})
    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        return train(from_dict(TrainConfig, data))
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


def test_evaluate_writes_submission_scores_and_report_and_resumes(run_dir, tasks_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    # The run trained on these tasks: scoring them is a training-set score, allowed only by name.
    argv = ["evaluate", "--checkpoint", str(run_dir), "--tasks", str(tasks_dir), "--limit", "2",
            "--sample-seed", "1", "--out", str(out), "--allow-contaminated", "--time-budget"]
    assert main(argv + ["0.5"]) == 0
    printed = capsys.readouterr().out
    assert "test score (Kaggle)" in printed and "gain" in printed

    picked = sample_tasks(load_tasks(str(tasks_dir)).tasks, 2, seed=1)
    submission = load_submission(out / "submission.json", picked)
    assert set(submission) == {t.id for t in picked}
    assert all(len(attempts) == 2 for tests in submission.values() for attempts in tests)
    scores = json.loads((out / "scores.json").read_text())
    for key in ("test_score", "task_score", "solved_tasks", "ttt_gain", "plain", "levers",
                "seconds_per_task", "ttt"):
        assert key in scores, key
    assert [t["id"] for t in scores["tasks"]] == [t.id for t in picked]
    assert all(t["seconds"] > 0 for t in scores["tasks"])  # the budget itself: tests/solving/test_solver.py
    assert all((out / "report" / f"{t.id}.png").exists() for t in picked)
    assert "Unsolved (" in (out / "report" / "index.html").read_text()

    assert main(argv + ["0.5"]) == 0  # a restart finds both tasks done
    assert len((out / "tasks.jsonl").read_text().splitlines()) == 2
    assert main(argv + ["2"]) == 1
    assert "solve.time_budget: 0.5 -> 2.0" in capsys.readouterr().err


def test_solver_flags_reach_the_saved_settings(run_dir, tasks_dir, tmp_path):
    argv = ["evaluate", "--checkpoint", str(run_dir), "--tasks", str(tasks_dir), "--limit", "1", "--no-report",
            "--allow-contaminated", "--time-budget", "0.5"]
    assert main(argv + ["--out", str(tmp_path / "default")]) == 0
    assert main(argv + ["--out", str(tmp_path / "flags"), "--agent-steps", "0", "--no-size-rule"]) == 0
    default, flags = (json.loads((tmp_path / name / "run.json").read_text())["solve"] for name in ("default", "flags"))
    assert (default["size_rule"], default["ttt"]["agent_steps"]) == (True, 2)
    assert (flags["size_rule"], flags["ttt"]["agent_steps"]) == (False, None)
    assert json.loads((tmp_path / "flags" / "scores.json").read_text())["ttt"]["size_rule_tasks"] == 0


def test_solve_a_challenges_file_without_solutions(run_dir, tmp_path, capsys):
    tasks = small_tasks(3)
    challenges = {t.id: {"train": [{"input": grid_to_list(p.input), "output": grid_to_list(p.output)}
                                   for p in t.train],
                         "test": [{"input": grid_to_list(p.input)} for p in t.test]} for t in tasks}
    path = tmp_path / "x_challenges.json"
    path.write_text(json.dumps(challenges))
    out = tmp_path / "solved"
    checkpoint = run_dir / "checkpoints" / (run_dir / "latest").read_text().strip()
    assert main(["solve", str(path), "--checkpoint", str(checkpoint), "--out", str(out), "--time-budget", "0.3",
                 "--attempts", "1", "--no-report"]) == 0
    raw = json.loads((out / "submission.json").read_text())
    assert set(raw) == {t.id for t in tasks}
    assert all(entry["attempt_1"] == entry["attempt_2"] for tests in raw.values() for entry in tests)
    assert "test_score" not in json.loads((out / "scores.json").read_text())
    assert not (out / "report").exists()
    # The same file cannot be evaluated: nothing to score against.
    assert main(["evaluate", "--checkpoint", str(run_dir), "--tasks", str(path), "--out", str(tmp_path / "e")]) == 1
    assert "arc-efe solve" in capsys.readouterr().err


def test_solve_without_a_checkpoint_uses_the_shipped_model_and_says_so_first(tmp_path, capsys):
    task = small_tasks(1)[0]
    path = tmp_path / f"{task.id}.json"
    path.write_text(json.dumps({"train": [{"input": grid_to_list(p.input), "output": grid_to_list(p.output)}
                                          for p in task.train],
                                "test": [{"input": grid_to_list(p.input)} for p in task.test]}))
    out = tmp_path / "answers"
    assert main(["solve", str(path), "--out", str(out), "--time-budget", "0.5", "--no-report"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("model: ") and "(shipped default)" in first and "arc1/training" in first
    assert set(json.loads((out / "submission.json").read_text())) == {task.id}
    assert "models/default" in json.loads((out / "run.json").read_text())["checkpoint"]


def test_missing_checkpoint_is_named(tmp_path, tasks_dir, capsys):
    missing = tmp_path / "nope"
    assert main(["evaluate", "--checkpoint", str(missing), "--tasks", str(tasks_dir)]) != 0
    assert str(missing) in capsys.readouterr().err


def test_load_system_restores_the_trained_weights(run_dir):
    checkpoint = run_dir / "checkpoints" / (run_dir / "latest").read_text().strip()
    saved = load_file(str(checkpoint / "model.safetensors"))
    for path in (run_dir, checkpoint):
        system, config = ArcSystem.load(path)
        assert config["model"]["agent"]["channels"] == 16
        state = system.state_dict()
        assert all(torch.equal(state[k], v) for k, v in saved.items())
        assert not system.training


def test_load_system_names_missing_keys_and_shape_mismatches(run_dir, tmp_path):
    checkpoint = run_dir / "checkpoints" / (run_dir / "latest").read_text().strip()
    config = json.loads((checkpoint / "config.json").read_text())
    state = load_file(str(checkpoint / "model.safetensors"))

    broken = tmp_path / "missing"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps(config))
    save_file({k: v for k, v in state.items() if k != "agent.film.proj.weight"}, str(broken / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"missing keys 1 \(agent\.film\.proj\.weight\)") as err:
        ArcSystem.load(broken)
    assert str(broken) in str(err.value)

    other = tmp_path / "other"
    other.mkdir()
    config["model"]["agent"]["channels"] = 24
    (other / "config.json").write_text(json.dumps(config))
    save_file(state, str(other / "model.safetensors"))
    mismatch = r"shape mismatch .*agent\.embed\.color\.weight: \(11, 16\) vs \(11, 24\)"
    with pytest.raises(CheckpointError, match=mismatch):
        ArcSystem.load(other)


def test_config_file_and_set_reach_every_solve_field_and_flags_win_over_the_file(run_dir, tasks_dir, tmp_path,
                                                                                 capsys):
    config = tmp_path / "solve.yaml"
    config.write_text("solve:\n  time_budget: 0.5\n  vote_reserve: 1.5\n  ttt:\n    rows_per_step: 4\n"
                      "    check_every: 3\n")
    argv = ["evaluate", "--checkpoint", str(run_dir), "--tasks", str(tasks_dir), "--limit", "1", "--no-report",
            "--allow-contaminated", "--config", str(config)]
    sets = ["--set", "solve.ttt.prompt_lr=0.01", "--set", "solve.ttt.adapter_lr=0.002",
            "--set", "solve.ttt.holdout=false", "--time-budget", "0.4"]
    assert main(argv + ["--out", str(tmp_path / "a")] + sets) == 0
    solve = json.loads((tmp_path / "a" / "run.json").read_text())["solve"]
    assert solve["time_budget"] == 0.4 and solve["vote_reserve"] == 1.5  # the flag beat the file
    assert (solve["ttt"]["rows_per_step"], solve["ttt"]["check_every"]) == (4, 3)
    assert (solve["ttt"]["prompt_lr"], solve["ttt"]["adapter_lr"], solve["ttt"]["holdout"]) == \
        (0.01, 0.002, False)
    capsys.readouterr()
    assert main(argv + ["--out", str(tmp_path / "b"), "--set", "solve.ttt.no_such_key=1"]) == 1
    err = capsys.readouterr().err
    assert "no_such_key" in err and "Traceback" not in err


def test_experts_flag_search_alone_names_the_program_in_records_scores_and_pictures(run_dir, tmp_path, capsys):
    rng = np.random.default_rng(3)
    grids = [rng.integers(0, 5, (3, 4)) for _ in range(4)]
    pairs = [{"input": g.tolist(), "output": g[:, ::-1].tolist()} for g in grids]
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "flip.json").write_text(json.dumps({"train": pairs[:3], "test": pairs[3:]}))
    out = tmp_path / "eval"
    argv = ["evaluate", "--checkpoint", str(run_dir), "--tasks", str(tasks), "--out", str(out),
            "--experts", "search", "--time-budget", "5"]
    assert main(argv) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["levers"]["search"] == 1 and scores["first_attempt_experts"] == {"search": 1}
    record = json.loads((out / "tasks.jsonl").read_text().splitlines()[0])
    assert record["experts"][0][0] == "search" and record["programs"][0][0]
    assert json.loads((out / "run.json").read_text())["solve"]["experts"] == ["search"]
    png = tmp_path / "flip.png"
    assert main(["show", "flip", "--tasks", str(tasks), "--prediction", str(out / "submission.json"),
                 "-o", str(png)]) == 0 and png.stat().st_size > 1000
