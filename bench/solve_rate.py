"""Solve rate against the time budget: the real solver on one seeded task sample at several budgets.

For each budget, `arc_efe.solving.run.run` solves the same sample (seeded by `--seed`, like
`arc-efe evaluate --limit N --sample-seed S`) and the table gives the ARC task score, the plain
predictor's score on the same run, the refinement gain (final - plain) and the mean seconds per task.

    python bench/solve_rate.py [--checkpoint RUN_DIR] [--tasks arc1/evaluation --limit 50 --seed 0
                               --budgets 10,30,60 --out DIR]

Without `--checkpoint` it measures the shipped model; `--quick` trains a tiny 2-step checkpoint first
instead (a smoke test, scores ~0). Tasks the checkpoint trained on (its trained_on.json) are skipped, as
`arc-efe evaluate` skips them; `--allow-contaminated` solves them too and the summary's `in_sample=` counts them.
Last line: `budgets=10,30,60 task_score_10=... plain_score_10=... gain_10=... s_task_10=... ...`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import bench_config, machine_line, summary_line

from arc_efe.data.sources import load_tasks
from arc_efe.checkpoint_files import resolve_checkpoint
from arc_efe.solving.load import default_model
from arc_efe.system import ArcSystem
from arc_efe.solving.run import run, sample_tasks
from arc_efe.solving.solver import SolveConfig
from arc_efe.training.provenance import contaminated_ids, load_provenance
from arc_efe.training.loop import Trainer


def budget_label(budget: float) -> str:
    return f"{budget:g}"


def tiny_checkpoint(out: Path) -> Path:
    """A 2-step tiny-preset run on arc1/training: the smallest real checkpoint the solver can load."""
    Trainer(bench_config(out, quick=True, device="cpu", max_steps=2)).run()
    return out


def solve_at(system, tasks, budget: float, args: argparse.Namespace, out: Path, checkpoint: str,
             contamination: dict | None = None) -> dict:
    """One budget's row: task score, tasks solved, plain task score, gain, tasks the search lever solved,
    mean seconds per task."""
    cfg = SolveConfig(time_budget=budget, seed=args.seed, experts=args.experts, search_share=args.search_share)
    cfg.validate()
    summary = run(system, tasks, cfg, out, checkpoint, report=False, workers=args.workers,
                  contamination=contamination)
    return {"task_score": summary["task_score"], "solved": len(summary["solved_tasks"]),
            "plain_score": summary["plain"]["task_score"], "gain": summary["ttt_gain"]["task_score"],
            "search_lever": summary["levers"]["search"], "s_task": summary["seconds_per_task"]["mean"],
            "errors": len(summary["errors"])}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", help="RUN_DIR, RUN_DIR/best or a checkpoint folder (default: the shipped model; "
                                        "--quick trains a tiny one)")
    p.add_argument("--tasks", default="arc1/evaluation", help="tasks with known test outputs")
    p.add_argument("--limit", type=int, default=50, help="seeded sample size")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample and of the solver's augmentations")
    p.add_argument("--budgets", default="10,30,60", help="comma-separated seconds per task")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--experts", default="search,neural", help="comma-separated experts, in the order they run")
    p.add_argument("--search-share", type=float, default=SolveConfig().search_share,
                   help="most of the budget the search may use")
    p.add_argument("--workers", type=int, default=1, help="one-thread solver processes")
    p.add_argument("--allow-contaminated", action="store_true",
                   help="also solve tasks the checkpoint trained on (an in-sample score, flagged on its own line)")
    p.add_argument("--out", help="keep each budget's solver outputs here (rerunning resumes); default: temporary")
    p.add_argument("--quick", action="store_true", help="2 tasks at 0.5 s and 1 s (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.limit, args.budgets = 2, "0.5,1"
    args.experts = [e.strip() for e in args.experts.split(",") if e.strip()]
    try:
        args.budgets = [float(b) for b in args.budgets.split(",") if b.strip()]
    except ValueError:
        p.error(f"--budgets must be comma-separated numbers, got {args.budgets!r}")
    if not args.budgets or min(args.budgets) <= 0 or args.limit < 1:
        p.error("--budgets must be positive seconds and --limit >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out) if args.out else Path(tmp)
        if args.checkpoint:
            checkpoint = resolve_checkpoint(args.checkpoint).resolve()
        else:
            checkpoint = tiny_checkpoint(Path(tmp) / "tiny") if args.quick else default_model()[0]
        system, _ = ArcSystem.load(checkpoint, args.device)
        tasks = sample_tasks(load_tasks(args.tasks).tasks, args.limit, args.seed)
        missing = [t.id for t in tasks if not t.has_test_outputs]
        if missing:
            print(f"error: {len(missing)} task(s) in {args.tasks} have no test outputs (e.g. {missing[0]})",
                  file=sys.stderr)
            return 1
        provenance = load_provenance(checkpoint)
        seen = set(contaminated_ids(provenance, tasks)) if provenance else set()
        if seen and args.allow_contaminated:
            print(f"IN-SAMPLE: {len(seen)} task(s) the checkpoint trained on are solved too (--allow-contaminated): "
                  f"{sorted(seen)}", flush=True)
        elif seen:  # as `arc-efe evaluate` does: a task the model trained on is no test of it
            print(f"skipping {len(seen)} task(s) the checkpoint trained on: {sorted(seen)}", flush=True)
            tasks = [t for t in tasks if t.id not in seen]
        in_sample = sorted(seen) if args.allow_contaminated else []
        if not tasks:
            print(f"error: the checkpoint trained on every task of the sample from {args.tasks}; choose held-out "
                  "tasks, or pass --allow-contaminated for an in-sample score", file=sys.stderr)
            return 1
        print(f"checkpoint {checkpoint}; {len(tasks)} tasks from {args.tasks} (seed {args.seed})", flush=True)
        print(f"experts {','.join(args.experts)}", flush=True)
        print(f"{'budget_s':>8} {'task_score':>10} {'solved':>6} {'plain':>7} {'gain':>7} {'search':>6} {'s/task':>7}",
              flush=True)
        rows = {}
        for budget in args.budgets:
            label = budget_label(budget)
            row = solve_at(system, tasks, budget, args, root / f"budget-{label}", str(checkpoint),
                           {"contaminated": in_sample} if in_sample else None)
            rows[label] = row
            errors = f"  ({row['errors']} task errors)" if row["errors"] else ""
            print(f"{label:>8} {row['task_score']:>10.4f} {row['solved']:>6d} {row['plain_score']:>7.4f} "
                  f"{row['gain']:>+7.4f} {row['search_lever']:>6d} {row['s_task']:>7.2f}{errors}", flush=True)
    summary: dict[str, object] = {"budgets": list(rows), "tasks": len(tasks), "in_sample": len(in_sample)}
    for label, row in rows.items():
        summary.update({f"{key}_{label}": value for key, value in row.items() if key != "errors"})
    print(summary_line(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
