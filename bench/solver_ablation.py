"""Solver ablation: named solver variants on one seeded task sample at one budget, side by side.

Each `--variant NAME[:KEY=VALUE,...]` overrides the default `SolveConfig` by dotted keys (as
`arc-efe evaluate --set solve.KEY=VALUE` does, through the same resolver), e.g. `steps2:ttt.agent_steps=2`
or `norule:size_rule=false`; `base` alone is the
default solver. Every variant solves the same tasks (`arc-efe evaluate --limit N --sample-seed S`) in
`--workers` one-thread processes and gets one table row: task score, tasks solved, the plain score, mean
refinement updates, mean demo cell accuracy after refinement, and mean seconds per task.

    python bench/solver_ablation.py --tasks arc1/training --limit 30 --seed 7 --budget 10 --workers 2 \
        --variant base --variant norule:size_rule=false [--checkpoint RUN_DIR] [--out DIR]

Tune on training tasks only: arc1/evaluation is the held-out measure.
Last line: `budget=... tasks=... <variant>_task_score=... <variant>_solved=... ...` for every variant.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import checkpoint_folder, machine_line, summary_line

from arc_efe.cli.config_args import resolve_config
from arc_efe.config import to_dict
from arc_efe.data.sources import load_tasks
from arc_efe.system import ArcSystem
from arc_efe.solving.run import SolveRunConfig, run, sample_tasks
from arc_efe.solving.solver import SolveConfig


def variant_config(spec: str, budget: float, seed: int) -> tuple[str, SolveConfig]:
    """`NAME[:KEY=VALUE,...]` -> (NAME, the default SolveConfig at `budget` with those overrides)."""
    name, _, overrides = spec.partition(":")
    sets = [f"solve.{part.strip()}" for part in overrides.split(",") if part.strip()]
    base = to_dict(SolveRunConfig(SolveConfig(time_budget=budget, seed=seed)))
    return name.strip(), resolve_config(SolveRunConfig, base, argparse.Namespace(overrides=sets), {}).solve


def row_of(summary: dict) -> dict:
    ttt = summary["ttt"]
    return {"task_score": summary["task_score"], "solved": len(summary["solved_tasks"]),
            "plain_score": summary["plain"]["task_score"], "updates": ttt["steps_mean"] or 0.0,
            "demo_cells": ttt["demo_cell_accuracy_after_mean"] or 0.0,
            "s_task": summary["seconds_per_task"]["mean"]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", help="RUN_DIR, RUN_DIR/best or a checkpoint folder (default: the shipped model)")
    p.add_argument("--tasks", default="arc1/training", help="tasks with known test outputs")
    p.add_argument("--limit", type=int, default=30, help="seeded sample size")
    p.add_argument("--seed", type=int, default=7, help="seed of the sample and of the solver")
    p.add_argument("--budget", type=float, default=10.0, help="seconds per task")
    p.add_argument("--workers", type=int, default=1, help="one-thread solver processes")
    p.add_argument("--variant", action="append", default=[], metavar="NAME[:KEY=VALUE,...]",
                   help="a solver variant (repeat); default: base only")
    p.add_argument("--out", help="keep each variant's outputs in DIR/NAME (rerunning resumes); default: temporary")
    p.add_argument("--quick", action="store_true", help="2 tasks at 1 s, base and norule (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.limit, args.budget, args.variant = 2, 1.0, ["base", "norule:size_rule=false"]
    args.variant = args.variant or ["base"]
    names = [spec.partition(":")[0].strip() for spec in args.variant]
    if len(set(names)) != len(names) or not all(names):
        p.error(f"--variant names must be distinct and non-empty, got {names}")
    if args.budget <= 0 or args.limit < 1 or args.workers < 1:
        p.error("--budget must be positive, --limit and --workers >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    variants = [variant_config(spec, args.budget, args.seed) for spec in args.variant]
    print(machine_line(), flush=True)
    checkpoint = checkpoint_folder(args.checkpoint)
    system, _ = ArcSystem.load(checkpoint, "cpu")
    tasks = sample_tasks(load_tasks(args.tasks).tasks, args.limit, args.seed)
    print(f"checkpoint {checkpoint}; {len(tasks)} tasks from {args.tasks} (seed {args.seed}); "
          f"{args.budget:g} s/task; {args.workers} worker(s)", flush=True)
    print(f"{'variant':>12} {'task_score':>10} {'solved':>6} {'plain':>6} {'updates':>7} {'demo_cells':>10} "
          f"{'s/task':>6}", flush=True)
    summary: dict[str, object] = {"budget": args.budget, "tasks": len(tasks)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out) if args.out else Path(tmp)
        for name, cfg in variants:
            row = row_of(run(system, tasks, cfg, root / name, str(checkpoint), report=False, workers=args.workers))
            print(f"{name:>12} {row['task_score']:>10.4f} {row['solved']:>6d} {row['plain_score']:>6.3f} "
                  f"{row['updates']:>7.1f} {row['demo_cells']:>10.3f} {row['s_task']:>6.2f}", flush=True)
            summary.update({f"{name}_{key}": value for key, value in row.items()})
    print(summary_line(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
