"""The measure of the prior (issue 16.3): how much the model solves without test-time training, and how much
the agent's output depends on the task's prompt, on four held-out sets.

Sets:
  generated  (a) fresh seeds of the families the checkpoint trained on (`gen:` sources of its config, weight
             > 0), from the stream seeded GEN_SEED (training streams use cfg.seed + rank, small numbers; the
             held-out stream of training uses 2**31 - 1 + split_seed). A checkpoint that trained on no family
             gets every family here, reported as never trained.
  untrained  (b) families not trained on (or `--heldout-families`, which the caller must have kept out of
             training), stream seed GEN_SEED + 1; n/a when every family was trained and none is named.
  heldout    (c) the checkpoint's held-out ARC-AGI-1 training tasks: arc1/training tasks whose content
             fingerprint is in trained_on.json's "val" (without provenance: `split_tasks` on its DataConfig).
  eval       (d) the seeded 100-task ARC-AGI-1 evaluation sample (`sample_tasks(..., 100, 0)`, the sample of
             BENCHMARKS.md) less tasks the checkpoint trained on by content.
Generated tasks draw difficulty uniformly from the checkpoint's `data.gen_difficulty` ([0, 1] if unset).

Per set: plain solve (pass@2 ARC task score of `plain_attempts`, no test-time training), plain cell accuracy
(attempt 1, 0 when its size is wrong), and the prompt swap: on leave-one-out demo rows (each demo the query,
the other demos the context) with the true output size given to the agent, cell accuracy under the row's own
prompt p + δ (what the solver starts from) and under another task's p + δ (that task's demos and stats; a fixed
derangement of the set). Row accuracies are averaged per task, then over tasks. `swap_drop = own - other`.
For (d) the full solver also runs at `--solve-budget` s per task (0 skips it).

    python bench/prior.py [--checkpoint RUN_DIR] [--limit-generated 100] [--solve-budget 20 --workers 2]

`--baseline RUN` measures a second checkpoint on the same tasks (give it one trained on the same data, such as
a prompt-blind copy, `model.agent.reads_prompt=false`): its own-prompt accuracy and this model's gap over it,
per set (`baseline_own_<set>`, `gap_<set>`) and per family with `--per-family`. The gap is what the
checkpoint's prompt adds over the baseline's.

Last line: `plain_solve_generated=... swap_drop_generated=... ... plain_solve_eval=... swap_drop_eval=...
solve_eval_20s=...` (a set that cannot be measured reads n/a).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import checkpoint_folder, machine_line, set_threads, summary_line

from arc_efe.config import from_dict
from arc_efe.data.augment import IDENTITY
from arc_efe.data.batching import collate, make_sample
from arc_efe.data.fingerprint import task_fingerprint
from arc_efe.data.generated import GeneratedTasks
from arc_efe.data.generators import FAMILIES
from arc_efe.data.sources import load_tasks
from arc_efe.data.stats import task_statistics
from arc_efe.data.task import Task
from arc_efe.objective.metrics import cell_accuracy
from arc_efe.objective.scoring import Attempts, first_attempt_cell_accuracy, score_attempts
from arc_efe.solving.run import run, sample_tasks
from arc_efe.solving.size_rule import SizeRule, task_size_rule
from arc_efe.solving.solver import SolveConfig
from arc_efe.system import ArcSystem
from arc_efe.training.config import DataConfig
from arc_efe.training.provenance import contaminated_ids, load_provenance
from arc_efe.training.setup import generated_families, split_tasks

GEN_SEED = 10**9  # seed base of (a) and (b): apart from every training stream and the training held-out stream
EVAL_SAMPLE, EVAL_SEED = 100, 0  # the ARC-AGI-1 evaluation sample of BENCHMARKS.md
SWAP_SEED = 0  # the derangement of each set
BATCH = 16
QUICK_TASKS = 3


@dataclass
class TaskSet:
    name: str
    tasks: list[Task]
    note: str = ""
    families: list[str] = field(default_factory=list)


def gen_sets(data: DataConfig, n: int, heldout: list[str] | None) -> tuple[TaskSet, TaskSet]:
    """(a) fresh seeds of the trained families and (b) untrained families (see the module docstring)."""
    difficulty = tuple(data.gen_difficulty) if data.gen_difficulty else (0.0, 1.0)
    trained = [f for f in generated_families(data) if data.gen_weights.get(f, 1.0) > 0]
    untrained = heldout if heldout is not None else [f for f in sorted(FAMILIES) if f not in trained]
    note_a = ""
    seen = [f for f in trained if f not in untrained]
    if not seen:
        seen, note_a = sorted(FAMILIES), "the checkpoint trained on no generator family: these are all unseen"
    a = TaskSet("generated", GeneratedTasks(seen, GEN_SEED, difficulty).tasks(0, n), note_a, seen)
    if not untrained:
        return a, TaskSet("untrained", [], "every family was trained on and --heldout-families names none")
    note_b = "" if trained else "no family trained: (a)'s families again, from another seed stream"
    if heldout is not None:
        leaked = [f for f in heldout if f in trained]
        note_b = (f"--heldout-families; the config names {len(leaked)} of them among its gen: sources "
                  "(the caller must have excluded them from training)") if leaked else "--heldout-families"
    b = TaskSet("untrained", GeneratedTasks(untrained, GEN_SEED + 1, difficulty).tasks(0, n), note_b, untrained)
    return a, b


def heldout_set(provenance: dict[str, Any] | None, data: DataConfig) -> TaskSet:
    """(c) the checkpoint's own held-out ARC-AGI-1 training tasks."""
    if provenance is not None:
        val = set(provenance.get("val", {}))
        tasks = [t for t in load_tasks("arc1/training").tasks if task_fingerprint(t) in val]
        return TaskSet("heldout", tasks, "arc1/training tasks in trained_on.json's val")
    return TaskSet("heldout", split_tasks(data)[1], "no trained_on.json: split_tasks on the checkpoint's DataConfig")


