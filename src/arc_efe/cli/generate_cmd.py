"""`arc-efe generate`: write generated tasks to disk, one ARC JSON file per task."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from arc_efe.data.generated import PREFIX, families_of
from arc_efe.data.generators import FAMILIES, generate_task, task_to_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="write procedurally generated tasks as task JSON files")
    parser.add_argument("family", metavar="NAME|all", help="a generator family, a comma list, or all "
                        f"({len(FAMILIES)} families; `arc-efe generate --list` names them)", nargs="?")
    parser.add_argument("--list", action="store_true", help="print the families with their concepts and exit")
    parser.add_argument("--count", type=int, default=10, help="tasks per family (10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first task; task i gets seed + i (0)")
    parser.add_argument("--difficulty", type=float, default=0.5, help="0..1, widens sizes and counts (0.5)")
    parser.add_argument("--out", help="folder to write NAME-SEED.json files into (created)")
    parser.set_defaults(func=generate)


def generate(args: argparse.Namespace) -> int:
    if args.list:
        for name in sorted(FAMILIES):
            print(f"{name:32s} {', '.join(FAMILIES[name].concepts)}")
        return 0
    problem = None
    if not args.family or not args.out:
        problem = "arc-efe generate needs NAME|all and --out DIR (or --list)"
    elif args.count < 1 or not 0.0 <= args.difficulty <= 1.0:
        problem = f"--count must be >= 1 and --difficulty in [0, 1], got {args.count} and {args.difficulty}"
    else:
        try:
            families = families_of(PREFIX + args.family)
        except ValueError as err:
            problem = str(err)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in families:
        for i in range(args.count):
            task = generate_task(name, args.seed + i, args.difficulty)
            (out / f"{task.id}.json").write_text(json.dumps(task_to_json(task)))
    print(f"wrote {len(families) * args.count} tasks ({len(families)} families x {args.count}) to {out}")
    return 0
