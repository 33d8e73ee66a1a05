"""`arc-efe evaluate` (solve tasks with known outputs and score them) and `arc-efe solve` (tasks without
solutions, e.g. a Kaggle challenges file: submission and pictures only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from arc_efe.data.bundled import BUNDLED_SETS
from arc_efe.data.sources import load_tasks
from arc_efe.data.task import Task
from arc_efe.solving.load import (DEFAULT_MODEL_DIR, CheckpointError, default_model, describe_model, load_system,
                                  resolve_checkpoint)
from arc_efe.solving.records import TaskRecord
from arc_efe.solving.refine import RefineConfig
from arc_efe.solving.run import run, sample_tasks, without_test_outputs
from arc_efe.solving.solver import SolveConfig
from arc_efe.training.provenance import TRAINED_ON_FILE, contaminated_ids, load_provenance

_SOURCES = f"a bundled set ({', '.join(BUNDLED_SETS)}), a task file, a Kaggle challenges file or a folder"


def _add_common(p: argparse.ArgumentParser, out_required: bool) -> None:
    p.add_argument("--checkpoint", metavar="PATH",
                   help="RUN_DIR (its latest checkpoint), RUN_DIR/best or RUN_DIR/checkpoints/step-N; "
                        "omitted: the trained model shipped with arc-efe (MODEL_CARD.md)")
    p.add_argument("--solutions", help="Kaggle solutions JSON when the tasks are a challenges file")
    p.add_argument("--out", required=out_required, metavar="DIR",
                   help="output folder (evaluate: evals/RUN-CHECKPOINT when omitted); rerunning with the same "
                        "folder skips tasks already done")
    p.add_argument("--limit", type=int, metavar="N", help="a seeded random sample of N tasks")
    p.add_argument("--sample-seed", type=int, default=0, metavar="S", help="seed of the --limit sample")
    p.add_argument("--time-budget", type=float, default=30.0, metavar="SECONDS", help="seconds per task, all in")
    p.add_argument("--attempts", type=int, choices=[1, 2], default=2, help="attempts per test input")
    p.add_argument("--augmentations", type=int, default=8,
                   help="spatial views (D8 elements, identity first) that refine and vote, 1..8")
    p.add_argument("--no-size-rule", action="store_true",
                   help="let the agent predict every output size, even when the demos follow a size rule")
    p.add_argument("--refine-steps", type=int, default=RefineConfig().max_steps,
                   help="most refinement updates per task (0: none)")
    p.add_argument("--agent-steps", type=int, default=RefineConfig().agent_steps, metavar="N",
                   help="planning steps per agent pass while refining and voting (0: the model's own)")
    p.add_argument("--adapter", default=",".join(RefineConfig().adapter),
                   help="comma-separated agent submodules tuned per task ('none': only the prompt)")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--seed", type=int, default=0, help="seed of the per-task augmentations")
    p.add_argument("--no-report", action="store_true", help="skip the PNGs and report/index.html")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="solve N tasks at a time in N one-thread processes (on a CPU, N = cores)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")


def register(subparsers: argparse._SubParsersAction) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    ev = subparsers.add_parser("evaluate", help="solve tasks with known test outputs and score them",
                               formatter_class=fmt)
    ev.add_argument("--tasks", default="arc1/evaluation", help=f"tasks: {_SOURCES}")
    ev.add_argument("--allow-contaminated", action="store_true",
                    help="also score tasks the checkpoint trained on (by content; listed in scores.json as "
                         "'contaminated'); without it they are refused")
    _add_common(ev, out_required=False)
    ev.set_defaults(func=evaluate, mode="evaluate")

    so = subparsers.add_parser("solve", help="solve tasks without solutions: submission.json and pictures",
                               formatter_class=fmt)
    so.add_argument("tasks", metavar="TASKS", help=f"tasks: {_SOURCES}")
    _add_common(so, out_required=True)
    so.set_defaults(func=evaluate, mode="solve")


def _config(args: argparse.Namespace) -> SolveConfig:
    adapter = () if args.adapter.strip().lower() in ("", "none") else tuple(
        name.strip() for name in args.adapter.split(",") if name.strip())
    refine = RefineConfig(max_steps=args.refine_steps, adapter=adapter, agent_steps=args.agent_steps or None)
    cfg = SolveConfig(time_budget=args.time_budget, attempts=args.attempts, augmentations=args.augmentations,
                      size_rule=not args.no_size_rule, refine=refine, seed=args.seed, precision=args.precision)
    cfg.validate()
    return cfg


def _device(name: str) -> str:
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but torch sees no CUDA device")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _load(args: argparse.Namespace) -> list[Task]:
    result = load_tasks(args.tasks, solutions=args.solutions)
    if result.problems:
        print(f"warning: {len(result.problems)} task(s) in {args.tasks} could not be loaded and are skipped",
              file=sys.stderr)
    tasks = sample_tasks(result.tasks, args.limit, args.sample_seed)
    if not tasks:
        raise ValueError(f"no tasks to solve in {args.tasks}")
    if args.mode == "solve":
        return without_test_outputs(tasks)
    unknown = [t.id for t in tasks if not t.has_test_outputs]
    if unknown:
        raise ValueError(f"{len(unknown)} task(s) in {args.tasks} have unknown test outputs (e.g. {unknown[0]}); "
                         "pass --solutions, or use `arc-efe solve` to predict without scoring")
    return tasks


def evaluate(args: argparse.Namespace) -> int:
    try:
        cfg = _config(args)
        tasks = _load(args)
        device = _device(args.device)
        if args.checkpoint is None:
            checkpoint, info = default_model()
            print(describe_model(info), flush=True)
        else:
            checkpoint = resolve_checkpoint(args.checkpoint).resolve()
        system, _ = load_system(checkpoint, device)
        tasks, contamination = _contamination(args, checkpoint, tasks)
    except (CheckpointError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    out = args.out or _default_out(checkpoint)
    bar = tqdm(total=len(tasks), desc=args.mode, unit="task", dynamic_ncols=True)
    solved = 0

    def progress(task: Task, record: TaskRecord, resumed: bool) -> None:
        nonlocal solved
        solved += bool(record.solved)
        if args.mode == "evaluate":
            bar.set_postfix(solved=f"{solved}/{bar.n + 1}", refresh=False)
        bar.update(1)

    try:
        summary = run(system, tasks, cfg, out, str(checkpoint), report=not args.no_report, on_record=progress,
                      workers=args.workers, contamination=contamination)
    except ValueError as err:
        bar.close()
        print(f"error: {err}", file=sys.stderr)
        return 1
    bar.close()
    print(_summary(summary, out, args))
    return 0


def _contamination(args: argparse.Namespace, checkpoint: Path, tasks: list[Task]) -> tuple[list[Task], dict]:
    """The tasks to score and what to record about contamination. Tasks whose content the checkpoint
    trained on (its trained_on.json) are refused unless --allow-contaminated; a checkpoint without
    provenance is scored with a warning. `solve` scores nothing, so it checks nothing."""
    if args.mode != "evaluate":
        return tasks, {}
    provenance = load_provenance(checkpoint)
    if provenance is None:
        print(f"warning: {checkpoint} has no {TRAINED_ON_FILE}: what it trained on is unknown, so these scores "
              "cannot be checked for contamination", file=sys.stderr)
        return tasks, {"provenance": "unknown"}
    ids = contaminated_ids(provenance, tasks)
    if not ids:
        return tasks, {}
    shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
    if args.allow_contaminated:
        print(f"warning: scoring {len(ids)} task(s) this checkpoint trained on ({shown}) because of "
              "--allow-contaminated; scores.json lists them as 'contaminated'", file=sys.stderr)
        return tasks, {"contaminated": ids}
    clean = [t for t in tasks if t.id not in set(ids)]
    if not clean:
        raise ValueError(f"the checkpoint trained on all {len(ids)} task(s) ({shown}); refusing to score them "
                         "(for a training-set score pass --allow-contaminated: scored, flagged as contaminated)")
    print(f"warning: refusing to score {len(ids)} task(s) this checkpoint trained on ({shown}); scoring the "
          f"other {len(clean)} (pass --allow-contaminated to include them)", file=sys.stderr)
    return clean, {"refused_contaminated": ids}


def _default_out(checkpoint: Path) -> str:
    """evals/RUN-CHECKPOINT, e.g. evals/default-step-00000200 or evals/default-best (the shipped model:
    evals/shipped-default)."""
    if checkpoint == DEFAULT_MODEL_DIR:
        return "evals/shipped-default"
    run_dir = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
    return f"evals/{run_dir.name}-{checkpoint.name}"


def _summary(summary: dict, out: str, args: argparse.Namespace) -> str:
    seconds = summary["seconds_per_task"]
    lines = [f"{summary['num_tasks']} tasks, {seconds['mean']:.2f} s/task (max {seconds['max']:.2f})"]
    if "test_score" in summary:
        gain = summary["refinement_gain"]
        lines += [
            f"test score (Kaggle):  {summary['test_score']:.4f}   plain {summary['plain']['test_score']:.4f}   "
            f"gain {gain['test_score']:+.4f}",
            f"task score (ARC):     {summary['task_score']:.4f}   plain {summary['plain']['task_score']:.4f}   "
            f"gain {gain['task_score']:+.4f}",
            f"solved tasks: {len(summary['solved_tasks'])}/{summary['num_tasks']}  levers {summary['levers']}",
        ]
    if summary.get("contaminated"):
        lines.append(f"CONTAMINATED: {len(summary['contaminated'])} scored task(s) were in the checkpoint's "
                     "training data (--allow-contaminated)")
    if summary.get("refused_contaminated"):
        lines.append(f"{len(summary['refused_contaminated'])} task(s) the checkpoint trained on were not scored")
    if summary.get("provenance") == "unknown":
        lines.append("provenance unknown: the checkpoint does not say what it trained on")
    if summary["errors"]:
        lines.append(f"{len(summary['errors'])} task(s) failed (see scores.json 'errors')")
    files = "submission.json, scores.json, tasks.jsonl" + ("" if args.no_report else ", report/index.html")
    lines.append(f"output: {out}/  ({files})")
    return "\n".join(lines)