def eval_set(provenance: dict[str, Any] | None) -> tuple[TaskSet, list[str]]:
    """(d) the seeded evaluation sample, less the tasks the checkpoint trained on by content."""
    tasks = sample_tasks(load_tasks("arc1/evaluation").tasks, EVAL_SAMPLE, EVAL_SEED)
    dirty = contaminated_ids(provenance, tasks) if provenance is not None else []
    note = f"skipped (trained on by content): {','.join(dirty)}" if dirty else ""
    if provenance is None:
        note = "no trained_on.json: contamination unknown"
    return TaskSet("eval", [t for t in tasks if t.id not in dirty], note), dirty


def plain_scores(attempts: Attempts, tasks: list[Task]) -> tuple[float, float]:
    """(pass@2 task score, attempt-1 cell accuracy) of the plain predictor's `attempts` on `tasks`."""
    return score_attempts(attempts, tasks).task_score, first_attempt_cell_accuracy(attempts, tasks)


def size_rules(tasks: list[Task]) -> dict[str, SizeRule]:
    """The demos' size rule of each task that has one (`task_size_rule`, as the solver reads it)."""
    return {t.id: rule for t in tasks if (rule := task_size_rule(t)) is not None}


@torch.no_grad()
def sized_plain_attempts(system: ArcSystem, tasks: list[Task], attempts: Attempts,
                         rules: dict[str, SizeRule]) -> Attempts:
    """The plain `attempts` (p, then p + δ; no test-time training) with each task that has a size rule in
    `rules` predicted again at the rule's output sizes; the others keep the model's own size. Tells a wrong
    output size from wrong cells."""
    ruled = [t for t in tasks if t.id in rules]
    sizes = {t.id: [rules[t.id].apply(pair.input.shape) for pair in t.test] for t in ruled}
    return {**attempts, **system.plain_attempts(ruled, out_sizes=sizes)} if ruled else dict(attempts)


def family_of(task: Task) -> str:
    """The generator family of a generated task (ids are `gen-FAMILY-SEED`)."""
    return task.id.split("-")[1]


def derangement(n: int, seed: int) -> list[int]:
    """other[j] != j for every j: a seeded order, each task taking the next one's prompt."""
    order = np.random.default_rng(seed).permutation(n)
    other = [0] * n
    for k in range(n):
        other[int(order[k])] = int(order[(k + 1) % n])
    return other


@torch.no_grad()
def task_prompts(system: ArcSystem, tasks: list[Task], device: torch.device) -> torch.Tensor:
    """p + δ [N, P] of each task from all its demos (what another task's row gets in the swap)."""
    out = []
    for start in range(0, len(tasks), BATCH):
        chunk = tasks[start : start + BATCH]
        stats = torch.from_numpy(np.stack([task_statistics(t.train) for t in chunk])).float().to(device)
        out.append(system.prompts([t.train for t in chunk], stats, sample_offset=False).refined)
    return torch.cat(out)


