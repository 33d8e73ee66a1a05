"""`arc-efe evaluate` under `torchrun` with 2 gloo CPU processes: the records and submission of one
process, one merged run folder, and a killed rank that resumes its own share."""

import json
import os
import subprocess
import sys

import pytest

from arc_efe.cli.main import main

from .test_evaluate_resume import evaluate_argv as resume_argv
from .test_evaluate_resume import folders  # noqa: F401 (a fixture)

# Rank 0 dies right after its first record is on disk, while rank 1 may still be solving.
KILL_RANK0_AFTER_FIRST = """
import os, signal, sys
from arc_efe.cli.main import main
from arc_efe.solving import run

append_record = run.append_record


def append_then_die(out_dir, record):
    append_record(out_dir, record)
    if os.environ["RANK"] == "0":
        os.kill(os.getpid(), signal.SIGKILL)


run.append_record = append_then_die
sys.exit(main(sys.argv[1:]))
"""

TIMING = ("seconds", "stages")  # wall-clock facts, the only fields that may differ between runs


def evaluate_argv(run_dir, tasks_dir, out):
    # The neural expert alone: its records depend on steps and seeds only, the search's also on its clock.
    return [*resume_argv(run_dir, tasks_dir, out), "--experts", "neural"]


def torchrun(*args, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout)


def records(out):
    return [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]


def untimed(record):
    return {k: v for k, v in record.items() if k not in TIMING}


@pytest.fixture(scope="module")
def one_process(folders, tmp_path_factory):  # noqa: F811
    """The 3 held-out tasks evaluated in this process, one thread (as each rank computes)."""
    import torch

    run_dir, tasks_dir = folders
    out = tmp_path_factory.mktemp("one") / "out"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(evaluate_argv(run_dir, tasks_dir, out)) == 0
    finally:
        torch.set_num_threads(threads)
    return out


def test_two_ranks_write_the_run_folder_of_one_process(folders, one_process, tmp_path):  # noqa: F811
    run_dir, tasks_dir = folders
    out = tmp_path / "two"
    proc = torchrun("-m", "arc_efe", *evaluate_argv(run_dir, tasks_dir, out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("solved tasks:") == 1  # rank 0 alone prints the summary
    assert (out / "submission.json").read_bytes() == (one_process / "submission.json").read_bytes()
    two, one = records(out), records(one_process)
    assert [r["id"] for r in two] == [r["id"] for r in one] and len(one) == 3  # one record per task, task order
    assert [untimed(r) for r in two] == [untimed(r) for r in one]
    assert all(r["ttt"]["steps"] == 4 for r in two)  # the tasks were refined, not passed through
    a, b = (json.loads((d / "scores.json").read_text()) for d in (out, one_process))
    assert {k: v for k, v in a.items() if k not in ("seconds_per_task", "tasks")} == \
           {k: v for k, v in b.items() if k not in ("seconds_per_task", "tasks")}
    assert json.loads((out / "run.json").read_text()) == json.loads((one_process / "run.json").read_text())
    assert not (out / "ranks").exists()  # merged: the folder looks like a one-process run's


@pytest.mark.slow  # two launches of 2 processes: about 45 s on a shared 2-core machine
def test_a_killed_rank_resumes_its_own_share(folders, one_process, tmp_path):  # noqa: F811
    run_dir, tasks_dir = folders
    out = tmp_path / "killed"
    driver = tmp_path / "kill_rank0.py"
    driver.write_text(KILL_RANK0_AFTER_FIRST)
    proc = torchrun(driver, *evaluate_argv(run_dir, tasks_dir, out))
    assert proc.returncode != 0 and not (out / "submission.json").exists(), proc.stderr[-3000:]
    kept = (out / "ranks" / "rank-000" / "tasks.jsonl").read_text().splitlines()
    assert len(kept) == 1  # rank 0 (tasks 1 and 3 of the sorted three) finished one

    proc = torchrun("-m", "arc_efe", *evaluate_argv(run_dir, tasks_dir, out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    merged = (out / "tasks.jsonl").read_text().splitlines()
    assert kept[0] in merged  # the same line, its timing included: that task was not solved again
    assert [untimed(r) for r in records(out)] == [untimed(r) for r in records(one_process)]
    assert (out / "submission.json").read_bytes() == (one_process / "submission.json").read_bytes()
