"""`arc-efe show`: draw one task, and optionally a submission's attempts for it, to a PNG."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arc_efe.data.bundled import BUNDLED_SETS
from arc_efe.data.grid import TaskFormatError
from arc_efe.data.sources import TaskNotFoundError, find_task, load_tasks
from arc_efe.data.task import Task
from arc_efe.solving.render import render_task
from arc_efe.solving.submission import SubmissionError, load_submission


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("show", help="draw a task (and a submission's attempts) to a PNG")
    parser.add_argument(
        "task",
        metavar="TASK_ID_OR_FILE",
        help="a task id (looked up in --tasks, else in the bundled sets) or a task JSON file",
    )
    parser.add_argument(
        "--tasks", help=f"where to look the id up: a bundled set ({', '.join(BUNDLED_SETS)}), file or folder"
    )
    parser.add_argument("--solutions", help="Kaggle solutions JSON when --tasks is a challenges file")
    parser.add_argument("--prediction", help="Kaggle submission JSON whose attempts for this task to draw")
    parser.add_argument("-o", "--output", help="PNG to write (default: TASK_ID.png)")
    parser.set_defaults(func=show)


def show(args: argparse.Namespace) -> int:
    try:
        task = _resolve_task(args.task, args.tasks, args.solutions)
    except (TaskFormatError, TaskNotFoundError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    attempts = None
    if args.prediction:
        try:
            submission = load_submission(args.prediction, tasks=[task])
        except SubmissionError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        attempts = dict(enumerate(submission[task.id]))
    path = Path(args.output or f"{task.id}.png")
    render_task(task, attempts, path=path)
    print(path)
    return 0


def _resolve_task(name: str, source: str | None, solutions: str | None) -> Task:
    """The task named by `name`: an id in `source`, a single-task file, or an id in the bundled sets."""
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
