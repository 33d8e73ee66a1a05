"""`arc-efe show`: draw one task, and optionally a submission's attempts for it, to a PNG."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arc_efe.data.bundled import BUNDLED_SETS
from arc_efe.data.generated import families_of, is_generated
from arc_efe.data.generators import FAMILIES, generate_task
from arc_efe.data.grid import TaskFormatError
from arc_efe.data.sources import TaskNotFoundError, find_task, load_tasks
from arc_efe.data.task import Task
from arc_efe.solving.records import read_records
from arc_efe.solving.render import render_task
from arc_efe.solving.report import program_notes
from arc_efe.solving.submission import SubmissionError, load_submission


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("show", help="draw a task (and a submission's attempts) to a PNG")
    parser.add_argument(
        "task",
        metavar="TASK_ID_OR_FILE",
        help="a task id (looked up in --tasks, else in the bundled sets), a task JSON file, or gen:FAMILY "
             "(a generated task of that family, seeded by --seed)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of a gen:FAMILY task (0)")
    parser.add_argument(
        "--tasks", help=f"where to look the id up: a bundled set ({', '.join(BUNDLED_SETS)}), file or folder"
    )
    parser.add_argument("--solutions", help="Kaggle solutions JSON when --tasks is a challenges file")
    parser.add_argument("--prediction", help="Kaggle submission JSON whose attempts for this task to draw")
    parser.add_argument("-o", "--output", help="PNG to write (default: TASK_ID.png)")
    parser.set_defaults(func=show)


def show(args: argparse.Namespace) -> int:
    try:
        task = _resolve_task(args.task, args.tasks, args.solutions, args.seed)
    except (TaskFormatError, TaskNotFoundError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    attempts, notes = None, []
    if args.prediction:
        try:
            submission = load_submission(args.prediction, tasks=[task])
        except SubmissionError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        attempts = dict(enumerate(submission[task.id]))
        notes = _programs_beside(Path(args.prediction), task.id)
    path = Path(args.output or f"{task.id}.png")
    render_task(task, attempts, path=path, notes=notes)
    print(path)
    return 0


def _programs_beside(submission: Path, task_id: str) -> list[str]:
    """The search programs behind a task's attempts, from the tasks.jsonl an evaluate/solve run wrote beside
    its submission.json (none when there is no such file)."""
    records = read_records(submission.parent)
    return program_notes(records[task_id].programs) if task_id in records else []


def _resolve_task(name: str, source: str | None, solutions: str | None, seed: int = 0) -> Task:
    """The task named by `name`: gen:FAMILY (generated with `seed`), an id in `source`, a single-task
    file, or an id in the bundled sets."""
    if is_generated(name):
        (family,) = families_of(name) if "," not in name and name != "gen:all" else (None,)
        if family is None:
            raise ValueError(f"{name}: show draws one family's task, e.g. gen:{sorted(FAMILIES)[0]}")
        return generate_task(family, seed)
    if source is not None:
        tasks = load_tasks(source, solutions=solutions).tasks
        for task in tasks:
            if task.id == name:
                return task
        raise TaskNotFoundError(f"task {name!r} not found in {source} ({len(tasks)} tasks)")
    if Path(name).is_file():
        tasks = load_tasks(name, solutions=solutions).tasks
        if len(tasks) != 1:
            raise ValueError(f"{name} holds {len(tasks)} tasks; pick one: arc-efe show TASK_ID --tasks {name}")
        return tasks[0]
    return find_task(name)
