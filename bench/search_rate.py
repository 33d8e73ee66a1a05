"""Solve rate of the program search alone: `arc_efe.search.search_task` on each task of a source, pass@2.

Each task gets `--budget` seconds of one process (the search's own deadline); its first two candidates per
test input are scored against the test outputs, which the search never sees (it gets the tasks with
their test outputs removed). The sample is the one `bench/solve_rate.py --limit N --seed S` draws.

    python bench/search_rate.py [--tasks arc1/training --limit 400 --seed 0 --budget 2 --depth 3
                                 --past-first-hit --out tasks.jsonl]

By default the search stops after the first depth that verified a program (SearchConfig's default), so
`mean_s` is the time it needs; `--past-first-hit` spends the whole budget looking for longer programs.

`--max-evaluated N` also stops each search after N programs tried, the same work on any machine: with a budget
long enough that the cap stops it, `cpu_s` (CPU seconds, summed) compares two versions of the code.

Last line: `solved=... tasks=... task_score=... mean_s=... max_s=... cpu_s=... budget=... depth=... max_evaluated=...`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from common import machine_line, summary_line

from arc_efe.data.sources import load_tasks
from arc_efe.search import SearchConfig, search_task
from arc_efe.solving.run import sample_tasks, without_test_outputs

ATTEMPTS = 2


def score(task, result) -> list[bool]:
    """Per test input: is the expected output among the first two candidates?"""
    return [any(np.array_equal(c.grid, pair.output) for c in cands[:ATTEMPTS])
            for pair, cands in zip(task.test, result.candidates)]


def read_ids(spec: str) -> set[str]:
    """Task ids from `--ids`: a file (one id per line, first TSV column, # comments) or a comma list."""
    path = Path(spec)
    try:
        is_file = path.is_file()
    except OSError:  # a comma list longer than a file name may be
        is_file = False
    if not is_file:
        return {part.strip() for part in spec.split(",") if part.strip()}
    lines = [line.split("\t")[0].strip() for line in path.read_text().splitlines()]
    return {line for line in lines if line and not line.startswith("#") and line != "task_id"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--tasks", default="arc1/training", help="tasks with known test outputs")
    p.add_argument("--limit", type=int, default=None, help="seeded sample size (default: every task)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument("--ids", help="only these task ids: a comma-separated list, or a file with one id per line "
                   "(the first column of a TSV; lines starting with # skipped); applied before --limit")
    p.add_argument("--budget", type=float, default=2.0, help="seconds of search per task")
    p.add_argument("--depth", type=int, default=SearchConfig.max_depth, help="primitives per program, at most")
    p.add_argument("--past-first-hit", action="store_true",
                   help="search deeper after the first depth that found programs (uses the whole budget)")
    p.add_argument("--max-evaluated", type=int, help="also stop each search after this many programs tried: the "
                   "same work on any machine, so CPU seconds (cpu_s) compare code versions; give a budget long "
                   "enough that the cap, not the clock, stops it")
    p.add_argument("--out", help="write one JSON line per task (id, right, seconds, first_found_s, programs) here")
    p.add_argument("--quick", action="store_true", help="3 tasks at 0.5 s (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.limit, args.budget = 3, 0.5
    if args.budget <= 0 or (args.limit is not None and args.limit < 1):
        p.error("--budget must be positive and --limit >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(machine_line(), flush=True)
    tasks = load_tasks(args.tasks).tasks
    if args.ids:
        wanted = read_ids(args.ids)
        tasks = [t for t in tasks if t.id in wanted]
    tasks = sample_tasks(tasks, args.limit, args.seed)
    if not all(t.has_test_outputs for t in tasks):
        print(f"error: some tasks in {args.tasks} have no test outputs", file=sys.stderr)
        return 1
    cfg = SearchConfig(max_depth=args.depth, past_first_hit=args.past_first_hit, max_evaluated=args.max_evaluated)
    print(f"{len(tasks)} tasks from {args.tasks} (seed {args.seed}), {args.budget:g} s each, depth {args.depth}",
          flush=True)
    rows = []
    out = open(args.out, "w") if args.out else None
    try:
        for task, blind in zip(tasks, without_test_outputs(tasks)):
            start, cpu_start = time.monotonic(), time.process_time()
            result = search_task(blind, start + args.budget, cfg)
            seconds, cpu = time.monotonic() - start, time.process_time() - cpu_start
            right = score(task, result)
            rows.append((right, seconds, cpu))
            mark = "ok " if all(right) else "   "
            print(f"{mark}{task.id} {sum(right)}/{len(right)} {seconds:5.2f}s "
                  f"{result.programs[0][0] if result.programs else '-'}", flush=True)
            if out:
                out.write(json.dumps({"id": task.id, "right": right, "seconds": round(seconds, 3),
                                      "cpu_s": round(cpu, 3), "evaluated": result.evaluated,
                                      "depth_done": result.depth_done,
                                      "first_found_s": result.first_found_s,
                                      "programs": [text for text, _ in result.programs]}) + "\n")
    finally:
        if out:
            out.close()
    seconds = [s for _, s, _ in rows]
    print(summary_line({"solved": sum(all(r) for r, _, _ in rows), "tasks": len(rows),
                        "task_score": float(np.mean([sum(r) / len(r) for r, _, _ in rows])),
                        "mean_s": float(np.mean(seconds)), "max_s": max(seconds),
                        "cpu_s": float(sum(c for _, _, c in rows)), "budget": args.budget, "depth": args.depth,
                        "max_evaluated": args.max_evaluated or "none"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
