"""Peak memory (resident set) of a default training run and of an evaluation, each in a fresh process.

Each measured command runs as its own child process (`arc-efe train`, then `arc-efe evaluate` on the
checkpoint that run wrote, or on `--checkpoint`); `os.wait4` returns that child's own resource usage,
whose `ru_maxrss` is its peak resident set, imports and data loading included.

    python bench/memory.py [--steps 50 --eval-tasks 5 --budget 10] [--checkpoint RUN_DIR] [--quick]

Last line: `train_peak_gib=... eval_peak_gib=...`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine_line, summary_line

ARC_EFE = [sys.executable, "-m", "arc_efe.cli.main"]
KIB_PER_GIB = 1024 ** 2  # Linux reports ru_maxrss in KiB


def peak_rss_gib(command: list[str], log: Path, threads: int | None) -> tuple[float, float]:
    """(peak resident GiB, seconds) of `command` run as a child; its output goes to `log`. Raises
    RuntimeError with the log's tail when the command fails."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise RuntimeError(f"`{' '.join(command)}` exited with {child.returncode}; last lines of {log}:\n{tail}")
    return usage.ru_maxrss / KIB_PER_GIB, seconds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=50, help="training steps of the default CPU config")
    p.add_argument("--checkpoint", help="evaluate this checkpoint (default: the one the training run wrote)")
    p.add_argument("--tasks", default="arc1/evaluation", help="evaluation tasks")
    p.add_argument("--eval-tasks", type=int, default=5, help="seeded sample of evaluation tasks")
    p.add_argument("--budget", type=float, default=10.0, help="solver seconds per task")
    p.add_argument("--threads", type=int, help="OMP_NUM_THREADS of the children (default: inherited)")
    p.add_argument("--quick", action="store_true", help="tiny preset, 2 steps, 1 task at 0.5 s (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.eval_tasks, args.budget = 2, 1, 0.5
    if args.steps < 1 or args.eval_tasks < 1 or args.budget <= 0:
        p.error("--steps and --eval-tasks must be >= 1 and --budget > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        train = [*ARC_EFE, "train", "--preset", "tiny" if args.quick else "cpu", "--device", "cpu",
                 "--max-steps", str(args.steps), "--out", str(run_dir), "--save-every", "0",
                 "--set", "progress=false", "--set", "tensorboard=false"]
        train_gib, train_s = peak_rss_gib(train, Path(tmp) / "train.log", args.threads)
        print(f"train: {args.steps} steps, peak {train_gib:.3f} GiB, {train_s:.1f} s", flush=True)
        evaluate = [*ARC_EFE, "evaluate", "--checkpoint", args.checkpoint or str(run_dir), "--tasks", args.tasks,
                    "--limit", str(args.eval_tasks), "--time-budget", str(args.budget), "--device", "cpu",
                    "--no-report", "--out", str(Path(tmp) / "eval")]
        eval_gib, eval_s = peak_rss_gib(evaluate, Path(tmp) / "eval.log", args.threads)
        print(f"evaluate: {args.eval_tasks} tasks at {args.budget:g} s, peak {eval_gib:.3f} GiB, {eval_s:.1f} s",
              flush=True)
    print(summary_line({"train_peak_gib": train_gib, "eval_peak_gib": eval_gib, "train_steps": args.steps,
                        "eval_tasks": args.eval_tasks, "budget_s": args.budget}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
