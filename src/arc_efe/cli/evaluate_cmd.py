"""`arc-efe evaluate` (solve tasks with known outputs and score them) and `arc-efe solve` (tasks without
solutions, e.g. a Kaggle challenges file: submission and pictures only). Both run as they are under
`torchrun` / `accelerate launch`: each rank solves its share and rank 0 prints and writes the results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from arc_efe.cli.config_args import add_config_arguments, resolve_config
from arc_efe.config import ConfigError, to_dict
from arc_efe.data.bundled import BUNDLED_SETS
from arc_efe.device import resolve_device
from arc_efe.data.sources import load_tasks
from arc_efe.data.task import Task
from arc_efe.checkpoint_files import CheckpointError, resolve_checkpoint
from arc_efe.solving.load import DEFAULT_MODEL, MODELS_DIR, bundled_model, bundled_names, describe_model
from arc_efe.solving.ranks import Ranks, joined, launched_ranks, rank_device, share
from arc_efe.solving.records import TaskRecord
from arc_efe.solving.run import SolveRunConfig, run, sample_tasks, without_test_outputs
from arc_efe.solving.solver import SolveConfig
from arc_efe.system import ArcSystem
from arc_efe.training.provenance import TRAINED_ON_FILE, contaminated_ids, load_provenance

_SOURCES = f"a bundled set ({', '.join(BUNDLED_SETS)}), a task file, a Kaggle challenges file or a folder"


# flag dest -> key path in SolveRunConfig; a flag left unset does not override --config or the defaults.
FLAG_PATHS = {
    "time_budget": "solve.time_budget",
    "attempts": "solve.attempts",
    "augmentations": "solve.augmentations",
    "size_rule": "solve.size_rule",
    "ttt_steps": "solve.ttt.max_steps",
    "agent_steps": "solve.ttt.agent_steps",
    "adapter": "solve.ttt.adapter",
    "precision": "solve.precision",
    "seed": "solve.seed",
    "experts": "solve.experts",
    "search_share": "solve.search_share",
    "rules": "solve.rules",
    "merge": "solve.merge",
}
DEFAULTS = SolveConfig()


def _adapter(text: str) -> list[str]:
    """`--adapter film,heads` -> ["film", "heads"]; `none` or empty -> [] (only the prompt offsets)."""
    return [] if text.strip().lower() in ("", "none") else [n.strip() for n in text.split(",") if n.strip()]


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _add_common(p: argparse.ArgumentParser, out_required: bool) -> None:
    p.add_argument("--checkpoint", metavar="PATH",
                   help="RUN_DIR (its latest checkpoint), RUN_DIR/best or RUN_DIR/checkpoints/step-N; "
                        "omitted: a model shipped with arc-efe (--model; MODEL_CARD.md)")
    p.add_argument("--model", metavar="NAME",
                   help=f"a model shipped with arc-efe, by name ({', '.join(bundled_names())}; MODEL_CARD.md); "
                        f"not with --checkpoint ({DEFAULT_MODEL})")
    p.add_argument("--solutions", help="Kaggle solutions JSON when the tasks are a challenges file")
    p.add_argument("--out", required=out_required, metavar="DIR",
                   help="output folder (evaluate: evals/RUN-CHECKPOINT when omitted); rerunning with the same "
                        "folder skips tasks already done")
    p.add_argument("--limit", type=int, metavar="N", help="a seeded random sample of N tasks")
    p.add_argument("--sample-seed", type=int, default=0, metavar="S", help="seed of the --limit sample (0)")
    add_config_arguments(p, "solve.ttt.rows_per_step=16")
    # Shorthands for solve.* keys (FLAG_PATHS): defaults shown are SolveConfig's.
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help=f"seconds per task, all in ({DEFAULTS.time_budget:g})")
    p.add_argument("--attempts", type=int, choices=[1, 2], help="attempts per test input (2)")
    p.add_argument("--augmentations", type=int,
                   help=f"spatial views (D8 elements, identity first) that test-time train and vote, 1..8 "
                        f"({DEFAULTS.augmentations})")
    p.add_argument("--no-size-rule", dest="size_rule", action="store_const", const=False,
                   help="let the agent predict every output size, even when the demos follow a size rule")
    p.add_argument("--ttt-steps", "--refine-steps", dest="ttt_steps", type=int,
                   help=f"most refinement updates per task, 0: none ({DEFAULTS.ttt.max_steps})")
    p.add_argument("--agent-steps", type=int, metavar="N",
                   help=f"planning steps per agent pass while refining and voting, 0: the model's own "
                        f"({DEFAULTS.ttt.agent_steps})")
    p.add_argument("--adapter", type=_adapter,
                   help=f"comma-separated agent submodules tuned per task, 'none': only the prompt "
                        f"({','.join(DEFAULTS.ttt.adapter)})")
    p.add_argument("--experts", type=_names,
                   help=f"experts in the order they run, comma-separated: search, neural "
                        f"({','.join(DEFAULTS.experts)})")
    p.add_argument("--search-share", type=float, metavar="F",
                   help=f"most of the budget the search may use, 0..1 ({DEFAULTS.search_share:g})")
    p.add_argument("--no-rules", dest="rules", action="store_const", const=False,
                   help="the search expert does not offer the demos' induced cell rules as a program")
    p.add_argument("--merge", choices=["search_first", "likelihood"],
                   help=f"how candidates become attempts ({DEFAULTS.merge})")
    p.add_argument("--precision", choices=["fp32", "bf16"], help="fp32")
    p.add_argument("--seed", type=int, help="seed of the per-task augmentations (0)")
    p.add_argument("--no-report", action="store_true", help="skip the PNGs and report/index.html")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="solve N tasks at a time in N one-thread processes (on a CPU, N = cores; 1); under "
                        "torchrun / accelerate launch, N per rank")
    p.add_argument("--task-batch", type=int, default=1, metavar="K",
                   help="solve K tasks at a time, their test-time training batched in one process (for a GPU, "
                        "where one task's update is launch-bound); the K tasks share one --time-budget of wall "
                        "time. Not with --workers (1)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto")


def register(subparsers: argparse._SubParsersAction) -> None:
    ev = subparsers.add_parser("evaluate", help="solve tasks with known test outputs and score them")
    ev.add_argument("--tasks", default="arc1/evaluation", help=f"tasks: {_SOURCES} (arc1/evaluation)")
    ev.add_argument("--allow-contaminated", action="store_true",
                    help="also score tasks the checkpoint trained on (by content; listed in scores.json as "
                         "'contaminated'); without it they are refused")
    _add_common(ev, out_required=False)
    ev.set_defaults(func=evaluate, mode="evaluate")

    so = subparsers.add_parser("solve", help="solve tasks without solutions: submission.json and pictures")
    so.add_argument("tasks", metavar="TASKS", help=f"tasks: {_SOURCES}")
    _add_common(so, out_required=True)
    so.set_defaults(func=evaluate, mode="solve")


def _config(args: argparse.Namespace) -> SolveConfig:
    """The SolveConfig from defaults, --config, the shorthand flags and --set (in that order)."""
    if args.agent_steps == 0:  # "0: the model's own" is the config's null
        args.agent_steps = None
        args.overrides = ["solve.ttt.agent_steps=null", *args.overrides]
    return resolve_config(SolveRunConfig, to_dict(SolveRunConfig()), args, FLAG_PATHS).solve


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
    """One process, or one rank of several when a launcher (torchrun, accelerate launch) started it."""
    try:
        ranks = launched_ranks()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    with joined(ranks):
        return _evaluate(args, ranks)


def _evaluate(args: argparse.Namespace, ranks: Ranks) -> int:
    try:
        if args.checkpoint is not None and args.model is not None:
            raise ValueError("--checkpoint and --model both name a model; pass one")
        cfg = _config(args)
        tasks = _load(args)
        device = rank_device(resolve_device(args.device), ranks)
        if args.checkpoint is None:
            name = args.model or DEFAULT_MODEL
            checkpoint, info = bundled_model(name)
            if ranks.main:
                print(describe_model(info, name), flush=True)
        else:
            checkpoint = resolve_checkpoint(args.checkpoint).resolve()
        system, _ = ArcSystem.load(checkpoint, device)
        tasks, contamination = _contamination(args, checkpoint, tasks, loud=ranks.main)
    except (CheckpointError, ConfigError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    out = args.out or _default_out(checkpoint)
    # Each rank counts its own share; rank 0's bar stands for all.
    desc = args.mode if ranks.world == 1 else f"{args.mode} (rank 0 of {ranks.world}, its share)"
    bar = tqdm(total=len(share(tasks, ranks)), desc=desc, unit="task", dynamic_ncols=True, disable=not ranks.main)
    solved = 0

    def progress(task: Task, record: TaskRecord, resumed: bool) -> None:
        nonlocal solved
        solved += bool(record.solved)
        if args.mode == "evaluate":
            bar.set_postfix(solved=f"{solved}/{bar.n + 1}", refresh=False)
        bar.update(1)

    try:
        summary = run(system, tasks, cfg, out, str(checkpoint), report=not args.no_report, on_record=progress,
                      workers=args.workers, contamination=contamination, ranks=ranks,
                      task_batch=args.task_batch)
    except ValueError as err:
        bar.close()
        print(f"error: {err}", file=sys.stderr)
        return 1
    bar.close()
    if ranks.main:
        print(_summary(summary, out, args))
    return 0


def _contamination(args: argparse.Namespace, checkpoint: Path, tasks: list[Task],
                   loud: bool = True) -> tuple[list[Task], dict]:
    """The tasks to score and what to record about contamination. Tasks whose content the checkpoint
    trained on (its trained_on.json) are refused unless --allow-contaminated; a checkpoint without
    provenance is scored with a warning (`loud`: printed; one rank of several prints). `solve` scores
    nothing, so it checks nothing."""
    if args.mode != "evaluate":
        return tasks, {}

    def warn(text: str) -> None:
        if loud:
            print(f"warning: {text}", file=sys.stderr)

    provenance = load_provenance(checkpoint)
    if provenance is None:
        warn(f"{checkpoint} has no {TRAINED_ON_FILE}: what it trained on is unknown, so these scores "
             "cannot be checked for contamination")
        return tasks, {"provenance": "unknown"}
    ids = contaminated_ids(provenance, tasks)
    if not ids:
        return tasks, {}
    shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
    if args.allow_contaminated:
        warn(f"scoring {len(ids)} task(s) this checkpoint trained on or held out to choose it ({shown}) because of "
             "--allow-contaminated; scores.json lists them as 'contaminated'")
        return tasks, {"contaminated": ids}
    clean = [t for t in tasks if t.id not in set(ids)]
    if not clean:
        raise ValueError(f"the checkpoint trained on, or held out to choose it, all {len(ids)} task(s) ({shown}); "
                         "refusing to score them (for a training-set score pass --allow-contaminated: scored, "
                         "flagged as contaminated)")
    warn(f"refusing to score {len(ids)} task(s) this checkpoint trained on or held out to choose it ({shown}); "
         f"scoring the other {len(clean)} (pass --allow-contaminated to include them)")
    return clean, {"refused_contaminated": ids}


def _default_out(checkpoint: Path) -> str:
    """evals/RUN-CHECKPOINT, e.g. evals/default-step-00000200 or evals/default-best (a shipped model:
    evals/shipped-NAME, e.g. evals/shipped-default)."""
    if checkpoint.parent == MODELS_DIR:
        return f"evals/shipped-{checkpoint.name}"
    run_dir = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
    return f"evals/{run_dir.name}-{checkpoint.name}"


def _summary(summary: dict, out: str, args: argparse.Namespace) -> str:
    seconds = summary["seconds_per_task"]
    lines = [f"{summary['num_tasks']} tasks, {seconds['mean']:.2f} s/task (max {seconds['max']:.2f})"]
    if "test_score" in summary:
        gain = summary["ttt_gain"]
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
