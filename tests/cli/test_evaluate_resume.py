"""`arc-efe evaluate` killed mid-run resumes to the same submission; a damaged --checkpoint is one line."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
from accelerate.state import AcceleratorState

from arc_efe.cli.main import main
from arc_efe.config import from_dict, merge, to_dict
from arc_efe.system import ArcSystem
from arc_efe.training.config import TrainConfig, tiny_preset
from arc_efe.training.loop import train

from .test_evaluate_cmd import small_tasks, write_folder

# Kills the process while it appends the second task record: half a line reaches the disk.
KILL_IN_RECORD = """
import json, os, signal, sys
from arc_efe.cli.main import main
from arc_efe.solving import run

append_record, written = run.append_record, []


def append_then_die(out_dir, record):
    written.append(record.id)
    if len(written) < 2:
        return append_record(out_dir, record)
    line = json.dumps(record.to_json())
    with open(out_dir / "tasks.jsonl", "a") as f:
        f.write(line[: len(line) // 2])
        f.flush()
    os.kill(os.getpid(), signal.SIGKILL)


run.append_record = append_then_die
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny run trained 1 step on 6 small tasks, and a folder of 3 other tasks to evaluate."""
    root = tmp_path_factory.mktemp("resume")
    tasks = small_tasks(9)
    trained, held = write_folder(root / "train", tasks[:6]), write_folder(root / "eval", tasks[6:])
    data = merge(merge(to_dict(TrainConfig()), tiny_preset()), {
        "data": {"train": [str(trained)], "val_fraction": 0.0, "batch_size": 2}, "out": str(root / "run"),
        "precision": "fp32", "device": "cpu", "save_every": 0, "max_steps": 1})
    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        return train(from_dict(TrainConfig, data)), held
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


def evaluate_argv(run_dir, tasks_dir, out) -> list[str]:
    # Bounded refinement under a budget it never reaches: the result depends on steps, not on the clock.
    return ["evaluate", "--checkpoint", str(run_dir), "--tasks", str(tasks_dir), "--out", str(out),
            "--time-budget", "1000", "--ttt-steps", "4", "--augmentations", "2", "--no-report"]


def test_killed_evaluate_resumes_to_the_same_submission(folders, tmp_path):
    run_dir, tasks_dir = folders
    assert main(evaluate_argv(run_dir, tasks_dir, tmp_path / "straight")) == 0

    out = tmp_path / "killed"
    driver = tmp_path / "kill_in_record.py"
    driver.write_text(KILL_IN_RECORD)
    proc = subprocess.run([sys.executable, str(driver), *evaluate_argv(run_dir, tasks_dir, out)],
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    first, torn = (out / "tasks.jsonl").read_text().split("\n")
    assert json.loads(first)["id"] and torn and not (out / "submission.json").exists()

    assert main(evaluate_argv(run_dir, tasks_dir, out)) == 0
    lines = (out / "tasks.jsonl").read_text().splitlines()
    assert len(lines) == 3 and lines[0] == first  # the finished task was kept, not solved again
    straight = json.loads((tmp_path / "straight" / "submission.json").read_text())
    assert json.loads((out / "submission.json").read_text()) == straight


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, damage, words", [
    ("model.safetensors", truncate, "not a readable safetensors file"),
    ("model.safetensors", flip_last_byte, "corrupted (its sha256 differs"),
    ("config.json", lambda p: p.write_text('{"model": '), "not a readable JSON config"),
], ids=["weights_truncated", "weights_flipped", "config"])
def test_a_damaged_checkpoint_is_one_line_naming_the_file(folders, tmp_path, capsys, name, damage, words):
    run_dir, tasks_dir = folders
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    checkpoint = copy / "checkpoints" / (copy / "latest").read_text().strip()
    damage(checkpoint / name)
    assert main(evaluate_argv(copy, tasks_dir, tmp_path / "out")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: checkpoint {checkpoint / name}:") and words in err[0], err


def test_solving_checks_only_the_files_it_reads(folders, tmp_path):
    run_dir, _ = folders
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    checkpoint = copy / "checkpoints" / (copy / "latest").read_text().strip()
    flip_last_byte(checkpoint / "optimizer.bin")  # damaged training state: resuming would refuse it
    system, config = ArcSystem.load(copy)
    assert config["model"] and not system.training