# swap_per_task's result: the usable tasks, then each one's own-prompt and other-prompt accuracy.
Swaps = tuple[list[Task], np.ndarray, np.ndarray]


@torch.no_grad()
def swap_per_task(system: ArcSystem, tasks: list[Task], device: torch.device) -> Swaps:
    """The tasks with >= 2 demos and each one's mean own-prompt and other-prompt leave-one-out cell accuracy."""
    usable = [t for t in tasks if len(t.train) >= 2]  # one demo: its only context is its own answer
    others = task_prompts(system, usable, device)[derangement(len(usable), SWAP_SEED)]  # [N, P]
    rows = [(j, make_sample(t, i, IDENTITY)) for j, t in enumerate(usable) for i in range(len(t.train))]
    rows.sort(key=lambda r: max(max(r[1].query.input.shape), max(r[1].query.output.shape)))  # small canvases
    own_acc, other_acc = np.zeros(len(usable)), np.zeros(len(usable))
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        index = [j for j, _ in chunk]
        batch = collate([s for _, s in chunk]).to(device)
        own = system.prompts(batch.contexts, batch.stats, sample_offset=False).refined
        for prompt, acc in ((own, own_acc), (others[index], other_acc)):
            out = system.predict(batch.query_input, batch.query_input_mask, prompt, out_size=batch.output_size)
            grid, size = out.predict()
            row_acc = cell_accuracy(grid, size, batch.query_output, batch.output_size).cpu().numpy()
            np.add.at(acc, index, row_acc)
    counts = np.array([len(t.train) for t in usable])
    return usable, own_acc / counts, other_acc / counts


def per_family(system: ArcSystem, task_set: TaskSet, device: torch.device,
               base: np.ndarray | None = None, swaps: Swaps | None = None,
               attempts: Attempts | None = None, sized: Attempts | None = None) -> list[str]:
    """One line per generator family of a generated set: tasks, own-prompt leave-one-out cell accuracy and the
    swap drop, lowest accuracy first (where the prior fails), then the family's plain solve and plain cell
    accuracy on its test inputs (which families plain prediction fails on); with `base`, a baseline model's
    per-task own-prompt accuracy on the same rows (`swap_per_task`'s), its family mean and the gap (this
    model's minus the baseline's). `swaps` and `attempts` (`swap_per_task`'s result and the plain attempts for
    this model and set): passed when the caller has them; with `sized` (`sized_plain_attempts`) also the
    family's plain solve and cell accuracy with the demos' size rule; last, the same two for answering each
    test input with itself (copy_*), the floor a model that learned nothing but copying reaches."""
    usable, own, other = swaps if swaps is not None else swap_per_task(system, task_set.tasks, device)
    attempts = attempts if attempts is not None else system.plain_attempts(task_set.tasks)
    by_family: dict[str, list[int]] = {}
    for j, task in enumerate(usable):
        by_family.setdefault(family_of(task), []).append(j)
    lines = []
    for acc, drop, name, js in sorted((float(own[js].mean()), float((own[js] - other[js]).mean()), name, js)
                                      for name, js in by_family.items()):
        mine = [t for t in task_set.tasks if family_of(t) == name]
        solve, cells = plain_scores(attempts, mine)
        line = (f"  {task_set.name} {name:<24} tasks={len(js):<3} own={acc:.3f} drop={drop:+.3f} "
                f"plain_solve={solve:.3f} plain_cells={cells:.3f}")
        if sized is not None:
            line += " sized_solve={:.3f} sized_cells={:.3f}".format(*plain_scores(sized, mine))
        copy = {t.id: [[pair.input, pair.input] for pair in t.test] for t in mine}  # "the output is the input"
        line += " copy_solve={:.3f} copy_cells={:.3f}".format(*plain_scores(copy, mine))
        if base is not None:
            line += f" baseline={base[js].mean():.3f} gap={acc - base[js].mean():+.3f}"
        lines.append(line)
    return lines


