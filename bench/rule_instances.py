"""Per rule instance: does the agent apply the instance its prompt names? And tasks of chosen instances, on disk.

`bench/prior.py --per-family` says how well a checkpoint does on a generator family as a whole; a family such as
d8_transform is several rules (which element), and a family mean hides which of them the agent has learned.
This renders `--count` fresh tasks of each listed value of one rule parameter (`--param k --values 1,...,7`)
and reports, per value, the own-prompt and other-prompt leave-one-out demo cell accuracy at the true output
size (`prior.swap_per_task`), so a run that learned the flips but no quarter turn shows it.

    python bench/rule_instances.py --checkpoint RUN --family d8_transform --param k --values 1,2,3,4,5,6,7

`--write DIR` writes the tasks as ARC JSON files instead (one per task, e.g. `d8_transform-k7-0.json`), a
training source of only those instances (`arc-efe train --tasks DIR --set data.augment=false`: augmentation
would turn a flip into other D8 elements).
Last line: `own_V=... drop_V=...` per value, then `own=... drop=...` over all.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
from common import checkpoint_folder, machine_line, set_threads, summary_line
from prior import swap_per_task

from arc_efe.data.generators import FAMILIES, task_to_json
from arc_efe.data.task import Task
from arc_efe.system import ArcSystem


def render(family: str, param: str, value: int | str, count: int, seed: int,
           difficulty: tuple[float, float]) -> list[Task]:
    """`count` tasks of `family` whose drawn rule instance has `param` = `value` (its other parameters as drawn)."""
    base = FAMILIES[family]

    def draw(rng: np.random.Generator, level: float) -> dict:
        return {**base.draw_params(rng, level), param: value}

    fixed = dataclasses.replace(base, draw_params=draw)
    rng = np.random.default_rng([seed, zlib.crc32(str(value).encode())])  # each value its own stream
    tasks = []
    for i in range(count):
        task = fixed(rng, float(rng.uniform(*difficulty)))
        tasks.append(dataclasses.replace(task, id=f"gen-{family}-{param}{value}-{i}"))
    return tasks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", help="run folder or checkpoint (default: the shipped model)")
    p.add_argument("--family", default="d8_transform", help="a generator family (d8_transform)")
    p.add_argument("--param", default="k", help="the rule parameter to fix (k)")
    p.add_argument("--values", default="1,2,3,4,5,6,7", help="comma-separated values of it (integers or names)")
    p.add_argument("--count", type=int, default=40, help="tasks per value (40)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--difficulty", default="0,0.6", help="range each task's difficulty is drawn from (0,0.6)")
    p.add_argument("--write", metavar="DIR", help="write the tasks as JSON files to DIR and measure nothing")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.family not in FAMILIES:
        p.error(f"--family {args.family!r} is not a generator family (arc-efe generate --list)")
    args.values = [int(v) if v.lstrip("-").isdigit() else v for v in args.values.split(",")]
    args.difficulty = tuple(float(v) for v in args.difficulty.split(","))
    if args.count < 2 or len(args.difficulty) != 2:
        p.error("--count must be >= 2 and --difficulty two numbers LO,HI")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    by_value = {v: render(args.family, args.param, v, args.count, args.seed, args.difficulty) for v in args.values}
    if args.write:
        out = Path(args.write)
        out.mkdir(parents=True, exist_ok=True)
        for task in (t for tasks in by_value.values() for t in tasks):
            (out / f"{task.id.removeprefix('gen-')}.json").write_text(json.dumps(task_to_json(task)))
        print(f"wrote {args.count} tasks for each of {len(args.values)} values to {out}")
        return 0
    print(machine_line(), flush=True)
    checkpoint = checkpoint_folder(args.checkpoint)
    system, _ = ArcSystem.load(checkpoint, args.device)
    tasks = [t for ts in by_value.values() for t in ts]
    usable, own, other = swap_per_task(system, tasks, torch.device(args.device))
    value_of = [t.meta["params"][args.param] for t in usable]
    summary: dict[str, object] = {}
    print(f"checkpoint {checkpoint}; {args.family}, {args.count} tasks per {args.param}")
    for v in args.values:
        rows = [j for j, tv in enumerate(value_of) if tv == v]
        acc, drop = float(own[rows].mean()), float((own[rows] - other[rows]).mean())
        print(f"  {args.param}={v!s:<5} tasks={len(rows):<3} own={acc:.3f} other={other[rows].mean():.3f} "
              f"drop={drop:+.3f}")
        summary.update({f"own_{v}": acc, f"drop_{v}": drop})
    summary.update({"own": float(own.mean()), "drop": float((own - other).mean())})
    print(summary_line(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
