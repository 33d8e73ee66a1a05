"""Two CPU processes (gloo): both ranks must end with identical weights, and only rank 0 writes logs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch


def test_two_process_training_keeps_ranks_identical(small_tasks_dir, tmp_path):
    out = tmp_path / "ddp"
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(worker), str(small_tasks_dir), str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = torch.load(out / "weights-rank0.pt")
    rank1 = torch.load(out / "weights-rank1.pt")
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    # Training changed the weights (identical but untrained ranks would prove nothing).
    initial = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert initial["grad/agent"] > 0
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3]  # rank 0 only, once per step