def measure(task_set: TaskSet, attempts: Attempts, swaps: Swaps | None,
            sized: Attempts | None = None) -> dict[str, float | str]:
    """The set's row: plain solve and cell accuracy of the plain `attempts`, and from `swaps` (None under 2
    tasks) the prompt swap's own- and other-prompt cell accuracy on leave-one-out demo rows with the true
    output size; with `sized` (`sized_plain_attempts`), also its plain solve and cell accuracy."""
    if not task_set.tasks:
        return {"tasks": 0, "plain_solve": "n/a", "cell_acc": "n/a", "swap_own": "n/a", "swap_other": "n/a",
                "swap_drop": "n/a"}
    solve, cells = plain_scores(attempts, task_set.tasks)
    extra = dict(zip(("plain_solve_sized", "cell_acc_sized"), plain_scores(sized, task_set.tasks))) if sized else {}
    own, other = (float(np.mean(swaps[1])), float(np.mean(swaps[2]))) if swaps is not None else ("n/a", "n/a")
    drop = own - other if isinstance(own, float) else "n/a"
    return {"tasks": len(task_set.tasks), "plain_solve": solve, "cell_acc": cells, "swap_own": own,
            "swap_other": other, "swap_drop": drop, **extra}


def solve_rate(system: ArcSystem, tasks: list[Task], args: argparse.Namespace, root: Path, checkpoint: Path,
               dirty: list[str]) -> float:
    """The full solver's ARC task score on (d) at `--solve-budget` s per task."""
    cfg = SolveConfig(time_budget=args.solve_budget, seed=EVAL_SEED)
    cfg.validate()
    summary = run(system, tasks, cfg, root / f"solve-{args.solve_budget:g}s", str(checkpoint), report=False,
                  workers=args.workers, contamination={"contaminated": dirty} if dirty else None)
    return float(summary["task_score"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", help="RUN_DIR, RUN_DIR/best or a checkpoint folder (default: the shipped model)")
    p.add_argument("--limit-generated", type=int, default=100, help="tasks in each generated set, (a) and (b)")
    p.add_argument("--heldout-families", help="comma-separated families for (b), kept out of training by the "
                                              "caller (default: every family the config does not train on)")
    p.add_argument("--solve-budget", type=float, default=20.0, help="full solver's seconds per task on (d); 0 skips")
    p.add_argument("--workers", type=int, default=1, help="solver processes for (d)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, or OMP_NUM_THREADS)")
    p.add_argument("--out", help="keep the solver's outputs here (rerunning resumes); default: temporary")
    p.add_argument("--per-family", action="store_true", help="also a line per generator family of (a) and (b)")
    p.add_argument("--baseline", help="a second checkpoint (e.g. trained with model.agent.reads_prompt=false) measured "
                   "on the same tasks: its own-prompt accuracy and the gap per set (and per family with --per-family)")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_TASKS} tasks per set (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.limit_generated = QUICK_TASKS
    if args.limit_generated < 1 or args.solve_budget < 0 or args.workers < 1:
        p.error("--limit-generated and --workers must be >= 1, --solve-budget >= 0")
    if args.heldout_families is not None:
        args.heldout_families = [f.strip() for f in args.heldout_families.split(",") if f.strip()]
        unknown = [f for f in args.heldout_families if f not in FAMILIES]
        if unknown or not args.heldout_families:
            p.error(f"--heldout-families: unknown {unknown or '(none named)'}; known: {', '.join(sorted(FAMILIES))}")
    return args


def print_set(task_set: TaskSet, row: dict[str, float | str]) -> None:
    def show(v: float | str) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    print(f"{task_set.name:>10} {row['tasks']:>5} {show(row['plain_solve']):>11} {show(row['cell_acc']):>8} "
          f"{show(row['swap_own']):>8} {show(row['swap_other']):>10} {show(row['swap_drop']):>9}", flush=True)
    if task_set.families:
        print(f"{'':>10} families ({len(task_set.families)}): {','.join(task_set.families)}", flush=True)
    if task_set.note:
        print(f"{'':>10} note: {task_set.note}", flush=True)


def add_set_arguments(p: argparse.ArgumentParser, default_sets: str) -> None:
    """The arguments bench/policy.py and bench/halting.py share: which model, which sets, how many tasks."""
    p.add_argument("--checkpoint", help="RUN_DIR, RUN_DIR/best or a checkpoint folder (default: the shipped model)")
    p.add_argument("--limit-generated", type=int, default=40, help="tasks in the generated set")
    p.add_argument("--limit", type=int, help="at most this many tasks per set (quick runs)")
    p.add_argument("--sets", default=default_sets, help="comma-separated: generated, heldout, eval")
    p.add_argument("--threads", type=int)


def measure_sets(p: argparse.ArgumentParser, args: argparse.Namespace, measure, setting: str) -> int:
    """Load the checkpoint, run `measure(system, tasks) -> {key: value}` on each of `--sets` (a line each) and
    print the `key_SET=value` summary last. `setting` names what else the caller varies, for the header."""
    set_threads(args.threads)
    print(machine_line(), flush=True)
    checkpoint = checkpoint_folder(args.checkpoint)
    system, config = ArcSystem.load(checkpoint, "cpu")
    data = from_dict(DataConfig, config.get("data", {}), "data")
    provenance = load_provenance(checkpoint)
    available = {"generated": lambda: gen_sets(data, args.limit_generated, None)[0],
                 "heldout": lambda: heldout_set(provenance, data), "eval": lambda: eval_set(provenance)[0]}
    names = args.sets.split(",")
    unknown = [n for n in names if n not in available]
    if unknown:
        p.error(f"--sets: unknown set {unknown[0]!r}; known: {', '.join(available)}")
    print(f"checkpoint {checkpoint}; {setting}", flush=True)
    summary: dict[str, object] = {}
    for name in names:
        row = measure(system, available[name]().tasks[: args.limit])
        print(f"{name}: " + " ".join(f"{k}={v:.4f}" for k, v in row.items()), flush=True)
        summary.update({f"{k}_{name}": v for k, v in row.items()})
    print(summary_line(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    print(machine_line(), flush=True)
    checkpoint = checkpoint_folder(args.checkpoint)
    system, config = ArcSystem.load(checkpoint, args.device)
    baseline = ArcSystem.load(checkpoint_folder(args.baseline), args.device)[0] if args.baseline else None
    device = torch.device(args.device)
    data = from_dict(DataConfig, config.get("data", {}), "data")
    provenance = load_provenance(checkpoint)
    sets = [*gen_sets(data, args.limit_generated, args.heldout_families), heldout_set(provenance, data)]
    evaluation, dirty = eval_set(provenance)
    sets.append(evaluation)
    if args.quick:
        sets = [TaskSet(s.name, s.tasks[:QUICK_TASKS], s.note, s.families) for s in sets]
    print(f"checkpoint {checkpoint}; trained on {','.join(data.train)}", flush=True)
    print(f"{'set':>10} {'tasks':>5} {'plain_solve':>11} {'cell_acc':>8} {'swap_own':>8} {'swap_other':>10} "
          f"{'swap_drop':>9}", flush=True)
    summary: dict[str, object] = {}
    for task_set in sets:
        # The swap rows are the slow part: measured once, for the set's row and its families.
        swaps = swap_per_task(system, task_set.tasks, device) if len(task_set.tasks) >= 2 else None
        attempts = system.plain_attempts(task_set.tasks) if task_set.tasks else {}
        rules = size_rules(task_set.tasks)
        sized = sized_plain_attempts(system, task_set.tasks, attempts, rules) if task_set.tasks else None
        row = measure(task_set, attempts, swaps, sized)
        print_set(task_set, row)
        if sized:
            print(f"{'':>10} plain with the demos' size rule ({len(rules)} tasks have one): solve "
                  f"{row['plain_solve_sized']:.4f}, cell acc {row['cell_acc_sized']:.4f}", flush=True)
        summary.update({f"{key}_{task_set.name}": value for key, value in row.items()})
        base = None  # the baseline's per-task own-prompt accuracy, measured once for the set and its families
        if baseline is not None and isinstance(row["swap_own"], float):
            base = swap_per_task(baseline, task_set.tasks, device)[1]
            base_own = float(np.mean(base))
            gap = row["swap_own"] - base_own
            summary.update({f"baseline_own_{task_set.name}": base_own, f"gap_{task_set.name}": gap})
            print(f"{'':>10} baseline own {base_own:.4f}, gap {gap:+.4f}", flush=True)
        if args.per_family and task_set.families and len(task_set.tasks) >= 2:
            print("\n".join(per_family(system, task_set, device, base, swaps, attempts, sized)), flush=True)
    summary["eval_contaminated"] = len(dirty)
    if args.solve_budget > 0:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(args.out) if args.out else Path(tmp)
            score = solve_rate(system, sets[-1].tasks, args, root, checkpoint, dirty)
        print(f"full solver on eval at {args.solve_budget:g} s/task ({args.workers} workers): {score:.4f}", flush=True)
        summary[f"solve_eval_{args.solve_budget:g}s"] = score
    else:
        summary["solve_eval"] = "skipped"
    print(summary_line(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
